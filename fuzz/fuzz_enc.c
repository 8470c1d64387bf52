/* Fuzz target for lib/enc. The input is used twice:
 *  - as text (cut at its first NUL) for the hex, base64 and key decoders,
 *    which must accept exactly what libsodium's strict decoders accept (for
 *    base64, on ASCII input; see check_base64_text), give the same bytes, zero their output on failure, and re-encode what they
 *    accepted to the same text (modulo hex case): one encoding per value;
 *  - as raw bytes, which must encode as libsodium encodes them and decode
 *    back to themselves.
 * Any disagreement aborts. */
#include <errno.h>
#include <sodium.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "lib/enc.h"
#include "lib/mem.h"

#define FUZZ_MAX_INPUT 4096

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);

static void check(bool ok)
{
	if (!ok)
		abort();
}

static bool all_zero(const uint8_t *p, size_t n)
{
	uint8_t acc = 0;
	for (size_t i = 0; i < n; i++)
		acc |= p[i];
	return acc == 0;
}

static bool is_ascii(const char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s >= 0x80)
			return false;
	return true;
}

static char lower(char c)
{
	return c >= 'A' && c <= 'Z' ? (char)(c - 'A' + 'a') : c;
}

/* out/ref/text are scratch buffers with room for either encoding of s. */
static void check_hex_text(const char *s, uint8_t *out, uint8_t *ref, char *text)
{
	size_t slen = strlen(s), len = slen / 2, reflen = 0;
	int rc;

	memset(out, 0xa5, len);
	rc = enc_hex_decode(out, len, s);
	bool ref_ok = sodium_hex2bin(ref, len, s, slen, NULL, &reflen, NULL) == 0;
	check((rc == 0) == ref_ok);
	if (rc < 0) {
		check(rc == -EINVAL && all_zero(out, len));
		return;
	}
	check(reflen == len && !memcmp(out, ref, len));
	check(enc_hex_encode(text, ENC_HEX_LEN(len), out, len) == 0);
	for (size_t i = 0; i < slen; i++)
		check(text[i] == lower(s[i]));
	check(text[slen] == '\0');
}

static void check_base64_text(const char *s, uint8_t *out, uint8_t *ref, char *text)
{
	size_t slen = strlen(s), cap = slen / 4 * 3, n = 1, reflen = 0;
	int rc;

	memset(out, 0xa5, cap);
	rc = enc_base64_decode(out, cap, s, &n);
	bool ref_ok = sodium_base642bin(ref, cap, s, slen, NULL, &reflen, NULL,
	                                sodium_base64_VARIANT_ORIGINAL) == 0;
	/* libsodium 1.0.18 (Debian 12) decodes any byte >= 0x80 as '/', so it is
	 * no oracle for such input; nothing outside ASCII is in the alphabet. */
	if (!is_ascii(s))
		ref_ok = false;
	check((rc == 0) == ref_ok);
	if (rc < 0) {
		check(rc == -EINVAL && n == 0 && all_zero(out, cap));
		return;
	}
	check(n == reflen && !memcmp(out, ref, n));
	check(enc_base64_encode(text, ENC_BASE64_LEN(n), out, n) == 0 && !strcmp(text, s));
	/* One byte short of room: refused, and nothing left behind. */
	if (n > 0) {
		size_t short_cap = n - 1;
		memset(out, 0xa5, n);
		check(enc_base64_decode(out, short_cap, s, &n) == -ENOSPC && n == 0);
		check(all_zero(out, short_cap) && out[short_cap] == 0xa5);
	}
}

static void check_key_text(const char *s)
{
	uint8_t key[ENC_KEY_LEN];
	char b64[ENC_KEY_BASE64_LEN], hex[ENC_KEY_HEX_LEN];

	memset(key, 0xa5, sizeof(key));
	if (enc_key_from_base64(key, s) == 0) {
		enc_key_to_base64(b64, key);
		check(!strcmp(b64, s));
	} else {
		check(all_zero(key, sizeof(key)));
	}
	memset(key, 0xa5, sizeof(key));
	if (enc_key_from_hex(key, s) == 0) {
		enc_key_to_hex(hex, key);
		check(strlen(s) == 64 && !strncasecmp(hex, s, 64));
	} else {
		check(all_zero(key, sizeof(key)));
	}
}

static void check_raw(const uint8_t *data, size_t size, uint8_t *out, char *text, char *ref)
{
	size_t n = 0;

	check(enc_hex_encode(text, ENC_HEX_LEN(size), data, size) == 0);
	sodium_bin2hex(ref, ENC_HEX_LEN(size), data, size);
	check(!strcmp(text, ref));
	check(enc_hex_decode(out, size, text) == 0 && !memcmp(out, data, size));

	check(enc_base64_encode(text, ENC_BASE64_LEN(size), data, size) == 0);
	sodium_bin2base64(ref, ENC_BASE64_LEN(size), data, size, sodium_base64_VARIANT_ORIGINAL);
	check(!strcmp(text, ref));
	check(enc_base64_decode(out, size, text, &n) == 0 && n == size && !memcmp(out, data, size));

	if (size >= ENC_KEY_LEN) {
		uint8_t key[ENC_KEY_LEN];
		char b64[ENC_KEY_BASE64_LEN], hex[ENC_KEY_HEX_LEN];
		enc_key_to_base64(b64, data);
		check(enc_key_from_base64(key, b64) == 0 && !memcmp(key, data, ENC_KEY_LEN));
		enc_key_to_hex(hex, data);
		check(enc_key_from_hex(key, hex) == 0 && !memcmp(key, data, ENC_KEY_LEN));
	}
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	if (sodium_init() < 0)
		abort();
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	/* Room for either encoding of size bytes, and so for any decoding. */
	const size_t scratch = ENC_BASE64_LEN(size) + ENC_HEX_LEN(size);
	char *s = NULL, *text = NULL, *reftext = NULL;
	uint8_t *out = NULL, *ref = NULL;

	if (size > FUZZ_MAX_INPUT)
		return 0;
	s = mem_alloc(size + 1);
	text = mem_alloc(scratch);
	reftext = mem_alloc(scratch);
	out = mem_alloc(scratch);
	ref = mem_alloc(scratch);
	if (!s || !text || !reftext || !out || !ref)
		goto out;
	memcpy(s, data, size);
	s[size] = '\0';
	check_hex_text(s, out, ref, text);
	check_base64_text(s, out, ref, text);
	check_key_text(s);
	check_raw(data, size, out, text, reftext);
out:
	mem_free(s);
	mem_free(text);
	mem_free(reftext);
	mem_free(out);
	mem_free(ref);
	return 0;
}
