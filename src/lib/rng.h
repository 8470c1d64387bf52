/* Fast random bytes for the packet path (AmneziaWG prefixes, header values,
 * junk): a per-thread ChaCha20 keystream, seeded from the kernel once and
 * re-keyed from its own output after every block, so a later compromise of
 * the state does not reveal earlier output. libsodium's randombytes makes a
 * getrandom(2) call per request, which at line rate costs more than the
 * obfuscation itself. Long-term secrets (keys) still come from randombytes. */
#ifndef PHAROS_LIB_RNG_H
#define PHAROS_LIB_RNG_H

#include <stddef.h>
#include <stdint.h>

void rng_bytes(void *dst, size_t len);
uint32_t rng_u32(void);
/* Uniform in [0, upper) without modulo bias; upper >= 1. */
uint32_t rng_uniform(uint32_t upper);

#endif
