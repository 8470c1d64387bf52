/* Allowed-IPs: a path-compressed binary radix trie per address family.
 *
 * Keys are held as 128-bit big-endian integers (two u64; an IPv4 address sits
 * in the top 32 bits), so matching a node is one masked compare whatever the
 * family, and a lookup visits at most one node per prefix bit. Nodes carrying
 * a peer are "prefix" nodes; a node without one is a "glue" node and always
 * has exactly two children (removal splices glue out as soon as it would
 * have fewer), so the trie holds at most 2n - 1 nodes for n prefixes.
 *
 * Per-peer bookkeeping: a hash table (open addressing, linear probing) maps a
 * peer pointer to an owner record listing that peer's nodes in an array; each
 * node knows its index there. That makes remove_by_peer O(k) and walk_peer
 * O(k log k) for a peer with k prefixes, instead of a walk of the whole trie
 * for each of 10,000 peers. */
#include "awg/allowedips.h"

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "lib/mem.h"

/* Hard cap on prefixes in one trie (bounded everything): ~4M prefixes is far
 * beyond any device (MAX_PEERS_PER_DEVICE peers with a few prefixes each) and
 * still fits in memory. Inserting past it returns ERR_TOOBIG. */
#define MAX_PREFIXES (1u << 22)
#define WALK_STACK 64 /* walk_peer sorts up to this many prefixes without allocating */

struct owner;

struct node {
	struct node *child[2];
	struct node *parent;
	struct owner *owner; /* NULL for a glue node */
	uint64_t key[2];     /* big-endian bits, masked to cidr */
	uint32_t idx;        /* position in owner->nodes */
	uint8_t cidr;
	uint8_t fam;         /* 0 = IPv4, 1 = IPv6 */
};

struct owner {
	void *peer;
	struct node **nodes;
	uint32_t count, cap;
};

struct allowedips {
	struct node *root[2];
	struct owner **table; /* open addressing; NULL = empty slot */
	size_t table_cap;     /* power of two, or 0 */
	size_t owners;
	size_t count;         /* prefixes */
};

static const uint8_t fam_bits[2] = {32, 128};

/* ---- bit helpers ----------------------------------------------------------- */

static int fam_index(int family)
{
	return family == AF_INET ? 0 : family == AF_INET6 ? 1 : -1;
}

static uint64_t load_be64(const uint8_t *b)
{
	uint64_t v = 0;
	for (int i = 0; i < 8; i++)
		v = v << 8 | b[i];
	return v;
}

static void store_be64(uint8_t *b, uint64_t v)
{
	for (int i = 7; i >= 0; i--) {
		b[i] = (uint8_t)v;
		v >>= 8;
	}
}

static void mask_key(uint64_t k[2], unsigned cidr)
{
	if (cidr == 0) {
		k[0] = k[1] = 0;
	} else if (cidr < 64) {
		k[0] &= ~0ULL << (64 - cidr);
		k[1] = 0;
	} else if (cidr < 128) {
		k[1] &= cidr == 64 ? 0 : ~0ULL << (128 - cidr);
	}
}

static void load_key(uint64_t k[2], int fi, const uint8_t *addr)
{
	if (fi == 0) {
		k[0] = (uint64_t)((uint32_t)addr[0] << 24 | (uint32_t)addr[1] << 16 | (uint32_t)addr[2] << 8 | addr[3]) << 32;
		k[1] = 0;
	} else {
		k[0] = load_be64(addr);
		k[1] = load_be64(addr + 8);
	}
}

static void store_key(uint8_t *addr, int fi, const uint64_t k[2])
{
	if (fi == 0) {
		uint32_t v = (uint32_t)(k[0] >> 32);
		addr[0] = (uint8_t)(v >> 24);
		addr[1] = (uint8_t)(v >> 16);
		addr[2] = (uint8_t)(v >> 8);
		addr[3] = (uint8_t)v;
	} else {
		store_be64(addr, k[0]);
		store_be64(addr + 8, k[1]);
	}
}

/* Bit i (0 = most significant) of a key; i < 128. */
static unsigned key_bit(const uint64_t k[2], unsigned i)
{
	return i < 64 ? (unsigned)(k[0] >> (63 - i)) & 1 : (unsigned)(k[1] >> (127 - i)) & 1;
}

/* Number of leading bits a and b share, at most limit. */
static unsigned common_bits(const uint64_t a[2], const uint64_t b[2], unsigned limit)
{
	uint64_t x = a[0] ^ b[0];
	unsigned n;
	if (x)
		n = (unsigned)__builtin_clzll(x);
	else if ((x = a[1] ^ b[1]))
		n = 64 + (unsigned)__builtin_clzll(x);
	else
		n = 128;
	return n < limit ? n : limit;
}

/* Whether the first n->cidr bits of key equal n's key. */
static bool node_matches(const struct node *n, const uint64_t key[2])
{
	uint64_t k[2] = {key[0], key[1]};
	mask_key(k, n->cidr);
	return k[0] == n->key[0] && k[1] == n->key[1];
}

/* ---- owners (peer -> its nodes) ----------------------------------------- */

static size_t hash_ptr(const void *p, size_t cap)
{
	uint64_t h = (uint64_t)(uintptr_t)p * 0x9e3779b97f4a7c15ULL;
	return (size_t)(h ^ h >> 29) & (cap - 1);
}

static struct owner *owner_find(const struct allowedips *t, const void *peer)
{
	if (!t->table_cap)
		return NULL;
	for (size_t i = hash_ptr(peer, t->table_cap);; i = (i + 1) & (t->table_cap - 1)) {
		struct owner *o = t->table[i];
		if (!o)
			return NULL;
		if (o->peer == peer)
			return o;
	}
}

static void table_put(struct owner **table, size_t cap, struct owner *o)
{
	size_t i = hash_ptr(o->peer, cap);
	while (table[i])
		i = (i + 1) & (cap - 1);
	table[i] = o;
}

/* Finds or creates the owner record for peer with room for one more node. On
 * failure nothing changed. */
static int owner_reserve(struct allowedips *t, void *peer, struct owner **out)
{
	struct owner *o = owner_find(t, peer);
	bool created = false;
	if (!o) {
		if ((t->owners + 1) * 2 > t->table_cap) {
			size_t ncap = t->table_cap ? t->table_cap * 2 : 16;
			struct owner **nt = mem_zalloc(ncap * sizeof(*nt));
			if (!nt)
				return -ENOMEM;
			for (size_t i = 0; i < t->table_cap; i++)
				if (t->table[i])
					table_put(nt, ncap, t->table[i]);
			mem_free(t->table);
			t->table = nt;
			t->table_cap = ncap;
		}
		o = mem_zalloc(sizeof(*o));
		if (!o)
			return -ENOMEM;
		o->peer = peer;
		created = true;
	}
	if (o->count == o->cap) {
		uint32_t ncap = o->cap ? o->cap * 2 : 4;
		struct node **nn = mem_realloc(o->nodes, ncap * sizeof(*nn));
		if (!nn) {
			if (created)
				mem_free(o);
			return -ENOMEM;
		}
		o->nodes = nn;
		o->cap = ncap;
	}
	if (created) {
		table_put(t->table, t->table_cap, o);
		t->owners++;
	}
	*out = o;
	return 0;
}

/* Removes an owner with no nodes left from the table (backward-shift
 * deletion keeps every probe chain intact) and frees it. */
static void owner_drop(struct allowedips *t, struct owner *o)
{
	size_t mask = t->table_cap - 1, i = hash_ptr(o->peer, t->table_cap);
	while (t->table[i] != o)
		i = (i + 1) & mask;
	for (size_t j = (i + 1) & mask; t->table[j]; j = (j + 1) & mask) {
		size_t home = hash_ptr(t->table[j]->peer, t->table_cap);
		/* Move j into the hole at i unless its home lies cyclically in (i, j]. */
		bool stays = i <= j ? (home > i && home <= j) : (home > i || home <= j);
		if (!stays) {
			t->table[i] = t->table[j];
			i = j;
		}
	}
	t->table[i] = NULL;
	t->owners--;
	mem_free(o->nodes);
	mem_free(o);
}

static void owner_attach(struct owner *o, struct node *n)
{
	n->owner = o;
	n->idx = o->count;
	o->nodes[o->count++] = n;
}

/* Swap-remove n from its owner's array; the owner may be left empty. */
static void owner_detach(struct node *n)
{
	struct owner *o = n->owner;
	struct node *last = o->nodes[--o->count];
	o->nodes[n->idx] = last;
	last->idx = n->idx;
	n->owner = NULL;
}

/* ---- trie ----------------------------------------------------------------------- */

int allowedips_new(struct allowedips **out)
{
	*out = mem_zalloc(sizeof(**out));
	return *out ? 0 : -ENOMEM;
}

static void free_subtree(struct node *n)
{
	/* Depth is at most 129, so recursion is bounded. */
	if (!n)
		return;
	free_subtree(n->child[0]);
	free_subtree(n->child[1]);
	mem_free(n);
}

void allowedips_free(struct allowedips *t)
{
	if (!t)
		return;
	free_subtree(t->root[0]);
	free_subtree(t->root[1]);
	for (size_t i = 0; i < t->table_cap; i++) {
		if (t->table[i]) {
			mem_free(t->table[i]->nodes);
			mem_free(t->table[i]);
		}
	}
	mem_free(t->table);
	mem_free(t);
}

static struct node **slot_of(struct allowedips *t, struct node *n)
{
	return n->parent ? &n->parent->child[key_bit(n->key, n->parent->cidr)] : &t->root[n->fam];
}

/* Where a prefix (key, cidr) goes: the slot to change, the node now in it
 * (NULL if empty) and that node's parent. exact: the node with this very
 * prefix already exists (it is *slot). */
struct place {
	struct node **slot;
	struct node *parent;
	bool exact;
	unsigned common; /* bits the new prefix shares with *slot, when not exact */
};

static struct place locate(struct allowedips *t, int fi, const uint64_t key[2], unsigned cidr)
{
	struct place pl = {&t->root[fi], NULL, false, 0};
	struct node *n;
	while ((n = *pl.slot)) {
		unsigned limit = n->cidr < cidr ? n->cidr : cidr;
		unsigned c = common_bits(n->key, key, limit);
		if (c == n->cidr) { /* n covers the new prefix */
			if (n->cidr == cidr) {
				pl.exact = true;
				return pl;
			}
			pl.parent = n;
			pl.slot = &n->child[key_bit(key, n->cidr)];
			continue;
		}
		pl.common = c; /* the new prefix covers n (c == cidr) or they diverge */
		return pl;
	}
	return pl;
}

static struct node *node_new(int fi, const uint64_t key[2], unsigned cidr)
{
	struct node *n = mem_zalloc(sizeof(*n));
	if (!n)
		return NULL;
	n->key[0] = key[0];
	n->key[1] = key[1];
	mask_key(n->key, cidr);
	n->cidr = (uint8_t)cidr;
	n->fam = (uint8_t)fi;
	return n;
}

int allowedips_insert(struct allowedips *t, int family, const uint8_t *addr, uint8_t cidr, void *peer)
{
	int fi = fam_index(family);
	if (fi < 0 || cidr > fam_bits[fi] || !peer || !addr)
		return -EINVAL;
	uint64_t key[2];
	load_key(key, fi, addr);
	mask_key(key, cidr);
	struct place pl = locate(t, fi, key, cidr);
	struct node *n = *pl.slot;
	if (pl.exact && n->owner && n->owner->peer == peer)
		return 0;
	if ((!pl.exact || !n->owner) && t->count >= MAX_PREFIXES)
		return ERR_TOOBIG;

	/* Every allocation happens before the trie changes, so a failure leaves
	 * it exactly as it was. */
	struct owner *o;
	int rc = owner_reserve(t, peer, &o);
	if (rc < 0)
		return rc;
	struct node *leaf = NULL, *glue = NULL;
	bool split = n && !pl.exact && pl.common < cidr;
	if (!pl.exact) {
		leaf = node_new(fi, key, cidr);
		if (split)
			glue = node_new(fi, key, pl.common);
		if (!leaf || (split && !glue)) {
			mem_free(leaf);
			mem_free(glue);
			if (!o->count)
				owner_drop(t, o);
			return -ENOMEM;
		}
	}

	if (pl.exact) {
		if (n->owner) { /* move to the new peer */
			struct owner *old = n->owner;
			owner_detach(n);
			if (!old->count)
				owner_drop(t, old);
		} else {
			t->count++; /* glue becomes a prefix */
		}
		owner_attach(o, n);
		return 0;
	}
	owner_attach(o, leaf);
	t->count++;
	if (!n) { /* empty slot */
		leaf->parent = pl.parent;
		*pl.slot = leaf;
	} else if (!split) { /* the new prefix covers n: it goes above n */
		leaf->parent = pl.parent;
		leaf->child[key_bit(n->key, cidr)] = n;
		n->parent = leaf;
		*pl.slot = leaf;
	} else { /* they diverge at bit pl.common: a glue node holds both */
		glue->parent = pl.parent;
		glue->child[key_bit(key, pl.common)] = leaf;
		glue->child[key_bit(n->key, pl.common)] = n;
		leaf->parent = glue;
		n->parent = glue;
		*pl.slot = glue;
	}
	return 0;
}

/* Drops n's prefix (its owner already detached) and restores the invariant
 * that glue nodes have two children. */
static void unlink_prefix(struct allowedips *t, struct node *n)
{
	t->count--;
	if (n->child[0] && n->child[1])
		return; /* stays as glue */
	struct node *child = n->child[0] ? n->child[0] : n->child[1];
	struct node *parent = n->parent, **slot = slot_of(t, n);
	if (child) {
		child->parent = parent;
		*slot = child;
		mem_free(n);
		return;
	}
	*slot = NULL;
	mem_free(n);
	if (parent && !parent->owner) { /* glue left with one child: splice it out */
		struct node *other = parent->child[0] ? parent->child[0] : parent->child[1];
		struct node **pslot = slot_of(t, parent);
		other->parent = parent->parent;
		*pslot = other;
		mem_free(parent);
	}
}

int allowedips_remove(struct allowedips *t, int family, const uint8_t *addr, uint8_t cidr, void *peer)
{
	int fi = fam_index(family);
	if (fi < 0 || cidr > fam_bits[fi] || !addr)
		return -EINVAL;
	uint64_t key[2];
	load_key(key, fi, addr);
	mask_key(key, cidr);
	struct place pl = locate(t, fi, key, cidr);
	struct node *n = *pl.slot;
	if (!pl.exact || !n->owner || n->owner->peer != peer)
		return ERR_NOTFOUND;
	struct owner *o = n->owner;
	owner_detach(n);
	if (!o->count)
		owner_drop(t, o);
	unlink_prefix(t, n);
	return 0;
}

void allowedips_remove_by_peer(struct allowedips *t, void *peer)
{
	struct owner *o = owner_find(t, peer);
	if (!o)
		return;
	while (o->count) {
		struct node *n = o->nodes[o->count - 1];
		owner_detach(n);
		unlink_prefix(t, n);
	}
	owner_drop(t, o);
}

void *allowedips_lookup(const struct allowedips *t, int family, const uint8_t *addr)
{
	int fi = fam_index(family);
	if (fi < 0 || !addr)
		return NULL;
	uint64_t key[2];
	load_key(key, fi, addr);
	const struct node *n = t->root[fi], *best = NULL;
	while (n && node_matches(n, key)) {
		if (n->owner)
			best = n;
		if (n->cidr == fam_bits[fi])
			break;
		n = n->child[key_bit(key, n->cidr)];
	}
	return best ? best->owner->peer : NULL;
}

static int node_cmp(const void *a, const void *b)
{
	const struct node *x = *(const struct node *const *)a, *y = *(const struct node *const *)b;
	if (x->fam != y->fam)
		return x->fam < y->fam ? -1 : 1;
	if (x->key[0] != y->key[0])
		return x->key[0] < y->key[0] ? -1 : 1;
	if (x->key[1] != y->key[1])
		return x->key[1] < y->key[1] ? -1 : 1;
	return x->cidr < y->cidr ? -1 : x->cidr > y->cidr;
}

int allowedips_walk_peer(const struct allowedips *t, const void *peer,
                         int (*cb)(void *ctx, int family, const uint8_t *addr, uint8_t cidr), void *ctx)
{
	const struct owner *o = owner_find(t, peer);
	if (!o || !o->count)
		return 0;
	/* Sort a private copy: the trie may be shared by concurrent readers. */
	struct node *stack[WALK_STACK], **v = stack;
	if (o->count > WALK_STACK) {
		v = mem_alloc(o->count * sizeof(*v));
		if (!v)
			return -ENOMEM;
	}
	memcpy(v, o->nodes, o->count * sizeof(*v));
	qsort(v, o->count, sizeof(*v), node_cmp);
	int rc = 0;
	for (uint32_t i = 0; i < o->count && !rc; i++) {
		uint8_t addr[16];
		store_key(addr, v[i]->fam, v[i]->key);
		rc = cb(ctx, v[i]->fam ? AF_INET6 : AF_INET, addr, v[i]->cidr);
	}
	if (v != stack)
		mem_free(v);
	return rc;
}

size_t allowedips_count(const struct allowedips *t)
{
	return t->count;
}
