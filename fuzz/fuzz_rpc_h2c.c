/* Fuzz target for the client's HTTP/2 session glue (rpc/cconn): the
 * controller dials nodes it does not fully trust, so a server's bytes are
 * untrusted input too. Three calls are opened (a unary call, a stream, and
 * a unary call with a deadline), then the input is fed as the server's side
 * of the connection in pieces, with output pulled and the clock moving.
 * Every call must be closed exactly once with a status in range, and a
 * unary call may only end OK with exactly one whole message received.
 * Seeds (fuzz/corpus/fuzz_rpc_h2c, from tests/tools/rpc-h2-seeds.c) are our
 * server glue's answers to these calls. */
#include <stdlib.h>
#include <string.h>

#include "rpc/cconn.h"
#include "rpc/frame.h"
#include "rpc/status.h"

#define FUZZ_MAX_INPUT (256 * 1024)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct call {
	int closed;
	int messages;
	int code;
	bool unary;
	int32_t id;
};

struct owner {
	struct rpc_cconn *c;
	struct call calls[3];
};

static void on_data(void *o, void *vc, const uint8_t *p, size_t len, int messages)
{
	struct owner *ow = o;
	struct call *c = vc;

	if (messages < 0)
		abort();
	c->messages += messages;
	rpc_cconn_consume(ow->c, c->id, len);
}

static void on_closed(void *o, void *vc, const struct rpc_status *st)
{
	struct call *c = vc;

	if (st->code < 0 || st->code > RPC_CODE_MAX)
		abort();
	c->closed++;
	c->code = st->code;
}

static const struct rpc_cconn_ops ops = { on_data, on_closed };

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct rpc_cconn_limits lim = { 2048, 65535, 1u << 20, 300, 100 };
	struct owner o = { 0 };
	static const uint8_t body[] = { 0, 0, 0, 0, 1, 'x' };
	static const char *const paths[] = { "/t.T/Echo", "/t.T/Three", "/t.T/Hold" };
	size_t chunk = size % 53 + 1;
	uint64_t now = 1;
	const uint8_t *p;
	size_t n;

	if (size > FUZZ_MAX_INPUT)
		return 0;
	if (rpc_cconn_new(&o.c, &lim, &ops, &o, now) < 0)
		return 0;
	for (int i = 0; i < 3; i++) {
		struct rpc_cconn_req r = { paths[i], "node-a:8444", i == 2 ? "20m" : NULL, NULL, NULL, 0,
		                           body, sizeof(body), i != 1 };
		o.calls[i].unary = r.unary;
		if (rpc_cconn_submit(o.c, &r, &o.calls[i], &o.calls[i].id) < 0)
			o.calls[i].closed = 1; /* never opened: count it as done */
	}
	for (size_t at = 0; at <= size; at += chunk) {
		while (rpc_cconn_pull(o.c, &p, &n) == 0 && n)
			;
		if (at == size)
			break;
		n = size - at < chunk ? size - at : chunk;
		if (rpc_cconn_recv(o.c, data + at, n, now) < 0)
			break;
		now += 11;
		if (!rpc_cconn_tick(o.c, now))
			break;
	}
	(void)rpc_cconn_draining(o.c);
	(void)rpc_cconn_done(o.c);
	rpc_cconn_free(o.c);
	for (int i = 0; i < 3; i++) {
		if (o.calls[i].closed != 1)
			abort();
		if (o.calls[i].unary && o.calls[i].code == RPC_OK && o.calls[i].messages != 1)
			abort();
	}
	return 0;
}
