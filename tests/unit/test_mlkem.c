/* Tests for reality/mlkem (ML-KEM-768, FIPS 203) and the Keccak sponge it is
 * built on (reality/keccak). Published vectors are in mlkem_vectors.h with
 * their sources; OpenSSL's SHA3/SHAKE serve as the independent reference
 * for Keccak, for the implicit-rejection key J(z||c) and for the CCTV
 * accumulated test's RNG and hash, so none of those checks goes through our
 * own Keccak. */
#include "support.h"

#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "lib/err.h"
#include "reality/keccak.h"
#include "reality/mlkem.h"

#include "mlkem_vectors.h"

#define Q 3329
/* Offsets within dk = dk_PKE || ek || H(ek) || z (FIPS 203 Algorithm 16). */
#define DK_EK 1152
#define DK_H (DK_EK + MLKEM_EK_LEN)
#define DK_Z (DK_H + 32)

/* OpenSSL one-shot digest; outlen is used for the XOFs. */
static void ossl_digest(const EVP_MD *md, const uint8_t *in, size_t len, uint8_t *out, size_t outlen)
{
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();

	assert_non_null(ctx);
	assert_int_equal(EVP_DigestInit_ex(ctx, md, NULL), 1);
	assert_int_equal(EVP_DigestUpdate(ctx, in, len), 1);
	if (EVP_MD_get_flags(md) & EVP_MD_FLAG_XOF)
		assert_int_equal(EVP_DigestFinalXOF(ctx, out, outlen), 1);
	else
		assert_int_equal(EVP_DigestFinal_ex(ctx, out, NULL), 1);
	EVP_MD_CTX_free(ctx);
}

static void fill(uint8_t *buf, size_t len, unsigned mul, unsigned add)
{
	for (size_t i = 0; i < len; i++)
		buf[i] = (uint8_t)(mul * i + add + (i >> 8));
}

/* The 12-bit coefficient i of the t^ part of ek, and setting it. */
static unsigned ek_coeff(const uint8_t *ek, unsigned i)
{
	const uint8_t *p = ek + 3 * (i / 2);

	return i % 2 ? (unsigned)(p[1] >> 4) | (unsigned)p[2] << 4 : (unsigned)p[0] | (unsigned)(p[1] & 0x0f) << 8;
}

static void ek_set_coeff(uint8_t *ek, unsigned i, unsigned v)
{
	uint8_t *p = ek + 3 * (i / 2);

	if (i % 2) {
		p[1] = (uint8_t)((p[1] & 0x0f) | (v & 0x0f) << 4);
		p[2] = (uint8_t)(v >> 4);
	} else {
		p[0] = (uint8_t)v;
		p[1] = (uint8_t)((p[1] & 0xf0) | v >> 8);
	}
}

static void keccak_matches_openssl_sha3_and_shake_for_every_input_length_up_to_four_blocks(void **state)
{
	static uint8_t in[4 * 168 + 1];
	uint8_t got[520], want[520];

	fill(in, sizeof(in), 7, 1);
	for (size_t len = 0; len <= sizeof(in); len++) {
		size_t outlen = 1 + (len * 13) % sizeof(got);

		keccak_sha3_256(got, in, len);
		ossl_digest(EVP_sha3_256(), in, len, want, 32);
		assert_memory_equal(got, want, 32);
		keccak_sha3_512(got, in, len);
		ossl_digest(EVP_sha3_512(), in, len, want, 64);
		assert_memory_equal(got, want, 64);
		keccak_shake128(got, outlen, in, len);
		ossl_digest(EVP_shake128(), in, len, want, outlen);
		assert_memory_equal(got, want, outlen);
		keccak_shake256(got, outlen, in, len);
		ossl_digest(EVP_shake256(), in, len, want, outlen);
		assert_memory_equal(got, want, outlen);
	}
}

static void keccak_gives_the_same_output_however_input_and_output_are_split(void **state)
{
	static uint8_t in[1000];
	uint8_t whole[3 * 168 + 5], pieces[sizeof(whole)];
	unsigned seed = 1;

	fill(in, sizeof(in), 31, 5);
	keccak_shake128(whole, sizeof(whole), in, sizeof(in));
	for (int trial = 0; trial < 200; trial++) {
		struct keccak_state s;
		size_t done = 0;

		keccak_shake128_init(&s);
		while (done < sizeof(in)) {
			seed = seed * 1103515245u + 12345u;
			size_t n = (seed >> 16) % 200;
			if (n > sizeof(in) - done)
				n = sizeof(in) - done;
			keccak_absorb(&s, in + done, n);
			done += n;
		}
		keccak_finalize(&s, KECCAK_SHAKE_SUFFIX);
		if (trial % 2) {
			/* Whole blocks first, then the tail byte-wise. */
			keccak_squeeze_block(&s, pieces);
			keccak_squeeze_block(&s, pieces + 168);
			keccak_squeeze_block(&s, pieces + 336);
			keccak_squeeze(&s, pieces + 504, sizeof(whole) - 504);
		} else {
			for (done = 0; done < sizeof(whole);) {
				seed = seed * 1103515245u + 12345u;
				size_t n = 1 + (seed >> 16) % 100;
				if (n > sizeof(whole) - done)
					n = sizeof(whole) - done;
				keccak_squeeze(&s, pieces + done, n);
				done += n;
			}
		}
		keccak_wipe(&s);
		assert_memory_equal(pieces, whole, sizeof(whole));
	}
}

static void keygen_reproduces_the_nist_acvp_keygen_vectors(void **state)
{
	for (size_t i = 0; i < sizeof(mlkem_kat_keygen) / sizeof(mlkem_kat_keygen[0]); i++) {
		const struct mlkem_kat_keygen *v = &mlkem_kat_keygen[i];
		uint8_t seed[MLKEM_SEED_LEN], want_dk[MLKEM_DK_LEN], ek[MLKEM_EK_LEN], dk[MLKEM_DK_LEN];

		support_unhex(v->d, seed, 32);
		support_unhex(v->z, seed + 32, 32);
		support_unhex(v->dk, want_dk, sizeof(want_dk));
		mlkem_keygen_derand(ek, dk, seed);
		assert_memory_equal(ek, want_dk + DK_EK, MLKEM_EK_LEN);
		assert_memory_equal(dk, want_dk, MLKEM_DK_LEN);
		assert_int_equal(mlkem_check_ek(ek), 0);
		assert_int_equal(mlkem_check_dk(dk), 0);
	}
}

static void encaps_reproduces_the_nist_acvp_encapsulation_vectors(void **state)
{
	for (size_t i = 0; i < sizeof(mlkem_kat_encaps) / sizeof(mlkem_kat_encaps[0]); i++) {
		const struct mlkem_kat_encaps *v = &mlkem_kat_encaps[i];
		uint8_t ek[MLKEM_EK_LEN], m[MLKEM_MSG_LEN], want_c[MLKEM_CT_LEN], want_k[MLKEM_SS_LEN];
		uint8_t c[MLKEM_CT_LEN], k[MLKEM_SS_LEN];

		support_unhex(v->ek, ek, sizeof(ek));
		support_unhex(v->m, m, sizeof(m));
		support_unhex(v->c, want_c, sizeof(want_c));
		support_unhex(v->k, want_k, sizeof(want_k));
		assert_int_equal(mlkem_encaps_derand(c, k, ek, m), 0);
		assert_memory_equal(c, want_c, sizeof(c));
		assert_memory_equal(k, want_k, sizeof(k));
	}
}

static void decaps_reproduces_the_nist_acvp_decapsulation_vectors_including_modified_ciphertexts(void **state)
{
	uint8_t dk[MLKEM_DK_LEN];
	int modified = 0;

	support_unhex(mlkem_kat_decaps_dk, dk, sizeof(dk));
	assert_int_equal(mlkem_check_dk(dk), 0);
	for (size_t i = 0; i < sizeof(mlkem_kat_decaps) / sizeof(mlkem_kat_decaps[0]); i++) {
		const struct mlkem_kat_decaps *v = &mlkem_kat_decaps[i];
		uint8_t c[MLKEM_CT_LEN], want_k[MLKEM_SS_LEN], k[MLKEM_SS_LEN], z_c[32 + MLKEM_CT_LEN], k_bar[32];

		support_unhex(v->c, c, sizeof(c));
		support_unhex(v->k, want_k, sizeof(want_k));
		mlkem_decaps(k, dk, c);
		assert_memory_equal(k, want_k, sizeof(k));
		/* A modified ciphertext yields exactly J(z || c), computed here
		 * with OpenSSL; a valid one yields something else. */
		memcpy(z_c, dk + DK_Z, 32);
		memcpy(z_c + 32, c, sizeof(c));
		ossl_digest(EVP_shake256(), z_c, sizeof(z_c), k_bar, sizeof(k_bar));
		if (v->modified)
			assert_memory_equal(k, k_bar, sizeof(k));
		else
			assert_memory_not_equal(k, k_bar, sizeof(k));
		modified += v->modified;
	}
	assert_true(modified >= 1);
}

static void the_cctv_unlucky_sampling_vector_gives_the_published_key_hash_and_secret(void **state)
{
	uint8_t seed[MLKEM_SEED_LEN], m[MLKEM_MSG_LEN], want_k[32], want_h[32], h[32];
	uint8_t ek[MLKEM_EK_LEN], dk[MLKEM_DK_LEN], c[MLKEM_CT_LEN], k[32], k2[32];

	support_unhex(mlkem_unlucky_d, seed, 32);
	support_unhex(mlkem_unlucky_z, seed + 32, 32);
	support_unhex(mlkem_unlucky_m, m, sizeof(m));
	support_unhex(mlkem_unlucky_k, want_k, sizeof(want_k));
	support_unhex(mlkem_unlucky_h_ek, want_h, sizeof(want_h));
	mlkem_keygen_derand(ek, dk, seed);
	ossl_digest(EVP_sha3_256(), ek, sizeof(ek), h, sizeof(h));
	assert_memory_equal(h, want_h, sizeof(h));
	assert_memory_equal(dk + DK_H, want_h, sizeof(h));
	assert_int_equal(mlkem_encaps_derand(c, k, ek, m), 0);
	assert_memory_equal(k, want_k, sizeof(k));
	mlkem_decaps(k2, dk, c);
	assert_memory_equal(k2, want_k, sizeof(k2));
}

/* CCTV "accumulated pq-crystals vectors": inputs d, z, m and a random
 * ciphertext drawn from one SHAKE-128 stream over the empty string; ek, dk,
 * ct, K and the decapsulation of the random ciphertext absorbed into a
 * running SHAKE-128, whose first 32 bytes are published. OpenSSL 3.0 cannot
 * squeeze an XOF twice, so the whole input stream is produced at once. */
static void ten_thousand_cctv_accumulated_vectors_hash_to_the_published_value(void **state)
{
	enum { TESTS = 10000, PER_TEST = 32 + 32 + 32 + MLKEM_CT_LEN };
	uint8_t *stream = malloc((size_t)TESTS * PER_TEST);
	uint8_t ek[MLKEM_EK_LEN], dk[MLKEM_DK_LEN], ct[MLKEM_CT_LEN], k[32], k2[32], got[32], want[32];
	EVP_MD_CTX *rng = EVP_MD_CTX_new(), *acc = EVP_MD_CTX_new();

	assert_non_null(stream);
	assert_non_null(rng);
	assert_non_null(acc);
	assert_int_equal(EVP_DigestInit_ex(rng, EVP_shake128(), NULL), 1);
	assert_int_equal(EVP_DigestFinalXOF(rng, stream, (size_t)TESTS * PER_TEST), 1);
	assert_int_equal(EVP_DigestInit_ex(acc, EVP_shake128(), NULL), 1);
	for (size_t i = 0; i < TESTS; i++) {
		const uint8_t *in = stream + i * PER_TEST;

		mlkem_keygen_derand(ek, dk, in);
		assert_int_equal(mlkem_encaps_derand(ct, k, ek, in + 64), 0);
		mlkem_decaps(k2, dk, ct);
		assert_memory_equal(k2, k, sizeof(k));
		EVP_DigestUpdate(acc, ek, sizeof(ek));
		EVP_DigestUpdate(acc, dk, sizeof(dk));
		EVP_DigestUpdate(acc, ct, sizeof(ct));
		EVP_DigestUpdate(acc, k, sizeof(k));
		mlkem_decaps(k2, dk, in + 96);
		EVP_DigestUpdate(acc, k2, sizeof(k2));
	}
	assert_int_equal(EVP_DigestFinalXOF(acc, got, sizeof(got)), 1);
	support_unhex(mlkem_accumulated_10000, want, sizeof(want));
	assert_memory_equal(got, want, sizeof(want));
	EVP_MD_CTX_free(rng);
	EVP_MD_CTX_free(acc);
	free(stream);
}

static void a_thousand_random_key_generations_encapsulations_and_decapsulations_agree(void **state)
{
	uint8_t ek[MLKEM_EK_LEN], dk[MLKEM_DK_LEN], ct[MLKEM_CT_LEN], ss[32], ss2[32];
	uint8_t prev_ek[MLKEM_EK_LEN] = { 0 }, prev_ss[32] = { 0 };

	for (int i = 0; i < 1000; i++) {
		assert_int_equal(mlkem_keygen(ek, dk), 0);
		assert_int_equal(mlkem_check_ek(ek), 0);
		assert_int_equal(mlkem_check_dk(dk), 0);
		assert_int_equal(mlkem_encaps(ct, ss, ek), 0);
		mlkem_decaps(ss2, dk, ct);
		assert_memory_equal(ss, ss2, sizeof(ss));
		/* Fresh randomness every time. */
		assert_memory_not_equal(ek, prev_ek, sizeof(ek));
		assert_memory_not_equal(ss, prev_ss, sizeof(ss));
		memcpy(prev_ek, ek, sizeof(ek));
		memcpy(prev_ss, ss, sizeof(ss));
	}
}

static void the_modulus_check_refuses_every_coefficient_position_holding_q_or_more(void **state)
{
	uint8_t seed[MLKEM_SEED_LEN], m[MLKEM_MSG_LEN], ek[MLKEM_EK_LEN], dk[MLKEM_DK_LEN], bad[MLKEM_EK_LEN];
	uint8_t ct[MLKEM_CT_LEN], ss[32];
	static const unsigned values[] = { Q, Q + 1, 4000, 4095 };

	fill(seed, sizeof(seed), 3, 9);
	fill(m, sizeof(m), 5, 2);
	mlkem_keygen_derand(ek, dk, seed);
	for (unsigned i = 0; i < 3 * 256; i++) {
		unsigned v = values[i % 4];

		memcpy(bad, ek, sizeof(bad));
		ek_set_coeff(bad, i, v);
		assert_int_equal(ek_coeff(bad, i), v);
		assert_int_equal(mlkem_check_ek(bad), ERR_RANGE);
		memset(ct, 0xa5, sizeof(ct));
		memset(ss, 0xa5, sizeof(ss));
		assert_int_equal(mlkem_encaps_derand(ct, ss, bad, m), ERR_RANGE);
		for (size_t j = 0; j < sizeof(ct); j++)
			assert_int_equal(ct[j], 0);
		for (size_t j = 0; j < sizeof(ss); j++)
			assert_int_equal(ss[j], 0);
		assert_int_equal(mlkem_encaps(ct, ss, bad), ERR_RANGE);
		/* The largest valid value passes; rho (the last 32 bytes) is not
		 * checked because any bytes are a valid seed. */
		ek_set_coeff(bad, i, Q - 1);
		assert_int_equal(mlkem_check_ek(bad), 0);
	}
	memcpy(bad, ek, sizeof(bad));
	memset(bad + 3 * 384, 0xff, 32);
	assert_int_equal(mlkem_check_ek(bad), 0);
}

static void the_hash_check_refuses_a_decapsulation_key_whose_ek_or_hash_was_altered(void **state)
{
	uint8_t seed[MLKEM_SEED_LEN], ek[MLKEM_EK_LEN], dk[MLKEM_DK_LEN];

	fill(seed, sizeof(seed), 11, 4);
	mlkem_keygen_derand(ek, dk, seed);
	assert_int_equal(mlkem_check_dk(dk), 0);
	dk[DK_EK + 100] ^= 0x10;
	assert_int_equal(mlkem_check_dk(dk), ERR_PARSE);
	dk[DK_EK + 100] ^= 0x10;
	dk[DK_H + 31] ^= 0x01;
	assert_int_equal(mlkem_check_dk(dk), ERR_PARSE);
}

static void decaps_of_a_flipped_ciphertext_gives_the_deterministic_implicit_rejection_key(void **state)
{
	static const size_t positions[] = { 0, 1, 319, 320, 959, 960, 1000, MLKEM_CT_LEN - 1 };
	uint8_t seed[MLKEM_SEED_LEN], m[MLKEM_MSG_LEN], ek[MLKEM_EK_LEN], dk[MLKEM_DK_LEN];
	uint8_t ct[MLKEM_CT_LEN], ss[32], got[32], again[32], z_c[32 + MLKEM_CT_LEN], k_bar[32];

	fill(seed, sizeof(seed), 17, 3);
	fill(m, sizeof(m), 19, 8);
	mlkem_keygen_derand(ek, dk, seed);
	assert_int_equal(mlkem_encaps_derand(ct, ss, ek, m), 0);
	for (size_t p = 0; p < sizeof(positions) / sizeof(positions[0]); p++) {
		for (unsigned bit = 0; bit < 8; bit += 7) {
			ct[positions[p]] ^= (uint8_t)(1u << bit);
			mlkem_decaps(got, dk, ct);
			mlkem_decaps(again, dk, ct);
			memcpy(z_c, dk + DK_Z, 32);
			memcpy(z_c + 32, ct, sizeof(ct));
			ossl_digest(EVP_shake256(), z_c, sizeof(z_c), k_bar, sizeof(k_bar));
			assert_memory_not_equal(got, ss, sizeof(ss));
			assert_memory_equal(got, k_bar, sizeof(got));
			assert_memory_equal(got, again, sizeof(got));
			ct[positions[p]] ^= (uint8_t)(1u << bit);
		}
	}
	/* Restored: the real key again. */
	mlkem_decaps(got, dk, ct);
	assert_memory_equal(got, ss, sizeof(ss));
}

static void decaps_of_an_all_zero_or_all_ones_ciphertext_is_rejected_not_refused(void **state)
{
	uint8_t seed[MLKEM_SEED_LEN], ek[MLKEM_EK_LEN], dk[MLKEM_DK_LEN], ct[MLKEM_CT_LEN], got[32];
	uint8_t z_c[32 + MLKEM_CT_LEN], k_bar[32];

	fill(seed, sizeof(seed), 23, 1);
	mlkem_keygen_derand(ek, dk, seed);
	for (int v = 0; v < 256; v += 255) {
		memset(ct, v, sizeof(ct));
		mlkem_decaps(got, dk, ct);
		memcpy(z_c, dk + DK_Z, 32);
		memcpy(z_c + 32, ct, sizeof(ct));
		ossl_digest(EVP_shake256(), z_c, sizeof(z_c), k_bar, sizeof(k_bar));
		assert_memory_equal(got, k_bar, sizeof(got));
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(keccak_matches_openssl_sha3_and_shake_for_every_input_length_up_to_four_blocks),
		cmocka_unit_test(keccak_gives_the_same_output_however_input_and_output_are_split),
		cmocka_unit_test(keygen_reproduces_the_nist_acvp_keygen_vectors),
		cmocka_unit_test(encaps_reproduces_the_nist_acvp_encapsulation_vectors),
		cmocka_unit_test(decaps_reproduces_the_nist_acvp_decapsulation_vectors_including_modified_ciphertexts),
		cmocka_unit_test(the_cctv_unlucky_sampling_vector_gives_the_published_key_hash_and_secret),
		cmocka_unit_test(ten_thousand_cctv_accumulated_vectors_hash_to_the_published_value),
		cmocka_unit_test(a_thousand_random_key_generations_encapsulations_and_decapsulations_agree),
		cmocka_unit_test(the_modulus_check_refuses_every_coefficient_position_holding_q_or_more),
		cmocka_unit_test(the_hash_check_refuses_a_decapsulation_key_whose_ek_or_hash_was_altered),
		cmocka_unit_test(decaps_of_a_flipped_ciphertext_gives_the_deterministic_implicit_rejection_key),
		cmocka_unit_test(decaps_of_an_all_zero_or_all_ones_ciphertext_is_rejected_not_refused),
	};

	return run_group(tests);
}
