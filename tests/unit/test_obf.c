#include "support.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "awg/messages.h"
#include "awg/obf.h"
#include "lib/err.h"
#include "lib/mem.h"

static const size_t sizes[4] = {148, 92, 64, 32};

static void set_ok(struct obf_params *p, const char *key, const char *value)
{
	char err[512] = "";
	int rc = obf_params_set(p, key, value, err, sizeof(err));
	if (rc)
		fail_msg("set %s=%s: %d %s", key, value, rc, err);
}

/* Sets key=value and checks the exact error message. */
static void set_fails_with(const char *key, const char *value, const char *expected)
{
	struct obf_params p;
	char err[512] = "";
	obf_params_init(&p);
	assert_int_equal(obf_params_set(&p, key, value, err, sizeof(err)), -EINVAL);
	assert_string_equal(err, expected);
	assert_true(obf_params_is_plain_format(&p));
	obf_params_fini(&p);
}

/* S1..S4 = 10, 20, 30, 40; H1 1000-2000, H2 3000-4000, H3 5000, H4 6000-7000. */
static void awg_params(struct obf_params *p)
{
	obf_params_init(p);
	set_ok(p, "s1", "10");
	set_ok(p, "s2", "20");
	set_ok(p, "s3", "30");
	set_ok(p, "s4", "40");
	set_ok(p, "h1", "1000-2000");
	set_ok(p, "h2", "3000-4000");
	set_ok(p, "h3", "5000");
	set_ok(p, "h4", "6000-7000");
	char err[256];
	assert_int_equal(obf_params_validate(p, err, sizeof(err)), 0);
}

/* A datagram of type t (1..4) as a sender builds it: S random bytes, then the
 * message with header value h; body bytes are zero. */
static size_t build(uint8_t *pkt, const struct obf_params *p, int t, uint32_t h, size_t body_extra)
{
	size_t s = obf_prefix_len(p, t), n = s + sizes[t - 1] + body_extra;
	memset(pkt, 0, n);
	obf_fill_random(pkt, s);
	le32_write(pkt + s, h);
	return n;
}

/* ---- classification ---------------------------------------------------------- */

static void plain_wireguard_messages_are_classified_by_their_standard_type(void **state)
{
	struct obf_params p;
	uint8_t pkt[2048];
	size_t prefix = 99;
	obf_params_init(&p);
	assert_true(obf_params_is_plain_format(&p));
	for (int t = 1; t <= 4; t++) {
		size_t n = build(pkt, &p, t, (uint32_t)t, 0);
		assert_int_equal(obf_classify(&p, pkt, n, &prefix), t);
		assert_int_equal(prefix, 0);
	}
	size_t n = build(pkt, &p, MSG_DATA, 4, 1400);
	assert_int_equal(obf_classify(&p, pkt, n, &prefix), MSG_DATA);
	/* A data packet may have an initiation's size. */
	n = build(pkt, &p, MSG_DATA, 4, 148 - 32);
	assert_int_equal(obf_classify(&p, pkt, n, &prefix), MSG_DATA);
	n = build(pkt, &p, MSG_INITIATION, 5, 0);
	assert_int_equal(obf_classify(&p, pkt, n, &prefix), MSG_INVALID);
	obf_params_fini(&p);
}

static void every_message_type_is_found_behind_its_prefix_with_any_value_in_its_range(void **state)
{
	struct obf_params p;
	uint8_t pkt[2048];
	size_t prefix;
	awg_params(&p);
	for (int t = 1; t <= 4; t++) {
		uint32_t vals[3] = {p.h[t - 1].lo, p.h[t - 1].hi, p.h[t - 1].lo + (p.h[t - 1].hi - p.h[t - 1].lo) / 2};
		for (int v = 0; v < 3; v++) {
			size_t n = build(pkt, &p, t, vals[v], 0);
			assert_int_equal(obf_classify(&p, pkt, n, &prefix), t);
			assert_int_equal(prefix, p.s[t - 1]);
			n = build(pkt, &p, t, obf_header_value(&p, t), 0);
			assert_int_equal(obf_classify(&p, pkt, n, &prefix), t);
		}
	}
	size_t n = build(pkt, &p, MSG_DATA, 6500, 1024);
	assert_int_equal(obf_classify(&p, pkt, n, &prefix), MSG_DATA);
	assert_int_equal(prefix, 40);
	obf_params_fini(&p);
}

static void the_spec_example_of_an_initiation_with_s1_10_and_h1_1000_2000_is_158_bytes(void **state)
{
	struct obf_params p;
	uint8_t pkt[158];
	size_t prefix;
	obf_params_init(&p);
	set_ok(&p, "s1", "10");
	set_ok(&p, "h1", "1000-2000");
	assert_int_equal(obf_params_validate(&p, NULL, 0), 0);
	for (int i = 0; i < 100; i++) {
		uint32_t h = obf_header_value(&p, MSG_INITIATION);
		assert_in_range(h, 1000, 2000);
		assert_int_equal(build(pkt, &p, MSG_INITIATION, h, 0), 158);
		assert_int_equal(obf_classify(&p, pkt, sizeof(pkt), &prefix), MSG_INITIATION);
		assert_int_equal(prefix, 10);
		assert_int_equal(le32_read(pkt + prefix), h);
	}
	obf_params_fini(&p);
}

static void junk_and_short_datagrams_are_dropped(void **state)
{
	struct obf_params p;
	uint8_t pkt[2048];
	size_t prefix = 7;
	awg_params(&p);
	for (size_t n = 0; n < 300; n++) {
		memset(pkt, 0xff, n); /* 0xffffffff lies in no range */
		assert_int_equal(obf_classify(&p, pkt, n, &prefix), MSG_INVALID);
		assert_int_equal(prefix, 0);
	}
	/* Shorter than S4 + 32 even with a valid H4 at S4. */
	memset(pkt, 0, sizeof(pkt));
	le32_write(pkt + 40, 6000);
	assert_int_equal(obf_classify(&p, pkt, 71, &prefix), MSG_INVALID);
	assert_int_equal(obf_classify(&p, pkt, 72, &prefix), MSG_DATA);
	assert_int_equal(obf_classify(&p, NULL, 0, &prefix), MSG_INVALID);
	obf_params_fini(&p);
}

static void a_value_just_outside_the_range_or_a_wrong_size_is_dropped(void **state)
{
	struct obf_params p;
	uint8_t pkt[2048];
	size_t prefix;
	awg_params(&p);
	for (int t = 1; t <= 3; t++) {
		size_t n = build(pkt, &p, t, p.h[t - 1].lo - 1, 0);
		assert_int_equal(obf_classify(&p, pkt, n, &prefix), MSG_INVALID);
		n = build(pkt, &p, t, p.h[t - 1].hi + 1, 0);
		assert_int_equal(obf_classify(&p, pkt, n, &prefix), MSG_INVALID);
		n = build(pkt, &p, t, p.h[t - 1].lo, 0);
		assert_int_equal(obf_classify(&p, pkt, n + 1, &prefix), MSG_INVALID);
		assert_int_equal(obf_classify(&p, pkt, n - 1, &prefix), MSG_INVALID);
	}
	size_t n = build(pkt, &p, MSG_DATA, 5999, 100);
	assert_int_equal(obf_classify(&p, pkt, n, &prefix), MSG_INVALID);
	n = build(pkt, &p, MSG_DATA, 7001, 100);
	assert_int_equal(obf_classify(&p, pkt, n, &prefix), MSG_INVALID);
	/* A standard WireGuard initiation is not an AWG one. */
	obf_params_fini(&p);
	awg_params(&p);
	memset(pkt, 0, 148);
	le32_write(pkt, 1);
	assert_int_equal(obf_classify(&p, pkt, 148, &prefix), MSG_INVALID);
	obf_params_fini(&p);
}

static void classification_follows_the_fixed_order_with_transport_last(void **state)
{
	struct obf_params p;
	uint8_t pkt[256];
	size_t prefix;
	obf_params_init(&p);
	/* S4 == S1: a data packet with an initiation's size is told apart by H. */
	set_ok(&p, "s1", "16");
	set_ok(&p, "s4", "16");
	set_ok(&p, "h1", "100-199");
	set_ok(&p, "h4", "200-299");
	assert_int_equal(obf_params_validate(&p, NULL, 0), 0);
	size_t n = build(pkt, &p, MSG_DATA, 250, 148 - 32);
	assert_int_equal(n, 164);
	assert_int_equal(obf_classify(&p, pkt, n, &prefix), MSG_DATA);
	n = build(pkt, &p, MSG_INITIATION, 150, 0);
	assert_int_equal(obf_classify(&p, pkt, n, &prefix), MSG_INITIATION);
	obf_params_fini(&p);
}

/* ---- send side ---------------------------------------------------------------------- */

static void header_values_always_fall_within_their_range_and_reach_both_ends(void **state)
{
	struct obf_params p;
	obf_params_init(&p);
	set_ok(&p, "h1", "5-7");
	set_ok(&p, "h2", "0");
	set_ok(&p, "h3", "8-4294967294");
	set_ok(&p, "h4", "4294967295");
	assert_int_equal(obf_params_validate(&p, NULL, 0), 0);
	bool seen[3] = {false, false, false};
	for (int i = 0; i < 2000; i++) {
		uint32_t v = obf_header_value(&p, MSG_INITIATION);
		assert_in_range(v, 5, 7);
		seen[v - 5] = true;
		assert_int_equal(obf_header_value(&p, MSG_RESPONSE), 0);
		assert_in_range(obf_header_value(&p, MSG_COOKIE), 8, 4294967294u);
		assert_int_equal(obf_header_value(&p, MSG_DATA), 4294967295u);
	}
	assert_true(seen[0] && seen[1] && seen[2]);
	assert_int_equal(obf_header_value(&p, 0), 0);
	assert_int_equal(obf_header_value(&p, 5), 0);
	/* The whole u32 space as one range. */
	obf_params_init(&p);
	p.h[0].lo = 0;
	p.h[0].hi = UINT32_MAX;
	for (int i = 0; i < 100; i++)
		(void)obf_header_value(&p, MSG_INITIATION);
	obf_params_fini(&p);
}

static void junk_lengths_stay_within_jmin_and_jmax_inclusive(void **state)
{
	struct obf_params p;
	obf_params_init(&p);
	set_ok(&p, "jc", "5");
	set_ok(&p, "jmin", "40");
	set_ok(&p, "jmax", "42");
	assert_int_equal(obf_junk_count(&p), 5);
	bool seen[3] = {false, false, false};
	for (int i = 0; i < 1000; i++) {
		uint32_t n = obf_junk_len(&p);
		assert_in_range(n, 40, 42);
		seen[n - 40] = true;
	}
	assert_true(seen[0] && seen[1] && seen[2]);
	set_ok(&p, "jmin", "42");
	assert_int_equal(obf_junk_len(&p), 42);
	set_ok(&p, "jmin", "0");
	set_ok(&p, "jmax", "0");
	assert_int_equal(obf_junk_count(&p), 0); /* nothing to send, as kmod */
	obf_params_fini(&p);
}

/* ---- validation ---------------------------------------------------------------------- */

static void a_reversed_h_range_is_rejected_with_the_key_value_and_valid_form(void **state)
{
	set_fails_with("h2", "7-3",
	               "h2: \"7-3\": range start must not exceed its end (expected N or LO-HI with 0 <= LO <= HI <= "
	               "4294967295)");
	set_fails_with("h1", "abc",
	               "h1: \"abc\": not a decimal number or range (expected N or LO-HI with 0 <= LO <= HI <= "
	               "4294967295)");
	set_fails_with("h3", "4294967296",
	               "h3: \"4294967296\": number too large (expected N or LO-HI with 0 <= LO <= HI <= 4294967295)");
	set_fails_with("h4", "-5",
	               "h4: \"-5\": not a decimal number or range (expected N or LO-HI with 0 <= LO <= HI <= "
	               "4294967295)");
	set_fails_with("h4", "1-2-3",
	               "h4: \"1-2-3\": not a decimal number or range (expected N or LO-HI with 0 <= LO <= HI <= "
	               "4294967295)");
	set_fails_with("h1", "", "h1: \"\": not a decimal number or range (expected N or LO-HI with 0 <= LO <= HI <= "
	                         "4294967295)");
}

static void h_values_accept_single_numbers_ranges_and_blanks_around_the_dash(void **state)
{
	struct obf_params p;
	obf_params_init(&p);
	set_ok(&p, "h1", "100 - 200");
	assert_int_equal(p.h[0].lo, 100);
	assert_int_equal(p.h[0].hi, 200);
	set_ok(&p, "h2", "4294967295");
	assert_int_equal(p.h[1].lo, 4294967295u);
	assert_int_equal(p.h[1].hi, 4294967295u);
	set_ok(&p, "h3", "0-0");
	assert_int_equal(p.h[2].hi, 0);
	obf_params_fini(&p);
}

static void numeric_keys_are_rejected_out_of_range_with_what_is_valid(void **state)
{
	set_fails_with("jc", "129", "jc: \"129\": too large (expected a junk packet count 0..128)");
	set_fails_with("jc", "-1", "jc: \"-1\": not a decimal number (expected a junk packet count 0..128)");
	set_fails_with("jc", "", "jc: \"\": not a decimal number (expected a junk packet count 0..128)");
	set_fails_with("jmax", "65536", "jmax: \"65536\": too large (expected a junk size 0..65535)");
	set_fails_with("s1", "65388",
	               "s1: \"65388\": too large (expected a prefix length 0..65387, so that the datagram fits in 65535 "
	               "bytes)");
	set_fails_with("s4", "65504",
	               "s4: \"65504\": too large (expected a prefix length 0..65503, so that the datagram fits in 65535 "
	               "bytes)");
	set_fails_with("s2", " 5", "s2: \" 5\": not a decimal number (expected a prefix length 0..65443, so that the "
	                           "datagram fits in 65535 bytes)");
	set_fails_with("x9", "1",
	               "\"x9\": unknown key (expected jc, jmin, jmax, s1..s4, h1..h4, i1..i5, or the ignored j1..j3, itime)");
	struct obf_params p;
	obf_params_init(&p);
	set_ok(&p, "s1", "65387");
	set_ok(&p, "s3", "65470");
	assert_int_equal(obf_params_set(&p, "s3", "65472", NULL, 0), -EINVAL);
	set_ok(&p, "jc", "128");
	set_ok(&p, "jmax", "65535");
	set_ok(&p, "j1", "<b 0x00>"); /* AWG 1.5 only: ignored */
	set_ok(&p, "itime", "60");
	assert_int_equal(obf_params_validate(&p, NULL, 0), 0);
	obf_params_fini(&p);
}

static void validate_fails(struct obf_params *p, const char *expected)
{
	char err[512] = "";
	assert_int_equal(obf_params_validate(p, err, sizeof(err)), -EINVAL);
	assert_string_equal(err, expected);
	obf_params_fini(p);
}

static void overlapping_h_ranges_are_rejected_even_against_defaults(void **state)
{
	struct obf_params p;
	obf_params_init(&p);
	set_ok(&p, "h1", "100-200");
	set_ok(&p, "h2", "150-300");
	validate_fails(&p, "h2: \"150-300\": overlaps h1 \"100-200\" (expected four pairwise disjoint values or ranges; "
	                   "unset ones are 1, 2, 3 and 4)");
	obf_params_init(&p);
	set_ok(&p, "h1", "2");
	validate_fails(&p, "h2: \"2\": overlaps h1 \"2\" (expected four pairwise disjoint values or ranges; unset ones "
	                   "are 1, 2, 3 and 4)");
	obf_params_init(&p);
	set_ok(&p, "h1", "10-20");
	set_ok(&p, "h4", "20-30"); /* touching at one value is overlapping */
	validate_fails(&p, "h4: \"20-30\": overlaps h1 \"10-20\" (expected four pairwise disjoint values or ranges; "
	                   "unset ones are 1, 2, 3 and 4)");
	obf_params_init(&p);
	set_ok(&p, "h1", "10-20");
	set_ok(&p, "h4", "21-30");
	assert_int_equal(obf_params_validate(&p, NULL, 0), 0);
	obf_params_fini(&p);
}

static void jmin_above_jmax_is_rejected(void **state)
{
	struct obf_params p;
	obf_params_init(&p);
	set_ok(&p, "jmin", "80");
	set_ok(&p, "jmax", "70");
	validate_fails(&p, "jmin: \"80\": must not exceed jmax \"70\" (expected jmin <= jmax)");
	/* jc = 0 with junk sizes set is still checked, and 0 everywhere is fine. */
	obf_params_init(&p);
	assert_int_equal(obf_params_validate(&p, NULL, 0), 0);
	p.jc = 200;
	validate_fails(&p, "jc: \"200\": too many junk packets (expected 0..128)");
}

static void an_initiation_and_a_response_of_equal_size_are_rejected(void **state)
{
	struct obf_params p;
	/* The classic case: 148 + S1 == 92 + S2 with plain H. */
	obf_params_init(&p);
	set_ok(&p, "s1", "0");
	set_ok(&p, "s2", "56");
	validate_fails(&p, "s2: \"56\": a response (92+s2) would be 148 bytes like an initiation (148+s1), so the two "
	                   "could not be told apart (expected 148+s1, 92+s2, 64+s3 and 32+s4 to differ)");
	/* Disjoint ranges do not help: the initiation check reads the response's
	 * random prefix, which lands in H1 with probability |H1| / 2^32. */
	obf_params_init(&p);
	set_ok(&p, "s1", "10");
	set_ok(&p, "s2", "66");
	set_ok(&p, "h1", "100-2000000000");
	set_ok(&p, "h2", "2000000001-2000000002");
	validate_fails(&p, "s2: \"66\": a response (92+s2) would be 158 bytes like an initiation (148+s1), so the two "
	                   "could not be told apart (expected 148+s1, 92+s2, 64+s3 and 32+s4 to differ)");
	obf_params_init(&p);
	set_ok(&p, "s3", "0");
	set_ok(&p, "s4", "32");
	validate_fails(&p, "s4: \"32\": a keepalive (32+s4) would be 64 bytes like a cookie reply (64+s3), so the two "
	                   "could not be told apart (expected 148+s1, 92+s2, 64+s3 and 32+s4 to differ)");
	obf_params_init(&p);
	set_ok(&p, "s1", "1");
	set_ok(&p, "s2", "56");
	assert_int_equal(obf_params_validate(&p, NULL, 0), 0);
	obf_params_fini(&p);
}

static void a_set_that_fails_leaves_the_previous_value_in_place(void **state)
{
	struct obf_params p;
	char err[256];
	obf_params_init(&p);
	set_ok(&p, "h1", "100-200");
	set_ok(&p, "i1", "<r 10>");
	assert_int_equal(obf_params_set(&p, "h1", "300-200", err, sizeof(err)), -EINVAL);
	assert_int_equal(p.h[0].lo, 100);
	assert_int_equal(p.h[0].hi, 200);
	assert_int_equal(obf_params_set(&p, "i1", "<r x>", err, sizeof(err)), -EINVAL);
	assert_string_equal(p.i_text[0], "<r 10>");
	assert_int_equal(obf_template_len(p.i[0]), 10);
	obf_params_fini(&p);
}

static void an_empty_i_value_unsets_the_template(void **state)
{
	struct obf_params p;
	obf_params_init(&p);
	set_ok(&p, "i3", "  <b 0x01> <r 2>  ");
	assert_string_equal(p.i_text[2], "<b 0x01> <r 2>");
	set_ok(&p, "i3", "");
	assert_null(p.i[2]);
	assert_null(p.i_text[2]);
	set_ok(&p, "i3", "<t>");
	set_ok(&p, "i3", " \t ");
	assert_null(p.i[2]);
	obf_params_fini(&p);
}

/* ---- format ------------------------------------------------------------------------- */

static void format_writes_get_lines_in_uapi_order_and_only_what_is_set(void **state)
{
	struct obf_params p;
	char buf[512];
	obf_params_init(&p);
	assert_int_equal(obf_params_format(&p, buf, sizeof(buf)), 20);
	assert_string_equal(buf, "h1=1\nh2=2\nh3=3\nh4=4\n");
	set_ok(&p, "i2", "<b 0xc0ffee><r 4>");
	set_ok(&p, "jmax", "70");
	set_ok(&p, "jc", "4");
	set_ok(&p, "s4", "8");
	set_ok(&p, "h3", "30-40");
	set_ok(&p, "s1", "15");
	const char *expected = "jc=4\njmax=70\ns1=15\ns4=8\nh1=1\nh2=2\nh3=30-40\nh4=4\ni2=<b 0xc0ffee><r 4>\n";
	int n = obf_params_format(&p, buf, sizeof(buf));
	assert_int_equal(n, (int)strlen(expected));
	assert_string_equal(buf, expected);
	for (size_t cap = 0; cap <= strlen(expected); cap++)
		assert_int_equal(obf_params_format(&p, buf, cap), -ENOSPC);
	assert_int_equal(obf_params_format(&p, buf, strlen(expected) + 1), n);
	assert_int_equal(obf_params_format_value(&p, "h3", buf, sizeof(buf)), 5);
	assert_string_equal(buf, "30-40");
	assert_int_equal(obf_params_format_value(&p, "i1", buf, sizeof(buf)), 0);
	assert_int_equal(obf_params_format_value(&p, "itime", buf, sizeof(buf)), -EINVAL);
	assert_int_equal(obf_params_format_value(&p, "h3", buf, 5), -ENOSPC);
	obf_params_fini(&p);
}

static void formatted_lines_set_again_give_the_same_parameters(void **state)
{
	struct obf_params p, q;
	char buf[1024], buf2[1024];
	awg_params(&p);
	set_ok(&p, "jc", "3");
	set_ok(&p, "jmin", "10");
	set_ok(&p, "jmax", "20");
	set_ok(&p, "i1", "<b 0x00><rc 3><rd 2><t><c>");
	assert_true(obf_params_format(&p, buf, sizeof(buf)) > 0);
	obf_params_init(&q);
	char *save, *copy = strdup(buf);
	for (char *line = strtok_r(copy, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		char *eq = strchr(line, '=');
		*eq = '\0';
		set_ok(&q, line, eq + 1);
	}
	free(copy);
	assert_true(obf_params_format(&q, buf2, sizeof(buf2)) > 0);
	assert_string_equal(buf, buf2);
	assert_memory_equal(p.s, q.s, sizeof(p.s));
	assert_memory_equal(p.h, q.h, sizeof(p.h));
	obf_params_fini(&p);
	obf_params_fini(&q);
}

/* ---- templates ------------------------------------------------------------------------- */

static struct obf_template *parse_ok(const char *text)
{
	struct obf_template *t = NULL;
	char err[512] = "";
	int rc = obf_template_parse(text, &t, err, sizeof(err));
	if (rc)
		fail_msg("parse %s: %d %s", text, rc, err);
	return t;
}

static void parse_fails_with(const char *text, int code, const char *expected)
{
	struct obf_template *t = (struct obf_template *)1;
	char err[512] = "";
	assert_int_equal(obf_template_parse(text, &t, err, sizeof(err)), code);
	assert_null(t);
	if (expected)
		assert_string_equal(err, expected);
}

static void each_template_tag_renders_its_bytes(void **state)
{
	uint8_t out[256];
	struct obf_template *t = parse_ok("<b 0xDEADbeef>");
	assert_int_equal(obf_template_len(t), 4);
	assert_int_equal(obf_template_render(t, out, sizeof(out), 0, 0), 4);
	assert_memory_equal(out, "\xde\xad\xbe\xef", 4);
	obf_template_free(t);

	t = parse_ok("<b c0ff>"); /* 0x is optional */
	assert_int_equal(obf_template_render(t, out, sizeof(out), 0, 0), 2);
	assert_memory_equal(out, "\xc0\xff", 2);
	obf_template_free(t);

	t = parse_ok("<r 100>");
	assert_int_equal(obf_template_len(t), 100);
	memset(out, 0, sizeof(out));
	assert_int_equal(obf_template_render(t, out, sizeof(out), 0, 0), 100);
	int zeros = 0;
	for (int i = 0; i < 100; i++)
		zeros += out[i] == 0;
	assert_true(zeros < 20);
	obf_template_free(t);

	t = parse_ok("<rc 200>");
	assert_int_equal(obf_template_render(t, out, sizeof(out), 0, 0), 200);
	for (int i = 0; i < 200; i++)
		assert_true((out[i] >= 'a' && out[i] <= 'z') || (out[i] >= 'A' && out[i] <= 'Z'));
	obf_template_free(t);

	t = parse_ok("<rd 200>");
	assert_int_equal(obf_template_render(t, out, sizeof(out), 0, 0), 200);
	for (int i = 0; i < 200; i++)
		assert_in_range(out[i], '0', '9');
	obf_template_free(t);

	t = parse_ok("<t>");
	assert_int_equal(obf_template_render(t, out, sizeof(out), 0x01020304, 0xaabbccdd), 4);
	assert_memory_equal(out, "\x01\x02\x03\x04", 4);
	obf_template_free(t);

	t = parse_ok("<c>");
	assert_int_equal(obf_template_render(t, out, sizeof(out), 0x01020304, 0xaabbccdd), 4);
	assert_memory_equal(out, "\xaa\xbb\xcc\xdd", 4);
	obf_template_free(t);

	t = parse_ok("<r 0>");
	assert_int_equal(obf_template_len(t), 0);
	obf_template_free(t);
}

static void a_template_concatenates_its_tags_in_order(void **state)
{
	uint8_t out[64];
	struct obf_template *t = parse_ok("  <b 0xc0000000> <rd 3>\t<T><B 0x01><rc 2> <c>  ");
	assert_int_equal(obf_template_len(t), 4 + 3 + 4 + 1 + 2 + 4);
	assert_int_equal(obf_template_render(t, out, sizeof(out), 1700000000, 7), 18);
	assert_memory_equal(out, "\xc0\x00\x00\x00", 4);
	for (int i = 4; i < 7; i++)
		assert_in_range(out[i], '0', '9');
	assert_memory_equal(out + 7, "\x65\x53\xf1\x00\x01", 5);
	assert_true(out[12] >= 'A');
	assert_memory_equal(out + 14, "\x00\x00\x00\x07", 4);
	assert_int_equal(obf_template_render(t, out, 17, 0, 0), 0); /* too small */
	obf_template_free(t);
}

static void template_errors_quote_the_tag_and_say_what_is_valid(void **state)
{
	parse_fails_with("<x 5>", -EINVAL,
	                 "\"<x 5>\": unknown tag (expected <b 0xHEX>, <r N>, <rc N>, <rd N>, <t> or <c>)");
	parse_fails_with("<b 0xabc>", -EINVAL,
	                 "\"<b 0xabc>\": not valid hex bytes (expected <b 0xHEX> with an even, non-zero number of hex "
	                 "digits)");
	parse_fails_with("<b 0x>", -EINVAL, NULL);
	parse_fails_with("<b 0xgg>", -EINVAL, NULL);
	parse_fails_with("<b 0x12 34>", -EINVAL, NULL);
	parse_fails_with("<r>", -EINVAL, "\"<r>\": tag needs a parameter (expected <r N> with 0 <= N <= 65535)");
	parse_fails_with("<rc abc>", -EINVAL,
	                 "\"<rc abc>\": length is not a decimal number (expected <rc N> with 0 <= N <= 65535)");
	parse_fails_with("<rd 65536>", -EINVAL, "\"<rd 65536>\": length too large (expected <rd N> with 0 <= N <= 65535)");
	parse_fails_with("<t 4>", -EINVAL, "\"<t 4>\": tag takes no parameter (expected <t>)");
	parse_fails_with("<r 5", -EINVAL,
	                 "\"<r 5\": tag is not closed with '>' (expected <b 0xHEX>, <r N>, <rc N>, <rd N>, <t> or <c>)");
	parse_fails_with("abc<r 5>", -EINVAL,
	                 "\"abc<r 5>\": text outside a tag (expected <b 0xHEX>, <r N>, <rc N>, <rd N>, <t> or <c>, "
	                 "separated by blanks)");
	parse_fails_with("", -EINVAL, "\"\": template has no tags (expected <b 0xHEX>, <r N>, <rc N>, <rd N>, <t> or <c>)");
	parse_fails_with("<>", -EINVAL, NULL);
	parse_fails_with("< r 5>", -EINVAL, NULL);
	parse_fails_with("<wt 10>", -EINVAL, NULL);
	parse_fails_with("<r 65535><t>", ERR_TOOBIG,
	                 "\"<t>\": the template would exceed 65535 bytes (expected one datagram of at most 65535 bytes)");
}

static void template_limits_are_enforced_at_the_boundary(void **state)
{
	struct obf_template *t = parse_ok("<r 65531><t>");
	assert_int_equal(obf_template_len(t), 65535);
	obf_template_free(t);
	/* A <b> of exactly the maximum size, and one byte more. */
	char *text = malloc(2 * 65535 + 16);
	memcpy(text, "<b 0x", 5);
	memset(text + 5, 'a', 2 * 65535);
	strcpy(text + 5 + 2 * 65535, ">");
	t = parse_ok(text);
	assert_int_equal(obf_template_len(t), 65535);
	obf_template_free(t);
	memcpy(text + 5 + 2 * 65535, "aa>", 4);
	parse_fails_with(text, ERR_TOOBIG, NULL);
	free(text);
	/* Text longer than any valid template. */
	text = malloc(OBF_MAX_TEMPLATE_TEXT + 2);
	memset(text, ' ', OBF_MAX_TEMPLATE_TEXT + 1);
	text[OBF_MAX_TEMPLATE_TEXT + 1] = '\0';
	parse_fails_with(text, ERR_TOOBIG, NULL);
	free(text);
}

struct parse_ctx {
	const char *text;
};

static int parse_and_free(void *ctx)
{
	struct parse_ctx *pc = ctx;
	struct obf_template *t;
	int rc = obf_template_parse(pc->text, &t, NULL, 0);
	if (rc < 0)
		return rc;
	obf_template_free(t);
	return 0;
}

static int params_with_templates_copy_and_free(void *ctx)
{
	struct obf_params p, q;
	obf_params_init(&p);
	int rc = obf_params_set(&p, "i1", "<b 0x0102><r 8>", NULL, 0);
	if (!rc)
		rc = obf_params_set(&p, "i5", "<t><c>", NULL, 0);
	if (!rc)
		rc = obf_params_set(&p, "i5", "<t>", NULL, 0); /* replaces */
	if (!rc) {
		rc = obf_params_copy(&q, &p);
		if (!rc) {
			if (obf_template_len(q.i[0]) != 10 || strcmp(q.i_text[4], "<t>") || q.i[0] == p.i[0])
				rc = -EFAULT;
			obf_params_fini(&q);
		} else if (q.i[0] || q.i_text[0] || q.i[4]) {
			rc = -EFAULT; /* left initialised on failure */
		}
	}
	obf_params_fini(&p);
	return rc;
}

static void template_parse_and_copies_survive_every_allocation_failure(void **state)
{
	struct parse_ctx pc = {"<b 0xc3000000><r 20><rc 3><rd 4><t><c>"};
	assert_int_equal(support_alloc_failure_loop(parse_and_free, &pc), 1);
	assert_true(support_alloc_failure_loop(params_with_templates_copy_and_free, NULL) >= 6);
}

/* ---- generator -------------------------------------------------------------------------- */

static void a_thousand_generated_sets_are_all_valid_and_mtu_friendly(void **state)
{
	for (int i = 0; i < 1000; i++) {
		struct obf_params p;
		char err[512] = "";
		obf_params_init(&p);
		assert_int_equal(obf_params_generate(&p), 0);
		if (obf_params_validate(&p, err, sizeof(err)))
			fail_msg("generated set %d invalid: %s", i, err);
		assert_in_range(p.jc, 3, 8);
		assert_in_range(p.jmin, 40, 50);
		assert_in_range(p.jmax, p.jmin + 10, 70);
		for (int k = 0; k < 3; k++)
			assert_in_range(p.s[k], 12, 64);
		assert_in_range(p.s[3], 12, 32);
		size_t sz[4];
		for (int k = 0; k < 4; k++) {
			sz[k] = sizes[k] + p.s[k];
			assert_true(p.h[k].lo >= 5 && p.h[k].hi <= 0x7fffffff && p.h[k].lo <= p.h[k].hi);
			assert_null(p.i[k]);
		}
		for (int j = 0; j < 4; j++)
			for (int k = 0; k < j; k++)
				assert_true(sz[j] != sz[k]);
		for (int k = 0; k < 3; k++)
			assert_true((sz[k] - sz[3]) % 16 != 0);
		assert_false(obf_params_is_plain_format(&p));
		obf_params_fini(&p);
	}
}

static void generating_replaces_templates_and_gives_different_sets(void **state)
{
	struct obf_params p, q;
	obf_params_init(&p);
	obf_params_init(&q);
	set_ok(&p, "i1", "<r 5>");
	assert_int_equal(obf_params_generate(&p), 0);
	assert_null(p.i[0]);
	assert_null(p.i_text[0]);
	assert_int_equal(obf_params_generate(&q), 0);
	assert_true(memcmp(p.h, q.h, sizeof(p.h)) != 0);
	obf_params_fini(&p);
	obf_params_fini(&q);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(plain_wireguard_messages_are_classified_by_their_standard_type),
		cmocka_unit_test(every_message_type_is_found_behind_its_prefix_with_any_value_in_its_range),
		cmocka_unit_test(the_spec_example_of_an_initiation_with_s1_10_and_h1_1000_2000_is_158_bytes),
		cmocka_unit_test(junk_and_short_datagrams_are_dropped),
		cmocka_unit_test(a_value_just_outside_the_range_or_a_wrong_size_is_dropped),
		cmocka_unit_test(classification_follows_the_fixed_order_with_transport_last),
		cmocka_unit_test(header_values_always_fall_within_their_range_and_reach_both_ends),
		cmocka_unit_test(junk_lengths_stay_within_jmin_and_jmax_inclusive),
		cmocka_unit_test(a_reversed_h_range_is_rejected_with_the_key_value_and_valid_form),
		cmocka_unit_test(h_values_accept_single_numbers_ranges_and_blanks_around_the_dash),
		cmocka_unit_test(numeric_keys_are_rejected_out_of_range_with_what_is_valid),
		cmocka_unit_test(overlapping_h_ranges_are_rejected_even_against_defaults),
		cmocka_unit_test(jmin_above_jmax_is_rejected),
		cmocka_unit_test(an_initiation_and_a_response_of_equal_size_are_rejected),
		cmocka_unit_test(a_set_that_fails_leaves_the_previous_value_in_place),
		cmocka_unit_test(an_empty_i_value_unsets_the_template),
		cmocka_unit_test(format_writes_get_lines_in_uapi_order_and_only_what_is_set),
		cmocka_unit_test(formatted_lines_set_again_give_the_same_parameters),
		cmocka_unit_test(each_template_tag_renders_its_bytes),
		cmocka_unit_test(a_template_concatenates_its_tags_in_order),
		cmocka_unit_test(template_errors_quote_the_tag_and_say_what_is_valid),
		cmocka_unit_test(template_limits_are_enforced_at_the_boundary),
		cmocka_unit_test(template_parse_and_copies_survive_every_allocation_failure),
		cmocka_unit_test(a_thousand_generated_sets_are_all_valid_and_mtu_friendly),
		cmocka_unit_test(generating_replaces_templates_and_gives_different_sets),
	};
	return run_group(tests);
}
