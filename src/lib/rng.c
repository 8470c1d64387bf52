#include "lib/rng.h"

#include <sodium.h>
#include <string.h>

#define RNG_BLOCK 4096

/* Thread-local generator state: each thread draws from its own stream, so
 * there is no lock and no sharing. This is the project's one piece of
 * per-thread mutable state outside test hooks. */
static _Thread_local struct {
	uint8_t key[crypto_stream_chacha20_KEYBYTES];
	uint8_t buf[RNG_BLOCK];
	size_t pos;
	int seeded;
} rng;

static void refill(void)
{
	static const uint8_t nonce[crypto_stream_chacha20_NONCEBYTES];
	if (!rng.seeded) {
		randombytes_buf(rng.key, sizeof(rng.key));
		rng.seeded = 1;
	}
	crypto_stream_chacha20(rng.buf, sizeof(rng.buf), nonce, rng.key);
	/* The first 32 bytes become the next key and are never handed out. */
	memcpy(rng.key, rng.buf, sizeof(rng.key));
	sodium_memzero(rng.buf, sizeof(rng.key));
	rng.pos = sizeof(rng.key);
}

void rng_bytes(void *dst, size_t len)
{
	uint8_t *d = dst;
	while (len) {
		if (rng.pos == RNG_BLOCK || !rng.seeded)
			refill();
		size_t n = RNG_BLOCK - rng.pos < len ? RNG_BLOCK - rng.pos : len;
		memcpy(d, rng.buf + rng.pos, n);
		sodium_memzero(rng.buf + rng.pos, n);
		rng.pos += n;
		d += n;
		len -= n;
	}
}

uint32_t rng_u32(void)
{
	uint32_t v;
	rng_bytes(&v, sizeof(v));
	return v;
}

uint32_t rng_uniform(uint32_t upper)
{
	if (upper < 2)
		return 0;
	/* Reject the values that would make the modulo biased. */
	uint32_t min = (uint32_t)(-upper) % upper, v;
	do
		v = rng_u32();
	while (v < min);
	return v % upper;
}
