/* The few rtnetlink operations the node needs (libmnl): bring a link up and
 * route a prefix into it. No shell, no `ip`. */
#ifndef PHAROS_NODE_NETLINK_H
#define PHAROS_NODE_NETLINK_H

#include "lib/addr.h"
#include "lib/err.h"

int nl_link_up(const char *ifname) WUR;
/* Adds or replaces a route to prefix via ifname (main table). */
int nl_route_replace(const struct cidr *prefix, const char *ifname) WUR;

#endif
