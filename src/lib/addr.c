#include "lib/addr.h"

#include <errno.h>
#include <net/if.h>
#include <stdio.h>
#include <string.h>

/* The parsers work on spans [s, s + n) so that "ADDR/PREFIX" and
 * "[ADDR%SCOPE]:PORT" are split without copying. Character tests are written
 * out rather than taken from <ctype.h> so the locale cannot widen them. */

static bool is_digit(char c)
{
	return c >= '0' && c <= '9';
}

static int hex_value(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

static size_t family_len(int family)
{
	return family == AF_INET ? 4 : family == AF_INET6 ? 16 : 0;
}

/* Decimal without sign or leading zeros. -EINVAL if empty or not all digits,
 * ERR_RANGE above max. Saturates instead of overflowing on long inputs. */
static int parse_dec(const char *s, size_t n, uint32_t max, uint32_t *out)
{
	uint64_t v = 0;

	if (n == 0 || (n > 1 && s[0] == '0'))
		return -EINVAL;
	for (size_t i = 0; i < n; i++) {
		if (!is_digit(s[i]))
			return -EINVAL;
		if (v <= UINT32_MAX)
			v = v * 10 + (uint64_t)(s[i] - '0');
	}
	if (v > max)
		return ERR_RANGE;
	*out = (uint32_t)v;
	return 0;
}

static bool parse_v4(const char *s, size_t n, uint8_t out[4])
{
	size_t i = 0;

	for (int part = 0; part < 4; part++) {
		if (part > 0) {
			if (i >= n || s[i] != '.')
				return false;
			i++;
		}
		size_t start = i;
		unsigned v = 0;
		while (i < n && is_digit(s[i]) && i - start < 4)
			v = v * 10 + (unsigned)(s[i++] - '0');
		size_t digits = i - start;
		if (digits == 0 || digits > 3 || v > 255 || (digits > 1 && s[start] == '0'))
			return false;
		out[part] = (uint8_t)v;
	}
	return i == n;
}

static bool parse_v6(const char *s, size_t n, uint8_t out[16])
{
	uint16_t words[8];
	int nw = 0, gap = -1;
	size_t i = 0;

	if (n >= 2 && s[0] == ':' && s[1] == ':') {
		gap = 0;
		i = 2;
	} else if (n >= 1 && s[0] == ':') {
		return false;
	}
	while (i < n) {
		size_t start = i;
		unsigned v = 0;
		while (i < n && hex_value(s[i]) >= 0 && i - start < 5)
			v = v << 4 | (unsigned)hex_value(s[i++]);
		if (i < n && s[i] == '.') {
			/* Dotted IPv4 tail: must fill the last two groups and end the text. */
			uint8_t v4[4];
			if (nw > 6 || !parse_v4(s + start, n - start, v4))
				return false;
			words[nw++] = (uint16_t)(v4[0] << 8 | v4[1]);
			words[nw++] = (uint16_t)(v4[2] << 8 | v4[3]);
			break;
		}
		if (i == start || i - start > 4 || nw == 8)
			return false;
		words[nw++] = (uint16_t)v;
		if (i == n)
			break;
		if (s[i++] != ':' || i == n)
			return false;
		if (s[i] == ':') {
			if (gap >= 0)
				return false;
			gap = nw;
			i++;
		}
	}
	/* Without "::" there must be eight groups; with it, "::" must stand for
	 * at least one zero group. */
	if (gap < 0 ? nw != 8 : nw > 7)
		return false;

	int head = gap < 0 ? nw : gap, tail = nw - head;
	memset(out, 0, 16);
	for (int k = 0; k < head; k++) {
		out[2 * k] = (uint8_t)(words[k] >> 8);
		out[2 * k + 1] = (uint8_t)words[k];
	}
	for (int k = 0; k < tail; k++) {
		out[16 - 2 * tail + 2 * k] = (uint8_t)(words[head + k] >> 8);
		out[16 - 2 * tail + 2 * k + 1] = (uint8_t)words[head + k];
	}
	return true;
}

static int parse_addr_span(const char *s, size_t n, struct addr *out)
{
	memset(out, 0, sizeof(*out));
	if (memchr(s, ':', n)) {
		if (!parse_v6(s, n, out->bytes))
			return -EINVAL;
		out->family = AF_INET6;
	} else {
		if (!parse_v4(s, n, out->bytes))
			return -EINVAL;
		out->family = AF_INET;
	}
	return 0;
}

int addr_parse(const char *s, struct addr *out)
{
	int rc = parse_addr_span(s, strlen(s), out);
	if (rc < 0)
		memset(out, 0, sizeof(*out));
	return rc;
}

static void mask_host_bits(uint8_t *bytes, size_t len, unsigned prefix)
{
	for (size_t i = 0; i < len; i++) {
		if (prefix >= 8) {
			prefix -= 8;
			continue;
		}
		bytes[i] &= (uint8_t)(0xff00u >> prefix);
		prefix = 0;
	}
}

int cidr_parse(const char *s, struct cidr *out)
{
	size_t n = strlen(s);
	const char *slash = memchr(s, '/', n);
	size_t alen = slash ? (size_t)(slash - s) : n;
	uint32_t prefix;
	int rc;

	memset(out, 0, sizeof(*out));
	rc = parse_addr_span(s, alen, &out->addr);
	if (rc < 0)
		goto out;
	prefix = out->addr.family == AF_INET ? 32 : 128;
	if (slash) {
		rc = parse_dec(slash + 1, n - alen - 1, prefix, &prefix);
		if (rc < 0)
			goto out;
	}
	out->prefix = (uint8_t)prefix;
	mask_host_bits(out->addr.bytes, family_len(out->addr.family), prefix);
out:
	if (rc < 0)
		memset(out, 0, sizeof(*out));
	return rc;
}

/* Interface names as Linux allows them (dev_valid_name): 1..IFNAMSIZ-1 bytes,
 * no '/', ':' or whitespace. We also refuse controls and our own delimiters. */
static int scope_from_name(const char *s, size_t n, uint32_t *out)
{
	char name[IFNAMSIZ];

	if (n == 0 || n >= sizeof(name))
		return -EINVAL;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c <= ' ' || c >= 0x7f || c == '/' || c == ':' || c == '%' || c == '[' || c == ']')
			return -EINVAL;
	}
	if ((n == 1 && s[0] == '.') || (n == 2 && s[0] == '.' && s[1] == '.'))
		return -EINVAL;
	memcpy(name, s, n);
	name[n] = '\0';
	unsigned idx = if_nametoindex(name);
	if (idx == 0)
		return -ENODEV;
	*out = idx;
	return 0;
}

static int parse_scope(const char *s, size_t n, uint32_t *out)
{
	bool numeric = n > 0;
	for (size_t i = 0; i < n; i++)
		numeric = numeric && is_digit(s[i]);
	if (numeric)
		return parse_dec(s, n, UINT32_MAX, out);
	return scope_from_name(s, n, out);
}

static int parse_port(const char *s, size_t n, uint16_t *out)
{
	uint32_t v;
	int rc = parse_dec(s, n, 65535, &v);
	if (rc == 0)
		*out = (uint16_t)v;
	return rc;
}

static int parse_endpoint6(const char *s, size_t n, union endpoint *out)
{
	const char *close = memchr(s, ']', n);
	uint32_t scope = 0;
	uint16_t port;
	struct addr a;
	int rc;

	if (!close || (size_t)(close - s) + 1 >= n || close[1] != ':')
		return -EINVAL;
	size_t inner = (size_t)(close - s) - 1;
	const char *pct = memchr(s + 1, '%', inner);
	size_t alen = pct ? (size_t)(pct - s) - 1 : inner;

	rc = parse_addr_span(s + 1, alen, &a);
	if (rc < 0)
		return rc;
	if (a.family != AF_INET6)
		return -EINVAL;
	const char *port_s = close + 2;
	rc = parse_port(port_s, n - (size_t)(port_s - s), &port);
	if (rc < 0)
		return rc;
	/* The scope is looked up last: a malformed rest never costs a syscall. */
	if (pct) {
		rc = parse_scope(pct + 1, (size_t)(close - pct) - 1, &scope);
		if (rc < 0)
			return rc;
	}
	out->in6.sin6_family = AF_INET6;
	out->in6.sin6_port = htons(port);
	memcpy(&out->in6.sin6_addr, a.bytes, 16);
	out->in6.sin6_scope_id = scope;
	return 0;
}

static int parse_endpoint4(const char *s, size_t n, union endpoint *out)
{
	const char *colon = memchr(s, ':', n);
	uint16_t port;
	struct addr a;
	int rc;

	/* A second colon means an IPv6 address without brackets: ambiguous. */
	if (!colon || memchr(colon + 1, ':', n - (size_t)(colon - s) - 1))
		return -EINVAL;
	rc = parse_addr_span(s, (size_t)(colon - s), &a);
	if (rc < 0)
		return rc;
	rc = parse_port(colon + 1, n - (size_t)(colon - s) - 1, &port);
	if (rc < 0)
		return rc;
	out->in4.sin_family = AF_INET;
	out->in4.sin_port = htons(port);
	memcpy(&out->in4.sin_addr, a.bytes, 4);
	return 0;
}

int endpoint_parse(const char *s, union endpoint *out)
{
	size_t n = strlen(s);
	int rc;

	memset(out, 0, sizeof(*out));
	if (n > 0 && s[0] == '[')
		rc = parse_endpoint6(s, n, out);
	else
		rc = parse_endpoint4(s, n, out);
	if (rc < 0)
		memset(out, 0, sizeof(*out));
	return rc;
}

/* Writes at most ADDR_STRLEN bytes (with the NUL) into tmp; returns the length. */
static int format_v6(const uint8_t b[16], char *tmp)
{
	static const uint8_t mapped[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };
	uint16_t w[8];
	int best = -1, best_len = 0, p = 0;
	bool sep = false;

	if (!memcmp(b, mapped, sizeof(mapped)))
		return snprintf(tmp, ADDR_STRLEN, "::ffff:%u.%u.%u.%u", b[12], b[13], b[14], b[15]);

	for (int i = 0; i < 8; i++)
		w[i] = (uint16_t)(b[2 * i] << 8 | b[2 * i + 1]);
	/* RFC 5952 4.2: shorten the longest run of zero groups, if at least two
	 * long; on a tie the first. */
	for (int i = 0; i < 8;) {
		int j = i;
		while (j < 8 && w[j] == 0)
			j++;
		if (j - i > best_len && j - i >= 2) {
			best = i;
			best_len = j - i;
		}
		i = j > i ? j : i + 1;
	}
	for (int i = 0; i < 8; i++) {
		if (i == best) {
			tmp[p++] = ':';
			tmp[p++] = ':';
			i += best_len - 1;
			sep = false;
			continue;
		}
		if (sep)
			tmp[p++] = ':';
		p += snprintf(tmp + p, (size_t)(ADDR_STRLEN - p), "%x", w[i]);
		sep = true;
	}
	tmp[p] = '\0';
	return p;
}

static int format_addr_tmp(int family, const uint8_t *b, char tmp[ADDR_STRLEN])
{
	if (family == AF_INET)
		return snprintf(tmp, ADDR_STRLEN, "%u.%u.%u.%u", b[0], b[1], b[2], b[3]);
	if (family == AF_INET6)
		return format_v6(b, tmp);
	return -EAFNOSUPPORT;
}

static int emit(const char *tmp, int len, char *buf, size_t cap)
{
	if (len < 0)
		return len;
	if ((size_t)len >= cap) {
		if (cap > 0)
			buf[0] = '\0';
		return -ENOSPC;
	}
	memcpy(buf, tmp, (size_t)len + 1);
	return len;
}

int addr_format(const struct addr *a, char *buf, size_t cap)
{
	char tmp[ADDR_STRLEN];
	return emit(tmp, format_addr_tmp(a->family, a->bytes, tmp), buf, cap);
}

int cidr_format(const struct cidr *c, char *buf, size_t cap)
{
	char a[ADDR_STRLEN], tmp[CIDR_STRLEN];
	int len = format_addr_tmp(c->addr.family, c->addr.bytes, a);
	if (len >= 0)
		len = snprintf(tmp, sizeof(tmp), "%s/%u", a, (unsigned)c->prefix);
	return emit(tmp, len, buf, cap);
}

int endpoint_format(const union endpoint *e, char *buf, size_t cap)
{
	char a[ADDR_STRLEN], tmp[ENDPOINT_STRLEN];
	int len;

	if (e->sa.sa_family == AF_INET) {
		len = format_addr_tmp(AF_INET, (const uint8_t *)&e->in4.sin_addr, a);
		if (len >= 0)
			len = snprintf(tmp, sizeof(tmp), "%s:%u", a, (unsigned)ntohs(e->in4.sin_port));
	} else if (e->sa.sa_family == AF_INET6) {
		len = format_addr_tmp(AF_INET6, (const uint8_t *)&e->in6.sin6_addr, a);
		if (len >= 0 && e->in6.sin6_scope_id)
			len = snprintf(tmp, sizeof(tmp), "[%s%%%u]:%u", a, (unsigned)e->in6.sin6_scope_id,
			               (unsigned)ntohs(e->in6.sin6_port));
		else if (len >= 0)
			len = snprintf(tmp, sizeof(tmp), "[%s]:%u", a, (unsigned)ntohs(e->in6.sin6_port));
	} else {
		len = -EAFNOSUPPORT;
	}
	return emit(tmp, len, buf, cap);
}

bool addr_equal(const struct addr *a, const struct addr *b)
{
	size_t len = family_len(a->family);
	return len && a->family == b->family && !memcmp(a->bytes, b->bytes, len);
}

/* Whether the first prefix bits of x and y agree. */
static bool prefix_equal(const uint8_t *x, const uint8_t *y, unsigned prefix)
{
	size_t whole = prefix / 8;
	unsigned rest = prefix % 8;

	if (memcmp(x, y, whole))
		return false;
	if (!rest)
		return true;
	uint8_t mask = (uint8_t)(0xff00u >> rest);
	return (x[whole] & mask) == (y[whole] & mask);
}

bool cidr_equal(const struct cidr *a, const struct cidr *b)
{
	size_t len = family_len(a->addr.family);
	return len && a->addr.family == b->addr.family && a->prefix == b->prefix &&
	       a->prefix <= len * 8 && prefix_equal(a->addr.bytes, b->addr.bytes, a->prefix);
}

bool cidr_contains(const struct cidr *c, const struct addr *a)
{
	size_t len = family_len(c->addr.family);
	return len && c->addr.family == a->family && c->prefix <= len * 8 &&
	       prefix_equal(c->addr.bytes, a->bytes, c->prefix);
}

bool endpoint_equal(const union endpoint *a, const union endpoint *b)
{
	if (a->sa.sa_family != b->sa.sa_family)
		return false;
	if (a->sa.sa_family == AF_INET)
		return a->in4.sin_port == b->in4.sin_port &&
		       !memcmp(&a->in4.sin_addr, &b->in4.sin_addr, sizeof(a->in4.sin_addr));
	if (a->sa.sa_family == AF_INET6)
		return a->in6.sin6_port == b->in6.sin6_port &&
		       a->in6.sin6_scope_id == b->in6.sin6_scope_id &&
		       !memcmp(&a->in6.sin6_addr, &b->in6.sin6_addr, sizeof(a->in6.sin6_addr));
	return false;
}

int endpoint_from_addr(union endpoint *out, const struct addr *a, uint16_t port)
{
	memset(out, 0, sizeof(*out));
	if (a->family == AF_INET) {
		out->in4.sin_family = AF_INET;
		out->in4.sin_port = htons(port);
		memcpy(&out->in4.sin_addr, a->bytes, 4);
		return 0;
	}
	if (a->family == AF_INET6) {
		out->in6.sin6_family = AF_INET6;
		out->in6.sin6_port = htons(port);
		memcpy(&out->in6.sin6_addr, a->bytes, 16);
		return 0;
	}
	return -EAFNOSUPPORT;
}

int endpoint_from_sockaddr(union endpoint *out, const struct sockaddr *sa, socklen_t len)
{
	memset(out, 0, sizeof(*out));
	if (len < (socklen_t)sizeof(sa->sa_family))
		return -EINVAL;
	if (sa->sa_family == AF_INET) {
		if (len < (socklen_t)sizeof(out->in4))
			return -EINVAL;
		memcpy(&out->in4, sa, sizeof(out->in4));
		return 0;
	}
	if (sa->sa_family == AF_INET6) {
		if (len < (socklen_t)sizeof(out->in6))
			return -EINVAL;
		memcpy(&out->in6, sa, sizeof(out->in6));
		return 0;
	}
	return -EAFNOSUPPORT;
}

int addr_from_endpoint(struct addr *out, const union endpoint *e)
{
	memset(out, 0, sizeof(*out));
	if (e->sa.sa_family == AF_INET) {
		out->family = AF_INET;
		memcpy(out->bytes, &e->in4.sin_addr, 4);
		return 0;
	}
	if (e->sa.sa_family == AF_INET6) {
		out->family = AF_INET6;
		memcpy(out->bytes, &e->in6.sin6_addr, 16);
		return 0;
	}
	return -EAFNOSUPPORT;
}

uint16_t endpoint_port(const union endpoint *e)
{
	if (e->sa.sa_family == AF_INET)
		return ntohs(e->in4.sin_port);
	if (e->sa.sa_family == AF_INET6)
		return ntohs(e->in6.sin6_port);
	return 0;
}

socklen_t endpoint_len(const union endpoint *e)
{
	if (e->sa.sa_family == AF_INET)
		return sizeof(e->in4);
	if (e->sa.sa_family == AF_INET6)
		return sizeof(e->in6);
	return 0;
}
