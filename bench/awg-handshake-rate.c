/* Handshake initiations a responder consumes per second on one core.
 *
 * Setup (not timed): one responder identity with P configured peers (each with
 * a preshared key and its static DH already cached, as after a first
 * handshake), and M valid initiations precomputed by those P initiators,
 * every one from a fresh ephemeral key (noise_create_initiation with a random
 * ephemeral) and with mac1. Initiation j comes from peer j % P and carries
 * timestamp base + j, so every peer's timestamps strictly increase.
 *
 * Measured, single thread, CPU time of this thread (a per-core rate even when
 * the machine is busy), plus wall time:
 *
 *   core path  the Noise and cookie cores driven directly, as the control
 *              thread does in handshake_process():
 *                mac1          cookie_validate only
 *                begin         + noise_consume_initiation_begin
 *                consume only  + peer lookup + noise_consume_initiation_finish
 *                full response + noise_create_response + mac1 on the response
 *                              + noise_derive_keys
 *              The peer lookup is a hash table keyed on the first 8 bytes of
 *              the public key with 2^14 buckets, the same scheme as peer.c
 *              (whose table is internal to the engine).
 *              The responder clock is virtual (1 ms per initiation) so the
 *              20 ms flood limit of noise_consume_initiation_finish never
 *              refuses a message; between passes over the M messages each
 *              peer's replay state is reset (untimed).
 *
 *   engine     the whole engine through its public API: a struct device
 *              without TUN, configured
 *              with the same P peers over UAPI; initiations are fed with
 *              device_inject_datagram() (rx classification, handshake queue)
 *              and processed with device_process_pending() (handshake_process:
 *              mac1, both consume stages, peer_lookup, index table, response,
 *              keypair install; then one timers tick per batch). Counted
 *              through DEV_EVENT_HANDSHAKE events. The engine reads the real
 *              clock, so each peer's initiations must be 20 ms apart: the
 *              messages cycle round-robin over P peers (P / rate >> 20 ms).
 *              Setting a private key makes the engine bind a UDP port and it
 *              sends each response, so this part first moves the process into
 *              a new, empty network namespace (unshare(CLONE_NEWNET), needs
 *              root): every send fails there with ENETUNREACH and nothing
 *              reaches any network. Without that namespace it is skipped.
 *
 * Usage: awg-handshake-rate [-p PEERS] [-m MESSAGES] [-t SECONDS]
 * Target (docs): >= 10,000 initiations consumed per second per core. */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sched.h>
#include <time.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sodium.h>

#include "awg/cookie.h"
#include "awg/device.h"
#include "awg/noise.h"
#include "lib/addr.h"
#include "lib/mem.h"

#define TARGET_PER_SEC 10000.0
#define BUCKETS (1U << 14)
#define ENGINE_BATCH 64 /* below DEV_UNDER_LOAD_QUEUE: no cookie replies */
#define TS_BASE 1700000000ULL

struct clocks {
	double cpu, wall;
};

static struct clocks clocks_now(void)
{
	struct timespec c, w;

	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &c);
	clock_gettime(CLOCK_MONOTONIC, &w);
	return (struct clocks){ (double)c.tv_sec + (double)c.tv_nsec / 1e9, (double)w.tv_sec + (double)w.tv_nsec / 1e9 };
}

static void die(const char *what)
{
	fprintf(stderr, "awg-handshake-rate: %s failed\n", what);
	exit(1);
}

struct initiator {
	struct noise_identity id;
	struct noise_peer_keys pk; /* towards the responder */
	struct cookie_state cookies;
	uint8_t psk[NOISE_SYMMETRIC_KEY_LEN];
};

/* The responder's view of one peer: what handshake_process() touches. */
struct rpeer {
	struct rpeer *next;
	uint8_t public_key[NOISE_PUBLIC_KEY_LEN];
	struct noise_peer_keys nkeys;
	struct noise_handshake hs;
	struct cookie_state cookies;
};

struct responder {
	struct noise_identity id;
	struct cookie_checker checker;
	struct rpeer *peers;
	struct rpeer *buckets[BUCKETS];
};

struct bench {
	unsigned npeers, nmsgs;
	double seconds;
	struct initiator *init;
	struct responder resp;
	struct msg_initiation *msgs;
	uint8_t src[6]; /* sender address bytes for mac2/cookie: 203.0.113.101:51821 */
};

static size_t bucket_of(const uint8_t pub[NOISE_PUBLIC_KEY_LEN])
{
	uint64_t h;

	memcpy(&h, pub, sizeof(h));
	return (size_t)(h & (BUCKETS - 1));
}

static struct rpeer *lookup(struct responder *r, const uint8_t pub[NOISE_PUBLIC_KEY_LEN])
{
	for (struct rpeer *p = r->buckets[bucket_of(pub)]; p; p = p->next)
		if (!memcmp(p->public_key, pub, NOISE_PUBLIC_KEY_LEN))
			return p;
	return NULL;
}

static void setup(struct bench *b)
{
	uint8_t priv[NOISE_PUBLIC_KEY_LEN];
	struct responder *r = &b->resp;

	noise_generate_private(priv);
	noise_identity_set(&r->id, priv);
	cookie_checker_init(&r->checker, &r->id);
	b->init = calloc(b->npeers, sizeof(*b->init));
	r->peers = calloc(b->npeers, sizeof(*r->peers));
	b->msgs = calloc(b->nmsgs, sizeof(*b->msgs));
	if (!b->init || !r->peers || !b->msgs)
		die("calloc");
	for (unsigned i = 0; i < b->npeers; i++) {
		struct initiator *in = &b->init[i];
		struct rpeer *rp = &r->peers[i];

		noise_generate_private(priv);
		noise_identity_set(&in->id, priv);
		randombytes_buf(in->psk, sizeof(in->psk));
		if (noise_peer_keys_init(&in->pk, r->id.public_key, in->psk) ||
		    noise_peer_keys_init(&rp->nkeys, in->id.public_key, in->psk))
			die("noise_peer_keys_init");
		/* The static DH is computed at a peer's first handshake; compute it
		 * here so the timed passes measure peers that have handshaken before. */
		if (noise_peer_keys_static_dh(&rp->nkeys, &r->id))
			die("noise_peer_keys_static_dh");
		memcpy(rp->public_key, in->id.public_key, NOISE_PUBLIC_KEY_LEN);
		size_t k = bucket_of(rp->public_key);
		rp->next = r->buckets[k];
		r->buckets[k] = rp;
	}
	for (unsigned j = 0; j < b->nmsgs; j++) {
		struct initiator *in = &b->init[j % b->npeers];
		struct noise_handshake hs;
		uint8_t ts[NOISE_TIMESTAMP_LEN];

		memset(&hs, 0, sizeof(hs));
		noise_tai64n(ts, TS_BASE + j, 0);
		if (noise_create_initiation(&hs, &in->id, &in->pk, j + 1, ts, NULL, &b->msgs[j]))
			die("noise_create_initiation");
		cookie_add_macs(&in->cookies, in->pk.mac1_key, (uint8_t *)&b->msgs[j], sizeof(b->msgs[j]), 0);
		noise_handshake_clear(&hs);
	}
	sodium_memzero(priv, sizeof(priv));
	memcpy(b->src, (uint8_t[]){ 203, 0, 113, 101, 0xca, 0x6d }, 6);
}

/* Forget every accepted timestamp so the same messages are fresh again. */
static void reset_replay(struct responder *r, unsigned npeers)
{
	for (unsigned i = 0; i < npeers; i++) {
		struct noise_handshake *hs = &r->peers[i].hs;

		noise_handshake_clear(hs);
		memset(hs->latest_timestamp, 0, sizeof(hs->latest_timestamp));
		hs->last_initiation_consumed_ns = 0;
		hs->have_consumed_initiation = false;
	}
}

enum stage { ST_MAC1, ST_BEGIN, ST_CONSUME, ST_FULL };

static const char *const stage_name[] = {
	"mac1 (cookie_validate)",
	"mac1 + consume_initiation_begin",
	"consume only (mac1+begin+lookup+finish)",
	"full response (+create_response+mac1+derive)",
};

/* One responder step on message j at virtual time now; stops at `upto`. */
static void respond(struct bench *b, unsigned j, uint64_t now, enum stage upto)
{
	struct responder *r = &b->resp;
	const struct msg_initiation *m = &b->msgs[j];
	struct msg_initiation msg;
	struct noise_initiation_state st;
	struct msg_response out;
	struct noise_keys keys;

	if (cookie_validate(&r->checker, (const uint8_t *)m, sizeof(*m), b->src, sizeof(b->src), false, now) ==
	    COOKIE_MAC_INVALID)
		die("mac1 check");
	if (upto == ST_MAC1)
		return;
	msg = *m; /* the engine works on its queued copy too */
	if (noise_consume_initiation_begin(&r->id, &msg, &st))
		die("noise_consume_initiation_begin");
	if (upto == ST_BEGIN) {
		sodium_memzero(&st, sizeof(st));
		return;
	}
	struct rpeer *p = lookup(r, st.remote_static);
	if (!p)
		die("peer lookup");
	if (noise_consume_initiation_finish(&p->hs, &r->id, &p->nkeys, &st, &msg, now))
		die("noise_consume_initiation_finish");
	if (upto == ST_CONSUME)
		return;
	if (noise_create_response(&p->hs, &r->id, &p->nkeys, j + 1, NULL, &out))
		die("noise_create_response");
	cookie_add_macs(&p->cookies, p->nkeys.mac1_key, (uint8_t *)&out, sizeof(out), now);
	if (noise_derive_keys(&p->hs, &keys))
		die("noise_derive_keys");
	sodium_memzero(&keys, sizeof(keys));
}

struct result {
	unsigned long n;
	double cpu, wall;
};

static struct result run_core(struct bench *b, enum stage upto)
{
	struct result res = { 0 };
	uint64_t now = 1000 * NSEC_PER_SEC;

	while (res.cpu < b->seconds) {
		reset_replay(&b->resp, b->npeers);
		struct clocks t0 = clocks_now();
		for (unsigned j = 0; j < b->nmsgs; j++) {
			now += NSEC_PER_MSEC;
			respond(b, j, now, upto);
		}
		struct clocks t1 = clocks_now();
		res.cpu += t1.cpu - t0.cpu;
		res.wall += t1.wall - t0.wall;
		res.n += b->nmsgs;
	}
	return res;
}

static void count_handshakes(void *ctx, const struct device_event *ev)
{
	if (ev->type == DEV_EVENT_HANDSHAKE)
		++*(unsigned long *)ctx;
}

static void hex(char *out, const uint8_t *in, size_t n)
{
	static const char digits[] = "0123456789abcdef";

	for (size_t i = 0; i < n; i++) {
		out[2 * i] = digits[in[i] >> 4];
		out[2 * i + 1] = digits[in[i] & 15];
	}
	out[2 * n] = '\0';
}

/* The engine configured like the core: same identity and peers, over UAPI. */
static struct device *engine_new(struct bench *b, unsigned long *handshakes)
{
	struct device_options o = { .ifname = "bench", .tun_fd = -1, .no_tun = true };
	struct device *dev = NULL;
	size_t cap = 128 + (size_t)b->npeers * 160, len = 0;
	char *req = malloc(cap), *reply = NULL, h[2 * NOISE_PUBLIC_KEY_LEN + 1], h2[2 * NOISE_PUBLIC_KEY_LEN + 1];
	size_t reply_len = 0;

	if (!req)
		die("malloc");
	if (device_new(&dev, &o) < 0)
		die("device_new");
	hex(h, b->resp.id.private_key, NOISE_PUBLIC_KEY_LEN);
	len += (size_t)snprintf(req + len, cap - len, "set=1\nprivate_key=%s\n", h);
	for (unsigned i = 0; i < b->npeers; i++) {
		hex(h, b->init[i].id.public_key, NOISE_PUBLIC_KEY_LEN);
		hex(h2, b->init[i].psk, NOISE_SYMMETRIC_KEY_LEN);
		len += (size_t)snprintf(req + len, cap - len, "public_key=%s\npreshared_key=%s\n", h, h2);
	}
	len += (size_t)snprintf(req + len, cap - len, "\n");
	if (device_uapi_request(dev, req, len, &reply, &reply_len) < 0 || !reply || strncmp(reply, "errno=0\n", 8))
		die("UAPI set");
	sodium_memzero(req, cap);
	free(req);
	mem_free(reply);
	device_set_event_handler(dev, count_handshakes, handshakes);
	return dev;
}

static struct result run_engine(struct bench *b, unsigned long *accepted)
{
	struct result res = { 0 };
	unsigned long handshakes = 0;
	struct device *dev = engine_new(b, &handshakes);
	union endpoint src;
	uint8_t dgram[sizeof(struct msg_initiation)];

	memset(&src, 0, sizeof(src));
	src.in4.sin_family = AF_INET;
	src.in4.sin_port = htons(51821);
	src.in4.sin_addr.s_addr = htonl(0xcb007165); /* 203.0.113.101: unreachable in our empty netns */

	/* One pass only: the engine keeps the accepted timestamps. */
	struct clocks t0 = clocks_now();
	for (unsigned j = 0; j < b->nmsgs;) {
		unsigned end = j + ENGINE_BATCH < b->nmsgs ? j + ENGINE_BATCH : b->nmsgs;
		for (; j < end; j++) {
			memcpy(dgram, &b->msgs[j], sizeof(dgram));
			device_inject_datagram(dev, dgram, sizeof(dgram), &src);
		}
		device_process_pending(dev);
	}
	struct clocks t1 = clocks_now();
	res.cpu = t1.cpu - t0.cpu;
	res.wall = t1.wall - t0.wall;
	res.n = b->nmsgs;
	*accepted = handshakes;
	device_free(dev);
	return res;
}

static void report(const char *name, struct result r)
{
	double rate = (double)r.n / r.cpu;

	printf("  %-46s %9.0f /s per core  (%6.1f us each; wall %9.0f /s)  %s\n", name, rate, 1e6 * r.cpu / (double)r.n,
	       (double)r.n / r.wall, rate >= TARGET_PER_SEC ? "target met" : "BELOW TARGET");
}

int main(int argc, char **argv)
{
	struct bench *b = calloc(1, sizeof(*b));
	int opt;

	if (!b)
		die("calloc");
	b->npeers = 1000;
	b->nmsgs = 8192;
	b->seconds = 2.0;
	while ((opt = getopt(argc, argv, "p:m:t:")) != -1) {
		switch (opt) {
		case 'p':
			b->npeers = (unsigned)strtoul(optarg, NULL, 10);
			break;
		case 'm':
			b->nmsgs = (unsigned)strtoul(optarg, NULL, 10);
			break;
		case 't':
			b->seconds = strtod(optarg, NULL);
			break;
		default:
			fprintf(stderr, "usage: %s [-p PEERS] [-m MESSAGES] [-t SECONDS]\n", argv[0]);
			return 2;
		}
	}
	if (b->npeers < 1 || b->nmsgs < b->npeers || b->seconds <= 0) {
		fprintf(stderr, "%s: need PEERS >= 1, MESSAGES >= PEERS, SECONDS > 0\n", argv[0]);
		return 2;
	}
	if (sodium_init() < 0)
		die("sodium_init");

	struct clocks s0 = clocks_now();
	setup(b);
	struct clocks s1 = clocks_now();
	printf("responder with %u peers (PSK each); %u precomputed initiations, distinct ephemerals; "
	       "setup %.2f s (%.0f initiations created /s)\n",
	       b->npeers, b->nmsgs, s1.wall - s0.wall, (double)b->nmsgs / (s1.cpu - s0.cpu));
	printf("core path (noise/cookie cores; one core; >= %.1f s CPU each):\n", b->seconds);
	struct result r[4];
	for (int s = ST_MAC1; s <= ST_FULL; s++) {
		r[s] = run_core(b, (enum stage)s);
		report(stage_name[s], r[s]);
	}
	printf("  cost per stage: mac1 %.1f us, begin %.1f us, lookup+finish %.1f us, response+derive %.1f us\n",
	       1e6 * r[ST_MAC1].cpu / (double)r[ST_MAC1].n,
	       1e6 * (r[ST_BEGIN].cpu / (double)r[ST_BEGIN].n - r[ST_MAC1].cpu / (double)r[ST_MAC1].n),
	       1e6 * (r[ST_CONSUME].cpu / (double)r[ST_CONSUME].n - r[ST_BEGIN].cpu / (double)r[ST_BEGIN].n),
	       1e6 * (r[ST_FULL].cpu / (double)r[ST_FULL].n - r[ST_CONSUME].cpu / (double)r[ST_CONSUME].n));

	/* The engine sends its responses: only ever into an empty namespace. */
	if (unshare(CLONE_NEWNET) < 0) {
		printf("engine: skipped (unshare(CLONE_NEWNET) failed: %s; run as root)\n", strerror(errno));
		goto out;
	}
	unsigned long accepted = 0;
	struct result e = run_engine(b, &accepted);
	printf("engine (device_inject_datagram + device_process_pending, in an empty netns; one pass):\n");
	report("full response via handshake_process()", e);
	if (accepted != e.n)
		printf("  WARNING: the engine accepted %lu of %lu initiations (flood limit or under-load cookies); "
		       "use more peers (-p)\n", accepted, e.n);
	printf("  accepted %lu of %lu; engine/core full-response ratio %.2f\n", accepted, e.n,
	       ((double)e.n / e.cpu) / ((double)r[ST_FULL].n / r[ST_FULL].cpu));

out:
	for (unsigned i = 0; i < b->npeers; i++) {
		noise_identity_clear(&b->init[i].id);
		sodium_memzero(b->init[i].psk, sizeof(b->init[i].psk));
		sodium_memzero(&b->resp.peers[i], sizeof(b->resp.peers[i]));
	}
	noise_identity_clear(&b->resp.id);
	cookie_checker_clear(&b->resp.checker);
	free(b->init);
	free(b->resp.peers);
	free(b->msgs);
	free(b);
	return 0;
}
