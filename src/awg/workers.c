#include "awg/workers.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <unistd.h>

#include "lib/mem.h"

#define WORKERS_MAX 16

struct workers {
	pthread_mutex_t lock;
	pthread_cond_t start, done;
	unsigned nthreads;
	pthread_t threads[WORKERS_MAX];
	/* The current job, published under lock with a new generation. */
	uint64_t generation;
	workers_fn fn;
	void *ctx;
	unsigned n, chunk;
	_Atomic unsigned next;   /* next unclaimed item */
	unsigned busy;           /* pool threads still inside the job (lock) */
	bool stop;
};

/* Claims chunks until none are left. */
static void drain(struct workers *w, workers_fn fn, void *ctx, unsigned n, unsigned chunk)
{
	for (;;) {
		unsigned b = atomic_fetch_add(&w->next, chunk);
		if (b >= n)
			return;
		fn(ctx, b, b + chunk < n ? b + chunk : n);
	}
}

static void *worker_main(void *arg)
{
	struct workers *w = arg;
	uint64_t seen = 0;
	pthread_mutex_lock(&w->lock);
	for (;;) {
		while (!w->stop && w->generation == seen)
			pthread_cond_wait(&w->start, &w->lock);
		if (w->stop)
			break;
		seen = w->generation;
		workers_fn fn = w->fn;
		void *ctx = w->ctx;
		unsigned n = w->n, chunk = w->chunk;
		pthread_mutex_unlock(&w->lock);
		drain(w, fn, ctx, n, chunk);
		pthread_mutex_lock(&w->lock);
		if (--w->busy == 0)
			pthread_cond_signal(&w->done);
	}
	pthread_mutex_unlock(&w->lock);
	return NULL;
}

unsigned workers_default_count(void)
{
	long n = sysconf(_SC_NPROCESSORS_ONLN);
	if (n <= 1)
		return 0;
	return n - 1 > WORKERS_MAX ? WORKERS_MAX : (unsigned)(n - 1);
}

int workers_new(struct workers **out, unsigned nthreads)
{
	*out = NULL;
	if (nthreads > WORKERS_MAX)
		nthreads = WORKERS_MAX;
	struct workers *w = mem_zalloc(sizeof(*w));
	if (!w)
		return -ENOMEM;
	pthread_mutex_init(&w->lock, NULL);
	pthread_cond_init(&w->start, NULL);
	pthread_cond_init(&w->done, NULL);
	for (unsigned i = 0; i < nthreads; i++) {
		int rc = pthread_create(&w->threads[i], NULL, worker_main, w);
		if (rc != 0) {
			w->nthreads = i;
			workers_free(w);
			return -rc;
		}
	}
	w->nthreads = nthreads;
	*out = w;
	return 0;
}

void workers_free(struct workers *w)
{
	if (!w)
		return;
	pthread_mutex_lock(&w->lock);
	w->stop = true;
	pthread_cond_broadcast(&w->start);
	pthread_mutex_unlock(&w->lock);
	for (unsigned i = 0; i < w->nthreads; i++)
		pthread_join(w->threads[i], NULL);
	pthread_cond_destroy(&w->start);
	pthread_cond_destroy(&w->done);
	pthread_mutex_destroy(&w->lock);
	mem_free(w);
}

void workers_run(struct workers *w, workers_fn fn, void *ctx, unsigned n, unsigned chunk)
{
	if (!chunk)
		chunk = 1;
	/* Small jobs are not worth a wake-up. */
	if (!w || !w->nthreads || n <= chunk) {
		if (n)
			fn(ctx, 0, n);
		return;
	}
	pthread_mutex_lock(&w->lock);
	w->fn = fn;
	w->ctx = ctx;
	w->n = n;
	w->chunk = chunk;
	atomic_store(&w->next, 0);
	w->busy = w->nthreads;
	w->generation++;
	pthread_cond_broadcast(&w->start);
	pthread_mutex_unlock(&w->lock);
	drain(w, fn, ctx, n, chunk);
	pthread_mutex_lock(&w->lock);
	while (w->busy)
		pthread_cond_wait(&w->done, &w->lock);
	pthread_mutex_unlock(&w->lock);
}
