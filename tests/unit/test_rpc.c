/* The gRPC server and client together, in one process, over TLS 1.3 with
 * mutual authentication on 127.0.0.1. Certificates are made here with
 * OpenSSL: a CA, a server certificate (IP SAN 127.0.0.1), a client
 * certificate, a second client certificate the policy refuses, and a CA and
 * client certificate nobody trusts. */
#include "support.h"

#include <errno.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "lib/buf.h"
#include "lib/mem.h"
#include "rpc/client.h"
#include "rpc/meta.h"
#include "rpc/peer.h"
#include "rpc/server.h"
#include "rpc/status.h"

struct pki {
	char dir[64];
	char ca[96], srv_cert[96], srv_key[96], cli_cert[96], cli_key[96];
	char rogue_cert[96], rogue_key[96], other_ca[96], stranger_cert[96], stranger_key[96];
};

static struct pki pki;

/* ---- certificates ---- */

static EVP_PKEY *make_key(void)
{
	EVP_PKEY *k = EVP_EC_gen("P-256");
	assert_non_null(k);
	return k;
}

static void add_ext(X509 *cert, X509 *issuer, int nid, const char *value)
{
	X509V3_CTX ctx;
	X509V3_set_ctx_nodb(&ctx);
	X509V3_set_ctx(&ctx, issuer, cert, NULL, NULL, 0);
	X509_EXTENSION *ext = X509V3_EXT_conf_nid(NULL, &ctx, nid, value);
	assert_non_null(ext);
	assert_int_equal(X509_add_ext(cert, ext, -1), 1);
	X509_EXTENSION_free(ext);
}

/* issuer NULL: self-signed CA. */
static X509 *make_cert(EVP_PKEY *key, const char *cn, X509 *issuer, EVP_PKEY *issuer_key, bool ca, const char *eku,
                       const char *san)
{
	static long serial = 1;
	X509 *c = X509_new();

	assert_non_null(c);
	X509_set_version(c, 2);
	ASN1_INTEGER_set(X509_get_serialNumber(c), serial++);
	X509_gmtime_adj(X509_getm_notBefore(c), -300);
	X509_gmtime_adj(X509_getm_notAfter(c), 3600);
	X509_set_pubkey(c, key);
	X509_NAME *name = X509_get_subject_name(c);
	X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, (const unsigned char *)cn, -1, -1, 0);
	X509_set_issuer_name(c, issuer ? X509_get_subject_name(issuer) : name);
	X509 *iss = issuer ? issuer : c;
	if (ca) {
		add_ext(c, iss, NID_basic_constraints, "critical,CA:TRUE");
		add_ext(c, iss, NID_key_usage, "critical,keyCertSign,cRLSign");
	} else {
		add_ext(c, iss, NID_basic_constraints, "critical,CA:FALSE");
		add_ext(c, iss, NID_key_usage, "critical,digitalSignature");
		add_ext(c, iss, NID_ext_key_usage, eku);
	}
	if (san)
		add_ext(c, iss, NID_subject_alt_name, san);
	assert_true(X509_sign(c, issuer_key ? issuer_key : key, EVP_sha256()) > 0);
	return c;
}

static void write_pem(const char *path, X509 *cert, EVP_PKEY *key)
{
	FILE *f = fopen(path, "w");
	assert_non_null(f);
	if (cert)
		assert_int_equal(PEM_write_X509(f, cert), 1);
	if (key)
		assert_int_equal(PEM_write_PrivateKey(f, key, NULL, NULL, 0, NULL, NULL), 1);
	fclose(f);
}

static void leaf(const char *cert_path, const char *key_path, const char *cn, const char *eku, const char *san,
                 X509 *ca, EVP_PKEY *ca_key)
{
	EVP_PKEY *k = make_key();
	X509 *c = make_cert(k, cn, ca, ca_key, false, eku, san);
	write_pem(cert_path, c, NULL);
	write_pem(key_path, NULL, k);
	X509_free(c);
	EVP_PKEY_free(k);
}

static int make_pki(void **state)
{
	snprintf(pki.dir, sizeof(pki.dir), "/tmp/pharos-rpc-test-XXXXXX");
	assert_non_null(mkdtemp(pki.dir));
#define P(field, name) snprintf(pki.field, sizeof(pki.field), "%s/%s", pki.dir, name)
	P(ca, "ca.pem");
	P(srv_cert, "server.pem");
	P(srv_key, "server.key");
	P(cli_cert, "client.pem");
	P(cli_key, "client.key");
	P(rogue_cert, "rogue.pem");
	P(rogue_key, "rogue.key");
	P(other_ca, "other-ca.pem");
	P(stranger_cert, "stranger.pem");
	P(stranger_key, "stranger.key");
#undef P
	EVP_PKEY *ca_key = make_key(), *other_key = make_key();
	X509 *ca = make_cert(ca_key, "Test CA", NULL, NULL, true, NULL, NULL);
	X509 *other = make_cert(other_key, "Other CA", NULL, NULL, true, NULL, NULL);
	write_pem(pki.ca, ca, NULL);
	write_pem(pki.other_ca, other, NULL);
	leaf(pki.srv_cert, pki.srv_key, "node-a", "serverAuth", "IP:127.0.0.1,DNS:node-a.test", ca, ca_key);
	leaf(pki.cli_cert, pki.cli_key, "coxswain-controller", "clientAuth", NULL, ca, ca_key);
	leaf(pki.rogue_cert, pki.rogue_key, "some-device", "clientAuth", NULL, ca, ca_key);
	leaf(pki.stranger_cert, pki.stranger_key, "coxswain-controller", "clientAuth", NULL, other, other_key);
	X509_free(ca);
	X509_free(other);
	EVP_PKEY_free(ca_key);
	EVP_PKEY_free(other_key);
	return 0;
}

static int remove_pki(void **state)
{
	const char *files[] = { pki.ca, pki.srv_cert, pki.srv_key, pki.cli_cert, pki.cli_key, pki.rogue_cert,
	                        pki.rogue_key, pki.other_ca, pki.stranger_cert, pki.stranger_key };
	for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++)
		unlink(files[i]);
	rmdir(pki.dir);
	return 0;
}

/* ---- the test server ---- */

struct fixture {
	struct rpc_server *srv;
	char target[32];
	atomic_int slow_cancelled;
	atomic_int stream_cancels;
	atomic_int policy_calls;
};

static void sleep_ms(int ms)
{
	struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000 };
	nanosleep(&ts, NULL);
}

static bool cn_is(X509 *cert, const char *want)
{
	char cn[128];
	return cert && X509_NAME_get_text_by_NID(X509_get_subject_name(cert), NID_commonName, cn, sizeof(cn)) > 0 &&
	       !strcmp(cn, want);
}

/* The certificate-role policy stand-in: only the controller may call. */
static int controller_only(void *ctx, X509 *leaf_cert, STACK_OF(X509) *chain)
{
	struct fixture *f = ctx;
	atomic_fetch_add(&f->policy_calls, 1);
	return cn_is(leaf_cert, "coxswain-controller") && sk_X509_num(chain) == 2 ? 0 : -1;
}

/* Echo: the request back, or the x-echo metadata value if sent; checks the
 * peer identity reached the handler. */
static void echo(void *ctx, const struct rpc_call *call, const uint8_t *req, size_t len, struct buf *resp,
                 struct rpc_status *st)
{
	const struct rpc_peer *peer = rpc_call_peer(call);
	const uint8_t *v;
	size_t vlen;

	if (!cn_is(rpc_peer_cert(peer), "coxswain-controller") || !rpc_peer_chain(peer)) {
		rpc_status_set(st, RPC_PERMISSION_DENIED, "no controller certificate");
		return;
	}
	v = rpc_meta_get(rpc_call_meta(call), "x-echo-bin", &vlen);
	if (!v)
		v = rpc_meta_get(rpc_call_meta(call), "x-echo", &vlen);
	if (v) {
		req = v;
		len = vlen;
	}
	if (buf_append(resp, req, len) < 0)
		rpc_status_set(st, RPC_RESOURCE_EXHAUSTED, "response too big");
}

static void fail_with_status(void *ctx, const struct rpc_call *call, const uint8_t *req, size_t len,
                             struct buf *resp, struct rpc_status *st)
{
	rpc_status_set(st, RPC_FAILED_PRECONDITION, "revision 7 < applied 9: 100%% refused \xe2\x9c\x97");
}

static void slow(void *ctx, const struct rpc_call *call, const uint8_t *req, size_t len, struct buf *resp,
                 struct rpc_status *st)
{
	struct fixture *f = ctx;
	for (int i = 0; i < 60 && !rpc_call_cancelled(call); i++)
		sleep_ms(10);
	if (rpc_call_cancelled(call))
		atomic_fetch_add(&f->slow_cancelled, 1);
	if (buf_append(resp, "slow", 4) < 0)
		rpc_status_set(st, RPC_INTERNAL, NULL);
}

static void big_reply(void *ctx, const struct rpc_call *call, const uint8_t *req, size_t len, struct buf *resp,
                      struct rpc_status *st)
{
	if (buf_reserve(resp, 200 * 1024) < 0) {
		rpc_status_set(st, RPC_INTERNAL, NULL);
		return;
	}
	memset(resp->data, 'b', 200 * 1024);
	buf_advance(resp, 200 * 1024);
}

/* Count: the request is a decimal count; message i is "i" as 8 bytes. */
static void count(void *ctx, const struct rpc_call *call, const uint8_t *req, size_t len, struct rpc_stream *st)
{
	char text[16] = "";
	unsigned long n;

	memcpy(text, req, len < sizeof(text) - 1 ? len : sizeof(text) - 1);
	n = strtoul(text, NULL, 10);
	for (unsigned long i = 0; i < n; i++) {
		uint64_t v = i;
		if (rpc_stream_send(st, (const uint8_t *)&v, sizeof(v)) < 0) {
			rpc_stream_finish(st, RPC_CANCELLED, "gone");
			return;
		}
	}
	rpc_stream_finish(st, RPC_OK, NULL);
}

static void on_stream_cancel(void *ctx)
{
	struct fixture *f = ctx;
	atomic_fetch_add(&f->stream_cancels, 1);
}

/* Endless: sends until cancelled, and counts the cancellation. */
static void endless(void *ctx, const struct rpc_call *call, const uint8_t *req, size_t len, struct rpc_stream *st)
{
	uint64_t i = 0;

	rpc_stream_on_cancel(st, on_stream_cancel, ctx);
	while (rpc_stream_send(st, (const uint8_t *)&i, sizeof(i)) == 0)
		i++;
	rpc_stream_finish(st, RPC_OK, NULL);
}

static void server_opts(struct rpc_server_opts *o, struct fixture *f)
{
	memset(o, 0, sizeof(*o));
	o->listen = "127.0.0.1:0";
	o->tls.cert = pki.srv_cert;
	o->tls.key = pki.srv_key;
	o->tls.ca = pki.ca;
	o->tls.verify = controller_only;
	o->tls.verify_ctx = f;
	o->max_recv_msg = 64 * 1024;
	o->handler_threads = 4;
}

static void start_server(struct fixture *f)
{
	struct rpc_server_opts o;
	struct rpc_stream_opts block = { .queue_bytes = 64 * 1024, .policy = RPC_STREAM_BLOCK, .block_ms = 5000 };

	server_opts(&o, f);
	assert_int_equal(rpc_server_new(&f->srv, &o), 0);
	assert_int_equal(rpc_server_handle_unary(f->srv, "/t.Test/Echo", echo, f), 0);
	assert_int_equal(rpc_server_handle_unary(f->srv, "/t.Test/Fail", fail_with_status, f), 0);
	assert_int_equal(rpc_server_handle_unary(f->srv, "/t.Test/Slow", slow, f), 0);
	assert_int_equal(rpc_server_handle_unary(f->srv, "/t.Test/Big", big_reply, f), 0);
	assert_int_equal(rpc_server_handle_stream(f->srv, "/t.Test/Count", count, f, &block), 0);
	assert_int_equal(rpc_server_handle_stream(f->srv, "/t.Test/Endless", endless, f, &block), 0);
	assert_int_equal(rpc_server_handle_unary(f->srv, "/t.Test/Echo", echo, f), ERR_EXISTS);
	assert_int_equal(rpc_server_handle_unary(f->srv, "no-slash", echo, f), -EINVAL);
	assert_int_equal(rpc_server_start(f->srv), 0);
	assert_int_equal(rpc_server_handle_unary(f->srv, "/t.Test/Late", echo, f), ERR_BADSTATE);
	snprintf(f->target, sizeof(f->target), "127.0.0.1:%u", rpc_server_port(f->srv));
}

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	start_server(f);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;
	rpc_server_free(f->srv);
	free(f);
	return 0;
}

static struct rpc_client *client_as(struct fixture *f, const char *cert, const char *key, const char *ca)
{
	struct rpc_client_opts o = { 0 };
	struct rpc_client *cli;

	o.target = f->target;
	o.tls.cert = cert;
	o.tls.key = key;
	o.tls.ca = ca;
	o.max_recv_msg = 128 * 1024;
	assert_int_equal(rpc_client_new(&cli, &o), 0);
	return cli;
}

static struct rpc_client *controller(struct fixture *f)
{
	return client_as(f, pki.cli_cert, pki.cli_key, pki.ca);
}

/* ---- tests ---- */

static void a_unary_call_echoes_its_request_and_metadata(void **state)
{
	struct fixture *f = *state;
	struct rpc_client *cli = controller(f);
	struct rpc_status st;
	struct rpc_meta md;
	uint8_t *resp;
	size_t len;

	assert_int_equal(rpc_client_unary(cli, "/t.Test/Echo", (const uint8_t *)"hello", 5, NULL, 2000, &resp, &len, &st), 0);
	assert_int_equal(st.code, RPC_OK);
	assert_int_equal(len, 5);
	assert_memory_equal(resp, "hello", 5);
	mem_free(resp);

	/* An empty request is one empty message, not none. */
	assert_int_equal(rpc_client_unary(cli, "/t.Test/Echo", NULL, 0, NULL, 0, &resp, &len, &st), 0);
	assert_int_equal(len, 0);
	mem_free(resp);

	rpc_meta_init(&md);
	const uint8_t bin[] = { 0, 1, 2, 0xff, 0xfe };
	assert_int_equal(rpc_meta_add(&md, "x-echo-bin", bin, sizeof(bin)), 0);
	assert_int_equal(rpc_client_unary(cli, "/t.Test/Echo", (const uint8_t *)"x", 1, &md, 2000, &resp, &len, &st), 0);
	assert_int_equal(len, sizeof(bin));
	assert_memory_equal(resp, bin, sizeof(bin));
	mem_free(resp);
	rpc_meta_reset(&md);
	assert_int_equal(rpc_meta_add_str(&md, "x-echo", "plain text"), 0);
	assert_int_equal(rpc_client_unary(cli, "/t.Test/Echo", (const uint8_t *)"x", 1, &md, 2000, &resp, &len, &st), 0);
	assert_int_equal(len, 10);
	assert_memory_equal(resp, "plain text", 10);
	mem_free(resp);
	rpc_meta_fini(&md);
	rpc_client_free(cli);
}

static void an_error_status_and_its_message_reach_the_client_intact(void **state)
{
	struct fixture *f = *state;
	struct rpc_client *cli = controller(f);
	struct rpc_status st;
	uint8_t *resp;
	size_t len;

	assert_int_equal(rpc_client_unary(cli, "/t.Test/Fail", (const uint8_t *)"x", 1, NULL, 2000, &resp, &len, &st),
	                 -EREMOTEIO);
	assert_int_equal(st.code, RPC_FAILED_PRECONDITION);
	assert_string_equal(st.message, "revision 7 < applied 9: 100% refused \xe2\x9c\x97");
	assert_null(resp);
	rpc_client_free(cli);
}

static void an_unknown_method_is_unimplemented(void **state)
{
	struct fixture *f = *state;
	struct rpc_client *cli = controller(f);
	struct rpc_status st;
	uint8_t *resp;
	size_t len;

	assert_int_equal(rpc_client_unary(cli, "/t.Test/Nope", (const uint8_t *)"x", 1, NULL, 2000, &resp, &len, &st),
	                 -EREMOTEIO);
	assert_int_equal(st.code, RPC_UNIMPLEMENTED);
	assert_non_null(strstr(st.message, "/t.Test/Nope"));
	rpc_client_free(cli);
}

static int count_msgs(void *ctx, const uint8_t *msg, size_t len)
{
	uint64_t *next = ctx, v;

	if (len != sizeof(v))
		return 1;
	memcpy(&v, msg, sizeof(v));
	if (v != *next)
		return 1;
	(*next)++;
	return 0;
}

static void a_server_stream_delivers_ten_thousand_messages_in_order(void **state)
{
	struct fixture *f = *state;
	struct rpc_client *cli = controller(f);
	struct rpc_status st;
	uint64_t next = 0;

	assert_int_equal(rpc_client_stream(cli, "/t.Test/Count", (const uint8_t *)"10000", 5, NULL, 20000, count_msgs,
	                                   &next, NULL, &st), 0);
	assert_int_equal(st.code, RPC_OK);
	assert_true(next == 10000);
	/* And an empty stream ends OK with no message. */
	next = 0;
	assert_int_equal(rpc_client_stream(cli, "/t.Test/Count", (const uint8_t *)"0", 1, NULL, 2000, count_msgs, &next,
	                                   NULL, &st), 0);
	assert_true(next == 0);
	rpc_client_free(cli);
}

static int stop_after_five(void *ctx, const uint8_t *msg, size_t len)
{
	int *n = ctx;
	return ++*n >= 5;
}

static void a_client_that_stops_reading_cancels_the_stream_and_the_handler_hears_it(void **state)
{
	struct fixture *f = *state;
	struct rpc_client *cli = controller(f);
	struct rpc_status st;
	int n = 0;

	assert_int_equal(rpc_client_stream(cli, "/t.Test/Endless", NULL, 0, NULL, 5000, stop_after_five, &n, NULL, &st),
	                 -EREMOTEIO);
	assert_int_equal(st.code, RPC_CANCELLED);
	assert_int_equal(n, 5);
	for (int i = 0; i < 200 && atomic_load(&f->stream_cancels) == 0; i++)
		sleep_ms(10);
	assert_int_equal(atomic_load(&f->stream_cancels), 1);
	rpc_client_free(cli);
}

struct canceller {
	struct rpc_cancel *tok;
};

static void *fire_later(void *arg)
{
	struct canceller *c = arg;
	sleep_ms(100);
	rpc_cancel_fire(c->tok);
	return NULL;
}

static int keep_going(void *ctx, const uint8_t *msg, size_t len)
{
	return 0;
}

static void a_cancel_token_ends_a_stream_from_another_thread(void **state)
{
	struct fixture *f = *state;
	struct rpc_client *cli = controller(f);
	struct rpc_cancel tok;
	struct canceller c = { &tok };
	struct rpc_status st;
	pthread_t t;

	rpc_cancel_init(&tok);
	assert_int_equal(pthread_create(&t, NULL, fire_later, &c), 0);
	assert_int_equal(rpc_client_stream(cli, "/t.Test/Endless", NULL, 0, NULL, 10000, keep_going, NULL, &tok, &st),
	                 -EREMOTEIO);
	assert_int_equal(st.code, RPC_CANCELLED);
	pthread_join(t, NULL);
	rpc_cancel_fini(&tok);
	rpc_client_free(cli);
}

static void a_call_past_its_deadline_ends_and_the_handler_sees_it_cancelled(void **state)
{
	struct fixture *f = *state;
	struct rpc_client *cli = controller(f);
	struct rpc_status st;
	uint8_t *resp;
	size_t len;
	uint64_t t0 = (uint64_t)time(NULL);

	assert_int_equal(rpc_client_unary(cli, "/t.Test/Slow", (const uint8_t *)"x", 1, NULL, 100, &resp, &len, &st),
	                 -EREMOTEIO);
	assert_int_equal(st.code, RPC_DEADLINE_EXCEEDED);
	assert_true((uint64_t)time(NULL) - t0 <= 2);
	for (int i = 0; i < 200 && atomic_load(&f->slow_cancelled) == 0; i++)
		sleep_ms(10);
	assert_int_equal(atomic_load(&f->slow_cancelled), 1);
	rpc_client_free(cli);
}

static void oversized_messages_are_resource_exhausted_both_ways(void **state)
{
	struct fixture *f = *state;
	struct rpc_client *cli = controller(f);
	struct rpc_status st;
	uint8_t *resp, *big = mem_zalloc(100 * 1024);
	size_t len;

	assert_int_equal(rpc_client_unary(cli, "/t.Test/Echo", big, 100 * 1024, NULL, 5000, &resp, &len, &st), -EREMOTEIO);
	assert_int_equal(st.code, RPC_RESOURCE_EXHAUSTED);
	/* The connection survives: the next call works. */
	assert_int_equal(rpc_client_unary(cli, "/t.Test/Echo", big, 1000, NULL, 5000, &resp, &len, &st), 0);
	mem_free(resp);
	/* 200 KiB back against the client's 128 KiB limit. */
	assert_int_equal(rpc_client_unary(cli, "/t.Test/Big", big, 1, NULL, 5000, &resp, &len, &st), -EREMOTEIO);
	assert_int_equal(st.code, RPC_RESOURCE_EXHAUSTED);
	mem_free(big);
	rpc_client_free(cli);
}

static void expect_refused(struct fixture *f, struct rpc_client *cli)
{
	struct rpc_status st;
	uint8_t *resp;
	size_t len;

	assert_int_equal(rpc_client_unary(cli, "/t.Test/Echo", (const uint8_t *)"x", 1, NULL, 3000, &resp, &len, &st),
	                 -EREMOTEIO);
	assert_int_equal(st.code, RPC_UNAVAILABLE);
	assert_null(resp);
}

static void a_client_without_a_certificate_is_refused_in_the_handshake(void **state)
{
	struct fixture *f = *state;
	struct rpc_client_opts o = { 0 };
	struct rpc_client *cli;
	SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());

	assert_int_equal(SSL_CTX_load_verify_locations(ctx, pki.ca, NULL), 1);
	SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
	SSL_CTX_set_min_proto_version(ctx, TLS1_3_VERSION);
	o.target = f->target;
	o.tls.ssl_ctx = ctx;
	assert_int_equal(rpc_client_new(&cli, &o), 0);
	SSL_CTX_free(ctx);
	expect_refused(f, cli);
	rpc_client_free(cli);
}

static void a_certificate_from_an_unknown_ca_is_refused(void **state)
{
	struct fixture *f = *state;
	struct rpc_client *cli = client_as(f, pki.stranger_cert, pki.stranger_key, pki.ca);

	expect_refused(f, cli);
	rpc_client_free(cli);
}

static void the_verification_policy_refuses_a_valid_certificate_of_the_wrong_role(void **state)
{
	struct fixture *f = *state;
	struct rpc_client *cli = client_as(f, pki.rogue_cert, pki.rogue_key, pki.ca);
	int before = atomic_load(&f->policy_calls);

	expect_refused(f, cli);
	assert_true(atomic_load(&f->policy_calls) > before);
	rpc_client_free(cli);
}

static int refuse_server(void *ctx, X509 *leaf_cert, STACK_OF(X509) *chain)
{
	return cn_is(leaf_cert, ctx) ? 0 : -1;
}

static void the_client_checks_the_server_name_and_its_own_policy(void **state)
{
	struct fixture *f = *state;
	struct rpc_client_opts o = { 0 };
	struct rpc_client *cli;
	struct rpc_status st;
	uint8_t *resp;
	size_t len;

	o.target = f->target;
	o.tls.cert = pki.cli_cert;
	o.tls.key = pki.cli_key;
	o.tls.ca = pki.ca;
	/* Not a name the certificate carries. */
	o.server_name = "node-b.test";
	assert_int_equal(rpc_client_new(&cli, &o), 0);
	expect_refused(f, cli);
	rpc_client_free(cli);
	/* A name it does carry, and a policy that wants that node. */
	o.server_name = "node-a.test";
	o.tls.verify = refuse_server;
	o.tls.verify_ctx = "node-a";
	assert_int_equal(rpc_client_new(&cli, &o), 0);
	assert_int_equal(rpc_client_unary(cli, "/t.Test/Echo", (const uint8_t *)"ok", 2, NULL, 3000, &resp, &len, &st), 0);
	mem_free(resp);
	rpc_client_free(cli);
	/* The same policy refusing. */
	o.tls.verify_ctx = "node-z";
	assert_int_equal(rpc_client_new(&cli, &o), 0);
	expect_refused(f, cli);
	rpc_client_free(cli);
}

struct worker {
	struct rpc_client *cli;
	int id, ok;
};

static void *hammer(void *arg)
{
	struct worker *w = arg;
	char req[32];

	for (int i = 0; i < 300; i++) {
		struct rpc_status st;
		uint8_t *resp;
		size_t len;
		int n = snprintf(req, sizeof(req), "w%d-%d", w->id, i);
		if (rpc_client_unary(w->cli, "/t.Test/Echo", (const uint8_t *)req, (size_t)n, NULL, 5000, &resp, &len,
		                     &st) == 0 &&
		    len == (size_t)n && !memcmp(resp, req, len))
			w->ok++;
		mem_free(resp);
	}
	return NULL;
}

static void four_threads_share_one_client_concurrently(void **state)
{
	struct fixture *f = *state;
	struct rpc_client *cli = controller(f);
	struct worker w[4];
	pthread_t t[4];

	for (int i = 0; i < 4; i++) {
		w[i] = (struct worker){ cli, i, 0 };
		assert_int_equal(pthread_create(&t[i], NULL, hammer, &w[i]), 0);
	}
	for (int i = 0; i < 4; i++) {
		pthread_join(t[i], NULL);
		assert_int_equal(w[i].ok, 300);
	}
	rpc_client_free(cli);
}

struct inflight {
	struct rpc_client *cli;
	struct rpc_status st;
	int rc;
};

static void *slow_call(void *arg)
{
	struct inflight *c = arg;
	uint8_t *resp;
	size_t len;

	c->rc = rpc_client_unary(c->cli, "/t.Test/Slow", (const uint8_t *)"x", 1, NULL, 5000, &resp, &len, &c->st);
	mem_free(resp);
	return NULL;
}

static void a_graceful_shutdown_lets_a_call_in_flight_finish(void **state)
{
	struct fixture *f = *state;
	struct rpc_client *cli = controller(f);
	struct inflight c = { .cli = cli };
	struct rpc_status st;
	uint8_t *resp;
	size_t len;
	pthread_t t;

	/* Connect first so the slow call is in flight when the GOAWAY goes. */
	assert_int_equal(rpc_client_unary(cli, "/t.Test/Echo", (const uint8_t *)"x", 1, NULL, 2000, &resp, &len, &st), 0);
	mem_free(resp);
	assert_int_equal(pthread_create(&t, NULL, slow_call, &c), 0);
	sleep_ms(150);
	assert_int_equal(rpc_server_shutdown(f->srv, true, 3000), 0);
	pthread_join(t, NULL);
	assert_int_equal(c.rc, 0);
	assert_int_equal(c.st.code, RPC_OK);
	assert_int_equal(atomic_load(&f->slow_cancelled), 0);
	/* Nobody listens any more. */
	assert_int_equal(rpc_client_unary(cli, "/t.Test/Echo", (const uint8_t *)"x", 1, NULL, 2000, &resp, &len, &st),
	                 -EREMOTEIO);
	assert_int_equal(st.code, RPC_UNAVAILABLE);
	rpc_client_free(cli);
}

static void a_graceful_shutdown_cancels_what_outlives_its_timeout(void **state)
{
	struct fixture *f = *state;
	struct rpc_client *cli = controller(f);
	struct inflight c = { .cli = cli };
	pthread_t t;

	assert_int_equal(pthread_create(&t, NULL, slow_call, &c), 0);
	sleep_ms(150);
	assert_int_equal(rpc_server_shutdown(f->srv, true, 50), -ETIMEDOUT);
	pthread_join(t, NULL);
	assert_int_not_equal(c.st.code, RPC_OK);
	rpc_client_free(cli);
}

static void calls_to_a_server_that_is_not_there_fail_fast_as_unavailable(void **state)
{
	struct rpc_client_opts o = { 0 };
	struct rpc_client *cli;
	struct rpc_status st;
	uint8_t *resp;
	size_t len;

	o.target = "127.0.0.1:1";
	o.tls.cert = pki.cli_cert;
	o.tls.key = pki.cli_key;
	o.tls.ca = pki.ca;
	assert_int_equal(rpc_client_new(&cli, &o), 0);
	for (int i = 0; i < 3; i++) {
		assert_int_equal(rpc_client_unary(cli, "/t.Test/Echo", (const uint8_t *)"x", 1, NULL, 2000, &resp, &len, &st),
		                 -EREMOTEIO);
		assert_int_equal(st.code, RPC_UNAVAILABLE);
	}
	rpc_client_free(cli);
}

static void bad_options_are_refused_up_front(void **state)
{
	struct rpc_client_opts o = { 0 };
	struct rpc_server_opts so = { 0 };
	struct rpc_client *cli;
	struct rpc_server *srv;

	o.tls.cert = pki.cli_cert;
	o.tls.key = pki.cli_key;
	o.tls.ca = pki.ca;
	o.target = "localhost:8444";
	assert_int_equal(rpc_client_new(&cli, &o), -EINVAL);
	assert_null(cli);
	o.target = "127.0.0.1:8444";
	o.tls.key = "/nonexistent";
	assert_int_equal(rpc_client_new(&cli, &o), ERR_CRYPTO);
	so.listen = "127.0.0.1";
	so.tls.cert = pki.srv_cert;
	so.tls.key = pki.srv_key;
	so.tls.ca = pki.ca;
	assert_int_equal(rpc_server_new(&srv, &so), -EINVAL);
	assert_null(srv);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(a_unary_call_echoes_its_request_and_metadata, setup, teardown),
		cmocka_unit_test_setup_teardown(an_error_status_and_its_message_reach_the_client_intact, setup, teardown),
		cmocka_unit_test_setup_teardown(an_unknown_method_is_unimplemented, setup, teardown),
		cmocka_unit_test_setup_teardown(a_server_stream_delivers_ten_thousand_messages_in_order, setup, teardown),
		cmocka_unit_test_setup_teardown(a_client_that_stops_reading_cancels_the_stream_and_the_handler_hears_it,
		                                setup, teardown),
		cmocka_unit_test_setup_teardown(a_cancel_token_ends_a_stream_from_another_thread, setup, teardown),
		cmocka_unit_test_setup_teardown(a_call_past_its_deadline_ends_and_the_handler_sees_it_cancelled, setup,
		                                teardown),
		cmocka_unit_test_setup_teardown(oversized_messages_are_resource_exhausted_both_ways, setup, teardown),
		cmocka_unit_test_setup_teardown(a_client_without_a_certificate_is_refused_in_the_handshake, setup, teardown),
		cmocka_unit_test_setup_teardown(a_certificate_from_an_unknown_ca_is_refused, setup, teardown),
		cmocka_unit_test_setup_teardown(the_verification_policy_refuses_a_valid_certificate_of_the_wrong_role, setup,
		                                teardown),
		cmocka_unit_test_setup_teardown(the_client_checks_the_server_name_and_its_own_policy, setup, teardown),
		cmocka_unit_test_setup_teardown(four_threads_share_one_client_concurrently, setup, teardown),
		cmocka_unit_test_setup_teardown(a_graceful_shutdown_lets_a_call_in_flight_finish, setup, teardown),
		cmocka_unit_test_setup_teardown(a_graceful_shutdown_cancels_what_outlives_its_timeout, setup, teardown),
		cmocka_unit_test(calls_to_a_server_that_is_not_there_fail_fast_as_unavailable),
		cmocka_unit_test(bad_options_are_refused_up_front),
	};
	return cmocka_run_group_tests_name(__FILE__, tests, make_pki, remove_pki);
}
