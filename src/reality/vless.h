/* VLESS version 0 (specs/reality.md §5.1, §5.2): the request and response
 * headers, both sides, user ids, users and the flow rules a server applies.
 * Pure functions over caller buffers; no I/O.
 *
 * Request:  00 | uuid[16] | addons_len u8 | addons | cmd u8 | [port u16 BE |
 *           atyp u8 | addr]   (port/address absent for Mux)
 * Response: 00 | addons_len u8 | addons
 * Addons are protobuf Addons{1: string flow, 2: bytes seed}.
 *
 * Parsers are incremental: 1 with *used when the whole header is there,
 * 0 when more bytes are needed, or ERR_PARSE (malformed), ERR_RANGE
 * (unsupported version, command or address type), ERR_TOOBIG. */
#ifndef PHAROS_REALITY_VLESS_H
#define PHAROS_REALITY_VLESS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lib/err.h"

#define VLESS_VERSION     0
#define VLESS_UUID_LEN    16
#define VLESS_UUID_TEXT   37 /* 36 characters and the NUL */
#define VLESS_FLOW_MAX    32 /* longest flow name we keep, NUL included */
#define VLESS_DOMAIN_MAX  255
/* Longest request header: 1 + 16 + 1 + 255 + 1 + 2 + 1 + 1 + 255. */
#define VLESS_REQUEST_MAX 533
#define VLESS_RESPONSE_MAX (2 + 255)
#define VLESS_FLOW_VISION "xtls-rprx-vision"

enum vless_cmd {
	VLESS_CMD_TCP = 1,
	VLESS_CMD_UDP = 2,
	VLESS_CMD_MUX = 3,
};

enum vless_atyp {
	VLESS_ATYP_IPV4 = 1,
	VLESS_ATYP_DOMAIN = 2,
	VLESS_ATYP_IPV6 = 3,
};

struct vless_addr {
	uint8_t atyp;      /* VLESS_ATYP_*; 0 for Mux */
	uint16_t port;
	uint8_t len;       /* domain length */
	uint8_t bytes[VLESS_DOMAIN_MAX + 1]; /* 4, 16, or the domain with a NUL */
};

struct vless_request {
	uint8_t uuid[VLESS_UUID_LEN];
	char flow[VLESS_FLOW_MAX]; /* "" when the request names none */
	uint8_t cmd;               /* VLESS_CMD_* */
	struct vless_addr dst;
};

/* Parses a request header at the start of in[0..len). A flow longer than
 * VLESS_FLOW_MAX - 1 is ERR_RANGE (no valid flow is). */
int vless_request_parse(const uint8_t *in, size_t len, struct vless_request *req, size_t *used) WUR;
/* Writes the header; 0, -ENOSPC, -EINVAL (bad atyp or domain length). */
int vless_request_encode(const struct vless_request *req, uint8_t *out, size_t cap, size_t *len) WUR;

/* The response header: 1 and *used, 0, ERR_RANGE (version not 0),
 * ERR_PARSE (addons not protobuf). */
int vless_response_parse(const uint8_t *in, size_t len, size_t *used) WUR;
/* 00 00 (no addons): always 2 bytes. */
#define VLESS_RESPONSE_LEN 2
void vless_response_encode(uint8_t out[VLESS_RESPONSE_LEN]);

/* A user id: a UUID in 8-4-4-4-12 hex (either case, hyphens as given), or
 * 1..30 characters of any other text, mapped as Xray does to
 * SHA-1(16 zero bytes ‖ text)[0..16) with version 5 and the RFC 4122
 * variant. 0 or -EINVAL (empty, or over 30 characters and not a UUID). */
int vless_uuid_parse(uint8_t uuid[VLESS_UUID_LEN], const char *s) WUR;
void vless_uuid_format(char out[VLESS_UUID_TEXT], const uint8_t uuid[VLESS_UUID_LEN]);

/* Flow of an account or request. */
enum vless_flow {
	VLESS_FLOW_NONE = 0,
	VLESS_FLOW_XRV = 1, /* xtls-rprx-vision */
};
/* "" -> NONE, "xtls-rprx-vision" -> XRV; anything else -EINVAL. */
int vless_flow_parse(enum vless_flow *flow, const char *s) WUR;

/* The server's users: a bounded table searched in constant time per entry. */
#define VLESS_USERS_MAX 1024
struct vless_user {
	uint8_t uuid[VLESS_UUID_LEN];
	enum vless_flow flow;
	char name[64]; /* for logs ("email" in Xray) */
};
struct vless_users {
	size_t n;
	struct vless_user u[VLESS_USERS_MAX];
};
/* 0, ERR_EXISTS (same uuid), ERR_TOOBIG (table full). */
int vless_users_add(struct vless_users *users, const struct vless_user *u) WUR;
/* The user with that id, or NULL. Every entry is compared (timing does not
 * say which entry matched). */
const struct vless_user *vless_users_find(const struct vless_users *users, const uint8_t uuid[VLESS_UUID_LEN]);

/* Xray's inbound flow rules (§5.1): a request's flow must be the account's;
 * with Vision, UDP (cmd 2) is refused (it goes through XUDP); an account
 * with Vision refuses a request without flow for TCP and Mux. 0 or
 * ERR_AUTH; *vision tells whether the connection uses Vision framing. */
int vless_flow_check(const struct vless_user *u, const struct vless_request *req, bool *vision) WUR;

/* XUDP (specs/reality.md §5.2): UDP inside Mux.Cool frames of session 0,
 * what Xray clients send with Vision (cmd 3). A frame is meta_len u16 |
 * session u16 | status u8 | option u8 | [network 02 | port | atyp addr |
 * optional 8-byte GlobalID] | [data_len u16 | data]. */
enum {
	VLESS_XUDP_NEW = 1,
	VLESS_XUDP_KEEP = 2,
	VLESS_XUDP_END = 3,
	VLESS_XUDP_KEEPALIVE = 4,
};
#define VLESS_XUDP_OPT_DATA  0x01
#define VLESS_XUDP_NET_UDP   0x02

struct vless_xudp_pkt {
	uint8_t status;      /* VLESS_XUDP_* */
	bool has_dst;        /* the frame names a destination */
	struct vless_addr dst;
	const uint8_t *data; /* inside the input; NULL when the frame has none */
	size_t len;
};

/* One frame as a server reads it, at the start of in[0..len): 1 with *p
 * and *used, 0 if more is needed, ERR_PARSE (malformed, a session other
 * than 0, a network other than UDP), ERR_RANGE (unknown status). The
 * server's answers (Keep frames with the source address) have the shape of
 * a client's Keep frame: xudp_encode(false, ...) in xudp.h writes them.
 * Defined in xudp.c, on the same frame splitter and address parser as the
 * client's xudp_parse. */
int vless_xudp_parse(const uint8_t *in, size_t len, struct vless_xudp_pkt *p, size_t *used) WUR;

/* Plain UDP (cmd 2, no Vision) datagrams: u16 BE length ‖ payload. */
#define VLESS_UDP_MAX 65535
/* 1 with *payload, *plen and *used for a whole datagram, 0 if more is
 * needed. */
int vless_udp_frame_parse(const uint8_t *in, size_t len, const uint8_t **payload, size_t *plen, size_t *used);

#endif
