/* cox.conf: read, write and preset defaults (DESIGN.md §8 "Presets"). */
#include "cox/config.h"

#include <errno.h>
#include <jansson.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#include "lib/addr.h"
#include "lib/enc.h"
#include "lib/fileio.h"
#include "lib/mem.h"

const char *cox_preset_name(enum cox_preset preset)
{
	return preset == COX_PRESET_ENTERPRISE ? "enterprise" : "personal";
}

int cox_config_preset(enum cox_preset preset, struct cox_config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->preset = preset;
	uint8_t rnd[8];
	randombytes_buf(rnd, sizeof(rnd));
	int r = enc_hex_encode(cfg->fleet_id, sizeof(cfg->fleet_id), rnd, sizeof(rnd));
	if (r < 0)
		return r;
	snprintf(cfg->fleet_name, sizeof(cfg->fleet_name), "pharos-%.8s", cfg->fleet_id);
	snprintf(cfg->subnet4, sizeof(cfg->subnet4), "10.86.0.0/16");
	/* RFC 4193: fd00::/8 plus a 40-bit random global id. */
	uint8_t gid[5];
	randombytes_buf(gid, sizeof(gid));
	snprintf(cfg->subnet6, sizeof(cfg->subnet6), "fd%02x:%02x%02x:%02x%02x::/48", gid[0], gid[1], gid[2], gid[3],
		 gid[4]);
	cfg->proto_awg = true;
	cfg->proto_reality = preset == COX_PRESET_ENTERPRISE;
	cfg->rotation = preset == COX_PRESET_ENTERPRISE;
	cfg->rotation_interval = 600;
	cfg->rotation_jitter = 120;
	cfg->audit_days = preset == COX_PRESET_ENTERPRISE ? 365 : 30;
	cfg->metrics_days = preset == COX_PRESET_ENTERPRISE ? 90 : 7;
	cfg->sweep_seconds = 45;
	cfg->stale_seconds = 300;
	cfg->miss_limit = 3;
	cfg->node_control_port = 8444;
	cfg->awg_port = 443;
	snprintf(cfg->relay_mode, sizeof(cfg->relay_mode), "%s",
		 preset == COX_PRESET_ENTERPRISE ? "remote" : "embedded");
	snprintf(cfg->dns, sizeof(cfg->dns), "1.1.1.1,2606:4700:4700::1111");
	return 0;
}

static json_t *to_json(const struct cox_config *cfg)
{
	return json_pack("{s:s, s:s, s:s, s:s, s:s, s:b, s:b, s:{s:b, s:i, s:i}, s:i, s:i, s:i, s:i, s:i, s:i, s:i, "
			 "s:s, s:s}",
			 "preset", cox_preset_name(cfg->preset), "fleet_id", cfg->fleet_id, "fleet_name",
			 cfg->fleet_name, "subnet4", cfg->subnet4, "subnet6", cfg->subnet6, "amneziawg",
			 cfg->proto_awg, "reality", cfg->proto_reality, "rotation", "enabled", cfg->rotation,
			 "interval", (int)cfg->rotation_interval, "jitter", (int)cfg->rotation_jitter, "audit_days",
			 (int)cfg->audit_days, "metrics_days", (int)cfg->metrics_days, "sweep_seconds",
			 (int)cfg->sweep_seconds, "stale_seconds", (int)cfg->stale_seconds, "miss_limit",
			 (int)cfg->miss_limit, "node_control_port", (int)cfg->node_control_port, "awg_port",
			 (int)cfg->awg_port, "relay", cfg->relay_mode, "dns", cfg->dns);
}

int cox_config_save(const char *path, const struct cox_config *cfg)
{
	json_t *j = to_json(cfg);
	if (!j)
		return -ENOMEM;
	char *text = json_dumps(j, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
	json_decref(j);
	if (!text)
		return -ENOMEM;
	size_t len = strlen(text);
	char *nl = realloc(text, len + 2);
	if (!nl) {
		free(text);
		return -ENOMEM;
	}
	nl[len] = '\n';
	nl[len + 1] = 0;
	int r = fileio_write_atomic(path, nl, len + 1, 0600);
	free(nl);
	return r;
}

static int get_str(json_t *o, const char *key, char *dst, size_t cap, char *err, size_t errlen)
{
	json_t *v = json_object_get(o, key);
	if (!json_is_string(v) || json_string_length(v) == 0 || json_string_length(v) >= cap) {
		snprintf(err, errlen, "\"%s\" must be a non-empty string shorter than %zu bytes", key, cap);
		return -EINVAL;
	}
	memcpy(dst, json_string_value(v), json_string_length(v) + 1);
	return 0;
}

static int get_u32(json_t *o, const char *key, uint32_t lo, uint32_t hi, uint32_t *dst, char *err, size_t errlen)
{
	json_t *v = json_object_get(o, key);
	if (!json_is_integer(v) || json_integer_value(v) < lo || json_integer_value(v) > hi) {
		snprintf(err, errlen, "\"%s\" must be an integer from %u to %u", key, lo, hi);
		return -EINVAL;
	}
	*dst = (uint32_t)json_integer_value(v);
	return 0;
}

static int get_bool(json_t *o, const char *key, bool *dst, char *err, size_t errlen)
{
	json_t *v = json_object_get(o, key);
	if (!json_is_boolean(v)) {
		snprintf(err, errlen, "\"%s\" must be true or false", key);
		return -EINVAL;
	}
	*dst = json_is_true(v);
	return 0;
}

static const char *const known_keys[] = {
	"preset", "fleet_id", "fleet_name", "subnet4", "subnet6", "amneziawg", "reality", "rotation",
	"audit_days", "metrics_days", "sweep_seconds", "stale_seconds", "miss_limit", "node_control_port",
	"awg_port", "relay", "dns",
};

int cox_config_parse(const char *text, size_t len, struct cox_config *cfg, char *err, size_t errlen)
{
	struct cox_config c;
	memset(&c, 0, sizeof(c));
	json_error_t je;
	json_t *j = json_loadb(text, len, JSON_REJECT_DUPLICATES, &je);
	if (!j) {
		snprintf(err, errlen, "not valid JSON (line %d: %s)", je.line, je.text);
		return -EINVAL;
	}
	int r = -EINVAL;
	if (!json_is_object(j)) {
		snprintf(err, errlen, "must be a JSON object");
		goto out;
	}
	const char *key;
	json_t *val;
	json_object_foreach(j, key, val) {
		bool known = false;
		for (size_t i = 0; i < sizeof(known_keys) / sizeof(known_keys[0]); i++)
			known |= !strcmp(key, known_keys[i]);
		if (!known) {
			snprintf(err, errlen, "unknown key \"%.64s\"", key);
			goto out;
		}
	}
	char preset[16];
	if (get_str(j, "preset", preset, sizeof(preset), err, errlen) < 0)
		goto out;
	if (!strcmp(preset, "personal")) {
		c.preset = COX_PRESET_PERSONAL;
	} else if (!strcmp(preset, "enterprise")) {
		c.preset = COX_PRESET_ENTERPRISE;
	} else {
		snprintf(err, errlen, "\"preset\" must be \"personal\" or \"enterprise\", not \"%.32s\"", preset);
		goto out;
	}
	uint32_t port;
	json_t *rot = json_object_get(j, "rotation");
	if (get_str(j, "fleet_id", c.fleet_id, sizeof(c.fleet_id), err, errlen) < 0 ||
	    get_str(j, "fleet_name", c.fleet_name, sizeof(c.fleet_name), err, errlen) < 0 ||
	    get_str(j, "subnet4", c.subnet4, sizeof(c.subnet4), err, errlen) < 0 ||
	    get_str(j, "subnet6", c.subnet6, sizeof(c.subnet6), err, errlen) < 0 ||
	    get_bool(j, "amneziawg", &c.proto_awg, err, errlen) < 0 ||
	    get_bool(j, "reality", &c.proto_reality, err, errlen) < 0)
		goto out;
	if (!json_is_object(rot)) {
		snprintf(err, errlen, "\"rotation\" must be an object {enabled, interval, jitter}");
		goto out;
	}
	if (get_bool(rot, "enabled", &c.rotation, err, errlen) < 0 ||
	    get_u32(rot, "interval", 10, 86400, &c.rotation_interval, err, errlen) < 0 ||
	    get_u32(rot, "jitter", 0, 86400, &c.rotation_jitter, err, errlen) < 0 ||
	    get_u32(j, "audit_days", 1, 36500, &c.audit_days, err, errlen) < 0 ||
	    get_u32(j, "metrics_days", 1, 36500, &c.metrics_days, err, errlen) < 0 ||
	    get_u32(j, "sweep_seconds", 1, 86400, &c.sweep_seconds, err, errlen) < 0 ||
	    get_u32(j, "stale_seconds", 1, 86400, &c.stale_seconds, err, errlen) < 0 ||
	    get_u32(j, "miss_limit", 1, 1000, &c.miss_limit, err, errlen) < 0 ||
	    get_u32(j, "node_control_port", 1, 65535, &port, err, errlen) < 0)
		goto out;
	c.node_control_port = (uint16_t)port;
	if (get_u32(j, "awg_port", 1, 65535, &port, err, errlen) < 0)
		goto out;
	c.awg_port = (uint16_t)port;
	if (get_str(j, "relay", c.relay_mode, sizeof(c.relay_mode), err, errlen) < 0 ||
	    get_str(j, "dns", c.dns, sizeof(c.dns), err, errlen) < 0)
		goto out;
	if (strcmp(c.relay_mode, "embedded") && strcmp(c.relay_mode, "remote")) {
		snprintf(err, errlen, "\"relay\" must be \"embedded\" or \"remote\"");
		goto out;
	}
	struct cidr cd;
	if (cidr_parse(c.subnet4, &cd) < 0 || cd.addr.family != AF_INET || cd.prefix > 24) {
		snprintf(err, errlen, "\"subnet4\" must be an IPv4 CIDR of /24 or larger, e.g. 10.86.0.0/16");
		goto out;
	}
	if (cidr_parse(c.subnet6, &cd) < 0 || cd.addr.family != AF_INET6 || cd.prefix > 64) {
		snprintf(err, errlen, "\"subnet6\" must be an IPv6 CIDR of /64 or larger, e.g. fd12:3456:789a::/48");
		goto out;
	}
	for (const char *p = c.fleet_id; *p; p++) {
		if (!strchr("0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ._-", *p)) {
			snprintf(err, errlen, "\"fleet_id\" may hold only letters, digits, '.', '_' and '-'");
			goto out;
		}
	}
	*cfg = c;
	r = 0;
out:
	json_decref(j);
	return r;
}

int cox_config_load(const char *path, struct cox_config *cfg, char *err, size_t errlen)
{
	uint8_t *text;
	size_t len;
	int r = fileio_read_all(path, COX_CONFIG_MAX, &text, &len);
	if (r < 0) {
		snprintf(err, errlen, "cannot read: %s", cox_strerror(r));
		return r;
	}
	r = cox_config_parse((const char *)text, len, cfg, err, errlen);
	mem_free(text);
	return r;
}
