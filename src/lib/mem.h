/* Allocation. Every heap allocation in the project goes through these so that
 * tests can make the i-th allocation fail (mem_fail_after) and prove each
 * error path unwinds cleanly. In release builds they are thin wrappers. */
#ifndef PHAROS_LIB_MEM_H
#define PHAROS_LIB_MEM_H

#include <stddef.h>

void *mem_alloc(size_t n);
void *mem_zalloc(size_t n);
void *mem_realloc(void *p, size_t n);
void *mem_dup(const void *p, size_t n);
char *mem_strdup(const char *s);
void mem_free(void *p);
/* Wipes n bytes then frees; p may be NULL. For anything that held a secret. */
void mem_free_secret(void *p, size_t n);

#ifdef PHAROS_FAULT_INJECTION
/* Test hook (per thread): the next `n` allocations succeed, then all fail until
 * mem_fail_off(). Returns nothing; mem_fail_hit() says whether a failure fired. */
void mem_fail_after(long n);
void mem_fail_off(void);
int mem_fail_hit(void);
#endif

#endif
