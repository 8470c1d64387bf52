/* One server-side HTTP/2 connection speaking gRPC: the glue between an
 * nghttp2 session and the calls it carries. No sockets, no TLS, no clock,
 * no threads: bytes from the peer go in through rpc_sconn_recv, bytes for
 * the peer come out of rpc_sconn_pull, time comes in as `now` (ms), and the
 * owner (server.c, or a fuzz target) hears about calls through four
 * callbacks. This is what lets fuzz/fuzz_rpc_h2.c drive it with raw bytes.
 *
 * What it enforces (PROTOCOL-HTTP2.md): POST with a gRPC content-type
 * (415 otherwise), a valid :path, grpc-timeout deadlines, grpc-encoding
 * identity only, uncompressed messages (UNIMPLEMENTED otherwise), exactly
 * one request message (unary and server-streaming calls), the request size
 * limit (RESOURCE_EXHAUSTED), bounded metadata, SETTINGS_MAX_CONCURRENT_
 * STREAMS, keepalive pings, and graceful GOAWAY. Responses are HEADERS,
 * DATA, then trailers carrying grpc-status and grpc-message, or one
 * trailers-only HEADERS when no message was sent.
 *
 * Call lifecycle: headers in -> route (owner may refuse) -> request
 * complete -> dispatch (the owner now answers: send/finish/kick) -> the
 * stream closes -> closed (cancelled unless our trailers went out) -> the
 * call is freed. Single-threaded: the owner calls in from one thread. */
#ifndef PHAROS_RPC_SCONN_H
#define PHAROS_RPC_SCONN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lib/err.h"

struct rpc_sconn;
struct rpc_scall;
struct rpc_meta;
struct rpc_fifo;

struct rpc_sconn_limits {
	uint32_t max_streams;          /* concurrent calls (SETTINGS_MAX_CONCURRENT_STREAMS) */
	size_t max_recv_msg;           /* largest request message */
	size_t max_send_msg;           /* largest response message */
	uint32_t stream_window;        /* initial per-stream receive window */
	uint32_t conn_window;          /* connection receive window */
	uint64_t keepalive_ms;         /* ping after this long without input; 0: never */
	uint64_t keepalive_timeout_ms; /* dead if the ping is not answered by then */
};

struct rpc_sconn_ops {
	/* Headers are in and valid; the call's path, metadata and deadline are
	 * known. Return 0 to accept it, or a gRPC code to refuse it (the code
	 * is sent at once; the message says which path was unknown). */
	int (*route)(void *owner, struct rpc_scall *call);
	/* The request is complete: msg[0..len) is its one message, valid during
	 * the call only. The owner answers later or at once. */
	void (*dispatch)(void *owner, struct rpc_scall *call, const uint8_t *msg, size_t len);
	/* The call's output queue ran dry while its response is open: the owner
	 * may give more (rpc_sconn_take) and/or finish it. Optional. */
	void (*refill)(void *owner, struct rpc_scall *call);
	/* A dispatched call ended. cancelled: our trailers did not complete it
	 * (client reset, deadline, connection gone). The call is freed after. */
	void (*closed)(void *owner, struct rpc_scall *call, bool cancelled);
};

/* Submits our SETTINGS. 0 or -ENOMEM. */
int rpc_sconn_new(struct rpc_sconn **out, const struct rpc_sconn_limits *lim, const struct rpc_sconn_ops *ops,
                  void *owner, uint64_t now) WUR;
/* Every call still open is closed (cancelled) first. NULL is a no-op. */
void rpc_sconn_free(struct rpc_sconn *c);

/* Bytes from the peer. 0, or ERR_PROTO when the connection must end (after
 * the GOAWAY nghttp2 queued has been pulled and sent). */
int rpc_sconn_recv(struct rpc_sconn *c, const uint8_t *data, size_t len, uint64_t now) WUR;
/* Next bytes for the peer: *len 0 when there are none. The pointer is valid
 * until the next call into this connection. 0 or ERR_PROTO. */
int rpc_sconn_pull(struct rpc_sconn *c, const uint8_t **data, size_t *len) WUR;
/* Deadlines and keepalive. Returns false when the connection is dead (ping
 * unanswered) and should be closed. */
bool rpc_sconn_tick(struct rpc_sconn *c, uint64_t now);
/* When rpc_sconn_tick next has work (UINT64_MAX: never). */
uint64_t rpc_sconn_next_event(const struct rpc_sconn *c);
/* Graceful shutdown: GOAWAY notice and a ping, then the final GOAWAY at the
 * ack (or one second later); calls in flight finish. */
void rpc_sconn_shutdown(struct rpc_sconn *c, uint64_t now);
/* Resets every open call with CANCEL (the hard end of a shutdown). */
void rpc_sconn_cancel_all(struct rpc_sconn *c);
/* Nothing left to read or write: close the socket. */
bool rpc_sconn_done(const struct rpc_sconn *c);
/* Open calls. */
size_t rpc_sconn_calls(const struct rpc_sconn *c);

/* Answering a call (after dispatch, on the owner's thread). */
/* Queues one response message. 0, ERR_TOOBIG (over max_send_msg), -ENOMEM,
 * or ERR_BADSTATE (already finished). Call rpc_sconn_kick after. */
int rpc_sconn_send(struct rpc_sconn *c, struct rpc_scall *call, const uint8_t *msg, size_t len) WUR;
/* From refill only: takes q's bytes (already framed messages) as the output
 * queue by swapping buffers with it; q gets the old, empty queue. */
void rpc_sconn_take(struct rpc_scall *call, struct rpc_fifo *q);
/* Ends the call with this status once the queued messages are out (msg may
 * be NULL). May be called from refill. Later calls are ignored. */
void rpc_sconn_finish(struct rpc_sconn *c, struct rpc_scall *call, int code, const char *msg);
/* The owner has something new: starts the response or resumes its data. */
void rpc_sconn_kick(struct rpc_sconn *c, struct rpc_scall *call);

const char *rpc_sconn_call_path(const struct rpc_scall *call);
const char *rpc_sconn_call_authority(const struct rpc_scall *call);
const struct rpc_meta *rpc_sconn_call_meta(const struct rpc_scall *call);
/* Absolute deadline on the `now` clock, 0 when the client set none. */
uint64_t rpc_sconn_call_deadline(const struct rpc_scall *call);
void rpc_sconn_call_set_owner(struct rpc_scall *call, void *data);
void *rpc_sconn_call_owner(const struct rpc_scall *call);

#endif
