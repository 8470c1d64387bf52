/* The CLI's side of the UAPI protocol (src/awg/uapi_client.c): get replies
 * parsed into a device, `set` command lines built into set transactions. */
#include "support.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "awg/uapi_client.h"
#include "lib/buf.h"
#include "lib/enc.h"
#include "lib/mem.h"

/* specs/awg.md §5.2: initiator static key pair, responder public key. */
#define PRIV_HEX "e61ef9919cde45dd5f82166404bd08e38bceb5dfdfded0a34c8df7ed542214d1"
#define PUB_HEX "6bc3822a2aa7f4e6981d6538692b3cdf3e6df9eea6ed269eb41d93c22757b75a"
#define PEER1_HEX "31e0303fd6418d2f8c0e78b91f22e8caed0fbe48656dcf4767e4834f701b8f62"
#define PEER1_B64 "MeAwP9ZBjS+MDni5HyLoyu0Pvkhlbc9HZ+SDT3Abj2I="
#define PEER2_HEX "6bc3822a2aa7f4e6981d6538692b3cdf3e6df9eea6ed269eb41d93c22757b75a"
#define PEER2_B64 "a8OCKiqn9OaYHWU4aSs83z5t+e6m7SaetB2TwidXt1o="
#define PSK_HEX "0101010101010101010101010101010101010101010101010101010101010101"
#define ZERO_HEX "0000000000000000000000000000000000000000000000000000000000000000"

static const char full_reply[] =
	"private_key=" PRIV_HEX "\n"
	"listen_port=51820\n"
	"fwmark=4660\n"
	"jc=4\n"
	"jmin=40\n"
	"jmax=70\n"
	"s1=15\n"
	"s2=68\n"
	"s3=0\n"
	"s4=20\n"
	"h1=100-200\n"
	"h2=300\n"
	"h3=3\n"
	"h4=400-500\n"
	"i1=<b 0xc000000001><r 16>\n"
	"i2=\n"
	"future_device_key=whatever\n"
	"public_key=" PEER1_HEX "\n"
	"preshared_key=" PSK_HEX "\n"
	"protocol_version=1\n"
	"endpoint=192.0.2.1:51820\n"
	"last_handshake_time_sec=1700000000\n"
	"last_handshake_time_nsec=5\n"
	"tx_bytes=1000\n"
	"rx_bytes=2048\n"
	"persistent_keepalive_interval=25\n"
	"allowed_ip=10.0.0.2/32\n"
	"allowed_ip=fd00::/64\n"
	"future_peer_key=1\n"
	"public_key=" PEER2_HEX "\n"
	"preshared_key=" ZERO_HEX "\n"
	"endpoint=[2001:db8::1]:4500\n"
	"last_handshake_time_sec=0\n"
	"last_handshake_time_nsec=0\n"
	"tx_bytes=0\n"
	"rx_bytes=0\n"
	"persistent_keepalive_interval=0\n"
	"errno=0\n"
	"\n";

static struct uapi_client_device *parse_ok(const char *text)
{
	struct uapi_client_device *dev = NULL;
	char err[192] = "";
	int rc = uapi_client_parse_reply(text, strlen(text), &dev, err, sizeof(err));
	if (rc != 0)
		fail_msg("parse failed (%d): %s", rc, err);
	assert_non_null(dev);
	return dev;
}

static int parse_rc(const char *text, char *err, size_t errlen)
{
	struct uapi_client_device *dev = NULL;
	int rc = uapi_client_parse_reply(text, strlen(text), &dev, err, errlen);
	if (rc < 0)
		assert_null(dev);
	uapi_client_device_free(dev);
	return rc;
}

static void a_wireguard_go_style_reply_fills_device_and_peers(void **state)
{
	struct uapi_client_device *dev = parse_ok(full_reply);
	uint8_t key[32];

	support_unhex(PRIV_HEX, key, 32);
	assert_true(dev->has_private_key);
	assert_memory_equal(dev->private_key, key, 32);
	support_unhex(PUB_HEX, key, 32);
	assert_memory_equal(dev->public_key, key, 32);
	assert_int_equal(dev->listen_port, 51820);
	assert_int_equal(dev->fwmark, 4660);
	assert_int_equal(dev->n_peers, 2);

	const struct uapi_client_peer *p = &dev->peers[0];
	support_unhex(PEER1_HEX, key, 32);
	assert_memory_equal(p->public_key, key, 32);
	assert_true(p->has_preshared_key);
	assert_true(p->has_endpoint);
	assert_int_equal(p->endpoint.sa.sa_family, AF_INET);
	assert_int_equal(ntohs(p->endpoint.in4.sin_port), 51820);
	assert_int_equal(p->last_handshake_sec, 1700000000);
	assert_int_equal(p->last_handshake_nsec, 5);
	assert_int_equal(p->tx_bytes, 1000);
	assert_int_equal(p->rx_bytes, 2048);
	assert_int_equal(p->persistent_keepalive, 25);
	assert_int_equal(p->n_allowed_ips, 2);
	assert_int_equal(p->allowed_ips[0].addr.family, AF_INET);
	assert_int_equal(p->allowed_ips[0].prefix, 32);
	assert_int_equal(p->allowed_ips[1].addr.family, AF_INET6);
	assert_int_equal(p->allowed_ips[1].prefix, 64);

	p = &dev->peers[1];
	assert_false(p->has_preshared_key);
	assert_int_equal(p->endpoint.sa.sa_family, AF_INET6);
	assert_int_equal(ntohs(p->endpoint.in6.sin6_port), 4500);
	assert_int_equal(p->n_allowed_ips, 0);
	uapi_client_device_free(dev);
}

static void awg_keys_are_parsed_and_defaults_are_not_reported_as_set(void **state)
{
	struct uapi_client_device *dev = parse_ok(full_reply);
	const struct uapi_client_awg *a = &dev->awg;
	char v[64];

	assert_int_equal(a->jc, 4);
	assert_int_equal(a->jmin, 40);
	assert_int_equal(a->jmax, 70);
	assert_int_equal(a->s[0], 15);
	assert_int_equal(a->s[1], 68);
	assert_int_equal(a->s[3], 20);
	assert_int_equal(a->h[0].lo, 100);
	assert_int_equal(a->h[0].hi, 200);
	assert_string_equal(uapi_client_awg_value(a, UAPI_CLIENT_H1, v, sizeof(v)), "100-200");
	assert_string_equal(uapi_client_awg_value(a, UAPI_CLIENT_H2, v, sizeof(v)), "300");
	assert_string_equal(a->i[0], "<b 0xc000000001><r 16>");
	assert_null(a->i[1]); /* empty value = unset */

	assert_true(uapi_client_awg_is_set(a, UAPI_CLIENT_JC));
	assert_true(uapi_client_awg_is_set(a, UAPI_CLIENT_H1));
	assert_false(uapi_client_awg_is_set(a, UAPI_CLIENT_S3)); /* 0 */
	assert_false(uapi_client_awg_is_set(a, UAPI_CLIENT_H3)); /* 3 is H3's default */
	assert_false(uapi_client_awg_is_set(a, UAPI_CLIENT_I2));
	assert_true(a->present & (1u << UAPI_CLIENT_S3));
	assert_string_equal(uapi_client_awg_key_name(UAPI_CLIENT_JMAX), "jmax");
	assert_string_equal(uapi_client_awg_conf_name(UAPI_CLIENT_I5), "I5");
	uapi_client_device_free(dev);
}

static void a_plain_wireguard_reply_has_default_awg_values(void **state)
{
	struct uapi_client_device *dev = parse_ok("listen_port=1\nerrno=0\n\n");
	for (int k = 0; k < UAPI_CLIENT_AWG_COUNT; k++)
		assert_false(uapi_client_awg_is_set(&dev->awg, k));
	assert_false(dev->has_private_key);
	assert_int_equal(dev->n_peers, 0);
	uapi_client_device_free(dev);
}

static void unknown_keys_and_device_keys_inside_a_peer_are_skipped(void **state)
{
	struct uapi_client_device *dev = parse_ok("listen_port=5\n"
	                                          "header_protection_key=" ZERO_HEX "\n"
	                                          "public_key=" PEER1_HEX "\n"
	                                          "listen_port=7\n"
	                                          "jc=9\n"
	                                          "random_trailers=1\n"
	                                          "errno=0\n\n");
	assert_int_equal(dev->listen_port, 5);
	assert_int_equal(dev->awg.jc, 0);
	assert_int_equal(dev->n_peers, 1);
	uapi_client_device_free(dev);
}

static void an_all_zero_private_key_means_none(void **state)
{
	struct uapi_client_device *dev = parse_ok("private_key=" ZERO_HEX "\nerrno=0\n\n");
	assert_false(dev->has_private_key);
	uapi_client_device_free(dev);
}

static void malformed_numbers_are_rejected_as_protocol_errors(void **state)
{
	static const char *const bad[] = {
		"listen_port=65536\n",
		"listen_port=-1\n",
		"listen_port=+1\n",
		"listen_port= 1\n",
		"listen_port=1x\n",
		"listen_port=\n",
		"fwmark=0x10\n",
		"fwmark=4294967296\n",
		"jc=99999999999999999999999\n",
		"s1=65536\n",
		"h1=200-100\n",
		"h1=1-\n",
		"h2=-5\n",
		"public_key=" PEER1_HEX "\nrx_bytes=18446744073709551616\n",
		"public_key=" PEER1_HEX "\nlast_handshake_time_nsec=1000000000\n",
		"public_key=" PEER1_HEX "\npersistent_keepalive_interval=65536\n",
		"public_key=" PEER1_HEX "\npersistent_keepalive_interval=1-5\n",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		char text[512], err[192] = "";
		snprintf(text, sizeof(text), "%serrno=0\n\n", bad[i]);
		int rc = parse_rc(text, err, sizeof(err));
		if (rc != -EPROTO)
			fail_msg("\"%s\" gave %d, not -EPROTO", bad[i], rc);
		assert_non_null(strstr(err, "reply line"));
	}
}

static void malformed_keys_and_addresses_are_rejected(void **state)
{
	static const char *const bad[] = {
		"private_key=abcd\n",
		"private_key=" PRIV_HEX "00\n",
		"public_key=zz" PEER1_HEX "\n",
		"public_key=" PEER1_HEX "\npreshared_key=" PRIV_HEX "g\n",
		"public_key=" PEER1_HEX "\nendpoint=192.0.2.1\n",
		"public_key=" PEER1_HEX "\nendpoint=2001:db8::1:51820\n",
		"public_key=" PEER1_HEX "\nendpoint=192.0.2.1:65536\n",
		"public_key=" PEER1_HEX "\nallowed_ip=10.0.0.0/33\n",
		"public_key=" PEER1_HEX "\nallowed_ip=example.com/32\n",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		char text[512], err[192] = "";
		snprintf(text, sizeof(text), "%serrno=0\n\n", bad[i]);
		int rc = parse_rc(text, err, sizeof(err));
		if (rc != -EPROTO)
			fail_msg("\"%s\" gave %d, not -EPROTO", bad[i], rc);
	}
}

static void broken_framing_is_rejected(void **state)
{
	char err[192];
	assert_int_equal(parse_rc("listen_port=1\n\n", err, sizeof(err)), -EPROTO); /* no errno */
	assert_int_equal(parse_rc("listen_port=1\n", err, sizeof(err)), -EPROTO);   /* truncated */
	assert_int_equal(parse_rc("", err, sizeof(err)), -EPROTO);
	assert_int_equal(parse_rc("listen_port\nerrno=0\n\n", err, sizeof(err)), -EPROTO);
	assert_non_null(strstr(err, "no '='"));
	assert_int_equal(parse_rc("errno=0\nlisten_port=1\n\n", err, sizeof(err)), -EPROTO);
	assert_int_equal(parse_rc("errno=0\n\nlisten_port=1\n", err, sizeof(err)), -EPROTO);
	assert_int_equal(parse_rc("errno=x\n\n", err, sizeof(err)), -EPROTO);

	static const char with_nul[] = "listen_port=1\0\nerrno=0\n\n";
	struct uapi_client_device *dev = NULL;
	assert_int_equal(uapi_client_parse_reply(with_nul, sizeof(with_nul) - 1, &dev, err, sizeof(err)), -EPROTO);
	assert_null(dev);
}

static void the_daemons_errno_is_returned_negative_whatever_its_sign(void **state)
{
	char err[192];
	assert_int_equal(parse_rc("errno=-22\n\n", err, sizeof(err)), -EINVAL);
	assert_string_equal(err, ""); /* not a parse error: no message */
	assert_int_equal(parse_rc("errno=19\n\n", err, sizeof(err)), -ENODEV);
	assert_int_equal(parse_rc("errno=0\n\n", err, sizeof(err)), 0);
	/* The final empty line may be missing at EOF. */
	assert_int_equal(parse_rc("errno=0\n", err, sizeof(err)), 0);
}

static void a_line_past_the_cap_is_rejected_as_too_big(void **state)
{
	size_t n = UAPI_CLIENT_MAX_LINE + 16;
	char *text = malloc(n + 32);
	assert_non_null(text);
	memcpy(text, "i1=", 3);
	memset(text + 3, 'a', n - 3);
	strcpy(text + n, "\nerrno=0\n\n");
	char err[192];
	assert_int_equal(parse_rc(text, err, sizeof(err)), -EMSGSIZE);
	free(text);
}

static void the_streaming_parser_gives_the_same_device_line_by_line(void **state)
{
	struct uapi_client_parser p;
	struct uapi_client_device *dev = NULL;
	assert_int_equal(uapi_client_parser_init(&p), 0);
	assert_int_equal(uapi_client_parser_line(&p, "listen_port=9", 13), 0);
	assert_int_equal(uapi_client_parser_line(&p, "public_key=" PEER1_HEX, 75), 0);
	assert_int_equal(uapi_client_parser_line(&p, "errno=0", 7), 0);
	assert_int_equal(uapi_client_parser_line(&p, "", 0), 0);
	assert_true(p.done);
	assert_int_equal(uapi_client_parser_finish(&p, &dev), 0);
	assert_int_equal(dev->listen_port, 9);
	assert_int_equal(dev->n_peers, 1);
	uapi_client_device_free(dev);

	/* Errors stick. */
	assert_int_equal(uapi_client_parser_init(&p), 0);
	assert_int_equal(uapi_client_parser_line(&p, "bad", 3), -EPROTO);
	assert_int_equal(uapi_client_parser_line(&p, "errno=0", 7), -EPROTO);
	assert_int_equal(uapi_client_parser_finish(&p, &dev), -EPROTO);
	assert_null(dev);
}

static void peers_sort_newest_handshake_first_and_never_last(void **state)
{
	struct uapi_client_device *dev = parse_ok("public_key=" PEER1_HEX "\n"
	                                          "last_handshake_time_sec=0\n"
	                                          "public_key=" PEER2_HEX "\n"
	                                          "last_handshake_time_sec=100\n"
	                                          "public_key=" PSK_HEX "\n"
	                                          "last_handshake_time_sec=200\n"
	                                          "errno=0\n\n");
	uapi_client_sort_peers(dev);
	assert_int_equal(dev->peers[0].last_handshake_sec, 200);
	assert_int_equal(dev->peers[1].last_handshake_sec, 100);
	assert_int_equal(dev->peers[2].last_handshake_sec, 0);
	uapi_client_device_free(dev);
}

static int parse_full(void *ctx)
{
	struct uapi_client_device *dev = NULL;
	char err[192];
	int rc = uapi_client_parse_reply(full_reply, sizeof(full_reply) - 1, &dev, err, sizeof(err));
	uapi_client_device_free(dev);
	return rc;
}

static void every_allocation_failure_while_parsing_unwinds(void **state)
{
	assert_true(support_alloc_failure_loop(parse_full, NULL) > 3);
}

/* ---- set builder ---- */

/* Key files for the tests: "priv" and "psk" hold keys, "empty" is empty,
 * anything else does not exist. */
static int fake_read_key(void *ctx, const char *path, uint8_t key[32], char *err, size_t errlen)
{
	if (!strcmp(path, "priv")) {
		support_unhex(PRIV_HEX, key, 32);
	} else if (!strcmp(path, "psk")) {
		memset(key, 1, 32);
	} else if (!strcmp(path, "empty")) {
		memset(key, 0, 32);
	} else {
		snprintf(err, errlen, "Unable to read key file '%s'", path);
		return -ENOENT;
	}
	return 0;
}

static const struct uapi_client_set_io fake_io = { .read_key_file = fake_read_key };

static int build(const char *const *argv, int argc, struct buf *body, char *err, size_t errlen)
{
	buf_init(body, 1 << 20);
	return uapi_client_build_set(argc, argv, &fake_io, body, err, errlen);
}

#define ARGC(a) ((int)(sizeof(a) / sizeof(a[0])))

static void a_complex_set_command_line_becomes_one_transaction(void **state)
{
	static const char *const argv[] = {
		"private-key", "priv", "listen-port", "51820", "fwmark", "0x1234", "jc", "4", "jmin", "40", "jmax",
		"70", "s1", "15", "s4", "20", "h1", "100-200", "h2", "300-300", "i1", "<b 0xc0ff><r 8>",
		"peer", PEER1_B64, "preshared-key", "psk", "endpoint", "192.0.2.1:51820", "persistent-keepalive", "25",
		"allowed-ips", "10.0.0.2/32, fd00::1/64,10.1.2.3",
		"peer", PEER2_B64, "remove",
		"peer", PEER1_B64, "preshared-key", "empty", "persistent-keepalive", "off", "allowed-ips", "+10.9.0.0/16,-10.0.0.2",
	};
	struct buf body;
	char err[256] = "";
	int rc = build(argv, ARGC(argv), &body, err, sizeof(err));
	if (rc)
		fail_msg("build failed (%d): %s", rc, err);
	const char *expect =
		"private_key=" PRIV_HEX "\n"
		"listen_port=51820\n"
		"fwmark=4660\n"
		"jc=4\n"
		"jmin=40\n"
		"jmax=70\n"
		"s1=15\n"
		"s4=20\n"
		"h1=100-200\n"
		"h2=300\n"
		"i1=<b 0xc0ff><r 8>\n"
		"public_key=" PEER1_HEX "\n"
		"preshared_key=" PSK_HEX "\n"
		"endpoint=192.0.2.1:51820\n"
		"persistent_keepalive_interval=25\n"
		"replace_allowed_ips=true\n"
		"allowed_ip=10.0.0.2/32\n"
		"allowed_ip=fd00::/64\n"
		"allowed_ip=10.1.2.3/32\n"
		"public_key=" PEER2_HEX "\n"
		"remove=true\n"
		"public_key=" PEER1_HEX "\n"
		"preshared_key=" ZERO_HEX "\n"
		"persistent_keepalive_interval=0\n"
		"allowed_ip=10.9.0.0/16\n"
		"allowed_ip=-10.0.0.2/32\n";
	assert_string_equal((const char *)body.data, expect);
	buf_fini_secret(&body);
}

static void an_ipv6_endpoint_and_an_empty_allowed_ips_list_are_accepted(void **state)
{
	static const char *const argv[] = { "peer", PEER1_B64, "endpoint", "[2001:db8::1]:4500", "allowed-ips", "" };
	struct buf body;
	char err[256] = "";
	assert_int_equal(build(argv, ARGC(argv), &body, err, sizeof(err)), 0);
	assert_string_equal((const char *)body.data, "public_key=" PEER1_HEX "\n"
	                                             "endpoint=[2001:db8::1]:4500\n"
	                                             "replace_allowed_ips=true\n");
	buf_fini_secret(&body);
}

static void an_empty_command_line_builds_an_empty_transaction(void **state)
{
	struct buf body;
	char err[64];
	assert_int_equal(build(NULL, 0, &body, err, sizeof(err)), 0);
	assert_int_equal(body.len, 0);
	buf_fini_secret(&body);
}

struct bad_case {
	const char *argv[6];
	int argc;
	const char *msg_part; /* the message must contain this */
};

static void bad_set_arguments_are_named_with_what_is_valid(void **state)
{
	static const struct bad_case cases[] = {
		{ { "listen-port", "65536" }, 2, "listen-port '65536'" },
		{ { "listen-port" }, 1, "'listen-port' needs a value" },
		{ { "bogus", "1" }, 2, "Unknown argument 'bogus'" },
		{ { "fwmark", "0xfffffffff" }, 2, "fwmark" },
		{ { "h1", "200-100" }, 2, "h1" },
		{ { "jc", "x" }, 2, "jc" },
		{ { "i1", "<nope>" }, 2, "i1" },
		{ { "private-key", "missing" }, 2, "missing" },
		{ { "peer", "not-base64" }, 2, "Invalid peer public key 'not-base64'" },
		{ { "peer", PEER1_B64, "listen-port", "1" }, 4, "interface option" },
		{ { "peer", PEER1_B64, "endpoint", "example.com:1" }, 4, "Invalid endpoint 'example.com:1'" },
		{ { "peer", PEER1_B64, "endpoint", "192.0.2.1:99999" }, 4, "Invalid endpoint" },
		{ { "peer", PEER1_B64, "persistent-keepalive", "65536" }, 4, "'off'" },
		{ { "peer", PEER1_B64, "allowed-ips", "10.0.0.0/33" }, 4, "allowed-ips entry '10.0.0.0/33'" },
		{ { "peer", PEER1_B64, "jmin", "1" }, 4, "interface option" },
		{ { "peer", PEER1_B64, "frobnicate", "1" }, 4, "valid after 'peer'" },
		{ { "remove" }, 1, "Unknown argument 'remove'" },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct buf body;
		char err[256] = "";
		int rc = build(cases[i].argv, cases[i].argc, &body, err, sizeof(err));
		buf_fini_secret(&body);
		if (rc >= 0)
			fail_msg("case %zu (%s) was accepted", i, cases[i].argv[cases[i].argc - 1]);
		if (!strstr(err, cases[i].msg_part))
			fail_msg("case %zu: message \"%s\" lacks \"%s\"", i, err, cases[i].msg_part);
	}
}

static void a_removal_is_appended_for_syncconf(void **state)
{
	struct buf body;
	uint8_t key[32];
	buf_init(&body, 1024);
	support_unhex(PEER1_HEX, key, 32);
	assert_int_equal(uapi_client_body_add_remove_peer(&body, key), 0);
	assert_string_equal((const char *)body.data, "public_key=" PEER1_HEX "\nremove=true\n");
	buf_fini_secret(&body);

	buf_init(&body, 10); /* too small: nothing is left behind */
	assert_true(uapi_client_body_add_remove_peer(&body, key) < 0);
	assert_int_equal(body.len, 0);
	buf_fini_secret(&body);
}

static int build_complex(void *ctx)
{
	static const char *const argv[] = {
		"private-key", "priv", "h1", "5-10", "i2", "<r 4>", "peer", PEER1_B64, "allowed-ips", "10.0.0.0/8,fd00::/8",
	};
	struct buf body;
	char err[256];
	int rc = build(argv, ARGC(argv), &body, err, sizeof(err));
	buf_fini_secret(&body);
	return rc;
}

static void every_allocation_failure_while_building_unwinds(void **state)
{
	assert_true(support_alloc_failure_loop(build_complex, NULL) > 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(a_wireguard_go_style_reply_fills_device_and_peers),
		cmocka_unit_test(awg_keys_are_parsed_and_defaults_are_not_reported_as_set),
		cmocka_unit_test(a_plain_wireguard_reply_has_default_awg_values),
		cmocka_unit_test(unknown_keys_and_device_keys_inside_a_peer_are_skipped),
		cmocka_unit_test(an_all_zero_private_key_means_none),
		cmocka_unit_test(malformed_numbers_are_rejected_as_protocol_errors),
		cmocka_unit_test(malformed_keys_and_addresses_are_rejected),
		cmocka_unit_test(broken_framing_is_rejected),
		cmocka_unit_test(the_daemons_errno_is_returned_negative_whatever_its_sign),
		cmocka_unit_test(a_line_past_the_cap_is_rejected_as_too_big),
		cmocka_unit_test(the_streaming_parser_gives_the_same_device_line_by_line),
		cmocka_unit_test(peers_sort_newest_handshake_first_and_never_last),
		cmocka_unit_test(every_allocation_failure_while_parsing_unwinds),
		cmocka_unit_test(a_complex_set_command_line_becomes_one_transaction),
		cmocka_unit_test(an_ipv6_endpoint_and_an_empty_allowed_ips_list_are_accepted),
		cmocka_unit_test(an_empty_command_line_builds_an_empty_transaction),
		cmocka_unit_test(bad_set_arguments_are_named_with_what_is_valid),
		cmocka_unit_test(a_removal_is_appended_for_syncconf),
		cmocka_unit_test(every_allocation_failure_while_building_unwinds),
	};
	return run_group(tests);
}
