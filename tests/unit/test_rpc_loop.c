#include "support.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <sys/epoll.h>
#include <time.h>
#include <unistd.h>

#include "rpc/loop.h"

struct tally {
	int order[16];
	int n;
};

struct tick {
	struct rpc_loop_timer t;
	struct tally *tally;
	int id;
};

static void fired(void *ctx)
{
	struct tick *k = ctx;
	k->tally->order[k->tally->n++] = k->id;
}

static void nothing(void *ctx)
{
}

static void timers_fire_once_in_deadline_order_and_disarmed_ones_never(void **state)
{
	struct rpc_loop *l;
	struct tally tally = { { 0 }, 0 };
	struct tick k[6];
	uint64_t now;

	assert_int_equal(rpc_loop_new(&l, 8, nothing, NULL), 0);
	now = rpc_loop_now(l);
	const int delay[6] = { 50, 10, 40, 20, 30, 60 };
	for (int i = 0; i < 6; i++) {
		k[i] = (struct tick){ .tally = &tally, .id = i };
		rpc_loop_timer_init(&k[i].t, fired, &k[i]);
		assert_int_equal(rpc_loop_timer_arm(l, &k[i].t, now + (uint64_t)delay[i]), 0);
	}
	rpc_loop_timer_disarm(l, &k[2].t);            /* never fires */
	assert_int_equal(rpc_loop_timer_arm(l, &k[5].t, now + 5), 0); /* moved first */
	while (tally.n < 5)
		assert_int_equal(rpc_loop_run_once(l, 200), 0);
	const int want[5] = { 5, 1, 3, 4, 0 };
	assert_memory_equal(tally.order, want, sizeof(want));
	assert_int_equal(rpc_loop_run_once(l, 80), 0);
	assert_int_equal(tally.n, 5);
	rpc_loop_free(l);
}

static void the_timer_heap_is_bounded(void **state)
{
	struct rpc_loop *l;
	struct rpc_loop_timer t[3];

	assert_int_equal(rpc_loop_new(&l, 2, nothing, NULL), 0);
	for (int i = 0; i < 3; i++)
		rpc_loop_timer_init(&t[i], nothing, NULL);
	assert_int_equal(rpc_loop_timer_arm(l, &t[0], 1), 0);
	assert_int_equal(rpc_loop_timer_arm(l, &t[1], 2), 0);
	assert_int_equal(rpc_loop_timer_arm(l, &t[2], 3), ERR_TOOBIG);
	rpc_loop_free(l);
}

/* Wakers post one item at a time and wait until the loop has seen it, so
 * every item needs its own wake-up: a lost wake-up stalls a waker. */
struct wakes {
	struct rpc_loop *l;
	atomic_long posted, seen;
	atomic_bool stop, stalled;
};

static void on_wake(void *ctx)
{
	struct wakes *w = ctx;
	atomic_store(&w->seen, atomic_load(&w->posted));
}

static void *waker(void *arg)
{
	struct wakes *w = arg;

	for (int i = 0; i < 15000 && !atomic_load(&w->stalled); i++) {
		long mine = atomic_fetch_add(&w->posted, 1) + 1;
		rpc_loop_wake(w->l);
		struct timespec t0, t1;
		clock_gettime(CLOCK_MONOTONIC, &t0);
		while (atomic_load(&w->seen) < mine) {
			clock_gettime(CLOCK_MONOTONIC, &t1);
			if (t1.tv_sec - t0.tv_sec > 2) {
				atomic_store(&w->stalled, true);
				return NULL;
			}
			sched_yield();
		}
	}
	return NULL;
}

static void *run_loop(void *arg)
{
	struct wakes *w = arg;
	while (!atomic_load(&w->stop))
		if (rpc_loop_run_once(w->l, 100) < 0)
			break;
	return NULL;
}

static void no_wake_up_is_lost_when_many_threads_wake_the_loop(void **state)
{
	struct wakes w;
	pthread_t loop, t[4];

	atomic_init(&w.posted, 0);
	atomic_init(&w.seen, 0);
	atomic_init(&w.stop, false);
	atomic_init(&w.stalled, false);
	assert_int_equal(rpc_loop_new(&w.l, 4, on_wake, &w), 0);
	assert_int_equal(pthread_create(&loop, NULL, run_loop, &w), 0);
	for (int i = 0; i < 4; i++)
		assert_int_equal(pthread_create(&t[i], NULL, waker, &w), 0);
	for (int i = 0; i < 4; i++)
		pthread_join(t[i], NULL);
	atomic_store(&w.stop, true);
	pthread_join(loop, NULL);
	assert_false(atomic_load(&w.stalled));
	assert_true(atomic_load(&w.seen) == 60000);
	rpc_loop_free(w.l);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(timers_fire_once_in_deadline_order_and_disarmed_ones_never),
		cmocka_unit_test(the_timer_heap_is_bounded),
		cmocka_unit_test(no_wake_up_is_lost_when_many_threads_wake_the_loop),
	};
	return run_group(tests);
}
