/* Fuzz target for lib/addr: the input, cut at its first NUL, is offered to
 * every parser. Whatever parses must format, parse back to an equal value and
 * format to the same text again; formatters must respect their buffer size.
 * With glibc, addr_parse must also accept exactly what inet_pton accepts and
 * agree on the bytes. Any disagreement aborts. */
#include <arpa/inet.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "lib/addr.h"
#include "lib/mem.h"

/* Longer text reaches no new code and only slows the search down. */
#define FUZZ_MAX_INPUT 512

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check(bool ok)
{
	if (!ok)
		abort();
}

/* A formatter's output of length n must fail in n bytes and fit in n + 1. */
static void check_tight_buffers(int (*fmt)(const void *, char *, size_t), const void *v, int n)
{
	char out[ENDPOINT_STRLEN];
	check(fmt(v, out, (size_t)n) == -ENOSPC && (n == 0 || out[0] == '\0'));
	check(fmt(v, out, (size_t)n + 1) == n && strlen(out) == (size_t)n);
}

static int fmt_addr(const void *v, char *b, size_t c) { return addr_format(v, b, c); }
static int fmt_cidr(const void *v, char *b, size_t c) { return cidr_format(v, b, c); }
static int fmt_endpoint(const void *v, char *b, size_t c) { return endpoint_format(v, b, c); }

static void check_addr(const char *s)
{
	struct addr a, b;
	struct cidr c;
	char out[ADDR_STRLEN], again[ADDR_STRLEN];
	int rc = addr_parse(s, &a), n;

#ifdef __GLIBC__
	uint8_t ref[16];
	int fam = strchr(s, ':') ? AF_INET6 : AF_INET;
	bool ref_ok = inet_pton(fam, s, ref) == 1;
	check(ref_ok == (rc == 0));
	if (ref_ok)
		check(a.family == fam && !memcmp(a.bytes, ref, fam == AF_INET ? 4 : 16));
#endif
	if (rc < 0)
		return;
	n = addr_format(&a, out, sizeof(out));
	check(n > 0 && (size_t)n == strlen(out));
	check(addr_parse(out, &b) == 0 && addr_equal(&a, &b));
	check(addr_format(&b, again, sizeof(again)) == n && !strcmp(out, again));
	check_tight_buffers(fmt_addr, &a, n);
	/* A bare address is a host prefix. */
	check(cidr_parse(s, &c) == 0 && addr_equal(&c.addr, &a));
	check(c.prefix == (a.family == AF_INET ? 32 : 128));
}

static void check_cidr(const char *s)
{
	struct cidr c, d;
	struct addr net;
	char out[CIDR_STRLEN], again[CIDR_STRLEN];
	int n;

	if (cidr_parse(s, &c) < 0)
		return;
	check(c.prefix <= (c.addr.family == AF_INET ? 32 : 128));
	n = cidr_format(&c, out, sizeof(out));
	check(n > 0 && (size_t)n == strlen(out));
	check(cidr_parse(out, &d) == 0 && cidr_equal(&c, &d));
	/* Host bits were cleared, so the whole value round-trips, not just the
	 * network bits that cidr_equal looks at. */
	check(!memcmp(&c, &d, sizeof(c)));
	check(cidr_format(&d, again, sizeof(again)) == n && !strcmp(out, again));
	check_tight_buffers(fmt_cidr, &c, n);
	net = c.addr;
	check(cidr_contains(&c, &net));
}

static void check_endpoint(const char *s)
{
	union endpoint e, f;
	struct addr a;
	char out[ENDPOINT_STRLEN], again[ENDPOINT_STRLEN];
	int n;

	if (endpoint_parse(s, &e) < 0)
		return;
	n = endpoint_format(&e, out, sizeof(out));
	check(n > 0 && (size_t)n == strlen(out));
	check(endpoint_parse(out, &f) == 0 && endpoint_equal(&e, &f));
	check(endpoint_format(&f, again, sizeof(again)) == n && !strcmp(out, again));
	check_tight_buffers(fmt_endpoint, &e, n);
	check(endpoint_len(&e) > 0);
	check(addr_from_endpoint(&a, &e) == 0);
	check(endpoint_from_addr(&f, &a, endpoint_port(&e)) == 0);
	check(e.sa.sa_family == AF_INET6 ? f.in6.sin6_scope_id == 0 && !memcmp(&f.in6.sin6_addr, &e.in6.sin6_addr, 16)
	                                 : endpoint_equal(&e, &f));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *s;

	if (size > FUZZ_MAX_INPUT)
		return 0;
	s = mem_alloc(size + 1);
	if (!s)
		return 0;
	memcpy(s, data, size);
	s[size] = '\0';
	check_addr(s);
	check_cidr(s);
	check_endpoint(s);
	mem_free(s);
	return 0;
}
