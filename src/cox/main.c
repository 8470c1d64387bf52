/* cox: the PharosVPN controller.
 *
 *   cox [--state-dir DIR] <command> [args]
 *
 * The top-level table below names every command group; each group's own
 * table (cmd_*.c) lists its subcommands with their options, and usage text
 * is generated from the tables. --state-dir may appear anywhere; it defaults
 * to $COX_STATE_DIR, then /var/lib/pharos/cox. */
#include <pwd.h>
#include <stdbool.h>
#include <stdio.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cox/cox.h"
#include "lib/log.h"
#include "store/store.h"

#ifndef PHAROS_VERSION
#define PHAROS_VERSION "unknown"
#endif

static int cmd_help(struct cox *c, int argc, char **argv);
static bool leaf_help(const struct cox_cmd *cmd, int argc, char **argv);
static int cmd_version(struct cox *c, int argc, char **argv);

static const struct cox_cmd commands[] = {
	{ "init", cox_cmd_init, "--personal|--enterprise [--state-dir DIR] [--force]",
	  "Creates the state directory, database, CAs, keys and the first admin from a preset" },
	{ "serve", cox_cmd_serve, "[--sweep SECONDS] [--once]",
	  "Runs the controller: pushes changes and reconciles the fleet (listens on no public address)" },
	{ "users", cox_cmd_users, "add|list|rm ...", "Manages users" },
	{ "devices", cox_cmd_devices, "add|import|list|rm|revoke ...", "Manages devices" },
	{ "profile", cox_cmd_profile, "export DEVICE [--out FILE|-] [--enc account|password|none] [--password-stdin]",
	  "Exports a device's sealed .pharos profile" },
	{ "nodes", cox_cmd_nodes, "add|list|status|push|endpoints|policy|update|start|stop|rm ...",
	  "Installs and manages nodes over SSH and gRPC" },
	{ "servers", cox_cmd_servers, "add IP [--user USER] [--port-ssh PORT] (--password | --password-stdin) ...",
	  "Bootstraps a fresh server with a one-time password, then installs it as a node" },
	{ "ssh-key", cox_cmd_ssh_key, "", "Prints the controller's SSH public key as an authorized_keys line" },
	{ "audit", cox_cmd_audit, "[list options] | verify", "Lists or verifies the hash-chained audit log" },
	{ "version", cmd_version, "", "Prints the version" },
	{ "help", cmd_help, "[COMMAND]", "Shows this help, or one command's help" },
};
#define N_COMMANDS (sizeof(commands) / sizeof(commands[0]))

static void usage(FILE *f)
{
	fprintf(f, "Usage: cox [--state-dir DIR] <command> [args]\n\nCommands:\n");
	for (size_t i = 0; i < N_COMMANDS; i++)
		fprintf(f, "  %-8s %s\n           %s\n", commands[i].name, commands[i].args, commands[i].help);
	fprintf(f, "\n`cox <command> --help' lists a command's options.\n"
		   "State directory: --state-dir, else $COX_STATE_DIR, else " COX_DEFAULT_STATE_DIR ".\n");
}

static int cmd_help(struct cox *c, int argc, char **argv)
{
	if (argc < 2) {
		usage(c->out);
		return 0;
	}
	for (size_t i = 0; i < N_COMMANDS; i++) {
		if (!strcmp(argv[1], commands[i].name)) {
			char *av[] = { argv[1], "--help", NULL };
			if (leaf_help(&commands[i], 2, av))
				return 0;
			return commands[i].fn(c, 2, av);
		}
	}
	cox_fail(c, "no command `%s'", argv[1]);
	usage(c->err);
	return 2;
}

/* Commands without subcommands print their table line for --help; groups
 * answer --help themselves, from their own tables. */
static bool leaf_help(const struct cox_cmd *cmd, int argc, char **argv)
{
	static const char *const leaves[] = { "init", "serve", "ssh-key", "version" };
	bool leaf = false;
	for (size_t i = 0; i < sizeof(leaves) / sizeof(leaves[0]); i++)
		leaf |= !strcmp(cmd->name, leaves[i]);
	if (!leaf)
		return false;
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
			printf("Usage: cox %s%s%s\n  %s\n", cmd->name, *cmd->args ? " " : "", cmd->args, cmd->help);
			return true;
		}
	}
	return false;
}

static int cmd_version(struct cox *c, int argc, char **argv)
{
	(void)argc;
	(void)argv;
	fprintf(c->out, "cox %s\n", PHAROS_VERSION);
	return 0;
}

int main(int argc, char **argv)
{
	static struct cox c;
	c.out = stdout;
	c.err = stderr;
	log_setup("cox", LOG_LVL_INFO, false);
	if (sodium_init() < 0) {
		fprintf(stderr, "cox: libsodium failed to initialise\n");
		return 1;
	}
	const char *sd = getenv("COX_STATE_DIR");
	snprintf(c.state_dir, sizeof(c.state_dir), "%s", sd && *sd ? sd : COX_DEFAULT_STATE_DIR);

	/* Pull --state-dir out wherever it is. */
	int n = 0;
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--state-dir") || !strncmp(argv[i], "--state-dir=", 12)) {
			const char *v = argv[i][11] == '=' ? argv[i] + 12 : (i + 1 < argc ? argv[++i] : NULL);
			if (!v || !*v) {
				fprintf(stderr, "cox: --state-dir needs a directory\n");
				return 2;
			}
			if (strlen(v) >= sizeof(c.state_dir) - 64) {
				fprintf(stderr, "cox: --state-dir path is too long\n");
				return 2;
			}
			snprintf(c.state_dir, sizeof(c.state_dir), "%s", v);
			continue;
		}
		argv[++n] = argv[i];
	}
	argc = n + 1;
	argv[argc] = NULL;

	const char *who = getenv("SUDO_USER");
	if (!who || !*who) {
		struct passwd *pw = getpwuid(getuid());
		who = pw ? pw->pw_name : "unknown";
	}
	snprintf(c.actor, sizeof(c.actor), "cli:%s", who);

	if (argc < 2) {
		usage(stderr);
		return 2;
	}
	if (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help"))
		return cmd_help(&c, 1, argv);
	if (!strcmp(argv[1], "--version"))
		return cmd_version(&c, 1, argv);
	int rc = -1;
	for (size_t i = 0; i < N_COMMANDS; i++) {
		if (!strcmp(argv[1], commands[i].name) && leaf_help(&commands[i], argc - 1, argv + 1)) {
			rc = 0;
			break;
		}
		if (!strcmp(argv[1], commands[i].name)) {
			rc = commands[i].fn(&c, argc - 1, argv + 1);
			break;
		}
	}
	if (rc < 0) {
		cox_fail(&c, "no command `%s'", argv[1]);
		usage(stderr);
		rc = 2;
	}
	store_close(c.st);
	return rc;
}
