/* pharos-awg control subcommands, one file each (show.c, showconf.c, set.c,
 * setconf.c, genkey.c, genobf.c). main.c dispatches to them from its table.
 *
 * Every subcommand takes the program name for messages and its own argv,
 * where argv[0] is the subcommand's name (so setconf.c can serve setconf,
 * addconf and syncconf), and returns the process exit status. */
#ifndef PHAROS_AWG_CLI_H
#define PHAROS_AWG_CLI_H

int cli_show(const char *prog, int argc, char **argv);
int cli_showconf(const char *prog, int argc, char **argv);
int cli_set(const char *prog, int argc, char **argv);
int cli_setconf(const char *prog, int argc, char **argv); /* also addconf, syncconf */
int cli_genkey(const char *prog, int argc, char **argv);  /* also genpsk */
int cli_pubkey(const char *prog, int argc, char **argv);
int cli_genobf(const char *prog, int argc, char **argv);

/* Usage lines, shared by main's help and each subcommand's own errors. */
#define CLI_SHOW_ARGS                                                                                          \
	"[<interface> | all | interfaces] [public-key | private-key | listen-port | fwmark | peers | "            \
	"preshared-keys | endpoints | allowed-ips | latest-handshakes | persistent-keepalive | transfer | dump | " \
	"awg | jc | jmin | jmax | s1..s4 | h1..h4 | i1..i5]"
#define CLI_SHOWCONF_ARGS "<interface>"
#define CLI_SET_ARGS                                                                                        \
	"<interface> [private-key <file>] [listen-port <port>] [fwmark <mark>|off] [jc <n>] [jmin <n>] "      \
	"[jmax <n>] [s1..s4 <n>] [h1..h4 <n>|<lo>-<hi>] [i1..i5 <template>] [peer <base64 public key> "        \
	"[remove] [preshared-key <file>] [endpoint <host>:<port>] [persistent-keepalive <seconds>|off] "      \
	"[allowed-ips <ip>/<cidr>[,<ip>/<cidr>]...]]..."
#define CLI_CONF_ARGS "<interface> <configuration filename>"
#define CLI_NO_ARGS ""

#endif
