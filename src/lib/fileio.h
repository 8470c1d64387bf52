/* Whole-file reads and crash-safe whole-file writes, for configuration, keys
 * and state. Every function returns 0 or a negative errno (or ERR_TOOBIG),
 * and retries reads and writes interrupted by signals. */
#ifndef PHAROS_LIB_FILEIO_H
#define PHAROS_LIB_FILEIO_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "lib/err.h"

/* Replaces path with exactly data[0..len), so that after a crash path holds
 * either the old or the new content, never a mix:
 *   1. create a temporary file in path's directory with O_EXCL and the final
 *      mode (less umask, then fchmod to exactly mode: never wider than mode
 *      at any moment, so 0600 for secrets is safe);
 *   2. write, fsync, close;
 *   3. rename it over path (a symlink at path is replaced, not followed);
 *   4. fsync the directory so the rename itself is durable.
 * If a step before the rename fails, the temporary file is removed and path
 * is untouched. An error from step 4 is still returned although path has
 * been replaced: the new content may not survive a crash. */
int fileio_write_atomic(const char *path, const void *data, size_t len, mode_t mode) WUR;

/* Reads all of path into a new buffer with a NUL after the data (not counted
 * in *len), to be freed with mem_free, or mem_free_secret(*out, *len + 1) if
 * it holds a secret (copies made while growing are wiped already). ERR_TOOBIG
 * if the file holds more than max bytes. *out is NULL and *len 0 on failure. */
int fileio_read_all(const char *path, size_t max, uint8_t **out, size_t *len) WUR;

/* Creates path and its missing parents, each with mode (less umask); an
 * existing directory is fine, anything else in the way is -ENOTDIR. */
int fileio_mkdir_p(const char *path, mode_t mode) WUR;

#endif
