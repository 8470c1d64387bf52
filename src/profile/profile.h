/*
 * Profiles and device requests: the contract between cox (which builds and
 * seals a device's profile) and caravel (which opens, verifies and uses it).
 * DESIGN.md §7 describes the file; this header is the C interface.
 *
 * A profile is plain JSON (struct profile <-> profile_to_json/profile_parse).
 * A .pharos file wraps it: an always-readable header {fmt, v, enc} that is
 * the AEAD's associated data, the ciphertext, and an Ed25519 signature by the
 * fleet's profile-signing key over everything before it.
 *   enc=none     : no encryption (the payload is still signed)
 *   enc=password : data key = Argon2id(password, salt) (libsodium crypto_pwhash)
 *   enc=account  : random data key, wrapped to the device's X25519 key
 *                  (ephemeral X25519 + HKDF/BLAKE2b -> XChaCha20-Poly1305)
 * Payload: XChaCha20-Poly1305 under the data key. Keys are wiped after use.
 */
#ifndef PHAROS_PROFILE_PROFILE_H
#define PHAROS_PROFILE_PROFILE_H

#include <stddef.h>
#include <stdint.h>

#include "lib/addr.h"
#include "lib/err.h"

#define PROFILE_KEY_LEN     32   /* X25519, Ed25519 public, AWG keys, PSK */
#define PROFILE_SIGN_SK_LEN 64   /* libsodium Ed25519 secret key */
#define PROFILE_NAME_MAX    64   /* ids and names: 1..64 of [A-Za-z0-9._ @+-] */
#define PROFILE_NODES_MAX   64
#define PROFILE_ENDPOINTS_MAX 64
#define PROFILE_DNS_MAX     4
#define PROFILE_FILE_MAX    (1 << 20)

enum profile_enc { PROFILE_ENC_NONE, PROFILE_ENC_PASSWORD, PROFILE_ENC_ACCOUNT };

/* Rotation policy of the entry pool (DESIGN.md §6.3). Seconds. */
struct profile_rotation {
	int enabled;
	uint32_t interval;
	uint32_t jitter;
};

/* One protocol a node offers this device. Unknown types are skipped on
 * parse (and counted in profile.skipped_protocols). */
enum profile_proto { PROFILE_PROTO_AMNEZIAWG = 1, PROFILE_PROTO_XRAY_REALITY = 2 };

struct profile_awg {                /* "amneziawg", v 2 */
	uint8_t public_key[PROFILE_KEY_LEN];    /* the node's */
	uint8_t preshared_key[PROFILE_KEY_LEN]; /* this device x this node */
	char *obfuscation;  /* the node's obfuscation set as "key=value\n" lines
			       (jc, jmin, jmax, s1..s4, h1..h4, i1..i5), exactly
			       what obf_params_set() takes; malloc'd */
	uint16_t keepalive; /* persistent keepalive seconds, 0 = off */
	uint16_t mtu;
};

struct profile_reality {            /* "xray-reality", v 1 */
	char uuid[37];
	uint8_t public_key[PROFILE_KEY_LEN];
	char short_id[17];
	char server_name[256];
	char flow[32];      /* "" or "xtls-rprx-vision" */
	uint16_t port;
};

struct profile_protocol {
	enum profile_proto type;
	union {
		struct profile_awg awg;
		struct profile_reality reality;
	} u;
};

struct profile_node {
	char id[PROFILE_NAME_MAX + 1];
	char name[PROFILE_NAME_MAX + 1];
	char region[PROFILE_NAME_MAX + 1];
	/* Entry pool: addresses x ports (DESIGN.md §6.3); endpoints is always an
	 * array in JSON. port_lo..port_hi inclusive, a single port when equal. */
	struct addr endpoints[PROFILE_ENDPOINTS_MAX];
	size_t n_endpoints;
	uint16_t port_lo, port_hi;
	struct profile_protocol *protocols;
	size_t n_protocols;
};

struct profile {
	char fleet_id[PROFILE_NAME_MAX + 1];   /* names the fleet; pin key */
	char fleet_name[PROFILE_NAME_MAX + 1];
	char device_id[PROFILE_NAME_MAX + 1];
	char device_name[PROFILE_NAME_MAX + 1];
	char user[256];                        /* the user's e-mail */
	struct cidr address4, address6;        /* the device's tunnel addresses */
	struct addr dns[PROFILE_DNS_MAX];
	size_t n_dns;
	struct profile_rotation rotation;
	uint64_t revision;
	struct profile_node *nodes;
	size_t n_nodes;
	size_t skipped_protocols;              /* unknown types ignored on parse */
};

void profile_init(struct profile *p);
void profile_free(struct profile *p);   /* wipes the PSKs */

/* JSON text (NUL-terminated, malloc'd) <-> struct. profile_parse validates
 * every field and says which one is wrong in err. */
int profile_to_json(const struct profile *p, char **json) WUR;
int profile_parse(const char *json, size_t len, struct profile *out, char *err, size_t errlen) WUR;

/* Seal profile JSON into a .pharos file (malloc'd). recipient is the device's
 * X25519 public key (account), password is NUL-terminated (password);
 * signing_sk is the fleet's Ed25519 secret key. */
struct profile_seal_args {
	enum profile_enc enc;
	const uint8_t *recipient;   /* PROFILE_KEY_LEN, enc=account */
	const char *password;       /* enc=password */
	const uint8_t *signing_sk;  /* PROFILE_SIGN_SK_LEN */
};
int profile_seal(const char *json, size_t len, const struct profile_seal_args *a,
		 uint8_t **file, size_t *file_len) WUR;

/* Read the header only (no key needed). */
int profile_file_enc(const uint8_t *file, size_t len, enum profile_enc *enc, char *err, size_t errlen) WUR;

/* Verify the signature and open. signer_pk receives the signing public key
 * found in the file (the caller compares it with its pin); the signature is
 * checked against that key. device_sk (X25519 secret, enc=account) or
 * password (enc=password) as the header requires. *json is malloc'd plain
 * text; the caller wipes and frees it. Every failure leaves outputs unset. */
struct profile_open_args {
	const uint8_t *device_sk;
	const char *password;
};
int profile_open(const uint8_t *file, size_t len, const struct profile_open_args *a,
		 uint8_t signer_pk[PROFILE_KEY_LEN], char **json, size_t *json_len,
		 char *err, size_t errlen) WUR;

/* The one-line device request `caravel init` prints and
 * `cox devices add --request` takes: public keys only, with a checksum so a
 * mangled copy-paste is refused. */
struct devreq {
	uint8_t awg_public[PROFILE_KEY_LEN];
	uint8_t enc_public[PROFILE_KEY_LEN];  /* X25519 encryption key */
	char name[PROFILE_NAME_MAX + 1];      /* suggested device name, may be "" */
};
#define DEVREQ_MAX 256
int devreq_format(const struct devreq *r, char *out, size_t cap) WUR;
int devreq_parse(const char *line, struct devreq *out, char *err, size_t errlen) WUR;

#endif
