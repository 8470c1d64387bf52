/* Keccak-f[1600] and the sponge (FIPS 202). The state is kept as 25 64-bit
 * lanes, lane x+5y at a[x+5y]; bytes map to lanes little-endian (FIPS 202
 * §B.1), done with shifts so the code does not depend on host byte order. */
#include "reality/keccak.h"

#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

/* Round constants RC[i] (FIPS 202 Algorithm 6, from the rc(t) LFSR of
 * Algorithm 5). */
static const uint64_t round_constants[24] = {
	0x0000000000000001ULL, 0x0000000000008082ULL,
	0x800000000000808aULL, 0x8000000080008000ULL,
	0x000000000000808bULL, 0x0000000080000001ULL,
	0x8000000080008081ULL, 0x8000000000008009ULL,
	0x000000000000008aULL, 0x0000000000000088ULL,
	0x0000000080008009ULL, 0x000000008000000aULL,
	0x000000008000808bULL, 0x800000000000008bULL,
	0x8000000000008089ULL, 0x8000000000008003ULL,
	0x8000000000008002ULL, 0x8000000000000080ULL,
	0x000000000000800aULL, 0x800000008000000aULL,
	0x8000000080008081ULL, 0x8000000000008080ULL,
	0x0000000080000001ULL, 0x8000000080008008ULL,
};

static inline uint64_t rotl64(uint64_t v, unsigned n)
{
	return n ? (v << n) | (v >> (64 - n)) : v;
}

/* chi on one row of five lanes starting at index y. */
#define CHI_ROW(y)                                                  \
	do {                                                        \
		a[(y) + 0] = b[(y) + 0] ^ (~b[(y) + 1] & b[(y) + 2]); \
		a[(y) + 1] = b[(y) + 1] ^ (~b[(y) + 2] & b[(y) + 3]); \
		a[(y) + 2] = b[(y) + 2] ^ (~b[(y) + 3] & b[(y) + 4]); \
		a[(y) + 3] = b[(y) + 3] ^ (~b[(y) + 4] & b[(y) + 0]); \
		a[(y) + 4] = b[(y) + 4] ^ (~b[(y) + 0] & b[(y) + 1]); \
	} while (0)

/* Written out lane by lane so every index and rotation is a constant (a
 * loop over tables ran ten times slower). In theta's output, lane x+5y gets
 * D[x]; rho rotates lane x+5y by the offsets of FIPS 202 Algorithm 2 (0, 1,
 * 62, 28, 27, 36, 44, 6, 55, 20, 3, 10, 43, 25, 39, 41, 45, 15, 21, 8, 18, 2,
 * 61, 56, 14 in lane order); pi (Algorithm 3) moves lane (x, y) to
 * (y, 2x+3y mod 5). */
void keccak_f1600(uint64_t a[25])
{
	uint64_t b[25], c0, c1, c2, c3, c4, d0, d1, d2, d3, d4;

	for (int round = 0; round < 24; round++) {
		/* theta */
		c0 = a[0] ^ a[5] ^ a[10] ^ a[15] ^ a[20];
		c1 = a[1] ^ a[6] ^ a[11] ^ a[16] ^ a[21];
		c2 = a[2] ^ a[7] ^ a[12] ^ a[17] ^ a[22];
		c3 = a[3] ^ a[8] ^ a[13] ^ a[18] ^ a[23];
		c4 = a[4] ^ a[9] ^ a[14] ^ a[19] ^ a[24];
		d0 = c4 ^ rotl64(c1, 1);
		d1 = c0 ^ rotl64(c2, 1);
		d2 = c1 ^ rotl64(c3, 1);
		d3 = c2 ^ rotl64(c4, 1);
		d4 = c3 ^ rotl64(c0, 1);
		/* rho and pi */
		b[ 0] = rotl64(a[ 0] ^ d0,  0);
		b[10] = rotl64(a[ 1] ^ d1,  1);
		b[20] = rotl64(a[ 2] ^ d2, 62);
		b[ 5] = rotl64(a[ 3] ^ d3, 28);
		b[15] = rotl64(a[ 4] ^ d4, 27);
		b[16] = rotl64(a[ 5] ^ d0, 36);
		b[ 1] = rotl64(a[ 6] ^ d1, 44);
		b[11] = rotl64(a[ 7] ^ d2,  6);
		b[21] = rotl64(a[ 8] ^ d3, 55);
		b[ 6] = rotl64(a[ 9] ^ d4, 20);
		b[ 7] = rotl64(a[10] ^ d0,  3);
		b[17] = rotl64(a[11] ^ d1, 10);
		b[ 2] = rotl64(a[12] ^ d2, 43);
		b[12] = rotl64(a[13] ^ d3, 25);
		b[22] = rotl64(a[14] ^ d4, 39);
		b[23] = rotl64(a[15] ^ d0, 41);
		b[ 8] = rotl64(a[16] ^ d1, 45);
		b[18] = rotl64(a[17] ^ d2, 15);
		b[ 3] = rotl64(a[18] ^ d3, 21);
		b[13] = rotl64(a[19] ^ d4,  8);
		b[14] = rotl64(a[20] ^ d0, 18);
		b[24] = rotl64(a[21] ^ d1,  2);
		b[ 9] = rotl64(a[22] ^ d2, 61);
		b[19] = rotl64(a[23] ^ d3, 56);
		b[ 4] = rotl64(a[24] ^ d4, 14);
		/* chi */
		CHI_ROW(0);
		CHI_ROW(5);
		CHI_ROW(10);
		CHI_ROW(15);
		CHI_ROW(20);
		/* iota */
		a[0] ^= round_constants[round];
	}
	OPENSSL_cleanse(b, sizeof(b));
}

void keccak_init(struct keccak_state *s, unsigned rate)
{
	if (rate == 0 || rate > 200 || rate % 8)
		abort();
	memset(s, 0, sizeof(*s));
	s->rate = rate;
}

static inline void xor_byte(struct keccak_state *s, unsigned i, uint8_t v)
{
	s->a[i / 8] ^= (uint64_t)v << (8 * (i % 8));
}

static inline uint64_t load64(const uint8_t *p)
{
	uint64_t v = 0;

	for (int i = 7; i >= 0; i--)
		v = (v << 8) | p[i];
	return v;
}

void keccak_absorb(struct keccak_state *s, const uint8_t *in, size_t len)
{
	if (s->squeezing)
		abort();
	while (len > 0) {
		if (s->pos == 0 && len >= s->rate) {
			/* Whole block, lane by lane. */
			for (unsigned i = 0; i < s->rate / 8; i++)
				s->a[i] ^= load64(in + 8 * i);
			keccak_f1600(s->a);
			in += s->rate;
			len -= s->rate;
			continue;
		}
		xor_byte(s, s->pos++, *in++);
		len--;
		if (s->pos == s->rate) {
			keccak_f1600(s->a);
			s->pos = 0;
		}
	}
}

void keccak_finalize(struct keccak_state *s, uint8_t suffix)
{
	if (s->squeezing)
		abort();
	/* pos < rate here: a full block is permuted as soon as it fills. */
	xor_byte(s, s->pos, suffix);
	xor_byte(s, s->rate - 1, 0x80);
	keccak_f1600(s->a);
	s->pos = 0;
	s->squeezing = 1;
}

void keccak_squeeze(struct keccak_state *s, uint8_t *out, size_t len)
{
	if (!s->squeezing)
		abort();
	while (len > 0) {
		if (s->pos == s->rate) {
			keccak_f1600(s->a);
			s->pos = 0;
		}
		*out++ = (uint8_t)(s->a[s->pos / 8] >> (8 * (s->pos % 8)));
		s->pos++;
		len--;
	}
}

void keccak_squeeze_block(struct keccak_state *s, uint8_t *out)
{
	if (!s->squeezing || (s->pos != 0 && s->pos != s->rate))
		abort();
	if (s->pos == s->rate)
		keccak_f1600(s->a);
	for (unsigned i = 0; i < s->rate / 8; i++)
		for (unsigned j = 0; j < 8; j++)
			out[8 * i + j] = (uint8_t)(s->a[i] >> (8 * j));
	s->pos = s->rate;
}

void keccak_wipe(struct keccak_state *s)
{
	OPENSSL_cleanse(s, sizeof(*s));
}

void keccak_shake128_init(struct keccak_state *s)
{
	keccak_init(s, KECCAK_SHAKE128_RATE);
}

void keccak_shake256_init(struct keccak_state *s)
{
	keccak_init(s, KECCAK_SHAKE256_RATE);
}

static void oneshot(unsigned rate, uint8_t suffix, uint8_t *out, size_t outlen, const uint8_t *in,
                    size_t len)
{
	struct keccak_state s;

	keccak_init(&s, rate);
	keccak_absorb(&s, in, len);
	keccak_finalize(&s, suffix);
	keccak_squeeze(&s, out, outlen);
	keccak_wipe(&s);
}

void keccak_sha3_256(uint8_t out[32], const uint8_t *in, size_t len)
{
	oneshot(KECCAK_SHA3_256_RATE, KECCAK_SHA3_SUFFIX, out, 32, in, len);
}

void keccak_sha3_512(uint8_t out[64], const uint8_t *in, size_t len)
{
	oneshot(KECCAK_SHA3_512_RATE, KECCAK_SHA3_SUFFIX, out, 64, in, len);
}

void keccak_shake128(uint8_t *out, size_t outlen, const uint8_t *in, size_t len)
{
	oneshot(KECCAK_SHAKE128_RATE, KECCAK_SHAKE_SUFFIX, out, outlen, in, len);
}

void keccak_shake256(uint8_t *out, size_t outlen, const uint8_t *in, size_t len)
{
	oneshot(KECCAK_SHAKE256_RATE, KECCAK_SHAKE_SUFFIX, out, outlen, in, len);
}
