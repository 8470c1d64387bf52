/* Shared nghttp2 glue for the server and client connections: the allocator
 * (every nghttp2 allocation goes through lib/mem, so fault injection and
 * the allocation-failure tests reach it) and header-field helpers. */
#ifndef PHAROS_RPC_H2_H
#define PHAROS_RPC_H2_H

#include <nghttp2/nghttp2.h>
#include <stdbool.h>
#include <stddef.h>
#include <string.h>

/* Fills m with allocators that call mem_alloc and friends. */
void rpc_h2_mem(nghttp2_mem *m);

/* A header field pointing at NUL-terminated name and value; nghttp2 copies it. */
static inline nghttp2_nv rpc_h2_nv(const char *name, const char *value)
{
	nghttp2_nv nv = { (uint8_t *)name, (uint8_t *)value, strlen(name), strlen(value), NGHTTP2_NV_FLAG_NONE };
	return nv;
}

/* name[0..len) equals the literal s. */
static inline bool rpc_h2_is(const uint8_t *name, size_t len, const char *s)
{
	return strlen(s) == len && !memcmp(name, s, len);
}

#endif
