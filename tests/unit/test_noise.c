#include "support.h"

#include <string.h>

#include <sodium.h>

#include "awg/cookie.h"
#include "awg/noise.h"

/* specs/awg.md §5.2: cacophony keys, PSK zero, initiator index 0x11223344,
 * responder index 0x55667788, timestamp Unix 1700000000 + 0 ns, no cookie. */
#define KAT_INIT_STATIC "e61ef9919cde45dd5f82166404bd08e38bceb5dfdfded0a34c8df7ed542214d1"
#define KAT_INIT_EPHEM "893e28b9dc6ca8d611ab664754b8ceb7bac5117349a4439a6b0569da977c464a"
#define KAT_RESP_STATIC "4a3acbfdb163dec651dfa3194dece676d437029c62a408b4c5ea9114246e4893"
#define KAT_RESP_EPHEM "bbdb4cdbd309f1a1f2e1456967fe288cadd6f712d65dc7b7793d5e63da6b375b"
#define KAT_TIMESTAMP "400000006553f10a00000000"
#define KAT_INIT_PUB "6bc3822a2aa7f4e6981d6538692b3cdf3e6df9eea6ed269eb41d93c22757b75a"
#define KAT_RESP_PUB "31e0303fd6418d2f8c0e78b91f22e8caed0fbe48656dcf4767e4834f701b8f62"
#define KAT_MAC1_KEY_TO_RESP "49f9a27543e44e87740826853a4d1090a5e4b149ddc1096b9ff31db725d4f4ce"
#define KAT_INITIATION                                                                     \
	"0100000044332211ca35def5ae56cec33dc2036731ab14896bc4c75dbb07a61f879f8e3afa4c7944" \
	"001e21de9f98ddd8e2ad57527207feb56253c9c94a9e496782ecfcb2a75fbcaf752d6cf9956f6a4c" \
	"c1a138d6de1e87238cbd2c462d6bf53d84c83619a6663feb6f8d477c30b0c2f2ef2b3aed1f2bbce3" \
	"ebe3ae63d4699557582d22ca00000000000000000000000000000000"
#define KAT_RESPONSE                                                                       \
	"02000000887766554433221195ebc60d2b1fa672c1f46a8aa265ef51bfe38e7ccb39ec5be34069f1" \
	"4480884333475635b957067b14b11b45ec301ad5daa969e75c6caccc43129b709c130d5500000000" \
	"000000000000000000000000"
#define KAT_FINAL_HASH "84b0ce2cd3eeb398e5ea1dbecf9cc21755df5f9e0ef609a8970f56687644c81e"
#define KAT_INIT_SEND "550e7ad836268eab13001e66b363ea04143f2912f4a5c863075546a513ae6740"
#define KAT_INIT_RECV "fbd57e11a93044ea22da83105401d052396bcb009e59c445f63a82e8dac4e704"
#define KAT_KEEPALIVE "040000008877665500000000000000000382c91a49a8cf83a69aeb24cf1372f7"
#define KAT_DATA_CTR1                                                                      \
	"04000000887766550100000000000000ba94b29f6aeb2352aa1e19d3fbeef9ebf916adb7529cbea4" \
	"90f0a3aa11aa897a"

#define INIT_INDEX 0x11223344U
#define RESP_INDEX 0x55667788U
#define NOW (1000 * NSEC_PER_SEC)

struct side {
	struct noise_identity id;
	struct noise_peer_keys peer;
	struct noise_handshake hs;
	struct cookie_state cookies;
	struct noise_keys keys;
};

struct kat {
	struct side init, resp;
	uint8_t init_ephem[32], resp_ephem[32], timestamp[12];
};

static void kat_setup(struct kat *k)
{
	uint8_t priv[32];

	memset(k, 0, sizeof(*k));
	support_unhex(KAT_INIT_STATIC, priv, 32);
	noise_identity_set(&k->init.id, priv);
	support_unhex(KAT_RESP_STATIC, priv, 32);
	noise_identity_set(&k->resp.id, priv);
	assert_true(k->init.id.has_key && k->resp.id.has_key);
	assert_int_equal(noise_peer_keys_init(&k->init.peer, k->resp.id.public_key, NULL), 0);
	assert_int_equal(noise_peer_keys_init(&k->resp.peer, k->init.id.public_key, NULL), 0);
	support_unhex(KAT_INIT_EPHEM, k->init_ephem, 32);
	support_unhex(KAT_RESP_EPHEM, k->resp_ephem, 32);
	noise_tai64n(k->timestamp, 1700000000, 0);
}

static void hs_assert_equal(const struct noise_handshake *a, const struct noise_handshake *b)
{
	assert_int_equal(a->state, b->state);
	assert_memory_equal(a->ephemeral_private, b->ephemeral_private, 32);
	assert_memory_equal(a->remote_ephemeral, b->remote_ephemeral, 32);
	assert_memory_equal(a->hash, b->hash, 32);
	assert_memory_equal(a->chaining_key, b->chaining_key, 32);
	assert_memory_equal(a->latest_timestamp, b->latest_timestamp, 12);
	assert_true(a->last_initiation_consumed_ns == b->last_initiation_consumed_ns);
	assert_int_equal(a->have_consumed_initiation, b->have_consumed_initiation);
	assert_int_equal(a->local_index, b->local_index);
	assert_int_equal(a->remote_index, b->remote_index);
}

/* Initiator builds message 1 with macs, as the device layer does. */
static void make_initiation(struct side *s, uint32_t index, const uint8_t ts[12], const uint8_t *ephem,
                            struct msg_initiation *out, uint64_t now)
{
	assert_int_equal(noise_create_initiation(&s->hs, &s->id, &s->peer, index, ts, ephem, out), 0);
	cookie_add_macs(&s->cookies, s->peer.mac1_key, (uint8_t *)out, sizeof(*out), now);
}

static int consume_initiation(struct side *s, const struct msg_initiation *msg, uint64_t now)
{
	struct noise_initiation_state st;
	int ret = noise_consume_initiation_begin(&s->id, msg, &st);
	if (ret)
		return ret;
	assert_memory_equal(st.remote_static, s->peer.remote_static, 32);
	return noise_consume_initiation_finish(&s->hs, &s->id, &s->peer, &st, msg, now);
}

/* Two sides with fresh random keys, each configured with the other as its
 * peer; psk_i and psk_r (may be NULL) are what each side sets. */
static void random_sides(struct side *i, struct side *r, const uint8_t *psk_i, const uint8_t *psk_r)
{
	uint8_t priv[32];

	memset(i, 0, sizeof(*i));
	memset(r, 0, sizeof(*r));
	noise_generate_private(priv);
	noise_identity_set(&i->id, priv);
	noise_generate_private(priv);
	noise_identity_set(&r->id, priv);
	assert_int_equal(noise_peer_keys_init(&i->peer, r->id.public_key, psk_i), 0);
	assert_int_equal(noise_peer_keys_init(&r->peer, i->id.public_key, psk_r), 0);
	sodium_memzero(priv, sizeof(priv));
}

/* Runs a whole handshake between two sides with random ephemerals. */
static void handshake(struct side *i, struct side *r, const uint8_t ts[12], uint64_t now)
{
	struct msg_initiation init;
	struct msg_response resp;

	make_initiation(i, INIT_INDEX, ts, NULL, &init, now);
	assert_int_equal(consume_initiation(r, &init, now), 0);
	assert_int_equal(noise_create_response(&r->hs, &r->id, &r->peer, RESP_INDEX, NULL, &resp), 0);
	cookie_add_macs(&r->cookies, r->peer.mac1_key, (uint8_t *)&resp, sizeof(resp), now);
	assert_int_equal(noise_consume_response(&i->hs, &i->id, &i->peer, &resp), 0);
	assert_int_equal(noise_derive_keys(&i->hs, &i->keys), 0);
	assert_int_equal(noise_derive_keys(&r->hs, &r->keys), 0);
}

static void the_spec_kat_keys_and_labels_are_reproduced(void **state)
{
	struct kat k;
	uint8_t want[32];

	kat_setup(&k);
	support_unhex(KAT_INIT_PUB, want, 32);
	assert_memory_equal(k.init.id.public_key, want, 32);
	support_unhex(KAT_RESP_PUB, want, 32);
	assert_memory_equal(k.resp.id.public_key, want, 32);
	support_unhex(KAT_MAC1_KEY_TO_RESP, want, 32);
	assert_memory_equal(k.init.peer.mac1_key, want, 32);
	assert_memory_equal(k.resp.id.mac1_key, want, 32);
	support_unhex(KAT_TIMESTAMP, want, 12);
	assert_memory_equal(k.timestamp, want, 12);
}

static void the_spec_kat_handshake_and_transport_are_reproduced_byte_for_byte(void **state)
{
	struct kat k;
	struct msg_initiation init;
	struct msg_response resp;
	struct cookie_checker checker;
	uint8_t want_init[148], want_resp[92], want[48], hash[32], pkt[48], plain[16];

	kat_setup(&k);
	support_unhex(KAT_INITIATION, want_init, sizeof(want_init));
	support_unhex(KAT_RESPONSE, want_resp, sizeof(want_resp));

	/* Message 1: everything but the macs from noise, then mac1 from cookie. */
	assert_int_equal(noise_create_initiation(&k.init.hs, &k.init.id, &k.init.peer, INIT_INDEX, k.timestamp,
	                                         k.init_ephem, &init), 0);
	assert_memory_equal(&init, want_init, offsetof(struct msg_initiation, macs));
	assert_int_equal(k.init.hs.state, NOISE_HS_CREATED_INITIATION);
	cookie_add_macs(&k.init.cookies, k.init.peer.mac1_key, (uint8_t *)&init, sizeof(init), NOW);
	assert_memory_equal(&init, want_init, sizeof(want_init));

	/* The responder checks mac1 and consumes it. */
	cookie_checker_init(&checker, &k.resp.id);
	assert_int_equal(cookie_validate(&checker, want_init, sizeof(want_init), NULL, 0, false, NOW),
	                 COOKIE_MAC_VALID_NO_COOKIE);
	assert_int_equal(consume_initiation(&k.resp, (const struct msg_initiation *)want_init, NOW), 0);
	assert_int_equal(k.resp.hs.state, NOISE_HS_CONSUMED_INITIATION);
	assert_int_equal(k.resp.hs.remote_index, INIT_INDEX);
	assert_memory_equal(k.resp.hs.latest_timestamp, k.timestamp, 12);

	/* Message 2. */
	assert_int_equal(noise_create_response(&k.resp.hs, &k.resp.id, &k.resp.peer, RESP_INDEX, k.resp_ephem,
	                                       &resp), 0);
	assert_memory_equal(&resp, want_resp, offsetof(struct msg_response, macs));
	cookie_add_macs(&k.resp.cookies, k.resp.peer.mac1_key, (uint8_t *)&resp, sizeof(resp), NOW);
	assert_memory_equal(&resp, want_resp, sizeof(want_resp));
	cookie_checker_init(&checker, &k.init.id);
	assert_int_equal(cookie_validate(&checker, want_resp, sizeof(want_resp), NULL, 0, false, NOW),
	                 COOKIE_MAC_VALID_NO_COOKIE);

	/* The initiator consumes it; both transcripts end in the published hash. */
	assert_int_equal(noise_consume_response(&k.init.hs, &k.init.id, &k.init.peer,
	                                        (const struct msg_response *)want_resp), 0);
	support_unhex(KAT_FINAL_HASH, hash, 32);
	assert_memory_equal(k.init.hs.hash, hash, 32);
	assert_memory_equal(k.resp.hs.hash, hash, 32);
	assert_int_equal(k.init.hs.remote_index, RESP_INDEX);

	/* Transport keys. */
	assert_int_equal(noise_derive_keys(&k.init.hs, &k.init.keys), 0);
	assert_int_equal(noise_derive_keys(&k.resp.hs, &k.resp.keys), 0);
	support_unhex(KAT_INIT_SEND, want, 32);
	assert_memory_equal(k.init.keys.send_key, want, 32);
	assert_memory_equal(k.resp.keys.recv_key, want, 32);
	support_unhex(KAT_INIT_RECV, want, 32);
	assert_memory_equal(k.init.keys.recv_key, want, 32);
	assert_memory_equal(k.resp.keys.send_key, want, 32);
	assert_true(k.init.keys.is_initiator);
	assert_false(k.resp.keys.is_initiator);
	assert_int_equal(k.init.keys.local_index, INIT_INDEX);
	assert_int_equal(k.init.keys.remote_index, RESP_INDEX);
	assert_int_equal(k.resp.keys.local_index, RESP_INDEX);
	assert_int_equal(k.resp.keys.remote_index, INIT_INDEX);
	assert_int_equal(k.init.hs.state, NOISE_HS_ZEROED);
	assert_int_equal(k.resp.hs.state, NOISE_HS_ZEROED);

	/* Keepalive, counter 0: a 32-byte data message with an empty payload. */
	memset(pkt, 0, sizeof(pkt));
	le32_write(pkt, MSG_DATA);
	le32_write(pkt + 4, k.init.keys.remote_index);
	le64_write(pkt + 8, 0);
	noise_seal(pkt + 16, NULL, 0, 0, k.init.keys.send_key);
	support_unhex(KAT_KEEPALIVE, want, 32);
	assert_memory_equal(pkt, want, 32);
	assert_int_equal(noise_open(plain, pkt + 16, 16, 0, k.resp.keys.recv_key), 0);

	/* Counter 1: plaintext 0x45 and 15 zero bytes (padded to 16). */
	memset(plain, 0, sizeof(plain));
	plain[0] = 0x45;
	le64_write(pkt + 8, 1);
	noise_seal(pkt + 16, plain, sizeof(plain), 1, k.init.keys.send_key);
	support_unhex(KAT_DATA_CTR1, want, 48);
	assert_memory_equal(pkt, want, 48);
	memset(plain, 0xff, sizeof(plain));
	assert_int_equal(noise_open(plain, pkt + 16, 32, 1, k.resp.keys.recv_key), 0);
	assert_int_equal(plain[0], 0x45);
	assert_true(sodium_is_zero(plain + 1, 15));
}

static void a_handshake_with_random_keys_and_a_psk_agrees_on_transport_keys(void **state)
{
	struct side i, r;
	uint8_t psk[32], ts[12], buf[1500], out[1500];

	for (int round = 0; round < 8; round++) {
		randombytes_buf(psk, sizeof(psk));
		random_sides(&i, &r, round & 1 ? psk : NULL, round & 1 ? psk : NULL);
		noise_tai64n(ts, 1700000000 + (uint64_t)round, 0);
		handshake(&i, &r, ts, NOW);
		assert_memory_equal(i.peer.static_static, r.peer.static_static, 32);

		assert_memory_equal(i.keys.send_key, r.keys.recv_key, 32);
		assert_memory_equal(i.keys.recv_key, r.keys.send_key, 32);
		assert_memory_not_equal(i.keys.send_key, i.keys.recv_key, 32);

		size_t len = (size_t)round * 180;
		randombytes_buf(buf, len);
		memcpy(out, buf, len);
		noise_seal(out, out, len, 7, r.keys.send_key); /* in place */
		assert_int_equal(noise_open(out, out, len + 16, 7, i.keys.recv_key), 0);
		assert_memory_equal(out, buf, len);
	}
}

static void a_mismatched_psk_fails_the_response_with_err_auth(void **state)
{
	struct side i, r;
	struct msg_initiation init;
	struct msg_response resp;
	uint8_t psk[32], ts[12];

	randombytes_buf(psk, sizeof(psk));
	random_sides(&i, &r, psk, NULL);
	noise_tai64n(ts, 1700000000, 0);
	make_initiation(&i, INIT_INDEX, ts, NULL, &init, NOW);
	assert_int_equal(consume_initiation(&r, &init, NOW), 0);
	assert_int_equal(noise_create_response(&r.hs, &r.id, &r.peer, RESP_INDEX, NULL, &resp), 0);
	assert_int_equal(noise_consume_response(&i.hs, &i.id, &i.peer, &resp), ERR_AUTH);
	assert_int_equal(i.hs.state, NOISE_HS_CREATED_INITIATION);
}

static void a_replayed_initiation_is_refused_and_leaves_the_handshake_unchanged(void **state)
{
	struct kat k;
	struct msg_initiation init;
	struct noise_handshake before;

	kat_setup(&k);
	make_initiation(&k.init, INIT_INDEX, k.timestamp, k.init_ephem, &init, NOW);
	assert_int_equal(consume_initiation(&k.resp, &init, NOW), 0);
	before = k.resp.hs;
	/* Long after the flood interval, the same bytes are still a replay. */
	assert_int_equal(consume_initiation(&k.resp, &init, NOW + 10 * NSEC_PER_SEC), ERR_REPLAY);
	hs_assert_equal(&k.resp.hs, &before);

	/* An older timestamp is refused too, even after the handshake is cleared. */
	uint8_t older[12];
	noise_tai64n(older, 1700000000 - 1, 999999999);
	noise_handshake_clear(&k.resp.hs);
	make_initiation(&k.init, INIT_INDEX, older, NULL, &init, NOW);
	assert_int_equal(consume_initiation(&k.resp, &init, NOW + 20 * NSEC_PER_SEC), ERR_REPLAY);
	assert_memory_equal(k.resp.hs.latest_timestamp, k.timestamp, 12);
	assert_int_equal(k.resp.hs.state, NOISE_HS_ZEROED);
}

static void an_initiation_within_20_ms_of_the_last_accepted_one_is_refused_as_a_flood(void **state)
{
	struct kat k;
	struct msg_initiation init;
	struct noise_handshake before;
	uint8_t ts[12];

	kat_setup(&k);
	make_initiation(&k.init, INIT_INDEX, k.timestamp, NULL, &init, NOW);
	assert_int_equal(consume_initiation(&k.resp, &init, NOW), 0);
	before = k.resp.hs;

	/* A fresh timestamp, but only 19.999 ms later. */
	noise_tai64n(ts, 1700000000, 1U << 24);
	make_initiation(&k.init, INIT_INDEX, ts, NULL, &init, NOW);
	assert_int_equal(consume_initiation(&k.resp, &init, NOW + INITIATIONS_MIN_INTERVAL_NS - 1), ERR_REPLAY);
	hs_assert_equal(&k.resp.hs, &before);
	/* A clock that went backwards is also too soon. */
	assert_int_equal(consume_initiation(&k.resp, &init, NOW - NSEC_PER_SEC), ERR_REPLAY);
	/* Exactly 20 ms later it is accepted. */
	assert_int_equal(consume_initiation(&k.resp, &init, NOW + INITIATIONS_MIN_INTERVAL_NS), 0);
	assert_memory_equal(k.resp.hs.latest_timestamp, ts, 12);
	assert_true(k.resp.hs.last_initiation_consumed_ns == NOW + INITIATIONS_MIN_INTERVAL_NS);
}

static void a_tampered_initiation_is_refused_with_err_auth_and_the_handshake_is_unchanged(void **state)
{
	struct kat k;
	struct msg_initiation init, bad;
	struct noise_initiation_state st;
	struct noise_handshake before;
	static const uint8_t zero_st[sizeof(struct noise_initiation_state)];

	kat_setup(&k);
	make_initiation(&k.init, INIT_INDEX, k.timestamp, k.init_ephem, &init, NOW);
	before = k.resp.hs;

	for (size_t off = offsetof(struct msg_initiation, ephemeral); off < offsetof(struct msg_initiation, macs);
	     off++) {
		bad = init;
		((uint8_t *)&bad)[off] ^= 0x01;
		int ret = consume_initiation(&k.resp, &bad, NOW);
		/* A flipped ephemeral bit may even land on a low-order point. */
		assert_true(ret == ERR_AUTH || ret == ERR_CRYPTO);
		hs_assert_equal(&k.resp.hs, &before);
	}

	/* A failed begin leaves nothing in the intermediate state. */
	bad = init;
	bad.encrypted_static[3] ^= 0x80;
	memset(&st, 0xaa, sizeof(st));
	assert_int_equal(noise_consume_initiation_begin(&k.resp.id, &bad, &st), ERR_AUTH);
	assert_memory_equal(&st, zero_st, sizeof(st));

	/* A tampered timestamp fails in finish, which wipes st. */
	bad = init;
	bad.encrypted_timestamp[0] ^= 0x01;
	assert_int_equal(noise_consume_initiation_begin(&k.resp.id, &bad, &st), 0);
	assert_int_equal(noise_consume_initiation_finish(&k.resp.hs, &k.resp.id, &k.resp.peer, &st, &bad, NOW), ERR_AUTH);
	assert_memory_equal(&st, zero_st, sizeof(st));
	hs_assert_equal(&k.resp.hs, &before);

	/* The genuine message still goes through afterwards. */
	assert_int_equal(consume_initiation(&k.resp, &init, NOW), 0);
}

static void a_tampered_response_is_refused_with_err_auth_and_the_handshake_is_unchanged(void **state)
{
	struct kat k;
	struct msg_initiation init;
	struct msg_response resp, bad;
	struct noise_handshake before;

	kat_setup(&k);
	make_initiation(&k.init, INIT_INDEX, k.timestamp, k.init_ephem, &init, NOW);
	assert_int_equal(consume_initiation(&k.resp, &init, NOW), 0);
	assert_int_equal(noise_create_response(&k.resp.hs, &k.resp.id, &k.resp.peer, RESP_INDEX, k.resp_ephem,
	                                       &resp), 0);
	before = k.init.hs;
	for (size_t off = offsetof(struct msg_response, ephemeral); off < offsetof(struct msg_response, macs);
	     off++) {
		bad = resp;
		((uint8_t *)&bad)[off] ^= 0x04;
		int ret = noise_consume_response(&k.init.hs, &k.init.id, &k.init.peer, &bad);
		assert_true(ret == ERR_AUTH || ret == ERR_CRYPTO);
		hs_assert_equal(&k.init.hs, &before);
	}
	/* The untouched response is still accepted. */
	assert_int_equal(noise_consume_response(&k.init.hs, &k.init.id, &k.init.peer, &resp), 0);
}

static void steps_out_of_order_are_refused_with_err_state(void **state)
{
	struct kat k;
	struct msg_initiation init;
	struct msg_response resp, bad;
	struct noise_keys keys;
	struct noise_identity none;

	kat_setup(&k);
	/* Nothing consumed yet: no response, no keys. */
	assert_int_equal(noise_create_response(&k.resp.hs, &k.resp.id, &k.resp.peer, RESP_INDEX, NULL, &resp),
	                 ERR_BADSTATE);
	assert_int_equal(noise_derive_keys(&k.resp.hs, &keys), ERR_BADSTATE);

	make_initiation(&k.init, INIT_INDEX, k.timestamp, k.init_ephem, &init, NOW);
	/* An initiation sent is not a handshake completed. */
	assert_int_equal(noise_derive_keys(&k.init.hs, &keys), ERR_BADSTATE);
	assert_int_equal(k.init.hs.state, NOISE_HS_CREATED_INITIATION);

	assert_int_equal(consume_initiation(&k.resp, &init, NOW), 0);
	assert_int_equal(noise_derive_keys(&k.resp.hs, &keys), ERR_BADSTATE);
	assert_int_equal(noise_create_response(&k.resp.hs, &k.resp.id, &k.resp.peer, RESP_INDEX, k.resp_ephem,
	                                       &resp), 0);

	/* A response is only consumed by the initiator that is waiting for it. */
	assert_int_equal(noise_consume_response(&k.resp.hs, &k.resp.id, &k.resp.peer, &resp), ERR_BADSTATE);
	bad = resp;
	le32_write(&bad.receiver_index, INIT_INDEX + 1);
	assert_int_equal(noise_consume_response(&k.init.hs, &k.init.id, &k.init.peer, &bad), ERR_BADSTATE);
	assert_int_equal(noise_create_response(&k.resp.hs, &k.resp.id, &k.resp.peer, RESP_INDEX, NULL, &bad),
	                 ERR_BADSTATE);
	assert_int_equal(noise_consume_response(&k.init.hs, &k.init.id, &k.init.peer, &resp), 0);
	/* A second copy of the response finds the handshake already consumed. */
	assert_int_equal(noise_consume_response(&k.init.hs, &k.init.id, &k.init.peer, &resp), ERR_BADSTATE);
	assert_int_equal(noise_derive_keys(&k.init.hs, &keys), 0);
	assert_int_equal(noise_derive_keys(&k.init.hs, &keys), ERR_BADSTATE);

	/* Without our own key there is no handshake at all. */
	noise_identity_set(&none, NULL);
	assert_false(none.has_key);
	assert_int_equal(noise_create_initiation(&k.init.hs, &none, &k.init.peer, INIT_INDEX, k.timestamp, NULL,
	                                         &init), ERR_BADSTATE);
	struct noise_initiation_state st;
	assert_int_equal(noise_consume_initiation_begin(&none, &init, &st), ERR_BADSTATE);
}

static void finishing_with_a_peer_other_than_the_decrypted_static_is_refused(void **state)
{
	struct kat k;
	struct msg_initiation init;
	struct noise_initiation_state st;
	struct noise_peer_keys other;
	uint8_t priv[32], pub[32];

	kat_setup(&k);
	make_initiation(&k.init, INIT_INDEX, k.timestamp, k.init_ephem, &init, NOW);
	assert_int_equal(noise_consume_initiation_begin(&k.resp.id, &init, &st), 0);
	noise_generate_private(priv);
	assert_int_equal(noise_public_from_private(pub, priv), 0);
	assert_int_equal(noise_peer_keys_init(&other, pub, NULL), 0);
	assert_int_equal(noise_consume_initiation_finish(&k.resp.hs, &k.resp.id, &other, &st, &init, NOW), ERR_NOTFOUND);
	assert_int_equal(k.resp.hs.state, NOISE_HS_ZEROED);
}

/* u = 0 and a point of order 8: X25519 with either gives an all-zero secret. */
static const char *const low_order_points[] = {
	"0000000000000000000000000000000000000000000000000000000000000000",
	"e0eb7a7c3b41b8ae1656e3faf19fc46ada098deb9c32b1fd866205165f49b800",
};

static void a_zero_diffie_hellman_result_is_refused_with_err_crypto(void **state)
{
	struct kat k;
	struct msg_initiation init, bad_init;
	struct msg_response resp, bad_resp;
	struct noise_peer_keys weak;
	struct noise_initiation_state st;
	struct noise_handshake before;
	uint8_t point[32];

	for (size_t p = 0; p < sizeof(low_order_points) / sizeof(low_order_points[0]); p++) {
		kat_setup(&k);
		support_unhex(low_order_points[p], point, 32);

		/* A peer whose static key is low order: configurable, never usable. */
		assert_int_equal(noise_peer_keys_init(&weak, point, NULL), 0);
		assert_int_equal(noise_create_initiation(&k.init.hs, &k.init.id, &weak, INIT_INDEX, k.timestamp,
		                                         NULL, &init), ERR_CRYPTO);
		assert_int_equal(k.init.hs.state, NOISE_HS_ZEROED);

		/* As a responder: an initiation claiming that static key fails at
		 * "ss", where the static DH is computed lazily, and is remembered. */
		assert_int_equal(noise_peer_keys_init(&weak, point, NULL), 0);
		assert_int_equal(weak.ss_state, NOISE_SS_NONE);
		for (int again = 0; again < 2; again++) {
			memset(&st, 0, sizeof(st));
			memcpy(st.remote_static, point, 32);
			before = k.resp.hs;
			assert_int_equal(noise_consume_initiation_finish(&k.resp.hs, &k.resp.id, &weak, &st, &init, NOW),
			                 ERR_CRYPTO);
			hs_assert_equal(&k.resp.hs, &before);
			assert_int_equal(weak.ss_state, NOISE_SS_ZERO);
			assert_true(sodium_is_zero(weak.static_static, 32));
		}
		assert_int_equal(noise_peer_keys_static_dh(&weak, &k.resp.id), ERR_CRYPTO);

		/* An initiation carrying a low-order ephemeral. */
		make_initiation(&k.init, INIT_INDEX, k.timestamp, k.init_ephem, &init, NOW);
		bad_init = init;
		memcpy(bad_init.ephemeral, point, 32);
		assert_int_equal(noise_consume_initiation_begin(&k.resp.id, &bad_init, &st), ERR_CRYPTO);

		/* A response carrying a low-order ephemeral. */
		assert_int_equal(consume_initiation(&k.resp, &init, NOW), 0);
		assert_int_equal(noise_create_response(&k.resp.hs, &k.resp.id, &k.resp.peer, RESP_INDEX, NULL,
		                                       &resp), 0);
		bad_resp = resp;
		memcpy(bad_resp.ephemeral, point, 32);
		before = k.init.hs;
		assert_int_equal(noise_consume_response(&k.init.hs, &k.init.id, &k.init.peer, &bad_resp),
		                 ERR_CRYPTO);
		hs_assert_equal(&k.init.hs, &before);

		/* The responder refuses to answer an initiator whose ephemeral it cannot use. */
		memcpy(k.resp.hs.remote_ephemeral, point, 32);
		k.resp.hs.state = NOISE_HS_CONSUMED_INITIATION;
		assert_int_equal(noise_create_response(&k.resp.hs, &k.resp.id, &k.resp.peer, RESP_INDEX, NULL,
		                                       &resp), ERR_CRYPTO);
	}
}

/* DH(priv, pub) computed here, independently of the cache. */
static void expect_static_dh(const struct noise_peer_keys *pk, const struct noise_identity *id)
{
	uint8_t want[32];

	assert_int_equal(crypto_scalarmult(want, id->private_key, pk->remote_static), 0);
	assert_int_equal(pk->ss_state, NOISE_SS_VALID);
	assert_memory_equal(pk->static_static, want, 32);
	assert_memory_equal(pk->ss_identity, id->public_key, 32);
}

static void the_static_dh_is_computed_at_the_first_handshake_that_needs_it(void **state)
{
	struct kat k;
	struct msg_initiation init;
	struct msg_response resp;
	uint8_t ss[32], ts[12];

	kat_setup(&k);
	/* Setting up a peer does no DH. */
	assert_int_equal(k.init.peer.ss_state, NOISE_SS_NONE);
	assert_int_equal(k.resp.peer.ss_state, NOISE_SS_NONE);
	assert_true(sodium_is_zero(k.init.peer.static_static, 32));
	assert_true(sodium_is_zero(k.resp.peer.static_static, 32));

	/* Creating an initiation computes the initiator's ... */
	make_initiation(&k.init, INIT_INDEX, k.timestamp, k.init_ephem, &init, NOW);
	expect_static_dh(&k.init.peer, &k.init.id);
	assert_int_equal(k.resp.peer.ss_state, NOISE_SS_NONE);
	/* ... consuming it the responder's, the same value. */
	assert_int_equal(consume_initiation(&k.resp, &init, NOW), 0);
	expect_static_dh(&k.resp.peer, &k.resp.id);
	assert_memory_equal(k.init.peer.static_static, k.resp.peer.static_static, 32);
	assert_int_equal(noise_create_response(&k.resp.hs, &k.resp.id, &k.resp.peer, RESP_INDEX, k.resp_ephem,
	                                       &resp), 0);
	assert_int_equal(noise_consume_response(&k.init.hs, &k.init.id, &k.init.peer, &resp), 0);

	/* The next handshake reuses the cached value. */
	memcpy(ss, k.init.peer.static_static, 32);
	noise_tai64n(ts, 1700000001, 0);
	handshake(&k.init, &k.resp, ts, NOW + NSEC_PER_SEC);
	assert_memory_equal(k.init.peer.static_static, ss, 32);
	assert_memory_equal(k.resp.peer.static_static, ss, 32);
	assert_memory_equal(k.init.keys.send_key, k.resp.keys.recv_key, 32);

	/* Forgetting wipes it. */
	noise_peer_keys_forget_dh(&k.init.peer);
	assert_int_equal(k.init.peer.ss_state, NOISE_SS_NONE);
	assert_true(sodium_is_zero(k.init.peer.static_static, 32));
	assert_true(sodium_is_zero(k.init.peer.ss_identity, 32));

	/* Without our key there is nothing to compute. */
	struct noise_identity none;
	noise_identity_set(&none, NULL);
	assert_int_equal(noise_peer_keys_static_dh(&k.init.peer, &none), ERR_BADSTATE);
	assert_int_equal(k.init.peer.ss_state, NOISE_SS_NONE);
}

/* One more handshake between i and r after a key change: it succeeds, and
 * both sides use a freshly computed static DH, not old. */
static void handshake_with_fresh_dh(struct side *i, struct side *r, uint64_t *t, uint64_t *now,
                                    const uint8_t old[32])
{
	uint8_t ts[12];

	noise_tai64n(ts, (*t)++, 0);
	*now += NSEC_PER_SEC;
	handshake(i, r, ts, *now);
	expect_static_dh(&i->peer, &i->id);
	expect_static_dh(&r->peer, &r->id);
	assert_memory_not_equal(r->peer.static_static, old, 32);
	assert_memory_equal(i->keys.send_key, r->keys.recv_key, 32);
}

static void a_new_private_key_or_peer_key_gives_a_fresh_static_dh(void **state)
{
	struct side i, r;
	uint8_t priv[32], ts[12], old[32];
	uint64_t t = 1700000000, now = NOW;

	random_sides(&i, &r, NULL, NULL);
	noise_tai64n(ts, t++, 0);
	handshake(&i, &r, ts, now);

	/* The responder's private key changes: it forgets the DH (as the engine
	 * does for every peer); the initiator sets the peer's new public key. */
	memcpy(old, r.peer.static_static, 32);
	noise_generate_private(priv);
	noise_identity_set(&r.id, priv);
	noise_peer_keys_forget_dh(&r.peer);
	assert_true(sodium_is_zero(r.peer.static_static, 32));
	assert_int_equal(noise_peer_keys_init(&i.peer, r.id.public_key, NULL), 0);
	assert_int_equal(i.peer.ss_state, NOISE_SS_NONE);
	handshake_with_fresh_dh(&i, &r, &t, &now, old);

	/* A value cached under another identity is never used, even if a caller
	 * did not forget it: it belongs to the old public key. */
	memcpy(old, r.peer.static_static, 32);
	noise_generate_private(priv);
	noise_identity_set(&r.id, priv);
	assert_int_equal(noise_peer_keys_init(&i.peer, r.id.public_key, NULL), 0);
	handshake_with_fresh_dh(&i, &r, &t, &now, old);

	/* The initiator's key changes: the responder sets its new public key,
	 * which starts the peer's keys afresh; the initiator forgets. */
	memcpy(old, r.peer.static_static, 32);
	noise_generate_private(priv);
	noise_identity_set(&i.id, priv);
	noise_peer_keys_forget_dh(&i.peer);
	assert_int_equal(noise_peer_keys_init(&r.peer, i.id.public_key, NULL), 0);
	assert_int_equal(r.peer.ss_state, NOISE_SS_NONE);
	assert_true(sodium_is_zero(r.peer.static_static, 32));
	memset(&r.hs, 0, sizeof(r.hs)); /* a new peer in the engine: fresh replay state */
	handshake_with_fresh_dh(&i, &r, &t, &now, old);
	sodium_memzero(priv, sizeof(priv));
}

static void simultaneous_initiations_leave_each_side_a_responder(void **state)
{
	struct kat k;
	struct msg_initiation from_i, from_r;
	struct msg_response resp;
	uint8_t ts[12];

	kat_setup(&k);
	make_initiation(&k.init, INIT_INDEX, k.timestamp, NULL, &from_i, NOW);
	noise_tai64n(ts, 1700000000, 0);
	make_initiation(&k.resp, RESP_INDEX, ts, NULL, &from_r, NOW);
	/* Each consumes the other's initiation on top of its own pending one. */
	assert_int_equal(consume_initiation(&k.resp, &from_i, NOW), 0);
	assert_int_equal(k.resp.hs.state, NOISE_HS_CONSUMED_INITIATION);
	assert_int_equal(noise_create_response(&k.resp.hs, &k.resp.id, &k.resp.peer, RESP_INDEX + 1, NULL, &resp),
	                 0);
	assert_int_equal(noise_consume_response(&k.init.hs, &k.init.id, &k.init.peer, &resp), 0);
	assert_int_equal(noise_derive_keys(&k.init.hs, &k.init.keys), 0);
	assert_int_equal(noise_derive_keys(&k.resp.hs, &k.resp.keys), 0);
	assert_memory_equal(k.init.keys.send_key, k.resp.keys.recv_key, 32);
	assert_int_equal(k.init.keys.remote_index, RESP_INDEX + 1);
}

static void tai64n_rounds_nanoseconds_down_to_a_multiple_of_2_to_the_24(void **state)
{
	uint8_t a[12], b[12], want[12];

	noise_tai64n(a, 1700000000, 0);
	support_unhex(KAT_TIMESTAMP, want, 12);
	assert_memory_equal(a, want, 12);

	noise_tai64n(a, 1700000000, (1U << 24) - 1);
	assert_memory_equal(a, want, 12);
	noise_tai64n(a, 1700000000, 999999999);
	support_unhex("400000006553f10a3b000000", want, 12); /* 999999999 & ~0xffffff = 0x3b000000 */
	assert_memory_equal(a, want, 12);

	/* Later times compare greater byte-wise, across a second boundary. */
	noise_tai64n(b, 1700000001, 0);
	assert_true(memcmp(b, a, 12) > 0);
	/* Nanoseconds of a second or more carry into the seconds. */
	noise_tai64n(a, 1700000000, 1000000000U);
	assert_memory_equal(a, b, 12);
}

static void transport_open_refuses_a_wrong_counter_key_or_length(void **state)
{
	uint8_t key[32], other[32], plain[100], sealed[116], out[100];

	randombytes_buf(key, sizeof(key));
	randombytes_buf(other, sizeof(other));
	randombytes_buf(plain, sizeof(plain));
	noise_seal(sealed, plain, sizeof(plain), 42, key);
	assert_int_equal(noise_open(out, sealed, sizeof(sealed), 42, key), 0);
	assert_memory_equal(out, plain, sizeof(plain));
	assert_int_equal(noise_open(out, sealed, sizeof(sealed), 43, key), ERR_AUTH);
	assert_int_equal(noise_open(out, sealed, sizeof(sealed), 42, other), ERR_AUTH);
	assert_int_equal(noise_open(out, sealed, sizeof(sealed) - 1, 42, key), ERR_AUTH);
	assert_int_equal(noise_open(out, sealed, 15, 42, key), ERR_PARSE);
	sealed[50] ^= 1;
	assert_int_equal(noise_open(out, sealed, sizeof(sealed), 42, key), ERR_AUTH);
}

static void an_all_zero_private_key_clears_the_identity(void **state)
{
	struct noise_identity id;
	uint8_t priv[32], pub[32];
	static const uint8_t zero[sizeof(struct noise_identity)];

	noise_generate_private(priv);
	assert_int_equal(priv[0] & 7, 0);
	assert_int_equal(priv[31] & 0xc0, 0x40);
	noise_identity_set(&id, priv);
	assert_true(id.has_key);
	assert_int_equal(noise_public_from_private(pub, priv), 0);
	assert_memory_equal(id.public_key, pub, 32);

	memset(priv, 0, sizeof(priv));
	noise_identity_set(&id, priv);
	assert_false(id.has_key);
	assert_memory_equal(&id, zero, sizeof(id));
}

static void clearing_a_handshake_keeps_only_its_replay_protection(void **state)
{
	struct kat k;
	struct msg_initiation init;

	kat_setup(&k);
	make_initiation(&k.init, INIT_INDEX, k.timestamp, k.init_ephem, &init, NOW);
	assert_int_equal(consume_initiation(&k.resp, &init, NOW), 0);
	noise_handshake_clear(&k.resp.hs);
	assert_int_equal(k.resp.hs.state, NOISE_HS_ZEROED);
	assert_true(sodium_is_zero(k.resp.hs.chaining_key, 32));
	assert_true(sodium_is_zero(k.resp.hs.hash, 32));
	assert_true(sodium_is_zero(k.resp.hs.remote_ephemeral, 32));
	assert_memory_equal(k.resp.hs.latest_timestamp, k.timestamp, 12);
	assert_true(k.resp.hs.have_consumed_initiation);
	assert_true(k.resp.hs.last_initiation_consumed_ns == NOW);

	/* derive_keys leaves the same: no chaining key, hash or ephemeral behind. */
	noise_handshake_clear(&k.init.hs);
	make_initiation(&k.init, INIT_INDEX, k.timestamp, k.init_ephem, &init, NOW);
	assert_false(sodium_is_zero(k.init.hs.ephemeral_private, 32));
	noise_handshake_clear(&k.init.hs);
	assert_true(sodium_is_zero(k.init.hs.ephemeral_private, 32));
}

int main(void)
{
	if (sodium_init() < 0)
		return 1;
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(the_spec_kat_keys_and_labels_are_reproduced),
		cmocka_unit_test(the_spec_kat_handshake_and_transport_are_reproduced_byte_for_byte),
		cmocka_unit_test(a_handshake_with_random_keys_and_a_psk_agrees_on_transport_keys),
		cmocka_unit_test(a_mismatched_psk_fails_the_response_with_err_auth),
		cmocka_unit_test(a_replayed_initiation_is_refused_and_leaves_the_handshake_unchanged),
		cmocka_unit_test(an_initiation_within_20_ms_of_the_last_accepted_one_is_refused_as_a_flood),
		cmocka_unit_test(a_tampered_initiation_is_refused_with_err_auth_and_the_handshake_is_unchanged),
		cmocka_unit_test(a_tampered_response_is_refused_with_err_auth_and_the_handshake_is_unchanged),
		cmocka_unit_test(steps_out_of_order_are_refused_with_err_state),
		cmocka_unit_test(finishing_with_a_peer_other_than_the_decrypted_static_is_refused),
		cmocka_unit_test(a_zero_diffie_hellman_result_is_refused_with_err_crypto),
		cmocka_unit_test(the_static_dh_is_computed_at_the_first_handshake_that_needs_it),
		cmocka_unit_test(a_new_private_key_or_peer_key_gives_a_fresh_static_dh),
		cmocka_unit_test(simultaneous_initiations_leave_each_side_a_responder),
		cmocka_unit_test(tai64n_rounds_nanoseconds_down_to_a_multiple_of_2_to_the_24),
		cmocka_unit_test(transport_open_refuses_a_wrong_counter_key_or_length),
		cmocka_unit_test(an_all_zero_private_key_clears_the_identity),
		cmocka_unit_test(clearing_a_handshake_keeps_only_its_replay_protection),
	};
	return run_group(tests);
}
