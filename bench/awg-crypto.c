/* Micro-benchmark of the WireGuard crypto core on one core: handshake
 * messages created and consumed per second, transport seal/open throughput
 * for 1420-byte packets and raw BLAKE2s speed. Build with optimisation, e.g.
 *   cc -O2 -march=native -D_GNU_SOURCE -Isrc bench/awg-crypto.c \
 *      src/awg/blake2s.c src/awg/noise.c src/awg/cookie.c -lsodium -o awg-crypto
 * Target (docs): >= 10,000 initiations consumed per second per core. */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sodium.h>

#include "awg/blake2s.h"
#include "awg/cookie.h"
#include "awg/noise.h"

#define RUN_SECONDS 1.0
#define PACKET_LEN 1420

/* CPU time of this process: a per-core rate even on a busy machine. */
static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void die(const char *what)
{
	fprintf(stderr, "awg-crypto: %s failed\n", what);
	exit(1);
}

struct bench {
	struct noise_identity init_id, resp_id;
	struct noise_peer_keys init_peer, resp_peer;
	struct cookie_state init_cookies, resp_cookies;
	struct cookie_checker checker;
	struct msg_initiation init;
	uint8_t ts[NOISE_TIMESTAMP_LEN];
};

static void setup(struct bench *b)
{
	uint8_t priv[NOISE_PUBLIC_KEY_LEN], psk[NOISE_SYMMETRIC_KEY_LEN];
	struct noise_handshake hs;

	memset(b, 0, sizeof(*b));
	noise_generate_private(priv);
	noise_identity_set(&b->init_id, priv);
	noise_generate_private(priv);
	noise_identity_set(&b->resp_id, priv);
	randombytes_buf(psk, sizeof(psk));
	if (noise_peer_keys_init(&b->init_peer, b->resp_id.public_key, psk) ||
	    noise_peer_keys_init(&b->resp_peer, b->init_id.public_key, psk))
		die("peer setup");
	cookie_checker_init(&b->checker, &b->resp_id);
	noise_tai64n(b->ts, 1700000000, 0);
	memset(&hs, 0, sizeof(hs));
	if (noise_create_initiation(&hs, &b->init_id, &b->init_peer, 1, b->ts, NULL, &b->init))
		die("create initiation");
	cookie_add_macs(&b->init_cookies, b->init_peer.mac1_key, (uint8_t *)&b->init, sizeof(b->init), 0);
	noise_handshake_clear(&hs);
}

/* Responder: mac1 check, both consume stages. The responder's replay state is
 * reset each time so the same initiation is accepted again. */
static void consume_initiation(struct bench *b, uint64_t i, bool respond)
{
	struct noise_initiation_state st;
	struct noise_handshake hs;
	struct msg_response resp;
	struct noise_keys keys;

	if (cookie_validate(&b->checker, (const uint8_t *)&b->init, sizeof(b->init), NULL, 0, false, i) !=
	    COOKIE_MAC_VALID_NO_COOKIE)
		die("mac1");
	memset(&hs, 0, sizeof(hs));
	if (noise_consume_initiation_begin(&b->resp_id, &b->init, &st) ||
	    noise_consume_initiation_finish(&hs, &b->resp_id, &b->resp_peer, &st, &b->init, i))
		die("consume initiation");
	if (!respond) {
		noise_handshake_clear(&hs);
		return;
	}
	if (noise_create_response(&hs, &b->resp_id, &b->resp_peer, 2, NULL, &resp))
		die("create response");
	cookie_add_macs(&b->resp_cookies, b->resp_peer.mac1_key, (uint8_t *)&resp, sizeof(resp), i);
	if (noise_derive_keys(&hs, &keys))
		die("derive");
	sodium_memzero(&keys, sizeof(keys));
}

static void create_initiation(struct bench *b, uint64_t i)
{
	struct noise_handshake hs;
	struct msg_initiation msg;

	memset(&hs, 0, sizeof(hs));
	if (noise_create_initiation(&hs, &b->init_id, &b->init_peer, (uint32_t)i, b->ts, NULL, &msg))
		die("create initiation");
	cookie_add_macs(&b->init_cookies, b->init_peer.mac1_key, (uint8_t *)&msg, sizeof(msg), i);
	noise_handshake_clear(&hs);
}

static void report(const char *what, uint64_t n, double secs, const char *unit)
{
	printf("%-44s %12.0f %s/s  (%.2f us each)\n", what, (double)n / secs, unit, secs * 1e6 / (double)n);
}

int main(void)
{
	static uint8_t packet[PACKET_LEN + NOISE_AUTHTAG_LEN], plain[PACKET_LEN], hashbuf[1024];
	uint8_t key[NOISE_SYMMETRIC_KEY_LEN], digest[BLAKE2S_HASH_LEN];
	struct bench b;
	uint64_t n;
	double t0, t;

	if (sodium_init() < 0)
		die("sodium_init");
	setup(&b);

	for (int pass = 0; pass < 2; pass++) {
		const char *name = pass ? "initiation consumed + response + keys" : "initiations consumed (mac1+begin+finish)";
		t0 = now_s();
		for (n = 0;; n++) {
			consume_initiation(&b, n, pass == 1);
			if ((n & 63) == 63 && (t = now_s() - t0) >= RUN_SECONDS)
				break;
		}
		report(name, n + 1, t, "msg");
	}

	t0 = now_s();
	for (n = 0;; n++) {
		create_initiation(&b, n);
		if ((n & 63) == 63 && (t = now_s() - t0) >= RUN_SECONDS)
			break;
	}
	report("initiations created (with mac1)", n + 1, t, "msg");

	randombytes_buf(key, sizeof(key));
	randombytes_buf(plain, sizeof(plain));
	t0 = now_s();
	for (n = 0;; n++) {
		noise_seal(packet, plain, PACKET_LEN, n, key);
		if ((n & 1023) == 1023 && (t = now_s() - t0) >= RUN_SECONDS)
			break;
	}
	report("seal 1420-byte packets", n + 1, t, "pkt");
	printf("%-44s %12.1f MB/s\n", "  seal throughput", (double)(n + 1) * PACKET_LEN / t / 1e6);

	noise_seal(packet, plain, PACKET_LEN, 7, key);
	t0 = now_s();
	for (n = 0;; n++) {
		if (noise_open(plain, packet, sizeof(packet), 7, key))
			die("open");
		if ((n & 1023) == 1023 && (t = now_s() - t0) >= RUN_SECONDS)
			break;
	}
	report("open 1420-byte packets", n + 1, t, "pkt");
	printf("%-44s %12.1f MB/s\n", "  open throughput", (double)(n + 1) * PACKET_LEN / t / 1e6);

	randombytes_buf(hashbuf, sizeof(hashbuf));
	t0 = now_s();
	for (n = 0;; n++) {
		blake2s(digest, sizeof(digest), NULL, 0, hashbuf, sizeof(hashbuf));
		hashbuf[0] ^= digest[0];
		if ((n & 1023) == 1023 && (t = now_s() - t0) >= RUN_SECONDS)
			break;
	}
	printf("%-44s %12.1f MB/s\n", "BLAKE2s over 1 KiB inputs", (double)(n + 1) * sizeof(hashbuf) / t / 1e6);
	return 0;
}
