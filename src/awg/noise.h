/* Noise_IKpsk2 handshake for WireGuard (specs/awg.md §1.3), as a core that
 * performs no I/O and reads no clock: callers pass `now` and timestamps, and
 * own index allocation, peer lookup and sending. Key material is wiped on
 * every path. All functions return 0 or a negative code (lib/err.h).
 * libsodium must have been initialised (sodium_init()) before any call. */
#ifndef PHAROS_AWG_NOISE_H
#define PHAROS_AWG_NOISE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "awg/messages.h"
#include "lib/err.h"

/* Our own static identity plus keys precomputed from our public key. */
struct noise_identity {
	bool has_key;
	uint8_t private_key[NOISE_PUBLIC_KEY_LEN]; /* clamped */
	uint8_t public_key[NOISE_PUBLIC_KEY_LEN];
	uint8_t mac1_key[NOISE_SYMMETRIC_KEY_LEN];   /* HASH(LABEL_MAC1 || our pub): checks mac1 of messages to us */
	uint8_t cookie_key[NOISE_SYMMETRIC_KEY_LEN]; /* HASH(LABEL_COOKIE || our pub): seals cookie replies we send */
};

/* The static-static DH cache of struct noise_peer_keys. */
enum noise_ss_state {
	NOISE_SS_NONE = 0, /* not computed yet (or forgotten) */
	NOISE_SS_VALID,    /* static_static holds DH(our static, their static) */
	NOISE_SS_ZERO,     /* the DH is all zeros: no handshake with this peer can succeed */
};

/* What we know about one remote peer. The labels are computed when the peer
 * is set; the static-static DH only when a handshake first needs it
 * (noise_peer_keys_static_dh), because an X25519 per peer dominated adding
 * thousands of peers. The cache belongs to the identity whose public key is
 * ss_identity and is recomputed for any other, so a stale value is never used;
 * callers still forget it when our key changes, to wipe the old secret. */
struct noise_peer_keys {
	uint8_t remote_static[NOISE_PUBLIC_KEY_LEN];
	uint8_t preshared_key[NOISE_SYMMETRIC_KEY_LEN]; /* zeros when unset */
	uint8_t mac1_key[NOISE_SYMMETRIC_KEY_LEN];      /* HASH(LABEL_MAC1 || remote pub) */
	uint8_t cookie_key[NOISE_SYMMETRIC_KEY_LEN];    /* HASH(LABEL_COOKIE || remote pub) */
	enum noise_ss_state ss_state;
	uint8_t ss_identity[NOISE_PUBLIC_KEY_LEN];      /* our public key when it was computed */
	uint8_t static_static[NOISE_PUBLIC_KEY_LEN];    /* zeros unless NOISE_SS_VALID */
};

enum noise_hs_state {
	NOISE_HS_ZEROED = 0,
	NOISE_HS_CREATED_INITIATION,
	NOISE_HS_CONSUMED_INITIATION,
	NOISE_HS_CREATED_RESPONSE,
	NOISE_HS_CONSUMED_RESPONSE,
};

/* Per-peer handshake state. latest_timestamp and last_initiation_consumed_ns
 * survive noise_handshake_clear() (they are replay/flood protection). */
struct noise_handshake {
	enum noise_hs_state state;
	uint8_t ephemeral_private[NOISE_PUBLIC_KEY_LEN];
	uint8_t remote_ephemeral[NOISE_PUBLIC_KEY_LEN];
	uint8_t hash[NOISE_HASH_LEN];
	uint8_t chaining_key[NOISE_HASH_LEN];
	uint8_t latest_timestamp[NOISE_TIMESTAMP_LEN];
	uint64_t last_initiation_consumed_ns;
	bool have_consumed_initiation;
	uint32_t local_index;
	uint32_t remote_index;
};

/* Transport keys derived from a completed handshake. */
struct noise_keys {
	uint8_t send_key[NOISE_SYMMETRIC_KEY_LEN];
	uint8_t recv_key[NOISE_SYMMETRIC_KEY_LEN];
	uint32_t local_index;
	uint32_t remote_index;
	bool is_initiator;
};

/* Intermediate responder state between decrypting the initiator's static key
 * and finding the peer it belongs to. Wiped by noise_consume_initiation_finish. */
struct noise_initiation_state {
	uint8_t hash[NOISE_HASH_LEN];
	uint8_t chaining_key[NOISE_HASH_LEN];
	uint8_t remote_static[NOISE_PUBLIC_KEY_LEN];
	uint8_t remote_ephemeral[NOISE_PUBLIC_KEY_LEN];
	uint32_t remote_index;
};

/* Sets (clamps) our private key and precomputes the public key and labels.
 * A NULL or all-zero key clears the identity. */
void noise_identity_set(struct noise_identity *id, const uint8_t private_key[NOISE_PUBLIC_KEY_LEN]);
void noise_identity_clear(struct noise_identity *id);

/* Sets up per-peer keys (wiping pk first): the remote static key, psk (may be
 * NULL) and the mac1/cookie labels. No DH is done here. A peer whose static
 * DH turns out all-zero may be configured, as in the reference; every
 * handshake with it then fails with ERR_CRYPTO. */
int noise_peer_keys_init(struct noise_peer_keys *pk, const uint8_t remote_static[NOISE_PUBLIC_KEY_LEN],
                         const uint8_t *psk) WUR;

/* DH(our static, their static) into pk->static_static, computed on the first
 * call for id and cached in pk (an all-zero result is cached too). Returns 0,
 * ERR_CRYPTO if the DH is all zeros, ERR_BADSTATE if id has no key. Writes pk:
 * callers serialise it like the handshake state (the engine holds the device
 * write lock). noise_create_initiation and noise_consume_initiation_finish
 * call it; it is public for tests and for warming the cache. */
int noise_peer_keys_static_dh(struct noise_peer_keys *pk, const struct noise_identity *id) WUR;

/* Wipes the cached static DH (call when our private key changes). */
void noise_peer_keys_forget_dh(struct noise_peer_keys *pk);

/* Wipes everything but replay/flood protection fields. */
void noise_handshake_clear(struct noise_handshake *hs);

/* TAI64N of a wall-clock time, nanoseconds rounded down to a multiple of 2^24. */
void noise_tai64n(uint8_t out[NOISE_TIMESTAMP_LEN], uint64_t unix_sec, uint32_t nsec);

/* Initiator, message 1. Fills every field of *out except type (set to
 * MSG_INITIATION; AWG rewrites it) and macs (cookie module). ephemeral_private
 * may be NULL (random) or fixed for known-answer tests. May fill pk's static
 * DH cache. */
int noise_create_initiation(struct noise_handshake *hs, const struct noise_identity *id,
                            struct noise_peer_keys *pk, uint32_t local_index,
                            const uint8_t timestamp[NOISE_TIMESTAMP_LEN],
                            const uint8_t *ephemeral_private, struct msg_initiation *out) WUR;

/* Responder, message 1, stage one: decrypts the initiator's static key into st. */
int noise_consume_initiation_begin(const struct noise_identity *id, const struct msg_initiation *msg,
                                   struct noise_initiation_state *st) WUR;

/* Stage two, with the peer found for st->remote_static: decrypts the timestamp,
 * requires it strictly greater than hs->latest_timestamp (ERR_REPLAY) and the
 * previous accepted initiation older than 20 ms (ERR_REPLAY, flood), then
 * stores the state in hs (NOISE_HS_CONSUMED_INITIATION). Wipes st. hs is
 * untouched on any error; ERR_NOTFOUND if pk is not st->remote_static's peer.
 * May fill pk's static DH cache (for id), even when the message then fails. */
int noise_consume_initiation_finish(struct noise_handshake *hs, const struct noise_identity *id,
                                    struct noise_peer_keys *pk, struct noise_initiation_state *st,
                                    const struct msg_initiation *msg, uint64_t now_ns) WUR;

/* Responder, message 2. hs must be NOISE_HS_CONSUMED_INITIATION. */
int noise_create_response(struct noise_handshake *hs, const struct noise_identity *id,
                          const struct noise_peer_keys *pk, uint32_t local_index,
                          const uint8_t *ephemeral_private, struct msg_response *out) WUR;

/* Initiator, message 2. hs must be NOISE_HS_CREATED_INITIATION with
 * hs->local_index == msg->receiver_index (the caller looked it up). */
int noise_consume_response(struct noise_handshake *hs, const struct noise_identity *id,
                           const struct noise_peer_keys *pk, const struct msg_response *msg) WUR;

/* After CREATED_RESPONSE (responder) or CONSUMED_RESPONSE (initiator): derives
 * the transport keys into *out and wipes the handshake's secrets (state ZEROED). */
int noise_derive_keys(struct noise_handshake *hs, struct noise_keys *out) WUR;

/* Transport AEAD (ChaCha20-Poly1305, nonce = 4 zero bytes || LE64 counter, no AD).
 * seal writes len + 16 bytes; open takes the sealed length and writes len - 16. */
void noise_seal(uint8_t *dst, const uint8_t *src, size_t len, uint64_t counter,
                const uint8_t key[NOISE_SYMMETRIC_KEY_LEN]);
int noise_open(uint8_t *dst, const uint8_t *src, size_t sealed_len, uint64_t counter,
               const uint8_t key[NOISE_SYMMETRIC_KEY_LEN]) WUR;

/* Generates a private key (clamped) / derives the public key. */
void noise_generate_private(uint8_t out[NOISE_PUBLIC_KEY_LEN]);
int noise_public_from_private(uint8_t pub[NOISE_PUBLIC_KEY_LEN], const uint8_t priv[NOISE_PUBLIC_KEY_LEN]) WUR;

#endif
