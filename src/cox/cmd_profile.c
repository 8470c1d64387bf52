/* cox profile export: builds a device's profile from the store, seals it
 * (DESIGN.md §7: XChaCha20-Poly1305 under a random key wrapped to the
 * device's X25519 key, signed with the profile-signing key), keeps only the
 * sealed bytes, and writes the .pharos file. The plaintext exists only in
 * this process's memory and is wiped. */
#include <errno.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#include "cox/config.h"
#include "cox/cox.h"
#include "cox/keys.h"
#include "lib/addr.h"
#include "lib/fileio.h"
#include "lib/mem.h"
#include "profile/profile.h"
#include "store/store.h"

#define PROFILE_KEEPALIVE 25
#define PROFILE_MTU 1420

struct build {
	struct store *st;
	const struct store_device *d;
	struct profile *p;
	int err;
};

static int add_node(void *arg, const struct store_node *n)
{
	struct build *b = arg;
	if (n->state == STORE_NODE_PENDING || n->state == STORE_NODE_STOPPED || !n->has_awg_public ||
	    !n->n_endpoints || b->p->n_nodes == PROFILE_NODES_MAX)
		return 0;
	struct profile_node *pn = &b->p->nodes[b->p->n_nodes];
	memset(pn, 0, sizeof(*pn));
	snprintf(pn->id, sizeof(pn->id), "%s", n->name);
	snprintf(pn->name, sizeof(pn->name), "%s", n->name);
	snprintf(pn->region, sizeof(pn->region), "%s", n->region);
	for (size_t i = 0; i < n->n_endpoints && pn->n_endpoints < PROFILE_ENDPOINTS_MAX; i++)
		if (addr_parse(n->endpoints[i], &pn->endpoints[pn->n_endpoints]) == 0)
			pn->n_endpoints++;
	pn->port_lo = n->port_lo;
	pn->port_hi = n->port_hi >= n->port_lo ? n->port_hi : n->port_lo;
	pn->protocols = mem_zalloc(sizeof(*pn->protocols));
	if (!pn->protocols)
		return -ENOMEM;
	pn->n_protocols = 1;
	b->p->n_nodes++; /* from here profile_free owns it */
	struct profile_awg *awg = &pn->protocols[0].u.awg;
	pn->protocols[0].type = PROFILE_PROTO_AMNEZIAWG;
	memcpy(awg->public_key, n->awg_public, PROFILE_KEY_LEN);
	int r = store_psk_get(b->st, b->d->id, n->id, awg->preshared_key);
	if (r < 0)
		return r;
	const char *obf = n->obfuscation ? n->obfuscation : "";
	awg->obfuscation = mem_dup(obf, strlen(obf) + 1);
	if (!awg->obfuscation)
		return -ENOMEM;
	awg->keepalive = PROFILE_KEEPALIVE;
	awg->mtu = PROFILE_MTU;
	return 0;
}

static int build_profile(struct cox *c, struct store *st, const struct store_device *d, uint64_t revision,
			 struct profile *p, char *err, size_t errlen)
{
	profile_init(p);
	snprintf(p->fleet_id, sizeof(p->fleet_id), "%s", c->cfg.fleet_id);
	snprintf(p->fleet_name, sizeof(p->fleet_name), "%s", c->cfg.fleet_name);
	snprintf(p->device_id, sizeof(p->device_id), "dev-%lld", (long long)d->id);
	snprintf(p->device_name, sizeof(p->device_name), "%s", d->name);
	snprintf(p->user, sizeof(p->user), "%s", d->user_email);
	char a[64];
	snprintf(a, sizeof(a), "%s/32", d->addr4);
	if (cidr_parse(a, &p->address4) < 0)
		return snprintf(err, errlen, "device address %s is not valid", d->addr4), ERR_PARSE;
	snprintf(a, sizeof(a), "%s/128", d->addr6);
	if (cidr_parse(a, &p->address6) < 0)
		return snprintf(err, errlen, "device address %s is not valid", d->addr6), ERR_PARSE;
	char dns[sizeof(c->cfg.dns)];
	snprintf(dns, sizeof(dns), "%s", c->cfg.dns);
	for (char *save, *t = strtok_r(dns, ",", &save); t && p->n_dns < PROFILE_DNS_MAX; t = strtok_r(NULL, ",", &save))
		if (addr_parse(t, &p->dns[p->n_dns]) == 0)
			p->n_dns++;
	p->rotation.enabled = c->cfg.rotation;
	p->rotation.interval = c->cfg.rotation_interval;
	p->rotation.jitter = c->cfg.rotation_jitter;
	p->revision = revision;
	p->nodes = mem_zalloc(PROFILE_NODES_MAX * sizeof(*p->nodes));
	if (!p->nodes)
		return -ENOMEM;
	struct build b = { .st = st, .d = d, .p = p };
	int r = store_nodes_list(st, add_node, &b);
	if (r < 0)
		return snprintf(err, errlen, "cannot read the nodes: %s", cox_strerror(r)), r;
	if (!p->n_nodes)
		return snprintf(err, errlen, "no active node with an entry address yet: add one with `cox nodes add`"),
		       ERR_NOTFOUND;
	return profile_validate(p, err, errlen);
}

static int export(struct cox *c, int argc, char **argv)
{
	const char *ref = NULL, *out = NULL;
	enum profile_enc enc = PROFILE_ENC_ACCOUNT;
	bool pw_stdin = false;
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--out") && i + 1 < argc) {
			out = argv[++i];
		} else if (!strcmp(argv[i], "--enc") && i + 1 < argc) {
			if (profile_enc_parse(argv[++i], &enc) < 0)
				return cox_fail(c, "profile export: --enc takes account, password or none, not `%s'", argv[i]),
				       2;
		} else if (!strcmp(argv[i], "--password-stdin")) {
			pw_stdin = true;
		} else if (argv[i][0] != '-' && !ref) {
			ref = argv[i];
		} else {
			return cox_fail(c, "profile export: unexpected `%s'; usage: cox profile export DEVICE [--out FILE] "
					   "[--enc account|password|none] [--password-stdin]",
					argv[i]),
			       2;
		}
	}
	if (!ref)
		return cox_fail(c, "profile export: DEVICE is required (an id, EMAIL/NAME or a unique NAME)"), 2;
	if (enc == PROFILE_ENC_PASSWORD && !pw_stdin)
		return cox_fail(c, "profile export: --enc password needs --password-stdin"), 2;
	struct store *st;
	if (cox_store(c, &st) < 0)
		return 1;

	struct store_device d;
	int r = store_device_find(st, ref, &d);
	if (r == ERR_NOTFOUND)
		return cox_fail(c, "profile export: no device `%s' (see `cox devices list')", ref);
	if (r == ERR_EXISTS)
		return cox_fail(c, "profile export: several devices are named `%s'; give EMAIL/NAME", ref);
	if (r < 0)
		return cox_fail(c, "profile export: %s", cox_strerror(r));
	if (d.revoked_at)
		return cox_fail(c, "profile export: device %s is revoked", ref);

	char password[PROFILE_PASSWORD_MAX + 2] = "";
	if (enc == PROFILE_ENC_PASSWORD) {
		if (!fgets(password, sizeof(password), stdin))
			password[0] = 0;
		password[strcspn(password, "\r\n")] = 0;
		if (!password[0]) {
			sodium_memzero(password, sizeof(password));
			return cox_fail(c, "profile export: an empty password was read from stdin");
		}
	}

	uint64_t rev = 0;
	uint8_t *old = NULL;
	size_t old_len = 0;
	if (store_profile_get(st, d.id, &rev, &old, &old_len) == 0)
		mem_free(old);
	rev++;

	struct profile p;
	char err[512] = "", *json = NULL;
	uint8_t sk[COX_SIGN_SK_LEN], *file = NULL;
	size_t file_len = 0;
	int rc = 1;
	r = build_profile(c, st, &d, rev, &p, err, sizeof(err));
	if (r < 0) {
		cox_fail(c, "profile export %s: %s", ref, err[0] ? err : cox_strerror(r));
		goto out;
	}
	if ((r = profile_to_json(&p, &json)) < 0 || (r = cox_signing_key_load(c, sk, NULL)) < 0) {
		cox_fail(c, "profile export %s: %s", ref, cox_strerror(r));
		goto out;
	}
	struct profile_seal_args sa = { .enc = enc, .recipient = d.enc_public, .password = password, .signing_sk = sk };
	r = profile_seal(json, strlen(json), &sa, &file, &file_len);
	sodium_memzero(sk, sizeof(sk));
	if (r < 0) {
		cox_fail(c, "profile export %s: sealing failed: %s", ref, cox_strerror(r));
		goto out;
	}
	char detail[128];
	snprintf(detail, sizeof(detail), "revision=%llu enc=%s nodes=%zu", (unsigned long long)rev,
		 profile_enc_name(enc), p.n_nodes);
	char target[STORE_EMAIL_MAX + STORE_NAME_MAX + 2];
	snprintf(target, sizeof(target), "%s/%s", d.user_email, d.name);
	if ((r = store_begin(st)) < 0)
		goto dberr;
	(void)(store_profile_put(st, d.id, rev, file, file_len) < 0 ||
	       store_audit_append(st, c->actor, "profile.export", target, detail) < 0);
	if ((r = store_commit(st)) < 0)
		goto dberr;
	char path[4096];
	if (out && !strcmp(out, "-")) {
		fwrite(file, 1, file_len, c->out);
	} else {
		snprintf(path, sizeof(path), "%s", out ? out : "");
		if (!out)
			snprintf(path, sizeof(path), "%s.pharos", d.name);
		if ((r = fileio_write_atomic(path, file, file_len, 0600)) < 0) {
			cox_fail(c, "profile export: cannot write %s: %s", path, cox_strerror(r));
			goto out;
		}
		fprintf(c->out, "wrote %s: %s profile for %s, revision %llu, %zu node%s, sealed (%s)\n", path,
			c->cfg.fleet_name, target, (unsigned long long)rev, p.n_nodes, p.n_nodes == 1 ? "" : "s",
			profile_enc_name(enc));
	}
	rc = 0;
	goto out;
dberr:
	cox_fail(c, "profile export: cannot record it: %s", store_errmsg(st));
out:
	sodium_memzero(password, sizeof(password));
	if (json)
		mem_free_secret(json, strlen(json) + 1);
	mem_free(file);
	profile_free(&p);
	return rc;
}

static const struct cox_cmd cmds[] = {
	{ "export", export, "DEVICE [--out FILE|-] [--enc account|password|none] [--password-stdin]",
	  "Writes the device's sealed .pharos profile (default DEVICE.pharos; account: sealed to the device's key)" },
};

int cox_cmd_profile(struct cox *c, int argc, char **argv)
{
	return cox_dispatch(c, "profile", cmds, 1, argc, argv);
}
