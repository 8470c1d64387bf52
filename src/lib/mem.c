#include "lib/mem.h"

#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#ifdef PHAROS_FAULT_INJECTION
/* Thread-local so a test's countdown never leaks into a worker thread it did
 * not arm. This is the one test-only mutable state in the project. */
static _Thread_local long fail_countdown = -1;
static _Thread_local int fail_fired;

void mem_fail_after(long n) { fail_countdown = n; fail_fired = 0; }
void mem_fail_off(void) { fail_countdown = -1; }
int mem_fail_hit(void) { return fail_fired; }

static int should_fail(void)
{
	if (fail_countdown < 0)
		return 0;
	if (fail_countdown == 0) {
		fail_fired = 1;
		return 1;
	}
	fail_countdown--;
	return 0;
}
#else
static inline int should_fail(void) { return 0; }
#endif

void *mem_alloc(size_t n)
{
	if (should_fail())
		return NULL;
	return malloc(n ? n : 1);
}

void *mem_zalloc(size_t n)
{
	if (should_fail())
		return NULL;
	return calloc(1, n ? n : 1);
}

void *mem_realloc(void *p, size_t n)
{
	if (should_fail())
		return NULL;
	return realloc(p, n ? n : 1);
}

void *mem_dup(const void *p, size_t n)
{
	void *q = mem_alloc(n);
	if (q && n)
		memcpy(q, p, n);
	return q;
}

char *mem_strdup(const char *s)
{
	return mem_dup(s, strlen(s) + 1);
}

void mem_free(void *p)
{
	free(p);
}

void mem_free_secret(void *p, size_t n)
{
	if (!p)
		return;
	sodium_memzero(p, n);
	free(p);
}
