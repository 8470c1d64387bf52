/* Fuzz target for reality/mlkem (ML-KEM-768). Every input is used three
 * ways, shorter inputs zero-padded:
 *  - as an encapsulation key (the first 1184 bytes) with the next 32 bytes
 *    as the message m: mlkem_check_ek must agree with the modulus check
 *    written out here; encapsulation must refuse exactly the keys it refuses,
 *    zeroing its outputs, and otherwise succeed;
 *  - as a ciphertext (the first 1088 bytes) for a fixed decapsulation key:
 *    the fixed key's one known valid ciphertext gives its shared secret and
 *    every other ciphertext gives exactly J(z || c), computed here with
 *    OpenSSL's SHAKE256 (implicit rejection; finding a second valid
 *    ciphertext would be a break of ML-KEM);
 *  - when at least 2400 bytes long, as a decapsulation key, which must
 *    decapsulate the fixed ciphertext without crashing whatever it holds
 *    (and, when it is the fixed key, to the fixed secret).
 * Any disagreement aborts. Deterministic: fixed key seed and message. */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "lib/err.h"
#include "reality/mlkem.h"

#define FUZZ_MAX_INPUT 4096
#define Q 3329
#define DK_Z_OFFSET (MLKEM_DK_LEN - 32)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct fixture {
	bool ready;
	uint8_t ek[MLKEM_EK_LEN], dk[MLKEM_DK_LEN];
	uint8_t ct[MLKEM_CT_LEN], ss[MLKEM_SS_LEN]; /* the one valid ciphertext we know */
};
static struct fixture fx;

static void check(bool ok)
{
	if (!ok)
		abort();
}

static void setup(void)
{
	uint8_t seed[MLKEM_SEED_LEN], m[MLKEM_MSG_LEN];

	if (fx.ready)
		return;
	for (size_t i = 0; i < sizeof(seed); i++)
		seed[i] = (uint8_t)i;
	memset(m, 0x42, sizeof(m));
	mlkem_keygen_derand(fx.ek, fx.dk, seed);
	check(mlkem_encaps_derand(fx.ct, fx.ss, fx.ek, m) == 0);
	fx.ready = true;
}

static bool all_zero(const uint8_t *p, size_t n)
{
	uint8_t acc = 0;

	for (size_t i = 0; i < n; i++)
		acc |= p[i];
	return acc == 0;
}

/* FIPS 203 §7.2: every 12-bit little-endian value in the first 1152 bytes
 * is below q. */
static bool modulus_ok(const uint8_t *ek)
{
	for (size_t i = 0; i < 3 * 384; i += 3) {
		unsigned a = ek[i] | (unsigned)(ek[i + 1] & 0x0f) << 8;
		unsigned b = (unsigned)(ek[i + 1] >> 4) | (unsigned)ek[i + 2] << 4;
		if (a >= Q || b >= Q)
			return false;
	}
	return true;
}

static void as_encapsulation_key(const uint8_t *ek, const uint8_t *m)
{
	uint8_t ct[MLKEM_CT_LEN], ss[MLKEM_SS_LEN];
	bool ok = modulus_ok(ek);
	int rc;

	check((mlkem_check_ek(ek) == 0) == ok);
	memset(ct, 0xa5, sizeof(ct));
	memset(ss, 0xa5, sizeof(ss));
	rc = mlkem_encaps_derand(ct, ss, ek, m);
	if (!ok) {
		check(rc == ERR_RANGE && all_zero(ct, sizeof(ct)) && all_zero(ss, sizeof(ss)));
		return;
	}
	check(rc == 0);
}

static void as_ciphertext(const uint8_t *ct)
{
	uint8_t ss[MLKEM_SS_LEN], k_bar[MLKEM_SS_LEN], z_c[32 + MLKEM_CT_LEN];
	EVP_MD_CTX *ctx;

	mlkem_decaps(ss, fx.dk, ct);
	if (!memcmp(ct, fx.ct, MLKEM_CT_LEN)) {
		check(!memcmp(ss, fx.ss, sizeof(ss)));
		return;
	}
	memcpy(z_c, fx.dk + DK_Z_OFFSET, 32);
	memcpy(z_c + 32, ct, MLKEM_CT_LEN);
	ctx = EVP_MD_CTX_new();
	check(ctx && EVP_DigestInit_ex(ctx, EVP_shake256(), NULL) == 1 &&
	      EVP_DigestUpdate(ctx, z_c, sizeof(z_c)) == 1 && EVP_DigestFinalXOF(ctx, k_bar, sizeof(k_bar)) == 1);
	EVP_MD_CTX_free(ctx);
	check(!memcmp(ss, k_bar, sizeof(ss)));
}

static void as_decapsulation_key(const uint8_t *dk)
{
	uint8_t ss[MLKEM_SS_LEN];
	int rc = mlkem_check_dk(dk);

	check(rc == 0 || rc == ERR_PARSE);
	mlkem_decaps(ss, dk, fx.ct);
	/* Only for the fixed key itself is the right answer known. */
	if (!memcmp(dk, fx.dk, MLKEM_DK_LEN))
		check(!memcmp(ss, fx.ss, sizeof(ss)));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint8_t buf[MLKEM_DK_LEN];

	if (size > FUZZ_MAX_INPUT)
		return 0;
	setup();
	memset(buf, 0, sizeof(buf));
	memcpy(buf, data, size < sizeof(buf) ? size : sizeof(buf));
	as_encapsulation_key(buf, buf + MLKEM_EK_LEN);
	as_ciphertext(buf);
	if (size >= MLKEM_DK_LEN)
		as_decapsulation_key(data);
	return 0;
}
