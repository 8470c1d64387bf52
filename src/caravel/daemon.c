#include "caravel/daemon.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "caravel/dns.h"
#include "caravel/killswitch.h"
#include "caravel/netcfg.h"
#include "lib/buf.h"
#include "lib/fileio.h"

#define REPLY_MAX (64u << 10)
#define REPORT_MAX 1024

struct daemon {
	const struct caravel_up_opts *o;
	caravel_tunnel *tun;
	pthread_mutex_t mu;
	char ks_node[CARAVEL_ID_MAX]; /* node whose pool the kill switch admits */
	bool ks_on, rules_on, dns_on;
	struct caravel_profile_info info;
};

const char *caravel_daemon_rundir(void)
{
	const char *r = getenv("CARAVEL_RUN");
	return r && *r ? r : CARAVEL_DEFAULT_RUN;
}

static int sock_path(const char *rundir, struct sockaddr_un *sa)
{
	memset(sa, 0, sizeof(*sa));
	sa->sun_family = AF_UNIX;
	if ((size_t)snprintf(sa->sun_path, sizeof(sa->sun_path), "%s/control.sock", rundir) >= sizeof(sa->sun_path))
		return -ENAMETOOLONG;
	return 0;
}

/* A unix stream socket and the control socket's address. */
static int control_socket(const char *rundir, struct sockaddr_un *sa)
{
	int rc = sock_path(rundir, sa);
	if (rc < 0)
		return rc;
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	return fd < 0 ? -errno : fd;
}

static void logf_(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void logf_(const char *fmt, ...)
{
	char ts[32];
	time_t now = time(NULL);
	struct tm tm;
	strftime(ts, sizeof(ts), "%Y-%m-%dT%H:%M:%SZ", gmtime_r(&now, &tm));
	va_list ap;
	va_start(ap, fmt);
	fprintf(stderr, "%s ", ts);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
}

/* The kill switch admits node `id`'s whole entry pool. */
static int ks_for_node(struct daemon *d, const char *id, char *err, size_t errlen)
{
	struct caravel_ks_entry e[64];
	size_t n = 0;
	for (size_t i = 0; i < d->info.n_nodes; i++) {
		struct caravel_node_info ni = { .size = sizeof(ni) };
		if (caravel_profile_node(d->o->profile, i, &ni) < 0 || strcmp(ni.id, id))
			continue;
		for (size_t j = 0; j < ni.n_endpoints && n < 64; j++) {
			char a[64];
			if (caravel_profile_node_endpoint(d->o->profile, i, j, a, sizeof(a)) == 0 &&
			    addr_parse(a, &e[n].addr) == 0) {
				e[n].port_lo = ni.port_lo;
				e[n].port_hi = ni.port_hi;
				n++;
			}
		}
		break;
	}
	return caravel_ks_apply(d->o->ifname, e, n, err, errlen);
}

/* On the tunnel's thread. An entry is used only after the kill switch lets
 * it through. */
static int on_event(void *ctx, const struct caravel_event *ev)
{
	static const char *const names[] = { "", "endpoint", "connected", "handshake", "failover", "lost", "stopped" };
	struct daemon *d = ctx;
	int rc = 0;
	const char *name = ev->type >= 1 && ev->type <= CARAVEL_EVENT_STOPPED ? names[ev->type] : "event";
	if (ev->type != CARAVEL_EVENT_HANDSHAKE)
		logf_("%s node=%s endpoint=%s %s", name, ev->node_id ? ev->node_id : "", ev->endpoint, ev->message);
	if (ev->type == CARAVEL_EVENT_ENDPOINT && d->o->kill_switch) {
		char err[512];
		pthread_mutex_lock(&d->mu);
		if (strcmp(d->ks_node, ev->node_id)) {
			rc = ks_for_node(d, ev->node_id, err, sizeof(err));
			if (rc == 0) {
				snprintf(d->ks_node, sizeof(d->ks_node), "%s", ev->node_id);
				d->ks_on = true;
			} else {
				logf_("kill switch: %s", err);
			}
		}
		pthread_mutex_unlock(&d->mu);
	}
	return rc;
}

static int host_setup(struct daemon *d, char *err, size_t errlen)
{
	const char *ifn = caravel_tunnel_ifname(d->tun);
	const char *what = "bringing the interface up";
	char text_buf[CIDR_STRLEN];
	int rc = caravel_net_link_up(ifn);
	for (int i = 0; i < 2 && rc == 0; i++) {
		const char *text = i ? d->info.address6 : d->info.address4;
		struct cidr c;
		if (!*text)
			continue;
		what = text;
		if ((rc = cidr_parse(text, &c)) == 0) {
			/* The device's own address, not the network's. */
			struct cidr host = c;
			char *slash = strchr(text, '/');
			if (slash) {
				char a[64];
				snprintf(a, sizeof(a), "%.*s", (int)(slash - text), text);
				rc = addr_parse(a, &host.addr);
			}
			if (rc == 0)
				rc = caravel_net_addr_add(ifn, &host);
		}
	}
	if (rc == 0 && d->o->default_route) {
		what = "routing all traffic through the tunnel";
		for (int f = 0; f < 2 && rc == 0; f++) {
			struct cidr any = { .addr = { .family = f ? AF_INET6 : AF_INET } };
			if ((rc = caravel_net_route(ifn, &any, true)) == 0 &&
			    (rc = caravel_net_rule(true, any.addr.family)) == 0)
				d->rules_on = true;
		}
		if (rc == 0 && (rc = caravel_net_marks(true, err, errlen)) < 0)
			return rc;
	} else if (rc == 0) {
		/* Only the fleet: the /16 and /48 around the device's addresses
		 * (the controller's default allocation, DESIGN.md §6.1). */
		what = "routing the fleet subnet through the tunnel";
		for (int i = 0; i < 2 && rc == 0; i++) {
			const char *text = i ? d->info.address6 : d->info.address4;
			struct cidr c;
			if (!*text || cidr_parse(text, &c) < 0)
				continue;
			c.prefix = i ? 48 : 16;
			if ((rc = cidr_format(&c, text_buf, sizeof(text_buf))) > 0 &&
			    (rc = cidr_parse(text_buf, &c)) == 0) /* clears the host bits */
				rc = caravel_net_route(ifn, &c, false);
		}
	}
	if (rc < 0) {
		snprintf(err, errlen, "%s on %s: %s", what, ifn, caravel_strerror(rc));
		return rc;
	}
	if (d->info.n_dns) {
		const char *servers[4];
		char why[128];
		for (size_t i = 0; i < d->info.n_dns; i++)
			servers[i] = d->info.dns[i];
		snprintf(why, sizeof(why), "profile %s", d->o->name);
		if ((rc = caravel_dns_apply(d->o->rundir, servers, d->info.n_dns, why, err, errlen)) < 0)
			return rc;
		d->dns_on = true;
	}
	return 0;
}

static void teardown(struct daemon *d)
{
	char err[512];
	bool restored;
	if (d->rules_on) {
		for (int f = 0; f < 2; f++)
			if (caravel_net_rule(false, f ? AF_INET6 : AF_INET) < 0)
				logf_("removing the routing rule failed");
		if (caravel_net_marks(false, err, sizeof(err)) < 0)
			logf_("%s", err);
	}
	if (d->dns_on && caravel_dns_restore(d->o->rundir, &restored, err, sizeof(err)) < 0)
		logf_("%s", err);
	caravel_tunnel_stop(d->tun);
	d->tun = NULL;
	if (d->ks_on && caravel_ks_remove(err, sizeof(err)) < 0)
		logf_("%s", err);
	struct sockaddr_un sa;
	if (sock_path(d->o->rundir, &sa) == 0)
		unlink(sa.sun_path);
	logf_("down");
}

static int status_json(struct daemon *d, struct buf *out)
{
	struct caravel_status st = { .size = sizeof(st) };
	static const char *const states[] = { "", "connecting", "up", "stopped" };
	int rc = caravel_tunnel_status(d->tun, &st);
	if (rc < 0)
		return rc;
	json_t *dns = json_array();
	for (size_t i = 0; dns && i < d->info.n_dns; i++)
		json_array_append_new(dns, json_string(d->info.dns[i]));
	pthread_mutex_lock(&d->mu);
	json_t *j = json_pack("{s:s, s:s, s:s, s:s, s:s, s:I, s:I, s:I, s:I, s:I, s:b, s:b, s:o, s:s, s:s, s:i}",
	                      "profile", d->o->name, "state", states[st.state], "node", st.node_id, "endpoint",
	                      st.endpoint, "interface", st.ifname, "handshake_age_ms", (json_int_t)st.handshake_age_ms,
	                      "rx_bytes", (json_int_t)st.rx_bytes, "tx_bytes", (json_int_t)st.tx_bytes, "rotations",
	                      (json_int_t)st.rotations, "failovers", (json_int_t)st.failovers, "kill_switch",
	                      d->ks_on, "default_route", d->rules_on, "dns", dns ? dns : json_array(), "address4",
	                      d->info.address4, "address6", d->info.address6, "pid", (int)getpid());
	pthread_mutex_unlock(&d->mu);
	if (!j)
		return -ENOMEM;
	char *s = json_dumps(j, JSON_COMPACT);
	json_decref(j);
	if (!s)
		return -ENOMEM;
	rc = buf_printf(out, "%s\n", s);
	free(s);
	return rc;
}

/* One control connection; true when asked to go down. */
static bool serve(struct daemon *d, int lfd)
{
	int c = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
	char line[64];
	bool down = false;
	if (c < 0)
		return false;
	struct timeval tv = { .tv_sec = 2 };
	setsockopt(c, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	ssize_t n = recv(c, line, sizeof(line) - 1, 0);
	struct buf out;
	buf_init(&out, REPLY_MAX);
	if (n > 0) {
		line[n] = '\0';
		line[strcspn(line, "\r\n")] = '\0';
		if (!strcmp(line, "status")) {
			if (status_json(d, &out) < 0)
				buf_reset(&out);
		} else if (!strcmp(line, "down")) {
			down = true;
			(void)!buf_printf(&out, "ok\n");
		} else {
			(void)!buf_printf(&out, "error: unknown request (valid: status, down)\n");
		}
	}
	for (size_t off = 0; off < out.len;) {
		ssize_t w = send(c, out.data + off, out.len - off, MSG_NOSIGNAL);
		if (w <= 0)
			break;
		off += (size_t)w;
	}
	buf_fini(&out);
	if (down)
		teardown(d); /* before the reply ends: `caravel down` returns when all is undone */
	close(c);
	return down;
}

static int listen_control(const char *rundir)
{
	struct sockaddr_un sa;
	int rc, fd = control_socket(rundir, &sa);
	if (fd < 0)
		return fd;
	unlink(sa.sun_path);
	mode_t old = umask(077);
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(fd, 8) < 0) {
		rc = -errno;
		close(fd);
		fd = rc;
	}
	umask(old);
	return fd;
}

static void report(int fd, int code, const char *msg)
{
	char line[REPORT_MAX];
	int n = snprintf(line, sizeof(line), "%d %s\n", code, msg);
	if (n > 0)
		(void)!write(fd, line, (size_t)n < sizeof(line) ? (size_t)n : sizeof(line) - 1);
}

/* The daemon process; never returns. */
static void daemon_main(const struct caravel_up_opts *o, int report_fd)
{
	struct daemon d = { .o = o, .info = { .size = sizeof(d.info) } };
	char err[1024] = "", path[PATH_MAX];
	int rc, lfd = -1, sfd = -1;
	pthread_mutex_init(&d.mu, NULL);
	setsid();
	sigset_t set;
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGHUP);
	sigprocmask(SIG_BLOCK, &set, NULL);
	signal(SIGPIPE, SIG_IGN);
	snprintf(path, sizeof(path), "%s/caravel.log", o->rundir);
	int logfd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
	int nullfd = open("/dev/null", O_RDWR | O_CLOEXEC);
	if (logfd >= 0 && nullfd >= 0) {
		dup2(nullfd, 0);
		dup2(logfd, 1);
		dup2(logfd, 2);
	}
	if (logfd > 2)
		close(logfd);
	if (nullfd > 2)
		close(nullfd);
	setvbuf(stderr, NULL, _IOLBF, 0);
	logf_("up: profile %s", o->name);

	if ((rc = caravel_profile_info(o->profile, &d.info)) < 0) {
		snprintf(err, sizeof(err), "reading the profile: %s", caravel_strerror(rc));
		goto fail;
	}
	if ((sfd = signalfd(-1, &set, SFD_CLOEXEC)) < 0 || (lfd = listen_control(o->rundir)) < 0) {
		rc = sfd < 0 ? -errno : lfd;
		snprintf(err, sizeof(err), "control socket in %s: %s", o->rundir, caravel_strerror(rc));
		goto fail;
	}
	struct caravel_tunnel_config cfg = {
		.size = sizeof(cfg), .profile = o->profile, .device_awg_sk = o->awg_sk, .tun_fd = -1,
		.ifname = o->ifname, .node_id = o->node_id, .handshake_timeout_ms = o->handshake_timeout_ms,
		.fwmark = CARAVEL_NET_MARK, .on_event = on_event, .event_ctx = &d,
	};
	if ((rc = caravel_tunnel_start(&cfg, &d.tun, err, sizeof(err))) < 0)
		goto fail;
	if ((rc = host_setup(&d, err, sizeof(err))) < 0)
		goto fail;
	rc = caravel_tunnel_wait_up(d.tun, o->wait_ms);
	{
		struct caravel_status st = { .size = sizeof(st) };
		char msg[512];
		if (caravel_tunnel_status(d.tun, &st) < 0)
			st.node_id[0] = st.endpoint[0] = '\0';
		if (rc == 0)
			snprintf(msg, sizeof(msg), "up: %s via node %s at %s", st.ifname, st.node_id, st.endpoint);
		else
			snprintf(msg, sizeof(msg),
			         "no node answered within %u ms; still trying in the background (last: node %s at %s); "
			         "`caravel status` shows progress, `caravel down` stops",
			         o->wait_ms, st.node_id, st.endpoint);
		logf_("%s", msg);
		report(report_fd, rc == 0 ? 0 : -ETIMEDOUT, msg);
	}
	close(report_fd);
	report_fd = -1;

	for (;;) {
		struct pollfd p[2] = { { .fd = lfd, .events = POLLIN }, { .fd = sfd, .events = POLLIN } };
		if (poll(p, 2, -1) < 0 && errno != EINTR)
			break;
		if (p[1].revents & POLLIN) {
			struct signalfd_siginfo si;
			(void)!read(sfd, &si, sizeof(si));
			logf_("signal %u", si.ssi_signo);
			teardown(&d);
			break;
		}
		if ((p[0].revents & POLLIN) && serve(&d, lfd))
			break;
	}
	close(lfd);
	close(sfd);
	_exit(0);
fail:
	logf_("failed: %s", err);
	if (report_fd >= 0)
		report(report_fd, rc < 0 ? rc : -EIO, err);
	if (d.tun || d.ks_on || d.dns_on || d.rules_on)
		teardown(&d);
	else if (lfd >= 0) {
		struct sockaddr_un sa;
		if (sock_path(o->rundir, &sa) == 0)
			unlink(sa.sun_path);
	}
	_exit(1);
}

int caravel_daemon_up(const struct caravel_up_opts *o, char *err, size_t errlen)
{
	int p[2];
	int rc = fileio_mkdir_p(o->rundir, 0700);
	if (rc < 0) {
		snprintf(err, errlen, "run directory %s: %s", o->rundir, caravel_strerror(rc));
		return rc;
	}
	if (pipe2(p, O_CLOEXEC) < 0)
		return -errno;
	fflush(NULL);
	pid_t pid = fork();
	if (pid < 0) {
		rc = -errno;
		close(p[0]);
		close(p[1]);
		return rc;
	}
	if (pid == 0) {
		close(p[0]);
		daemon_main(o, p[1]);
	}
	close(p[1]);
	char line[REPORT_MAX];
	size_t len = 0;
	for (;;) {
		ssize_t n = read(p[0], line + len, sizeof(line) - 1 - len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		len += (size_t)n;
		if (len == sizeof(line) - 1 || memchr(line, '\n', len))
			break;
	}
	close(p[0]);
	line[len] = '\0';
	line[strcspn(line, "\n")] = '\0';
	int code = 0, off = 0;
	if (sscanf(line, "%d %n", &code, &off) < 1) {
		int status;
		waitpid(pid, &status, 0);
		snprintf(err, errlen, "the tunnel process ended without a report (see %s/caravel.log)", o->rundir);
		return -EIO;
	}
	snprintf(err, errlen, "%s", line + off);
	if (code != -ETIMEDOUT && code < 0)
		waitpid(pid, NULL, 0);
	return code;
}

int caravel_daemon_call(const char *rundir, const char *req, struct buf *reply)
{
	struct sockaddr_un sa;
	int rc = 0, fd = control_socket(rundir, &sa);
	if (fd < 0)
		return fd;
	struct timeval tv = { .tv_sec = 15 };
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	char line[64];
	/* One send: the daemon answers the first read and may close at once. */
	if ((size_t)snprintf(line, sizeof(line), "%s\n", req) >= sizeof(line)) {
		close(fd);
		return -EINVAL;
	}
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || send(fd, line, strlen(line), MSG_NOSIGNAL) < 0) {
		rc = -errno;
		close(fd);
		return rc;
	}
	for (;;) {
		if ((rc = buf_reserve(reply, 4096)) < 0)
			break;
		ssize_t n = recv(fd, reply->data + reply->len, reply->cap - reply->len, 0);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			rc = -errno;
			break;
		}
		if (n == 0)
			break;
		buf_advance(reply, (size_t)n);
	}
	close(fd);
	return rc;
}

int caravel_daemon_cleanup(const char *rundir, char *err, size_t errlen)
{
	bool restored;
	int rc = 0, r;
	for (int f = 0; f < 2; f++)
		if ((r = caravel_net_rule(false, f ? AF_INET6 : AF_INET)) < 0 && rc == 0) {
			snprintf(err, errlen, "removing the routing rule: %s", caravel_strerror(r));
			rc = r;
		}
	if ((r = caravel_net_marks(false, err, errlen)) < 0 && rc == 0)
		rc = r;
	if ((r = caravel_dns_restore(rundir, &restored, err, errlen)) < 0 && rc == 0)
		rc = r;
	if ((r = caravel_ks_remove(err, errlen)) < 0 && rc == 0)
		rc = r;
	struct sockaddr_un sa;
	if (sock_path(rundir, &sa) == 0)
		unlink(sa.sun_path);
	return rc;
}
