/* Sockets and threads for the REALITY server: see server_io.h. */
#include "reality/server_io.h"

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "lib/log.h"
#include "reality/xudp.h"

#define IO_CHUNK (64 * 1024)

struct shared {
	const struct server_io_cfg *cfg;
	atomic_uint live;
};

struct conn_arg {
	struct shared *sh;
	int fd;
	union endpoint peer;
};

static uint64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static socklen_t sa_len(const struct sockaddr *sa)
{
	return sa->sa_family == AF_INET6 ? sizeof(struct sockaddr_in6) : sizeof(struct sockaddr_in);
}

/* Connect with a timeout; returns a blocking socket or a negative errno. */
static int dial(const struct sockaddr *sa, socklen_t len, int timeout_ms)
{
	int fd = socket(sa->sa_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return -errno;
	int rc = connect(fd, sa, len);
	if (rc < 0 && errno == EINPROGRESS) {
		struct pollfd p = {.fd = fd, .events = POLLOUT};
		int err = 0;
		socklen_t el = sizeof(err);
		rc = poll(&p, 1, timeout_ms);
		if (rc == 0) {
			rc = -1;
			errno = ETIMEDOUT;
		} else if (rc > 0 && getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &el) == 0 && err) {
			rc = -1;
			errno = err;
		} else if (rc > 0) {
			rc = 0;
		}
	}
	if (rc < 0) {
		int e = errno;
		close(fd);
		return -e;
	}
	int one = 1;
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK);
	return fd;
}

static int dial_target(const struct vless_addr *a, int timeout_ms)
{
	union endpoint e;
	memset(&e, 0, sizeof(e));
	if (a->atyp == VLESS_ATYP_IPV4) {
		e.in4.sin_family = AF_INET;
		e.in4.sin_port = htons(a->port);
		memcpy(&e.in4.sin_addr, a->bytes, 4);
		return dial(&e.sa, sizeof(e.in4), timeout_ms);
	}
	if (a->atyp == VLESS_ATYP_IPV6) {
		e.in6.sin6_family = AF_INET6;
		e.in6.sin6_port = htons(a->port);
		memcpy(&e.in6.sin6_addr, a->bytes, 16);
		return dial(&e.sa, sizeof(e.in6), timeout_ms);
	}
	struct addrinfo hints = {.ai_socktype = SOCK_STREAM}, *res = NULL;
	char port[8];
	snprintf(port, sizeof(port), "%u", a->port);
	if (getaddrinfo((const char *)a->bytes, port, &hints, &res) != 0 || !res)
		return -EHOSTUNREACH;
	int fd = -EHOSTUNREACH;
	for (struct addrinfo *ai = res; ai && fd < 0; ai = ai->ai_next)
		fd = dial(ai->ai_addr, ai->ai_addrlen, timeout_ms);
	freeaddrinfo(res);
	return fd;
}

static int write_all(int fd, const uint8_t *p, size_t len)
{
	while (len) {
		ssize_t n = send(fd, p, len, MSG_NOSIGNAL);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -errno;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

/* Writes a queue out and frees it: an idle connection holds no buffers
 * (glibc serves these sizes from its free lists, so this costs little). */
static int flush(int fd, struct buf *b)
{
	int rc = 0;
	if (b->len && fd >= 0)
		rc = write_all(fd, b->data, b->len);
	buf_fini(b);
	return rc;
}

/* Not ours: copy both ways until both directions have ended. */
/* The read buffer is taken after poll(2) returns and given back before the
 * next wait, so an idle connection holds none (memory per idle connection
 * is a target; glibc reuses the freed block at once). */
static uint8_t *io_buf_get(uint8_t **b)
{
	if (!*b)
		*b = malloc(IO_CHUNK);
	return *b;
}

static void io_buf_put(uint8_t **b)
{
	free(*b);
	*b = NULL;
}

static void relay_loop(int cfd, int dfd, bool c_eof, bool d_eof, uint8_t **tmpp)
{
	while (!c_eof || !d_eof) {
		struct pollfd p[2] = {{.fd = c_eof ? -1 : cfd, .events = POLLIN}, {.fd = d_eof ? -1 : dfd, .events = POLLIN}};
		io_buf_put(tmpp);
		if (poll(p, 2, -1) < 0) {
			if (errno == EINTR)
				continue;
			return;
		}
		uint8_t *tmp = io_buf_get(tmpp);
		if (!tmp)
			return;
		for (int i = 0; i < 2; i++) {
			if (!(p[i].revents & (POLLIN | POLLHUP | POLLERR)))
				continue;
			int from = i == 0 ? cfd : dfd, to = i == 0 ? dfd : cfd;
			ssize_t n = recv(from, tmp, IO_CHUNK, 0);
			if (n < 0 && errno == EINTR)
				continue;
			if (n < 0)
				return; /* reset: close both */
			if (n == 0) {
				shutdown(to, SHUT_WR);
				if (i == 0)
					c_eof = true;
				else
					d_eof = true;
				continue;
			}
			if (write_all(to, tmp, (size_t)n) < 0)
				return;
		}
	}
}

static void relay(int cfd, int dfd, bool c_eof, bool d_eof)
{
	uint8_t *tmp = NULL;
	relay_loop(cfd, dfd, c_eof, d_eof, &tmp);
	io_buf_put(&tmp);
}

/* UDP for VLESS cmd 2 (one destination, u16-length-prefixed datagrams)
 * and XUDP (cmd 3: Mux.Cool frames of session 0, a destination per frame).
 * One dual-stack datagram socket (IPv4 through mapped addresses), or an
 * IPv4 one where IPv6 is off. */
#define UDP_IDLE_MS (5 * 60 * 1000)

struct udp {
	bool xudp;
	int family;
	union endpoint dst; /* current destination */
	bool have_dst;
};

static int udp_open(struct udp *u)
{
	int zero = 0;
	int fd = socket(AF_INET6, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd >= 0 && setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &zero, sizeof(zero)) == 0) {
		u->family = AF_INET6;
		return fd;
	}
	if (fd >= 0)
		close(fd);
	fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	u->family = AF_INET;
	return fd < 0 ? -errno : fd;
}

/* A VLESS address as a sockaddr our socket can send to. */
static int udp_resolve(const struct udp *u, const struct vless_addr *a, union endpoint *e)
{
	memset(e, 0, sizeof(*e));
	if (a->atyp == VLESS_ATYP_DOMAIN) {
		struct addrinfo hints = {.ai_socktype = SOCK_DGRAM, .ai_family = u->family == AF_INET ? AF_INET : 0}, *res;
		char port[8];
		snprintf(port, sizeof(port), "%u", a->port);
		if (getaddrinfo((const char *)a->bytes, port, &hints, &res) != 0 || !res)
			return -EHOSTUNREACH;
		memcpy(e, res->ai_addr, res->ai_addrlen < sizeof(*e) ? res->ai_addrlen : sizeof(*e));
		freeaddrinfo(res);
	} else if (a->atyp == VLESS_ATYP_IPV4) {
		e->in4.sin_family = AF_INET;
		e->in4.sin_port = htons(a->port);
		memcpy(&e->in4.sin_addr, a->bytes, 4);
	} else if (a->atyp == VLESS_ATYP_IPV6) {
		e->in6.sin6_family = AF_INET6;
		e->in6.sin6_port = htons(a->port);
		memcpy(&e->in6.sin6_addr, a->bytes, 16);
	} else {
		return -EINVAL;
	}
	if (u->family == AF_INET6 && e->sa.sa_family == AF_INET) { /* to a v4-mapped address */
		struct sockaddr_in v4 = e->in4;
		memset(e, 0, sizeof(*e));
		e->in6.sin6_family = AF_INET6;
		e->in6.sin6_port = v4.sin_port;
		e->in6.sin6_addr.s6_addr[10] = 0xff;
		e->in6.sin6_addr.s6_addr[11] = 0xff;
		memcpy(&e->in6.sin6_addr.s6_addr[12], &v4.sin_addr, 4);
	}
	if (u->family == AF_INET && e->sa.sa_family != AF_INET)
		return -EAFNOSUPPORT;
	return 0;
}

/* Sends the whole datagrams queued in out_target; a partial one stays.
 * 0, or <0 to end the connection (malformed stream, an XUDP End frame). */
static int udp_flush(int fd, struct udp *u, struct buf *b)
{
	size_t at = 0;
	int rc = 0;
	while (at < b->len) {
		const uint8_t *data = NULL;
		size_t len = 0, used = 0;
		if (u->xudp) {
			struct vless_xudp_pkt pk;
			rc = vless_xudp_parse(b->data + at, b->len - at, &pk, &used);
			if (rc <= 0)
				break;
			rc = 0;
			if (pk.status == VLESS_XUDP_END) {
				rc = -ECONNRESET;
				break;
			}
			if (pk.has_dst) {
				u->have_dst = udp_resolve(u, &pk.dst, &u->dst) == 0;
				if (!u->have_dst)
					log_debug("reality: XUDP destination does not resolve; packets dropped");
			}
			if (pk.status != VLESS_XUDP_KEEPALIVE) {
				data = pk.data;
				len = pk.len;
			}
		} else {
			rc = vless_udp_frame_parse(b->data + at, b->len - at, &data, &len, &used);
			if (rc <= 0)
				break;
			rc = 0;
		}
		at += used;
		/* a datagram that cannot be sent is lost, as UDP allows */
		if (data && u->have_dst)
			(void)sendto(fd, data, len, MSG_NOSIGNAL, &u->dst.sa, sa_len(&u->dst.sa));
	}
	buf_consume(b, at);
	return rc < 0 ? rc : 0;
}

/* One datagram from the target, framed for the client into out[cap]. */
static int udp_frame_down(const struct udp *u, const union endpoint *from, const uint8_t *data, size_t len,
                          uint8_t *out, size_t cap, size_t *n)
{
	if (!u->xudp) {
		if (len > 0xffff || len + 2 > cap)
			return -EMSGSIZE;
		out[0] = (uint8_t)(len >> 8);
		out[1] = (uint8_t)len;
		memcpy(out + 2, data, len);
		*n = len + 2;
		return 0;
	}
	struct vless_addr src;
	memset(&src, 0, sizeof(src));
	if (from->sa.sa_family == AF_INET) {
		src.atyp = VLESS_ATYP_IPV4;
		src.port = ntohs(from->in4.sin_port);
		memcpy(src.bytes, &from->in4.sin_addr, 4);
	} else if (IN6_IS_ADDR_V4MAPPED(&from->in6.sin6_addr)) {
		src.atyp = VLESS_ATYP_IPV4;
		src.port = ntohs(from->in6.sin6_port);
		memcpy(src.bytes, &from->in6.sin6_addr.s6_addr[12], 4);
	} else {
		src.atyp = VLESS_ATYP_IPV6;
		src.port = ntohs(from->in6.sin6_port);
		memcpy(src.bytes, &from->in6.sin6_addr, 16);
	}
	/* a Keep frame naming the source: the shape of a client's Keep frame */
	return xudp_encode(false, &src, data, len, out, cap, n);
}

static void serve_loop(struct shared *sh, int cfd, uint8_t **tmpp)
{
	const struct server_io_cfg *cfg = sh->cfg;
	struct reality_conn c;
	int dfd, tfd = -1;
	bool c_eof = false, t_eof = false, is_udp = false;
	struct udp udp;
	memset(&udp, 0, sizeof(udp));

	dfd = dial(&cfg->dest.sa, sa_len(&cfg->dest.sa), cfg->dial_timeout_ms);
	if (dfd < 0) {
		log_warn("reality: dest unreachable (%s); closing the client", strerror(-dfd));
		return;
	}
	if (reality_conn_init(&c, &cfg->core, now_ms()) < 0) {
		reality_conn_fini(&c);
		close(dfd);
		return;
	}
	for (;;) {
		if (flush(dfd, &c.out_dest) < 0 || flush(cfd, &c.out_client) < 0)
			break;
		if (tfd >= 0 && (is_udp ? udp_flush(tfd, &udp, &c.out_target) : flush(tfd, &c.out_target)) < 0)
			break;
		if (c.state == REALITY_CONN_RELAY) {
			log_info("reality: not ours (%s): relaying to dest", reality_verdict_str(c.verdict));
			if (c_eof)
				shutdown(dfd, SHUT_WR);
			relay(cfd, dfd, c_eof, false);
			break;
		}
		if (c.state == REALITY_CONN_CLOSED)
			break;
		if (c.client_closed && !c_eof) {
			/* close_notify: the client's half is done; the target's
			 * answer may still be on its way */
			c_eof = true;
			if (tfd >= 0 && !is_udp)
				shutdown(tfd, SHUT_WR);
		}
		if (dfd >= 0 && c.state == REALITY_CONN_OPEN) {
			close(dfd); /* our handshake is complete (§3.6) */
			dfd = -1;
			buf_reset(&c.out_dest);
		}
		if (c.connect_wanted) {
			char who[VLESS_UUID_TEXT];
			const char *name = c.user->name[0] ? c.user->name : who;
			vless_uuid_format(who, c.user->uuid);
			if (c.req.cmd == VLESS_CMD_TCP) {
				tfd = dial_target(&c.req.dst, cfg->dial_timeout_ms);
			} else {
				is_udp = true;
				udp.xudp = c.req.cmd == VLESS_CMD_MUX;
				tfd = udp_open(&udp);
				if (tfd >= 0 && !udp.xudp) {
					int r = udp_resolve(&udp, &c.req.dst, &udp.dst);
					udp.have_dst = r == 0;
					if (r < 0) {
						close(tfd);
						tfd = r;
					}
				}
			}
			if (tfd < 0) {
				log_info("reality: user %s: target unreachable (%s)", name, strerror(-tfd));
				break;
			}
			log_info("reality: user %s connected to its target (%s%s, %s)", name,
			         c.req.cmd == VLESS_CMD_TCP ? "tcp" : udp.xudp ? "xudp" : "udp", c.vision ? ", vision" : "",
			         c.group == TLS_GROUP_X25519MLKEM768 ? "X25519MLKEM768" : "X25519");
			reality_conn_target_connected(&c);
			continue;
		}
		/* UDP has no end of its own: the client's ends it */
		if (c_eof && is_udp)
			break;
		if (c_eof && (t_eof || tfd < 0) && c.state == REALITY_CONN_OPEN)
			break;
		/* a client that ends before its handshake completes is gone;
		 * while we wait for dest, dest may still turn us into a pipe */
		if (c_eof && (c.state == REALITY_CONN_WAIT_FIN || c.state == REALITY_CONN_CLOSED))
			break;
		struct pollfd p[3] = {
			{.fd = c_eof ? -1 : cfd, .events = POLLIN},
			{.fd = dfd, .events = POLLIN},
			{.fd = t_eof ? -1 : tfd, .events = POLLIN},
		};
		io_buf_put(tmpp);
		int pr = poll(p, 3, is_udp ? UDP_IDLE_MS : -1);
		if (pr < 0 && errno == EINTR)
			continue;
		if (pr <= 0)
			break; /* error, or UDP idle too long */
		uint8_t *tmp = io_buf_get(tmpp);
		if (!tmp)
			break;
		int rc = 0;
		if (p[1].revents & (POLLIN | POLLHUP | POLLERR)) {
			ssize_t n = recv(dfd, tmp, IO_CHUNK, 0);
			if (n <= 0) {
				if (c.state == REALITY_CONN_READ_CH) {
					/* dest ended before we decided: we are a pipe */
					if (reality_conn_give_up(&c) < 0 || flush(cfd, &c.out_client) < 0)
						break;
					shutdown(cfd, SHUT_WR);
					relay(cfd, dfd, false, true);
					break;
				}
				/* dest closed before our handshake completed: mirror it */
				break;
			}
			rc = reality_conn_dest_data(&c, tmp, (size_t)n);
		}
		if (rc == 0 && (p[0].revents & (POLLIN | POLLHUP | POLLERR))) {
			ssize_t n = recv(cfd, tmp, IO_CHUNK, 0);
			if (n < 0 && errno != EINTR)
				break;
			if (n == 0) {
				c_eof = true;
				if (c.state == REALITY_CONN_READ_CH) {
					/* the client ended before we decided: a pipe too */
					shutdown(dfd, SHUT_WR);
					if (reality_conn_give_up(&c) < 0 || flush(cfd, &c.out_client) < 0)
						break;
					relay(cfd, dfd, true, false);
					break;
				}
				if (tfd >= 0)
					shutdown(tfd, SHUT_WR);
			} else if (n > 0) {
				rc = reality_conn_client_data(&c, tmp, (size_t)n);
			}
		}
		if (rc == 0 && tfd >= 0 && is_udp && (p[2].revents & POLLIN)) {
			union endpoint from;
			socklen_t fl = sizeof(from);
			size_t fn;
			/* the datagram in the upper half of tmp, its frame in the lower */
			ssize_t n = recvfrom(tfd, tmp + IO_CHUNK / 2, IO_CHUNK / 2, 0, &from.sa, &fl);
			if (n >= 0 && udp_frame_down(&udp, &from, tmp + IO_CHUNK / 2, (size_t)n, tmp, IO_CHUNK / 2, &fn) == 0)
				rc = reality_conn_target_data(&c, tmp, fn);
		} else if (rc == 0 && tfd >= 0 && (p[2].revents & (POLLIN | POLLHUP | POLLERR))) {
			ssize_t n = recv(tfd, tmp, IO_CHUNK, 0);
			if (n < 0 && errno != EINTR)
				break;
			if (n == 0) {
				t_eof = true;
				rc = reality_conn_target_eof(&c);
				if (rc == 0 && flush(cfd, &c.out_client) == 0)
					shutdown(cfd, SHUT_WR);
			} else if (n > 0) {
				rc = reality_conn_target_data(&c, tmp, (size_t)n);
			}
		}
		if (rc < 0)
			break;
	}
	if (dfd >= 0)
		close(dfd);
	if (tfd >= 0)
		close(tfd);
	reality_conn_fini(&c);
}

static void *conn_thread(void *p)
{
	struct conn_arg *a = p;
	uint8_t *tmp = NULL;
	serve_loop(a->sh, a->fd, &tmp);
	io_buf_put(&tmp);
	close(a->fd);
	atomic_fetch_sub(&a->sh->live, 1);
	free(a);
	return NULL;
}

int server_io_run(const struct server_io_cfg *cfg, volatile sig_atomic_t *stop)
{
	/* on the heap: connection threads may outlive this function */
	struct shared *shp = calloc(1, sizeof(*shp));
	int one = 1, rc;
	if (!shp)
		return -ENOMEM;
	struct shared sh_init = {.cfg = cfg};
	*shp = sh_init;
	atomic_init(&shp->live, 0);
	int lfd = socket(cfg->listen.sa.sa_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (lfd < 0) {
		rc = -errno;
		free(shp);
		return rc;
	}
	setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(lfd, &cfg->listen.sa, sa_len(&cfg->listen.sa)) < 0 || listen(lfd, 512) < 0) {
		rc = -errno;
		close(lfd);
		free(shp);
		return rc;
	}
	while (!*stop) {
		struct pollfd p = {.fd = lfd, .events = POLLIN};
		if (atomic_load(&shp->live) >= cfg->max_conns || poll(&p, 1, 500) <= 0) {
			if (atomic_load(&shp->live) >= cfg->max_conns)
				poll(NULL, 0, 50);
			continue;
		}
		struct conn_arg *a = calloc(1, sizeof(*a));
		if (!a)
			continue;
		socklen_t pl = sizeof(a->peer);
		a->sh = shp;
		a->fd = accept4(lfd, &a->peer.sa, &pl, SOCK_CLOEXEC);
		if (a->fd < 0) {
			free(a);
			continue;
		}
		setsockopt(a->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
		pthread_t t;
		pthread_attr_t at;
		pthread_attr_init(&at);
		pthread_attr_setdetachstate(&at, PTHREAD_CREATE_DETACHED);
		pthread_attr_setstacksize(&at, 256 * 1024);
		atomic_fetch_add(&shp->live, 1);
		if (pthread_create(&t, &at, conn_thread, a) != 0) {
			atomic_fetch_sub(&shp->live, 1);
			close(a->fd);
			free(a);
		}
		pthread_attr_destroy(&at);
	}
	close(lfd);
	/* running connections end with their peers; give them a moment */
	for (int i = 0; i < 40 && atomic_load(&shp->live); i++)
		poll(NULL, 0, 50);
	if (atomic_load(&shp->live))
		return -EBUSY; /* shp stays: threads still use it and cfg */
	free(shp);
	return 0;
}

void server_io_measure_dest(struct server_io_cfg *cfg)
{
	static const char *const cls[DEST_PROBE_CLASSES] = {"no ALPN", "http/1.1", "h2"};
	if (cfg->measure_window_ms <= 0)
		return;
	for (size_t i = 0; i < cfg->core.n_names; i++) {
		for (int k = 0; k < DEST_PROBE_CLASSES; k++) {
			struct dest_probe_result *r = &cfg->core.post_hs[i][k];
			char lens[DEST_PROBE_MAX * 7 + 1] = "";
			int rc = dest_probe_measure(&cfg->dest, cfg->core.names[i], k, cfg->dial_timeout_ms,
			                            cfg->measure_window_ms, r);
			if (rc < 0) {
				log_warn("reality: measuring dest for \"%s\" (%s) failed: %s", cfg->core.names[i], cls[k],
				         err_str(rc));
				continue;
			}
			for (size_t j = 0, o = 0; j < r->n; j++)
				o += (size_t)snprintf(lens + o, sizeof(lens) - o, " %u", r->len[j]);
			log_info("reality: dest sends %zu post-handshake record(s) for \"%s\" (%s):%s", r->n,
			         cfg->core.names[i], cls[k], lens);
		}
	}
}

int server_io_resolve_dest(struct server_io_cfg *cfg)
{
	struct addrinfo hints = {.ai_socktype = SOCK_STREAM}, *res = NULL;
	char port[8];
	if (!cfg->dest_host[0])
		return 0;
	snprintf(port, sizeof(port), "%u", cfg->dest_port);
	if (getaddrinfo(cfg->dest_host, port, &hints, &res) != 0 || !res)
		return -EHOSTUNREACH;
	memset(&cfg->dest, 0, sizeof(cfg->dest));
	memcpy(&cfg->dest, res->ai_addr,
	       res->ai_addrlen < sizeof(cfg->dest) ? res->ai_addrlen : sizeof(cfg->dest));
	freeaddrinfo(res);
	return 0;
}
