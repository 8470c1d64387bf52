/* Issued certificates and sealed profiles. */
#include "store/store.h"

#include <errno.h>
#include <string.h>

#include "lib/mem.h"
#include "store/store_backend.h"

static bool hex_valid(const char *s, size_t min, size_t max)
{
	size_t n = strlen(s);
	if (n < min || n > max)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
			return false;
	return true;
}

static bool role_valid(const char *role)
{
	static const char *const roles[] = { "controller", "node", "relay", "device", "ca" };
	for (size_t i = 0; i < sizeof(roles) / sizeof(roles[0]); i++)
		if (!strcmp(role, roles[i]))
			return true;
	return false;
}

int store_cert_add(struct store *st, const struct store_cert *c)
{
	if (!hex_valid(c->serial, 1, STORE_SERIAL_MAX) || !role_valid(c->role) || !store_name_valid(c->subject) ||
	    !hex_valid(c->fingerprint, 64, 64) || c->not_after < c->not_before)
		return -EINVAL;
	int64_t now = store_now(st);
	return store_q_run(st, NULL,
			   "INSERT INTO certs (serial, role, subject, fingerprint, not_before, not_after, revoked_at,"
			   " version, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, 0, 1, ?, ?)",
			   "ttttiiii", c->serial, c->role, c->subject, c->fingerprint, c->not_before, c->not_after,
			   now, now);
}

#define CERT_COLS \
	"serial, role, subject, fingerprint, not_before, not_after, revoked_at, version, created_at, updated_at"

static int read_cert(struct store *st, struct store_stmt *s, void *out)
{
	struct store_cert *c = out;
	memset(c, 0, sizeof(*c));
	int r = store_q_col_str(st, s, 0, c->serial, sizeof(c->serial));
	if (r == 0)
		r = store_q_col_str(st, s, 1, c->role, sizeof(c->role));
	if (r == 0)
		r = store_q_col_str(st, s, 2, c->subject, sizeof(c->subject));
	if (r == 0)
		r = store_q_col_str(st, s, 3, c->fingerprint, sizeof(c->fingerprint));
	c->not_before = st->be->col_i64(s, 4);
	c->not_after = st->be->col_i64(s, 5);
	c->revoked_at = st->be->col_i64(s, 6);
	c->version = st->be->col_i64(s, 7);
	c->created_at = st->be->col_i64(s, 8);
	c->updated_at = st->be->col_i64(s, 9);
	return r;
}

int store_cert_get(struct store *st, const char *serial, struct store_cert *out)
{
	memset(out, 0, sizeof(*out));
	struct store_stmt *s;
	int r = store_q_prepare(st, &s, "SELECT " CERT_COLS " FROM certs WHERE serial = ?", "t", serial);
	return r < 0 ? r : store_q_one(st, s, read_cert, out);
}

int store_cert_revoke(struct store *st, const char *serial)
{
	int64_t now = store_now(st), n = 0;
	int r = store_q_run(st, &n,
			    "UPDATE certs SET revoked_at = ?, version = version + 1, updated_at = ?"
			    " WHERE serial = ? AND revoked_at = 0",
			    "iit", now, now, serial);
	if (r == 0 && n == 0) {
		struct store_cert c;
		r = store_cert_get(st, serial, &c);
		if (r == 0)
			r = ERR_BADSTATE;
	}
	return r;
}

int store_certs_list(struct store *st, const char *role, bool only_revoked,
		     int (*cb)(void *arg, const struct store_cert *c), void *arg)
{
	static const char *const sql[2][2] = {
		{ "SELECT " CERT_COLS " FROM certs ORDER BY created_at, serial",
		  "SELECT " CERT_COLS " FROM certs WHERE revoked_at <> 0 ORDER BY created_at, serial" },
		{ "SELECT " CERT_COLS " FROM certs WHERE role = ? ORDER BY created_at, serial",
		  "SELECT " CERT_COLS " FROM certs WHERE role = ? AND revoked_at <> 0 ORDER BY created_at, serial" },
	};
	struct store_stmt *s;
	int r = store_q_prepare(st, &s, sql[role != NULL][only_revoked], role ? "t" : NULL, role);
	if (r < 0)
		return r;
	struct store_cert c;
	while ((r = st->be->step(s)) > 0) {
		r = read_cert(st, s, &c);
		if (r == 0)
			r = cb(arg, &c);
		if (r != 0)
			break;
	}
	store_q_finalize(st, s);
	return r;
}

int store_profile_put(struct store *st, int64_t device_id, uint64_t revision, const uint8_t *sealed, size_t len)
{
	if (!sealed || len == 0 || len > STORE_PROFILE_MAX || revision > INT64_MAX)
		return -EINVAL;
	int r = store_tx_begin(st);
	if (r < 0)
		return r;
	int64_t now = store_now(st), cur = 0, n = 0;
	r = store_q_i64(st, &cur, "SELECT revision FROM profiles WHERE device_id = ?", "i", device_id);
	if (r == 0) {
		if ((int64_t)revision <= cur)
			r = ERR_CONFLICT;
		else
			r = store_q_run(st, &n,
					"UPDATE profiles SET revision = ?, sealed = ?, version = version + 1,"
					" updated_at = ? WHERE device_id = ?",
					"ibii", (int64_t)revision, sealed, len, now, device_id);
	} else if (r == ERR_NOTFOUND) {
		/* An unknown device fails the foreign key (ERR_BADSTATE). */
		r = store_q_run(st, NULL,
				"INSERT INTO profiles (device_id, revision, sealed, version, created_at, updated_at)"
				" VALUES (?, ?, ?, 1, ?, ?)",
				"iibii", device_id, (int64_t)revision, sealed, len, now, now);
		if (r == ERR_BADSTATE)
			r = ERR_NOTFOUND;
	}
	return store_tx_end(st, r);
}

int store_profile_get(struct store *st, int64_t device_id, uint64_t *revision, uint8_t **sealed, size_t *len)
{
	*sealed = NULL;
	*len = 0;
	*revision = 0;
	struct store_stmt *s;
	int r = store_q_prepare(st, &s, "SELECT revision, sealed FROM profiles WHERE device_id = ?", "i", device_id);
	if (r < 0)
		return r;
	r = st->be->step(s);
	if (r > 0) {
		size_t n;
		const void *p = st->be->col_blob(s, 1, &n);
		if (!p || n == 0 || n > STORE_PROFILE_MAX) {
			r = ERR_PARSE;
		} else if (!(*sealed = mem_dup(p, n))) {
			r = -ENOMEM;
		} else {
			*len = n;
			*revision = (uint64_t)st->be->col_i64(s, 0);
			r = 0;
		}
	} else if (r == 0) {
		r = ERR_NOTFOUND;
	}
	store_q_finalize(st, s);
	return r;
}
