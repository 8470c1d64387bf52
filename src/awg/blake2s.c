/* BLAKE2s per RFC 7693 §2-§3, plus HMAC (RFC 2104). Portable C: the ten
 * rounds of the compression function are unrolled by macros so the message
 * schedule indexes are compile-time constants. */
#include "awg/blake2s.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

/* RFC 7693 §2.6: the SHA-256 initial hash values. */
static const uint32_t blake2s_iv[8] = {
	0x6a09e667UL, 0xbb67ae85UL, 0x3c6ef372UL, 0xa54ff53aUL,
	0x510e527fUL, 0x9b05688cUL, 0x1f83d9abUL, 0x5be0cd19UL,
};

static inline uint32_t ror32(uint32_t x, unsigned n)
{
	return (x >> n) | (x << (32 - n));
}

static inline uint32_t load32_le(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static inline void store32_le(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
	p[2] = (uint8_t)(v >> 16);
	p[3] = (uint8_t)(v >> 24);
}

/* The mixing function G (RFC 7693 §3.1) with BLAKE2s' rotations 16, 12, 8, 7;
 * x and y are the two message words this column/diagonal takes in this round. */
#define G(a, b, c, d, x, y)                     \
	do {                                    \
		a = a + b + (x);                \
		d = ror32(d ^ a, 16);           \
		c = c + d;                      \
		b = ror32(b ^ c, 12);           \
		a = a + b + (y);                \
		d = ror32(d ^ a, 8);            \
		c = c + d;                      \
		b = ror32(b ^ c, 7);            \
	} while (0)

/* One round: four column steps, then four diagonal steps. The arguments are
 * that round's row of the message schedule SIGMA (RFC 7693 §2.7), written out
 * so every message index is a compile-time constant. */
#define ROUND(s0, s1, s2, s3, s4, s5, s6, s7, s8, s9, s10, s11, s12, s13, s14, s15) \
	do {                                                                        \
		G(v0, v4, v8, v12, m[s0], m[s1]);                                   \
		G(v1, v5, v9, v13, m[s2], m[s3]);                                   \
		G(v2, v6, v10, v14, m[s4], m[s5]);                                  \
		G(v3, v7, v11, v15, m[s6], m[s7]);                                  \
		G(v0, v5, v10, v15, m[s8], m[s9]);                                  \
		G(v1, v6, v11, v12, m[s10], m[s11]);                                \
		G(v2, v7, v8, v13, m[s12], m[s13]);                                 \
		G(v3, v4, v9, v14, m[s14], m[s15]);                                 \
	} while (0)

#define W(i) load32_le(block + 4 * (i))

/* Compression function F (RFC 7693 §3.2). inc is the number of message bytes
 * this block adds to the counter; last sets the final-block flag. The working
 * values are plain locals so the compiler keeps them in registers; they are
 * not wiped (that would force them to memory), the state in *s is. */
static void compress(struct blake2s_state *s, const uint8_t block[BLAKE2S_BLOCK_LEN], uint32_t inc, bool last)
{
	const uint32_t m[16] = {
		W(0), W(1), W(2), W(3), W(4), W(5), W(6), W(7),
		W(8), W(9), W(10), W(11), W(12), W(13), W(14), W(15),
	};

	s->t[0] += inc;
	if (s->t[0] < inc)
		s->t[1]++;

	uint32_t v0 = s->h[0], v1 = s->h[1], v2 = s->h[2], v3 = s->h[3];
	uint32_t v4 = s->h[4], v5 = s->h[5], v6 = s->h[6], v7 = s->h[7];
	uint32_t v8 = blake2s_iv[0], v9 = blake2s_iv[1], v10 = blake2s_iv[2], v11 = blake2s_iv[3];
	uint32_t v12 = blake2s_iv[4] ^ s->t[0], v13 = blake2s_iv[5] ^ s->t[1];
	uint32_t v14 = last ? ~blake2s_iv[6] : blake2s_iv[6], v15 = blake2s_iv[7];

	ROUND(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
	ROUND(14, 10, 4, 8, 9, 15, 13, 6, 1, 12, 0, 2, 11, 7, 5, 3);
	ROUND(11, 8, 12, 0, 5, 2, 15, 13, 10, 14, 3, 6, 7, 1, 9, 4);
	ROUND(7, 9, 3, 1, 13, 12, 11, 14, 2, 6, 5, 10, 4, 0, 15, 8);
	ROUND(9, 0, 5, 7, 2, 4, 10, 15, 14, 1, 11, 12, 6, 8, 3, 13);
	ROUND(2, 12, 6, 10, 0, 11, 8, 3, 4, 13, 7, 5, 15, 14, 1, 9);
	ROUND(12, 5, 1, 15, 14, 13, 4, 10, 0, 7, 6, 3, 9, 2, 8, 11);
	ROUND(13, 11, 7, 14, 12, 1, 3, 9, 5, 0, 15, 4, 8, 6, 2, 10);
	ROUND(6, 15, 14, 9, 11, 3, 0, 8, 12, 2, 13, 7, 1, 4, 10, 5);
	ROUND(10, 2, 8, 4, 7, 6, 1, 5, 15, 11, 9, 14, 3, 12, 13, 0);

	s->h[0] ^= v0 ^ v8;
	s->h[1] ^= v1 ^ v9;
	s->h[2] ^= v2 ^ v10;
	s->h[3] ^= v3 ^ v11;
	s->h[4] ^= v4 ^ v12;
	s->h[5] ^= v5 ^ v13;
	s->h[6] ^= v6 ^ v14;
	s->h[7] ^= v7 ^ v15;
}

void blake2s_init_key(struct blake2s_state *s, size_t outlen, const uint8_t *key, size_t keylen)
{
	/* Contract violations would corrupt the parameter block: refuse loudly. */
	if (outlen == 0 || outlen > BLAKE2S_HASH_LEN || keylen > BLAKE2S_KEY_LEN || (keylen && !key))
		abort();

	memset(s, 0, sizeof(*s));
	memcpy(s->h, blake2s_iv, sizeof(s->h));
	/* Parameter block word 0: digest length, key length, fanout 1, depth 1. */
	s->h[0] ^= 0x01010000UL ^ (uint32_t)keylen << 8 ^ (uint32_t)outlen;
	s->outlen = outlen;
	if (keylen) {
		/* The key, zero-padded to a block, is the first "message" block
		 * (and the final one when the message is empty). */
		memcpy(s->buf, key, keylen);
		s->buflen = BLAKE2S_BLOCK_LEN;
	}
}

void blake2s_init(struct blake2s_state *s, size_t outlen)
{
	blake2s_init_key(s, outlen, NULL, 0);
}

void blake2s_update(struct blake2s_state *s, const uint8_t *in, size_t inlen)
{
	if (!inlen)
		return;
	/* The last block is held back until final: it needs the final flag. */
	size_t fill = BLAKE2S_BLOCK_LEN - s->buflen;
	if (inlen > fill) {
		memcpy(s->buf + s->buflen, in, fill);
		compress(s, s->buf, BLAKE2S_BLOCK_LEN, false);
		s->buflen = 0;
		in += fill;
		inlen -= fill;
		while (inlen > BLAKE2S_BLOCK_LEN) {
			compress(s, in, BLAKE2S_BLOCK_LEN, false);
			in += BLAKE2S_BLOCK_LEN;
			inlen -= BLAKE2S_BLOCK_LEN;
		}
	}
	memcpy(s->buf + s->buflen, in, inlen);
	s->buflen += inlen;
}

void blake2s_final(struct blake2s_state *s, uint8_t *out)
{
	uint8_t digest[BLAKE2S_HASH_LEN];

	memset(s->buf + s->buflen, 0, BLAKE2S_BLOCK_LEN - s->buflen);
	compress(s, s->buf, (uint32_t)s->buflen, true);
	for (int i = 0; i < 8; i++)
		store32_le(digest + 4 * i, s->h[i]);
	memcpy(out, digest, s->outlen);
	sodium_memzero(digest, sizeof(digest));
	sodium_memzero(s, sizeof(*s));
}

void blake2s(uint8_t *out, size_t outlen, const uint8_t *key, size_t keylen, const uint8_t *in, size_t inlen)
{
	struct blake2s_state s;

	blake2s_init_key(&s, outlen, key, keylen);
	blake2s_update(&s, in, inlen);
	blake2s_final(&s, out);
}

void blake2s_hmac(uint8_t out[BLAKE2S_HASH_LEN], const uint8_t *key, size_t keylen, const uint8_t *in,
                  size_t inlen)
{
	struct blake2s_state s;
	uint8_t k[BLAKE2S_BLOCK_LEN], pad[BLAKE2S_BLOCK_LEN], inner[BLAKE2S_HASH_LEN];

	/* K' = H(K) if K is longer than a block, else K; zero-padded to a block. */
	memset(k, 0, sizeof(k));
	if (keylen > BLAKE2S_BLOCK_LEN)
		blake2s(k, BLAKE2S_HASH_LEN, NULL, 0, key, keylen);
	else if (keylen)
		memcpy(k, key, keylen);

	/* inner = H((K' ^ ipad) || in) */
	for (size_t i = 0; i < sizeof(pad); i++)
		pad[i] = k[i] ^ 0x36;
	blake2s_init(&s, BLAKE2S_HASH_LEN);
	blake2s_update(&s, pad, sizeof(pad));
	blake2s_update(&s, in, inlen);
	blake2s_final(&s, inner);

	/* out = H((K' ^ opad) || inner) */
	for (size_t i = 0; i < sizeof(pad); i++)
		pad[i] = k[i] ^ 0x5c;
	blake2s_init(&s, BLAKE2S_HASH_LEN);
	blake2s_update(&s, pad, sizeof(pad));
	blake2s_update(&s, inner, sizeof(inner));
	blake2s_final(&s, out);

	sodium_memzero(k, sizeof(k));
	sodium_memzero(pad, sizeof(pad));
	sodium_memzero(inner, sizeof(inner));
}
