#include "rpc/loop.h"

#include <errno.h>
#include <signal.h>
#include <stdatomic.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include "lib/mem.h"

#define LOOP_MAX_EVENTS 64

struct rpc_loop {
	int epfd;
	struct rpc_loop_io wake_io;
	atomic_bool wake_pending; /* an eventfd write is outstanding: later wakes need none */
	void (*on_wake)(void *ctx);
	void *wake_ctx;
	struct rpc_loop_timer **heap;
	size_t nheap, heap_cap, max_timers;
	uint64_t now;
};

uint64_t rpc_loop_clock_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static void wake_readable(void *ctx, uint32_t events)
{
	struct rpc_loop *l = ctx;
	uint64_t v;

	/* Drain the counter first, then clear the flag, then look at the work:
	 * a waker that still saw the flag set (and so did not write) published
	 * its work before that, and on_wake runs after the clear, so it finds
	 * it. Clearing before the read could swallow a later waker's write and
	 * leave the flag set with nothing to wake us: a lost wake-up. */
	if (read(l->wake_io.fd, &v, sizeof(v)) < 0 && errno != EAGAIN)
		return;
	atomic_store(&l->wake_pending, false);
	l->on_wake(l->wake_ctx);
}

int rpc_loop_new(struct rpc_loop **out, size_t max_timers, void (*on_wake)(void *ctx), void *ctx)
{
	struct rpc_loop *l;
	int rc;

	*out = NULL;
	l = mem_zalloc(sizeof(*l));
	if (!l)
		return -ENOMEM;
	l->epfd = -1;
	l->wake_io.fd = -1;
	l->on_wake = on_wake;
	l->wake_ctx = ctx;
	l->max_timers = max_timers;
	l->now = rpc_loop_clock_ms();
	l->epfd = epoll_create1(EPOLL_CLOEXEC);
	if (l->epfd < 0) {
		rc = -errno;
		goto fail;
	}
	l->wake_io.fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (l->wake_io.fd < 0) {
		rc = -errno;
		goto fail;
	}
	l->wake_io.events = EPOLLIN;
	l->wake_io.fn = wake_readable;
	l->wake_io.ctx = l;
	rc = rpc_loop_add(l, &l->wake_io);
	if (rc < 0)
		goto fail;
	*out = l;
	return 0;
fail:
	rpc_loop_free(l);
	return rc;
}

void rpc_loop_free(struct rpc_loop *l)
{
	if (!l)
		return;
	if (l->wake_io.fd >= 0)
		close(l->wake_io.fd);
	if (l->epfd >= 0)
		close(l->epfd);
	mem_free(l->heap);
	mem_free(l);
}

int rpc_loop_add(struct rpc_loop *l, struct rpc_loop_io *io)
{
	struct epoll_event ev = { .events = io->events, .data.ptr = io };
	return epoll_ctl(l->epfd, EPOLL_CTL_ADD, io->fd, &ev) < 0 ? -errno : 0;
}

int rpc_loop_mod(struct rpc_loop *l, struct rpc_loop_io *io, uint32_t events)
{
	struct epoll_event ev = { .events = events, .data.ptr = io };

	if (events == io->events)
		return 0;
	if (epoll_ctl(l->epfd, EPOLL_CTL_MOD, io->fd, &ev) < 0)
		return -errno;
	io->events = events;
	return 0;
}

void rpc_loop_del(struct rpc_loop *l, struct rpc_loop_io *io)
{
	if (io->fd >= 0)
		epoll_ctl(l->epfd, EPOLL_CTL_DEL, io->fd, NULL);
}

/* Binary min-heap on t->at; each timer knows its slot for O(log n) removal. */
static void heap_set(struct rpc_loop *l, size_t i, struct rpc_loop_timer *t)
{
	l->heap[i] = t;
	t->slot = i;
}

static void sift_up(struct rpc_loop *l, size_t i)
{
	struct rpc_loop_timer *t = l->heap[i];
	while (i > 0) {
		size_t p = (i - 1) / 2;
		if (l->heap[p]->at <= t->at)
			break;
		heap_set(l, i, l->heap[p]);
		i = p;
	}
	heap_set(l, i, t);
}

static void sift_down(struct rpc_loop *l, size_t i)
{
	struct rpc_loop_timer *t = l->heap[i];
	for (;;) {
		size_t c = 2 * i + 1;
		if (c >= l->nheap)
			break;
		if (c + 1 < l->nheap && l->heap[c + 1]->at < l->heap[c]->at)
			c++;
		if (l->heap[c]->at >= t->at)
			break;
		heap_set(l, i, l->heap[c]);
		i = c;
	}
	heap_set(l, i, t);
}

void rpc_loop_timer_init(struct rpc_loop_timer *t, void (*fn)(void *ctx), void *ctx)
{
	t->at = 0;
	t->slot = SIZE_MAX;
	t->fn = fn;
	t->ctx = ctx;
}

void rpc_loop_timer_disarm(struct rpc_loop *l, struct rpc_loop_timer *t)
{
	size_t i = t->slot;

	if (i == SIZE_MAX)
		return;
	t->slot = SIZE_MAX;
	l->nheap--;
	if (i == l->nheap)
		return;
	heap_set(l, i, l->heap[l->nheap]);
	if (i > 0 && l->heap[i]->at < l->heap[(i - 1) / 2]->at)
		sift_up(l, i);
	else
		sift_down(l, i);
}

int rpc_loop_timer_arm(struct rpc_loop *l, struct rpc_loop_timer *t, uint64_t at_ms)
{
	if (t->slot != SIZE_MAX) {
		uint64_t old = t->at;
		t->at = at_ms;
		if (at_ms < old)
			sift_up(l, t->slot);
		else
			sift_down(l, t->slot);
		return 0;
	}
	if (l->nheap == l->heap_cap) {
		size_t ncap = l->heap_cap ? l->heap_cap * 2 : 16;
		if (l->heap_cap >= l->max_timers)
			return ERR_TOOBIG;
		if (ncap > l->max_timers)
			ncap = l->max_timers;
		struct rpc_loop_timer **h = mem_realloc(l->heap, ncap * sizeof(*h));
		if (!h)
			return -ENOMEM;
		l->heap = h;
		l->heap_cap = ncap;
	}
	t->at = at_ms;
	heap_set(l, l->nheap++, t);
	sift_up(l, t->slot);
	return 0;
}

int rpc_loop_run_once(struct rpc_loop *l, int max_wait_ms)
{
	struct epoll_event evs[LOOP_MAX_EVENTS];
	int timeout = max_wait_ms, n;

	l->now = rpc_loop_clock_ms();
	if (l->nheap) {
		uint64_t at = l->heap[0]->at;
		uint64_t wait = at > l->now ? at - l->now : 0;
		if (timeout < 0 || wait < (uint64_t)timeout)
			timeout = (int)wait;
	}
	n = epoll_wait(l->epfd, evs, LOOP_MAX_EVENTS, timeout);
	if (n < 0 && errno != EINTR)
		return -errno;
	l->now = rpc_loop_clock_ms();
	for (int i = 0; i < n; i++) {
		struct rpc_loop_io *io = evs[i].data.ptr;
		io->fn(io->ctx, evs[i].events);
	}
	/* Due timers; one that re-arms itself for now runs on the next pass. */
	uint64_t now = l->now;
	while (l->nheap && l->heap[0]->at <= now) {
		struct rpc_loop_timer *t = l->heap[0];
		rpc_loop_timer_disarm(l, t);
		t->fn(t->ctx);
	}
	return 0;
}

void rpc_loop_wake(struct rpc_loop *l)
{
	uint64_t one = 1;

	if (atomic_exchange(&l->wake_pending, true))
		return;
	if (write(l->wake_io.fd, &one, sizeof(one)) < 0) {
		/* EAGAIN: the counter is saturated, so a wake is pending anyway. */
	}
}

uint64_t rpc_loop_now(const struct rpc_loop *l)
{
	return l->now;
}

void rpc_loop_block_sigpipe(void)
{
	sigset_t set;

	sigemptyset(&set);
	sigaddset(&set, SIGPIPE);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
}
