/* The REALITY client's ClientHello, in the shape of current Chrome as uTLS
 * parrots it (HelloChrome_133, specs/reality.md §2.1), with the REALITY
 * session id sealed into it (§2.3).
 *
 * Shape: record version 0x0301; cipher suites GREASE, 1301, 1302, 1303 and
 * Chrome's twelve TLS 1.2 suites; compression [null]; extensions in a
 * random order per connection except an empty GREASE extension first and a
 * second GREASE extension (body 00, a different value) last: server_name,
 * extended_master_secret, renegotiation_info, supported_groups [GREASE,
 * X25519MLKEM768, X25519, P-256, P-384], ec_point_formats, session_ticket,
 * ALPN [h2, http/1.1], status_request, signature_algorithms, SCT, key_share
 * [GREASE (00), X25519MLKEM768 (1216 B), X25519 (32 B)], psk_key_exchange_
 * modes [psk_dhe_ke], supported_versions [GREASE, 1.3, 1.2],
 * compress_certificate [brotli], application_settings (0x44cd) [h2], and a
 * GREASE encrypted_client_hello (HKDF-SHA256 / AES-128-GCM, random config
 * id, 32-byte enc, 144/176/208/240 random payload bytes).
 *
 * Everything random about one hello lives in struct chello_rand, so tests
 * can pin it; chello_rand_fill() draws it. Key material lives in struct
 * chello_keys: a separate X25519 key for the standalone share (the one
 * REALITY's AuthKey uses, §2.1) and for the hybrid share, as Chrome does.
 *
 * No I/O. Errors: -EINVAL (bad argument, e.g. a server name that is not a
 * DNS name), -ENOSPC, ERR_CRYPTO. */
#ifndef PHAROS_REALITY_CHELLO_H
#define PHAROS_REALITY_CHELLO_H

#include <stddef.h>
#include <stdint.h>

#include "lib/err.h"
#include "reality/mlkem.h"
#include "reality/reality_auth.h"
#include "reality/reality_wire.h"

/* Number of extensions between the two GREASE ones (the shuffled set). */
#define CHELLO_N_SHUFFLED 16
/* Longest ClientHello handshake message we build (255-byte server name,
 * longest ECH payload) with margin. */
#define CHELLO_MAX 2304
/* GREASE ECH: payload lengths (AES-128-GCM tag included), enc length. */
#define CHELLO_ECH_ENC_LEN     32
#define CHELLO_ECH_PAYLOAD_MAX 240
/* The version our session id carries: kept in step with the Chrome shape
 * (specs/reality.md §2.2) and at least what current servers demand. */
#define CHELLO_REALITY_VERSION REALITY_VERSION_26_3_27

struct chello_rand {
	uint8_t random[TLS_RANDOM_LEN];
	uint16_t grease_suite, grease_group, grease_ext1, grease_ext2, grease_version;
	uint8_t order[CHELLO_N_SHUFFLED]; /* a permutation of 0..15 */
	uint8_t ech_config_id;
	uint8_t ech_enc[CHELLO_ECH_ENC_LEN];
	uint16_t ech_payload_len;         /* 144, 176, 208 or 240 */
	uint8_t ech_payload[CHELLO_ECH_PAYLOAD_MAX];
};

struct chello_keys {
	uint8_t x25519_priv[TLS_X25519_LEN]; /* standalone share: ECDHE and AuthKey */
	uint8_t x25519_pub[TLS_X25519_LEN];
	uint8_t hybrid_x25519_priv[TLS_X25519_LEN];
	uint8_t hybrid_x25519_pub[TLS_X25519_LEN];
	uint8_t mlkem_ek[MLKEM_EK_LEN];
	uint8_t mlkem_dk[MLKEM_DK_LEN];
};

/* Draws every random choice of one hello (GREASE values the BoringSSL way:
 * 0x?A?A, the two extension values distinct). */
void chello_rand_fill(struct chello_rand *r);
/* Fresh X25519 (twice) and ML-KEM-768 keys. 0 or ERR_CRYPTO. */
int chello_keys_generate(struct chello_keys *k) WUR;
/* Wipes the keys. */
void chello_keys_wipe(struct chello_keys *k);

/* Builds the ClientHello handshake message (4-byte header included) into
 * out with a 32-byte all-zero session id at REALITY_SESSION_ID_OFFSET.
 * server_name NULL or "" leaves server_name out (an IP literal gives no
 * SNI, §2.1); otherwise a DNS name (text_is_dns_name).
 * 0, -EINVAL, -ENOSPC. */
int chello_build(const char *server_name, const struct chello_keys *k, const struct chello_rand *r,
                 uint8_t *out, size_t cap, size_t *len) WUR;

/* Seals the REALITY session id into a hello chello_build made (§2.3):
 * AuthKey = HKDF(X25519(k->x25519_priv, server_pub), random[0..20),
 * "REALITY"), then AES-256-GCM over fields with the hello (session id as
 * zeros) as AAD. auth_key receives AuthKey (the client needs it to check
 * the certificate). 0, ERR_PARSE, ERR_CRYPTO (zero shared secret). */
int chello_seal(uint8_t *ch, size_t len, const struct chello_keys *k, const uint8_t server_pub[REALITY_KEY_LEN],
                const struct reality_auth_fields *fields, uint8_t auth_key[REALITY_KEY_LEN]) WUR;

#endif
