/* The HTTP/2 glue of both ends, without sockets or TLS: an rpc_cconn and an
 * rpc_sconn wired back to back in memory, the clock passed by hand. Wire
 * cases a well-behaved client never produces (compressed messages, two
 * request messages, a non-gRPC content-type) are sent through the client
 * glue's raw body or through a bare nghttp2 session. */
#include "support.h"

#include <errno.h>
#include <nghttp2/nghttp2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/mem.h"
#include "rpc/cconn.h"
#include "rpc/frame.h"
#include "rpc/meta.h"
#include "rpc/sconn.h"
#include "rpc/status.h"

#define MAX_CALLS 8

struct ccall {
	uint8_t data[4096];
	size_t len;
	int messages;
	bool closed;
	struct rpc_status st;
};

struct pair {
	struct rpc_sconn *s;
	struct rpc_cconn *c;
	uint64_t now;
	struct rpc_scall *held;        /* a /t.T/Hold call, answered later */
	int closed_calls, cancelled_calls;
	struct rpc_meta seen_meta;
	char seen_path[64];
	struct ccall calls[MAX_CALLS];
};

static int route(void *owner, struct rpc_scall *call)
{
	struct pair *p = owner;
	const char *path = rpc_sconn_call_path(call);

	snprintf(p->seen_path, sizeof(p->seen_path), "%s", path);
	if (rpc_meta_copy(&p->seen_meta, rpc_sconn_call_meta(call)) < 0)
		return RPC_RESOURCE_EXHAUSTED;
	if (!strcmp(path, "/t.T/Echo") || !strcmp(path, "/t.T/Three") || !strcmp(path, "/t.T/Hold"))
		return 0;
	return RPC_UNIMPLEMENTED;
}

static void dispatch(void *owner, struct rpc_scall *call, const uint8_t *msg, size_t len)
{
	struct pair *p = owner;
	const char *path = rpc_sconn_call_path(call);

	if (!strcmp(path, "/t.T/Hold")) {
		p->held = call;
		return;
	}
	int n = !strcmp(path, "/t.T/Three") ? 3 : 1;
	for (int i = 0; i < n; i++) {
		if (rpc_sconn_send(p->s, call, msg, len) < 0) {
			rpc_sconn_finish(p->s, call, RPC_INTERNAL, "send failed");
			return;
		}
	}
	rpc_sconn_finish(p->s, call, RPC_OK, NULL);
}

static void sclosed(void *owner, struct rpc_scall *call, bool cancelled)
{
	struct pair *p = owner;

	p->closed_calls++;
	p->cancelled_calls += cancelled;
	if (call == p->held)
		p->held = NULL;
}

static void cdata(void *owner, void *vcall, const uint8_t *d, size_t len, int messages)
{
	struct pair *p = owner;
	struct ccall *c = vcall;

	if (c->len + len <= sizeof(c->data)) {
		memcpy(c->data + c->len, d, len);
		c->len += len;
	}
	c->messages += messages;
	rpc_cconn_consume(p->c, (int32_t)(c - p->calls) * 2 + 1, len);
}

static void cclosed(void *owner, void *vcall, const struct rpc_status *st)
{
	struct ccall *c = vcall;
	c->closed = true;
	c->st = *st;
}

static const struct rpc_sconn_ops sops = { route, dispatch, NULL, sclosed };
static const struct rpc_cconn_ops cops = { cdata, cclosed };

static int pair_new(struct pair *p, size_t max_recv, uint64_t keepalive)
{
	struct rpc_sconn_limits sl = { 100, max_recv, 4096, 65535, 65535, keepalive, keepalive / 2 };
	struct rpc_cconn_limits cl = { 4096, 65535, 65535, 0, 0 };
	int rc;

	memset(p, 0, sizeof(*p));
	p->now = 1000;
	rpc_meta_init(&p->seen_meta);
	rc = rpc_sconn_new(&p->s, &sl, &sops, p, p->now);
	if (rc == 0)
		rc = rpc_cconn_new(&p->c, &cl, &cops, p, p->now);
	return rc;
}

static void pair_free(struct pair *p)
{
	rpc_cconn_free(p->c);
	rpc_sconn_free(p->s);
	rpc_meta_fini(&p->seen_meta);
}

/* Moves bytes both ways until neither side has anything to say. */
static int pump(struct pair *p)
{
	for (int round = 0; round < 1000; round++) {
		const uint8_t *d;
		size_t n, moved = 0;
		do {
			if (rpc_cconn_pull(p->c, &d, &n) < 0)
				return ERR_PROTO;
			if (n && rpc_sconn_recv(p->s, d, n, p->now) < 0)
				return ERR_PROTO;
			moved += n;
		} while (n);
		do {
			if (rpc_sconn_pull(p->s, &d, &n) < 0)
				return ERR_PROTO;
			if (n && rpc_cconn_recv(p->c, d, n, p->now) < 0)
				return ERR_PROTO;
			moved += n;
		} while (n);
		if (!moved)
			return 0;
	}
	return -ELOOP;
}

static int call(struct pair *p, int slot, const char *path, const uint8_t *body, size_t len, bool unary,
                const char *timeout, const char *const *names, const char *const *values, size_t nmeta)
{
	struct rpc_cconn_req r = { path, "node-a:8444", timeout, names, values, nmeta, body, len, unary };
	int32_t id;
	int rc = rpc_cconn_submit(p->c, &r, &p->calls[slot], &id);

	if (rc < 0)
		return rc;
	assert_int_equal(id, slot * 2 + 1);
	return pump(p);
}

static size_t framed(uint8_t *out, const char *msg)
{
	size_t n = strlen(msg);
	rpc_frame_prefix(out, (uint32_t)n);
	memcpy(out + RPC_FRAME_HDR_LEN, msg, n);
	return n + RPC_FRAME_HDR_LEN;
}

static void a_unary_call_crosses_both_glues_and_ends_ok(void **state)
{
	struct pair p;
	uint8_t body[64];
	size_t n = framed(body, "ping");

	assert_int_equal(pair_new(&p, 4096, 0), 0);
	assert_int_equal(call(&p, 0, "/t.T/Echo", body, n, true, NULL, NULL, NULL, 0), 0);
	assert_true(p.calls[0].closed);
	assert_int_equal(p.calls[0].st.code, RPC_OK);
	assert_int_equal(p.calls[0].messages, 1);
	assert_int_equal(p.calls[0].len, n);
	assert_memory_equal(p.calls[0].data, body, n);
	assert_int_equal(p.closed_calls, 1);
	assert_int_equal(p.cancelled_calls, 0);
	assert_int_equal(rpc_sconn_calls(p.s), 0);
	pair_free(&p);
}

static void three_replies_to_a_unary_call_are_a_cardinality_violation_but_fine_for_a_stream(void **state)
{
	struct pair p;
	uint8_t body[64];
	size_t n = framed(body, "x");

	assert_int_equal(pair_new(&p, 4096, 0), 0);
	assert_int_equal(call(&p, 0, "/t.T/Three", body, n, false, NULL, NULL, NULL, 0), 0);
	assert_int_equal(p.calls[0].st.code, RPC_OK);
	assert_int_equal(p.calls[0].messages, 3);
	assert_int_equal(call(&p, 1, "/t.T/Three", body, n, true, NULL, NULL, NULL, 0), 0);
	assert_int_equal(p.calls[1].st.code, RPC_UNIMPLEMENTED);
	pair_free(&p);
}

static void bad_requests_get_the_status_the_spec_names(void **state)
{
	struct pair p;
	uint8_t body[64], two[64];
	size_t n = framed(body, "x");
	const uint8_t compressed[] = { 1, 0, 0, 0, 1, 'x' };

	memcpy(two, body, n);
	memcpy(two + n, body, n);
	assert_int_equal(pair_new(&p, 16, 0), 0);
	assert_int_equal(call(&p, 0, "/t.T/Nope", body, n, true, NULL, NULL, NULL, 0), 0);
	assert_int_equal(p.calls[0].st.code, RPC_UNIMPLEMENTED);
	assert_non_null(strstr(p.calls[0].st.message, "/t.T/Nope"));
	assert_int_equal(call(&p, 1, "/t.T/Echo", compressed, sizeof(compressed), true, NULL, NULL, NULL, 0), 0);
	assert_int_equal(p.calls[1].st.code, RPC_UNIMPLEMENTED);
	assert_int_equal(call(&p, 2, "/t.T/Echo", two, 2 * n, true, NULL, NULL, NULL, 0), 0);
	assert_int_equal(p.calls[2].st.code, RPC_UNIMPLEMENTED);
	assert_int_equal(call(&p, 3, "/t.T/Echo", NULL, 0, true, NULL, NULL, NULL, 0), 0);
	assert_int_equal(p.calls[3].st.code, RPC_UNIMPLEMENTED);
	size_t big = framed(body, "0123456789abcdefX"); /* 17 bytes > 16 */
	assert_int_equal(call(&p, 4, "/t.T/Echo", body, big, true, NULL, NULL, NULL, 0), 0);
	assert_int_equal(p.calls[4].st.code, RPC_RESOURCE_EXHAUSTED);
	n = framed(body, "x");
	assert_int_equal(call(&p, 5, "/t.T/Echo", body, n - 1, true, NULL, NULL, NULL, 0), 0);
	assert_int_equal(p.calls[5].st.code, RPC_INTERNAL);
	const char *names[] = { "grpc-encoding" }, *values[] = { "gzip" };
	assert_int_equal(call(&p, 6, "/t.T/Echo", body, n, true, NULL, names, values, 1), 0);
	assert_int_equal(p.calls[6].st.code, RPC_UNIMPLEMENTED);
	const char *tnames[] = { "grpc-timeout" }, *tvalues[] = { "soon" };
	assert_int_equal(call(&p, 7, "/t.T/Echo", body, n, true, NULL, tnames, tvalues, 1), 0);
	assert_int_equal(p.calls[7].st.code, RPC_INTERNAL);
	/* None of it hurt the connection. */
	assert_false(rpc_cconn_draining(p.c));
	assert_int_equal(p.closed_calls, 0);
	pair_free(&p);
}

static void custom_and_binary_metadata_reach_the_handler_decoded(void **state)
{
	struct pair p;
	uint8_t body[64];
	size_t n = framed(body, "x"), len;
	const char *names[] = { "x-token", "x-key-bin", "x-key-bin", "user-agent", "grpc-foo" };
	const char *values[] = { "abc def", "AAEC", "/w==,AP8", "evil", "1" };
	const uint8_t *v;

	assert_int_equal(pair_new(&p, 4096, 0), 0);
	assert_int_equal(call(&p, 0, "/t.T/Echo", body, n, true, NULL, names, values, 5), 0);
	assert_int_equal(p.calls[0].st.code, RPC_OK);
	assert_int_equal(rpc_meta_count(&p.seen_meta), 4);
	v = rpc_meta_get(&p.seen_meta, "x-token", &len);
	assert_int_equal(len, 7);
	assert_memory_equal(v, "abc def", 7);
	v = rpc_meta_get(&p.seen_meta, "x-key-bin", &len);
	assert_int_equal(len, 3);
	assert_memory_equal(v, "\x00\x01\x02", 3);
	const char *k;
	rpc_meta_at(&p.seen_meta, 2, &k, &v, &len);
	assert_string_equal(k, "x-key-bin");
	assert_int_equal(len, 1);
	assert_int_equal(v[0], 0xff);
	rpc_meta_at(&p.seen_meta, 3, &k, &v, &len);
	assert_int_equal(len, 2);
	assert_memory_equal(v, "\x00\xff", 2);
	assert_null(rpc_meta_get(&p.seen_meta, "user-agent", NULL));
	assert_null(rpc_meta_get(&p.seen_meta, "grpc-foo", NULL));
	/* Invalid base64 is refused. */
	const char *bn[] = { "x-key-bin" }, *bv[] = { "A" };
	assert_int_equal(call(&p, 1, "/t.T/Echo", body, n, true, NULL, bn, bv, 1), 0);
	assert_int_equal(p.calls[1].st.code, RPC_INTERNAL);
	pair_free(&p);
}

static void a_call_past_its_grpc_timeout_ends_deadline_exceeded_and_the_owner_is_told(void **state)
{
	struct pair p;
	uint8_t body[64];
	size_t n = framed(body, "x");

	assert_int_equal(pair_new(&p, 4096, 0), 0);
	assert_int_equal(call(&p, 0, "/t.T/Hold", body, n, true, "50m", NULL, NULL, 0), 0);
	assert_non_null(p.held);
	assert_true(rpc_sconn_call_deadline(p.held) == p.now + 50);
	assert_true(rpc_sconn_next_event(p.s) == p.now + 50);
	assert_false(p.calls[0].closed);
	p.now += 49;
	assert_true(rpc_sconn_tick(p.s, p.now));
	assert_int_equal(pump(&p), 0);
	assert_false(p.calls[0].closed);
	p.now += 1;
	assert_true(rpc_sconn_tick(p.s, p.now));
	assert_int_equal(pump(&p), 0);
	assert_true(p.calls[0].closed);
	assert_int_equal(p.calls[0].st.code, RPC_DEADLINE_EXCEEDED);
	assert_int_equal(p.cancelled_calls, 1);
	assert_null(p.held);
	pair_free(&p);
}

static void an_unanswered_keepalive_ping_kills_the_connection(void **state)
{
	struct pair p;

	assert_int_equal(pair_new(&p, 4096, 100), 0);
	assert_int_equal(pump(&p), 0);
	assert_true(rpc_sconn_next_event(p.s) == p.now + 100);
	p.now += 100;
	assert_true(rpc_sconn_tick(p.s, p.now));
	assert_int_equal(pump(&p), 0); /* answered */
	p.now += 100;
	assert_true(rpc_sconn_tick(p.s, p.now));
	p.now += 49;
	assert_true(rpc_sconn_tick(p.s, p.now));
	p.now += 1;
	assert_false(rpc_sconn_tick(p.s, p.now)); /* not answered within 50 ms */
	pair_free(&p);
}

static void a_graceful_shutdown_waits_for_the_call_in_flight(void **state)
{
	struct pair p;
	uint8_t body[64];
	size_t n = framed(body, "x");

	assert_int_equal(pair_new(&p, 4096, 0), 0);
	assert_int_equal(call(&p, 0, "/t.T/Hold", body, n, true, NULL, NULL, NULL, 0), 0);
	rpc_sconn_shutdown(p.s, p.now);
	assert_int_equal(pump(&p), 0);
	assert_true(rpc_cconn_draining(p.c));
	/* The ping came back: the final GOAWAY is due now. */
	assert_true(rpc_sconn_tick(p.s, p.now));
	assert_int_equal(pump(&p), 0);
	assert_false(rpc_sconn_done(p.s));
	/* A new call is refused by the client glue itself. */
	struct rpc_cconn_req r = { "/t.T/Echo", "a", NULL, NULL, NULL, 0, body, n, true };
	int32_t id;
	assert_int_equal(rpc_cconn_submit(p.c, &r, &p.calls[1], &id), ERR_BADSTATE);
	assert_non_null(p.held);
	assert_int_equal(rpc_sconn_send(p.s, p.held, (const uint8_t *)"late", 4), 0);
	rpc_sconn_finish(p.s, p.held, RPC_OK, NULL);
	assert_int_equal(pump(&p), 0);
	assert_int_equal(p.calls[0].st.code, RPC_OK);
	assert_int_equal(p.cancelled_calls, 0);
	assert_true(rpc_sconn_done(p.s));
	pair_free(&p);
}

static void freeing_a_connection_cancels_its_open_calls(void **state)
{
	struct pair p;
	uint8_t body[64];
	size_t n = framed(body, "x");

	assert_int_equal(pair_new(&p, 4096, 0), 0);
	assert_int_equal(call(&p, 0, "/t.T/Hold", body, n, true, NULL, NULL, NULL, 0), 0);
	rpc_sconn_free(p.s);
	p.s = NULL;
	assert_int_equal(p.cancelled_calls, 1);
	rpc_cconn_free(p.c);
	p.c = NULL;
	assert_true(p.calls[0].closed);
	assert_int_equal(p.calls[0].st.code, RPC_UNAVAILABLE);
	rpc_meta_fini(&p.seen_meta);
}

/* A bare nghttp2 client for what our own client never sends. */
static ssize_t raw_send(nghttp2_session *h, const uint8_t *d, size_t n, int flags, void *u)
{
	return rpc_sconn_recv(u, d, n, 0) < 0 ? NGHTTP2_ERR_CALLBACK_FAILURE : (ssize_t)n;
}

static int raw_header(nghttp2_session *h, const nghttp2_frame *f, const uint8_t *name, size_t nl, const uint8_t *v,
                      size_t vl, uint8_t flags, void *u)
{
	if (nl == 7 && !memcmp(name, ":status", 7) && vl == 3)
		*(int *)nghttp2_session_get_stream_user_data(h, f->hd.stream_id) = atoi((const char *)v);
	return 0;
}

static int raw_status(const char *method, const char *ct)
{
	struct pair p;
	nghttp2_session_callbacks *cb;
	nghttp2_session *h;
	int status = 0;
	const uint8_t *d;
	size_t n;

	assert_int_equal(pair_new(&p, 4096, 0), 0);
	nghttp2_session_callbacks_new(&cb);
	nghttp2_session_callbacks_set_send_callback(cb, raw_send);
	nghttp2_session_callbacks_set_on_header_callback(cb, raw_header);
	nghttp2_session_client_new(&h, cb, p.s);
	nghttp2_submit_settings(h, NGHTTP2_FLAG_NONE, NULL, 0);
	nghttp2_nv nv[] = {
		{ (uint8_t *)":method", (uint8_t *)method, 7, strlen(method), 0 },
		{ (uint8_t *)":scheme", (uint8_t *)"https", 7, 5, 0 },
		{ (uint8_t *)":path", (uint8_t *)"/t.T/Echo", 5, 9, 0 },
		{ (uint8_t *)":authority", (uint8_t *)"a", 10, 1, 0 },
		{ (uint8_t *)"content-type", (uint8_t *)ct, 12, strlen(ct), 0 },
	};
	assert_true(nghttp2_submit_request(h, NULL, nv, 5, NULL, &status) > 0);
	assert_int_equal(nghttp2_session_send(h), 0);
	for (int i = 0; i < 10; i++) {
		assert_int_equal(rpc_sconn_pull(p.s, &d, &n), 0);
		if (n)
			assert_true(nghttp2_session_mem_recv(h, d, n) == (ssize_t)n);
		assert_int_equal(nghttp2_session_send(h), 0);
	}
	nghttp2_session_del(h);
	nghttp2_session_callbacks_del(cb);
	pair_free(&p);
	return status;
}

static void a_request_that_is_not_grpc_gets_an_http_error(void **state)
{
	assert_int_equal(raw_status("POST", "text/plain"), 415);
	assert_int_equal(raw_status("GET", "application/grpc"), 405);
	assert_int_equal(raw_status("POST", "application/grpc+json"), 200);
}

/* One whole exchange with the i-th allocation failing: whatever fails must
 * fail cleanly (LeakSanitizer checks the rest). */
static int one_exchange(void)
{
	struct pair p;
	uint8_t body[64];
	size_t n = framed(body, "hello");
	int rc = pair_new(&p, 4096, 0);

	if (rc == 0)
		rc = call(&p, 0, "/t.T/Echo", body, n, true, "1S", NULL, NULL, 0);
	if (rc == 0 && (!p.calls[0].closed || p.calls[0].st.code != RPC_OK))
		rc = -ENOMEM;
	pair_free(&p);
	return rc;
}

static void every_allocation_failure_in_an_exchange_unwinds_cleanly(void **state)
{
	long i;

	for (i = 0; i < 10000; i++) {
		mem_fail_after(i);
		int rc = one_exchange();
		int hit = mem_fail_hit();
		mem_fail_off();
		if (!hit) {
			assert_int_equal(rc, 0);
			break;
		}
	}
	assert_true(i > 10 && i < 10000);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(a_unary_call_crosses_both_glues_and_ends_ok),
		cmocka_unit_test(three_replies_to_a_unary_call_are_a_cardinality_violation_but_fine_for_a_stream),
		cmocka_unit_test(bad_requests_get_the_status_the_spec_names),
		cmocka_unit_test(custom_and_binary_metadata_reach_the_handler_decoded),
		cmocka_unit_test(a_call_past_its_grpc_timeout_ends_deadline_exceeded_and_the_owner_is_told),
		cmocka_unit_test(an_unanswered_keepalive_ping_kills_the_connection),
		cmocka_unit_test(a_graceful_shutdown_waits_for_the_call_in_flight),
		cmocka_unit_test(freeing_a_connection_cancels_its_open_calls),
		cmocka_unit_test(a_request_that_is_not_grpc_gets_an_http_error),
		cmocka_unit_test(every_allocation_failure_in_an_exchange_unwinds_cleanly),
	};
	return run_group(tests);
}
