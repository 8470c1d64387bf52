#include "support.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "lib/buf.h"
#include "lib/err.h"

static void a_new_buffer_allocates_nothing_until_used(void **state)
{
	struct buf b;

	buf_init(&b, 100);
	assert_null(b.data);
	assert_int_equal(b.len, 0);
	assert_int_equal(b.max, 100);
	buf_fini(&b);
	assert_null(b.data);
}

static void appended_bytes_are_kept_in_order_and_nul_terminated(void **state)
{
	struct buf b;

	buf_init(&b, 1000);
	assert_int_equal(buf_append(&b, "hello", 5), 0);
	assert_int_equal(buf_append(&b, ", ", 2), 0);
	assert_int_equal(buf_append(&b, NULL, 0), 0);
	assert_int_equal(buf_append(&b, "world", 5), 0);
	assert_int_equal(b.len, 12);
	assert_string_equal((char *)b.data, "hello, world");
	buf_fini(&b);
}

static void growth_keeps_every_byte_across_many_appends(void **state)
{
	struct buf b;
	uint8_t byte;

	buf_init(&b, 10000);
	for (int i = 0; i < 10000; i++) {
		byte = (uint8_t)(i * 7);
		assert_int_equal(buf_append(&b, &byte, 1), 0);
	}
	assert_int_equal(b.len, 10000);
	assert_true(b.cap <= b.max);
	for (int i = 0; i < 10000; i++)
		assert_int_equal(b.data[i], (uint8_t)(i * 7));
	assert_int_equal(b.data[b.len], 0);
	buf_fini(&b);
}

static void a_buffer_fills_exactly_to_its_cap_and_no_further(void **state)
{
	struct buf b;

	buf_init(&b, 10);
	assert_int_equal(buf_append(&b, "0123456", 7), 0);
	assert_int_equal(buf_append(&b, "789", 3), 0);
	assert_int_equal(b.len, 10);
	assert_int_equal(b.cap, 10);
	assert_int_equal(buf_append(&b, "x", 1), ERR_TOOBIG);
	assert_int_equal(b.len, 10);
	assert_string_equal((char *)b.data, "0123456789");
	buf_fini(&b);
}

static void appending_past_the_cap_is_toobig_and_changes_nothing(void **state)
{
	struct buf b;

	buf_init(&b, 8);
	assert_int_equal(buf_append(&b, "abc", 3), 0);
	assert_int_equal(buf_append(&b, "defghi", 6), ERR_TOOBIG);
	assert_int_equal(b.len, 3);
	assert_string_equal((char *)b.data, "abc");
	assert_int_equal(buf_reserve(&b, SIZE_MAX), ERR_TOOBIG);
	buf_fini(&b);
}

static void a_cap_near_size_max_cannot_overflow_the_allocation_size(void **state)
{
	struct buf b;

	buf_init(&b, SIZE_MAX);
	assert_int_equal(buf_reserve(&b, SIZE_MAX), -ENOMEM);
	assert_null(b.data);
	assert_int_equal(buf_append(&b, "x", 1), 0);
	assert_int_equal(buf_reserve(&b, SIZE_MAX), ERR_TOOBIG);
	buf_fini(&b);
}

static void a_zero_cap_buffer_still_holds_an_empty_string(void **state)
{
	struct buf b;

	buf_init(&b, 0);
	assert_int_equal(buf_printf(&b, "%s", ""), 0);
	assert_non_null(b.data);
	assert_string_equal((char *)b.data, "");
	assert_int_equal(buf_append(&b, "x", 1), ERR_TOOBIG);
	buf_fini(&b);
}

static void printf_appends_formatted_text(void **state)
{
	struct buf b;

	buf_init(&b, 4096);
	assert_int_equal(buf_printf(&b, "public_key=%s\n", "abcd"), 0);
	assert_int_equal(buf_printf(&b, "endpoint=%d.%d.%d.%d:%u\n", 1, 2, 3, 4, 51820u), 0);
	assert_string_equal((char *)b.data, "public_key=abcd\nendpoint=1.2.3.4:51820\n");
	assert_int_equal(b.len, strlen("public_key=abcd\nendpoint=1.2.3.4:51820\n"));
	for (int i = 0; i < 200; i++)
		assert_int_equal(buf_printf(&b, "%08d", i), 0);
	assert_int_equal(b.len, 39 + 200 * 8);
	assert_memory_equal(b.data + b.len - 8, "00000199", 8);
	buf_fini(&b);
}

static void printf_past_the_cap_is_toobig_and_leaves_the_old_text(void **state)
{
	struct buf b;

	buf_init(&b, 10);
	assert_int_equal(buf_printf(&b, "%s", "12345"), 0);
	assert_int_equal(buf_printf(&b, "%s", "678901"), ERR_TOOBIG);
	assert_int_equal(b.len, 5);
	assert_string_equal((char *)b.data, "12345");
	assert_int_equal(buf_printf(&b, "%s", "67890"), 0);
	assert_string_equal((char *)b.data, "1234567890");
	buf_fini(&b);
}

static void consume_drops_bytes_from_the_front_and_wipes_the_vacated_tail(void **state)
{
	struct buf b;

	buf_init(&b, 100);
	assert_int_equal(buf_append(&b, "secretpayload", 13), 0);
	buf_consume(&b, 6);
	assert_int_equal(b.len, 7);
	assert_string_equal((char *)b.data, "payload");
	for (size_t i = b.len; i < 13; i++)
		assert_int_equal(b.data[i], 0);
	buf_consume(&b, 0);
	assert_string_equal((char *)b.data, "payload");
	buf_fini(&b);
}

static void consuming_more_than_len_empties_the_buffer(void **state)
{
	struct buf b;

	buf_init(&b, 100);
	buf_consume(&b, 5);
	assert_int_equal(b.len, 0);
	assert_int_equal(buf_append(&b, "abc", 3), 0);
	buf_consume(&b, 1000);
	assert_int_equal(b.len, 0);
	assert_string_equal((char *)b.data, "");
	assert_int_equal(b.data[1], 0);
	assert_int_equal(b.data[2], 0);
	buf_fini(&b);
}

static void reset_keeps_the_allocation_but_wipes_the_contents(void **state)
{
	struct buf b;

	buf_init(&b, 100);
	assert_int_equal(buf_append(&b, "key material", 12), 0);
	uint8_t *data = b.data;
	size_t cap = b.cap;
	buf_reset(&b);
	assert_ptr_equal(b.data, data);
	assert_int_equal(b.cap, cap);
	assert_int_equal(b.len, 0);
	for (size_t i = 0; i < 12; i++)
		assert_int_equal(b.data[i], 0);
	buf_fini_secret(&b);
	assert_null(b.data);
	assert_int_equal(b.len, 0);
	assert_int_equal(b.cap, 0);
	assert_int_equal(b.max, 100);
}

static void reserve_and_advance_let_a_reader_fill_the_buffer_in_place(void **state)
{
	struct buf b;

	buf_init(&b, 100);
	assert_int_equal(buf_reserve(&b, 4), 0);
	assert_true(b.cap - b.len >= 4);
	memcpy(b.data + b.len, "read", 4);
	buf_advance(&b, 4);
	assert_int_equal(b.len, 4);
	assert_string_equal((char *)b.data, "read");
	buf_fini(&b);
}

static void a_finished_buffer_can_be_used_again(void **state)
{
	struct buf b;

	buf_init(&b, 16);
	assert_int_equal(buf_append(&b, "one", 3), 0);
	buf_fini(&b);
	assert_int_equal(buf_append(&b, "two", 3), 0);
	assert_string_equal((char *)b.data, "two");
	buf_fini_secret(&b);
	buf_fini_secret(&b);
}

/* Builds a few kilobytes through every growing call, checking after each
 * failure that the buffer still holds exactly what it held before. */
static int build_text(void *ctx)
{
	struct buf b;
	int rc = 0;

	buf_init(&b, 1 << 16);
	for (int i = 0; i < 300 && rc == 0; i++) {
		size_t before = b.len;
		if (i % 2)
			rc = buf_printf(&b, "line %d of the config\n", i);
		else
			rc = buf_append(&b, "raw bytes;", 10);
		if (rc < 0) {
			assert_int_equal(b.len, before);
			if (b.data)
				assert_int_equal(b.data[b.len], 0);
		}
	}
	if (rc == 0) {
		buf_consume(&b, 10);
		assert_memory_equal(b.data, "line 1 of the config\n", 21);
	}
	buf_fini_secret(&b);
	return rc;
}

static void every_allocation_failure_leaves_the_buffer_as_it_was(void **state)
{
	assert_true(support_alloc_failure_loop(build_text, NULL) > 1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(a_new_buffer_allocates_nothing_until_used),
		cmocka_unit_test(appended_bytes_are_kept_in_order_and_nul_terminated),
		cmocka_unit_test(growth_keeps_every_byte_across_many_appends),
		cmocka_unit_test(a_buffer_fills_exactly_to_its_cap_and_no_further),
		cmocka_unit_test(appending_past_the_cap_is_toobig_and_changes_nothing),
		cmocka_unit_test(a_cap_near_size_max_cannot_overflow_the_allocation_size),
		cmocka_unit_test(a_zero_cap_buffer_still_holds_an_empty_string),
		cmocka_unit_test(printf_appends_formatted_text),
		cmocka_unit_test(printf_past_the_cap_is_toobig_and_leaves_the_old_text),
		cmocka_unit_test(consume_drops_bytes_from_the_front_and_wipes_the_vacated_tail),
		cmocka_unit_test(consuming_more_than_len_empties_the_buffer),
		cmocka_unit_test(reset_keeps_the_allocation_but_wipes_the_contents),
		cmocka_unit_test(reserve_and_advance_let_a_reader_fill_the_buffer_in_place),
		cmocka_unit_test(a_finished_buffer_can_be_used_again),
		cmocka_unit_test(every_allocation_failure_leaves_the_buffer_as_it_was),
	};
	return run_group(tests);
}
