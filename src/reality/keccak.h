/* Keccak-f[1600] and the FIPS 202 functions built on it (SHA3-256, SHA3-512,
 * SHAKE128, SHAKE256), written for this project: ML-KEM (mlkem.h) needs
 * SHAKE128 squeezed a block at a time for its rejection sampling, which
 * OpenSSL 3.0's EVP interface cannot do, and calls these hashes a few dozen
 * times per operation, where an allocation-free, infallible sponge keeps
 * the KEM free of error paths. Checked against OpenSSL's SHA3/SHAKE in
 * tests/unit/test_mlkem.c.
 *
 * The permutation and the sponge take time independent of the data (no
 * data-dependent branch or table index), so secrets may be hashed.
 * Contracts: absorb only before keccak_finalize, squeeze only after; a
 * violation is a programming error and aborts. Nothing allocates or fails.
 * Input pointers may be NULL when their length is 0. */
#ifndef PHAROS_REALITY_KECCAK_H
#define PHAROS_REALITY_KECCAK_H

#include <stddef.h>
#include <stdint.h>

enum {
	KECCAK_SHA3_256_RATE = 136,
	KECCAK_SHA3_512_RATE = 72,
	KECCAK_SHAKE128_RATE = 168,
	KECCAK_SHAKE256_RATE = 136,
	/* Domain separation and first padding bit (FIPS 202 §6): SHA3 appends
	 * the bits 01, SHAKE 1111. */
	KECCAK_SHA3_SUFFIX = 0x06,
	KECCAK_SHAKE_SUFFIX = 0x1f,
};

struct keccak_state {
	uint64_t a[25];  /* lanes; byte i of the state is byte i%8 of lane i/8 (little-endian) */
	unsigned rate;   /* bytes per block */
	unsigned pos;    /* next byte within the block to absorb or squeeze */
	int squeezing;
};

/* The permutation itself (24 rounds). */
void keccak_f1600(uint64_t a[25]);

/* A sponge of rate bytes (one of the *_RATE values; at most 200, a multiple of 8). */
void keccak_init(struct keccak_state *s, unsigned rate);
void keccak_absorb(struct keccak_state *s, const uint8_t *in, size_t len);
/* Ends absorbing with the domain suffix and pad10*1. */
void keccak_finalize(struct keccak_state *s, uint8_t suffix);
void keccak_squeeze(struct keccak_state *s, uint8_t *out, size_t len);
/* Squeezes one whole block (s->rate bytes) into out; only on a block boundary
 * (right after keccak_finalize or another keccak_squeeze_block). */
void keccak_squeeze_block(struct keccak_state *s, uint8_t *out);
/* Wipes the state. */
void keccak_wipe(struct keccak_state *s);

/* Convenience shorthands for incremental SHAKE. */
void keccak_shake128_init(struct keccak_state *s);
void keccak_shake256_init(struct keccak_state *s);

/* One-shot functions. */
void keccak_sha3_256(uint8_t out[32], const uint8_t *in, size_t len);
void keccak_sha3_512(uint8_t out[64], const uint8_t *in, size_t len);
void keccak_shake128(uint8_t *out, size_t outlen, const uint8_t *in, size_t len);
void keccak_shake256(uint8_t *out, size_t outlen, const uint8_t *in, size_t len);

#endif
