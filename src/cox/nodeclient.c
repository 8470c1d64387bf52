/* NodeControl client: protobuf-c messages over src/rpc. */
#include "cox/nodeclient.h"

#include <errno.h>
#include <openssl/ssl.h>
#include <stdlib.h>
#include <string.h>

#include "cox/keys.h"
#include "lib/mem.h"
#include "pharos/node/v1/control.pb-c.h"
#include "pki/pki.h"
#include "rpc/client.h"
#include "rpc/pb.h"
#include "rpc/status.h"

#define SVC "/pharos.node.v1.NodeControl/"
#define DEADLINE_MS 10000
#define MSG_MAX (64u << 20)

struct cox_tls {
	struct pki_identity *self;
	struct pki_trust *trust;
};

struct nodeclient {
	struct rpc_client *cli;
	SSL_CTX *ctx;
	struct pki_peer_policy policy;
	char id[PKI_ID_MAX + 1];
};

int cox_tls_new(const struct cox *c, struct cox_tls **out)
{
	*out = NULL;
	char crt[COX_PATH_MAX], key[COX_PATH_MAX], root[COX_PATH_MAX];
	int r;
	if ((r = cox_path(c, COX_CONTROLLER_CRT, crt, sizeof(crt))) < 0 ||
	    (r = cox_path(c, COX_CONTROLLER_KEY, key, sizeof(key))) < 0 ||
	    (r = cox_path(c, COX_CA_DIR "/root.crt", root, sizeof(root))) < 0)
		return r;
	struct cox_tls *t = calloc(1, sizeof(*t));
	if (!t)
		return -ENOMEM;
	if ((r = pki_identity_load(crt, key, &t->self)) < 0 || (r = pki_trust_new(&t->trust)) < 0 ||
	    (r = pki_trust_load_roots(t->trust, root)) < 0) {
		cox_tls_free(t);
		return r;
	}
	*out = t;
	return 0;
}

void cox_tls_free(struct cox_tls *t)
{
	if (!t)
		return;
	pki_identity_free(t->self);
	pki_trust_free(t->trust);
	free(t);
}

int nodeclient_new(struct cox_tls *t, const char *id, const char *host, uint16_t port, struct nodeclient **out)
{
	*out = NULL;
	struct nodeclient *nc = calloc(1, sizeof(*nc));
	if (!nc)
		return -ENOMEM;
	snprintf(nc->id, sizeof(nc->id), "%s", id);
	nc->policy.trust = t->trust;
	nc->policy.role = PKI_ROLE_NODE;
	nc->policy.id = nc->id;
	int r = pki_ssl_ctx_client(t->self, &nc->policy, &nc->ctx);
	if (r < 0)
		goto fail;
	char target[128];
	if (strchr(host, ':'))
		snprintf(target, sizeof(target), "[%s]:%u", host, port);
	else
		snprintf(target, sizeof(target), "%s:%u", host, port);
	struct rpc_client_opts o = {
		.target = target,
		.server_name = host,
		.tls = { .ssl_ctx = nc->ctx },
		.max_recv_msg = MSG_MAX,
		.max_send_msg = MSG_MAX,
		.connect_timeout_ms = 5000,
		.backoff_max_ms = 2000,
	};
	if ((r = rpc_client_new(&nc->cli, &o)) < 0)
		goto fail;
	*out = nc;
	return 0;
fail:
	nodeclient_free(nc);
	return r;
}

void nodeclient_free(struct nodeclient *nc)
{
	if (!nc)
		return;
	rpc_client_free(nc->cli);
	SSL_CTX_free(nc->ctx);
	free(nc);
}

/* One unary call: pack, call, unpack. */
static int call(struct nodeclient *nc, const char *method, const ProtobufCMessage *req,
		const ProtobufCMessageDescriptor *resp_desc, ProtobufCMessage **resp, char *err, size_t errlen)
{
	uint8_t *in = NULL, *outb = NULL;
	size_t in_len = 0, out_len = 0;
	struct rpc_status st;
	char path[128];
	snprintf(path, sizeof(path), SVC "%s", method);
	int r = rpc_pb_pack(req, MSG_MAX, &in, &in_len);
	if (r < 0) {
		snprintf(err, errlen, "cannot encode %s: %s", method, cox_strerror(r));
		return r;
	}
	r = rpc_client_unary(nc->cli, path, in, in_len, NULL, DEADLINE_MS, &outb, &out_len, &st);
	mem_free_secret(in, in_len); /* may hold preshared keys */
	if (r < 0) {
		snprintf(err, errlen, "%s: %s%s%s", method, rpc_status_name(st.code), st.message[0] ? ": " : "",
			 st.message);
		return r == -EREMOTEIO ? -EREMOTEIO : r;
	}
	r = rpc_pb_unpack(resp_desc, outb, out_len, MSG_MAX, resp);
	mem_free(outb);
	if (r < 0)
		snprintf(err, errlen, "%s: the node's answer does not decode: %s", method, cox_strerror(r));
	return r;
}

void node_status_fini(struct node_status *s)
{
	free(s->obfuscation);
	s->obfuscation = NULL;
}

static char *obf_text(const Pharos__Node__V1__AmneziaWGObfuscation *o)
{
	if (!o)
		return strdup("");
	size_t cap = 256;
	const char *is[5] = { o->i1, o->i2, o->i3, o->i4, o->i5 };
	for (int k = 0; k < 5; k++)
		cap += (is[k] ? strlen(is[k]) : 0) + 8;
	char *s = malloc(cap);
	if (!s)
		return NULL;
	int n = snprintf(s, cap, "jc=%u\njmin=%u\njmax=%u\ns1=%u\ns2=%u\ns3=%u\ns4=%u\nh1=%s\nh2=%s\nh3=%s\nh4=%s\n", o->jc,
			 o->jmin, o->jmax, o->s1, o->s2, o->s3, o->s4, o->h1, o->h2, o->h3, o->h4);
	for (int k = 0; k < 5 && n > 0 && (size_t)n < cap; k++)
		if (is[k] && is[k][0])
			n += snprintf(s + n, cap - (size_t)n, "i%d=%s\n", k + 1, is[k]);
	return s;
}

int nodeclient_status(struct nodeclient *nc, struct node_status *out, char *err, size_t errlen)
{
	memset(out, 0, sizeof(*out));
	out->newest_handshake_age = -1;
	Pharos__Node__V1__GetStatusRequest req = PHAROS__NODE__V1__GET_STATUS_REQUEST__INIT;
	Pharos__Node__V1__GetStatusResponse *resp = NULL;
	int r = call(nc, "GetStatus", &req.base, &pharos__node__v1__get_status_response__descriptor,
		     (ProtobufCMessage **)&resp, err, errlen);
	if (r < 0)
		return r;
	snprintf(out->agent_version, sizeof(out->agent_version), "%s", resp->agent_version);
	out->uptime = resp->uptime_seconds;
	out->applied_revision = resp->applied_revision;
	for (size_t i = 0; i < resp->n_services; i++) {
		const Pharos__Node__V1__ServiceStatus *s = resp->services[i];
		if (s->protocol != PHAROS__NODE__V1__PROTOCOL__PROTOCOL_AMNEZIAWG)
			continue;
		out->awg_running = s->running;
		out->awg_listening = s->listening;
		out->peer_count = s->peer_count;
		out->handshaking_peers = s->handshaking_peers;
		out->newest_handshake_age = s->newest_handshake_age_seconds;
		if (s->applied_revision)
			out->applied_revision = s->applied_revision;
	}
	if (resp->amneziawg) {
		snprintf(out->awg_public_key, sizeof(out->awg_public_key), "%s", resp->amneziawg->public_key);
		out->listen_port = (uint16_t)resp->amneziawg->listen_port;
		out->listen_port_max = (uint16_t)resp->amneziawg->listen_port_max;
		out->obfuscation = obf_text(resp->amneziawg->obfuscation);
		if (!out->obfuscation)
			r = -ENOMEM;
	}
	if (resp->xray)
		snprintf(out->reality_public_key, sizeof(out->reality_public_key), "%s", resp->xray->public_key);
	rpc_pb_free(&resp->base);
	return r;
}

int nodeclient_push_awg(struct nodeclient *nc, uint64_t revision, const struct node_peer *peers, size_t n,
			uint64_t *applied, bool *reloaded, char *err, size_t errlen)
{
	Pharos__Node__V1__PushConfigRequest req = PHAROS__NODE__V1__PUSH_CONFIG_REQUEST__INIT;
	Pharos__Node__V1__AmneziaWGConfig cfg = PHAROS__NODE__V1__AMNEZIA_WGCONFIG__INIT;
	Pharos__Node__V1__PushConfigResponse *resp = NULL;
	Pharos__Node__V1__Peer *pv = n ? calloc(n, sizeof(*pv)) : NULL;
	Pharos__Node__V1__Peer **pp = n ? calloc(n, sizeof(*pp)) : NULL;
	int r = -ENOMEM;
	if (n && (!pv || !pp))
		goto out;
	for (size_t i = 0; i < n; i++) {
		Pharos__Node__V1__Peer init = PHAROS__NODE__V1__PEER__INIT;
		pv[i] = init;
		pv[i].id = (char *)peers[i].id;
		pv[i].protocol = PHAROS__NODE__V1__PROTOCOL__PROTOCOL_AMNEZIAWG;
		pv[i].public_key = (char *)peers[i].public_key;
		pv[i].preshared_key = (char *)peers[i].preshared_key;
		pv[i].allowed_ips = (char **)peers[i].allowed_ips;
		pv[i].n_allowed_ips = peers[i].n_allowed;
		pp[i] = &pv[i];
	}
	cfg.peers = pp;
	cfg.n_peers = n;
	req.protocol = PHAROS__NODE__V1__PROTOCOL__PROTOCOL_AMNEZIAWG;
	req.revision = revision;
	req.config_case = PHAROS__NODE__V1__PUSH_CONFIG_REQUEST__CONFIG_AMNEZIAWG;
	req.amneziawg = &cfg;
	r = call(nc, "PushConfig", &req.base, &pharos__node__v1__push_config_response__descriptor,
		 (ProtobufCMessage **)&resp, err, errlen);
	if (r == 0) {
		if (applied)
			*applied = resp->applied_revision;
		if (reloaded)
			*reloaded = resp->reloaded;
		rpc_pb_free(&resp->base);
	}
out:
	free(pv);
	free(pp);
	return r;
}

int nodeclient_set_network(struct nodeclient *nc, bool forwarding, bool masquerade, bool isolation, char *err,
			   size_t errlen)
{
	Pharos__Node__V1__SetNetworkConfigRequest req = PHAROS__NODE__V1__SET_NETWORK_CONFIG_REQUEST__INIT;
	Pharos__Node__V1__NetworkConfig cfg = PHAROS__NODE__V1__NETWORK_CONFIG__INIT;
	Pharos__Node__V1__SetNetworkConfigResponse *resp = NULL;
	cfg.forwarding = forwarding;
	cfg.masquerade = masquerade;
	cfg.isolation = isolation;
	req.config = &cfg;
	int r = call(nc, "SetNetworkConfig", &req.base, &pharos__node__v1__set_network_config_response__descriptor,
		     (ProtobufCMessage **)&resp, err, errlen);
	if (r == 0)
		rpc_pb_free(&resp->base);
	return r;
}

int nodeclient_list_peers(struct nodeclient *nc, size_t *n, char *err, size_t errlen)
{
	Pharos__Node__V1__ListPeersRequest req = PHAROS__NODE__V1__LIST_PEERS_REQUEST__INIT;
	Pharos__Node__V1__ListPeersResponse *resp = NULL;
	req.protocol = PHAROS__NODE__V1__PROTOCOL__PROTOCOL_AMNEZIAWG;
	int r = call(nc, "ListPeers", &req.base, &pharos__node__v1__list_peers_response__descriptor,
		     (ProtobufCMessage **)&resp, err, errlen);
	if (r == 0) {
		*n = resp->n_peers;
		rpc_pb_free(&resp->base);
	}
	return r;
}

int nodeclient_restart_awg(struct nodeclient *nc, char *err, size_t errlen)
{
	Pharos__Node__V1__RestartServiceRequest req = PHAROS__NODE__V1__RESTART_SERVICE_REQUEST__INIT;
	Pharos__Node__V1__RestartServiceResponse *resp = NULL;
	req.protocol = PHAROS__NODE__V1__PROTOCOL__PROTOCOL_AMNEZIAWG;
	int r = call(nc, "RestartService", &req.base, &pharos__node__v1__restart_service_response__descriptor,
		     (ProtobufCMessage **)&resp, err, errlen);
	if (r == 0)
		rpc_pb_free(&resp->base);
	return r;
}
