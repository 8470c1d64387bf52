/* wg/awg-style configuration files ([Interface] and [Peer] sections), turned
 * into the body of a UAPI "set=1" transaction (specs/awg.md §3.3, §3.4), and
 * a UAPI "get=1" reply turned back into such a file (showconf).
 *
 * The parser is fed one line at a time (conf_init, conf_line..., conf_finish,
 * conf_fini), so it never holds a whole file and is easy to fuzz. Keys are
 * case-insensitive, '#' starts a comment, blanks around '=' and values are
 * ignored.
 *
 *   [Interface]  PrivateKey (base64), ListenPort (0..65535), FwMark (decimal,
 *                0xHEX or "off"), Jc, Jmin, Jmax, S1..S4, H1..H4 ("x" or
 *                "lo-hi"), I1..I5 (template to the end of the line; empty =
 *                unset, not sent). J1..J3 and Itime (AWG 1.5) are accepted and
 *                ignored. wg-quick's Address, DNS, MTU, Table, PreUp, PostUp,
 *                PreDown, PostDown and SaveConfig are not sent but returned,
 *                in file order, by conf_extra().
 *   [Peer]       PublicKey, PresharedKey (base64), AllowedIPs (comma list, may
 *                repeat), Endpoint (numeric IPv4:port or [IPv6]:port),
 *                PersistentKeepalive (0..65535 or "off").
 *
 * Output lines, in this order: private_key, listen_port, fwmark, the AWG
 * keys present (jc jmin jmax s1..s4 h1..h4 i1..i5), replace_peers=true (with
 * CONF_REPLACE_PEERS, setconf semantics); then per peer public_key,
 * preshared_key, endpoint, persistent_keepalive_interval,
 * replace_allowed_ips=true, allowed_ip... Keys are lowercase hex. The body
 * holds the private and preshared keys: free it with buf_fini_secret(). */
#ifndef PHAROS_AWG_CONF_H
#define PHAROS_AWG_CONF_H

#include <stddef.h>

#include "lib/err.h"

struct buf;
struct conf_state;

#define CONF_ERR_LEN 512
/* Longest line accepted: fits "I1 = " and the longest template. */
#define CONF_MAX_LINE (1 << 18)

enum conf_flags {
	CONF_REPLACE_PEERS = 1 << 0, /* emit replace_peers=true (wg setconf) */
};

/* A wg-quick key the daemon does not use, kept for a quick-style tool. key is
 * the canonical spelling ("Address", "PostUp", ...); value is trimmed, without
 * its comment; line is 1-based. Owned by the conf. */
struct conf_extra {
	const char *key;
	const char *value;
	unsigned line;
};

struct conf {
	struct conf_state *st;  /* private */
	unsigned line;          /* lines fed so far */
	char err[CONF_ERR_LEN]; /* why the last failing call failed */
};

/* 0 or -ENOMEM. flags: enum conf_flags. */
int conf_init(struct conf *c, unsigned flags) WUR;
/* Feeds the next line (NUL-terminated; a trailing "\n" or "\r\n" is allowed).
 * 0, or -EINVAL / ERR_TOOBIG / -ENOMEM with c->err as
 *   line N: "the line": what is wrong (expected what is valid)
 * (key values are shown as <hidden>). After a failure every later call
 * returns the same code. */
int conf_line(struct conf *c, const char *line) WUR;
/* Checks what only the whole file can tell (every [Peer] has a PublicKey,
 * the AWG parameters agree with each other, specs/awg.md §2.5) and appends
 * the UAPI set body (without "set=1" and the final empty line) to out.
 * 0, or a negative code with c->err set. */
int conf_finish(struct conf *c, struct buf *out) WUR;
/* Frees everything and wipes the keys; c may then be initialised again. */
void conf_fini(struct conf *c);
/* Last error message ("" if none). */
const char *conf_error(const struct conf *c);

/* wg-quick keys collected so far, in file order. */
size_t conf_extra_count(const struct conf *c);
const struct conf_extra *conf_extra(const struct conf *c, size_t i);

/* showconf: appends to out a configuration file for the UAPI get reply
 * reply[0..len) ("key=value" lines up to an empty line or "errno=N").
 * Unknown keys are skipped as wg does; device keys count only before the
 * first public_key; preshared keys of zeros, a zero keepalive and H values
 * equal to their defaults (1, 2, 3, 4) are left out. 0, -EINVAL / ERR_PARSE
 * (malformed reply, errno != 0) with a message in err, -ENOMEM or
 * ERR_TOOBIG. */
int conf_from_uapi(const char *reply, size_t len, struct buf *out, char *err, size_t errlen) WUR;

#endif
