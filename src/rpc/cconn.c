#include "rpc/cconn.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "lib/mem.h"
#include "rpc/frame.h"
#include "rpc/h2.h"
#include "rpc/meta.h"
#include "rpc/status.h"

#ifndef PHAROS_VERSION
#define PHAROS_VERSION "0"
#endif

#define CCONN_MAX_HEADERS (16 + RPC_META_MAX_ENTRIES)

struct cstream {
	struct cstream *prev, *next;
	void *call;
	int32_t id;
	bool unary;
	const uint8_t *body;
	size_t body_len, body_off;
	struct rpc_frame_scanner scan;
	int http_status;
	bool ct_grpc;
	bool got_status;
	int grpc_status;
	char grpc_msg[RPC_STATUS_MSG_MAX];
	bool failed;             /* we reset it: err says why */
	struct rpc_status err;
};

struct rpc_cconn {
	nghttp2_session *h2;
	struct rpc_cconn_limits lim;
	const struct rpc_cconn_ops *ops;
	void *owner;
	struct cstream *streams;
	size_t nstreams;
	uint64_t now, last_rx;
	bool ping_out;
	uint64_t ping_sent;
	bool goaway, fatal;
};

static void unlink_stream(struct rpc_cconn *c, struct cstream *s)
{
	if (s->prev)
		s->prev->next = s->next;
	else
		c->streams = s->next;
	if (s->next)
		s->next->prev = s->prev;
	s->prev = s->next = NULL;
	c->nstreams--;
}

static void fail_stream(struct rpc_cconn *c, struct cstream *s, int code, const char *msg)
{
	if (s->failed)
		return;
	s->failed = true;
	rpc_status_set(&s->err, code, "%s", msg);
	(void)nghttp2_submit_rst_stream(c->h2, NGHTTP2_FLAG_NONE, s->id, NGHTTP2_CANCEL);
}

static ssize_t read_body(nghttp2_session *h2, int32_t id, uint8_t *buf, size_t length, uint32_t *flags,
                         nghttp2_data_source *src, void *user)
{
	struct cstream *s = src->ptr;
	size_t n = s->body_len - s->body_off;

	if (n > length)
		n = length;
	if (n)
		memcpy(buf, s->body + s->body_off, n);
	s->body_off += n;
	if (s->body_off == s->body_len)
		*flags |= NGHTTP2_DATA_FLAG_EOF;
	return (ssize_t)n;
}

static int on_header(nghttp2_session *h2, const nghttp2_frame *frame, const uint8_t *name, size_t namelen,
                     const uint8_t *value, size_t valuelen, uint8_t flags, void *user)
{
	struct cstream *s;
	const char *v = (const char *)value;
	int code;

	if (frame->hd.type != NGHTTP2_HEADERS)
		return 0;
	s = nghttp2_session_get_stream_user_data(h2, frame->hd.stream_id);
	if (!s)
		return 0;
	if (rpc_h2_is(name, namelen, ":status")) {
		if (valuelen == 3 && v[0] >= '1' && v[0] <= '5' && v[1] >= '0' && v[1] <= '9' && v[2] >= '0' && v[2] <= '9')
			s->http_status = (v[0] - '0') * 100 + (v[1] - '0') * 10 + (v[2] - '0');
	} else if (rpc_h2_is(name, namelen, "content-type")) {
		s->ct_grpc = rpc_frame_content_type_is_grpc(v, valuelen);
	} else if (rpc_h2_is(name, namelen, "grpc-status")) {
		s->got_status = true;
		s->grpc_status = rpc_frame_status_parse(v, valuelen, &code) == 0 ? code : RPC_UNKNOWN;
	} else if (rpc_h2_is(name, namelen, "grpc-message")) {
		rpc_frame_pct_decode(s->grpc_msg, sizeof(s->grpc_msg), v, valuelen);
	}
	return 0;
}

static int on_data_chunk(nghttp2_session *h2, uint8_t flags, int32_t id, const uint8_t *data, size_t len, void *user)
{
	struct rpc_cconn *c = user;
	struct cstream *s = nghttp2_session_get_stream_user_data(h2, id);
	char msg[RPC_STATUS_MSG_MAX];
	int rc;

	if (!s || s->failed) {
		/* Ours to credit: nobody else will. */
		(void)nghttp2_session_consume(h2, id, len);
		return 0;
	}
	if (s->http_status != 200 || !s->ct_grpc) {
		(void)nghttp2_session_consume(h2, id, len);
		fail_stream(c, s, s->http_status == 200 ? RPC_UNKNOWN : rpc_status_from_http(s->http_status),
		            "response is not gRPC");
		return 0;
	}
	rc = rpc_frame_scan(&s->scan, data, len);
	if (rc < 0) {
		(void)nghttp2_session_consume(h2, id, len);
		if (rc == ERR_TOOBIG) {
			snprintf(msg, sizeof(msg), "response message larger than the limit (%zu bytes)", c->lim.max_recv_msg);
			fail_stream(c, s, RPC_RESOURCE_EXHAUSTED, msg);
		} else {
			fail_stream(c, s, RPC_INTERNAL, rc == -EOPNOTSUPP ? "compressed response (none was offered)"
			                                                  : "malformed response message prefix");
		}
		return 0;
	}
	if (s->unary && (s->scan.messages > 1 || (s->scan.messages == 1 && !rpc_frame_scanner_idle(&s->scan)))) {
		(void)nghttp2_session_consume(h2, id, len);
		fail_stream(c, s, RPC_UNIMPLEMENTED, "more than one response message to a unary call");
		return 0;
	}
	c->ops->data(c->owner, s->call, data, len, rc);
	return 0;
}

static int on_frame_recv(nghttp2_session *h2, const nghttp2_frame *frame, void *user)
{
	struct rpc_cconn *c = user;

	if (frame->hd.type == NGHTTP2_GOAWAY)
		c->goaway = true;
	else if (frame->hd.type == NGHTTP2_PING && (frame->hd.flags & NGHTTP2_FLAG_ACK))
		c->ping_out = false;
	return 0;
}

/* The status of a call whose stream has closed (PROTOCOL-HTTP2.md). */
static void final_status(const struct cstream *s, uint32_t error_code, struct rpc_status *st)
{
	if (s->failed) {
		*st = s->err;
	} else if (s->got_status) {
		rpc_status_set(st, s->grpc_status, "%s", s->grpc_msg);
		if (st->code == RPC_OK && !rpc_frame_scanner_idle(&s->scan))
			rpc_status_set(st, RPC_INTERNAL, "response ended inside a message");
		else if (st->code == RPC_OK && s->unary && s->scan.messages != 1)
			rpc_status_set(st, RPC_UNIMPLEMENTED, "expected one response message, got %llu",
			               (unsigned long long)s->scan.messages);
	} else if (s->http_status && s->http_status != 200) {
		rpc_status_set(st, rpc_status_from_http(s->http_status), "HTTP status %d", s->http_status);
	} else if (error_code) {
		rpc_status_set(st, rpc_status_from_h2(error_code), "stream reset by the server (HTTP/2 error %u)",
		               error_code);
	} else if (s->http_status == 200 && !s->ct_grpc) {
		rpc_status_set(st, RPC_UNKNOWN, "response is not gRPC (content-type)");
	} else {
		rpc_status_set(st, RPC_INTERNAL, "response ended without grpc-status");
	}
}

static int on_stream_close(nghttp2_session *h2, int32_t id, uint32_t error_code, void *user)
{
	struct rpc_cconn *c = user;
	struct cstream *s = nghttp2_session_get_stream_user_data(h2, id);
	struct rpc_status st;

	if (!s)
		return 0;
	nghttp2_session_set_stream_user_data(h2, id, NULL);
	unlink_stream(c, s);
	final_status(s, error_code, &st);
	c->ops->closed(c->owner, s->call, &st);
	mem_free(s);
	return 0;
}

int rpc_cconn_new(struct rpc_cconn **out, const struct rpc_cconn_limits *lim, const struct rpc_cconn_ops *ops,
                  void *owner, uint64_t now)
{
	struct rpc_cconn *c;
	nghttp2_session_callbacks *cbs = NULL;
	nghttp2_option *opt = NULL;
	nghttp2_mem mem;
	int rc = -ENOMEM;

	*out = NULL;
	c = mem_zalloc(sizeof(*c));
	if (!c)
		return -ENOMEM;
	c->lim = *lim;
	if (c->lim.max_recv_msg > RPC_FRAME_MAX_LIMIT)
		c->lim.max_recv_msg = RPC_FRAME_MAX_LIMIT;
	c->ops = ops;
	c->owner = owner;
	c->now = c->last_rx = now;
	if (nghttp2_session_callbacks_new(&cbs) != 0 || nghttp2_option_new(&opt) != 0)
		goto out;
	nghttp2_session_callbacks_set_on_header_callback(cbs, on_header);
	nghttp2_session_callbacks_set_on_frame_recv_callback(cbs, on_frame_recv);
	nghttp2_session_callbacks_set_on_data_chunk_recv_callback(cbs, on_data_chunk);
	nghttp2_session_callbacks_set_on_stream_close_callback(cbs, on_stream_close);
	nghttp2_option_set_no_auto_window_update(opt, 1);
	rpc_h2_mem(&mem);
	if (nghttp2_session_client_new3(&c->h2, cbs, c, opt, &mem) != 0)
		goto out;
	nghttp2_settings_entry iv[] = {
		{ NGHTTP2_SETTINGS_ENABLE_PUSH, 0 },
		{ NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE, lim->stream_window },
		{ NGHTTP2_SETTINGS_MAX_HEADER_LIST_SIZE, 16 * 1024 },
	};
	if (nghttp2_submit_settings(c->h2, NGHTTP2_FLAG_NONE, iv, sizeof(iv) / sizeof(iv[0])) != 0)
		goto out;
	if (lim->conn_window > NGHTTP2_INITIAL_CONNECTION_WINDOW_SIZE &&
	    nghttp2_session_set_local_window_size(c->h2, NGHTTP2_FLAG_NONE, 0, (int32_t)lim->conn_window) != 0)
		goto out;
	*out = c;
	c = NULL;
	rc = 0;
out:
	nghttp2_session_callbacks_del(cbs);
	nghttp2_option_del(opt);
	rpc_cconn_free(c);
	return rc;
}

void rpc_cconn_free(struct rpc_cconn *c)
{
	struct cstream *s;
	struct rpc_status st;

	if (!c)
		return;
	while ((s = c->streams)) {
		unlink_stream(c, s);
		if (c->h2)
			nghttp2_session_set_stream_user_data(c->h2, s->id, NULL);
		if (s->failed)
			st = s->err;
		else
			rpc_status_set(&st, RPC_UNAVAILABLE, "connection closed before the call completed");
		c->ops->closed(c->owner, s->call, &st);
		mem_free(s);
	}
	nghttp2_session_del(c->h2);
	mem_free(c);
}

int rpc_cconn_submit(struct rpc_cconn *c, const struct rpc_cconn_req *r, void *call, int32_t *stream_id)
{
	nghttp2_nv nv[CCONN_MAX_HEADERS];
	size_t n = 0;
	struct cstream *s;
	int32_t id;

	*stream_id = 0;
	if (c->goaway || c->fatal || r->nmeta > RPC_META_MAX_ENTRIES)
		return ERR_BADSTATE;
	s = mem_zalloc(sizeof(*s));
	if (!s)
		return -ENOMEM;
	s->call = call;
	s->unary = r->unary;
	s->body = r->body;
	s->body_len = r->body_len;
	rpc_frame_scanner_init(&s->scan, c->lim.max_recv_msg);
	nv[n++] = rpc_h2_nv(":method", "POST");
	nv[n++] = rpc_h2_nv(":scheme", "https");
	nv[n++] = rpc_h2_nv(":path", r->path);
	nv[n++] = rpc_h2_nv(":authority", r->authority);
	nv[n++] = rpc_h2_nv("te", "trailers");
	nv[n++] = rpc_h2_nv("content-type", "application/grpc");
	nv[n++] = rpc_h2_nv("user-agent", "pharos-rpc/" PHAROS_VERSION);
	if (r->timeout)
		nv[n++] = rpc_h2_nv("grpc-timeout", r->timeout);
	for (size_t i = 0; i < r->nmeta; i++)
		nv[n++] = rpc_h2_nv(r->meta_names[i], r->meta_values[i]);
	nghttp2_data_provider prd = { .source.ptr = s, .read_callback = read_body };
	id = nghttp2_submit_request(c->h2, NULL, nv, n, &prd, s);
	if (id < 0) {
		mem_free(s);
		return id == NGHTTP2_ERR_NOMEM ? -ENOMEM : ERR_BADSTATE;
	}
	s->id = id;
	s->next = c->streams;
	if (c->streams)
		c->streams->prev = s;
	c->streams = s;
	c->nstreams++;
	*stream_id = id;
	return 0;
}

void rpc_cconn_cancel(struct rpc_cconn *c, int32_t stream_id)
{
	struct cstream *s = nghttp2_session_get_stream_user_data(c->h2, stream_id);

	if (s)
		fail_stream(c, s, RPC_CANCELLED, "call cancelled");
}

void rpc_cconn_consume(struct rpc_cconn *c, int32_t stream_id, size_t n)
{
	/* The stream may be gone: then only the connection window is owed. */
	if (nghttp2_session_get_stream_user_data(c->h2, stream_id))
		(void)nghttp2_session_consume(c->h2, stream_id, n);
	else
		(void)nghttp2_session_consume_connection(c->h2, n);
}

int rpc_cconn_recv(struct rpc_cconn *c, const uint8_t *data, size_t len, uint64_t now)
{
	c->now = c->last_rx = now;
	if (c->fatal)
		return ERR_PROTO;
	if (nghttp2_session_mem_recv(c->h2, data, len) < 0) {
		c->fatal = true;
		return ERR_PROTO;
	}
	return 0;
}

int rpc_cconn_pull(struct rpc_cconn *c, const uint8_t **data, size_t *len)
{
	ssize_t n;

	*len = 0;
	n = nghttp2_session_mem_send(c->h2, data);
	if (n < 0) {
		c->fatal = true;
		return ERR_PROTO;
	}
	*len = (size_t)n;
	return 0;
}

bool rpc_cconn_tick(struct rpc_cconn *c, uint64_t now)
{
	c->now = now;
	if (!c->lim.keepalive_ms)
		return !c->fatal;
	if (c->ping_out) {
		if (now >= c->ping_sent + c->lim.keepalive_timeout_ms)
			return false;
	} else if (now >= c->last_rx + c->lim.keepalive_ms && !c->nstreams) {
		c->last_rx = now; /* idle: nothing to protect, look again later */
	} else if (now >= c->last_rx + c->lim.keepalive_ms) {
		uint8_t opaque[8] = { 'k', 'e', 'e', 'p', 'a', 'l', 'v', 0 };
		if (nghttp2_submit_ping(c->h2, NGHTTP2_FLAG_NONE, opaque) == 0) {
			c->ping_out = true;
			c->ping_sent = now;
		}
	}
	return !c->fatal;
}

uint64_t rpc_cconn_next_event(const struct rpc_cconn *c)
{
	if (!c->lim.keepalive_ms)
		return UINT64_MAX;
	if (c->ping_out)
		return c->ping_sent + c->lim.keepalive_timeout_ms;
	/* Idle connections are not pinged (servers may count that as abuse);
	 * the timer still runs so a call that starts later is covered. */
	return c->last_rx + c->lim.keepalive_ms;
}

bool rpc_cconn_draining(const struct rpc_cconn *c)
{
	return c->goaway || c->fatal;
}

bool rpc_cconn_done(const struct rpc_cconn *c)
{
	if (c->fatal)
		return !nghttp2_session_want_write(c->h2);
	return !nghttp2_session_want_read(c->h2) && !nghttp2_session_want_write(c->h2);
}

size_t rpc_cconn_calls(const struct rpc_cconn *c)
{
	return c->nstreams;
}
