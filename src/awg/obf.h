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
/* Longest template source accepted: room for one <b 0x...> of the maximum size. */
#define OBF_MAX_TEMPLATE_TEXT (2 * OBF_MAX_TEMPLATE_BYTES + 1024)

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
/* Frees the templates and leaves p as after obf_params_init. */
void obf_params_fini(struct obf_params *p);
/* dst is treated as uninitialised storage (not finalised first). On success it
 * is a deep copy of src; on failure (-ENOMEM) it is left initialised as plain
 * WireGuard, so obf_params_fini(dst) is always safe. */
int obf_params_copy(struct obf_params *dst, const struct obf_params *src) WUR;
/* True when nothing changes WireGuard's wire format (jc/I-packets may still be sent). */
bool obf_params_is_plain_format(const struct obf_params *p);

/* True for every key obf_params_set accepts (lowercase, as in UAPI). */
bool obf_params_is_key(const char *key);
/* Sets one key as named in UAPI/awg (jc jmin jmax s1..s4 h1..h4 i1..i5; the
 * 1.5-only keys j1..j3 and itime are accepted and ignored). Keys are matched
 * exactly (lowercase); values are not trimmed. An empty (or all-blank) i-value
 * unsets that template. On error returns -EINVAL (ERR_TOOBIG or -ENOMEM for a
 * template) with p unchanged, and writes to err a message that starts with
 * "<key>: ", quotes the value and says what is valid.
 * Does not validate across keys: call obf_params_validate after the last key. */
int obf_params_set(struct obf_params *p, const char *key, const char *value, char *err, size_t errlen) WUR;
/* Every rule (specs/awg.md §2.5), per key and across keys: jc <= OBF_MAX_JC,
 * jmin <= jmax <= OBF_MAX_JUNK, header + S within 65535, lo <= hi and the four
 * H ranges pairwise disjoint, and the datagram sizes 148+S1, 92+S2, 64+S3 and
 * 32+S4 (keepalive) pairwise different: at equal sizes the earlier-classified
 * kind reads the later kind's random prefix where it expects its header, so
 * the two could not be told apart (the classic 148+S1 == 92+S2). -EINVAL with
 * a message starting with the offending key ("<key>: ") on failure. */
int obf_params_validate(const struct obf_params *p, char *err, size_t errlen) WUR;
/* Writes the UAPI get lines, in the order jc jmin jmax s1..s4 h1..h4 i1..i5
 * (jc, jmin, jmax, s* and i* only when non-zero/set; h1..h4 always, "x" when
 * lo == hi else "lo-hi"), NUL-terminated, to buf. Returns the length written
 * (without the NUL) or -ENOSPC. */
int obf_params_format(const struct obf_params *p, char *buf, size_t cap) WUR;
/* Writes the value of one key (as obf_params_format would print it, "" for an
 * unset template), NUL-terminated. Returns its length, -ENOSPC, or -EINVAL for
 * a key that is not one of jc jmin jmax s1..s4 h1..h4 i1..i5. */
int obf_params_format_value(const struct obf_params *p, const char *key, char *buf, size_t cap) WUR;
/* Replaces p's contents with a random AmneziaWG 2.0 set that passes
 * obf_params_validate: jc 3..8, jmin 40..50, jmax jmin+10..70, S1..S3 12..64,
 * S4 12..32 (>= 12 keeps the set usable with 3.x header protection), the four
 * datagram sizes different and none equal to a padded data packet size, four
 * disjoint random H ranges within 5..2^31-1, no templates. p must have been
 * initialised; its templates are freed. Returns 0, or ERR_BADSTATE if no valid
 * set was found (not expected to happen). */
int obf_params_generate(struct obf_params *p) WUR;

/* Classifies a received datagram (specs/awg.md §2.4, 2.0 order). Returns the
 * standard message type, or MSG_INVALID (0) to drop; *prefix_len receives S
 * (0 on a drop). The message then starts at pkt + *prefix_len with its on-wire
 * type intact, and is exactly 148/92/64 bytes, or >= 32 bytes for data. */
int obf_classify(const struct obf_params *p, const uint8_t *pkt, size_t len, size_t *prefix_len);

/* A uniformly random on-wire value for standard message type t (1..4; 0 for
 * any other t). */
uint32_t obf_header_value(const struct obf_params *p, int type);
/* Prefix length for type t and random fill of a prefix. */
static inline uint32_t obf_prefix_len(const struct obf_params *p, int type) { return p->s[type - 1]; }
void obf_fill_random(uint8_t *dst, size_t len);

/* Junk datagrams before an initiation: how many (0 when jmax is 0, as the
 * kernel module does), and the length of one (uniform in [jmin, jmax]
 * inclusive, 2.0 semantics). */
uint32_t obf_junk_count(const struct obf_params *p);
uint32_t obf_junk_len(const struct obf_params *p);

/* I-packet templates (specs/awg.md §2.6): tags <b 0xHEX> (0x optional) <r N>
 * <rc N> <rd N> (0 <= N <= 65535) and <t> (4-byte big-endian Unix time), plus
 * <c> (4-byte big-endian counter) for kernel-module templates. Tag names are
 * case-insensitive; blanks may separate tags; any other text outside tags is
 * rejected (amneziawg-go ignores it, so it is almost always a mistake). At
 * least one tag, and at most OBF_MAX_TEMPLATE_BYTES of output. Returns 0,
 * -EINVAL (message quoting the offending tag and what is valid), ERR_TOOBIG
 * (text or output too long) or -ENOMEM; *out is NULL on failure. */
int obf_template_parse(const char *text, struct obf_template **out, char *err, size_t errlen) WUR;
void obf_template_free(struct obf_template *t);
size_t obf_template_len(const struct obf_template *t);
/* Renders into dst; returns the length, or 0 when cap < obf_template_len. */
size_t obf_template_render(const struct obf_template *t, uint8_t *dst, size_t cap, uint32_t unix_time,
                           uint32_t counter);

#endif
