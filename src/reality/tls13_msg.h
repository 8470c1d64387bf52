/* TLS 1.3 handshake messages (RFC 8446 §4): parsers and builders for what a
 * REALITY client and server exchange. Pure functions over caller buffers: no
 * allocation, no I/O.
 *
 * Parsers take one whole handshake message, 4-byte header included (as the
 * reassembler in tls13_record.h hands them out), validate every length
 * exactly (each vector's length must match what it holds and the message
 * must end where its header says), and fill a struct of offsets into that
 * message. The struct refers to the caller's bytes: they must outlive it and
 * not move. A malformed message gives ERR_PARSE (ERR_TOOBIG when a table is
 * full) and leaves the output struct untouched.
 *
 * Extension blocks are kept as tables of (type, offset, length) in wire
 * order; a repeated extension type is malformed (§4.2). Typed accessors
 * decode and validate one extension's body on demand and return 0,
 * ERR_NOTFOUND (absent) or ERR_PARSE (malformed body). Every pointer an
 * accessor returns lies inside the parsed message.
 *
 * Builders write through a bounded writer (struct tls13_msg_wr) that keeps
 * the first error: -ENOSPC when the buffer is too small, ERR_TOOBIG when a
 * vector overflows its length prefix, -EINVAL for misuse. */
#ifndef PHAROS_REALITY_TLS13_MSG_H
#define PHAROS_REALITY_TLS13_MSG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lib/err.h"
#include "reality/reality_wire.h"
#include "reality/tls13_keysched.h" /* enum tls13_keysched_hash (C has no enum forward declaration) */

/* Bounds of our tables. Chrome's ClientHello has about 18 extensions. */
#define TLS13_MSG_CH_MAX_EXT     64
#define TLS13_MSG_SH_MAX_EXT     16
#define TLS13_MSG_EE_MAX_EXT     32
#define TLS13_MSG_CERT_MAX       16 /* certificate entries */
#define TLS13_MSG_WR_MAX_DEPTH   8  /* nested length-prefixed vectors */

/* ---- writer ---- */

struct tls13_msg_wr {
	uint8_t *p;
	size_t cap, len;
	int err;                               /* first error, sticky */
	unsigned depth;
	size_t open_at[TLS13_MSG_WR_MAX_DEPTH]; /* where each open vector's length sits */
	uint8_t open_width[TLS13_MSG_WR_MAX_DEPTH];
};

void tls13_msg_wr_init(struct tls13_msg_wr *w, uint8_t *out, size_t cap);
void tls13_msg_wr_u8(struct tls13_msg_wr *w, uint8_t v);
void tls13_msg_wr_u16(struct tls13_msg_wr *w, uint16_t v);
void tls13_msg_wr_u24(struct tls13_msg_wr *w, uint32_t v);
void tls13_msg_wr_bytes(struct tls13_msg_wr *w, const void *data, size_t len);
void tls13_msg_wr_zeros(struct tls13_msg_wr *w, size_t len);
/* Opens a vector with a width-byte length prefix (1, 2 or 3); _close fills
 * it in. Vectors nest up to TLS13_MSG_WR_MAX_DEPTH. */
void tls13_msg_wr_open(struct tls13_msg_wr *w, unsigned width);
void tls13_msg_wr_close(struct tls13_msg_wr *w);
/* A handshake message header (type, then an open 3-byte length). */
void tls13_msg_wr_hs_open(struct tls13_msg_wr *w, uint8_t type);
/* One extension: type, then its body (2-byte length) from data. */
void tls13_msg_wr_ext(struct tls13_msg_wr *w, uint16_t type, const void *data, size_t len);
/* 0 and *len = bytes written, or the first error (-EINVAL if a vector is
 * still open). */
int tls13_msg_wr_finish(struct tls13_msg_wr *w, size_t *len) WUR;

/* ---- common pieces ---- */

/* One extension of a parsed block: offsets count from the message's first
 * byte (its type). */
struct tls13_msg_ext {
	uint16_t type;
	uint32_t off; /* body */
	uint32_t len;
};

/* An extension given to a builder. */
struct tls13_msg_ext_in {
	uint16_t type;
	const uint8_t *data;
	size_t len;
};

/* A position in a validated list (ALPN names, key shares, certificate
 * entries are walked with these). */
struct tls13_msg_iter {
	const uint8_t *p, *end;
};

struct tls13_msg_key_share {
	uint16_t group;
	const uint8_t *key;
	size_t len;
};

/* The header of msg[0..len): 0 with *type and *body_len when the message is
 * exactly 4 + body_len bytes, ERR_PARSE otherwise. */
int tls13_msg_header(const uint8_t *msg, size_t len, uint8_t *type, size_t *body_len) WUR;
/* GREASE values (RFC 8701): 0x0a0a, 0x1a1a, ... 0xfafa. */
bool tls13_msg_is_grease(uint16_t v);
/* Whether len is the key_exchange length of group: X25519 32,
 * X25519MLKEM768 1216 from a client and 1120 from a server, P-256 65,
 * P-384 97, P-521 133; any length >= 1 for other groups. */
bool tls13_msg_key_share_len_ok(uint16_t group, size_t len, bool from_server);
/* The extension of that type in a table, or NULL. */
const struct tls13_msg_ext *tls13_msg_ext_find(const struct tls13_msg_ext *ext, size_t n, uint16_t type);

/* ---- ClientHello (§4.1.2) ---- */

struct tls13_msg_ch {
	const uint8_t *msg;
	size_t len;
	uint16_t legacy_version;
	uint32_t random_off;      /* TLS_RANDOM_LEN bytes */
	uint32_t sid_off;         /* legacy_session_id; REALITY_SESSION_ID_OFFSET when 32 bytes */
	uint8_t sid_len;
	uint32_t suites_off;      /* cipher_suites: pairs of bytes */
	uint32_t suites_len;      /* in bytes, even, >= 2 */
	uint32_t comp_off;        /* legacy_compression_methods */
	uint8_t comp_len;         /* >= 1 */
	uint32_t ext_block_off;   /* the extensions vector's content (after its length) */
	uint32_t ext_block_len;
	size_t ext_count;
	struct tls13_msg_ext ext[TLS13_MSG_CH_MAX_EXT]; /* wire order */
};

/* Parses a ClientHello message. Beyond the lengths it checks what makes the
 * message unusable for TLS 1.3 at all: an extensions block must be present
 * (§4.1.2), no extension type may repeat, and pre_shared_key, if present,
 * must be the last extension (§4.2.11). Values (legacy_version, suites,
 * compression) are the caller's to judge. */
int tls13_msg_ch_parse(struct tls13_msg_ch *ch, const uint8_t *msg, size_t len) WUR;

const uint8_t *tls13_msg_ch_random(const struct tls13_msg_ch *ch);
void tls13_msg_ch_session_id(const struct tls13_msg_ch *ch, const uint8_t **sid, size_t *len);
/* cipher_suites as big-endian pairs: *count suites at *list. */
void tls13_msg_ch_suites(const struct tls13_msg_ch *ch, const uint8_t **list, size_t *count);
bool tls13_msg_ch_offers_suite(const struct tls13_msg_ch *ch, uint16_t suite);
/* legacy_compression_methods is exactly [null] as TLS 1.3 requires. */
bool tls13_msg_ch_compression_null(const struct tls13_msg_ch *ch);
/* Raw body of an extension: 0 or ERR_NOTFOUND. */
int tls13_msg_ch_ext(const struct tls13_msg_ch *ch, uint16_t type, const uint8_t **data, size_t *len) WUR;
/* server_name (RFC 6066 §3): the host_name entry (1..65535 bytes). The
 * list must be well formed (every entry a type and a 2-byte-length name)
 * and hold exactly one host_name. */
int tls13_msg_ch_server_name(const struct tls13_msg_ch *ch, const uint8_t **name, size_t *len) WUR;
/* supported_versions (§4.2.1): *count versions as pairs at *list (1..127). */
int tls13_msg_ch_supported_versions(const struct tls13_msg_ch *ch, const uint8_t **list, size_t *count) WUR;
/* supported_versions is present, valid, and lists 0x0304. */
bool tls13_msg_ch_offers_tls13(const struct tls13_msg_ch *ch);
/* supported_groups (§4.2.7): pairs, at least one. */
int tls13_msg_ch_supported_groups(const struct tls13_msg_ch *ch, const uint8_t **list, size_t *count) WUR;
bool tls13_msg_ch_offers_group(const struct tls13_msg_ch *ch, uint16_t group);
/* signature_algorithms (§4.2.3): pairs, at least one. */
int tls13_msg_ch_sig_algs(const struct tls13_msg_ch *ch, const uint8_t **list, size_t *count) WUR;
/* psk_key_exchange_modes (§4.2.9): 1..255 single-byte modes. */
int tls13_msg_ch_psk_modes(const struct tls13_msg_ch *ch, const uint8_t **modes, size_t *count) WUR;
/* pre_shared_key is offered (then it is the last extension, parse checked). */
bool tls13_msg_ch_has_psk(const struct tls13_msg_ch *ch);
/* key_share (§4.2.8): validates the whole client_shares list (entries of
 * 1..65535 bytes, no group twice) and starts an iterator over it. An empty
 * list is valid (a client asking for a HelloRetryRequest). */
int tls13_msg_ch_key_shares(const struct tls13_msg_ch *ch, struct tls13_msg_iter *it) WUR;
/* Next entry of a validated key_share list; false at the end. */
bool tls13_msg_key_share_next(struct tls13_msg_iter *it, struct tls13_msg_key_share *ks);
/* The share for one group: 0, ERR_NOTFOUND, or ERR_PARSE (list malformed). */
int tls13_msg_ch_key_share_find(const struct tls13_msg_ch *ch, uint16_t group, struct tls13_msg_key_share *ks) WUR;
/* ALPN (RFC 7301 §3.1): validates the ProtocolNameList (non-empty, names
 * 1..255 bytes) and starts an iterator over it. */
int tls13_msg_ch_alpn(const struct tls13_msg_ch *ch, struct tls13_msg_iter *it) WUR;
/* Next protocol name of a validated ALPN list; false at the end. */
bool tls13_msg_alpn_next(struct tls13_msg_iter *it, const uint8_t **name, size_t *len);

/* Builds a ClientHello: legacy_version 0x0303, random, session id (0..32
 * bytes), suites, compression [null], then the extensions in the order
 * given (the caller encodes their bodies, e.g. with the writer). */
struct tls13_msg_ch_spec {
	const uint8_t *random; /* TLS_RANDOM_LEN */
	const uint8_t *sid;
	size_t sid_len;
	const uint16_t *suites;
	size_t n_suites;
	const struct tls13_msg_ext_in *ext;
	size_t n_ext;
};
int tls13_msg_ch_build(const struct tls13_msg_ch_spec *spec, uint8_t *out, size_t cap, size_t *len) WUR;

/* ---- ServerHello and HelloRetryRequest (§4.1.3, §4.1.4) ---- */

struct tls13_msg_sh {
	const uint8_t *msg;
	size_t len;
	uint16_t legacy_version;
	uint32_t random_off;
	uint32_t sid_off;
	uint8_t sid_len;
	uint16_t suite;
	uint8_t compression;
	bool is_hrr;          /* random is the HelloRetryRequest value */
	uint16_t version;     /* supported_versions.selected_version; 0 if absent */
	uint16_t group;       /* key_share group (or HRR selected_group); 0 if absent */
	uint32_t key_off;     /* ServerHello key_exchange; 0 if absent or HRR */
	uint32_t key_len;
	uint32_t cookie_off;  /* HRR cookie content; 0 if absent */
	uint32_t cookie_len;
	size_t ext_count;
	struct tls13_msg_ext ext[TLS13_MSG_SH_MAX_EXT];
};

/* Parses a ServerHello or HelloRetryRequest. The extensions block may be
 * missing (a TLS 1.2 ServerHello); supported_versions must then be 2 bytes,
 * key_share a KeyShareEntry (ServerHello) or a bare group (HRR), cookie
 * 1..65535 bytes. */
int tls13_msg_sh_parse(struct tls13_msg_sh *sh, const uint8_t *msg, size_t len) WUR;
const uint8_t *tls13_msg_sh_random(const struct tls13_msg_sh *sh);
/* The checks a TLS 1.3 client makes of a ServerHello against its own
 * ClientHello (§4.1.3, §4.1.4, specs/reality.md §6.1): legacy_version
 * 0x0303, selected_version 0x0304 (else a downgrade: ERR_PROTO), a suite we
 * implement that the ClientHello offered, null compression, the session id
 * echoed, every extension one the ClientHello offered, and for a
 * ServerHello a group for which the ClientHello sent a share, with a
 * key_exchange of the right length; for a HelloRetryRequest a group the
 * ClientHello supports but sent no share for. 0 or ERR_PROTO. */
int tls13_msg_sh_check(const struct tls13_msg_sh *sh, const struct tls13_msg_ch *ch) WUR;
/* Overwrites the ServerHello's key_exchange bytes in place with key, which
 * must be exactly as long (REALITY splices its own share into dest's
 * ServerHello, §3.5). msg is the buffer sh was parsed from. 0, -EINVAL
 * (no key share, HRR, length differs). */
int tls13_msg_sh_replace_key(const struct tls13_msg_sh *sh, uint8_t *msg, const uint8_t *key, size_t key_len) WUR;

/* Builds a ServerHello (key_share, then supported_versions 0x0304: the
 * order of the RFC 8448 traces) or, with hrr set, a HelloRetryRequest (the
 * fixed random, key_share with the selected group only, supported_versions;
 * no cookie). */
struct tls13_msg_sh_spec {
	bool hrr;
	const uint8_t *random; /* TLS_RANDOM_LEN; ignored for a HRR */
	const uint8_t *sid;    /* echo of the ClientHello's */
	size_t sid_len;
	uint16_t suite;
	uint16_t group;
	const uint8_t *key;    /* ServerHello only */
	size_t key_len;
};
int tls13_msg_sh_build(const struct tls13_msg_sh_spec *spec, uint8_t *out, size_t cap, size_t *len) WUR;

/* ---- EncryptedExtensions (§4.3.1) ---- */

struct tls13_msg_ee {
	const uint8_t *msg;
	size_t len;
	size_t ext_count;
	struct tls13_msg_ext ext[TLS13_MSG_EE_MAX_EXT];
};
int tls13_msg_ee_parse(struct tls13_msg_ee *ee, const uint8_t *msg, size_t len) WUR;
/* The server's ALPN choice: exactly one name of 1..255 bytes (RFC 7301). */
int tls13_msg_ee_alpn(const struct tls13_msg_ee *ee, const uint8_t **name, size_t *len) WUR;
int tls13_msg_ee_build(const struct tls13_msg_ext_in *ext, size_t n_ext, uint8_t *out, size_t cap,
                       size_t *len) WUR;

/* ---- Certificate (§4.4.2) ---- */

struct tls13_msg_cert_entry {
	uint32_t data_off; /* cert_data (DER X.509 for us) */
	uint32_t data_len;
	uint32_t ext_off;  /* the entry's extensions vector content */
	uint32_t ext_len;
};

struct tls13_msg_cert {
	const uint8_t *msg;
	size_t len;
	uint32_t ctx_off;  /* certificate_request_context */
	uint8_t ctx_len;
	size_t count;
	struct tls13_msg_cert_entry entry[TLS13_MSG_CERT_MAX];
};
/* Each entry's extensions must themselves be a well-formed block without
 * repeats. An empty certificate_list is valid here (a client without a
 * certificate); a server's must not be, which is the caller's check. */
int tls13_msg_cert_parse(struct tls13_msg_cert *c, const uint8_t *msg, size_t len) WUR;
/* Entry i's certificate: 0 or ERR_NOTFOUND (i >= count). */
int tls13_msg_cert_get(const struct tls13_msg_cert *c, size_t i, const uint8_t **der, size_t *len) WUR;

struct tls13_msg_cert_in {
	const uint8_t *der;
	size_t len;
	const uint8_t *ext; /* the entry's extensions block content, usually none */
	size_t ext_len;
};
int tls13_msg_cert_build(const uint8_t *ctx, size_t ctx_len, const struct tls13_msg_cert_in *certs, size_t n,
                         uint8_t *out, size_t cap, size_t *len) WUR;

/* ---- CertificateVerify (§4.4.3) ---- */

struct tls13_msg_cv {
	const uint8_t *msg;
	size_t len;
	uint16_t scheme;
	uint32_t sig_off;
	uint32_t sig_len;
};
int tls13_msg_cv_parse(struct tls13_msg_cv *cv, const uint8_t *msg, size_t len) WUR;
int tls13_msg_cv_build(uint16_t scheme, const uint8_t *sig, size_t sig_len, uint8_t *out, size_t cap,
                       size_t *len) WUR;
/* The content that is signed: 64 × 0x20 ‖ context string ‖ 00 ‖ thash, the
 * server or client context (§4.4.3). out needs TLS_CV_CONTENT_MAX bytes at
 * most; thash_len 32 or 48. */
int tls13_msg_cv_content(bool server, const uint8_t *thash, size_t thash_len, uint8_t *out, size_t cap,
                         size_t *len) WUR;

/* ---- Finished (§4.4.4) ---- */

/* The body must be exactly hash_len bytes: 0 with *verify_data, or ERR_PARSE. */
int tls13_msg_fin_parse(const uint8_t *msg, size_t len, size_t hash_len, const uint8_t **verify_data) WUR;
int tls13_msg_fin_build(const uint8_t *verify_data, size_t hash_len, uint8_t *out, size_t cap, size_t *len) WUR;
/* Computes HMAC(finished_key(base_secret), thash) and compares it with the
 * Finished message in constant time: 0, ERR_PARSE (wrong shape), ERR_AUTH
 * (mismatch), or a key schedule error. */
int tls13_msg_fin_verify(enum tls13_keysched_hash hash, const uint8_t *base_secret, const uint8_t *thash,
                         const uint8_t *msg, size_t len) WUR;

/* ---- post-handshake (§4.6) ---- */

/* KeyUpdate: 0 with *requested, or ERR_PARSE (body not one byte of 0 or 1). */
int tls13_msg_key_update_parse(const uint8_t *msg, size_t len, bool *requested) WUR;
int tls13_msg_key_update_build(bool requested, uint8_t *out, size_t cap, size_t *len) WUR;
/* NewSessionTicket structure check only (we never resume; a real server's
 * tickets are validated and skipped). 0 or ERR_PARSE. */
int tls13_msg_nst_check(const uint8_t *msg, size_t len) WUR;

#endif
