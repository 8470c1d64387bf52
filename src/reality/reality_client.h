/* REALITY client connection core (specs/reality.md §2, §6.1 client
 * checklist): a TLS 1.3 client over our record layer and key schedule, with
 * the Chrome-shaped ClientHello of chello.h carrying the sealed session id,
 * and the server authenticated by the REALITY certificate (an Ed25519
 * certificate whose signature field is HMAC-SHA512(AuthKey, public key)).
 * No I/O and no clock: the caller passes `now`, feeds received bytes and
 * writes out what the core appends to its output buffer.
 *
 *   reality_client_init()       ClientHello built and sealed
 *   reality_client_hello()      its record, to send first
 *   reality_client_handshake()  feed the server's flight; returns
 *       0                       need more bytes
 *       REALITY_CLIENT_OURS     the server proved the REALITY key; our CCS and
 *                               Finished were appended to out; application
 *                               keys are in place; VLESS may be sent
 *       REALITY_CLIENT_NOT_OURS the server presented another certificate (a
 *                               real one: the server fell back to its decoy, or
 *                               the path is intercepted). The handshake was
 *                               still checked (CertificateVerify with that
 *                               certificate's key, Finished) and completed, and
 *                               a close_notify follows our Finished in out, as a
 *                               browser that has nothing to fetch would leave.
 *                               The caller must send out, then close: proxy data
 *                               is never sent on such a connection (the core
 *                               refuses reality_client_write from then on).
 *       < 0                     fatal (bad message, failed signature, ...)
 *   reality_client_write()      application data -> records
 *   reality_client_read()       one record -> application data (skips empty
 *                               records, tickets; answers KeyUpdate)
 *   reality_client_close()      close_notify
 *
 * Errors: ERR_PARSE, ERR_PROTO (a message out of order, a ServerHello not
 * matching our hello, a HelloRetryRequest), ERR_AUTH (signature or
 * Finished), ERR_BADSTATE (call in the wrong state), ERR_CRYPTO, -ENOMEM,
 * and the record layer's codes. */
#ifndef PHAROS_REALITY_REALITY_CLIENT_H
#define PHAROS_REALITY_REALITY_CLIENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lib/buf.h"
#include "lib/err.h"
#include "reality/chello.h"
#include "reality/reality_auth.h"
#include "reality/tls13_keysched.h"
#include "reality/tls13_record.h"

enum {
	REALITY_CLIENT_OURS = 1,
	REALITY_CLIENT_NOT_OURS = 2,
	REALITY_CLIENT_EOF = 3, /* reality_client_read: the server's close_notify */
};

enum reality_client_state {
	REALITY_CLIENT_WAIT_SH = 0,
	REALITY_CLIENT_WAIT_EE,
	REALITY_CLIENT_WAIT_CERT,
	REALITY_CLIENT_WAIT_CV,
	REALITY_CLIENT_WAIT_FIN,
	REALITY_CLIENT_CONNECTED, /* verified REALITY server: data may flow */
	REALITY_CLIENT_REFUSED,   /* handshake done with a foreign certificate */
	REALITY_CLIENT_CLOSED,
	REALITY_CLIENT_FAILED,
};

struct reality_client_config {
	const char *server_name;               /* SNI; NULL or "" for none */
	uint8_t server_pub[REALITY_KEY_LEN];   /* the share link's pbk */
	uint8_t short_id[REALITY_SHORT_ID_LEN];
	uint32_t version;                      /* 0: CHELLO_REALITY_VERSION */
};

/* ALPN name the server chose (EE), at most 255 bytes and a NUL. */
#define REALITY_CLIENT_ALPN_MAX 256

struct reality_client {
	enum reality_client_state state;
	struct tls13_record rec;
	struct tls13_record_reasm reasm;
	struct tls13_keysched ks;
	struct tls13_keysched_transcript tr;
	const struct tls13_keysched_suite *suite;
	struct chello_keys keys;
	uint8_t auth_key[REALITY_KEY_LEN];
	uint8_t ch[CHELLO_MAX];
	size_t ch_len;
	bool tx_closed;                            /* our close_notify is out */
	bool verified;                             /* the REALITY certificate was seen */
	uint8_t cert_pub[REALITY_ED25519_PUB_LEN]; /* its key, for CertificateVerify */
	uint8_t *foreign_cert;                     /* DER of another leaf (mem_alloc) */
	size_t foreign_cert_len;
	uint16_t cv_scheme;                        /* scheme of the verified CertificateVerify */
	char alpn[REALITY_CLIENT_ALPN_MAX];
	uint8_t inner[TLS_MAX_INNER];              /* scratch for one record's plaintext */
};

/* Builds and seals the ClientHello. rand and keys may be NULL (drawn and
 * generated here); tests pass fixed ones. now is Unix time in seconds.
 * 0, -EINVAL, -ENOMEM, ERR_CRYPTO. On failure c is finalised. */
int reality_client_init(struct reality_client *c, const struct reality_client_config *cfg, uint32_t now,
                        const struct chello_rand *rand, const struct chello_keys *keys) WUR;
/* Frees and wipes everything. Safe on a zeroed struct and after a failed init. */
void reality_client_fini(struct reality_client *c);

/* Appends the ClientHello record (version 0x0301) to out. */
int reality_client_hello(struct reality_client *c, struct buf *out) WUR;

/* Feeds in[0..len) during the handshake; *used bytes were consumed (it stops
 * right after the server's Finished, so what follows is application records
 * for reality_client_read). Anything to send is appended to out. Returns as
 * described at the top of this file. */
int reality_client_handshake(struct reality_client *c, const uint8_t *in, size_t len, size_t *used,
                             struct buf *out) WUR;

/* Seals data as application records (split at 2^14 bytes) onto out. Only in
 * the CONNECTED state: ERR_BADSTATE otherwise (never on a NOT_OURS
 * connection). */
int reality_client_write(struct reality_client *c, const uint8_t *data, size_t len, struct buf *out) WUR;

/* Reads at most one record from in[0..len): 1 with *used and the record's
 * application data in *data, *dlen (0 when the record carried none: an
 * empty record, a NewSessionTicket, a KeyUpdate, whose answer is appended
 * to out); 0 when more bytes are needed (*used 0); REALITY_CLIENT_EOF on
 * close_notify; < 0 on error. *data points into c and is valid until the
 * next call. */
int reality_client_read(struct reality_client *c, const uint8_t *in, size_t len, size_t *used,
                        const uint8_t **data, size_t *dlen, struct buf *out) WUR;

/* Appends a close_notify alert (protected when keys are in place). Our
 * side is then closed for writing; reading goes on (the peer may still
 * send, as after a TCP half-close) until its close_notify. */
int reality_client_close(struct reality_client *c, struct buf *out) WUR;

#endif
