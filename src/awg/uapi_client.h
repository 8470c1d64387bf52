/* The client side of the UAPI text protocol (specs/awg.md §3): a `get=1`
 * reply turned into a structured device, and a `set` command line turned into
 * the lines of a `set=1` transaction. Pure: no sockets, no clock, no files;
 * the socket code is src/pharos-awg/ipc.c and key files are read through a
 * callback. The reply parser is fed line by line (init, line, finish) so the
 * socket reader can stream into it and a fuzzer can drive it.
 *
 * Every fallible function returns 0 or a negative errno: -EPROTO for a
 * malformed reply, -EMSGSIZE past a size cap, -EINVAL for a bad command line,
 * -ENOMEM, or the daemon's own negative errno from the reply's errno= line.
 * Where an err buffer is taken it receives a one-line message that quotes the
 * offending input and says what would be valid. */
#ifndef PHAROS_AWG_UAPI_CLIENT_H
#define PHAROS_AWG_UAPI_CLIENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "awg/obf.h"
#include "lib/addr.h"

struct buf;
#include "lib/err.h"

#define UAPI_CLIENT_KEY_LEN 32
#define UAPI_CLIENT_IFNAMSIZ 16           /* IFNAMSIZ, including the NUL */
#define UAPI_CLIENT_MAX_REPLY (64u << 20) /* whole get reply */
#define UAPI_CLIENT_MAX_LINE (256u << 10) /* one line; an i1..i5 template is the longest */

/* The AmneziaWG device keys (specs/awg.md §2.2, §3.4), in UAPI order. */
enum uapi_client_awg_key {
	UAPI_CLIENT_JC,
	UAPI_CLIENT_JMIN,
	UAPI_CLIENT_JMAX,
	UAPI_CLIENT_S1,
	UAPI_CLIENT_S2,
	UAPI_CLIENT_S3,
	UAPI_CLIENT_S4,
	UAPI_CLIENT_H1,
	UAPI_CLIENT_H2,
	UAPI_CLIENT_H3,
	UAPI_CLIENT_H4,
	UAPI_CLIENT_I1,
	UAPI_CLIENT_I2,
	UAPI_CLIENT_I3,
	UAPI_CLIENT_I4,
	UAPI_CLIENT_I5,
	UAPI_CLIENT_AWG_COUNT
};

/* UAPI spelling ("jc", "h1", ...) of a key; NULL when out of range. */
const char *uapi_client_awg_key_name(enum uapi_client_awg_key k);
/* Config-file spelling ("Jc", "H1", ...). */
const char *uapi_client_awg_conf_name(enum uapi_client_awg_key k);

struct uapi_client_awg {
	uint32_t present;         /* bit (1u << key) when the daemon reported the key */
	uint32_t jc, jmin, jmax;
	uint32_t s[4];
	struct obf_range h[4];    /* defaults 1..4 when not reported */
	char *i[OBF_TEMPLATES];   /* template source text, NULL when unset */
};

/* True when the key carries a non-default value: the human `show` output
 * and showconf print only those (h1..h4 are always reported by amneziawg-go). */
bool uapi_client_awg_is_set(const struct uapi_client_awg *a, enum uapi_client_awg_key k);
/* Writes the value in UAPI/config form ("4", "100-200", the template) to out
 * (truncated to outlen); returns out. Empty string for an unset template. */
const char *uapi_client_awg_value(const struct uapi_client_awg *a, enum uapi_client_awg_key k, char *out,
                                  size_t outlen);

struct uapi_client_peer {
	uint8_t public_key[UAPI_CLIENT_KEY_LEN];
	uint8_t preshared_key[UAPI_CLIENT_KEY_LEN];
	bool has_preshared_key; /* an all-zero key means none */
	bool has_endpoint;
	union endpoint endpoint;
	int64_t last_handshake_sec; /* 0 = never */
	int64_t last_handshake_nsec;
	uint64_t rx_bytes, tx_bytes;
	uint16_t persistent_keepalive; /* seconds, 0 = off */
	struct cidr *allowed_ips;
	size_t n_allowed_ips, cap_allowed_ips;
};

struct uapi_client_device {
	char name[UAPI_CLIENT_IFNAMSIZ]; /* filled in by the caller, not from the reply */
	uint8_t private_key[UAPI_CLIENT_KEY_LEN];
	uint8_t public_key[UAPI_CLIENT_KEY_LEN]; /* derived from private_key */
	bool has_private_key;                    /* an all-zero key means none */
	uint16_t listen_port;
	uint32_t fwmark;
	struct uapi_client_awg awg;
	struct uapi_client_peer *peers;
	size_t n_peers, cap_peers;
};

/* Frees the device and its peers, wiping private and preshared keys; NULL is a no-op. */
void uapi_client_device_free(struct uapi_client_device *dev);

/* Streaming parser of one get reply. Device keys count only before the first
 * public_key, peer keys only after it; unknown keys are skipped (as `wg`
 * does, so newer daemons stay readable); numbers must be plain decimal within
 * the key's range, keys exact hex, addresses numeric. The reply ends with
 * `errno=N` then an empty line. */
struct uapi_client_parser {
	struct uapi_client_device *dev;
	size_t bytes;      /* fed so far, capped by UAPI_CLIENT_MAX_REPLY */
	size_t lineno;
	bool in_peer;
	bool got_errno;
	bool done;         /* the terminating empty line was seen */
	int daemon_errno;  /* negative errno reported by the daemon, 0 on success */
	int error;         /* first error, sticky */
	char err[192];
};

int uapi_client_parser_init(struct uapi_client_parser *p) WUR;
/* One line without its '\n'. Returns 0, or the sticky error once one
 * happened. A line after the terminating empty line is -EPROTO. */
int uapi_client_parser_line(struct uapi_client_parser *p, const char *line, size_t len) WUR;
/* Hands the device to *out (NULL on entry) when the reply was complete and
 * errno=0; otherwise the error: the daemon's errno if it sent one (p->err is
 * then empty), else the parse error with its message in p->err. Always
 * releases what the parser still owns. */
int uapi_client_parser_finish(struct uapi_client_parser *p, struct uapi_client_device **out) WUR;
/* Releases a parser that will not be finished; safe after finish. */
void uapi_client_parser_fini(struct uapi_client_parser *p);

/* Parses a whole reply held in memory (any bytes; NULs are malformed). */
int uapi_client_parse_reply(const char *buf, size_t len, struct uapi_client_device **out, char *err,
                            size_t errlen) WUR;

/* Sorts peers by latest handshake, newest first, never-handshaken last (wg's order). */
void uapi_client_sort_peers(struct uapi_client_device *dev);

/* I/O the `set` builder needs from its host. */
struct uapi_client_set_io {
	/* Reads a base64 key from a file (wg semantics: an empty file yields 32
	 * zero bytes, which removes a preshared key). Returns 0 or a negative
	 * errno with a message in err. Required. */
	int (*read_key_file)(void *ctx, const char *path, uint8_t key[UAPI_CLIENT_KEY_LEN], char *err,
	                     size_t errlen);
	/* Resolves a non-numeric "host:port" endpoint. Optional: when NULL only
	 * numeric endpoints are accepted. */
	int (*resolve_endpoint)(void *ctx, const char *s, union endpoint *out, char *err,
	                        size_t errlen);
	void *ctx;
};

/* Turns the arguments of `set IFNAME ...` after IFNAME into the key=value
 * lines of a set transaction (without the leading `set=1` and the final empty
 * line), appended to body (a buf with the caller's cap). Grammar (the CLI's
 * usage repeats it):
 *   [private-key FILE] [listen-port P] [fwmark M|off] [jc N] [jmin N] [jmax N]
 *   [s1..s4 N] [h1..h4 N|LO-HI] [i1..i5 TEMPLATE]
 *   [peer PUBKEY [remove] [preshared-key FILE] [endpoint HOST:PORT]
 *                [persistent-keepalive N|off] [allowed-ips CIDR[,CIDR...]]]...
 * allowed-ips replaces the peer's list unless an entry is signed: +CIDR adds,
 * -CIDR removes (wireguard-tools >= 1.0.20250521 semantics).
 * The body holds key material: release it with buf_fini_secret. On error
 * body may hold a partial transaction that must not be sent. */
int uapi_client_build_set(int argc, const char *const *argv, const struct uapi_client_set_io *io, struct buf *body,
                          char *err, size_t errlen) WUR;

/* Appends "public_key=HEX\nremove=true\n" for one peer (syncconf); on
 * failure body is unchanged. */
int uapi_client_body_add_remove_peer(struct buf *body, const uint8_t key[UAPI_CLIENT_KEY_LEN]) WUR;

#endif
