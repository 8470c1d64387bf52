/* Reads the input as a program of trie operations (insert, remove, lookup,
 * remove_by_peer) over both families and compares every lookup, every
 * remove's result and the final per-peer walks with a naive linear-scan
 * reference. Any disagreement aborts. */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "awg/allowedips.h"
#include "lib/err.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define PEERS 8
#define MAX_REF 512

struct ref_entry {
	int fi;
	uint8_t key[16];
	uint8_t cidr;
	int peer;
};

struct ref {
	struct ref_entry e[MAX_REF];
	size_t n;
};

static void mask(uint8_t *k, unsigned cidr)
{
	for (unsigned i = 0; i < 16; i++) {
		unsigned keep = cidr >= (i + 1) * 8 ? 8 : cidr > i * 8 ? cidr - i * 8 : 0;
		k[i] &= (uint8_t)(0xff00 >> keep);
	}
}

static struct ref_entry *ref_find(struct ref *r, int fi, const uint8_t *k, uint8_t cidr)
{
	for (size_t i = 0; i < r->n; i++)
		if (r->e[i].fi == fi && r->e[i].cidr == cidr && !memcmp(r->e[i].key, k, 16))
			return &r->e[i];
	return NULL;
}

static int ref_lookup(const struct ref *r, int fi, const uint8_t *addr)
{
	int best = -1, bestlen = -1;
	for (size_t i = 0; i < r->n; i++) {
		uint8_t k[16];
		memcpy(k, addr, 16);
		mask(k, r->e[i].cidr);
		if (r->e[i].fi == fi && !memcmp(k, r->e[i].key, 16) && r->e[i].cidr > bestlen) {
			best = r->e[i].peer;
			bestlen = r->e[i].cidr;
		}
	}
	return best;
}

struct walk {
	const struct ref *r;
	int peer;
	size_t seen;
	int last_fi;
	uint8_t last[16];
	int last_cidr;
};

static int walk_cb(void *ctx, int family, const uint8_t *addr, uint8_t cidr)
{
	struct walk *w = ctx;
	int fi = family == AF_INET6;
	uint8_t k[16] = {0};
	memcpy(k, addr, fi ? 16 : 4);
	const struct ref_entry *e = ref_find((struct ref *)w->r, fi, k, cidr);
	if (!e || e->peer != w->peer)
		abort();
	/* strictly increasing by (family, address, prefix length) */
	if (w->seen) {
		int c = fi != w->last_fi ? fi - w->last_fi : memcmp(k, w->last, 16);
		if (c < 0 || (c == 0 && cidr <= w->last_cidr))
			abort();
	}
	w->last_fi = fi;
	memcpy(w->last, k, 16);
	w->last_cidr = cidr;
	w->seen++;
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static char peers[PEERS];
	struct ref *r = calloc(1, sizeof(*r));
	struct allowedips *t;
	if (!r || allowedips_new(&t) != 0)
		abort();
	size_t i = 0;
	uint8_t last[16] = {0};
	while (i + 2 <= size) {
		uint8_t op = data[i], arg = data[i + 1];
		i += 2;
		int fi = op >> 7, fam = fi ? AF_INET6 : AF_INET, peer = (op >> 2) & (PEERS - 1);
		unsigned bits = fi ? 128 : 32;
		/* Address: the previous one with up to 4 bytes replaced from the input,
		 * so prefixes nest and share paths. */
		uint8_t a[16];
		memcpy(a, last, 16);
		unsigned nrep = (op >> 5) & 3;
		for (unsigned k = 0; k <= nrep && i + 1 < size; k++, i += 2)
			a[data[i] % (fi ? 16 : 4)] = data[i + 1];
		if (!fi)
			memset(a + 4, 0, 12);
		memcpy(last, a, 16);
		uint8_t cidr = (uint8_t)(arg % (bits + 1));
		uint8_t k[16];
		memcpy(k, a, 16);
		mask(k, cidr);
		switch (op & 3) {
		case 0: { /* insert */
			int rc = allowedips_insert(t, fam, a, cidr, &peers[peer]);
			if (rc != 0)
				abort();
			struct ref_entry *e = ref_find(r, fi, k, cidr);
			if (e) {
				e->peer = peer;
			} else if (r->n < MAX_REF) {
				e = &r->e[r->n++];
				e->fi = fi;
				memcpy(e->key, k, 16);
				e->cidr = cidr;
				e->peer = peer;
			} else {
				(void)allowedips_remove(t, fam, a, cidr, &peers[peer]);
			}
			break;
		}
		case 1: { /* remove */
			struct ref_entry *e = ref_find(r, fi, k, cidr);
			int want = e && e->peer == peer ? 0 : ERR_NOTFOUND;
			if (allowedips_remove(t, fam, a, cidr, &peers[peer]) != want)
				abort();
			if (!want)
				*e = r->e[--r->n];
			break;
		}
		case 2: { /* lookup */
			int want = ref_lookup(r, fi, a);
			void *got = allowedips_lookup(t, fam, a);
			if (got != (want < 0 ? NULL : &peers[want]))
				abort();
			break;
		}
		default: /* remove_by_peer, made rarer by arg */
			if (arg % 8)
				break;
			allowedips_remove_by_peer(t, &peers[peer]);
			for (size_t j = 0; j < r->n;)
				if (r->e[j].peer == peer)
					r->e[j] = r->e[--r->n];
				else
					j++;
			break;
		}
		if (allowedips_count(t) != r->n)
			abort();
	}
	/* Every stored prefix resolves as the reference says, and each peer's
	 * walk lists exactly its prefixes in order. */
	for (size_t j = 0; j < r->n; j++) {
		int want = ref_lookup(r, r->e[j].fi, r->e[j].key);
		if (allowedips_lookup(t, r->e[j].fi ? AF_INET6 : AF_INET, r->e[j].key) != &peers[want])
			abort();
	}
	for (int p = 0; p < PEERS; p++) {
		struct walk w = {r, p, 0, 0, {0}, 0};
		size_t want = 0;
		for (size_t j = 0; j < r->n; j++)
			want += r->e[j].peer == p;
		if (allowedips_walk_peer(t, &peers[p], walk_cb, &w) != 0 || w.seen != want)
			abort();
	}
	allowedips_free(t);
	free(r);
	return 0;
}
