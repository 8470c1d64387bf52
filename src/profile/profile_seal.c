/* .pharos files: seal and open (DESIGN.md §11, "Profiles as built").
 *
 * A file is one JSON object: the header fields fmt, v, enc; the key material
 * the mode needs; nonce and payload; signer and signature. The AEAD's
 * associated data is the canonical header text, and the Ed25519 signature
 * covers a length-prefixed encoding of every other field, so no field can be
 * changed, added to the signed set or moved between fields. Open checks the
 * signature before it derives any key. */
#include "profile/profile.h"

#include <errno.h>
#include <jansson.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>

#include "lib/enc.h"
#include "lib/mem.h"
#include "lib/text.h"
#include "profile/profile_int.h"

#define FMT "pharos-profile"
#define FILE_V 1
#define SIG_DOMAIN "pharos-profile-signature-v1"
#define WRAP_LABEL "pharos-profile-v1-account-wrap"
#define SALT_LEN crypto_pwhash_SALTBYTES                 /* 16 */
#define NONCE_LEN crypto_aead_xchacha20poly1305_ietf_NPUBBYTES /* 24 */
#define TAG_LEN crypto_aead_xchacha20poly1305_ietf_ABYTES      /* 16 */
#define WRAPPED_LEN (PROFILE_KEY_LEN + TAG_LEN)
#define SIG_LEN crypto_sign_BYTES
#define HEADER_MAX 64

_Static_assert(SALT_LEN == 16, "Argon2id salt is 16 bytes");
_Static_assert(crypto_aead_xchacha20poly1305_ietf_KEYBYTES == PROFILE_KEY_LEN, "data key size");

/* Everything a file holds, decoded. */
struct sealed {
	enum profile_enc enc;
	uint8_t salt[SALT_LEN];
	uint64_t opslimit, memlimit;
	uint8_t recipient[PROFILE_KEY_LEN], epk[PROFILE_KEY_LEN];
	uint8_t wrap_nonce[NONCE_LEN], wrapped[WRAPPED_LEN];
	uint8_t nonce[NONCE_LEN];
	uint8_t *payload;
	size_t payload_len;
	uint8_t signer[PROFILE_KEY_LEN], sig[SIG_LEN];
};

/* The associated data: {"fmt":"pharos-profile","v":1,"enc":"<enc>"}. */
static size_t header_text(enum profile_enc enc, char out[HEADER_MAX])
{
	return (size_t)snprintf(out, HEADER_MAX, "{\"fmt\":\"" FMT "\",\"v\":%d,\"enc\":\"%s\"}", FILE_V,
				profile_enc_name(enc));
}

static void be64(uint8_t out[8], uint64_t v)
{
	for (int i = 7; i >= 0; i--, v >>= 8)
		out[i] = (uint8_t)v;
}

/* SIG_DOMAIN, then each field as an 8-byte big-endian length and its
 * bytes: header, signer, the mode's fields (password: salt, opslimit,
 * memlimit as 8-byte big-endian numbers; account: recipient, epk,
 * wrap_nonce, wrapped_key), nonce (empty for none), payload. */
static int signed_message(const struct sealed *s, uint8_t **out, size_t *out_len)
{
	char header[HEADER_MAX];
	uint8_t ops[8], mem[8];
	struct {
		const void *p;
		size_t n;
	} f[10];
	size_t nf = 0, total = sizeof(SIG_DOMAIN) - 1, o;

	f[nf].p = header, f[nf++].n = header_text(s->enc, header);
	f[nf].p = s->signer, f[nf++].n = PROFILE_KEY_LEN;
	if (s->enc == PROFILE_ENC_PASSWORD) {
		be64(ops, s->opslimit);
		be64(mem, s->memlimit);
		f[nf].p = s->salt, f[nf++].n = SALT_LEN;
		f[nf].p = ops, f[nf++].n = 8;
		f[nf].p = mem, f[nf++].n = 8;
	} else if (s->enc == PROFILE_ENC_ACCOUNT) {
		f[nf].p = s->recipient, f[nf++].n = PROFILE_KEY_LEN;
		f[nf].p = s->epk, f[nf++].n = PROFILE_KEY_LEN;
		f[nf].p = s->wrap_nonce, f[nf++].n = NONCE_LEN;
		f[nf].p = s->wrapped, f[nf++].n = WRAPPED_LEN;
	}
	f[nf].p = s->nonce, f[nf++].n = s->enc == PROFILE_ENC_NONE ? 0 : NONCE_LEN;
	f[nf].p = s->payload, f[nf++].n = s->payload_len;
	for (size_t i = 0; i < nf; i++)
		total += 8 + f[i].n;
	uint8_t *m = mem_alloc(total);
	if (!m)
		return -ENOMEM;
	memcpy(m, SIG_DOMAIN, o = sizeof(SIG_DOMAIN) - 1);
	for (size_t i = 0; i < nf; i++) {
		be64(m + o, f[i].n);
		if (f[i].n)
			memcpy(m + o + 8, f[i].p, f[i].n);
		o += 8 + f[i].n;
	}
	*out = m;
	*out_len = total;
	return 0;
}

/* wrap key = BLAKE2b-256(key = X25519 shared secret,
 *                        WRAP_LABEL || epk || recipient public key). */
static int wrap_key(uint8_t out[PROFILE_KEY_LEN], const uint8_t *x25519_sk, const uint8_t *peer_pk,
		    const uint8_t *epk, const uint8_t *recipient)
{
	uint8_t shared[crypto_scalarmult_BYTES];
	crypto_generichash_state st;
	int rc = ERR_CRYPTO;

	if (crypto_scalarmult(shared, x25519_sk, peer_pk) != 0)
		goto out;
	if (crypto_generichash_init(&st, shared, sizeof(shared), PROFILE_KEY_LEN) != 0 ||
	    crypto_generichash_update(&st, (const uint8_t *)WRAP_LABEL, sizeof(WRAP_LABEL) - 1) != 0 ||
	    crypto_generichash_update(&st, epk, PROFILE_KEY_LEN) != 0 ||
	    crypto_generichash_update(&st, recipient, PROFILE_KEY_LEN) != 0 ||
	    crypto_generichash_final(&st, out, PROFILE_KEY_LEN) != 0)
		goto out;
	rc = 0;
out:
	sodium_memzero(shared, sizeof(shared));
	sodium_memzero(&st, sizeof(st));
	return rc;
}

static void sealed_fini(struct sealed *s)
{
	if (s->payload)
		mem_free_secret(s->payload, s->payload_len);
	sodium_memzero(s, sizeof(*s));
}

/* ---- writing --------------------------------------------------------------- */

static int put(json_t *o, const char *key, json_t *v)
{
	return json_object_set_new(o, key, v) == 0 ? 0 : -ENOMEM;
}

static int put_b64(json_t *o, const char *key, const uint8_t *p, size_t n)
{
	size_t cap = ENC_BASE64_LEN(n);
	char *b = mem_alloc(cap);
	int rc = -ENOMEM;
	if (b && enc_base64_encode(b, cap, p, n) == 0)
		rc = put(o, key, json_string_nocheck(b));
	if (b)
		mem_free_secret(b, cap);
	return rc;
}

static int put_u64(json_t *o, const char *key, uint64_t v)
{
	return put(o, key, json_integer((json_int_t)v));
}

static int file_to_json(const struct sealed *s, uint8_t **file, size_t *file_len)
{
	json_t *o = json_object();
	char *text = NULL;
	int rc = o ? 0 : -ENOMEM;

	if (!rc)
		rc = put(o, "fmt", json_string(FMT));
	if (!rc)
		rc = put(o, "v", json_integer(FILE_V));
	if (!rc)
		rc = put(o, "enc", json_string(profile_enc_name(s->enc)));
	if (!rc && s->enc == PROFILE_ENC_PASSWORD) {
		if (!(rc = put_b64(o, "salt", s->salt, SALT_LEN)) && !(rc = put_u64(o, "opslimit", s->opslimit)))
			rc = put_u64(o, "memlimit", s->memlimit);
	} else if (!rc && s->enc == PROFILE_ENC_ACCOUNT) {
		if (!(rc = put_b64(o, "recipient", s->recipient, PROFILE_KEY_LEN)) &&
		    !(rc = put_b64(o, "epk", s->epk, PROFILE_KEY_LEN)) &&
		    !(rc = put_b64(o, "wrap_nonce", s->wrap_nonce, NONCE_LEN)))
			rc = put_b64(o, "wrapped_key", s->wrapped, WRAPPED_LEN);
	}
	if (!rc && s->enc != PROFILE_ENC_NONE)
		rc = put_b64(o, "nonce", s->nonce, NONCE_LEN);
	if (!rc)
		rc = put_b64(o, "payload", s->payload, s->payload_len);
	if (!rc)
		rc = put_b64(o, "signer", s->signer, PROFILE_KEY_LEN);
	if (!rc)
		rc = put_b64(o, "signature", s->sig, SIG_LEN);
	if (!rc && !(text = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER)))
		rc = -ENOMEM;
	json_decref(o);
	if (rc < 0)
		return rc;
	size_t n = strlen(text);
	if (!(*file = mem_alloc(n + 1))) {
		mem_free_secret(text, n + 1);
		return -ENOMEM;
	}
	memcpy(*file, text, n);
	(*file)[n] = '\n';
	*file_len = n + 1;
	mem_free_secret(text, n + 1);
	return 0;
}

static int seal_args_check(const char *json, size_t len, const struct profile_seal_args *a)
{
	struct profile check;
	int rc;

	if (!a || !a->signing_sk || (unsigned)a->enc > PROFILE_ENC_ACCOUNT)
		return -EINVAL;
	if (a->enc == PROFILE_ENC_ACCOUNT && !a->recipient)
		return -EINVAL;
	if (a->enc == PROFILE_ENC_PASSWORD &&
	    (!a->password || !a->password[0] || strnlen(a->password, PROFILE_PASSWORD_MAX + 1) > PROFILE_PASSWORD_MAX))
		return -EINVAL;
	if ((a->opslimit && (a->opslimit < crypto_pwhash_OPSLIMIT_MIN || a->opslimit > PROFILE_PWHASH_OPSLIMIT_MAX)) ||
	    (a->memlimit && (a->memlimit < crypto_pwhash_MEMLIMIT_MIN || a->memlimit > PROFILE_PWHASH_MEMLIMIT_MAX)))
		return -EINVAL;
	if (len > PROFILE_JSON_MAX)
		return ERR_TOOBIG;
	if (memchr(json, '\0', len))
		return ERR_PARSE;
	if (a->unchecked)
		return 0;
	rc = profile_parse(json, len, &check, NULL, 0);
	profile_free(&check);
	return rc;
}

int profile_seal(const char *json, size_t len, const struct profile_seal_args *a, uint8_t **file, size_t *file_len)
{
	struct sealed s = { 0 };
	uint8_t data_key[PROFILE_KEY_LEN], kek[PROFILE_KEY_LEN], esk[PROFILE_KEY_LEN];
	char header[HEADER_MAX];
	uint8_t *msg = NULL;
	size_t msg_len = 0, hlen;
	int rc;

	profile_json_setup();
	*file = NULL;
	*file_len = 0;
	if ((rc = seal_args_check(json, len, a)) < 0)
		return rc;
	s.enc = a->enc;
	hlen = header_text(s.enc, header);
	crypto_sign_ed25519_sk_to_pk(s.signer, a->signing_sk);
	s.payload_len = len + (s.enc == PROFILE_ENC_NONE ? 0 : TAG_LEN);
	if (!(s.payload = mem_alloc(s.payload_len))) {
		rc = -ENOMEM;
		goto out;
	}
	if (s.enc == PROFILE_ENC_NONE) {
		memcpy(s.payload, json, len);
	} else {
		if (s.enc == PROFILE_ENC_PASSWORD) {
			s.opslimit = a->opslimit ? a->opslimit : PROFILE_PWHASH_OPSLIMIT;
			s.memlimit = a->memlimit ? a->memlimit : PROFILE_PWHASH_MEMLIMIT;
			randombytes_buf(s.salt, SALT_LEN);
			if (crypto_pwhash(data_key, sizeof(data_key), a->password, strlen(a->password), s.salt,
					  s.opslimit, (size_t)s.memlimit, crypto_pwhash_ALG_ARGON2ID13) != 0) {
				rc = -ENOMEM;
				goto out;
			}
		} else {
			memcpy(s.recipient, a->recipient, PROFILE_KEY_LEN);
			randombytes_buf(data_key, sizeof(data_key));
			randombytes_buf(esk, sizeof(esk));
			crypto_scalarmult_base(s.epk, esk);
			if ((rc = wrap_key(kek, esk, s.recipient, s.epk, s.recipient)) < 0)
				goto out;
			randombytes_buf(s.wrap_nonce, NONCE_LEN);
			crypto_aead_xchacha20poly1305_ietf_encrypt(s.wrapped, NULL, data_key, sizeof(data_key),
								   (const uint8_t *)header, hlen, NULL, s.wrap_nonce, kek);
		}
		randombytes_buf(s.nonce, NONCE_LEN);
		crypto_aead_xchacha20poly1305_ietf_encrypt(s.payload, NULL, (const uint8_t *)json, len,
							   (const uint8_t *)header, hlen, NULL, s.nonce, data_key);
	}
	if ((rc = signed_message(&s, &msg, &msg_len)) < 0)
		goto out;
	crypto_sign_detached(s.sig, NULL, msg, msg_len, a->signing_sk);
	rc = file_to_json(&s, file, file_len);
out:
	if (msg)
		mem_free_secret(msg, msg_len);
	sodium_memzero(data_key, sizeof(data_key));
	sodium_memzero(kek, sizeof(kek));
	sodium_memzero(esk, sizeof(esk));
	sealed_fini(&s);
	return rc;
}

/* ---- reading --------------------------------------------------------------- */

struct rctx {
	char *err;
	size_t errlen;
};

static int get_b64(struct rctx *c, json_t *o, const char *key, uint8_t *out, size_t len)
{
	json_t *v = json_object_get(o, key);
	if (!v)
		return profile_seterr(c->err, c->errlen, ERR_PARSE, "%s: missing", key);
	if (!json_is_string(v) || profile_b64_exact(out, len, json_string_value(v)) < 0)
		return profile_seterr(c->err, c->errlen, ERR_PARSE, "%s: want %zu bytes in standard base64", key, len);
	return 0;
}

static int get_u64(struct rctx *c, json_t *o, const char *key, uint64_t lo, uint64_t hi, uint64_t *out)
{
	json_t *v = json_object_get(o, key);
	if (!v || !json_is_integer(v))
		return profile_seterr(c->err, c->errlen, ERR_PARSE, "%s: %s", key, v ? "want an integer" : "missing");
	json_int_t x = json_integer_value(v);
	if (x < 0 || (uint64_t)x < lo || (uint64_t)x > hi)
		return profile_seterr(c->err, c->errlen, ERR_RANGE, "%s: %lld is out of range (%llu..%llu)", key,
				      (long long)x, (unsigned long long)lo, (unsigned long long)hi);
	*out = (uint64_t)x;
	return 0;
}

/* Parses the JSON and checks the header. On success *root is the object. */
static int load(struct rctx *c, const uint8_t *file, size_t len, json_t **root, enum profile_enc *enc)
{
	char q[TEXT_QUOTE_BUF(40)];
	json_error_t jerr;
	json_t *fmt, *v, *e;

	*root = NULL;
	if (len > PROFILE_FILE_MAX)
		return profile_seterr(c->err, c->errlen, ERR_TOOBIG, "file: %zu bytes, at most %d", len,
				      PROFILE_FILE_MAX);
	json_t *o = json_loadb((const char *)file, len, JSON_REJECT_DUPLICATES, &jerr);
	if (!o) {
		if (json_error_code(&jerr) == json_error_out_of_memory)
			return -ENOMEM;
		return profile_seterr(c->err, c->errlen, ERR_PARSE, "not a .pharos file: not JSON (%s at line %d)",
				      jerr.text, jerr.line);
	}
	fmt = json_object_get(o, "fmt");
	v = json_object_get(o, "v");
	e = json_object_get(o, "enc");
	if (!json_is_object(o) || !json_is_string(fmt) || strcmp(json_string_value(fmt), FMT) != 0) {
		json_decref(o);
		return profile_seterr(c->err, c->errlen, ERR_PARSE, "not a .pharos file: fmt is not \"" FMT "\"");
	}
	if (!json_is_integer(v) || json_integer_value(v) < 1) {
		json_decref(o);
		return profile_seterr(c->err, c->errlen, ERR_PARSE, "v: want a positive integer");
	}
	if (json_integer_value(v) != FILE_V) {
		int rc = profile_seterr(c->err, c->errlen, ERR_PROTO,
					"v: file version %lld is newer than this program reads (%d)",
					(long long)json_integer_value(v), FILE_V);
		json_decref(o);
		return rc;
	}
	if (!json_is_string(e) || profile_enc_parse(json_string_value(e), enc) < 0) {
		int rc = profile_seterr(c->err, c->errlen, ERR_PARSE, "enc: %s is not none, password or account",
					json_is_string(e) ? text_quote(q, 40, json_string_value(e),
								       json_string_length(e))
							  : "(missing or not a string)");
		json_decref(o);
		return rc;
	}
	*root = o;
	return 0;
}

int profile_file_enc(const uint8_t *file, size_t len, enum profile_enc *enc, char *err, size_t errlen)
{
	struct rctx c = { err, errlen };
	json_t *root;
	profile_json_setup();
	int rc = load(&c, file, len, &root, enc);
	json_decref(root);
	return rc;
}

static int parse_fields(struct rctx *c, json_t *o, struct sealed *s)
{
	json_t *p;
	int rc;

	if (s->enc == PROFILE_ENC_PASSWORD) {
		if ((rc = get_b64(c, o, "salt", s->salt, SALT_LEN)) < 0 ||
		    (rc = get_u64(c, o, "opslimit", crypto_pwhash_OPSLIMIT_MIN, PROFILE_PWHASH_OPSLIMIT_MAX,
				  &s->opslimit)) < 0 ||
		    (rc = get_u64(c, o, "memlimit", crypto_pwhash_MEMLIMIT_MIN, PROFILE_PWHASH_MEMLIMIT_MAX,
				  &s->memlimit)) < 0)
			return rc;
	} else if (s->enc == PROFILE_ENC_ACCOUNT) {
		if ((rc = get_b64(c, o, "recipient", s->recipient, PROFILE_KEY_LEN)) < 0 ||
		    (rc = get_b64(c, o, "epk", s->epk, PROFILE_KEY_LEN)) < 0 ||
		    (rc = get_b64(c, o, "wrap_nonce", s->wrap_nonce, NONCE_LEN)) < 0 ||
		    (rc = get_b64(c, o, "wrapped_key", s->wrapped, WRAPPED_LEN)) < 0)
			return rc;
	}
	if (s->enc != PROFILE_ENC_NONE && (rc = get_b64(c, o, "nonce", s->nonce, NONCE_LEN)) < 0)
		return rc;
	if ((rc = get_b64(c, o, "signer", s->signer, PROFILE_KEY_LEN)) < 0 ||
	    (rc = get_b64(c, o, "signature", s->sig, SIG_LEN)) < 0)
		return rc;
	p = json_object_get(o, "payload");
	if (!json_is_string(p))
		return profile_seterr(c->err, c->errlen, ERR_PARSE, "payload: %s", p ? "want a string" : "missing");
	size_t cap = json_string_length(p) / 4 * 3;
	size_t overhead = s->enc == PROFILE_ENC_NONE ? 0 : TAG_LEN;
	if (cap > PROFILE_JSON_MAX + overhead + 2)
		return profile_seterr(c->err, c->errlen, ERR_TOOBIG, "payload: larger than %d bytes", PROFILE_JSON_MAX);
	if (!(s->payload = mem_alloc(cap ? cap : 1)))
		return -ENOMEM;
	s->payload_len = cap;
	rc = enc_base64_decode(s->payload, cap, json_string_value(p), &s->payload_len);
	if (rc < 0 || strlen(json_string_value(p)) != json_string_length(p)) {
		s->payload_len = cap;
		return profile_seterr(c->err, c->errlen, ERR_PARSE, "payload: not standard base64");
	}
	if (s->payload_len < overhead || s->payload_len - overhead > PROFILE_JSON_MAX)
		return profile_seterr(c->err, c->errlen, s->payload_len < overhead ? ERR_PARSE : ERR_TOOBIG,
				      "payload: %zu bytes, want %zu..%zu", s->payload_len, overhead,
				      (size_t)PROFILE_JSON_MAX + overhead);
	return 0;
}

static int verify(struct rctx *c, const struct sealed *s, const uint8_t *pin)
{
	char have[ENC_KEY_BASE64_LEN], want[ENC_KEY_BASE64_LEN];
	uint8_t *msg = NULL;
	size_t msg_len;
	int rc;

	if (pin && sodium_memcmp(pin, s->signer, PROFILE_KEY_LEN) != 0) {
		enc_key_to_base64(have, s->signer);
		enc_key_to_base64(want, pin);
		return profile_seterr(c->err, c->errlen, ERR_AUTH,
				      "signed by %s, not by the fleet's profile-signing key %s", have, want);
	}
	if ((rc = signed_message(s, &msg, &msg_len)) < 0)
		return rc;
	if (crypto_sign_verify_detached(s->sig, msg, msg_len, s->signer) != 0)
		rc = profile_seterr(c->err, c->errlen, ERR_AUTH,
				    "the signature does not verify: the file was changed or damaged");
	mem_free_secret(msg, msg_len); /* for enc=none it holds the profile */
	return rc;
}

/* The data key the payload was sealed under, from the password or the device key. */
static int data_key(struct rctx *c, const struct sealed *s, const struct profile_open_args *a, const char *header,
		    size_t hlen, uint8_t out[PROFILE_KEY_LEN])
{
	uint8_t pk[PROFILE_KEY_LEN], kek[PROFILE_KEY_LEN];
	char have[ENC_KEY_BASE64_LEN], want[ENC_KEY_BASE64_LEN];
	int rc;

	if (s->enc == PROFILE_ENC_PASSWORD) {
		if (!a || !a->password)
			return profile_seterr(c->err, c->errlen, -EINVAL, "this file is sealed with a password; none given");
		if (crypto_pwhash(out, PROFILE_KEY_LEN, a->password, strlen(a->password), s->salt, s->opslimit,
				  (size_t)s->memlimit, crypto_pwhash_ALG_ARGON2ID13) != 0)
			return profile_seterr(c->err, c->errlen, -ENOMEM, "Argon2id: out of memory");
		return 0;
	}
	if (!a || !a->device_sk)
		return profile_seterr(c->err, c->errlen, -EINVAL, "this file is sealed to a device key; none given");
	crypto_scalarmult_base(pk, a->device_sk);
	if (memcmp(pk, s->recipient, PROFILE_KEY_LEN) != 0) {
		enc_key_to_base64(have, pk);
		enc_key_to_base64(want, s->recipient);
		return profile_seterr(c->err, c->errlen, ERR_AUTH,
				      "sealed to the device key %s, not to this device (%s)", want, have);
	}
	rc = wrap_key(kek, a->device_sk, s->epk, s->epk, s->recipient);
	if (rc == 0 && crypto_aead_xchacha20poly1305_ietf_decrypt(out, NULL, NULL, s->wrapped, WRAPPED_LEN,
								  (const uint8_t *)header, hlen, s->wrap_nonce,
								  kek) != 0)
		rc = ERR_AUTH;
	if (rc < 0)
		profile_seterr(c->err, c->errlen, rc, "the wrapped data key does not open with this device key");
	sodium_memzero(kek, sizeof(kek));
	return rc;
}

int profile_open(const uint8_t *file, size_t len, const struct profile_open_args *a, uint8_t signer_pk[PROFILE_KEY_LEN],
		 char **json, size_t *json_len, char *err, size_t errlen)
{
	struct rctx c = { err, errlen };
	struct sealed s = { 0 };
	uint8_t key[PROFILE_KEY_LEN];
	char header[HEADER_MAX];
	json_t *root = NULL;
	char *plain = NULL;
	size_t plain_len = 0, hlen;
	int rc;

	profile_json_setup();
	*json = NULL;
	*json_len = 0;
	memset(signer_pk, 0, PROFILE_KEY_LEN);
	if (errlen)
		err[0] = '\0';
	if ((rc = load(&c, file, len, &root, &s.enc)) < 0 || (rc = parse_fields(&c, root, &s)) < 0 ||
	    (rc = verify(&c, &s, a ? a->signer_pin : NULL)) < 0)
		goto out;
	json_decref(root);
	root = NULL;
	hlen = header_text(s.enc, header);
	plain_len = s.payload_len - (s.enc == PROFILE_ENC_NONE ? 0 : TAG_LEN);
	if (!(plain = mem_alloc(plain_len + 1))) {
		rc = -ENOMEM;
		goto out;
	}
	if (s.enc == PROFILE_ENC_NONE) {
		memcpy(plain, s.payload, plain_len);
	} else {
		if ((rc = data_key(&c, &s, a, header, hlen, key)) < 0)
			goto out;
		if (crypto_aead_xchacha20poly1305_ietf_decrypt((uint8_t *)plain, NULL, NULL, s.payload, s.payload_len,
							       (const uint8_t *)header, hlen, s.nonce, key) != 0) {
			rc = profile_seterr(c.err, c.errlen, ERR_AUTH,
					    s.enc == PROFILE_ENC_PASSWORD ? "wrong password (or a damaged file)"
									  : "the payload does not decrypt");
			goto out;
		}
	}
	plain[plain_len] = '\0';
	if (memchr(plain, '\0', plain_len)) {
		rc = profile_seterr(c.err, c.errlen, ERR_PARSE, "payload: not JSON text (contains a NUL byte)");
		goto out;
	}
	memcpy(signer_pk, s.signer, PROFILE_KEY_LEN);
	*json = plain;
	*json_len = plain_len;
	plain = NULL;
	rc = 0;
out:
	if (rc == -ENOMEM && errlen && !err[0])
		profile_seterr(err, errlen, rc, "out of memory");
	if (plain)
		mem_free_secret(plain, plain_len + 1);
	json_decref(root);
	sodium_memzero(key, sizeof(key));
	sealed_fini(&s);
	return rc;
}
