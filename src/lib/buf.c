#include "lib/buf.h"

#include <errno.h>
#include <sodium.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "lib/mem.h"

#define BUF_MIN_CAP 64

void buf_init(struct buf *b, size_t max)
{
	b->data = NULL;
	b->len = 0;
	b->cap = 0;
	b->max = max;
}

int buf_reserve(struct buf *b, size_t n)
{
	size_t need, newcap;
	uint8_t *p;

	if (n > b->max - b->len)
		return ERR_TOOBIG;
	need = b->len + n;
	if (b->data && need <= b->cap)
		return 0;
	/* Double to keep appends amortised O(1), but never past max. */
	newcap = b->cap > b->max / 2 ? b->max : b->cap * 2;
	if (newcap < BUF_MIN_CAP)
		newcap = BUF_MIN_CAP < b->max ? BUF_MIN_CAP : b->max;
	if (newcap < need)
		newcap = need;
	if (newcap == SIZE_MAX)
		return -ENOMEM;
	p = mem_alloc(newcap + 1);
	if (!p)
		return -ENOMEM;
	if (b->data)
		memcpy(p, b->data, b->len);
	p[b->len] = '\0';
	mem_free_secret(b->data, b->cap + 1);
	b->data = p;
	b->cap = newcap;
	return 0;
}

void buf_advance(struct buf *b, size_t n)
{
	b->len += n;
	b->data[b->len] = '\0';
}

int buf_append(struct buf *b, const void *p, size_t n)
{
	int rc = buf_reserve(b, n);
	if (rc < 0)
		return rc;
	if (n)
		memcpy(b->data + b->len, p, n);
	buf_advance(b, n);
	return 0;
}

int buf_printf(struct buf *b, const char *fmt, ...)
{
	va_list ap;
	int n, rc;

	va_start(ap, fmt);
	n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0)
		return -EINVAL;
	rc = buf_reserve(b, (size_t)n);
	if (rc < 0)
		return rc;
	va_start(ap, fmt);
	n = vsnprintf((char *)b->data + b->len, (size_t)n + 1, fmt, ap);
	va_end(ap);
	if (n < 0) {
		b->data[b->len] = '\0';
		return -EINVAL;
	}
	buf_advance(b, (size_t)n);
	return 0;
}

void buf_consume(struct buf *b, size_t n)
{
	if (n > b->len)
		n = b->len;
	if (!n)
		return;
	memmove(b->data, b->data + n, b->len - n);
	/* The tail now holds stale copies of the bytes just moved; wipe them. */
	sodium_memzero(b->data + b->len - n, n);
	b->len -= n;
}

void buf_reset(struct buf *b)
{
	if (b->data)
		sodium_memzero(b->data, b->len);
	b->len = 0;
}

void buf_fini(struct buf *b)
{
	mem_free(b->data);
	buf_init(b, b->max);
}

void buf_fini_secret(struct buf *b)
{
	mem_free_secret(b->data, b->data ? b->cap + 1 : 0);
	buf_init(b, b->max);
}
