#include "cox/cmdline.h"

#include <ctype.h>
#include <errno.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

int cox_opt_value(struct cox *c, int argc, char **argv, int *i, const char *what, const char **val)
{
	*val = NULL;
	if (*i + 1 >= argc) {
		cox_fail(c, "%s needs a value (%s)", argv[*i], what);
		return -EINVAL;
	}
	*val = argv[++*i];
	return 0;
}

int cox_opt_unknown(struct cox *c, const char *usage, const char *arg, const char *valid)
{
	if (arg[0] == '-')
		cox_fail(c, "unknown option `%s' for `cox %s'; valid: %s", arg, usage, valid);
	else
		cox_fail(c, "unexpected argument `%s' for `cox %s'; usage: cox %s %s", arg, usage, usage, valid);
	return 2;
}

int cox_opt_json_only(struct cox *c, int argc, char **argv, const char *usage)
{
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--json"))
			return cox_opt_unknown(c, usage, argv[i], "[--json]");
		c->json = true;
	}
	return 0;
}

static bool digits(const char *s, size_t max)
{
	size_t n = strlen(s);
	if (n == 0 || n > max)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!isdigit((unsigned char)s[i]))
			return false;
	return true;
}

int cox_time_parse(const char *s, int64_t now, int64_t *out)
{
	*out = 0;
	if (!s || !*s)
		return -EINVAL;
	if (digits(s, 12)) {
		*out = (int64_t)strtoll(s, NULL, 10);
		return 0;
	}
	size_t n = strlen(s);
	static const struct { char unit; int64_t secs; } units[] = {
		{ 's', 1 }, { 'm', 60 }, { 'h', 3600 }, { 'd', 86400 }, { 'w', 7 * 86400 },
	};
	for (size_t u = 0; u < sizeof(units) / sizeof(units[0]); u++) {
		if (n < 2 || n > 8 || s[n - 1] != units[u].unit)
			continue;
		char num[8];
		memcpy(num, s, n - 1);
		num[n - 1] = 0;
		if (!digits(num, 7))
			return -EINVAL;
		*out = now - (int64_t)strtoll(num, NULL, 10) * units[u].secs;
		return 0;
	}
	static const char *const formats[] = {
		"%Y-%m-%dT%H:%M:%SZ", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%dT%H:%MZ", "%Y-%m-%dT%H:%M",
		"%Y-%m-%d %H:%M:%S",  "%Y-%m-%d %H:%M",    "%Y-%m-%d",
	};
	for (size_t f = 0; f < sizeof(formats) / sizeof(formats[0]); f++) {
		struct tm tm;
		memset(&tm, 0, sizeof(tm));
		const char *end = strptime(s, formats[f], &tm);
		if (!end || *end)
			continue;
		time_t t = timegm(&tm);
		if (t == (time_t)-1)
			return -EINVAL;
		*out = (int64_t)t;
		return 0;
	}
	return -EINVAL;
}

const char *cox_time_format(int64_t t, char buf[COX_TIME_LEN])
{
	if (t == 0) {
		strcpy(buf, "-");
		return buf;
	}
	time_t tt = (time_t)t;
	struct tm tm;
	if (!gmtime_r(&tt, &tm) || !strftime(buf, COX_TIME_LEN, "%Y-%m-%dT%H:%M:%SZ", &tm))
		snprintf(buf, COX_TIME_LEN, "%lld", (long long)t);
	return buf;
}

void cox_print_text(FILE *f, const char *s)
{
	for (; *s; s++) {
		unsigned char ch = (unsigned char)*s;
		if (ch < 0x20 || ch == 0x7f)
			fprintf(f, "\\x%02x", ch);
		else
			fputc(ch, f);
	}
}

void cox_list_begin(struct cox_list *l, struct cox *c)
{
	l->c = c;
	l->json = c->json;
	l->first = true;
	if (l->json)
		fputc('[', c->out);
}

int cox_list_json(struct cox_list *l, json_t *o)
{
	char *s = o ? json_dumps(o, JSON_COMPACT) : NULL;
	json_decref(o);
	if (!s)
		return -ENOMEM;
	fprintf(l->c->out, "%s%s", l->first ? "\n  " : ",\n  ", s);
	free(s);
	l->first = false;
	return 0;
}

void cox_list_end(struct cox_list *l)
{
	if (l->json)
		fputs(l->first ? "]\n" : "\n]\n", l->c->out);
}
