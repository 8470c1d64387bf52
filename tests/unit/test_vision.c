/* XTLS Vision framing (specs/reality.md §5.3). */
#include "support.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "reality/vision.h"

static const uint8_t UUID[16] = {0xb8, 0x31, 0x38, 0x1d, 0x63, 0x24, 0x4d, 0x53,
                                 0xad, 0x4f, 0x8c, 0xda, 0x48, 0xb3, 0x08, 0x11};

/* uuid ‖ [cmd 0, "hello", 3 pad] ‖ [cmd 1, "world", 2 pad] ‖ "tail" */
static size_t sample(uint8_t *out, uint8_t end_cmd)
{
	size_t o = 0;
	memcpy(out, UUID, 16), o += 16;
	memcpy(out + o, "\x00\x00\x05\x00\x03hello\xee\xee\xee", 13), o += 13;
	memcpy(out + o, "\x01\x00\x05\x00\x02world\xee\xee", 12), o += 12;
	out[16 + 13] = end_cmd;
	memcpy(out + o, "tail", 4), o += 4;
	return o;
}

static void frames_are_unpadded_however_the_stream_is_cut(void **state)
{
	(void)state;
	uint8_t in[64], out[64];
	size_t n = sample(in, 1);
	/* one chunk */
	struct vision_unpad u;
	size_t got;
	vision_unpad_init(&u, UUID);
	vision_unpad_feed(&u, in, n, out, &got);
	assert_int_equal(got, 14);
	assert_memory_equal(out, "helloworldtail", 14);
	assert_false(u.within_padding);
	assert_false(u.direct);
	/* first chunk holds the UUID and >= 5 bytes (as Xray requires of the
	 * first buffer), then every possible cut of the rest */
	for (size_t cut = 21; cut < n; cut++) {
		uint8_t acc[64];
		size_t k = 0, g;
		vision_unpad_init(&u, UUID);
		vision_unpad_feed(&u, in, cut, acc, &g);
		k += g;
		for (size_t i = cut; i < n; i++) { /* byte by byte */
			vision_unpad_feed(&u, in + i, 1, acc + k, &g);
			k += g;
		}
		assert_int_equal(k, 14);
		assert_memory_equal(acc, "helloworldtail", 14);
	}
}

static void a_direct_frame_is_reported(void **state)
{
	(void)state;
	uint8_t in[64];
	size_t n = sample(in, 2), got;
	struct vision_unpad u;
	vision_unpad_init(&u, UUID);
	vision_unpad_feed(&u, in, n, in, &got); /* in place */
	assert_true(u.direct);
	assert_int_equal(got, 14);
	assert_memory_equal(in, "helloworldtail", 14);
	/* after the end, bytes pass through untouched */
	vision_unpad_feed(&u, (const uint8_t *)"raw", 3, in, &got);
	assert_int_equal(got, 3);
}

static void unpadded_streams_pass_through(void **state)
{
	(void)state;
	uint8_t in[64], out[64];
	size_t n = sample(in, 1), got;
	struct vision_unpad u;
	in[0] ^= 1; /* another UUID */
	vision_unpad_init(&u, UUID);
	vision_unpad_feed(&u, in, n, out, &got);
	assert_int_equal(got, n);
	assert_memory_equal(out, in, n);
	in[0] ^= 1;
	vision_unpad_init(&u, UUID);
	vision_unpad_feed(&u, in, 20, out, &got); /* too short to be a first frame */
	assert_int_equal(got, 20);
}

static void padded_writes_unpad_to_the_same_bytes(void **state)
{
	(void)state;
	struct vision_traffic t;
	struct vision_pad p;
	struct vision_unpad u;
	size_t cap = vision_pad_bound(20000), n, got, total = 0;
	uint8_t *out = malloc(cap), *back = malloc(cap), data[20000];
	assert_non_null(out);
	assert_non_null(back);
	for (size_t i = 0; i < sizeof(data); i++)
		data[i] = (uint8_t)(i * 7);
	vision_traffic_init(&t);
	vision_pad_init(&p, UUID);
	vision_unpad_init(&u, UUID);
	/* a padding-only frame first (what a client with nothing to say sends) */
	assert_int_equal(vision_pad_write(&p, &t, NULL, 0, out, cap, &n), 0);
	assert_true(n >= 21 + 900);
	vision_unpad_feed(&u, out, n, back, &got);
	assert_int_equal(got, 0);
	/* writes of assorted sizes: the padding goes, the data stays */
	size_t sizes[] = {1, 100, 899, 900, 8171, 8172, 20000};
	for (size_t k = 0; k < sizeof(sizes) / sizeof(sizes[0]); k++) {
		vision_filter(&t, data, sizes[k]);
		assert_int_equal(vision_pad_write(&p, &t, data, sizes[k], out, cap, &n), 0);
		assert_true(n > sizes[k]);
		vision_unpad_feed(&u, out, n, back, &got);
		assert_int_equal(got, sizes[k]);
		assert_memory_equal(back, data, got);
		total += got;
		if (!p.padding)
			break;
	}
	assert_true(total > 0);
	assert_int_equal(vision_pad_write(&p, &t, data, 100, out, 10, &n), -ENOSPC);
	free(out);
	free(back);
}

static void padding_ends_at_the_first_inner_application_data(void **state)
{
	(void)state;
	struct vision_traffic t;
	struct vision_pad p;
	struct vision_unpad u;
	uint8_t sh[100] = {0x16, 0x03, 0x03, 0x00, 0x5f, 0x02};
	uint8_t app[] = {0x17, 0x03, 0x03, 0x00, 0x03, 'a', 'b', 'c'};
	size_t cap = vision_pad_bound(200), n, got;
	uint8_t *out = malloc(cap), back[256];
	assert_non_null(out);
	/* an inner ServerHello: session id 32, suite 1301, supported_versions 0304 */
	sh[43] = 32;
	sh[76] = 0x13;
	sh[77] = 0x01;
	memcpy(sh + 90, "\x00\x2b\x00\x02\x03\x04", 6);
	vision_traffic_init(&t);
	vision_filter(&t, sh, sizeof(sh));
	assert_true(t.is_tls && t.is_tls12_or_above && t.enable_xtls);
	assert_int_equal(t.cipher, 0x1301);
	vision_pad_init(&p, UUID);
	vision_unpad_init(&u, UUID);
	assert_int_equal(vision_pad_write(&p, &t, sh, sizeof(sh), out, cap, &n), 0);
	assert_true(p.padding); /* a handshake record: keep padding, long */
	assert_true(n >= 16 + 5 + 900);
	vision_unpad_feed(&u, out, n, back, &got);
	assert_int_equal(got, sizeof(sh));
	assert_int_equal(vision_pad_write(&p, &t, app, sizeof(app), out, cap, &n), 0);
	assert_false(p.padding);
	assert_int_equal(out[0], VISION_CMD_END); /* we never ask for direct */
	vision_unpad_feed(&u, out, n, back, &got);
	assert_int_equal(got, sizeof(app));
	assert_false(u.within_padding);
	/* afterwards writes are copied as they are */
	assert_int_equal(vision_pad_write(&p, &t, app, sizeof(app), out, cap, &n), 0);
	assert_int_equal(n, sizeof(app));
	assert_memory_equal(out, app, n);
	free(out);
}

static void a_stream_that_is_not_tls_stops_padding_early(void **state)
{
	(void)state;
	struct vision_traffic t;
	struct vision_pad p;
	uint8_t out[VISION_BUF_SIZE * 3], data[] = "GET / HTTP/1.1\r\n\r\n";
	size_t n;
	vision_traffic_init(&t);
	vision_pad_init(&p, UUID);
	for (int i = 0; i < 8 && p.padding; i++) {
		vision_filter(&t, data, sizeof(data));
		assert_int_equal(vision_pad_write(&p, &t, data, sizeof(data), out, sizeof(out), &n), 0);
	}
	assert_false(t.is_tls);
	assert_false(p.padding);
}

static void complete_application_records_are_recognised(void **state)
{
	(void)state;
	static const uint8_t two[] = {0x17, 3, 3, 0, 1, 'x', 0x17, 3, 3, 0, 2, 'y', 'z'};
	assert_true(vision_is_complete_app_records(two, sizeof(two)));
	assert_false(vision_is_complete_app_records(two, sizeof(two) - 1));
	assert_false(vision_is_complete_app_records(two, 0));
	static const uint8_t hs[] = {0x16, 3, 3, 0, 1, 'x'};
	assert_false(vision_is_complete_app_records(hs, sizeof(hs)));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(frames_are_unpadded_however_the_stream_is_cut),
		cmocka_unit_test(a_direct_frame_is_reported),
		cmocka_unit_test(unpadded_streams_pass_through),
		cmocka_unit_test(padded_writes_unpad_to_the_same_bytes),
		cmocka_unit_test(padding_ends_at_the_first_inner_application_data),
		cmocka_unit_test(a_stream_that_is_not_tls_stops_padding_early),
		cmocka_unit_test(complete_application_records_are_recognised),
	};
	return run_group(tests);
}
