/* The REALITY client core against a small TLS 1.3 server written here from
 * the record layer, key schedule and message builders (the server side of
 * specs/reality.md §3.5 without the dest): the REALITY certificate is
 * accepted and data flows both ways; a real certificate (ECDSA, checked as
 * any TLS client would) is completed and closed without data; a wrong HMAC,
 * a bad signature, a bad Finished, a HelloRetryRequest and a session id not
 * echoed are fatal. */
#include "support.h"

#include <errno.h>
#include <string.h>

#include <openssl/evp.h>
#include <openssl/x509.h>

#include "lib/buf.h"
#include "lib/err.h"
#include "reality/reality_auth.h"
#include "reality/reality_client.h"
#include "reality/tls13_msg.h"

#define SERVER_PRIV_TEXT "aGSYystUbf59_9_6LKRxD27rmSW_-2_nyd9YG_Gwbks"
#define SNI              "www.example.com"
#define NOW              1767225600u
#define FLIGHT_MAX       (64 * 1024)

enum cert_kind { CERT_REALITY, CERT_WRONG_HMAC, CERT_ECDSA };

struct opts {
	uint16_t suite, group;
	enum cert_kind cert;
	bool bad_cv, bad_fin, hrr, bad_sid_echo;
};

struct srv {
	struct tls13_record rec;
	struct tls13_keysched ks;
	struct tls13_keysched_transcript tr;
	const struct tls13_keysched_suite *suite;
	uint8_t auth_key[32];
	uint8_t flight[FLIGHT_MAX];
	size_t flight_len;
	uint8_t inner[TLS_MAX_INNER];
};

static uint8_t server_priv[32], server_pub[32];

static int setup(void **state)
{
	(void)state;
	assert_int_equal(reality_auth_key_from_text(server_priv, SERVER_PRIV_TEXT), 0);
	assert_int_equal(reality_auth_x25519_public(server_pub, server_priv), 0);
	return 0;
}

static void client_start(struct reality_client *c, struct buf *out)
{
	struct reality_client_config cfg = {.server_name = SNI};
	memcpy(cfg.server_pub, server_pub, 32);
	memcpy(cfg.short_id, "\xab\xcd\0\0\0\0\0\0", 8);
	assert_int_equal(reality_client_init(c, &cfg, NOW, NULL, NULL), 0);
	buf_init(out, 1 << 20);
	assert_int_equal(reality_client_hello(c, out), 0);
	/* record header 16 03 01, then the hello */
	assert_int_equal(out->data[0], TLS_CT_HANDSHAKE);
	assert_int_equal(tls_get_u16(out->data + 1), TLS_VERSION_10);
	assert_int_equal(out->len, TLS_RECORD_HEADER_LEN + c->ch_len);
}

static void put_plain(struct srv *s, uint8_t type, const uint8_t *d, size_t n)
{
	size_t w;
	assert_int_equal(tls13_record_write_plain(&s->rec, type, d, n, s->flight + s->flight_len,
	                                          sizeof(s->flight) - s->flight_len, &w),
	                 0);
	s->flight_len += w;
}

static void put_sealed(struct srv *s, uint8_t type, const uint8_t *d, size_t n, size_t pad)
{
	size_t w;
	assert_int_equal(tls13_record_seal(&s->rec, type, d, n, pad, s->flight + s->flight_len,
	                                   sizeof(s->flight) - s->flight_len, &w),
	                 0);
	s->flight_len += w;
}

/* A handshake message: sealed in its own record and added to the transcript. */
static void put_hs(struct srv *s, const uint8_t *msg, size_t n)
{
	put_sealed(s, TLS_CT_HANDSHAKE, msg, n, 7);
	assert_int_equal(tls13_keysched_transcript_update(&s->tr, msg, n), 0);
}

static size_t ecdsa_cert(uint8_t *der, size_t cap, EVP_PKEY **key)
{
	X509 *x = X509_new();
	unsigned char *p = der;
	*key = EVP_EC_gen("P-256");
	assert_non_null(*key);
	X509_set_version(x, 2);
	ASN1_INTEGER_set(X509_get_serialNumber(x), 7);
	X509_gmtime_adj(X509_getm_notBefore(x), 0);
	X509_gmtime_adj(X509_getm_notAfter(x), 86400);
	X509_NAME_add_entry_by_txt(X509_get_subject_name(x), "CN", MBSTRING_ASC, (const unsigned char *)SNI, -1, -1, 0);
	X509_set_issuer_name(x, X509_get_subject_name(x));
	X509_set_pubkey(x, *key);
	assert_true(X509_sign(x, *key, EVP_sha256()) > 0);
	int n = i2d_X509(x, NULL);
	assert_true(n > 0 && (size_t)n <= cap);
	i2d_X509(x, &p);
	X509_free(x);
	return (size_t)n;
}

/* The server's whole first flight for the ClientHello in ch. */
static void server_flight(struct srv *s, const uint8_t *ch_rec, size_t ch_rec_len, const struct opts *o)
{
	static const uint8_t random[32] = {0x5e};
	struct tls13_msg_ch ch;
	struct tls13_msg_key_share ks, x;
	struct tls13_msg_sh_spec spec = {.random = random, .suite = o->suite, .group = o->group, .hrr = o->hrr};
	uint8_t eph[32], key[TLS_X25519MLKEM768_SERVER_LEN], ss[64], plain[16], thash[48], msg[4096], sid[32];
	size_t key_len = 32, ss_len = 32, n;
	const uint8_t *ch_msg = ch_rec + TLS_RECORD_HEADER_LEN;
	size_t ch_len = ch_rec_len - TLS_RECORD_HEADER_LEN;
	struct reality_auth_fields f;
	static const uint8_t ccs = 1, ed_seed[32] = {0x80, 0x81, 0x82};

	memset(s, 0, sizeof(*s));
	assert_int_equal(tls13_record_init(&s->rec, TLS13_RECORD_SERVER), 0);
	struct tls13_record_in r;
	assert_int_equal(tls13_record_read(&s->rec, ch_rec, ch_rec_len, s->inner, sizeof(s->inner), &r), 1);
	assert_int_equal(r.used, ch_rec_len);
	assert_int_equal(tls13_msg_ch_parse(&ch, ch_msg, ch_len), 0);
	/* REALITY's check: the standalone X25519 share opens the session id. */
	assert_int_equal(tls13_msg_ch_key_share_find(&ch, TLS_GROUP_X25519, &x), 0);
	assert_int_equal(reality_auth_key_from_ecdh(s->auth_key, server_priv, x.key, tls13_msg_ch_random(&ch)), 0);
	assert_int_equal(reality_auth_open(s->auth_key, ch_msg, ch_len, plain), 0);
	reality_auth_fields_decode(plain, &f);
	assert_int_equal(f.version, CHELLO_REALITY_VERSION);
	assert_int_equal(f.unix_time, NOW);
	assert_memory_equal(f.short_id, "\xab\xcd\0\0\0\0\0\0", 8);

	assert_int_equal(reality_auth_x25519_keypair(eph, key + (o->group == TLS_GROUP_X25519 ? 0 : MLKEM_CT_LEN)), 0);
	if (o->group == TLS_GROUP_X25519) {
		assert_int_equal(reality_auth_x25519(ss, eph, x.key), 0);
	} else {
		assert_int_equal(tls13_msg_ch_key_share_find(&ch, TLS_GROUP_X25519MLKEM768, &ks), 0);
		assert_int_equal(mlkem_encaps(key, ss, ks.key), 0);
		assert_int_equal(reality_auth_x25519(ss + 32, eph, ks.key + MLKEM_EK_LEN), 0);
		key_len = TLS_X25519MLKEM768_SERVER_LEN;
		ss_len = 64;
	}
	memcpy(sid, ch_msg + REALITY_SESSION_ID_OFFSET, 32);
	if (o->bad_sid_echo)
		sid[3] ^= 1;
	spec.sid = sid;
	spec.sid_len = 32;
	spec.key = key;
	spec.key_len = key_len;
	assert_int_equal(tls13_msg_sh_build(&spec, msg, sizeof(msg), &n), 0);
	put_plain(s, TLS_CT_HANDSHAKE, msg, n);
	if (o->hrr)
		return;
	put_plain(s, TLS_CT_CHANGE_CIPHER_SPEC, &ccs, 1);
	s->suite = tls13_keysched_suite(o->suite);
	assert_int_equal(tls13_keysched_transcript_init(&s->tr, s->suite->hash), 0);
	assert_int_equal(tls13_keysched_transcript_update(&s->tr, ch_msg, ch_len), 0);
	assert_int_equal(tls13_keysched_transcript_update(&s->tr, msg, n), 0);
	assert_int_equal(tls13_keysched_transcript_hash(&s->tr, thash), 0);
	assert_int_equal(tls13_keysched_init(&s->ks, s->suite, NULL, 0), 0);
	assert_int_equal(tls13_keysched_handshake(&s->ks, ss, ss_len, thash), 0);
	assert_int_equal(tls13_record_set_secret(&s->rec, true, o->suite, s->ks.s_hs, TLS13_EPOCH_HANDSHAKE), 0);
	assert_int_equal(tls13_record_set_secret(&s->rec, false, o->suite, s->ks.c_hs, TLS13_EPOCH_HANDSHAKE), 0);

	assert_int_equal(tls13_msg_ee_build(NULL, 0, msg, sizeof(msg), &n), 0);
	put_hs(s, msg, n);

	uint8_t der[2048], ed_pub[32];
	size_t der_len = REALITY_CERT_LEN;
	EVP_PKEY *ec = NULL;
	if (o->cert == CERT_ECDSA) {
		der_len = ecdsa_cert(der, sizeof(der), &ec);
	} else {
		uint8_t k[32];
		memcpy(k, s->auth_key, 32);
		if (o->cert == CERT_WRONG_HMAC)
			k[0] ^= 1;
		assert_int_equal(reality_auth_ed25519_public(ed_pub, ed_seed), 0);
		reality_auth_cert_build(der, ed_pub);
		assert_int_equal(reality_auth_cert_sign(der, k), 0);
	}
	struct tls13_msg_cert_in ci = {.der = der, .len = der_len};
	assert_int_equal(tls13_msg_cert_build(NULL, 0, &ci, 1, msg, sizeof(msg), &n), 0);
	put_hs(s, msg, n);

	uint8_t content[TLS_CV_CONTENT_MAX], sig[256];
	size_t content_len, sig_len = 64;
	assert_int_equal(tls13_keysched_transcript_hash(&s->tr, thash), 0);
	assert_int_equal(tls13_msg_cv_content(true, thash, s->suite->hash_len, content, sizeof(content), &content_len),
	                 0);
	if (ec) {
		EVP_MD_CTX *md = EVP_MD_CTX_new();
		sig_len = sizeof(sig);
		assert_int_equal(EVP_DigestSignInit(md, NULL, EVP_sha256(), NULL, ec), 1);
		assert_int_equal(EVP_DigestSign(md, sig, &sig_len, content, content_len), 1);
		EVP_MD_CTX_free(md);
		EVP_PKEY_free(ec);
	} else {
		assert_int_equal(reality_auth_ed25519_sign(sig, ed_seed, content, content_len), 0);
	}
	if (o->bad_cv)
		sig[10] ^= 1;
	assert_int_equal(tls13_msg_cv_build(ec ? TLS_SIG_ECDSA_SECP256R1_SHA256 : TLS_SIG_ED25519, sig, sig_len, msg,
	                                    sizeof(msg), &n),
	                 0);
	put_hs(s, msg, n);

	uint8_t vd[48];
	assert_int_equal(tls13_keysched_transcript_hash(&s->tr, thash), 0);
	assert_int_equal(tls13_keysched_finished(s->suite->hash, s->ks.s_hs, thash, vd), 0);
	if (o->bad_fin)
		vd[0] ^= 1;
	assert_int_equal(tls13_msg_fin_build(vd, s->suite->hash_len, msg, sizeof(msg), &n), 0);
	put_hs(s, msg, n);
	assert_int_equal(tls13_keysched_transcript_hash(&s->tr, thash), 0);
	assert_int_equal(tls13_keysched_application(&s->ks, thash), 0);
	assert_int_equal(tls13_record_set_secret(&s->rec, true, o->suite, s->ks.s_ap, TLS13_EPOCH_APPLICATION), 0);
	/* REALITY's post-handshake imitation: empty application-data records. */
	put_sealed(s, TLS_CT_APPLICATION_DATA, NULL, 0, 40);
	put_sealed(s, TLS_CT_APPLICATION_DATA, NULL, 0, 200);
}

static void srv_fini(struct srv *s)
{
	tls13_record_fini(&s->rec);
	tls13_keysched_wipe(&s->ks);
	tls13_keysched_transcript_fini(&s->tr);
}

/* The server reads one record of what the client sent. */
static struct tls13_record_in srv_read(struct srv *s, struct buf *from)
{
	struct tls13_record_in r;
	assert_int_equal(tls13_record_read(&s->rec, from->data, from->len, s->inner, sizeof(s->inner), &r), 1);
	buf_consume(from, r.used);
	return r;
}

/* Feeds the flight to the client in pieces of step bytes. */
static int feed(struct reality_client *c, const uint8_t *in, size_t len, size_t step, struct buf *out,
                size_t *left)
{
	size_t at = 0, have = 0, used;
	int rc = 0;
	static uint8_t pend[FLIGHT_MAX];
	while (at < len) {
		size_t n = len - at < step ? len - at : step;
		memcpy(pend + have, in + at, n);
		have += n;
		at += n;
		rc = reality_client_handshake(c, pend, have, &used, out);
		memmove(pend, pend + used, have - used);
		have -= used;
		if (rc != 0)
			break;
	}
	*left = have + (len - at);
	return rc;
}

static void handshake_and_data(const struct opts *o, size_t step)
{
	static struct reality_client c;
	static struct srv s;
	struct buf out;
	struct tls13_record_in r;
	const uint8_t *data;
	size_t used, dlen, left;

	client_start(&c, &out);
	server_flight(&s, out.data, out.len, o);
	buf_reset(&out);
	assert_int_equal(feed(&c, s.flight, s.flight_len, step, &out, &left), REALITY_CLIENT_OURS);
	assert_int_equal(c.state, REALITY_CLIENT_CONNECTED);
	assert_true(c.verified);
	/* The empty records follow Finished and are left for _read. */
	assert_true(left > 0);
	assert_int_equal(reality_client_read(&c, s.flight + s.flight_len - left, left, &used, &data, &dlen, &out), 1);
	assert_int_equal(dlen, 0);
	left -= used;
	assert_int_equal(reality_client_read(&c, s.flight + s.flight_len - left, left, &used, &data, &dlen, &out), 1);
	assert_int_equal(left, used);
	/* The client sent CCS then Finished; the server checks Finished. */
	r = srv_read(&s, &out);
	assert_true(r.dropped);
	r = srv_read(&s, &out);
	assert_int_equal(r.type, TLS_CT_HANDSHAKE);
	uint8_t thash[48];
	assert_int_equal(tls13_keysched_transcript_hash(&s.tr, thash), 0);
	assert_int_equal(tls13_msg_fin_verify(s.suite->hash, s.ks.c_hs, thash, r.data, r.len), 0);
	assert_int_equal(out.len, 0);
	assert_int_equal(tls13_record_set_secret(&s.rec, false, o->suite, s.ks.c_ap, TLS13_EPOCH_APPLICATION), 0);

	/* Data both ways, and a record larger than 2^14 split by the client. */
	static uint8_t big[40000];
	for (size_t i = 0; i < sizeof(big); i++)
		big[i] = (uint8_t)(i * 7);
	assert_int_equal(reality_client_write(&c, big, sizeof(big), &out), 0);
	size_t got = 0;
	while (out.len) {
		r = srv_read(&s, &out);
		assert_int_equal(r.type, TLS_CT_APPLICATION_DATA);
		assert_memory_equal(r.data, big + got, r.len);
		got += r.len;
	}
	assert_int_equal(got, sizeof(big));

	s.flight_len = 0;
	put_sealed(&s, TLS_CT_APPLICATION_DATA, (const uint8_t *)"\x00\x00hello", 7, 3);
	/* A ticket is skipped; a KeyUpdate asking for ours is answered. */
	static const uint8_t nst[] = {4, 0, 0, 14, 0, 0, 0, 60, 1, 2, 3, 4, 0, 0, 1, 0xaa, 0, 0};
	put_sealed(&s, TLS_CT_HANDSHAKE, nst, sizeof(nst), 0);
	uint8_t ku[5];
	size_t ku_len;
	assert_int_equal(tls13_msg_key_update_build(true, ku, sizeof(ku), &ku_len), 0);
	put_sealed(&s, TLS_CT_HANDSHAKE, ku, ku_len, 0);
	assert_int_equal(tls13_keysched_update(s.suite->hash, s.ks.s_ap), 0);
	assert_int_equal(tls13_record_set_secret(&s.rec, true, o->suite, s.ks.s_ap, TLS13_EPOCH_APPLICATION), 0);
	put_sealed(&s, TLS_CT_APPLICATION_DATA, (const uint8_t *)"after", 5, 0);
	static const uint8_t close_notify[2] = {1, 0};
	put_sealed(&s, TLS_CT_ALERT, close_notify, 2, 0);

	size_t at = 0;
	assert_int_equal(reality_client_read(&c, s.flight, 3, &used, &data, &dlen, &out), 0);
	assert_int_equal(reality_client_read(&c, s.flight, s.flight_len, &used, &data, &dlen, &out), 1);
	assert_int_equal(dlen, 7);
	assert_memory_equal(data, "\x00\x00hello", 7);
	at += used;
	for (int i = 0; i < 2; i++) {
		assert_int_equal(reality_client_read(&c, s.flight + at, s.flight_len - at, &used, &data, &dlen, &out), 1);
		assert_int_equal(dlen, 0);
		at += used;
	}
	assert_int_equal(reality_client_read(&c, s.flight + at, s.flight_len - at, &used, &data, &dlen, &out), 1);
	assert_int_equal(dlen, 5);
	assert_memory_equal(data, "after", 5);
	at += used;
	/* The client's KeyUpdate answer (not requesting), under its old key. */
	r = srv_read(&s, &out);
	assert_int_equal(r.type, TLS_CT_HANDSHAKE);
	bool requested = true;
	assert_int_equal(tls13_msg_key_update_parse(r.data, r.len, &requested), 0);
	assert_false(requested);
	assert_int_equal(tls13_keysched_update(s.suite->hash, s.ks.c_ap), 0);
	assert_int_equal(tls13_record_set_secret(&s.rec, false, o->suite, s.ks.c_ap, TLS13_EPOCH_APPLICATION), 0);
	assert_int_equal(reality_client_write(&c, (const uint8_t *)"new key", 7, &out), 0);
	r = srv_read(&s, &out);
	assert_memory_equal(r.data, "new key", 7);
	assert_int_equal(reality_client_read(&c, s.flight + at, s.flight_len - at, &used, &data, &dlen, &out),
	                 REALITY_CLIENT_EOF);
	/* Our close_notify. */
	assert_int_equal(reality_client_close(&c, &out), 0);
	r = srv_read(&s, &out);
	assert_int_equal(r.type, TLS_CT_ALERT);
	assert_int_equal(reality_client_write(&c, (const uint8_t *)"x", 1, &out), ERR_BADSTATE);

	buf_fini(&out);
	reality_client_fini(&c);
	srv_fini(&s);
}

static void the_reality_certificate_is_accepted_over_x25519_and_data_flows(void **state)
{
	(void)state;
	struct opts o = {.suite = TLS_AES_128_GCM_SHA256, .group = TLS_GROUP_X25519};
	handshake_and_data(&o, FLIGHT_MAX);
}

static void the_hybrid_group_and_sha384_work_fed_a_byte_at_a_time(void **state)
{
	(void)state;
	struct opts o = {.suite = TLS_AES_256_GCM_SHA384, .group = TLS_GROUP_X25519MLKEM768};
	handshake_and_data(&o, 1);
}

static void chacha20_poly1305_works_fed_in_odd_pieces(void **state)
{
	(void)state;
	struct opts o = {.suite = TLS_CHACHA20_POLY1305_SHA256, .group = TLS_GROUP_X25519MLKEM768};
	handshake_and_data(&o, 333);
}

static void a_real_certificate_completes_the_handshake_but_carries_no_data(void **state)
{
	(void)state;
	static struct reality_client c;
	static struct srv s;
	struct opts o = {.suite = TLS_AES_128_GCM_SHA256, .group = TLS_GROUP_X25519, .cert = CERT_ECDSA};
	struct tls13_record_in r;
	struct buf out;
	size_t left;

	client_start(&c, &out);
	server_flight(&s, out.data, out.len, &o);
	buf_reset(&out);
	assert_int_equal(feed(&c, s.flight, s.flight_len, 100, &out, &left), REALITY_CLIENT_NOT_OURS);
	assert_int_equal(c.state, REALITY_CLIENT_REFUSED);
	assert_false(c.verified);
	/* CCS, a valid Finished, then close_notify; nothing else. */
	r = srv_read(&s, &out);
	assert_true(r.dropped);
	r = srv_read(&s, &out);
	uint8_t thash[48];
	assert_int_equal(tls13_keysched_transcript_hash(&s.tr, thash), 0);
	assert_int_equal(tls13_msg_fin_verify(s.suite->hash, s.ks.c_hs, thash, r.data, r.len), 0);
	assert_int_equal(tls13_record_set_secret(&s.rec, false, o.suite, s.ks.c_ap, TLS13_EPOCH_APPLICATION), 0);
	r = srv_read(&s, &out);
	assert_int_equal(r.type, TLS_CT_ALERT);
	assert_memory_equal(r.data, "\x01\x00", 2);
	assert_int_equal(out.len, 0);
	assert_int_equal(reality_client_write(&c, (const uint8_t *)"VLESS", 5, &out), ERR_BADSTATE);
	assert_int_equal(out.len, 0);
	buf_fini(&out);
	reality_client_fini(&c);
	srv_fini(&s);
}

static void fatal(const struct opts *o, int want)
{
	static struct reality_client c;
	static struct srv s;
	struct buf out;
	size_t left;

	client_start(&c, &out);
	server_flight(&s, out.data, out.len, o);
	buf_reset(&out);
	assert_int_equal(feed(&c, s.flight, s.flight_len, FLIGHT_MAX, &out, &left), want);
	assert_int_equal(c.state, REALITY_CLIENT_FAILED);
	assert_int_equal(out.len, 0);
	assert_int_equal(reality_client_write(&c, (const uint8_t *)"x", 1, &out), ERR_BADSTATE);
	buf_fini(&out);
	reality_client_fini(&c);
	srv_fini(&s);
}

static void a_wrong_hmac_bad_signature_or_bad_finished_is_fatal(void **state)
{
	(void)state;
	struct opts o = {.suite = TLS_AES_128_GCM_SHA256, .group = TLS_GROUP_X25519};
	/* A self-made Ed25519 certificate without our HMAC: Ed25519 is not a
	 * scheme we offer to anyone but REALITY. */
	o.cert = CERT_WRONG_HMAC;
	fatal(&o, ERR_PROTO);
	o.cert = CERT_REALITY;
	o.bad_cv = true;
	fatal(&o, ERR_AUTH);
	o.bad_cv = false;
	o.bad_fin = true;
	fatal(&o, ERR_AUTH);
	o.bad_fin = false;
	o.cert = CERT_ECDSA;
	o.bad_cv = true;
	fatal(&o, ERR_AUTH);
}

static void a_retry_request_or_a_changed_session_id_is_fatal(void **state)
{
	(void)state;
	struct opts o = {.suite = TLS_AES_128_GCM_SHA256, .group = TLS_GROUP_SECP256R1, .hrr = true};
	fatal(&o, ERR_PROTO);
	o = (struct opts){.suite = TLS_AES_128_GCM_SHA256, .group = TLS_GROUP_X25519, .bad_sid_echo = true};
	fatal(&o, ERR_PROTO);
}

static void garbage_and_out_of_order_calls_are_refused(void **state)
{
	(void)state;
	static struct reality_client c;
	struct buf out;
	size_t used;
	const uint8_t *data;
	size_t dlen;
	static const uint8_t alert[] = {21, 3, 3, 0, 2, 2, 40};
	client_start(&c, &out);
	assert_int_equal(reality_client_read(&c, alert, sizeof(alert), &used, &data, &dlen, &out), ERR_BADSTATE);
	assert_int_equal(reality_client_write(&c, alert, 1, &out), ERR_BADSTATE);
	/* A server alert instead of ServerHello. */
	assert_int_equal(reality_client_handshake(&c, alert, sizeof(alert), &used, &out), ERR_PROTO);
	assert_int_equal(reality_client_handshake(&c, alert, sizeof(alert), &used, &out), ERR_BADSTATE);
	buf_fini(&out);
	reality_client_fini(&c);
	reality_client_fini(&c); /* twice is fine */
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(the_reality_certificate_is_accepted_over_x25519_and_data_flows),
		cmocka_unit_test(the_hybrid_group_and_sha384_work_fed_a_byte_at_a_time),
		cmocka_unit_test(chacha20_poly1305_works_fed_in_odd_pieces),
		cmocka_unit_test(a_real_certificate_completes_the_handshake_but_carries_no_data),
		cmocka_unit_test(a_wrong_hmac_bad_signature_or_bad_finished_is_fatal),
		cmocka_unit_test(a_retry_request_or_a_changed_session_id_is_fatal),
		cmocka_unit_test(garbage_and_out_of_order_calls_are_refused),
	};
	return cmocka_run_group_tests_name(__FILE__, tests, setup, NULL);
}
