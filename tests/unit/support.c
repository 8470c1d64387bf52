#include "support.h"

#include <stdio.h>
#include <string.h>

#include "lib/mem.h"

long support_alloc_failure_loop(int (*fn)(void *ctx), void *ctx)
{
	for (long i = 0; i < 100000; i++) {
		mem_fail_after(i);
		int rc = fn(ctx);
		int hit = mem_fail_hit();
		mem_fail_off();
		if (!hit) {
			if (rc != 0)
				fail_msg("run with no injected failure returned %d", rc);
			return i;
		}
		if (rc >= 0)
			fail_msg("allocation %ld failed but the call returned %d, not an error", i, rc);
	}
	fail_msg("allocation failure loop did not terminate");
	return -1;
}

static int nibble(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

void support_unhex(const char *hex, uint8_t *out, size_t len)
{
	size_t n = 0;
	for (const char *p = hex; *p; p++) {
		if (*p == ' ' || *p == '\n')
			continue;
		int hi = nibble(p[0]), lo = p[1] ? nibble(p[1]) : -1;
		if (hi < 0 || lo < 0 || n >= len)
			fail_msg("bad test vector hex near \"%.8s\"", p);
		out[n++] = (uint8_t)(hi << 4 | lo);
		p++;
	}
	if (n != len)
		fail_msg("test vector has %zu bytes, expected %zu", n, len);
}
