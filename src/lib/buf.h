/* A growable byte buffer with a hard cap. Everything we read from a peer, a
 * socket or a file lands in one of these, so no input can make us allocate
 * more than the cap its owner chose.
 *
 * Contracts:
 *  - len never exceeds max; the terminator below is not counted in it.
 *  - Once data is allocated, data[len] is '\0', so text can be used as a C
 *    string (the allocation is cap + 1 bytes).
 *  - Growth never uses realloc: the old block is wiped before it is freed,
 *    and consumed bytes are wiped, so a buffer that held a secret leaves no
 *    stray copy in freed memory. buf_fini_secret() wipes the rest.
 *  - On failure nothing changes: len and contents stay as they were. */
#ifndef PHAROS_LIB_BUF_H
#define PHAROS_LIB_BUF_H

#include <stddef.h>
#include <stdint.h>

#include "lib/err.h"

struct buf {
	uint8_t *data; /* NULL until the first byte is reserved */
	size_t len;    /* bytes held */
	size_t cap;    /* bytes that fit without growing */
	size_t max;    /* hard cap on len */
};

/* An empty buffer that will hold at most max bytes. Allocates nothing. */
void buf_init(struct buf *b, size_t max);
/* Makes room for n more bytes; 0, -ENOMEM, or ERR_TOOBIG if len + n > max. */
int buf_reserve(struct buf *b, size_t n) WUR;
/* After writing n bytes at data + len (room made by buf_reserve), counts them
 * in. n must not exceed cap - len. */
void buf_advance(struct buf *b, size_t n);
/* 0, -ENOMEM or ERR_TOOBIG. */
int buf_append(struct buf *b, const void *p, size_t n) WUR;
/* Appends formatted text; 0, -ENOMEM, ERR_TOOBIG, or -EINVAL if the format
 * itself fails. */
int buf_printf(struct buf *b, const char *fmt, ...) WUR __attribute__((format(printf, 2, 3)));
/* Drops the first n bytes (all of them if n >= len). */
void buf_consume(struct buf *b, size_t n);
/* Empties the buffer (wiping what it held) but keeps the allocation. */
void buf_reset(struct buf *b);
/* Frees the data; b is left as buf_init(b, b->max) leaves it. */
void buf_fini(struct buf *b);
/* Wipes the whole allocation, then as buf_fini. */
void buf_fini_secret(struct buf *b);

#endif
