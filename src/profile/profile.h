/*
 * Profiles and device requests: the contract between cox (which builds and
 * seals a device's profile) and caravel (which opens, verifies and uses it).
 * DESIGN.md §7 describes the file and §11 ("Profiles as built") its exact
 * layout; this header is the C interface.
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

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lib/addr.h"
#include "lib/err.h"

#define PROFILE_KEY_LEN     32   /* X25519, Ed25519 public, AWG keys, PSK */
#define PROFILE_SIGN_SK_LEN 64   /* libsodium Ed25519 secret key */
#define PROFILE_NAME_MAX    64   /* ids and names: 1..64 of [A-Za-z0-9._ @+-],
				    no space at either end */
#define PROFILE_NODES_MAX   64
#define PROFILE_ENDPOINTS_MAX 64
#define PROFILE_PROTOCOLS_MAX 16 /* entries per node, known or not */
#define PROFILE_DNS_MAX     4
#define PROFILE_USER_MAX    255
#define PROFILE_FILE_MAX    (1 << 20)  /* a whole .pharos file */
#define PROFILE_JSON_MAX    (1 << 19)  /* profile JSON (sealed, it still fits the file) */
#define PROFILE_PASSWORD_MAX 1024

/* Argon2id cost of enc=password. Seal uses the defaults unless told
 * otherwise; open refuses a file asking for more than the maxima (so a
 * hostile file cannot make us allocate gigabytes) or less than libsodium's
 * minima. */
#define PROFILE_PWHASH_OPSLIMIT      3ULL
#define PROFILE_PWHASH_MEMLIMIT      (128ULL << 20)
#define PROFILE_PWHASH_OPSLIMIT_MAX  10ULL
#define PROFILE_PWHASH_MEMLIMIT_MAX  (512ULL << 20)

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
/* Frees what p holds (nodes, each node's protocols and each obfuscation
 * string: all from lib/mem, as profile_parse makes them and as a caller
 * building a profile by hand must), wipes it (PSKs included) and leaves p
 * as after profile_init. NULL is a no-op. */
void profile_free(struct profile *p);

/* JSON text (NUL-terminated, malloc'd) <-> struct.
 * profile_to_json: 0, -ENOMEM, or -EINVAL if p would not pass profile_parse
 * (profile_validate says why). *json holds the PSKs: free it with
 * mem_free_secret(*json, strlen(*json) + 1). *json is NULL on failure.
 * profile_parse: treats *out as uninitialised storage; validates every field
 * and on failure returns ERR_PARSE (malformed or invalid field), ERR_RANGE
 * (a number out of range), ERR_TOOBIG (len > PROFILE_JSON_MAX or too many
 * entries), ERR_PROTO (a newer profile format) or -ENOMEM, writes
 * "<field path>: <what is wrong>" to err (e.g. "nodes[1].protocols[0].mtu:
 * 70000 is out of range (1280..9000)") and leaves *out empty (profile_init).
 * Unknown fields are ignored; protocol entries of unknown type or version
 * are skipped and counted in skipped_protocols. */
int profile_to_json(const struct profile *p, char **json) WUR;
int profile_parse(const char *json, size_t len, struct profile *out, char *err, size_t errlen) WUR;
/* Would p survive profile_to_json and profile_parse? 0 or the code and
 * message profile_parse would give. */
int profile_validate(const struct profile *p, char *err, size_t errlen) WUR;
/* 1..PROFILE_NAME_MAX of [A-Za-z0-9._ @+-], not starting or ending with a
 * space: ids and names in profiles. */
bool profile_name_valid(const char *s);
const char *profile_enc_name(enum profile_enc enc);
int profile_enc_parse(const char *s, enum profile_enc *out) WUR;

/* Seal profile JSON into a .pharos file (from lib/mem, free with mem_free;
 * the text ends in a newline, counted in file_len). recipient is the
 * device's X25519 public key (account), password is NUL-terminated,
 * 1..PROFILE_PASSWORD_MAX bytes (password); signing_sk is the fleet's
 * Ed25519 secret key. The JSON must pass profile_parse unless
 * unchecked is set (test tools use that to seal broken profiles).
 * opslimit/memlimit: Argon2id cost, 0 = PROFILE_PWHASH_* defaults.
 * Returns 0, -EINVAL (missing or bad argument), ERR_TOOBIG (len >
 * PROFILE_JSON_MAX), the profile_parse error, ERR_CRYPTO (recipient is a
 * low-order point) or -ENOMEM. */
struct profile_seal_args {
	enum profile_enc enc;
	const uint8_t *recipient;   /* PROFILE_KEY_LEN, enc=account */
	const char *password;       /* enc=password */
	const uint8_t *signing_sk;  /* PROFILE_SIGN_SK_LEN */
	unsigned long long opslimit;
	size_t memlimit;
	bool unchecked;
};
int profile_seal(const char *json, size_t len, const struct profile_seal_args *a,
		 uint8_t **file, size_t *file_len) WUR;

/* Read the header only (no key needed): 0, ERR_PARSE, ERR_TOOBIG or
 * ERR_PROTO (a newer file version), with a message in err. */
int profile_file_enc(const uint8_t *file, size_t len, enum profile_enc *enc, char *err, size_t errlen) WUR;

/* Verify the signature and open. signer_pk receives the signing public key
 * found in the file (the caller compares it with its pin, or passes the pin
 * as signer_pin so that a file from another signer is refused before any
 * key derivation); the signature is checked against that key before
 * anything is decrypted. device_sk (X25519 secret, enc=account) or password
 * (enc=password) as the header requires. *json is malloc'd, NUL-terminated
 * plain text (not yet checked with profile_parse); free it with
 * mem_free_secret(*json, *json_len + 1). Returns 0, ERR_PARSE (malformed
 * file), ERR_RANGE (Argon2id cost past the maxima), ERR_TOOBIG, ERR_PROTO
 * (newer version), ERR_AUTH (bad signature,
 * other signer than the pin, wrong device key or password, tampered
 * ciphertext), -EINVAL (the key or password the header requires is
 * missing) or -ENOMEM, with a message in err. Every failure leaves *json
 * NULL, *json_len 0 and signer_pk zeroed. */
struct profile_open_args {
	const uint8_t *device_sk;
	const char *password;
	const uint8_t *signer_pin;  /* optional: the only acceptable signer */
};
int profile_open(const uint8_t *file, size_t len, const struct profile_open_args *a,
		 uint8_t signer_pk[PROFILE_KEY_LEN], char **json, size_t *json_len,
		 char *err, size_t errlen) WUR;

/* The one-line device request `caravel init` prints and
 * `cox devices add --request` takes: public keys only, with a checksum so a
 * mangled copy-paste is refused:
 *   pharos-device-1:<AWG public, base64>:<X25519 public, base64>:<name>:<check>
 * name is "" or a profile name without spaces ([A-Za-z0-9._@+-], so the line
 * needs no shell quoting); check is 8 lower-case hex digits, the first four
 * bytes of BLAKE2b-128 of everything before the last ':'. */
struct devreq {
	uint8_t awg_public[PROFILE_KEY_LEN];
	uint8_t enc_public[PROFILE_KEY_LEN];  /* X25519 encryption key */
	char name[PROFILE_NAME_MAX + 1];      /* suggested device name, may be "" */
};
#define DEVREQ_MAX 256
#define DEVREQ_PREFIX "pharos-device-1:"
/* Writes the line (NUL-terminated, no newline). Returns its length, -EINVAL
 * for a name devreq_name_valid refuses or an all-zero key, -ENOSPC. */
int devreq_format(const struct devreq *r, char *out, size_t cap) WUR;
/* Blanks (space, tab, CR, LF) around the line are ignored. 0, or ERR_PARSE /
 * ERR_PROTO (newer format) / ERR_AUTH (checksum mismatch) / ERR_TOOBIG with
 * a message quoting what is wrong; *out is zeroed on failure. */
int devreq_parse(const char *line, struct devreq *out, char *err, size_t errlen) WUR;
/* "" or a profile name without spaces. */
bool devreq_name_valid(const char *s);

#endif
