/* pharos-node's privilege separation (STYLE.md habit 10, DESIGN.md §11.6 "Privilege model").
 *
 * Started as root, pharos-node opens its TUN device, then forks this small
 * helper and drops every privilege in the main process (engine, gRPC,
 * storage). The helper keeps only CAP_NET_ADMIN and CAP_NET_BIND_SERVICE,
 * under the same unprivileged uid, and answers exactly these requests over
 * a SOCK_SEQPACKET socketpair, each checked against the configuration it
 * was forked with (privsep_validate):
 *
 *   request        arguments                        effect (only ours)
 *   LINK_UP        none                             our tunnel interface up
 *   ROUTES         none                             the --route prefixes into our interface
 *   POLICY         forwarding, masquerade,          render and load table inet pharos,
 *                  isolation (each 0/1)             forwarding sysctls (policy_apply)
 *   UDP_SOCKET     family (AF_INET/AF_INET6),       a UDP socket bound to that port,
 *                  port within --port/--ports       passed back with SCM_RIGHTS
 *
 * Nothing else: no interface or prefix, table, sysctl or port comes from
 * the unprivileged side, so a compromised control service cannot use the
 * helper as a root oracle. Without root (tests, development) the same
 * requests run in-process through the same validation. */
#ifndef PHAROS_NODE_PRIVSEP_H
#define PHAROS_NODE_PRIVSEP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "lib/addr.h"
#include "lib/err.h"

#define PRIVSEP_MAX_ROUTES 8

enum privsep_op {
	PRIVSEP_LINK_UP = 1,
	PRIVSEP_ROUTES,
	PRIVSEP_POLICY,
	PRIVSEP_UDP_SOCKET,
};

/* The wire request: fixed size, every field meaningful for one op only and
 * required to be zero for the others. */
struct privsep_req {
	uint32_t op;
	uint32_t family;                    /* UDP_SOCKET */
	uint32_t port;                      /* UDP_SOCKET */
	uint8_t forwarding, masquerade, isolation; /* POLICY */
	uint8_t pad;
};

/* What the helper was forked with: its whole world. */
struct privsep_config {
	char ifname[16];                    /* our tunnel interface, as opened */
	uint16_t port, port_hi;             /* the AmneziaWG port range */
	struct cidr routes[PRIVSEP_MAX_ROUTES];
	int nroutes;
};

struct privsep;

/* Refuses anything outside the table above: -EINVAL (or -EPERM for a port
 * or family outside the configuration) with a message quoting the value. */
int privsep_validate(const struct privsep_config *c, const struct privsep_req *r, char *err, size_t errlen) WUR;
/* Validates, then performs the request in this process. *fd is set for
 * UDP_SOCKET (-1 otherwise), *port to the bound port. */
int privsep_execute(const struct privsep_config *c, const struct privsep_req *r, int *fd, uint16_t *port,
                    char *err, size_t errlen) WUR;

/* In-process mode (not root): privsep_call runs privsep_execute. */
int privsep_new_local(const struct privsep_config *c, struct privsep **out) WUR;
/* Forks the helper (call while single-threaded, before any secret is in
 * memory). The helper switches to uid/gid keeping only the two
 * capabilities, closes every other fd and serves until the socket closes. */
int privsep_new_helper(const struct privsep_config *c, uid_t uid, gid_t gid, struct privsep **out) WUR;
/* One request; fd as in privsep_execute. Thread-safe (one at a time). */
int privsep_call(struct privsep *p, const struct privsep_req *r, int *fd, uint16_t *port, char *err,
                 size_t errlen) WUR;
/* The helper's pid, 0 in-process. */
pid_t privsep_helper_pid(const struct privsep *p);
/* Closes the socket (the helper exits) and reaps the helper. NULL is a no-op. */
void privsep_free(struct privsep *p);

/* Drops every privilege of the calling (single-threaded) process for good:
 * bounding and ambient sets cleared, no supplementary groups, gid and uid
 * switched (real, effective, saved), no capabilities, no_new_privs.
 * Verifies the result; -EPERM if anything is left. */
int privsep_drop(uid_t uid, gid_t gid) WUR;
/* A seccomp filter on this process (every thread) that refuses what the
 * control service never needs and an intruder would want first: running
 * programs, tracing and reading other processes, namespaces and mounts,
 * loading kernel code (modules, BPF, kexec), keyrings, userfaultfd,
 * io_uring, the clock. Everything else stays allowed: a deny list, not an
 * allow list, so no rarely taken path can be killed by a syscall nobody
 * listed. Release builds kill the process (SIGSYS); sanitizer builds
 * answer EPERM and allow ptrace, which LeakSanitizer uses at exit. Filters
 * are inherited, so call it after the helper is forked. 0, or a negative
 * errno. *denied gets the number of syscalls refused. */
int privsep_sandbox(unsigned *denied) WUR;
/* Resolves --user NAME (or a number): uid and primary gid. -ENOENT when
 * unknown, -EPERM for uid 0. */
int privsep_lookup_user(const char *name, uid_t *uid, gid_t *gid) WUR;

#endif
