/* A bounded byte FIFO: append at the tail, consume from the head, in O(1)
 * amortised (lib/buf moves the rest down on every consume, which is right
 * for line parsers and wrong for a queue drained 16 KiB at a time). Used for
 * TLS output, per-stream message queues and receive queues.
 *
 * Contracts:
 *  - len never exceeds max; appends that would are ERR_TOOBIG and change
 *    nothing. Growth never uses realloc: the old block is wiped before it is
 *    freed, and rpc_fifo_fini wipes the whole allocation, since messages
 *    may carry keys (PushConfig carries preshared keys).
 *  - Not thread-safe: the owner's lock, if any, covers it. */
#ifndef PHAROS_RPC_FIFO_H
#define PHAROS_RPC_FIFO_H

#include <stddef.h>
#include <stdint.h>

#include "lib/err.h"

struct rpc_fifo {
	uint8_t *data; /* NULL until the first reservation */
	size_t head;   /* offset of the first queued byte */
	size_t len;    /* bytes queued */
	size_t cap;    /* bytes allocated */
	size_t max;    /* hard cap on len */
};

void rpc_fifo_init(struct rpc_fifo *f, size_t max);
/* Makes n contiguous bytes writable at rpc_fifo_tail(); 0, -ENOMEM or ERR_TOOBIG. */
int rpc_fifo_reserve(struct rpc_fifo *f, size_t n) WUR;
/* Where reserved bytes are written. */
uint8_t *rpc_fifo_tail(struct rpc_fifo *f);
/* Counts n written bytes in (n no more than was reserved). */
void rpc_fifo_commit(struct rpc_fifo *f, size_t n);
/* Appends a[0..na) then b[0..nb) (either may be empty) as one unit: both or
 * neither. 0, -ENOMEM or ERR_TOOBIG. */
int rpc_fifo_append(struct rpc_fifo *f, const void *a, size_t na, const void *b, size_t nb) WUR;
/* The first queued byte (valid until the next reserve or append). */
const uint8_t *rpc_fifo_head(const struct rpc_fifo *f);
/* Drops the first n bytes (all if n >= len). */
void rpc_fifo_consume(struct rpc_fifo *f, size_t n);
/* Exchanges the queued bytes (and buffers) of a and b in O(1); each keeps
 * its own max, so a fifo may briefly hold more than its max: appends then
 * fail until it drains. */
void rpc_fifo_swap(struct rpc_fifo *a, struct rpc_fifo *b);
/* Wipes and frees; f is left as rpc_fifo_init(f, f->max) leaves it. */
void rpc_fifo_fini(struct rpc_fifo *f);

#endif
