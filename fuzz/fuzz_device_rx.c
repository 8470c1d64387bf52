/* Fuzz target: one datagram arriving at a whole device, the way the rx thread
 * hands it over (device_inject_datagram: AmneziaWG classification, transport
 * decryption, replay window, key confirmation, cryptokey routing, handshake
 * queue), followed by the control thread's work (device_process_pending:
 * mac1/mac2, cookie replies, initiation, response, keypair install, timers).
 *
 * One device without TUN, never started, with a fixed private key; for each
 * input one peer with a fixed key is configured over UAPI and removed again
 * afterwards (replace_peers), and the device must then hold no index entry,
 * no peer and no queued handshake: nothing outlives its peer. (Creating a
 * device per input would spend most of the time allocating and wiping its
 * tables.) The first input byte selects the setup, the rest is the datagram:
 *
 *   bits 0-1  obfuscation: 0 plain WireGuard; 1 AmneziaWG 2.0 (S1..S4, H
 *             ranges, junk, I1); 2 AmneziaWG 1.0 (S1, S2, single H values);
 *             3 plain wire format with junk and I1 only
 *   bits 2-3  state: 0 no session; 1 our initiation to the peer is in flight
 *             (index FX_INIT_INDEX), so responses and cookie replies can
 *             match; 2 a responder keypair awaits confirmation (index
 *             FX_KP_INDEX); 3 a confirmed initiator keypair (FX_KP_INDEX)
 *   bit 4     the rest is the plaintext of a transport message that this
 *             harness seals under the state 2/3 keypair (counter 0), so the
 *             fuzzer reaches the checks on decrypted inner packets
 *   bit 5     under load: handshake messages need a valid mac2 (the cookie
 *             secret is fixed) or are answered with a cookie reply
 *   bit 6     the datagram comes from [::1]:FX_SRC_PORT, not 127.0.0.1
 *
 * Everything the seeds depend on is fixed (keys, our initiation's ephemeral
 * and timestamp, indices, the cookie secret), so tests/tools/
 * gen_fuzz_device_rx.c can write valid initiations, responses, cookie replies
 * and transport messages for it. The setup reaches into the engine's
 * internals (devpriv.h: index_add, peer_install_keypair, the cookie secret,
 * the under-load flag, the rate limit) to put the device in each state
 * without a network.
 * Invariant checked on every delivery: the
 * inner packet is well formed and its source is one of the peer's allowed
 * IPs. The device binds a UDP port on the wildcard address and sends what it
 * would send (responses, cookie replies, keepalives) to FX_SRC_PORT on the
 * loopback address, where nothing is expected to listen. */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "awg/devpriv.h"
#include "awg/ratelimit.h"
#include "lib/log.h"
#include "lib/mem.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FX_INIT_INDEX 0x1a2b3c4du /* our in-flight initiation (state 1) */
#define FX_KP_INDEX 0x5e6f7081u   /* our keypair (states 2, 3) */
#define FX_PEER_INDEX 0x99aabbccu /* the peer's index for that keypair */
#define FX_SRC_PORT 9             /* discard: the peer's port, where our replies go */
#define FX_MAX_PLAINTEXT 65000

#define FX_OBF(mode) ((mode) & 3u)
#define FX_STATE(mode) (((mode) >> 2) & 3u)
#define FX_SEAL 0x10u
#define FX_LOAD 0x20u
#define FX_V6 0x40u

static const char fx_device_private[] = "e84b5a4c1e9fd5d9a7e1a1f1e8d1e2c3b4a5968778695a4b3c2d1e0f1a2b3c4d";
static const char fx_peer_private[] = "a05e2f1d4c3b2a1908f7e6d5c4b3a2918070605040302010f0e0d0c0b0a09048";
static const uint8_t fx_send_key[NOISE_SYMMETRIC_KEY_LEN] = { 0x51, 0x51, 0x51 }; /* ours; rest zero */
static const uint8_t fx_recv_key[NOISE_SYMMETRIC_KEY_LEN] = { 0x52, 0x52, 0x52 };
static const uint8_t fx_ephemeral[NOISE_PUBLIC_KEY_LEN] = { 0x88, 0x77, 0x66, 0x55 };
static const uint8_t fx_cookie_secret_byte = 0x42;
#define FX_TIMESTAMP_SEC 1767225600u /* 2026-01-01, our initiation's TAI64N */

/* Device lines per obfuscation mode (sizes 148+S1, 92+S2, 64+S3, 32+S4 all differ). */
static const char *const fx_obf_lines[4] = {
	"",
	("jc=3\njmin=10\njmax=50\ns1=15\ns2=18\ns3=20\ns4=23\nh1=100000-100999\nh2=200000-200999\n"
	 "h3=300000-300999\nh4=400000-400999\ni1=<b 0xc0ff><r 8><t>\n"),
	"jc=2\njmin=10\njmax=50\ns1=20\ns2=30\nh1=1111\nh2=2222\nh3=3333\nh4=4444\n",
	"jc=2\njmin=8\njmax=16\ni1=<b 0x0102><t>\n",
};

/* Every AWG key back to plain WireGuard; a mode's lines follow in the same set. */
static const char fx_obf_reset[] = "jc=0\njmin=0\njmax=0\ns1=0\ns2=0\ns3=0\ns4=0\nh1=1\nh2=2\nh3=3\nh4=4\n"
                                   "i1=\ni2=\ni3=\ni4=\ni5=\n";

struct fixture {
	struct device *dev;
	struct peer *peer;
	uint8_t mode;
	uint8_t peer_public[NOISE_PUBLIC_KEY_LEN];
	struct msg_initiation init; /* state 1: the initiation we "sent" (type 1, mac1 set) */
	union endpoint src;
	/* What the last input did (read by the seed generator). */
	size_t delivered;
	unsigned events[8];
	bool got_cookie;
	uint64_t drops, drops_before;
};

static struct device *fx_device; /* shared by every input */

static void fx_die(const char *what)
{
	fprintf(stderr, "fuzz_device_rx: %s\n", what);
	abort();
}

static void fx_unhex(const char *hex, uint8_t *out, size_t len)
{
	for (size_t i = 0; i < len; i++) {
		unsigned v;
		if (sscanf(hex + 2 * i, "%2x", &v) != 1)
			fx_die("bad hex");
		out[i] = (uint8_t)v;
	}
}

static void fx_hex(char *out, const uint8_t *in, size_t len)
{
	for (size_t i = 0; i < len; i++)
		snprintf(out + 2 * i, 3, "%02x", in[i]);
}

/* A delivered packet must be one the device was right to deliver. */
static bool fx_deliver(void *ctx, struct device *dev, struct peer *from, uint8_t *pkt, size_t len)
{
	struct fixture *fx = ctx;
	static const uint8_t v4[4] = { 10, 0, 0, 2 };
	static const uint8_t v6[16] = { 0xfd, [15] = 2 };
	if (from != fx->peer)
		fx_die("delivered from an unknown peer");
	if (len >= 20 && pkt[0] >> 4 == 4) {
		if (((size_t)pkt[2] << 8 | pkt[3]) != len || memcmp(pkt + 12, v4, 4))
			fx_die("delivered an IPv4 packet with a wrong length or a source outside the allowed IPs");
	} else if (len >= 40 && pkt[0] >> 4 == 6) {
		if (((size_t)pkt[4] << 8 | pkt[5]) + 40 != len || memcmp(pkt + 8, v6, 16))
			fx_die("delivered an IPv6 packet with a wrong length or a source outside the allowed IPs");
	} else {
		fx_die("delivered something that is not an IP packet");
	}
	fx->delivered++;
	return true;
}

static void fx_event(void *ctx, const struct device_event *ev)
{
	struct fixture *fx = ctx;
	if ((unsigned)ev->type < sizeof(fx->events) / sizeof(fx->events[0]))
		fx->events[ev->type]++;
}

static void fx_uapi(struct device *dev, const char *req)
{
	char *reply = NULL;
	size_t reply_len = 0;
	if (device_uapi_request(dev, req, strlen(req), &reply, &reply_len) != 0 || !reply ||
	    strcmp(reply, "errno=0\n\n"))
		fx_die("UAPI set refused");
	mem_free(reply);
}

/* Our side of state 1: what send_handshake_initiation does, with a fixed
 * index, ephemeral and timestamp, without sending. Write lock held. */
static void fx_initiate(struct fixture *fx, uint64_t now)
{
	struct peer *p = fx->peer;
	uint8_t ts[NOISE_TIMESTAMP_LEN];
	uint32_t idx = FX_INIT_INDEX;
	if (index_add(fx->dev, p, NULL, &idx) != 0 || idx != FX_INIT_INDEX)
		fx_die("index_add");
	noise_tai64n(ts, FX_TIMESTAMP_SEC, 0);
	if (noise_create_initiation(&p->hs, &fx->dev->id, &p->nkeys, idx, ts, fx_ephemeral, &fx->init) != 0)
		fx_die("noise_create_initiation");
	cookie_add_macs(&p->cookie, p->nkeys.mac1_key, (uint8_t *)&fx->init, sizeof(fx->init), now);
	p->t_initiation_sent = now;
	p->retransmit_at = now + REKEY_TIMEOUT_NS;
}

static uint64_t fx_drops(struct device *dev)
{
	return atomic_load(&dev->drops_no_peer) + atomic_load(&dev->drops_bad_packet) +
	       atomic_load(&dev->drops_replay) + atomic_load(&dev->drops_no_key);
}

static void fx_setup(struct fixture *fx, uint8_t mode)
{
	uint8_t priv[NOISE_PUBLIC_KEY_LEN];
	char hex[2 * NOISE_PUBLIC_KEY_LEN + 1], req[1024];

	if (!fx_device) {
		if (sodium_init() < 0)
			fx_die("sodium_init");
		log_setup("fuzz_device_rx", LOG_LVL_ERROR, false);
		struct device_options o = { .ifname = "fuzz", .tun_fd = -1, .no_tun = true };
		if (device_new(&fx_device, &o) != 0)
			fx_die("device_new");
		snprintf(req, sizeof(req), "set=1\nprivate_key=%s\n\n", fx_device_private);
		fx_uapi(fx_device, req);
	}
	memset(fx, 0, sizeof(*fx));
	fx->dev = fx_device;
	fx->mode = mode;
	fx->drops_before = fx_drops(fx->dev);
	fx_unhex(fx_peer_private, priv, sizeof(priv));
	if (noise_public_from_private(fx->peer_public, priv) != 0)
		fx_die("peer key");
	sodium_memzero(priv, sizeof(priv));

	device_set_forward_hook(fx->dev, fx_deliver, fx);
	device_set_event_handler(fx->dev, fx_event, fx);
	fx_hex(hex, fx->peer_public, NOISE_PUBLIC_KEY_LEN);
	snprintf(req, sizeof(req),
	         "set=1\n%s%spublic_key=%s\nendpoint=127.0.0.1:%u\n"
	         "allowed_ip=10.0.0.2/32\nallowed_ip=fd00::2/128\n\n",
	         fx_obf_reset, fx_obf_lines[FX_OBF(mode)], hex, FX_SRC_PORT);
	fx_uapi(fx->dev, req);
	if (!(fx->peer = device_peer_get(fx->dev, fx->peer_public)))
		fx_die("peer missing");

	uint64_t now = dev_now();
	pthread_rwlock_wrlock(&fx->dev->lock);
	if (FX_STATE(mode) == 1)
		fx_initiate(fx, now);
	if (FX_STATE(mode) >= 2) {
		struct noise_keys k = { .local_index = FX_KP_INDEX, .remote_index = FX_PEER_INDEX,
		                        .is_initiator = FX_STATE(mode) == 3 };
		memcpy(k.send_key, fx_send_key, sizeof(k.send_key));
		memcpy(k.recv_key, fx_recv_key, sizeof(k.recv_key));
		if (peer_install_keypair(fx->dev, fx->peer, &k, now) != 0)
			fx_die("peer_install_keypair");
	}
	fx->dev->under_load_until = 0;
	if (mode & FX_LOAD) {
		memset(fx->dev->cookies.secret, fx_cookie_secret_byte, sizeof(fx->dev->cookies.secret));
		fx->dev->cookies.secret_birth_ns = now;
		fx->dev->cookies.secret_valid = true;
		fx->dev->under_load_until = now + NSEC_PER_SEC;
		/* A fresh per-source rate limit, so earlier inputs do not decide
		 * whether this one gets through. */
		ratelimit_free(fx->dev->ratelimit);
		if (ratelimit_new(&fx->dev->ratelimit) != 0)
			fx_die("ratelimit_new");
	}
	pthread_rwlock_unlock(&fx->dev->lock);

	memset(&fx->src, 0, sizeof(fx->src));
	if (mode & FX_V6) {
		fx->src.in6.sin6_family = AF_INET6;
		fx->src.in6.sin6_addr.s6_addr[15] = 1;
		fx->src.in6.sin6_port = htons(FX_SRC_PORT);
	} else {
		fx->src.in4.sin_family = AF_INET;
		fx->src.in4.sin_addr.s_addr = htonl(0x7f000001);
		fx->src.in4.sin_port = htons(FX_SRC_PORT);
	}
}

/* Removes the peer; the device must be back to holding nothing. */
static void fx_teardown(struct fixture *fx)
{
	struct device *dev = fx->dev;
	pthread_rwlock_rdlock(&dev->lock);
	fx->got_cookie = fx->peer->cookie.have_cookie;
	pthread_rwlock_unlock(&dev->lock);
	fx->drops = fx_drops(dev) - fx->drops_before;
	fx_uapi(dev, "set=1\nreplace_peers=true\n\n");
	pthread_rwlock_rdlock(&dev->lock);
	bool clean = !dev->npeers && !dev->peer_list && !dev->nindex && !dev->hs_count;
	pthread_rwlock_unlock(&dev->lock);
	if (!clean)
		fx_die("the removed peer left index entries, queued handshakes or peers behind");
	device_set_forward_hook(dev, NULL, NULL);
	device_set_event_handler(dev, NULL, NULL);
	fx->dev = NULL;
	fx->peer = NULL;
}

/* Seals plaintext as the peer would: S4 prefix (zeros), H4's lowest value,
 * our keypair's index, counter. Returns the datagram length. */
static size_t fx_seal(const struct fixture *fx, uint8_t *out, const uint8_t *plaintext, size_t len, uint64_t counter)
{
	const struct obf_params *obf = &fx->dev->obf;
	size_t s4 = obf->s[3];
	memset(out, 0, s4);
	struct msg_data *md = (struct msg_data *)(out + s4);
	le32_write(&md->type, obf->h[3].lo);
	le32_write(&md->receiver_index, FX_KP_INDEX);
	le64_write(&md->counter, counter);
	noise_seal(md->encrypted_data, plaintext, len, counter, fx_recv_key);
	return s4 + sizeof(*md) + len + NOISE_AUTHTAG_LEN;
}

static void fx_feed(struct fixture *fx, const uint8_t *data, size_t size)
{
	static uint8_t buf[FX_MAX_PLAINTEXT + 512];
	size_t len = size < sizeof(buf) ? size : sizeof(buf);
	if (fx->mode & FX_SEAL) {
		if (len > FX_MAX_PLAINTEXT)
			len = FX_MAX_PLAINTEXT;
		len = fx_seal(fx, buf, data, len, 0);
	} else {
		memcpy(buf, data, len);
	}
	device_inject_datagram(fx->dev, buf, len, &fx->src);
	device_process_pending(fx->dev);
}

/* The last input's fixture (its counters are read by the seed generator). */
static struct fixture fx_last;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	fx_setup(&fx_last, data[0]);
	fx_feed(&fx_last, data + 1, size - 1);
	fx_teardown(&fx_last);
	return 0;
}
