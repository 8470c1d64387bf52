/* `set`: the command line becomes a UAPI set transaction (built by
 * uapi_client_build_set) sent to the interface's socket. Keys come from
 * files (or /dev/stdin), never from the command line, where any local user
 * could read them in /proc. */
#include <errno.h>
#include <netdb.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

#include "awg/uapi_client.h"
#include "lib/buf.h"
#include "lib/enc.h"
#include "lib/fileio.h"
#include "lib/mem.h"
#include "pharos-awg/cli.h"
#include "pharos-awg/ipc.h"

#define KEY_FILE_MAX 4096 /* a key file is 44 characters and a newline */

/* wg semantics: the file holds one base64 key, surrounding whitespace is
 * ignored, and an empty file means "no key" (32 zero bytes), which is how a
 * preshared key is removed. */
static int read_key_file(void *ctx, const char *path, uint8_t key[UAPI_CLIENT_KEY_LEN], char *err, size_t errlen)
{
	uint8_t *data;
	size_t len;
	int rc = fileio_read_all(path, KEY_FILE_MAX, &data, &len);
	if (rc < 0) {
		snprintf(err, errlen, "Unable to read key file '%s': %s", path,
		         rc == ERR_TOOBIG ? "larger than a key file can be" : err_str(rc));
		return rc == ERR_TOOBIG ? -EINVAL : rc;
	}
	char *s = (char *)data, *end = s + len;
	while (s < end && (*s == ' ' || *s == '\t' || *s == '\n' || *s == '\r'))
		s++;
	while (end > s && (end[-1] == ' ' || end[-1] == '\t' || end[-1] == '\n' || end[-1] == '\r'))
		end--;
	*end = '\0';
	if (s == end) {
		memset(key, 0, UAPI_CLIENT_KEY_LEN);
	} else if (enc_key_from_base64(key, s) != 0) {
		snprintf(err, errlen, "Key file '%s' does not hold a key: expected 44 characters of base64 (see genkey)",
		         path);
		rc = -EINVAL;
	}
	mem_free_secret(data, len + 1);
	return rc;
}

/* "host:port" or "[host]:port" through getaddrinfo, for names the numeric
 * parser refused. The first address returned wins, as with wg. */
static int resolve_endpoint(void *ctx, const char *s, union endpoint *out, char *err, size_t errlen)
{
	const char *orig = s, *port;
	char host[256];
	size_t hlen;

	if (s[0] == '[') {
		const char *close = strchr(s, ']');
		if (!close || close[1] != ':')
			goto bad;
		hlen = (size_t)(close - s - 1);
		port = close + 2;
		s++; /* the host starts after the bracket */
	} else {
		const char *colon = strrchr(s, ':');
		if (!colon)
			goto bad;
		hlen = (size_t)(colon - s);
		port = colon + 1;
	}
	if (!hlen || hlen >= sizeof(host) || !*port)
		goto bad;
	memcpy(host, s, hlen);
	host[hlen] = '\0';

	struct addrinfo hints = { .ai_family = AF_UNSPEC, .ai_socktype = SOCK_DGRAM, .ai_protocol = IPPROTO_UDP };
	struct addrinfo *res = NULL;
	int gai = getaddrinfo(host, port, &hints, &res);
	if (gai) {
		snprintf(err, errlen, "Unable to resolve endpoint '%s': %s", host, gai_strerror(gai));
		return -EINVAL;
	}
	int rc = endpoint_from_sockaddr(out, res->ai_addr, res->ai_addrlen);
	freeaddrinfo(res);
	if (rc < 0)
		snprintf(err, errlen, "Endpoint '%s' resolved to an unsupported address family", host);
	return rc;
bad:
	snprintf(err, errlen, "Invalid endpoint '%s': expected HOST:PORT, IPv4:PORT or [IPv6]:PORT", orig);
	return -EINVAL;
}

int cli_set(const char *prog, int argc, char **argv)
{
	static const struct uapi_client_set_io io = {
		.read_key_file = read_key_file,
		.resolve_endpoint = resolve_endpoint,
	};
	struct buf body;
	char err[256];
	int ret = 1;

	if (argc < 2) {
		fprintf(stderr, "Usage: %s %s %s\n", prog, argv[0], CLI_SET_ARGS);
		return 1;
	}
	if (!ipc_ifname_valid(argv[1])) {
		fprintf(stderr, "Invalid interface name `%s': 1..15 characters, no '/'.\n", argv[1]);
		return 1;
	}
	buf_init(&body, UAPI_CLIENT_MAX_REPLY);
	int rc = uapi_client_build_set(argc - 2, (const char *const *)argv + 2, &io, &body, err, sizeof(err));
	if (rc < 0) {
		fprintf(stderr, "%s\n", err[0] ? err : err_str(rc));
		goto out;
	}
	rc = ipc_set(argv[1], body.data ? (const char *)body.data : "", body.len);
	if (rc < 0) {
		fprintf(stderr, "Unable to modify interface %s: %s\n", argv[1], err_str(rc));
		goto out;
	}
	ret = 0;
out:
	buf_fini_secret(&body);
	return ret;
}
