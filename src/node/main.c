/* pharos-node: the node agent. Commands from a table, usage from the table.
 *   pharos-node gen-csr --config-dir DIR [--name NAME]
 *   pharos-node run --config-dir DIR [--control-listen ADDR:PORT] [--interface IF]
 *                   [--port P | --ports LO-HI] [--route CIDR]... [--user USER] [--run-dir DIR]
 *   pharos-node version */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "lib/fileio.h"
#include "lib/log.h"
#include "lib/mem.h"
#include "node/agent.h"
#include "pki/pki.h"

static int cmd_gen_csr(int argc, char **argv);
static int cmd_run(int argc, char **argv);
static int cmd_version(int argc, char **argv);

static const struct {
	const char *name;
	int (*fn)(int argc, char **argv);
	const char *help;
} commands[] = {
	{ "gen-csr", cmd_gen_csr, "--config-dir DIR [--name NAME]: create the TLS key (0600) if absent, print a CSR" },
	{ "run", cmd_run,
	  "--config-dir DIR [--control-listen ADDR:PORT] [--interface IF] [--port P | --ports LO-HI] [--route CIDR]... [--obfuscation on|off] [--user USER] [--run-dir DIR]: serve; "
	  "started as root, the control service runs as USER (default pharos, else nobody) with no capabilities" },
	{ "version", cmd_version, ": print the version" },
};

static int usage(FILE *f)
{
	fprintf(f, "Usage: pharos-node COMMAND [OPTIONS]\n");
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		fprintf(f, "  %s %s\n", commands[i].name, commands[i].help);
	return f == stderr ? 1 : 0;
}

static const char *opt_value(int argc, char **argv, int *i)
{
	if (*i + 1 >= argc) {
		fprintf(stderr, "pharos-node: %s needs a value\n", argv[*i]);
		return NULL;
	}
	return argv[++*i];
}

static int cmd_gen_csr(int argc, char **argv)
{
	const char *dir = NULL, *name = NULL;
	char host[256] = "node", path[PATH_MAX];
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--config-dir")) {
			if (!(dir = opt_value(argc, argv, &i)))
				return 1;
		} else if (!strcmp(argv[i], "--name")) {
			if (!(name = opt_value(argc, argv, &i)))
				return 1;
		} else {
			fprintf(stderr, "pharos-node gen-csr: unknown option \"%s\" (valid: --config-dir, --name)\n", argv[i]);
			return 1;
		}
	}
	if (!dir) {
		fprintf(stderr, "pharos-node gen-csr: --config-dir DIR is required\n");
		return 1;
	}
	if (!name) {
		gethostname(host, sizeof(host) - 1);
		name = host;
	}
	int rc = fileio_mkdir_p(dir, 0700);
	EVP_PKEY *key = NULL;
	snprintf(path, sizeof(path), "%s/tls.key", dir);
	if (rc == 0 && (rc = pki_key_load(path, &key)) == -ENOENT && (rc = pki_key_generate(PKI_CURVE_P256, &key)) == 0)
		rc = pki_key_save(path, key);
	uint8_t *pem = NULL;
	size_t len = 0;
	if (rc == 0)
		rc = pki_csr_new(key, name, &pem, &len);
	if (rc == 0)
		fwrite(pem, 1, len, stdout);
	else
		fprintf(stderr, "pharos-node gen-csr: %s: %s\n", path, err_str(rc));
	mem_free(pem);
	EVP_PKEY_free(key);
	return rc == 0 ? 0 : 1;
}

static int parse_port(const char *s, uint16_t *out)
{
	char *end;
	unsigned long v = strtoul(s, &end, 10);
	if (*s < '0' || *s > '9' || *end || v == 0 || v > 65535)
		return -EINVAL;
	*out = (uint16_t)v;
	return 0;
}

static int cmd_run(int argc, char **argv)
{
	struct agent_opts o = { .control_listen = "[::]:8444", .ifname = "awg0", .port = 443, .port_hi = 443,
		                .timer_scale = 1.0 };
	const char *ts = getenv("PHAROS_TIMER_SCALE");
	if (ts)
		o.timer_scale = strtod(ts, NULL);
	for (int i = 1; i < argc; i++) {
		const char *v = NULL;
		if (!strcmp(argv[i], "--config-dir") || !strcmp(argv[i], "--control-listen") ||
		    !strcmp(argv[i], "--interface") || !strcmp(argv[i], "--port") || !strcmp(argv[i], "--ports") ||
		    !strcmp(argv[i], "--route") || !strcmp(argv[i], "--obfuscation") || !strcmp(argv[i], "--user") ||
		    !strcmp(argv[i], "--run-dir")) {
			if (!(v = opt_value(argc, argv, &i)))
				return 1;
		} else {
			fprintf(stderr, "pharos-node run: unknown option \"%s\"\n", argv[i]);
			return usage(stderr);
		}
		const char *k = argv[i - 1];
		if (!strcmp(k, "--config-dir"))
			o.config_dir = v;
		else if (!strcmp(k, "--control-listen"))
			o.control_listen = v;
		else if (!strcmp(k, "--interface"))
			o.ifname = v;
		else if (!strcmp(k, "--user"))
			o.user = v;
		else if (!strcmp(k, "--run-dir"))
			o.run_dir = v;
		else if (!strcmp(k, "--port")) {
			if (parse_port(v, &o.port) < 0) {
				fprintf(stderr, "pharos-node run: --port \"%s\": expected 1..65535\n", v);
				return 1;
			}
			o.port_hi = o.port;
		} else if (!strcmp(k, "--ports")) {
			char lo[8], hi[8];
			if (sscanf(v, "%7[0-9]-%7[0-9]", lo, hi) != 2 || parse_port(lo, &o.port) < 0 ||
			    parse_port(hi, &o.port_hi) < 0 || o.port_hi < o.port || o.port_hi - o.port >= 1024) {
				fprintf(stderr, "pharos-node run: --ports \"%s\": expected LO-HI, at most 1024 ports\n", v);
				return 1;
			}
		} else if (!strcmp(k, "--obfuscation")) {
			if (strcmp(v, "on") && strcmp(v, "off")) {
				fprintf(stderr, "pharos-node run: --obfuscation \"%s\": expected on or off\n", v);
				return 1;
			}
			o.plain = !strcmp(v, "off");
		} else if (!strcmp(k, "--route")) {
			if (o.nroutes == AGENT_MAX_ROUTES || cidr_parse(v, &o.routes[o.nroutes]) < 0) {
				fprintf(stderr, "pharos-node run: --route \"%s\": expected ADDRESS/PREFIX (at most %d)\n", v,
				        AGENT_MAX_ROUTES);
				return 1;
			}
			o.nroutes++;
		}
	}
	if (!o.config_dir) {
		fprintf(stderr, "pharos-node run: --config-dir DIR is required\n");
		return 1;
	}
	if (!o.nroutes && cidr_parse("10.86.0.0/16", &o.routes[o.nroutes++]) < 0)
		return 1;
	enum log_level lvl = LOG_LVL_INFO;
	if (getenv("LOG_LEVEL") && log_level_parse(getenv("LOG_LEVEL"), &lvl) < 0)
		lvl = LOG_LVL_INFO;
	log_setup("pharos-node", lvl, false);
	return agent_run(&o);
}

static int cmd_version(int argc, char **argv)
{
	printf("pharos-node %s\n", PHAROS_VERSION);
	return 0;
}

int main(int argc, char **argv)
{
	if (argc < 2 || !strcmp(argv[1], "help") || !strcmp(argv[1], "--help"))
		return usage(argc < 2 ? stderr : stdout);
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		if (!strcmp(argv[1], commands[i].name))
			return commands[i].fn(argc - 1, argv + 1);
	fprintf(stderr, "pharos-node: unknown command \"%s\"\n", argv[1]);
	return usage(stderr);
}
