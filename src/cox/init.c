/* cox init: a new controller state directory from a preset (DESIGN.md §4,
 * §8). Everything is created in a fresh temporary directory beside the
 * target and renamed into place at the end, so a failed init leaves nothing
 * behind and a concurrent init cannot interleave with this one. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <openssl/evp.h>
#include <openssl/x509.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cox/config.h"
#include "cox/cox.h"
#include "cox/keys.h"
#include "lib/enc.h"
#include "lib/fileio.h"
#include "pki/pki.h"
#include "sshc/sshc.h"
#include "store/store.h"

#define ADMIN_PASSWORD_LEN 20

/* Removes a directory tree we created (no symlinks followed). */
static void rm_tree(const char *path)
{
	DIR *d = opendir(path);
	if (d) {
		struct dirent *e;
		while ((e = readdir(d))) {
			if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
				continue;
			char sub[COX_PATH_MAX];
			if (snprintf(sub, sizeof(sub), "%s/%s", path, e->d_name) >= (int)sizeof(sub))
				continue;
			struct stat st;
			if (!lstat(sub, &st) && S_ISDIR(st.st_mode))
				rm_tree(sub);
			else
				unlink(sub);
		}
		closedir(d);
	}
	rmdir(path);
}

/* A password from an unambiguous alphabet, ~115 bits. */
static void random_password(char *out, size_t len)
{
	static const char alphabet[] = "abcdefghijkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789";
	for (size_t i = 0; i < len; i++)
		out[i] = alphabet[randombytes_uniform(sizeof(alphabet) - 1)];
	out[len] = 0;
}

static int fingerprint_root(const struct pki_ca *ca, char *out, size_t cap)
{
	uint8_t fp[PKI_FINGERPRINT_LEN];
	int r = pki_cert_fingerprint(pki_ca_root(ca), fp);
	if (r < 0)
		return r;
	size_t o = 0;
	for (size_t i = 0; i < sizeof(fp) && o + 3 < cap; i++)
		o += (size_t)snprintf(out + o, cap - o, "%s%02X", i ? ":" : "", fp[i]);
	return 0;
}

struct init_opts {
	enum cox_preset preset;
	bool have_preset, force;
};

static int parse_opts(struct cox *c, int argc, char **argv, struct init_opts *o)
{
	memset(o, 0, sizeof(*o));
	for (int i = 1; i < argc; i++) {
		enum cox_preset p;
		if (!strcmp(argv[i], "--personal")) {
			p = COX_PRESET_PERSONAL;
		} else if (!strcmp(argv[i], "--enterprise")) {
			p = COX_PRESET_ENTERPRISE;
		} else if (!strcmp(argv[i], "--force")) {
			o->force = true;
			continue;
		} else {
			return cox_fail(c, "init: unknown option `%s'; valid: --personal, --enterprise, --state-dir DIR, --force",
					argv[i]),
			       -EINVAL;
		}
		if (o->have_preset && o->preset != p)
			return cox_fail(c, "init: choose one preset, --personal or --enterprise, not both"), -EINVAL;
		o->preset = p;
		o->have_preset = true;
	}
	if (!o->have_preset)
		return cox_fail(c, "init: a preset is required: --personal or --enterprise"), -EINVAL;
	return 0;
}

/* Writes everything into dir (a fresh, empty, 0700 directory). */
static int populate(struct cox *c, const char *dir, const struct init_opts *o, char *password, char *fpr,
		    size_t fprcap)
{
	char path[2 * COX_PATH_MAX];
	struct pki_ca *ca = NULL;
	EVP_PKEY *key = NULL;
	X509 *cert = NULL;
	STACK_OF(X509) *chain = NULL;
	struct store *st = NULL;
	char *pwhash = NULL;
	struct sshc_key *sshkey = NULL;
	int64_t admin_id;
	int r;
	time_t now = time(NULL);

	struct cox_config cfg;
	r = cox_config_preset(o->preset, &cfg);
	if (r < 0)
		goto out;
	snprintf(path, sizeof(path), "%s/%s", dir, COX_CONFIG_FILE);
	if ((r = cox_config_save(path, &cfg)) < 0) {
		cox_fail(c, "init: cannot write %s: %s", COX_CONFIG_FILE, cox_strerror(r));
		goto out;
	}

	/* Root, Fleet and Device CA. */
	snprintf(path, sizeof(path), "%s/ca", dir);
	if ((r = pki_ca_init(path, now, &ca)) < 0) {
		cox_fail(c, "init: cannot create the CAs: %s", cox_strerror(r));
		goto out;
	}
	/* The controller's client certificate (controller role, Fleet CA). */
	struct pki_leaf leaf = { .role = PKI_ROLE_CONTROLLER, .id = "cox" };
	if ((r = pki_key_generate(PKI_CURVE_P256, &key)) < 0 || (r = pki_issue(ca, &leaf, key, now, &cert)) < 0) {
		cox_fail(c, "init: cannot issue the controller certificate: %s", cox_strerror(r));
		goto out;
	}
	chain = sk_X509_new_null();
	if (!chain || !sk_X509_push(chain, pki_ca_intermediate(ca, PKI_CA_FLEET))) {
		r = -ENOMEM;
		goto out;
	}
	X509_up_ref(pki_ca_intermediate(ca, PKI_CA_FLEET));
	snprintf(path, sizeof(path), "%s/%s", dir, COX_CONTROLLER_KEY);
	if ((r = pki_key_save(path, key)) < 0)
		goto out;
	snprintf(path, sizeof(path), "%s/%s", dir, COX_CONTROLLER_CRT);
	if ((r = pki_cert_save(path, cert, chain)) < 0)
		goto out;

	/* The profile-signing Ed25519 key. */
	if ((r = cox_signing_key_create(dir)) < 0) {
		cox_fail(c, "init: cannot create the profile-signing key: %s", cox_strerror(r));
		goto out;
	}
	/* The controller's SSH key. */
	snprintf(path, sizeof(path), "%s/ssh", dir);
	if ((r = fileio_mkdir_p(path, 0700)) < 0)
		goto out;
	snprintf(path, sizeof(path), "%s/%s", dir, COX_SSH_KEY);
	if ((r = sshc_key_generate(&sshkey)) < 0 || (r = sshc_key_save(sshkey, path)) < 0) {
		cox_fail(c, "init: cannot create the SSH key: %s", cox_strerror(r));
		goto out;
	}

	/* The database, and the first admin with a password shown once. */
	snprintf(path, sizeof(path), "%s/%s", dir, COX_DB_FILE);
	char err[256] = "";
	if ((r = store_open(path, &st, err, sizeof(err))) < 0) {
		cox_fail(c, "init: cannot create the database: %s", err[0] ? err : cox_strerror(r));
		goto out;
	}
	random_password(password, ADMIN_PASSWORD_LEN);
	pwhash = malloc(crypto_pwhash_STRBYTES);
	if (!pwhash) {
		r = -ENOMEM;
		goto out;
	}
	if (crypto_pwhash_str_alg(pwhash, password, strlen(password), crypto_pwhash_OPSLIMIT_INTERACTIVE,
				  crypto_pwhash_MEMLIMIT_INTERACTIVE, crypto_pwhash_ALG_ARGON2ID13)) {
		r = -ENOMEM;
		goto out;
	}
	if ((r = store_admin_add(st, "admin", pwhash, &admin_id)) < 0) {
		cox_fail(c, "init: cannot create the admin: %s", cox_strerror(r));
		goto out;
	}
	if ((r = fingerprint_root(ca, fpr, fprcap)) < 0)
		goto out;
	char detail[256];
	snprintf(detail, sizeof(detail), "preset=%s root=%s", cox_preset_name(o->preset), fpr);
	r = store_audit_append(st, c->actor, "init", c->state_dir, detail);
out:
	store_close(st);
	sshc_key_free(sshkey);
	if (pwhash)
		sodium_memzero(pwhash, crypto_pwhash_STRBYTES);
	free(pwhash);
	sk_X509_pop_free(chain, X509_free);
	X509_free(cert);
	EVP_PKEY_free(key);
	pki_ca_free(ca);
	return r;
}

int cox_cmd_init(struct cox *c, int argc, char **argv)
{
	struct init_opts o;
	if (parse_opts(c, argc, argv, &o) < 0)
		return 2;

	/* The parent must exist; the state directory itself is created here. */
	char parent[COX_PATH_MAX], lockpath[COX_PATH_MAX + 16], tmp[COX_PATH_MAX + 32], old[COX_PATH_MAX + 32];
	snprintf(parent, sizeof(parent), "%s", c->state_dir);
	char *slash = strrchr(parent, '/');
	if (slash && slash != parent)
		*slash = 0;
	else if (slash)
		slash[1] = 0;
	else
		snprintf(parent, sizeof(parent), ".");
	int r = fileio_mkdir_p(parent, 0755);
	if (r < 0)
		return cox_fail(c, "init: cannot create %s: %s", parent, cox_strerror(r));

	/* One init at a time per state directory. */
	snprintf(lockpath, sizeof(lockpath), "%s.init-lock", c->state_dir);
	int lfd = open(lockpath, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (lfd < 0 || flock(lfd, LOCK_EX | LOCK_NB) < 0) {
		if (lfd >= 0)
			close(lfd);
		return cox_fail(c, "init: another `cox init` is running on %s", c->state_dir);
	}

	char cfgpath[COX_PATH_MAX];
	int rc = 1;
	struct stat sb;
	if (cox_path(c, COX_CONFIG_FILE, cfgpath, sizeof(cfgpath)) < 0) {
		cox_fail(c, "init: state directory path too long");
		goto out;
	}
	bool exists = stat(c->state_dir, &sb) == 0;
	if (exists && !S_ISDIR(sb.st_mode)) {
		cox_fail(c, "init: %s exists and is not a directory", c->state_dir);
		goto out;
	}
	if (exists && !o.force) {
		DIR *d = opendir(c->state_dir);
		bool empty = true;
		struct dirent *e;
		while (d && (e = readdir(d)))
			if (strcmp(e->d_name, ".") && strcmp(e->d_name, ".."))
				empty = false;
		if (d)
			closedir(d);
		if (!empty) {
			cox_fail(c, "init: %s is already initialised (or not empty); refusing to overwrite it. "
				    "`cox init --force' replaces it, destroying its CAs, keys and database",
				 c->state_dir);
			goto out;
		}
	}

	snprintf(tmp, sizeof(tmp), "%s.init-%d", c->state_dir, (int)getpid());
	rm_tree(tmp);
	if (mkdir(tmp, 0700) < 0) {
		cox_fail(c, "init: cannot create %s: %s", tmp, strerror(errno));
		goto out;
	}
	char password[ADMIN_PASSWORD_LEN + 1], fpr[3 * PKI_FINGERPRINT_LEN + 1] = "";
	r = populate(c, tmp, &o, password, fpr, sizeof(fpr));
	if (r < 0) {
		sodium_memzero(password, sizeof(password));
		rm_tree(tmp);
		cox_fail(c, "init: failed (%s); nothing was written", cox_strerror(r));
		goto out;
	}
	/* Swap into place: the old directory (if --force) goes aside, then away. */
	snprintf(old, sizeof(old), "%s.old-%d", c->state_dir, (int)getpid());
	if (exists && rename(c->state_dir, old) < 0) {
		sodium_memzero(password, sizeof(password));
		rm_tree(tmp);
		cox_fail(c, "init: cannot move the old %s aside: %s", c->state_dir, strerror(errno));
		goto out;
	}
	if (rename(tmp, c->state_dir) < 0) {
		int e = errno;
		if (exists && rename(old, c->state_dir) < 0) {
			/* leave old in place for the operator */
		}
		sodium_memzero(password, sizeof(password));
		rm_tree(tmp);
		cox_fail(c, "init: cannot move the new state into place: %s", strerror(e));
		goto out;
	}
	if (exists)
		rm_tree(old);

	fprintf(c->out,
		"Initialised a %s controller in %s\n"
		"  root CA fingerprint (SHA-256): %s\n"
		"  first admin: admin\n"
		"  admin password (shown once, stored only as an Argon2id hash): %s\n"
		"  SSH key for nodes: `cox ssh-key` prints the authorized_keys line\n",
		cox_preset_name(o.preset), c->state_dir, fpr, password);
	sodium_memzero(password, sizeof(password));
	rc = 0;
out:
	flock(lfd, LOCK_UN);
	close(lfd);
	return rc;
}
