/* cox users: the people devices belong to. */
#include <errno.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "cox/cmdline.h"
#include "cox/cox.h"
#include "lib/text.h"
#include "store/store.h"

static int bad_email(struct cox *c, const char *email)
{
	char q[TEXT_QUOTE_BUF(64)];
	return cox_fail(c, "%s is not an e-mail address: expected local@domain (letters, digits and .!#$%%&'*+/=?^_`{|}~- "
			   "before the @, dot-separated labels after it, at most %d characters)",
			text_quote(q, 64, email, strlen(email)), STORE_EMAIL_MAX);
}

static int users_add(struct cox *c, int argc, char **argv)
{
	const char *email = NULL, *name = "";
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--name")) {
			if (cox_opt_value(c, argc, argv, &i, "NAME", &name) < 0)
				return 2;
		} else if (argv[i][0] != '-' && !email) {
			email = argv[i];
		} else {
			return cox_opt_unknown(c, "users add", argv[i], "EMAIL [--name NAME]");
		}
	}
	if (!email)
		return cox_fail(c, "missing EMAIL: cox users add EMAIL [--name NAME]"), 2;
	if (!store_email_valid(email))
		return bad_email(c, email);
	if (!store_text_valid(name, STORE_TEXT_MAX))
		return cox_fail(c, "--name: at most %d characters without control characters", STORE_TEXT_MAX);
	struct store *st;
	if (cox_store(c, &st) < 0)
		return 1;
	int64_t id = 0;
	json_t *d = json_pack("{s:s}", "name", name);
	char *detail = d ? json_dumps(d, JSON_COMPACT) : NULL;
	json_decref(d);
	if (!detail)
		return cox_fail(c, "out of memory");
	int r = store_begin(st);
	if (r == 0) {
		r = store_user_add(st, email, name, &id);
		if (r == 0)
			r = cox_audit(c, "user.add", email, detail);
		int cr = store_commit(st);
		r = r < 0 ? r : cr;
	}
	free(detail);
	if (r == ERR_EXISTS)
		return cox_fail(c, "user %s already exists", email);
	if (r < 0)
		return cox_fail(c, "cannot add user %s: %s", email, cox_strerror(r));
	struct store_user u;
	if (store_user_get(st, email, &u) == 0)
		fprintf(c->out, "user %s added (id %lld)\n", u.email, (long long)u.id);
	return 0;
}

static int print_user(void *arg, const struct store_user *u)
{
	struct cox_list *l = arg;
	char t[COX_TIME_LEN];
	if (l->json)
		return cox_list_json(l, json_pack("{s:I, s:s, s:s, s:I, s:I, s:I, s:I}", "id", (json_int_t)u->id,
						  "email", u->email, "name", u->name, "devices",
						  (json_int_t)u->n_devices, "version", (json_int_t)u->version,
						  "created_at", (json_int_t)u->created_at, "updated_at",
						  (json_int_t)u->updated_at));
	fprintf(l->c->out, "%-32s %7lld  %-20s ", u->email, (long long)u->n_devices, cox_time_format(u->created_at, t));
	cox_print_text(l->c->out, u->name);
	fputc('\n', l->c->out);
	return 0;
}

static int users_list(struct cox *c, int argc, char **argv)
{
	if (cox_opt_json_only(c, argc, argv, "users list"))
		return 2;
	struct store *st;
	if (cox_store(c, &st) < 0)
		return 1;
	struct cox_list l;
	cox_list_begin(&l, c);
	if (!l.json)
		fprintf(c->out, "%-32s %7s  %-20s %s\n", "EMAIL", "DEVICES", "CREATED", "NAME");
	int r = store_users_list(st, print_user, &l);
	cox_list_end(&l);
	if (r < 0)
		return cox_fail(c, "cannot list users: %s", cox_strerror(r));
	return 0;
}

static int users_rm(struct cox *c, int argc, char **argv)
{
	const char *email = NULL;
	bool force = false;
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--force"))
			force = true;
		else if (argv[i][0] != '-' && !email)
			email = argv[i];
		else
			return cox_opt_unknown(c, "users rm", argv[i], "EMAIL [--force]");
	}
	if (!email)
		return cox_fail(c, "missing EMAIL: cox users rm EMAIL [--force]"), 2;
	if (!store_email_valid(email))
		return bad_email(c, email);
	struct store *st;
	if (cox_store(c, &st) < 0)
		return 1;
	struct store_user u;
	int r = store_begin(st);
	if (r < 0)
		return cox_fail(c, "cannot start a transaction: %s", cox_strerror(r));
	r = store_user_get(st, email, &u);
	if (r == 0 && u.n_devices > 0 && !force) {
		store_rollback(st);
		return cox_fail(c, "user %s still has %lld device%s: remove them first (cox devices rm), "
				   "or give --force to remove them with the user",
				u.email, (long long)u.n_devices, u.n_devices == 1 ? "" : "s");
	}
	char detail[64];
	snprintf(detail, sizeof(detail), "{\"devices_removed\":%lld}", (long long)u.n_devices);
	if (r == 0)
		r = store_user_remove(st, u.email, force);
	if (r == 0)
		r = cox_audit(c, "user.rm", u.email, detail);
	int cr = store_commit(st);
	r = r < 0 ? r : cr;
	if (r == ERR_NOTFOUND)
		return cox_fail(c, "no user %s (see cox users list)", email);
	if (r < 0)
		return cox_fail(c, "cannot remove user %s: %s", email, cox_strerror(r));
	fprintf(c->out, "user %s removed", u.email);
	if (u.n_devices)
		fprintf(c->out, " with %lld device%s", (long long)u.n_devices, u.n_devices == 1 ? "" : "s");
	fputc('\n', c->out);
	if (u.n_devices && cox_push_nodes(c, NULL) < 0)
		fprintf(c->err, "cox: the removal is recorded; nodes not reached now get it at the next reconcile sweep\n");
	return 0;
}

static const struct cox_cmd cmds[] = {
	{ "add", users_add, "EMAIL [--name NAME]", "add a user (devices belong to users)" },
	{ "list", users_list, "[--json]", "list users with their device counts" },
	{ "rm", users_rm, "EMAIL [--force]", "remove a user; --force also removes the user's devices" },
};

int cox_cmd_users(struct cox *c, int argc, char **argv)
{
	return cox_dispatch(c, "users", cmds, sizeof(cmds) / sizeof(cmds[0]), argc, argv);
}
