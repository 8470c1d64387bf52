#include "node/engine.h"

#include <errno.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "awg/device.h"
#include "awg/obf.h"
#include "awg/uapi_client.h"
#include "lib/buf.h"
#include "lib/enc.h"
#include "lib/fileio.h"
#include "lib/log.h"
#include "lib/mem.h"
#include "node/events.h"
#include "node/identity.h"

#define SET_MAX (256u << 20)

struct node_engine {
	struct node_engine_opts opts;
	char ifname[16];
	struct device *dev;
};

const char *node_engine_ifname(const struct node_engine *e)
{
	return e->ifname;
}

static void on_event(void *ctx, const struct device_event *ev)
{
	struct node_engine *e = ctx;
	if (!e->opts.hub)
		return;
	struct node_event ne = { .endpoint = ev->endpoint, .rx_bytes = ev->rx_bytes, .tx_bytes = ev->tx_bytes };
	memcpy(ne.public_key, ev->public_key, sizeof(ne.public_key));
	switch (ev->type) {
	case DEV_EVENT_HANDSHAKE:
		ne.type = NODE_EV_HANDSHAKE_UP;
		events_publish(e->opts.hub, &ne);
		if (ev->connected) {
			ne.type = NODE_EV_PEER_CONNECTED;
			events_publish(e->opts.hub, &ne);
		}
		break;
	case DEV_EVENT_ENDPOINT:
		ne.type = NODE_EV_PEER_ROAMED;
		events_publish(e->opts.hub, &ne);
		break;
	case DEV_EVENT_SESSION_DOWN:
		ne.type = NODE_EV_HANDSHAKE_DOWN;
		events_publish(e->opts.hub, &ne);
		ne.type = NODE_EV_PEER_DISCONNECTED;
		events_publish(e->opts.hub, &ne);
		break;
	case DEV_EVENT_SESSION_EXPIRED:
		break;
	}
}

/* Runs one UAPI set body; -errno from the daemon side, or ours. */
static int uapi_set(struct node_engine *e, struct buf *body, char *err, size_t errlen)
{
	char *reply = NULL;
	size_t rlen = 0;
	if (buf_printf(body, "\n") < 0)
		return ERR_TOOBIG;
	int rc = device_uapi_request(e->dev, (const char *)body->data, body->len, &reply, &rlen);
	if (rc == 0) {
		int dev_errno = 0;
		if (sscanf(reply, "errno=%d", &dev_errno) != 1)
			rc = ERR_PROTO;
		else
			rc = dev_errno;
	}
	if (rc < 0 && err)
		snprintf(err, errlen, "the engine refused the configuration: %s", err_str(rc));
	mem_free(reply);
	return rc;
}

static int append_peer(struct buf *b, const struct node_peer_spec *p)
{
	char hex[ENC_KEY_HEX_LEN];
	static const uint8_t zero[32];
	int rc = 0;
	enc_key_to_hex(hex, p->public_key);
	rc |= buf_printf(b, "public_key=%s\n", hex);
	enc_key_to_hex(hex, p->has_psk ? p->psk : zero);
	rc |= buf_printf(b, "preshared_key=%s\nreplace_allowed_ips=true\npersistent_keepalive_interval=%u\n", hex,
	                 p->keepalive);
	sodium_memzero(hex, sizeof(hex));
	for (size_t i = 0; i < p->n_allowed_ips; i++) {
		char c[CIDR_STRLEN];
		if (cidr_format(&p->allowed_ips[i], c, sizeof(c)) < 0)
			return -EINVAL;
		rc |= buf_printf(b, "allowed_ip=%s\n", c);
	}
	if (p->has_endpoint) {
		char ep[ENDPOINT_STRLEN];
		if (endpoint_format(&p->endpoint, ep, sizeof(ep)) < 0)
			return -EINVAL;
		rc |= buf_printf(b, "endpoint=%s\n", ep);
	}
	return rc ? ERR_TOOBIG : 0;
}

static int configure_device(struct node_engine *e)
{
	struct buf b;
	char hex[ENC_KEY_HEX_LEN], obf[4096];
	int rc = 0;
	buf_init(&b, 1 << 20);
	enc_key_to_hex(hex, e->opts.id->awg_private);
	rc |= buf_printf(&b, "set=1\nprivate_key=%s\n", hex);
	sodium_memzero(hex, sizeof(hex));
	if (e->opts.port_hi > e->opts.port)
		rc |= buf_printf(&b, "listen_port_range=%u-%u\n", e->opts.port, e->opts.port_hi);
	else
		rc |= buf_printf(&b, "listen_port=%u\n", e->opts.port);
	int n = obf_params_format(&e->opts.id->obf, obf, sizeof(obf));
	if (n < 0 || rc) {
		buf_fini_secret(&b);
		return n < 0 ? n : ERR_TOOBIG;
	}
	rc = buf_append(&b, obf, (size_t)n);
	if (rc == 0)
		rc = uapi_set(e, &b, NULL, 0);
	buf_fini_secret(&b);
	return rc;
}

static int start_device(struct node_engine *e)
{
	struct device_options o = { .ifname = e->ifname, .tun_fd = e->opts.tun_given ? e->opts.tun_fd : -1,
		                    .tun_vnet = e->opts.tun_vnet, .tun_uso = e->opts.tun_uso,
		                    .udp_open = e->opts.udp_open, .udp_open_ctx = e->opts.udp_open_ctx,
		                    .no_tun = e->opts.no_tun, .timer_scale = e->opts.timer_scale };
	char path[128];
	int rc = device_new(&e->dev, &o);
	if (rc < 0)
		return rc;
	snprintf(e->ifname, sizeof(e->ifname), "%s", device_ifname(e->dev));
	device_set_event_handler(e->dev, on_event, e);
	if ((rc = configure_device(e)) < 0)
		goto fail;
	if (!e->opts.no_tun) {
		/* Inspection with `wg show` / `pharos-awg show`, as on any node. */
		static const char *const dirs[] = { "/var/run/wireguard", "/var/run/amneziawg" };
		const char *own[] = { e->opts.uapi_dir };
		const char *const *list = e->opts.uapi_dir ? own : dirs;
		for (size_t i = 0; i < (e->opts.uapi_dir ? 1u : 2u); i++) {
			int n = snprintf(path, sizeof(path), "%s/%s.sock", list[i], e->ifname);
			if (n < 0 || (size_t)n >= sizeof(path)) {
				rc = -ENAMETOOLONG;
				goto fail;
			}
			if ((rc = fileio_mkdir_p(list[i], 0755)) < 0 || (rc = device_uapi_listen(e->dev, path)) < 0)
				goto fail;
		}
	}
	if ((rc = device_start(e->dev)) < 0)
		goto fail;
	return 0;
fail:
	device_free(e->dev);
	e->dev = NULL;
	return rc;
}

int node_engine_new(struct node_engine **out, const struct node_engine_opts *o)
{
	*out = NULL;
	struct node_engine *e = mem_zalloc(sizeof(*e));
	if (!e)
		return -ENOMEM;
	e->opts = *o;
	snprintf(e->ifname, sizeof(e->ifname), "%s", o->ifname ? o->ifname : "awg0");
	int rc = start_device(e);
	if (rc < 0) {
		mem_free(e);
		return rc;
	}
	*out = e;
	return 0;
}

void node_engine_free(struct node_engine *e)
{
	if (!e)
		return;
	device_free(e->dev);
	mem_free(e);
}

int node_engine_snapshot(struct node_engine *e, struct uapi_client_device **out)
{
	char *reply = NULL;
	size_t rlen = 0;
	char err[192];
	*out = NULL;
	int rc = device_uapi_request(e->dev, "get=1\n\n", 7, &reply, &rlen);
	if (rc == 0)
		rc = uapi_client_parse_reply(reply, rlen, out, err, sizeof(err));
	if (reply) {
		sodium_memzero(reply, rlen);
		mem_free(reply);
	}
	if (rc == 0) {
		snprintf((*out)->name, sizeof((*out)->name), "%s", e->ifname);
		uapi_client_sort_peers(*out);
	}
	return rc;
}

int node_engine_summary(struct node_engine *e, int64_t now_sec, int64_t window_sec, struct device_summary *out)
{
	if (!e->dev || device_stopped(e->dev))
		return -ENODEV;
	device_get_summary(e->dev, now_sec, window_sec, out);
	return 0;
}

static int cmp_key(const void *a, const void *b)
{
	return memcmp(a, b, 32);
}

int node_engine_replace_peers(struct node_engine *e, const struct node_peer_spec *peers, size_t n, char *err,
                              size_t errlen)
{
	struct uapi_client_device *cur = NULL;
	uint8_t (*keys)[32] = NULL;
	struct buf b;
	int rc = node_engine_snapshot(e, &cur);
	if (rc < 0)
		return rc;
	buf_init(&b, SET_MAX);
	if (n && !(keys = mem_alloc(n * 32))) {
		rc = -ENOMEM;
		goto out;
	}
	for (size_t i = 0; i < n; i++)
		memcpy(keys[i], peers[i].public_key, 32);
	if (n)
		qsort(keys, n, 32, cmp_key);
	rc = buf_printf(&b, "set=1\n");
	/* Peers that are not in the new set go; the others are rewritten in
	 * place (their sessions are untouched). One transaction for all. */
	for (size_t i = 0; i < cur->n_peers && rc == 0; i++)
		if (!n || !bsearch(cur->peers[i].public_key, keys, n, 32, cmp_key))
			rc = uapi_client_body_add_remove_peer(&b, cur->peers[i].public_key);
	for (size_t i = 0; i < n && rc == 0; i++)
		rc = append_peer(&b, &peers[i]);
	if (rc == 0)
		rc = uapi_set(e, &b, err, errlen);
out:
	mem_free(keys);
	buf_fini_secret(&b);
	uapi_client_device_free(cur);
	return rc;
}

int node_engine_add_peer(struct node_engine *e, const struct node_peer_spec *p, char *err, size_t errlen)
{
	struct buf b;
	buf_init(&b, 1 << 20);
	int rc = buf_printf(&b, "set=1\n");
	if (rc == 0)
		rc = append_peer(&b, p);
	if (rc == 0)
		rc = uapi_set(e, &b, err, errlen);
	buf_fini_secret(&b);
	return rc;
}

int node_engine_remove_peer(struct node_engine *e, const uint8_t public_key[32])
{
	struct buf b;
	buf_init(&b, 4096);
	int rc = buf_printf(&b, "set=1\n");
	if (rc == 0)
		rc = uapi_client_body_add_remove_peer(&b, public_key);
	if (rc == 0)
		rc = uapi_set(e, &b, NULL, 0);
	buf_fini(&b);
	return rc;
}

int node_engine_restart(struct node_engine *e)
{
	struct uapi_client_device *cur = NULL;
	struct node_peer_spec *specs = NULL;
	int rc = node_engine_snapshot(e, &cur);
	if (rc < 0)
		return rc;
	if (cur->n_peers && !(specs = mem_zalloc(cur->n_peers * sizeof(*specs)))) {
		uapi_client_device_free(cur);
		return -ENOMEM;
	}
	for (size_t i = 0; i < cur->n_peers; i++) {
		const struct uapi_client_peer *cp = &cur->peers[i];
		memcpy(specs[i].public_key, cp->public_key, 32);
		specs[i].has_psk = cp->has_preshared_key;
		memcpy(specs[i].psk, cp->preshared_key, 32);
		specs[i].allowed_ips = cp->allowed_ips;
		specs[i].n_allowed_ips = cp->n_allowed_ips;
		specs[i].keepalive = cp->persistent_keepalive;
	}
	device_free(e->dev);
	e->dev = NULL;
	if ((rc = start_device(e)) == 0)
		rc = node_engine_replace_peers(e, specs, cur->n_peers, NULL, 0);
	if (specs)
		sodium_memzero(specs, cur->n_peers * sizeof(*specs));
	mem_free(specs);
	uapi_client_device_free(cur);
	return rc;
}
