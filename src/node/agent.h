/* pharos-node's control service: NodeControl over mutual-TLS gRPC, the data
 * plane in-process, durable state in the config directory (DESIGN.md §5.2). */
#ifndef PHAROS_NODE_AGENT_H
#define PHAROS_NODE_AGENT_H

#include <stdbool.h>
#include <stdint.h>

#include "lib/addr.h"
#include "lib/err.h"

#define AGENT_MAX_ROUTES 8 /* = PRIVSEP_MAX_ROUTES */

struct agent_opts {
	const char *config_dir;
	const char *control_listen;  /* default "[::]:8444" */
	const char *ifname;          /* default "awg0" */
	uint16_t port, port_hi;      /* AmneziaWG UDP port (range); default 443 */
	struct cidr routes[AGENT_MAX_ROUTES]; /* tunnel subnets routed into the interface */
	int nroutes;
	double timer_scale;          /* tests only */
	bool plain;                  /* --obfuscation off: plain WireGuard framing */
	const char *user;            /* started as root: run as this user; NULL: "pharos", else "nobody" */
	const char *run_dir;         /* the UAPI socket when privileges are dropped; default "/run/pharos/node" */
};

/* Runs until SIGINT/SIGTERM. Returns a process exit status. */
int agent_run(const struct agent_opts *o);

#endif
