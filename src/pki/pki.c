/* Names, serials, keys, certificate files and the role marker (pki.h). */
#include "pki/pki.h"

#include <errno.h>
#include <limits.h>
#include <string.h>
#include <sys/stat.h>

#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "lib/enc.h"
#include "lib/fileio.h"
#include "lib/mem.h"
#include "pki/pki_int.h"

static const char *const role_names[] = {
	[PKI_ROLE_CONTROLLER] = "controller",
	[PKI_ROLE_NODE] = "node",
	[PKI_ROLE_RELAY] = "relay",
	[PKI_ROLE_DEVICE] = "device",
};

static const char *const ca_names[] = {
	[PKI_CA_FLEET] = "fleet",
	[PKI_CA_DEVICE] = "device",
};

static const char *const ca_cns[] = {
	[PKI_CA_FLEET] = PKI_FLEET_CN,
	[PKI_CA_DEVICE] = PKI_DEVICE_CN,
};

#define COUNT(a) (sizeof(a) / sizeof((a)[0]))

int pki_ossl_fail(void)
{
	unsigned long e = ERR_peek_last_error();
	ERR_clear_error();
	if (e && ERR_GET_REASON(e) == ERR_R_MALLOC_FAILURE)
		return -ENOMEM;
	return ERR_CRYPTO;
}

const char *pki_role_name(enum pki_role role)
{
	if ((unsigned)role >= COUNT(role_names))
		return NULL;
	return role_names[role];
}

int pki_role_parse(const char *s, enum pki_role *out)
{
	*out = PKI_ROLE_NONE;
	for (size_t i = 0; s && i < COUNT(role_names); i++) {
		if (role_names[i] && !strcmp(s, role_names[i])) {
			*out = (enum pki_role)i;
			return 0;
		}
	}
	return -EINVAL;
}

enum pki_ca_kind pki_role_ca(enum pki_role role)
{
	switch (role) {
	case PKI_ROLE_CONTROLLER:
	case PKI_ROLE_NODE:
	case PKI_ROLE_RELAY:
		return PKI_CA_FLEET;
	case PKI_ROLE_DEVICE:
		return PKI_CA_DEVICE;
	case PKI_ROLE_NONE:
		break;
	}
	return PKI_CA_NONE;
}

const char *pki_ca_name(enum pki_ca_kind kind)
{
	if ((unsigned)kind >= COUNT(ca_names))
		return NULL;
	return ca_names[kind];
}

int pki_ca_parse(const char *s, enum pki_ca_kind *out)
{
	*out = PKI_CA_NONE;
	for (size_t i = 0; s && i < COUNT(ca_names); i++) {
		if (ca_names[i] && !strcmp(s, ca_names[i])) {
			*out = (enum pki_ca_kind)i;
			return 0;
		}
	}
	return -EINVAL;
}

const char *pki_ca_cn(enum pki_ca_kind kind)
{
	if ((unsigned)kind >= COUNT(ca_cns))
		return NULL;
	return ca_cns[kind];
}

static bool id_char(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' || c == '_' ||
	       c == '-';
}

/* The id alphabet needs no escaping in a URN and cannot spell a CA's CN
 * (which has spaces), so a leaf can never pass for an intermediate by name. */
static bool id_valid_n(const char *s, size_t n)
{
	if (n < 1 || n > PKI_ID_MAX)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!id_char(s[i]))
			return false;
	return true;
}

bool pki_id_valid(const char *id)
{
	return id && id_valid_n(id, strnlen(id, PKI_ID_MAX + 1));
}

bool pki_name_has_cn(const X509_NAME *name, const char *cn)
{
	int i = X509_NAME_get_index_by_NID(name, NID_commonName, -1);
	if (i < 0 || X509_NAME_get_index_by_NID(name, NID_commonName, i) >= 0)
		return false;
	const ASN1_STRING *s = X509_NAME_ENTRY_get_data(X509_NAME_get_entry(name, i));
	size_t n = strlen(cn);
	return s && (size_t)ASN1_STRING_length(s) == n && !memcmp(ASN1_STRING_get0_data(s), cn, n);
}

/* ---- serials ------------------------------------------------------------ */

int pki_serial_to_hex(const struct pki_serial *s, char *out, size_t cap)
{
	if (s->len > PKI_SERIAL_MAX)
		return -EINVAL;
	if (s->len == 0) {
		if (cap < 2) {
			if (cap)
				out[0] = '\0';
			return -ENOSPC;
		}
		memcpy(out, "0", 2);
		return 0;
	}
	return enc_hex_encode(out, cap, s->bytes, s->len);
}

int pki_serial_from_hex(const char *s, struct pki_serial *out)
{
	char padded[2 * PKI_SERIAL_MAX + 1];
	uint8_t bytes[PKI_SERIAL_MAX];
	size_t n = s ? strnlen(s, sizeof(padded)) : 0;

	memset(out, 0, sizeof(*out));
	if (n < 1 || n > 2 * PKI_SERIAL_MAX)
		return -EINVAL;
	/* An odd number of digits gets a leading zero so enc_hex_decode sees
	 * whole bytes. */
	padded[0] = '0';
	memcpy(padded + (n & 1), s, n);
	padded[n + (n & 1)] = '\0';
	size_t nbytes = (n + 1) / 2;
	if (enc_hex_decode(bytes, nbytes, padded) < 0)
		return -EINVAL;
	size_t skip = 0;
	while (skip < nbytes && bytes[skip] == 0)
		skip++;
	out->len = nbytes - skip;
	memcpy(out->bytes, bytes + skip, out->len);
	return 0;
}

bool pki_serial_equal(const struct pki_serial *a, const struct pki_serial *b)
{
	return a->len == b->len && a->len <= PKI_SERIAL_MAX && !memcmp(a->bytes, b->bytes, a->len);
}

int pki_serial_from_asn1(const ASN1_INTEGER *ai, struct pki_serial *out)
{
	BIGNUM *bn;
	int rc = 0;

	memset(out, 0, sizeof(*out));
	if (!ai)
		return ERR_PARSE;
	bn = ASN1_INTEGER_to_BN(ai, NULL);
	if (!bn)
		return pki_ossl_fail() == -ENOMEM ? -ENOMEM : ERR_PARSE;
	if (BN_is_negative(bn) || BN_num_bytes(bn) > PKI_SERIAL_MAX)
		rc = ERR_PARSE;
	else
		out->len = (size_t)BN_bn2bin(bn, out->bytes);
	BN_free(bn);
	return rc;
}

ASN1_INTEGER *pki_serial_to_asn1(const struct pki_serial *s)
{
	ASN1_INTEGER *ai = NULL;
	BIGNUM *bn = BN_bin2bn(s->bytes, (int)s->len, NULL);
	if (bn)
		ai = BN_to_ASN1_INTEGER(bn, NULL);
	BN_free(bn);
	return ai;
}

int pki_cert_serial(const X509 *cert, struct pki_serial *out)
{
	return pki_serial_from_asn1(X509_get0_serialNumber(cert), out);
}

int pki_cert_fingerprint(const X509 *cert, uint8_t out[PKI_FINGERPRINT_LEN])
{
	unsigned int n = 0;
	if (X509_digest(cert, EVP_sha256(), out, &n) != 1 || n != PKI_FINGERPRINT_LEN) {
		memset(out, 0, PKI_FINGERPRINT_LEN);
		return pki_ossl_fail();
	}
	return 0;
}

/* ---- keys --------------------------------------------------------------- */

int pki_key_generate(enum pki_curve curve, EVP_PKEY **out)
{
	*out = NULL;
	const char *name = curve == PKI_CURVE_P256 ? "P-256" : curve == PKI_CURVE_P384 ? "P-384" : NULL;
	if (!name)
		return -EINVAL;
	*out = EVP_EC_gen(name);
	return *out ? 0 : pki_ossl_fail();
}

int pki_key_check(EVP_PKEY *key, enum pki_curve *curve)
{
	char group[64], encoding[32];
	size_t glen = 0;
	enum pki_curve c;
	EVP_PKEY_CTX *ctx;
	int ok;

	if (curve)
		*curve = PKI_CURVE_NONE;
	if (!key || !EVP_PKEY_is_a(key, "EC"))
		return ERR_CRYPTO;
	if (EVP_PKEY_get_group_name(key, group, sizeof(group), &glen) != 1) {
		ERR_clear_error();
		return ERR_CRYPTO;
	}
	if (!strcmp(group, "prime256v1") || !strcmp(group, "P-256"))
		c = PKI_CURVE_P256;
	else if (!strcmp(group, "secp384r1") || !strcmp(group, "P-384"))
		c = PKI_CURVE_P384;
	else
		return ERR_CRYPTO;
	/* Explicit curve parameters that happen to equal P-256 are refused:
	 * they are how CVE-2020-0601-style spoofing starts. */
	if (EVP_PKEY_get_utf8_string_param(key, OSSL_PKEY_PARAM_EC_ENCODING, encoding, sizeof(encoding), NULL) != 1 ||
	    strcmp(encoding, OSSL_PKEY_EC_ENCODING_GROUP) != 0) {
		ERR_clear_error();
		return ERR_CRYPTO;
	}
	ctx = EVP_PKEY_CTX_new_from_pkey(NULL, key, NULL);
	if (!ctx)
		return pki_ossl_fail();
	ok = EVP_PKEY_public_check(ctx);
	EVP_PKEY_CTX_free(ctx);
	if (ok != 1) {
		ERR_clear_error();
		return ERR_CRYPTO;
	}
	if (curve)
		*curve = c;
	return 0;
}

int pki_key_save(const char *path, EVP_PKEY *key)
{
	BIO *bio = NULL;
	char *data = NULL;
	long n;
	int rc;

	if (!path || !key)
		return -EINVAL;
	rc = pki_key_check(key, NULL);
	if (rc < 0)
		return rc;
	/* A secure-memory BIO wipes its buffer, and every copy made while it
	 * grew, when freed. */
	bio = BIO_new(BIO_s_secmem());
	if (!bio)
		return pki_ossl_fail();
	if (!PEM_write_bio_PKCS8PrivateKey(bio, key, NULL, NULL, 0, NULL, NULL)) {
		rc = pki_ossl_fail();
		goto out;
	}
	n = BIO_get_mem_data(bio, &data);
	if (n <= 0 || !data) {
		rc = ERR_CRYPTO;
		goto out;
	}
	rc = fileio_write_atomic(path, data, (size_t)n, 0600);
out:
	BIO_free(bio);
	return rc;
}

/* Refuses to decrypt: an encrypted key fails to load instead of prompting
 * on the terminal, which a daemon must never do. */
static int no_passphrase(char *buf, int size, int rwflag, void *u)
{
	return -1;
}

int pki_key_load(const char *path, EVP_PKEY **out)
{
	struct stat st;
	uint8_t *data = NULL;
	size_t len = 0;
	BIO *bio = NULL;
	EVP_PKEY *key = NULL;
	int rc;

	*out = NULL;
	if (!path)
		return -EINVAL;
	if (stat(path, &st) < 0)
		return -errno;
	if (st.st_mode & 077)
		return -EPERM;
	rc = fileio_read_all(path, PKI_FILE_MAX, &data, &len);
	if (rc < 0)
		return rc;
	bio = BIO_new_mem_buf(data, (int)len);
	if (!bio) {
		rc = pki_ossl_fail();
		goto out;
	}
	key = PEM_read_bio_PrivateKey(bio, NULL, no_passphrase, NULL);
	if (!key) {
		rc = pki_ossl_fail() == -ENOMEM ? -ENOMEM : ERR_PARSE;
		goto out;
	}
	rc = pki_key_check(key, NULL);
	if (rc < 0)
		goto out;
	*out = key;
	key = NULL;
out:
	EVP_PKEY_free(key);
	BIO_free(bio);
	mem_free_secret(data, len + 1);
	return rc;
}

/* ---- certificate files ---------------------------------------------------- */

int pki_read_file(const char *path, uint8_t **out, size_t *len)
{
	return fileio_read_all(path, PKI_FILE_MAX, out, len);
}

/* After a PEM read returned NULL: true at a clean end of input (no further
 * PEM block), with the error queue cleared. */
static bool pem_at_end(void)
{
	unsigned long e = ERR_peek_last_error();
	if (ERR_GET_LIB(e) == ERR_LIB_PEM && ERR_GET_REASON(e) == PEM_R_NO_START_LINE) {
		ERR_clear_error();
		return true;
	}
	return false;
}

int pki_cert_from_pem(const uint8_t *pem, size_t len, X509 **cert, STACK_OF(X509) **chain)
{
	BIO *bio = NULL;
	X509 *first = NULL, *x = NULL;
	STACK_OF(X509) *rest = NULL;
	int rc = 0;

	*cert = NULL;
	if (chain)
		*chain = NULL;
	if (!pem || len > PKI_FILE_MAX)
		return len > PKI_FILE_MAX ? ERR_TOOBIG : -EINVAL;
	ERR_clear_error();
	bio = BIO_new_mem_buf(pem, (int)len);
	rest = sk_X509_new_null();
	if (!bio || !rest) {
		rc = pki_ossl_fail();
		goto out;
	}
	while ((x = PEM_read_bio_X509(bio, NULL, no_passphrase, NULL))) {
		if (!first) {
			first = x;
		} else if (!chain) {
			rc = ERR_PARSE;
			goto out;
		} else if (!sk_X509_push(rest, x)) {
			rc = pki_ossl_fail();
			goto out;
		}
		x = NULL;
	}
	if (!pem_at_end()) {
		rc = pki_ossl_fail() == -ENOMEM ? -ENOMEM : ERR_PARSE;
		goto out;
	}
	if (!first) {
		rc = ERR_PARSE;
		goto out;
	}
	*cert = first;
	first = NULL;
	if (chain) {
		*chain = rest;
		rest = NULL;
	}
out:
	X509_free(x);
	X509_free(first);
	sk_X509_pop_free(rest, X509_free);
	BIO_free(bio);
	return rc;
}

int pki_cert_load(const char *path, X509 **cert, STACK_OF(X509) **chain)
{
	uint8_t *data = NULL;
	size_t len = 0;
	int rc;

	*cert = NULL;
	if (chain)
		*chain = NULL;
	if (!path)
		return -EINVAL;
	rc = pki_read_file(path, &data, &len);
	if (rc < 0)
		return rc;
	rc = pki_cert_from_pem(data, len, cert, chain);
	mem_free(data);
	return rc;
}

int pki_cert_to_pem(X509 *cert, STACK_OF(X509) *chain, uint8_t **pem, size_t *len)
{
	BIO *bio = NULL;
	char *data = NULL;
	long n;
	int rc = 0;

	*pem = NULL;
	*len = 0;
	if (!cert)
		return -EINVAL;
	bio = BIO_new(BIO_s_mem());
	if (!bio)
		return pki_ossl_fail();
	if (!PEM_write_bio_X509(bio, cert)) {
		rc = pki_ossl_fail();
		goto out;
	}
	for (int i = 0; chain && i < sk_X509_num(chain); i++) {
		if (!PEM_write_bio_X509(bio, sk_X509_value(chain, i))) {
			rc = pki_ossl_fail();
			goto out;
		}
	}
	n = BIO_get_mem_data(bio, &data);
	if (n <= 0 || !data) {
		rc = ERR_CRYPTO;
		goto out;
	}
	*pem = mem_alloc((size_t)n + 1);
	if (!*pem) {
		rc = -ENOMEM;
		goto out;
	}
	memcpy(*pem, data, (size_t)n);
	(*pem)[n] = '\0';
	*len = (size_t)n;
out:
	BIO_free(bio);
	return rc;
}

int pki_cert_save(const char *path, X509 *cert, STACK_OF(X509) *chain)
{
	uint8_t *pem = NULL;
	size_t len = 0;
	int rc;

	if (!path)
		return -EINVAL;
	rc = pki_cert_to_pem(cert, chain, &pem, &len);
	if (rc < 0)
		return rc;
	rc = fileio_write_atomic(path, pem, len, 0644);
	mem_free(pem);
	return rc;
}

/* ---- the role marker ---------------------------------------------------- */

static bool has_prefix(const uint8_t *s, size_t n, const char *prefix, size_t *plen)
{
	*plen = strlen(prefix);
	return n >= *plen && !memcmp(s, prefix, *plen);
}

int pki_cert_role(const X509 *cert, enum pki_role *role, char id[PKI_ID_MAX + 1])
{
	GENERAL_NAMES *names;
	int crit = -1, nrole = 0, nid = 0;
	enum pki_role found = PKI_ROLE_NONE;
	char idbuf[PKI_ID_MAX + 1] = "";
	bool bad = false;

	*role = PKI_ROLE_NONE;
	if (id)
		id[0] = '\0';
	if (!cert)
		return -EINVAL;
	/* NULL when the extension is absent, appears twice (crit -2) or does
	 * not decode: each is "no marker". */
	names = X509_get_ext_d2i(cert, NID_subject_alt_name, &crit, NULL);
	ERR_clear_error();
	if (!names)
		return ERR_PARSE;
	for (int i = 0; i < sk_GENERAL_NAME_num(names); i++) {
		const GENERAL_NAME *gn = sk_GENERAL_NAME_value(names, i);
		if (gn->type != GEN_URI)
			continue;
		const uint8_t *s = ASN1_STRING_get0_data(gn->d.uniformResourceIdentifier);
		size_t n = (size_t)ASN1_STRING_length(gn->d.uniformResourceIdentifier);
		size_t plen;
		if (has_prefix(s, n, PKI_ROLE_URI_PREFIX, &plen)) {
			char name[16];
			enum pki_role r;
			nrole++;
			if (n - plen >= sizeof(name) || memchr(s + plen, '\0', n - plen)) {
				bad = true;
				continue;
			}
			memcpy(name, s + plen, n - plen);
			name[n - plen] = '\0';
			if (pki_role_parse(name, &r) < 0)
				bad = true;
			found = r;
		} else if (has_prefix(s, n, PKI_ID_URI_PREFIX, &plen)) {
			nid++;
			if (!id_valid_n((const char *)s + plen, n - plen)) {
				bad = true;
				continue;
			}
			memcpy(idbuf, s + plen, n - plen);
			idbuf[n - plen] = '\0';
		}
	}
	GENERAL_NAMES_free(names);
	if (bad || nrole != 1 || nid != 1 || found == PKI_ROLE_NONE)
		return ERR_PARSE;
	*role = found;
	if (id)
		memcpy(id, idbuf, sizeof(idbuf));
	return 0;
}
