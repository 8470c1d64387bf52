/* `pharos-reality server` configuration: see server_conf.h. */
#include "reality/server_conf.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <sodium.h>

#include "lib/text.h"

static int bad(char *err, size_t errlen, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int bad(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
	return -EINVAL;
}

static const char *q(char *out, const char *s)
{
	return text_quote(out, 64, s, strlen(s));
}

/* "name:port" with a DNS name (letters, digits, '-', '.'; no IP) and a
 * port 1..65535: kept for server_io_resolve_dest. */
static int dest_by_name(const char *s, struct server_io_cfg *cfg)
{
	const char *colon = strrchr(s, ':');
	size_t n = colon ? (size_t)(colon - s) : 0;
	char *end;
	if (!colon || n == 0 || n >= sizeof(cfg->dest_host))
		return -EINVAL;
	for (size_t i = 0; i < n; i++)
		if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= 'A' && s[i] <= 'Z') || (s[i] >= '0' && s[i] <= '9') ||
		      s[i] == '-' || s[i] == '.'))
			return -EINVAL;
	if (colon[1] < '1' || colon[1] > '9')
		return -EINVAL;
	unsigned long port = strtoul(colon + 1, &end, 10);
	if (*end || port > 65535)
		return -EINVAL;
	memcpy(cfg->dest_host, s, n);
	cfg->dest_host[n] = '\0';
	cfg->dest_port = (uint16_t)port;
	return 0;
}

static const char *const known_keys[] = {
	"listen", "dest", "private_key", "server_names", "short_ids", "users", "min_client_ver", "max_client_ver",
	"max_time_diff_ms", "dial_timeout_ms", "max_conns", "log_level", "measure_window_ms",
};
#define VALID_KEYS                                                                                             \
	"listen, dest, private_key, server_names, short_ids, users, min_client_ver, max_client_ver, "             \
	"max_time_diff_ms, dial_timeout_ms, max_conns, log_level, measure_window_ms"

static int get_string(json_t *root, const char *key, bool required, const char **out, char *err, size_t errlen)
{
	json_t *v = json_object_get(root, key);
	*out = NULL;
	if (!v)
		return required ? bad(err, errlen, "\"%s\" is required", key) : 0;
	if (!json_is_string(v))
		return bad(err, errlen, "\"%s\" must be a string", key);
	*out = json_string_value(v);
	return 0;
}

static int get_uint(json_t *root, const char *key, uint64_t max, uint64_t *out, char *err, size_t errlen)
{
	json_t *v = json_object_get(root, key);
	if (!v)
		return 0;
	if (!json_is_integer(v) || json_integer_value(v) < 0 || (uint64_t)json_integer_value(v) > max)
		return bad(err, errlen, "\"%s\" must be an integer from 0 to %llu", key, (unsigned long long)max);
	*out = (uint64_t)json_integer_value(v);
	return 0;
}

static int parse_users(json_t *arr, struct vless_users *users, char *err, size_t errlen)
{
	char qb[TEXT_QUOTE_BUF(64)];
	size_t i;
	json_t *u;
	if (!json_is_array(arr) || json_array_size(arr) == 0)
		return bad(err, errlen, "\"users\" must be a non-empty array of {uuid, flow, name}");
	json_array_foreach(arr, i, u) {
		struct vless_user vu;
		const char *id = NULL, *flow = NULL, *name = NULL, *k;
		json_t *val;
		memset(&vu, 0, sizeof(vu));
		if (!json_is_object(u))
			return bad(err, errlen, "users[%zu] must be an object {uuid, flow, name}", i);
		json_object_foreach(u, k, val) {
			if (strcmp(k, "uuid") && strcmp(k, "flow") && strcmp(k, "name"))
				return bad(err, errlen, "users[%zu]: unknown key %s (valid: uuid, flow, name)", i, q(qb, k));
		}
		if (get_string(u, "uuid", true, &id, err, errlen) < 0 || get_string(u, "flow", false, &flow, err, errlen) < 0 ||
		    get_string(u, "name", false, &name, err, errlen) < 0)
			return -EINVAL;
		if (vless_uuid_parse(vu.uuid, id) < 0)
			return bad(err, errlen, "users[%zu].uuid %s is not a UUID (8-4-4-4-12 hex) or a 1-30 character id", i,
			           q(qb, id));
		if (vless_flow_parse(&vu.flow, flow) < 0)
			return bad(err, errlen, "users[%zu].flow %s is not valid (valid: \"\", \"%s\")", i, q(qb, flow),
			           VLESS_FLOW_VISION);
		if (name)
			snprintf(vu.name, sizeof(vu.name), "%s", name);
		int rc = vless_users_add(users, &vu);
		if (rc == ERR_EXISTS)
			return bad(err, errlen, "users[%zu].uuid %s is listed twice", i, q(qb, id));
		if (rc < 0)
			return bad(err, errlen, "too many users (at most %d)", VLESS_USERS_MAX);
	}
	return 0;
}

int server_conf_parse(const char *text, size_t len, struct server_io_cfg *cfg, enum log_level *level, char *err,
                      size_t errlen)
{
	char qb[TEXT_QUOTE_BUF(64)];
	json_error_t je;
	const char *s, *k;
	json_t *v, *root;
	uint64_t n;
	size_t i;
	int rc = -EINVAL;

	memset(cfg, 0, sizeof(*cfg));
	cfg->dial_timeout_ms = 5000;
	cfg->max_conns = 4096;
	cfg->measure_window_ms = 1000;
	*level = LOG_LVL_INFO;
	root = json_loadb(text, len, JSON_REJECT_DUPLICATES, &je);
	if (!root)
		return bad(err, errlen, "not valid JSON: line %d: %s", je.line, je.text);
	if (!json_is_object(root)) {
		rc = bad(err, errlen, "the configuration must be a JSON object");
		goto out;
	}
	json_object_foreach(root, k, v) {
		bool ok = false;
		for (i = 0; i < sizeof(known_keys) / sizeof(known_keys[0]); i++)
			ok |= !strcmp(k, known_keys[i]);
		if (!ok) {
			rc = bad(err, errlen, "unknown key %s (valid: " VALID_KEYS ")", q(qb, k));
			goto out;
		}
	}
	if (get_string(root, "listen", true, &s, err, errlen) < 0)
		goto out;
	if (endpoint_parse(s, &cfg->listen) < 0) {
		rc = bad(err, errlen, "\"listen\" %s is not IP:PORT (e.g. 0.0.0.0:443 or [::]:443)", q(qb, s));
		goto out;
	}
	if (get_string(root, "dest", true, &s, err, errlen) < 0)
		goto out;
	if (endpoint_parse(s, &cfg->dest) < 0 && dest_by_name(s, cfg) < 0) {
		rc = bad(err, errlen, "\"dest\" %s is not IP:PORT or NAME:PORT (the decoy, e.g. www.example.com:443)",
		         q(qb, s));
		goto out;
	}
	if (get_string(root, "private_key", true, &s, err, errlen) < 0)
		goto out;
	if (reality_auth_key_from_text(cfg->core.private_key, s) < 0) {
		rc = bad(err, errlen, "\"private_key\" is not 43 base64url characters (see `pharos-reality genkey`)");
		goto out;
	}
	v = json_object_get(root, "server_names");
	if (!json_is_array(v) || json_array_size(v) == 0 || json_array_size(v) > REALITY_SERVER_MAX_NAMES) {
		rc = bad(err, errlen, "\"server_names\" must be an array of 1 to %d strings", REALITY_SERVER_MAX_NAMES);
		goto out;
	}
	json_t *e;
	json_array_foreach(v, i, e) {
		if (!json_is_string(e) || strlen(json_string_value(e)) >= REALITY_SERVER_NAME_MAX) {
			rc = bad(err, errlen, "server_names[%zu] must be a string of at most %d characters", i,
			         REALITY_SERVER_NAME_MAX - 1);
			goto out;
		}
		snprintf(cfg->core.names[cfg->core.n_names++], REALITY_SERVER_NAME_MAX, "%s", json_string_value(e));
	}
	v = json_object_get(root, "short_ids");
	if (!json_is_array(v) || json_array_size(v) == 0 || json_array_size(v) > REALITY_SERVER_MAX_SHORT_IDS) {
		rc = bad(err, errlen, "\"short_ids\" must be an array of 1 to %d hex strings", REALITY_SERVER_MAX_SHORT_IDS);
		goto out;
	}
	json_array_foreach(v, i, e) {
		if (!json_is_string(e) ||
		    reality_auth_short_id_parse(cfg->core.short_ids[cfg->core.n_short_ids], json_string_value(e)) < 0) {
			rc = bad(err, errlen, "short_ids[%zu] %s must be 0 to 16 hex digits, an even count", i,
			         json_is_string(e) ? q(qb, json_string_value(e)) : "(not a string)");
			goto out;
		}
		cfg->core.n_short_ids++;
	}
	if (parse_users(json_object_get(root, "users"), &cfg->core.users, err, errlen) < 0)
		goto out;
	if (get_string(root, "min_client_ver", false, &s, err, errlen) < 0)
		goto out;
	if (s && reality_auth_version_parse(&cfg->core.min_client_ver, s) < 0) {
		rc = bad(err, errlen, "\"min_client_ver\" %s is not x.y.z with each part 0..255", q(qb, s));
		goto out;
	}
	if (get_string(root, "max_client_ver", false, &s, err, errlen) < 0)
		goto out;
	if (s && reality_auth_version_parse(&cfg->core.max_client_ver, s) < 0) {
		rc = bad(err, errlen, "\"max_client_ver\" %s is not x.y.z with each part 0..255", q(qb, s));
		goto out;
	}
	n = 0;
	if (get_uint(root, "max_time_diff_ms", UINT32_MAX, &n, err, errlen) < 0)
		goto out;
	cfg->core.max_time_diff_ms = n;
	n = (uint64_t)cfg->dial_timeout_ms;
	if (get_uint(root, "dial_timeout_ms", 600000, &n, err, errlen) < 0)
		goto out;
	cfg->dial_timeout_ms = (int)n;
	n = cfg->max_conns;
	if (get_uint(root, "max_conns", 1000000, &n, err, errlen) < 0)
		goto out;
	cfg->max_conns = (unsigned)n ? (unsigned)n : 1;
	n = (uint64_t)cfg->measure_window_ms;
	if (get_uint(root, "measure_window_ms", 10000, &n, err, errlen) < 0)
		goto out;
	cfg->measure_window_ms = (int)n;
	if (get_string(root, "log_level", false, &s, err, errlen) < 0)
		goto out;
	if (s && log_level_parse(s, level) < 0) {
		rc = bad(err, errlen, "\"log_level\" %s is not one of error, warn, info, debug", q(qb, s));
		goto out;
	}
	rc = 0;
out:
	if (rc < 0)
		sodium_memzero(cfg->core.private_key, sizeof(cfg->core.private_key));
	json_decref(root);
	return rc;
}
