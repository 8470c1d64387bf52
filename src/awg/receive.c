/* Everything that arrives on a UDP socket. The rx thread classifies each
 * datagram (AmneziaWG, specs/awg.md §2.4), decrypts transport data in place
 * and writes it to the TUN device, and queues handshake messages for the
 * control thread, which processes them in handshake_process(). */
#include "awg/devpriv.h"

#include <errno.h>
#include <netinet/in.h>
#include <netinet/udp.h>
#include <sodium.h>
#include <string.h>
#include <sys/epoll.h>
#include <unistd.h>

#include "awg/allowedips.h"
#include "awg/offload.h"
#include "awg/ratelimit.h"
#include "awg/workers.h"
#include "lib/log.h"
#include "lib/mem.h"

#ifndef UDP_GRO
#define UDP_GRO 104
#endif

/* Decrypted packets waiting to be written to the TUN device. Each is copied
 * into its own write buffer (OFFLOAD_VNET_HDR_LEN of headroom, room to grow to
 * a 64 KiB super-packet) so GRO can merge a flow's packets in place; the copy
 * is small next to the decryption, and GRO-split datagrams that share one
 * receive buffer never overlap. */
#define RX_WBATCH OFFLOAD_GRO_BATCH
struct rx_wbatch {
	uint8_t *bufs[RX_WBATCH];
	struct offload_pkt pkts[RX_WBATCH];
	struct iovec out[RX_WBATCH];
	unsigned n;
};

static void rx_flush(struct device *dev, struct rx_wbatch *w)
{
	if (!w->n)
		return;
	if (dev->tun_vnet) {
		int k = offload_coalesce(w->pkts, w->n, dev->tun_uso, w->out);
		for (int i = 0; i < k; i++)
			if (write(dev->tun_fd, w->out[i].iov_base, w->out[i].iov_len) < 0)
				atomic_fetch_add(&dev->drops_bad_packet, 1);
	} else {
		for (unsigned i = 0; i < w->n; i++)
			if (write(dev->tun_fd, w->pkts[i].data, w->pkts[i].len) < 0)
				atomic_fetch_add(&dev->drops_bad_packet, 1);
	}
	w->n = 0;
}

static void rx_queue_write(struct device *dev, struct rx_wbatch *w, const uint8_t *pkt, size_t len)
{
	if (w->n == RX_WBATCH)
		rx_flush(dev, w);
	struct offload_pkt *op = &w->pkts[w->n];
	op->data = w->bufs[w->n] + OFFLOAD_VNET_HDR_LEN;
	op->cap = OFFLOAD_GRO_MAX_LEN;
	op->len = len;
	memcpy(op->data, pkt, len);
	w->n++;
}

static int rx_wbatch_init(struct rx_wbatch *w)
{
	memset(w, 0, sizeof(*w));
	for (unsigned i = 0; i < RX_WBATCH; i++)
		if (!(w->bufs[i] = mem_alloc(OFFLOAD_VNET_HDR_LEN + OFFLOAD_GRO_MAX_LEN)))
			return -ENOMEM;
	return 0;
}

static void rx_wbatch_fini(struct rx_wbatch *w)
{
	for (unsigned i = 0; i < RX_WBATCH; i++)
		mem_free(w->bufs[i]);
}

/* One received datagram, and what the parallel phase found out about it. */
struct rx_msg {
	uint8_t *data;
	size_t len;
	int sock;
	union endpoint src;
	struct addr local;
	/* phase 1 (parallel): */
	int type;                /* enum msg_type, MSG_INVALID to drop */
	size_t prefix;
	struct keypair *kp;      /* data that authenticated, else NULL */
	uint64_t counter;
	uint8_t *pt;             /* plaintext (in place) */
	size_t plen;
};

/* Keypairs retired during a batch are freed only after it: a datagram opened
 * in the parallel phase may still point at one. Each datagram confirms at
 * most one keypair, so room for one per datagram of the batch suffices. */
struct rx_retired {
	struct keypair **kps;
	unsigned n, cap;
};

/* A response or cookie reply naming one of our pending handshakes: an off-path
 * flooder cannot guess the 32-bit index, so these may use the slots a flood of
 * initiations is kept out of. Called by the rx thread under dev->lock (read). */
static bool answers_our_handshake(struct device *dev, const uint8_t *msg, size_t len, int type)
{
	size_t off = type == MSG_RESPONSE ? 8 : type == MSG_COOKIE ? 4 : 0;
	if (!off || len < off + 4)
		return false;
	struct index_entry *e = index_lookup(dev, le32_read(msg + off));
	return e && !e->keypair;
}

static void enqueue_handshake(struct device *dev, const struct rx_msg *m, int type, size_t prefix)
{
	size_t len = m->len - prefix;
	unsigned room = DEV_HS_QUEUE - DEV_HS_RESERVED;
	if (answers_our_handshake(dev, m->data + prefix, len, type))
		room = DEV_HS_QUEUE;
	pthread_mutex_lock(&dev->hs_lock);
	if (dev->hs_count >= room) {
		pthread_mutex_unlock(&dev->hs_lock);
		atomic_fetch_add(&dev->hs_dropped, 1);
		return;
	}
	struct hs_item *it = &dev->hs_queue[(dev->hs_head + dev->hs_count) % DEV_HS_QUEUE];
	it->len = (uint16_t)len;
	it->type = (uint8_t)type;
	it->sock = m->sock;
	it->src = m->src;
	it->local = m->local;
	memcpy(it->data, m->data + prefix, len);
	dev->hs_count++;
	pthread_mutex_unlock(&dev->hs_lock);
	dev_wake(dev);
}

/* Promotes a responder's "next" keypair on its first authenticated packet
 * (key confirmation, specs/awg.md §1.6). The rx thread is the only reader of
 * the index table under the read lock, so it may retire the old keypair here. */
static void confirm_keypair(struct device *dev, struct peer *p, struct keypair *kp, struct rx_retired *r)
{
	struct keypair *old = NULL;
	pthread_mutex_lock(&p->lock);
	if (p->kp_next == kp) {
		old = p->kp_prev;
		p->kp_prev = p->kp_cur;
		p->kp_cur = kp;
		p->kp_next = NULL;
	}
	pthread_mutex_unlock(&p->lock);
	if (old) {
		/* Unreachable from now on; freed after the batch. */
		index_remove(dev, old->keys.local_index);
		r->kps[r->n++] = old; /* cap >= datagrams in the batch */
	}
	kp->confirmed = true;
	/* The control thread sends what was staged while we waited. */
	atomic_store(&p->want_flush, true);
	dev_attention(dev, p);
	atomic_store(&dev->scan_requested, true);
	dev_wake(dev);
}

/* Length of the inner IP packet, or 0 if malformed. */
static size_t inner_len(const uint8_t *pkt, size_t len)
{
	if (len >= 20 && pkt[0] >> 4 == 4) {
		size_t tl = (size_t)pkt[2] << 8 | pkt[3];
		return tl >= 20 && tl <= len ? tl : 0;
	}
	if (len >= 40 && pkt[0] >> 4 == 6) {
		size_t tl = ((size_t)pkt[4] << 8 | pkt[5]) + 40;
		return tl <= len ? tl : 0;
	}
	return 0;
}

/* Phase 1, any thread: classify and, for transport data, find the keypair
 * and open the packet in place. Touches nothing but the datagram itself (the
 * index table is only read; the rx thread holds the read lock throughout). */
static void rx_open(struct device *dev, struct rx_msg *m, uint64_t now)
{
	m->kp = NULL;
	m->type = obf_classify(&dev->obf, m->data, m->len, &m->prefix);
	if (m->type != MSG_DATA)
		return;
	uint8_t *msg = m->data + m->prefix;
	size_t len = m->len - m->prefix;
	struct index_entry *e = index_lookup(dev, le32_read(msg + 4));
	if (!e || !e->keypair || now - e->keypair->birth_ns >= REJECT_AFTER_TIME_NS)
		return;
	m->counter = le64_read(msg + 8);
	m->pt = msg + sizeof(struct msg_data);
	if (noise_open(m->pt, m->pt, len - sizeof(struct msg_data), m->counter, e->keypair->keys.recv_key) < 0)
		return;
	m->plen = len - sizeof(struct msg_data) - NOISE_AUTHTAG_LEN;
	m->kp = e->keypair;
}

struct open_job {
	struct device *dev;
	struct rx_msg *msgs;
	uint64_t now;
};

static void open_range(void *ctx, unsigned b, unsigned e)
{
	struct open_job *j = ctx;
	for (unsigned i = b; i < e; i++)
		rx_open(j->dev, &j->msgs[i], j->now);
}

/* Phase 2, rx thread, in arrival order: replay window, timers' facts,
 * roaming, key confirmation, cryptokey routing, delivery. */
static void rx_deliver(struct device *dev, struct rx_msg *m, uint64_t now, struct rx_wbatch *w, struct rx_retired *r)
{
	if (m->type == MSG_INITIATION || m->type == MSG_RESPONSE || m->type == MSG_COOKIE) {
		enqueue_handshake(dev, m, m->type, m->prefix);
		return;
	}
	if (m->type != MSG_DATA)
		return; /* junk, I-packets, probes: dropped without a trace (specs/awg.md §2.4) */
	struct keypair *kp = m->kp;
	if (!kp) {
		atomic_fetch_add(&dev->drops_bad_packet, 1);
		return;
	}
	struct peer *p = kp->peer;
	if (!replay_check(&kp->replay, m->counter)) {
		atomic_fetch_add(&dev->drops_replay, 1);
		return;
	}
	uint8_t *pt = m->pt;
	size_t plen = m->plen;

	/* Authenticated: the facts the timers need, roaming, key confirmation. */
	atomic_store_explicit(&p->t_auth_received, now, memory_order_relaxed);
	atomic_fetch_add_explicit(&p->rx_bytes, m->len, memory_order_relaxed);
	if (!kp->confirmed)
		confirm_keypair(dev, p, kp, r);
	if (!p->has_endpoint || !endpoint_equal(&p->ep.remote, &m->src) || p->ep.sock != m->sock) {
		bool roamed = p->has_endpoint && !endpoint_equal(&p->ep.remote, &m->src);
		peer_set_endpoint(p, &m->src, &m->local, m->sock);
		if (roamed)
			dev_emit(dev, DEV_EVENT_ENDPOINT, p);
	}
	if (kp->keys.is_initiator && kp == p->kp_cur &&
	    now - kp->birth_ns > REJECT_AFTER_TIME_NS - KEEPALIVE_TIMEOUT_NS - REKEY_TIMEOUT_NS &&
	    !atomic_exchange(&p->want_handshake, true)) {
		dev_attention(dev, p);
		dev_wake(dev);
	}
	if (plen == 0)
		return; /* keepalive */
	atomic_store_explicit(&p->t_data_received, now, memory_order_relaxed);

	size_t ilen = inner_len(pt, plen);
	if (!ilen) {
		atomic_fetch_add(&dev->drops_bad_packet, 1);
		return;
	}
	/* Cryptokey routing: the inner source must belong to the sending peer. */
	int fam = pt[0] >> 4 == 4 ? AF_INET : AF_INET6;
	if (allowedips_lookup(dev->aips, fam, fam == AF_INET ? pt + 12 : pt + 8) != p) {
		atomic_fetch_add(&dev->drops_no_peer, 1);
		return;
	}
	if (dev->forward_fn && dev->forward_fn(dev->forward_ctx, dev, p, pt, ilen))
		return;
	if (dev->tun_fd >= 0 && w)
		rx_queue_write(dev, w, pt, ilen);
}

static void rx_retired_free(struct rx_retired *r)
{
	for (unsigned i = 0; i < r->n; i++) {
		sodium_memzero(r->kps[i], sizeof(*r->kps[i]));
		mem_free(r->kps[i]);
	}
	r->n = 0;
}

static void parse_cmsgs(struct msghdr *mh, struct addr *local, uint16_t *gro)
{
	memset(local, 0, sizeof(*local));
	*gro = 0;
	for (struct cmsghdr *c = CMSG_FIRSTHDR(mh); c; c = CMSG_NXTHDR(mh, c)) {
		if (c->cmsg_level == IPPROTO_IP && c->cmsg_type == IP_PKTINFO) {
			struct in_pktinfo pi;
			memcpy(&pi, CMSG_DATA(c), sizeof(pi));
			local->family = AF_INET;
			memcpy(local->bytes, &pi.ipi_addr, 4);
		} else if (c->cmsg_level == IPPROTO_IPV6 && c->cmsg_type == IPV6_PKTINFO) {
			struct in6_pktinfo pi;
			memcpy(&pi, CMSG_DATA(c), sizeof(pi));
			local->family = AF_INET6;
			memcpy(local->bytes, &pi.ipi6_addr, 16);
		} else if (c->cmsg_level == SOL_UDP && c->cmsg_type == UDP_GRO) {
			int v;
			memcpy(&v, CMSG_DATA(c), sizeof(v));
			*gro = (uint16_t)v;
		}
	}
}

#define RX_HEADROOM 64
#define RX_MAX_MSGS (DEV_BATCH * 64) /* datagrams per batch, GRO segments included */

void *rx_thread_main(void *arg)
{
	struct device *dev = arg;
	uint8_t *bufs[DEV_BATCH] = { 0 };
	struct mmsghdr msgs[DEV_BATCH];
	struct iovec iov[DEV_BATCH];
	union endpoint names[DEV_BATCH];
	union {
		char buf[CMSG_SPACE(sizeof(struct in6_pktinfo)) + CMSG_SPACE(sizeof(int))];
		struct cmsghdr align;
	} cbuf[DEV_BATCH];
	struct epoll_event evs[16];
	struct rx_wbatch *w = mem_alloc(sizeof(*w));
	struct rx_msg *rm = mem_alloc(RX_MAX_MSGS * sizeof(*rm));
	struct rx_retired retired = { .kps = mem_alloc(RX_MAX_MSGS * sizeof(struct keypair *)), .cap = RX_MAX_MSGS };

	if (!w || !rm || !retired.kps || rx_wbatch_init(w) < 0)
		goto out;
	for (int i = 0; i < DEV_BATCH; i++)
		if (!(bufs[i] = mem_alloc(DEV_BUF_SIZE)))
			goto out;
	while (!atomic_load(&dev->stopping)) {
		int ne = epoll_wait(dev->rx_epoll, evs, 16, 500);
		if (ne < 0 && errno != EINTR)
			break;
		for (int k = 0; k < ne; k++) {
			if (evs[k].data.u32 == UINT32_MAX)
				goto out; /* stop */
			pthread_rwlock_rdlock(&dev->lock);
			int s = (int)evs[k].data.u32;
			int fd = s < dev->nsocks ? dev->socks[s].fd : -1;
			for (int rounds = 0; fd >= 0 && rounds < 8; rounds++) {
				for (int i = 0; i < DEV_BATCH; i++) {
					iov[i].iov_base = bufs[i] + RX_HEADROOM;
					iov[i].iov_len = DEV_BUF_SIZE - RX_HEADROOM;
					memset(&msgs[i].msg_hdr, 0, sizeof(msgs[i].msg_hdr));
					msgs[i].msg_hdr.msg_name = &names[i];
					msgs[i].msg_hdr.msg_namelen = sizeof(names[i]);
					msgs[i].msg_hdr.msg_iov = &iov[i];
					msgs[i].msg_hdr.msg_iovlen = 1;
					msgs[i].msg_hdr.msg_control = cbuf[i].buf;
					msgs[i].msg_hdr.msg_controllen = sizeof(cbuf[i].buf);
				}
				int n = recvmmsg(fd, msgs, DEV_BATCH, MSG_DONTWAIT, NULL);
				if (n <= 0)
					break;
				uint64_t now = dev_now();
				unsigned nm = 0;
				for (int i = 0; i < n; i++) {
					struct rx_msg m = { .sock = s };
					uint16_t gro;
					parse_cmsgs(&msgs[i].msg_hdr, &m.local, &gro);
					if (endpoint_from_sockaddr(&m.src, &names[i].sa, msgs[i].msg_hdr.msg_namelen) < 0)
						continue;
					size_t total = msgs[i].msg_len;
					size_t seg = gro && gro < total ? gro : total;
					/* A GRO read carries several datagrams of size seg (the last
					 * may be shorter); each is classified and opened on its own
					 * (a plaintext never reaches past its datagram). */
					for (size_t off = 0; off < total && nm < RX_MAX_MSGS; off += seg) {
						m.data = bufs[i] + RX_HEADROOM + off;
						m.len = total - off < seg ? total - off : seg;
						rm[nm++] = m;
					}
				}
				struct open_job job = { .dev = dev, .msgs = rm, .now = now };
				workers_run(dev->rx_workers, open_range, &job, nm, 8);
				for (unsigned i = 0; i < nm; i++)
					rx_deliver(dev, &rm[i], now, w, &retired);
				rx_flush(dev, w);
				rx_retired_free(&retired);
				if (n < DEV_BATCH)
					break;
			}
			pthread_rwlock_unlock(&dev->lock);
		}
	}
out:
	for (int i = 0; i < DEV_BATCH; i++)
		mem_free(bufs[i]);
	if (w) {
		rx_wbatch_fini(w);
		mem_free(w);
	}
	mem_free(rm);
	mem_free(retired.kps);
	device_request_stop(dev);
	return NULL;
}

void device_inject_datagram(struct device *dev, uint8_t *data, size_t len, const union endpoint *src)
{
	struct rx_msg m = { .data = data, .len = len, .sock = 0, .src = *src };
	struct keypair *one[1];
	struct rx_retired retired = { .kps = one, .cap = 1 };
	uint64_t now = dev_now();
	pthread_rwlock_rdlock(&dev->lock);
	rx_open(dev, &m, now);
	rx_deliver(dev, &m, now, NULL, &retired); /* no TUN writes: the forward hook only */
	rx_retired_free(&retired);
	pthread_rwlock_unlock(&dev->lock);
}

/* ---- control thread: handshake messages ---- */

static size_t src_bytes(const union endpoint *e, uint8_t out[18])
{
	if (e->sa.sa_family == AF_INET) {
		memcpy(out, &e->in4.sin_addr, 4);
		memcpy(out + 4, &e->in4.sin_port, 2);
		return 6;
	}
	memcpy(out, &e->in6.sin6_addr, 16);
	memcpy(out + 16, &e->in6.sin6_port, 2);
	return 18;
}

/* Called with the device write lock held. */
void handshake_process(struct device *dev, struct hs_item *it, uint64_t now, bool under_load)
{
	uint8_t src[18];
	size_t slen = src_bytes(&it->src, src);

	if (it->type == MSG_COOKIE) {
		struct msg_cookie *c = (struct msg_cookie *)it->data;
		struct index_entry *e = index_lookup(dev, le32_read(&c->receiver_index));
		if (e && cookie_consume_reply(&e->peer->cookie, e->peer->nkeys.cookie_key, c, now) == 0)
			log_debug("received cookie reply");
		return;
	}
	enum cookie_mac_state ms = cookie_validate(&dev->cookies, it->data, it->len, src, slen, under_load, now);
	if (ms == COOKIE_MAC_INVALID)
		return;
	if (under_load && ms != COOKIE_MAC_VALID_WITH_COOKIE) {
		send_cookie_reply(dev, it, le32_read(it->data + 4), now);
		return;
	}
	/* A valid cookie proves the source address, not good intent: under load
	 * each source gets 20 handshakes a second (burst 5). */
	if (under_load) {
		struct addr a;
		if (addr_from_endpoint(&a, &it->src) < 0 || !ratelimit_allow(dev->ratelimit, a.family, a.bytes, now))
			return;
	}
	/* MACs covered the on-wire AWG type; the Noise core sees the standard one. */
	le32_write(it->data, (uint32_t)it->type);

	if (it->type == MSG_INITIATION) {
		struct msg_initiation *msg = (struct msg_initiation *)it->data;
		struct noise_initiation_state st;
		if (noise_consume_initiation_begin(&dev->id, msg, &st) < 0)
			return;
		struct peer *p = peer_lookup(dev, st.remote_static);
		if (!p) {
			sodium_memzero(&st, sizeof(st));
			return;
		}
		/* If we had an initiation of our own in flight (both sides started at
		 * once), answering theirs replaces it: free its index. */
		uint32_t ours = p->hs.state == NOISE_HS_CREATED_INITIATION ? p->hs.local_index : 0;
		if (noise_consume_initiation_finish(&p->hs, &dev->id, &p->nkeys, &st, msg, now) < 0)
			return;
		if (ours) {
			struct index_entry *e = index_lookup(dev, ours);
			if (e && !e->keypair)
				index_remove(dev, ours);
		}
		peer_set_endpoint(p, &it->src, &it->local, it->sock);
		atomic_store(&p->t_auth_received, now);
		send_handshake_response(dev, p, now);
		return;
	}
	if (it->type == MSG_RESPONSE) {
		struct msg_response *msg = (struct msg_response *)it->data;
		struct index_entry *e = index_lookup(dev, le32_read(&msg->receiver_index));
		if (!e || e->keypair)
			return;
		struct peer *p = e->peer;
		if (p->hs.state != NOISE_HS_CREATED_INITIATION || p->hs.local_index != e->index)
			return;
		if (noise_consume_response(&p->hs, &dev->id, &p->nkeys, msg) < 0)
			return;
		struct noise_keys keys;
		if (noise_derive_keys(&p->hs, &keys) < 0)
			return;
		int rc = peer_install_keypair(dev, p, &keys, now);
		sodium_memzero(&keys, sizeof(keys));
		if (rc < 0)
			return;
		peer_set_endpoint(p, &it->src, &it->local, it->sock);
		atomic_store(&p->t_auth_received, now);
		timers_handshake_complete(dev, p, now);
		dev_emit(dev, DEV_EVENT_HANDSHAKE, p);
		send_staged(dev, p, now);
	}
}
