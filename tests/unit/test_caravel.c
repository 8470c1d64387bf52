/* libcaravel: entry pools, profile opening and pinning, the kill switch's
 * rules, the CLI's store, and whole tunnels in one process.
 *
 * The tunnel tests put a caravel tunnel and a node engine in this process:
 *
 *    datagram socketpair (stands in for the TUN device)
 *        | caravel_tunnel: picks node, entry, rotates, fails over
 *        v
 *    UDP 127.0.0.1:9 (nothing answers) ... "dead" node, first in the profile
 *    UDP 127.0.0.1 / 127.0.0.2 : P  ------> node engine (no TUN; forward hook
 *                                           counts the inner packets)
 */
#include <arpa/inet.h>
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "support.h"

#include "awg/device.h"
#include "awg/noise.h"
#include "caravel/caravel.h"
#include "caravel/killswitch.h"
#include "caravel/pool.h"
#include "caravel/store.h"
#include "lib/buf.h"
#include "lib/enc.h"
#include "lib/mem.h"
#include "profile/profile.h"

/* ---- profiles ---- */

struct fleet {
	uint8_t sign_pk[32], sign_sk[64];
	uint8_t dev_pk[32], dev_sk[32];
};

static void fleet_init(struct fleet *f)
{
	assert_true(sodium_init() >= 0);
	crypto_sign_keypair(f->sign_pk, f->sign_sk);
	assert_int_equal(caravel_keypair_generate(f->dev_sk, f->dev_pk), 0);
}

/* A profile: node "dead" (127.0.0.1:9, first) unless live_only, then node
 * "live" with entries 127.0.0.1 and 127.0.0.2 on port, the given node key,
 * psk and obfuscation (a JSON object). */
static char *profile_text(const char *fleet_id, const uint8_t node_pk[32], const uint8_t psk[32], uint16_t port,
                          const char *obf, int live_only)
{
	char pk[ENC_KEY_BASE64_LEN], ps[ENC_KEY_BASE64_LEN], dead[1024] = "";
	enc_key_to_base64(pk, node_pk);
	enc_key_to_base64(ps, psk);
	if (!live_only)
		snprintf(dead, sizeof(dead),
		         "{\"id\": \"dead\", \"name\": \"Dead\", \"region\": \"\", \"endpoints\": [\"127.0.0.1\"],"
		         " \"port_lo\": 9, \"port_hi\": 9, \"protocols\": [{\"type\": \"amneziawg\", \"v\": 2,"
		         " \"public_key\": \"%s\", \"preshared_key\": \"%s\", \"keepalive\": 1, \"mtu\": 1420,"
		         " \"obfuscation\": {}}]},",
		         "AQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQE=", ps);
	char *s = malloc(8192);
	snprintf(s, 8192,
	         "{\"v\": 1, \"fleet_id\": \"%s\", \"fleet_name\": \"Test fleet\", \"device_id\": \"dev-1\","
	         " \"device_name\": \"laptop\", \"user\": \"alice@example.com\", \"address4\": \"10.86.0.2/32\","
	         " \"dns\": [\"10.86.0.1\"], \"rotation\": {\"enabled\": false, \"interval\": 0, \"jitter\": 0},"
	         " \"revision\": 3, \"nodes\": [%s"
	         "{\"id\": \"live\", \"name\": \"Live\", \"region\": \"lab\", \"endpoints\": [\"127.0.0.1\", \"127.0.0.2\"],"
	         " \"port_lo\": %u, \"port_hi\": %u, \"protocols\": ["
	         "{\"type\": \"future-proto\", \"v\": 9, \"whatever\": 1},"
	         "{\"type\": \"amneziawg\", \"v\": 2, \"public_key\": \"%s\", \"preshared_key\": \"%s\","
	         " \"keepalive\": 1, \"mtu\": 1420, \"obfuscation\": %s}]}]}",
	         fleet_id, dead, port, port, pk, ps, obf);
	return s;
}

static void seal(const struct fleet *f, const char *json, enum profile_enc enc, const uint8_t *sign_sk, uint8_t **file,
                 size_t *len)
{
	struct profile_seal_args a = { .enc = enc, .recipient = f->dev_pk, .password = "correct horse",
		                       .signing_sk = sign_sk ? sign_sk : f->sign_sk };
	assert_int_equal(profile_seal(json, strlen(json), &a, file, len), 0);
}

struct pins {
	int have;
	uint8_t key[32];
	int calls;
};

static int pin_lookup(void *ctx, const char *fleet_id, uint8_t key[32])
{
	struct pins *p = ctx;
	p->calls++;
	if (p->have)
		memcpy(key, p->key, 32);
	return p->have;
}

static int open_file(const struct fleet *f, const uint8_t *file, size_t len, struct pins *pins, caravel_profile **out,
                     char *err, size_t errlen)
{
	struct caravel_open_args a = { .size = sizeof(a), .device_enc_sk = f->dev_sk, .password = "correct horse",
		                       .pin_lookup = pin_lookup, .pin_ctx = pins };
	return caravel_profile_open(file, len, &a, out, err, errlen);
}

static void a_sealed_profile_opens_in_every_mode_and_reports_its_signer(void **state)
{
	struct fleet f;
	fleet_init(&f);
	uint8_t zero[32] = { 0 }, psk[32] = { 7 }, signer[32];
	char *json = profile_text("home", zero, psk, 51820, "{}", 0);
	enum profile_enc modes[] = { PROFILE_ENC_NONE, PROFILE_ENC_PASSWORD, PROFILE_ENC_ACCOUNT };
	enum caravel_enc want[] = { CARAVEL_ENC_NONE, CARAVEL_ENC_PASSWORD, CARAVEL_ENC_ACCOUNT };
	for (size_t m = 0; m < 3; m++) {
		uint8_t *file;
		size_t len;
		char err[512] = "";
		enum caravel_enc enc;
		struct pins pins = { 0 };
		caravel_profile *p = NULL;
		seal(&f, json, modes[m], NULL, &file, &len);
		assert_int_equal(caravel_file_enc(file, len, &enc, err, sizeof(err)), 0);
		assert_int_equal(enc, want[m]);
		assert_int_equal(open_file(&f, file, len, &pins, &p, err, sizeof(err)), 0);
		assert_int_equal(pins.calls, 1);
		assert_string_equal(caravel_profile_fleet_id(p), "home");
		assert_string_equal(caravel_profile_fleet_name(p), "Test fleet");
		assert_string_equal(caravel_profile_device_name(p), "laptop");
		assert_string_equal(caravel_profile_user(p), "alice@example.com");
		assert_int_equal(caravel_profile_revision(p), 3);
		assert_int_equal(caravel_profile_skipped(p), 1); /* the unknown "future-proto" */
		caravel_profile_signer(p, signer);
		assert_memory_equal(signer, f.sign_pk, 32);
		caravel_profile_free(p);
		free(file);
	}
	free(json);
}

static void a_profile_signed_by_another_key_than_the_pinned_one_is_refused_by_name(void **state)
{
	struct fleet f;
	fleet_init(&f);
	uint8_t zero[32] = { 0 }, psk[32] = { 7 }, other_pk[32], other_sk[64];
	crypto_sign_keypair(other_pk, other_sk);
	char *json = profile_text("home", zero, psk, 51820, "{}", 0);
	uint8_t *file;
	size_t len;
	char err[512] = "";
	seal(&f, json, PROFILE_ENC_ACCOUNT, other_sk, &file, &len);
	struct pins pins = { .have = 1 };
	memcpy(pins.key, f.sign_pk, 32);
	caravel_profile *p = (caravel_profile *)&pins;
	assert_int_equal(open_file(&f, file, len, &pins, &p, err, sizeof(err)), CARAVEL_ERR_PIN);
	assert_null(p);
	assert_non_null(strstr(err, "fleet \"home\" is pinned"));
	char b64[ENC_KEY_BASE64_LEN];
	enc_key_to_base64(b64, other_pk);
	assert_non_null(strstr(err, b64));
	/* The pinned key itself is accepted. */
	memcpy(pins.key, other_pk, 32);
	assert_int_equal(open_file(&f, file, len, &pins, &p, err, sizeof(err)), 0);
	caravel_profile_free(p);
	free(file);
	free(json);
}

static void a_file_with_any_byte_changed_is_refused(void **state)
{
	struct fleet f;
	fleet_init(&f);
	uint8_t zero[32] = { 0 }, psk[32] = { 7 };
	char *json = profile_text("home", zero, psk, 51820, "{}", 0);
	uint8_t *file;
	size_t len;
	seal(&f, json, PROFILE_ENC_ACCOUNT, NULL, &file, &len);
	/* Header, payload and signature: every 7th byte, flipped in one bit. */
	for (size_t i = 0; i < len; i += 7) {
		char err[512] = "";
		struct pins pins = { 0 };
		caravel_profile *p = NULL;
		file[i] ^= 0x01;
		int rc = open_file(&f, file, len, &pins, &p, err, sizeof(err));
		file[i] ^= 0x01;
		if (rc == 0) /* whitespace or JSON escapes that decode alike may survive; nothing else */
			caravel_profile_free(p);
		else {
			assert_null(p);
			assert_true(strlen(err) > 0);
		}
		assert_true(rc < 0 || file[i] == ' ' || file[i] == '\n');
	}
	free(file);
	free(json);
}

static void a_stored_profile_loads_back_with_the_same_nodes_and_addresses(void **state)
{
	struct fleet f;
	fleet_init(&f);
	uint8_t zero[32] = { 0 }, psk[32] = { 7 };
	char *json = profile_text("home", zero, psk, 51820, "{\"jc\": 3, \"jmin\": 40, \"jmax\": 70}", 0);
	uint8_t *file;
	size_t len, jlen;
	char err[512] = "", *out = NULL, ep[64];
	struct pins pins = { 0 };
	caravel_profile *p = NULL, *q = NULL;
	seal(&f, json, PROFILE_ENC_NONE, NULL, &file, &len);
	assert_int_equal(open_file(&f, file, len, &pins, &p, err, sizeof(err)), 0);
	assert_int_equal(caravel_profile_json(p, &out, &jlen), 0);
	assert_int_equal(caravel_profile_load(out, jlen, &q, err, sizeof(err)), 0);
	struct caravel_profile_info info = { .size = sizeof(info) };
	assert_int_equal(caravel_profile_info(q, &info), 0);
	assert_string_equal(info.address4, "10.86.0.2/32");
	assert_string_equal(info.address6, "");
	assert_int_equal(info.n_dns, 1);
	assert_string_equal(info.dns[0], "10.86.0.1");
	assert_int_equal(info.n_nodes, 2);
	struct caravel_node_info ni = { .size = sizeof(ni) };
	assert_int_equal(caravel_profile_node(q, 1, &ni), 0);
	assert_string_equal(ni.id, "live");
	assert_int_equal(ni.n_endpoints, 2);
	assert_int_equal(ni.port_lo, 51820);
	assert_int_equal(ni.usable, 1);
	assert_int_equal(caravel_profile_node_endpoint(q, 1, 1, ep, sizeof(ep)), 0);
	assert_string_equal(ep, "127.0.0.2");
	assert_int_equal(caravel_profile_node(q, 2, &ni), -ERANGE);
	/* A caller built against a smaller struct is refused, not overrun. */
	struct caravel_node_info small = { .size = 8 };
	assert_int_equal(caravel_profile_node(q, 0, &small), CARAVEL_ERR_VERSION);
	caravel_free_secret(out, jlen + 1);
	caravel_profile_free(p);
	caravel_profile_free(q);
	free(file);
	free(json);
}

static void a_device_request_carries_both_public_keys(void **state)
{
	uint8_t a_sk[32], a_pk[32], e_sk[32], e_pk[32];
	char line[256], err[256];
	struct devreq r;
	assert_int_equal(caravel_keypair_generate(a_sk, a_pk), 0);
	assert_int_equal(caravel_keypair_generate(e_sk, e_pk), 0);
	assert_int_equal(caravel_device_request(a_pk, e_pk, "laptop", line, sizeof(line)), 0);
	assert_int_equal(devreq_parse(line, &r, err, sizeof(err)), 0);
	assert_memory_equal(r.awg_public, a_pk, 32);
	assert_memory_equal(r.enc_public, e_pk, 32);
	assert_string_equal(r.name, "laptop");
	/* Keys are clamped X25519 keys, as the engine expects. */
	assert_int_equal(a_sk[0] & 7, 0);
	assert_int_equal(a_sk[31] & 0xc0, 0x40);
}

/* ---- pools ---- */

static void the_pool_is_every_address_times_every_port_and_picks_stay_inside(void **state)
{
	struct profile_node n;
	memset(&n, 0, sizeof(n));
	assert_int_equal(addr_parse("198.51.100.10", &n.endpoints[0]), 0);
	assert_int_equal(addr_parse("2001:db8:a::11", &n.endpoints[1]), 0);
	n.n_endpoints = 2;
	n.port_lo = 443;
	n.port_hi = 446;
	assert_int_equal(caravel_pool_size(&n), 8);
	union endpoint e, seen[8];
	char s[ENDPOINT_STRLEN];
	assert_int_equal(caravel_pool_at(&n, 5, &e), 0);
	assert_true(endpoint_format(&e, s, sizeof(s)) > 0);
	assert_string_equal(s, "[2001:db8:a::11]:444");
	assert_int_equal(caravel_pool_at(&n, 8, &e), ERR_RANGE);
	/* r spread over [0, 2^32) reaches each pair. */
	int hits[8] = { 0 };
	for (uint32_t k = 0; k < 64; k++) {
		assert_int_equal(caravel_pool_pick(&n, k * (UINT32_MAX / 64), NULL, &e), 0);
		for (int i = 0; i < 8; i++) {
			assert_int_equal(caravel_pool_at(&n, (uint64_t)i, &seen[i]), 0);
			if (endpoint_equal(&e, &seen[i]))
				hits[i]++;
		}
	}
	for (int i = 0; i < 8; i++)
		assert_true(hits[i] > 0);
	/* A re-pick never lands on the current pair while there is another. */
	for (uint32_t k = 0; k < 200; k++) {
		assert_int_equal(caravel_pool_pick(&n, k * 21474836u, &seen[3], &e), 0);
		assert_false(endpoint_equal(&e, &seen[3]));
	}
	/* One pair: the same pair is all there is. */
	n.n_endpoints = 1;
	n.port_hi = 443;
	assert_int_equal(caravel_pool_pick(&n, 12345, &seen[0], &e), 0);
	assert_true(endpoint_equal(&e, &seen[0]));
	n.n_endpoints = 0;
	assert_int_equal(caravel_pool_pick(&n, 1, NULL, &e), ERR_NOTFOUND);
}

static void rotation_delays_stay_within_interval_plus_or_minus_jitter(void **state)
{
	assert_int_equal(caravel_rotation_delay_ms(600, 120, 0), 480000);
	assert_int_equal(caravel_rotation_delay_ms(600, 120, UINT32_MAX), 720000);
	assert_int_equal(caravel_rotation_delay_ms(600, 0, 77), 600000);
	for (uint32_t r = 0; r < 1000; r++) {
		uint64_t d = caravel_rotation_delay_ms(10, 3, r * 4294967u);
		assert_true(d >= 7000 && d <= 13000);
	}
	assert_int_equal(caravel_rotation_delay_ms(1, 1, 0), 1000); /* never below a second */
}

/* ---- kill switch ---- */

static void the_kill_switch_admits_only_the_tunnel_and_the_entry_pool(void **state)
{
	struct caravel_ks_entry e[2];
	struct buf b;
	memset(e, 0, sizeof(e));
	assert_int_equal(addr_parse("198.51.100.10", &e[0].addr), 0);
	e[0].port_lo = 443;
	e[0].port_hi = 450;
	assert_int_equal(addr_parse("2001:db8:a::10", &e[1].addr), 0);
	e[1].port_lo = e[1].port_hi = 51820;
	buf_init(&b, 1 << 16);
	assert_int_equal(caravel_ks_render("caravel0", e, 2, &b), 0);
	const char *t = (const char *)b.data;
	assert_non_null(strstr(t, "delete table inet caravel\ntable inet caravel {"));
	assert_non_null(strstr(t, "type filter hook output priority filter; policy drop;"));
	assert_non_null(strstr(t, "type filter hook input priority filter; policy drop;"));
	assert_non_null(strstr(t, "oifname \"caravel0\" accept"));
	assert_non_null(strstr(t, "iifname \"caravel0\" accept"));
	assert_non_null(strstr(t, "ip daddr 198.51.100.10 udp dport 443-450 accept"));
	assert_non_null(strstr(t, "ip saddr 198.51.100.10 udp sport 443-450 accept"));
	assert_non_null(strstr(t, "ip6 daddr 2001:db8:a::10 udp dport 51820 accept"));
	buf_reset(&b);
	assert_int_equal(caravel_ks_render("bad\"name", e, 2, &b), -EINVAL);
	assert_int_equal(caravel_ks_render("", e, 2, &b), -EINVAL);
	buf_fini(&b);
}

/* ---- store ---- */

static void make_home(char *dir, size_t cap)
{
	snprintf(dir, cap, "/tmp/test_caravel.XXXXXX");
	assert_non_null(mkdtemp(dir));
}

static void rm_home(const char *dir)
{
	char cmd[PATH_MAX + 16];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	assert_int_equal(system(cmd), 0);
}

static void the_store_keeps_keys_pins_and_profiles_private(void **state)
{
	char home[64], path[PATH_MAX], **names = NULL;
	struct caravel_keys k, back;
	struct stat st;
	size_t n = 0;
	make_home(home, sizeof(home));
	memset(&k, 0, sizeof(k));
	assert_int_equal(caravel_keypair_generate(k.awg_sk, NULL), 0);
	assert_int_equal(caravel_keypair_generate(k.enc_sk, NULL), 0);
	snprintf(k.name, sizeof(k.name), "laptop");
	assert_int_equal(caravel_store_keys_load(home, &back), -ENOENT);
	assert_int_equal(caravel_store_keys_save(home, &k), 0);
	assert_int_equal(caravel_store_keys_save(home, &k), ERR_EXISTS);
	assert_int_equal(caravel_store_keys_load(home, &back), 0);
	assert_memory_equal(&back, &k, sizeof(k));
	snprintf(path, sizeof(path), "%s/device.key", home);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);

	uint8_t pin[32] = { 1, 2, 3 }, got[32];
	assert_int_equal(caravel_store_pin_get(home, "fleet one/..", got), 0);
	assert_int_equal(caravel_store_pin_set(home, "fleet one/..", pin), 0);
	assert_int_equal(caravel_store_pin_get(home, "fleet one/..", got), 1);
	assert_memory_equal(got, pin, 32);

	assert_int_equal(caravel_store_profile_save(home, "work", "{}", 2), 0);
	assert_int_equal(caravel_store_profile_save(home, "home", "{}", 2), 0);
	assert_int_equal(caravel_store_profile_save(home, "../escape", "{}", 2), -EINVAL);
	assert_int_equal(caravel_store_profile_names(home, &names, &n), 0);
	assert_int_equal(n, 2);
	assert_string_equal(names[0], "home");
	assert_string_equal(names[1], "work");
	caravel_store_names_free(names, n);
	snprintf(path, sizeof(path), "%s/profiles/work.json", home);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	assert_int_equal(caravel_store_profile_remove(home, "work"), 0);
	assert_int_equal(caravel_store_profile_remove(home, "work"), -ENOENT);
	assert_false(caravel_store_name_ok(".hidden"));
	assert_false(caravel_store_name_ok(""));
	assert_true(caravel_store_name_ok("home-fleet_2.x"));
	sodium_memzero(&k, sizeof(k));
	rm_home(home);
}

/* ---- tunnels ---- */

#define MAX_EVENTS 64

struct recorder {
	pthread_mutex_t mu;
	int types[MAX_EVENTS];
	char nodes[MAX_EVENTS][CARAVEL_ID_MAX];
	char eps[MAX_EVENTS][CARAVEL_ENDPOINT_MAX];
	size_t n;
	const char *veto; /* an endpoint text to refuse */
	int vetoed;
};

static int record(void *ctx, const struct caravel_event *ev)
{
	struct recorder *r = ctx;
	int rc = 0;
	pthread_mutex_lock(&r->mu);
	if (r->veto && ev->type == CARAVEL_EVENT_ENDPOINT && !strcmp(ev->endpoint, r->veto)) {
		r->vetoed++;
		rc = -1;
	}
	if (r->n < MAX_EVENTS) {
		r->types[r->n] = ev->type;
		snprintf(r->nodes[r->n], CARAVEL_ID_MAX, "%s", ev->node_id);
		snprintf(r->eps[r->n], CARAVEL_ENDPOINT_MAX, "%s", ev->endpoint);
		r->n++;
	}
	pthread_mutex_unlock(&r->mu);
	return rc;
}

static long find_event(struct recorder *r, int type, const char *node, size_t from)
{
	long at = -1;
	pthread_mutex_lock(&r->mu);
	for (size_t i = from; i < r->n && at < 0; i++)
		if (r->types[i] == type && (!node || !strcmp(r->nodes[i], node)))
			at = (long)i;
	pthread_mutex_unlock(&r->mu);
	return at;
}

struct node_side {
	struct device *dev;
	uint8_t sk[32], pk[32];
	uint16_t port;
	_Atomic unsigned inner;
};

static bool count_inner(void *ctx, struct device *dev, struct peer *from, uint8_t *pkt, size_t len)
{
	struct node_side *n = ctx;
	n->inner++;
	return true;
}

static void uapi(struct device *dev, const char *body)
{
	char *reply = NULL;
	size_t rlen = 0;
	assert_int_equal(device_uapi_request(dev, body, strlen(body), &reply, &rlen), 0);
	assert_string_equal(reply, "errno=0\n\n");
	mem_free(reply);
}

#define OBF_LINES "jc=3\njmin=40\njmax=70\ns1=15\ns2=18\nh1=1234567\nh2=2345678\nh3=3456789\nh4=4567890\n"
#define OBF_JSON \
	"{\"jc\": 3, \"jmin\": 40, \"jmax\": 70, \"s1\": 15, \"s2\": 18, \"h1\": 1234567, \"h2\": 2345678," \
	" \"h3\": 3456789, \"h4\": 4567890}"

static void node_start(struct node_side *n, const uint8_t dev_pk[32], const uint8_t psk[32])
{
	char body[2048], sk[ENC_KEY_HEX_LEN], pk[ENC_KEY_HEX_LEN], ps[ENC_KEY_HEX_LEN], *reply = NULL;
	size_t rlen = 0;
	memset(n, 0, sizeof(*n));
	struct device_options o = { .ifname = "carnode", .tun_fd = -1, .no_tun = true, .timer_scale = 1.0 };
	assert_int_equal(device_new(&n->dev, &o), 0);
	device_set_forward_hook(n->dev, count_inner, n);
	assert_int_equal(device_start(n->dev), 0);
	noise_generate_private(n->sk);
	assert_int_equal(noise_public_from_private(n->pk, n->sk), 0);
	enc_key_to_hex(sk, n->sk);
	enc_key_to_hex(pk, dev_pk);
	enc_key_to_hex(ps, psk);
	snprintf(body, sizeof(body),
	         "set=1\nprivate_key=%s\nlisten_port=0\n" OBF_LINES "public_key=%s\npreshared_key=%s\n"
	         "allowed_ip=10.86.0.2/32\n\n",
	         sk, pk, ps);
	uapi(n->dev, body);
	assert_int_equal(device_uapi_request(n->dev, "get=1\n\n", 7, &reply, &rlen), 0);
	const char *lp = strstr(reply, "listen_port=");
	assert_non_null(lp);
	n->port = (uint16_t)atoi(lp + 12);
	mem_free(reply);
}

static int wait_for(struct recorder *r, int type, const char *node, int ms)
{
	for (int i = 0; i < ms / 10; i++) {
		if (find_event(r, type, node, 0) >= 0)
			return 0;
		usleep(10000);
	}
	return -1;
}

/* An IPv4/UDP packet from the tunnel address to 10.86.0.1. */
static void inner_packet(uint8_t pkt[48])
{
	memset(pkt, 0, 48);
	pkt[0] = 0x45;
	pkt[3] = 48;
	pkt[8] = 64;
	pkt[9] = 17;
	uint8_t src[4] = { 10, 86, 0, 2 }, dst[4] = { 10, 86, 0, 1 };
	memcpy(pkt + 12, src, 4);
	memcpy(pkt + 16, dst, 4);
	uint32_t sum = 0;
	for (int i = 0; i < 20; i += 2)
		sum += (uint32_t)(pkt[i] << 8 | pkt[i + 1]);
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	pkt[10] = (uint8_t)(~sum >> 8);
	pkt[11] = (uint8_t)~sum;
	pkt[21] = 53;
	pkt[23] = 53;
	pkt[25] = 28;
}

static void a_tunnel_fails_over_from_a_silent_node_then_rotates_and_carries_data(void **state)
{
	struct fleet f;
	struct node_side node;
	struct recorder rec = { .mu = PTHREAD_MUTEX_INITIALIZER };
	uint8_t psk[32], awg_sk[32], awg_pk[32];
	char err[512] = "";
	fleet_init(&f);
	randombytes_buf(psk, sizeof(psk));
	assert_int_equal(caravel_keypair_generate(awg_sk, awg_pk), 0);
	node_start(&node, awg_pk, psk);
	char *json = profile_text("lab", node.pk, psk, node.port, OBF_JSON, 0);
	caravel_profile *p = NULL;
	assert_int_equal(caravel_profile_load(json, strlen(json), &p, err, sizeof(err)), 0);

	int sp[2];
	assert_int_equal(socketpair(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0, sp), 0);
	struct caravel_tunnel_config cfg = { .size = sizeof(cfg), .profile = p, .device_awg_sk = awg_sk, .tun_fd = sp[0],
		                             .handshake_timeout_ms = 600, .on_event = record, .event_ctx = &rec };
	caravel_tunnel *t = NULL;
	assert_int_equal(caravel_tunnel_start(&cfg, &t, err, sizeof(err)), 0);
	caravel_profile_free(p); /* the tunnel keeps its own copy */
	assert_int_equal(caravel_tunnel_wait_up(t, 8000), 0);

	/* The dead node first (its entry announced before use), then failover. */
	long ep_dead = find_event(&rec, CARAVEL_EVENT_ENDPOINT, "dead", 0);
	long fo = find_event(&rec, CARAVEL_EVENT_FAILOVER, "dead", 0);
	long ep_live = find_event(&rec, CARAVEL_EVENT_ENDPOINT, "live", 0);
	assert_true(ep_dead == 0 && fo > ep_dead && ep_live > fo);
	assert_string_equal(rec.eps[ep_dead], "127.0.0.1:9");
	assert_int_equal(wait_for(&rec, CARAVEL_EVENT_CONNECTED, "live", 2000), 0);

	struct caravel_status st = { .size = sizeof(st) };
	assert_int_equal(caravel_tunnel_status(t, &st), 0);
	assert_int_equal(st.state, CARAVEL_STATE_UP);
	assert_string_equal(st.node_id, "live");
	assert_true(st.handshake_age_ms >= 0 && st.handshake_age_ms < 5000);
	assert_int_equal(st.failovers, 1);
	char before[CARAVEL_ENDPOINT_MAX];
	snprintf(before, sizeof(before), "%s", st.endpoint);

	/* Rotation: the other entry of the pool, the same session. */
	assert_int_equal(caravel_tunnel_rotate(t), 0);
	for (int i = 0; i < 100 && st.rotations == 0; i++) {
		usleep(20000);
		assert_int_equal(caravel_tunnel_status(t, &st), 0);
	}
	assert_int_equal(st.rotations, 1);
	assert_string_not_equal(st.endpoint, before);
	assert_int_equal(st.state, CARAVEL_STATE_UP);

	/* Data written to the "TUN" arrives, decrypted, at the node. */
	uint8_t pkt[48];
	inner_packet(pkt);
	for (int i = 0; i < 5; i++)
		assert_int_equal(send(sp[1], pkt, sizeof(pkt), 0), (ssize_t)sizeof(pkt));
	for (int i = 0; i < 200 && node.inner < 5; i++)
		usleep(10000);
	assert_int_equal(node.inner, 5);
	assert_int_equal(caravel_tunnel_status(t, &st), 0);
	assert_string_equal(st.node_id, "live");

	caravel_tunnel_stop(t);
	device_free(node.dev);
	close(sp[0]);
	close(sp[1]);
	free(json);
}

static void an_entry_the_host_refuses_is_never_used(void **state)
{
	struct fleet f;
	struct node_side node;
	struct recorder rec = { .mu = PTHREAD_MUTEX_INITIALIZER };
	uint8_t psk[32], awg_sk[32], awg_pk[32];
	char err[512] = "", veto[64];
	fleet_init(&f);
	randombytes_buf(psk, sizeof(psk));
	assert_int_equal(caravel_keypair_generate(awg_sk, awg_pk), 0);
	node_start(&node, awg_pk, psk);
	char *json = profile_text("lab", node.pk, psk, node.port, OBF_JSON, 1);
	snprintf(veto, sizeof(veto), "127.0.0.1:%u", node.port);
	rec.veto = veto;
	caravel_profile *p = NULL;
	assert_int_equal(caravel_profile_load(json, strlen(json), &p, err, sizeof(err)), 0);
	int sp[2];
	assert_int_equal(socketpair(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0, sp), 0);
	struct caravel_tunnel_config cfg = { .size = sizeof(cfg), .profile = p, .device_awg_sk = awg_sk, .tun_fd = sp[0],
		                             .node_id = "live", .on_event = record, .event_ctx = &rec };
	caravel_tunnel *t = NULL;
	assert_int_equal(caravel_tunnel_start(&cfg, &t, err, sizeof(err)), 0);
	assert_int_equal(caravel_tunnel_wait_up(t, 8000), 0);
	struct caravel_status st = { .size = sizeof(st) };
	for (int i = 0; i < 5; i++) {
		assert_int_equal(caravel_tunnel_rotate(t), 0);
		usleep(150000);
		assert_int_equal(caravel_tunnel_status(t, &st), 0);
		assert_string_not_equal(st.endpoint, veto);
	}
	assert_true(rec.vetoed > 0 || st.rotations == 0);
	caravel_tunnel_stop(t);

	/* A node id the profile does not have is refused by name. */
	cfg.node_id = "nope";
	assert_int_equal(caravel_tunnel_start(&cfg, &t, err, sizeof(err)), CARAVEL_ERR_NO_NODE);
	assert_non_null(strstr(err, "\"nope\""));
	/* So is a config from a caller that does not know this struct. */
	cfg.size = 4;
	assert_int_equal(caravel_tunnel_start(&cfg, &t, err, sizeof(err)), CARAVEL_ERR_VERSION);
	caravel_profile_free(p);
	device_free(node.dev);
	close(sp[0]);
	close(sp[1]);
	free(json);
}

struct open_case {
	struct fleet f;
	uint8_t *file;
	size_t len;
};

static int open_and_store(void *ctx)
{
	struct open_case *c = ctx;
	struct pins pins = { 0 };
	caravel_profile *p = NULL, *q = NULL;
	char err[512], *json = NULL;
	size_t jlen = 0;
	int rc = open_file(&c->f, c->file, c->len, &pins, &p, err, sizeof(err));
	if (rc == 0)
		rc = caravel_profile_json(p, &json, &jlen);
	if (rc == 0)
		rc = caravel_profile_load(json, jlen, &q, err, sizeof(err));
	if (json)
		caravel_free_secret(json, jlen + 1);
	caravel_profile_free(p);
	caravel_profile_free(q);
	return rc;
}

static void opening_and_reloading_a_profile_unwinds_every_allocation_failure(void **state)
{
	struct open_case c;
	uint8_t zero[32] = { 0 }, psk[32] = { 7 };
	fleet_init(&c.f);
	char *json = profile_text("home", zero, psk, 51820, OBF_JSON, 0);
	seal(&c.f, json, PROFILE_ENC_ACCOUNT, NULL, &c.file, &c.len);
	assert_true(support_alloc_failure_loop(open_and_store, &c) > 0);
	free(c.file);
	free(json);
}

static void the_library_reports_its_api_version_and_names_its_errors(void **state)
{
	assert_int_equal(caravel_api_version(), CARAVEL_API_VERSION);
	assert_non_null(strstr(caravel_strerror(CARAVEL_ERR_PIN), "pinned"));
	assert_non_null(caravel_strerror(-ENOENT));
	assert_true(strlen(caravel_version()) > 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(the_library_reports_its_api_version_and_names_its_errors),
		cmocka_unit_test(a_sealed_profile_opens_in_every_mode_and_reports_its_signer),
		cmocka_unit_test(a_profile_signed_by_another_key_than_the_pinned_one_is_refused_by_name),
		cmocka_unit_test(a_file_with_any_byte_changed_is_refused),
		cmocka_unit_test(a_stored_profile_loads_back_with_the_same_nodes_and_addresses),
		cmocka_unit_test(a_device_request_carries_both_public_keys),
		cmocka_unit_test(opening_and_reloading_a_profile_unwinds_every_allocation_failure),
		cmocka_unit_test(the_pool_is_every_address_times_every_port_and_picks_stay_inside),
		cmocka_unit_test(rotation_delays_stay_within_interval_plus_or_minus_jitter),
		cmocka_unit_test(the_kill_switch_admits_only_the_tunnel_and_the_entry_pool),
		cmocka_unit_test(the_store_keeps_keys_pins_and_profiles_private),
		cmocka_unit_test(a_tunnel_fails_over_from_a_silent_node_then_rotates_and_carries_data),
		cmocka_unit_test(an_entry_the_host_refuses_is_never_used),
	};
	return run_group(tests);
}
