#include "support.h"

#include <arpa/inet.h>
#include <errno.h>
#include <net/if.h>
#include <stdio.h>
#include <string.h>
#include <sys/un.h>

#include "lib/addr.h"
#include "lib/err.h"

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

static void assert_addr_bytes(const struct addr *a, int family, const char *hex)
{
	uint8_t want[16] = { 0 };
	size_t n = family == AF_INET ? 4 : 16;

	support_unhex(hex, want, n);
	assert_int_equal(a->family, family);
	assert_memory_equal(a->bytes, want, 16);
}

static void assert_all_zero(const void *p, size_t n)
{
	const uint8_t *b = p;
	for (size_t i = 0; i < n; i++)
		assert_int_equal(b[i], 0);
}

static void ipv4_addresses_parse_into_four_bytes(void **state)
{
	struct addr a;

	assert_int_equal(addr_parse("192.0.2.1", &a), 0);
	assert_addr_bytes(&a, AF_INET, "c0000201");
	assert_int_equal(addr_parse("0.0.0.0", &a), 0);
	assert_addr_bytes(&a, AF_INET, "00000000");
	assert_int_equal(addr_parse("255.255.255.255", &a), 0);
	assert_addr_bytes(&a, AF_INET, "ffffffff");
}

static void ipv4_with_leading_zeros_junk_or_wrong_shape_is_rejected(void **state)
{
	static const char *const bad[] = {
		"", "1.2.3", "1.2.3.4.5", "01.2.3.4", "1.2.3.00", "256.1.1.1", "1.2.3.1000",
		"1..2.3", ".1.2.3.4", "1.2.3.4.", " 1.2.3.4", "1.2.3.4 ", "1.2.3.4\n",
		"0x1.2.3.4", "1.2.3.-4", "+1.2.3.4", "1.2.3.4/32", "1.2.3.4:80", "localhost",
	};
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		struct addr a;
		int rc = addr_parse(bad[i], &a);
		if (rc != -EINVAL)
			fail_msg("\"%s\" gave %d, expected -EINVAL", bad[i], rc);
		assert_all_zero(&a, sizeof(a));
	}
}

static void ipv6_addresses_parse_in_every_legal_spelling(void **state)
{
	static const struct { const char *in, *hex; } t[] = {
		{ "::", "00000000000000000000000000000000" },
		{ "::1", "00000000000000000000000000000001" },
		{ "1::", "00010000000000000000000000000000" },
		{ "2001:db8::1", "20010db8000000000000000000000001" },
		{ "2001:DB8:0:0:0:0:0:1", "20010db8000000000000000000000001" },
		{ "2001:0db8:0000:0000:0000:0000:0000:0001", "20010db8000000000000000000000001" },
		{ "1:2:3:4:5:6:7::", "00010002000300040005000600070000" },
		{ "::2:3:4:5:6:7:8", "00000002000300040005000600070008" },
		{ "1:2:3:4:5:6:7:8", "00010002000300040005000600070008" },
		{ "fe80::1:2", "fe800000000000000000000000010002" },
		{ "::ffff:192.0.2.1", "00000000000000000000ffffc0000201" },
		{ "::192.0.2.1", "000000000000000000000000c0000201" },
		{ "1:2:3:4:5:6:1.2.3.4", "00010002000300040005000601020304" },
		{ "1::5:6:1.2.3.4", "00010000000000000005000601020304" },
	};
	for (size_t i = 0; i < ARRAY_SIZE(t); i++) {
		struct addr a;
		int rc = addr_parse(t[i].in, &a);
		if (rc != 0)
			fail_msg("\"%s\" gave %d", t[i].in, rc);
		assert_addr_bytes(&a, AF_INET6, t[i].hex);
	}
}

static void malformed_ipv6_is_rejected(void **state)
{
	static const char *const bad[] = {
		":", ":::", "1:2:3:4:5:6:7", "1:2:3:4:5:6:7:8:9", "1::2::3", ":1::", ":1:2:3:4:5:6:7:8",
		"1::2:", "1:2:3:4:5:6:7:8:", "12345::", "::g", "1:2:3:4:5:6:7:8::", "::1:2:3:4:5:6:7:8",
		"1:2:3:4::5:6:7:8", "::1.2.3", "::1.2.3.4:5", "::1.2.3.4.5", "::01.2.3.4",
		"1:2:3:4:5:6:7:1.2.3.4", "::ffff:1.2.3.256", "1.2.3.4::", "fe80::1%eth0", "[::1]",
		" ::1", "::1 ", "::-1", "::+1", "0x1::",
	};
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		struct addr a;
		int rc = addr_parse(bad[i], &a);
		if (rc != -EINVAL)
			fail_msg("\"%s\" gave %d, expected -EINVAL", bad[i], rc);
		assert_all_zero(&a, sizeof(a));
	}
}

static void the_parser_agrees_with_inet_pton(void **state)
{
	static const char *const in[] = {
		"1.2.3.4", "01.2.3.4", "::", "::1", "1::", "1:2:3:4:5:6:7::", "1:2:3:4:5:6:7:8::",
		"::ffff:1.2.3.4", "::1.2.3.4", "1:2:3:4:5:6:1.2.3.4", "1:2:3:4:5:6:7:1.2.3.4",
		"1::2:", ":1::", "00000::", "0000::", "::1.2.3.04", "1:2:3:4:5:6:7:8",
	};
	for (size_t i = 0; i < ARRAY_SIZE(in); i++) {
		uint8_t want[16] = { 0 };
		struct addr a;
		int fam = strchr(in[i], ':') ? AF_INET6 : AF_INET;
		bool ok = inet_pton(fam, in[i], want) == 1;
		int rc = addr_parse(in[i], &a);
		if (ok != (rc == 0))
			fail_msg("\"%s\": inet_pton says %d, addr_parse %d", in[i], ok, rc);
		if (ok) {
			assert_int_equal(a.family, fam);
			assert_memory_equal(a.bytes, want, fam == AF_INET ? 4 : 16);
		}
	}
}

static void ipv6_is_formatted_as_rfc_5952_says(void **state)
{
	static const struct { const char *in, *out; } t[] = {
		{ "2001:0DB8:0000:0000:0000:0000:0000:0001", "2001:db8::1" },
		{ "2001:db8:0:0:1:0:0:1", "2001:db8::1:0:0:1" },
		{ "1:0:0:2:0:0:0:3", "1:0:0:2::3" },
		{ "2001:db8:0:1:1:1:1:1", "2001:db8:0:1:1:1:1:1" },
		{ "0:0:0:0:0:0:0:0", "::" },
		{ "0:0:0:0:0:0:0:1", "::1" },
		{ "1:0:0:0:0:0:0:0", "1::" },
		{ "1:0:0:0:0:0:0:1", "1::1" },
		{ "0:1:0:1:0:1:0:1", "0:1:0:1:0:1:0:1" },
		{ "FFFF:ABCD::", "ffff:abcd::" },
		{ "::ffff:0102:0304", "::ffff:1.2.3.4" },
		{ "::1.2.3.4", "::102:304" },
		{ "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff" },
	};
	for (size_t i = 0; i < ARRAY_SIZE(t); i++) {
		struct addr a;
		char s[ADDR_STRLEN];
		assert_int_equal(addr_parse(t[i].in, &a), 0);
		assert_int_equal(addr_format(&a, s, sizeof(s)), (int)strlen(t[i].out));
		assert_string_equal(s, t[i].out);
	}
}

static void formatting_into_a_short_buffer_is_enospc_and_leaves_an_empty_string(void **state)
{
	struct addr a;
	char s[ADDR_STRLEN];

	assert_int_equal(addr_parse("10.0.0.1", &a), 0);
	memset(s, 'x', sizeof(s));
	assert_int_equal(addr_format(&a, s, 8), -ENOSPC);
	assert_string_equal(s, "");
	assert_int_equal(addr_format(&a, s, 0), -ENOSPC);
	assert_int_equal(addr_format(&a, s, 9), 8);
	assert_string_equal(s, "10.0.0.1");
}

static void unknown_families_cannot_be_formatted(void **state)
{
	struct addr a = { .family = AF_UNIX };
	struct cidr c = { .addr = a };
	union endpoint e = { .sa = { .sa_family = AF_UNIX } };
	char s[ENDPOINT_STRLEN];

	assert_int_equal(addr_format(&a, s, sizeof(s)), -EAFNOSUPPORT);
	assert_int_equal(cidr_format(&c, s, sizeof(s)), -EAFNOSUPPORT);
	assert_int_equal(endpoint_format(&e, s, sizeof(s)), -EAFNOSUPPORT);
	assert_false(addr_equal(&a, &a));
	assert_false(endpoint_equal(&e, &e));
	assert_int_equal(endpoint_len(&e), 0);
	assert_int_equal(endpoint_port(&e), 0);
}

static void a_bare_address_is_a_host_cidr(void **state)
{
	struct cidr c;
	char s[CIDR_STRLEN];

	assert_int_equal(cidr_parse("10.1.2.3", &c), 0);
	assert_int_equal(c.prefix, 32);
	assert_addr_bytes(&c.addr, AF_INET, "0a010203");
	assert_int_equal(cidr_parse("fd00::1", &c), 0);
	assert_int_equal(c.prefix, 128);
	assert_int_equal(cidr_format(&c, s, sizeof(s)), 11);
	assert_string_equal(s, "fd00::1/128");
}

static void a_cidr_with_host_bits_set_is_masked(void **state)
{
	static const struct { const char *in, *out; } t[] = {
		{ "10.1.2.3/8", "10.0.0.0/8" },
		{ "10.255.255.255/12", "10.240.0.0/12" },
		{ "192.168.1.200/25", "192.168.1.128/25" },
		{ "1.2.3.4/0", "0.0.0.0/0" },
		{ "1.2.3.4/32", "1.2.3.4/32" },
		{ "fd12:3456:789a::1/20", "fd12:3000::/20" },
		{ "2001:db8:ffff:ffff::1/48", "2001:db8:ffff::/48" },
		{ "ffff::ffff/127", "ffff::fffe/127" },
		{ "::1/0", "::/0" },
	};
	for (size_t i = 0; i < ARRAY_SIZE(t); i++) {
		struct cidr c;
		char s[CIDR_STRLEN];
		assert_int_equal(cidr_parse(t[i].in, &c), 0);
		assert_int_equal(cidr_format(&c, s, sizeof(s)), (int)strlen(t[i].out));
		assert_string_equal(s, t[i].out);
	}
}

static void cidr_prefixes_past_the_address_width_are_out_of_range(void **state)
{
	static const char *const t[] = {
		"1.2.3.4/33", "0.0.0.0/100", "::/129", "::/256", "1.2.3.4/4294967296",
		"::/99999999999999999999999999",
	};
	for (size_t i = 0; i < ARRAY_SIZE(t); i++) {
		struct cidr c;
		int rc = cidr_parse(t[i], &c);
		if (rc != ERR_RANGE)
			fail_msg("\"%s\" gave %d, expected ERR_RANGE", t[i], rc);
		assert_all_zero(&c, sizeof(c));
	}
}

static void malformed_cidrs_are_rejected(void **state)
{
	static const char *const t[] = {
		"", "/8", "1.2.3.4/", "1.2.3.4/08", "1.2.3.4/00", "1.2.3.4/+8", "1.2.3.4/-1",
		"1.2.3.4/8 ", "1.2.3.4/ 8", " 1.2.3.4/8", "1.2.3.4//8", "1.2.3.4/8/8", "1.2.3/8",
		"1.2.3.4/0x8", "::/", "fe80::1%eth0/64", "1.2.3.4/33x",
	};
	for (size_t i = 0; i < ARRAY_SIZE(t); i++) {
		struct cidr c;
		int rc = cidr_parse(t[i], &c);
		if (rc != -EINVAL)
			fail_msg("\"%s\" gave %d, expected -EINVAL", t[i], rc);
		assert_all_zero(&c, sizeof(c));
	}
}

static void cidr_contains_respects_the_prefix_boundary(void **state)
{
	static const struct { const char *cidr, *addr; bool in; } t[] = {
		{ "10.0.0.0/8", "10.255.255.255", true },
		{ "10.0.0.0/8", "11.0.0.0", false },
		{ "192.168.1.128/25", "192.168.1.200", true },
		{ "192.168.1.128/25", "192.168.1.127", false },
		{ "0.0.0.0/0", "255.255.255.255", true },
		{ "1.2.3.4/32", "1.2.3.4", true },
		{ "1.2.3.4/32", "1.2.3.5", false },
		{ "fd00::/8", "fdff:ffff::1", true },
		{ "fd00::/8", "fe00::", false },
		{ "2001:db8::/33", "2001:db8:7fff::1", true },
		{ "2001:db8::/33", "2001:db8:8000::", false },
		{ "::/0", "ffff::1", true },
		{ "0.0.0.0/0", "::", false },
		{ "::/0", "1.2.3.4", false },
		{ "::ffff:0:0/96", "1.2.3.4", false },
		{ "::ffff:0:0/96", "::ffff:1.2.3.4", true },
	};
	for (size_t i = 0; i < ARRAY_SIZE(t); i++) {
		struct cidr c;
		struct addr a;
		assert_int_equal(cidr_parse(t[i].cidr, &c), 0);
		assert_int_equal(addr_parse(t[i].addr, &a), 0);
		if (cidr_contains(&c, &a) != t[i].in)
			fail_msg("%s in %s should be %d", t[i].addr, t[i].cidr, t[i].in);
	}
}

static void cidrs_are_equal_when_family_prefix_and_network_agree(void **state)
{
	struct cidr a, b;

	assert_int_equal(cidr_parse("10.1.0.0/16", &a), 0);
	assert_int_equal(cidr_parse("10.1.255.255/16", &b), 0);
	assert_true(cidr_equal(&a, &b));
	assert_int_equal(cidr_parse("10.1.0.0/17", &b), 0);
	assert_false(cidr_equal(&a, &b));
	assert_int_equal(cidr_parse("::a01:0/16", &b), 0);
	assert_false(cidr_equal(&a, &b));
}

static void ipv4_endpoints_parse_with_their_port(void **state)
{
	union endpoint e;

	assert_int_equal(endpoint_parse("192.0.2.7:51820", &e), 0);
	assert_int_equal(e.sa.sa_family, AF_INET);
	assert_int_equal(endpoint_port(&e), 51820);
	assert_int_equal(ntohl(e.in4.sin_addr.s_addr), 0xc0000207);
	assert_int_equal(endpoint_len(&e), sizeof(struct sockaddr_in));
	assert_int_equal(endpoint_parse("0.0.0.0:0", &e), 0);
	assert_int_equal(endpoint_port(&e), 0);
}

static void ipv6_endpoints_need_brackets(void **state)
{
	static const char *const bad[] = {
		"2001:db8::1:443", "::1:80", "[2001:db8::1]", "[2001:db8::1]:", "[2001:db8::1]443",
		"[1.2.3.4]:80", "[::1]:80x", "[::1]]:80", "[[::1]:80", "[::1:80", "::1]:80",
		"[]:80", "[ ::1]:80", "[::1 ]:80", "[::1]:80 ", "1.2.3.4", "1.2.3.4:", ":80", "",
		"example.com:80", "[fe80::1%eth0/64]:80",
	};
	union endpoint e;

	assert_int_equal(endpoint_parse("[2001:db8::1]:443", &e), 0);
	assert_int_equal(e.sa.sa_family, AF_INET6);
	assert_int_equal(endpoint_port(&e), 443);
	assert_int_equal(e.in6.sin6_scope_id, 0);
	assert_int_equal(endpoint_len(&e), sizeof(struct sockaddr_in6));
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		int rc = endpoint_parse(bad[i], &e);
		if (rc != -EINVAL)
			fail_msg("\"%s\" gave %d, expected -EINVAL", bad[i], rc);
		assert_all_zero(&e, sizeof(e));
	}
}

static void endpoint_ports_are_strict_decimal_up_to_65535(void **state)
{
	static const struct { const char *in; int rc; } t[] = {
		{ "1.2.3.4:65535", 0 },
		{ "1.2.3.4:0", 0 },
		{ "[::1]:65535", 0 },
		{ "1.2.3.4:65536", ERR_RANGE },
		{ "[::1]:100000", ERR_RANGE },
		{ "1.2.3.4:99999999999999999999999", ERR_RANGE },
		{ "1.2.3.4:080", -EINVAL },
		{ "1.2.3.4:00", -EINVAL },
		{ "1.2.3.4:+80", -EINVAL },
		{ "1.2.3.4:-1", -EINVAL },
		{ "1.2.3.4: 80", -EINVAL },
		{ "1.2.3.4:80 ", -EINVAL },
		{ "1.2.3.4:0x50", -EINVAL },
		{ "1.2.3.4:80:80", -EINVAL },
	};
	for (size_t i = 0; i < ARRAY_SIZE(t); i++) {
		union endpoint e;
		int rc = endpoint_parse(t[i].in, &e);
		if (rc != t[i].rc)
			fail_msg("\"%s\" gave %d, expected %d", t[i].in, rc, t[i].rc);
	}
}

static void a_numeric_scope_id_is_kept_and_printed_back(void **state)
{
	union endpoint e;
	char s[ENDPOINT_STRLEN];

	assert_int_equal(endpoint_parse("[fe80::1%7]:443", &e), 0);
	assert_int_equal(e.in6.sin6_scope_id, 7);
	assert_int_equal(endpoint_format(&e, s, sizeof(s)), 15);
	assert_string_equal(s, "[fe80::1%7]:443");
	assert_int_equal(endpoint_parse("[fe80::1%4294967295]:1", &e), 0);
	assert_int_equal(e.in6.sin6_scope_id, 4294967295u);
}

static void a_scope_may_name_an_interface(void **state)
{
	unsigned lo = if_nametoindex("lo");
	union endpoint e;
	char s[ENDPOINT_STRLEN], want[ENDPOINT_STRLEN];

	if (!lo)
		skip();
	assert_int_equal(endpoint_parse("[fe80::1%lo]:51820", &e), 0);
	assert_int_equal(e.in6.sin6_scope_id, lo);
	/* Printed by index, so the text survives a rename of the interface. */
	snprintf(want, sizeof(want), "[fe80::1%%%u]:51820", lo);
	assert_int_equal(endpoint_format(&e, s, sizeof(s)), (int)strlen(want));
	assert_string_equal(s, want);
}

static void unknown_or_malformed_scopes_are_rejected(void **state)
{
	static const struct { const char *in; int rc; } t[] = {
		{ "[fe80::1%pharosnoif0]:443", -ENODEV },
		{ "[fe80::1%]:443", -EINVAL },
		{ "[fe80::1%01]:443", -EINVAL },
		{ "[fe80::1%4294967296]:443", ERR_RANGE },
		{ "[fe80::1%a/b]:443", -EINVAL },
		{ "[fe80::1%a b]:443", -EINVAL },
		{ "[fe80::1%..]:443", -EINVAL },
		{ "[fe80::1%a%b]:443", -EINVAL },
		{ "[fe80::1%abcdefghijklmnop]:443", -EINVAL },
		{ "[fe80::1%lo]:99999", ERR_RANGE },
		{ "[fe80::1%lo]:x", -EINVAL },
	};
	for (size_t i = 0; i < ARRAY_SIZE(t); i++) {
		union endpoint e;
		int rc = endpoint_parse(t[i].in, &e);
		if (rc != t[i].rc)
			fail_msg("\"%s\" gave %d, expected %d", t[i].in, rc, t[i].rc);
		assert_all_zero(&e, sizeof(e));
	}
}

static void canonical_endpoints_print_back_exactly(void **state)
{
	static const char *const t[] = {
		"1.2.3.4:51820", "0.0.0.0:0", "255.255.255.255:65535", "[::]:0", "[::1]:443",
		"[2001:db8::1]:51820", "[::ffff:192.0.2.1]:53", "[fe80::1:2%3]:1",
		"[1:2:3:4:5:6:7:8]:65535",
	};
	for (size_t i = 0; i < ARRAY_SIZE(t); i++) {
		union endpoint e;
		char s[ENDPOINT_STRLEN];
		assert_int_equal(endpoint_parse(t[i], &e), 0);
		assert_int_equal(endpoint_format(&e, s, sizeof(s)), (int)strlen(t[i]));
		assert_string_equal(s, t[i]);
	}
}

static void the_longest_endpoint_fits_endpoint_strlen(void **state)
{
	const char *longest = "[ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff%4294967295]:65535";
	union endpoint e;
	char s[ENDPOINT_STRLEN];

	assert_int_equal(endpoint_parse(longest, &e), 0);
	assert_int_equal(endpoint_format(&e, s, sizeof(s)), (int)strlen(longest));
	assert_int_equal(endpoint_format(&e, s, strlen(longest)), -ENOSPC);
	assert_true(strlen(longest) < ENDPOINT_STRLEN);
}

static void endpoint_equality_compares_family_address_port_and_scope(void **state)
{
	union endpoint a, b;

	assert_int_equal(endpoint_parse("[fe80::1%2]:443", &a), 0);
	assert_int_equal(endpoint_parse("[fe80::1%2]:443", &b), 0);
	b.in6.sin6_flowinfo = htonl(5);
	assert_true(endpoint_equal(&a, &b));
	assert_int_equal(endpoint_parse("[fe80::1%3]:443", &b), 0);
	assert_false(endpoint_equal(&a, &b));
	assert_int_equal(endpoint_parse("[fe80::1%2]:444", &b), 0);
	assert_false(endpoint_equal(&a, &b));
	assert_int_equal(endpoint_parse("[fe80::2%2]:443", &b), 0);
	assert_false(endpoint_equal(&a, &b));
	assert_int_equal(endpoint_parse("1.2.3.4:443", &b), 0);
	assert_false(endpoint_equal(&a, &b));
	assert_int_equal(endpoint_parse("1.2.3.4:443", &a), 0);
	assert_true(endpoint_equal(&a, &b));
	assert_int_equal(endpoint_parse("1.2.3.4:444", &b), 0);
	assert_false(endpoint_equal(&a, &b));
}

static void endpoints_convert_to_and_from_addresses_and_sockaddrs(void **state)
{
	struct addr a, back;
	union endpoint e, copy;
	struct sockaddr_storage ss;
	struct sockaddr_un un = { .sun_family = AF_UNIX };

	assert_int_equal(addr_parse("2001:db8::5", &a), 0);
	assert_int_equal(endpoint_from_addr(&e, &a, 8080), 0);
	assert_int_equal(endpoint_port(&e), 8080);
	assert_int_equal(addr_from_endpoint(&back, &e), 0);
	assert_true(addr_equal(&a, &back));

	memset(&ss, 0, sizeof(ss));
	memcpy(&ss, &e.in6, sizeof(e.in6));
	assert_int_equal(endpoint_from_sockaddr(&copy, (struct sockaddr *)&ss, sizeof(ss)), 0);
	assert_true(endpoint_equal(&e, &copy));
	assert_int_equal(endpoint_from_sockaddr(&copy, (struct sockaddr *)&ss, sizeof(struct sockaddr_in)),
	                 -EINVAL);
	assert_int_equal(endpoint_from_sockaddr(&copy, (struct sockaddr *)&un, sizeof(un)), -EAFNOSUPPORT);
	assert_int_equal(endpoint_from_sockaddr(&copy, (struct sockaddr *)&ss, 1), -EINVAL);

	assert_int_equal(addr_parse("198.51.100.9", &a), 0);
	assert_int_equal(endpoint_from_addr(&e, &a, 53), 0);
	assert_int_equal(e.sa.sa_family, AF_INET);
	assert_int_equal(addr_from_endpoint(&back, &e), 0);
	assert_true(addr_equal(&a, &back));

	a.family = AF_UNIX;
	assert_int_equal(endpoint_from_addr(&e, &a, 53), -EAFNOSUPPORT);
	assert_all_zero(&e, sizeof(e));
	assert_int_equal(addr_from_endpoint(&back, &e), -EAFNOSUPPORT);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(ipv4_addresses_parse_into_four_bytes),
		cmocka_unit_test(ipv4_with_leading_zeros_junk_or_wrong_shape_is_rejected),
		cmocka_unit_test(ipv6_addresses_parse_in_every_legal_spelling),
		cmocka_unit_test(malformed_ipv6_is_rejected),
		cmocka_unit_test(the_parser_agrees_with_inet_pton),
		cmocka_unit_test(ipv6_is_formatted_as_rfc_5952_says),
		cmocka_unit_test(formatting_into_a_short_buffer_is_enospc_and_leaves_an_empty_string),
		cmocka_unit_test(unknown_families_cannot_be_formatted),
		cmocka_unit_test(a_bare_address_is_a_host_cidr),
		cmocka_unit_test(a_cidr_with_host_bits_set_is_masked),
		cmocka_unit_test(cidr_prefixes_past_the_address_width_are_out_of_range),
		cmocka_unit_test(malformed_cidrs_are_rejected),
		cmocka_unit_test(cidr_contains_respects_the_prefix_boundary),
		cmocka_unit_test(cidrs_are_equal_when_family_prefix_and_network_agree),
		cmocka_unit_test(ipv4_endpoints_parse_with_their_port),
		cmocka_unit_test(ipv6_endpoints_need_brackets),
		cmocka_unit_test(endpoint_ports_are_strict_decimal_up_to_65535),
		cmocka_unit_test(a_numeric_scope_id_is_kept_and_printed_back),
		cmocka_unit_test(a_scope_may_name_an_interface),
		cmocka_unit_test(unknown_or_malformed_scopes_are_rejected),
		cmocka_unit_test(canonical_endpoints_print_back_exactly),
		cmocka_unit_test(the_longest_endpoint_fits_endpoint_strlen),
		cmocka_unit_test(endpoint_equality_compares_family_address_port_and_scope),
		cmocka_unit_test(endpoints_convert_to_and_from_addresses_and_sockaddrs),
	};
	return run_group(tests);
}
