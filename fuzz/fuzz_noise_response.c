/* Fuzz target: an initiator that sent the specs/awg.md §5.2 initiation (fixed
 * keys, fixed ephemeral, index 0x11223344) receives arbitrary bytes where the
 * response is expected. Each input goes through cookie_validate (mac1 of a
 * message to the initiator) and noise_consume_response; a response that is
 * accepted must yield working transport keys. Deterministic: everything fixed. */
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
#define LOCAL_INDEX 0x11223344U

struct fixture {
	bool ready;
	struct noise_identity id;
	struct noise_peer_keys peer;     /* the responder */
	struct noise_handshake hs;       /* CREATED_INITIATION, copied per input */
	struct cookie_checker checker;
};
static struct fixture fx;

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
	uint8_t key[NOISE_PUBLIC_KEY_LEN], ephemeral[NOISE_PUBLIC_KEY_LEN], ts[NOISE_TIMESTAMP_LEN];
	struct msg_initiation init;

	if (fx.ready)
		return;
	if (sodium_init() < 0)
		abort();
	unhex("e61ef9919cde45dd5f82166404bd08e38bceb5dfdfded0a34c8df7ed542214d1", key, sizeof(key));
	noise_identity_set(&fx.id, key);
	unhex("31e0303fd6418d2f8c0e78b91f22e8caed0fbe48656dcf4767e4834f701b8f62", key, sizeof(key));
	if (!fx.id.has_key || noise_peer_keys_init(&fx.peer, key, NULL) != 0)
		abort();
	unhex("893e28b9dc6ca8d611ab664754b8ceb7bac5117349a4439a6b0569da977c464a", ephemeral, sizeof(ephemeral));
	noise_tai64n(ts, 1700000000, 0);
	if (noise_create_initiation(&fx.hs, &fx.id, &fx.peer, LOCAL_INDEX, ts, ephemeral, &init) != 0)
		abort();
	cookie_checker_init(&fx.checker, &fx.id);
	memset(fx.checker.secret, 0x24, sizeof(fx.checker.secret));
	fx.checker.secret_birth_ns = NOW;
	fx.checker.secret_valid = true;
	fx.ready = true;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct cookie_checker checker;
	struct noise_handshake hs;
	struct msg_response msg;
	struct noise_keys keys;
	uint8_t packet[64 + NOISE_AUTHTAG_LEN], plain[64];

	setup();
	checker = fx.checker;
	(void)cookie_validate(&checker, data, size, data, size < 18 ? size : 18, true, NOW);

	if (size != sizeof(msg))
		return 0;
	memcpy(&msg, data, sizeof(msg));
	hs = fx.hs;
	int ret = noise_consume_response(&hs, &fx.id, &fx.peer, &msg);
	if (ret != 0) {
		/* A refused response leaves the handshake as it was. */
		if (memcmp(hs.chaining_key, fx.hs.chaining_key, sizeof(hs.chaining_key)) != 0 ||
		    memcmp(hs.hash, fx.hs.hash, sizeof(hs.hash)) != 0 || hs.state != fx.hs.state)
			abort();
		return 0;
	}
	if (hs.state != NOISE_HS_CONSUMED_RESPONSE || hs.remote_index != le32_read(&msg.sender_index))
		abort();
	/* A second copy of the response is refused. */
	if (noise_consume_response(&hs, &fx.id, &fx.peer, &msg) != ERR_BADSTATE)
		abort();
	if (noise_derive_keys(&hs, &keys) != 0 || !keys.is_initiator || keys.local_index != LOCAL_INDEX)
		abort();

	/* The keys work: seal with send, it must not open with recv (distinct keys). */
	memset(plain, 0x45, sizeof(plain));
	noise_seal(packet, plain, sizeof(plain), 1, keys.send_key);
	if (noise_open(plain, packet, sizeof(packet), 1, keys.send_key) != 0 ||
	    noise_open(plain, packet, sizeof(packet), 1, keys.recv_key) != ERR_AUTH)
		abort();
	sodium_memzero(&keys, sizeof(keys));
	return 0;
}
