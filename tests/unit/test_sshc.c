#include "support.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "lib/buf.h"
#include "lib/mem.h"
#include "sshc/sshc.h"

/* Runs sh text, returns its stdout (static buffer) and exit status. */
static int run_sh(const char *script, char *out, size_t cap)
{
	char path[] = "/tmp/test_sshc_XXXXXX";
	int fd = mkstemp(path);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, script, strlen(script)), (ssize_t)strlen(script));
	close(fd);
	char cmd[128];
	snprintf(cmd, sizeof(cmd), "/bin/sh %s", path);
	FILE *p = popen(cmd, "r");
	assert_non_null(p);
	size_t n = fread(out, 1, cap - 1, p);
	out[n] = '\0';
	int st = pclose(p);
	unlink(path);
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static void quoted_words_reach_the_shell_unchanged(void **state)
{
	static const char *const words[] = {
		"plain", "", "it's", "''", "a b\tc", "$(reboot)", "`id`", "\"; rm -rf /; \"", "back\\slash",
		"new\nline", "*", "-n", "%s%n", "'\\''",
	};
	for (size_t i = 0; i < sizeof(words) / sizeof(words[0]); i++) {
		struct buf b;
		char out[256];
		buf_init(&b, 4096);
		assert_int_equal(buf_printf(&b, "printf '%%s' "), 0);
		assert_int_equal(sshc_quote_append(&b, words[i]), 0);
		assert_int_equal(run_sh((const char *)b.data, out, sizeof(out)), 0);
		assert_string_equal(out, words[i]);
		buf_fini(&b);
	}
}

static void an_argv_is_quoted_word_by_word(void **state)
{
	const char *argv[] = { "printf", "%s|%s|%s", "one two", "it's", "" };
	struct buf b;
	char out[256];
	buf_init(&b, 4096);
	assert_int_equal(sshc_quote_argv(&b, argv, 5), 0);
	assert_string_equal((const char *)b.data, "'printf' '%s|%s|%s' 'one two' 'it'\\''s' ''");
	assert_int_equal(run_sh((const char *)b.data, out, sizeof(out)), 0);
	assert_string_equal(out, "one two|it's|");
	buf_fini(&b);
}

static void quoting_respects_the_buffer_cap(void **state)
{
	struct buf b;
	buf_init(&b, 6);
	assert_int_equal(sshc_quote_append(&b, "abcdefgh"), ERR_TOOBIG);
	buf_fini(&b);
}

static void fingerprints_are_sha256_and_unpadded_base64_as_ssh_keygen_prints_them(void **state)
{
	uint8_t abc[32], zero[32] = { 0 };
	char fp[SSHC_FP_SIZE];
	/* SHA-256("abc") from FIPS 180-2. */
	support_unhex("ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad", abc, 32);
	sshc_fingerprint_format(abc, fp);
	assert_string_equal(fp, "SHA256:ungWv48Bz+pBQUDeXa4iI7ADYaOWF3qctBD/YfIAFa0");
	assert_true(sshc_fingerprint_valid(fp));
	sshc_fingerprint_format(zero, fp);
	assert_string_equal(fp, "SHA256:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA");
}

static void malformed_fingerprints_are_rejected(void **state)
{
	assert_false(sshc_fingerprint_valid(""));
	assert_false(sshc_fingerprint_valid("SHA256:"));
	assert_false(sshc_fingerprint_valid("ungWv48Bz+pBQUDeXa4iI7ADYaOWF3qctBD/YfIAFa0"));
	assert_false(sshc_fingerprint_valid("MD5:ungWv48Bz+pBQUDeXa4iI7ADYaOWF3qctBD/YfIAFa0"));
	assert_false(sshc_fingerprint_valid("SHA256:ungWv48Bz+pBQUDeXa4iI7ADYaOWF3qctBD/YfIAFa0="));
	assert_false(sshc_fingerprint_valid("SHA256:ungWv48Bz+pBQUDeXa4iI7ADYaOWF3qctBD/YfIAFa"));
	assert_false(sshc_fingerprint_valid("SHA256:ungWv48Bz+pBQUDeXa4iI7ADYaOWF3qctBD/YfIAF!0"));
	/* Non-zero unused bits in the last character: not the canonical spelling. */
	assert_false(sshc_fingerprint_valid("SHA256:ungWv48Bz+pBQUDeXa4iI7ADYaOWF3qctBD/YfIAFa1"));
}

static void a_saved_key_is_0600_and_loads_back_to_the_same_public_key(void **state)
{
	char dir[] = "/tmp/test_sshc_key_XXXXXX", path[128];
	struct sshc_key *k = NULL, *k2 = NULL;
	char *l1 = NULL, *l2 = NULL, *l3 = NULL;
	struct stat st;
	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/id_ed25519", dir);
	assert_int_equal(sshc_key_generate(&k), 0);
	assert_int_equal(sshc_key_save(k, path), 0);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	assert_int_equal(sshc_key_load(path, &k2), 0);
	assert_int_equal(sshc_key_authorized_line(k, "c@x", &l1), 0);
	assert_int_equal(sshc_key_authorized_line(k2, "c@x", &l2), 0);
	assert_string_equal(l1, l2);
	assert_int_equal(strncmp(l1, "ssh-ed25519 AAAA", 16), 0);
	assert_int_equal(sshc_key_authorized_line(k, NULL, &l3), 0);
	assert_non_null(strstr(l3, " pharos-cox@"));
	mem_free(l1);
	mem_free(l2);
	mem_free(l3);
	assert_int_equal(sshc_key_authorized_line(k, "two\nlines", &l1), -EINVAL);
	assert_null(l1);
	sshc_key_free(k);
	sshc_key_free(k2);
	unlink(path);
	/* Not a key at all. */
	FILE *f = fopen(path, "w");
	assert_non_null(f);
	fputs("-----BEGIN OPENSSH PRIVATE KEY-----\ngarbage\n-----END OPENSSH PRIVATE KEY-----\n", f);
	fclose(f);
	assert_int_equal(sshc_key_load(path, &k2), ERR_PARSE);
	assert_null(k2);
	unlink(path);
	assert_int_equal(sshc_key_load(path, &k2), -ENOENT);
	rmdir(dir);
}

static void two_generated_keys_differ(void **state)
{
	struct sshc_key *a = NULL, *b = NULL;
	char *la = NULL, *lb = NULL;
	assert_int_equal(sshc_key_generate(&a), 0);
	assert_int_equal(sshc_key_generate(&b), 0);
	assert_int_equal(sshc_key_authorized_line(a, "x", &la), 0);
	assert_int_equal(sshc_key_authorized_line(b, "x", &lb), 0);
	assert_string_not_equal(la, lb);
	mem_free(la);
	mem_free(lb);
	sshc_key_free(a);
	sshc_key_free(b);
}

static void an_empty_node_config_takes_the_defaults(void **state)
{
	struct sshc_node_cfg in = { 0 }, c;
	char err[300];
	assert_int_equal(sshc_node_cfg_check(&in, &c, err, sizeof(err)), 0);
	assert_string_equal(c.binary_path, "/usr/local/bin/pharos-node");
	assert_string_equal(c.config_dir, "/etc/pharos/node");
	assert_string_equal(c.run_dir, "/run/pharos");
	assert_string_equal(c.service_name, "pharos-node");
	assert_int_equal(c.restart_max_s, 30);
	assert_int_equal(c.service, SSHC_SERVICE_AUTO);
}

static void bad_node_config_fields_are_named_and_quoted(void **state)
{
	static const struct {
		struct sshc_node_cfg cfg;
		const char *expect;
	} cases[] = {
		{ { .binary_path = "usr/bin/pharos-node" }, "binary path \"usr/bin/pharos-node\"" },
		{ { .config_dir = "/etc/../root" }, "config dir \"/etc/../root\"" },
		{ { .config_dir = "/etc/pharos/" }, "config dir \"/etc/pharos/\"" },
		{ { .run_dir = "/run/a b" }, "run dir \"/run/a b\"" },
		{ { .log_dir = "/var//log" }, "log dir" },
		{ { .binary_path = "/usr/bin/$(id)" }, "binary path" },
		{ { .service_name = "Pharos" }, "service name \"Pharos\"" },
		{ { .interface = "a-very-long-ifname" }, "interface \"a-very-long-ifname\"" },
		{ { .control_listen = "8444" }, "control listen address \"8444\"" },
		{ { .control_listen = "[::]:8444;reboot" }, "control listen" },
		{ { .port = 600, .port_hi = 500 }, "ports 600-500" },
		{ { .port = 1, .port_hi = 2000 }, "at most 1024" },
		{ { .node_name = "a b" }, "node name \"a b\"" },
		{ { .extra_args = { "--route", "10.0.0.0/8;reboot" }, .n_extra = 2 }, "extra argument \"10.0.0.0/8;reboot\"" },
		{ { .extra_args = { "$HOME" }, .n_extra = 1 }, "extra argument \"$HOME\"" },
		{ { .extra_args = { "%i" }, .n_extra = 1 }, "extra argument" },
		{ { .n_extra = SSHC_NODE_EXTRA_MAX + 1 }, "at most 16" },
		{ { .restart_max_s = 4000 }, "restart backoff" },
		{ { .service = SSHC_SERVICE_NONE }, "service kind" },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct sshc_node_cfg out;
		char err[300];
		assert_int_equal(sshc_node_cfg_check(&cases[i].cfg, &out, err, sizeof(err)), -EINVAL);
		if (!strstr(err, cases[i].expect))
			fail_msg("case %zu: \"%s\" does not mention \"%s\"", i, err, cases[i].expect);
	}
}

static void the_run_arguments_follow_the_config(void **state)
{
	struct sshc_node_cfg in = { .control_listen = "198.51.100.10:8444", .interface = "awg1", .port = 51820,
		                    .extra_args = { "--obfuscation", "off" }, .n_extra = 2 },
			     c;
	const char *argv[SSHC_NODE_ARGV_MAX];
	char ports[16];
	assert_int_equal(sshc_node_cfg_check(&in, &c, NULL, 0), 0);
	size_t n = sshc_node_argv(&c, ports, argv);
	const char *want[] = { "/usr/local/bin/pharos-node", "run", "--config-dir", "/etc/pharos/node",
		               "--control-listen", "198.51.100.10:8444", "--interface", "awg1", "--port", "51820",
		               "--obfuscation", "off" };
	assert_int_equal(n, sizeof(want) / sizeof(want[0]));
	for (size_t i = 0; i < n; i++)
		assert_string_equal(argv[i], want[i]);
	c.port_hi = 51829;
	n = sshc_node_argv(&c, ports, argv);
	assert_string_equal(argv[8], "--ports");
	assert_string_equal(argv[9], "51820-51829");
	struct sshc_node_cfg bare = { 0 };
	assert_int_equal(sshc_node_cfg_check(&bare, &c, NULL, 0), 0);
	assert_int_equal(sshc_node_argv(&c, ports, argv), 4);
}

static void the_systemd_unit_runs_the_agent_and_restarts_it(void **state)
{
	struct sshc_node_cfg in = { .control_listen = "[::]:8444", .port = 443 }, c;
	struct buf b;
	buf_init(&b, 1 << 16);
	assert_int_equal(sshc_node_cfg_check(&in, &c, NULL, 0), 0);
	assert_int_equal(sshc_node_render_unit(&c, &b), 0);
	const char *t = (const char *)b.data;
	assert_non_null(strstr(t, "\n[Unit]\n"));
	assert_non_null(strstr(t, "\n[Service]\nExecStart=/usr/local/bin/pharos-node run --config-dir /etc/pharos/node "
				  "--control-listen [::]:8444 --port 443\n"));
	assert_non_null(strstr(t, "\nRestart=always\n"));
	assert_non_null(strstr(t, "\n[Install]\nWantedBy=multi-user.target\n"));
	buf_fini(&b);
}

static void the_supervisor_is_valid_sh_with_the_quoted_command(void **state)
{
	struct sshc_node_cfg in = { .binary_path = "/opt/pharos/bin/pharos-node", .service_name = "pn2",
		                    .port = 51820, .restart_max_s = 8 },
			     c;
	struct buf b, check;
	char out[64];
	buf_init(&b, 1 << 16);
	buf_init(&check, 1 << 17);
	assert_int_equal(sshc_node_cfg_check(&in, &c, NULL, 0), 0);
	assert_int_equal(sshc_node_render_supervisor(&c, &b), 0);
	const char *t = (const char *)b.data;
	assert_int_equal(strncmp(t, "#!/bin/sh\n", 10), 0);
	assert_non_null(strstr(t, "\nstart_agent() {\n\texec '/opt/pharos/bin/pharos-node' 'run' '--config-dir' "
				  "'/etc/pharos/node' '--port' '51820'\n}\n"));
	assert_non_null(strstr(t, "\nPIDFILE='/run/pharos/pn2.pid'\n"));
	assert_non_null(strstr(t, "\nCHILDFILE='/run/pharos/pn2.child.pid'\n"));
	assert_non_null(strstr(t, "\nSUP='/opt/pharos/bin/pn2-supervise'\n"));
	assert_non_null(strstr(t, "\nMAXBACKOFF=8\n"));
	/* sh -n parses without running anything. */
	assert_int_equal(buf_printf(&check, "sh -n <<'EOF_SUPERVISOR'\n%s\nEOF_SUPERVISOR\necho parsed\n", t), 0);
	assert_int_equal(run_sh((const char *)check.data, out, sizeof(out)), 0);
	assert_string_equal(out, "parsed\n");
	buf_fini(&b);
	buf_fini(&check);
}

static int render_both(void *ctx)
{
	struct sshc_node_cfg c;
	struct buf b;
	int rc = sshc_node_cfg_check(ctx, &c, NULL, 0);
	buf_init(&b, 1 << 16);
	if (!rc)
		rc = sshc_node_render_unit(&c, &b);
	if (!rc)
		rc = sshc_node_render_supervisor(&c, &b);
	buf_fini(&b);
	return rc;
}

static void rendering_unwinds_from_every_allocation_failure(void **state)
{
	struct sshc_node_cfg in = { .port = 1000, .port_hi = 1010 };
	assert_true(support_alloc_failure_loop(render_both, &in) >= 1);
}

static void a_session_refuses_bad_targets_before_touching_the_network(void **state)
{
	struct sshc *s = NULL;
	struct sshc_key *k = NULL;
	assert_int_equal(sshc_new(&s), 0);
	assert_int_equal(sshc_key_generate(&k), 0);
	struct sshc_target t = { .host = "node;reboot", .user = "root" };
	assert_int_equal(sshc_connect(s, &t, k), -EINVAL);
	assert_non_null(strstr(sshc_error(s), "\"node;reboot\""));
	t.host = "198.51.100.10";
	t.user = "-oProxyCommand=x";
	assert_int_equal(sshc_connect(s, &t, k), -EINVAL);
	assert_non_null(strstr(sshc_error(s), "invalid user"));
	t.user = "root";
	t.pinned_fp = "SHA256:short";
	assert_int_equal(sshc_connect(s, &t, k), -EINVAL);
	assert_non_null(strstr(sshc_error(s), "pinned fingerprint \"SHA256:short\""));
	struct sshc_result r;
	assert_int_equal(sshc_exec(s, "true", NULL, 0, 0, 0, &r), -ENOTCONN);
	sshc_result_fini(&r);
	assert_string_equal(sshc_host_fingerprint(s), "");
	sshc_key_free(k);
	sshc_free(s);
	sshc_free(NULL);
	sshc_key_free(NULL);
}

struct seen {
	int calls;
	char step[64], msg[300];
	bool ok;
};

static void record(void *arg, const char *step, bool ok, const char *msg)
{
	struct seen *s = arg;
	s->calls++;
	s->ok = ok;
	snprintf(s->step, sizeof(s->step), "%s", step);
	snprintf(s->msg, sizeof(s->msg), "%s", msg);
}

static void a_bad_node_config_is_reported_through_the_callback_and_the_session(void **state)
{
	struct sshc *s = NULL;
	struct sshc_node n;
	struct seen seen = { 0 };
	struct sshc_node_cfg cfg = { .interface = "awg0;reboot" };
	assert_int_equal(sshc_new(&s), 0);
	assert_int_equal(sshc_node_init(&n, s, &cfg, record, &seen), -EINVAL);
	assert_int_equal(seen.calls, 1);
	assert_false(seen.ok);
	assert_string_equal(seen.step, "configuration");
	assert_non_null(strstr(seen.msg, "\"awg0;reboot\""));
	assert_non_null(strstr(sshc_error(s), "configuration: interface \"awg0;reboot\""));
	/* A step before preflight has nothing resolved and no connection. */
	cfg.interface = NULL;
	assert_int_equal(sshc_node_init(&n, s, &cfg, record, &seen), 0);
	assert_int_equal(sshc_node_install_service(&n), ERR_BADSTATE);
	assert_non_null(strstr(sshc_error(s), "run preflight first"));
	sshc_free(s);
}

int main(void)
{
	const struct CMUnitTest group[] = {
		cmocka_unit_test(quoted_words_reach_the_shell_unchanged),
		cmocka_unit_test(an_argv_is_quoted_word_by_word),
		cmocka_unit_test(quoting_respects_the_buffer_cap),
		cmocka_unit_test(fingerprints_are_sha256_and_unpadded_base64_as_ssh_keygen_prints_them),
		cmocka_unit_test(malformed_fingerprints_are_rejected),
		cmocka_unit_test(a_saved_key_is_0600_and_loads_back_to_the_same_public_key),
		cmocka_unit_test(two_generated_keys_differ),
		cmocka_unit_test(an_empty_node_config_takes_the_defaults),
		cmocka_unit_test(bad_node_config_fields_are_named_and_quoted),
		cmocka_unit_test(the_run_arguments_follow_the_config),
		cmocka_unit_test(the_systemd_unit_runs_the_agent_and_restarts_it),
		cmocka_unit_test(the_supervisor_is_valid_sh_with_the_quoted_command),
		cmocka_unit_test(rendering_unwinds_from_every_allocation_failure),
		cmocka_unit_test(a_session_refuses_bad_targets_before_touching_the_network),
		cmocka_unit_test(a_bad_node_config_is_reported_through_the_callback_and_the_session),
	};
	return run_group(group);
}
