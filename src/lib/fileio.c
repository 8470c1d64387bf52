#include "lib/fileio.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lib/buf.h"
#include "lib/mem.h"

/* ".NAME.tmp-" plus 16 hex digits; hidden so that a directory listing (or a
 * loader scanning "*.conf") does not pick a half-written file up. */
#define TMP_PREFIX "."
#define TMP_SUFFIX ".tmp-"
#define TMP_RANDOM_HEX 16
#define TMP_ATTEMPTS 16

static int write_all(int fd, const uint8_t *p, size_t n)
{
	while (n > 0) {
		ssize_t w = write(fd, p, n);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (w == 0)
			return -EIO;
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

/* Splits path into a directory to open (heap, "." if there is no slash) and
 * the final component, which points into path. */
static int split_path(const char *path, char **dir, const char **base)
{
	const char *slash = strrchr(path, '/');

	*dir = NULL;
	if (!slash) {
		*base = path;
		*dir = mem_strdup(".");
	} else {
		*base = slash + 1;
		/* "/name" lives in "/": keep the slash itself in that case. */
		size_t n = slash == path ? 1 : (size_t)(slash - path);
		*dir = mem_alloc(n + 1);
		if (*dir) {
			memcpy(*dir, path, n);
			(*dir)[n] = '\0';
		}
	}
	if (!*dir)
		return -ENOMEM;
	if (!**base || !strcmp(*base, ".") || !strcmp(*base, ".."))
		return -EINVAL;
	return 0;
}

/* Creates a fresh temporary file in dirfd; its name goes to tmp. */
static int create_temp(int dirfd, const char *base, mode_t mode, char *tmp, size_t tmpcap, int *fd)
{
	for (int attempt = 0; attempt < TMP_ATTEMPTS; attempt++) {
		unsigned long long r;
		ssize_t got = getrandom(&r, sizeof(r), 0);
		if (got < 0)
			return -errno;
		if (got != (ssize_t)sizeof(r))
			return -EIO;
		snprintf(tmp, tmpcap, TMP_PREFIX "%s" TMP_SUFFIX "%016llx", base, r);
		*fd = openat(dirfd, tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, mode);
		if (*fd >= 0)
			return 0;
		if (errno != EEXIST)
			return -errno;
	}
	return -EEXIST;
}

int fileio_write_atomic(const char *path, const void *data, size_t len, mode_t mode)
{
	char *dir = NULL, *tmp = NULL;
	const char *base;
	size_t tmpcap;
	int dirfd = -1, fd = -1, rc;
	bool created = false;

	rc = split_path(path, &dir, &base);
	if (rc < 0)
		goto out;
	tmpcap = strlen(TMP_PREFIX) + strlen(base) + strlen(TMP_SUFFIX) + TMP_RANDOM_HEX + 1;
	if (tmpcap - 1 > NAME_MAX) {
		rc = -ENAMETOOLONG;
		goto out;
	}
	tmp = mem_alloc(tmpcap);
	if (!tmp) {
		rc = -ENOMEM;
		goto out;
	}
	/* Everything below is relative to dirfd, so the temporary file, the
	 * rename and the directory fsync all act on the same directory even if
	 * a path component is swapped meanwhile. */
	dirfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dirfd < 0) {
		rc = -errno;
		goto out;
	}
	rc = create_temp(dirfd, base, mode, tmp, tmpcap, &fd);
	if (rc < 0)
		goto out;
	created = true;
	/* open() applied the umask, which can only narrow mode; set it exactly. */
	if (fchmod(fd, mode) < 0) {
		rc = -errno;
		goto out;
	}
	rc = write_all(fd, data, len);
	if (rc < 0)
		goto out;
	if (fsync(fd) < 0) {
		rc = -errno;
		goto out;
	}
	rc = close(fd);
	fd = -1;
	if (rc < 0) {
		rc = -errno;
		goto out;
	}
	if (renameat(dirfd, tmp, dirfd, base) < 0) {
		rc = -errno;
		goto out;
	}
	created = false;
	if (fsync(dirfd) < 0)
		rc = -errno;
out:
	if (fd >= 0)
		close(fd);
	if (created)
		unlinkat(dirfd, tmp, 0);
	if (dirfd >= 0)
		close(dirfd);
	mem_free(tmp);
	mem_free(dir);
	return rc;
}

/* Called with the buffer full at its cap: one more byte means too big. */
static int expect_eof(int fd)
{
	uint8_t c;
	for (;;) {
		ssize_t r = read(fd, &c, 1);
		if (r == 0)
			return 0;
		if (r > 0)
			return ERR_TOOBIG;
		if (errno != EINTR)
			return -errno;
	}
}

int fileio_read_all(const char *path, size_t max, uint8_t **out, size_t *len)
{
	struct buf b;
	struct stat st;
	int fd, rc = 0;

	*out = NULL;
	*len = 0;
	buf_init(&b, max);
	fd = open(path, O_RDONLY | O_NOCTTY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	/* The size is only a hint (the file may change while we read, and
	 * /proc files say 0) that lets the usual case allocate once. */
	if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && st.st_size > 0) {
		if ((unsigned long long)st.st_size > max) {
			rc = ERR_TOOBIG;
			goto out;
		}
		size_t hint = (size_t)st.st_size;
		rc = buf_reserve(&b, hint < max ? hint + 1 : hint);
		if (rc < 0)
			goto out;
	}
	for (;;) {
		if (b.len == b.max) {
			rc = expect_eof(fd);
			break;
		}
		if (!b.data || b.len == b.cap) {
			rc = buf_reserve(&b, 1);
			if (rc < 0)
				break;
		}
		ssize_t r = read(fd, b.data + b.len, b.cap - b.len);
		if (r < 0) {
			if (errno == EINTR)
				continue;
			rc = -errno;
			break;
		}
		if (r == 0)
			break;
		buf_advance(&b, (size_t)r);
	}
	/* An empty file with max 0 never reserved: still hand back "". */
	if (rc == 0 && !b.data)
		rc = buf_reserve(&b, 0);
out:
	close(fd);
	if (rc < 0) {
		buf_fini_secret(&b);
		return rc;
	}
	*out = b.data;
	*len = b.len;
	return 0;
}

static int make_dir(const char *path, mode_t mode)
{
	struct stat st;

	if (mkdir(path, mode) == 0)
		return 0;
	if (errno != EEXIST)
		return -errno;
	if (stat(path, &st) < 0)
		return -errno;
	return S_ISDIR(st.st_mode) ? 0 : -ENOTDIR;
}

int fileio_mkdir_p(const char *path, mode_t mode)
{
	size_t n = strlen(path);
	char *p;
	int rc = 0;

	if (n == 0)
		return -EINVAL;
	p = mem_strdup(path);
	if (!p)
		return -ENOMEM;
	/* Create each prefix that ends a component: at every slash that does
	 * not follow another slash, and at the end. */
	for (size_t i = 1; i <= n && rc == 0; i++) {
		if ((i < n && p[i] != '/') || p[i - 1] == '/')
			continue;
		char saved = p[i];
		p[i] = '\0';
		rc = make_dir(p, mode);
		p[i] = saved;
	}
	mem_free(p);
	return rc;
}
