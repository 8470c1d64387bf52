/* Shared helpers for the cmocka unit tests. Include this instead of cmocka.h. */
#ifndef PHAROS_TEST_SUPPORT_H
#define PHAROS_TEST_SUPPORT_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

/* Fail-the-i-th-allocation loop. Calls fn(ctx) with allocation number i made
 * to fail, for i = 0, 1, 2, ... until a call completes without reaching an
 * injected failure. Every call that hit a failure must return a negative code
 * (checked); the last must return 0 (checked). fn must release whatever it
 * built on both paths; LeakSanitizer then proves nothing leaked. Returns the
 * number of allocations the successful run made. */
long support_alloc_failure_loop(int (*fn)(void *ctx), void *ctx);

/* Decodes a hex string of exactly 2*len digits into out; fails the test otherwise. */
void support_unhex(const char *hex, uint8_t *out, size_t len);

/* Test names are sentences: the table entry reads cmocka_unit_test(a_name_that_says_what_holds). */
#define run_group(group) cmocka_run_group_tests_name(__FILE__, group, NULL, NULL)

#endif
