/* The store: opening and migrating, transactions, the statement helpers the
 * typed functions use, shape checks, settings and admins. */
#include "store/store.h"

#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "lib/mem.h"
#include "store/store_backend.h"

static int64_t clock_time(void *arg)
{
	(void)arg;
	return (int64_t)time(NULL);
}

int64_t store_now(struct store *st)
{
	return st->now(st->now_arg);
}

void store_set_clock(struct store *st, int64_t (*now)(void *arg), void *arg)
{
	st->now = now ? now : clock_time;
	st->now_arg = now ? arg : NULL;
}

const char *store_errmsg(struct store *st)
{
	return st && st->db ? st->be->errmsg(st->db) : "";
}

/* ---- statements ---------------------------------------------------------- */

static int bind_va(struct store *st, struct store_stmt *s, const char *fmt, va_list ap)
{
	int r = 0;
	for (int i = 1; fmt && *fmt && r == 0; fmt++, i++) {
		switch (*fmt) {
		case 'i':
			r = st->be->bind_i64(s, i, va_arg(ap, int64_t));
			break;
		case 't':
			r = st->be->bind_text(s, i, va_arg(ap, const char *));
			break;
		case 'b': {
			const void *p = va_arg(ap, const void *);
			size_t n = va_arg(ap, size_t);
			r = st->be->bind_blob(s, i, p, n);
			break;
		}
		default:
			r = -EINVAL;
		}
	}
	return r;
}

/* A cached statement for sql, marked busy, or a newly prepared one (cached
 * if there is room). */
static int prepare_cached(struct store *st, const char *sql, struct store_stmt **out)
{
	*out = NULL;
	for (size_t i = 0; i < st->n_cached; i++) {
		struct store_cached *e = &st->cache[i];
		if (!e->busy && !strcmp(e->sql, sql)) {
			e->busy = true;
			*out = e->s;
			return 0;
		}
	}
	struct store_stmt *s = NULL;
	int r = st->be->prepare(st->db, sql, &s);
	if (r < 0)
		return r;
	if (st->n_cached < STORE_STMT_CACHE) {
		char *copy = mem_alloc(strlen(sql) + 1);
		if (copy) {
			strcpy(copy, sql);
			st->cache[st->n_cached++] = (struct store_cached){ .sql = copy, .s = s, .busy = true };
		}
	}
	*out = s;
	return 0;
}

static int prepare_va(struct store *st, struct store_stmt **out, const char *sql, const char *fmt, va_list ap)
{
	*out = NULL;
	struct store_stmt *s = NULL;
	int r = prepare_cached(st, sql, &s);
	if (r < 0)
		return r;
	r = bind_va(st, s, fmt, ap);
	if (r < 0) {
		store_q_finalize(st, s);
		return r;
	}
	*out = s;
	return 0;
}

static void cache_clear(struct store *st)
{
	for (size_t i = 0; i < st->n_cached; i++) {
		st->be->finalize(st->cache[i].s);
		mem_free(st->cache[i].sql);
	}
	st->n_cached = 0;
}

int store_q_prepare(struct store *st, struct store_stmt **out, const char *sql, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int r = prepare_va(st, out, sql, fmt, ap);
	va_end(ap);
	return r;
}

void store_q_finalize(struct store *st, struct store_stmt *s)
{
	if (!s)
		return;
	for (size_t i = 0; i < st->n_cached; i++) {
		struct store_cached *e = &st->cache[i];
		if (e->s == s) {
			/* A statement that cannot be reset is not reused. */
			if (st->be->reset(s) < 0) {
				st->be->finalize(s);
				mem_free(e->sql);
				*e = st->cache[--st->n_cached];
				return;
			}
			e->busy = false;
			return;
		}
	}
	st->be->finalize(s);
}

int store_q_run(struct store *st, int64_t *changes, const char *sql, const char *fmt, ...)
{
	if (changes)
		*changes = 0;
	struct store_stmt *s;
	va_list ap;
	va_start(ap, fmt);
	int r = prepare_va(st, &s, sql, fmt, ap);
	va_end(ap);
	if (r < 0)
		return r;
	while ((r = st->be->step(s)) > 0)
		;
	if (r == 0 && changes)
		*changes = st->be->changes(s);
	store_q_finalize(st, s);
	return r;
}

int store_q_i64(struct store *st, int64_t *out, const char *sql, const char *fmt, ...)
{
	*out = 0;
	struct store_stmt *s;
	va_list ap;
	va_start(ap, fmt);
	int r = prepare_va(st, &s, sql, fmt, ap);
	va_end(ap);
	if (r < 0)
		return r;
	r = st->be->step(s);
	if (r > 0) {
		*out = st->be->col_i64(s, 0);
		r = 0;
	} else if (r == 0) {
		r = ERR_NOTFOUND;
	}
	store_q_finalize(st, s);
	return r;
}

int store_q_col_str(struct store *st, struct store_stmt *s, int i, char *buf, size_t cap)
{
	const char *t = st->be->col_text(s, i);
	size_t n = strlen(t);
	if (n >= cap) {
		buf[0] = 0;
		return ERR_TOOBIG;
	}
	memcpy(buf, t, n + 1);
	return 0;
}

int store_q_col_key(struct store *st, struct store_stmt *s, int i, uint8_t *out, size_t n)
{
	size_t len;
	const void *p = st->be->col_blob(s, i, &len);
	if (!p || len != n) {
		memset(out, 0, n);
		return ERR_PARSE;
	}
	memcpy(out, p, n);
	return 0;
}

int store_q_one(struct store *st, struct store_stmt *s, int (*read)(struct store *st, struct store_stmt *s, void *out),
		void *out)
{
	int r = st->be->step(s);
	if (r > 0)
		r = read(st, s, out);
	else if (r == 0)
		r = ERR_NOTFOUND;
	store_q_finalize(st, s);
	return r;
}

int store_q_versioned(struct store *st, const char *table, int64_t id, int64_t *version, int64_t *updated_at,
		      const char *set, const char *fmt, ...)
{
	char sql[512];
	int n = snprintf(sql, sizeof(sql),
			 "UPDATE %s SET %s, version = version + 1, updated_at = ? WHERE id = ? AND version = ?", table,
			 set);
	if (n < 0 || (size_t)n >= sizeof(sql))
		return -ENAMETOOLONG;
	struct store_stmt *s;
	va_list ap;
	va_start(ap, fmt);
	int r = prepare_va(st, &s, sql, fmt, ap);
	va_end(ap);
	if (r < 0)
		return r;
	int i = (int)strlen(fmt) + 1;
	int64_t now = store_now(st), changed = 0;
	r = st->be->bind_i64(s, i, now);
	if (r == 0)
		r = st->be->bind_i64(s, i + 1, id);
	if (r == 0)
		r = st->be->bind_i64(s, i + 2, *version);
	while (r == 0 && (r = st->be->step(s)) > 0)
		;
	if (r == 0)
		changed = st->be->changes(s);
	store_q_finalize(st, s);
	if (r == 0 && changed == 0)
		r = store_q_stale(st, table, id);
	if (r == 0) {
		++*version;
		*updated_at = now;
	}
	return r;
}

int store_q_stale(struct store *st, const char *table, int64_t id)
{
	char sql[96];
	snprintf(sql, sizeof(sql), "SELECT 1 FROM %s WHERE id = ?", table);
	int64_t one;
	int r = store_q_i64(st, &one, sql, "i", id);
	return r == 0 ? ERR_CONFLICT : r;
}

/* ---- transactions ----------------------------------------------------------- */

int store_begin(struct store *st)
{
	if (st->tx_depth == 0) {
		int r = st->be->begin(st->db);
		if (r < 0)
			return r;
		st->tx_err = 0;
	}
	st->tx_depth++;
	return 0;
}

int store_commit(struct store *st)
{
	if (st->tx_depth <= 0)
		return ERR_BADSTATE;
	if (--st->tx_depth > 0)
		return st->tx_err;
	int r = st->tx_err;
	if (r == 0) {
		r = st->be->commit(st->db);
		if (r == 0)
			return 0;
	}
	(void)st->be->rollback(st->db);
	st->tx_err = 0;
	return r;
}

void store_rollback(struct store *st)
{
	if (st->tx_depth <= 0)
		return;
	if (!st->tx_err)
		st->tx_err = -ECANCELED;
	if (--st->tx_depth == 0) {
		(void)st->be->rollback(st->db);
		st->tx_err = 0;
	}
}

int store_tx_begin(struct store *st)
{
	return store_begin(st);
}

int store_tx_end(struct store *st, int r)
{
	if (r < 0 && !st->tx_err)
		st->tx_err = r;
	int c = store_commit(st);
	return r < 0 ? r : c;
}

/* ---- open and migrate ------------------------------------------------------ */

int64_t store_schema_latest(void)
{
	return store_sqlite_n_migrations ? store_sqlite_migrations[store_sqlite_n_migrations - 1].version : 0;
}

int store_schema_version(struct store *st, int64_t *version)
{
	return store_q_i64(st, version, "SELECT COALESCE(MAX(version), 0) FROM schema_migrations", NULL);
}

static int migrate(struct store *st, char *err, size_t errlen)
{
	/* Up to date (every open but the first after an upgrade): a plain read,
	 * which WAL never blocks, so `cox devices list` answers while another
	 * cox holds the write lock (a bulk import, say). A missing table or any
	 * error falls through to the locked path, which decides. */
	int64_t seen = 0;
	if (store_schema_version(st, &seen) == 0 && seen == store_schema_latest() && seen > 0)
		return 0;
	int r = store_tx_begin(st);
	if (r < 0) {
		snprintf(err, errlen, "cannot start a transaction: %s", store_errmsg(st));
		return r;
	}
	r = store_q_run(st, NULL,
			"CREATE TABLE IF NOT EXISTS schema_migrations ("
			" version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at INTEGER NOT NULL)",
			NULL);
	int64_t cur = 0;
	if (r == 0)
		r = store_schema_version(st, &cur);
	if (r < 0) {
		snprintf(err, errlen, "cannot read schema_migrations: %s", store_errmsg(st));
		goto out;
	}
	int64_t latest = store_schema_latest();
	if (cur > latest) {
		snprintf(err, errlen,
			 "the database is at schema version %lld, newer than this binary knows (%lld): "
			 "run a newer cox against it",
			 (long long)cur, (long long)latest);
		r = ERR_BADSTATE;
		goto out;
	}
	for (size_t i = 0; i < store_sqlite_n_migrations; i++) {
		const struct store_migration *m = &store_sqlite_migrations[i];
		if (m->version <= cur)
			continue;
		r = st->be->exec(st->db, m->sql);
		if (r < 0) {
			snprintf(err, errlen, "migration %04lld_%s failed: %s", (long long)m->version, m->name,
				 store_errmsg(st));
			goto out;
		}
		r = store_q_run(st, NULL, "INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)",
				"iti", m->version, m->name, store_now(st));
		if (r < 0) {
			snprintf(err, errlen, "cannot record migration %lld: %s", (long long)m->version,
				 store_errmsg(st));
			goto out;
		}
	}
out:
	r = store_tx_end(st, r);
	if (r < 0 && !err[0])
		snprintf(err, errlen, "cannot commit the migrations: %s", store_errmsg(st));
	return r;
}

int store_open(const char *path, struct store **out, char *err, size_t errlen)
{
	*out = NULL;
	if (errlen)
		err[0] = 0;
	struct store *st = mem_zalloc(sizeof(*st));
	if (!st)
		return -ENOMEM;
	st->be = &store_sqlite_backend;
	st->now = clock_time;
	int r = st->be->open(path, &st->db, err, errlen);
	if (r == 0)
		r = migrate(st, err, errlen);
	if (r < 0) {
		store_close(st);
		return r;
	}
	*out = st;
	return 0;
}

void store_close(struct store *st)
{
	if (!st)
		return;
	cache_clear(st);
	if (st->tx_depth > 0 && st->db)
		(void)st->be->rollback(st->db);
	if (st->db)
		st->be->close(st->db);
	mem_free(st);
}

/* ---- shape checks ----------------------------------------------------------- */

bool store_name_valid(const char *name)
{
	size_t n = name ? strlen(name) : 0;
	if (n < 1 || n > STORE_NAME_MAX)
		return false;
	for (size_t i = 0; i < n; i++) {
		unsigned char ch = (unsigned char)name[i];
		if (!isalnum(ch) && ch != '.' && ch != '_' && ch != '-')
			return false;
	}
	return true;
}

bool store_text_valid(const char *s, size_t max)
{
	size_t n = s ? strlen(s) : 0;
	if (!s || n > max)
		return false;
	for (size_t i = 0; i < n; i++) {
		unsigned char ch = (unsigned char)s[i];
		/* Control bytes would let a value rewrite a terminal line; UTF-8
		 * continuation bytes (>= 0x80) are fine. */
		if (ch < 0x20 || ch == 0x7f)
			return false;
	}
	return true;
}

static bool email_local_char(unsigned char ch)
{
	return isalnum(ch) || strchr("!#$%&'*+/=?^_`{|}~.-", ch);
}

bool store_email_valid(const char *email)
{
	size_t n = email ? strlen(email) : 0;
	if (n < 3 || n > STORE_EMAIL_MAX)
		return false;
	const char *at = strchr(email, '@');
	if (!at || strchr(at + 1, '@') || at == email || (size_t)(at - email) > 64)
		return false;
	for (const char *p = email; p < at; p++)
		if (!email_local_char((unsigned char)*p) || *p == '\0')
			return false;
	if (email[0] == '.' || at[-1] == '.' || strstr(email, ".."))
		return false;
	/* Domain: dot-separated labels of letters, digits and inner hyphens. */
	const char *d = at + 1;
	size_t label = 0;
	for (const char *p = d;; p++) {
		unsigned char ch = (unsigned char)*p;
		if (ch == '.' || ch == 0) {
			if (label == 0 || label > 63 || p[-1] == '-')
				return false;
			if (ch == 0)
				break;
			label = 0;
			continue;
		}
		if (!isalnum(ch) && ch != '-')
			return false;
		if (label == 0 && ch == '-')
			return false;
		label++;
	}
	return true;
}

/* ---- settings ------------------------------------------------------------------ */

int store_kv_get(struct store *st, const char *key, char *buf, size_t cap)
{
	if (cap)
		buf[0] = 0;
	struct store_stmt *s;
	int r = store_q_prepare(st, &s, "SELECT value FROM settings WHERE key = ?", "t", key);
	if (r < 0)
		return r;
	r = st->be->step(s);
	if (r > 0)
		r = store_q_col_str(st, s, 0, buf, cap) == 0 ? 0 : -ENOSPC;
	else if (r == 0)
		r = ERR_NOTFOUND;
	store_q_finalize(st, s);
	return r;
}

int store_kv_set(struct store *st, const char *key, const char *value)
{
	if (!key || !*key || strlen(key) > STORE_KV_KEY_MAX || !value || strlen(value) > STORE_KV_VALUE_MAX)
		return -EINVAL;
	int r = store_tx_begin(st);
	if (r < 0)
		return r;
	int64_t now = store_now(st), n = 0;
	r = store_q_run(st, &n,
			"UPDATE settings SET value = ?, version = version + 1, updated_at = ? WHERE key = ?",
			"tit", value, now, key);
	if (r == 0 && n == 0)
		r = store_q_run(st, NULL,
				"INSERT INTO settings (key, value, version, updated_at) VALUES (?, ?, 1, ?)",
				"tti", key, value, now);
	return store_tx_end(st, r);
}

int store_kv_delete(struct store *st, const char *key)
{
	if (!key || !*key || strlen(key) > STORE_KV_KEY_MAX)
		return -EINVAL;
	return store_q_run(st, NULL, "DELETE FROM settings WHERE key = ?", "t", key);
}

/* ---- admins ---------------------------------------------------------------------- */

int store_admin_add(struct store *st, const char *username, const char *pwhash, int64_t *id)
{
	if (id)
		*id = 0;
	if (!store_name_valid(username) || !store_text_valid(pwhash, STORE_PWHASH_MAX) || !*pwhash)
		return -EINVAL;
	int r = store_tx_begin(st);
	if (r < 0)
		return r;
	int64_t now = store_now(st);
	r = store_q_run(st, NULL,
			"INSERT INTO admins (username, pwhash, disabled_at, version, created_at, updated_at)"
			" VALUES (?, ?, 0, 1, ?, ?)",
			"ttii", username, pwhash, now, now);
	if (r == 0 && id)
		r = store_q_i64(st, id, "SELECT id FROM admins WHERE username = ?", "t", username);
	return store_tx_end(st, r);
}

static int read_admin(struct store *st, struct store_stmt *s, void *out)
{
	struct store_admin *a = out;
	a->id = st->be->col_i64(s, 0);
	int r = store_q_col_str(st, s, 1, a->username, sizeof(a->username));
	if (r == 0)
		r = store_q_col_str(st, s, 2, a->pwhash, sizeof(a->pwhash));
	a->disabled_at = st->be->col_i64(s, 3);
	a->version = st->be->col_i64(s, 4);
	a->created_at = st->be->col_i64(s, 5);
	a->updated_at = st->be->col_i64(s, 6);
	return r;
}

int store_admin_get(struct store *st, const char *username, struct store_admin *out)
{
	memset(out, 0, sizeof(*out));
	struct store_stmt *s;
	int r = store_q_prepare(st, &s,
				"SELECT id, username, pwhash, disabled_at, version, created_at, updated_at"
				" FROM admins WHERE username = ?",
				"t", username);
	return r < 0 ? r : store_q_one(st, s, read_admin, out);
}

int store_admin_set_pwhash(struct store *st, struct store_admin *a, const char *pwhash)
{
	if (!store_text_valid(pwhash, STORE_PWHASH_MAX) || !*pwhash)
		return -EINVAL;
	int r = store_q_versioned(st, "admins", a->id, &a->version, &a->updated_at, "pwhash = ?", "t", pwhash);
	if (r == 0)
		snprintf(a->pwhash, sizeof(a->pwhash), "%s", pwhash);
	return r;
}
