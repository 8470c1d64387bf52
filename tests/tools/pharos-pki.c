/* pharos-pki: a test tool over src/pki, so integration tests (Python) can
 * mint certificates of any role, validity and issuer: a CA directory, leaves
 * from it or from a CSR, self-signed leaves, CRLs, and a verifier. Not
 * installed; the controller does all of this itself in production.
 *
 * Files written: DIR/{root,fleet-ca,device-ca}.{crt,key} (init);
 * PREFIX.crt (leaf then its intermediate, PEM) and PREFIX.key (0600) (issue,
 * self-signed). "issue" prints "serial=HEX" so a test can revoke it. */
#include <errno.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/evp.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "lib/err.h"
#include "lib/fileio.h"
#include "lib/mem.h"
#include "pki/pki.h"

#define DAY 86400
#define MAX_LIST PKI_SAN_MAX

struct opts {
	long days;            /* --days: validity length (default 365) */
	long not_before_days; /* --not-before-days: notBefore = now + N days (default: now - 5 min) */
	bool has_not_before;
	const char *csr;      /* --csr FILE: certify this CSR's key instead of a new one */
	const char *id;       /* --id: verify pins this id */
	const char *dns[MAX_LIST];
	size_t n_dns;
	const char *ips[MAX_LIST];
	size_t n_ips;
	const char *crls[MAX_LIST];
	size_t n_crls;
	const char *serials[MAX_LIST];
	size_t n_serials;
};

struct command {
	const char *name;
	int nargs; /* positional arguments; -1 = at least one more than min */
	int min;
	int (*fn)(char **args, int n, const struct opts *o);
	const char *usage;
	const char *help;
};

static int die(const char *cmd, const char *what, int rc)
{
	fprintf(stderr, "pharos-pki %s: %s: %s\n", cmd, what, err_str(rc));
	return 1;
}

static bool parse_long(const char *s, long *out)
{
	char *end;
	errno = 0;
	long v = strtol(s, &end, 10);
	if (errno || end == s || *end || v < -36500 || v > 36500)
		return false;
	*out = v;
	return true;
}

static int parse_role(const char *cmd, const char *s, enum pki_role *role)
{
	if (pki_role_parse(s, role) < 0) {
		fprintf(stderr, "pharos-pki %s: unknown role \"%s\" (want controller, node, relay or device)\n", cmd, s);
		return -1;
	}
	return 0;
}

static int path2(char *out, const char *prefix, const char *suffix)
{
	int n = snprintf(out, PATH_MAX, "%s%s", prefix, suffix);
	return n < 0 || n >= PATH_MAX ? -ENAMETOOLONG : 0;
}

/* Writes PREFIX.crt (leaf + chain) and, when key is given, PREFIX.key. */
static int write_leaf(const char *cmd, const char *prefix, X509 *leaf, X509 *intermediate, EVP_PKEY *key)
{
	char path[PATH_MAX];
	STACK_OF(X509) *chain = sk_X509_new_null();
	struct pki_serial s;
	char hex[PKI_SERIAL_HEX_LEN];
	int rc = chain ? 0 : -ENOMEM;

	if (!rc && intermediate && !sk_X509_push(chain, intermediate))
		rc = -ENOMEM;
	if (!rc)
		rc = path2(path, prefix, ".crt");
	if (!rc)
		rc = pki_cert_save(path, leaf, chain);
	if (!rc && key) {
		rc = path2(path, prefix, ".key");
		if (!rc)
			rc = pki_key_save(path, key);
	}
	sk_X509_free(chain);
	if (rc < 0)
		return die(cmd, path, rc);
	if (pki_cert_serial(leaf, &s) == 0 && pki_serial_to_hex(&s, hex, sizeof(hex)) == 0)
		printf("serial=%s\n", hex);
	return 0;
}

static void validity(const struct opts *o, time_t now, time_t *nb, time_t *na)
{
	*nb = o->has_not_before ? now + o->not_before_days * DAY : now - PKI_BACKDATE_SECONDS;
	*na = *nb + (o->days ? o->days : PKI_LEAF_DAYS) * DAY;
}

static int cmd_init(char **args, int n, const struct opts *o)
{
	int rc = pki_ca_init(args[0], time(NULL), NULL);
	if (rc < 0)
		return die("init", args[0], rc);
	return 0;
}

static int cmd_issue(char **args, int n, const struct opts *o)
{
	struct pki_ca *ca = NULL;
	struct pki_leaf leaf = { .id = args[2], .dns = o->dns, .n_dns = o->n_dns, .ips = o->ips, .n_ips = o->n_ips };
	EVP_PKEY *key = NULL;
	X509 *x = NULL;
	uint8_t *csr = NULL;
	size_t csr_len = 0;
	time_t now = time(NULL);
	int rc, ret = 1;

	if (parse_role("issue", args[1], &leaf.role) < 0)
		return 1;
	if (!pki_id_valid(leaf.id)) {
		fprintf(stderr, "pharos-pki issue: invalid id \"%s\" (1..%d of A-Z a-z 0-9 . _ -)\n", leaf.id, PKI_ID_MAX);
		return 1;
	}
	validity(o, now, &leaf.not_before, &leaf.not_after);
	rc = pki_ca_load(args[0], &ca);
	if (rc < 0)
		return die("issue", args[0], rc);
	if (o->csr) {
		rc = fileio_read_all(o->csr, PKI_CSR_MAX, &csr, &csr_len);
		if (rc < 0) {
			ret = die("issue", o->csr, rc);
			goto out;
		}
		rc = pki_sign_csr(ca, &leaf, csr, csr_len, now, &x);
	} else {
		rc = pki_key_generate(PKI_CURVE_P256, &key);
		if (!rc)
			rc = pki_issue(ca, &leaf, key, now, &x);
	}
	if (rc < 0) {
		ret = die("issue", "issuing", rc);
		goto out;
	}
	ret = write_leaf("issue", args[3], x, pki_ca_intermediate(ca, pki_role_ca(leaf.role)), key);
out:
	mem_free(csr);
	X509_free(x);
	EVP_PKEY_free(key);
	pki_ca_free(ca);
	return ret;
}

/* A leaf that looks like ours in every way but is signed by its own key:
 * only useful to prove that verifiers refuse it. Built with OpenSSL
 * directly, since the CA never makes one. */
static int cmd_self_signed(char **args, int n, const struct opts *o)
{
	enum pki_role role;
	EVP_PKEY *key = NULL;
	X509 *x = NULL;
	X509V3_CTX ctx;
	char san[160];
	time_t nb, na;
	int ret = 1;

	if (parse_role("self-signed", args[0], &role) < 0)
		return 1;
	if (!pki_id_valid(args[1])) {
		fprintf(stderr, "pharos-pki self-signed: invalid id \"%s\"\n", args[1]);
		return 1;
	}
	validity(o, time(NULL), &nb, &na);
	snprintf(san, sizeof(san), "URI:%s%s,URI:%s%s", PKI_ROLE_URI_PREFIX, args[0], PKI_ID_URI_PREFIX, args[1]);
	const char *vals[] = { "critical,CA:FALSE", "critical,digitalSignature",
			       role == PKI_ROLE_NODE || role == PKI_ROLE_RELAY ? "serverAuth" : "clientAuth", "hash",
			       san };
	const int nids[] = { NID_basic_constraints, NID_key_usage, NID_ext_key_usage, NID_subject_key_identifier,
			     NID_subject_alt_name };
	if (pki_key_generate(PKI_CURVE_P256, &key) < 0 || !(x = X509_new()) || !X509_set_version(x, X509_VERSION_3) ||
	    !ASN1_INTEGER_set(X509_get_serialNumber(x), (long)time(NULL)) ||
	    !X509_NAME_add_entry_by_txt(X509_get_subject_name(x), "CN", MBSTRING_UTF8, (const unsigned char *)args[1],
					-1, -1, 0) ||
	    !X509_set_issuer_name(x, X509_get_subject_name(x)) || !ASN1_TIME_set(X509_getm_notBefore(x), nb) ||
	    !ASN1_TIME_set(X509_getm_notAfter(x), na) || !X509_set_pubkey(x, key))
		goto fail;
	X509V3_set_ctx_nodb(&ctx);
	X509V3_set_ctx(&ctx, x, x, NULL, NULL, 0);
	for (size_t i = 0; i < sizeof(nids) / sizeof(nids[0]); i++) {
		X509_EXTENSION *ext = X509V3_EXT_conf_nid(NULL, &ctx, nids[i], vals[i]);
		bool ok = ext && X509_add_ext(x, ext, -1);
		X509_EXTENSION_free(ext);
		if (!ok)
			goto fail;
	}
	if (X509_sign(x, key, EVP_sha256()) <= 0)
		goto fail;
	ret = write_leaf("self-signed", args[2], x, NULL, key);
	goto out;
fail:
	fprintf(stderr, "pharos-pki self-signed: OpenSSL failed\n");
out:
	X509_free(x);
	EVP_PKEY_free(key);
	return ret;
}

static int cmd_csr(char **args, int n, const struct opts *o)
{
	EVP_PKEY *key = NULL;
	uint8_t *pem = NULL;
	size_t len = 0;
	int rc = pki_key_generate(PKI_CURVE_P256, &key);
	if (!rc)
		rc = pki_key_save(args[0], key);
	if (!rc)
		rc = pki_csr_new(key, args[2], &pem, &len);
	if (!rc)
		rc = fileio_write_atomic(args[1], pem, len, 0644);
	mem_free(pem);
	EVP_PKEY_free(key);
	return rc < 0 ? die("csr", args[1], rc) : 0;
}

static int cmd_crl(char **args, int n, const struct opts *o)
{
	struct pki_ca *ca = NULL;
	enum pki_ca_kind kind;
	struct pki_serial serials[MAX_LIST + 64];
	size_t count = 0;
	X509_CRL *crl = NULL;
	time_t now = time(NULL);
	int rc;

	if (pki_ca_parse(args[1], &kind) < 0) {
		fprintf(stderr, "pharos-pki crl: unknown CA \"%s\" (want fleet or device)\n", args[1]);
		return 1;
	}
	for (int i = 3; i < n; i++) {
		if (count == sizeof(serials) / sizeof(serials[0]) || pki_serial_from_hex(args[i], &serials[count]) < 0) {
			fprintf(stderr, "pharos-pki crl: bad serial \"%s\" (want 1..40 hex digits)\n", args[i]);
			return 1;
		}
		count++;
	}
	rc = pki_ca_load(args[0], &ca);
	if (rc < 0)
		return die("crl", args[0], rc);
	rc = pki_crl_issue(ca, kind, serials, count, now, now + (o->days ? o->days : 7) * DAY, &crl);
	if (!rc)
		rc = pki_crl_save(args[2], crl, pki_ca_intermediate(ca, kind));
	X509_CRL_free(crl);
	pki_ca_free(ca);
	return rc < 0 ? die("crl", args[2], rc) : 0;
}

static int cmd_verify(char **args, int n, const struct opts *o)
{
	struct pki_trust *t = NULL;
	enum pki_role role;
	X509 *leaf = NULL;
	STACK_OF(X509) *chain = NULL;
	char err[256] = "";
	int rc;

	if (parse_role("verify", args[1], &role) < 0)
		return 1;
	rc = pki_trust_new(&t);
	if (!rc)
		rc = pki_trust_load_roots(t, args[0]);
	for (size_t i = 0; !rc && i < o->n_crls; i++)
		rc = pki_trust_load_crl(t, o->crls[i]);
	for (size_t i = 0; !rc && i < o->n_serials; i++) {
		struct pki_serial s;
		rc = pki_serial_from_hex(o->serials[i], &s);
		if (!rc)
			rc = pki_trust_revoke_serial(t, &s);
	}
	if (rc < 0) {
		pki_trust_free(t);
		return die("verify", "loading trust", rc);
	}
	rc = pki_cert_load(args[2], &leaf, &chain);
	if (!rc)
		rc = pki_verify_peer(leaf, chain, t, role, o->id, time(NULL), err, sizeof(err));
	if (rc == 0)
		printf("ok\n");
	else
		printf("refused: %s (%s)\n", err[0] ? err : "unreadable certificate", err_str(rc));
	X509_free(leaf);
	sk_X509_pop_free(chain, X509_free);
	pki_trust_free(t);
	return rc == 0 ? 0 : 2;
}

static int cmd_show(char **args, int n, const struct opts *o)
{
	X509 *x = NULL;
	enum pki_role role;
	char id[PKI_ID_MAX + 1], hex[PKI_SERIAL_HEX_LEN], fph[2 * PKI_FINGERPRINT_LEN + 1];
	struct pki_serial s;
	uint8_t fp[PKI_FINGERPRINT_LEN];
	int rc = pki_cert_load(args[0], &x, NULL);

	if (rc == ERR_PARSE) {
		/* A chain file: show its leaf. */
		STACK_OF(X509) *chain = NULL;
		rc = pki_cert_load(args[0], &x, &chain);
		sk_X509_pop_free(chain, X509_free);
	}
	if (rc < 0)
		return die("show", args[0], rc);
	if (pki_cert_role(x, &role, id) == 0)
		printf("role=%s\nid=%s\n", pki_role_name(role), id);
	else
		printf("role=\nid=\n");
	if (pki_cert_serial(x, &s) == 0 && pki_serial_to_hex(&s, hex, sizeof(hex)) == 0)
		printf("serial=%s\n", hex);
	if (pki_cert_fingerprint(x, fp) == 0) {
		for (int i = 0; i < PKI_FINGERPRINT_LEN; i++)
			snprintf(fph + 2 * i, 3, "%02x", fp[i]);
		printf("sha256=%s\n", fph);
	}
	X509_free(x);
	return 0;
}

static const struct command commands[] = {
	{ "init", 1, 1, cmd_init, "DIR", "create a root, Fleet CA and Device CA in DIR" },
	{ "issue", 4, 4, cmd_issue, "DIR ROLE ID OUTPREFIX [--days N] [--not-before-days N] [--dns NAME]... "
				   "[--ip ADDR]... [--csr FILE]",
	  "issue a leaf (new P-256 key, or the CSR's) to OUTPREFIX.crt/.key" },
	{ "self-signed", 3, 3, cmd_self_signed, "ROLE ID OUTPREFIX [--days N] [--not-before-days N]",
	  "a self-signed leaf with a role marker (to be refused)" },
	{ "csr", 3, 3, cmd_csr, "KEYOUT CSROUT CN", "a new P-256 key and a CSR for it" },
	{ "crl", -1, 3, cmd_crl, "DIR fleet|device OUT [SERIAL-HEX]... [--days N]",
	  "a signed revocation list (CRL + issuer) to OUT" },
	{ "verify", 3, 3, cmd_verify, "ROOTCRT ROLE CERT [--id ID] [--crl FILE]... [--revoke SERIAL-HEX]...",
	  "verify CERT (leaf + chain) as ROLE; prints ok or refused: reason" },
	{ "show", 1, 1, cmd_show, "CERT", "print role, id, serial and SHA-256 fingerprint" },
};

static void usage(FILE *f)
{
	fprintf(f, "Usage: pharos-pki COMMAND ARGS (a test tool; roles: controller, node, relay, device)\n");
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		fprintf(f, "  %s %s\n      %s\n", commands[i].name, commands[i].usage, commands[i].help);
}

/* Options may appear anywhere after the command; everything else is
 * positional. */
static int parse_opts(int argc, char **argv, char **pos, int *npos, struct opts *o)
{
	*npos = 0;
	for (int i = 0; i < argc; i++) {
		const char *a = argv[i];
		const char *v = i + 1 < argc ? argv[i + 1] : NULL;
		bool list = false;
		const char **dst = NULL;
		size_t *count = NULL;

		if (strncmp(a, "--", 2) != 0) {
			pos[(*npos)++] = argv[i];
			continue;
		}
		if (!v) {
			fprintf(stderr, "pharos-pki: option %s needs a value\n", a);
			return -1;
		}
		i++;
		if (!strcmp(a, "--days")) {
			if (!parse_long(v, &o->days) || o->days <= 0) {
				fprintf(stderr, "pharos-pki: --days \"%s\": want a positive number of days\n", v);
				return -1;
			}
		} else if (!strcmp(a, "--not-before-days")) {
			if (!parse_long(v, &o->not_before_days)) {
				fprintf(stderr, "pharos-pki: --not-before-days \"%s\": want a number of days\n", v);
				return -1;
			}
			o->has_not_before = true;
		} else if (!strcmp(a, "--csr")) {
			o->csr = v;
		} else if (!strcmp(a, "--id")) {
			o->id = v;
		} else if (!strcmp(a, "--dns")) {
			list = true, dst = o->dns, count = &o->n_dns;
		} else if (!strcmp(a, "--ip")) {
			list = true, dst = o->ips, count = &o->n_ips;
		} else if (!strcmp(a, "--crl")) {
			list = true, dst = o->crls, count = &o->n_crls;
		} else if (!strcmp(a, "--revoke")) {
			list = true, dst = o->serials, count = &o->n_serials;
		} else {
			fprintf(stderr, "pharos-pki: unknown option \"%s\"\n", a);
			return -1;
		}
		if (list) {
			if (*count == MAX_LIST) {
				fprintf(stderr, "pharos-pki: at most %d %s options\n", MAX_LIST, a);
				return -1;
			}
			dst[(*count)++] = v;
		}
	}
	return 0;
}

int main(int argc, char **argv)
{
	struct opts o = { 0 };
	char *pos[64];
	int npos;

	if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "help")) {
		usage(argc < 2 ? stderr : stdout);
		return argc < 2 ? 1 : 0;
	}
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++) {
		const struct command *c = &commands[i];
		if (strcmp(argv[1], c->name) != 0)
			continue;
		if (argc - 2 > (int)(sizeof(pos) / sizeof(pos[0])) || parse_opts(argc - 2, argv + 2, pos, &npos, &o) < 0)
			return 1;
		if ((c->nargs >= 0 && npos != c->nargs) || npos < c->min) {
			fprintf(stderr, "Usage: pharos-pki %s %s\n", c->name, c->usage);
			return 1;
		}
		return c->fn(pos, npos, &o);
	}
	fprintf(stderr, "pharos-pki: unknown command \"%s\"\n", argv[1]);
	usage(stderr);
	return 1;
}
