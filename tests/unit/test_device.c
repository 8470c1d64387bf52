/* The whole engine in one process: two devices without TUN (no_tun), real UDP
 * sockets on 127.0.0.1, configured over UAPI text exactly as `wg set` would,
 * inner packets in through device_send_to_peer() and out through the forward
 * hook, which checks every byte and records the order of arrival.
 *
 *    device A (host 1)                                 device B (host 2)
 *    10.0.0.1  fd00::1                                 10.0.0.2  fd00::2
 *    device_send_to_peer --> UDP 127.0.0.1:pB ------> rx thread --> forward hook
 *    forward hook <-------- rx thread <------ UDP 127.0.0.1:pA <-- device_send_to_peer
 *
 * One more test replaces the TUN device with a datagram socketpair, to run the
 * tx thread too. Whoever sends first starts the handshake. Waits poll with a
 * deadline; fixed sleeps only pace a stream or give something time NOT to
 * happen. */
#include "support.h"

#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <sodium.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "awg/device.h"
#include "awg/devpriv.h"
#include "awg/noise.h"
#include "lib/addr.h"
#include "lib/enc.h"
#include "lib/log.h"
#include "lib/mem.h"

#define MAX_SEQS 8192        /* arrivals recorded per device */
#define BURST 32             /* packets sent before waiting for them */
#define TUN_BURST 96         /* the same through the TUN stand-in (its queue holds 512) */
#define WAIT_MS 10000        /* generous: TSan runs are slow */

/* One device and what its forward hook and event handler saw. */
struct node {
	struct device *dev;
	uint8_t host;                  /* inner addresses 10.0.0.host and fd00::host */
	uint8_t priv[NOISE_PUBLIC_KEY_LEN], pub[NOISE_PUBLIC_KEY_LEN];
	char priv_hex[ENC_KEY_HEX_LEN], pub_hex[ENC_KEY_HEX_LEN];
	uint16_t port;
	struct peer *peer;             /* the other node, once configured */
	uint32_t tx_seq;               /* next sequence number this node sends */

	pthread_mutex_t mu;            /* everything below */
	size_t delivered;              /* packets the forward hook received */
	size_t corrupt;                /* ... that differed from what was sent */
	size_t foreign;                /* ... that came from an unexpected peer */
	size_t after_removal;          /* ... while the sending peer was removed */
	bool peer_removed;
	uint32_t seqs[MAX_SEQS];       /* sequence numbers in arrival order */
	unsigned events[8];            /* per enum device_event_type */
	uint8_t handshake_key[NOISE_PUBLIC_KEY_LEN]; /* public key of the last HANDSHAKE event */
};

struct pair {
	struct node a, b;
};

/* AmneziaWG 2.0 parameters used on both sides: every kind of obfuscation. */
static const char awg_lines[] = "jc=4\njmin=40\njmax=70\n"
                                "s1=15\ns2=18\ns3=20\ns4=23\n"
                                "h1=100000-100999\nh2=200000\nh3=300000-300010\nh4=400000-401000\n"
                                "i1=<b 0xc0ff00ee><r 16><t>\n";

/* ---- small utilities ---- */

static uint64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static void sleep_ms(unsigned ms)
{
	struct timespec ts = { .tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000L };
	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

static size_t delivered(struct node *n)
{
	pthread_mutex_lock(&n->mu);
	size_t v = n->delivered;
	pthread_mutex_unlock(&n->mu);
	return v;
}

static unsigned events(struct node *n, enum device_event_type type)
{
	pthread_mutex_lock(&n->mu);
	unsigned v = n->events[type];
	pthread_mutex_unlock(&n->mu);
	return v;
}

/* Polls until n has received at least count packets; false on timeout. */
static bool wait_delivered(struct node *n, size_t count, unsigned timeout_ms)
{
	uint64_t end = now_ms() + timeout_ms;
	for (;;) {
		if (delivered(n) >= count)
			return true;
		if (now_ms() >= end)
			return false;
		sleep_ms(1);
	}
}

static bool wait_events(struct node *n, enum device_event_type type, unsigned count, unsigned timeout_ms)
{
	uint64_t end = now_ms() + timeout_ms;
	for (;;) {
		if (events(n, type) >= count)
			return true;
		if (now_ms() >= end)
			return false;
		sleep_ms(1);
	}
}

/* ---- inner packets ---- */

static uint16_t ip_checksum(const uint8_t *h, size_t len)
{
	uint32_t sum = 0;
	for (size_t i = 0; i + 1 < len; i += 2)
		sum += (uint32_t)h[i] << 8 | h[i + 1];
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)~sum;
}

/* Writes the packet with sequence number seq from host src to host dst: a
 * valid IPv4 (protocol 253, experimental) or IPv6 (no next header) packet
 * whose payload is the sequence number followed by a pattern derived from it,
 * 24..1243 bytes long. Returns its length. */
static size_t make_packet(uint8_t *buf, int family, uint8_t src, uint8_t dst, uint32_t seq)
{
	size_t payload = 4 + (seq * 97u) % 1200u;
	size_t hdr = family == AF_INET ? 20 : 40, len = hdr + payload;
	memset(buf, 0, hdr);
	if (family == AF_INET) {
		buf[0] = 0x45;
		buf[2] = (uint8_t)(len >> 8);
		buf[3] = (uint8_t)len;
		buf[4] = (uint8_t)(seq >> 8);
		buf[5] = (uint8_t)seq;
		buf[8] = 64;
		buf[9] = 253;
		buf[12] = 10, buf[15] = src;
		buf[16] = 10, buf[19] = dst;
		uint16_t c = ip_checksum(buf, 20);
		buf[10] = (uint8_t)(c >> 8);
		buf[11] = (uint8_t)c;
	} else {
		buf[0] = 0x60;
		buf[4] = (uint8_t)(payload >> 8);
		buf[5] = (uint8_t)payload;
		buf[6] = 59;
		buf[7] = 64;
		buf[8] = 0xfd, buf[23] = src;
		buf[24] = 0xfd, buf[39] = dst;
	}
	uint8_t *p = buf + hdr;
	p[0] = (uint8_t)(seq >> 24), p[1] = (uint8_t)(seq >> 16), p[2] = (uint8_t)(seq >> 8), p[3] = (uint8_t)seq;
	for (size_t i = 4; i < payload; i++)
		p[i] = (uint8_t)(seq * 131u + i);
	return len;
}

/* ---- engine callbacks (rx and control threads: no cmocka asserts here) ---- */

static bool collect(void *ctx, struct device *dev, struct peer *from, uint8_t *pkt, size_t len)
{
	struct node *n = ctx;
	uint8_t want[1400];
	uint32_t seq = UINT32_MAX;
	bool ok = false;

	if (len >= 24 && pkt[0] >> 4 == 4 && len <= sizeof(want)) {
		seq = (uint32_t)pkt[20] << 24 | (uint32_t)pkt[21] << 16 | (uint32_t)pkt[22] << 8 | pkt[23];
		ok = make_packet(want, AF_INET, (uint8_t)(3 - n->host), n->host, seq) == len && !memcmp(want, pkt, len);
	} else if (len >= 44 && pkt[0] >> 4 == 6 && len <= sizeof(want)) {
		seq = (uint32_t)pkt[40] << 24 | (uint32_t)pkt[41] << 16 | (uint32_t)pkt[42] << 8 | pkt[43];
		ok = make_packet(want, AF_INET6, (uint8_t)(3 - n->host), n->host, seq) == len && !memcmp(want, pkt, len);
	}
	pthread_mutex_lock(&n->mu);
	if (!ok)
		n->corrupt++;
	if (n->peer_removed)
		n->after_removal++;
	else if (from != n->peer)
		n->foreign++;
	if (n->delivered < MAX_SEQS)
		n->seqs[n->delivered] = seq;
	n->delivered++;
	pthread_mutex_unlock(&n->mu);
	return true;
}

static void on_event(void *ctx, const struct device_event *ev)
{
	struct node *n = ctx;
	pthread_mutex_lock(&n->mu);
	if ((unsigned)ev->type < sizeof(n->events) / sizeof(n->events[0]))
		n->events[ev->type]++;
	if (ev->type == DEV_EVENT_HANDSHAKE)
		memcpy(n->handshake_key, ev->public_key, sizeof(n->handshake_key));
	pthread_mutex_unlock(&n->mu);
}

/* ---- UAPI ---- */

/* Runs one UAPI request; returns the reply (mem_free it). */
static char *uapi(struct device *dev, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static char *uapi(struct device *dev, const char *fmt, ...)
{
	char req[8192];
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(req, sizeof(req), fmt, ap);
	va_end(ap);
	assert_true(n > 0 && (size_t)n < sizeof(req));
	char *reply = NULL;
	size_t reply_len = 0;
	assert_int_equal(device_uapi_request(dev, req, (size_t)n, &reply, &reply_len), 0);
	assert_non_null(reply);
	assert_int_equal(strlen(reply), reply_len);
	return reply;
}

static void uapi_expect(struct device *dev, const char *want, const char *body)
{
	char *reply = uapi(dev, "set=1\n%s\n", body);
	if (strcmp(reply, want))
		fail_msg("set:\n%s\nreplied \"%s\", expected \"%s\"", body, reply, want);
	mem_free(reply);
}

static void uapi_set(struct device *dev, const char *body)
{
	uapi_expect(dev, "errno=0\n\n", body);
}

static char *uapi_get(struct device *dev)
{
	char *reply = uapi(dev, "get=1\n\n");
	size_t len = strlen(reply);
	assert_true(len >= 9 && !strcmp(reply + len - 9, "errno=0\n\n"));
	return reply;
}

/* True when the get reply has the exact line key=value. */
static bool has_line(const char *reply, const char *key, const char *value)
{
	char line[256];
	snprintf(line, sizeof(line), "%s=%s\n", key, value);
	size_t ll = strlen(line);
	for (const char *p = reply; (p = strstr(p, line)); p += ll)
		if (p == reply || p[-1] == '\n')
			return true;
	return false;
}

/* The value of the first key=... line as a number (0 when absent). */
static unsigned long long get_number(const char *reply, const char *key)
{
	char pat[64];
	snprintf(pat, sizeof(pat), "%s=", key);
	size_t pl = strlen(pat);
	for (const char *p = reply; (p = strstr(p, pat)); p += pl)
		if (p == reply || p[-1] == '\n')
			return strtoull(p + pl, NULL, 10);
	return 0;
}

static unsigned long long peer_number(struct device *dev, const char *key)
{
	char *reply = uapi_get(dev);
	unsigned long long v = get_number(reply, key);
	mem_free(reply);
	return v;
}

/* ---- nodes ---- */

/* A started device with a fresh key on a kernel-chosen port, and awg (device
 * lines, may be "") applied. tun_fd -1: no TUN, packets go to the forward
 * hook; else the fd stands in for the TUN device (no forward hook). */
static void node_init_fd(struct node *n, uint8_t host, double timer_scale, const char *awg, int tun_fd)
{
	char name[16];
	memset(n, 0, sizeof(*n));
	pthread_mutex_init(&n->mu, NULL);
	n->host = host;
	snprintf(name, sizeof(name), "test%u", host);
	struct device_options o = { .ifname = name, .tun_fd = tun_fd, .no_tun = tun_fd < 0, .timer_scale = timer_scale };
	assert_int_equal(device_new(&n->dev, &o), 0);
	if (tun_fd < 0)
		device_set_forward_hook(n->dev, collect, n);
	device_set_event_handler(n->dev, on_event, n);
	assert_int_equal(device_start(n->dev), 0);

	noise_generate_private(n->priv);
	assert_int_equal(noise_public_from_private(n->pub, n->priv), 0);
	enc_key_to_hex(n->priv_hex, n->priv);
	enc_key_to_hex(n->pub_hex, n->pub);
	char body[2048];
	snprintf(body, sizeof(body), "private_key=%s\nlisten_port=0\n%s", n->priv_hex, awg);
	uapi_set(n->dev, body);
	char *reply = uapi_get(n->dev);
	unsigned long long port = get_number(reply, "listen_port");
	mem_free(reply);
	assert_true(port > 0 && port <= 65535);
	n->port = (uint16_t)port;
}

static void node_init(struct node *n, uint8_t host, double timer_scale, const char *awg)
{
	node_init_fd(n, host, timer_scale, awg, -1);
}

/* Configures other as n's peer: endpoint, both inner addresses, optional psk. */
static void node_add_peer(struct node *n, const struct node *other, const char *psk_hex)
{
	char body[1024], psk[128] = "";
	if (psk_hex)
		snprintf(psk, sizeof(psk), "preshared_key=%s\n", psk_hex);
	snprintf(body, sizeof(body),
	         "public_key=%s\n%sendpoint=127.0.0.1:%u\nreplace_allowed_ips=true\n"
	         "allowed_ip=10.0.0.%u/32\nallowed_ip=fd00::%u/128\n",
	         other->pub_hex, psk, other->port, other->host, other->host);
	uapi_set(n->dev, body);
	struct peer *p = device_peer_get(n->dev, other->pub);
	assert_non_null(p);
	pthread_mutex_lock(&n->mu);
	n->peer = p;
	n->peer_removed = false;
	pthread_mutex_unlock(&n->mu);
}

static void node_fini(struct node *n)
{
	device_free(n->dev);
	n->dev = NULL;
	pthread_mutex_destroy(&n->mu);
}

struct pair_opts {
	double timer_scale;
	const char *awg_a, *awg_b;   /* device lines for each side, NULL: none */
	const char *psk_a, *psk_b;   /* preshared key each side configures, NULL: none */
};

static void pair_up(struct pair *pr, const struct pair_opts *o)
{
	node_init(&pr->a, 1, o->timer_scale, o->awg_a ? o->awg_a : "");
	node_init(&pr->b, 2, o->timer_scale, o->awg_b ? o->awg_b : "");
	node_add_peer(&pr->a, &pr->b, o->psk_a);
	node_add_peer(&pr->b, &pr->a, o->psk_b);
}

static void pair_down(struct pair *pr)
{
	node_fini(&pr->a);
	node_fini(&pr->b);
}

/* ---- traffic ---- */

/* Sends count packets from -> its peer, numbered on from's sequence. */
static void send_some(struct node *from, int family, unsigned count)
{
	uint8_t pkt[1400];
	for (unsigned i = 0; i < count; i++) {
		size_t len = make_packet(pkt, family, from->host, (uint8_t)(3 - from->host), from->tx_seq++);
		int rc = device_send_to_peer(from->dev, from->peer, pkt, len);
		if (rc)
			fail_msg("device_send_to_peer: %s", err_str(rc));
	}
}

/* Every packet n received so far arrived intact, exactly once, in order, from
 * the expected peer, and their number is what the other side sent. */
static void assert_in_order(struct node *n, const struct node *sender)
{
	pthread_mutex_lock(&n->mu);
	size_t got = n->delivered, corrupt = n->corrupt, foreign = n->foreign;
	size_t bad_at = SIZE_MAX;
	for (size_t i = 0; i < got && i < MAX_SEQS; i++)
		if (n->seqs[i] != i) {
			bad_at = i;
			break;
		}
	uint32_t bad_seq = bad_at != SIZE_MAX ? n->seqs[bad_at] : 0;
	pthread_mutex_unlock(&n->mu);
	if (bad_at != SIZE_MAX)
		fail_msg("host %u: arrival %zu carried packet %u", n->host, bad_at, bad_seq);
	assert_int_equal(corrupt, 0);
	assert_int_equal(foreign, 0);
	assert_int_equal(got, sender->tx_seq);
}

/* Both directions, interleaved bursts; each burst waits for its packets. */
static void exchange(struct pair *pr, int family, unsigned total)
{
	for (unsigned sent = 0; sent < total; sent += BURST) {
		unsigned n = total - sent < BURST ? total - sent : BURST;
		send_some(&pr->a, family, n);
		send_some(&pr->b, family, n);
		assert_true(wait_delivered(&pr->b, pr->a.tx_seq, WAIT_MS));
		assert_true(wait_delivered(&pr->a, pr->b.tx_seq, WAIT_MS));
	}
}

/* A sends the first packet (so A initiates); then B answers: the session is
 * up and confirmed in both directions. */
static void establish(struct pair *pr)
{
	send_some(&pr->a, AF_INET, 1);
	assert_true(wait_delivered(&pr->b, pr->a.tx_seq, WAIT_MS));
	send_some(&pr->b, AF_INET, 1);
	assert_true(wait_delivered(&pr->a, pr->b.tx_seq, WAIT_MS));
}

/* ---- tests ---- */

/* Peers on the timers' tick list (the device's own bookkeeping). */
static size_t ticking_peers(struct device *dev)
{
	size_t n = 0;
	pthread_rwlock_rdlock(&dev->lock);
	for (struct peer *p = dev->tick_list; p; p = p->tick_next)
		n++;
	pthread_rwlock_unlock(&dev->lock);
	return n;
}

static bool wait_ticking(struct device *dev, size_t want, unsigned timeout_ms)
{
	for (uint64_t end = now_ms() + timeout_ms; now_ms() < end; sleep_ms(20))
		if (ticking_peers(dev) == want)
			return true;
	return ticking_peers(dev) == want;
}

/* A node has thousands of configured peers and few of them talk: the timers
 * visit only peers with something to do, an idle peer given a packet comes
 * back at once and handshakes, and one whose keys were zeroed after its
 * session ended leaves the list again and still comes back on demand. */
static void idle_peers_leave_the_timer_walk_and_come_back_when_given_work(void **state)
{
	struct pair pr;
	/* 0.005: keys are zeroed 2.7 s after the last session. */
	pair_up(&pr, &(struct pair_opts){ .timer_scale = 0.005 });
	char *body = mem_alloc(2000 * 90 + 16), *w = body;
	w += sprintf(w, "set=1\n");
	for (int i = 0; i < 2000; i++) {
		uint8_t priv[32], pub[32];
		char hex[ENC_KEY_HEX_LEN];
		noise_generate_private(priv);
		assert_int_equal(noise_public_from_private(pub, priv), 0);
		enc_key_to_hex(hex, pub);
		w += sprintf(w, "public_key=%s\n", hex);
	}
	w += sprintf(w, "\n");
	char *reply = NULL;
	size_t reply_len = 0;
	assert_int_equal(device_uapi_request(pr.a.dev, body, (size_t)(w - body), &reply, &reply_len), 0);
	mem_free(body);
	assert_string_equal(reply, "errno=0\n\n");
	mem_free(reply);
	/* Configured, then idle: nothing on the list within a few ticks. */
	assert_true(wait_ticking(pr.a.dev, 0, 2000));
	assert_true(wait_ticking(pr.b.dev, 0, 2000));

	uint64_t t0 = now_ms();
	establish(&pr);
	/* Keys at once, not after a full walk (every 10 s). */
	assert_true(now_ms() - t0 < 2000);
	assert_true(ticking_peers(pr.a.dev) >= 1);
	assert_true(ticking_peers(pr.b.dev) >= 1);

	/* Silence: the session ends, the keys are zeroed, the peer leaves. */
	assert_true(wait_ticking(pr.a.dev, 0, 8000));
	assert_true(wait_ticking(pr.b.dev, 0, 8000));
	pthread_mutex_lock(&pr.a.mu);
	unsigned expired = pr.a.events[DEV_EVENT_SESSION_EXPIRED];
	pthread_mutex_unlock(&pr.a.mu);
	assert_true(expired >= 1);

	t0 = now_ms();
	send_some(&pr.b, AF_INET, 1);
	assert_true(wait_delivered(&pr.a, pr.b.tx_seq, WAIT_MS));
	assert_true(now_ms() - t0 < 2000);
	pair_down(&pr);
}

static void ipv4_packets_arrive_intact_and_in_order_in_both_directions(void **state)
{
	struct pair pr;
	uint8_t psk[32];
	char psk_hex[ENC_KEY_HEX_LEN];
	randombytes_buf(psk, sizeof(psk));
	enc_key_to_hex(psk_hex, psk);
	pair_up(&pr, &(struct pair_opts){ .psk_a = psk_hex, .psk_b = psk_hex });

	/* The first burst is staged while A's handshake runs, then flushed. */
	send_some(&pr.a, AF_INET, BURST);
	assert_true(wait_delivered(&pr.b, BURST, WAIT_MS));
	exchange(&pr, AF_INET, 20 * BURST);
	assert_in_order(&pr.b, &pr.a);
	assert_in_order(&pr.a, &pr.b);
	pair_down(&pr);
}

static void ipv6_packets_arrive_intact_and_in_order_in_both_directions(void **state)
{
	struct pair pr;
	pair_up(&pr, &(struct pair_opts){ 0 });
	send_some(&pr.a, AF_INET6, 1);
	assert_true(wait_delivered(&pr.b, 1, WAIT_MS));
	exchange(&pr, AF_INET6, 10 * BURST);
	exchange(&pr, AF_INET, 2 * BURST);
	exchange(&pr, AF_INET6, 2 * BURST);
	assert_in_order(&pr.b, &pr.a);
	assert_in_order(&pr.a, &pr.b);
	pair_down(&pr);
}

static void an_amneziawg_parameter_set_on_both_sides_carries_traffic_both_ways(void **state)
{
	struct pair pr;
	pair_up(&pr, &(struct pair_opts){ .awg_a = awg_lines, .awg_b = awg_lines });
	establish(&pr);
	exchange(&pr, AF_INET, 10 * BURST);
	exchange(&pr, AF_INET6, 10 * BURST);
	assert_in_order(&pr.b, &pr.a);
	assert_in_order(&pr.a, &pr.b);
	char *reply = uapi_get(pr.a.dev);
	assert_true(has_line(reply, "s4", "23"));
	assert_true(has_line(reply, "h1", "100000-100999"));
	mem_free(reply);
	pair_down(&pr);
}

/* The parameters change the wire format: a plain WireGuard peer drops
 * everything an AmneziaWG peer sends, and the other way round. */
static void mismatched_amneziawg_parameters_never_deliver(void **state)
{
	struct pair pr;
	pair_up(&pr, &(struct pair_opts){ .timer_scale = 0.1, .awg_a = awg_lines });
	uint64_t end = now_ms() + 600;
	while (now_ms() < end) {
		send_some(&pr.a, AF_INET, 1);
		send_some(&pr.b, AF_INET, 1);
		sleep_ms(20);
	}
	assert_int_equal(delivered(&pr.a), 0);
	assert_int_equal(delivered(&pr.b), 0);
	assert_int_equal(events(&pr.a, DEV_EVENT_HANDSHAKE), 0);
	assert_int_equal(events(&pr.b, DEV_EVENT_HANDSHAKE), 0);
	pair_down(&pr);
}

static void a_wrong_preshared_key_never_delivers_a_packet(void **state)
{
	struct pair pr;
	uint8_t k1[32], k2[32];
	char h1[ENC_KEY_HEX_LEN], h2[ENC_KEY_HEX_LEN];
	randombytes_buf(k1, sizeof(k1));
	randombytes_buf(k2, sizeof(k2));
	enc_key_to_hex(h1, k1);
	enc_key_to_hex(h2, k2);
	/* Fast retransmits (500 ms + jitter) so several initiations are refused. */
	pair_up(&pr, &(struct pair_opts){ .timer_scale = 0.1, .psk_a = h1, .psk_b = h2 });
	uint64_t end = now_ms() + 800;
	while (now_ms() < end) {
		send_some(&pr.a, AF_INET, 1);
		sleep_ms(20);
	}
	assert_int_equal(delivered(&pr.a), 0);
	assert_int_equal(delivered(&pr.b), 0);
	/* B answered the initiations (the psk only enters the response), A could
	 * not open a single answer: no session on either side. */
	assert_true(peer_number(pr.b.dev, "tx_bytes") >= 92);
	assert_int_equal(events(&pr.a, DEV_EVENT_HANDSHAKE), 0);
	assert_int_equal(peer_number(pr.a.dev, "last_handshake_time_sec"), 0);
	assert_int_equal(peer_number(pr.b.dev, "last_handshake_time_sec"), 0);
	assert_int_equal(peer_number(pr.a.dev, "rx_bytes"), 0);
	pair_down(&pr);
}

/* REKEY_AFTER_TIME is 120 s x 0.02 = 2.4 s: the initiator starts a new
 * handshake while both directions keep sending. */
static void a_rekey_under_traffic_loses_at_most_a_handful_of_packets(void **state)
{
	struct pair pr;
	pair_up(&pr, &(struct pair_opts){ .timer_scale = 0.02 });
	establish(&pr);
	assert_true(wait_events(&pr.a, DEV_EVENT_HANDSHAKE, 1, WAIT_MS));
	unsigned first = events(&pr.a, DEV_EVENT_HANDSHAKE);

	uint64_t start = now_ms(), rekeyed_at = 0;
	for (;;) {
		send_some(&pr.a, AF_INET, 8);
		send_some(&pr.b, AF_INET6, 8);
		/* Pace on arrivals; a lost packet only costs this short wait. */
		(void)wait_delivered(&pr.b, pr.a.tx_seq, 200);
		(void)wait_delivered(&pr.a, pr.b.tx_seq, 200);
		uint64_t t = now_ms();
		if (!rekeyed_at && events(&pr.a, DEV_EVENT_HANDSHAKE) > first)
			rekeyed_at = t;
		if (rekeyed_at && t - rekeyed_at >= 300)
			break;
		if (t - start > 15000)
			fail_msg("no rekey within 15 s");
	}
	(void)wait_delivered(&pr.b, pr.a.tx_seq, 1000);
	(void)wait_delivered(&pr.a, pr.b.tx_seq, 1000);
	size_t lost_ab = pr.a.tx_seq - delivered(&pr.b), lost_ba = pr.b.tx_seq - delivered(&pr.a);
	if (lost_ab > 4 || lost_ba > 4)
		fail_msg("lost %zu of %u (A->B) and %zu of %u (B->A)", lost_ab, pr.a.tx_seq, lost_ba, pr.b.tx_seq);
	pthread_mutex_lock(&pr.a.mu);
	size_t corrupt = pr.a.corrupt;
	pthread_mutex_unlock(&pr.a.mu);
	pthread_mutex_lock(&pr.b.mu);
	corrupt += pr.b.corrupt;
	pthread_mutex_unlock(&pr.b.mu);
	assert_int_equal(corrupt, 0);
	/* The responder saw the new session too, and it carries data both ways. */
	assert_true(events(&pr.b, DEV_EVENT_HANDSHAKE) >= 2);
	size_t a0 = delivered(&pr.a), b0 = delivered(&pr.b);
	send_some(&pr.a, AF_INET, 4);
	send_some(&pr.b, AF_INET, 4);
	assert_true(wait_delivered(&pr.b, b0 + 4, WAIT_MS));
	assert_true(wait_delivered(&pr.a, a0 + 4, WAIT_MS));
	pair_down(&pr);
}

/* Timers at 0.02: KEEPALIVE_TIMEOUT 0.2 s, REKEY_TIMEOUT 0.1 s. B forgets A
 * (removed and re-added: no keys), so A's data vanishes; A is the responder
 * of its session, so only "stopped hearing back" (specs/awg.md §1.7: new
 * handshake 10 + 5 s after the first unanswered data packet) can save it.
 * A keeps sending all along, as a stream would. */
static void a_peer_that_stops_answering_a_stream_gets_a_new_handshake(void **state)
{
	struct pair pr;
	pair_up(&pr, &(struct pair_opts){ .timer_scale = 0.02 });
	send_some(&pr.b, AF_INET, 1); /* B initiates: A is the responder */
	assert_true(wait_delivered(&pr.a, 1, WAIT_MS));
	send_some(&pr.a, AF_INET, 1);
	assert_true(wait_delivered(&pr.b, 1, WAIT_MS));

	char body[256];
	snprintf(body, sizeof(body), "public_key=%s\nremove=true\n", pr.a.pub_hex);
	uapi_set(pr.b.dev, body);
	node_add_peer(&pr.b, &pr.a, NULL);
	unsigned before = events(&pr.a, DEV_EVENT_HANDSHAKE);
	size_t got = delivered(&pr.b);

	uint64_t start = now_ms();
	while (events(&pr.a, DEV_EVENT_HANDSHAKE) == before && now_ms() - start < 3000) {
		send_some(&pr.a, AF_INET, 1);
		sleep_ms(2);
	}
	if (events(&pr.a, DEV_EVENT_HANDSHAKE) == before)
		fail_msg("A kept sending into the void for 3 s without a new handshake");
	send_some(&pr.a, AF_INET, 1);
	assert_true(wait_delivered(&pr.b, got + 1, WAIT_MS));
	pair_down(&pr);
}

/* B streams to A, A has nothing to say: A must still answer with a keepalive
 * every KEEPALIVE_TIMEOUT (1 s here), counted from the first unanswered
 * packet, or the sender concludes it stopped hearing back (1.5 s here, 15 s
 * for real) and re-handshakes over and over. (The scale is 0.1, not smaller:
 * the timers tick every 100 ms whatever the scale, and the 0.5 s between
 * the two timeouts must stay well above that.) */
static void a_one_way_stream_is_answered_with_keepalives(void **state)
{
	struct pair pr;
	pair_up(&pr, &(struct pair_opts){ .timer_scale = 0.1 });
	establish(&pr);
	unsigned hs_b = events(&pr.b, DEV_EVENT_HANDSHAKE);
	unsigned long long tx0 = peer_number(pr.a.dev, "tx_bytes");
	uint64_t start = now_ms();
	while (now_ms() - start < 3000) {
		send_some(&pr.b, AF_INET, 1);
		sleep_ms(2);
	}
	unsigned long long keepalives = (peer_number(pr.a.dev, "tx_bytes") - tx0) / 32;
	if (keepalives < 2)
		fail_msg("A sent %llu keepalives during 3 s of incoming data", keepalives);
	assert_int_equal(events(&pr.b, DEV_EVENT_HANDSHAKE), hs_b);
	pair_down(&pr);
}

struct sender {
	struct node *n;
	atomic_bool stop;
	atomic_uint sent;
};

static void *sender_main(void *arg)
{
	struct sender *s = arg;
	uint8_t pkt[1400];
	while (!atomic_load(&s->stop)) {
		size_t len = make_packet(pkt, AF_INET, s->n->host, (uint8_t)(3 - s->n->host), atomic_load(&s->sent));
		(void)!device_send_to_peer(s->n->dev, s->n->peer, pkt, len);
		atomic_fetch_add(&s->sent, 1);
		if (atomic_load(&s->sent) % 16 == 0)
			sleep_ms(1);
	}
	return NULL;
}

static void wait_sent(struct sender *s, unsigned count)
{
	uint64_t end = now_ms() + WAIT_MS;
	while (atomic_load(&s->sent) < count && now_ms() < end)
		sleep_ms(1);
	assert_true(atomic_load(&s->sent) >= count);
}

/* B keeps sending to A from another thread while A removes B over UAPI: A
 * drops what arrives afterwards (its keys are gone) and, B re-added, a new
 * handshake brings traffic back. */
static void removing_a_peer_under_traffic_is_safe_and_the_peer_can_come_back(void **state)
{
	struct pair pr;
	pthread_t t;
	pair_up(&pr, &(struct pair_opts){ 0 });
	establish(&pr);
	struct sender s = { .n = &pr.b };
	atomic_init(&s.stop, false);
	atomic_init(&s.sent, 0);
	assert_int_equal(pthread_create(&t, NULL, sender_main, &s), 0);
	assert_true(wait_delivered(&pr.a, 100, WAIT_MS));

	char body[256];
	snprintf(body, sizeof(body), "public_key=%s\nremove=true\n", pr.b.pub_hex);
	uapi_set(pr.a.dev, body);
	pthread_mutex_lock(&pr.a.mu);
	pr.a.peer_removed = true;
	pr.a.peer = NULL;
	pthread_mutex_unlock(&pr.a.mu);
	assert_null(device_peer_get(pr.a.dev, pr.b.pub));
	char *reply = uapi_get(pr.a.dev);
	assert_null(strstr(reply, "public_key="));
	mem_free(reply);

	/* Traffic keeps arriving at A for a while; none of it is delivered. */
	wait_sent(&s, atomic_load(&s.sent) + 200);
	atomic_store(&s.stop, true);
	assert_int_equal(pthread_join(t, NULL), 0);
	pthread_mutex_lock(&pr.a.mu);
	size_t after = pr.a.after_removal;
	pthread_mutex_unlock(&pr.a.mu);
	assert_int_equal(after, 0);

	/* Back again: A initiates afresh and both directions work. */
	node_add_peer(&pr.a, &pr.b, NULL);
	size_t a0 = delivered(&pr.a), b0 = delivered(&pr.b);
	send_some(&pr.a, AF_INET, 1);
	assert_true(wait_delivered(&pr.b, b0 + 1, WAIT_MS));
	send_some(&pr.b, AF_INET, 1);
	assert_true(wait_delivered(&pr.a, a0 + 1, WAIT_MS));
	pair_down(&pr);
}

/* The static-static DH is computed at a peer's first handshake and cached; a
 * new private key must not reuse the value computed with the old one. A
 * changes its key twice under an established session; B replaces A's peer
 * with the new public key each time. Then B initiates (A consumes with the
 * new key), and the second time A initiates (A creates with the new key). */
static void a_new_private_key_is_used_with_peers_configured_under_the_old_one(void **state)
{
	struct pair pr;
	char body[512];
	pair_up(&pr, &(struct pair_opts){ 0 });
	establish(&pr);
	for (int round = 0; round < 2; round++) {
		snprintf(body, sizeof(body), "public_key=%s\nremove=true\n", pr.a.pub_hex);
		uapi_set(pr.b.dev, body);
		noise_generate_private(pr.a.priv);
		assert_int_equal(noise_public_from_private(pr.a.pub, pr.a.priv), 0);
		enc_key_to_hex(pr.a.priv_hex, pr.a.priv);
		enc_key_to_hex(pr.a.pub_hex, pr.a.pub);
		snprintf(body, sizeof(body), "private_key=%s\n", pr.a.priv_hex);
		uapi_set(pr.a.dev, body);
		node_add_peer(&pr.b, &pr.a, NULL);

		struct node *first = round == 0 ? &pr.b : &pr.a, *second = round == 0 ? &pr.a : &pr.b;
		size_t got = delivered(second);
		send_some(first, AF_INET, 1);
		assert_true(wait_delivered(second, got + 1, WAIT_MS));
		got = delivered(first);
		send_some(second, AF_INET, 1);
		assert_true(wait_delivered(first, got + 1, WAIT_MS));
	}
	for (struct node *n = &pr.a; n; n = n == &pr.a ? &pr.b : NULL) {
		pthread_mutex_lock(&n->mu);
		size_t bad = n->corrupt + n->foreign;
		pthread_mutex_unlock(&n->mu);
		assert_int_equal(bad, 0);
	}
	pair_down(&pr);
}

/* A set is validated completely before anything is applied: a valid peer
 * section followed by one bad line changes nothing at all. */
static void a_set_with_a_bad_line_after_a_valid_peer_changes_nothing(void **state)
{
	struct node n, other;
	node_init(&n, 1, 0, awg_lines);
	node_init(&other, 2, 0, "");
	node_add_peer(&n, &other, NULL);
	uint8_t k[32];
	char newkey[ENC_KEY_HEX_LEN], newpriv[ENC_KEY_HEX_LEN];
	randombytes_buf(k, sizeof(k));
	enc_key_to_hex(newkey, k);
	noise_generate_private(k);
	enc_key_to_hex(newpriv, k);

	char *before = uapi_get(n.dev);
	/* Each body: private_key=NEW, device lines, public_key=NEW, peer lines. */
	static const struct {
		const char *want, *device, *peer;
	} cases[] = {
		{ "errno=-22\n\n", "listen_port=0\n", "allowed_ip=10.9.0.0/16\nendpoint=127.0.0.1:9\nno_such_key=1\n" },
		{ "errno=-22\n\n", "", "allowed_ip=10.9.0.0/16\nallowed_ip=10.0.0.300/32\n" },
		{ "errno=-22\n\n", "replace_peers=true\n", "persistent_keepalive_interval=65536\n" },
		/* Each AWG key is fine alone; together 148 + S1 == 92 + S2. */
		{ "errno=-22\n\n", "s1=0\ns2=56\n", "endpoint=127.0.0.1:9\n" },
		{ "errno=-22\n\n", "jc=2\n", "remove=yes\n" },
		{ "errno=-71\n\n", "", "allowed_ip=10.9.0.0/16\nno equals sign\n" },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char body[512];
		snprintf(body, sizeof(body), "private_key=%s\n%spublic_key=%s\n%s", newpriv, cases[i].device, newkey,
		         cases[i].peer);
		uapi_expect(n.dev, cases[i].want, body);
		char *after = uapi_get(n.dev);
		if (strcmp(before, after))
			fail_msg("case %zu changed the device:\n--- before\n%s--- after\n%s", i, before, after);
		mem_free(after);
	}
	/* The same peer section without the bad line is accepted. */
	char body[512];
	snprintf(body, sizeof(body), "public_key=%s\nallowed_ip=10.9.0.0/16\n", newkey);
	uapi_set(n.dev, body);
	char *after = uapi_get(n.dev);
	assert_true(has_line(after, "public_key", newkey));
	assert_true(has_line(after, "allowed_ip", "10.9.0.0/16"));
	mem_free(after);
	mem_free(before);
	node_fini(&n);
	node_fini(&other);
}

/* Binding comes first in a set, so a port that is taken fails it before
 * anything else (here a fwmark and a peer) is applied. */
static void a_set_whose_port_is_taken_changes_nothing(void **state)
{
	struct node n, other;
	node_init(&n, 1, 0, "");
	node_init(&other, 2, 0, "");
	node_add_peer(&n, &other, NULL);
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	assert_true(fd >= 0);
	union endpoint ep;
	socklen_t len = sizeof(ep.in4);
	memset(&ep, 0, sizeof(ep));
	ep.in4.sin_family = AF_INET;
	assert_int_equal(bind(fd, &ep.sa, len), 0);
	assert_int_equal(getsockname(fd, &ep.sa, &len), 0);

	char *before = uapi_get(n.dev), body[256];
	snprintf(body, sizeof(body), "fwmark=7\nlisten_port=%u\npublic_key=%s\nremove=true\n", ntohs(ep.in4.sin_port),
	         other.pub_hex);
	uapi_expect(n.dev, "errno=-98\n\n", body);
	char *after = uapi_get(n.dev);
	if (strcmp(before, after))
		fail_msg("the refused set changed the device:\n--- before\n%s--- after\n%s", before, after);
	mem_free(before);
	mem_free(after);
	close(fd);
	node_fini(&n);
	node_fini(&other);
}

static void get_lists_what_set_configured_and_counts_bytes(void **state)
{
	struct pair pr;
	uint8_t psk[32];
	char psk_hex[ENC_KEY_HEX_LEN], ep[64], port[8];
	randombytes_buf(psk, sizeof(psk));
	enc_key_to_hex(psk_hex, psk);
	pair_up(&pr, &(struct pair_opts){ .awg_a = awg_lines, .awg_b = awg_lines, .psk_a = psk_hex, .psk_b = psk_hex });
	char body[512];
	snprintf(body, sizeof(body), "public_key=%s\nallowed_ip=192.168.77.0/24\npersistent_keepalive_interval=25\n",
	         pr.b.pub_hex);
	uapi_set(pr.a.dev, body);

	char *r = uapi_get(pr.a.dev);
	snprintf(port, sizeof(port), "%u", pr.a.port);
	snprintf(ep, sizeof(ep), "127.0.0.1:%u", pr.b.port);
	assert_true(has_line(r, "private_key", pr.a.priv_hex));
	assert_true(has_line(r, "listen_port", port));
	static const char *const awg[][2] = {
		{ "jc", "4" },           { "jmin", "40" },        { "jmax", "70" },   { "s1", "15" },
		{ "s2", "18" },          { "s3", "20" },          { "s4", "23" },     { "h1", "100000-100999" },
		{ "h2", "200000" },      { "h3", "300000-300010" }, { "h4", "400000-401000" },
		{ "i1", "<b 0xc0ff00ee><r 16><t>" },
	};
	for (size_t i = 0; i < sizeof(awg) / sizeof(awg[0]); i++)
		if (!has_line(r, awg[i][0], awg[i][1]))
			fail_msg("get lacks %s=%s:\n%s", awg[i][0], awg[i][1], r);
	assert_true(has_line(r, "public_key", pr.b.pub_hex));
	assert_true(has_line(r, "preshared_key", psk_hex));
	assert_true(has_line(r, "protocol_version", "1"));
	assert_true(has_line(r, "endpoint", ep));
	assert_true(has_line(r, "allowed_ip", "10.0.0.2/32"));
	assert_true(has_line(r, "allowed_ip", "fd00::2/128"));
	assert_true(has_line(r, "allowed_ip", "192.168.77.0/24"));
	assert_true(has_line(r, "persistent_keepalive_interval", "25"));
	/* Device lines come before the peer's, the peer's public key first. */
	assert_true(strstr(r, "listen_port=") < strstr(r, "public_key="));
	assert_true(strstr(r, "public_key=") < strstr(r, "preshared_key="));
	mem_free(r);

	/* The keepalive sent when persistent keepalive was turned on starts the
	 * handshake; traffic then makes both counters grow on both sides. */
	establish(&pr);
	unsigned long long tx[3], rx[3], btx[3], brx[3];
	for (int round = 0; round < 3; round++) {
		exchange(&pr, AF_INET, BURST);
		tx[round] = peer_number(pr.a.dev, "tx_bytes");
		rx[round] = peer_number(pr.a.dev, "rx_bytes");
		btx[round] = peer_number(pr.b.dev, "tx_bytes");
		brx[round] = peer_number(pr.b.dev, "rx_bytes");
	}
	for (int round = 1; round < 3; round++) {
		assert_true(tx[round] > tx[round - 1]);
		assert_true(rx[round] > rx[round - 1]);
		assert_true(btx[round] > btx[round - 1]);
		assert_true(brx[round] > brx[round - 1]);
	}
	/* Every burst is 32 packets of at least 24 bytes plus 32 + S4 of framing. */
	assert_true(tx[2] - tx[1] >= BURST * (24 + 32 + 23));
	assert_true(peer_number(pr.a.dev, "last_handshake_time_sec") > 0);
	assert_true(peer_number(pr.b.dev, "last_handshake_time_sec") > 0);
	pair_down(&pr);
}

static void both_sides_report_the_handshake_as_an_event(void **state)
{
	struct pair pr;
	pair_up(&pr, &(struct pair_opts){ 0 });
	establish(&pr);
	assert_true(wait_events(&pr.a, DEV_EVENT_HANDSHAKE, 1, WAIT_MS));
	assert_true(wait_events(&pr.b, DEV_EVENT_HANDSHAKE, 1, WAIT_MS));
	pthread_mutex_lock(&pr.a.mu);
	assert_memory_equal(pr.a.handshake_key, pr.b.pub, NOISE_PUBLIC_KEY_LEN);
	pthread_mutex_unlock(&pr.a.mu);
	pthread_mutex_lock(&pr.b.mu);
	assert_memory_equal(pr.b.handshake_key, pr.a.pub, NOISE_PUBLIC_KEY_LEN);
	pthread_mutex_unlock(&pr.b.mu);
	assert_int_equal(events(&pr.a, DEV_EVENT_SESSION_EXPIRED), 0);
	pair_down(&pr);
}

/* Reads the next packet the device wrote to its TUN stand-in; 0 on timeout. */
static size_t tun_read(int fd, uint8_t *buf, size_t cap)
{
	struct pollfd pf = { .fd = fd, .events = POLLIN };
	if (poll(&pf, 1, WAIT_MS) != 1)
		return 0;
	ssize_t r = recv(fd, buf, cap, 0);
	return r > 0 ? (size_t)r : 0;
}

static void tun_write(int fd, int family, uint8_t src, uint8_t dst, uint32_t seq)
{
	uint8_t pkt[1400];
	size_t len = make_packet(pkt, family, src, dst, seq);
	assert_int_equal(send(fd, pkt, len, 0), (ssize_t)len);
}

/* Reads count packets from src's peer and checks each against what was sent. */
static void tun_expect(int fd, int family, uint8_t src, uint8_t dst, uint32_t first, unsigned count)
{
	uint8_t got[1500], want[1400];
	for (unsigned i = 0; i < count; i++) {
		size_t len = tun_read(fd, got, sizeof(got));
		size_t wlen = make_packet(want, family, src, dst, first + i);
		if (len != wlen || memcmp(got, want, len))
			fail_msg("host %u: packet %u of %u: read %zu bytes, expected packet %u (%zu bytes)", dst, i, count,
			         len, first + i, wlen);
	}
}

/* A datagram socketpair stands in for each TUN device: the tx thread reads
 * what the "kernel" writes, routes it by inner destination (cryptokey
 * routing), and the other side's rx thread writes the decrypted packet back.
 * This runs the tx thread, which the no_tun tests never start. */
static void packets_written_to_the_tun_are_routed_by_destination_to_the_other_tun(void **state)
{
	int ta[2], tb[2];
	struct pair pr;
	assert_int_equal(socketpair(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0, ta), 0);
	assert_int_equal(socketpair(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0, tb), 0);
	node_init_fd(&pr.a, 1, 0, awg_lines, ta[0]);
	node_init_fd(&pr.b, 2, 0, awg_lines, tb[0]);
	node_add_peer(&pr.a, &pr.b, NULL);
	node_add_peer(&pr.b, &pr.a, NULL);

	tun_write(ta[1], AF_INET, 1, 2, 0);
	tun_expect(tb[1], AF_INET, 1, 2, 0, 1);
	uint32_t seq = 1;
	for (int round = 0; round < 8; round++) {
		int fam = round % 2 ? AF_INET6 : AF_INET;
		/* Bursts large enough for the crypto pools to share the work. */
		for (unsigned i = 0; i < TUN_BURST; i++) {
			tun_write(ta[1], fam, 1, 2, seq + i);
			tun_write(tb[1], fam, 2, 1, seq + i);
			/* No peer has 10.0.0.77 / fd00::77: dropped, never sent. */
			if (i % 8 == 0)
				tun_write(ta[1], fam, 1, 77, 999999);
		}
		tun_expect(tb[1], fam, 1, 2, seq, TUN_BURST);
		tun_expect(ta[1], fam, 2, 1, seq, TUN_BURST);
		seq += TUN_BURST;
	}
	/* Nothing else came out on either side. */
	uint8_t buf[1500];
	assert_int_equal(recv(ta[1], buf, sizeof(buf), MSG_DONTWAIT), -1);
	assert_int_equal(recv(tb[1], buf, sizeof(buf), MSG_DONTWAIT), -1);
	pair_down(&pr);
	for (int i = 0; i < 2; i++) {
		close(ta[i]);
		close(tb[i]);
	}
}

static void peer_get_finds_configured_peers_only(void **state)
{
	struct pair pr;
	uint8_t unknown[32];
	pair_up(&pr, &(struct pair_opts){ 0 });
	randombytes_buf(unknown, sizeof(unknown));
	assert_null(device_peer_get(pr.a.dev, unknown));
	assert_null(device_peer_get(pr.a.dev, pr.a.pub));
	assert_ptr_equal(device_peer_get(pr.a.dev, pr.b.pub), pr.a.peer);
	pair_down(&pr);
}

int main(void)
{
	if (sodium_init() < 0)
		return 1;
	/* Refused sets log a warning on purpose; keep the output to the tests. */
	log_setup("test_device", LOG_LVL_ERROR, false);
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(ipv4_packets_arrive_intact_and_in_order_in_both_directions),
		cmocka_unit_test(ipv6_packets_arrive_intact_and_in_order_in_both_directions),
		cmocka_unit_test(an_amneziawg_parameter_set_on_both_sides_carries_traffic_both_ways),
		cmocka_unit_test(mismatched_amneziawg_parameters_never_deliver),
		cmocka_unit_test(a_wrong_preshared_key_never_delivers_a_packet),
		cmocka_unit_test(a_rekey_under_traffic_loses_at_most_a_handful_of_packets),
		cmocka_unit_test(a_peer_that_stops_answering_a_stream_gets_a_new_handshake),
		cmocka_unit_test(a_one_way_stream_is_answered_with_keepalives),
		cmocka_unit_test(removing_a_peer_under_traffic_is_safe_and_the_peer_can_come_back),
		cmocka_unit_test(a_new_private_key_is_used_with_peers_configured_under_the_old_one),
		cmocka_unit_test(a_set_with_a_bad_line_after_a_valid_peer_changes_nothing),
		cmocka_unit_test(a_set_whose_port_is_taken_changes_nothing),
		cmocka_unit_test(get_lists_what_set_configured_and_counts_bytes),
		cmocka_unit_test(both_sides_report_the_handshake_as_an_event),
		cmocka_unit_test(packets_written_to_the_tun_are_routed_by_destination_to_the_other_tun),
		cmocka_unit_test(peer_get_finds_configured_peers_only),
		cmocka_unit_test(idle_peers_leave_the_timer_walk_and_come_back_when_given_work),
	};
	return run_group(tests);
}
