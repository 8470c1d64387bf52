/* Writes the seed corpora of fuzz/fuzz_rpc_h2.c and fuzz/fuzz_rpc_h2c.c:
 * the bytes our own client glue (rpc/cconn) sends for a handful of gRPC
 * exchanges, good and bad, and the bytes our server glue (rpc/sconn)
 * answers to the three calls fuzz_rpc_h2c opens, so both fuzzers start from
 * valid prefaces, SETTINGS, HPACK and framing.
 *
 *   rpc-h2-seeds SERVER_INPUT_DIR CLIENT_INPUT_DIR   (one file per scenario) */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "lib/fileio.h"
#include "lib/mem.h"
#include "rpc/cconn.h"
#include "rpc/fifo.h"
#include "rpc/frame.h"
#include "rpc/sconn.h"
#include "rpc/status.h"

static void on_data(void *owner, void *call, const uint8_t *p, size_t len, int messages)
{
}

static void on_closed(void *owner, void *call, const struct rpc_status *st)
{
}

static const struct rpc_cconn_ops ops = { on_data, on_closed };

struct req {
	const char *path, *timeout;
	const char *names[3], *values[3];
	size_t nmeta;
	const char *body; /* framed by us unless raw */
	size_t raw_len;   /* > 0: body is already framed, this long */
	bool unary;
};

static int write_seed(const char *dir, const char *name, const struct req *reqs, size_t n)
{
	struct rpc_cconn_limits lim = { 4096, 65535, 1u << 20, 0, 0 };
	struct rpc_cconn *c;
	struct rpc_fifo out, bodies[8];
	char path[512];
	int rc;

	rpc_fifo_init(&out, 1u << 20);
	rc = rpc_cconn_new(&c, &lim, &ops, NULL, 0);
	if (rc < 0)
		return rc;
	for (size_t i = 0; i < n && i < 8; i++) {
		const struct req *r = &reqs[i];
		uint8_t hdr[RPC_FRAME_HDR_LEN];
		size_t blen = r->raw_len ? r->raw_len : strlen(r->body);
		rpc_fifo_init(&bodies[i], 65536);
		rpc_frame_prefix(hdr, (uint32_t)blen);
		if (rpc_fifo_append(&bodies[i], r->raw_len ? NULL : hdr, r->raw_len ? 0 : sizeof(hdr), r->body, blen) < 0)
			return -ENOMEM;
		struct rpc_cconn_req cr = { r->path, "node-a:8444", r->timeout, r->names, r->values, r->nmeta,
		                            rpc_fifo_head(&bodies[i]), bodies[i].len, r->unary };
		int32_t id;
		if (rpc_cconn_submit(c, &cr, NULL, &id) < 0)
			return -EINVAL;
	}
	for (;;) {
		const uint8_t *p;
		size_t len;
		if (rpc_cconn_pull(c, &p, &len) < 0 || len == 0)
			break;
		if (rpc_fifo_append(&out, p, len, NULL, 0) < 0)
			return -ENOMEM;
	}
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	rc = fileio_write_atomic(path, rpc_fifo_head(&out), out.len, 0644);
	rpc_fifo_fini(&out);
	for (size_t i = 0; i < n && i < 8; i++)
		rpc_fifo_fini(&bodies[i]);
	rpc_cconn_free(c);
	return rc;
}

/* The server's side of fuzz_rpc_h2c's three calls: Echo (or `first`), a
 * three-message stream, and a held call whose 20 ms deadline runs out. */
static int s_route(void *o, struct rpc_scall *call)
{
	const char *p = rpc_sconn_call_path(call);
	return !strcmp(p, "/t.T/Echo") || !strcmp(p, "/t.T/Three") || !strcmp(p, "/t.T/Hold") ? 0 : RPC_UNIMPLEMENTED;
}

static void s_dispatch(void *o, struct rpc_scall *call, const uint8_t *msg, size_t len)
{
	struct rpc_sconn *c = *(struct rpc_sconn **)o;
	const char *p = rpc_sconn_call_path(call);

	if (!strcmp(p, "/t.T/Hold"))
		return;
	for (int i = 0; i < (!strcmp(p, "/t.T/Three") ? 3 : 1); i++)
		if (rpc_sconn_send(c, call, msg, len) < 0)
			break;
	rpc_sconn_finish(c, call, !strcmp(p, "/t.T/Three") ? RPC_OK : RPC_ABORTED, "done 100%");
}

static void s_closed(void *o, struct rpc_scall *call, bool cancelled)
{
}

static const struct rpc_sconn_ops sops = { s_route, s_dispatch, NULL, s_closed };

static int append_all(struct rpc_fifo *out, int (*pull)(void *, const uint8_t **, size_t *), void *c,
                      int (*feed)(void *, const uint8_t *, size_t), void *peer)
{
	const uint8_t *p;
	size_t n;
	int moved = 0;

	while (pull(c, &p, &n) == 0 && n) {
		if (out && rpc_fifo_append(out, p, n, NULL, 0) < 0)
			return -ENOMEM;
		if (feed(peer, p, n) < 0)
			return -EPROTO;
		moved = 1;
	}
	return moved;
}

static int pull_c(void *c, const uint8_t **p, size_t *n) { return rpc_cconn_pull(c, p, n); }
static int pull_s(void *c, const uint8_t **p, size_t *n) { return rpc_sconn_pull(c, p, n); }
static int feed_s(void *c, const uint8_t *p, size_t n) { return rpc_sconn_recv(c, p, n, 1000); }
static int feed_c(void *c, const uint8_t *p, size_t n) { return rpc_cconn_recv(c, p, n, 1000); }

static int write_server_seed(const char *dir, const char *name, const char *first)
{
	struct rpc_cconn_limits cl = { 2048, 65535, 1u << 20, 0, 0 };
	struct rpc_sconn_limits sl = { 100, 4096, 4096, 65535, 1u << 20, 0, 0 };
	static const uint8_t body[] = { 0, 0, 0, 0, 1, 'x' };
	const char *paths[] = { first, "/t.T/Three", "/t.T/Hold" };
	struct rpc_cconn *c = NULL;
	struct rpc_sconn *s = NULL;
	struct rpc_fifo out;
	char path[512];
	int rc = -ENOMEM;

	rpc_fifo_init(&out, 1u << 20);
	if (rpc_cconn_new(&c, &cl, &ops, NULL, 0) < 0 || rpc_sconn_new(&s, &sl, &sops, &s, 0) < 0)
		goto out;
	for (int i = 0; i < 3; i++) {
		struct rpc_cconn_req r = { paths[i], "node-a:8444", i == 2 ? "20m" : NULL, NULL, NULL, 0,
		                           body, sizeof(body), i != 1 };
		int32_t id;
		if (rpc_cconn_submit(c, &r, NULL, &id) < 0)
			goto out;
	}
	for (int round = 0; round < 50; round++) {
		int a = append_all(NULL, pull_c, c, feed_s, s), b = append_all(&out, pull_s, s, feed_c, c);
		if (a < 0 || b < 0)
			goto out;
		if (round == 10)
			(void)rpc_sconn_tick(s, 1000 + 25);
	}
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	rc = fileio_write_atomic(path, rpc_fifo_head(&out), out.len, 0644);
out:
	rpc_fifo_fini(&out);
	rpc_cconn_free(c);
	rpc_sconn_free(s);
	return rc;
}

int main(int argc, char **argv)
{
	static const char compressed[] = "\x01\x00\x00\x00\x03" "abc";
	static const char two[] = "\x00\x00\x00\x00\x01" "a" "\x00\x00\x00\x00\x01" "b";
	static const char partial[] = "\x00\x00\x00\x00\x09" "abc";
	static const char huge[] = "\x00\x00\x01\x00\x00" "abc";
	const struct req echo[] = {
		{ "/t.T/Echo", "1S", { "x-token", "x-key-bin" }, { "abc", "AAEC" }, 2, "hello", 0, true },
	};
	const struct req mix[] = {
		{ "/t.T/Three", NULL, { 0 }, { 0 }, 0, "x", 0, false },
		{ "/t.T/Drip", "100m", { 0 }, { 0 }, 0, "y", 0, false },
		{ "/t.T/Hold", "20m", { 0 }, { 0 }, 0, "z", 0, true },
		{ "/t.T/Echo", NULL, { 0 }, { 0 }, 0, "", 0, true },
	};
	const struct req bad[] = {
		{ "/t.T/Echo", NULL, { 0 }, { 0 }, 0, compressed, sizeof(compressed) - 1, true },
		{ "/t.T/Echo", NULL, { 0 }, { 0 }, 0, two, sizeof(two) - 1, true },
		{ "/t.T/Echo", NULL, { 0 }, { 0 }, 0, partial, sizeof(partial) - 1, true },
		{ "/t.T/Echo", NULL, { 0 }, { 0 }, 0, huge, sizeof(huge) - 1, true },
		{ "/t.T/Nope", NULL, { 0 }, { 0 }, 0, "x", 0, true },
		{ "/t.T/Echo", "soon", { "grpc-encoding", "x-k-bin" }, { "gzip", "!!" }, 2, "x", 0, true },
	};
	const struct req hold[] = {
		{ "/t.T/Hold", NULL, { 0 }, { 0 }, 0, "wait", 0, true },
		{ "/t.T/Hold", "5m", { 0 }, { 0 }, 0, "wait", 0, true },
	};

	if (argc != 3) {
		fprintf(stderr, "usage: rpc-h2-seeds SERVER_INPUT_DIR CLIENT_INPUT_DIR\n");
		return 2;
	}
	if (fileio_mkdir_p(argv[2], 0755) < 0 || write_server_seed(argv[2], "answers", "/t.T/Echo") < 0 ||
	    write_server_seed(argv[2], "unimplemented", "/t.T/Nope") < 0) {
		fprintf(stderr, "rpc-h2-seeds: cannot write seeds into %s\n", argv[2]);
		return 1;
	}
	if (fileio_mkdir_p(argv[1], 0755) < 0 || write_seed(argv[1], "echo", echo, 1) < 0 ||
	    write_seed(argv[1], "mix", mix, 4) < 0 || write_seed(argv[1], "bad", bad, 6) < 0 ||
	    write_seed(argv[1], "hold", hold, 2) < 0) {
		fprintf(stderr, "rpc-h2-seeds: cannot write seeds into %s\n", argv[1]);
		return 1;
	}
	return 0;
}
