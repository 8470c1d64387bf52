/* The Linux CLI's DNS: /etc/resolv.conf points at the profile's servers
 * while the tunnel is up, and gets back exactly what it was on down.
 *
 * The original is saved in the run directory first (its bytes, or the
 * target when it was a symlink, as systemd-resolved makes it), so a crashed
 * daemon can still be undone by `caravel down`. The new file replaces the
 * old by rename; where /etc/resolv.conf is a mount point (containers, our
 * test lab) rename fails with EBUSY and the file is rewritten in place. */
#ifndef PHAROS_CARAVEL_DNS_H
#define PHAROS_CARAVEL_DNS_H

#include <stdbool.h>
#include <stddef.h>

#include "lib/err.h"

#define CARAVEL_RESOLV_CONF "/etc/resolv.conf"

/* servers: n addresses as text. rundir holds the backup. */
int caravel_dns_apply(const char *rundir, const char *const *servers, size_t n, const char *why, char *err,
                      size_t errlen) WUR;
/* Puts the saved original back and removes the backup; no backup is a
 * no-op (returns 0, *restored false). */
int caravel_dns_restore(const char *rundir, bool *restored, char *err, size_t errlen) WUR;

#endif
