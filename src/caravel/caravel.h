/*
 * libcaravel: the PharosVPN client library (DESIGN.md §2, §6.3, §7, and §11
 * "The client as built").
 *
 * The one public header, meant to be embedded by mobile apps and used by the
 * Linux `caravel` CLI. Self-contained: it includes only standard headers, and
 * every object is an opaque handle, so the engine's structures may change
 * without breaking callers. Structures the caller fills or reads start with a
 * `size` member set to sizeof(the struct) by the caller; fields are only
 * ever added at the end, so a newer library serves an older caller.
 *
 * Errors: every fallible function returns 0 or a negative code (a negative
 * errno, or one of the CARAVEL_ERR_* codes below); caravel_strerror() names
 * it. Where an err buffer is taken it receives one line for a human, which
 * quotes the offending input and says what would be valid.
 *
 * Threads: functions on different handles may run concurrently. One tunnel
 * handle may be used from any thread except from inside its own event
 * callback (which must not call caravel_tunnel_stop). Event callbacks run
 * one at a time: the first ENDPOINT inside caravel_tunnel_start, on the
 * caller's thread, every later one on the tunnel's own thread.
 *
 * Secrets: keys passed in are copied and wiped when the handle is freed;
 * nothing is logged.
 */
#ifndef CARAVEL_H
#define CARAVEL_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Bumped on any incompatible change; compatible additions keep it. A caller
 * checks caravel_api_version() == CARAVEL_API_VERSION at start-up. */
#define CARAVEL_API_VERSION 1

#if defined(__GNUC__)
#define CARAVEL_EXPORT __attribute__((visibility("default")))
#define CARAVEL_WUR __attribute__((warn_unused_result))
#else
#define CARAVEL_EXPORT
#define CARAVEL_WUR
#endif

#define CARAVEL_KEY_LEN 32      /* X25519 and AmneziaWG keys, Ed25519 public keys */
#define CARAVEL_ID_MAX 65       /* node and fleet ids with the NUL */
#define CARAVEL_ENDPOINT_MAX 72 /* "[v6%scope]:port" with the NUL */
#define CARAVEL_IFNAME_MAX 16

/* Our own error codes (negative, apart from errno values). */
enum {
	CARAVEL_ERR_PARSE = -20001,     /* malformed profile or file */
	CARAVEL_ERR_AUTH = -20002,      /* signature, password or key does not open the file */
	CARAVEL_ERR_PIN = -20003,       /* signed by a key other than the fleet's pinned one */
	CARAVEL_ERR_NO_NODE = -20004,   /* no usable node (none known, or --node names none) */
	CARAVEL_ERR_VERSION = -20005,   /* a struct size or API version this library does not know */
	CARAVEL_ERR_STATE = -20006,     /* not valid now (e.g. tunnel already stopped) */
};

CARAVEL_EXPORT int caravel_api_version(void);
CARAVEL_EXPORT const char *caravel_version(void); /* build version text */
CARAVEL_EXPORT const char *caravel_strerror(int err);

/* ---- Keys ------------------------------------------------------------- */

/* A fresh X25519 key pair (the device's AmneziaWG key and its encryption
 * key are both of this kind); public_key may be NULL. */
CARAVEL_EXPORT int caravel_keypair_generate(uint8_t private_key[CARAVEL_KEY_LEN],
                                            uint8_t public_key[CARAVEL_KEY_LEN]) CARAVEL_WUR;
/* The public key of a private key. */
CARAVEL_EXPORT int caravel_public_key(const uint8_t private_key[CARAVEL_KEY_LEN],
                                      uint8_t public_key[CARAVEL_KEY_LEN]) CARAVEL_WUR;
/* The one-line device request `cox devices add --request` takes (public keys
 * only, checksummed). out must hold 256 bytes; name may be NULL. */
CARAVEL_EXPORT int caravel_device_request(const uint8_t awg_public[CARAVEL_KEY_LEN],
                                          const uint8_t enc_public[CARAVEL_KEY_LEN], const char *name,
                                          char *out, size_t cap) CARAVEL_WUR;

/* ---- Profiles --------------------------------------------------------- */

typedef struct caravel_profile caravel_profile;

/* Pin lookup for the fleet's profile-signing key: fill pinned_key and return
 * 1 when a key is pinned for fleet_id, 0 when none is (first import), or a
 * negative code to abort. */
typedef int (*caravel_pin_lookup_fn)(void *ctx, const char *fleet_id, uint8_t pinned_key[CARAVEL_KEY_LEN]);

struct caravel_open_args {
	size_t size;                 /* sizeof(struct caravel_open_args) */
	const uint8_t *device_enc_sk; /* X25519 secret for enc=account files, or NULL */
	const char *password;         /* for enc=password files, or NULL */
	caravel_pin_lookup_fn pin_lookup; /* required */
	void *pin_ctx;
};

/* Header of a .pharos file, readable without keys. */
enum caravel_enc { CARAVEL_ENC_NONE = 0, CARAVEL_ENC_PASSWORD = 1, CARAVEL_ENC_ACCOUNT = 2 };
CARAVEL_EXPORT int caravel_file_enc(const uint8_t *file, size_t len, enum caravel_enc *enc, char *err,
                                    size_t errlen) CARAVEL_WUR;

/* Verifies and opens a .pharos file: the signature against the key the file
 * names, that key against the fleet's pin (CARAVEL_ERR_PIN when a different
 * key is pinned), then decrypts and parses. Protocol types this library does
 * not know are skipped (caravel_profile_skipped). On success the caller
 * pins caravel_profile_signer() for the fleet if it was not pinned yet. */
CARAVEL_EXPORT int caravel_profile_open(const uint8_t *file, size_t len, const struct caravel_open_args *args,
                                        caravel_profile **out, char *err, size_t errlen) CARAVEL_WUR;
/* Loads a profile the caller stored after opening it (caravel_profile_json
 * output): trusted local storage, so no signature. */
CARAVEL_EXPORT int caravel_profile_load(const char *json, size_t len, caravel_profile **out, char *err,
                                        size_t errlen) CARAVEL_WUR;
/* The profile as JSON (malloc'd, NUL-terminated; free with
 * caravel_free_secret since it holds preshared keys). */
CARAVEL_EXPORT int caravel_profile_json(const caravel_profile *p, char **json, size_t *len) CARAVEL_WUR;
CARAVEL_EXPORT void caravel_profile_free(caravel_profile *p);

CARAVEL_EXPORT const char *caravel_profile_fleet_id(const caravel_profile *p);
CARAVEL_EXPORT const char *caravel_profile_fleet_name(const caravel_profile *p);
CARAVEL_EXPORT const char *caravel_profile_device_name(const caravel_profile *p);
CARAVEL_EXPORT const char *caravel_profile_user(const caravel_profile *p);
CARAVEL_EXPORT uint64_t caravel_profile_revision(const caravel_profile *p);
CARAVEL_EXPORT size_t caravel_profile_skipped(const caravel_profile *p);
/* The signing key the file carried (all zero for a loaded profile). */
CARAVEL_EXPORT void caravel_profile_signer(const caravel_profile *p, uint8_t key[CARAVEL_KEY_LEN]);

/* What the host OS needs to route the tunnel (VpnService.Builder, the Linux
 * CLI): addresses, DNS servers and MTU, as text. */
struct caravel_profile_info {
	size_t size;                  /* sizeof(struct caravel_profile_info) */
	char address4[64], address6[64]; /* CIDR text, "" when absent */
	char dns[4][48];
	size_t n_dns;
	size_t n_nodes;
	uint32_t rotation_enabled, rotation_interval, rotation_jitter; /* seconds */
};
CARAVEL_EXPORT int caravel_profile_info(const caravel_profile *p, struct caravel_profile_info *info) CARAVEL_WUR;

struct caravel_node_info {
	size_t size;                  /* sizeof(struct caravel_node_info) */
	char id[CARAVEL_ID_MAX], name[CARAVEL_ID_MAX], region[CARAVEL_ID_MAX];
	size_t n_endpoints;           /* entry addresses */
	uint16_t port_lo, port_hi;
	uint32_t usable;              /* 1 when it offers a protocol this library speaks */
	uint16_t mtu;
};
CARAVEL_EXPORT int caravel_profile_node(const caravel_profile *p, size_t i, struct caravel_node_info *info) CARAVEL_WUR;
/* The i-th entry address of node n, as text (no port). */
CARAVEL_EXPORT int caravel_profile_node_endpoint(const caravel_profile *p, size_t n, size_t i, char *out,
                                                 size_t cap) CARAVEL_WUR;

/* ---- Tunnels ---------------------------------------------------------- */

typedef struct caravel_tunnel caravel_tunnel;

enum caravel_event_type {
	/* About to send to a new entry (first pick, rotation, failover). Called
	 * before the engine uses it, so a host can open its firewall for it
	 * first; a non-zero return skips this entry. */
	CARAVEL_EVENT_ENDPOINT = 1,
	CARAVEL_EVENT_CONNECTED,   /* first handshake with this node (since start or since it was lost) */
	CARAVEL_EVENT_HANDSHAKE,   /* any completed handshake (rekeys too) */
	CARAVEL_EVENT_FAILOVER,    /* giving up on a node; next one chosen (node_id: the old one) */
	CARAVEL_EVENT_LOST,        /* the session stopped answering; re-handshaking */
	CARAVEL_EVENT_STOPPED,     /* the engine stopped (TUN removed, fatal error) */
};

struct caravel_event {
	size_t size;              /* sizeof(struct caravel_event) as this library knows it */
	enum caravel_event_type type;
	const char *node_id;
	const char *endpoint;     /* "ip:port" or "[ip]:port" */
	const char *message;      /* human text, may be "" */
};
typedef int (*caravel_event_fn)(void *ctx, const struct caravel_event *ev);

struct caravel_tunnel_config {
	size_t size;                      /* sizeof(struct caravel_tunnel_config) */
	const caravel_profile *profile;   /* borrowed until caravel_tunnel_start returns */
	const uint8_t *device_awg_sk;     /* the device's AmneziaWG private key */
	int tun_fd;                       /* a TUN fd from the host OS (not closed by us), or -1 to create one */
	const char *ifname;               /* with tun_fd -1: the interface to create ("" or NULL: caravel%d) */
	const char *node_id;              /* start with this node (NULL: the profile's first) */
	uint32_t handshake_timeout_ms;    /* failover after this long without a handshake; 0: 3000 */
	uint32_t fwmark;                  /* mark on the tunnel's UDP sockets (policy routing); 0: none */
	caravel_event_fn on_event;        /* may be NULL */
	void *event_ctx;
};

/* Starts the engine on the TUN device, picks a node and a random entry
 * (ip, port) from its pool, and begins the handshake. Returns once started;
 * CARAVEL_EVENT_CONNECTED (or caravel_tunnel_wait_up) says when traffic
 * flows. Rotation and failover run on the tunnel's own thread. */
CARAVEL_EXPORT int caravel_tunnel_start(const struct caravel_tunnel_config *cfg, caravel_tunnel **out, char *err,
                                        size_t errlen) CARAVEL_WUR;
/* Blocks until the first handshake or timeout_ms: 0, -ETIMEDOUT, or
 * CARAVEL_ERR_STATE if the engine stopped. */
CARAVEL_EXPORT int caravel_tunnel_wait_up(caravel_tunnel *t, uint32_t timeout_ms) CARAVEL_WUR;
/* Re-picks the entry now (as a rotation would). */
CARAVEL_EXPORT int caravel_tunnel_rotate(caravel_tunnel *t) CARAVEL_WUR;
/* Stops the engine and frees the handle (wiping keys); NULL is a no-op. */
CARAVEL_EXPORT void caravel_tunnel_stop(caravel_tunnel *t);
CARAVEL_EXPORT const char *caravel_tunnel_ifname(const caravel_tunnel *t);

enum caravel_state { CARAVEL_STATE_CONNECTING = 1, CARAVEL_STATE_UP, CARAVEL_STATE_STOPPED };

struct caravel_status {
	size_t size;                       /* sizeof(struct caravel_status) */
	enum caravel_state state;
	char node_id[CARAVEL_ID_MAX];
	char endpoint[CARAVEL_ENDPOINT_MAX];
	char ifname[CARAVEL_IFNAME_MAX];
	int64_t handshake_age_ms;          /* -1: no handshake yet with this node */
	uint64_t rx_bytes, tx_bytes;       /* this node's peer, since it was chosen */
	uint64_t rotations, failovers;
};
CARAVEL_EXPORT int caravel_tunnel_status(caravel_tunnel *t, struct caravel_status *st) CARAVEL_WUR;

/* Frees memory the library returned (caravel_profile_json), wiping n bytes. */
CARAVEL_EXPORT void caravel_free_secret(void *p, size_t n);

#ifdef __cplusplus
}
#endif

#endif
