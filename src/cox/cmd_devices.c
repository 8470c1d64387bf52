/* cox devices: register a device from the request `caravel init` printed
 * (public keys only: the device's private keys never leave it), give it
 * its tunnel addresses and a PSK on every installed node (active, unreachable
 * or stopped: a node that is down for a while still serves it when back), and push. */
#include <errno.h>
#include <jansson.h>
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
				err[0] ? err : err_str(r));
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
		return cox_fail(c, "cannot add device %s for %s: %s", name, email, err_str(r));
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
		return cox_fail(c, "cannot list devices: %s", err_str(r));
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
		return cox_fail(c, "cannot start a transaction: %s", err_str(r));
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
		return cox_fail(c, "cannot %s device %s: %s", op == OP_RM ? "remove" : "revoke", ref, err_str(r));
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

static const struct cox_cmd cmds[] = {
	{ "add", devices_add, "USER --name NAME --request REQ",
	  "register a device of USER (an e-mail) from the request `caravel init` printed on it" },
	{ "list", devices_list, "[--user EMAIL] [--json]", "list devices with their tunnel addresses" },
	{ "rm", devices_rm, "DEVICE", "remove a device (DEVICE: id, EMAIL/NAME or a unique NAME)" },
	{ "revoke", devices_revoke, "DEVICE", "revoke a device: nodes drop its peer, its row stays for the record" },
};

int cox_cmd_devices(struct cox *c, int argc, char **argv)
{
	return cox_dispatch(c, "devices", cmds, sizeof(cmds) / sizeof(cmds[0]), argc, argv);
}
