#include "support.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "lib/buf.h"
#include "node/policy.h"

static char *render(const struct policy *p, const char *egress)
{
	static char out[4096];
	struct buf b;
	buf_init(&b, 1 << 16);
	assert_int_equal(policy_render(p, egress, &b), 0);
	snprintf(out, sizeof(out), "%s", (char *)b.data);
	buf_fini(&b);
	return out;
}

static void defaults_forward_and_masquerade_through_the_egress(void **state)
{
	struct policy p;
	policy_defaults(&p, "awg0");
	const char *r = render(&p, "eth0");
	assert_non_null(strstr(r, "table inet pharos {}\ndelete table inet pharos\ntable inet pharos {\n"));
	assert_non_null(strstr(r, "iifname \"awg0\" accept"));
	assert_non_null(strstr(r, "iifname \"awg0\" oifname \"eth0\" masquerade"));
	assert_null(strstr(r, "iifname \"awg0\" oifname \"awg0\" drop"));
}

static void isolation_drops_client_to_client_before_accepting(void **state)
{
	struct policy p;
	policy_defaults(&p, "awg0");
	p.isolation = true;
	const char *r = render(&p, "eth0");
	const char *drop = strstr(r, "iifname \"awg0\" oifname \"awg0\" drop");
	const char *acc = strstr(r, "iifname \"awg0\" accept");
	assert_non_null(drop);
	assert_non_null(acc);
	assert_true(drop < acc);
}

static void forwarding_off_drops_tunnel_traffic_and_renders_no_nat(void **state)
{
	struct policy p;
	policy_defaults(&p, "awg0");
	p.forwarding = p.masquerade = false;
	const char *r = render(&p, NULL);
	assert_non_null(strstr(r, "iifname \"awg0\" drop"));
	assert_null(strstr(r, "postrouting"));
}

static void masquerade_or_isolation_without_forwarding_is_refused_with_a_reason(void **state)
{
	struct policy p;
	char err[128];
	policy_defaults(&p, "awg0");
	p.forwarding = false;
	assert_int_equal(policy_validate(&p, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "masquerade needs forwarding"));
	p.masquerade = false;
	p.isolation = true;
	assert_int_equal(policy_validate(&p, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "isolation needs forwarding"));
}

static void interface_names_that_could_inject_rules_are_refused(void **state)
{
	struct policy p;
	char err[128];
	policy_defaults(&p, "awg0\" accept; #");
	assert_int_equal(policy_validate(&p, err, sizeof(err)), -EINVAL);
	policy_defaults(&p, "awg0");
	strcpy(p.egress_if, "e th0");
	assert_int_equal(policy_validate(&p, err, sizeof(err)), -EINVAL);
	struct buf b;
	buf_init(&b, 1 << 16);
	policy_defaults(&p, "awg0");
	assert_int_equal(policy_render(&p, "eth0\"", &b), -EINVAL);
	buf_fini(&b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(defaults_forward_and_masquerade_through_the_egress),
		cmocka_unit_test(isolation_drops_client_to_client_before_accepting),
		cmocka_unit_test(forwarding_off_drops_tunnel_traffic_and_renders_no_nat),
		cmocka_unit_test(masquerade_or_isolation_without_forwarding_is_refused_with_a_reason),
		cmocka_unit_test(interface_names_that_could_inject_rules_are_refused),
	};
	return run_group(tests);
}
