#include "support.h"

#include <string.h>

#include <sodium.h>

#include "awg/blake2s.h"
#include "awg/cookie.h"
#include "awg/noise.h"

/* specs/awg.md §5.2. */
#define KAT_INIT_STATIC "e61ef9919cde45dd5f82166404bd08e38bceb5dfdfded0a34c8df7ed542214d1"
#define KAT_RESP_STATIC "4a3acbfdb163dec651dfa3194dece676d437029c62a408b4c5ea9114246e4893"
#define KAT_INITIATION                                                                     \
	"0100000044332211ca35def5ae56cec33dc2036731ab14896bc4c75dbb07a61f879f8e3afa4c7944" \
	"001e21de9f98ddd8e2ad57527207feb56253c9c94a9e496782ecfcb2a75fbcaf752d6cf9956f6a4c" \
	"c1a138d6de1e87238cbd2c462d6bf53d84c83619a6663feb6f8d477c30b0c2f2ef2b3aed1f2bbce3" \
	"ebe3ae63d4699557582d22ca00000000000000000000000000000000"
#define KAT_COOKIE_KEY "6d3aeef16e9251e8a904ae3a8926c7828239871061752e0e34bf1bd59c7d1623"
#define KAT_COOKIE_REPLY                                                                   \
	"0300000044332211202122232425262728292a2b2c2d2e2f3031323334353637a9c7823a153c02ed" \
	"e27a2cc036a5ee4d375cafb698def2577cd7f96ac2af8a7f"
#define KAT_MAC2 "efbe3c43370b7cc18bc43801cc275e36"

#define NOW (1000 * NSEC_PER_SEC)
#define MAC1_OFF offsetof(struct msg_initiation, macs.mac1)
#define MAC2_OFF offsetof(struct msg_initiation, macs.mac2)

static const uint8_t src_a[] = { 192, 0, 2, 1, 0xca, 0x6c };
static const uint8_t src_b[] = { 192, 0, 2, 2, 0xca, 0x6c };

/* The KAT pair: the initiator (who receives cookies) and the responder (who
 * checks macs and issues them), with the KAT initiation already mac'd. */
struct pair {
	struct noise_identity init_id, resp_id;
	struct noise_peer_keys init_peer; /* initiator's view of the responder */
	struct cookie_state init_cookies;
	struct cookie_checker checker;
	uint8_t msg[148];
};

static void pair_setup(struct pair *p)
{
	uint8_t priv[32];

	memset(p, 0, sizeof(*p));
	support_unhex(KAT_INIT_STATIC, priv, 32);
	noise_identity_set(&p->init_id, priv);
	support_unhex(KAT_RESP_STATIC, priv, 32);
	noise_identity_set(&p->resp_id, priv);
	assert_int_equal(noise_peer_keys_init(&p->init_peer, p->resp_id.public_key, NULL), 0);
	cookie_checker_init(&p->checker, &p->resp_id);
	/* A fixed, fresh secret keeps the tests deterministic. */
	memset(p->checker.secret, 0x5a, sizeof(p->checker.secret));
	p->checker.secret_birth_ns = NOW;
	p->checker.secret_valid = true;
	support_unhex(KAT_INITIATION, p->msg, sizeof(p->msg));
	cookie_add_macs(&p->init_cookies, p->init_peer.mac1_key, p->msg, sizeof(p->msg), NOW);
}

static void the_spec_kat_cookie_reply_opens_to_the_published_cookie(void **state)
{
	struct pair p;
	struct msg_cookie reply;
	uint8_t want[32], msg[148], cookie[16];

	pair_setup(&p);
	support_unhex(KAT_COOKIE_KEY, want, 32);
	assert_memory_equal(p.resp_id.cookie_key, want, 32);
	assert_memory_equal(p.init_peer.cookie_key, want, 32);

	/* Adding macs reproduced the KAT's mac1 and remembered it. */
	support_unhex(KAT_INITIATION, msg, sizeof(msg));
	assert_memory_equal(p.msg, msg, sizeof(msg));
	assert_true(p.init_cookies.have_sent_mac1);
	assert_memory_equal(p.init_cookies.last_mac1_sent, msg + MAC1_OFF, 16);

	support_unhex(KAT_COOKIE_REPLY, (uint8_t *)&reply, sizeof(reply));
	assert_int_equal(cookie_consume_reply(&p.init_cookies, p.init_peer.cookie_key, &reply, NOW), 0);
	for (int i = 0; i < 16; i++)
		cookie[i] = (uint8_t)i;
	assert_true(p.init_cookies.have_cookie);
	assert_memory_equal(p.init_cookies.cookie, cookie, 16);
	assert_true(p.init_cookies.cookie_birth_ns == NOW);
}

static void the_spec_kat_mac2_is_reproduced_with_the_received_cookie(void **state)
{
	struct pair p;
	struct msg_cookie reply;
	uint8_t want[16], mac1[16];

	pair_setup(&p);
	support_unhex(KAT_COOKIE_REPLY, (uint8_t *)&reply, sizeof(reply));
	assert_int_equal(cookie_consume_reply(&p.init_cookies, p.init_peer.cookie_key, &reply, NOW), 0);
	memcpy(mac1, p.msg + MAC1_OFF, 16);
	cookie_add_macs(&p.init_cookies, p.init_peer.mac1_key, p.msg, sizeof(p.msg), NOW + NSEC_PER_SEC);
	support_unhex(KAT_MAC2, want, 16);
	assert_memory_equal(p.msg + MAC2_OFF, want, 16);
	assert_memory_equal(p.msg + MAC1_OFF, mac1, 16);
}

static void a_reply_we_create_carries_the_cookie_of_the_source_address(void **state)
{
	struct pair p;
	struct msg_cookie reply;
	uint8_t nonce[24], want[16];

	pair_setup(&p);
	for (int i = 0; i < 24; i++)
		nonce[i] = (uint8_t)(0x20 + i);
	assert_int_equal(cookie_create_reply(&p.checker, &reply, p.msg, sizeof(p.msg), 0x11223344, src_a,
	                                     sizeof(src_a), nonce, NOW), 0);
	assert_int_equal(le32_read(&reply.type), MSG_COOKIE);
	assert_int_equal(le32_read(&reply.receiver_index), 0x11223344);
	assert_memory_equal(reply.nonce, nonce, 24);

	assert_int_equal(cookie_consume_reply(&p.init_cookies, p.init_peer.cookie_key, &reply, NOW), 0);
	blake2s(want, 16, p.checker.secret, sizeof(p.checker.secret), src_a, sizeof(src_a));
	assert_memory_equal(p.init_cookies.cookie, want, 16);

	/* A NULL nonce picks a random one. */
	assert_int_equal(cookie_create_reply(&p.checker, &reply, p.msg, sizeof(p.msg), 1, src_a, sizeof(src_a),
	                                     NULL, NOW), 0);
	assert_memory_not_equal(reply.nonce, nonce, 24);
	assert_int_equal(cookie_create_reply(&p.checker, &reply, p.msg, 31, 1, src_a, sizeof(src_a), NULL, NOW),
	                 ERR_PARSE);
}

static void validate_reports_each_mac_state(void **state)
{
	struct pair p;
	struct msg_cookie reply;
	uint8_t bad[148];

	pair_setup(&p);
	/* mac1 good, no mac2: valid without cookie whether or not we look. */
	assert_int_equal(cookie_validate(&p.checker, p.msg, sizeof(p.msg), src_a, sizeof(src_a), false, NOW),
	                 COOKIE_MAC_VALID_NO_COOKIE);
	assert_int_equal(cookie_validate(&p.checker, p.msg, sizeof(p.msg), src_a, sizeof(src_a), true, NOW),
	                 COOKIE_MAC_VALID_NO_COOKIE);

	/* Any flipped bit before or inside mac1 is invalid; too short is invalid. */
	for (size_t off = 0; off < MAC2_OFF; off += 5) {
		memcpy(bad, p.msg, sizeof(bad));
		bad[off] ^= 0x10;
		assert_int_equal(cookie_validate(&p.checker, bad, sizeof(bad), src_a, sizeof(src_a), false, NOW),
		                 COOKIE_MAC_INVALID);
	}
	assert_int_equal(cookie_validate(&p.checker, p.msg, 31, src_a, sizeof(src_a), false, NOW),
	                 COOKIE_MAC_INVALID);
	assert_int_equal(cookie_validate(&p.checker, p.msg, 0, NULL, 0, true, NOW), COOKIE_MAC_INVALID);

	/* After a cookie exchange the retransmission carries a good mac2. */
	assert_int_equal(cookie_create_reply(&p.checker, &reply, p.msg, sizeof(p.msg), 0x11223344, src_a,
	                                     sizeof(src_a), NULL, NOW), 0);
	assert_int_equal(cookie_consume_reply(&p.init_cookies, p.init_peer.cookie_key, &reply, NOW), 0);
	cookie_add_macs(&p.init_cookies, p.init_peer.mac1_key, p.msg, sizeof(p.msg), NOW);
	assert_int_equal(cookie_validate(&p.checker, p.msg, sizeof(p.msg), src_a, sizeof(src_a), true, NOW),
	                 COOKIE_MAC_VALID_WITH_COOKIE);
	/* Not under load, mac2 is not looked at. */
	assert_int_equal(cookie_validate(&p.checker, p.msg, sizeof(p.msg), src_a, sizeof(src_a), false, NOW),
	                 COOKIE_MAC_VALID_NO_COOKIE);
	/* The cookie is bound to the source address. */
	assert_int_equal(cookie_validate(&p.checker, p.msg, sizeof(p.msg), src_b, sizeof(src_b), true, NOW),
	                 COOKIE_MAC_VALID_NO_COOKIE);
	/* A wrong mac2 byte. */
	memcpy(bad, p.msg, sizeof(bad));
	bad[MAC2_OFF + 15] ^= 1;
	assert_int_equal(cookie_validate(&p.checker, bad, sizeof(bad), src_a, sizeof(src_a), true, NOW),
	                 COOKIE_MAC_VALID_NO_COOKIE);
}

static void a_reply_with_a_wrong_ad_key_or_byte_is_refused(void **state)
{
	struct pair p;
	struct msg_cookie reply, bad;
	struct cookie_state before;

	pair_setup(&p);
	support_unhex(KAT_COOKIE_REPLY, (uint8_t *)&reply, sizeof(reply));
	memcpy(&before, &p.init_cookies, sizeof(before));

	/* Every byte of the nonce and ciphertext is authenticated. */
	for (size_t off = offsetof(struct msg_cookie, nonce); off < sizeof(reply); off++) {
		bad = reply;
		((uint8_t *)&bad)[off] ^= 0x01;
		assert_int_equal(cookie_consume_reply(&p.init_cookies, p.init_peer.cookie_key, &bad, NOW), ERR_AUTH);
		assert_memory_equal(&p.init_cookies, &before, sizeof(before));
	}
	/* Wrong key: our own identity's cookie key rather than the peer's. */
	assert_int_equal(cookie_consume_reply(&p.init_cookies, p.init_id.cookie_key, &reply, NOW), ERR_AUTH);
	/* Wrong AD: a different mac1 was sent last. */
	p.init_cookies.last_mac1_sent[0] ^= 1;
	assert_int_equal(cookie_consume_reply(&p.init_cookies, p.init_peer.cookie_key, &reply, NOW), ERR_AUTH);
	assert_false(p.init_cookies.have_cookie);
	p.init_cookies.last_mac1_sent[0] ^= 1;

	/* The genuine reply is taken once; a copy finds no mac1 outstanding. */
	assert_int_equal(cookie_consume_reply(&p.init_cookies, p.init_peer.cookie_key, &reply, NOW), 0);
	assert_int_equal(cookie_consume_reply(&p.init_cookies, p.init_peer.cookie_key, &reply, NOW), ERR_BADSTATE);

	/* Nothing sent yet: nothing to open. */
	struct cookie_state fresh;
	memset(&fresh, 0, sizeof(fresh));
	assert_int_equal(cookie_consume_reply(&fresh, p.init_peer.cookie_key, &reply, NOW), ERR_BADSTATE);
	assert_false(fresh.have_cookie);
}

static void a_stale_secret_is_regenerated_and_old_cookies_stop_working(void **state)
{
	struct pair p;
	struct msg_cookie reply;
	uint8_t old_secret[32];

	pair_setup(&p);
	memcpy(old_secret, p.checker.secret, 32);
	assert_int_equal(cookie_create_reply(&p.checker, &reply, p.msg, sizeof(p.msg), 1, src_a, sizeof(src_a),
	                                     NULL, NOW), 0);
	assert_int_equal(cookie_consume_reply(&p.init_cookies, p.init_peer.cookie_key, &reply, NOW), 0);
	cookie_add_macs(&p.init_cookies, p.init_peer.mac1_key, p.msg, sizeof(p.msg), NOW);

	/* Just under 120 s: same secret, cookie still good. */
	uint64_t t = NOW + COOKIE_SECRET_MAX_AGE_NS - 1;
	assert_int_equal(cookie_validate(&p.checker, p.msg, sizeof(p.msg), src_a, sizeof(src_a), true, t),
	                 COOKIE_MAC_VALID_WITH_COOKIE);
	assert_memory_equal(p.checker.secret, old_secret, 32);
	assert_true(p.checker.secret_birth_ns == NOW);

	/* At 120 s the secret rotates and the old cookie no longer validates. */
	t = NOW + COOKIE_SECRET_MAX_AGE_NS;
	assert_int_equal(cookie_validate(&p.checker, p.msg, sizeof(p.msg), src_a, sizeof(src_a), true, t),
	                 COOKIE_MAC_VALID_NO_COOKIE);
	assert_memory_not_equal(p.checker.secret, old_secret, 32);
	assert_true(p.checker.secret_birth_ns == t);

	/* A checker that never made a secret makes one on first use. */
	struct cookie_checker fresh;
	cookie_checker_init(&fresh, &p.resp_id);
	assert_false(fresh.secret_valid);
	assert_int_equal(cookie_create_reply(&fresh, &reply, p.msg, sizeof(p.msg), 1, src_a, sizeof(src_a), NULL,
	                                     7), 0);
	assert_true(fresh.secret_valid);
	assert_true(fresh.secret_birth_ns == 7);
	assert_false(sodium_is_zero(fresh.secret, 32));
	cookie_checker_clear(&fresh);
	assert_true(sodium_is_zero((const uint8_t *)&fresh, sizeof(fresh)));
}

static void a_received_cookie_is_used_for_mac2_only_until_115_seconds(void **state)
{
	struct pair p;
	struct msg_cookie reply;

	pair_setup(&p);
	support_unhex(KAT_COOKIE_REPLY, (uint8_t *)&reply, sizeof(reply));
	assert_int_equal(cookie_consume_reply(&p.init_cookies, p.init_peer.cookie_key, &reply, NOW), 0);

	uint64_t limit = COOKIE_SECRET_MAX_AGE_NS - COOKIE_SECRET_LATENCY_NS;
	cookie_add_macs(&p.init_cookies, p.init_peer.mac1_key, p.msg, sizeof(p.msg), NOW + limit - 1);
	assert_false(sodium_is_zero(p.msg + MAC2_OFF, 16));
	cookie_add_macs(&p.init_cookies, p.init_peer.mac1_key, p.msg, sizeof(p.msg), NOW + limit);
	assert_true(sodium_is_zero(p.msg + MAC2_OFF, 16));
}

int main(void)
{
	if (sodium_init() < 0)
		return 1;
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(the_spec_kat_cookie_reply_opens_to_the_published_cookie),
		cmocka_unit_test(the_spec_kat_mac2_is_reproduced_with_the_received_cookie),
		cmocka_unit_test(a_reply_we_create_carries_the_cookie_of_the_source_address),
		cmocka_unit_test(validate_reports_each_mac_state),
		cmocka_unit_test(a_reply_with_a_wrong_ad_key_or_byte_is_refused),
		cmocka_unit_test(a_stale_secret_is_regenerated_and_old_cookies_stop_working),
		cmocka_unit_test(a_received_cookie_is_used_for_mac2_only_until_115_seconds),
	};
	return run_group(tests);
}
