/* VLESS headers (specs/reality.md §5.1, §5.2). */
#include "support.h"

#include <errno.h>
#include <string.h>

#include "lib/err.h"
#include "reality/vless.h"
#include "reality/xudp.h"

/* The spec's example: Vision, TCP to www.example.com:443. */
#define EXAMPLE_HEX                                                                                          \
	"00b831381d63244d53ad4f8cda48b30811120a1078746c732d727072782d766973696f6e0101bb020f7777772e6578616d706c65" \
	"2e636f6d"
#define EXAMPLE_LEN 56

static void the_spec_example_request_parses_and_encodes_back(void **state)
{
	(void)state;
	uint8_t in[EXAMPLE_LEN], out[VLESS_REQUEST_MAX];
	struct vless_request r;
	size_t used = 0, n = 0;
	char text[VLESS_UUID_TEXT];
	support_unhex(EXAMPLE_HEX, in, sizeof(in));
	assert_int_equal(vless_request_parse(in, sizeof(in), &r, &used), 1);
	assert_int_equal(used, sizeof(in));
	vless_uuid_format(text, r.uuid);
	assert_string_equal(text, "b831381d-6324-4d53-ad4f-8cda48b30811");
	assert_string_equal(r.flow, VLESS_FLOW_VISION);
	assert_int_equal(r.cmd, VLESS_CMD_TCP);
	assert_int_equal(r.dst.port, 443);
	assert_int_equal(r.dst.atyp, VLESS_ATYP_DOMAIN);
	assert_string_equal((const char *)r.dst.bytes, "www.example.com");
	assert_int_equal(vless_request_encode(&r, out, sizeof(out), &n), 0);
	assert_int_equal(n, sizeof(in));
	assert_memory_equal(out, in, n);
}

static void every_prefix_of_a_request_asks_for_more(void **state)
{
	(void)state;
	uint8_t in[EXAMPLE_LEN];
	struct vless_request r;
	size_t used;
	support_unhex(EXAMPLE_HEX, in, sizeof(in));
	for (size_t i = 0; i < sizeof(in); i++)
		assert_int_equal(vless_request_parse(in, i, &r, &used), 0);
	/* trailing payload is left for the caller */
	uint8_t more[EXAMPLE_LEN + 5];
	memcpy(more, in, sizeof(in));
	memcpy(more + sizeof(in), "hello", 5);
	assert_int_equal(vless_request_parse(more, sizeof(more), &r, &used), 1);
	assert_int_equal(used, sizeof(in));
}

static void addresses_of_each_type_round_trip(void **state)
{
	(void)state;
	struct vless_request r, back;
	uint8_t out[VLESS_REQUEST_MAX];
	size_t n, used;
	memset(&r, 0, sizeof(r));
	memset(r.uuid, 0x11, sizeof(r.uuid));
	r.cmd = VLESS_CMD_UDP;
	r.dst.port = 53;
	r.dst.atyp = VLESS_ATYP_IPV4;
	memcpy(r.dst.bytes, "\xc0\x00\x02\x50", 4);
	assert_int_equal(vless_request_encode(&r, out, sizeof(out), &n), 0);
	assert_int_equal(n, 1 + 16 + 1 + 1 + 2 + 1 + 4);
	assert_int_equal(vless_request_parse(out, n, &back, &used), 1);
	assert_int_equal(back.cmd, VLESS_CMD_UDP);
	assert_memory_equal(back.dst.bytes, r.dst.bytes, 4);
	assert_string_equal(back.flow, "");
	r.cmd = VLESS_CMD_TCP;
	r.dst.atyp = VLESS_ATYP_IPV6;
	memset(r.dst.bytes, 0x20, 16);
	assert_int_equal(vless_request_encode(&r, out, sizeof(out), &n), 0);
	assert_int_equal(vless_request_parse(out, n, &back, &used), 1);
	assert_int_equal(back.dst.atyp, VLESS_ATYP_IPV6);
	assert_memory_equal(back.dst.bytes, r.dst.bytes, 16);
	r.cmd = VLESS_CMD_MUX;
	assert_int_equal(vless_request_encode(&r, out, sizeof(out), &n), 0);
	assert_int_equal(n, 1 + 16 + 1 + 1);
	assert_int_equal(vless_request_parse(out, n, &back, &used), 1);
	assert_int_equal(back.cmd, VLESS_CMD_MUX);
	assert_int_equal(vless_request_encode(&r, out, 5, &n), -ENOSPC);
}

static void malformed_requests_are_refused(void **state)
{
	(void)state;
	uint8_t in[EXAMPLE_LEN];
	struct vless_request r;
	size_t used;
	support_unhex(EXAMPLE_HEX, in, sizeof(in));
	in[0] = 1; /* version */
	assert_int_equal(vless_request_parse(in, sizeof(in), &r, &used), ERR_RANGE);
	assert_int_equal(vless_request_parse(in, 1, &r, &used), ERR_RANGE);
	in[0] = 0;
	/* 0 version, 1..16 uuid, 17 addons length, 18..35 addons, 36 command,
	 * 37..38 port, 39 address type, 40 domain length */
	in[36] = 9;
	assert_int_equal(vless_request_parse(in, sizeof(in), &r, &used), ERR_RANGE);
	in[36] = 1;
	in[39] = 7;
	assert_int_equal(vless_request_parse(in, sizeof(in), &r, &used), ERR_RANGE);
	in[39] = 2;
	in[40] = 0; /* empty domain */
	assert_int_equal(vless_request_parse(in, sizeof(in), &r, &used), ERR_PARSE);
	in[40] = 15;
	in[19] = 0x7f; /* protobuf: string length past the addons */
	assert_int_equal(vless_request_parse(in, sizeof(in), &r, &used), ERR_PARSE);
	in[19] = 0x10;
	in[18] = 0x0b; /* wire type 3 (group): not allowed */
	assert_int_equal(vless_request_parse(in, sizeof(in), &r, &used), ERR_PARSE);
}

static void the_response_is_two_bytes_and_addons_are_skipped(void **state)
{
	(void)state;
	uint8_t out[VLESS_RESPONSE_LEN];
	size_t used = 0;
	vless_response_encode(out);
	assert_int_equal(out[0], 0);
	assert_int_equal(out[1], 0);
	assert_int_equal(vless_response_parse(out, 1, &used), 0);
	assert_int_equal(vless_response_parse(out, 2, &used), 1);
	assert_int_equal(used, 2);
	static const uint8_t with_addons[] = {0, 4, 0x12, 2, 0xaa, 0xbb, 'x'};
	assert_int_equal(vless_response_parse(with_addons, 5, &used), 0);
	assert_int_equal(vless_response_parse(with_addons, sizeof(with_addons), &used), 1);
	assert_int_equal(used, 6);
	static const uint8_t bad[] = {1, 0};
	assert_int_equal(vless_response_parse(bad, 2, &used), ERR_RANGE);
}

static void uuids_parse_in_xrays_forms(void **state)
{
	(void)state;
	uint8_t u[16], v[16];
	char text[VLESS_UUID_TEXT];
	assert_int_equal(vless_uuid_parse(u, "B831381D-6324-4D53-AD4F-8CDA48B30811"), 0);
	assert_int_equal(vless_uuid_parse(v, "b831381d63244d53ad4f8cda48b30811"), 0);
	assert_memory_equal(u, v, 16);
	vless_uuid_format(text, u);
	assert_string_equal(text, "b831381d-6324-4d53-ad4f-8cda48b30811");
	/* a short text id maps to a version-5 UUID (spec §7.1 vector) */
	assert_int_equal(vless_uuid_parse(u, "example"), 0);
	vless_uuid_format(text, u);
	assert_string_equal(text, "feb54431-301b-52bb-a6dd-e1e93e81bb9e");
	assert_int_equal(vless_uuid_parse(u, ""), -EINVAL);
	assert_int_equal(vless_uuid_parse(u, "0123456789012345678901234567890"), -EINVAL); /* 31 chars */
	assert_int_equal(vless_uuid_parse(u, "b831381d-6324-4d53-ad4f-8cda48b3081z"), -EINVAL);
}

static void users_are_found_by_uuid_and_flows_are_enforced(void **state)
{
	(void)state;
	static struct vless_users users;
	struct vless_user a = {.flow = VLESS_FLOW_XRV}, b = {.flow = VLESS_FLOW_NONE};
	struct vless_request r;
	bool vision;
	memset(&users, 0, sizeof(users));
	memset(a.uuid, 1, 16);
	memset(b.uuid, 2, 16);
	assert_int_equal(vless_users_add(&users, &a), 0);
	assert_int_equal(vless_users_add(&users, &b), 0);
	assert_int_equal(vless_users_add(&users, &a), ERR_EXISTS);
	assert_ptr_equal(vless_users_find(&users, a.uuid), &users.u[0]);
	assert_ptr_equal(vless_users_find(&users, b.uuid), &users.u[1]);
	uint8_t none[16] = {3};
	assert_null(vless_users_find(&users, none));

	memset(&r, 0, sizeof(r));
	r.cmd = VLESS_CMD_TCP;
	strcpy(r.flow, VLESS_FLOW_VISION);
	assert_int_equal(vless_flow_check(&a, &r, &vision), 0);
	assert_true(vision);
	assert_int_equal(vless_flow_check(&b, &r, &vision), ERR_AUTH); /* account without Vision */
	r.cmd = VLESS_CMD_UDP;
	assert_int_equal(vless_flow_check(&a, &r, &vision), ERR_AUTH); /* UDP goes via XUDP */
	r.flow[0] = '\0';
	r.cmd = VLESS_CMD_TCP;
	assert_int_equal(vless_flow_check(&a, &r, &vision), ERR_AUTH); /* Vision account, no flow */
	assert_int_equal(vless_flow_check(&b, &r, &vision), 0);
	assert_false(vision);
	strcpy(r.flow, "xtls-rprx-direct");
	assert_int_equal(vless_flow_check(&a, &r, &vision), ERR_AUTH);
}

static void udp_datagrams_are_length_prefixed(void **state)
{
	(void)state;
	static const uint8_t in[] = {0, 3, 'a', 'b', 'c', 0, 0, 0, 9};
	const uint8_t *p;
	size_t n, used;
	assert_int_equal(vless_udp_frame_parse(in, 4, &p, &n, &used), 0);
	assert_int_equal(vless_udp_frame_parse(in, sizeof(in), &p, &n, &used), 1);
	assert_int_equal(n, 3);
	assert_int_equal(used, 5);
	assert_memory_equal(p, "abc", 3);
	assert_int_equal(vless_udp_frame_parse(in + 5, 2, &p, &n, &used), 1);
	assert_int_equal(n, 0);
	assert_int_equal(vless_udp_frame_parse(in + 7, 2, &p, &n, &used), 0);
}

static void xudp_frames_parse_and_encode(void **state)
{
	(void)state;
	/* New frame to 192.0.2.80:53 with a GlobalID and data "hi" */
	static const uint8_t new_frame[] = {0, 20, 0, 0, 1, 1, 2, 0, 53, 1, 192, 0, 2, 80,
	                                    1, 2, 3, 4, 5, 6, 7, 8, 0, 2, 'h', 'i'};
	/* Keep frame to a domain, then a Keep frame without address, a KeepAlive, an End */
	static const uint8_t keep_dom[] = {0, 13, 0, 0, 2, 1, 2, 0x01, 0xbb, 2, 4, 'a', '.', 'b', 'c', 0, 1, 'x'};
	static const uint8_t keep[] = {0, 4, 0, 0, 2, 1, 0, 3, 'a', 'b', 'c'};
	static const uint8_t alive[] = {0, 4, 0, 0, 4, 0};
	static const uint8_t end[] = {0, 4, 0, 0, 3, 0};
	struct vless_xudp_pkt p;
	size_t used;
	for (size_t i = 0; i < sizeof(new_frame); i++)
		assert_int_equal(vless_xudp_parse(new_frame, i, &p, &used), 0);
	assert_int_equal(vless_xudp_parse(new_frame, sizeof(new_frame), &p, &used), 1);
	assert_int_equal(used, sizeof(new_frame));
	assert_int_equal(p.status, VLESS_XUDP_NEW);
	assert_true(p.has_dst);
	assert_int_equal(p.dst.port, 53);
	assert_memory_equal(p.dst.bytes, "\xc0\x00\x02\x50", 4);
	assert_int_equal(p.len, 2);
	assert_memory_equal(p.data, "hi", 2);
	assert_int_equal(vless_xudp_parse(keep_dom, sizeof(keep_dom), &p, &used), 1);
	assert_true(p.has_dst);
	assert_int_equal(p.dst.port, 443);
	assert_string_equal((const char *)p.dst.bytes, "a.bc");
	assert_int_equal(vless_xudp_parse(keep, sizeof(keep), &p, &used), 1);
	assert_false(p.has_dst);
	assert_int_equal(p.len, 3);
	assert_int_equal(vless_xudp_parse(alive, sizeof(alive), &p, &used), 1);
	assert_int_equal(p.status, VLESS_XUDP_KEEPALIVE);
	assert_null(p.data);
	assert_int_equal(vless_xudp_parse(end, sizeof(end), &p, &used), 1);
	assert_int_equal(p.status, VLESS_XUDP_END);
	/* session other than 0 (full Mux), TCP network, bad status, short meta */
	uint8_t bad[sizeof(new_frame)];
	memcpy(bad, new_frame, sizeof(bad));
	bad[3] = 1;
	assert_int_equal(vless_xudp_parse(bad, sizeof(bad), &p, &used), ERR_PARSE);
	bad[3] = 0, bad[6] = 1;
	assert_int_equal(vless_xudp_parse(bad, sizeof(bad), &p, &used), ERR_PARSE);
	bad[6] = 2, bad[4] = 9;
	assert_int_equal(vless_xudp_parse(bad, sizeof(bad), &p, &used), ERR_RANGE);
	static const uint8_t short_meta[] = {0, 3, 0, 0, 2};
	assert_int_equal(vless_xudp_parse(short_meta, sizeof(short_meta), &p, &used), ERR_PARSE);
	/* the server's answer (a Keep frame naming the source, written by
	 * xudp_encode) parses back */
	uint8_t out[64];
	size_t n;
	struct vless_addr src = {.atyp = VLESS_ATYP_IPV4, .port = 53, .bytes = {192, 0, 2, 80}};
	assert_int_equal(xudp_encode(false, &src, (const uint8_t *)"pong", 4, out, sizeof(out), &n), 0);
	assert_int_equal(vless_xudp_parse(out, n, &p, &used), 1);
	assert_int_equal(used, n);
	assert_int_equal(p.status, VLESS_XUDP_KEEP);
	assert_true(p.has_dst);
	assert_int_equal(p.dst.port, 53);
	assert_memory_equal(p.data, "pong", 4);
	/* and the client's first frame, with its GlobalID */
	assert_int_equal(xudp_encode(true, &src, (const uint8_t *)"ping", 4, out, sizeof(out), &n), 0);
	assert_int_equal(vless_xudp_parse(out, n, &p, &used), 1);
	assert_int_equal(p.status, VLESS_XUDP_NEW);
	assert_memory_equal(p.data, "ping", 4);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(the_spec_example_request_parses_and_encodes_back),
		cmocka_unit_test(every_prefix_of_a_request_asks_for_more),
		cmocka_unit_test(addresses_of_each_type_round_trip),
		cmocka_unit_test(malformed_requests_are_refused),
		cmocka_unit_test(the_response_is_two_bytes_and_addons_are_skipped),
		cmocka_unit_test(uuids_parse_in_xrays_forms),
		cmocka_unit_test(users_are_found_by_uuid_and_flows_are_enforced),
		cmocka_unit_test(udp_datagrams_are_length_prefixed),
		cmocka_unit_test(xudp_frames_parse_and_encode),
	};
	return run_group(tests);
}
