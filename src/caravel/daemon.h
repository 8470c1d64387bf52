/* `caravel up`: the tunnel runs in a background process that holds the TUN
 * device (through libcaravel), the routes, the DNS and the kill switch, and
 * answers on a control socket in the run directory ($CARAVEL_RUN, default
 * /run/pharos/caravel, 0700): one request line per connection,
 *   status   -> one JSON object
 *   down     -> "ok", then the daemon undoes everything and exits.
 * `caravel up` returns once the first handshake completed (or the wait ran
 * out: the daemon stays and keeps trying, its kill switch in place). */
#ifndef PHAROS_CARAVEL_DAEMON_H
#define PHAROS_CARAVEL_DAEMON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "caravel/caravel.h"
#include "lib/err.h"

struct buf;

#define CARAVEL_DEFAULT_RUN "/run/pharos/caravel"
#define CARAVEL_DEFAULT_IFNAME "caravel0"

struct caravel_up_opts {
	const char *rundir;
	const char *name;            /* the stored profile's name */
	const caravel_profile *profile;
	const uint8_t *awg_sk;
	const char *node_id;         /* NULL: the profile's first */
	const char *ifname;
	bool default_route, kill_switch;
	uint32_t wait_ms;            /* how long `up` waits for the handshake */
	uint32_t handshake_timeout_ms;
};

const char *caravel_daemon_rundir(void);
/* Forks the daemon and waits for its report. 0 when the tunnel is up;
 * -ETIMEDOUT when the daemon runs but no node answered yet; another code
 * with err set when it could not start (everything undone). */
int caravel_daemon_up(const struct caravel_up_opts *o, char *err, size_t errlen) WUR;
/* One request to a running daemon; -ENOENT/-ECONNREFUSED when none runs. */
int caravel_daemon_call(const char *rundir, const char *req, struct buf *reply) WUR;
/* Undoes what a daemon that died left behind (rules, DNS, kill switch);
 * each step is idempotent. */
int caravel_daemon_cleanup(const char *rundir, char *err, size_t errlen) WUR;

#endif
