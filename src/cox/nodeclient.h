/* cox's side of pharos.node.v1.NodeControl: one mTLS gRPC client per node,
 * presenting the controller certificate and admitting only the node's own
 * certificate (node role, the node's id). */
#ifndef PHAROS_COX_NODECLIENT_H
#define PHAROS_COX_NODECLIENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cox/cox.h"

struct nodeclient;
struct cox_tls;

/* The controller's TLS identity and trust, loaded once per process. */
int cox_tls_new(const struct cox *c, struct cox_tls **out) WUR;
void cox_tls_free(struct cox_tls *t);

/* host: numeric IP of the node; id: its certificate id. Connects lazily. */
int nodeclient_new(struct cox_tls *t, const char *id, const char *host, uint16_t port, struct nodeclient **out) WUR;
void nodeclient_free(struct nodeclient *nc);

struct node_status {
	char agent_version[64];
	uint64_t uptime;
	uint64_t applied_revision;   /* AmneziaWG service's applied revision */
	bool awg_running, awg_listening;
	uint32_t peer_count, handshaking_peers;
	int64_t newest_handshake_age; /* seconds, -1 = never */
	char awg_public_key[64];      /* base64 */
	char *obfuscation;            /* "key=value\n" lines (malloc'd) */
	uint16_t listen_port, listen_port_max;
	char reality_public_key[64];
};
void node_status_fini(struct node_status *s);

/* A peer as cox pushes it. Keys base64. */
struct node_peer {
	const char *id;
	const char *public_key;
	const char *preshared_key;
	const char *allowed_ips[2];
	size_t n_allowed;
};

/* Every call: 0, or a negative code with a message in err (the gRPC status
 * name and message, or the transport error). deadline_ms 0: 10 s. */
int nodeclient_status(struct nodeclient *nc, struct node_status *out, char *err, size_t errlen) WUR;
int nodeclient_push_awg(struct nodeclient *nc, uint64_t revision, const struct node_peer *peers, size_t n,
			uint64_t *applied, bool *reloaded, char *err, size_t errlen) WUR;
int nodeclient_set_network(struct nodeclient *nc, bool forwarding, bool masquerade, bool isolation, char *err,
			   size_t errlen) WUR;
/* RestartService for AmneziaWG: the node restarts its engine from disk. */
int nodeclient_restart_awg(struct nodeclient *nc, char *err, size_t errlen) WUR;
/* Count of peers the node reports for AmneziaWG. */
int nodeclient_list_peers(struct nodeclient *nc, size_t *n, char *err, size_t errlen) WUR;

#endif
