/* The Chrome-shaped ClientHello of the REALITY client (specs/reality.md
 * §2.1-2.3): its layout, its randomness, and the sealed session id as a
 * server opens it. */
#include "support.h"

#include <errno.h>
#include <string.h>

#include "lib/err.h"
#include "reality/chello.h"
#include "reality/reality_auth.h"
#include "reality/tls13_msg.h"

/* Server key pair from Xray's own test (testing/scenarios/vless_test.go). */
#define SERVER_PRIV_TEXT "aGSYystUbf59_9_6LKRxD27rmSW_-2_nyd9YG_Gwbks"
#define SNI              "www.example.com"

static const uint16_t shuffled_types[CHELLO_N_SHUFFLED] = {
	TLS_EXT_SERVER_NAME, TLS_EXT_EXTENDED_MASTER_SECRET, TLS_EXT_RENEGOTIATION_INFO, TLS_EXT_SUPPORTED_GROUPS,
	TLS_EXT_EC_POINT_FORMATS, TLS_EXT_SESSION_TICKET, TLS_EXT_ALPN, TLS_EXT_STATUS_REQUEST,
	TLS_EXT_SIGNATURE_ALGORITHMS, TLS_EXT_SCT, TLS_EXT_KEY_SHARE, TLS_EXT_PSK_KEY_EXCHANGE_MODES,
	TLS_EXT_SUPPORTED_VERSIONS, TLS_EXT_COMPRESS_CERTIFICATE, TLS_EXT_APPLICATION_SETTINGS,
	TLS_EXT_ENCRYPTED_CLIENT_HELLO,
};

struct fixture {
	struct chello_keys keys;
	struct chello_rand rand;
	uint8_t ch[CHELLO_MAX];
	size_t len;
};

static void make(struct fixture *f, const char *sni)
{
	assert_int_equal(chello_keys_generate(&f->keys), 0);
	chello_rand_fill(&f->rand);
	assert_int_equal(chello_build(sni, &f->keys, &f->rand, f->ch, sizeof(f->ch), &f->len), 0);
}

static void the_hello_has_chromes_suites_and_a_zeroed_32_byte_session_id(void **state)
{
	(void)state;
	static struct fixture f;
	struct tls13_msg_ch ch;
	const uint8_t *list, *sid;
	size_t n, sid_len;
	make(&f, SNI);
	assert_int_equal(tls13_msg_ch_parse(&ch, f.ch, f.len), 0);
	assert_int_equal(ch.legacy_version, TLS_VERSION_12);
	assert_memory_equal(tls13_msg_ch_random(&ch), f.rand.random, TLS_RANDOM_LEN);
	tls13_msg_ch_session_id(&ch, &sid, &sid_len);
	assert_int_equal(sid_len, 32);
	assert_ptr_equal(sid, f.ch + REALITY_SESSION_ID_OFFSET);
	for (size_t i = 0; i < 32; i++)
		assert_int_equal(sid[i], 0);
	tls13_msg_ch_suites(&ch, &list, &n);
	assert_int_equal(n, 16);
	assert_true(tls13_msg_is_grease(tls_get_u16(list)));
	assert_int_equal(tls_get_u16(list + 2), TLS_AES_128_GCM_SHA256);
	assert_int_equal(tls_get_u16(list + 4), TLS_AES_256_GCM_SHA384);
	assert_int_equal(tls_get_u16(list + 6), TLS_CHACHA20_POLY1305_SHA256);
	assert_int_equal(tls_get_u16(list + 30), 0x0035);
	assert_true(tls13_msg_ch_compression_null(&ch));
	/* About Chrome's size with ML-KEM: 1.7 to 2 KB. */
	assert_in_range(f.len, 1700, 2100);
	chello_keys_wipe(&f.keys);
}

static void grease_extensions_frame_the_shuffled_ones(void **state)
{
	(void)state;
	static struct fixture f;
	struct tls13_msg_ch ch;
	make(&f, SNI);
	assert_int_equal(tls13_msg_ch_parse(&ch, f.ch, f.len), 0);
	assert_int_equal(ch.ext_count, CHELLO_N_SHUFFLED + 2);
	assert_true(tls13_msg_is_grease(ch.ext[0].type));
	assert_int_equal(ch.ext[0].len, 0);
	const struct tls13_msg_ext *last = &ch.ext[ch.ext_count - 1];
	assert_true(tls13_msg_is_grease(last->type));
	assert_int_equal(last->len, 1);
	assert_int_equal(f.ch[last->off], 0);
	assert_int_not_equal(ch.ext[0].type, last->type);
	/* The middle ones in the order the rand says. */
	for (size_t i = 0; i < CHELLO_N_SHUFFLED; i++)
		assert_int_equal(ch.ext[1 + i].type, shuffled_types[f.rand.order[i]]);
	chello_keys_wipe(&f.keys);
}

static void key_shares_are_grease_hybrid_then_x25519_with_separate_keys(void **state)
{
	(void)state;
	static struct fixture f;
	struct tls13_msg_ch ch;
	struct tls13_msg_iter it;
	struct tls13_msg_key_share ks[3];
	make(&f, SNI);
	assert_int_equal(tls13_msg_ch_parse(&ch, f.ch, f.len), 0);
	assert_int_equal(tls13_msg_ch_key_shares(&ch, &it), 0);
	for (int i = 0; i < 3; i++)
		assert_true(tls13_msg_key_share_next(&it, &ks[i]));
	assert_false(tls13_msg_key_share_next(&it, &ks[0]));
	assert_true(tls13_msg_is_grease(ks[0].group));
	assert_int_equal(ks[0].len, 1);
	assert_int_equal(ks[0].key[0], 0);
	assert_int_equal(ks[1].group, TLS_GROUP_X25519MLKEM768);
	assert_int_equal(ks[1].len, 1216);
	assert_memory_equal(ks[1].key, f.keys.mlkem_ek, MLKEM_EK_LEN);
	assert_memory_equal(ks[1].key + MLKEM_EK_LEN, f.keys.hybrid_x25519_pub, 32);
	assert_int_equal(ks[2].group, TLS_GROUP_X25519);
	assert_int_equal(ks[2].len, 32);
	assert_memory_equal(ks[2].key, f.keys.x25519_pub, 32);
	assert_memory_not_equal(f.keys.x25519_pub, f.keys.hybrid_x25519_pub, 32);
	/* supported_groups: GREASE, hybrid, X25519, P-256, P-384 */
	const uint8_t *groups;
	size_t n;
	assert_int_equal(tls13_msg_ch_supported_groups(&ch, &groups, &n), 0);
	assert_int_equal(n, 5);
	assert_int_equal(tls_get_u16(groups), ks[0].group);
	assert_int_equal(tls_get_u16(groups + 2), TLS_GROUP_X25519MLKEM768);
	assert_int_equal(tls_get_u16(groups + 4), TLS_GROUP_X25519);
	assert_int_equal(tls_get_u16(groups + 8), TLS_GROUP_SECP384R1);
	chello_keys_wipe(&f.keys);
}

static void sni_alpn_versions_and_ech_are_chromes(void **state)
{
	(void)state;
	static struct fixture f;
	struct tls13_msg_ch ch;
	struct tls13_msg_iter it;
	const uint8_t *p;
	size_t n;
	make(&f, SNI);
	assert_int_equal(tls13_msg_ch_parse(&ch, f.ch, f.len), 0);
	assert_int_equal(tls13_msg_ch_server_name(&ch, &p, &n), 0);
	assert_int_equal(n, strlen(SNI));
	assert_memory_equal(p, SNI, n);
	assert_int_equal(tls13_msg_ch_alpn(&ch, &it), 0);
	assert_true(tls13_msg_alpn_next(&it, &p, &n));
	assert_int_equal(n, 2);
	assert_memory_equal(p, "h2", 2);
	assert_true(tls13_msg_alpn_next(&it, &p, &n));
	assert_int_equal(n, 8);
	assert_memory_equal(p, "http/1.1", 8);
	assert_false(tls13_msg_alpn_next(&it, &p, &n));
	assert_int_equal(tls13_msg_ch_supported_versions(&ch, &p, &n), 0);
	assert_int_equal(n, 3);
	assert_true(tls13_msg_is_grease(tls_get_u16(p)));
	assert_int_equal(tls_get_u16(p + 2), TLS_VERSION_13);
	assert_int_equal(tls_get_u16(p + 4), TLS_VERSION_12);
	assert_int_equal(tls13_msg_ch_sig_algs(&ch, &p, &n), 0);
	assert_int_equal(n, 8);
	assert_int_equal(tls_get_u16(p), TLS_SIG_ECDSA_SECP256R1_SHA256);
	assert_int_equal(tls_get_u16(p + 14), TLS_SIG_RSA_PKCS1_SHA512);
	assert_int_equal(tls13_msg_ch_ext(&ch, TLS_EXT_ENCRYPTED_CLIENT_HELLO, &p, &n), 0);
	/* outer, HKDF-SHA256, AES-128-GCM, config id, enc(32), payload */
	assert_int_equal(n, 1 + 4 + 1 + 2 + 32 + 2 + f.rand.ech_payload_len);
	assert_int_equal(p[0], 0);
	assert_int_equal(tls_get_u16(p + 1), 1);
	assert_int_equal(tls_get_u16(p + 3), 1);
	assert_int_equal(tls_get_u16(p + 40), f.rand.ech_payload_len);
	assert_int_equal(tls13_msg_ch_ext(&ch, TLS_EXT_APPLICATION_SETTINGS, &p, &n), 0);
	assert_int_equal(n, 5);
	assert_memory_equal(p, "\x00\x03\x02h2", 5);
	assert_false(tls13_msg_ch_has_psk(&ch));
	chello_keys_wipe(&f.keys);
}

static void random_choices_are_valid_and_vary(void **state)
{
	(void)state;
	static struct chello_rand r;
	unsigned first_pos[CHELLO_N_SHUFFLED] = {0}, lens = 0;
	for (int round = 0; round < 400; round++) {
		chello_rand_fill(&r);
		uint16_t g[] = {r.grease_suite, r.grease_group, r.grease_ext1, r.grease_ext2, r.grease_version};
		for (size_t i = 0; i < 5; i++)
			assert_true(tls13_msg_is_grease(g[i]));
		assert_int_not_equal(r.grease_ext1, r.grease_ext2);
		unsigned seen = 0;
		for (int i = 0; i < CHELLO_N_SHUFFLED; i++)
			seen |= 1u << r.order[i];
		assert_int_equal(seen, (1u << CHELLO_N_SHUFFLED) - 1);
		first_pos[r.order[0]]++;
		assert_true(r.ech_payload_len == 144 || r.ech_payload_len == 176 || r.ech_payload_len == 208 ||
		            r.ech_payload_len == 240);
		lens |= 1u << ((r.ech_payload_len - 144) / 32);
	}
	/* Every extension comes first sometimes; every payload length occurs. */
	for (int i = 0; i < CHELLO_N_SHUFFLED; i++)
		assert_true(first_pos[i] > 0);
	assert_int_equal(lens, 15);
}

static void the_same_choices_give_the_same_bytes(void **state)
{
	(void)state;
	static struct fixture f;
	static uint8_t again[CHELLO_MAX];
	size_t len;
	make(&f, SNI);
	assert_int_equal(chello_build(SNI, &f.keys, &f.rand, again, sizeof(again), &len), 0);
	assert_int_equal(len, f.len);
	assert_memory_equal(again, f.ch, len);
	assert_int_equal(chello_build(SNI, &f.keys, &f.rand, again, f.len - 1, &len), -ENOSPC);
	chello_keys_wipe(&f.keys);
}

static void bad_server_names_and_choices_are_refused(void **state)
{
	(void)state;
	static struct fixture f;
	static char long_name[300];
	struct tls13_msg_ch ch;
	const uint8_t *p;
	size_t n, len;
	make(&f, NULL);
	assert_int_equal(tls13_msg_ch_parse(&ch, f.ch, f.len), 0);
	assert_int_equal(tls13_msg_ch_ext(&ch, TLS_EXT_SERVER_NAME, &p, &n), ERR_NOTFOUND);
	assert_int_equal(ch.ext_count, CHELLO_N_SHUFFLED + 1);
	const char *bad[] = {"bad name", "a..b", ".", "x.", "under_score", "tab\t"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(chello_build(bad[i], &f.keys, &f.rand, f.ch, sizeof(f.ch), &len), -EINVAL);
	memset(long_name, 'a', 254);
	assert_int_equal(chello_build(long_name, &f.keys, &f.rand, f.ch, sizeof(f.ch), &len), -EINVAL);
	struct chello_rand r = f.rand;
	r.order[3] = r.order[4];
	assert_int_equal(chello_build(SNI, &f.keys, &r, f.ch, sizeof(f.ch), &len), -EINVAL);
	r = f.rand;
	r.grease_ext2 = r.grease_ext1;
	assert_int_equal(chello_build(SNI, &f.keys, &r, f.ch, sizeof(f.ch), &len), -EINVAL);
	r = f.rand;
	r.grease_group = 0x1234;
	assert_int_equal(chello_build(SNI, &f.keys, &r, f.ch, sizeof(f.ch), &len), -EINVAL);
	chello_keys_wipe(&f.keys);
}

static void the_server_opens_the_sealed_session_id(void **state)
{
	(void)state;
	static struct fixture f;
	struct tls13_msg_ch ch;
	struct tls13_msg_key_share ks;
	struct reality_auth_fields in = {.version = CHELLO_REALITY_VERSION, .unix_time = 1767225600}, out;
	uint8_t server_priv[32], server_pub[32], key[32], server_key[32], plain[16];
	assert_int_equal(reality_auth_key_from_text(server_priv, SERVER_PRIV_TEXT), 0);
	assert_int_equal(reality_auth_x25519_public(server_pub, server_priv), 0);
	memcpy(in.short_id, "\x01\x23\x45\x67\x89\xab\xcd\xef", 8);
	make(&f, SNI);
	assert_int_equal(chello_seal(f.ch, f.len, &f.keys, server_pub, &in, key), 0);
	/* The server takes the standalone X25519 share, as REALITY does (§3.2). */
	assert_int_equal(tls13_msg_ch_parse(&ch, f.ch, f.len), 0);
	assert_int_equal(tls13_msg_ch_key_share_find(&ch, TLS_GROUP_X25519, &ks), 0);
	assert_int_equal(reality_auth_key_from_ecdh(server_key, server_priv, ks.key, tls13_msg_ch_random(&ch)), 0);
	assert_memory_equal(server_key, key, 32);
	assert_int_equal(reality_auth_open(server_key, f.ch, f.len, plain), 0);
	reality_auth_fields_decode(plain, &out);
	assert_int_equal(out.version, (26u << 16) | (3u << 8) | 27u);
	assert_int_equal(out.unix_time, 1767225600);
	assert_memory_equal(out.short_id, in.short_id, 8);
	/* Another server key does not open it. */
	server_priv[5] ^= 1;
	assert_int_equal(reality_auth_key_from_ecdh(server_key, server_priv, ks.key, tls13_msg_ch_random(&ch)), 0);
	assert_int_equal(reality_auth_open(server_key, f.ch, f.len, plain), ERR_AUTH);
	/* A low-order server key is refused. */
	memset(server_pub, 0, sizeof(server_pub));
	assert_int_equal(chello_seal(f.ch, f.len, &f.keys, server_pub, &in, key), ERR_CRYPTO);
	chello_keys_wipe(&f.keys);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(the_hello_has_chromes_suites_and_a_zeroed_32_byte_session_id),
		cmocka_unit_test(grease_extensions_frame_the_shuffled_ones),
		cmocka_unit_test(key_shares_are_grease_hybrid_then_x25519_with_separate_keys),
		cmocka_unit_test(sni_alpn_versions_and_ech_are_chromes),
		cmocka_unit_test(random_choices_are_valid_and_vary),
		cmocka_unit_test(the_same_choices_give_the_same_bytes),
		cmocka_unit_test(bad_server_names_and_choices_are_refused),
		cmocka_unit_test(the_server_opens_the_sealed_session_id),
	};
	return run_group(tests);
}
