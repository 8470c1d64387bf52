/*
 * The controller's store: one storage interface for everything cox keeps
 * (DESIGN.md §9, schema in §11 "Controller store as built"). Callers see
 * typed functions only; the SQL runs on a small backend vtable
 * (store_backend.h), SQLite today, PostgreSQL (libpq) later, without
 * touching callers.
 *
 * Conventions:
 *   - Every function returns 0 or a negative code: ERR_NOTFOUND (no such
 *     row), ERR_EXISTS (a unique name taken), ERR_CONFLICT (optimistic
 *     concurrency: the row's version is not the one the caller read),
 *     -EBUSY (another writer held the database past the busy timeout),
 *     -EINVAL (an argument out of its documented shape), -ENOSPC (the fleet
 *     subnet is full), -ENOMEM, -EIO (the database failed).
 *   - Every mutable row has `version` (1 on insert, +1 on each update) and
 *     `updated_at`; update functions take the version the caller read and
 *     refuse a stale one with ERR_CONFLICT, then bump the caller's copy.
 *   - Times are Unix seconds (0 = never / unset), from the store's clock.
 *   - Writes are atomic. Several writes become one transaction with
 *     store_begin/store_commit (BEGIN IMMEDIATE: one writer at a time across
 *     processes, others wait up to the busy timeout). Inside, store functions
 *     join the caller's transaction; a failure inside dooms it, and the
 *     final store_commit then rolls back and returns the first error.
 *   - List functions call cb once per row, in a stable order; a non-zero
 *     return from cb stops the walk and is returned. Row structs passed to
 *     cb are valid only during the call.
 *   - Secret material (PSKs) is wiped from the store's buffers after use;
 *     the caller wipes its own copies.
 */
#ifndef PHAROS_STORE_STORE_H
#define PHAROS_STORE_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lib/err.h"

struct store;

#define STORE_KEY_LEN      32   /* AmneziaWG, X25519, REALITY keys, PSK */
#define STORE_HASH_LEN     32   /* SHA-256 (audit chain) */
#define STORE_NAME_MAX     64   /* node, device, region names; 1..64 of [A-Za-z0-9._-] */
#define STORE_EMAIL_MAX    254
#define STORE_TEXT_MAX     128  /* display names, actor */
#define STORE_HOST_MAX     253
#define STORE_ADDR_MAX     46   /* an IPv4/IPv6 address as text */
#define STORE_ENDPOINTS_MAX 64
#define STORE_FP_MAX       128  /* "SHA256:<base64>" SSH host key fingerprint */
#define STORE_SERIAL_MAX   64   /* certificate serial, lower-case hex */
#define STORE_ROLE_MAX     16
#define STORE_VERSION_MAX  64   /* pharos-node binary version */
#define STORE_OBF_MAX      (64 * 1024)  /* obfuscation set text */
#define STORE_PROFILE_MAX  (1 << 20)    /* sealed .pharos bytes */
#define STORE_AUDIT_ACTION_MAX 64
#define STORE_AUDIT_TARGET_MAX 256
#define STORE_AUDIT_DETAIL_MAX 4096
#define STORE_KV_KEY_MAX   128
#define STORE_KV_VALUE_MAX 4096
#define STORE_PWHASH_MAX   256  /* crypto_pwhash_str output */

/* ---- lifecycle and transactions ---------------------------------------- */

/* Opens (creating 0600 if absent) the SQLite database at path, applies
 * pending migrations in one transaction, and refuses a database whose
 * schema is newer than this binary knows. err receives a sentence on
 * failure. store_close(NULL) is a no-op. */
int store_open(const char *path, struct store **out, char *err, size_t errlen) WUR;
void store_close(struct store *st);

/* Schema version of the open database, and the newest this binary knows. */
int store_schema_version(struct store *st, int64_t *version) WUR;
int64_t store_schema_latest(void);

/* The clock used for created_at/updated_at/audit ts (default time(2));
 * for tests. */
void store_set_clock(struct store *st, int64_t (*now)(void *arg), void *arg);

/* Write transaction (BEGIN IMMEDIATE). Nests: only the outermost pair
 * talks to the database. store_rollback undoes everything since the
 * outermost begin (and ends it). */
int store_begin(struct store *st) WUR;
int store_commit(struct store *st) WUR;
void store_rollback(struct store *st);

/* The backend's last error text, for messages ("" if none). */
const char *store_errmsg(struct store *st);
/* How long a write waits for another process's write lock, and what is
 * said when that was not long enough (store_errmsg, and callers that only
 * have -EBUSY). */
#define STORE_BUSY_TIMEOUT_MS 30000
#define STORE_BUSY_MESSAGE                                                                                   \
	"the store is busy: another cox process has held its write lock for 30 s (a bulk import?); try again " \
	"when it has finished"

/* ---- admins (operators of the UI/API) ------------------------------------ */

struct store_admin {
	int64_t id;
	char username[STORE_NAME_MAX + 1];
	char pwhash[STORE_PWHASH_MAX + 1]; /* Argon2id string, never a password */
	int64_t disabled_at;
	int64_t version, created_at, updated_at;
};
int store_admin_add(struct store *st, const char *username, const char *pwhash, int64_t *id) WUR;
int store_admin_get(struct store *st, const char *username, struct store_admin *out) WUR;
int store_admin_set_pwhash(struct store *st, struct store_admin *a, const char *pwhash) WUR;

/* ---- users ------------------------------------------------------------------ */

struct store_user {
	int64_t id;
	char email[STORE_EMAIL_MAX + 1];   /* unique, stored lower-case */
	char name[STORE_TEXT_MAX + 1];
	int64_t n_devices;                 /* filled by get and list */
	int64_t version, created_at, updated_at;
};
/* email must pass store_email_valid; name may be "" (at most
 * STORE_TEXT_MAX printable bytes). */
int store_user_add(struct store *st, const char *email, const char *name, int64_t *id) WUR;
int store_user_get(struct store *st, const char *email, struct store_user *out) WUR;
int store_user_get_id(struct store *st, int64_t id, struct store_user *out) WUR;
int store_user_set_name(struct store *st, struct store_user *u, const char *name) WUR;
/* Removes the user; with devices left, ERR_BADSTATE unless with_devices,
 * which removes them too (with their PSKs and profiles). */
int store_user_remove(struct store *st, const char *email, bool with_devices) WUR;
int store_users_list(struct store *st, int (*cb)(void *arg, const struct store_user *u), void *arg) WUR;

/* Shape checks the store enforces (callers use them to word errors). */
bool store_email_valid(const char *email);
bool store_name_valid(const char *name);       /* 1..64 of [A-Za-z0-9._-] */
bool store_text_valid(const char *s, size_t max); /* printable, no control bytes */

/* ---- devices -------------------------------------------------------------- */

struct store_device {
	int64_t id;
	int64_t user_id;
	char user_email[STORE_EMAIL_MAX + 1];
	char name[STORE_NAME_MAX + 1];      /* unique per user */
	uint8_t awg_public[STORE_KEY_LEN];
	uint8_t enc_public[STORE_KEY_LEN];  /* X25519 key profiles are sealed to */
	int64_t host;                       /* index in the fleet subnets */
	char addr4[STORE_ADDR_MAX], addr6[STORE_ADDR_MAX]; /* tunnel addresses */
	int64_t revoked_at;                 /* 0: not revoked */
	int64_t version, created_at, updated_at;
};

/* The fleet subnets addresses come from: an IPv4 CIDR of prefix 8..30 and
 * an IPv6 CIDR of prefix 8..120. Host 0 (network), 1 (the nodes' gateway)
 * and the IPv4 broadcast are never given out. */
struct store_subnets {
	const char *subnet4;   /* e.g. "10.86.0.0/16" */
	const char *subnet6;   /* e.g. "fd12:3456:789a::/48" */
};

/* Adds a device for the user with this email, allocating the next free host
 * index (one above the highest in use, else the lowest free one), the same
 * index in both subnets, and a fresh PSK for every active node. The first
 * allocation records the subnets; later calls with other subnets get
 * ERR_BADSTATE (addresses are stable for a device's life). ERR_NOTFOUND: no
 * such user; ERR_EXISTS: the user already has a device of this name or a
 * device has this AmneziaWG key; -ENOSPC: the subnet is full. d (in:
 * name, keys; out: everything) */
int store_device_add(struct store *st, const char *email, const struct store_subnets *sn,
		     struct store_device *d) WUR;

/* DEVICE as users type it: a numeric id, "EMAIL/NAME", or a NAME that only
 * one device has (ERR_EXISTS if several: the caller asks for EMAIL/NAME). */
int store_device_find(struct store *st, const char *ref, struct store_device *out) WUR;
int store_device_get(struct store *st, int64_t id, struct store_device *out) WUR;
/* Marks revoked (now) with the version the caller read; ERR_BADSTATE if
 * already revoked. Nodes drop it at their next push (store_node_peers skips
 * revoked devices). */
int store_device_revoke(struct store *st, struct store_device *d) WUR;
/* Deletes the device with its PSKs and profile; its address becomes free. */
int store_device_remove(struct store *st, struct store_device *d) WUR;

struct store_device_filter {
	const char *email;      /* NULL: all users */
	bool include_revoked;
};
int store_devices_list(struct store *st, const struct store_device_filter *f,
		       int (*cb)(void *arg, const struct store_device *d), void *arg) WUR;
int store_devices_count(struct store *st, int64_t *n) WUR;

/* ---- nodes ---------------------------------------------------------------- */

enum store_node_state {
	STORE_NODE_PENDING = 0,     /* being installed, not yet serving */
	STORE_NODE_ACTIVE,
	STORE_NODE_UNREACHABLE,     /* missed miss_limit sweeps */
	STORE_NODE_STOPPED,         /* stopped by the operator */
};
const char *store_node_state_name(enum store_node_state s);
int store_node_state_parse(const char *s, enum store_node_state *out) WUR;

struct store_node {
	int64_t id;
	char name[STORE_NAME_MAX + 1];      /* unique; the certificate id */
	char region[STORE_NAME_MAX + 1];
	char ssh_user[STORE_NAME_MAX + 1];
	char ssh_host[STORE_HOST_MAX + 1];
	uint16_t ssh_port;
	char host_key_fp[STORE_FP_MAX + 1]; /* pinned at first contact */
	enum store_node_state state;
	bool has_awg_public, has_reality_public;
	uint8_t awg_public[STORE_KEY_LEN];
	uint8_t reality_public[STORE_KEY_LEN];
	char *obfuscation;                  /* "key=value\n" lines; malloc'd, may be NULL */
	char control_host[STORE_HOST_MAX + 1];
	uint16_t control_port;
	char endpoints[STORE_ENDPOINTS_MAX][STORE_ADDR_MAX]; /* entry pool addresses */
	size_t n_endpoints;
	uint16_t port_lo, port_hi;          /* entry pool port range, inclusive */
	bool forwarding, masquerade, isolation;
	uint64_t intended_rev, applied_rev;
	uint32_t misses;
	int64_t last_seen, last_stale_heal;
	char binary_version[STORE_VERSION_MAX + 1];
	int64_t version, created_at, updated_at;
};
/* store_node_fini frees obfuscation (the struct itself is the caller's). */
void store_node_init(struct store_node *n);
void store_node_fini(struct store_node *n);

/* Inserts n (id, version and times are assigned and written back). An
 * active node gets a PSK for every live device. ERR_EXISTS: name taken. */
int store_node_add(struct store *st, struct store_node *n) WUR;
int store_node_get(struct store *st, const char *name, struct store_node *out) WUR;
/* Writes every column of n where id and version match (ERR_CONFLICT if the
 * version is stale). Becoming active creates missing PSKs. */
int store_node_update(struct store *st, struct store_node *n) WUR;
/* Deletes the node and its PSKs. */
int store_node_remove(struct store *st, struct store_node *n) WUR;
int store_nodes_list(struct store *st, int (*cb)(void *arg, const struct store_node *n), void *arg) WUR;
/* intended_rev += 1 on one node (name) or on every node not stopped (NULL),
 * without a version check (it is a counter); ERR_NOTFOUND for an unknown
 * name. */
int store_node_bump_intended(struct store *st, const char *name) WUR;

/* The peers a node should carry: live (not revoked) devices with this
 * node's PSK, ordered by device id. psk is wiped after cb returns. */
struct store_peer {
	int64_t device_id;
	const char *device_name, *user_email;
	uint8_t awg_public[STORE_KEY_LEN];
	uint8_t psk[STORE_KEY_LEN];
	const char *addr4, *addr6;
};
int store_node_peers(struct store *st, int64_t node_id,
		     int (*cb)(void *arg, const struct store_peer *p), void *arg) WUR;
/* How many peers store_node_peers would give, without reading them. */
int store_node_peer_count(struct store *st, int64_t node_id, int64_t *n) WUR;
/* One device × node PSK (ERR_NOTFOUND if none). Wipe it after use. */
int store_psk_get(struct store *st, int64_t device_id, int64_t node_id, uint8_t psk[STORE_KEY_LEN]) WUR;

/* ---- certificates ----------------------------------------------------------- */

struct store_cert {
	char serial[STORE_SERIAL_MAX + 1];  /* lower-case hex, unique */
	char role[STORE_ROLE_MAX + 1];      /* controller|node|relay|device|ca */
	char subject[STORE_NAME_MAX + 1];   /* urn:pharos:id value */
	char fingerprint[65];               /* SHA-256 of the DER, hex */
	int64_t not_before, not_after, revoked_at;
	int64_t version, created_at, updated_at;
};
int store_cert_add(struct store *st, const struct store_cert *c) WUR;
int store_cert_get(struct store *st, const char *serial, struct store_cert *out) WUR;
/* Sets revoked_at = now; ERR_BADSTATE if already revoked. */
int store_cert_revoke(struct store *st, const char *serial) WUR;
/* role NULL: every role; ordered by created_at, serial. */
int store_certs_list(struct store *st, const char *role, bool only_revoked,
		     int (*cb)(void *arg, const struct store_cert *c), void *arg) WUR;

/* ---- profiles (sealed bytes only; the controller has no plaintext) ---- */

/* Stores a device's sealed profile at revision; revision must exceed the
 * stored one (ERR_CONFLICT otherwise). */
int store_profile_put(struct store *st, int64_t device_id, uint64_t revision,
		      const uint8_t *sealed, size_t len) WUR;
/* *sealed is mem_alloc'd; ERR_NOTFOUND if the device has none. */
int store_profile_get(struct store *st, int64_t device_id, uint64_t *revision,
		      uint8_t **sealed, size_t *len) WUR;

/* ---- settings (small key/value text) ------------------------------------ */

/* ERR_NOTFOUND for an unset key, -ENOSPC if cap is too small. */
int store_kv_get(struct store *st, const char *key, char *buf, size_t cap) WUR;
int store_kv_set(struct store *st, const char *key, const char *value) WUR;
/* Removes a key; an absent one is not an error. */
int store_kv_delete(struct store *st, const char *key) WUR;

/* ---- audit chain ---------------------------------------------------------- */

/* hash = SHA-256(prev_hash || enc(seq, ts, actor, action, target, detail)),
 * enc = the ASCII tag "pharos-audit-v1", seq and ts as 8-byte big-endian,
 * then each text field as a 4-byte big-endian length and its bytes. The
 * first row (seq 1) has 32 zero bytes as prev_hash. */
struct store_audit_row {
	int64_t seq;
	int64_t ts;
	const char *actor, *action, *target, *detail;
	uint8_t prev_hash[STORE_HASH_LEN], hash[STORE_HASH_LEN];
};
/* Appends one row (joining the caller's transaction, so the row commits or
 * rolls back with the change it records). actor 1..128, action 1..64,
 * target 0..256, detail 0..4096 bytes of text. */
int store_audit_append(struct store *st, const char *actor, const char *action,
		       const char *target, const char *detail) WUR;
/* Computes a row's hash from its fields and prev_hash. */
void store_audit_hash(const struct store_audit_row *r, uint8_t out[STORE_HASH_LEN]);

struct store_audit_filter {
	int64_t since;          /* ts >= since; 0: from the start */
	const char *actor;      /* exact match, NULL: any */
	const char *action;     /* exact match, or a prefix ending in '*' ("device.*") */
	int64_t limit;          /* newest N rows (still listed oldest first); 0: all */
};
int store_audit_list(struct store *st, const struct store_audit_filter *f,
		     int (*cb)(void *arg, const struct store_audit_row *r), void *arg) WUR;

enum store_audit_break {
	STORE_AUDIT_INTACT = 0,
	STORE_AUDIT_EDITED,     /* a row's content or hash no longer matches */
	STORE_AUDIT_DELETED,    /* a row is missing (gap, or its successor links to nothing) */
	STORE_AUDIT_REORDERED,  /* a row links to one that is not the row before it */
};
const char *store_audit_break_name(enum store_audit_break b);
struct store_audit_verdict {
	int64_t rows;           /* rows checked */
	int64_t last_seq;
	enum store_audit_break why;
	int64_t seq;            /* the first broken seq (for DELETED: the first missing) */
	char detail[256];       /* one sentence naming what is wrong */
};
/* Walks the chain oldest first and stops at the first broken link. Returns
 * 0 whether or not the chain is intact (see v->why), <0 if it cannot read. */
int store_audit_verify(struct store *st, struct store_audit_verdict *v) WUR;

#endif
