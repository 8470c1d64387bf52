/* Per-source rate limit for handshakes that passed the cookie check while
 * under load (specs/awg.md §1.9): a token bucket of 20 initiations per
 * second with a burst of 5, per IPv4 address or IPv6 /64. A fixed-size
 * table: when it is full the oldest bucket is recycled, so memory is bounded
 * whatever the number of sources. Pure: the caller passes now_ns. Used by
 * the control thread only. */
#ifndef PHAROS_AWG_RATELIMIT_H
#define PHAROS_AWG_RATELIMIT_H

#include <stdbool.h>
#include <stdint.h>

#include "lib/err.h"

#define RATELIMIT_PER_SEC 20
#define RATELIMIT_BURST 5
#define RATELIMIT_SLOTS 8192

struct ratelimit;

int ratelimit_new(struct ratelimit **out) WUR;
void ratelimit_free(struct ratelimit *r);
/* family AF_INET (4 bytes) or AF_INET6 (16 bytes; only the /64 counts).
 * True when this source may have one more handshake now. */
bool ratelimit_allow(struct ratelimit *r, int family, const uint8_t *addr, uint64_t now_ns);

#endif
