/* The certificate authority: the hierarchy, leaves, CSRs and CRLs (pki.h).
 * Everything a certificate says is decided here; a CSR contributes only its
 * public key. */
#include "pki/pki.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include <openssl/asn1.h>
#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "lib/addr.h"
#include "lib/fileio.h"
#include "lib/mem.h"
#include "lib/text.h"
#include "pki/pki_int.h"

#define DAY 86400
#define SERIAL_BYTES 16 /* random 128-bit serials */

struct pki_ca {
	X509 *root, *fleet, *device;
	EVP_PKEY *root_key, *fleet_key, *device_key;
};

/* File names inside a CA directory. */
#define ROOT_CRT   "root.crt"
#define ROOT_KEY   "root.key"
#define FLEET_CRT  "fleet-ca.crt"
#define FLEET_KEY  "fleet-ca.key"
#define DEVICE_CRT "device-ca.crt"
#define DEVICE_KEY "device-ca.key"

X509 *pki_ca_root(const struct pki_ca *ca)
{
	return ca->root;
}

X509 *pki_ca_intermediate(const struct pki_ca *ca, enum pki_ca_kind kind)
{
	return kind == PKI_CA_FLEET ? ca->fleet : kind == PKI_CA_DEVICE ? ca->device : NULL;
}

static EVP_PKEY *ca_key(const struct pki_ca *ca, enum pki_ca_kind kind)
{
	return kind == PKI_CA_FLEET ? ca->fleet_key : kind == PKI_CA_DEVICE ? ca->device_key : NULL;
}

void pki_ca_free(struct pki_ca *ca)
{
	if (!ca)
		return;
	X509_free(ca->root);
	X509_free(ca->fleet);
	X509_free(ca->device);
	/* EC private scalars are cleared by OpenSSL when the key is freed. */
	EVP_PKEY_free(ca->root_key);
	EVP_PKEY_free(ca->fleet_key);
	EVP_PKEY_free(ca->device_key);
	mem_free(ca);
}

/* ---- building blocks ---------------------------------------------------- */

/* The digest that matches the signer's curve (RFC 5480 §4 pairing). */
static const EVP_MD *digest_for(EVP_PKEY *signer)
{
	enum pki_curve c;
	if (pki_key_check(signer, &c) == 0 && c == PKI_CURVE_P256)
		return EVP_sha256();
	return EVP_sha384();
}

static int set_name(X509_NAME *name, const char *cn)
{
	if (!X509_NAME_add_entry_by_NID(name, NID_organizationName, MBSTRING_UTF8, (const unsigned char *)PKI_ORG, -1,
					-1, 0) ||
	    !X509_NAME_add_entry_by_NID(name, NID_commonName, MBSTRING_UTF8, (const unsigned char *)cn, -1, -1, 0))
		return pki_ossl_fail();
	return 0;
}

static int random_serial(X509 *x)
{
	uint8_t r[SERIAL_BYTES];
	BIGNUM *bn = NULL;
	int rc = 0;

	do {
		if (RAND_bytes(r, sizeof(r)) != 1)
			return pki_ossl_fail();
		BN_free(bn);
		bn = BN_bin2bn(r, sizeof(r), NULL);
		if (!bn)
			return pki_ossl_fail();
	} while (BN_is_zero(bn));
	if (!BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(x)))
		rc = pki_ossl_fail();
	BN_free(bn);
	return rc;
}

/* A fixed-text extension (basicConstraints, keyUsage, key identifiers,
 * EKU). Only string literals reach the config parser; data never does. */
static int add_ext(X509 *x, X509 *issuer, int nid, const char *value)
{
	X509V3_CTX ctx;
	X509_EXTENSION *ext;
	int rc = 0;

	X509V3_set_ctx_nodb(&ctx);
	X509V3_set_ctx(&ctx, issuer, x, NULL, NULL, 0);
	ext = X509V3_EXT_conf_nid(NULL, &ctx, nid, value);
	if (!ext)
		return pki_ossl_fail();
	if (!X509_add_ext(x, ext, -1))
		rc = pki_ossl_fail();
	X509_EXTENSION_free(ext);
	return rc;
}

static int set_time(ASN1_TIME *t, time_t when)
{
	return ASN1_TIME_set(t, when) ? 0 : pki_ossl_fail();
}

/* Everything but the extensions: version 3, random serial, names, validity,
 * public key. issuer NULL means self-issued. */
static int cert_skeleton(const char *cn, EVP_PKEY *subject_key, X509 *issuer, time_t nb, time_t na, X509 **out)
{
	X509 *x = X509_new();
	int rc;

	*out = NULL;
	if (!x)
		return pki_ossl_fail();
	if (!X509_set_version(x, X509_VERSION_3)) {
		rc = pki_ossl_fail();
		goto fail;
	}
	rc = random_serial(x);
	if (!rc)
		rc = set_name(X509_get_subject_name(x), cn);
	if (rc < 0)
		goto fail;
	if (!X509_set_issuer_name(x, issuer ? X509_get_subject_name(issuer) : X509_get_subject_name(x)) ||
	    !X509_set_pubkey(x, subject_key)) {
		rc = pki_ossl_fail();
		goto fail;
	}
	rc = set_time(X509_getm_notBefore(x), nb);
	if (!rc)
		rc = set_time(X509_getm_notAfter(x), na);
	if (rc < 0)
		goto fail;
	*out = x;
	return 0;
fail:
	X509_free(x);
	return rc;
}

static int sign(X509 *x, EVP_PKEY *key)
{
	return X509_sign(x, key, digest_for(key)) > 0 ? 0 : pki_ossl_fail();
}

/* A CA certificate: pathlen 1 for the root, 0 for an intermediate. */
static int make_ca_cert(const char *cn, EVP_PKEY *key, X509 *issuer, EVP_PKEY *issuer_key, time_t nb, time_t na,
			X509 **out)
{
	X509 *x = NULL;
	int rc;

	*out = NULL;
	rc = cert_skeleton(cn, key, issuer, nb, na, &x);
	if (rc < 0)
		return rc;
	rc = add_ext(x, issuer ? issuer : x, NID_basic_constraints,
		     issuer ? "critical,CA:TRUE,pathlen:0" : "critical,CA:TRUE,pathlen:1");
	if (!rc)
		rc = add_ext(x, issuer ? issuer : x, NID_key_usage, "critical,keyCertSign,cRLSign");
	if (!rc)
		rc = add_ext(x, issuer ? issuer : x, NID_subject_key_identifier, "hash");
	/* For the root this reads back the SKI just added: its AKI names itself. */
	if (!rc)
		rc = add_ext(x, issuer ? issuer : x, NID_authority_key_identifier, "keyid:always");
	if (!rc)
		rc = sign(x, issuer_key);
	if (rc < 0) {
		X509_free(x);
		return rc;
	}
	*out = x;
	return 0;
}

/* ---- the hierarchy ------------------------------------------------------ */

int pki_ca_create(time_t now, struct pki_ca **out)
{
	struct pki_ca *ca;
	time_t nb = now - PKI_BACKDATE_SECONDS;
	int rc;

	*out = NULL;
	ca = mem_zalloc(sizeof(*ca));
	if (!ca)
		return -ENOMEM;
	rc = pki_key_generate(PKI_CURVE_P384, &ca->root_key);
	if (!rc)
		rc = pki_key_generate(PKI_CURVE_P384, &ca->fleet_key);
	if (!rc)
		rc = pki_key_generate(PKI_CURVE_P384, &ca->device_key);
	if (!rc)
		rc = make_ca_cert(PKI_ROOT_CN, ca->root_key, NULL, ca->root_key, nb, nb + (time_t)PKI_ROOT_DAYS * DAY,
				  &ca->root);
	if (!rc)
		rc = make_ca_cert(PKI_FLEET_CN, ca->fleet_key, ca->root, ca->root_key, nb,
				  nb + (time_t)PKI_INTERMEDIATE_DAYS * DAY, &ca->fleet);
	if (!rc)
		rc = make_ca_cert(PKI_DEVICE_CN, ca->device_key, ca->root, ca->root_key, nb,
				  nb + (time_t)PKI_INTERMEDIATE_DAYS * DAY, &ca->device);
	if (rc < 0) {
		pki_ca_free(ca);
		return rc;
	}
	*out = ca;
	return 0;
}

static int join(char *out, const char *dir, const char *name)
{
	int n = snprintf(out, PATH_MAX, "%s/%s", dir, name);
	return n < 0 || n >= PATH_MAX ? -ENAMETOOLONG : 0;
}

int pki_ca_save(const struct pki_ca *ca, const char *dir)
{
	char path[PATH_MAX];
	struct stat st;
	int rc;

	if (!ca || !dir)
		return -EINVAL;
	rc = fileio_mkdir_p(dir, 0700);
	if (rc < 0)
		return rc;
	rc = join(path, dir, ROOT_KEY);
	if (rc < 0)
		return rc;
	if (stat(path, &st) == 0)
		return ERR_EXISTS;
	if (errno != ENOENT)
		return -errno;
	/* root.key goes last: it is what marks a CA directory as complete, so
	 * a save that failed half-way can simply be run again. */
	static const char *const certs[] = { ROOT_CRT, FLEET_CRT, DEVICE_CRT };
	static const char *const keys[] = { FLEET_KEY, DEVICE_KEY, ROOT_KEY };
	X509 *cert_of[] = { ca->root, ca->fleet, ca->device };
	EVP_PKEY *key_of[] = { ca->fleet_key, ca->device_key, ca->root_key };
	for (int i = 0; i < 3; i++) {
		rc = join(path, dir, certs[i]);
		if (!rc)
			rc = pki_cert_save(path, cert_of[i], NULL);
		if (rc < 0)
			return rc;
	}
	for (int i = 0; i < 3; i++) {
		rc = join(path, dir, keys[i]);
		if (!rc)
			rc = pki_key_save(path, key_of[i]);
		if (rc < 0)
			return rc;
	}
	return 0;
}

int pki_ca_init(const char *dir, time_t now, struct pki_ca **out)
{
	struct pki_ca *ca = NULL;
	int rc;

	if (out)
		*out = NULL;
	rc = pki_ca_create(now, &ca);
	if (!rc)
		rc = pki_ca_save(ca, dir);
	if (rc < 0 || !out)
		pki_ca_free(ca);
	else
		*out = ca;
	return rc;
}

static int load_pair(const char *dir, const char *crt, const char *key, X509 **x, EVP_PKEY **k)
{
	char path[PATH_MAX];
	int rc = join(path, dir, crt);
	if (!rc)
		rc = pki_cert_load(path, x, NULL);
	if (!rc)
		rc = join(path, dir, key);
	if (!rc)
		rc = pki_key_load(path, k);
	if (!rc && X509_check_private_key(*x, *k) != 1)
		rc = ERR_CRYPTO;
	ERR_clear_error();
	return rc;
}

/* A CA certificate named cn, issued and signed by issuer (itself for the
 * root) with a P-384 key. */
static bool ca_cert_ok(X509 *x, X509 *issuer, const char *cn)
{
	enum pki_curve c;
	bool ok = X509_check_ca(x) == 1 && pki_name_has_cn(X509_get_subject_name(x), cn) &&
		  X509_check_issued(issuer, x) == X509_V_OK && X509_verify(x, X509_get0_pubkey(issuer)) == 1 &&
		  pki_key_check(X509_get0_pubkey(x), &c) == 0 && c == PKI_CURVE_P384;
	ERR_clear_error();
	return ok;
}

int pki_ca_load(const char *dir, struct pki_ca **out)
{
	struct pki_ca *ca;
	int rc;

	*out = NULL;
	if (!dir)
		return -EINVAL;
	ca = mem_zalloc(sizeof(*ca));
	if (!ca)
		return -ENOMEM;
	rc = load_pair(dir, ROOT_CRT, ROOT_KEY, &ca->root, &ca->root_key);
	if (!rc)
		rc = load_pair(dir, FLEET_CRT, FLEET_KEY, &ca->fleet, &ca->fleet_key);
	if (!rc)
		rc = load_pair(dir, DEVICE_CRT, DEVICE_KEY, &ca->device, &ca->device_key);
	if (!rc && (!ca_cert_ok(ca->root, ca->root, PKI_ROOT_CN) || !ca_cert_ok(ca->fleet, ca->root, PKI_FLEET_CN) ||
		    !ca_cert_ok(ca->device, ca->root, PKI_DEVICE_CN)))
		rc = ERR_CRYPTO;
	if (rc < 0) {
		pki_ca_free(ca);
		return rc;
	}
	*out = ca;
	return 0;
}

/* ---- leaves ------------------------------------------------------------- */

/* A host name (text_is_dns_name); no wildcard: a leaf names one host. */
static bool dns_valid(const char *s)
{
	return s && text_is_dns_name(s);
}

static int push_name(GENERAL_NAMES *names, int type, const void *data, size_t len)
{
	GENERAL_NAME *gn = GENERAL_NAME_new();
	ASN1_STRING *s = type == GEN_IPADD ? ASN1_OCTET_STRING_new() : ASN1_IA5STRING_new();

	if (!gn || !s || !ASN1_STRING_set(s, data, (int)len)) {
		GENERAL_NAME_free(gn);
		ASN1_STRING_free(s);
		return pki_ossl_fail();
	}
	GENERAL_NAME_set0_value(gn, type, s);
	if (!sk_GENERAL_NAME_push(names, gn)) {
		GENERAL_NAME_free(gn);
		return pki_ossl_fail();
	}
	return 0;
}

static int push_uri(GENERAL_NAMES *names, const char *prefix, const char *value)
{
	char uri[sizeof(PKI_ROLE_URI_PREFIX) + sizeof(PKI_ID_URI_PREFIX) + PKI_ID_MAX];
	int n = snprintf(uri, sizeof(uri), "%s%s", prefix, value);
	if (n < 0 || (size_t)n >= sizeof(uri))
		return -EINVAL;
	return push_name(names, GEN_URI, uri, (size_t)n);
}

/* The subjectAltName: role URI, id URI, then the DNS names and IPs. */
static int add_san(X509 *x, const struct pki_leaf *leaf)
{
	GENERAL_NAMES *names = GENERAL_NAMES_new();
	int rc;

	if (!names)
		return pki_ossl_fail();
	rc = push_uri(names, PKI_ROLE_URI_PREFIX, pki_role_name(leaf->role));
	if (!rc)
		rc = push_uri(names, PKI_ID_URI_PREFIX, leaf->id);
	for (size_t i = 0; !rc && i < leaf->n_dns; i++)
		rc = push_name(names, GEN_DNS, leaf->dns[i], strlen(leaf->dns[i]));
	for (size_t i = 0; !rc && i < leaf->n_ips; i++) {
		struct addr a;
		rc = addr_parse(leaf->ips[i], &a);
		if (!rc)
			rc = push_name(names, GEN_IPADD, a.bytes, a.family == AF_INET ? 4 : 16);
	}
	if (!rc && X509_add1_ext_i2d(x, NID_subject_alt_name, names, 0, X509V3_ADD_DEFAULT) != 1)
		rc = pki_ossl_fail();
	GENERAL_NAMES_free(names);
	return rc;
}

static int leaf_valid(const struct pki_leaf *leaf)
{
	struct addr a;

	if (!leaf || !pki_role_name(leaf->role) || !pki_id_valid(leaf->id))
		return -EINVAL;
	if (leaf->n_dns > PKI_SAN_MAX || leaf->n_ips > PKI_SAN_MAX || (leaf->n_dns && !leaf->dns) ||
	    (leaf->n_ips && !leaf->ips))
		return -EINVAL;
	for (size_t i = 0; i < leaf->n_dns; i++)
		if (!dns_valid(leaf->dns[i]))
			return -EINVAL;
	for (size_t i = 0; i < leaf->n_ips; i++)
		if (!leaf->ips[i] || addr_parse(leaf->ips[i], &a) < 0)
			return -EINVAL;
	return 0;
}

int pki_issue(const struct pki_ca *ca, const struct pki_leaf *leaf, EVP_PKEY *subject_key, time_t now, X509 **out)
{
	X509 *x = NULL, *issuer;
	EVP_PKEY *issuer_key;
	time_t nb, na;
	int rc;

	*out = NULL;
	if (!ca || !subject_key)
		return -EINVAL;
	rc = leaf_valid(leaf);
	if (rc < 0)
		return rc;
	rc = pki_key_check(subject_key, NULL);
	if (rc < 0)
		return rc;
	issuer = pki_ca_intermediate(ca, pki_role_ca(leaf->role));
	issuer_key = ca_key(ca, pki_role_ca(leaf->role));
	nb = leaf->not_before ? leaf->not_before : now - PKI_BACKDATE_SECONDS;
	na = leaf->not_after ? leaf->not_after : nb + (time_t)PKI_LEAF_DAYS * DAY;
	/* A leaf must not outlive its issuer: it would stop verifying early
	 * and silently, when the intermediate expires. */
	if (na <= nb || ASN1_TIME_cmp_time_t(X509_get0_notAfter(issuer), na) < 0)
		return ERR_RANGE;

	rc = cert_skeleton(leaf->id, subject_key, issuer, nb, na, &x);
	if (rc < 0)
		return rc;
	rc = add_ext(x, issuer, NID_basic_constraints, "critical,CA:FALSE");
	/* ECDSA keys only sign in TLS 1.3: digitalSignature is all they need. */
	if (!rc)
		rc = add_ext(x, issuer, NID_key_usage, "critical,digitalSignature");
	/* The one TLS side the role plays (pki.h, "Role marker"). */
	if (!rc)
		rc = add_ext(x, issuer, NID_ext_key_usage,
			     leaf->role == PKI_ROLE_NODE || leaf->role == PKI_ROLE_RELAY ? "serverAuth" : "clientAuth");
	if (!rc)
		rc = add_ext(x, issuer, NID_subject_key_identifier, "hash");
	if (!rc)
		rc = add_ext(x, issuer, NID_authority_key_identifier, "keyid:always");
	if (!rc)
		rc = add_san(x, leaf);
	if (!rc)
		rc = sign(x, issuer_key);
	if (rc < 0) {
		X509_free(x);
		return rc;
	}
	*out = x;
	return 0;
}

static bool is_blank(uint8_t c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

static bool blank(const char *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (!is_blank((uint8_t)p[i]))
			return false;
	return true;
}

/* PEM if the first non-blank bytes open a PEM block; DER otherwise. */
static bool looks_pem(const uint8_t *p, size_t n)
{
	static const char begin[] = "-----BEGIN ";
	size_t i = 0;
	while (i < n && is_blank(p[i]))
		i++;
	return n - i >= sizeof(begin) - 1 && !memcmp(p + i, begin, sizeof(begin) - 1);
}

/* Exactly one DER request, nothing after it. */
static X509_REQ *der_csr(const uint8_t *der, size_t len)
{
	const unsigned char *p = der;
	X509_REQ *req = d2i_X509_REQ(NULL, &p, (long)len);
	if (req && p != der + len) {
		X509_REQ_free(req);
		req = NULL;
	}
	return req;
}

/* PEM: exactly one "CERTIFICATE REQUEST" (or "NEW CERTIFICATE REQUEST")
 * block with no headers, blanks around it, its body decoded as DER. */
static X509_REQ *pem_csr(const uint8_t *pem, size_t len)
{
	BIO *bio = BIO_new_mem_buf(pem, (int)len);
	char *name = NULL, *header = NULL, *rest = NULL;
	unsigned char *der = NULL;
	long dlen = 0, n;
	X509_REQ *req = NULL;

	if (bio && PEM_read_bio(bio, &name, &header, &der, &dlen) == 1 && dlen > 0 &&
	    (!strcmp(name, PEM_STRING_X509_REQ) || !strcmp(name, PEM_STRING_X509_REQ_OLD)) && !*header &&
	    (n = BIO_get_mem_data(bio, &rest)) >= 0 && blank(rest, (size_t)n))
		req = der_csr(der, (size_t)dlen);
	OPENSSL_free(name);
	OPENSSL_free(header);
	OPENSSL_free(der);
	BIO_free(bio);
	return req;
}

static int parse_csr(const uint8_t *csr, size_t len, X509_REQ **out)
{
	*out = looks_pem(csr, len) ? pem_csr(csr, len) : der_csr(csr, len);
	if (!*out) {
		int rc = pki_ossl_fail();
		return rc == -ENOMEM ? rc : ERR_PARSE;
	}
	return 0;
}

int pki_sign_csr(const struct pki_ca *ca, const struct pki_leaf *leaf, const uint8_t *csr, size_t len, time_t now,
		 X509 **out)
{
	X509_REQ *req = NULL;
	EVP_PKEY *pub;
	int rc;

	*out = NULL;
	if (!ca || (!csr && len))
		return -EINVAL;
	if (len > PKI_CSR_MAX)
		return ERR_TOOBIG;
	if (len == 0)
		return ERR_PARSE;
	ERR_clear_error();
	rc = parse_csr(csr, len, &req);
	if (rc < 0)
		return rc;
	pub = X509_REQ_get0_pubkey(req);
	if (!pub) {
		rc = pki_ossl_fail() == -ENOMEM ? -ENOMEM : ERR_PARSE;
		goto out;
	}
	/* The key first: verifying a signature under an unchecked key is
	 * work done for an attacker. */
	rc = pki_key_check(pub, NULL);
	if (rc < 0)
		goto out;
	if (X509_REQ_verify(req, pub) != 1) {
		ERR_clear_error();
		rc = ERR_AUTH;
		goto out;
	}
	/* Proof of possession done; the CSR's subject, extensions and
	 * attributes are never read. */
	rc = pki_issue(ca, leaf, pub, now, out);
out:
	X509_REQ_free(req);
	return rc;
}

int pki_csr_new(EVP_PKEY *key, const char *cn, uint8_t **pem, size_t *len)
{
	X509_REQ *req = NULL;
	BIO *bio = NULL;
	char *data = NULL;
	long n;
	int rc;

	*pem = NULL;
	*len = 0;
	if (!key || !cn || !*cn)
		return -EINVAL;
	rc = pki_key_check(key, NULL);
	if (rc < 0)
		return rc;
	req = X509_REQ_new();
	if (!req)
		return pki_ossl_fail();
	if (!X509_REQ_set_version(req, X509_REQ_VERSION_1) ||
	    !X509_NAME_add_entry_by_NID(X509_REQ_get_subject_name(req), NID_commonName, MBSTRING_UTF8,
					(const unsigned char *)cn, -1, -1, 0) ||
	    !X509_REQ_set_pubkey(req, key) || X509_REQ_sign(req, key, digest_for(key)) <= 0) {
		rc = pki_ossl_fail();
		goto out;
	}
	bio = BIO_new(BIO_s_mem());
	if (!bio || !PEM_write_bio_X509_REQ(bio, req)) {
		rc = pki_ossl_fail();
		goto out;
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
	X509_REQ_free(req);
	return rc;
}

/* ---- revocation lists ---------------------------------------------------- */

int pki_crl_issue(const struct pki_ca *ca, enum pki_ca_kind kind, const struct pki_serial *revoked, size_t n,
		  time_t now, time_t next_update, X509_CRL **out)
{
	X509 *issuer;
	EVP_PKEY *key;
	X509_CRL *crl = NULL;
	ASN1_TIME *t = NULL;
	ASN1_INTEGER *num = NULL;
	X509_EXTENSION *aki = NULL;
	X509V3_CTX ctx;
	int rc = 0;

	*out = NULL;
	if (!ca || (n && !revoked))
		return -EINVAL;
	issuer = pki_ca_intermediate(ca, kind);
	key = ca_key(ca, kind);
	if (!issuer || !key)
		return -EINVAL;
	if (n > PKI_REVOKED_MAX)
		return ERR_TOOBIG;
	if (next_update <= now)
		return ERR_RANGE;
	crl = X509_CRL_new();
	t = ASN1_TIME_new();
	num = ASN1_INTEGER_new();
	if (!crl || !t || !num || !X509_CRL_set_version(crl, X509_CRL_VERSION_2) ||
	    !X509_CRL_set_issuer_name(crl, X509_get_subject_name(issuer)) || !ASN1_TIME_set(t, now) ||
	    !X509_CRL_set1_lastUpdate(crl, t) || !ASN1_TIME_set(t, next_update) || !X509_CRL_set1_nextUpdate(crl, t) ||
	    !ASN1_TIME_set(t, now)) {
		rc = pki_ossl_fail();
		goto out;
	}
	for (size_t i = 0; i < n; i++) {
		X509_REVOKED *r = X509_REVOKED_new();
		ASN1_INTEGER *ai = revoked[i].len <= PKI_SERIAL_MAX ? pki_serial_to_asn1(&revoked[i]) : NULL;
		bool ok = r && ai && X509_REVOKED_set_serialNumber(r, ai) && X509_REVOKED_set_revocationDate(r, t) &&
			  X509_CRL_add0_revoked(crl, r);
		ASN1_INTEGER_free(ai);
		if (!ok) {
			X509_REVOKED_free(r);
			rc = revoked[i].len > PKI_SERIAL_MAX ? -EINVAL : pki_ossl_fail();
			goto out;
		}
	}
	/* crlNumber is the issue time, so a newer list has a larger number
	 * (RFC 5280 §5.2.3: monotonically increasing). */
	X509V3_set_ctx_nodb(&ctx);
	X509V3_set_ctx(&ctx, issuer, NULL, NULL, crl, 0);
	aki = X509V3_EXT_conf_nid(NULL, &ctx, NID_authority_key_identifier, "keyid:always");
	if (!X509_CRL_sort(crl) || !aki || !X509_CRL_add_ext(crl, aki, -1) || !ASN1_INTEGER_set_int64(num, now) ||
	    X509_CRL_add1_ext_i2d(crl, NID_crl_number, num, 0, 0) != 1 || X509_CRL_sign(crl, key, digest_for(key)) <= 0) {
		rc = pki_ossl_fail();
		goto out;
	}
	*out = crl;
	crl = NULL;
out:
	X509_EXTENSION_free(aki);
	ASN1_INTEGER_free(num);
	ASN1_TIME_free(t);
	X509_CRL_free(crl);
	return rc;
}

int pki_crl_save(const char *path, X509_CRL *crl, X509 *issuer)
{
	BIO *bio;
	char *data = NULL;
	long n;
	int rc;

	if (!path || !crl || !issuer)
		return -EINVAL;
	bio = BIO_new(BIO_s_mem());
	if (!bio || !PEM_write_bio_X509_CRL(bio, crl) || !PEM_write_bio_X509(bio, issuer)) {
		rc = pki_ossl_fail();
		goto out;
	}
	n = BIO_get_mem_data(bio, &data);
	rc = n > 0 && data ? fileio_write_atomic(path, data, (size_t)n, 0644) : ERR_CRYPTO;
out:
	BIO_free(bio);
	return rc;
}

int pki_crl_load(const char *path, X509_CRL **crl, X509 **issuer)
{
	uint8_t *data = NULL;
	size_t len = 0;
	BIO *bio = NULL;
	STACK_OF(X509_INFO) *infos = NULL;
	X509_CRL *c = NULL;
	X509 *x = NULL;
	int rc;

	*crl = NULL;
	*issuer = NULL;
	if (!path)
		return -EINVAL;
	rc = pki_read_file(path, &data, &len);
	if (rc < 0)
		return rc;
	ERR_clear_error();
	bio = BIO_new_mem_buf(data, (int)len);
	if (!bio) {
		rc = pki_ossl_fail();
		goto out;
	}
	infos = PEM_X509_INFO_read_bio(bio, NULL, NULL, NULL);
	if (!infos) {
		rc = pki_ossl_fail() == -ENOMEM ? -ENOMEM : ERR_PARSE;
		goto out;
	}
	rc = 0;
	for (int i = 0; i < sk_X509_INFO_num(infos); i++) {
		X509_INFO *xi = sk_X509_INFO_value(infos, i);
		if (xi->x_pkey || (xi->crl && c) || (xi->x509 && x)) {
			rc = ERR_PARSE;
			goto out;
		}
		if (xi->crl) {
			c = xi->crl;
			xi->crl = NULL;
		}
		if (xi->x509) {
			x = xi->x509;
			xi->x509 = NULL;
		}
	}
	if (!c || !x) {
		rc = ERR_PARSE;
		goto out;
	}
	*crl = c;
	*issuer = x;
	c = NULL;
	x = NULL;
out:
	X509_CRL_free(c);
	X509_free(x);
	sk_X509_INFO_pop_free(infos, X509_INFO_free);
	BIO_free(bio);
	mem_free(data);
	return rc;
}
