/* Measuring dest's post-handshake records: see dest_probe.h. */
#include "reality/dest_probe.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <openssl/ssl.h>

#define SSL3_RT_HEADER_TYPE 256 /* the msg callback's "record header" pseudo type */

int dest_probe_alpn_class(const uint8_t *first_name, size_t len, int has_alpn)
{
	if (!has_alpn)
		return 0;
	return len == 2 && memcmp(first_name, "h2", 2) == 0 ? 2 : 1;
}

struct watch {
	struct dest_probe_result *r;
	int armed; /* handshake done: count records from now on */
};

static void on_msg(int write_p, int version, int content_type, const void *buf, size_t len, SSL *ssl, void *arg)
{
	(void)version;
	(void)ssl;
	struct watch *w = arg;
	const uint8_t *h = buf;
	if (write_p || content_type != SSL3_RT_HEADER_TYPE || len < 5 || !w->armed)
		return;
	if (h[0] == 23 && w->r->n < DEST_PROBE_MAX)
		w->r->len[w->r->n++] = (uint16_t)(5 + ((size_t)h[3] << 8 | h[4]));
}

static int64_t mono_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Waits for fd to be readable (or writable) until deadline: 1, 0 on
 * timeout, <0 on error. */
static int wait_fd(int fd, short ev, int64_t deadline)
{
	for (;;) {
		int64_t left = deadline - mono_ms();
		if (left <= 0)
			return 0;
		struct pollfd p = {.fd = fd, .events = ev};
		int rc = poll(&p, 1, (int)left);
		if (rc < 0 && errno == EINTR)
			continue;
		return rc < 0 ? -errno : rc;
	}
}

int dest_probe_measure(const union endpoint *dest, const char *server_name, int alpn_class, int timeout_ms,
                       int window_ms, struct dest_probe_result *out)
{
	static const uint8_t alpn_h1[] = "\x08http/1.1";
	static const uint8_t alpn_h2[] = "\x02h2\x08http/1.1";
	struct watch w = {.r = out};
	SSL_CTX *ctx = NULL;
	SSL *ssl = NULL;
	int fd = -1, rc = ERR_CRYPTO;
	int64_t deadline = mono_ms() + timeout_ms;
	memset(out, 0, sizeof(*out));

	fd = socket(dest->sa.sa_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return -errno;
	socklen_t sl = dest->sa.sa_family == AF_INET6 ? sizeof(struct sockaddr_in6) : sizeof(struct sockaddr_in);
	if (connect(fd, &dest->sa, sl) < 0 && errno != EINPROGRESS) {
		rc = -errno;
		goto out;
	}
	ctx = SSL_CTX_new(TLS_client_method());
	if (!ctx || SSL_CTX_set_min_proto_version(ctx, TLS1_3_VERSION) != 1)
		goto out;
	SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, NULL); /* only the shape matters */
	ssl = SSL_new(ctx);
	if (!ssl || SSL_set_fd(ssl, fd) != 1)
		goto out;
	if (server_name && *server_name && SSL_set_tlsext_host_name(ssl, server_name) != 1)
		goto out;
	if (alpn_class == 1 && SSL_set_alpn_protos(ssl, alpn_h1, sizeof(alpn_h1) - 1) != 0)
		goto out;
	if (alpn_class == 2 && SSL_set_alpn_protos(ssl, alpn_h2, sizeof(alpn_h2) - 1) != 0)
		goto out;
	SSL_set_msg_callback(ssl, on_msg);
	SSL_set_msg_callback_arg(ssl, &w);
	for (;;) {
		int r = SSL_connect(ssl);
		if (r == 1)
			break;
		int e = SSL_get_error(ssl, r);
		if (e != SSL_ERROR_WANT_READ && e != SSL_ERROR_WANT_WRITE)
			goto out;
		int wr = wait_fd(fd, e == SSL_ERROR_WANT_READ ? POLLIN : POLLOUT, deadline);
		if (wr <= 0) {
			rc = wr < 0 ? wr : -ETIMEDOUT;
			goto out;
		}
	}
	if (SSL_version(ssl) != TLS1_3_VERSION)
		goto out;
	/* count what dest sends after our Finished */
	w.armed = 1;
	int64_t until = mono_ms() + window_ms;
	for (;;) {
		uint8_t sink[4096];
		int r = SSL_read(ssl, sink, sizeof(sink));
		if (r > 0)
			continue;
		int e = SSL_get_error(ssl, r);
		if (e != SSL_ERROR_WANT_READ || wait_fd(fd, POLLIN, until) <= 0)
			break;
	}
	rc = 0;
out:
	SSL_free(ssl);
	SSL_CTX_free(ctx);
	if (fd >= 0)
		close(fd);
	return rc;
}
