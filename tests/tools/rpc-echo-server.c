/* The gRPC test server of the interoperability tests: pharos.test.Echo
 * (tests/proto/echo.proto) over mutual TLS, built on src/rpc.
 *
 *   rpc-echo-server --listen 127.0.0.1:0 --cert F --key F --ca F [--threads N] [--max-msg N]
 *
 * Prints "listening PORT" once it accepts, then serves until SIGTERM or
 * SIGINT, when it shuts down gracefully (calls in flight finish, 3 s max).
 *
 * Say(Msg) echoes the message, except that some texts ask for behaviour:
 *   "sleep:MS"         answer after MS milliseconds (or when cancelled)
 *   "status:CODE:TEXT" fail with that status and message
 *   "meta:KEY"         answer with the request's metadata value under KEY
 *                      (a -bin value in hex)
 *   "peer"             answer with the client certificate's subject CN
 * Count(CountReq) streams n messages "msg I" (seq I, blob of size bytes). */
#include <errno.h>
#include <openssl/x509.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "lib/buf.h"
#include "lib/log.h"
#include "lib/mem.h"
#include "rpc/meta.h"
#include "rpc/pb.h"
#include "rpc/peer.h"
#include "rpc/server.h"
#include "rpc/status.h"
#include "tests/proto/echo.pb-c.h"

static void sleep_ms(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000 };
	nanosleep(&ts, NULL);
}

static void reply_text(const Pharos__Test__Msg *in, const char *text, struct buf *resp, struct rpc_status *st)
{
	Pharos__Test__Msg out = PHAROS__TEST__MSG__INIT;

	out.text = (char *)text;
	out.seq = in->seq;
	if (rpc_pb_pack_buf(&out.base, resp) < 0)
		rpc_status_set(st, RPC_RESOURCE_EXHAUSTED, "response too large");
}

static void say(void *ctx, const struct rpc_call *call, const uint8_t *req, size_t len, struct buf *resp,
                struct rpc_status *st)
{
	ProtobufCMessage *m = NULL;
	Pharos__Test__Msg *in;
	char text[512];

	if (rpc_pb_unpack(&pharos__test__msg__descriptor, req, len, 16u << 20, &m) < 0) {
		rpc_status_set(st, RPC_INVALID_ARGUMENT, "not a pharos.test.Msg");
		return;
	}
	in = (Pharos__Test__Msg *)m;
	const char *t = in->text ? in->text : "";
	if (!strncmp(t, "sleep:", 6)) {
		long ms = strtol(t + 6, NULL, 10);
		for (long waited = 0; waited < ms && !rpc_call_cancelled(call); waited += 5)
			sleep_ms(5);
		if (rpc_pb_pack_buf(m, resp) < 0)
			rpc_status_set(st, RPC_RESOURCE_EXHAUSTED, NULL);
	} else if (!strncmp(t, "status:", 7)) {
		char *end;
		long code = strtol(t + 7, &end, 10);
		rpc_status_set(st, (int)code, "%s", *end == ':' ? end + 1 : "");
	} else if (!strncmp(t, "meta:", 5)) {
		size_t vlen;
		const uint8_t *v = rpc_meta_get(rpc_call_meta(call), t + 5, &vlen);
		if (!v) {
			rpc_status_set(st, RPC_NOT_FOUND, "no metadata %s", t + 5);
		} else if (strlen(t) > 9 && !strcmp(t + strlen(t) - 4, "-bin")) {
			size_t n = 0;
			for (size_t i = 0; i < vlen && n + 3 < sizeof(text); i++)
				n += (size_t)snprintf(text + n, sizeof(text) - n, "%02x", v[i]);
			text[n] = '\0';
			reply_text(in, text, resp, st);
		} else {
			snprintf(text, sizeof(text), "%.*s", (int)vlen, (const char *)v);
			reply_text(in, text, resp, st);
		}
	} else if (!strcmp(t, "peer")) {
		X509 *cert = rpc_peer_cert(rpc_call_peer(call));
		if (!cert || X509_NAME_get_text_by_NID(X509_get_subject_name(cert), NID_commonName, text, sizeof(text)) < 0)
			snprintf(text, sizeof(text), "(none)");
		reply_text(in, text, resp, st);
	} else if (rpc_pb_pack_buf(m, resp) < 0) {
		rpc_status_set(st, RPC_RESOURCE_EXHAUSTED, "response too large");
	}
	rpc_pb_free(m);
}

static void count(void *ctx, const struct rpc_call *call, const uint8_t *req, size_t len, struct rpc_stream *st)
{
	ProtobufCMessage *m = NULL;
	Pharos__Test__CountReq *in;
	uint8_t *blob = NULL, *packed = NULL;
	size_t plen;
	char text[32];
	int rc = 0;

	if (rpc_pb_unpack(&pharos__test__count_req__descriptor, req, len, 1024, &m) < 0) {
		rpc_stream_finish(st, RPC_INVALID_ARGUMENT, "not a pharos.test.CountReq");
		return;
	}
	in = (Pharos__Test__CountReq *)m;
	blob = mem_zalloc(in->size ? in->size : 1);
	for (uint32_t i = 0; blob && i < in->n && rc == 0; i++) {
		Pharos__Test__Msg out = PHAROS__TEST__MSG__INIT;
		snprintf(text, sizeof(text), "msg %u", i);
		out.text = text;
		out.seq = i;
		out.blob.data = blob;
		out.blob.len = in->size;
		rc = rpc_pb_pack(&out.base, 16u << 20, &packed, &plen);
		if (rc == 0)
			rc = rpc_stream_send(st, packed, plen);
		mem_free(packed);
	}
	rpc_stream_finish(st, !blob ? RPC_RESOURCE_EXHAUSTED : rc == 0 ? RPC_OK : rc == -ECANCELED ? RPC_CANCELLED : RPC_INTERNAL,
	                  rc ? err_str(rc) : NULL);
	mem_free(blob);
	rpc_pb_free(m);
}

static void usage(void)
{
	fprintf(stderr, "usage: rpc-echo-server --listen ADDR --cert FILE --key FILE --ca FILE [--threads N] "
	                "[--max-msg BYTES]\n");
	exit(2);
}

int main(int argc, char **argv)
{
	struct rpc_server_opts o = { 0 };
	struct rpc_stream_opts so = { .queue_bytes = 1u << 20, .policy = RPC_STREAM_BLOCK, .block_ms = -1 };
	struct rpc_server *srv;
	sigset_t set;
	int sig, rc;

	log_setup("rpc-echo-server", LOG_LVL_WARN, false);
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
		if (!v)
			usage();
		if (!strcmp(a, "--listen"))
			o.listen = v;
		else if (!strcmp(a, "--cert"))
			o.tls.cert = v;
		else if (!strcmp(a, "--key"))
			o.tls.key = v;
		else if (!strcmp(a, "--ca"))
			o.tls.ca = v;
		else if (!strcmp(a, "--threads"))
			o.handler_threads = atoi(v);
		else if (!strcmp(a, "--max-msg"))
			o.max_recv_msg = o.max_send_msg = strtoul(v, NULL, 10);
		else
			usage();
		i++;
	}
	so.queue_bytes = (o.max_send_msg ? o.max_send_msg : 4u << 20) + 64 * 1024;
	/* Handle the stop signals here, not by default; threads inherit the mask. */
	sigemptyset(&set);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGTERM);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	rc = rpc_server_new(&srv, &o);
	if (rc < 0) {
		fprintf(stderr, "rpc-echo-server: %s\n", err_str(rc));
		return 1;
	}
	if (rpc_server_handle_unary(srv, "/pharos.test.Echo/Say", say, NULL) < 0 ||
	    rpc_server_handle_stream(srv, "/pharos.test.Echo/Count", count, NULL, &so) < 0 ||
	    rpc_server_start(srv) < 0) {
		fprintf(stderr, "rpc-echo-server: cannot start\n");
		rpc_server_free(srv);
		return 1;
	}
	printf("listening %u\n", rpc_server_port(srv));
	fflush(stdout);
	sigwait(&set, &sig);
	rc = rpc_server_shutdown(srv, true, 3000);
	rpc_server_free(srv);
	return rc < 0 ? 3 : 0;
}
