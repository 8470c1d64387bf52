#include "support.h"

#include <string.h>

#include "awg/blake2s.h"

static void check_hash(const uint8_t *got, size_t len, const char *hex)
{
	uint8_t want[BLAKE2S_HASH_LEN];

	assert_true(len <= sizeof(want));
	support_unhex(hex, want, len);
	assert_memory_equal(got, want, len);
}

static void fill(uint8_t *buf, size_t len, unsigned mul, unsigned add)
{
	for (size_t i = 0; i < len; i++)
		buf[i] = (uint8_t)(mul * i + add);
}

static void the_rfc_7693_abc_vector_matches(void **state)
{
	uint8_t out[32];

	blake2s(out, 32, NULL, 0, (const uint8_t *)"abc", 3);
	check_hash(out, 32, "508c5e8c327c14e2e1a72ba34eeb452f37458b209ed63a294d999b4c86675982");
}

static void the_empty_input_hashes_to_the_published_value(void **state)
{
	uint8_t out[32];

	blake2s(out, 32, NULL, 0, NULL, 0);
	check_hash(out, 32, "69217a3079908094e11121d042354a7c1f55b6482ca1a51e1b250dfd1ed0eef9");
}

/* RFC 7693 Appendix E: the input generator is a Fibonacci-like sequence
 * seeded by the length; every digest (unkeyed and keyed, four output lengths,
 * six input lengths) is fed into one running BLAKE2s-256. */
static void selftest_sequence(uint8_t *out, size_t len, uint32_t seed)
{
	uint32_t a = 0xdead4badU * seed, b = 1;

	for (size_t i = 0; i < len; i++) {
		uint32_t t = a + b;
		a = b;
		b = t;
		out[i] = (uint8_t)(t >> 24);
	}
}

static void the_rfc_7693_appendix_e_self_test_ends_in_the_published_hash(void **state)
{
	static const size_t out_lens[] = { 16, 20, 28, 32 };
	static const size_t in_lens[] = { 0, 3, 64, 65, 255, 1024 };
	uint8_t in[1024], key[32], md[32], result[32];
	struct blake2s_state all;

	blake2s_init(&all, 32);
	for (size_t i = 0; i < sizeof(out_lens) / sizeof(out_lens[0]); i++) {
		size_t outlen = out_lens[i];
		for (size_t j = 0; j < sizeof(in_lens) / sizeof(in_lens[0]); j++) {
			size_t inlen = in_lens[j];
			selftest_sequence(in, inlen, (uint32_t)inlen);
			blake2s(md, outlen, NULL, 0, in, inlen);
			blake2s_update(&all, md, outlen);
			selftest_sequence(key, outlen, (uint32_t)outlen);
			blake2s(md, outlen, key, outlen, in, inlen);
			blake2s_update(&all, md, outlen);
		}
	}
	blake2s_final(&all, result);
	check_hash(result, 32, "6a411f08ce25adcdfb02aba641451cec53c598b24f4fc787fbdc88797f4c1dfe");
}

/* The BLAKE2 reference KAT layout: key 00..1f, message 00..(n-1). */
static void keyed_hashes_match_the_reference_vectors(void **state)
{
	static const struct {
		size_t n;
		const char *hex;
	} v[] = {
		{ 0, "48a8997da407876b3d79c0d92325ad3b89cbb754d86ab71aee047ad345fd2c49" },
		{ 1, "40d15fee7c328830166ac3f918650f807e7e01e177258cdc0a39b11f598066f1" },
		{ 63, "c65382513f07460da39833cb666c5ed82e61b9e998f4b0c4287cee56c3cc9bcd" },
		{ 64, "8975b0577fd35566d750b362b0897a26c399136df07bababbde6203ff2954ed4" },
		{ 65, "21fe0ceb0052be7fb0f004187cacd7de67fa6eb0938d927677f2398c132317a8" },
		{ 255, "3fb735061abc519dfe979e54c1ee5bfad0a9d858b3315bad34bde999efd724dd" },
	};
	uint8_t key[32], msg[255], out[32];

	fill(key, sizeof(key), 1, 0);
	fill(msg, sizeof(msg), 1, 0);
	for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		blake2s(out, 32, key, sizeof(key), msg, v[i].n);
		check_hash(out, 32, v[i].hex);
	}
}

/* Computed with Python's hashlib.blake2s(data, digest_size=, key=). Key byte
 * i = 0xa0 + i, message byte i = 7i. The 32-byte key / 16-byte digest / 116-byte
 * message case is the shape of WireGuard's mac1. */
static void keyed_hashes_with_short_keys_and_digests_match(void **state)
{
	static const struct {
		size_t keylen, outlen, n;
		const char *hex;
	} v[] = {
		{ 16, 16, 100, "9f2e0e0de070859b9d3cf5af327d9741" },
		{ 32, 16, 116, "d67fe54b97b2d528b90c73145be3c35a" },
		{ 1, 20, 3, "2ae6a602bba0e9fbece5b529fa30033dd66da074" },
		{ 32, 28, 64, "975c5f60eae10bb56cca4ae0394f645352d1d1c9e05a6704317b0c34" },
	};
	uint8_t key[32], msg[116], out[32];

	fill(key, sizeof(key), 1, 0xa0);
	fill(msg, sizeof(msg), 7, 0);
	for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		blake2s(out, v[i].outlen, key, v[i].keylen, msg, v[i].n);
		check_hash(out, v[i].outlen, v[i].hex);
	}
}

/* Computed with Python's hashlib.blake2s; message byte i = 3i + 1. */
static void unkeyed_hashes_around_block_boundaries_match(void **state)
{
	static const struct {
		size_t n;
		const char *hex;
	} v[] = {
		{ 55, "38f7ba136c9be861f8197a237a53d24cb1b722e204ae08203480566355fc36d2" },
		{ 56, "256fb4ccbb5d00f5440ca964174129814f10ee25d58b5ed8658699d954e3d191" },
		{ 63, "e25dfae8c84329dc5e8d9cd0c047c7f3300375ca605a62f7a5405b2e594f64e0" },
		{ 64, "8dac1ae1a2eee767d189324a808e594e8ce286323ffd092a6b9c9b91dd28eec9" },
		{ 65, "295e701766b77c706a2c6abf9d7d71679a49a3e0448ab3b74f1a71e319d01152" },
		{ 128, "6c513c294d1ff3c059d8a3ba9cd1dcf9a8a8095898acbf3c232b2eb07ca1c5f7" },
		{ 129, "fc1c157741ab999be7b4f56d2dd8776a0ab1109c656ff39af37fc58d1505d815" },
		{ 1000, "8352e80fd1a83cf331d2eb4b1d6dbf09365a372bd157e0f83d9c12a4ee40ef23" },
	};
	uint8_t msg[1000], out[32];

	fill(msg, sizeof(msg), 3, 1);
	for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		blake2s(out, 32, NULL, 0, msg, v[i].n);
		check_hash(out, 32, v[i].hex);
	}
}

static void incremental_updates_split_anywhere_equal_the_one_shot_hash(void **state)
{
	uint8_t msg[300], key[32], want[32], got[32];
	struct blake2s_state s;

	fill(msg, sizeof(msg), 13, 5);
	fill(key, sizeof(key), 3, 9);
	for (size_t keylen = 0; keylen <= 32; keylen += 32) {
		for (size_t len = 0; len <= 200; len += 1) {
			blake2s(want, 32, key, keylen, msg, len);
			for (size_t cut = 0; cut <= len; cut += 7) {
				blake2s_init_key(&s, 32, key, keylen);
				blake2s_update(&s, msg, cut);
				blake2s_update(&s, NULL, 0);
				blake2s_update(&s, msg + cut, len - cut);
				blake2s_final(&s, got);
				assert_memory_equal(got, want, 32);
			}
		}
	}
	/* Byte-at-a-time over several blocks. */
	blake2s(want, 32, NULL, 0, msg, sizeof(msg));
	blake2s_init(&s, 32);
	for (size_t i = 0; i < sizeof(msg); i++)
		blake2s_update(&s, msg + i, 1);
	blake2s_final(&s, got);
	assert_memory_equal(got, want, 32);
}

static void a_shorter_digest_is_not_a_truncated_longer_one(void **state)
{
	uint8_t a[32], b[16];

	/* The digest length is in the parameter block, so outputs differ entirely. */
	blake2s(a, 32, NULL, 0, (const uint8_t *)"abc", 3);
	blake2s(b, 16, NULL, 0, (const uint8_t *)"abc", 3);
	assert_memory_not_equal(a, b, 16);
}

static void final_wipes_the_state(void **state)
{
	static const uint8_t zero[sizeof(struct blake2s_state)];
	uint8_t key[32], out[32];
	struct blake2s_state s;

	fill(key, sizeof(key), 1, 1);
	blake2s_init_key(&s, 32, key, sizeof(key));
	blake2s_update(&s, (const uint8_t *)"secret", 6);
	blake2s_final(&s, out);
	assert_memory_equal(&s, zero, sizeof(s));
}

/* HMAC built step by step from the hash, as RFC 2104 defines it. */
static void hmac_by_definition(uint8_t out[32], const uint8_t *key, size_t keylen, const uint8_t *msg, size_t len)
{
	uint8_t k[64] = { 0 }, pad[64], inner[32];
	struct blake2s_state s;

	if (keylen > 64)
		blake2s(k, 32, NULL, 0, key, keylen);
	else if (keylen)
		memcpy(k, key, keylen);
	for (int i = 0; i < 64; i++)
		pad[i] = k[i] ^ 0x36;
	blake2s_init(&s, 32);
	blake2s_update(&s, pad, 64);
	blake2s_update(&s, msg, len);
	blake2s_final(&s, inner);
	for (int i = 0; i < 64; i++)
		pad[i] = k[i] ^ 0x5c;
	blake2s_init(&s, 32);
	blake2s_update(&s, pad, 64);
	blake2s_update(&s, inner, 32);
	blake2s_final(&s, out);
}

/* Expected values computed with Python's hmac.new(key, msg, hashlib.blake2s).
 * Key byte i = 0x11i + 5, message byte i = 5i. */
static void hmac_matches_an_independent_implementation(void **state)
{
	static const struct {
		size_t keylen, n;
		const char *hex;
	} v[] = {
		{ 0, 0, "eaf4bb25938f4d20e72656bbbc7a9bf63c0c18537333c35bdb67db1402661acd" },
		{ 32, 0, "e88a9b0e2f8328b3f2178c402141b6a0ac8d5b832d3a582ad67a7d05501c8a20" },
		{ 32, 33, "394c9c1187c64d30427f621faa4e434d3bc927d4cce38c91418c5cc3e628b7e0" },
		{ 64, 100, "f5b226e40cd802e24a46460d9e9ebff5351d5336591f584775df9e0375465d7b" },
		{ 65, 100, "76ba683402c9d0e9bd7637ee25691e135d2744b9fb2b7581b3be8496bfcd347d" },
		{ 200, 1, "88931c611cea8c07cebfd2d633a1888f3f1ba8af091aca942654b77a4b2995ee" },
	};
	uint8_t key[200], msg[100], out[32], ref[32];

	fill(key, sizeof(key), 0x11, 5);
	fill(msg, sizeof(msg), 5, 0);
	for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		blake2s_hmac(out, key, v[i].keylen, msg, v[i].n);
		check_hash(out, 32, v[i].hex);
		hmac_by_definition(ref, key, v[i].keylen, msg, v[i].n);
		assert_memory_equal(out, ref, 32);
	}
	blake2s_hmac(out, (const uint8_t *)"key", 3, (const uint8_t *)"msg", 3);
	check_hash(out, 32, "7732085652cb630ef3c124b68f2470f5f6209189c913dabc862b2b062f0242c8");
}

static void hmac_output_may_alias_its_key_or_input(void **state)
{
	uint8_t key[32], msg[32], want[32], buf[32];

	fill(key, sizeof(key), 9, 1);
	fill(msg, sizeof(msg), 4, 2);
	blake2s_hmac(want, key, 32, msg, 32);
	memcpy(buf, key, 32);
	blake2s_hmac(buf, buf, 32, msg, 32);
	assert_memory_equal(buf, want, 32);
	memcpy(buf, msg, 32);
	blake2s_hmac(buf, key, 32, buf, 32);
	assert_memory_equal(buf, want, 32);
}

/* specs/awg.md §1.1: C0 = HASH(CONSTRUCTION), H0 = HASH(C0 || IDENTIFIER);
 * noise.c embeds these two values. */
static void the_noise_initial_chaining_key_and_hash_are_the_spec_values(void **state)
{
	static const char construction[] = "Noise_IKpsk2_25519_ChaChaPoly_BLAKE2s";
	static const char identifier[] = "WireGuard v1 zx2c4 Jason@zx2c4.com";
	uint8_t c0[32], h0[32];
	struct blake2s_state s;

	assert_int_equal(sizeof(construction) - 1, 37);
	assert_int_equal(sizeof(identifier) - 1, 34);
	blake2s(c0, 32, NULL, 0, (const uint8_t *)construction, sizeof(construction) - 1);
	check_hash(c0, 32, "60e26daef327efc02ec335e2a025d2d016eb4206f87277f52d38d1988b78cd36");
	blake2s_init(&s, 32);
	blake2s_update(&s, c0, 32);
	blake2s_update(&s, (const uint8_t *)identifier, sizeof(identifier) - 1);
	blake2s_final(&s, h0);
	check_hash(h0, 32, "2211b361081ac566691243db458ad5322d9c6c662293e8b70ee19c65ba079ef3");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(the_rfc_7693_abc_vector_matches),
		cmocka_unit_test(the_empty_input_hashes_to_the_published_value),
		cmocka_unit_test(the_rfc_7693_appendix_e_self_test_ends_in_the_published_hash),
		cmocka_unit_test(keyed_hashes_match_the_reference_vectors),
		cmocka_unit_test(keyed_hashes_with_short_keys_and_digests_match),
		cmocka_unit_test(unkeyed_hashes_around_block_boundaries_match),
		cmocka_unit_test(incremental_updates_split_anywhere_equal_the_one_shot_hash),
		cmocka_unit_test(a_shorter_digest_is_not_a_truncated_longer_one),
		cmocka_unit_test(final_wipes_the_state),
		cmocka_unit_test(hmac_matches_an_independent_implementation),
		cmocka_unit_test(hmac_output_may_alias_its_key_or_input),
		cmocka_unit_test(the_noise_initial_chaining_key_and_hash_are_the_spec_values),
	};
	return run_group(tests);
}
