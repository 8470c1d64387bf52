/* Fuzz target: a responder receiving arbitrary bytes where a handshake
 * initiation is expected. Fixed identities (the specs/awg.md §5.2 keys): the
 * responder knows exactly one peer, the KAT initiator. Each input runs through
 * cookie_validate (mac1 and, as if under load, mac2), then the two consume
 * stages and, when they succeed, the response and key derivation, checking the
 * protocol's invariants on the way. Deterministic: fixed keys, fixed cookie
 * secret, fixed ephemeral and nonce, fixed clock. */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "awg/cookie.h"
#include "awg/noise.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define NOW (1000 * NSEC_PER_SEC)

struct fixture {
	bool ready;
	struct noise_identity id;
	struct noise_peer_keys peer;   /* the one known initiator */
	struct cookie_checker checker; /* fixed secret born at NOW: never rotates */
	uint8_t ephemeral[NOISE_PUBLIC_KEY_LEN];
};
static struct fixture fx;

static const uint8_t src[] = { 198, 51, 100, 7, 0x1f, 0x90 };

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

	if (fx.ready)
		return;
	if (sodium_init() < 0)
		abort();
	unhex("4a3acbfdb163dec651dfa3194dece676d437029c62a408b4c5ea9114246e4893", key, sizeof(key));
	noise_identity_set(&fx.id, key);
	unhex("6bc3822a2aa7f4e6981d6538692b3cdf3e6df9eea6ed269eb41d93c22757b75a", key, sizeof(key));
	if (!fx.id.has_key || noise_peer_keys_init(&fx.peer, key, NULL) != 0)
		abort();
	unhex("bbdb4cdbd309f1a1f2e1456967fe288cadd6f712d65dc7b7793d5e63da6b375b", fx.ephemeral,
	      sizeof(fx.ephemeral));
	cookie_checker_init(&fx.checker, &fx.id);
	memset(fx.checker.secret, 0x42, sizeof(fx.checker.secret));
	fx.checker.secret_birth_ns = NOW;
	fx.checker.secret_valid = true;
	fx.ready = true;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const uint8_t nonce[COOKIE_NONCE_LEN] = { 1, 2, 3 };
	struct cookie_checker checker;
	struct cookie_state cookies;
	struct noise_initiation_state st;
	struct noise_handshake hs;
	struct msg_initiation msg;
	struct msg_response resp;
	struct msg_cookie reply;
	struct noise_keys keys;

	setup();
	checker = fx.checker;
	enum cookie_mac_state macs = cookie_validate(&checker, data, size, src, sizeof(src), true, NOW);
	if (macs != COOKIE_MAC_INVALID && size >= sizeof(struct msg_macs)) {
		/* What the device does under load: answer with a cookie reply. */
		uint32_t sender = size >= 8 ? le32_read(data + 4) : 0;
		if (cookie_create_reply(&checker, &reply, data, size, sender, src, sizeof(src), nonce, NOW) != 0)
			abort();
	}

	/* Stage one runs whatever mac1 said, so the fuzzer is not stuck behind it. */
	if (size != sizeof(msg))
		return 0;
	memcpy(&msg, data, sizeof(msg));
	if (noise_consume_initiation_begin(&fx.id, &msg, &st) != 0)
		return 0;
	if (sodium_memcmp(st.remote_static, fx.peer.remote_static, NOISE_PUBLIC_KEY_LEN) != 0) {
		sodium_memzero(&st, sizeof(st));
		return 0; /* unknown peer */
	}
	memset(&hs, 0, sizeof(hs));
	if (noise_consume_initiation_finish(&hs, &fx.id, &fx.peer, &st, &msg, NOW) != 0)
		return 0;
	if (hs.state != NOISE_HS_CONSUMED_INITIATION || hs.remote_index != le32_read(&msg.sender_index))
		abort();

	/* The same initiation again, even much later, is a replay. */
	if (noise_consume_initiation_begin(&fx.id, &msg, &st) != 0 ||
	    noise_consume_initiation_finish(&hs, &fx.id, &fx.peer, &st, &msg, NOW + NSEC_PER_SEC) != ERR_REPLAY)
		abort();

	/* A low-order initiator ephemeral already failed "es", so "ee" cannot fail here. */
	if (noise_create_response(&hs, &fx.id, &fx.peer, 0x55667788, fx.ephemeral, &resp) != 0)
		abort();
	memset(&cookies, 0, sizeof(cookies));
	cookie_add_macs(&cookies, fx.peer.mac1_key, (uint8_t *)&resp, sizeof(resp), NOW);
	if (noise_derive_keys(&hs, &keys) != 0 || hs.state != NOISE_HS_ZEROED || keys.is_initiator)
		abort();
	sodium_memzero(&keys, sizeof(keys));
	return 0;
}
