#include "support.h"

#include <sys/socket.h>

#include "awg/ratelimit.h"

#define MS 1000000ULL

static void a_source_gets_its_burst_then_twenty_per_second(void **state)
{
	struct ratelimit *r;
	uint8_t a[4] = { 203, 0, 113, 7 };
	assert_int_equal(ratelimit_new(&r), 0);
	uint64_t t = 1000 * MS;
	for (int i = 0; i < RATELIMIT_BURST; i++)
		assert_true(ratelimit_allow(r, AF_INET, a, t));
	assert_false(ratelimit_allow(r, AF_INET, a, t));
	/* 50 ms buys exactly one more. */
	assert_true(ratelimit_allow(r, AF_INET, a, t + 50 * MS));
	assert_false(ratelimit_allow(r, AF_INET, a, t + 50 * MS));
	/* Over one second of steady sending at 100/s, about 20 pass. */
	int passed = 0;
	for (int i = 1; i <= 100; i++)
		passed += ratelimit_allow(r, AF_INET, a, t + 50 * MS + (uint64_t)i * 10 * MS);
	assert_in_range(passed, 19, 21);
	ratelimit_free(r);
}

static void sources_are_limited_separately_and_ipv6_by_its_64(void **state)
{
	struct ratelimit *r;
	uint8_t a[4] = { 198, 51, 100, 1 }, b[4] = { 198, 51, 100, 2 };
	uint8_t v6a[16] = { 0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 1 };
	uint8_t v6b[16] = { 0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 1, 9, 9, 9, 9, 9, 9, 9, 9 };
	assert_int_equal(ratelimit_new(&r), 0);
	for (int i = 0; i < RATELIMIT_BURST; i++)
		assert_true(ratelimit_allow(r, AF_INET, a, MS));
	assert_false(ratelimit_allow(r, AF_INET, a, MS));
	assert_true(ratelimit_allow(r, AF_INET, b, MS));
	for (int i = 0; i < RATELIMIT_BURST; i++)
		assert_true(ratelimit_allow(r, AF_INET6, v6a, MS));
	assert_false(ratelimit_allow(r, AF_INET6, v6b, MS)); /* same /64 */
	ratelimit_free(r);
}

static void a_table_flooded_with_sources_stays_bounded_and_keeps_working(void **state)
{
	struct ratelimit *r;
	assert_int_equal(ratelimit_new(&r), 0);
	for (uint32_t i = 0; i < 100000; i++) {
		uint8_t a[4] = { 10, (uint8_t)(i >> 16), (uint8_t)(i >> 8), (uint8_t)i };
		assert_true(ratelimit_allow(r, AF_INET, a, MS + i));
	}
	uint8_t a[4] = { 192, 0, 2, 1 };
	assert_true(ratelimit_allow(r, AF_INET, a, 2000 * MS));
	ratelimit_free(r);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(a_source_gets_its_burst_then_twenty_per_second),
		cmocka_unit_test(sources_are_limited_separately_and_ipv6_by_its_64),
		cmocka_unit_test(a_table_flooded_with_sources_stays_bounded_and_keeps_working),
	};
	return run_group(tests);
}
