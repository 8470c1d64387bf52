#include "rpc/client.h"

#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/ssl.h>
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
#include "rpc/cconn.h"
#include "rpc/fifo.h"
#include "rpc/frame.h"
#include "rpc/loop.h"
#include "rpc/meta.h"
#include "rpc/status.h"

#define CLIENT_READ_CHUNK    (16 * 1024)
#define CLIENT_OUT_HIGH      (256 * 1024)
#define CLIENT_OUT_MAX       (CLIENT_OUT_HIGH + 64 * 1024)
#define CLIENT_STREAM_WINDOW (1u << 20)
#define CLIENT_CONN_WINDOW   (16u << 20)
/* A stream reader holding this much unread stops crediting the server. */
#define CLIENT_RX_SOFT       (256 * 1024)
#define CLIENT_BACKOFF_MIN   100

enum sock_state { SOCK_CONNECTING, SOCK_HANDSHAKING, SOCK_READY };

struct sock {
	struct rpc_client *cli;
	struct rpc_loop_io io;
	struct rpc_loop_timer timer;
	enum sock_state state;
	SSL *ssl;
	struct rpc_cconn *h2;
	struct rpc_fifo out;
	uint64_t connect_deadline;
	bool read_wants_write, dead;
	struct sock *next; /* cli->draining or cli->zombies */
};

enum { TODO_SUBMIT = 1, TODO_CANCEL = 2, TODO_CONSUME = 4 };

struct ccall {
	atomic_int refs; /* the caller's, the loop's, one per todo entry */
	struct rpc_client *cli;
	/* Fixed at creation. */
	bool unary;
	char path[RPC_PATH_MAX];
	char timeout[RPC_TIMEOUT_STRLEN];
	bool has_timeout;
	char *meta_text;                 /* names and wire values, NUL-separated */
	const char *meta_names[RPC_META_MAX_ENTRIES];
	const char *meta_values[RPC_META_MAX_ENTRIES];
	size_t nmeta;
	struct buf body;                 /* the framed request */
	/* Loop thread only. */
	struct sock *sock;
	int32_t id;
	struct ccall *wait_next;
	/* Under cli->lock. */
	pthread_cond_t cond;
	struct rpc_fifo rx;              /* validated response bytes not yet taken */
	uint64_t rx_msgs;                /* complete messages in rx */
	size_t owed;                     /* bytes not yet credited to the server */
	bool done, abandoned;
	struct rpc_status st;
	int todo;
	struct ccall *todo_next;
};

struct rpc_client {
	struct rpc_client_opts o;
	union endpoint target;
	char target_text[ENDPOINT_STRLEN];
	char server_name[256];
	char authority[300];
	SSL_CTX *ssl_ctx;
	struct rpc_tls_hook hook;
	struct rpc_cconn_limits lim;
	struct rpc_cconn_ops ops;
	struct rpc_loop *loop;
	pthread_t thread;
	bool thread_started;

	pthread_mutex_t lock;
	struct ccall *todo_head, *todo_tail;
	bool closing;
	atomic_uint ncalls;

	/* Loop thread only. */
	struct sock *cur, *draining, *zombies;
	struct ccall *waiting;
	uint64_t backoff_until;
	uint32_t backoff_ms;
	char last_err[160];
	bool loop_exit;
};

/* ---- cancel tokens ---- */

void rpc_cancel_init(struct rpc_cancel *c)
{
	pthread_mutex_init(&c->lock, NULL);
	atomic_init(&c->fired, false);
	c->call = NULL;
}

void rpc_cancel_fini(struct rpc_cancel *c)
{
	pthread_mutex_destroy(&c->lock);
}

/* fired is set before the waiter's lock is taken to wake it, and the waiter
 * reads it under that lock before sleeping: the wake-up cannot be missed. */
void rpc_cancel_fire(struct rpc_cancel *c)
{
	atomic_store(&c->fired, true);
	pthread_mutex_lock(&c->lock);
	struct ccall *call = c->call;
	if (call) {
		pthread_mutex_lock(&call->cli->lock);
		pthread_cond_broadcast(&call->cond);
		pthread_mutex_unlock(&call->cli->lock);
	}
	pthread_mutex_unlock(&c->lock);
}

/* ---- calls ---- */

static struct ccall *call_get(struct ccall *call)
{
	atomic_fetch_add_explicit(&call->refs, 1, memory_order_relaxed);
	return call;
}

static void call_put(struct ccall *call)
{
	if (atomic_fetch_sub_explicit(&call->refs, 1, memory_order_acq_rel) != 1)
		return;
	buf_fini_secret(&call->body);
	rpc_fifo_fini(&call->rx);
	mem_free(call->meta_text);
	pthread_cond_destroy(&call->cond);
	mem_free(call);
}

/* Asks the loop to act on the call. Must hold cli->lock. */
static void todo_locked(struct rpc_client *cli, struct ccall *call, int what)
{
	bool was_empty;

	if (call->todo) {
		call->todo |= what;
		return;
	}
	call->todo = what;
	call_get(call);
	was_empty = !cli->todo_head;
	call->todo_next = NULL;
	if (cli->todo_tail)
		cli->todo_tail->todo_next = call;
	else
		cli->todo_head = call;
	cli->todo_tail = call;
	if (was_empty)
		rpc_loop_wake(cli->loop);
}

/* Ends a call from the loop with st (no-op if it already ended). */
static void complete(struct rpc_client *cli, struct ccall *call, const struct rpc_status *st)
{
	bool wake = false;

	pthread_mutex_lock(&cli->lock);
	if (!call->done) {
		call->done = true;
		call->st = *st;
		wake = true;
	}
	pthread_mutex_unlock(&cli->lock);
	/* After unlocking, so the woken caller does not wait for our lock; the
	 * loop's reference keeps the call (and its condition) alive. */
	if (wake)
		pthread_cond_broadcast(&call->cond);
}

/* ---- cconn owner callbacks (loop thread) ---- */

static void op_data(void *owner, void *vcall, const uint8_t *p, size_t len, int messages)
{
	struct rpc_client *cli = owner;
	struct ccall *call = vcall;
	bool credit_now = true;

	pthread_mutex_lock(&cli->lock);
	if (!call->abandoned && !call->done) {
		if (rpc_fifo_append(&call->rx, p, len, NULL, 0) < 0) {
			pthread_mutex_unlock(&cli->lock);
			rpc_cconn_consume(call->sock->h2, call->id, len);
			rpc_cconn_cancel(call->sock->h2, call->id);
			return;
		}
		call->rx_msgs += (uint64_t)messages;
		/* Hold the credit only while the reader has whole messages waiting
		 * and plenty of them: it can always make progress, so no deadlock. */
		if (!call->unary && call->rx_msgs && call->rx.len >= CLIENT_RX_SOFT) {
			call->owed += len;
			credit_now = false;
		}
	}
	pthread_mutex_unlock(&cli->lock);
	/* A unary caller waits for the end only. */
	if (messages && !call->unary)
		pthread_cond_broadcast(&call->cond);
	if (credit_now)
		rpc_cconn_consume(call->sock->h2, call->id, len);
}

static void op_closed(void *owner, void *vcall, const struct rpc_status *st)
{
	struct rpc_client *cli = owner;
	struct ccall *call = vcall;
	size_t owed;

	pthread_mutex_lock(&cli->lock);
	owed = call->owed;
	call->owed = 0;
	pthread_mutex_unlock(&cli->lock);
	if (owed && call->sock && call->sock->h2)
		rpc_cconn_consume(call->sock->h2, call->id, owed);
	complete(cli, call, st);
	call->sock = NULL;
	call_put(call); /* the loop's */
}

/* ---- connections (loop thread) ---- */

static void sock_after(struct sock *s);

static void sock_close(struct sock *s)
{
	struct rpc_client *cli = s->cli;

	if (s->dead)
		return;
	s->dead = true;
	rpc_loop_del(cli->loop, &s->io);
	rpc_loop_timer_disarm(cli->loop, &s->timer);
	if (cli->cur == s) {
		cli->cur = NULL;
	} else {
		for (struct sock **pp = &cli->draining; *pp; pp = &(*pp)->next)
			if (*pp == s) {
				*pp = s->next;
				break;
			}
	}
	s->next = cli->zombies;
	cli->zombies = s;
}

static void sock_free(struct sock *s)
{
	rpc_cconn_free(s->h2);
	SSL_free(s->ssl);
	if (s->io.fd >= 0)
		close(s->io.fd);
	rpc_fifo_fini(&s->out);
	mem_free(s);
}

static void fail_waiting(struct rpc_client *cli, int code, const char *why)
{
	struct rpc_status st;
	struct ccall *call;

	rpc_status_set(&st, code, "%s", why);
	while ((call = cli->waiting)) {
		cli->waiting = call->wait_next;
		complete(cli, call, &st);
		call_put(call);
	}
}

static void connect_failed(struct rpc_client *cli, struct sock *s, const char *why)
{
	uint64_t now = rpc_loop_now(cli->loop);
	char msg[RPC_STATUS_MSG_MAX];

	snprintf(cli->last_err, sizeof(cli->last_err), "%s", why);
	cli->backoff_ms = cli->backoff_ms ? cli->backoff_ms * 2 : CLIENT_BACKOFF_MIN;
	if (cli->backoff_ms > cli->o.backoff_max_ms)
		cli->backoff_ms = cli->o.backoff_max_ms;
	cli->backoff_until = now + cli->backoff_ms;
	log_info("rpc: connecting to %s failed: %s", cli->target_text, why);
	sock_close(s);
	snprintf(msg, sizeof(msg), "connecting to %s failed: %.120s", cli->target_text, why);
	fail_waiting(cli, RPC_UNAVAILABLE, msg);
}

static void submit_waiting(struct rpc_client *cli)
{
	struct sock *s = cli->cur;
	struct ccall *call;
	struct rpc_status st;

	while (s && s->state == SOCK_READY && (call = cli->waiting)) {
		cli->waiting = call->wait_next;
		pthread_mutex_lock(&cli->lock);
		bool abandoned = call->abandoned;
		pthread_mutex_unlock(&cli->lock);
		if (abandoned) {
			call_put(call);
			continue;
		}
		struct rpc_cconn_req r = {
			.path = call->path,
			.authority = cli->authority,
			.timeout = call->has_timeout ? call->timeout : NULL,
			.meta_names = call->meta_names,
			.meta_values = call->meta_values,
			.nmeta = call->nmeta,
			.body = call->body.data,
			.body_len = call->body.len,
			.unary = call->unary,
		};
		call->sock = s;
		int rc = rpc_cconn_submit(s->h2, &r, call, &call->id);
		if (rc == ERR_BADSTATE) {
			/* This connection takes no more calls: retire it, dial anew. */
			call->sock = NULL;
			call->wait_next = cli->waiting;
			cli->waiting = call;
			cli->cur = NULL;
			s->next = cli->draining;
			cli->draining = s;
			return;
		}
		if (rc < 0) {
			call->sock = NULL;
			rpc_status_set(&st, RPC_RESOURCE_EXHAUSTED, "out of memory starting the call");
			complete(cli, call, &st);
			call_put(call);
		}
	}
	if (s)
		sock_after(s);
}

static bool sock_flush(struct sock *s)
{
	const uint8_t *p;
	size_t n;
	bool ww;

	for (;;) {
		while (s->h2 && s->out.len < CLIENT_OUT_HIGH) {
			if (rpc_cconn_pull(s->h2, &p, &n) < 0 || n == 0)
				break;
			if (rpc_fifo_append(&s->out, p, n, NULL, 0) < 0) {
				sock_close(s);
				return false;
			}
		}
		if (s->out.len == 0)
			return true;
		ssize_t w = rpc_tls_write(s->ssl, rpc_fifo_head(&s->out), s->out.len, &ww);
		if (w == -EAGAIN)
			return true;
		if (w < 0) {
			sock_close(s);
			return false;
		}
		rpc_fifo_consume(&s->out, (size_t)w);
	}
}

static void sock_read(struct sock *s)
{
	uint8_t buf[CLIENT_READ_CHUNK];
	uint64_t now = rpc_loop_now(s->cli->loop);
	bool ww;

	s->read_wants_write = false;
	for (;;) {
		ssize_t n = rpc_tls_read(s->ssl, buf, sizeof(buf), &ww);
		if (n > 0) {
			if (rpc_cconn_recv(s->h2, buf, (size_t)n, now) < 0) {
				sock_flush(s);
				sock_close(s);
				return;
			}
			continue;
		}
		if (n == -EAGAIN) {
			s->read_wants_write = ww;
			return;
		}
		sock_close(s);
		return;
	}
}

static void sock_handshake(struct sock *s)
{
	struct rpc_client *cli = s->cli;
	char why[160];
	bool ww;
	int rc = rpc_tls_handshake(s->ssl, &ww);

	if (rc == -EAGAIN) {
		s->read_wants_write = ww;
		return;
	}
	if (rc < 0) {
		rpc_tls_error_text(why, sizeof(why));
		connect_failed(cli, s, rc == -EPIPE ? "TLS handshake: connection closed by the server" : why);
		return;
	}
	s->read_wants_write = false;
	if (!rpc_tls_alpn_h2(s->ssl)) {
		connect_failed(cli, s, "server did not negotiate h2 (ALPN)");
		return;
	}
	if (rpc_cconn_new(&s->h2, &cli->lim, &cli->ops, cli, rpc_loop_now(cli->loop)) < 0) {
		connect_failed(cli, s, "out of memory");
		return;
	}
	s->state = SOCK_READY;
	cli->backoff_ms = 0;
	submit_waiting(cli);
}

static void sock_connected(struct sock *s)
{
	struct rpc_client *cli = s->cli;
	int err = 0;
	socklen_t len = sizeof(err);

	if (getsockopt(s->io.fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0)
		err = errno;
	if (err == EINPROGRESS)
		return;
	if (err) {
		connect_failed(cli, s, strerror(err));
		return;
	}
	if (rpc_tls_ssl_new(&s->ssl, cli->ssl_ctx, s->io.fd, false, cli->server_name) < 0) {
		connect_failed(cli, s, "TLS setup failed");
		return;
	}
	s->state = SOCK_HANDSHAKING;
	sock_handshake(s);
}

static void sock_after(struct sock *s)
{
	struct rpc_client *cli = s->cli;
	uint32_t ev = EPOLLIN;
	uint64_t next;

	if (s->dead)
		return;
	if (s->state == SOCK_CONNECTING) {
		ev = EPOLLOUT;
	} else {
		if (s->state == SOCK_READY) {
			if (!sock_flush(s))
				return;
			if (rpc_cconn_draining(s->h2) && cli->cur == s) {
				cli->cur = NULL;
				s->next = cli->draining;
				cli->draining = s;
			}
			if ((rpc_cconn_done(s->h2) || (s != cli->cur && rpc_cconn_calls(s->h2) == 0)) && s->out.len == 0) {
				sock_close(s);
				return;
			}
		}
		if (s->out.len || s->read_wants_write)
			ev |= EPOLLOUT;
	}
	if (rpc_loop_mod(cli->loop, &s->io, ev) < 0) {
		sock_close(s);
		return;
	}
	next = s->state == SOCK_READY ? rpc_cconn_next_event(s->h2) : s->connect_deadline;
	if (next == UINT64_MAX)
		rpc_loop_timer_disarm(cli->loop, &s->timer);
	else if (rpc_loop_timer_arm(cli->loop, &s->timer, next) < 0)
		sock_close(s);
}

static void sock_event(void *ctx, uint32_t events)
{
	struct sock *s = ctx;

	if (s->dead)
		return;
	switch (s->state) {
	case SOCK_CONNECTING:
		sock_connected(s);
		break;
	case SOCK_HANDSHAKING:
		sock_handshake(s);
		if (!s->dead && s->state == SOCK_READY)
			sock_read(s);
		break;
	case SOCK_READY:
		if ((events & (EPOLLIN | EPOLLERR | EPOLLHUP)) || s->read_wants_write)
			sock_read(s);
		break;
	}
	if (!s->dead)
		sock_after(s);
}

static void sock_timer(void *ctx)
{
	struct sock *s = ctx;
	uint64_t now = rpc_loop_now(s->cli->loop);

	if (s->dead)
		return;
	if (s->state != SOCK_READY) {
		if (now >= s->connect_deadline)
			connect_failed(s->cli, s, "connect timed out");
		return;
	}
	if (!rpc_cconn_tick(s->h2, now)) {
		log_info("rpc: %s stopped answering keepalive pings; reconnecting", s->cli->target_text);
		sock_close(s);
		return;
	}
	sock_after(s);
}

static void start_connect(struct rpc_client *cli)
{
	struct sock *s;
	int fd, one = 1;

	s = mem_zalloc(sizeof(*s));
	if (!s) {
		fail_waiting(cli, RPC_RESOURCE_EXHAUSTED, "out of memory");
		return;
	}
	s->cli = cli;
	s->io.fd = -1;
	rpc_fifo_init(&s->out, CLIENT_OUT_MAX);
	rpc_loop_timer_init(&s->timer, sock_timer, s);
	cli->cur = s;
	fd = socket(cli->target.sa.sa_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		connect_failed(cli, s, strerror(errno));
		return;
	}
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	s->io.fd = fd;
	s->io.events = EPOLLOUT;
	s->io.fn = sock_event;
	s->io.ctx = s;
	s->state = SOCK_CONNECTING;
	s->connect_deadline = rpc_loop_now(cli->loop) + cli->o.connect_timeout_ms;
	if (connect(fd, &cli->target.sa, endpoint_len(&cli->target)) < 0 && errno != EINPROGRESS) {
		connect_failed(cli, s, strerror(errno));
		return;
	}
	if (rpc_loop_add(cli->loop, &s->io) < 0) {
		connect_failed(cli, s, "epoll");
		return;
	}
	sock_after(s);
}

static void ensure_connection(struct rpc_client *cli)
{
	char msg[RPC_STATUS_MSG_MAX];

	if (!cli->waiting)
		return;
	if (cli->cur) {
		submit_waiting(cli);
		return;
	}
	if (rpc_loop_now(cli->loop) < cli->backoff_until) {
		snprintf(msg, sizeof(msg), "%s unreachable (retrying later): %.120s", cli->target_text, cli->last_err);
		fail_waiting(cli, RPC_UNAVAILABLE, msg);
		return;
	}
	start_connect(cli);
}

static void shutdown_all(struct rpc_client *cli)
{
	fail_waiting(cli, RPC_CANCELLED, "client closed");
	while (cli->cur)
		sock_close(cli->cur);
	while (cli->draining)
		sock_close(cli->draining);
	cli->loop_exit = true;
}

static void on_wake(void *ctx)
{
	struct rpc_client *cli = ctx;
	struct ccall *list, *call;
	bool closing;

	pthread_mutex_lock(&cli->lock);
	list = cli->todo_head;
	cli->todo_head = cli->todo_tail = NULL;
	closing = cli->closing;
	pthread_mutex_unlock(&cli->lock);

	while ((call = list)) {
		list = call->todo_next;
		pthread_mutex_lock(&cli->lock);
		int what = call->todo;
		size_t owed = 0;
		call->todo = 0;
		if (what & TODO_CONSUME) {
			owed = call->owed;
			call->owed = 0;
		}
		pthread_mutex_unlock(&cli->lock);
		if (what & TODO_SUBMIT) {
			/* The loop's own reference starts here. */
			call_get(call);
			call->wait_next = cli->waiting;
			cli->waiting = call;
		}
		if ((what & TODO_CANCEL) && call->sock && !call->sock->dead)
			rpc_cconn_cancel(call->sock->h2, call->id);
		if (owed && call->sock && !call->sock->dead)
			rpc_cconn_consume(call->sock->h2, call->id, owed);
		if (call->sock && !call->sock->dead)
			sock_after(call->sock);
		call_put(call);
	}
	if (closing) {
		shutdown_all(cli);
		return;
	}
	/* Waiting calls were pushed in reverse; order does not matter for
	 * correctness, but keep submission order fair anyway. */
	struct ccall *rev = NULL;
	while ((call = cli->waiting)) {
		cli->waiting = call->wait_next;
		call->wait_next = rev;
		rev = call;
	}
	cli->waiting = rev;
	ensure_connection(cli);
}

static void *loop_main(void *arg)
{
	struct rpc_client *cli = arg;
	struct sock *s;

	rpc_loop_block_sigpipe();

	while (!cli->loop_exit) {
		if (rpc_loop_run_once(cli->loop, -1) < 0)
			break;
		while ((s = cli->zombies)) {
			cli->zombies = s->next;
			sock_free(s);
		}
		/* A lost connection leaves nothing to reconnect for until a call comes. */
	}
	while ((s = cli->zombies)) {
		cli->zombies = s->next;
		sock_free(s);
	}
	/* Requests that raced with closing: only their references remain. */
	pthread_mutex_lock(&cli->lock);
	struct ccall *list = cli->todo_head;
	cli->todo_head = cli->todo_tail = NULL;
	pthread_mutex_unlock(&cli->lock);
	while (list) {
		struct ccall *call = list;
		list = call->todo_next;
		call_put(call);
	}
	return NULL;
}

/* ---- public ---- */

int rpc_client_new(struct rpc_client **out, const struct rpc_client_opts *opts)
{
	struct rpc_client *cli;
	struct addr a;
	char host[ADDR_STRLEN];
	int rc;

	*out = NULL;
	cli = mem_zalloc(sizeof(*cli));
	if (!cli)
		return -ENOMEM;
	pthread_mutex_init(&cli->lock, NULL);
	cli->o = *opts;
	struct rpc_client_opts *o = &cli->o;
	if (!o->target || endpoint_parse(o->target, &cli->target) < 0 || endpoint_port(&cli->target) == 0) {
		log_error("rpc: target \"%s\" is not IPV4:PORT or [IPV6]:PORT", o->target ? o->target : "");
		rc = -EINVAL;
		goto fail;
	}
	if (endpoint_format(&cli->target, cli->target_text, sizeof(cli->target_text)) < 0 ||
	    addr_from_endpoint(&a, &cli->target) < 0 || addr_format(&a, host, sizeof(host)) < 0) {
		rc = -EINVAL;
		goto fail;
	}
	if (o->server_name && strlen(o->server_name) >= sizeof(cli->server_name)) {
		rc = -EINVAL;
		goto fail;
	}
	snprintf(cli->server_name, sizeof(cli->server_name), "%s", o->server_name ? o->server_name : host);
	if (o->server_name && addr_parse(o->server_name, &a) != 0)
		snprintf(cli->authority, sizeof(cli->authority), "%s:%u", o->server_name, endpoint_port(&cli->target));
	else
		snprintf(cli->authority, sizeof(cli->authority), "%s", cli->target_text);
	o->target = o->server_name = NULL;
	if (!o->max_recv_msg)
		o->max_recv_msg = RPC_FRAME_DEFAULT_MAX;
	if (!o->max_send_msg)
		o->max_send_msg = RPC_FRAME_DEFAULT_MAX;
	if (o->max_recv_msg > RPC_FRAME_MAX_LIMIT || o->max_send_msg > RPC_FRAME_MAX_LIMIT) {
		rc = -EINVAL;
		goto fail;
	}
	if (!o->connect_timeout_ms)
		o->connect_timeout_ms = 10000;
	if (!o->keepalive_timeout_ms)
		o->keepalive_timeout_ms = 20000;
	if (!o->max_calls)
		o->max_calls = 1000;
	if (!o->backoff_max_ms)
		o->backoff_max_ms = 10000;
	cli->lim = (struct rpc_cconn_limits){
		.max_recv_msg = o->max_recv_msg,
		.stream_window = CLIENT_STREAM_WINDOW,
		.conn_window = CLIENT_CONN_WINDOW,
		.keepalive_ms = o->keepalive_ms,
		.keepalive_timeout_ms = o->keepalive_timeout_ms,
	};
	cli->ops = (struct rpc_cconn_ops){ op_data, op_closed };
	rc = rpc_tls_ctx_new(&cli->ssl_ctx, false, &opts->tls, &cli->hook);
	if (rc < 0)
		goto fail;
	rc = rpc_loop_new(&cli->loop, 64, on_wake, cli);
	if (rc < 0)
		goto fail;
	rc = -pthread_create(&cli->thread, NULL, loop_main, cli);
	if (rc < 0)
		goto fail;
	cli->thread_started = true;
	*out = cli;
	return 0;
fail:
	rpc_client_free(cli);
	return rc;
}

void rpc_client_free(struct rpc_client *cli)
{
	if (!cli)
		return;
	if (cli->thread_started) {
		pthread_mutex_lock(&cli->lock);
		cli->closing = true;
		pthread_mutex_unlock(&cli->lock);
		rpc_loop_wake(cli->loop);
		pthread_join(cli->thread, NULL);
	}
	rpc_loop_free(cli->loop);
	rpc_tls_ctx_free(cli->ssl_ctx);
	pthread_mutex_destroy(&cli->lock);
	mem_free(cli);
}

/* Builds the call: framed body, wire metadata, timeout. */
static int call_new(struct rpc_client *cli, struct ccall **out, const char *method, const uint8_t *req, size_t len,
                    const struct rpc_meta *md, int deadline_ms, bool unary)
{
	struct ccall *call;
	uint8_t hdr[RPC_FRAME_HDR_LEN];
	size_t need = 0, at = 0;

	*out = NULL;
	if (!method || strlen(method) >= RPC_PATH_MAX || !rpc_frame_path_ok(method, strlen(method)) || (len && !req))
		return -EINVAL;
	if (len > cli->o.max_send_msg)
		return ERR_TOOBIG;
	call = mem_zalloc(sizeof(*call));
	if (!call)
		return -ENOMEM;
	atomic_init(&call->refs, 1);
	call->cli = cli;
	call->unary = unary;
	pthread_condattr_t ca;
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&call->cond, &ca);
	pthread_condattr_destroy(&ca);
	buf_init(&call->body, len + RPC_FRAME_HDR_LEN);
	rpc_fifo_init(&call->rx, cli->o.max_recv_msg + RPC_FRAME_HDR_LEN + CLIENT_RX_SOFT + CLIENT_STREAM_WINDOW);
	snprintf(call->path, sizeof(call->path), "%s", method);
	if (deadline_ms > 0) {
		rpc_frame_timeout_format((uint64_t)deadline_ms, call->timeout);
		call->has_timeout = true;
	}
	rpc_frame_prefix(hdr, (uint32_t)len);
	if (buf_append(&call->body, hdr, sizeof(hdr)) < 0 || buf_append(&call->body, req, len) < 0)
		goto nomem;
	if (md && rpc_meta_count(md)) {
		for (size_t i = 0; i < rpc_meta_count(md); i++) {
			const char *k;
			const uint8_t *v;
			size_t vl;
			rpc_meta_at(md, i, &k, &v, &vl);
			need += strlen(k) + 1;
		}
		need += rpc_meta_wire_bound(md);
		call->meta_text = mem_alloc(need);
		if (!call->meta_text)
			goto nomem;
		for (size_t i = 0; i < rpc_meta_count(md); i++) {
			const char *k;
			const uint8_t *v;
			size_t vl;
			rpc_meta_at(md, i, &k, &v, &vl);
			call->meta_names[i] = call->meta_text + at;
			memcpy(call->meta_text + at, k, strlen(k) + 1);
			at += strlen(k) + 1;
			int n = rpc_meta_wire_value(md, i, call->meta_text + at, need - at);
			if (n < 0)
				goto nomem;
			call->meta_values[i] = call->meta_text + at;
			at += (size_t)n + 1;
		}
		call->nmeta = rpc_meta_count(md);
	}
	*out = call;
	return 0;
nomem:
	call_put(call);
	return -ENOMEM;
}

/* Registers the call with the client and the loop; on failure sets st. */
static bool call_start(struct rpc_client *cli, struct ccall *call, struct rpc_status *st)
{
	bool ok = true;

	pthread_mutex_lock(&cli->lock);
	if (cli->closing) {
		rpc_status_set(st, RPC_CANCELLED, "client closed");
		ok = false;
	} else if (atomic_fetch_add(&cli->ncalls, 1) >= cli->o.max_calls) {
		atomic_fetch_sub(&cli->ncalls, 1);
		rpc_status_set(st, RPC_RESOURCE_EXHAUSTED, "too many calls in flight (%u)", cli->o.max_calls);
		ok = false;
	} else {
		todo_locked(cli, call, TODO_SUBMIT);
	}
	pthread_mutex_unlock(&cli->lock);
	return ok;
}

/* The caller gives up on the call (deadline or cancellation). Holds cli->lock. */
static void abandon_locked(struct rpc_client *cli, struct ccall *call, int code, const char *msg)
{
	if (call->done)
		return;
	call->done = true;
	call->abandoned = true;
	rpc_status_set(&call->st, code, "%s", msg);
	todo_locked(cli, call, TODO_CANCEL);
}

static void call_end(struct rpc_client *cli, struct ccall *call)
{
	atomic_fetch_sub(&cli->ncalls, 1);
	call_put(call);
}

static void abs_deadline(struct timespec *ts, int ms)
{
	clock_gettime(CLOCK_MONOTONIC, ts);
	ts->tv_sec += ms / 1000;
	ts->tv_nsec += (long)(ms % 1000) * 1000000;
	if (ts->tv_nsec >= 1000000000) {
		ts->tv_sec++;
		ts->tv_nsec -= 1000000000;
	}
}

static bool passed(const struct timespec *until)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return now.tv_sec > until->tv_sec || (now.tv_sec == until->tv_sec && now.tv_nsec >= until->tv_nsec);
}

/* Waits (holding cli->lock) until the call is done or, for a stream, has
 * messages; abandons it when the deadline passes or cancel fires, which is
 * checked even while messages keep coming. */
static void wait_locked(struct rpc_client *cli, struct ccall *call, bool has_deadline, const struct timespec *until,
                        struct rpc_cancel *cancel, bool want_messages)
{
	for (;;) {
		if (call->done)
			return;
		if (cancel && atomic_load(&cancel->fired)) {
			abandon_locked(cli, call, RPC_CANCELLED, "call cancelled");
			return;
		}
		if (has_deadline && passed(until)) {
			abandon_locked(cli, call, RPC_DEADLINE_EXCEEDED, "deadline exceeded");
			return;
		}
		if (want_messages && call->rx_msgs)
			return;
		if (has_deadline)
			pthread_cond_timedwait(&call->cond, &cli->lock, until);
		else
			pthread_cond_wait(&call->cond, &cli->lock);
	}
}

static void cancel_attach(struct rpc_cancel *cancel, struct ccall *call)
{
	if (!cancel)
		return;
	pthread_mutex_lock(&cancel->lock);
	cancel->call = call;
	pthread_mutex_unlock(&cancel->lock);
}

static void cancel_detach(struct rpc_cancel *cancel)
{
	if (!cancel)
		return;
	pthread_mutex_lock(&cancel->lock);
	cancel->call = NULL;
	pthread_mutex_unlock(&cancel->lock);
}

int rpc_client_unary(struct rpc_client *cli, const char *method, const uint8_t *req, size_t len,
                     const struct rpc_meta *metadata, int deadline_ms, uint8_t **resp, size_t *resp_len,
                     struct rpc_status *status)
{
	struct ccall *call;
	struct timespec until;
	const uint8_t *msg;
	size_t mlen, used;
	int rc;

	*resp = NULL;
	*resp_len = 0;
	rpc_status_set(status, RPC_OK, NULL);
	if (deadline_ms > 0)
		abs_deadline(&until, deadline_ms);
	rc = call_new(cli, &call, method, req, len, metadata, deadline_ms, true);
	if (rc < 0) {
		rpc_status_set(status, rc == ERR_TOOBIG ? RPC_RESOURCE_EXHAUSTED : rc == -ENOMEM ? RPC_RESOURCE_EXHAUSTED
		                                                                                  : RPC_INVALID_ARGUMENT,
		               "%s", rc == ERR_TOOBIG ? "request larger than max_send_msg" : err_str(rc));
		return rc == -EINVAL ? -EINVAL : -EREMOTEIO;
	}
	if (!call_start(cli, call, status)) {
		call_put(call);
		return -EREMOTEIO;
	}
	pthread_mutex_lock(&cli->lock);
	wait_locked(cli, call, deadline_ms > 0, &until, NULL, false);
	*status = call->st;
	if (status->code == RPC_OK) {
		if (rpc_frame_next(rpc_fifo_head(&call->rx), call->rx.len, cli->o.max_recv_msg, &msg, &mlen, &used) != 1) {
			rpc_status_set(status, RPC_INTERNAL, "no response message");
		} else {
			*resp = mem_dup(msg, mlen);
			if (!*resp && mlen)
				rpc_status_set(status, RPC_RESOURCE_EXHAUSTED, "out of memory for the response");
			else
				*resp_len = mlen;
		}
	}
	pthread_mutex_unlock(&cli->lock);
	call_end(cli, call);
	return status->code == RPC_OK ? 0 : -EREMOTEIO;
}

int rpc_client_stream(struct rpc_client *cli, const char *method, const uint8_t *req, size_t len,
                      const struct rpc_meta *metadata, int deadline_ms, rpc_client_msg_fn on_msg, void *ctx,
                      struct rpc_cancel *cancel, struct rpc_status *status)
{
	struct ccall *call;
	struct timespec until;
	struct rpc_fifo local;
	bool stop = false;
	int rc;

	rpc_status_set(status, RPC_OK, NULL);
	if (!on_msg)
		return -EINVAL;
	if (deadline_ms > 0)
		abs_deadline(&until, deadline_ms);
	rc = call_new(cli, &call, method, req, len, metadata, deadline_ms, false);
	if (rc < 0) {
		rpc_status_set(status, rc == -EINVAL ? RPC_INVALID_ARGUMENT : RPC_RESOURCE_EXHAUSTED, "%s", err_str(rc));
		return rc == -EINVAL ? -EINVAL : -EREMOTEIO;
	}
	rpc_fifo_init(&local, 2 * call->rx.max);
	cancel_attach(cancel, call);
	if (!call_start(cli, call, status)) {
		cancel_detach(cancel);
		call_put(call);
		return -EREMOTEIO;
	}
	while (!stop) {
		bool done, have;
		pthread_mutex_lock(&cli->lock);
		wait_locked(cli, call, deadline_ms > 0, &until, cancel, true);
		done = call->done;
		have = call->rx_msgs > 0 && !call->abandoned;
		if (have) {
			/* Take everything queued; a partial message stays at the end of local. */
			if (local.len == 0) {
				rpc_fifo_swap(&local, &call->rx);
			} else if (rpc_fifo_append(&local, rpc_fifo_head(&call->rx), call->rx.len, NULL, 0) < 0) {
				abandon_locked(cli, call, RPC_RESOURCE_EXHAUSTED, "out of memory for stream messages");
				have = false;
				done = true;
			}
			rpc_fifo_consume(&call->rx, call->rx.len);
			call->rx_msgs = 0;
			if (call->owed)
				todo_locked(cli, call, TODO_CONSUME);
		}
		if (done && !have)
			*status = call->st;
		pthread_mutex_unlock(&cli->lock);
		while (have) {
			const uint8_t *msg;
			size_t mlen, used;
			if (rpc_frame_next(rpc_fifo_head(&local), local.len, cli->o.max_recv_msg, &msg, &mlen, &used) != 1)
				break;
			int r = on_msg(ctx, msg, mlen);
			rpc_fifo_consume(&local, used);
			if (r) {
				pthread_mutex_lock(&cli->lock);
				abandon_locked(cli, call, RPC_CANCELLED, "cancelled by the receiver");
				*status = call->st;
				pthread_mutex_unlock(&cli->lock);
				stop = true;
				break;
			}
		}
		if (done && !have)
			stop = true;
	}
	cancel_detach(cancel);
	rpc_fifo_fini(&local);
	call_end(cli, call);
	return status->code == RPC_OK ? 0 : -EREMOTEIO;
}
