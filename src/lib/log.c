#include "lib/log.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <syslog.h>
#include <time.h>

/* Set once by log_setup() before threads start; read-only afterwards. */
static struct {
	const char *ident;
	enum log_level level;
	bool syslog;
} sink = { "pharos", LOG_LVL_INFO, false };

void log_setup(const char *ident, enum log_level level, bool to_syslog)
{
	sink.ident = ident;
	sink.level = level;
	sink.syslog = to_syslog;
	if (to_syslog)
		openlog(ident, LOG_PID, LOG_DAEMON);
}

int log_level_parse(const char *s, enum log_level *out)
{
	static const struct { const char *n; enum log_level l; } t[] = {
		{ "error", LOG_LVL_ERROR }, { "silent", LOG_LVL_ERROR }, { "warn", LOG_LVL_WARN },
		{ "info", LOG_LVL_INFO }, { "debug", LOG_LVL_DEBUG }, { "verbose", LOG_LVL_DEBUG },
	};
	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++)
		if (!strcmp(s, t[i].n)) {
			*out = t[i].l;
			return 0;
		}
	return -EINVAL;
}

bool log_enabled(enum log_level level)
{
	return level <= sink.level;
}

void log_msg(enum log_level level, const char *fmt, ...)
{
	static const char *const tag[] = { "ERROR", "WARN", "INFO", "DEBUG" };
	static const int prio[] = { LOG_ERR, LOG_WARNING, LOG_INFO, LOG_DEBUG };
	char line[1024];
	va_list ap;

	if (!log_enabled(level))
		return;
	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	if (sink.syslog) {
		syslog(prio[level], "%s", line);
		return;
	}
	struct timespec ts;
	struct tm tm;
	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	fprintf(stderr, "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ %s %s: %s\n", tm.tm_year + 1900, tm.tm_mon + 1,
		tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, ts.tv_nsec / 1000000, sink.ident, tag[level], line);
}
