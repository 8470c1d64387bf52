#include "support.h"

#include <errno.h>
#include <string.h>

#include "lib/err.h"
#include "lib/mem.h"

static void every_project_error_code_has_a_name(void **state)
{
	for (int e = ERR_PARSE; e > ERR_LAST; e--)
		assert_string_not_equal(err_str(e), "unknown error");
}

static void errno_codes_are_named_by_strerror(void **state)
{
	assert_string_equal(err_str(-EINVAL), strerror(EINVAL));
	assert_string_equal(err_str(0), "success");
	assert_string_equal(err_str(ERR_LAST), "unknown error");
	assert_string_equal(err_str(12345), "unknown error");
}

static int dup_two(void *ctx)
{
	char *a = mem_strdup("alpha");
	if (!a)
		return -ENOMEM;
	char *b = mem_strdup("beta");
	if (!b) {
		mem_free(a);
		return -ENOMEM;
	}
	mem_free(a);
	mem_free(b);
	return 0;
}

static void the_allocation_failure_loop_visits_every_allocation(void **state)
{
	assert_int_equal(support_alloc_failure_loop(dup_two, NULL), 2);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(every_project_error_code_has_a_name),
		cmocka_unit_test(errno_codes_are_named_by_strerror),
		cmocka_unit_test(the_allocation_failure_loop_visits_every_allocation),
	};
	return run_group(tests);
}
