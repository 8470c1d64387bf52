/* cox devices: register a device from the request `caravel init` printed
 * (public keys only: the device's private keys never leave it), give it
 * its tunnel addresses and a PSK on every installed node (active, unreachable
 * or stopped: a node that is down for a while still serves it when back), and push. */
#include <ctype.h>
#include <errno.h>
#include <jansson.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "cox/cmdline.h"
#include "cox/cox.h"
#include "lib/enc.h"
#include "lib/text.h"
#include "profile/profile.h"
#include "store/store.h"

#define NAME_RULE "1..64 of letters, digits, '.', '_' and '-'"
#define DEVICE_REF "its id, EMAIL/NAME, or a NAME only one device has (see cox devices list)"

static void push_after(struct cox *c)
{
	if (cox_push_nodes(c, NULL) < 0)
		fprintf(c->err, "cox: the change is recorded; nodes not reached now get it at the next reconcile sweep\n");
}

/* The audit detail of a device change: what identifies it, nothing secret. */
static char *device_detail(const struct store_device *d)
{
	char awg[ENC_KEY_BASE64_LEN];
	enc_key_to_base64(awg, d->awg_public);
	json_t *o = json_pack("{s:I, s:s, s:s, s:s}", "id", (json_int_t)d->id, "addr4", d->addr4, "addr6", d->addr6,
			      "awg_public", awg);
	char *s = o ? json_dumps(o, JSON_COMPACT) : NULL;
	json_decref(o);
	return s;
}

static void device_target(const struct store_device *d, char *buf, size_t cap)
{
	snprintf(buf, cap, "%s/%s", d->user_email, d->name);
}

static int devices_add(struct cox *c, int argc, char **argv)
{
	const char *email = NULL, *name = NULL, *req = NULL;
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--name")) {
			if (cox_opt_value(c, argc, argv, &i, "NAME", &name) < 0)
				return 2;
		} else if (!strcmp(argv[i], "--request")) {
			if (cox_opt_value(c, argc, argv, &i, "the line `caravel init` printed", &req) < 0)
				return 2;
		} else if (argv[i][0] != '-' && !email) {
			email = argv[i];
		} else {
			return cox_opt_unknown(c, "devices add", argv[i], "USER --name NAME --request REQ");
		}
	}
	if (!email)
		return cox_fail(c, "missing USER: cox devices add USER --name NAME --request REQ"), 2;
	if (!req)
		return cox_fail(c, "missing --request REQ: the one-line device request that `caravel init` printed on the device"),
		       2;
	char q[TEXT_QUOTE_BUF(64)];
	if (!store_email_valid(email))
		return cox_fail(c, "USER %s is not an e-mail address (local@domain)", text_quote(q, 64, email, strlen(email)));
	struct devreq dr;
	char err[256] = "";
	int r = devreq_parse(req, &dr, err, sizeof(err));
	if (r < 0)
		return cox_fail(c, "--request is not a device request: %s (copy the whole line `caravel init` printed)",
				err[0] ? err : cox_strerror(r));
	if (!name && dr.name[0])
		name = dr.name;
	if (!name)
		return cox_fail(c, "missing --name NAME (%s): the request suggests none", NAME_RULE), 2;
	if (!store_name_valid(name))
		return cox_fail(c, "device name %s is not valid: %s", text_quote(q, 64, name, strlen(name)), NAME_RULE);

	struct store *st;
	if (cox_store(c, &st) < 0)
		return 1;
	struct store_device d;
	memset(&d, 0, sizeof(d));
	snprintf(d.name, sizeof(d.name), "%s", name);
	memcpy(d.awg_public, dr.awg_public, STORE_KEY_LEN);
	memcpy(d.enc_public, dr.enc_public, STORE_KEY_LEN);
	const struct store_subnets sn = { c->cfg.subnet4, c->cfg.subnet6 };
	char *detail = NULL, target[STORE_EMAIL_MAX + STORE_NAME_MAX + 2];
	r = store_begin(st);
	if (r == 0) {
		r = store_device_add(st, email, &sn, &d);
		if (r == 0) {
			device_target(&d, target, sizeof(target));
			detail = device_detail(&d);
			r = detail ? cox_audit(c, "device.add", target, detail) : -ENOMEM;
		}
		int cr = store_commit(st);
		r = r < 0 ? r : cr;
	}
	free(detail);
	if (r < 0) {
		struct store_device other;
		char ref[STORE_EMAIL_MAX + STORE_NAME_MAX + 2];
		snprintf(ref, sizeof(ref), "%s/%s", email, name);
		if (r == ERR_NOTFOUND)
			return cox_fail(c, "no user %s: add it first with `cox users add %s`", email, email);
		if (r == ERR_EXISTS && store_device_find(st, ref, &other) == 0)
			return cox_fail(c, "user %s already has a device named %s (id %lld)", other.user_email, other.name,
					(long long)other.id);
		if (r == ERR_EXISTS)
			return cox_fail(c, "a device with this AmneziaWG public key is already registered: "
					   "every device needs its own request from `caravel init`");
		if (r == -ENOSPC)
			return cox_fail(c, "no free tunnel address is left in the fleet subnet %s", c->cfg.subnet4);
		if (r == ERR_BADSTATE || r == -EINVAL)
			return cox_fail(c, "the fleet subnets in cox.conf (%s, %s) are not the ones device addresses "
					   "were given from, or are not usable (IPv4 /8../30, IPv6 /8../120): restore them",
					c->cfg.subnet4, c->cfg.subnet6);
		return cox_fail(c, "cannot add device %s for %s: %s", name, email, cox_strerror(r));
	}
	fprintf(c->out, "device %s (id %lld) added for %s: %s, %s\n", d.name, (long long)d.id, d.user_email, d.addr4,
		d.addr6);
	push_after(c);
	return 0;
}

static int print_device(void *arg, const struct store_device *d)
{
	struct cox_list *l = arg;
	FILE *f = l->c->out;
	char t[COX_TIME_LEN];
	if (l->json) {
		char awg[ENC_KEY_BASE64_LEN], enc[ENC_KEY_BASE64_LEN];
		enc_key_to_base64(awg, d->awg_public);
		enc_key_to_base64(enc, d->enc_public);
		return cox_list_json(l, json_pack("{s:I, s:s, s:s, s:s, s:s, s:s, s:s, s:b, s:I, s:I, s:I, s:I}", "id",
						  (json_int_t)d->id, "user", d->user_email, "name", d->name, "addr4",
						  d->addr4, "addr6", d->addr6, "awg_public", awg, "enc_public", enc,
						  "revoked", d->revoked_at != 0, "revoked_at", (json_int_t)d->revoked_at,
						  "version", (json_int_t)d->version, "created_at",
						  (json_int_t)d->created_at, "updated_at", (json_int_t)d->updated_at));
	}
	fprintf(f, "%6lld  %-28s %-20s %-15s %-24s %-8s %s\n", (long long)d->id, d->user_email, d->name, d->addr4,
		d->addr6, d->revoked_at ? "revoked" : "active", cox_time_format(d->created_at, t));
	return 0;
}

static int devices_list(struct cox *c, int argc, char **argv)
{
	const char *email = NULL;
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--json")) {
			c->json = true;
		} else if (!strcmp(argv[i], "--user")) {
			if (cox_opt_value(c, argc, argv, &i, "EMAIL", &email) < 0)
				return 2;
		} else {
			return cox_opt_unknown(c, "devices list", argv[i], "[--user EMAIL] [--json]");
		}
	}
	if (email && !store_email_valid(email)) {
		char q[TEXT_QUOTE_BUF(64)];
		return cox_fail(c, "--user %s is not an e-mail address (local@domain)",
				text_quote(q, 64, email, strlen(email)));
	}
	struct store *st;
	if (cox_store(c, &st) < 0)
		return 1;
	struct store_user u;
	if (email && store_user_get(st, email, &u) == ERR_NOTFOUND)
		return cox_fail(c, "no user %s (see cox users list)", email);
	struct cox_list l;
	cox_list_begin(&l, c);
	if (!l.json)
		fprintf(c->out, "%6s  %-28s %-20s %-15s %-24s %-8s %s\n", "ID", "USER", "NAME", "IPV4", "IPV6", "STATE",
			"CREATED");
	const struct store_device_filter f = { .email = email, .include_revoked = true };
	int r = store_devices_list(st, &f, print_device, &l);
	cox_list_end(&l);
	if (r < 0)
		return cox_fail(c, "cannot list devices: %s", cox_strerror(r));
	return 0;
}

enum dev_op { OP_RM, OP_REVOKE };

static int device_change(struct cox *c, int argc, char **argv, enum dev_op op)
{
	const char *usage = op == OP_RM ? "devices rm" : "devices revoke";
	const char *ref = NULL;
	for (int i = 1; i < argc; i++) {
		if (argv[i][0] != '-' && !ref)
			ref = argv[i];
		else
			return cox_opt_unknown(c, usage, argv[i], "DEVICE");
	}
	if (!ref)
		return cox_fail(c, "missing DEVICE: %s", DEVICE_REF), 2;
	struct store *st;
	if (cox_store(c, &st) < 0)
		return 1;
	struct store_device d;
	char q[TEXT_QUOTE_BUF(64)], target[STORE_EMAIL_MAX + STORE_NAME_MAX + 2], t[COX_TIME_LEN];
	int r = store_begin(st);
	if (r < 0)
		return cox_fail(c, "cannot start a transaction: %s", cox_strerror(r));
	r = store_device_find(st, ref, &d);
	if (r == 0 && op == OP_REVOKE && d.revoked_at) {
		store_rollback(st);
		return cox_fail(c, "device %s/%s was already revoked at %s", d.user_email, d.name,
				cox_time_format(d.revoked_at, t));
	}
	char *detail = r == 0 ? device_detail(&d) : NULL;
	if (r == 0 && !detail)
		r = -ENOMEM;
	if (r == 0)
		r = op == OP_RM ? store_device_remove(st, &d) : store_device_revoke(st, &d);
	if (r == 0) {
		device_target(&d, target, sizeof(target));
		r = cox_audit(c, op == OP_RM ? "device.rm" : "device.revoke", target, detail);
	}
	free(detail);
	int cr = store_commit(st);
	r = r < 0 ? r : cr;
	if (r == ERR_NOTFOUND)
		return cox_fail(c, "no device %s: give %s", text_quote(q, 64, ref, strlen(ref)), DEVICE_REF);
	if (r == ERR_EXISTS)
		return cox_fail(c, "several devices are named %s: give EMAIL/NAME or the id (see cox devices list)",
				text_quote(q, 64, ref, strlen(ref)));
	if (r < 0)
		return cox_fail(c, "cannot %s device %s: %s", op == OP_RM ? "remove" : "revoke", ref, cox_strerror(r));
	fprintf(c->out, "device %s/%s (id %lld) %s\n", d.user_email, d.name, (long long)d.id,
		op == OP_RM ? "removed; its addresses are free again" : "revoked; nodes drop it at this push");
	push_after(c);
	return 0;
}

static int devices_rm(struct cox *c, int argc, char **argv)
{
	return device_change(c, argc, argv, OP_RM);
}

static int devices_revoke(struct cox *c, int argc, char **argv)
{
	return device_change(c, argc, argv, OP_REVOKE);
}

/* ---- devices import ------------------------------------------------------- */

#define IMPORT_MAX 100000          /* devices in one import */
#define IMPORT_LINE_MAX 1024       /* one line, newline included */
#define IMPORT_ERRORS_SHOWN 20     /* bad lines listed; the rest are counted */
#define IMPORT_USAGE "FILE|- [--create-users]"

struct import_line {
	unsigned line;                 /* 1-based, for messages */
	char email[STORE_EMAIL_MAX + 1]; /* lower-cased: the store keeps it so */
	char name[STORE_NAME_MAX + 1];
	struct devreq req;
};

struct import {
	struct cox *c;
	struct import_line *v;
	size_t n, cap;
	unsigned bad;                  /* lines refused */
};

/* Counts a refused line and shows it (the first IMPORT_ERRORS_SHOWN).
 * Returns -EINVAL, for the caller to return. */
static int import_bad(struct import *im, unsigned line, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

static int import_bad(struct import *im, unsigned line, const char *fmt, ...)
{
	if (im->bad++ >= IMPORT_ERRORS_SHOWN)
		return -EINVAL;
	va_list ap;
	va_start(ap, fmt);
	fprintf(im->c->err, "cox: line %u: ", line);
	vfprintf(im->c->err, fmt, ap);
	fputc('\n', im->c->err);
	va_end(ap);
	return -EINVAL;
}

/* One line: "EMAIL NAME REQUEST" separated by blanks; NAME "-" takes the
 * request's own name. Blank lines and lines starting with '#' are skipped.
 * 0, or -EINVAL for a refused line (counted and shown). */
static int import_parse_line(struct import *im, unsigned line, char *text)
{
	char *save = NULL, *f[4] = { 0 };
	int nf = 0;
	for (char *t = strtok_r(text, " \t\r\n", &save); t; t = strtok_r(NULL, " \t\r\n", &save))
		if (nf < 4)
			f[nf++] = t;
		else
			nf++;
	if (nf == 0 || f[0][0] == '#')
		return 0;
	char q[TEXT_QUOTE_BUF(64)], err[256] = "";
	if (nf != 3)
		return import_bad(im, line, "%d fields; expected EMAIL NAME REQUEST (NAME - takes the request's name)",
				  nf);
	if (!store_email_valid(f[0]))
		return import_bad(im, line, "%s is not an e-mail address (local@domain)",
				  text_quote(q, 64, f[0], strlen(f[0])));
	if (im->n == im->cap) {
		size_t cap = im->cap ? 2 * im->cap : 256;
		struct import_line *nv = realloc(im->v, cap * sizeof(*nv));
		if (!nv)
			return import_bad(im, line, "out of memory");
		im->v = nv;
		im->cap = cap;
	}
	struct import_line *l = &im->v[im->n];
	memset(l, 0, sizeof(*l));
	l->line = line;
	int r = devreq_parse(f[2], &l->req, err, sizeof(err));
	if (r < 0)
		return import_bad(im, line, "not a device request: %s (copy the whole line `caravel init` printed)",
				  err[0] ? err : cox_strerror(r));
	const char *name = strcmp(f[1], "-") ? f[1] : l->req.name;
	if (!*name)
		return import_bad(im, line, "NAME is - but the request suggests no name: give one (%s)", NAME_RULE);
	if (!store_name_valid(name))
		return import_bad(im, line, "device name %s is not valid: %s", text_quote(q, 64, name, strlen(name)),
				  NAME_RULE);
	for (size_t i = 0; f[0][i]; i++)
		l->email[i] = (char)tolower((unsigned char)f[0][i]);
	snprintf(l->name, sizeof(l->name), "%s", name);
	im->n++;
	return 0;
}

static int by_user_name(const void *a, const void *b)
{
	const struct import_line *x = a, *y = b;
	int d = strcmp(x->email, y->email);
	d = d ? d : strcmp(x->name, y->name);
	return d ? d : (x->line > y->line) - (x->line < y->line);
}

static int by_key(const void *a, const void *b)
{
	const struct import_line *x = a, *y = b;
	int d = memcmp(x->req.awg_public, y->req.awg_public, sizeof(x->req.awg_public));
	return d ? d : (x->line > y->line) - (x->line < y->line);
}

static int by_line(const void *a, const void *b)
{
	const struct import_line *x = a, *y = b;
	return (x->line > y->line) - (x->line < y->line);
}

/* A device twice in the file (same EMAIL/NAME, or the same AmneziaWG key). */
static void import_duplicates(struct import *im)
{
	if (im->n < 2)
		return;
	qsort(im->v, im->n, sizeof(*im->v), by_user_name);
	for (size_t i = 1; i < im->n; i++)
		if (!strcmp(im->v[i].email, im->v[i - 1].email) && !strcmp(im->v[i].name, im->v[i - 1].name))
			import_bad(im, im->v[i].line, "%s/%s is on line %u already", im->v[i].email, im->v[i].name,
				   im->v[i - 1].line);
	qsort(im->v, im->n, sizeof(*im->v), by_key);
	for (size_t i = 1; i < im->n; i++)
		if (!memcmp(im->v[i].req.awg_public, im->v[i - 1].req.awg_public, sizeof(im->v[i].req.awg_public)))
			import_bad(im, im->v[i].line, "the same device request (AmneziaWG key) as line %u: every device "
						      "needs its own request from `caravel init`",
				   im->v[i - 1].line);
	qsort(im->v, im->n, sizeof(*im->v), by_line);
}

static int import_read(struct import *im, const char *path)
{
	FILE *in = strcmp(path, "-") ? fopen(path, "r") : stdin;
	if (!in) {
		int e = errno;
		cox_fail(im->c, "cannot open %s: %s", path, strerror(e));
		return -e;
	}
	/* Read byte by byte into a fixed buffer: a line is bounded whatever
	 * the file holds, and a NUL inside it is seen. */
	char buf[IMPORT_LINE_MAX + 1];
	unsigned line = 0;
	int r = 0, ch = 0;
	while (ch != EOF) {
		size_t len = 0;
		bool too_long = false, nul = false;
		while ((ch = getc(in)) != EOF && ch != '\n') {
			if (len < IMPORT_LINE_MAX)
				buf[len++] = (char)ch;
			else
				too_long = true;
			nul |= ch == 0;
		}
		if (ch == EOF && len == 0 && !too_long)
			break;
		buf[len] = 0;
		line++;
		if (too_long)
			import_bad(im, line, "longer than %d bytes", IMPORT_LINE_MAX);
		else if (nul)
			import_bad(im, line, "holds a NUL byte");
		else
			(void)import_parse_line(im, line, buf);
		if (im->n > IMPORT_MAX) {
			cox_fail(im->c, "%s holds more than %d devices: split it", path, IMPORT_MAX);
			r = -E2BIG;
			break;
		}
	}
	if (r == 0 && ferror(in))
	{
		cox_fail(im->c, "cannot read %s: %s", path, strerror(errno));
		r = -EIO;
	}
	if (in != stdin)
		fclose(in);
	return r;
}

/* Writes every device (and, with create_users, every missing user), each with
 * its audit row, in the one transaction the caller opened. Every failing
 * line is reported; any failure dooms the transaction. Returns the first
 * error. */
static int import_write(struct import *im, struct store *st, bool create_users, unsigned *users_created,
			struct store_device *first, struct store_device *last)
{
	struct cox *c = im->c;
	const struct store_subnets sn = { c->cfg.subnet4, c->cfg.subnet6 };
	char target[STORE_EMAIL_MAX + STORE_NAME_MAX + 2], ref[STORE_EMAIL_MAX + STORE_NAME_MAX + 2];
	int first_err = 0;
	struct store_user u;
	*users_created = 0;
	for (size_t i = 0; i < im->n; i++) {
		struct import_line *l = &im->v[i];
		int r = 0;
		if (create_users && store_user_get(st, l->email, &u) == ERR_NOTFOUND) {
			r = store_user_add(st, l->email, "", NULL);
			if (r == 0)
				r = cox_audit(c, "user.add", l->email, "{\"name\":\"\",\"via\":\"devices import\"}");
			if (r == 0)
				++*users_created;
		}
		struct store_device d;
		memset(&d, 0, sizeof(d));
		snprintf(d.name, sizeof(d.name), "%s", l->name);
		memcpy(d.awg_public, l->req.awg_public, STORE_KEY_LEN);
		memcpy(d.enc_public, l->req.enc_public, STORE_KEY_LEN);
		if (r == 0)
			r = store_device_add(st, l->email, &sn, &d);
		if (r == 0) {
			device_target(&d, target, sizeof(target));
			char *detail = device_detail(&d);
			r = detail ? cox_audit(c, "device.add", target, detail) : -ENOMEM;
			free(detail);
		}
		if (r == 0) {
			if (i == 0)
				*first = d;
			*last = d;
			continue;
		}
		if (!first_err)
			first_err = r;
		struct store_device other;
		snprintf(ref, sizeof(ref), "%s/%s", l->email, l->name);
		if (r == ERR_NOTFOUND)
			import_bad(im, l->line, "no user %s: add it first (cox users add), or give --create-users", l->email);
		else if (r == ERR_EXISTS && store_device_find(st, ref, &other) == 0)
			import_bad(im, l->line, "user %s already has a device named %s (id %lld)", l->email, l->name,
				   (long long)other.id);
		else if (r == ERR_EXISTS)
			import_bad(im, l->line, "a device with this AmneziaWG public key is already registered");
		else if (r == -ENOSPC)
			import_bad(im, l->line, "no free tunnel address is left in the fleet subnet %s", c->cfg.subnet4);
		else if (r == ERR_BADSTATE || r == -EINVAL)
			return cox_fail(c, "the fleet subnets in cox.conf (%s, %s) are not the ones device addresses were "
					   "given from, or are not usable: restore them",
					c->cfg.subnet4, c->cfg.subnet6),
			       r;
		else
			return cox_fail(c, "line %u: cannot add device %s for %s: %s", l->line, l->name, l->email,
					cox_strerror(r)),
			       r;
	}
	return first_err;
}

static int devices_import(struct cox *c, int argc, char **argv)
{
	const char *path = NULL;
	bool create_users = false;
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--create-users"))
			create_users = true;
		else if ((argv[i][0] != '-' || !strcmp(argv[i], "-")) && !path)
			path = argv[i];
		else
			return cox_opt_unknown(c, "devices import", argv[i], IMPORT_USAGE);
	}
	if (!path)
		return cox_fail(c, "missing FILE: cox devices import " IMPORT_USAGE " (one device per line: EMAIL NAME "
				   "REQUEST; - reads standard input)"),
		       2;
	struct import im = { .c = c };
	int rc = 1;
	/* 1. Every line is checked before anything is written. */
	if (import_read(&im, path) < 0)
		goto out;
	import_duplicates(&im);
	if (im.bad) {
		if (im.bad > IMPORT_ERRORS_SHOWN)
			fprintf(c->err, "cox: ... and %u more bad lines\n", im.bad - IMPORT_ERRORS_SHOWN);
		cox_fail(c, "%s: %u bad line%s; nothing was imported", path, im.bad, im.bad == 1 ? "" : "s");
		rc = 2;
		goto out;
	}
	if (!im.n) {
		fprintf(c->out, "%s holds no devices; nothing to do\n", path);
		rc = 0;
		goto out;
	}
	/* 2. One transaction: every user, device, PSK and audit row, or none. */
	struct store *st;
	if (cox_store(c, &st) < 0)
		goto out;
	struct store_device first, last;
	unsigned created = 0;
	int r = store_begin(st);
	if (r < 0) {
		cox_fail(c, "cannot start a transaction: %s", cox_strerror(r));
		goto out;
	}
	r = import_write(&im, st, create_users, &created, &first, &last);
	if (r < 0) {
		store_rollback(st);
		if (im.bad > IMPORT_ERRORS_SHOWN)
			fprintf(c->err, "cox: ... and %u more refused lines\n", im.bad - IMPORT_ERRORS_SHOWN);
		if (im.bad)
			cox_fail(c, "%s: %u line%s refused; nothing was imported", path, im.bad, im.bad == 1 ? "" : "s");
		else
			cox_fail(c, "%s: nothing was imported", path);
		goto out;
	}
	if ((r = store_commit(st)) < 0) {
		cox_fail(c, "cannot commit the import: %s; nothing was imported", cox_strerror(r));
		goto out;
	}
	fprintf(c->out, "imported %zu device%s (%s .. %s)", im.n, im.n == 1 ? "" : "s", first.addr4, last.addr4);
	if (created)
		fprintf(c->out, ", %u new user%s", created, created == 1 ? "" : "s");
	fputc('\n', c->out);
	/* 3. One push to every node. */
	push_after(c);
	rc = 0;
out:
	free(im.v);
	return rc;
}

static const struct cox_cmd cmds[] = {
	{ "add", devices_add, "USER --name NAME --request REQ",
	  "register a device of USER (an e-mail) from the request `caravel init` printed on it" },
	{ "import", devices_import, IMPORT_USAGE,
	  "add many devices at once, one per line: EMAIL NAME REQUEST (NAME - takes the request's name; # comments). "
	  "Every line is checked first, all are written in one transaction, then each node gets one push. "
	  "Unknown users are refused unless --create-users" },
	{ "list", devices_list, "[--user EMAIL] [--json]", "list devices with their tunnel addresses" },
	{ "rm", devices_rm, "DEVICE", "remove a device (DEVICE: id, EMAIL/NAME or a unique NAME)" },
	{ "revoke", devices_revoke, "DEVICE", "revoke a device: nodes drop its peer, its row stays for the record" },
};

int cox_cmd_devices(struct cox *c, int argc, char **argv)
{
	return cox_dispatch(c, "devices", cmds, sizeof(cmds) / sizeof(cmds[0]), argc, argv);
}
