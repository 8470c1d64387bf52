/* XUDP frames (specs/reality.md §5.2): what the client writes, and what it
 * reads from a server, byte for byte as Xray's xudp.go lays them out. */
#include "support.h"

#include <errno.h>
#include <string.h>

#include "lib/err.h"
#include "reality/xudp.h"

static void the_first_frame_is_new_with_a_zero_global_id_then_keep(void **state)
{
	(void)state;
	struct vless_addr dst = {.atyp = VLESS_ATYP_IPV4, .port = 53, .bytes = {192, 0, 2, 80}};
	uint8_t out[128];
	size_t n;
	assert_int_equal(xudp_encode(true, &dst, (const uint8_t *)"abc", 3, out, sizeof(out), &n), 0);
	static const uint8_t first[] = {0, 20, 0, 0, 1, 1, 2, 0, 53, 1, 192, 0, 2, 80, 0, 0, 0, 0, 0, 0, 0, 0,
	                                0, 3, 'a', 'b', 'c'};
	assert_int_equal(n, sizeof(first));
	assert_memory_equal(out, first, n);
	struct vless_addr name = {.atyp = VLESS_ATYP_DOMAIN, .port = 443, .len = 3, .bytes = "a.b"};
	assert_int_equal(xudp_encode(false, &name, (const uint8_t *)"z", 1, out, sizeof(out), &n), 0);
	static const uint8_t keep[] = {0, 12, 0, 0, 2, 1, 2, 1, 187, 2, 3, 'a', '.', 'b', 0, 1, 'z'};
	assert_int_equal(n, sizeof(keep));
	assert_memory_equal(out, keep, n);
	assert_int_equal(xudp_encode(false, &name, out, 0, out, sizeof(out), &n), -EINVAL);
	assert_int_equal(xudp_encode(false, &name, out, XUDP_MAX_PAYLOAD + 1, out, sizeof(out), &n), -EINVAL);
	assert_int_equal(xudp_encode(false, &name, (const uint8_t *)"z", 1, out, 10, &n), -ENOSPC);
	struct vless_addr bad = {.atyp = 9};
	assert_int_equal(xudp_encode(false, &bad, (const uint8_t *)"z", 1, out, sizeof(out), &n), -EINVAL);
}

static void server_frames_parse_with_their_source_and_split_anywhere(void **state)
{
	(void)state;
	/* keep with an IPv6 source, keep-alive, keep without address, end */
	static const uint8_t in[] = {
		0, 24, 0, 0, 2, 1, 2, 0x14, 0xe9, 3, 0x20, 1, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x80,
		0, 2, 'h', 'i',
		0, 4, 0, 0, 4, 1, 0, 1, 'x',
		0, 4, 0, 0, 2, 1, 0, 3, 'y', 'o', 'u',
		0, 0,
	};
	struct xudp_packet p;
	size_t used, at = 0;
	for (size_t cut = 0; cut < 30; cut++)
		assert_int_equal(xudp_parse(in, cut, &p, &used), 0);
	assert_int_equal(xudp_parse(in, sizeof(in), &p, &used), 1);
	assert_true(p.has_addr);
	assert_int_equal(p.addr.atyp, VLESS_ATYP_IPV6);
	assert_int_equal(p.addr.port, 5353);
	assert_int_equal(p.addr.bytes[15], 0x80);
	assert_int_equal(p.len, 2);
	assert_memory_equal(p.data, "hi", 2);
	at += used;
	assert_int_equal(xudp_parse(in + at, sizeof(in) - at, &p, &used), 1);
	assert_true(p.keepalive);
	at += used;
	assert_int_equal(xudp_parse(in + at, sizeof(in) - at, &p, &used), 1);
	assert_false(p.has_addr);
	assert_int_equal(p.len, 3);
	at += used;
	assert_int_equal(xudp_parse(in + at, sizeof(in) - at, &p, &used), XUDP_END);
}

static void other_statuses_end_and_bad_addresses_are_refused(void **state)
{
	(void)state;
	static const uint8_t end_status[] = {0, 4, 0, 0, 3, 0};
	static const uint8_t bad_atyp[] = {0, 9, 0, 0, 2, 1, 2, 0, 53, 7, 1, 0, 0};
	static const uint8_t short_addr[] = {0, 8, 0, 0, 2, 1, 2, 0, 53, 1, 1, 0, 0};
	static const uint8_t empty_name[] = {0, 8, 0, 0, 2, 0, 2, 0, 53, 2, 0, 0};
	struct xudp_packet p;
	size_t used;
	assert_int_equal(xudp_parse(end_status, sizeof(end_status), &p, &used), XUDP_END);
	assert_int_equal(xudp_parse(bad_atyp, sizeof(bad_atyp), &p, &used), ERR_PARSE);
	assert_int_equal(xudp_parse(short_addr, sizeof(short_addr), &p, &used), ERR_PARSE);
	assert_int_equal(xudp_parse(empty_name, sizeof(empty_name), &p, &used), ERR_PARSE);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(the_first_frame_is_new_with_a_zero_global_id_then_keep),
		cmocka_unit_test(server_frames_parse_with_their_source_and_split_anywhere),
		cmocka_unit_test(other_statuses_end_and_bad_addresses_are_refused),
	};
	return run_group(tests);
}
