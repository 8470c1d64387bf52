/* XTLS Vision (flow "xtls-rprx-vision", specs/reality.md §5.3): padding
 * frames that hide the lengths of an inner TLS handshake, and the switch to
 * raw TCP ("direct") once the inner stream is TLS 1.3 application data.
 * Pure state machines; no I/O.
 *
 * Frame: [uuid 16, first frame of a direction only] cmd u8 | content_len
 * u16 BE | padding_len u16 BE | content | padding. cmd 0 = continue, 1 = end
 * (padding over, plain data follows inside TLS), 2 = direct (padding over;
 * after the TLS record carrying this frame the sender writes raw TCP).
 *
 * Receiving (vision_unpad): fed one TLS record's plaintext at a time, as
 * Xray reads one buffer at a time. Frames may be split anywhere across
 * records. While the direction is in its initial state, a chunk that is
 * shorter than 21 bytes or does not start with the expected UUID is data,
 * passed through unchanged (Xray's rule). After an end or direct frame,
 * everything is data; after a direct frame, u->direct is set and the caller
 * must treat every later byte of the socket, including bytes it has read
 * but not yet decrypted, as raw data.
 *
 * Sending (vision_pad): pads writes while the inner stream may still be in
 * its handshake, and ends padding with cmd 1 once a write is made of whole
 * TLS application-data records (or the inner stream turns out not to be
 * TLS >= 1.2). We never send cmd 2 (allowed: a receiver treats 1 and 2 the
 * same apart from switching to raw; §5.3 "Minimum viable Vision").
 *
 * Both sides sniff the inner traffic (vision_filter) on both directions for
 * the first 8 chunks, like Xray's XtlsFilterTls. */
#ifndef PHAROS_REALITY_VISION_H
#define PHAROS_REALITY_VISION_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lib/err.h"

#define VISION_UUID_LEN      16
#define VISION_HDR_LEN       5
#define VISION_BUF_SIZE      8192 /* Xray's buffer: a frame never exceeds it */
#define VISION_MAX_CONTENT   (VISION_BUF_SIZE - VISION_UUID_LEN - VISION_HDR_LEN)

enum vision_cmd {
	VISION_CMD_CONTINUE = 0,
	VISION_CMD_END = 1,
	VISION_CMD_DIRECT = 2,
};

/* What both directions learn about the inner stream. */
struct vision_traffic {
	int packets_to_filter;   /* starts at 8 */
	bool is_tls;             /* saw an inner ClientHello or ServerHello */
	bool is_tls12_or_above;  /* saw a ServerHello */
	bool enable_xtls;        /* inner TLS 1.3 with a suite other than CCM_8 */
	int32_t remaining_server_hello;
	uint16_t cipher;
};

void vision_traffic_init(struct vision_traffic *t);
/* Sniffs one chunk of inner plaintext (either direction) while
 * t->packets_to_filter > 0. */
void vision_filter(struct vision_traffic *t, const uint8_t *b, size_t len);

struct vision_unpad {
	uint8_t uuid[VISION_UUID_LEN];
	int rem_cmd, rem_content, rem_padding; /* -1, -1, -1: initial state */
	int cur_cmd;
	bool within_padding; /* still looking at frames */
	bool direct;         /* a direct frame ended the padding */
};

void vision_unpad_init(struct vision_unpad *u, const uint8_t uuid[VISION_UUID_LEN]);
/* Unpads in[0..len) into out (out may equal in: the output never runs
 * ahead of the input) and sets *out_len. Once padding is over, input is
 * copied through. Cannot fail. */
void vision_unpad_feed(struct vision_unpad *u, const uint8_t *in, size_t len, uint8_t *out, size_t *out_len);

struct vision_pad {
	uint8_t uuid[VISION_UUID_LEN];
	bool uuid_pending; /* the next frame starts with the UUID */
	bool padding;      /* still framing */
};

void vision_pad_init(struct vision_pad *p, const uint8_t uuid[VISION_UUID_LEN]);
/* Output room vision_pad_write needs for len bytes of input. */
size_t vision_pad_bound(size_t len);
/* Frames in[0..len) (or copies it once padding is over) into out. t must
 * already have seen this chunk (vision_filter). A len of 0 with padding on
 * writes one padding-only frame with long padding (what a client sends when
 * it has nothing to say yet). 0 or -ENOSPC. */
int vision_pad_write(struct vision_pad *p, const struct vision_traffic *t, const uint8_t *in, size_t len,
                     uint8_t *out, size_t cap, size_t *out_len) WUR;

/* in[0..len) is a non-empty run of whole TLS application-data records
 * (17 03 03 len ...). */
bool vision_is_complete_app_records(const uint8_t *in, size_t len);

#endif
