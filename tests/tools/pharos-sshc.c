/* pharos-sshc: a thin CLI over src/sshc for the lab tests (tests/netns/
 * test_sshc.py), and a way to try node installs by hand.
 *
 *   pharos-sshc keygen KEYFILE | pubkey KEYFILE [--comment C]
 *   pharos-sshc connect|exec|upload|bootstrap-password|install-node|start|stop|status|update|remove
 *               USER@HOST[:PORT] --key KEYFILE [--pin FP | --pin-file FILE] ...
 *   pharos-sshc render-unit|render-supervisor [node options]
 *
 * --pin-file is trust on first use: an empty or missing file takes the
 * server's fingerprint after the first successful connection. Exit status:
 * 0 ok, 1 failure, 2 usage, 3 host key changed; exec exits with the remote
 * command's status. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <openssl/x509.h>
#include <sodium.h>

#include "lib/buf.h"
#include "lib/fileio.h"
#include "lib/mem.h"
#include "pki/pki.h"
#include "sshc/sshc.h"

#define MAX_IPS 4

struct opts {
	const char *key, *pin, *pin_file, *comment, *mode, *binary, *ca_dir, *id;
	const char *ips[MAX_IPS];
	size_t n_ips;
	int timeout_s;
	bool password_stdin;
	struct sshc_node_cfg node;
	char **rest; /* after "--" */
	int n_rest;
};

static int usage_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static int usage_error(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	fprintf(stderr, "pharos-sshc: ");
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, " (pharos-sshc --help lists commands and options)\n");
	return 2;
}

static int parse_port(const char *s, uint16_t *out)
{
	char *end;
	long v = strtol(s, &end, 10);
	if (*s < '0' || *s > '9' || *end || v < 1 || v > 65535)
		return -EINVAL;
	*out = (uint16_t)v;
	return 0;
}

/* Options shared by all commands; positional arguments are left in pos. */
static int parse(int argc, char **argv, struct opts *o, char **pos, int *npos, int maxpos)
{
	*npos = 0;
	for (int i = 0; i < argc; i++) {
		const char *a = argv[i];
		const char *v = i + 1 < argc ? argv[i + 1] : NULL;
		if (!strcmp(a, "--")) {
			o->rest = argv + i + 1;
			o->n_rest = argc - i - 1;
			return 0;
		}
		if (a[0] != '-') {
			if (*npos == maxpos)
				return usage_error("unexpected argument \"%s\"", a);
			pos[(*npos)++] = argv[i];
			continue;
		}
		if (!strcmp(a, "--password-stdin")) {
			o->password_stdin = true;
			continue;
		}
		if (!v)
			return usage_error("%s needs a value", a);
		i++;
		if (!strcmp(a, "--key"))
			o->key = v;
		else if (!strcmp(a, "--pin"))
			o->pin = v;
		else if (!strcmp(a, "--pin-file"))
			o->pin_file = v;
		else if (!strcmp(a, "--comment"))
			o->comment = v;
		else if (!strcmp(a, "--mode"))
			o->mode = v;
		else if (!strcmp(a, "--timeout"))
			o->timeout_s = atoi(v);
		else if (!strcmp(a, "--binary"))
			o->binary = v;
		else if (!strcmp(a, "--ca-dir"))
			o->ca_dir = v;
		else if (!strcmp(a, "--id"))
			o->id = v;
		else if (!strcmp(a, "--ip")) {
			if (o->n_ips == MAX_IPS)
				return usage_error("at most 4 --ip (\"%s\")", v);
			o->ips[o->n_ips++] = v;
		} else if (!strcmp(a, "--remote-binary"))
			o->node.binary_path = v;
		else if (!strcmp(a, "--config-dir"))
			o->node.config_dir = v;
		else if (!strcmp(a, "--service-name"))
			o->node.service_name = v;
		else if (!strcmp(a, "--name"))
			o->node.node_name = v;
		else if (!strcmp(a, "--control-listen"))
			o->node.control_listen = v;
		else if (!strcmp(a, "--interface"))
			o->node.interface = v;
		else if (!strcmp(a, "--awg-port")) {
			if (parse_port(v, &o->node.port) < 0)
				return usage_error("--awg-port \"%s\": expected 1-65535", v);
		} else if (!strcmp(a, "--awg-ports")) {
			char lo[8], hi[8];
			if (sscanf(v, "%7[0-9]-%7[0-9]", lo, hi) != 2 || parse_port(lo, &o->node.port) < 0 ||
			    parse_port(hi, &o->node.port_hi) < 0)
				return usage_error("--awg-ports \"%s\": expected LO-HI", v);
		} else if (!strcmp(a, "--extra")) {
			if (o->node.n_extra == SSHC_NODE_EXTRA_MAX)
				return usage_error("too many --extra (\"%s\")", v);
			o->node.extra_args[o->node.n_extra++] = v;
		} else if (!strcmp(a, "--service")) {
			if (!strcmp(v, "auto"))
				o->node.service = SSHC_SERVICE_AUTO;
			else if (!strcmp(v, "systemd"))
				o->node.service = SSHC_SERVICE_SYSTEMD;
			else if (!strcmp(v, "supervisor"))
				o->node.service = SSHC_SERVICE_SUPERVISOR;
			else
				return usage_error("--service \"%s\": expected auto, systemd or supervisor", v);
		} else
			return usage_error("unknown option \"%s\"", a);
	}
	return 0;
}

/* USER@HOST[:PORT] (HOST may be [v6]). */
static int parse_target(char *s, struct sshc_target *t)
{
	char *at = strchr(s, '@');
	if (!at)
		return usage_error("target \"%s\": expected USER@HOST[:PORT]", s);
	*at = '\0';
	t->user = s;
	char *h = at + 1, *colon;
	if (*h == '[') {
		char *end = strchr(h, ']');
		if (!end)
			return usage_error("target host \"%s\": missing ]", h);
		*end = '\0';
		colon = end[1] == ':' ? end + 1 : NULL;
		h++;
	} else {
		colon = strrchr(h, ':');
		if (colon && strchr(h, ':') != colon)
			colon = NULL; /* a bare IPv6 address */
	}
	if (colon) {
		*colon = '\0';
		if (parse_port(colon + 1, &t->port) < 0)
			return usage_error("port \"%s\": expected 1-65535", colon + 1);
	}
	t->host = h;
	return 0;
}

struct conn {
	struct sshc *s;
	struct sshc_key *key;
	struct sshc_target t;
	char pin[SSHC_FP_SIZE];
};

static void conn_fini(struct conn *c)
{
	sshc_free(c->s);
	sshc_key_free(c->key);
}

static int load_pin(const struct opts *o, struct conn *c)
{
	if (o->pin) {
		snprintf(c->pin, sizeof(c->pin), "%s", o->pin);
	} else if (o->pin_file) {
		uint8_t *data = NULL;
		size_t len = 0;
		int rc = fileio_read_all(o->pin_file, 4096, &data, &len);
		if (rc < 0 && rc != -ENOENT) {
			fprintf(stderr, "pharos-sshc: %s: %s\n", o->pin_file, err_str(rc));
			return 1;
		}
		if (data)
			snprintf(c->pin, sizeof(c->pin), "%.*s", (int)strcspn((char *)data, "\r\n"), (char *)data);
		mem_free(data);
	}
	c->t.pinned_fp = c->pin;
	return 0;
}

static int after_connect(const struct opts *o, struct conn *c, int rc)
{
	if (rc < 0) {
		fprintf(stderr, "pharos-sshc: %s\n", sshc_error(c->s));
		return sshc_host_key_changed(c->s) ? 3 : 1;
	}
	if (!c->pin[0] && o->pin_file) {
		char line[SSHC_FP_SIZE + 1];
		snprintf(line, sizeof(line), "%s\n", sshc_host_fingerprint(c->s));
		if ((rc = fileio_write_atomic(o->pin_file, line, strlen(line), 0600)) < 0) {
			fprintf(stderr, "pharos-sshc: %s: %s\n", o->pin_file, err_str(rc));
			return 1;
		}
		fprintf(stderr, "pharos-sshc: first use: pinned %s\n", sshc_host_fingerprint(c->s));
	}
	return 0;
}

/* Parses the target and connects with the key. */
static int connect_to(char *target, const struct opts *o, struct conn *c)
{
	memset(c, 0, sizeof(*c));
	int rc = parse_target(target, &c->t);
	if (rc)
		return rc;
	if (!o->key)
		return usage_error("%s: --key KEYFILE is required", "connecting");
	c->t.timeout_ms = o->timeout_s > 0 ? o->timeout_s * 1000 : 15000;
	if ((rc = sshc_key_load(o->key, &c->key)) < 0) {
		fprintf(stderr, "pharos-sshc: %s: %s\n", o->key, err_str(rc));
		return 1;
	}
	if (sshc_new(&c->s) < 0 || load_pin(o, c))
		return 1;
	return after_connect(o, c, sshc_connect(c->s, &c->t, c->key));
}

static int cmd_keygen(char **pos, int npos, struct opts *o)
{
	struct sshc_key *k = NULL;
	int rc = sshc_key_generate(&k);
	if (!rc)
		rc = sshc_key_save(k, pos[0]);
	sshc_key_free(k);
	if (rc < 0)
		fprintf(stderr, "pharos-sshc keygen: %s: %s\n", pos[0], err_str(rc));
	return rc < 0;
}

static int cmd_pubkey(char **pos, int npos, struct opts *o)
{
	struct sshc_key *k = NULL;
	char *line = NULL;
	int rc = sshc_key_load(pos[0], &k);
	if (!rc)
		rc = sshc_key_authorized_line(k, o->comment, &line);
	if (!rc)
		printf("%s\n", line);
	else
		fprintf(stderr, "pharos-sshc pubkey: %s: %s\n", pos[0], err_str(rc));
	mem_free(line);
	sshc_key_free(k);
	return rc < 0;
}

static int cmd_connect(char **pos, int npos, struct opts *o)
{
	struct conn c;
	int rc = connect_to(pos[0], o, &c);
	if (!rc)
		printf("fingerprint=%s\n", sshc_host_fingerprint(c.s));
	conn_fini(&c);
	return rc;
}

static int cmd_exec(char **pos, int npos, struct opts *o)
{
	struct conn c;
	struct buf cmd;
	struct sshc_result r = { 0 };
	if (!o->n_rest)
		return usage_error("exec: %s", "expected -- COMMAND [ARG]...");
	buf_init(&cmd, 1 << 16);
	int rc = connect_to(pos[0], o, &c);
	if (rc)
		goto out;
	/* One argument is taken as sh text, several are quoted word by word. */
	if (o->n_rest == 1)
		rc = buf_append(&cmd, o->rest[0], strlen(o->rest[0]));
	else
		rc = sshc_quote_argv(&cmd, (const char *const *)o->rest, (size_t)o->n_rest);
	if (!rc)
		rc = sshc_exec(c.s, (const char *)cmd.data, NULL, 0, o->timeout_s * 1000, 0, &r);
	if (rc < 0) {
		fprintf(stderr, "pharos-sshc exec: %s\n", sshc_error(c.s));
		rc = 1;
	} else {
		fwrite(r.out, 1, r.out_len, stdout);
		fwrite(r.err, 1, r.err_len, stderr);
		rc = r.status < 0 ? 255 : r.status;
	}
out:
	sshc_result_fini(&r);
	buf_fini(&cmd);
	conn_fini(&c);
	return rc;
}

static int cmd_upload(char **pos, int npos, struct opts *o)
{
	struct conn c;
	unsigned long mode = o->mode ? strtoul(o->mode, NULL, 8) : 0644;
	int rc = connect_to(pos[0], o, &c);
	if (!rc && sshc_upload_file(c.s, pos[1], pos[2], (unsigned)mode) < 0) {
		fprintf(stderr, "pharos-sshc upload: %s\n", sshc_error(c.s));
		rc = 1;
	}
	if (!rc)
		printf("via=%s\n", sshc_used_sftp(c.s) ? "sftp" : "exec");
	conn_fini(&c);
	return rc;
}

static int cmd_bootstrap(char **pos, int npos, struct opts *o)
{
	struct conn c;
	char pw[1024];
	memset(&c, 0, sizeof(c));
	if (!o->password_stdin || !o->key)
		return usage_error("bootstrap-password: %s", "needs --key KEYFILE and --password-stdin");
	int rc = parse_target(pos[0], &c.t);
	if (rc)
		return rc;
	c.t.timeout_ms = o->timeout_s > 0 ? o->timeout_s * 1000 : 15000;
	if (!fgets(pw, sizeof(pw), stdin)) {
		fprintf(stderr, "pharos-sshc: no password on stdin\n");
		return 1;
	}
	size_t len = strcspn(pw, "\r\n");
	if ((rc = sshc_key_load(o->key, &c.key)) < 0 || (rc = sshc_new(&c.s)) < 0 || (rc = load_pin(o, &c))) {
		sodium_memzero(pw, sizeof(pw));
		conn_fini(&c);
		return 1;
	}
	rc = after_connect(o, &c, sshc_bootstrap_password(c.s, &c.t, pw, len, c.key));
	sodium_memzero(pw, sizeof(pw));
	if (!rc)
		printf("fingerprint=%s\nkey installed; key authentication works\n", sshc_host_fingerprint(c.s));
	conn_fini(&c);
	return rc;
}

static void progress(void *arg, const char *step, bool ok, const char *msg)
{
	printf("[%s] %s: %s\n", step, ok ? "ok" : "FAILED", msg);
	fflush(stdout);
}

/* What cox does between gen-csr and install-certs: sign with the Fleet CA,
 * subject and SANs chosen here, never taken from the CSR. */
static int sign(const struct opts *o, const char *csr, size_t len, uint8_t **cert, size_t *cert_len, uint8_t **ca,
		size_t *ca_len)
{
	struct pki_ca *pca = NULL;
	X509 *x = NULL;
	STACK_OF(X509) *chain = sk_X509_new_null();
	struct pki_leaf leaf = { .role = PKI_ROLE_NODE, .id = o->id, .ips = o->ips, .n_ips = o->n_ips };
	int rc = chain ? pki_ca_load(o->ca_dir, &pca) : -ENOMEM;
	if (!rc)
		rc = pki_sign_csr(pca, &leaf, (const uint8_t *)csr, len, time(NULL), &x);
	if (!rc)
		rc = sk_X509_push(chain, pki_ca_intermediate(pca, PKI_CA_FLEET)) ? 0 : -ENOMEM;
	if (!rc)
		rc = pki_cert_to_pem(x, chain, cert, cert_len);
	if (!rc)
		rc = pki_cert_to_pem(pki_ca_root(pca), NULL, ca, ca_len);
	printf("[sign CSR] %s: %s\n", rc ? "FAILED" : "ok", rc ? err_str(rc) : "node certificate issued by the Fleet CA");
	sk_X509_free(chain);
	X509_free(x);
	pki_ca_free(pca);
	return rc;
}

static int node_begin(char *target, struct opts *o, struct conn *c, struct sshc_node *n)
{
	struct sshc_node_cfg checked;
	char err[300];
	memset(c, 0, sizeof(*c));
	if (sshc_node_cfg_check(&o->node, &checked, err, sizeof(err)) < 0) /* before any connection */
		return usage_error("%s", err);
	int rc = connect_to(target, o, c);
	if (rc)
		return rc;
	if (sshc_node_init(n, c->s, &o->node, progress, NULL) < 0)
		return 2;
	return 0;
}

static int cmd_install(char **pos, int npos, struct opts *o)
{
	struct conn c;
	struct sshc_node n;
	char *csr = NULL;
	size_t csr_len = 0, cert_len = 0, ca_len = 0;
	uint8_t *cert = NULL, *ca = NULL;
	memset(&c, 0, sizeof(c));
	if (!o->binary || !o->ca_dir || !o->id)
		return usage_error("install-node: %s", "needs --binary FILE --ca-dir DIR --id ID");
	int rc = node_begin(pos[0], o, &c, &n);
	if (rc)
		goto out;
	if ((rc = sshc_node_preflight(&n)) < 0 || (rc = sshc_node_upload_binary(&n, o->binary)) < 0 ||
	    (rc = sshc_node_gen_csr(&n, &csr, &csr_len)) < 0 ||
	    (rc = sign(o, csr, csr_len, &cert, &cert_len, &ca, &ca_len)) < 0 ||
	    (rc = sshc_node_install_certs(&n, (char *)cert, cert_len, (char *)ca, ca_len)) < 0 ||
	    (rc = sshc_node_install_service(&n)) < 0 || (rc = sshc_node_start(&n)) < 0) {
		if (sshc_node_rollback(&n) < 0)
			fprintf(stderr, "pharos-sshc: rollback incomplete: %s\n", sshc_error(c.s));
		rc = 1;
	}
out:
	mem_free(csr);
	mem_free(cert);
	mem_free(ca);
	conn_fini(&c);
	return rc;
}

static int cmd_node(char **pos, int npos, struct opts *o, const char *what)
{
	struct conn c;
	struct sshc_node n;
	struct sshc_node_status st;
	int rc = node_begin(pos[0], o, &c, &n);
	if (rc)
		goto out;
	if (!strcmp(what, "start"))
		rc = sshc_node_start(&n);
	else if (!strcmp(what, "stop"))
		rc = sshc_node_stop(&n);
	else if (!strcmp(what, "remove"))
		rc = sshc_node_remove(&n);
	else if (!strcmp(what, "update")) {
		if (!o->binary) {
			rc = usage_error("update: %s", "needs --binary FILE");
			goto out;
		}
		rc = sshc_node_update(&n, o->binary);
	} else if ((rc = sshc_node_status(&n, &st)) == 0)
		printf("service=%s\nrunning=%d\npid=%ld\nsupervisor_pid=%ld\n", sshc_service_name(st.service),
		       st.running, st.pid, st.supervisor_pid);
	rc = rc < 0;
out:
	conn_fini(&c);
	return rc;
}

static int cmd_start(char **p, int n, struct opts *o) { return cmd_node(p, n, o, "start"); }
static int cmd_stop(char **p, int n, struct opts *o) { return cmd_node(p, n, o, "stop"); }
static int cmd_status(char **p, int n, struct opts *o) { return cmd_node(p, n, o, "status"); }
static int cmd_update(char **p, int n, struct opts *o) { return cmd_node(p, n, o, "update"); }
static int cmd_remove(char **p, int n, struct opts *o) { return cmd_node(p, n, o, "remove"); }

static int cmd_render(char **pos, int npos, struct opts *o, bool unit)
{
	struct sshc_node_cfg cfg;
	char err[300];
	struct buf b;
	if (sshc_node_cfg_check(&o->node, &cfg, err, sizeof(err)) < 0) {
		fprintf(stderr, "pharos-sshc: %s\n", err);
		return 2;
	}
	buf_init(&b, 1 << 16);
	int rc = unit ? sshc_node_render_unit(&cfg, &b) : sshc_node_render_supervisor(&cfg, &b);
	if (!rc)
		fwrite(b.data, 1, b.len, stdout);
	buf_fini(&b);
	return rc < 0;
}

static int cmd_render_unit(char **p, int n, struct opts *o) { return cmd_render(p, n, o, true); }
static int cmd_render_sup(char **p, int n, struct opts *o) { return cmd_render(p, n, o, false); }

#define CONN "USER@HOST[:PORT] --key KEYFILE [--pin FP | --pin-file FILE] [--timeout S]"
#define NODE "[--remote-binary P] [--config-dir D] [--service-name N] [--service auto|systemd|supervisor] " \
	     "[--control-listen A:P] [--interface IF] [--awg-port P | --awg-ports LO-HI] [--extra ARG]..."

static const struct {
	const char *name;
	int npos;
	int (*fn)(char **pos, int npos, struct opts *o);
	const char *usage;
} commands[] = {
	{ "keygen", 1, cmd_keygen, "KEYFILE: a new Ed25519 key, 0600" },
	{ "pubkey", 1, cmd_pubkey, "KEYFILE [--comment C]: print the authorized_keys line" },
	{ "connect", 1, cmd_connect, CONN ": connect, print the host key fingerprint" },
	{ "exec", 1, cmd_exec, CONN " -- CMD [ARG]...: run a command (one argument: sh text)" },
	{ "upload", 3, cmd_upload, CONN " LOCAL REMOTE [--mode OCTAL]: atomic upload" },
	{ "bootstrap-password", 1, cmd_bootstrap, CONN " --password-stdin: install the key with a password" },
	{ "install-node", 1, cmd_install, CONN " --binary FILE --ca-dir DIR --id ID [--ip IP]... [--name N] " NODE },
	{ "start", 1, cmd_start, CONN " " NODE },
	{ "stop", 1, cmd_stop, CONN " " NODE },
	{ "status", 1, cmd_status, CONN " " NODE },
	{ "update", 1, cmd_update, CONN " --binary FILE " NODE },
	{ "remove", 1, cmd_remove, CONN " " NODE },
	{ "render-unit", 0, cmd_render_unit, NODE },
	{ "render-supervisor", 0, cmd_render_sup, NODE },
};

int main(int argc, char **argv)
{
	if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "help")) {
		FILE *f = argc < 2 ? stderr : stdout;
		fprintf(f, "Usage: pharos-sshc COMMAND ...\n");
		for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
			fprintf(f, "  %s %s\n", commands[i].name, commands[i].usage);
		return argc < 2 ? 2 : 0;
	}
	if (sodium_init() < 0)
		return 1;
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++) {
		if (strcmp(argv[1], commands[i].name))
			continue;
		struct opts o = { 0 };
		char *pos[4];
		int npos, rc = parse(argc - 2, argv + 2, &o, pos, &npos, 4);
		if (rc)
			return rc;
		if (npos != commands[i].npos) {
			fprintf(stderr, "Usage: pharos-sshc %s %s\n", commands[i].name, commands[i].usage);
			return 2;
		}
		return commands[i].fn(pos, npos, &o);
	}
	return usage_error("unknown command \"%s\"", argv[1]);
}
