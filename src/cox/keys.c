/* The profile-signing key: Ed25519, raw on disk, 0600, wiped after use. */
#include "cox/keys.h"

#include <errno.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/enc.h"
#include "lib/fileio.h"
#include "lib/mem.h"

int cox_signing_key_create(const char *dir)
{
	uint8_t sk[COX_SIGN_SK_LEN], pk[COX_SIGN_PK_LEN];
	char path[COX_PATH_MAX], b64[ENC_KEY_BASE64_LEN + 1];
	int r;
	if (crypto_sign_keypair(pk, sk))
		return ERR_CRYPTO;
	if (snprintf(path, sizeof(path), "%s/%s", dir, COX_SIGNING_KEY) >= (int)sizeof(path)) {
		r = -ENAMETOOLONG;
		goto out;
	}
	if ((r = fileio_write_atomic(path, sk, sizeof(sk), 0600)) < 0)
		goto out;
	enc_key_to_base64(b64, pk);
	size_t n = strlen(b64);
	b64[n] = '\n';
	snprintf(path, sizeof(path), "%s/%s", dir, COX_SIGNING_PUB);
	r = fileio_write_atomic(path, b64, n + 1, 0644);
out:
	sodium_memzero(sk, sizeof(sk));
	return r;
}

int cox_signing_key_load(const struct cox *c, uint8_t sk[COX_SIGN_SK_LEN], uint8_t pk[COX_SIGN_PK_LEN])
{
	char path[COX_PATH_MAX];
	uint8_t *data = NULL;
	size_t len = 0;
	int r = cox_path(c, COX_SIGNING_KEY, path, sizeof(path));
	if (r < 0)
		return r;
	if ((r = fileio_read_all(path, 4096, &data, &len)) < 0)
		return r;
	if (len != COX_SIGN_SK_LEN) {
		r = ERR_PARSE;
		goto out;
	}
	memcpy(sk, data, COX_SIGN_SK_LEN);
	if (pk && crypto_sign_ed25519_sk_to_pk(pk, sk)) {
		r = ERR_CRYPTO;
		goto out;
	}
	r = 0;
out:
	mem_free_secret(data, len + 1);
	return r;
}
