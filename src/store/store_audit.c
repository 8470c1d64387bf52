/* The audit hash chain (DESIGN.md §8). Each row's hash covers the previous
 * row's hash and a canonical, length-prefixed encoding of the row, so a row
 * cannot be edited, removed or moved without breaking a link that
 * store_audit_verify finds. The head (newest seq and hash) is also kept in
 * settings, which catches the removal of the newest rows. Anyone who can
 * write the database can still recompute the whole chain: signed
 * checkpoints (DESIGN.md §8, beyond) are what will close that. */
#include "store/store.h"

#include <errno.h>
#include <sodium.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "lib/enc.h"
#include "store/store_backend.h"

#define AUDIT_TAG "pharos-audit-v1"
#define KV_HEAD "audit.head"

static void put_u64(crypto_hash_sha256_state *h, uint64_t v)
{
	uint8_t b[8];
	for (int i = 7; i >= 0; i--, v >>= 8)
		b[i] = (uint8_t)v;
	crypto_hash_sha256_update(h, b, sizeof(b));
}

static void put_str(crypto_hash_sha256_state *h, const char *s)
{
	size_t n = s ? strlen(s) : 0;
	uint8_t b[4] = { (uint8_t)(n >> 24), (uint8_t)(n >> 16), (uint8_t)(n >> 8), (uint8_t)n };
	crypto_hash_sha256_update(h, b, sizeof(b));
	crypto_hash_sha256_update(h, (const uint8_t *)(s ? s : ""), n);
}

void store_audit_hash(const struct store_audit_row *r, uint8_t out[STORE_HASH_LEN])
{
	crypto_hash_sha256_state h;
	crypto_hash_sha256_init(&h);
	crypto_hash_sha256_update(&h, r->prev_hash, STORE_HASH_LEN);
	put_str(&h, AUDIT_TAG);
	put_u64(&h, (uint64_t)r->seq);
	put_u64(&h, (uint64_t)r->ts);
	put_str(&h, r->actor);
	put_str(&h, r->action);
	put_str(&h, r->target);
	put_str(&h, r->detail);
	crypto_hash_sha256_final(&h, out);
}

static int head_format(char *buf, size_t cap, int64_t seq, const uint8_t hash[STORE_HASH_LEN])
{
	char hex[ENC_HEX_LEN(STORE_HASH_LEN)];
	if (enc_hex_encode(hex, sizeof(hex), hash, STORE_HASH_LEN) < 0)
		return -ENOSPC;
	int n = snprintf(buf, cap, "%lld %s", (long long)seq, hex);
	return n < 0 || (size_t)n >= cap ? -ENOSPC : 0;
}

int store_audit_append(struct store *st, const char *actor, const char *action, const char *target,
		       const char *detail)
{
	if (!actor || !*actor || !store_text_valid(actor, STORE_TEXT_MAX) || !action || !*action ||
	    !store_text_valid(action, STORE_AUDIT_ACTION_MAX) || !store_text_valid(target ? target : "", STORE_AUDIT_TARGET_MAX) ||
	    !detail || strlen(detail) > STORE_AUDIT_DETAIL_MAX)
		return -EINVAL;
	int r = store_tx_begin(st);
	if (r < 0)
		return r;
	struct store_audit_row row = {
		.ts = store_now(st), .actor = actor, .action = action, .target = target ? target : "", .detail = detail,
	};
	struct store_stmt *s;
	r = store_q_prepare(st, &s, "SELECT seq, hash FROM audit ORDER BY seq DESC LIMIT 1", NULL);
	if (r == 0) {
		r = st->be->step(s);
		if (r > 0) {
			row.seq = st->be->col_i64(s, 0) + 1;
			r = store_q_col_key(st, s, 1, row.prev_hash, STORE_HASH_LEN);
		} else if (r == 0) {
			row.seq = 1; /* genesis: prev_hash stays zero */
		}
		store_q_finalize(st, s);
	}
	if (r == 0) {
		store_audit_hash(&row, row.hash);
		r = store_q_run(st, NULL,
				"INSERT INTO audit (seq, ts, actor, action, target, detail, prev_hash, hash)"
				" VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
				"iittttbb", row.seq, row.ts, row.actor, row.action, row.target, row.detail,
				row.prev_hash, (size_t)STORE_HASH_LEN, row.hash, (size_t)STORE_HASH_LEN);
	}
	char head[32 + ENC_HEX_LEN(STORE_HASH_LEN)];
	if (r == 0)
		r = head_format(head, sizeof(head), row.seq, row.hash);
	if (r == 0)
		r = store_kv_set(st, KV_HEAD, head);
	return store_tx_end(st, r);
}

/* ---- listing ------------------------------------------------------------------ */

#define AUDIT_COLS "seq, ts, actor, action, target, detail, prev_hash, hash"

static void read_row(struct store *st, struct store_stmt *s, struct store_audit_row *r)
{
	memset(r, 0, sizeof(*r));
	r->seq = st->be->col_i64(s, 0);
	r->ts = st->be->col_i64(s, 1);
	r->actor = st->be->col_text(s, 2);
	r->action = st->be->col_text(s, 3);
	r->target = st->be->col_text(s, 4);
	r->detail = st->be->col_text(s, 5);
	/* A hash of the wrong size reads as zeros: verify then calls the row
	 * edited instead of failing to read. */
	if (store_q_col_key(st, s, 6, r->prev_hash, STORE_HASH_LEN) < 0)
		memset(r->prev_hash, 0, STORE_HASH_LEN);
	if (store_q_col_key(st, s, 7, r->hash, STORE_HASH_LEN) < 0)
		memset(r->hash, 0, STORE_HASH_LEN);
}

int store_audit_list(struct store *st, const struct store_audit_filter *f,
		     int (*cb)(void *arg, const struct store_audit_row *r), void *arg)
{
	static const struct store_audit_filter none;
	if (!f)
		f = &none;
	/* Built from fixed pieces only; every value is a parameter. */
	char sql[512], where[256] = "";
	char action[STORE_AUDIT_ACTION_MAX + 1] = "";
	bool prefix = false;
	if (f->action) {
		size_t n = strlen(f->action);
		if (n > STORE_AUDIT_ACTION_MAX)
			return 0;
		memcpy(action, f->action, n + 1);
		if (n && action[n - 1] == '*') {
			action[n - 1] = 0;
			prefix = true;
		}
	}
	strcat(where, " WHERE ts >= ?");
	if (f->actor)
		strcat(where, " AND actor = ?");
	if (f->action)
		strcat(where, prefix ? " AND substr(action, 1, ?) = ?" : " AND action = ?");
	if (f->limit > 0)
		snprintf(sql, sizeof(sql),
			 "SELECT " AUDIT_COLS " FROM (SELECT " AUDIT_COLS " FROM audit%s ORDER BY seq DESC LIMIT ?) t"
			 " ORDER BY seq",
			 where);
	else
		snprintf(sql, sizeof(sql), "SELECT " AUDIT_COLS " FROM audit%s ORDER BY seq", where);

	struct store_stmt *s;
	int r = store_q_prepare(st, &s, sql, "i", f->since);
	int i = 2;
	if (r == 0 && f->actor)
		r = st->be->bind_text(s, i++, f->actor);
	if (r == 0 && f->action && prefix) {
		r = st->be->bind_i64(s, i++, (int64_t)strlen(action));
		if (r == 0)
			r = st->be->bind_text(s, i++, action);
	} else if (r == 0 && f->action) {
		r = st->be->bind_text(s, i++, action);
	}
	if (r == 0 && f->limit > 0)
		r = st->be->bind_i64(s, i++, f->limit);
	struct store_audit_row row;
	while (r == 0 && (r = st->be->step(s)) > 0) {
		read_row(st, s, &row);
		r = cb(arg, &row);
	}
	store_q_finalize(st, s);
	return r;
}

/* ---- verification --------------------------------------------------------- */

static const char *const break_names[] = {
	[STORE_AUDIT_INTACT] = "intact",
	[STORE_AUDIT_EDITED] = "edited",
	[STORE_AUDIT_DELETED] = "deleted",
	[STORE_AUDIT_REORDERED] = "reordered",
};

const char *store_audit_break_name(enum store_audit_break b)
{
	return (unsigned)b < sizeof(break_names) / sizeof(break_names[0]) ? break_names[b] : "unknown";
}

static void verdict(struct store_audit_verdict *v, enum store_audit_break why, int64_t seq, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
static void verdict(struct store_audit_verdict *v, enum store_audit_break why, int64_t seq, const char *fmt, ...)
{
	v->why = why;
	v->seq = seq;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(v->detail, sizeof(v->detail), fmt, ap);
	va_end(ap);
}

/* seq of the row whose hash is h (ERR_NOTFOUND if none). Runs once, at the
 * first broken link, so a scan without an index is fine. */
static int find_by_hash(struct store *st, const uint8_t h[STORE_HASH_LEN], int64_t *seq)
{
	return store_q_i64(st, seq, "SELECT seq FROM audit WHERE hash = ? ORDER BY seq LIMIT 1", "b", h,
			   (size_t)STORE_HASH_LEN);
}

/* Classifies the first row r that does not follow prev (seq prev_seq, hash
 * prev_hash) in the chain. */
static int classify(struct store *st, const struct store_audit_row *r, bool content_ok, int64_t prev_seq,
		    const uint8_t prev_hash[STORE_HASH_LEN], struct store_audit_verdict *v)
{
	static const uint8_t zero[STORE_HASH_LEN];
	bool link_ok = !memcmp(r->prev_hash, prev_hash, STORE_HASH_LEN);
	bool seq_ok = r->seq == prev_seq + 1;
	if (link_ok) {
		if (!content_ok)
			verdict(v, STORE_AUDIT_EDITED, r->seq, "row %lld does not match its hash: it was edited",
				(long long)r->seq);
		else
			verdict(v, STORE_AUDIT_EDITED, r->seq,
				"row %lld follows row %lld but its seq was changed and its hash recomputed",
				(long long)r->seq, (long long)prev_seq);
		return 0;
	}
	/* The row links somewhere else: to a row that still exists (moved),
	 * or to nothing (a row before it was deleted or rewritten). */
	int64_t pred = 0;
	int rc = memcmp(r->prev_hash, zero, STORE_HASH_LEN) ? find_by_hash(st, r->prev_hash, &pred) : 0;
	if (rc < 0 && rc != ERR_NOTFOUND)
		return rc;
	if (rc == 0) {
		if (pred == 0)
			verdict(v, STORE_AUDIT_REORDERED, r->seq,
				"row %lld is the chain's first row but comes after row %lld: rows were reordered",
				(long long)r->seq, (long long)prev_seq);
		else
			verdict(v, STORE_AUDIT_REORDERED, r->seq,
				"row %lld follows row %lld in the chain but comes after row %lld: rows were reordered",
				(long long)r->seq, (long long)pred, (long long)prev_seq);
		return 0;
	}
	if (!seq_ok && r->seq > prev_seq + 1) {
		if (r->seq == prev_seq + 2)
			verdict(v, STORE_AUDIT_DELETED, prev_seq + 1, "row %lld was deleted", (long long)(prev_seq + 1));
		else
			verdict(v, STORE_AUDIT_DELETED, prev_seq + 1, "rows %lld to %lld were deleted",
				(long long)(prev_seq + 1), (long long)(r->seq - 1));
		return 0;
	}
	if (content_ok && prev_seq > 0)
		verdict(v, STORE_AUDIT_EDITED, prev_seq,
			"row %lld was rewritten: row %lld no longer links to it", (long long)prev_seq,
			(long long)r->seq);
	else if (content_ok)
		verdict(v, STORE_AUDIT_DELETED, r->seq,
			"row %lld links to a row that is missing: the rows before it were deleted", (long long)r->seq);
	else
		verdict(v, STORE_AUDIT_EDITED, r->seq,
			"row %lld does not match its hash and does not link to row %lld: it was edited, "
			"or rows before it were deleted and renumbered",
			(long long)r->seq, (long long)prev_seq);
	return 0;
}

/* The recorded head must be the last row: fewer rows means the newest were
 * deleted, a different hash that the chain was rewritten. */
static int check_head(struct store *st, int64_t last_seq, const uint8_t last_hash[STORE_HASH_LEN],
		      struct store_audit_verdict *v)
{
	char head[32 + ENC_HEX_LEN(STORE_HASH_LEN)], want[sizeof(head)];
	int r = store_kv_get(st, KV_HEAD, head, sizeof(head));
	if (r == ERR_NOTFOUND || r == -ENOSPC) {
		if (last_seq == 0 && r == ERR_NOTFOUND)
			return 0;
		verdict(v, STORE_AUDIT_EDITED, last_seq, "the chain's recorded head is missing or damaged");
		return 0;
	}
	if (r < 0)
		return r;
	long long head_seq = 0;
	if (sscanf(head, "%lld", &head_seq) != 1)
		head_seq = -1;
	if (head_format(want, sizeof(want), last_seq, last_hash) < 0)
		return -ENOSPC;
	if (!strcmp(head, want))
		return 0;
	if (head_seq > last_seq)
		verdict(v, STORE_AUDIT_DELETED, last_seq + 1,
			head_seq == last_seq + 1 ? "row %lld, the newest, was deleted"
						 : "rows from %lld to the newest were deleted",
			(long long)(last_seq + 1));
	else
		verdict(v, STORE_AUDIT_EDITED, last_seq,
			"row %lld does not match the chain's recorded head (seq %lld): rows were rewritten",
			(long long)last_seq, head_seq);
	return 0;
}

int store_audit_verify(struct store *st, struct store_audit_verdict *v)
{
	memset(v, 0, sizeof(*v));
	struct store_stmt *s;
	int r = store_q_prepare(st, &s, "SELECT " AUDIT_COLS " FROM audit ORDER BY seq", NULL);
	if (r < 0)
		return r;
	uint8_t prev_hash[STORE_HASH_LEN] = { 0 }, h[STORE_HASH_LEN];
	int64_t prev_seq = 0;
	struct store_audit_row row;
	while ((r = st->be->step(s)) > 0) {
		read_row(st, s, &row);
		store_audit_hash(&row, h);
		bool content_ok = !memcmp(h, row.hash, STORE_HASH_LEN);
		v->rows++;
		if (content_ok && row.seq == prev_seq + 1 && !memcmp(row.prev_hash, prev_hash, STORE_HASH_LEN)) {
			prev_seq = row.seq;
			memcpy(prev_hash, row.hash, STORE_HASH_LEN);
			continue;
		}
		r = classify(st, &row, content_ok, prev_seq, prev_hash, v);
		break;
	}
	store_q_finalize(st, s);
	v->last_seq = prev_seq;
	if (r == 0 && v->why == STORE_AUDIT_INTACT)
		r = check_head(st, prev_seq, prev_hash, v);
	return r;
}
