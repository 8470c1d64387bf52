/* Fuzz target for offload_coalesce (the TUN write side). The input describes
 * a small batch of packets; coalescing it and splitting every super-packet
 * back must give each input packet exactly once, byte for byte, in batch
 * order within each entry; entries must come in the order of their first
 * packet; a super-packet's partial checksum, completed as the kernel would,
 * must verify.
 *
 * Input: byte 0 = options (bit 0: uso; bit 1: fix lengths and checksums;
 * bits 2-3: buffer capacity: 0 = 64 KiB, 1 = len + 3000, 2 = len, 3 = len +
 * 1500), then up to MAXN packets, each [ctl][len hi][len lo][len bytes]
 * (shorter at the end of the input). ctl bit 0: copy the previous packet's
 * IP and transport headers over this one's; ctl bit 1: continue the previous
 * packet's TCP sequence number and IPv4 id. Both help the fuzzer build runs
 * that may merge; the fix-up bit lets it keep checksums valid. */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>

#include "awg/offload.h"

#define MAXN 16
#define BUFCAP 65535
#define NSEGS 64

static uint8_t orig[MAXN][BUFCAP];
static size_t orig_len[MAXN];
static uint8_t segbuf[NSEGS][BUFCAP];
static uint8_t scratch[BUFCAP];

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

static uint32_t ref_pseudo(const uint8_t *p, uint8_t proto, size_t l4len)
{
	bool v6 = p[0] >> 4 == 6;
	return ref_add(0, p + (v6 ? 8 : 12), v6 ? 32 : 8) + proto + (uint32_t)(l4len >> 16) +
	       (uint32_t)(l4len & 0xffff);
}

struct hdrs {
	size_t iphl, l4hl;
	uint8_t proto;
};

/* IP without IPv6 extension headers, then TCP or UDP, all within len. */
static bool parse(const uint8_t *p, size_t len, struct hdrs *h)
{
	if (len < 20)
		return false;
	if (p[0] >> 4 == 4) {
		h->iphl = (size_t)(p[0] & 15) * 4;
		h->proto = p[9];
		if (h->iphl < 20 || h->iphl > len)
			return false;
	} else if (p[0] >> 4 == 6) {
		h->iphl = 40;
		h->proto = p[6];
		if (len < 40)
			return false;
	} else {
		return false;
	}
	if (h->proto == 6) {
		if (len - h->iphl < 20)
			return false;
		h->l4hl = (size_t)(p[h->iphl + 12] >> 4) * 4;
		return h->l4hl >= 20 && h->l4hl <= len - h->iphl;
	}
	if (h->proto == 17) {
		h->l4hl = 8;
		return len - h->iphl >= 8;
	}
	return false;
}

static void fixup(uint8_t *p, size_t len)
{
	struct hdrs h;
	if (!parse(p, len, &h))
		return;
	if (p[0] >> 4 == 4) {
		wr16(p + 2, (uint16_t)len);
		wr16(p + 10, 0);
		wr16(p + 10, (uint16_t)~ref_fold(ref_add(0, p, h.iphl)));
	} else {
		wr16(p + 4, (uint16_t)(len - 40));
	}
	size_t l4len = len - h.iphl, cs = h.proto == 6 ? 16 : 6;
	if (h.proto == 17)
		wr16(p + h.iphl + 4, (uint16_t)l4len);
	wr16(p + h.iphl + cs, 0);
	uint16_t c = (uint16_t)~ref_fold(ref_add(ref_pseudo(p, h.proto, l4len), p + h.iphl, l4len));
	wr16(p + h.iphl + cs, h.proto == 17 && c == 0 ? 0xffff : c);
}

/* The kernel's view of a CHECKSUM_PARTIAL super-packet: complete the sum
 * from csum_start and check it against the full-length pseudo-header. */
static void check_partial(const uint8_t *p, size_t len, const struct virtio_net_hdr *vh)
{
	check(vh->flags == VIRTIO_NET_HDR_F_NEEDS_CSUM);
	size_t start = vh->csum_start, at = start + vh->csum_offset;
	check(at + 2 <= len);
	memcpy(scratch, p, len);
	uint16_t c = (uint16_t)~ref_fold(ref_add(0, scratch + start, len - start));
	wr16(scratch + at, c);
	uint8_t proto = vh->gso_type == VIRTIO_NET_HDR_GSO_UDP_L4 ? 17 : 6;
	check(ref_fold(ref_add(ref_pseudo(scratch, proto, len - start), scratch + start, len - start)) == 0xffff);
	if (p[0] >> 4 == 4)
		check(ref_fold(ref_add(0, p, start)) == 0xffff);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	uint8_t opt = data[0];
	bool uso = opt & 1, fix = opt & 2;
	int capmode = (opt >> 2) & 3;
	size_t off = 1, n = 0;
	struct offload_pkt pkts[MAXN];
	uint8_t *bufs[MAXN];

	while (n < MAXN && size - off >= 3) {
		uint8_t ctl = data[off], *p = orig[n];
		size_t len = rd16(data + off + 1);
		off += 3;
		if (len > size - off)
			len = size - off;
		memcpy(p, data + off, len);
		off += len;
		struct hdrs ph, h;
		if (n > 0 && (ctl & 1) && parse(orig[n - 1], orig_len[n - 1], &ph)) {
			size_t hl = ph.iphl + ph.l4hl;
			memcpy(p, orig[n - 1], hl < len ? hl : len);
		}
		if (n > 0 && (ctl & 2) && parse(orig[n - 1], orig_len[n - 1], &ph) && parse(p, len, &h) &&
		    ph.proto == 6 && h.proto == 6 && ph.iphl == h.iphl) {
			const uint8_t *q = orig[n - 1];
			size_t qpay = orig_len[n - 1] - ph.iphl - ph.l4hl;
			wr32(p + h.iphl + 4, rd32(q + ph.iphl + 4) + (uint32_t)qpay);
			if (p[0] >> 4 == 4)
				wr16(p + 4, (uint16_t)(rd16(q + 4) + 1));
		}
		if (fix)
			fixup(p, len);
		orig_len[n] = len;
		size_t cap = capmode == 0 ? BUFCAP : capmode == 1 ? len + 3000 : capmode == 2 ? len : len + 1500;
		if (cap > BUFCAP)
			cap = BUFCAP;
		/* Exact-size heap buffers: ASan flags any access outside headroom + cap. */
		bufs[n] = malloc(OFFLOAD_VNET_HDR_LEN + cap);
		check(bufs[n]);
		memset(bufs[n], 0x5a, OFFLOAD_VNET_HDR_LEN);
		memcpy(bufs[n] + OFFLOAD_VNET_HDR_LEN, p, len);
		pkts[n] = (struct offload_pkt){ .data = bufs[n] + OFFLOAD_VNET_HDR_LEN, .len = len, .cap = cap };
		n++;
	}

	struct iovec out[MAXN];
	int k = offload_coalesce(pkts, n, uso, out);
	check(k >= 0 && (size_t)k <= n);

	bool used[MAXN] = { false };
	size_t last_head = 0;
	for (int e = 0; e < k; e++) {
		uint8_t *base = out[e].iov_base;
		size_t head = 0;
		while (head < n && bufs[head] != base)
			head++;
		check(head < n && !used[head]);
		check(e == 0 || head > last_head);
		last_head = head;
		const uint8_t *p = base + OFFLOAD_VNET_HDR_LEN;
		size_t len = out[e].iov_len - OFFLOAD_VNET_HDR_LEN;
		check(len == pkts[head].len && len <= pkts[head].cap);
		struct virtio_net_hdr vh;
		memcpy(&vh, base, sizeof(vh));

		if (vh.gso_type == VIRTIO_NET_HDR_GSO_NONE) {
			static const uint8_t zero[OFFLOAD_VNET_HDR_LEN];
			check(memcmp(base, zero, sizeof(zero)) == 0);
			check(len == orig_len[head] && memcmp(p, orig[head], len) == 0);
			used[head] = true;
			continue;
		}
		check(vh.gso_type == VIRTIO_NET_HDR_GSO_UDP_L4 ? uso : true);
		check(len <= OFFLOAD_GRO_MAX_LEN);
		check_partial(p, len, &vh);

		struct offload_seg segs[NSEGS];
		for (int i = 0; i < NSEGS; i++)
			segs[i] = (struct offload_seg){ .data = segbuf[i], .cap = BUFCAP };
		int ns = offload_split(p, len, &vh, segs, NSEGS);
		check(ns >= 2 && ns <= OFFLOAD_GRO_MAX_SEGS);
		size_t next = head;
		for (int s = 0; s < ns; s++) {
			while (next < n && (used[next] || orig_len[next] != segs[s].len ||
					    memcmp(orig[next], segs[s].data, segs[s].len) != 0))
				next++;
			check(next < n);
			check(s > 0 || next == head);
			used[next] = true;
		}
	}
	for (size_t i = 0; i < n; i++) {
		check(used[i]);
		free(bufs[i]);
	}
	return 0;
}
