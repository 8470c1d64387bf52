/* REALITY authentication (specs/reality.md §2.2-2.4, §3.2, §3.5): the
 * pieces both the client and the server need, as pure functions.
 *
 *   AuthKey  = HKDF-SHA256(IKM = X25519(priv, peer_pub), salt = random[0..20),
 *              info = "REALITY", 32 bytes)
 *   sid      = AES-256-GCM(AuthKey, nonce = random[20..32), plaintext 16 B,
 *              AAD = ClientHello handshake message with bytes 39..70 zero)
 *   plain    = ver_x ver_y ver_z 00 | unix time u32 BE | shortId[8]
 *   cert sig = HMAC-SHA512(AuthKey, ed25519_pub) in the last 64 bytes of a
 *              178-byte self-signed Ed25519 X.509 certificate
 *
 * Also the text forms Xray's configuration uses: X25519 keys in base64url
 * without padding, short ids as 0-16 hex digits, versions as "x.y.z".
 *
 * Every secret intermediate is wiped before returning. Errors: -EINVAL (bad
 * argument or text), ERR_PARSE (a ClientHello or certificate not of the
 * shape REALITY uses), ERR_AUTH (tag or HMAC mismatch), ERR_CRYPTO (an
 * all-zero X25519 result or libcrypto failure). */
#ifndef PHAROS_REALITY_REALITY_AUTH_H
#define PHAROS_REALITY_REALITY_AUTH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lib/err.h"

#define REALITY_KEY_LEN        32 /* X25519 keys and AuthKey */
#define REALITY_AUTH_PLAIN_LEN 16
#define REALITY_SHORT_ID_LEN   8
#define REALITY_HMAC_LEN       64 /* HMAC-SHA512: the certificate's signature */
#define REALITY_ED25519_SEED_LEN 32
#define REALITY_ED25519_PUB_LEN  32
#define REALITY_ED25519_SIG_LEN  64
#define REALITY_CERT_LEN       178 /* DER of the temporary certificate */
/* base64url without padding of 32 bytes: 43 characters and the NUL. */
#define REALITY_KEY_B64_LEN    44
/* Hex digits of a short id, and the NUL. */
#define REALITY_SHORT_ID_HEX_LEN 17

/* The 16 plaintext bytes of the session id. */
struct reality_auth_fields {
	uint32_t version;                         /* 24-bit x<<16 | y<<8 | z */
	uint32_t unix_time;                       /* seconds */
	uint8_t short_id[REALITY_SHORT_ID_LEN];
};

void reality_auth_fields_encode(const struct reality_auth_fields *f, uint8_t out[REALITY_AUTH_PLAIN_LEN]);
void reality_auth_fields_decode(const uint8_t in[REALITY_AUTH_PLAIN_LEN], struct reality_auth_fields *f);

/* X25519(priv, peer) with the all-zero result refused (ERR_CRYPTO). */
int reality_auth_x25519(uint8_t shared[REALITY_KEY_LEN], const uint8_t priv[REALITY_KEY_LEN],
                        const uint8_t peer_pub[REALITY_KEY_LEN]) WUR;
/* The public key of a private key (X25519 base point multiplication). */
int reality_auth_x25519_public(uint8_t pub[REALITY_KEY_LEN], const uint8_t priv[REALITY_KEY_LEN]) WUR;
/* A fresh private key, clamped as `xray x25519` prints it, and its public key. */
int reality_auth_x25519_keypair(uint8_t priv[REALITY_KEY_LEN], uint8_t pub[REALITY_KEY_LEN]) WUR;

/* AuthKey from the X25519 shared secret and the ClientHello random. */
int reality_auth_key(uint8_t key[REALITY_KEY_LEN], const uint8_t shared[REALITY_KEY_LEN],
                     const uint8_t random[32]) WUR;
/* X25519 then AuthKey in one step. */
int reality_auth_key_from_ecdh(uint8_t key[REALITY_KEY_LEN], const uint8_t priv[REALITY_KEY_LEN],
                               const uint8_t peer_pub[REALITY_KEY_LEN], const uint8_t random[32]) WUR;

/* Client: ch[0..len) is the whole ClientHello handshake message (4-byte
 * header included) with a 32-byte session id at offset 39. Seals plain under
 * key with the AAD the spec gives (the session id counted as zeros, whatever
 * it holds now) and writes the 32 bytes of ciphertext and tag into ch[39..71).
 * The nonce is ch's random[20..32). 0, ERR_PARSE (not that shape),
 * ERR_CRYPTO. */
int reality_auth_seal(const uint8_t key[REALITY_KEY_LEN], uint8_t *ch, size_t len,
                      const uint8_t plain[REALITY_AUTH_PLAIN_LEN]) WUR;
/* Server: opens the session id of ch (unchanged) into plain. 0, ERR_PARSE,
 * ERR_AUTH (tag mismatch: not one of ours; plain is zeroed), ERR_CRYPTO. */
int reality_auth_open(const uint8_t key[REALITY_KEY_LEN], const uint8_t *ch, size_t len,
                      uint8_t plain[REALITY_AUTH_PLAIN_LEN]) WUR;

/* The temporary certificate. _build writes the 178-byte DER for an Ed25519
 * public key with an all-zero signature; _sign puts HMAC-SHA512(key, pub)
 * into its last 64 bytes (cert must be what _build made). _check is the
 * client's test of a leaf certificate from the wire (parsed with libcrypto,
 * so any DER layout is accepted): 0 when its public key is Ed25519 and its
 * signature value equals the HMAC, *pub then holds that key (for the
 * CertificateVerify check); ERR_PARSE (not DER, not Ed25519) or ERR_AUTH. */
void reality_auth_cert_build(uint8_t cert[REALITY_CERT_LEN], const uint8_t pub[REALITY_ED25519_PUB_LEN]);
int reality_auth_cert_sign(uint8_t cert[REALITY_CERT_LEN], const uint8_t key[REALITY_KEY_LEN]) WUR;
int reality_auth_cert_check(const uint8_t *der, size_t len, const uint8_t key[REALITY_KEY_LEN],
                            uint8_t pub[REALITY_ED25519_PUB_LEN]) WUR;
/* HMAC-SHA512(key, pub) into mac. */
int reality_auth_cert_hmac(uint8_t mac[REALITY_HMAC_LEN], const uint8_t key[REALITY_KEY_LEN],
                           const uint8_t pub[REALITY_ED25519_PUB_LEN]) WUR;

/* Ed25519 from a 32-byte seed (RFC 8032): public key, and a signature over
 * msg (the CertificateVerify content). */
int reality_auth_ed25519_public(uint8_t pub[REALITY_ED25519_PUB_LEN], const uint8_t seed[REALITY_ED25519_SEED_LEN]) WUR;
int reality_auth_ed25519_sign(uint8_t sig[REALITY_ED25519_SIG_LEN], const uint8_t seed[REALITY_ED25519_SEED_LEN],
                              const uint8_t *msg, size_t len) WUR;
/* 0 or ERR_AUTH. */
int reality_auth_ed25519_verify(const uint8_t sig[REALITY_ED25519_SIG_LEN], const uint8_t pub[REALITY_ED25519_PUB_LEN],
                                const uint8_t *msg, size_t len) WUR;

/* ---- text forms (Xray's configuration and share links) ---- */

/* 32 bytes as base64url without padding (Go's RawURLEncoding). */
void reality_auth_key_to_text(char out[REALITY_KEY_B64_LEN], const uint8_t key[REALITY_KEY_LEN]);
/* Exactly 43 base64url characters whose unused bits are zero: 0 or -EINVAL
 * (key zeroed). */
int reality_auth_key_from_text(uint8_t key[REALITY_KEY_LEN], const char *s) WUR;
/* A short id: 0..16 hex digits, even count, right-padded with zero bytes
 * ("abcd" -> ab cd 00 00 00 00 00 00). 0 or -EINVAL. */
int reality_auth_short_id_parse(uint8_t id[REALITY_SHORT_ID_LEN], const char *s) WUR;
/* "x.y.z", each 0..255 decimal without sign: 0 and *version = x<<16|y<<8|z,
 * or -EINVAL. */
int reality_auth_version_parse(uint32_t *version, const char *s) WUR;

/* The version an Xray client of that date sends and current servers demand
 * as a minimum (specs/reality.md §0 fact 4). */
#define REALITY_VERSION_26_3_27 ((26u << 16) | (3u << 8) | 27u)

#endif
