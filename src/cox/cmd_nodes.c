/* cox nodes / servers / ssh-key: installing nodes over SSH (DESIGN.md §5.6)
 * and managing them over gRPC.
 *
 * `nodes add` runs its steps in order and prints each; the node's row is
 * written only after the last step worked, and a failure rolls back what
 * the steps did on the host, so nothing is left half-registered. */
#include <arpa/inet.h>
#include <errno.h>
#include <jansson.h>
#include <limits.h>
#include <openssl/x509.h>
#include <sodium.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include "cox/cox.h"
#include "cox/keys.h"
#include "cox/nodeclient.h"
#include "cox/nodes.h"
#include "lib/buf.h"
#include "lib/enc.h"
#include "lib/mem.h"
#include "node/policy.h"
#include "pki/pki.h"
#include "sshc/sshc.h"
#include "store/store.h"

#define WAIT_CONTROL_MS 30000

/* ---- shared helpers ------------------------------------------------------ */

int cox_ssh_key_load(struct cox *c, struct sshc_key **key)
{
	char path[COX_PATH_MAX];
	int r = cox_path(c, COX_SSH_KEY, path, sizeof(path));
	if (r < 0 || (r = sshc_key_load(path, key)) < 0)
		cox_fail(c, "cannot load the controller's SSH key %s: %s", path, cox_strerror(r));
	return r;
}

/* "USER@HOST[:PORT]" or "USER@[V6]:PORT". */
static int parse_target(struct cox *c, const char *s, char *user, size_t ucap, char *host, size_t hcap,
			uint16_t *port)
{
	const char *at = strchr(s, '@');
	*port = 22;
	if (!at || at == s || (size_t)(at - s) >= ucap) {
		cox_fail(c, "`%s' is not USER@HOST[:PORT] (e.g. root@198.51.100.10 or root@[2001:db8::10]:2222)", s);
		return -EINVAL;
	}
	memcpy(user, s, (size_t)(at - s));
	user[at - s] = 0;
	const char *h = at + 1, *end, *colon = NULL;
	if (*h == '[') {
		end = strchr(h, ']');
		if (!end)
			goto bad;
		h++;
		if (end[1] == ':')
			colon = end + 1;
		else if (end[1])
			goto bad;
	} else {
		colon = strchr(h, ':');
		end = colon ? colon : h + strlen(h);
	}
	if (end == h || (size_t)(end - h) >= hcap)
		goto bad;
	memcpy(host, h, (size_t)(end - h));
	host[end - h] = 0;
	if (colon) {
		char *e;
		long p = strtol(colon + 1, &e, 10);
		if (*e || p < 1 || p > 65535)
			goto bad;
		*port = (uint16_t)p;
	}
	for (const char *p = host; *p; p++)
		if (!strchr("0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ.:-", *p))
			goto bad;
	for (const char *p = user; *p; p++)
		if (!strchr("0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ._-", *p))
			goto bad;
	return 0;
bad:
	cox_fail(c, "`%s' is not USER@HOST[:PORT] (e.g. root@198.51.100.10 or root@[2001:db8::10]:2222)", s);
	return -EINVAL;
}

static bool is_ip(const char *s)
{
	uint8_t b[16];
	return inet_pton(AF_INET, s, b) == 1 || inet_pton(AF_INET6, s, b) == 1;
}

static int parse_onoff(struct cox *c, const char *opt, const char *v, bool *out)
{
	if (v && !strcmp(v, "on"))
		*out = true;
	else if (v && !strcmp(v, "off"))
		*out = false;
	else
		return cox_fail(c, "%s takes on or off, not `%s'", opt, v ? v : ""), -EINVAL;
	return 0;
}

static int parse_ports(struct cox *c, const char *v, uint16_t *lo, uint16_t *hi)
{
	char *e;
	long a = strtol(v, &e, 10), b = a;
	if (*e == '-')
		b = strtol(e + 1, &e, 10);
	if (*e || a < 1 || a > 65535 || b < a || b > 65535 || b - a > 1023)
		return cox_fail(c, "`%s' is not a port or a range A-B (1..65535, at most 1024 ports)", v), -EINVAL;
	*lo = (uint16_t)a;
	*hi = (uint16_t)b;
	return 0;
}

/* The local pharos-node binary to install: --binary, $PHAROS_NODE_BINARY, or
 * pharos-node next to this cox. */
static int find_binary(struct cox *c, const char *opt, char *out, size_t cap)
{
	const char *env = getenv("PHAROS_NODE_BINARY");
	if (opt || (env && *env)) {
		int w = snprintf(out, cap, "%s", opt ? opt : env);
		if (w < 0 || (size_t)w >= cap)
			return cox_fail(c, "the pharos-node path is too long"), -ENAMETOOLONG;
	} else {
		char self[PATH_MAX];
		ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
		if (n <= 0)
			return cox_fail(c, "cannot find pharos-node: give --binary PATH"), -ENOENT;
		self[n] = 0;
		char *slash = strrchr(self, '/');
		*slash = 0;
		int w = snprintf(out, cap, "%s/pharos-node", self);
		if (w < 0 || (size_t)w >= cap)
			return cox_fail(c, "path of pharos-node is too long: give --binary PATH"), -ENAMETOOLONG;
	}
	if (access(out, X_OK) < 0)
		return cox_fail(c, "pharos-node binary `%s' is not an executable file: give --binary PATH", out), -ENOENT;
	return 0;
}

static void progress(void *arg, const char *step, bool ok, const char *msg)
{
	struct cox *c = arg;
	fprintf(c->out, "  %-14s %s%s%s\n", step, ok ? "ok" : "FAILED", msg && *msg ? ": " : "", msg ? msg : "");
	fflush(c->out);
}

/* Where and how a node was installed, where not the defaults: kept in the
 * store's settings as node.<name>.<key> (written with the node's row,
 * removed with it), so every later SSH step (update, start, stop, rm,
 * endpoints) finds the same binary, service, config directory and
 * interface. Several agents can share a host this way. */
struct install_settings {
	char binary[STORE_KV_VALUE_MAX];
	char service[STORE_KV_VALUE_MAX];
	char config_dir[STORE_KV_VALUE_MAX];
	char interface[STORE_KV_VALUE_MAX];
};

static const struct {
	const char *key;
	size_t off;
} install_keys[] = {
	{ "binary", offsetof(struct install_settings, binary) },
	{ "service-name", offsetof(struct install_settings, service) },
	{ "config-dir", offsetof(struct install_settings, config_dir) },
	{ "interface", offsetof(struct install_settings, interface) },
};
#define N_INSTALL_KEYS (sizeof(install_keys) / sizeof(install_keys[0]))

static char *install_key(const char *name, size_t k, char *buf, size_t cap)
{
	snprintf(buf, cap, "node.%s.%s", name, install_keys[k].key);
	return buf;
}

static char *install_value(struct install_settings *is, size_t k)
{
	return (char *)is + install_keys[k].off;
}

/* Reads a node's settings ("" where the default applies). */
static void install_settings_load(struct cox *c, const char *name, struct install_settings *is)
{
	struct store *st;
	char key[STORE_KV_KEY_MAX];
	memset(is, 0, sizeof(*is));
	if (cox_store(c, &st) < 0)
		return;
	for (size_t k = 0; k < N_INSTALL_KEYS; k++)
		if (store_kv_get(st, install_key(name, k, key, sizeof(key)), install_value(is, k), STORE_KV_VALUE_MAX) < 0)
			install_value(is, k)[0] = 0;
}

/* Writes the non-default settings and removes stale ones (a node of the
 * same name removed earlier), inside the caller's transaction. */
static int install_settings_save(struct store *st, const char *name, struct install_settings *is)
{
	char key[STORE_KV_KEY_MAX];
	int r = 0;
	for (size_t k = 0; r == 0 && k < N_INSTALL_KEYS; k++) {
		const char *v = install_value(is, k);
		install_key(name, k, key, sizeof(key));
		r = *v ? store_kv_set(st, key, v) : store_kv_delete(st, key);
	}
	return r;
}

static int install_settings_delete(struct store *st, const char *name)
{
	char key[STORE_KV_KEY_MAX];
	int r = 0;
	for (size_t k = 0; r == 0 && k < N_INSTALL_KEYS; k++)
		r = store_kv_delete(st, install_key(name, k, key, sizeof(key)));
	return r;
}

/* The sshc configuration of a node: its name, control port, port range and
 * (is non-NULL) its recorded install settings. */
static void node_cfg_for(const struct store_node *n, const struct install_settings *is, struct sshc_node_cfg *cfg,
			 char *listen, size_t lcap)
{
	memset(cfg, 0, sizeof(*cfg));
	if (is) {
		cfg->binary_path = is->binary[0] ? is->binary : NULL;
		cfg->service_name = is->service[0] ? is->service : NULL;
		cfg->config_dir = is->config_dir[0] ? is->config_dir : NULL;
		cfg->interface = is->interface[0] ? is->interface : NULL;
	}
	snprintf(listen, lcap, "[::]:%u", n->control_port);
	cfg->node_name = n->name;
	cfg->control_listen = listen;
	cfg->port = n->port_lo;
	cfg->port_hi = n->port_hi > n->port_lo ? n->port_hi : 0;
}

/* Connects to a registered node with its pinned host key. */
int cox_node_ssh(struct cox *c, const struct store_node *n, struct sshc **out)
{
	*out = NULL;
	struct sshc_key *key = NULL;
	struct sshc *s = NULL;
	int r = cox_ssh_key_load(c, &key);
	if (r < 0)
		return r;
	if ((r = sshc_new(&s)) < 0)
		goto out;
	struct sshc_target t = { .host = n->ssh_host, .port = n->ssh_port, .user = n->ssh_user,
				 .pinned_fp = n->host_key_fp };
	r = sshc_connect(s, &t, key);
	if (r < 0) {
		if (sshc_host_key_changed(s))
			cox_fail(c, "node %s: refusing to connect: %s", n->name, sshc_error(s));
		else
			cox_fail(c, "node %s: SSH to %s@%s:%u failed: %s", n->name, n->ssh_user, n->ssh_host,
				 n->ssh_port, sshc_error(s));
		goto out;
	}
	*out = s;
	s = NULL;
out:
	sshc_free(s);
	sshc_key_free(key);
	return r;
}

/* ---- nodes add ----------------------------------------------------------- */

struct add_opts {
	const char *name, *region, *binary, *remote_binary;
	const char *service_name, *config_dir, *interface;
	uint16_t control_port, port_lo, port_hi;
	enum sshc_service service;
	bool password, password_stdin;
	const char *user;
	uint16_t ssh_port;
};

static int parse_add_opts(struct cox *c, int argc, char **argv, int first, struct add_opts *o, bool servers)
{
	o->control_port = c->cfg.node_control_port;
	o->port_lo = o->port_hi = c->cfg.awg_port;
	for (int i = first; i < argc; i++) {
		const char *a = argv[i];
		const char *v = i + 1 < argc ? argv[i + 1] : NULL;
		if (!strcmp(a, "--password") && servers) {
			o->password = true;
			continue;
		}
		if (!strcmp(a, "--password-stdin") && servers) {
			o->password_stdin = true;
			continue;
		}
		if (!v)
			goto bad;
		i++;
		if (!strcmp(a, "--name")) {
			if (!store_name_valid(v))
				return cox_fail(c, "--name `%s' must be 1-64 of letters, digits, '.', '_', '-'", v), -EINVAL;
			o->name = v;
		} else if (!strcmp(a, "--region")) {
			if (!store_name_valid(v))
				return cox_fail(c, "--region `%s' must be 1-64 of letters, digits, '.', '_', '-'", v),
				       -EINVAL;
			o->region = v;
		} else if (!strcmp(a, "--binary")) {
			o->binary = v;
		} else if (!strcmp(a, "--remote-binary")) {
			if (v[0] != '/')
				return cox_fail(c, "--remote-binary `%s' must be an absolute path", v), -EINVAL;
			o->remote_binary = v;
		} else if (!strcmp(a, "--service-name")) {
			o->service_name = v;
		} else if (!strcmp(a, "--config-dir")) {
			o->config_dir = v;
		} else if (!strcmp(a, "--interface")) {
			o->interface = v;
		} else if (!strcmp(a, "--control-port")) {
			uint16_t hi;
			if (parse_ports(c, v, &o->control_port, &hi) < 0 || hi != o->control_port)
				return -EINVAL;
		} else if (!strcmp(a, "--ports") || !strcmp(a, "--port")) {
			if (parse_ports(c, v, &o->port_lo, &o->port_hi) < 0)
				return -EINVAL;
		} else if (!strcmp(a, "--service")) {
			if (!strcmp(v, "auto"))
				o->service = SSHC_SERVICE_AUTO;
			else if (!strcmp(v, "systemd"))
				o->service = SSHC_SERVICE_SYSTEMD;
			else if (!strcmp(v, "supervisor"))
				o->service = SSHC_SERVICE_SUPERVISOR;
			else
				return cox_fail(c, "--service takes auto, systemd or supervisor, not `%s'", v), -EINVAL;
		} else if (!strcmp(a, "--user") && servers) {
			if (!*v)
				goto bad;
			o->user = v;
		} else if (!strcmp(a, "--port-ssh") && servers) {
			uint16_t hi;
			if (parse_ports(c, v, &o->ssh_port, &hi) < 0)
				return -EINVAL;
		} else {
			i--;
			goto bad;
		}
		continue;
bad:
		return cox_fail(c, "%s: unknown option or missing value `%s'; see `cox %s --help'", servers ? "servers add" : "nodes add",
				a, servers ? "servers add" : "nodes add"),
		       -EINVAL;
	}
	if (o->password && o->password_stdin)
		return cox_fail(c, "servers add: give --password or --password-stdin, not both"), -EINVAL;
	if (servers && !o->password && !o->password_stdin)
		return cox_fail(c, "servers add: a one-time password is needed: --password (prompted) or --password-stdin"),
		       -EINVAL;
	/* Paths and names are checked now, before anything connects. */
	struct sshc_node_cfg in = { .binary_path = o->remote_binary, .service_name = o->service_name,
				    .config_dir = o->config_dir, .interface = o->interface },
			     out;
	char err[300];
	if (sshc_node_cfg_check(&in, &out, err, sizeof(err)) < 0)
		return cox_fail(c, "%s: %s", servers ? "servers add" : "nodes add", err), -EINVAL;
	return 0;
}

static int sign_node_cert(struct cox *c, const char *name, const char *host, const char *csr, size_t csr_len,
			  uint8_t **pem, size_t *pem_len, uint8_t **ca_pem, size_t *ca_len, struct store_cert *rec)
{
	struct pki_ca *ca = NULL;
	X509 *cert = NULL;
	STACK_OF(X509) *chain = NULL;
	char dir[COX_PATH_MAX];
	int r = cox_path(c, COX_CA_DIR, dir, sizeof(dir));
	if (r < 0 || (r = pki_ca_load(dir, &ca)) < 0) {
		cox_fail(c, "cannot load the CA from %s: %s", dir, cox_strerror(r));
		goto out;
	}
	const char *ips[1] = { host }, *dns[1] = { host };
	struct pki_leaf leaf = { .role = PKI_ROLE_NODE, .id = name };
	if (is_ip(host)) {
		leaf.ips = ips;
		leaf.n_ips = 1;
	} else {
		leaf.dns = dns;
		leaf.n_dns = 1;
	}
	time_t now = time(NULL);
	if ((r = pki_sign_csr(ca, &leaf, (const uint8_t *)csr, csr_len, now, &cert)) < 0) {
		cox_fail(c, "the node's CSR was refused: %s", cox_strerror(r));
		goto out;
	}
	chain = sk_X509_new_null();
	X509 *fleet = pki_ca_intermediate(ca, PKI_CA_FLEET);
	if (!chain || !sk_X509_push(chain, fleet)) {
		r = -ENOMEM;
		goto out;
	}
	X509_up_ref(fleet);
	if ((r = pki_cert_to_pem(cert, chain, pem, pem_len)) < 0 ||
	    (r = pki_cert_to_pem(pki_ca_root(ca), NULL, ca_pem, ca_len)) < 0)
		goto out;
	struct pki_serial serial;
	uint8_t fp[PKI_FINGERPRINT_LEN];
	memset(rec, 0, sizeof(*rec));
	if ((r = pki_cert_serial(cert, &serial)) < 0 || (r = pki_serial_to_hex(&serial, rec->serial, sizeof(rec->serial))) < 0 ||
	    (r = pki_cert_fingerprint(cert, fp)) < 0 || (r = enc_hex_encode(rec->fingerprint, sizeof(rec->fingerprint), fp, sizeof(fp))) < 0)
		goto out;
	snprintf(rec->role, sizeof(rec->role), "node");
	snprintf(rec->subject, sizeof(rec->subject), "%s", name);
	rec->not_before = now - PKI_BACKDATE_SECONDS;
	rec->not_after = rec->not_before + (int64_t)PKI_LEAF_DAYS * 86400;
out:
	sk_X509_pop_free(chain, X509_free);
	X509_free(cert);
	pki_ca_free(ca);
	return r;
}

/* Asks the new node for its status until its control port answers. */
static int wait_control(struct cox *c, const char *name, const char *host, uint16_t port, struct node_status *st,
			char *err, size_t errlen)
{
	struct cox_tls *tls = NULL;
	struct nodeclient *nc = NULL;
	int r = cox_tls_new(c, &tls);
	if (r < 0) {
		snprintf(err, errlen, "cannot load the controller certificate: %s", cox_strerror(r));
		return r;
	}
	struct timespec t0, t1;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (;;) {
		nodeclient_free(nc);
		nc = NULL;
		if ((r = nodeclient_new(tls, name, host, port, &nc)) < 0) {
			snprintf(err, errlen, "%s", cox_strerror(r));
			break;
		}
		r = nodeclient_status(nc, st, err, errlen);
		if (r == 0)
			break;
		clock_gettime(CLOCK_MONOTONIC, &t1);
		if ((t1.tv_sec - t0.tv_sec) * 1000 + (t1.tv_nsec - t0.tv_nsec) / 1000000 > WAIT_CONTROL_MS)
			break;
		usleep(200 * 1000);
	}
	nodeclient_free(nc);
	cox_tls_free(tls);
	return r;
}

/* Steps after the SSH session is up; shared by `nodes add` and `servers add`. */
static int install_node(struct cox *c, struct sshc *s, const char *user, const char *host, uint16_t ssh_port,
			const struct add_opts *o)
{
	struct store *st;
	struct store_node n;
	struct sshc_node sn;
	struct sshc_node_cfg cfg;
	struct node_status ns;
	struct store_cert rec;
	char listen[64], binary[PATH_MAX], err[512] = "";
	char *csr = NULL;
	size_t csr_len = 0, pem_len = 0, ca_len = 0;
	uint8_t *pem = NULL, *ca_pem = NULL;
	bool installed = false;
	int r;

	store_node_init(&n);
	memset(&ns, 0, sizeof(ns));
	if ((r = cox_store(c, &st)) < 0)
		goto out;
	if ((r = find_binary(c, o->binary, binary, sizeof(binary))) < 0)
		goto out;
	snprintf(n.name, sizeof(n.name), "%s", o->name);
	snprintf(n.region, sizeof(n.region), "%s", o->region ? o->region : "");
	snprintf(n.ssh_user, sizeof(n.ssh_user), "%s", user);
	snprintf(n.ssh_host, sizeof(n.ssh_host), "%s", host);
	n.ssh_port = ssh_port;
	snprintf(n.host_key_fp, sizeof(n.host_key_fp), "%s", sshc_host_fingerprint(s));
	snprintf(n.control_host, sizeof(n.control_host), "%s", host);
	n.control_port = o->control_port;
	n.port_lo = o->port_lo;
	n.port_hi = o->port_hi;
	if (is_ip(host)) {
		snprintf(n.endpoints[0], sizeof(n.endpoints[0]), "%s", host);
		n.n_endpoints = 1;
	}
	n.forwarding = n.masquerade = true;
	n.isolation = true;
	n.state = STORE_NODE_ACTIVE;
	struct store_node probe;
	store_node_init(&probe);
	r = store_node_get(st, n.name, &probe);
	store_node_fini(&probe);
	if (r == 0) {
		cox_fail(c, "a node named `%s' exists already; choose another --name or `cox nodes rm %s' first", n.name,
			 n.name);
		r = -EEXIST;
		goto out;
	}

	struct install_settings is;
	memset(&is, 0, sizeof(is));
	snprintf(is.binary, sizeof(is.binary), "%s", o->remote_binary ? o->remote_binary : "");
	snprintf(is.service, sizeof(is.service), "%s", o->service_name ? o->service_name : "");
	snprintf(is.config_dir, sizeof(is.config_dir), "%s", o->config_dir ? o->config_dir : "");
	snprintf(is.interface, sizeof(is.interface), "%s", o->interface ? o->interface : "");
	node_cfg_for(&n, &is, &cfg, listen, sizeof(listen));
	cfg.service = o->service;
	if ((r = sshc_node_init(&sn, s, &cfg, progress, c)) < 0) {
		cox_fail(c, "nodes add: invalid node settings: %s", sshc_error(s));
		goto out;
	}
	installed = true;
	if ((r = sshc_node_preflight(&sn)) < 0 || (r = sshc_node_upload_binary(&sn, binary)) < 0 ||
	    (r = sshc_node_gen_csr(&sn, &csr, &csr_len)) < 0)
		goto fail;
	if ((r = sign_node_cert(c, n.name, host, csr, csr_len, &pem, &pem_len, &ca_pem, &ca_len, &rec)) < 0) {
		progress(c, "sign", false, cox_strerror(r));
		goto fail;
	}
	progress(c, "sign", true, rec.serial);
	if ((r = sshc_node_install_certs(&sn, (const char *)pem, pem_len, (const char *)ca_pem, ca_len)) < 0 ||
	    (r = sshc_node_install_service(&sn)) < 0 || (r = sshc_node_start(&sn)) < 0)
		goto fail;
	if ((r = wait_control(c, n.name, host, n.control_port, &ns, err, sizeof(err))) < 0) {
		progress(c, "control-port", false, err);
		goto fail;
	}
	progress(c, "control-port", true, ns.agent_version);
	size_t klen = 0;
	if (enc_base64_decode(n.awg_public, sizeof(n.awg_public), ns.awg_public_key, &klen) < 0 ||
	    klen != STORE_KEY_LEN) {
		progress(c, "identity", false, "the node reported no valid AmneziaWG public key");
		r = ERR_PROTO;
		goto fail;
	}
	n.has_awg_public = true;
	n.obfuscation = ns.obfuscation;
	ns.obfuscation = NULL;
	snprintf(n.binary_version, sizeof(n.binary_version), "%s", ns.agent_version);
	progress(c, "identity", true, ns.awg_public_key);

	/* Register: node row, certificate, audit, in one transaction. */
	char detail[512];
	snprintf(detail, sizeof(detail), "host=%s@%s:%u hostkey=%s cert=%s awg=%s", user, host, ssh_port, n.host_key_fp,
		 rec.serial, ns.awg_public_key);
	if ((r = store_begin(st)) < 0)
		goto fail_db;
	(void)(store_node_add(st, &n) < 0 || store_cert_add(st, &rec) < 0 ||
	       install_settings_save(st, n.name, &is) < 0 ||
	       store_audit_append(st, c->actor, "node.add", n.name, detail) < 0);
	if ((r = store_commit(st)) < 0)
		goto fail_db;
	progress(c, "register", true, "recorded in the store");
	installed = false;

	/* Policy and peers: failures here leave a registered node for the
	 * sweep to heal. */
	if ((r = cox_node_apply_policy(c, &n, err, sizeof(err))) < 0)
		progress(c, "policy", false, err);
	else
		progress(c, "policy", true, "forwarding, masquerade and isolation on");
	r = cox_push_nodes(c, n.name);
	fprintf(c->out, "node %s is %s (AmneziaWG key %s)\n", n.name, r == 0 ? "active" : "registered", ns.awg_public_key);
	r = 0;
	goto out;
fail_db:
	progress(c, "register", false, store_errmsg(st));
fail:
	if (installed) {
		int rr = sshc_node_rollback(&sn);
		progress(c, "rollback", rr == 0, rr == 0 ? "the host is as before" : sshc_error(s));
	}
	cox_fail(c, "nodes add %s failed; nothing was registered", n.name);
out:
	node_status_fini(&ns);
	store_node_fini(&n);
	mem_free(csr);
	mem_free(pem);
	mem_free(ca_pem);
	return r;
}

static int nodes_add(struct cox *c, int argc, char **argv)
{
	if (argc < 2 || argv[1][0] == '-')
		return cox_fail(c, "nodes add: USER@HOST[:PORT] is required"), 2;
	if (cox_load(c) < 0)
		return 1;
	char user[STORE_NAME_MAX + 1], host[STORE_HOST_MAX + 1];
	uint16_t port;
	struct add_opts o = { 0 };
	if (parse_target(c, argv[1], user, sizeof(user), host, sizeof(host), &port) < 0 ||
	    parse_add_opts(c, argc, argv, 2, &o, false) < 0)
		return 2;
	if (!o.name)
		o.name = host;
	if (!store_name_valid(o.name))
		return cox_fail(c, "`%s' cannot be a node name; give --name (1-64 of letters, digits, '.', '_', '-')",
				o.name), 2;
	struct sshc_key *key = NULL;
	struct sshc *s = NULL;
	int r = cox_ssh_key_load(c, &key);
	if (r < 0)
		return 1;
	fprintf(c->out, "Adding node %s (%s@%s:%u)\n", o.name, user, host, port);
	if ((r = sshc_new(&s)) < 0)
		goto out;
	struct sshc_target t = { .host = host, .port = port, .user = user };
	r = sshc_connect(s, &t, key);
	progress(c, "connect", r == 0, r == 0 ? sshc_host_fingerprint(s) : sshc_error(s));
	if (r < 0) {
		cox_fail(c, "nodes add %s failed at connect; nothing was registered (is `cox ssh-key` in %s's authorized_keys?)",
			 o.name, user);
		goto out;
	}
	r = install_node(c, s, user, host, port, &o);
out:
	sshc_free(s);
	sshc_key_free(key);
	return r < 0 ? 1 : 0;
}

/* ---- servers add --------------------------------------------------------- */

static int read_password(struct cox *c, bool from_stdin, char *buf, size_t cap)
{
	struct termios old, quiet;
	bool tty = !from_stdin && isatty(STDIN_FILENO);
	if (!from_stdin && !tty)
		return cox_fail(c, "servers add: --password prompts on a terminal; use --password-stdin otherwise"), -EINVAL;
	if (tty) {
		fprintf(stderr, "One-time SSH password (not stored): ");
		tcgetattr(STDIN_FILENO, &old);
		quiet = old;
		quiet.c_lflag &= ~(tcflag_t)ECHO;
		tcsetattr(STDIN_FILENO, TCSAFLUSH, &quiet);
	}
	bool ok = fgets(buf, (int)cap, stdin) != NULL;
	if (tty) {
		tcsetattr(STDIN_FILENO, TCSAFLUSH, &old);
		fputc('\n', stderr);
	}
	if (!ok)
		return cox_fail(c, "servers add: no password read"), -EINVAL;
	buf[strcspn(buf, "\r\n")] = 0;
	if (!buf[0])
		return cox_fail(c, "servers add: the password is empty"), -EINVAL;
	return 0;
}

static int servers_add(struct cox *c, int argc, char **argv)
{
	if (argc < 2 || argv[1][0] == '-')
		return cox_fail(c, "servers add: IP is required"), 2;
	if (cox_load(c) < 0)
		return 1;
	const char *host = argv[1];
	if (!is_ip(host))
		return cox_fail(c, "servers add: `%s' is not an IPv4 or IPv6 address", host), 2;
	struct add_opts o = { .user = "root", .ssh_port = 22 };
	if (parse_add_opts(c, argc, argv, 2, &o, true) < 0)
		return 2;
	if (!o.name)
		o.name = host;
	if (!store_name_valid(o.name))
		return cox_fail(c, "`%s' cannot be a node name; give --name", o.name), 2;
	char pw[512];
	if (read_password(c, o.password_stdin, pw, sizeof(pw)) < 0) {
		sodium_memzero(pw, sizeof(pw));
		return 2;
	}
	struct sshc_key *key = NULL;
	struct sshc *s = NULL;
	int r = cox_ssh_key_load(c, &key);
	if (r < 0) {
		sodium_memzero(pw, sizeof(pw));
		return 1;
	}
	fprintf(c->out, "Bootstrapping %s@%s:%u with a one-time password\n", o.user, host, o.ssh_port);
	if ((r = sshc_new(&s)) < 0)
		goto out;
	struct sshc_target t = { .host = host, .port = o.ssh_port, .user = o.user };
	r = sshc_bootstrap_password(s, &t, pw, strlen(pw), key);
	progress(c, "bootstrap", r == 0, r == 0 ? "controller key installed; password forgotten" : sshc_error(s));
	if (r < 0) {
		cox_fail(c, "servers add %s failed at the password bootstrap; nothing was registered", host);
		goto out;
	}
	r = install_node(c, s, o.user, host, o.ssh_port, &o);
out:
	sodium_memzero(pw, sizeof(pw));
	sshc_free(s);
	sshc_key_free(key);
	return r < 0 ? 1 : 0;
}

/* ---- list / status ------------------------------------------------------- */

static int list_cb(void *arg, const struct store_node *n)
{
	json_t *a = arg;
	char key[ENC_KEY_BASE64_LEN] = "";
	if (n->has_awg_public)
		enc_key_to_base64(key, n->awg_public);
	json_t *eps = json_array();
	for (size_t i = 0; i < n->n_endpoints; i++)
		json_array_append_new(eps, json_string(n->endpoints[i]));
	json_t *o = json_pack("{s:s, s:s, s:s, s:s, s:i, s:s, s:s, s:s?, s:o, s:i, s:i, s:I, s:I, s:i, s:I, s:s, s:s, "
			      "s:i, s:b, s:b, s:b}",
			      "name", n->name, "region", n->region, "state", store_node_state_name(n->state),
			      "ssh_host", n->ssh_host, "ssh_port", n->ssh_port, "ssh_user", n->ssh_user, "host_key",
			      n->host_key_fp, "obfuscation", n->obfuscation, "endpoints", eps, "port_lo", n->port_lo,
			      "port_hi", n->port_hi, "intended_revision", (json_int_t)n->intended_rev,
			      "applied_revision", (json_int_t)n->applied_rev, "misses", n->misses, "last_seen",
			      (json_int_t)n->last_seen, "awg_public_key", key, "version", n->binary_version,
			      "control_port", n->control_port, "forwarding", n->forwarding, "masquerade",
			      n->masquerade, "isolation", n->isolation);
	if (!o)
		return -ENOMEM;
	return json_array_append_new(a, o) ? -ENOMEM : 0;
}

static int nodes_list(struct cox *c, int argc, char **argv)
{
	bool json = false;
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--json"))
			json = true;
		else
			return cox_fail(c, "nodes list: unknown option `%s'; valid: --json", argv[i]), 2;
	}
	struct store *st;
	if (cox_store(c, &st) < 0)
		return 1;
	json_t *a = json_array();
	int r = a ? store_nodes_list(st, list_cb, a) : -ENOMEM;
	if (r < 0) {
		json_decref(a);
		return cox_fail(c, "nodes list: %s", cox_strerror(r));
	}
	if (json) {
		json_dumpf(a, c->out, JSON_INDENT(2));
		fputc('\n', c->out);
	} else {
		fprintf(c->out, "%-16s %-12s %-22s %-10s %-9s %s\n", "NAME", "STATE", "HOST", "REGION", "REVISION",
			"AMNEZIAWG KEY");
		size_t i;
		json_t *o;
		json_array_foreach(a, i, o) {
			char rev[48];
			snprintf(rev, sizeof(rev), "%lld/%lld", (long long)json_integer_value(json_object_get(o, "applied_revision")),
				 (long long)json_integer_value(json_object_get(o, "intended_revision")));
			fprintf(c->out, "%-16s %-12s %-22s %-10s %-9s %s\n",
				json_string_value(json_object_get(o, "name")),
				json_string_value(json_object_get(o, "state")),
				json_string_value(json_object_get(o, "ssh_host")),
				json_string_value(json_object_get(o, "region"))[0]
					? json_string_value(json_object_get(o, "region"))
					: "-",
				rev, json_string_value(json_object_get(o, "awg_public_key")));
		}
	}
	json_decref(a);
	return 0;
}

static int get_node(struct cox *c, const char *name, struct store_node *n)
{
	struct store *st;
	if (cox_store(c, &st) < 0)
		return -EIO;
	int r = store_node_get(st, name, n);
	if (r == ERR_NOTFOUND)
		cox_fail(c, "no node named `%s' (see `cox nodes list')", name);
	else if (r < 0)
		cox_fail(c, "cannot read node %s: %s", name, cox_strerror(r));
	return r;
}

static int nodes_status(struct cox *c, int argc, char **argv)
{
	if (argc != 2)
		return cox_fail(c, "nodes status: exactly one NODE is required"), 2;
	struct store_node n;
	store_node_init(&n);
	if (get_node(c, argv[1], &n) < 0)
		return 1;
	struct cox_tls *tls = NULL;
	struct nodeclient *nc = NULL;
	struct node_status ns;
	char err[512] = "";
	memset(&ns, 0, sizeof(ns));
	int r = cox_tls_new(c, &tls);
	if (r == 0)
		r = nodeclient_new(tls, n.name, n.control_host, n.control_port, &nc);
	if (r == 0)
		r = nodeclient_status(nc, &ns, err, sizeof(err));
	fprintf(c->out, "node %s (%s, state in store: %s, revision %llu applied / %llu intended)\n", n.name,
		n.control_host, store_node_state_name(n.state), (unsigned long long)n.applied_rev,
		(unsigned long long)n.intended_rev);
	if (r < 0) {
		fprintf(c->out, "  unreachable: %s\n", err[0] ? err : cox_strerror(r));
	} else {
		fprintf(c->out,
			"  agent %s, up %llu s\n  amneziawg: %s, %s, %u peers, %u handshaking, newest handshake %lld s ago\n"
			"  applied revision %llu\n  public key %s\n",
			ns.agent_version, (unsigned long long)ns.uptime, ns.awg_running ? "running" : "stopped",
			ns.awg_listening ? "listening" : "not listening", ns.peer_count, ns.handshaking_peers,
			(long long)ns.newest_handshake_age, (unsigned long long)ns.applied_revision, ns.awg_public_key);
	}
	node_status_fini(&ns);
	nodeclient_free(nc);
	cox_tls_free(tls);
	store_node_fini(&n);
	return r < 0 ? 1 : 0;
}

/* ---- push / policy / endpoints ---------------------------------------------- */

static int nodes_push(struct cox *c, int argc, char **argv)
{
	if (argc > 2)
		return cox_fail(c, "nodes push: at most one NODE (none: every node)"), 2;
	if (cox_load(c) < 0)
		return 1;
	if (argc == 2) {
		struct store_node n;
		store_node_init(&n);
		int r = get_node(c, argv[1], &n);
		store_node_fini(&n);
		if (r < 0)
			return 1;
	}
	if (cox_audit(c, "node.push", argc == 2 ? argv[1] : "*", "") < 0)
		return 1;
	return cox_push_nodes(c, argc == 2 ? argv[1] : NULL) < 0 ? 1 : 0;
}

int cox_node_apply_policy(struct cox *c, const struct store_node *n, char *err, size_t errlen)
{
	struct cox_tls *tls = NULL;
	struct nodeclient *nc = NULL;
	int r = cox_tls_new(c, &tls);
	if (r < 0) {
		snprintf(err, errlen, "cannot load the controller certificate: %s", cox_strerror(r));
		return r;
	}
	if ((r = nodeclient_new(tls, n->name, n->control_host, n->control_port, &nc)) == 0)
		r = nodeclient_set_network(nc, n->forwarding, n->masquerade, n->isolation, err, errlen);
	else
		snprintf(err, errlen, "%s", cox_strerror(r));
	nodeclient_free(nc);
	cox_tls_free(tls);
	return r;
}

static int nodes_policy(struct cox *c, int argc, char **argv)
{
	if (argc < 2 || argv[1][0] == '-')
		return cox_fail(c, "nodes policy: NODE is required"), 2;
	struct store_node n;
	store_node_init(&n);
	int rc = 1;
	if (get_node(c, argv[1], &n) < 0)
		goto out;
	bool preview = false, changed = false;
	for (int i = 2; i < argc; i++) {
		const char *v = i + 1 < argc ? argv[i + 1] : NULL;
		bool *dst = NULL;
		if (!strcmp(argv[i], "--preview")) {
			preview = true;
			continue;
		} else if (!strcmp(argv[i], "--forwarding")) {
			dst = &n.forwarding;
		} else if (!strcmp(argv[i], "--masquerade")) {
			dst = &n.masquerade;
		} else if (!strcmp(argv[i], "--isolation")) {
			dst = &n.isolation;
		} else {
			rc = 2;
			cox_fail(c, "nodes policy: unknown option `%s'; valid: --forwarding on|off, --masquerade on|off, "
				    "--isolation on|off, --preview",
				 argv[i]);
			goto out;
		}
		if (parse_onoff(c, argv[i], v, dst) < 0) {
			rc = 2;
			goto out;
		}
		changed = true;
		i++;
	}
	struct policy p;
	char err[512];
	policy_defaults(&p, "awg0");
	p.forwarding = n.forwarding;
	p.masquerade = n.masquerade;
	p.isolation = n.isolation;
	if (policy_validate(&p, err, sizeof(err)) < 0) {
		cox_fail(c, "nodes policy %s: %s", n.name, err);
		rc = 2;
		goto out;
	}
	if (preview) {
		struct buf b;
		buf_init(&b, 1 << 20);
		/* The egress interface is found on the node; the preview names it. */
		if (policy_render(&p, "<egress>", &b) < 0 || buf_append(&b, "", 1) < 0) {
			buf_fini(&b);
			cox_fail(c, "cannot render the policy");
			goto out;
		}
		fprintf(c->out, "# nftables ruleset node %s would load (nothing applied)\n%s", n.name, (char *)b.data);
		buf_fini(&b);
		rc = 0;
		goto out;
	}
	if (!changed) {
		fprintf(c->out, "node %s: forwarding %s, masquerade %s, isolation %s\n", n.name,
			n.forwarding ? "on" : "off", n.masquerade ? "on" : "off", n.isolation ? "on" : "off");
		rc = 0;
		goto out;
	}
	if (cox_node_apply_policy(c, &n, err, sizeof(err)) < 0) {
		cox_fail(c, "node %s did not apply the policy (nothing recorded): %s", n.name, err);
		goto out;
	}
	struct store *st;
	char detail[128];
	snprintf(detail, sizeof(detail), "forwarding=%d masquerade=%d isolation=%d", n.forwarding, n.masquerade,
		 n.isolation);
	if (cox_store(c, &st) < 0 || store_begin(st) < 0)
		goto out;
	(void)(store_node_update(st, &n) < 0 || store_audit_append(st, c->actor, "node.policy", n.name, detail) < 0);
	if (store_commit(st) < 0) {
		cox_fail(c, "node %s applied the policy but it could not be recorded: %s", n.name, store_errmsg(st));
		goto out;
	}
	fprintf(c->out, "node %s: %s\n", n.name, detail);
	rc = 0;
out:
	store_node_fini(&n);
	return rc;
}

static int nodes_endpoints(struct cox *c, int argc, char **argv)
{
	if (argc < 2 || argv[1][0] == '-')
		return cox_fail(c, "nodes endpoints: NODE is required"), 2;
	struct store_node n;
	store_node_init(&n);
	int rc = 1;
	if (get_node(c, argv[1], &n) < 0)
		goto out;
	if (argc == 2) {
		fprintf(c->out, "node %s: ports %u-%u, addresses:", n.name, n.port_lo, n.port_hi);
		for (size_t i = 0; i < n.n_endpoints; i++)
			fprintf(c->out, " %s", n.endpoints[i]);
		fputc('\n', c->out);
		rc = 0;
		goto out;
	}
	uint16_t lo = n.port_lo, hi = n.port_hi;
	const char *list = NULL;
	for (int i = 2; i < argc; i++) {
		if (!strcmp(argv[i], "--ports") && i + 1 < argc) {
			if (parse_ports(c, argv[++i], &lo, &hi) < 0) {
				rc = 2;
				goto out;
			}
		} else if (argv[i][0] != '-' && !list) {
			list = argv[i];
		} else {
			cox_fail(c, "nodes endpoints: unexpected `%s'; usage: cox nodes endpoints NODE IP,IP,... [--ports A-B]",
				 argv[i]);
			rc = 2;
			goto out;
		}
	}
	if (list) {
		char tmp[STORE_ENDPOINTS_MAX * STORE_ADDR_MAX];
		snprintf(tmp, sizeof(tmp), "%s", list);
		n.n_endpoints = 0;
		for (char *save, *tok = strtok_r(tmp, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
			if (!is_ip(tok) || n.n_endpoints == STORE_ENDPOINTS_MAX) {
				cox_fail(c, "nodes endpoints: `%s' is not an IP address (or more than %d given)", tok,
					 STORE_ENDPOINTS_MAX);
				rc = 2;
				goto out;
			}
			snprintf(n.endpoints[n.n_endpoints++], STORE_ADDR_MAX, "%s", tok);
		}
		if (!n.n_endpoints) {
			cox_fail(c, "nodes endpoints: give at least one address");
			rc = 2;
			goto out;
		}
	}
	bool ports_changed = lo != n.port_lo || hi != n.port_hi;
	n.port_lo = lo;
	n.port_hi = hi;
	if (ports_changed) {
		/* The node listens on the range: restart it with the new range. */
		struct sshc *s = NULL;
		if (cox_node_ssh(c, &n, &s) < 0)
			goto out;
		struct sshc_node sn;
		struct sshc_node_cfg cfg;
		char listen[64];
		struct install_settings is;
		install_settings_load(c, n.name, &is);
		node_cfg_for(&n, &is, &cfg, listen, sizeof(listen));
		int r = sshc_node_init(&sn, s, &cfg, progress, c);
		if (r == 0) {
			struct sshc_node_status nst;
			r = sshc_node_status(&sn, &nst);
			if (r == 0) {
				sn.service = nst.service;
				cfg.service = nst.service;
			}
		}
		if (r == 0)
			r = sshc_node_install_service(&sn);
		if (r == 0)
			r = sshc_node_stop(&sn);
		if (r == 0)
			r = sshc_node_start(&sn);
		sshc_free(s);
		if (r < 0) {
			cox_fail(c, "node %s: could not restart with ports %u-%u; nothing recorded", n.name, lo, hi);
			goto out;
		}
	}
	struct store *st;
	char detail[STORE_ENDPOINTS_MAX * STORE_ADDR_MAX + 64];
	int o = snprintf(detail, sizeof(detail), "ports=%u-%u addrs=", lo, hi);
	for (size_t i = 0; i < n.n_endpoints && o > 0 && (size_t)o < sizeof(detail); i++)
		o += snprintf(detail + o, sizeof(detail) - (size_t)o, "%s%s", i ? "," : "", n.endpoints[i]);
	if (cox_store(c, &st) < 0 || store_begin(st) < 0)
		goto out;
	(void)(store_node_update(st, &n) < 0 || store_audit_append(st, c->actor, "node.endpoints", n.name, detail) < 0);
	if (store_commit(st) < 0) {
		cox_fail(c, "node %s: cannot record the endpoints: %s", n.name, store_errmsg(st));
		goto out;
	}
	fprintf(c->out, "node %s: %s (profiles exported from now on carry this pool)\n", n.name, detail);
	rc = 0;
out:
	store_node_fini(&n);
	return rc;
}

/* ---- update / start / stop / rm ------------------------------------------ */

enum ssh_op { OP_UPDATE, OP_START, OP_STOP, OP_RM };

struct revoke_ctx {
	const char *subject;
	char serials[8][STORE_SERIAL_MAX + 1];
	size_t n;
};

static int collect_certs(void *arg, const struct store_cert *cert)
{
	struct revoke_ctx *rv = arg;
	if (!strcmp(cert->subject, rv->subject) && !cert->revoked_at && rv->n < 8)
		snprintf(rv->serials[rv->n++], sizeof(rv->serials[0]), "%s", cert->serial);
	return 0;
}

static int nodes_ssh_op(struct cox *c, int argc, char **argv, enum ssh_op op)
{
	static const char *const names[] = { "update", "start", "stop", "rm" };
	const char *binary_opt = NULL;
	bool force = false;
	const char *name = NULL;
	for (int i = 1; i < argc; i++) {
		if (op == OP_UPDATE && !strcmp(argv[i], "--binary") && i + 1 < argc)
			binary_opt = argv[++i];
		else if (op == OP_RM && !strcmp(argv[i], "--force"))
			force = true;
		else if (argv[i][0] != '-' && !name)
			name = argv[i];
		else
			return cox_fail(c, "nodes %s: unexpected `%s'; see `cox nodes %s --help'", names[op], argv[i],
					names[op]),
			       2;
	}
	if (!name)
		return cox_fail(c, "nodes %s: NODE is required", names[op]), 2;
	struct store_node n;
	store_node_init(&n);
	struct sshc *s = NULL;
	char binary[PATH_MAX], listen[64];
	int rc = 1, r;
	if (get_node(c, name, &n) < 0)
		goto out;
	if (op == OP_UPDATE && find_binary(c, binary_opt, binary, sizeof(binary)) < 0)
		goto out;
	r = cox_node_ssh(c, &n, &s);
	if (r < 0 && !(op == OP_RM && force && !sshc_host_key_changed(s)))
		goto out;
	if (r == 0) {
		struct sshc_node sn;
		struct sshc_node_cfg cfg;
		struct install_settings is;
		install_settings_load(c, n.name, &is);
		node_cfg_for(&n, &is, &cfg, listen, sizeof(listen));
		r = sshc_node_init(&sn, s, &cfg, progress, c);
		if (r == 0) {
			struct sshc_node_status nst;
			if (sshc_node_status(&sn, &nst) == 0 && nst.service != SSHC_SERVICE_NONE)
				sn.service = nst.service;
		}
		if (r == 0) {
			switch (op) {
			case OP_UPDATE: r = sshc_node_update(&sn, binary); break;
			case OP_START: r = sshc_node_start(&sn); break;
			case OP_STOP: r = sshc_node_stop(&sn); break;
			case OP_RM: r = sshc_node_remove(&sn); break;
			}
		}
		if (r < 0 && !(op == OP_RM && force)) {
			cox_fail(c, "nodes %s %s failed: %s", names[op], n.name, sshc_error(s));
			goto out;
		}
	}
	struct store *st;
	if (cox_store(c, &st) < 0 || store_begin(st) < 0)
		goto out;
	if (op == OP_RM) {
		/* Its certificates are revoked: the serials stay on record. */
		struct revoke_ctx rv = { .subject = n.name };
		(void)(store_certs_list(st, "node", false, collect_certs, &rv) < 0);
		for (size_t i = 0; i < rv.n; i++)
			(void)(store_cert_revoke(st, rv.serials[i]) < 0);
		(void)(store_node_remove(st, &n) < 0 || install_settings_delete(st, n.name) < 0 ||
		       store_audit_append(st, c->actor, "node.rm", n.name, "") < 0);
	} else {
		if (op == OP_STOP)
			n.state = STORE_NODE_STOPPED;
		else if (n.state == STORE_NODE_STOPPED || n.state == STORE_NODE_UNREACHABLE)
			n.state = STORE_NODE_ACTIVE;
		n.misses = 0;
		(void)(store_node_update(st, &n) < 0 ||
		       store_audit_append(st, c->actor, op == OP_UPDATE ? "node.update" : op == OP_START ? "node.start" : "node.stop",
					  n.name, "") < 0);
	}
	if (store_commit(st) < 0) {
		cox_fail(c, "nodes %s %s: cannot record it: %s", names[op], n.name, store_errmsg(st));
		goto out;
	}
	fprintf(c->out, "node %s: %s done\n", n.name, names[op]);
	if (op == OP_START || op == OP_UPDATE)
		if (cox_push_nodes(c, n.name) < 0)
			fprintf(c->out, "node %s: the push did not go through; the reconcile sweep will retry\n", n.name);
	rc = 0;
out:
	sshc_free(s);
	store_node_fini(&n);
	return rc;
}

static int nodes_update(struct cox *c, int argc, char **argv) { return nodes_ssh_op(c, argc, argv, OP_UPDATE); }
static int nodes_start(struct cox *c, int argc, char **argv) { return nodes_ssh_op(c, argc, argv, OP_START); }
static int nodes_stop(struct cox *c, int argc, char **argv) { return nodes_ssh_op(c, argc, argv, OP_STOP); }
static int nodes_rm(struct cox *c, int argc, char **argv) { return nodes_ssh_op(c, argc, argv, OP_RM); }

static const struct cox_cmd node_cmds[] = {
	{ "add", nodes_add,
	  "USER@HOST[:PORT] [--name NAME] [--region REGION] [--binary PATH] [--remote-binary PATH] [--control-port PORT] "
	  "[--ports A-B] [--service auto|systemd|supervisor] [--service-name NAME] [--config-dir DIR] [--interface IF]",
	  "Installs pharos-node on a host over SSH (key auth; host key pinned on first use) and registers it. "
	  "Several agents share a host with distinct --service-name, --config-dir, --interface, --control-port and --ports" },
	{ "list", nodes_list, "[--json]", "Lists nodes with their state and revisions" },
	{ "status", nodes_status, "NODE", "Asks a node for its live status over gRPC" },
	{ "push", nodes_push, "[NODE]", "Pushes the intended peer set to one node or every node now" },
	{ "endpoints", nodes_endpoints, "NODE [IP,IP,...] [--ports A-B]",
	  "Shows or sets the node's entry pool (addresses and UDP port range)" },
	{ "policy", nodes_policy, "NODE [--forwarding on|off] [--masquerade on|off] [--isolation on|off] [--preview]",
	  "Shows, previews or sets the node's network policy" },
	{ "update", nodes_update, "NODE [--binary PATH]", "Uploads a new pharos-node binary and restarts it" },
	{ "start", nodes_start, "NODE", "Starts the node's service" },
	{ "stop", nodes_stop, "NODE", "Stops the node's service (the sweep leaves it alone)" },
	{ "rm", nodes_rm, "NODE [--force]",
	  "Removes pharos-node from the host and the node from the store (--force: even if the host is gone)" },
};

int cox_cmd_nodes(struct cox *c, int argc, char **argv)
{
	return cox_dispatch(c, "nodes", node_cmds, sizeof(node_cmds) / sizeof(node_cmds[0]), argc, argv);
}

static const struct cox_cmd server_cmds[] = {
	{ "add", servers_add,
	  "IP [--user USER] [--port-ssh PORT] (--password | --password-stdin) [--name NAME] [--region REGION] "
	  "[--binary PATH] [--remote-binary PATH] [--control-port PORT] [--ports A-B] [--service auto|systemd|supervisor] "
	  "[--service-name NAME] [--config-dir DIR] [--interface IF]",
	  "Installs the controller's SSH key with a one-time password (never stored), then adds the host as a node" },
};

int cox_cmd_servers(struct cox *c, int argc, char **argv)
{
	return cox_dispatch(c, "servers", server_cmds, 1, argc, argv);
}

int cox_cmd_ssh_key(struct cox *c, int argc, char **argv)
{
	if (argc > 1) {
		if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
			fprintf(c->out, "Usage: cox ssh-key\n  Prints the controller's SSH public key as an authorized_keys line\n");
			return 0;
		}
		return cox_fail(c, "ssh-key takes no arguments"), 2;
	}
	if (cox_load(c) < 0)
		return 1;
	struct sshc_key *key = NULL;
	char *line = NULL;
	if (cox_ssh_key_load(c, &key) < 0)
		return 1;
	char comment[128];
	snprintf(comment, sizeof(comment), "pharos-cox@%s", c->cfg.fleet_name);
	int r = sshc_key_authorized_line(key, comment, &line);
	sshc_key_free(key);
	if (r < 0)
		return cox_fail(c, "cannot format the SSH key: %s", cox_strerror(r));
	fprintf(c->out, "%s\n", line);
	mem_free(line);
	return 0;
}
