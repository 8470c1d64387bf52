#include "support.h"

#include <errno.h>
#include <sodium.h>
#include <stdbool.h>
#include <string.h>

#include "lib/enc.h"

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

static const struct { const char *raw, *b64, *hex; } rfc4648[] = {
	{ "", "", "" },
	{ "f", "Zg==", "66" },
	{ "fo", "Zm8=", "666f" },
	{ "foo", "Zm9v", "666f6f" },
	{ "foob", "Zm9vYg==", "666f6f62" },
	{ "fooba", "Zm9vYmE=", "666f6f6261" },
	{ "foobar", "Zm9vYmFy", "666f6f626172" },
};

static void assert_all_zero(const uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		assert_int_equal(p[i], 0);
}

static bool is_hex_digit(int c)
{
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

static int b64_index(int c)
{
	static const char alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	const char *p = c ? strchr(alphabet, c) : NULL;
	return p ? (int)(p - alphabet) : -1;
}

static void hex_encoding_matches_the_rfc_4648_vectors_in_lower_case(void **state)
{
	for (size_t i = 0; i < ARRAY_SIZE(rfc4648); i++) {
		const char *raw = rfc4648[i].raw;
		char out[32];
		assert_int_equal(enc_hex_encode(out, sizeof(out), (const uint8_t *)raw, strlen(raw)), 0);
		assert_string_equal(out, rfc4648[i].hex);
	}
}

static void hex_decoding_accepts_either_case(void **state)
{
	uint8_t out[6];

	assert_int_equal(enc_hex_decode(out, 6, "666F6F626172"), 0);
	assert_memory_equal(out, "foobar", 6);
	assert_int_equal(enc_hex_decode(out, 3, "aBcDeF"), 0);
	assert_memory_equal(out, "\xab\xcd\xef", 3);
	assert_int_equal(enc_hex_decode(out, 0, ""), 0);
}

static void hex_decoding_wants_exactly_twice_len_digits(void **state)
{
	uint8_t out[4];

	memset(out, 0xaa, sizeof(out));
	assert_int_equal(enc_hex_decode(out, 4, "0011223"), -EINVAL);
	assert_all_zero(out, sizeof(out));
	assert_int_equal(enc_hex_decode(out, 4, "001122334"), -EINVAL);
	assert_int_equal(enc_hex_decode(out, 4, "0011223344"), -EINVAL);
	assert_int_equal(enc_hex_decode(out, 4, ""), -EINVAL);
	assert_int_equal(enc_hex_decode(out, 0, "00"), -EINVAL);
	assert_int_equal(enc_hex_decode(out, 4, "00112233"), 0);
}

static void every_character_outside_the_hex_digits_is_rejected(void **state)
{
	for (int c = 1; c < 256; c++) {
		char in[] = "a0b1";
		uint8_t out[2] = { 0xaa, 0xaa };
		in[3] = (char)c;
		int rc = enc_hex_decode(out, 2, in);
		if ((rc == 0) != is_hex_digit(c))
			fail_msg("character 0x%02x gave %d", c, rc);
		if (rc == 0) {
			int v = c <= '9' ? c - '0' : (c | 0x20) - 'a' + 10;
			assert_int_equal(out[0], 0xa0);
			assert_int_equal(out[1], 0xb0 | v);
		} else {
			assert_all_zero(out, sizeof(out));
		}
	}
}

static void hex_encoding_into_a_short_buffer_is_enospc(void **state)
{
	char out[8];

	memset(out, 'x', sizeof(out));
	assert_int_equal(enc_hex_encode(out, 6, (const uint8_t *)"abc", 3), -ENOSPC);
	assert_string_equal(out, "");
	assert_int_equal(enc_hex_encode(out, 0, (const uint8_t *)"abc", 3), -ENOSPC);
	assert_int_equal(enc_hex_encode(out, ENC_HEX_LEN(3), (const uint8_t *)"abc", 3), 0);
	assert_string_equal(out, "616263");
}

static void base64_matches_the_rfc_4648_vectors(void **state)
{
	for (size_t i = 0; i < ARRAY_SIZE(rfc4648); i++) {
		const char *raw = rfc4648[i].raw;
		char out[32];
		uint8_t back[16];
		size_t n = 99;
		assert_int_equal(enc_base64_encode(out, sizeof(out), (const uint8_t *)raw, strlen(raw)), 0);
		assert_string_equal(out, rfc4648[i].b64);
		assert_int_equal(strlen(out) + 1, ENC_BASE64_LEN(strlen(raw)));
		assert_int_equal(enc_base64_decode(back, sizeof(back), rfc4648[i].b64, &n), 0);
		assert_int_equal(n, strlen(raw));
		assert_memory_equal(back, raw, n);
	}
}

static void base64_encoding_into_a_short_buffer_is_enospc(void **state)
{
	char out[16];

	memset(out, 'x', sizeof(out));
	assert_int_equal(enc_base64_encode(out, 8, (const uint8_t *)"foob", 4), -ENOSPC);
	assert_string_equal(out, "");
	assert_int_equal(enc_base64_encode(out, 0, (const uint8_t *)"", 0), -ENOSPC);
	assert_int_equal(enc_base64_encode(out, 1, (const uint8_t *)"", 0), 0);
	assert_string_equal(out, "");
	assert_int_equal(enc_base64_encode(out, 9, (const uint8_t *)"foob", 4), 0);
	assert_string_equal(out, "Zm9vYg==");
}

static void base64_decoding_rejects_wrong_length_bad_characters_and_misplaced_padding(void **state)
{
	static const char *const bad[] = {
		"Zg", "Zg=", "Zm9", "Zm9vY", "Z===", "====", "Zm9v=", "Zm=v", "Z=9v", "=m9v",
		"Zg==Zg==", "Zm9v====", "Zm9v\n", " Zm9v", "Zm9v ", "Zm-_", "Zm9v\xc3\xa9==",
		"Zm9vYmFy=", "Zm9vYmF=y",
	};
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		uint8_t out[16];
		size_t n = 99;
		memset(out, 0xaa, sizeof(out));
		int rc = enc_base64_decode(out, sizeof(out), bad[i], &n);
		if (rc != -EINVAL)
			fail_msg("\"%s\" gave %d, expected -EINVAL", bad[i], rc);
		assert_int_equal(n, 0);
		assert_all_zero(out, sizeof(out));
	}
}

static void base64_with_nonzero_unused_bits_is_rejected(void **state)
{
	/* "Zg==" and "Zm8=" are the canonical spellings; these differ from them
	 * only in bits that the padding says are unused. */
	static const char *const bad[] = { "Zh==", "Zv==", "Zm9=", "Zm+=", "Zm9vYh==", "Zm9vYmF=" };
	uint8_t out[8];
	size_t n;

	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		int rc = enc_base64_decode(out, sizeof(out), bad[i], &n);
		if (rc != -EINVAL)
			fail_msg("\"%s\" gave %d, expected -EINVAL", bad[i], rc);
	}
	assert_int_equal(enc_base64_decode(out, sizeof(out), "Zg==", &n), 0);
	assert_int_equal(enc_base64_decode(out, sizeof(out), "Zm8=", &n), 0);
}

static void every_base64_character_decodes_to_its_alphabet_index(void **state)
{
	for (int c = 1; c < 256; c++) {
		char in[] = "?AAA";
		uint8_t out[3];
		size_t n;
		in[0] = (char)c;
		int rc = enc_base64_decode(out, sizeof(out), in, &n);
		int idx = b64_index(c);
		if ((rc == 0) != (idx >= 0))
			fail_msg("character 0x%02x gave %d", c, rc);
		if (rc == 0) {
			assert_int_equal(n, 3);
			assert_int_equal(out[0], idx << 2);
		}
	}
}

static void base64_decoding_into_a_short_buffer_is_enospc_and_zeroes_it(void **state)
{
	uint8_t out[5];
	size_t n = 99;

	memset(out, 0xaa, sizeof(out));
	assert_int_equal(enc_base64_decode(out, 5, "Zm9vYmFy", &n), -ENOSPC);
	assert_int_equal(n, 0);
	assert_all_zero(out, sizeof(out));
	assert_int_equal(enc_base64_decode(out, 5, "Zm9vYmE=", &n), 0);
	assert_int_equal(n, 5);
	assert_int_equal(enc_base64_decode(NULL, 0, "", &n), 0);
	assert_int_equal(n, 0);
}

static void random_data_of_every_small_length_round_trips(void **state)
{
	uint8_t raw[100], back[100];
	char text[ENC_BASE64_LEN(100) > ENC_HEX_LEN(100) ? ENC_BASE64_LEN(100) : ENC_HEX_LEN(100)];

	for (size_t len = 0; len <= sizeof(raw); len++) {
		size_t n;
		randombytes_buf(raw, len);
		assert_int_equal(enc_base64_encode(text, ENC_BASE64_LEN(len), raw, len), 0);
		assert_int_equal(strlen(text) + 1, ENC_BASE64_LEN(len));
		assert_int_equal(enc_base64_decode(back, len, text, &n), 0);
		assert_int_equal(n, len);
		assert_memory_equal(back, raw, len);
		assert_int_equal(enc_hex_encode(text, ENC_HEX_LEN(len), raw, len), 0);
		assert_int_equal(enc_hex_decode(back, len, text), 0);
		assert_memory_equal(back, raw, len);
	}
}

static void keys_print_as_wg_prints_them_and_parse_back(void **state)
{
	uint8_t key[ENC_KEY_LEN], back[ENC_KEY_LEN];
	char b64[ENC_KEY_BASE64_LEN], hex[ENC_KEY_HEX_LEN];

	for (int i = 0; i < ENC_KEY_LEN; i++)
		key[i] = (uint8_t)(255 - i);
	enc_key_to_base64(b64, key);
	assert_string_equal(b64, "//79/Pv6+fj39vX08/Lx8O/u7ezr6uno5+bl5OPi4eA=");
	enc_key_to_hex(hex, key);
	assert_string_equal(hex, "fffefdfcfbfaf9f8f7f6f5f4f3f2f1f0efeeedecebeae9e8e7e6e5e4e3e2e1e0");
	assert_int_equal(enc_key_from_base64(back, b64), 0);
	assert_memory_equal(back, key, sizeof(key));
	memset(back, 0, sizeof(back));
	assert_int_equal(enc_key_from_hex(back, hex), 0);
	assert_memory_equal(back, key, sizeof(key));
	assert_int_equal(enc_key_from_base64(back, "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8="), 0);
	for (int i = 0; i < ENC_KEY_LEN; i++)
		assert_int_equal(back[i], i);
}

static void a_key_that_fails_to_decode_leaves_no_partial_bytes(void **state)
{
	static const char *const bad_b64[] = {
		"AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8",       /* 43 */
		"AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8==",     /* 45 */
		"AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHg==",      /* 31 bytes */
		"AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8A",      /* 33 bytes */
		"AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh9=",      /* unused bits */
		"AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh*=",      /* last char */
		"AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=\n",
		"",
	};
	static const char *const bad_hex[] = {
		"000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1",
		"000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f0",
		"000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1g",
	};
	uint8_t key[ENC_KEY_LEN];

	for (size_t i = 0; i < ARRAY_SIZE(bad_b64); i++) {
		memset(key, 0xaa, sizeof(key));
		if (enc_key_from_base64(key, bad_b64[i]) != -EINVAL)
			fail_msg("\"%s\" was accepted", bad_b64[i]);
		assert_all_zero(key, sizeof(key));
	}
	for (size_t i = 0; i < ARRAY_SIZE(bad_hex); i++) {
		memset(key, 0xaa, sizeof(key));
		if (enc_key_from_hex(key, bad_hex[i]) != -EINVAL)
			fail_msg("\"%s\" was accepted", bad_hex[i]);
		assert_all_zero(key, sizeof(key));
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(hex_encoding_matches_the_rfc_4648_vectors_in_lower_case),
		cmocka_unit_test(hex_decoding_accepts_either_case),
		cmocka_unit_test(hex_decoding_wants_exactly_twice_len_digits),
		cmocka_unit_test(every_character_outside_the_hex_digits_is_rejected),
		cmocka_unit_test(hex_encoding_into_a_short_buffer_is_enospc),
		cmocka_unit_test(base64_matches_the_rfc_4648_vectors),
		cmocka_unit_test(base64_encoding_into_a_short_buffer_is_enospc),
		cmocka_unit_test(base64_decoding_rejects_wrong_length_bad_characters_and_misplaced_padding),
		cmocka_unit_test(base64_with_nonzero_unused_bits_is_rejected),
		cmocka_unit_test(every_base64_character_decodes_to_its_alphabet_index),
		cmocka_unit_test(base64_decoding_into_a_short_buffer_is_enospc_and_zeroes_it),
		cmocka_unit_test(random_data_of_every_small_length_round_trips),
		cmocka_unit_test(keys_print_as_wg_prints_them_and_parse_back),
		cmocka_unit_test(a_key_that_fails_to_decode_leaves_no_partial_bytes),
	};
	if (sodium_init() < 0)
		return 1;
	return run_group(tests);
}
