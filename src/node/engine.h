/* The node's data plane: the AmneziaWG engine in-process on the client
 * interface, configured from the controller's peer sets, its events turned
 * into WatchEvents. The UAPI socket stays available for `wg show`. */
#ifndef PHAROS_NODE_ENGINE_H
#define PHAROS_NODE_ENGINE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lib/addr.h"
#include "lib/err.h"

struct events_hub;
struct node_engine;
struct node_identity;
struct uapi_client_device;

/* One peer as the controller describes it. Clients dial in, so endpoints
 * are set only for inner links (cascade). */
struct node_peer_spec {
	uint8_t public_key[32];
	bool has_psk;
	uint8_t psk[32];
	const struct cidr *allowed_ips;
	size_t n_allowed_ips;
	uint16_t keepalive;
	bool has_endpoint;
	union endpoint endpoint;
};

struct node_engine_opts {
	const char *ifname;        /* e.g. "awg0" */
	uint16_t port, port_hi;    /* UDP port or range (entry pools) */
	const struct node_identity *id;
	struct events_hub *hub;    /* WatchEvents; may be NULL */
	double timer_scale;        /* tests: 0 or 1 = real timers */
	bool no_tun;               /* tests without a TUN device */
	/* Privilege separation: a TUN fd opened once with privileges and kept
	 * across restarts (-1 or 0 with tun_given false: open it ourselves), and
	 * who binds the UDP sockets (NULL: this process). */
	bool tun_given;
	int tun_fd;
	bool tun_vnet, tun_uso;
	int (*udp_open)(void *ctx, int family, uint16_t port, uint16_t *bound_port);
	void *udp_open_ctx;
	/* Where the UAPI socket goes: NULL for /var/run/wireguard and
	 * /var/run/amneziawg; else one socket DIR/IF.sock (an unprivileged
	 * process cannot create sockets in those root-owned directories; the
	 * privileged start links them to this one). */
	const char *uapi_dir;
};

int node_engine_new(struct node_engine **out, const struct node_engine_opts *o) WUR;
void node_engine_free(struct node_engine *e);
/* Full replace: peers not in the set are removed, the others added or
 * updated in place, so unchanged peers keep their sessions. All or nothing:
 * a set the engine refuses changes nothing. */
int node_engine_replace_peers(struct node_engine *e, const struct node_peer_spec *peers, size_t n, char *err,
                              size_t errlen) WUR;
/* Idempotent single-peer operations. */
int node_engine_add_peer(struct node_engine *e, const struct node_peer_spec *p, char *err, size_t errlen) WUR;
int node_engine_remove_peer(struct node_engine *e, const uint8_t public_key[32]) WUR;
/* Current state, as `wg show` sees it (peers sorted by key). Free with
 * uapi_client_device_free. */
int node_engine_snapshot(struct node_engine *e, struct uapi_client_device **out) WUR;
/* The cheap part of GetStatus (no dump): see device_get_summary. Returns
 * -ENODEV while the engine is down. */
struct device_summary;
int node_engine_summary(struct node_engine *e, int64_t now_sec, int64_t window_sec, struct device_summary *out) WUR;
/* Tears the engine down and brings it back up with its identity and the
 * last peer set (RestartService). */
int node_engine_restart(struct node_engine *e) WUR;
const char *node_engine_ifname(const struct node_engine *e);

#endif
