/* Pushing intended state to nodes and the reconcile sweep (DESIGN.md §5.5). */
#ifndef PHAROS_COX_RECONCILE_H
#define PHAROS_COX_RECONCILE_H

#include <stdbool.h>
#include <stdint.h>

#include "cox/cox.h"

struct reconcile;

/* State kept across sweeps by `cox serve` (backoff of unreachable nodes). */
int reconcile_new(struct cox *c, struct reconcile **out) WUR;
void reconcile_free(struct reconcile *rc);

struct sweep_stats {
	unsigned nodes, reachable, unreachable, skipped, pushed, healed_stale, failed;
};
/* One sweep over every node not stopped: GetStatus in parallel; marks
 * misses and unreachable nodes (after cfg.miss_limit misses, then polled
 * with exponential backoff); pushes where the applied revision is behind or
 * the peer count drifted; restarts a stale data plane (peers, none
 * handshaking) at most every cfg.stale_seconds. Prints one line per event
 * to c->out. */
int reconcile_sweep(struct reconcile *rc, struct sweep_stats *stats) WUR;

#endif
