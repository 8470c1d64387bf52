/* wg/awg configuration files <-> UAPI text (specs/awg.md §3). The parser
 * keeps one [Peer] at a time: when the next section starts (or at the end)
 * that peer is checked and written out as UAPI lines, so memory grows with
 * the output, never with a parse tree. Device lines are written at the end
 * because an [Interface] may follow the peers in a file while UAPI wants
 * device keys before the first public_key. */
#include "awg/conf.h"

#include <errno.h>
#include <inttypes.h>
#include <sodium.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "awg/messages.h"
#include "awg/obf.h"
#include "lib/addr.h"
#include "lib/buf.h"
#include "lib/enc.h"
#include "lib/mem.h"
#include "lib/text.h"

#define MAX_PEERS MAX_PEERS_PER_DEVICE
#define MAX_ALLOWED_IPS (1u << 22)
#define MAX_EXTRAS 1024
#define PEERS_MAX_BYTES ((size_t)512 << 20)
#define AIPS_MAX_BYTES ((size_t)64 << 20)
#define QUOTE_MAX 72
#define QUOTE_BUF TEXT_QUOTE_BUF(QUOTE_MAX)
#define KEY_EXPECTED "expected a 32-byte key in base64: 44 characters ending in '=', as wg genkey prints"
#define AIP_EXPECTED "expected ADDR/PREFIX or ADDR, e.g. 10.0.0.2/32, fd00::/64"
#define EP_EXPECTED \
	"expected IPv4:PORT or [IPv6]:PORT with a numeric address and port 0..65535; names are not resolved here"

/* The AWG keys in UAPI order, with their config-file spelling. */
#define AWG_KEYS 16
static const char *const awg_uapi[AWG_KEYS] = {"jc", "jmin", "jmax", "s1", "s2", "s3", "s4", "h1",
                                               "h2", "h3", "h4", "i1", "i2", "i3", "i4", "i5"};
static const char *const awg_conf[AWG_KEYS] = {"Jc", "Jmin", "Jmax", "S1", "S2", "S3", "S4", "H1",
                                               "H2", "H3", "H4", "I1", "I2", "I3", "I4", "I5"};

static const char *const quick_keys[] = {"Address", "DNS",      "MTU",     "Table",     "PreUp",
                                         "PostUp",  "PreDown",  "PostDown", "SaveConfig"};

enum section { SEC_NONE, SEC_INTERFACE, SEC_PEER };

struct peer {
	unsigned line; /* of its [Peer] header */
	bool has_pub, has_psk, has_endpoint, has_keepalive;
	uint8_t pub[32], psk[32];
	char endpoint[ENDPOINT_STRLEN];
	uint16_t keepalive;
	struct buf aips; /* "allowed_ip=...\n" lines */
};

struct conf_state {
	unsigned flags;
	int failed;
	bool finished;
	enum section sec;
	bool has_priv, has_port, has_fwmark;
	uint8_t priv[32];
	uint16_t port;
	uint32_t fwmark;
	struct obf_params obf;
	unsigned awg_line[AWG_KEYS];              /* 0: not in the file */
	char awg_text[AWG_KEYS][QUOTE_MAX + 1];   /* start of that line, for later errors */
	bool in_peer;
	struct peer peer;
	size_t npeers, naips;
	struct buf peers; /* finished peers as UAPI lines */
	struct conf_extra *extras;
	size_t nextras;
};

/* ---- messages -------------------------------------------------------------------- */


/* Records the failure (sticky) as "line N: "shown": message". */
static int fail(struct conf *c, unsigned line, const char *shown, size_t shownlen, int rc, const char *fmt, ...)
	__attribute__((format(printf, 6, 7)));
static int fail(struct conf *c, unsigned line, const char *shown, size_t shownlen, int rc, const char *fmt, ...)
{
	char q[QUOTE_BUF];
	int n = 0;
	if (line && shown)
		n = snprintf(c->err, sizeof(c->err), "line %u: %s: ", line, text_quote(q, QUOTE_MAX, shown, shownlen));
	else if (line)
		n = snprintf(c->err, sizeof(c->err), "line %u: ", line);
	if (n < 0 || (size_t)n >= sizeof(c->err))
		n = 0;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(c->err + n, sizeof(c->err) - (size_t)n, fmt, ap);
	va_end(ap);
	if (c->st)
		c->st->failed = rc;
	return rc;
}

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

/* ---- small parsers ----------------------------------------------------------- */

static bool is_blank(char ch)
{
	return ch == ' ' || ch == '\t';
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

/* Strict decimal, digits only, <= max. */
static bool parse_dec(const char *s, uint64_t max, uint64_t *out)
{
	uint64_t v = 0;
	if (!*s)
		return false;
	for (; *s; s++) {
		if (*s < '0' || *s > '9')
			return false;
		v = v * 10 + (uint64_t)(*s - '0');
		if (v > max)
			return false;
	}
	*out = v;
	return true;
}

static bool parse_hex32(const char *s, uint32_t *out)
{
	uint64_t v = 0;
	if (!*s)
		return false;
	for (; *s; s++) {
		int d = *s >= '0' && *s <= '9' ? *s - '0'
		        : *s >= 'a' && *s <= 'f' ? *s - 'a' + 10
		        : *s >= 'A' && *s <= 'F' ? *s - 'A' + 10 : -1;
		if (d < 0)
			return false;
		v = v << 4 | (uint64_t)d;
		if (v > UINT32_MAX)
			return false;
	}
	*out = (uint32_t)v;
	return true;
}

static int awg_index(const char *uapi_key)
{
	for (int k = 0; k < AWG_KEYS; k++)
		if (!strcmp(awg_uapi[k], uapi_key))
			return k;
	return -1;
}

/* Whether AWG key k holds something worth writing out: I-templates when set,
 * H when not its default (with_defaults false), the rest when non-zero. */
static bool awg_is_set(const struct obf_params *p, int k, bool with_defaults)
{
	if (k < 3)
		return (k == 0 ? p->jc : k == 1 ? p->jmin : p->jmax) != 0;
	if (k < 7)
		return p->s[k - 3] != 0;
	if (k < 11)
		return with_defaults || p->h[k - 7].lo != (uint32_t)(k - 6) || p->h[k - 7].hi != (uint32_t)(k - 6);
	return p->i_text[k - 11] != NULL;
}

/* The text of AWG key k: the template source, or a number/range in small. */
static const char *awg_value(const struct obf_params *p, int k, char small[32])
{
	if (k >= 11)
		return p->i_text[k - 11] ? p->i_text[k - 11] : "";
	if (obf_params_format_value(p, awg_uapi[k], small, 32) < 0)
		small[0] = '\0';
	return small;
}

/* ---- lifecycle ---------------------------------------------------------------- */

static void peer_reset(struct peer *p)
{
	buf_fini(&p->aips);
	sodium_memzero(p, sizeof(*p));
	buf_init(&p->aips, AIPS_MAX_BYTES);
}

int conf_init(struct conf *c, unsigned flags)
{
	c->line = 0;
	c->err[0] = '\0';
	c->st = mem_zalloc(sizeof(*c->st));
	if (!c->st) {
		snprintf(c->err, sizeof(c->err), "out of memory");
		return -ENOMEM;
	}
	c->st->flags = flags;
	obf_params_init(&c->st->obf);
	buf_init(&c->st->peer.aips, AIPS_MAX_BYTES);
	buf_init(&c->st->peers, PEERS_MAX_BYTES);
	return 0;
}

void conf_fini(struct conf *c)
{
	struct conf_state *st = c->st;
	if (!st)
		return;
	obf_params_fini(&st->obf);
	buf_fini(&st->peer.aips);
	buf_fini_secret(&st->peers);
	for (size_t i = 0; i < st->nextras; i++)
		mem_free((char *)st->extras[i].value);
	mem_free(st->extras);
	mem_free_secret(st, sizeof(*st));
	c->st = NULL;
}

const char *conf_error(const struct conf *c)
{
	return c->err;
}

size_t conf_extra_count(const struct conf *c)
{
	return c->st ? c->st->nextras : 0;
}

const struct conf_extra *conf_extra(const struct conf *c, size_t i)
{
	return c->st && i < c->st->nextras ? &c->st->extras[i] : NULL;
}

/* ---- sections ---------------------------------------------------------------- */

/* Checks the [Peer] being read and appends its UAPI lines to st->peers. */
static int end_peer(struct conf *c)
{
	struct conf_state *st = c->st;
	struct peer *p = &st->peer;
	char hex[ENC_KEY_HEX_LEN];
	int rc = 0;
	if (!st->in_peer)
		return 0;
	st->in_peer = false;
	if (!p->has_pub) {
		rc = fail(c, p->line, "[Peer]", 6, -EINVAL,
		          "section has no PublicKey (expected PublicKey = <base64 key> in every [Peer])");
		goto out;
	}
	if (st->npeers >= MAX_PEERS) {
		rc = fail(c, p->line, "[Peer]", 6, ERR_TOOBIG, "more than %u peers", (unsigned)MAX_PEERS);
		goto out;
	}
	enc_key_to_hex(hex, p->pub);
	rc = buf_printf(&st->peers, "public_key=%s\n", hex);
	if (!rc && p->has_psk) {
		enc_key_to_hex(hex, p->psk);
		rc = buf_printf(&st->peers, "preshared_key=%s\n", hex);
	}
	if (!rc && p->has_endpoint)
		rc = buf_printf(&st->peers, "endpoint=%s\n", p->endpoint);
	if (!rc && p->has_keepalive)
		rc = buf_printf(&st->peers, "persistent_keepalive_interval=%u\n", (unsigned)p->keepalive);
	if (!rc)
		rc = buf_printf(&st->peers, "replace_allowed_ips=true\n");
	if (!rc)
		rc = buf_append(&st->peers, p->aips.data ? p->aips.data : (const uint8_t *)"", p->aips.len);
	if (rc < 0)
		rc = fail(c, p->line, "[Peer]", 6, rc, "%s", rc == -ENOMEM ? "out of memory" : "configuration too large");
	else
		st->npeers++;
out:
	sodium_memzero(hex, sizeof(hex));
	peer_reset(p);
	return rc;
}

static int section(struct conf *c, const char *line, size_t linelen, const char *s, size_t len)
{
	struct conf_state *st = c->st;
	if (len < 2 || s[len - 1] != ']')
		return fail(c, c->line, line, linelen, -EINVAL,
		            "section header is not closed (expected [Interface] or [Peer])");
	const char *name = s + 1;
	size_t nlen = len - 2;
	trim(&name, &nlen);
	enum section sec = SEC_NONE;
	if (nlen == 9 && !strncasecmp(name, "Interface", 9))
		sec = SEC_INTERFACE;
	else if (nlen == 4 && !strncasecmp(name, "Peer", 4))
		sec = SEC_PEER;
	else
		return fail(c, c->line, line, linelen, -EINVAL, "unknown section (expected [Interface] or [Peer])");
	int rc = end_peer(c);
	if (rc < 0)
		return rc;
	st->sec = sec;
	if (sec == SEC_PEER) {
		st->in_peer = true;
		st->peer.line = c->line;
	}
	return 0;
}

/* ---- keys ----------------------------------------------------------------------- */

/* What an error shows of a key line: the line, or "Key = <hidden>" for keys. */
struct shown {
	const char *s;
	size_t len;
	char hidden[48];
};

/* Any line that starts with a key name (PrivateKey, PresharedKey, in any
 * case) is shown as "Name = <hidden>" in messages, even when malformed. */
static void show_line_safely(struct shown *sh, const char *line, size_t len)
{
	static const char *const secret[] = {"PrivateKey", "PresharedKey"};
	const char *s = line;
	size_t n = len;
	sh->s = line;
	sh->len = len;
	trim(&s, &n);
	for (size_t i = 0; i < 2; i++) {
		size_t kl = strlen(secret[i]);
		if (n >= kl && !strncasecmp(s, secret[i], kl)) {
			snprintf(sh->hidden, sizeof(sh->hidden), "%.*s = <hidden>", (int)kl, s);
			sh->s = sh->hidden;
			sh->len = strlen(sh->hidden);
		}
	}
}

static int key_value(struct conf *c, const struct shown *sh, const char *name, const char *value, uint8_t key[32])
{
	if (enc_key_from_base64(key, value) < 0)
		return fail(c, c->line, sh->s, sh->len, -EINVAL, "%s is not a valid key (" KEY_EXPECTED ")", name);
	return 0;
}

static int add_allowed_ips(struct conf *c, const struct shown *sh, const char *value)
{
	struct conf_state *st = c->st;
	char q[QUOTE_BUF], text[CIDR_STRLEN];
	const char *p = value;
	for (;;) {
		const char *comma = strchr(p, ',');
		size_t len = comma ? (size_t)(comma - p) : strlen(p);
		const char *item = p;
		trim(&item, &len);
		if (len) {
			char one[CIDR_STRLEN + 8];
			struct cidr cidr;
			int rc = len < sizeof(one) ? 0 : -EINVAL;
			if (!rc) {
				memcpy(one, item, len);
				one[len] = '\0';
				rc = cidr_parse(one, &cidr);
			}
			if (rc < 0)
				return fail(c, c->line, sh->s, sh->len, -EINVAL, "%s is not %s (" AIP_EXPECTED ")",
				            text_quote(q, QUOTE_MAX, item, len),
				            rc == ERR_RANGE ? "a valid prefix: prefix length too long (/32 at most for IPv4, /128 for IPv6)"
				                            : "an IP address or prefix");
			if (st->naips >= MAX_ALLOWED_IPS)
				return fail(c, c->line, sh->s, sh->len, ERR_TOOBIG, "more than %u allowed IPs in one configuration",
				            MAX_ALLOWED_IPS);
			rc = cidr_format(&cidr, text, sizeof(text));
			if (rc >= 0)
				rc = buf_printf(&st->peer.aips, "allowed_ip=%s\n", text);
			if (rc < 0)
				return fail(c, c->line, sh->s, sh->len, rc, "%s",
				            rc == ERR_TOOBIG ? "too many allowed IPs for one peer" : "out of memory");
			st->naips++;
		}
		if (!comma)
			return 0;
		p = comma + 1;
	}
}

static int peer_key(struct conf *c, const struct shown *sh, const char *key, const char *value)
{
	struct peer *p = &c->st->peer;
	char q[QUOTE_BUF];
	uint64_t v;
	if (!strcasecmp(key, "PublicKey")) {
		int rc = key_value(c, sh, "PublicKey", value, p->pub);
		p->has_pub = rc == 0;
		return rc;
	}
	if (!strcasecmp(key, "PresharedKey")) {
		int rc = key_value(c, sh, "PresharedKey", value, p->psk);
		p->has_psk = rc == 0;
		return rc;
	}
	if (!strcasecmp(key, "AllowedIPs"))
		return add_allowed_ips(c, sh, value);
	if (!strcasecmp(key, "Endpoint")) {
		union endpoint ep;
		int rc = endpoint_parse(value, &ep);
		if (rc == 0 && endpoint_format(&ep, p->endpoint, sizeof(p->endpoint)) < 0)
			rc = -EINVAL;
		if (rc < 0)
			return fail(c, c->line, sh->s, sh->len, -EINVAL, "%s is not %s (" EP_EXPECTED ")",
			            text_quote(q, QUOTE_MAX, value, strlen(value)),
			            rc == -ENODEV ? "usable: its IPv6 scope names no interface" : "a numeric endpoint");
		p->has_endpoint = true;
		return 0;
	}
	if (!strcasecmp(key, "PersistentKeepalive")) {
		if (!strcasecmp(value, "off"))
			v = 0;
		else if (!parse_dec(value, 65535, &v))
			return fail(c, c->line, sh->s, sh->len, -EINVAL,
			            "%s is not a keepalive interval (expected seconds 0..65535, or off)",
			            text_quote(q, QUOTE_MAX, value, strlen(value)));
		p->keepalive = (uint16_t)v;
		p->has_keepalive = true;
		return 0;
	}
	return fail(c, c->line, sh->s, sh->len, -EINVAL,
	            "unknown key in [Peer] (expected PublicKey, PresharedKey, AllowedIPs, Endpoint or PersistentKeepalive)");
}

static int interface_key(struct conf *c, const struct shown *sh, const char *key, char *value)
{
	struct conf_state *st = c->st;
	char q[QUOTE_BUF];
	uint64_t v;
	if (!strcasecmp(key, "PrivateKey")) {
		int rc = key_value(c, sh, "PrivateKey", value, st->priv);
		st->has_priv = rc == 0;
		return rc;
	}
	if (!strcasecmp(key, "ListenPort")) {
		if (!parse_dec(value, 65535, &v))
			return fail(c, c->line, sh->s, sh->len, -EINVAL, "%s is not a port (expected 0..65535)",
			            text_quote(q, QUOTE_MAX, value, strlen(value)));
		st->port = (uint16_t)v;
		st->has_port = true;
		return 0;
	}
	if (!strcasecmp(key, "FwMark")) {
		uint32_t m = 0;
		bool ok;
		if (!strcasecmp(value, "off"))
			ok = true;
		else if (value[0] == '0' && (value[1] == 'x' || value[1] == 'X'))
			ok = parse_hex32(value + 2, &m);
		else if ((ok = parse_dec(value, UINT32_MAX, &v)))
			m = (uint32_t)v;
		if (!ok)
			return fail(c, c->line, sh->s, sh->len, -EINVAL,
			            "%s is not a firewall mark (expected 0..4294967295, 0x0..0xffffffff, or off)",
			            text_quote(q, QUOTE_MAX, value, strlen(value)));
		st->fwmark = m;
		st->has_fwmark = true;
		return 0;
	}
	char lower[8];
	size_t klen = strlen(key);
	if (klen < sizeof(lower)) {
		for (size_t i = 0; i <= klen; i++)
			lower[i] = (char)(key[i] >= 'A' && key[i] <= 'Z' ? key[i] - 'A' + 'a' : key[i]);
		if (obf_params_is_key(lower)) {
			char msg[CONF_ERR_LEN];
			int rc = obf_params_set(&st->obf, lower, value, msg, sizeof(msg));
			if (rc < 0)
				return fail(c, c->line, sh->s, sh->len, rc, "%s", msg);
			int k = awg_index(lower);
			if (k >= 0) {
				size_t n = sh->len < QUOTE_MAX ? sh->len : QUOTE_MAX;
				memcpy(st->awg_text[k], sh->s, n);
				st->awg_text[k][n] = '\0';
				st->awg_line[k] = c->line;
			}
			return 0;
		}
	}
	for (size_t k = 0; k < sizeof(quick_keys) / sizeof(quick_keys[0]); k++) {
		if (strcasecmp(key, quick_keys[k]))
			continue;
		if (st->nextras >= MAX_EXTRAS)
			return fail(c, c->line, sh->s, sh->len, ERR_TOOBIG, "more than %d wg-quick lines", MAX_EXTRAS);
		if (!(st->nextras & (st->nextras - 1))) { /* 0, 1, 2, 4, ...: grow */
			size_t ncap = st->nextras ? st->nextras * 2 : 1;
			struct conf_extra *ne = mem_realloc(st->extras, ncap * sizeof(*ne));
			if (!ne)
				return fail(c, c->line, sh->s, sh->len, -ENOMEM, "out of memory");
			st->extras = ne;
		}
		st->extras[st->nextras++] = (struct conf_extra){quick_keys[k], value, c->line};
		return 1; /* took value */
	}
	return fail(c, c->line, sh->s, sh->len, -EINVAL,
	            "unknown key in [Interface] (expected PrivateKey, ListenPort, FwMark, Jc, Jmin, Jmax, S1-S4, "
	            "H1-H4, I1-I5, or wg-quick's Address, DNS, MTU, Table, PreUp, PostUp, PreDown, PostDown, SaveConfig)");
}

int conf_line(struct conf *c, const char *line)
{
	struct conf_state *st = c->st;
	if (!st)
		return -EINVAL;
	if (st->failed)
		return st->failed;
	if (st->finished)
		return fail(c, 0, NULL, 0, -EINVAL, "conf_line after conf_finish");
	c->line++;
	size_t len = strnlen(line, CONF_MAX_LINE + 2);
	if (len && line[len - 1] == '\n')
		len--;
	if (len && line[len - 1] == '\r')
		len--;
	struct shown sh;
	show_line_safely(&sh, line, len);
	if (len > CONF_MAX_LINE)
		return fail(c, c->line, sh.s, sh.len, ERR_TOOBIG, "line longer than %d characters", CONF_MAX_LINE);
	for (size_t i = 0; i < len; i++) {
		unsigned char ch = (unsigned char)line[i];
		if ((ch < 0x20 && ch != '\t') || ch == 0x7f)
			return fail(c, c->line, sh.s, sh.len, -EINVAL,
			            "control character at column %zu (expected printable text, one line per call)", i + 1);
	}
	const char *hash = memchr(line, '#', len);
	if (hash)
		len = (size_t)(hash - line);
	const char *s = line;
	trim(&s, &len);
	if (!len)
		return 0;
	if (s[0] == '[')
		return section(c, sh.s, sh.len, s, len);

	const char *eq = memchr(s, '=', len);
	if (!eq)
		return fail(c, c->line, sh.s, sh.len, -EINVAL,
		            "not a setting (expected Key = Value, a [Section] header, a # comment or a blank line)");
	const char *k = s, *v = eq + 1;
	size_t klen = (size_t)(eq - s), vlen = len - klen - 1;
	trim(&k, &klen);
	trim(&v, &vlen);
	char key[24];
	if (!klen || klen >= sizeof(key))
		return fail(c, c->line, sh.s, sh.len, -EINVAL, "no key before '=', or one too long to be a key (expected "
		            "Key = Value with a key such as PrivateKey, ListenPort, PublicKey or AllowedIPs)");
	memcpy(key, k, klen);
	key[klen] = '\0';
	if (st->sec == SEC_NONE)
		return fail(c, c->line, sh.s, sh.len, -EINVAL,
		            "setting outside a section (expected [Interface] or [Peer] before it)");

	char *value = mem_alloc(vlen + 1);
	if (!value)
		return fail(c, c->line, sh.s, sh.len, -ENOMEM, "out of memory");
	memcpy(value, v, vlen);
	value[vlen] = '\0';
	int rc = st->sec == SEC_PEER ? peer_key(c, &sh, key, value) : interface_key(c, &sh, key, value);
	if (rc == 1)
		return 0; /* value now owned by an extra */
	mem_free_secret(value, vlen + 1);
	return rc;
}

/* ---- output -------------------------------------------------------------------- */

/* Cross-key AWG errors name a key first ("h2: ..."): point at its line, or at
 * the last AWG line of the file when that key kept its default. */
static int awg_fail(struct conf *c, int rc, const char *msg)
{
	struct conf_state *st = c->st;
	char name[8] = "";
	const char *colon = strchr(msg, ':');
	if (colon && (size_t)(colon - msg) < sizeof(name)) {
		memcpy(name, msg, (size_t)(colon - msg));
		name[colon - msg] = '\0';
	}
	int k = awg_index(name);
	if (k < 0 || !st->awg_line[k]) {
		k = -1;
		for (int j = 0; j < AWG_KEYS; j++)
			if (st->awg_line[j] && (k < 0 || st->awg_line[j] > st->awg_line[k]))
				k = j;
	}
	if (k < 0)
		return fail(c, 0, NULL, 0, rc, "%s", msg);
	return fail(c, st->awg_line[k], st->awg_text[k], strlen(st->awg_text[k]), rc, "%s", msg);
}

int conf_finish(struct conf *c, struct buf *out)
{
	struct conf_state *st = c->st;
	char hex[ENC_KEY_HEX_LEN], small[32], msg[CONF_ERR_LEN];
	if (!st)
		return -EINVAL;
	if (st->failed)
		return st->failed;
	if (st->finished)
		return fail(c, 0, NULL, 0, -EINVAL, "conf_finish called twice");
	st->finished = true;
	int rc = end_peer(c);
	if (rc < 0)
		return rc;
	rc = obf_params_validate(&st->obf, msg, sizeof(msg));
	if (rc < 0)
		return awg_fail(c, rc, msg);

	if (st->has_priv) {
		enc_key_to_hex(hex, st->priv);
		rc = buf_printf(out, "private_key=%s\n", hex);
		sodium_memzero(hex, sizeof(hex));
	}
	if (!rc && st->has_port)
		rc = buf_printf(out, "listen_port=%u\n", (unsigned)st->port);
	if (!rc && st->has_fwmark)
		rc = buf_printf(out, "fwmark=%" PRIu32 "\n", st->fwmark);
	/* Only the AWG keys the file names; empty I-values (unset) are not sent,
	 * as awg(8) does, so older daemons that reject "i2=" keep working. */
	for (int k = 0; k < AWG_KEYS && !rc; k++)
		if (st->awg_line[k] && (k < 11 || st->obf.i_text[k - 11]))
			rc = buf_printf(out, "%s=%s\n", awg_uapi[k], awg_value(&st->obf, k, small));
	if (!rc && (st->flags & CONF_REPLACE_PEERS))
		rc = buf_printf(out, "replace_peers=true\n");
	if (!rc)
		rc = buf_append(out, st->peers.data ? st->peers.data : (const uint8_t *)"", st->peers.len);
	if (rc < 0)
		return fail(c, 0, NULL, 0, rc, "%s", rc == -ENOMEM ? "out of memory" : "output buffer too small");
	return 0;
}

/* ---- showconf --------------------------------------------------------------------- */

struct show {
	struct buf *out;
	bool iface_done, in_peer;
	bool has_priv, has_psk, has_endpoint;
	uint8_t priv[32], pub[32], psk[32];
	uint32_t port, fwmark, keepalive;
	struct obf_params obf;
	char endpoint[ENDPOINT_STRLEN];
	struct buf aips;   /* "AllowedIPs = a, b, c" lines, without the last newline */
	size_t aips_line;  /* length of the last of them */
};

static int show_interface(struct show *sh)
{
	char b64[ENC_KEY_BASE64_LEN], small[32];
	int rc = buf_printf(sh->out, "[Interface]\n");
	sh->iface_done = true;
	if (!rc && sh->has_priv) {
		enc_key_to_base64(b64, sh->priv);
		rc = buf_printf(sh->out, "PrivateKey = %s\n", b64);
		sodium_memzero(b64, sizeof(b64));
	}
	if (!rc && sh->port)
		rc = buf_printf(sh->out, "ListenPort = %" PRIu32 "\n", sh->port);
	if (!rc && sh->fwmark)
		rc = buf_printf(sh->out, "FwMark = 0x%" PRIx32 "\n", sh->fwmark);
	for (int k = 0; k < AWG_KEYS && !rc; k++)
		if (awg_is_set(&sh->obf, k, false))
			rc = buf_printf(sh->out, "%s = %s\n", awg_conf[k], awg_value(&sh->obf, k, small));
	return rc;
}

static int show_peer(struct show *sh)
{
	char b64[ENC_KEY_BASE64_LEN];
	enc_key_to_base64(b64, sh->pub);
	int rc = buf_printf(sh->out, "\n[Peer]\nPublicKey = %s\n", b64);
	if (!rc && sh->has_psk) {
		enc_key_to_base64(b64, sh->psk);
		rc = buf_printf(sh->out, "PresharedKey = %s\n", b64);
	}
	sodium_memzero(b64, sizeof(b64));
	if (!rc && sh->aips.len)
		rc = buf_printf(sh->out, "%s\n", (const char *)sh->aips.data);
	if (!rc && sh->has_endpoint)
		rc = buf_printf(sh->out, "Endpoint = %s\n", sh->endpoint);
	if (!rc && sh->keepalive)
		rc = buf_printf(sh->out, "PersistentKeepalive = %" PRIu32 "\n", sh->keepalive);
	sh->in_peer = false;
	sh->has_psk = sh->has_endpoint = false;
	sh->keepalive = 0;
	sodium_memzero(sh->psk, sizeof(sh->psk));
	buf_reset(&sh->aips);
	sh->aips_line = 0;
	return rc;
}

static bool all_zero(const uint8_t *k, size_t n)
{
	return sodium_is_zero(k, n);
}

/* One "key=value" line of a get reply. Returns 0, 1 at "errno=0" (end), or
 * a negative code with err set. */
static int show_line(struct show *sh, unsigned lineno, const char *key, char *value, char *err, size_t errlen)
{
	char q[QUOTE_BUF], text[CIDR_STRLEN];
	uint64_t v;
	int rc;
	if (!strcmp(key, "errno")) {
		if (!strcmp(value, "0"))
			return 1;
		seterr(err, errlen, "reply line %u: errno=%s: the daemon reported an error (expected errno=0)", lineno,
		       text_quote(q, QUOTE_MAX, value, strlen(value)));
		return ERR_PROTO;
	}
	if (!strcmp(key, "public_key")) {
		if (!sh->iface_done && (rc = show_interface(sh)) < 0)
			return rc;
		if (sh->in_peer && (rc = show_peer(sh)) < 0)
			return rc;
		if (enc_key_from_hex(sh->pub, value) < 0)
			goto bad_key;
		sh->in_peer = true;
		return 0;
	}
	if (!sh->in_peer) {
		if (!strcmp(key, "private_key")) {
			if (enc_key_from_hex(sh->priv, value) < 0)
				goto bad_key;
			sh->has_priv = true;
		} else if (!strcmp(key, "listen_port")) {
			if (!parse_dec(value, 65535, &v))
				goto bad_number;
			sh->port = (uint32_t)v;
		} else if (!strcmp(key, "fwmark")) {
			if (!parse_dec(value, UINT32_MAX, &v))
				goto bad_number;
			sh->fwmark = (uint32_t)v;
		} else if (obf_params_is_key(key)) {
			char msg[CONF_ERR_LEN];
			rc = obf_params_set(&sh->obf, key, value, msg, sizeof(msg));
			if (rc < 0) {
				seterr(err, errlen, "reply line %u: %s", lineno, msg);
				return rc;
			}
		}
		return 0;
	}
	if (!strcmp(key, "preshared_key")) {
		if (enc_key_from_hex(sh->psk, value) < 0)
			goto bad_key;
		sh->has_psk = !all_zero(sh->psk, sizeof(sh->psk));
	} else if (!strcmp(key, "endpoint")) {
		union endpoint ep;
		if (endpoint_parse(value, &ep) < 0 || endpoint_format(&ep, sh->endpoint, sizeof(sh->endpoint)) < 0) {
			seterr(err, errlen, "reply line %u: endpoint=%s: not an endpoint (" EP_EXPECTED ")", lineno,
			       text_quote(q, QUOTE_MAX, value, strlen(value)));
			return ERR_PARSE;
		}
		sh->has_endpoint = true;
	} else if (!strcmp(key, "persistent_keepalive_interval")) {
		if (!parse_dec(value, 65535, &v))
			goto bad_number;
		sh->keepalive = (uint32_t)v;
	} else if (!strcmp(key, "allowed_ip")) {
		struct cidr cidr;
		if (cidr_parse(value, &cidr) < 0 || cidr_format(&cidr, text, sizeof(text)) < 0) {
			seterr(err, errlen, "reply line %u: allowed_ip=%s: not a prefix (" AIP_EXPECTED ")", lineno,
			       text_quote(q, QUOTE_MAX, value, strlen(value)));
			return ERR_PARSE;
		}
		/* One AllowedIPs line per ~1000 characters (the key may repeat), so a
		 * peer with thousands of prefixes still gives lines conf_line takes. */
		bool fresh = !sh->aips.len || sh->aips_line > 1000;
		rc = buf_printf(&sh->aips, "%s%s", !sh->aips.len ? "AllowedIPs = " : fresh ? "\nAllowedIPs = " : ", ", text);
		if (rc < 0)
			return rc;
		sh->aips_line = fresh ? strlen(text) : sh->aips_line + 2 + strlen(text);
	}
	return 0;
bad_key:
	seterr(err, errlen, "reply line %u: %s: not a key (expected 64 hex digits)", lineno, key);
	return ERR_PARSE;
bad_number:
	seterr(err, errlen, "reply line %u: %s=%s: not a number in range (expected decimal 0..%s)", lineno, key,
	       text_quote(q, QUOTE_MAX, value, strlen(value)), !strcmp(key, "fwmark") ? "4294967295" : "65535");
	return ERR_PARSE;
}

int conf_from_uapi(const char *reply, size_t len, struct buf *out, char *err, size_t errlen)
{
	struct show sh;
	char q[QUOTE_BUF];
	int rc = 0;
	memset(&sh, 0, sizeof(sh));
	sh.out = out;
	obf_params_init(&sh.obf);
	buf_init(&sh.aips, AIPS_MAX_BYTES);
	size_t pos = 0;
	unsigned lineno = 0;
	while (pos < len) {
		const char *line = reply + pos, *nl = memchr(line, '\n', len - pos);
		size_t linelen = nl ? (size_t)(nl - line) : len - pos;
		pos += linelen + (nl ? 1 : 0);
		lineno++;
		if (!linelen)
			break;
		if (linelen > CONF_MAX_LINE) {
			seterr(err, errlen, "reply line %u: longer than %d characters", lineno, CONF_MAX_LINE);
			rc = ERR_TOOBIG;
			break;
		}
		const char *eq = memchr(line, '=', linelen);
		if (!eq || eq == line || memchr(line, '\0', linelen)) {
			seterr(err, errlen, "reply line %u: %s: expected key=value", lineno, text_quote(q, QUOTE_MAX, line, linelen));
			rc = ERR_PARSE;
			break;
		}
		char key[32];
		size_t klen = (size_t)(eq - line), vlen = linelen - klen - 1;
		if (klen >= sizeof(key))
			continue; /* no key we know is this long: skip, as wg does */
		memcpy(key, line, klen);
		key[klen] = '\0';
		char *value = mem_alloc(vlen + 1);
		if (!value) {
			seterr(err, errlen, "out of memory");
			rc = -ENOMEM;
			break;
		}
		memcpy(value, eq + 1, vlen);
		value[vlen] = '\0';
		rc = show_line(&sh, lineno, key, value, err, errlen);
		mem_free_secret(value, vlen + 1);
		if (rc == 1) {
			rc = 0;
			break;
		}
		if (rc < 0)
			break;
	}
	if (!rc && !sh.iface_done)
		rc = show_interface(&sh);
	if (!rc && sh.in_peer)
		rc = show_peer(&sh);
	if (rc == -ENOMEM || rc == ERR_TOOBIG)
		seterr(err, errlen, "%s", rc == -ENOMEM ? "out of memory" : "configuration too large for the output buffer");
	obf_params_fini(&sh.obf);
	buf_fini(&sh.aips);
	sodium_memzero(&sh, sizeof(sh));
	return rc;
}
