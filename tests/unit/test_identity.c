#include "support.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "awg/obf.h"
#include "node/identity.h"

static char dir[64];

static int setup(void **state)
{
	strcpy(dir, "/tmp/pharos-identity-XXXXXX");
	return mkdtemp(dir) ? 0 : -1;
}

static int teardown(void **state)
{
	char cmd[128];
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	return system(cmd);
}

static void generated_sets_follow_the_reference_ranges_and_validate(void **state)
{
	char err[256];
	for (int i = 0; i < 500; i++) {
		struct obf_params p;
		obf_params_init(&p);
		assert_int_equal(node_identity_generate_obf(&p), 0);
		assert_int_equal(obf_params_validate(&p, err, sizeof(err)), 0);
		assert_in_range(p.jc, 3, 10);
		assert_in_range(p.jmin, 25, 75);
		assert_in_range(p.jmax - p.jmin, 700, 900);
		assert_in_range(p.s[3], 15, 48);
		for (int k = 0; k < 4; k++) {
			assert_int_equal(p.h[k].lo, p.h[k].hi);
			assert_true(p.h[k].lo >= 5);
		}
		obf_params_fini(&p);
	}
}

static void the_first_run_creates_0600_files_and_later_runs_load_the_same(void **state)
{
	struct node_identity a, b;
	bool created;
	char path[128];
	struct stat st;
	assert_int_equal(node_identity_load_or_create(dir, &a, &created), 0);
	assert_true(created);
	snprintf(path, sizeof(path), "%s/awg.key", dir);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	snprintf(path, sizeof(path), "%s/awg-obf.conf", dir);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	assert_int_equal(node_identity_load_or_create(dir, &b, &created), 0);
	assert_false(created);
	assert_memory_equal(a.awg_public, b.awg_public, 32);
	assert_memory_equal(a.obf.s, b.obf.s, sizeof(a.obf.s));
	assert_memory_equal(a.obf.h, b.obf.h, sizeof(a.obf.h));
	node_identity_fini(&a);
	node_identity_fini(&b);
}

static void a_corrupt_key_file_is_an_error_not_replaced(void **state)
{
	struct node_identity a;
	bool created;
	char path[128];
	snprintf(path, sizeof(path), "%s/awg.key", dir);
	FILE *f = fopen(path, "w");
	fputs("not a key\n", f);
	fclose(f);
	assert_true(node_identity_load_or_create(dir, &a, &created) < 0);
	f = fopen(path, "r");
	char buf[32] = "";
	assert_non_null(fgets(buf, sizeof(buf), f));
	fclose(f);
	assert_string_equal(buf, "not a key\n");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(generated_sets_follow_the_reference_ranges_and_validate),
		cmocka_unit_test_setup_teardown(the_first_run_creates_0600_files_and_later_runs_load_the_same, setup, teardown),
		cmocka_unit_test_setup_teardown(a_corrupt_key_file_is_an_error_not_replaced, setup, teardown),
	};
	return run_group(tests);
}
