/* gRPC over HTTP/2 wire format (grpc/doc/PROTOCOL-HTTP2.md): the 5-byte
 * length prefix of every message, grpc-timeout, grpc-status, the
 * percent-encoded grpc-message, and the checks on content-type and :path.
 * Pure functions and one small state machine: no I/O, no clock, no
 * allocation except into a caller's bounded buffer. Every wire constant of
 * the gRPC layer lives here.
 *
 *   Length-Prefixed-Message = Compressed-Flag(1) Message-Length(4, big endian) Message
 *
 * We never compress (no grpc-encoding is offered or accepted), so a message
 * with the compressed flag set is refused (-EOPNOTSUPP, which the layers
 * above answer with UNIMPLEMENTED, as grpc/doc/compression.md asks). */
#ifndef PHAROS_RPC_FRAME_H
#define PHAROS_RPC_FRAME_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lib/err.h"

enum {
	RPC_FRAME_HDR_LEN = 5,
	RPC_FRAME_FLAG_COMPRESSED = 0x01,
	RPC_TIMEOUT_MAX_DIGITS = 8,
	RPC_TIMEOUT_STRLEN = RPC_TIMEOUT_MAX_DIGITS + 2, /* digits, unit, NUL */
	RPC_PATH_MAX = 256,                              /* "/pkg.Service/Method", with the NUL */
};

/* Limits: a message may be at most RPC_FRAME_MAX_LIMIT bytes whatever the
 * caller configures, so lengths always fit the 32-bit prefix and a size_t. */
#define RPC_FRAME_DEFAULT_MAX (4u * 1024 * 1024)
#define RPC_FRAME_MAX_LIMIT   (1u << 30)

/* Writes the prefix of an uncompressed message of len bytes. */
void rpc_frame_prefix(uint8_t out[RPC_FRAME_HDR_LEN], uint32_t len);

/* Validating scanner over a message stream that arrives in arbitrary pieces
 * (HTTP/2 DATA frames split messages anywhere). It checks every prefix and
 * counts messages without copying payload: callers keep the bytes where
 * they already are (a request buffer, a receive queue). */
struct rpc_frame_scanner {
	uint64_t messages;  /* complete messages seen */
	uint32_t remaining; /* payload bytes of the current message still to come */
	uint8_t hdr[RPC_FRAME_HDR_LEN];
	uint8_t hdr_have;   /* prefix bytes of the next message seen so far */
	bool in_payload;
	int error;          /* sticky: first error returned */
	size_t max;         /* largest accepted message */
};

/* max is clamped to RPC_FRAME_MAX_LIMIT. */
void rpc_frame_scanner_init(struct rpc_frame_scanner *s, size_t max);
/* Scans data[0..len). Returns the number of messages completed inside this
 * piece (0..), or -EOPNOTSUPP (compressed flag), ERR_PROTO (flag bits other
 * than the compressed bit) or ERR_TOOBIG (declared length above max). An
 * error is sticky: later calls return it again. */
int rpc_frame_scan(struct rpc_frame_scanner *s, const uint8_t *data, size_t len) WUR;
/* No partial message (prefix or payload) is pending. */
bool rpc_frame_scanner_idle(const struct rpc_frame_scanner *s);

/* Parses the message at the start of contiguous bytes p[0..len). Returns 1
 * with *msg and *msg_len set and *used the bytes it occupies (prefix included),
 * 0 if p holds only part of a message (*used 0), or an error as
 * rpc_frame_scan. Never reads past len. */
int rpc_frame_next(const uint8_t *p, size_t len, size_t max, const uint8_t **msg, size_t *msg_len,
                   size_t *used) WUR;

/* grpc-timeout: 1 to 8 ASCII digits, then a unit: H(our) M(inute) S(econd)
 * m(illisecond) u(microsecond) n(anosecond). *ms is rounded up to a whole
 * millisecond so that no positive timeout becomes "none"; "0m" is 0.
 * 0 or ERR_PARSE (*ms then 0). */
int rpc_frame_timeout_parse(const char *s, size_t len, uint64_t *ms) WUR;
/* The shortest exact encoding with at most 8 digits, in m when it fits;
 * longer timeouts are rounded up to S, M or H. Saturates at 99999999H. */
void rpc_frame_timeout_format(uint64_t ms, char out[RPC_TIMEOUT_STRLEN]);

/* grpc-status: decimal digits. Sets *code; 0, or ERR_PARSE for anything
 * else (the caller then reports UNKNOWN). Values above 16 are kept: they
 * are valid on the wire, and rpc_status_name calls them UNKNOWN. */
int rpc_frame_status_parse(const char *s, size_t len, int *code) WUR;

/* grpc-message: writes the percent-encoding of s[0..len) with a NUL into
 * out: bytes 0x20..0x7E except '%' as they are, everything else "%XX"
 * (upper case). 3 * len + 1 bytes always suffice. Returns the encoded
 * length, or -ENOSPC (out is then ""). */
int rpc_frame_pct_encode(char *out, size_t cap, const char *s, size_t len) WUR;
/* Decodes s[0..len) into out (cap >= 1), NUL-terminated, cut at cap - 1.
 * Lenient as the spec asks: a '%' not followed by two hex digits is kept as
 * it is rather than failing the status. Returns the decoded length. */
size_t rpc_frame_pct_decode(char *out, size_t cap, const char *s, size_t len);

/* Content-Type: "application/grpc" or "application/grpc+proto", in any
 * case, optionally followed by ";parameters". */
bool rpc_frame_content_type_ok(const char *v, size_t len);
/* Has the prefix "application/grpc": anything else earns HTTP 415. */
bool rpc_frame_content_type_is_grpc(const char *v, size_t len);
/* :path "/" Service "/" Method: service [A-Za-z0-9_.]+ (dots separate the
 * package), method [A-Za-z0-9_]+, shorter than RPC_PATH_MAX. */
bool rpc_frame_path_ok(const char *p, size_t len);

#endif
