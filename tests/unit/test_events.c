#include "support.h"

#include <errno.h>
#include <pthread.h>
#include <string.h>

#include "lib/err.h"
#include "node/events.h"

static void every_subscriber_sees_every_event_in_order(void **state)
{
	struct events_hub *h;
	struct events_sub *a, *b;
	struct node_event ev = { .type = NODE_EV_PEER_CONNECTED }, got[8];
	assert_int_equal(events_hub_new(&h), 0);
	assert_int_equal(events_subscribe(h, 8, &a), 0);
	assert_int_equal(events_subscribe(h, 8, &b), 0);
	for (int i = 0; i < 5; i++) {
		ev.rx_bytes = (uint64_t)i;
		events_publish(h, &ev);
	}
	assert_int_equal(events_take(a, got, 8, 0), 5);
	for (int i = 0; i < 5; i++) {
		assert_int_equal(got[i].rx_bytes, i);
		assert_int_equal(got[i].seq, i + 1);
		assert_true(got[i].unix_ms > 0);
	}
	assert_int_equal(events_take(b, got, 2, 0), 2);
	assert_int_equal(events_take(b, got, 8, 0), 3);
	events_unsubscribe(h, a);
	events_unsubscribe(h, b);
	events_hub_free(h);
}

static void a_full_subscriber_drops_and_counts_without_affecting_others(void **state)
{
	struct events_hub *h;
	struct events_sub *slow, *fast;
	struct node_event ev = { .type = NODE_EV_HANDSHAKE_UP }, got[16];
	assert_int_equal(events_hub_new(&h), 0);
	assert_int_equal(events_subscribe(h, 4, &slow), 0);
	assert_int_equal(events_subscribe(h, 16, &fast), 0);
	for (int i = 0; i < 10; i++)
		events_publish(h, &ev);
	assert_int_equal(events_dropped(slow), 6);
	assert_int_equal(events_dropped(fast), 0);
	assert_int_equal(events_take(slow, got, 16, 0), 4);
	assert_int_equal(events_take(fast, got, 16, 0), 10);
	events_hub_free(h);
}

static void the_subscriber_limit_is_enforced(void **state)
{
	struct events_hub *h;
	struct events_sub *s;
	assert_int_equal(events_hub_new(&h), 0);
	for (int i = 0; i < EVENTS_MAX_SUBSCRIBERS; i++)
		assert_int_equal(events_subscribe(h, 1, &s), 0);
	assert_int_equal(events_subscribe(h, 1, &s), ERR_TOOBIG);
	assert_null(s);
	events_hub_free(h);
}

struct pub_ctx {
	struct events_hub *h;
	int n;
};

static void *publisher(void *arg)
{
	struct pub_ctx *c = arg;
	struct node_event ev = { .type = NODE_EV_PEER_ROAMED };
	for (int i = 0; i < c->n; i++)
		events_publish(c->h, &ev);
	return NULL;
}

static void events_from_other_threads_wake_a_waiting_reader(void **state)
{
	struct events_hub *h;
	struct events_sub *s;
	struct node_event got[64];
	assert_int_equal(events_hub_new(&h), 0);
	assert_int_equal(events_subscribe(h, 20000, &s), 0);
	pthread_t t[2];
	struct pub_ctx c = { h, 5000 };
	pthread_create(&t[0], NULL, publisher, &c);
	pthread_create(&t[1], NULL, publisher, &c);
	size_t total = 0;
	while (total < 10000) {
		size_t n = events_take(s, got, 64, 2000);
		assert_true(n > 0);
		for (size_t i = 1; i < n; i++)
			assert_true(got[i].seq > got[i - 1].seq);
		total += n;
	}
	pthread_join(t[0], NULL);
	pthread_join(t[1], NULL);
	assert_int_equal(events_dropped(s), 0);
	events_close(s);
	assert_int_equal(events_take(s, got, 64, -1), 0);
	events_hub_free(h);
}

static void a_timed_wait_returns_empty_when_nothing_comes(void **state)
{
	struct events_hub *h;
	struct events_sub *s;
	struct node_event got[1];
	assert_int_equal(events_hub_new(&h), 0);
	assert_int_equal(events_subscribe(h, 4, &s), 0);
	assert_int_equal(events_take(s, got, 1, 30), 0);
	events_hub_free(h);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(every_subscriber_sees_every_event_in_order),
		cmocka_unit_test(a_full_subscriber_drops_and_counts_without_affecting_others),
		cmocka_unit_test(the_subscriber_limit_is_enforced),
		cmocka_unit_test(events_from_other_threads_wake_a_waiting_reader),
		cmocka_unit_test(a_timed_wait_returns_empty_when_nothing_comes),
	};
	return run_group(tests);
}
