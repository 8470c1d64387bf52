#include "reality/tls13_keysched.h"

#include <errno.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

/* The longest HkdfLabel (RFC 8446 §7.1): length 2, label length 1,
 * "tls13 " + 249, context length 1, context 255. */
#define HKDF_LABEL_MAX (2 + 1 + TLS_LABEL_PREFIX_LEN + TLS_LABEL_MAX + 1 + TLS_LABEL_CONTEXT_MAX)
#define HKDF_INFO_MAX  HKDF_LABEL_MAX

static const struct tls13_keysched_suite suites[] = {
	{ TLS_AES_128_GCM_SHA256, 16, 32, TLS13_SHA256, "TLS_AES_128_GCM_SHA256" },
	{ TLS_AES_256_GCM_SHA384, 32, 48, TLS13_SHA384, "TLS_AES_256_GCM_SHA384" },
	{ TLS_CHACHA20_POLY1305_SHA256, 32, 32, TLS13_SHA256, "TLS_CHACHA20_POLY1305_SHA256" },
};

const struct tls13_keysched_suite *tls13_keysched_suite(uint16_t id)
{
	for (size_t i = 0; i < sizeof(suites) / sizeof(suites[0]); i++)
		if (suites[i].id == id)
			return &suites[i];
	return NULL;
}

size_t tls13_keysched_hash_len(enum tls13_keysched_hash hash)
{
	switch (hash) {
	case TLS13_SHA256:
		return 32;
	case TLS13_SHA384:
		return 48;
	}
	return 0;
}

static const EVP_MD *evp_md(enum tls13_keysched_hash hash)
{
	switch (hash) {
	case TLS13_SHA256:
		return EVP_sha256();
	case TLS13_SHA384:
		return EVP_sha384();
	}
	return NULL;
}

int tls13_keysched_hash_data(enum tls13_keysched_hash hash, const uint8_t *data, size_t len, uint8_t *out)
{
	const EVP_MD *md = evp_md(hash);
	unsigned int n = 0;

	if (!md)
		return -EINVAL;
	if (!EVP_Digest(data, len, out, &n, md, NULL) || n != tls13_keysched_hash_len(hash))
		return ERR_CRYPTO;
	return 0;
}

/* HMAC(key, data) into out[hash_len]. */
static int hmac(enum tls13_keysched_hash hash, const uint8_t *key, size_t key_len, const uint8_t *data,
                size_t len, uint8_t *out)
{
	const EVP_MD *md = evp_md(hash);
	unsigned int n = 0;

	if (!md || key_len > INT32_MAX)
		return -EINVAL;
	if (!HMAC(md, key, (int)key_len, data, len, out, &n) || n != tls13_keysched_hash_len(hash))
		return ERR_CRYPTO;
	return 0;
}

int tls13_keysched_hkdf_extract(enum tls13_keysched_hash hash, const uint8_t *salt, size_t salt_len,
                                const uint8_t *ikm, size_t ikm_len, uint8_t *prk)
{
	static const uint8_t zeros[TLS_MAX_HASH_LEN];
	size_t hl = tls13_keysched_hash_len(hash);

	if (!hl)
		return -EINVAL;
	if (!salt || !salt_len) {
		salt = zeros;
		salt_len = hl;
	}
	/* PRK = HMAC-Hash(salt, IKM) */
	return hmac(hash, salt, salt_len, ikm_len ? ikm : zeros, ikm_len, prk);
}

int tls13_keysched_hkdf_expand(enum tls13_keysched_hash hash, const uint8_t *prk, size_t prk_len,
                               const uint8_t *info, size_t info_len, uint8_t *out, size_t out_len)
{
	/* T(i) = HMAC(PRK, T(i-1) ‖ info ‖ i), out = T(1) ‖ T(2) ‖ ... */
	uint8_t block[TLS_MAX_HASH_LEN + HKDF_INFO_MAX + 1];
	uint8_t t[TLS_MAX_HASH_LEN];
	size_t hl = tls13_keysched_hash_len(hash), tlen = 0, done = 0;
	int rc = 0;

	if (!hl || info_len > HKDF_INFO_MAX || out_len > 255 * hl)
		return -EINVAL;
	for (unsigned i = 1; done < out_len; i++) {
		size_t n = 0, take;
		memcpy(block, t, tlen);
		n += tlen;
		if (info_len)
			memcpy(block + n, info, info_len);
		n += info_len;
		block[n++] = (uint8_t)i;
		rc = hmac(hash, prk, prk_len, block, n, t);
		if (rc < 0)
			goto out;
		tlen = hl;
		take = out_len - done < hl ? out_len - done : hl;
		memcpy(out + done, t, take);
		done += take;
	}
out:
	OPENSSL_cleanse(block, sizeof(block));
	OPENSSL_cleanse(t, sizeof(t));
	if (rc < 0)
		OPENSSL_cleanse(out, out_len);
	return rc;
}

int tls13_keysched_expand_label(enum tls13_keysched_hash hash, const uint8_t *secret, const char *label,
                                const uint8_t *context, size_t context_len, uint8_t *out, size_t out_len)
{
	/* struct { uint16 length; opaque label<7..255> = "tls13 " + Label;
	 *          opaque context<0..255>; } HkdfLabel; */
	uint8_t info[HKDF_LABEL_MAX];
	size_t hl = tls13_keysched_hash_len(hash), label_len = strlen(label), n = 0;
	int rc;

	if (!hl || label_len > TLS_LABEL_MAX || context_len > TLS_LABEL_CONTEXT_MAX || out_len > 0xffff)
		return -EINVAL;
	tls_put_u16(info, (uint16_t)out_len);
	n = 2;
	info[n++] = (uint8_t)(TLS_LABEL_PREFIX_LEN + label_len);
	memcpy(info + n, TLS_LABEL_PREFIX, TLS_LABEL_PREFIX_LEN);
	n += TLS_LABEL_PREFIX_LEN;
	memcpy(info + n, label, label_len);
	n += label_len;
	info[n++] = (uint8_t)context_len;
	if (context_len)
		memcpy(info + n, context, context_len);
	n += context_len;
	rc = tls13_keysched_hkdf_expand(hash, secret, hl, info, n, out, out_len);
	OPENSSL_cleanse(info, sizeof(info));
	return rc;
}

int tls13_keysched_derive_secret(enum tls13_keysched_hash hash, const uint8_t *secret, const char *label,
                                 const uint8_t *thash, uint8_t *out)
{
	size_t hl = tls13_keysched_hash_len(hash);

	if (!hl)
		return -EINVAL;
	return tls13_keysched_expand_label(hash, secret, label, thash, hl, out, hl);
}

int tls13_keysched_traffic_keys(const struct tls13_keysched_suite *suite, const uint8_t *secret, uint8_t *key,
                                uint8_t iv[TLS_AEAD_NONCE_LEN])
{
	int rc;

	if (!suite)
		return -EINVAL;
	rc = tls13_keysched_expand_label(suite->hash, secret, "key", NULL, 0, key, suite->key_len);
	if (rc == 0)
		rc = tls13_keysched_expand_label(suite->hash, secret, "iv", NULL, 0, iv, TLS_AEAD_NONCE_LEN);
	if (rc < 0) {
		OPENSSL_cleanse(key, suite->key_len);
		OPENSSL_cleanse(iv, TLS_AEAD_NONCE_LEN);
	}
	return rc;
}

int tls13_keysched_finished_key(enum tls13_keysched_hash hash, const uint8_t *base_secret, uint8_t *out)
{
	size_t hl = tls13_keysched_hash_len(hash);

	if (!hl)
		return -EINVAL;
	return tls13_keysched_expand_label(hash, base_secret, "finished", NULL, 0, out, hl);
}

int tls13_keysched_finished(enum tls13_keysched_hash hash, const uint8_t *base_secret, const uint8_t *thash,
                            uint8_t *out)
{
	uint8_t fk[TLS_MAX_HASH_LEN];
	size_t hl = tls13_keysched_hash_len(hash);
	int rc;

	rc = tls13_keysched_finished_key(hash, base_secret, fk);
	if (rc == 0)
		rc = hmac(hash, fk, hl, thash, hl, out);
	OPENSSL_cleanse(fk, sizeof(fk));
	return rc;
}

int tls13_keysched_update(enum tls13_keysched_hash hash, uint8_t *secret)
{
	uint8_t next[TLS_MAX_HASH_LEN];
	size_t hl = tls13_keysched_hash_len(hash);
	int rc;

	rc = tls13_keysched_expand_label(hash, secret, "traffic upd", NULL, 0, next, hl);
	if (rc == 0)
		memcpy(secret, next, hl);
	OPENSSL_cleanse(next, sizeof(next));
	return rc;
}

int tls13_keysched_init(struct tls13_keysched *ks, const struct tls13_keysched_suite *suite, const uint8_t *psk,
                        size_t psk_len)
{
	static const uint8_t zeros[TLS_MAX_HASH_LEN];
	int rc;

	tls13_keysched_wipe(ks);
	if (!suite)
		return -EINVAL;
	ks->suite = suite;
	if (!psk) {
		psk = zeros;
		psk_len = suite->hash_len;
	}
	/* Early Secret = HKDF-Extract(0, PSK or 0^H) */
	rc = tls13_keysched_hkdf_extract(suite->hash, NULL, 0, psk, psk_len, ks->secret);
	if (rc < 0) {
		tls13_keysched_wipe(ks);
		return rc;
	}
	ks->stage = TLS13_KS_EARLY;
	return 0;
}

/* secret := HKDF-Extract(Derive-Secret(secret, "derived", ""), ikm) */
static int next_stage(struct tls13_keysched *ks, const uint8_t *ikm, size_t ikm_len)
{
	uint8_t empty_hash[TLS_MAX_HASH_LEN], salt[TLS_MAX_HASH_LEN];
	enum tls13_keysched_hash h = ks->suite->hash;
	int rc;

	rc = tls13_keysched_hash_data(h, NULL, 0, empty_hash);
	if (rc == 0)
		rc = tls13_keysched_derive_secret(h, ks->secret, "derived", empty_hash, salt);
	if (rc == 0)
		rc = tls13_keysched_hkdf_extract(h, salt, ks->suite->hash_len, ikm, ikm_len, ks->secret);
	OPENSSL_cleanse(salt, sizeof(salt));
	return rc;
}

int tls13_keysched_handshake(struct tls13_keysched *ks, const uint8_t *shared, size_t shared_len,
                             const uint8_t *thash)
{
	enum tls13_keysched_hash h;
	int rc;

	if (ks->stage != TLS13_KS_EARLY)
		return ERR_BADSTATE;
	if (!shared || !shared_len || shared_len > TLS_MAX_SHARED_SECRET)
		return -EINVAL;
	h = ks->suite->hash;
	rc = next_stage(ks, shared, shared_len);
	if (rc == 0)
		rc = tls13_keysched_derive_secret(h, ks->secret, "c hs traffic", thash, ks->c_hs);
	if (rc == 0)
		rc = tls13_keysched_derive_secret(h, ks->secret, "s hs traffic", thash, ks->s_hs);
	if (rc < 0) {
		tls13_keysched_wipe(ks);
		return rc;
	}
	ks->stage = TLS13_KS_HANDSHAKE;
	return 0;
}

int tls13_keysched_application(struct tls13_keysched *ks, const uint8_t *thash)
{
	static const uint8_t zeros[TLS_MAX_HASH_LEN];
	enum tls13_keysched_hash h;
	int rc;

	if (ks->stage != TLS13_KS_HANDSHAKE)
		return ERR_BADSTATE;
	h = ks->suite->hash;
	rc = next_stage(ks, zeros, ks->suite->hash_len);
	if (rc == 0)
		rc = tls13_keysched_derive_secret(h, ks->secret, "c ap traffic", thash, ks->c_ap);
	if (rc == 0)
		rc = tls13_keysched_derive_secret(h, ks->secret, "s ap traffic", thash, ks->s_ap);
	if (rc == 0)
		rc = tls13_keysched_derive_secret(h, ks->secret, "exp master", thash, ks->exporter);
	if (rc < 0) {
		tls13_keysched_wipe(ks);
		return rc;
	}
	ks->stage = TLS13_KS_MASTER;
	return 0;
}

int tls13_keysched_resumption(const struct tls13_keysched *ks, const uint8_t *thash, uint8_t *out)
{
	if (ks->stage != TLS13_KS_MASTER)
		return ERR_BADSTATE;
	return tls13_keysched_derive_secret(ks->suite->hash, ks->secret, "res master", thash, out);
}

void tls13_keysched_wipe(struct tls13_keysched *ks)
{
	if (ks)
		OPENSSL_cleanse(ks, sizeof(*ks));
}

int tls13_keysched_transcript_init(struct tls13_keysched_transcript *t, enum tls13_keysched_hash hash)
{
	const EVP_MD *md = evp_md(hash);

	t->md = NULL;
	t->tmp = NULL;
	t->hash = hash;
	if (!md)
		return -EINVAL;
	t->md = EVP_MD_CTX_new();
	t->tmp = EVP_MD_CTX_new();
	if (!t->md || !t->tmp) {
		tls13_keysched_transcript_fini(t);
		return -ENOMEM;
	}
	if (!EVP_DigestInit_ex(t->md, md, NULL)) {
		tls13_keysched_transcript_fini(t);
		return ERR_CRYPTO;
	}
	return 0;
}

void tls13_keysched_transcript_fini(struct tls13_keysched_transcript *t)
{
	if (!t)
		return;
	/* EVP_MD_CTX_free cleanses the digest state. */
	EVP_MD_CTX_free(t->md);
	EVP_MD_CTX_free(t->tmp);
	t->md = NULL;
	t->tmp = NULL;
}

int tls13_keysched_transcript_update(struct tls13_keysched_transcript *t, const uint8_t *data, size_t len)
{
	if (!t->md)
		return ERR_BADSTATE;
	if (len && !EVP_DigestUpdate(t->md, data, len))
		return ERR_CRYPTO;
	return 0;
}

int tls13_keysched_transcript_hash(struct tls13_keysched_transcript *t, uint8_t *out)
{
	unsigned int n = 0;

	if (!t->md)
		return ERR_BADSTATE;
	if (!EVP_MD_CTX_copy_ex(t->tmp, t->md) || !EVP_DigestFinal_ex(t->tmp, out, &n) ||
	    n != tls13_keysched_hash_len(t->hash))
		return ERR_CRYPTO;
	return 0;
}

int tls13_keysched_transcript_hrr(struct tls13_keysched_transcript *t)
{
	uint8_t head[TLS_HS_HEADER_LEN + TLS_MAX_HASH_LEN];
	size_t hl = tls13_keysched_hash_len(t->hash);
	int rc;

	/* Transcript-Hash(ClientHello1, HelloRetryRequest, ...) =
	 *   Hash(message_hash ‖ 00 00 Hash.length ‖ Hash(ClientHello1) ‖ HelloRetryRequest ‖ ...) */
	rc = tls13_keysched_transcript_hash(t, head + TLS_HS_HEADER_LEN);
	if (rc < 0)
		return rc;
	head[0] = TLS_HS_MESSAGE_HASH;
	tls_put_u24(head + 1, (uint32_t)hl);
	if (!EVP_DigestInit_ex(t->md, evp_md(t->hash), NULL))
		return ERR_CRYPTO;
	return tls13_keysched_transcript_update(t, head, TLS_HS_HEADER_LEN + hl);
}
