#include "reality/tls13_record.h"

#include <errno.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "reality/tls13_keysched.h"

#define DEFAULT_CCS_MAX   1
#define DEFAULT_EMPTY_MAX 32

static const EVP_CIPHER *aead_cipher(uint16_t suite)
{
	switch (suite) {
	case TLS_AES_128_GCM_SHA256:
		return EVP_aes_128_gcm();
	case TLS_AES_256_GCM_SHA384:
		return EVP_aes_256_gcm();
	case TLS_CHACHA20_POLY1305_SHA256:
		return EVP_chacha20_poly1305();
	}
	return NULL;
}

int tls13_record_init(struct tls13_record *r, enum tls13_record_role role)
{
	memset(r, 0, sizeof(*r));
	r->role = role;
	r->ccs_max = DEFAULT_CCS_MAX;
	r->empty_max = DEFAULT_EMPTY_MAX;
	r->tx_compat_0301 = role == TLS13_RECORD_CLIENT;
	r->rx.ctx = EVP_CIPHER_CTX_new();
	r->tx.ctx = EVP_CIPHER_CTX_new();
	if (!r->rx.ctx || !r->tx.ctx) {
		tls13_record_fini(r);
		return -ENOMEM;
	}
	return 0;
}

void tls13_record_fini(struct tls13_record *r)
{
	if (!r)
		return;
	/* EVP_CIPHER_CTX_free cleanses the key schedule it held. */
	EVP_CIPHER_CTX_free(r->rx.ctx);
	EVP_CIPHER_CTX_free(r->tx.ctx);
	OPENSSL_cleanse(r, sizeof(*r));
}

/* A direction whose re-keying failed half-way: its context is in an unknown
 * state, so nothing may go through it again. */
#define SUITE_BROKEN 0xffff

int tls13_record_set_key(struct tls13_record *r, bool tx, uint16_t suite, const uint8_t *key, size_t key_len,
                         const uint8_t iv[TLS_AEAD_NONCE_LEN], enum tls13_record_epoch epoch)
{
	const struct tls13_keysched_suite *s = tls13_keysched_suite(suite);
	struct tls13_record_dir *d = tx ? &r->tx : &r->rx;

	if (!s || key_len != s->key_len || epoch == TLS13_EPOCH_PLAINTEXT)
		return -EINVAL;
	if (!d->ctx)
		return ERR_BADSTATE;
	/* Key now, nonce per record (EVP keeps the expanded key between records). */
	if (!EVP_CipherInit_ex(d->ctx, aead_cipher(suite), NULL, key, NULL, tx ? 1 : 0)) {
		d->suite = SUITE_BROKEN;
		d->epoch = epoch;
		OPENSSL_cleanse(d->iv, sizeof(d->iv));
		return ERR_CRYPTO;
	}
	memcpy(d->iv, iv, TLS_AEAD_NONCE_LEN);
	d->suite = suite;
	d->epoch = epoch;
	d->seq = 0;
	return 0;
}

int tls13_record_set_secret(struct tls13_record *r, bool tx, uint16_t suite, const uint8_t *secret,
                            enum tls13_record_epoch epoch)
{
	const struct tls13_keysched_suite *s = tls13_keysched_suite(suite);
	uint8_t key[TLS_MAX_KEY_LEN], iv[TLS_AEAD_NONCE_LEN];
	int rc;

	if (!s)
		return -EINVAL;
	rc = tls13_keysched_traffic_keys(s, secret, key, iv);
	if (rc == 0)
		rc = tls13_record_set_key(r, tx, suite, key, s->key_len, iv, epoch);
	OPENSSL_cleanse(key, sizeof(key));
	OPENSSL_cleanse(iv, sizeof(iv));
	return rc;
}

int tls13_record_header_parse(const uint8_t *in, size_t len, uint8_t *type, uint16_t *version, uint16_t *length)
{
	uint16_t v, l;

	if (len < TLS_RECORD_HEADER_LEN)
		return 0;
	v = tls_get_u16(in + 1);
	l = tls_get_u16(in + 3);
	if (v != TLS_VERSION_12 && v != TLS_VERSION_10)
		return ERR_PARSE;
	switch (in[0]) {
	case TLS_CT_CHANGE_CIPHER_SPEC:
	case TLS_CT_ALERT:
	case TLS_CT_HANDSHAKE:
		if (l > TLS_MAX_PLAINTEXT)
			return ERR_TOOBIG;
		break;
	case TLS_CT_APPLICATION_DATA:
		if (l > TLS_MAX_CIPHERTEXT)
			return ERR_TOOBIG;
		break;
	default:
		return ERR_PARSE;
	}
	*type = in[0];
	*version = v;
	*length = l;
	return 1;
}

/* nonce = iv XOR (seq, left-padded to 12 bytes) (RFC 8446 §5.3) */
static void make_nonce(const struct tls13_record_dir *d, uint8_t nonce[TLS_AEAD_NONCE_LEN])
{
	memcpy(nonce, d->iv, TLS_AEAD_NONCE_LEN);
	for (int i = 0; i < 8; i++)
		nonce[TLS_AEAD_NONCE_LEN - 1 - i] ^= (uint8_t)(d->seq >> (8 * i));
}

/* Opens ct[0..ct_len) (ciphertext then tag) under the 5-byte header as
 * additional data into out[0..ct_len - tag). */
static int aead_open(struct tls13_record_dir *d, const uint8_t *hdr, const uint8_t *ct, size_t ct_len,
                     uint8_t *out)
{
	uint8_t nonce[TLS_AEAD_NONCE_LEN], tag[TLS_AEAD_TAG_LEN];
	size_t plen = ct_len - TLS_AEAD_TAG_LEN;
	int n = 0, fin = 0;

	make_nonce(d, nonce);
	memcpy(tag, ct + plen, TLS_AEAD_TAG_LEN);
	if (!EVP_DecryptInit_ex(d->ctx, NULL, NULL, NULL, nonce) ||
	    !EVP_DecryptUpdate(d->ctx, NULL, &n, hdr, TLS_RECORD_HEADER_LEN) ||
	    !EVP_DecryptUpdate(d->ctx, out, &n, ct, (int)plen) || (size_t)n != plen ||
	    !EVP_CIPHER_CTX_ctrl(d->ctx, EVP_CTRL_AEAD_SET_TAG, TLS_AEAD_TAG_LEN, tag))
		return ERR_CRYPTO;
	if (EVP_DecryptFinal_ex(d->ctx, out + n, &fin) <= 0 || fin != 0)
		return ERR_AUTH;
	return 0;
}

static int fail(struct tls13_record *r, int err, uint8_t alert)
{
	r->alert = alert;
	return err;
}

/* A ChangeCipherSpec may arrive after the first ClientHello was sent or
 * received and before the peer's Finished (RFC 8446 §5). */
static bool ccs_allowed(const struct tls13_record *r)
{
	if (r->rx.epoch == TLS13_EPOCH_APPLICATION)
		return false;
	if (r->role == TLS13_RECORD_SERVER && r->records_in == 0)
		return false;
	return r->ccs_in < r->ccs_max;
}

static int read_protected(struct tls13_record *r, const uint8_t *in, uint16_t length, uint8_t *out,
                          size_t out_cap, struct tls13_record_in *rec)
{
	size_t plen, i;
	uint8_t inner;
	int rc;

	if (length < 1 + TLS_AEAD_TAG_LEN)
		return fail(r, ERR_PARSE, TLS_ALERT_DECODE_ERROR);
	plen = length - TLS_AEAD_TAG_LEN;
	if (plen > TLS_MAX_INNER)
		return fail(r, ERR_TOOBIG, TLS_ALERT_RECORD_OVERFLOW);
	if (out_cap < plen)
		return fail(r, -ENOSPC, TLS_ALERT_INTERNAL_ERROR);
	if (r->rx.seq == TLS_SEQ_MAX)
		return fail(r, ERR_RANGE, TLS_ALERT_INTERNAL_ERROR);
	rc = aead_open(&r->rx, in, in + TLS_RECORD_HEADER_LEN, length, out);
	if (rc < 0) {
		OPENSSL_cleanse(out, plen);
		return fail(r, rc, rc == ERR_AUTH ? TLS_ALERT_BAD_RECORD_MAC : TLS_ALERT_INTERNAL_ERROR);
	}
	/* TLSInnerPlaintext = content ‖ type ‖ zeros: the type is the last
	 * non-zero byte (§5.4). */
	for (i = plen; i > 0 && out[i - 1] == 0; i--)
		;
	if (i == 0) {
		rc = fail(r, ERR_PROTO, TLS_ALERT_UNEXPECTED_MESSAGE);
		goto wipe;
	}
	inner = out[i - 1];
	rec->len = i - 1;
	switch (inner) {
	case TLS_CT_HANDSHAKE:
		if (rec->len == 0) {
			rc = fail(r, ERR_PROTO, TLS_ALERT_UNEXPECTED_MESSAGE);
			goto wipe;
		}
		break;
	case TLS_CT_ALERT:
		if (rec->len != TLS_ALERT_LEN) {
			rc = fail(r, ERR_PARSE, TLS_ALERT_DECODE_ERROR);
			goto wipe;
		}
		break;
	case TLS_CT_APPLICATION_DATA:
		if (r->rx.epoch != TLS13_EPOCH_APPLICATION) {
			rc = fail(r, ERR_PROTO, TLS_ALERT_UNEXPECTED_MESSAGE);
			goto wipe;
		}
		if (rec->len == 0 && r->empty_run >= r->empty_max) {
			rc = fail(r, ERR_PROTO, TLS_ALERT_UNEXPECTED_MESSAGE);
			goto wipe;
		}
		break;
	default:
		rc = fail(r, ERR_PROTO, TLS_ALERT_UNEXPECTED_MESSAGE);
		goto wipe;
	}
	r->rx.seq++;
	r->records_in++;
	if (rec->len == 0) {
		r->empty_run++;
		rec->dropped = true;
	} else {
		r->empty_run = 0;
	}
	rec->type = inner;
	rec->is_protected = true;
	rec->data = out;
	return 1;
wipe:
	OPENSSL_cleanse(out, plen);
	rec->len = 0;
	return rc;
}

int tls13_record_read(struct tls13_record *r, const uint8_t *in, size_t len, uint8_t *out, size_t out_cap,
                      struct tls13_record_in *rec)
{
	uint8_t type = 0;
	uint16_t version = 0, length = 0;
	bool keyed = r->rx.epoch != TLS13_EPOCH_PLAINTEXT;
	bool v0301_ok = r->role == TLS13_RECORD_SERVER && !keyed;
	const uint8_t *body = in + TLS_RECORD_HEADER_LEN;
	int rc;

	memset(rec, 0, sizeof(*rec));
	if (r->rx.suite == SUITE_BROKEN || !r->rx.ctx)
		return fail(r, ERR_BADSTATE, TLS_ALERT_INTERNAL_ERROR);
	rc = tls13_record_header_parse(in, len, &type, &version, &length);
	if (rc < 0)
		return fail(r, rc, rc == ERR_TOOBIG ? TLS_ALERT_RECORD_OVERFLOW : TLS_ALERT_DECODE_ERROR);
	if (rc == 0) {
		rec->need = TLS_RECORD_HEADER_LEN;
		return 0;
	}
	if (len - TLS_RECORD_HEADER_LEN < length) {
		rec->need = TLS_RECORD_HEADER_LEN + (size_t)length;
		return 0;
	}
	if (version == TLS_VERSION_10 && (!v0301_ok || type == TLS_CT_CHANGE_CIPHER_SPEC ||
	                                  type == TLS_CT_APPLICATION_DATA))
		return fail(r, ERR_PARSE, TLS_ALERT_DECODE_ERROR);

	switch (type) {
	case TLS_CT_CHANGE_CIPHER_SPEC:
		/* Anything but the single byte 01 is unexpected_message (§5). */
		if (length != 1 || body[0] != TLS_CCS_BYTE || !ccs_allowed(r))
			return fail(r, ERR_PROTO, TLS_ALERT_UNEXPECTED_MESSAGE);
		r->ccs_in++;
		r->records_in++;
		rec->dropped = true;
		rec->data = body;
		break;
	case TLS_CT_HANDSHAKE:
		if (keyed || length == 0)
			return fail(r, ERR_PROTO, TLS_ALERT_UNEXPECTED_MESSAGE);
		r->records_in++;
		r->empty_run = 0;
		rec->data = body;
		rec->len = length;
		break;
	case TLS_CT_ALERT:
		/* A peer that failed before it had our keys alerts in the clear;
		 * once application keys are in use alerts must be protected. */
		if (r->rx.epoch == TLS13_EPOCH_APPLICATION)
			return fail(r, ERR_PROTO, TLS_ALERT_UNEXPECTED_MESSAGE);
		if (length != TLS_ALERT_LEN)
			return fail(r, ERR_PARSE, TLS_ALERT_DECODE_ERROR);
		r->records_in++;
		rec->data = body;
		rec->len = length;
		break;
	case TLS_CT_APPLICATION_DATA:
		if (!keyed)
			return fail(r, ERR_PROTO, TLS_ALERT_UNEXPECTED_MESSAGE);
		rc = read_protected(r, in, length, out, out_cap, rec);
		if (rc < 0)
			return rc;
		rec->used = TLS_RECORD_HEADER_LEN + (size_t)length;
		return 1;
	}
	rec->type = type;
	rec->used = TLS_RECORD_HEADER_LEN + (size_t)length;
	return 1;
}

static void put_header(uint8_t *out, uint8_t type, uint16_t version, size_t len)
{
	out[0] = type;
	tls_put_u16(out + 1, version);
	tls_put_u16(out + 3, (uint16_t)len);
}

int tls13_record_write_plain(struct tls13_record *r, uint8_t type, const uint8_t *data, size_t len,
                             uint8_t *out, size_t cap, size_t *out_len)
{
	uint16_t version = TLS_VERSION_12;

	*out_len = 0;
	switch (type) {
	case TLS_CT_CHANGE_CIPHER_SPEC:
		if (len != 1 || data[0] != TLS_CCS_BYTE)
			return -EINVAL;
		break;
	case TLS_CT_HANDSHAKE:
		if (len == 0)
			return -EINVAL;
		if (len > TLS_MAX_PLAINTEXT)
			return ERR_TOOBIG;
		if (r->tx.epoch != TLS13_EPOCH_PLAINTEXT)
			return ERR_PROTO;
		if (r->role == TLS13_RECORD_CLIENT && r->tx_compat_0301)
			version = TLS_VERSION_10;
		break;
	case TLS_CT_ALERT:
		if (len != TLS_ALERT_LEN)
			return -EINVAL;
		if (r->tx.epoch != TLS13_EPOCH_PLAINTEXT)
			return ERR_PROTO;
		break;
	default:
		return -EINVAL;
	}
	if (cap < TLS_RECORD_HEADER_LEN + len)
		return -ENOSPC;
	put_header(out, type, version, len);
	memmove(out + TLS_RECORD_HEADER_LEN, data, len);
	*out_len = TLS_RECORD_HEADER_LEN + len;
	return 0;
}

int tls13_record_seal(struct tls13_record *r, uint8_t type, const uint8_t *data, size_t len, size_t pad,
                      uint8_t *out, size_t cap, size_t *out_len)
{
	static const uint8_t zeros[256];
	struct tls13_record_dir *d = &r->tx;
	uint8_t nonce[TLS_AEAD_NONCE_LEN];
	size_t inner, total, left;
	int n = 0;

	*out_len = 0;
	switch (type) {
	case TLS_CT_HANDSHAKE:
		if (len == 0)
			return -EINVAL;
		break;
	case TLS_CT_ALERT:
		if (len != TLS_ALERT_LEN)
			return -EINVAL;
		break;
	case TLS_CT_APPLICATION_DATA:
		break;
	default:
		return -EINVAL;
	}
	if (d->epoch == TLS13_EPOCH_PLAINTEXT || d->suite == SUITE_BROKEN || !d->ctx)
		return ERR_BADSTATE;
	if (len > TLS_MAX_INNER - 1 || pad > TLS_MAX_INNER - 1 - len)
		return ERR_TOOBIG;
	inner = len + 1 + pad;
	total = TLS_RECORD_HEADER_LEN + inner + TLS_AEAD_TAG_LEN;
	if (cap < total)
		return -ENOSPC;
	if (d->seq == TLS_SEQ_MAX)
		return ERR_RANGE;

	put_header(out, TLS_CT_APPLICATION_DATA, TLS_VERSION_12, inner + TLS_AEAD_TAG_LEN);
	make_nonce(d, nonce);
	if (!EVP_EncryptInit_ex(d->ctx, NULL, NULL, NULL, nonce) ||
	    !EVP_EncryptUpdate(d->ctx, NULL, &n, out, TLS_RECORD_HEADER_LEN))
		goto crypto;
	if (len && (!EVP_EncryptUpdate(d->ctx, out + TLS_RECORD_HEADER_LEN, &n, data, (int)len) ||
	            (size_t)n != len))
		goto crypto;
	if (!EVP_EncryptUpdate(d->ctx, out + TLS_RECORD_HEADER_LEN + len, &n, &type, 1) || n != 1)
		goto crypto;
	for (left = pad; left;) {
		size_t k = left < sizeof(zeros) ? left : sizeof(zeros);
		if (!EVP_EncryptUpdate(d->ctx, out + TLS_RECORD_HEADER_LEN + inner - left, &n, zeros, (int)k) ||
		    (size_t)n != k)
			goto crypto;
		left -= k;
	}
	if (!EVP_EncryptFinal_ex(d->ctx, out + TLS_RECORD_HEADER_LEN + inner, &n) || n != 0 ||
	    !EVP_CIPHER_CTX_ctrl(d->ctx, EVP_CTRL_AEAD_GET_TAG, TLS_AEAD_TAG_LEN,
	                         out + TLS_RECORD_HEADER_LEN + inner))
		goto crypto;
	d->seq++;
	*out_len = total;
	return 0;
crypto:
	OPENSSL_cleanse(out, total);
	return ERR_CRYPTO;
}

int tls13_record_seal_to_size(struct tls13_record *r, uint8_t type, const uint8_t *data, size_t len,
                              size_t record_len, uint8_t *out, size_t cap, size_t *out_len)
{
	size_t pad;

	*out_len = 0;
	if (record_len < TLS_RECORD_OVERHEAD || len > record_len - TLS_RECORD_OVERHEAD ||
	    record_len > TLS_RECORD_HEADER_LEN + TLS_MAX_INNER + TLS_AEAD_TAG_LEN)
		return ERR_RANGE;
	pad = record_len - TLS_RECORD_OVERHEAD - len;
	return tls13_record_seal(r, type, data, len, pad, out, cap, out_len);
}

bool tls13_record_tx_should_update(const struct tls13_record *r)
{
	return r->tx.epoch == TLS13_EPOCH_APPLICATION && r->tx.seq >= TLS_REKEY_AFTER_RECORDS;
}

int tls13_record_alert_parse(const uint8_t *data, size_t len, uint8_t *level, uint8_t *desc)
{
	if (len != TLS_ALERT_LEN)
		return ERR_PARSE;
	*level = data[0];
	*desc = data[1];
	return 0;
}

bool tls13_record_alert_is_closure(uint8_t desc)
{
	return desc == TLS_ALERT_CLOSE_NOTIFY || desc == TLS_ALERT_USER_CANCELED;
}

void tls13_record_reasm_init(struct tls13_record_reasm *h, size_t max_body)
{
	if (!max_body)
		max_body = TLS_HS_REASM_MAX;
	if (max_body > TLS_HS_MAX_BODY)
		max_body = TLS_HS_MAX_BODY;
	h->max_body = max_body;
	h->taken = 0;
	/* A partial message plus one record's content (see the header). */
	buf_init(&h->b, TLS_HS_HEADER_LEN + max_body + TLS_MAX_INNER);
}

void tls13_record_reasm_fini(struct tls13_record_reasm *h)
{
	if (!h)
		return;
	buf_fini_secret(&h->b);
	h->taken = 0;
}

static void drop_taken(struct tls13_record_reasm *h)
{
	if (h->taken) {
		buf_consume(&h->b, h->taken);
		h->taken = 0;
	}
}

int tls13_record_reasm_add(struct tls13_record_reasm *h, const uint8_t *data, size_t len)
{
	drop_taken(h);
	if (len == 0)
		return ERR_PARSE;
	return buf_append(&h->b, data, len);
}

int tls13_record_reasm_next(struct tls13_record_reasm *h, struct tls13_record_hs_msg *m)
{
	size_t body_len;

	drop_taken(h);
	if (h->b.len < TLS_HS_HEADER_LEN)
		return 0;
	body_len = tls_get_u24(h->b.data + 1);
	if (body_len > h->max_body)
		return ERR_TOOBIG;
	if (h->b.len - TLS_HS_HEADER_LEN < body_len)
		return 0;
	m->type = h->b.data[0];
	m->msg = h->b.data;
	m->msg_len = TLS_HS_HEADER_LEN + body_len;
	m->body = h->b.data + TLS_HS_HEADER_LEN;
	m->body_len = body_len;
	h->taken = m->msg_len;
	return 1;
}

bool tls13_record_reasm_empty(const struct tls13_record_reasm *h)
{
	return h->b.len == h->taken;
}
