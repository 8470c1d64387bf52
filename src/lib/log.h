/* Logging. Levels, to stderr (default) or syslog. Messages never carry key
 * material: log keys only as their public fingerprints. The sink is process
 * configuration set once at start-up, before any thread exists. */
#ifndef PHAROS_LIB_LOG_H
#define PHAROS_LIB_LOG_H

#include <stdbool.h>

enum log_level { LOG_LVL_ERROR = 0, LOG_LVL_WARN, LOG_LVL_INFO, LOG_LVL_DEBUG };

/* ident: program name; to_syslog: use syslog(3) (journal picks it up). */
void log_setup(const char *ident, enum log_level level, bool to_syslog);
/* Parses "error|warn|info|debug" (also "verbose"=debug, "silent"=error). */
int log_level_parse(const char *s, enum log_level *out);
bool log_enabled(enum log_level level);
void log_msg(enum log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#define log_error(...) log_msg(LOG_LVL_ERROR, __VA_ARGS__)
#define log_warn(...)  log_msg(LOG_LVL_WARN, __VA_ARGS__)
#define log_info(...)  log_msg(LOG_LVL_INFO, __VA_ARGS__)
#define log_debug(...) do { if (log_enabled(LOG_LVL_DEBUG)) log_msg(LOG_LVL_DEBUG, __VA_ARGS__); } while (0)

#endif
