/* Peers, their keypair slots and endpoints, and the index table that maps a
 * receiver index on the wire back to a handshake or keypair. */
#include "awg/devpriv.h"

#include <errno.h>
#include <sodium.h>
#include <string.h>

#include "awg/allowedips.h"
#include "lib/mem.h"

static size_t key_hash(const struct device *dev, const uint8_t pub[NOISE_PUBLIC_KEY_LEN])
{
	uint64_t h;
	/* Public keys are uniformly random; their first bytes are a fine hash. */
	memcpy(&h, pub, sizeof(h));
	return (size_t)(h & (dev->peer_buckets - 1));
}

struct peer *peer_lookup(struct device *dev, const uint8_t pub[NOISE_PUBLIC_KEY_LEN])
{
	for (struct peer *p = dev->peers_by_key[key_hash(dev, pub)]; p; p = p->hash_next)
		if (!memcmp(p->public_key, pub, NOISE_PUBLIC_KEY_LEN))
			return p;
	return NULL;
}

struct peer *device_peer_get(struct device *dev, const uint8_t pubkey[NOISE_PUBLIC_KEY_LEN])
{
	pthread_rwlock_rdlock(&dev->lock);
	struct peer *p = peer_lookup(dev, pubkey);
	pthread_rwlock_unlock(&dev->lock);
	return p;
}

void device_get_summary(struct device *dev, int64_t now_sec, int64_t window_sec, struct device_summary *out)
{
	memset(out, 0, sizeof(*out));
	pthread_rwlock_rdlock(&dev->lock);
	out->peers = dev->npeers;
	out->listening = dev->nsocks > 0;
	out->listen_port = dev->nsocks > 0 ? dev->listen_port : 0;
	for (struct peer *p = dev->peer_list; p; p = p->list_next) {
		int64_t hs = atomic_load_explicit(&p->last_handshake_sec, memory_order_relaxed);
		if (!hs)
			continue;
		if (now_sec - hs < window_sec)
			out->recent_handshakes++;
		if (hs > out->newest_handshake_sec)
			out->newest_handshake_sec = hs;
	}
	pthread_rwlock_unlock(&dev->lock);
}

int peer_create(struct device *dev, const uint8_t pub[NOISE_PUBLIC_KEY_LEN], struct peer **out)
{
	*out = NULL;
	if (dev->npeers >= MAX_PEERS_PER_DEVICE)
		return ERR_TOOBIG;
	struct peer *p = mem_zalloc(sizeof(*p));
	if (!p)
		return -ENOMEM;
	p->dev = dev;
	memcpy(p->public_key, pub, NOISE_PUBLIC_KEY_LEN);
	pthread_mutex_init(&p->lock, NULL);
	p->ep.sock = -1;
	int rc = noise_peer_keys_init(&p->nkeys, pub, NULL);
	if (rc < 0) {
		pthread_mutex_destroy(&p->lock);
		mem_free_secret(p, sizeof(*p));
		return rc;
	}
	size_t b = key_hash(dev, pub);
	p->hash_next = dev->peers_by_key[b];
	dev->peers_by_key[b] = p;
	p->list_next = dev->peer_list;
	if (dev->peer_list)
		dev->peer_list->list_prev = p;
	dev->peer_list = p;
	dev->npeers++;
	timers_activate(dev, p);
	*out = p;
	return 0;
}

static void keypair_retire(struct device *dev, struct keypair *kp)
{
	if (!kp)
		return;
	index_remove(dev, kp->keys.local_index);
	/* Callers hold the write lock, so no data thread can still use kp. */
	sodium_memzero(kp, sizeof(*kp));
	mem_free(kp);
}

static void staged_clear(struct peer *p)
{
	/* p->lock held, or p unreachable by other threads. */
	while (p->staged_count) {
		mem_free(p->staged[p->staged_head]);
		p->staged[p->staged_head] = NULL;
		p->staged_head = (p->staged_head + 1) % MAX_STAGED_PACKETS;
		p->staged_count--;
	}
}

void peer_clear_staged(struct peer *p)
{
	pthread_mutex_lock(&p->lock);
	staged_clear(p);
	pthread_mutex_unlock(&p->lock);
}

void peer_zero_keys(struct device *dev, struct peer *p)
{
	pthread_mutex_lock(&p->lock);
	struct keypair *a = p->kp_prev, *b = p->kp_cur, *c = p->kp_next;
	p->kp_prev = p->kp_cur = p->kp_next = NULL;
	pthread_mutex_unlock(&p->lock);
	keypair_retire(dev, a);
	keypair_retire(dev, b);
	keypair_retire(dev, c);
	if (p->hs.state != NOISE_HS_ZEROED && p->hs.local_index)
		index_remove(dev, p->hs.local_index);
	noise_handshake_clear(&p->hs);
}

void peer_remove(struct device *dev, struct peer *p)
{
	timers_forget(dev, p);
	peer_zero_keys(dev, p);
	allowedips_remove_by_peer(dev->aips, p);
	struct peer **pp = &dev->peers_by_key[key_hash(dev, p->public_key)];
	while (*pp && *pp != p)
		pp = &(*pp)->hash_next;
	if (*pp)
		*pp = p->hash_next;
	if (p->list_prev)
		p->list_prev->list_next = p->list_next;
	else
		dev->peer_list = p->list_next;
	if (p->list_next)
		p->list_next->list_prev = p->list_prev;
	dev->npeers--;
	staged_clear(p);
	mem_free(p->staged);
	pthread_mutex_destroy(&p->lock);
	mem_free_secret(p, sizeof(*p));
}

void peer_remove_all(struct device *dev)
{
	while (dev->peer_list)
		peer_remove(dev, dev->peer_list);
}

int peer_install_keypair(struct device *dev, struct peer *p, const struct noise_keys *keys, uint64_t now)
{
	struct keypair *kp = mem_zalloc(sizeof(*kp));
	if (!kp)
		return -ENOMEM;
	kp->keys = *keys;
	kp->birth_ns = now;
	kp->peer = p;
	kp->confirmed = keys->is_initiator;
	replay_init(&kp->replay);
	atomic_init(&kp->send_counter, 0);

	/* The handshake's local index now names this keypair. */
	struct index_entry *e = index_lookup(dev, keys->local_index);
	if (e && e->peer == p)
		e->keypair = kp;
	else {
		uint32_t idx = keys->local_index;
		int rc = index_add(dev, p, kp, &idx);
		if (rc < 0) {
			sodium_memzero(kp, sizeof(*kp));
			mem_free(kp);
			return rc;
		}
		kp->keys.local_index = idx;
	}

	struct keypair *drop1 = NULL, *drop2 = NULL;
	pthread_mutex_lock(&p->lock);
	if (keys->is_initiator) {
		/* Initiator: new keys become current at once; an unconfirmed next
		 * keypair is superseded. */
		if (p->kp_next) {
			drop1 = p->kp_prev;
			p->kp_prev = p->kp_next;
			p->kp_next = NULL;
			drop2 = p->kp_cur;
		} else {
			drop1 = p->kp_prev;
			p->kp_prev = p->kp_cur;
		}
		p->kp_cur = kp;
	} else {
		/* Responder: wait for key confirmation (first data under it). */
		drop1 = p->kp_next;
		p->kp_next = kp;
	}
	pthread_mutex_unlock(&p->lock);
	keypair_retire(dev, drop1);
	keypair_retire(dev, drop2);
	atomic_store(&p->t_session_derived, now);
	timers_activate(dev, p);
	return 0;
}

void peer_set_endpoint(struct peer *p, const union endpoint *remote, const struct addr *local, int sock)
{
	pthread_mutex_lock(&p->lock);
	p->ep.remote = *remote;
	if (local)
		p->ep.local = *local;
	else
		memset(&p->ep.local, 0, sizeof(p->ep.local));
	p->ep.sock = sock;
	p->has_endpoint = true;
	pthread_mutex_unlock(&p->lock);
}

bool peer_get_endpoint(struct peer *p, struct peer_endpoint *out)
{
	pthread_mutex_lock(&p->lock);
	bool has = p->has_endpoint;
	if (has)
		*out = p->ep;
	pthread_mutex_unlock(&p->lock);
	return has;
}

/* ---- index table ---- */

static size_t index_bucket(uint32_t idx)
{
	return (idx * 2654435761u) >> 16 & (DEV_INDEX_BUCKETS - 1);
}

struct index_entry *index_lookup(struct device *dev, uint32_t idx)
{
	for (struct index_entry *e = dev->index[index_bucket(idx)]; e; e = e->next)
		if (e->index == idx)
			return e;
	return NULL;
}

/* Allocates a fresh random non-zero index (unless *out_index is non-zero and
 * free, then that one is used). */
int index_add(struct device *dev, struct peer *peer, struct keypair *kp, uint32_t *out_index)
{
	struct index_entry *e = mem_zalloc(sizeof(*e));
	if (!e)
		return -ENOMEM;
	uint32_t idx = *out_index;
	while (!idx || index_lookup(dev, idx))
		idx = randombytes_random();
	e->index = idx;
	e->peer = peer;
	e->keypair = kp;
	size_t b = index_bucket(idx);
	e->next = dev->index[b];
	dev->index[b] = e;
	dev->nindex++;
	*out_index = idx;
	return 0;
}

void index_remove(struct device *dev, uint32_t idx)
{
	struct index_entry **pp = &dev->index[index_bucket(idx)];
	while (*pp) {
		if ((*pp)->index == idx) {
			struct index_entry *e = *pp;
			*pp = e->next;
			mem_free(e);
			dev->nindex--;
			return;
		}
		pp = &(*pp)->next;
	}
}
