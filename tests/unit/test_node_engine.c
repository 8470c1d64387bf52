#include "support.h"

#include <errno.h>
#include <sodium.h>
#include <string.h>

#include "awg/device.h"
#include "awg/noise.h"
#include "awg/uapi_client.h"
#include "node/engine.h"
#include "node/identity.h"

static struct node_identity id;

static int setup(void **state)
{
	memset(&id, 0, sizeof(id));
	obf_params_init(&id.obf);
	noise_generate_private(id.awg_private);
	if (noise_public_from_private(id.awg_public, id.awg_private) < 0)
		return -1;
	return node_identity_generate_obf(&id.obf);
}

static int teardown(void **state)
{
	node_identity_fini(&id);
	return 0;
}

static struct node_engine *start(void)
{
	struct node_engine *e;
	struct node_engine_opts o = { .ifname = "awgtest", .port = 0, .id = &id, .no_tun = true };
	assert_int_equal(node_engine_new(&e, &o), 0);
	return e;
}

static void spec(struct node_peer_spec *s, struct cidr *c, uint8_t tag, const char *aip)
{
	memset(s, 0, sizeof(*s));
	randombytes_buf(s->public_key, 32);
	s->public_key[0] = tag;
	s->has_psk = true;
	randombytes_buf(s->psk, 32);
	assert_int_equal(cidr_parse(aip, c), 0);
	s->allowed_ips = c;
	s->n_allowed_ips = 1;
}

static void a_full_replace_removes_absent_peers_and_rewrites_present_ones(void **state)
{
	struct node_engine *e = start();
	struct node_peer_spec s[3];
	struct cidr c[3];
	struct uapi_client_device *d;
	spec(&s[0], &c[0], 1, "10.86.0.2/32");
	spec(&s[1], &c[1], 2, "10.86.0.3/32");
	spec(&s[2], &c[2], 3, "10.86.0.4/32");
	assert_int_equal(node_engine_replace_peers(e, s, 3, NULL, 0), 0);
	assert_int_equal(node_engine_snapshot(e, &d), 0);
	assert_int_equal(d->n_peers, 3);
	assert_memory_equal(d->public_key, id.awg_public, 32);
	assert_true(uapi_client_awg_is_set(&d->awg, UAPI_CLIENT_JC));
	uapi_client_device_free(d);

	/* Peer 1 goes, peer 2 moves to another address, peer 3 stays. */
	assert_int_equal(cidr_parse("10.86.0.9/32", &c[1]), 0);
	assert_int_equal(node_engine_replace_peers(e, &s[1], 2, NULL, 0), 0);
	assert_int_equal(node_engine_snapshot(e, &d), 0);
	assert_int_equal(d->n_peers, 2);
	for (size_t i = 0; i < d->n_peers; i++) {
		assert_int_not_equal(d->peers[i].public_key[0], 1);
		assert_int_equal(d->peers[i].n_allowed_ips, 1);
		if (d->peers[i].public_key[0] == 2)
			assert_int_equal(d->peers[i].allowed_ips[0].addr.bytes[3], 9);
	}
	uapi_client_device_free(d);
	node_engine_free(e);
}

static void single_peer_operations_are_idempotent(void **state)
{
	struct node_engine *e = start();
	struct node_peer_spec s;
	struct cidr c;
	struct uapi_client_device *d;
	spec(&s, &c, 7, "10.86.1.1/32");
	assert_int_equal(node_engine_add_peer(e, &s, NULL, 0), 0);
	assert_int_equal(node_engine_add_peer(e, &s, NULL, 0), 0);
	assert_int_equal(node_engine_snapshot(e, &d), 0);
	assert_int_equal(d->n_peers, 1);
	uapi_client_device_free(d);
	assert_int_equal(node_engine_remove_peer(e, s.public_key), 0);
	assert_int_equal(node_engine_remove_peer(e, s.public_key), 0);
	assert_int_equal(node_engine_snapshot(e, &d), 0);
	assert_int_equal(d->n_peers, 0);
	uapi_client_device_free(d);
	node_engine_free(e);
}

static void a_restart_comes_back_with_the_same_identity_and_peers(void **state)
{
	struct node_engine *e = start();
	struct node_peer_spec s[2];
	struct cidr c[2];
	struct uapi_client_device *d;
	spec(&s[0], &c[0], 1, "10.86.0.2/32");
	spec(&s[1], &c[1], 2, "fd86::2/128");
	assert_int_equal(node_engine_replace_peers(e, s, 2, NULL, 0), 0);
	assert_int_equal(node_engine_restart(e), 0);
	assert_int_equal(node_engine_snapshot(e, &d), 0);
	assert_int_equal(d->n_peers, 2);
	assert_memory_equal(d->public_key, id.awg_public, 32);
	for (size_t i = 0; i < 2; i++)
		assert_true(d->peers[i].has_preshared_key);
	uapi_client_device_free(d);
	node_engine_free(e);
}

struct opener {
	int calls;
	int fail; /* 0, or the error every call returns */
};

static int open_udp(void *ctx, int family, uint16_t port, uint16_t *bound)
{
	struct opener *o = ctx;
	o->calls++;
	return o->fail ? o->fail : device_udp_socket(family, port, 0, bound);
}

static void sockets_come_from_the_opener_at_start_and_after_a_restart(void **state)
{
	struct opener op = { 0 };
	struct node_engine *e;
	struct node_engine_opts o = { .ifname = "awgtest", .port = 0, .id = &id, .no_tun = true,
		                      .udp_open = open_udp, .udp_open_ctx = &op };
	assert_int_equal(node_engine_new(&e, &o), 0);
	int at_start = op.calls;
	assert_true(at_start >= 1); /* IPv4, and IPv6 where the host has it */
	assert_int_equal(node_engine_restart(e), 0);
	assert_int_equal(op.calls, 2 * at_start);
	node_engine_free(e);

	/* The privileged side refusing means no engine, with its error. */
	op.fail = -EACCES;
	assert_int_equal(node_engine_new(&e, &o), -EACCES);
	assert_null(e);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(a_full_replace_removes_absent_peers_and_rewrites_present_ones),
		cmocka_unit_test(single_peer_operations_are_idempotent),
		cmocka_unit_test(a_restart_comes_back_with_the_same_identity_and_peers),
		cmocka_unit_test(sockets_come_from_the_opener_at_start_and_after_a_restart),
	};
	return cmocka_run_group_tests_name(__FILE__, tests, setup, teardown);
}
