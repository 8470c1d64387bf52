/* Everything that leaves a UDP socket: encrypted transport data (tx thread),
 * and handshake messages, cookie replies, junk and I-packets (control thread).
 * AmneziaWG framing (specs/awg.md §2.3): the on-wire type is written before
 * the MACs are computed; the random prefix is added after them. */
#include "awg/devpriv.h"

#include <errno.h>
#include <poll.h>
#include <sodium.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "awg/allowedips.h"
#include "awg/offload.h"
#include "awg/workers.h"
#include "lib/log.h"
#include "lib/mem.h"

/* Bytes reserved in front of every packet the tx thread reads, so the header
 * and an S4 prefix can be written in place without moving the packet. */
#define TX_HEADROOM 512
#define TX_TAILROOM 64

static size_t padded_len(size_t len, uint32_t mtu)
{
	size_t p = (len + MSG_PADDING_MULTIPLE - 1) & ~(size_t)(MSG_PADDING_MULTIPLE - 1);
	if (len <= mtu && p > mtu)
		p = mtu;
	return p < len ? len : p;
}

/* Records a fact for the timers; a relaxed store is enough (timers read them
 * on the control thread with a 100 ms tick). */
static inline void fact(_Atomic uint64_t *t, uint64_t now)
{
	atomic_store_explicit(t, now, memory_order_relaxed);
}

static void stage(struct device *dev, struct peer *p, const struct iovec *pkts, unsigned n)
{
	/* Caller holds p->lock. Keep the newest MAX_STAGED_PACKETS. */
	if (!p->staged && !(p->staged = mem_zalloc(MAX_STAGED_PACKETS * sizeof(*p->staged)))) {
		atomic_fetch_add(&dev->drops_staged, n);
		return;
	}
	for (unsigned i = 0; i < n; i++) {
		if (pkts[i].iov_len > UINT16_MAX)
			continue;
		struct staged_packet *sp = mem_alloc(sizeof(*sp) + pkts[i].iov_len);
		if (!sp) {
			atomic_fetch_add(&dev->drops_staged, 1);
			continue;
		}
		sp->len = (uint16_t)pkts[i].iov_len;
		memcpy(sp->data, pkts[i].iov_base, pkts[i].iov_len);
		if (p->staged_count == MAX_STAGED_PACKETS) {
			mem_free(p->staged[p->staged_head]);
			p->staged_head = (p->staged_head + 1) % MAX_STAGED_PACKETS;
			p->staged_count--;
			atomic_fetch_add(&dev->drops_staged, 1);
		}
		p->staged[(p->staged_head + p->staged_count) % MAX_STAGED_PACKETS] = sp;
		p->staged_count++;
	}
}

struct seal_job {
	struct device *dev;
	const struct keypair *kp;
	struct iovec *pkts, *out;
	uint8_t *slow;
	size_t hdr, slot;
	uint64_t c0;
	uint32_t s4;
};

/* Writes prefix and header in front of packets [b, e) and seals them in place
 * (or in the slow buffer when the header does not fit the headroom). */
static void seal_range(void *ctx, unsigned b, unsigned e)
{
	struct seal_job *j = ctx;
	for (unsigned i = b; i < e; i++) {
		size_t len = j->pkts[i].iov_len, plen = padded_len(len, j->dev->mtu);
		uint8_t *pt = j->pkts[i].iov_base, *dg;
		if (j->slow) {
			dg = j->slow + (size_t)i * j->slot;
			memcpy(dg + j->hdr, pt, len);
		} else {
			dg = pt - j->hdr;
		}
		memset(dg + j->hdr + len, 0, plen - len);
		obf_fill_random(dg, j->s4);
		struct msg_data *md = (struct msg_data *)(dg + j->s4);
		le32_write(&md->type, obf_header_value(&j->dev->obf, MSG_DATA));
		le32_write(&md->receiver_index, j->kp->keys.remote_index);
		le64_write(&md->counter, j->c0 + i);
		noise_seal(md->encrypted_data, dg + j->hdr, plen, j->c0 + i, j->kp->keys.send_key);
		j->out[i].iov_base = dg;
		j->out[i].iov_len = j->hdr + plen + NOISE_AUTHTAG_LEN;
	}
}

/* Encrypts n (<= DEV_BATCH) inner packets for one peer and sends them. w: the
 * calling thread's worker pool, or NULL to do it all on the caller. Each pkts[i].iov_base
 * must have TX_HEADROOM writable bytes before it and TX_TAILROOM after its
 * length when S4 + 16 <= TX_HEADROOM (else the slow copying path is used).
 * Caller holds the device lock (read or write). */
int send_packets(struct device *dev, struct peer *p, struct iovec *pkts, unsigned n, uint64_t now,
                 struct workers *w)
{
	struct keypair *kp;
	struct peer_endpoint ep;
	uint64_t c0;
	bool has_ep;

	pthread_mutex_lock(&p->lock);
	kp = p->kp_cur;
	if (!kp || now - kp->birth_ns >= REJECT_AFTER_TIME_NS ||
	    atomic_load(&kp->send_counter) >= REJECT_AFTER_MESSAGES - n) {
		stage(dev, p, pkts, n);
		pthread_mutex_unlock(&p->lock);
		atomic_store(&p->want_handshake, true);
		dev_attention(dev, p);
		dev_wake(dev);
		return 0;
	}
	if (p->staged_count) {
		/* Keys are usable but older packets still wait (keys were just
		 * confirmed): queue behind them; the control thread sends the
		 * queue in order (timers.c), so nothing overtakes. */
		stage(dev, p, pkts, n);
		pthread_mutex_unlock(&p->lock);
		dev_attention(dev, p);
		atomic_store(&dev->scan_requested, true);
		dev_wake(dev);
		return 0;
	}
	c0 = atomic_fetch_add(&kp->send_counter, n);
	has_ep = p->has_endpoint;
	ep = p->ep;
	pthread_mutex_unlock(&p->lock);
	if (!has_ep) {
		atomic_fetch_add(&dev->drops_no_peer, n);
		return -EDESTADDRREQ;
	}
	if (c0 + n > REKEY_AFTER_MESSAGES ||
	    (kp->keys.is_initiator && now - kp->birth_ns > dev_scaled(dev, REKEY_AFTER_TIME_NS))) {
		if (!atomic_exchange(&p->want_handshake, true)) {
			dev_attention(dev, p);
			dev_wake(dev);
		}
	}

	const uint32_t s4 = obf_prefix_len(&dev->obf, MSG_DATA);
	struct seal_job job = {
		.dev = dev, .kp = kp, .pkts = pkts, .c0 = c0, .s4 = s4,
		.hdr = s4 + sizeof(struct msg_data), .slot = s4 + sizeof(struct msg_data) + dev->mtu + 64,
	};
	const size_t hdr = job.hdr;
	struct iovec out[DEV_BATCH];
	uint64_t bytes = 0;
	bool data = false;
	int rc = 0;

	if (n > DEV_BATCH)
		return -E2BIG;
	job.out = out;
	if (hdr > TX_HEADROOM) {
		job.slow = mem_alloc((size_t)n * job.slot);
		if (!job.slow)
			return -ENOMEM;
	}
	/* Sealing is independent per packet (each has its own counter): spread it
	 * over the pool; sending below stays in order. */
	workers_run(w, seal_range, &job, n, 8);
	for (unsigned i = 0; i < n; i++) {
		bytes += out[i].iov_len;
		data |= pkts[i].iov_len > 0;
	}
	/* Runs of equal length (the last may be shorter) go out as one UDP GSO send. */
	for (unsigned s = 0; s < n;) {
		unsigned e = s + 1;
		while (e < n && out[e].iov_len == out[s].iov_len)
			e++;
		if (e < n && out[e].iov_len < out[s].iov_len)
			e++;
		uint16_t gso = e - s > 1 && atomic_load(&dev->gso_ok) ? (uint16_t)out[s].iov_len : 0;
		int r = udp_send_raw(dev, &ep, &out[s], e - s, gso);
		if (r == -EIO && gso) {
			atomic_store(&dev->gso_ok, false);
			r = udp_send_raw(dev, &ep, &out[s], e - s, 0);
		}
		if (r < 0)
			rc = r;
		s = e;
	}
	uint8_t *slow = job.slow;
	if (slow)
		mem_free_secret(slow, (size_t)n * job.slot);
	atomic_fetch_add(&p->tx_bytes, bytes);
	fact(&p->t_auth_sent, now);
	if (data)
		fact(&p->t_data_sent, now);
	return rc;
}

void send_keepalive(struct device *dev, struct peer *p, uint64_t now)
{
	uint8_t buf[TX_HEADROOM + TX_TAILROOM];
	struct iovec iov = { .iov_base = buf + TX_HEADROOM, .iov_len = 0 };
	(void)send_packets(dev, p, &iov, 1, now, NULL);
}

/* Sends what was staged while there was no usable keypair (control thread,
 * write lock held). If nothing was staged, a keepalive confirms the keys. */
void send_staged(struct device *dev, struct peer *p, uint64_t now)
{
	struct staged_packet *sp[MAX_STAGED_PACKETS];
	unsigned n = 0;
	pthread_mutex_lock(&p->lock);
	while (p->staged_count) {
		sp[n++] = p->staged[p->staged_head];
		p->staged[p->staged_head] = NULL;
		p->staged_head = (p->staged_head + 1) % MAX_STAGED_PACKETS;
		p->staged_count--;
	}
	pthread_mutex_unlock(&p->lock);
	if (!n) {
		send_keepalive(dev, p, now);
		return;
	}
	uint8_t *buf = mem_alloc(TX_HEADROOM + 65535 + TX_TAILROOM);
	for (unsigned i = 0; i < n; i++) {
		if (buf) {
			memcpy(buf + TX_HEADROOM, sp[i]->data, sp[i]->len);
			struct iovec iov = { .iov_base = buf + TX_HEADROOM, .iov_len = sp[i]->len };
			(void)send_packets(dev, p, &iov, 1, now, NULL);
		}
		mem_free(sp[i]);
	}
	mem_free(buf);
}

/* Sends a handshake message with its AWG prefix. */
static void send_handshake_dgram(struct device *dev, struct peer *p, int type, const void *msg, size_t len)
{
	struct peer_endpoint ep;
	if (!peer_get_endpoint(p, &ep))
		return;
	uint32_t s = obf_prefix_len(&dev->obf, type);
	uint8_t *buf = mem_alloc(s + len);
	if (!buf)
		return;
	obf_fill_random(buf, s);
	memcpy(buf + s, msg, len);
	struct iovec iov = { .iov_base = buf, .iov_len = s + len };
	(void)udp_send_raw(dev, &ep, &iov, 1, 0);
	mem_free(buf);
	atomic_fetch_add(&p->tx_bytes, s + len);
}

/* I1..I5 then Jc junk datagrams, sent before every initiation (specs/awg.md §2.3). */
static void send_junk(struct device *dev, const struct peer_endpoint *ep)
{
	struct iovec iov[OBF_TEMPLATES + OBF_MAX_JC];
	uint8_t *bufs[OBF_TEMPLATES + OBF_MAX_JC];
	unsigned n = 0;
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	uint32_t counter = randombytes_random();

	for (int i = 0; i < OBF_TEMPLATES; i++) {
		const struct obf_template *t = dev->obf.i[i];
		if (!t)
			continue;
		size_t len = obf_template_len(t);
		if (!len || !(bufs[n] = mem_alloc(len)))
			continue;
		iov[n].iov_len = obf_template_render(t, bufs[n], len, (uint32_t)ts.tv_sec, counter++);
		iov[n].iov_base = bufs[n];
		n++;
	}
	uint32_t jc = obf_junk_count(&dev->obf);
	for (uint32_t j = 0; j < jc && n < OBF_TEMPLATES + OBF_MAX_JC; j++) {
		uint32_t len = obf_junk_len(&dev->obf);
		if (!len || !(bufs[n] = mem_alloc(len)))
			continue;
		obf_fill_random(bufs[n], len);
		iov[n].iov_base = bufs[n];
		iov[n].iov_len = len;
		n++;
	}
	for (unsigned i = 0; i < n; i++)
		(void)udp_send_raw(dev, ep, &iov[i], 1, 0);
	for (unsigned i = 0; i < n; i++)
		mem_free(bufs[i]);
}

void send_handshake_initiation(struct device *dev, struct peer *p, uint64_t now)
{
	struct msg_initiation msg;
	uint8_t ts[NOISE_TIMESTAMP_LEN];
	struct peer_endpoint ep;
	int64_t sec, nsec;

	if (!dev->id.has_key || !peer_get_endpoint(p, &ep))
		return;
	if (p->hs.state != NOISE_HS_ZEROED && p->hs.local_index) {
		struct index_entry *e = index_lookup(dev, p->hs.local_index);
		if (e && !e->keypair)
			index_remove(dev, p->hs.local_index);
	}
	uint32_t idx = 0;
	if (index_add(dev, p, NULL, &idx) < 0)
		return;
	dev_wallclock(&sec, &nsec);
	noise_tai64n(ts, (uint64_t)sec, (uint32_t)nsec);
	if (noise_create_initiation(&p->hs, &dev->id, &p->nkeys, idx, ts, NULL, &msg) < 0) {
		index_remove(dev, idx);
		return;
	}
	le32_write(&msg.type, obf_header_value(&dev->obf, MSG_INITIATION));
	cookie_add_macs(&p->cookie, p->nkeys.mac1_key, (uint8_t *)&msg, sizeof(msg), now);
	send_junk(dev, &ep);
	send_handshake_dgram(dev, p, MSG_INITIATION, &msg, sizeof(msg));
	sodium_memzero(&msg, sizeof(msg));
	p->t_initiation_sent = now;
	fact(&p->t_auth_sent, now);
	log_debug("sent handshake initiation (index %u)", idx);
}

void send_handshake_response(struct device *dev, struct peer *p, uint64_t now)
{
	struct msg_response msg;
	struct noise_keys keys;
	uint32_t idx = 0;

	if (index_add(dev, p, NULL, &idx) < 0)
		return;
	if (noise_create_response(&p->hs, &dev->id, &p->nkeys, idx, NULL, &msg) < 0 ||
	    noise_derive_keys(&p->hs, &keys) < 0) {
		index_remove(dev, idx);
		return;
	}
	le32_write(&msg.type, obf_header_value(&dev->obf, MSG_RESPONSE));
	cookie_add_macs(&p->cookie, p->nkeys.mac1_key, (uint8_t *)&msg, sizeof(msg), now);
	if (peer_install_keypair(dev, p, &keys, now) < 0)
		index_remove(dev, idx);
	else
		send_handshake_dgram(dev, p, MSG_RESPONSE, &msg, sizeof(msg));
	sodium_memzero(&keys, sizeof(keys));
	fact(&p->t_auth_sent, now);
	dev_emit(dev, DEV_EVENT_HANDSHAKE, p);
}

void send_cookie_reply(struct device *dev, const struct hs_item *it, uint32_t sender_index, uint64_t now)
{
	struct msg_cookie msg;
	uint8_t src[18];
	size_t slen;
	if (it->src.sa.sa_family == AF_INET) {
		memcpy(src, &it->src.in4.sin_addr, 4);
		memcpy(src + 4, &it->src.in4.sin_port, 2);
		slen = 6;
	} else {
		memcpy(src, &it->src.in6.sin6_addr, 16);
		memcpy(src + 16, &it->src.in6.sin6_port, 2);
		slen = 18;
	}
	if (cookie_create_reply(&dev->cookies, &msg, it->data, it->len, sender_index, src, slen, NULL, now) < 0)
		return;
	le32_write(&msg.type, obf_header_value(&dev->obf, MSG_COOKIE));
	uint32_t s = obf_prefix_len(&dev->obf, MSG_COOKIE);
	uint8_t buf[OBF_MAX_PREFIX + sizeof(msg)];
	obf_fill_random(buf, s);
	memcpy(buf + s, &msg, sizeof(msg));
	struct iovec iov = { .iov_base = buf, .iov_len = s + sizeof(msg) };
	struct peer_endpoint ep = { .remote = it->src, .local = it->local, .sock = it->sock };
	(void)udp_send_raw(dev, &ep, &iov, 1, 0);
}

/* ---- tx thread: TUN -> peers ---- */

static struct peer *route_lookup(struct device *dev, const uint8_t *pkt, size_t len)
{
	if (len >= 20 && pkt[0] >> 4 == 4)
		return allowedips_lookup(dev->aips, AF_INET, pkt + 16);
	if (len >= 40 && pkt[0] >> 4 == 6)
		return allowedips_lookup(dev->aips, AF_INET6, pkt + 24);
	return NULL;
}

/* Waits for the TUN to become readable. 1: readable, 0: stop requested,
 * negative: the device went away. */
static int tx_wait(struct device *dev)
{
	struct pollfd pf[2] = { { .fd = dev->tun_fd, .events = POLLIN }, { .fd = dev->stop_fd, .events = POLLIN } };
	for (;;) {
		int r = poll(pf, 2, -1);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return -errno;
		if (pf[1].revents)
			return 0;
		if (pf[0].revents & (POLLERR | POLLHUP | POLLNVAL))
			return -ENODEV;
		return 1;
	}
}

/* The tx thread's buffers. Plain packets are read straight into rbufs at
 * TX_HEADROOM; a TSO/USO super-packet is read into an rbuf and split into
 * segment buffers, each with the same headroom for our header. */
#define TX_MAX_PKTS 128
#define TX_SEG_BUFS 256
struct tx_bufs {
	uint8_t *rbufs[DEV_BATCH];
	uint8_t *segbufs[TX_SEG_BUFS];
	size_t segcap;
	struct iovec pkts[TX_MAX_PKTS];
	struct peer *dst[TX_MAX_PKTS];
};

/* Reads until the TUN is drained or the batch is full. Returns the number of
 * inner packets, or a negative code when the device failed. */
static int tx_read(struct device *dev, struct tx_bufs *t)
{
	int n = 0;
	unsigned nr = 0, ns = 0;
	while (n < TX_MAX_PKTS && nr < DEV_BATCH) {
		uint8_t *b = t->rbufs[nr] + TX_HEADROOM - (dev->tun_vnet ? OFFLOAD_VNET_HDR_LEN : 0);
		ssize_t len = read(dev->tun_fd, b, DEV_BUF_SIZE - TX_HEADROOM - TX_TAILROOM);
		if (len < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN)
				break;
			return n ? n : -errno;
		}
		if (!dev->tun_vnet) {
			if (len == 0)
				continue;
			t->pkts[n].iov_base = b;
			t->pkts[n++].iov_len = (size_t)len;
			nr++;
			continue;
		}
		if (len <= OFFLOAD_VNET_HDR_LEN)
			continue;
		struct virtio_net_hdr vh;
		memcpy(&vh, b, sizeof(vh));
		uint8_t *pkt = b + OFFLOAD_VNET_HDR_LEN;
		size_t plen = (size_t)len - OFFLOAD_VNET_HDR_LEN;
		if (vh.gso_type == VIRTIO_NET_HDR_GSO_NONE) {
			if (offload_finish_csum(pkt, plen, &vh) < 0) {
				atomic_fetch_add(&dev->drops_bad_packet, 1);
				continue;
			}
			t->pkts[n].iov_base = pkt;
			t->pkts[n++].iov_len = plen;
			nr++;
			continue;
		}
		struct offload_seg segs[TX_MAX_PKTS];
		size_t room = TX_MAX_PKTS - (size_t)n;
		if (room > TX_SEG_BUFS - ns)
			room = TX_SEG_BUFS - ns;
		for (size_t k = 0; k < room; k++) {
			segs[k].data = t->segbufs[ns + k] + TX_HEADROOM;
			segs[k].cap = t->segcap;
			segs[k].len = 0;
		}
		int k = room ? offload_split(pkt, plen, &vh, segs, room) : ERR_TOOBIG;
		/* The loop keeps room for 64 segments; a super-packet needing more
		 * (tiny gso_size) or a malformed one is dropped and counted. */
		if (k < 0) {
			atomic_fetch_add(&dev->drops_bad_packet, 1);
			continue;
		}
		for (int q = 0; q < k; q++) {
			t->pkts[n].iov_base = segs[q].data;
			t->pkts[n++].iov_len = segs[q].len;
		}
		ns += (unsigned)k;
		/* A super-packet may need up to 64 segments: stop while there is
		 * still room for one more of those. */
		if (n + 64 > TX_MAX_PKTS || ns + 64 > TX_SEG_BUFS)
			break;
	}
	return n;
}

void *tx_thread_main(void *arg)
{
	struct device *dev = arg;
	struct tx_bufs *t = mem_zalloc(sizeof(*t));
	if (!t)
		goto out;
	t->segcap = dev->mtu + 64;
	for (int i = 0; i < DEV_BATCH; i++)
		if (!(t->rbufs[i] = mem_alloc(DEV_BUF_SIZE)))
			goto out;
	for (int i = 0; i < TX_SEG_BUFS; i++)
		if (!(t->segbufs[i] = mem_alloc(TX_HEADROOM + t->segcap + TX_TAILROOM)))
			goto out;
	for (;;) {
		int r = tx_wait(dev);
		if (r <= 0) {
			if (r < 0)
				log_error("%s: TUN device failed (%s), stopping", dev->ifname, err_str(r));
			break;
		}
		int n = tx_read(dev, t);
		if (n < 0) {
			log_error("%s: reading the TUN device failed (%s), stopping", dev->ifname, err_str(n));
			break;
		}
		if (!n)
			continue;
		uint64_t now = dev_now();
		pthread_rwlock_rdlock(&dev->lock);
		for (int i = 0; i < n; i++) {
			t->dst[i] = route_lookup(dev, t->pkts[i].iov_base, t->pkts[i].iov_len);
			if (!t->dst[i])
				atomic_fetch_add(&dev->drops_no_peer, 1);
		}
		/* Consecutive packets for the same peer are encrypted and sent as one
		 * batch (and one GSO send where sizes allow). */
		for (int i = 0; i < n;) {
			int j = i + 1;
			while (j < n && t->dst[j] == t->dst[i] && j - i < DEV_BATCH)
				j++;
			if (t->dst[i])
				(void)send_packets(dev, t->dst[i], &t->pkts[i], (unsigned)(j - i), now, dev->tx_workers);
			i = j;
		}
		pthread_rwlock_unlock(&dev->lock);
	}
out:
	if (t) {
		for (int i = 0; i < DEV_BATCH; i++)
			mem_free(t->rbufs[i]);
		for (int i = 0; i < TX_SEG_BUFS; i++)
			mem_free(t->segbufs[i]);
		mem_free(t);
	}
	device_request_stop(dev);
	return NULL;
}
