/* REALITY server, one connection, as a state machine with no I/O
 * (specs/reality.md §3, §5). The I/O layer (server_io.c) owns three
 * sockets — the client, the decoy ("dest") and, once VLESS asks for it, the
 * target — feeds what it reads into the functions below and writes out what
 * the machine queued:
 *
 *   client bytes -> reality_conn_client_data()   -> out_dest (mirror), out_client, out_target
 *   dest bytes   -> reality_conn_dest_data()     -> out_client
 *   target bytes -> reality_conn_target_data()   -> out_client
 *
 * States:
 *   READ_CH   every client byte is mirrored to dest while the ClientHello
 *             is gathered; dest's bytes are held back.
 *   RELAY     not ours (any check failed): out_client holds everything dest
 *             sent so far; from now on the I/O layer copies bytes both ways
 *             untouched. Never left.
 *   WAIT_DEST ours: dest's ServerHello, CCS and encrypted flight are read to
 *             learn its shape; if dest's answer is unusable, RELAY.
 *   WAIT_FIN  our flight is queued; the client's Finished is awaited. The
 *             I/O layer closes dest when this state is left.
 *   OPEN      application data: VLESS request, then the payload both ways
 *             (with Vision framing when the flow says so).
 *   CLOSED    fatal error after the decision (no alert is sent before the
 *             client is authenticated; after it, the connection is just
 *             closed, as Xray does).
 *
 * Errors: functions return 0 or -ENOMEM / ERR_TOOBIG (a buffer cap); a
 * protocol failure is a state change, not an error. */
#ifndef PHAROS_REALITY_REALITY_SERVER_H
#define PHAROS_REALITY_REALITY_SERVER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lib/buf.h"
#include "lib/err.h"
#include "reality/dest_probe.h"
#include "reality/reality_auth.h"
#include "reality/tls13_keysched.h"
#include "reality/tls13_msg.h"
#include "reality/tls13_record.h"
#include "reality/vision.h"
#include "reality/vless.h"

#define REALITY_SERVER_MAX_NAMES    64
#define REALITY_SERVER_MAX_SHORT_IDS 64
#define REALITY_SERVER_NAME_MAX     256
/* A ClientHello larger than this is not one of ours (Chrome's is ~1.9 KB,
 * with ML-KEM; a padded one stays below 4 KB). */
#define REALITY_SERVER_CH_MAX       (16 * 1024)
/* dest's first flight as REALITY 8cdf7bf9 accepts it (17 KiB). */
#define REALITY_SERVER_DEST_MAX     17408
/* Above this, dest's first encrypted record is taken to hold the whole
 * encrypted flight ("combined mode", §3.4). */
#define REALITY_SERVER_COMBINED_MIN 512
/* Caps on the queues toward each socket; the I/O layer drains them. */
#define REALITY_SERVER_QUEUE_MAX    (1024 * 1024)

/* Replay cache (hardening upstream keeps unwired, specs/reality.md §3.2):
 * the GCM tag of every accepted session id is remembered for a TTL; a
 * ClientHello whose tag is already there is treated as not ours, so a
 * replayed handshake of a real client only ever reaches dest. Thread-safe
 * (one mutex); bounded: REALITY_REPLAY_BUCKETS x REALITY_REPLAY_WAYS
 * entries, the entry closest to expiry is evicted when a bucket is full. */
#define REALITY_REPLAY_BUCKETS 8192
#define REALITY_REPLAY_WAYS    8
#define REALITY_REPLAY_KEY_LEN 16
struct reality_replay;
struct reality_replay *reality_replay_new(void);
void reality_replay_free(struct reality_replay *r);
/* true if key was seen and has not expired; otherwise records it with
 * expiry now_ms + ttl_ms and returns false. */
bool reality_replay_seen(struct reality_replay *r, const uint8_t key[REALITY_REPLAY_KEY_LEN], uint64_t now_ms,
                         uint64_t ttl_ms);

/* Static configuration (after parsing; see server_conf.h for the JSON). */
struct reality_server_cfg {
	uint8_t private_key[REALITY_KEY_LEN];
	size_t n_names;
	char names[REALITY_SERVER_MAX_NAMES][REALITY_SERVER_NAME_MAX];
	size_t n_short_ids;
	uint8_t short_ids[REALITY_SERVER_MAX_SHORT_IDS][REALITY_SHORT_ID_LEN];
	uint32_t min_client_ver; /* 0: not checked */
	uint32_t max_client_ver; /* 0: not checked */
	uint64_t max_time_diff_ms; /* 0: not checked */
	struct vless_users users;
	struct reality_replay *replay; /* NULL: no replay protection */
	/* dest's post-handshake records per server name and ALPN class
	 * (dest_probe.h); empty lists send nothing */
	struct dest_probe_result post_hs[REALITY_SERVER_MAX_NAMES][DEST_PROBE_CLASSES];
	/* one Ed25519 key per process (§3.5), and the certificate template */
	uint8_t ed_seed[REALITY_ED25519_SEED_LEN];
	uint8_t ed_pub[REALITY_ED25519_PUB_LEN];
	uint8_t cert[REALITY_CERT_LEN];
};

/* Makes the process's Ed25519 key and certificate template. 0 or ERR_CRYPTO. */
int reality_server_cfg_keys(struct reality_server_cfg *cfg) WUR;

enum reality_conn_state {
	REALITY_CONN_READ_CH = 0,
	REALITY_CONN_RELAY,
	REALITY_CONN_WAIT_DEST,
	REALITY_CONN_WAIT_FIN,
	REALITY_CONN_OPEN,
	REALITY_CONN_CLOSED,
};

/* Why a connection was relayed (for logs and tests). */
enum reality_verdict {
	REALITY_V_NONE = 0,
	REALITY_V_OURS,
	REALITY_V_NOT_TLS,        /* not a TLS handshake record / ClientHello */
	REALITY_V_BAD_CH,         /* ClientHello malformed, no TLS 1.3, sid not 32 */
	REALITY_V_SNI,            /* server name not allowed */
	REALITY_V_KEY_SHARE,      /* no usable X25519 share */
	REALITY_V_AUTH,           /* session id does not open */
	REALITY_V_VERSION,        /* client version outside the range */
	REALITY_V_TIME,           /* timestamp outside max_time_diff */
	REALITY_V_SHORT_ID,       /* short id not allowed */
	REALITY_V_DEST,           /* dest's reply unusable (HRR, no CCS, too big...) */
	REALITY_V_REPLAY,         /* a session id accepted before */
};
const char *reality_verdict_str(enum reality_verdict v);

struct reality_conn {
	const struct reality_server_cfg *cfg;
	enum reality_conn_state state;
	enum reality_verdict verdict;
	uint64_t now_ms; /* Unix time of the ClientHello, for the time check */

	struct buf out_client, out_dest, out_target; /* queued for each socket */
	struct buf ch_raw;   /* client bytes before the decision */
	struct buf dest_raw; /* dest bytes before the decision / its flight */
	struct buf rx;       /* client bytes not yet read as records (after decision) */

	/* handshake */
	struct buf ch_msg;   /* the ClientHello handshake message */
	struct tls13_msg_ch ch;
	uint8_t auth_key[REALITY_KEY_LEN];
	struct tls13_record rec;
	bool rec_live;
	struct tls13_keysched ks;
	struct tls13_keysched_transcript tr;
	bool tr_live;
	const struct tls13_keysched_suite *suite;
	uint16_t group;  /* the key exchange dest chose (TLS_GROUP_*) */
	size_t name_idx; /* which server name the ClientHello carried */
	int alpn_class;  /* its ALPN class (dest_probe_alpn_class) */
	uint8_t c_ap[TLS_MAX_HASH_LEN], s_ap[TLS_MAX_HASH_LEN];
	struct tls13_record_reasm reasm;
	bool reasm_live;
	bool client_closed; /* close_notify or fatal alert from the client */

	/* VLESS */
	struct buf vin;      /* plaintext until the request header is complete */
	bool have_request;
	struct vless_request req;
	const struct vless_user *user;
	bool connect_wanted; /* the I/O layer should connect to req.dst */
	bool target_ready;
	bool response_sent;
	bool vision;
	struct vision_traffic vt;
	struct vision_unpad vu;
	struct vision_pad vp;
	bool uplink_raw;     /* the client switched to raw TCP (Vision direct) */
	uint8_t *scratch;    /* one record's plaintext / one padded write */
};

/* Sets up a connection; now_ms is the current Unix time in milliseconds. */
int reality_conn_init(struct reality_conn *c, const struct reality_server_cfg *cfg, uint64_t now_ms) WUR;
/* Wipes keys and frees buffers. */
void reality_conn_fini(struct reality_conn *c);

int reality_conn_client_data(struct reality_conn *c, const uint8_t *in, size_t len) WUR;
int reality_conn_dest_data(struct reality_conn *c, const uint8_t *in, size_t len) WUR;
/* Before the decision one side ended: become a pipe (out_client gets what
 * dest sent so far). No-op in other states. */
int reality_conn_give_up(struct reality_conn *c) WUR;
/* The target connection is up: pending uplink data is in out_target. */
void reality_conn_target_connected(struct reality_conn *c);
/* Bytes from the target: sent to the client (VLESS response first, Vision
 * padding while it lasts), sealed into TLS records. Only in OPEN. */
int reality_conn_target_data(struct reality_conn *c, const uint8_t *in, size_t len) WUR;
/* The target closed its side: queues close_notify. */
int reality_conn_target_eof(struct reality_conn *c) WUR;

#endif
