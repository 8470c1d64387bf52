/* The event loop under the gRPC server and client: one epoll set, a timer
 * heap, and an eventfd that other threads use to wake it (in the manner of
 * Redis' ae.c: add an fd, delete an fd, arm a timer).
 *
 * Why epoll and not libuv (which cox and the node agent use for their own
 * loops): this loop runs on a thread the rpc layer owns, so the choice does
 * not leak into programs; OpenSSL must read and write the socket itself
 * (SSL_read straight from the fd, no extra copy through libuv's read
 * buffers or a memory BIO); and the layer needs exactly four things (fd
 * readiness, a few timers, a cross-thread wake-up, a cached clock), which
 * fit in two hundred lines we control. Linux-only, like the data plane.
 *
 * Single-threaded: every function except rpc_loop_wake must be called on
 * the loop's thread (or before it starts). The loop never frees what it
 * points to: owners delete their fd and disarm their timer before freeing,
 * and defer the free until the current dispatch returns. */
#ifndef PHAROS_RPC_LOOP_H
#define PHAROS_RPC_LOOP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lib/err.h"

struct rpc_loop;

/* An fd watched by the loop; embedded in its owner. events are EPOLLIN,
 * EPOLLOUT; fn receives what epoll reported (EPOLLERR/EPOLLHUP included). */
struct rpc_loop_io {
	int fd;
	uint32_t events;
	void (*fn)(void *ctx, uint32_t events);
	void *ctx;
};

/* A one-shot timer; embedded in its owner. */
struct rpc_loop_timer {
	uint64_t at;  /* ms on the loop clock */
	size_t slot;  /* heap index; SIZE_MAX when not armed */
	void (*fn)(void *ctx);
	void *ctx;
};

/* on_wake runs on the loop thread after rpc_loop_wake (calls coalesce).
 * max_timers bounds the heap. 0 or -errno. */
int rpc_loop_new(struct rpc_loop **out, size_t max_timers, void (*on_wake)(void *ctx), void *ctx) WUR;
void rpc_loop_free(struct rpc_loop *l);

int rpc_loop_add(struct rpc_loop *l, struct rpc_loop_io *io) WUR;
/* Changes the events watched (io->events). */
int rpc_loop_mod(struct rpc_loop *l, struct rpc_loop_io *io, uint32_t events) WUR;
void rpc_loop_del(struct rpc_loop *l, struct rpc_loop_io *io);

void rpc_loop_timer_init(struct rpc_loop_timer *t, void (*fn)(void *ctx), void *ctx);
/* (Re)arms t for absolute time at_ms. 0, -ENOMEM or ERR_TOOBIG. */
int rpc_loop_timer_arm(struct rpc_loop *l, struct rpc_loop_timer *t, uint64_t at_ms) WUR;
void rpc_loop_timer_disarm(struct rpc_loop *l, struct rpc_loop_timer *t);

/* Waits for events (at most max_wait_ms, or until the next timer), then
 * dispatches fd events, the wake callback and due timers. 0 or -errno. */
int rpc_loop_run_once(struct rpc_loop *l, int max_wait_ms) WUR;
/* Thread-safe and async-signal-safe: makes the loop run on_wake soon. */
void rpc_loop_wake(struct rpc_loop *l);
/* Blocks SIGPIPE for the calling thread: OpenSSL writes sockets with
 * write(2), and a peer that has gone must cost an EPIPE, not the process.
 * Loop threads call it first; the process's own disposition is untouched. */
void rpc_loop_block_sigpipe(void);
/* Monotonic milliseconds, cached at the start of each iteration. */
uint64_t rpc_loop_now(const struct rpc_loop *l);
/* Reads CLOCK_MONOTONIC now, in milliseconds. */
uint64_t rpc_loop_clock_ms(void);

#endif
