/* TUN offloads: TSO/USO split on read, GRO coalescing on write, checksums.
 * The rules follow what the kernel's own GSO (tcp_gso_segment, __udp_gso_segment,
 * inet_gso_segment) does when it cuts a super-packet, and what its GRO
 * (inet_gro_receive, ipv6_gro_receive, tcp_gro_receive) requires before it
 * merges two segments; wireguard-go's tun/offload_linux.go was read for the
 * same facts. Pure functions: no I/O, no allocation, bounded stack. */
#include "awg/offload.h"

#include <assert.h>
#include <errno.h>
#include <string.h>
#include <sys/uio.h>

static_assert(sizeof(struct virtio_net_hdr) == OFFLOAD_VNET_HDR_LEN, "virtio_net_hdr is 10 bytes");
static_assert(OFFLOAD_GRO_BATCH <= 255, "group indices are stored in a byte");

enum {
	IPV4_HLEN = 20,
	IPV6_HLEN = 40,
	TCP_HLEN = 20,
	UDP_HLEN = 8,
	PROTO_TCP = 6,
	PROTO_UDP = 17,
	IPV6_HOPOPTS = 0,
	IPV6_DSTOPTS = 60,
	IPV6_MAX_EXT = 8,          /* extension headers we walk before giving up */
	IPV4_FRAG_MASK = 0x3fff,   /* MF | fragment offset */
	TCP_CSUM_OFF = 16,
	UDP_CSUM_OFF = 6,
	TCP_FIN = 0x01,
	TCP_PSH = 0x08,
	TCP_ACK = 0x10,
	TCP_CWR = 0x80,
	GRO_SLOTS = 2 * OFFLOAD_GRO_BATCH, /* open-addressing flow table, load <= 1/2 */
};

static inline uint16_t load16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static inline uint32_t load32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static inline void store16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static inline void store32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

/* ---- Checksums ------------------------------------------------------------ */

/* One's-complement addition on 64 bits: 2^64 == 1 (mod 0xffff), so the carry
 * out of bit 63 goes back in at bit 0. Compiles to add/adc. */
static inline uint64_t addc(uint64_t s, uint64_t v)
{
	s += v;
	return s + (s < v);
}

/* The native-endian image of a big-endian 32-bit number, i.e. what a load of
 * its 4 wire bytes yields; summing it is summing those bytes. */
static inline uint64_t be32_image(uint32_t v)
{
#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
	return __builtin_bswap32(v);
#else
	return v;
#endif
}

uint64_t offload_csum_add(uint64_t sum, const void *buf, size_t len)
{
	const uint8_t *p = buf;
	uint64_t s0 = sum, s1 = 0, s2 = 0, s3 = 0;

	/* Four independent carry chains so the adds can issue in parallel. */
	while (len >= 32) {
		uint64_t a, b, c, d;
		memcpy(&a, p, 8);
		memcpy(&b, p + 8, 8);
		memcpy(&c, p + 16, 8);
		memcpy(&d, p + 24, 8);
		s0 = addc(s0, a);
		s1 = addc(s1, b);
		s2 = addc(s2, c);
		s3 = addc(s3, d);
		p += 32;
		len -= 32;
	}
	s0 = addc(addc(s0, s1), addc(s2, s3));
	while (len >= 8) {
		uint64_t a;
		memcpy(&a, p, 8);
		s0 = addc(s0, a);
		p += 8;
		len -= 8;
	}
	if (len >= 4) {
		uint32_t a;
		memcpy(&a, p, 4);
		s0 = addc(s0, a);
		p += 4;
		len -= 4;
	}
	if (len >= 2) {
		uint16_t a;
		memcpy(&a, p, 2);
		s0 = addc(s0, a);
		p += 2;
		len -= 2;
	}
	if (len) {
		/* A trailing odd byte counts as if followed by a zero byte. */
		uint8_t pad[2] = { p[0], 0 };
		uint16_t a;
		memcpy(&a, pad, 2);
		s0 = addc(s0, a);
	}
	return s0;
}

uint64_t offload_csum_pseudo(const uint8_t *src, const uint8_t *dst, size_t alen,
			     uint8_t proto, uint32_t l4len)
{
	/* Summing {len32, 0, 0, 0, proto} covers both the IPv4 layout
	 * {0, proto, len16} and the IPv6 one {len32, 0, 0, 0, next}. */
	uint64_t s = offload_csum_add(0, src, alen);
	s = offload_csum_add(s, dst, alen);
	s = addc(s, be32_image(l4len));
	return addc(s, be32_image(proto));
}

uint16_t offload_csum_fold(uint64_t sum)
{
	sum = (sum & 0xffffffff) + (sum >> 32);
	sum = (sum & 0xffffffff) + (sum >> 32);
	sum = (sum & 0xffff) + (sum >> 16);
	sum = (sum & 0xffff) + (sum >> 16);
#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
	return __builtin_bswap16((uint16_t)sum);
#else
	return (uint16_t)sum;
#endif
}

uint16_t offload_csum_update16(uint16_t check, uint16_t old_word, uint16_t new_word)
{
	uint32_t s = (uint32_t)(uint16_t)~check + (uint16_t)~old_word + new_word;
	s = (s & 0xffff) + (s >> 16);
	s = (s & 0xffff) + (s >> 16);
	return (uint16_t)~s;
}

/* The checksum to store: complement of the fold. */
static inline uint16_t csum_final(uint64_t sum)
{
	return (uint16_t)~offload_csum_fold(sum);
}

/* ---- Parsing -------------------------------------------------------------- */

struct ipinfo {
	uint8_t ver;
	uint8_t proto;   /* IPv4 protocol / IPv6 first next-header */
	size_t iphlen;   /* IPv4 IHL*4 or the 40-byte IPv6 fixed header */
};

/* Every packet we hand on must at least be a consistent IP packet: known
 * version, a complete header, and a length field that matches what we got. */
static int parse_ip(const uint8_t *p, size_t len, struct ipinfo *ip)
{
	if (len < 1)
		return ERR_PARSE;
	ip->ver = p[0] >> 4;
	if (ip->ver == 4) {
		size_t ihl = (size_t)(p[0] & 0x0f) * 4;
		if (len < IPV4_HLEN || ihl < IPV4_HLEN || ihl > len || load16(p + 2) != len)
			return ERR_PARSE;
		ip->proto = p[9];
		ip->iphlen = ihl;
		return 0;
	}
	if (ip->ver == 6) {
		if (len < IPV6_HLEN || len - IPV6_HLEN != load16(p + 4))
			return ERR_PARSE;
		ip->proto = p[6];
		ip->iphlen = IPV6_HLEN;
		return 0;
	}
	return ERR_PARSE;
}

/* Walks IPv6 hop-by-hop (first only) and destination options headers to the
 * upper-layer header. Routing headers are refused: they change the address
 * the pseudo-header must use. Fragments cannot carry GSO. */
static int ipv6_upper(const uint8_t *p, size_t len, uint8_t *proto, size_t *off)
{
	uint8_t nh = p[6];
	size_t o = IPV6_HLEN;
	for (int i = 0; i < IPV6_MAX_EXT; i++) {
		if (nh == PROTO_TCP || nh == PROTO_UDP) {
			*proto = nh;
			*off = o;
			return 0;
		}
		if (!(nh == IPV6_DSTOPTS || (nh == IPV6_HOPOPTS && i == 0)))
			return ERR_PARSE;
		if (len - o < 8)
			return ERR_PARSE;
		size_t ext = ((size_t)p[o + 1] + 1) * 8;
		if (len - o < ext)
			return ERR_PARSE;
		nh = p[o];
		o += ext;
	}
	return ERR_PARSE;
}

static int check_vnet(const struct virtio_net_hdr *vh)
{
	/* DATA_VALID (CHECKSUM_UNNECESSARY) is informational; anything else was
	 * never negotiated and means we misunderstand the packet. */
	if (vh->flags & ~(VIRTIO_NET_HDR_F_NEEDS_CSUM | VIRTIO_NET_HDR_F_DATA_VALID))
		return -EOPNOTSUPP;
	switch (vh->gso_type) {
	case VIRTIO_NET_HDR_GSO_NONE:
	case VIRTIO_NET_HDR_GSO_TCPV4:
	case VIRTIO_NET_HDR_GSO_TCPV6:
	case VIRTIO_NET_HDR_GSO_UDP_L4:
		return 0;
	default: /* UFO, ECN (TUN_F_TSO_ECN is not offered), unknown */
		return -EOPNOTSUPP;
	}
}

/* GSO_NONE: the packet must be IP, and a partial checksum must lie after the
 * fixed IP header with its 2 bytes inside the packet, at an even offset from
 * csum_start (the field is one 16-bit word of the data it checksums). */
static int check_plain(const uint8_t *pkt, size_t len, const struct virtio_net_hdr *vh)
{
	struct ipinfo ip;
	int rc = parse_ip(pkt, len, &ip);
	if (rc < 0)
		return rc;
	if (vh->flags & VIRTIO_NET_HDR_F_NEEDS_CSUM) {
		size_t start = vh->csum_start, off = vh->csum_offset;
		if (start < ip.iphlen || start >= len || (off & 1) || len - start < off ||
		    len - start - off < 2)
			return ERR_PARSE;
	}
	return 0;
}

/* Completes a CHECKSUM_PARTIAL packet: the field already holds the pseudo-
 * header sum, so summing from csum_start to the end over it gives the rest.
 * A result of 0 is sent as 0xffff (the kernel's skb_checksum_help does the
 * same; for UDP it is required, for TCP both encodings verify). */
static void finish_partial(uint8_t *pkt, size_t len, size_t start, size_t off)
{
	uint16_t c = csum_final(offload_csum_add(0, pkt + start, len - start));
	store16(pkt + start + off, c ? c : 0xffff);
}

int offload_finish_csum(uint8_t *pkt, size_t len, const struct virtio_net_hdr *vh)
{
	if (!pkt || !vh)
		return -EINVAL;
	int rc = check_vnet(vh);
	if (rc < 0)
		return rc;
	if (vh->gso_type != VIRTIO_NET_HDR_GSO_NONE)
		return -EOPNOTSUPP;
	rc = check_plain(pkt, len, vh);
	if (rc < 0)
		return rc;
	if (vh->flags & VIRTIO_NET_HDR_F_NEEDS_CSUM)
		finish_partial(pkt, len, vh->csum_start, vh->csum_offset);
	return 0;
}

/* ---- Split ------------------------------------------------------------------ */

struct gso {
	uint8_t ver;
	uint8_t proto;
	size_t l4off;    /* TCP/UDP header */
	size_t hlen;     /* all headers: what every segment repeats */
	size_t gso;      /* payload bytes per segment */
	size_t payload;  /* total payload */
	size_t nseg;
};

static int parse_gso(const uint8_t *pkt, size_t len, const struct virtio_net_hdr *vh, struct gso *g)
{
	struct ipinfo ip;
	int rc = parse_ip(pkt, len, &ip);
	if (rc < 0)
		return rc;
	uint8_t want = vh->gso_type == VIRTIO_NET_HDR_GSO_UDP_L4 ? PROTO_UDP : PROTO_TCP;
	if ((vh->gso_type == VIRTIO_NET_HDR_GSO_TCPV4 && ip.ver != 4) ||
	    (vh->gso_type == VIRTIO_NET_HDR_GSO_TCPV6 && ip.ver != 6))
		return ERR_PARSE;
	g->ver = ip.ver;
	if (ip.ver == 4) {
		if (load16(pkt + 6) & IPV4_FRAG_MASK)
			return ERR_PARSE;
		g->proto = ip.proto;
		g->l4off = ip.iphlen;
	} else {
		rc = ipv6_upper(pkt, len, &g->proto, &g->l4off);
		if (rc < 0)
			return rc;
	}
	if (g->proto != want)
		return ERR_PARSE;
	size_t csoff;
	if (want == PROTO_TCP) {
		if (len - g->l4off < TCP_HLEN)
			return ERR_PARSE;
		size_t thl = (size_t)(pkt[g->l4off + 12] >> 4) * 4;
		if (thl < TCP_HLEN)
			return ERR_PARSE;
		g->hlen = g->l4off + thl;
		csoff = TCP_CSUM_OFF;
	} else {
		g->hlen = g->l4off + UDP_HLEN;
		csoff = UDP_CSUM_OFF;
	}
	if (g->hlen > len)
		return ERR_PARSE;
	if ((vh->flags & VIRTIO_NET_HDR_F_NEEDS_CSUM) &&
	    (vh->csum_start != g->l4off || vh->csum_offset != csoff))
		return ERR_PARSE;
	if (vh->hdr_len > len || vh->gso_size == 0)
		return ERR_PARSE;
	g->gso = vh->gso_size;
	g->payload = len - g->hlen;
	if (g->payload == 0)
		return ERR_PARSE;
	g->nseg = (g->payload + g->gso - 1) / g->gso;
	return 0;
}

int offload_split(const uint8_t *pkt, size_t len, const struct virtio_net_hdr *vh,
		  struct offload_seg *segs, size_t nsegs)
{
	if (!pkt || !vh || !segs || !nsegs)
		return -EINVAL;
	int rc = check_vnet(vh);
	if (rc < 0)
		return rc;

	if (vh->gso_type == VIRTIO_NET_HDR_GSO_NONE) {
		rc = check_plain(pkt, len, vh);
		if (rc < 0)
			return rc;
		if (!segs[0].data)
			return -EINVAL;
		if (len > segs[0].cap)
			return ERR_TOOBIG;
		memcpy(segs[0].data, pkt, len);
		if (vh->flags & VIRTIO_NET_HDR_F_NEEDS_CSUM)
			finish_partial(segs[0].data, len, vh->csum_start, vh->csum_offset);
		segs[0].len = len;
		return 1;
	}

	struct gso g;
	rc = parse_gso(pkt, len, vh, &g);
	if (rc < 0)
		return rc;
	if (g.nseg > nsegs)
		return ERR_TOOBIG;
	for (size_t i = 0; i < g.nseg; i++) {
		size_t plen = i + 1 < g.nseg ? g.gso : g.payload - i * g.gso;
		if (!segs[i].data)
			return -EINVAL;
		if (g.hlen + plen > segs[i].cap)
			return ERR_TOOBIG;
	}

	/* Everything is valid and fits: from here on nothing can fail. */
	size_t alen = g.ver == 4 ? 4 : 16;
	const uint8_t *saddr = pkt + (g.ver == 4 ? 12 : 8);
	uint64_t psum = offload_csum_pseudo(saddr, saddr + alen, alen, g.proto, 0);
	size_t thl = g.hlen - g.l4off;
	uint16_t id0 = g.ver == 4 ? load16(pkt + 4) : 0;
	uint32_t seq0 = g.proto == PROTO_TCP ? load32(pkt + g.l4off + 4) : 0;
	uint8_t flags0 = g.proto == PROTO_TCP ? pkt[g.l4off + 13] : 0;
	const uint8_t *data = pkt + g.hlen;

	for (size_t i = 0; i < g.nseg; i++) {
		bool last = i + 1 == g.nseg;
		size_t plen = last ? g.payload - i * g.gso : g.gso;
		size_t seglen = g.hlen + plen;
		uint8_t *out = segs[i].data;

		memcpy(out, pkt, g.hlen);
		memcpy(out + g.hlen, data + i * g.gso, plen);

		if (g.ver == 4) {
			store16(out + 2, (uint16_t)seglen);
			store16(out + 4, (uint16_t)(id0 + i));
			store16(out + 10, 0);
			store16(out + 10, csum_final(offload_csum_add(0, out, g.l4off)));
		} else {
			store16(out + 4, (uint16_t)(seglen - IPV6_HLEN));
		}

		uint8_t *l4 = out + g.l4off;
		size_t l4len = seglen - g.l4off;
		if (g.proto == PROTO_TCP) {
			uint8_t flags = flags0;
			if (i > 0)
				flags &= (uint8_t)~TCP_CWR;
			if (!last)
				flags &= (uint8_t)~(TCP_FIN | TCP_PSH);
			store32(l4 + 4, seq0 + (uint32_t)(i * g.gso));
			l4[13] = flags;
			store16(l4 + TCP_CSUM_OFF, 0);
		} else {
			store16(l4 + 4, (uint16_t)l4len);
			store16(l4 + UDP_CSUM_OFF, 0);
		}
		uint64_t s = addc(psum, be32_image((uint32_t)l4len));
		s = offload_csum_add(s, l4, thl);
		s = offload_csum_add(s, out + g.hlen, plen);
		uint16_t c = csum_final(s);
		if (g.proto == PROTO_TCP)
			store16(l4 + TCP_CSUM_OFF, c);
		else
			store16(l4 + UDP_CSUM_OFF, c ? c : 0xffff); /* RFC 768: 0 means none */
		segs[i].len = seglen;
	}
	return (int)g.nseg;
}

/* ---- Coalesce --------------------------------------------------------------- */

enum kind { K_NONE, K_TCP4, K_TCP6, K_UDP4, K_UDP6 };

/* What classify learns about one packet. */
struct cand {
	uint8_t kind;
	uint8_t iphl;    /* 20 or 40: no IPv4 options, no IPv6 extension headers */
	uint8_t hlen;    /* iphl + TCP/UDP header */
	bool psh;
	uint16_t plen;   /* payload, >= 1 */
	uint32_t seq;
};

/* A run being built: the packets merged into pkts[head] so far. */
struct group {
	uint32_t hash;
	uint32_t next_seq;   /* TCP: sequence number the next segment must have */
	uint16_t next_id;    /* IPv4: id the next packet must have */
	uint16_t gso;        /* payload of the head: every segment but the last */
	uint8_t head;
	uint8_t count;       /* packets in the run, head included */
	uint8_t kind;
	uint8_t hlen;
	bool closed;         /* PSH or a short segment ended it, or head csum bad */
	bool verified;       /* head's TCP/UDP checksum checked */
};

static bool is_tcp(uint8_t kind)
{
	return kind == K_TCP4 || kind == K_TCP6;
}

static bool is_v6(uint8_t kind)
{
	return kind == K_TCP6 || kind == K_UDP6;
}

static uint8_t classify(const uint8_t *p, size_t len, bool uso, struct cand *c)
{
	uint8_t proto;
	size_t iphl;
	bool v6;

	c->kind = K_NONE;
	if (len < IPV4_HLEN || len > OFFLOAD_GRO_MAX_LEN)
		return K_NONE;
	if (p[0] == 0x45) {
		/* No options, not a fragment, and a header checksum that verifies in
		 * the encoding offload_split would write (so a round trip is exact). */
		if (load16(p + 2) != len || (load16(p + 6) & IPV4_FRAG_MASK))
			return K_NONE;
		if (offload_csum_fold(offload_csum_add(0, p, IPV4_HLEN)) != 0xffff ||
		    load16(p + 10) == 0xffff)
			return K_NONE;
		proto = p[9];
		iphl = IPV4_HLEN;
		v6 = false;
	} else if ((p[0] >> 4) == 6) {
		if (len < IPV6_HLEN || len - IPV6_HLEN != load16(p + 4))
			return K_NONE;
		proto = p[6];
		iphl = IPV6_HLEN;
		v6 = true;
	} else {
		return K_NONE;
	}

	size_t hlen;
	if (proto == PROTO_TCP) {
		if (len - iphl < TCP_HLEN)
			return K_NONE;
		size_t thl = (size_t)(p[iphl + 12] >> 4) * 4;
		if (thl < TCP_HLEN || len - iphl < thl)
			return K_NONE;
		/* SYN, FIN, RST, URG, ECE and CWR all end coalescing. */
		uint8_t flags = p[iphl + 13];
		if (flags != TCP_ACK && flags != (TCP_ACK | TCP_PSH))
			return K_NONE;
		hlen = iphl + thl;
		c->psh = flags & TCP_PSH;
		c->seq = load32(p + iphl + 4);
		c->kind = v6 ? K_TCP6 : K_TCP4;
	} else if (proto == PROTO_UDP && uso) {
		if (len - iphl < UDP_HLEN || load16(p + iphl + 4) != len - iphl)
			return K_NONE;
		hlen = iphl + UDP_HLEN;
		c->psh = false;
		c->seq = 0;
		c->kind = v6 ? K_UDP6 : K_UDP4;
	} else {
		return K_NONE;
	}
	if (len == hlen) {
		c->kind = K_NONE;
		return K_NONE;
	}
	c->iphl = (uint8_t)iphl;
	c->hlen = (uint8_t)hlen;
	c->plen = (uint16_t)(len - hlen);
	return c->kind;
}

/* Flow identity: addresses, ports and, for TCP, the ACK number (segments that
 * acknowledge different data are not one GRO flow). */
static uint32_t flow_hash(const uint8_t *p, const struct cand *c)
{
	size_t aoff = is_v6(c->kind) ? 8 : 12, alen = is_v6(c->kind) ? 32 : 8;
	uint32_t h = 0x9e3779b9u * c->kind;
	for (size_t i = 0; i < alen; i += 4)
		h = (h ^ load32(p + aoff + i)) * 0x01000193u;
	h = (h ^ load32(p + c->iphl)) * 0x01000193u;
	if (is_tcp(c->kind))
		h = (h ^ load32(p + c->iphl + 8)) * 0x01000193u;
	return h ^ (h >> 15);
}

static bool same_flow(const uint8_t *a, const uint8_t *b, const struct cand *c)
{
	size_t aoff = is_v6(c->kind) ? 8 : 12, alen = is_v6(c->kind) ? 32 : 8;
	if (memcmp(a + aoff, b + aoff, alen) != 0 || memcmp(a + c->iphl, b + c->iphl, 4) != 0)
		return false;
	return !is_tcp(c->kind) || memcmp(a + c->iphl + 8, b + c->iphl + 8, 4) == 0;
}

/* The transport checksum verifies and is in the encoding offload_split
 * writes (TCP never 0xffff, UDP never 0), so splitting reproduces it. */
static bool l4_csum_ok(const uint8_t *p, size_t len, const struct cand *c)
{
	bool v6 = is_v6(c->kind), tcp = is_tcp(c->kind);
	size_t alen = v6 ? 16 : 4;
	const uint8_t *saddr = p + (v6 ? 8 : 12);
	uint64_t s = offload_csum_pseudo(saddr, saddr + alen, alen, tcp ? PROTO_TCP : PROTO_UDP,
					 (uint32_t)(len - c->iphl));
	s = offload_csum_add(s, p + c->iphl, len - c->iphl);
	if (offload_csum_fold(s) != 0xffff)
		return false;
	uint16_t field = load16(p + c->iphl + (tcp ? TCP_CSUM_OFF : UDP_CSUM_OFF));
	return tcp ? field != 0xffff : field != 0;
}

/* Header fields that must be equal (or follow on) for pkt to join g: the
 * kernel's GRO flush conditions, and what a later split restores. */
static bool headers_follow(const uint8_t *h, const uint8_t *p, const struct group *g, const struct cand *c)
{
	if (c->hlen != g->hlen)
		return false;
	if (is_v6(c->kind)) {
		if (memcmp(h, p, 4) != 0 || h[7] != p[7]) /* version, class, flow label; hop limit */
			return false;
	} else {
		if (h[1] != p[1] || h[8] != p[8] || h[6] != p[6] || h[7] != p[7]) /* TOS, TTL, DF */
			return false;
		if (load16(p + 4) != g->next_id)
			return false;
	}
	if (!is_tcp(c->kind))
		return true;
	const uint8_t *ht = h + c->iphl, *pt = p + c->iphl;
	if (c->seq != g->next_seq)
		return false;
	/* data offset, flags but PSH, window, urgent pointer, options */
	if (ht[12] != pt[12] || ((ht[13] ^ pt[13]) & (uint8_t)~TCP_PSH) ||
	    memcmp(ht + 14, pt + 14, 2) != 0 || memcmp(ht + 18, pt + 18, 2) != 0)
		return false;
	return memcmp(ht + TCP_HLEN, pt + TCP_HLEN, (size_t)(c->hlen - c->iphl) - TCP_HLEN) == 0;
}

/* Tries to append packet p (len bytes) to the run g headed by hp. */
static bool try_merge(struct offload_pkt *hp, const uint8_t *p, size_t len, struct group *g, const struct cand *c)
{
	if (g->closed || g->count >= OFFLOAD_GRO_MAX_SEGS || c->plen > g->gso)
		return false;
	size_t room = hp->cap < OFFLOAD_GRO_MAX_LEN ? hp->cap : OFFLOAD_GRO_MAX_LEN;
	if (hp->len + c->plen > room)
		return false;
	if (!headers_follow(hp->data, p, g, c))
		return false;
	if (!g->verified) {
		/* Same kind and header lengths as c: checked once, before any merge. */
		g->verified = true;
		if (!l4_csum_ok(hp->data, hp->len, c)) {
			g->closed = true;
			return false;
		}
	}
	if (!l4_csum_ok(p, len, c))
		return false;

	memcpy(hp->data + hp->len, p + c->hlen, c->plen);
	hp->len += c->plen;
	g->count++;
	g->next_seq += c->plen;
	g->next_id++;
	if (c->psh) {
		hp->data[c->iphl + 13] |= TCP_PSH;
		g->closed = true;
	}
	if (c->plen < g->gso)
		g->closed = true;
	return true;
}

/* Turns a merged run into a CHECKSUM_PARTIAL GSO packet. */
static void finish_group(struct offload_pkt *hp, const struct group *g, struct virtio_net_hdr *vh)
{
	uint8_t *p = hp->data;
	bool v6 = is_v6(g->kind), tcp = is_tcp(g->kind);
	size_t iphl = v6 ? IPV6_HLEN : IPV4_HLEN;
	size_t l4len = hp->len - iphl;

	if (v6) {
		store16(p + 4, (uint16_t)l4len);
	} else {
		/* The header checksum was verified in classify: update it. */
		uint16_t old = load16(p + 2);
		store16(p + 2, (uint16_t)hp->len);
		store16(p + 10, offload_csum_update16(load16(p + 10), old, (uint16_t)hp->len));
	}
	if (!tcp)
		store16(p + iphl + 4, (uint16_t)l4len);
	size_t alen = v6 ? 16 : 4;
	const uint8_t *saddr = p + (v6 ? 8 : 12);
	uint16_t partial = offload_csum_fold(offload_csum_pseudo(saddr, saddr + alen, alen,
								 tcp ? PROTO_TCP : PROTO_UDP,
								 (uint32_t)l4len));
	store16(p + iphl + (tcp ? TCP_CSUM_OFF : UDP_CSUM_OFF), partial);

	vh->flags = VIRTIO_NET_HDR_F_NEEDS_CSUM;
	vh->gso_type = tcp ? (v6 ? VIRTIO_NET_HDR_GSO_TCPV6 : VIRTIO_NET_HDR_GSO_TCPV4)
			   : VIRTIO_NET_HDR_GSO_UDP_L4;
	vh->hdr_len = g->hlen;
	vh->gso_size = g->gso;
	vh->csum_start = (uint16_t)iphl;
	vh->csum_offset = tcp ? TCP_CSUM_OFF : UDP_CSUM_OFF;
}

int offload_coalesce(struct offload_pkt *pkts, size_t n, bool uso, struct iovec *out)
{
	if ((!pkts || !out) && n)
		return -EINVAL;
	if (n > OFFLOAD_GRO_BATCH)
		return -E2BIG;
	for (size_t i = 0; i < n; i++)
		if (!pkts[i].data || pkts[i].len > pkts[i].cap)
			return -EINVAL;

	struct group groups[OFFLOAD_GRO_BATCH];
	uint8_t slots[GRO_SLOTS];          /* group index + 1 of each flow's current run; 0 empty */
	uint8_t role[OFFLOAD_GRO_BATCH];   /* group index + 1 if the packet heads a run, 0 alone, 0xff merged */
	size_t ngroups = 0;
	memset(slots, 0, sizeof(slots));

	for (size_t i = 0; i < n; i++) {
		struct cand c;
		const uint8_t *p = pkts[i].data;
		role[i] = 0;
		if (classify(p, pkts[i].len, uso, &c) == K_NONE)
			continue;

		uint32_t h = flow_hash(p, &c);
		size_t s = h & (GRO_SLOTS - 1);
		for (; slots[s]; s = (s + 1) & (GRO_SLOTS - 1)) {
			struct group *g = &groups[slots[s] - 1];
			if (g->hash == h && g->kind == c.kind && same_flow(pkts[g->head].data, p, &c))
				break;
		}
		if (slots[s]) {
			struct group *g = &groups[slots[s] - 1];
			if (try_merge(&pkts[g->head], p, pkts[i].len, g, &c)) {
				role[i] = 0xff;
				continue;
			}
		}
		/* Start a new run; it becomes the flow's current one, so a flow's
		 * packets never overtake each other. */
		struct group *g = &groups[ngroups];
		*g = (struct group){
			.hash = h,
			.next_seq = c.seq + c.plen,
			.next_id = (uint16_t)(is_v6(c.kind) ? 0 : load16(p + 4) + 1),
			.gso = c.plen,
			.head = (uint8_t)i,
			.count = 1,
			.kind = c.kind,
			.hlen = c.hlen,
			.closed = c.psh,
		};
		slots[s] = (uint8_t)++ngroups;
		role[i] = (uint8_t)ngroups;
	}

	size_t k = 0;
	for (size_t i = 0; i < n; i++) {
		if (role[i] == 0xff)
			continue;
		struct virtio_net_hdr vh;
		memset(&vh, 0, sizeof(vh));
		if (role[i] && groups[role[i] - 1].count > 1)
			finish_group(&pkts[i], &groups[role[i] - 1], &vh);
		uint8_t *start = pkts[i].data - OFFLOAD_VNET_HDR_LEN;
		memcpy(start, &vh, sizeof(vh));
		out[k].iov_base = start;
		out[k].iov_len = pkts[i].len + OFFLOAD_VNET_HDR_LEN;
		k++;
	}
	return (int)k;
}
