#include "reality/tls13_msg.h"

#include <errno.h>
#include <string.h>

#include <openssl/crypto.h>

/* Largest number of key shares we check for repeated groups. A client has no
 * reason to send more than a handful (Chrome sends three). */
#define MAX_KEY_SHARES 64

/* ---- bounded reader over one message; offsets count from the message start ---- */

struct rd {
	const uint8_t *m;
	size_t pos, end;
};

static bool rd_u8(struct rd *r, uint8_t *v)
{
	if (r->end - r->pos < 1)
		return false;
	*v = r->m[r->pos++];
	return true;
}

static bool rd_u16(struct rd *r, uint16_t *v)
{
	if (r->end - r->pos < 2)
		return false;
	*v = tls_get_u16(r->m + r->pos);
	r->pos += 2;
	return true;
}

static bool rd_u32(struct rd *r, uint32_t *v)
{
	if (r->end - r->pos < 4)
		return false;
	*v = (uint32_t)tls_get_u16(r->m + r->pos) << 16 | tls_get_u16(r->m + r->pos + 2);
	r->pos += 4;
	return true;
}

static bool rd_skip(struct rd *r, size_t n)
{
	if (r->end - r->pos < n)
		return false;
	r->pos += n;
	return true;
}

/* A vector with a width-byte length prefix whose length lies in [min, max]:
 * *off / *len locate its content, and the reader moves past it. */
static bool rd_vec(struct rd *r, unsigned width, size_t min, size_t max, size_t *off, size_t *len)
{
	size_t n;

	if (r->end - r->pos < width)
		return false;
	n = width == 1 ? r->m[r->pos] : width == 2 ? tls_get_u16(r->m + r->pos) : tls_get_u24(r->m + r->pos);
	r->pos += width;
	if (n < min || n > max || r->end - r->pos < n)
		return false;
	*off = r->pos;
	*len = n;
	r->pos += n;
	return true;
}

static bool rd_done(const struct rd *r)
{
	return r->pos == r->end;
}

/* A reader over a sub-range [off, off + len) of the same message. */
static struct rd rd_sub(const uint8_t *m, size_t off, size_t len)
{
	struct rd r = { m, off, off + len };
	return r;
}

/* Parses the content of an extensions vector, m[off .. off+len), into tab:
 * each entry is type(2) ‖ opaque data<0..2^16-1>, no type twice (§4.2). */
static int parse_ext_block(const uint8_t *m, size_t off, size_t len, struct tls13_msg_ext *tab, size_t cap,
                           size_t *count)
{
	struct rd r = rd_sub(m, off, len);
	size_t n = 0;

	while (!rd_done(&r)) {
		uint16_t type;
		size_t eoff, elen;
		if (!rd_u16(&r, &type) || !rd_vec(&r, 2, 0, 0xffff, &eoff, &elen))
			return ERR_PARSE;
		for (size_t i = 0; i < n; i++)
			if (tab[i].type == type)
				return ERR_PARSE;
		if (n == cap)
			return ERR_TOOBIG;
		tab[n].type = type;
		tab[n].off = (uint32_t)eoff;
		tab[n].len = (uint32_t)elen;
		n++;
	}
	*count = n;
	return 0;
}

/* A list of 16-bit values in an extension body: len(width) ‖ values, the
 * vector filling the body exactly, byte length within [min, max] and even. */
static int u16_list(const uint8_t *m, const struct tls13_msg_ext *e, unsigned width, size_t min, size_t max,
                    const uint8_t **list, size_t *count)
{
	struct rd r;
	size_t off, len;

	if (!e)
		return ERR_NOTFOUND;
	r = rd_sub(m, e->off, e->len);
	if (!rd_vec(&r, width, min, max, &off, &len) || !rd_done(&r) || len % 2)
		return ERR_PARSE;
	*list = m + off;
	*count = len / 2;
	return 0;
}

static bool u16_list_has(const uint8_t *list, size_t count, uint16_t v)
{
	for (size_t i = 0; i < count; i++)
		if (tls_get_u16(list + 2 * i) == v)
			return true;
	return false;
}

/* ---- writer ---- */

void tls13_msg_wr_init(struct tls13_msg_wr *w, uint8_t *out, size_t cap)
{
	memset(w, 0, sizeof(*w));
	w->p = out;
	w->cap = cap;
}

static void wr_fail(struct tls13_msg_wr *w, int err)
{
	if (!w->err)
		w->err = err;
}

void tls13_msg_wr_bytes(struct tls13_msg_wr *w, const void *data, size_t len)
{
	if (w->err)
		return;
	if (w->cap - w->len < len) {
		wr_fail(w, -ENOSPC);
		return;
	}
	if (len)
		memcpy(w->p + w->len, data, len);
	w->len += len;
}

void tls13_msg_wr_zeros(struct tls13_msg_wr *w, size_t len)
{
	if (w->err)
		return;
	if (w->cap - w->len < len) {
		wr_fail(w, -ENOSPC);
		return;
	}
	memset(w->p + w->len, 0, len);
	w->len += len;
}

void tls13_msg_wr_u8(struct tls13_msg_wr *w, uint8_t v)
{
	tls13_msg_wr_bytes(w, &v, 1);
}

void tls13_msg_wr_u16(struct tls13_msg_wr *w, uint16_t v)
{
	uint8_t b[2];
	tls_put_u16(b, v);
	tls13_msg_wr_bytes(w, b, 2);
}

void tls13_msg_wr_u24(struct tls13_msg_wr *w, uint32_t v)
{
	uint8_t b[3];
	if (v > 0xffffff)
		wr_fail(w, ERR_TOOBIG);
	tls_put_u24(b, v);
	tls13_msg_wr_bytes(w, b, 3);
}

void tls13_msg_wr_open(struct tls13_msg_wr *w, unsigned width)
{
	if (width < 1 || width > 3 || w->depth == TLS13_MSG_WR_MAX_DEPTH) {
		wr_fail(w, -EINVAL);
		return;
	}
	/* Track nesting even after an error so that _close stays balanced. */
	w->open_at[w->depth] = w->len;
	w->open_width[w->depth] = (uint8_t)width;
	w->depth++;
	tls13_msg_wr_zeros(w, width);
}

void tls13_msg_wr_close(struct tls13_msg_wr *w)
{
	size_t at, n;
	unsigned width;

	if (w->depth == 0) {
		wr_fail(w, -EINVAL);
		return;
	}
	w->depth--;
	if (w->err)
		return;
	at = w->open_at[w->depth];
	width = w->open_width[w->depth];
	n = w->len - at - width;
	if (n >= (size_t)1 << (8 * width)) {
		wr_fail(w, ERR_TOOBIG);
		return;
	}
	if (width == 1)
		w->p[at] = (uint8_t)n;
	else if (width == 2)
		tls_put_u16(w->p + at, (uint16_t)n);
	else
		tls_put_u24(w->p + at, (uint32_t)n);
}

void tls13_msg_wr_hs_open(struct tls13_msg_wr *w, uint8_t type)
{
	tls13_msg_wr_u8(w, type);
	tls13_msg_wr_open(w, 3);
}

void tls13_msg_wr_ext(struct tls13_msg_wr *w, uint16_t type, const void *data, size_t len)
{
	tls13_msg_wr_u16(w, type);
	tls13_msg_wr_open(w, 2);
	tls13_msg_wr_bytes(w, data, len);
	tls13_msg_wr_close(w);
}

int tls13_msg_wr_finish(struct tls13_msg_wr *w, size_t *len)
{
	*len = 0;
	if (!w->err && w->depth)
		w->err = -EINVAL;
	if (w->err)
		return w->err;
	*len = w->len;
	return 0;
}

/* ---- common ---- */

int tls13_msg_header(const uint8_t *msg, size_t len, uint8_t *type, size_t *body_len)
{
	if (len < TLS_HS_HEADER_LEN || tls_get_u24(msg + 1) != len - TLS_HS_HEADER_LEN)
		return ERR_PARSE;
	*type = msg[0];
	*body_len = len - TLS_HS_HEADER_LEN;
	return 0;
}

/* The header must be right and of the expected type; r then covers the body. */
static int open_msg(const uint8_t *msg, size_t len, uint8_t want, struct rd *r)
{
	uint8_t type;
	size_t body_len;

	if (tls13_msg_header(msg, len, &type, &body_len) < 0 || type != want)
		return ERR_PARSE;
	*r = rd_sub(msg, TLS_HS_HEADER_LEN, body_len);
	return 0;
}

bool tls13_msg_is_grease(uint16_t v)
{
	return (v & 0x0f0f) == 0x0a0a && (v >> 8) == (v & 0xff);
}

bool tls13_msg_key_share_len_ok(uint16_t group, size_t len, bool from_server)
{
	switch (group) {
	case TLS_GROUP_X25519:
		return len == TLS_X25519_LEN;
	case TLS_GROUP_X25519MLKEM768:
		return len == (from_server ? TLS_X25519MLKEM768_SERVER_LEN : TLS_X25519MLKEM768_CLIENT_LEN);
	case TLS_GROUP_SECP256R1:
		return len == TLS_P256_POINT_LEN;
	case TLS_GROUP_SECP384R1:
		return len == TLS_P384_POINT_LEN;
	case TLS_GROUP_SECP521R1:
		return len == TLS_P521_POINT_LEN;
	}
	return len >= 1;
}

const struct tls13_msg_ext *tls13_msg_ext_find(const struct tls13_msg_ext *ext, size_t n, uint16_t type)
{
	for (size_t i = 0; i < n; i++)
		if (ext[i].type == type)
			return &ext[i];
	return NULL;
}

/* ---- ClientHello ---- */

int tls13_msg_ch_parse(struct tls13_msg_ch *out, const uint8_t *msg, size_t len)
{
	/* Parsed into a local copy so that a failure leaves *out untouched. */
	struct tls13_msg_ch ch;
	struct rd r;
	size_t off, n;
	int rc;

	memset(&ch, 0, sizeof(ch));
	if (open_msg(msg, len, TLS_HS_CLIENT_HELLO, &r) < 0)
		return ERR_PARSE;
	ch.msg = msg;
	ch.len = len;
	/* legacy_version, random, legacy_session_id<0..32>,
	 * cipher_suites<2..2^16-2>, legacy_compression_methods<1..2^8-1>,
	 * extensions<8..2^16-1> */
	if (!rd_u16(&r, &ch.legacy_version))
		return ERR_PARSE;
	ch.random_off = (uint32_t)r.pos;
	if (!rd_skip(&r, TLS_RANDOM_LEN) || !rd_vec(&r, 1, 0, TLS_SESSION_ID_MAX, &off, &n))
		return ERR_PARSE;
	ch.sid_off = (uint32_t)off;
	ch.sid_len = (uint8_t)n;
	if (!rd_vec(&r, 2, 2, 0xfffe, &off, &n) || n % 2)
		return ERR_PARSE;
	ch.suites_off = (uint32_t)off;
	ch.suites_len = (uint32_t)n;
	if (!rd_vec(&r, 1, 1, 0xff, &off, &n))
		return ERR_PARSE;
	ch.comp_off = (uint32_t)off;
	ch.comp_len = (uint8_t)n;
	if (!rd_vec(&r, 2, 8, 0xffff, &off, &n) || !rd_done(&r))
		return ERR_PARSE;
	ch.ext_block_off = (uint32_t)off;
	ch.ext_block_len = (uint32_t)n;
	rc = parse_ext_block(msg, off, n, ch.ext, TLS13_MSG_CH_MAX_EXT, &ch.ext_count);
	if (rc < 0)
		return rc;
	/* pre_shared_key MUST be the last extension (§4.2.11). */
	for (size_t i = 0; i + 1 < ch.ext_count; i++)
		if (ch.ext[i].type == TLS_EXT_PRE_SHARED_KEY)
			return ERR_PARSE;
	memcpy(out, &ch, sizeof(ch));
	return 0;
}

const uint8_t *tls13_msg_ch_random(const struct tls13_msg_ch *ch)
{
	return ch->msg + ch->random_off;
}

void tls13_msg_ch_session_id(const struct tls13_msg_ch *ch, const uint8_t **sid, size_t *len)
{
	*sid = ch->msg + ch->sid_off;
	*len = ch->sid_len;
}

void tls13_msg_ch_suites(const struct tls13_msg_ch *ch, const uint8_t **list, size_t *count)
{
	*list = ch->msg + ch->suites_off;
	*count = ch->suites_len / 2;
}

bool tls13_msg_ch_offers_suite(const struct tls13_msg_ch *ch, uint16_t suite)
{
	return u16_list_has(ch->msg + ch->suites_off, ch->suites_len / 2, suite);
}

bool tls13_msg_ch_compression_null(const struct tls13_msg_ch *ch)
{
	return ch->comp_len == 1 && ch->msg[ch->comp_off] == 0;
}

static const struct tls13_msg_ext *ch_find(const struct tls13_msg_ch *ch, uint16_t type)
{
	return tls13_msg_ext_find(ch->ext, ch->ext_count, type);
}

int tls13_msg_ch_ext(const struct tls13_msg_ch *ch, uint16_t type, const uint8_t **data, size_t *len)
{
	const struct tls13_msg_ext *e = ch_find(ch, type);

	if (!e)
		return ERR_NOTFOUND;
	*data = ch->msg + e->off;
	*len = e->len;
	return 0;
}

int tls13_msg_ch_server_name(const struct tls13_msg_ch *ch, const uint8_t **name, size_t *len)
{
	/* struct { NameType name_type; opaque HostName<1..2^16-1>; } ServerName;
	 * ServerName server_name_list<1..2^16-1> */
	const struct tls13_msg_ext *e = ch_find(ch, TLS_EXT_SERVER_NAME);
	struct rd r, list;
	size_t off, n, host_off = 0, host_len = 0;
	bool found = false;

	if (!e)
		return ERR_NOTFOUND;
	r = rd_sub(ch->msg, e->off, e->len);
	if (!rd_vec(&r, 2, 1, 0xffff, &off, &n) || !rd_done(&r))
		return ERR_PARSE;
	list = rd_sub(ch->msg, off, n);
	while (!rd_done(&list)) {
		uint8_t type;
		if (!rd_u8(&list, &type) || !rd_vec(&list, 2, 1, 0xffff, &off, &n))
			return ERR_PARSE;
		if (type != TLS_SNI_HOST_NAME)
			continue;
		if (found)
			return ERR_PARSE; /* one name per type (RFC 6066 §3) */
		found = true;
		host_off = off;
		host_len = n;
	}
	if (!found)
		return ERR_PARSE;
	*name = ch->msg + host_off;
	*len = host_len;
	return 0;
}

int tls13_msg_ch_supported_versions(const struct tls13_msg_ch *ch, const uint8_t **list, size_t *count)
{
	/* ProtocolVersion versions<2..254> */
	return u16_list(ch->msg, ch_find(ch, TLS_EXT_SUPPORTED_VERSIONS), 1, 2, 254, list, count);
}

bool tls13_msg_ch_offers_tls13(const struct tls13_msg_ch *ch)
{
	const uint8_t *list;
	size_t n;

	return tls13_msg_ch_supported_versions(ch, &list, &n) == 0 && u16_list_has(list, n, TLS_VERSION_13);
}

int tls13_msg_ch_supported_groups(const struct tls13_msg_ch *ch, const uint8_t **list, size_t *count)
{
	/* NamedGroup named_group_list<2..2^16-1> */
	return u16_list(ch->msg, ch_find(ch, TLS_EXT_SUPPORTED_GROUPS), 2, 2, 0xffff, list, count);
}

bool tls13_msg_ch_offers_group(const struct tls13_msg_ch *ch, uint16_t group)
{
	const uint8_t *list;
	size_t n;

	return tls13_msg_ch_supported_groups(ch, &list, &n) == 0 && u16_list_has(list, n, group);
}

int tls13_msg_ch_sig_algs(const struct tls13_msg_ch *ch, const uint8_t **list, size_t *count)
{
	/* SignatureScheme supported_signature_algorithms<2..2^16-2> */
	return u16_list(ch->msg, ch_find(ch, TLS_EXT_SIGNATURE_ALGORITHMS), 2, 2, 0xfffe, list, count);
}

int tls13_msg_ch_psk_modes(const struct tls13_msg_ch *ch, const uint8_t **modes, size_t *count)
{
	/* PskKeyExchangeMode ke_modes<1..255> */
	const struct tls13_msg_ext *e = ch_find(ch, TLS_EXT_PSK_KEY_EXCHANGE_MODES);
	struct rd r;
	size_t off, n;

	if (!e)
		return ERR_NOTFOUND;
	r = rd_sub(ch->msg, e->off, e->len);
	if (!rd_vec(&r, 1, 1, 255, &off, &n) || !rd_done(&r))
		return ERR_PARSE;
	*modes = ch->msg + off;
	*count = n;
	return 0;
}

bool tls13_msg_ch_has_psk(const struct tls13_msg_ch *ch)
{
	return ch_find(ch, TLS_EXT_PRE_SHARED_KEY) != NULL;
}

int tls13_msg_ch_key_shares(const struct tls13_msg_ch *ch, struct tls13_msg_iter *it)
{
	/* struct { NamedGroup group; opaque key_exchange<1..2^16-1>; } KeyShareEntry;
	 * KeyShareEntry client_shares<0..2^16-1> */
	const struct tls13_msg_ext *e = ch_find(ch, TLS_EXT_KEY_SHARE);
	uint16_t seen[MAX_KEY_SHARES];
	size_t nseen = 0, off, n;
	struct rd r, list;

	if (!e)
		return ERR_NOTFOUND;
	r = rd_sub(ch->msg, e->off, e->len);
	if (!rd_vec(&r, 2, 0, 0xffff, &off, &n) || !rd_done(&r))
		return ERR_PARSE;
	list = rd_sub(ch->msg, off, n);
	while (!rd_done(&list)) {
		uint16_t group;
		size_t koff, klen;
		if (!rd_u16(&list, &group) || !rd_vec(&list, 2, 1, 0xffff, &koff, &klen))
			return ERR_PARSE;
		/* "Clients MUST NOT offer multiple KeyShareEntry values for the
		 * same group" (§4.2.8). */
		for (size_t i = 0; i < nseen; i++)
			if (seen[i] == group)
				return ERR_PARSE;
		if (nseen == MAX_KEY_SHARES)
			return ERR_TOOBIG;
		seen[nseen++] = group;
	}
	it->p = ch->msg + off;
	it->end = ch->msg + off + n;
	return 0;
}

bool tls13_msg_key_share_next(struct tls13_msg_iter *it, struct tls13_msg_key_share *ks)
{
	size_t klen;

	if (it->end - it->p < 4)
		return false;
	klen = tls_get_u16(it->p + 2);
	if ((size_t)(it->end - it->p) - 4 < klen)
		return false;
	ks->group = tls_get_u16(it->p);
	ks->key = it->p + 4;
	ks->len = klen;
	it->p += 4 + klen;
	return true;
}

int tls13_msg_ch_key_share_find(const struct tls13_msg_ch *ch, uint16_t group, struct tls13_msg_key_share *ks)
{
	struct tls13_msg_iter it;
	struct tls13_msg_key_share k;
	int rc = tls13_msg_ch_key_shares(ch, &it);

	if (rc < 0)
		return rc;
	while (tls13_msg_key_share_next(&it, &k)) {
		if (k.group == group) {
			*ks = k;
			return 0;
		}
	}
	return ERR_NOTFOUND;
}

/* ProtocolName protocol_name_list<2..2^16-1>, ProtocolName = opaque<1..2^8-1>:
 * validates the list in an extension body and returns its range. */
static int alpn_list(const uint8_t *m, const struct tls13_msg_ext *e, size_t *off, size_t *len, size_t *count)
{
	struct rd r, list;
	size_t o, n, c = 0;

	if (!e)
		return ERR_NOTFOUND;
	r = rd_sub(m, e->off, e->len);
	if (!rd_vec(&r, 2, 2, 0xffff, &o, &n) || !rd_done(&r))
		return ERR_PARSE;
	list = rd_sub(m, o, n);
	while (!rd_done(&list)) {
		size_t no, nl;
		if (!rd_vec(&list, 1, 1, 255, &no, &nl))
			return ERR_PARSE;
		c++;
	}
	*off = o;
	*len = n;
	*count = c;
	return 0;
}

int tls13_msg_ch_alpn(const struct tls13_msg_ch *ch, struct tls13_msg_iter *it)
{
	size_t off, len, count;
	int rc = alpn_list(ch->msg, ch_find(ch, TLS_EXT_ALPN), &off, &len, &count);

	if (rc < 0)
		return rc;
	it->p = ch->msg + off;
	it->end = ch->msg + off + len;
	return 0;
}

bool tls13_msg_alpn_next(struct tls13_msg_iter *it, const uint8_t **name, size_t *len)
{
	size_t n;

	if (it->end - it->p < 1)
		return false;
	n = it->p[0];
	if ((size_t)(it->end - it->p) - 1 < n)
		return false;
	*name = it->p + 1;
	*len = n;
	it->p += 1 + n;
	return true;
}

int tls13_msg_ch_build(const struct tls13_msg_ch_spec *spec, uint8_t *out, size_t cap, size_t *len)
{
	struct tls13_msg_wr w;

	*len = 0;
	if (!spec->random || spec->sid_len > TLS_SESSION_ID_MAX || (spec->sid_len && !spec->sid) ||
	    !spec->n_suites || spec->n_suites > 0x7fff)
		return -EINVAL;
	tls13_msg_wr_init(&w, out, cap);
	tls13_msg_wr_hs_open(&w, TLS_HS_CLIENT_HELLO);
	tls13_msg_wr_u16(&w, TLS_VERSION_12);
	tls13_msg_wr_bytes(&w, spec->random, TLS_RANDOM_LEN);
	tls13_msg_wr_open(&w, 1);
	tls13_msg_wr_bytes(&w, spec->sid, spec->sid_len);
	tls13_msg_wr_close(&w);
	tls13_msg_wr_open(&w, 2);
	for (size_t i = 0; i < spec->n_suites; i++)
		tls13_msg_wr_u16(&w, spec->suites[i]);
	tls13_msg_wr_close(&w);
	tls13_msg_wr_u8(&w, 1); /* legacy_compression_methods = [null] */
	tls13_msg_wr_u8(&w, 0);
	tls13_msg_wr_open(&w, 2);
	for (size_t i = 0; i < spec->n_ext; i++)
		tls13_msg_wr_ext(&w, spec->ext[i].type, spec->ext[i].data, spec->ext[i].len);
	tls13_msg_wr_close(&w);
	tls13_msg_wr_close(&w);
	return tls13_msg_wr_finish(&w, len);
}

/* ---- ServerHello / HelloRetryRequest ---- */

int tls13_msg_sh_parse(struct tls13_msg_sh *out, const uint8_t *msg, size_t len)
{
	struct tls13_msg_sh sh;
	const struct tls13_msg_ext *e;
	struct rd r, x;
	size_t off, n;
	int rc;

	memset(&sh, 0, sizeof(sh));
	if (open_msg(msg, len, TLS_HS_SERVER_HELLO, &r) < 0)
		return ERR_PARSE;
	sh.msg = msg;
	sh.len = len;
	/* legacy_version, random, legacy_session_id_echo<0..32>, cipher_suite,
	 * legacy_compression_method, extensions<6..2^16-1> */
	if (!rd_u16(&r, &sh.legacy_version))
		return ERR_PARSE;
	sh.random_off = (uint32_t)r.pos;
	if (!rd_skip(&r, TLS_RANDOM_LEN) || !rd_vec(&r, 1, 0, TLS_SESSION_ID_MAX, &off, &n))
		return ERR_PARSE;
	sh.sid_off = (uint32_t)off;
	sh.sid_len = (uint8_t)n;
	if (!rd_u16(&r, &sh.suite) || !rd_u8(&r, &sh.compression))
		return ERR_PARSE;
	sh.is_hrr = memcmp(msg + sh.random_off, TLS_HRR_RANDOM, TLS_RANDOM_LEN) == 0;
	if (!rd_done(&r)) {
		/* A TLS 1.3 ServerHello has at least supported_versions (6 bytes). */
		if (!rd_vec(&r, 2, 6, 0xffff, &off, &n) || !rd_done(&r))
			return ERR_PARSE;
		rc = parse_ext_block(msg, off, n, sh.ext, TLS13_MSG_SH_MAX_EXT, &sh.ext_count);
		if (rc < 0)
			return rc;
	}

	e = tls13_msg_ext_find(sh.ext, sh.ext_count, TLS_EXT_SUPPORTED_VERSIONS);
	if (e) {
		if (e->len != 2)
			return ERR_PARSE;
		sh.version = tls_get_u16(msg + e->off);
	}
	e = tls13_msg_ext_find(sh.ext, sh.ext_count, TLS_EXT_KEY_SHARE);
	if (e) {
		x = rd_sub(msg, e->off, e->len);
		if (!rd_u16(&x, &sh.group))
			return ERR_PARSE;
		if (!sh.is_hrr) {
			if (!rd_vec(&x, 2, 1, 0xffff, &off, &n))
				return ERR_PARSE;
			sh.key_off = (uint32_t)off;
			sh.key_len = (uint32_t)n;
		}
		if (!rd_done(&x))
			return ERR_PARSE;
	}
	e = tls13_msg_ext_find(sh.ext, sh.ext_count, TLS_EXT_COOKIE);
	if (e) {
		x = rd_sub(msg, e->off, e->len);
		if (!rd_vec(&x, 2, 1, 0xffff, &off, &n) || !rd_done(&x))
			return ERR_PARSE;
		sh.cookie_off = (uint32_t)off;
		sh.cookie_len = (uint32_t)n;
	}
	memcpy(out, &sh, sizeof(sh));
	return 0;
}

const uint8_t *tls13_msg_sh_random(const struct tls13_msg_sh *sh)
{
	return sh->msg + sh->random_off;
}

int tls13_msg_sh_check(const struct tls13_msg_sh *sh, const struct tls13_msg_ch *ch)
{
	struct tls13_msg_key_share ks;
	const uint8_t *sid;
	size_t sid_len;
	int rc;

	if (sh->legacy_version != TLS_VERSION_12 || sh->version != TLS_VERSION_13 || !tls13_msg_ch_offers_tls13(ch))
		return ERR_PROTO;
	if (!tls13_keysched_suite(sh->suite) || !tls13_msg_ch_offers_suite(ch, sh->suite) || sh->compression != 0)
		return ERR_PROTO;
	tls13_msg_ch_session_id(ch, &sid, &sid_len);
	if (sh->sid_len != sid_len || CRYPTO_memcmp(sh->msg + sh->sid_off, sid, sid_len) != 0)
		return ERR_PROTO;
	/* No extension the client did not ask for, except an HRR's cookie (§4.2). */
	for (size_t i = 0; i < sh->ext_count; i++) {
		if (sh->is_hrr && sh->ext[i].type == TLS_EXT_COOKIE)
			continue;
		if (!ch_find(ch, sh->ext[i].type))
			return ERR_PROTO;
	}
	if (!sh->group)
		return ERR_PROTO;
	rc = tls13_msg_ch_key_share_find(ch, sh->group, &ks);
	if (sh->is_hrr) {
		/* A group we support but sent no share for (§4.1.4). */
		if (rc != ERR_NOTFOUND || !tls13_msg_ch_offers_group(ch, sh->group))
			return ERR_PROTO;
		return 0;
	}
	if (rc < 0 || !tls13_msg_key_share_len_ok(sh->group, sh->key_len, true))
		return ERR_PROTO;
	return 0;
}

int tls13_msg_sh_replace_key(const struct tls13_msg_sh *sh, uint8_t *msg, const uint8_t *key, size_t key_len)
{
	if (sh->is_hrr || !sh->key_off || key_len != sh->key_len || msg != sh->msg)
		return -EINVAL;
	memcpy(msg + sh->key_off, key, key_len);
	return 0;
}

int tls13_msg_sh_build(const struct tls13_msg_sh_spec *spec, uint8_t *out, size_t cap, size_t *len)
{
	struct tls13_msg_wr w;

	*len = 0;
	if ((!spec->hrr && (!spec->random || !spec->key || !spec->key_len)) || spec->sid_len > TLS_SESSION_ID_MAX ||
	    (spec->sid_len && !spec->sid))
		return -EINVAL;
	tls13_msg_wr_init(&w, out, cap);
	tls13_msg_wr_hs_open(&w, TLS_HS_SERVER_HELLO);
	tls13_msg_wr_u16(&w, TLS_VERSION_12);
	tls13_msg_wr_bytes(&w, spec->hrr ? (const uint8_t *)TLS_HRR_RANDOM : spec->random, TLS_RANDOM_LEN);
	tls13_msg_wr_open(&w, 1);
	tls13_msg_wr_bytes(&w, spec->sid, spec->sid_len);
	tls13_msg_wr_close(&w);
	tls13_msg_wr_u16(&w, spec->suite);
	tls13_msg_wr_u8(&w, 0);
	tls13_msg_wr_open(&w, 2);
	tls13_msg_wr_u16(&w, TLS_EXT_KEY_SHARE);
	tls13_msg_wr_open(&w, 2);
	tls13_msg_wr_u16(&w, spec->group);
	if (!spec->hrr) {
		tls13_msg_wr_open(&w, 2);
		tls13_msg_wr_bytes(&w, spec->key, spec->key_len);
		tls13_msg_wr_close(&w);
	}
	tls13_msg_wr_close(&w);
	tls13_msg_wr_u16(&w, TLS_EXT_SUPPORTED_VERSIONS);
	tls13_msg_wr_u16(&w, 2);
	tls13_msg_wr_u16(&w, TLS_VERSION_13);
	tls13_msg_wr_close(&w);
	tls13_msg_wr_close(&w);
	return tls13_msg_wr_finish(&w, len);
}

/* ---- EncryptedExtensions ---- */

int tls13_msg_ee_parse(struct tls13_msg_ee *out, const uint8_t *msg, size_t len)
{
	struct tls13_msg_ee ee;
	struct rd r;
	size_t off, n;
	int rc;

	memset(&ee, 0, sizeof(ee));
	if (open_msg(msg, len, TLS_HS_ENCRYPTED_EXTENSIONS, &r) < 0)
		return ERR_PARSE;
	/* Extension extensions<0..2^16-1> */
	if (!rd_vec(&r, 2, 0, 0xffff, &off, &n) || !rd_done(&r))
		return ERR_PARSE;
	rc = parse_ext_block(msg, off, n, ee.ext, TLS13_MSG_EE_MAX_EXT, &ee.ext_count);
	if (rc < 0)
		return rc;
	ee.msg = msg;
	ee.len = len;
	memcpy(out, &ee, sizeof(ee));
	return 0;
}

int tls13_msg_ee_alpn(const struct tls13_msg_ee *ee, const uint8_t **name, size_t *len)
{
	size_t off, n, count;
	int rc = alpn_list(ee->msg, tls13_msg_ext_find(ee->ext, ee->ext_count, TLS_EXT_ALPN), &off, &n, &count);

	if (rc < 0)
		return rc;
	/* "the "extension_data" field ... MUST contain exactly one
	 * ProtocolName" (RFC 7301 §3.1) */
	if (count != 1)
		return ERR_PARSE;
	*name = ee->msg + off + 1;
	*len = n - 1;
	return 0;
}

int tls13_msg_ee_build(const struct tls13_msg_ext_in *ext, size_t n_ext, uint8_t *out, size_t cap, size_t *len)
{
	struct tls13_msg_wr w;

	tls13_msg_wr_init(&w, out, cap);
	tls13_msg_wr_hs_open(&w, TLS_HS_ENCRYPTED_EXTENSIONS);
	tls13_msg_wr_open(&w, 2);
	for (size_t i = 0; i < n_ext; i++)
		tls13_msg_wr_ext(&w, ext[i].type, ext[i].data, ext[i].len);
	tls13_msg_wr_close(&w);
	tls13_msg_wr_close(&w);
	return tls13_msg_wr_finish(&w, len);
}

/* ---- Certificate ---- */

int tls13_msg_cert_parse(struct tls13_msg_cert *out, const uint8_t *msg, size_t len)
{
	struct tls13_msg_cert c;
	struct tls13_msg_ext scratch[TLS13_MSG_EE_MAX_EXT];
	struct rd r, list;
	size_t off, n, nscratch;
	int rc;

	memset(&c, 0, sizeof(c));
	if (open_msg(msg, len, TLS_HS_CERTIFICATE, &r) < 0)
		return ERR_PARSE;
	/* opaque certificate_request_context<0..2^8-1>;
	 * CertificateEntry certificate_list<0..2^24-1>; */
	if (!rd_vec(&r, 1, 0, 255, &off, &n))
		return ERR_PARSE;
	c.ctx_off = (uint32_t)off;
	c.ctx_len = (uint8_t)n;
	if (!rd_vec(&r, 3, 0, 0xffffff, &off, &n) || !rd_done(&r))
		return ERR_PARSE;
	list = rd_sub(msg, off, n);
	while (!rd_done(&list)) {
		/* opaque cert_data<1..2^24-1>; Extension extensions<0..2^16-1>; */
		struct tls13_msg_cert_entry e;
		if (!rd_vec(&list, 3, 1, 0xffffff, &off, &n))
			return ERR_PARSE;
		e.data_off = (uint32_t)off;
		e.data_len = (uint32_t)n;
		if (!rd_vec(&list, 2, 0, 0xffff, &off, &n))
			return ERR_PARSE;
		e.ext_off = (uint32_t)off;
		e.ext_len = (uint32_t)n;
		rc = parse_ext_block(msg, off, n, scratch, TLS13_MSG_EE_MAX_EXT, &nscratch);
		if (rc < 0)
			return rc;
		if (c.count == TLS13_MSG_CERT_MAX)
			return ERR_TOOBIG;
		c.entry[c.count++] = e;
	}
	c.msg = msg;
	c.len = len;
	memcpy(out, &c, sizeof(c));
	return 0;
}

int tls13_msg_cert_get(const struct tls13_msg_cert *c, size_t i, const uint8_t **der, size_t *len)
{
	if (i >= c->count)
		return ERR_NOTFOUND;
	*der = c->msg + c->entry[i].data_off;
	*len = c->entry[i].data_len;
	return 0;
}

int tls13_msg_cert_build(const uint8_t *ctx, size_t ctx_len, const struct tls13_msg_cert_in *certs, size_t n,
                         uint8_t *out, size_t cap, size_t *len)
{
	struct tls13_msg_wr w;

	*len = 0;
	for (size_t i = 0; i < n; i++)
		if (!certs[i].len)
			return -EINVAL;
	tls13_msg_wr_init(&w, out, cap);
	tls13_msg_wr_hs_open(&w, TLS_HS_CERTIFICATE);
	tls13_msg_wr_open(&w, 1);
	tls13_msg_wr_bytes(&w, ctx, ctx_len);
	tls13_msg_wr_close(&w);
	tls13_msg_wr_open(&w, 3);
	for (size_t i = 0; i < n; i++) {
		tls13_msg_wr_open(&w, 3);
		tls13_msg_wr_bytes(&w, certs[i].der, certs[i].len);
		tls13_msg_wr_close(&w);
		tls13_msg_wr_open(&w, 2);
		tls13_msg_wr_bytes(&w, certs[i].ext, certs[i].ext_len);
		tls13_msg_wr_close(&w);
	}
	tls13_msg_wr_close(&w);
	tls13_msg_wr_close(&w);
	return tls13_msg_wr_finish(&w, len);
}

/* ---- CertificateVerify ---- */

int tls13_msg_cv_parse(struct tls13_msg_cv *out, const uint8_t *msg, size_t len)
{
	struct tls13_msg_cv cv;
	struct rd r;
	size_t off, n;

	memset(&cv, 0, sizeof(cv));
	if (open_msg(msg, len, TLS_HS_CERTIFICATE_VERIFY, &r) < 0)
		return ERR_PARSE;
	/* SignatureScheme algorithm; opaque signature<0..2^16-1>; */
	if (!rd_u16(&r, &cv.scheme) || !rd_vec(&r, 2, 0, 0xffff, &off, &n) || !rd_done(&r))
		return ERR_PARSE;
	cv.sig_off = (uint32_t)off;
	cv.sig_len = (uint32_t)n;
	cv.msg = msg;
	cv.len = len;
	memcpy(out, &cv, sizeof(cv));
	return 0;
}

int tls13_msg_cv_build(uint16_t scheme, const uint8_t *sig, size_t sig_len, uint8_t *out, size_t cap,
                       size_t *len)
{
	struct tls13_msg_wr w;

	tls13_msg_wr_init(&w, out, cap);
	tls13_msg_wr_hs_open(&w, TLS_HS_CERTIFICATE_VERIFY);
	tls13_msg_wr_u16(&w, scheme);
	tls13_msg_wr_open(&w, 2);
	tls13_msg_wr_bytes(&w, sig, sig_len);
	tls13_msg_wr_close(&w);
	tls13_msg_wr_close(&w);
	return tls13_msg_wr_finish(&w, len);
}

int tls13_msg_cv_content(bool server, const uint8_t *thash, size_t thash_len, uint8_t *out, size_t cap,
                         size_t *len)
{
	size_t n = TLS_CV_PAD_LEN + TLS_CV_CONTEXT_LEN + 1 + thash_len;

	*len = 0;
	if (thash_len != 32 && thash_len != 48)
		return -EINVAL;
	if (cap < n)
		return -ENOSPC;
	memset(out, 0x20, TLS_CV_PAD_LEN);
	memcpy(out + TLS_CV_PAD_LEN, server ? TLS_CV_SERVER_CONTEXT : TLS_CV_CLIENT_CONTEXT, TLS_CV_CONTEXT_LEN);
	out[TLS_CV_PAD_LEN + TLS_CV_CONTEXT_LEN] = 0;
	memcpy(out + TLS_CV_PAD_LEN + TLS_CV_CONTEXT_LEN + 1, thash, thash_len);
	*len = n;
	return 0;
}

/* ---- Finished ---- */

int tls13_msg_fin_parse(const uint8_t *msg, size_t len, size_t hash_len, const uint8_t **verify_data)
{
	struct rd r;

	if (open_msg(msg, len, TLS_HS_FINISHED, &r) < 0 || r.end - r.pos != hash_len)
		return ERR_PARSE;
	*verify_data = msg + r.pos;
	return 0;
}

int tls13_msg_fin_build(const uint8_t *verify_data, size_t hash_len, uint8_t *out, size_t cap, size_t *len)
{
	struct tls13_msg_wr w;

	*len = 0;
	if (hash_len != 32 && hash_len != 48)
		return -EINVAL;
	tls13_msg_wr_init(&w, out, cap);
	tls13_msg_wr_hs_open(&w, TLS_HS_FINISHED);
	tls13_msg_wr_bytes(&w, verify_data, hash_len);
	tls13_msg_wr_close(&w);
	return tls13_msg_wr_finish(&w, len);
}

int tls13_msg_fin_verify(enum tls13_keysched_hash hash, const uint8_t *base_secret, const uint8_t *thash,
                         const uint8_t *msg, size_t len)
{
	uint8_t expect[TLS_MAX_HASH_LEN];
	size_t hl = tls13_keysched_hash_len(hash);
	const uint8_t *got;
	int rc;

	if (!hl)
		return -EINVAL;
	rc = tls13_msg_fin_parse(msg, len, hl, &got);
	if (rc < 0)
		return rc;
	rc = tls13_keysched_finished(hash, base_secret, thash, expect);
	if (rc == 0 && CRYPTO_memcmp(expect, got, hl) != 0)
		rc = ERR_AUTH;
	OPENSSL_cleanse(expect, sizeof(expect));
	return rc;
}

/* ---- post-handshake ---- */

int tls13_msg_key_update_parse(const uint8_t *msg, size_t len, bool *requested)
{
	struct rd r;
	uint8_t v;

	if (open_msg(msg, len, TLS_HS_KEY_UPDATE, &r) < 0 || !rd_u8(&r, &v) || !rd_done(&r) ||
	    v > TLS_KEY_UPDATE_REQUESTED)
		return ERR_PARSE;
	*requested = v == TLS_KEY_UPDATE_REQUESTED;
	return 0;
}

int tls13_msg_key_update_build(bool requested, uint8_t *out, size_t cap, size_t *len)
{
	struct tls13_msg_wr w;

	tls13_msg_wr_init(&w, out, cap);
	tls13_msg_wr_hs_open(&w, TLS_HS_KEY_UPDATE);
	tls13_msg_wr_u8(&w, requested ? TLS_KEY_UPDATE_REQUESTED : TLS_KEY_UPDATE_NOT_REQUESTED);
	tls13_msg_wr_close(&w);
	return tls13_msg_wr_finish(&w, len);
}

int tls13_msg_nst_check(const uint8_t *msg, size_t len)
{
	/* uint32 ticket_lifetime; uint32 ticket_age_add; opaque ticket_nonce<0..255>;
	 * opaque ticket<1..2^16-1>; Extension extensions<0..2^16-2>; */
	struct tls13_msg_ext scratch[TLS13_MSG_EE_MAX_EXT];
	struct rd r;
	uint32_t v;
	size_t off, n, count;

	if (open_msg(msg, len, TLS_HS_NEW_SESSION_TICKET, &r) < 0 || !rd_u32(&r, &v) || !rd_u32(&r, &v) ||
	    !rd_vec(&r, 1, 0, 255, &off, &n) || !rd_vec(&r, 2, 1, 0xffff, &off, &n) ||
	    !rd_vec(&r, 2, 0, 0xfffe, &off, &n) || !rd_done(&r))
		return ERR_PARSE;
	return parse_ext_block(msg, off, n, scratch, TLS13_MSG_EE_MAX_EXT, &count);
}
