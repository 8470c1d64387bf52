/* TLS 1.3 key schedule (RFC 8446 §7): HKDF with the labels of §7.1, the
 * early / handshake / master secret chain, traffic secrets, record keys and
 * IVs, Finished keys and values, KeyUpdate, and the running transcript hash.
 * Built on libcrypto's HMAC and EVP digests; no I/O, no clock.
 *
 * Everything here that holds a secret wipes it (OPENSSL_cleanse) on every
 * path; tls13_keysched_wipe() clears a schedule, and the helpers wipe their
 * intermediate buffers before returning.
 *
 * Functions returning int give 0 or a negative code: -EINVAL (argument out
 * of range: unknown hash, label too long, output too long), ERR_BADSTATE
 * (a key schedule step out of order), ERR_CRYPTO (libcrypto failed), -ENOMEM
 * (transcript contexts). */
#ifndef PHAROS_REALITY_TLS13_KEYSCHED_H
#define PHAROS_REALITY_TLS13_KEYSCHED_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lib/err.h"
#include "reality/reality_wire.h"

enum tls13_keysched_hash {
	TLS13_SHA256 = 0,
	TLS13_SHA384 = 1,
};

/* What a cipher suite means to the key schedule and the record layer. */
struct tls13_keysched_suite {
	uint16_t id;       /* TLS_AES_128_GCM_SHA256, ... */
	uint8_t key_len;   /* AEAD key: 16 or 32 */
	uint8_t hash_len;  /* 32 or 48 */
	enum tls13_keysched_hash hash;
	const char *name;  /* IANA name, for logs */
};

/* The three suites we implement, or NULL for any other id (GREASE included). */
const struct tls13_keysched_suite *tls13_keysched_suite(uint16_t id);
/* 32 or 48; 0 for an unknown hash. */
size_t tls13_keysched_hash_len(enum tls13_keysched_hash hash);
/* One-shot hash of data[0..len) into out[hash_len]. */
int tls13_keysched_hash_data(enum tls13_keysched_hash hash, const uint8_t *data, size_t len,
                             uint8_t *out) WUR;

/* HKDF-Extract(salt, IKM) (RFC 5869 §2.2) into prk[hash_len]. A NULL or empty
 * salt means hash_len zero bytes, as RFC 5869 and RFC 8446 §7.1 say. */
int tls13_keysched_hkdf_extract(enum tls13_keysched_hash hash, const uint8_t *salt, size_t salt_len,
                                const uint8_t *ikm, size_t ikm_len, uint8_t *prk) WUR;
/* HKDF-Expand(PRK, info, L) (RFC 5869 §2.3); out_len at most 255 * hash_len,
 * info at most 514 bytes (the longest HkdfLabel). */
int tls13_keysched_hkdf_expand(enum tls13_keysched_hash hash, const uint8_t *prk, size_t prk_len,
                               const uint8_t *info, size_t info_len, uint8_t *out, size_t out_len) WUR;
/* HKDF-Expand-Label(Secret, Label, Context, Length) (RFC 8446 §7.1); the
 * secret is hash_len bytes, label is given without "tls13 " (at most 249
 * characters), context at most 255 bytes, out_len at most 65535. */
int tls13_keysched_expand_label(enum tls13_keysched_hash hash, const uint8_t *secret, const char *label,
                                const uint8_t *context, size_t context_len, uint8_t *out,
                                size_t out_len) WUR;
/* Derive-Secret(Secret, Label, Messages) with Transcript-Hash(Messages)
 * already computed: thash[hash_len]; out[hash_len]. */
int tls13_keysched_derive_secret(enum tls13_keysched_hash hash, const uint8_t *secret, const char *label,
                                 const uint8_t *thash, uint8_t *out) WUR;

/* The write key and IV of a traffic secret (RFC 8446 §7.3):
 * key[suite->key_len] = Expand-Label(secret, "key", "", key_len),
 * iv[12] = Expand-Label(secret, "iv", "", 12). */
int tls13_keysched_traffic_keys(const struct tls13_keysched_suite *suite, const uint8_t *secret,
                                uint8_t *key, uint8_t iv[TLS_AEAD_NONCE_LEN]) WUR;
/* finished_key = Expand-Label(base_key, "finished", "", Hash.length) (§4.4.4). */
int tls13_keysched_finished_key(enum tls13_keysched_hash hash, const uint8_t *base_secret,
                                uint8_t *out) WUR;
/* verify_data = HMAC(finished_key(base_secret), thash) (§4.4.4): out[hash_len]. */
int tls13_keysched_finished(enum tls13_keysched_hash hash, const uint8_t *base_secret, const uint8_t *thash,
                            uint8_t *out) WUR;
/* application_traffic_secret_N+1 = Expand-Label(secret_N, "traffic upd", "",
 * Hash.length) (§7.2), in place. */
int tls13_keysched_update(enum tls13_keysched_hash hash, uint8_t *secret) WUR;

/* The secret chain of one connection (RFC 8446 §7.1):
 *
 *              0 -> HKDF-Extract(salt 0, IKM PSK or 0) = Early Secret
 *   Derive-Secret(., "derived", "") -> HKDF-Extract(., (EC)DHE) = Handshake Secret
 *        c/s hs traffic = Derive-Secret(., "c/s hs traffic", CH..SH)
 *   Derive-Secret(., "derived", "") -> HKDF-Extract(., 0) = Master Secret
 *        c/s ap traffic, exp master = Derive-Secret(., label, CH..server Finished)
 *        res master = Derive-Secret(., "res master", CH..client Finished)
 *
 * Steps must come in that order (ERR_BADSTATE otherwise). Embedded: _init,
 * then _wipe when done (also after a failure). */
enum tls13_keysched_stage {
	TLS13_KS_NONE = 0,
	TLS13_KS_EARLY,
	TLS13_KS_HANDSHAKE,
	TLS13_KS_MASTER,
};

struct tls13_keysched {
	const struct tls13_keysched_suite *suite;
	enum tls13_keysched_stage stage;
	uint8_t secret[TLS_MAX_HASH_LEN]; /* early, then handshake, then master secret */
	uint8_t c_hs[TLS_MAX_HASH_LEN];   /* client_handshake_traffic_secret */
	uint8_t s_hs[TLS_MAX_HASH_LEN];   /* server_handshake_traffic_secret */
	uint8_t c_ap[TLS_MAX_HASH_LEN];   /* client_application_traffic_secret_0 */
	uint8_t s_ap[TLS_MAX_HASH_LEN];   /* server_application_traffic_secret_0 */
	uint8_t exporter[TLS_MAX_HASH_LEN];
};

/* Early Secret from psk[0..psk_len), or from hash_len zeros when psk is NULL
 * (no resumption: what REALITY always does). */
int tls13_keysched_init(struct tls13_keysched *ks, const struct tls13_keysched_suite *suite,
                        const uint8_t *psk, size_t psk_len) WUR;
/* Handshake Secret from the (EC)DHE shared secret (32 bytes for X25519, 64
 * for X25519MLKEM768), then c_hs and s_hs over thash = Hash(CH ‖ SH). */
int tls13_keysched_handshake(struct tls13_keysched *ks, const uint8_t *shared, size_t shared_len,
                             const uint8_t *thash) WUR;
/* Master Secret, then c_ap, s_ap and exporter over thash = Hash(CH .. server
 * Finished). */
int tls13_keysched_application(struct tls13_keysched *ks, const uint8_t *thash) WUR;
/* resumption_master_secret over thash = Hash(CH .. client Finished) into
 * out[hash_len]. Needs the master stage. */
int tls13_keysched_resumption(const struct tls13_keysched *ks, const uint8_t *thash, uint8_t *out) WUR;
/* Wipes every secret; ks is then as if zero-initialised. NULL is a no-op. */
void tls13_keysched_wipe(struct tls13_keysched *ks);

/* Running Transcript-Hash (RFC 8446 §4.4.1): feed each handshake message
 * (4-byte header included) as sent; read the hash at any point without
 * disturbing it. The hash is the suite's, which a client learns only from
 * the ServerHello: it keeps its ClientHello's bytes (REALITY needs them
 * anyway, for the AAD) and feeds them then. Embedded: _init allocates two
 * EVP_MD_CTX, _fini frees them (fini on a zeroed or failed struct is a
 * no-op; _init on a live one leaks it). */
struct evp_md_ctx_st; /* EVP_MD_CTX */

struct tls13_keysched_transcript {
	struct evp_md_ctx_st *md;  /* the running hash */
	struct evp_md_ctx_st *tmp; /* scratch copy to read intermediate hashes */
	enum tls13_keysched_hash hash;
};

int tls13_keysched_transcript_init(struct tls13_keysched_transcript *t, enum tls13_keysched_hash hash) WUR;
void tls13_keysched_transcript_fini(struct tls13_keysched_transcript *t);
int tls13_keysched_transcript_update(struct tls13_keysched_transcript *t, const uint8_t *data,
                                     size_t len) WUR;
/* Hash of everything fed so far into out[hash_len]; the running hash goes on. */
int tls13_keysched_transcript_hash(struct tls13_keysched_transcript *t, uint8_t *out) WUR;
/* After a HelloRetryRequest (§4.4.1): replaces ClientHello1, the only thing
 * fed so far, by message_hash(254) 00 00 Hash.length Hash(ClientHello1); the
 * caller then feeds the HelloRetryRequest itself. */
int tls13_keysched_transcript_hrr(struct tls13_keysched_transcript *t) WUR;

#endif
