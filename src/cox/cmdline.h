/* Small shared pieces of the cox command parsers: option values, times as
 * users type them, and printing stored text safely. */
#ifndef PHAROS_COX_CMDLINE_H
#define PHAROS_COX_CMDLINE_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "cox/cox.h"

/* argv[*i] is an option that takes a value: sets *val to argv[*i + 1] and
 * advances *i; without one, prints "OPTION needs a value (VALUE)" and
 * returns -EINVAL. what names the value in the message. */
int cox_opt_value(struct cox *c, int argc, char **argv, int *i, const char *what, const char **val) WUR;

/* Prints "unknown option `X' for `cox USAGE'; valid: VALID" (or "unexpected
 * argument" for a non-option) and returns 2, the usage-error status. */
int cox_opt_unknown(struct cox *c, const char *usage, const char *arg, const char *valid);

/* For commands whose only option is --json: sets c->json, or refuses any
 * other argument. 0, or 2 (the usage-error status) after a message. */
int cox_opt_json_only(struct cox *c, int argc, char **argv, const char *usage) WUR;

/* A time as users give it, into Unix seconds: seconds since the epoch
 * ("1700000000"), an age ("30s", "15m", "2h", "7d": that long before now),
 * a UTC date ("2026-11-26") or date and time ("2026-11-26T08:30[:00][Z]",
 * a space also works for the T). -EINVAL otherwise. */
int cox_time_parse(const char *s, int64_t now, int64_t *out) WUR;
#define COX_TIME_LEN 21 /* "2026-11-26T08:30:00Z" and the NUL */
/* ISO 8601 UTC; "-" for 0 (never). */
const char *cox_time_format(int64_t t, char buf[COX_TIME_LEN]);

/* A listing: a table, or with --json one JSON array holding one compact
 * object per line (streamed, so 10,000 rows never sit in memory). begin
 * prints "[" in JSON mode (the caller prints its table header otherwise),
 * json prints one element and takes o (NULL counts as out of memory), end
 * closes the array. */
struct json_t;
struct cox_list {
	struct cox *c;
	bool json, first;
};
void cox_list_begin(struct cox_list *l, struct cox *c);
int cox_list_json(struct cox_list *l, struct json_t *o) WUR;
void cox_list_end(struct cox_list *l);

/* Writes stored text with control bytes shown as \xNN, so a value cannot
 * move the cursor or rewrite a terminal line. */
void cox_print_text(FILE *f, const char *s);

#endif
