/* libcaravel tunnels: the AmneziaWG engine in-process on a TUN device, with
 * one manager thread that owns the choice of node and entry (DESIGN.md §6.3
 * and §11 "The client as built"):
 *   - entry: a random (ip, port) from the node's pool; with rotation on, a
 *     fresh pick every interval ± jitter (only the peer's endpoint changes:
 *     WireGuard roaming, the session and its keys stay);
 *   - failover: no handshake within handshake_timeout_ms of choosing a node
 *     moves to the next usable node, round the list;
 *   - liveness: data sent but nothing received for LOST_MS (and at least
 *     LOST_BYTES) means the node lost our session (it restarted, say): the
 *     peer is re-created, which starts a new handshake at once, and the
 *     failover clock runs again.
 * The engine reports handshakes and roams on its own threads (under its
 * device lock); the handler only records them under t->mu and wakes the
 * manager, which alone calls into the engine and the host's callback, and
 * never while holding t->mu. */
#include "caravel/caravel.h"

#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <sodium.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "awg/device.h"
#include "awg/uapi_client.h"
#include "caravel/pool.h"
#include "caravel/priv.h"
#include "lib/buf.h"
#include "lib/enc.h"
#include "lib/mem.h"
#include "lib/rng.h"
#include "profile/profile.h"

#define TICK_MS 100
#define STATS_EVERY_MS 250
#define LOST_MS 2000
#define LOST_BYTES 1024
#define DEFAULT_HANDSHAKE_TIMEOUT_MS 3000
#define DEFAULT_KEEPALIVE 25
#define SET_MAX (1u << 20)

struct caravel_tunnel {
	struct device *dev;
	struct profile prof;
	uint8_t sk[PROFILE_KEY_LEN];
	uint32_t hs_timeout_ms, fwmark;
	caravel_event_fn on_event;
	void *ev_ctx;
	char ifname[CARAVEL_IFNAME_MAX];
	pthread_t thread;
	bool thread_started;
	pthread_mutex_t mu;
	pthread_cond_t cv;

	/* Under mu. */
	bool stop, rotate_now, roamed, lost_pending, stopped;
	unsigned hs_pending;
	bool connected_pending;
	size_t node;
	uint8_t node_pk[PROFILE_KEY_LEN];
	union endpoint ep;
	uint64_t chosen_ns, last_hs_ns; /* last_hs_ns 0: none since chosen */
	uint64_t rx_bytes, tx_bytes;
	uint64_t rotations, failovers;

	/* Manager thread only. */
	uint64_t next_rot_ns, next_stats_ns;
	uint64_t base_rx, base_tx, base_ns; /* counters when rx last moved */
};

static uint64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* CLOCK_MONOTONIC time ms from now, for pthread_cond_timedwait. */
static struct timespec deadline_in(uint32_t ms)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	ts.tv_sec += ms / 1000;
	ts.tv_nsec += (long)(ms % 1000) * 1000000L;
	if (ts.tv_nsec >= 1000000000L) {
		ts.tv_sec++;
		ts.tv_nsec -= 1000000000L;
	}
	return ts;
}

static void ep_text(const union endpoint *e, char out[CARAVEL_ENDPOINT_MAX])
{
	if (endpoint_format(e, out, CARAVEL_ENDPOINT_MAX) < 0)
		snprintf(out, CARAVEL_ENDPOINT_MAX, "?");
}

static int emit(struct caravel_tunnel *t, enum caravel_event_type type, const char *node_id, const union endpoint *e,
                const char *msg)
{
	char es[CARAVEL_ENDPOINT_MAX] = "";
	if (!t->on_event)
		return 0;
	if (e)
		ep_text(e, es);
	struct caravel_event ev = { .size = sizeof(ev), .type = type, .node_id = node_id, .endpoint = es,
		                    .message = msg ? msg : "" };
	return t->on_event(t->ev_ctx, &ev);
}

/* Engine thread, device lock held: record and wake, nothing more. */
static void on_engine_event(void *ctx, const struct device_event *ev)
{
	struct caravel_tunnel *t = ctx;
	pthread_mutex_lock(&t->mu);
	if (memcmp(ev->public_key, t->node_pk, sizeof(t->node_pk)) == 0) {
		switch (ev->type) {
		case DEV_EVENT_HANDSHAKE:
			if (!t->last_hs_ns)
				t->connected_pending = true;
			t->last_hs_ns = now_ns();
			t->hs_pending++;
			break;
		case DEV_EVENT_ENDPOINT:
			/* A late reply from the entry we just left roams the
			 * peer back; the manager re-asserts our pick. */
			if (!endpoint_equal(&ev->endpoint, &t->ep))
				t->roamed = true;
			break;
		case DEV_EVENT_SESSION_DOWN:
			t->lost_pending = true;
			break;
		case DEV_EVENT_SESSION_EXPIRED:
			break;
		}
	}
	pthread_cond_broadcast(&t->cv);
	pthread_mutex_unlock(&t->mu);
}

/* One UAPI set; 0 or the engine's negative errno. */
static int uapi_set(struct caravel_tunnel *t, struct buf *b, char *err, size_t errlen)
{
	char *reply = NULL;
	size_t rlen = 0;
	int dev_errno = 0;
	if (buf_printf(b, "\n") < 0)
		return ERR_TOOBIG;
	int rc = device_uapi_request(t->dev, (const char *)b->data, b->len, &reply, &rlen);
	if (rc == 0)
		rc = sscanf(reply, "errno=%d", &dev_errno) == 1 ? dev_errno : ERR_PROTO;
	if (rc < 0 && err)
		snprintf(err, errlen, "the engine refused the configuration: %s", caravel_strerror(rc));
	mem_free(reply);
	return rc;
}

static int append_key(struct buf *b, const char *k, const uint8_t key[PROFILE_KEY_LEN])
{
	char hex[ENC_KEY_HEX_LEN];
	enc_key_to_hex(hex, key);
	int rc = buf_printf(b, "%s=%s\n", k, hex);
	sodium_memzero(hex, sizeof(hex));
	return rc;
}

/* The node's obfuscation set, from a clean slate: the engine keeps keys a
 * set does not name, and the previous node's must not leak into this one. */
static int append_obfuscation(struct buf *b, const struct profile_awg *awg)
{
	int rc = buf_printf(b, "jc=0\njmin=0\njmax=0\ns1=0\ns2=0\ns3=0\ns4=0\nh1=1\nh2=2\nh3=3\nh4=4\n"
	                       "i1=\ni2=\ni3=\ni4=\ni5=\n");
	if (rc == 0 && awg->obfuscation && *awg->obfuscation) {
		rc = buf_printf(b, "%s", awg->obfuscation);
		if (rc == 0 && awg->obfuscation[strlen(awg->obfuscation) - 1] != '\n')
			rc = buf_printf(b, "\n");
	}
	return rc;
}

/* Points the engine at node i, entry e: the previous node's peer is removed
 * (also when it is the same node: a fresh peer handshakes at once). Called
 * without t->mu. */
static int configure_node(struct caravel_tunnel *t, size_t i, const union endpoint *e, const uint8_t *old_pk,
                          char *err, size_t errlen)
{
	const struct profile_node *n = &t->prof.nodes[i];
	const struct profile_awg *awg = caravel_node_awg(n);
	char es[ENDPOINT_STRLEN];
	struct buf b;
	buf_init(&b, SET_MAX);
	int rc = buf_printf(&b, "set=1\n");
	if (!old_pk) {
		rc |= append_key(&b, "private_key", t->sk);
		if (t->fwmark)
			rc |= buf_printf(&b, "fwmark=%" PRIu32 "\n", t->fwmark);
	}
	rc |= append_obfuscation(&b, awg);
	if (old_pk)
		rc |= append_key(&b, "public_key", old_pk) | buf_printf(&b, "remove=true\n");
	rc |= append_key(&b, "public_key", awg->public_key);
	rc |= append_key(&b, "preshared_key", awg->preshared_key);
	if (endpoint_format(e, es, sizeof(es)) < 0)
		rc = -EINVAL;
	rc |= buf_printf(&b, "endpoint=%s\nreplace_allowed_ips=true\nallowed_ip=0.0.0.0/0\nallowed_ip=::/0\n"
	                     "persistent_keepalive_interval=%u\n",
	                 es, awg->keepalive ? awg->keepalive : DEFAULT_KEEPALIVE);
	if (rc == 0) {
		pthread_mutex_lock(&t->mu);
		t->node = i;
		memcpy(t->node_pk, awg->public_key, sizeof(t->node_pk));
		t->ep = *e;
		t->chosen_ns = now_ns();
		t->last_hs_ns = 0;
		t->rx_bytes = t->tx_bytes = 0;
		pthread_mutex_unlock(&t->mu);
		rc = uapi_set(t, &b, err, errlen);
	} else if (err) {
		snprintf(err, errlen, "building the configuration of node \"%s\" failed: %s", n->id, caravel_strerror(rc));
		rc = rc < 0 ? rc : ERR_TOOBIG;
	}
	buf_fini_secret(&b);
	return rc;
}

/* Only the endpoint changes: roaming, no new handshake. */
static int set_endpoint(struct caravel_tunnel *t, const union endpoint *e)
{
	char es[ENDPOINT_STRLEN];
	struct buf b;
	buf_init(&b, 4096);
	int rc = buf_printf(&b, "set=1\n");
	rc |= append_key(&b, "public_key", t->node_pk);
	if (endpoint_format(e, es, sizeof(es)) < 0)
		rc = -EINVAL;
	rc |= buf_printf(&b, "update_only=true\nendpoint=%s\n", es);
	if (rc == 0)
		rc = uapi_set(t, &b, NULL, 0);
	buf_fini(&b);
	return rc < 0 ? rc : 0;
}

/* Picks an entry of node i the host accepts (the ENDPOINT event may veto a
 * few); ERR_NOTFOUND when it refuses them all. */
static int pick_entry(struct caravel_tunnel *t, size_t i, const union endpoint *avoid, union endpoint *out)
{
	const struct profile_node *n = &t->prof.nodes[i];
	for (int tries = 0; tries < 8; tries++) {
		int rc = caravel_pool_pick(n, rng_u32(), avoid, out);
		if (rc < 0)
			return rc;
		if (emit(t, CARAVEL_EVENT_ENDPOINT, n->id, out, "") == 0)
			return 0;
	}
	return ERR_NOTFOUND;
}

/* Moves to node `from` or the next usable one after it; the old peer goes. */
static int choose_node(struct caravel_tunnel *t, size_t from, const uint8_t *old_pk, char *err, size_t errlen)
{
	for (size_t k = 0; k < t->prof.n_nodes; k++) {
		long i = caravel_node_next(&t->prof, (from + k) % t->prof.n_nodes);
		union endpoint e;
		if (i < 0)
			break;
		if (pick_entry(t, (size_t)i, NULL, &e) < 0)
			continue;
		return configure_node(t, (size_t)i, &e, old_pk, err, errlen);
	}
	if (err)
		snprintf(err, errlen, "no usable node: every entry was refused");
	return CARAVEL_ERR_NO_NODE;
}

static void schedule_rotation(struct caravel_tunnel *t, uint64_t now)
{
	const struct profile_rotation *r = &t->prof.rotation;
	t->next_rot_ns = r->enabled && r->interval
	                         ? now + caravel_rotation_delay_ms(r->interval, r->jitter, rng_u32()) * 1000000u
	                         : 0;
}

/* Byte counters of our one peer, from the engine. */
static int read_stats(struct caravel_tunnel *t, uint64_t *rx, uint64_t *tx)
{
	char *reply = NULL;
	size_t rlen = 0;
	struct uapi_client_device *d = NULL;
	int rc = device_uapi_request(t->dev, "get=1\n\n", 7, &reply, &rlen);
	if (rc == 0)
		rc = uapi_client_parse_reply(reply, rlen, &d, NULL, 0);
	if (reply)
		mem_free_secret(reply, rlen);
	if (rc < 0)
		return rc;
	rc = ERR_NOTFOUND;
	for (size_t i = 0; i < d->n_peers; i++)
		if (!memcmp(d->peers[i].public_key, t->node_pk, sizeof(t->node_pk))) {
			*rx = d->peers[i].rx_bytes;
			*tx = d->peers[i].tx_bytes;
			rc = 0;
		}
	uapi_client_device_free(d);
	return rc;
}

static void manage(struct caravel_tunnel *t, uint64_t now)
{
	pthread_mutex_lock(&t->mu);
	unsigned hs = t->hs_pending;
	bool connected = t->connected_pending, roamed = t->roamed, lost = t->lost_pending, rotate = t->rotate_now;
	t->hs_pending = 0;
	t->connected_pending = t->roamed = t->lost_pending = t->rotate_now = false;
	size_t node = t->node;
	uint8_t pk[PROFILE_KEY_LEN];
	memcpy(pk, t->node_pk, sizeof(pk));
	union endpoint ep = t->ep;
	uint64_t chosen = t->chosen_ns, last_hs = t->last_hs_ns;
	pthread_mutex_unlock(&t->mu);
	const char *id = t->prof.nodes[node].id;

	if (connected)
		emit(t, CARAVEL_EVENT_CONNECTED, id, &ep, "");
	if (hs) {
		emit(t, CARAVEL_EVENT_HANDSHAKE, id, &ep, "");
		t->base_ns = now; /* the node answered */
		t->base_rx = t->base_tx = UINT64_MAX;
	}
	if (roamed)
		(void)set_endpoint(t, &ep);

	if (!last_hs && now - chosen > (uint64_t)t->hs_timeout_ms * 1000000u) {
		char msg[160];
		snprintf(msg, sizeof(msg), "no handshake within %" PRIu32 " ms", t->hs_timeout_ms);
		emit(t, CARAVEL_EVENT_FAILOVER, id, &ep, msg);
		if (choose_node(t, node + 1, pk, NULL, 0) == 0) {
			pthread_mutex_lock(&t->mu);
			t->failovers++;
			pthread_mutex_unlock(&t->mu);
		}
		t->base_ns = now;
		t->base_rx = t->base_tx = UINT64_MAX;
		schedule_rotation(t, now);
		return;
	}

	if (now >= t->next_stats_ns) {
		uint64_t rx = 0, tx = 0;
		t->next_stats_ns = now + STATS_EVERY_MS * 1000000u;
		if (read_stats(t, &rx, &tx) == 0) {
			pthread_mutex_lock(&t->mu);
			t->rx_bytes = rx;
			t->tx_bytes = tx;
			pthread_mutex_unlock(&t->mu);
			if (t->base_rx == UINT64_MAX || rx != t->base_rx) {
				t->base_rx = rx;
				t->base_tx = tx;
				t->base_ns = now;
			} else if (last_hs && tx >= t->base_tx + LOST_BYTES && now - t->base_ns > LOST_MS * 1000000ull)
				lost = true;
		}
	}
	if (lost) {
		emit(t, CARAVEL_EVENT_LOST, id, &ep, "data sent, nothing received: handshaking again");
		(void)configure_node(t, node, &ep, pk, NULL, 0);
		t->base_rx = t->base_tx = UINT64_MAX;
		return;
	}

	if (rotate || (t->next_rot_ns && now >= t->next_rot_ns)) {
		union endpoint e;
		schedule_rotation(t, now);
		if (pick_entry(t, node, &ep, &e) == 0) {
			/* Recorded first, so a late reply from the old entry
			 * counts as a roam to undo. */
			pthread_mutex_lock(&t->mu);
			t->ep = e;
			t->rotations++;
			pthread_mutex_unlock(&t->mu);
			if (set_endpoint(t, &e) < 0) {
				pthread_mutex_lock(&t->mu);
				t->ep = ep;
				t->rotations--;
				pthread_mutex_unlock(&t->mu);
			}
		}
	}
}

static void *manager_main(void *arg)
{
	struct caravel_tunnel *t = arg;
	for (;;) {
		struct timespec ts = deadline_in(TICK_MS);
		pthread_mutex_lock(&t->mu);
		if (t->stop) {
			pthread_mutex_unlock(&t->mu);
			break;
		}
		if (!t->hs_pending && !t->roamed && !t->lost_pending && !t->rotate_now)
			pthread_cond_timedwait(&t->cv, &t->mu, &ts);
		bool stop = t->stop;
		pthread_mutex_unlock(&t->mu);
		if (stop)
			break;
		if (device_stopped(t->dev)) {
			pthread_mutex_lock(&t->mu);
			t->stopped = true;
			pthread_cond_broadcast(&t->cv);
			pthread_mutex_unlock(&t->mu);
			emit(t, CARAVEL_EVENT_STOPPED, t->prof.nodes[t->node].id, NULL, "the engine stopped");
			break;
		}
		manage(t, now_ns());
	}
	return NULL;
}

static int copy_profile(struct profile *dst, const struct profile *src, char *err, size_t errlen)
{
	char *json = NULL;
	int rc = profile_to_json(src, &json);
	if (rc == 0)
		rc = profile_parse(json, strlen(json), dst, err, errlen);
	if (json)
		mem_free_secret(json, strlen(json));
	return rc;
}

int caravel_tunnel_start(const struct caravel_tunnel_config *cfg, caravel_tunnel **out, char *err, size_t errlen)
{
	*out = NULL;
	if (!cfg || cfg->size < sizeof(*cfg) || !cfg->profile || !cfg->device_awg_sk) {
		snprintf(err, errlen, "caravel_tunnel_config: size, profile or device key missing");
		return CARAVEL_ERR_VERSION;
	}
	struct caravel_tunnel *t = mem_zalloc(sizeof(*t));
	if (!t)
		return -ENOMEM;
	profile_init(&t->prof);
	pthread_mutex_init(&t->mu, NULL);
	pthread_condattr_t ca;
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&t->cv, &ca);
	pthread_condattr_destroy(&ca);
	memcpy(t->sk, cfg->device_awg_sk, sizeof(t->sk));
	t->hs_timeout_ms = cfg->handshake_timeout_ms ? cfg->handshake_timeout_ms : DEFAULT_HANDSHAKE_TIMEOUT_MS;
	t->fwmark = cfg->fwmark;
	t->on_event = cfg->on_event;
	t->ev_ctx = cfg->event_ctx;
	t->base_rx = t->base_tx = UINT64_MAX;

	int rc = copy_profile(&t->prof, &cfg->profile->p, err, errlen);
	if (rc < 0)
		goto fail;
	size_t first = 0;
	if (cfg->node_id && *cfg->node_id) {
		for (first = 0; first < t->prof.n_nodes && strcmp(t->prof.nodes[first].id, cfg->node_id); first++)
			;
		if (first == t->prof.n_nodes || !caravel_node_awg(&t->prof.nodes[first]) ||
		    !caravel_pool_size(&t->prof.nodes[first])) {
			snprintf(err, errlen, "node \"%s\": not a usable node of this profile (see `caravel inspect`)",
			         cfg->node_id);
			rc = CARAVEL_ERR_NO_NODE;
			goto fail;
		}
	}
	long n0 = caravel_node_next(&t->prof, first);
	if (n0 < 0) {
		snprintf(err, errlen, "the profile has no node offering AmneziaWG");
		rc = CARAVEL_ERR_NO_NODE;
		goto fail;
	}
	const struct profile_awg *awg = caravel_node_awg(&t->prof.nodes[n0]);
	struct device_options o = { .ifname = cfg->ifname && *cfg->ifname ? cfg->ifname : "caravel%d",
		                    .tun_fd = cfg->tun_fd, .mtu = awg->mtu, .timer_scale = 1.0 };
	if ((rc = device_new(&t->dev, &o)) < 0) {
		snprintf(err, errlen, "creating the tunnel device \"%s\": %s", o.ifname, caravel_strerror(rc));
		goto fail;
	}
	snprintf(t->ifname, sizeof(t->ifname), "%s", device_ifname(t->dev));
	device_set_event_handler(t->dev, on_engine_event, t);
	if ((rc = device_start(t->dev)) < 0) {
		snprintf(err, errlen, "starting the engine: %s", caravel_strerror(rc));
		goto fail;
	}
	if ((rc = choose_node(t, (size_t)n0, NULL, err, errlen)) < 0)
		goto fail;
	schedule_rotation(t, now_ns());
	if ((rc = -pthread_create(&t->thread, NULL, manager_main, t)) < 0) {
		snprintf(err, errlen, "starting the tunnel thread: %s", caravel_strerror(rc));
		goto fail;
	}
	t->thread_started = true;
	*out = t;
	return 0;
fail:
	caravel_tunnel_stop(t);
	return rc;
}

int caravel_tunnel_wait_up(caravel_tunnel *t, uint32_t timeout_ms)
{
	struct timespec ts = deadline_in(timeout_ms);
	int rc = 0;
	pthread_mutex_lock(&t->mu);
	while (!t->last_hs_ns && !t->stopped && rc == 0)
		rc = -pthread_cond_timedwait(&t->cv, &t->mu, &ts);
	bool up = t->last_hs_ns != 0, stopped = t->stopped;
	pthread_mutex_unlock(&t->mu);
	return up ? 0 : stopped ? CARAVEL_ERR_STATE : -ETIMEDOUT;
}

int caravel_tunnel_rotate(caravel_tunnel *t)
{
	pthread_mutex_lock(&t->mu);
	bool stopped = t->stopped;
	t->rotate_now = !stopped;
	pthread_cond_broadcast(&t->cv);
	pthread_mutex_unlock(&t->mu);
	return stopped ? CARAVEL_ERR_STATE : 0;
}

const char *caravel_tunnel_ifname(const caravel_tunnel *t)
{
	return t->ifname;
}

int caravel_tunnel_status(caravel_tunnel *t, struct caravel_status *st)
{
	if (!st || st->size < sizeof(*st))
		return CARAVEL_ERR_VERSION;
	size_t size = st->size;
	memset(st, 0, sizeof(*st));
	st->size = size;
	uint64_t now = now_ns();
	pthread_mutex_lock(&t->mu);
	st->state = t->stopped ? CARAVEL_STATE_STOPPED : t->last_hs_ns ? CARAVEL_STATE_UP : CARAVEL_STATE_CONNECTING;
	snprintf(st->node_id, sizeof(st->node_id), "%s", t->prof.nodes[t->node].id);
	ep_text(&t->ep, st->endpoint);
	st->handshake_age_ms = t->last_hs_ns ? (int64_t)((now - t->last_hs_ns) / 1000000u) : -1;
	st->rx_bytes = t->rx_bytes;
	st->tx_bytes = t->tx_bytes;
	st->rotations = t->rotations;
	st->failovers = t->failovers;
	pthread_mutex_unlock(&t->mu);
	snprintf(st->ifname, sizeof(st->ifname), "%s", t->ifname);
	return 0;
}

void caravel_tunnel_stop(caravel_tunnel *t)
{
	if (!t)
		return;
	if (t->thread_started) {
		pthread_mutex_lock(&t->mu);
		t->stop = true;
		pthread_cond_broadcast(&t->cv);
		pthread_mutex_unlock(&t->mu);
		pthread_join(t->thread, NULL);
	}
	device_free(t->dev);
	profile_free(&t->prof);
	pthread_cond_destroy(&t->cv);
	pthread_mutex_destroy(&t->mu);
	sodium_memzero(t, sizeof(*t));
	mem_free(t);
}
