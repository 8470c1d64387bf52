/* ML-KEM-768 per FIPS 203 (August 2024). Algorithm numbers below are the
 * final standard's. Polynomials keep canonical coefficients in [0, q) as
 * uint16_t; every reduction is a multiply-and-shift (Barrett) followed by a
 * masked conditional subtraction, so no operation on secret data branches,
 * divides or indexes memory by value. The matrix A^ is public (derived from
 * rho) and is sampled entry by entry as it is needed, never stored.
 *
 * Every function that handles secrets keeps its scratch in one local struct
 * and wipes it with OPENSSL_cleanse before returning. */
#include "reality/mlkem.h"

#include <string.h>

#include <openssl/crypto.h>
#include <openssl/rand.h>

#include "reality/keccak.h"

#define N 256
#define Q 3329
#define K 3
#define DU 10
#define DV 4
/* ETA1 = ETA2 = 2 for ML-KEM-768: one CBD routine, PRF output 64*eta bytes. */
#define ETA 2
#define PRF_LEN (64 * ETA)

#define POLY_BYTES 384                 /* ByteEncode12 of one polynomial */
#define PKE_DK_LEN (K * POLY_BYTES)    /* 1152 */
#define RHO_OFFSET (K * POLY_BYTES)    /* rho within ek */
#define C1_POLY_BYTES (32 * DU)        /* 320 */
#define C1_LEN (K * C1_POLY_BYTES)     /* 960 */
#define C2_LEN (32 * DV)               /* 128 */
/* Offsets within dk = dk_PKE || ek || H(ek) || z. */
#define DK_EK_OFFSET PKE_DK_LEN
#define DK_H_OFFSET (DK_EK_OFFSET + MLKEM_EK_LEN)
#define DK_Z_OFFSET (DK_H_OFFSET + 32)

_Static_assert(MLKEM_EK_LEN == K * POLY_BYTES + 32, "ek is ByteEncode12(t^) || rho");
_Static_assert(MLKEM_DK_LEN == DK_Z_OFFSET + 32, "dk is dk_PKE || ek || H(ek) || z");
_Static_assert(MLKEM_CT_LEN == C1_LEN + C2_LEN, "c is c1 || c2");

/* 128^-1 mod q: the scaling at the end of NTT^-1 (Algorithm 10). */
#define INV_128 3303
/* floor(2^32 / q), for Barrett reduction of 32-bit values. */
#define BARRETT_32 1290167u
/* ceil(2^36 / q): floor(x / q) == (x * DIV_Q_MAGIC) >> 36 for every x < 2^23
 * (checked exhaustively when written); Compress only divides such x. */
#define DIV_Q_MAGIC 20642679u

typedef struct {
	uint16_t c[N];
} poly;

/* zetas[i] = 17^BitRev7(i) mod q (FIPS 203 §4.3, Appendix A). */
static const uint16_t zetas[128] = {
	   1, 1729, 2580, 3289, 2642,  630, 1897,  848, 1062, 1919,  193,  797, 2786, 3260,  569, 1746,
	 296, 2447, 1339, 1476, 3046,   56, 2240, 1333, 1426, 2094,  535, 2882, 2393, 2879, 1974,  821,
	 289,  331, 3253, 1756, 1197, 2304, 2277, 2055,  650, 1977, 2513,  632, 2865,   33, 1320, 1915,
	2319, 1435,  807,  452, 1438, 2868, 1534, 2402, 2647, 2617, 1481,  648, 2474, 3110, 1227,  910,
	  17, 2761,  583, 2649, 1637,  723, 2288, 1100, 1409, 2662, 3281,  233,  756, 2156, 3015, 3050,
	1703, 1651, 2789, 1789, 1847,  952, 1461, 2687,  939, 2308, 2437, 2388,  733, 2337,  268,  641,
	1584, 2298, 2037, 3220,  375, 2549, 2090, 1645, 1063,  319, 2773,  757, 2099,  561, 2466, 2594,
	2804, 1092,  403, 1026, 1143, 2150, 2775,  886, 1722, 1212, 1874, 1029, 2110, 2935,  885, 2154,
};

/* gammas[i] = 17^(2*BitRev7(i)+1) mod q, the moduli X^2 - gamma of
 * BaseCaseMultiply (Algorithm 12, Appendix A). */
static const uint16_t gammas[128] = {
	  17, 3312, 2761,  568,  583, 2746, 2649,  680, 1637, 1692,  723, 2606, 2288, 1041, 1100, 2229,
	1409, 1920, 2662,  667, 3281,   48,  233, 3096,  756, 2573, 2156, 1173, 3015,  314, 3050,  279,
	1703, 1626, 1651, 1678, 2789,  540, 1789, 1540, 1847, 1482,  952, 2377, 1461, 1868, 2687,  642,
	 939, 2390, 2308, 1021, 2437,  892, 2388,  941,  733, 2596, 2337,  992,  268, 3061,  641, 2688,
	1584, 1745, 2298, 1031, 2037, 1292, 3220,  109,  375, 2954, 2549,  780, 2090, 1239, 1645, 1684,
	1063, 2266,  319, 3010, 2773,  556,  757, 2572, 2099, 1230,  561, 2768, 2466,  863, 2594,  735,
	2804,  525, 1092, 2237,  403, 2926, 1026, 2303, 1143, 2186, 2150, 1179, 2775,  554,  886, 2443,
	1722, 1607, 1212, 2117, 1874, 1455, 1029, 2300, 2110, 1219, 2935,  394,  885, 2444, 2154, 1175,
};

/* ---- Arithmetic in Z_q ---- */

/* x mod q for x in [0, 2q): subtract q, add it back under a mask made from
 * the borrow. */
static inline uint16_t csubq(uint32_t x)
{
	x -= Q;
	x += (0u - (x >> 31)) & Q;
	return (uint16_t)x;
}

/* x mod q for any 32-bit x: t underestimates x/q by at most one, so
 * x - t*q is in [0, 2q). */
static inline uint16_t reduce(uint32_t x)
{
	uint32_t t = (uint32_t)(((uint64_t)x * BARRETT_32) >> 32);

	return csubq(x - t * Q);
}

static inline uint16_t fq_mul(uint16_t a, uint16_t b)
{
	return reduce((uint32_t)a * b);
}

static inline uint16_t fq_add(uint16_t a, uint16_t b)
{
	return csubq((uint32_t)a + b);
}

static inline uint16_t fq_sub(uint16_t a, uint16_t b)
{
	return csubq((uint32_t)a + Q - b);
}

/* ---- NTT (Algorithms 9-12) ---- */

static void ntt(poly *f)
{
	unsigned i = 1;

	for (unsigned len = 128; len >= 2; len >>= 1) {
		for (unsigned start = 0; start < N; start += 2 * len) {
			uint16_t zeta = zetas[i++];
			for (unsigned j = start; j < start + len; j++) {
				uint16_t t = fq_mul(zeta, f->c[j + len]);
				f->c[j + len] = fq_sub(f->c[j], t);
				f->c[j] = fq_add(f->c[j], t);
			}
		}
	}
}

static void ntt_inverse(poly *f)
{
	unsigned i = 127;

	for (unsigned len = 2; len <= 128; len <<= 1) {
		for (unsigned start = 0; start < N; start += 2 * len) {
			uint16_t zeta = zetas[i--];
			for (unsigned j = start; j < start + len; j++) {
				uint16_t t = f->c[j];
				f->c[j] = fq_add(t, f->c[j + len]);
				f->c[j + len] = fq_mul(zeta, fq_sub(f->c[j + len], t));
			}
		}
	}
	for (unsigned j = 0; j < N; j++)
		f->c[j] = fq_mul(f->c[j], INV_128);
}

/* acc += f * g in T_q (MultiplyNTTs, Algorithm 11, with BaseCaseMultiply,
 * Algorithm 12, on each pair). Both sums stay below 2q^2 < 2^32. */
static void basemul_acc(poly *acc, const poly *f, const poly *g)
{
	for (unsigned i = 0; i < 128; i++) {
		uint32_t a0 = f->c[2 * i], a1 = f->c[2 * i + 1];
		uint32_t b0 = g->c[2 * i], b1 = g->c[2 * i + 1];
		uint16_t c0 = reduce(a0 * b0 + (uint32_t)fq_mul((uint16_t)a1, (uint16_t)b1) * gammas[i]);
		uint16_t c1 = reduce(a0 * b1 + a1 * b0);

		acc->c[2 * i] = fq_add(acc->c[2 * i], c0);
		acc->c[2 * i + 1] = fq_add(acc->c[2 * i + 1], c1);
	}
}

static void poly_add(poly *f, const poly *g)
{
	for (unsigned j = 0; j < N; j++)
		f->c[j] = fq_add(f->c[j], g->c[j]);
}

static void poly_sub(poly *f, const poly *g)
{
	for (unsigned j = 0; j < N; j++)
		f->c[j] = fq_sub(f->c[j], g->c[j]);
}

/* ---- Encodings (§4.2.1, Algorithms 5 and 6) ---- */

/* Compress_d (eq. 4.7): round(2^d * x / q) mod 2^d, exact in integers:
 * floor((x*2^d + (q-1)/2) / q) equals floor(x*2^d/q + 1/2) because q is odd. */
static void poly_compress(poly *f, unsigned d)
{
	for (unsigned j = 0; j < N; j++) {
		uint64_t x = ((uint64_t)f->c[j] << d) + (Q - 1) / 2;
		f->c[j] = (uint16_t)(((x * DIV_Q_MAGIC) >> 36) & ((1u << d) - 1));
	}
}

/* Decompress_d (eq. 4.8): round(q * y / 2^d); below q for y < 2^d. */
static void poly_decompress(poly *f, unsigned d)
{
	for (unsigned j = 0; j < N; j++)
		f->c[j] = (uint16_t)(((uint32_t)f->c[j] * Q + (1u << (d - 1))) >> d);
}

/* ByteEncode_d (Algorithm 5): 256 d-bit values, least significant bit first,
 * into 32*d bytes. Coefficients must be below 2^d. */
static void byte_encode(uint8_t *out, const poly *f, unsigned d)
{
	uint32_t acc = 0;
	unsigned bits = 0;

	for (unsigned j = 0; j < N; j++) {
		acc |= (uint32_t)f->c[j] << bits;
		bits += d;
		while (bits >= 8) {
			*out++ = (uint8_t)acc;
			acc >>= 8;
			bits -= 8;
		}
	}
}

/* ByteDecode_d (Algorithm 6) without the final reduction: coefficients are
 * the raw d-bit values. */
static void byte_decode(poly *f, const uint8_t *in, unsigned d)
{
	uint32_t acc = 0, mask = (1u << d) - 1;
	unsigned bits = 0;

	for (unsigned j = 0; j < N; j++) {
		while (bits < d) {
			acc |= (uint32_t)*in++ << bits;
			bits += 8;
		}
		f->c[j] = (uint16_t)(acc & mask);
		acc >>= d;
		bits -= d;
	}
}

/* ByteDecode_12 (Algorithm 6, m = q): 12-bit values reduced mod q, in
 * constant time (they may be secret). */
static void byte_decode12(poly *f, const uint8_t *in)
{
	byte_decode(f, in, 12);
	for (unsigned j = 0; j < N; j++)
		f->c[j] = csubq(f->c[j]);
}

/* ---- Sampling (Algorithms 7 and 8) ---- */

/* SampleNTT(rho || b0 || b1) (Algorithm 7): rejection sampling from
 * SHAKE128, a block at a time (168 bytes is 56 triples, so a triple never
 * straddles blocks). rho is public, so the variable running time reveals
 * nothing secret. */
static void sample_ntt(poly *a, const uint8_t rho[32], uint8_t b0, uint8_t b1)
{
	struct keccak_state xof;
	uint8_t seed[34], buf[KECCAK_SHAKE128_RATE];
	unsigned j = 0;

	memcpy(seed, rho, 32);
	seed[32] = b0;
	seed[33] = b1;
	keccak_shake128_init(&xof);
	keccak_absorb(&xof, seed, sizeof(seed));
	keccak_finalize(&xof, KECCAK_SHAKE_SUFFIX);
	while (j < N) {
		keccak_squeeze_block(&xof, buf);
		for (unsigned p = 0; p + 3 <= sizeof(buf) && j < N; p += 3) {
			uint16_t d1 = (uint16_t)(buf[p] | ((buf[p + 1] & 0x0f) << 8));
			uint16_t d2 = (uint16_t)((buf[p + 1] >> 4) | (buf[p + 2] << 4));
			if (d1 < Q)
				a->c[j++] = d1;
			if (d2 < Q && j < N)
				a->c[j++] = d2;
		}
	}
}

/* SamplePolyCBD_2(PRF_2(s, nonce)) (Algorithm 8, and PRF of §4.1 eq. 4.3):
 * coefficient j is (b[4j] + b[4j+1]) - (b[4j+2] + b[4j+3]) over the bits of
 * SHAKE256(s || nonce), computed with masks. Wipes its buffer. */
static void sample_cbd2(poly *f, const uint8_t s[32], uint8_t nonce)
{
	uint8_t in[33], buf[PRF_LEN];

	memcpy(in, s, 32);
	in[32] = nonce;
	keccak_shake256(buf, sizeof(buf), in, sizeof(in));
	for (unsigned w = 0; w < PRF_LEN / 4; w++) {
		uint32_t t = (uint32_t)buf[4 * w] | (uint32_t)buf[4 * w + 1] << 8 |
		             (uint32_t)buf[4 * w + 2] << 16 | (uint32_t)buf[4 * w + 3] << 24;
		uint32_t pairs = (t & 0x55555555u) + ((t >> 1) & 0x55555555u);
		for (unsigned k = 0; k < 8; k++) {
			uint32_t x = (pairs >> (4 * k)) & 3, y = (pairs >> (4 * k + 2)) & 3;
			f->c[8 * w + k] = csubq(x + Q - y);
		}
	}
	OPENSSL_cleanse(in, sizeof(in));
	OPENSSL_cleanse(buf, sizeof(buf));
}

/* ---- K-PKE (Algorithms 13-15) ---- */

/* K-PKE.KeyGen(d) (Algorithm 13): ek_PKE into ek, dk_PKE into dk_pke. */
static void pke_keygen(uint8_t ek[MLKEM_EK_LEN], uint8_t dk_pke[PKE_DK_LEN], const uint8_t d[32])
{
	struct {
		uint8_t g_in[33];
		uint8_t rho_sigma[64];  /* rho (public) || sigma */
		poly s[K], e, t, a;
	} w;
	const uint8_t *rho = w.rho_sigma, *sigma = w.rho_sigma + 32;
	uint8_t nonce = 0;

	/* (rho, sigma) = G(d || k): the final standard appends k. */
	memcpy(w.g_in, d, 32);
	w.g_in[32] = K;
	keccak_sha3_512(w.rho_sigma, w.g_in, sizeof(w.g_in));

	for (unsigned i = 0; i < K; i++) {
		sample_cbd2(&w.s[i], sigma, nonce++);
		ntt(&w.s[i]);
	}
	/* t^[i] = sum_j A^[i][j] * s^[j] + e^[i], A^[i][j] = SampleNTT(rho||j||i). */
	for (unsigned i = 0; i < K; i++) {
		sample_cbd2(&w.e, sigma, nonce++);
		ntt(&w.e);
		w.t = w.e;
		for (unsigned j = 0; j < K; j++) {
			sample_ntt(&w.a, rho, (uint8_t)j, (uint8_t)i);
			basemul_acc(&w.t, &w.a, &w.s[j]);
		}
		byte_encode(ek + i * POLY_BYTES, &w.t, 12);
		byte_encode(dk_pke + i * POLY_BYTES, &w.s[i], 12);
	}
	memcpy(ek + RHO_OFFSET, rho, 32);
	OPENSSL_cleanse(&w, sizeof(w));
}

/* K-PKE.Encrypt(ek_PKE, m, r) (Algorithm 14). ek must have passed the
 * modulus check (or come from a trusted dk); its t^ is decoded mod q anyway. */
static void pke_encrypt(uint8_t ct[MLKEM_CT_LEN], const uint8_t ek[MLKEM_EK_LEN], const uint8_t m[32],
                        const uint8_t r[32])
{
	struct {
		poly y[K], u, v, a, e;
	} w;
	const uint8_t *rho = ek + RHO_OFFSET;
	uint8_t nonce = 0;

	for (unsigned i = 0; i < K; i++) {
		sample_cbd2(&w.y[i], r, nonce++);
		ntt(&w.y[i]);
	}
	/* u[i] = NTT^-1(sum_j A^[j][i] * y^[j]) + e1[i], with
	 * A^[j][i] = SampleNTT(rho||i||j); then c1 = ByteEncode_du(Compress_du(u)). */
	for (unsigned i = 0; i < K; i++) {
		memset(&w.u, 0, sizeof(w.u));
		for (unsigned j = 0; j < K; j++) {
			sample_ntt(&w.a, rho, (uint8_t)i, (uint8_t)j);
			basemul_acc(&w.u, &w.a, &w.y[j]);
		}
		ntt_inverse(&w.u);
		sample_cbd2(&w.e, r, nonce++);
		poly_add(&w.u, &w.e);
		poly_compress(&w.u, DU);
		byte_encode(ct + i * C1_POLY_BYTES, &w.u, DU);
	}
	/* v = NTT^-1(t^ . y^) + e2 + Decompress_1(m). */
	memset(&w.v, 0, sizeof(w.v));
	for (unsigned i = 0; i < K; i++) {
		byte_decode12(&w.a, ek + i * POLY_BYTES);
		basemul_acc(&w.v, &w.a, &w.y[i]);
	}
	ntt_inverse(&w.v);
	sample_cbd2(&w.e, r, nonce);
	poly_add(&w.v, &w.e);
	for (unsigned j = 0; j < N; j++) {
		/* Decompress_1(bit) = bit * round(q/2), with a mask. */
		uint32_t bit = (m[j / 8] >> (j % 8)) & 1;
		w.v.c[j] = fq_add(w.v.c[j], (uint16_t)((0u - bit) & ((Q + 1) / 2)));
	}
	poly_compress(&w.v, DV);
	byte_encode(ct + C1_LEN, &w.v, DV);
	OPENSSL_cleanse(&w, sizeof(w));
}

/* K-PKE.Decrypt(dk_PKE, c) (Algorithm 15). */
static void pke_decrypt(uint8_t m[32], const uint8_t dk_pke[PKE_DK_LEN], const uint8_t ct[MLKEM_CT_LEN])
{
	struct {
		poly u, s, acc, v;
	} w;

	/* s^ . NTT(u'), u' = Decompress_du(ByteDecode_du(c1)). */
	memset(&w.acc, 0, sizeof(w.acc));
	for (unsigned i = 0; i < K; i++) {
		byte_decode(&w.u, ct + i * C1_POLY_BYTES, DU);
		poly_decompress(&w.u, DU);
		ntt(&w.u);
		byte_decode12(&w.s, dk_pke + i * POLY_BYTES);
		basemul_acc(&w.acc, &w.s, &w.u);
	}
	ntt_inverse(&w.acc);
	/* w = v' - NTT^-1(s^ . NTT(u')); m = ByteEncode_1(Compress_1(w)). */
	byte_decode(&w.v, ct + C1_LEN, DV);
	poly_decompress(&w.v, DV);
	poly_sub(&w.v, &w.acc);
	poly_compress(&w.v, 1);
	byte_encode(m, &w.v, 1);
	OPENSSL_cleanse(&w, sizeof(w));
}

/* ---- ML-KEM (Algorithms 16-21) ---- */

void mlkem_keygen_derand(uint8_t ek[MLKEM_EK_LEN], uint8_t dk[MLKEM_DK_LEN],
                         const uint8_t seed[MLKEM_SEED_LEN])
{
	/* Algorithm 16: dk = dk_PKE || ek || H(ek) || z. */
	pke_keygen(ek, dk, seed);
	memcpy(dk + DK_EK_OFFSET, ek, MLKEM_EK_LEN);
	keccak_sha3_256(dk + DK_H_OFFSET, ek, MLKEM_EK_LEN);
	memcpy(dk + DK_Z_OFFSET, seed + 32, 32);
}

int mlkem_keygen(uint8_t ek[MLKEM_EK_LEN], uint8_t dk[MLKEM_DK_LEN])
{
	uint8_t seed[MLKEM_SEED_LEN];
	int ret = 0;

	if (RAND_priv_bytes(seed, sizeof(seed)) != 1) {
		memset(ek, 0, MLKEM_EK_LEN);
		memset(dk, 0, MLKEM_DK_LEN);
		ret = ERR_CRYPTO;
		goto out;
	}
	mlkem_keygen_derand(ek, dk, seed);
out:
	OPENSSL_cleanse(seed, sizeof(seed));
	return ret;
}

int mlkem_check_ek(const uint8_t ek[MLKEM_EK_LEN])
{
	poly t;

	for (unsigned i = 0; i < K; i++) {
		byte_decode(&t, ek + i * POLY_BYTES, 12);
		for (unsigned j = 0; j < N; j++)
			if (t.c[j] >= Q)
				return ERR_RANGE;
	}
	return 0;
}

int mlkem_check_dk(const uint8_t dk[MLKEM_DK_LEN])
{
	uint8_t h[32];

	keccak_sha3_256(h, dk + DK_EK_OFFSET, MLKEM_EK_LEN);
	return CRYPTO_memcmp(h, dk + DK_H_OFFSET, sizeof(h)) ? ERR_PARSE : 0;
}

int mlkem_encaps_derand(uint8_t ct[MLKEM_CT_LEN], uint8_t ss[MLKEM_SS_LEN],
                        const uint8_t ek[MLKEM_EK_LEN], const uint8_t m[MLKEM_MSG_LEN])
{
	struct {
		uint8_t g_in[64];  /* m || H(ek) */
		uint8_t k_r[64];   /* K || r */
	} w;
	int ret;

	ret = mlkem_check_ek(ek);
	if (ret < 0) {
		memset(ct, 0, MLKEM_CT_LEN);
		memset(ss, 0, MLKEM_SS_LEN);
		return ret;
	}
	/* Algorithm 17: (K, r) = G(m || H(ek)); c = K-PKE.Encrypt(ek, m, r). */
	memcpy(w.g_in, m, 32);
	keccak_sha3_256(w.g_in + 32, ek, MLKEM_EK_LEN);
	keccak_sha3_512(w.k_r, w.g_in, sizeof(w.g_in));
	pke_encrypt(ct, ek, m, w.k_r + 32);
	memcpy(ss, w.k_r, MLKEM_SS_LEN);
	OPENSSL_cleanse(&w, sizeof(w));
	return 0;
}

int mlkem_encaps(uint8_t ct[MLKEM_CT_LEN], uint8_t ss[MLKEM_SS_LEN], const uint8_t ek[MLKEM_EK_LEN])
{
	uint8_t m[MLKEM_MSG_LEN];
	int ret;

	if (RAND_priv_bytes(m, sizeof(m)) != 1) {
		memset(ct, 0, MLKEM_CT_LEN);
		memset(ss, 0, MLKEM_SS_LEN);
		ret = ERR_CRYPTO;
		goto out;
	}
	ret = mlkem_encaps_derand(ct, ss, ek, m);
out:
	OPENSSL_cleanse(m, sizeof(m));
	return ret;
}

/* 0xff if a and b differ anywhere, else 0, reading every byte; the
 * empty asm keeps the compiler from turning the mask back into a branch. */
static uint8_t differ_mask(const uint8_t *a, const uint8_t *b, size_t n)
{
	uint32_t d = 0;

	for (size_t i = 0; i < n; i++)
		d |= (uint32_t)(a[i] ^ b[i]);
	d = 0u - ((0u - d) >> 31);
	__asm__("" : "+r"(d));
	return (uint8_t)d;
}

void mlkem_decaps(uint8_t ss[MLKEM_SS_LEN], const uint8_t dk[MLKEM_DK_LEN], const uint8_t ct[MLKEM_CT_LEN])
{
	struct {
		uint8_t g_in[64];             /* m' || h */
		uint8_t k_r[64];              /* K' || r' */
		uint8_t z_c[32 + MLKEM_CT_LEN];
		uint8_t k_bar[32];
		uint8_t ct2[MLKEM_CT_LEN];    /* c' */
	} w;
	uint8_t mask;

	/* Algorithm 18. */
	pke_decrypt(w.g_in, dk, ct);
	memcpy(w.g_in + 32, dk + DK_H_OFFSET, 32);
	keccak_sha3_512(w.k_r, w.g_in, sizeof(w.g_in));
	/* K-bar = J(z || c) = SHAKE256(z || c, 32). */
	memcpy(w.z_c, dk + DK_Z_OFFSET, 32);
	memcpy(w.z_c + 32, ct, MLKEM_CT_LEN);
	keccak_shake256(w.k_bar, sizeof(w.k_bar), w.z_c, sizeof(w.z_c));
	pke_encrypt(w.ct2, dk + DK_EK_OFFSET, w.g_in, w.k_r + 32);
	/* if c != c' then K' = K-bar, chosen by mask. */
	mask = differ_mask(ct, w.ct2, MLKEM_CT_LEN);
	for (unsigned i = 0; i < MLKEM_SS_LEN; i++)
		ss[i] = (uint8_t)(w.k_r[i] ^ (mask & (w.k_r[i] ^ w.k_bar[i])));
	OPENSSL_cleanse(&w, sizeof(w));
}
