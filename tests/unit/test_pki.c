#include "support.h"

#include <errno.h>
#include <ftw.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "lib/err.h"
#include "lib/log.h"
#include "lib/mem.h"
#include "pki/pki.h"

#define DAY 86400

/* Each test gets a whole hierarchy saved in a fresh directory (removed after),
 * a trust holding its root, and the intermediates' keys loaded back from
 * disk so tests can forge certificates the CA itself would never issue. */
struct fx {
	char dir[256];
	time_t now;
	struct pki_ca *ca;
	struct pki_trust *trust;
	EVP_PKEY *fleet_key, *device_key;
	EVP_PKEY *leaf_key; /* one P-256 key for the leaves, keygen is not what we test */
};

static char *path_in(const struct fx *f, char *out, const char *name)
{
	if (snprintf(out, PATH_MAX, "%s/%s", f->dir, name) >= PATH_MAX)
		fail_msg("test path too long");
	return out;
}

static int setup(void **state)
{
	struct fx *f = mem_zalloc(sizeof(*f));
	const char *base = getenv("TMPDIR");
	char path[PATH_MAX];

	if (!f)
		return -1;
	log_setup("test_pki", LOG_LVL_ERROR, false);
	snprintf(f->dir, sizeof(f->dir), "%s/pharos-test-pki-XXXXXX", base && *base ? base : "/tmp");
	if (!mkdtemp(f->dir))
		return -1;
	f->now = time(NULL);
	if (pki_ca_init(path_in(f, path, "ca"), f->now, &f->ca) < 0 || pki_trust_new(&f->trust) < 0 ||
	    pki_trust_add_root(f->trust, pki_ca_root(f->ca)) < 0 ||
	    pki_key_load(path_in(f, path, "ca/fleet-ca.key"), &f->fleet_key) < 0 ||
	    pki_key_load(path_in(f, path, "ca/device-ca.key"), &f->device_key) < 0 ||
	    pki_key_generate(PKI_CURVE_P256, &f->leaf_key) < 0)
		return -1;
	*state = f;
	return 0;
}

static int remove_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	return remove(path);
}

static int teardown(void **state)
{
	struct fx *f = *state;
	int rc = nftw(f->dir, remove_one, 16, FTW_DEPTH | FTW_PHYS);
	pki_ca_free(f->ca);
	pki_trust_free(f->trust);
	EVP_PKEY_free(f->fleet_key);
	EVP_PKEY_free(f->device_key);
	EVP_PKEY_free(f->leaf_key);
	mem_free(f);
	return rc;
}

static const enum pki_role all_roles[] = { PKI_ROLE_CONTROLLER, PKI_ROLE_NODE, PKI_ROLE_RELAY, PKI_ROLE_DEVICE };

static X509 *issue_at(struct fx *f, enum pki_role role, const char *id, time_t nb, time_t na)
{
	struct pki_leaf leaf = { .role = role, .id = id, .not_before = nb, .not_after = na };
	X509 *x = NULL;
	assert_int_equal(pki_issue(f->ca, &leaf, f->leaf_key, f->now, &x), 0);
	assert_non_null(x);
	return x;
}

static X509 *issue(struct fx *f, enum pki_role role, const char *id)
{
	return issue_at(f, role, id, 0, 0);
}

/* What a peer sends after its leaf: here both intermediates, so that only
 * our checks, not a missing certificate, decide which chain is accepted. */
static STACK_OF(X509) *both_intermediates(const struct pki_ca *ca)
{
	STACK_OF(X509) *sk = sk_X509_new_null();
	assert_non_null(sk);
	assert_true(sk_X509_push(sk, pki_ca_intermediate(ca, PKI_CA_FLEET)) > 0);
	assert_true(sk_X509_push(sk, pki_ca_intermediate(ca, PKI_CA_DEVICE)) > 0);
	return sk; /* borrowed entries: free with sk_X509_free */
}

static int verify_as(struct fx *f, X509 *leaf, enum pki_role role, const char *id, char *err, size_t errlen)
{
	STACK_OF(X509) *sk = both_intermediates(f->ca);
	int rc = pki_verify_peer(leaf, sk, f->trust, role, id, f->now, err, errlen);
	sk_X509_free(sk);
	if (rc < 0)
		assert_true(err[0] != '\0'); /* every refusal says why */
	return rc;
}

/* A certificate built by hand, signed by issuer_key (self-signed when
 * issuer is NULL): what a buggy or hostile CA could produce. ext_* are
 * OpenSSL config strings; NULL leaves the extension out. */
struct forge {
	X509 *issuer;
	EVP_PKEY *issuer_key;
	const char *cn;
	const char *san;
	const char *eku;
	const char *bc;
	time_t nb, na;
};

static X509 *forge(struct fx *f, const struct forge *spec)
{
	X509 *x = X509_new();
	X509V3_CTX ctx;
	const char *ext_val[] = { spec->bc ? spec->bc : "critical,CA:FALSE", "critical,digitalSignature", spec->eku,
				  "hash", "keyid:always", spec->san };
	const int ext_nid[] = { NID_basic_constraints, NID_key_usage, NID_ext_key_usage, NID_subject_key_identifier,
				NID_authority_key_identifier, NID_subject_alt_name };

	assert_non_null(x);
	assert_true(X509_set_version(x, X509_VERSION_3));
	assert_true(ASN1_INTEGER_set(X509_get_serialNumber(x), 0x5eed));
	assert_true(X509_NAME_add_entry_by_txt(X509_get_subject_name(x), "CN", MBSTRING_UTF8,
					       (const unsigned char *)spec->cn, -1, -1, 0));
	assert_true(X509_set_issuer_name(x, spec->issuer ? X509_get_subject_name(spec->issuer)
							 : X509_get_subject_name(x)));
	assert_non_null(ASN1_TIME_set(X509_getm_notBefore(x), spec->nb ? spec->nb : f->now - 60));
	assert_non_null(ASN1_TIME_set(X509_getm_notAfter(x), spec->na ? spec->na : f->now + 30 * DAY));
	assert_true(X509_set_pubkey(x, f->leaf_key));
	X509V3_set_ctx_nodb(&ctx);
	X509V3_set_ctx(&ctx, spec->issuer ? spec->issuer : x, x, NULL, NULL, 0);
	for (size_t i = 0; i < sizeof(ext_nid) / sizeof(ext_nid[0]); i++) {
		if (!ext_val[i])
			continue;
		X509_EXTENSION *ext = X509V3_EXT_conf_nid(NULL, &ctx, ext_nid[i], ext_val[i]);
		assert_non_null(ext);
		assert_true(X509_add_ext(x, ext, -1));
		X509_EXTENSION_free(ext);
	}
	assert_true(X509_sign(x, spec->issuer_key ? spec->issuer_key : f->leaf_key, EVP_sha384()) > 0);
	return x;
}

/* ---- the hierarchy ---------------------------------------------------------- */

static int bc_pathlen(X509 *x)
{
	BASIC_CONSTRAINTS *bc = X509_get_ext_d2i(x, NID_basic_constraints, NULL, NULL);
	assert_non_null(bc);
	assert_true(bc->ca);
	int n = bc->pathlen ? (int)ASN1_INTEGER_get(bc->pathlen) : -1;
	BASIC_CONSTRAINTS_free(bc);
	return n;
}

static void the_root_and_intermediates_carry_the_designed_constraints(void **state)
{
	struct fx *f = *state;
	X509 *root = pki_ca_root(f->ca);
	X509 *fleet = pki_ca_intermediate(f->ca, PKI_CA_FLEET);
	X509 *device = pki_ca_intermediate(f->ca, PKI_CA_DEVICE);
	int crit = 0;

	assert_int_equal(bc_pathlen(root), 1);
	assert_int_equal(bc_pathlen(fleet), 0);
	assert_int_equal(bc_pathlen(device), 0);
	assert_int_equal(X509_get_ext_by_critical(fleet, 1, -1) >= 0, 1);
	for (int i = 0; i < 3; i++) {
		X509 *x = i == 0 ? root : i == 1 ? fleet : device;
		ASN1_BIT_STRING *ku = X509_get_ext_d2i(x, NID_key_usage, &crit, NULL);
		assert_non_null(ku);
		assert_int_equal(crit, 1);
		assert_true(ASN1_BIT_STRING_get_bit(ku, 5)); /* keyCertSign */
		assert_true(ASN1_BIT_STRING_get_bit(ku, 6)); /* cRLSign */
		assert_false(ASN1_BIT_STRING_get_bit(ku, 0));
		ASN1_BIT_STRING_free(ku);
		assert_non_null(X509_get0_subject_key_id(x));
		assert_non_null(X509_get0_authority_key_id(x));
		assert_int_equal(EVP_PKEY_get_bits(X509_get0_pubkey(x)), 384);
		assert_int_equal(X509_get_signature_nid(x), NID_ecdsa_with_SHA384);
	}
	assert_int_equal(X509_self_signed(root, 1), 1);
	assert_int_equal(X509_check_issued(root, fleet), X509_V_OK);
	assert_int_equal(X509_check_issued(root, device), X509_V_OK);

	/* Lifetimes: 10 years and 5 years from five minutes ago. */
	int days, secs;
	assert_true(ASN1_TIME_diff(&days, &secs, X509_get0_notBefore(root), X509_get0_notAfter(root)));
	assert_int_equal(days, PKI_ROOT_DAYS);
	assert_true(ASN1_TIME_diff(&days, &secs, X509_get0_notBefore(fleet), X509_get0_notAfter(fleet)));
	assert_int_equal(days, PKI_INTERMEDIATE_DAYS);
	assert_int_equal(ASN1_TIME_cmp_time_t(X509_get0_notBefore(root), f->now - PKI_BACKDATE_SECONDS), 0);
}

static void a_leaf_carries_its_role_marker_eku_and_a_random_128_bit_serial(void **state)
{
	struct fx *f = *state;
	const char *dns[] = { "node-1.example.net" };
	const char *ips[] = { "198.51.100.10", "2001:db8:a::10" };
	struct pki_leaf leaf = { .role = PKI_ROLE_NODE, .id = "node-1", .dns = dns, .n_dns = 1, .ips = ips, .n_ips = 2 };
	X509 *x = NULL, *y = NULL;
	enum pki_role role;
	char id[PKI_ID_MAX + 1];
	struct pki_serial s1, s2;
	int crit = 0;

	assert_int_equal(pki_issue(f->ca, &leaf, f->leaf_key, f->now, &x), 0);
	assert_int_equal(pki_cert_role(x, &role, id), 0);
	assert_int_equal(role, PKI_ROLE_NODE);
	assert_string_equal(id, "node-1");

	/* SAN in order: role URI, id URI, DNS, IPs. */
	GENERAL_NAMES *names = X509_get_ext_d2i(x, NID_subject_alt_name, &crit, NULL);
	assert_non_null(names);
	assert_int_equal(sk_GENERAL_NAME_num(names), 5);
	const GENERAL_NAME *gn = sk_GENERAL_NAME_value(names, 0);
	assert_int_equal(gn->type, GEN_URI);
	assert_string_equal((const char *)ASN1_STRING_get0_data(gn->d.uniformResourceIdentifier), "urn:pharos:role:node");
	gn = sk_GENERAL_NAME_value(names, 1);
	assert_string_equal((const char *)ASN1_STRING_get0_data(gn->d.uniformResourceIdentifier), "urn:pharos:id:node-1");
	gn = sk_GENERAL_NAME_value(names, 2);
	assert_int_equal(gn->type, GEN_DNS);
	assert_int_equal(X509_check_host(x, "node-1.example.net", 0, 0, NULL), 1);
	assert_int_equal(X509_check_ip_asc(x, "198.51.100.10", 0), 1);
	assert_int_equal(X509_check_ip_asc(x, "2001:db8:a::10", 0), 1);
	GENERAL_NAMES_free(names);

	/* Subject O=PharosVPN, CN=id; not a CA; digitalSignature; serverAuth only. */
	char cn[80];
	assert_true(X509_NAME_get_text_by_NID(X509_get_subject_name(x), NID_commonName, cn, sizeof(cn)) > 0);
	assert_string_equal(cn, "node-1");
	assert_int_equal(X509_check_ca(x), 0);
	ASN1_BIT_STRING *ku = X509_get_ext_d2i(x, NID_key_usage, &crit, NULL);
	assert_int_equal(crit, 1);
	assert_true(ASN1_BIT_STRING_get_bit(ku, 0));
	assert_false(ASN1_BIT_STRING_get_bit(ku, 5));
	ASN1_BIT_STRING_free(ku);
	assert_int_equal(X509_get_extended_key_usage(x), XKU_SSL_SERVER);
	assert_non_null(X509_get0_subject_key_id(x));
	assert_non_null(X509_get0_authority_key_id(x));
	int days, secs;
	assert_true(ASN1_TIME_diff(&days, &secs, X509_get0_notBefore(x), X509_get0_notAfter(x)));
	assert_int_equal(days, PKI_LEAF_DAYS);
	assert_int_equal(EVP_PKEY_get_bits(X509_get0_pubkey(x)), 256);

	/* Controller and device leaves are clientAuth. */
	y = issue(f, PKI_ROLE_CONTROLLER, "cox");
	assert_int_equal(X509_get_extended_key_usage(y), XKU_SSL_CLIENT);
	assert_int_equal(X509_check_issued(pki_ca_intermediate(f->ca, PKI_CA_FLEET), y), X509_V_OK);

	/* Serials: positive, at most 128 bits (leading zero bytes drop out
	 * with probability 2^-8 each), different every time. */
	assert_int_equal(pki_cert_serial(x, &s1), 0);
	assert_int_equal(pki_cert_serial(y, &s2), 0);
	assert_in_range(s1.len, 8, 16);
	assert_false(pki_serial_equal(&s1, &s2));
	X509_free(x);
	X509_free(y);

	y = issue(f, PKI_ROLE_DEVICE, "phone-7");
	assert_int_equal(X509_get_extended_key_usage(y), XKU_SSL_CLIENT);
	assert_int_equal(X509_check_issued(pki_ca_intermediate(f->ca, PKI_CA_DEVICE), y), X509_V_OK);
	X509_free(y);
}

static void issuing_refuses_bad_ids_names_keys_and_lifetimes(void **state)
{
	struct fx *f = *state;
	const char *bad_dns[] = { "-bad.example" };
	const char *bad_ip[] = { "10.0.0.256" };
	struct pki_leaf leaf = { .role = PKI_ROLE_NODE, .id = "node-1" };
	EVP_PKEY *rsa = EVP_RSA_gen(2048);
	X509 *x = NULL;

	leaf.id = "node 1";
	assert_int_equal(pki_issue(f->ca, &leaf, f->leaf_key, f->now, &x), -EINVAL);
	leaf.id = "";
	assert_int_equal(pki_issue(f->ca, &leaf, f->leaf_key, f->now, &x), -EINVAL);
	leaf.id = "a,URI:urn:pharos:role:controller";
	assert_int_equal(pki_issue(f->ca, &leaf, f->leaf_key, f->now, &x), -EINVAL);
	leaf.id = "node-1";
	leaf.role = PKI_ROLE_NONE;
	assert_int_equal(pki_issue(f->ca, &leaf, f->leaf_key, f->now, &x), -EINVAL);
	leaf.role = PKI_ROLE_NODE;
	leaf.dns = bad_dns;
	leaf.n_dns = 1;
	assert_int_equal(pki_issue(f->ca, &leaf, f->leaf_key, f->now, &x), -EINVAL);
	leaf.n_dns = 0;
	leaf.ips = bad_ip;
	leaf.n_ips = 1;
	assert_int_equal(pki_issue(f->ca, &leaf, f->leaf_key, f->now, &x), -EINVAL);
	leaf.n_ips = 0;
	/* A leaf may not outlive the intermediate, nor end before it starts. */
	leaf.not_after = f->now + 6 * 365 * DAY;
	assert_int_equal(pki_issue(f->ca, &leaf, f->leaf_key, f->now, &x), ERR_RANGE);
	leaf.not_before = f->now;
	leaf.not_after = f->now;
	assert_int_equal(pki_issue(f->ca, &leaf, f->leaf_key, f->now, &x), ERR_RANGE);
	leaf.not_before = leaf.not_after = 0;
	assert_non_null(rsa);
	assert_int_equal(pki_issue(f->ca, &leaf, rsa, f->now, &x), ERR_CRYPTO);
	assert_null(x);
	EVP_PKEY_free(rsa);
}

/* ---- verification ------------------------------------------------------------- */

static void each_role_verifies_as_itself_and_as_no_other_role(void **state)
{
	struct fx *f = *state;
	char err[256];

	for (size_t i = 0; i < 4; i++) {
		X509 *x = issue(f, all_roles[i], "entity-1");
		for (size_t j = 0; j < 4; j++) {
			int rc = verify_as(f, x, all_roles[j], NULL, err, sizeof(err));
			if (i == j)
				assert_int_equal(rc, 0);
			else
				assert_int_equal(rc, ERR_AUTH);
		}
		/* With the id pinned too. */
		assert_int_equal(verify_as(f, x, all_roles[i], "entity-1", err, sizeof(err)), 0);
		assert_int_equal(verify_as(f, x, all_roles[i], "entity-2", err, sizeof(err)), ERR_AUTH);
		assert_non_null(strstr(err, "entity-1"));
		X509_free(x);
	}
}

static void a_node_certificate_presented_as_the_controller_is_refused(void **state)
{
	struct fx *f = *state;
	char err[256];
	X509 *node = issue(f, PKI_ROLE_NODE, "node-1");
	X509 *relay = issue(f, PKI_ROLE_RELAY, "relay-1");

	assert_int_equal(verify_as(f, node, PKI_ROLE_CONTROLLER, NULL, err, sizeof(err)), ERR_AUTH);
	assert_non_null(strstr(err, "node"));
	assert_int_equal(verify_as(f, relay, PKI_ROLE_CONTROLLER, NULL, err, sizeof(err)), ERR_AUTH);
	X509_free(node);
	X509_free(relay);
}

static void a_device_certificate_is_refused_where_the_fleet_ca_is_required(void **state)
{
	struct fx *f = *state;
	char err[256];
	X509 *device = issue(f, PKI_ROLE_DEVICE, "phone");

	assert_int_equal(verify_as(f, device, PKI_ROLE_CONTROLLER, NULL, err, sizeof(err)), ERR_AUTH);

	/* Even marked "controller", with the right EKU: the Device CA does not
	 * issue controllers. */
	struct forge spec = { .issuer = pki_ca_intermediate(f->ca, PKI_CA_DEVICE), .issuer_key = f->device_key,
			      .cn = "cox", .san = "URI:urn:pharos:role:controller,URI:urn:pharos:id:cox",
			      .eku = "clientAuth" };
	X509 *forged = forge(f, &spec);
	assert_int_equal(verify_as(f, forged, PKI_ROLE_CONTROLLER, NULL, err, sizeof(err)), ERR_AUTH);
	assert_non_null(strstr(err, "Fleet CA"));
	X509_free(forged);

	/* And the other way: a "device" from the Fleet CA is no device. */
	spec.issuer = pki_ca_intermediate(f->ca, PKI_CA_FLEET);
	spec.issuer_key = f->fleet_key;
	spec.san = "URI:urn:pharos:role:device,URI:urn:pharos:id:phone";
	forged = forge(f, &spec);
	assert_int_equal(verify_as(f, forged, PKI_ROLE_DEVICE, NULL, err, sizeof(err)), ERR_AUTH);
	assert_non_null(strstr(err, "Device CA"));
	X509_free(forged);
	X509_free(device);
}

static void expired_and_not_yet_valid_certificates_are_refused(void **state)
{
	struct fx *f = *state;
	char err[256];
	X509 *old = issue_at(f, PKI_ROLE_CONTROLLER, "cox", f->now - 10 * DAY, f->now - 5 * DAY);
	X509 *early = issue_at(f, PKI_ROLE_CONTROLLER, "cox", f->now + DAY, f->now + 10 * DAY);
	STACK_OF(X509) *sk = both_intermediates(f->ca);

	assert_int_equal(verify_as(f, old, PKI_ROLE_CONTROLLER, NULL, err, sizeof(err)), -EKEYEXPIRED);
	assert_non_null(strstr(err, "expired"));
	assert_int_equal(verify_as(f, early, PKI_ROLE_CONTROLLER, NULL, err, sizeof(err)), -EKEYEXPIRED);
	assert_non_null(strstr(err, "not yet valid"));
	/* The clock is the caller's: at a time inside its validity the
	 * not-yet-valid one verifies. */
	assert_int_equal(pki_verify_peer(early, sk, f->trust, PKI_ROLE_CONTROLLER, NULL, f->now + 2 * DAY, err,
					 sizeof(err)),
			 0);
	/* Past the intermediate's five years nothing verifies. */
	X509 *good = issue(f, PKI_ROLE_NODE, "n");
	assert_int_equal(pki_verify_peer(good, sk, f->trust, PKI_ROLE_NODE, NULL, f->now + 6 * 365 * DAY, err,
					 sizeof(err)),
			 -EKEYEXPIRED);
	sk_X509_free(sk);
	X509_free(good);
	X509_free(old);
	X509_free(early);
}

static void a_self_signed_certificate_with_a_role_marker_is_refused(void **state)
{
	struct fx *f = *state;
	char err[256];
	struct forge spec = { .cn = "cox", .san = "URI:urn:pharos:role:controller,URI:urn:pharos:id:cox",
			      .eku = "clientAuth" };
	X509 *self = forge(f, &spec);

	assert_int_equal(verify_as(f, self, PKI_ROLE_CONTROLLER, NULL, err, sizeof(err)), ERR_AUTH);
	assert_non_null(strstr(err, "self"));
	/* Nor may a self-signed CA be trusted as a root unless it is one. */
	assert_int_equal(pki_trust_add_root(f->trust, self), ERR_CRYPTO);
	X509_free(self);
}

static void a_certificate_from_another_ca_with_the_same_names_is_refused(void **state)
{
	struct fx *f = *state;
	struct pki_ca *other = NULL;
	struct pki_leaf leaf = { .role = PKI_ROLE_CONTROLLER, .id = "cox" };
	X509 *x = NULL;
	char err[256];

	assert_int_equal(pki_ca_create(f->now, &other), 0);
	assert_int_equal(pki_issue(other, &leaf, f->leaf_key, f->now, &x), 0);
	/* The peer sends the other hierarchy's Fleet CA, named like ours. */
	STACK_OF(X509) *sk = both_intermediates(other);
	assert_int_equal(pki_verify_peer(x, sk, f->trust, PKI_ROLE_CONTROLLER, NULL, f->now, err, sizeof(err)), ERR_AUTH);
	/* Or ours, which did not sign it. */
	assert_int_equal(verify_as(f, x, PKI_ROLE_CONTROLLER, NULL, err, sizeof(err)), ERR_AUTH);
	/* Or none. */
	assert_int_equal(pki_verify_peer(x, NULL, f->trust, PKI_ROLE_CONTROLLER, NULL, f->now, err, sizeof(err)), ERR_AUTH);
	sk_X509_free(sk);
	X509_free(x);
	pki_ca_free(other);
}

static void a_role_marker_must_be_single_and_the_eku_exact(void **state)
{
	struct fx *f = *state;
	char err[256];
	struct forge spec = { .issuer = pki_ca_intermediate(f->ca, PKI_CA_FLEET), .issuer_key = f->fleet_key,
			      .cn = "x", .eku = "clientAuth" };
	static const char *const bad_sans[] = {
		"URI:urn:pharos:role:controller,URI:urn:pharos:role:node,URI:urn:pharos:id:x",
		"URI:urn:pharos:role:controller,URI:urn:pharos:role:controller,URI:urn:pharos:id:x",
		"URI:urn:pharos:role:controller",
		"URI:urn:pharos:role:controller,URI:urn:pharos:id:x,URI:urn:pharos:id:y",
		"URI:urn:pharos:role:Controller,URI:urn:pharos:id:x",
		"URI:urn:pharos:role:admin,URI:urn:pharos:id:x",
		"URI:urn:pharos:role:controller,URI:urn:pharos:id:a b",
		"DNS:controller.example",
	};
	enum pki_role role;

	for (size_t i = 0; i < sizeof(bad_sans) / sizeof(bad_sans[0]); i++) {
		spec.san = bad_sans[i];
		X509 *x = forge(f, &spec);
		assert_int_equal(pki_cert_role(x, &role, NULL), ERR_PARSE);
		assert_int_equal(verify_as(f, x, PKI_ROLE_CONTROLLER, NULL, err, sizeof(err)), ERR_AUTH);
		X509_free(x);
	}
	/* No SAN at all. */
	spec.san = NULL;
	X509 *x = forge(f, &spec);
	assert_int_equal(verify_as(f, x, PKI_ROLE_CONTROLLER, NULL, err, sizeof(err)), ERR_AUTH);
	X509_free(x);

	/* A well-formed marker with the wrong or an extra EKU. */
	spec.san = "URI:urn:pharos:role:controller,URI:urn:pharos:id:x";
	static const char *const bad_ekus[] = { "serverAuth", "clientAuth,serverAuth", "clientAuth,codeSigning", NULL };
	for (size_t i = 0; i < 4; i++) {
		spec.eku = bad_ekus[i];
		x = forge(f, &spec);
		assert_int_not_equal(verify_as(f, x, PKI_ROLE_CONTROLLER, NULL, err, sizeof(err)), 0);
		X509_free(x);
	}
	/* The forge itself is sound: with clientAuth alone it verifies. */
	spec.eku = "clientAuth";
	x = forge(f, &spec);
	assert_int_equal(verify_as(f, x, PKI_ROLE_CONTROLLER, "x", err, sizeof(err)), 0);
	X509_free(x);
	/* A CA certificate carrying a marker is no leaf. */
	spec.bc = "critical,CA:TRUE,pathlen:0";
	x = forge(f, &spec);
	assert_int_not_equal(verify_as(f, x, PKI_ROLE_CONTROLLER, NULL, err, sizeof(err)), 0);
	X509_free(x);
}

static void revoked_serials_are_refused_from_the_set_and_from_a_signed_crl(void **state)
{
	struct fx *f = *state;
	char err[256], hex[PKI_SERIAL_HEX_LEN], path[PATH_MAX];
	X509 *a = issue(f, PKI_ROLE_NODE, "node-a");
	X509 *b = issue(f, PKI_ROLE_NODE, "node-b");
	X509 *c = issue(f, PKI_ROLE_NODE, "node-c");
	X509 *d = issue(f, PKI_ROLE_DEVICE, "phone");
	struct pki_serial sa, sb, sd;
	X509_CRL *crl = NULL, *crl2 = NULL;
	X509 *issuer = NULL;

	assert_int_equal(pki_cert_serial(a, &sa), 0);
	assert_int_equal(pki_cert_serial(b, &sb), 0);
	assert_int_equal(pki_cert_serial(d, &sd), 0);

	/* The in-memory set. */
	assert_int_equal(pki_trust_revoke_serial(f->trust, &sa), 0);
	assert_int_equal(pki_trust_revoke_serial(f->trust, &sa), 0);
	assert_int_equal(verify_as(f, a, PKI_ROLE_NODE, NULL, err, sizeof(err)), -EKEYREVOKED);
	assert_int_equal(pki_serial_to_hex(&sa, hex, sizeof(hex)), 0);
	assert_non_null(strstr(err, hex));
	assert_int_equal(verify_as(f, b, PKI_ROLE_NODE, NULL, err, sizeof(err)), 0);

	/* A CRL from the Fleet CA, written and read back as one file. */
	assert_int_equal(pki_crl_issue(f->ca, PKI_CA_FLEET, &sb, 1, f->now, f->now + 7 * DAY, &crl), 0);
	assert_int_equal(pki_crl_save(path_in(f, path, "fleet.crl"), crl, pki_ca_intermediate(f->ca, PKI_CA_FLEET)),
			 0);
	assert_int_equal(pki_trust_load_crl(f->trust, path), 0);
	assert_int_equal(verify_as(f, b, PKI_ROLE_NODE, NULL, err, sizeof(err)), -EKEYREVOKED);
	assert_non_null(strstr(err, "Fleet CA"));
	assert_int_equal(verify_as(f, c, PKI_ROLE_NODE, NULL, err, sizeof(err)), 0);
	/* A Fleet CA list says nothing about Device CA serials. */
	X509_CRL_free(crl);
	crl = NULL;
	assert_int_equal(pki_crl_issue(f->ca, PKI_CA_FLEET, &sd, 1, f->now, f->now + 7 * DAY, &crl), 0);
	assert_int_equal(pki_trust_add_crl(f->trust, crl, pki_ca_intermediate(f->ca, PKI_CA_FLEET)), 0);
	assert_int_equal(verify_as(f, d, PKI_ROLE_DEVICE, NULL, err, sizeof(err)), 0);
	/* ...and the newer Fleet list replaced the older one: b is back. */
	assert_int_equal(verify_as(f, b, PKI_ROLE_NODE, NULL, err, sizeof(err)), 0);
	/* An older list cannot be replayed over a newer one. */
	assert_int_equal(pki_crl_issue(f->ca, PKI_CA_FLEET, &sb, 1, f->now - DAY, f->now + 7 * DAY, &crl2), 0);
	assert_int_equal(pki_trust_add_crl(f->trust, crl2, pki_ca_intermediate(f->ca, PKI_CA_FLEET)), ERR_REPLAY);
	X509_CRL_free(crl2);
	crl2 = NULL;
	/* The Device CA's own list revokes d. */
	assert_int_equal(pki_crl_issue(f->ca, PKI_CA_DEVICE, &sd, 1, f->now, f->now + 7 * DAY, &crl2), 0);
	assert_int_equal(pki_trust_add_crl(f->trust, crl2, pki_ca_intermediate(f->ca, PKI_CA_DEVICE)), 0);
	assert_int_equal(verify_as(f, d, PKI_ROLE_DEVICE, NULL, err, sizeof(err)), -EKEYREVOKED);
	/* A list past its nextUpdate still revokes. */
	STACK_OF(X509) *sk = both_intermediates(f->ca);
	assert_int_equal(pki_verify_peer(d, sk, f->trust, PKI_ROLE_DEVICE, NULL, f->now + 30 * DAY, err, sizeof(err)),
			 -EKEYREVOKED);
	sk_X509_free(sk);
	X509_CRL_free(crl2);
	crl2 = NULL;
	/* The file holds the list and its issuer, nothing else. */
	assert_int_equal(pki_crl_load(path, &crl2, &issuer), 0);
	assert_int_equal(X509_cmp(issuer, pki_ca_intermediate(f->ca, PKI_CA_FLEET)), 0);
	X509_CRL_free(crl2);
	X509_free(issuer);
	crl2 = NULL;
	issuer = NULL;
	/* A file with the issuer missing is refused. */
	assert_int_equal(pki_cert_save(path_in(f, path, "not-a-crl"), a, NULL), 0);
	assert_int_equal(pki_crl_load(path, &crl2, &issuer), ERR_PARSE);
	assert_null(crl2);
	assert_null(issuer);
	X509_CRL_free(crl);
	X509_CRL_free(crl2);
	X509_free(issuer);
	X509_free(a);
	X509_free(b);
	X509_free(c);
	X509_free(d);
}

static void a_crl_must_be_signed_by_one_of_our_intermediates(void **state)
{
	struct fx *f = *state;
	struct pki_ca *other = NULL;
	struct pki_serial s = { .len = 1, .bytes = { 7 } };
	X509_CRL *crl = NULL, *foreign = NULL;

	assert_int_equal(pki_ca_create(f->now, &other), 0);
	assert_int_equal(pki_crl_issue(other, PKI_CA_FLEET, &s, 1, f->now, f->now + DAY, &foreign), 0);
	/* Another hierarchy's intermediate is not trusted. */
	assert_int_equal(pki_trust_add_crl(f->trust, foreign, pki_ca_intermediate(other, PKI_CA_FLEET)), ERR_AUTH);
	/* Presented with our intermediate, its signature fails. */
	assert_int_equal(pki_trust_add_crl(f->trust, foreign, pki_ca_intermediate(f->ca, PKI_CA_FLEET)), ERR_AUTH);
	/* Our Fleet CA's list presented as the Device CA's. */
	assert_int_equal(pki_crl_issue(f->ca, PKI_CA_FLEET, &s, 1, f->now, f->now + DAY, &crl), 0);
	assert_int_equal(pki_trust_add_crl(f->trust, crl, pki_ca_intermediate(f->ca, PKI_CA_DEVICE)), ERR_AUTH);
	/* The root is not an intermediate. */
	assert_int_equal(pki_trust_add_crl(f->trust, crl, pki_ca_root(f->ca)), ERR_AUTH);
	assert_int_equal(pki_trust_add_crl(f->trust, crl, pki_ca_intermediate(f->ca, PKI_CA_FLEET)), 0);
	/* next_update must be after now. */
	X509_CRL *bad = NULL;
	assert_int_equal(pki_crl_issue(f->ca, PKI_CA_FLEET, &s, 1, f->now, f->now, &bad), ERR_RANGE);
	assert_null(bad);
	X509_CRL_free(crl);
	X509_CRL_free(foreign);
	pki_ca_free(other);
}

/* ---- CSRs -------------------------------------------------------------------- */

/* A CSR asking for everything it should not get: another CN and O, a
 * controller role URI, a DNS name, CA:TRUE. */
static uint8_t *greedy_csr(EVP_PKEY *key, size_t *len, bool der)
{
	X509_REQ *req = X509_REQ_new();
	STACK_OF(X509_EXTENSION) *exts = sk_X509_EXTENSION_new_null();
	X509V3_CTX ctx;
	BIO *bio = BIO_new(BIO_s_mem());
	char *data;

	assert_non_null(req);
	assert_true(X509_NAME_add_entry_by_txt(X509_REQ_get_subject_name(req), "O", MBSTRING_UTF8,
					       (const unsigned char *)"Evil", -1, -1, 0));
	assert_true(X509_NAME_add_entry_by_txt(X509_REQ_get_subject_name(req), "CN", MBSTRING_UTF8,
					       (const unsigned char *)"PharosVPN Fleet CA", -1, -1, 0));
	X509V3_set_ctx_nodb(&ctx);
	X509V3_set_ctx(&ctx, NULL, NULL, req, NULL, 0);
	X509_EXTENSION *e1 = X509V3_EXT_conf_nid(NULL, &ctx, NID_subject_alt_name,
						  "URI:urn:pharos:role:controller,URI:urn:pharos:id:cox,DNS:evil.example");
	X509_EXTENSION *e2 = X509V3_EXT_conf_nid(NULL, &ctx, NID_basic_constraints, "critical,CA:TRUE");
	assert_non_null(e1);
	assert_non_null(e2);
	sk_X509_EXTENSION_push(exts, e1);
	sk_X509_EXTENSION_push(exts, e2);
	assert_true(X509_REQ_add_extensions(req, exts));
	sk_X509_EXTENSION_pop_free(exts, X509_EXTENSION_free);
	assert_true(X509_REQ_set_pubkey(req, key));
	assert_true(X509_REQ_sign(req, key, EVP_sha256()) > 0);
	assert_true(der ? i2d_X509_REQ_bio(bio, req) : PEM_write_bio_X509_REQ(bio, req));
	long n = BIO_get_mem_data(bio, &data);
	uint8_t *out = mem_dup(data, (size_t)n);
	*len = (size_t)n;
	BIO_free(bio);
	X509_REQ_free(req);
	return out;
}

static void signing_a_csr_ignores_its_subject_sans_and_extensions(void **state)
{
	struct fx *f = *state;
	struct pki_leaf leaf = { .role = PKI_ROLE_NODE, .id = "node-9" };
	EVP_PKEY *k384 = NULL;
	size_t len;
	uint8_t *csr = greedy_csr(f->leaf_key, &len, false);
	X509 *x = NULL;
	char err[256], cn[80];
	enum pki_role role;
	char id[PKI_ID_MAX + 1];

	assert_int_equal(pki_sign_csr(f->ca, &leaf, csr, len, f->now, &x), 0);
	assert_int_equal(X509_NAME_entry_count(X509_get_subject_name(x)), 2);
	assert_true(X509_NAME_get_text_by_NID(X509_get_subject_name(x), NID_commonName, cn, sizeof(cn)) > 0);
	assert_string_equal(cn, "node-9");
	assert_true(X509_NAME_get_text_by_NID(X509_get_subject_name(x), NID_organizationName, cn, sizeof(cn)) > 0);
	assert_string_equal(cn, "PharosVPN");
	assert_int_equal(pki_cert_role(x, &role, id), 0);
	assert_int_equal(role, PKI_ROLE_NODE);
	assert_string_equal(id, "node-9");
	assert_int_equal(X509_check_host(x, "evil.example", 0, 0, NULL), 0);
	assert_int_equal(X509_check_ca(x), 0);
	assert_int_equal(verify_as(f, x, PKI_ROLE_NODE, "node-9", err, sizeof(err)), 0);
	assert_int_equal(verify_as(f, x, PKI_ROLE_CONTROLLER, NULL, err, sizeof(err)), ERR_AUTH);
	/* The CSR's key is the certificate's. */
	assert_int_equal(EVP_PKEY_eq(X509_get0_pubkey(x), f->leaf_key), 1);
	X509_free(x);
	mem_free(csr);

	/* DER works as well, and P-384 keys are accepted. */
	assert_int_equal(pki_key_generate(PKI_CURVE_P384, &k384), 0);
	csr = greedy_csr(k384, &len, true);
	assert_int_equal(pki_sign_csr(f->ca, &leaf, csr, len, f->now, &x), 0);
	assert_int_equal(verify_as(f, x, PKI_ROLE_NODE, NULL, err, sizeof(err)), 0);
	X509_free(x);
	/* One trailing byte after the DER object is refused. */
	uint8_t *longer = mem_alloc(len + 1);
	memcpy(longer, csr, len);
	longer[len] = 0;
	assert_int_equal(pki_sign_csr(f->ca, &leaf, longer, len + 1, f->now, &x), ERR_PARSE);
	mem_free(longer);
	mem_free(csr);
	EVP_PKEY_free(k384);
}

static void a_csr_with_a_bad_signature_or_key_is_refused(void **state)
{
	struct fx *f = *state;
	struct pki_leaf leaf = { .role = PKI_ROLE_RELAY, .id = "relay-1" };
	X509 *x = NULL;
	size_t len;
	uint8_t *pem = NULL;
	EVP_PKEY *p521 = EVP_EC_gen("P-521");
	EVP_PKEY *rsa = EVP_RSA_gen(2048);
	EVP_PKEY *ed = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");

	/* Our own CSR maker, round trip. */
	assert_int_equal(pki_csr_new(f->leaf_key, "whatever", &pem, &len), 0);
	assert_int_equal(pem[len], '\0');
	assert_int_equal(pki_sign_csr(f->ca, &leaf, pem, len, f->now, &x), 0);
	X509_free(x);
	x = NULL;
	mem_free(pem);

	/* Keys we do not accept: P-521, RSA, Ed25519. */
	assert_non_null(p521);
	assert_non_null(rsa);
	assert_non_null(ed);
	EVP_PKEY *bad[] = { p521, rsa };
	for (int i = 0; i < 2; i++) {
		assert_int_equal(pki_csr_new(bad[i], "x", &pem, &len), ERR_CRYPTO);
		uint8_t *csr = greedy_csr(bad[i], &len, false);
		assert_int_equal(pki_sign_csr(f->ca, &leaf, csr, len, f->now, &x), ERR_CRYPTO);
		mem_free(csr);
	}
	X509_REQ *req = X509_REQ_new();
	BIO *bio = BIO_new(BIO_s_mem());
	char *data;
	assert_true(X509_REQ_set_pubkey(req, ed));
	assert_true(X509_REQ_sign(req, ed, NULL) > 0);
	assert_true(PEM_write_bio_X509_REQ(bio, req));
	len = (size_t)BIO_get_mem_data(bio, &data);
	assert_int_equal(pki_sign_csr(f->ca, &leaf, (uint8_t *)data, len, f->now, &x), ERR_CRYPTO);
	BIO_free(bio);
	X509_REQ_free(req);

	/* A flipped bit in the signature. */
	uint8_t *csr = greedy_csr(f->leaf_key, &len, true);
	csr[len - 5] ^= 0x01;
	assert_int_equal(pki_sign_csr(f->ca, &leaf, csr, len, f->now, &x), ERR_AUTH);
	mem_free(csr);

	/* Not a CSR at all, empty, or too big. */
	static const char junk[] = "-----BEGIN CERTIFICATE REQUEST-----\nAAAA\n-----END CERTIFICATE REQUEST-----\n";
	assert_int_equal(pki_sign_csr(f->ca, &leaf, (const uint8_t *)junk, sizeof(junk) - 1, f->now, &x), ERR_PARSE);
	assert_int_equal(pki_sign_csr(f->ca, &leaf, (const uint8_t *)"\x30\x03\x02\x01\x00", 5, f->now, &x), ERR_PARSE);
	assert_int_equal(pki_sign_csr(f->ca, &leaf, (const uint8_t *)"", 0, f->now, &x), ERR_PARSE);
	uint8_t *big = mem_zalloc(PKI_CSR_MAX + 1);
	assert_int_equal(pki_sign_csr(f->ca, &leaf, big, PKI_CSR_MAX + 1, f->now, &x), ERR_TOOBIG);
	mem_free(big);
	assert_null(x);
	assert_int_equal(ERR_peek_error(), 0); /* no stale OpenSSL errors left behind */
	EVP_PKEY_free(p521);
	EVP_PKEY_free(rsa);
	EVP_PKEY_free(ed);
}

/* ---- files ------------------------------------------------------------------- */

static void keys_are_written_0600_and_the_ca_loads_back(void **state)
{
	struct fx *f = *state;
	static const char *const keys[] = { "ca/root.key", "ca/fleet-ca.key", "ca/device-ca.key" };
	static const char *const certs[] = { "ca/root.crt", "ca/fleet-ca.crt", "ca/device-ca.crt" };
	char path[PATH_MAX];
	struct stat st;
	struct pki_ca *ca = NULL;
	EVP_PKEY *k = NULL;

	for (int i = 0; i < 3; i++) {
		assert_int_equal(stat(path_in(f, path, keys[i]), &st), 0);
		assert_int_equal(st.st_mode & 07777, 0600);
		assert_int_equal(stat(path_in(f, path, certs[i]), &st), 0);
		assert_int_equal(st.st_mode & 07777, 0644);
	}
	assert_int_equal(stat(path_in(f, path, "ca"), &st), 0);
	assert_int_equal(st.st_mode & 077, 0);

	assert_int_equal(pki_ca_load(path_in(f, path, "ca"), &ca), 0);
	assert_int_equal(X509_cmp(pki_ca_root(ca), pki_ca_root(f->ca)), 0);
	assert_int_equal(X509_cmp(pki_ca_intermediate(ca, PKI_CA_DEVICE), pki_ca_intermediate(f->ca, PKI_CA_DEVICE)),
			 0);
	/* A second init into the same directory changes nothing. */
	assert_int_equal(pki_ca_save(ca, path_in(f, path, "ca")), ERR_EXISTS);
	pki_ca_free(ca);

	/* A leaf key, and a key others may read is refused. */
	assert_int_equal(pki_key_save(path_in(f, path, "leaf.key"), f->leaf_key), 0);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0600);
	assert_int_equal(pki_key_load(path, &k), 0);
	assert_int_equal(EVP_PKEY_eq(k, f->leaf_key), 1);
	EVP_PKEY_free(k);
	assert_int_equal(chmod(path, 0644), 0);
	assert_int_equal(pki_key_load(path, &k), -EPERM);
	assert_null(k);
	/* A swapped key makes the CA unloadable. */
	assert_int_equal(pki_key_save(path_in(f, path, "ca/fleet-ca.key"), f->device_key), 0);
	assert_int_equal(pki_ca_load(path_in(f, path, "ca"), &ca), ERR_CRYPTO);
	assert_null(ca);
	/* A certificate is not a key. */
	assert_int_equal(chmod(path_in(f, path, "ca/root.crt"), 0600), 0);
	assert_int_equal(pki_key_load(path, &k), ERR_PARSE);
}

static void certificates_round_trip_with_their_chain(void **state)
{
	struct fx *f = *state;
	char path[PATH_MAX];
	X509 *x = issue(f, PKI_ROLE_RELAY, "relay-1"), *back = NULL;
	STACK_OF(X509) *chain = sk_X509_new_null(), *back_chain = NULL;
	uint8_t fp1[PKI_FINGERPRINT_LEN], fp2[PKI_FINGERPRINT_LEN];

	sk_X509_push(chain, pki_ca_intermediate(f->ca, PKI_CA_FLEET));
	assert_int_equal(pki_cert_save(path_in(f, path, "relay.crt"), x, chain), 0);
	assert_int_equal(pki_cert_load(path, &back, &back_chain), 0);
	assert_int_equal(X509_cmp(back, x), 0);
	assert_int_equal(sk_X509_num(back_chain), 1);
	assert_int_equal(pki_cert_fingerprint(back, fp1), 0);
	assert_int_equal(pki_cert_fingerprint(x, fp2), 0);
	assert_memory_equal(fp1, fp2, sizeof(fp1));
	X509_free(back);
	/* Without room for a chain, a file with two certificates is refused. */
	assert_int_equal(pki_cert_load(path, &back, NULL), ERR_PARSE);
	assert_null(back);
	assert_int_equal(pki_cert_load(path_in(f, path, "absent.crt"), &back, NULL), -ENOENT);
	assert_int_equal(pki_cert_from_pem((const uint8_t *)"hello", 5, &back, NULL), ERR_PARSE);
	sk_X509_pop_free(back_chain, X509_free);
	sk_X509_free(chain);
	X509_free(x);
}

static void serials_round_trip_as_hex(void **state)
{
	struct pki_serial s, t;
	char hex[PKI_SERIAL_HEX_LEN];

	assert_int_equal(pki_serial_from_hex("00A1b2", &s), 0);
	assert_int_equal(s.len, 2);
	assert_int_equal(pki_serial_to_hex(&s, hex, sizeof(hex)), 0);
	assert_string_equal(hex, "a1b2");
	assert_int_equal(pki_serial_from_hex("abc", &t), 0);
	assert_int_equal(t.len, 2);
	assert_int_equal(t.bytes[0], 0x0a);
	assert_int_equal(pki_serial_from_hex("0", &t), 0);
	assert_int_equal(t.len, 0);
	assert_int_equal(pki_serial_to_hex(&t, hex, sizeof(hex)), 0);
	assert_string_equal(hex, "0");
	assert_int_equal(pki_serial_from_hex("", &t), -EINVAL);
	assert_int_equal(pki_serial_from_hex("xyz", &t), -EINVAL);
	assert_int_equal(pki_serial_from_hex("00112233445566778899aabbccddeeff0011223344", &t), -EINVAL);
	assert_int_equal(pki_serial_to_hex(&s, hex, 4), -ENOSPC);
}

static void names_parse_and_print(void **state)
{
	enum pki_role r;
	enum pki_ca_kind k;

	for (size_t i = 0; i < 4; i++) {
		assert_int_equal(pki_role_parse(pki_role_name(all_roles[i]), &r), 0);
		assert_int_equal(r, all_roles[i]);
	}
	assert_int_equal(pki_role_parse("admin", &r), -EINVAL);
	assert_null(pki_role_name(PKI_ROLE_NONE));
	assert_null(pki_role_name((enum pki_role)99));
	assert_int_equal(pki_role_ca(PKI_ROLE_DEVICE), PKI_CA_DEVICE);
	assert_int_equal(pki_role_ca(PKI_ROLE_RELAY), PKI_CA_FLEET);
	assert_int_equal(pki_ca_parse("device", &k), 0);
	assert_int_equal(k, PKI_CA_DEVICE);
	assert_int_equal(pki_ca_parse("root", &k), -EINVAL);
	assert_true(pki_id_valid("node-a.eu_1"));
	assert_false(pki_id_valid("node a"));
	assert_false(pki_id_valid("node/a"));
	char longid[PKI_ID_MAX + 2];
	memset(longid, 'a', sizeof(longid) - 1);
	longid[PKI_ID_MAX + 1] = '\0';
	assert_false(pki_id_valid(longid));
	longid[PKI_ID_MAX] = '\0';
	assert_true(pki_id_valid(longid));
}

/* ---- allocation failures ----------------------------------------------------- */

struct load_ctx {
	const char *dir;
	EVP_PKEY *key;
};

/* Loads the CA from disk, issues a leaf and renders it as PEM: every
 * allocation of ours on that path (file reads, the CA, the PEM copy). */
static int load_issue_render(void *arg)
{
	const struct load_ctx *lc = arg;
	struct pki_ca *ca = NULL;
	struct pki_leaf leaf = { .role = PKI_ROLE_NODE, .id = "n" };
	X509 *x = NULL;
	uint8_t *pem = NULL;
	size_t len;
	int rc = pki_ca_load(lc->dir, &ca);
	if (!rc)
		rc = pki_issue(ca, &leaf, lc->key, time(NULL), &x);
	if (!rc)
		rc = pki_cert_to_pem(x, NULL, &pem, &len);
	mem_free(pem);
	X509_free(x);
	pki_ca_free(ca);
	return rc;
}

static void loading_the_ca_and_issuing_unwind_on_every_allocation_failure(void **state)
{
	struct fx *f = *state;
	char path[PATH_MAX];
	struct load_ctx lc = { path_in(f, path, "ca"), f->leaf_key };
	assert_true(support_alloc_failure_loop(load_issue_render, &lc) >= 7);
}

static struct pki_serial nth_serial(int i)
{
	struct pki_serial s = { .len = 16 };
	memset(s.bytes, 0xa5, sizeof(s.bytes));
	s.bytes[1] = (uint8_t)i;
	s.bytes[2] = (uint8_t)(i >> 8);
	return s;
}

/* 300 serials force several rehashes of the set. */
static int fill_trust(void *arg)
{
	struct pki_trust *t = NULL;
	int rc = pki_trust_new(&t);
	for (int i = 0; !rc && i < 300; i++) {
		struct pki_serial s = nth_serial(i);
		rc = pki_trust_revoke_serial(t, &s);
	}
	for (int i = 0; !rc && i < 300; i++) {
		struct pki_serial s = nth_serial(i), other = nth_serial(i + 300);
		if (!pki_trust_serial_revoked(t, &s) || pki_trust_serial_revoked(t, &other))
			rc = -EIO;
	}
	pki_trust_free(t);
	return rc;
}

static void the_revoked_serial_set_grows_and_unwinds_on_allocation_failure(void **state)
{
	assert_true(support_alloc_failure_loop(fill_trust, NULL) >= 4);
}

static int key_files(void *arg)
{
	const struct fx *f = arg;
	char path[PATH_MAX];
	EVP_PKEY *k = NULL;
	int rc = pki_key_save(path_in(f, path, "loop.key"), f->leaf_key);
	if (!rc)
		rc = pki_key_load(path, &k);
	EVP_PKEY_free(k);
	return rc;
}

static void key_files_unwind_on_every_allocation_failure(void **state)
{
	assert_true(support_alloc_failure_loop(key_files, *state) >= 2);
}

/* ---- TLS ----------------------------------------------------------------------- */

struct tls_pair {
	struct fx *f;
	struct pki_identity *server_id, *client_id;
	SSL_CTX *sctx, *cctx;
	struct pki_peer_policy server_policy, client_policy;
};

static struct pki_identity *identity(struct fx *f, enum pki_role role, const char *id)
{
	X509 *x = issue(f, role, id);
	STACK_OF(X509) *chain = sk_X509_new_null();
	struct pki_identity *self = NULL;
	sk_X509_push(chain, pki_ca_intermediate(f->ca, pki_role_ca(role)));
	assert_int_equal(pki_identity_new(x, chain, f->leaf_key, &self), 0);
	sk_X509_free(chain);
	X509_free(x);
	return self;
}

/* Runs a handshake over an in-memory BIO pair, then one byte each way so a
 * server's refusal of the client certificate (TLS 1.3 checks it after the
 * client has finished) reaches the client. Returns whether both succeeded;
 * alpn receives the client's negotiated protocol. */
static bool handshake(SSL_CTX *sctx, SSL_CTX *cctx, char alpn[8])
{
	SSL *s = SSL_new(sctx), *c = SSL_new(cctx);
	BIO *sb = NULL, *cb = NULL;
	bool s_ok = false, c_ok = false, s_dead = false, c_dead = false;
	unsigned char byte = 'x';

	assert_non_null(s);
	assert_non_null(c);
	assert_int_equal(BIO_new_bio_pair(&sb, 0, &cb, 0), 1);
	SSL_set_bio(s, sb, sb);
	SSL_set_bio(c, cb, cb);
	SSL_set_accept_state(s);
	SSL_set_connect_state(c);
	for (int i = 0; i < 50 && !(s_ok && c_ok) && !s_dead && !c_dead; i++) {
		if (!c_ok) {
			int r = SSL_do_handshake(c);
			int e = SSL_get_error(c, r);
			c_ok = r == 1;
			c_dead = r != 1 && e != SSL_ERROR_WANT_READ && e != SSL_ERROR_WANT_WRITE;
		}
		if (!s_ok) {
			int r = SSL_do_handshake(s);
			int e = SSL_get_error(s, r);
			s_ok = r == 1;
			s_dead = r != 1 && e != SSL_ERROR_WANT_READ && e != SSL_ERROR_WANT_WRITE;
		}
	}
	bool ok = s_ok && c_ok;
	if (ok) {
		ok = SSL_write(c, &byte, 1) == 1 && SSL_read(s, &byte, 1) == 1 && SSL_write(s, &byte, 1) == 1 &&
		     SSL_read(c, &byte, 1) == 1;
	}
	alpn[0] = '\0';
	if (ok) {
		const unsigned char *p;
		unsigned int n;
		SSL_get0_alpn_selected(c, &p, &n);
		if (n < 8) {
			memcpy(alpn, p, n);
			alpn[n] = '\0';
		}
		assert_int_equal(SSL_version(c), TLS1_3_VERSION);
	}
	SSL_free(s);
	SSL_free(c);
	ERR_clear_error();
	return ok;
}

static bool connect_as(struct fx *f, enum pki_role server_role, const char *server_id, enum pki_role client_role,
		       const char *client_id, enum pki_role server_wants, enum pki_role client_wants,
		       const char *client_wants_id, char alpn[8])
{
	struct pki_identity *sid = identity(f, server_role, server_id);
	struct pki_identity *cid = identity(f, client_role, client_id);
	struct pki_peer_policy sp = { f->trust, server_wants, NULL };
	struct pki_peer_policy cp = { f->trust, client_wants, client_wants_id };
	SSL_CTX *sctx = NULL, *cctx = NULL;

	assert_int_equal(pki_ssl_ctx_server(sid, &sp, &sctx), 0);
	assert_int_equal(pki_ssl_ctx_client(cid, &cp, &cctx), 0);
	bool ok = handshake(sctx, cctx, alpn);
	SSL_CTX_free(sctx);
	SSL_CTX_free(cctx);
	pki_identity_free(sid);
	pki_identity_free(cid);
	return ok;
}

static void the_node_control_port_admits_the_controller_and_nobody_else(void **state)
{
	struct fx *f = *state;
	char alpn[8];

	/* cox dials node-1, pinning its id; node-1 wants the controller. */
	assert_true(connect_as(f, PKI_ROLE_NODE, "node-1", PKI_ROLE_CONTROLLER, "cox", PKI_ROLE_CONTROLLER,
			       PKI_ROLE_NODE, "node-1", alpn));
	assert_string_equal(alpn, "h2");
	/* A device (Device CA, clientAuth) knocking on the control port. */
	assert_false(connect_as(f, PKI_ROLE_NODE, "node-1", PKI_ROLE_DEVICE, "phone", PKI_ROLE_CONTROLLER,
				PKI_ROLE_NODE, NULL, alpn));
	/* cox reaching the wrong node. */
	assert_false(connect_as(f, PKI_ROLE_NODE, "node-2", PKI_ROLE_CONTROLLER, "cox", PKI_ROLE_CONTROLLER,
				PKI_ROLE_NODE, "node-1", alpn));
	/* cox reaching a relay where it expected a node. */
	assert_false(connect_as(f, PKI_ROLE_RELAY, "relay-1", PKI_ROLE_CONTROLLER, "cox", PKI_ROLE_CONTROLLER,
				PKI_ROLE_NODE, NULL, alpn));
	/* A relay's client door admits devices. */
	assert_true(connect_as(f, PKI_ROLE_RELAY, "relay-1", PKI_ROLE_DEVICE, "phone", PKI_ROLE_DEVICE, PKI_ROLE_RELAY,
			       NULL, alpn));
}

static void tls_contexts_refuse_an_identity_on_the_wrong_side(void **state)
{
	struct fx *f = *state;
	struct pki_identity *node = identity(f, PKI_ROLE_NODE, "node-1");
	struct pki_identity *cox = identity(f, PKI_ROLE_CONTROLLER, "cox");
	struct pki_peer_policy wants_controller = { f->trust, PKI_ROLE_CONTROLLER, NULL };
	struct pki_peer_policy wants_node = { f->trust, PKI_ROLE_NODE, NULL };
	struct pki_peer_policy wants_relay = { f->trust, PKI_ROLE_RELAY, NULL };
	SSL_CTX *ctx = NULL;
	char id[PKI_ID_MAX + 1];

	assert_int_equal(pki_identity_role(node, id), PKI_ROLE_NODE);
	assert_string_equal(id, "node-1");
	assert_int_equal(pki_ssl_ctx_server(cox, &wants_controller, &ctx), -EINVAL);
	assert_int_equal(pki_ssl_ctx_client(node, &wants_node, &ctx), -EINVAL);
	/* A server cannot require a server role of its clients. */
	assert_int_equal(pki_ssl_ctx_server(node, &wants_relay, &ctx), -EINVAL);
	assert_null(ctx);

	/* An identity whose key is not its certificate's. */
	EVP_PKEY *other = NULL;
	X509 *x = issue(f, PKI_ROLE_NODE, "n");
	struct pki_identity *bad = NULL;
	assert_int_equal(pki_key_generate(PKI_CURVE_P256, &other), 0);
	assert_int_equal(pki_identity_new(x, NULL, other, &bad), ERR_CRYPTO);
	assert_null(bad);
	EVP_PKEY_free(other);
	X509_free(x);
	pki_identity_free(node);
	pki_identity_free(cox);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)
		T(the_root_and_intermediates_carry_the_designed_constraints),
		T(a_leaf_carries_its_role_marker_eku_and_a_random_128_bit_serial),
		T(issuing_refuses_bad_ids_names_keys_and_lifetimes),
		T(each_role_verifies_as_itself_and_as_no_other_role),
		T(a_node_certificate_presented_as_the_controller_is_refused),
		T(a_device_certificate_is_refused_where_the_fleet_ca_is_required),
		T(expired_and_not_yet_valid_certificates_are_refused),
		T(a_self_signed_certificate_with_a_role_marker_is_refused),
		T(a_certificate_from_another_ca_with_the_same_names_is_refused),
		T(a_role_marker_must_be_single_and_the_eku_exact),
		T(revoked_serials_are_refused_from_the_set_and_from_a_signed_crl),
		T(a_crl_must_be_signed_by_one_of_our_intermediates),
		T(signing_a_csr_ignores_its_subject_sans_and_extensions),
		T(a_csr_with_a_bad_signature_or_key_is_refused),
		T(keys_are_written_0600_and_the_ca_loads_back),
		T(certificates_round_trip_with_their_chain),
		cmocka_unit_test(serials_round_trip_as_hex),
		cmocka_unit_test(names_parse_and_print),
		T(loading_the_ca_and_issuing_unwind_on_every_allocation_failure),
		cmocka_unit_test(the_revoked_serial_set_grows_and_unwinds_on_allocation_failure),
		T(key_files_unwind_on_every_allocation_failure),
		T(the_node_control_port_admits_the_controller_and_nobody_else),
		T(tls_contexts_refuse_an_identity_on_the_wrong_side),
#undef T
	};
	return run_group(tests);
}
