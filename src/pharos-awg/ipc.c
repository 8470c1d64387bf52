#include "pharos-awg/ipc.h"

#include <dirent.h>
#include <errno.h>
#include <net/if.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "awg/uapi_client.h"
#include "lib/buf.h"
#include "lib/mem.h"

static const char *const sock_dirs[] = { IPC_AWG_DIR, IPC_WG_DIR };
#define N_DIRS (sizeof(sock_dirs) / sizeof(sock_dirs[0]))

bool ipc_ifname_valid(const char *name)
{
	size_t len = strnlen(name, IFNAMSIZ);
	return len > 0 && len < IFNAMSIZ && !strchr(name, '/') && strcmp(name, ".") && strcmp(name, "..");
}

/* Connects to dir/ifname.sock. -ENOENT when there is no socket file there. */
static int connect_in(const char *dir, const char *ifname, int *fd_out)
{
	struct sockaddr_un addr = { .sun_family = AF_UNIX };
	struct stat st;
	int n = snprintf(addr.sun_path, sizeof(addr.sun_path), "%s/%s.sock", dir, ifname);
	if (n < 0 || (size_t)n >= sizeof(addr.sun_path))
		return -ENAMETOOLONG;
	if (stat(addr.sun_path, &st) < 0)
		return -errno;
	if (!S_ISSOCK(st.st_mode))
		return -ENOENT;
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (connect(fd, (struct sockaddr *)&addr, sizeof(addr)) < 0) {
		int e = -errno;
		close(fd);
		return e;
	}
	*fd_out = fd;
	return 0;
}

/* The amneziawg socket wins; a stale or missing one falls back to the
 * wireguard one. With no socket anywhere the interface does not exist. */
static int ipc_connect(const char *ifname, int *fd_out)
{
	int first_err = -ENODEV;
	if (!ipc_ifname_valid(ifname))
		return -EINVAL;
	for (size_t i = 0; i < N_DIRS; i++) {
		int rc = connect_in(sock_dirs[i], ifname, fd_out);
		if (rc == 0)
			return 0;
		if (rc != -ENOENT && first_err == -ENODEV)
			first_err = rc;
	}
	return first_err;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

void ipc_list_free(char **names, size_t count)
{
	if (!names)
		return;
	for (size_t i = 0; i < count; i++)
		mem_free(names[i]);
	mem_free(names);
}

static bool listed(char **names, size_t count, const char *name)
{
	for (size_t i = 0; i < count; i++)
		if (!strcmp(names[i], name))
			return true;
	return false;
}

int ipc_list_interfaces(char ***names_out, size_t *count_out)
{
	char **names = NULL;
	size_t count = 0, cap = 0;
	int rc = 0;

	*names_out = NULL;
	*count_out = 0;
	for (size_t d = 0; d < N_DIRS && !rc; d++) {
		DIR *dir = opendir(sock_dirs[d]);
		if (!dir) {
			if (errno == ENOENT)
				continue;
			rc = -errno;
			break;
		}
		struct dirent *ent;
		while ((ent = readdir(dir))) {
			size_t len = strlen(ent->d_name);
			char name[IFNAMSIZ];
			int fd;
			if (len <= 5 || strcmp(ent->d_name + len - 5, ".sock") || len - 5 >= sizeof(name))
				continue;
			memcpy(name, ent->d_name, len - 5);
			name[len - 5] = '\0';
			if (!ipc_ifname_valid(name) || listed(names, count, name))
				continue;
			if (connect_in(sock_dirs[d], name, &fd) < 0)
				continue; /* stale socket: the daemon is gone */
			close(fd);
			if (count == cap) {
				size_t ncap = cap ? cap * 2 : 8;
				char **nn = mem_realloc(names, ncap * sizeof(*nn));
				if (!nn) {
					rc = -ENOMEM;
					break;
				}
				names = nn;
				cap = ncap;
			}
			if (!(names[count] = mem_strdup(name))) {
				rc = -ENOMEM;
				break;
			}
			count++;
		}
		closedir(dir);
	}
	if (rc < 0) {
		ipc_list_free(names, count);
		return rc;
	}
	if (count)
		qsort(names, count, sizeof(*names), cmp_str);
	*names_out = names;
	*count_out = count;
	return 0;
}

static int send_all(int fd, const char *p, size_t len)
{
	while (len) {
		ssize_t n = send(fd, p, len, MSG_NOSIGNAL);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

/* A reply ends at its first empty line. */
static bool reply_complete(const struct buf *b, size_t scan_from)
{
	if (b->len && b->data[0] == '\n')
		return true;
	size_t i = scan_from ? scan_from - 1 : 0;
	for (; i + 1 < b->len; i++)
		if (b->data[i] == '\n' && b->data[i + 1] == '\n')
			return true;
	return false;
}

static int read_reply(int fd, struct buf *reply)
{
	for (;;) {
		struct pollfd pfd = { .fd = fd, .events = POLLIN };
		int pr = poll(&pfd, 1, IPC_TIMEOUT_MS);
		if (pr < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (pr == 0)
			return -ETIMEDOUT;
		if (reply->len >= reply->max)
			return -EMSGSIZE;
		size_t room = reply->max - reply->len;
		int rc = buf_reserve(reply, room < 16384 ? room : 16384);
		if (rc < 0)
			return rc == ERR_TOOBIG ? -EMSGSIZE : rc;
		ssize_t n = recv(fd, reply->data + reply->len, reply->cap - reply->len, 0);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (n == 0)
			return 0; /* EOF: the parser says whether the reply was whole */
		size_t before = reply->len;
		buf_advance(reply, (size_t)n);
		if (reply_complete(reply, before))
			return 0;
	}
}

static int transact(const char *ifname, const char *parts[], const size_t lens[], size_t nparts, struct buf *reply)
{
	int fd, rc;
	if ((rc = ipc_connect(ifname, &fd)) < 0)
		return rc;
	for (size_t i = 0; i < nparts && !rc; i++)
		rc = send_all(fd, parts[i], lens[i]);
	if (!rc)
		rc = read_reply(fd, reply);
	close(fd);
	return rc;
}

int ipc_get_text(const char *ifname, struct buf *reply)
{
	static const char req[] = "get=1\n\n";
	const char *parts[] = { req };
	const size_t lens[] = { sizeof(req) - 1 };
	return transact(ifname, parts, lens, 1, reply);
}

int ipc_get(const char *ifname, struct uapi_client_device **out, char *err, size_t errlen)
{
	struct buf reply;
	*out = NULL;
	if (errlen)
		err[0] = '\0';
	buf_init(&reply, UAPI_CLIENT_MAX_REPLY);
	int rc = ipc_get_text(ifname, &reply);
	if (!rc)
		rc = uapi_client_parse_reply(reply.data ? (const char *)reply.data : "", reply.len, out, err, errlen);
	if (!rc)
		snprintf((*out)->name, sizeof((*out)->name), "%s", ifname);
	buf_fini_secret(&reply);
	return rc;
}

int ipc_set(const char *ifname, const char *body, size_t len)
{
	static const char head[] = "set=1\n", tail[] = "\n";
	const char *parts[] = { head, body, tail };
	const size_t lens[] = { sizeof(head) - 1, len, sizeof(tail) - 1 };
	struct uapi_client_device *dev = NULL;
	struct buf reply;
	char err[8];

	/* An empty line inside the body would end the transaction early and the
	 * rest would be read as a new request. */
	if ((len && (body[0] == '\n' || body[len - 1] != '\n')) || memmem(body, len, "\n\n", 2))
		return -EINVAL;
	buf_init(&reply, 4096);
	int rc = transact(ifname, parts, lens, 3, &reply);
	if (!rc)
		rc = uapi_client_parse_reply(reply.data ? (const char *)reply.data : "", reply.len, &dev, err,
		                             sizeof(err));
	uapi_client_device_free(dev);
	buf_fini(&reply);
	return rc;
}
