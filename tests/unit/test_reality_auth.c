/* REALITY authentication against the vectors of specs/reality.md §7.1
 * (computed with Python `cryptography` from the spec's derivation). */
#include "support.h"

#include <errno.h>
#include <string.h>

#include "lib/err.h"
#include "reality/reality_auth.h"
#include "reality/reality_wire.h"

/* Server key pair from Xray's own test (testing/scenarios/vless_test.go). */
#define SERVER_PRIV_TEXT "aGSYystUbf59_9_6LKRxD27rmSW_-2_nyd9YG_Gwbks"
#define SERVER_PUB_TEXT  "E59WjnvZcQMu7tR7_BgyhycuEdBS-CtKxfImRCdAvFM"
#define SERVER_PUB_HEX   "139f568e7bd971032eeed47bfc183287272e11d052f82b4ac5f226442740bc53"
#define CLIENT_PUB_HEX   "79a631eede1bf9c98f12032cdeadd0e7a079398fc786b88cc846ec89af85a51a"
#define SHARED_HEX       "a021acbcd1b2112a7032d64da39f3b1557157048c090915a632e698be44fac4a"
#define AUTHKEY_HEX      "3125ad47b16d116815349c8152ac4c74942f96a2940d2cb22dd81884656c6fad"
#define PLAIN_HEX        "1a031b006955b9000123456789abcdef"
#define SID_HEX          "dea5ecf35a6d2b3fbcd3ed43dceada78a8de783638be25e044d0eadc8e8fe9f5"
#define ED_PUB_HEX       "cd14b37f956e953194ff7fb73b3d81dcc561d61a7538094b7c3e1a643ee5f3aa"
#define HMAC_HEX                                                                                             \
	"1dd259e3f348558df075a2aa09ed3c33629990e671f4553e7b6d54daa9d974ba"                                         \
	"c8601fcd366124f4fee394f522d265e6694347d963be5e33f9ba49e5e4a92744"
#define CH_LEN 176
#define CH_HEX                                                                                               \
	"010000ac0303000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f20"                           \
	"0000000000000000000000000000000000000000000000000000000000000000"                                         \
	"00061301130213030100005d00000014001200000f7777772e6578616d706c652e636f6d000a00040002001d"                 \
	"000d00080006040308040807003300260024001d002079a631eede1bf9c98f12032cdeadd0e7a079398fc786b88c"             \
	"c846ec89af85a51a002b0003020304"
#define CERT_HEX                                                                                             \
	"3081af3063a003020102020100300506032b657030003022180f30303031303130313030303030305a180f303030"             \
	"31303130313030303030305a3000302a300506032b6570032100cd14b37f956e953194ff7fb73b3d81dcc561d61a"             \
	"7538094b7c3e1a643ee5f3aa300506032b65700341001dd259e3f348558df075a2aa09ed3c33629990e671f4553e"             \
	"7b6d54daa9d974bac8601fcd366124f4fee394f522d265e6694347d963be5e33f9ba49e5e4a92744"

static void seq(uint8_t *out, uint8_t from, size_t n)
{
	for (size_t i = 0; i < n; i++)
		out[i] = (uint8_t)(from + i);
}

static void the_server_key_text_decodes_and_derives_the_public_key(void **state)
{
	(void)state;
	uint8_t priv[32], pub[32], want[32];
	char text[REALITY_KEY_B64_LEN];
	assert_int_equal(reality_auth_key_from_text(priv, SERVER_PRIV_TEXT), 0);
	assert_int_equal(reality_auth_x25519_public(pub, priv), 0);
	support_unhex(SERVER_PUB_HEX, want, 32);
	assert_memory_equal(pub, want, 32);
	reality_auth_key_to_text(text, pub);
	assert_string_equal(text, SERVER_PUB_TEXT);
	reality_auth_key_to_text(text, priv);
	assert_string_equal(text, SERVER_PRIV_TEXT);
}

static void malformed_key_text_is_refused_and_zeroes_the_key(void **state)
{
	(void)state;
	uint8_t k[32];
	static const char *bad[] = {
		"", "aGSYystUbf59_9_6LKRxD27rmSW_-2_nyd9YG_Gwbk",    /* 42 chars */
		"aGSYystUbf59_9_6LKRxD27rmSW_-2_nyd9YG_Gwbks=",      /* padding */
		"aGSYystUbf59/9+6LKRxD27rmSW_-2_nyd9YG_Gwbks",       /* std alphabet */
		"aGSYystUbf59_9_6LKRxD27rmSW_-2_nyd9YG_Gwbkt",       /* non-zero tail bits */
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		memset(k, 0xaa, sizeof(k));
		assert_int_equal(reality_auth_key_from_text(k, bad[i]), -EINVAL);
		uint8_t zero[32] = {0};
		assert_memory_equal(k, zero, 32);
	}
}

static void the_auth_key_and_sealed_session_id_match_the_spec_vectors(void **state)
{
	(void)state;
	uint8_t cpriv[32], cpub[32], spub[32], shared[32], key[32], want[32], random[32];
	uint8_t ch[CH_LEN], plain[16], want_plain[16], sid[32];
	seq(cpriv, 0x40, 32);
	seq(random, 0x00, 32);
	support_unhex(SERVER_PUB_HEX, spub, 32);
	assert_int_equal(reality_auth_x25519_public(cpub, cpriv), 0);
	support_unhex(CLIENT_PUB_HEX, want, 32);
	assert_memory_equal(cpub, want, 32);
	assert_int_equal(reality_auth_x25519(shared, cpriv, spub), 0);
	support_unhex(SHARED_HEX, want, 32);
	assert_memory_equal(shared, want, 32);
	assert_int_equal(reality_auth_key(key, shared, random), 0);
	support_unhex(AUTHKEY_HEX, want, 32);
	assert_memory_equal(key, want, 32);

	struct reality_auth_fields f = {.version = REALITY_VERSION_26_3_27, .unix_time = 1767225600};
	assert_int_equal(reality_auth_short_id_parse(f.short_id, "0123456789abcdef"), 0);
	reality_auth_fields_encode(&f, plain);
	support_unhex(PLAIN_HEX, want_plain, 16);
	assert_memory_equal(plain, want_plain, 16);

	support_unhex(CH_HEX, ch, CH_LEN);
	assert_int_equal(reality_auth_seal(key, ch, CH_LEN, plain), 0);
	support_unhex(SID_HEX, sid, 32);
	assert_memory_equal(ch + REALITY_SESSION_ID_OFFSET, sid, 32);
}

static void the_server_opens_the_session_id_with_its_private_key(void **state)
{
	(void)state;
	uint8_t spriv[32], cpub[32], key[32], want[32], ch[CH_LEN], plain[16], want_plain[16];
	assert_int_equal(reality_auth_key_from_text(spriv, SERVER_PRIV_TEXT), 0);
	support_unhex(CLIENT_PUB_HEX, cpub, 32);
	support_unhex(CH_HEX, ch, CH_LEN);
	support_unhex(SID_HEX, ch + REALITY_SESSION_ID_OFFSET, 32);
	assert_int_equal(reality_auth_key_from_ecdh(key, spriv, cpub, ch + 6), 0);
	support_unhex(AUTHKEY_HEX, want, 32);
	assert_memory_equal(key, want, 32);
	assert_int_equal(reality_auth_open(key, ch, CH_LEN, plain), 0);
	support_unhex(PLAIN_HEX, want_plain, 16);
	assert_memory_equal(plain, want_plain, 16);
	struct reality_auth_fields f;
	reality_auth_fields_decode(plain, &f);
	assert_int_equal(f.version, REALITY_VERSION_26_3_27);
	assert_int_equal(f.unix_time, 1767225600u);
	assert_int_equal(f.short_id[0], 0x01);
	assert_int_equal(f.short_id[7], 0xef);
}

static void any_changed_byte_of_the_client_hello_fails_the_tag(void **state)
{
	(void)state;
	uint8_t spriv[32], cpub[32], key[32], ch[CH_LEN], plain[16];
	assert_int_equal(reality_auth_key_from_text(spriv, SERVER_PRIV_TEXT), 0);
	support_unhex(CLIENT_PUB_HEX, cpub, 32);
	support_unhex(CH_HEX, ch, CH_LEN);
	support_unhex(SID_HEX, ch + REALITY_SESSION_ID_OFFSET, 32);
	assert_int_equal(reality_auth_key_from_ecdh(key, spriv, cpub, ch + 6), 0);
	for (size_t i = 0; i < CH_LEN; i++) {
		if (i == REALITY_SESSION_ID_OFFSET - 1 || i == 0)
			continue; /* those change the shape: ERR_PARSE, checked below */
		ch[i] ^= 0x01;
		int rc = reality_auth_open(key, ch, CH_LEN, plain);
		assert_int_equal(rc, ERR_AUTH);
		uint8_t zero[16] = {0};
		assert_memory_equal(plain, zero, 16);
		ch[i] ^= 0x01;
	}
	ch[0] = 2;
	assert_int_equal(reality_auth_open(key, ch, CH_LEN, plain), ERR_PARSE);
	ch[0] = 1;
	assert_int_equal(reality_auth_open(key, ch, 70, plain), ERR_PARSE);
	assert_int_equal(reality_auth_open(key, ch, CH_LEN - 1, plain), ERR_AUTH);
	assert_int_equal(reality_auth_open(key, ch, CH_LEN, plain), 0);
}

static void a_low_order_peer_key_is_refused(void **state)
{
	(void)state;
	uint8_t priv[32], zero_pub[32] = {0}, shared[32];
	seq(priv, 1, 32);
	assert_int_equal(reality_auth_x25519(shared, priv, zero_pub), ERR_CRYPTO);
}

static void the_certificate_is_built_and_signed_byte_for_byte(void **state)
{
	(void)state;
	uint8_t seed[32], pub[32], want_pub[32], key[32], cert[REALITY_CERT_LEN], want[REALITY_CERT_LEN];
	uint8_t mac[64], want_mac[64];
	seq(seed, 0x80, 32);
	assert_int_equal(reality_auth_ed25519_public(pub, seed), 0);
	support_unhex(ED_PUB_HEX, want_pub, 32);
	assert_memory_equal(pub, want_pub, 32);
	support_unhex(AUTHKEY_HEX, key, 32);
	assert_int_equal(reality_auth_cert_hmac(mac, key, pub), 0);
	support_unhex(HMAC_HEX, want_mac, 64);
	assert_memory_equal(mac, want_mac, 64);
	reality_auth_cert_build(cert, pub);
	assert_int_equal(reality_auth_cert_sign(cert, key), 0);
	support_unhex(CERT_HEX, want, REALITY_CERT_LEN);
	assert_memory_equal(cert, want, REALITY_CERT_LEN);
}

static void the_client_accepts_the_certificate_only_with_the_right_key(void **state)
{
	(void)state;
	uint8_t key[32], cert[REALITY_CERT_LEN], pub[32], want_pub[32];
	support_unhex(AUTHKEY_HEX, key, 32);
	support_unhex(CERT_HEX, cert, REALITY_CERT_LEN);
	support_unhex(ED_PUB_HEX, want_pub, 32);
	assert_int_equal(reality_auth_cert_check(cert, sizeof(cert), key, pub), 0);
	assert_memory_equal(pub, want_pub, 32);
	key[5] ^= 1;
	assert_int_equal(reality_auth_cert_check(cert, sizeof(cert), key, pub), ERR_AUTH);
	key[5] ^= 1;
	cert[REALITY_CERT_LEN - 1] ^= 1;
	assert_int_equal(reality_auth_cert_check(cert, sizeof(cert), key, pub), ERR_AUTH);
	cert[REALITY_CERT_LEN - 1] ^= 1;
	assert_int_equal(reality_auth_cert_check(cert, sizeof(cert) - 1, key, pub), ERR_PARSE);
	assert_int_equal(reality_auth_cert_check(cert + 1, sizeof(cert) - 1, key, pub), ERR_PARSE);
}

static void ed25519_signatures_verify_and_detect_changes(void **state)
{
	(void)state;
	uint8_t seed[32], pub[32], sig[64], msg[100];
	seq(seed, 0x80, 32);
	seq(msg, 7, sizeof(msg));
	assert_int_equal(reality_auth_ed25519_public(pub, seed), 0);
	assert_int_equal(reality_auth_ed25519_sign(sig, seed, msg, sizeof(msg)), 0);
	assert_int_equal(reality_auth_ed25519_verify(sig, pub, msg, sizeof(msg)), 0);
	msg[3] ^= 1;
	assert_int_equal(reality_auth_ed25519_verify(sig, pub, msg, sizeof(msg)), ERR_AUTH);
}

static void short_ids_and_versions_parse_as_xray_writes_them(void **state)
{
	(void)state;
	uint8_t id[8];
	uint32_t v;
	assert_int_equal(reality_auth_short_id_parse(id, "abcd"), 0);
	static const uint8_t abcd[8] = {0xab, 0xcd};
	assert_memory_equal(id, abcd, 8);
	assert_int_equal(reality_auth_short_id_parse(id, ""), 0);
	static const uint8_t zero[8] = {0};
	assert_memory_equal(id, zero, 8);
	assert_int_equal(reality_auth_short_id_parse(id, "abc"), -EINVAL);
	assert_int_equal(reality_auth_short_id_parse(id, "0123456789abcdef01"), -EINVAL);
	assert_int_equal(reality_auth_short_id_parse(id, "zz"), -EINVAL);
	assert_int_equal(reality_auth_version_parse(&v, "26.3.27"), 0);
	assert_int_equal(v, REALITY_VERSION_26_3_27);
	assert_int_equal(reality_auth_version_parse(&v, "1.0.0"), 0);
	assert_int_equal(v, 0x010000);
	assert_int_equal(reality_auth_version_parse(&v, "256.0.0"), -EINVAL);
	assert_int_equal(reality_auth_version_parse(&v, "1.2"), -EINVAL);
	assert_int_equal(reality_auth_version_parse(&v, "1.2.3."), -EINVAL);
	assert_int_equal(reality_auth_version_parse(&v, "-1.2.3"), -EINVAL);
}

static void fresh_key_pairs_are_clamped_and_consistent(void **state)
{
	(void)state;
	uint8_t priv[32], pub[32], pub2[32];
	assert_int_equal(reality_auth_x25519_keypair(priv, pub), 0);
	assert_int_equal(priv[0] & 7, 0);
	assert_int_equal(priv[31] & 0xc0, 0x40);
	assert_int_equal(reality_auth_x25519_public(pub2, priv), 0);
	assert_memory_equal(pub, pub2, 32);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(the_server_key_text_decodes_and_derives_the_public_key),
		cmocka_unit_test(malformed_key_text_is_refused_and_zeroes_the_key),
		cmocka_unit_test(the_auth_key_and_sealed_session_id_match_the_spec_vectors),
		cmocka_unit_test(the_server_opens_the_session_id_with_its_private_key),
		cmocka_unit_test(any_changed_byte_of_the_client_hello_fails_the_tag),
		cmocka_unit_test(a_low_order_peer_key_is_refused),
		cmocka_unit_test(the_certificate_is_built_and_signed_byte_for_byte),
		cmocka_unit_test(the_client_accepts_the_certificate_only_with_the_right_key),
		cmocka_unit_test(ed25519_signatures_verify_and_detect_changes),
		cmocka_unit_test(short_ids_and_versions_parse_as_xray_writes_them),
		cmocka_unit_test(fresh_key_pairs_are_clamped_and_consistent),
	};
	return run_group(tests);
}
