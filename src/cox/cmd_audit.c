/* cox audit: list the audit chain, and verify it (DESIGN.md §8). */
#include <errno.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cox/cmdline.h"
#include "cox/cox.h"
#include "lib/enc.h"
#include "lib/text.h"
#include "store/store.h"

#define LIST_ARGS "[--since TIME] [--actor ACTOR] [--action ACTION] [--limit N] [--json]"
#define TIME_FORMS "Unix seconds, an age like 30m, 12h or 7d, or a UTC date 2026-11-26[T08:30[:00]]"

static int print_row(void *arg, const struct store_audit_row *r)
{
	struct cox_list *l = arg;
	FILE *f = l->c->out;
	char t[COX_TIME_LEN];
	if (l->json) {
		char h[ENC_HEX_LEN(STORE_HASH_LEN)], p[ENC_HEX_LEN(STORE_HASH_LEN)];
		if (enc_hex_encode(h, sizeof(h), r->hash, STORE_HASH_LEN) < 0 ||
		    enc_hex_encode(p, sizeof(p), r->prev_hash, STORE_HASH_LEN) < 0)
			return -ENOSPC;
		return cox_list_json(l, json_pack("{s:I, s:I, s:s, s:s, s:s, s:s, s:s, s:s, s:s}", "seq",
						  (json_int_t)r->seq, "ts", (json_int_t)r->ts, "time",
						  cox_time_format(r->ts, t), "actor", r->actor, "action", r->action,
						  "target", r->target, "detail", r->detail, "prev_hash", p, "hash", h));
	}
	fprintf(f, "%6lld  %s  ", (long long)r->seq, cox_time_format(r->ts, t));
	cox_print_text(f, r->actor);
	fputs("  ", f);
	cox_print_text(f, r->action);
	fputs("  ", f);
	cox_print_text(f, r->target[0] ? r->target : "-");
	if (r->detail[0]) {
		fputs("  ", f);
		cox_print_text(f, r->detail);
	}
	fputc('\n', f);
	return 0;
}

static int audit_list(struct cox *c, int argc, char **argv)
{
	struct store_audit_filter f = { 0 };
	char q[TEXT_QUOTE_BUF(64)];
	for (int i = 1; i < argc; i++) {
		const char *v;
		if (!strcmp(argv[i], "--json")) {
			c->json = true;
		} else if (!strcmp(argv[i], "--since")) {
			if (cox_opt_value(c, argc, argv, &i, "TIME", &v) < 0)
				return 2;
			if (cox_time_parse(v, (int64_t)time(NULL), &f.since) < 0)
				return cox_fail(c, "--since %s is not a time: give %s", text_quote(q, 64, v, strlen(v)),
						TIME_FORMS),
				       2;
		} else if (!strcmp(argv[i], "--actor")) {
			if (cox_opt_value(c, argc, argv, &i, "ACTOR, e.g. cli:root", &f.actor) < 0)
				return 2;
		} else if (!strcmp(argv[i], "--action")) {
			if (cox_opt_value(c, argc, argv, &i, "ACTION, e.g. device.add or device.*", &f.action) < 0)
				return 2;
		} else if (!strcmp(argv[i], "--limit")) {
			if (cox_opt_value(c, argc, argv, &i, "N", &v) < 0)
				return 2;
			char *end;
			long long n = strtoll(v, &end, 10);
			if (!*v || *end || n < 1 || n > 100000000)
				return cox_fail(c, "--limit %s is not a count: give a whole number from 1 to 100000000",
						text_quote(q, 64, v, strlen(v))),
				       2;
			f.limit = n;
		} else {
			return cox_opt_unknown(c, "audit list", argv[i], LIST_ARGS);
		}
	}
	struct store *st;
	if (cox_store(c, &st) < 0)
		return 1;
	struct cox_list l;
	cox_list_begin(&l, c);
	if (!l.json)
		fprintf(c->out, "%6s  %-20s  ACTOR  ACTION  TARGET  DETAIL\n", "SEQ", "TIME");
	int r = store_audit_list(st, &f, print_row, &l);
	cox_list_end(&l);
	if (r < 0)
		return cox_fail(c, "cannot read the audit chain: %s", cox_strerror(r));
	return 0;
}

static int audit_verify(struct cox *c, int argc, char **argv)
{
	if (cox_opt_json_only(c, argc, argv, "audit verify"))
		return 2;
	struct store *st;
	if (cox_store(c, &st) < 0)
		return 1;
	struct store_audit_verdict v;
	int r = store_audit_verify(st, &v);
	if (r < 0)
		return cox_fail(c, "cannot read the audit chain: %s", cox_strerror(r));
	if (c->json) {
		json_t *o = v.why == STORE_AUDIT_INTACT
				    ? json_pack("{s:b, s:I}", "intact", 1, "rows", (json_int_t)v.rows)
				    : json_pack("{s:b, s:I, s:s, s:I, s:s}", "intact", 0, "rows", (json_int_t)v.rows,
						"broken", store_audit_break_name(v.why), "seq", (json_int_t)v.seq,
						"detail", v.detail);
		if (!o || json_dumpf(o, c->out, JSON_COMPACT) < 0) {
			json_decref(o);
			return cox_fail(c, "out of memory");
		}
		json_decref(o);
		fputc('\n', c->out);
	}
	if (v.why != STORE_AUDIT_INTACT)
		return cox_fail(c, "audit chain broken at seq %lld (%s): %s", (long long)v.seq,
				store_audit_break_name(v.why), v.detail);
	if (!c->json)
		fprintf(c->out, "audit chain intact: %lld row%s%s\n", (long long)v.rows, v.rows == 1 ? "" : "s",
			v.rows ? "" : " (nothing recorded yet)");
	return 0;
}

static const struct cox_cmd cmds[] = {
	{ "list", audit_list, LIST_ARGS,
	  "list audit rows oldest first (the default command); --limit keeps the newest N, "
	  "--action takes a prefix ending in * (device.*), TIME is " TIME_FORMS },
	{ "verify", audit_verify, "[--json]",
	  "walk the hash chain; exits non-zero naming the first edited, deleted or reordered row" },
};

int cox_cmd_audit(struct cox *c, int argc, char **argv)
{
	/* `cox audit [options]` lists: no command name needed. */
	if (argc < 2 || (argv[1][0] == '-' && strcmp(argv[1], "-h") && strcmp(argv[1], "--help")))
		return audit_list(c, argc, argv);
	return cox_dispatch(c, "audit", cmds, sizeof(cmds) / sizeof(cmds[0]), argc, argv);
}
