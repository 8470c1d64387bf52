#include "rpc/h2.h"

#include <stdint.h>

#include "lib/mem.h"

static void *h2_malloc(size_t n, void *ud)
{
	return mem_alloc(n);
}

static void h2_free(void *p, void *ud)
{
	mem_free(p);
}

static void *h2_calloc(size_t nmemb, size_t size, void *ud)
{
	if (size && nmemb > SIZE_MAX / size)
		return NULL;
	return mem_zalloc(nmemb * size);
}

static void *h2_realloc(void *p, size_t n, void *ud)
{
	return mem_realloc(p, n);
}

void rpc_h2_mem(nghttp2_mem *m)
{
	m->mem_user_data = NULL;
	m->malloc = h2_malloc;
	m->free = h2_free;
	m->calloc = h2_calloc;
	m->realloc = h2_realloc;
}
