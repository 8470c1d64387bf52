#include "rpc/fifo.h"

#include <errno.h>
#include <sodium.h>
#include <string.h>

#include "lib/mem.h"

#define FIFO_MIN_CAP 256

void rpc_fifo_init(struct rpc_fifo *f, size_t max)
{
	f->data = NULL;
	f->head = 0;
	f->len = 0;
	f->cap = 0;
	f->max = max;
}

int rpc_fifo_reserve(struct rpc_fifo *f, size_t n)
{
	size_t need, newcap;
	uint8_t *p;

	if (f->len > f->max || n > f->max - f->len)
		return ERR_TOOBIG;
	need = f->len + n;
	if (f->data && f->head + need <= f->cap)
		return 0;
	if (f->data && need <= f->cap) {
		/* Enough room once the consumed front is reclaimed. */
		memmove(f->data, f->data + f->head, f->len);
		f->head = 0;
		return 0;
	}
	newcap = f->cap > f->max / 2 ? f->max : f->cap * 2;
	if (newcap < FIFO_MIN_CAP)
		newcap = FIFO_MIN_CAP < f->max ? FIFO_MIN_CAP : f->max;
	if (newcap < need)
		newcap = need;
	p = mem_alloc(newcap);
	if (!p)
		return -ENOMEM;
	if (f->len)
		memcpy(p, f->data + f->head, f->len);
	if (f->data) {
		sodium_memzero(f->data, f->cap);
		mem_free(f->data);
	}
	f->data = p;
	f->head = 0;
	f->cap = newcap;
	return 0;
}

uint8_t *rpc_fifo_tail(struct rpc_fifo *f)
{
	return f->data + f->head + f->len;
}

void rpc_fifo_commit(struct rpc_fifo *f, size_t n)
{
	f->len += n;
}

int rpc_fifo_append(struct rpc_fifo *f, const void *a, size_t na, const void *b, size_t nb)
{
	int rc;

	if (nb > f->max || na > f->max - nb)
		return ERR_TOOBIG;
	rc = rpc_fifo_reserve(f, na + nb);
	if (rc < 0)
		return rc;
	uint8_t *t = rpc_fifo_tail(f);
	if (na)
		memcpy(t, a, na);
	if (nb)
		memcpy(t + na, b, nb);
	rpc_fifo_commit(f, na + nb);
	return 0;
}

const uint8_t *rpc_fifo_head(const struct rpc_fifo *f)
{
	return f->data + f->head;
}

void rpc_fifo_consume(struct rpc_fifo *f, size_t n)
{
	if (n >= f->len) {
		f->head = 0;
		f->len = 0;
		return;
	}
	f->head += n;
	f->len -= n;
}

void rpc_fifo_swap(struct rpc_fifo *a, struct rpc_fifo *b)
{
	struct rpc_fifo t = *a;
	size_t amax = a->max, bmax = b->max;
	*a = *b;
	*b = t;
	a->max = amax;
	b->max = bmax;
}

void rpc_fifo_fini(struct rpc_fifo *f)
{
	if (f->data) {
		sodium_memzero(f->data, f->cap);
		mem_free(f->data);
	}
	rpc_fifo_init(f, f->max);
}
