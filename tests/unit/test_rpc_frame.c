#include "support.h"

#include <errno.h>
#include <string.h>

#include "lib/err.h"
#include "rpc/frame.h"
#include "rpc/status.h"

static void a_prefix_is_a_zero_flag_and_a_big_endian_length(void **state)
{
	uint8_t h[RPC_FRAME_HDR_LEN];

	rpc_frame_prefix(h, 0x01020304);
	assert_memory_equal(h, "\x00\x01\x02\x03\x04", 5);
	rpc_frame_prefix(h, 0);
	assert_memory_equal(h, "\x00\x00\x00\x00\x00", 5);
}

/* Three messages: empty, "abc", 300 bytes of 0x5a. */
static size_t three_messages(uint8_t *out)
{
	size_t n = 0;

	rpc_frame_prefix(out + n, 0);
	n += 5;
	rpc_frame_prefix(out + n, 3);
	n += 5;
	memcpy(out + n, "abc", 3);
	n += 3;
	rpc_frame_prefix(out + n, 300);
	n += 5;
	memset(out + n, 0x5a, 300);
	return n + 300;
}

static void the_scanner_counts_the_same_messages_for_every_split_of_the_input(void **state)
{
	uint8_t in[400];
	size_t n = three_messages(in);

	for (size_t cut1 = 0; cut1 <= n; cut1++) {
		for (size_t cut2 = cut1; cut2 <= n; cut2 += 7) {
			struct rpc_frame_scanner s;
			int total = 0, rc;
			rpc_frame_scanner_init(&s, 1000);
			rc = rpc_frame_scan(&s, in, cut1);
			assert_true(rc >= 0);
			total += rc;
			rc = rpc_frame_scan(&s, in + cut1, cut2 - cut1);
			assert_true(rc >= 0);
			total += rc;
			rc = rpc_frame_scan(&s, in + cut2, n - cut2);
			assert_true(rc >= 0);
			total += rc;
			assert_int_equal(total, 3);
			assert_int_equal(s.messages, 3);
			assert_true(rpc_frame_scanner_idle(&s));
		}
	}
}

static void byte_by_byte_input_completes_each_message_on_its_last_byte(void **state)
{
	uint8_t in[400];
	size_t n = three_messages(in);
	struct rpc_frame_scanner s;
	int seen = 0;

	rpc_frame_scanner_init(&s, 1000);
	for (size_t i = 0; i < n; i++) {
		int rc = rpc_frame_scan(&s, in + i, 1);
		assert_true(rc == 0 || rc == 1);
		if (rc)
			assert_true(i == 4 || i == 12 || i == n - 1);
		seen += rc;
		assert_int_equal(rpc_frame_scanner_idle(&s), i == 4 || i == 12 || i == n - 1);
	}
	assert_int_equal(seen, 3);
}

static void a_message_over_the_limit_is_toobig_from_its_prefix_alone(void **state)
{
	uint8_t h[RPC_FRAME_HDR_LEN];
	struct rpc_frame_scanner s;

	rpc_frame_prefix(h, 101);
	rpc_frame_scanner_init(&s, 100);
	assert_int_equal(rpc_frame_scan(&s, h, 4), 0);
	assert_int_equal(rpc_frame_scan(&s, h + 4, 1), ERR_TOOBIG);
	/* Sticky. */
	assert_int_equal(rpc_frame_scan(&s, (const uint8_t *)"x", 1), ERR_TOOBIG);
	rpc_frame_prefix(h, 100);
	rpc_frame_scanner_init(&s, 100);
	assert_int_equal(rpc_frame_scan(&s, h, 5), 0);
}

static void a_compressed_message_is_refused_as_unsupported(void **state)
{
	const uint8_t h[] = { 1, 0, 0, 0, 1, 'x' };
	const uint8_t bad[] = { 2, 0, 0, 0, 1, 'x' };
	struct rpc_frame_scanner s;
	const uint8_t *msg;
	size_t len, used;

	rpc_frame_scanner_init(&s, 100);
	assert_int_equal(rpc_frame_scan(&s, h, sizeof(h)), -EOPNOTSUPP);
	rpc_frame_scanner_init(&s, 100);
	assert_int_equal(rpc_frame_scan(&s, bad, sizeof(bad)), ERR_PROTO);
	assert_int_equal(rpc_frame_next(h, sizeof(h), 100, &msg, &len, &used), -EOPNOTSUPP);
	assert_int_equal(rpc_frame_next(bad, sizeof(bad), 100, &msg, &len, &used), ERR_PROTO);
}

static void next_returns_whole_messages_and_waits_for_partial_ones(void **state)
{
	uint8_t in[400];
	size_t n = three_messages(in), at = 0, used, len;
	const uint8_t *msg;

	assert_int_equal(rpc_frame_next(in, n, 1000, &msg, &len, &used), 1);
	assert_int_equal(len, 0);
	assert_int_equal(used, 5);
	at += used;
	assert_int_equal(rpc_frame_next(in + at, n - at, 1000, &msg, &len, &used), 1);
	assert_int_equal(len, 3);
	assert_memory_equal(msg, "abc", 3);
	at += used;
	assert_int_equal(rpc_frame_next(in + at, n - at - 1, 1000, &msg, &len, &used), 0);
	assert_int_equal(used, 0);
	assert_null(msg);
	assert_int_equal(rpc_frame_next(in + at, 4, 1000, &msg, &len, &used), 0);
	assert_int_equal(rpc_frame_next(in + at, n - at, 299, &msg, &len, &used), ERR_TOOBIG);
	assert_int_equal(rpc_frame_next(in + at, n - at, 1000, &msg, &len, &used), 1);
	assert_int_equal(len, 300);
}

static void timeouts_parse_in_every_unit_rounding_up_to_a_millisecond(void **state)
{
	static const struct { const char *s; uint64_t ms; } ok[] = {
		{ "1H", 3600000 }, { "2M", 120000 }, { "3S", 3000 }, { "100m", 100 }, { "1u", 1 },
		{ "1000u", 1 }, { "1001u", 2 }, { "1n", 1 }, { "1000000n", 1 }, { "0m", 0 },
		{ "99999999H", 99999999ull * 3600000 }, { "00000001S", 1000 },
	};
	static const char *const bad[] = { "", "S", "1", "1h", "123456789m", "-1S", "1 S", "1.5S", "+1S", "1SS" };
	uint64_t ms;

	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		assert_int_equal(rpc_frame_timeout_parse(ok[i].s, strlen(ok[i].s), &ms), 0);
		assert_true(ms == ok[i].ms);
	}
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		ms = 7;
		assert_int_equal(rpc_frame_timeout_parse(bad[i], strlen(bad[i]), &ms), ERR_PARSE);
		assert_true(ms == 0);
	}
}

static void timeouts_format_in_at_most_eight_digits_and_parse_back_no_shorter(void **state)
{
	static const uint64_t vals[] = { 0, 1, 999, 99999999, 100000000, 123456789012ull, 99999999ull * 60000 + 1,
	                                 UINT64_MAX };
	char s[RPC_TIMEOUT_STRLEN];
	uint64_t back;

	rpc_frame_timeout_format(1500, s);
	assert_string_equal(s, "1500m");
	rpc_frame_timeout_format(100000001, s);
	assert_string_equal(s, "100001S");
	for (size_t i = 0; i < sizeof(vals) / sizeof(vals[0]); i++) {
		rpc_frame_timeout_format(vals[i], s);
		assert_true(strlen(s) <= RPC_TIMEOUT_MAX_DIGITS + 1);
		assert_int_equal(rpc_frame_timeout_parse(s, strlen(s), &back), 0);
		if (vals[i] <= 99999999ull * 3600000)
			assert_true(back >= vals[i]);
	}
}

static void status_codes_parse_as_decimal_only(void **state)
{
	int code;

	assert_int_equal(rpc_frame_status_parse("0", 1, &code), 0);
	assert_int_equal(code, 0);
	assert_int_equal(rpc_frame_status_parse("16", 2, &code), 0);
	assert_int_equal(code, 16);
	assert_int_equal(rpc_frame_status_parse("42", 2, &code), 0);
	assert_int_equal(code, 42);
	assert_string_equal(rpc_status_name(42), "UNKNOWN");
	assert_int_equal(rpc_frame_status_parse("", 0, &code), ERR_PARSE);
	assert_int_equal(rpc_frame_status_parse("1a", 2, &code), ERR_PARSE);
	assert_int_equal(rpc_frame_status_parse("-1", 2, &code), ERR_PARSE);
	assert_int_equal(rpc_frame_status_parse("1234567890", 10, &code), ERR_PARSE);
}

static void messages_are_percent_encoded_and_decoded_back(void **state)
{
	const char *msg = "bad: 100% \xc3\xbc\n\x7f~";
	char enc[128], dec[128];
	int n = rpc_frame_pct_encode(enc, sizeof(enc), msg, strlen(msg));

	assert_string_equal(enc, "bad: 100%25 %C3%BC%0A%7F~");
	assert_int_equal(n, (int)strlen(enc));
	assert_int_equal(rpc_frame_pct_decode(dec, sizeof(dec), enc, strlen(enc)), strlen(msg));
	assert_string_equal(dec, msg);
	assert_int_equal(rpc_frame_pct_encode(enc, 5, msg, strlen(msg)), -ENOSPC);
	assert_string_equal(enc, "");
}

static void malformed_percent_escapes_are_kept_as_they_are(void **state)
{
	char dec[64];

	rpc_frame_pct_decode(dec, sizeof(dec), "50%", 3);
	assert_string_equal(dec, "50%");
	rpc_frame_pct_decode(dec, sizeof(dec), "%zz%4", 5);
	assert_string_equal(dec, "%zz%4");
	rpc_frame_pct_decode(dec, sizeof(dec), "%41%42c", 7);
	assert_string_equal(dec, "ABc");
	rpc_frame_pct_decode(dec, 3, "%41%42c", 7);
	assert_string_equal(dec, "AB");
}

static void grpc_content_types_are_recognised(void **state)
{
	static const char *const ok[] = { "application/grpc", "application/grpc+proto", "Application/GRPC",
	                                  "application/grpc;charset=utf-8", "application/grpc+proto; x=y" };
	static const char *const grpc_other[] = { "application/grpc+json", "application/grpcx" };
	static const char *const not_grpc[] = { "", "text/html", "application/json", "application/grp" };

	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++)
		assert_true(rpc_frame_content_type_ok(ok[i], strlen(ok[i])));
	for (size_t i = 0; i < sizeof(grpc_other) / sizeof(grpc_other[0]); i++) {
		assert_false(rpc_frame_content_type_ok(grpc_other[i], strlen(grpc_other[i])));
		assert_true(rpc_frame_content_type_is_grpc(grpc_other[i], strlen(grpc_other[i])));
	}
	for (size_t i = 0; i < sizeof(not_grpc) / sizeof(not_grpc[0]); i++)
		assert_false(rpc_frame_content_type_is_grpc(not_grpc[i], strlen(not_grpc[i])));
}

static void method_paths_need_a_service_and_a_method(void **state)
{
	static const char *const ok[] = { "/pharos.node.v1.NodeControl/GetStatus", "/S/m", "/a_b.C9/D_e" };
	static const char *const bad[] = { "", "/", "//m", "/s/", "s/m", "/s/m/x", "/s.t/m.x", "/s t/m", "/s/m?x" };
	char long_path[RPC_PATH_MAX + 8];

	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++)
		assert_true(rpc_frame_path_ok(ok[i], strlen(ok[i])));
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_false(rpc_frame_path_ok(bad[i], strlen(bad[i])));
	memset(long_path, 'a', sizeof(long_path));
	long_path[0] = '/';
	long_path[10] = '/';
	assert_true(rpc_frame_path_ok(long_path, RPC_PATH_MAX - 1));
	assert_false(rpc_frame_path_ok(long_path, RPC_PATH_MAX));
}

static void statuses_map_from_http_and_http2_as_the_spec_says(void **state)
{
	struct rpc_status st;

	assert_int_equal(rpc_status_from_http(400), RPC_INTERNAL);
	assert_int_equal(rpc_status_from_http(401), RPC_UNAUTHENTICATED);
	assert_int_equal(rpc_status_from_http(403), RPC_PERMISSION_DENIED);
	assert_int_equal(rpc_status_from_http(404), RPC_UNIMPLEMENTED);
	assert_int_equal(rpc_status_from_http(503), RPC_UNAVAILABLE);
	assert_int_equal(rpc_status_from_http(418), RPC_UNKNOWN);
	assert_int_equal(rpc_status_from_h2(0x7), RPC_UNAVAILABLE);
	assert_int_equal(rpc_status_from_h2(0x8), RPC_CANCELLED);
	assert_int_equal(rpc_status_from_h2(0xb), RPC_RESOURCE_EXHAUSTED);
	assert_int_equal(rpc_status_from_h2(0xc), RPC_PERMISSION_DENIED);
	assert_int_equal(rpc_status_from_h2(0x1), RPC_INTERNAL);
	assert_string_equal(rpc_status_name(RPC_DEADLINE_EXCEEDED), "DEADLINE_EXCEEDED");
	rpc_status_set(&st, 99, "x%d", 1);
	assert_int_equal(st.code, RPC_UNKNOWN);
	assert_string_equal(st.message, "x1");
	char big[600];
	memset(big, 'a', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	rpc_status_set(&st, RPC_INTERNAL, "%s", big);
	assert_int_equal(strlen(st.message), RPC_STATUS_MSG_MAX - 1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(a_prefix_is_a_zero_flag_and_a_big_endian_length),
		cmocka_unit_test(the_scanner_counts_the_same_messages_for_every_split_of_the_input),
		cmocka_unit_test(byte_by_byte_input_completes_each_message_on_its_last_byte),
		cmocka_unit_test(a_message_over_the_limit_is_toobig_from_its_prefix_alone),
		cmocka_unit_test(a_compressed_message_is_refused_as_unsupported),
		cmocka_unit_test(next_returns_whole_messages_and_waits_for_partial_ones),
		cmocka_unit_test(timeouts_parse_in_every_unit_rounding_up_to_a_millisecond),
		cmocka_unit_test(timeouts_format_in_at_most_eight_digits_and_parse_back_no_shorter),
		cmocka_unit_test(status_codes_parse_as_decimal_only),
		cmocka_unit_test(messages_are_percent_encoded_and_decoded_back),
		cmocka_unit_test(malformed_percent_escapes_are_kept_as_they_are),
		cmocka_unit_test(grpc_content_types_are_recognised),
		cmocka_unit_test(method_paths_need_a_service_and_a_method),
		cmocka_unit_test(statuses_map_from_http_and_http2_as_the_spec_says),
	};
	return run_group(tests);
}
