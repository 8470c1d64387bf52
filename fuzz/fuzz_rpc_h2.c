/* Fuzz target for the server's HTTP/2 session glue (rpc/sconn): arbitrary
 * bytes from a client, no TLS, fed in pieces whose size depends on the
 * input length, with the clock moving between pieces so deadlines,
 * keepalive pings and the graceful-shutdown timer fire. The owner below
 * answers like the real server does: at once (Echo), in three messages
 * (Three), through the refill path one message at a time (Drip), or never
 * (Hold: only a deadline, a reset or the end of the connection closes it).
 * Every output byte is pulled and dropped. ASan/UBSan and LeakSanitizer
 * judge; the seeds (fuzz/corpus/fuzz_rpc_h2, made by
 * tests/tools/rpc-h2-seeds.c) are real gRPC requests from our client glue. */
#include <stdlib.h>
#include <string.h>

#include "lib/mem.h"
#include "rpc/fifo.h"
#include "rpc/frame.h"
#include "rpc/sconn.h"
#include "rpc/status.h"

#define FUZZ_MAX_INPUT (256 * 1024)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct drip {
	int sent;
	struct rpc_fifo q;
};

struct owner {
	struct rpc_sconn *c;
	int open;
};

static int route(void *ctx, struct rpc_scall *call)
{
	const char *p = rpc_sconn_call_path(call);

	if (!strcmp(p, "/t.T/Echo") || !strcmp(p, "/t.T/Three") || !strcmp(p, "/t.T/Hold") || !strcmp(p, "/t.T/Drip"))
		return 0;
	return RPC_UNIMPLEMENTED;
}

static void dispatch(void *ctx, struct rpc_scall *call, const uint8_t *msg, size_t len)
{
	struct owner *o = ctx;
	const char *p = rpc_sconn_call_path(call);

	o->open++;
	if (!strcmp(p, "/t.T/Hold"))
		return;
	if (!strcmp(p, "/t.T/Drip")) {
		struct drip *d = mem_zalloc(sizeof(*d));
		if (!d) {
			rpc_sconn_finish(o->c, call, RPC_RESOURCE_EXHAUSTED, NULL);
			return;
		}
		rpc_fifo_init(&d->q, 4096);
		rpc_sconn_call_set_owner(call, d);
		rpc_sconn_kick(o->c, call);
		return;
	}
	for (int i = 0; i < (!strcmp(p, "/t.T/Three") ? 3 : 1); i++)
		if (rpc_sconn_send(o->c, call, msg, len) < 0)
			break;
	rpc_sconn_finish(o->c, call, RPC_OK, "done");
	rpc_sconn_kick(o->c, call);
}

static void refill(void *ctx, struct rpc_scall *call)
{
	struct owner *o = ctx;
	struct drip *d = rpc_sconn_call_owner(call);
	uint8_t frame[RPC_FRAME_HDR_LEN + 3];

	if (!d)
		return;
	if (d->sent == 5) {
		rpc_sconn_finish(o->c, call, RPC_OK, NULL);
		return;
	}
	rpc_frame_prefix(frame, 3);
	memcpy(frame + RPC_FRAME_HDR_LEN, "abc", 3);
	if (rpc_fifo_append(&d->q, frame, sizeof(frame), NULL, 0) == 0) {
		d->sent++;
		rpc_sconn_take(call, &d->q);
	}
}

static void closed(void *ctx, struct rpc_scall *call, bool cancelled)
{
	struct owner *o = ctx;
	struct drip *d = rpc_sconn_call_owner(call);

	o->open--;
	if (d) {
		rpc_fifo_fini(&d->q);
		mem_free(d);
	}
}

static const struct rpc_sconn_ops ops = { route, dispatch, refill, closed };

static void drain(struct rpc_sconn *c)
{
	const uint8_t *p;
	size_t n;

	for (int i = 0; i < 10000; i++)
		if (rpc_sconn_pull(c, &p, &n) < 0 || n == 0)
			return;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct rpc_sconn_limits lim = { 8, 2048, 2048, 65535, 1u << 20, 500, 200 };
	struct owner o = { 0 };
	uint64_t now = 1;
	size_t chunk = size % 61 + 1;

	if (size > FUZZ_MAX_INPUT)
		return 0;
	if (rpc_sconn_new(&o.c, &lim, &ops, &o, now) < 0)
		return 0;
	for (size_t at = 0; at < size; at += chunk) {
		size_t n = size - at < chunk ? size - at : chunk;
		if (rpc_sconn_recv(o.c, data + at, n, now) < 0)
			break;
		drain(o.c);
		now += 7;
		if (!rpc_sconn_tick(o.c, now))
			break;
		drain(o.c);
		if (at == chunk * 16)
			rpc_sconn_shutdown(o.c, now);
	}
	(void)rpc_sconn_done(o.c);
	rpc_sconn_cancel_all(o.c);
	drain(o.c);
	rpc_sconn_free(o.c);
	if (o.open != 0)
		abort(); /* every dispatched call must be closed exactly once */
	return 0;
}
