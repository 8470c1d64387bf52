/* sshc: installing, running and removing pharos-node on a host over SSH.
 *
 * Every remote step is one sh script: a prefix of variable assignments (each
 * value single-quoted by sshc_quote_append) followed by fixed text that only
 * uses "$VAR". The service is a systemd unit where systemd runs, otherwise
 * a small POSIX sh supervisor (rendered below) started with setsid; both
 * are detected later from the files they leave, so stop/status/update/remove
 * work from a new session. */
#include "sshc/sshc.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/buf.h"
#include "lib/mem.h"

#define SCRIPT_MAX (64 * 1024)
#define CSR_MAX    (16 * 1024)
#define PEM_MAX    (64 * 1024)

static const struct sshc_node_cfg defaults = {
	.service_name = "pharos-node",
	.binary_path = "/usr/local/bin/pharos-node",
	.config_dir = "/etc/pharos/node",
	.run_dir = "/run/pharos",
	.log_dir = "/var/log/pharos",
	.unit_dir = "/etc/systemd/system",
	.restart_max_s = 30,
};

const char *sshc_service_name(enum sshc_service s)
{
	switch (s) {
	case SSHC_SERVICE_AUTO:
		return "auto";
	case SSHC_SERVICE_SYSTEMD:
		return "systemd";
	case SSHC_SERVICE_SUPERVISOR:
		return "supervisor";
	case SSHC_SERVICE_NONE:
		return "none";
	}
	return "?";
}

/* ---- configuration ------------------------------------------------------ */

static bool in_set(const char *s, const char *extra, size_t min, size_t max)
{
	size_t n = strlen(s);
	if (n < min || n > max)
		return false;
	for (; *s; s++)
		if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || (*s >= '0' && *s <= '9') ||
		      strchr(extra, *s)))
			return false;
	return true;
}

static bool path_ok(const char *p)
{
	if (p[0] != '/' || !in_set(p, "._/+-", 2, 256) || p[strlen(p) - 1] == '/')
		return false;
	for (const char *c = p; (c = strstr(c, "/..")); c += 3)
		if (c[3] == '/' || c[3] == '\0')
			return false;
	return !strstr(p, "//");
}

static int bad(char *err, size_t errlen, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

static int bad(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	if (errlen)
		vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
	return -EINVAL;
}

int sshc_node_cfg_check(const struct sshc_node_cfg *in, struct sshc_node_cfg *out, char *err, size_t errlen)
{
	struct sshc_node_cfg c = *in;
	const char **paths[] = { &c.binary_path, &c.config_dir, &c.run_dir, &c.log_dir, &c.unit_dir };
	const char *dpaths[] = { defaults.binary_path, defaults.config_dir, defaults.run_dir, defaults.log_dir,
		                 defaults.unit_dir };
	const char *names[] = { "binary path", "config dir", "run dir", "log dir", "unit dir" };

	if (errlen)
		err[0] = '\0';
	if (!c.service_name)
		c.service_name = defaults.service_name;
	if (!in_set(c.service_name, "-", 1, 64) || strpbrk(c.service_name, "ABCDEFGHIJKLMNOPQRSTUVWXYZ"))
		return bad(err, errlen, "service name \"%s\": expected 1-64 of a-z 0-9 -", c.service_name);
	for (size_t i = 0; i < sizeof(paths) / sizeof(paths[0]); i++) {
		if (!*paths[i])
			*paths[i] = dpaths[i];
		if (!path_ok(*paths[i]))
			return bad(err, errlen,
				   "%s \"%s\": expected an absolute path of A-Z a-z 0-9 . _ / + - without .., // "
				   "or a trailing /", names[i], *paths[i]);
	}
	if (c.node_name && !in_set(c.node_name, "._-", 1, 64))
		return bad(err, errlen, "node name \"%s\": expected 1-64 of A-Z a-z 0-9 . _ -", c.node_name);
	if (c.control_listen && (!in_set(c.control_listen, ".:[]-", 3, 100) || !strchr(c.control_listen, ':')))
		return bad(err, errlen, "control listen address \"%s\": expected ADDRESS:PORT, e.g. [::]:8444",
			   c.control_listen);
	if (c.interface && !in_set(c.interface, "._-", 1, 15))
		return bad(err, errlen, "interface \"%s\": expected 1-15 of A-Z a-z 0-9 . _ -", c.interface);
	if (c.port_hi && (!c.port || c.port_hi < c.port || c.port_hi - c.port >= 1024))
		return bad(err, errlen, "ports %u-%u: expected LO-HI with 0 < LO <= HI and at most 1024 ports",
			   c.port, c.port_hi);
	if (c.n_extra > SSHC_NODE_EXTRA_MAX)
		return bad(err, errlen, "%zu extra arguments: at most %d", c.n_extra, SSHC_NODE_EXTRA_MAX);
	for (size_t i = 0; i < c.n_extra; i++)
		if (!c.extra_args[i] || !in_set(c.extra_args[i], "._/:=,@+-", 1, 200))
			return bad(err, errlen, "extra argument \"%s\": expected 1-200 of A-Z a-z 0-9 . _ / : = , @ + -",
				   c.extra_args[i] ? c.extra_args[i] : "(null)");
	if ((unsigned)c.service > SSHC_SERVICE_SUPERVISOR)
		return bad(err, errlen, "service kind %d: expected auto, systemd or supervisor", (int)c.service);
	if (!c.restart_max_s)
		c.restart_max_s = defaults.restart_max_s;
	if (c.restart_max_s > 3600)
		return bad(err, errlen, "restart backoff cap %u s: expected 1-3600", c.restart_max_s);
	*out = c;
	return 0;
}

size_t sshc_node_argv(const struct sshc_node_cfg *cfg, char portbuf[16], const char *argv[SSHC_NODE_ARGV_MAX])
{
	size_t n = 0;
	argv[n++] = cfg->binary_path;
	argv[n++] = "run";
	argv[n++] = "--config-dir";
	argv[n++] = cfg->config_dir;
	if (cfg->control_listen) {
		argv[n++] = "--control-listen";
		argv[n++] = cfg->control_listen;
	}
	if (cfg->interface) {
		argv[n++] = "--interface";
		argv[n++] = cfg->interface;
	}
	if (cfg->port_hi > cfg->port) {
		snprintf(portbuf, 16, "%u-%u", cfg->port, cfg->port_hi);
		argv[n++] = "--ports";
		argv[n++] = portbuf;
	} else if (cfg->port) {
		snprintf(portbuf, 16, "%u", cfg->port);
		argv[n++] = "--port";
		argv[n++] = portbuf;
	}
	for (size_t i = 0; i < cfg->n_extra; i++)
		argv[n++] = cfg->extra_args[i];
	return n;
}

/* ---- rendering ---------------------------------------------------------- */

int sshc_node_render_unit(const struct sshc_node_cfg *cfg, struct buf *b)
{
	const char *argv[SSHC_NODE_ARGV_MAX];
	char ports[16];
	size_t n = sshc_node_argv(cfg, ports, argv);
	/* Every argument is of a character set systemd takes literally. */
	int rc = buf_printf(b,
			    "# %s: PharosVPN node agent. Written by cox; `cox nodes rm` removes it.\n"
			    "[Unit]\n"
			    "Description=PharosVPN node agent\n"
			    "After=network-online.target\n"
			    "Wants=network-online.target\n"
			    "\n"
			    "[Service]\n"
			    "ExecStart=",
			    cfg->service_name);
	for (size_t i = 0; rc == 0 && i < n; i++)
		rc = buf_printf(b, "%s%s", i ? " " : "", argv[i]);
	if (rc == 0)
		rc = buf_printf(b,
				"\n"
				"Restart=always\n"
				"RestartSec=2\n"
				"LimitNOFILE=65536\n"
				"\n"
				"[Install]\n"
				"WantedBy=multi-user.target\n");
	return rc;
}

static int assign(struct buf *b, const char *name, const char *value)
{
	int rc = buf_printf(b, "%s=", name);
	if (rc == 0)
		rc = sshc_quote_append(b, value);
	return rc ? rc : buf_append(b, "\n", 1);
}

static int assign_path(struct buf *b, const char *name, const char *dir, const char *base, const char *suffix)
{
	char p[600];
	snprintf(p, sizeof(p), "%s/%s%s", dir, base, suffix);
	return assign(b, name, p);
}

/* The supervisor script path: beside the binary, named after the service. */
static void supervisor_path(const struct sshc_node_cfg *cfg, char out[600])
{
	const char *slash = strrchr(cfg->binary_path, '/');
	snprintf(out, 600, "%.*s/%s-supervise", (int)(slash - cfg->binary_path), cfg->binary_path,
		 cfg->service_name);
}

/* The variables every remote script and the supervisor use. */
static int vars(const struct sshc_node_cfg *cfg, struct buf *b)
{
	char sup[600];
	supervisor_path(cfg, sup);
	int rc = assign(b, "BIN", cfg->binary_path);
	if (!rc)
		rc = assign(b, "CONF", cfg->config_dir);
	if (!rc)
		rc = assign(b, "RUND", cfg->run_dir);
	if (!rc)
		rc = assign(b, "LOGD", cfg->log_dir);
	if (!rc)
		rc = assign(b, "NAME", cfg->service_name);
	if (!rc)
		rc = assign(b, "SUP", sup);
	if (!rc)
		rc = assign_path(b, "UNIT", cfg->unit_dir, cfg->service_name, ".service");
	if (!rc)
		rc = assign_path(b, "PIDFILE", cfg->run_dir, cfg->service_name, ".pid");
	if (!rc)
		rc = assign_path(b, "CHILDFILE", cfg->run_dir, cfg->service_name, ".child.pid");
	if (!rc)
		rc = assign_path(b, "LOG", cfg->log_dir, cfg->service_name, ".log");
	return rc;
}

/* Why each line is there: `wait` returns early when a trapped signal
 * arrives, so the inner loop waits again until the child is really gone;
 * the backoff sleep runs in the background so SIGTERM ends it at once; the
 * backoff resets after a minute of uptime; the log is rotated once at 10 MiB
 * so a crash loop cannot fill the disk. */
static const char SUPERVISOR_BODY[] =
	"child=\n"
	"sleeper=\n"
	"stopping=\n"
	"on_term() {\n"
	"\tstopping=1\n"
	"\t[ -n \"$child\" ] && kill -TERM \"$child\" 2>/dev/null\n"
	"\t[ -n \"$sleeper\" ] && kill -TERM \"$sleeper\" 2>/dev/null\n"
	"}\n"
	"trap on_term TERM INT HUP\n"
	"mkdir -p \"$RUND\" \"$LOGD\"\n"
	"echo $$ > \"$PIDFILE\"\n"
	"backoff=1\n"
	"while [ -z \"$stopping\" ]; do\n"
	"\tif [ -f \"$LOG\" ] && [ \"$(wc -c < \"$LOG\")\" -gt 10485760 ]; then mv -f \"$LOG\" \"$LOG.1\"; fi\n"
	"\tstarted=$(date +%s)\n"
	"\tstart_agent >> \"$LOG\" 2>&1 < /dev/null &\n"
	"\tchild=$!\n"
	"\techo \"$child\" > \"$CHILDFILE\"\n"
	"\twhile :; do\n"
	"\t\twait \"$child\"\n"
	"\t\tstatus=$?\n"
	"\t\tkill -0 \"$child\" 2>/dev/null || break\n"
	"\tdone\n"
	"\tchild=\n"
	"\trm -f \"$CHILDFILE\"\n"
	"\t[ -n \"$stopping\" ] && break\n"
	"\t[ $(( $(date +%s) - started )) -ge 60 ] && backoff=1\n"
	"\techo \"$(date -u +%Y-%m-%dT%H:%M:%SZ) supervisor: $NAME exited with status $status, restarting in ${backoff}s\" >> \"$LOG\"\n"
	"\tsleep \"$backoff\" &\n"
	"\tsleeper=$!\n"
	"\twait \"$sleeper\"\n"
	"\tsleeper=\n"
	"\tbackoff=$((backoff * 2))\n"
	"\t[ \"$backoff\" -gt \"$MAXBACKOFF\" ] && backoff=$MAXBACKOFF\n"
	"done\n"
	"rm -f \"$PIDFILE\" \"$CHILDFILE\"\n";

int sshc_node_render_supervisor(const struct sshc_node_cfg *cfg, struct buf *b)
{
	const char *argv[SSHC_NODE_ARGV_MAX];
	char ports[16];
	size_t n = sshc_node_argv(cfg, ports, argv);
	int rc = buf_printf(b,
			    "#!/bin/sh\n"
			    "# %s supervisor, written by cox: runs the PharosVPN node agent, restarts it\n"
			    "# when it exits (backoff 1 s doubling to %u s), stops it on SIGTERM.\n"
			    "# Pidfiles: $PIDFILE (this script), $CHILDFILE (the agent).\n",
			    cfg->service_name, cfg->restart_max_s);
	if (!rc)
		rc = vars(cfg, b);
	if (!rc)
		rc = buf_printf(b, "MAXBACKOFF=%u\nstart_agent() {\n\texec ", cfg->restart_max_s);
	if (!rc)
		rc = sshc_quote_argv(b, argv, n);
	if (!rc)
		rc = buf_printf(b, "\n}\n%s", SUPERVISOR_BODY);
	return rc;
}

/* ---- running steps ------------------------------------------------------ */

static void report(struct sshc_node *n, const char *step, bool ok, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

static void report(struct sshc_node *n, const char *step, bool ok, const char *fmt, ...)
{
	char msg[1200];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (!ok && n->s)
		sshc_set_error(n->s, "%s: %s", step, msg);
	if (n->cb)
		n->cb(n->cb_arg, step, ok, msg);
}

/* Shell helpers shared by the scripts: alive PID PATTERN checks that the
 * pid runs and its command line holds PATTERN (so a recycled pid is not
 * taken for ours). */
static const char HELPERS[] =
	"alive() { [ -n \"$1\" ] && kill -0 \"$1\" 2>/dev/null && "
	"tr '\\000' ' ' < /proc/\"$1\"/cmdline 2>/dev/null | grep -qF -- \"$2\"; }\n"
	"rdpid() { cat \"$1\" 2>/dev/null || true; }\n";

/* Runs vars + helpers + body; on failure reports step with the error. */
static int script(struct sshc_node *n, const char *step, const char *body, struct sshc_result *out)
{
	struct buf b;
	buf_init(&b, SCRIPT_MAX);
	int rc = buf_printf(&b, "set -u\n");
	if (!rc)
		rc = vars(&n->cfg, &b);
	if (!rc)
		rc = buf_printf(&b, "%s%s", HELPERS, body);
	if (rc < 0)
		report(n, step, false, "cannot build the remote script: %s", err_str(rc));
	else if ((rc = sshc_run(n->s, step, (const char *)b.data, out)) < 0)
		report(n, step, false, "%s", sshc_error(n->s));
	buf_fini(&b);
	return rc;
}

int sshc_node_init(struct sshc_node *n, struct sshc *s, const struct sshc_node_cfg *cfg, sshc_progress_fn cb,
		   void *cb_arg)
{
	char err[300];
	memset(n, 0, sizeof(*n));
	n->s = s;
	n->cb = cb;
	n->cb_arg = cb_arg;
	int rc = sshc_node_cfg_check(cfg, &n->cfg, err, sizeof(err));
	if (rc < 0)
		report(n, "configuration", false, "%s", err);
	n->service = SSHC_SERVICE_AUTO; /* unresolved until preflight or status */
	return rc;
}

/* Value of "key=" in key=value lines, copied into out; false if absent. */
static bool field(const char *text, const char *key, char *out, size_t cap)
{
	size_t kl = strlen(key);
	for (const char *p = text; p && *p; p = strchr(p, '\n'), p = p ? p + 1 : NULL) {
		if (!strncmp(p, key, kl) && p[kl] == '=') {
			const char *v = p + kl + 1;
			size_t len = strcspn(v, "\n");
			snprintf(out, cap, "%.*s", (int)len, v);
			return true;
		}
	}
	return false;
}

int sshc_node_preflight(struct sshc_node *n)
{
	static const char step[] = "preflight";
	struct sshc_result r;
	char arch[64] = "?", sysd[8] = "0";
	int rc = script(n, step,
			"[ \"$(id -u)\" = 0 ] || { echo \"installing needs root: logged in as $(id -un) "
			"(uid $(id -u))\" >&2; exit 1; }\n"
			"echo \"arch=$(uname -m)\"\n"
			"if [ -d /run/systemd/system ] && command -v systemctl >/dev/null 2>&1 && "
			"systemctl show --property=Version >/dev/null 2>&1; then echo systemd=1; else echo systemd=0; fi\n",
			&r);
	if (rc < 0)
		return rc;
	field(r.out, "arch", arch, sizeof(arch));
	field(r.out, "systemd", sysd, sizeof(sysd));
	sshc_result_fini(&r);
	bool has = !strcmp(sysd, "1");
	if (n->cfg.service == SSHC_SERVICE_SYSTEMD && !has) {
		report(n, step, false, "systemd was asked for but does not run on the host");
		return -ENOTSUP;
	}
	n->service = n->cfg.service == SSHC_SERVICE_AUTO ? (has ? SSHC_SERVICE_SYSTEMD : SSHC_SERVICE_SUPERVISOR)
							   : n->cfg.service;
	report(n, step, true, "root on %s; service: %s%s", arch, sshc_service_name(n->service),
	       has ? " (systemd runs)" : " (no systemd)");
	return 0;
}

static int check_version(struct sshc_node *n, const char *step, char *ver, size_t cap)
{
	struct sshc_result r;
	int rc = script(n, step, "\"$BIN\" version\n", &r);
	if (rc < 0)
		return rc;
	snprintf(ver, cap, "%.*s", (int)strcspn(r.out, "\n"), r.out);
	sshc_result_fini(&r);
	return 0;
}

static int put_binary(struct sshc_node *n, const char *step, const char *local_path)
{
	char ver[128];
	int rc = script(n, step, "mkdir -p \"$(dirname \"$BIN\")\"\n", NULL);
	if (rc < 0)
		return rc;
	rc = sshc_upload_file(n->s, local_path, n->cfg.binary_path, 0755);
	if (rc < 0) {
		report(n, step, false, "%s", sshc_error(n->s));
		return rc;
	}
	n->done |= SSHC_DONE_BINARY;
	if ((rc = check_version(n, step, ver, sizeof(ver))) < 0)
		return rc;
	report(n, step, true, "%s installed as %s (%s; %s)", local_path, n->cfg.binary_path, ver,
	       sshc_used_sftp(n->s) ? "sftp" : "exec");
	return 0;
}

int sshc_node_upload_binary(struct sshc_node *n, const char *local_path)
{
	return put_binary(n, "upload binary", local_path);
}

int sshc_node_gen_csr(struct sshc_node *n, char **csr, size_t *csr_len)
{
	static const char step[] = "generate key and CSR";
	static const char begin[] = "-----BEGIN CERTIFICATE REQUEST-----";
	struct sshc_result r;
	struct buf b;
	*csr = NULL;
	*csr_len = 0;
	buf_init(&b, 4096);
	int rc = buf_printf(&b,
			    "if [ -d \"$CONF\" ]; then created=0; else created=1; fi\n"
			    "umask 077\n"
			    "mkdir -p \"$CONF\"\n"
			    "echo \"created=$created\" >&2\n"
			    "\"$BIN\" gen-csr --config-dir \"$CONF\"");
	if (!rc && n->cfg.node_name && !(rc = buf_printf(&b, " --name ")))
		rc = sshc_quote_append(&b, n->cfg.node_name);
	if (!rc)
		rc = buf_printf(&b, "\n");
	if (rc < 0) {
		buf_fini(&b);
		return rc;
	}
	rc = script(n, step, (const char *)b.data, &r);
	buf_fini(&b);
	if (rc < 0)
		return rc;
	char created[4] = "0";
	field(r.err, "created", created, sizeof(created));
	if (!strcmp(created, "1"))
		n->done |= SSHC_DONE_CONFIG_DIR;
	if (strncmp(r.out, begin, sizeof(begin) - 1) || r.out_len > CSR_MAX || r.truncated) {
		report(n, step, false, "gen-csr did not print a PEM certificate request");
		rc = ERR_PARSE;
	} else {
		*csr = r.out;
		*csr_len = r.out_len;
		r.out = NULL;
		report(n, step, true, "TLS key created in %s (stays on the node), CSR of %zu bytes", n->cfg.config_dir,
		       *csr_len);
	}
	sshc_result_fini(&r);
	return rc;
}

static bool pem_cert(const char *p, size_t len)
{
	static const char begin[] = "-----BEGIN CERTIFICATE-----";
	return len >= sizeof(begin) && len <= PEM_MAX && !strncmp(p, begin, sizeof(begin) - 1) &&
	       !memchr(p, '\0', len);
}

int sshc_node_install_certs(struct sshc_node *n, const char *cert_pem, size_t cert_len, const char *ca_pem,
			    size_t ca_len)
{
	static const char step[] = "install certificates";
	char path[600];
	if (!pem_cert(cert_pem, cert_len) || !pem_cert(ca_pem, ca_len)) {
		report(n, step, false, "the certificate or the CA is not PEM (-----BEGIN CERTIFICATE-----)");
		return -EINVAL;
	}
	snprintf(path, sizeof(path), "%s/tls.crt", n->cfg.config_dir);
	int rc = sshc_upload(n->s, cert_pem, cert_len, path, 0644);
	if (rc == 0) {
		n->done |= SSHC_DONE_CERTS;
		snprintf(path, sizeof(path), "%s/ca.crt", n->cfg.config_dir);
		rc = sshc_upload(n->s, ca_pem, ca_len, path, 0644);
	}
	if (rc < 0) {
		report(n, step, false, "%s", sshc_error(n->s));
		return rc;
	}
	report(n, step, true, "tls.crt and ca.crt in %s", n->cfg.config_dir);
	return 0;
}

int sshc_node_install_service(struct sshc_node *n)
{
	static const char step[] = "install service";
	struct buf b;
	char path[600];
	bool sysd = n->service == SSHC_SERVICE_SYSTEMD;
	if (n->service != SSHC_SERVICE_SYSTEMD && n->service != SSHC_SERVICE_SUPERVISOR) {
		report(n, step, false, "the service kind is not resolved: run preflight first");
		return ERR_BADSTATE;
	}
	buf_init(&b, SCRIPT_MAX);
	int rc = sysd ? sshc_node_render_unit(&n->cfg, &b) : sshc_node_render_supervisor(&n->cfg, &b);
	if (rc < 0) {
		report(n, step, false, "cannot render the service: %s", err_str(rc));
		goto out;
	}
	if (sysd)
		snprintf(path, sizeof(path), "%s/%s.service", n->cfg.unit_dir, n->cfg.service_name);
	else
		supervisor_path(&n->cfg, path);
	rc = script(n, step, sysd ? "mkdir -p \"$(dirname \"$UNIT\")\"\n"
				  : "mkdir -p \"$(dirname \"$SUP\")\" \"$RUND\" \"$LOGD\"\n", NULL);
	if (rc < 0)
		goto out;
	if ((rc = sshc_upload(n->s, b.data, b.len, path, sysd ? 0644 : 0755)) < 0) {
		report(n, step, false, "%s", sshc_error(n->s));
		goto out;
	}
	n->done |= SSHC_DONE_SERVICE;
	if (sysd && (rc = script(n, step, "systemctl daemon-reload && systemctl enable --quiet \"$NAME.service\"\n",
				 NULL)) < 0)
		goto out;
	report(n, step, true, "%s %s", sysd ? "systemd unit" : "supervisor", path);
out:
	buf_fini(&b);
	return rc;
}

/* The installed service kind, from the files on the host. */
static const char DETECT_SH[] =
	"if [ -f \"$UNIT\" ]; then kind=systemd; elif [ -f \"$SUP\" ]; then kind=supervisor; else kind=none; fi\n";

static const char STATUS_SH[] =
	"echo \"service=$kind\"\n"
	"case $kind in\n"
	"systemd)\n"
	"\tsystemctl is-active --quiet \"$NAME.service\" && echo running=1\n"
	"\techo \"pid=$(systemctl show --property=MainPID --value \"$NAME.service\")\" ;;\n"
	"supervisor)\n"
	"\tp=$(rdpid \"$PIDFILE\"); c=$(rdpid \"$CHILDFILE\")\n"
	"\talive \"$p\" \"$SUP\" && echo \"supervisor_pid=$p\"\n"
	"\tif alive \"$c\" \"$BIN run\"; then echo running=1; echo \"pid=$c\"; fi ;;\n"
	"esac\n"
	"exit 0\n";

int sshc_node_status(struct sshc_node *n, struct sshc_node_status *st)
{
	static const char step[] = "status";
	char body[sizeof(DETECT_SH) + sizeof(STATUS_SH)], v[32] = "";
	struct sshc_result r;
	memset(st, 0, sizeof(*st));
	snprintf(body, sizeof(body), "%s%s", DETECT_SH, STATUS_SH);
	int rc = script(n, step, body, &r);
	if (rc < 0)
		return rc;
	field(r.out, "service", v, sizeof(v));
	st->service = !strcmp(v, "systemd") ? SSHC_SERVICE_SYSTEMD
		      : !strcmp(v, "supervisor") ? SSHC_SERVICE_SUPERVISOR : SSHC_SERVICE_NONE;
	st->running = field(r.out, "running", v, sizeof(v));
	if (field(r.out, "pid", v, sizeof(v)))
		st->pid = strtol(v, NULL, 10);
	if (field(r.out, "supervisor_pid", v, sizeof(v)))
		st->supervisor_pid = strtol(v, NULL, 10);
	if (!st->running)
		st->pid = 0;
	sshc_result_fini(&r);
	if (st->service != SSHC_SERVICE_NONE)
		n->service = st->service;
	return 0;
}

/* Resolves n->service from the host when the caller did not install in this
 * session. */
static int need_service(struct sshc_node *n, const char *step)
{
	struct sshc_node_status st;
	if (n->service == SSHC_SERVICE_SYSTEMD || n->service == SSHC_SERVICE_SUPERVISOR)
		return 0;
	int rc = sshc_node_status(n, &st);
	if (rc == 0 && st.service == SSHC_SERVICE_NONE) {
		report(n, step, false, "no %s service is installed on the host", n->cfg.service_name);
		rc = ERR_NOTFOUND;
	}
	return rc;
}

static const char START_SUPERVISOR_SH[] =
	"p=$(rdpid \"$PIDFILE\")\n"
	"if alive \"$p\" \"$SUP\"; then echo already=1; exit 0; fi\n"
	"rm -f \"$PIDFILE\" \"$CHILDFILE\"\n"
	"mkdir -p \"$RUND\" \"$LOGD\"\n"
	"cd /\n"
	"if command -v setsid >/dev/null 2>&1; then setsid nohup /bin/sh \"$SUP\" </dev/null >/dev/null 2>&1 &\n"
	"else nohup /bin/sh \"$SUP\" </dev/null >/dev/null 2>&1 & fi\n"
	"i=0\n"
	"while [ $i -lt 100 ]; do\n"
	"\tp=$(rdpid \"$PIDFILE\"); c=$(rdpid \"$CHILDFILE\")\n"
	"\tif alive \"$p\" \"$SUP\" && alive \"$c\" \"$BIN run\"; then echo \"pid=$c\"; exit 0; fi\n"
	"\tsleep 0.1; i=$((i + 1))\n"
	"done\n"
	"echo \"the supervisor did not start the agent within 10 s; last log lines:\" >&2\n"
	"tail -n 5 \"$LOG\" >&2 2>/dev/null\n"
	"exit 1\n";

static const char START_SYSTEMD_SH[] =
	"systemctl start \"$NAME.service\" && systemctl is-active --quiet \"$NAME.service\" && "
	"echo \"pid=$(systemctl show --property=MainPID --value \"$NAME.service\")\"\n";

int sshc_node_start(struct sshc_node *n)
{
	static const char step[] = "start";
	struct sshc_result r;
	char pid[32] = "?", already[4] = "";
	int rc = need_service(n, step);
	if (rc < 0)
		return rc;
	rc = script(n, step, n->service == SSHC_SERVICE_SYSTEMD ? START_SYSTEMD_SH : START_SUPERVISOR_SH, &r);
	if (rc < 0)
		return rc;
	n->done |= SSHC_DONE_STARTED;
	field(r.out, "pid", pid, sizeof(pid));
	field(r.out, "already", already, sizeof(already));
	sshc_result_fini(&r);
	if (already[0])
		report(n, step, true, "already running (%s)", sshc_service_name(n->service));
	else
		report(n, step, true, "running as pid %s (%s)", pid, sshc_service_name(n->service));
	return 0;
}

static const char STOP_SUPERVISOR_SH[] =
	"p=$(rdpid \"$PIDFILE\"); c=$(rdpid \"$CHILDFILE\")\n"
	"if alive \"$p\" \"$SUP\"; then\n"
	"\tkill -TERM \"$p\"\n"
	"\ti=0; while alive \"$p\" \"$SUP\" && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done\n"
	"\talive \"$p\" \"$SUP\" && kill -KILL \"$p\"\n"
	"fi\n"
	"if alive \"$c\" \"$BIN run\"; then\n"
	"\tkill -TERM \"$c\"\n"
	"\ti=0; while alive \"$c\" \"$BIN run\" && [ $i -lt 50 ]; do sleep 0.1; i=$((i + 1)); done\n"
	"\talive \"$c\" \"$BIN run\" && kill -KILL \"$c\"\n"
	"fi\n"
	"rm -f \"$PIDFILE\" \"$CHILDFILE\"\n"
	"true\n";

static const char STOP_SYSTEMD_SH[] = "systemctl stop \"$NAME.service\"\n";

static int stop_service(struct sshc_node *n, const char *step)
{
	return script(n, step, n->service == SSHC_SERVICE_SYSTEMD ? STOP_SYSTEMD_SH : STOP_SUPERVISOR_SH, NULL);
}

int sshc_node_stop(struct sshc_node *n)
{
	static const char step[] = "stop";
	int rc = need_service(n, step);
	if (rc == 0)
		rc = stop_service(n, step);
	if (rc == 0) {
		n->done &= ~(unsigned)SSHC_DONE_STARTED;
		report(n, step, true, "stopped (%s)", sshc_service_name(n->service));
	}
	return rc;
}

int sshc_node_update(struct sshc_node *n, const char *local_path)
{
	static const char step[] = "update";
	int rc = need_service(n, step);
	if (rc == 0)
		rc = put_binary(n, "upload binary", local_path);
	if (rc == 0 && (rc = stop_service(n, step)) == 0)
		report(n, step, true, "old agent stopped");
	if (rc == 0)
		rc = sshc_node_start(n);
	return rc;
}

static const char UNINSTALL_SERVICE_SH[] =
	"if [ -f \"$UNIT\" ]; then\n"
	"\tsystemctl disable --quiet \"$NAME.service\" 2>/dev/null || true\n"
	"\trm -f \"$UNIT\"\n"
	"\tsystemctl daemon-reload 2>/dev/null || true\n"
	"fi\n"
	"rm -f \"$SUP\" \"$PIDFILE\" \"$CHILDFILE\"\n";

int sshc_node_remove(struct sshc_node *n)
{
	static const char step[] = "remove";
	struct buf b;
	buf_init(&b, SCRIPT_MAX);
	/* Stop whatever is installed, then remove every file and check. */
	int rc = buf_printf(&b,
			    "%s"
			    "case $kind in\n"
			    "systemd) systemctl stop \"$NAME.service\" 2>/dev/null || true ;;\n"
			    "supervisor) %s ;;\n"
			    "esac\n"
			    "%s"
			    "rm -rf \"$CONF\"\n"
			    "rm -f \"$BIN\" \"$LOG\" \"$LOG.1\"\n"
			    "for f in \"$UNIT\" \"$SUP\" \"$BIN\" \"$CONF\"; do\n"
			    "\t[ -e \"$f\" ] && { echo \"$f is still there\" >&2; exit 1; }\n"
			    "done\n"
			    "echo \"kind=$kind\"\n",
			    DETECT_SH, "stop_sup", UNINSTALL_SERVICE_SH);
	struct buf full;
	buf_init(&full, SCRIPT_MAX);
	if (!rc)
		rc = buf_printf(&full, "stop_sup() {\n%s}\n%s", STOP_SUPERVISOR_SH, (const char *)b.data);
	buf_fini(&b);
	struct sshc_result r;
	char kind[16] = "?";
	if (!rc)
		rc = script(n, step, (const char *)full.data, &r);
	buf_fini(&full);
	if (rc < 0)
		return rc;
	field(r.out, "kind", kind, sizeof(kind));
	sshc_result_fini(&r);
	n->done = 0;
	report(n, step, true, "stopped and removed (%s service), binary and %s", kind, n->cfg.config_dir);
	return 0;
}

int sshc_node_rollback(struct sshc_node *n)
{
	static const char step[] = "rollback";
	int first = 0, rc;
	if ((n->done & SSHC_DONE_STARTED) && (rc = stop_service(n, step)) < 0 && !first)
		first = rc;
	if ((n->done & SSHC_DONE_SERVICE) && (rc = script(n, step, UNINSTALL_SERVICE_SH, NULL)) < 0 && !first)
		first = rc;
	if ((n->done & SSHC_DONE_CONFIG_DIR) && (rc = script(n, step, "rm -rf \"$CONF\"\n", NULL)) < 0 && !first)
		first = rc;
	else if (!(n->done & SSHC_DONE_CONFIG_DIR) && (n->done & SSHC_DONE_CERTS) &&
		 (rc = script(n, step, "rm -f \"$CONF/tls.crt\" \"$CONF/ca.crt\"\n", NULL)) < 0 && !first)
		first = rc;
	if ((n->done & SSHC_DONE_BINARY) && (rc = script(n, step, "rm -f \"$BIN\"\n", NULL)) < 0 && !first)
		first = rc;
	if (!first) {
		n->done = 0;
		report(n, step, true, "partial install undone");
	}
	return first;
}
