/* Fuzz target for offload_split (the TUN read side). Input: a 10-byte
 * struct virtio_net_hdr (host byte order, as read from the TUN) followed by
 * the packet. On success every segment must be a well-formed IP packet within
 * its buffer, carry the input's headers with only the fields a segmenter may
 * change changed, verify its checksums against a reference implementation,
 * and the segment payloads must add up to the input's payload. On failure
 * nothing may have been written. */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "awg/offload.h"

#define NSEGS 64
#define SEGCAP 9000 /* jumbo-MTU buffers: big enough to pass, small enough to refuse */
#define MAXPKT (65535 + 40)

static uint8_t segbuf[NSEGS][SEGCAP];

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define check(cond) do { if (!(cond)) abort(); } while (0)

static uint16_t rd16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static uint32_t rd32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* Reference RFC 1071 sum, 16 bits at a time. */
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

/* Independent header walk: IP header, IPv6 hop-by-hop/destination options,
 * TCP or UDP header. Returns the upper-layer offset and the header length. */
static bool headers(const uint8_t *p, size_t len, bool tcp, size_t *l4off, size_t *hlen)
{
	size_t o;
	uint8_t nh;
	if (p[0] >> 4 == 4) {
		o = (size_t)(p[0] & 15) * 4;
		nh = p[9];
	} else {
		o = 40;
		nh = p[6];
		for (int i = 0; i < 8 && (nh == 0 || nh == 60); i++) {
			if (o + 8 > len)
				return false;
			nh = p[o];
			o += ((size_t)p[o + 1] + 1) * 8;
		}
	}
	if (nh != (tcp ? 6 : 17) || o > len || len - o < (tcp ? 20u : 8u))
		return false;
	*l4off = o;
	*hlen = o + (tcp ? (size_t)(p[o + 12] >> 4) * 4 : 8);
	return *hlen <= len;
}

static void check_segments(const uint8_t *in, size_t len, const struct virtio_net_hdr *vh,
			   const struct offload_seg *segs, int n)
{
	bool tcp = vh->gso_type != VIRTIO_NET_HDR_GSO_UDP_L4;
	bool v4 = in[0] >> 4 == 4;
	size_t l4off = 0, hlen = 0;
	check(headers(in, len, tcp, &l4off, &hlen));
	size_t gso = vh->gso_size, payload = len - hlen;
	check(gso > 0 && payload > 0);
	check((size_t)n == (payload + gso - 1) / gso);

	size_t done = 0;
	for (int i = 0; i < n; i++) {
		const uint8_t *o = segs[i].data;
		size_t sl = segs[i].len, pl = sl - hlen;
		check(sl <= segs[i].cap && sl > hlen);
		check(i + 1 < n ? pl == gso : pl <= gso);
		/* Lengths and the IPv4 header checksum. */
		if (v4) {
			check(rd16(o + 2) == sl);
			check(rd16(o + 4) == (uint16_t)(rd16(in + 4) + i));
			check(ref_fold(ref_add(0, o, l4off)) == 0xffff);
			check(memcmp(o, in, 2) == 0 && memcmp(o + 6, in + 6, 4) == 0);
			check(memcmp(o + 12, in + 12, l4off - 12) == 0);
		} else {
			check(rd16(o + 4) == sl - 40);
			check(memcmp(o, in, 4) == 0 && memcmp(o + 6, in + 6, l4off - 6) == 0);
		}
		/* Transport header: only seq, flags, length and checksum change. */
		const uint8_t *t = o + l4off, *it = in + l4off;
		check(memcmp(t, it, 4) == 0);
		if (tcp) {
			check(rd32(t + 4) == rd32(it + 4) + (uint32_t)(i * gso));
			uint8_t want = it[13];
			if (i > 0)
				want &= (uint8_t)~0x80;
			if (i + 1 < n)
				want &= (uint8_t)~0x09;
			check(t[13] == want);
			check(memcmp(t + 8, it + 8, 5) == 0 && memcmp(t + 14, it + 14, 2) == 0);
			check(memcmp(t + 18, it + 18, hlen - l4off - 18) == 0);
		} else {
			check(rd16(t + 4) == sl - l4off);
			check(rd16(t + 6) != 0);
		}
		/* Full checksum against the reference pseudo-header. */
		uint32_t acc = v4 ? ref_add(0, o + 12, 8) : ref_add(0, o + 8, 32);
		acc += (tcp ? 6 : 17) + (uint32_t)(sl - l4off);
		check(ref_fold(ref_add(acc, t, sl - l4off)) == 0xffff);
		/* Payload continues where the previous segment stopped. */
		check(memcmp(o + hlen, in + hlen + done, pl) == 0);
		done += pl;
	}
	check(done == payload);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < OFFLOAD_VNET_HDR_LEN || size - OFFLOAD_VNET_HDR_LEN > MAXPKT)
		return 0;
	struct virtio_net_hdr vh;
	memcpy(&vh, data, sizeof(vh));
	size_t len = size - OFFLOAD_VNET_HDR_LEN;
	/* The packet is read where libFuzzer put it, so ASan flags any read
	 * past its end; offload_split must not write to it. */
	const uint8_t *pkt = data + OFFLOAD_VNET_HDR_LEN;

	struct offload_seg segs[NSEGS];
	for (int i = 0; i < NSEGS; i++) {
		segs[i] = (struct offload_seg){ .data = segbuf[i], .cap = SEGCAP, .len = 0 };
		memset(segbuf[i], 0xa5, 64);
	}
	int n = offload_split(pkt, len, &vh, segs, NSEGS);
	if (n <= 0) {
		for (int i = 0; i < NSEGS; i++) {
			check(segs[i].len == 0);
			for (int j = 0; j < 64; j++)
				check(segbuf[i][j] == 0xa5);
		}
		return 0;
	}
	check(n <= NSEGS);

	/* Every output is at least a consistent IP packet. */
	for (int i = 0; i < n; i++) {
		const uint8_t *o = segs[i].data;
		size_t sl = segs[i].len;
		check(sl >= 20 && sl <= SEGCAP);
		if (o[0] >> 4 == 4) {
			check((o[0] & 15) >= 5 && (size_t)(o[0] & 15) * 4 <= sl && rd16(o + 2) == sl);
		} else {
			check(o[0] >> 4 == 6 && sl >= 40 && rd16(o + 4) == sl - 40);
		}
	}

	if (vh.gso_type != VIRTIO_NET_HDR_GSO_NONE) {
		check_segments(pkt, len, &vh, segs, n);
		return 0;
	}
	check(n == 1 && segs[0].len == len);
	if (!(vh.flags & VIRTIO_NET_HDR_F_NEEDS_CSUM)) {
		check(memcmp(segs[0].data, pkt, len) == 0);
		return 0;
	}
	/* Completed partial checksum: with the original field value (the pseudo-
	 * header sum the kernel left there) added back, the sum verifies. */
	size_t at = (size_t)vh.csum_start + vh.csum_offset;
	check(at + 2 <= len);
	check(memcmp(segs[0].data, pkt, at) == 0);
	check(memcmp(segs[0].data + at + 2, pkt + at + 2, len - at - 2) == 0);
	uint32_t acc = ref_add(rd16(pkt + at), segs[0].data + vh.csum_start, len - vh.csum_start);
	check(ref_fold(acc) == 0xffff);
	return 0;
}
