/* The cox commands of users, devices and audit, run in-process against a
 * real state directory (cox.conf from the personal preset, the SQLite
 * store): their output, their refusals, and that a refused command writes
 * nothing. Also the small parsers in cox/cmdline.c. */
#include "support.h"

#include <errno.h>
#include <jansson.h>
#include <sodium.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cox/cmdline.h"
#include "cox/config.h"
#include "cox/cox.h"
#include "profile/profile.h"
#include "store/store.h"

struct fixture {
	struct cox c;
	char *out, *err;
	size_t out_len, err_len;
	char db[COX_PATH_MAX];
};

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	assert_non_null(f);
	strcpy(f->c.state_dir, "/tmp/test_cox_cmds.XXXXXX");
	assert_non_null(mkdtemp(f->c.state_dir));
	struct cox_config cfg;
	assert_int_equal(cox_config_preset(COX_PRESET_PERSONAL, &cfg), 0);
	char path[COX_PATH_MAX];
	assert_int_equal(cox_path(&f->c, COX_CONFIG_FILE, path, sizeof(path)), 0);
	assert_int_equal(cox_config_save(path, &cfg), 0);
	assert_int_equal(cox_path(&f->c, COX_DB_FILE, f->db, sizeof(f->db)), 0);
	strcpy(f->c.actor, "cli:test");
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;
	store_close(f->c.st);
	free(f->out);
	free(f->err);
	char cmd[COX_PATH_MAX + 16];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", f->c.state_dir);
	if (system(cmd) != 0)
		return -1;
	free(f);
	return 0;
}

/* Runs `cox GROUP ARGS...` (NULL-terminated), capturing stdout and stderr
 * into f->out and f->err. Returns the exit status. */
static int run(struct fixture *f, cox_cmd_fn group, const char *name, ...)
{
	char *argv[32];
	int argc = 0;
	argv[argc++] = (char *)name;
	va_list ap;
	va_start(ap, name);
	for (char *a; (a = va_arg(ap, char *)) != NULL && argc < 31;)
		argv[argc++] = a;
	va_end(ap);
	argv[argc] = NULL;
	free(f->out);
	free(f->err);
	f->out = f->err = NULL;
	f->c.out = open_memstream(&f->out, &f->out_len);
	f->c.err = open_memstream(&f->err, &f->err_len);
	assert_non_null(f->c.out);
	assert_non_null(f->c.err);
	f->c.json = false;
	int rc = group(&f->c, argc, argv);
	fclose(f->c.out);
	fclose(f->c.err);
	f->c.out = f->c.err = NULL;
	return rc;
}

static void request(char *buf, size_t cap, uint8_t seed)
{
	struct devreq r = { .name = "" };
	memset(r.awg_public, seed, sizeof(r.awg_public));
	memset(r.enc_public, seed ^ 0x5a, sizeof(r.enc_public));
	r.awg_public[0] = 9; /* not a low-order point */
	assert_true(devreq_format(&r, buf, cap) > 0);
}

static int64_t count(struct fixture *f, const char *table)
{
	sqlite3 *db;
	assert_int_equal(sqlite3_open(f->db, &db), SQLITE_OK);
	char sql[64];
	snprintf(sql, sizeof(sql), "SELECT COUNT(*) FROM %s", table);
	sqlite3_stmt *s;
	assert_int_equal(sqlite3_prepare_v2(db, sql, -1, &s, NULL), SQLITE_OK);
	assert_int_equal(sqlite3_step(s), SQLITE_ROW);
	int64_t n = sqlite3_column_int64(s, 0);
	sqlite3_finalize(s);
	sqlite3_close(db);
	return n;
}

static void users_are_added_listed_and_refused_with_reasons(void **state)
{
	struct fixture *f = *state;
	assert_int_equal(run(f, cox_cmd_users, "users", "add", "Alice@Example.org", "--name", "Alice", NULL), 0);
	assert_non_null(strstr(f->out, "user alice@example.org added"));
	assert_int_equal(run(f, cox_cmd_users, "users", "add", "alice@example.org", NULL), 1);
	assert_non_null(strstr(f->err, "already exists"));
	assert_int_equal(run(f, cox_cmd_users, "users", "add", "not-an-email", NULL), 1);
	assert_non_null(strstr(f->err, "\"not-an-email\" is not an e-mail address"));
	assert_int_equal(run(f, cox_cmd_users, "users", "add", "b@example.org", "--nmae", "x", NULL), 2);
	assert_non_null(strstr(f->err, "unknown option `--nmae'"));
	assert_int_equal(run(f, cox_cmd_users, "users", "add", "b@example.org", "--name", NULL), 2);
	assert_non_null(strstr(f->err, "--name needs a value"));
	assert_int_equal(count(f, "users"), 1);
	assert_int_equal(count(f, "audit"), 1);

	assert_int_equal(run(f, cox_cmd_users, "users", "list", "--json", NULL), 0);
	json_error_t je;
	json_t *a = json_loads(f->out, 0, &je);
	assert_non_null(a);
	assert_int_equal(json_array_size(a), 1);
	assert_string_equal(json_string_value(json_object_get(json_array_get(a, 0), "email")), "alice@example.org");
	assert_string_equal(json_string_value(json_object_get(json_array_get(a, 0), "name")), "Alice");
	json_decref(a);
	assert_int_equal(run(f, cox_cmd_users, "users", "list", NULL), 0);
	assert_non_null(strstr(f->out, "alice@example.org"));
	assert_int_equal(run(f, cox_cmd_users, "users", "help", NULL), 0);
	assert_non_null(strstr(f->out, "cox users rm EMAIL [--force]"));
}

static void devices_get_addresses_and_bad_requests_write_nothing(void **state)
{
	struct fixture *f = *state;
	char req[DEVREQ_MAX], req2[DEVREQ_MAX];
	request(req, sizeof(req), 1);
	request(req2, sizeof(req2), 2);
	assert_int_equal(run(f, cox_cmd_users, "users", "add", "a@example.org", NULL), 0);
	assert_int_equal(run(f, cox_cmd_devices, "devices", "add", "a@example.org", "--name", "laptop", "--request", req,
			     NULL),
			 0);
	assert_non_null(strstr(f->out, "device laptop (id 1) added for a@example.org: 10.86.0.2,"));
	int64_t audit = count(f, "audit");

	/* Each refusal says why and leaves the database as it was. */
	assert_int_equal(run(f, cox_cmd_devices, "devices", "add", "a@example.org", "--name", "laptop", "--request",
			     req2, NULL),
			 1);
	assert_non_null(strstr(f->err, "already has a device named laptop"));
	assert_int_equal(run(f, cox_cmd_devices, "devices", "add", "a@example.org", "--name", "phone", "--request", req,
			     NULL),
			 1);
	assert_non_null(strstr(f->err, "AmneziaWG public key is already registered"));
	char mangled[DEVREQ_MAX];
	strcpy(mangled, req2);
	mangled[strlen(mangled) - 1] ^= 1;
	assert_int_equal(run(f, cox_cmd_devices, "devices", "add", "a@example.org", "--name", "phone", "--request",
			     mangled, NULL),
			 1);
	assert_non_null(strstr(f->err, "--request is not a device request"));
	assert_int_equal(run(f, cox_cmd_devices, "devices", "add", "b@example.org", "--name", "phone", "--request",
			     req2, NULL),
			 1);
	assert_non_null(strstr(f->err, "no user b@example.org"));
	assert_int_equal(run(f, cox_cmd_devices, "devices", "add", "a@example.org", "--name", "bad name",
			     "--request", req2, NULL),
			 1);
	assert_non_null(strstr(f->err, "device name \"bad name\" is not valid"));
	assert_int_equal(run(f, cox_cmd_devices, "devices", "add", "a@example.org", "--name", "phone", NULL), 2);
	assert_non_null(strstr(f->err, "missing --request"));
	assert_int_equal(count(f, "devices"), 1);
	assert_int_equal(count(f, "audit"), audit);

	assert_int_equal(run(f, cox_cmd_devices, "devices", "add", "a@example.org", "--name", "phone", "--request", req2,
			     NULL),
			 0);
	assert_non_null(strstr(f->out, "10.86.0.3"));
	assert_int_equal(run(f, cox_cmd_devices, "devices", "list", "--user", "a@example.org", "--json", NULL), 0);
	json_error_t je;
	json_t *a = json_loads(f->out, 0, &je);
	assert_non_null(a);
	assert_int_equal(json_array_size(a), 2);
	assert_string_equal(json_string_value(json_object_get(json_array_get(a, 1), "addr4")), "10.86.0.3");
	assert_false(json_is_true(json_object_get(json_array_get(a, 1), "revoked")));
	json_decref(a);
	assert_int_equal(run(f, cox_cmd_devices, "devices", "list", "--user", "x@example.org", NULL), 1);
	assert_non_null(strstr(f->err, "no user x@example.org"));
}

static void revoke_remove_and_user_removal_follow_the_rules(void **state)
{
	struct fixture *f = *state;
	char req[DEVREQ_MAX], req2[DEVREQ_MAX];
	request(req, sizeof(req), 1);
	request(req2, sizeof(req2), 2);
	assert_int_equal(run(f, cox_cmd_users, "users", "add", "a@example.org", NULL), 0);
	assert_int_equal(run(f, cox_cmd_devices, "devices", "add", "a@example.org", "--name", "laptop", "--request", req,
			     NULL),
			 0);
	assert_int_equal(run(f, cox_cmd_devices, "devices", "add", "a@example.org", "--name", "phone", "--request", req2,
			     NULL),
			 0);
	assert_int_equal(run(f, cox_cmd_devices, "devices", "revoke", "laptop", NULL), 0);
	assert_non_null(strstr(f->out, "device a@example.org/laptop (id 1) revoked"));
	assert_int_equal(run(f, cox_cmd_devices, "devices", "revoke", "a@example.org/laptop", NULL), 1);
	assert_non_null(strstr(f->err, "already revoked"));
	assert_int_equal(run(f, cox_cmd_devices, "devices", "list", NULL), 0);
	assert_non_null(strstr(f->out, "revoked"));
	assert_int_equal(run(f, cox_cmd_devices, "devices", "rm", "nosuch", NULL), 1);
	assert_non_null(strstr(f->err, "no device \"nosuch\""));

	assert_int_equal(run(f, cox_cmd_users, "users", "rm", "a@example.org", NULL), 1);
	assert_non_null(strstr(f->err, "still has 2 devices"));
	assert_int_equal(count(f, "users"), 1);
	assert_int_equal(run(f, cox_cmd_devices, "devices", "rm", "2", NULL), 0);
	assert_non_null(strstr(f->out, "a@example.org/phone (id 2) removed"));
	assert_int_equal(run(f, cox_cmd_users, "users", "rm", "a@example.org", "--force", NULL), 0);
	assert_non_null(strstr(f->out, "removed with 1 device"));
	assert_int_equal(count(f, "devices"), 0);
	assert_int_equal(count(f, "users"), 0);
}

static void audit_lists_filters_and_verifies_the_chain(void **state)
{
	struct fixture *f = *state;
	char req[DEVREQ_MAX];
	request(req, sizeof(req), 3);
	assert_int_equal(run(f, cox_cmd_users, "users", "add", "a@example.org", NULL), 0);
	assert_int_equal(run(f, cox_cmd_devices, "devices", "add", "a@example.org", "--name", "d", "--request", req,
			     NULL),
			 0);
	assert_int_equal(run(f, cox_cmd_devices, "devices", "revoke", "d", NULL), 0);

	assert_int_equal(run(f, cox_cmd_audit, "audit", NULL), 0);
	char *add = strstr(f->out, "user.add"), *dev = strstr(f->out, "device.add"), *rev = strstr(f->out, "device.revoke");
	assert_true(add && dev && rev && add < dev && dev < rev);
	assert_non_null(strstr(f->out, "cli:test"));
	assert_int_equal(run(f, cox_cmd_audit, "audit", "--action", "device.*", "--json", NULL), 0);
	json_error_t je;
	json_t *a = json_loads(f->out, 0, &je);
	assert_non_null(a);
	assert_int_equal(json_array_size(a), 2);
	assert_int_equal(json_integer_value(json_object_get(json_array_get(a, 0), "seq")), 2);
	json_decref(a);
	assert_int_equal(run(f, cox_cmd_audit, "audit", "list", "--limit", "1", NULL), 0);
	assert_null(strstr(f->out, "device.add"));
	assert_non_null(strstr(f->out, "device.revoke"));
	assert_int_equal(run(f, cox_cmd_audit, "audit", "--since", "yesterday", NULL), 2);
	assert_non_null(strstr(f->err, "--since \"yesterday\" is not a time"));
	assert_int_equal(run(f, cox_cmd_audit, "audit", "--limit", "0", NULL), 2);
	assert_int_equal(run(f, cox_cmd_audit, "audit", "--since", "1d", "--actor", "cli:nobody", NULL), 0);
	assert_null(strstr(f->out, "user.add"));

	assert_int_equal(run(f, cox_cmd_audit, "audit", "verify", NULL), 0);
	assert_non_null(strstr(f->out, "audit chain intact: 3 rows"));
	sqlite3 *db;
	assert_int_equal(sqlite3_open(f->db, &db), SQLITE_OK);
	assert_int_equal(sqlite3_exec(db, "UPDATE audit SET actor = 'cli:someone-else' WHERE seq = 2", NULL, NULL, NULL),
			 SQLITE_OK);
	sqlite3_close(db);
	assert_int_equal(run(f, cox_cmd_audit, "audit", "verify", NULL), 1);
	assert_non_null(strstr(f->err, "audit chain broken at seq 2 (edited)"));
	assert_int_equal(run(f, cox_cmd_audit, "audit", "verify", "--json", NULL), 1);
	a = json_loads(f->out, 0, &je);
	assert_non_null(a);
	assert_false(json_is_true(json_object_get(a, "intact")));
	assert_int_equal(json_integer_value(json_object_get(a, "seq")), 2);
	json_decref(a);
}

/* Writes text to a file in the state directory; returns its path. */
static const char *write_file(struct fixture *f, const char *name, const char *text)
{
	static char path[COX_PATH_MAX + 64];
	snprintf(path, sizeof(path), "%s/%.60s", f->c.state_dir, name);
	FILE *o = fopen(path, "w");
	assert_non_null(o);
	fputs(text, o);
	fclose(o);
	return path;
}

static void an_import_checks_every_line_first_and_writes_all_or_nothing(void **state)
{
	struct fixture *f = *state;
	char req[4][DEVREQ_MAX], text[4096];
	for (int i = 0; i < 4; i++)
		request(req[i], sizeof(req[i]), (uint8_t)(10 + i));
	assert_int_equal(run(f, cox_cmd_users, "users", "add", "a@example.org", NULL), 0);
	int64_t audit = count(f, "audit");

	/* Bad lines are all named, with their numbers; nothing is written. */
	snprintf(text, sizeof(text),
		 "# devices of the lab\n"
		 "a@example.org laptop %s\n"
		 "\n"
		 "not-an-email phone %s\n"
		 "a@example.org bad/name %s\n"
		 "a@example.org tablet pharos-device-1:garbage\n"
		 "a@example.org only-two-fields\n"
		 "a@example.org laptop %s\n"
		 "a@example.org watch %s\n",
		 req[0], req[1], req[2], req[3], req[0]);
	const char *bad = write_file(f, "bad.txt", text);
	assert_int_equal(run(f, cox_cmd_devices, "devices", "import", bad, NULL), 2);
	assert_non_null(strstr(f->err, "line 4: \"not-an-email\" is not an e-mail address"));
	assert_non_null(strstr(f->err, "line 5: device name \"bad/name\" is not valid"));
	assert_non_null(strstr(f->err, "line 6: not a device request"));
	assert_non_null(strstr(f->err, "line 7: 2 fields; expected EMAIL NAME REQUEST"));
	assert_non_null(strstr(f->err, "line 8: a@example.org/laptop is on line 2 already"));
	assert_non_null(strstr(f->err, "line 9: the same device request (AmneziaWG key) as line 2"));
	assert_non_null(strstr(f->err, "6 bad lines; nothing was imported"));
	/* Duplicates inside the file are found once the lines parse. */
	snprintf(text, sizeof(text), "a@example.org laptop %s\nA@example.org laptop %s\nb@example.org x %s\n", req[0],
		 req[1], req[0]);
	assert_int_equal(run(f, cox_cmd_devices, "devices", "import", write_file(f, "dup.txt", text), NULL), 2);
	assert_non_null(strstr(f->err, "line 2: a@example.org/laptop is on line 1 already"));
	assert_non_null(strstr(f->err, "line 3: the same device request (AmneziaWG key) as line 1"));
	assert_int_equal(count(f, "devices"), 0);

	/* Unknown users are refused unless asked to create them. */
	snprintf(text, sizeof(text), "a@example.org laptop %s\nnew@example.org phone %s\n", req[0], req[1]);
	const char *good = write_file(f, "good.txt", text);
	assert_int_equal(run(f, cox_cmd_devices, "devices", "import", good, NULL), 1);
	assert_non_null(strstr(f->err, "line 2: no user new@example.org"));
	assert_non_null(strstr(f->err, "1 line refused; nothing was imported"));
	assert_int_equal(count(f, "devices"), 0);
	assert_int_equal(count(f, "users"), 1);
	assert_int_equal(count(f, "audit"), audit);
	assert_int_equal(run(f, cox_cmd_devices, "devices", "import", good, "--create-users", NULL), 0);
	assert_non_null(strstr(f->out, "imported 2 devices (10.86.0.2 .. 10.86.0.3), 1 new user"));
	assert_int_equal(count(f, "devices"), 2);
	assert_int_equal(count(f, "users"), 2);
	/* One audit row per device and per user created. */
	assert_int_equal(count(f, "audit"), audit + 3);

	/* A clash with what is stored names the line and rolls everything back. */
	snprintf(text, sizeof(text), "a@example.org watch %s\na@example.org laptop %s\nnew@example.org phone2 %s\n", req[2],
		 req[3], req[1]);
	assert_int_equal(run(f, cox_cmd_devices, "devices", "import", write_file(f, "clash.txt", text), NULL), 1);
	assert_non_null(strstr(f->err, "line 2: user a@example.org already has a device named laptop (id 1)"));
	assert_non_null(strstr(f->err, "line 3: a device with this AmneziaWG public key is already registered"));
	assert_int_equal(count(f, "devices"), 2);
	assert_int_equal(count(f, "audit"), audit + 3);
	assert_int_equal(run(f, cox_cmd_audit, "audit", "verify", NULL), 0);

	/* Lines too long or holding a NUL byte are refused, not cut. */
	char big[1200];
	memset(big, 'a', sizeof(big) - 1);
	big[sizeof(big) - 1] = 0;
	snprintf(text, sizeof(text), "a@example.org x %s\n", big);
	const char *odd = write_file(f, "odd.txt", text);
	FILE *o = fopen(odd, "a");
	assert_non_null(o);
	fwrite("a@example.org y \0 z\n", 1, 21, o);
	fclose(o);
	assert_int_equal(run(f, cox_cmd_devices, "devices", "import", odd, NULL), 2);
	assert_non_null(strstr(f->err, "line 1: longer than 1024 bytes"));
	assert_non_null(strstr(f->err, "line 2: holds a NUL byte"));
	/* NAME - takes the name the request suggests. */
	struct devreq named = { .name = "tab1" };
	memset(named.awg_public, 0x77, sizeof(named.awg_public));
	memset(named.enc_public, 0x78, sizeof(named.enc_public));
	char nreq[DEVREQ_MAX];
	assert_true(devreq_format(&named, nreq, sizeof(nreq)) > 0);
	snprintf(text, sizeof(text), "a@example.org - %s\n", nreq);
	assert_int_equal(run(f, cox_cmd_devices, "devices", "import", write_file(f, "named.txt", text), NULL), 0);
	assert_non_null(strstr(f->out, "imported 1 device (10.86.0.4 .. 10.86.0.4)"));
	struct store *st;
	struct store_device d;
	assert_int_equal(cox_store(&f->c, &st), 0);
	assert_int_equal(store_device_find(st, "a@example.org/tab1", &d), 0);

	/* Usage: the file is required, the help lists every option. */
	assert_int_equal(run(f, cox_cmd_devices, "devices", "import", NULL), 2);
	assert_non_null(strstr(f->err, "missing FILE"));
	assert_int_equal(run(f, cox_cmd_devices, "devices", "import", good, "--create-user", NULL), 2);
	assert_non_null(strstr(f->err, "unknown option `--create-user'"));
	assert_int_equal(run(f, cox_cmd_devices, "devices", "import", "/nonexistent/file", NULL), 1);
	assert_non_null(strstr(f->err, "cannot open /nonexistent/file"));
	assert_int_equal(run(f, cox_cmd_devices, "devices", "import", "--help", NULL), 0);
	assert_non_null(strstr(f->out, "Usage: cox devices import FILE|- [--create-users]"));
}

static void nodes_add_checks_install_settings_before_connecting(void **state)
{
	struct fixture *f = *state;
	/* No SSH key and no host: each is refused by its option alone. */
	assert_int_equal(run(f, cox_cmd_nodes, "nodes", "add", "root@192.0.2.1", "--service-name", "Pharos_1", NULL), 2);
	assert_non_null(strstr(f->err, "service name \"Pharos_1\": expected 1-64 of a-z 0-9 -"));
	assert_int_equal(run(f, cox_cmd_nodes, "nodes", "add", "root@192.0.2.1", "--config-dir", "etc/pharos", NULL), 2);
	assert_non_null(strstr(f->err, "config dir \"etc/pharos\": expected an absolute path"));
	assert_int_equal(run(f, cox_cmd_nodes, "nodes", "add", "root@192.0.2.1", "--interface", "awg-too-long-name", NULL),
			 2);
	assert_non_null(strstr(f->err, "interface \"awg-too-long-name\": expected 1-15"));
	assert_int_equal(run(f, cox_cmd_nodes, "nodes", "add", "--help", NULL), 0);
	assert_non_null(strstr(f->out, "[--service-name NAME] [--config-dir DIR] [--interface IF]"));
}

static void times_are_read_in_every_documented_form(void **state)
{
	int64_t t;
	const int64_t now = 1764000000;
	assert_int_equal(cox_time_parse("1700000000", now, &t), 0);
	assert_int_equal(t, 1700000000);
	assert_int_equal(cox_time_parse("90s", now, &t), 0);
	assert_int_equal(t, now - 90);
	assert_int_equal(cox_time_parse("15m", now, &t), 0);
	assert_int_equal(t, now - 900);
	assert_int_equal(cox_time_parse("2h", now, &t), 0);
	assert_int_equal(t, now - 7200);
	assert_int_equal(cox_time_parse("7d", now, &t), 0);
	assert_int_equal(t, now - 7 * 86400);
	assert_int_equal(cox_time_parse("2026-11-26", now, &t), 0);
	assert_int_equal(t, 1795651200);
	assert_int_equal(cox_time_parse("2026-11-26T08:30", now, &t), 0);
	assert_int_equal(t, 1795651200 + 8 * 3600 + 1800);
	assert_int_equal(cox_time_parse("2026-11-26T08:30:15Z", now, &t), 0);
	assert_int_equal(t, 1795651200 + 8 * 3600 + 1815);
	assert_int_equal(cox_time_parse("2026-11-26 08:30:15", now, &t), 0);
	assert_int_equal(t, 1795651200 + 8 * 3600 + 1815);
	static const char *const bad[] = { "", "d", "7x", "-5d", "2026-11-26T", "2026-11-26Tfoo", "yesterday", "1.5h" };
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(cox_time_parse(bad[i], now, &t), -EINVAL);
	char buf[COX_TIME_LEN];
	assert_string_equal(cox_time_format(1795651200 + 8 * 3600 + 1815, buf), "2026-11-26T08:30:15Z");
	assert_string_equal(cox_time_format(0, buf), "-");

	char *out = NULL;
	size_t len = 0;
	FILE *m = open_memstream(&out, &len);
	assert_non_null(m);
	cox_print_text(m, "a\x1b[2Jb\n\xc3\xa9");
	fclose(m);
	assert_string_equal(out, "a\\x1b[2Jb\\x0a\xc3\xa9");
	free(out);
}

int main(void)
{
	if (sodium_init() < 0)
		return 1;
	const struct CMUnitTest tests[] = {
#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)
		T(users_are_added_listed_and_refused_with_reasons),
		T(devices_get_addresses_and_bad_requests_write_nothing),
		T(revoke_remove_and_user_removal_follow_the_rules),
		T(audit_lists_filters_and_verifies_the_chain),
		T(an_import_checks_every_line_first_and_writes_all_or_nothing),
		T(nodes_add_checks_install_settings_before_connecting),
#undef T
		cmocka_unit_test(times_are_read_in_every_documented_form),
	};
	return run_group(tests);
}
