/* Users: an e-mail (unique, lower-case) and a display name. */
#include "store/store.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "store/store_backend.h"

#define USER_COLS                                                                                   \
	"u.id, u.email, u.name, (SELECT COUNT(*) FROM devices d WHERE d.user_id = u.id), u.version," \
	" u.created_at, u.updated_at"

static int lower_email(const char *in, char out[STORE_EMAIL_MAX + 1])
{
	if (!store_email_valid(in))
		return -EINVAL;
	size_t i = 0;
	for (; in[i]; i++)
		out[i] = (char)tolower((unsigned char)in[i]);
	out[i] = 0;
	return 0;
}

static int read_user(struct store *st, struct store_stmt *s, void *out)
{
	struct store_user *u = out;
	memset(u, 0, sizeof(*u));
	u->id = st->be->col_i64(s, 0);
	int r = store_q_col_str(st, s, 1, u->email, sizeof(u->email));
	if (r == 0)
		r = store_q_col_str(st, s, 2, u->name, sizeof(u->name));
	u->n_devices = st->be->col_i64(s, 3);
	u->version = st->be->col_i64(s, 4);
	u->created_at = st->be->col_i64(s, 5);
	u->updated_at = st->be->col_i64(s, 6);
	return r;
}

int store_user_get(struct store *st, const char *email, struct store_user *out)
{
	memset(out, 0, sizeof(*out));
	char e[STORE_EMAIL_MAX + 1];
	if (lower_email(email, e) < 0)
		return ERR_NOTFOUND;
	struct store_stmt *s;
	int r = store_q_prepare(st, &s, "SELECT " USER_COLS " FROM users u WHERE u.email = ?", "t", e);
	return r < 0 ? r : store_q_one(st, s, read_user, out);
}

int store_user_get_id(struct store *st, int64_t id, struct store_user *out)
{
	memset(out, 0, sizeof(*out));
	struct store_stmt *s;
	int r = store_q_prepare(st, &s, "SELECT " USER_COLS " FROM users u WHERE u.id = ?", "i", id);
	return r < 0 ? r : store_q_one(st, s, read_user, out);
}

int store_user_add(struct store *st, const char *email, const char *name, int64_t *id)
{
	if (id)
		*id = 0;
	char e[STORE_EMAIL_MAX + 1];
	if (!name)
		name = "";
	if (lower_email(email, e) < 0 || !store_text_valid(name, STORE_TEXT_MAX))
		return -EINVAL;
	int r = store_tx_begin(st);
	if (r < 0)
		return r;
	int64_t now = store_now(st);
	r = store_q_run(st, NULL,
			"INSERT INTO users (email, name, version, created_at, updated_at) VALUES (?, ?, 1, ?, ?)",
			"ttii", e, name, now, now);
	if (r == 0 && id)
		r = store_q_i64(st, id, "SELECT id FROM users WHERE email = ?", "t", e);
	return store_tx_end(st, r);
}

int store_user_set_name(struct store *st, struct store_user *u, const char *name)
{
	if (!store_text_valid(name, STORE_TEXT_MAX))
		return -EINVAL;
	int r = store_q_versioned(st, "users", u->id, &u->version, &u->updated_at, "name = ?", "t", name);
	if (r == 0)
		snprintf(u->name, sizeof(u->name), "%s", name);
	return r;
}

int store_user_remove(struct store *st, const char *email, bool with_devices)
{
	int r = store_tx_begin(st);
	if (r < 0)
		return r;
	struct store_user u;
	r = store_user_get(st, email, &u);
	if (r == 0 && u.n_devices > 0 && !with_devices)
		r = ERR_BADSTATE;
	/* PSKs and profiles go with their devices (ON DELETE CASCADE). */
	if (r == 0 && u.n_devices > 0)
		r = store_q_run(st, NULL, "DELETE FROM devices WHERE user_id = ?", "i", u.id);
	if (r == 0)
		r = store_q_run(st, NULL, "DELETE FROM users WHERE id = ?", "i", u.id);
	return store_tx_end(st, r);
}

int store_users_list(struct store *st, int (*cb)(void *arg, const struct store_user *u), void *arg)
{
	struct store_stmt *s;
	int r = store_q_prepare(st, &s, "SELECT " USER_COLS " FROM users u ORDER BY u.email", NULL);
	if (r < 0)
		return r;
	struct store_user u;
	while ((r = st->be->step(s)) > 0) {
		r = read_user(st, s, &u);
		if (r == 0)
			r = cb(arg, &u);
		if (r != 0)
			break;
	}
	store_q_finalize(st, s);
	return r;
}
