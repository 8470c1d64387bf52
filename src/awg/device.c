/* Device lifecycle and the control thread: one epoll loop that serves UAPI
 * connections, drains the handshake queue, and runs the timers. Holding the
 * device write lock means owning every peer's control state, so UAPI requests
 * from other threads (device_uapi_request) are safe as well. */
#include "awg/devpriv.h"

#include <errno.h>
#include <fcntl.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/timerfd.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "awg/allowedips.h"
#include "awg/ratelimit.h"
#include "awg/workers.h"
#include "lib/log.h"
#include "lib/mem.h"

#define UAPI_MAX_REQUEST (64u << 20) /* a set for 100k peers fits */
#define UAPI_MAX_CONNS 16

enum { EV_STOP = 1, EV_WAKE, EV_TICK, EV_UAPI_LISTEN, EV_UAPI_CONN };

struct uapi_conn {
	int fd;
	char *buf;
	size_t len, cap;
	char *out;
	size_t out_len, out_off;
};

uint64_t dev_now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_BOOTTIME, &ts);
	return (uint64_t)ts.tv_sec * NSEC_PER_SEC + (uint64_t)ts.tv_nsec;
}

void dev_wallclock(int64_t *sec, int64_t *nsec)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	*sec = ts.tv_sec;
	*nsec = ts.tv_nsec;
}

uint64_t dev_scaled(const struct device *dev, uint64_t ns)
{
	return dev->timer_scale == 1.0 ? ns : (uint64_t)((double)ns * dev->timer_scale);
}

void dev_wake(struct device *dev)
{
	uint64_t one = 1;
	(void)!write(dev->wake_fd, &one, sizeof(one));
}

void dev_emit(struct device *dev, enum device_event_type type, struct peer *p)
{
	/* HANDSHAKE is emitted on the control thread (write lock held), so the
	 * flag needs no other protection. */
	bool connected = type == DEV_EVENT_HANDSHAKE && !p->connected_reported;
	if (type == DEV_EVENT_HANDSHAKE)
		p->connected_reported = true;
	if (!dev->event_fn)
		return;
	struct device_event ev = { .type = type, .connected = connected };
	memcpy(ev.public_key, p->public_key, sizeof(ev.public_key));
	struct peer_endpoint ep;
	if (peer_get_endpoint(p, &ep))
		ev.endpoint = ep.remote;
	ev.rx_bytes = atomic_load(&p->rx_bytes);
	ev.tx_bytes = atomic_load(&p->tx_bytes);
	dev->event_fn(dev->event_ctx, &ev);
}

void device_set_event_handler(struct device *dev, device_event_fn fn, void *ctx)
{
	pthread_rwlock_wrlock(&dev->lock);
	dev->event_fn = fn;
	dev->event_ctx = ctx;
	pthread_rwlock_unlock(&dev->lock);
}

void device_set_forward_hook(struct device *dev, device_forward_fn fn, void *ctx)
{
	pthread_rwlock_wrlock(&dev->lock);
	dev->forward_fn = fn;
	dev->forward_ctx = ctx;
	pthread_rwlock_unlock(&dev->lock);
}

const char *device_ifname(const struct device *dev)
{
	return dev->ifname;
}

int device_tun_open(const char *ifname, uint32_t mtu, char *actual, size_t cap, bool *vnet, bool *uso)
{
	*vnet = !getenv("PHAROS_AWG_NO_OFFLOAD");
	*uso = false;
	int fd = tun_open(ifname, actual, cap, vnet, uso);
	if (fd < 0)
		return fd;
	int rc = tun_set_mtu(actual, mtu ? mtu : 1420);
	if (rc < 0)
		log_warn("%s: cannot set MTU %u: %s", actual, mtu ? mtu : 1420, err_str(rc));
	return fd;
}

int device_new(struct device **out, const struct device_options *opts)
{
	*out = NULL;
	if (sodium_init() < 0)
		return ERR_CRYPTO;
	struct device *dev = mem_zalloc(sizeof(*dev));
	int rc = -ENOMEM;
	if (!dev)
		return -ENOMEM;
	dev->opts = *opts;
	dev->tun_fd = -1;
	dev->rx_epoll = dev->ctl_epoll = dev->wake_fd = dev->stop_fd = -1;
	dev->mtu = opts->mtu ? opts->mtu : 1420;
	dev->timer_scale = opts->timer_scale > 0 ? opts->timer_scale : 1.0;
	atomic_init(&dev->gso_ok, true);
	snprintf(dev->ifname, sizeof(dev->ifname), "%s", opts->ifname ? opts->ifname : "");
	pthread_rwlockattr_t attr;
	pthread_rwlockattr_init(&attr);
	/* Writers (config, handshakes) must not starve behind a busy data path. */
	pthread_rwlockattr_setkind_np(&attr, PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP);
	pthread_rwlock_init(&dev->lock, &attr);
	pthread_rwlockattr_destroy(&attr);
	pthread_mutex_init(&dev->hs_lock, NULL);
	pthread_mutex_init(&dev->attn_lock, NULL);
	obf_params_init(&dev->obf);

	dev->peer_buckets = 1 << 14;
	if (!(dev->peers_by_key = mem_zalloc(dev->peer_buckets * sizeof(*dev->peers_by_key))) ||
	    !(dev->index = mem_zalloc(DEV_INDEX_BUCKETS * sizeof(*dev->index))) ||
	    !(dev->hs_queue = mem_alloc(DEV_HS_QUEUE * sizeof(*dev->hs_queue))))
		goto fail;
	if ((rc = allowedips_new(&dev->aips)) < 0 || (rc = ratelimit_new(&dev->ratelimit)) < 0)
		goto fail;
	rc = -errno;
	if ((dev->rx_epoll = epoll_create1(EPOLL_CLOEXEC)) < 0 || (dev->ctl_epoll = epoll_create1(EPOLL_CLOEXEC)) < 0 ||
	    (dev->wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)) < 0 ||
	    (dev->stop_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)) < 0) {
		rc = -errno;
		goto fail;
	}
	struct epoll_event ev = { .events = EPOLLIN, .data.u32 = UINT32_MAX };
	if (epoll_ctl(dev->rx_epoll, EPOLL_CTL_ADD, dev->stop_fd, &ev) < 0) {
		rc = -errno;
		goto fail;
	}
	if (!opts->no_tun) {
		if (opts->tun_fd >= 0) {
			dev->tun_fd = opts->tun_fd;
			dev->tun_vnet = opts->tun_vnet;
			dev->tun_uso = opts->tun_uso;
		} else {
			bool vnet = false, uso = false;
			rc = device_tun_open(dev->ifname, dev->mtu, dev->ifname, sizeof(dev->ifname), &vnet, &uso);
			if (rc < 0)
				goto fail;
			dev->tun_fd = rc;
			dev->tun_vnet = vnet;
			dev->tun_uso = uso;
		}
		fcntl(dev->tun_fd, F_SETFL, fcntl(dev->tun_fd, F_GETFL) | O_NONBLOCK);
	}
	*out = dev;
	return 0;
fail:
	device_free(dev);
	return rc;
}

void device_request_stop(struct device *dev)
{
	uint64_t one = 1;
	atomic_store(&dev->stopping, true);
	(void)!write(dev->stop_fd, &one, sizeof(one));
}

static void *ctl_thread_main(void *arg);

bool device_stopped(const struct device *dev)
{
	return atomic_load(&dev->stopping);
}

int device_start(struct device *dev)
{
	int rc;
	/* Crypto pools: PHAROS_AWG_WORKERS=N overrides (0: all on the data threads). */
	const char *wenv = getenv("PHAROS_AWG_WORKERS");
	unsigned nw = wenv ? (unsigned)strtoul(wenv, NULL, 10) : workers_default_count();
	if ((rc = workers_new(&dev->tx_workers, nw)) < 0 || (rc = workers_new(&dev->rx_workers, nw)) < 0)
		return rc;
	if ((rc = pthread_create(&dev->ctl_thread, NULL, ctl_thread_main, dev)) != 0)
		return -rc;
	if ((rc = pthread_create(&dev->rx_thread, NULL, rx_thread_main, dev)) != 0) {
		device_request_stop(dev);
		pthread_join(dev->ctl_thread, NULL);
		return -rc;
	}
	if (dev->tun_fd >= 0 && (rc = pthread_create(&dev->tx_thread, NULL, tx_thread_main, dev)) != 0) {
		device_request_stop(dev);
		pthread_join(dev->ctl_thread, NULL);
		pthread_join(dev->rx_thread, NULL);
		return -rc;
	}
	dev->threads_started = true;
	return 0;
}

void device_wait(struct device *dev)
{
	if (!dev->threads_started)
		return;
	pthread_join(dev->ctl_thread, NULL);
	pthread_join(dev->rx_thread, NULL);
	if (dev->tun_fd >= 0)
		pthread_join(dev->tx_thread, NULL);
	dev->threads_started = false;
}

void device_free(struct device *dev)
{
	if (!dev)
		return;
	if (dev->threads_started) {
		device_request_stop(dev);
		device_wait(dev);
	}
	workers_free(dev->tx_workers);
	workers_free(dev->rx_workers);
	if (dev->peers_by_key && dev->index)
		peer_remove_all(dev);
	allowedips_free(dev->aips);
	ratelimit_free(dev->ratelimit);
	udp_close_all(dev);
	for (int i = 0; i < dev->nuapi; i++) {
		close(dev->uapi_fds[i]);
		unlink(dev->uapi_paths[i]);
		mem_free(dev->uapi_paths[i]);
	}
	if (dev->tun_fd >= 0 && dev->opts.tun_fd != dev->tun_fd)
		close(dev->tun_fd);
	int fds[] = { dev->rx_epoll, dev->ctl_epoll, dev->wake_fd, dev->stop_fd };
	for (size_t i = 0; i < sizeof(fds) / sizeof(fds[0]); i++)
		if (fds[i] >= 0)
			close(fds[i]);
	obf_params_fini(&dev->obf);
	noise_identity_clear(&dev->id);
	cookie_checker_clear(&dev->cookies);
	mem_free(dev->peers_by_key);
	if (dev->index) {
		for (size_t b = 0; b < DEV_INDEX_BUCKETS; b++)
			while (dev->index[b]) {
				struct index_entry *e = dev->index[b];
				dev->index[b] = e->next;
				mem_free(e);
			}
		mem_free(dev->index);
	}
	mem_free(dev->hs_queue);
	pthread_rwlock_destroy(&dev->lock);
	pthread_mutex_destroy(&dev->hs_lock);
	pthread_mutex_destroy(&dev->attn_lock);
	mem_free_secret(dev, sizeof(*dev));
}

/* ---- UAPI sockets ---- */

int device_uapi_listen(struct device *dev, const char *path)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	if (dev->nuapi >= (int)(sizeof(dev->uapi_fds) / sizeof(dev->uapi_fds[0])))
		return ERR_TOOBIG;
	if (strlen(path) >= sizeof(sa.sun_path))
		return -ENAMETOOLONG;
	strcpy(sa.sun_path, path);
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return -errno;
	/* A live daemon owns the path: refuse. A stale socket file is replaced. */
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0) {
		close(fd);
		return -EADDRINUSE;
	}
	unlink(path);
	mode_t old = umask(0077);
	int rc = bind(fd, (struct sockaddr *)&sa, sizeof(sa));
	umask(old);
	if (rc < 0 || listen(fd, 16) < 0) {
		rc = -errno;
		close(fd);
		return rc;
	}
	char *copy = mem_strdup(path);
	if (!copy) {
		close(fd);
		unlink(path);
		return -ENOMEM;
	}
	struct epoll_event ev = { .events = EPOLLIN, .data.u64 = (uint64_t)EV_UAPI_LISTEN << 32 | (uint32_t)fd };
	if (epoll_ctl(dev->ctl_epoll, EPOLL_CTL_ADD, fd, &ev) < 0) {
		rc = -errno;
		close(fd);
		unlink(path);
		mem_free(copy);
		return rc;
	}
	dev->uapi_fds[dev->nuapi] = fd;
	dev->uapi_paths[dev->nuapi++] = copy;
	return 0;
}

int device_uapi_request(struct device *dev, const char *req, size_t len, char **reply, size_t *reply_len)
{
	return uapi_handle(dev, req, len, reply, reply_len);
}

static void conn_close(struct device *dev, struct uapi_conn *c)
{
	epoll_ctl(dev->ctl_epoll, EPOLL_CTL_DEL, c->fd, NULL);
	close(c->fd);
	if (c->buf)
		sodium_memzero(c->buf, c->cap); /* may hold private keys */
	mem_free(c->buf);
	mem_free(c->out);
	mem_free(c);
}

/* Finds the end of one request (an empty line). */
static size_t request_end(const char *buf, size_t len)
{
	for (size_t i = 1; i < len; i++)
		if (buf[i] == '\n' && buf[i - 1] == '\n')
			return i + 1;
	return 0;
}

/* Returns false when the connection is finished. */
static bool conn_io(struct device *dev, struct uapi_conn *c)
{
	for (;;) {
		if (c->out) {
			while (c->out_off < c->out_len) {
				ssize_t w = send(c->fd, c->out + c->out_off, c->out_len - c->out_off, MSG_NOSIGNAL);
				if (w < 0)
					return errno == EAGAIN;
				c->out_off += (size_t)w;
			}
			mem_free(c->out);
			c->out = NULL;
		}
		size_t end = request_end(c->buf ? c->buf : "", c->len);
		if (end) {
			int rc = uapi_handle(dev, c->buf, end, &c->out, &c->out_len);
			if (rc < 0)
				return false; /* unknown operation: close, as the reference does */
			sodium_memzero(c->buf, end);
			memmove(c->buf, c->buf + end, c->len - end);
			c->len -= end;
			c->out_off = 0;
			continue;
		}
		if (c->len == c->cap) {
			size_t ncap = c->cap ? c->cap * 2 : 4096;
			if (ncap > UAPI_MAX_REQUEST)
				return false;
			char *nb = mem_alloc(ncap);
			if (!nb)
				return false;
			if (c->buf) {
				memcpy(nb, c->buf, c->len);
				sodium_memzero(c->buf, c->cap);
				mem_free(c->buf);
			}
			c->buf = nb;
			c->cap = ncap;
		}
		ssize_t r = recv(c->fd, c->buf + c->len, c->cap - c->len, 0);
		if (r == 0)
			return false;
		if (r < 0)
			return errno == EAGAIN || errno == EINTR;
		c->len += (size_t)r;
	}
}

/* ---- control thread ---- */

static void drain(int fd)
{
	uint64_t v;
	(void)!read(fd, &v, sizeof(v));
}

/* Answers queued handshake messages for at most a quarter tick, so that a
 * flood the control thread cannot keep up with does not starve its timers
 * and UAPI clients. Returns true when it stopped with messages left. */
static bool process_handshakes(struct device *dev)
{
	struct hs_item batch[32];
	for (uint64_t until = dev_now() + DEV_TICK_NS / 4;;) {
		unsigned n = 0, queued;
		pthread_mutex_lock(&dev->hs_lock);
		queued = dev->hs_count;
		while (n < 32 && dev->hs_count) {
			batch[n++] = dev->hs_queue[dev->hs_head];
			dev->hs_head = (dev->hs_head + 1) % DEV_HS_QUEUE;
			dev->hs_count--;
		}
		pthread_mutex_unlock(&dev->hs_lock);
		if (!n)
			return false;
		uint64_t now = dev_now();
		/* Under load while the queue is long, and for a second after. */
		if (queued >= DEV_UNDER_LOAD_QUEUE)
			dev->under_load_until = now + NSEC_PER_SEC;
		bool under_load = now < dev->under_load_until;
		pthread_rwlock_wrlock(&dev->lock);
		for (unsigned i = 0; i < n; i++)
			handshake_process(dev, &batch[i], now, under_load);
		pthread_rwlock_unlock(&dev->lock);
		sodium_memzero(batch, sizeof(batch[0]) * n);
		if (dev_now() >= until)
			return true;
	}
}

void device_process_pending(struct device *dev)
{
	while (process_handshakes(dev))
		;
	uint64_t now = dev_now();
	pthread_rwlock_wrlock(&dev->lock);
	timers_tick(dev, now, true);
	pthread_rwlock_unlock(&dev->lock);
}

static void *ctl_thread_main(void *arg)
{
	struct device *dev = arg;
	struct uapi_conn *conns[UAPI_MAX_CONNS] = { 0 };
	int tfd = timerfd_create(CLOCK_BOOTTIME, TFD_CLOEXEC | TFD_NONBLOCK);
	struct itimerspec its = { .it_interval = { 0, (long)DEV_TICK_NS }, .it_value = { 0, (long)DEV_TICK_NS } };
	struct epoll_event ev;

	if (tfd < 0 || timerfd_settime(tfd, 0, &its, NULL) < 0) {
		log_error("timerfd: %s", strerror(errno));
		goto out;
	}
	ev = (struct epoll_event){ .events = EPOLLIN, .data.u64 = (uint64_t)EV_TICK << 32 };
	epoll_ctl(dev->ctl_epoll, EPOLL_CTL_ADD, tfd, &ev);
	ev = (struct epoll_event){ .events = EPOLLIN, .data.u64 = (uint64_t)EV_WAKE << 32 };
	epoll_ctl(dev->ctl_epoll, EPOLL_CTL_ADD, dev->wake_fd, &ev);
	ev = (struct epoll_event){ .events = EPOLLIN, .data.u64 = (uint64_t)EV_STOP << 32 };
	epoll_ctl(dev->ctl_epoll, EPOLL_CTL_ADD, dev->stop_fd, &ev);

	for (;;) {
		struct epoll_event evs[16];
		int n = epoll_wait(dev->ctl_epoll, evs, 16, -1);
		if (n < 0 && errno != EINTR)
			break;
		bool tick = false;
		for (int i = 0; i < n; i++) {
			uint32_t kind = (uint32_t)(evs[i].data.u64 >> 32), val = (uint32_t)evs[i].data.u64;
			switch (kind) {
			case EV_STOP:
				goto out;
			case EV_WAKE:
				drain(dev->wake_fd);
				if (process_handshakes(dev))
					dev_wake(dev); /* the rest after this round's ticks and UAPI */
				if (atomic_exchange(&dev->scan_requested, false))
					tick = true;
				break;
			case EV_TICK:
				drain(tfd);
				tick = true;
				break;
			case EV_UAPI_LISTEN: {
				int cfd = accept4((int)val, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
				if (cfd < 0)
					break;
				int slot = -1;
				for (int s = 0; s < UAPI_MAX_CONNS; s++)
					if (!conns[s]) {
						slot = s;
						break;
					}
				struct uapi_conn *c = slot >= 0 ? mem_zalloc(sizeof(*c)) : NULL;
				if (!c) {
					close(cfd);
					break;
				}
				c->fd = cfd;
				conns[slot] = c;
				ev = (struct epoll_event){ .events = EPOLLIN | EPOLLOUT | EPOLLET,
				                           .data.u64 = (uint64_t)EV_UAPI_CONN << 32 | (uint32_t)slot };
				epoll_ctl(dev->ctl_epoll, EPOLL_CTL_ADD, cfd, &ev);
				if (!conn_io(dev, c)) {
					conn_close(dev, c);
					conns[slot] = NULL;
				}
				break;
			}
			case EV_UAPI_CONN:
				if (val < UAPI_MAX_CONNS && conns[val] && !conn_io(dev, conns[val])) {
					conn_close(dev, conns[val]);
					conns[val] = NULL;
				}
				break;
			}
		}
		if (tick) {
			uint64_t now = dev_now();
			pthread_rwlock_wrlock(&dev->lock);
			timers_tick(dev, now, false);
			pthread_rwlock_unlock(&dev->lock);
		}
	}
out:
	for (int s = 0; s < UAPI_MAX_CONNS; s++)
		if (conns[s])
			conn_close(dev, conns[s]);
	if (tfd >= 0)
		close(tfd);
	device_request_stop(dev);
	return NULL;
}
