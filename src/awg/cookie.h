/* mac1, mac2 and cookie replies (specs/awg.md §1.4): the DoS defence. No I/O,
 * no clock: callers pass now_ns. The checker is used by the single handshake
 * thread only; per-peer cookie state likewise. */
#ifndef PHAROS_AWG_COOKIE_H
#define PHAROS_AWG_COOKIE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "awg/messages.h"
#include "lib/err.h"

struct noise_identity;

/* Our side: validates macs of messages sent to us and issues cookie replies. */
struct cookie_checker {
	uint8_t secret[NOISE_HASH_LEN];
	uint64_t secret_birth_ns;
	bool secret_valid;
	uint8_t mac1_key[NOISE_SYMMETRIC_KEY_LEN];   /* copy of identity->mac1_key */
	uint8_t cookie_key[NOISE_SYMMETRIC_KEY_LEN]; /* copy of identity->cookie_key */
};

/* Per-peer: the cookie the peer gave us and the last mac1 we sent it. */
struct cookie_state {
	uint8_t cookie[COOKIE_LEN];
	uint64_t cookie_birth_ns;
	bool have_cookie;
	uint8_t last_mac1_sent[MAC_LEN];
	bool have_sent_mac1;
};

enum cookie_mac_state {
	COOKIE_MAC_INVALID = 0,             /* bad mac1: drop silently */
	COOKIE_MAC_VALID_NO_COOKIE,         /* mac1 ok, mac2 absent or wrong */
	COOKIE_MAC_VALID_WITH_COOKIE,       /* mac1 and mac2 ok */
};

/* Copies the identity's precomputed keys; call again whenever our key changes. */
void cookie_checker_init(struct cookie_checker *c, const struct noise_identity *id);
void cookie_checker_clear(struct cookie_checker *c);

/* msg/len: a whole handshake message (initiation or response) ending in
 * struct msg_macs. src/src_len: the sender's address bytes (IP || port).
 * mac2 is checked only when check_cookie is set (we are under load). */
enum cookie_mac_state cookie_validate(struct cookie_checker *c, const uint8_t *msg, size_t len,
                                      const uint8_t *src, size_t src_len, bool check_cookie,
                                      uint64_t now_ns);

/* Writes mac1 (and mac2 if we hold a cookie younger than 120 - 5 s) into the
 * message's trailing struct msg_macs; remembers mac1 for a cookie reply. */
void cookie_add_macs(struct cookie_state *st, const uint8_t peer_mac1_key[NOISE_SYMMETRIC_KEY_LEN],
                     uint8_t *msg, size_t len, uint64_t now_ns);

/* Builds a cookie reply to the refused message msg/len (its mac1 is the AD).
 * nonce may be NULL (random) or fixed for known-answer tests. */
int cookie_create_reply(struct cookie_checker *c, struct msg_cookie *out, const uint8_t *msg, size_t len,
                        uint32_t receiver_index, const uint8_t *src, size_t src_len,
                        const uint8_t *nonce, uint64_t now_ns) WUR;

/* Opens a cookie reply from the peer whose cookie_key is given and stores the
 * cookie. ERR_BADSTATE if we never sent a mac1, ERR_AUTH if it does not open (st
 * unchanged). A reply consumes the mac1 it answers: a second copy gets ERR_BADSTATE. */
int cookie_consume_reply(struct cookie_state *st, const uint8_t peer_cookie_key[NOISE_SYMMETRIC_KEY_LEN],
                         const struct msg_cookie *msg, uint64_t now_ns) WUR;

#endif
