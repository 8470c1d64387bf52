/* REALITY authentication: see reality_auth.h and specs/reality.md §2.3-2.4,
 * §3.2, §3.5. */
#include "reality/reality_auth.h"

#include <errno.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/x509.h>
#include <sodium.h>

#include "lib/enc.h"
#include "reality/reality_wire.h"
#include "reality/tls13_keysched.h"

#define GCM_NONCE_LEN 12
#define GCM_TAG_LEN   16

static_assert(REALITY_AUTH_PLAIN_LEN + GCM_TAG_LEN == REALITY_SESSION_ID_LEN, "sid = ciphertext ‖ tag");
static_assert(crypto_auth_hmacsha512_KEYBYTES == REALITY_KEY_LEN, "libsodium's HMAC-SHA512 takes a 32-byte key");
static_assert(crypto_auth_hmacsha512_BYTES == REALITY_HMAC_LEN, "HMAC-SHA512 is 64 bytes");

void reality_auth_fields_encode(const struct reality_auth_fields *f, uint8_t out[REALITY_AUTH_PLAIN_LEN])
{
	out[0] = (uint8_t)(f->version >> 16);
	out[1] = (uint8_t)(f->version >> 8);
	out[2] = (uint8_t)f->version;
	out[3] = 0;
	out[4] = (uint8_t)(f->unix_time >> 24);
	out[5] = (uint8_t)(f->unix_time >> 16);
	out[6] = (uint8_t)(f->unix_time >> 8);
	out[7] = (uint8_t)f->unix_time;
	memcpy(out + 8, f->short_id, REALITY_SHORT_ID_LEN);
}

void reality_auth_fields_decode(const uint8_t in[REALITY_AUTH_PLAIN_LEN], struct reality_auth_fields *f)
{
	/* byte 3 is reserved and not checked, as upstream does (§2.2) */
	f->version = (uint32_t)in[0] << 16 | (uint32_t)in[1] << 8 | in[2];
	f->unix_time = (uint32_t)in[4] << 24 | (uint32_t)in[5] << 16 | (uint32_t)in[6] << 8 | in[7];
	memcpy(f->short_id, in + 8, REALITY_SHORT_ID_LEN);
}

int reality_auth_x25519(uint8_t shared[REALITY_KEY_LEN], const uint8_t priv[REALITY_KEY_LEN],
                        const uint8_t peer_pub[REALITY_KEY_LEN])
{
	/* libsodium refuses (-1) an all-zero result: a low-order peer point. */
	if (crypto_scalarmult(shared, priv, peer_pub) != 0) {
		sodium_memzero(shared, REALITY_KEY_LEN);
		return ERR_CRYPTO;
	}
	return 0;
}

int reality_auth_x25519_public(uint8_t pub[REALITY_KEY_LEN], const uint8_t priv[REALITY_KEY_LEN])
{
	return crypto_scalarmult_base(pub, priv) == 0 ? 0 : ERR_CRYPTO;
}

int reality_auth_x25519_keypair(uint8_t priv[REALITY_KEY_LEN], uint8_t pub[REALITY_KEY_LEN])
{
	randombytes_buf(priv, REALITY_KEY_LEN);
	/* RFC 7748 clamping, so the printed private key is the one in use. */
	priv[0] &= 248;
	priv[31] &= 127;
	priv[31] |= 64;
	int rc = reality_auth_x25519_public(pub, priv);
	if (rc < 0)
		sodium_memzero(priv, REALITY_KEY_LEN);
	return rc;
}

int reality_auth_key(uint8_t key[REALITY_KEY_LEN], const uint8_t shared[REALITY_KEY_LEN], const uint8_t random[32])
{
	uint8_t prk[32];
	int rc = tls13_keysched_hkdf_extract(TLS13_SHA256, random, 20, shared, REALITY_KEY_LEN, prk);
	if (rc == 0)
		rc = tls13_keysched_hkdf_expand(TLS13_SHA256, prk, sizeof(prk), (const uint8_t *)"REALITY", 7, key,
		                                REALITY_KEY_LEN);
	if (rc < 0)
		sodium_memzero(key, REALITY_KEY_LEN);
	sodium_memzero(prk, sizeof(prk));
	return rc;
}

int reality_auth_key_from_ecdh(uint8_t key[REALITY_KEY_LEN], const uint8_t priv[REALITY_KEY_LEN],
                               const uint8_t peer_pub[REALITY_KEY_LEN], const uint8_t random[32])
{
	uint8_t shared[REALITY_KEY_LEN];
	int rc = reality_auth_x25519(shared, priv, peer_pub);
	if (rc == 0)
		rc = reality_auth_key(key, shared, random);
	sodium_memzero(shared, sizeof(shared));
	return rc;
}

/* The handshake message must be a ClientHello with a 32-byte session id at
 * offset 39, and at least that long. */
static bool ch_shape_ok(const uint8_t *ch, size_t len)
{
	return ch && len >= REALITY_SESSION_ID_OFFSET + REALITY_SESSION_ID_LEN && ch[0] == TLS_HS_CLIENT_HELLO &&
	       ch[REALITY_SESSION_ID_OFFSET - 1] == REALITY_SESSION_ID_LEN;
}

/* GCM over the 16-byte block with AAD = ch with the session id as zeros.
 * The AAD goes in three pieces so ch need not be copied. */
static int gcm_run(bool seal, const uint8_t key[REALITY_KEY_LEN], const uint8_t *ch, size_t len,
                   const uint8_t *in, uint8_t *out, uint8_t tag[GCM_TAG_LEN])
{
	static const uint8_t zeros[REALITY_SESSION_ID_LEN];
	const uint8_t *nonce = ch + TLS_HS_HEADER_LEN + 2 + 20; /* random[20..32) */
	const size_t tail = REALITY_SESSION_ID_OFFSET + REALITY_SESSION_ID_LEN;
	int rc = ERR_CRYPTO, n = 0;
	EVP_CIPHER_CTX *c = EVP_CIPHER_CTX_new();
	if (!c)
		return -ENOMEM;
	if (EVP_CipherInit_ex(c, EVP_aes_256_gcm(), NULL, NULL, NULL, seal) != 1 ||
	    EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_SET_IVLEN, GCM_NONCE_LEN, NULL) != 1 ||
	    EVP_CipherInit_ex(c, NULL, NULL, key, nonce, seal) != 1)
		goto out;
	if (EVP_CipherUpdate(c, NULL, &n, ch, REALITY_SESSION_ID_OFFSET) != 1 ||
	    EVP_CipherUpdate(c, NULL, &n, zeros, sizeof(zeros)) != 1 ||
	    (len > tail && EVP_CipherUpdate(c, NULL, &n, ch + tail, (int)(len - tail)) != 1))
		goto out;
	if (!seal && EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_SET_TAG, GCM_TAG_LEN, tag) != 1)
		goto out;
	if (EVP_CipherUpdate(c, out, &n, in, REALITY_AUTH_PLAIN_LEN) != 1 || n != REALITY_AUTH_PLAIN_LEN)
		goto out;
	if (EVP_CipherFinal_ex(c, out + n, &n) != 1) {
		rc = seal ? ERR_CRYPTO : ERR_AUTH;
		goto out;
	}
	if (seal && EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_GET_TAG, GCM_TAG_LEN, tag) != 1)
		goto out;
	rc = 0;
out:
	EVP_CIPHER_CTX_free(c);
	return rc;
}

int reality_auth_seal(const uint8_t key[REALITY_KEY_LEN], uint8_t *ch, size_t len,
                      const uint8_t plain[REALITY_AUTH_PLAIN_LEN])
{
	uint8_t sid[REALITY_SESSION_ID_LEN];
	if (!ch_shape_ok(ch, len) || len > INT32_MAX)
		return ERR_PARSE;
	int rc = gcm_run(true, key, ch, len, plain, sid, sid + REALITY_AUTH_PLAIN_LEN);
	if (rc == 0)
		memcpy(ch + REALITY_SESSION_ID_OFFSET, sid, sizeof(sid));
	return rc;
}

int reality_auth_open(const uint8_t key[REALITY_KEY_LEN], const uint8_t *ch, size_t len,
                      uint8_t plain[REALITY_AUTH_PLAIN_LEN])
{
	uint8_t tag[GCM_TAG_LEN];
	if (!ch_shape_ok(ch, len) || len > INT32_MAX)
		return ERR_PARSE;
	memcpy(tag, ch + REALITY_SESSION_ID_OFFSET + REALITY_AUTH_PLAIN_LEN, GCM_TAG_LEN);
	int rc = gcm_run(false, key, ch, len, ch + REALITY_SESSION_ID_OFFSET, plain, tag);
	if (rc < 0)
		sodium_memzero(plain, REALITY_AUTH_PLAIN_LEN);
	return rc;
}

/* The certificate Go's x509.CreateCertificate makes from REALITY's template
 * (§3.5): v3, serial 0, empty issuer and subject, both validity times the
 * zero time as GeneralizedTime "00010101000000Z", no extensions, Ed25519.
 * DER = head ‖ public key ‖ mid ‖ signature. */
static const uint8_t cert_head[] = {
	0x30, 0x81, 0xaf,                                     /* Certificate, 175 */
	0x30, 0x63,                                           /* TBSCertificate, 99 */
	0xa0, 0x03, 0x02, 0x01, 0x02,                         /* [0] version v3 */
	0x02, 0x01, 0x00,                                     /* serialNumber 0 */
	0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70,             /* signature: Ed25519 */
	0x30, 0x00,                                           /* issuer: empty */
	0x30, 0x22,                                           /* validity */
	0x18, 0x0f, '0', '0', '0', '1', '0', '1', '0', '1', '0', '0', '0', '0', '0', '0', 'Z',
	0x18, 0x0f, '0', '0', '0', '1', '0', '1', '0', '1', '0', '0', '0', '0', '0', '0', 'Z',
	0x30, 0x00,                                           /* subject: empty */
	0x30, 0x2a, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, /* SubjectPublicKeyInfo */
	0x03, 0x21, 0x00,                                     /* BIT STRING, 32 bytes */
};
static const uint8_t cert_mid[] = {
	0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, /* signatureAlgorithm: Ed25519 */
	0x03, 0x41, 0x00,                         /* signatureValue BIT STRING, 64 bytes */
};
static_assert(sizeof(cert_head) + REALITY_ED25519_PUB_LEN + sizeof(cert_mid) + REALITY_HMAC_LEN == REALITY_CERT_LEN,
              "the certificate is 178 bytes");

void reality_auth_cert_build(uint8_t cert[REALITY_CERT_LEN], const uint8_t pub[REALITY_ED25519_PUB_LEN])
{
	uint8_t *p = cert;
	memcpy(p, cert_head, sizeof(cert_head));
	p += sizeof(cert_head);
	memcpy(p, pub, REALITY_ED25519_PUB_LEN);
	p += REALITY_ED25519_PUB_LEN;
	memcpy(p, cert_mid, sizeof(cert_mid));
	p += sizeof(cert_mid);
	memset(p, 0, REALITY_HMAC_LEN);
}

int reality_auth_cert_hmac(uint8_t mac[REALITY_HMAC_LEN], const uint8_t key[REALITY_KEY_LEN],
                           const uint8_t pub[REALITY_ED25519_PUB_LEN])
{
	return crypto_auth_hmacsha512(mac, pub, REALITY_ED25519_PUB_LEN, key) == 0 ? 0 : ERR_CRYPTO;
}

int reality_auth_cert_sign(uint8_t cert[REALITY_CERT_LEN], const uint8_t key[REALITY_KEY_LEN])
{
	return reality_auth_cert_hmac(cert + REALITY_CERT_LEN - REALITY_HMAC_LEN, key, cert + sizeof(cert_head));
}

int reality_auth_cert_check(const uint8_t *der, size_t len, const uint8_t key[REALITY_KEY_LEN],
                            uint8_t pub[REALITY_ED25519_PUB_LEN])
{
	uint8_t mac[REALITY_HMAC_LEN];
	const unsigned char *p = der;
	const ASN1_BIT_STRING *sig = NULL;
	const X509_ALGOR *alg = NULL;
	size_t pub_len = REALITY_ED25519_PUB_LEN;
	int rc = ERR_PARSE;
	if (!der || len == 0 || len > INT32_MAX)
		return ERR_PARSE;
	X509 *x = d2i_X509(NULL, &p, (long)len);
	if (!x || p != der + len)
		goto out;
	EVP_PKEY *pk = X509_get0_pubkey(x);
	if (!pk || EVP_PKEY_get_base_id(pk) != EVP_PKEY_ED25519 ||
	    EVP_PKEY_get_raw_public_key(pk, pub, &pub_len) != 1 || pub_len != REALITY_ED25519_PUB_LEN)
		goto out;
	X509_get0_signature(&sig, &alg, x);
	if (!sig || ASN1_STRING_length(sig) != REALITY_HMAC_LEN)
		goto out;
	rc = reality_auth_cert_hmac(mac, key, pub);
	if (rc == 0 && CRYPTO_memcmp(mac, ASN1_STRING_get0_data(sig), REALITY_HMAC_LEN) != 0)
		rc = ERR_AUTH;
out:
	if (rc < 0 && pub)
		memset(pub, 0, REALITY_ED25519_PUB_LEN);
	sodium_memzero(mac, sizeof(mac));
	X509_free(x);
	return rc;
}

int reality_auth_ed25519_public(uint8_t pub[REALITY_ED25519_PUB_LEN], const uint8_t seed[REALITY_ED25519_SEED_LEN])
{
	uint8_t sk[crypto_sign_SECRETKEYBYTES];
	int rc = crypto_sign_seed_keypair(pub, sk, seed) == 0 ? 0 : ERR_CRYPTO;
	sodium_memzero(sk, sizeof(sk));
	return rc;
}

int reality_auth_ed25519_sign(uint8_t sig[REALITY_ED25519_SIG_LEN], const uint8_t seed[REALITY_ED25519_SEED_LEN],
                              const uint8_t *msg, size_t len)
{
	uint8_t pk[crypto_sign_PUBLICKEYBYTES], sk[crypto_sign_SECRETKEYBYTES];
	int rc = ERR_CRYPTO;
	if (crypto_sign_seed_keypair(pk, sk, seed) == 0 && crypto_sign_detached(sig, NULL, msg, len, sk) == 0)
		rc = 0;
	sodium_memzero(sk, sizeof(sk));
	return rc;
}

int reality_auth_ed25519_verify(const uint8_t sig[REALITY_ED25519_SIG_LEN], const uint8_t pub[REALITY_ED25519_PUB_LEN],
                                const uint8_t *msg, size_t len)
{
	return crypto_sign_verify_detached(sig, msg, len, pub) == 0 ? 0 : ERR_AUTH;
}

/* ---- text forms ---- */

static const char b64url[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

void reality_auth_key_to_text(char out[REALITY_KEY_B64_LEN], const uint8_t key[REALITY_KEY_LEN])
{
	size_t o = 0;
	uint32_t acc = 0;
	unsigned bits = 0;
	for (size_t i = 0; i < REALITY_KEY_LEN; i++) {
		acc = acc << 8 | key[i];
		bits += 8;
		while (bits >= 6) {
			bits -= 6;
			out[o++] = b64url[(acc >> bits) & 63];
		}
	}
	if (bits)
		out[o++] = b64url[(acc << (6 - bits)) & 63];
	out[o] = '\0';
}

static int b64url_value(char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '-')
		return 62;
	if (c == '_')
		return 63;
	return -1;
}

int reality_auth_key_from_text(uint8_t key[REALITY_KEY_LEN], const char *s)
{
	size_t o = 0;
	uint32_t acc = 0;
	unsigned bits = 0;
	if (!s || strlen(s) != REALITY_KEY_B64_LEN - 1)
		goto bad;
	for (size_t i = 0; s[i]; i++) {
		int v = b64url_value(s[i]);
		if (v < 0)
			goto bad;
		acc = acc << 6 | (uint32_t)v;
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			key[o++] = (uint8_t)(acc >> bits);
		}
	}
	/* 43 characters carry 258 bits: the last 2 must be zero (one encoding
	 * per key, as Go's strict decoder wants). */
	if (o != REALITY_KEY_LEN || (acc & ((1u << bits) - 1)) != 0)
		goto bad;
	sodium_memzero(&acc, sizeof(acc));
	return 0;
bad:
	sodium_memzero(key, REALITY_KEY_LEN);
	sodium_memzero(&acc, sizeof(acc));
	return -EINVAL;
}

int reality_auth_short_id_parse(uint8_t id[REALITY_SHORT_ID_LEN], const char *s)
{
	memset(id, 0, REALITY_SHORT_ID_LEN);
	if (!s)
		return -EINVAL;
	size_t n = strlen(s);
	if (n > 2 * REALITY_SHORT_ID_LEN || n % 2)
		return -EINVAL;
	/* the digits fill the first n/2 bytes; the rest stays zero */
	return n ? enc_hex_decode(id, n / 2, s) : 0;
}

int reality_auth_version_parse(uint32_t *version, const char *s)
{
	uint32_t v = 0;
	*version = 0;
	if (!s)
		return -EINVAL;
	for (int part = 0; part < 3; part++) {
		unsigned n = 0, digits = 0;
		while (*s >= '0' && *s <= '9' && digits < 4) {
			n = n * 10 + (unsigned)(*s++ - '0');
			digits++;
		}
		if (digits == 0 || n > 255)
			return -EINVAL;
		v = v << 8 | n;
		if (part < 2 && *s++ != '.')
			return -EINVAL;
	}
	if (*s)
		return -EINVAL;
	*version = v;
	return 0;
}
