/* Writes the seed corpus of fuzz/fuzz_device_rx.c: what a real peer would send
 * to the fuzzed device in each obfuscation mode and state (initiations,
 * responses to our in-flight initiation, cookie replies, transport data and
 * keepalives, with and without load, from IPv4 and IPv6), a few packets that
 * must be refused after decryption, and junk. Every seed is then fed to the
 * fuzz target and must do what its name says (deliver a packet, complete a
 * handshake, store a cookie, or be dropped), so a seed that went stale would
 * be noticed here rather than silently covering nothing.
 *
 * It includes the fuzz target's source to share its fixture (keys, indices,
 * our initiation, the AWG parameter sets): seeds and target cannot drift.
 *
 *   make MODE=asan tools
 *   build/asan/tools/gen_fuzz_device_rx fuzz/corpus/fuzz_device_rx
 *
 * Handshake messages carry random ephemerals and nonces, so each run writes
 * different (equally valid) bytes. */
#include "../../fuzz/fuzz_device_rx.c"

#include <errno.h>
#include <sys/stat.h>

#define SEED_MAX 1600
#define PEER_SENDER_INDEX 0x0badcafeu
#define NOW_NS (1000 * NSEC_PER_SEC)

struct seed {
	uint8_t b[SEED_MAX];
	size_t len;
};

/* What feeding a seed must do. */
enum expect {
	EXPECT_DELIVERED, /* one inner packet reaches the forward hook */
	EXPECT_HANDSHAKE, /* a HANDSHAKE event (response sent or consumed) */
	EXPECT_COOKIE,    /* the peer's cookie is stored */
	EXPECT_DROPPED,   /* counted as a drop, nothing delivered, no event */
	EXPECT_NOTHING,   /* no delivery, no event, no cookie (junk, keepalive, refused handshakes) */
};

static const char *outdir;
static unsigned written;

/* The peer's side: its identity and its keys towards the device. */
static struct noise_identity peer_id;
static struct noise_peer_keys peer_keys;

static void die(const char *what)
{
	fprintf(stderr, "gen_fuzz_device_rx: %s\n", what);
	exit(1);
}

static void check(const char *name, const struct seed *s, enum expect e)
{
	(void)LLVMFuzzerTestOneInput(s->b, s->len);
	const struct fixture *f = &fx_last;
	bool ok = false;
	switch (e) {
	case EXPECT_DELIVERED:
		ok = f->delivered == 1;
		break;
	case EXPECT_HANDSHAKE:
		ok = f->events[DEV_EVENT_HANDSHAKE] == 1 && !f->delivered;
		break;
	case EXPECT_COOKIE:
		ok = f->got_cookie && !f->events[DEV_EVENT_HANDSHAKE];
		break;
	case EXPECT_DROPPED:
		ok = f->drops >= 1 && !f->delivered && !f->events[DEV_EVENT_HANDSHAKE];
		break;
	case EXPECT_NOTHING:
		ok = !f->delivered && !f->events[DEV_EVENT_HANDSHAKE] && !f->got_cookie && !f->drops;
		break;
	}
	if (!ok) {
		fprintf(stderr, "seed %s: delivered %zu, handshakes %u, cookie %d, drops %llu\n", name, f->delivered,
		        f->events[DEV_EVENT_HANDSHAKE], f->got_cookie, (unsigned long long)f->drops);
		die("a seed does not do what its name says");
	}
}

static void emit(const char *name, const struct seed *s, enum expect e)
{
	char path[4096];
	check(name, s, e);
	snprintf(path, sizeof(path), "%s/%s", outdir, name);
	FILE *f = fopen(path, "wb");
	if (!f || fwrite(s->b, 1, s->len, f) != s->len || fclose(f) != 0)
		die("cannot write a seed");
	written++;
}

/* Starts a seed: the mode byte, then the AWG prefix for message type t
 * (deterministic filler) when t is a handshake or data type. Returns where
 * the message goes. */
static uint8_t *begin(struct seed *s, const struct fixture *fx, uint8_t mode, int t)
{
	size_t pre = t ? fx->dev->obf.s[t - 1] : 0;
	s->b[0] = mode;
	for (size_t i = 0; i < pre; i++)
		s->b[1 + i] = (uint8_t)(0xa5 ^ i);
	s->len = 1 + pre;
	return s->b + s->len;
}

static uint32_t wire_type(const struct fixture *fx, int t)
{
	return fx->dev->obf.h[t - 1].lo;
}

static void src_bytes_of(uint8_t mode, uint8_t out[18], size_t *len)
{
	static const uint8_t v4[6] = { 127, 0, 0, 1, 0, FX_SRC_PORT };
	uint8_t v6[18] = { [15] = 1, [16] = 0, [17] = FX_SRC_PORT };
	if (mode & FX_V6) {
		memcpy(out, v6, sizeof(v6));
		*len = sizeof(v6);
	} else {
		memcpy(out, v4, sizeof(v4));
		*len = sizeof(v4);
	}
}

/* Adds mac1, and under load a valid mac2: a cookie from the device's fixed
 * secret for our source, obtained the way a real peer would (a cookie reply,
 * consumed), so the device's own code computes the cookie. */
static void add_macs(const struct fixture *fx, uint8_t mode, uint8_t *msg, size_t len, bool mac2)
{
	struct cookie_state cs;
	memset(&cs, 0, sizeof(cs));
	cookie_add_macs(&cs, peer_keys.mac1_key, msg, len, NOW_NS);
	if (!mac2)
		return;
	struct cookie_checker chk;
	struct msg_cookie reply;
	uint8_t src[18];
	size_t slen;
	cookie_checker_init(&chk, &fx->dev->id);
	memset(chk.secret, fx_cookie_secret_byte, sizeof(chk.secret));
	chk.secret_birth_ns = NOW_NS;
	chk.secret_valid = true;
	src_bytes_of(mode, src, &slen);
	if (cookie_create_reply(&chk, &reply, msg, len, 0, src, slen, NULL, NOW_NS) != 0 ||
	    cookie_consume_reply(&cs, peer_keys.cookie_key, &reply, NOW_NS) != 0)
		die("cookie");
	cookie_add_macs(&cs, peer_keys.mac1_key, msg, len, NOW_NS);
}

/* The peer initiates (state 0 or a re-handshake over a session). */
static void make_initiation(struct seed *s, uint8_t mode, bool mac2)
{
	struct fixture fx;
	struct noise_handshake hs;
	struct msg_initiation msg;
	uint8_t ts[NOISE_TIMESTAMP_LEN];
	fx_setup(&fx, mode);
	memset(&hs, 0, sizeof(hs));
	noise_tai64n(ts, FX_TIMESTAMP_SEC + 60, 0);
	if (noise_create_initiation(&hs, &peer_id, &peer_keys, PEER_SENDER_INDEX, ts, NULL, &msg) != 0)
		die("initiation");
	le32_write(&msg.type, wire_type(&fx, MSG_INITIATION));
	add_macs(&fx, mode, (uint8_t *)&msg, sizeof(msg), mac2);
	uint8_t *p = begin(s, &fx, mode, MSG_INITIATION);
	memcpy(p, &msg, sizeof(msg));
	s->len += sizeof(msg);
	fx_teardown(&fx);
}

/* The peer answers the device's initiation (in flight in state 1; the seed
 * may name another state, where the response must find nothing). */
static void make_response(struct seed *s, uint8_t mode, bool mac2)
{
	struct fixture fx;
	struct noise_handshake hs;
	struct noise_initiation_state st;
	struct msg_response msg;
	fx_setup(&fx, (uint8_t)((mode & ~0x0cu) | 1u << 2));
	memset(&hs, 0, sizeof(hs));
	if (noise_consume_initiation_begin(&peer_id, &fx.init, &st) != 0 ||
	    noise_consume_initiation_finish(&hs, &peer_id, &peer_keys, &st, &fx.init, NOW_NS) != 0 ||
	    noise_create_response(&hs, &peer_id, &peer_keys, PEER_SENDER_INDEX, NULL, &msg) != 0)
		die("response");
	le32_write(&msg.type, wire_type(&fx, MSG_RESPONSE));
	add_macs(&fx, mode, (uint8_t *)&msg, sizeof(msg), mac2);
	uint8_t *p = begin(s, &fx, mode, MSG_RESPONSE);
	memcpy(p, &msg, sizeof(msg));
	s->len += sizeof(msg);
	s->b[0] = mode;
	sodium_memzero(&hs, sizeof(hs));
	fx_teardown(&fx);
}

/* The peer, under load, refuses the device's initiation with a cookie reply. */
static void make_cookie_reply(struct seed *s, uint8_t mode)
{
	struct fixture fx;
	struct cookie_checker chk;
	struct msg_cookie msg;
	uint8_t src[6] = { 192, 0, 2, 1, 0xca, 0x6c };
	fx_setup(&fx, mode);
	cookie_checker_init(&chk, &peer_id);
	if (cookie_create_reply(&chk, &msg, (const uint8_t *)&fx.init, sizeof(fx.init), FX_INIT_INDEX, src,
	                        sizeof(src), NULL, NOW_NS) != 0)
		die("cookie reply");
	le32_write(&msg.type, wire_type(&fx, MSG_COOKIE));
	uint8_t *p = begin(s, &fx, mode, MSG_COOKIE);
	memcpy(p, &msg, sizeof(msg));
	s->len += sizeof(msg);
	fx_teardown(&fx);
}

/* A transport message under the fixture's keypair (states 2, 3). */
static void make_data(struct seed *s, uint8_t mode, const uint8_t *inner, size_t len, uint64_t counter,
                      uint32_t index, bool wrong_key)
{
	struct fixture fx;
	fx_setup(&fx, mode);
	uint8_t *p = begin(s, &fx, mode, 0);
	size_t n = fx_seal(&fx, p, inner, len, counter);
	struct msg_data *md = (struct msg_data *)(p + fx.dev->obf.s[3]);
	le32_write(&md->receiver_index, index);
	if (wrong_key)
		noise_seal(md->encrypted_data, inner, len, counter, fx_send_key);
	s->len += n;
	fx_teardown(&fx);
}

/* An inner packet from host src (10.0.0.src or fd00::src) to us. */
static size_t make_inner(uint8_t *buf, int family, uint8_t src, size_t payload)
{
	size_t hdr = family == AF_INET ? 20 : 40, len = hdr + payload;
	memset(buf, 0, len);
	if (family == AF_INET) {
		buf[0] = 0x45;
		buf[2] = (uint8_t)(len >> 8);
		buf[3] = (uint8_t)len;
		buf[8] = 64;
		buf[9] = 17;
		buf[12] = 10, buf[15] = src;
		buf[16] = 10, buf[19] = 1;
	} else {
		buf[0] = 0x60;
		buf[4] = (uint8_t)(payload >> 8);
		buf[5] = (uint8_t)payload;
		buf[6] = 17;
		buf[7] = 64;
		buf[8] = 0xfd, buf[23] = src;
		buf[24] = 0xfd, buf[39] = 1;
	}
	for (size_t i = hdr; i < len; i++)
		buf[i] = (uint8_t)i;
	return len;
}

static uint8_t mode_of(unsigned obf, unsigned state, unsigned flags)
{
	return (uint8_t)(obf | state << 2 | flags);
}

int main(int argc, char **argv)
{
	static const char *const obf_name[4] = { "plain", "awg2", "awg1", "junkonly" };
	uint8_t priv[NOISE_PUBLIC_KEY_LEN], dev_pub[NOISE_PUBLIC_KEY_LEN], inner[1400];
	char name[128];
	struct seed s;
	struct stat st;
	size_t n;

	if (argc != 2) {
		fprintf(stderr, "usage: %s OUTPUT_DIR\n", argv[0]);
		return 2;
	}
	outdir = argv[1];
	if (stat(outdir, &st) != 0 && mkdir(outdir, 0755) != 0)
		die("cannot create the output directory");
	if (sodium_init() < 0)
		die("sodium_init");
	fx_unhex(fx_peer_private, priv, sizeof(priv));
	noise_identity_set(&peer_id, priv);
	fx_unhex(fx_device_private, priv, sizeof(priv));
	if (noise_public_from_private(dev_pub, priv) != 0 ||
	    noise_peer_keys_init(&peer_keys, dev_pub, NULL) != 0)
		die("keys");
	sodium_memzero(priv, sizeof(priv));

	for (unsigned o = 0; o < 4; o++) {
		/* Handshakes: the peer initiates; the peer answers ours; a cookie. */
		make_initiation(&s, mode_of(o, 0, 0), false);
		snprintf(name, sizeof(name), "%s-initiation", obf_name[o]);
		emit(name, &s, EXPECT_HANDSHAKE);
		make_initiation(&s, mode_of(o, 3, FX_V6), false);
		snprintf(name, sizeof(name), "%s-initiation-v6-over-a-session", obf_name[o]);
		emit(name, &s, EXPECT_HANDSHAKE);
		make_response(&s, mode_of(o, 1, 0), false);
		snprintf(name, sizeof(name), "%s-response", obf_name[o]);
		emit(name, &s, EXPECT_HANDSHAKE);
		make_response(&s, mode_of(o, 0, 0), false);
		snprintf(name, sizeof(name), "%s-response-nothing-in-flight", obf_name[o]);
		emit(name, &s, EXPECT_NOTHING);
		make_cookie_reply(&s, mode_of(o, 1, 0));
		snprintf(name, sizeof(name), "%s-cookie-reply", obf_name[o]);
		emit(name, &s, EXPECT_COOKIE);

		/* Transport: delivered, keepalive, refused after decryption. */
		for (unsigned state = 2; state <= 3; state++) {
			n = make_inner(inner, AF_INET, 2, 64 + 100 * o);
			make_data(&s, mode_of(o, state, 0), inner, n, 7, FX_KP_INDEX, false);
			snprintf(name, sizeof(name), "%s-data-v4-%s", obf_name[o], state == 2 ? "confirms" : "confirmed");
			emit(name, &s, EXPECT_DELIVERED);
		}
		n = make_inner(inner, AF_INET6, 2, 200);
		make_data(&s, mode_of(o, 3, 0), inner, n, 0, FX_KP_INDEX, false);
		snprintf(name, sizeof(name), "%s-data-v6", obf_name[o]);
		emit(name, &s, EXPECT_DELIVERED);
		make_data(&s, mode_of(o, 2, 0), inner, 0, 1, FX_KP_INDEX, false);
		snprintf(name, sizeof(name), "%s-keepalive", obf_name[o]);
		emit(name, &s, EXPECT_NOTHING);
	}

	/* Under load: without mac2 the device answers with a cookie reply; with
	 * a valid mac2 (for this source) the handshake proceeds. */
	for (unsigned o = 0; o < 2; o++) {
		make_initiation(&s, mode_of(o, 0, FX_LOAD), false);
		snprintf(name, sizeof(name), "%s-load-initiation-without-mac2", obf_name[o]);
		emit(name, &s, EXPECT_NOTHING);
		make_initiation(&s, mode_of(o, 0, FX_LOAD), true);
		snprintf(name, sizeof(name), "%s-load-initiation-with-mac2", obf_name[o]);
		emit(name, &s, EXPECT_HANDSHAKE);
		make_initiation(&s, mode_of(o, 0, FX_LOAD | FX_V6), true);
		snprintf(name, sizeof(name), "%s-load-initiation-with-mac2-v6", obf_name[o]);
		emit(name, &s, EXPECT_HANDSHAKE);
		make_response(&s, mode_of(o, 1, FX_LOAD), true);
		snprintf(name, sizeof(name), "%s-load-response-with-mac2", obf_name[o]);
		emit(name, &s, EXPECT_HANDSHAKE);
	}

	/* Decrypted but refused: source outside the allowed IPs, not IP, length
	 * past the end; and not decrypted: wrong key, unknown index, no keys. */
	n = make_inner(inner, AF_INET, 99, 40);
	make_data(&s, mode_of(1, 2, 0), inner, n, 0, FX_KP_INDEX, false);
	emit("awg2-data-source-not-allowed", &s, EXPECT_DROPPED);
	memset(inner, 0x50, 48);
	make_data(&s, mode_of(0, 3, 0), inner, 48, 0, FX_KP_INDEX, false);
	emit("plain-data-not-ip", &s, EXPECT_DROPPED);
	n = make_inner(inner, AF_INET, 2, 40);
	inner[2] = 0x05; /* claims 1280+ bytes */
	make_data(&s, mode_of(0, 3, 0), inner, n, 0, FX_KP_INDEX, false);
	emit("plain-data-truncated", &s, EXPECT_DROPPED);
	n = make_inner(inner, AF_INET, 2, 40);
	make_data(&s, mode_of(1, 3, 0), inner, n, 0, FX_KP_INDEX, true);
	emit("awg2-data-wrong-key", &s, EXPECT_DROPPED);
	make_data(&s, mode_of(0, 3, 0), inner, n, 0, FX_KP_INDEX ^ 1, false);
	emit("plain-data-unknown-index", &s, EXPECT_DROPPED);
	make_data(&s, mode_of(0, 0, 0), inner, n, 0, FX_KP_INDEX, false);
	emit("plain-data-no-session", &s, EXPECT_DROPPED);

	/* Plaintext mode: the harness seals the rest, the fuzzer edits the inner packet. */
	n = make_inner(s.b + 1, AF_INET, 2, 30);
	s.b[0] = mode_of(0, 3, FX_SEAL);
	s.len = 1 + n;
	emit("sealed-v4", &s, EXPECT_DELIVERED);
	n = make_inner(s.b + 1, AF_INET6, 2, 30);
	s.b[0] = mode_of(1, 2, FX_SEAL);
	s.len = 1 + n;
	emit("sealed-v6-awg2", &s, EXPECT_DELIVERED);
	s.b[0] = mode_of(0, 3, FX_SEAL);
	s.len = 1;
	emit("sealed-keepalive", &s, EXPECT_NOTHING);

	/* Junk, an I-packet, a datagram too short for anything. */
	s.b[0] = mode_of(1, 3, 0);
	for (size_t i = 1; i < 61; i++)
		s.b[i] = (uint8_t)(i * 37 + 11);
	s.len = 61;
	emit("awg2-junk", &s, EXPECT_NOTHING);
	s.b[0] = mode_of(1, 0, 0);
	s.b[1] = 0xc0;
	memcpy(s.b + 2, "\x00\x00\x00\x01", 4);
	memset(s.b + 6, 0, 1194);
	s.len = 1200;
	emit("awg2-quic-like-i-packet", &s, EXPECT_NOTHING);
	s.b[0] = mode_of(0, 3, 0);
	s.b[1] = 4;
	s.len = 2;
	emit("plain-one-byte", &s, EXPECT_NOTHING);

	printf("wrote %u seeds to %s\n", written, outdir);
	return 0;
}
