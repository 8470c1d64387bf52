/* The REALITY server's connection state machine (specs/reality.md §3, §5),
 * driven in memory: our REALITY client core (reality_client.h) plays the
 * client, the test plays dest with a ServerHello, a CCS and encrypted
 * records of chosen sizes, as a real site's first flight looks on the wire. */
#include "support.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/buf.h"
#include "lib/err.h"
#include "lib/rng.h"
#include "reality/reality_client.h"
#include "reality/reality_server.h"
#include "reality/server_conf.h"
#include "reality/tls13_msg.h"
#include "reality/vision.h"
#include "reality/vless.h"

#define PRIV_TEXT "aGSYystUbf59_9_6LKRxD27rmSW_-2_nyd9YG_Gwbks"
#define PUB_TEXT  "E59WjnvZcQMu7tR7_BgyhycuEdBS-CtKxfImRCdAvFM"
#define SNI       "www.decoy.test"
#define NOW_S     1767225600u
static const uint8_t SID[8] = {0x01, 0x23, 0xab, 0xcd};
static const char *const UUID_VISION = "b831381d-6324-4d53-ad4f-8cda48b30811";
static const char *const UUID_PLAIN = "27848739-7e62-4138-9fd3-098a63964b6b";

static struct reality_server_cfg *make_cfg(void)
{
	struct reality_server_cfg *cfg = calloc(1, sizeof(*cfg));
	struct vless_user u = {.flow = VLESS_FLOW_XRV};
	assert_non_null(cfg);
	assert_int_equal(reality_auth_key_from_text(cfg->private_key, PRIV_TEXT), 0);
	strcpy(cfg->names[cfg->n_names++], SNI);
	memcpy(cfg->short_ids[cfg->n_short_ids++], SID, 8);
	cfg->min_client_ver = REALITY_VERSION_26_3_27;
	cfg->max_time_diff_ms = 60000;
	assert_int_equal(vless_uuid_parse(u.uuid, UUID_VISION), 0);
	assert_int_equal(vless_users_add(&cfg->users, &u), 0);
	u.flow = VLESS_FLOW_NONE;
	assert_int_equal(vless_uuid_parse(u.uuid, UUID_PLAIN), 0);
	assert_int_equal(vless_users_add(&cfg->users, &u), 0);
	assert_int_equal(reality_server_cfg_keys(cfg), 0);
	cfg->replay = reality_replay_new();
	assert_non_null(cfg->replay);
	return cfg;
}

static void free_cfg(struct reality_server_cfg *cfg)
{
	reality_replay_free(cfg->replay);
	free(cfg);
}

struct client_opts {
	const char *sni;
	const uint8_t *short_id;
	uint32_t version;
	int32_t time_skew_s;
	const char *pub;
};

static void client_start(struct reality_client *cl, const struct client_opts *o, struct buf *hello)
{
	struct reality_client_config cc = {.server_name = o && o->sni ? o->sni : SNI,
	                                   .version = o ? o->version : 0};
	assert_int_equal(reality_auth_key_from_text(cc.server_pub, o && o->pub ? o->pub : PUB_TEXT), 0);
	memcpy(cc.short_id, o && o->short_id ? o->short_id : SID, 8);
	assert_int_equal(reality_client_init(cl, &cc, NOW_S + (uint32_t)(o ? o->time_skew_s : 0), NULL, NULL), 0);
	buf_init(hello, 1 << 20);
	assert_int_equal(reality_client_hello(cl, hello), 0);
}

/* dest's first flight: ServerHello (echoing the client's session id) for
 * group and suite, CCS, then encrypted records of the given total lengths
 * (header included). */
static void dest_flight(struct buf *out, const struct buf *hello, uint16_t group, uint16_t suite,
                        const size_t *rec, size_t n_rec)
{
	struct tls13_msg_ch ch;
	uint8_t random[32], key[TLS_X25519MLKEM768_SERVER_LEN], sh[2048], hdr[5];
	size_t sh_len;
	const uint8_t *sid;
	size_t sid_len;
	assert_int_equal(tls13_msg_ch_parse(&ch, hello->data + 5, hello->len - 5), 0);
	tls13_msg_ch_session_id(&ch, &sid, &sid_len);
	rng_bytes(random, sizeof(random));
	rng_bytes(key, sizeof(key));
	struct tls13_msg_sh_spec spec = {
		.random = random, .sid = sid, .sid_len = sid_len, .suite = suite, .group = group, .key = key,
		.key_len = group == TLS_GROUP_X25519 ? TLS_X25519_LEN : TLS_X25519MLKEM768_SERVER_LEN,
	};
	assert_int_equal(tls13_msg_sh_build(&spec, sh, sizeof(sh), &sh_len), 0);
	buf_init(out, 1 << 20);
	hdr[0] = TLS_CT_HANDSHAKE, hdr[1] = 3, hdr[2] = 3;
	tls_put_u16(hdr + 3, (uint16_t)sh_len);
	assert_int_equal(buf_append(out, hdr, 5), 0);
	assert_int_equal(buf_append(out, sh, sh_len), 0);
	assert_int_equal(buf_append(out, "\x14\x03\x03\x00\x01\x01", 6), 0);
	for (size_t i = 0; i < n_rec; i++) {
		uint8_t body[TLS_MAX_RECORD];
		hdr[0] = TLS_CT_APPLICATION_DATA;
		tls_put_u16(hdr + 3, (uint16_t)(rec[i] - 5));
		rng_bytes(body, rec[i] - 5);
		assert_int_equal(buf_append(out, hdr, 5), 0);
		assert_int_equal(buf_append(out, body, rec[i] - 5), 0);
	}
}

/* Total lengths of the records in b, in order. */
static size_t record_lengths(const struct buf *b, size_t *len, size_t max)
{
	size_t at = 0, n = 0;
	while (at + 5 <= b->len && n < max) {
		len[n++] = 5 + tls_get_u16(b->data + at + 3);
		at += len[n - 1];
	}
	assert_int_equal(at, b->len);
	return n;
}

/* Runs the handshake to OPEN; returns the server's flight in *flight. */
static void handshake(struct reality_conn *c, struct reality_client *cl, const struct buf *dest,
                      struct buf *flight)
{
	struct buf out;
	size_t used = 0;
	assert_int_equal(reality_conn_dest_data(c, dest->data, dest->len), 0);
	assert_int_equal(c->state, REALITY_CONN_WAIT_FIN);
	buf_init(flight, 1 << 20);
	assert_int_equal(buf_append(flight, c->out_client.data, c->out_client.len), 0);
	buf_reset(&c->out_client);
	buf_init(&out, 1 << 20);
	assert_int_equal(reality_client_handshake(cl, flight->data, flight->len, &used, &out), REALITY_CLIENT_OURS);
	/* records after our Finished (the imitation of dest's early ticket)
	 * are application records: left for client_reads() */
	assert_int_equal(buf_append(&c->out_client, flight->data + used, flight->len - used), 0);
	assert_int_equal(reality_conn_client_data(c, out.data, out.len), 0);
	assert_int_equal(c->state, REALITY_CONN_OPEN);
	buf_fini(&out);
}

static void client_reads(struct reality_client *cl, struct buf *from, struct buf *app)
{
	size_t at = 0;
	struct buf out;
	buf_init(&out, 1 << 20);
	for (;;) {
		size_t used = 0, dlen = 0;
		const uint8_t *data = NULL;
		int rc = reality_client_read(cl, from->data + at, from->len - at, &used, &data, &dlen, &out);
		if (rc == 0 || rc == REALITY_CLIENT_EOF)
			break;
		assert_int_equal(rc, 1);
		at += used;
		if (dlen)
			assert_int_equal(buf_append(app, data, dlen), 0);
	}
	buf_consume(from, at);
	buf_fini(&out);
}

/* A connection in OPEN over dest records of OpenSSL's separate shape. */
struct session {
	struct reality_conn c;
	struct reality_client cl;
	struct buf hello, dest, flight;
};

static void session_open(struct session *s, const struct reality_server_cfg *cfg)
{
	static const size_t rec[] = {50, 500, 101, 58};
	client_start(&s->cl, NULL, &s->hello);
	assert_int_equal(reality_conn_init(&s->c, cfg, (uint64_t)NOW_S * 1000), 0);
	assert_int_equal(reality_conn_client_data(&s->c, s->hello.data, s->hello.len), 0);
	dest_flight(&s->dest, &s->hello, TLS_GROUP_X25519, TLS_AES_128_GCM_SHA256, rec, 4);
	handshake(&s->c, &s->cl, &s->dest, &s->flight);
}

static void session_close(struct session *s)
{
	buf_fini(&s->flight);
	buf_fini(&s->dest);
	buf_fini(&s->hello);
	reality_client_fini(&s->cl);
	reality_conn_fini(&s->c);
}

static void vless_request(const char *uuid, const char *flow, uint8_t *out, size_t *n)
{
	struct vless_request r;
	memset(&r, 0, sizeof(r));
	assert_int_equal(vless_uuid_parse(r.uuid, uuid), 0);
	strcpy(r.flow, flow);
	r.cmd = VLESS_CMD_TCP;
	r.dst.port = 80;
	r.dst.atyp = VLESS_ATYP_IPV4;
	memcpy(r.dst.bytes, "\xc0\x00\x02\x50", 4);
	assert_int_equal(vless_request_encode(&r, out, VLESS_REQUEST_MAX, n), 0);
}

static void run_session(uint16_t group, uint16_t suite, const size_t *rec, size_t n_rec, bool combined)
{
	struct reality_server_cfg *cfg = make_cfg();
	struct reality_conn c;
	struct reality_client cl;
	struct buf hello, dest, flight, out, app;
	size_t lens[16];
	client_start(&cl, NULL, &hello);
	assert_int_equal(reality_conn_init(&c, cfg, (uint64_t)NOW_S * 1000 + 1234), 0);
	/* the ClientHello in two pieces, both mirrored to dest at once */
	assert_int_equal(reality_conn_client_data(&c, hello.data, 100), 0);
	assert_int_equal(c.state, REALITY_CONN_READ_CH);
	assert_int_equal(reality_conn_client_data(&c, hello.data + 100, hello.len - 100), 0);
	assert_int_equal(c.out_dest.len, hello.len);
	assert_memory_equal(c.out_dest.data, hello.data, hello.len);
	assert_int_equal(c.state, REALITY_CONN_WAIT_DEST);
	assert_int_equal(c.verdict, REALITY_V_OURS);
	dest_flight(&dest, &hello, group, suite, rec, n_rec);
	/* dest's measured post-handshake records for this name and the
	 * client's ALPN class (Chrome's: h2 first) */
	cfg->post_hs[0][2].n = 2;
	cfg->post_hs[0][2].len[0] = 287;
	cfg->post_hs[0][2].len[1] = 62;
	handshake(&c, &cl, &dest, &flight);
	{
		size_t pl[8], pn = record_lengths(&c.out_client, pl, 8);
		assert_true(pn >= 2);
		assert_int_equal(pl[pn - 2], 287);
		assert_int_equal(pl[pn - 1], 62);
	}
	/* our flight has dest's shape: ServerHello of the same length, CCS,
	 * then records of exactly dest's lengths */
	size_t n = record_lengths(&flight, lens, 16), dn;
	size_t dlens[16];
	dn = record_lengths(&dest, dlens, 16);
	assert_int_equal(lens[0], dlens[0]);
	assert_int_equal(lens[1], 6);
	if (combined) {
		assert_int_equal(n, 3);
		assert_int_equal(lens[2], dlens[2]);
	} else {
		assert_int_equal(n, dn);
		for (size_t i = 2; i < n; i++)
			assert_int_equal(lens[i], dlens[i]);
	}
	/* VLESS: request and first payload in one record */
	uint8_t req[VLESS_REQUEST_MAX + 16];
	size_t rl;
	vless_request(UUID_PLAIN, "", req, &rl);
	memcpy(req + rl, "GET /", 5);
	buf_init(&out, 1 << 20);
	assert_int_equal(reality_client_write(&cl, req, rl + 5, &out), 0);
	assert_int_equal(reality_conn_client_data(&c, out.data, out.len), 0);
	assert_true(c.connect_wanted);
	assert_false(c.vision);
	assert_int_equal(c.req.dst.port, 80);
	assert_int_equal(c.out_target.len, 5);
	assert_memory_equal(c.out_target.data, "GET /", 5);
	reality_conn_target_connected(&c);
	/* the answer, larger than a record, comes back behind 00 00 */
	static uint8_t big[40000];
	for (size_t i = 0; i < sizeof(big); i++)
		big[i] = (uint8_t)(i * 13);
	assert_int_equal(reality_conn_target_data(&c, big, sizeof(big)), 0);
	assert_int_equal(reality_conn_target_eof(&c), 0);
	buf_init(&app, 1 << 20);
	client_reads(&cl, &c.out_client, &app);
	assert_int_equal(app.len, 2 + sizeof(big));
	assert_int_equal(app.data[0], 0);
	assert_int_equal(app.data[1], 0);
	assert_memory_equal(app.data + 2, big, sizeof(big));
	buf_fini(&app);
	buf_fini(&out);
	buf_fini(&flight);
	buf_fini(&dest);
	buf_fini(&hello);
	reality_client_fini(&cl);
	reality_conn_fini(&c);
	free_cfg(cfg);
}

static void a_client_with_the_key_completes_the_handshake_and_reaches_its_target(void **state)
{
	(void)state;
	/* separate records (EE, Certificate, CertificateVerify, Finished) and
	 * an early ticket record, as OpenSSL-based sites send them */
	static const size_t rec[] = {50, 500, 101, 58, 250};
	run_session(TLS_GROUP_X25519, TLS_AES_128_GCM_SHA256, rec, 5, false);
}

static void the_hybrid_group_and_a_combined_flight_are_mirrored_too(void **state)
{
	(void)state;
	/* one big record for the whole flight (Go, BoringSSL); SHA-384 suite */
	static const size_t rec[] = {2400};
	run_session(TLS_GROUP_X25519MLKEM768, TLS_AES_256_GCM_SHA384, rec, 1, true);
	run_session(TLS_GROUP_X25519MLKEM768, TLS_CHACHA20_POLY1305_SHA256, rec, 1, true);
}

/* A connection that must end up as a pipe: every client byte mirrored,
 * dest's bytes (those held back before the decision first) relayed
 * verbatim, nothing of ours. */
static void expect_pipe(struct reality_server_cfg *cfg, const uint8_t *in, size_t len, enum reality_verdict why,
                        uint64_t now_ms)
{
	struct reality_conn c;
	assert_int_equal(reality_conn_init(&c, cfg, now_ms), 0);
	assert_int_equal(reality_conn_dest_data(&c, (const uint8_t *)"early", 5), 0);
	assert_int_equal(c.out_client.len, 0);
	assert_int_equal(reality_conn_client_data(&c, in, len), 0);
	assert_int_equal(c.state, REALITY_CONN_RELAY);
	assert_int_equal(c.verdict, why);
	assert_int_equal(c.out_dest.len, len);
	assert_memory_equal(c.out_dest.data, in, len);
	assert_int_equal(reality_conn_dest_data(&c, (const uint8_t *)"-later", 6), 0);
	assert_int_equal(c.out_client.len, 11);
	assert_memory_equal(c.out_client.data, "early-later", 11);
	assert_int_equal(reality_conn_client_data(&c, (const uint8_t *)"more", 4), 0);
	assert_int_equal(c.out_dest.len, len + 4);
	reality_conn_fini(&c);
}

static void hello_of(const struct client_opts *o, struct buf *hello)
{
	struct reality_client cl;
	client_start(&cl, o, hello);
	reality_client_fini(&cl);
}

static void every_failed_check_turns_the_connection_into_a_pipe(void **state)
{
	(void)state;
	struct reality_server_cfg *cfg = make_cfg();
	uint64_t now = (uint64_t)NOW_S * 1000;
	struct buf h;
	static const uint8_t other_sid[8] = {0xff, 0xff};
	struct {
		struct client_opts o;
		enum reality_verdict v;
	} cases[] = {
		{{.short_id = other_sid}, REALITY_V_SHORT_ID},
		{{.time_skew_s = -3600}, REALITY_V_TIME},
		{{.time_skew_s = 61}, REALITY_V_TIME},
		{{.version = 0x010801}, REALITY_V_VERSION},
		{{.sni = "www.other.test"}, REALITY_V_SNI},
		{{.pub = "ELesx4-GRGmU2Jr1KYscKU4fgQJScaTyqJmU0Cy1nBU"}, REALITY_V_AUTH},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		hello_of(&cases[i].o, &h);
		expect_pipe(cfg, h.data, h.len, cases[i].v, now);
		buf_fini(&h);
	}
	/* a replayed ClientHello: accepted once, a pipe the second time */
	hello_of(NULL, &h);
	struct reality_conn c;
	assert_int_equal(reality_conn_init(&c, cfg, now), 0);
	assert_int_equal(reality_conn_client_data(&c, h.data, h.len), 0);
	assert_int_equal(c.verdict, REALITY_V_OURS);
	reality_conn_fini(&c);
	expect_pipe(cfg, h.data, h.len, REALITY_V_REPLAY, now + 1000);
	/* a random session id */
	h.data[5 + REALITY_SESSION_ID_OFFSET + 3] ^= 0x40;
	expect_pipe(cfg, h.data, h.len, REALITY_V_AUTH, now);
	buf_fini(&h);
	/* not TLS at all, and TLS that is not a ClientHello */
	expect_pipe(cfg, (const uint8_t *)"GET / HTTP/1.1\r\n\r\n", 18, REALITY_V_NOT_TLS, now);
	expect_pipe(cfg, (const uint8_t *)"\x16\x03\x01\x00\x05\x02\x00\x00\x01\x00", 10, REALITY_V_BAD_CH, now);
	expect_pipe(cfg, (const uint8_t *)"\x17\x03\x03\x00\x01\x00", 6, REALITY_V_NOT_TLS, now);
	free_cfg(cfg);
}

static void dest_replies_we_cannot_mirror_fall_back_to_the_pipe(void **state)
{
	(void)state;
	struct reality_server_cfg *cfg = make_cfg();
	static const size_t rec[] = {50, 500, 101, 58};
	for (int variant = 0; variant < 4; variant++) {
		struct reality_conn c;
		struct buf hello, dest;
		hello_of(NULL, &hello);
		assert_int_equal(reality_conn_init(&c, cfg, (uint64_t)NOW_S * 1000), 0);
		assert_int_equal(reality_conn_client_data(&c, hello.data, hello.len), 0);
		assert_int_equal(c.state, REALITY_CONN_WAIT_DEST);
		dest_flight(&dest, &hello, TLS_GROUP_X25519, TLS_AES_128_GCM_SHA256, rec, 4);
		if (variant == 0)
			dest.data[5 + 4 + 2 + 5] ^= 1; /* random: fine, but then drop the CCS */
		if (variant == 0)
			memcpy(dest.data + 5 + tls_get_u16(dest.data + 3), "\x16\x03\x03\x00\x01", 5);
		if (variant == 1)
			memcpy(dest.data + 5 + 4 + 2, TLS_HRR_RANDOM, 32); /* a HelloRetryRequest */
		if (variant == 2)
			dest.data[2] = 1; /* record version */
		if (variant == 3)
			dest.data[5 + 4] = 2; /* not a TLS 1.3 legacy_version... */
		/* fed byte by byte: the decision waits for whole records */
		for (size_t i = 0; i < dest.len && c.state == REALITY_CONN_WAIT_DEST; i++)
			assert_int_equal(reality_conn_dest_data(&c, dest.data + i, 1), 0);
		assert_int_equal(c.state, REALITY_CONN_RELAY);
		assert_int_equal(c.verdict, REALITY_V_DEST);
		/* what the client got so far is a prefix of dest's bytes */
		assert_true(c.out_client.len <= dest.len);
		assert_memory_equal(c.out_client.data, dest.data, c.out_client.len);
		reality_conn_fini(&c);
		buf_fini(&dest);
		buf_fini(&hello);
	}
	free_cfg(cfg);
}

static void a_vision_client_can_switch_its_uplink_to_raw(void **state)
{
	(void)state;
	struct reality_server_cfg *cfg = make_cfg();
	struct session s;
	struct buf out;
	uint8_t uuid[16], msg[VLESS_REQUEST_MAX + 64], frames[64];
	size_t n, fl = 0;
	session_open(&s, cfg);
	assert_int_equal(vless_uuid_parse(uuid, UUID_VISION), 0);
	vless_request(UUID_VISION, VLESS_FLOW_VISION, msg, &n);
	/* uuid, a continue frame "abc" + 2 padding, a direct frame "de" */
	memcpy(frames, uuid, 16), fl = 16;
	memcpy(frames + fl, "\x00\x00\x03\x00\x02" "abc\x01\x02", 10), fl += 10;
	memcpy(frames + fl, "\x02\x00\x02\x00\x00" "de", 7), fl += 7;
	memcpy(msg + n, frames, fl);
	buf_init(&out, 1 << 20);
	assert_int_equal(reality_client_write(&s.cl, msg, n + fl, &out), 0);
	/* raw TCP bytes follow the record at once, in the same read */
	assert_int_equal(buf_append(&out, "RAW-BYTES", 9), 0);
	assert_int_equal(reality_conn_client_data(&s.c, out.data, out.len), 0);
	assert_true(s.c.vision);
	assert_true(s.c.uplink_raw);
	assert_int_equal(s.c.out_target.len, 14);
	assert_memory_equal(s.c.out_target.data, "abcdeRAW-BYTES", 14);
	assert_int_equal(reality_conn_client_data(&s.c, (const uint8_t *)"!", 1), 0);
	assert_int_equal(s.c.out_target.len, 15);
	/* downlink: 00 00, then a padded first frame that starts with the UUID */
	reality_conn_target_connected(&s.c);
	assert_int_equal(reality_conn_target_data(&s.c, (const uint8_t *)"HTTP/1.1 200", 12), 0);
	struct buf app;
	buf_init(&app, 1 << 20);
	client_reads(&s.cl, &s.c.out_client, &app);
	assert_true(app.len > 2 + 16 + 5 + 12);
	assert_int_equal(app.data[0], 0);
	assert_int_equal(app.data[1], 0);
	assert_memory_equal(app.data + 2, uuid, 16);
	struct vision_unpad u;
	uint8_t plain[VISION_BUF_SIZE * 2];
	size_t got;
	vision_unpad_init(&u, uuid);
	vision_unpad_feed(&u, app.data + 2, app.len - 2, plain, &got);
	assert_int_equal(got, 12);
	assert_memory_equal(plain, "HTTP/1.1 200", 12);
	buf_fini(&app);
	buf_fini(&out);
	session_close(&s);
	free_cfg(cfg);
}

static void a_wrong_user_or_flow_closes_the_connection(void **state)
{
	(void)state;
	struct reality_server_cfg *cfg = make_cfg();
	const char *cases[][2] = {
		{"00000000-0000-0000-0000-000000000001", ""}, /* unknown user */
		{UUID_VISION, ""},                            /* Vision account without the flow */
		{UUID_PLAIN, VLESS_FLOW_VISION},              /* flow the account lacks */
	};
	for (size_t i = 0; i < 3; i++) {
		struct session s;
		struct buf out;
		uint8_t msg[VLESS_REQUEST_MAX];
		size_t n;
		session_open(&s, cfg);
		vless_request(cases[i][0], cases[i][1], msg, &n);
		buf_init(&out, 1 << 20);
		assert_int_equal(reality_client_write(&s.cl, msg, n, &out), 0);
		assert_int_equal(reality_conn_client_data(&s.c, out.data, out.len), 0);
		assert_int_equal(s.c.state, REALITY_CONN_CLOSED);
		assert_false(s.c.connect_wanted);
		assert_int_equal(s.c.out_target.len, 0);
		buf_fini(&out);
		session_close(&s);
	}
	free_cfg(cfg);
}

static void the_replay_cache_forgets_after_its_ttl_and_stays_bounded(void **state)
{
	(void)state;
	struct reality_replay *r = reality_replay_new();
	uint8_t k[16] = {1, 2, 3};
	assert_non_null(r);
	assert_false(reality_replay_seen(r, k, 1000, 500));
	assert_true(reality_replay_seen(r, k, 1400, 500));
	assert_false(reality_replay_seen(r, k, 1600, 500)); /* expired: recorded anew */
	assert_true(reality_replay_seen(r, k, 1700, 500));
	/* a full bucket evicts the entry closest to expiry */
	for (int i = 0; i < REALITY_REPLAY_WAYS + 4; i++) {
		k[2] = (uint8_t)(10 + i);
		assert_false(reality_replay_seen(r, k, 2000, 100000));
	}
	k[2] = 10 + REALITY_REPLAY_WAYS + 3;
	assert_true(reality_replay_seen(r, k, 2001, 100000));
	reality_replay_free(r);
	reality_replay_free(NULL);
}

static void the_server_config_parses_and_bad_values_are_quoted(void **state)
{
	(void)state;
	static struct server_io_cfg cfg;
	enum log_level lvl;
	char err[512];
	static const char good[] =
		"{\"listen\": \"198.51.100.10:443\", \"dest\": \"192.0.2.80:443\","
		" \"private_key\": \"" PRIV_TEXT "\", \"server_names\": [\"www.decoy.test\", \"\"],"
		" \"short_ids\": [\"\", \"0123abcd\"], \"min_client_ver\": \"26.3.27\","
		" \"max_time_diff_ms\": 60000, \"log_level\": \"debug\", \"measure_window_ms\": 0,"
		" \"users\": [{\"uuid\": \"b831381d-6324-4d53-ad4f-8cda48b30811\", \"flow\": \"xtls-rprx-vision\","
		" \"name\": \"alice\"}, {\"uuid\": \"example\"}]}";
	assert_int_equal(server_conf_parse(good, strlen(good), &cfg, &lvl, err, sizeof(err)), 0);
	assert_int_equal(cfg.core.n_names, 2);
	assert_string_equal(cfg.core.names[1], "");
	assert_int_equal(cfg.core.n_short_ids, 2);
	assert_int_equal(cfg.core.short_ids[1][0], 0x01);
	assert_int_equal(cfg.core.min_client_ver, REALITY_VERSION_26_3_27);
	assert_int_equal(cfg.core.max_time_diff_ms, 60000);
	assert_int_equal(cfg.core.users.n, 2);
	assert_int_equal(cfg.core.users.u[0].flow, VLESS_FLOW_XRV);
	assert_string_equal(cfg.core.users.u[0].name, "alice");
	assert_int_equal(cfg.measure_window_ms, 0);
	assert_int_equal(lvl, LOG_LVL_DEBUG);
	assert_string_equal(cfg.dest_host, "");
	/* dest by name: kept for resolution at start-up */
	char named[sizeof(good) + 32];
	const char *at = strstr(good, "192.0.2.80:443");
	assert_non_null(at);
	snprintf(named, sizeof(named), "%.*swww.decoy.test:8443%s", (int)(at - good), good, at + strlen("192.0.2.80:443"));
	assert_int_equal(server_conf_parse(named, strlen(named), &cfg, &lvl, err, sizeof(err)), 0);
	assert_string_equal(cfg.dest_host, "www.decoy.test");
	assert_int_equal(cfg.dest_port, 8443);
	struct {
		const char *text, *says;
	} bad[] = {
		{"[]", "JSON object"},
		{"{\"listen\": \"x\"}", "\"listen\" \"x\" is not IP:PORT"},
		{"{\"listen\": \"1.2.3.4:1\", \"dest\": \"bad host:1\"}", "\"dest\" \"bad host:1\" is not"},
		{"{\"listen\": \"1.2.3.4:1\", \"dest\": \"host:0\"}", "\"dest\" \"host:0\" is not"},
		{"{\"lisen\": 1}", "unknown key \"lisen\""},
		{"{\"listen\": \"1.2.3.4:1\", \"dest\": \"1.2.3.4:2\", \"private_key\": \"abc\"}", "private_key"},
		{"{\"listen\": \"1.2.3.4:1\", \"dest\": \"1.2.3.4:2\", \"private_key\": \"" PRIV_TEXT "\","
		 " \"server_names\": [\"a\"], \"short_ids\": [\"xyz\"]}", "short_ids[0] \"xyz\""},
		{"{\"listen\": \"1.2.3.4:1\", \"dest\": \"1.2.3.4:2\", \"private_key\": \"" PRIV_TEXT "\","
		 " \"server_names\": [\"a\"], \"short_ids\": [\"\"], \"users\": [{\"uuid\": \"u\", \"flow\": \"x\"}]}",
		 "users[0].flow \"x\" is not valid"},
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		err[0] = '\0';
		assert_int_equal(server_conf_parse(bad[i].text, strlen(bad[i].text), &cfg, &lvl, err, sizeof(err)), -EINVAL);
		if (!strstr(err, bad[i].says))
			fail_msg("case %zu: \"%s\" does not say \"%s\"", i, err, bad[i].says);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(a_client_with_the_key_completes_the_handshake_and_reaches_its_target),
		cmocka_unit_test(the_hybrid_group_and_a_combined_flight_are_mirrored_too),
		cmocka_unit_test(every_failed_check_turns_the_connection_into_a_pipe),
		cmocka_unit_test(dest_replies_we_cannot_mirror_fall_back_to_the_pipe),
		cmocka_unit_test(a_vision_client_can_switch_its_uplink_to_raw),
		cmocka_unit_test(a_wrong_user_or_flow_closes_the_connection),
		cmocka_unit_test(the_replay_cache_forgets_after_its_ttl_and_stays_bounded),
		cmocka_unit_test(the_server_config_parses_and_bad_values_are_quoted),
	};
	return run_group(tests);
}
