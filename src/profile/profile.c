/* Profile JSON <-> struct profile, with strict validation (DESIGN.md §11,
 * "Profiles as built", gives the layout). */
#include "profile/profile.h"

#include <errno.h>
#include <inttypes.h>
#include <jansson.h>
#include <malloc.h>
#include <pthread.h>
#include <sodium.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "awg/obf.h"
#include "lib/enc.h"
#include "lib/mem.h"
#include "lib/text.h"
#include "profile/profile_int.h"

#define PROFILE_FORMAT_V 1
#define AWG_V 2
#define REALITY_V 1
#define MTU_MIN 1280
#define MTU_MAX 9000
#define ROTATION_MAX 604800 /* a week */
#define FLOW_VISION "xtls-rprx-vision"

/* ---- shared helpers ------------------------------------------------------ */

static void *json_mem_alloc(size_t n)
{
	return mem_alloc(n);
}

static void json_mem_free(void *p)
{
	if (p)
		mem_free_secret(p, malloc_usable_size(p));
}

static pthread_once_t json_once = PTHREAD_ONCE_INIT;

static void json_install(void)
{
	/* Idempotent and thread-safe. Its result does not matter here: 1 is
	 * "already done", and on -1 libsodium's portable code still works. */
	if (sodium_init() < 0) {
		/* see above */
	}
	json_set_alloc_funcs(json_mem_alloc, json_mem_free);
}

void profile_json_setup(void)
{
	pthread_once(&json_once, json_install);
}

int profile_seterr(char *err, size_t errlen, int rc, const char *fmt, ...)
{
	va_list ap;
	if (errlen) {
		va_start(ap, fmt);
		vsnprintf(err, errlen, fmt, ap);
		va_end(ap);
	}
	return rc;
}

int profile_b64_exact(uint8_t *out, size_t len, const char *s)
{
	uint8_t tmp[64];
	size_t n = 0;
	int rc;

	if (len > sizeof(tmp) || strlen(s) != ENC_BASE64_LEN(len) - 1) {
		sodium_memzero(out, len);
		return -EINVAL;
	}
	rc = enc_base64_decode(tmp, len, s, &n);
	if (rc == 0 && n == len)
		memcpy(out, tmp, len);
	else
		sodium_memzero(out, len);
	sodium_memzero(tmp, sizeof(tmp));
	return rc == 0 && n == len ? 0 : -EINVAL;
}

static const char *const enc_names[] = {
	[PROFILE_ENC_NONE] = "none", [PROFILE_ENC_PASSWORD] = "password", [PROFILE_ENC_ACCOUNT] = "account"
};

const char *profile_enc_name(enum profile_enc enc)
{
	return (unsigned)enc < sizeof(enc_names) / sizeof(enc_names[0]) ? enc_names[enc] : "?";
}

int profile_enc_parse(const char *s, enum profile_enc *out)
{
	for (size_t i = 0; i < sizeof(enc_names) / sizeof(enc_names[0]); i++) {
		if (strcmp(s, enc_names[i]) == 0) {
			*out = (enum profile_enc)i;
			return 0;
		}
	}
	return -EINVAL;
}

static bool name_char(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
	       c == '_' || c == ' ' || c == '@' || c == '+' || c == '-';
}

bool profile_name_valid(const char *s)
{
	size_t n = strnlen(s, PROFILE_NAME_MAX + 1);
	if (n == 0 || n > PROFILE_NAME_MAX || s[0] == ' ' || s[n - 1] == ' ')
		return false;
	for (size_t i = 0; i < n; i++)
		if (!name_char(s[i]))
			return false;
	return true;
}

void profile_init(struct profile *p)
{
	memset(p, 0, sizeof(*p));
}

static void protocol_fini(struct profile_protocol *pr)
{
	if (pr->type == PROFILE_PROTO_AMNEZIAWG && pr->u.awg.obfuscation)
		mem_free_secret(pr->u.awg.obfuscation, strlen(pr->u.awg.obfuscation) + 1);
	sodium_memzero(pr, sizeof(*pr));
}

void profile_free(struct profile *p)
{
	if (!p)
		return;
	for (size_t i = 0; p->nodes && i < p->n_nodes; i++) {
		struct profile_node *n = &p->nodes[i];
		for (size_t k = 0; n->protocols && k < n->n_protocols; k++)
			protocol_fini(&n->protocols[k]);
		mem_free_secret(n->protocols, n->n_protocols * sizeof(*n->protocols));
	}
	mem_free_secret(p->nodes, p->n_nodes * sizeof(*p->nodes));
	sodium_memzero(p, sizeof(*p));
}

/* ---- parsing --------------------------------------------------------------- */

struct pctx {
	char *err;
	size_t errlen;
};

/* "<where>.<key>: <message>" (either part may be absent). */
__attribute__((format(printf, 5, 6)))
static int bad(struct pctx *c, int rc, const char *where, const char *key, const char *fmt, ...)
{
	char msg[256];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	return profile_seterr(c->err, c->errlen, rc, "%s%s%s: %s", where, *where && key ? "." : "", key ? key : "",
			      msg);
}

static const char *quote(char *buf, const char *s)
{
	return text_quote(buf, 40, s, strlen(s));
}

/* Member key of o: a missing one is an error unless optional (then *out is NULL). */
static int member(struct pctx *c, json_t *o, const char *where, const char *key, bool optional, json_t **out)
{
	*out = json_object_get(o, key);
	if (!*out && !optional)
		return bad(c, ERR_PARSE, where, key, "missing");
	return 0;
}

static int get_str(struct pctx *c, json_t *o, const char *where, const char *key, bool optional, const char **out)
{
	json_t *v;
	int rc = member(c, o, where, key, optional, &v);
	*out = NULL;
	if (rc < 0 || !v)
		return rc;
	if (!json_is_string(v))
		return bad(c, ERR_PARSE, where, key, "want a string");
	if (strlen(json_string_value(v)) != json_string_length(v))
		return bad(c, ERR_PARSE, where, key, "contains a NUL character");
	*out = json_string_value(v);
	return 0;
}

static int get_uint(struct pctx *c, json_t *o, const char *where, const char *key, uint64_t lo, uint64_t hi,
		    uint64_t *out)
{
	json_t *v;
	int rc = member(c, o, where, key, false, &v);
	if (rc < 0)
		return rc;
	if (!json_is_integer(v))
		return bad(c, ERR_PARSE, where, key, "want an integer");
	json_int_t x = json_integer_value(v);
	if (x < 0 || (uint64_t)x < lo || (uint64_t)x > hi)
		return bad(c, ERR_RANGE, where, key, "%lld is out of range (%" PRIu64 "..%" PRIu64 ")", (long long)x,
			   lo, hi);
	*out = (uint64_t)x;
	return 0;
}

static int get_array(struct pctx *c, json_t *o, const char *where, const char *key, bool optional, size_t max,
		     json_t **out)
{
	int rc = member(c, o, where, key, optional, out);
	if (rc < 0 || !*out)
		return rc;
	if (!json_is_array(*out))
		return bad(c, ERR_PARSE, where, key, "want an array");
	if (json_array_size(*out) > max)
		return bad(c, ERR_TOOBIG, where, key, "%zu entries, at most %zu", json_array_size(*out), max);
	return 0;
}

static int get_object(struct pctx *c, json_t *o, const char *where, const char *key, json_t **out)
{
	int rc = member(c, o, where, key, false, out);
	if (rc == 0 && !json_is_object(*out))
		return bad(c, ERR_PARSE, where, key, "want an object");
	return rc;
}

static int get_name(struct pctx *c, json_t *o, const char *where, const char *key, bool may_be_empty,
		    char out[PROFILE_NAME_MAX + 1])
{
	const char *s;
	char q[TEXT_QUOTE_BUF(40)];
	int rc = get_str(c, o, where, key, may_be_empty, &s);
	if (rc < 0)
		return rc;
	if (!s || (may_be_empty && !*s)) {
		out[0] = '\0';
		return 0;
	}
	if (!profile_name_valid(s))
		return bad(c, ERR_PARSE, where, key,
			   "%s is not a valid name (1..%d of A-Z a-z 0-9 . _ @ + - and inner spaces)", quote(q, s),
			   PROFILE_NAME_MAX);
	memcpy(out, s, strlen(s) + 1);
	return 0;
}

static int get_key(struct pctx *c, json_t *o, const char *where, const char *key, uint8_t out[PROFILE_KEY_LEN])
{
	const char *s;
	int rc = get_str(c, o, where, key, false, &s);
	if (rc < 0)
		return rc;
	if (profile_b64_exact(out, PROFILE_KEY_LEN, s) < 0)
		return bad(c, ERR_PARSE, where, key, "want a 32-byte key in standard base64 (44 characters)");
	return 0;
}

static int get_addr(struct pctx *c, json_t *v, const char *where, const char *key, struct addr *out)
{
	char q[TEXT_QUOTE_BUF(40)];
	if (!json_is_string(v))
		return bad(c, ERR_PARSE, where, key, "want an IP address string");
	if (addr_parse(json_string_value(v), out) < 0)
		return bad(c, ERR_PARSE, where, key, "%s is not an IPv4 or IPv6 address",
			   quote(q, json_string_value(v)));
	return 0;
}

/* A tunnel address: one host, written "A.B.C.D/32" or "X::Y/128" (or bare). */
static int get_host_cidr(struct pctx *c, json_t *o, const char *key, int family, struct cidr *out)
{
	const char *s;
	char q[TEXT_QUOTE_BUF(40)];
	int rc = get_str(c, o, "", key, true, &s);
	memset(out, 0, sizeof(*out));
	if (rc < 0 || !s)
		return rc;
	if (cidr_parse(s, out) < 0 || out->addr.family != family ||
	    out->prefix != (family == AF_INET ? 32 : 128)) {
		memset(out, 0, sizeof(*out));
		return bad(c, ERR_PARSE, "", key, "%s is not a single %s address (%s)", quote(q, s),
			   family == AF_INET ? "IPv4" : "IPv6", family == AF_INET ? "a.b.c.d/32" : "x::y/128");
	}
	return 0;
}

static int get_rotation(struct pctx *c, json_t *root, struct profile_rotation *r)
{
	json_t *o, *en;
	uint64_t interval, jitter;
	int rc = get_object(c, root, "", "rotation", &o);
	if (rc < 0)
		return rc;
	if ((rc = member(c, o, "rotation", "enabled", false, &en)) < 0)
		return rc;
	if (!json_is_boolean(en))
		return bad(c, ERR_PARSE, "rotation", "enabled", "want true or false");
	if ((rc = get_uint(c, o, "rotation", "interval", 0, ROTATION_MAX, &interval)) < 0 ||
	    (rc = get_uint(c, o, "rotation", "jitter", 0, ROTATION_MAX, &jitter)) < 0)
		return rc;
	r->enabled = json_is_true(en);
	r->interval = (uint32_t)interval;
	r->jitter = (uint32_t)jitter;
	if (r->enabled && r->interval == 0)
		return bad(c, ERR_RANGE, "rotation", "interval", "must be at least 1 when rotation is enabled");
	if (r->jitter && r->jitter >= r->interval)
		return bad(c, ERR_RANGE, "rotation", "jitter", "%" PRIu32 " must be below the interval (%" PRIu32 ")",
			   r->jitter, r->interval);
	return 0;
}

/* The obfuscation object -> obf_params (validated) -> canonical
 * "key=value\n" text, the form obf_params_set takes. */
static int get_obfuscation(struct pctx *c, json_t *o, const char *where, char **out)
{
	char w[96], val[32], msg[256], q[TEXT_QUOTE_BUF(40)];
	struct obf_params p;
	const char *k;
	json_t *obj, *v;
	char *text = NULL;
	size_t cap = 1024;
	int rc = get_object(c, o, where, "obfuscation", &obj);

	*out = NULL;
	if (rc < 0)
		return rc;
	snprintf(w, sizeof(w), "%s.obfuscation", where);
	obf_params_init(&p);
	json_object_foreach(obj, k, v) {
		const char *s = val;
		if (!obf_params_is_key(k)) {
			rc = bad(c, ERR_PARSE, w, NULL, "unknown key %s (want jc, jmin, jmax, s1..s4, h1..h4, i1..i5)",
				 quote(q, k));
			goto out;
		}
		if (json_is_integer(v) && json_integer_value(v) >= 0) {
			snprintf(val, sizeof(val), "%lld", (long long)json_integer_value(v));
		} else if (json_is_string(v)) {
			s = json_string_value(v);
			for (size_t i = 0; i < json_string_length(v); i++) {
				if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f) {
					rc = bad(c, ERR_PARSE, w, k, "contains a control character");
					goto out;
				}
			}
		} else {
			rc = bad(c, ERR_PARSE, w, k, "want a non-negative integer or a string");
			goto out;
		}
		if ((rc = obf_params_set(&p, k, s, msg, sizeof(msg))) < 0) {
			rc = rc == -ENOMEM ? rc : bad(c, rc == ERR_TOOBIG ? ERR_TOOBIG : ERR_PARSE, w, NULL, "%s", msg);
			goto out;
		}
	}
	if ((rc = obf_params_validate(&p, msg, sizeof(msg))) < 0) {
		rc = bad(c, ERR_PARSE, w, NULL, "%s", msg);
		goto out;
	}
	for (int i = 0; i < OBF_TEMPLATES; i++)
		cap += p.i_text[i] ? strlen(p.i_text[i]) + 8 : 0;
	if (!(text = mem_alloc(cap))) {
		rc = -ENOMEM;
		goto out;
	}
	int n = obf_params_format(&p, text, cap);
	if (n < 0) {
		rc = bad(c, ERR_TOOBIG, w, NULL, "too long");
		goto out;
	}
	*out = text;
	text = NULL;
	rc = 0;
out:
	if (text)
		mem_free_secret(text, cap);
	obf_params_fini(&p);
	return rc;
}

static int parse_awg(struct pctx *c, json_t *o, const char *where, struct profile_awg *a)
{
	uint64_t keepalive, mtu;
	int rc;
	if ((rc = get_key(c, o, where, "public_key", a->public_key)) < 0 ||
	    (rc = get_key(c, o, where, "preshared_key", a->preshared_key)) < 0 ||
	    (rc = get_uint(c, o, where, "keepalive", 0, 65535, &keepalive)) < 0 ||
	    (rc = get_uint(c, o, where, "mtu", MTU_MIN, MTU_MAX, &mtu)) < 0)
		return rc;
	a->keepalive = (uint16_t)keepalive;
	a->mtu = (uint16_t)mtu;
	return get_obfuscation(c, o, where, &a->obfuscation);
}

static bool is_hex(char ch)
{
	return (ch >= '0' && ch <= '9') || (ch >= 'a' && ch <= 'f') || (ch >= 'A' && ch <= 'F');
}

static bool uuid_valid(const char *s)
{
	if (strlen(s) != 36)
		return false;
	for (int i = 0; i < 36; i++) {
		bool dash = i == 8 || i == 13 || i == 18 || i == 23;
		if (dash ? s[i] != '-' : !is_hex(s[i]))
			return false;
	}
	return true;
}

static bool hostname_valid(const char *s)
{
	size_t n = strlen(s);
	if (n == 0 || n > 253 || s[0] == '.' || s[0] == '-' || s[n - 1] == '.' || strstr(s, ".."))
		return false;
	for (size_t i = 0; i < n; i++)
		if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= 'A' && s[i] <= 'Z') || (s[i] >= '0' && s[i] <= '9') ||
		      s[i] == '.' || s[i] == '-'))
			return false;
	return true;
}

static int parse_reality(struct pctx *c, json_t *o, const char *where, struct profile_reality *r)
{
	const char *uuid, *sid, *sni, *flow;
	char q[TEXT_QUOTE_BUF(40)];
	uint64_t port;
	int rc;
	if ((rc = get_str(c, o, where, "uuid", false, &uuid)) < 0)
		return rc;
	if (!uuid_valid(uuid))
		return bad(c, ERR_PARSE, where, "uuid", "%s is not a UUID (8-4-4-4-12 hex digits)", quote(q, uuid));
	if ((rc = get_key(c, o, where, "public_key", r->public_key)) < 0 ||
	    (rc = get_str(c, o, where, "short_id", false, &sid)) < 0)
		return rc;
	size_t n = strlen(sid);
	bool hex = n <= 16 && n % 2 == 0;
	for (size_t i = 0; hex && i < n; i++)
		hex = is_hex(sid[i]);
	if (!hex)
		return bad(c, ERR_PARSE, where, "short_id", "%s is not 0..16 hex digits (an even number)",
			   quote(q, sid));
	if ((rc = get_str(c, o, where, "server_name", false, &sni)) < 0)
		return rc;
	if (!hostname_valid(sni))
		return bad(c, ERR_PARSE, where, "server_name", "%s is not a host name", quote(q, sni));
	if ((rc = get_str(c, o, where, "flow", false, &flow)) < 0)
		return rc;
	if (*flow && strcmp(flow, FLOW_VISION) != 0)
		return bad(c, ERR_PARSE, where, "flow", "%s is not a flow (want \"\" or \"" FLOW_VISION "\")",
			   quote(q, flow));
	if ((rc = get_uint(c, o, where, "port", 1, 65535, &port)) < 0)
		return rc;
	memcpy(r->uuid, uuid, 37);
	memcpy(r->short_id, sid, n + 1);
	memcpy(r->server_name, sni, strlen(sni) + 1);
	memcpy(r->flow, flow, strlen(flow) + 1);
	r->port = (uint16_t)port;
	return 0;
}

static const struct proto_def {
	const char *name;
	enum profile_proto type;
	json_int_t v;
} protos[] = {
	{ "amneziawg", PROFILE_PROTO_AMNEZIAWG, AWG_V },
	{ "xray-reality", PROFILE_PROTO_XRAY_REALITY, REALITY_V },
};

static const struct proto_def *proto_by_type(enum profile_proto t)
{
	for (size_t i = 0; i < sizeof(protos) / sizeof(protos[0]); i++)
		if (protos[i].type == t)
			return &protos[i];
	return NULL;
}

/* Parses one entry into *pr; *known is false for a type or version we do
 * not speak (skipped, not an error). */
static int parse_protocol(struct pctx *c, json_t *o, const char *where, struct profile_protocol *pr, bool *known)
{
	const struct proto_def *d = NULL;
	const char *type;
	json_t *v;
	int rc;

	*known = false;
	if (!json_is_object(o))
		return bad(c, ERR_PARSE, where, NULL, "want an object");
	if ((rc = get_str(c, o, where, "type", false, &type)) < 0 || (rc = member(c, o, where, "v", false, &v)) < 0)
		return rc;
	if (!json_is_integer(v) || json_integer_value(v) < 1)
		return bad(c, ERR_PARSE, where, "v", "want a positive integer version");
	for (size_t i = 0; i < sizeof(protos) / sizeof(protos[0]); i++)
		if (strcmp(type, protos[i].name) == 0 && json_integer_value(v) == protos[i].v)
			d = &protos[i];
	if (!d)
		return 0;
	*known = true;
	pr->type = d->type;
	if (d->type == PROFILE_PROTO_AMNEZIAWG)
		return parse_awg(c, o, where, &pr->u.awg);
	return parse_reality(c, o, where, &pr->u.reality);
}

static int parse_node(struct pctx *c, json_t *o, const char *where, struct profile_node *n, size_t *skipped)
{
	char w[64];
	json_t *eps, *protocols, *v;
	uint64_t lo, hi;
	size_t i;
	int rc;

	if (!json_is_object(o))
		return bad(c, ERR_PARSE, where, NULL, "want an object");
	if ((rc = get_name(c, o, where, "id", false, n->id)) < 0 ||
	    (rc = get_name(c, o, where, "name", false, n->name)) < 0 ||
	    (rc = get_name(c, o, where, "region", true, n->region)) < 0 ||
	    (rc = get_array(c, o, where, "endpoints", false, PROFILE_ENDPOINTS_MAX, &eps)) < 0)
		return rc;
	if (json_array_size(eps) == 0)
		return bad(c, ERR_PARSE, where, "endpoints", "at least one address is needed");
	json_array_foreach(eps, i, v) {
		snprintf(w, sizeof(w), "%s.endpoints[%zu]", where, i);
		if ((rc = get_addr(c, v, w, NULL, &n->endpoints[i])) < 0)
			return rc;
		for (size_t k = 0; k < i; k++)
			if (addr_equal(&n->endpoints[k], &n->endpoints[i]))
				return bad(c, ERR_PARSE, w, NULL, "the same address as endpoints[%zu]", k);
		n->n_endpoints = i + 1;
	}
	if ((rc = get_uint(c, o, where, "port_lo", 1, 65535, &lo)) < 0 ||
	    (rc = get_uint(c, o, where, "port_hi", lo, 65535, &hi)) < 0)
		return rc;
	n->port_lo = (uint16_t)lo;
	n->port_hi = (uint16_t)hi;
	if ((rc = get_array(c, o, where, "protocols", false, PROFILE_PROTOCOLS_MAX, &protocols)) < 0)
		return rc;
	if (json_array_size(protocols) &&
	    !(n->protocols = mem_zalloc(json_array_size(protocols) * sizeof(*n->protocols))))
		return -ENOMEM;
	json_array_foreach(protocols, i, v) {
		struct profile_protocol *pr = &n->protocols[n->n_protocols];
		bool known;
		snprintf(w, sizeof(w), "%s.protocols[%zu]", where, i);
		/* Counted before parsing so profile_free sees a half-parsed entry. */
		n->n_protocols++;
		if ((rc = parse_protocol(c, v, w, pr, &known)) < 0)
			return rc;
		if (!known) {
			n->n_protocols--;
			sodium_memzero(pr, sizeof(*pr));
			(*skipped)++;
			continue;
		}
		for (size_t k = 0; k + 1 < n->n_protocols; k++)
			if (n->protocols[k].type == pr->type)
				return bad(c, ERR_PARSE, w, NULL, "a second %s entry", proto_by_type(pr->type)->name);
	}
	return 0;
}

static int parse_root(struct pctx *c, json_t *root, struct profile *p)
{
	char w[32], q[TEXT_QUOTE_BUF(40)];
	json_t *arr, *v;
	const char *user;
	uint64_t ver, rev;
	size_t i;
	int rc;

	if (!json_is_object(root))
		return bad(c, ERR_PARSE, "profile", NULL, "want a JSON object");
	if ((rc = get_uint(c, root, "", "v", 1, INT64_MAX, &ver)) < 0)
		return rc;
	if (ver != PROFILE_FORMAT_V)
		return bad(c, ERR_PROTO, "", "v", "profile format %" PRIu64 " is newer than this program reads (%d)",
			   ver, PROFILE_FORMAT_V);
	if ((rc = get_name(c, root, "", "fleet_id", false, p->fleet_id)) < 0 ||
	    (rc = get_name(c, root, "", "fleet_name", false, p->fleet_name)) < 0 ||
	    (rc = get_name(c, root, "", "device_id", false, p->device_id)) < 0 ||
	    (rc = get_name(c, root, "", "device_name", false, p->device_name)) < 0 ||
	    (rc = get_str(c, root, "", "user", false, &user)) < 0)
		return rc;
	size_t ulen = strlen(user);
	const char *at = strchr(user, '@');
	bool ok = ulen >= 3 && ulen <= PROFILE_USER_MAX && at && at != user && at[1] && !strchr(at + 1, '@');
	for (size_t k = 0; ok && k < ulen; k++)
		ok = user[k] > 0x20 && user[k] < 0x7f;
	if (!ok)
		return bad(c, ERR_PARSE, "", "user", "%s is not an e-mail address (local@domain, printable ASCII, "
			   "at most %d characters)", quote(q, user), PROFILE_USER_MAX);
	memcpy(p->user, user, ulen + 1);
	if ((rc = get_host_cidr(c, root, "address4", AF_INET, &p->address4)) < 0 ||
	    (rc = get_host_cidr(c, root, "address6", AF_INET6, &p->address6)) < 0)
		return rc;
	if (!p->address4.addr.family && !p->address6.addr.family)
		return bad(c, ERR_PARSE, "", "address4", "missing (address4, address6 or both are needed)");
	if ((rc = get_array(c, root, "", "dns", true, PROFILE_DNS_MAX, &arr)) < 0)
		return rc;
	json_array_foreach(arr, i, v) {
		snprintf(w, sizeof(w), "dns[%zu]", i);
		if ((rc = get_addr(c, v, w, NULL, &p->dns[i])) < 0)
			return rc;
		p->n_dns = i + 1;
	}
	if ((rc = get_rotation(c, root, &p->rotation)) < 0 ||
	    (rc = get_uint(c, root, "", "revision", 0, INT64_MAX, &rev)) < 0 ||
	    (rc = get_array(c, root, "", "nodes", false, PROFILE_NODES_MAX, &arr)) < 0)
		return rc;
	p->revision = rev;
	if (json_array_size(arr) && !(p->nodes = mem_zalloc(json_array_size(arr) * sizeof(*p->nodes))))
		return -ENOMEM;
	json_array_foreach(arr, i, v) {
		snprintf(w, sizeof(w), "nodes[%zu]", i);
		p->n_nodes = i + 1;
		if ((rc = parse_node(c, v, w, &p->nodes[i], &p->skipped_protocols)) < 0)
			return rc;
		for (size_t k = 0; k < i; k++)
			if (strcmp(p->nodes[k].id, p->nodes[i].id) == 0)
				return bad(c, ERR_PARSE, w, "id", "%s is also the id of nodes[%zu]",
					   quote(q, p->nodes[i].id), k);
	}
	return 0;
}

int profile_parse(const char *json, size_t len, struct profile *out, char *err, size_t errlen)
{
	struct pctx c = { err, errlen };
	json_error_t jerr;
	json_t *root;
	int rc;

	profile_json_setup();
	profile_init(out);
	if (errlen)
		err[0] = '\0';
	if (len > PROFILE_JSON_MAX)
		return bad(&c, ERR_TOOBIG, "profile", NULL, "%zu bytes, at most %d", len, PROFILE_JSON_MAX);
	root = json_loadb(json, len, JSON_REJECT_DUPLICATES, &jerr);
	if (!root) {
		if (json_error_code(&jerr) == json_error_out_of_memory)
			return -ENOMEM;
		return bad(&c, ERR_PARSE, "profile", NULL, "not JSON: %s at line %d column %d", jerr.text, jerr.line,
			   jerr.column);
	}
	rc = parse_root(&c, root, out);
	json_decref(root);
	if (rc < 0)
		profile_free(out);
	return rc;
}

/* ---- output ---------------------------------------------------------------- */

/* json_object_set_new steals v, also when it fails; v NULL (its allocation
 * failed) is -ENOMEM too. */
static int put(json_t *o, const char *key, json_t *v)
{
	return json_object_set_new(o, key, v) == 0 ? 0 : -ENOMEM;
}

static int put_str(json_t *o, const char *key, const char *s, size_t max)
{
	return put(o, key, json_stringn_nocheck(s, strnlen(s, max)));
}

static int put_key(json_t *o, const char *key, const uint8_t k[PROFILE_KEY_LEN])
{
	char b64[ENC_KEY_BASE64_LEN];
	enc_key_to_base64(b64, k);
	int rc = put(o, key, json_string_nocheck(b64));
	sodium_memzero(b64, sizeof(b64));
	return rc;
}

static int put_addr(json_t *arr_or_obj, const char *key, const struct addr *a, const struct cidr *c)
{
	char buf[CIDR_STRLEN];
	if ((c ? cidr_format(c, buf, sizeof(buf)) : addr_format(a, buf, sizeof(buf))) < 0)
		return -EINVAL;
	json_t *s = json_string_nocheck(buf);
	if (!key)
		return s && json_array_append_new(arr_or_obj, s) == 0 ? 0 : -ENOMEM;
	return put(arr_or_obj, key, s);
}

static int put_uint(json_t *o, const char *key, uint64_t v)
{
	return v > INT64_MAX ? -EINVAL : put(o, key, json_integer((json_int_t)v));
}

/* Canonical obf_params_format text -> {"jc": 4, ..., "h1": "5-10", "i1": "<b 0x..>"}. */
static int obf_lines_to_json(char *text, json_t *obj)
{
	for (char *line = text, *next; line && *line; line = next) {
		char *eq, *end;
		next = strchr(line, '\n');
		if (next)
			*next++ = '\0';
		if (!(eq = strchr(line, '=')))
			return -EINVAL;
		*eq++ = '\0';
		unsigned long long n = strtoull(eq, &end, 10);
		bool number = *eq >= '0' && *eq <= '9' && !*end && n <= UINT32_MAX;
		int rc = put(obj, line, number ? json_integer((json_int_t)n) : json_string_nocheck(eq));
		if (rc < 0)
			return rc;
	}
	return 0;
}

/* Struct text ("key=value\n" lines) -> validated params -> JSON object. */
static int obfuscation_to_json(const char *text, json_t *o, struct pctx *c, const char *where)
{
	char msg[256];
	struct obf_params p;
	char *copy = NULL, *canon = NULL;
	size_t cap = 1024;
	json_t *obj = NULL;
	int rc = 0;

	obf_params_init(&p);
	if (!text)
		text = "";
	if (!(copy = mem_strdup(text))) {
		rc = -ENOMEM;
		goto out;
	}
	for (char *line = copy, *next; line && *line; line = next) {
		char *eq;
		next = strchr(line, '\n');
		if (next)
			*next++ = '\0';
		if (!*line)
			continue;
		if (!(eq = strchr(line, '='))) {
			rc = bad(c, -EINVAL, where, "obfuscation", "line without '=' (want key=value lines)");
			goto out;
		}
		*eq = '\0';
		if ((rc = obf_params_set(&p, line, eq + 1, msg, sizeof(msg))) < 0) {
			rc = rc == -ENOMEM ? rc : bad(c, -EINVAL, where, "obfuscation", "%s", msg);
			goto out;
		}
	}
	if ((rc = obf_params_validate(&p, msg, sizeof(msg))) < 0) {
		rc = bad(c, -EINVAL, where, "obfuscation", "%s", msg);
		goto out;
	}
	cap += strlen(text) * 2;
	if (!(canon = mem_alloc(cap)) || !(obj = json_object())) {
		rc = -ENOMEM;
		goto out;
	}
	if (obf_params_format(&p, canon, cap) < 0) {
		rc = -EINVAL;
		goto out;
	}
	if ((rc = obf_lines_to_json(canon, obj)) == 0) {
		rc = put(o, "obfuscation", obj);
		obj = NULL;
	}
out:
	json_decref(obj);
	if (canon)
		mem_free_secret(canon, cap);
	if (copy)
		mem_free_secret(copy, strlen(text) + 1);
	obf_params_fini(&p);
	return rc;
}

static int protocol_to_json(const struct profile_protocol *pr, json_t *arr, struct pctx *c, const char *where)
{
	const struct proto_def *d = proto_by_type(pr->type);
	json_t *o;
	int rc;

	if (!d)
		return bad(c, -EINVAL, where, "type", "unknown protocol type %d", (int)pr->type);
	if (!(o = json_object()) || json_array_append_new(arr, o) < 0)
		return -ENOMEM;
	if ((rc = put(o, "type", json_string(d->name))) < 0 || (rc = put(o, "v", json_integer(d->v))) < 0)
		return rc;
	if (pr->type == PROFILE_PROTO_AMNEZIAWG) {
		const struct profile_awg *a = &pr->u.awg;
		if ((rc = put_key(o, "public_key", a->public_key)) < 0 ||
		    (rc = put_key(o, "preshared_key", a->preshared_key)) < 0 ||
		    (rc = put_uint(o, "keepalive", a->keepalive)) < 0 || (rc = put_uint(o, "mtu", a->mtu)) < 0)
			return rc;
		return obfuscation_to_json(a->obfuscation, o, c, where);
	}
	const struct profile_reality *r = &pr->u.reality;
	if ((rc = put_str(o, "uuid", r->uuid, sizeof(r->uuid))) < 0 ||
	    (rc = put_key(o, "public_key", r->public_key)) < 0 ||
	    (rc = put_str(o, "short_id", r->short_id, sizeof(r->short_id))) < 0 ||
	    (rc = put_str(o, "server_name", r->server_name, sizeof(r->server_name))) < 0 ||
	    (rc = put_str(o, "flow", r->flow, sizeof(r->flow))) < 0)
		return rc;
	return put_uint(o, "port", r->port);
}

static int node_to_json(const struct profile_node *n, json_t *arr, struct pctx *c, const char *where)
{
	char w[64];
	json_t *o, *eps, *protocols;
	int rc;

	if (n->n_endpoints > PROFILE_ENDPOINTS_MAX || n->n_protocols > PROFILE_PROTOCOLS_MAX ||
	    (n->n_protocols && !n->protocols))
		return bad(c, -EINVAL, where, NULL, "too many endpoints or protocols, or no protocols array");
	if (!(o = json_object()) || json_array_append_new(arr, o) < 0)
		return -ENOMEM;
	if ((rc = put_str(o, "id", n->id, sizeof(n->id))) < 0 || (rc = put_str(o, "name", n->name, sizeof(n->name))) < 0 ||
	    (rc = put_str(o, "region", n->region, sizeof(n->region))) < 0 ||
	    (rc = put(o, "endpoints", eps = json_array())) < 0)
		return rc;
	for (size_t i = 0; i < n->n_endpoints; i++)
		if ((rc = put_addr(eps, NULL, &n->endpoints[i], NULL)) < 0)
			return rc == -EINVAL ? bad(c, rc, where, "endpoints", "entry %zu is not an address", i) : rc;
	if ((rc = put_uint(o, "port_lo", n->port_lo)) < 0 || (rc = put_uint(o, "port_hi", n->port_hi)) < 0 ||
	    (rc = put(o, "protocols", protocols = json_array())) < 0)
		return rc;
	for (size_t i = 0; i < n->n_protocols; i++) {
		snprintf(w, sizeof(w), "%s.protocols[%zu]", where, i);
		if ((rc = protocol_to_json(&n->protocols[i], protocols, c, w)) < 0)
			return rc;
	}
	return 0;
}

static int root_to_json(const struct profile *p, json_t *o, struct pctx *c)
{
	char w[32];
	json_t *dns, *rot, *nodes;
	int rc;

	if (p->n_dns > PROFILE_DNS_MAX || p->n_nodes > PROFILE_NODES_MAX || (p->n_nodes && !p->nodes))
		return bad(c, -EINVAL, "profile", NULL, "too many DNS servers or nodes");
	if ((rc = put_uint(o, "v", PROFILE_FORMAT_V)) < 0 ||
	    (rc = put_str(o, "fleet_id", p->fleet_id, sizeof(p->fleet_id))) < 0 ||
	    (rc = put_str(o, "fleet_name", p->fleet_name, sizeof(p->fleet_name))) < 0 ||
	    (rc = put_str(o, "device_id", p->device_id, sizeof(p->device_id))) < 0 ||
	    (rc = put_str(o, "device_name", p->device_name, sizeof(p->device_name))) < 0 ||
	    (rc = put_str(o, "user", p->user, sizeof(p->user))) < 0)
		return rc;
	if (p->address4.addr.family && (rc = put_addr(o, "address4", NULL, &p->address4)) < 0)
		return rc == -EINVAL ? bad(c, rc, "", "address4", "not an address") : rc;
	if (p->address6.addr.family && (rc = put_addr(o, "address6", NULL, &p->address6)) < 0)
		return rc == -EINVAL ? bad(c, rc, "", "address6", "not an address") : rc;
	if ((rc = put(o, "dns", dns = json_array())) < 0)
		return rc;
	for (size_t i = 0; i < p->n_dns; i++)
		if ((rc = put_addr(dns, NULL, &p->dns[i], NULL)) < 0)
			return rc == -EINVAL ? bad(c, rc, "", "dns", "entry %zu is not an address", i) : rc;
	if ((rc = put(o, "rotation", rot = json_object())) < 0 ||
	    (rc = put(rot, "enabled", json_boolean(p->rotation.enabled))) < 0 ||
	    (rc = put_uint(rot, "interval", p->rotation.interval)) < 0 ||
	    (rc = put_uint(rot, "jitter", p->rotation.jitter)) < 0 || (rc = put_uint(o, "revision", p->revision)) < 0 ||
	    (rc = put(o, "nodes", nodes = json_array())) < 0)
		return rc == -EINVAL ? bad(c, rc, "", "revision", "above 2^63-1") : rc;
	for (size_t i = 0; i < p->n_nodes; i++) {
		snprintf(w, sizeof(w), "nodes[%zu]", i);
		if ((rc = node_to_json(&p->nodes[i], nodes, c, w)) < 0)
			return rc;
	}
	return 0;
}

/* Builds the text, then proves it with profile_parse so that nothing this
 * module writes is refused by it on the other side. */
static int to_json(const struct profile *p, char **json, char *err, size_t errlen)
{
	struct pctx c = { err, errlen };
	struct profile check;
	json_t *o;
	char *s = NULL;
	int rc;

	profile_json_setup();
	*json = NULL;
	if (errlen)
		err[0] = '\0';
	if (!(o = json_object()))
		return -ENOMEM;
	rc = root_to_json(p, o, &c);
	if (rc == 0 && !(s = json_dumps(o, JSON_INDENT(2) | JSON_PRESERVE_ORDER)))
		rc = -ENOMEM;
	json_decref(o);
	if (rc < 0)
		return rc;
	rc = profile_parse(s, strlen(s), &check, err, errlen);
	profile_free(&check);
	if (rc < 0) {
		mem_free_secret(s, strlen(s) + 1);
		return rc;
	}
	*json = s;
	return 0;
}

int profile_to_json(const struct profile *p, char **json)
{
	int rc = to_json(p, json, NULL, 0);
	return rc == 0 || rc == -ENOMEM ? rc : -EINVAL;
}

int profile_validate(const struct profile *p, char *err, size_t errlen)
{
	char *json = NULL;
	struct pctx c = { err, errlen };
	int rc = to_json(p, &json, err, errlen);
	if (json)
		mem_free_secret(json, strlen(json) + 1);
	if (rc == -EINVAL && errlen && !err[0])
		bad(&c, rc, "profile", NULL, "invalid");
	return rc;
}
