/* gRPC client over HTTP/2 and mutually authenticated TLS (DESIGN.md §5.1):
 * how cox calls each node's NodeControl, and any other control-plane dial.
 *
 * One client is one target. It connects lazily on the first call, keeps one
 * HTTP/2 connection that every call multiplexes over, reconnects when that
 * connection is lost or the server sends GOAWAY, and backs off after failed
 * connects (calls fail fast with UNAVAILABLE meanwhile, as gRPC's
 * fail-fast calls do). A loop thread owned by the client does all I/O;
 * callers block in their own threads, and any number of threads may call
 * at once.
 *
 * A streaming call delivers messages on the caller's thread, and HTTP/2
 * flow control is credited only as the caller takes them, so a slow reader
 * slows the server rather than growing memory here.
 *
 * No DNS: the target is a numeric address (callers resolve); the server
 * certificate is checked against server_name (a DNS name or IP literal). */
#ifndef PHAROS_RPC_CLIENT_H
#define PHAROS_RPC_CLIENT_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lib/err.h"
#include "rpc/tls.h"

struct rpc_client;
struct rpc_meta;
struct rpc_status;

struct rpc_client_opts {
	const char *target;            /* "203.0.113.7:8444" or "[2001:db8::7]:8444" */
	const char *server_name;       /* name the server certificate must carry; NULL: the target's address */
	struct rpc_tls_opts tls;       /* our client certificate, key, CA; verify policy */
	size_t max_recv_msg;           /* 0: 4 MiB */
	size_t max_send_msg;           /* 0: 4 MiB */
	uint32_t connect_timeout_ms;   /* 0: 10 s (TCP and TLS together) */
	uint32_t keepalive_ms;         /* 0: no pings; else ping after this long without input while calls are open */
	uint32_t keepalive_timeout_ms; /* 0: 20 s */
	uint32_t max_calls;            /* 0: 1000 calls in flight; beyond: RESOURCE_EXHAUSTED */
	uint32_t backoff_max_ms;       /* 0: 10 s; reconnect backoff starts at 100 ms and doubles */
};

/* Cancels a call from another thread (e.g. to stop a WatchEvents reader). */
struct rpc_cancel {
	pthread_mutex_t lock; /* guards call */
	atomic_bool fired;
	void *call;           /* the call waiting on it, if any */
};
void rpc_cancel_init(struct rpc_cancel *c);
void rpc_cancel_fini(struct rpc_cancel *c);
/* Thread-safe; the call it guards (now or later) ends with CANCELLED. */
void rpc_cancel_fire(struct rpc_cancel *c);

/* Checks the options and loads TLS material; connects nothing yet.
 * 0, -EINVAL (bad target or options), a TLS error (rpc/tls.h), -errno. */
int rpc_client_new(struct rpc_client **out, const struct rpc_client_opts *opts) WUR;
/* Cancels whatever is still open and stops the loop thread. No call may be
 * in progress or start. NULL is a no-op. */
void rpc_client_free(struct rpc_client *cli);

/* One unary call; blocks until it ends. metadata may be NULL; deadline_ms
 * <= 0 means none (the server is told through grpc-timeout, and the call
 * ends with DEADLINE_EXCEEDED when it passes). status is always set. On OK,
 * *resp (mem_alloc'd, free with mem_free) holds the response message.
 * Returns 0 if the status is OK, -EREMOTEIO if the call ended with another
 * status (see status), -EINVAL for bad arguments. */
int rpc_client_unary(struct rpc_client *cli, const char *method, const uint8_t *req, size_t len,
                     const struct rpc_meta *metadata, int deadline_ms, uint8_t **resp, size_t *resp_len,
                     struct rpc_status *status) WUR;

/* Called on the caller's thread for each message of a server stream; msg
 * is valid during the call. Return 0 to go on, nonzero to cancel the call
 * (it then ends with CANCELLED). */
typedef int (*rpc_client_msg_fn)(void *ctx, const uint8_t *msg, size_t len);

/* One server-streaming call; blocks until it ends, calling on_msg for each
 * message. cancel may be NULL. Returns as rpc_client_unary. */
int rpc_client_stream(struct rpc_client *cli, const char *method, const uint8_t *req, size_t len,
                      const struct rpc_meta *metadata, int deadline_ms, rpc_client_msg_fn on_msg, void *ctx,
                      struct rpc_cancel *cancel, struct rpc_status *status) WUR;

#endif
