#include "support.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include <openssl/evp.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>

#include "reality/reality_wire.h"
#include "reality/tls13_keysched.h"
#include "reality/tls13_msg.h"
#include "reality/tls13_record.h"
#include "rfc8448_vectors.h"

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

/* uint8_t name[V_LEN], filled from the hex string V. */
#define UNHEX(name, V)              \
	uint8_t name[V##_LEN];          \
	support_unhex(V, name, V##_LEN)

/* The RFC 8448 §3 trace, decoded once. */
static struct {
	uint8_t client_priv[32], server_priv[32], server_pub[32], client_pub[32], ecdhe[32];
	uint8_t ch[RFC8448_CLIENT_HELLO_LEN], sh[RFC8448_SERVER_HELLO_LEN];
	uint8_t ee[RFC8448_ENCRYPTED_EXTENSIONS_LEN], cert[RFC8448_CERTIFICATE_LEN];
	uint8_t cv[RFC8448_CERTIFICATE_VERIFY_LEN], sfin[RFC8448_SERVER_FINISHED_LEN];
	uint8_t cfin[RFC8448_CLIENT_FINISHED_LEN], nst[RFC8448_NEW_SESSION_TICKET_LEN];
	uint8_t flight[RFC8448_ENCRYPTED_EXTENSIONS_LEN + RFC8448_CERTIFICATE_LEN + RFC8448_CERTIFICATE_VERIFY_LEN +
	               RFC8448_SERVER_FINISHED_LEN]; /* the server's protected handshake payload */
	uint8_t app[RFC8448_APP_DATA_LEN];
} T;

static void load_trace(void)
{
	size_t n = 0;

	support_unhex(RFC8448_CLIENT_PRIV, T.client_priv, 32);
	support_unhex(RFC8448_SERVER_PRIV, T.server_priv, 32);
	support_unhex(RFC8448_CLIENT_PUB, T.client_pub, 32);
	support_unhex(RFC8448_SERVER_PUB, T.server_pub, 32);
	support_unhex(RFC8448_ECDHE, T.ecdhe, 32);
	support_unhex(RFC8448_CLIENT_HELLO, T.ch, sizeof(T.ch));
	support_unhex(RFC8448_SERVER_HELLO, T.sh, sizeof(T.sh));
	support_unhex(RFC8448_ENCRYPTED_EXTENSIONS, T.ee, sizeof(T.ee));
	support_unhex(RFC8448_CERTIFICATE, T.cert, sizeof(T.cert));
	support_unhex(RFC8448_CERTIFICATE_VERIFY, T.cv, sizeof(T.cv));
	support_unhex(RFC8448_SERVER_FINISHED, T.sfin, sizeof(T.sfin));
	support_unhex(RFC8448_CLIENT_FINISHED, T.cfin, sizeof(T.cfin));
	support_unhex(RFC8448_NEW_SESSION_TICKET, T.nst, sizeof(T.nst));
	support_unhex(RFC8448_APP_DATA, T.app, sizeof(T.app));
	memcpy(T.flight + n, T.ee, sizeof(T.ee));
	n += sizeof(T.ee);
	memcpy(T.flight + n, T.cert, sizeof(T.cert));
	n += sizeof(T.cert);
	memcpy(T.flight + n, T.cv, sizeof(T.cv));
	n += sizeof(T.cv);
	memcpy(T.flight + n, T.sfin, sizeof(T.sfin));
}

static const struct tls13_keysched_suite *aes128(void)
{
	return tls13_keysched_suite(TLS_AES_128_GCM_SHA256);
}

/* Hash of the concatenation of the trace messages given. */
static void thash(enum tls13_keysched_hash h, uint8_t *out, int n, ...)
{
	struct tls13_keysched_transcript t;
	va_list ap;

	assert_int_equal(tls13_keysched_transcript_init(&t, h), 0);
	va_start(ap, n);
	for (int i = 0; i < n; i++) {
		const uint8_t *p = va_arg(ap, const uint8_t *);
		size_t len = va_arg(ap, size_t);
		assert_int_equal(tls13_keysched_transcript_update(&t, p, len), 0);
	}
	va_end(ap);
	assert_int_equal(tls13_keysched_transcript_hash(&t, out), 0);
	tls13_keysched_transcript_fini(&t);
}

#define M(x) (x), sizeof(x)

/* The full schedule of the trace, by our code. */
static void trace_schedule(struct tls13_keysched *ks)
{
	uint8_t h1[32], h2[32];

	thash(TLS13_SHA256, h1, 2, M(T.ch), M(T.sh));
	thash(TLS13_SHA256, h2, 6, M(T.ch), M(T.sh), M(T.ee), M(T.cert), M(T.cv), M(T.sfin));
	assert_int_equal(tls13_keysched_init(ks, aes128(), NULL, 0), 0);
	assert_int_equal(tls13_keysched_handshake(ks, T.ecdhe, 32, h1), 0);
	assert_int_equal(tls13_keysched_application(ks, h2), 0);
}

static void x25519(const uint8_t priv[32], const uint8_t pub[32], uint8_t out[32])
{
	EVP_PKEY *k = EVP_PKEY_new_raw_private_key(EVP_PKEY_X25519, NULL, priv, 32);
	EVP_PKEY *p = EVP_PKEY_new_raw_public_key(EVP_PKEY_X25519, NULL, pub, 32);
	EVP_PKEY_CTX *c = EVP_PKEY_CTX_new(k, NULL);
	size_t n = 32;

	assert_non_null(k);
	assert_non_null(p);
	assert_non_null(c);
	assert_int_equal(EVP_PKEY_derive_init(c), 1);
	assert_int_equal(EVP_PKEY_derive_set_peer(c, p), 1);
	assert_int_equal(EVP_PKEY_derive(c, out, &n), 1);
	assert_int_equal(n, 32);
	EVP_PKEY_CTX_free(c);
	EVP_PKEY_free(p);
	EVP_PKEY_free(k);
}

/* ---- key schedule ---- */

static void rfc8448_ecdhe_input_is_the_x25519_of_the_trace_keys(void **state)
{
	uint8_t a[32], b[32];

	x25519(T.client_priv, T.server_pub, a);
	x25519(T.server_priv, T.client_pub, b);
	assert_memory_equal(a, T.ecdhe, 32);
	assert_memory_equal(b, T.ecdhe, 32);
}

static void rfc8448_early_handshake_and_master_secrets_are_reproduced(void **state)
{
	UNHEX(early, RFC8448_EARLY_SECRET);
	UNHEX(derived_early, RFC8448_DERIVED_EARLY);
	UNHEX(hs, RFC8448_HANDSHAKE_SECRET);
	UNHEX(derived_hs, RFC8448_DERIVED_HS);
	UNHEX(master, RFC8448_MASTER_SECRET);
	uint8_t empty[32], out[32], h1[32], h2[32];
	struct tls13_keysched ks;

	/* Step by step with the primitives... */
	assert_int_equal(tls13_keysched_hkdf_extract(TLS13_SHA256, NULL, 0, (const uint8_t *)"\0\0\0\0\0\0\0\0"
	                                             "\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0", 32, out), 0);
	assert_memory_equal(out, early, 32);
	assert_int_equal(tls13_keysched_hash_data(TLS13_SHA256, NULL, 0, empty), 0);
	assert_int_equal(tls13_keysched_derive_secret(TLS13_SHA256, early, "derived", empty, out), 0);
	assert_memory_equal(out, derived_early, 32);
	assert_int_equal(tls13_keysched_hkdf_extract(TLS13_SHA256, derived_early, 32, T.ecdhe, 32, out), 0);
	assert_memory_equal(out, hs, 32);
	assert_int_equal(tls13_keysched_derive_secret(TLS13_SHA256, hs, "derived", empty, out), 0);
	assert_memory_equal(out, derived_hs, 32);

	/* ... and through the schedule, one stage at a time. */
	thash(TLS13_SHA256, h1, 2, M(T.ch), M(T.sh));
	thash(TLS13_SHA256, h2, 6, M(T.ch), M(T.sh), M(T.ee), M(T.cert), M(T.cv), M(T.sfin));
	assert_int_equal(tls13_keysched_init(&ks, aes128(), NULL, 0), 0);
	assert_int_equal(ks.stage, TLS13_KS_EARLY);
	assert_memory_equal(ks.secret, early, 32);
	assert_int_equal(tls13_keysched_handshake(&ks, T.ecdhe, 32, h1), 0);
	assert_memory_equal(ks.secret, hs, 32);
	assert_int_equal(tls13_keysched_application(&ks, h2), 0);
	assert_memory_equal(ks.secret, master, 32);
	tls13_keysched_wipe(&ks);
}

static void rfc8448_traffic_secrets_follow_from_the_transcript(void **state)
{
	UNHEX(h_ch_sh, RFC8448_HASH_CH_SH);
	UNHEX(h_ch_sf, RFC8448_HASH_CH_SF);
	UNHEX(c_hs, RFC8448_C_HS_TRAFFIC);
	UNHEX(s_hs, RFC8448_S_HS_TRAFFIC);
	UNHEX(c_ap, RFC8448_C_AP_TRAFFIC);
	UNHEX(s_ap, RFC8448_S_AP_TRAFFIC);
	UNHEX(exp, RFC8448_EXP_MASTER);
	struct tls13_keysched_transcript t;
	struct tls13_keysched ks;
	uint8_t h[32];

	/* One running transcript, read mid-way without disturbing it. */
	assert_int_equal(tls13_keysched_transcript_init(&t, TLS13_SHA256), 0);
	assert_int_equal(tls13_keysched_transcript_update(&t, M(T.ch)), 0);
	assert_int_equal(tls13_keysched_transcript_update(&t, M(T.sh)), 0);
	assert_int_equal(tls13_keysched_transcript_hash(&t, h), 0);
	assert_memory_equal(h, h_ch_sh, 32);
	assert_int_equal(tls13_keysched_transcript_hash(&t, h), 0);
	assert_memory_equal(h, h_ch_sh, 32);
	assert_int_equal(tls13_keysched_transcript_update(&t, M(T.ee)), 0);
	assert_int_equal(tls13_keysched_transcript_update(&t, M(T.cert)), 0);
	assert_int_equal(tls13_keysched_transcript_update(&t, M(T.cv)), 0);
	assert_int_equal(tls13_keysched_transcript_update(&t, M(T.sfin)), 0);
	assert_int_equal(tls13_keysched_transcript_hash(&t, h), 0);
	assert_memory_equal(h, h_ch_sf, 32);
	tls13_keysched_transcript_fini(&t);
	tls13_keysched_transcript_fini(&t); /* twice is harmless */

	trace_schedule(&ks);
	assert_memory_equal(ks.c_hs, c_hs, 32);
	assert_memory_equal(ks.s_hs, s_hs, 32);
	assert_memory_equal(ks.c_ap, c_ap, 32);
	assert_memory_equal(ks.s_ap, s_ap, 32);
	assert_memory_equal(ks.exporter, exp, 32);
	tls13_keysched_wipe(&ks);
}

static void rfc8448_write_keys_and_ivs_are_reproduced(void **state)
{
	UNHEX(s_hs_key, RFC8448_S_HS_KEY);
	UNHEX(s_hs_iv, RFC8448_S_HS_IV);
	UNHEX(c_hs_key, RFC8448_C_HS_KEY);
	UNHEX(c_hs_iv, RFC8448_C_HS_IV);
	UNHEX(s_ap_key, RFC8448_S_AP_KEY);
	UNHEX(s_ap_iv, RFC8448_S_AP_IV);
	UNHEX(c_ap_key, RFC8448_C_AP_KEY);
	UNHEX(c_ap_iv, RFC8448_C_AP_IV);
	struct tls13_keysched ks;
	uint8_t key[32], iv[12];

	trace_schedule(&ks);
	assert_int_equal(tls13_keysched_traffic_keys(aes128(), ks.s_hs, key, iv), 0);
	assert_memory_equal(key, s_hs_key, 16);
	assert_memory_equal(iv, s_hs_iv, 12);
	assert_int_equal(tls13_keysched_traffic_keys(aes128(), ks.c_hs, key, iv), 0);
	assert_memory_equal(key, c_hs_key, 16);
	assert_memory_equal(iv, c_hs_iv, 12);
	assert_int_equal(tls13_keysched_traffic_keys(aes128(), ks.s_ap, key, iv), 0);
	assert_memory_equal(key, s_ap_key, 16);
	assert_memory_equal(iv, s_ap_iv, 12);
	assert_int_equal(tls13_keysched_traffic_keys(aes128(), ks.c_ap, key, iv), 0);
	assert_memory_equal(key, c_ap_key, 16);
	assert_memory_equal(iv, c_ap_iv, 12);
	tls13_keysched_wipe(&ks);
}

static void rfc8448_finished_keys_and_values_are_reproduced_and_verified(void **state)
{
	UNHEX(s_fk, RFC8448_S_FINISHED_KEY);
	UNHEX(s_fv, RFC8448_S_FINISHED_VERIFY);
	UNHEX(c_fk, RFC8448_C_FINISHED_KEY);
	UNHEX(c_fv, RFC8448_C_FINISHED_VERIFY);
	struct tls13_keysched ks;
	uint8_t h_cv[32], h_sf[32], out[32], msg[64], bad[36];
	size_t len;

	trace_schedule(&ks);
	thash(TLS13_SHA256, h_cv, 5, M(T.ch), M(T.sh), M(T.ee), M(T.cert), M(T.cv));
	thash(TLS13_SHA256, h_sf, 6, M(T.ch), M(T.sh), M(T.ee), M(T.cert), M(T.cv), M(T.sfin));

	assert_int_equal(tls13_keysched_finished_key(TLS13_SHA256, ks.s_hs, out), 0);
	assert_memory_equal(out, s_fk, 32);
	assert_int_equal(tls13_keysched_finished(TLS13_SHA256, ks.s_hs, h_cv, out), 0);
	assert_memory_equal(out, s_fv, 32);
	assert_int_equal(tls13_keysched_finished_key(TLS13_SHA256, ks.c_hs, out), 0);
	assert_memory_equal(out, c_fk, 32);
	assert_int_equal(tls13_keysched_finished(TLS13_SHA256, ks.c_hs, h_sf, out), 0);
	assert_memory_equal(out, c_fv, 32);

	/* The Finished messages themselves: built, and verified as received. */
	assert_int_equal(tls13_msg_fin_build(s_fv, 32, msg, sizeof(msg), &len), 0);
	assert_int_equal(len, sizeof(T.sfin));
	assert_memory_equal(msg, T.sfin, len);
	assert_int_equal(tls13_msg_fin_verify(TLS13_SHA256, ks.s_hs, h_cv, M(T.sfin)), 0);
	assert_int_equal(tls13_msg_fin_verify(TLS13_SHA256, ks.c_hs, h_sf, M(T.cfin)), 0);
	/* The wrong key, a flipped bit, or a wrong length fail. */
	assert_int_equal(tls13_msg_fin_verify(TLS13_SHA256, ks.c_hs, h_cv, M(T.sfin)), ERR_AUTH);
	for (size_t i = 4; i < sizeof(bad); i++) {
		memcpy(bad, T.cfin, sizeof(bad));
		bad[i] ^= 0x01;
		assert_int_equal(tls13_msg_fin_verify(TLS13_SHA256, ks.c_hs, h_sf, M(bad)), ERR_AUTH);
	}
	assert_int_equal(tls13_msg_fin_verify(TLS13_SHA256, ks.c_hs, h_sf, T.cfin, 35), ERR_PARSE);
	assert_int_equal(tls13_msg_fin_verify(TLS13_SHA384, ks.c_hs, h_sf, M(T.cfin)), ERR_PARSE);
	tls13_keysched_wipe(&ks);
}

static void rfc8448_resumption_secret_is_reproduced(void **state)
{
	UNHEX(h_cf, RFC8448_HASH_CH_CF);
	UNHEX(res, RFC8448_RES_MASTER);
	struct tls13_keysched ks;
	uint8_t h[32], out[32];

	trace_schedule(&ks);
	thash(TLS13_SHA256, h, 7, M(T.ch), M(T.sh), M(T.ee), M(T.cert), M(T.cv), M(T.sfin), M(T.cfin));
	assert_memory_equal(h, h_cf, 32);
	assert_int_equal(tls13_keysched_resumption(&ks, h, out), 0);
	assert_memory_equal(out, res, 32);
	tls13_keysched_wipe(&ks);
}

static void key_schedule_steps_out_of_order_are_refused_and_wipe_clears_everything(void **state)
{
	struct tls13_keysched ks;
	uint8_t h[32] = { 0 }, out[32];

	memset(&ks, 0, sizeof(ks));
	assert_int_equal(tls13_keysched_handshake(&ks, T.ecdhe, 32, h), ERR_BADSTATE);
	assert_int_equal(tls13_keysched_application(&ks, h), ERR_BADSTATE);
	assert_int_equal(tls13_keysched_init(&ks, NULL, NULL, 0), -EINVAL);
	assert_int_equal(tls13_keysched_init(&ks, aes128(), NULL, 0), 0);
	assert_int_equal(tls13_keysched_application(&ks, h), ERR_BADSTATE);
	assert_int_equal(tls13_keysched_resumption(&ks, h, out), ERR_BADSTATE);
	assert_int_equal(tls13_keysched_handshake(&ks, T.ecdhe, 0, h), -EINVAL);
	assert_int_equal(tls13_keysched_handshake(&ks, T.ecdhe, TLS_MAX_SHARED_SECRET + 1, h), -EINVAL);
	assert_int_equal(tls13_keysched_handshake(&ks, T.ecdhe, 32, h), 0);
	assert_int_equal(tls13_keysched_handshake(&ks, T.ecdhe, 32, h), ERR_BADSTATE);
	tls13_keysched_wipe(&ks);
	for (size_t i = 0; i < sizeof(ks); i++)
		assert_int_equal(((uint8_t *)&ks)[i], 0);
	tls13_keysched_wipe(NULL);

	/* Labels and lengths outside HKDF-Expand-Label's encoding. */
	char label[251];
	memset(label, 'a', 250);
	label[250] = 0;
	assert_int_equal(tls13_keysched_expand_label(TLS13_SHA256, h, label, NULL, 0, out, 32), -EINVAL);
	label[249] = 0;
	assert_int_equal(tls13_keysched_expand_label(TLS13_SHA256, h, label, NULL, 0, out, 32), 0);
	assert_int_equal(tls13_keysched_expand_label(TLS13_SHA256, h, "x", h, 256, out, 32), -EINVAL);
	assert_int_equal(tls13_keysched_hkdf_expand(TLS13_SHA256, h, 32, NULL, 0, out, 255 * 32 + 1), -EINVAL);
	assert_null(tls13_keysched_suite(0x1304));
	assert_null(tls13_keysched_suite(0x0a0a));
}

static void transcript_after_hello_retry_request_starts_with_message_hash(void **state)
{
	struct tls13_keysched_transcript t;
	uint8_t head[4 + 48], ch_hash[48], want[48], got[48];

	/* SHA-384 this time: the synthetic message carries Hash.length = 48. */
	assert_int_equal(tls13_keysched_hash_data(TLS13_SHA384, M(T.ch), ch_hash), 0);
	head[0] = TLS_HS_MESSAGE_HASH;
	head[1] = 0;
	head[2] = 0;
	head[3] = 48;
	memcpy(head + 4, ch_hash, 48);
	thash(TLS13_SHA384, want, 2, M(head), M(T.sh));

	assert_int_equal(tls13_keysched_transcript_init(&t, TLS13_SHA384), 0);
	assert_int_equal(tls13_keysched_transcript_update(&t, M(T.ch)), 0);
	assert_int_equal(tls13_keysched_transcript_hrr(&t), 0);
	assert_int_equal(tls13_keysched_transcript_update(&t, M(T.sh)), 0);
	assert_int_equal(tls13_keysched_transcript_hash(&t, got), 0);
	assert_memory_equal(got, want, 48);
	tls13_keysched_transcript_fini(&t);
}

/* SHA-384 and ChaCha20 schedules over the trace's inputs (the trace's
 * ClientHello, ServerHello, ECDHE), computed independently with Python's
 * `cryptography` 48 (hmac/hashlib HKDF-Expand-Label), since RFC 8448 only
 * covers TLS_AES_128_GCM_SHA256. */
#define SHA384_EARLY "7ee8206f5570023e6dc7519eb1073bc4e791ad37b5c382aa10ba18e2357e716971f9362f2c2fe2a76bfd78dfec4ea9b5"
#define SHA384_HS "984e65f4ea6ac0dece14762ac3752b71867a045c60d3fe7808b31949d2ce27d3142e6da6d92a68437f77c26509ce0b2b"
#define SHA384_C_HS "29577dc122959b0e087c1eedb7a81bf2bf2cafb97c8bccc06536230567a8d85e734a0fb1da5926e4d83a58989fdab7c6"
#define SHA384_S_HS "25351eb01a5c05cb096c6810d72fedf4735d48c878ee62ed44187b3fb6b57feba5c7f3b2fb622c28acb964ac70dba494"
#define SHA384_MASTER "2915f95014de3957dad1c2764430fa490ffbe027a09be69e4da30a27969b40081308dbd17cb65a35332215cfc8cf4a2f"
#define SHA384_S_FIN "4cd47099f9afff78486eb4073de97800d5f1f31482c6565df90eed2ea7661a35bd6e4d1640477fc643197aa7ba3bf5c3"
#define SHA384_C_AP "dd68306fc19b59ec5e7711a096a6f126d6919e4ffe2c01703820bc0e1c1978cdda4e980e268450c2fb4fdeb46b3f13e4"
#define SHA384_S_AP "8f9835e2d343002adaf611c0cd363e8d8bec6dde6cee2cca6142a7201c3a1cd77380dd50029c3259f80014005be3a8e4"
#define SHA384_S_HS_KEY "116a31a195f8551eebb463ca280d9282ad25156966d01c742c17a822a2950e16"
#define SHA384_S_HS_IV "040a4d7734ac0a8ccc445e2d"
#define SHA384_S_AP_UPD "730eeacaf821cb21d46b6a9344d9efd39c4ab360b106f46e0eac55e5a86d414ae9b26a83c9a66e1c119f7d524f4981e8"
/* The flight (EE, Certificate, CertificateVerify, the SHA-384 Finished)
 * sealed with 7 padding bytes at seq 0 under the s_hs key: 702 bytes, of
 * SHA-256 this; and the 50 application bytes padded by 13, seq 1, s_ap key. */
#define SHA384_FLIGHT_RECORD_SHA256 "6f4edcee063172d88f6ae1b1d0d021e47709679bd08dfec6aa79745f495a7f42"
#define SHA384_APP_RECORD                                                                      \
	"17030300508cc0d2490c2b90c28ca3233a60159df6e4bbb2c8df73c17e6109f93f771d2af6126a6011981a" \
	"fc834a4e6db0aa1152c3ea5c5de1d9cf711f5460e5daf484bd8209d6dc80479e0ebf70fa97cf0324b427"
#define CHACHA_S_HS_KEY "ac70443f7fe3bdaf568b1dcdb0a7f3fea098bca189c3455ba41fcd9d488348a4"
#define CHACHA_S_AP_UPD "51921b8aa3001976eb401d0a4319a8516416a6c56001a357e5d162031e84f916"
#define CHACHA_FLIGHT_RECORD_SHA256 "379026cd608b35cc218c06b686ad066394d2090bba626b046c056c971c93f4f8"
#define CHACHA_APP_RECORD                                                                      \
	"17030300506c8c48118573420e1434df0d9d7d385459f6050503b4bdf0e44629e83be36bec324bb24ca24a" \
	"251317aa33e5ab17e780149e2e2328cc017f6f58655612235622b89bf075e57b6d29601e014935dc9955"

static void expect_hex(const uint8_t *got, size_t len, const char *hex)
{
	uint8_t *want = malloc(len);
	assert_non_null(want);
	support_unhex(hex, want, len);
	assert_memory_equal(got, want, len);
	free(want);
}

/* Runs the suite's schedule over the trace inputs, with that suite's own
 * Finished in the transcript. */
static void other_schedule(uint16_t id, struct tls13_keysched *ks, uint8_t *sfin, size_t *sfin_len)
{
	const struct tls13_keysched_suite *s = tls13_keysched_suite(id);
	uint8_t h[48], v[48];

	assert_non_null(s);
	thash(s->hash, h, 2, M(T.ch), M(T.sh));
	assert_int_equal(tls13_keysched_init(ks, s, NULL, 0), 0);
	assert_int_equal(tls13_keysched_handshake(ks, T.ecdhe, 32, h), 0);
	thash(s->hash, h, 5, M(T.ch), M(T.sh), M(T.ee), M(T.cert), M(T.cv));
	assert_int_equal(tls13_keysched_finished(s->hash, ks->s_hs, h, v), 0);
	assert_int_equal(tls13_msg_fin_build(v, s->hash_len, sfin, 4 + 48, sfin_len), 0);
	thash(s->hash, h, 6, M(T.ch), M(T.sh), M(T.ee), M(T.cert), M(T.cv), sfin, *sfin_len);
	assert_int_equal(tls13_keysched_application(ks, h), 0);
}

static void sha384_key_schedule_matches_an_independent_computation(void **state)
{
	struct tls13_keysched ks;
	uint8_t sfin[52], key[32], iv[12], early[48];
	size_t n;

	/* The early secret alone: Extract(0^48, 0^48). */
	assert_int_equal(tls13_keysched_init(&ks, tls13_keysched_suite(TLS_AES_256_GCM_SHA384), NULL, 0), 0);
	memcpy(early, ks.secret, 48);
	expect_hex(early, 48, SHA384_EARLY);

	other_schedule(TLS_AES_256_GCM_SHA384, &ks, sfin, &n);
	assert_int_equal(n, 52);
	expect_hex(sfin + 4, 48, SHA384_S_FIN);
	expect_hex(ks.c_hs, 48, SHA384_C_HS);
	expect_hex(ks.s_hs, 48, SHA384_S_HS);
	expect_hex(ks.secret, 48, SHA384_MASTER);
	expect_hex(ks.c_ap, 48, SHA384_C_AP);
	expect_hex(ks.s_ap, 48, SHA384_S_AP);
	assert_int_equal(tls13_keysched_traffic_keys(ks.suite, ks.s_hs, key, iv), 0);
	expect_hex(key, 32, SHA384_S_HS_KEY);
	expect_hex(iv, 12, SHA384_S_HS_IV);
	tls13_keysched_wipe(&ks);

	/* The handshake secret, through the primitives. */
	uint8_t empty[48], salt[48], hs[48];
	support_unhex(SHA384_EARLY, early, 48);
	assert_int_equal(tls13_keysched_hash_data(TLS13_SHA384, NULL, 0, empty), 0);
	assert_int_equal(tls13_keysched_derive_secret(TLS13_SHA384, early, "derived", empty, salt), 0);
	assert_int_equal(tls13_keysched_hkdf_extract(TLS13_SHA384, salt, 48, T.ecdhe, 32, hs), 0);
	expect_hex(hs, 48, SHA384_HS);
}

static void key_update_derives_the_next_traffic_secret(void **state)
{
	struct tls13_keysched ks;
	uint8_t sfin[52], next[48];
	size_t n;

	other_schedule(TLS_AES_256_GCM_SHA384, &ks, sfin, &n);
	memcpy(next, ks.s_ap, 48);
	assert_int_equal(tls13_keysched_update(TLS13_SHA384, next), 0);
	expect_hex(next, 48, SHA384_S_AP_UPD);
	tls13_keysched_wipe(&ks);

	other_schedule(TLS_CHACHA20_POLY1305_SHA256, &ks, sfin, &n);
	memcpy(next, ks.s_ap, 32);
	assert_int_equal(tls13_keysched_update(TLS13_SHA256, next), 0);
	expect_hex(next, 32, CHACHA_S_AP_UPD);
	tls13_keysched_wipe(&ks);
}

/* ---- record layer ---- */

/* Our own live cross-check: Python's `cryptography` seals the same record.
 * 1 with out filled, 0 when python3 or the package is missing (a message
 * says so; the embedded vectors still run). */
static int python_seal(uint16_t suite, const uint8_t *key, size_t klen, const uint8_t nonce[12],
                       const uint8_t *aad, size_t alen, const uint8_t *pt, size_t plen, uint8_t *out, size_t olen)
{
	static const char script[] =
		"python3 -c 'import sys\n"
		"try:\n"
		" from cryptography.hazmat.primitives.ciphers.aead import AESGCM, ChaCha20Poly1305\n"
		"except Exception:\n"
		" sys.exit(3)\n"
		"a = sys.argv\n"
		"c = (ChaCha20Poly1305 if a[1] == \"1303\" else AESGCM)(bytes.fromhex(a[2]))\n"
		"print(c.encrypt(bytes.fromhex(a[3]), bytes.fromhex(a[5]), bytes.fromhex(a[4])).hex())'";
	size_t cap = sizeof(script) + 64 + 2 * (klen + 12 + alen + plen);
	char *cmd = malloc(cap), *line = malloc(2 * olen + 8), *p;
	const uint8_t *parts[4] = { key, nonce, aad, pt };
	size_t lens[4] = { klen, 12, alen, plen };
	FILE *f;
	int st;

	assert_non_null(cmd);
	assert_non_null(line);
	p = cmd + snprintf(cmd, cap, "%s %04x", script, suite);
	for (int i = 0; i < 4; i++) {
		*p++ = ' ';
		for (size_t j = 0; j < lens[i]; j++)
			p += sprintf(p, "%02x", parts[i][j]);
		if (!lens[i])
			p += sprintf(p, "''");
	}
	strcpy(p, " 2>/dev/null");
	f = popen(cmd, "r");
	assert_non_null(f);
	if (!fgets(line, (int)(2 * olen + 8), f))
		line[0] = 0;
	st = pclose(f);
	free(cmd);
	if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) {
		print_message("python3 with the cryptography package is not available (exit %d): "
		              "live cross-check skipped, embedded vectors still checked\n",
		              WIFEXITED(st) ? WEXITSTATUS(st) : -1);
		free(line);
		return 0;
	}
	line[strcspn(line, "\n")] = 0;
	support_unhex(line, out, olen);
	free(line);
	return 1;
}

static void nonce_for(const uint8_t iv[12], uint64_t seq, uint8_t out[12])
{
	memcpy(out, iv, 12);
	for (int i = 0; i < 8; i++)
		out[11 - i] ^= (uint8_t)(seq >> (8 * i));
}

static void rfc8448_server_records_are_decrypted_byte_for_byte(void **state)
{
	UNHEX(sh_rec, RFC8448_SERVER_HELLO_RECORD);
	UNHEX(flight, RFC8448_SERVER_FLIGHT_RECORD);
	UNHEX(nst_rec, RFC8448_NST_RECORD);
	UNHEX(app_rec, RFC8448_S_APP_RECORD);
	UNHEX(alert_rec, RFC8448_S_ALERT_RECORD);
	static const uint8_t types[] = { TLS_HS_ENCRYPTED_EXTENSIONS, TLS_HS_CERTIFICATE, TLS_HS_CERTIFICATE_VERIFY,
	                                 TLS_HS_FINISHED };
	const uint8_t *msgs[] = { T.ee, T.cert, T.cv, T.sfin };
	struct tls13_record c;
	struct tls13_record_in in;
	struct tls13_record_reasm h;
	struct tls13_record_hs_msg m;
	struct tls13_keysched ks;
	uint8_t out[TLS_MAX_INNER], level, desc;

	trace_schedule(&ks);
	assert_int_equal(tls13_record_init(&c, TLS13_RECORD_CLIENT), 0);
	tls13_record_reasm_init(&h, 0);

	assert_int_equal(tls13_record_read(&c, M(sh_rec), M(out), &in), 1);
	assert_int_equal(in.type, TLS_CT_HANDSHAKE);
	assert_false(in.is_protected);
	assert_int_equal(in.used, sizeof(sh_rec));
	assert_int_equal(in.len, sizeof(T.sh));
	assert_memory_equal(in.data, T.sh, sizeof(T.sh));

	assert_int_equal(tls13_record_set_secret(&c, false, TLS_AES_128_GCM_SHA256, ks.s_hs, TLS13_EPOCH_HANDSHAKE), 0);
	assert_int_equal(tls13_record_read(&c, M(flight), M(out), &in), 1);
	assert_int_equal(in.type, TLS_CT_HANDSHAKE);
	assert_true(in.is_protected);
	assert_int_equal(in.used, sizeof(flight));
	assert_int_equal(in.len, sizeof(T.flight));
	assert_memory_equal(in.data, T.flight, sizeof(T.flight));
	assert_int_equal(tls13_record_reasm_add(&h, in.data, in.len), 0);
	for (size_t i = 0; i < ARRAY_SIZE(types); i++) {
		assert_int_equal(tls13_record_reasm_next(&h, &m), 1);
		assert_int_equal(m.type, types[i]);
		assert_memory_equal(m.msg, msgs[i], m.msg_len);
		assert_int_equal(m.body_len + 4, m.msg_len);
	}
	assert_int_equal(tls13_record_reasm_next(&h, &m), 0);
	assert_true(tls13_record_reasm_empty(&h));

	assert_int_equal(tls13_record_set_secret(&c, false, TLS_AES_128_GCM_SHA256, ks.s_ap, TLS13_EPOCH_APPLICATION),
	                 0);
	assert_int_equal(tls13_record_read(&c, M(nst_rec), M(out), &in), 1);
	assert_int_equal(in.type, TLS_CT_HANDSHAKE);
	assert_int_equal(in.len, sizeof(T.nst));
	assert_memory_equal(in.data, T.nst, sizeof(T.nst));
	assert_int_equal(tls13_msg_nst_check(in.data, in.len), 0);
	assert_int_equal(tls13_record_read(&c, M(app_rec), M(out), &in), 1);
	assert_int_equal(in.type, TLS_CT_APPLICATION_DATA);
	assert_int_equal(in.len, sizeof(T.app));
	assert_memory_equal(in.data, T.app, sizeof(T.app));
	assert_int_equal(tls13_record_read(&c, M(alert_rec), M(out), &in), 1);
	assert_int_equal(in.type, TLS_CT_ALERT);
	assert_int_equal(tls13_record_alert_parse(in.data, in.len, &level, &desc), 0);
	assert_int_equal(level, TLS_ALERT_LEVEL_WARNING);
	assert_int_equal(desc, TLS_ALERT_CLOSE_NOTIFY);
	assert_true(tls13_record_alert_is_closure(desc));
	assert_int_equal(c.rx.seq, 3);

	tls13_record_reasm_fini(&h);
	tls13_record_fini(&c);
	tls13_keysched_wipe(&ks);
}

static void rfc8448_client_records_are_decrypted_byte_for_byte(void **state)
{
	UNHEX(ch_rec, RFC8448_CLIENT_HELLO_RECORD);
	UNHEX(fin_rec, RFC8448_CLIENT_FINISHED_RECORD);
	UNHEX(app_rec, RFC8448_C_APP_RECORD);
	UNHEX(alert_rec, RFC8448_C_ALERT_RECORD);
	struct tls13_record s;
	struct tls13_record_in in;
	struct tls13_keysched ks;
	uint8_t out[TLS_MAX_INNER], h[32];

	trace_schedule(&ks);
	assert_int_equal(tls13_record_init(&s, TLS13_RECORD_SERVER), 0);
	/* The ClientHello record carries 0x0301, which a server accepts. */
	assert_int_equal(tls13_record_read(&s, M(ch_rec), M(out), &in), 1);
	assert_int_equal(in.type, TLS_CT_HANDSHAKE);
	assert_memory_equal(in.data, T.ch, sizeof(T.ch));
	assert_int_equal(tls13_record_set_secret(&s, false, TLS_AES_128_GCM_SHA256, ks.c_hs, TLS13_EPOCH_HANDSHAKE), 0);
	assert_int_equal(tls13_record_read(&s, M(fin_rec), M(out), &in), 1);
	assert_int_equal(in.type, TLS_CT_HANDSHAKE);
	assert_int_equal(in.len, sizeof(T.cfin));
	assert_memory_equal(in.data, T.cfin, sizeof(T.cfin));
	thash(TLS13_SHA256, h, 6, M(T.ch), M(T.sh), M(T.ee), M(T.cert), M(T.cv), M(T.sfin));
	assert_int_equal(tls13_msg_fin_verify(TLS13_SHA256, ks.c_hs, h, in.data, in.len), 0);
	assert_int_equal(tls13_record_set_secret(&s, false, TLS_AES_128_GCM_SHA256, ks.c_ap, TLS13_EPOCH_APPLICATION),
	                 0);
	assert_int_equal(tls13_record_read(&s, M(app_rec), M(out), &in), 1);
	assert_int_equal(in.type, TLS_CT_APPLICATION_DATA);
	assert_memory_equal(in.data, T.app, sizeof(T.app));
	assert_int_equal(tls13_record_read(&s, M(alert_rec), M(out), &in), 1);
	assert_int_equal(in.type, TLS_CT_ALERT);
	assert_int_equal(in.len, 2);
	assert_int_equal(in.data[0], 1);
	assert_int_equal(in.data[1], 0);
	tls13_record_fini(&s);
	tls13_keysched_wipe(&ks);
}

static void rfc8448_records_are_encrypted_byte_for_byte(void **state)
{
	UNHEX(ch_rec, RFC8448_CLIENT_HELLO_RECORD);
	UNHEX(sh_rec, RFC8448_SERVER_HELLO_RECORD);
	UNHEX(flight, RFC8448_SERVER_FLIGHT_RECORD);
	UNHEX(nst_rec, RFC8448_NST_RECORD);
	UNHEX(s_app, RFC8448_S_APP_RECORD);
	UNHEX(s_alert, RFC8448_S_ALERT_RECORD);
	UNHEX(fin_rec, RFC8448_CLIENT_FINISHED_RECORD);
	UNHEX(c_app, RFC8448_C_APP_RECORD);
	UNHEX(c_alert, RFC8448_C_ALERT_RECORD);
	static const uint8_t close_notify[2] = { TLS_ALERT_LEVEL_WARNING, TLS_ALERT_CLOSE_NOTIFY };
	static const uint8_t ccs[1] = { TLS_CCS_BYTE };
	struct tls13_record c, s;
	struct tls13_keysched ks;
	uint8_t out[TLS_MAX_RECORD];
	size_t n;

	trace_schedule(&ks);
	assert_int_equal(tls13_record_init(&c, TLS13_RECORD_CLIENT), 0);
	assert_int_equal(tls13_record_init(&s, TLS13_RECORD_SERVER), 0);

	/* Client: ClientHello in a 0x0301 record, CCS, then protected. */
	assert_int_equal(tls13_record_write_plain(&c, TLS_CT_HANDSHAKE, M(T.ch), M(out), &n), 0);
	assert_int_equal(n, sizeof(ch_rec));
	assert_memory_equal(out, ch_rec, n);
	assert_int_equal(tls13_record_write_plain(&c, TLS_CT_CHANGE_CIPHER_SPEC, M(ccs), M(out), &n), 0);
	assert_int_equal(n, TLS_CCS_RECORD_LEN);
	assert_memory_equal(out, "\x14\x03\x03\x00\x01\x01", n);
	assert_int_equal(tls13_record_set_secret(&c, true, TLS_AES_128_GCM_SHA256, ks.c_hs, TLS13_EPOCH_HANDSHAKE), 0);
	assert_int_equal(tls13_record_write_plain(&c, TLS_CT_HANDSHAKE, M(T.ch), M(out), &n), ERR_PROTO);
	assert_int_equal(tls13_record_seal(&c, TLS_CT_HANDSHAKE, M(T.cfin), 0, M(out), &n), 0);
	assert_int_equal(n, sizeof(fin_rec));
	assert_memory_equal(out, fin_rec, n);
	assert_int_equal(tls13_record_set_secret(&c, true, TLS_AES_128_GCM_SHA256, ks.c_ap, TLS13_EPOCH_APPLICATION), 0);
	assert_int_equal(tls13_record_seal(&c, TLS_CT_APPLICATION_DATA, M(T.app), 0, M(out), &n), 0);
	assert_memory_equal(out, c_app, sizeof(c_app));
	assert_int_equal(tls13_record_seal(&c, TLS_CT_ALERT, M(close_notify), 0, M(out), &n), 0);
	assert_int_equal(n, sizeof(c_alert));
	assert_memory_equal(out, c_alert, n);

	/* Server: ServerHello in a 0x0303 record, then the protected flight. */
	assert_int_equal(tls13_record_write_plain(&s, TLS_CT_HANDSHAKE, M(T.sh), M(out), &n), 0);
	assert_int_equal(n, sizeof(sh_rec));
	assert_memory_equal(out, sh_rec, n);
	assert_int_equal(tls13_record_set_secret(&s, true, TLS_AES_128_GCM_SHA256, ks.s_hs, TLS13_EPOCH_HANDSHAKE), 0);
	assert_int_equal(tls13_record_seal(&s, TLS_CT_HANDSHAKE, M(T.flight), 0, M(out), &n), 0);
	assert_int_equal(n, sizeof(flight));
	assert_memory_equal(out, flight, n);
	assert_int_equal(tls13_record_set_secret(&s, true, TLS_AES_128_GCM_SHA256, ks.s_ap, TLS13_EPOCH_APPLICATION), 0);
	assert_int_equal(tls13_record_seal(&s, TLS_CT_HANDSHAKE, M(T.nst), 0, M(out), &n), 0);
	assert_int_equal(n, sizeof(nst_rec));
	assert_memory_equal(out, nst_rec, n);
	assert_int_equal(tls13_record_seal(&s, TLS_CT_APPLICATION_DATA, M(T.app), 0, M(out), &n), 0);
	assert_memory_equal(out, s_app, sizeof(s_app));
	assert_int_equal(tls13_record_seal(&s, TLS_CT_ALERT, M(close_notify), 0, M(out), &n), 0);
	assert_memory_equal(out, s_alert, sizeof(s_alert));
	assert_int_equal(s.tx.seq, 3);

	tls13_record_fini(&c);
	tls13_record_fini(&s);
	tls13_keysched_wipe(&ks);
}

/* A client and a server record layer keyed with the same secrets. */
static void keyed_pair(struct tls13_record *c, struct tls13_record *s, uint16_t suite, const uint8_t *c_secret,
                       const uint8_t *s_secret, enum tls13_record_epoch epoch)
{
	assert_int_equal(tls13_record_init(c, TLS13_RECORD_CLIENT), 0);
	assert_int_equal(tls13_record_init(s, TLS13_RECORD_SERVER), 0);
	assert_int_equal(tls13_record_set_secret(c, true, suite, c_secret, epoch), 0);
	assert_int_equal(tls13_record_set_secret(s, false, suite, c_secret, epoch), 0);
	assert_int_equal(tls13_record_set_secret(s, true, suite, s_secret, epoch), 0);
	assert_int_equal(tls13_record_set_secret(c, false, suite, s_secret, epoch), 0);
}

/* Round trip through both sides with padding, the output against the
 * embedded vector and against Python, for one of the two other suites. */
static void other_suite_records(uint16_t suite, const char *flight_sha256, const char *app_hex)
{
	const struct tls13_keysched_suite *st = tls13_keysched_suite(suite);
	struct tls13_keysched ks;
	struct tls13_record c, s;
	struct tls13_record_in in;
	uint8_t payload[sizeof(T.flight) + 16], sfin[52], rec[TLS_MAX_RECORD], out[TLS_MAX_INNER], digest[32];
	uint8_t key[32], iv[12], nonce[12], py[TLS_MAX_RECORD], inner[TLS_MAX_INNER], app[85];
	size_t n, plen, ilen;

	other_schedule(suite, &ks, sfin, &n);
	plen = sizeof(T.flight) - sizeof(T.sfin);
	memcpy(payload, T.flight, plen);
	memcpy(payload + plen, sfin, n);
	plen += n;
	keyed_pair(&c, &s, suite, ks.c_hs, ks.s_hs, TLS13_EPOCH_HANDSHAKE);

	/* The server's flight, padded by 7, read back by the client. */
	assert_int_equal(tls13_record_seal(&s, TLS_CT_HANDSHAKE, payload, plen, 7, M(rec), &n), 0);
	assert_int_equal(n, TLS_RECORD_OVERHEAD + plen + 7);
	assert_int_equal(tls13_keysched_hash_data(TLS13_SHA256, rec, n, digest), 0);
	expect_hex(digest, 32, flight_sha256);
	assert_int_equal(tls13_record_read(&c, rec, n, M(out), &in), 1);
	assert_int_equal(in.type, TLS_CT_HANDSHAKE);
	assert_int_equal(in.len, plen);
	assert_memory_equal(in.data, payload, plen);

	/* Live: Python seals the same inner plaintext under the same header. */
	assert_int_equal(tls13_keysched_traffic_keys(st, ks.s_hs, key, iv), 0);
	memcpy(inner, payload, plen);
	inner[plen] = TLS_CT_HANDSHAKE;
	memset(inner + plen + 1, 0, 7);
	ilen = plen + 8;
	nonce_for(iv, 0, nonce);
	if (python_seal(suite, key, st->key_len, nonce, rec, 5, inner, ilen, py, ilen + 16))
		assert_memory_equal(py, rec + 5, ilen + 16);

	/* Application data, padded by 13, at sequence number 1. */
	tls13_record_fini(&c);
	tls13_record_fini(&s);
	keyed_pair(&c, &s, suite, ks.c_ap, ks.s_ap, TLS13_EPOCH_APPLICATION);
	assert_int_equal(tls13_record_seal(&s, TLS_CT_APPLICATION_DATA, M(T.app), 0, M(rec), &n), 0);
	assert_int_equal(tls13_record_read(&c, rec, n, M(out), &in), 1);
	assert_int_equal(tls13_record_seal(&s, TLS_CT_APPLICATION_DATA, M(T.app), 13, M(rec), &n), 0);
	assert_int_equal(n, sizeof(app));
	support_unhex(app_hex, app, sizeof(app));
	assert_memory_equal(rec, app, sizeof(app));
	assert_int_equal(tls13_record_read(&c, rec, n, M(out), &in), 1);
	assert_int_equal(in.type, TLS_CT_APPLICATION_DATA);
	assert_int_equal(in.len, sizeof(T.app));
	assert_memory_equal(in.data, T.app, sizeof(T.app));
	assert_int_equal(tls13_keysched_traffic_keys(st, ks.s_ap, key, iv), 0);
	memcpy(inner, T.app, sizeof(T.app));
	inner[sizeof(T.app)] = TLS_CT_APPLICATION_DATA;
	memset(inner + sizeof(T.app) + 1, 0, 13);
	nonce_for(iv, 1, nonce);
	if (python_seal(suite, key, st->key_len, nonce, rec, 5, inner, sizeof(T.app) + 14, py, n - 5))
		assert_memory_equal(py, rec + 5, n - 5);

	/* And the client's way, with a large sequence number, live only. */
	c.tx.seq = 0x0102030405060708ULL;
	assert_int_equal(tls13_record_seal(&c, TLS_CT_APPLICATION_DATA, M(T.app), 100, M(rec), &n), 0);
	s.rx.seq = 0x0102030405060708ULL;
	assert_int_equal(tls13_record_read(&s, rec, n, M(out), &in), 1);
	assert_memory_equal(in.data, T.app, sizeof(T.app));
	assert_int_equal(tls13_keysched_traffic_keys(st, ks.c_ap, key, iv), 0);
	memset(inner + sizeof(T.app) + 1, 0, 100);
	nonce_for(iv, 0x0102030405060708ULL, nonce);
	if (python_seal(suite, key, st->key_len, nonce, rec, 5, inner, sizeof(T.app) + 101, py, n - 5))
		assert_memory_equal(py, rec + 5, n - 5);

	tls13_record_fini(&c);
	tls13_record_fini(&s);
	tls13_keysched_wipe(&ks);
}

static void chacha20_poly1305_records_round_trip_and_match_an_independent_computation(void **state)
{
	uint8_t key[32], iv[12];
	struct tls13_keysched ks;
	uint8_t sfin[52];
	size_t n;

	other_schedule(TLS_CHACHA20_POLY1305_SHA256, &ks, sfin, &n);
	assert_int_equal(tls13_keysched_traffic_keys(ks.suite, ks.s_hs, key, iv), 0);
	expect_hex(key, 32, CHACHA_S_HS_KEY);
	tls13_keysched_wipe(&ks);
	other_suite_records(TLS_CHACHA20_POLY1305_SHA256, CHACHA_FLIGHT_RECORD_SHA256, CHACHA_APP_RECORD);
}

static void aes_256_gcm_sha384_records_round_trip_and_match_an_independent_computation(void **state)
{
	other_suite_records(TLS_AES_256_GCM_SHA384, SHA384_FLIGHT_RECORD_SHA256, SHA384_APP_RECORD);
}

static void aes_128_gcm_matches_python_too(void **state)
{
	UNHEX(key, RFC8448_C_AP_KEY);
	UNHEX(iv, RFC8448_C_AP_IV);
	UNHEX(rec, RFC8448_C_APP_RECORD);
	uint8_t nonce[12], inner[51], py[67];

	memcpy(inner, T.app, 50);
	inner[50] = TLS_CT_APPLICATION_DATA;
	nonce_for(iv, 0, nonce);
	if (python_seal(TLS_AES_128_GCM_SHA256, key, 16, nonce, rec, 5, inner, 51, py, 67))
		assert_memory_equal(py, rec + 5, 67);
}

static void every_flipped_bit_of_a_is_protectedrecord_is_refused(void **state)
{
	UNHEX(fin_rec, RFC8448_CLIENT_FINISHED_RECORD);
	struct tls13_record s;
	struct tls13_record_in in;
	struct tls13_keysched ks;
	uint8_t bad[sizeof(fin_rec)], out[TLS_MAX_INNER];

	trace_schedule(&ks);
	assert_int_equal(tls13_record_init(&s, TLS13_RECORD_SERVER), 0);
	assert_int_equal(tls13_record_set_secret(&s, false, TLS_AES_128_GCM_SHA256, ks.c_hs, TLS13_EPOCH_HANDSHAKE), 0);
	for (size_t bit = 0; bit < 8 * sizeof(fin_rec); bit++) {
		memcpy(bad, fin_rec, sizeof(bad));
		bad[bit / 8] ^= (uint8_t)(1u << (bit % 8));
		memset(out, 0xee, 64);
		int rc = tls13_record_read(&s, M(bad), M(out), &in);
		if (bit >= 24 && bit < 40)
			assert_true(rc <= 0); /* a changed length: an error, or a wait for more */
		else
			assert_true(rc < 0);
		assert_int_equal(s.rx.seq, 0);
		if (rc == ERR_AUTH && (bit < 24 || bit >= 40)) {
			assert_int_equal(s.alert, TLS_ALERT_BAD_RECORD_MAC);
			for (size_t i = 0; i < 37; i++)
				assert_int_equal(out[i], 0); /* the failed plaintext was wiped */
		}
	}
	/* The untouched record still opens: nothing moved on. */
	assert_int_equal(tls13_record_read(&s, M(fin_rec), M(out), &in), 1);
	tls13_record_fini(&s);
	tls13_keysched_wipe(&ks);
}

static void record_headers_with_a_bad_type_version_or_length_are_refused(void **state)
{
	static const struct {
		const char *hex;
		int rc;
	} t[] = {
		{ "1803030001", ERR_PARSE },  /* content type 24 */
		{ "0003030001", ERR_PARSE },  /* content type 0 */
		{ "1603020001", ERR_PARSE },  /* TLS 1.1 */
		{ "1603040001", ERR_PARSE },  /* 0x0304 is never a record version */
		{ "1603034001", ERR_TOOBIG }, /* 2^14 + 1 plaintext */
		{ "1703034101", ERR_TOOBIG }, /* 2^14 + 257 ciphertext */
	};
	uint8_t type;
	uint16_t v, l;

	for (size_t i = 0; i < ARRAY_SIZE(t); i++) {
		uint8_t h[5];
		support_unhex(t[i].hex, h, 5);
		if (tls13_record_header_parse(h, 5, &type, &v, &l) != t[i].rc)
			fail_msg("header %s not refused with %d", t[i].hex, t[i].rc);
	}
	assert_int_equal(tls13_record_header_parse((const uint8_t *)"\x17\x03\x03\x41\x00", 5, &type, &v, &l), 1);
	assert_int_equal(l, TLS_MAX_CIPHERTEXT);
	assert_int_equal(tls13_record_header_parse((const uint8_t *)"\x16\x03\x03\x40\x00", 5, &type, &v, &l), 1);
	assert_int_equal(tls13_record_header_parse((const uint8_t *)"\x16\x03\x03\x40", 4, &type, &v, &l), 0);
}

static void record_rules_depend_on_role_and_key_state(void **state)
{
	struct tls13_record c, s;
	struct tls13_record_in in;
	struct tls13_keysched ks;
	uint8_t out[TLS_MAX_INNER], rec[64];
	size_t n;

	trace_schedule(&ks);
	assert_int_equal(tls13_record_init(&c, TLS13_RECORD_CLIENT), 0);
	assert_int_equal(tls13_record_init(&s, TLS13_RECORD_SERVER), 0);
	/* A client never accepts 0x0301; a server does before any key. */
	memcpy(rec, "\x16\x03\x01\x00\x01\x02", 6);
	assert_int_equal(tls13_record_read(&c, rec, 6, M(out), &in), ERR_PARSE);
	assert_int_equal(c.alert, TLS_ALERT_DECODE_ERROR);
	assert_int_equal(tls13_record_read(&s, rec, 6, M(out), &in), 1);
	/* Protected records need a key; empty handshake records are refused. */
	assert_int_equal(tls13_record_read(&c, (const uint8_t *)"\x17\x03\x03\x00\x11" "0123456789abcdefg", 22,
	                                   M(out), &in), ERR_PROTO);
	assert_int_equal(tls13_record_read(&s, (const uint8_t *)"\x16\x03\x03\x00\x00", 5, M(out), &in), ERR_PROTO);
	/* Alerts are exactly two bytes. */
	assert_int_equal(tls13_record_read(&c, (const uint8_t *)"\x15\x03\x03\x00\x03\x02\x28\x00", 8, M(out), &in),
	                 ERR_PARSE);
	assert_int_equal(tls13_record_read(&c, (const uint8_t *)"\x15\x03\x03\x00\x02\x02\x28", 7, M(out), &in), 1);
	assert_int_equal(in.type, TLS_CT_ALERT);
	/* Once keyed: no plaintext handshake; application data only under
	 * application keys. */
	tls13_record_fini(&c);
	tls13_record_fini(&s);
	keyed_pair(&c, &s, TLS_AES_128_GCM_SHA256, ks.c_hs, ks.s_hs, TLS13_EPOCH_HANDSHAKE);
	assert_int_equal(tls13_record_read(&s, (const uint8_t *)"\x16\x03\x03\x00\x01\x02", 6, M(out), &in), ERR_PROTO);
	assert_int_equal(tls13_record_seal(&c, TLS_CT_APPLICATION_DATA, M(T.app), 0, M(rec), &n), -ENOSPC);
	uint8_t big[TLS_MAX_RECORD];
	assert_int_equal(tls13_record_seal(&c, TLS_CT_APPLICATION_DATA, M(T.app), 0, M(big), &n), 0);
	assert_int_equal(tls13_record_read(&s, big, n, M(out), &in), ERR_PROTO);
	assert_int_equal(s.alert, TLS_ALERT_UNEXPECTED_MESSAGE);
	/* Out buffer too small for the inner plaintext. */
	assert_int_equal(tls13_record_seal(&c, TLS_CT_HANDSHAKE, M(T.cfin), 0, M(big), &n), 0);
	assert_int_equal(tls13_record_read(&s, big, n, out, 10, &in), -ENOSPC);
	/* Seal refuses misuse. */
	assert_int_equal(tls13_record_seal(&c, TLS_CT_HANDSHAKE, T.cfin, 0, 0, M(big), &n), -EINVAL);
	assert_int_equal(tls13_record_seal(&c, TLS_CT_ALERT, T.cfin, 3, 0, M(big), &n), -EINVAL);
	assert_int_equal(tls13_record_seal(&c, TLS_CT_CHANGE_CIPHER_SPEC, T.cfin, 1, 0, M(big), &n), -EINVAL);
	assert_int_equal(tls13_record_seal(&c, TLS_CT_APPLICATION_DATA, big, TLS_MAX_PLAINTEXT, 1, M(big), &n),
	                 ERR_TOOBIG);
	tls13_record_fini(&c);
	tls13_record_fini(&s);
	struct tls13_record plain;
	assert_int_equal(tls13_record_init(&plain, TLS13_RECORD_CLIENT), 0);
	assert_int_equal(tls13_record_seal(&plain, TLS_CT_APPLICATION_DATA, M(T.app), 0, M(big), &n), ERR_BADSTATE);
	assert_int_equal(tls13_record_set_key(&plain, true, 0x1304, big, 16, big, TLS13_EPOCH_HANDSHAKE), -EINVAL);
	assert_int_equal(tls13_record_set_key(&plain, true, TLS_AES_128_GCM_SHA256, big, 32, big, TLS13_EPOCH_HANDSHAKE),
	                 -EINVAL);
	assert_int_equal(tls13_record_set_key(&plain, true, TLS_AES_128_GCM_SHA256, big, 16, big, TLS13_EPOCH_PLAINTEXT),
	                 -EINVAL);
	tls13_record_fini(&plain);
	tls13_record_fini(NULL);
	tls13_keysched_wipe(&ks);
}

static void one_ccs_is_dropped_during_the_handshake_and_others_are_refused(void **state)
{
	static const uint8_t ccs[] = { 0x14, 0x03, 0x03, 0x00, 0x01, 0x01 };
	struct tls13_record c, s;
	struct tls13_record_in in;
	struct tls13_keysched ks;
	uint8_t out[TLS_MAX_INNER];

	trace_schedule(&ks);
	assert_int_equal(tls13_record_init(&s, TLS13_RECORD_SERVER), 0);
	/* Not before the ClientHello. */
	assert_int_equal(tls13_record_read(&s, M(ccs), M(out), &in), ERR_PROTO);
	assert_int_equal(tls13_record_read(&s, (const uint8_t *)"\x16\x03\x01\x00\x01\x01", 6, M(out), &in), 1);
	/* Then once, unprotected, even under handshake keys. */
	assert_int_equal(tls13_record_set_secret(&s, false, TLS_AES_128_GCM_SHA256, ks.c_hs, TLS13_EPOCH_HANDSHAKE), 0);
	assert_int_equal(tls13_record_read(&s, M(ccs), M(out), &in), 1);
	assert_true(in.dropped);
	assert_int_equal(in.type, TLS_CT_CHANGE_CIPHER_SPEC);
	assert_int_equal(in.len, 0);
	assert_int_equal(in.used, 6);
	assert_int_equal(tls13_record_read(&s, M(ccs), M(out), &in), ERR_PROTO);
	/* A tolerance of more is the caller's choice (REALITY mirrors dest's, §3.6). */
	s.ccs_max = 3;
	assert_int_equal(tls13_record_read(&s, M(ccs), M(out), &in), 1);
	/* Never with another byte or length, never as 0x0301. */
	assert_int_equal(tls13_record_read(&s, (const uint8_t *)"\x14\x03\x03\x00\x01\x02", 6, M(out), &in), ERR_PROTO);
	assert_int_equal(tls13_record_read(&s, (const uint8_t *)"\x14\x03\x03\x00\x02\x01\x01", 7, M(out), &in),
	                 ERR_PROTO);
	assert_int_equal(tls13_record_read(&s, (const uint8_t *)"\x14\x03\x01\x00\x01\x01", 6, M(out), &in), ERR_PARSE);
	/* Not after the peer's Finished. */
	assert_int_equal(tls13_record_set_secret(&s, false, TLS_AES_128_GCM_SHA256, ks.c_ap, TLS13_EPOCH_APPLICATION),
	                 0);
	assert_int_equal(tls13_record_read(&s, M(ccs), M(out), &in), ERR_PROTO);
	tls13_record_fini(&s);

	/* A client may see the server's CCS right after the ServerHello. */
	assert_int_equal(tls13_record_init(&c, TLS13_RECORD_CLIENT), 0);
	assert_int_equal(tls13_record_read(&c, M(ccs), M(out), &in), 1);
	assert_true(in.dropped);
	tls13_record_fini(&c);
	tls13_keysched_wipe(&ks);
}

static void partial_records_ask_for_exactly_the_missing_bytes(void **state)
{
	UNHEX(flight, RFC8448_SERVER_FLIGHT_RECORD);
	struct tls13_record c;
	struct tls13_record_in in;
	struct tls13_keysched ks;
	uint8_t out[TLS_MAX_INNER];

	trace_schedule(&ks);
	assert_int_equal(tls13_record_init(&c, TLS13_RECORD_CLIENT), 0);
	assert_int_equal(tls13_record_set_secret(&c, false, TLS_AES_128_GCM_SHA256, ks.s_hs, TLS13_EPOCH_HANDSHAKE), 0);
	for (size_t n = 0; n < sizeof(flight); n++) {
		assert_int_equal(tls13_record_read(&c, flight, n, M(out), &in), 0);
		assert_int_equal(in.need, n < 5 ? 5 : sizeof(flight));
	}
	assert_int_equal(c.rx.seq, 0);
	assert_int_equal(tls13_record_read(&c, M(flight), M(out), &in), 1);
	tls13_record_fini(&c);
	tls13_keysched_wipe(&ks);
}

/* Seals raw inner bytes with EVP directly, bypassing our checks. */
static size_t seal_raw(const uint8_t key[16], const uint8_t iv[12], uint64_t seq, const uint8_t *inner, size_t n,
                       uint8_t *out)
{
	EVP_CIPHER_CTX *x = EVP_CIPHER_CTX_new();
	uint8_t nonce[12];
	int l;

	nonce_for(iv, seq, nonce);
	out[0] = 0x17;
	out[1] = 3;
	out[2] = 3;
	out[3] = (uint8_t)((n + 16) >> 8);
	out[4] = (uint8_t)(n + 16);
	assert_int_equal(EVP_EncryptInit_ex(x, EVP_aes_128_gcm(), NULL, key, nonce), 1);
	assert_int_equal(EVP_EncryptUpdate(x, NULL, &l, out, 5), 1);
	assert_int_equal(EVP_EncryptUpdate(x, out + 5, &l, inner, (int)n), 1);
	assert_int_equal(EVP_EncryptFinal_ex(x, out + 5 + n, &l), 1);
	assert_int_equal(EVP_CIPHER_CTX_ctrl(x, EVP_CTRL_AEAD_GET_TAG, 16, out + 5 + n), 1);
	EVP_CIPHER_CTX_free(x);
	return 5 + n + 16;
}

static void inner_plaintext_padding_type_and_size_are_enforced(void **state)
{
	UNHEX(key, RFC8448_S_AP_KEY);
	UNHEX(iv, RFC8448_S_AP_IV);
	struct tls13_record c;
	struct tls13_record_in in;
	static uint8_t inner[TLS_MAX_INNER + 1], rec[TLS_MAX_RECORD + 64], out[TLS_MAX_INNER + 1];
	size_t n;

	assert_int_equal(tls13_record_init(&c, TLS13_RECORD_CLIENT), 0);
	assert_int_equal(tls13_record_set_key(&c, false, TLS_AES_128_GCM_SHA256, key, 16, iv, TLS13_EPOCH_APPLICATION),
	                 0);
	/* Content, type, 300 zeros: the zeros go. */
	memset(inner, 0, sizeof(inner));
	memcpy(inner, "hello", 5);
	inner[5] = TLS_CT_APPLICATION_DATA;
	n = seal_raw(key, iv, 0, inner, 306, rec);
	assert_int_equal(tls13_record_read(&c, rec, n, M(out), &in), 1);
	assert_int_equal(in.len, 5);
	assert_memory_equal(in.data, "hello", 5);
	/* All zeros: no content type at all. */
	memset(inner, 0, 40);
	n = seal_raw(key, iv, 1, inner, 40, rec);
	assert_int_equal(tls13_record_read(&c, rec, n, M(out), &in), ERR_PROTO);
	assert_int_equal(c.alert, TLS_ALERT_UNEXPECTED_MESSAGE);
	/* A protected CCS, an unknown type, a 3-byte alert, an empty handshake. */
	static const struct {
		uint8_t bytes[4];
		size_t len;
		int rc;
	} t[] = {
		{ { 1, TLS_CT_CHANGE_CIPHER_SPEC }, 2, ERR_PROTO },
		{ { 1, 99 }, 2, ERR_PROTO },
		{ { 1, 0, 0, TLS_CT_ALERT }, 4, ERR_PARSE },
		{ { TLS_CT_HANDSHAKE }, 1, ERR_PROTO },
	};
	for (size_t i = 0; i < ARRAY_SIZE(t); i++) {
		n = seal_raw(key, iv, 1, t[i].bytes, t[i].len, rec);
		assert_int_equal(tls13_record_read(&c, rec, n, M(out), &in), t[i].rc);
		assert_int_equal(c.rx.seq, 1);
	}
	/* The largest inner plaintext (2^14 + 1) opens; one byte more is
	 * record_overflow before any decryption. */
	memset(inner, 'x', TLS_MAX_PLAINTEXT);
	inner[TLS_MAX_PLAINTEXT] = TLS_CT_APPLICATION_DATA;
	n = seal_raw(key, iv, 1, inner, TLS_MAX_INNER, rec);
	assert_int_equal(tls13_record_read(&c, rec, n, M(out), &in), 1);
	assert_int_equal(in.len, TLS_MAX_PLAINTEXT);
	inner[TLS_MAX_PLAINTEXT] = 'x';
	inner[TLS_MAX_INNER] = TLS_CT_APPLICATION_DATA;
	n = seal_raw(key, iv, 2, inner, TLS_MAX_INNER + 1, rec);
	assert_int_equal(tls13_record_read(&c, rec, n, M(out), &in), ERR_TOOBIG);
	assert_int_equal(c.alert, TLS_ALERT_RECORD_OVERFLOW);
	/* Too short to hold a tag and a type. */
	assert_int_equal(tls13_record_read(&c, (const uint8_t *)"\x17\x03\x03\x00\x10" "0123456789abcdef", 21, M(out),
	                                   &in), ERR_PARSE);
	tls13_record_fini(&c);
}

static void empty_application_records_are_dropped_up_to_a_limit(void **state)
{
	struct tls13_record c, s;
	struct tls13_record_in in;
	struct tls13_keysched ks;
	uint8_t rec[TLS_MAX_RECORD], out[TLS_MAX_INNER];
	size_t n;

	trace_schedule(&ks);
	keyed_pair(&c, &s, TLS_AES_128_GCM_SHA256, ks.c_ap, ks.s_ap, TLS13_EPOCH_APPLICATION);
	c.empty_max = 4;
	for (int round = 0; round < 2; round++) {
		for (int i = 0; i < 4; i++) {
			/* REALITY's imitation of dest's tickets: 17 00 00 ..., sized. */
			assert_int_equal(tls13_record_seal_to_size(&s, TLS_CT_APPLICATION_DATA, NULL, 0, 100 + i, M(rec), &n), 0);
			assert_int_equal(n, 100 + i);
			assert_int_equal(tls13_record_read(&c, rec, n, M(out), &in), 1);
			assert_true(in.dropped);
			assert_int_equal(in.len, 0);
			assert_int_equal(in.type, TLS_CT_APPLICATION_DATA);
		}
		if (round == 0) { /* a record with content resets the run */
			assert_int_equal(tls13_record_seal(&s, TLS_CT_APPLICATION_DATA, M(T.app), 0, M(rec), &n), 0);
			assert_int_equal(tls13_record_read(&c, rec, n, M(out), &in), 1);
			assert_false(in.dropped);
		}
	}
	assert_int_equal(tls13_record_seal(&s, TLS_CT_APPLICATION_DATA, NULL, 0, 0, M(rec), &n), 0);
	assert_int_equal(tls13_record_read(&c, rec, n, M(out), &in), ERR_PROTO);
	tls13_record_fini(&c);
	tls13_record_fini(&s);
	tls13_keysched_wipe(&ks);
}

static void seal_to_size_pads_to_the_exact_length_or_refuses(void **state)
{
	struct tls13_record c, s;
	struct tls13_record_in in;
	struct tls13_keysched ks;
	static uint8_t rec[TLS_MAX_RECORD], out[TLS_MAX_INNER];
	size_t n;

	trace_schedule(&ks);
	keyed_pair(&c, &s, TLS_AES_128_GCM_SHA256, ks.c_hs, ks.s_hs, TLS13_EPOCH_HANDSHAKE);
	/* Exactly fitting, generously padded, and the largest record. */
	const size_t sizes[] = { TLS_RECORD_OVERHEAD + sizeof(T.flight), 8192, TLS_RECORD_HEADER_LEN + TLS_MAX_INNER + 16 };
	for (size_t i = 0; i < ARRAY_SIZE(sizes); i++) {
		assert_int_equal(tls13_record_seal_to_size(&s, TLS_CT_HANDSHAKE, M(T.flight), sizes[i], M(rec), &n), 0);
		assert_int_equal(n, sizes[i]);
		assert_int_equal(tls13_record_read(&c, rec, n, M(out), &in), 1);
		assert_int_equal(in.len, sizeof(T.flight));
		assert_memory_equal(in.data, T.flight, sizeof(T.flight));
	}
	assert_int_equal(tls13_record_seal_to_size(&s, TLS_CT_HANDSHAKE, M(T.flight), TLS_RECORD_OVERHEAD +
	                                           sizeof(T.flight) - 1, M(rec), &n), ERR_RANGE);
	assert_int_equal(tls13_record_seal_to_size(&s, TLS_CT_HANDSHAKE, M(T.flight), TLS_MAX_RECORD, M(rec), &n),
	                 ERR_RANGE);
	assert_int_equal(tls13_record_seal_to_size(&s, TLS_CT_HANDSHAKE, M(T.flight), 10, M(rec), &n), ERR_RANGE);
	assert_int_equal(n, 0);
	tls13_record_fini(&c);
	tls13_record_fini(&s);
	tls13_keysched_wipe(&ks);
}

static void sequence_numbers_never_wrap_and_ask_for_a_key_update(void **state)
{
	struct tls13_record c, s;
	struct tls13_record_in in;
	struct tls13_keysched ks;
	uint8_t rec[TLS_MAX_RECORD], out[TLS_MAX_INNER];
	size_t n;

	trace_schedule(&ks);
	keyed_pair(&c, &s, TLS_AES_128_GCM_SHA256, ks.c_ap, ks.s_ap, TLS13_EPOCH_APPLICATION);
	assert_false(tls13_record_tx_should_update(&c));
	c.tx.seq = TLS_REKEY_AFTER_RECORDS;
	assert_true(tls13_record_tx_should_update(&c));
	c.tx.seq = UINT64_MAX - 1;
	s.rx.seq = UINT64_MAX - 1;
	assert_int_equal(tls13_record_seal(&c, TLS_CT_APPLICATION_DATA, M(T.app), 0, M(rec), &n), 0);
	assert_int_equal(tls13_record_read(&s, rec, n, M(out), &in), 1);
	size_t last = n;
	assert_int_equal(tls13_record_seal(&c, TLS_CT_APPLICATION_DATA, M(T.app), 0, M(rec), &n), ERR_RANGE);
	assert_int_equal(tls13_record_read(&s, rec, last, M(out), &in), ERR_RANGE);
	/* A new key restarts at zero. */
	assert_int_equal(tls13_keysched_update(TLS13_SHA256, ks.c_ap), 0);
	assert_int_equal(tls13_record_set_secret(&c, true, TLS_AES_128_GCM_SHA256, ks.c_ap, TLS13_EPOCH_APPLICATION), 0);
	assert_int_equal(tls13_record_set_secret(&s, false, TLS_AES_128_GCM_SHA256, ks.c_ap, TLS13_EPOCH_APPLICATION), 0);
	assert_int_equal(c.tx.seq, 0);
	assert_int_equal(tls13_record_seal(&c, TLS_CT_APPLICATION_DATA, M(T.app), 0, M(rec), &n), 0);
	assert_int_equal(tls13_record_read(&s, rec, n, M(out), &in), 1);
	assert_memory_equal(in.data, T.app, sizeof(T.app));
	tls13_record_fini(&c);
	tls13_record_fini(&s);
	tls13_keysched_wipe(&ks);
}

static void the_reassembler_joins_split_messages_and_splits_coalesced_ones(void **state)
{
	struct tls13_record_reasm h;
	struct tls13_record_hs_msg m;
	const uint8_t *msgs[] = { T.ee, T.cert, T.cv, T.sfin };
	const size_t lens[] = { sizeof(T.ee), sizeof(T.cert), sizeof(T.cv), sizeof(T.sfin) };

	/* The flight cut into every fragment size from 1 to 700 bytes. */
	for (size_t frag = 1; frag <= 700; frag += (frag < 10 ? 1 : 37)) {
		size_t got = 0;
		tls13_record_reasm_init(&h, 0);
		for (size_t off = 0; off < sizeof(T.flight); off += frag) {
			size_t k = sizeof(T.flight) - off < frag ? sizeof(T.flight) - off : frag;
			assert_int_equal(tls13_record_reasm_add(&h, T.flight + off, k), 0);
			int rc;
			while ((rc = tls13_record_reasm_next(&h, &m)) == 1) {
				assert_true(got < 4);
				assert_int_equal(m.msg_len, lens[got]);
				assert_memory_equal(m.msg, msgs[got], m.msg_len);
				got++;
			}
			assert_int_equal(rc, 0);
			/* Drained: empty exactly when the input so far ends on a message boundary. */
			size_t end = 0;
			bool boundary = false;
			for (size_t i = 0; i < 4; i++) {
				end += lens[i];
				boundary |= end == off + k;
			}
			assert_int_equal(tls13_record_reasm_empty(&h), boundary);
		}
		assert_int_equal(got, 4);
		assert_true(tls13_record_reasm_empty(&h));
		tls13_record_reasm_fini(&h);
	}

	/* Mid-message, it is not empty (a key change now would be an error). */
	tls13_record_reasm_init(&h, 0);
	assert_int_equal(tls13_record_reasm_add(&h, T.cert, 100), 0);
	assert_int_equal(tls13_record_reasm_next(&h, &m), 0);
	assert_false(tls13_record_reasm_empty(&h));
	assert_int_equal(tls13_record_reasm_add(&h, T.cert, 0), ERR_PARSE);
	tls13_record_reasm_fini(&h);

	/* A message announcing more than the bound is refused from its header. */
	tls13_record_reasm_init(&h, 400);
	assert_int_equal(tls13_record_reasm_add(&h, T.cert, 4), 0);
	assert_int_equal(tls13_record_reasm_next(&h, &m), ERR_TOOBIG);
	tls13_record_reasm_fini(&h);
	tls13_record_reasm_init(&h, 0);
	assert_int_equal(tls13_record_reasm_add(&h, (const uint8_t *)"\x0b\x01\x00\x01", 4), 0);
	assert_int_equal(tls13_record_reasm_next(&h, &m), ERR_TOOBIG);
	tls13_record_reasm_fini(&h);

	/* The buffer is bounded: a partial message plus one record. */
	static uint8_t junk[TLS_MAX_INNER];
	memset(junk, 0, sizeof(junk));
	junk[0] = TLS_HS_CERTIFICATE;
	junk[1] = 0x00;
	junk[2] = 0xff;
	junk[3] = 0xff;
	tls13_record_reasm_init(&h, 0);
	size_t added = 0;
	int rc = 0;
	while (rc == 0 && added < 200000) {
		rc = tls13_record_reasm_add(&h, junk, TLS_MAX_PLAINTEXT);
		added += TLS_MAX_PLAINTEXT;
	}
	assert_int_equal(rc, ERR_TOOBIG);
	assert_true(added <= TLS_HS_REASM_MAX + 4 + 2 * TLS_MAX_INNER);
	tls13_record_reasm_fini(&h);
	tls13_record_reasm_fini(NULL);
}

static int reasm_round(void *ctx)
{
	struct tls13_record_reasm h;
	struct tls13_record_hs_msg m;
	int rc, got = 0;

	(void)ctx;
	tls13_record_reasm_init(&h, 0);
	/* Two adds, so that the buffer grows once more mid-message. */
	rc = tls13_record_reasm_add(&h, T.flight, 30);
	if (rc == 0)
		rc = tls13_record_reasm_add(&h, T.flight + 30, sizeof(T.flight) - 30);
	if (rc == 0)
		while ((rc = tls13_record_reasm_next(&h, &m)) == 1)
			got++;
	if (rc == 0 && got != 4)
		rc = -EIO;
	tls13_record_reasm_fini(&h);
	return rc;
}

static void the_reassembler_survives_every_allocation_failure(void **state)
{
	long n = support_alloc_failure_loop(reasm_round, NULL);
	assert_true(n >= 1);
}

/* ---- handshake messages ---- */

/* Every pointer and range an accessor hands out lies inside the message. */
static void assert_inside(const struct tls13_msg_ch *ch, const uint8_t *p, size_t len)
{
	assert_true(p >= ch->msg && len <= ch->len && (size_t)(p - ch->msg) <= ch->len - len);
}

/* Calls every ClientHello accessor; whatever they return must be in bounds. */
static void exercise_client_hello(const struct tls13_msg_ch *ch)
{
	struct tls13_msg_iter it;
	struct tls13_msg_key_share ks;
	const uint8_t *p;
	size_t n;

	assert_inside(ch, tls13_msg_ch_random(ch), TLS_RANDOM_LEN);
	tls13_msg_ch_session_id(ch, &p, &n);
	assert_inside(ch, p, n);
	assert_true(n <= 32);
	tls13_msg_ch_suites(ch, &p, &n);
	assert_inside(ch, p, 2 * n);
	for (size_t i = 0; i < ch->ext_count; i++) {
		assert_int_equal(tls13_msg_ch_ext(ch, ch->ext[i].type, &p, &n), 0);
		assert_inside(ch, p, n);
	}
	if (tls13_msg_ch_server_name(ch, &p, &n) == 0)
		assert_inside(ch, p, n);
	if (tls13_msg_ch_supported_versions(ch, &p, &n) == 0)
		assert_inside(ch, p, 2 * n);
	if (tls13_msg_ch_supported_groups(ch, &p, &n) == 0)
		assert_inside(ch, p, 2 * n);
	if (tls13_msg_ch_sig_algs(ch, &p, &n) == 0)
		assert_inside(ch, p, 2 * n);
	if (tls13_msg_ch_psk_modes(ch, &p, &n) == 0)
		assert_inside(ch, p, n);
	if (tls13_msg_ch_key_shares(ch, &it) == 0)
		while (tls13_msg_key_share_next(&it, &ks))
			assert_inside(ch, ks.key, ks.len);
	if (tls13_msg_ch_alpn(ch, &it) == 0)
		while (tls13_msg_alpn_next(&it, &p, &n))
			assert_inside(ch, p, n);
	(void)tls13_msg_ch_offers_tls13(ch);
	(void)tls13_msg_ch_has_psk(ch);
	(void)tls13_msg_ch_compression_null(ch);
}

static void rfc8448_client_hello_parses_with_every_accessor(void **state)
{
	struct tls13_msg_ch ch;
	struct tls13_msg_iter it;
	struct tls13_msg_key_share ks;
	const uint8_t *p;
	size_t n;
	static const uint16_t ext_order[] = { TLS_EXT_SERVER_NAME, TLS_EXT_RENEGOTIATION_INFO, TLS_EXT_SUPPORTED_GROUPS,
		                              TLS_EXT_SESSION_TICKET, TLS_EXT_KEY_SHARE, TLS_EXT_SUPPORTED_VERSIONS,
		                              TLS_EXT_SIGNATURE_ALGORITHMS, TLS_EXT_PSK_KEY_EXCHANGE_MODES,
		                              TLS_EXT_RECORD_SIZE_LIMIT };

	assert_int_equal(tls13_msg_ch_parse(&ch, M(T.ch)), 0);
	assert_int_equal(ch.legacy_version, TLS_VERSION_12);
	assert_memory_equal(tls13_msg_ch_random(&ch), T.ch + 6, 32);
	tls13_msg_ch_session_id(&ch, &p, &n);
	assert_int_equal(n, 0);
	tls13_msg_ch_suites(&ch, &p, &n);
	assert_int_equal(n, 3);
	assert_int_equal(tls_get_u16(p), TLS_AES_128_GCM_SHA256);
	assert_int_equal(tls_get_u16(p + 2), TLS_CHACHA20_POLY1305_SHA256);
	assert_int_equal(tls_get_u16(p + 4), TLS_AES_256_GCM_SHA384);
	assert_true(tls13_msg_ch_offers_suite(&ch, TLS_AES_256_GCM_SHA384));
	assert_false(tls13_msg_ch_offers_suite(&ch, 0x1304));
	assert_true(tls13_msg_ch_compression_null(&ch));
	assert_int_equal(ch.ext_count, ARRAY_SIZE(ext_order));
	for (size_t i = 0; i < ARRAY_SIZE(ext_order); i++)
		assert_int_equal(ch.ext[i].type, ext_order[i]);

	assert_int_equal(tls13_msg_ch_server_name(&ch, &p, &n), 0);
	assert_int_equal(n, 6);
	assert_memory_equal(p, "server", 6);
	assert_true(tls13_msg_ch_offers_tls13(&ch));
	assert_int_equal(tls13_msg_ch_supported_versions(&ch, &p, &n), 0);
	assert_int_equal(n, 1);
	assert_int_equal(tls13_msg_ch_supported_groups(&ch, &p, &n), 0);
	assert_int_equal(n, 9); /* x25519, P-256, P-384, P-521, ffdhe2048..8192 */
	assert_true(tls13_msg_ch_offers_group(&ch, TLS_GROUP_X25519));
	assert_false(tls13_msg_ch_offers_group(&ch, TLS_GROUP_X25519MLKEM768));
	assert_int_equal(tls13_msg_ch_sig_algs(&ch, &p, &n), 0);
	assert_int_equal(n, 15);
	assert_int_equal(tls_get_u16(p), TLS_SIG_ECDSA_SECP256R1_SHA256);
	assert_int_equal(tls13_msg_ch_psk_modes(&ch, &p, &n), 0);
	assert_int_equal(n, 1);
	assert_int_equal(p[0], TLS_PSK_DHE_KE);
	assert_false(tls13_msg_ch_has_psk(&ch));
	assert_int_equal(tls13_msg_ch_key_shares(&ch, &it), 0);
	assert_true(tls13_msg_key_share_next(&it, &ks));
	assert_int_equal(ks.group, TLS_GROUP_X25519);
	assert_int_equal(ks.len, 32);
	assert_memory_equal(ks.key, T.client_pub, 32);
	assert_false(tls13_msg_key_share_next(&it, &ks));
	assert_int_equal(tls13_msg_ch_key_share_find(&ch, TLS_GROUP_X25519, &ks), 0);
	assert_int_equal(tls13_msg_ch_key_share_find(&ch, TLS_GROUP_X25519MLKEM768, &ks), ERR_NOTFOUND);
	assert_int_equal(tls13_msg_ch_alpn(&ch, &it), ERR_NOTFOUND);
	exercise_client_hello(&ch);
}

static void rfc8448_messages_are_rebuilt_byte_for_byte(void **state)
{
	struct tls13_msg_ch ch;
	struct tls13_msg_cv cv;
	struct tls13_msg_cert c;
	struct tls13_msg_ee ee;
	struct tls13_msg_ext_in ext[TLS13_MSG_CH_MAX_EXT];
	struct tls13_msg_cert_in ci;
	uint16_t suites[3];
	const uint8_t *p;
	uint8_t out[1024];
	size_t n, count;

	/* ClientHello from its parsed parts. */
	assert_int_equal(tls13_msg_ch_parse(&ch, M(T.ch)), 0);
	tls13_msg_ch_suites(&ch, &p, &count);
	for (size_t i = 0; i < count; i++)
		suites[i] = tls_get_u16(p + 2 * i);
	for (size_t i = 0; i < ch.ext_count; i++) {
		ext[i].type = ch.ext[i].type;
		ext[i].data = ch.msg + ch.ext[i].off;
		ext[i].len = ch.ext[i].len;
	}
	struct tls13_msg_ch_spec spec = { tls13_msg_ch_random(&ch), NULL, 0, suites, count, ext, ch.ext_count };
	assert_int_equal(tls13_msg_ch_build(&spec, M(out), &n), 0);
	assert_int_equal(n, sizeof(T.ch));
	assert_memory_equal(out, T.ch, n);

	/* ServerHello from random, suite and share. */
	struct tls13_msg_sh_spec sspec = { false, T.sh + 6, NULL, 0, TLS_AES_128_GCM_SHA256, TLS_GROUP_X25519,
		                           T.server_pub, 32 };
	assert_int_equal(tls13_msg_sh_build(&sspec, M(out), &n), 0);
	assert_int_equal(n, sizeof(T.sh));
	assert_memory_equal(out, T.sh, n);

	/* EncryptedExtensions from its extensions. */
	assert_int_equal(tls13_msg_ee_parse(&ee, M(T.ee)), 0);
	assert_int_equal(ee.ext_count, 3);
	assert_int_equal(ee.ext[0].type, TLS_EXT_SUPPORTED_GROUPS);
	assert_int_equal(ee.ext[1].type, TLS_EXT_RECORD_SIZE_LIMIT);
	assert_int_equal(ee.ext[2].type, TLS_EXT_SERVER_NAME);
	assert_int_equal(ee.ext[2].len, 0);
	assert_int_equal(tls13_msg_ee_alpn(&ee, &p, &n), ERR_NOTFOUND);
	for (size_t i = 0; i < ee.ext_count; i++) {
		ext[i].type = ee.ext[i].type;
		ext[i].data = ee.msg + ee.ext[i].off;
		ext[i].len = ee.ext[i].len;
	}
	assert_int_equal(tls13_msg_ee_build(ext, ee.ext_count, M(out), &n), 0);
	assert_int_equal(n, sizeof(T.ee));
	assert_memory_equal(out, T.ee, n);

	/* Certificate: empty context, one entry, no entry extensions. */
	assert_int_equal(tls13_msg_cert_parse(&c, M(T.cert)), 0);
	assert_int_equal(c.ctx_len, 0);
	assert_int_equal(c.count, 1);
	assert_int_equal(c.entry[0].ext_len, 0);
	assert_int_equal(tls13_msg_cert_get(&c, 0, &p, &n), 0);
	assert_int_equal(n, 432);
	assert_int_equal(p[0], 0x30); /* a DER SEQUENCE */
	assert_int_equal(tls13_msg_cert_get(&c, 1, &p, &n), ERR_NOTFOUND);
	assert_int_equal(tls13_msg_cert_get(&c, 0, &ci.der, &ci.len), 0);
	ci.ext = NULL;
	ci.ext_len = 0;
	assert_int_equal(tls13_msg_cert_build(NULL, 0, &ci, 1, M(out), &n), 0);
	assert_int_equal(n, sizeof(T.cert));
	assert_memory_equal(out, T.cert, n);

	/* CertificateVerify: rsa_pss_rsae_sha256 and a 128-byte signature. */
	assert_int_equal(tls13_msg_cv_parse(&cv, M(T.cv)), 0);
	assert_int_equal(cv.scheme, TLS_SIG_RSA_PSS_RSAE_SHA256);
	assert_int_equal(cv.sig_len, 128);
	assert_int_equal(tls13_msg_cv_build(cv.scheme, T.cv + cv.sig_off, cv.sig_len, M(out), &n), 0);
	assert_int_equal(n, sizeof(T.cv));
	assert_memory_equal(out, T.cv, n);

	/* The ticket, the Finished messages, a KeyUpdate. */
	assert_int_equal(tls13_msg_nst_check(M(T.nst)), 0);
	assert_int_equal(tls13_msg_fin_parse(M(T.sfin), 32, &p), 0);
	assert_ptr_equal(p, T.sfin + 4);
	assert_int_equal(tls13_msg_fin_parse(M(T.sfin), 48, &p), ERR_PARSE);
	bool req;
	assert_int_equal(tls13_msg_key_update_build(true, M(out), &n), 0);
	assert_int_equal(n, 5);
	assert_memory_equal(out, "\x18\x00\x00\x01\x01", 5);
	assert_int_equal(tls13_msg_key_update_parse(out, n, &req), 0);
	assert_true(req);
	out[4] = 2;
	assert_int_equal(tls13_msg_key_update_parse(out, n, &req), ERR_PARSE);
}

static void rfc8448_certificate_verify_signs_our_signed_content(void **state)
{
	struct tls13_msg_cert c;
	struct tls13_msg_cv cv;
	uint8_t h[32], content[TLS_CV_CONTENT_MAX];
	const uint8_t *der;
	size_t n, dlen;

	/* The trace's RSA-PSS signature verifies over the content we build
	 * from Hash(CH .. Certificate): proof of the exact layout. */
	thash(TLS13_SHA256, h, 4, M(T.ch), M(T.sh), M(T.ee), M(T.cert));
	assert_int_equal(tls13_msg_cv_content(true, h, 32, M(content), &n), 0);
	assert_int_equal(n, 64 + 33 + 1 + 32);
	for (size_t i = 0; i < 64; i++)
		assert_int_equal(content[i], 0x20);
	assert_memory_equal(content + 64, "TLS 1.3, server CertificateVerify\0", 34);
	assert_memory_equal(content + 98, h, 32);

	assert_int_equal(tls13_msg_cert_parse(&c, M(T.cert)), 0);
	assert_int_equal(tls13_msg_cert_get(&c, 0, &der, &dlen), 0);
	assert_int_equal(tls13_msg_cv_parse(&cv, M(T.cv)), 0);
	X509 *x = d2i_X509(NULL, &der, (long)dlen);
	assert_non_null(x);
	EVP_MD_CTX *m = EVP_MD_CTX_new();
	EVP_PKEY_CTX *pctx = NULL;
	assert_int_equal(EVP_DigestVerifyInit(m, &pctx, EVP_sha256(), NULL, X509_get0_pubkey(x)), 1);
	assert_int_equal(EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PSS_PADDING), 1);
	assert_int_equal(EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx, RSA_PSS_SALTLEN_DIGEST), 1);
	assert_int_equal(EVP_DigestVerify(m, T.cv + cv.sig_off, cv.sig_len, content, n), 1);
	/* The client context string signs something else. */
	assert_int_equal(tls13_msg_cv_content(false, h, 32, M(content), &n), 0);
	assert_memory_equal(content + 64, "TLS 1.3, client CertificateVerify\0", 34);
	assert_int_equal(EVP_DigestVerifyInit(m, &pctx, EVP_sha256(), NULL, X509_get0_pubkey(x)), 1);
	assert_int_equal(EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PSS_PADDING), 1);
	assert_int_equal(EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx, RSA_PSS_SALTLEN_DIGEST), 1);
	assert_int_not_equal(EVP_DigestVerify(m, T.cv + cv.sig_off, cv.sig_len, content, n), 1);
	EVP_MD_CTX_free(m);
	X509_free(x);

	uint8_t h48[48] = { 0 };
	assert_int_equal(tls13_msg_cv_content(true, h48, 48, M(content), &n), 0);
	assert_int_equal(n, TLS_CV_CONTENT_MAX);
	assert_int_equal(tls13_msg_cv_content(true, h, 20, M(content), &n), -EINVAL);
	assert_int_equal(tls13_msg_cv_content(true, h, 32, content, 100, &n), -ENOSPC);
}

static void rfc8448_server_hello_parses_and_passes_the_client_checks(void **state)
{
	struct tls13_msg_ch ch;
	struct tls13_msg_sh sh;
	uint8_t copy[sizeof(T.sh)], key[32];

	assert_int_equal(tls13_msg_ch_parse(&ch, M(T.ch)), 0);
	assert_int_equal(tls13_msg_sh_parse(&sh, M(T.sh)), 0);
	assert_false(sh.is_hrr);
	assert_int_equal(sh.legacy_version, TLS_VERSION_12);
	assert_int_equal(sh.version, TLS_VERSION_13);
	assert_int_equal(sh.suite, TLS_AES_128_GCM_SHA256);
	assert_int_equal(sh.group, TLS_GROUP_X25519);
	assert_int_equal(sh.key_len, 32);
	assert_memory_equal(T.sh + sh.key_off, T.server_pub, 32);
	assert_memory_equal(tls13_msg_sh_random(&sh), T.sh + 6, 32);
	assert_int_equal(sh.ext_count, 2);
	assert_int_equal(tls13_msg_sh_check(&sh, &ch), 0);

	/* REALITY's splice: same message, our share in place of dest's. */
	memcpy(copy, T.sh, sizeof(copy));
	assert_int_equal(tls13_msg_sh_parse(&sh, M(copy)), 0);
	memset(key, 0x42, sizeof(key));
	assert_int_equal(tls13_msg_sh_replace_key(&sh, copy, key, 32), 0);
	assert_memory_equal(copy + sh.key_off, key, 32);
	assert_memory_equal(copy, T.sh, sh.key_off);
	assert_memory_equal(copy + sh.key_off + 32, T.sh + sh.key_off + 32, sizeof(copy) - sh.key_off - 32);
	assert_int_equal(tls13_msg_sh_replace_key(&sh, copy, key, 31), -EINVAL);
}

/* Rebuilds the trace ServerHello with one change and runs the checks. */
static int check_variant(const struct tls13_msg_ch *ch, const struct tls13_msg_sh_spec *spec, int extra_ext)
{
	struct tls13_msg_sh sh;
	uint8_t out[512];
	size_t n;

	assert_int_equal(tls13_msg_sh_build(spec, M(out), &n), 0);
	if (extra_ext) {
		/* Append an extension the client never offered (ALPN). */
		uint8_t tail[] = { 0x00, 0x10, 0x00, 0x00 };
		memcpy(out + n, tail, 4);
		n += 4;
		tls_put_u24(out + 1, (uint32_t)(n - 4));
		tls_put_u16(out + 4 + 2 + 32 + 1 + spec->sid_len + 3, (uint16_t)(tls_get_u16(out + 4 + 2 + 32 + 1 +
		                                                                             spec->sid_len + 3) + 4));
	}
	assert_int_equal(tls13_msg_sh_parse(&sh, out, n), 0);
	return tls13_msg_sh_check(&sh, ch);
}

static void server_hello_checks_catch_each_mismatch(void **state)
{
	struct tls13_msg_ch ch;
	struct tls13_msg_sh sh;
	uint8_t sid[32], out[512];
	size_t n;
	struct tls13_msg_sh_spec ok = { false, T.sh + 6, NULL, 0, TLS_AES_128_GCM_SHA256, TLS_GROUP_X25519,
		                        T.server_pub, 32 };
	struct tls13_msg_sh_spec v;

	assert_int_equal(tls13_msg_ch_parse(&ch, M(T.ch)), 0);
	assert_int_equal(check_variant(&ch, &ok, 0), 0);
	v = ok;
	v.suite = 0x1304; /* not a suite we implement */
	assert_int_equal(check_variant(&ch, &v, 0), ERR_PROTO);
	v = ok;
	v.suite = 0xc02f; /* TLS 1.2 suite */
	assert_int_equal(check_variant(&ch, &v, 0), ERR_PROTO);
	v = ok;
	memset(sid, 7, sizeof(sid));
	v.sid = sid; /* the client sent an empty session id */
	v.sid_len = 32;
	assert_int_equal(check_variant(&ch, &v, 0), ERR_PROTO);
	v = ok;
	v.group = TLS_GROUP_SECP256R1; /* no share sent for it */
	assert_int_equal(check_variant(&ch, &v, 0), ERR_PROTO);
	v = ok;
	v.key_len = 31; /* wrong X25519 length */
	assert_int_equal(check_variant(&ch, &v, 0), ERR_PROTO);
	assert_int_equal(check_variant(&ch, &ok, 1), ERR_PROTO);

	/* A TLS 1.2 ServerHello (no supported_versions) is a downgrade. */
	memcpy(out, T.sh, 4 + 2 + 32 + 1 + 2 + 1);
	n = 4 + 2 + 32 + 1 + 2 + 1;
	tls_put_u24(out + 1, (uint32_t)(n - 4));
	assert_int_equal(tls13_msg_sh_parse(&sh, out, n), 0);
	assert_int_equal(sh.version, 0);
	assert_int_equal(sh.ext_count, 0);
	assert_int_equal(tls13_msg_sh_check(&sh, &ch), ERR_PROTO);

	/* HelloRetryRequest: detected by its random; must name a group the
	 * client supports but sent no share for. */
	v = ok;
	v.hrr = true;
	v.group = TLS_GROUP_SECP256R1;
	assert_int_equal(tls13_msg_sh_build(&v, M(out), &n), 0);
	assert_int_equal(tls13_msg_sh_parse(&sh, out, n), 0);
	assert_true(sh.is_hrr);
	assert_int_equal(sh.group, TLS_GROUP_SECP256R1);
	assert_int_equal(sh.key_off, 0);
	assert_memory_equal(tls13_msg_sh_random(&sh), TLS_HRR_RANDOM, 32);
	assert_int_equal(tls13_msg_sh_check(&sh, &ch), 0);
	assert_int_equal(tls13_msg_sh_replace_key(&sh, out, T.server_pub, 32), -EINVAL);
	v.group = TLS_GROUP_X25519; /* already shared */
	assert_int_equal(tls13_msg_sh_build(&v, M(out), &n), 0);
	assert_int_equal(tls13_msg_sh_parse(&sh, out, n), 0);
	assert_int_equal(tls13_msg_sh_check(&sh, &ch), ERR_PROTO);
	v.group = TLS_GROUP_X25519MLKEM768; /* never offered */
	assert_int_equal(tls13_msg_sh_build(&v, M(out), &n), 0);
	assert_int_equal(tls13_msg_sh_parse(&sh, out, n), 0);
	assert_int_equal(tls13_msg_sh_check(&sh, &ch), ERR_PROTO);
	/* An HRR with a cookie parses, the cookie located. */
	static const uint8_t hrr_cookie[] = {
		0x02, 0x00, 0x00, 0x3c, 0x03, 0x03, 0xcf, 0x21, 0xad, 0x74, 0xe5, 0x9a, 0x61, 0x11, 0xbe, 0x1d, 0x8c,
		0x02, 0x1e, 0x65, 0xb8, 0x91, 0xc2, 0xa2, 0x11, 0x16, 0x7a, 0xbb, 0x8c, 0x5e, 0x07, 0x9e, 0x09, 0xe2,
		0xc8, 0xa8, 0x33, 0x9c, 0x00, 0x13, 0x01, 0x00, 0x00, 0x14, 0x00, 0x2b, 0x00, 0x02, 0x03, 0x04, 0x00,
		0x33, 0x00, 0x02, 0x00, 0x17, 0x00, 0x2c, 0x00, 0x04, 0x00, 0x02, 0xab, 0xcd,
	};
	assert_int_equal(tls13_msg_sh_parse(&sh, M(hrr_cookie)), 0);
	assert_true(sh.is_hrr);
	assert_int_equal(sh.cookie_len, 2);
	assert_memory_equal(hrr_cookie + sh.cookie_off, "\xab\xcd", 2);
	assert_int_equal(tls13_msg_sh_check(&sh, &ch), 0);
}

/* A ClientHello shaped like Chrome 133's as uTLS sends it for REALITY
 * (specs/reality.md §2.1): GREASE suite, extension and groups, the hybrid
 * X25519MLKEM768 share before the X25519 one, ALPN h2 + http/1.1, ALPS,
 * ECH GREASE, 32-byte session id, a second (distinct) GREASE extension last. */
struct chrome_hello {
	uint8_t msg[2048];
	size_t len;
	uint8_t random[32], sid[32], hybrid[TLS_X25519MLKEM768_CLIENT_LEN], x25519[32];
};

static size_t wr_done(struct tls13_msg_wr *w)
{
	size_t n;
	assert_int_equal(tls13_msg_wr_finish(w, &n), 0);
	return n;
}

static void build_chrome_hello(struct chrome_hello *c)
{
	static const uint16_t suites[] = { 0x2a2a, 0x1301, 0x1302, 0x1303, 0xc02b, 0xc02f, 0xc02c, 0xc030,
		                           0xcca9, 0xcca8, 0xc013, 0xc014, 0x009c, 0x009d, 0x002f, 0x0035 };
	static const uint16_t sigs[] = { 0x0403, 0x0804, 0x0401, 0x0503, 0x0805, 0x0501, 0x0806, 0x0601 };
	uint8_t sni[32], groups[16], alpn[16], sig[32], ks[1300], psk[2], vers[8], cc[3], alps[5], ech[300];
	uint8_t status[5] = { 1, 0, 0, 0, 0 }, ecpf[2] = { 1, 0 }, reneg[1] = { 0 }, grease_one[1] = { 0 };
	struct tls13_msg_wr w;
	size_t nsni, ngroups, nalpn, nsig, nks, nvers, nech;

	for (size_t i = 0; i < 32; i++) {
		c->random[i] = (uint8_t)i;
		c->sid[i] = (uint8_t)(0xa0 + i);
		c->x25519[i] = (uint8_t)(0x40 + i);
	}
	for (size_t i = 0; i < sizeof(c->hybrid); i++)
		c->hybrid[i] = (uint8_t)(i * 7);

	tls13_msg_wr_init(&w, sni, sizeof(sni));
	tls13_msg_wr_open(&w, 2);
	tls13_msg_wr_u8(&w, TLS_SNI_HOST_NAME);
	tls13_msg_wr_open(&w, 2);
	tls13_msg_wr_bytes(&w, "www.example.com", 15);
	tls13_msg_wr_close(&w);
	tls13_msg_wr_close(&w);
	nsni = wr_done(&w);

	tls13_msg_wr_init(&w, groups, sizeof(groups));
	tls13_msg_wr_open(&w, 2);
	tls13_msg_wr_u16(&w, 0x4a4a);
	tls13_msg_wr_u16(&w, TLS_GROUP_X25519MLKEM768);
	tls13_msg_wr_u16(&w, TLS_GROUP_X25519);
	tls13_msg_wr_u16(&w, TLS_GROUP_SECP256R1);
	tls13_msg_wr_u16(&w, TLS_GROUP_SECP384R1);
	tls13_msg_wr_close(&w);
	ngroups = wr_done(&w);

	tls13_msg_wr_init(&w, alpn, sizeof(alpn));
	tls13_msg_wr_open(&w, 2);
	tls13_msg_wr_open(&w, 1);
	tls13_msg_wr_bytes(&w, "h2", 2);
	tls13_msg_wr_close(&w);
	tls13_msg_wr_open(&w, 1);
	tls13_msg_wr_bytes(&w, "http/1.1", 8);
	tls13_msg_wr_close(&w);
	tls13_msg_wr_close(&w);
	nalpn = wr_done(&w);

	tls13_msg_wr_init(&w, sig, sizeof(sig));
	tls13_msg_wr_open(&w, 2);
	for (size_t i = 0; i < ARRAY_SIZE(sigs); i++)
		tls13_msg_wr_u16(&w, sigs[i]);
	tls13_msg_wr_close(&w);
	nsig = wr_done(&w);

	tls13_msg_wr_init(&w, ks, sizeof(ks));
	tls13_msg_wr_open(&w, 2);
	tls13_msg_wr_u16(&w, 0x4a4a); /* GREASE share: one zero byte */
	tls13_msg_wr_open(&w, 2);
	tls13_msg_wr_u8(&w, 0);
	tls13_msg_wr_close(&w);
	tls13_msg_wr_u16(&w, TLS_GROUP_X25519MLKEM768);
	tls13_msg_wr_open(&w, 2);
	tls13_msg_wr_bytes(&w, c->hybrid, sizeof(c->hybrid));
	tls13_msg_wr_close(&w);
	tls13_msg_wr_u16(&w, TLS_GROUP_X25519);
	tls13_msg_wr_open(&w, 2);
	tls13_msg_wr_bytes(&w, c->x25519, 32);
	tls13_msg_wr_close(&w);
	tls13_msg_wr_close(&w);
	nks = wr_done(&w);

	psk[0] = 1;
	psk[1] = TLS_PSK_DHE_KE;
	tls13_msg_wr_init(&w, vers, sizeof(vers));
	tls13_msg_wr_open(&w, 1);
	tls13_msg_wr_u16(&w, 0x6a6a);
	tls13_msg_wr_u16(&w, TLS_VERSION_13);
	tls13_msg_wr_u16(&w, TLS_VERSION_12);
	tls13_msg_wr_close(&w);
	nvers = wr_done(&w);
	memcpy(cc, "\x02\x00\x02", 3);        /* compress_certificate: [brotli] */
	memcpy(alps, "\x00\x03\x02h2", 5);    /* application_settings: ["h2"] */

	/* ECH GREASE: outer, HKDF-SHA256 + AES-128-GCM, config id, a 32-byte
	 * enc and a 176-byte payload of noise. */
	tls13_msg_wr_init(&w, ech, sizeof(ech));
	tls13_msg_wr_u8(&w, 0);
	tls13_msg_wr_u16(&w, 0x0001);
	tls13_msg_wr_u16(&w, 0x0001);
	tls13_msg_wr_u8(&w, 0x5c);
	tls13_msg_wr_open(&w, 2);
	tls13_msg_wr_bytes(&w, c->hybrid, 32);
	tls13_msg_wr_close(&w);
	tls13_msg_wr_open(&w, 2);
	tls13_msg_wr_bytes(&w, c->hybrid + 100, 176);
	tls13_msg_wr_close(&w);
	nech = wr_done(&w);

	const struct tls13_msg_ext_in ext[] = {
		{ 0x0a0a, NULL, 0 },
		{ TLS_EXT_SERVER_NAME, sni, nsni },
		{ TLS_EXT_EXTENDED_MASTER_SECRET, NULL, 0 },
		{ TLS_EXT_RENEGOTIATION_INFO, reneg, 1 },
		{ TLS_EXT_SUPPORTED_GROUPS, groups, ngroups },
		{ TLS_EXT_EC_POINT_FORMATS, ecpf, 2 },
		{ TLS_EXT_SESSION_TICKET, NULL, 0 },
		{ TLS_EXT_ALPN, alpn, nalpn },
		{ TLS_EXT_STATUS_REQUEST, status, 5 },
		{ TLS_EXT_SIGNATURE_ALGORITHMS, sig, nsig },
		{ TLS_EXT_SCT, NULL, 0 },
		{ TLS_EXT_KEY_SHARE, ks, nks },
		{ TLS_EXT_PSK_KEY_EXCHANGE_MODES, psk, 2 },
		{ TLS_EXT_SUPPORTED_VERSIONS, vers, nvers },
		{ TLS_EXT_COMPRESS_CERTIFICATE, cc, 3 },
		{ TLS_EXT_APPLICATION_SETTINGS, alps, 5 },
		{ TLS_EXT_ENCRYPTED_CLIENT_HELLO, ech, nech },
		{ 0xdada, grease_one, 1 },
	};
	struct tls13_msg_ch_spec spec = { c->random, c->sid, 32, suites, ARRAY_SIZE(suites), ext, ARRAY_SIZE(ext) };
	assert_int_equal(tls13_msg_ch_build(&spec, M(c->msg), &c->len), 0);
}

static void a_chrome_like_client_hello_parses_with_every_accessor(void **state)
{
	struct chrome_hello c;
	struct tls13_msg_ch ch;
	struct tls13_msg_iter it;
	struct tls13_msg_key_share ks;
	struct tls13_record cr, sr;
	struct tls13_record_in in;
	struct tls13_record_reasm h;
	struct tls13_record_hs_msg m;
	const uint8_t *p;
	uint8_t rec[4096], out[TLS_MAX_INNER];
	size_t n;

	build_chrome_hello(&c);
	/* "Total size ≈ 1.7–1.9 KB" with a 176-byte ECH payload. */
	assert_true(c.len > 1700 && c.len < 1900);

	/* Through the record layer as Chrome sends it: record version 0x0301. */
	assert_int_equal(tls13_record_init(&cr, TLS13_RECORD_CLIENT), 0);
	assert_int_equal(tls13_record_init(&sr, TLS13_RECORD_SERVER), 0);
	assert_int_equal(tls13_record_write_plain(&cr, TLS_CT_HANDSHAKE, c.msg, c.len, M(rec), &n), 0);
	assert_memory_equal(rec, "\x16\x03\x01", 3);
	tls13_record_reasm_init(&h, 0);
	/* It arrives in two TCP segments: the record layer waits for the rest. */
	assert_int_equal(tls13_record_read(&sr, rec, 700, M(out), &in), 0);
	assert_int_equal(in.need, n);
	assert_int_equal(tls13_record_read(&sr, rec, n, M(out), &in), 1);
	assert_int_equal(tls13_record_reasm_add(&h, in.data, in.len), 0);
	assert_int_equal(tls13_record_reasm_next(&h, &m), 1);
	assert_int_equal(m.type, TLS_HS_CLIENT_HELLO);
	assert_int_equal(m.msg_len, c.len);

	assert_int_equal(tls13_msg_ch_parse(&ch, m.msg, m.msg_len), 0);
	/* REALITY's session id sits at offset 39 of the message. */
	assert_int_equal(ch.sid_len, REALITY_SESSION_ID_LEN);
	assert_int_equal(ch.sid_off, REALITY_SESSION_ID_OFFSET);
	assert_memory_equal(m.msg + REALITY_SESSION_ID_OFFSET, c.sid, 32);
	tls13_msg_ch_session_id(&ch, &p, &n);
	assert_ptr_equal(p, m.msg + 39);
	assert_memory_equal(tls13_msg_ch_random(&ch), c.random, 32);

	tls13_msg_ch_suites(&ch, &p, &n);
	assert_int_equal(n, 16);
	assert_true(tls13_msg_is_grease(tls_get_u16(p)));
	assert_true(tls13_msg_ch_offers_suite(&ch, TLS_AES_128_GCM_SHA256));
	assert_true(tls13_msg_ch_offers_suite(&ch, TLS_CHACHA20_POLY1305_SHA256));
	assert_true(tls13_msg_ch_compression_null(&ch));

	/* Extensions in wire order; GREASE first and last, distinct values. */
	assert_int_equal(ch.ext_count, 18);
	assert_true(tls13_msg_is_grease(ch.ext[0].type));
	assert_int_equal(ch.ext[0].len, 0);
	assert_true(tls13_msg_is_grease(ch.ext[17].type));
	assert_int_equal(ch.ext[17].len, 1);
	assert_int_not_equal(ch.ext[0].type, ch.ext[17].type);
	for (size_t i = 1; i < 17; i++)
		assert_false(tls13_msg_is_grease(ch.ext[i].type));
	assert_int_equal(ch.ext[11].type, TLS_EXT_KEY_SHARE);
	assert_int_equal(ch.ext[16].type, TLS_EXT_ENCRYPTED_CLIENT_HELLO);
	assert_int_equal(tls13_msg_ch_ext(&ch, TLS_EXT_APPLICATION_SETTINGS, &p, &n), 0);
	assert_int_equal(n, 5);
	assert_memory_equal(p, "\x00\x03\x02h2", 5);
	assert_int_equal(tls13_msg_ch_ext(&ch, TLS_EXT_EXTENDED_MASTER_SECRET, &p, &n), 0);
	assert_int_equal(n, 0);
	assert_int_equal(tls13_msg_ch_ext(&ch, TLS_EXT_PADDING, &p, &n), ERR_NOTFOUND);

	assert_int_equal(tls13_msg_ch_server_name(&ch, &p, &n), 0);
	assert_int_equal(n, 15);
	assert_memory_equal(p, "www.example.com", 15);

	assert_int_equal(tls13_msg_ch_supported_versions(&ch, &p, &n), 0);
	assert_int_equal(n, 3);
	assert_true(tls13_msg_is_grease(tls_get_u16(p)));
	assert_int_equal(tls_get_u16(p + 2), TLS_VERSION_13);
	assert_int_equal(tls_get_u16(p + 4), TLS_VERSION_12);
	assert_true(tls13_msg_ch_offers_tls13(&ch));

	assert_int_equal(tls13_msg_ch_supported_groups(&ch, &p, &n), 0);
	assert_int_equal(n, 5);
	assert_true(tls13_msg_is_grease(tls_get_u16(p)));
	assert_int_equal(tls_get_u16(p + 2), TLS_GROUP_X25519MLKEM768);
	assert_true(tls13_msg_ch_offers_group(&ch, TLS_GROUP_X25519));

	/* Key shares in order: GREASE (1 byte), hybrid (1216), X25519 (32). */
	assert_int_equal(tls13_msg_ch_key_shares(&ch, &it), 0);
	assert_true(tls13_msg_key_share_next(&it, &ks));
	assert_true(tls13_msg_is_grease(ks.group));
	assert_int_equal(ks.len, 1);
	assert_true(tls13_msg_key_share_next(&it, &ks));
	assert_int_equal(ks.group, TLS_GROUP_X25519MLKEM768);
	assert_int_equal(ks.len, 1216);
	assert_true(tls13_msg_key_share_len_ok(ks.group, ks.len, false));
	assert_false(tls13_msg_key_share_len_ok(ks.group, ks.len, true));
	assert_memory_equal(ks.key, c.hybrid, 1216);
	assert_true(tls13_msg_key_share_next(&it, &ks));
	assert_int_equal(ks.group, TLS_GROUP_X25519);
	assert_int_equal(ks.len, 32);
	assert_memory_equal(ks.key, c.x25519, 32);
	assert_false(tls13_msg_key_share_next(&it, &ks));
	assert_int_equal(tls13_msg_ch_key_share_find(&ch, TLS_GROUP_X25519MLKEM768, &ks), 0);
	assert_memory_equal(ks.key + TLS_MLKEM768_EK_LEN, c.hybrid + TLS_MLKEM768_EK_LEN, 32);

	assert_int_equal(tls13_msg_ch_sig_algs(&ch, &p, &n), 0);
	assert_int_equal(n, 8);
	assert_int_equal(tls_get_u16(p + 14), TLS_SIG_RSA_PKCS1_SHA512);

	assert_int_equal(tls13_msg_ch_alpn(&ch, &it), 0);
	assert_true(tls13_msg_alpn_next(&it, &p, &n));
	assert_int_equal(n, 2);
	assert_memory_equal(p, "h2", 2);
	assert_true(tls13_msg_alpn_next(&it, &p, &n));
	assert_int_equal(n, 8);
	assert_memory_equal(p, "http/1.1", 8);
	assert_false(tls13_msg_alpn_next(&it, &p, &n));

	assert_int_equal(tls13_msg_ch_psk_modes(&ch, &p, &n), 0);
	assert_int_equal(n, 1);
	assert_int_equal(p[0], TLS_PSK_DHE_KE);
	assert_false(tls13_msg_ch_has_psk(&ch));
	exercise_client_hello(&ch);

	tls13_record_reasm_fini(&h);
	tls13_record_fini(&cr);
	tls13_record_fini(&sr);
}

/* specs/reality.md §7.1: the REALITY certificate (self-signed Ed25519, the
 * signature field an HMAC) and its Ed25519 key (seed 0x80..0x9f). */
#define REALITY_CERT                                                                             \
	"3081af3063a003020102020100300506032b657030003022180f30303031303130313030303030305a180f303030" \
	"31303130313030303030305a3000302a300506032b6570032100cd14b37f956e953194ff7fb73b3d81dcc561d61a" \
	"7538094b7c3e1a643ee5f3aa300506032b65700341001dd259e3f348558df075a2aa09ed3c33629990e671f4553e" \
	"7b6d54daa9d974bac8601fcd366124f4fee394f522d265e6694347d963be5e33f9ba49e5e4a92744"
#define REALITY_CERT_LEN 178

/* Reads one record from the front of *wire, which the peer wrote. */
static void next_record(struct tls13_record *r, uint8_t *wire, size_t *wlen, uint8_t *out, struct tls13_record_in *in)
{
	assert_int_equal(tls13_record_read(r, wire, *wlen, out, TLS_MAX_INNER, in), 1);
	/* The caller copies what it needs before the next read. */
	static uint8_t keep[TLS_MAX_INNER];
	memcpy(keep, in->data, in->len);
	in->data = keep;
	memmove(wire, wire + in->used, *wlen - in->used);
	*wlen -= in->used;
}

static void a_full_handshake_runs_between_our_client_and_server_pieces(void **state)
{
	static uint8_t wire[16384], out[TLS_MAX_INNER], flight[2048], msg[1024];
	static const uint8_t ccs[1] = { TLS_CCS_BYTE };
	const struct tls13_keysched_suite *suite = tls13_keysched_suite(TLS_AES_256_GCM_SHA384);
	struct chrome_hello c;
	struct tls13_record cr, sr;
	struct tls13_record_in in;
	struct tls13_record_reasm h;
	struct tls13_record_hs_msg m;
	struct tls13_keysched cks, sks;
	struct tls13_keysched_transcript ct, st;
	struct tls13_msg_ch ch;
	struct tls13_msg_sh sh;
	struct tls13_msg_key_share ks;
	struct tls13_msg_cert cert;
	struct tls13_msg_cv cv;
	struct tls13_msg_ee ee;
	uint8_t client_priv[32], client_pub[32], shared_c[32], shared_s[32], th[48], vd[48], seed[32], sig[64];
	uint8_t der[REALITY_CERT_LEN], content[TLS_CV_CONTENT_MAX], ch_copy[2048], sh_msg[256];
	size_t wlen = 0, n, flen = 0, clen, sig_len = sizeof(sig), sh_len;
	bool req;

	for (int i = 0; i < 32; i++) {
		client_priv[i] = (uint8_t)(0x40 + i);
		seed[i] = (uint8_t)(0x80 + i);
	}
	support_unhex(REALITY_CERT, der, sizeof(der));
	x25519(client_priv, (const uint8_t *)"\x09\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0", client_pub);
	expect_hex(client_pub, 32, "79a631eede1bf9c98f12032cdeadd0e7a079398fc786b88cc846ec89af85a51a");

	/* Client: a Chrome-shaped hello carrying its real X25519 share. */
	build_chrome_hello(&c);
	assert_int_equal(tls13_msg_ch_parse(&ch, c.msg, c.len), 0);
	assert_int_equal(tls13_msg_ch_key_share_find(&ch, TLS_GROUP_X25519, &ks), 0);
	memcpy(c.msg + (ks.key - c.msg), client_pub, 32);
	assert_int_equal(tls13_record_init(&cr, TLS13_RECORD_CLIENT), 0);
	assert_int_equal(tls13_record_init(&sr, TLS13_RECORD_SERVER), 0);
	assert_int_equal(tls13_record_write_plain(&cr, TLS_CT_HANDSHAKE, c.msg, c.len, wire, sizeof(wire), &n), 0);
	wlen = n;

	/* Server: read, parse, answer with a ServerHello for AES-256-GCM. */
	tls13_record_reasm_init(&h, 0);
	next_record(&sr, wire, &wlen, out, &in);
	assert_int_equal(tls13_record_reasm_add(&h, in.data, in.len), 0);
	assert_int_equal(tls13_record_reasm_next(&h, &m), 1);
	memcpy(ch_copy, m.msg, m.msg_len);
	clen = m.msg_len;
	assert_int_equal(tls13_msg_ch_parse(&ch, ch_copy, clen), 0);
	assert_true(tls13_msg_ch_offers_tls13(&ch));
	assert_int_equal(tls13_msg_ch_key_share_find(&ch, TLS_GROUP_X25519, &ks), 0);
	x25519(T.server_priv, ks.key, shared_s);
	struct tls13_msg_sh_spec spec = { false, T.sh + 6, ch_copy + ch.sid_off, ch.sid_len, suite->id,
		                          TLS_GROUP_X25519, T.server_pub, 32 };
	assert_int_equal(tls13_msg_sh_build(&spec, M(sh_msg), &sh_len), 0);
	assert_int_equal(tls13_keysched_transcript_init(&st, suite->hash), 0);
	assert_int_equal(tls13_keysched_transcript_update(&st, ch_copy, clen), 0);
	assert_int_equal(tls13_keysched_transcript_update(&st, sh_msg, sh_len), 0);
	assert_int_equal(tls13_keysched_transcript_hash(&st, th), 0);
	assert_int_equal(tls13_keysched_init(&sks, suite, NULL, 0), 0);
	assert_int_equal(tls13_keysched_handshake(&sks, shared_s, 32, th), 0);
	assert_int_equal(tls13_record_write_plain(&sr, TLS_CT_HANDSHAKE, sh_msg, sh_len, wire + wlen,
	                                          sizeof(wire) - wlen, &n), 0);
	wlen += n;
	assert_int_equal(tls13_record_write_plain(&sr, TLS_CT_CHANGE_CIPHER_SPEC, M(ccs), wire + wlen,
	                                          sizeof(wire) - wlen, &n), 0);
	wlen += n;
	assert_int_equal(tls13_record_set_secret(&sr, true, suite->id, sks.s_hs, TLS13_EPOCH_HANDSHAKE), 0);

	/* EncryptedExtensions (none), the certificate, CertificateVerify
	 * (Ed25519, 0x0807), Finished: "combined mode", one record padded to
	 * 1000 bytes as if dest's first encrypted record were that long. */
	assert_int_equal(tls13_msg_ee_build(NULL, 0, flight + flen, sizeof(flight) - flen, &n), 0);
	assert_int_equal(tls13_keysched_transcript_update(&st, flight + flen, n), 0);
	flen += n;
	struct tls13_msg_cert_in ci = { der, sizeof(der), NULL, 0 };
	assert_int_equal(tls13_msg_cert_build(NULL, 0, &ci, 1, flight + flen, sizeof(flight) - flen, &n), 0);
	assert_int_equal(tls13_keysched_transcript_update(&st, flight + flen, n), 0);
	flen += n;
	assert_int_equal(tls13_keysched_transcript_hash(&st, th), 0);
	assert_int_equal(tls13_msg_cv_content(true, th, suite->hash_len, M(content), &n), 0);
	EVP_PKEY *ed = EVP_PKEY_new_raw_private_key(EVP_PKEY_ED25519, NULL, seed, 32);
	EVP_MD_CTX *md = EVP_MD_CTX_new();
	assert_int_equal(EVP_DigestSignInit(md, NULL, NULL, NULL, ed), 1);
	assert_int_equal(EVP_DigestSign(md, sig, &sig_len, content, n), 1);
	EVP_MD_CTX_free(md);
	EVP_PKEY_free(ed);
	assert_int_equal(tls13_msg_cv_build(TLS_SIG_ED25519, sig, sig_len, flight + flen, sizeof(flight) - flen, &n), 0);
	assert_int_equal(tls13_keysched_transcript_update(&st, flight + flen, n), 0);
	flen += n;
	assert_int_equal(tls13_keysched_transcript_hash(&st, th), 0);
	assert_int_equal(tls13_keysched_finished(suite->hash, sks.s_hs, th, vd), 0);
	assert_int_equal(tls13_msg_fin_build(vd, suite->hash_len, flight + flen, sizeof(flight) - flen, &n), 0);
	assert_int_equal(tls13_keysched_transcript_update(&st, flight + flen, n), 0);
	flen += n;
	assert_int_equal(tls13_record_seal_to_size(&sr, TLS_CT_HANDSHAKE, flight, flen, 1000, wire + wlen,
	                                           sizeof(wire) - wlen, &n), 0);
	assert_int_equal(n, 1000);
	wlen += n;
	assert_int_equal(tls13_keysched_transcript_hash(&st, th), 0);
	assert_int_equal(tls13_keysched_application(&sks, th), 0);
	/* Post-handshake imitation: an empty application record of 250 bytes. */
	assert_int_equal(tls13_record_set_secret(&sr, true, suite->id, sks.s_ap, TLS13_EPOCH_APPLICATION), 0);
	assert_int_equal(tls13_record_seal_to_size(&sr, TLS_CT_APPLICATION_DATA, NULL, 0, 250, wire + wlen,
	                                           sizeof(wire) - wlen, &n), 0);
	wlen += n;

	/* Client: ServerHello, checks, keys. */
	tls13_record_reasm_fini(&h);
	tls13_record_reasm_init(&h, 0);
	next_record(&cr, wire, &wlen, out, &in);
	assert_int_equal(tls13_record_reasm_add(&h, in.data, in.len), 0);
	assert_int_equal(tls13_record_reasm_next(&h, &m), 1);
	assert_int_equal(m.type, TLS_HS_SERVER_HELLO);
	memcpy(sh_msg, m.msg, m.msg_len);
	sh_len = m.msg_len;
	assert_int_equal(tls13_msg_ch_parse(&ch, c.msg, c.len), 0);
	assert_int_equal(tls13_msg_sh_parse(&sh, sh_msg, sh_len), 0);
	assert_int_equal(tls13_msg_sh_check(&sh, &ch), 0);
	x25519(client_priv, sh_msg + sh.key_off, shared_c);
	assert_memory_equal(shared_c, shared_s, 32);
	const struct tls13_keysched_suite *cs = tls13_keysched_suite(sh.suite);
	assert_int_equal(tls13_keysched_transcript_init(&ct, cs->hash), 0);
	assert_int_equal(tls13_keysched_transcript_update(&ct, c.msg, c.len), 0);
	assert_int_equal(tls13_keysched_transcript_update(&ct, sh_msg, sh_len), 0);
	assert_int_equal(tls13_keysched_transcript_hash(&ct, th), 0);
	assert_int_equal(tls13_keysched_init(&cks, cs, NULL, 0), 0);
	assert_int_equal(tls13_keysched_handshake(&cks, shared_c, 32, th), 0);
	next_record(&cr, wire, &wlen, out, &in); /* the CCS */
	assert_true(in.dropped);
	assert_true(tls13_record_reasm_empty(&h));
	assert_int_equal(tls13_record_set_secret(&cr, false, cs->id, cks.s_hs, TLS13_EPOCH_HANDSHAKE), 0);
	next_record(&cr, wire, &wlen, out, &in);
	assert_int_equal(in.len, flen);
	assert_int_equal(tls13_record_reasm_add(&h, in.data, in.len), 0);

	assert_int_equal(tls13_record_reasm_next(&h, &m), 1);
	assert_int_equal(tls13_msg_ee_parse(&ee, m.msg, m.msg_len), 0);
	assert_int_equal(tls13_keysched_transcript_update(&ct, m.msg, m.msg_len), 0);
	assert_int_equal(tls13_record_reasm_next(&h, &m), 1);
	assert_int_equal(tls13_msg_cert_parse(&cert, m.msg, m.msg_len), 0);
	const uint8_t *leaf;
	assert_int_equal(tls13_msg_cert_get(&cert, 0, &leaf, &n), 0);
	assert_int_equal(n, REALITY_CERT_LEN);
	const uint8_t *p = leaf;
	X509 *x = d2i_X509(NULL, &p, (long)n);
	assert_non_null(x);
	assert_int_equal(tls13_keysched_transcript_update(&ct, m.msg, m.msg_len), 0);
	assert_int_equal(tls13_keysched_transcript_hash(&ct, th), 0);
	assert_int_equal(tls13_record_reasm_next(&h, &m), 1);
	assert_int_equal(tls13_msg_cv_parse(&cv, m.msg, m.msg_len), 0);
	assert_int_equal(cv.scheme, TLS_SIG_ED25519);
	assert_int_equal(tls13_msg_cv_content(true, th, cs->hash_len, M(content), &n), 0);
	md = EVP_MD_CTX_new();
	assert_int_equal(EVP_DigestVerifyInit(md, NULL, NULL, NULL, X509_get0_pubkey(x)), 1);
	assert_int_equal(EVP_DigestVerify(md, m.msg + cv.sig_off, cv.sig_len, content, n), 1);
	EVP_MD_CTX_free(md);
	X509_free(x);
	assert_int_equal(tls13_keysched_transcript_update(&ct, m.msg, m.msg_len), 0);
	assert_int_equal(tls13_keysched_transcript_hash(&ct, th), 0);
	assert_int_equal(tls13_record_reasm_next(&h, &m), 1);
	assert_int_equal(tls13_msg_fin_verify(cs->hash, cks.s_hs, th, m.msg, m.msg_len), 0);
	assert_int_equal(tls13_keysched_transcript_update(&ct, m.msg, m.msg_len), 0);
	assert_int_equal(tls13_record_reasm_next(&h, &m), 0);
	assert_true(tls13_record_reasm_empty(&h));
	assert_int_equal(tls13_keysched_transcript_hash(&ct, th), 0);
	assert_int_equal(tls13_keysched_application(&cks, th), 0);
	assert_memory_equal(cks.s_ap, sks.s_ap, 48);
	assert_int_equal(tls13_record_set_secret(&cr, false, cs->id, cks.s_ap, TLS13_EPOCH_APPLICATION), 0);
	next_record(&cr, wire, &wlen, out, &in); /* the imitation ticket */
	assert_true(in.dropped);
	assert_int_equal(wlen, 0);

	/* Client: CCS, then Finished under its handshake key. */
	assert_int_equal(tls13_record_write_plain(&cr, TLS_CT_CHANGE_CIPHER_SPEC, M(ccs), M(wire), &n), 0);
	wlen = n;
	assert_int_equal(tls13_record_set_secret(&cr, true, cs->id, cks.c_hs, TLS13_EPOCH_HANDSHAKE), 0);
	assert_int_equal(tls13_keysched_finished(cs->hash, cks.c_hs, th, vd), 0);
	assert_int_equal(tls13_msg_fin_build(vd, cs->hash_len, M(msg), &n), 0);
	assert_int_equal(tls13_record_seal(&cr, TLS_CT_HANDSHAKE, msg, n, 0, wire + wlen, sizeof(wire) - wlen, &n), 0);
	wlen += n;
	assert_int_equal(tls13_record_set_secret(&cr, true, cs->id, cks.c_ap, TLS13_EPOCH_APPLICATION), 0);
	assert_int_equal(tls13_record_seal(&cr, TLS_CT_APPLICATION_DATA, (const uint8_t *)"GET /", 5, 0, wire + wlen,
	                                   sizeof(wire) - wlen, &n), 0);
	wlen += n;

	/* Server: drop the CCS, verify the Finished, switch, read data. */
	assert_int_equal(tls13_record_set_secret(&sr, false, suite->id, sks.c_hs, TLS13_EPOCH_HANDSHAKE), 0);
	next_record(&sr, wire, &wlen, out, &in);
	assert_true(in.dropped);
	next_record(&sr, wire, &wlen, out, &in);
	assert_int_equal(tls13_keysched_transcript_hash(&st, th), 0);
	assert_int_equal(tls13_msg_fin_verify(suite->hash, sks.c_hs, th, in.data, in.len), 0);
	assert_int_equal(tls13_record_set_secret(&sr, false, suite->id, sks.c_ap, TLS13_EPOCH_APPLICATION), 0);
	next_record(&sr, wire, &wlen, out, &in);
	assert_int_equal(in.type, TLS_CT_APPLICATION_DATA);
	assert_memory_equal(in.data, "GET /", 5);

	/* KeyUpdate (update_requested) from the client; the server answers. */
	assert_int_equal(tls13_msg_key_update_build(true, M(msg), &n), 0);
	assert_int_equal(tls13_record_seal(&cr, TLS_CT_HANDSHAKE, msg, n, 0, M(wire), &wlen), 0);
	assert_int_equal(tls13_keysched_update(cs->hash, cks.c_ap), 0);
	assert_int_equal(tls13_record_set_secret(&cr, true, cs->id, cks.c_ap, TLS13_EPOCH_APPLICATION), 0);
	assert_int_equal(tls13_record_seal(&cr, TLS_CT_APPLICATION_DATA, (const uint8_t *)"more", 4, 0, wire + wlen,
	                                   sizeof(wire) - wlen, &n), 0);
	wlen += n;
	next_record(&sr, wire, &wlen, out, &in);
	assert_int_equal(tls13_msg_key_update_parse(in.data, in.len, &req), 0);
	assert_true(req);
	assert_int_equal(tls13_keysched_update(suite->hash, sks.c_ap), 0);
	assert_int_equal(tls13_record_set_secret(&sr, false, suite->id, sks.c_ap, TLS13_EPOCH_APPLICATION), 0);
	next_record(&sr, wire, &wlen, out, &in);
	assert_memory_equal(in.data, "more", 4);
	assert_int_equal(tls13_msg_key_update_build(false, M(msg), &n), 0);
	assert_int_equal(tls13_record_seal(&sr, TLS_CT_HANDSHAKE, msg, n, 0, M(wire), &wlen), 0);
	assert_int_equal(tls13_keysched_update(suite->hash, sks.s_ap), 0);
	assert_int_equal(tls13_record_set_secret(&sr, true, suite->id, sks.s_ap, TLS13_EPOCH_APPLICATION), 0);
	assert_int_equal(tls13_record_seal(&sr, TLS_CT_APPLICATION_DATA, (const uint8_t *)"200", 3, 0, wire + wlen,
	                                   sizeof(wire) - wlen, &n), 0);
	wlen += n;
	next_record(&cr, wire, &wlen, out, &in);
	assert_int_equal(tls13_msg_key_update_parse(in.data, in.len, &req), 0);
	assert_false(req);
	assert_int_equal(tls13_keysched_update(cs->hash, cks.s_ap), 0);
	assert_int_equal(tls13_record_set_secret(&cr, false, cs->id, cks.s_ap, TLS13_EPOCH_APPLICATION), 0);
	next_record(&cr, wire, &wlen, out, &in);
	assert_memory_equal(in.data, "200", 3);

	tls13_record_reasm_fini(&h);
	tls13_keysched_transcript_fini(&ct);
	tls13_keysched_transcript_fini(&st);
	tls13_keysched_wipe(&cks);
	tls13_keysched_wipe(&sks);
	tls13_record_fini(&cr);
	tls13_record_fini(&sr);
}

static void grease_values_are_recognised(void **state)
{
	size_t count = 0;

	for (uint32_t v = 0; v <= 0xffff; v++)
		count += tls13_msg_is_grease((uint16_t)v);
	assert_int_equal(count, 16);
	assert_true(tls13_msg_is_grease(0x0a0a));
	assert_true(tls13_msg_is_grease(0xfafa));
	assert_false(tls13_msg_is_grease(0x0a1a));
	assert_false(tls13_msg_is_grease(0x1301));
}

static void truncated_or_extended_messages_are_refused_and_change_nothing(void **state)
{
	struct tls13_msg_ch ch, before;
	struct tls13_msg_sh sh, shb;
	struct tls13_msg_cert c, cb;
	struct tls13_msg_ee ee, eeb;
	struct tls13_msg_cv cv, cvb;
	uint8_t buf[600];

	memset(&before, 0xa5, sizeof(before));
	memset(&shb, 0xa5, sizeof(shb));
	memset(&cb, 0xa5, sizeof(cb));
	memset(&eeb, 0xa5, sizeof(eeb));
	memset(&cvb, 0xa5, sizeof(cvb));
	/* Every shorter length, with the header length both left and fixed up. */
	for (size_t n = 0; n < sizeof(T.ch); n++) {
		for (int fix = 0; fix < 2; fix++) {
			memcpy(buf, T.ch, n);
			if (fix && n >= 4)
				tls_put_u24(buf + 1, (uint32_t)(n - 4));
			ch = before;
			assert_int_equal(tls13_msg_ch_parse(&ch, buf, n), ERR_PARSE);
			assert_memory_equal(&ch, &before, sizeof(ch));
		}
	}
	/* One byte more, counted in the header or not. */
	memcpy(buf, T.ch, sizeof(T.ch));
	buf[sizeof(T.ch)] = 0;
	ch = before;
	assert_int_equal(tls13_msg_ch_parse(&ch, buf, sizeof(T.ch) + 1), ERR_PARSE);
	tls_put_u24(buf + 1, (uint32_t)(sizeof(T.ch) + 1 - 4));
	assert_int_equal(tls13_msg_ch_parse(&ch, buf, sizeof(T.ch) + 1), ERR_PARSE);
	assert_memory_equal(&ch, &before, sizeof(ch));

	const struct {
		const uint8_t *msg;
		size_t len;
	} others[] = { { T.sh, sizeof(T.sh) }, { T.cert, sizeof(T.cert) }, { T.ee, sizeof(T.ee) }, { T.cv, sizeof(T.cv) } };
	for (size_t k = 0; k < ARRAY_SIZE(others); k++) {
		for (size_t n = 0; n <= others[k].len; n++) {
			for (int fix = 0; fix < 2; fix++) {
				memcpy(buf, others[k].msg, others[k].len);
				buf[others[k].len] = 0;
				size_t len = n < others[k].len ? n : others[k].len + 1;
				if (fix && len >= 4)
					tls_put_u24(buf + 1, (uint32_t)(len - 4));
				sh = shb;
				c = cb;
				ee = eeb;
				cv = cvb;
				/* The 4-byte cut of the SH parses as a TLS 1.2 hello with
				 * no extensions only if complete; none of these are. */
				int rc = k == 0 ? tls13_msg_sh_parse(&sh, buf, len)
				         : k == 1 ? tls13_msg_cert_parse(&c, buf, len)
				         : k == 2 ? tls13_msg_ee_parse(&ee, buf, len)
				                  : tls13_msg_cv_parse(&cv, buf, len);
				if (k == 0 && fix && len == 4 + 2 + 32 + 1 + 2 + 1)
					continue; /* exactly the extension-less (TLS 1.2) shape */
				if (k == 2 && fix && len == 6)
					continue; /* an EE with empty extensions is valid */
				if (rc != ERR_PARSE)
					fail_msg("message %zu cut to %zu (fix %d) gave %d", k, len, fix, rc);
				assert_memory_equal(&sh, &shb, sizeof(sh));
				assert_memory_equal(&c, &cb, sizeof(c));
				assert_memory_equal(&ee, &eeb, sizeof(ee));
				assert_memory_equal(&cv, &cvb, sizeof(cv));
			}
		}
	}
	/* Wrong message types. */
	assert_int_equal(tls13_msg_ch_parse(&ch, M(T.sh)), ERR_PARSE);
	assert_int_equal(tls13_msg_sh_parse(&sh, M(T.ch)), ERR_PARSE);
	assert_int_equal(tls13_msg_nst_check(M(T.cert)), ERR_PARSE);
}

static void every_single_byte_change_parses_in_bounds_or_fails(void **state)
{
	struct chrome_hello c;
	struct tls13_msg_ch ch;
	static const uint8_t deltas[] = { 1, 0xff, 0x80 };

	build_chrome_hello(&c);
	for (size_t i = 0; i < c.len; i++) {
		for (size_t d = 0; d < ARRAY_SIZE(deltas); d++) {
			uint8_t save = c.msg[i];
			c.msg[i] = (uint8_t)(save + deltas[d]);
			if (tls13_msg_ch_parse(&ch, c.msg, c.len) == 0)
				exercise_client_hello(&ch);
			c.msg[i] = save;
		}
	}
	for (size_t i = 0; i < sizeof(T.ch); i++) {
		uint8_t m[sizeof(T.ch)];
		memcpy(m, T.ch, sizeof(m));
		m[i] ^= 0x01;
		if (tls13_msg_ch_parse(&ch, M(m)) == 0)
			exercise_client_hello(&ch);
	}
}

/* The trace ClientHello with its extension block replaced. */
static int ch_with_extensions(const struct tls13_msg_ext_in *ext, size_t n, struct tls13_msg_ch *ch, uint8_t *buf,
                              size_t cap)
{
	static const uint16_t suites[] = { TLS_AES_128_GCM_SHA256 };
	struct tls13_msg_ch_spec spec = { T.ch + 6, NULL, 0, suites, 1, ext, n };
	size_t len;

	assert_int_equal(tls13_msg_ch_build(&spec, buf, cap, &len), 0);
	return tls13_msg_ch_parse(ch, buf, len);
}

static void repeated_extensions_and_a_misplaced_pre_shared_key_are_refused(void **state)
{
	struct tls13_msg_ch ch;
	struct tls13_msg_key_share ks;
	struct tls13_msg_iter it;
	const uint8_t *p;
	size_t n;
	uint8_t buf[1024];
	static const uint8_t vers[] = { 2, 3, 4 }, psk[] = { 0, 0 }, x[] = { 0, 0 };

	const struct tls13_msg_ext_in dup[] = { { TLS_EXT_SUPPORTED_VERSIONS, vers, 3 },
		                                { TLS_EXT_SUPPORTED_VERSIONS, vers, 3 } };
	assert_int_equal(ch_with_extensions(dup, 2, &ch, M(buf)), ERR_PARSE);
	const struct tls13_msg_ext_in psk_mid[] = { { TLS_EXT_PRE_SHARED_KEY, psk, 2 },
		                                    { TLS_EXT_SUPPORTED_VERSIONS, vers, 3 } };
	assert_int_equal(ch_with_extensions(psk_mid, 2, &ch, M(buf)), ERR_PARSE);
	const struct tls13_msg_ext_in psk_last[] = { { TLS_EXT_SUPPORTED_VERSIONS, vers, 3 },
		                                     { TLS_EXT_PRE_SHARED_KEY, psk, 2 } };
	assert_int_equal(ch_with_extensions(psk_last, 2, &ch, M(buf)), 0);
	assert_true(tls13_msg_ch_has_psk(&ch));

	/* More extensions than the table holds. */
	struct tls13_msg_ext_in many[TLS13_MSG_CH_MAX_EXT + 1];
	for (size_t i = 0; i < ARRAY_SIZE(many); i++) {
		many[i].type = (uint16_t)(0x1000 + i);
		many[i].data = NULL;
		many[i].len = 0;
	}
	assert_int_equal(ch_with_extensions(many, TLS13_MSG_CH_MAX_EXT, &ch, M(buf)), 0);
	assert_int_equal(ch_with_extensions(many, ARRAY_SIZE(many), &ch, M(buf)), ERR_TOOBIG);

	/* Typed bodies that are malformed: the accessors refuse them. */
	static const uint8_t ks_dup[] = { 0x00, 0x0a, 0x00, 0x1d, 0x00, 0x01, 0xaa, 0x00, 0x1d, 0x00, 0x01, 0xbb };
	static const uint8_t ks_short[] = { 0x00, 0x06, 0x00, 0x1d, 0x00, 0x03, 0xaa };
	static const uint8_t sni_two[] = { 0x00, 0x08, 0x00, 0x00, 0x01, 'a', 0x00, 0x00, 0x01, 'b' };
	static const uint8_t sni_empty[] = { 0x00, 0x03, 0x00, 0x00, 0x00 };
	static const uint8_t alpn_empty_name[] = { 0x00, 0x02, 0x01, 'x', 0x00 };
	static const uint8_t vers_odd[] = { 3, 3, 4, 3 };
	static const uint8_t groups_empty[] = { 0x00, 0x00 };
	const struct tls13_msg_ext_in bad[] = {
		{ TLS_EXT_KEY_SHARE, ks_dup, sizeof(ks_dup) },
		{ TLS_EXT_SERVER_NAME, sni_two, sizeof(sni_two) },
		{ TLS_EXT_ALPN, alpn_empty_name, sizeof(alpn_empty_name) },
		{ TLS_EXT_SUPPORTED_VERSIONS, vers_odd, sizeof(vers_odd) },
		{ TLS_EXT_SUPPORTED_GROUPS, groups_empty, sizeof(groups_empty) },
		{ TLS_EXT_PSK_KEY_EXCHANGE_MODES, x, 1 },
	};
	assert_int_equal(ch_with_extensions(bad, ARRAY_SIZE(bad), &ch, M(buf)), 0);
	assert_int_equal(tls13_msg_ch_key_shares(&ch, &it), ERR_PARSE);
	assert_int_equal(tls13_msg_ch_key_share_find(&ch, TLS_GROUP_X25519, &ks), ERR_PARSE);
	assert_int_equal(tls13_msg_ch_server_name(&ch, &p, &n), ERR_PARSE);
	assert_int_equal(tls13_msg_ch_alpn(&ch, &it), ERR_PARSE);
	assert_int_equal(tls13_msg_ch_supported_versions(&ch, &p, &n), ERR_PARSE);
	assert_false(tls13_msg_ch_offers_tls13(&ch));
	assert_int_equal(tls13_msg_ch_supported_groups(&ch, &p, &n), ERR_PARSE);
	assert_int_equal(tls13_msg_ch_psk_modes(&ch, &p, &n), ERR_PARSE);
	assert_int_equal(tls13_msg_ch_sig_algs(&ch, &p, &n), ERR_NOTFOUND);

	const struct tls13_msg_ext_in bad2[] = {
		{ TLS_EXT_KEY_SHARE, ks_short, sizeof(ks_short) },
		{ TLS_EXT_SERVER_NAME, sni_empty, sizeof(sni_empty) },
	};
	assert_int_equal(ch_with_extensions(bad2, ARRAY_SIZE(bad2), &ch, M(buf)), 0);
	assert_int_equal(tls13_msg_ch_key_shares(&ch, &it), ERR_PARSE);
	assert_int_equal(tls13_msg_ch_server_name(&ch, &p, &n), ERR_PARSE);
	/* An empty client_shares list is fine (the client wants an HRR). */
	static const uint8_t ks_none[] = { 0x00, 0x00 };
	const struct tls13_msg_ext_in none[] = { { TLS_EXT_KEY_SHARE, ks_none, 2 },
		                                 { TLS_EXT_SUPPORTED_VERSIONS, vers, 3 } };
	assert_int_equal(ch_with_extensions(none, 2, &ch, M(buf)), 0);
	assert_int_equal(tls13_msg_ch_key_shares(&ch, &it), 0);
	assert_false(tls13_msg_key_share_next(&it, &ks));
	/* An extension block under the 8-byte minimum of a ClientHello. */
	const struct tls13_msg_ext_in tiny[] = { { TLS_EXT_SESSION_TICKET, NULL, 0 } };
	assert_int_equal(ch_with_extensions(tiny, 1, &ch, M(buf)), ERR_PARSE);
}

static void encrypted_extensions_and_certificates_are_validated(void **state)
{
	struct tls13_msg_ee ee;
	struct tls13_msg_cert c;
	struct tls13_msg_cert_in certs[TLS13_MSG_CERT_MAX + 1];
	uint8_t out[4096];
	const uint8_t *p;
	size_t n;
	static const uint8_t alpn_h2[] = { 0x00, 0x03, 0x02, 'h', '2' };
	static const uint8_t alpn_two[] = { 0x00, 0x06, 0x02, 'h', '2', 0x02, 'h', '3' };
	static const uint8_t der[] = { 0x30, 0x00 };
	static const uint8_t entry_ext_dup[] = { 0x00, 0x05, 0x00, 0x00, 0x00, 0x05, 0x00, 0x00 };

	/* EncryptedExtensions with the server's ALPN choice. */
	struct tls13_msg_ext_in e1[] = { { TLS_EXT_ALPN, alpn_h2, sizeof(alpn_h2) } };
	assert_int_equal(tls13_msg_ee_build(e1, 1, M(out), &n), 0);
	assert_int_equal(tls13_msg_ee_parse(&ee, out, n), 0);
	assert_int_equal(tls13_msg_ee_alpn(&ee, &p, &n), 0);
	assert_int_equal(n, 2);
	assert_memory_equal(p, "h2", 2);
	struct tls13_msg_ext_in e2[] = { { TLS_EXT_ALPN, alpn_two, sizeof(alpn_two) } };
	assert_int_equal(tls13_msg_ee_build(e2, 1, M(out), &n), 0);
	assert_int_equal(tls13_msg_ee_parse(&ee, out, n), 0);
	assert_int_equal(tls13_msg_ee_alpn(&ee, &p, &n), ERR_PARSE); /* exactly one name */
	/* REALITY's own EE: no extensions at all (§3.5). */
	assert_int_equal(tls13_msg_ee_build(NULL, 0, M(out), &n), 0);
	assert_int_equal(n, 6);
	assert_memory_equal(out, "\x08\x00\x00\x02\x00\x00", 6);
	assert_int_equal(tls13_msg_ee_parse(&ee, out, n), 0);
	assert_int_equal(ee.ext_count, 0);

	/* Certificate: a context, several entries, entry extensions checked. */
	for (size_t i = 0; i < ARRAY_SIZE(certs); i++) {
		certs[i].der = der;
		certs[i].len = sizeof(der);
		certs[i].ext = NULL;
		certs[i].ext_len = 0;
	}
	assert_int_equal(tls13_msg_cert_build((const uint8_t *)"ctx", 3, certs, TLS13_MSG_CERT_MAX, M(out), &n), 0);
	assert_int_equal(tls13_msg_cert_parse(&c, out, n), 0);
	assert_int_equal(c.ctx_len, 3);
	assert_memory_equal(out + c.ctx_off, "ctx", 3);
	assert_int_equal(c.count, TLS13_MSG_CERT_MAX);
	assert_int_equal(tls13_msg_cert_build(NULL, 0, certs, ARRAY_SIZE(certs), M(out), &n), 0);
	assert_int_equal(tls13_msg_cert_parse(&c, out, n), ERR_TOOBIG);
	certs[0].ext = entry_ext_dup;
	certs[0].ext_len = sizeof(entry_ext_dup);
	assert_int_equal(tls13_msg_cert_build(NULL, 0, certs, 1, M(out), &n), 0);
	assert_int_equal(tls13_msg_cert_parse(&c, out, n), ERR_PARSE);
	certs[0].ext_len = 4; /* one status_request entry: fine */
	assert_int_equal(tls13_msg_cert_build(NULL, 0, certs, 1, M(out), &n), 0);
	assert_int_equal(tls13_msg_cert_parse(&c, out, n), 0);
	assert_int_equal(c.entry[0].ext_len, 4);
	/* An empty list parses (a client without a certificate). */
	assert_int_equal(tls13_msg_cert_build(NULL, 0, NULL, 0, M(out), &n), 0);
	assert_int_equal(tls13_msg_cert_parse(&c, out, n), 0);
	assert_int_equal(c.count, 0);
	/* An empty cert_data is malformed, and refused by the builder. */
	certs[0].len = 0;
	assert_int_equal(tls13_msg_cert_build(NULL, 0, certs, 1, M(out), &n), -EINVAL);
	assert_int_equal(tls13_msg_cert_parse(&c, (const uint8_t *)"\x0b\x00\x00\x09\x00\x00\x00\x05\x00\x00\x00\x00\x00",
	                                      13), ERR_PARSE);
}

static void the_writer_reports_overflow_and_misuse(void **state)
{
	struct tls13_msg_wr w;
	uint8_t out[300];
	size_t n;

	tls13_msg_wr_init(&w, out, 4);
	tls13_msg_wr_u16(&w, 1);
	tls13_msg_wr_u24(&w, 2);
	assert_int_equal(tls13_msg_wr_finish(&w, &n), -ENOSPC);
	assert_int_equal(n, 0);

	tls13_msg_wr_init(&w, out, sizeof(out));
	tls13_msg_wr_open(&w, 1);
	tls13_msg_wr_zeros(&w, 256);
	tls13_msg_wr_close(&w);
	assert_int_equal(tls13_msg_wr_finish(&w, &n), ERR_TOOBIG);

	tls13_msg_wr_init(&w, out, sizeof(out));
	tls13_msg_wr_open(&w, 2);
	assert_int_equal(tls13_msg_wr_finish(&w, &n), -EINVAL);
	tls13_msg_wr_init(&w, out, sizeof(out));
	tls13_msg_wr_close(&w);
	assert_int_equal(tls13_msg_wr_finish(&w, &n), -EINVAL);
	tls13_msg_wr_init(&w, out, sizeof(out));
	tls13_msg_wr_open(&w, 4);
	assert_int_equal(tls13_msg_wr_finish(&w, &n), -EINVAL);
	tls13_msg_wr_init(&w, out, sizeof(out));
	for (int i = 0; i <= TLS13_MSG_WR_MAX_DEPTH; i++)
		tls13_msg_wr_open(&w, 1);
	assert_int_equal(tls13_msg_wr_finish(&w, &n), -EINVAL);

	tls13_msg_wr_init(&w, out, sizeof(out));
	tls13_msg_wr_open(&w, 3);
	tls13_msg_wr_open(&w, 2);
	tls13_msg_wr_bytes(&w, "abc", 3);
	tls13_msg_wr_close(&w);
	tls13_msg_wr_close(&w);
	assert_int_equal(tls13_msg_wr_finish(&w, &n), 0);
	assert_int_equal(n, 8);
	assert_memory_equal(out, "\x00\x00\x05\x00\x03" "abc", 8);

	/* Builders pass the errors on. */
	struct tls13_msg_ch_spec spec = { T.ch + 6, NULL, 33, NULL, 0, NULL, 0 };
	uint16_t s = TLS_AES_128_GCM_SHA256;
	assert_int_equal(tls13_msg_ch_build(&spec, M(out), &n), -EINVAL);
	spec.sid_len = 0;
	spec.suites = &s;
	spec.n_suites = 1;
	assert_int_equal(tls13_msg_ch_build(&spec, out, 40, &n), -ENOSPC);
	assert_int_equal(tls13_msg_fin_build(out, 20, M(out), &n), -EINVAL);
}

int main(void)
{
	load_trace();
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(rfc8448_ecdhe_input_is_the_x25519_of_the_trace_keys),
		cmocka_unit_test(rfc8448_early_handshake_and_master_secrets_are_reproduced),
		cmocka_unit_test(rfc8448_traffic_secrets_follow_from_the_transcript),
		cmocka_unit_test(rfc8448_write_keys_and_ivs_are_reproduced),
		cmocka_unit_test(rfc8448_finished_keys_and_values_are_reproduced_and_verified),
		cmocka_unit_test(rfc8448_resumption_secret_is_reproduced),
		cmocka_unit_test(key_schedule_steps_out_of_order_are_refused_and_wipe_clears_everything),
		cmocka_unit_test(transcript_after_hello_retry_request_starts_with_message_hash),
		cmocka_unit_test(sha384_key_schedule_matches_an_independent_computation),
		cmocka_unit_test(key_update_derives_the_next_traffic_secret),
		cmocka_unit_test(rfc8448_server_records_are_decrypted_byte_for_byte),
		cmocka_unit_test(rfc8448_client_records_are_decrypted_byte_for_byte),
		cmocka_unit_test(rfc8448_records_are_encrypted_byte_for_byte),
		cmocka_unit_test(chacha20_poly1305_records_round_trip_and_match_an_independent_computation),
		cmocka_unit_test(aes_256_gcm_sha384_records_round_trip_and_match_an_independent_computation),
		cmocka_unit_test(aes_128_gcm_matches_python_too),
		cmocka_unit_test(every_flipped_bit_of_a_is_protectedrecord_is_refused),
		cmocka_unit_test(record_headers_with_a_bad_type_version_or_length_are_refused),
		cmocka_unit_test(record_rules_depend_on_role_and_key_state),
		cmocka_unit_test(one_ccs_is_dropped_during_the_handshake_and_others_are_refused),
		cmocka_unit_test(partial_records_ask_for_exactly_the_missing_bytes),
		cmocka_unit_test(inner_plaintext_padding_type_and_size_are_enforced),
		cmocka_unit_test(empty_application_records_are_dropped_up_to_a_limit),
		cmocka_unit_test(seal_to_size_pads_to_the_exact_length_or_refuses),
		cmocka_unit_test(sequence_numbers_never_wrap_and_ask_for_a_key_update),
		cmocka_unit_test(the_reassembler_joins_split_messages_and_splits_coalesced_ones),
		cmocka_unit_test(the_reassembler_survives_every_allocation_failure),
		cmocka_unit_test(rfc8448_client_hello_parses_with_every_accessor),
		cmocka_unit_test(rfc8448_messages_are_rebuilt_byte_for_byte),
		cmocka_unit_test(rfc8448_certificate_verify_signs_our_signed_content),
		cmocka_unit_test(rfc8448_server_hello_parses_and_passes_the_client_checks),
		cmocka_unit_test(server_hello_checks_catch_each_mismatch),
		cmocka_unit_test(a_chrome_like_client_hello_parses_with_every_accessor),
		cmocka_unit_test(a_full_handshake_runs_between_our_client_and_server_pieces),
		cmocka_unit_test(grease_values_are_recognised),
		cmocka_unit_test(truncated_or_extended_messages_are_refused_and_change_nothing),
		cmocka_unit_test(every_single_byte_change_parses_in_bounds_or_fails),
		cmocka_unit_test(repeated_extensions_and_a_misplaced_pre_shared_key_are_refused),
		cmocka_unit_test(encrypted_extensions_and_certificates_are_validated),
		cmocka_unit_test(the_writer_reports_overflow_and_misuse),
	};
	return run_group(tests);
}
