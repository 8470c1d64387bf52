/* pharos-reality client: see client_main.h. */
#include "reality/client_main.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <sodium.h>

#include "lib/addr.h"
#include "lib/buf.h"
#include "lib/log.h"
#include "lib/mem.h"
#include "lib/text.h"
#include "reality/reality_client.h"
#include "reality/vision.h"
#include "reality/vless.h"
#include "reality/vless_link.h"
#include "reality/xudp.h"

#define DEFAULT_LISTEN     "127.0.0.1:1080"
#define MAX_CONNS          1024
#define DIAL_TIMEOUT_MS    10000
#define HANDSHAKE_MS       15000
#define REQUEST_MS         10000
#define FIRST_PAYLOAD_MS   500    /* Xray waits this long to send the header with data */
#define IDLE_MS            300000
#define HTTP_HEADER_MAX    8192
#define RBUF_MAX           (4 * TLS_MAX_RECORD)
#define OUT_MAX            (4 * 1024 * 1024)
#define XUDP_IN_MAX        (256 * 1024)

struct client_cfg {
	struct vless_link link;
	union endpoint listen;
};

struct client_ctx {
	const struct client_cfg *cfg;
	atomic_uint conns;
	volatile sig_atomic_t *stop;
};

/* One proxied connection. */
struct conn {
	struct client_ctx *ctx;
	int local, remote;
	bool socks;                       /* else HTTP CONNECT */
	struct vless_addr dst;
	struct reality_client tls;
	struct buf rbuf;                  /* bytes from the server not yet used */
	struct buf out;                   /* bytes for the server */
	uint8_t pending[HTTP_HEADER_MAX]; /* local bytes read past an HTTP header */
	size_t pending_len;
	struct vision_traffic vt;
	struct vision_pad vp;
	struct vision_unpad vu;
	uint8_t resp[VLESS_RESPONSE_MAX]; /* the VLESS response header, while partial */
	size_t resp_len;
	bool resp_done;
	bool udp;                         /* a SOCKS5 UDP association (XUDP) */
	int udp_fd;
	struct sockaddr_storage udp_peer; /* the local client's UDP address */
	socklen_t udp_peer_len;
	bool xudp_started;                /* the first (new) frame is out */
	struct buf xudp_in;               /* XUDP bytes from the server, while partial */
	uint8_t xudp_frame[XUDP_FRAME_MAX];
	uint8_t up_in[VISION_BUF_SIZE];                          /* local bytes to frame */
	uint8_t up_out[VLESS_REQUEST_MAX + 4 * VISION_BUF_SIZE]; /* header, frames */
	uint8_t unpadded[TLS_MAX_INNER];                         /* a record's content after Vision */
	uint8_t down[TLS_MAX_INNER];
};

/* ---- socket helpers ---- */

static int wait_fd(int fd, short events, int timeout_ms)
{
	struct pollfd p = {.fd = fd, .events = events};
	int rc;

	do
		rc = poll(&p, 1, timeout_ms);
	while (rc < 0 && errno == EINTR);
	if (rc < 0)
		return -errno;
	return rc == 0 ? -ETIMEDOUT : 0;
}

/* Moves all of p[0..len) through fd: sends it, or (reading) waits up to
 * REQUEST_MS for each piece; a read EOF is -ECONNRESET. */
static int xfer_all(int fd, uint8_t *p, size_t len, bool reading)
{
	while (len > 0) {
		int rc = reading ? wait_fd(fd, POLLIN, REQUEST_MS) : 0;
		if (rc < 0)
			return rc;
		ssize_t n = reading ? read(fd, p, len) : send(fd, p, len, MSG_NOSIGNAL);
		if (n == 0 && reading)
			return -ECONNRESET;
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

static int send_all(int fd, const uint8_t *p, size_t len)
{
	return xfer_all(fd, (uint8_t *)p, len, false);
}

static int read_exact(int fd, uint8_t *p, size_t len)
{
	return xfer_all(fd, p, len, true);
}

static int flush_out(struct conn *c)
{
	int rc = send_all(c->remote, c->out.data, c->out.len);
	buf_reset(&c->out);
	return rc;
}

static int dial(const char *host, uint16_t port, int *out_fd)
{
	struct addrinfo hints = {.ai_socktype = SOCK_STREAM, .ai_flags = AI_NUMERICSERV}, *res = NULL, *ai;
	char portstr[8];
	int rc, fd = -1;

	*out_fd = -1;
	snprintf(portstr, sizeof(portstr), "%u", (unsigned)port);
	rc = getaddrinfo(host, portstr, &hints, &res);
	if (rc != 0)
		return -EHOSTUNREACH;
	rc = -ECONNREFUSED;
	for (ai = res; ai; ai = ai->ai_next) {
		fd = socket(ai->ai_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
		if (fd < 0) {
			rc = -errno;
			continue;
		}
		if (connect(fd, ai->ai_addr, ai->ai_addrlen) < 0 && errno != EINPROGRESS) {
			rc = -errno;
		} else if ((rc = wait_fd(fd, POLLOUT, DIAL_TIMEOUT_MS)) == 0) {
			int err = 0;
			socklen_t el = sizeof(err);
			getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &el);
			rc = -err;
		}
		if (rc == 0)
			break;
		close(fd);
		fd = -1;
	}
	freeaddrinfo(res);
	if (fd < 0)
		return rc;
	int one = 1;
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK);
	*out_fd = fd;
	return 0;
}

/* ---- the local side: SOCKS5 and HTTP CONNECT requests ---- */

enum { SOCKS_VER = 5, SOCKS_CMD_CONNECT = 1, SOCKS_CMD_UDP = 3, SOCKS_ATYP_V4 = 1, SOCKS_ATYP_NAME = 3, SOCKS_ATYP_V6 = 4 };
enum { SOCKS_OK = 0, SOCKS_FAIL = 1, SOCKS_REFUSED = 5, SOCKS_BAD_CMD = 7, SOCKS_BAD_ATYP = 8 };

static void socks_reply(int fd, uint8_t code)
{
	uint8_t r[10] = {SOCKS_VER, code, 0, SOCKS_ATYP_V4};
	(void)send_all(fd, r, sizeof(r));
}

static int socks_request(struct conn *c)
{
	uint8_t h[4], methods[255], b[256];
	bool noauth = false;
	int rc;

	/* The version byte was read by the caller. */
	rc = read_exact(c->local, h + 1, 1);
	if (rc == 0)
		rc = read_exact(c->local, methods, h[1]);
	if (rc < 0)
		return rc;
	for (unsigned i = 0; i < h[1]; i++)
		noauth |= methods[i] == 0;
	b[0] = SOCKS_VER;
	b[1] = noauth ? 0 : 0xff;
	if ((rc = send_all(c->local, b, 2)) < 0 || !noauth)
		return rc < 0 ? rc : -EPROTO;
	if ((rc = read_exact(c->local, h, 4)) < 0)
		return rc;
	if (h[0] != SOCKS_VER || h[2] != 0) {
		socks_reply(c->local, SOCKS_FAIL);
		return -EPROTO;
	}
	switch (h[3]) {
	case SOCKS_ATYP_V4:
		c->dst.atyp = VLESS_ATYP_IPV4;
		rc = read_exact(c->local, c->dst.bytes, 4);
		break;
	case SOCKS_ATYP_V6:
		c->dst.atyp = VLESS_ATYP_IPV6;
		rc = read_exact(c->local, c->dst.bytes, 16);
		break;
	case SOCKS_ATYP_NAME:
		c->dst.atyp = VLESS_ATYP_DOMAIN;
		rc = read_exact(c->local, &c->dst.len, 1);
		if (rc == 0 && c->dst.len == 0)
			rc = -EPROTO;
		if (rc == 0)
			rc = read_exact(c->local, c->dst.bytes, c->dst.len);
		c->dst.bytes[c->dst.len] = '\0';
		break;
	default:
		socks_reply(c->local, SOCKS_BAD_ATYP);
		return -EPROTO;
	}
	if (rc == 0)
		rc = read_exact(c->local, b, 2);
	if (rc < 0)
		return rc;
	c->dst.port = (uint16_t)(b[0] << 8 | b[1]);
	if (h[1] == SOCKS_CMD_UDP) {
		/* The address is where the client will send from; we take the
		 * first datagram's source instead (NAT-proof, and loopback only). */
		c->udp = true;
		memset(&c->dst, 0, sizeof(c->dst));
		return 0;
	}
	if (h[1] != SOCKS_CMD_CONNECT) {
		socks_reply(c->local, SOCKS_BAD_CMD); /* BIND is not offered */
		return -EOPNOTSUPP;
	}
	return 0;
}

static void http_reply(int fd, const char *status)
{
	char r[160];
	int n = snprintf(r, sizeof(r), "HTTP/1.1 %s\r\nConnection: close\r\nContent-Length: 0\r\n\r\n", status);
	(void)send_all(fd, (const uint8_t *)r, (size_t)n);
}

/* "host:port" or "[v6]:port" of a CONNECT request line into c->dst. */
static int http_target(struct conn *c, const char *t, size_t n)
{
	char host[VLESS_DOMAIN_MAX + 1];
	const char *colon = NULL;
	size_t hl;
	unsigned port = 0;

	for (size_t i = n; i > 0; i--)
		if (t[i - 1] == ':') {
			colon = t + i - 1;
			break;
		}
	if (!colon || colon == t || colon + 1 == t + n || (size_t)(t + n - colon - 1) > 5)
		return -EINVAL;
	for (const char *p = colon + 1; p < t + n; p++) {
		if (*p < '0' || *p > '9')
			return -EINVAL;
		port = port * 10 + (unsigned)(*p - '0');
	}
	hl = (size_t)(colon - t);
	if (t[0] == '[') {
		if (hl < 3 || t[hl - 1] != ']')
			return -EINVAL;
		t++;
		hl -= 2;
	}
	if (port == 0 || port > 65535 || hl == 0 || hl > VLESS_DOMAIN_MAX)
		return -EINVAL;
	memcpy(host, t, hl);
	host[hl] = '\0';
	c->dst.port = (uint16_t)port;
	if (inet_pton(AF_INET, host, c->dst.bytes) == 1) {
		c->dst.atyp = VLESS_ATYP_IPV4;
	} else if (inet_pton(AF_INET6, host, c->dst.bytes) == 1) {
		c->dst.atyp = VLESS_ATYP_IPV6;
	} else {
		c->dst.atyp = VLESS_ATYP_DOMAIN;
		c->dst.len = (uint8_t)hl;
		memcpy(c->dst.bytes, host, hl + 1);
	}
	return 0;
}

static int http_request(struct conn *c, uint8_t first)
{
	char h[HTTP_HEADER_MAX + 1], q[TEXT_QUOTE_BUF(64)];
	size_t len = 1;
	char *end = NULL;

	h[0] = (char)first;
	while (!end) {
		if (len == HTTP_HEADER_MAX) {
			http_reply(c->local, "431 Request Header Fields Too Large");
			return -E2BIG;
		}
		int rc = wait_fd(c->local, POLLIN, REQUEST_MS);
		if (rc < 0)
			return rc;
		ssize_t n = read(c->local, h + len, HTTP_HEADER_MAX - len);
		if (n <= 0)
			return n == 0 ? -ECONNRESET : -errno;
		len += (size_t)n;
		h[len] = '\0';
		end = strstr(h, "\r\n\r\n");
	}
	end += 4;
	c->pending_len = len - (size_t)(end - h);
	memcpy(c->pending, end, c->pending_len);
	char *sp1 = memchr(h, ' ', (size_t)(end - h)), *sp2 = sp1 ? memchr(sp1 + 1, ' ', (size_t)(end - sp1 - 1)) : NULL;
	if (!sp1 || !sp2 || (size_t)(sp1 - h) != 7 || memcmp(h, "CONNECT", 7) != 0) {
		log_info("http proxy: refused request %s: only CONNECT is served",
		         text_quote(q, 64, h, sp1 ? (size_t)(sp1 - h) : 16));
		http_reply(c->local, "405 Method Not Allowed\r\nAllow: CONNECT");
		return -EOPNOTSUPP;
	}
	if (http_target(c, sp1 + 1, (size_t)(sp2 - sp1 - 1)) < 0) {
		http_reply(c->local, "400 Bad Request");
		return -EINVAL;
	}
	return 0;
}

static void local_fail(struct conn *c, bool refused)
{
	if (c->socks)
		socks_reply(c->local, refused ? SOCKS_REFUSED : SOCKS_FAIL);
	else
		http_reply(c->local, "502 Bad Gateway");
}

/* A UDP socket on the listening address for an association; the reply
 * tells the client where it is. */
static int udp_open(struct conn *c)
{
	union endpoint ep = c->ctx->cfg->listen;
	socklen_t len = ep.sa.sa_family == AF_INET ? sizeof(ep.in4) : sizeof(ep.in6);
	uint8_t r[22] = {SOCKS_VER, SOCKS_OK, 0};
	size_t rlen;

	if (ep.sa.sa_family == AF_INET)
		ep.in4.sin_port = 0;
	else
		ep.in6.sin6_port = 0;
	c->udp_fd = socket(ep.sa.sa_family, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (c->udp_fd < 0 || bind(c->udp_fd, &ep.sa, len) < 0 || getsockname(c->udp_fd, &ep.sa, &len) < 0)
		return -errno;
	if (ep.sa.sa_family == AF_INET) {
		r[3] = SOCKS_ATYP_V4;
		memcpy(r + 4, &ep.in4.sin_addr, 4);
		memcpy(r + 8, &ep.in4.sin_port, 2);
		rlen = 10;
	} else {
		r[3] = SOCKS_ATYP_V6;
		memcpy(r + 4, &ep.in6.sin6_addr, 16);
		memcpy(r + 20, &ep.in6.sin6_port, 2);
		rlen = 22;
	}
	return send_all(c->local, r, rlen);
}

static void local_ok(struct conn *c)
{
	if (c->socks)
		socks_reply(c->local, SOCKS_OK);
	else
		(void)send_all(c->local, (const uint8_t *)"HTTP/1.1 200 Connection established\r\n\r\n", 39);
}

/* ---- the server side ---- */

/* REALITY handshake: REALITY_CLIENT_OURS, REALITY_CLIENT_NOT_OURS or < 0. */
static int handshake(struct conn *c)
{
	const struct vless_link *l = &c->ctx->cfg->link;
	struct reality_client_config rcfg = {.server_name = l->sni};
	size_t used;
	int rc;

	memcpy(rcfg.server_pub, l->pbk, sizeof(rcfg.server_pub));
	memcpy(rcfg.short_id, l->short_id, sizeof(rcfg.short_id));
	rc = reality_client_init(&c->tls, &rcfg, (uint32_t)time(NULL), NULL, NULL);
	if (rc == 0)
		rc = reality_client_hello(&c->tls, &c->out);
	if (rc == 0)
		rc = flush_out(c);
	while (rc == 0) {
		rc = wait_fd(c->remote, POLLIN, HANDSHAKE_MS);
		if (rc < 0 || (rc = buf_reserve(&c->rbuf, TLS_MAX_RECORD)) < 0)
			break;
		ssize_t n = read(c->remote, c->rbuf.data + c->rbuf.len, c->rbuf.cap - c->rbuf.len);
		if (n <= 0) {
			rc = n == 0 ? -ECONNRESET : -errno;
			break;
		}
		buf_advance(&c->rbuf, (size_t)n);
		rc = reality_client_handshake(&c->tls, c->rbuf.data, c->rbuf.len, &used, &c->out);
		buf_consume(&c->rbuf, used);
		if (c->out.len) {
			int src = flush_out(c);
			if (rc >= 0 && src < 0)
				rc = src;
		}
	}
	return rc;
}

/* Frames in[0..n) for the server (Vision padding while it lasts), after
 * hdr[0..hdr_len) (the VLESS request header, first write only), and sends
 * it in records. */
static int send_up(struct conn *c, const uint8_t *hdr, size_t hdr_len, const uint8_t *in, size_t n)
{
	size_t framed = n;
	int rc;

	if (hdr_len)
		memcpy(c->up_out, hdr, hdr_len);
	if (c->ctx->cfg->link.vision) {
		vision_filter(&c->vt, in, n);
		rc = vision_pad_write(&c->vp, &c->vt, in, n, c->up_out + hdr_len, sizeof(c->up_out) - hdr_len, &framed);
		if (rc < 0)
			return rc;
	} else if (in != c->up_out + hdr_len) {
		memmove(c->up_out + hdr_len, in, n);
	}
	rc = reality_client_write(&c->tls, c->up_out, hdr_len + framed, &c->out);
	return rc < 0 ? rc : flush_out(c);
}

/* A SOCKS5 UDP request datagram (RFC 1928 §7) from the local client in
 * c->up_in[0..n): its destination into *dst, its payload offset into *off.
 * Fragments (FRAG != 0) are not supported and dropped, as most servers do. */
static int socks_udp_parse(const uint8_t *b, size_t n, struct vless_addr *dst, size_t *off)
{
	size_t at = 4, alen;

	if (n < 4 || b[0] || b[1] || b[2])
		return -EINVAL;
	memset(dst, 0, sizeof(*dst));
	switch (b[3]) {
	case SOCKS_ATYP_V4:
		dst->atyp = VLESS_ATYP_IPV4;
		alen = 4;
		break;
	case SOCKS_ATYP_V6:
		dst->atyp = VLESS_ATYP_IPV6;
		alen = 16;
		break;
	case SOCKS_ATYP_NAME:
		if (n < 5 || b[4] == 0)
			return -EINVAL;
		dst->atyp = VLESS_ATYP_DOMAIN;
		dst->len = b[4];
		alen = b[4];
		at++;
		break;
	default:
		return -EINVAL;
	}
	if (n < at + alen + 2)
		return -EINVAL;
	memcpy(dst->bytes, b + at, alen);
	dst->port = (uint16_t)(b[at + alen] << 8 | b[at + alen + 1]);
	*off = at + alen + 2;
	return 0;
}

/* Reads one datagram from the local client's UDP socket and makes it an
 * XUDP frame in c->xudp_frame. 1 with *frame_len, 0 if it was dropped. */
static int udp_take(struct conn *c, size_t *frame_len)
{
	struct sockaddr_storage from;
	socklen_t from_len = sizeof(from);
	struct vless_addr dst;
	size_t off;
	ssize_t n = recvfrom(c->udp_fd, c->up_in, sizeof(c->up_in), MSG_TRUNC, (struct sockaddr *)&from, &from_len);

	if (n < 0)
		return errno == EINTR || errno == EAGAIN ? 0 : -errno;
	if ((size_t)n > sizeof(c->up_in) || socks_udp_parse(c->up_in, (size_t)n, &dst, &off) < 0 ||
	    (size_t)n == off || (size_t)n - off > XUDP_MAX_PAYLOAD)
		return 0;
	/* Replies go to whoever sent the first datagram; the socket is on
	 * loopback, reachable from this host only. */
	if (!c->udp_peer_len) {
		memcpy(&c->udp_peer, &from, from_len);
		c->udp_peer_len = from_len;
	}
	if (xudp_encode(!c->xudp_started, &dst, c->up_in + off, (size_t)n - off, c->xudp_frame,
	                sizeof(c->xudp_frame), frame_len) < 0)
		return 0;
	c->xudp_started = true;
	c->dst = dst;
	return 1;
}

/* Sends the VLESS request header with the first payload (waited for up to
 * FIRST_PAYLOAD_MS, as Xray does), Vision-framed when the flow says so. A
 * UDP association asks for Mux (command 3) and speaks XUDP. */
static int send_request(struct conn *c)
{
	const struct vless_link *l = &c->ctx->cfg->link;
	struct vless_request req = {.cmd = VLESS_CMD_TCP, .dst = c->dst};
	uint8_t hdr[VLESS_REQUEST_MAX];
	const uint8_t *first = c->up_in;
	size_t hdr_len, first_len = c->pending_len;
	int rc;

	memcpy(req.uuid, l->uuid, VLESS_UUID_LEN);
	if (l->vision)
		strcpy(req.flow, VLESS_FLOW_VISION);
	if (c->udp) {
		req.cmd = VLESS_CMD_MUX;
		memset(&req.dst, 0, sizeof(req.dst));
		first_len = 0;
		first = c->xudp_frame;
		if (wait_fd(c->udp_fd, POLLIN, FIRST_PAYLOAD_MS) == 0 && (rc = udp_take(c, &first_len)) < 0)
			return rc;
	} else {
		memcpy(c->up_in, c->pending, first_len);
		if (!first_len && wait_fd(c->local, POLLIN, FIRST_PAYLOAD_MS) == 0) {
			ssize_t n = read(c->local, c->up_in, VISION_MAX_CONTENT);
			if (n < 0)
				return -errno;
			first_len = (size_t)n; /* 0: EOF, noticed again by the relay loop */
		}
	}
	rc = vless_request_encode(&req, hdr, sizeof(hdr), &hdr_len);
	return rc < 0 ? rc : send_up(c, hdr, hdr_len, first, first_len);
}

/* Local bytes to the server. 0, 1 at EOF, < 0. */
static int uplink(struct conn *c)
{
	bool vision = c->ctx->cfg->link.vision && c->vp.padding;
	uint8_t *in = vision ? c->up_in : c->up_out;
	ssize_t n = read(c->local, in, vision ? VISION_MAX_CONTENT : sizeof(c->up_out));
	int rc;

	if (n < 0)
		return errno == EINTR ? 0 : -errno;
	if (n == 0) {
		rc = reality_client_close(&c->tls, &c->out);
		if (rc == 0)
			rc = flush_out(c);
		shutdown(c->remote, SHUT_WR);
		return rc < 0 ? rc : 1;
	}
	return send_up(c, NULL, 0, in, (size_t)n);
}

static int udp_uplink(struct conn *c)
{
	size_t n;
	int rc = udp_take(c, &n);
	return rc <= 0 ? rc : send_up(c, NULL, 0, c->xudp_frame, n);
}

/* XUDP frames from the server become SOCKS5 UDP reply datagrams. */
static int udp_deliver(struct conn *c, const uint8_t *data, size_t len)
{
	struct xudp_packet p;
	size_t used, at = 0;
	int rc = buf_append(&c->xudp_in, data, len);

	while (rc == 0 && (rc = xudp_parse(c->xudp_in.data + at, c->xudp_in.len - at, &p, &used)) == 1) {
		const struct vless_addr *src = p.has_addr ? &p.addr : &c->dst;
		uint8_t *d = c->down;
		size_t alen = src->atyp == VLESS_ATYP_IPV4 ? 4 : src->atyp == VLESS_ATYP_IPV6 ? 16 : src->len, o = 4;

		at += used;
		rc = 0;
		if (!p.data || p.keepalive || !c->udp_peer_len || 4 + 1 + alen + 2 + p.len > sizeof(c->down))
			continue;
		d[0] = d[1] = d[2] = 0;
		d[3] = src->atyp == VLESS_ATYP_IPV4 ? SOCKS_ATYP_V4 : src->atyp == VLESS_ATYP_IPV6 ? SOCKS_ATYP_V6
		                                                                                   : SOCKS_ATYP_NAME;
		if (src->atyp == VLESS_ATYP_DOMAIN)
			d[o++] = src->len;
		memcpy(d + o, src->bytes, alen);
		o += alen;
		d[o++] = (uint8_t)(src->port >> 8);
		d[o++] = (uint8_t)src->port;
		memcpy(d + o, p.data, p.len);
		(void)sendto(c->udp_fd, d, o + p.len, 0, (struct sockaddr *)&c->udp_peer, c->udp_peer_len);
	}
	buf_consume(&c->xudp_in, at);
	return rc == XUDP_END ? 1 : rc;
}

/* One record's application data toward the local client: the VLESS
 * response header is stripped, Vision frames unpadded. */
static int deliver(struct conn *c, const uint8_t *data, size_t len)
{
	size_t used, olen;
	int rc;

	while (!c->resp_done && len) {
		size_t take = len < sizeof(c->resp) - c->resp_len ? len : sizeof(c->resp) - c->resp_len;
		memcpy(c->resp + c->resp_len, data, take);
		rc = vless_response_parse(c->resp, c->resp_len + take, &used);
		if (rc < 0)
			return rc;
		if (rc == 1) {
			size_t consumed = used - c->resp_len;
			data += consumed;
			len -= consumed;
			c->resp_done = true;
		} else {
			c->resp_len += take;
			data += take;
			len -= take;
			if (c->resp_len == sizeof(c->resp))
				return ERR_PARSE;
		}
	}
	if (!len)
		return 0;
	if (c->ctx->cfg->link.vision) {
		vision_unpad_feed(&c->vu, data, len, c->unpadded, &olen);
		vision_filter(&c->vt, c->unpadded, olen);
		data = c->unpadded;
		len = olen;
	}
	if (!len)
		return 0;
	return c->udp ? udp_deliver(c, data, len) : send_all(c->local, data, len);
}

/* Server bytes to the local client. 0, 1 at the end of the downlink, < 0.
 * *raw is set once Vision switched the downlink to direct TCP. */
static int downlink(struct conn *c, bool *raw)
{
	const uint8_t *data;
	size_t used, dlen;
	ssize_t n;
	int rc;

	if (*raw) {
		n = read(c->remote, c->down, sizeof(c->down));
		if (n < 0)
			return errno == EINTR ? 0 : -errno;
		return n == 0 ? 1 : send_all(c->local, c->down, (size_t)n);
	}
	if ((rc = buf_reserve(&c->rbuf, TLS_MAX_RECORD)) < 0)
		return rc;
	n = read(c->remote, c->rbuf.data + c->rbuf.len, c->rbuf.cap - c->rbuf.len);
	if (n < 0)
		return errno == EINTR ? 0 : -errno;
	if (n == 0)
		return 1; /* no close_notify: Xray just closes */
	buf_advance(&c->rbuf, (size_t)n);
	for (;;) {
		rc = reality_client_read(&c->tls, c->rbuf.data, c->rbuf.len, &used, &data, &dlen, &c->out);
		buf_consume(&c->rbuf, used);
		if (rc <= 0 || rc == REALITY_CLIENT_EOF)
			break;
		if (c->out.len && (rc = flush_out(c)) < 0)
			return rc;
		if (dlen && (rc = deliver(c, data, dlen)) < 0)
			return rc;
		if (c->vu.direct) {
			/* Vision direct (§5.3): everything after this record is raw TCP. */
			log_info("vision: the server switched the downlink to direct TCP");
			*raw = true;
			rc = send_all(c->local, c->rbuf.data, c->rbuf.len);
			buf_reset(&c->rbuf);
			return rc;
		}
	}
	return rc == REALITY_CLIENT_EOF ? 1 : rc;
}

/* The UDP association lives as long as its TCP control connection. */
static int relay_udp(struct conn *c)
{
	struct pollfd p[3] = {{.fd = c->local, .events = POLLIN}, {.fd = c->remote, .events = POLLIN},
	                      {.fd = c->udp_fd, .events = POLLIN}};
	bool raw = false;
	uint8_t sink[64];

	for (;;) {
		int r = poll(p, 3, IDLE_MS), rc;
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return r == 0 ? -ETIMEDOUT : -errno;
		if (p[0].revents && read(c->local, sink, sizeof(sink)) <= 0)
			return 0;
		if (p[2].revents && (rc = udp_uplink(c)) < 0)
			return rc;
		if (p[1].revents && (rc = downlink(c, &raw)) != 0)
			return rc < 0 ? rc : 0;
	}
}

static int relay(struct conn *c)
{
	struct pollfd p[2] = {{.fd = c->local, .events = POLLIN}, {.fd = c->remote, .events = POLLIN}};
	bool raw = false;
	int rc = 0;

	if (c->udp)
		return relay_udp(c);
	while (p[1].fd >= 0) {
		int r = poll(p, 2, IDLE_MS);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return r == 0 ? -ETIMEDOUT : -errno;
		if (p[0].revents) {
			rc = uplink(c);
			if (rc < 0)
				return rc;
			if (rc == 1)
				p[0].fd = -1; /* half-closed: keep receiving */
		}
		if (p[1].revents) {
			rc = downlink(c, &raw);
			if (rc < 0)
				return rc;
			if (rc == 1) {
				shutdown(c->local, SHUT_WR);
				p[1].fd = -1;
			}
		}
	}
	return 0;
}

static void conn_run(struct conn *c)
{
	const struct vless_link *l = &c->ctx->cfg->link;
	char dst[VLESS_DOMAIN_MAX + 8];
	uint8_t first;
	int rc;

	rc = read_exact(c->local, &first, 1);
	if (rc < 0)
		return;
	c->socks = first == SOCKS_VER;
	rc = c->socks ? socks_request(c) : http_request(c, first);
	if (rc < 0)
		return;
	if (c->udp)
		snprintf(dst, sizeof(dst), "udp association");
	else if (c->dst.atyp == VLESS_ATYP_DOMAIN)
		snprintf(dst, sizeof(dst), "%s:%u", (const char *)c->dst.bytes, (unsigned)c->dst.port);
	else
		snprintf(dst, sizeof(dst), "(%s):%u", c->dst.atyp == VLESS_ATYP_IPV4 ? "ipv4" : "ipv6",
		         (unsigned)c->dst.port);
	rc = dial(l->host, l->port, &c->remote);
	if (rc < 0) {
		log_warn("%s: cannot reach the server %s:%u: %s", dst, l->host, (unsigned)l->port, err_str(rc));
		local_fail(c, false);
		return;
	}
	rc = handshake(c);
	if (rc == REALITY_CLIENT_NOT_OURS) {
		log_warn("%s: the server %s:%u presented a certificate that is not its REALITY one (it fell back to "
		         "its decoy, or the path is intercepted): no proxy data sent",
		         dst, l->host, (unsigned)l->port);
		local_fail(c, true);
		return;
	}
	if (rc < 0) {
		log_warn("%s: REALITY handshake with %s:%u failed: %s", dst, l->host, (unsigned)l->port, err_str(rc));
		local_fail(c, false);
		return;
	}
	if (c->udp) {
		rc = udp_open(c);
		if (rc < 0) {
			log_warn("%s: cannot open a UDP socket: %s", dst, err_str(rc));
			local_fail(c, false);
			return;
		}
	} else {
		local_ok(c);
	}
	rc = send_request(c);
	if (rc == 0)
		rc = relay(c);
	if (rc < 0)
		log_info("%s: connection ended: %s", dst, err_str(rc));
}

static void *conn_thread(void *arg)
{
	struct conn *c = arg;
	struct client_ctx *ctx = c->ctx;

	conn_run(c);
	close(c->local);
	if (c->remote >= 0)
		close(c->remote);
	if (c->udp_fd >= 0)
		close(c->udp_fd);
	buf_fini(&c->xudp_in);
	reality_client_fini(&c->tls);
	buf_fini_secret(&c->rbuf);
	buf_fini_secret(&c->out);
	mem_free_secret(c, sizeof(*c));
	atomic_fetch_sub(&ctx->conns, 1);
	return NULL;
}

static void conn_start(struct client_ctx *ctx, int fd)
{
	pthread_attr_t attr;
	pthread_t th;
	struct conn *c;

	if (atomic_fetch_add(&ctx->conns, 1) >= MAX_CONNS || !(c = mem_zalloc(sizeof(*c)))) {
		atomic_fetch_sub(&ctx->conns, 1);
		close(fd);
		return;
	}
	c->ctx = ctx;
	c->local = fd;
	c->remote = -1;
	c->udp_fd = -1;
	buf_init(&c->xudp_in, XUDP_IN_MAX);
	buf_init(&c->rbuf, RBUF_MAX);
	buf_init(&c->out, OUT_MAX);
	vision_traffic_init(&c->vt);
	vision_pad_init(&c->vp, ctx->cfg->link.uuid);
	vision_unpad_init(&c->vu, ctx->cfg->link.uuid);
	pthread_attr_init(&attr);
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	if (pthread_create(&th, &attr, conn_thread, c) != 0) {
		close(fd);
		mem_free(c);
		atomic_fetch_sub(&ctx->conns, 1);
	}
	pthread_attr_destroy(&attr);
}

static int serve(struct client_ctx *ctx)
{
	const union endpoint *ep = &ctx->cfg->listen;
	char name[ENDPOINT_STRLEN];
	int one = 1, fd, rc;

	fd = socket(ep->sa.sa_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(fd, &ep->sa, ep->sa.sa_family == AF_INET ? sizeof(ep->in4) : sizeof(ep->in6)) < 0 ||
	    listen(fd, 128) < 0) {
		rc = -errno;
		close(fd);
		return rc;
	}
	if (endpoint_format(ep, name, sizeof(name)) < 0)
		strcpy(name, "?");
	log_info("listening on %s (SOCKS5 and HTTP CONNECT), server %s:%u%s", name, ctx->cfg->link.host,
	         (unsigned)ctx->cfg->link.port, ctx->cfg->link.vision ? ", flow xtls-rprx-vision" : "");
	while (!*ctx->stop) {
		if (wait_fd(fd, POLLIN, 500) < 0)
			continue;
		int c = accept4(fd, NULL, NULL, SOCK_CLOEXEC);
		if (c >= 0) {
			setsockopt(c, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
			conn_start(ctx, c);
		}
	}
	close(fd);
	return 0;
}

/* ---- configuration ---- */

static bool loopback(const union endpoint *ep)
{
	if (ep->sa.sa_family == AF_INET)
		return (ntohl(ep->in4.sin_addr.s_addr) >> 24) == 127;
	return ep->sa.sa_family == AF_INET6 && IN6_IS_ADDR_LOOPBACK(&ep->in6.sin6_addr);
}

static int set_listen(struct client_cfg *cfg, const char *s)
{
	char q[TEXT_QUOTE_BUF(64)];

	if (endpoint_parse(s, &cfg->listen) < 0 || !endpoint_port(&cfg->listen)) {
		fprintf(stderr, "listen address %s: expected ADDRESS:PORT, e.g. 127.0.0.1:1080 or [::1]:1080\n",
		        text_quote(q, 64, s, strlen(s)));
		return -EINVAL;
	}
	if (!loopback(&cfg->listen)) {
		fprintf(stderr, "listen address %s: must be a loopback address (the proxy has no authentication)\n",
		        text_quote(q, 64, s, strlen(s)));
		return -EINVAL;
	}
	return 0;
}

static int set_link(struct client_cfg *cfg, const char *s)
{
	char err[VLESS_LINK_ERR_MAX];

	if (vless_link_parse(&cfg->link, s, err, sizeof(err)) < 0) {
		fprintf(stderr, "link: %s\n", err);
		return -EINVAL;
	}
	return 0;
}

/* Appends "&key=value" percent-encoded, for a link built from JSON parts. */
static int link_param(struct buf *b, const char *key, const char *v)
{
	int rc = buf_printf(b, "&%s=", key);
	for (; rc == 0 && *v; v++) {
		unsigned char ch = (unsigned char)*v;
		rc = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') || ch == '-' ||
		             ch == '_' || ch == '.' || ch == '~'
		         ? buf_append(b, v, 1)
		         : buf_printf(b, "%%%02X", ch);
	}
	return rc;
}

static const char *const json_keys[] = {"listen", "link", "server", "id", "public_key", "server_name", "short_id",
                                        "flow"};

static int load_config(struct client_cfg *cfg, const char *path)
{
	char q[TEXT_QUOTE_BUF(64)];
	json_error_t jerr;
	json_t *root, *v;
	const char *key;
	struct buf link;
	int rc = -EINVAL;

	buf_init(&link, VLESS_LINK_MAX);
	root = json_load_file(path, JSON_REJECT_DUPLICATES, &jerr);
	if (!root || !json_is_object(root)) {
		fprintf(stderr, "%s:%d: %s\n", path, jerr.line, root ? "expected a JSON object" : jerr.text);
		goto out;
	}
	json_object_foreach(root, key, v) {
		size_t i;
		for (i = 0; i < sizeof(json_keys) / sizeof(json_keys[0]); i++)
			if (strcmp(key, json_keys[i]) == 0)
				break;
		if (i == sizeof(json_keys) / sizeof(json_keys[0]) || !json_is_string(v)) {
			fprintf(stderr, "%s: key %s: expected one of listen, link, server, id, public_key, server_name, "
			                "short_id, flow, each a string\n",
			        path, text_quote(q, 64, key, strlen(key)));
			goto out;
		}
	}
	v = json_object_get(root, "listen");
	if (v && set_listen(cfg, json_string_value(v)) < 0)
		goto out;
	v = json_object_get(root, "link");
	if (v) {
		if (json_object_get(root, "server")) {
			fprintf(stderr, "%s: give either \"link\" or \"server\" and its parts, not both\n", path);
			goto out;
		}
		rc = set_link(cfg, json_string_value(v));
		goto out;
	}
	const char *server = json_string_value(json_object_get(root, "server"));
	const char *id = json_string_value(json_object_get(root, "id"));
	const char *pbk = json_string_value(json_object_get(root, "public_key"));
	if (!server || !id || !pbk) {
		fprintf(stderr, "%s: needs \"link\", or \"server\" (HOST:PORT), \"id\" and \"public_key\"\n", path);
		goto out;
	}
	rc = buf_printf(&link, "vless://");
	for (const char *p = id; rc == 0 && *p; p++)
		rc = buf_printf(&link, "%%%02X", (unsigned char)*p);
	if (rc == 0)
		rc = buf_printf(&link, "@%s?security=reality", server);
	if (rc == 0)
		rc = link_param(&link, "pbk", pbk);
	static const char *const parts[][2] = {{"server_name", "sni"}, {"short_id", "sid"}, {"flow", "flow"}};
	for (size_t i = 0; rc == 0 && i < 3; i++) {
		const char *s = json_string_value(json_object_get(root, parts[i][0]));
		if (s)
			rc = link_param(&link, parts[i][1], s);
	}
	if (rc < 0) {
		fprintf(stderr, "%s: the settings are too long\n", path);
		goto out;
	}
	rc = set_link(cfg, (const char *)link.data);
out:
	json_decref(root);
	buf_fini(&link);
	return rc;
}

static volatile sig_atomic_t stop_flag;

static void on_signal(int sig)
{
	(void)sig;
	stop_flag = 1;
}

static void usage(FILE *f)
{
	fprintf(f, "usage: pharos-reality client (--config FILE | --link 'vless://...') [--listen ADDRESS:PORT]\n"
	           "  --config FILE    JSON: {\"link\": ...} or {\"server\", \"id\", \"public_key\", \"server_name\",\n"
	           "                   \"short_id\", \"flow\"}, optionally \"listen\"\n"
	           "  --link LINK      a vless:// share link with security=reality\n"
	           "  --listen A:P     loopback address of the SOCKS5 / HTTP CONNECT proxy (default "
	           DEFAULT_LISTEN ")\n");
}

int reality_client_main(int argc, char **argv)
{
	struct client_cfg cfg;
	struct client_ctx ctx = {.cfg = &cfg, .stop = &stop_flag};
	const char *config = NULL, *link = NULL, *listen_at = NULL;
	char q[TEXT_QUOTE_BUF(64)];
	struct sigaction sa = {.sa_handler = on_signal};

	for (int i = 1; i < argc; i++) {
		const char **slot = strcmp(argv[i], "--config") == 0   ? &config
		                    : strcmp(argv[i], "--link") == 0   ? &link
		                    : strcmp(argv[i], "--listen") == 0 ? &listen_at
		                                                        : NULL;
		if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0) {
			usage(stdout);
			return 0;
		}
		if (!slot || i + 1 == argc || *slot) {
			fprintf(stderr, "client: %s %s; valid: --config FILE, --link LINK, --listen ADDRESS:PORT, each once\n",
			        slot ? (*slot ? "repeated option" : "missing value after") : "unknown option",
			        text_quote(q, 64, argv[i], strlen(argv[i])));
			usage(stderr);
			return 2;
		}
		*slot = argv[++i];
	}
	if (!config == !link) {
		fprintf(stderr, "client: give exactly one of --config FILE and --link LINK\n");
		usage(stderr);
		return 2;
	}
	memset(&cfg, 0, sizeof(cfg));
	if (set_listen(&cfg, DEFAULT_LISTEN) < 0)
		return 1;
	if (config ? load_config(&cfg, config) < 0 : set_link(&cfg, link) < 0)
		return 1;
	if (listen_at && set_listen(&cfg, listen_at) < 0)
		return 1;
	if (sodium_init() < 0)
		return 1;
	log_setup("pharos-reality", LOG_LVL_INFO, false);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
	int rc = serve(&ctx);
	if (rc < 0) {
		fprintf(stderr, "client: cannot listen: %s\n", err_str(rc));
		return 1;
	}
	return 0;
}
