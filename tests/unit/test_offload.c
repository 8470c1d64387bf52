#include "support.h"

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>

#include "awg/offload.h"

/* ---- Reference checksum: the textbook RFC 1071 loop, 16-bit words ------- */

static uint32_t ref_add(uint32_t acc, const uint8_t *p, size_t n)
{
	for (size_t i = 0; i + 1 < n; i += 2)
		acc += (uint32_t)(p[i] << 8 | p[i + 1]);
	if (n & 1)
		acc += (uint32_t)p[n - 1] << 8;
	return acc;
}

static uint16_t ref_fold(uint32_t acc)
{
	while (acc >> 16)
		acc = (acc & 0xffff) + (acc >> 16);
	return (uint16_t)acc;
}

static uint32_t ref_pseudo(const uint8_t *ip, uint8_t proto, size_t l4len)
{
	bool v6 = ip[0] >> 4 == 6;
	uint32_t acc = ref_add(0, ip + (v6 ? 8 : 12), v6 ? 32 : 8);
	return acc + proto + (uint32_t)(l4len >> 16) + (uint32_t)(l4len & 0xffff);
}

static uint16_t rd16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static uint32_t rd32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static void wr16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static void wr32(uint8_t *p, uint32_t v)
{
	wr16(p, (uint16_t)(v >> 16));
	wr16(p + 2, (uint16_t)v);
}

/* ---- Packet builder -------------------------------------------------------- */

enum { TCP = 6, UDP = 17 };
enum { FIN = 0x01, SYN = 0x02, RST = 0x04, PSH = 0x08, ACK = 0x10, URG = 0x20, CWR = 0x80 };

struct spec {
	int ver;              /* 4 or 6 */
	int proto;            /* TCP or UDP */
	uint16_t sport, dport;
	uint32_t seq, ack;
	uint8_t flags;
	uint16_t win;
	uint8_t ttl;
	uint8_t tos;
	uint16_t id;
	const uint8_t *opts;  /* TCP options, multiple of 4 */
	size_t optlen;
	const uint8_t *ipopts; /* IPv4 options, multiple of 4 */
	size_t ipoptlen;
	size_t plen;          /* payload bytes */
	size_t pos;           /* stream offset of the first payload byte */
	bool partial;         /* leave the pseudo-header sum (CHECKSUM_PARTIAL) */
};

static uint8_t stream_byte(size_t o)
{
	return (uint8_t)(o * 31 + 7 + (o >> 8));
}

static struct spec tcp4(uint32_t seq, size_t plen)
{
	return (struct spec){ .ver = 4, .proto = TCP, .sport = 40000, .dport = 5201, .seq = seq,
			      .ack = 0x11223344, .flags = ACK, .win = 502, .ttl = 64, .id = 0x1000,
			      .plen = plen, .pos = seq };
}

static struct spec tcp6(uint32_t seq, size_t plen)
{
	struct spec s = tcp4(seq, plen);
	s.ver = 6;
	return s;
}

static struct spec udp4(size_t plen, size_t pos)
{
	return (struct spec){ .ver = 4, .proto = UDP, .sport = 4433, .dport = 443, .ttl = 64,
			      .id = 0x2000, .plen = plen, .pos = pos };
}

/* Writes the packet described by s into buf; returns its length. Checksums
 * are computed with the reference functions above. */
static size_t build(uint8_t *buf, const struct spec *s)
{
	size_t iphl = s->ver == 4 ? 20 + s->ipoptlen : 40;
	size_t l4hl = s->proto == TCP ? 20 + s->optlen : 8;
	size_t len = iphl + l4hl + s->plen;
	memset(buf, 0, iphl + l4hl);
	if (s->ver == 4) {
		buf[0] = (uint8_t)(0x40 | iphl / 4);
		buf[1] = s->tos;
		wr16(buf + 2, (uint16_t)len);
		wr16(buf + 4, s->id);
		wr16(buf + 6, 0x4000); /* DF */
		buf[8] = s->ttl;
		buf[9] = (uint8_t)s->proto;
		static const uint8_t a4[8] = { 10, 0, 0, 1, 10, 0, 0, 2 };
		memcpy(buf + 12, a4, 8);
		if (s->ipoptlen)
			memcpy(buf + 20, s->ipopts, s->ipoptlen);
		wr16(buf + 10, (uint16_t)~ref_fold(ref_add(0, buf, iphl)));
	} else {
		buf[0] = (uint8_t)(0x60 | s->tos >> 4);
		buf[1] = (uint8_t)(s->tos << 4 | 0x0a);
		buf[2] = 0xbc;
		buf[3] = 0xde;
		wr16(buf + 4, (uint16_t)(len - 40));
		buf[6] = (uint8_t)s->proto;
		buf[7] = s->ttl;
		for (int i = 0; i < 16; i++) {
			buf[8 + i] = (uint8_t)(i == 0 ? 0xfd : i == 15 ? 1 : 0x10 + i);
			buf[24 + i] = (uint8_t)(i == 0 ? 0xfd : i == 15 ? 2 : 0x10 + i);
		}
	}
	uint8_t *l4 = buf + iphl;
	wr16(l4, s->sport);
	wr16(l4 + 2, s->dport);
	if (s->proto == TCP) {
		wr32(l4 + 4, s->seq);
		wr32(l4 + 8, s->ack);
		l4[12] = (uint8_t)(l4hl / 4 << 4);
		l4[13] = s->flags;
		wr16(l4 + 14, s->win);
		if (s->optlen)
			memcpy(l4 + 20, s->opts, s->optlen);
	} else {
		wr16(l4 + 4, (uint16_t)(l4hl + s->plen));
	}
	for (size_t i = 0; i < s->plen; i++)
		l4[l4hl + i] = stream_byte(s->pos + i);
	size_t l4len = len - iphl;
	size_t csoff = s->proto == TCP ? 16 : 6;
	uint32_t ps = ref_pseudo(buf, (uint8_t)s->proto, l4len);
	if (s->partial) {
		wr16(l4 + csoff, ref_fold(ps));
	} else {
		uint16_t c = (uint16_t)~ref_fold(ref_add(ps, l4, l4len));
		wr16(l4 + csoff, s->proto == UDP && c == 0 ? 0xffff : c);
	}
	return len;
}

/* True when the packet's IP header checksum (IPv4) and TCP/UDP checksum verify. */
static bool csums_verify(const uint8_t *p, size_t len)
{
	bool v6 = p[0] >> 4 == 6;
	size_t iphl = v6 ? 40 : (size_t)(p[0] & 15) * 4;
	if (!v6 && ref_fold(ref_add(0, p, iphl)) != 0xffff)
		return false;
	uint8_t proto = v6 ? p[6] : p[9];
	return ref_fold(ref_add(ref_pseudo(p, proto, len - iphl), p + iphl, len - iphl)) == 0xffff;
}

static struct virtio_net_hdr gso_hdr(uint8_t type, const uint8_t *pkt, uint16_t mss)
{
	bool v6 = pkt[0] >> 4 == 6;
	uint16_t iphl = v6 ? 40 : (uint16_t)((pkt[0] & 15) * 4);
	bool tcp = type != VIRTIO_NET_HDR_GSO_UDP_L4;
	uint16_t l4hl = tcp ? (uint16_t)((pkt[iphl + 12] >> 4) * 4) : 8;
	return (struct virtio_net_hdr){ .flags = VIRTIO_NET_HDR_F_NEEDS_CSUM, .gso_type = type,
					.hdr_len = (uint16_t)(iphl + l4hl), .gso_size = mss,
					.csum_start = iphl, .csum_offset = tcp ? 16 : 6 };
}

/* ---- Buffers ---------------------------------------------------------------- */

#define NBUF 72
#define BUFSZ (OFFLOAD_VNET_HDR_LEN + 65535)
static uint8_t super[70000];
static uint8_t segbuf[NBUF][65600];
static uint8_t expect[NBUF][65600];
static size_t expect_len[NBUF];
static uint8_t gro[NBUF][BUFSZ];

static void segs_init(struct offload_seg *segs, size_t n, size_t cap)
{
	for (size_t i = 0; i < n; i++) {
		segs[i] = (struct offload_seg){ .data = segbuf[i], .cap = cap, .len = 0 };
		memset(segbuf[i], 0xaa, 256);
	}
}

/* ---- Checksum helpers ----------------------------------------------------------- */

static void the_checksum_matches_the_reference_at_every_length_and_alignment(void **state)
{
	uint8_t buf[400];
	srand(7);
	for (size_t i = 0; i < sizeof(buf); i++)
		buf[i] = (uint8_t)rand();
	for (size_t off = 0; off < 8; off++)
		for (size_t len = 0; len <= 300; len++)
			assert_int_equal(offload_csum_fold(offload_csum_add(0, buf + off, len)),
					 ref_fold(ref_add(0, buf + off, len)));
	/* Chaining at even offsets equals one pass; all-0xff data must not overflow. */
	for (size_t cut = 0; cut <= 300; cut += 2)
		assert_int_equal(offload_csum_fold(offload_csum_add(offload_csum_add(0, buf, cut), buf + cut, 301 - cut)),
				 ref_fold(ref_add(0, buf, 301)));
	static uint8_t ones[65536];
	memset(ones, 0xff, sizeof(ones));
	assert_int_equal(offload_csum_fold(offload_csum_add(~0ull, ones, sizeof(ones))), 0xffff);
	assert_int_equal(offload_csum_fold(0), 0);
}

static void the_pseudo_header_sum_matches_the_reference_for_ipv4_and_ipv6(void **state)
{
	uint8_t p[100];
	struct spec s4 = tcp4(1, 10), s6 = tcp6(1, 10);
	build(p, &s4);
	assert_int_equal(offload_csum_fold(offload_csum_pseudo(p + 12, p + 16, 4, TCP, 30)),
			 ref_fold(ref_pseudo(p, TCP, 30)));
	build(p, &s6);
	assert_int_equal(offload_csum_fold(offload_csum_pseudo(p + 8, p + 24, 16, UDP, 0x12345)),
			 ref_fold(ref_pseudo(p, UDP, 0x12345)));
}

static void an_incremental_update_equals_a_full_recompute(void **state)
{
	uint8_t p[100];
	struct spec s = tcp4(1, 10);
	build(p, &s);
	for (uint32_t v = 0; v < 65536; v += 251) {
		uint16_t old = rd16(p + 2);
		uint16_t upd = offload_csum_update16(rd16(p + 10), old, (uint16_t)v);
		wr16(p + 2, (uint16_t)v);
		wr16(p + 10, 0);
		uint16_t full = (uint16_t)~ref_fold(ref_add(0, p, 20));
		/* Both encodings of zero verify; otherwise the values are equal. */
		assert_true(upd == full || (full == 0 && upd == 0xffff) || (full == 0xffff && upd == 0));
		wr16(p + 10, upd);
		assert_int_equal(ref_fold(ref_add(0, p, 20)), 0xffff);
	}
}

/* ---- Split ------------------------------------------------------------------------ */

/* Builds a super-packet from spec sp as the kernel hands it over (full
 * lengths, pseudo-header sum in the checksum field) and checks that splitting
 * it at mss gives exactly the packets built one by one. */
static void split_and_compare(struct spec sp, uint8_t type, uint16_t mss)
{
	sp.partial = true;
	size_t len = build(super, &sp);
	struct virtio_net_hdr vh = gso_hdr(type, super, mss);
	size_t nseg = (sp.plen + mss - 1) / mss;

	for (size_t i = 0; i < nseg; i++) {
		struct spec e = sp;
		e.partial = false;
		e.plen = i + 1 < nseg ? mss : sp.plen - i * mss;
		e.pos = sp.pos + i * mss;
		e.id = (uint16_t)(sp.id + i);
		if (sp.proto == TCP) {
			e.seq = sp.seq + (uint32_t)(i * mss);
			if (i > 0)
				e.flags &= (uint8_t)~CWR;
			if (i + 1 < nseg)
				e.flags &= (uint8_t)~(FIN | PSH);
		}
		expect_len[i] = build(expect[i], &e);
	}

	struct offload_seg segs[NBUF];
	segs_init(segs, NBUF, 65600);
	int n = offload_split(super, len, &vh, segs, NBUF);
	assert_int_equal(n, (int)nseg);
	size_t iphl = sp.ver == 4 ? 20 + sp.ipoptlen : 40;
	for (size_t i = 0; i < nseg; i++) {
		const uint8_t *o = segs[i].data;
		assert_int_equal(segs[i].len, expect_len[i]);
		/* Field by field first, so a failure says what is wrong. */
		if (sp.ver == 4) {
			assert_int_equal(rd16(o + 2), segs[i].len);
			assert_int_equal(rd16(o + 4), (uint16_t)(sp.id + i));
		} else {
			assert_int_equal(rd16(o + 4), segs[i].len - 40);
		}
		if (sp.proto == TCP)
			assert_int_equal(rd32(o + iphl + 4), sp.seq + (uint32_t)(i * mss));
		else
			assert_int_equal(rd16(o + iphl + 4), segs[i].len - iphl);
		assert_true(csums_verify(o, segs[i].len));
		assert_memory_equal(o, expect[i], expect_len[i]);
	}
}

static void a_tcp4_super_packet_splits_into_mss_segments_with_fixed_headers(void **state)
{
	split_and_compare(tcp4(1000, 3 * 1448 + 500), VIRTIO_NET_HDR_GSO_TCPV4, 1448);
	split_and_compare(tcp4(5, 64 * 1000), VIRTIO_NET_HDR_GSO_TCPV4, 1000);
	split_and_compare(tcp4(5, 4 * 1000), VIRTIO_NET_HDR_GSO_TCPV4, 1000); /* no short tail */
	split_and_compare(tcp4(5, 999), VIRTIO_NET_HDR_GSO_TCPV4, 1000);      /* one segment */
	split_and_compare(tcp4(5, 60), VIRTIO_NET_HDR_GSO_TCPV4, 1);          /* tiny mss */
}

static void a_tcp6_super_packet_splits_into_mss_segments_with_fixed_headers(void **state)
{
	split_and_compare(tcp6(77, 5 * 1380 + 1), VIRTIO_NET_HDR_GSO_TCPV6, 1380);
	split_and_compare(tcp6(77, 65535 - 60), VIRTIO_NET_HDR_GSO_TCPV6, 1440);
}

static void a_udp_super_packet_splits_into_datagrams_with_length_and_checksum(void **state)
{
	split_and_compare(udp4(3 * 1200 + 17, 0), VIRTIO_NET_HDR_GSO_UDP_L4, 1200);
	struct spec s = udp4(10 * 1350, 3);
	s.ver = 6;
	split_and_compare(s, VIRTIO_NET_HDR_GSO_UDP_L4, 1350);
}

static void a_udp_checksum_that_computes_to_zero_is_sent_as_ffff(void **state)
{
	/* Pick the last payload word of the first datagram so that its checksum
	 * computes to 0, which UDP must send as 0xffff (RFC 768). */
	struct spec s = udp4(2 * 100, 0);
	s.partial = true;
	size_t len = build(super, &s);
	uint8_t *w = super + 28 + 98;
	wr16(w, 0);
	uint32_t acc = ref_pseudo(super, UDP, 108) + 108; /* + the UDP length field */
	acc = ref_add(acc, super + 20, 4);     /* ports */
	acc = ref_add(acc, super + 28, 100);   /* payload, w = 0 */
	wr16(w, (uint16_t)(0xffff - ref_fold(acc)));
	struct virtio_net_hdr vh = gso_hdr(VIRTIO_NET_HDR_GSO_UDP_L4, super, 100);
	struct offload_seg segs[2];
	segs_init(segs, 2, 2000);
	assert_int_equal(offload_split(super, len, &vh, segs, 2), 2);
	assert_int_equal(rd16(segs[0].data + 26), 0xffff);
	assert_true(csums_verify(segs[0].data, segs[0].len));
	assert_true(csums_verify(segs[1].data, segs[1].len));
}

static void fin_and_psh_stay_on_the_last_segment_and_cwr_on_the_first(void **state)
{
	struct spec s = tcp4(1, 3 * 1000 + 10);
	s.flags = ACK | PSH | FIN | CWR;
	split_and_compare(s, VIRTIO_NET_HDR_GSO_TCPV4, 1000);
	const uint8_t *f[4] = { segbuf[0] + 33, segbuf[1] + 33, segbuf[2] + 33, segbuf[3] + 33 };
	assert_int_equal(*f[0], ACK | CWR);
	assert_int_equal(*f[1], ACK);
	assert_int_equal(*f[2], ACK);
	assert_int_equal(*f[3], ACK | PSH | FIN);
}

static void the_ipv4_id_and_the_sequence_number_wrap_around(void **state)
{
	struct spec s = tcp4(0xfffffc00u, 4 * 512);
	s.id = 0xfffe;
	split_and_compare(s, VIRTIO_NET_HDR_GSO_TCPV4, 512);
	assert_int_equal(rd16(segbuf[2] + 4), 0);
	assert_int_equal(rd32(segbuf[2] + 24), 0);
}

static void options_and_ipv6_extension_headers_are_repeated_in_every_segment(void **state)
{
	static const uint8_t tsopt[12] = { 1, 1, 8, 10, 0, 0, 1, 0, 0, 0, 2, 0 };
	static const uint8_t ipopt[4] = { 1, 1, 1, 0 }; /* NOP NOP NOP EOL */
	struct spec s = tcp4(9, 3 * 1000);
	s.opts = tsopt;
	s.optlen = sizeof(tsopt);
	s.ipopts = ipopt;
	s.ipoptlen = sizeof(ipopt);
	split_and_compare(s, VIRTIO_NET_HDR_GSO_TCPV4, 1000);

	/* IPv6 + 8-byte destination options header in front of TCP. */
	struct spec s6 = tcp6(9, 2 * 1000 + 3);
	s6.partial = true;
	size_t len = build(segbuf[70], &s6);
	memcpy(super, segbuf[70], 40);
	super[6] = 60;
	static const uint8_t dopt[8] = { TCP, 0, 1, 4, 0, 0, 0, 0 };
	memcpy(super + 40, dopt, 8);
	memcpy(super + 48, segbuf[70] + 40, len - 40);
	len += 8;
	wr16(super + 4, (uint16_t)(len - 40));
	struct virtio_net_hdr vh = { .flags = VIRTIO_NET_HDR_F_NEEDS_CSUM, .gso_type = VIRTIO_NET_HDR_GSO_TCPV6,
				     .hdr_len = 48 + 20, .gso_size = 1000, .csum_start = 48, .csum_offset = 16 };
	struct offload_seg segs[4];
	segs_init(segs, 4, 65600);
	assert_int_equal(offload_split(super, len, &vh, segs, 4), 3);
	for (int i = 0; i < 3; i++) {
		const uint8_t *o = segs[i].data;
		assert_int_equal(rd16(o + 4), segs[i].len - 40);
		assert_memory_equal(o + 40, dopt, 8);
		assert_int_equal(rd32(o + 48 + 4), 9 + 1000 * i);
		uint32_t acc = ref_pseudo(o, TCP, segs[i].len - 48);
		assert_int_equal(ref_fold(ref_add(acc, o + 48, segs[i].len - 48)), 0xffff);
	}
	assert_int_equal(segs[2].len, 48 + 20 + 3);
}

static void a_plain_packet_passes_through_unchanged(void **state)
{
	struct spec s = tcp4(1, 500);
	size_t len = build(super, &s);
	struct offload_seg segs[1];
	segs_init(segs, 1, 2000);
	struct virtio_net_hdr vh = { 0 };
	assert_int_equal(offload_split(super, len, &vh, segs, 1), 1);
	assert_int_equal(segs[0].len, len);
	assert_memory_equal(segs[0].data, super, len);
	vh.flags = VIRTIO_NET_HDR_F_DATA_VALID;
	assert_int_equal(offload_split(super, len, &vh, segs, 1), 1);
	assert_memory_equal(segs[0].data, super, len);
	vh.flags = 0;
	assert_int_equal(offload_finish_csum(super, len, &vh), 0);
	assert_true(csums_verify(super, len));
}

static void a_partial_checksum_is_completed_for_a_single_packet(void **state)
{
	struct spec s = udp4(333, 0);
	s.ver = 6;
	size_t full_len = build(expect[0], &s);
	s.partial = true;
	size_t len = build(super, &s);
	assert_int_equal(len, full_len);
	struct virtio_net_hdr vh = { .flags = VIRTIO_NET_HDR_F_NEEDS_CSUM, .csum_start = 40, .csum_offset = 6 };
	struct offload_seg segs[1];
	segs_init(segs, 1, 2000);
	assert_int_equal(offload_split(super, len, &vh, segs, 1), 1);
	assert_memory_equal(segs[0].data, expect[0], len);
	/* In place, no copy. */
	assert_int_equal(offload_finish_csum(super, len, &vh), 0);
	assert_memory_equal(super, expect[0], len);
	/* A GSO header is for offload_split only. */
	vh.gso_type = VIRTIO_NET_HDR_GSO_UDP_L4;
	assert_int_equal(offload_finish_csum(super, len, &vh), -EOPNOTSUPP);
}

/* One malformed case: a mutation of a valid TCP/IPv4 super-packet. */
struct bad {
	const char *what;
	void (*mutate)(uint8_t *p, size_t *len, struct virtio_net_hdr *vh);
	int err;
};

static void m_truncated_ip(uint8_t *p, size_t *len, struct virtio_net_hdr *vh) { *len = 12; }
static void m_truncated_tcp(uint8_t *p, size_t *len, struct virtio_net_hdr *vh)
{
	*len = 30;
	wr16(p + 2, 30);
}
static void m_short_tcp_options(uint8_t *p, size_t *len, struct virtio_net_hdr *vh)
{
	*len = 50;
	wr16(p + 2, 50);
	p[32] = 0xf0; /* 60-byte TCP header in a 50-byte packet */
}
static void m_hdr_len(uint8_t *p, size_t *len, struct virtio_net_hdr *vh) { vh->hdr_len = (uint16_t)(*len + 1); }
static void m_gso_zero(uint8_t *p, size_t *len, struct virtio_net_hdr *vh) { vh->gso_size = 0; }
static void m_csum_start(uint8_t *p, size_t *len, struct virtio_net_hdr *vh) { vh->csum_start = 60000; }
static void m_csum_offset(uint8_t *p, size_t *len, struct virtio_net_hdr *vh) { vh->csum_offset = 6; }
static void m_ihl_small(uint8_t *p, size_t *len, struct virtio_net_hdr *vh) { p[0] = 0x44; }
static void m_ihl_large(uint8_t *p, size_t *len, struct virtio_net_hdr *vh)
{
	p[0] = 0x4f;
	*len = 40;
	wr16(p + 2, 40);
}
static void m_tot_len(uint8_t *p, size_t *len, struct virtio_net_hdr *vh) { wr16(p + 2, (uint16_t)(*len - 1)); }
static void m_version(uint8_t *p, size_t *len, struct virtio_net_hdr *vh) { vh->gso_type = VIRTIO_NET_HDR_GSO_TCPV6; }
static void m_ip_version(uint8_t *p, size_t *len, struct virtio_net_hdr *vh) { p[0] = 0x55; }
static void m_proto(uint8_t *p, size_t *len, struct virtio_net_hdr *vh)
{
	vh->gso_type = VIRTIO_NET_HDR_GSO_UDP_L4;
	vh->csum_offset = 6;
}
static void m_doff(uint8_t *p, size_t *len, struct virtio_net_hdr *vh) { p[32] = 0x40; }
static void m_fragment(uint8_t *p, size_t *len, struct virtio_net_hdr *vh) { wr16(p + 6, 0x2000); }
static void m_no_payload(uint8_t *p, size_t *len, struct virtio_net_hdr *vh)
{
	*len = 40;
	wr16(p + 2, 40);
}
static void m_ufo(uint8_t *p, size_t *len, struct virtio_net_hdr *vh) { vh->gso_type = VIRTIO_NET_HDR_GSO_UDP; }
static void m_ecn(uint8_t *p, size_t *len, struct virtio_net_hdr *vh) { vh->gso_type |= VIRTIO_NET_HDR_GSO_ECN; }
static void m_flag(uint8_t *p, size_t *len, struct virtio_net_hdr *vh) { vh->flags |= 0x10; }
static void m_plain_csum_start(uint8_t *p, size_t *len, struct virtio_net_hdr *vh)
{
	vh->gso_type = VIRTIO_NET_HDR_GSO_NONE;
	vh->csum_start = (uint16_t)(*len - 1);
	vh->csum_offset = 0;
}
static void m_plain_csum_offset(uint8_t *p, size_t *len, struct virtio_net_hdr *vh)
{
	vh->gso_type = VIRTIO_NET_HDR_GSO_NONE;
	vh->csum_offset = (uint16_t)(*len - 20 - 1);
}
static void m_plain_csum_odd(uint8_t *p, size_t *len, struct virtio_net_hdr *vh)
{
	vh->gso_type = VIRTIO_NET_HDR_GSO_NONE;
	vh->csum_offset = 15;
}
static void m_plain_csum_in_ip(uint8_t *p, size_t *len, struct virtio_net_hdr *vh)
{
	vh->gso_type = VIRTIO_NET_HDR_GSO_NONE;
	vh->csum_start = 4;
}
static void m_ipv6_ext_truncated(uint8_t *p, size_t *len, struct virtio_net_hdr *vh)
{
	p[0] = 0x60;
	wr16(p + 4, 0);
	p[6] = 60; /* destination options header announced, none present */
	*len = 40;
	vh->gso_type = VIRTIO_NET_HDR_GSO_TCPV6;
	vh->flags = 0;
}
static void m_ipv6_ext_overlong(uint8_t *p, size_t *len, struct virtio_net_hdr *vh)
{
	p[0] = 0x60;
	wr16(p + 4, 8);
	p[6] = 60;
	p[40] = TCP;
	p[41] = 1; /* 16 bytes claimed, 8 present */
	*len = 48;
	vh->gso_type = VIRTIO_NET_HDR_GSO_TCPV6;
	vh->flags = 0;
}
static void m_empty(uint8_t *p, size_t *len, struct virtio_net_hdr *vh)
{
	vh->gso_type = VIRTIO_NET_HDR_GSO_NONE;
	*len = 0;
}

static const struct bad bads[] = {
	{ "truncated IP header", m_truncated_ip, ERR_PARSE },
	{ "truncated TCP header", m_truncated_tcp, ERR_PARSE },
	{ "TCP options past the end", m_short_tcp_options, ERR_PARSE },
	{ "hdr_len beyond the packet", m_hdr_len, ERR_PARSE },
	{ "gso_size 0", m_gso_zero, ERR_PARSE },
	{ "csum_start out of range", m_csum_start, ERR_PARSE },
	{ "csum_offset not at the TCP checksum", m_csum_offset, ERR_PARSE },
	{ "IPv4 IHL < 5", m_ihl_small, ERR_PARSE },
	{ "IPv4 IHL beyond the packet", m_ihl_large, ERR_PARSE },
	{ "total length != read length", m_tot_len, ERR_PARSE },
	{ "TCPV6 on an IPv4 packet", m_version, ERR_PARSE },
	{ "IP version 5", m_ip_version, ERR_PARSE },
	{ "UDP_L4 on a TCP packet", m_proto, ERR_PARSE },
	{ "TCP data offset < 5", m_doff, ERR_PARSE },
	{ "IPv4 fragment", m_fragment, ERR_PARSE },
	{ "no payload", m_no_payload, ERR_PARSE },
	{ "UFO", m_ufo, -EOPNOTSUPP },
	{ "ECN", m_ecn, -EOPNOTSUPP },
	{ "unknown flag", m_flag, -EOPNOTSUPP },
	{ "GSO_NONE csum field past the end", m_plain_csum_start, ERR_PARSE },
	{ "GSO_NONE csum_offset past the end", m_plain_csum_offset, ERR_PARSE },
	{ "GSO_NONE csum_offset odd", m_plain_csum_odd, ERR_PARSE },
	{ "GSO_NONE csum_start inside the IP header", m_plain_csum_in_ip, ERR_PARSE },
	{ "IPv6 extension header missing", m_ipv6_ext_truncated, ERR_PARSE },
	{ "IPv6 extension header longer than the packet", m_ipv6_ext_overlong, ERR_PARSE },
	{ "empty packet", m_empty, ERR_PARSE },
};

static void malformed_packets_are_refused_and_nothing_is_written(void **state)
{
	for (size_t b = 0; b < sizeof(bads) / sizeof(bads[0]); b++) {
		struct spec s = tcp4(1, 5000);
		s.partial = true;
		size_t len = build(super, &s);
		struct virtio_net_hdr vh = gso_hdr(VIRTIO_NET_HDR_GSO_TCPV4, super, 1000);
		bads[b].mutate(super, &len, &vh);
		/* An exact-size heap copy: ASan sees any read past the end. */
		uint8_t *exact = malloc(len ? len : 1);
		assert_non_null(exact);
		memcpy(exact, super, len);
		struct offload_seg segs[8];
		segs_init(segs, 8, 65600);
		int rc = offload_split(exact, len, &vh, segs, 8);
		free(exact);
		if (rc != bads[b].err)
			fail_msg("%s: got %d, want %d", bads[b].what, rc, bads[b].err);
		for (int i = 0; i < 8; i++) {
			assert_int_equal(segs[i].len, 0);
			for (int j = 0; j < 256; j++)
				if (segbuf[i][j] != 0xaa)
					fail_msg("%s: segment %d written", bads[b].what, i);
		}
	}

	/* IPv6 routing header in front of TCP: the pseudo-header would be wrong. */
	struct spec s6 = tcp6(1, 3000);
	size_t len = build(super, &s6);
	super[6] = 43;
	struct virtio_net_hdr vh = gso_hdr(VIRTIO_NET_HDR_GSO_TCPV6, super, 1000);
	struct offload_seg segs[8];
	segs_init(segs, 8, 65600);
	assert_int_equal(offload_split(super, len, &vh, segs, 8), ERR_PARSE);
	/* Misuse by the caller. */
	assert_int_equal(offload_split(NULL, len, &vh, segs, 8), -EINVAL);
	assert_int_equal(offload_split(super, len, &vh, segs, 0), -EINVAL);
	assert_int_equal(offload_finish_csum(NULL, len, &vh), -EINVAL);
}

static void split_refuses_when_the_segments_do_not_fit(void **state)
{
	struct spec s = tcp4(1, 5 * 1000);
	s.partial = true;
	size_t len = build(super, &s);
	struct virtio_net_hdr vh = gso_hdr(VIRTIO_NET_HDR_GSO_TCPV4, super, 1000);
	struct offload_seg segs[8];
	segs_init(segs, 8, 1040);
	assert_int_equal(offload_split(super, len, &vh, segs, 4), ERR_TOOBIG);
	segs_init(segs, 8, 1039);
	assert_int_equal(offload_split(super, len, &vh, segs, 8), ERR_TOOBIG);
	for (int i = 0; i < 8; i++)
		assert_int_equal(segbuf[i][0], 0xaa);
	segs_init(segs, 8, 1040);
	assert_int_equal(offload_split(super, len, &vh, segs, 5), 5);
	vh.gso_type = VIRTIO_NET_HDR_GSO_NONE;
	vh.flags = 0;
	assert_int_equal(offload_split(super, len, &vh, segs, 8), ERR_TOOBIG);
}

/* ---- Coalesce ---------------------------------------------------------------------- */

struct batch {
	struct offload_pkt pkts[NBUF];
	struct iovec out[NBUF];
	size_t n;
};

static void add(struct batch *b, const struct spec *s)
{
	assert_true(b->n < NBUF);
	uint8_t *d = gro[b->n] + OFFLOAD_VNET_HDR_LEN;
	expect_len[b->n] = build(expect[b->n], s);
	memcpy(d, expect[b->n], expect_len[b->n]);
	b->pkts[b->n] = (struct offload_pkt){ .data = d, .len = expect_len[b->n], .cap = BUFSZ - OFFLOAD_VNET_HDR_LEN };
	b->n++;
}

static struct virtio_net_hdr vnet_of(const struct iovec *v)
{
	struct virtio_net_hdr vh;
	memcpy(&vh, v->iov_base, sizeof(vh));
	return vh;
}

static bool vnet_is_zero(const struct iovec *v)
{
	static const uint8_t zero[OFFLOAD_VNET_HDR_LEN];
	return memcmp(v->iov_base, zero, sizeof(zero)) == 0;
}

/* Splits output entry o (or takes it as is) and checks it equals the input
 * packets first..first+count-1, byte for byte. */
static void expect_entry(const struct batch *b, size_t o, size_t first, size_t count)
{
	const uint8_t *pkt = (const uint8_t *)b->out[o].iov_base + OFFLOAD_VNET_HDR_LEN;
	size_t len = b->out[o].iov_len - OFFLOAD_VNET_HDR_LEN;
	struct virtio_net_hdr vh = vnet_of(&b->out[o]);
	if (count == 1) {
		assert_true(vnet_is_zero(&b->out[o]));
		assert_int_equal(len, expect_len[first]);
		assert_memory_equal(pkt, expect[first], len);
		return;
	}
	struct offload_seg segs[NBUF];
	segs_init(segs, NBUF, 65600);
	int n = offload_split(pkt, len, &vh, segs, NBUF);
	assert_int_equal(n, (int)count);
	for (size_t i = 0; i < count; i++) {
		assert_int_equal(segs[i].len, expect_len[first + i]);
		assert_memory_equal(segs[i].data, expect[first + i], segs[i].len);
	}
}

static int coalesce(struct batch *b, bool uso)
{
	return offload_coalesce(b->pkts, b->n, uso, b->out);
}

static void consecutive_tcp4_segments_coalesce_and_split_back_byte_for_byte(void **state)
{
	struct batch b = { .n = 0 };
	for (int i = 0; i < 5; i++) {
		struct spec s = tcp4(100 + 1400 * i, i < 4 ? 1400 : 321);
		s.id = (uint16_t)(0x1000 + i);
		if (i == 4)
			s.flags |= PSH;
		add(&b, &s);
	}
	assert_int_equal(coalesce(&b, false), 1);
	struct virtio_net_hdr vh = vnet_of(&b.out[0]);
	assert_int_equal(vh.flags, VIRTIO_NET_HDR_F_NEEDS_CSUM);
	assert_int_equal(vh.gso_type, VIRTIO_NET_HDR_GSO_TCPV4);
	assert_int_equal(vh.gso_size, 1400);
	assert_int_equal(vh.hdr_len, 40);
	assert_int_equal(vh.csum_start, 20);
	assert_int_equal(vh.csum_offset, 16);
	const uint8_t *p = (const uint8_t *)b.out[0].iov_base + OFFLOAD_VNET_HDR_LEN;
	size_t len = 40 + 4 * 1400 + 321;
	assert_int_equal(b.out[0].iov_len, len + OFFLOAD_VNET_HDR_LEN);
	assert_ptr_equal(p, b.pkts[0].data);
	assert_int_equal(b.pkts[0].len, len);
	assert_int_equal(rd16(p + 2), len);
	assert_int_equal(ref_fold(ref_add(0, p, 20)), 0xffff);
	assert_int_equal(rd16(p + 36), ref_fold(ref_pseudo(p, TCP, len - 20)));
	assert_int_equal(p[33], ACK | PSH);
	expect_entry(&b, 0, 0, 5);
}

static void consecutive_tcp6_segments_coalesce_and_split_back_byte_for_byte(void **state)
{
	static const uint8_t tsopt[12] = { 1, 1, 8, 10, 0, 1, 2, 3, 4, 5, 6, 7 };
	struct batch b = { .n = 0 };
	for (int i = 0; i < 3; i++) {
		struct spec s = tcp6(0xffffff00u + 1000 * (uint32_t)i, 1000);
		s.opts = tsopt;
		s.optlen = sizeof(tsopt);
		add(&b, &s);
	}
	assert_int_equal(coalesce(&b, false), 1);
	struct virtio_net_hdr vh = vnet_of(&b.out[0]);
	assert_int_equal(vh.gso_type, VIRTIO_NET_HDR_GSO_TCPV6);
	assert_int_equal(vh.hdr_len, 40 + 32);
	assert_int_equal(vh.csum_start, 40);
	const uint8_t *p = b.pkts[0].data;
	assert_int_equal(rd16(p + 4), 32 + 3000);
	expect_entry(&b, 0, 0, 3);
}

static void udp_datagrams_coalesce_only_when_uso_is_enabled(void **state)
{
	struct batch b = { .n = 0 };
	for (int i = 0; i < 4; i++) {
		struct spec s = udp4(i < 3 ? 1200 : 7, 1200 * (size_t)i);
		s.id = (uint16_t)(0x2000 + i);
		add(&b, &s);
	}
	assert_int_equal(coalesce(&b, false), 4);
	for (size_t i = 0; i < 4; i++)
		expect_entry(&b, i, i, 1);

	assert_int_equal(coalesce(&b, true), 1);
	struct virtio_net_hdr vh = vnet_of(&b.out[0]);
	assert_int_equal(vh.gso_type, VIRTIO_NET_HDR_GSO_UDP_L4);
	assert_int_equal(vh.gso_size, 1200);
	assert_int_equal(vh.hdr_len, 28);
	assert_int_equal(vh.csum_offset, 6);
	const uint8_t *p = b.pkts[0].data;
	assert_int_equal(rd16(p + 24), 8 + 3 * 1200 + 7);
	expect_entry(&b, 0, 0, 4);

	/* IPv6 too. */
	struct batch b6 = { .n = 0 };
	for (int i = 0; i < 3; i++) {
		struct spec s = udp4(900, 900 * (size_t)i);
		s.ver = 6;
		add(&b6, &s);
	}
	assert_int_equal(coalesce(&b6, true), 1);
	assert_int_equal(vnet_of(&b6.out[0]).gso_type, VIRTIO_NET_HDR_GSO_UDP_L4);
	expect_entry(&b6, 0, 0, 3);
}

/* Four segments of one flow where packet `odd` is changed by tweak. */
static void run_with(struct batch *b, size_t odd, void (*tweak)(struct spec *s))
{
	b->n = 0;
	for (size_t i = 0; i < 4; i++) {
		struct spec s = tcp4(1 + 1000 * (uint32_t)i, 1000);
		s.id = (uint16_t)(0x1000 + i);
		if (i == odd)
			tweak(&s);
		add(b, &s);
	}
}

static void t_port(struct spec *s) { s->sport++; }
static void t_gap(struct spec *s)
{
	s->seq += 1;
	s->pos += 1;
}
static void t_psh(struct spec *s) { s->flags |= PSH; }
static void t_ttl(struct spec *s) { s->ttl--; }
static void t_tos(struct spec *s) { s->tos = 0x10; }
static void t_syn(struct spec *s) { s->flags |= SYN; }
static void t_fin(struct spec *s) { s->flags |= FIN; }
static void t_rst(struct spec *s) { s->flags |= RST; }
static void t_urg(struct spec *s) { s->flags |= URG; }
static void t_ack(struct spec *s) { s->ack++; }
static void t_win(struct spec *s) { s->win++; }
static void t_id(struct spec *s) { s->id += 7; }
static void t_opts(struct spec *s)
{
	static const uint8_t nop[4] = { 1, 1, 1, 1 };
	s->opts = nop;
	s->optlen = 4;
}

static void flows_that_must_not_coalesce_stay_separate(void **state)
{
	static struct batch b;
	/* Packet 2 of four consecutive segments is changed; the entries written
	 * are runs of consecutive inputs of the sizes listed. */
	struct {
		const char *what;
		void (*tweak)(struct spec *s);
		size_t runs[4]; /* sizes of the output entries */
		size_t nruns;
	} cases[] = {
		/* A different flow: packet 2 alone, 3 cannot follow 1 (seq gap). */
		{ "different source port", t_port, { 2, 1, 1 }, 3 },
		/* Gap before 2: 2 starts a run, 3 does not follow it either. */
		{ "gap in sequence", t_gap, { 2, 1, 1 }, 3 },
		/* PSH on 2 ends the run after it; 3 starts a new one. */
		{ "PSH in the middle", t_psh, { 3, 1 }, 2 },
		{ "differing TTL", t_ttl, { 2, 1, 1 }, 3 },
		{ "differing TOS", t_tos, { 2, 1, 1 }, 3 },
		{ "SYN", t_syn, { 2, 1, 1 }, 3 },
		{ "FIN", t_fin, { 2, 1, 1 }, 3 },
		{ "RST", t_rst, { 2, 1, 1 }, 3 },
		{ "URG", t_urg, { 2, 1, 1 }, 3 },
		/* Another ACK number is another flow. */
		{ "different ACK number", t_ack, { 2, 1, 1 }, 3 },
		/* Window/options/ids: 2 cannot follow 1, 3 follows 2 in seq but not
		 * in header fields (or id), so each is alone. */
		{ "different window", t_win, { 2, 1, 1 }, 3 },
		{ "different TCP options", t_opts, { 2, 1, 1 }, 3 },
		{ "non-consecutive IPv4 id", t_id, { 2, 1, 1 }, 3 },
	};
	for (size_t c = 0; c < sizeof(cases) / sizeof(cases[0]); c++) {
		run_with(&b, 2, cases[c].tweak);
		int n = coalesce(&b, true);
		if (n != (int)cases[c].nruns)
			fail_msg("%s: %d entries, want %zu", cases[c].what, n, cases[c].nruns);
		size_t first = 0;
		for (size_t o = 0; o < cases[c].nruns; o++) {
			expect_entry(&b, o, first, cases[c].runs[o]);
			first += cases[c].runs[o];
		}
	}
}

static void a_shorter_segment_ends_the_run_and_a_larger_one_cannot_follow(void **state)
{
	static struct batch b;
	/* 1000, 999, 1000, 1000 bytes: {0,1} then {2,3}. */
	b.n = 0;
	for (int i = 0; i < 4; i++) {
		struct spec s = tcp4(1 + 1000 * (uint32_t)i - (i >= 2 ? 1 : 0), i == 1 ? 999 : 1000);
		s.pos = s.seq;
		s.id = (uint16_t)(0x1000 + i);
		add(&b, &s);
	}
	assert_int_equal(coalesce(&b, false), 2);
	expect_entry(&b, 0, 0, 2);
	expect_entry(&b, 1, 2, 2);

	/* 500 then 1000: the larger one cannot follow. */
	b.n = 0;
	struct spec a = tcp4(1, 500), c = tcp4(501, 1000);
	c.id = 0x1001;
	add(&b, &a);
	add(&b, &c);
	assert_int_equal(coalesce(&b, false), 2);
	expect_entry(&b, 0, 0, 1);
	expect_entry(&b, 1, 1, 1);
}

static void a_segment_with_a_bad_checksum_is_never_merged(void **state)
{
	static struct batch b;
	run_with(&b, 99, NULL);
	b.pkts[2].data[40 + 5] ^= 1; /* corrupt payload of packet 2 */
	expect[2][40 + 5] ^= 1;
	assert_int_equal(coalesce(&b, false), 3);
	expect_entry(&b, 0, 0, 2);
	expect_entry(&b, 1, 2, 1);
	expect_entry(&b, 2, 3, 1);

	/* A bad head takes nothing; the next packet starts the run. */
	run_with(&b, 99, NULL);
	b.pkts[0].data[40] ^= 0x80;
	expect[0][40] ^= 0x80;
	assert_int_equal(coalesce(&b, false), 2);
	expect_entry(&b, 0, 0, 1);
	expect_entry(&b, 1, 1, 3);
}

static void a_run_stops_at_64_segments_and_64_kib_and_the_buffer_capacity(void **state)
{
	static struct batch b;
	b.n = 0;
	for (int i = 0; i < 70; i++) {
		struct spec s = tcp4(1 + 100 * (uint32_t)i, 100);
		s.id = (uint16_t)(0x1000 + i);
		add(&b, &s);
	}
	assert_int_equal(coalesce(&b, false), 2);
	assert_int_equal(vnet_of(&b.out[0]).gso_size, 100);
	expect_entry(&b, 0, 0, 64);
	expect_entry(&b, 1, 64, 6);

	/* 40 + 46 x 1400 bytes fit in 64 KiB, a 47th segment does not. */
	b.n = 0;
	for (int i = 0; i < 50; i++) {
		struct spec s = tcp4(1 + 1400 * (uint32_t)i, 1400);
		s.id = (uint16_t)(0x1000 + i);
		add(&b, &s);
	}
	assert_int_equal(coalesce(&b, false), 2);
	assert_true(b.out[0].iov_len - OFFLOAD_VNET_HDR_LEN <= OFFLOAD_GRO_MAX_LEN);
	expect_entry(&b, 0, 0, 46);
	expect_entry(&b, 1, 46, 4);

	/* The head's buffer has room for two more segments only. */
	run_with(&b, 99, NULL);
	b.pkts[0].cap = 1040 + 2 * 1000;
	assert_int_equal(coalesce(&b, false), 2);
	expect_entry(&b, 0, 0, 3);
	expect_entry(&b, 1, 3, 1);
}

static void interleaved_flows_coalesce_independently_and_keep_their_order(void **state)
{
	static struct batch b;
	b.n = 0;
	/* A0 B0 A1 B1 U0 A2 B2 U1 (U: UDP, B: IPv6 TCP) */
	for (int i = 0; i < 3; i++) {
		struct spec a = tcp4(1 + 1000 * (uint32_t)i, 1000);
		a.id = (uint16_t)(0x1000 + i);
		struct spec bb = tcp6(7 + 800 * (uint32_t)i, 800);
		add(&b, &a);
		add(&b, &bb);
		if (i < 2) {
			struct spec u = udp4(600, 600 * (size_t)i);
			u.id = (uint16_t)(0x2000 + i);
			add(&b, &u);
		}
	}
	/* Inputs: 0 A0, 1 B0, 2 U0, 3 A1, 4 B1, 5 U1, 6 A2, 7 B2 */
	assert_int_equal(coalesce(&b, true), 3);
	assert_ptr_equal((uint8_t *)b.out[0].iov_base + OFFLOAD_VNET_HDR_LEN, b.pkts[0].data);
	assert_ptr_equal((uint8_t *)b.out[1].iov_base + OFFLOAD_VNET_HDR_LEN, b.pkts[1].data);
	assert_ptr_equal((uint8_t *)b.out[2].iov_base + OFFLOAD_VNET_HDR_LEN, b.pkts[2].data);
	struct offload_seg segs[4];
	const size_t members[3][3] = { { 0, 3, 6 }, { 1, 4, 7 }, { 2, 5, 0 } };
	for (int o = 0; o < 3; o++) {
		struct virtio_net_hdr vh = vnet_of(&b.out[o]);
		segs_init(segs, 4, 65600);
		int n = offload_split(b.pkts[o].data, b.pkts[o].len, &vh, segs, 4);
		assert_int_equal(n, o < 2 ? 3 : 2);
		for (int i = 0; i < n; i++) {
			size_t m = members[o][i];
			assert_int_equal(segs[i].len, expect_len[m]);
			assert_memory_equal(segs[i].data, expect[m], expect_len[m]);
		}
	}
}

static void packets_that_are_not_candidates_get_a_zero_header_and_stay_unchanged(void **state)
{
	static struct batch b;
	b.n = 0;
	struct spec s = tcp4(1, 0); /* pure ACK */
	add(&b, &s);
	s = tcp4(1, 0);
	add(&b, &s);
	static const uint8_t ipopt[4] = { 1, 1, 1, 0 };
	s = tcp4(1, 100);
	s.ipopts = ipopt;
	s.ipoptlen = 4;
	add(&b, &s);
	s = tcp4(101, 100);
	s.ipopts = ipopt;
	s.ipoptlen = 4;
	add(&b, &s);
	/* Garbage: not IP at all. */
	memset(gro[b.n] + OFFLOAD_VNET_HDR_LEN, 0xee, 30);
	memset(expect[b.n], 0xee, 30);
	expect_len[b.n] = 30;
	b.pkts[b.n] = (struct offload_pkt){ .data = gro[b.n] + OFFLOAD_VNET_HDR_LEN, .len = 30, .cap = 30 };
	b.n++;
	memset(gro[0], 0x55, OFFLOAD_VNET_HDR_LEN);
	assert_int_equal(coalesce(&b, true), 5);
	for (size_t i = 0; i < 5; i++)
		expect_entry(&b, i, i, 1);
}

static void coalesce_rejects_an_oversized_batch_and_bad_buffers(void **state)
{
	static struct batch b;
	run_with(&b, 99, NULL);
	b.pkts[1].cap = b.pkts[1].len - 1;
	assert_int_equal(coalesce(&b, false), -EINVAL);
	b.pkts[1].cap = b.pkts[1].len;
	b.pkts[1].data = NULL;
	assert_int_equal(coalesce(&b, false), -EINVAL);
	static struct offload_pkt many[OFFLOAD_GRO_BATCH + 1];
	static struct iovec out[OFFLOAD_GRO_BATCH + 1];
	assert_int_equal(offload_coalesce(many, OFFLOAD_GRO_BATCH + 1, false, out), -E2BIG);
	assert_int_equal(offload_coalesce(NULL, 0, false, NULL), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(the_checksum_matches_the_reference_at_every_length_and_alignment),
		cmocka_unit_test(the_pseudo_header_sum_matches_the_reference_for_ipv4_and_ipv6),
		cmocka_unit_test(an_incremental_update_equals_a_full_recompute),
		cmocka_unit_test(a_tcp4_super_packet_splits_into_mss_segments_with_fixed_headers),
		cmocka_unit_test(a_tcp6_super_packet_splits_into_mss_segments_with_fixed_headers),
		cmocka_unit_test(a_udp_super_packet_splits_into_datagrams_with_length_and_checksum),
		cmocka_unit_test(a_udp_checksum_that_computes_to_zero_is_sent_as_ffff),
		cmocka_unit_test(fin_and_psh_stay_on_the_last_segment_and_cwr_on_the_first),
		cmocka_unit_test(the_ipv4_id_and_the_sequence_number_wrap_around),
		cmocka_unit_test(options_and_ipv6_extension_headers_are_repeated_in_every_segment),
		cmocka_unit_test(a_plain_packet_passes_through_unchanged),
		cmocka_unit_test(a_partial_checksum_is_completed_for_a_single_packet),
		cmocka_unit_test(malformed_packets_are_refused_and_nothing_is_written),
		cmocka_unit_test(split_refuses_when_the_segments_do_not_fit),
		cmocka_unit_test(consecutive_tcp4_segments_coalesce_and_split_back_byte_for_byte),
		cmocka_unit_test(consecutive_tcp6_segments_coalesce_and_split_back_byte_for_byte),
		cmocka_unit_test(udp_datagrams_coalesce_only_when_uso_is_enabled),
		cmocka_unit_test(flows_that_must_not_coalesce_stay_separate),
		cmocka_unit_test(a_shorter_segment_ends_the_run_and_a_larger_one_cannot_follow),
		cmocka_unit_test(a_segment_with_a_bad_checksum_is_never_merged),
		cmocka_unit_test(a_run_stops_at_64_segments_and_64_kib_and_the_buffer_capacity),
		cmocka_unit_test(interleaved_flows_coalesce_independently_and_keep_their_order),
		cmocka_unit_test(packets_that_are_not_candidates_get_a_zero_header_and_stay_unchanged),
		cmocka_unit_test(coalesce_rejects_an_oversized_batch_and_bad_buffers),
	};
	return run_group(tests);
}
