/* BLAKE2s (RFC 7693), written for this project, and HMAC-BLAKE2s (RFC 2104,
 * block 64): the HASH, MAC and HMAC primitives of WireGuard (specs/awg.md §1.1).
 *
 * Contracts: outlen is 1..BLAKE2S_HASH_LEN and keylen 0..BLAKE2S_KEY_LEN for
 * blake2s_init_key/blake2s; a violation is a programming error and aborts.
 * Input pointers may be NULL when their length is 0. Nothing here allocates or
 * fails. blake2s_final wipes the state, so a keyed state leaves no key behind. */
#ifndef PHAROS_AWG_BLAKE2S_H
#define PHAROS_AWG_BLAKE2S_H

#include <stddef.h>
#include <stdint.h>

enum {
	BLAKE2S_BLOCK_LEN = 64,
	BLAKE2S_HASH_LEN = 32,
	BLAKE2S_KEY_LEN = 32,
};

struct blake2s_state {
	uint32_t h[8];
	uint32_t t[2];
	uint8_t buf[BLAKE2S_BLOCK_LEN];
	size_t buflen;
	size_t outlen;
};

/* Unkeyed hash with an outlen-byte digest. */
void blake2s_init(struct blake2s_state *s, size_t outlen);
/* Keyed hash (BLAKE2s' own keyed mode, not HMAC); keylen 0 is the unkeyed hash. */
void blake2s_init_key(struct blake2s_state *s, size_t outlen, const uint8_t *key, size_t keylen);
void blake2s_update(struct blake2s_state *s, const uint8_t *in, size_t inlen);
/* Writes s->outlen bytes to out, then wipes *s. */
void blake2s_final(struct blake2s_state *s, uint8_t *out);

/* One shot: out = BLAKE2s-outlen(key, in). key may be NULL with keylen 0. */
void blake2s(uint8_t *out, size_t outlen, const uint8_t *key, size_t keylen, const uint8_t *in, size_t inlen);

/* HMAC-BLAKE2s-256 (RFC 2104 with a 64-byte block): any key length, keys
 * longer than a block are hashed first. out may alias key or in. */
void blake2s_hmac(uint8_t out[BLAKE2S_HASH_LEN], const uint8_t *key, size_t keylen, const uint8_t *in,
                  size_t inlen);

#endif
