/* The device's UDP sockets: one IPv4 and one IPv6 socket per listening port
 * (a range of ports for entry pools, DESIGN.md §6.3), each bound to the
 * wildcard address with packet-info enabled so replies leave from the address
 * the peer used. Changes happen under the device write lock. */
#include "awg/devpriv.h"

#include <errno.h>
#include <netinet/in.h>
#include <netinet/udp.h>
#include <poll.h>
#include <string.h>
#include <sys/epoll.h>
#include <unistd.h>

#include "lib/log.h"

#define UDP_GSO_MAX_BYTES (65535 - 8 - 40)

#ifndef UDP_SEGMENT
#define UDP_SEGMENT 103
#endif
#ifndef UDP_GRO
#define UDP_GRO 104
#endif

static void tune_socket(int fd, uint32_t fwmark)
{
	int sz = 7 << 20, one = 1;
	/* FORCE variants need CAP_NET_ADMIN; fall back to the capped ones. */
	if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &sz, sizeof(sz)) < 0)
		(void)setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &sz, sizeof(sz));
	if (setsockopt(fd, SOL_SOCKET, SO_SNDBUFFORCE, &sz, sizeof(sz)) < 0)
		(void)setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &sz, sizeof(sz));
	if (fwmark)
		(void)setsockopt(fd, SOL_SOCKET, SO_MARK, &fwmark, sizeof(fwmark));
	(void)setsockopt(fd, SOL_UDP, UDP_GRO, &one, sizeof(one));
}

int device_udp_socket(int family, uint16_t port, uint32_t fwmark, uint16_t *bound_port)
{
	int fd = socket(family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	int one = 1;
	union endpoint ep;
	socklen_t len;
	memset(&ep, 0, sizeof(ep));
	if (family == AF_INET) {
		(void)setsockopt(fd, IPPROTO_IP, IP_PKTINFO, &one, sizeof(one));
		ep.in4.sin_family = AF_INET;
		ep.in4.sin_port = htons(port);
		len = sizeof(ep.in4);
	} else {
		(void)setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
		(void)setsockopt(fd, IPPROTO_IPV6, IPV6_RECVPKTINFO, &one, sizeof(one));
		ep.in6.sin6_family = AF_INET6;
		ep.in6.sin6_port = htons(port);
		len = sizeof(ep.in6);
	}
	tune_socket(fd, fwmark);
	if (bind(fd, &ep.sa, len) < 0) {
		int e = -errno;
		close(fd);
		return e;
	}
	if (getsockname(fd, &ep.sa, &len) == 0)
		*bound_port = ntohs(family == AF_INET ? ep.in4.sin_port : ep.in6.sin6_port);
	return fd;
}

static int open_one(struct device *dev, int family, uint16_t port, uint16_t *bound_port)
{
	if (dev->opts.udp_open)
		return dev->opts.udp_open(dev->opts.udp_open_ctx, family, port, bound_port);
	return device_udp_socket(family, port, dev->fwmark, bound_port);
}

void udp_close_all(struct device *dev)
{
	for (int i = 0; i < dev->nsocks; i++)
		if (dev->socks[i].fd >= 0)
			close(dev->socks[i].fd); /* also leaves the rx epoll set */
	dev->nsocks = 0;
}

/* Binds port..port_hi (port 0: one kernel-chosen port, for both families).
 * Sockets already bound to a port of the new range are kept (with their
 * traffic); only missing ones are opened. On failure nothing changes: the
 * sockets opened here are closed and the old set stays. */
int udp_rebind(struct device *dev, uint16_t port, uint16_t port_hi)
{
	struct sock_info socks[DEV_MAX_SOCKS];
	bool fresh[DEV_MAX_SOCKS] = { false }, kept[DEV_MAX_SOCKS] = { false };
	int n = 0, rc = 0;
	if (port_hi < port)
		port_hi = port;
	if ((unsigned)(port_hi - port + 1) * 2 > DEV_MAX_SOCKS)
		return ERR_TOOBIG;

	for (uint32_t p = port; p <= port_hi; p++) {
		int have4 = -1, have6 = -1;
		for (int i = 0; p && i < dev->nsocks; i++)
			if (dev->socks[i].port == p)
				*(dev->socks[i].family == AF_INET ? &have4 : &have6) = i;
		uint16_t bound = (uint16_t)p;
		if (have4 >= 0) {
			socks[n] = dev->socks[have4];
			kept[have4] = true;
			n++;
		} else {
			int fd4 = open_one(dev, AF_INET, (uint16_t)p, &bound);
			if (fd4 < 0) {
				rc = fd4;
				goto fail;
			}
			fresh[n] = true;
			socks[n++] = (struct sock_info){ .fd = fd4, .family = AF_INET, .port = bound };
		}
		if (have6 >= 0) {
			socks[n] = dev->socks[have6];
			kept[have6] = true;
			n++;
		} else {
			uint16_t bound6 = 0;
			int fd6 = open_one(dev, AF_INET6, bound, &bound6);
			if (fd6 >= 0) {
				fresh[n] = true;
				socks[n++] = (struct sock_info){ .fd = fd6, .family = AF_INET6, .port = bound6 };
			} else if (fd6 != -EAFNOSUPPORT && fd6 != -EADDRNOTAVAIL) {
				rc = fd6;
				goto fail;
			}
		}
		if (port == 0) {
			port = port_hi = bound;
			break;
		}
	}
	/* Commit: close what is no longer wanted, renumber the rest. */
	for (int i = 0; i < dev->nsocks; i++)
		if (!kept[i])
			close(dev->socks[i].fd); /* also leaves the rx epoll set */
	for (int i = 0; i < n; i++) {
		struct epoll_event ev = { .events = EPOLLIN, .data.u32 = (uint32_t)i };
		dev->socks[i] = socks[i];
		if (epoll_ctl(dev->rx_epoll, fresh[i] ? EPOLL_CTL_ADD : EPOLL_CTL_MOD, socks[i].fd, &ev) < 0)
			log_warn("epoll_ctl: %s", strerror(errno));
	}
	dev->nsocks = n;
	dev->listen_port = port;
	dev->listen_port_hi = port_hi;
	return 0;
fail:
	for (int i = 0; i < n; i++)
		if (fresh[i])
			close(socks[i].fd);
	return rc;
}

static int pick_socket(struct device *dev, const struct peer_endpoint *ep)
{
	int fam = ep->remote.sa.sa_family;
	if (ep->sock >= 0 && ep->sock < dev->nsocks && dev->socks[ep->sock].family == fam)
		return ep->sock;
	for (int i = 0; i < dev->nsocks; i++)
		if (dev->socks[i].family == fam)
			return i;
	return -1;
}

/* Sends n datagrams to one endpoint. With gso_size, every datagram but the
 * last has exactly that length and they leave as one UDP_SEGMENT send. Caller
 * holds the device read (or write) lock. */
int udp_send_raw(struct device *dev, const struct peer_endpoint *ep, const struct iovec *dgrams, unsigned n,
                 uint16_t gso_size)
{
	int s = pick_socket(dev, ep);
	if (s < 0)
		return -ENETUNREACH;
	int fd = dev->socks[s].fd;
	socklen_t alen = ep->remote.sa.sa_family == AF_INET ? sizeof(ep->remote.in4) : sizeof(ep->remote.in6);
	union {
		char buf[CMSG_SPACE(sizeof(struct in6_pktinfo)) + CMSG_SPACE(sizeof(uint16_t))];
		struct cmsghdr align;
	} cbuf[DEV_BATCH];
	struct mmsghdr msgs[DEV_BATCH];
	unsigned nmsg = 0;
	bool use_pktinfo = ep->local.family == ep->remote.sa.sa_family;

	for (unsigned i = 0; i < n;) {
		struct msghdr *m = &msgs[nmsg].msg_hdr;
		memset(m, 0, sizeof(*m));
		m->msg_name = (void *)&ep->remote.sa;
		m->msg_namelen = alen;
		unsigned take = 1;
		if (gso_size && n - i > 1) {
			/* One UDP GSO send is one UDP datagram to the kernel: at most
			 * 64 segments and a 16-bit length including the UDP and IPv6
			 * headers (the stricter of the two families). */
			unsigned max = UDP_GSO_MAX_BYTES / gso_size;
			take = n - i;
			if (take > 64)
				take = 64;
			if (take > max)
				take = max ? max : 1;
		}
		m->msg_iov = (struct iovec *)&dgrams[i];
		m->msg_iovlen = take;
		size_t clen = 0;
		m->msg_control = cbuf[nmsg].buf;
		if (use_pktinfo) {
			struct cmsghdr *c = (struct cmsghdr *)(cbuf[nmsg].buf);
			if (ep->local.family == AF_INET) {
				struct in_pktinfo pi = { 0 };
				memcpy(&pi.ipi_spec_dst, ep->local.bytes, 4);
				c->cmsg_level = IPPROTO_IP;
				c->cmsg_type = IP_PKTINFO;
				c->cmsg_len = CMSG_LEN(sizeof(pi));
				memcpy(CMSG_DATA(c), &pi, sizeof(pi));
				clen += CMSG_SPACE(sizeof(pi));
			} else {
				struct in6_pktinfo pi = { 0 };
				memcpy(&pi.ipi6_addr, ep->local.bytes, 16);
				c->cmsg_level = IPPROTO_IPV6;
				c->cmsg_type = IPV6_PKTINFO;
				c->cmsg_len = CMSG_LEN(sizeof(pi));
				memcpy(CMSG_DATA(c), &pi, sizeof(pi));
				clen += CMSG_SPACE(sizeof(pi));
			}
		}
		if (take > 1) {
			struct cmsghdr *c = (struct cmsghdr *)(cbuf[nmsg].buf + clen);
			c->cmsg_level = SOL_UDP;
			c->cmsg_type = UDP_SEGMENT;
			c->cmsg_len = CMSG_LEN(sizeof(uint16_t));
			memcpy(CMSG_DATA(c), &gso_size, sizeof(uint16_t));
			clen += CMSG_SPACE(sizeof(uint16_t));
		}
		m->msg_controllen = clen;
		if (!clen)
			m->msg_control = NULL;
		i += take;
		nmsg++;
		if (nmsg == DEV_BATCH || i == n) {
			unsigned done = 0;
			while (done < nmsg) {
				int r = sendmmsg(fd, msgs + done, nmsg - done, 0);
				if (r < 0) {
					if (errno == EINTR)
						continue;
					if (errno == EAGAIN || errno == ENOBUFS) {
						/* The socket buffer is full: wait for room (the
						 * sockets are non-blocking for the rx side's
						 * sake) rather than dropping what TCP above
						 * would only have to resend. Give up after
						 * 100 ms so a wedged path cannot stall us. */
						struct pollfd pf = { .fd = fd, .events = POLLOUT };
						if (poll(&pf, 1, 100) > 0)
							continue;
						break;
					}
					return -errno;
				}
				done += (unsigned)r;
			}
			nmsg = 0;
		}
	}
	return 0;
}
