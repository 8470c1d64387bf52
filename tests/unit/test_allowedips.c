#include "support.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include "awg/allowedips.h"
#include "lib/err.h"
#include "lib/mem.h"

/* Distinct fake peers: only their addresses matter. */
static char peers[16];
#define P(i) ((void *)&peers[i])

static struct allowedips *new_trie(void)
{
	struct allowedips *t;
	assert_int_equal(allowedips_new(&t), 0);
	return t;
}

static int family_of(const char *s)
{
	return strchr(s, ':') ? AF_INET6 : AF_INET;
}

static void ins(struct allowedips *t, const char *addr, uint8_t cidr, void *peer)
{
	uint8_t a[16];
	int f = family_of(addr);
	assert_int_equal(inet_pton(f, addr, a), 1);
	assert_int_equal(allowedips_insert(t, f, a, cidr, peer), 0);
}

static int rem(struct allowedips *t, const char *addr, uint8_t cidr, void *peer)
{
	uint8_t a[16];
	int f = family_of(addr);
	assert_int_equal(inet_pton(f, addr, a), 1);
	return allowedips_remove(t, f, a, cidr, peer);
}

static void *look(const struct allowedips *t, const char *addr)
{
	uint8_t a[16];
	int f = family_of(addr);
	assert_int_equal(inet_pton(f, addr, a), 1);
	return allowedips_lookup(t, f, a);
}

/* walk_peer into "addr/cidr addr/cidr ..." */
struct walk_text {
	char s[1024];
	int stop_after;
	int seen;
};

static int walk_cb(void *ctx, int family, const uint8_t *addr, uint8_t cidr)
{
	struct walk_text *w = ctx;
	char a[INET6_ADDRSTRLEN];
	inet_ntop(family, addr, a, sizeof(a));
	snprintf(w->s + strlen(w->s), sizeof(w->s) - strlen(w->s), "%s%s/%u", w->s[0] ? " " : "", a, cidr);
	w->seen++;
	return w->stop_after && w->seen == w->stop_after ? 42 : 0;
}

static const char *walk(const struct allowedips *t, void *peer, struct walk_text *w)
{
	memset(w, 0, sizeof(*w));
	assert_int_equal(allowedips_walk_peer(t, peer, walk_cb, w), 0);
	return w->s;
}

/* ---- behaviour ------------------------------------------------------------------- */

static void an_empty_trie_matches_nothing(void **state)
{
	struct allowedips *t = new_trie();
	struct walk_text w;
	assert_null(look(t, "10.0.0.1"));
	assert_null(look(t, "::1"));
	assert_int_equal(allowedips_count(t), 0);
	assert_string_equal(walk(t, P(1), &w), "");
	assert_int_equal(rem(t, "10.0.0.0", 8, P(1)), ERR_NOTFOUND);
	allowedips_remove_by_peer(t, P(1));
	allowedips_free(t);
	allowedips_free(NULL);
}

static void the_longest_matching_prefix_wins(void **state)
{
	struct allowedips *t = new_trie();
	ins(t, "10.1.2.0", 24, P(3));
	ins(t, "10.0.0.0", 8, P(1));
	ins(t, "10.1.2.3", 32, P(4));
	ins(t, "10.1.0.0", 16, P(2));
	ins(t, "fd00::", 8, P(5));
	ins(t, "fd00:1::", 32, P(6));
	ins(t, "fd00:1::1", 128, P(7));
	assert_ptr_equal(look(t, "10.1.2.3"), P(4));
	assert_ptr_equal(look(t, "10.1.2.4"), P(3));
	assert_ptr_equal(look(t, "10.1.3.4"), P(2));
	assert_ptr_equal(look(t, "10.2.3.4"), P(1));
	assert_null(look(t, "11.0.0.0"));
	assert_null(look(t, "9.255.255.255"));
	assert_ptr_equal(look(t, "fd00:1::1"), P(7));
	assert_ptr_equal(look(t, "fd00:1::2"), P(6));
	assert_ptr_equal(look(t, "fdff::"), P(5));
	assert_null(look(t, "fe00::"));
	assert_int_equal(allowedips_count(t), 7);
	allowedips_free(t);
}

static void a_default_route_catches_every_address_of_its_family_only(void **state)
{
	struct allowedips *t = new_trie();
	ins(t, "0.0.0.0", 0, P(1));
	assert_ptr_equal(look(t, "1.2.3.4"), P(1));
	assert_ptr_equal(look(t, "255.255.255.255"), P(1));
	assert_null(look(t, "::"));
	ins(t, "::", 0, P(2));
	assert_ptr_equal(look(t, "ffff::1"), P(2));
	ins(t, "128.0.0.0", 1, P(3));
	assert_ptr_equal(look(t, "200.0.0.1"), P(3));
	assert_ptr_equal(look(t, "100.0.0.1"), P(1));
	assert_int_equal(rem(t, "0.0.0.0", 0, P(1)), 0);
	assert_null(look(t, "100.0.0.1"));
	assert_ptr_equal(look(t, "200.0.0.1"), P(3));
	allowedips_free(t);
}

static void host_routes_match_only_their_own_address(void **state)
{
	struct allowedips *t = new_trie();
	ins(t, "192.168.1.1", 32, P(1));
	ins(t, "192.168.1.0", 32, P(2));
	ins(t, "2001:db8::1", 128, P(3));
	ins(t, "2001:db8::", 128, P(4));
	assert_ptr_equal(look(t, "192.168.1.1"), P(1));
	assert_ptr_equal(look(t, "192.168.1.0"), P(2));
	assert_null(look(t, "192.168.1.2"));
	assert_ptr_equal(look(t, "2001:db8::1"), P(3));
	assert_ptr_equal(look(t, "2001:db8::"), P(4));
	assert_null(look(t, "2001:db8::2"));
	assert_null(look(t, "2001:db8:0:0:8000::"));
	allowedips_free(t);
}

static void host_bits_past_the_prefix_are_ignored(void **state)
{
	struct allowedips *t = new_trie();
	struct walk_text w;
	ins(t, "10.1.2.3", 8, P(1));
	ins(t, "10.200.0.1", 8, P(1));
	assert_int_equal(allowedips_count(t), 1);
	assert_string_equal(walk(t, P(1), &w), "10.0.0.0/8");
	ins(t, "fd12:3456::ffff", 16, P(1));
	assert_string_equal(walk(t, P(1), &w), "10.0.0.0/8 fd12::/16");
	assert_int_equal(rem(t, "10.9.9.9", 8, P(1)), 0);
	assert_int_equal(allowedips_count(t), 1);
	allowedips_free(t);
}

static void inserting_an_existing_prefix_moves_it_to_the_new_peer(void **state)
{
	struct allowedips *t = new_trie();
	struct walk_text w;
	ins(t, "10.0.0.0", 24, P(1));
	ins(t, "10.0.1.0", 24, P(1));
	ins(t, "10.0.0.0", 24, P(2));
	assert_ptr_equal(look(t, "10.0.0.9"), P(2));
	assert_int_equal(allowedips_count(t), 2);
	assert_string_equal(walk(t, P(1), &w), "10.0.1.0/24");
	assert_string_equal(walk(t, P(2), &w), "10.0.0.0/24");
	ins(t, "10.0.1.0", 24, P(2));
	assert_string_equal(walk(t, P(1), &w), "");
	assert_string_equal(walk(t, P(2), &w), "10.0.0.0/24 10.0.1.0/24");
	ins(t, "10.0.1.0", 24, P(2)); /* same peer again: nothing changes */
	assert_int_equal(allowedips_count(t), 2);
	allowedips_free(t);
}

static void remove_takes_a_prefix_only_from_the_peer_that_owns_it(void **state)
{
	struct allowedips *t = new_trie();
	ins(t, "10.0.0.0", 8, P(1));
	ins(t, "11.0.0.0", 8, P(2));
	assert_int_equal(rem(t, "10.0.0.0", 8, P(2)), ERR_NOTFOUND);
	assert_int_equal(rem(t, "10.0.0.0", 9, P(1)), ERR_NOTFOUND);
	assert_int_equal(rem(t, "10.0.0.0", 7, P(1)), ERR_NOTFOUND); /* the glue node above both */
	assert_int_equal(rem(t, "12.0.0.0", 8, P(1)), ERR_NOTFOUND);
	assert_ptr_equal(look(t, "10.1.1.1"), P(1));
	assert_int_equal(rem(t, "10.0.0.0", 8, P(1)), 0);
	assert_null(look(t, "10.1.1.1"));
	assert_ptr_equal(look(t, "11.1.1.1"), P(2));
	assert_int_equal(rem(t, "10.0.0.0", 8, P(1)), ERR_NOTFOUND);
	assert_int_equal(allowedips_count(t), 1);
	allowedips_free(t);
}

static void removing_the_middle_of_a_chain_keeps_the_rest(void **state)
{
	struct allowedips *t = new_trie();
	ins(t, "10.0.0.0", 8, P(1));
	ins(t, "10.1.0.0", 16, P(2));
	ins(t, "10.1.2.0", 24, P(3));
	ins(t, "10.1.2.128", 25, P(4));
	assert_int_equal(rem(t, "10.1.0.0", 16, P(2)), 0);
	assert_ptr_equal(look(t, "10.1.2.1"), P(3));
	assert_ptr_equal(look(t, "10.1.2.200"), P(4));
	assert_ptr_equal(look(t, "10.1.3.1"), P(1));
	assert_int_equal(rem(t, "10.1.2.0", 24, P(3)), 0);
	assert_ptr_equal(look(t, "10.1.2.1"), P(1));
	assert_ptr_equal(look(t, "10.1.2.200"), P(4));
	/* Two children under a prefix: removing it leaves a glue node. */
	ins(t, "10.1.2.0", 25, P(5));
	ins(t, "10.1.2.0", 24, P(3));
	assert_int_equal(rem(t, "10.1.2.0", 24, P(3)), 0);
	assert_ptr_equal(look(t, "10.1.2.1"), P(5));
	assert_ptr_equal(look(t, "10.1.2.129"), P(4));
	ins(t, "10.1.2.0", 24, P(6)); /* the glue node becomes a prefix again */
	assert_ptr_equal(look(t, "10.1.2.1"), P(5));
	assert_int_equal(allowedips_count(t), 4);
	assert_int_equal(rem(t, "10.0.0.0", 8, P(1)), 0);
	assert_int_equal(rem(t, "10.1.2.0", 25, P(5)), 0);
	assert_ptr_equal(look(t, "10.1.2.1"), P(6));
	assert_null(look(t, "10.1.3.1"));
	allowedips_free(t);
}

static void remove_by_peer_drops_all_of_that_peers_prefixes_and_nothing_else(void **state)
{
	struct allowedips *t = new_trie();
	struct walk_text w;
	ins(t, "10.0.0.0", 8, P(1));
	ins(t, "10.1.0.0", 16, P(2));
	ins(t, "10.1.1.0", 24, P(1));
	ins(t, "fd00::", 64, P(1));
	ins(t, "fd00::1", 128, P(2));
	allowedips_remove_by_peer(t, P(1));
	assert_int_equal(allowedips_count(t), 2);
	assert_ptr_equal(look(t, "10.1.1.1"), P(2));
	assert_null(look(t, "10.2.0.0"));
	assert_null(look(t, "fd00::2"));
	assert_ptr_equal(look(t, "fd00::1"), P(2));
	assert_string_equal(walk(t, P(1), &w), "");
	assert_string_equal(walk(t, P(2), &w), "10.1.0.0/16 fd00::1/128");
	allowedips_remove_by_peer(t, P(1));
	allowedips_remove_by_peer(t, P(2));
	assert_int_equal(allowedips_count(t), 0);
	assert_null(look(t, "10.1.1.1"));
	allowedips_free(t);
}

static void walk_lists_ipv4_before_ipv6_in_address_order_and_stops_on_request(void **state)
{
	struct allowedips *t = new_trie();
	struct walk_text w;
	ins(t, "fd00::", 8, P(1));
	ins(t, "192.168.0.0", 16, P(1));
	ins(t, "10.0.0.0", 16, P(1));
	ins(t, "10.0.0.0", 8, P(1));
	ins(t, "::", 0, P(1));
	ins(t, "10.0.0.0", 24, P(2));
	assert_string_equal(walk(t, P(1), &w), "10.0.0.0/8 10.0.0.0/16 192.168.0.0/16 ::/0 fd00::/8");
	memset(&w, 0, sizeof(w));
	w.stop_after = 2;
	assert_int_equal(allowedips_walk_peer(t, P(1), walk_cb, &w), 42);
	assert_string_equal(w.s, "10.0.0.0/8 10.0.0.0/16");
	/* More prefixes than fit the walk's stack array. */
	uint8_t a[4] = {172, 16, 0, 0};
	for (int i = 0; i < 100; i++) {
		a[2] = (uint8_t)(99 - i);
		assert_int_equal(allowedips_insert(t, AF_INET, a, 24, P(3)), 0);
	}
	memset(&w, 0, sizeof(w));
	assert_int_equal(allowedips_walk_peer(t, P(3), walk_cb, &w), 0);
	assert_int_equal(w.seen, 100);
	assert_true(strncmp(w.s, "172.16.0.0/24 172.16.1.0/24 172.16.2.0/24", 41) == 0);
	allowedips_free(t);
}

static void bad_families_prefix_lengths_and_peers_are_refused(void **state)
{
	struct allowedips *t = new_trie();
	uint8_t a[16] = {10};
	assert_int_equal(allowedips_insert(t, AF_UNIX, a, 8, P(1)), -EINVAL);
	assert_int_equal(allowedips_insert(t, AF_INET, a, 33, P(1)), -EINVAL);
	assert_int_equal(allowedips_insert(t, AF_INET6, a, 129, P(1)), -EINVAL);
	assert_int_equal(allowedips_insert(t, AF_INET, a, 8, NULL), -EINVAL);
	assert_int_equal(allowedips_remove(t, AF_UNIX, a, 8, P(1)), -EINVAL);
	assert_int_equal(allowedips_remove(t, AF_INET, a, 40, P(1)), -EINVAL);
	assert_null(allowedips_lookup(t, AF_UNIX, a));
	assert_int_equal(allowedips_insert(t, AF_INET, a, 32, P(1)), 0);
	assert_int_equal(allowedips_insert(t, AF_INET6, a, 128, P(1)), 0);
	assert_int_equal(allowedips_count(t), 2);
	allowedips_free(t);
}

/* ---- against a naive reference ---------------------------------------------------------- */

struct ref_entry {
	int fi;
	uint8_t key[16];
	uint8_t cidr;
	void *peer;
};

struct ref {
	struct ref_entry *e;
	size_t n;
};

static void mask(uint8_t *k, unsigned bits, unsigned cidr)
{
	for (unsigned i = 0; i < bits / 8; i++) {
		unsigned keep = cidr >= (i + 1) * 8 ? 8 : cidr > i * 8 ? cidr - i * 8 : 0;
		k[i] &= (uint8_t)(0xff00 >> keep);
	}
}

static bool ref_match(const struct ref_entry *e, const uint8_t *addr)
{
	uint8_t k[16];
	memcpy(k, addr, 16);
	mask(k, e->fi ? 128 : 32, e->cidr);
	return !memcmp(k, e->key, e->fi ? 16 : 4);
}

static struct ref_entry *ref_find(struct ref *r, int fi, const uint8_t *key, uint8_t cidr)
{
	for (size_t i = 0; i < r->n; i++)
		if (r->e[i].fi == fi && r->e[i].cidr == cidr && !memcmp(r->e[i].key, key, 16))
			return &r->e[i];
	return NULL;
}

static void ref_insert(struct ref *r, int fi, const uint8_t *addr, uint8_t cidr, void *peer)
{
	uint8_t k[16] = {0};
	memcpy(k, addr, fi ? 16 : 4);
	mask(k, fi ? 128 : 32, cidr);
	struct ref_entry *e = ref_find(r, fi, k, cidr);
	if (e) {
		e->peer = peer;
		return;
	}
	r->e = realloc(r->e, (r->n + 1) * sizeof(*r->e));
	e = &r->e[r->n++];
	e->fi = fi;
	memcpy(e->key, k, 16);
	e->cidr = cidr;
	e->peer = peer;
}

static int ref_remove(struct ref *r, int fi, const uint8_t *addr, uint8_t cidr, void *peer)
{
	uint8_t k[16] = {0};
	memcpy(k, addr, fi ? 16 : 4);
	mask(k, fi ? 128 : 32, cidr);
	struct ref_entry *e = ref_find(r, fi, k, cidr);
	if (!e || e->peer != peer)
		return ERR_NOTFOUND;
	*e = r->e[--r->n];
	return 0;
}

static void *ref_lookup(const struct ref *r, int fi, const uint8_t *addr)
{
	const struct ref_entry *best = NULL;
	uint8_t a[16] = {0};
	memcpy(a, addr, fi ? 16 : 4);
	for (size_t i = 0; i < r->n; i++)
		if (r->e[i].fi == fi && ref_match(&r->e[i], a) && (!best || r->e[i].cidr > best->cidr))
			best = &r->e[i];
	return best ? best->peer : NULL;
}

static uint64_t rng_state = 0x853c49e6748fea9bULL;
static uint32_t rnd(void)
{
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 7;
	rng_state ^= rng_state << 17;
	return (uint32_t)(rng_state >> 16);
}

/* Addresses drawn near a few bases so prefixes overlap and nest a lot. */
static void random_addr(int fi, uint8_t *a)
{
	static const uint8_t bases[4][16] = {
		{10, 0, 0, 0, 0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0},
		{192, 168, 0, 0, 0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0},
		{172, 16, 0, 0, 0xfe, 0x80, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0},
		{0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0},
	};
	unsigned n = fi ? 16 : 4;
	const uint8_t *b = bases[rnd() % 4];
	for (unsigned i = 0; i < n; i++)
		a[i] = b[i];
	unsigned from = rnd() % n; /* randomise a tail */
	for (unsigned i = from; i < n; i++)
		a[i] = (uint8_t)rnd();
	if (rnd() % 4 == 0)
		a[rnd() % n] ^= (uint8_t)(1u << (rnd() % 8));
}

static void check_all(const struct allowedips *t, const struct ref *r, int rounds)
{
	for (int i = 0; i < rounds; i++) {
		int fi = (int)(rnd() % 2), fam = fi ? AF_INET6 : AF_INET;
		uint8_t a[16] = {0};
		random_addr(fi, a);
		if (allowedips_lookup(t, fam, a) != ref_lookup(r, fi, a))
			fail_msg("lookup mismatch");
	}
	/* Every stored prefix's own address resolves to the reference answer. */
	for (size_t i = 0; i < r->n; i++) {
		int fam = r->e[i].fi ? AF_INET6 : AF_INET;
		if (allowedips_lookup(t, fam, r->e[i].key) != ref_lookup(r, r->e[i].fi, r->e[i].key))
			fail_msg("lookup mismatch at a stored prefix");
	}
	assert_int_equal(allowedips_count(t), r->n);
}

static void random_prefixes_match_a_linear_scan_reference(void **state)
{
	struct allowedips *t = new_trie();
	struct ref r = {NULL, 0};
	for (int round = 0; round < 6; round++) {
		for (int i = 0; i < 1500; i++) {
			int fi = (int)(rnd() % 2), fam = fi ? AF_INET6 : AF_INET;
			uint8_t a[16] = {0}, cidr = (uint8_t)(rnd() % ((fi ? 128 : 32) + 1));
			void *peer = P(rnd() % 8);
			random_addr(fi, a);
			assert_int_equal(allowedips_insert(t, fam, a, cidr, peer), 0);
			ref_insert(&r, fi, a, cidr, peer);
		}
		check_all(t, &r, 4000);
		/* Remove about a third: half of the attempts name a stored prefix. */
		for (int i = 0; i < 700; i++) {
			int fi, fam;
			uint8_t a[16] = {0}, cidr;
			void *peer;
			if (r.n && rnd() % 2) {
				struct ref_entry *e = &r.e[rnd() % r.n];
				fi = e->fi;
				memcpy(a, e->key, 16);
				cidr = e->cidr;
				peer = rnd() % 8 ? e->peer : P(rnd() % 8);
			} else {
				fi = (int)(rnd() % 2);
				random_addr(fi, a);
				cidr = (uint8_t)(rnd() % ((fi ? 128 : 32) + 1));
				peer = P(rnd() % 8);
			}
			fam = fi ? AF_INET6 : AF_INET;
			assert_int_equal(allowedips_remove(t, fam, a, cidr, peer), ref_remove(&r, fi, a, cidr, peer));
		}
		check_all(t, &r, 4000);
		if (round == 3) {
			allowedips_remove_by_peer(t, P(5));
			for (size_t i = 0; i < r.n;)
				if (r.e[i].peer == P(5))
					r.e[i] = r.e[--r.n];
				else
					i++;
			check_all(t, &r, 4000);
		}
	}
	free(r.e);
	allowedips_free(t);
}

/* ---- scale and allocation failures -------------------------------------------------------- */

static void ten_thousand_peers_with_four_prefixes_each_are_handled_quickly(void **state)
{
	enum { PEERS = 10000 };
	struct allowedips *t = new_trie();
	char *owners = calloc(PEERS, 1);
	struct timespec t0, t1;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (uint32_t i = 0; i < PEERS; i++) {
		uint8_t v4[4] = {10, (uint8_t)(i >> 8), (uint8_t)i, 1};
		uint8_t v6[16] = {0xfd, 0, 0, 0, 0, 0, (uint8_t)(i >> 8), (uint8_t)i};
		assert_int_equal(allowedips_insert(t, AF_INET, v4, 32, &owners[i]), 0);
		assert_int_equal(allowedips_insert(t, AF_INET, (uint8_t[4]){100, 64, (uint8_t)(i >> 8), (uint8_t)i}, 32,
		                                   &owners[i]), 0);
		assert_int_equal(allowedips_insert(t, AF_INET6, v6, 64, &owners[i]), 0);
		v6[15] = 1;
		assert_int_equal(allowedips_insert(t, AF_INET6, v6, 128, &owners[i]), 0);
	}
	assert_int_equal(allowedips_count(t), 4 * PEERS);
	for (uint32_t i = 0; i < PEERS; i++) {
		uint8_t v4[4] = {10, (uint8_t)(i >> 8), (uint8_t)i, 1};
		uint8_t v6[16] = {0xfd, 0, 0, 0, 0, 0, (uint8_t)(i >> 8), (uint8_t)i, 9};
		assert_ptr_equal(allowedips_lookup(t, AF_INET, v4), &owners[i]);
		assert_ptr_equal(allowedips_lookup(t, AF_INET6, v6), &owners[i]);
	}
	for (uint32_t i = 0; i < PEERS; i += 2)
		allowedips_remove_by_peer(t, &owners[i]);
	assert_int_equal(allowedips_count(t), 2 * PEERS);
	for (uint32_t i = 1; i < PEERS; i += 2)
		allowedips_remove_by_peer(t, &owners[i]);
	assert_int_equal(allowedips_count(t), 0);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	double ms = (double)(t1.tv_sec - t0.tv_sec) * 1e3 + (double)(t1.tv_nsec - t0.tv_nsec) / 1e6;
	print_message("40000 inserts, 20000 lookups, 10000 remove_by_peer: %.1f ms\n", ms);
	assert_true(ms < 5000);
	allowedips_free(t);
	free(owners);
}

static int build_and_tear_down(void *ctx)
{
	struct allowedips *t;
	int rc = allowedips_new(&t);
	if (rc < 0)
		return rc;
	uint32_t seed = 12345;
	for (int i = 0; i < 60 && !rc; i++) {
		seed = seed * 1103515245 + 12345;
		uint8_t a[16] = {10, (uint8_t)(seed >> 24), (uint8_t)(seed >> 16), (uint8_t)(seed >> 8)};
		int fam = i % 3 ? AF_INET : AF_INET6;
		rc = allowedips_insert(t, fam, a, (uint8_t)(8 + seed % 25), P(i % 5));
		if (i % 7 == 6 && !rc) /* interleave moves and removals */
			(void)allowedips_remove(t, fam, a, (uint8_t)(8 + seed % 25), P(i % 5));
	}
	/* After a failed insert the trie must still be whole. */
	(void)allowedips_lookup(t, AF_INET, (const uint8_t[4]){10, 1, 2, 3});
	if (!rc) {
		struct walk_text w;
		memset(&w, 0, sizeof(w));
		rc = allowedips_walk_peer(t, P(1), walk_cb, &w);
	}
	allowedips_remove_by_peer(t, P(2));
	allowedips_free(t);
	return rc;
}

static void inserts_survive_every_allocation_failure(void **state)
{
	assert_true(support_alloc_failure_loop(build_and_tear_down, NULL) > 60);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(an_empty_trie_matches_nothing),
		cmocka_unit_test(the_longest_matching_prefix_wins),
		cmocka_unit_test(a_default_route_catches_every_address_of_its_family_only),
		cmocka_unit_test(host_routes_match_only_their_own_address),
		cmocka_unit_test(host_bits_past_the_prefix_are_ignored),
		cmocka_unit_test(inserting_an_existing_prefix_moves_it_to_the_new_peer),
		cmocka_unit_test(remove_takes_a_prefix_only_from_the_peer_that_owns_it),
		cmocka_unit_test(removing_the_middle_of_a_chain_keeps_the_rest),
		cmocka_unit_test(remove_by_peer_drops_all_of_that_peers_prefixes_and_nothing_else),
		cmocka_unit_test(walk_lists_ipv4_before_ipv6_in_address_order_and_stops_on_request),
		cmocka_unit_test(bad_families_prefix_lengths_and_peers_are_refused),
		cmocka_unit_test(random_prefixes_match_a_linear_scan_reference),
		cmocka_unit_test(ten_thousand_peers_with_four_prefixes_each_are_handled_quickly),
		cmocka_unit_test(inserts_survive_every_allocation_failure),
	};
	return run_group(tests);
}
