/* Trust anchors, revocation and peer verification (pki.h). */
#include "pki/pki.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include <openssl/asn1.h>
#include <openssl/err.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "lib/mem.h"
#include "pki/pki_int.h"

/* One CRL per intermediate certificate; a re-keyed intermediate is another
 * certificate, so a few slots cover a rollover. */
#define TRUST_CRLS_MAX 8

struct trust_crl {
	X509_CRL *crl;
	X509 *issuer; /* the intermediate that signed it, checked when added */
};

/* An open-addressing hash set of serials; used_len is len + 1, 0 = empty. */
struct serial_slot {
	uint8_t used_len;
	uint8_t bytes[PKI_SERIAL_MAX];
};

struct pki_trust {
	X509_STORE *store; /* roots only */
	struct trust_crl crls[TRUST_CRLS_MAX];
	size_t n_crls;
	struct serial_slot *slots;
	size_t n_slots; /* 0 or a power of two, at least twice n_revoked */
	size_t n_revoked;
};

static void errf(char *err, size_t errlen, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void errf(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;
	if (!err || !errlen)
		return;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
}

int pki_trust_new(struct pki_trust **out)
{
	struct pki_trust *t;

	*out = NULL;
	t = mem_zalloc(sizeof(*t));
	if (!t)
		return -ENOMEM;
	t->store = X509_STORE_new();
	if (!t->store) {
		mem_free(t);
		return pki_ossl_fail();
	}
	*out = t;
	return 0;
}

void pki_trust_free(struct pki_trust *t)
{
	if (!t)
		return;
	X509_STORE_free(t->store);
	for (size_t i = 0; i < t->n_crls; i++) {
		X509_CRL_free(t->crls[i].crl);
		X509_free(t->crls[i].issuer);
	}
	mem_free(t->slots);
	mem_free(t);
}

int pki_trust_add_root(struct pki_trust *t, X509 *root)
{
	if (!t || !root)
		return -EINVAL;
	bool ok = X509_check_ca(root) == 1 && X509_self_signed(root, 1) == 1 &&
		  pki_key_check(X509_get0_pubkey(root), NULL) == 0;
	ERR_clear_error();
	if (!ok)
		return ERR_CRYPTO;
	return X509_STORE_add_cert(t->store, root) == 1 ? 0 : pki_ossl_fail();
}

int pki_trust_load_roots(struct pki_trust *t, const char *path)
{
	X509 *first = NULL;
	STACK_OF(X509) *rest = NULL;
	int rc;

	if (!t)
		return -EINVAL;
	rc = pki_cert_load(path, &first, &rest);
	if (rc < 0)
		return rc;
	rc = pki_trust_add_root(t, first);
	for (int i = 0; !rc && i < sk_X509_num(rest); i++)
		rc = pki_trust_add_root(t, sk_X509_value(rest, i));
	X509_free(first);
	sk_X509_pop_free(rest, X509_free);
	return rc;
}

/* Whether ca is one of our intermediates under a root of t: a CA named
 * Fleet CA or Device CA whose chain is exactly (ca, root). Validity dates
 * are not checked here; pki_verify_peer checks them on every use. */
static bool intermediate_trusted(const struct pki_trust *t, X509 *ca)
{
	X509_STORE_CTX *ctx = X509_STORE_CTX_new();
	const X509_NAME *name = X509_get_subject_name(ca);
	bool ok = ctx && X509_check_ca(ca) == 1 &&
		  (pki_name_has_cn(name, pki_ca_cn(PKI_CA_FLEET)) || pki_name_has_cn(name, pki_ca_cn(PKI_CA_DEVICE)));

	if (ok && X509_STORE_CTX_init(ctx, t->store, ca, NULL) == 1) {
		X509_VERIFY_PARAM *param = X509_STORE_CTX_get0_param(ctx);
		X509_VERIFY_PARAM_set_flags(param, X509_V_FLAG_X509_STRICT | X509_V_FLAG_NO_CHECK_TIME);
		X509_VERIFY_PARAM_set_depth(param, 0);
		ok = X509_verify_cert(ctx) == 1 && sk_X509_num(X509_STORE_CTX_get0_chain(ctx)) == 2;
	} else {
		ok = false;
	}
	X509_STORE_CTX_free(ctx);
	ERR_clear_error();
	return ok;
}

int pki_trust_add_crl(struct pki_trust *t, X509_CRL *crl, X509 *issuer)
{
	struct trust_crl *slot = NULL;

	if (!t || !crl || !issuer)
		return -EINVAL;
	if (!intermediate_trusted(t, issuer))
		return ERR_AUTH;
	bool signed_ok = X509_NAME_cmp(X509_CRL_get_issuer(crl), X509_get_subject_name(issuer)) == 0 &&
			 X509_CRL_verify(crl, X509_get0_pubkey(issuer)) == 1;
	ERR_clear_error();
	if (!signed_ok)
		return ERR_AUTH;
	for (size_t i = 0; i < t->n_crls; i++) {
		if (X509_cmp(t->crls[i].issuer, issuer) == 0) {
			slot = &t->crls[i];
			break;
		}
	}
	if (slot && ASN1_TIME_compare(X509_CRL_get0_lastUpdate(crl), X509_CRL_get0_lastUpdate(slot->crl)) < 0)
		return ERR_REPLAY;
	if (!slot) {
		if (t->n_crls == TRUST_CRLS_MAX)
			return ERR_TOOBIG;
		slot = &t->crls[t->n_crls++];
		slot->issuer = issuer;
		X509_up_ref(issuer);
	} else {
		X509_CRL_free(slot->crl);
	}
	X509_CRL_up_ref(crl);
	slot->crl = crl;
	return 0;
}

int pki_trust_load_crl(struct pki_trust *t, const char *path)
{
	X509_CRL *crl = NULL;
	X509 *issuer = NULL;
	int rc;

	if (!t)
		return -EINVAL;
	rc = pki_crl_load(path, &crl, &issuer);
	if (!rc)
		rc = pki_trust_add_crl(t, crl, issuer);
	X509_CRL_free(crl);
	X509_free(issuer);
	return rc;
}

/* ---- the serial set -------------------------------------------------------- */

/* FNV-1a: serials are random numbers our own CA drew, so no adversary picks
 * them to collide. */
static size_t serial_hash(const struct pki_serial *s)
{
	uint64_t h = 14695981039346656037ull;
	h = (h ^ s->len) * 1099511628211ull;
	for (size_t i = 0; i < s->len; i++)
		h = (h ^ s->bytes[i]) * 1099511628211ull;
	return (size_t)h;
}

static bool slot_holds(const struct serial_slot *slot, const struct pki_serial *s)
{
	return slot->used_len == s->len + 1 && !memcmp(slot->bytes, s->bytes, s->len);
}

/* The slot holding s, or the empty slot where it would go. n_slots > 0. */
static struct serial_slot *find_slot(struct serial_slot *slots, size_t n_slots, const struct pki_serial *s)
{
	size_t i = serial_hash(s) & (n_slots - 1);
	while (slots[i].used_len && !slot_holds(&slots[i], s))
		i = (i + 1) & (n_slots - 1);
	return &slots[i];
}

static void put_slot(struct serial_slot *slot, const struct pki_serial *s)
{
	slot->used_len = (uint8_t)(s->len + 1);
	memcpy(slot->bytes, s->bytes, s->len);
}

bool pki_trust_serial_revoked(const struct pki_trust *t, const struct pki_serial *serial)
{
	if (!t || !t->n_slots || serial->len > PKI_SERIAL_MAX)
		return false;
	return find_slot(t->slots, t->n_slots, serial)->used_len != 0;
}

static int grow(struct pki_trust *t)
{
	size_t n = t->n_slots ? 2 * t->n_slots : 64;
	struct serial_slot *slots = mem_zalloc(n * sizeof(*slots));

	if (!slots)
		return -ENOMEM;
	for (size_t i = 0; i < t->n_slots; i++) {
		if (!t->slots[i].used_len)
			continue;
		struct pki_serial s = { .len = (size_t)t->slots[i].used_len - 1 };
		memcpy(s.bytes, t->slots[i].bytes, s.len);
		put_slot(find_slot(slots, n, &s), &s);
	}
	mem_free(t->slots);
	t->slots = slots;
	t->n_slots = n;
	return 0;
}

int pki_trust_revoke_serial(struct pki_trust *t, const struct pki_serial *serial)
{
	int rc;

	if (!t || !serial || serial->len > PKI_SERIAL_MAX)
		return -EINVAL;
	if (pki_trust_serial_revoked(t, serial))
		return 0;
	if (t->n_revoked >= PKI_REVOKED_MAX)
		return ERR_TOOBIG;
	/* Keep the load at most one half, so probes stay short. */
	if (2 * (t->n_revoked + 1) > t->n_slots) {
		rc = grow(t);
		if (rc < 0)
			return rc;
	}
	put_slot(find_slot(t->slots, t->n_slots, serial), serial);
	t->n_revoked++;
	return 0;
}

/* ---- verification ---------------------------------------------------------- */

static bool role_is_server(enum pki_role role)
{
	return role == PKI_ROLE_NODE || role == PKI_ROLE_RELAY;
}

/* The chain to the root, checked by OpenSSL: signatures, validity at now,
 * CA flags and path lengths, strict X.509 rules, the TLS purpose. */
static int verify_chain(X509 *leaf, STACK_OF(X509) *untrusted, const struct pki_trust *t, enum pki_role role,
			time_t now, STACK_OF(X509) **chain, char *err, size_t errlen)
{
	X509_STORE_CTX *ctx;
	X509_VERIFY_PARAM *param;
	int rc = 0, ok;

	*chain = NULL;
	ctx = X509_STORE_CTX_new();
	if (!ctx)
		return pki_ossl_fail();
	if (X509_STORE_CTX_init(ctx, t->store, leaf, untrusted) != 1) {
		rc = pki_ossl_fail();
		goto out;
	}
	param = X509_STORE_CTX_get0_param(ctx);
	X509_VERIFY_PARAM_set_time(param, now);
	X509_VERIFY_PARAM_set_flags(param, X509_V_FLAG_X509_STRICT);
	/* One intermediate between the leaf and the root, never more. */
	X509_VERIFY_PARAM_set_depth(param, 1);
	if (X509_VERIFY_PARAM_set_purpose(param, role_is_server(role) ? X509_PURPOSE_SSL_SERVER
								       : X509_PURPOSE_SSL_CLIENT) != 1) {
		rc = pki_ossl_fail();
		goto out;
	}
	ok = X509_verify_cert(ctx);
	if (ok < 0) {
		rc = pki_ossl_fail();
		errf(err, errlen, "certificate verification failed internally");
		goto out;
	}
	if (ok != 1) {
		int e = X509_STORE_CTX_get_error(ctx);
		errf(err, errlen, "certificate chain refused at depth %d: %s", X509_STORE_CTX_get_error_depth(ctx),
		     X509_verify_cert_error_string(e));
		rc = e == X509_V_ERR_CERT_HAS_EXPIRED || e == X509_V_ERR_CERT_NOT_YET_VALID ? -EKEYEXPIRED : ERR_AUTH;
		goto out;
	}
	*chain = X509_STORE_CTX_get1_chain(ctx);
	if (!*chain)
		rc = pki_ossl_fail();
out:
	X509_STORE_CTX_free(ctx);
	ERR_clear_error();
	return rc;
}

static bool revoked_by_crl(const struct pki_trust *t, X509 *intermediate, X509 *leaf)
{
	for (size_t i = 0; i < t->n_crls; i++) {
		X509_REVOKED *r = NULL;
		if (X509_cmp(t->crls[i].issuer, intermediate) == 0 && X509_CRL_get0_by_cert(t->crls[i].crl, &r, leaf) > 0)
			return true;
	}
	return false;
}

int pki_verify_peer(X509 *leaf, STACK_OF(X509) *untrusted, const struct pki_trust *t, enum pki_role role,
		    const char *id, time_t now, char *err, size_t errlen)
{
	STACK_OF(X509) *chain = NULL;
	enum pki_ca_kind want_ca = pki_role_ca(role);
	enum pki_role got = PKI_ROLE_NONE;
	char got_id[PKI_ID_MAX + 1];
	struct pki_serial serial;
	char hex[PKI_SERIAL_HEX_LEN];
	uint32_t want_xku = role_is_server(role) ? XKU_SSL_SERVER : XKU_SSL_CLIENT;
	int rc;

	errf(err, errlen, "%s", "");
	if (!leaf || !t || want_ca == PKI_CA_NONE || (id && !pki_id_valid(id))) {
		errf(err, errlen, "invalid verification request");
		return -EINVAL;
	}
	ERR_clear_error();
	/* What the leaf claims first, so a refusal names the real mismatch
	 * ("role node; want controller") rather than a purpose error from
	 * the chain check; nothing is trusted before the chain is. */
	rc = ERR_AUTH;
	if (pki_cert_role(leaf, &got, got_id) < 0) {
		errf(err, errlen, "no valid role marker (exactly one %s and one %s URI)", PKI_ROLE_URI_PREFIX,
		     PKI_ID_URI_PREFIX);
		goto out;
	}
	if (got != role) {
		errf(err, errlen, "certificate has role %s; want %s", pki_role_name(got), pki_role_name(role));
		goto out;
	}
	if (id && strcmp(id, got_id) != 0) {
		errf(err, errlen, "certificate has id \"%s\"; want \"%s\"", got_id, id);
		goto out;
	}
	if (X509_get_extended_key_usage(leaf) != want_xku) {
		errf(err, errlen, "extended key usage is not exactly %s", want_xku == XKU_SSL_SERVER ? "serverAuth"
													: "clientAuth");
		goto out;
	}
	if (X509_check_ca(leaf) != 0 || pki_key_check(X509_get0_pubkey(leaf), NULL) < 0) {
		errf(err, errlen, "leaf is a CA or its key is not P-256/P-384");
		goto out;
	}
	rc = verify_chain(leaf, untrusted, t, role, now, &chain, err, errlen);
	if (rc < 0)
		goto out;
	rc = ERR_AUTH;
	if (sk_X509_num(chain) != 3) {
		errf(err, errlen, "chain has %d certificates; want leaf, intermediate, root", sk_X509_num(chain));
		goto out;
	}
	if (!pki_name_has_cn(X509_get_subject_name(sk_X509_value(chain, 1)), pki_ca_cn(want_ca))) {
		errf(err, errlen, "not issued by the %s, which alone issues %s certificates", pki_ca_cn(want_ca),
		     pki_role_name(role));
		goto out;
	}
	rc = pki_cert_serial(leaf, &serial);
	if (rc < 0) {
		errf(err, errlen, "serial number is negative or longer than %d bytes", PKI_SERIAL_MAX);
		rc = ERR_AUTH;
		goto out;
	}
	if (pki_serial_to_hex(&serial, hex, sizeof(hex)) < 0)
		hex[0] = '\0';
	if (pki_trust_serial_revoked(t, &serial)) {
		errf(err, errlen, "serial %s is revoked", hex);
		rc = -EKEYREVOKED;
		goto out;
	}
	if (revoked_by_crl(t, sk_X509_value(chain, 1), leaf)) {
		errf(err, errlen, "serial %s is revoked by the %s's list", hex, pki_ca_cn(want_ca));
		rc = -EKEYREVOKED;
		goto out;
	}
	rc = 0;
out:
	sk_X509_pop_free(chain, X509_free);
	ERR_clear_error();
	return rc;
}
