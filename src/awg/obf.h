/* AmneziaWG obfuscation (specs/awg.md §2): the parameter set, its validation,
 * classification of received datagrams, header values and prefixes on send,
 * junk and I1..I5 "special junk" datagrams. Pure: randomness from libsodium,
 * time passed in. Compatible with amneziawg-go 2.0 and with 1.0/1.5 peers
 * whose values are single (not ranges). */
#ifndef PHAROS_AWG_OBF_H
#define PHAROS_AWG_OBF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lib/err.h"

#define OBF_TEMPLATES 5
#define OBF_MAX_JC 128
#define OBF_MAX_JUNK 65535
#define OBF_MAX_PREFIX 65535
#define OBF_MAX_TEMPLATE_BYTES 65535 /* one I-packet datagram at most */

struct obf_range {
	uint32_t lo, hi;
};

struct obf_template; /* parsed I-packet template */

struct obf_params {
	uint32_t jc, jmin, jmax;
	uint32_t s[4];            /* S1..S4: prefix lengths for message types 1..4 */
	struct obf_range h[4];    /* H1..H4: on-wire type value ranges (default 1..4) */
	struct obf_template *i[OBF_TEMPLATES]; /* I1..I5, NULL when unset */
	char *i_text[OBF_TEMPLATES];           /* the template source, for get/showconf */
};

/* Plain WireGuard: h = {1,1},{2,2},{3,3},{4,4}, everything else 0/unset. */
void obf_params_init(struct obf_params *p);
void obf_params_fini(struct obf_params *p);
int obf_params_copy(struct obf_params *dst, const struct obf_params *src) WUR;
/* True when nothing changes WireGuard's wire format (jc/I-packets may still be sent). */
bool obf_params_is_plain_format(const struct obf_params *p);

/* Sets one key as named in UAPI/awg (jc jmin jmax s1..s4 h1..h4 i1..i5; the
 * 1.5-only keys j1..j3 and itime are accepted and ignored). On error returns
 * -EINVAL and writes a message naming the key and the valid range to err.
 * Does not validate across keys: call obf_params_validate after the last key. */
int obf_params_set(struct obf_params *p, const char *key, const char *value, char *err, size_t errlen) WUR;
/* Cross-key rules (specs/awg.md §2.5): jmin <= jmax, H ranges pairwise
 * disjoint, the four message sizes 148+S1, 92+S2, 64+S3 distinct where they
 * would become ambiguous, and so on. -EINVAL with a message on failure. */
int obf_params_validate(const struct obf_params *p, char *err, size_t errlen) WUR;
/* Appends the UAPI get lines (jc=.., h1=lo-hi, i1=..., each only when set,
 * except h1..h4 which are always written) to buf; returns bytes written or
 * -ENOSPC. */
int obf_params_format(const struct obf_params *p, char *buf, size_t cap) WUR;

/* Classifies a received datagram (specs/awg.md §2.4, 2.0 order). Returns the
 * standard message type, or MSG_INVALID (0) to drop; *prefix_len receives S.
 * The message then starts at pkt + *prefix_len with its on-wire type intact. */
int obf_classify(const struct obf_params *p, const uint8_t *pkt, size_t len, size_t *prefix_len);

/* A uniformly random on-wire value for standard message type t (1..4). */
uint32_t obf_header_value(const struct obf_params *p, int type);
/* Prefix length for type t and random fill of a prefix. */
static inline uint32_t obf_prefix_len(const struct obf_params *p, int type) { return p->s[type - 1]; }
void obf_fill_random(uint8_t *dst, size_t len);

/* Junk datagrams before an initiation: how many, and the length of one
 * (uniform in [jmin, jmax], 2.0 semantics). */
uint32_t obf_junk_count(const struct obf_params *p);
uint32_t obf_junk_len(const struct obf_params *p);

/* I-packet templates (specs/awg.md §2.6): tags <b 0xHEX> <r N> <rc N> <rd N>
 * <t> (<c> accepted: 4-byte counter). Parse errors name the offending tag. */
int obf_template_parse(const char *text, struct obf_template **out, char *err, size_t errlen) WUR;
void obf_template_free(struct obf_template *t);
size_t obf_template_len(const struct obf_template *t);
/* Renders into dst (cap >= obf_template_len); returns the length. */
size_t obf_template_render(const struct obf_template *t, uint8_t *dst, size_t cap, uint32_t unix_time,
                           uint32_t counter);

#endif
