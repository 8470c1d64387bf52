/* The daemon half of pharos-awg: `pharos-awg [-f] IFNAME` (daemon.c). main.c
 * calls it with the untouched argc/argv when argv[1] is not a subcommand;
 * it returns the process exit status. */
#ifndef PHAROS_AWG_AWGD_H
#define PHAROS_AWG_AWGD_H

int awgd_main(int argc, char **argv);

#endif
