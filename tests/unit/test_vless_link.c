/* vless:// share links (specs/reality.md §4): what panels write parses,
 * what we cannot honour is refused with a message naming it, and our own
 * links parse back to the same settings. */
#include "support.h"

#include <errno.h>
#include <string.h>

#include "lib/err.h"
#include "reality/vless_link.h"

#define UUID "b831381d-6324-4d53-ad4f-8cda48b30811"
#define PBK  "E59WjnvZcQMu7tR7_BgyhycuEdBS-CtKxfImRCdAvFM"
#define PBK_HEX "139f568e7bd971032eeed47bfc183287272e11d052f82b4ac5f226442740bc53"

static void a_typical_panel_link_parses(void **state)
{
	(void)state;
	struct vless_link l;
	char err[VLESS_LINK_ERR_MAX];
	uint8_t pbk[32], uuid[16];
	const char *s = "vless://" UUID "@203.0.113.7:443?type=tcp&security=reality&pbk=" PBK
	                "&fp=chrome&sni=www.example.com&sid=0123abcd&spx=%2F&flow=xtls-rprx-vision#My%20node%20%E2%9C%93";
	assert_int_equal(vless_link_parse(&l, s, err, sizeof(err)), 0);
	assert_string_equal(l.id, UUID);
	support_unhex("b831381d63244d53ad4f8cda48b30811", uuid, 16);
	assert_memory_equal(l.uuid, uuid, 16);
	assert_string_equal(l.host, "203.0.113.7");
	assert_false(l.host_ipv6);
	assert_int_equal(l.port, 443);
	assert_string_equal(l.sni, "www.example.com");
	support_unhex(PBK_HEX, pbk, 32);
	assert_memory_equal(l.pbk, pbk, 32);
	assert_string_equal(l.sid, "0123abcd");
	assert_memory_equal(l.short_id, "\x01\x23\xab\xcd\0\0\0\0", 8);
	assert_string_equal(l.spx, "/");
	assert_true(l.vision);
	assert_false(l.vision_udp443);
	assert_string_equal(l.label, "My node \xe2\x9c\x93");
}

static void defaults_follow_xray(void **state)
{
	(void)state;
	struct vless_link l;
	/* No flow, no sid, no sni: the name is the host; an address gives none. */
	assert_int_equal(vless_link_parse(&l, "vless://" UUID "@proxy.example.net:8443/?security=reality&pbk=" PBK,
	                                  NULL, 0),
	                 0);
	assert_string_equal(l.sni, "proxy.example.net");
	assert_false(l.vision);
	assert_string_equal(l.sid, "");
	assert_memory_equal(l.short_id, "\0\0\0\0\0\0\0\0", 8);
	assert_int_equal(l.port, 8443);
	assert_int_equal(vless_link_parse(&l, "VLESS://" UUID "@[2001:db8::1]:443?security=reality&pbk=" PBK
	                                      "&flow=xtls-rprx-vision-udp443",
	                                  NULL, 0),
	                 0);
	assert_true(l.host_ipv6);
	assert_string_equal(l.host, "2001:db8::1");
	assert_string_equal(l.sni, "");
	assert_true(l.vision && l.vision_udp443);
	/* A non-UUID id of up to 30 characters maps as Xray maps it. */
	assert_int_equal(vless_link_parse(&l, "vless://example@h.test:443?security=reality&pbk=" PBK, NULL, 0), 0);
	uint8_t want[16];
	support_unhex("feb54431301b52bba6dde1e93e81bb9e", want, 16);
	assert_memory_equal(l.uuid, want, 16);
}

static void what_we_cannot_honour_is_refused_with_its_name(void **state)
{
	(void)state;
	static const struct {
		const char *link, *says;
	} bad[] = {
		{"vmess://" UUID "@h.test:443?security=reality&pbk=" PBK, "vless://"},
		{"vless://" UUID "@h.test:443?security=tls&pbk=" PBK, "security=\"tls\""},
		{"vless://" UUID "@h.test:443?pbk=" PBK, "security=reality is missing"},
		{"vless://" UUID "@h.test:443?security=reality", "pbk"},
		{"vless://" UUID "@h.test:443?security=reality&pbk=" PBK "&type=ws", "type=\"ws\""},
		{"vless://" UUID "@h.test:443?security=reality&pbk=" PBK "&fp=firefox", "fp=\"firefox\""},
		{"vless://" UUID "@h.test:443?security=reality&pbk=" PBK "&encryption=mlkem768x25519plus", "encryption="},
		{"vless://" UUID "@h.test:443?security=reality&pbk=" PBK "&flow=xtls-rprx-direct", "flow=\"xtls-rprx-direct\""},
		{"vless://" UUID "@h.test:443?security=reality&pbk=" PBK "&pqv=AAAA", "pqv"},
		{"vless://" UUID "@h.test:443?security=reality&pbk=" PBK "&path=%2F", "unknown parameter \"path\""},
		{"vless://" UUID "@h.test:443?security=reality&pbk=" PBK "&sid=abc", "sid=\"abc\""},
		{"vless://" UUID "@h.test:443?security=reality&pbk=" PBK "&sid=0123456789abcdef01", "sid="},
		{"vless://" UUID "@h.test:443?security=reality&pbk=E59Wjnv", "pbk=\"E59Wjnv\""},
		{"vless://" UUID "@h.test:443?security=reality&pbk=" PBK "&pbk=" PBK, "given twice"},
		{"vless://" UUID "@h.test:443?security=reality&pbk=" PBK "&", "ends with '&'"},
		{"vless://" UUID "@h.test:443?security=reality&pbk=" PBK "&sni", "KEY=VALUE"},
		{"vless://" UUID "@h.test:443?security=reality&pbk=" PBK "&sni=bad%2", "percent"},
		{"vless://" UUID "@h.test:443?security=reality&pbk=" PBK "&sni=a%00b", "percent"},
		{"vless://" UUID "@h.test:443?security=reality&pbk=" PBK "&sni=bad_name", "sni=\"bad_name\""},
		{"vless://" UUID "@h.test:443?security=reality&pbk=" PBK "&spx=home", "spx=\"home\""},
		{"vless://" UUID "@h.test?security=reality&pbk=" PBK, "no port"},
		{"vless://" UUID "@h.test:0?security=reality&pbk=" PBK, "port \"0\""},
		{"vless://" UUID "@h.test:65536?security=reality&pbk=" PBK, "port \"65536\""},
		{"vless://" UUID "@h.test:+443?security=reality&pbk=" PBK, "port"},
		{"vless://" UUID "@h..test:443?security=reality&pbk=" PBK, "host \"h..test\""},
		{"vless://" UUID "@300.1.2.3:443?security=reality&pbk=" PBK, "host \"300.1.2.3\""},
		{"vless://" UUID "@[2001:db8::1:443?security=reality&pbk=" PBK, "']'"},
		{"vless://" UUID "@[nothex]:443?security=reality&pbk=" PBK, "IPv6"},
		{"vless://" UUID "@2001:db8::1:443?security=reality&pbk=" PBK, "host"},
		{"vless://h.test:443?security=reality&pbk=" PBK, "ID@HOST:PORT"},
		{"vless://a@b@h.test:443?security=reality&pbk=" PBK, "ID@HOST:PORT"},
		{"vless://this-id-is-far-too-long-to-be-mapped-to-a-uuid@h.test:443?security=reality&pbk=" PBK, "user id"},
		{"vless://" UUID "@h.test:443?security=reality&pbk=" PBK "#bad%zz", "label"},
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct vless_link l;
		char err[VLESS_LINK_ERR_MAX] = "";
		int rc = vless_link_parse(&l, bad[i].link, err, sizeof(err));
		if (rc != -EINVAL || !strstr(err, bad[i].says))
			fail_msg("link %zu (%s): rc %d, message \"%s\", wanted it to mention %s", i, bad[i].link, rc, err,
			         bad[i].says);
		assert_int_equal(l.port, 0); /* zeroed on failure */
	}
}

static void an_overlong_link_is_refused(void **state)
{
	(void)state;
	static char s[2 * VLESS_LINK_MAX];
	char err[VLESS_LINK_ERR_MAX];
	struct vless_link l;
	strcpy(s, "vless://" UUID "@h.test:443?security=reality&pbk=" PBK "#");
	memset(s + strlen(s), 'x', VLESS_LINK_MAX);
	assert_int_equal(vless_link_parse(&l, s, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "longer"));
}

static void formatted_links_parse_back_to_the_same_settings(void **state)
{
	(void)state;
	static const char *links[] = {
		"vless://" UUID "@203.0.113.7:443?type=tcp&security=reality&pbk=" PBK
		"&fp=chrome&sni=www.example.com&sid=0123abcd&spx=%2Fa%20b%3F&flow=xtls-rprx-vision#n%C3%A4me%20%23%26",
		"vless://" UUID "@[2001:db8::7]:8443?security=reality&pbk=" PBK "&flow=xtls-rprx-vision-udp443",
		"vless://example@h.test:1?security=reality&pbk=" PBK "&sni=",
	};
	for (size_t i = 0; i < sizeof(links) / sizeof(links[0]); i++) {
		struct vless_link a, b;
		char out[VLESS_LINK_MAX], err[VLESS_LINK_ERR_MAX];
		assert_int_equal(vless_link_parse(&a, links[i], err, sizeof(err)), 0);
		assert_int_equal(vless_link_format(&a, out, sizeof(out)), 0);
		assert_int_equal(vless_link_parse(&b, out, err, sizeof(err)), 0);
		assert_memory_equal(&a, &b, sizeof(a));
		assert_int_equal(vless_link_format(&a, out, 20), -ENOSPC);
		assert_string_equal(out, "");
	}
}

static void the_formatted_link_is_the_standard_one(void **state)
{
	(void)state;
	struct vless_link l;
	char out[VLESS_LINK_MAX];
	assert_int_equal(vless_link_parse(&l, "vless://" UUID "@203.0.113.7:443?security=reality&pbk=" PBK
	                                      "&sni=www.example.com&sid=ab&flow=xtls-rprx-vision#a b",
	                                  NULL, 0),
	                 -EINVAL); /* spaces must be percent-encoded */
	assert_int_equal(vless_link_parse(&l, "vless://" UUID "@203.0.113.7:443?security=reality&pbk=" PBK
	                                      "&sni=www.example.com&sid=ab&flow=xtls-rprx-vision#a%20b",
	                                  NULL, 0),
	                 0);
	assert_int_equal(vless_link_format(&l, out, sizeof(out)), 0);
	assert_string_equal(out, "vless://" UUID "@203.0.113.7:443?encryption=none&type=tcp&security=reality"
	                         "&sni=www.example.com&fp=chrome&pbk=" PBK "&sid=ab&flow=xtls-rprx-vision"
	                         "&headerType=none#a%20b");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(a_typical_panel_link_parses),
		cmocka_unit_test(defaults_follow_xray),
		cmocka_unit_test(what_we_cannot_honour_is_refused_with_its_name),
		cmocka_unit_test(an_overlong_link_is_refused),
		cmocka_unit_test(formatted_links_parse_back_to_the_same_settings),
		cmocka_unit_test(the_formatted_link_is_the_standard_one),
	};
	return run_group(tests);
}
