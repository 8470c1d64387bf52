/* The Linux CLI's kill switch: one nftables table, `inet caravel`, that
 * drops every packet in or out except on loopback, on the tunnel interface,
 * to and from the current node's entry pool (UDP, its port range), and the
 * IPv6 neighbour discovery that reaching the pool needs. Replaced
 * atomically (the whole table in one transaction) when failover picks
 * another node; deleted on `caravel down`. If the daemon dies, the table
 * stays: nothing leaks until `caravel down`. */
#ifndef PHAROS_CARAVEL_KILLSWITCH_H
#define PHAROS_CARAVEL_KILLSWITCH_H

#include <stddef.h>
#include <stdint.h>

#include "lib/addr.h"
#include "lib/err.h"

struct buf;

#define CARAVEL_KS_TABLE "inet caravel"

struct caravel_ks_entry {
	struct addr addr;
	uint16_t port_lo, port_hi;
};

/* The ruleset text (pure, for tests and `--dry-run`). ifname must be
 * 1..15 of [A-Za-z0-9._-]; -EINVAL otherwise. */
int caravel_ks_render(const char *ifname, const struct caravel_ks_entry *e, size_t n, struct buf *out) WUR;
/* Installs or replaces the table; err gets nft's message. */
int caravel_ks_apply(const char *ifname, const struct caravel_ks_entry *e, size_t n, char *err, size_t errlen) WUR;
/* Deletes the table; absent is fine. */
int caravel_ks_remove(char *err, size_t errlen) WUR;
/* Runs an nft script in one transaction; err gets nft's message. */
int caravel_ks_run(const char *text, char *err, size_t errlen) WUR;

#endif
