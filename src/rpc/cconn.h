/* One client-side HTTP/2 connection speaking gRPC: the glue between an
 * nghttp2 client session and the calls on it. Like rpc/sconn.h it does no
 * I/O and reads no clock (bytes in, bytes out, `now` passed in), so it can
 * be driven by tests and fuzzers; client.c puts sockets, TLS and threads
 * around it. A controller dials nodes it does not fully trust, so the
 * response side is as strict as the server's request side: framing,
 * message size, one message for unary calls, and the call's status from
 * grpc-status, or else from the HTTP status or the reset code as the gRPC
 * spec maps them.
 *
 * Flow control is manual: the owner credits bytes back (rpc_cconn_consume)
 * once its caller has taken them, so a slow stream reader slows the server
 * instead of growing our queues. */
#ifndef PHAROS_RPC_CCONN_H
#define PHAROS_RPC_CCONN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lib/err.h"

struct rpc_cconn;
struct rpc_status;

struct rpc_cconn_limits {
	size_t max_recv_msg;           /* largest response message */
	uint32_t stream_window;        /* initial per-stream receive window */
	uint32_t conn_window;          /* connection receive window */
	uint64_t keepalive_ms;         /* ping after this long without input while calls are open; 0: never */
	uint64_t keepalive_timeout_ms;
};

struct rpc_cconn_ops {
	/* Response bytes p[0..len) of call, already checked as framing; they
	 * complete `messages` more messages. The owner must eventually credit
	 * len bytes (rpc_cconn_consume), at once or when its reader has them. */
	void (*data)(void *owner, void *call, const uint8_t *p, size_t len, int messages);
	/* The call ended with status st (OK only if the server said so and the
	 * response was well formed). No more callbacks for it follow. */
	void (*closed)(void *owner, void *call, const struct rpc_status *st);
};

/* One request. The strings and body must stay valid until closed. */
struct rpc_cconn_req {
	const char *path;       /* "/pkg.Service/Method" */
	const char *authority;
	const char *timeout;    /* grpc-timeout value, or NULL */
	const char *const *meta_names;  /* custom metadata, wire form */
	const char *const *meta_values;
	size_t nmeta;
	const uint8_t *body;    /* framed request message(s) */
	size_t body_len;
	bool unary;             /* exactly one response message expected */
};

/* Submits our SETTINGS and the client preface. 0 or -ENOMEM. */
int rpc_cconn_new(struct rpc_cconn **out, const struct rpc_cconn_limits *lim, const struct rpc_cconn_ops *ops,
                  void *owner, uint64_t now) WUR;
/* Calls still open are closed with UNAVAILABLE first. NULL is a no-op. */
void rpc_cconn_free(struct rpc_cconn *c);

/* Starts a call. 0 (sets *stream_id), ERR_BADSTATE (the server sent
 * GOAWAY or stream ids ran out: use a new connection), or -ENOMEM. */
int rpc_cconn_submit(struct rpc_cconn *c, const struct rpc_cconn_req *r, void *call, int32_t *stream_id) WUR;
/* Resets the call with CANCEL; closed follows (with CANCELLED). */
void rpc_cconn_cancel(struct rpc_cconn *c, int32_t stream_id);
/* Credits n bytes of the call's data back to the server. */
void rpc_cconn_consume(struct rpc_cconn *c, int32_t stream_id, size_t n);

int rpc_cconn_recv(struct rpc_cconn *c, const uint8_t *data, size_t len, uint64_t now) WUR;
int rpc_cconn_pull(struct rpc_cconn *c, const uint8_t **data, size_t *len) WUR;
/* Keepalive. false: the connection is dead (ping unanswered). */
bool rpc_cconn_tick(struct rpc_cconn *c, uint64_t now);
uint64_t rpc_cconn_next_event(const struct rpc_cconn *c);
/* The server said GOAWAY (or the session failed): no new calls here. */
bool rpc_cconn_draining(const struct rpc_cconn *c);
/* Nothing left to read or write. */
bool rpc_cconn_done(const struct rpc_cconn *c);
size_t rpc_cconn_calls(const struct rpc_cconn *c);

#endif
