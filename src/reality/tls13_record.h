/* TLS 1.3 record layer (RFC 8446 §5), both directions, as a pure core: it
 * takes the bytes a socket delivered and returns the records' content, and
 * takes content and returns the bytes to write. No I/O, no clock, no
 * allocation per record (one EVP_CIPHER_CTX per direction, made at _init and
 * re-keyed in place).
 *
 * Reading: tls13_record_read() looks at the start of what the caller has
 * buffered. It answers 0 ("need rec->need bytes in all") until a whole record
 * is there, then 1 with the record's content and rec->used, the bytes to drop
 * from the caller's buffer. Protected records are opened into the caller's
 * out buffer (TLS_MAX_INNER bytes always suffice); plaintext records are
 * returned where they lie in the input. The layer enforces:
 *   - header: known content type, legacy_record_version 0x0303 (0x0301 is
 *     accepted by a server on plaintext handshake and alert records before
 *     any read key, i.e. on the ClientHello, as Chrome sends it), length
 *     <= 2^14 (+256 when protected), no empty handshake record, alerts
 *     exactly 2 bytes;
 *   - state: protected records only once a read key is set, plaintext
 *     handshake records only before; application data only under an
 *     application key; a ChangeCipherSpec record (exactly 14 03 03 00 01 01)
 *     is dropped, unprotected, between the first ClientHello and the peer's
 *     Finished (§5, D.4), at most ccs_max times; empty application-data
 *     records (REALITY's post-handshake imitation, specs/reality.md §2.6) are
 *     dropped, at most empty_max in a row;
 *   - AEAD: nonce = iv XOR seq, additional data = the 5-byte header, the inner
 *     content type found after stripping zero padding (§5.2-5.4), sequence
 *     numbers that never wrap.
 * Any error is fatal for the connection; r->alert then names the alert a
 * TLS endpoint would send (a REALITY server sends none, §3).
 *
 * Writing: tls13_record_write_plain() for ClientHello/ServerHello/CCS and
 * tls13_record_seal() for everything protected, with optional zero padding
 * (tls13_record_seal_to_size() pads a record to an exact length, which the
 * REALITY server needs to mimic dest's record sizes, §3.5). Content larger
 * than one record is the caller's to split.
 *
 * Handshake messages that span records are put back together by the
 * reassembler below (bounded by TLS_HS_REASM_MAX by default).
 *
 * Errors: ERR_PARSE (malformed header or record), ERR_PROTO (a record not
 * allowed now), ERR_TOOBIG (over a size limit), ERR_AUTH (AEAD tag),
 * ERR_RANGE (sequence number exhausted, padding does not fit), ERR_BADSTATE
 * (no key for a protected operation), -ENOSPC (caller's buffer too small),
 * -EINVAL (bad argument), -ENOMEM, ERR_CRYPTO. */
#ifndef PHAROS_REALITY_TLS13_RECORD_H
#define PHAROS_REALITY_TLS13_RECORD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lib/buf.h"
#include "lib/err.h"
#include "reality/reality_wire.h"

struct evp_cipher_ctx_st; /* EVP_CIPHER_CTX */

enum tls13_record_role {
	TLS13_RECORD_CLIENT = 0,
	TLS13_RECORD_SERVER = 1,
};

/* What a direction's current key protects. */
enum tls13_record_epoch {
	TLS13_EPOCH_PLAINTEXT = 0, /* no key yet: ClientHello, ServerHello */
	TLS13_EPOCH_HANDSHAKE,     /* handshake traffic keys */
	TLS13_EPOCH_APPLICATION,   /* application traffic keys (after Finished) */
};

struct tls13_record_dir {
	struct evp_cipher_ctx_st *ctx;
	uint16_t suite;                 /* 0 while plaintext */
	enum tls13_record_epoch epoch;
	uint8_t iv[TLS_AEAD_NONCE_LEN]; /* write IV of the current key */
	uint64_t seq;                   /* next record's sequence number */
};

struct tls13_record {
	enum tls13_record_role role;
	struct tls13_record_dir rx, tx;
	uint64_t records_in;   /* records accepted, dropped ones included */
	unsigned ccs_in;       /* ChangeCipherSpec records dropped */
	unsigned ccs_max;      /* how many we tolerate; default 1 */
	unsigned empty_run;    /* consecutive empty application-data records */
	unsigned empty_max;    /* how many in a row we tolerate; default 32 */
	bool tx_compat_0301;   /* client: write plaintext handshake records as 0x0301
	                        * (Chrome does, for the first ClientHello); clear it
	                        * after a HelloRetryRequest */
	uint8_t alert;         /* TLS_ALERT_* matching the last error */
};

/* A record read by tls13_record_read(). */
struct tls13_record_in {
	uint8_t type;        /* TLS_CT_*: the inner content type when protected */
	bool is_protected;     /* it came as TLSCiphertext */
	bool dropped;        /* a CCS or empty record the layer swallowed (len 0) */
	const uint8_t *data; /* content: in the input (plaintext) or in out (protected) */
	size_t len;
	size_t used;         /* input bytes this record took, header included */
	size_t need;         /* when 0 is returned: bytes needed in all */
};

/* Two EVP_CIPHER_CTX; both directions start in plaintext. 0 or -ENOMEM. */
int tls13_record_init(struct tls13_record *r, enum tls13_record_role role) WUR;
/* Frees the contexts and wipes keys, IVs and counters. NULL, or a struct
 * whose _init failed, is fine. */
void tls13_record_fini(struct tls13_record *r);

/* Installs a key for reading (rx) or writing (tx) and restarts that
 * direction's sequence number at 0 (§5.3). key_len must match the suite.
 * 0, -EINVAL (unknown suite, wrong length, epoch PLAINTEXT) or ERR_CRYPTO. */
int tls13_record_set_key(struct tls13_record *r, bool tx, uint16_t suite, const uint8_t *key, size_t key_len,
                         const uint8_t iv[TLS_AEAD_NONCE_LEN], enum tls13_record_epoch epoch) WUR;
/* The same from a traffic secret (hash_len bytes): derives key and IV
 * (tls13_keysched_traffic_keys) and installs them. */
int tls13_record_set_secret(struct tls13_record *r, bool tx, uint16_t suite, const uint8_t *secret,
                            enum tls13_record_epoch epoch) WUR;

/* Parses a record header at in[0..len): 1 and *type, *version, *length when
 * the 5 bytes are there and valid as such (known type, version 0x0301 or
 * 0x0303, length within the type's limit), 0 when fewer than 5 bytes,
 * ERR_PARSE or ERR_TOOBIG otherwise. Context rules are tls13_record_read's. */
int tls13_record_header_parse(const uint8_t *in, size_t len, uint8_t *type, uint16_t *version,
                              uint16_t *length) WUR;

/* Reads the record at the start of in[0..len) (see the top of this file).
 * out[0..out_cap) receives a protected record's inner plaintext and is wiped
 * if it fails to open. Returns 1, 0 (need more; rec->need set) or an error
 * (then r->alert is set and nothing of r changed but alert). */
int tls13_record_read(struct tls13_record *r, const uint8_t *in, size_t len, uint8_t *out, size_t out_cap,
                      struct tls13_record_in *rec) WUR;

/* Writes data[0..len) as one plaintext record of the given type into out:
 * handshake (before a write key), ChangeCipherSpec (data must be the byte
 * 01), or an alert. 0, -ENOSPC, ERR_PROTO (a write key is set and the type
 * is not CCS) or ERR_TOOBIG / -EINVAL. */
int tls13_record_write_plain(struct tls13_record *r, uint8_t type, const uint8_t *data, size_t len,
                             uint8_t *out, size_t cap, size_t *out_len) WUR;
/* Seals data[0..len) of content type (handshake, alert, application data)
 * followed by pad zero bytes into one TLSCiphertext record in out. data must
 * not overlap out. Output is TLS_RECORD_OVERHEAD + len + pad bytes;
 * len + pad + 1 may not exceed 2^14 + 1. Empty handshake content is
 * refused; empty application data is allowed (REALITY sends it). */
int tls13_record_seal(struct tls13_record *r, uint8_t type, const uint8_t *data, size_t len, size_t pad,
                      uint8_t *out, size_t cap, size_t *out_len) WUR;
/* As seal, padded so that the whole record is exactly record_len bytes;
 * ERR_RANGE if the content does not fit (REALITY then aborts, §3.5). */
int tls13_record_seal_to_size(struct tls13_record *r, uint8_t type, const uint8_t *data, size_t len,
                              size_t record_len, uint8_t *out, size_t cap, size_t *out_len) WUR;

/* The write direction has sealed TLS_REKEY_AFTER_RECORDS records under its
 * key: time to send a KeyUpdate (RFC 8446 §5.5). */
bool tls13_record_tx_should_update(const struct tls13_record *r);

/* An alert's two bytes: 0 with level and description, ERR_PARSE if len != 2. */
int tls13_record_alert_parse(const uint8_t *data, size_t len, uint8_t *level, uint8_t *desc) WUR;
/* close_notify or user_canceled: the alerts TLS 1.3 does not treat as fatal. */
bool tls13_record_alert_is_closure(uint8_t desc);

/* Handshake message reassembly. Handshake records' contents go in with
 * _add; _next hands out whole messages (header included, as the transcript
 * wants them) one at a time. The message returned stays valid until the
 * next _add, _next or _fini. A message whose header announces more than
 * max_body bytes is refused as soon as the header is seen.
 *
 * At most max_body + 4 bytes of partial message and one record's content
 * are held: drain with _next (until it returns 0) before adding the next
 * record. RFC 8446 §5.1 is the caller's to enforce with _empty: before a key
 * change the reassembler must be empty (messages may not span a key
 * change), and a record of another content type may not arrive while a
 * message is partial (no interleaving). */
struct tls13_record_reasm {
	struct buf b;    /* pending handshake bytes */
	size_t max_body; /* largest message body accepted */
	size_t taken;    /* bytes of the message last handed out, dropped next time */
};

struct tls13_record_hs_msg {
	uint8_t type;        /* TLS_HS_* */
	const uint8_t *msg;  /* the whole message: 4-byte header + body */
	size_t msg_len;
	const uint8_t *body;
	size_t body_len;
};

/* max_body 0 means TLS_HS_REASM_MAX; values above TLS_HS_MAX_BODY are clamped. */
void tls13_record_reasm_init(struct tls13_record_reasm *h, size_t max_body);
/* Wipes and frees what is held. */
void tls13_record_reasm_fini(struct tls13_record_reasm *h);
/* 0, ERR_TOOBIG (more than the bound holds), -ENOMEM, or ERR_PARSE for an
 * empty fragment (records never carry empty handshake content). */
int tls13_record_reasm_add(struct tls13_record_reasm *h, const uint8_t *data, size_t len) WUR;
/* 1 with *m set, 0 if no whole message is buffered, ERR_TOOBIG. */
int tls13_record_reasm_next(struct tls13_record_reasm *h, struct tls13_record_hs_msg *m) WUR;
/* No partial message is pending (bytes of the last message handed out do
 * not count). */
bool tls13_record_reasm_empty(const struct tls13_record_reasm *h);

#endif
