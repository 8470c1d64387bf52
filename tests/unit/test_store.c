/* The controller's store: migrations, optimistic concurrency, address
 * allocation, PSKs, transactions, two processes at once, and allocation
 * failures. The audit chain has its own file (test_store_audit.c). */
#include "support.h"

#include <errno.h>
#include <sodium.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "lib/mem.h"
#include "store/store.h"

static const struct store_subnets NET = { "10.86.0.0/16", "fd00:86::/48" };

struct fixture {
	char dir[64];
	char path[128];
	struct store *st;
};

static int64_t fixed_clock(void *arg)
{
	return *(const int64_t *)arg;
}

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	assert_non_null(f);
	strcpy(f->dir, "/tmp/test_store.XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	snprintf(f->path, sizeof(f->path), "%s/cox.db", f->dir);
	char err[256];
	assert_int_equal(store_open(f->path, &f->st, err, sizeof(err)), 0);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;
	store_close(f->st);
	char cmd[160];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", f->dir);
	if (system(cmd) != 0)
		return -1;
	free(f);
	return 0;
}

static void add_user(struct store *st, const char *email)
{
	assert_int_equal(store_user_add(st, email, "", NULL), 0);
}

static void make_device(struct store_device *d, const char *name, uint8_t seed)
{
	memset(d, 0, sizeof(*d));
	snprintf(d->name, sizeof(d->name), "%s", name);
	memset(d->awg_public, seed, sizeof(d->awg_public));
	d->awg_public[0] = (uint8_t)(seed + 1);
	memset(d->enc_public, (uint8_t)(seed ^ 0x55), sizeof(d->enc_public));
}

static int add_device(struct store *st, const char *email, const char *name, uint8_t seed, struct store_device *d)
{
	make_device(d, name, seed);
	return store_device_add(st, email, &NET, d);
}

static void make_node(struct store_node *n, const char *name, enum store_node_state state)
{
	store_node_init(n);
	snprintf(n->name, sizeof(n->name), "%s", name);
	strcpy(n->ssh_user, "root");
	strcpy(n->ssh_host, "198.51.100.10");
	n->state = state;
}

/* ---- migrations ---------------------------------------------------------- */

static void a_new_database_is_migrated_to_the_latest_schema_and_is_private(void **state)
{
	struct fixture *f = *state;
	int64_t v = 0;
	assert_int_equal(store_schema_version(f->st, &v), 0);
	assert_true(store_schema_latest() >= 1);
	assert_int_equal(v, store_schema_latest());
	struct stat sb;
	assert_int_equal(stat(f->path, &sb), 0);
	assert_int_equal(sb.st_mode & 0777, 0600);
	/* Reopening applies nothing twice. */
	struct store *again;
	char err[256];
	assert_int_equal(store_open(f->path, &again, err, sizeof(err)), 0);
	assert_int_equal(store_schema_version(again, &v), 0);
	assert_int_equal(v, store_schema_latest());
	store_close(again);
}

static void a_database_newer_than_the_binary_is_refused_by_name(void **state)
{
	struct fixture *f = *state;
	sqlite3 *db;
	assert_int_equal(sqlite3_open(f->path, &db), SQLITE_OK);
	assert_int_equal(sqlite3_exec(db, "INSERT INTO schema_migrations VALUES (999, 'future', 0)", NULL, NULL, NULL),
			 SQLITE_OK);
	sqlite3_close(db);
	struct store *st;
	char err[256];
	assert_int_equal(store_open(f->path, &st, err, sizeof(err)), ERR_BADSTATE);
	assert_null(st);
	assert_non_null(strstr(err, "schema version 999"));
	assert_non_null(strstr(err, "newer than this binary"));
}

static void a_file_that_is_not_a_database_is_refused(void **state)
{
	struct fixture *f = *state;
	char path[160];
	snprintf(path, sizeof(path), "%s/junk.db", f->dir);
	FILE *fp = fopen(path, "w");
	assert_non_null(fp);
	fputs("this is not an SQLite database, not even close to one, but long enough to have a header\n", fp);
	fclose(fp);
	struct store *st;
	char err[256] = "";
	assert_true(store_open(path, &st, err, sizeof(err)) < 0);
	assert_null(st);
	assert_true(err[0] != 0);
}

/* ---- users ------------------------------------------------------------------ */

static void users_are_unique_by_lower_cased_email(void **state)
{
	struct fixture *f = *state;
	int64_t id = 0;
	assert_int_equal(store_user_add(f->st, "Alice@Example.org", "Alice A.", &id), 0);
	assert_true(id > 0);
	assert_int_equal(store_user_add(f->st, "alice@example.org", "", NULL), ERR_EXISTS);
	struct store_user u;
	assert_int_equal(store_user_get(f->st, "ALICE@example.ORG", &u), 0);
	assert_string_equal(u.email, "alice@example.org");
	assert_string_equal(u.name, "Alice A.");
	assert_int_equal(u.version, 1);
	assert_int_equal(store_user_get(f->st, "bob@example.org", &u), ERR_NOTFOUND);
}

static void malformed_emails_and_names_are_refused(void **state)
{
	struct fixture *f = *state;
	static const char *const bad[] = { "", "a", "@x.org", "a@", "a@@b.org", "a b@x.org", "a@-x.org",
					   "a@x-.org", "a@x..org", ".a@x.org", "a.@x.org", "a@x.org.",
					   "a\n@x.org" };
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_false(store_email_valid(bad[i]));
		assert_int_equal(store_user_add(f->st, bad[i], "", NULL), -EINVAL);
	}
	assert_true(store_email_valid("a.b+tag@sub.example.org"));
	assert_int_equal(store_user_add(f->st, "ok@example.org", "bad\x1b[2Jname", NULL), -EINVAL);
	assert_false(store_name_valid("with space"));
	assert_false(store_name_valid(""));
	assert_true(store_name_valid("laptop-2.home_x"));
}

static void a_stale_version_is_a_conflict_and_changes_nothing(void **state)
{
	struct fixture *f = *state;
	add_user(f->st, "a@example.org");
	struct store_user one, two;
	assert_int_equal(store_user_get(f->st, "a@example.org", &one), 0);
	two = one;
	assert_int_equal(store_user_set_name(f->st, &one, "First"), 0);
	assert_int_equal(one.version, 2);
	assert_int_equal(store_user_set_name(f->st, &two, "Second"), ERR_CONFLICT);
	struct store_user now;
	assert_int_equal(store_user_get(f->st, "a@example.org", &now), 0);
	assert_string_equal(now.name, "First");
	assert_int_equal(now.version, 2);
	/* Re-read, then it goes through. */
	assert_int_equal(store_user_set_name(f->st, &now, "Second"), 0);
	assert_int_equal(now.version, 3);
	/* A removed row is not found, not a conflict. */
	assert_int_equal(store_user_remove(f->st, "a@example.org", false), 0);
	assert_int_equal(store_user_set_name(f->st, &now, "x"), ERR_NOTFOUND);
}

static void a_user_with_devices_is_kept_unless_removed_with_them(void **state)
{
	struct fixture *f = *state;
	add_user(f->st, "a@example.org");
	struct store_device d;
	assert_int_equal(add_device(f->st, "a@example.org", "phone", 1, &d), 0);
	assert_int_equal(store_user_remove(f->st, "a@example.org", false), ERR_BADSTATE);
	struct store_user u;
	assert_int_equal(store_user_get(f->st, "a@example.org", &u), 0);
	assert_int_equal(u.n_devices, 1);
	assert_int_equal(store_user_remove(f->st, "a@example.org", true), 0);
	assert_int_equal(store_device_get(f->st, d.id, &d), ERR_NOTFOUND);
	int64_t n = -1;
	assert_int_equal(store_devices_count(f->st, &n), 0);
	assert_int_equal(n, 0);
}

/* ---- devices and addresses ---------------------------------------------- */

static void devices_get_consecutive_addresses_past_the_gateway(void **state)
{
	struct fixture *f = *state;
	add_user(f->st, "a@example.org");
	struct store_device d;
	static const char *const want4[] = { "10.86.0.2", "10.86.0.3", "10.86.0.4" };
	static const char *const want6[] = { "fd00:86::2", "fd00:86::3", "fd00:86::4" };
	for (int i = 0; i < 3; i++) {
		char name[16];
		snprintf(name, sizeof(name), "dev%d", i);
		assert_int_equal(add_device(f->st, "a@example.org", name, (uint8_t)(10 + i), &d), 0);
		assert_string_equal(d.addr4, want4[i]);
		assert_string_equal(d.addr6, want6[i]);
		assert_int_equal(d.host, i + 2);
		assert_string_equal(d.user_email, "a@example.org");
		assert_int_equal(d.version, 1);
	}
	/* The address is stable: read back, it is the same. */
	struct store_device again;
	assert_int_equal(store_device_find(f->st, "a@example.org/dev1", &again), 0);
	assert_string_equal(again.addr4, "10.86.0.3");
	/* Same name for the same user, or the same AWG key: refused. */
	assert_int_equal(add_device(f->st, "a@example.org", "dev0", 99, &d), ERR_EXISTS);
	assert_int_equal(add_device(f->st, "a@example.org", "other", 10, &d), ERR_EXISTS);
	assert_int_equal(add_device(f->st, "nobody@example.org", "x", 98, &d), ERR_NOTFOUND);
	/* Nothing was written by the failures: the next one is .5. */
	assert_int_equal(add_device(f->st, "a@example.org", "dev3", 13, &d), 0);
	assert_string_equal(d.addr4, "10.86.0.5");
}

static void a_full_subnet_says_so_and_a_freed_address_is_reused(void **state)
{
	struct fixture *f = *state;
	static const struct store_subnets small = { "192.168.5.0/29", "fd00:5::/64" };
	add_user(f->st, "a@example.org");
	struct store_device d;
	/* /29: .0 network, .1 gateway, .7 broadcast; .2 to .6 are hosts. */
	for (int i = 0; i < 5; i++) {
		char name[16];
		snprintf(name, sizeof(name), "d%d", i);
		make_device(&d, name, (uint8_t)(i + 1));
		assert_int_equal(store_device_add(f->st, "a@example.org", &small, &d), 0);
	}
	assert_string_equal(d.addr4, "192.168.5.6");
	make_device(&d, "d5", 50);
	assert_int_equal(store_device_add(f->st, "a@example.org", &small, &d), -ENOSPC);
	struct store_device gone;
	assert_int_equal(store_device_find(f->st, "d2", &gone), 0);
	assert_string_equal(gone.addr4, "192.168.5.4");
	assert_int_equal(store_device_remove(f->st, &gone), 0);
	make_device(&d, "d5", 50);
	assert_int_equal(store_device_add(f->st, "a@example.org", &small, &d), 0);
	assert_string_equal(d.addr4, "192.168.5.4");
	assert_string_equal(d.addr6, "fd00:5::4");
	/* Other subnets would move every device: refused. */
	make_device(&d, "d6", 60);
	assert_int_equal(store_device_add(f->st, "a@example.org", &NET, &d), ERR_BADSTATE);
	static const struct store_subnets bad4 = { "10.0.0.0/31", "fd00:5::/64" };
	static const struct store_subnets v6as4 = { "fd00::/64", "fd00:5::/64" };
	assert_int_equal(store_device_add(f->st, "a@example.org", &bad4, &d), -EINVAL);
	assert_int_equal(store_device_add(f->st, "a@example.org", &v6as4, &d), -EINVAL);
}

static void a_device_name_shared_by_two_users_needs_the_email(void **state)
{
	struct fixture *f = *state;
	add_user(f->st, "a@example.org");
	add_user(f->st, "b@example.org");
	struct store_device da, db, got;
	assert_int_equal(add_device(f->st, "a@example.org", "laptop", 1, &da), 0);
	assert_int_equal(add_device(f->st, "b@example.org", "laptop", 2, &db), 0);
	assert_int_equal(store_device_find(f->st, "laptop", &got), ERR_EXISTS);
	assert_int_equal(store_device_find(f->st, "B@example.org/laptop", &got), 0);
	assert_int_equal(got.id, db.id);
	char id[24];
	snprintf(id, sizeof(id), "%lld", (long long)da.id);
	assert_int_equal(store_device_find(f->st, id, &got), 0);
	assert_string_equal(got.user_email, "a@example.org");
	assert_int_equal(store_device_find(f->st, "nothing", &got), ERR_NOTFOUND);
	assert_int_equal(store_device_find(f->st, "a@example.org/", &got), ERR_NOTFOUND);
}

struct collect {
	int n;
	int64_t ids[64];
	char names[64][STORE_NAME_MAX + 1];
};

static int collect_device(void *arg, const struct store_device *d)
{
	struct collect *c = arg;
	if (c->n < 64) {
		c->ids[c->n] = d->id;
		strcpy(c->names[c->n], d->name);
	}
	c->n++;
	return 0;
}

static int collect_peer(void *arg, const struct store_peer *p)
{
	struct collect *c = arg;
	if (c->n < 64) {
		c->ids[c->n] = p->device_id;
		strcpy(c->names[c->n], p->device_name);
	}
	c->n++;
	return 0;
}

static void listing_filters_by_user_and_revocation(void **state)
{
	struct fixture *f = *state;
	add_user(f->st, "a@example.org");
	add_user(f->st, "b@example.org");
	struct store_device d;
	assert_int_equal(add_device(f->st, "a@example.org", "a1", 1, &d), 0);
	assert_int_equal(add_device(f->st, "b@example.org", "b1", 2, &d), 0);
	assert_int_equal(add_device(f->st, "a@example.org", "a2", 3, &d), 0);
	assert_int_equal(store_device_revoke(f->st, &d), 0);
	assert_true(d.revoked_at > 0);
	assert_int_equal(store_device_revoke(f->st, &d), ERR_BADSTATE);
	struct collect c = { 0 };
	assert_int_equal(store_devices_list(f->st, NULL, collect_device, &c), 0);
	assert_int_equal(c.n, 3);
	memset(&c, 0, sizeof(c));
	struct store_device_filter fl = { .email = "A@example.org", .include_revoked = false };
	assert_int_equal(store_devices_list(f->st, &fl, collect_device, &c), 0);
	assert_int_equal(c.n, 1);
	assert_string_equal(c.names[0], "a1");
	memset(&c, 0, sizeof(c));
	fl.include_revoked = true;
	assert_int_equal(store_devices_list(f->st, &fl, collect_device, &c), 0);
	assert_int_equal(c.n, 2);
}

/* ---- nodes and PSKs --------------------------------------------------------- */

static void active_nodes_and_live_devices_get_one_psk_per_pair(void **state)
{
	struct fixture *f = *state;
	add_user(f->st, "a@example.org");
	struct store_device d1, d2, d3;
	assert_int_equal(add_device(f->st, "a@example.org", "one", 1, &d1), 0);
	struct store_node na, nb;
	make_node(&na, "node-a", STORE_NODE_ACTIVE);
	assert_int_equal(store_node_add(f->st, &na), 0);
	make_node(&nb, "node-b", STORE_NODE_PENDING);
	assert_int_equal(store_node_add(f->st, &nb), 0);
	/* A device added now gets a PSK on the active node only. */
	assert_int_equal(add_device(f->st, "a@example.org", "two", 2, &d2), 0);
	uint8_t psk[STORE_KEY_LEN], psk2[STORE_KEY_LEN], zero[STORE_KEY_LEN] = { 0 };
	assert_int_equal(store_psk_get(f->st, d1.id, na.id, psk), 0);
	assert_memory_not_equal(psk, zero, sizeof(psk));
	assert_int_equal(store_psk_get(f->st, d2.id, na.id, psk2), 0);
	assert_memory_not_equal(psk, psk2, sizeof(psk));
	assert_int_equal(store_psk_get(f->st, d2.id, nb.id, psk2), ERR_NOTFOUND);
	/* node-b becomes active: both devices get their PSK there. */
	nb.state = STORE_NODE_ACTIVE;
	assert_int_equal(store_node_update(f->st, &nb), 0);
	assert_int_equal(store_psk_get(f->st, d1.id, nb.id, psk2), 0);
	assert_memory_not_equal(psk, psk2, sizeof(psk));
	/* Updating again keeps the PSKs (no rotation behind our back). */
	uint8_t before[STORE_KEY_LEN];
	memcpy(before, psk2, sizeof(before));
	nb.misses = 1;
	assert_int_equal(store_node_update(f->st, &nb), 0);
	assert_int_equal(store_psk_get(f->st, d1.id, nb.id, psk2), 0);
	assert_memory_equal(before, psk2, sizeof(psk2));
	/* A revoked device leaves the node's peer list and loses its PSKs. */
	assert_int_equal(add_device(f->st, "a@example.org", "three", 3, &d3), 0);
	assert_int_equal(store_device_revoke(f->st, &d2), 0);
	struct collect c = { 0 };
	assert_int_equal(store_node_peers(f->st, nb.id, collect_peer, &c), 0);
	assert_int_equal(c.n, 2);
	assert_int_equal(c.ids[0], d1.id);
	assert_int_equal(c.ids[1], d3.id);
	assert_int_equal(store_psk_get(f->st, d2.id, na.id, psk2), ERR_NOTFOUND);
	/* Removing a node removes its PSKs. */
	assert_int_equal(store_node_remove(f->st, &na), 0);
	assert_int_equal(store_psk_get(f->st, d1.id, na.id, psk2), ERR_NOTFOUND);
	store_node_fini(&na);
	store_node_fini(&nb);
}

static void a_node_round_trips_every_column(void **state)
{
	struct fixture *f = *state;
	struct store_node n, got;
	make_node(&n, "node-a", STORE_NODE_PENDING);
	strcpy(n.region, "eu-west");
	n.ssh_port = 2222;
	strcpy(n.host_key_fp, "SHA256:abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG");
	n.has_awg_public = true;
	memset(n.awg_public, 7, STORE_KEY_LEN);
	n.obfuscation = mem_strdup("jc=4\njmin=40\njmax=70\nh1=1234\n");
	assert_non_null(n.obfuscation);
	strcpy(n.control_host, "198.51.100.10");
	n.control_port = 8444;
	strcpy(n.endpoints[0], "198.51.100.10");
	strcpy(n.endpoints[1], "2001:DB8:A::10");
	n.n_endpoints = 2;
	n.port_lo = 443;
	n.port_hi = 450;
	n.isolation = false;
	n.intended_rev = 5;
	n.applied_rev = 4;
	n.last_seen = 1700000000;
	strcpy(n.binary_version, "v1.2.3");
	assert_int_equal(store_node_add(f->st, &n), 0);
	assert_int_equal(store_node_add(f->st, &n), ERR_EXISTS);
	assert_int_equal(store_node_get(f->st, "node-a", &got), 0);
	assert_string_equal(got.region, "eu-west");
	assert_int_equal(got.ssh_port, 2222);
	assert_string_equal(got.host_key_fp, n.host_key_fp);
	assert_true(got.has_awg_public);
	assert_false(got.has_reality_public);
	assert_memory_equal(got.awg_public, n.awg_public, STORE_KEY_LEN);
	assert_string_equal(got.obfuscation, n.obfuscation);
	assert_int_equal(got.n_endpoints, 2);
	assert_string_equal(got.endpoints[1], "2001:db8:a::10");
	assert_int_equal(got.port_hi, 450);
	assert_true(got.forwarding);
	assert_false(got.isolation);
	assert_int_equal(got.intended_rev, 5);
	assert_int_equal(got.applied_rev, 4);
	assert_string_equal(got.binary_version, "v1.2.3");
	assert_int_equal(got.state, STORE_NODE_PENDING);
	/* Two readers, one writer wins, the other gets a conflict. */
	struct store_node other;
	assert_int_equal(store_node_get(f->st, "node-a", &other), 0);
	got.state = STORE_NODE_ACTIVE;
	assert_int_equal(store_node_update(f->st, &got), 0);
	other.misses = 3;
	assert_int_equal(store_node_update(f->st, &other), ERR_CONFLICT);
	/* Bad shapes are refused before any SQL. */
	strcpy(got.endpoints[0], "not-an-address");
	assert_int_equal(store_node_update(f->st, &got), -EINVAL);
	strcpy(got.endpoints[0], "198.51.100.10");
	got.forwarding = false;
	assert_int_equal(store_node_update(f->st, &got), -EINVAL);
	/* Bumping the intended revision of every node not stopped. */
	assert_int_equal(store_node_bump_intended(f->st, NULL), 0);
	assert_int_equal(store_node_bump_intended(f->st, "nope"), ERR_NOTFOUND);
	store_node_fini(&other);
	assert_int_equal(store_node_get(f->st, "node-a", &other), 0);
	assert_int_equal(other.intended_rev, 6);
	assert_string_equal(store_node_state_name(other.state), "active");
	store_node_fini(&n);
	store_node_fini(&got);
	store_node_fini(&other);
}

/* ---- transactions ------------------------------------------------------------ */

static void a_rolled_back_transaction_leaves_nothing(void **state)
{
	struct fixture *f = *state;
	assert_int_equal(store_begin(f->st), 0);
	add_user(f->st, "a@example.org");
	assert_int_equal(store_audit_append(f->st, "test", "user.add", "a@example.org", ""), 0);
	store_rollback(f->st);
	struct store_user u;
	assert_int_equal(store_user_get(f->st, "a@example.org", &u), ERR_NOTFOUND);
	/* A failure inside dooms the transaction: commit reports it. */
	assert_int_equal(store_begin(f->st), 0);
	add_user(f->st, "b@example.org");
	assert_int_equal(store_user_add(f->st, "b@example.org", "", NULL), ERR_EXISTS);
	assert_int_equal(store_commit(f->st), ERR_EXISTS);
	assert_int_equal(store_user_get(f->st, "b@example.org", &u), ERR_NOTFOUND);
	struct store_audit_verdict v;
	assert_int_equal(store_audit_verify(f->st, &v), 0);
	assert_int_equal(v.rows, 0);
	assert_int_equal(v.why, STORE_AUDIT_INTACT);
	assert_int_equal(store_commit(f->st), ERR_BADSTATE);
}

static void certs_and_profiles_keep_their_rules(void **state)
{
	struct fixture *f = *state;
	struct store_cert c = { .serial = "0a1b2c", .role = "node", .subject = "node-a",
				.not_before = 100, .not_after = 200 };
	memset(c.fingerprint, 'a', 64);
	assert_int_equal(store_cert_add(f->st, &c), 0);
	assert_int_equal(store_cert_add(f->st, &c), ERR_EXISTS);
	strcpy(c.role, "king");
	assert_int_equal(store_cert_add(f->st, &c), -EINVAL);
	assert_int_equal(store_cert_revoke(f->st, "0a1b2c"), 0);
	assert_int_equal(store_cert_revoke(f->st, "0a1b2c"), ERR_BADSTATE);
	assert_int_equal(store_cert_revoke(f->st, "ffff"), ERR_NOTFOUND);
	struct store_cert got;
	assert_int_equal(store_cert_get(f->st, "0a1b2c", &got), 0);
	assert_true(got.revoked_at > 0);
	assert_int_equal(got.version, 2);

	add_user(f->st, "a@example.org");
	struct store_device d;
	assert_int_equal(add_device(f->st, "a@example.org", "p", 1, &d), 0);
	const uint8_t sealed[] = "sealed-bytes";
	assert_int_equal(store_profile_put(f->st, d.id, 3, sealed, sizeof(sealed)), 0);
	assert_int_equal(store_profile_put(f->st, d.id, 3, sealed, sizeof(sealed)), ERR_CONFLICT);
	assert_int_equal(store_profile_put(f->st, d.id + 100, 1, sealed, sizeof(sealed)), ERR_NOTFOUND);
	assert_int_equal(store_profile_put(f->st, d.id, 4, (const uint8_t *)"v4", 2), 0);
	uint64_t rev;
	uint8_t *buf;
	size_t len;
	assert_int_equal(store_profile_get(f->st, d.id, &rev, &buf, &len), 0);
	assert_int_equal(rev, 4);
	assert_int_equal(len, 2);
	assert_memory_equal(buf, "v4", 2);
	mem_free(buf);

	char v[16];
	assert_int_equal(store_kv_get(f->st, "nothing", v, sizeof(v)), ERR_NOTFOUND);
	assert_int_equal(store_kv_set(f->st, "k", "0123456789abcdefXYZ"), 0);
	assert_int_equal(store_kv_get(f->st, "k", v, sizeof(v)), -ENOSPC);

	assert_int_equal(store_admin_add(f->st, "admin", "$argon2id$v=19$m=65536,t=2,p=1$x$y", NULL), 0);
	assert_int_equal(store_admin_add(f->st, "admin", "$argon2id$z", NULL), ERR_EXISTS);
	struct store_admin a;
	assert_int_equal(store_admin_get(f->st, "admin", &a), 0);
	assert_int_equal(store_admin_set_pwhash(f->st, &a, "$argon2id$new"), 0);
	assert_int_equal(a.version, 2);
}

static int count_and_nest(void *arg, const struct store_device *d)
{
	struct fixture *f = arg;
	/* The same statement text while the outer one still runs: a second,
	 * uncached statement, not the busy cached one. */
	struct store_device again;
	assert_int_equal(store_device_get(f->st, d->id, &again), 0);
	assert_string_equal(again.name, d->name);
	int64_t n;
	assert_int_equal(store_devices_count(f->st, &n), 0);
	assert_int_equal(n, 3);
	return 0;
}

static void reused_statements_give_fresh_results_and_nest(void **state)
{
	struct fixture *f = *state;
	add_user(f->st, "a@example.org");
	struct store_device d;
	const char *names[] = { "one", "two", "three" };
	for (int i = 0; i < 3; i++) {
		assert_int_equal(add_device(f->st, "a@example.org", names[i], (uint8_t)(i + 1), &d), 0);
		assert_string_equal(d.name, names[i]);
	}
	/* A listing whose callback runs the same queries again. */
	const struct store_device_filter all = { .include_revoked = true };
	for (int round = 0; round < 3; round++)
		assert_int_equal(store_devices_list(f->st, &all, count_and_nest, f), 0);
	/* An error leaves the cached statement usable. */
	assert_int_equal(add_device(f->st, "a@example.org", "one", 9, &d), ERR_EXISTS);
	assert_int_equal(add_device(f->st, "a@example.org", "four", 4, &d), 0);
	assert_string_equal(d.addr4, "10.86.0.5");

	/* Peer counts agree with the peer list; revoked devices do not count. */
	struct store_node n;
	make_node(&n, "node-a", STORE_NODE_ACTIVE);
	assert_int_equal(store_node_add(f->st, &n), 0);
	int64_t peers;
	assert_int_equal(store_node_peer_count(f->st, n.id, &peers), 0);
	assert_int_equal(peers, 4);
	assert_int_equal(store_device_revoke(f->st, &d), 0);
	assert_int_equal(store_node_peer_count(f->st, n.id, &peers), 0);
	assert_int_equal(peers, 3);
	store_node_fini(&n);

	/* Settings can be removed; removing an absent one is not an error. */
	char v[16];
	assert_int_equal(store_kv_set(f->st, "node.x.binary", "/opt/x"), 0);
	assert_int_equal(store_kv_delete(f->st, "node.x.binary"), 0);
	assert_int_equal(store_kv_get(f->st, "node.x.binary", v, sizeof(v)), ERR_NOTFOUND);
	assert_int_equal(store_kv_delete(f->st, "node.x.binary"), 0);
	assert_int_equal(store_kv_delete(f->st, ""), -EINVAL);
}

/* ---- two processes ---------------------------------------------------------- */

#define PER_PROC 60

static int writer(const char *path, const char *who, int seed)
{
	struct store *st;
	char err[256];
	if (store_open(path, &st, err, sizeof(err)) < 0) {
		fprintf(stderr, "%s: cannot open %s: %s\n", who, path, err);
		return 10;
	}
	char email[64];
	snprintf(email, sizeof(email), "%s@example.org", who);
	int rc = 0;
	if (store_user_add(st, email, who, NULL) < 0)
		rc = 11;
	for (int i = 0; i < PER_PROC && !rc; i++) {
		struct store_device d;
		char name[16];
		snprintf(name, sizeof(name), "d%d", i);
		make_device(&d, name, 0);
		d.awg_public[1] = (uint8_t)seed;
		d.awg_public[2] = (uint8_t)i;
		if (store_begin(st) < 0 || store_device_add(st, email, &NET, &d) < 0 ||
		    store_audit_append(st, who, "device.add", name, "") < 0 || store_commit(st) < 0)
			rc = 12;
	}
	store_close(st);
	return rc;
}

static void two_processes_writing_at_once_both_succeed_without_collisions(void **state)
{
	struct fixture *f = *state;
	/* A fresh file: both processes also race to create and migrate it. */
	store_close(f->st);
	f->st = NULL;
	snprintf(f->path, sizeof(f->path), "%s/race.db", f->dir);
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0)
		_exit(writer(f->path, "child", 1));
	int mine = writer(f->path, "parent", 2);
	int status;
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
	assert_int_equal(mine, 0);
	char err[256];
	assert_int_equal(store_open(f->path, &f->st, err, sizeof(err)), 0);
	int64_t n = 0, distinct = 0;
	assert_int_equal(store_devices_count(f->st, &n), 0);
	assert_int_equal(n, 2 * PER_PROC);
	struct collect c = { 0 };
	assert_int_equal(store_devices_list(f->st, NULL, collect_device, &c), 0);
	assert_int_equal(c.n, 2 * PER_PROC);
	sqlite3 *db;
	assert_int_equal(sqlite3_open(f->path, &db), SQLITE_OK);
	sqlite3_stmt *s;
	assert_int_equal(sqlite3_prepare_v2(db, "SELECT COUNT(DISTINCT addr4) + COUNT(DISTINCT addr6), MAX(host)"
						" FROM devices", -1, &s, NULL), SQLITE_OK);
	assert_int_equal(sqlite3_step(s), SQLITE_ROW);
	distinct = sqlite3_column_int64(s, 0);
	assert_int_equal(sqlite3_column_int64(s, 1), 2 * PER_PROC + 1);
	sqlite3_finalize(s);
	sqlite3_close(db);
	assert_int_equal(distinct, 4 * PER_PROC);
	struct store_audit_verdict v;
	assert_int_equal(store_audit_verify(f->st, &v), 0);
	assert_int_equal(v.why, STORE_AUDIT_INTACT);
	assert_int_equal(v.rows, 2 * PER_PROC);
}

/* ---- scale ---------------------------------------------------------------- */

static int count_only(void *arg, const struct store_device *d)
{
	(*(int *)arg)++;
	return 0;
}

static void ten_thousand_devices_list_in_one_fast_query(void **state)
{
	struct fixture *f = *state;
	int64_t clock = 1700000000;
	store_set_clock(f->st, fixed_clock, &clock);
	assert_int_equal(store_begin(f->st), 0);
	for (int u = 0; u < 100; u++) {
		char email[32];
		snprintf(email, sizeof(email), "u%d@example.org", u);
		add_user(f->st, email);
		for (int i = 0; i < 100; i++) {
			struct store_device d;
			char name[16];
			snprintf(name, sizeof(name), "d%d", i);
			make_device(&d, name, 0);
			d.awg_public[1] = (uint8_t)u;
			d.awg_public[2] = (uint8_t)i;
			assert_int_equal(store_device_add(f->st, email, &NET, &d), 0);
		}
	}
	assert_int_equal(store_commit(f->st), 0);
	/* CPU time, not wall time: other jobs on a loaded machine must not make
	 * this fail, and the query's own cost is what the target is about. */
	struct timespec a, b;
	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &a);
	int n = 0;
	assert_int_equal(store_devices_list(f->st, NULL, count_only, &n), 0);
	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &b);
	assert_int_equal(n, 10000);
	double ms = (double)(b.tv_sec - a.tv_sec) * 1e3 + (double)(b.tv_nsec - a.tv_nsec) / 1e6;
	print_message("listing 10000 devices: %.1f ms of CPU\n", ms);
	/* The target is 200 ms; TSan makes our code several times slower. */
#if defined(__SANITIZE_THREAD__)
	assert_true(ms < 600);
#else
	assert_true(ms < 200);
#endif
	struct store_device last;
	assert_int_equal(store_device_find(f->st, "u99@example.org/d99", &last), 0);
	assert_string_equal(last.addr4, "10.86.39.17"); /* host 10001 */
}

/* ---- allocation failures ------------------------------------------------------ */

static int open_and_use(void *ctx)
{
	const char *path = ctx;
	unlink(path);
	struct store *st;
	char err[256];
	int r = store_open(path, &st, err, sizeof(err));
	if (r < 0)
		return r;
	struct store_node n, got;
	make_node(&n, "n1", STORE_NODE_ACTIVE);
	n.obfuscation = mem_strdup("jc=3\n");
	if (!n.obfuscation) {
		store_close(st);
		return -ENOMEM;
	}
	store_node_init(&got);
	struct store_device d;
	make_device(&d, "d", 1);
	uint8_t *buf = NULL;
	size_t len;
	uint64_t rev;
	r = store_user_add(st, "a@example.org", "", NULL);
	if (r == 0)
		r = store_node_add(st, &n);
	if (r == 0)
		r = store_device_add(st, "a@example.org", &NET, &d);
	if (r == 0)
		r = store_node_get(st, "n1", &got);
	if (r == 0)
		r = store_profile_put(st, d.id, 1, (const uint8_t *)"x", 1);
	if (r == 0)
		r = store_profile_get(st, d.id, &rev, &buf, &len);
	mem_free(buf);
	store_node_fini(&n);
	store_node_fini(&got);
	store_close(st);
	return r;
}

static void every_allocation_failure_unwinds_cleanly(void **state)
{
	struct fixture *f = *state;
	char path[160];
	snprintf(path, sizeof(path), "%s/alloc.db", f->dir);
	assert_true(support_alloc_failure_loop(open_and_use, path) >= 4);
}

/* Opening an up-to-date store takes no lock: it opens and reads while
 * another process holds the write lock for longer than the busy timeout
 * (a bulk import), and only a write waits. */
static void an_up_to_date_store_opens_and_reads_while_another_process_writes(void **state)
{
	struct fixture *f = *state;
	add_user(f->st, "a@example.org");
	sqlite3 *other;
	assert_int_equal(sqlite3_open(f->path, &other), SQLITE_OK);
	assert_int_equal(sqlite3_exec(other, "BEGIN IMMEDIATE", NULL, NULL, NULL), SQLITE_OK);
	struct store *again;
	char err[256] = "";
	time_t t0 = time(NULL);
	int rc = store_open(f->path, &again, err, sizeof(err));
	if (rc != 0)
		fail_msg("store_open while another process writes: %s", err);
	assert_true(time(NULL) - t0 <= 2);
	struct store_user u;
	assert_int_equal(store_user_get(again, "a@example.org", &u), 0);
	store_close(again);
	assert_int_equal(sqlite3_exec(other, "COMMIT", NULL, NULL, NULL), SQLITE_OK);
	sqlite3_close(other);
}

int main(void)
{
	if (sodium_init() < 0)
		return 1;
	const struct CMUnitTest tests[] = {
#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)
		T(a_new_database_is_migrated_to_the_latest_schema_and_is_private),
		T(a_database_newer_than_the_binary_is_refused_by_name),
		T(a_file_that_is_not_a_database_is_refused),
		T(users_are_unique_by_lower_cased_email),
		T(malformed_emails_and_names_are_refused),
		T(a_stale_version_is_a_conflict_and_changes_nothing),
		T(a_user_with_devices_is_kept_unless_removed_with_them),
		T(devices_get_consecutive_addresses_past_the_gateway),
		T(a_full_subnet_says_so_and_a_freed_address_is_reused),
		T(a_device_name_shared_by_two_users_needs_the_email),
		T(listing_filters_by_user_and_revocation),
		T(active_nodes_and_live_devices_get_one_psk_per_pair),
		T(a_node_round_trips_every_column),
		T(a_rolled_back_transaction_leaves_nothing),
		T(certs_and_profiles_keep_their_rules),
		T(reused_statements_give_fresh_results_and_nest),
		T(two_processes_writing_at_once_both_succeed_without_collisions),
		T(ten_thousand_devices_list_in_one_fast_query),
		T(every_allocation_failure_unwinds_cleanly),
		T(an_up_to_date_store_opens_and_reads_while_another_process_writes),
#undef T
	};
	return run_group(tests);
}
