/* Fuzz target: cookie replies. A 64-byte input is a cookie reply received by
 * the specs/awg.md §5.2 initiator (who last sent the KAT initiation's mac1);
 * any input of at least 32 bytes is also treated as a refused handshake
 * message: the responder's checker answers it and the reply must open on the
 * initiator's side to exactly MAC(secret, src). Deterministic: fixed keys,
 * secret, nonce and clock. */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "awg/blake2s.h"
#include "awg/cookie.h"
#include "awg/noise.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define NOW (1000 * NSEC_PER_SEC)

struct fixture {
	bool ready;
	struct noise_identity responder;
	struct noise_peer_keys responder_as_peer; /* the initiator's view of the responder */
	struct cookie_state sent;                 /* the initiator after sending the KAT initiation */
	struct cookie_checker checker;            /* the responder's, fixed secret */
	uint8_t initiation[sizeof(struct msg_initiation)];
};
static struct fixture fx;

static const uint8_t src[] = { 0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0xca, 0x6c };

static void unhex(const char *hex, uint8_t *out, size_t len)
{
	for (size_t i = 0; i < len; i++) {
		unsigned v;
		if (sscanf(hex + 2 * i, "%2x", &v) != 1)
			abort();
		out[i] = (uint8_t)v;
	}
}

static void setup(void)
{
	uint8_t key[NOISE_PUBLIC_KEY_LEN];
	struct noise_identity initiator;

	if (fx.ready)
		return;
	if (sodium_init() < 0)
		abort();
	unhex("4a3acbfdb163dec651dfa3194dece676d437029c62a408b4c5ea9114246e4893", key, sizeof(key));
	noise_identity_set(&fx.responder, key);
	unhex("e61ef9919cde45dd5f82166404bd08e38bceb5dfdfded0a34c8df7ed542214d1", key, sizeof(key));
	noise_identity_set(&initiator, key);
	if (!fx.responder.has_key || !initiator.has_key ||
	    noise_peer_keys_init(&fx.responder_as_peer, fx.responder.public_key, NULL) != 0)
		abort();
	noise_identity_clear(&initiator);
	unhex("0100000044332211ca35def5ae56cec33dc2036731ab14896bc4c75dbb07a61f879f8e3afa4c7944"
	      "001e21de9f98ddd8e2ad57527207feb56253c9c94a9e496782ecfcb2a75fbcaf752d6cf9956f6a4c"
	      "c1a138d6de1e87238cbd2c462d6bf53d84c83619a6663feb6f8d477c30b0c2f2ef2b3aed1f2bbce3"
	      "ebe3ae63d4699557582d22ca00000000000000000000000000000000",
	      fx.initiation, sizeof(fx.initiation));
	cookie_add_macs(&fx.sent, fx.responder_as_peer.mac1_key, fx.initiation, sizeof(fx.initiation), NOW);
	cookie_checker_init(&fx.checker, &fx.responder);
	memset(fx.checker.secret, 0x33, sizeof(fx.checker.secret));
	fx.checker.secret_birth_ns = NOW;
	fx.checker.secret_valid = true;
	fx.ready = true;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const uint8_t nonce[COOKIE_NONCE_LEN] = { 0xa5, 0x5a };
	struct cookie_state st;
	struct cookie_checker checker;
	struct msg_cookie reply;
	uint8_t msg[sizeof(struct msg_initiation)], cookie[COOKIE_LEN];

	setup();

	/* The input as a cookie reply to the KAT initiation. */
	if (size == sizeof(reply)) {
		memcpy(&reply, data, sizeof(reply));
		memcpy(&st, &fx.sent, sizeof(st));
		int ret = cookie_consume_reply(&st, fx.responder_as_peer.cookie_key, &reply, NOW);
		if (ret == 0) {
			if (!st.have_cookie || st.have_sent_mac1)
				abort();
			/* The next initiation carries mac2 with this cookie. */
			memcpy(msg, fx.initiation, sizeof(msg));
			cookie_add_macs(&st, fx.responder_as_peer.mac1_key, msg, sizeof(msg), NOW + 1);
			if (sodium_is_zero(msg + offsetof(struct msg_initiation, macs.mac2), MAC_LEN))
				abort();
		} else if (ret != ERR_AUTH || memcmp(&st, &fx.sent, sizeof(st)) != 0) {
			abort();
		}
	}

	/* The input as a refused handshake message: reply, open, compare. */
	if (size < sizeof(struct msg_macs))
		return 0;
	checker = fx.checker;
	if (cookie_create_reply(&checker, &reply, data, size, 7, src, sizeof(src), nonce, NOW) != 0)
		abort();
	memset(&st, 0, sizeof(st));
	memcpy(st.last_mac1_sent, data + size - sizeof(struct msg_macs), MAC_LEN);
	st.have_sent_mac1 = true;
	if (cookie_consume_reply(&st, fx.responder_as_peer.cookie_key, &reply, NOW) != 0)
		abort();
	blake2s(cookie, COOKIE_LEN, checker.secret, sizeof(checker.secret), src, sizeof(src));
	if (memcmp(cookie, st.cookie, COOKIE_LEN) != 0)
		abort();
	return 0;
}
