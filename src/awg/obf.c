/* AmneziaWG obfuscation (specs/awg.md §2), amneziawg-go 2.0 semantics. */
#include "awg/obf.h"

#include <errno.h>
#include <inttypes.h>
#include <sodium.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "awg/messages.h"
#include "lib/mem.h"
#include "lib/text.h"
#include "lib/rng.h"

/* Size of each standard message, indexed by type - 1. For data this is the
 * smallest one (a keepalive). */
static const uint32_t msg_size[4] = {
	sizeof(struct msg_initiation),
	sizeof(struct msg_response),
	sizeof(struct msg_cookie),
	MSG_DATA_MIN_LEN,
};
static const char *const msg_name[4] = {"an initiation", "a response", "a cookie reply", "a keepalive"};
static const char *const msg_noun[4] = {"initiation", "response", "cookie reply", "keepalive"};

#define H_EXPECTED "expected N or LO-HI with 0 <= LO <= HI <= 4294967295"
#define TAGS_EXPECTED "expected <b 0xHEX>, <r N>, <rc N>, <rd N>, <t> or <c>"

/* ---- error messages ---------------------------------------------------- */

static void seterr(char *err, size_t errlen, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void seterr(char *err, size_t errlen, const char *fmt, ...)
{
	if (!err || !errlen)
		return;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
}

/* Values quoted in error messages are cut after QUOTE_MAX characters, so a
 * 100 KB template never floods a log line (lib/text.h). */
#define QUOTE_MAX 64
#define QUOTE_BUF TEXT_QUOTE_BUF(QUOTE_MAX)

/* ---- small parsers ----------------------------------------------------- */

static bool is_blank(char c)
{
	return c == ' ' || c == '\t';
}

enum { NUM_OK = 0, NUM_SYNTAX = -1, NUM_BIG = -2 };

/* Strict unsigned decimal (digits only, at least one) of s[0..len), <= max. */
static int parse_dec(const char *s, size_t len, uint64_t max, uint32_t *out)
{
	uint64_t v = 0;
	bool big = false;
	if (!len)
		return NUM_SYNTAX;
	for (size_t i = 0; i < len; i++) {
		if (s[i] < '0' || s[i] > '9')
			return NUM_SYNTAX;
		if (!big) {
			v = v * 10 + (uint64_t)(s[i] - '0');
			if (v > max)
				big = true;
		}
	}
	if (big)
		return NUM_BIG;
	*out = (uint32_t)v;
	return NUM_OK;
}

static void trim(const char **s, size_t *len)
{
	while (*len && is_blank(**s)) {
		(*s)++;
		(*len)--;
	}
	while (*len && is_blank((*s)[*len - 1]))
		(*len)--;
}

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

static void be32_write(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

/* ---- templates (§2.6) ---------------------------------------------------- */

enum tag_kind { TAG_BYTES, TAG_RANDOM, TAG_LETTERS, TAG_DIGITS, TAG_TIME, TAG_COUNTER };

struct tag {
	uint8_t kind;
	uint32_t len; /* output bytes */
	uint32_t off; /* TAG_BYTES: offset into the literal bytes */
};

/* One allocation: the header, ntags tags, then the literal bytes. */
struct obf_template {
	size_t size;   /* bytes allocated, for copies */
	size_t len;    /* rendered length */
	size_t ntags;
	size_t nbytes; /* literal bytes after the tags */
	struct tag tags[];
};

static uint8_t *template_bytes(const struct obf_template *t)
{
	return (uint8_t *)&t->tags[t->ntags];
}

static const struct tagdef {
	const char *name;
	uint8_t kind;
	bool param;
	const char *usage;
} tagdefs[] = {
	{"b", TAG_BYTES, true, "<b 0xHEX> with an even, non-zero number of hex digits"},
	{"r", TAG_RANDOM, true, "<r N> with 0 <= N <= 65535"},
	{"rc", TAG_LETTERS, true, "<rc N> with 0 <= N <= 65535"},
	{"rd", TAG_DIGITS, true, "<rd N> with 0 <= N <= 65535"},
	{"t", TAG_TIME, false, "<t>"},
	{"c", TAG_COUNTER, false, "<c>"},
};

struct scan_totals {
	size_t ntags, nbytes, len;
};

/* Walks the template text. With t == NULL it validates and counts; with t it
 * fills tags and literal bytes (the text already passed the first walk). */
static int scan(const char *text, size_t n, struct obf_template *t, struct scan_totals *tot, char *err,
                size_t errlen)
{
	char q[QUOTE_BUF];
	size_t i = 0;
	memset(tot, 0, sizeof(*tot));
	while (i < n) {
		if (is_blank(text[i])) {
			i++;
			continue;
		}
		if (text[i] != '<') {
			seterr(err, errlen, "%s: text outside a tag (%s, separated by blanks)",
			       text_quote(q, QUOTE_MAX, text + i, n - i), TAGS_EXPECTED);
			return -EINVAL;
		}
		const char *close = memchr(text + i, '>', n - i);
		if (!close) {
			seterr(err, errlen, "%s: tag is not closed with '>' (%s)", text_quote(q, QUOTE_MAX, text + i, n - i),
			       TAGS_EXPECTED);
			return -EINVAL;
		}
		const char *tag = text + i, *inner = tag + 1;
		size_t taglen = (size_t)(close - tag) + 1, innerlen = taglen - 2;
		size_t namelen = 0;
		while (namelen < innerlen && !is_blank(inner[namelen]))
			namelen++;
		const struct tagdef *def = NULL;
		for (size_t k = 0; k < sizeof(tagdefs) / sizeof(tagdefs[0]); k++) {
			if (strlen(tagdefs[k].name) == namelen && !strncasecmp(tagdefs[k].name, inner, namelen)) {
				def = &tagdefs[k];
				break;
			}
		}
		if (!def) {
			seterr(err, errlen, "%s: unknown tag (%s)", text_quote(q, QUOTE_MAX, tag, taglen), TAGS_EXPECTED);
			return -EINVAL;
		}
		const char *param = inner + namelen;
		size_t paramlen = innerlen - namelen;
		trim(&param, &paramlen);
		if (def->param && !paramlen) {
			seterr(err, errlen, "%s: tag needs a parameter (expected %s)", text_quote(q, QUOTE_MAX, tag, taglen), def->usage);
			return -EINVAL;
		}
		if (!def->param && paramlen) {
			seterr(err, errlen, "%s: tag takes no parameter (expected %s)", text_quote(q, QUOTE_MAX, tag, taglen), def->usage);
			return -EINVAL;
		}
		uint32_t len = 4;
		const char *hex = param;
		size_t hexlen = paramlen;
		if (def->kind == TAG_BYTES) {
			if (hexlen >= 2 && hex[0] == '0' && (hex[1] == 'x' || hex[1] == 'X')) {
				hex += 2;
				hexlen -= 2;
			}
			bool ok = hexlen && hexlen % 2 == 0;
			for (size_t k = 0; ok && k < hexlen; k++)
				ok = hexval(hex[k]) >= 0;
			if (!ok) {
				seterr(err, errlen, "%s: not valid hex bytes (expected %s)", text_quote(q, QUOTE_MAX, tag, taglen),
				       def->usage);
				return -EINVAL;
			}
			len = hexlen > OBF_MAX_TEMPLATE_BYTES * 2 ? OBF_MAX_TEMPLATE_BYTES + 1 : (uint32_t)(hexlen / 2);
		} else if (def->param) {
			int rc = parse_dec(param, paramlen, OBF_MAX_TEMPLATE_BYTES, &len);
			if (rc != NUM_OK) {
				seterr(err, errlen, "%s: %s (expected %s)", text_quote(q, QUOTE_MAX, tag, taglen),
				       rc == NUM_BIG ? "length too large" : "length is not a decimal number",
				       def->usage);
				return -EINVAL;
			}
		}
		if (tot->len + len > OBF_MAX_TEMPLATE_BYTES) {
			seterr(err, errlen, "%s: the template would exceed %d bytes (expected one datagram of at most %d bytes)",
			       text_quote(q, QUOTE_MAX, tag, taglen), OBF_MAX_TEMPLATE_BYTES, OBF_MAX_TEMPLATE_BYTES);
			return ERR_TOOBIG;
		}
		if (t) {
			struct tag *tg = &t->tags[tot->ntags];
			tg->kind = def->kind;
			tg->len = len;
			tg->off = (uint32_t)tot->nbytes;
			if (def->kind == TAG_BYTES) {
				uint8_t *b = template_bytes(t) + tot->nbytes;
				for (size_t k = 0; k < len; k++)
					b[k] = (uint8_t)(hexval(hex[2 * k]) << 4 | hexval(hex[2 * k + 1]));
			}
		}
		tot->ntags++;
		tot->len += len;
		if (def->kind == TAG_BYTES)
			tot->nbytes += len;
		i += taglen;
	}
	if (!tot->ntags) {
		seterr(err, errlen, "\"\": template has no tags (%s)", TAGS_EXPECTED);
		return -EINVAL;
	}
	return 0;
}

int obf_template_parse(const char *text, struct obf_template **out, char *err, size_t errlen)
{
	struct scan_totals tot;
	*out = NULL;
	size_t n = strnlen(text, OBF_MAX_TEMPLATE_TEXT + 1);
	if (n > OBF_MAX_TEMPLATE_TEXT) {
		seterr(err, errlen, "template text is longer than %d characters", OBF_MAX_TEMPLATE_TEXT);
		return ERR_TOOBIG;
	}
	int rc = scan(text, n, NULL, &tot, err, errlen);
	if (rc < 0)
		return rc;
	size_t size = sizeof(struct obf_template) + tot.ntags * sizeof(struct tag) + tot.nbytes;
	struct obf_template *t = mem_zalloc(size);
	if (!t) {
		seterr(err, errlen, "out of memory");
		return -ENOMEM;
	}
	t->size = size;
	t->ntags = tot.ntags;
	t->nbytes = tot.nbytes;
	t->len = tot.len;
	rc = scan(text, n, t, &tot, NULL, 0);
	if (rc < 0) { /* cannot happen: the same text passed the first walk */
		mem_free(t);
		return rc;
	}
	*out = t;
	return 0;
}

void obf_template_free(struct obf_template *t)
{
	mem_free(t);
}

size_t obf_template_len(const struct obf_template *t)
{
	return t->len;
}

/* Uniform pick from a fixed alphabet for every byte. */
static void random_from(uint8_t *dst, size_t n, const char *alphabet, uint32_t count)
{
	for (size_t i = 0; i < n; i++)
		dst[i] = (uint8_t)alphabet[rng_uniform(count)];
}

size_t obf_template_render(const struct obf_template *t, uint8_t *dst, size_t cap, uint32_t unix_time,
                           uint32_t counter)
{
	static const char letters[] = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ";
	static const char digits[] = "0123456789";
	if (cap < t->len)
		return 0;
	size_t o = 0;
	for (size_t i = 0; i < t->ntags; i++) {
		const struct tag *tg = &t->tags[i];
		switch (tg->kind) {
		case TAG_BYTES:
			memcpy(dst + o, template_bytes(t) + tg->off, tg->len);
			break;
		case TAG_RANDOM:
			rng_bytes(dst + o, tg->len);
			break;
		case TAG_LETTERS:
			random_from(dst + o, tg->len, letters, 52);
			break;
		case TAG_DIGITS:
			random_from(dst + o, tg->len, digits, 10);
			break;
		case TAG_TIME:
			be32_write(dst + o, unix_time);
			break;
		case TAG_COUNTER:
			be32_write(dst + o, counter);
			break;
		}
		o += tg->len;
	}
	return o;
}

/* ---- parameter set ------------------------------------------------------- */

enum key_kind { KEY_JC, KEY_JMIN, KEY_JMAX, KEY_S, KEY_H, KEY_I, KEY_IGNORED };

static const struct keydef {
	const char *name;
	uint8_t kind;
	uint8_t idx;
} keydefs[] = {
	{"jc", KEY_JC, 0},   {"jmin", KEY_JMIN, 0}, {"jmax", KEY_JMAX, 0}, {"s1", KEY_S, 0},
	{"s2", KEY_S, 1},    {"s3", KEY_S, 2},      {"s4", KEY_S, 3},      {"h1", KEY_H, 0},
	{"h2", KEY_H, 1},    {"h3", KEY_H, 2},      {"h4", KEY_H, 3},      {"i1", KEY_I, 0},
	{"i2", KEY_I, 1},    {"i3", KEY_I, 2},      {"i4", KEY_I, 3},      {"i5", KEY_I, 4},
	{"j1", KEY_IGNORED, 0}, {"j2", KEY_IGNORED, 0}, {"j3", KEY_IGNORED, 0}, {"itime", KEY_IGNORED, 0},
};

static const struct keydef *find_key(const char *key)
{
	for (size_t k = 0; k < sizeof(keydefs) / sizeof(keydefs[0]); k++)
		if (!strcmp(keydefs[k].name, key))
			return &keydefs[k];
	return NULL;
}

void obf_params_init(struct obf_params *p)
{
	memset(p, 0, sizeof(*p));
	for (uint32_t k = 0; k < 4; k++)
		p->h[k].lo = p->h[k].hi = k + 1;
}

void obf_params_fini(struct obf_params *p)
{
	for (int k = 0; k < OBF_TEMPLATES; k++) {
		obf_template_free(p->i[k]);
		mem_free(p->i_text[k]);
	}
	obf_params_init(p);
}

int obf_params_copy(struct obf_params *dst, const struct obf_params *src)
{
	*dst = *src;
	for (int k = 0; k < OBF_TEMPLATES; k++)
		dst->i[k] = NULL, dst->i_text[k] = NULL;
	for (int k = 0; k < OBF_TEMPLATES; k++) {
		if (!src->i[k])
			continue;
		dst->i[k] = mem_dup(src->i[k], src->i[k]->size);
		dst->i_text[k] = mem_strdup(src->i_text[k]);
		if (!dst->i[k] || !dst->i_text[k]) {
			obf_params_fini(dst);
			return -ENOMEM;
		}
	}
	return 0;
}

bool obf_params_is_plain_format(const struct obf_params *p)
{
	for (uint32_t k = 0; k < 4; k++)
		if (p->s[k] || p->h[k].lo != k + 1 || p->h[k].hi != k + 1)
			return false;
	return true;
}

bool obf_params_is_key(const char *key)
{
	return find_key(key) != NULL;
}

static uint32_t max_prefix(int k)
{
	uint32_t m = 65535 - msg_size[k];
	return m < OBF_MAX_PREFIX ? m : OBF_MAX_PREFIX;
}

static int set_number(const char *key, const char *value, uint32_t max, const char *what, const char *why,
                      uint32_t *out, char *err, size_t errlen)
{
	char q[QUOTE_BUF];
	int rc = parse_dec(value, strlen(value), max, out);
	if (rc == NUM_OK)
		return 0;
	seterr(err, errlen, "%s: %s: %s (expected %s 0..%" PRIu32 "%s)", key, text_quote(q, QUOTE_MAX, value, strlen(value)),
	       rc == NUM_BIG ? "too large" : "not a decimal number", what, max, why);
	return -EINVAL;
}

static int set_range(const char *key, const char *value, struct obf_range *out, char *err, size_t errlen)
{
	char q[QUOTE_BUF];
	const char *s = value, *dash = strchr(value, '-');
	size_t len = strlen(value);
	const char *a = s, *b = NULL;
	size_t alen = dash ? (size_t)(dash - s) : len, blen = 0;
	if (dash) {
		b = dash + 1;
		blen = len - alen - 1;
		trim(&b, &blen);
	}
	trim(&a, &alen);
	struct obf_range r;
	int rc = parse_dec(a, alen, UINT32_MAX, &r.lo);
	if (rc == NUM_OK && dash)
		rc = parse_dec(b, blen, UINT32_MAX, &r.hi);
	else
		r.hi = r.lo;
	if (rc != NUM_OK) {
		seterr(err, errlen, "%s: %s: %s (" H_EXPECTED ")", key, text_quote(q, QUOTE_MAX, value, len),
		       rc == NUM_BIG ? "number too large" : "not a decimal number or range");
		return -EINVAL;
	}
	if (r.lo > r.hi) {
		seterr(err, errlen, "%s: %s: range start must not exceed its end (" H_EXPECTED ")", key,
		       text_quote(q, QUOTE_MAX, value, len));
		return -EINVAL;
	}
	*out = r;
	return 0;
}

static int set_template(struct obf_params *p, int k, const char *key, const char *value, char *err, size_t errlen)
{
	const char *v = value;
	size_t n = strnlen(value, OBF_MAX_TEMPLATE_TEXT + 1), vlen = n;
	trim(&v, &vlen);
	if (!vlen && n <= OBF_MAX_TEMPLATE_TEXT) { /* empty = unset (amneziawg-go 1cc9427) */
		obf_template_free(p->i[k]);
		mem_free(p->i_text[k]);
		p->i[k] = NULL;
		p->i_text[k] = NULL;
		return 0;
	}
	char msg[QUOTE_BUF + 256];
	struct obf_template *t;
	int rc = obf_template_parse(value, &t, msg, sizeof(msg));
	if (rc < 0) {
		seterr(err, errlen, "%s: %s", key, msg);
		return rc;
	}
	char *text = mem_alloc(vlen + 1);
	if (!text) {
		obf_template_free(t);
		seterr(err, errlen, "%s: out of memory", key);
		return -ENOMEM;
	}
	memcpy(text, v, vlen);
	text[vlen] = '\0';
	obf_template_free(p->i[k]);
	mem_free(p->i_text[k]);
	p->i[k] = t;
	p->i_text[k] = text;
	return 0;
}

int obf_params_set(struct obf_params *p, const char *key, const char *value, char *err, size_t errlen)
{
	char q[QUOTE_BUF];
	const struct keydef *d = find_key(key);
	if (!d) {
		seterr(err, errlen,
		       "%s: unknown key (expected jc, jmin, jmax, s1..s4, h1..h4, i1..i5, or the ignored j1..j3, itime)",
		       text_quote(q, QUOTE_MAX, key, strlen(key)));
		return -EINVAL;
	}
	switch (d->kind) {
	case KEY_JC:
		return set_number(key, value, OBF_MAX_JC, "a junk packet count", "", &p->jc, err, errlen);
	case KEY_JMIN:
		return set_number(key, value, OBF_MAX_JUNK, "a junk size", "", &p->jmin, err, errlen);
	case KEY_JMAX:
		return set_number(key, value, OBF_MAX_JUNK, "a junk size", "", &p->jmax, err, errlen);
	case KEY_S:
		return set_number(key, value, max_prefix(d->idx), "a prefix length",
		                  ", so that the datagram fits in 65535 bytes", &p->s[d->idx], err, errlen);
	case KEY_H:
		return set_range(key, value, &p->h[d->idx], err, errlen);
	case KEY_I:
		return set_template(p, d->idx, key, value, err, errlen);
	default: /* AWG 1.5 only, removed in 2.0 */
		return 0;
	}
}

static void format_range(char *buf, size_t cap, struct obf_range r)
{
	if (r.lo == r.hi)
		snprintf(buf, cap, "%" PRIu32, r.lo);
	else
		snprintf(buf, cap, "%" PRIu32 "-%" PRIu32, r.lo, r.hi);
}

int obf_params_validate(const struct obf_params *p, char *err, size_t errlen)
{
	char a[32], b[32];
	if (p->jc > OBF_MAX_JC) {
		seterr(err, errlen, "jc: \"%" PRIu32 "\": too many junk packets (expected 0..%d)", p->jc, OBF_MAX_JC);
		return -EINVAL;
	}
	if (p->jmax > OBF_MAX_JUNK) {
		seterr(err, errlen, "jmax: \"%" PRIu32 "\": too large (expected a junk size 0..%d)", p->jmax, OBF_MAX_JUNK);
		return -EINVAL;
	}
	if (p->jmin > p->jmax) {
		seterr(err, errlen, "jmin: \"%" PRIu32 "\": must not exceed jmax \"%" PRIu32 "\" (expected jmin <= jmax)",
		       p->jmin, p->jmax);
		return -EINVAL;
	}
	for (int k = 0; k < 4; k++) {
		if (p->s[k] > max_prefix(k)) {
			seterr(err, errlen,
			       "s%d: \"%" PRIu32 "\": %s would exceed 65535 bytes (expected a prefix length 0..%" PRIu32 ")",
			       k + 1, p->s[k], msg_noun[k], max_prefix(k));
			return -EINVAL;
		}
	}
	for (int k = 0; k < 4; k++) {
		if (p->h[k].lo > p->h[k].hi) {
			seterr(err, errlen,
			       "h%d: \"%" PRIu32 "-%" PRIu32 "\": range start must not exceed its end (" H_EXPECTED ")",
			       k + 1, p->h[k].lo, p->h[k].hi);
			return -EINVAL;
		}
	}
	for (int j = 1; j < 4; j++) {
		for (int k = 0; k < j; k++) {
			if (p->h[k].lo <= p->h[j].hi && p->h[j].lo <= p->h[k].hi) {
				format_range(a, sizeof(a), p->h[j]);
				format_range(b, sizeof(b), p->h[k]);
				seterr(err, errlen,
				       "h%d: \"%s\": overlaps h%d \"%s\" (expected four pairwise disjoint values or "
				       "ranges; unset ones are 1, 2, 3 and 4)",
				       j + 1, a, k + 1, b);
				return -EINVAL;
			}
		}
	}
	/* At equal sizes the kind classified first (the bigger message, so the
	 * smaller S) reads its header inside the other kind's random prefix. */
	for (int j = 1; j < 4; j++) {
		for (int k = 0; k < j; k++) {
			uint32_t sj = msg_size[j] + p->s[j], sk = msg_size[k] + p->s[k];
			if (sj == sk) {
				seterr(err, errlen,
				       "s%d: \"%" PRIu32 "\": %s (%" PRIu32 "+s%d) would be %" PRIu32
				       " bytes like %s (%" PRIu32 "+s%d), so the two could not be told apart "
				       "(expected 148+s1, 92+s2, 64+s3 and 32+s4 to differ)",
				       j + 1, p->s[j], msg_name[j], msg_size[j], j + 1, sj, msg_name[k], msg_size[k], k + 1);
				return -EINVAL;
			}
		}
	}
	for (int k = 0; k < OBF_TEMPLATES; k++) {
		if (!p->i[k] != !p->i_text[k]) {
			seterr(err, errlen, "i%d: template and its text disagree (expected both set or both unset)", k + 1);
			return -EINVAL;
		}
	}
	return 0;
}

int obf_params_format_value(const struct obf_params *p, const char *key, char *buf, size_t cap)
{
	const struct keydef *d = find_key(key);
	int n;
	if (!d || d->kind == KEY_IGNORED)
		return -EINVAL;
	switch (d->kind) {
	case KEY_JC:
		n = snprintf(buf, cap, "%" PRIu32, p->jc);
		break;
	case KEY_JMIN:
		n = snprintf(buf, cap, "%" PRIu32, p->jmin);
		break;
	case KEY_JMAX:
		n = snprintf(buf, cap, "%" PRIu32, p->jmax);
		break;
	case KEY_S:
		n = snprintf(buf, cap, "%" PRIu32, p->s[d->idx]);
		break;
	case KEY_H:
		if (p->h[d->idx].lo == p->h[d->idx].hi)
			n = snprintf(buf, cap, "%" PRIu32, p->h[d->idx].lo);
		else
			n = snprintf(buf, cap, "%" PRIu32 "-%" PRIu32, p->h[d->idx].lo, p->h[d->idx].hi);
		break;
	default:
		n = snprintf(buf, cap, "%s", p->i_text[d->idx] ? p->i_text[d->idx] : "");
		break;
	}
	if (n < 0 || (size_t)n >= cap)
		return -ENOSPC;
	return n;
}

int obf_params_format(const struct obf_params *p, char *buf, size_t cap)
{
	static const char *const order[] = {"jc", "jmin", "jmax", "s1", "s2", "s3", "s4", "h1", "h2",
	                                    "h3", "h4", "i1", "i2", "i3", "i4", "i5"};
	size_t o = 0;
	if (!cap)
		return -ENOSPC;
	buf[0] = '\0';
	for (size_t k = 0; k < sizeof(order) / sizeof(order[0]); k++) {
		const struct keydef *d = find_key(order[k]);
		bool set;
		switch (d->kind) {
		case KEY_JC: set = p->jc != 0; break;
		case KEY_JMIN: set = p->jmin != 0; break;
		case KEY_JMAX: set = p->jmax != 0; break;
		case KEY_S: set = p->s[d->idx] != 0; break;
		case KEY_H: set = true; break;
		default: set = p->i_text[d->idx] != NULL; break;
		}
		if (!set)
			continue;
		size_t klen = strlen(d->name);
		if (cap - o < klen + 3) /* "k=" + at least "\n" and NUL */
			return -ENOSPC;
		memcpy(buf + o, d->name, klen);
		buf[o + klen] = '=';
		o += klen + 1;
		int n = obf_params_format_value(p, d->name, buf + o, cap - o);
		if (n < 0 || cap - o - (size_t)n < 2)
			return -ENOSPC;
		o += (size_t)n;
		buf[o++] = '\n';
		buf[o] = '\0';
	}
	return (int)o;
}

/* ---- classification and send side (§2.3, §2.4) --------------------------- */

static bool in_range(struct obf_range r, uint32_t v)
{
	return v >= r.lo && v <= r.hi;
}

int obf_classify(const struct obf_params *p, const uint8_t *pkt, size_t len, size_t *prefix_len)
{
	*prefix_len = 0;
	for (int k = 0; k < 3; k++) {
		size_t s = p->s[k];
		if (len == s + msg_size[k] && in_range(p->h[k], le32_read(pkt + s))) {
			*prefix_len = s;
			return k + 1;
		}
	}
	size_t s = p->s[3];
	if (len >= s + MSG_DATA_MIN_LEN && in_range(p->h[3], le32_read(pkt + s))) {
		*prefix_len = s;
		return MSG_DATA;
	}
	return MSG_INVALID;
}

/* Uniform in [lo, hi]; rng_uniform cannot take a bound of 2^32. */
static uint32_t uniform_between(uint32_t lo, uint32_t hi)
{
	if (lo >= hi)
		return lo;
	if (lo == 0 && hi == UINT32_MAX)
		return rng_u32();
	return lo + rng_uniform(hi - lo + 1);
}

uint32_t obf_header_value(const struct obf_params *p, int type)
{
	if (type < MSG_INITIATION || type > MSG_DATA)
		return 0;
	return uniform_between(p->h[type - 1].lo, p->h[type - 1].hi);
}

void obf_fill_random(uint8_t *dst, size_t len)
{
	rng_bytes(dst, len);
}

uint32_t obf_junk_count(const struct obf_params *p)
{
	return p->jmax ? p->jc : 0;
}

uint32_t obf_junk_len(const struct obf_params *p)
{
	return uniform_between(p->jmin, p->jmax);
}

/* ---- generator ------------------------------------------------------------ */

#define GEN_H_MIN 5u
#define GEN_H_MAX 0x7fffffffu

static void generate_once(struct obf_params *p)
{
	p->jc = uniform_between(3, 8);
	p->jmin = uniform_between(40, 50);
	p->jmax = uniform_between(p->jmin + 10, 70);
	p->s[0] = uniform_between(12, 64);
	p->s[1] = uniform_between(12, 64);
	p->s[2] = uniform_between(12, 64);
	p->s[3] = uniform_between(12, 32);

	/* Eight distinct cut points, sorted, paired into four disjoint ranges,
	 * dealt to H1..H4 in random order. */
	uint32_t v[8];
	for (int k = 0; k < 8; k++) {
		bool dup;
		do {
			v[k] = uniform_between(GEN_H_MIN, GEN_H_MAX);
			dup = false;
			for (int j = 0; j < k; j++)
				dup |= v[j] == v[k];
		} while (dup);
	}
	for (int k = 1; k < 8; k++)
		for (int j = k; j > 0 && v[j - 1] > v[j]; j--) {
			uint32_t t = v[j];
			v[j] = v[j - 1];
			v[j - 1] = t;
		}
	int order[4] = {0, 1, 2, 3};
	for (int k = 3; k > 0; k--) {
		int j = (int)randombytes_uniform((uint32_t)k + 1), t = order[k];
		order[k] = order[j];
		order[j] = t;
	}
	for (int k = 0; k < 4; k++) {
		p->h[k].lo = v[2 * order[k]];
		p->h[k].hi = v[2 * order[k] + 1];
	}
}

/* Beyond validity: a data packet is S4 + 32 + 16n bytes (padding to 16), so
 * keep the handshake sizes off that lattice and data is never misrouted. */
static bool avoids_data_sizes(const struct obf_params *p)
{
	uint32_t data = MSG_DATA_MIN_LEN + p->s[3];
	for (int k = 0; k < 3; k++)
		if ((msg_size[k] + p->s[k] - data) % MSG_PADDING_MULTIPLE == 0)
			return false;
	return true;
}

int obf_params_generate(struct obf_params *p)
{
	obf_params_fini(p);
	for (int attempt = 0; attempt < 1000; attempt++) {
		generate_once(p);
		if (avoids_data_sizes(p) && obf_params_validate(p, NULL, 0) == 0)
			return 0;
	}
	obf_params_init(p);
	return ERR_BADSTATE;
}
