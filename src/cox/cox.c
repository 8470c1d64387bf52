/* Shared helpers of the cox commands: paths, lazy loading of the
 * configuration and the store, audit rows, errors, and group dispatch. */
#include "cox/cox.h"

#include <errno.h>
#include <stdarg.h>
#include <string.h>

#include "cox/config.h"
#include "store/store.h"

int cox_path(const struct cox *c, const char *name, char *buf, size_t cap)
{
	int n = snprintf(buf, cap, "%s/%s", c->state_dir, name);
	if (n < 0 || (size_t)n >= cap)
		return -ENAMETOOLONG;
	return 0;
}

int cox_fail(struct cox *c, const char *fmt, ...)
{
	va_list ap;
	fputs("cox: ", c->err);
	va_start(ap, fmt);
	vfprintf(c->err, fmt, ap);
	va_end(ap);
	fputc('\n', c->err);
	return 1;
}

const char *cox_strerror(int r)
{
	if (r == -EBUSY)
		return STORE_BUSY_MESSAGE;
	return err_str(r);
}

int cox_load(struct cox *c)
{
	if (c->cfg_loaded)
		return 0;
	char path[COX_PATH_MAX];
	int r = cox_path(c, COX_CONFIG_FILE, path, sizeof(path));
	if (r < 0)
		return r;
	char err[256];
	r = cox_config_load(path, &c->cfg, err, sizeof(err));
	if (r == -ENOENT) {
		cox_fail(c, "%s is not initialised (no %s): run `cox init --personal` or `cox init --enterprise` first",
			 c->state_dir, COX_CONFIG_FILE);
		return r;
	}
	if (r < 0) {
		cox_fail(c, "%s: %s", path, err);
		return r;
	}
	c->cfg_loaded = true;
	return 0;
}

int cox_store(struct cox *c, struct store **out)
{
	*out = NULL;
	if (!c->st) {
		int r = cox_load(c);
		if (r < 0)
			return r;
		char path[COX_PATH_MAX];
		r = cox_path(c, COX_DB_FILE, path, sizeof(path));
		if (r < 0)
			return r;
		char err[256] = "";
		r = store_open(path, &c->st, err, sizeof(err));
		if (r < 0) {
			cox_fail(c, "cannot open the store %s: %s", path, err[0] ? err : cox_strerror(r));
			return r;
		}
	}
	*out = c->st;
	return 0;
}

int cox_audit(struct cox *c, const char *action, const char *target, const char *detail)
{
	struct store *st;
	int r = cox_store(c, &st);
	if (r < 0)
		return r;
	r = store_audit_append(st, c->actor, action, target ? target : "", detail ? detail : "");
	if (r < 0)
		cox_fail(c, "cannot append to the audit chain: %s", cox_strerror(r));
	return r;
}

static void group_usage(FILE *f, const char *group, const struct cox_cmd *cmds, size_t n)
{
	fprintf(f, "Usage: cox %s <command> [options]\n\nCommands:\n", group);
	for (size_t i = 0; i < n; i++)
		fprintf(f, "  cox %s %s %s\n      %s\n", group, cmds[i].name, cmds[i].args, cmds[i].help);
}

static bool is_help(const char *s)
{
	return !strcmp(s, "help") || !strcmp(s, "-h") || !strcmp(s, "--help");
}

int cox_dispatch(struct cox *c, const char *group, const struct cox_cmd *cmds, size_t n, int argc, char **argv)
{
	if (argc < 2 || is_help(argv[1])) {
		group_usage(argc < 2 ? c->err : c->out, group, cmds, n);
		return argc < 2 ? 2 : 0;
	}
	for (size_t i = 0; i < n; i++) {
		if (strcmp(argv[1], cmds[i].name))
			continue;
		/* `cox GROUP CMD --help` prints that command's usage. */
		for (int k = 2; k < argc; k++) {
			if (!strcmp(argv[k], "--help") || !strcmp(argv[k], "-h")) {
				fprintf(c->out, "Usage: cox %s %s %s\n  %s\n", group, cmds[i].name, cmds[i].args,
					cmds[i].help);
				return 0;
			}
		}
		return cmds[i].fn(c, argc - 1, argv + 1);
	}
	cox_fail(c, "no command `%s %s'; valid: see below", group, argv[1]);
	group_usage(c->err, group, cmds, n);
	return 2;
}
