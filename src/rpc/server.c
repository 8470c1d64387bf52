#include "rpc/server.h"

#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/ssl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "lib/addr.h"
#include "lib/buf.h"
#include "lib/log.h"
#include "lib/mem.h"
#include "rpc/fifo.h"
#include "rpc/frame.h"
#include "rpc/loop.h"
#include "rpc/meta.h"
#include "rpc/peer.h"
#include "rpc/sconn.h"
#include "rpc/status.h"

#define SERVER_MAX_METHODS 256
#define SERVER_READ_CHUNK  (16 * 1024)
/* Stop pulling HTTP/2 output into the TLS queue above this much. */
#define SERVER_OUT_HIGH    (256 * 1024)
#define SERVER_OUT_MAX     (SERVER_OUT_HIGH + 64 * 1024)
#define SERVER_STREAM_WINDOW (1u << 20)
#define SERVER_CONN_WINDOW   (16u << 20)

struct method {
	char path[RPC_PATH_MAX];
	rpc_unary_fn ufn;
	rpc_stream_fn sfn;
	void *ctx;
	struct rpc_stream_opts so;
};

struct conn {
	struct rpc_server *srv;
	struct rpc_loop_io io;
	struct rpc_loop_timer timer;
	SSL *ssl;
	struct rpc_sconn *h2;  /* after the handshake */
	struct rpc_peer *peer;
	union endpoint addr;
	struct rpc_fifo out;   /* plaintext for SSL_write */
	uint64_t handshake_deadline;
	bool read_wants_write; /* TLS needs to write before it can read again */
	bool dead;
	bool dirty;            /* on srv->dirty: flush at the end of this wake */
	struct conn *prev, *next, *dirty_next;
};

/* The state of one call shared between the loop, a worker and whichever
 * threads write to its stream. The loop holds one reference while the
 * HTTP/2 stream exists, the handler one until rpc_stream_finish, and the
 * ready list one while the call waits there. */
struct rpc_call {
	atomic_int refs;
	struct rpc_server *srv;
	const struct method *m;
	struct rpc_peer *peer;
	struct rpc_meta meta;
	char authority[64];
	uint64_t deadline; /* CLOCK_MONOTONIC ms, 0: none */
	uint8_t *req;
	size_t req_len;
	size_t qmax;       /* q's cap, readable without the lock */
	struct rpc_call *job_next;

	/* Loop thread only: where the call lives while its stream is open. */
	struct conn *conn;
	struct rpc_scall *sc;

	pthread_mutex_t lock; /* guards everything below */
	pthread_cond_t room;  /* BLOCK senders wait here for queue space or the end */
	struct rpc_fifo q;    /* framed messages not yet taken by the loop */
	bool finished, ended, notified;
	atomic_bool cancelled;
	int code;
	char msg[RPC_STATUS_MSG_MAX];
	void (*on_cancel)(void *ctx);
	void *cancel_ctx;
	uint64_t dropped;
	struct rpc_call *ready_next;
};

struct rpc_stream {
	struct rpc_call call;
};

enum { SHUT_NONE = 0, SHUT_GRACEFUL, SHUT_HARD };

struct rpc_server {
	struct rpc_server_opts o;
	SSL_CTX *ssl_ctx;
	struct rpc_tls_hook hook;
	struct rpc_sconn_limits lim;
	struct rpc_sconn_ops ops;
	struct method *methods;
	size_t nmethods;

	struct rpc_loop *loop;
	struct rpc_loop_io lio;
	uint16_t port;
	pthread_t loop_thread;
	pthread_t loop_self; /* set by the loop thread before it dispatches anything */
	bool started, stopped;
	struct conn *conns, *zombies, *dirty;
	size_t nconns;

	/* Cross-thread requests to the loop. */
	pthread_mutex_t ready_lock;
	struct rpc_call *ready_head, *ready_tail;
	int shut_req;             /* under ready_lock */
	int shut_timeout_ms;
	/* Loop thread: shutdown progress. */
	int shut_state;
	bool forced, loop_exit;
	struct rpc_loop_timer shut_timer;

	/* Workers. */
	pthread_mutex_t job_lock;
	pthread_cond_t job_cond;
	struct rpc_call *job_head, *job_tail;
	size_t njobs;
	bool workers_stop;
	pthread_t *workers;
	int nworkers;

	/* Calls alive anywhere; rpc_server_free waits for none. */
	pthread_mutex_t live_lock;
	pthread_cond_t live_cond;
	size_t live;
};

static void conn_after(struct conn *c);

/* ---- calls ---- */

static struct rpc_call *call_get(struct rpc_call *call)
{
	atomic_fetch_add_explicit(&call->refs, 1, memory_order_relaxed);
	return call;
}

static void call_put(struct rpc_call *call)
{
	struct rpc_server *srv;

	if (atomic_fetch_sub_explicit(&call->refs, 1, memory_order_acq_rel) != 1)
		return;
	srv = call->srv;
	rpc_peer_put(call->peer);
	rpc_meta_fini(&call->meta);
	mem_free_secret(call->req, call->req_len);
	rpc_fifo_fini(&call->q);
	pthread_mutex_destroy(&call->lock);
	pthread_cond_destroy(&call->room);
	mem_free(call);
	pthread_mutex_lock(&srv->live_lock);
	if (--srv->live == 0)
		pthread_cond_broadcast(&srv->live_cond);
	pthread_mutex_unlock(&srv->live_lock);
}

/* Puts the call on the loop's ready list. Must hold call->lock. */
static void notify(struct rpc_call *call)
{
	struct rpc_server *srv = call->srv;
	bool was_empty;

	if (call->notified || call->ended)
		return;
	call->notified = true;
	call_get(call);
	pthread_mutex_lock(&srv->ready_lock);
	was_empty = !srv->ready_head;
	call->ready_next = NULL;
	if (srv->ready_tail)
		srv->ready_tail->ready_next = call;
	else
		srv->ready_head = call;
	srv->ready_tail = call;
	pthread_mutex_unlock(&srv->ready_lock);
	/* The loop looks at the ready list after every pass, so only another
	 * thread needs to wake it (an inline handler saves two syscalls). */
	if (was_empty && !pthread_equal(pthread_self(), srv->loop_self))
		rpc_loop_wake(srv->loop);
}

const char *rpc_call_method(const struct rpc_call *call)
{
	return call->m->path;
}

const char *rpc_call_authority(const struct rpc_call *call)
{
	return call->authority;
}

const struct rpc_meta *rpc_call_meta(const struct rpc_call *call)
{
	return &call->meta;
}

const struct rpc_peer *rpc_call_peer(const struct rpc_call *call)
{
	return call->peer;
}

int64_t rpc_call_remaining_ms(const struct rpc_call *call)
{
	uint64_t now;

	if (!call->deadline)
		return -1;
	now = rpc_loop_clock_ms();
	return call->deadline > now ? (int64_t)(call->deadline - now) : 0;
}

bool rpc_call_cancelled(const struct rpc_call *call)
{
	return atomic_load(&call->cancelled);
}

const struct rpc_call *rpc_stream_call(const struct rpc_stream *st)
{
	return &st->call;
}

static void deadline_ts(struct timespec *ts, int ms)
{
	clock_gettime(CLOCK_MONOTONIC, ts);
	ts->tv_sec += ms / 1000;
	ts->tv_nsec += (long)(ms % 1000) * 1000000;
	if (ts->tv_nsec >= 1000000000) {
		ts->tv_sec++;
		ts->tv_nsec -= 1000000000;
	}
}

int rpc_stream_send(struct rpc_stream *st, const uint8_t *msg, size_t len)
{
	struct rpc_call *call = &st->call;
	uint8_t hdr[RPC_FRAME_HDR_LEN];
	struct timespec until;
	bool timed = false;
	int rc;

	if (len > call->srv->lim.max_send_msg || len + RPC_FRAME_HDR_LEN > call->qmax)
		return ERR_TOOBIG;
	rpc_frame_prefix(hdr, (uint32_t)len);
	pthread_mutex_lock(&call->lock);
	for (;;) {
		if (call->ended || call->finished) {
			rc = -ECANCELED;
			break;
		}
		rc = rpc_fifo_append(&call->q, hdr, sizeof(hdr), msg, len);
		if (rc == 0) {
			notify(call);
			break;
		}
		if (rc != ERR_TOOBIG)
			break;
		if (call->m->so.policy == RPC_STREAM_DROP) {
			call->dropped++;
			rc = -ENOBUFS;
			break;
		}
		if (call->m->so.policy == RPC_STREAM_CLOSE) {
			call->dropped++;
			call->finished = true;
			call->code = RPC_RESOURCE_EXHAUSTED;
			snprintf(call->msg, sizeof(call->msg), "stream consumer too slow");
			notify(call);
			rc = -ENOBUFS;
			break;
		}
		if (call->m->so.block_ms < 0) {
			pthread_cond_wait(&call->room, &call->lock);
			continue;
		}
		if (!timed) {
			deadline_ts(&until, call->m->so.block_ms);
			timed = true;
		}
		if (pthread_cond_timedwait(&call->room, &call->lock, &until) == ETIMEDOUT) {
			rc = -ETIMEDOUT;
			break;
		}
	}
	pthread_mutex_unlock(&call->lock);
	return rc;
}

void rpc_stream_finish(struct rpc_stream *st, int code, const char *msg)
{
	struct rpc_call *call = &st->call;

	pthread_mutex_lock(&call->lock);
	if (!call->finished) {
		call->finished = true;
		call->code = code;
		snprintf(call->msg, sizeof(call->msg), "%s", msg ? msg : "");
		notify(call);
	}
	pthread_mutex_unlock(&call->lock);
	call_put(call);
}

void rpc_stream_on_cancel(struct rpc_stream *st, void (*fn)(void *ctx), void *ctx)
{
	struct rpc_call *call = &st->call;
	bool now;

	pthread_mutex_lock(&call->lock);
	now = call->ended && atomic_load(&call->cancelled);
	if (!now) {
		call->on_cancel = fn;
		call->cancel_ctx = ctx;
	}
	pthread_mutex_unlock(&call->lock);
	if (now && fn)
		fn(ctx);
}

uint64_t rpc_stream_dropped(const struct rpc_stream *st)
{
	struct rpc_call *call = (struct rpc_call *)&st->call;
	uint64_t n;

	pthread_mutex_lock(&call->lock);
	n = call->dropped;
	pthread_mutex_unlock(&call->lock);
	return n;
}

/* Runs a call's handler (worker thread, or the loop with RPC_SERVER_INLINE). */
static void run_handler(struct rpc_call *call)
{
	struct rpc_stream *st = (struct rpc_stream *)call;
	const struct method *m = call->m;
	struct rpc_status status;
	struct buf resp;
	int rc;

	if (m->sfn) {
		m->sfn(m->ctx, call, call->req, call->req_len, st);
		return;
	}
	buf_init(&resp, call->srv->lim.max_send_msg);
	rpc_status_set(&status, RPC_OK, NULL);
	m->ufn(m->ctx, call, call->req, call->req_len, &resp, &status);
	if (status.code == RPC_OK) {
		rc = rpc_stream_send(st, resp.data ? resp.data : (const uint8_t *)"", resp.len);
		if (rc < 0 && rc != -ECANCELED)
			rpc_status_set(&status, RPC_INTERNAL, "response could not be queued: %s", err_str(rc));
	}
	buf_fini_secret(&resp);
	rpc_stream_finish(st, status.code, status.message);
}

static void *worker_main(void *arg)
{
	struct rpc_server *srv = arg;
	struct rpc_call *call;

	for (;;) {
		pthread_mutex_lock(&srv->job_lock);
		while (!srv->job_head && !srv->workers_stop)
			pthread_cond_wait(&srv->job_cond, &srv->job_lock);
		call = srv->job_head;
		if (!call) {
			pthread_mutex_unlock(&srv->job_lock);
			return NULL;
		}
		srv->job_head = call->job_next;
		if (!srv->job_head)
			srv->job_tail = NULL;
		srv->njobs--;
		pthread_mutex_unlock(&srv->job_lock);
		run_handler(call);
	}
}

/* ---- the sconn owner callbacks (loop thread) ---- */

static const struct method *find_method(const struct rpc_server *srv, const char *path)
{
	for (size_t i = 0; i < srv->nmethods; i++)
		if (!strcmp(srv->methods[i].path, path))
			return &srv->methods[i];
	return NULL;
}

static int op_route(void *owner, struct rpc_scall *sc)
{
	struct conn *c = owner;
	const struct method *m = find_method(c->srv, rpc_sconn_call_path(sc));

	if (!m)
		return RPC_UNIMPLEMENTED;
	rpc_sconn_call_set_owner(sc, (void *)m);
	return 0;
}

static void op_dispatch(void *owner, struct rpc_scall *sc, const uint8_t *msg, size_t len)
{
	struct conn *c = owner;
	struct rpc_server *srv = c->srv;
	const struct method *m = rpc_sconn_call_owner(sc);
	struct rpc_call *call;
	bool full;

	rpc_sconn_call_set_owner(sc, NULL);
	call = mem_zalloc(sizeof(struct rpc_stream));
	if (!call)
		goto oom;
	call->req = mem_dup(msg, len);
	if (!call->req && len) {
		mem_free(call);
		goto oom;
	}
	rpc_meta_init(&call->meta);
	if (rpc_meta_copy(&call->meta, rpc_sconn_call_meta(sc)) < 0) {
		rpc_meta_fini(&call->meta);
		mem_free(call->req);
		mem_free(call);
		goto oom;
	}
	pthread_mutex_init(&call->lock, NULL);
	pthread_condattr_t ca;
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&call->room, &ca);
	pthread_condattr_destroy(&ca);
	atomic_init(&call->refs, 2); /* the loop's, the handler's */
	atomic_init(&call->cancelled, false);
	call->srv = srv;
	call->m = m;
	call->req_len = len;
	call->peer = rpc_peer_get(c->peer);
	call->deadline = rpc_sconn_call_deadline(sc);
	snprintf(call->authority, sizeof(call->authority), "%s", rpc_sconn_call_authority(sc));
	call->qmax = m->sfn ? m->so.queue_bytes : srv->lim.max_send_msg + RPC_FRAME_HDR_LEN;
	rpc_fifo_init(&call->q, call->qmax);
	call->conn = c;
	call->sc = sc;
	rpc_sconn_call_set_owner(sc, call);
	pthread_mutex_lock(&srv->live_lock);
	srv->live++;
	pthread_mutex_unlock(&srv->live_lock);

	if (srv->nworkers == 0) {
		run_handler(call);
		return;
	}
	pthread_mutex_lock(&srv->job_lock);
	full = srv->njobs >= srv->o.max_pending;
	if (!full) {
		call->job_next = NULL;
		if (srv->job_tail)
			srv->job_tail->job_next = call;
		else
			srv->job_head = call;
		srv->job_tail = call;
		srv->njobs++;
		pthread_cond_signal(&srv->job_cond);
	}
	pthread_mutex_unlock(&srv->job_lock);
	if (full) {
		rpc_sconn_finish(c->h2, sc, RPC_RESOURCE_EXHAUSTED, "server busy: too many calls waiting");
		pthread_mutex_lock(&call->lock);
		call->finished = true;
		pthread_mutex_unlock(&call->lock);
		call_put(call); /* the handler's, never handed out */
	}
	return;
oom:
	rpc_sconn_finish(c->h2, sc, RPC_RESOURCE_EXHAUSTED, "server out of memory");
}

static void op_refill(void *owner, struct rpc_scall *sc)
{
	struct conn *c = owner;
	struct rpc_call *call = rpc_sconn_call_owner(sc);
	bool fin;
	int code = 0;
	char msg[RPC_STATUS_MSG_MAX];

	if (!call)
		return;
	pthread_mutex_lock(&call->lock);
	if (call->q.len) {
		rpc_sconn_take(sc, &call->q);
		pthread_cond_broadcast(&call->room);
	}
	fin = call->finished && call->q.len == 0;
	if (fin) {
		code = call->code;
		memcpy(msg, call->msg, sizeof(msg));
	}
	pthread_mutex_unlock(&call->lock);
	if (fin)
		rpc_sconn_finish(c->h2, sc, code, msg);
}

static void op_closed(void *owner, struct rpc_scall *sc, bool cancelled)
{
	struct rpc_call *call = rpc_sconn_call_owner(sc);
	void (*fn)(void *) = NULL;
	void *ctx = NULL;

	if (!call)
		return;
	call->conn = NULL;
	call->sc = NULL;
	pthread_mutex_lock(&call->lock);
	call->ended = true;
	if (cancelled && !call->finished) {
		atomic_store(&call->cancelled, true);
		fn = call->on_cancel;
		ctx = call->cancel_ctx;
		call->on_cancel = NULL;
	}
	pthread_cond_broadcast(&call->room);
	pthread_mutex_unlock(&call->lock);
	if (fn)
		fn(ctx);
	call_put(call);
}

/* ---- connections (loop thread) ---- */

static void mark_dirty(struct conn *c)
{
	if (c->dirty || c->dead)
		return;
	c->dirty = true;
	c->dirty_next = c->srv->dirty;
	c->srv->dirty = c;
}

static void conn_close(struct conn *c)
{
	struct rpc_server *srv = c->srv;

	if (c->dead)
		return;
	c->dead = true;
	rpc_loop_del(srv->loop, &c->io);
	rpc_loop_timer_disarm(srv->loop, &c->timer);
	if (c->prev)
		c->prev->next = c->next;
	else
		srv->conns = c->next;
	if (c->next)
		c->next->prev = c->prev;
	srv->nconns--;
	c->next = srv->zombies;
	srv->zombies = c;
}

static void conn_free(struct conn *c)
{
	rpc_sconn_free(c->h2);
	SSL_free(c->ssl);
	if (c->io.fd >= 0)
		close(c->io.fd);
	rpc_peer_put(c->peer);
	rpc_fifo_fini(&c->out);
	mem_free(c);
}

/* Moves HTTP/2 output into the TLS queue and writes what the socket takes.
 * Returns false if the connection failed (it is then closed). */
static bool conn_flush(struct conn *c)
{
	const uint8_t *p;
	size_t n;
	bool ww;

	for (;;) {
		while (c->h2 && c->out.len < SERVER_OUT_HIGH) {
			if (rpc_sconn_pull(c->h2, &p, &n) < 0 || n == 0)
				break;
			if (rpc_fifo_append(&c->out, p, n, NULL, 0) < 0) {
				conn_close(c);
				return false;
			}
		}
		if (c->out.len == 0)
			return true;
		ssize_t w = rpc_tls_write(c->ssl, rpc_fifo_head(&c->out), c->out.len, &ww);
		if (w == -EAGAIN)
			return true;
		if (w < 0) {
			conn_close(c);
			return false;
		}
		rpc_fifo_consume(&c->out, (size_t)w);
	}
}

static void conn_read(struct conn *c)
{
	uint8_t buf[SERVER_READ_CHUNK];
	uint64_t now = rpc_loop_now(c->srv->loop);
	bool ww;

	c->read_wants_write = false;
	for (;;) {
		ssize_t n = rpc_tls_read(c->ssl, buf, sizeof(buf), &ww);
		if (n > 0) {
			if (rpc_sconn_recv(c->h2, buf, (size_t)n, now) < 0) {
				/* Protocol error: nghttp2 queued a GOAWAY; send it, then close. */
				conn_flush(c);
				conn_close(c);
				return;
			}
			continue;
		}
		if (n == -EAGAIN) {
			c->read_wants_write = ww;
			return;
		}
		conn_close(c);
		return;
	}
}

static void conn_established(struct conn *c)
{
	struct rpc_server *srv = c->srv;
	char who[ENDPOINT_STRLEN] = "?";

	if (endpoint_format(&c->addr, who, sizeof(who)) < 0)
		snprintf(who, sizeof(who), "?");
	if (!rpc_tls_alpn_h2(c->ssl)) {
		log_info("rpc: %s did not negotiate h2", who);
		conn_close(c);
		return;
	}
	if (rpc_peer_new(&c->peer, c->ssl, &c->addr) < 0 ||
	    rpc_sconn_new(&c->h2, &srv->lim, &srv->ops, c, rpc_loop_now(srv->loop)) < 0) {
		conn_close(c);
		return;
	}
	log_debug("rpc: connection from %s", who);
	if (srv->shut_state == SHUT_GRACEFUL)
		rpc_sconn_shutdown(c->h2, rpc_loop_now(srv->loop));
}

static void conn_handshake(struct conn *c)
{
	bool ww;
	int rc = rpc_tls_handshake(c->ssl, &ww);
	char who[ENDPOINT_STRLEN] = "?", why[160];

	if (rc == -EAGAIN) {
		c->read_wants_write = ww;
		return;
	}
	if (rc < 0) {
		rpc_tls_error_text(why, sizeof(why));
		if (endpoint_format(&c->addr, who, sizeof(who)) < 0)
			snprintf(who, sizeof(who), "?");
		log_info("rpc: TLS handshake with %s failed: %s", who, rc == -EPIPE ? "connection closed" : why);
		conn_close(c);
		return;
	}
	c->read_wants_write = false;
	conn_established(c);
}

/* After any activity: interest set, timer, and the end of finished connections. */
static void conn_after(struct conn *c)
{
	struct rpc_server *srv = c->srv;
	uint64_t next;
	uint32_t ev = EPOLLIN;

	if (c->dead)
		return;
	if (c->h2 && !conn_flush(c))
		return;
	if (c->h2 && rpc_sconn_done(c->h2) && c->out.len == 0) {
		conn_close(c);
		return;
	}
	if (c->out.len || c->read_wants_write)
		ev |= EPOLLOUT;
	if (rpc_loop_mod(srv->loop, &c->io, ev) < 0) {
		conn_close(c);
		return;
	}
	next = c->h2 ? rpc_sconn_next_event(c->h2) : c->handshake_deadline;
	if (next == UINT64_MAX)
		rpc_loop_timer_disarm(srv->loop, &c->timer);
	else if (rpc_loop_timer_arm(srv->loop, &c->timer, next) < 0)
		conn_close(c);
}

static void conn_event(void *ctx, uint32_t events)
{
	struct conn *c = ctx;

	if (c->dead)
		return;
	if (!c->h2) {
		conn_handshake(c);
		/* The client's first HTTP/2 bytes may have come with its Finished
		 * and sit in OpenSSL's read-ahead buffer: read now, not on epoll. */
		if (c->h2 && !c->dead)
			conn_read(c);
	} else if ((events & (EPOLLIN | EPOLLERR | EPOLLHUP)) || c->read_wants_write) {
		conn_read(c);
	}
	conn_after(c);
}

static void conn_timer(void *ctx)
{
	struct conn *c = ctx;
	uint64_t now = rpc_loop_now(c->srv->loop);

	if (c->dead)
		return;
	if (!c->h2) {
		if (now >= c->handshake_deadline) {
			log_info("rpc: TLS handshake timed out");
			conn_close(c);
		}
		return;
	}
	if (!rpc_sconn_tick(c->h2, now)) {
		log_info("rpc: client stopped answering keepalive pings; closing");
		conn_close(c);
		return;
	}
	conn_after(c);
}

static void accept_ready(void *ctx, uint32_t events)
{
	struct rpc_server *srv = ctx;

	for (;;) {
		union endpoint addr;
		socklen_t alen = sizeof(addr);
		int fd = accept4(srv->lio.fd, &addr.sa, &alen, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd < 0) {
			if (errno == EINTR || errno == ECONNABORTED)
				continue;
			if (errno != EAGAIN)
				log_warn("rpc: accept: %s", strerror(errno));
			return;
		}
		if (srv->nconns >= srv->o.max_conns || srv->shut_state != SHUT_NONE) {
			close(fd);
			continue;
		}
		int one = 1;
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
		struct conn *c = mem_zalloc(sizeof(*c));
		if (!c) {
			close(fd);
			continue;
		}
		c->srv = srv;
		c->io.fd = fd;
		c->io.events = EPOLLIN;
		c->io.fn = conn_event;
		c->io.ctx = c;
		rpc_loop_timer_init(&c->timer, conn_timer, c);
		rpc_fifo_init(&c->out, SERVER_OUT_MAX);
		if (endpoint_from_sockaddr(&c->addr, &addr.sa, alen) < 0)
			memset(&c->addr, 0, sizeof(c->addr));
		c->handshake_deadline = rpc_loop_now(srv->loop) + srv->o.handshake_timeout_ms;
		if (rpc_tls_ssl_new(&c->ssl, srv->ssl_ctx, fd, true, NULL) < 0 || rpc_loop_add(srv->loop, &c->io) < 0) {
			conn_free(c);
			continue;
		}
		c->next = srv->conns;
		if (srv->conns)
			srv->conns->prev = c;
		srv->conns = c;
		srv->nconns++;
		conn_handshake(c);
		conn_after(c);
	}
}

/* ---- shutdown and the loop thread ---- */

static void shut_deadline(void *ctx)
{
	struct rpc_server *srv = ctx;

	for (struct conn *c = srv->conns; c; c = c->next) {
		if (!c->h2) {
			conn_close(c);
			continue;
		}
		if (rpc_sconn_calls(c->h2))
			srv->forced = true;
		rpc_sconn_cancel_all(c->h2);
		conn_flush(c);
	}
	/* Whatever did not go out now is not waited for. */
	while (srv->conns)
		conn_close(srv->conns);
}

static void begin_shutdown(struct rpc_server *srv, int how, int timeout_ms)
{
	uint64_t now = rpc_loop_now(srv->loop);

	if (srv->shut_state != SHUT_NONE && how != SHUT_HARD)
		return;
	srv->shut_state = how;
	if (srv->lio.fd >= 0) {
		rpc_loop_del(srv->loop, &srv->lio);
		close(srv->lio.fd);
		srv->lio.fd = -1;
	}
	if (how == SHUT_HARD) {
		shut_deadline(srv);
		return;
	}
	for (struct conn *c = srv->conns, *next; c; c = next) {
		next = c->next;
		if (!c->h2) {
			conn_close(c);
			continue;
		}
		rpc_sconn_shutdown(c->h2, now);
		mark_dirty(c);
	}
	if (rpc_loop_timer_arm(srv->loop, &srv->shut_timer, now + (uint64_t)(timeout_ms > 0 ? timeout_ms : 0)) < 0)
		shut_deadline(srv);
}

static void on_wake(void *ctx)
{
	struct rpc_server *srv = ctx;
	struct rpc_call *list, *call;
	int shut, timeout;

	pthread_mutex_lock(&srv->ready_lock);
	list = srv->ready_head;
	srv->ready_head = srv->ready_tail = NULL;
	shut = srv->shut_req;
	srv->shut_req = SHUT_NONE;
	timeout = srv->shut_timeout_ms;
	pthread_mutex_unlock(&srv->ready_lock);

	while ((call = list)) {
		list = call->ready_next;
		pthread_mutex_lock(&call->lock);
		call->notified = false;
		pthread_mutex_unlock(&call->lock);
		if (call->sc && !call->conn->dead) {
			rpc_sconn_kick(call->conn->h2, call->sc);
			mark_dirty(call->conn);
		}
		call_put(call);
	}
	if (shut)
		begin_shutdown(srv, shut, timeout);
}

static void *loop_main(void *arg)
{
	struct rpc_server *srv = arg;
	struct conn *c;

	srv->loop_self = pthread_self();
	rpc_loop_block_sigpipe();

	while (!srv->loop_exit) {
		if (rpc_loop_run_once(srv->loop, -1) < 0)
			break;
		on_wake(srv);
		while ((c = srv->dirty)) {
			srv->dirty = c->dirty_next;
			c->dirty = false;
			conn_after(c);
		}
		while ((c = srv->zombies)) {
			srv->zombies = c->next;
			conn_free(c);
		}
		if (srv->shut_state != SHUT_NONE && !srv->conns)
			srv->loop_exit = true;
	}
	rpc_loop_timer_disarm(srv->loop, &srv->shut_timer);
	while (srv->conns)
		conn_close(srv->conns);
	while ((c = srv->zombies)) {
		srv->zombies = c->next;
		conn_free(c);
	}
	/* Every call has ended now, so nothing new joins the ready list. */
	pthread_mutex_lock(&srv->ready_lock);
	struct rpc_call *list = srv->ready_head;
	srv->ready_head = srv->ready_tail = NULL;
	pthread_mutex_unlock(&srv->ready_lock);
	while (list) {
		struct rpc_call *call = list;
		list = call->ready_next;
		call_put(call);
	}
	return NULL;
}

/* ---- public ---- */

static int listen_on(struct rpc_server *srv, const char *spec)
{
	union endpoint ep;
	socklen_t len;
	int fd, one = 1, zero = 0, rc;

	if (!spec || endpoint_parse(spec, &ep) < 0) {
		log_error("rpc: listen address \"%s\" is not IPV4:PORT or [IPV6]:PORT", spec ? spec : "");
		return -EINVAL;
	}
	fd = socket(ep.sa.sa_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (ep.sa.sa_family == AF_INET6)
		setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &zero, sizeof(zero));
	if (bind(fd, &ep.sa, endpoint_len(&ep)) < 0 || listen(fd, 128) < 0) {
		rc = -errno;
		log_error("rpc: cannot listen on %s: %s", spec, strerror(-rc));
		close(fd);
		return rc;
	}
	len = sizeof(ep);
	if (getsockname(fd, &ep.sa, &len) == 0)
		srv->port = endpoint_port(&ep);
	srv->lio.fd = fd;
	srv->lio.events = EPOLLIN;
	srv->lio.fn = accept_ready;
	srv->lio.ctx = srv;
	return 0;
}

int rpc_server_new(struct rpc_server **out, const struct rpc_server_opts *opts)
{
	struct rpc_server *srv;
	int rc;

	*out = NULL;
	srv = mem_zalloc(sizeof(*srv));
	if (!srv)
		return -ENOMEM;
	srv->lio.fd = -1;
	srv->o = *opts;
	struct rpc_server_opts *o = &srv->o;
	o->listen = NULL;
	if (!o->max_conns)
		o->max_conns = 256;
	if (!o->max_streams)
		o->max_streams = 100;
	if (!o->max_recv_msg)
		o->max_recv_msg = RPC_FRAME_DEFAULT_MAX;
	if (!o->max_send_msg)
		o->max_send_msg = RPC_FRAME_DEFAULT_MAX;
	if (o->max_recv_msg > RPC_FRAME_MAX_LIMIT || o->max_send_msg > RPC_FRAME_MAX_LIMIT) {
		mem_free(srv);
		return -EINVAL;
	}
	if (!o->keepalive_ms)
		o->keepalive_ms = 60000;
	else if (o->keepalive_ms == UINT32_MAX)
		o->keepalive_ms = 0;
	if (!o->keepalive_timeout_ms)
		o->keepalive_timeout_ms = 20000;
	if (!o->handshake_timeout_ms)
		o->handshake_timeout_ms = 10000;
	if (!o->handler_threads)
		o->handler_threads = 2;
	if (!o->max_pending)
		o->max_pending = 1024;
	srv->lim = (struct rpc_sconn_limits){
		.max_streams = o->max_streams,
		.max_recv_msg = o->max_recv_msg,
		.max_send_msg = o->max_send_msg,
		.stream_window = SERVER_STREAM_WINDOW,
		.conn_window = SERVER_CONN_WINDOW,
		.keepalive_ms = o->keepalive_ms,
		.keepalive_timeout_ms = o->keepalive_timeout_ms,
	};
	srv->ops = (struct rpc_sconn_ops){ op_route, op_dispatch, op_refill, op_closed };
	pthread_mutex_init(&srv->ready_lock, NULL);
	pthread_mutex_init(&srv->job_lock, NULL);
	pthread_cond_init(&srv->job_cond, NULL);
	pthread_mutex_init(&srv->live_lock, NULL);
	pthread_cond_init(&srv->live_cond, NULL);
	rpc_loop_timer_init(&srv->shut_timer, shut_deadline, srv);
	rc = rpc_tls_ctx_new(&srv->ssl_ctx, true, &opts->tls, &srv->hook);
	if (rc < 0)
		goto fail;
	rc = rpc_loop_new(&srv->loop, (size_t)o->max_conns + 16, on_wake, srv);
	if (rc < 0)
		goto fail;
	rc = listen_on(srv, opts->listen);
	if (rc < 0)
		goto fail;
	*out = srv;
	return 0;
fail:
	rpc_server_free(srv);
	return rc;
}

static int add_method(struct rpc_server *srv, const char *path, rpc_unary_fn ufn, rpc_stream_fn sfn, void *ctx,
                      const struct rpc_stream_opts *so)
{
	struct method *m;

	if (srv->started)
		return ERR_BADSTATE;
	if (!path || !rpc_frame_path_ok(path, strlen(path)) || (!ufn && !sfn))
		return -EINVAL;
	if (find_method(srv, path))
		return ERR_EXISTS;
	if (srv->nmethods >= SERVER_MAX_METHODS)
		return ERR_TOOBIG;
	m = mem_realloc(srv->methods, (srv->nmethods + 1) * sizeof(*m));
	if (!m)
		return -ENOMEM;
	srv->methods = m;
	m = &srv->methods[srv->nmethods];
	memset(m, 0, sizeof(*m));
	snprintf(m->path, sizeof(m->path), "%s", path);
	m->ufn = ufn;
	m->sfn = sfn;
	m->ctx = ctx;
	if (so)
		m->so = *so;
	if (!m->so.queue_bytes)
		m->so.queue_bytes = 1u << 20;
	srv->nmethods++;
	return 0;
}

int rpc_server_handle_unary(struct rpc_server *srv, const char *method, rpc_unary_fn fn, void *ctx)
{
	return add_method(srv, method, fn, NULL, ctx, NULL);
}

int rpc_server_handle_stream(struct rpc_server *srv, const char *method, rpc_stream_fn fn, void *ctx,
                             const struct rpc_stream_opts *opts)
{
	return add_method(srv, method, NULL, fn, ctx, opts);
}

uint16_t rpc_server_port(const struct rpc_server *srv)
{
	return srv->port;
}

static void stop_workers(struct rpc_server *srv)
{
	pthread_mutex_lock(&srv->job_lock);
	srv->workers_stop = true;
	pthread_cond_broadcast(&srv->job_cond);
	pthread_mutex_unlock(&srv->job_lock);
	for (int i = 0; i < srv->nworkers; i++)
		pthread_join(srv->workers[i], NULL);
	srv->nworkers = 0;
}

int rpc_server_start(struct rpc_server *srv)
{
	int n = srv->o.handler_threads > 0 ? srv->o.handler_threads : 0, rc;

	if (srv->started || srv->lio.fd < 0)
		return ERR_BADSTATE;
	if (n) {
		srv->workers = mem_zalloc((size_t)n * sizeof(*srv->workers));
		if (!srv->workers)
			return -ENOMEM;
		for (; srv->nworkers < n; srv->nworkers++) {
			rc = pthread_create(&srv->workers[srv->nworkers], NULL, worker_main, srv);
			if (rc) {
				stop_workers(srv);
				return -rc;
			}
		}
	}
	rc = rpc_loop_add(srv->loop, &srv->lio);
	if (rc < 0) {
		stop_workers(srv);
		return rc;
	}
	rc = pthread_create(&srv->loop_thread, NULL, loop_main, srv);
	if (rc) {
		rpc_loop_del(srv->loop, &srv->lio);
		stop_workers(srv);
		return -rc;
	}
	srv->started = true;
	return 0;
}

int rpc_server_shutdown(struct rpc_server *srv, bool graceful, int timeout_ms)
{
	if (!srv->started || srv->stopped)
		return 0;
	pthread_mutex_lock(&srv->ready_lock);
	srv->shut_req = graceful ? SHUT_GRACEFUL : SHUT_HARD;
	srv->shut_timeout_ms = timeout_ms;
	pthread_mutex_unlock(&srv->ready_lock);
	rpc_loop_wake(srv->loop);
	pthread_join(srv->loop_thread, NULL);
	srv->stopped = true;
	stop_workers(srv);
	return srv->forced ? -ETIMEDOUT : 0;
}

void rpc_server_free(struct rpc_server *srv)
{
	if (!srv)
		return;
	if (srv->started && !srv->stopped && rpc_server_shutdown(srv, false, 0) < 0)
		log_debug("rpc: calls were cancelled at shutdown");
	/* Handlers still holding streams have been told; wait for them. */
	pthread_mutex_lock(&srv->live_lock);
	while (srv->live)
		pthread_cond_wait(&srv->live_cond, &srv->live_lock);
	pthread_mutex_unlock(&srv->live_lock);
	if (srv->lio.fd >= 0)
		close(srv->lio.fd);
	rpc_loop_free(srv->loop);
	rpc_tls_ctx_free(srv->ssl_ctx);
	mem_free(srv->methods);
	mem_free(srv->workers);
	pthread_mutex_destroy(&srv->ready_lock);
	pthread_mutex_destroy(&srv->job_lock);
	pthread_cond_destroy(&srv->job_cond);
	pthread_mutex_destroy(&srv->live_lock);
	pthread_cond_destroy(&srv->live_cond);
	mem_free(srv);
}
