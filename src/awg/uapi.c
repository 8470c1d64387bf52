/* The UAPI text protocol (specs/awg.md §3): `get=1` and `set=1` with every
 * standard key plus the AmneziaWG keys and one extension, listen_port_range.
 * A set is parsed and validated completely (uapi_parse_set, pure, fuzzed)
 * before anything is applied, so an invalid line changes nothing. */
#include "awg/uapi.h"

#include <errno.h>
#include <inttypes.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#include "awg/allowedips.h"
#include "awg/devpriv.h"
#include "lib/buf.h"
#include "lib/enc.h"
#include "lib/log.h"
#include "lib/mem.h"

#define UAPI_MAX_PEERS_PER_SET (1u << 20)
#define UAPI_MAX_AIPS_PER_PEER 65536

void uapi_set_init(struct uapi_set *tx)
{
	memset(tx, 0, sizeof(*tx));
	obf_params_init(&tx->obf);
}

void uapi_set_fini(struct uapi_set *tx)
{
	for (size_t i = 0; i < tx->npeers; i++)
		mem_free(tx->peers[i].aips);
	if (tx->peers)
		sodium_memzero(tx->peers, tx->npeers * sizeof(*tx->peers));
	mem_free(tx->peers);
	obf_params_fini(&tx->obf);
	sodium_memzero(tx, sizeof(*tx));
}

static int parse_u32(const char *v, uint32_t max, uint32_t *out)
{
	if (!*v || (v[0] == '0' && v[1]))
		return *v == '0' && !v[1] ? (*out = 0, 0) : -EINVAL;
	uint64_t x = 0;
	for (const char *p = v; *p; p++) {
		if (*p < '0' || *p > '9')
			return -EINVAL;
		x = x * 10 + (uint64_t)(*p - '0');
		if (x > max)
			return -EINVAL;
	}
	*out = (uint32_t)x;
	return 0;
}

static int err_at(char *err, size_t errlen, const char *key, const char *value, const char *what)
{
	if (err && errlen)
		snprintf(err, errlen, "%s: \"%.64s\": %s", key, value, what);
	return -EINVAL;
}

/* Parses one set transaction body: lines "key=value" up to (not including)
 * the terminating empty line. `current` seeds the AmneziaWG parameters so a
 * partial update is validated against the values it will be merged with. */
int uapi_parse_set(struct uapi_set *tx, const char *body, size_t len, const struct obf_params *current,
                   char *err, size_t errlen)
{
	char line[OBF_MAX_TEMPLATE_TEXT + 64];
	struct uapi_peer_op *peer = NULL;
	int rc;

	if ((rc = obf_params_copy(&tx->obf, current)) < 0)
		return rc;
	for (size_t off = 0; off < len;) {
		const char *nl = memchr(body + off, '\n', len - off);
		size_t ll = nl ? (size_t)(nl - (body + off)) : len - off;
		if (ll == 0)
			break;
		if (ll >= sizeof(line))
			return err_at(err, errlen, "line", "", "too long");
		memcpy(line, body + off, ll);
		line[ll] = '\0';
		off += ll + 1;
		if (memchr(line, '\0', ll))
			return -EPROTO;
		char *eq = strchr(line, '=');
		if (!eq)
			return -EPROTO;
		*eq = '\0';
		const char *k = line, *v = eq + 1;
		uint32_t u;

		if (!strcmp(k, "public_key")) {
			if (tx->npeers >= UAPI_MAX_PEERS_PER_SET)
				return ERR_TOOBIG;
			if (tx->npeers == tx->cap) {
				size_t nc = tx->cap ? tx->cap * 2 : 16;
				struct uapi_peer_op *np = mem_realloc(tx->peers, nc * sizeof(*np));
				if (!np)
					return -ENOMEM;
				tx->peers = np;
				tx->cap = nc;
			}
			peer = &tx->peers[tx->npeers];
			memset(peer, 0, sizeof(*peer));
			peer->keepalive = -1;
			if (enc_key_from_hex(peer->public_key, v) < 0)
				return err_at(err, errlen, k, v, "expected 64 hex digits");
			tx->npeers++;
			continue;
		}
		if (!peer) {
			/* Device section. */
			if (!strcmp(k, "private_key")) {
				if (enc_key_from_hex(tx->private_key, v) < 0)
					return err_at(err, errlen, k, v, "expected 64 hex digits");
				tx->has_private_key = true;
			} else if (!strcmp(k, "listen_port")) {
				if (parse_u32(v, 65535, &u) < 0)
					return err_at(err, errlen, k, v, "expected a port 0..65535");
				tx->has_port = true;
				tx->port = tx->port_hi = (uint16_t)u;
			} else if (!strcmp(k, "listen_port_range")) {
				char tmp[32];
				uint32_t lo, hi;
				snprintf(tmp, sizeof(tmp), "%s", v);
				char *dash = strchr(tmp, '-');
				if (!dash || strlen(v) >= sizeof(tmp))
					return err_at(err, errlen, k, v, "expected LO-HI, ports 1..65535, at most 1024 ports");
				*dash = '\0';
				if (parse_u32(tmp, 65535, &lo) < 0 || parse_u32(dash + 1, 65535, &hi) < 0 || !lo || hi < lo ||
				    hi - lo >= 1024)
					return err_at(err, errlen, k, v, "expected LO-HI, ports 1..65535, at most 1024 ports");
				tx->has_port = true;
				tx->port = (uint16_t)lo;
				tx->port_hi = (uint16_t)hi;
			} else if (!strcmp(k, "fwmark")) {
				if (parse_u32(v, UINT32_MAX, &u) < 0)
					return err_at(err, errlen, k, v, "expected 0..4294967295");
				tx->has_fwmark = true;
				tx->fwmark = u;
			} else if (!strcmp(k, "replace_peers")) {
				if (strcmp(v, "true"))
					return err_at(err, errlen, k, v, "expected true");
				tx->replace_peers = true;
			} else if (obf_params_is_key(k)) {
				if ((rc = obf_params_set(&tx->obf, k, v, err, errlen)) < 0)
					return rc;
				tx->obf_changed = true;
			} else {
				return err_at(err, errlen, k, v, "unknown device key");
			}
			continue;
		}
		/* Peer section. */
		if (!strcmp(k, "remove")) {
			if (strcmp(v, "true"))
				return err_at(err, errlen, k, v, "expected true");
			peer->remove = true;
		} else if (!strcmp(k, "update_only")) {
			if (strcmp(v, "true"))
				return err_at(err, errlen, k, v, "expected true");
			peer->update_only = true;
		} else if (!strcmp(k, "preshared_key")) {
			if (enc_key_from_hex(peer->psk, v) < 0)
				return err_at(err, errlen, k, v, "expected 64 hex digits");
			peer->has_psk = true;
		} else if (!strcmp(k, "endpoint")) {
			if (endpoint_parse(v, &peer->endpoint) < 0)
				return err_at(err, errlen, k, v, "expected IPv4:PORT or [IPv6]:PORT");
			peer->has_endpoint = true;
		} else if (!strcmp(k, "persistent_keepalive_interval")) {
			if (parse_u32(v, 65535, &u) < 0)
				return err_at(err, errlen, k, v, "expected seconds 0..65535");
			peer->keepalive = (int)u;
		} else if (!strcmp(k, "replace_allowed_ips")) {
			if (strcmp(v, "true"))
				return err_at(err, errlen, k, v, "expected true");
			peer->replace_aips = true;
		} else if (!strcmp(k, "allowed_ip")) {
			bool remove = v[0] == '-';
			struct cidr c;
			if (cidr_parse(v + remove, &c) < 0)
				return err_at(err, errlen, k, v, "expected ADDRESS/PREFIX");
			if (peer->naips >= UAPI_MAX_AIPS_PER_PEER)
				return ERR_TOOBIG;
			if (peer->naips == peer->aips_cap) {
				size_t nc = peer->aips_cap ? peer->aips_cap * 2 : 4;
				struct uapi_aip *na = mem_realloc(peer->aips, nc * sizeof(*na));
				if (!na)
					return -ENOMEM;
				peer->aips = na;
				peer->aips_cap = nc;
			}
			peer->aips[peer->naips++] = (struct uapi_aip){ .cidr = c, .remove = remove };
		} else if (!strcmp(k, "protocol_version")) {
			if (strcmp(v, "1"))
				return err_at(err, errlen, k, v, "only protocol version 1 exists");
		} else {
			return err_at(err, errlen, k, v, "unknown peer key");
		}
	}
	if (tx->obf_changed && (rc = obf_params_validate(&tx->obf, err, errlen)) < 0)
		return rc;
	return 0;
}

/* Applies a parsed transaction. Write lock held. Socket binding happens first
 * so a port in use fails the whole set with nothing changed (the fwmark
 * follows it and marks old and new sockets alike). */
static int apply_set(struct device *dev, struct uapi_set *tx)
{
	int rc;
	uint64_t now = dev_now();

	if (tx->has_port && (dev->nsocks == 0 || tx->port != dev->listen_port || tx->port_hi != dev->listen_port_hi ||
	                     tx->port == 0)) {
		if ((rc = udp_rebind(dev, tx->port, tx->port_hi)) < 0)
			return rc;
	}
	if (tx->has_fwmark && tx->fwmark != dev->fwmark) {
		dev->fwmark = tx->fwmark;
		for (int i = 0; i < dev->nsocks; i++)
			(void)setsockopt(dev->socks[i].fd, SOL_SOCKET, SO_MARK, &dev->fwmark, sizeof(dev->fwmark));
	}
	if (tx->has_private_key) {
		static const uint8_t zero[NOISE_PUBLIC_KEY_LEN];
		bool remove = !sodium_memcmp(tx->private_key, zero, sizeof(zero));
		noise_identity_set(&dev->id, remove ? NULL : tx->private_key);
		dev->tick_all = true;
		cookie_checker_init(&dev->cookies, &dev->id);
		for (struct peer *p = dev->peer_list, *next; p; p = next) {
			next = p->list_next;
			if (dev->id.has_key && !memcmp(p->public_key, dev->id.public_key, NOISE_PUBLIC_KEY_LEN)) {
				peer_remove(dev, p);
				continue;
			}
			peer_zero_keys(dev, p);
			/* Wipe the DH with our old key; the next handshake computes it
			 * with the new one (noise_peer_keys_static_dh). */
			noise_peer_keys_forget_dh(&p->nkeys);
		}
		/* The first bind happens with the key if no port was ever set. */
		if (!dev->nsocks && (rc = udp_rebind(dev, 0, 0)) < 0)
			return rc;
	}
	if (tx->obf_changed) {
		obf_params_fini(&dev->obf);
		dev->obf = tx->obf;
		obf_params_init(&tx->obf);
	}
	if (tx->replace_peers)
		peer_remove_all(dev);

	for (size_t i = 0; i < tx->npeers; i++) {
		struct uapi_peer_op *op = &tx->peers[i];
		if (dev->id.has_key && !memcmp(op->public_key, dev->id.public_key, NOISE_PUBLIC_KEY_LEN))
			continue; /* our own key: ignored, as the reference does */
		struct peer *p = peer_lookup(dev, op->public_key);
		if (op->remove) {
			if (p)
				peer_remove(dev, p);
			continue;
		}
		if (!p) {
			if (op->update_only)
				continue;
			if ((rc = peer_create(dev, op->public_key, &p)) < 0)
				return rc;
		}
		timers_activate(dev, p);
		if (op->has_psk) /* only the PSK changes: the cached static DH stays */
			memcpy(p->nkeys.preshared_key, op->psk, NOISE_SYMMETRIC_KEY_LEN);
		if (op->has_endpoint)
			peer_set_endpoint(p, &op->endpoint, NULL, -1);
		if (op->replace_aips)
			allowedips_remove_by_peer(dev->aips, p);
		for (size_t a = 0; a < op->naips; a++) {
			const struct uapi_aip *ai = &op->aips[a];
			if (ai->remove)
				(void)allowedips_remove(dev->aips, ai->cidr.addr.family, ai->cidr.addr.bytes, ai->cidr.prefix, p);
			else if ((rc = allowedips_insert(dev->aips, ai->cidr.addr.family, ai->cidr.addr.bytes,
			                                 ai->cidr.prefix, p)) < 0)
				return rc;
		}
		if (op->keepalive >= 0) {
			bool turned_on = !p->persistent_keepalive && op->keepalive;
			p->persistent_keepalive = (uint16_t)op->keepalive;
			/* Turning it on sends a keepalive at once (and so starts a
			 * handshake when there are no keys yet). */
			if (turned_on && p->has_endpoint && dev->nsocks)
				send_keepalive(dev, p, now);
		}
	}
	atomic_store(&dev->scan_requested, true);
	dev_wake(dev);
	return 0;
}

struct walk_ctx {
	struct buf *b;
	int rc;
};

static int walk_aip(void *ctx, int family, const uint8_t *addr, uint8_t prefix)
{
	struct walk_ctx *w = ctx;
	struct cidr c = { .addr = { .family = family }, .prefix = prefix };
	char s[CIDR_STRLEN];
	memcpy(c.addr.bytes, addr, family == AF_INET ? 4 : 16);
	if (cidr_format(&c, s, sizeof(s)) < 0)
		return 0;
	return w->rc = buf_printf(w->b, "allowed_ip=%s\n", s);
}

static int format_get(struct device *dev, struct buf *b)
{
	char hex[ENC_KEY_HEX_LEN];
	char awg[OBF_TEMPLATES * OBF_MAX_TEMPLATE_TEXT / 64 + 4096];
	int rc = 0;

	if (dev->id.has_key) {
		enc_key_to_hex(hex, dev->id.private_key);
		rc |= buf_printf(b, "private_key=%s\n", hex);
	}
	if (dev->nsocks)
		rc |= buf_printf(b, "listen_port=%u\n", dev->listen_port);
	if (dev->nsocks && dev->listen_port_hi != dev->listen_port)
		rc |= buf_printf(b, "listen_port_range=%u-%u\n", dev->listen_port, dev->listen_port_hi);
	if (dev->fwmark)
		rc |= buf_printf(b, "fwmark=%u\n", dev->fwmark);
	char *big = NULL;
	int n = obf_params_format(&dev->obf, awg, sizeof(awg));
	if (n == -ENOSPC) {
		size_t cap = 6 * OBF_MAX_TEMPLATE_TEXT;
		if (!(big = mem_alloc(cap)))
			return -ENOMEM;
		n = obf_params_format(&dev->obf, big, cap);
	}
	if (n > 0)
		rc |= buf_append(b, big ? big : awg, (size_t)n);
	mem_free(big);
	for (struct peer *p = dev->peer_list; p && !rc; p = p->list_next) {
		struct peer_endpoint ep;
		enc_key_to_hex(hex, p->public_key);
		rc |= buf_printf(b, "public_key=%s\n", hex);
		enc_key_to_hex(hex, p->nkeys.preshared_key);
		rc |= buf_printf(b, "preshared_key=%s\nprotocol_version=1\n", hex);
		if (peer_get_endpoint(p, &ep)) {
			char es[ENDPOINT_STRLEN];
			if (endpoint_format(&ep.remote, es, sizeof(es)) > 0)
				rc |= buf_printf(b, "endpoint=%s\n", es);
		}
		rc |= buf_printf(b,
		                 "last_handshake_time_sec=%" PRId64 "\nlast_handshake_time_nsec=%" PRId64
		                 "\ntx_bytes=%" PRIu64 "\nrx_bytes=%" PRIu64 "\npersistent_keepalive_interval=%u\n",
		                 atomic_load(&p->last_handshake_sec), atomic_load(&p->last_handshake_nsec),
		                 atomic_load(&p->tx_bytes), atomic_load(&p->rx_bytes), p->persistent_keepalive);
		struct walk_ctx w = { .b = b };
		allowedips_walk_peer(dev->aips, p, walk_aip, &w);
		rc |= w.rc;
	}
	sodium_memzero(hex, sizeof(hex));
	return rc ? -ENOMEM : 0;
}

static int reply_errno(char **reply, size_t *reply_len, int e)
{
	char tmp[32];
	int n = snprintf(tmp, sizeof(tmp), "errno=%d\n\n", e);
	*reply = mem_dup(tmp, (size_t)n + 1);
	*reply_len = (size_t)n;
	return *reply ? 0 : -ENOMEM;
}

int uapi_handle(struct device *dev, const char *req, size_t len, char **reply, size_t *reply_len)
{
	*reply = NULL;
	*reply_len = 0;
	if (len >= 6 && !memcmp(req, "get=1\n", 6)) {
		if (len != 7 || req[6] != '\n')
			return reply_errno(reply, reply_len, -EINVAL);
		struct buf b;
		buf_init(&b, 256u << 20);
		pthread_rwlock_rdlock(&dev->lock);
		int rc = format_get(dev, &b);
		pthread_rwlock_unlock(&dev->lock);
		if (rc == 0)
			rc = buf_printf(&b, "errno=0\n\n");
		if (rc < 0) {
			buf_fini_secret(&b);
			return reply_errno(reply, reply_len, -ENOMEM);
		}
		*reply_len = b.len;
		*reply = (char *)b.data; /* ownership moves to the caller */
		return 0;
	}
	if (len >= 6 && !memcmp(req, "set=1\n", 6)) {
		struct uapi_set tx;
		char err[256] = "";
		uapi_set_init(&tx);
		pthread_rwlock_wrlock(&dev->lock);
		int rc = uapi_parse_set(&tx, req + 6, len - 6, &dev->obf, err, sizeof(err));
		if (rc == 0)
			rc = apply_set(dev, &tx);
		pthread_rwlock_unlock(&dev->lock);
		if (rc < 0) {
			log_warn("%s: UAPI set refused: %s%s%s", dev->ifname, err_str(rc), *err ? ": " : "", err);
			if (rc <= -ERR_BAND)
				rc = rc == ERR_TOOBIG ? -ENOMEM : -EINVAL;
		}
		uapi_set_fini(&tx);
		return reply_errno(reply, reply_len, rc < 0 ? rc : 0);
	}
	return -EPROTO;
}

int device_send_to_peer(struct device *dev, struct peer *peer, const uint8_t *pkt, size_t len)
{
	if (len > 65535)
		return ERR_TOOBIG;
	uint8_t *buf = mem_alloc(512 + len + 64);
	if (!buf)
		return -ENOMEM;
	memcpy(buf + 512, pkt, len);
	struct iovec iov = { .iov_base = buf + 512, .iov_len = len };
	pthread_rwlock_rdlock(&dev->lock);
	int rc = send_packets(dev, peer, &iov, 1, dev_now(), NULL);
	pthread_rwlock_unlock(&dev->lock);
	mem_free(buf);
	return rc;
}
