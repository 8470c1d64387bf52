/* `vless://` share links for VLESS over REALITY on the raw TCP transport
 * (the VLESS link standard, XTLS/Xray-core discussion #716; specs/reality.md
 * §4):
 *
 *   vless://ID@HOST:PORT?encryption=none&type=tcp&security=reality&sni=NAME
 *          &fp=chrome&pbk=KEY&sid=HEX&spx=PATH&flow=xtls-rprx-vision
 *          &headerType=none#LABEL
 *
 * Parsing is strict: every query key must be one of those above (pqv, the
 * ML-DSA-65 add-on, is refused because we cannot check it), appear once,
 * and hold a value we can honour: security=reality, type=tcp (or absent),
 * encryption=none (or absent), fp=chrome (or absent: the shape we send),
 * headerType=none (or absent), flow empty, xtls-rprx-vision or
 * xtls-rprx-vision-udp443, pbk exactly 43 base64url characters, sid 0..16
 * hex digits of even count, spx starting with '/'. Values and the label are
 * percent-decoded (%XX; '+' is a plus sign); a decoded NUL, and a raw
 * space or control character anywhere, are refused.
 * HOST is a DNS name, an IPv4 address or a bracketed IPv6 address; PORT
 * 1..65535. A missing sni means HOST when HOST is a name, none for an
 * address (as Xray does).
 *
 * Errors are -EINVAL with a message in the caller's buffer that quotes the
 * offending part and says what is valid. No I/O. */
#ifndef PHAROS_REALITY_VLESS_LINK_H
#define PHAROS_REALITY_VLESS_LINK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lib/err.h"
#include "reality/reality_auth.h"
#include "reality/vless.h"

#define VLESS_LINK_MAX      4096 /* longest link we accept */
#define VLESS_LINK_HOST_MAX 254  /* 253-character name and the NUL */
#define VLESS_LINK_TEXT_MAX 256  /* sni, spx, label, with the NUL */
#define VLESS_LINK_ERR_MAX  256  /* room for an error message */

struct vless_link {
	char id[VLESS_LINK_TEXT_MAX];    /* the user id as written */
	uint8_t uuid[VLESS_UUID_LEN];    /* what goes on the wire */
	char host[VLESS_LINK_HOST_MAX];  /* without brackets */
	bool host_ipv6;
	uint16_t port;
	char sni[VLESS_LINK_TEXT_MAX];   /* "" for none */
	uint8_t pbk[REALITY_KEY_LEN];
	char sid[REALITY_SHORT_ID_HEX_LEN];
	uint8_t short_id[REALITY_SHORT_ID_LEN];
	bool vision;                     /* flow=xtls-rprx-vision[-udp443] */
	bool vision_udp443;              /* the -udp443 client variant */
	char spx[VLESS_LINK_TEXT_MAX];   /* spider path; "" when absent */
	char label[VLESS_LINK_TEXT_MAX]; /* the #fragment, decoded */
};

/* 0, or -EINVAL with err[0..err_cap) describing the problem (err may be
 * NULL). On failure *l is zeroed. */
int vless_link_parse(struct vless_link *l, const char *s, char *err, size_t err_cap) WUR;
/* The canonical link for l, with every parameter we use, percent-encoded.
 * 0, -ENOSPC, -EINVAL (l does not hold what a parse would give). */
int vless_link_format(const struct vless_link *l, char *out, size_t cap) WUR;

#endif
