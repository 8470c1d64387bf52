/* ML-KEM-768 (FIPS 203, August 2024), written for this project: the KEM
 * half of the X25519MLKEM768 TLS key share that current Chrome/uTLS
 * ClientHellos carry and REALITY servers require (specs/reality.md §0 fact 5,
 * §2.1). Only the ML-KEM-768 parameter set (k=3, eta1=eta2=2, du=10, dv=4).
 *
 * Byte strings are the FIPS 203 encodings: ek = ByteEncode12(t^)||rho,
 * dk = dk_PKE||ek||H(ek)||z, c = c1||c2. The *_derand functions take the
 * randomness as an argument (d||z for KeyGen, m for Encaps) so known-answer
 * tests can drive them; they are ML-KEM.KeyGen_internal / Encaps_internal
 * (Algorithms 16, 17) and must only be fed fresh random bytes in production.
 *
 * Side channels: everything that touches dk, d, z, m, the shared secret or
 * their derivatives runs in time independent of their values (no secret-
 * dependent branch, table index or division). Decaps compares the
 * re-encryption and selects between K' and the implicit-rejection key with
 * masks. Every secret intermediate is wiped before returning.
 *
 * Nothing here allocates. Output buffers must not overlap inputs. */
#ifndef PHAROS_REALITY_MLKEM_H
#define PHAROS_REALITY_MLKEM_H

#include <stdint.h>

#include "lib/err.h"

enum {
	MLKEM_EK_LEN = 1184,   /* encapsulation key */
	MLKEM_DK_LEN = 2400,   /* decapsulation key */
	MLKEM_CT_LEN = 1088,   /* ciphertext */
	MLKEM_SS_LEN = 32,     /* shared secret */
	MLKEM_SEED_LEN = 64,   /* KeyGen randomness d||z */
	MLKEM_MSG_LEN = 32,    /* Encaps randomness m */
};

/* ML-KEM.KeyGen (Algorithm 19) with fresh randomness from the OS CSPRNG
 * (OpenSSL RAND_priv_bytes). 0, or ERR_CRYPTO if no randomness was available
 * (ek and dk are then zeroed). */
int mlkem_keygen(uint8_t ek[MLKEM_EK_LEN], uint8_t dk[MLKEM_DK_LEN]) WUR;

/* ML-KEM.KeyGen_internal(d, z) (Algorithm 16) with seed = d||z. Cannot fail. */
void mlkem_keygen_derand(uint8_t ek[MLKEM_EK_LEN], uint8_t dk[MLKEM_DK_LEN],
                         const uint8_t seed[MLKEM_SEED_LEN]);

/* Encapsulation key check (FIPS 203 §7.2 "modulus check": every 12-bit
 * coefficient of t^ is below q, i.e. ByteEncode12(ByteDecode12(ek)) == ek).
 * The length check is the array type. 0 or ERR_RANGE. ek is public; this
 * returns early. */
int mlkem_check_ek(const uint8_t ek[MLKEM_EK_LEN]) WUR;

/* Decapsulation key check (FIPS 203 §7.3 "hash check": H(ek) stored in dk
 * matches the ek stored in dk). For a dk that came from elsewhere; keys made
 * by mlkem_keygen need no check. 0 or ERR_PARSE. */
int mlkem_check_dk(const uint8_t dk[MLKEM_DK_LEN]) WUR;

/* ML-KEM.Encaps (Algorithm 20): checks ek (mlkem_check_ek), draws m from the
 * OS CSPRNG and writes the ciphertext and shared secret. 0, ERR_RANGE (bad
 * ek) or ERR_CRYPTO (no randomness); on failure ct and ss are zeroed. */
int mlkem_encaps(uint8_t ct[MLKEM_CT_LEN], uint8_t ss[MLKEM_SS_LEN],
                 const uint8_t ek[MLKEM_EK_LEN]) WUR;

/* ML-KEM.Encaps_internal(ek, m) (Algorithm 17), after the same ek check.
 * 0 or ERR_RANGE (ct and ss zeroed). */
int mlkem_encaps_derand(uint8_t ct[MLKEM_CT_LEN], uint8_t ss[MLKEM_SS_LEN],
                        const uint8_t ek[MLKEM_EK_LEN], const uint8_t m[MLKEM_MSG_LEN]) WUR;

/* ML-KEM.Decaps (Algorithms 21 and 18) with implicit rejection: for a
 * ciphertext that does not re-encrypt to itself, ss is J(z||c), a value
 * pseudorandom to anyone without dk, and no error is signalled (that is the
 * point). Cannot fail: any 1088 bytes are a well-formed ciphertext. dk is
 * trusted (see mlkem_check_dk). */
void mlkem_decaps(uint8_t ss[MLKEM_SS_LEN], const uint8_t dk[MLKEM_DK_LEN],
                  const uint8_t ct[MLKEM_CT_LEN]);

#endif
