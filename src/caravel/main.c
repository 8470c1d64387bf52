/* caravel: the PharosVPN client for Linux. Commands come from the table
 * below and the usage is generated from it. The tunnel itself is libcaravel
 * (caravel.h); this program adds the state directory (store.c) and the
 * Linux host side of `up` (daemon.c: routes, DNS, kill switch). */
#include <errno.h>
#include <jansson.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <termios.h>
#include <unistd.h>

#include <sodium.h>

#include "caravel/caravel.h"
#include "caravel/daemon.h"
#include "caravel/store.h"
#include "lib/buf.h"
#include "lib/enc.h"
#include "lib/fileio.h"
#include "lib/mem.h"
#include "lib/text.h"

#define FILE_MAX (1u << 20)
#define PASSWORD_MAX 1024

struct command {
	const char *name;
	int (*fn)(int argc, char **argv);
	const char *args;
	const char *help;
};

static int cmd_init(int argc, char **argv);
static int cmd_import(int argc, char **argv);
static int cmd_list(int argc, char **argv);
static int cmd_inspect(int argc, char **argv);
static int cmd_rm(int argc, char **argv);
static int cmd_up(int argc, char **argv);
static int cmd_down(int argc, char **argv);
static int cmd_status(int argc, char **argv);
static int cmd_version(int argc, char **argv);
static int cmd_help(int argc, char **argv);

static const struct command commands[] = {
	{ "init", cmd_init, "[--name NAME]",
	  "create this device's AmneziaWG and encryption keys; print the device request for `cox devices add`" },
	{ "import", cmd_import, "FILE [--name NAME] [--password-stdin]",
	  "verify a .pharos file against the fleet's pinned signing key, open it and store it" },
	{ "list", cmd_list, "[--json]", "list stored profiles" },
	{ "inspect", cmd_inspect, "NAME", "show a stored profile (keys hidden)" },
	{ "rm", cmd_rm, "NAME", "remove a stored profile" },
	{ "up", cmd_up, "NAME [--node ID] [--no-default-route] [--no-kill-switch] [--interface IF] [--wait SECONDS]",
	  "bring the tunnel up in the background (root); returns once it is up" },
	{ "down", cmd_down, "", "take the tunnel down and undo routes, DNS and kill switch" },
	{ "status", cmd_status, "[--json]", "show the running tunnel" },
	{ "version", cmd_version, "", "print the version" },
	{ "help", cmd_help, "[COMMAND]", "show this help, or one command's usage" },
};
#define N_COMMANDS (sizeof(commands) / sizeof(commands[0]))

static const struct command *find(const char *name)
{
	for (size_t i = 0; i < N_COMMANDS; i++)
		if (!strcmp(commands[i].name, name))
			return &commands[i];
	return NULL;
}

static void usage(FILE *f)
{
	fprintf(f, "Usage: caravel COMMAND [ARGS]\n\nCommands:\n");
	for (size_t i = 0; i < N_COMMANDS; i++)
		fprintf(f, "  %-8s %s\n           %s\n", commands[i].name, commands[i].args, commands[i].help);
	fprintf(f, "\nState: $CARAVEL_HOME (default %s); run state: $CARAVEL_RUN (default %s).\n",
	        CARAVEL_STORE_DEFAULT_HOME, CARAVEL_DEFAULT_RUN);
}

static const char *q(char *buf, const char *s)
{
	return text_quote(buf, 64, s, strlen(s));
}

/* Options of one command: flags and options with a value. */
struct opt {
	const char *name;
	bool has_value;
	const char **value; /* has_value */
	bool *flag;         /* !has_value */
};

/* Parses argv[1..]; positional arguments go to pos (at most npos).
 * Prints the error (quoting the input) and returns -1 on a mistake. */
static int parse_opts(const char *cmd, int argc, char **argv, const struct opt *opts, size_t nopts,
                      const char **pos, size_t npos, size_t need)
{
	char qb[TEXT_QUOTE_BUF(64)];
	size_t got = 0;
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		if (a[0] == '-' && a[1] == '-') {
			const struct opt *o = NULL;
			for (size_t k = 0; k < nopts; k++)
				if (!strcmp(opts[k].name, a))
					o = &opts[k];
			if (!o) {
				fprintf(stderr, "caravel %s: unknown option %s (valid:", cmd, q(qb, a));
				for (size_t k = 0; k < nopts; k++)
					fprintf(stderr, " %s", opts[k].name);
				fprintf(stderr, "%s)\n", nopts ? "" : " none");
				return -1;
			}
			if (o->has_value) {
				if (i + 1 >= argc) {
					fprintf(stderr, "caravel %s: %s needs a value\n", cmd, a);
					return -1;
				}
				*o->value = argv[++i];
			} else {
				*o->flag = true;
			}
		} else if (got < npos) {
			pos[got++] = a;
		} else {
			fprintf(stderr, "caravel %s: unexpected argument %s (usage: caravel %s %s)\n", cmd, q(qb, a), cmd,
			        find(cmd)->args);
			return -1;
		}
	}
	if (got < need) {
		fprintf(stderr, "caravel %s: missing argument (usage: caravel %s %s)\n", cmd, cmd, find(cmd)->args);
		return -1;
	}
	return 0;
}

static int check_name(const char *cmd, const char *what, const char *name)
{
	char qb[TEXT_QUOTE_BUF(64)];
	if (caravel_store_name_ok(name))
		return 0;
	fprintf(stderr, "caravel %s: %s %s: expected 1..64 of [A-Za-z0-9._-], not starting with '.'\n", cmd, what,
	        q(qb, name));
	return -1;
}

static int print_request(const struct caravel_keys *k)
{
	uint8_t awg_pub[32], enc_pub[32];
	char line[256];
	int rc = caravel_public_key(k->awg_sk, awg_pub);
	if (rc == 0)
		rc = caravel_public_key(k->enc_sk, enc_pub);
	if (rc == 0)
		rc = caravel_device_request(awg_pub, enc_pub, k->name, line, sizeof(line));
	if (rc < 0) {
		fprintf(stderr, "caravel init: formatting the device request: %s\n", caravel_strerror(rc));
		return 1;
	}
	printf("%s\n", line);
	return 0;
}

static int cmd_init(int argc, char **argv)
{
	const char *name = NULL;
	char host[65] = "";
	const struct opt opts[] = { { "--name", true, &name, NULL } };
	if (parse_opts("init", argc, argv, opts, 1, NULL, 0, 0) < 0)
		return 2;
	if (!name) {
		gethostname(host, sizeof(host) - 1);
		name = caravel_store_name_ok(host) ? host : "";
	} else if (check_name("init", "--name", name) < 0) {
		return 2;
	}
	const char *home = caravel_store_home();
	struct caravel_keys k;
	int rc = caravel_store_keys_load(home, &k);
	if (rc == 0) {
		fprintf(stderr, "caravel init: %s/device.key exists; its device request is:\n", home);
		rc = print_request(&k);
		sodium_memzero(&k, sizeof(k));
		return rc;
	}
	memset(&k, 0, sizeof(k));
	snprintf(k.name, sizeof(k.name), "%s", name);
	if ((rc = caravel_keypair_generate(k.awg_sk, NULL)) == 0 && (rc = caravel_keypair_generate(k.enc_sk, NULL)) == 0)
		rc = caravel_store_keys_save(home, &k);
	if (rc < 0) {
		fprintf(stderr, "caravel init: %s/device.key: %s\n", home, caravel_strerror(rc));
		sodium_memzero(&k, sizeof(k));
		return 1;
	}
	fprintf(stderr, "caravel: device keys created in %s/device.key (0600). Give this line to your operator "
	                "(cox devices add USER --request ...):\n", home);
	rc = print_request(&k);
	sodium_memzero(&k, sizeof(k));
	return rc;
}

struct pin_ctx {
	const char *home;
};

static int pin_lookup(void *ctx, const char *fleet_id, uint8_t key[CARAVEL_KEY_LEN])
{
	const struct pin_ctx *p = ctx;
	return caravel_store_pin_get(p->home, fleet_id, key);
}

/* One line of password: from stdin, or typed at the terminal without echo. */
static int read_password(bool from_stdin, char *out, size_t cap)
{
	FILE *f = stdin;
	struct termios old, noecho;
	bool tty = false;
	if (!from_stdin) {
		if (!(f = fopen("/dev/tty", "r+e")))
			return -ENOTTY;
		fprintf(f, "Password for this profile: ");
		fflush(f);
		if (tcgetattr(fileno(f), &old) == 0) {
			noecho = old;
			noecho.c_lflag &= ~(tcflag_t)ECHO;
			tty = tcsetattr(fileno(f), TCSAFLUSH, &noecho) == 0;
		}
	}
	int rc = fgets(out, (int)cap, f) ? 0 : -EIO;
	if (tty) {
		tcsetattr(fileno(f), TCSAFLUSH, &old);
		fputc('\n', f);
	}
	if (f != stdin)
		fclose(f);
	if (rc == 0)
		out[strcspn(out, "\r\n")] = '\0';
	return rc;
}

static void default_name(const caravel_profile *p, char *out, size_t cap)
{
	const char *cands[] = { caravel_profile_fleet_name(p), caravel_profile_fleet_id(p) };
	for (size_t i = 0; i < 2; i++) {
		snprintf(out, cap, "%s", cands[i]);
		for (char *c = out; *c; c++)
			if (*c == ' ')
				*c = '-';
		if (caravel_store_name_ok(out))
			return;
	}
	snprintf(out, cap, "profile");
}

static int cmd_import(int argc, char **argv)
{
	const char *pos[1], *name = NULL;
	bool pw_stdin = false;
	char qb[TEXT_QUOTE_BUF(64)], err[1024] = "", pname[CARAVEL_STORE_NAME_MAX + 1], password[PASSWORD_MAX];
	const struct opt opts[] = { { "--name", true, &name, NULL }, { "--password-stdin", false, NULL, &pw_stdin } };
	if (parse_opts("import", argc, argv, opts, 2, pos, 1, 1) < 0)
		return 2;
	if (name && check_name("import", "--name", name) < 0)
		return 2;
	const char *home = caravel_store_home();
	struct caravel_keys k;
	uint8_t *file = NULL;
	size_t flen = 0;
	caravel_profile *p = NULL;
	char *json = NULL;
	size_t jlen = 0;
	int ret = 1;
	enum caravel_enc enc;
	password[0] = '\0';
	int rc = caravel_store_keys_load(home, &k);
	if (rc < 0) {
		fprintf(stderr, "caravel import: no device keys in %s (%s): run `caravel init` first\n", home,
		        caravel_strerror(rc));
		return 1;
	}
	if ((rc = fileio_read_all(pos[0], FILE_MAX, &file, &flen)) < 0) {
		fprintf(stderr, "caravel import: %s: %s\n", q(qb, pos[0]), caravel_strerror(rc));
		goto out;
	}
	if ((rc = caravel_file_enc(file, flen, &enc, err, sizeof(err))) < 0) {
		fprintf(stderr, "caravel import: %s is not a .pharos profile: %s\n", q(qb, pos[0]), err);
		goto out;
	}
	if (enc == CARAVEL_ENC_PASSWORD && (rc = read_password(pw_stdin, password, sizeof(password))) < 0) {
		fprintf(stderr, "caravel import: the file is password-protected and no password could be read (%s); "
		                "use --password-stdin\n", caravel_strerror(rc));
		goto out;
	}
	struct pin_ctx pc = { .home = home };
	struct caravel_open_args oa = { .size = sizeof(oa), .device_enc_sk = k.enc_sk,
		                        .password = enc == CARAVEL_ENC_PASSWORD ? password : NULL,
		                        .pin_lookup = pin_lookup, .pin_ctx = &pc };
	if ((rc = caravel_profile_open(file, flen, &oa, &p, err, sizeof(err))) < 0) {
		fprintf(stderr, "caravel import: %s refused: %s\n", q(qb, pos[0]), *err ? err : caravel_strerror(rc));
		goto out;
	}
	if (name)
		snprintf(pname, sizeof(pname), "%s", name);
	else
		default_name(p, pname, sizeof(pname));
	/* A name is one fleet's: re-importing that fleet's profile updates it. */
	char *old = NULL;
	size_t olen = 0;
	if (caravel_store_profile_load(home, pname, &old, &olen) == 0) {
		caravel_profile *op = NULL;
		bool same = caravel_profile_load(old, olen, &op, err, sizeof(err)) == 0 &&
		            !strcmp(caravel_profile_fleet_id(op), caravel_profile_fleet_id(p));
		caravel_profile_free(op);
		mem_free_secret(old, olen + 1);
		if (!same) {
			fprintf(stderr, "caravel import: a profile named %s exists for another fleet; choose --name\n",
			        q(qb, pname));
			goto out;
		}
	}
	uint8_t signer[CARAVEL_KEY_LEN], pinned[CARAVEL_KEY_LEN];
	caravel_profile_signer(p, signer);
	bool first = caravel_store_pin_get(home, caravel_profile_fleet_id(p), pinned) == 0;
	if ((rc = caravel_profile_json(p, &json, &jlen)) < 0 ||
	    (rc = caravel_store_profile_save(home, pname, json, jlen)) < 0 ||
	    (first && (rc = caravel_store_pin_set(home, caravel_profile_fleet_id(p), signer)) < 0)) {
		fprintf(stderr, "caravel import: storing %s: %s\n", q(qb, pname), caravel_strerror(rc));
		goto out;
	}
	if (first) {
		char b64[ENC_KEY_BASE64_LEN];
		enc_key_to_base64(b64, signer);
		printf("pinned the profile-signing key of fleet %s: %s (first import; later files must match)\n",
		       caravel_profile_fleet_id(p), b64);
	}
	printf("imported %s: fleet %s, device %s, revision %llu", pname, caravel_profile_fleet_id(p),
	       caravel_profile_device_name(p), (unsigned long long)caravel_profile_revision(p));
	if (caravel_profile_skipped(p))
		printf(", %zu protocol entr%s of unknown types skipped", caravel_profile_skipped(p),
		       caravel_profile_skipped(p) == 1 ? "y" : "ies");
	printf("\n");
	ret = 0;
out:
	sodium_memzero(password, sizeof(password));
	sodium_memzero(&k, sizeof(k));
	if (json)
		caravel_free_secret(json, jlen + 1);
	caravel_profile_free(p);
	mem_free(file);
	return ret;
}

/* Loads a stored profile by name; prints the error. */
static int load_named(const char *cmd, const char *name, caravel_profile **p)
{
	char *json = NULL, err[512], qb[TEXT_QUOTE_BUF(64)];
	size_t len = 0;
	*p = NULL;
	if (check_name(cmd, "profile", name) < 0)
		return -EINVAL;
	int rc = caravel_store_profile_load(caravel_store_home(), name, &json, &len);
	if (rc == -ENOENT) {
		fprintf(stderr, "caravel %s: no profile named %s (see `caravel list`)\n", cmd, q(qb, name));
		return rc;
	}
	if (rc == 0)
		rc = caravel_profile_load(json, len, p, err, sizeof(err));
	else
		snprintf(err, sizeof(err), "%s", caravel_strerror(rc));
	if (json)
		mem_free_secret(json, len + 1);
	if (rc < 0)
		fprintf(stderr, "caravel %s: profile %s: %s\n", cmd, q(qb, name), err);
	return rc;
}

static int cmd_list(int argc, char **argv)
{
	bool as_json = false;
	const struct opt opts[] = { { "--json", false, NULL, &as_json } };
	if (parse_opts("list", argc, argv, opts, 1, NULL, 0, 0) < 0)
		return 2;
	char **names = NULL;
	size_t n = 0;
	int rc = caravel_store_profile_names(caravel_store_home(), &names, &n);
	if (rc < 0) {
		fprintf(stderr, "caravel list: %s/profiles: %s\n", caravel_store_home(), caravel_strerror(rc));
		return 1;
	}
	json_t *arr = json_array();
	if (!as_json && n)
		printf("%-20s %-20s %-20s %5s %9s\n", "NAME", "FLEET", "DEVICE", "NODES", "REVISION");
	for (size_t i = 0; i < n; i++) {
		caravel_profile *p = NULL;
		struct caravel_profile_info info = { .size = sizeof(info) };
		if (load_named("list", names[i], &p) < 0 || caravel_profile_info(p, &info) < 0) {
			caravel_profile_free(p);
			continue;
		}
		if (as_json)
			json_array_append_new(arr, json_pack("{s:s, s:s, s:s, s:s, s:I, s:I}", "name", names[i], "fleet_id",
			                                     caravel_profile_fleet_id(p), "fleet_name",
			                                     caravel_profile_fleet_name(p), "device",
			                                     caravel_profile_device_name(p), "nodes",
			                                     (json_int_t)info.n_nodes, "revision",
			                                     (json_int_t)caravel_profile_revision(p)));
		else
			printf("%-20s %-20s %-20s %5zu %9llu\n", names[i], caravel_profile_fleet_id(p),
			       caravel_profile_device_name(p), info.n_nodes,
			       (unsigned long long)caravel_profile_revision(p));
		caravel_profile_free(p);
	}
	if (as_json) {
		char *s = json_dumps(arr, JSON_INDENT(2));
		printf("%s\n", s ? s : "[]");
		free(s);
	} else if (!n) {
		printf("no profiles (import one with `caravel import FILE`)\n");
	}
	json_decref(arr);
	caravel_store_names_free(names, n);
	return 0;
}

static int cmd_inspect(int argc, char **argv)
{
	const char *pos[1];
	if (parse_opts("inspect", argc, argv, NULL, 0, pos, 1, 1) < 0 || check_name("inspect", "profile", pos[0]) < 0)
		return 2;
	caravel_profile *p = NULL;
	if (load_named("inspect", pos[0], &p) < 0)
		return 1;
	struct caravel_profile_info info = { .size = sizeof(info) };
	if (caravel_profile_info(p, &info) < 0) {
		caravel_profile_free(p);
		return 1;
	}
	printf("profile:   %s\nfleet:     %s (%s)\ndevice:    %s\nuser:      %s\nrevision:  %llu\n", pos[0],
	       caravel_profile_fleet_id(p), caravel_profile_fleet_name(p), caravel_profile_device_name(p),
	       caravel_profile_user(p), (unsigned long long)caravel_profile_revision(p));
	printf("addresses: %s%s%s\n", info.address4, *info.address6 ? " " : "", info.address6);
	printf("dns:      ");
	for (size_t i = 0; i < info.n_dns; i++)
		printf(" %s", info.dns[i]);
	printf("%s\nrotation:  ", info.n_dns ? "" : " (none)");
	if (info.rotation_enabled)
		printf("every %us ± %us\n", info.rotation_interval, info.rotation_jitter);
	else
		printf("off\n");
	for (size_t i = 0; i < info.n_nodes; i++) {
		struct caravel_node_info ni = { .size = sizeof(ni) };
		if (caravel_profile_node(p, i, &ni) < 0)
			continue;
		printf("node %s", ni.id);
		if (*ni.name || *ni.region)
			printf(" (%s%s%s)", ni.name, *ni.name && *ni.region ? ", " : "", ni.region);
		printf(": ports %u-%u, mtu %u%s\n  entries:", ni.port_lo, ni.port_hi, ni.mtu,
		       ni.usable ? "" : " (no protocol this client speaks)");
		for (size_t j = 0; j < ni.n_endpoints; j++) {
			char a[64];
			if (caravel_profile_node_endpoint(p, i, j, a, sizeof(a)) == 0)
				printf(" %s", a);
		}
		printf("\n");
	}
	printf("keys:      (hidden)\n");
	caravel_profile_free(p);
	return 0;
}

static int cmd_rm(int argc, char **argv)
{
	const char *pos[1];
	char qb[TEXT_QUOTE_BUF(64)];
	if (parse_opts("rm", argc, argv, NULL, 0, pos, 1, 1) < 0)
		return 2;
	if (check_name("rm", "profile", pos[0]) < 0)
		return 2;
	int rc = caravel_store_profile_remove(caravel_store_home(), pos[0]);
	if (rc < 0) {
		fprintf(stderr, "caravel rm: %s: %s\n", q(qb, pos[0]),
		        rc == -ENOENT ? "no such profile (see `caravel list`)" : caravel_strerror(rc));
		return 1;
	}
	printf("removed %s\n", pos[0]);
	return 0;
}

static bool daemon_running(const char *rundir)
{
	struct buf b;
	buf_init(&b, 1 << 16);
	int rc = caravel_daemon_call(rundir, "status", &b);
	buf_fini(&b);
	return rc == 0;
}

static int cmd_up(int argc, char **argv)
{
	const char *pos[1], *node = NULL, *ifname = CARAVEL_DEFAULT_IFNAME, *wait = NULL;
	bool no_route = false, no_ks = false;
	char qb[TEXT_QUOTE_BUF(64)], err[1024];
	const struct opt opts[] = {
		{ "--node", true, &node, NULL },
		{ "--no-default-route", false, NULL, &no_route },
		{ "--no-kill-switch", false, NULL, &no_ks },
		{ "--interface", true, &ifname, NULL },
		{ "--wait", true, &wait, NULL },
	};
	if (parse_opts("up", argc, argv, opts, 5, pos, 1, 1) < 0 || check_name("up", "profile", pos[0]) < 0)
		return 2;
	uint32_t wait_ms = 20000;
	if (wait) {
		char *end;
		unsigned long v = strtoul(wait, &end, 10);
		if (*wait < '0' || *wait > '9' || *end || v < 1 || v > 3600) {
			fprintf(stderr, "caravel up: --wait %s: expected seconds, 1..3600\n", q(qb, wait));
			return 2;
		}
		wait_ms = (uint32_t)v * 1000;
	}
	if (strlen(ifname) == 0 || strlen(ifname) >= CARAVEL_IFNAME_MAX || !caravel_store_name_ok(ifname)) {
		fprintf(stderr, "caravel up: --interface %s: expected 1..15 of [A-Za-z0-9._-]\n", q(qb, ifname));
		return 2;
	}
	if (geteuid() != 0) {
		fprintf(stderr, "caravel up: needs root (a TUN device, routes, DNS and nftables)\n");
		return 1;
	}
	const char *rundir = caravel_daemon_rundir();
	if (daemon_running(rundir)) {
		fprintf(stderr, "caravel up: a tunnel is already up (`caravel status`; `caravel down` first)\n");
		return 1;
	}
	caravel_profile *p = NULL;
	struct caravel_keys k;
	if (load_named("up", pos[0], &p) < 0)
		return 1;
	int rc = caravel_store_keys_load(caravel_store_home(), &k);
	if (rc < 0) {
		fprintf(stderr, "caravel up: device keys: %s (run `caravel init`)\n", caravel_strerror(rc));
		caravel_profile_free(p);
		return 1;
	}
	const char *hs = getenv("CARAVEL_HANDSHAKE_TIMEOUT_MS");
	struct caravel_up_opts o = {
		.rundir = rundir, .name = pos[0], .profile = p, .awg_sk = k.awg_sk, .node_id = node, .ifname = ifname,
		.default_route = !no_route, .kill_switch = !no_ks, .wait_ms = wait_ms,
		.handshake_timeout_ms = hs ? (uint32_t)strtoul(hs, NULL, 10) : 0,
	};
	rc = caravel_daemon_up(&o, err, sizeof(err));
	sodium_memzero(&k, sizeof(k));
	caravel_profile_free(p);
	if (rc == 0) {
		printf("%s\n", err);
		return 0;
	}
	fprintf(stderr, "caravel up: %s\n", err);
	return rc == -ETIMEDOUT ? 3 : 1;
}

static int cmd_down(int argc, char **argv)
{
	char err[512] = "";
	if (parse_opts("down", argc, argv, NULL, 0, NULL, 0, 0) < 0)
		return 2;
	const char *rundir = caravel_daemon_rundir();
	struct buf b;
	buf_init(&b, 1 << 16);
	int rc = caravel_daemon_call(rundir, "down", &b);
	bool ok = rc == 0 && b.len >= 2 && !memcmp(b.data, "ok", 2);
	buf_fini(&b);
	if (ok) {
		printf("down\n");
		return 0;
	}
	/* No daemon (it crashed or was killed): undo what it left behind. */
	if (geteuid() != 0) {
		fprintf(stderr, "caravel down: no tunnel answers in %s, and cleaning up needs root\n", rundir);
		return 1;
	}
	if ((rc = caravel_daemon_cleanup(rundir, err, sizeof(err))) < 0) {
		fprintf(stderr, "caravel down: %s\n", err);
		return 1;
	}
	printf("no tunnel was running; removed any routes, DNS change and kill switch left behind\n");
	return 0;
}

static int cmd_status(int argc, char **argv)
{
	bool as_json = false;
	const struct opt opts[] = { { "--json", false, NULL, &as_json } };
	if (parse_opts("status", argc, argv, opts, 1, NULL, 0, 0) < 0)
		return 2;
	struct buf b;
	buf_init(&b, 1 << 16);
	int rc = caravel_daemon_call(caravel_daemon_rundir(), "status", &b);
	if (rc < 0 || !b.len) {
		buf_fini(&b);
		if (as_json)
			printf("{\"state\": \"down\"}\n");
		else
			printf("down\n");
		return 0;
	}
	json_error_t je;
	json_t *j = json_loadb((const char *)b.data, b.len, 0, &je);
	buf_fini(&b);
	if (!j) {
		fprintf(stderr, "caravel status: the tunnel process answered something that is not JSON: %s\n", je.text);
		return 1;
	}
	if (as_json) {
		char *s = json_dumps(j, JSON_INDENT(2));
		printf("%s\n", s ? s : "{}");
		free(s);
	} else {
		long long age = json_integer_value(json_object_get(j, "handshake_age_ms"));
		printf("profile:    %s\nstate:      %s\ninterface:  %s\nnode:       %s\nendpoint:   %s\n",
		       json_string_value(json_object_get(j, "profile")), json_string_value(json_object_get(j, "state")),
		       json_string_value(json_object_get(j, "interface")), json_string_value(json_object_get(j, "node")),
		       json_string_value(json_object_get(j, "endpoint")));
		if (age >= 0)
			printf("handshake:  %.1f s ago\n", (double)age / 1000.0);
		else
			printf("handshake:  none yet\n");
		printf("transfer:   %lld B received, %lld B sent\nrotations:  %lld, failovers: %lld\n"
		       "kill switch: %s, default route: %s\n",
		       (long long)json_integer_value(json_object_get(j, "rx_bytes")),
		       (long long)json_integer_value(json_object_get(j, "tx_bytes")),
		       (long long)json_integer_value(json_object_get(j, "rotations")),
		       (long long)json_integer_value(json_object_get(j, "failovers")),
		       json_is_true(json_object_get(j, "kill_switch")) ? "on" : "off",
		       json_is_true(json_object_get(j, "default_route")) ? "on" : "off");
	}
	json_decref(j);
	return 0;
}

static int cmd_version(int argc, char **argv)
{
	printf("caravel %s (libcaravel API %d)\n", caravel_version(), caravel_api_version());
	return 0;
}

static int cmd_help(int argc, char **argv)
{
	char qb[TEXT_QUOTE_BUF(64)];
	if (argc < 2) {
		usage(stdout);
		return 0;
	}
	const struct command *c = find(argv[1]);
	if (!c) {
		fprintf(stderr, "caravel help: no command %s\n", q(qb, argv[1]));
		usage(stderr);
		return 2;
	}
	printf("Usage: caravel %s %s\n  %s\n", c->name, c->args, c->help);
	return 0;
}

int main(int argc, char **argv)
{
	char qb[TEXT_QUOTE_BUF(64)];
	if (caravel_api_version() != CARAVEL_API_VERSION) {
		fprintf(stderr, "caravel: libcaravel API %d, built for %d\n", caravel_api_version(), CARAVEL_API_VERSION);
		return 1;
	}
	if (argc < 2) {
		usage(stderr);
		return 2;
	}
	if (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help"))
		return cmd_help(1, argv);
	const struct command *c = find(argv[1]);
	if (!c) {
		fprintf(stderr, "caravel: unknown command %s\n\n", q(qb, argv[1]));
		usage(stderr);
		return 2;
	}
	if (argc == 3 && (!strcmp(argv[2], "-h") || !strcmp(argv[2], "--help"))) {
		char *hv[] = { "help", argv[1], NULL };
		return cmd_help(2, hv);
	}
	umask(077);
	return c->fn(argc - 1, argv + 1);
}
