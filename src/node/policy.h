/* Node network policy (DESIGN.md §3.3): forwarding, masquerade, isolation,
 * rendered as one nftables table of our own, `inet pharos`, that replaces
 * itself atomically. policy_render() is what the controller shows as a
 * preview and exactly what policy_apply() loads. */
#ifndef PHAROS_NODE_POLICY_H
#define PHAROS_NODE_POLICY_H

#include <stdbool.h>
#include <stddef.h>

#include "lib/err.h"

struct buf;

#define POLICY_IFNAMSIZ 16

struct policy {
	bool forwarding;
	bool masquerade;                 /* needs forwarding */
	bool isolation;                  /* needs forwarding: drop client-to-client */
	char tunnel_if[POLICY_IFNAMSIZ]; /* the client-facing AmneziaWG interface */
	char egress_if[POLICY_IFNAMSIZ]; /* where masqueraded traffic leaves; "" = detect */
};

/* Defaults for a new node: forwarding and masquerade on, isolation off. */
void policy_defaults(struct policy *p, const char *tunnel_if);
/* Rules across toggles and interface names; -EINVAL with a message. */
int policy_validate(const struct policy *p, char *err, size_t errlen) WUR;
/* The nftables script that replaces the table (create-if-missing, delete,
 * recreate: one transaction). egress must already be resolved when
 * masquerading. Returns 0, -EINVAL, ERR_TOOBIG. */
int policy_render(const struct policy *p, const char *egress, struct buf *out) WUR;
/* The default route's interface from /proc/net/route (IPv4) or
 * /proc/net/ipv6_route; ERR_NOTFOUND when there is none. */
int policy_detect_egress(char out[POLICY_IFNAMSIZ]) WUR;
/* Sets the forwarding sysctls and loads the rendered table. On failure the
 * previous table stays as it was (nftables transactions are atomic). */
int policy_apply(const struct policy *p, char *err, size_t errlen) WUR;
/* Removes our table (no-op if absent). */
int policy_remove(char *err, size_t errlen) WUR;

#endif
