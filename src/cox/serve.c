/* cox serve: the controller loop. It opens no listening socket at all (the
 * controller sits behind NAT and only dials out, DESIGN.md §2); it sweeps
 * the fleet at start, so a restarted controller re-reconciles everything,
 * and then every sweep interval. Changes made with the CLI are pushed by
 * the CLI itself at once; the sweep heals what that missed. */
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cox/cox.h"
#include "cox/reconcile.h"

static volatile sig_atomic_t stopping;

static void on_signal(int sig)
{
	(void)sig;
	stopping = 1;
}

int cox_cmd_serve(struct cox *c, int argc, char **argv)
{
	bool once = false;
	long sweep = 0;
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--once")) {
			once = true;
		} else if (!strcmp(argv[i], "--sweep") && i + 1 < argc) {
			char *e;
			sweep = strtol(argv[++i], &e, 10);
			if (*e || sweep < 1 || sweep > 86400)
				return cox_fail(c, "serve: --sweep takes seconds from 1 to 86400, not `%s'", argv[i]), 2;
		} else {
			return cox_fail(c, "serve: unknown option `%s'; valid: --sweep SECONDS, --once", argv[i]), 2;
		}
	}
	if (cox_load(c) < 0)
		return 1;
	if (sweep)
		c->cfg.sweep_seconds = (uint32_t)sweep;
	struct reconcile *rc;
	if (reconcile_new(c, &rc) < 0)
		return cox_fail(c, "out of memory");
	struct sigaction sa;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
	setvbuf(c->out, NULL, _IOLBF, 0);
	fprintf(c->out, "cox serve: state %s, sweeping every %u s; listening on no socket\n", c->state_dir,
		c->cfg.sweep_seconds);
	if (cox_audit(c, "serve.start", "", "") < 0) {
		reconcile_free(rc);
		return 1;
	}
	int rcode = 0;
	while (!stopping) {
		struct timespec t0, t1;
		clock_gettime(CLOCK_MONOTONIC, &t0);
		struct sweep_stats s;
		int r = reconcile_sweep(rc, &s);
		clock_gettime(CLOCK_MONOTONIC, &t1);
		double ms = (double)(t1.tv_sec - t0.tv_sec) * 1e3 + (double)(t1.tv_nsec - t0.tv_nsec) / 1e6;
		if (r < 0) {
			fprintf(c->out, "sweep failed: %s\n", cox_strerror(r));
			rcode = 1;
		} else {
			fprintf(c->out, "sweep: %u nodes, %u reachable, %u unreachable, %u backing off, %u pushed, %u restarted, "
					"%u failed, %.0f ms\n",
				s.nodes, s.reachable, s.unreachable, s.skipped, s.pushed, s.healed_stale, s.failed, ms);
			rcode = 0;
		}
		if (once)
			break;
		for (unsigned waited = 0; !stopping && waited < c->cfg.sweep_seconds * 10; waited++)
			usleep(100 * 1000);
	}
	reconcile_free(rc);
	fprintf(c->out, "cox serve: stopped\n");
	return rcode;
}
