#include "rpc/frame.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>


_Static_assert(RPC_FRAME_MAX_LIMIT <= UINT32_MAX, "a message length fits the 32-bit prefix");
_Static_assert(RPC_FRAME_DEFAULT_MAX <= RPC_FRAME_MAX_LIMIT, "default within the hard limit");

void rpc_frame_prefix(uint8_t out[RPC_FRAME_HDR_LEN], uint32_t len)
{
	out[0] = 0;
	out[1] = (uint8_t)(len >> 24);
	out[2] = (uint8_t)(len >> 16);
	out[3] = (uint8_t)(len >> 8);
	out[4] = (uint8_t)len;
}

/* Checks a complete prefix; sets *len to the declared message length. */
static int check_prefix(const uint8_t hdr[RPC_FRAME_HDR_LEN], size_t max, uint32_t *len)
{
	*len = (uint32_t)hdr[1] << 24 | (uint32_t)hdr[2] << 16 | (uint32_t)hdr[3] << 8 | hdr[4];
	if (hdr[0] & ~RPC_FRAME_FLAG_COMPRESSED)
		return ERR_PROTO;
	if (hdr[0] & RPC_FRAME_FLAG_COMPRESSED)
		return -EOPNOTSUPP;
	if (*len > max)
		return ERR_TOOBIG;
	return 0;
}

void rpc_frame_scanner_init(struct rpc_frame_scanner *s, size_t max)
{
	memset(s, 0, sizeof(*s));
	s->max = max < RPC_FRAME_MAX_LIMIT ? max : RPC_FRAME_MAX_LIMIT;
}

int rpc_frame_scan(struct rpc_frame_scanner *s, const uint8_t *data, size_t len)
{
	size_t i = 0;
	int count = 0;

	if (s->error)
		return s->error;
	while (i < len) {
		if (s->in_payload) {
			size_t take = len - i < s->remaining ? len - i : s->remaining;
			s->remaining -= (uint32_t)take;
			i += take;
			if (s->remaining)
				break;
			s->in_payload = false;
			s->messages++;
			if (count < INT_MAX)
				count++;
			continue;
		}
		s->hdr[s->hdr_have++] = data[i++];
		if (s->hdr_have < RPC_FRAME_HDR_LEN)
			continue;
		s->hdr_have = 0;
		uint32_t mlen;
		int rc = check_prefix(s->hdr, s->max, &mlen);
		if (rc < 0) {
			s->error = rc;
			return rc;
		}
		if (mlen) {
			s->in_payload = true;
			s->remaining = mlen;
		} else {
			s->messages++;
			if (count < INT_MAX)
				count++;
		}
	}
	return count;
}

bool rpc_frame_scanner_idle(const struct rpc_frame_scanner *s)
{
	return !s->in_payload && s->hdr_have == 0;
}

int rpc_frame_next(const uint8_t *p, size_t len, size_t max, const uint8_t **msg, size_t *msg_len,
                   size_t *used)
{
	uint32_t mlen;
	int rc;

	*msg = NULL;
	*msg_len = 0;
	*used = 0;
	if (len < RPC_FRAME_HDR_LEN)
		return 0;
	rc = check_prefix(p, max < RPC_FRAME_MAX_LIMIT ? max : RPC_FRAME_MAX_LIMIT, &mlen);
	if (rc < 0)
		return rc;
	if (len - RPC_FRAME_HDR_LEN < mlen)
		return 0;
	*msg = p + RPC_FRAME_HDR_LEN;
	*msg_len = mlen;
	*used = RPC_FRAME_HDR_LEN + (size_t)mlen;
	return 1;
}

int rpc_frame_timeout_parse(const char *s, size_t len, uint64_t *ms)
{
	uint64_t v = 0;

	*ms = 0;
	if (len < 2 || len > RPC_TIMEOUT_MAX_DIGITS + 1)
		return ERR_PARSE;
	for (size_t i = 0; i + 1 < len; i++) {
		if (s[i] < '0' || s[i] > '9')
			return ERR_PARSE;
		v = v * 10 + (uint64_t)(s[i] - '0');
	}
	/* At most 99999999 of any unit: even hours fit 64 bits in ms (3.6e14). */
	switch (s[len - 1]) {
	case 'H': *ms = v * 3600000; break;
	case 'M': *ms = v * 60000; break;
	case 'S': *ms = v * 1000; break;
	case 'm': *ms = v; break;
	case 'u': *ms = (v + 999) / 1000; break;
	case 'n': *ms = (v + 999999) / 1000000; break;
	default: return ERR_PARSE;
	}
	return 0;
}

void rpc_frame_timeout_format(uint64_t ms, char out[RPC_TIMEOUT_STRLEN])
{
	static const struct { uint64_t div; char unit; } units[] = {
		{ 1, 'm' }, { 1000, 'S' }, { 60000, 'M' }, { 3600000, 'H' },
	};
	const uint64_t most = 99999999;
	uint64_t v = most;
	char unit = 'H';

	for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
		uint64_t q = ms / units[i].div + (ms % units[i].div != 0);
		if (q <= most) {
			v = q;
			unit = units[i].unit;
			break;
		}
	}
	snprintf(out, RPC_TIMEOUT_STRLEN, "%llu%c", (unsigned long long)v, unit);
}

int rpc_frame_status_parse(const char *s, size_t len, int *code)
{
	int v = 0;

	*code = 0;
	/* Ten digits would not fit an int; no real status needs more than two. */
	if (len == 0 || len > 9)
		return ERR_PARSE;
	for (size_t i = 0; i < len; i++) {
		if (s[i] < '0' || s[i] > '9')
			return ERR_PARSE;
		v = v * 10 + (s[i] - '0');
	}
	*code = v;
	return 0;
}

static bool pct_plain(unsigned char c)
{
	return c >= 0x20 && c <= 0x7e && c != '%';
}

int rpc_frame_pct_encode(char *out, size_t cap, const char *s, size_t len)
{
	static const char hex[] = "0123456789ABCDEF";
	size_t n = 0;

	for (size_t i = 0; i < len; i++)
		n += pct_plain((unsigned char)s[i]) ? 1 : 3;
	if (n >= cap || n > INT_MAX) {
		if (cap)
			out[0] = '\0';
		return -ENOSPC;
	}
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];
		if (pct_plain(c)) {
			*out++ = (char)c;
		} else {
			*out++ = '%';
			*out++ = hex[c >> 4];
			*out++ = hex[c & 15];
		}
	}
	*out = '\0';
	return (int)n;
}

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

size_t rpc_frame_pct_decode(char *out, size_t cap, const char *s, size_t len)
{
	size_t n = 0;

	if (cap == 0)
		return 0;
	for (size_t i = 0; i < len && n + 1 < cap; i++) {
		int hi, lo;
		if (s[i] == '%' && i + 2 < len && (hi = hexval(s[i + 1])) >= 0 && (lo = hexval(s[i + 2])) >= 0) {
			out[n++] = (char)(hi << 4 | lo);
			i += 2;
		} else {
			out[n++] = s[i];
		}
	}
	out[n] = '\0';
	return n;
}

bool rpc_frame_content_type_is_grpc(const char *v, size_t len)
{
	static const char base[] = "application/grpc";
	const size_t blen = sizeof(base) - 1;

	return len >= blen && !strncasecmp(v, base, blen);
}

bool rpc_frame_content_type_ok(const char *v, size_t len)
{
	static const char base[] = "application/grpc", proto[] = "+proto";
	const size_t blen = sizeof(base) - 1, plen = sizeof(proto) - 1;

	if (!rpc_frame_content_type_is_grpc(v, len))
		return false;
	v += blen;
	len -= blen;
	if (len >= plen && !strncasecmp(v, proto, plen)) {
		v += plen;
		len -= plen;
	}
	return len == 0 || v[0] == ';';
}

static bool ident_char(char c, bool dot_ok)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
	       (dot_ok && c == '.');
}

bool rpc_frame_path_ok(const char *p, size_t len)
{
	size_t i = 1, svc = 0, method = 0;

	if (len < 4 || len >= RPC_PATH_MAX || p[0] != '/')
		return false;
	for (; i < len && p[i] != '/'; i++, svc++)
		if (!ident_char(p[i], true))
			return false;
	if (i == len || svc == 0)
		return false;
	for (i++; i < len; i++, method++)
		if (!ident_char(p[i], false))
			return false;
	return method > 0;
}
