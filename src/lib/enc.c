#include "lib/enc.h"

#include <errno.h>
#include <sodium.h>
#include <string.h>

/* All-ones if lo <= x <= hi, else zero, for x, lo, hi below 2^31. Each
 * subtraction wraps, setting bit 31, exactly when x is on the wrong side of
 * a bound; no comparison, so no branch for the compiler to emit. */
static inline uint32_t in_range(uint32_t x, uint32_t lo, uint32_t hi)
{
	return (((x - lo) | (hi - x)) >> 31) - 1u;
}

/* 0..15 to '0'..'9', 'a'..'f'. */
static inline char hex_char(uint32_t v)
{
	return (char)(v + '0' + (in_range(v, 10, 15) & ('a' - '0' - 10)));
}

/* Hex digit to 0..15; ORs all-ones into *bad if c is not one. Upper-case
 * letters are folded by setting bit 5, which maps no other character into
 * 'a'..'f'; digits are tested on c itself because folding would let some
 * control characters pass as '0'..'9'. */
static inline uint32_t hex_value(uint32_t c, uint32_t *bad)
{
	uint32_t folded = c | 0x20;
	uint32_t digit = in_range(c, '0', '9');
	uint32_t letter = in_range(folded, 'a', 'f');

	*bad |= ~(digit | letter);
	return (digit & (c - '0')) | (letter & (folded - 'a' + 10));
}

/* 0..63 to the RFC 4648 section 4 alphabet. */
static inline char b64_char(uint32_t v)
{
	return (char)((in_range(v, 0, 25) & (v + 'A')) |
	              (in_range(v, 26, 51) & (v - 26 + 'a')) |
	              (in_range(v, 52, 61) & (v - 52 + '0')) |
	              (in_range(v, 62, 62) & '+') |
	              (in_range(v, 63, 63) & '/'));
}

/* Alphabet character to 0..63; ORs all-ones into *bad otherwise ('=' too). */
static inline uint32_t b64_value(uint32_t c, uint32_t *bad)
{
	uint32_t upper = in_range(c, 'A', 'Z');
	uint32_t lower = in_range(c, 'a', 'z');
	uint32_t digit = in_range(c, '0', '9');
	uint32_t plus = in_range(c, '+', '+');
	uint32_t slash = in_range(c, '/', '/');

	*bad |= ~(upper | lower | digit | plus | slash);
	return (upper & (c - 'A')) | (lower & (c - 'a' + 26)) | (digit & (c - '0' + 52)) |
	       (plus & 62) | (slash & 63);
}

static inline uint32_t at(const char *s, size_t i)
{
	return (unsigned char)s[i];
}

/* dst has room for 2 * len + 1 bytes. */
static void hex_encode(char *dst, const uint8_t *src, size_t len)
{
	for (size_t i = 0; i < len; i++) {
		dst[2 * i] = hex_char(src[i] >> 4);
		dst[2 * i + 1] = hex_char(src[i] & 15u);
	}
	dst[2 * len] = '\0';
}

int enc_hex_encode(char *dst, size_t dstcap, const uint8_t *src, size_t len)
{
	if (dstcap == 0 || len > (dstcap - 1) / 2) {
		if (dstcap > 0)
			dst[0] = '\0';
		return -ENOSPC;
	}
	hex_encode(dst, src, len);
	return 0;
}

int enc_hex_decode(uint8_t *dst, size_t len, const char *src)
{
	uint32_t bad = 0;

	if (len > (SIZE_MAX - 1) / 2 || strnlen(src, 2 * len + 1) != 2 * len) {
		sodium_memzero(dst, len);
		return -EINVAL;
	}
	for (size_t i = 0; i < len; i++) {
		uint32_t hi = hex_value(at(src, 2 * i), &bad);
		uint32_t lo = hex_value(at(src, 2 * i + 1), &bad);
		dst[i] = (uint8_t)(hi << 4 | lo);
	}
	if (bad) {
		sodium_memzero(dst, len);
		return -EINVAL;
	}
	return 0;
}

/* dst has room for ENC_BASE64_LEN(len) bytes. */
static void base64_encode(char *dst, const uint8_t *src, size_t len)
{
	size_t o = 0, i = 0;

	for (; i + 3 <= len; i += 3) {
		uint32_t v = (uint32_t)src[i] << 16 | (uint32_t)src[i + 1] << 8 | src[i + 2];
		dst[o++] = b64_char(v >> 18);
		dst[o++] = b64_char(v >> 12 & 63);
		dst[o++] = b64_char(v >> 6 & 63);
		dst[o++] = b64_char(v & 63);
	}
	if (len - i == 1) {
		uint32_t v = (uint32_t)src[i] << 16;
		dst[o++] = b64_char(v >> 18);
		dst[o++] = b64_char(v >> 12 & 63);
		dst[o++] = '=';
		dst[o++] = '=';
	} else if (len - i == 2) {
		uint32_t v = (uint32_t)src[i] << 16 | (uint32_t)src[i + 1] << 8;
		dst[o++] = b64_char(v >> 18);
		dst[o++] = b64_char(v >> 12 & 63);
		dst[o++] = b64_char(v >> 6 & 63);
		dst[o++] = '=';
	}
	dst[o] = '\0';
}

int enc_base64_encode(char *dst, size_t dstcap, const uint8_t *src, size_t len)
{
	size_t groups = len / 3 + (len % 3 != 0);

	if (dstcap == 0 || groups > (dstcap - 1) / 4) {
		if (dstcap > 0)
			dst[0] = '\0';
		return -ENOSPC;
	}
	base64_encode(dst, src, len);
	return 0;
}

int enc_base64_decode(uint8_t *dst, size_t dstcap, const char *src, size_t *outlen)
{
	size_t n = strlen(src), pad = 0, need, o = 0;
	uint32_t bad = 0;
	int rc = -EINVAL;

	*outlen = 0;
	if (n % 4)
		goto fail;
	if (n == 0)
		return 0;
	pad = (src[n - 1] == '=') + (src[n - 1] == '=' && src[n - 2] == '=');
	need = n / 4 * 3 - pad;
	if (need > dstcap) {
		rc = -ENOSPC;
		goto fail;
	}
	for (size_t i = 0; i < n; i += 4) {
		uint32_t a = b64_value(at(src, i), &bad);
		uint32_t b = b64_value(at(src, i + 1), &bad);
		if (i + 4 < n || pad == 0) {
			uint32_t c = b64_value(at(src, i + 2), &bad);
			uint32_t d = b64_value(at(src, i + 3), &bad);
			uint32_t v = a << 18 | b << 12 | c << 6 | d;
			dst[o++] = (uint8_t)(v >> 16);
			dst[o++] = (uint8_t)(v >> 8);
			dst[o++] = (uint8_t)v;
		} else if (pad == 1) {
			uint32_t c = b64_value(at(src, i + 2), &bad);
			uint32_t v = a << 18 | b << 12 | c << 6;
			dst[o++] = (uint8_t)(v >> 16);
			dst[o++] = (uint8_t)(v >> 8);
			/* The last two bits of c are not part of the data: they
			 * must be zero so the encoding is canonical. */
			bad |= 0u - (c & 3);
		} else {
			uint32_t v = a << 18 | b << 12;
			dst[o++] = (uint8_t)(v >> 16);
			bad |= 0u - (b & 15);
		}
	}
	if (bad)
		goto fail;
	*outlen = need;
	return 0;
fail:
	sodium_memzero(dst, dstcap);
	return rc;
}

void enc_key_to_base64(char out[ENC_KEY_BASE64_LEN], const uint8_t key[ENC_KEY_LEN])
{
	base64_encode(out, key, ENC_KEY_LEN);
}

int enc_key_from_base64(uint8_t key[ENC_KEY_LEN], const char *s)
{
	size_t len = 0;

	if (strnlen(s, ENC_KEY_BASE64_LEN) != ENC_KEY_BASE64_LEN - 1 ||
	    enc_base64_decode(key, ENC_KEY_LEN, s, &len) < 0 || len != ENC_KEY_LEN) {
		sodium_memzero(key, ENC_KEY_LEN);
		return -EINVAL;
	}
	return 0;
}

void enc_key_to_hex(char out[ENC_KEY_HEX_LEN], const uint8_t key[ENC_KEY_LEN])
{
	hex_encode(out, key, ENC_KEY_LEN);
}

int enc_key_from_hex(uint8_t key[ENC_KEY_LEN], const char *s)
{
	return enc_hex_decode(key, ENC_KEY_LEN, s);
}
