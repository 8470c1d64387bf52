#include "support.h"

#include <errno.h>
#include <jansson.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/enc.h"
#include "lib/mem.h"
#include "profile/profile.h"

/* The documented example (DESIGN.md §11, "Profiles as built"). */
static const char sample[] =
	"{\n"
	"  \"v\": 1,\n"
	"  \"fleet_id\": \"home\",\n"
	"  \"fleet_name\": \"Home fleet\",\n"
	"  \"device_id\": \"dev-7\",\n"
	"  \"device_name\": \"laptop\",\n"
	"  \"user\": \"alice@example.com\",\n"
	"  \"address4\": \"10.86.0.7/32\",\n"
	"  \"address6\": \"fd86:ea04:1111::7/128\",\n"
	"  \"dns\": [\"10.86.0.1\", \"2001:db8::53\"],\n"
	"  \"rotation\": {\"enabled\": true, \"interval\": 600, \"jitter\": 120},\n"
	"  \"revision\": 42,\n"
	"  \"nodes\": [\n"
	"    {\"id\": \"node-a\", \"name\": \"Node A\", \"region\": \"eu-west\",\n"
	"     \"endpoints\": [\"198.51.100.10\", \"198.51.100.11\", \"2001:db8:a::10\"],\n"
	"     \"port_lo\": 443, \"port_hi\": 446,\n"
	"     \"protocols\": [\n"
	"       {\"type\": \"amneziawg\", \"v\": 2,\n"
	"        \"public_key\": \"AQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQE=\",\n"
	"        \"preshared_key\": \"AgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgI=\",\n"
	"        \"keepalive\": 25, \"mtu\": 1420,\n"
	"        \"obfuscation\": {\"jc\": 4, \"jmin\": 40, \"jmax\": 70, \"s1\": 15, \"s2\": 18, \"s3\": 20,\n"
	"                        \"s4\": 23, \"h1\": 1234567, \"h2\": \"2000000-2000100\", \"h3\": 3456789,\n"
	"                        \"h4\": 4567890, \"i1\": \"<b 0xf00d><r 16>\"}},\n"
	"       {\"type\": \"xray-reality\", \"v\": 1,\n"
	"        \"uuid\": \"6f2c1d3e-8a9b-4c5d-9e0f-112233445566\",\n"
	"        \"public_key\": \"AwMDAwMDAwMDAwMDAwMDAwMDAwMDAwMDAwMDAwMDAwM=\",\n"
	"        \"short_id\": \"0123abcd\", \"server_name\": \"www.example.com\",\n"
	"        \"flow\": \"xtls-rprx-vision\", \"port\": 443}\n"
	"     ]},\n"
	"    {\"id\": \"node-b\", \"name\": \"Node B\", \"region\": \"\",\n"
	"     \"endpoints\": [\"198.51.100.20\"], \"port_lo\": 443, \"port_hi\": 443,\n"
	"     \"protocols\": [\n"
	"       {\"type\": \"amneziawg\", \"v\": 2,\n"
	"        \"public_key\": \"BAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQ=\",\n"
	"        \"preshared_key\": \"AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=\",\n"
	"        \"keepalive\": 0, \"mtu\": 1380, \"obfuscation\": {}}\n"
	"     ]}\n"
	"  ]\n"
	"}\n";

/* sample with the first occurrence of from replaced by to (malloc'd). */
static char *edit(const char *from, const char *to)
{
	const char *at = strstr(sample, from);
	if (!at)
		fail_msg("edit: \"%s\" is not in the sample", from);
	size_t a = (size_t)(at - sample), fl = strlen(from), tl = strlen(to), n = strlen(sample);
	char *s = malloc(n - fl + tl + 1);
	memcpy(s, sample, a);
	memcpy(s + a, to, tl);
	memcpy(s + a + tl, at + fl, n - a - fl + 1);
	return s;
}

struct keys {
	uint8_t sign_pk[32], sign_sk[64];
	uint8_t dev_pk[32], dev_sk[32];
	uint8_t other_pk[32], other_sk[32];
};

static void make_keys(struct keys *k)
{
	crypto_sign_keypair(k->sign_pk, k->sign_sk);
	crypto_box_keypair(k->dev_pk, k->dev_sk);
	crypto_box_keypair(k->other_pk, k->other_sk);
}

/* Cheapest Argon2id libsodium allows: the tests are about the format. */
static struct profile_seal_args seal_args(const struct keys *k, enum profile_enc enc)
{
	return (struct profile_seal_args){ .enc = enc, .recipient = k->dev_pk, .password = "correct horse",
					   .signing_sk = k->sign_sk, .opslimit = crypto_pwhash_OPSLIMIT_MIN,
					   .memlimit = crypto_pwhash_MEMLIMIT_MIN };
}

static struct profile_open_args open_args(const struct keys *k)
{
	return (struct profile_open_args){ .device_sk = k->dev_sk, .password = "correct horse" };
}

/* ---- profile JSON ---------------------------------------------------------- */

static void the_documented_sample_parses_into_the_expected_fields(void **state)
{
	struct profile p;
	char err[256];
	uint8_t k1[32];

	assert_int_equal(profile_parse(sample, strlen(sample), &p, err, sizeof(err)), 0);
	assert_string_equal(p.fleet_id, "home");
	assert_string_equal(p.device_name, "laptop");
	assert_string_equal(p.user, "alice@example.com");
	assert_int_equal(p.address4.addr.family, AF_INET);
	assert_int_equal(p.address4.prefix, 32);
	assert_int_equal(p.address6.prefix, 128);
	assert_int_equal(p.n_dns, 2);
	assert_true(p.rotation.enabled);
	assert_int_equal(p.rotation.interval, 600);
	assert_int_equal(p.rotation.jitter, 120);
	assert_int_equal(p.revision, 42);
	assert_int_equal(p.n_nodes, 2);
	assert_int_equal(p.skipped_protocols, 0);
	struct profile_node *a = &p.nodes[0];
	assert_string_equal(a->id, "node-a");
	assert_int_equal(a->n_endpoints, 3);
	assert_int_equal(a->endpoints[2].family, AF_INET6);
	assert_int_equal(a->port_lo, 443);
	assert_int_equal(a->port_hi, 446);
	assert_int_equal(a->n_protocols, 2);
	assert_int_equal(a->protocols[0].type, PROFILE_PROTO_AMNEZIAWG);
	memset(k1, 1, sizeof(k1));
	assert_memory_equal(a->protocols[0].u.awg.public_key, k1, 32);
	assert_int_equal(a->protocols[0].u.awg.keepalive, 25);
	assert_int_equal(a->protocols[0].u.awg.mtu, 1420);
	assert_string_equal(a->protocols[0].u.awg.obfuscation,
			    "jc=4\njmin=40\njmax=70\ns1=15\ns2=18\ns3=20\ns4=23\nh1=1234567\nh2=2000000-2000100\n"
			    "h3=3456789\nh4=4567890\ni1=<b 0xf00d><r 16>\n");
	assert_int_equal(a->protocols[1].type, PROFILE_PROTO_XRAY_REALITY);
	assert_string_equal(a->protocols[1].u.reality.uuid, "6f2c1d3e-8a9b-4c5d-9e0f-112233445566");
	assert_string_equal(a->protocols[1].u.reality.flow, "xtls-rprx-vision");
	assert_int_equal(a->protocols[1].u.reality.port, 443);
	assert_string_equal(p.nodes[1].region, "");
	assert_string_equal(p.nodes[1].protocols[0].u.awg.obfuscation, "h1=1\nh2=2\nh3=3\nh4=4\n");
	profile_free(&p);
	profile_free(&p);
	profile_free(NULL);
}

static void a_profile_survives_json_and_back_unchanged(void **state)
{
	struct profile p, q;
	char *j1 = NULL, *j2 = NULL, err[256];

	assert_int_equal(profile_parse(sample, strlen(sample), &p, err, sizeof(err)), 0);
	assert_int_equal(profile_to_json(&p, &j1), 0);
	assert_int_equal(profile_parse(j1, strlen(j1), &q, err, sizeof(err)), 0);
	assert_int_equal(profile_to_json(&q, &j2), 0);
	assert_string_equal(j1, j2);
	assert_memory_equal(p.nodes[1].protocols[0].u.awg.preshared_key, q.nodes[1].protocols[0].u.awg.preshared_key, 32);
	assert_string_equal(p.nodes[0].protocols[0].u.awg.obfuscation, q.nodes[0].protocols[0].u.awg.obfuscation);
	assert_true(addr_equal(&p.nodes[0].endpoints[2], &q.nodes[0].endpoints[2]));
	assert_true(cidr_equal(&p.address6, &q.address6));
	assert_int_equal(profile_validate(&p, err, sizeof(err)), 0);
	mem_free_secret(j1, strlen(j1) + 1);
	mem_free_secret(j2, strlen(j2) + 1);
	profile_free(&p);
	profile_free(&q);
}

static void unknown_protocol_types_and_newer_versions_are_skipped_and_counted(void **state)
{
	char *s = edit("{\"type\": \"xray-reality\", \"v\": 1,",
		       "{\"type\": \"hysteria\", \"v\": 1, \"x\": [1]}, {\"type\": \"amneziawg\", \"v\": 3, \"new\": 1},"
		       "{\"type\": \"xray-reality\", \"v\": 1,");
	struct profile p;
	char err[256];
	assert_int_equal(profile_parse(s, strlen(s), &p, err, sizeof(err)), 0);
	assert_int_equal(p.skipped_protocols, 2);
	assert_int_equal(p.nodes[0].n_protocols, 2);
	assert_int_equal(p.nodes[0].protocols[1].type, PROFILE_PROTO_XRAY_REALITY);
	profile_free(&p);
	free(s);
}

static void unknown_fields_are_ignored(void **state)
{
	char *s = edit("\"revision\": 42,", "\"revision\": 42, \"future\": {\"a\": [1, 2]}, \"motd\": \"hi\",");
	struct profile p;
	char err[256];
	assert_int_equal(profile_parse(s, strlen(s), &p, err, sizeof(err)), 0);
	assert_int_equal(p.revision, 42);
	profile_free(&p);
	free(s);
}

static const struct bad_case {
	const char *from, *to;
	int rc;
	const char *msg; /* expected prefix of the message */
} bad_cases[] = {
	{ "\"v\": 1,\n  \"fleet_id\"", "\"v\": 2,\n  \"fleet_id\"", ERR_PROTO, "v: profile format 2 is newer" },
	{ "\"v\": 1,\n  \"fleet_id\"", "\"fleet_id\"", ERR_PARSE, "v: missing" },
	{ "\"home\"", "\"ho/me\"", ERR_PARSE, "fleet_id: \"ho/me\" is not a valid name" },
	{ "\"Home fleet\"", "\" Home\"", ERR_PARSE, "fleet_name: \" Home\" is not a valid name" },
	{ "\"dev-7\"", "7", ERR_PARSE, "device_id: want a string" },
	{ "\"laptop\"", "\"\"", ERR_PARSE, "device_name: \"\" is not a valid name" },
	{ "\"alice@example.com\"", "\"alice\"", ERR_PARSE, "user: \"alice\" is not an e-mail address" },
	{ "\"10.86.0.7/32\"", "\"10.86.0.0/16\"", ERR_PARSE, "address4: \"10.86.0.0/16\" is not a single IPv4" },
	{ "\"10.86.0.7/32\"", "\"fd86::7/128\"", ERR_PARSE, "address4: \"fd86::7/128\" is not a single IPv4" },
	{ "\"address4\": \"10.86.0.7/32\",\n  \"address6\": \"fd86:ea04:1111::7/128\",", "", ERR_PARSE,
	  "address4: missing (address4, address6 or both" },
	{ "\"10.86.0.1\", \"2001", "\"10.86.0.1\", \"10.86.0.2\", \"10.86.0.3\", \"10.86.0.4\", \"2001", ERR_TOOBIG,
	  "dns: 5 entries, at most 4" },
	{ "\"2001:db8::53\"", "\"dns.example\"", ERR_PARSE, "dns[1]: \"dns.example\" is not an IPv4 or IPv6" },
	{ "\"enabled\": true", "\"enabled\": 1", ERR_PARSE, "rotation.enabled: want true or false" },
	{ "\"jitter\": 120", "\"jitter\": 600", ERR_RANGE, "rotation.jitter: 600 must be below the interval" },
	{ "\"interval\": 600", "\"interval\": 0", ERR_RANGE, "rotation.interval: must be at least 1" },
	{ "\"interval\": 600", "\"interval\": 604801", ERR_RANGE, "rotation.interval: 604801 is out of range" },
	{ "\"revision\": 42", "\"revision\": -1", ERR_RANGE, "revision: -1 is out of range" },
	{ "\"revision\": 42", "\"revision\": 4.2", ERR_PARSE, "revision: want an integer" },
	{ "\"nodes\": [", "\"nodes\": {}, \"x\": [", ERR_PARSE, "nodes: want an array" },
	{ "{\"id\": \"node-b\"", "{\"id\": \"node-a\"", ERR_PARSE, "nodes[1].id: \"node-a\" is also the id of nodes[0]" },
	{ "\"Node A\"", "\"Node\\nA\"", ERR_PARSE, "nodes[0].name: \"Node\\x0aA\" is not a valid name" },
	{ "[\"198.51.100.20\"]", "[]", ERR_PARSE, "nodes[1].endpoints: at least one address" },
	{ "\"198.51.100.20\"", "\"198.51.100.20:443\"", ERR_PARSE,
	  "nodes[1].endpoints[0]: \"198.51.100.20:443\" is not an IPv4" },
	{ "\"198.51.100.11\"", "\"198.51.100.10\"", ERR_PARSE, "nodes[0].endpoints[1]: the same address as endpoints[0]" },
	{ "\"endpoints\": [\"198.51.100.20\"]", "\"endpoints\": \"198.51.100.20\"", ERR_PARSE,
	  "nodes[1].endpoints: want an array" },
	{ "\"port_hi\": 446", "\"port_hi\": 442", ERR_RANGE, "nodes[0].port_hi: 442 is out of range (443..65535)" },
	{ "\"port_lo\": 443", "\"port_lo\": 0", ERR_RANGE, "nodes[0].port_lo: 0 is out of range (1..65535)" },
	{ "{\"type\": \"amneziawg\", \"v\": 2,\n        \"public_key\": \"AQ", "{\"v\": 2,\n        \"public_key\": \"AQ",
	  ERR_PARSE, "nodes[0].protocols[0].type: missing" },
	{ "\"amneziawg\", \"v\": 2", "\"amneziawg\", \"v\": 0", ERR_PARSE, "nodes[0].protocols[0].v: want a positive" },
	{ "\"AQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQE=\"", "\"AQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQ==\"", ERR_PARSE,
	  "nodes[0].protocols[0].public_key: want a 32-byte key" },
	{ "\"AgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgI=\"", "\"AgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgJ=\"",
	  ERR_PARSE, "nodes[0].protocols[0].preshared_key: want a 32-byte key" },
	{ "\"keepalive\": 25", "\"keepalive\": 65536", ERR_RANGE, "nodes[0].protocols[0].keepalive: 65536 is out of range" },
	{ "\"mtu\": 1420", "\"mtu\": 576", ERR_RANGE, "nodes[0].protocols[0].mtu: 576 is out of range (1280..9000)" },
	{ "\"keepalive\": 25, \"mtu\": 1420,", "\"keepalive\": 25,", ERR_PARSE, "nodes[0].protocols[0].mtu: missing" },
	{ "\"jc\": 4,", "\"jc\": 4, \"zz\": 1,", ERR_PARSE, "nodes[0].protocols[0].obfuscation: unknown key \"zz\"" },
	{ "\"s2\": 18", "\"s2\": 71", ERR_PARSE, "nodes[0].protocols[0].obfuscation: s" },
	{ "\"jmax\": 70", "\"jmax\": 30", ERR_PARSE, "nodes[0].protocols[0].obfuscation: jm" },
	{ "\"h3\": 3456789", "\"h3\": \"2000050\"", ERR_PARSE, "nodes[0].protocols[0].obfuscation: h" },
	{ "\"jc\": 4", "\"jc\": -4", ERR_PARSE, "nodes[0].protocols[0].obfuscation.jc: want a non-negative" },
	{ "\"<b 0xf00d><r 16>\"", "\"<b 0xf00d>\\n<r 16>\"", ERR_PARSE,
	  "nodes[0].protocols[0].obfuscation.i1: contains a control character" },
	{ "\"<b 0xf00d><r 16>\"", "\"<q 5>\"", ERR_PARSE, "nodes[0].protocols[0].obfuscation: i1" },
	{ "\"obfuscation\": {}", "\"obfuscation\": []", ERR_PARSE, "nodes[1].protocols[0].obfuscation: want an object" },
	{ "\"type\": \"xray-reality\", \"v\": 1,", "\"type\": \"amneziawg\", \"v\": 2,", ERR_PARSE,
	  "nodes[0].protocols[1].preshared_key: missing" },
	{ "6f2c1d3e-8a9b", "6f2c1d3e+8a9b", ERR_PARSE, "nodes[0].protocols[1].uuid: \"6f2c1d3e+8a9b" },
	{ "\"0123abcd\"", "\"0123abc\"", ERR_PARSE, "nodes[0].protocols[1].short_id: \"0123abc\" is not 0..16 hex" },
	{ "\"www.example.com\"", "\"www..example.com\"", ERR_PARSE, "nodes[0].protocols[1].server_name: " },
	{ "\"xtls-rprx-vision\"", "\"xtls-rprx-direct\"", ERR_PARSE, "nodes[0].protocols[1].flow: \"xtls-rprx-direct\"" },
	{ "\"port\": 443", "\"port\": 0", ERR_RANGE, "nodes[0].protocols[1].port: 0 is out of range" },
	{ "\"region\": \"\",", "\"region\": \"\", \"x\": 1, \"protocols\": [], \"y\": 2,", ERR_PARSE, "profile: not JSON: duplicate" },
	{ "\"revision\": 42,", "\"revision\": 42,,", ERR_PARSE, "profile: not JSON" },
};

static void each_invalid_field_is_refused_with_its_path_and_reason(void **state)
{
	for (size_t i = 0; i < sizeof(bad_cases) / sizeof(bad_cases[0]); i++) {
		const struct bad_case *b = &bad_cases[i];
		char *s = edit(b->from, b->to), err[256] = "";
		struct profile p;
		int rc = profile_parse(s, strlen(s), &p, err, sizeof(err));
		if (rc != b->rc || strncmp(err, b->msg, strlen(b->msg)) != 0)
			fail_msg("case %zu (%s -> %s): rc %d \"%s\", want %d \"%s...\"", i, b->from, b->to, rc, err,
				 b->rc, b->msg);
		assert_int_equal(p.n_nodes, 0);
		assert_null(p.nodes);
		free(s);
	}
}

static void a_second_entry_of_one_protocol_in_a_node_is_refused(void **state)
{
	char *s = edit("\"obfuscation\": {}}", "\"obfuscation\": {}}, {\"type\": \"amneziawg\", \"v\": 2,"
		       "\"public_key\": \"AQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQE=\","
		       "\"preshared_key\": \"AQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQE=\","
		       "\"keepalive\": 0, \"mtu\": 1380, \"obfuscation\": {}}");
	struct profile p;
	char err[256];
	assert_int_equal(profile_parse(s, strlen(s), &p, err, sizeof(err)), ERR_PARSE);
	assert_string_equal(err, "nodes[1].protocols[1]: a second amneziawg entry");
	free(s);
}

static void oversized_input_is_refused_before_parsing(void **state)
{
	struct profile p;
	char err[256];
	char *big = malloc(PROFILE_JSON_MAX + 2);
	memset(big, ' ', PROFILE_JSON_MAX + 1);
	big[PROFILE_JSON_MAX + 1] = '\0';
	assert_int_equal(profile_parse(big, PROFILE_JSON_MAX + 1, &p, err, sizeof(err)), ERR_TOOBIG);
	free(big);
	assert_int_equal(profile_parse("[1]", 3, &p, err, sizeof(err)), ERR_PARSE);
	assert_string_equal(err, "profile: want a JSON object");
}

static void an_invalid_struct_is_not_written_and_validate_says_why(void **state)
{
	struct profile p;
	char *json = (char *)1, err[256];

	assert_int_equal(profile_parse(sample, strlen(sample), &p, err, sizeof(err)), 0);
	strcpy(p.nodes[1].name, "bad\"name");
	assert_int_equal(profile_to_json(&p, &json), -EINVAL);
	assert_null(json);
	assert_int_equal(profile_validate(&p, err, sizeof(err)), ERR_PARSE);
	assert_string_equal(err, "nodes[1].name: \"bad\\\"name\" is not a valid name (1..64 of A-Z a-z 0-9 . _ @ + - "
				 "and inner spaces)");
	strcpy(p.nodes[1].name, "ok");
	mem_free(p.nodes[0].protocols[0].u.awg.obfuscation);
	p.nodes[0].protocols[0].u.awg.obfuscation = mem_strdup("s1=10\ns2=66\n");
	assert_int_equal(profile_validate(&p, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "nodes[0].protocols[0].obfuscation: s"));
	profile_free(&p);
}

static void names_follow_the_documented_charset(void **state)
{
	assert_true(profile_name_valid("a"));
	assert_true(profile_name_valid("Bob laptop 2"));
	assert_true(profile_name_valid("x.y_z@w+v-u"));
	assert_false(profile_name_valid(""));
	assert_false(profile_name_valid(" a"));
	assert_false(profile_name_valid("a "));
	assert_false(profile_name_valid("a:b"));
	assert_false(profile_name_valid("\xc3\xa9"));
	char long_name[PROFILE_NAME_MAX + 2];
	memset(long_name, 'a', sizeof(long_name));
	long_name[PROFILE_NAME_MAX] = '\0';
	assert_true(profile_name_valid(long_name));
	long_name[PROFILE_NAME_MAX] = 'a';
	long_name[PROFILE_NAME_MAX + 1] = '\0';
	assert_false(profile_name_valid(long_name));
}

/* ---- .pharos files --------------------------------------------------------- */

static uint8_t *seal(const struct keys *k, enum profile_enc enc, size_t *len)
{
	struct profile_seal_args a = seal_args(k, enc);
	uint8_t *file = NULL;
	assert_int_equal(profile_seal(sample, strlen(sample), &a, &file, len), 0);
	return file;
}

/* One sealed file, and what opening it takes and gives. */
struct fx {
	struct keys k;
	uint8_t *file, signer[32];
	size_t len, jlen;
	struct profile_open_args o;
	char *json, err[256];
};

static void fx_seal(struct fx *f, enum profile_enc enc)
{
	memset(f, 0, sizeof(*f));
	make_keys(&f->k);
	f->file = seal(&f->k, enc, &f->len);
	f->o = open_args(&f->k);
}

/* profile_open on f->file; on failure every output must be cleared. */
static int fx_open(struct fx *f)
{
	if (f->json)
		mem_free_secret(f->json, f->jlen + 1);
	int rc = profile_open(f->file, f->len, &f->o, f->signer, &f->json, &f->jlen, f->err, sizeof(f->err));
	if (rc < 0) {
		assert_null(f->json);
		assert_int_equal(f->jlen, 0);
		assert_true(sodium_is_zero(f->signer, 32));
	}
	return rc;
}

static void fx_done(struct fx *f)
{
	if (f->json)
		mem_free_secret(f->json, f->jlen + 1);
	mem_free(f->file);
	memset(f, 0, sizeof(*f));
}

static void every_mode_round_trips_and_names_its_signer(void **state)
{
	for (int enc = PROFILE_ENC_NONE; enc <= PROFILE_ENC_ACCOUNT; enc++) {
		struct fx f;
		enum profile_enc got;
		char head[64], b64[64];

		fx_seal(&f, enc);
		assert_int_equal(profile_file_enc(f.file, f.len, &got, f.err, sizeof(f.err)), 0);
		assert_int_equal(got, enc);
		assert_int_equal(fx_open(&f), 0);
		assert_memory_equal(f.signer, f.k.sign_pk, 32);
		assert_int_equal(f.jlen, strlen(sample));
		assert_string_equal(f.json, sample);
		/* The header is readable at the start of the file. */
		snprintf(head, sizeof(head), "{\"fmt\":\"pharos-profile\",\"v\":1,\"enc\":\"%s\",", profile_enc_name(enc));
		assert_memory_equal(f.file, head, strlen(head));
		assert_int_equal(f.file[f.len - 1], '\n');
		/* Only none carries the profile in the clear (in base64). */
		assert_int_equal(enc_base64_encode(b64, sizeof(b64), (const uint8_t *)sample, 30), 0);
		assert_true((memmem(f.file, f.len, b64, strlen(b64)) == NULL) == (enc != PROFILE_ENC_NONE));
		fx_done(&f);
	}
}

static void two_seals_of_one_profile_differ(void **state)
{
	struct fx f;
	size_t l2;
	fx_seal(&f, PROFILE_ENC_ACCOUNT);
	uint8_t *b = seal(&f.k, PROFILE_ENC_ACCOUNT, &l2);
	assert_int_equal(f.len, l2);
	assert_memory_not_equal(f.file, b, l2);
	mem_free(b);
	fx_done(&f);
}

static void changing_any_byte_of_a_sealed_file_makes_it_fail_to_open(void **state)
{
	static const uint8_t flips[] = { 0x01, 0x20, 0x80 };
	for (int enc = PROFILE_ENC_NONE; enc <= PROFILE_ENC_ACCOUNT; enc++) {
		struct fx f;
		fx_seal(&f, enc);
		for (size_t i = 0; i < f.len; i++) {
			for (size_t k = 0; k < sizeof(flips); k++) {
				f.file[i] ^= flips[k];
				if (fx_open(&f) == 0)
					fail_msg("%s: byte %zu ^ 0x%02x still opens", profile_enc_name(enc), i, flips[k]);
				f.file[i] ^= flips[k];
			}
		}
		/* A cut file too. */
		f.len /= 2;
		assert_true(fx_open(&f) < 0);
		fx_done(&f);
	}
}

static void a_tampered_signature_or_payload_is_reported_as_such(void **state)
{
	struct fx f;
	fx_seal(&f, PROFILE_ENC_ACCOUNT);
	uint8_t *p = memmem(f.file, f.len, "\"payload\":\"", 11);
	assert_non_null(p);
	p[20] = p[20] == 'A' ? 'B' : 'A';
	assert_int_equal(fx_open(&f), ERR_AUTH);
	assert_string_equal(f.err, "the signature does not verify: the file was changed or damaged");
	fx_done(&f);
}

static void the_wrong_device_key_or_password_does_not_open(void **state)
{
	struct fx f;
	fx_seal(&f, PROFILE_ENC_ACCOUNT);
	f.o = (struct profile_open_args){ .device_sk = f.k.other_sk };
	assert_int_equal(fx_open(&f), ERR_AUTH);
	assert_non_null(strstr(f.err, "not to this device"));
	f.o = (struct profile_open_args){ .password = "correct horse" };
	assert_int_equal(fx_open(&f), -EINVAL);
	assert_string_equal(f.err, "this file is sealed to a device key; none given");
	fx_done(&f);

	fx_seal(&f, PROFILE_ENC_PASSWORD);
	f.o = (struct profile_open_args){ .password = "correct horsE" };
	assert_int_equal(fx_open(&f), ERR_AUTH);
	assert_string_equal(f.err, "wrong password (or a damaged file)");
	f.o = (struct profile_open_args){ .device_sk = f.k.dev_sk };
	assert_int_equal(fx_open(&f), -EINVAL);
	assert_string_equal(f.err, "this file is sealed with a password; none given");
	assert_int_equal(profile_open(f.file, f.len, NULL, f.signer, &f.json, &f.jlen, f.err, sizeof(f.err)), -EINVAL);
	fx_done(&f);
}

static void a_pinned_signer_refuses_files_from_another_key(void **state)
{
	struct fx f;
	struct keys other;
	make_keys(&other);
	fx_seal(&f, PROFILE_ENC_PASSWORD);
	f.o.signer_pin = other.sign_pk;
	assert_int_equal(fx_open(&f), ERR_AUTH);
	assert_non_null(strstr(f.err, "not by the fleet's profile-signing key"));
	f.o.signer_pin = f.k.sign_pk;
	assert_int_equal(fx_open(&f), 0);
	fx_done(&f);
}

/* An independent implementation of the documented signed encoding, used to
 * re-sign an edited file: then only the AEAD's associated data stands
 * between an attacker holding the signing key and a downgrade. */
static void put_lp(uint8_t **m, size_t *n, const void *p, size_t len)
{
	*m = realloc(*m, *n + 8 + len);
	for (int i = 0; i < 8; i++)
		(*m)[*n + i] = (uint8_t)((uint64_t)len >> (56 - 8 * i));
	memcpy(*m + *n + 8, p, len);
	*n += 8 + len;
}

static void put_b64_field(uint8_t **m, size_t *n, json_t *o, const char *key)
{
	size_t len, cap = PROFILE_FILE_MAX;
	uint8_t *buf = malloc(cap);
	const char *s = json_string_value(json_object_get(o, key));
	assert_non_null(s);
	assert_int_equal(enc_base64_decode(buf, cap, s, &len), 0);
	put_lp(m, n, buf, len);
	free(buf);
}

static uint8_t *resign(json_t *o, const struct keys *k, size_t *len)
{
	char header[80];
	uint8_t *m = NULL, sig[64];
	size_t n = 0;
	const char *enc = json_string_value(json_object_get(o, "enc"));

	m = malloc(27);
	memcpy(m, "pharos-profile-signature-v1", 27);
	n = 27;
	snprintf(header, sizeof(header), "{\"fmt\":\"pharos-profile\",\"v\":1,\"enc\":\"%s\"}", enc);
	put_lp(&m, &n, header, strlen(header));
	put_b64_field(&m, &n, o, "signer");
	if (!strcmp(enc, "password")) {
		uint8_t be[8];
		put_b64_field(&m, &n, o, "salt");
		for (int f = 0; f < 2; f++) {
			uint64_t v = (uint64_t)json_integer_value(json_object_get(o, f ? "memlimit" : "opslimit"));
			for (int i = 0; i < 8; i++)
				be[i] = (uint8_t)(v >> (56 - 8 * i));
			put_lp(&m, &n, be, 8);
		}
	} else if (!strcmp(enc, "account")) {
		put_b64_field(&m, &n, o, "recipient");
		put_b64_field(&m, &n, o, "epk");
		put_b64_field(&m, &n, o, "wrap_nonce");
		put_b64_field(&m, &n, o, "wrapped_key");
	}
	if (strcmp(enc, "none") != 0)
		put_b64_field(&m, &n, o, "nonce");
	else
		put_lp(&m, &n, "", 0);
	put_b64_field(&m, &n, o, "payload");
	crypto_sign_detached(sig, NULL, m, n, k->sign_sk);
	free(m);
	char b64[ENC_BASE64_LEN(64)];
	assert_int_equal(enc_base64_encode(b64, sizeof(b64), sig, 64), 0);
	json_object_set_new(o, "signature", json_string(b64));
	char *text = json_dumps(o, JSON_COMPACT);
	*len = strlen(text);
	uint8_t *file = mem_dup(text, *len);
	free(text);
	return file;
}

/* Re-signs the edited file o and opens it with k's device key and password:
 * profile_open's code, its message in err. */
static int open_resigned(json_t *o, const struct keys *k, char *err, size_t errlen)
{
	struct profile_open_args oa = open_args(k);
	uint8_t signer[32];
	size_t len, jlen;
	char *json;
	uint8_t *file = resign(o, k, &len);
	int rc = profile_open(file, len, &oa, signer, &json, &jlen, err, errlen);
	if (rc == 0)
		mem_free_secret(json, jlen + 1);
	mem_free(file);
	return rc;
}

static void the_documented_signature_encoding_is_what_seal_signs(void **state)
{
	for (int enc = PROFILE_ENC_NONE; enc <= PROFILE_ENC_ACCOUNT; enc++) {
		struct fx f;
		fx_seal(&f, enc);
		json_t *o = json_loadb((const char *)f.file, f.len, 0, NULL);
		char *sig = strdup(json_string_value(json_object_get(o, "signature")));
		/* Ed25519 is deterministic: the same message gives the same signature. */
		assert_int_equal(open_resigned(o, &f.k, f.err, sizeof(f.err)), 0);
		assert_string_equal(json_string_value(json_object_get(o, "signature")), sig);
		free(sig);
		json_decref(o);
		fx_done(&f);
	}
}

static void a_downgraded_header_fails_even_when_re_signed(void **state)
{
	struct fx f;
	char b64[ENC_KEY_BASE64_LEN];

	/* account -> password, with KDF fields added and everything re-signed. */
	fx_seal(&f, PROFILE_ENC_ACCOUNT);
	json_t *o = json_loadb((const char *)f.file, f.len, 0, NULL);
	json_object_set_new(o, "enc", json_string("password"));
	json_object_set_new(o, "salt", json_string("AAAAAAAAAAAAAAAAAAAAAA=="));
	json_object_set_new(o, "opslimit", json_integer(crypto_pwhash_OPSLIMIT_MIN));
	json_object_set_new(o, "memlimit", json_integer(crypto_pwhash_MEMLIMIT_MIN));
	assert_int_equal(open_resigned(o, &f.k, f.err, sizeof(f.err)), ERR_AUTH);
	json_decref(o);
	fx_done(&f);

	/* password -> account: same payload, same nonce, different header. */
	fx_seal(&f, PROFILE_ENC_PASSWORD);
	o = json_loadb((const char *)f.file, f.len, 0, NULL);
	json_object_set_new(o, "enc", json_string("account"));
	enc_key_to_base64(b64, f.k.dev_pk);
	json_object_set_new(o, "recipient", json_string(b64));
	json_object_set_new(o, "epk", json_string(b64));
	json_object_set_new(o, "wrap_nonce", json_string("AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"));
	json_object_set_new(o, "wrapped_key", json_string("AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"));
	assert_int_equal(open_resigned(o, &f.k, f.err, sizeof(f.err)), ERR_AUTH);
	json_decref(o);

	/* Without re-signing, the signature alone stops it. */
	uint8_t *p = memmem(f.file, f.len, "\"enc\":\"password\"", 16);
	memcpy(p, "\"enc\":\"account\" ", 16);
	assert_int_equal(fx_open(&f), ERR_PARSE);
	fx_done(&f);
}

static void hostile_kdf_costs_and_sizes_are_refused_before_any_work(void **state)
{
	struct fx f;
	enum profile_enc enc;

	fx_seal(&f, PROFILE_ENC_PASSWORD);
	json_t *o = json_loadb((const char *)f.file, f.len, 0, NULL);
	json_object_set_new(o, "memlimit", json_integer(8LL << 30));
	assert_int_equal(open_resigned(o, &f.k, f.err, sizeof(f.err)), ERR_RANGE);
	assert_non_null(strstr(f.err, "memlimit: 8589934592 is out of range"));
	json_object_set_new(o, "memlimit", json_integer(crypto_pwhash_MEMLIMIT_MIN));
	json_object_set_new(o, "opslimit", json_integer(1000000));
	assert_int_equal(open_resigned(o, &f.k, f.err, sizeof(f.err)), ERR_RANGE);
	json_decref(o);
	mem_free(f.file);

	f.len = PROFILE_FILE_MAX + 1;
	f.file = mem_zalloc(f.len);
	assert_int_equal(fx_open(&f), ERR_TOOBIG);
	assert_int_equal(profile_file_enc(f.file, f.len, &enc, f.err, sizeof(f.err)), ERR_TOOBIG);
	fx_done(&f);
}

static const struct {
	const char *text;
	int rc;
	const char *msg;
} bad_files[] = {
	{ "", ERR_PARSE, "not a .pharos file: not JSON" },
	{ "[]", ERR_PARSE, "not a .pharos file: fmt is not" },
	{ "{\"fmt\":\"wireguard\",\"v\":1,\"enc\":\"none\"}", ERR_PARSE, "not a .pharos file: fmt is not" },
	{ "{\"fmt\":\"pharos-profile\",\"v\":2,\"enc\":\"none\"}", ERR_PROTO, "v: file version 2 is newer" },
	{ "{\"fmt\":\"pharos-profile\",\"v\":\"1\",\"enc\":\"none\"}", ERR_PARSE, "v: want a positive integer" },
	{ "{\"fmt\":\"pharos-profile\",\"v\":1,\"enc\":\"rot13\"}", ERR_PARSE, "enc: \"rot13\" is not none, password" },
	{ "{\"fmt\":\"pharos-profile\",\"v\":1,\"enc\":\"none\"}", ERR_PARSE, "signer: missing" },
	{ "{\"fmt\":\"pharos-profile\",\"v\":1,\"enc\":\"account\"}", ERR_PARSE, "recipient: missing" },
	{ "{\"fmt\":\"pharos-profile\",\"v\":1,\"enc\":\"password\",\"salt\":\"AAAA\"}", ERR_PARSE,
	  "salt: want 16 bytes in standard base64" },
	{ "{\"fmt\":\"pharos-profile\",\"v\":1,\"enc\":\"none\",\"enc\":\"none\"}", ERR_PARSE, "not a .pharos file: not JSON" },
};

static void malformed_files_are_refused_with_a_clear_message(void **state)
{
	for (size_t i = 0; i < sizeof(bad_files) / sizeof(bad_files[0]); i++) {
		size_t jlen;
		uint8_t signer[32];
		char *json, err[256];
		int rc = profile_open((const uint8_t *)bad_files[i].text, strlen(bad_files[i].text), NULL, signer,
				      &json, &jlen, err, sizeof(err));
		if (rc != bad_files[i].rc || strncmp(err, bad_files[i].msg, strlen(bad_files[i].msg)) != 0)
			fail_msg("case %zu: rc %d \"%s\", want %d \"%s...\"", i, rc, err, bad_files[i].rc,
				 bad_files[i].msg);
	}
}

static void seal_refuses_bad_arguments_and_invalid_profiles(void **state)
{
	struct keys k;
	make_keys(&k);
	uint8_t *file = (uint8_t *)1, zero[32] = { 0 };
	size_t len = 1;
	struct profile_seal_args a = seal_args(&k, PROFILE_ENC_PASSWORD);

	a.password = "";
	assert_int_equal(profile_seal(sample, strlen(sample), &a, &file, &len), -EINVAL);
	assert_null(file);
	assert_int_equal(len, 0);
	a.password = NULL;
	assert_int_equal(profile_seal(sample, strlen(sample), &a, &file, &len), -EINVAL);
	a = seal_args(&k, PROFILE_ENC_ACCOUNT);
	a.recipient = NULL;
	assert_int_equal(profile_seal(sample, strlen(sample), &a, &file, &len), -EINVAL);
	a.recipient = zero;
	assert_int_equal(profile_seal(sample, strlen(sample), &a, &file, &len), ERR_CRYPTO);
	a = seal_args(&k, PROFILE_ENC_NONE);
	a.signing_sk = NULL;
	assert_int_equal(profile_seal(sample, strlen(sample), &a, &file, &len), -EINVAL);
	a = seal_args(&k, PROFILE_ENC_PASSWORD);
	a.memlimit = (size_t)PROFILE_PWHASH_MEMLIMIT_MAX + 1;
	assert_int_equal(profile_seal(sample, strlen(sample), &a, &file, &len), -EINVAL);
	a = seal_args(&k, PROFILE_ENC_NONE);
	assert_int_equal(profile_seal("{\"v\": 1}", 8, &a, &file, &len), ERR_PARSE);
	a.unchecked = true;
	assert_int_equal(profile_seal("{\"v\": 1}", 8, &a, &file, &len), 0);
	mem_free(file);
}

/* ---- device requests ------------------------------------------------------- */

static void a_device_request_round_trips(void **state)
{
	struct devreq r = { .name = "alice-laptop" }, back;
	char line[DEVREQ_MAX], err[256];
	memset(r.awg_public, 7, 32);
	memset(r.enc_public, 9, 32);
	int n = devreq_format(&r, line, sizeof(line));
	assert_true(n > 0);
	assert_int_equal((size_t)n, strlen(line));
	assert_memory_equal(line, "pharos-device-1:BwcH", 20);
	assert_int_equal(devreq_parse(line, &back, err, sizeof(err)), 0);
	assert_memory_equal(&r, &back, sizeof(r));

	/* Blanks around a pasted line are fine. */
	char padded[DEVREQ_MAX + 8];
	snprintf(padded, sizeof(padded), "  %s\r\n", line);
	assert_int_equal(devreq_parse(padded, &back, err, sizeof(err)), 0);
	assert_string_equal(back.name, "alice-laptop");

	/* An empty name. */
	r.name[0] = '\0';
	assert_true(devreq_format(&r, line, sizeof(line)) > 0);
	assert_int_equal(devreq_parse(line, &back, err, sizeof(err)), 0);
	assert_string_equal(back.name, "");

	assert_int_equal(devreq_format(&r, line, 20), -ENOSPC);
	strcpy(r.name, "has space");
	assert_int_equal(devreq_format(&r, line, sizeof(line)), -EINVAL);
	strcpy(r.name, "ok");
	memset(r.enc_public, 0, 32);
	assert_int_equal(devreq_format(&r, line, sizeof(line)), -EINVAL);
}

static void any_changed_character_of_a_device_request_is_refused(void **state)
{
	struct devreq r = { .name = "phone" }, back;
	char line[DEVREQ_MAX], err[256];
	randombytes_buf(r.awg_public, 32);
	randombytes_buf(r.enc_public, 32);
	int n = devreq_format(&r, line, sizeof(line));
	for (int i = 0; i < n; i++) {
		char saved = line[i];
		for (const char *c = "aZ9+/=:-_. @"; *c; c++) {
			if (*c == saved)
				continue;
			line[i] = *c;
			if (devreq_parse(line, &back, err, sizeof(err)) == 0 && (i != 0 || *c != ' '))
				fail_msg("position %d changed to '%c' still parses: %s", i, *c, line);
			assert_true(sodium_is_zero((uint8_t *)&back, sizeof(back)) || (i == 0 && *c == ' '));
		}
		line[i] = saved;
	}
	/* Cut anywhere. */
	for (int i = 0; i < n; i++) {
		char cut[DEVREQ_MAX];
		memcpy(cut, line, (size_t)i);
		cut[i] = '\0';
		assert_true(devreq_parse(cut, &back, err, sizeof(err)) < 0);
	}
}

static void device_request_errors_say_what_is_wrong(void **state)
{
	struct devreq r = { .name = "x" }, back;
	char line[DEVREQ_MAX], err[256];
	memset(r.awg_public, 1, 32);
	memset(r.enc_public, 2, 32);
	assert_true(devreq_format(&r, line, sizeof(line)) > 0);

	assert_int_equal(devreq_parse("hello", &back, err, sizeof(err)), ERR_PARSE);
	assert_string_equal(err, "device request: \"hello\" does not start with \"pharos-device-1:\" (paste the whole "
				 "line `caravel init` printed)");
	assert_int_equal(devreq_parse("pharos-device-2:a:b:c:d", &back, err, sizeof(err)), ERR_PROTO);
	assert_string_equal(err, "device request: format 2 is newer than this program reads (1)");
	assert_int_equal(devreq_parse("pharos-device-1:a:b", &back, err, sizeof(err)), ERR_PARSE);
	assert_non_null(strstr(err, "want 4 fields"));
	assert_int_equal(devreq_parse("pharos-device-1:", &back, err, sizeof(err)), ERR_PARSE);
	char *last = strrchr(line, ':');
	memcpy(last + 1, "00000000", 8);
	assert_int_equal(devreq_parse(line, &back, err, sizeof(err)), ERR_AUTH);
	assert_string_equal(err, "device request: checksum \"00000000\" does not match: the line was changed or cut "
				 "while copying");
	char big[DEVREQ_MAX * 2];
	memset(big, 'a', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	assert_int_equal(devreq_parse(big, &back, err, sizeof(err)), ERR_TOOBIG);
}

static void a_device_request_with_a_valid_checksum_but_bad_fields_is_refused(void **state)
{
	/* Build lines with correct checksums around bad content. */
	static const char *const bodies[] = {
		"pharos-device-1:AQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQE:AgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgI=:x",
		"pharos-device-1:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=:AgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgI=:x",
		"pharos-device-1:AQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQE=:AgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAg==:x",
		"pharos-device-1:AQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQE=:AgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgI=:a b",
		"pharos-device-1:AQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQE=:AgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgI=:a!",
	};
	static const char *const msgs[] = { "device request: AmneziaWG key", "device request: AmneziaWG key",
					    "device request: encryption key", "device request: name \"a b\"",
					    "device request: name \"a!\"" };
	for (size_t i = 0; i < sizeof(bodies) / sizeof(bodies[0]); i++) {
		uint8_t h[16];
		char line[DEVREQ_MAX + 16], hex[9], err[256];
		struct devreq back;
		crypto_generichash(h, sizeof(h), (const uint8_t *)bodies[i], strlen(bodies[i]), NULL, 0);
		assert_int_equal(enc_hex_encode(hex, sizeof(hex), h, 4), 0);
		snprintf(line, sizeof(line), "%s:%s", bodies[i], hex);
		assert_int_equal(devreq_parse(line, &back, err, sizeof(err)), ERR_PARSE);
		if (strncmp(err, msgs[i], strlen(msgs[i])) != 0)
			fail_msg("case %zu: \"%s\", want \"%s...\"", i, err, msgs[i]);
	}
}

/* ---- allocation failures ----------------------------------------------------- */

static int parse_and_write(void *ctx)
{
	struct profile p;
	char *json = NULL;
	int rc = profile_parse(sample, strlen(sample), &p, NULL, 0);
	if (rc == 0)
		rc = profile_to_json(&p, &json);
	if (json)
		mem_free_secret(json, strlen(json) + 1);
	profile_free(&p);
	return rc;
}

static void every_allocation_failure_in_parse_and_write_unwinds(void **state)
{
	assert_true(support_alloc_failure_loop(parse_and_write, NULL) > 10);
}

static int seal_and_open(void *ctx)
{
	const struct keys *k = ctx;
	int rc = 0;
	for (int enc = PROFILE_ENC_NONE; rc == 0 && enc <= PROFILE_ENC_ACCOUNT; enc++) {
		struct profile_seal_args a = seal_args(k, enc);
		struct profile_open_args o = open_args(k);
		uint8_t *file = NULL, signer[32];
		char *json = NULL;
		size_t len, jlen;
		rc = profile_seal(sample, strlen(sample), &a, &file, &len);
		if (rc == 0)
			rc = profile_open(file, len, &o, signer, &json, &jlen, NULL, 0);
		if (rc == 0 && strcmp(json, sample) != 0)
			fail_msg("round trip changed the profile");
		if (json)
			mem_free_secret(json, jlen + 1);
		mem_free(file);
	}
	return rc;
}

static void every_allocation_failure_in_seal_and_open_unwinds(void **state)
{
	struct keys k;
	make_keys(&k);
	assert_true(support_alloc_failure_loop(seal_and_open, &k) > 10);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(the_documented_sample_parses_into_the_expected_fields),
		cmocka_unit_test(a_profile_survives_json_and_back_unchanged),
		cmocka_unit_test(unknown_protocol_types_and_newer_versions_are_skipped_and_counted),
		cmocka_unit_test(unknown_fields_are_ignored),
		cmocka_unit_test(each_invalid_field_is_refused_with_its_path_and_reason),
		cmocka_unit_test(a_second_entry_of_one_protocol_in_a_node_is_refused),
		cmocka_unit_test(oversized_input_is_refused_before_parsing),
		cmocka_unit_test(an_invalid_struct_is_not_written_and_validate_says_why),
		cmocka_unit_test(names_follow_the_documented_charset),
		cmocka_unit_test(every_mode_round_trips_and_names_its_signer),
		cmocka_unit_test(two_seals_of_one_profile_differ),
		cmocka_unit_test(changing_any_byte_of_a_sealed_file_makes_it_fail_to_open),
		cmocka_unit_test(a_tampered_signature_or_payload_is_reported_as_such),
		cmocka_unit_test(the_wrong_device_key_or_password_does_not_open),
		cmocka_unit_test(a_pinned_signer_refuses_files_from_another_key),
		cmocka_unit_test(the_documented_signature_encoding_is_what_seal_signs),
		cmocka_unit_test(a_downgraded_header_fails_even_when_re_signed),
		cmocka_unit_test(hostile_kdf_costs_and_sizes_are_refused_before_any_work),
		cmocka_unit_test(malformed_files_are_refused_with_a_clear_message),
		cmocka_unit_test(seal_refuses_bad_arguments_and_invalid_profiles),
		cmocka_unit_test(a_device_request_round_trips),
		cmocka_unit_test(any_changed_character_of_a_device_request_is_refused),
		cmocka_unit_test(device_request_errors_say_what_is_wrong),
		cmocka_unit_test(a_device_request_with_a_valid_checksum_but_bad_fields_is_refused),
		cmocka_unit_test(every_allocation_failure_in_parse_and_write_unwinds),
		cmocka_unit_test(every_allocation_failure_in_seal_and_open_unwinds),
	};
	return run_group(tests);
}
