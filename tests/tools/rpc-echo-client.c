/* The gRPC test client of the interoperability tests and the rpc
 * benchmark: calls pharos.test.Echo (tests/proto/echo.proto) with src/rpc's
 * client over mutual TLS.
 *
 *   rpc-echo-client --target ADDR --cert F --key F --ca F [--server-name NAME] COMMAND
 *
 * Commands (one line of key=value output each; exit 0 when the calls were OK):
 *   say TEXT [--deadline MS] [--meta KEY=VALUE]...
 *       text=... seq=...            or  status=NAME message=...
 *   count N [SIZE]
 *       messages=N status=NAME       (checks every seq arrives in order)
 *   bench-unary SECONDS THREADS
 *       unary_calls_per_s=X calls=N errors=E     (one client, one connection)
 *   bench-stream N SUBSCRIBERS [SIZE]
 *       stream_msgs_per_s=X total=T lost=L       (one Count(N) per subscriber) */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "lib/log.h"
#include "lib/mem.h"
#include "rpc/client.h"
#include "rpc/meta.h"
#include "rpc/pb.h"
#include "rpc/status.h"
#include "tests/proto/echo.pb-c.h"

#define SAY "/pharos.test.Echo/Say"
#define COUNT "/pharos.test.Echo/Count"

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void usage(void)
{
	fprintf(stderr, "usage: rpc-echo-client --target ADDR --cert F --key F --ca F [--server-name NAME] "
	                "say TEXT [--deadline MS] [--meta K=V]... | count N [SIZE] | bench-unary SECONDS THREADS | "
	                "bench-stream N SUBSCRIBERS [SIZE]\n");
	exit(2);
}

static int cmd_say(struct rpc_client *cli, int argc, char **argv)
{
	Pharos__Test__Msg msg = PHAROS__TEST__MSG__INIT;
	ProtobufCMessage *out = NULL;
	struct rpc_meta md;
	struct rpc_status st;
	uint8_t *req = NULL, *resp = NULL;
	size_t len, rlen;
	int deadline = 10000, rc;

	if (argc < 1)
		usage();
	rpc_meta_init(&md);
	msg.text = argv[0];
	msg.seq = 42;
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--deadline") && i + 1 < argc) {
			deadline = atoi(argv[++i]);
		} else if (!strcmp(argv[i], "--meta") && i + 1 < argc) {
			char *kv = argv[++i], *eq = strchr(kv, '=');
			if (!eq)
				usage();
			*eq = '\0';
			if (rpc_meta_add(&md, kv, eq + 1, strlen(eq + 1)) < 0) {
				fprintf(stderr, "rpc-echo-client: bad metadata %s\n", kv);
				return 2;
			}
		} else {
			usage();
		}
	}
	if (rpc_pb_pack(&msg.base, 1u << 20, &req, &len) < 0)
		return 2;
	rc = rpc_client_unary(cli, SAY, req, len, &md, deadline, &resp, &rlen, &st);
	if (rc == 0 && rpc_pb_unpack(&pharos__test__msg__descriptor, resp, rlen, 1u << 20, &out) == 0) {
		Pharos__Test__Msg *m = (Pharos__Test__Msg *)out;
		printf("text=%s seq=%llu\n", m->text, (unsigned long long)m->seq);
	} else {
		printf("status=%s message=%s\n", rpc_status_name(st.code), st.message);
	}
	rpc_pb_free(out);
	mem_free(req);
	mem_free(resp);
	rpc_meta_fini(&md);
	return rc == 0 ? 0 : 1;
}

struct counter {
	uint64_t next;
	bool order_ok;
};

static int on_count(void *ctx, const uint8_t *msg, size_t len)
{
	struct counter *c = ctx;
	ProtobufCMessage *m;

	if (rpc_pb_unpack(&pharos__test__msg__descriptor, msg, len, 16u << 20, &m) < 0)
		return 1;
	if (((Pharos__Test__Msg *)m)->seq != c->next)
		c->order_ok = false;
	c->next++;
	rpc_pb_free(m);
	return 0;
}

static int stream_count(struct rpc_client *cli, uint32_t n, uint32_t size, struct counter *c, struct rpc_status *st)
{
	Pharos__Test__CountReq req = PHAROS__TEST__COUNT_REQ__INIT;
	uint8_t *buf;
	size_t len;
	int rc;

	req.n = n;
	req.size = size;
	c->next = 0;
	c->order_ok = true;
	if (rpc_pb_pack(&req.base, 1024, &buf, &len) < 0)
		return -ENOMEM;
	rc = rpc_client_stream(cli, COUNT, buf, len, NULL, 600000, on_count, c, NULL, st);
	mem_free(buf);
	return rc;
}

static int cmd_count(struct rpc_client *cli, int argc, char **argv)
{
	struct counter c;
	struct rpc_status st;
	int rc;

	if (argc < 1)
		usage();
	rc = stream_count(cli, (uint32_t)strtoul(argv[0], NULL, 10), argc > 1 ? (uint32_t)strtoul(argv[1], NULL, 10) : 0,
	                  &c, &st);
	printf("messages=%llu status=%s order=%s message=%s\n", (unsigned long long)c.next, rpc_status_name(st.code),
	       c.order_ok ? "ok" : "broken", st.message);
	return rc == 0 && c.order_ok ? 0 : 1;
}

struct bench {
	struct rpc_client *cli;
	double until;
	atomic_ulong calls, errors;
	uint32_t n, size;
	uint64_t got;
	bool ok;
};

static void *unary_worker(void *arg)
{
	struct bench *b = arg;
	Pharos__Test__Msg msg = PHAROS__TEST__MSG__INIT;
	uint8_t *req, *resp;
	size_t len, rlen;
	struct rpc_status st;

	msg.text = "benchmark";
	if (rpc_pb_pack(&msg.base, 1024, &req, &len) < 0)
		return NULL;
	while (now_s() < b->until) {
		if (rpc_client_unary(b->cli, SAY, req, len, NULL, 10000, &resp, &rlen, &st) == 0)
			atomic_fetch_add(&b->calls, 1);
		else
			atomic_fetch_add(&b->errors, 1);
		mem_free(resp);
	}
	mem_free(req);
	return NULL;
}

static int cmd_bench_unary(struct rpc_client *cli, int argc, char **argv)
{
	struct bench b = { .cli = cli };
	pthread_t t[64];
	int threads;
	double secs, t0;

	if (argc < 2)
		usage();
	secs = atof(argv[0]);
	threads = atoi(argv[1]);
	if (threads < 1 || threads > 64)
		usage();
	/* Warm up: connect before the clock starts. */
	b.until = now_s() + 0.2;
	unary_worker(&b);
	atomic_store(&b.calls, 0);
	atomic_store(&b.errors, 0);
	t0 = now_s();
	b.until = t0 + secs;
	for (int i = 0; i < threads; i++)
		pthread_create(&t[i], NULL, unary_worker, &b);
	for (int i = 0; i < threads; i++)
		pthread_join(t[i], NULL);
	double el = now_s() - t0;
	printf("unary_calls_per_s=%.0f calls=%lu errors=%lu threads=%d seconds=%.2f\n", (double)atomic_load(&b.calls) / el,
	       atomic_load(&b.calls), atomic_load(&b.errors), threads, el);
	return atomic_load(&b.errors) ? 1 : 0;
}

static void *stream_worker(void *arg)
{
	struct bench *b = arg;
	struct counter c;
	struct rpc_status st;

	b->ok = stream_count(b->cli, b->n, b->size, &c, &st) == 0 && c.order_ok;
	b->got = c.next;
	return NULL;
}

static int cmd_bench_stream(struct rpc_client *cli, int argc, char **argv)
{
	struct bench b[16];
	pthread_t t[16];
	int subs;
	uint64_t total = 0, lost = 0;
	bool ok = true;

	if (argc < 2)
		usage();
	subs = atoi(argv[1]);
	if (subs < 1 || subs > 16)
		usage();
	double t0 = now_s();
	for (int i = 0; i < subs; i++) {
		b[i] = (struct bench){ .cli = cli, .n = (uint32_t)strtoul(argv[0], NULL, 10),
		                       .size = argc > 2 ? (uint32_t)strtoul(argv[2], NULL, 10) : 0 };
		pthread_create(&t[i], NULL, stream_worker, &b[i]);
	}
	for (int i = 0; i < subs; i++) {
		pthread_join(t[i], NULL);
		total += b[i].got;
		lost += b[i].n - b[i].got;
		ok = ok && b[i].ok;
	}
	double el = now_s() - t0;
	printf("stream_msgs_per_s=%.0f total=%llu lost=%llu subscribers=%d seconds=%.2f\n", (double)total / el,
	       (unsigned long long)total, (unsigned long long)lost, subs, el);
	return ok && !lost ? 0 : 1;
}

int main(int argc, char **argv)
{
	struct rpc_client_opts o = { 0 };
	struct rpc_client *cli;
	int i, rc;

	log_setup("rpc-echo-client", LOG_LVL_WARN, false);
	o.max_recv_msg = o.max_send_msg = 16u << 20;
	for (i = 1; i + 1 < argc && !strncmp(argv[i], "--", 2); i += 2) {
		const char *a = argv[i], *v = argv[i + 1];
		if (!strcmp(a, "--target"))
			o.target = v;
		else if (!strcmp(a, "--cert"))
			o.tls.cert = v;
		else if (!strcmp(a, "--key"))
			o.tls.key = v;
		else if (!strcmp(a, "--ca"))
			o.tls.ca = v;
		else if (!strcmp(a, "--server-name"))
			o.server_name = v;
		else
			usage();
	}
	if (i >= argc)
		usage();
	rc = rpc_client_new(&cli, &o);
	if (rc < 0) {
		fprintf(stderr, "rpc-echo-client: %s\n", err_str(rc));
		return 2;
	}
	const char *cmd = argv[i++];
	if (!strcmp(cmd, "say"))
		rc = cmd_say(cli, argc - i, argv + i);
	else if (!strcmp(cmd, "count"))
		rc = cmd_count(cli, argc - i, argv + i);
	else if (!strcmp(cmd, "bench-unary"))
		rc = cmd_bench_unary(cli, argc - i, argv + i);
	else if (!strcmp(cmd, "bench-stream"))
		rc = cmd_bench_stream(cli, argc - i, argv + i);
	else
		usage();
	rpc_client_free(cli);
	return rc;
}
