#include "node/events.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <string.h>
#include <time.h>

#include "lib/mem.h"

struct events_sub {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	struct node_event *ring;
	size_t cap, head, count;
	_Atomic uint64_t dropped;
	bool closed;
};

struct events_hub {
	pthread_mutex_t lock; /* the subscriber list */
	struct events_sub *subs[EVENTS_MAX_SUBSCRIBERS];
	uint64_t seq;
};

int events_hub_new(struct events_hub **out)
{
	*out = mem_zalloc(sizeof(**out));
	if (!*out)
		return -ENOMEM;
	pthread_mutex_init(&(*out)->lock, NULL);
	return 0;
}

static void sub_free(struct events_sub *s)
{
	pthread_mutex_destroy(&s->lock);
	pthread_cond_destroy(&s->cond);
	mem_free(s->ring);
	mem_free(s);
}

void events_hub_free(struct events_hub *h)
{
	if (!h)
		return;
	for (size_t i = 0; i < EVENTS_MAX_SUBSCRIBERS; i++)
		if (h->subs[i])
			sub_free(h->subs[i]);
	pthread_mutex_destroy(&h->lock);
	mem_free(h);
}

void events_publish(struct events_hub *h, const struct node_event *ev)
{
	struct node_event e = *ev;
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	if (!e.unix_ms)
		e.unix_ms = (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
	pthread_mutex_lock(&h->lock);
	e.seq = ++h->seq;
	for (size_t i = 0; i < EVENTS_MAX_SUBSCRIBERS; i++) {
		struct events_sub *s = h->subs[i];
		if (!s)
			continue;
		pthread_mutex_lock(&s->lock);
		if (s->count == s->cap) {
			atomic_fetch_add(&s->dropped, 1);
		} else {
			s->ring[(s->head + s->count) % s->cap] = e;
			s->count++;
			pthread_cond_signal(&s->cond);
		}
		pthread_mutex_unlock(&s->lock);
	}
	pthread_mutex_unlock(&h->lock);
}

int events_subscribe(struct events_hub *h, size_t depth, struct events_sub **out)
{
	*out = NULL;
	struct events_sub *s = mem_zalloc(sizeof(*s));
	if (!s)
		return -ENOMEM;
	s->cap = depth ? depth : EVENTS_DEFAULT_QUEUE;
	if (!(s->ring = mem_alloc(s->cap * sizeof(*s->ring)))) {
		mem_free(s);
		return -ENOMEM;
	}
	pthread_mutex_init(&s->lock, NULL);
	pthread_condattr_t ca;
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&s->cond, &ca);
	pthread_condattr_destroy(&ca);
	pthread_mutex_lock(&h->lock);
	for (size_t i = 0; i < EVENTS_MAX_SUBSCRIBERS; i++)
		if (!h->subs[i]) {
			h->subs[i] = s;
			pthread_mutex_unlock(&h->lock);
			*out = s;
			return 0;
		}
	pthread_mutex_unlock(&h->lock);
	sub_free(s);
	return ERR_TOOBIG;
}

void events_unsubscribe(struct events_hub *h, struct events_sub *s)
{
	if (!s)
		return;
	pthread_mutex_lock(&h->lock);
	for (size_t i = 0; i < EVENTS_MAX_SUBSCRIBERS; i++)
		if (h->subs[i] == s)
			h->subs[i] = NULL;
	pthread_mutex_unlock(&h->lock);
	sub_free(s);
}

size_t events_take(struct events_sub *s, struct node_event *out, size_t max, int timeout_ms)
{
	size_t n = 0;
	pthread_mutex_lock(&s->lock);
	if (!s->count && !s->closed && timeout_ms != 0) {
		if (timeout_ms < 0) {
			while (!s->count && !s->closed)
				pthread_cond_wait(&s->cond, &s->lock);
		} else {
			struct timespec dl;
			clock_gettime(CLOCK_MONOTONIC, &dl);
			dl.tv_sec += timeout_ms / 1000;
			dl.tv_nsec += (long)(timeout_ms % 1000) * 1000000L;
			if (dl.tv_nsec >= 1000000000L) {
				dl.tv_sec++;
				dl.tv_nsec -= 1000000000L;
			}
			while (!s->count && !s->closed)
				if (pthread_cond_timedwait(&s->cond, &s->lock, &dl) == ETIMEDOUT)
					break;
		}
	}
	while (n < max && s->count) {
		out[n++] = s->ring[s->head];
		s->head = (s->head + 1) % s->cap;
		s->count--;
	}
	pthread_mutex_unlock(&s->lock);
	return n;
}

uint64_t events_dropped(const struct events_sub *s)
{
	return atomic_load(&s->dropped);
}

void events_close(struct events_sub *s)
{
	pthread_mutex_lock(&s->lock);
	s->closed = true;
	pthread_cond_broadcast(&s->cond);
	pthread_mutex_unlock(&s->lock);
}
