/* The store's SQLite backend: WAL journal (readers never block the one
 * writer), foreign keys on, FULL sync so a committed audit row survives a
 * power cut, secure_delete so a removed device's PSK is overwritten rather
 * than left in a free page, and a busy timeout so two cox processes queue
 * instead of failing. */
#include "store/store_backend.h"
#include "store/store.h"

#include <errno.h>
#include <fcntl.h>
#include <sqlite3.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>


static int map(int rc)
{
	switch (rc) {
	case SQLITE_OK:
	case SQLITE_DONE:
	case SQLITE_ROW:
		return 0;
	case SQLITE_CONSTRAINT_UNIQUE:
	case SQLITE_CONSTRAINT_PRIMARYKEY:
		return ERR_EXISTS;
	case SQLITE_CONSTRAINT_FOREIGNKEY:
		return ERR_BADSTATE;
	case SQLITE_CONSTRAINT_CHECK:
	case SQLITE_CONSTRAINT_NOTNULL:
		return -EINVAL;
	}
	switch (rc & 0xff) {
	case SQLITE_BUSY:
	case SQLITE_LOCKED:
		return -EBUSY;
	case SQLITE_NOMEM:
		return -ENOMEM;
	case SQLITE_FULL:
		return -ENOSPC;
	case SQLITE_READONLY:
		return -EROFS;
	case SQLITE_PERM:
	case SQLITE_AUTH:
		return -EACCES;
	case SQLITE_TOOBIG:
		return ERR_TOOBIG;
	case SQLITE_CONSTRAINT:
		return -EINVAL;
	}
	return -EIO;
}

static int lite_exec(void *db, const char *sql)
{
	return map(sqlite3_exec(db, sql, NULL, NULL, NULL));
}

/* Switching a new file to WAL takes a lock that SQLite does not wait for
 * through the busy handler, so two processes creating the database at once
 * would see SQLITE_BUSY: retry for as long as the busy timeout. */
static int exec_patiently(sqlite3 *db, const char *sql)
{
	int rc;
	for (int waited = 0;; waited += 10) {
		rc = sqlite3_exec(db, sql, NULL, NULL, NULL);
		if ((rc & 0xff) != SQLITE_BUSY || waited >= STORE_BUSY_TIMEOUT_MS)
			return rc;
		sqlite3_sleep(10);
	}
}

static int lite_open(const char *path, void **out, char *err, size_t errlen)
{
	*out = NULL;
	/* Create it 0600 ourselves: SQLite would honour the umask, and its -wal
	 * and -shm files copy the database file's mode. */
	int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0) {
		int e = errno;
		snprintf(err, errlen, "%s", strerror(e));
		return -e;
	}
	close(fd);
	sqlite3 *db = NULL;
	int rc = sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOFOLLOW, NULL);
	if (rc != SQLITE_OK) {
		snprintf(err, errlen, "%s", db ? sqlite3_errmsg(db) : sqlite3_errstr(rc));
		sqlite3_close(db);
		return map(rc);
	}
	sqlite3_extended_result_codes(db, 1);
	sqlite3_busy_timeout(db, STORE_BUSY_TIMEOUT_MS);
	static const char *const pragmas[] = {
		"PRAGMA journal_mode=WAL",
		"PRAGMA synchronous=FULL",
		"PRAGMA foreign_keys=ON",
		"PRAGMA secure_delete=ON",
		"PRAGMA trusted_schema=OFF",
		/* 32 MiB of page cache (the default is 2 MiB): a fleet's peer sets
		 * (10,000 devices x 100 nodes is a million PSK rows, ~90 MB on
		 * disk) are read and written without re-reading every page
		 * through pread; the cache is bounded, so is the memory. */
		"PRAGMA cache_size=-32768",
	};
	for (size_t i = 0; i < sizeof(pragmas) / sizeof(pragmas[0]); i++) {
		rc = exec_patiently(db, pragmas[i]);
		if (rc != SQLITE_OK) {
			snprintf(err, errlen, "%s: %s", pragmas[i], sqlite3_errmsg(db));
			int r = map(rc);
			sqlite3_close(db);
			return r;
		}
	}
	/* A file that is not a database fails here rather than mid-command. */
	rc = exec_patiently(db, "SELECT count(*) FROM sqlite_schema");
	if (rc != SQLITE_OK) {
		snprintf(err, errlen, "%s", sqlite3_errmsg(db));
		int r = map(rc);
		sqlite3_close(db);
		return r;
	}
	*out = db;
	return 0;
}

static void lite_close(void *db)
{
	sqlite3_close(db);
}

static int lite_prepare(void *db, const char *sql, struct store_stmt **out)
{
	sqlite3_stmt *s = NULL;
	int rc = sqlite3_prepare_v2(db, sql, -1, &s, NULL);
	*out = (struct store_stmt *)s;
	return map(rc);
}

static sqlite3_stmt *S(struct store_stmt *s)
{
	return (sqlite3_stmt *)s;
}

static int lite_bind_i64(struct store_stmt *s, int i, int64_t v)
{
	return map(sqlite3_bind_int64(S(s), i, v));
}

static int lite_bind_text(struct store_stmt *s, int i, const char *v)
{
	if (!v)
		return map(sqlite3_bind_null(S(s), i));
	return map(sqlite3_bind_text(S(s), i, v, -1, SQLITE_STATIC));
}

static int lite_bind_blob(struct store_stmt *s, int i, const void *p, size_t n)
{
	return map(sqlite3_bind_blob64(S(s), i, n ? p : "", n, SQLITE_STATIC));
}

static int lite_step(struct store_stmt *s)
{
	int rc = sqlite3_step(S(s));
	if (rc == SQLITE_ROW)
		return 1;
	if (rc == SQLITE_DONE)
		return 0;
	return map(rc);
}

static bool lite_col_null(struct store_stmt *s, int i)
{
	return sqlite3_column_type(S(s), i) == SQLITE_NULL;
}

static int64_t lite_col_i64(struct store_stmt *s, int i)
{
	return sqlite3_column_int64(S(s), i);
}

static const char *lite_col_text(struct store_stmt *s, int i)
{
	const unsigned char *t = sqlite3_column_text(S(s), i);
	return t ? (const char *)t : "";
}

static const void *lite_col_blob(struct store_stmt *s, int i, size_t *n)
{
	const void *p = sqlite3_column_blob(S(s), i);
	*n = (size_t)sqlite3_column_bytes(S(s), i);
	return p;
}

static int64_t lite_changes(struct store_stmt *s)
{
	return sqlite3_changes64(sqlite3_db_handle(S(s)));
}

static int lite_reset(struct store_stmt *s)
{
	/* sqlite3_reset repeats the last step's error, which its caller has
	 * seen already: only clearing the bindings can fail here. */
	(void)sqlite3_reset(S(s));
	return map(sqlite3_clear_bindings(S(s)));
}

static void lite_finalize(struct store_stmt *s)
{
	/* Values were bound SQLITE_STATIC: no copies of a PSK linger in
	 * SQLite's heap; the caller wipes its own buffer. */
	sqlite3_finalize(S(s));
}

static int lite_begin(void *db)
{
	return lite_exec(db, "BEGIN IMMEDIATE");
}

static int lite_commit(void *db)
{
	return lite_exec(db, "COMMIT");
}

static int lite_rollback(void *db)
{
	return lite_exec(db, "ROLLBACK");
}

static const char *lite_errmsg(void *db)
{
	if (db && (sqlite3_errcode(db) & 0xff) == SQLITE_BUSY)
		return STORE_BUSY_MESSAGE;
	return db ? sqlite3_errmsg(db) : "";
}

const struct store_backend store_sqlite_backend = {
	.name = "sqlite",
	.open = lite_open,
	.close = lite_close,
	.exec = lite_exec,
	.prepare = lite_prepare,
	.bind_i64 = lite_bind_i64,
	.bind_text = lite_bind_text,
	.bind_blob = lite_bind_blob,
	.step = lite_step,
	.col_null = lite_col_null,
	.col_i64 = lite_col_i64,
	.col_text = lite_col_text,
	.col_blob = lite_col_blob,
	.changes = lite_changes,
	.reset = lite_reset,
	.finalize = lite_finalize,
	.begin = lite_begin,
	.commit = lite_commit,
	.rollback = lite_rollback,
	.errmsg = lite_errmsg,
};
