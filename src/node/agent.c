#include "node/agent.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "awg/device.h"
#include "awg/obf.h"
#include "awg/uapi_client.h"
#include "lib/buf.h"
#include "lib/enc.h"
#include "lib/fileio.h"
#include "lib/log.h"
#include "lib/mem.h"
#include "node/engine.h"
#include "node/events.h"
#include "node/identity.h"
#include "node/policy.h"
#include "node/privsep.h"
#include "pharos/node/v1/control.pb-c.h"
#include "pki/pki.h"
#include "rpc/pb.h"
#include "rpc/server.h"
#include "rpc/status.h"

#include <openssl/ssl.h>

#define PEERS_FILE "awg-peers.pb"
#define REVISION_FILE "awg-revision"
#define POLICY_FILE "netpolicy.conf"
#define MAX_REQ (64u << 20)
#define SVC "/pharos.node.v1.NodeControl/"

typedef Pharos__Node__V1__AmneziaWGConfig AwgConfig;
typedef Pharos__Node__V1__Peer Peer;

struct agent {
	struct agent_opts o;
	pthread_mutex_t lock;           /* everything below */
	struct node_identity id;
	struct node_engine *engine;
	struct events_hub *hub;
	AwgConfig *peers;               /* the applied peer set (owned, from rpc_pb_unpack or built) */
	struct peer_ix *ix;             /* its keys sorted, for key -> id (events, metrics); NULL: scan */
	size_t nix;
	uint8_t *peers_raw;             /* its encoding, as persisted */
	size_t peers_raw_len;
	uint64_t revision;
	struct policy policy;
	time_t started;
	struct privsep *ps;             /* the privileged operations (helper or in-process) */
	int tun_fd;                     /* opened once at start, kept across engine restarts */
	bool tun_vnet, tun_uso;
	char ifname[16];                /* as opened */
};

/* ---- privileged operations: requests to the helper (privsep.h) ---- */

_Static_assert(AGENT_MAX_ROUTES == PRIVSEP_MAX_ROUTES, "the helper takes every --route");

static int priv_request(struct agent *a, enum privsep_op op, const struct policy *p, char *err, size_t errlen)
{
	struct privsep_req r = { .op = op };
	int fd;
	uint16_t port;
	if (p) {
		r.forwarding = p->forwarding;
		r.masquerade = p->masquerade;
		r.isolation = p->isolation;
	}
	int rc = privsep_call(a->ps, &r, &fd, &port, err, errlen);
	if (fd >= 0)
		close(fd);
	return rc;
}

/* The engine's UDP sockets (device_udp_open_fn), also after a restart. */
static int udp_open_via_helper(void *ctx, int family, uint16_t port, uint16_t *bound)
{
	struct agent *a = ctx;
	struct privsep_req r = { .op = PRIVSEP_UDP_SOCKET, .family = (uint32_t)family, .port = port };
	char err[256];
	int fd;
	int rc = privsep_call(a->ps, &r, &fd, bound, err, sizeof(err));
	if (rc < 0) {
		if (rc != -EAFNOSUPPORT && rc != -EADDRNOTAVAIL)
			log_warn("UDP port %u: %s", port, err);
		return rc;
	}
	return fd;
}

/* The tunnel interface up and the tunnel subnets routed into it. */
static int priv_link(struct agent *a)
{
	char err[256];
	int rc = priv_request(a, PRIVSEP_LINK_UP, NULL, err, sizeof(err));
	if (rc == 0)
		rc = priv_request(a, PRIVSEP_ROUTES, NULL, err, sizeof(err));
	if (rc < 0)
		log_warn("%s", err);
	return rc;
}

/* ---- persistence: written before a call reports success ---- */

static int path_of(const struct agent *a, const char *name, char out[PATH_MAX])
{
	int n = snprintf(out, PATH_MAX, "%s/%s", a->o.config_dir, name);
	return n < 0 || n >= PATH_MAX ? -ENAMETOOLONG : 0;
}

static int save_file(const struct agent *a, const char *name, const void *data, size_t len)
{
	char p[PATH_MAX];
	int rc = path_of(a, name, p);
	return rc < 0 ? rc : fileio_write_atomic(p, data, len, 0600);
}

static int save_peers(struct agent *a, const AwgConfig *cfg, uint64_t revision)
{
	uint8_t *raw = NULL;
	size_t len = 0;
	char rev[32];
	int rc = rpc_pb_pack(&cfg->base, MAX_REQ, &raw, &len);
	if (rc < 0)
		return rc;
	snprintf(rev, sizeof(rev), "%llu\n", (unsigned long long)revision);
	if ((rc = save_file(a, PEERS_FILE, raw, len)) == 0)
		rc = save_file(a, REVISION_FILE, rev, strlen(rev));
	if (raw)
		sodium_memzero(raw, len); /* holds preshared keys */
	mem_free(raw);
	return rc;
}

static int save_policy(struct agent *a, const struct policy *p)
{
	char text[128];
	int n = snprintf(text, sizeof(text), "forwarding=%d\nmasquerade=%d\nisolation=%d\n", p->forwarding,
	                 p->masquerade, p->isolation);
	return save_file(a, POLICY_FILE, text, (size_t)n);
}

static void load_policy(struct agent *a)
{
	char p[PATH_MAX];
	uint8_t *data = NULL;
	size_t len;
	policy_defaults(&a->policy, node_engine_ifname(a->engine));
	if (path_of(a, POLICY_FILE, p) < 0 || fileio_read_all(p, 4096, &data, &len) < 0)
		return;
	int f, m, i;
	if (sscanf((char *)data, "forwarding=%d\nmasquerade=%d\nisolation=%d", &f, &m, &i) == 3) {
		a->policy.forwarding = f;
		a->policy.masquerade = m;
		a->policy.isolation = i;
	}
	mem_free(data);
}

/* ---- conversions ---- */

/* Converts the controller's peers to engine specs. The cidr array (one block
 * for all peers) is returned for the caller to free. */
static int to_specs(Peer **peers, size_t n, struct node_peer_spec **out, struct cidr **cidrs, char *err,
                    size_t errlen)
{
	size_t total = 0;
	*out = NULL;
	*cidrs = NULL;
	for (size_t i = 0; i < n; i++)
		total += peers[i]->n_allowed_ips;
	struct node_peer_spec *s = n ? mem_zalloc(n * sizeof(*s)) : NULL;
	struct cidr *c = total ? mem_alloc(total * sizeof(*c)) : NULL;
	if ((n && !s) || (total && !c)) {
		mem_free(s);
		mem_free(c);
		return -ENOMEM;
	}
	size_t k = 0;
	for (size_t i = 0; i < n; i++) {
		const Peer *p = peers[i];
		if (enc_key_from_base64(s[i].public_key, p->public_key) < 0) {
			snprintf(err, errlen, "peer %zu (%s): public_key \"%.60s\" is not a base64 32-byte key", i,
			         p->id, p->public_key);
			goto bad;
		}
		if (p->preshared_key && *p->preshared_key) {
			if (enc_key_from_base64(s[i].psk, p->preshared_key) < 0) {
				snprintf(err, errlen, "peer %zu (%s): preshared_key is not a base64 32-byte key", i, p->id);
				goto bad;
			}
			s[i].has_psk = true;
		}
		s[i].allowed_ips = c + k;
		for (size_t j = 0; j < p->n_allowed_ips; j++) {
			if (cidr_parse(p->allowed_ips[j], &c[k]) < 0) {
				snprintf(err, errlen, "peer %zu (%s): allowed_ips \"%.60s\" is not ADDRESS/PREFIX", i, p->id,
				         p->allowed_ips[j]);
				goto bad;
			}
			k++;
		}
		s[i].n_allowed_ips = p->n_allowed_ips;
		if (p->persistent_keepalive_seconds > 65535) {
			snprintf(err, errlen, "peer %zu (%s): persistent_keepalive_seconds above 65535", i, p->id);
			goto bad;
		}
		s[i].keepalive = (uint16_t)p->persistent_keepalive_seconds;
		if (p->n_endpoints) {
			/* Only inner links dial out; the first endpoint is used. */
			if (endpoint_parse(p->endpoints[0], &s[i].endpoint) < 0) {
				snprintf(err, errlen, "peer %zu (%s): endpoint \"%.60s\" is not IP:PORT", i, p->id,
				         p->endpoints[0]);
				goto bad;
			}
			s[i].has_endpoint = true;
		}
	}
	*out = s;
	*cidrs = c;
	return 0;
bad:
	if (s)
		sodium_memzero(s, n * sizeof(*s));
	mem_free(s);
	mem_free(c);
	return -EINVAL;
}

static void free_specs(struct node_peer_spec *s, size_t n, struct cidr *c)
{
	if (s)
		sodium_memzero(s, n * sizeof(*s));
	mem_free(s);
	mem_free(c);
}

struct peer_ix {
	uint8_t key[32];
	const char *id; /* points into agent.peers */
};

static int cmp_ix(const void *x, const void *y)
{
	return memcmp(x, y, 32);
}

/* The controller's id for a peer key, "" when unknown; b64 gets the key in
 * base64. Every event and every metrics row asks, so with 10,000 peers this
 * is a binary search, not a scan. Must hold a->lock. */
static const char *peer_id_for(const struct agent *a, const uint8_t key[32], char *b64)
{
	enc_key_to_base64(b64, key);
	if (a->ix) {
		const struct peer_ix *e = bsearch(key, a->ix, a->nix, sizeof(*a->ix), cmp_ix);
		return e ? e->id : "";
	}
	for (size_t i = 0; a->peers && i < a->peers->n_peers; i++)
		if (!strcmp(a->peers->peers[i]->public_key, b64))
			return a->peers->peers[i]->id;
	return "";
}

/* Makes cfg the applied set (owned; the old one is freed) and indexes it.
 * Must hold a->lock. Without memory for the index, lookups scan. */
static void set_applied(struct agent *a, AwgConfig *cfg)
{
	if (a->peers)
		rpc_pb_free(&a->peers->base);
	mem_free(a->ix);
	a->ix = NULL;
	a->nix = 0;
	a->peers = cfg;
	if (!cfg || !cfg->n_peers || !(a->ix = mem_alloc(cfg->n_peers * sizeof(*a->ix))))
		return;
	for (size_t i = 0; i < cfg->n_peers; i++)
		if (enc_key_from_base64(a->ix[a->nix].key, cfg->peers[i]->public_key) == 0)
			a->ix[a->nix++].id = cfg->peers[i]->id;
	qsort(a->ix, a->nix, sizeof(*a->ix), cmp_ix);
}

/* ---- handlers ---- */

static int unpack(const ProtobufCMessageDescriptor *d, const uint8_t *req, size_t len, ProtobufCMessage **m,
                  struct rpc_status *st)
{
	int rc = rpc_pb_unpack(d, req, len, MAX_REQ, m);
	if (rc < 0)
		rpc_status_set(st, RPC_INVALID_ARGUMENT, "request does not decode as %s", d->name);
	return rc;
}

static void reply(const ProtobufCMessage *m, struct buf *resp, struct rpc_status *st)
{
	if (rpc_pb_pack_buf(m, resp) < 0)
		rpc_status_set(st, RPC_INTERNAL, "response too large");
}

static void h_get_status(void *ctx, const struct rpc_call *call, const uint8_t *req, size_t len, struct buf *resp,
                         struct rpc_status *st)
{
	struct agent *a = ctx;
	Pharos__Node__V1__GetStatusResponse r = PHAROS__NODE__V1__GET_STATUS_RESPONSE__INIT;
	Pharos__Node__V1__ServiceStatus awg = PHAROS__NODE__V1__SERVICE_STATUS__INIT,
	                                 xray = PHAROS__NODE__V1__SERVICE_STATUS__INIT;
	Pharos__Node__V1__ServiceStatus *svcs[2] = { &awg, &xray };
	Pharos__Node__V1__AmneziaWGInfo info = PHAROS__NODE__V1__AMNEZIA_WGINFO__INIT;
	Pharos__Node__V1__AmneziaWGObfuscation obf = PHAROS__NODE__V1__AMNEZIA_WGOBFUSCATION__INIT;
	char pub[ENC_KEY_BASE64_LEN], h[4][24], i_empty[] = "";
	struct device_summary sum;

	pthread_mutex_lock(&a->lock);
	time_t now = time(NULL);
	/* The controller sweeps every node often: a summary, not a dump of
	 * every peer (10,000 peers made the dump 50 ms). */
	int rc = node_engine_summary(a->engine, (int64_t)now, 180, &sum);
	r.agent_version = (char *)PHAROS_VERSION;
	r.uptime_seconds = (uint64_t)(now - a->started);
	r.applied_revision = a->revision;
	r.n_services = 2;
	r.services = svcs;
	awg.protocol = PHAROS__NODE__V1__PROTOCOL__PROTOCOL_AMNEZIAWG;
	awg.running = rc == 0;
	awg.listening = rc == 0 && sum.listening && sum.listen_port != 0;
	awg.applied_revision = a->revision;
	awg.newest_handshake_age_seconds = -1;
	if (rc == 0) {
		awg.peer_count = (uint32_t)sum.peers;
		awg.handshaking_peers = (uint32_t)sum.recent_handshakes;
		if (sum.newest_handshake_sec)
			awg.newest_handshake_age_seconds = (int64_t)now - sum.newest_handshake_sec;
	} else {
		awg.detail = (char *)"the AmneziaWG engine is not answering";
	}
	xray.protocol = PHAROS__NODE__V1__PROTOCOL__PROTOCOL_XRAY_REALITY;
	xray.detail = (char *)"VLESS+REALITY is not built into this node yet (UNIMPLEMENTED)";
	enc_key_to_base64(pub, a->id.awg_public);
	info.public_key = pub;
	info.listen_port = a->o.port;
	info.listen_port_max = a->o.port_hi;
	obf.jc = a->id.obf.jc;
	obf.jmin = a->id.obf.jmin;
	obf.jmax = a->id.obf.jmax;
	obf.s1 = a->id.obf.s[0];
	obf.s2 = a->id.obf.s[1];
	obf.s3 = a->id.obf.s[2];
	obf.s4 = a->id.obf.s[3];
	for (int k = 0; k < 4; k++) {
		const struct obf_range *rg = &a->id.obf.h[k];
		if (rg->lo == rg->hi)
			snprintf(h[k], sizeof(h[k]), "%u", rg->lo);
		else
			snprintf(h[k], sizeof(h[k]), "%u-%u", rg->lo, rg->hi);
	}
	obf.h1 = h[0];
	obf.h2 = h[1];
	obf.h3 = h[2];
	obf.h4 = h[3];
	obf.i1 = a->id.obf.i_text[0] ? a->id.obf.i_text[0] : i_empty;
	obf.i2 = a->id.obf.i_text[1] ? a->id.obf.i_text[1] : i_empty;
	obf.i3 = a->id.obf.i_text[2] ? a->id.obf.i_text[2] : i_empty;
	obf.i4 = a->id.obf.i_text[3] ? a->id.obf.i_text[3] : i_empty;
	obf.i5 = a->id.obf.i_text[4] ? a->id.obf.i_text[4] : i_empty;
	info.obfuscation = &obf;
	r.amneziawg = &info;
	reply(&r.base, resp, st);
	pthread_mutex_unlock(&a->lock);
}

static void h_get_metrics(void *ctx, const struct rpc_call *call, const uint8_t *req, size_t len, struct buf *resp,
                          struct rpc_status *st)
{
	struct agent *a = ctx;
	Pharos__Node__V1__GetMetricsResponse r = PHAROS__NODE__V1__GET_METRICS_RESPONSE__INIT;
	struct uapi_client_device *d = NULL;
	pthread_mutex_lock(&a->lock);
	if (node_engine_snapshot(a->engine, &d) < 0) {
		pthread_mutex_unlock(&a->lock);
		rpc_status_set(st, RPC_UNAVAILABLE, "the AmneziaWG engine is not answering");
		return;
	}
	Pharos__Node__V1__PeerState *ps = d->n_peers ? mem_zalloc(d->n_peers * sizeof(*ps)) : NULL;
	Pharos__Node__V1__PeerState **pp = d->n_peers ? mem_zalloc(d->n_peers * sizeof(*pp)) : NULL;
	char (*keys)[ENC_KEY_BASE64_LEN] = d->n_peers ? mem_zalloc(d->n_peers * ENC_KEY_BASE64_LEN) : NULL;
	char (*eps)[ENDPOINT_STRLEN] = d->n_peers ? mem_zalloc(d->n_peers * ENDPOINT_STRLEN) : NULL;
	if (d->n_peers && (!ps || !pp || !keys || !eps)) {
		rpc_status_set(st, RPC_RESOURCE_EXHAUSTED, "out of memory");
		goto out;
	}
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	r.collected_at_unix_ms = (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
	for (size_t i = 0; i < d->n_peers; i++) {
		const struct uapi_client_peer *p = &d->peers[i];
		pharos__node__v1__peer_state__init(&ps[i]);
		ps[i].public_key = keys[i];
		ps[i].peer_id = (char *)peer_id_for(a, p->public_key, keys[i]);
		ps[i].protocol = PHAROS__NODE__V1__PROTOCOL__PROTOCOL_AMNEZIAWG;
		ps[i].last_handshake_unix_ms = p->last_handshake_sec * 1000 + p->last_handshake_nsec / 1000000;
		ps[i].rx_bytes = p->rx_bytes;
		ps[i].tx_bytes = p->tx_bytes;
		ps[i].endpoint = eps[i];
		if (p->has_endpoint && endpoint_format(&p->endpoint, eps[i], ENDPOINT_STRLEN) < 0)
			eps[i][0] = '\0';
		r.rx_bytes_total += p->rx_bytes;
		r.tx_bytes_total += p->tx_bytes;
		pp[i] = &ps[i];
	}
	r.n_peers = d->n_peers;
	r.peers = pp;
	reply(&r.base, resp, st);
out:
	pthread_mutex_unlock(&a->lock);
	mem_free(ps);
	mem_free(pp);
	mem_free(keys);
	mem_free(eps);
	uapi_client_device_free(d);
}

static bool check_awg(int protocol, struct rpc_status *st)
{
	if (protocol == PHAROS__NODE__V1__PROTOCOL__PROTOCOL_AMNEZIAWG)
		return true;
	if (protocol == PHAROS__NODE__V1__PROTOCOL__PROTOCOL_XRAY_REALITY)
		rpc_status_set(st, RPC_UNIMPLEMENTED, "VLESS+REALITY is not built into this node yet");
	else
		rpc_status_set(st, RPC_INVALID_ARGUMENT, "protocol must be PROTOCOL_AMNEZIAWG or PROTOCOL_XRAY_REALITY");
	return false;
}

static double ms_since(const struct timespec *t0)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)(t.tv_sec - t0->tv_sec) * 1e3 + (double)(t.tv_nsec - t0->tv_nsec) / 1e6;
}

/* node_engine_replace_peers, noting when it finished (for the log). */
static int replace_timed(struct agent *a, const struct node_peer_spec *specs, size_t n, char *err, size_t errlen,
                         const struct timespec *t0, double *ms)
{
	int rc = node_engine_replace_peers(a->engine, specs, n, err, errlen);
	*ms = ms_since(t0);
	return rc;
}

static void h_push_config(void *ctx, const struct rpc_call *call, const uint8_t *req, size_t len, struct buf *resp,
                          struct rpc_status *st)
{
	struct agent *a = ctx;
	Pharos__Node__V1__PushConfigRequest *rq = NULL;
	Pharos__Node__V1__PushConfigResponse r = PHAROS__NODE__V1__PUSH_CONFIG_RESPONSE__INIT;
	struct node_peer_spec *specs = NULL;
	struct cidr *cidrs = NULL;
	char err[256];
	struct timespec t0;
	double applied_ms = 0;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	if (unpack(&pharos__node__v1__push_config_request__descriptor, req, len, (ProtobufCMessage **)&rq, st) < 0)
		return;
	if (!check_awg(rq->protocol, st))
		goto out;
	if (rq->config_case != PHAROS__NODE__V1__PUSH_CONFIG_REQUEST__CONFIG_AMNEZIAWG) {
		rpc_status_set(st, RPC_INVALID_ARGUMENT, "PROTOCOL_AMNEZIAWG needs the amneziawg config");
		goto out;
	}
	pthread_mutex_lock(&a->lock);
	if (rq->revision < a->revision) {
		rpc_status_set(st, RPC_FAILED_PRECONDITION, "revision %llu is older than the applied revision %llu",
		               (unsigned long long)rq->revision, (unsigned long long)a->revision);
	} else if (rq->revision == a->revision && a->revision != 0) {
		r.applied_revision = a->revision; /* the same revision again: nothing to do */
		reply(&r.base, resp, st);
	} else if (to_specs(rq->amneziawg->peers, rq->amneziawg->n_peers, &specs, &cidrs, err, sizeof(err)) < 0) {
		rpc_status_set(st, RPC_INVALID_ARGUMENT, "%s", err);
	} else if (replace_timed(a, specs, rq->amneziawg->n_peers, err, sizeof(err), &t0, &applied_ms) < 0) {
		rpc_status_set(st, RPC_INVALID_ARGUMENT, "%s", err);
	} else if (save_peers(a, rq->amneziawg, rq->revision) < 0) {
		rpc_status_set(st, RPC_INTERNAL, "applied but could not persist the configuration");
	} else {
		/* Keep the request: its config is now the applied peer set. */
		set_applied(a, rq->amneziawg);
		rq->amneziawg = NULL;
		rq->config_case = PHAROS__NODE__V1__PUSH_CONFIG_REQUEST__CONFIG__NOT_SET;
		a->revision = rq->revision;
		r.applied_revision = a->revision;
		r.reloaded = true;
		reply(&r.base, resp, st);
		/* From the request's bytes to applied and on disk (bench/node-bench reads it). */
		log_info("applied revision %llu: %zu AmneziaWG peers in %.1f ms (%.1f ms to the engine)",
		         (unsigned long long)a->revision, a->peers->n_peers, ms_since(&t0), applied_ms);
	}
	pthread_mutex_unlock(&a->lock);
out:
	free_specs(specs, rq->amneziawg ? rq->amneziawg->n_peers : 0, cidrs);
	rpc_pb_free(&rq->base);
}

/* Rebuilds the applied set without the peer `drop_key` (base64), then with
 * `add` appended when given: add/replace and remove share this path. The new
 * set is a deep copy made through the wire encoding (simplest correct copy). */
static int set_rebuild(struct agent *a, const char *drop_key, const Peer *add)
{
	Pharos__Node__V1__AmneziaWGConfig tmp = PHAROS__NODE__V1__AMNEZIA_WGCONFIG__INIT;
	size_t n = a->peers ? a->peers->n_peers : 0, k = 0;
	Peer **list = mem_alloc((n + 1) * sizeof(*list));
	if (!list)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++)
		if (strcmp(a->peers->peers[i]->public_key, drop_key))
			list[k++] = a->peers->peers[i];
	if (add)
		list[k++] = (Peer *)add;
	tmp.n_peers = k;
	tmp.peers = list;
	uint8_t *raw = NULL;
	size_t len = 0;
	AwgConfig *copy = NULL;
	int rc = rpc_pb_pack(&tmp.base, MAX_REQ, &raw, &len);
	if (rc == 0)
		rc = rpc_pb_unpack(&pharos__node__v1__amnezia_wgconfig__descriptor, raw, len, MAX_REQ,
		                   (ProtobufCMessage **)&copy);
	if (raw)
		sodium_memzero(raw, len); /* preshared keys */
	mem_free(raw);
	mem_free(list);
	if (rc < 0)
		return rc;
	set_applied(a, copy);
	return 0;
}

static void h_add_peer(void *ctx, const struct rpc_call *call, const uint8_t *req, size_t len, struct buf *resp,
                       struct rpc_status *st)
{
	struct agent *a = ctx;
	Pharos__Node__V1__AddPeerRequest *rq = NULL;
	Pharos__Node__V1__PeerResponse r = PHAROS__NODE__V1__PEER_RESPONSE__INIT;
	struct node_peer_spec *spec = NULL;
	struct cidr *cidrs = NULL;
	char err[256];
	if (unpack(&pharos__node__v1__add_peer_request__descriptor, req, len, (ProtobufCMessage **)&rq, st) < 0)
		return;
	if (!rq->peer) {
		rpc_status_set(st, RPC_INVALID_ARGUMENT, "peer is required");
		goto out;
	}
	if (!check_awg(rq->peer->protocol, st))
		goto out;
	if (to_specs(&rq->peer, 1, &spec, &cidrs, err, sizeof(err)) < 0) {
		rpc_status_set(st, RPC_INVALID_ARGUMENT, "%s", err);
		goto out;
	}
	pthread_mutex_lock(&a->lock);
	if (node_engine_add_peer(a->engine, spec, err, sizeof(err)) < 0)
		rpc_status_set(st, RPC_INVALID_ARGUMENT, "%s", err);
	else if (set_rebuild(a, rq->peer->public_key, rq->peer) < 0 || save_peers(a, a->peers, a->revision) < 0)
		rpc_status_set(st, RPC_INTERNAL, "applied but could not persist the peer");
	else {
		r.peer_id = rq->peer->id;
		r.applied = true;
		reply(&r.base, resp, st);
	}
	pthread_mutex_unlock(&a->lock);
out:
	free_specs(spec, 1, cidrs);
	rpc_pb_free(&rq->base);
}

static void h_remove_peer(void *ctx, const struct rpc_call *call, const uint8_t *req, size_t len,
                          struct buf *resp, struct rpc_status *st)
{
	struct agent *a = ctx;
	Pharos__Node__V1__RemovePeerRequest *rq = NULL;
	Pharos__Node__V1__PeerResponse r = PHAROS__NODE__V1__PEER_RESPONSE__INIT;
	uint8_t key[32];
	if (unpack(&pharos__node__v1__remove_peer_request__descriptor, req, len, (ProtobufCMessage **)&rq, st) < 0)
		return;
	if (!check_awg(rq->protocol, st))
		goto out;
	if (enc_key_from_base64(key, rq->public_key) < 0) {
		rpc_status_set(st, RPC_INVALID_ARGUMENT, "public_key \"%.60s\" is not a base64 32-byte key",
		               rq->public_key);
		goto out;
	}
	pthread_mutex_lock(&a->lock);
	if (node_engine_remove_peer(a->engine, key) < 0)
		rpc_status_set(st, RPC_INTERNAL, "the engine refused the removal");
	else if (set_rebuild(a, rq->public_key, NULL) < 0 || save_peers(a, a->peers, a->revision) < 0)
		rpc_status_set(st, RPC_INTERNAL, "removed but could not persist");
	else {
		r.applied = true;
		reply(&r.base, resp, st);
	}
	pthread_mutex_unlock(&a->lock);
out:
	rpc_pb_free(&rq->base);
}

static void h_list_peers(void *ctx, const struct rpc_call *call, const uint8_t *req, size_t len, struct buf *resp,
                         struct rpc_status *st)
{
	struct agent *a = ctx;
	Pharos__Node__V1__ListPeersResponse r = PHAROS__NODE__V1__LIST_PEERS_RESPONSE__INIT;
	char empty[] = "";
	pthread_mutex_lock(&a->lock);
	size_t n = a->peers ? a->peers->n_peers : 0;
	Peer *copies = n ? mem_alloc(n * sizeof(*copies)) : NULL;
	Peer **list = n ? mem_alloc(n * sizeof(*list)) : NULL;
	if (n && (!copies || !list)) {
		rpc_status_set(st, RPC_RESOURCE_EXHAUSTED, "out of memory");
	} else {
		/* Never hand out preshared keys. */
		for (size_t i = 0; i < n; i++) {
			copies[i] = *a->peers->peers[i];
			copies[i].preshared_key = empty;
			list[i] = &copies[i];
		}
		r.n_peers = n;
		r.peers = list;
		reply(&r.base, resp, st);
	}
	pthread_mutex_unlock(&a->lock);
	mem_free(copies);
	mem_free(list);
}

static void h_restart(void *ctx, const struct rpc_call *call, const uint8_t *req, size_t len, struct buf *resp,
                      struct rpc_status *st)
{
	struct agent *a = ctx;
	Pharos__Node__V1__RestartServiceRequest *rq = NULL;
	Pharos__Node__V1__RestartServiceResponse r = PHAROS__NODE__V1__RESTART_SERVICE_RESPONSE__INIT;
	if (unpack(&pharos__node__v1__restart_service_request__descriptor, req, len, (ProtobufCMessage **)&rq, st) < 0)
		return;
	if (check_awg(rq->protocol, st)) {
		pthread_mutex_lock(&a->lock);
		int rc = node_engine_restart(a->engine);
		if (rc == 0)
			rc = priv_link(a);
		pthread_mutex_unlock(&a->lock);
		if (rc < 0)
			rpc_status_set(st, RPC_INTERNAL, "restart failed: %s", err_str(rc));
		else {
			r.restarted = true;
			reply(&r.base, resp, st);
		}
	}
	rpc_pb_free(&rq->base);
}

static void h_set_network(void *ctx, const struct rpc_call *call, const uint8_t *req, size_t len,
                          struct buf *resp, struct rpc_status *st)
{
	struct agent *a = ctx;
	Pharos__Node__V1__SetNetworkConfigRequest *rq = NULL;
	Pharos__Node__V1__SetNetworkConfigResponse r = PHAROS__NODE__V1__SET_NETWORK_CONFIG_RESPONSE__INIT;
	char err[256];
	if (unpack(&pharos__node__v1__set_network_config_request__descriptor, req, len, (ProtobufCMessage **)&rq,
	           st) < 0)
		return;
	if (!rq->config) {
		rpc_status_set(st, RPC_INVALID_ARGUMENT, "config is required");
		goto out;
	}
	if (rq->config->n_transits) {
		rpc_status_set(st, RPC_UNIMPLEMENTED, "transit routes belong to the cascade, which is not built yet");
		goto out;
	}
	pthread_mutex_lock(&a->lock);
	struct policy p = a->policy;
	p.forwarding = rq->config->forwarding;
	p.masquerade = rq->config->masquerade;
	p.isolation = rq->config->isolation;
	if (policy_validate(&p, err, sizeof(err)) < 0 || priv_request(a, PRIVSEP_POLICY, &p, err, sizeof(err)) < 0)
		rpc_status_set(st, RPC_INVALID_ARGUMENT, "%s", err);
	else if (save_policy(a, &p) < 0)
		rpc_status_set(st, RPC_INTERNAL, "applied but could not persist the policy");
	else {
		a->policy = p;
		r.applied = true;
		reply(&r.base, resp, st);
	}
	pthread_mutex_unlock(&a->lock);
out:
	rpc_pb_free(&rq->base);
}

static void h_unimplemented_link(void *ctx, const struct rpc_call *call, const uint8_t *req, size_t len,
                                 struct buf *resp, struct rpc_status *st)
{
	rpc_status_set(st, RPC_UNIMPLEMENTED, "inner links belong to the cascade, which is not built into this node yet");
}

/* ---- WatchEvents: one thread per subscriber ---- */

struct watch {
	struct agent *a;
	struct rpc_stream *st;
	struct events_sub *sub;
	uint32_t types; /* bit per EventType; 0: all */
};

static void watch_cancel(void *ctx)
{
	struct watch *w = ctx;
	events_close(w->sub);
}

static int ev_type(enum node_event_type t)
{
	switch (t) {
	case NODE_EV_HANDSHAKE_UP: return PHAROS__NODE__V1__EVENT_TYPE__EVENT_TYPE_HANDSHAKE_UP;
	case NODE_EV_HANDSHAKE_DOWN: return PHAROS__NODE__V1__EVENT_TYPE__EVENT_TYPE_HANDSHAKE_DOWN;
	case NODE_EV_PEER_CONNECTED: return PHAROS__NODE__V1__EVENT_TYPE__EVENT_TYPE_PEER_CONNECTED;
	case NODE_EV_PEER_DISCONNECTED: return PHAROS__NODE__V1__EVENT_TYPE__EVENT_TYPE_PEER_DISCONNECTED;
	case NODE_EV_PEER_ROAMED: return PHAROS__NODE__V1__EVENT_TYPE__EVENT_TYPE_ROAM;
	case NODE_EV_ERROR: return PHAROS__NODE__V1__EVENT_TYPE__EVENT_TYPE_ERROR;
	}
	return 0;
}

static void *watch_main(void *arg)
{
	struct watch *w = arg;
	struct node_event evs[64];
	uint64_t reported_drops = 0;
	for (;;) {
		size_t n = events_take(w->sub, evs, 64, 1000);
		if (!n && rpc_call_cancelled(rpc_stream_call(w->st)))
			break;
		int rc = 0;
		for (size_t i = 0; i < n && rc == 0; i++) {
			int t = ev_type(evs[i].type);
			if (w->types && !(w->types & (1u << t)))
				continue;
			Pharos__Node__V1__Event e = PHAROS__NODE__V1__EVENT__INIT;
			char pub[ENC_KEY_BASE64_LEN], ep[ENDPOINT_STRLEN] = "", idb[ENC_KEY_BASE64_LEN];
			e.at_unix_ms = evs[i].unix_ms;
			e.type = t;
			e.protocol = PHAROS__NODE__V1__PROTOCOL__PROTOCOL_AMNEZIAWG;
			enc_key_to_base64(pub, evs[i].public_key);
			e.public_key = pub;
			pthread_mutex_lock(&w->a->lock);
			char *id = mem_strdup(peer_id_for(w->a, evs[i].public_key, idb));
			pthread_mutex_unlock(&w->a->lock);
			e.peer_id = id ? id : idb;
			if (evs[i].endpoint.sa.sa_family && endpoint_format(&evs[i].endpoint, ep, sizeof(ep)) < 0)
				ep[0] = '\0';
			e.source_endpoint = ep;
			e.message = evs[i].message;
			e.rx_bytes = evs[i].rx_bytes;
			e.tx_bytes = evs[i].tx_bytes;
			uint64_t d = events_dropped(w->sub);
			e.dropped_before = d - reported_drops;
			reported_drops = d;
			struct buf b;
			buf_init(&b, 1 << 16);
			rc = rpc_pb_pack_buf(&e.base, &b);
			if (rc == 0)
				rc = rpc_stream_send(w->st, b.data, b.len);
			buf_fini(&b);
			mem_free(id);
		}
		if (rc == -ECANCELED)
			break;
		if (!n && !rc && rpc_call_cancelled(rpc_stream_call(w->st)))
			break;
	}
	events_unsubscribe(w->a->hub, w->sub);
	rpc_stream_finish(w->st, RPC_OK, NULL);
	mem_free(w);
	return NULL;
}

static void h_watch(void *ctx, const struct rpc_call *call, const uint8_t *req, size_t len, struct rpc_stream *st)
{
	struct agent *a = ctx;
	Pharos__Node__V1__WatchEventsRequest *rq = NULL;
	if (rpc_pb_unpack(&pharos__node__v1__watch_events_request__descriptor, req, len, MAX_REQ,
	                  (ProtobufCMessage **)&rq) < 0) {
		rpc_stream_finish(st, RPC_INVALID_ARGUMENT, "request does not decode as WatchEventsRequest");
		return;
	}
	struct watch *w = mem_zalloc(sizeof(*w));
	if (!w) {
		rpc_pb_free(&rq->base);
		rpc_stream_finish(st, RPC_RESOURCE_EXHAUSTED, "out of memory");
		return;
	}
	for (size_t i = 0; i < rq->n_types; i++)
		if (rq->types[i] > 0 && rq->types[i] < 32)
			w->types |= 1u << rq->types[i];
	rpc_pb_free(&rq->base);
	w->a = a;
	w->st = st;
	pthread_t t;
	if (events_subscribe(a->hub, 0, &w->sub) < 0) {
		mem_free(w);
		rpc_stream_finish(st, RPC_RESOURCE_EXHAUSTED, "too many event subscribers");
		return;
	}
	rpc_stream_on_cancel(st, watch_cancel, w);
	if (pthread_create(&t, NULL, watch_main, w) != 0) {
		events_unsubscribe(a->hub, w->sub);
		mem_free(w);
		rpc_stream_finish(st, RPC_RESOURCE_EXHAUSTED, "cannot start the event stream");
		return;
	}
	pthread_detach(t);
}

/* ---- start-up ---- */

/* The data plane from disk, before the control port opens: a node with no
 * controller anywhere serves its clients from the last configuration. */
static int cold_start(struct agent *a)
{
	char p[PATH_MAX];
	uint8_t *raw = NULL, *rev = NULL;
	size_t len = 0, rlen = 0;
	char err[256];
	int rc = 0;
	if (path_of(a, PEERS_FILE, p) == 0 && fileio_read_all(p, MAX_REQ, &raw, &len) == 0) {
		AwgConfig *cfg = NULL;
		struct node_peer_spec *specs = NULL;
		struct cidr *cidrs = NULL;
		rc = rpc_pb_unpack(&pharos__node__v1__amnezia_wgconfig__descriptor, raw, len, MAX_REQ,
		                   (ProtobufCMessage **)&cfg);
		if (rc == 0 && (rc = to_specs(cfg->peers, cfg->n_peers, &specs, &cidrs, err, sizeof(err))) == 0)
			rc = node_engine_replace_peers(a->engine, specs, cfg->n_peers, err, sizeof(err));
		if (rc == 0) {
			set_applied(a, cfg);
			log_info("restored %zu AmneziaWG peers from %s", cfg->n_peers, p);
		} else {
			log_error("%s: cannot restore the peers (%s); starting without them", p, err_str(rc));
			if (cfg)
				rpc_pb_free(&cfg->base);
		}
		free_specs(specs, cfg && rc == 0 ? cfg->n_peers : 0, cidrs);
		sodium_memzero(raw, len);
		mem_free(raw);
	}
	if (path_of(a, REVISION_FILE, p) == 0 && fileio_read_all(p, 64, &rev, &rlen) == 0) {
		a->revision = strtoull((char *)rev, NULL, 10);
		mem_free(rev);
	}
	load_policy(a);
	if (priv_request(a, PRIVSEP_POLICY, &a->policy, err, sizeof(err)) < 0)
		log_warn("network policy not applied: %s", err);
	return 0;
}

static int start_server(struct agent *a, struct rpc_server **out, SSL_CTX **ctx_out, struct pki_trust **trust_out,
                        struct pki_identity **id_out)
{
	char cert[PATH_MAX], key[PATH_MAX], ca[PATH_MAX];
	int rc;
	if ((rc = path_of(a, "tls.crt", cert)) < 0 || (rc = path_of(a, "tls.key", key)) < 0 ||
	    (rc = path_of(a, "ca.crt", ca)) < 0)
		return rc;
	if ((rc = pki_identity_load(cert, key, id_out)) < 0) {
		log_error("cannot load the node certificate %s and key %s: %s", cert, key, err_str(rc));
		return rc;
	}
	if ((rc = pki_trust_new(trust_out)) < 0 || (rc = pki_trust_load_roots(*trust_out, ca)) < 0) {
		log_error("cannot load the fleet root %s: %s", ca, err_str(rc));
		return rc;
	}
	/* Only the controller's certificate, from the Fleet CA, may drive us. */
	struct pki_peer_policy pol = { .trust = *trust_out, .role = PKI_ROLE_CONTROLLER };
	if ((rc = pki_ssl_ctx_server(*id_out, &pol, ctx_out)) < 0)
		return rc;
	struct rpc_server_opts so = { .listen = a->o.control_listen, .tls = { .ssl_ctx = *ctx_out },
		                      .handler_threads = 4 };
	if ((rc = rpc_server_new(out, &so)) < 0) {
		log_error("cannot listen on %s: %s", a->o.control_listen, err_str(rc));
		return rc;
	}
	static const struct {
		const char *m;
		rpc_unary_fn fn;
	} unary[] = {
		{ SVC "GetStatus", h_get_status },       { SVC "GetMetrics", h_get_metrics },
		{ SVC "PushConfig", h_push_config },     { SVC "AddPeer", h_add_peer },
		{ SVC "RemovePeer", h_remove_peer },     { SVC "ListPeers", h_list_peers },
		{ SVC "RestartService", h_restart },     { SVC "SetNetworkConfig", h_set_network },
		{ SVC "ConfigureInnerLink", h_unimplemented_link }, { SVC "RemoveInnerLink", h_unimplemented_link },
	};
	for (size_t i = 0; i < sizeof(unary) / sizeof(unary[0]); i++)
		if ((rc = rpc_server_handle_unary(*out, unary[i].m, unary[i].fn, a)) < 0)
			return rc;
	struct rpc_stream_opts sopt = { .queue_bytes = 4 << 20, .policy = RPC_STREAM_DROP };
	if ((rc = rpc_server_handle_stream(*out, SVC "WatchEvents", h_watch, a, &sopt)) < 0)
		return rc;
	return rpc_server_start(*out);
}

/* ---- the privileged start (root only) ---- */

/* The config directory and its regular files become the run user's (key
 * files stay 0600), so the unprivileged side can persist and reload. Files
 * are opened without following links and skipped when hard-linked, so a
 * planted link cannot make root hand over another file. */
static int own_config_dir(const char *dir, uid_t uid, gid_t gid)
{
	int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (dfd < 0)
		return -errno;
	int rc = fchown(dfd, uid, gid) < 0 ? -errno : 0;
	if (rc == 0 && fchmod(dfd, 0700) < 0)
		rc = -errno;
	int dfd2 = rc == 0 ? dup(dfd) : -1;
	DIR *d = dfd2 >= 0 ? fdopendir(dfd2) : NULL;
	if (rc == 0 && !d) {
		rc = -errno;
		if (dfd2 >= 0)
			close(dfd2);
	}
	for (struct dirent *e; rc == 0 && (e = readdir(d));) {
		if (e->d_name[0] == '.' && (!e->d_name[1] || (e->d_name[1] == '.' && !e->d_name[2])))
			continue;
		int fd = openat(dfd, e->d_name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
		struct stat st;
		if (fd < 0)
			continue; /* a symlink or special file: not ours to chown */
		if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && st.st_nlink == 1) {
			if (fchown(fd, uid, gid) < 0)
				rc = -errno;
		} else if (S_ISREG(st.st_mode)) {
			log_warn("%s/%s: hard-linked, left as it is", dir, e->d_name);
		}
		close(fd);
	}
	if (d)
		closedir(d);
	close(dfd);
	return rc;
}

/* The UAPI socket lives in run_dir (the run user's); /var/run/wireguard and
 * /var/run/amneziawg get links to it so `wg show` finds it as usual. */
static int own_run_dir(const char *run_dir, const char *ifname, uid_t uid, gid_t gid)
{
	static const char *const dirs[] = { "/var/run/wireguard", "/var/run/amneziawg" };
	char target[PATH_MAX], link_path[PATH_MAX];
	int rc = fileio_mkdir_p(run_dir, 0755);
	if (rc < 0)
		return rc;
	if (chown(run_dir, uid, gid) < 0 || chmod(run_dir, 0755) < 0)
		return -errno;
	int n = snprintf(target, sizeof(target), "%s/%s.sock", run_dir, ifname);
	if (n < 0 || (size_t)n >= sizeof(target))
		return -ENAMETOOLONG;
	for (size_t i = 0; i < 2; i++) {
		snprintf(link_path, sizeof(link_path), "%s/%s.sock", dirs[i], ifname);
		if ((rc = fileio_mkdir_p(dirs[i], 0755)) < 0)
			return rc;
		if ((unlink(link_path) < 0 && errno != ENOENT) || symlink(target, link_path) < 0)
			return -errno;
	}
	return 0;
}

/* As root: resolve the run user, hand it the directories, open the TUN
 * device, fork the helper, then drop everything in this process. Must run
 * before any thread exists (capabilities are per thread) and before any
 * secret is loaded (the helper is a copy of this process). */
static int privileged_start(struct agent *a, bool root)
{
	struct privsep_config pc = { .port = a->o.port, .port_hi = a->o.port_hi, .nroutes = a->o.nroutes };
	uid_t uid = 0;
	gid_t gid = 0;
	int rc;
	const char *user = a->o.user;
	if (root) {
		rc = user ? privsep_lookup_user(user, &uid, &gid) : privsep_lookup_user(user = "pharos", &uid, &gid);
		if (rc < 0 && !a->o.user)
			rc = privsep_lookup_user(user = "nobody", &uid, &gid);
		if (rc < 0) {
			log_error("--user \"%s\": %s (expected an existing user other than root)", user,
			          rc == -EPERM ? "the control service never runs as root" : "no such user");
			return rc;
		}
		if ((rc = own_config_dir(a->o.config_dir, uid, gid)) < 0) {
			log_error("%s: cannot hand the config directory to %s: %s", a->o.config_dir, user, err_str(rc));
			return rc;
		}
	}
	bool vnet = false, uso = false;
	rc = device_tun_open(a->o.ifname, 0, a->ifname, sizeof(a->ifname), &vnet, &uso);
	if (rc < 0) {
		log_error("cannot open the TUN device %s: %s", a->o.ifname, err_str(rc));
		return rc;
	}
	a->tun_fd = rc;
	a->tun_vnet = vnet;
	a->tun_uso = uso;
	snprintf(pc.ifname, sizeof(pc.ifname), "%s", a->ifname);
	memcpy(pc.routes, a->o.routes, sizeof(pc.routes));
	if (!root)
		return privsep_new_local(&pc, &a->ps);
	if ((rc = own_run_dir(a->o.run_dir, a->ifname, uid, gid)) < 0) {
		log_error("%s: cannot prepare the UAPI directory: %s", a->o.run_dir, err_str(rc));
		return rc;
	}
	if ((rc = privsep_new_helper(&pc, uid, gid, &a->ps)) < 0) {
		log_error("cannot start the privileged helper: %s", err_str(rc));
		return rc;
	}
	/* The config directory by descriptor: its parents need not be
	 * reachable by the run user. */
	if (chdir(a->o.config_dir) < 0) {
		rc = -errno;
		log_error("%s: %s", a->o.config_dir, err_str(rc));
		return rc;
	}
	a->o.config_dir = ".";
	if ((rc = privsep_drop(uid, gid)) < 0) {
		log_error("cannot drop privileges to %s (uid %u): %s", user, (unsigned)uid, err_str(rc));
		return rc;
	}
	log_info("running as %s (uid %u, no capabilities); privileged helper pid %d keeps CAP_NET_ADMIN and "
	         "CAP_NET_BIND_SERVICE",
	         user, (unsigned)uid, (int)privsep_helper_pid(a->ps));
	return 0;
}

int agent_run(const struct agent_opts *o)
{
	struct agent a = { .o = *o, .tun_fd = -1 };
	struct rpc_server *srv = NULL;
	SSL_CTX *ctx = NULL;
	struct pki_trust *trust = NULL;
	struct pki_identity *pid = NULL;
	bool created, root = geteuid() == 0;
	int rc, status = 1;

	if (!a.o.run_dir)
		a.o.run_dir = "/run/pharos/node";
	pthread_mutex_init(&a.lock, NULL);
	a.started = time(NULL);
	sigset_t set;
	sigemptyset(&set);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGTERM);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	signal(SIGPIPE, SIG_IGN);

	if ((rc = fileio_mkdir_p(o->config_dir, 0700)) < 0) {
		log_error("%s: %s", o->config_dir, err_str(rc));
		goto out;
	}
	if ((rc = privileged_start(&a, root)) < 0)
		goto out;
	unsigned denied = 0;
	if ((rc = privsep_sandbox(&denied)) < 0) {
		log_error("cannot install the seccomp filter: %s", err_str(rc));
		goto out;
	}
	log_info("seccomp: %u system calls refused (program execution, tracing, namespaces, mounts, kernel code)",
	         denied);
	if ((rc = node_identity_load_or_create(a.o.config_dir, &a.id, &created)) < 0) {
		log_error("%s: cannot load or create the node identity: %s", o->config_dir, err_str(rc));
		goto out;
	}
	if (created)
		log_info("generated this node's AmneziaWG key and obfuscation set in %s", o->config_dir);
	if (o->plain) {
		/* Plain WireGuard framing (the generated set stays on disk). */
		obf_params_fini(&a.id.obf);
		obf_params_init(&a.id.obf);
	}
	if ((rc = events_hub_new(&a.hub)) < 0)
		goto out;
	struct node_engine_opts eo = { .ifname = a.ifname, .port = o->port, .port_hi = o->port_hi, .id = &a.id,
		                       .hub = a.hub, .timer_scale = o->timer_scale, .tun_given = true,
		                       .tun_fd = a.tun_fd, .tun_vnet = a.tun_vnet, .tun_uso = a.tun_uso,
		                       .udp_open = udp_open_via_helper, .udp_open_ctx = &a,
		                       .uapi_dir = root ? a.o.run_dir : NULL };
	if ((rc = node_engine_new(&a.engine, &eo)) < 0) {
		log_error("cannot start the AmneziaWG engine on UDP %u: %s", o->port, err_str(rc));
		goto out;
	}
	(void)priv_link(&a);
	cold_start(&a);
	if ((rc = start_server(&a, &srv, &ctx, &trust, &pid)) < 0)
		goto out;
	log_info("NodeControl on %s (controller certificates only); AmneziaWG on %s UDP %u", o->control_listen,
	         node_engine_ifname(a.engine), o->port);
	for (;;) {
		int sig = sigwaitinfo(&set, NULL);
		if (sig > 0)
			break;
	}
	log_info("shutting down");
	if (rpc_server_shutdown(srv, true, 3000) < 0)
		log_warn("calls still running at shutdown were cancelled");
	status = 0;
out:
	rpc_server_free(srv);
	if (ctx)
		SSL_CTX_free(ctx);
	pki_trust_free(trust);
	pki_identity_free(pid);
	node_engine_free(a.engine);
	events_hub_free(a.hub);
	set_applied(&a, NULL);
	node_identity_fini(&a.id);
	privsep_free(a.ps);
	if (a.tun_fd >= 0)
		close(a.tun_fd);
	pthread_mutex_destroy(&a.lock);
	return status;
}
