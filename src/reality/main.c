/* pharos-reality: VLESS over REALITY, server and client. Commands from a
 * table, usage from the table.
 *   pharos-reality genkey [-i PRIVATE_KEY]
 *   pharos-reality server --config FILE
 *   pharos-reality client (--config FILE | --link 'vless://...') [--listen ADDR:PORT]
 *   pharos-reality version */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "lib/fileio.h"
#include "lib/log.h"
#include "lib/mem.h"
#include "reality/client_main.h"
#include "reality/reality_auth.h"
#include "reality/server_conf.h"
#include "reality/server_io.h"

#define CONFIG_MAX (4 * 1024 * 1024)

static int cmd_genkey(int argc, char **argv);
static int cmd_server(int argc, char **argv);
static int cmd_client(int argc, char **argv);
static int cmd_version(int argc, char **argv);

static const struct {
	const char *name;
	int (*fn)(int argc, char **argv);
	const char *help;
} commands[] = {
	{"genkey", cmd_genkey,
	 "[-i PRIVATE_KEY]: print a REALITY X25519 key pair (base64url, as `xray x25519`); with -i, the public key of "
	 "that private key"},
	{"server", cmd_server, "--config FILE: serve VLESS over REALITY (see docs/reality-server.md for the JSON)"},
	{"client", cmd_client,
	 "(--config FILE | --link 'vless://...') [--listen ADDR:PORT]: local SOCKS5 / HTTP CONNECT proxy"},
	{"version", cmd_version, ": print the version"},
};

static int usage(FILE *f)
{
	fprintf(f, "Usage: pharos-reality COMMAND [OPTIONS]\n");
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		fprintf(f, "  %s %s\n", commands[i].name, commands[i].help);
	return f == stderr ? 1 : 0;
}

static int cmd_genkey(int argc, char **argv)
{
	uint8_t priv[REALITY_KEY_LEN], pub[REALITY_KEY_LEN];
	char text[REALITY_KEY_B64_LEN];
	int rc;
	if (argc == 3 && !strcmp(argv[1], "-i")) {
		rc = reality_auth_key_from_text(priv, argv[2]);
		if (rc < 0) {
			fprintf(stderr, "pharos-reality genkey: -i wants a private key of 43 base64url characters\n");
			return 1;
		}
		/* clamp as xray does, so the printed key is the one in use */
		priv[0] &= 248;
		priv[31] &= 127;
		priv[31] |= 64;
		rc = reality_auth_x25519_public(pub, priv);
	} else if (argc == 1) {
		rc = reality_auth_x25519_keypair(priv, pub);
	} else {
		fprintf(stderr, "pharos-reality genkey: unexpected argument \"%s\" (valid: -i PRIVATE_KEY)\n", argv[1]);
		return 1;
	}
	if (rc < 0) {
		fprintf(stderr, "pharos-reality genkey: %s\n", err_str(rc));
		return 1;
	}
	reality_auth_key_to_text(text, priv);
	printf("PrivateKey: %s\n", text);
	reality_auth_key_to_text(text, pub);
	printf("Password (PublicKey): %s\n", text);
	sodium_memzero(priv, sizeof(priv));
	sodium_memzero(text, sizeof(text));
	return 0;
}

/* Set by the signal handler only; read by the accept loop. */
static volatile sig_atomic_t stop_flag;

static void on_signal(int sig)
{
	(void)sig;
	stop_flag = 1;
}

static int cmd_server(int argc, char **argv)
{
	const char *path = NULL;
	uint8_t *text = NULL;
	size_t len = 0;
	char err[512];
	enum log_level level;
	int rc;
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--config") && i + 1 < argc) {
			path = argv[++i];
		} else {
			fprintf(stderr, "pharos-reality server: unknown option \"%s\" (valid: --config FILE)\n", argv[i]);
			return 1;
		}
	}
	if (!path) {
		fprintf(stderr, "pharos-reality server: --config FILE is required\n");
		return 1;
	}
	rc = fileio_read_all(path, CONFIG_MAX, &text, &len);
	if (rc < 0) {
		fprintf(stderr, "pharos-reality server: cannot read %s: %s\n", path, err_str(rc));
		return 1;
	}
	struct server_io_cfg *cfg = calloc(1, sizeof(*cfg));
	if (!cfg) {
		mem_free_secret(text, len + 1);
		return 1;
	}
	rc = server_conf_parse((const char *)text, len, cfg, &level, err, sizeof(err));
	mem_free_secret(text, len + 1);
	if (rc < 0) {
		fprintf(stderr, "pharos-reality server: %s: %s\n", path, err);
		free(cfg);
		return 1;
	}
	log_setup("pharos-reality", level, false);
	rc = server_io_resolve_dest(cfg);
	if (rc < 0) {
		fprintf(stderr, "pharos-reality server: %s: dest \"%s\" does not resolve\n", path, cfg->dest_host);
		free(cfg);
		return 1;
	}
	rc = reality_server_cfg_keys(&cfg->core);
	cfg->core.replay = reality_replay_new();
	if (rc == 0 && !cfg->core.replay)
		rc = -ENOMEM;
	if (rc == 0) {
		struct sigaction sa = {.sa_handler = on_signal};
		sigaction(SIGTERM, &sa, NULL);
		sigaction(SIGINT, &sa, NULL);
		signal(SIGPIPE, SIG_IGN);
		char where[ENDPOINT_STRLEN];
		if (endpoint_format(&cfg->listen, where, sizeof(where)) < 0)
			snprintf(where, sizeof(where), "?");
		server_io_measure_dest(cfg);
		log_info("listening on %s, %zu user(s)", where, cfg->core.users.n);
		rc = server_io_run(cfg, &stop_flag);
	}
	if (rc == -EBUSY) {
		/* connections still running use cfg: leave it to the exit */
		log_info("stopping with connections open");
		return 0;
	}
	if (rc < 0)
		fprintf(stderr, "pharos-reality server: %s\n", err_str(rc));
	reality_replay_free(cfg->core.replay);
	sodium_memzero(cfg, sizeof(*cfg));
	free(cfg);
	return rc < 0 ? 1 : 0;
}

static int cmd_client(int argc, char **argv)
{
	return reality_client_main(argc, argv);
}

static int cmd_version(int argc, char **argv)
{
	(void)argc;
	(void)argv;
	printf("pharos-reality %s\n", PHAROS_VERSION);
	return 0;
}

int main(int argc, char **argv)
{
	if (sodium_init() < 0) {
		fprintf(stderr, "pharos-reality: libsodium failed to initialise\n");
		return 1;
	}
	if (argc < 2)
		return usage(stderr);
	if (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help") || !strcmp(argv[1], "help"))
		return usage(stdout);
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		if (!strcmp(argv[1], commands[i].name))
			return commands[i].fn(argc - 1, argv + 1);
	fprintf(stderr, "pharos-reality: unknown command \"%s\"\n", argv[1]);
	return usage(stderr);
}
