/* Entry pools and node order (DESIGN.md §6.3): which (ip, port) the client
 * sends to, when it re-picks, and which node comes next on failover. Pure
 * functions of the profile and the random numbers passed in, so the unit
 * tests drive them with chosen values. */
#ifndef PHAROS_CARAVEL_POOL_H
#define PHAROS_CARAVEL_POOL_H

#include <stddef.h>
#include <stdint.h>

#include "lib/addr.h"
#include "lib/err.h"

struct profile;
struct profile_node;
struct profile_awg;

/* Number of (ip, port) pairs: addresses x ports; 0 for an empty pool. */
uint64_t caravel_pool_size(const struct profile_node *n);
/* The pair at index i (0 <= i < size): address-major, port-minor. */
int caravel_pool_at(const struct profile_node *n, uint64_t i, union endpoint *out) WUR;
/* A pair chosen by r (uniform in [0, 2^32)), different from avoid when the
 * pool has more than one pair and avoid is not NULL. */
int caravel_pool_pick(const struct profile_node *n, uint32_t r, const union endpoint *avoid,
                      union endpoint *out) WUR;
/* Milliseconds until the next rotation: interval ± jitter, r picking inside
 * the window, never below one second. */
uint64_t caravel_rotation_delay_ms(uint32_t interval_s, uint32_t jitter_s, uint32_t r);
/* The node's AmneziaWG protocol entry, or NULL when it offers none. */
const struct profile_awg *caravel_node_awg(const struct profile_node *n);
/* Index of the first usable node (AmneziaWG, non-empty pool) at or after
 * `from` going round the list, skipping none; -1 when there is none. */
long caravel_node_next(const struct profile *p, size_t from);

#endif
