/* A small fork-join pool for the data path: the tx and rx threads each own
 * one and use it to spread the cryptography of one batch over the cores. The
 * caller takes a share of the work itself and returns only when every item is
 * done, so packets leave in the order they were batched (per-peer order kept)
 * and nothing outlives the batch. One job at a time per pool. */
#ifndef PHAROS_AWG_WORKERS_H
#define PHAROS_AWG_WORKERS_H

#include "lib/err.h"

struct workers;

/* Work items [begin, end) of the current job. */
typedef void (*workers_fn)(void *ctx, unsigned begin, unsigned end);

/* nthreads extra threads (0: no pool, workers_run runs inline). */
int workers_new(struct workers **out, unsigned nthreads) WUR;
void workers_free(struct workers *w);
/* Runs fn over [0, n) in chunks of `chunk` items, on the caller and the pool. */
void workers_run(struct workers *w, workers_fn fn, void *ctx, unsigned n, unsigned chunk);
/* Extra threads to use on this machine for one data thread: cores - 1, capped. */
unsigned workers_default_count(void);

#endif
