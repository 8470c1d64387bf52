/* Hex and base64 (RFC 4648 standard alphabet, with padding) for keys and
 * other secrets. Encoding and decoding take time that depends only on the
 * length of the input, never on its bytes: no table is indexed by a data
 * byte and no branch is taken on one; characters are mapped with arithmetic
 * masks. The one data-dependent branch is the final "was anything invalid",
 * which reveals only that the input was rejected. Finding the end of the
 * text (strlen) and where the '=' padding sits use ordinary branches: they
 * only say how long the data is. (Checked with memcheck, secrets marked
 * undefined: no other branch or address depends on them.)
 *
 * Decoders are strict: hex wants exactly 2*len digits (either case); base64
 * wants a length that is a multiple of four, only alphabet characters before
 * at most two '=', and zero unused bits in the last character, so every byte
 * string has exactly one accepted encoding. Encoders write lower-case hex. */
#ifndef PHAROS_LIB_ENC_H
#define PHAROS_LIB_ENC_H

#include <stddef.h>
#include <stdint.h>

#include "lib/err.h"

#define ENC_KEY_LEN        32
#define ENC_KEY_HEX_LEN    65 /* 64 digits and the NUL */
#define ENC_KEY_BASE64_LEN 45 /* 44 characters and the NUL */

/* Buffer sizes, with the NUL, that the encoders need for n bytes. */
#define ENC_HEX_LEN(n)    (2 * (size_t)(n) + 1)
#define ENC_BASE64_LEN(n) (4 * (((size_t)(n) + 2) / 3) + 1)

/* Write the NUL-terminated encoding of src[0..len) into dst. 0, or -ENOSPC if
 * dstcap is below ENC_HEX_LEN(len) / ENC_BASE64_LEN(len) (dst is then "" when
 * dstcap > 0). */
int enc_hex_encode(char *dst, size_t dstcap, const uint8_t *src, size_t len) WUR;
int enc_base64_encode(char *dst, size_t dstcap, const uint8_t *src, size_t len) WUR;

/* Decodes the NUL-terminated src, which must be exactly 2*len hex digits,
 * into dst[0..len). 0 or -EINVAL; on failure dst[0..len) is zeroed. */
int enc_hex_decode(uint8_t *dst, size_t len, const char *src) WUR;
/* Decodes the NUL-terminated src into dst and sets *outlen. 0, -EINVAL
 * (malformed) or -ENOSPC (dstcap below the decoded length); on failure
 * dst[0..dstcap) is zeroed and *outlen is 0. */
int enc_base64_decode(uint8_t *dst, size_t dstcap, const char *src, size_t *outlen) WUR;

/* 32-byte keys, as wg(8) prints them. The decoders accept exactly one
 * key's worth of text (44 base64 characters or 64 hex digits) and zero the
 * key on failure: 0 or -EINVAL. */
void enc_key_to_base64(char out[ENC_KEY_BASE64_LEN], const uint8_t key[ENC_KEY_LEN]);
int enc_key_from_base64(uint8_t key[ENC_KEY_LEN], const char *s) WUR;
void enc_key_to_hex(char out[ENC_KEY_HEX_LEN], const uint8_t key[ENC_KEY_LEN]);
int enc_key_from_hex(uint8_t key[ENC_KEY_LEN], const char *s) WUR;

#endif
