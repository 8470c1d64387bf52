/* Fuzz target for the audit chain verifier (src/store/store_audit.c). A
 * database is untrusted input to `cox audit verify`: whoever has the file
 * may have changed it. Each run builds a fresh ten-row chain, applies the
 * tampering the input describes through a second SQLite connection (as the
 * sqlite3 tool would), and checks the verifier's verdict: it must read
 * every shape of table without failing, call the chain intact exactly when
 * the audit table is byte-for-byte what it was, and otherwise name a seq.
 *
 * Input: 4-byte operations {op, a, b, c}; rows are named by a % 12 + 1 (so
 * some name no row); op % 8 selects:
 *   0 delete row a           1 swap the seq of rows a and b
 *   2 move row a to seq b    3 set row a's detail to c copies of byte b
 *   4 add c + 1 to row a's ts 5 flip bit c % 8 of byte b % 32 of row a's hash
 *   6 the same in prev_hash  7 set row a's actor to "x" + b */
#include <sodium.h>
#include <sqlite3.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "store/store.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);

#define ROWS 10
#define MAX_OPS 32

static char dir[64], path[96];

static void check(bool ok)
{
	if (!ok)
		abort();
}

static int64_t fixed_now(void *arg)
{
	return *(int64_t *)arg;
}

static void remove_db(void)
{
	static const char *const suffix[] = { "", "-wal", "-shm" };
	for (size_t i = 0; i < 3; i++) {
		char p[128];
		snprintf(p, sizeof(p), "%s%s", path, suffix[i]);
		unlink(p);
	}
}

static void cleanup(void)
{
	remove_db();
	rmdir(dir);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	if (sodium_init() < 0)
		abort();
	/* tmpfs when there is one: the store syncs every commit. */
	strcpy(dir, access("/dev/shm", W_OK) == 0 ? "/dev/shm/fuzz_audit.XXXXXX" : "/tmp/fuzz_audit.XXXXXX");
	check(mkdtemp(dir) != NULL);
	snprintf(path, sizeof(path), "%s/cox.db", dir);
	atexit(cleanup);
	return 0;
}

/* SHA-256 over every audit row in seq order: "did anything change". */
static void digest(sqlite3 *db, uint8_t out[32])
{
	crypto_hash_sha256_state h;
	crypto_hash_sha256_init(&h);
	sqlite3_stmt *s;
	check(sqlite3_prepare_v2(db, "SELECT seq, ts, actor, action, target, detail, prev_hash, hash FROM audit"
				     " ORDER BY seq",
				 -1, &s, NULL) == SQLITE_OK);
	while (sqlite3_step(s) == SQLITE_ROW) {
		for (int i = 0; i < 8; i++) {
			const void *p = sqlite3_column_blob(s, i);
			uint32_t n = (uint32_t)sqlite3_column_bytes(s, i);
			crypto_hash_sha256_update(&h, (const uint8_t *)&n, sizeof(n));
			if (p)
				crypto_hash_sha256_update(&h, p, n);
		}
	}
	sqlite3_finalize(s);
	crypto_hash_sha256_final(&h, out);
}

static void run_op(sqlite3 *db, const uint8_t op[4])
{
	int64_t a = op[1] % 12 + 1, b = op[2] % 12 + 1;
	char sql[256], text[64];
	switch (op[0] % 8) {
	case 0:
		snprintf(sql, sizeof(sql), "DELETE FROM audit WHERE seq = %lld", (long long)a);
		break;
	case 1:
		snprintf(sql, sizeof(sql),
			 "UPDATE audit SET seq = -1 WHERE seq = %lld; UPDATE audit SET seq = %lld WHERE seq = %lld;"
			 " UPDATE audit SET seq = %lld WHERE seq = -1",
			 (long long)a, (long long)a, (long long)b, (long long)b);
		break;
	case 2:
		snprintf(sql, sizeof(sql), "UPDATE audit SET seq = %d WHERE seq = %lld", op[2] - 64, (long long)a);
		break;
	case 3: {
		size_t n = op[3] % 40;
		for (size_t i = 0; i < n; i++)
			text[i] = (char)(op[2] % 94 + 33 == '\'' ? 'q' : op[2] % 94 + 33);
		text[n] = 0;
		snprintf(sql, sizeof(sql), "UPDATE audit SET detail = '%s' WHERE seq = %lld", text, (long long)a);
		break;
	}
	case 4:
		snprintf(sql, sizeof(sql), "UPDATE audit SET ts = ts + %d WHERE seq = %lld", op[3] + 1, (long long)a);
		break;
	case 5:
	case 6: {
		const char *col = op[0] % 8 == 5 ? "hash" : "prev_hash";
		int byte = op[2] % 32, bit = op[3] % 8;
		/* Read, flip one bit, write back. */
		sqlite3_stmt *s;
		char q[96];
		snprintf(q, sizeof(q), "SELECT %s FROM audit WHERE seq = %lld", col, (long long)a);
		if (sqlite3_prepare_v2(db, q, -1, &s, NULL) != SQLITE_OK)
			return;
		uint8_t h[32];
		bool have = sqlite3_step(s) == SQLITE_ROW && sqlite3_column_bytes(s, 0) == 32;
		if (have)
			memcpy(h, sqlite3_column_blob(s, 0), 32);
		sqlite3_finalize(s);
		if (!have)
			return;
		h[byte] ^= (uint8_t)(1u << bit);
		snprintf(q, sizeof(q), "UPDATE audit SET %s = ? WHERE seq = %lld", col, (long long)a);
		if (sqlite3_prepare_v2(db, q, -1, &s, NULL) != SQLITE_OK)
			return;
		sqlite3_bind_blob(s, 1, h, 32, SQLITE_STATIC);
		(void)sqlite3_step(s);
		sqlite3_finalize(s);
		return;
	}
	default:
		snprintf(sql, sizeof(sql), "UPDATE audit SET actor = 'x%d' WHERE seq = %lld", op[2], (long long)a);
		break;
	}
	/* A statement that violates a constraint changes nothing; fine. */
	(void)sqlite3_exec(db, sql, NULL, NULL, NULL);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size > 4 * MAX_OPS)
		return 0;
	remove_db();
	struct store *st;
	char err[256];
	check(store_open(path, &st, err, sizeof(err)) == 0);
	int64_t now = 1000;
	store_set_clock(st, fixed_now, &now);
	static const char *const actions[] = { "user.add", "device.add", "device.revoke", "node.add" };
	for (int i = 0; i < ROWS; i++, now++) {
		char target[16], detail[32];
		snprintf(target, sizeof(target), "t%d", i);
		snprintf(detail, sizeof(detail), "{\"n\":%d,\"s\":\"\xc3\xa9\"}", i);
		check(store_audit_append(st, i % 3 ? "cli:root" : "api:admin", actions[i % 4], target, detail) == 0);
	}
	sqlite3 *db;
	check(sqlite3_open(path, &db) == SQLITE_OK);
	uint8_t before[32], after[32];
	digest(db, before);
	for (size_t off = 0; off + 4 <= size; off += 4)
		run_op(db, data + off);
	digest(db, after);
	sqlite3_close(db);

	struct store_audit_verdict v;
	check(store_audit_verify(st, &v) == 0);
	bool same = !memcmp(before, after, sizeof(before));
	if (same) {
		check(v.why == STORE_AUDIT_INTACT && v.rows == ROWS);
	} else {
		check(v.why != STORE_AUDIT_INTACT);
		check(v.detail[0] != 0);
		check(v.seq >= -256 && v.seq <= 256);
	}
	store_close(st);
	return 0;
}
