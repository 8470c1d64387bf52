/* The daemon half of pharos-awg: `pharos-awg [-f|--foreground] IFNAME`, the
 * same contract as wireguard-go. Creates the TUN device, serves UAPI on
 * /var/run/wireguard/IFNAME.sock and /var/run/amneziawg/IFNAME.sock, and runs
 * until SIGINT/SIGTERM, until the TUN device disappears, or until either
 * socket file is deleted; then removes both sockets and the interface.
 * Environment: LOG_LEVEL (error|warn|info|debug), WG_TUN_FD (an open TUN fd
 * to use), PHAROS_AWG_TIMER_SCALE (tests: multiply protocol timeouts). */
#include "pharos-awg/awgd.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "awg/device.h"
#include "lib/fileio.h"
#include "lib/log.h"

#define RUN_DIR_WG "/var/run/wireguard"
#define RUN_DIR_AWG "/var/run/amneziawg"

static int usage(const char *prog)
{
	fprintf(stderr, "Usage: %s [-f|--foreground] INTERFACE\n"
	                "       %s help   (control commands: show, set, setconf, genkey, ...)\n", prog, prog);
	return 1;
}

static bool valid_ifname(const char *s)
{
	size_t n = strlen(s);
	if (!n || n >= 16 || !strcmp(s, ".") || !strcmp(s, ".."))
		return false;
	for (const char *p = s; *p; p++)
		if (*p == '/' || *p == ':' || *p <= ' ')
			return false;
	return true;
}

/* Forks; the parent waits for the child to report readiness (one byte: 0 ok,
 * else errno) and exits with its status. Returns the pipe's write end in the
 * child, or -1 when staying in the foreground. */
static int daemonize(void)
{
	int p[2];
	if (pipe(p) < 0)
		return -1;
	pid_t pid = fork();
	if (pid < 0)
		return -1;
	if (pid > 0) {
		close(p[1]);
		unsigned char st = 1;
		if (read(p[0], &st, 1) != 1)
			st = 1;
		_exit(st ? 1 : 0);
	}
	close(p[0]);
	setsid();
	return p[1];
}

static void ready(int fd, unsigned char st)
{
	if (fd < 0)
		return;
	(void)!write(fd, &st, 1);
	close(fd);
	if (!st) {
		/* Detach from the terminal only once start-up errors were printed. */
		int null = open("/dev/null", 2);
		if (null >= 0) {
			dup2(null, 0);
			dup2(null, 1);
			dup2(null, 2);
			if (null > 2)
				close(null);
		}
	}
}

int awgd_main(int argc, char **argv)
{
	bool foreground = false;
	const char *ifname = NULL;
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "-f") || !strcmp(argv[i], "--foreground"))
			foreground = true;
		else if (argv[i][0] == '-')
			return usage(argv[0]);
		else if (!ifname)
			ifname = argv[i];
		else
			return usage(argv[0]);
	}
	if (!ifname)
		return usage(argv[0]);
	if (!valid_ifname(ifname)) {
		fprintf(stderr, "%s: invalid interface name \"%s\": 1..15 characters, no '/', ':' or spaces\n", argv[0],
		        ifname);
		return 1;
	}
	if (getenv("WG_PROCESS_FOREGROUND") && !strcmp(getenv("WG_PROCESS_FOREGROUND"), "1"))
		foreground = true;

	enum log_level lvl = LOG_LVL_INFO;
	const char *ll = getenv("LOG_LEVEL");
	if (ll && log_level_parse(ll, &lvl) < 0)
		fprintf(stderr, "%s: ignoring LOG_LEVEL=%s (expected error, warn, info or debug)\n", argv[0], ll);
	log_setup("pharos-awg", lvl, false);

	struct device_options o = { .ifname = ifname, .tun_fd = -1, .timer_scale = 1.0 };
	const char *ts = getenv("PHAROS_AWG_TIMER_SCALE");
	if (ts)
		o.timer_scale = strtod(ts, NULL);
	const char *tfd = getenv("WG_TUN_FD");
	if (tfd)
		o.tun_fd = atoi(tfd);

	int ready_fd = foreground ? -1 : daemonize();

	/* Signals are taken synchronously by this thread only. */
	sigset_t set;
	sigemptyset(&set);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGHUP);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	signal(SIGPIPE, SIG_IGN);

	struct device *dev = NULL;
	int rc = device_new(&dev, &o);
	if (rc < 0) {
		log_error("cannot create interface \"%s\": %s", ifname, err_str(rc));
		ready(ready_fd, 1);
		return 1;
	}
	char wg_path[128], awg_path[128];
	snprintf(wg_path, sizeof(wg_path), RUN_DIR_WG "/%s.sock", device_ifname(dev));
	snprintf(awg_path, sizeof(awg_path), RUN_DIR_AWG "/%s.sock", device_ifname(dev));
	if ((rc = fileio_mkdir_p(RUN_DIR_WG, 0755)) < 0 || (rc = fileio_mkdir_p(RUN_DIR_AWG, 0755)) < 0 ||
	    (rc = device_uapi_listen(dev, wg_path)) < 0 || (rc = device_uapi_listen(dev, awg_path)) < 0) {
		log_error("cannot listen on the UAPI sockets %s and %s: %s", wg_path, awg_path, err_str(rc));
		device_free(dev);
		ready(ready_fd, 1);
		return 1;
	}
	if ((rc = device_start(dev)) < 0) {
		log_error("cannot start: %s", err_str(rc));
		device_free(dev);
		ready(ready_fd, 1);
		return 1;
	}
	log_info("interface %s up; UAPI on %s and %s", device_ifname(dev), wg_path, awg_path);
	ready(ready_fd, 0);

	struct timespec tick = { 0, 250 * 1000 * 1000 };
	for (;;) {
		siginfo_t si;
		int sig = sigtimedwait(&set, &si, &tick);
		if (sig > 0) {
			log_info("received signal %d, shutting down", sig);
			break;
		}
		struct stat st;
		if (device_stopped(dev))
			break;
		if (stat(wg_path, &st) < 0 || stat(awg_path, &st) < 0) {
			log_info("UAPI socket removed, shutting down");
			break;
		}
	}
	device_free(dev);
	log_info("interface %s removed", ifname);
	return 0;
}
