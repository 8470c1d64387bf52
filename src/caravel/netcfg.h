/* The Linux CLI's routing (rtnetlink through libmnl): the tunnel's
 * addresses, and full-tunnel policy routing in the style of wg-quick: the
 * engine marks its own UDP packets with CARAVEL_NET_MARK, and one rule per
 * family sends every unmarked packet to table CARAVEL_NET_TABLE, whose only
 * route is a default through the tunnel. So everything but the tunnel's own
 * packets to its entry goes through the tunnel, whatever the main table
 * holds, and rotation or failover need no route changes. */
#ifndef PHAROS_CARAVEL_NETCFG_H
#define PHAROS_CARAVEL_NETCFG_H

#include <stdbool.h>
#include <stdint.h>

#include "lib/addr.h"
#include "lib/err.h"

#define CARAVEL_NET_MARK 0xca7au
#define CARAVEL_NET_TABLE 0xca7au
#define CARAVEL_NET_RULE_PREF 25000u

int caravel_net_link_up(const char *ifname) WUR;
/* Adds the address to the interface (IPv6 without duplicate detection). */
int caravel_net_addr_add(const char *ifname, const struct cidr *c) WUR;
/* A route to dst through ifname, in our table (in_table) or in main. */
int caravel_net_route(const char *ifname, const struct cidr *dst, bool in_table) WUR;
/* Adds or deletes "not fwmark MARK lookup TABLE pref PREF" for a family.
 * Deleting a rule that is not there is not an error. */
int caravel_net_rule(bool add, int family) WUR;

/* Strict reverse-path filtering (rp_filter=1) would drop the node's replies:
 * their source routes through the tunnel by our rule. As wg-quick does, the
 * table `inet caravel-route` copies the tunnel's mark into the connection
 * on the way out and back onto its replies on the way in, and
 * net.ipv4.conf.all.src_valid_mark=1 lets the filter see it. Off deletes the
 * table (the sysctl stays, harmless). */
int caravel_net_marks(bool on, char *err, size_t errlen) WUR;

#endif
