#include "rpc/sconn.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "lib/buf.h"
#include "lib/mem.h"
#include "rpc/fifo.h"
#include "rpc/frame.h"
#include "rpc/h2.h"
#include "rpc/meta.h"
#include "rpc/status.h"

/* Request headers we hold per call, counted as HPACK does (name + value +
 * 32); the gRPC spec suggests servers accept at least 8 KiB. */
#define SCONN_MAX_HEADER_BYTES (16 * 1024)
#define SCONN_AUTHORITY_MAX 256
/* Opaque data of the ping that precedes the final GOAWAY. */
static const uint8_t shutdown_ping[8] = { 'g', 'o', 'a', 'w', 'a', 'y', '!', '!' };
#define SCONN_GOAWAY_GRACE_MS 1000

struct rpc_scall {
	struct rpc_sconn *conn;
	struct rpc_scall *prev, *next; /* conn->calls */
	int32_t id;

	/* Request headers. */
	char path[RPC_PATH_MAX];
	char authority[SCONN_AUTHORITY_MAX];
	bool post, ct_grpc, ct_ok;
	int refuse_code;                 /* set while reading headers: answer with this */
	const char *refuse_msg;
	uint64_t timeout_ms;
	bool has_timeout;
	size_t header_bytes;
	struct rpc_meta meta;
	uint64_t deadline;

	/* Request body: exactly one message, prefix included. */
	struct rpc_frame_scanner scan;
	struct buf req;
	bool req_done;       /* END_STREAM received */

	/* Response. */
	bool dispatched;     /* the owner has it */
	bool answered;       /* trailers (or a trailers-only response) submitted */
	bool started;        /* response HEADERS with a data source submitted */
	bool finishing;      /* status known: trailers follow the queued data */
	bool complete;       /* a frame with END_STREAM went out */
	bool owner_done;     /* the owner finished it (rpc_sconn_finish) */
	bool in_refill;
	struct rpc_fifo out; /* framed response bytes not yet given to nghttp2 */
	int fin_code;
	char fin_msg[RPC_STATUS_MSG_MAX];
	void *owner_data;
};

struct rpc_sconn {
	nghttp2_session *h2;
	struct rpc_sconn_limits lim;
	const struct rpc_sconn_ops *ops;
	void *owner;
	struct rpc_scall *calls;
	size_t ncalls;
	uint64_t now;
	uint64_t next_deadline; /* earliest call deadline, or UINT64_MAX (may be stale-early) */
	uint64_t last_rx;
	bool ping_out;
	uint64_t ping_sent;
	bool shutting, goaway_sent;
	uint64_t goaway_at;
	bool fatal;
};

static void call_free(struct rpc_scall *call)
{
	rpc_meta_fini(&call->meta);
	buf_fini_secret(&call->req);
	rpc_fifo_fini(&call->out);
	mem_free(call);
}

static void unlink_call(struct rpc_sconn *c, struct rpc_scall *call)
{
	if (call->prev)
		call->prev->next = call->next;
	else
		c->calls = call->next;
	if (call->next)
		call->next->prev = call->prev;
	call->prev = call->next = NULL;
	c->ncalls--;
}

/* Submits a response that is only HEADERS with END_STREAM: the gRPC
 * trailers-only form, or a plain HTTP error status for non-gRPC requests. */
static void answer_headers_only(struct rpc_sconn *c, struct rpc_scall *call, int http, int code, const char *msg)
{
	char status[16], code_s[16], enc[3 * RPC_STATUS_MSG_MAX + 1];
	nghttp2_nv nv[4];
	size_t n = 0;

	if (call->answered)
		return;
	call->answered = true;
	snprintf(status, sizeof(status), "%d", http);
	nv[n++] = rpc_h2_nv(":status", status);
	if (http == 200) {
		snprintf(code_s, sizeof(code_s), "%d", code);
		nv[n++] = rpc_h2_nv("content-type", "application/grpc");
		nv[n++] = rpc_h2_nv("grpc-status", code_s);
		if (msg && *msg && rpc_frame_pct_encode(enc, sizeof(enc), msg, strnlen(msg, RPC_STATUS_MSG_MAX - 1)) > 0)
			nv[n++] = rpc_h2_nv("grpc-message", enc);
	}
	/* Fails only without memory or on a closed stream: then the stream ends
	 * by reset or connection loss, which the peer reads as an error too. */
	(void)nghttp2_submit_response(c->h2, call->id, nv, n, NULL);
}

static void submit_trailers(struct rpc_sconn *c, struct rpc_scall *call)
{
	char code_s[16], enc[3 * RPC_STATUS_MSG_MAX + 1];
	nghttp2_nv nv[2];
	size_t n = 0;

	call->answered = true;
	snprintf(code_s, sizeof(code_s), "%d", call->fin_code);
	nv[n++] = rpc_h2_nv("grpc-status", code_s);
	if (call->fin_msg[0] && rpc_frame_pct_encode(enc, sizeof(enc), call->fin_msg, strlen(call->fin_msg)) > 0)
		nv[n++] = rpc_h2_nv("grpc-message", enc);
	(void)nghttp2_submit_trailer(c->h2, call->id, nv, n);
}

static void refill(struct rpc_sconn *c, struct rpc_scall *call)
{
	if (!c->ops->refill || call->finishing || !call->dispatched)
		return;
	call->in_refill = true;
	c->ops->refill(c->owner, call);
	call->in_refill = false;
}

static ssize_t read_data(nghttp2_session *h2, int32_t id, uint8_t *buf, size_t length, uint32_t *flags,
                         nghttp2_data_source *src, void *user)
{
	struct rpc_sconn *c = user;
	struct rpc_scall *call = src->ptr;
	size_t n;

	if (call->out.len == 0)
		refill(c, call);
	if (call->out.len) {
		n = call->out.len < length ? call->out.len : length;
		memcpy(buf, rpc_fifo_head(&call->out), n);
		rpc_fifo_consume(&call->out, n);
		return (ssize_t)n;
	}
	if (call->finishing) {
		*flags |= NGHTTP2_DATA_FLAG_EOF | NGHTTP2_DATA_FLAG_NO_END_STREAM;
		submit_trailers(c, call);
		return 0;
	}
	return NGHTTP2_ERR_DEFERRED;
}

void rpc_sconn_kick(struct rpc_sconn *c, struct rpc_scall *call)
{
	if (call->answered || call->in_refill)
		return;
	if (call->started) {
		(void)nghttp2_session_resume_data(c->h2, call->id);
		return;
	}
	if (call->out.len == 0)
		refill(c, call);
	if (call->out.len == 0) {
		if (call->finishing)
			answer_headers_only(c, call, 200, call->fin_code, call->fin_msg);
		return;
	}
	nghttp2_nv nv[2] = { rpc_h2_nv(":status", "200"), rpc_h2_nv("content-type", "application/grpc") };
	nghttp2_data_provider prd = { .source.ptr = call, .read_callback = read_data };
	if (nghttp2_submit_response(c->h2, call->id, nv, 2, &prd) == 0)
		call->started = true;
	else
		call->answered = true; /* stream already gone; closed() follows */
}

int rpc_sconn_send(struct rpc_sconn *c, struct rpc_scall *call, const uint8_t *msg, size_t len)
{
	uint8_t hdr[RPC_FRAME_HDR_LEN];

	if (call->finishing || call->answered)
		return ERR_BADSTATE;
	if (len > c->lim.max_send_msg)
		return ERR_TOOBIG;
	rpc_frame_prefix(hdr, (uint32_t)len);
	return rpc_fifo_append(&call->out, hdr, sizeof(hdr), msg, len);
}

void rpc_sconn_take(struct rpc_scall *call, struct rpc_fifo *q)
{
	if (call->out.len == 0)
		rpc_fifo_swap(&call->out, q);
}

void rpc_sconn_finish(struct rpc_sconn *c, struct rpc_scall *call, int code, const char *msg)
{
	if (call->finishing || call->answered)
		return;
	call->owner_done = true;
	call->finishing = true;
	call->fin_code = code;
	snprintf(call->fin_msg, sizeof(call->fin_msg), "%s", msg ? msg : "");
	rpc_sconn_kick(c, call);
}

/* Refuses a call before the owner has it. */
static void refuse(struct rpc_sconn *c, struct rpc_scall *call, int code, const char *msg)
{
	call->finishing = true;
	call->fin_code = code;
	snprintf(call->fin_msg, sizeof(call->fin_msg), "%s", msg);
	answer_headers_only(c, call, 200, code, call->fin_msg);
}

static int on_begin_headers(nghttp2_session *h2, const nghttp2_frame *frame, void *user)
{
	struct rpc_sconn *c = user;
	struct rpc_scall *call;

	if (frame->hd.type != NGHTTP2_HEADERS || frame->headers.cat != NGHTTP2_HCAT_REQUEST)
		return 0;
	call = mem_zalloc(sizeof(*call));
	if (!call)
		return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE; /* RST_STREAM INTERNAL_ERROR; the connection lives */
	call->conn = c;
	call->id = frame->hd.stream_id;
	rpc_meta_init(&call->meta);
	rpc_frame_scanner_init(&call->scan, c->lim.max_recv_msg);
	buf_init(&call->req, c->lim.max_recv_msg + RPC_FRAME_HDR_LEN);
	rpc_fifo_init(&call->out, c->lim.max_send_msg + RPC_FRAME_HDR_LEN);
	if (nghttp2_session_set_stream_user_data(h2, call->id, call) != 0) {
		call_free(call);
		return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE;
	}
	call->next = c->calls;
	if (c->calls)
		c->calls->prev = call;
	c->calls = call;
	c->ncalls++;
	return 0;
}

static void header_refuse(struct rpc_scall *call, int code, const char *msg)
{
	if (!call->refuse_code) {
		call->refuse_code = code;
		call->refuse_msg = msg;
	}
}

static int on_header(nghttp2_session *h2, const nghttp2_frame *frame, const uint8_t *name, size_t namelen,
                     const uint8_t *value, size_t valuelen, uint8_t flags, void *user)
{
	struct rpc_scall *call;
	const char *v = (const char *)value;
	int rc;

	if (frame->hd.type != NGHTTP2_HEADERS || frame->headers.cat != NGHTTP2_HCAT_REQUEST)
		return 0; /* request trailers carry nothing we use */
	call = nghttp2_session_get_stream_user_data(h2, frame->hd.stream_id);
	if (!call)
		return 0;
	call->header_bytes += namelen + valuelen + 32;
	if (call->header_bytes > SCONN_MAX_HEADER_BYTES) {
		header_refuse(call, RPC_RESOURCE_EXHAUSTED, "request headers too large");
		return 0;
	}
	if (namelen && name[0] == ':') {
		if (rpc_h2_is(name, namelen, ":method")) {
			call->post = valuelen == 4 && !memcmp(v, "POST", 4);
		} else if (rpc_h2_is(name, namelen, ":path")) {
			if (valuelen < sizeof(call->path)) {
				memcpy(call->path, v, valuelen);
				call->path[valuelen] = '\0';
			} else {
				header_refuse(call, RPC_UNIMPLEMENTED, "method path too long");
			}
		} else if (rpc_h2_is(name, namelen, ":authority")) {
			size_t n = valuelen < sizeof(call->authority) - 1 ? valuelen : sizeof(call->authority) - 1;
			memcpy(call->authority, v, n);
			call->authority[n] = '\0';
		}
		return 0;
	}
	if (rpc_h2_is(name, namelen, "content-type")) {
		call->ct_grpc = rpc_frame_content_type_is_grpc(v, valuelen);
		call->ct_ok = rpc_frame_content_type_ok(v, valuelen);
	} else if (rpc_h2_is(name, namelen, "grpc-timeout")) {
		if (rpc_frame_timeout_parse(v, valuelen, &call->timeout_ms) < 0)
			header_refuse(call, RPC_INTERNAL, "malformed grpc-timeout");
		else
			call->has_timeout = true;
	} else if (rpc_h2_is(name, namelen, "grpc-encoding")) {
		if (!(valuelen == 8 && !memcmp(v, "identity", 8)))
			header_refuse(call, RPC_UNIMPLEMENTED, "compression is not supported (grpc-encoding)");
	} else if (!rpc_meta_reserved((const char *)name, namelen)) {
		rc = rpc_meta_add_wire(&call->meta, (const char *)name, namelen, v, valuelen);
		if (rc == ERR_TOOBIG)
			header_refuse(call, RPC_RESOURCE_EXHAUSTED, "too much metadata");
		else if (rc < 0)
			header_refuse(call, RPC_INTERNAL, "malformed metadata");
	}
	return 0;
}

/* The request header block is complete. */
static void headers_done(struct rpc_sconn *c, struct rpc_scall *call)
{
	char msg[RPC_STATUS_MSG_MAX];
	int code;

	if (!call->ct_grpc) {
		answer_headers_only(c, call, 415, 0, NULL);
		return;
	}
	if (!call->post) {
		answer_headers_only(c, call, 405, 0, NULL);
		return;
	}
	if (call->refuse_code) {
		refuse(c, call, call->refuse_code, call->refuse_msg);
		return;
	}
	if (!call->ct_ok) {
		refuse(c, call, RPC_UNIMPLEMENTED, "unsupported content-type (only application/grpc[+proto])");
		return;
	}
	if (!rpc_frame_path_ok(call->path, strlen(call->path))) {
		refuse(c, call, RPC_UNIMPLEMENTED, "malformed method path");
		return;
	}
	if (call->has_timeout) {
		call->deadline = c->now + (call->timeout_ms ? call->timeout_ms : 0);
		if (call->deadline == 0)
			call->deadline = 1;
		if (call->deadline < c->next_deadline)
			c->next_deadline = call->deadline;
	}
	code = c->ops->route(c->owner, call);
	if (code) {
		snprintf(msg, sizeof(msg), "unknown method %.200s", call->path);
		refuse(c, call, code, code == RPC_UNIMPLEMENTED ? msg : rpc_status_name(code));
	}
}

static void request_done(struct rpc_sconn *c, struct rpc_scall *call)
{
	const uint8_t *msg;
	size_t len, used;

	call->req_done = true;
	if (call->answered || call->finishing || call->dispatched)
		return;
	if (!rpc_frame_scanner_idle(&call->scan)) {
		refuse(c, call, RPC_INTERNAL, "request ended inside a message");
		return;
	}
	if (call->scan.messages != 1 ||
	    rpc_frame_next(call->req.data, call->req.len, c->lim.max_recv_msg, &msg, &len, &used) != 1) {
		refuse(c, call, RPC_UNIMPLEMENTED, "expected exactly one request message");
		return;
	}
	call->dispatched = true;
	c->ops->dispatch(c->owner, call, msg, len);
}

static int on_data_chunk(nghttp2_session *h2, uint8_t flags, int32_t id, const uint8_t *data, size_t len, void *user)
{
	struct rpc_sconn *c = user;
	struct rpc_scall *call = nghttp2_session_get_stream_user_data(h2, id);
	char msg[RPC_STATUS_MSG_MAX];
	int rc;

	if (!call || call->answered || call->finishing || call->dispatched)
		return 0;
	rc = rpc_frame_scan(&call->scan, data, len);
	if (rc == -EOPNOTSUPP) {
		refuse(c, call, RPC_UNIMPLEMENTED, "compressed messages are not supported");
	} else if (rc == ERR_TOOBIG) {
		snprintf(msg, sizeof(msg), "request message larger than the limit (%zu bytes)", c->lim.max_recv_msg);
		refuse(c, call, RPC_RESOURCE_EXHAUSTED, msg);
	} else if (rc < 0) {
		refuse(c, call, RPC_INTERNAL, "malformed message prefix");
	} else if (call->scan.messages > 1 || (call->scan.messages == 1 && !rpc_frame_scanner_idle(&call->scan))) {
		refuse(c, call, RPC_UNIMPLEMENTED, "expected exactly one request message");
	} else if (buf_append(&call->req, data, len) < 0) {
		refuse(c, call, RPC_RESOURCE_EXHAUSTED, "out of memory for the request");
	}
	return 0;
}

static int on_frame_recv(nghttp2_session *h2, const nghttp2_frame *frame, void *user)
{
	struct rpc_sconn *c = user;
	struct rpc_scall *call;

	switch (frame->hd.type) {
	case NGHTTP2_HEADERS:
	case NGHTTP2_DATA:
		call = nghttp2_session_get_stream_user_data(h2, frame->hd.stream_id);
		if (!call)
			return 0;
		if (frame->hd.type == NGHTTP2_HEADERS && frame->headers.cat == NGHTTP2_HCAT_REQUEST)
			headers_done(c, call);
		if (frame->hd.flags & NGHTTP2_FLAG_END_STREAM)
			request_done(c, call);
		return 0;
	case NGHTTP2_PING:
		if (frame->hd.flags & NGHTTP2_FLAG_ACK) {
			if (c->shutting && !c->goaway_sent && !memcmp(frame->ping.opaque_data, shutdown_ping, 8))
				c->goaway_at = c->now;
			c->ping_out = false;
		}
		return 0;
	default:
		return 0;
	}
}

static int on_frame_send(nghttp2_session *h2, const nghttp2_frame *frame, void *user)
{
	struct rpc_scall *call;

	if ((frame->hd.type != NGHTTP2_HEADERS && frame->hd.type != NGHTTP2_DATA) ||
	    !(frame->hd.flags & NGHTTP2_FLAG_END_STREAM))
		return 0;
	call = nghttp2_session_get_stream_user_data(h2, frame->hd.stream_id);
	if (!call)
		return 0;
	call->complete = true;
	/* We answered before the request ended (an error, or an early reply):
	 * ask the client to stop sending, without error (RFC 9113 §8.1). */
	if (!call->req_done)
		(void)nghttp2_submit_rst_stream(h2, NGHTTP2_FLAG_NONE, call->id, NGHTTP2_NO_ERROR);
	return 0;
}

static int on_stream_close(nghttp2_session *h2, int32_t id, uint32_t error_code, void *user)
{
	struct rpc_sconn *c = user;
	struct rpc_scall *call = nghttp2_session_get_stream_user_data(h2, id);

	if (!call)
		return 0;
	nghttp2_session_set_stream_user_data(h2, id, NULL);
	unlink_call(c, call);
	if (call->dispatched)
		c->ops->closed(c->owner, call, !(call->owner_done && call->complete));
	call_free(call);
	return 0;
}

int rpc_sconn_new(struct rpc_sconn **out, const struct rpc_sconn_limits *lim, const struct rpc_sconn_ops *ops,
                  void *owner, uint64_t now)
{
	struct rpc_sconn *c;
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
	if (c->lim.max_send_msg > RPC_FRAME_MAX_LIMIT)
		c->lim.max_send_msg = RPC_FRAME_MAX_LIMIT;
	c->ops = ops;
	c->owner = owner;
	c->now = c->last_rx = now;
	c->next_deadline = UINT64_MAX;
	if (nghttp2_session_callbacks_new(&cbs) != 0 || nghttp2_option_new(&opt) != 0)
		goto out;
	nghttp2_session_callbacks_set_on_begin_headers_callback(cbs, on_begin_headers);
	nghttp2_session_callbacks_set_on_header_callback(cbs, on_header);
	nghttp2_session_callbacks_set_on_frame_recv_callback(cbs, on_frame_recv);
	nghttp2_session_callbacks_set_on_data_chunk_recv_callback(cbs, on_data_chunk);
	nghttp2_session_callbacks_set_on_frame_send_callback(cbs, on_frame_send);
	nghttp2_session_callbacks_set_on_stream_close_callback(cbs, on_stream_close);
	/* We never push; the peer cannot reserve streams. */
	nghttp2_option_set_max_reserved_remote_streams(opt, 0);
	rpc_h2_mem(&mem);
	if (nghttp2_session_server_new3(&c->h2, cbs, c, opt, &mem) != 0)
		goto out;
	nghttp2_settings_entry iv[] = {
		{ NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS, lim->max_streams },
		{ NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE, lim->stream_window },
		{ NGHTTP2_SETTINGS_MAX_HEADER_LIST_SIZE, SCONN_MAX_HEADER_BYTES },
		{ NGHTTP2_SETTINGS_ENABLE_PUSH, 0 },
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
	rpc_sconn_free(c);
	return rc;
}

void rpc_sconn_free(struct rpc_sconn *c)
{
	struct rpc_scall *call;

	if (!c)
		return;
	while ((call = c->calls)) {
		unlink_call(c, call);
		if (c->h2)
			nghttp2_session_set_stream_user_data(c->h2, call->id, NULL);
		if (call->dispatched)
			c->ops->closed(c->owner, call, !(call->owner_done && call->complete));
		call_free(call);
	}
	nghttp2_session_del(c->h2);
	mem_free(c);
}

int rpc_sconn_recv(struct rpc_sconn *c, const uint8_t *data, size_t len, uint64_t now)
{
	ssize_t n;

	c->now = now;
	c->last_rx = now;
	if (c->fatal)
		return ERR_PROTO;
	n = nghttp2_session_mem_recv(c->h2, data, len);
	if (n < 0) {
		c->fatal = true;
		return ERR_PROTO;
	}
	return 0;
}

int rpc_sconn_pull(struct rpc_sconn *c, const uint8_t **data, size_t *len)
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

static void send_final_goaway(struct rpc_sconn *c)
{
	c->goaway_sent = true;
	(void)nghttp2_submit_goaway(c->h2, NGHTTP2_FLAG_NONE, nghttp2_session_get_last_proc_stream_id(c->h2),
	                            NGHTTP2_NO_ERROR, NULL, 0);
}

bool rpc_sconn_tick(struct rpc_sconn *c, uint64_t now)
{
	c->now = now;
	if (c->next_deadline <= now) {
		uint64_t next = UINT64_MAX;
		for (struct rpc_scall *call = c->calls; call; call = call->next) {
			if (!call->deadline || call->answered || call->complete)
				continue;
			if (call->deadline > now) {
				if (call->deadline < next)
					next = call->deadline;
				continue;
			}
			call->deadline = 0;
			if (call->started) {
				/* Data already flowed: a reset is the only clean end. */
				call->answered = true;
				(void)nghttp2_submit_rst_stream(c->h2, NGHTTP2_FLAG_NONE, call->id, NGHTTP2_CANCEL);
			} else {
				call->finishing = true;
				call->fin_code = RPC_DEADLINE_EXCEEDED;
				snprintf(call->fin_msg, sizeof(call->fin_msg), "deadline exceeded");
				answer_headers_only(c, call, 200, RPC_DEADLINE_EXCEEDED, call->fin_msg);
			}
		}
		c->next_deadline = next;
	}
	if (c->shutting && !c->goaway_sent && now >= c->goaway_at)
		send_final_goaway(c);
	if (c->lim.keepalive_ms) {
		if (c->ping_out) {
			if (now >= c->ping_sent + c->lim.keepalive_timeout_ms)
				return false;
		} else if (now >= c->last_rx + c->lim.keepalive_ms) {
			uint8_t opaque[8] = { 'k', 'e', 'e', 'p', 'a', 'l', 'v', 0 };
			if (nghttp2_submit_ping(c->h2, NGHTTP2_FLAG_NONE, opaque) == 0) {
				c->ping_out = true;
				c->ping_sent = now;
			}
		}
	}
	return !c->fatal;
}

uint64_t rpc_sconn_next_event(const struct rpc_sconn *c)
{
	uint64_t next = c->next_deadline;

	if (c->shutting && !c->goaway_sent && c->goaway_at < next)
		next = c->goaway_at;
	if (c->lim.keepalive_ms) {
		uint64_t k = c->ping_out ? c->ping_sent + c->lim.keepalive_timeout_ms : c->last_rx + c->lim.keepalive_ms;
		if (k < next)
			next = k;
	}
	return next;
}

void rpc_sconn_shutdown(struct rpc_sconn *c, uint64_t now)
{
	if (c->shutting)
		return;
	c->shutting = true;
	c->goaway_at = now + SCONN_GOAWAY_GRACE_MS;
	/* RFC 9113 §6.8: a GOAWAY with the highest stream id first, so streams
	 * already in flight to us are still accepted; the final one after a
	 * round trip names the last stream we will process. */
	if (nghttp2_submit_shutdown_notice(c->h2) != 0 || nghttp2_submit_ping(c->h2, NGHTTP2_FLAG_NONE, shutdown_ping) != 0)
		send_final_goaway(c);
}

void rpc_sconn_cancel_all(struct rpc_sconn *c)
{
	for (struct rpc_scall *call = c->calls; call; call = call->next) {
		if (call->complete)
			continue;
		call->answered = true;
		(void)nghttp2_submit_rst_stream(c->h2, NGHTTP2_FLAG_NONE, call->id, NGHTTP2_CANCEL);
	}
	if (!c->goaway_sent)
		send_final_goaway(c);
}

bool rpc_sconn_done(const struct rpc_sconn *c)
{
	if (c->fatal)
		return !nghttp2_session_want_write(c->h2);
	return !nghttp2_session_want_read(c->h2) && !nghttp2_session_want_write(c->h2);
}

size_t rpc_sconn_calls(const struct rpc_sconn *c)
{
	return c->ncalls;
}

const char *rpc_sconn_call_path(const struct rpc_scall *call)
{
	return call->path;
}

const char *rpc_sconn_call_authority(const struct rpc_scall *call)
{
	return call->authority;
}

const struct rpc_meta *rpc_sconn_call_meta(const struct rpc_scall *call)
{
	return &call->meta;
}

uint64_t rpc_sconn_call_deadline(const struct rpc_scall *call)
{
	return call->deadline;
}

void rpc_sconn_call_set_owner(struct rpc_scall *call, void *data)
{
	call->owner_data = data;
}

void *rpc_sconn_call_owner(const struct rpc_scall *call)
{
	return call->owner_data;
}
