/* vless:// share links: see vless_link.h. */
#include "reality/vless_link.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "lib/enc.h"
#include "lib/text.h"

#define SCHEME     "vless://"
#define SCHEME_LEN 8
#define QUOTE_MAX  48

enum {
	K_ENCRYPTION, K_TYPE, K_SECURITY, K_SNI, K_FP, K_PBK, K_SID, K_SPX, K_FLOW, K_HEADER_TYPE, K_PQV, K_COUNT,
};

static const char *const keys[K_COUNT] = {
	[K_ENCRYPTION] = "encryption", [K_TYPE] = "type", [K_SECURITY] = "security", [K_SNI] = "sni",
	[K_FP] = "fp", [K_PBK] = "pbk", [K_SID] = "sid", [K_SPX] = "spx", [K_FLOW] = "flow",
	[K_HEADER_TYPE] = "headerType", [K_PQV] = "pqv",
};

#define VALID_KEYS "encryption, type, security, sni, fp, pbk, sid, spx, flow, headerType"

__attribute__((format(printf, 3, 4))) static int fail(char *err, size_t cap, const char *fmt, ...)
{
	if (err && cap) {
		va_list ap;
		va_start(ap, fmt);
		vsnprintf(err, cap, fmt, ap);
		va_end(ap);
	}
	return -EINVAL;
}

static const char *quote(char q[TEXT_QUOTE_BUF(QUOTE_MAX)], const char *s, size_t n)
{
	return text_quote(q, QUOTE_MAX, s, n);
}

/* Percent-decodes s[0..n) into out (NUL-terminated). -EINVAL on a bad
 * escape, a decoded NUL, or when it does not fit. */
static int pct_decode(const char *s, size_t n, char *out, size_t cap)
{
	size_t o = 0;

	for (size_t i = 0; i < n; i++) {
		int c = (unsigned char)s[i];
		if (c == '%') {
			char hex[3] = {0};
			uint8_t b;
			if (i + 2 >= n)
				return -EINVAL;
			memcpy(hex, s + i + 1, 2);
			if (enc_hex_decode(&b, 1, hex) < 0)
				return -EINVAL;
			c = b;
			i += 2;
		}
		if (c == 0 || o + 1 >= cap)
			return -EINVAL;
		out[o++] = (char)c;
	}
	out[o] = '\0';
	return 0;
}

static bool all_digits_and_dots(const char *s)
{
	for (; *s; s++)
		if (!((*s >= '0' && *s <= '9') || *s == '.'))
			return false;
	return true;
}

static int parse_port(const char *s, size_t n, uint16_t *port)
{
	unsigned v = 0;

	if (n == 0 || n > 5 || s[0] == '0')
		return -EINVAL;
	for (size_t i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -EINVAL;
		v = v * 10 + (unsigned)(s[i] - '0');
	}
	if (v == 0 || v > 65535)
		return -EINVAL;
	*port = (uint16_t)v;
	return 0;
}

static int parse_hostport(struct vless_link *l, const char *s, size_t n, char *err, size_t cap)
{
	char q[TEXT_QUOTE_BUF(QUOTE_MAX)];
	const char *colon;
	uint8_t a6[16];
	struct in_addr a4;

	if (n && s[0] == '[') {
		const char *close = memchr(s, ']', n);
		size_t hl = close ? (size_t)(close - s - 1) : 0;
		if (!close || hl == 0 || hl >= sizeof(l->host))
			return fail(err, cap, "host %s: a bracketed IPv6 address must end with ']'", quote(q, s, n));
		memcpy(l->host, s + 1, hl);
		l->host[hl] = '\0';
		if (inet_pton(AF_INET6, l->host, a6) != 1)
			return fail(err, cap, "host %s is not an IPv6 address", quote(q, l->host, hl));
		l->host_ipv6 = true;
		colon = close + 1;
		if (colon >= s + n || *colon != ':')
			return fail(err, cap, "%s has no port: write [ADDRESS]:PORT", quote(q, s, n));
	} else {
		colon = NULL;
		for (size_t i = n; i > 0; i--)
			if (s[i - 1] == ':') {
				colon = s + i - 1;
				break;
			}
		if (!colon)
			return fail(err, cap, "%s has no port: write HOST:PORT", quote(q, s, n));
		size_t hl = (size_t)(colon - s);
		if (hl == 0 || hl >= sizeof(l->host) || memchr(s, ':', hl))
			return fail(err, cap, "host %s is not a name, an IPv4 address or a bracketed IPv6 address",
			            quote(q, s, hl));
		memcpy(l->host, s, hl);
		l->host[hl] = '\0';
		if (all_digits_and_dots(l->host) ? inet_pton(AF_INET, l->host, &a4) != 1 : !text_is_dns_name(l->host))
			return fail(err, cap, "host %s is not a DNS name or an IPv4 address", quote(q, l->host, hl));
	}
	colon++;
	if (parse_port(colon, (size_t)(s + n - colon), &l->port) < 0)
		return fail(err, cap, "port %s: expected 1..65535", quote(q, colon, (size_t)(s + n - colon)));
	return 0;
}

/* One query parameter's value, checked and stored. */
static int set_param(struct vless_link *l, int k, const char *v, char *err, size_t cap)
{
	char q[TEXT_QUOTE_BUF(QUOTE_MAX)];
	size_t n = strlen(v);

	switch (k) {
	case K_ENCRYPTION:
		if (strcmp(v, "none") != 0)
			return fail(err, cap, "encryption=%s: only \"none\" (VLESS Encryption is not supported)",
			            quote(q, v, n));
		return 0;
	case K_TYPE:
		if (strcmp(v, "tcp") != 0 && strcmp(v, "raw") != 0)
			return fail(err, cap, "type=%s: only \"tcp\" (the raw transport)", quote(q, v, n));
		return 0;
	case K_SECURITY:
		if (strcmp(v, "reality") != 0)
			return fail(err, cap, "security=%s: only \"reality\"", quote(q, v, n));
		return 0;
	case K_SNI:
		if (n && !text_is_dns_name(v))
			return fail(err, cap, "sni=%s is not a DNS name", quote(q, v, n));
		memcpy(l->sni, v, n + 1);
		return 0;
	case K_FP:
		if (strcmp(v, "chrome") != 0)
			return fail(err, cap, "fp=%s: only \"chrome\" (the ClientHello shape we send)", quote(q, v, n));
		return 0;
	case K_PBK:
		if (reality_auth_key_from_text(l->pbk, v) < 0)
			return fail(err, cap, "pbk=%s: expected 43 base64url characters (a REALITY public key)",
			            quote(q, v, n));
		return 0;
	case K_SID:
		if (n >= sizeof(l->sid) || reality_auth_short_id_parse(l->short_id, v) < 0)
			return fail(err, cap, "sid=%s: expected 0 to 16 hex digits, an even number", quote(q, v, n));
		memcpy(l->sid, v, n + 1);
		return 0;
	case K_SPX:
		if (v[0] != '/')
			return fail(err, cap, "spx=%s: a path starting with '/'", quote(q, v, n));
		memcpy(l->spx, v, n + 1);
		return 0;
	case K_FLOW:
		if (strcmp(v, VLESS_FLOW_VISION "-udp443") == 0) {
			l->vision = l->vision_udp443 = true;
		} else if (strcmp(v, VLESS_FLOW_VISION) == 0) {
			l->vision = true;
		} else if (n) {
			return fail(err, cap, "flow=%s: expected \"\", \"xtls-rprx-vision\" or \"xtls-rprx-vision-udp443\"",
			            quote(q, v, n));
		}
		return 0;
	case K_HEADER_TYPE:
		if (strcmp(v, "none") != 0)
			return fail(err, cap, "headerType=%s: only \"none\" on the tcp transport", quote(q, v, n));
		return 0;
	default: /* K_PQV */
		return fail(err, cap, "pqv (ML-DSA-65 verification) is not supported; remove it to connect without it");
	}
}

static int parse_query(struct vless_link *l, const char *s, size_t n, unsigned *seen, char *err, size_t cap)
{
	char q[TEXT_QUOTE_BUF(QUOTE_MAX)], v[VLESS_LINK_TEXT_MAX];
	const char *end = s + n;

	while (s < end) {
		const char *amp = memchr(s, '&', (size_t)(end - s));
		const char *pe = amp ? amp : end;
		const char *eq = memchr(s, '=', (size_t)(pe - s));
		int k;

		if (!eq)
			return fail(err, cap, "query part %s is not KEY=VALUE", quote(q, s, (size_t)(pe - s)));
		for (k = 0; k < K_COUNT; k++)
			if (strlen(keys[k]) == (size_t)(eq - s) && memcmp(keys[k], s, (size_t)(eq - s)) == 0)
				break;
		if (k == K_COUNT)
			return fail(err, cap, "unknown parameter %s; valid: " VALID_KEYS, quote(q, s, (size_t)(eq - s)));
		if (*seen & (1u << k))
			return fail(err, cap, "parameter %s given twice", keys[k]);
		*seen |= 1u << k;
		if (pct_decode(eq + 1, (size_t)(pe - eq - 1), v, sizeof(v)) < 0)
			return fail(err, cap, "%s=%s: bad percent-encoding or too long", keys[k],
			            quote(q, eq + 1, (size_t)(pe - eq - 1)));
		int rc = set_param(l, k, v, err, cap);
		if (rc < 0)
			return rc;
		s = amp ? amp + 1 : end;
		if (amp && s == end)
			return fail(err, cap, "the query ends with '&'");
	}
	return 0;
}

static int parse(struct vless_link *l, const char *s, char *err, size_t cap)
{
	char q[TEXT_QUOTE_BUF(QUOTE_MAX)];
	size_t n = strnlen(s, VLESS_LINK_MAX + 1);
	const char *p, *hash, *qm, *at, *auth_end;
	unsigned seen = 0;
	int rc;

	if (n > VLESS_LINK_MAX)
		return fail(err, cap, "the link is longer than %d characters", VLESS_LINK_MAX);
	if (n < SCHEME_LEN || strncasecmp(s, SCHEME, SCHEME_LEN) != 0)
		return fail(err, cap, "%s does not start with vless://", quote(q, s, n));
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)s[i] <= ' ' || s[i] == 0x7f)
			return fail(err, cap, "character %zu of the link is a space or control character; "
			                      "percent-encode it (%%20)", i + 1);
	p = s + SCHEME_LEN;
	hash = strchr(p, '#');
	if (hash && pct_decode(hash + 1, strlen(hash + 1), l->label, sizeof(l->label)) < 0)
		return fail(err, cap, "label %s: bad percent-encoding or too long", quote(q, hash + 1, strlen(hash + 1)));
	if (!hash)
		hash = s + n;
	qm = memchr(p, '?', (size_t)(hash - p));
	auth_end = qm ? qm : hash;
	if (auth_end > p && auth_end[-1] == '/')
		auth_end--; /* "host:port/?..." as some panels write it */
	at = memchr(p, '@', (size_t)(auth_end - p));
	if (!at || memchr(at + 1, '@', (size_t)(auth_end - at - 1)))
		return fail(err, cap, "%s: expected ID@HOST:PORT", quote(q, p, (size_t)(auth_end - p)));
	if (pct_decode(p, (size_t)(at - p), l->id, sizeof(l->id)) < 0 || vless_uuid_parse(l->uuid, l->id) < 0)
		return fail(err, cap, "user id %s: expected a UUID or 1 to 30 characters", quote(q, p, (size_t)(at - p)));
	rc = parse_hostport(l, at + 1, (size_t)(auth_end - at - 1), err, cap);
	if (rc < 0)
		return rc;
	if (qm) {
		rc = parse_query(l, qm + 1, (size_t)(hash - qm - 1), &seen, err, cap);
		if (rc < 0)
			return rc;
	}
	if (!(seen & (1u << K_SECURITY)))
		return fail(err, cap, "security=reality is missing (only REALITY links are supported)");
	if (!(seen & (1u << K_PBK)))
		return fail(err, cap, "pbk (the server's REALITY public key) is missing");
	if (!(seen & (1u << K_SNI)) && !l->host_ipv6 && !all_digits_and_dots(l->host))
		memcpy(l->sni, l->host, strlen(l->host) + 1);
	return 0;
}

int vless_link_parse(struct vless_link *l, const char *s, char *err, size_t err_cap)
{
	memset(l, 0, sizeof(*l));
	if (err && err_cap)
		err[0] = '\0';
	int rc = parse(l, s, err, err_cap);
	if (rc < 0)
		memset(l, 0, sizeof(*l));
	return rc;
}

/* Appends s percent-encoded (all but RFC 3986 unreserved characters). */
static void put_enc(char *out, size_t cap, size_t *o, const char *s)
{
	static const char hex[] = "0123456789ABCDEF";

	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;
		bool plain = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
		             c == '.' || c == '_' || c == '~';
		if (plain) {
			if (*o + 1 < cap)
				out[*o] = (char)c;
			(*o)++;
		} else {
			if (*o + 3 < cap) {
				out[*o] = '%';
				out[*o + 1] = hex[c >> 4];
				out[*o + 2] = hex[c & 15];
			}
			*o += 3;
		}
	}
}

static void put_raw(char *out, size_t cap, size_t *o, const char *s)
{
	size_t n = strlen(s);
	if (*o + n < cap)
		memcpy(out + *o, s, n);
	*o += n;
}

int vless_link_format(const struct vless_link *l, char *out, size_t cap)
{
	char pbk[REALITY_KEY_B64_LEN], port[8];
	size_t o = 0;

	if (!l->id[0] || !l->host[0] || !l->port || (l->vision_udp443 && !l->vision) || !cap)
		return -EINVAL;
	reality_auth_key_to_text(pbk, l->pbk);
	snprintf(port, sizeof(port), "%u", (unsigned)l->port);
	put_raw(out, cap, &o, SCHEME);
	put_enc(out, cap, &o, l->id);
	put_raw(out, cap, &o, l->host_ipv6 ? "@[" : "@");
	put_raw(out, cap, &o, l->host);
	put_raw(out, cap, &o, l->host_ipv6 ? "]:" : ":");
	put_raw(out, cap, &o, port);
	put_raw(out, cap, &o, "?encryption=none&type=tcp&security=reality&sni=");
	put_enc(out, cap, &o, l->sni);
	put_raw(out, cap, &o, "&fp=chrome&pbk=");
	put_raw(out, cap, &o, pbk);
	put_raw(out, cap, &o, "&sid=");
	put_enc(out, cap, &o, l->sid);
	if (l->spx[0]) {
		put_raw(out, cap, &o, "&spx=");
		put_enc(out, cap, &o, l->spx);
	}
	if (l->vision) {
		put_raw(out, cap, &o, "&flow=");
		put_raw(out, cap, &o, l->vision_udp443 ? VLESS_FLOW_VISION "-udp443" : VLESS_FLOW_VISION);
	}
	put_raw(out, cap, &o, "&headerType=none");
	if (l->label[0]) {
		put_raw(out, cap, &o, "#");
		put_enc(out, cap, &o, l->label);
	}
	if (o >= cap) {
		out[0] = '\0';
		return -ENOSPC;
	}
	out[o] = '\0';
	return 0;
}
