#include "caravel/dns.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lib/buf.h"
#include "lib/fileio.h"
#include "lib/mem.h"

#define RESOLV_MAX (64u << 10)

static void backup_paths(const char *rundir, char *data, char *link, size_t cap)
{
	snprintf(data, cap, "%s/resolv.conf.orig", rundir);
	snprintf(link, cap, "%s/resolv.conf.link", rundir);
}

/* Writes content over `path` in place (path is a mount point). */
static int write_in_place(const char *path, const void *data, size_t len)
{
	int fd = open(path, O_WRONLY | O_TRUNC | O_CLOEXEC | O_NOFOLLOW);
	int rc = 0;
	if (fd < 0)
		return -errno;
	for (size_t off = 0; off < len;) {
		ssize_t w = write(fd, (const char *)data + off, len - off);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0) {
			rc = w < 0 ? -errno : -EIO;
			break;
		}
		off += (size_t)w;
	}
	if (rc == 0 && fsync(fd) < 0)
		rc = -errno;
	close(fd);
	return rc;
}

static int replace_file(const char *path, const void *data, size_t len)
{
	int rc = fileio_write_atomic(path, data, len, 0644);
	if (rc == -EBUSY)
		rc = write_in_place(path, data, len);
	return rc;
}

int caravel_dns_apply(const char *rundir, const char *const *servers, size_t n, const char *why, char *err,
                      size_t errlen)
{
	char data_path[PATH_MAX], link_path[PATH_MAX], target[PATH_MAX];
	uint8_t *orig = NULL;
	size_t olen = 0;
	struct buf b;
	int rc;
	backup_paths(rundir, data_path, link_path, sizeof(data_path));
	buf_init(&b, RESOLV_MAX);
	/* A backup already there is the real original (a second apply, or an
	 * apply after a crash): keep it. */
	if (access(data_path, F_OK) != 0 && access(link_path, F_OK) != 0) {
		ssize_t tl = readlink(CARAVEL_RESOLV_CONF, target, sizeof(target) - 1);
		if (tl >= 0) {
			target[tl] = '\0';
			rc = fileio_write_atomic(link_path, target, (size_t)tl, 0600);
		} else {
			rc = fileio_read_all(CARAVEL_RESOLV_CONF, RESOLV_MAX, &orig, &olen);
			if (rc == -ENOENT)
				rc = 0; /* none: restore removes ours */
			if (rc == 0)
				rc = fileio_write_atomic(data_path, orig ? (const void *)orig : "", olen, 0600);
		}
		if (rc < 0) {
			snprintf(err, errlen, "saving %s to %s: %s", CARAVEL_RESOLV_CONF, rundir, err_str(rc));
			goto out;
		}
	}
	rc = buf_printf(&b, "# written by caravel (%s); restored by `caravel down`\n", why);
	for (size_t i = 0; i < n && rc == 0; i++)
		rc = buf_printf(&b, "nameserver %s\n", servers[i]);
	if (rc < 0)
		goto out;
	/* A symlink is replaced by a regular file (restore puts it back). */
	struct stat st;
	if (lstat(CARAVEL_RESOLV_CONF, &st) == 0 && S_ISLNK(st.st_mode) && unlink(CARAVEL_RESOLV_CONF) < 0)
		rc = -errno;
	if (rc == 0)
		rc = replace_file(CARAVEL_RESOLV_CONF, b.data, b.len);
	if (rc < 0)
		snprintf(err, errlen, "writing %s: %s", CARAVEL_RESOLV_CONF, err_str(rc));
out:
	mem_free(orig);
	buf_fini(&b);
	return rc;
}

int caravel_dns_restore(const char *rundir, bool *restored, char *err, size_t errlen)
{
	char data_path[PATH_MAX], link_path[PATH_MAX];
	uint8_t *saved = NULL;
	size_t len = 0;
	int rc;
	*restored = false;
	backup_paths(rundir, data_path, link_path, sizeof(data_path));
	if ((rc = fileio_read_all(link_path, PATH_MAX - 1, &saved, &len)) == 0) {
		if ((unlink(CARAVEL_RESOLV_CONF) < 0 && errno != ENOENT) ||
		    symlink((const char *)saved, CARAVEL_RESOLV_CONF) < 0)
			rc = -errno;
		if (rc == 0)
			unlink(link_path);
	} else if (rc == -ENOENT && (rc = fileio_read_all(data_path, RESOLV_MAX, &saved, &len)) == 0) {
		rc = replace_file(CARAVEL_RESOLV_CONF, saved, len);
		if (rc == 0)
			unlink(data_path);
	}
	if (rc == -ENOENT) /* nothing saved: nothing to undo */
		rc = 0;
	else if (rc == 0)
		*restored = true;
	else
		snprintf(err, errlen, "restoring %s: %s", CARAVEL_RESOLV_CONF, err_str(rc));
	mem_free(saved);
	return rc;
}
