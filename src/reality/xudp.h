/* XUDP (specs/reality.md §5.2): UDP datagrams over one VLESS Mux (command 3)
 * stream, each with its own address, as Xray clients send UDP (always with
 * Vision, whose servers refuse command 2). Pure codec, no I/O.
 *
 * Frame: meta_len u16 | session_id u16 (0) | status u8 | option u8 |
 *        [network u8 (2 = UDP) | port u16 | atyp u8 | address] |
 *        [global_id 8, first frame only] | [data_len u16 | data]
 * (meta_len counts from session_id to before data_len). The client's first
 * frame is status 1 (new) with the destination and an all-zero global id
 * (no cone NAT identity); later frames are status 2 (keep) with their own
 * destination. The server answers with keep frames carrying the source
 * address; status 4 (keep-alive) frames are dropped; any other status, or
 * meta_len < 4, ends the stream. Address types are VLESS's (1 IPv4, 2
 * domain, 3 IPv6), written port first. */
#ifndef PHAROS_REALITY_XUDP_H
#define PHAROS_REALITY_XUDP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lib/err.h"
#include "reality/vless.h"

/* Xray drops a datagram when its length + 666 exceeds its 8192-byte buffer. */
#define XUDP_MAX_PAYLOAD (8192 - 666)
/* Longest frame we write: meta (2 + 2 + 1 + 1 + 1 + 2 + 1 + 1 + 255 + 8),
 * data length and payload. */
#define XUDP_FRAME_MAX (2 + 4 + 1 + 2 + 2 + VLESS_DOMAIN_MAX + 8 + 2 + XUDP_MAX_PAYLOAD)

/* 1 when a frame was read. */
#define XUDP_END 2

struct xudp_packet {
	bool has_addr;          /* the frame named its source */
	struct vless_addr addr; /* then: port and address */
	bool keepalive;         /* status 4: nothing to deliver */
	const uint8_t *data;    /* payload inside the input; NULL if none */
	size_t len;
};

/* Writes one client frame for data[0..len) to dst (first: status new with
 * the global id, else keep). 0, -EINVAL (len 0 or over XUDP_MAX_PAYLOAD,
 * bad address), -ENOSPC. */
int xudp_encode(bool first, const struct vless_addr *dst, const uint8_t *data, size_t len, uint8_t *out,
                size_t cap, size_t *out_len) WUR;

/* Reads one frame at the start of in[0..len): 1 with *p and *used, 0 when
 * more bytes are needed, XUDP_END (the stream ends here), ERR_PARSE. */
int xudp_parse(const uint8_t *in, size_t len, struct xudp_packet *p, size_t *used) WUR;

#endif
