/* gRPC server over HTTP/2 and mutually authenticated TLS (DESIGN.md §5.1).
 *
 * Threads: one loop thread (rpc/loop.h) owns the listening socket, every
 * connection's TLS and HTTP/2 state, timers and deadlines. Handlers run on
 * a pool of worker threads (handler_threads), so a slow PushConfig never
 * stalls keepalives or other calls; with RPC_SERVER_INLINE they run on the
 * loop thread instead and must not block. Streams are written from any
 * thread: messages go into the call's bounded queue under its lock, and the
 * loop is woken through an eventfd only when a call first becomes ready, so
 * a burst of messages costs one wake-up, not one syscall each.
 *
 *   srv = rpc_server_new(&opts);   binds now (rpc_server_port tells the port)
 *   rpc_server_handle_unary(srv, "/pharos.node.v1.NodeControl/GetStatus", fn, ctx);
 *   rpc_server_handle_stream(srv, "/pharos.node.v1.NodeControl/WatchEvents", fn, ctx, &sopts);
 *   rpc_server_start(srv);         the loop and workers start
 *   rpc_server_shutdown(srv, true, 5000);  GOAWAY, in-flight calls finish
 *   rpc_server_free(srv);
 *
 * Unknown methods are answered UNIMPLEMENTED; requests over max_recv_msg
 * RESOURCE_EXHAUSTED; compressed messages UNIMPLEMENTED; calls past their
 * grpc-timeout DEADLINE_EXCEEDED (and the handler sees it cancelled). */
#ifndef PHAROS_RPC_SERVER_H
#define PHAROS_RPC_SERVER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lib/err.h"
#include "rpc/tls.h"

struct buf;
struct rpc_call;
struct rpc_meta;
struct rpc_peer;
struct rpc_server;
struct rpc_status;
struct rpc_stream;

#define RPC_SERVER_INLINE (-1) /* handler_threads: run handlers on the loop thread */

struct rpc_server_opts {
	const char *listen;            /* "127.0.0.1:8444", "[::]:8444" ([::] takes IPv4 too); port 0: any */
	struct rpc_tls_opts tls;       /* certificate, key, CA (or an SSL_CTX), verify policy */
	uint32_t max_conns;            /* 0: 256. Connections beyond are closed at accept */
	uint32_t max_streams;          /* 0: 100 concurrent calls per connection */
	size_t max_recv_msg;           /* 0: 4 MiB */
	size_t max_send_msg;           /* 0: 4 MiB */
	uint32_t keepalive_ms;         /* 0: 60 s; UINT32_MAX: no pings */
	uint32_t keepalive_timeout_ms; /* 0: 20 s */
	uint32_t handshake_timeout_ms; /* 0: 10 s */
	int handler_threads;           /* 0: 2; RPC_SERVER_INLINE: none */
	uint32_t max_pending;          /* 0: 1024 calls waiting for a worker; beyond: RESOURCE_EXHAUSTED */
};

/* Unary handler, on a worker thread. Append the response message to resp
 * (capped at max_send_msg) and leave status OK, or set an error status
 * (rpc_status_set), in which case resp is ignored. call and req are valid
 * during the handler only. */
typedef void (*rpc_unary_fn)(void *ctx, const struct rpc_call *call, const uint8_t *req, size_t len,
                             struct buf *resp, struct rpc_status *status);

/* Server-streaming handler, on a worker thread. It owns st: write with
 * rpc_stream_send from any thread, for as long as it likes (it may return
 * at once and keep st in a subscriber list), and must end with
 * rpc_stream_finish, which releases st. call stays valid until then. */
typedef void (*rpc_stream_fn)(void *ctx, const struct rpc_call *call, const uint8_t *req, size_t len,
                              struct rpc_stream *st);

/* What rpc_stream_send does when the stream's queue is full, which happens
 * when the client reads slower than the handler writes (HTTP/2 flow
 * control pushes back into the queue). */
enum rpc_stream_policy {
	RPC_STREAM_BLOCK = 0, /* wait for room, up to block_ms (then -ETIMEDOUT) */
	RPC_STREAM_DROP,      /* drop the new message, count it, return -ENOBUFS */
	RPC_STREAM_CLOSE,     /* end the call with RESOURCE_EXHAUSTED, return -ENOBUFS */
};

struct rpc_stream_opts {
	size_t queue_bytes;    /* 0: 1 MiB of framed messages (each message costs len + 5) */
	enum rpc_stream_policy policy;
	int block_ms;          /* RPC_STREAM_BLOCK: longest wait; < 0: no limit */
};

/* Loads the TLS material and binds the listening socket (not yet
 * accepting). Zero fields take the defaults above. 0, -EINVAL (bad listen
 * address or options), -errno from bind, or a TLS error (rpc/tls.h). */
int rpc_server_new(struct rpc_server **out, const struct rpc_server_opts *opts) WUR;
/* Registration, before rpc_server_start only. method is "/pkg.Service/Method".
 * 0, -EINVAL (malformed path), ERR_EXISTS, ERR_TOOBIG (too many methods),
 * ERR_BADSTATE (already started) or -ENOMEM. */
int rpc_server_handle_unary(struct rpc_server *srv, const char *method, rpc_unary_fn fn, void *ctx) WUR;
int rpc_server_handle_stream(struct rpc_server *srv, const char *method, rpc_stream_fn fn, void *ctx,
                             const struct rpc_stream_opts *opts) WUR;
/* Starts the loop thread and the workers. 0 or -errno. */
int rpc_server_start(struct rpc_server *srv) WUR;
/* The bound port (useful with port 0). */
uint16_t rpc_server_port(const struct rpc_server *srv);
/* Stops accepting. graceful: GOAWAY to every client, in-flight calls may
 * finish for timeout_ms, then whatever is left is cancelled; otherwise
 * everything is cancelled now. Blocks until the loop has stopped. Not from
 * a handler or the loop thread. 0, or -ETIMEDOUT if calls had to be
 * cancelled at the end of a graceful shutdown. */
int rpc_server_shutdown(struct rpc_server *srv, bool graceful, int timeout_ms) WUR;
/* Shuts down (hard) if still running, then waits until every stream handed
 * to a handler has been finished (handlers learn of the cancellation through
 * rpc_stream_on_cancel / rpc_stream_send's -ECANCELED). NULL is a no-op. */
void rpc_server_free(struct rpc_server *srv);

/* The call, as its handler sees it. */
const char *rpc_call_method(const struct rpc_call *call);
const char *rpc_call_authority(const struct rpc_call *call);
const struct rpc_meta *rpc_call_meta(const struct rpc_call *call);
/* Take a reference (rpc_peer_get) to keep it beyond the call. */
const struct rpc_peer *rpc_call_peer(const struct rpc_call *call);
/* Milliseconds left before the client's deadline, 0 if passed, -1 if none. */
int64_t rpc_call_remaining_ms(const struct rpc_call *call);
/* The client cancelled, the deadline passed, or the connection is gone. */
bool rpc_call_cancelled(const struct rpc_call *call);

/* Streams: every function is thread-safe. */
const struct rpc_call *rpc_stream_call(const struct rpc_stream *st);
/* Queues one message. 0, -ECANCELED (the call has ended: stop and finish),
 * -ENOBUFS (queue full under DROP or CLOSE), -ETIMEDOUT (BLOCK waited
 * block_ms), ERR_TOOBIG (over max_send_msg or the queue size), -ENOMEM. */
int rpc_stream_send(struct rpc_stream *st, const uint8_t *msg, size_t len) WUR;
/* Ends the call with code/msg once the queued messages are out, and
 * releases the handler's hold: st must not be used afterwards. */
void rpc_stream_finish(struct rpc_stream *st, int code, const char *msg);
/* fn(ctx) runs once, on the loop thread, when the call ends other than by
 * rpc_stream_finish (at once, on this thread, if it already has). fn must
 * not block; it may call rpc_stream_finish. */
void rpc_stream_on_cancel(struct rpc_stream *st, void (*fn)(void *ctx), void *ctx);
/* Messages refused because the queue was full. */
uint64_t rpc_stream_dropped(const struct rpc_stream *st);

#endif
