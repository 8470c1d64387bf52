#include "support.h"

#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sched.h>
#include <signal.h>
#include <sys/wait.h>
#include <time.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "node/privsep.h"

static void config(struct privsep_config *c)
{
	memset(c, 0, sizeof(*c));
	snprintf(c->ifname, sizeof(c->ifname), "awg0");
	c->port = 443;
	c->port_hi = 445;
	assert_int_equal(cidr_parse("10.86.0.0/16", &c->routes[0]), 0);
	c->nroutes = 1;
}

static void the_four_requests_of_the_table_pass_with_their_own_arguments(void **state)
{
	struct privsep_config c;
	char err[256];
	config(&c);
	struct privsep_req ok[] = {
		{ .op = PRIVSEP_LINK_UP },
		{ .op = PRIVSEP_ROUTES },
		{ .op = PRIVSEP_POLICY, .forwarding = 1, .masquerade = 1, .isolation = 1 },
		{ .op = PRIVSEP_POLICY },
		{ .op = PRIVSEP_UDP_SOCKET, .family = AF_INET, .port = 443 },
		{ .op = PRIVSEP_UDP_SOCKET, .family = AF_INET6, .port = 445 },
	};
	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++)
		assert_int_equal(privsep_validate(&c, &ok[i], err, sizeof(err)), 0);
}

static void unknown_requests_and_stray_arguments_are_refused_with_the_value(void **state)
{
	struct privsep_config c;
	char err[256];
	config(&c);
	struct privsep_req r = { .op = 99 };
	assert_int_equal(privsep_validate(&c, &r, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "request 99"));
	r = (struct privsep_req){ .op = 0 };
	assert_int_equal(privsep_validate(&c, &r, err, sizeof(err)), -EINVAL);
	/* LINK_UP and ROUTES name nothing: the interface and prefixes are the helper's own. */
	r = (struct privsep_req){ .op = PRIVSEP_LINK_UP, .port = 22 };
	assert_int_equal(privsep_validate(&c, &r, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "port 22"));
	r = (struct privsep_req){ .op = PRIVSEP_ROUTES, .pad = 1 };
	assert_int_equal(privsep_validate(&c, &r, err, sizeof(err)), -EINVAL);
	r = (struct privsep_req){ .op = PRIVSEP_POLICY, .forwarding = 2 };
	assert_int_equal(privsep_validate(&c, &r, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "got 2/0/0"));
	r = (struct privsep_req){ .op = PRIVSEP_POLICY, .forwarding = 1, .port = 443 };
	assert_int_equal(privsep_validate(&c, &r, err, sizeof(err)), -EINVAL);
}

static void sockets_only_on_the_configured_ports_and_ip_families(void **state)
{
	struct privsep_config c;
	char err[256];
	config(&c);
	struct privsep_req r = { .op = PRIVSEP_UDP_SOCKET, .family = AF_INET, .port = 22 };
	assert_int_equal(privsep_validate(&c, &r, err, sizeof(err)), -EPERM);
	assert_non_null(strstr(err, "port 22"));
	assert_non_null(strstr(err, "443-445"));
	r.port = 446;
	assert_int_equal(privsep_validate(&c, &r, err, sizeof(err)), -EPERM);
	r.port = 0; /* a kernel-chosen port is not configured either */
	assert_int_equal(privsep_validate(&c, &r, err, sizeof(err)), -EPERM);
	r = (struct privsep_req){ .op = PRIVSEP_UDP_SOCKET, .family = AF_UNIX, .port = 443 };
	assert_int_equal(privsep_validate(&c, &r, err, sizeof(err)), -EPERM);
	assert_non_null(strstr(err, "family 1"));
	r = (struct privsep_req){ .op = PRIVSEP_UDP_SOCKET, .family = AF_PACKET, .port = 443 };
	assert_int_equal(privsep_validate(&c, &r, err, sizeof(err)), -EPERM);
	r = (struct privsep_req){ .op = PRIVSEP_UDP_SOCKET, .family = AF_INET, .port = 443, .masquerade = 1 };
	assert_int_equal(privsep_validate(&c, &r, err, sizeof(err)), -EINVAL);
}

static void a_refused_request_does_nothing_and_returns_no_descriptor(void **state)
{
	struct privsep_config c;
	struct privsep *p = NULL;
	char err[256];
	int fd = 123;
	uint16_t port = 7;
	config(&c);
	assert_int_equal(privsep_new_local(&c, &p), 0);
	struct privsep_req r = { .op = PRIVSEP_UDP_SOCKET, .family = AF_INET, .port = 80 };
	assert_int_equal(privsep_call(p, &r, &fd, &port, err, sizeof(err)), -EPERM);
	assert_int_equal(fd, -1);
	assert_int_equal(port, 0);
	assert_int_equal(privsep_helper_pid(p), 0);
	privsep_free(p);
	privsep_free(NULL);
}

static void the_forked_helper_refuses_the_same_requests_over_its_socket(void **state)
{
	if (geteuid() != 0) {
		skip(); /* switching to an unprivileged user needs root */
		return;
	}
	struct privsep_config c;
	struct privsep *p = NULL;
	char err[256];
	int fd;
	uint16_t port;
	uid_t uid;
	gid_t gid;
	config(&c);
	assert_int_equal(privsep_lookup_user("nobody", &uid, &gid), 0);
	assert_int_equal(privsep_new_helper(&c, uid, gid, &p), 0);
	assert_true(privsep_helper_pid(p) > 0);
	struct privsep_req r = { .op = PRIVSEP_UDP_SOCKET, .family = AF_INET, .port = 22 };
	assert_int_equal(privsep_call(p, &r, &fd, &port, err, sizeof(err)), -EPERM);
	assert_non_null(strstr(err, "port 22"));
	assert_int_equal(fd, -1);
	r = (struct privsep_req){ .op = 42 };
	assert_int_equal(privsep_call(p, &r, &fd, &port, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "request 42"));
	privsep_free(p); /* closes the socket: the helper exits and is reaped */
}

static void root_is_never_the_run_user(void **state)
{
	uid_t uid;
	gid_t gid;
	assert_int_equal(privsep_lookup_user("root", &uid, &gid), -EPERM);
	assert_int_equal(privsep_lookup_user("0", &uid, &gid), -EPERM);
	assert_int_equal(privsep_lookup_user("no-such-user-pharos-test", &uid, &gid), -ENOENT);
	assert_int_equal(privsep_lookup_user("nobody", &uid, &gid), 0);
	assert_true(uid != 0 && gid != 0);
	assert_int_equal(privsep_drop(0, 0), -EPERM);
}

/* The child: sandboxed, ordinary work goes on; every forbidden call fails
 * (EPERM under sanitizers) or kills it (SIGSYS in release builds). Exit
 * codes: 42 all refused, 10+ which step misbehaved. */
static void sandboxed_child(void)
{
	unsigned denied = 0;
	if (privsep_sandbox(&denied) < 0 || denied < 30)
		_exit(10);
	int fd = open("/dev/null", O_RDWR | O_CLOEXEC);
	int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || s < 0 || write(fd, "x", 1) != 1)
		_exit(11);
	close(fd);
	close(s);
	if (unshare(CLONE_NEWUSER) == 0 || errno != EPERM)
		_exit(12);
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	if (clock_settime(CLOCK_REALTIME, &ts) == 0 || errno != EPERM)
		_exit(13);
	char *const argv[] = { (char *)"true", NULL };
	execve("/bin/true", argv, (char *const[]){ NULL });
	_exit(errno == EPERM ? 42 : 14);
}

static void the_sandbox_refuses_program_execution_and_namespaces_and_keeps_the_rest(void **state)
{
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0)
		sandboxed_child();
	int status = 0;
	assert_int_equal(waitpid(pid, &status, 0), pid);
	if (WIFSIGNALED(status)) {
		/* release build: the first forbidden call (unshare) kills */
		assert_int_equal(WTERMSIG(status), SIGSYS);
	} else {
		assert_true(WIFEXITED(status));
		assert_int_equal(WEXITSTATUS(status), 42);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(the_four_requests_of_the_table_pass_with_their_own_arguments),
		cmocka_unit_test(unknown_requests_and_stray_arguments_are_refused_with_the_value),
		cmocka_unit_test(sockets_only_on_the_configured_ports_and_ip_families),
		cmocka_unit_test(a_refused_request_does_nothing_and_returns_no_descriptor),
		cmocka_unit_test(the_forked_helper_refuses_the_same_requests_over_its_socket),
		cmocka_unit_test(root_is_never_the_run_user),
		cmocka_unit_test(the_sandbox_refuses_program_execution_and_namespaces_and_keeps_the_rest),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
