#include "support.h"

#include <string.h>

#include "lib/rng.h"

static void consecutive_outputs_differ_and_cross_block_boundaries(void **state)
{
	uint8_t a[10000], b[10000];
	rng_bytes(a, sizeof(a));
	rng_bytes(b, sizeof(b));
	assert_memory_not_equal(a, b, sizeof(a));
	/* No long runs of one value (a broken refill would leave zeros). */
	size_t zeros = 0;
	for (size_t i = 0; i < sizeof(a); i++)
		zeros += a[i] == 0;
	assert_in_range(zeros, 10, 90);
}

static void uniform_values_stay_below_the_bound_and_cover_it(void **state)
{
	unsigned seen[7] = { 0 };
	for (int i = 0; i < 70000; i++) {
		uint32_t v = rng_uniform(7);
		assert_true(v < 7);
		seen[v]++;
	}
	for (int i = 0; i < 7; i++)
		assert_in_range(seen[i], 9000, 11000);
	assert_int_equal(rng_uniform(1), 0);
	assert_int_equal(rng_uniform(0), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(consecutive_outputs_differ_and_cross_block_boundaries),
		cmocka_unit_test(uniform_values_stay_below_the_bound_and_cover_it),
	};
	return run_group(tests);
}
