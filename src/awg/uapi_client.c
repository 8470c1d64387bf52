#include "awg/uapi_client.h"

#include <errno.h>
#include <inttypes.h>
#include <sodium.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/buf.h"
#include "lib/enc.h"
#include "lib/mem.h"

static const char *const awg_names[UAPI_CLIENT_AWG_COUNT] = {
	"jc", "jmin", "jmax", "s1", "s2", "s3", "s4", "h1", "h2", "h3", "h4", "i1", "i2", "i3", "i4", "i5",
};
static const char *const awg_conf_names[UAPI_CLIENT_AWG_COUNT] = {
	"Jc", "Jmin", "Jmax", "S1", "S2", "S3", "S4", "H1", "H2", "H3", "H4", "I1", "I2", "I3", "I4", "I5",
};

const char *uapi_client_awg_key_name(enum uapi_client_awg_key k)
{
	return (unsigned)k < UAPI_CLIENT_AWG_COUNT ? awg_names[k] : NULL;
}

const char *uapi_client_awg_conf_name(enum uapi_client_awg_key k)
{
	return (unsigned)k < UAPI_CLIENT_AWG_COUNT ? awg_conf_names[k] : NULL;
}

static int awg_key_lookup(const char *name, size_t len)
{
	for (int k = 0; k < UAPI_CLIENT_AWG_COUNT; k++)
		if (strlen(awg_names[k]) == len && !memcmp(awg_names[k], name, len))
			return k;
	return -1;
}

static bool is_h(int k) { return k >= UAPI_CLIENT_H1 && k <= UAPI_CLIENT_H4; }
static bool is_s(int k) { return k >= UAPI_CLIENT_S1 && k <= UAPI_CLIENT_S4; }
static bool is_i(int k) { return k >= UAPI_CLIENT_I1 && k <= UAPI_CLIENT_I5; }

bool uapi_client_awg_is_set(const struct uapi_client_awg *a, enum uapi_client_awg_key k)
{
	switch (k) {
	case UAPI_CLIENT_JC: return a->jc != 0;
	case UAPI_CLIENT_JMIN: return a->jmin != 0;
	case UAPI_CLIENT_JMAX: return a->jmax != 0;
	default: break;
	}
	if (is_s(k))
		return a->s[k - UAPI_CLIENT_S1] != 0;
	if (is_h(k)) {
		uint32_t def = (uint32_t)(k - UAPI_CLIENT_H1 + 1);
		const struct obf_range *r = &a->h[k - UAPI_CLIENT_H1];
		return r->lo != def || r->hi != def;
	}
	if (is_i(k))
		return a->i[k - UAPI_CLIENT_I1] != NULL;
	return false;
}

const char *uapi_client_awg_value(const struct uapi_client_awg *a, enum uapi_client_awg_key k, char *out,
                                  size_t outlen)
{
	if (!outlen)
		return out;
	out[0] = '\0';
	switch (k) {
	case UAPI_CLIENT_JC: snprintf(out, outlen, "%" PRIu32, a->jc); return out;
	case UAPI_CLIENT_JMIN: snprintf(out, outlen, "%" PRIu32, a->jmin); return out;
	case UAPI_CLIENT_JMAX: snprintf(out, outlen, "%" PRIu32, a->jmax); return out;
	default: break;
	}
	if (is_s(k)) {
		snprintf(out, outlen, "%" PRIu32, a->s[k - UAPI_CLIENT_S1]);
	} else if (is_h(k)) {
		const struct obf_range *r = &a->h[k - UAPI_CLIENT_H1];
		if (r->lo == r->hi)
			snprintf(out, outlen, "%" PRIu32, r->lo);
		else
			snprintf(out, outlen, "%" PRIu32 "-%" PRIu32, r->lo, r->hi);
	} else if (is_i(k) && a->i[k - UAPI_CLIENT_I1]) {
		snprintf(out, outlen, "%s", a->i[k - UAPI_CLIENT_I1]);
	}
	return out;
}

/* ---- numbers ------------------------------------------------------------ */

/* Plain decimal: digits only, no sign, no spaces, at most max. wg refuses
 * anything looser, and so do we, so both tools read a reply the same way. */
static bool parse_dec(const char *s, size_t len, uint64_t max, uint64_t *out)
{
	uint64_t v = 0;
	if (!len || len > 20)
		return false;
	for (size_t i = 0; i < len; i++) {
		if (s[i] < '0' || s[i] > '9')
			return false;
		unsigned d = (unsigned)(s[i] - '0');
		if (v > (UINT64_MAX - d) / 10)
			return false;
		v = v * 10 + d;
	}
	if (v > max)
		return false;
	*out = v;
	return true;
}

/* "x" or "lo-hi" with lo <= hi, decimal u32. */
static bool parse_range(const char *s, size_t len, struct obf_range *out)
{
	uint64_t lo, hi;
	const char *dash = memchr(s, '-', len);
	if (!dash) {
		if (!parse_dec(s, len, UINT32_MAX, &lo))
			return false;
		out->lo = out->hi = (uint32_t)lo;
		return true;
	}
	if (!parse_dec(s, (size_t)(dash - s), UINT32_MAX, &lo) ||
	    !parse_dec(dash + 1, len - (size_t)(dash - s) - 1, UINT32_MAX, &hi) || lo > hi)
		return false;
	out->lo = (uint32_t)lo;
	out->hi = (uint32_t)hi;
	return true;
}

/* ---- device ------------------------------------------------------------- */

static void awg_init(struct uapi_client_awg *a)
{
	memset(a, 0, sizeof(*a));
	for (int t = 0; t < 4; t++)
		a->h[t].lo = a->h[t].hi = (uint32_t)t + 1;
}

static void peer_fini(struct uapi_client_peer *peer)
{
	mem_free(peer->allowed_ips);
	sodium_memzero(peer, sizeof(*peer));
}

void uapi_client_device_free(struct uapi_client_device *dev)
{
	if (!dev)
		return;
	for (size_t i = 0; i < dev->n_peers; i++)
		peer_fini(&dev->peers[i]);
	mem_free(dev->peers);
	for (int t = 0; t < OBF_TEMPLATES; t++)
		mem_free(dev->awg.i[t]);
	sodium_memzero(dev, sizeof(*dev));
	mem_free(dev);
}

/* Grows an array by one slot (doubling); 0 or -ENOMEM. */
static int grow(void **arr, size_t *cap, size_t n, size_t elem)
{
	if (n < *cap)
		return 0;
	size_t ncap = *cap ? *cap * 2 : 4;
	if (ncap > SIZE_MAX / elem)
		return -ENOMEM;
	void *p = mem_realloc(*arr, ncap * elem);
	if (!p)
		return -ENOMEM;
	*arr = p;
	*cap = ncap;
	return 0;
}

/* ---- reply parser ------------------------------------------------------- */

static int fail(struct uapi_client_parser *p, int code, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static int fail(struct uapi_client_parser *p, int code, const char *fmt, ...)
{
	int n = snprintf(p->err, sizeof(p->err), "reply line %zu: ", p->lineno);
	va_list ap;
	va_start(ap, fmt);
	if (n > 0 && (size_t)n < sizeof(p->err))
		vsnprintf(p->err + n, sizeof(p->err) - (size_t)n, fmt, ap);
	va_end(ap);
	p->error = code;
	return code;
}

int uapi_client_parser_init(struct uapi_client_parser *p)
{
	memset(p, 0, sizeof(*p));
	p->dev = mem_zalloc(sizeof(*p->dev));
	if (!p->dev)
		return -ENOMEM;
	awg_init(&p->dev->awg);
	return 0;
}

void uapi_client_parser_fini(struct uapi_client_parser *p)
{
	uapi_client_device_free(p->dev);
	p->dev = NULL;
}

static struct uapi_client_peer *cur_peer(struct uapi_client_parser *p)
{
	return &p->dev->peers[p->dev->n_peers - 1];
}

/* Quotes at most 40 bytes of a value in an error message, printable only. */
static const char *quote(const char *v, size_t len, char buf[48])
{
	size_t n = len < 40 ? len : 40, j = 0;
	for (size_t i = 0; i < n; i++)
		buf[j++] = (v[i] >= 0x20 && v[i] < 0x7f) ? v[i] : '?';
	if (len > n) {
		buf[j++] = '.';
		buf[j++] = '.';
		buf[j++] = '.';
	}
	buf[j] = '\0';
	return buf;
}

static int hex_key(struct uapi_client_parser *p, const char *key, const char *v, size_t len,
                   uint8_t out[UAPI_CLIENT_KEY_LEN])
{
	char tmp[2 * UAPI_CLIENT_KEY_LEN + 1], q[48];
	if (len != 2 * UAPI_CLIENT_KEY_LEN)
		return fail(p, -EPROTO, "%s='%s' is not 64 hex digits", key, quote(v, len, q));
	memcpy(tmp, v, len);
	tmp[len] = '\0';
	int rc = enc_key_from_hex(out, tmp);
	sodium_memzero(tmp, sizeof(tmp));
	if (rc != 0)
		return fail(p, -EPROTO, "%s is not 64 hex digits", key);
	return 0;
}

static int number(struct uapi_client_parser *p, const char *key, const char *v, size_t len, uint64_t max,
                  uint64_t *out)
{
	char q[48];
	if (!parse_dec(v, len, max, out))
		return fail(p, -EPROTO, "%s='%s' is not a decimal number in 0..%" PRIu64, key, quote(v, len, q),
		            max);
	return 0;
}

/* Copies a short value into a NUL-terminated buffer for the addr parsers. */
static bool short_value(const char *v, size_t len, char *buf, size_t cap)
{
	if (len >= cap)
		return false;
	memcpy(buf, v, len);
	buf[len] = '\0';
	return true;
}

static int device_key(struct uapi_client_parser *p, const char *key, size_t klen, const char *v, size_t vlen)
{
	struct uapi_client_device *dev = p->dev;
	uint64_t n;
	char q[48];
	int rc;

	if (klen == 11 && !memcmp(key, "private_key", 11)) {
		if ((rc = hex_key(p, "private_key", v, vlen, dev->private_key)) < 0)
			return rc;
		dev->has_private_key = !sodium_is_zero(dev->private_key, sizeof(dev->private_key));
		if (dev->has_private_key && crypto_scalarmult_curve25519_base(dev->public_key, dev->private_key) != 0)
			return fail(p, -EPROTO, "private_key gives no public key");
		return 0;
	}
	if (klen == 11 && !memcmp(key, "listen_port", 11)) {
		if ((rc = number(p, "listen_port", v, vlen, UINT16_MAX, &n)) < 0)
			return rc;
		dev->listen_port = (uint16_t)n;
		return 0;
	}
	if (klen == 6 && !memcmp(key, "fwmark", 6)) {
		if ((rc = number(p, "fwmark", v, vlen, UINT32_MAX, &n)) < 0)
			return rc;
		dev->fwmark = (uint32_t)n;
		return 0;
	}
	int k = awg_key_lookup(key, klen);
	if (k < 0)
		return 0; /* unknown device key: skipped, as wg does */
	const char *name = awg_names[k];
	struct uapi_client_awg *a = &dev->awg;
	if (is_i(k)) {
		char **slot = &a->i[k - UAPI_CLIENT_I1];
		char *copy = NULL;
		if (vlen) {
			copy = mem_alloc(vlen + 1);
			if (!copy)
				return fail(p, -ENOMEM, "out of memory");
			memcpy(copy, v, vlen);
			copy[vlen] = '\0';
		}
		mem_free(*slot);
		*slot = copy;
	} else if (is_h(k)) {
		if (!parse_range(v, vlen, &a->h[k - UAPI_CLIENT_H1]))
			return fail(p, -EPROTO, "%s='%s' is not N or LO-HI (decimal 0..4294967295, LO <= HI)", name,
			            quote(v, vlen, q));
	} else if (is_s(k)) {
		if ((rc = number(p, name, v, vlen, OBF_MAX_PREFIX, &n)) < 0)
			return rc;
		a->s[k - UAPI_CLIENT_S1] = (uint32_t)n;
	} else {
		if ((rc = number(p, name, v, vlen, UINT32_MAX, &n)) < 0)
			return rc;
		uint32_t *dst = k == UAPI_CLIENT_JC ? &a->jc : k == UAPI_CLIENT_JMIN ? &a->jmin : &a->jmax;
		*dst = (uint32_t)n;
	}
	a->present |= 1u << k;
	return 0;
}

static int peer_key(struct uapi_client_parser *p, const char *key, size_t klen, const char *v, size_t vlen)
{
	struct uapi_client_peer *peer = cur_peer(p);
	uint64_t n;
	char buf[ENDPOINT_STRLEN + 16], q[48];
	int rc;

#define KEY_IS(s) (klen == sizeof(s) - 1 && !memcmp(key, s, klen))
	if (KEY_IS("preshared_key")) {
		if ((rc = hex_key(p, "preshared_key", v, vlen, peer->preshared_key)) < 0)
			return rc;
		peer->has_preshared_key = !sodium_is_zero(peer->preshared_key, sizeof(peer->preshared_key));
	} else if (KEY_IS("endpoint")) {
		if (!short_value(v, vlen, buf, sizeof(buf)) || endpoint_parse(buf, &peer->endpoint) != 0)
			return fail(p, -EPROTO, "endpoint='%s' is not IPv4:PORT or [IPv6]:PORT", quote(v, vlen, q));
		peer->has_endpoint = true;
	} else if (KEY_IS("last_handshake_time_sec")) {
		if ((rc = number(p, "last_handshake_time_sec", v, vlen, INT64_MAX, &n)) < 0)
			return rc;
		peer->last_handshake_sec = (int64_t)n;
	} else if (KEY_IS("last_handshake_time_nsec")) {
		if ((rc = number(p, "last_handshake_time_nsec", v, vlen, 999999999, &n)) < 0)
			return rc;
		peer->last_handshake_nsec = (int64_t)n;
	} else if (KEY_IS("rx_bytes")) {
		if ((rc = number(p, "rx_bytes", v, vlen, UINT64_MAX, &peer->rx_bytes)) < 0)
			return rc;
	} else if (KEY_IS("tx_bytes")) {
		if ((rc = number(p, "tx_bytes", v, vlen, UINT64_MAX, &peer->tx_bytes)) < 0)
			return rc;
	} else if (KEY_IS("persistent_keepalive_interval")) {
		if ((rc = number(p, "persistent_keepalive_interval", v, vlen, UINT16_MAX, &n)) < 0)
			return rc;
		peer->persistent_keepalive = (uint16_t)n;
	} else if (KEY_IS("allowed_ip")) {
		struct cidr c;
		if (!short_value(v, vlen, buf, sizeof(buf)) || cidr_parse(buf, &c) != 0)
			return fail(p, -EPROTO, "allowed_ip='%s' is not ADDRESS/PREFIX", quote(v, vlen, q));
		if (grow((void **)&peer->allowed_ips, &peer->cap_allowed_ips, peer->n_allowed_ips, sizeof(c)) < 0)
			return fail(p, -ENOMEM, "out of memory");
		peer->allowed_ips[peer->n_allowed_ips++] = c;
	}
	/* Anything else (protocol_version, keys of newer daemons) is skipped. */
#undef KEY_IS
	return 0;
}

static int new_peer(struct uapi_client_parser *p, const char *v, size_t vlen)
{
	struct uapi_client_device *dev = p->dev;
	uint8_t key[UAPI_CLIENT_KEY_LEN];
	int rc = hex_key(p, "public_key", v, vlen, key);
	if (rc < 0)
		return rc;
	if (grow((void **)&dev->peers, &dev->cap_peers, dev->n_peers, sizeof(*dev->peers)) < 0)
		return fail(p, -ENOMEM, "out of memory");
	struct uapi_client_peer *peer = &dev->peers[dev->n_peers++];
	memset(peer, 0, sizeof(*peer));
	memcpy(peer->public_key, key, sizeof(key));
	p->in_peer = true;
	return 0;
}

static int parse_errno(struct uapi_client_parser *p, const char *v, size_t vlen)
{
	char q[48];
	bool neg = vlen && v[0] == '-';
	uint64_t n;
	/* Any value inside the errno band; wireguard-go sends it negative. */
	if (!parse_dec(v + neg, vlen - neg, ERR_BAND - 1, &n))
		return fail(p, -EPROTO, "errno='%s' is not a number", quote(v, vlen, q));
	p->daemon_errno = -(int)n;
	p->got_errno = true;
	return 0;
}

int uapi_client_parser_line(struct uapi_client_parser *p, const char *line, size_t len)
{
	if (p->error)
		return p->error;
	p->lineno++;
	if (len >= UAPI_CLIENT_MAX_REPLY || p->bytes + len + 1 > UAPI_CLIENT_MAX_REPLY)
		return fail(p, -EMSGSIZE, "reply exceeds %u MiB", UAPI_CLIENT_MAX_REPLY >> 20);
	p->bytes += len + 1;
	if (len > UAPI_CLIENT_MAX_LINE)
		return fail(p, -EMSGSIZE, "line longer than %u KiB", UAPI_CLIENT_MAX_LINE >> 10);
	if (p->done)
		return fail(p, -EPROTO, "data after the end of the reply");
	if (len == 0) {
		if (!p->got_errno)
			return fail(p, -EPROTO, "reply ended before its errno= line");
		p->done = true;
		return 0;
	}
	if (memchr(line, '\0', len))
		return fail(p, -EPROTO, "NUL byte in line");
	const char *eq = memchr(line, '=', len);
	if (!eq)
		return fail(p, -EPROTO, "line has no '=' (expected key=value)");
	if (p->got_errno)
		return fail(p, -EPROTO, "key after the errno= line");
	size_t klen = (size_t)(eq - line), vlen = len - klen - 1;
	const char *v = eq + 1;
	if (klen == 5 && !memcmp(line, "errno", 5))
		return parse_errno(p, v, vlen);
	if (klen == 10 && !memcmp(line, "public_key", 10))
		return new_peer(p, v, vlen);
	if (p->in_peer)
		return peer_key(p, line, klen, v, vlen);
	return device_key(p, line, klen, v, vlen);
}

int uapi_client_parser_finish(struct uapi_client_parser *p, struct uapi_client_device **out)
{
	int rc = p->error;
	*out = NULL;
	if (!rc && !p->got_errno)
		rc = fail(p, -EPROTO, "reply ended before its errno= line");
	if (!rc && p->daemon_errno) {
		/* Not a parse error: the caller names the errno itself. */
		rc = p->daemon_errno;
		p->err[0] = '\0';
	}
	if (!rc) {
		*out = p->dev;
		p->dev = NULL;
	}
	uapi_client_parser_fini(p);
	return rc;
}

int uapi_client_parse_reply(const char *buf, size_t len, struct uapi_client_device **out, char *err,
                            size_t errlen)
{
	struct uapi_client_parser p;
	int rc;
	*out = NULL;
	if ((rc = uapi_client_parser_init(&p)) < 0) {
		if (errlen)
			snprintf(err, errlen, "out of memory");
		return rc;
	}
	size_t off = 0;
	while (off < len) {
		const char *nl = memchr(buf + off, '\n', len - off);
		size_t n = nl ? (size_t)(nl - (buf + off)) : len - off;
		if (uapi_client_parser_line(&p, buf + off, n) < 0)
			break;
		off += n + 1;
	}
	rc = uapi_client_parser_finish(&p, out);
	if (rc < 0 && errlen)
		snprintf(err, errlen, "%s", p.err);
	return rc;
}

static int peer_cmp(const void *va, const void *vb)
{
	const struct uapi_client_peer *a = va, *b = vb;
	bool a0 = !a->last_handshake_sec && !a->last_handshake_nsec;
	bool b0 = !b->last_handshake_sec && !b->last_handshake_nsec;
	if (a0 != b0)
		return a0 ? 1 : -1;
	if (a->last_handshake_sec != b->last_handshake_sec)
		return a->last_handshake_sec > b->last_handshake_sec ? -1 : 1;
	if (a->last_handshake_nsec != b->last_handshake_nsec)
		return a->last_handshake_nsec > b->last_handshake_nsec ? -1 : 1;
	return 0;
}

void uapi_client_sort_peers(struct uapi_client_device *dev)
{
	if (dev->n_peers > 1)
		qsort(dev->peers, dev->n_peers, sizeof(*dev->peers), peer_cmp);
}

/* ---- set body builder ---------------------------------------------------- */

/* Appends key=value\n. */
static int kv(struct buf *b, const char *key, const char *value)
{
	return buf_printf(b, "%s=%s\n", key, value);
}

static int kv_hex(struct buf *b, const char *key, const uint8_t k[UAPI_CLIENT_KEY_LEN])
{
	char hex[ENC_KEY_HEX_LEN];
	enc_key_to_hex(hex, k);
	int rc = kv(b, key, hex);
	sodium_memzero(hex, sizeof(hex));
	return rc;
}

int uapi_client_body_add_remove_peer(struct buf *body, const uint8_t key[UAPI_CLIENT_KEY_LEN])
{
	size_t len = body->len;
	int rc = kv_hex(body, "public_key", key);
	if (!rc)
		rc = kv(body, "remove", "true");
	if (rc < 0 && body->len > len) {
		/* Leave the body as it was: drop the half-written peer. */
		sodium_memzero(body->data + len, body->len - len);
		body->len = len;
		body->data[len] = '\0';
	}
	return rc;
}

struct set_ctx {
	const struct uapi_client_set_io *io;
	struct buf *b;
	struct obf_params obf; /* scratch, to validate AmneziaWG values */
	char *err;
	size_t errlen;
};

static int set_fail(struct set_ctx *c, int code, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int set_fail(struct set_ctx *c, int code, const char *fmt, ...)
{
	if (c->errlen) {
		va_list ap;
		va_start(ap, fmt);
		vsnprintf(c->err, c->errlen, fmt, ap);
		va_end(ap);
	}
	return code;
}

static int set_key_file(struct set_ctx *c, const char *opt, const char *uapi_key, const char *path)
{
	uint8_t key[UAPI_CLIENT_KEY_LEN];
	int rc = c->io->read_key_file(c->io->ctx, path, key, c->err, c->errlen);
	if (rc < 0) {
		sodium_memzero(key, sizeof(key));
		return rc;
	}
	rc = kv_hex(c->b, uapi_key, key);
	sodium_memzero(key, sizeof(key));
	if (rc < 0)
		return set_fail(c, rc, "%s: %s", opt, err_str(rc));
	return 0;
}

static int set_number(struct set_ctx *c, const char *opt, const char *uapi_key, const char *v, uint64_t max,
                      const char *off_word)
{
	uint64_t n;
	char buf[24];
	if (off_word && !strcmp(v, off_word))
		n = 0;
	else if (!parse_dec(v, strlen(v), max, &n))
		return set_fail(c, -EINVAL, "Invalid %s '%s': expected a decimal number in 0..%" PRIu64 "%s%s%s", opt,
		                v, max, off_word ? " or '" : "", off_word ? off_word : "", off_word ? "'" : "");
	snprintf(buf, sizeof(buf), "%" PRIu64, n);
	int rc = kv(c->b, uapi_key, buf);
	return rc < 0 ? set_fail(c, rc, "%s", err_str(rc)) : 0;
}

static int hex_digit(char ch)
{
	if (ch >= '0' && ch <= '9')
		return ch - '0';
	if (ch >= 'a' && ch <= 'f')
		return ch - 'a' + 10;
	if (ch >= 'A' && ch <= 'F')
		return ch - 'A' + 10;
	return -1;
}

static int set_fwmark(struct set_ctx *c, const char *v)
{
	uint64_t n = 0;
	char buf[24];
	bool ok;
	if (!strcmp(v, "off")) {
		ok = true;
	} else if (v[0] == '0' && (v[1] == 'x' || v[1] == 'X')) {
		size_t len = strlen(v + 2);
		ok = len > 0 && len <= 8;
		for (size_t i = 0; ok && i < len; i++) {
			int d = hex_digit(v[2 + i]);
			ok = d >= 0;
			n = n << 4 | (uint64_t)(d < 0 ? 0 : d);
		}
	} else {
		ok = parse_dec(v, strlen(v), UINT32_MAX, &n);
	}
	if (!ok)
		return set_fail(c, -EINVAL, "Invalid fwmark '%s': expected 'off', decimal 0..4294967295 or 0x hex", v);
	snprintf(buf, sizeof(buf), "%" PRIu64, n);
	int rc = kv(c->b, "fwmark", buf);
	return rc < 0 ? set_fail(c, rc, "%s", err_str(rc)) : 0;
}

/* Checks one AmneziaWG value with the engine's own rules (obf_params_set),
 * so a bad value is refused here with the engine's message rather than as a
 * bare EINVAL from the daemon, and sends it in canonical form. Rules across
 * keys (jmin <= jmax, disjoint H ranges) depend on the daemon's current
 * values and are left to it. */
static int set_awg(struct set_ctx *c, int k, const char *v)
{
	const char *name = awg_names[k];
	char msg[160];
	int rc = obf_params_set(&c->obf, name, v, msg, sizeof(msg));
	if (rc < 0)
		return set_fail(c, rc, "Invalid %s", msg);
	if (is_i(k)) {
		/* The template goes as typed: the daemon keeps its source text. */
		if (strpbrk(v, "\n\r"))
			return set_fail(c, -EINVAL, "Invalid %s: the template must be on one line", name);
		rc = kv(c->b, name, v);
	} else {
		char val[32];
		if (obf_params_format_value(&c->obf, name, val, sizeof(val)) < 0)
			return set_fail(c, -EINVAL, "Invalid %s '%s'", name, v);
		rc = kv(c->b, name, val);
	}
	return rc < 0 ? set_fail(c, rc, "%s", err_str(rc)) : 0;
}

static int set_endpoint(struct set_ctx *c, const char *v)
{
	union endpoint ep;
	char buf[ENDPOINT_STRLEN];
	int rc = endpoint_parse(v, &ep);
	if (rc != 0 && c->io->resolve_endpoint) {
		if ((rc = c->io->resolve_endpoint(c->io->ctx, v, &ep, c->err, c->errlen)) < 0)
			return rc;
	} else if (rc != 0) {
		return set_fail(c, -EINVAL, "Invalid endpoint '%s': expected IPv4:PORT or [IPv6]:PORT", v);
	}
	if (endpoint_format(&ep, buf, sizeof(buf)) < 0)
		return set_fail(c, -EINVAL, "Invalid endpoint '%s': unsupported address family", v);
	rc = kv(c->b, "endpoint", buf);
	return rc < 0 ? set_fail(c, rc, "%s", err_str(rc)) : 0;
}

/* "CIDR,CIDR,...": replaces the peer's list, unless an entry carries a '+'
 * (add) or '-' (remove) sign, in which case the list is edited in place. */
static int set_allowed_ips(struct set_ctx *c, const char *list)
{
	bool signed_list = false;
	int rc = 0;
	for (const char *s = list; *s; s++)
		if ((*s == '+' || *s == '-') && (s == list || s[-1] == ',' || s[-1] == ' '))
			signed_list = true;
	if (!signed_list && (rc = kv(c->b, "replace_allowed_ips", "true")) < 0)
		return set_fail(c, rc, "%s", err_str(rc));

	const char *s = list;
	while (*s) {
		while (*s == ' ' || *s == '\t')
			s++;
		const char *end = strchr(s, ',');
		size_t n = end ? (size_t)(end - s) : strlen(s);
		while (n && (s[n - 1] == ' ' || s[n - 1] == '\t'))
			n--;
		char item[CIDR_STRLEN + 2], canon[CIDR_STRLEN + 1];
		struct cidr cidr;
		if (n == 0) {
			if (end) {
				s = end + 1;
				continue;
			}
			break;
		}
		bool remove = s[0] == '-';
		const char *body = (s[0] == '+' || s[0] == '-') ? s + 1 : s;
		size_t bn = n - (size_t)(body - s);
		if (bn >= sizeof(item) || (memcpy(item, body, bn), item[bn] = '\0', cidr_parse(item, &cidr) != 0)) {
			return set_fail(c, -EINVAL,
			                "Invalid allowed-ips entry '%.*s': expected ADDRESS[/PREFIX], e.g. 10.0.0.2/32 or "
			                "fd00::/64, optionally signed + or -",
			                (int)(n > 60 ? 60 : n), s);
		}
		if (cidr_format(&cidr, canon + 1, sizeof(canon) - 1) < 0)
			return set_fail(c, -EINVAL, "Invalid allowed-ips entry '%.*s'", (int)(n > 60 ? 60 : n), s);
		canon[0] = '-';
		if ((rc = kv(c->b, "allowed_ip", remove ? canon : canon + 1)) < 0)
			return set_fail(c, rc, "%s", err_str(rc));
		if (!end)
			break;
		s = end + 1;
	}
	return 0;
}

static const char device_opts[] =
	"private-key, listen-port, fwmark, jc, jmin, jmax, s1..s4, h1..h4, i1..i5, peer";
static const char peer_opts[] = "remove, preshared-key, endpoint, persistent-keepalive, allowed-ips, peer";

static bool is_one_of(const char *s, const char *const *list)
{
	for (; *list; list++)
		if (!strcmp(s, *list))
			return true;
	return false;
}

static const char *const device_words[] = { "private-key", "listen-port", "fwmark", NULL };
static const char *const peer_words[] = { "preshared-key", "endpoint", "persistent-keepalive", "allowed-ips", NULL };

static int build_set(struct set_ctx *c, int argc, const char *const *argv)
{
	bool in_peer = false;
	int rc = 0;
	for (int i = 0; i < argc; i++) {
		const char *opt = argv[i];
		const char *v = i + 1 < argc ? argv[i + 1] : NULL;
		int k = awg_key_lookup(opt, strlen(opt));
		bool dev_opt = k >= 0 || is_one_of(opt, device_words);

		if (in_peer && !strcmp(opt, "remove")) {
			if ((rc = kv(c->b, "remove", "true")) < 0)
				return set_fail(c, rc, "%s", err_str(rc));
			continue;
		}
		if (in_peer && dev_opt)
			return set_fail(c, -EINVAL, "'%s' is an interface option: give it before the first 'peer'", opt);
		if (!strcmp(opt, "peer") || (in_peer ? is_one_of(opt, peer_words) : dev_opt)) {
			if (!v)
				return set_fail(c, -EINVAL, "'%s' needs a value", opt);
		} else {
			return set_fail(c, -EINVAL, "Unknown argument '%s'; valid %s: %s", opt,
			                in_peer ? "after 'peer'" : "before the first 'peer'", in_peer ? peer_opts : device_opts);
		}

		if (!strcmp(opt, "peer")) {
			uint8_t key[UAPI_CLIENT_KEY_LEN];
			if (enc_key_from_base64(key, v) != 0)
				return set_fail(c, -EINVAL, "Invalid peer public key '%s': expected 44 characters of base64", v);
			if ((rc = kv_hex(c->b, "public_key", key)) < 0)
				return set_fail(c, rc, "%s", err_str(rc));
			in_peer = true;
		} else if (!strcmp(opt, "private-key")) {
			rc = set_key_file(c, opt, "private_key", v);
		} else if (!strcmp(opt, "listen-port")) {
			rc = set_number(c, opt, "listen_port", v, UINT16_MAX, NULL);
		} else if (!strcmp(opt, "fwmark")) {
			rc = set_fwmark(c, v);
		} else if (k >= 0) {
			rc = set_awg(c, k, v);
		} else if (!strcmp(opt, "preshared-key")) {
			rc = set_key_file(c, opt, "preshared_key", v);
		} else if (!strcmp(opt, "endpoint")) {
			rc = set_endpoint(c, v);
		} else if (!strcmp(opt, "persistent-keepalive")) {
			rc = set_number(c, opt, "persistent_keepalive_interval", v, UINT16_MAX, "off");
		} else {
			rc = set_allowed_ips(c, v);
		}
		if (rc < 0)
			return rc;
		i++;
	}
	return 0;
}

int uapi_client_build_set(int argc, const char *const *argv, const struct uapi_client_set_io *io, struct buf *body,
                          char *err, size_t errlen)
{
	struct set_ctx c = { .io = io, .b = body, .err = err, .errlen = errlen };
	if (errlen)
		err[0] = '\0';
	obf_params_init(&c.obf);
	int rc = build_set(&c, argc, argv);
	obf_params_fini(&c.obf);
	return rc;
}
