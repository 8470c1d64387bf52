#include "node/privsep.h"

#include <errno.h>
#include <grp.h>
#include <limits.h>
#include <netinet/in.h>
#include <pthread.h>
#include <pwd.h>
#include <seccomp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/capability.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "awg/device.h"
#include "lib/log.h"
#include "lib/mem.h"
#include "node/netlink.h"
#include "node/policy.h"

struct privsep_resp {
	int32_t rc;
	uint32_t port;
	char err[248];
};

struct privsep {
	struct privsep_config c;
	int sock;                 /* -1: in-process */
	pid_t pid;
	pthread_mutex_t lock;     /* one request at a time on the socket */
};

/* ---- the request table: what may be asked, and what it does ---- */

static bool zero_args(const struct privsep_req *r)
{
	return !r->family && !r->port && !r->forwarding && !r->masquerade && !r->isolation && !r->pad;
}

static int check_none(const struct privsep_config *c, const struct privsep_req *r, char *err, size_t errlen)
{
	if (zero_args(r))
		return 0;
	snprintf(err, errlen, "this request takes no arguments (family %u, port %u, flags %u/%u/%u given)",
	         r->family, r->port, r->forwarding, r->masquerade, r->isolation);
	return -EINVAL;
}

static int check_policy(const struct privsep_config *c, const struct privsep_req *r, char *err, size_t errlen)
{
	if (r->family || r->port || r->pad || r->forwarding > 1 || r->masquerade > 1 || r->isolation > 1) {
		snprintf(err, errlen, "POLICY takes forwarding, masquerade and isolation as 0 or 1 only "
		                      "(got %u/%u/%u, family %u, port %u)",
		         r->forwarding, r->masquerade, r->isolation, r->family, r->port);
		return -EINVAL;
	}
	return 0;
}

static int check_udp(const struct privsep_config *c, const struct privsep_req *r, char *err, size_t errlen)
{
	if (r->forwarding || r->masquerade || r->isolation || r->pad) {
		snprintf(err, errlen, "UDP_SOCKET takes a family and a port only");
		return -EINVAL;
	}
	if (r->family != AF_INET && r->family != AF_INET6) {
		snprintf(err, errlen, "UDP_SOCKET family %u: expected AF_INET (%d) or AF_INET6 (%d)", r->family,
		         AF_INET, AF_INET6);
		return -EPERM;
	}
	if (r->port < c->port || r->port > c->port_hi) {
		snprintf(err, errlen, "UDP_SOCKET port %u: only the configured AmneziaWG port%s %u-%u", r->port,
		         c->port_hi > c->port ? "s" : "", c->port, c->port_hi);
		return -EPERM;
	}
	return 0;
}

static int run_link_up(const struct privsep_config *c, const struct privsep_req *r, int *fd, uint16_t *port,
                       char *err, size_t errlen)
{
	int rc = nl_link_up(c->ifname);
	if (rc < 0)
		snprintf(err, errlen, "cannot bring %s up: %s", c->ifname, err_str(rc));
	return rc;
}

static int run_routes(const struct privsep_config *c, const struct privsep_req *r, int *fd, uint16_t *port,
                      char *err, size_t errlen)
{
	for (int i = 0; i < c->nroutes; i++) {
		int rc = nl_route_replace(&c->routes[i], c->ifname);
		if (rc < 0) {
			char s[CIDR_STRLEN] = "?";
			(void)!cidr_format(&c->routes[i], s, sizeof(s));
			snprintf(err, errlen, "cannot route %s into %s: %s", s, c->ifname, err_str(rc));
			return rc;
		}
	}
	return 0;
}

static int run_policy(const struct privsep_config *c, const struct privsep_req *r, int *fd, uint16_t *port,
                      char *err, size_t errlen)
{
	struct policy p;
	policy_defaults(&p, c->ifname);
	p.forwarding = r->forwarding;
	p.masquerade = r->masquerade;
	p.isolation = r->isolation;
	return policy_apply(&p, err, errlen);
}

static int run_udp(const struct privsep_config *c, const struct privsep_req *r, int *fd, uint16_t *port,
                   char *err, size_t errlen)
{
	int s = device_udp_socket((int)r->family, (uint16_t)r->port, 0, port);
	if (s < 0) {
		snprintf(err, errlen, "cannot bind UDP port %u: %s", r->port, err_str(s));
		return s;
	}
	*fd = s;
	return 0;
}

static const struct {
	enum privsep_op op;
	const char *name;
	int (*check)(const struct privsep_config *c, const struct privsep_req *r, char *err, size_t errlen);
	int (*run)(const struct privsep_config *c, const struct privsep_req *r, int *fd, uint16_t *port, char *err,
	           size_t errlen);
} ops[] = {
	{ PRIVSEP_LINK_UP, "LINK_UP", check_none, run_link_up },
	{ PRIVSEP_ROUTES, "ROUTES", check_none, run_routes },
	{ PRIVSEP_POLICY, "POLICY", check_policy, run_policy },
	{ PRIVSEP_UDP_SOCKET, "UDP_SOCKET", check_udp, run_udp },
};

static int find_op(uint32_t op)
{
	for (size_t i = 0; i < sizeof(ops) / sizeof(ops[0]); i++)
		if (ops[i].op == op)
			return (int)i;
	return -1;
}

int privsep_validate(const struct privsep_config *c, const struct privsep_req *r, char *err, size_t errlen)
{
	int i = find_op(r->op);
	if (i < 0) {
		snprintf(err, errlen, "request %u: not in the table (LINK_UP, ROUTES, POLICY, UDP_SOCKET)", r->op);
		return -EINVAL;
	}
	return ops[i].check(c, r, err, errlen);
}

int privsep_execute(const struct privsep_config *c, const struct privsep_req *r, int *fd, uint16_t *port,
                    char *err, size_t errlen)
{
	*fd = -1;
	*port = 0;
	int rc = privsep_validate(c, r, err, errlen);
	if (rc < 0)
		return rc;
	return ops[find_op(r->op)].run(c, r, fd, port, err, errlen);
}

/* ---- dropping privileges ---- */

/* Keeps `keep` (n of them) in the bounding, permitted and effective sets and
 * nothing else, under uid/gid, with no_new_privs. */
static int switch_user(uid_t uid, gid_t gid, const cap_value_t *keep, int n)
{
	cap_t want = NULL, have = NULL;
	int rc = -EPERM;
	if (uid == 0 || gid == 0)
		return -EPERM;
	cap_value_t last = cap_max_bits();
	for (cap_value_t v = 0; v < last; v++) {
		bool kept = false;
		for (int i = 0; i < n; i++)
			kept |= keep[i] == v;
		if (!kept && cap_drop_bound(v) < 0 && errno != EINVAL) {
			rc = -errno;
			goto out;
		}
	}
	if (cap_reset_ambient() < 0 && errno != EINVAL)
		goto out;
	if (n && prctl(PR_SET_KEEPCAPS, 1, 0, 0, 0) < 0)
		goto out;
	if (setgroups(0, NULL) < 0 || setresgid(gid, gid, gid) < 0 || setresuid(uid, uid, uid) < 0) {
		rc = -errno;
		goto out;
	}
	if (!(want = cap_init()))
		goto out;
	if (n && (cap_set_flag(want, CAP_PERMITTED, n, keep, CAP_SET) < 0 ||
	          cap_set_flag(want, CAP_EFFECTIVE, n, keep, CAP_SET) < 0))
		goto out;
	if (cap_set_proc(want) < 0)
		goto out;
	if (prctl(PR_SET_KEEPCAPS, 0, 0, 0, 0) < 0 || prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
		goto out;
	/* Verify rather than trust: ids, capabilities, and no way back. */
	uid_t ru, eu, su;
	gid_t rg, eg, sg;
	if (getresuid(&ru, &eu, &su) < 0 || getresgid(&rg, &eg, &sg) < 0 || ru != uid || eu != uid || su != uid ||
	    rg != gid || eg != gid || sg != gid)
		goto out;
	if (!(have = cap_get_proc()) || cap_compare(have, want) != 0)
		goto out;
	if (setresuid(0, 0, 0) == 0)
		goto out;
	rc = 0;
out:
	if (want)
		cap_free(want);
	if (have)
		cap_free(have);
	return rc;
}

int privsep_drop(uid_t uid, gid_t gid)
{
	return switch_user(uid, gid, NULL, 0);
}

#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define SANDBOX_UNDER_SANITIZER 1
#else
#define SANDBOX_UNDER_SANITIZER 0
#endif

int privsep_sandbox(unsigned *denied)
{
	static const char *const deny[] = {
		/* run another program */
		"execve", "execveat",
		/* other processes' memory */
		"ptrace", "process_vm_readv", "process_vm_writev", "kcmp",
		/* namespaces, mounts, root */
		"unshare", "setns", "mount", "umount2", "pivot_root", "chroot", "move_mount", "fsopen", "fsconfig",
		"fsmount", "fspick", "open_tree", "mount_setattr", "open_by_handle_at", "name_to_handle_at",
		/* kernel code and kernel attack surface */
		"init_module", "finit_module", "delete_module", "kexec_load", "kexec_file_load", "bpf",
		"perf_event_open", "userfaultfd", "io_uring_setup", "io_uring_enter", "io_uring_register",
		"keyctl", "add_key", "request_key", "fanotify_init", "lookup_dcookie", "personality",
		/* the machine */
		"reboot", "swapon", "swapoff", "acct", "quotactl", "iopl", "ioperm", "settimeofday",
		"clock_settime", "clock_adjtime", "adjtimex",
	};
	uint32_t action = SANDBOX_UNDER_SANITIZER ? SCMP_ACT_ERRNO(EPERM) : SCMP_ACT_KILL_PROCESS;
	scmp_filter_ctx ctx = seccomp_init(SCMP_ACT_ALLOW);
	unsigned n = 0;
	int rc;

	*denied = 0;
	if (!ctx)
		return -ENOMEM;
	/* Every thread, even one started before us; no_new_privs (set anyway
	 * when privileges were dropped) lets an unprivileged process load it. */
	if ((rc = seccomp_attr_set(ctx, SCMP_FLTATR_CTL_TSYNC, 1)) < 0 ||
	    (rc = seccomp_attr_set(ctx, SCMP_FLTATR_CTL_NNP, 1)) < 0)
		goto out;
	for (size_t i = 0; i < sizeof(deny) / sizeof(deny[0]); i++) {
		if (SANDBOX_UNDER_SANITIZER && !strcmp(deny[i], "ptrace"))
			continue;
		int nr = seccomp_syscall_resolve_name(deny[i]);
		if (nr == __NR_SCMP_ERROR)
			continue; /* not a syscall on this architecture */
		if ((rc = seccomp_rule_add(ctx, action, nr, 0)) < 0)
			goto out;
		n++;
	}
	if ((rc = seccomp_load(ctx)) < 0)
		goto out;
	*denied = n;
	rc = 0;
out:
	seccomp_release(ctx);
	return rc;
}

int privsep_lookup_user(const char *name, uid_t *uid, gid_t *gid)
{
	struct passwd pw, *res = NULL;
	char buf[4096];
	char *end;
	unsigned long n = strtoul(name, &end, 10);
	if (*name >= '0' && *name <= '9' && !*end) {
		if (n > UINT_MAX - 1)
			return -ERANGE;
		*uid = (uid_t)n;
		*gid = (gid_t)n;
		if (getpwuid_r(*uid, &pw, buf, sizeof(buf), &res) == 0 && res)
			*gid = pw.pw_gid;
	} else {
		if (getpwnam_r(name, &pw, buf, sizeof(buf), &res) != 0 || !res)
			return -ENOENT;
		*uid = pw.pw_uid;
		*gid = pw.pw_gid;
	}
	return *uid == 0 || *gid == 0 ? -EPERM : 0;
}

/* ---- the helper process ---- */

static int send_resp(int sock, const struct privsep_resp *resp, int fd)
{
	union {
		struct cmsghdr h;
		char b[CMSG_SPACE(sizeof(int))];
	} cm;
	struct iovec iov = { .iov_base = (void *)resp, .iov_len = sizeof(*resp) };
	struct msghdr m = { .msg_iov = &iov, .msg_iovlen = 1 };
	if (fd >= 0) {
		memset(&cm, 0, sizeof(cm));
		m.msg_control = cm.b;
		m.msg_controllen = sizeof(cm.b);
		struct cmsghdr *c = CMSG_FIRSTHDR(&m);
		c->cmsg_level = SOL_SOCKET;
		c->cmsg_type = SCM_RIGHTS;
		c->cmsg_len = CMSG_LEN(sizeof(int));
		memcpy(CMSG_DATA(c), &fd, sizeof(int));
	}
	ssize_t n;
	do
		n = sendmsg(sock, &m, MSG_NOSIGNAL);
	while (n < 0 && errno == EINTR);
	return n == (ssize_t)sizeof(*resp) ? 0 : -EPIPE;
}

static _Noreturn void helper_main(int sock, const struct privsep_config *c, uid_t uid, gid_t gid)
{
	static const cap_value_t keep[] = { CAP_NET_ADMIN, CAP_NET_BIND_SERVICE };
	prctl(PR_SET_NAME, "pharos-node-priv", 0, 0, 0);
	/* Nothing of the parent's but the socket and stdio (logs). */
	if (sock != 3) {
		if (dup2(sock, 3) < 0)
			_exit(2);
		sock = 3;
	}
	if (close_range(4, ~0u, 0) < 0)
		for (int fd = 4; fd < 1024; fd++)
			close(fd);
	/* The main process blocks SIGTERM to wait for it; the helper just ends. */
	sigset_t all;
	sigfillset(&all);
	pthread_sigmask(SIG_UNBLOCK, &all, NULL);
	int rc = switch_user(uid, gid, keep, 2);
	if (rc < 0) {
		log_error("privileged helper: cannot switch to uid %u keeping only CAP_NET_ADMIN and "
		          "CAP_NET_BIND_SERVICE: %s",
		          (unsigned)uid, err_str(rc));
		_exit(2);
	}
	prctl(PR_SET_DUMPABLE, 0, 0, 0, 0); /* the unprivileged side may not ptrace or read us */
	for (;;) {
		struct privsep_req r;
		struct privsep_resp resp;
		struct iovec iov = { .iov_base = &r, .iov_len = sizeof(r) };
		struct msghdr m = { .msg_iov = &iov, .msg_iovlen = 1 };
		memset(&resp, 0, sizeof(resp));
		ssize_t n = recvmsg(sock, &m, MSG_CMSG_CLOEXEC);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break; /* the main process is gone */
		int fd = -1;
		uint16_t port = 0;
		if (n != (ssize_t)sizeof(r) || (m.msg_flags & (MSG_TRUNC | MSG_CTRUNC))) {
			resp.rc = -EINVAL;
			snprintf(resp.err, sizeof(resp.err), "request of %zd bytes refused (exactly %zu, no descriptors)",
			         n, sizeof(r));
		} else {
			resp.rc = privsep_execute(c, &r, &fd, &port, resp.err, sizeof(resp.err));
			resp.port = port;
			int i = find_op(r.op);
			if (resp.rc < 0)
				log_warn("privileged helper: %s refused: %s", i >= 0 ? ops[i].name : "unknown request",
				         resp.err);
			else
				log_debug("privileged helper: %s done", ops[i].name);
		}
		rc = send_resp(sock, &resp, fd);
		if (fd >= 0)
			close(fd);
		if (rc < 0)
			break;
	}
	_exit(0);
}

static int new_common(const struct privsep_config *c, struct privsep **out)
{
	struct privsep *p = mem_zalloc(sizeof(*p));
	*out = NULL;
	if (!p)
		return -ENOMEM;
	p->c = *c;
	p->sock = -1;
	pthread_mutex_init(&p->lock, NULL);
	*out = p;
	return 0;
}

int privsep_new_local(const struct privsep_config *c, struct privsep **out)
{
	return new_common(c, out);
}

int privsep_new_helper(const struct privsep_config *c, uid_t uid, gid_t gid, struct privsep **out)
{
	int sv[2];
	int rc = new_common(c, out);
	if (rc < 0)
		return rc;
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0) {
		rc = -errno;
		goto fail;
	}
	fflush(NULL);
	pid_t pid = fork();
	if (pid < 0) {
		rc = -errno;
		close(sv[0]);
		close(sv[1]);
		goto fail;
	}
	if (pid == 0) {
		close(sv[0]);
		helper_main(sv[1], c, uid, gid);
	}
	close(sv[1]);
	(*out)->sock = sv[0];
	(*out)->pid = pid;
	return 0;
fail:
	privsep_free(*out);
	*out = NULL;
	return rc;
}

int privsep_call(struct privsep *p, const struct privsep_req *r, int *fd, uint16_t *port, char *err,
                 size_t errlen)
{
	if (p->sock < 0)
		return privsep_execute(&p->c, r, fd, port, err, errlen);
	struct privsep_resp resp;
	union {
		struct cmsghdr h;
		char b[CMSG_SPACE(sizeof(int))];
	} cm;
	struct iovec iov = { .iov_base = &resp, .iov_len = sizeof(resp) };
	struct msghdr m = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = cm.b, .msg_controllen = sizeof(cm.b) };
	ssize_t n;
	int rc;
	*fd = -1;
	*port = 0;
	pthread_mutex_lock(&p->lock);
	do
		n = send(p->sock, r, sizeof(*r), MSG_NOSIGNAL);
	while (n < 0 && errno == EINTR);
	if (n != (ssize_t)sizeof(*r)) {
		rc = -EPIPE;
		snprintf(err, errlen, "the privileged helper is gone");
		goto out;
	}
	memset(&resp, 0, sizeof(resp));
	do
		n = recvmsg(p->sock, &m, MSG_CMSG_CLOEXEC);
	while (n < 0 && errno == EINTR);
	if (n != (ssize_t)sizeof(resp)) {
		rc = -EPIPE;
		snprintf(err, errlen, "the privileged helper is gone");
		goto out;
	}
	for (struct cmsghdr *c = CMSG_FIRSTHDR(&m); c; c = CMSG_NXTHDR(&m, c))
		if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS && c->cmsg_len == CMSG_LEN(sizeof(int)))
			memcpy(fd, CMSG_DATA(c), sizeof(int));
	rc = resp.rc;
	*port = (uint16_t)resp.port;
	resp.err[sizeof(resp.err) - 1] = '\0';
	if (rc < 0) {
		snprintf(err, errlen, "%s", resp.err);
		if (*fd >= 0) {
			close(*fd);
			*fd = -1;
		}
	} else if (r->op == PRIVSEP_UDP_SOCKET && *fd < 0) {
		rc = -EPROTO;
		snprintf(err, errlen, "the privileged helper sent no socket");
	}
out:
	pthread_mutex_unlock(&p->lock);
	return rc;
}

pid_t privsep_helper_pid(const struct privsep *p)
{
	return p->pid;
}

void privsep_free(struct privsep *p)
{
	if (!p)
		return;
	if (p->sock >= 0)
		close(p->sock);
	if (p->pid > 0)
		while (waitpid(p->pid, NULL, 0) < 0 && errno == EINTR)
			;
	pthread_mutex_destroy(&p->lock);
	mem_free(p);
}
