/* The audit hash chain: the encoding, listing filters, and that editing,
 * deleting or reordering rows behind the store's back (as the sqlite3 tool
 * would) is found and the first broken row named. */
#include "support.h"

#include <errno.h>
#include <sodium.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/store.h"

struct fixture {
	char dir[64];
	char path[128];
	struct store *st;
	int64_t clock;
};

static int64_t fixture_clock(void *arg)
{
	return ((struct fixture *)arg)->clock;
}

/* Ten rows, ts 1000..1009: actors alternate, actions cycle. */
static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	assert_non_null(f);
	strcpy(f->dir, "/tmp/test_audit.XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	snprintf(f->path, sizeof(f->path), "%s/cox.db", f->dir);
	char err[256];
	assert_int_equal(store_open(f->path, &f->st, err, sizeof(err)), 0);
	store_set_clock(f->st, fixture_clock, f);
	static const char *const actions[] = { "user.add", "device.add", "device.revoke" };
	for (int i = 0; i < 10; i++) {
		f->clock = 1000 + i;
		char target[32], detail[64];
		snprintf(target, sizeof(target), "t%d", i + 1);
		snprintf(detail, sizeof(detail), "{\"n\":%d}", i + 1);
		assert_int_equal(store_audit_append(f->st, i % 2 ? "cli:bob" : "cli:alice", actions[i % 3], target,
						    detail),
				 0);
	}
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

/* Tampering the way an operator with the sqlite3 tool would. */
static void tamper(struct fixture *f, const char *sql)
{
	sqlite3 *db;
	assert_int_equal(sqlite3_open(f->path, &db), SQLITE_OK);
	char *msg = NULL;
	if (sqlite3_exec(db, sql, NULL, NULL, &msg) != SQLITE_OK)
		fail_msg("tamper SQL failed: %s", msg ? msg : "?");
	sqlite3_close(db);
}

static void verify(struct fixture *f, enum store_audit_break why, int64_t seq, const char *words)
{
	struct store_audit_verdict v;
	assert_int_equal(store_audit_verify(f->st, &v), 0);
	if (v.why != why || v.seq != seq || (words && !strstr(v.detail, words)))
		fail_msg("verdict %s at seq %lld (\"%s\"), expected %s at %lld containing \"%s\"",
			 store_audit_break_name(v.why), (long long)v.seq, v.detail, store_audit_break_name(why),
			 (long long)seq, words ? words : "");
}

static void the_hash_covers_the_previous_hash_and_every_field(void **state)
{
	struct store_audit_row r = { .seq = 1, .ts = 1000, .actor = "a", .action = "b", .target = "c", .detail = "d" };
	uint8_t h[STORE_HASH_LEN], h2[STORE_HASH_LEN];
	store_audit_hash(&r, h);
	/* Reproduce it from the documented encoding. */
	static const uint8_t enc[] = {
		0, 0, 0, 15, 'p', 'h', 'a', 'r', 'o', 's', '-', 'a', 'u', 'd', 'i', 't', '-', 'v', '1',
		0, 0, 0, 0, 0, 0, 0, 1,        /* seq */
		0, 0, 0, 0, 0, 0, 0x03, 0xe8,  /* ts 1000 */
		0, 0, 0, 1, 'a', 0, 0, 0, 1, 'b', 0, 0, 0, 1, 'c', 0, 0, 0, 1, 'd',
	};
	uint8_t buf[STORE_HASH_LEN + sizeof(enc)] = { 0 };
	memcpy(buf + STORE_HASH_LEN, enc, sizeof(enc));
	crypto_hash_sha256(h2, buf, sizeof(buf));
	assert_memory_equal(h, h2, sizeof(h));
	/* Moving a byte between fields changes the hash (length prefixes). */
	struct store_audit_row s = r;
	s.actor = "ab";
	s.action = "";
	store_audit_hash(&s, h2);
	assert_memory_not_equal(h, h2, sizeof(h));
	s = r;
	s.prev_hash[31] = 1;
	store_audit_hash(&s, h2);
	assert_memory_not_equal(h, h2, sizeof(h));
}

static void an_untouched_chain_verifies(void **state)
{
	struct fixture *f = *state;
	struct store_audit_verdict v;
	assert_int_equal(store_audit_verify(f->st, &v), 0);
	assert_int_equal(v.why, STORE_AUDIT_INTACT);
	assert_int_equal(v.rows, 10);
	assert_int_equal(v.last_seq, 10);
}

static void an_edited_row_is_named(void **state)
{
	struct fixture *f = *state;
	tamper(f, "UPDATE audit SET detail = '{\"n\":99}' WHERE seq = 4");
	verify(f, STORE_AUDIT_EDITED, 4, "row 4 does not match its hash");
}

static void an_edited_row_with_a_recomputed_hash_is_still_found(void **state)
{
	struct fixture *f = *state;
	/* Rewrite row 6 and fix up its own hash, as a careful attacker would. */
	struct store_audit_row r = { .seq = 6, .ts = 1005, .actor = "cli:bob", .action = "device.revoke",
				     .target = "t6", .detail = "{\"n\":0}" };
	sqlite3 *db;
	assert_int_equal(sqlite3_open(f->path, &db), SQLITE_OK);
	sqlite3_stmt *s;
	assert_int_equal(sqlite3_prepare_v2(db, "SELECT prev_hash FROM audit WHERE seq = 6", -1, &s, NULL), SQLITE_OK);
	assert_int_equal(sqlite3_step(s), SQLITE_ROW);
	memcpy(r.prev_hash, sqlite3_column_blob(s, 0), STORE_HASH_LEN);
	sqlite3_finalize(s);
	uint8_t h[STORE_HASH_LEN];
	store_audit_hash(&r, h);
	assert_int_equal(sqlite3_prepare_v2(db, "UPDATE audit SET detail = ?, hash = ? WHERE seq = 6", -1, &s, NULL),
			 SQLITE_OK);
	sqlite3_bind_text(s, 1, r.detail, -1, SQLITE_STATIC);
	sqlite3_bind_blob(s, 2, h, sizeof(h), SQLITE_STATIC);
	assert_int_equal(sqlite3_step(s), SQLITE_DONE);
	sqlite3_finalize(s);
	sqlite3_close(db);
	verify(f, STORE_AUDIT_EDITED, 6, "row 6 was rewritten");
}

static void a_deleted_row_is_named(void **state)
{
	struct fixture *f = *state;
	tamper(f, "DELETE FROM audit WHERE seq = 5");
	verify(f, STORE_AUDIT_DELETED, 5, "row 5 was deleted");
}

static void a_deleted_first_row_is_named(void **state)
{
	struct fixture *f = *state;
	tamper(f, "DELETE FROM audit WHERE seq IN (1, 2)");
	verify(f, STORE_AUDIT_DELETED, 1, "rows 1 to 2 were deleted");
}

static void deleting_the_newest_rows_is_found_through_the_head(void **state)
{
	struct fixture *f = *state;
	tamper(f, "DELETE FROM audit WHERE seq = 10");
	verify(f, STORE_AUDIT_DELETED, 10, "row 10, the newest, was deleted");
}

static void swapped_rows_are_found_as_reordered(void **state)
{
	struct fixture *f = *state;
	tamper(f, "UPDATE audit SET seq = -3 WHERE seq = 3;"
		  "UPDATE audit SET seq = 3 WHERE seq = 4;"
		  "UPDATE audit SET seq = 4 WHERE seq = -3;");
	verify(f, STORE_AUDIT_REORDERED, 3, "rows were reordered");
}

static void a_row_moved_to_the_end_is_found_as_reordered(void **state)
{
	struct fixture *f = *state;
	tamper(f, "UPDATE audit SET seq = 100 WHERE seq = 2");
	verify(f, STORE_AUDIT_REORDERED, 3, "row 3 follows row 100");
}

static void deleted_and_renumbered_rows_are_found(void **state)
{
	struct fixture *f = *state;
	tamper(f, "DELETE FROM audit WHERE seq = 7;"
		  "UPDATE audit SET seq = seq - 1 WHERE seq > 7;");
	verify(f, STORE_AUDIT_EDITED, 7, "deleted and renumbered");
}

static void appending_after_verification_continues_the_chain(void **state)
{
	struct fixture *f = *state;
	f->clock = 2000;
	assert_int_equal(store_audit_append(f->st, "cli:alice", "user.rm", "t11", ""), 0);
	verify(f, STORE_AUDIT_INTACT, 0, NULL);
	assert_int_equal(store_audit_append(f->st, "", "x", "", ""), -EINVAL);
	assert_int_equal(store_audit_append(f->st, "a", "bad\naction", "", ""), -EINVAL);
}

struct seen {
	int n;
	int64_t seqs[32];
};

static int collect(void *arg, const struct store_audit_row *r)
{
	struct seen *s = arg;
	if (s->n < 32)
		s->seqs[s->n] = r->seq;
	s->n++;
	return 0;
}

static void listing_filters_by_time_actor_action_and_limit(void **state)
{
	struct fixture *f = *state;
	struct seen s = { 0 };
	assert_int_equal(store_audit_list(f->st, NULL, collect, &s), 0);
	assert_int_equal(s.n, 10);
	assert_int_equal(s.seqs[0], 1);

	memset(&s, 0, sizeof(s));
	struct store_audit_filter fl = { .since = 1007 };
	assert_int_equal(store_audit_list(f->st, &fl, collect, &s), 0);
	assert_int_equal(s.n, 3);
	assert_int_equal(s.seqs[0], 8);

	memset(&s, 0, sizeof(s));
	fl = (struct store_audit_filter){ .actor = "cli:bob" };
	assert_int_equal(store_audit_list(f->st, &fl, collect, &s), 0);
	assert_int_equal(s.n, 5);
	assert_int_equal(s.seqs[0], 2);

	memset(&s, 0, sizeof(s));
	fl = (struct store_audit_filter){ .action = "device.*" };
	assert_int_equal(store_audit_list(f->st, &fl, collect, &s), 0);
	assert_int_equal(s.n, 6);

	memset(&s, 0, sizeof(s));
	fl = (struct store_audit_filter){ .action = "device.add", .actor = "cli:bob" };
	assert_int_equal(store_audit_list(f->st, &fl, collect, &s), 0);
	assert_int_equal(s.n, 2); /* seq 2 and 8 */
	assert_int_equal(s.seqs[1], 8);

	/* The newest N, still oldest first. */
	memset(&s, 0, sizeof(s));
	fl = (struct store_audit_filter){ .limit = 3 };
	assert_int_equal(store_audit_list(f->st, &fl, collect, &s), 0);
	assert_int_equal(s.n, 3);
	assert_int_equal(s.seqs[0], 8);
	assert_int_equal(s.seqs[2], 10);

	/* A LIKE pattern is not one: '%' matches itself only. */
	memset(&s, 0, sizeof(s));
	fl = (struct store_audit_filter){ .action = "%" };
	assert_int_equal(store_audit_list(f->st, &fl, collect, &s), 0);
	assert_int_equal(s.n, 0);
}

int main(void)
{
	if (sodium_init() < 0)
		return 1;
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(the_hash_covers_the_previous_hash_and_every_field),
#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)
		T(an_untouched_chain_verifies),
		T(an_edited_row_is_named),
		T(an_edited_row_with_a_recomputed_hash_is_still_found),
		T(a_deleted_row_is_named),
		T(a_deleted_first_row_is_named),
		T(deleting_the_newest_rows_is_found_through_the_head),
		T(swapped_rows_are_found_as_reordered),
		T(a_row_moved_to_the_end_is_found_as_reordered),
		T(deleted_and_renumbered_rows_are_found),
		T(appending_after_verification_continues_the_chain),
		T(listing_filters_by_time_actor_action_and_limit),
#undef T
	};
	return run_group(tests);
}
