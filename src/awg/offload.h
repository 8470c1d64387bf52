/* TUN offloads (specs/awg.md §4.1), as pure functions: no I/O, no allocation,
 * no clock. A TUN opened with IFF_VNET_HDR and TUNSETOFFLOAD(TUN_F_CSUM |
 * TUN_F_TSO4 | TUN_F_TSO6 [| TUN_F_USO4 | TUN_F_USO6]) prefixes every read and
 * every write with a 10-byte struct virtio_net_hdr.
 *
 *   read side   offload_split(): one super-packet the kernel handed us (TSO or
 *               USO, up to 64 KiB) becomes the MSS-sized IP packets the kernel
 *               would have sent without offload, each with correct lengths,
 *               IPv4 id, TCP sequence/flags and full checksums.
 *   write side  offload_coalesce(): a batch of decrypted IP packets is grouped
 *               per TCP (or UDP) flow into super-packets with a GSO virtio
 *               header (userspace GRO), so the kernel stack sees few large
 *               packets. Everything else goes out with a zero header.
 *
 * The kernel is trusted, but its bugs (and a fuzzer) must never turn into
 * memory errors: every length, header length and offset is validated before a
 * byte is written, and a bad packet produces nothing.
 *
 * Byte order: the virtio header fields are host-endian (a TUN speaks the
 * legacy virtio layout unless TUNSETVNETLE/BE was used, which we never do). */
#ifndef PHAROS_AWG_OFFLOAD_H
#define PHAROS_AWG_OFFLOAD_H

#include <linux/virtio_net.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lib/err.h"

struct iovec;

/* Debian 12's uapi headers (Linux 6.1) predate UDP segmentation offload for
 * TUN (Linux 6.2); the values are ABI. */
#ifndef VIRTIO_NET_HDR_GSO_UDP_L4
#define VIRTIO_NET_HDR_GSO_UDP_L4 5
#endif
#ifndef TUN_F_USO4
#define TUN_F_USO4 0x20
#define TUN_F_USO6 0x40
#endif

#define OFFLOAD_VNET_HDR_LEN 10     /* sizeof(struct virtio_net_hdr) */
#define OFFLOAD_GRO_BATCH 128       /* most packets offload_coalesce takes per call */
#define OFFLOAD_GRO_MAX_SEGS 64     /* most packets merged into one super-packet */
#define OFFLOAD_GRO_MAX_LEN 65535   /* largest super-packet written (IP header included) */

/* ---- Checksums -------------------------------------------------------------
 * A running sum is an opaque 64-bit one's-complement accumulator (RFC 1071)
 * over bytes in memory order; only offload_csum_fold turns it into a number.
 * Chained offload_csum_add calls must each start at an even offset of the
 * checksummed data: only the last chunk may have an odd length. */

/* Adds len bytes at buf to sum and returns the new sum. 8 bytes per step. */
uint64_t offload_csum_add(uint64_t sum, const void *buf, size_t len);
/* Sum of the TCP/UDP pseudo-header: addresses of alen bytes (4: IPv4, 16:
 * IPv6), protocol number and upper-layer length (RFC 793, RFC 8200 §8.1). */
uint64_t offload_csum_pseudo(const uint8_t *src, const uint8_t *dst, size_t alen,
			     uint8_t proto, uint32_t l4len);
/* Folds sum to 16 bits, host order, NOT complemented: the value a kernel
 * expects in the checksum field of a CHECKSUM_PARTIAL packet. The checksum
 * to put on the wire is its complement; a packet verifies when the fold of
 * the sum over its checksummed bytes (checksum field included) is 0xffff. */
uint16_t offload_csum_fold(uint64_t sum);
/* RFC 1624 eqn. 3: the checksum (host order) of data in which one 16-bit word
 * changed from old_word to new_word, without touching the rest of the data. */
uint16_t offload_csum_update16(uint16_t check, uint16_t old_word, uint16_t new_word);

/* ---- Read side: split ---------------------------------------------------- */

/* One output packet: the caller fills data and cap, offload_split sets len. */
struct offload_seg {
	uint8_t *data;
	size_t cap;
	size_t len;
};

/* Turns pkt (len bytes, the IP packet that followed *vh in one TUN read) into
 * plain IP packets written to segs[0..nsegs). Returns how many (>= 1).
 *
 * GSO_NONE: pkt is copied to segs[0]; with VIRTIO_NET_HDR_F_NEEDS_CSUM the
 * checksum at csum_start + csum_offset is completed (the field holds the
 * pseudo-header sum, as the kernel leaves it). GSO_TCPV4/TCPV6/UDP_L4: the
 * payload after the IP and TCP/UDP headers is cut into gso_size pieces; each
 * segment gets the headers with IPv4 total length, id (+1 per segment) and
 * header checksum, or IPv6 payload length; TCP sequence number advanced, FIN
 * and PSH kept only on the last segment and CWR only on the first; UDP
 * length; and a full TCP/UDP checksum.
 *
 * Validated first, nothing written on failure: the IP header (version,
 * IPv4 IHL >= 5, total/payload length equal to len), GSO type against the IP
 * version and protocol, no IPv4 fragment, IPv6 extension headers (hop-by-hop
 * and destination options only), TCP data offset, csum_start/csum_offset
 * (must point at the TCP/UDP checksum for GSO; otherwise past the fixed IP
 * header, at an even offset from csum_start, and inside the packet),
 * hdr_len <= len (hdr_len is otherwise not trusted: the kernel reports the
 * skb's linear length there, which on the forward path covers payload too; we
 * derive the header length from the headers), gso_size >= 1, a non-empty
 * payload, and room: the segment count <= nsegs and each segment <= its cap.
 *
 * Returns -EINVAL for NULL arguments or nsegs == 0, -EOPNOTSUPP for a GSO
 * type or flag we never negotiate (UFO, ECN, unknown), ERR_PARSE for a
 * malformed or inconsistent packet, ERR_TOOBIG when segs cannot hold the
 * result. */
int offload_split(const uint8_t *pkt, size_t len, const struct virtio_net_hdr *vh,
		  struct offload_seg *segs, size_t nsegs) WUR;

/* In-place variant for GSO_NONE (no copy): validates pkt as offload_split
 * would and, if vh asks for it, completes the checksum in pkt itself.
 * Returns 0, -EINVAL, -EOPNOTSUPP (a GSO packet: use offload_split), or
 * ERR_PARSE. */
int offload_finish_csum(uint8_t *pkt, size_t len, const struct virtio_net_hdr *vh) WUR;

/* ---- Write side: coalesce (GRO) ------------------------------------------ */

/* One decrypted IP packet of a batch. The OFFLOAD_VNET_HDR_LEN bytes before
 * data must be writable (the virtio header goes there); data[0..cap) is the
 * buffer, of which len bytes are the packet. Merged payloads are appended in
 * place, so cap bounds how far a packet can grow (OFFLOAD_GRO_MAX_LEN at most
 * is ever used). */
struct offload_pkt {
	uint8_t *data;
	size_t len;
	size_t cap;
};

/* GRO for one batch of n <= OFFLOAD_GRO_BATCH packets, in place. TCP segments
 * of one flow (same addresses, ports and ACK number) are merged into the
 * earliest packet of their run when: the sequence numbers are contiguous; the
 * run so far has no PSH and no short segment (a shorter segment or one with
 * PSH may end a run, nothing follows it); every payload is <= the first's;
 * flags are exactly ACK or ACK|PSH; IPv4 has no options, no fragmentation,
 * equal TOS, TTL and DF, consecutive ids and a valid header checksum; IPv6
 * has no extension headers and equal version/class/flow label and hop limit;
 * the TCP header length, options, window and urgent pointer are equal; and
 * both TCP checksums are valid (a corrupt segment is never hidden inside a
 * super-packet whose checksum the kernel recomputes). With uso, UDP datagrams
 * of one flow merge under the same IP rules, equal-sized except possibly a
 * shorter last one. A super-packet holds at most OFFLOAD_GRO_MAX_SEGS packets
 * and OFFLOAD_GRO_MAX_LEN bytes and never grows past its buffer's cap.
 * These are the conditions under which offload_split (and the kernel's own
 * GSO) cuts the super-packet back into exactly the original packets.
 *
 * Output: out[0..return) (room for n entries) lists what to write to the TUN,
 * each entry starting at its virtio header, in the batch's order of first
 * packets; packets of one flow keep their order. A super-packet carries
 * GSO_TCPV4/TCPV6/UDP_L4, gso_size, hdr_len, csum_start/csum_offset and
 * NEEDS_CSUM, with updated IP/UDP lengths and the pseudo-header sum in its
 * checksum field (CHECKSUM_PARTIAL). Every other packet gets an all-zero
 * header and is left unchanged. pkts[i].len is updated for merged-into packets.
 *
 * Returns the number of entries, -EINVAL for NULL arguments or a packet with
 * len > cap, -E2BIG for n > OFFLOAD_GRO_BATCH. Malformed packets are not an
 * error: they are written as they are (the kernel decides). */
int offload_coalesce(struct offload_pkt *pkts, size_t n, bool uso, struct iovec *out) WUR;

#endif
