/* Feeds arbitrary bytes to profile_open as a .pharos file, with a fixed
 * device key, password and pinned signer (the seeds in
 * fuzz/corpus/fuzz_profile_file were sealed with these; see
 * tests/tools/pharos-profile.c and DESIGN.md §11). It must refuse with a
 * negative code and every output cleared, or open to NUL-terminated text of
 * the stated length; profile_file_enc must agree that the header is
 * readable whenever open succeeds. */
#include <sodium.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "lib/mem.h"
#include "profile/profile.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The fixed keys: device X25519 secret = 32 x 0x42, signing key from the
 * Ed25519 seed 32 x 0x24, password "fuzz". */
#define FUZZ_PASSWORD "fuzz"

static void check(int ok)
{
	if (!ok)
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint8_t dev_sk[32], seed[32], sign_pk[32], sign_sk[64], signer[32];
	char err[256], *json = (char *)1;
	size_t json_len = 1;
	enum profile_enc enc;

	memset(dev_sk, 0x42, sizeof(dev_sk));
	memset(seed, 0x24, sizeof(seed));
	crypto_sign_seed_keypair(sign_pk, sign_sk, seed);
	struct profile_open_args a = { .device_sk = dev_sk, .password = FUZZ_PASSWORD, .signer_pin = sign_pk };

	int rc = profile_open(data, size, &a, signer, &json, &json_len, err, sizeof(err));
	if (rc < 0) {
		check(json == NULL && json_len == 0 && sodium_is_zero(signer, sizeof(signer)) && err[0] != '\0');
	} else {
		check(rc == 0 && json && strlen(json) == json_len);
		check(memcmp(signer, sign_pk, sizeof(signer)) == 0);
		check(profile_file_enc(data, size, &enc, err, sizeof(err)) == 0);
		mem_free_secret(json, json_len + 1);
	}
	/* The header reader alone, on the same bytes. */
	rc = profile_file_enc(data, size, &enc, err, sizeof(err));
	check(rc == 0 ? enc <= PROFILE_ENC_ACCOUNT : err[0] != '\0');
	return 0;
}
