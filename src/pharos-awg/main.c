/* pharos-awg: the AmneziaWG daemon and its control tool in one binary.
 *
 *   pharos-awg [-f] IFNAME           run the daemon (awgd_main, daemon.c)
 *   pharos-awg SUBCOMMAND [ARGS]     control a running daemon, wg(8) style
 *
 * The first argument picks: a name from the table below is a subcommand,
 * anything else goes to the daemon (so an interface cannot be named like a
 * subcommand). Usage text is generated from the table. */
#include <stdio.h>
#include <string.h>

#include "pharos-awg/awgd.h"
#include "pharos-awg/cli.h"

#ifndef PHAROS_VERSION
#define PHAROS_VERSION "unknown"
#endif

static int cmd_help(const char *prog, int argc, char **argv);
static int cmd_version(const char *prog, int argc, char **argv);

static const struct subcommand {
	const char *name;
	int (*fn)(const char *prog, int argc, char **argv);
	const char *args;
	const char *help;
} subcommands[] = {
	{ "show", cli_show, CLI_SHOW_ARGS, "Shows the current configuration and device information" },
	{ "showconf", cli_showconf, CLI_SHOWCONF_ARGS,
	  "Shows the current configuration of an interface, for use with `setconf'" },
	{ "set", cli_set, CLI_SET_ARGS, "Changes the configuration: adds, changes or removes peers and parameters" },
	{ "setconf", cli_setconf, CLI_CONF_ARGS, "Applies a configuration file, replacing every peer" },
	{ "addconf", cli_setconf, CLI_CONF_ARGS, "Appends a configuration file, keeping existing peers" },
	{ "syncconf", cli_setconf, CLI_CONF_ARGS,
	  "Synchronizes to a configuration file, touching only what differs" },
	{ "genkey", cli_genkey, CLI_NO_ARGS, "Generates a new private key and writes it to stdout" },
	{ "genpsk", cli_genkey, CLI_NO_ARGS, "Generates a new preshared key and writes it to stdout" },
	{ "pubkey", cli_pubkey, CLI_NO_ARGS, "Reads a private key from stdin and writes its public key to stdout" },
	{ "genobf", cli_genobf, CLI_NO_ARGS,
	  "Prints a random valid AmneziaWG parameter set (Jc, Jmin, Jmax, S1..S4, H1..H4) as config lines" },
	{ "version", cmd_version, CLI_NO_ARGS, "Prints the version" },
	{ "help", cmd_help, "[<subcommand>]", "Shows this help, or one subcommand's usage" },
};
#define N_SUBCOMMANDS (sizeof(subcommands) / sizeof(subcommands[0]))

static const struct subcommand *find(const char *name)
{
	for (size_t i = 0; i < N_SUBCOMMANDS; i++)
		if (!strcmp(name, subcommands[i].name))
			return &subcommands[i];
	return NULL;
}

static void usage(FILE *f, const char *prog)
{
	fprintf(f, "Usage: %s <cmd> [<args>]\n", prog);
	fprintf(f, "       %s [-f | --foreground] <interface>   (runs the daemon)\n\n", prog);
	fprintf(f, "Available subcommands:\n");
	for (size_t i = 0; i < N_SUBCOMMANDS; i++)
		fprintf(f, "  %-9s %s\n", subcommands[i].name, subcommands[i].help);
	fprintf(f, "`%s help <cmd>' shows a subcommand's arguments.\n", prog);
}

static int cmd_help(const char *prog, int argc, char **argv)
{
	if (argc < 2) {
		usage(stdout, prog);
		return 0;
	}
	const struct subcommand *s = find(argv[1]);
	if (!s) {
		fprintf(stderr, "%s: no subcommand `%s'\n", prog, argv[1]);
		usage(stderr, prog);
		return 1;
	}
	printf("Usage: %s %s %s\n  %s\n", prog, s->name, s->args, s->help);
	return 0;
}

static int cmd_version(const char *prog, int argc, char **argv)
{
	printf("pharos-awg %s\n", PHAROS_VERSION);
	return 0;
}

int main(int argc, char **argv)
{
	const char *prog = argc > 0 && argv[0] ? argv[0] : "pharos-awg";

	if (argc < 2) {
		char *show_argv[] = { "show", NULL };
		return cli_show(prog, 1, show_argv);
	}
	if (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help"))
		return cmd_help(prog, 1, argv + 1);
	if (!strcmp(argv[1], "-v") || !strcmp(argv[1], "--version"))
		return cmd_version(prog, 1, argv + 1);

	const struct subcommand *s = find(argv[1]);
	if (!s)
		return awgd_main(argc, argv);
	if (argc == 3 && (!strcmp(argv[2], "-h") || !strcmp(argv[2], "--help"))) {
		char *help_argv[] = { "help", argv[1], NULL };
		return cmd_help(prog, 2, help_argv);
	}
	return s->fn(prog, argc - 1, argv + 1);
}
