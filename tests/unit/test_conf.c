#include "support.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "awg/conf.h"
#include "lib/buf.h"
#include "lib/err.h"
#include "lib/mem.h"

/* Keys from specs/awg.md §5.2 (initiator private, initiator and responder
 * public) and a preshared key of 0x01 bytes. */
#define PRIV_B64 "5h75kZzeRd1fghZkBL0I44vOtd/f3tCjTI337VQiFNE="
#define PRIV_HEX "e61ef9919cde45dd5f82166404bd08e38bceb5dfdfded0a34c8df7ed542214d1"
#define PUB1_B64 "a8OCKiqn9OaYHWU4aSs83z5t+e6m7SaetB2TwidXt1o="
#define PUB1_HEX "6bc3822a2aa7f4e6981d6538692b3cdf3e6df9eea6ed269eb41d93c22757b75a"
#define PUB2_B64 "MeAwP9ZBjS+MDni5HyLoyu0Pvkhlbc9HZ+SDT3Abj2I="
#define PUB2_HEX "31e0303fd6418d2f8c0e78b91f22e8caed0fbe48656dcf4767e4834f701b8f62"
#define PSK_B64 "AQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQE="
#define PSK_HEX "0101010101010101010101010101010101010101010101010101010101010101"

static const char full_conf[] =
	"# An AmneziaWG 2.0 server, as an awg-quick file\n"
	"[Interface]\n"
	"PrivateKey = " PRIV_B64 "\n"
	"ListenPort = 51820\n"
	"FwMark = 0x1234\n"
	"Address = 10.8.0.1/24, fd00::1/64\n"
	"Jc = 4\n"
	"Jmin = 40\n"
	"Jmax = 70\n"
	"S1 = 15\n"
	"S2 = 30\n"
	"s3=20\n"
	"S4\t=\t10   # per data packet\n"
	"H1 = 100000-200000\n"
	"H2 = 300000\n"
	"H3 = 400000-400100\n"
	"H4 = 500000-600000\n"
	"I1 = <b 0xc0000000><r 16> <t>\n"
	"I2 =\n"
	"DNS = 1.1.1.1\n"
	"MTU = 1380\n"
	"PostUp = iptables -A FORWARD -i %i -j ACCEPT\n"
	"SaveConfig = false\n"
	"\n"
	"[Peer]\n"
	"PublicKey = " PUB1_B64 "\n"
	"PresharedKey = " PSK_B64 "\n"
	"AllowedIPs = 10.8.0.2/32, fd00::2/128\n"
	"AllowedIPs = 192.168.10.0/24\n"
	"Endpoint = 203.0.113.5:51820\n"
	"PersistentKeepalive = 25\n"
	"\n"
	"[peer]\n"
	"allowedips=10.8.0.3\n"
	"publickey=" PUB2_B64 "\n"
	"ENDPOINT = [2001:DB8::1]:443\n"
	"PersistentKeepalive = off\n";

static const char full_uapi[] =
	"private_key=" PRIV_HEX "\n"
	"listen_port=51820\n"
	"fwmark=4660\n"
	"jc=4\n"
	"jmin=40\n"
	"jmax=70\n"
	"s1=15\n"
	"s2=30\n"
	"s3=20\n"
	"s4=10\n"
	"h1=100000-200000\n"
	"h2=300000\n"
	"h3=400000-400100\n"
	"h4=500000-600000\n"
	"i1=<b 0xc0000000><r 16> <t>\n"
	"public_key=" PUB1_HEX "\n"
	"preshared_key=" PSK_HEX "\n"
	"endpoint=203.0.113.5:51820\n"
	"persistent_keepalive_interval=25\n"
	"replace_allowed_ips=true\n"
	"allowed_ip=10.8.0.2/32\n"
	"allowed_ip=fd00::2/128\n"
	"allowed_ip=192.168.10.0/24\n"
	"public_key=" PUB2_HEX "\n"
	"endpoint=[2001:db8::1]:443\n"
	"persistent_keepalive_interval=0\n"
	"replace_allowed_ips=true\n"
	"allowed_ip=10.8.0.3/32\n";

/* Feeds text line by line. Returns the first error; *out gets the body. */
static int parse_text(struct conf *c, const char *text, unsigned flags, struct buf *out)
{
	int rc = conf_init(c, flags);
	if (rc < 0)
		return rc;
	char *copy = mem_strdup(text);
	if (!copy)
		return -ENOMEM;
	char *p = copy;
	while (*p && !rc) {
		char *nl = strchr(p, '\n');
		if (nl)
			*nl = '\0';
		rc = conf_line(c, p);
		p = nl ? nl + 1 : p + strlen(p);
	}
	mem_free(copy);
	if (!rc)
		rc = conf_finish(c, out);
	return rc;
}

static char *convert(const char *text, unsigned flags)
{
	struct conf c;
	struct buf out;
	buf_init(&out, 1 << 20);
	int rc = parse_text(&c, text, flags, &out);
	if (rc)
		fail_msg("conversion failed: %d %s", rc, conf_error(&c));
	char *s = strdup(out.data ? (char *)out.data : "");
	conf_fini(&c);
	buf_fini_secret(&out);
	return s;
}

/* Feeds text and checks the failing code and exact message. */
static void fails_with(const char *text, int code, const char *expected)
{
	struct conf c;
	struct buf out;
	buf_init(&out, 1 << 20);
	int rc = parse_text(&c, text, 0, &out);
	assert_int_equal(rc, code);
	if (expected)
		assert_string_equal(conf_error(&c), expected);
	conf_fini(&c);
	buf_fini_secret(&out);
}

/* ---- conversion -------------------------------------------------------------------- */

static void a_full_awg_config_becomes_exact_uapi_set_text(void **state)
{
	char *s = convert(full_conf, 0);
	assert_string_equal(s, full_uapi);
	free(s);
}

static void setconf_semantics_add_replace_peers_after_the_device_keys(void **state)
{
	char *s = convert("[Interface]\nListenPort = 1\n[Peer]\nPublicKey = " PUB1_B64 "\n", CONF_REPLACE_PEERS);
	assert_string_equal(s, "listen_port=1\nreplace_peers=true\npublic_key=" PUB1_HEX "\nreplace_allowed_ips=true\n");
	free(s);
	s = convert("", CONF_REPLACE_PEERS);
	assert_string_equal(s, "replace_peers=true\n");
	free(s);
	s = convert("# nothing\n\n", 0);
	assert_string_equal(s, "");
	free(s);
}

static void device_keys_come_first_even_when_the_interface_follows_the_peers(void **state)
{
	char *s = convert("[Peer]\nPublicKey = " PUB1_B64 "\nAllowedIPs = 10.0.0.0/8\n[Interface]\nJc = 3\nFwMark = off\n"
	                  "PrivateKey=" PRIV_B64 "\n",
	                  0);
	assert_string_equal(s, "private_key=" PRIV_HEX "\nfwmark=0\njc=3\npublic_key=" PUB1_HEX
	                       "\nreplace_allowed_ips=true\nallowed_ip=10.0.0.0/8\n");
	free(s);
}

static void whitespace_comments_case_and_crlf_are_tolerated(void **state)
{
	char *s = convert("  [ INTERFACE ]  # the device\r\n"
	                  "\tlistenport\t=\t 7 \r\n"
	                  "   # only a comment\r\n"
	                  "FWMARK=42#mark\r\n"
	                  "h1 = 5 - 10\r\n",
	                  0);
	assert_string_equal(s, "listen_port=7\nfwmark=42\nh1=5-10\n");
	free(s);
}

static void allowed_ips_are_canonical_masked_and_may_be_empty(void **state)
{
	char *s = convert("[Peer]\nPublicKey = " PUB1_B64 "\nAllowedIPs = \n"
	                  "AllowedIPs = 10.1.2.3/8 ,, 2001:DB8:0:0::1/32,\n",
	                  0);
	assert_string_equal(s, "public_key=" PUB1_HEX "\nreplace_allowed_ips=true\nallowed_ip=10.0.0.0/8\n"
	                       "allowed_ip=2001:db8::/32\n");
	free(s);
}

static void wg_quick_keys_are_returned_in_file_order_and_not_sent(void **state)
{
	struct conf c;
	struct buf out;
	buf_init(&out, 1 << 20);
	assert_int_equal(parse_text(&c, full_conf, 0, &out), 0);
	assert_int_equal(conf_extra_count(&c), 5);
	static const struct {
		const char *key, *value;
		unsigned line;
	} want[] = {
		{"Address", "10.8.0.1/24, fd00::1/64", 6}, {"DNS", "1.1.1.1", 20}, {"MTU", "1380", 21},
		{"PostUp", "iptables -A FORWARD -i %i -j ACCEPT", 22}, {"SaveConfig", "false", 23},
	};
	for (size_t i = 0; i < 5; i++) {
		const struct conf_extra *e = conf_extra(&c, i);
		assert_non_null(e);
		assert_string_equal(e->key, want[i].key);
		assert_string_equal(e->value, want[i].value);
		assert_int_equal(e->line, want[i].line);
	}
	assert_null(conf_extra(&c, 5));
	assert_null(strstr((char *)out.data, "10.8.0.1/24"));
	conf_fini(&c);
	buf_fini_secret(&out);
}

static void awg_1_5_keys_are_accepted_and_not_sent(void **state)
{
	char *s = convert("[Interface]\nJ1 = <b 0x00>\nItime = 60\nJc = 2\n", 0);
	assert_string_equal(s, "jc=2\n");
	free(s);
}

/* ---- errors --------------------------------------------------------------------------- */

static void bad_lines_are_reported_with_their_number_the_line_and_what_is_valid(void **state)
{
	fails_with("[Interface]\nFoo = 1\n", -EINVAL,
	           "line 2: \"Foo = 1\": unknown key in [Interface] (expected PrivateKey, ListenPort, FwMark, Jc, Jmin, "
	           "Jmax, S1-S4, H1-H4, I1-I5, or wg-quick's Address, DNS, MTU, Table, PreUp, PostUp, PreDown, "
	           "PostDown, SaveConfig)");
	fails_with("[Interface]\n\n# x\nListenPort = 70000\n", -EINVAL,
	           "line 4: \"ListenPort = 70000\": \"70000\" is not a port (expected 0..65535)");
	fails_with("[Peers]\n", -EINVAL, "line 1: \"[Peers]\": unknown section (expected [Interface] or [Peer])");
	fails_with("[Interface\n", -EINVAL,
	           "line 1: \"[Interface\": section header is not closed (expected [Interface] or [Peer])");
	fails_with("ListenPort = 1\n", -EINVAL,
	           "line 1: \"ListenPort = 1\": setting outside a section (expected [Interface] or [Peer] before it)");
	fails_with("[Interface]\njust words\n", -EINVAL,
	           "line 2: \"just words\": not a setting (expected Key = Value, a [Section] header, a # comment or a "
	           "blank line)");
	fails_with("[Interface]\n= 5\n", -EINVAL, NULL);
	fails_with("[Peer]\nAllowedIPs = 10.0.0.1/32, 10.0.0.300/32\n", -EINVAL,
	           "line 2: \"AllowedIPs = 10.0.0.1/32, 10.0.0.300/32\": \"10.0.0.300/32\" is not an IP address or "
	           "prefix (expected ADDR/PREFIX or ADDR, e.g. 10.0.0.2/32, fd00::/64)");
	fails_with("[Peer]\nAllowedIPs = 10.0.0.0/33\n", -EINVAL,
	           "line 2: \"AllowedIPs = 10.0.0.0/33\": \"10.0.0.0/33\" is not a valid prefix: prefix length too long "
	           "(/32 at most for IPv4, /128 for IPv6) (expected ADDR/PREFIX or ADDR, e.g. 10.0.0.2/32, fd00::/64)");
	fails_with("[Peer]\nEndpoint = vpn.example.com:51820\n", -EINVAL,
	           "line 2: \"Endpoint = vpn.example.com:51820\": \"vpn.example.com:51820\" is not a numeric endpoint "
	           "(expected IPv4:PORT or [IPv6]:PORT with a numeric address and port 0..65535; names are not resolved "
	           "here)");
	fails_with("[Peer]\nEndpoint = 2001:db8::1:51820\n", -EINVAL, NULL);
	fails_with("[Peer]\nPersistentKeepalive = 70000\n", -EINVAL,
	           "line 2: \"PersistentKeepalive = 70000\": \"70000\" is not a keepalive interval (expected seconds "
	           "0..65535, or off)");
	fails_with("[Peer]\nListenPort = 1\n", -EINVAL,
	           "line 2: \"ListenPort = 1\": unknown key in [Peer] (expected PublicKey, PresharedKey, AllowedIPs, "
	           "Endpoint or PersistentKeepalive)");
	fails_with("[Interface]\nH2 = 7-3\n", -EINVAL,
	           "line 2: \"H2 = 7-3\": h2: \"7-3\": range start must not exceed its end (expected N or LO-HI with 0 "
	           "<= LO <= HI <= 4294967295)");
	fails_with("[Interface]\nI1 = <b 0x1><r 5>\n", -EINVAL,
	           "line 2: \"I1 = <b 0x1><r 5>\": i1: \"<b 0x1>\": not valid hex bytes (expected <b 0xHEX> with an even, "
	           "non-zero number of hex digits)");
	fails_with("[Interface]\nFwMark = 0x100000000\n", -EINVAL, NULL);
	fails_with("[Interface]\nListenPort = 1\x01\n", -EINVAL,
	           "line 2: \"ListenPort = 1\\x01\": control character at column 15 (expected printable text, one line "
	           "per call)");
}

static void key_values_never_appear_in_error_messages(void **state)
{
	fails_with("[Interface]\nPrivateKey = c2VjcmV0c2VjcmV0\n", -EINVAL,
	           "line 2: \"PrivateKey = <hidden>\": PrivateKey is not a valid key (expected a 32-byte key in base64: "
	           "44 characters ending in '=', as wg genkey prints)");
	fails_with("[Peer]\npresharedkey " PSK_B64 "\n", -EINVAL,
	           "line 2: \"presharedkey = <hidden>\": no key before '=', or one too long to be a key (expected Key = "
	           "Value with a key such as PrivateKey, ListenPort, PublicKey or AllowedIPs)");
	fails_with("[Peer]\nPresharedKey\n", -EINVAL,
	           "line 2: \"PresharedKey = <hidden>\": not a setting (expected Key = Value, a [Section] header, a # "
	           "comment or a blank line)");
	fails_with("[Peer]\nPublicKey = " PUB1_B64 "x\n", -EINVAL, NULL);
}

static void a_peer_without_a_public_key_is_reported_at_its_header(void **state)
{
	fails_with("[Interface]\n[Peer]\nAllowedIPs = 10.0.0.1\n[Peer]\nPublicKey = " PUB1_B64 "\n", -EINVAL,
	           "line 2: \"[Peer]\": section has no PublicKey (expected PublicKey = <base64 key> in every [Peer])");
	fails_with("[Peer]\nPublicKey = " PUB1_B64 "\n\n[Peer]\n# empty\n", -EINVAL,
	           "line 4: \"[Peer]\": section has no PublicKey (expected PublicKey = <base64 key> in every [Peer])");
}

static void awg_parameters_that_conflict_are_reported_at_the_offending_line(void **state)
{
	fails_with("[Interface]\nH1 = 2\nJc = 1\n", -EINVAL,
	           "line 3: \"Jc = 1\": h2: \"2\": overlaps h1 \"2\" (expected four pairwise disjoint values or ranges; "
	           "unset ones are 1, 2, 3 and 4)");
	fails_with("[Interface]\nS2 = 56\nS1 = 0\nJc = 1\n", -EINVAL,
	           "line 2: \"S2 = 56\": s2: \"56\": a response (92+s2) would be 148 bytes like an initiation (148+s1), "
	           "so the two could not be told apart (expected 148+s1, 92+s2, 64+s3 and 32+s4 to differ)");
	fails_with("[Interface]\nJmin = 80\nJmax = 70\n", -EINVAL,
	           "line 2: \"Jmin = 80\": jmin: \"80\": must not exceed jmax \"70\" (expected jmin <= jmax)");
}

static void errors_are_sticky_and_overlong_lines_are_refused(void **state)
{
	struct conf c;
	struct buf out;
	buf_init(&out, 1 << 20);
	assert_int_equal(conf_init(&c, 0), 0);
	assert_int_equal(conf_line(&c, "[Interface]\n"), 0);
	assert_int_equal(conf_line(&c, "Bogus"), -EINVAL);
	assert_int_equal(conf_line(&c, "ListenPort = 1"), -EINVAL);
	assert_int_equal(conf_finish(&c, &out), -EINVAL);
	assert_int_equal(c.line, 2);
	assert_int_equal(out.len, 0);
	conf_fini(&c);

	char *big = malloc(CONF_MAX_LINE + 2);
	memset(big, ' ', CONF_MAX_LINE + 1);
	big[CONF_MAX_LINE + 1] = '\0';
	assert_int_equal(conf_init(&c, 0), 0);
	assert_int_equal(conf_line(&c, big), ERR_TOOBIG);
	conf_fini(&c);
	big[CONF_MAX_LINE] = '\0'; /* exactly the limit: a blank line */
	assert_int_equal(conf_init(&c, 0), 0);
	assert_int_equal(conf_line(&c, big), 0);
	assert_int_equal(conf_finish(&c, &out), 0);
	assert_int_equal(conf_finish(&c, &out), -EINVAL);
	conf_fini(&c);
	conf_fini(&c); /* twice is harmless */
	free(big);
	buf_fini_secret(&out);
}

static void a_small_output_buffer_is_an_error_not_a_truncation(void **state)
{
	struct conf c;
	struct buf out;
	buf_init(&out, 100);
	assert_int_equal(parse_text(&c, full_conf, 0, &out), ERR_TOOBIG);
	assert_string_equal(conf_error(&c), "output buffer too small");
	conf_fini(&c);
	buf_fini_secret(&out);
}

/* ---- showconf ------------------------------------------------------------------------------ */

static const char get_reply[] =
	"private_key=" PRIV_HEX "\n"
	"listen_port=51820\n"
	"fwmark=4660\n"
	"jc=4\n"
	"jmin=40\n"
	"jmax=70\n"
	"s1=15\n"
	"s4=10\n"
	"h1=100000-200000\n"
	"h2=2\n"
	"h3=400000-400100\n"
	"h4=500000-600000\n"
	"i1=<b 0xc0000000><r 16> <t>\n"
	"random_trailers=0\n"
	"public_key=" PUB1_HEX "\n"
	"preshared_key=" PSK_HEX "\n"
	"protocol_version=1\n"
	"endpoint=203.0.113.5:51820\n"
	"last_handshake_time_sec=1700000000\n"
	"last_handshake_time_nsec=5\n"
	"tx_bytes=100\n"
	"rx_bytes=200\n"
	"persistent_keepalive_interval=25\n"
	"allowed_ip=10.8.0.2/32\n"
	"allowed_ip=fd00::2/128\n"
	"public_key=" PUB2_HEX "\n"
	"preshared_key=0000000000000000000000000000000000000000000000000000000000000000\n"
	"listen_port=9\n"
	"persistent_keepalive_interval=0\n"
	"allowed_ip=10.8.0.3/32\n"
	"errno=0\n"
	"\n";

static const char shown_conf[] =
	"[Interface]\n"
	"PrivateKey = " PRIV_B64 "\n"
	"ListenPort = 51820\n"
	"FwMark = 0x1234\n"
	"Jc = 4\n"
	"Jmin = 40\n"
	"Jmax = 70\n"
	"S1 = 15\n"
	"S4 = 10\n"
	"H1 = 100000-200000\n"
	"H3 = 400000-400100\n"
	"H4 = 500000-600000\n"
	"I1 = <b 0xc0000000><r 16> <t>\n"
	"\n"
	"[Peer]\n"
	"PublicKey = " PUB1_B64 "\n"
	"PresharedKey = " PSK_B64 "\n"
	"AllowedIPs = 10.8.0.2/32, fd00::2/128\n"
	"Endpoint = 203.0.113.5:51820\n"
	"PersistentKeepalive = 25\n"
	"\n"
	"[Peer]\n"
	"PublicKey = " PUB2_B64 "\n"
	"AllowedIPs = 10.8.0.3/32\n";

static void a_get_reply_becomes_a_config_file_that_converts_back_to_set_text(void **state)
{
	struct buf out;
	char err[512] = "";
	buf_init(&out, 1 << 20);
	int rc = conf_from_uapi(get_reply, strlen(get_reply), &out, err, sizeof(err));
	if (rc)
		fail_msg("%d %s", rc, err);
	assert_string_equal((char *)out.data, shown_conf);
	char *s = convert((char *)out.data, 0);
	assert_string_equal(s, "private_key=" PRIV_HEX "\n"
	                       "listen_port=51820\n"
	                       "fwmark=4660\n"
	                       "jc=4\njmin=40\njmax=70\ns1=15\ns4=10\n"
	                       "h1=100000-200000\nh3=400000-400100\nh4=500000-600000\n"
	                       "i1=<b 0xc0000000><r 16> <t>\n"
	                       "public_key=" PUB1_HEX "\n"
	                       "preshared_key=" PSK_HEX "\n"
	                       "endpoint=203.0.113.5:51820\n"
	                       "persistent_keepalive_interval=25\n"
	                       "replace_allowed_ips=true\n"
	                       "allowed_ip=10.8.0.2/32\n"
	                       "allowed_ip=fd00::2/128\n"
	                       "public_key=" PUB2_HEX "\n"
	                       "replace_allowed_ips=true\n"
	                       "allowed_ip=10.8.0.3/32\n");
	free(s);
	buf_fini_secret(&out);
}

static void a_plain_device_shows_only_an_interface_section(void **state)
{
	struct buf out;
	buf_init(&out, 1 << 20);
	const char *reply = "h1=1\nh2=2\nh3=3\nh4=4\nerrno=0\n\n";
	assert_int_equal(conf_from_uapi(reply, strlen(reply), &out, NULL, 0), 0);
	assert_string_equal((char *)out.data, "[Interface]\n");
	buf_fini_secret(&out);
	buf_init(&out, 1 << 20);
	assert_int_equal(conf_from_uapi("", 0, &out, NULL, 0), 0);
	assert_string_equal((char *)out.data, "[Interface]\n");
	buf_fini_secret(&out);
}

static void many_allowed_ips_are_shown_on_several_lines_that_parse_back(void **state)
{
	char reply[16384] = "public_key=" PUB1_HEX "\n";
	for (int i = 0; i < 300; i++)
		snprintf(reply + strlen(reply), sizeof(reply) - strlen(reply), "allowed_ip=10.%d.%d.0/24\n", i / 256, i % 256);
	struct buf out;
	buf_init(&out, 1 << 20);
	assert_int_equal(conf_from_uapi(reply, strlen(reply), &out, NULL, 0), 0);
	int lines = 0;
	for (const char *p = (char *)out.data; (p = strstr(p, "AllowedIPs = ")); p++) {
		const char *nl = strchr(p, '\n');
		assert_true(nl - p < 1100);
		lines++;
	}
	assert_true(lines >= 4);
	char *s = convert((char *)out.data, 0);
	int n = 0;
	for (const char *p = s; (p = strstr(p, "allowed_ip=")); p++)
		n++;
	assert_int_equal(n, 300);
	assert_non_null(strstr(s, "allowed_ip=10.1.43.0/24\n"));
	free(s);
	buf_fini_secret(&out);
}

static void show_fails(const char *reply, int code, const char *expected)
{
	struct buf out;
	char err[512] = "";
	buf_init(&out, 1 << 20);
	assert_int_equal(conf_from_uapi(reply, strlen(reply), &out, err, sizeof(err)), code);
	if (expected)
		assert_string_equal(err, expected);
	buf_fini_secret(&out);
}

static void a_bad_get_reply_is_refused_with_the_reason(void **state)
{
	show_fails("errno=-22\n\n", ERR_PROTO,
	           "reply line 1: errno=\"-22\": the daemon reported an error (expected errno=0)");
	show_fails("listen_port=1\nnonsense\n", ERR_PARSE, "reply line 2: \"nonsense\": expected key=value");
	show_fails("listen_port=65536\n", ERR_PARSE,
	           "reply line 1: listen_port=\"65536\": not a number in range (expected decimal 0..65535)");
	show_fails("private_key=abcd\n", ERR_PARSE, "reply line 1: private_key: not a key (expected 64 hex digits)");
	show_fails("public_key=" PUB1_HEX "\nallowed_ip=10.0.0.0/40\n", ERR_PARSE, NULL);
	show_fails("public_key=" PUB1_HEX "\nendpoint=host:1\n", ERR_PARSE, NULL);
	show_fails("h2=9-1\n", -EINVAL,
	           "reply line 1: h2: \"9-1\": range start must not exceed its end (expected N or LO-HI with 0 <= LO <= "
	           "HI <= 4294967295)");
	struct buf out;
	buf_init(&out, 20);
	assert_int_equal(conf_from_uapi(get_reply, strlen(get_reply), &out, NULL, 0), ERR_TOOBIG);
	buf_fini_secret(&out);
}

/* ---- allocation failures ----------------------------------------------------------------------- */

static int parse_full(void *ctx)
{
	struct conf c;
	struct buf out;
	buf_init(&out, 1 << 20);
	int rc = parse_text(&c, ctx, CONF_REPLACE_PEERS, &out);
	if (!rc && strstr((char *)out.data, "replace_peers=true\n") == NULL)
		rc = -EFAULT;
	conf_fini(&c);
	buf_fini_secret(&out);
	return rc;
}

static int show_full(void *ctx)
{
	struct buf out;
	buf_init(&out, 1 << 20);
	int rc = conf_from_uapi(ctx, strlen(ctx), &out, NULL, 0);
	if (!rc && strcmp((char *)out.data, shown_conf))
		rc = -EFAULT;
	buf_fini_secret(&out);
	return rc;
}

static void parsing_and_showing_survive_every_allocation_failure(void **state)
{
	assert_true(support_alloc_failure_loop(parse_full, (void *)full_conf) > 20);
	assert_true(support_alloc_failure_loop(show_full, (void *)get_reply) > 10);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(a_full_awg_config_becomes_exact_uapi_set_text),
		cmocka_unit_test(setconf_semantics_add_replace_peers_after_the_device_keys),
		cmocka_unit_test(device_keys_come_first_even_when_the_interface_follows_the_peers),
		cmocka_unit_test(whitespace_comments_case_and_crlf_are_tolerated),
		cmocka_unit_test(allowed_ips_are_canonical_masked_and_may_be_empty),
		cmocka_unit_test(wg_quick_keys_are_returned_in_file_order_and_not_sent),
		cmocka_unit_test(awg_1_5_keys_are_accepted_and_not_sent),
		cmocka_unit_test(bad_lines_are_reported_with_their_number_the_line_and_what_is_valid),
		cmocka_unit_test(key_values_never_appear_in_error_messages),
		cmocka_unit_test(a_peer_without_a_public_key_is_reported_at_its_header),
		cmocka_unit_test(awg_parameters_that_conflict_are_reported_at_the_offending_line),
		cmocka_unit_test(errors_are_sticky_and_overlong_lines_are_refused),
		cmocka_unit_test(a_small_output_buffer_is_an_error_not_a_truncation),
		cmocka_unit_test(a_get_reply_becomes_a_config_file_that_converts_back_to_set_text),
		cmocka_unit_test(a_plain_device_shows_only_an_interface_section),
		cmocka_unit_test(many_allowed_ips_are_shown_on_several_lines_that_parse_back),
		cmocka_unit_test(a_bad_get_reply_is_refused_with_the_reason),
		cmocka_unit_test(parsing_and_showing_survive_every_allocation_failure),
	};
	return run_group(tests);
}
