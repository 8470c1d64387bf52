#include "rpc/tls.h"

#include <errno.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <stdio.h>
#include <string.h>

#include "lib/addr.h"
#include "lib/log.h"

static const unsigned char alpn_h2[] = { 2, 'h', '2' };

void rpc_tls_error_text(char *out, size_t cap)
{
	unsigned long e, last = 0;

	while ((e = ERR_get_error()) != 0)
		last = e;
	if (!cap)
		return;
	if (!last) {
		snprintf(out, cap, "unknown TLS error");
		return;
	}
	ERR_error_string_n(last, out, cap);
}

static int cert_verify(X509_STORE_CTX *x, void *arg)
{
	struct rpc_tls_hook *h = arg;
	int ok = X509_verify_cert(x);

	if (ok <= 0 || !h || !h->fn)
		return ok;
	if (h->fn(h->ctx, X509_STORE_CTX_get0_cert(x), X509_STORE_CTX_get0_chain(x)) < 0) {
		X509_STORE_CTX_set_error(x, X509_V_ERR_APPLICATION_VERIFICATION);
		return 0;
	}
	return 1;
}

static int alpn_select(SSL *ssl, const unsigned char **out, unsigned char *outlen, const unsigned char *in,
                       unsigned int inlen, void *arg)
{
	unsigned char *sel = NULL;

	if (SSL_select_next_proto(&sel, outlen, alpn_h2, sizeof(alpn_h2), in, inlen) != OPENSSL_NPN_NEGOTIATED)
		return SSL_TLSEXT_ERR_ALERT_FATAL; /* gRPC is HTTP/2 only: no_application_protocol */
	*out = sel;
	return SSL_TLSEXT_ERR_OK;
}

static int load_files(SSL_CTX *ctx, bool server, const struct rpc_tls_opts *o)
{
	char why[160];

	if (!o->cert || !o->key || !o->ca) {
		log_error("rpc tls: certificate, key and CA files are all required");
		return -EINVAL;
	}
	if (SSL_CTX_use_certificate_chain_file(ctx, o->cert) != 1) {
		rpc_tls_error_text(why, sizeof(why));
		log_error("rpc tls: certificate \"%s\": %s", o->cert, why);
		return ERR_CRYPTO;
	}
	if (SSL_CTX_use_PrivateKey_file(ctx, o->key, SSL_FILETYPE_PEM) != 1 || SSL_CTX_check_private_key(ctx) != 1) {
		rpc_tls_error_text(why, sizeof(why));
		log_error("rpc tls: key \"%s\": %s", o->key, why);
		return ERR_CRYPTO;
	}
	if (SSL_CTX_load_verify_locations(ctx, o->ca, NULL) != 1) {
		rpc_tls_error_text(why, sizeof(why));
		log_error("rpc tls: CA \"%s\": %s", o->ca, why);
		return ERR_CRYPTO;
	}
	if (server) {
		/* Name our CAs in the CertificateRequest so clients pick the right certificate. */
		STACK_OF(X509_NAME) *names = SSL_load_client_CA_file(o->ca);
		if (names)
			SSL_CTX_set_client_CA_list(ctx, names);
		ERR_clear_error();
	}
	if (SSL_CTX_set_min_proto_version(ctx, o->allow_tls12 ? TLS1_2_VERSION : TLS1_3_VERSION) != 1)
		return ERR_CRYPTO;
	int mode = SSL_VERIFY_PEER;
	if (server && !o->client_cert_optional)
		mode |= SSL_VERIFY_FAIL_IF_NO_PEER_CERT;
	SSL_CTX_set_verify(ctx, mode, NULL);
	return 0;
}

int rpc_tls_ctx_new(SSL_CTX **out, bool server, const struct rpc_tls_opts *o, struct rpc_tls_hook *hook)
{
	SSL_CTX *ctx;
	int rc;

	*out = NULL;
	if (o->ssl_ctx) {
		if (SSL_CTX_up_ref(o->ssl_ctx) != 1)
			return ERR_CRYPTO;
		ctx = o->ssl_ctx;
	} else {
		ctx = SSL_CTX_new(server ? TLS_server_method() : TLS_client_method());
		if (!ctx)
			return -ENOMEM;
		rc = load_files(ctx, server, o);
		if (rc < 0) {
			SSL_CTX_free(ctx);
			return rc;
		}
	}
	if (hook) {
		hook->fn = o->verify;
		hook->ctx = o->verify_ctx;
		if (o->verify || !o->ssl_ctx)
			SSL_CTX_set_cert_verify_callback(ctx, cert_verify, hook);
	}
	if (server) {
		SSL_CTX_set_alpn_select_cb(ctx, alpn_select, NULL);
		/* Connections are long-lived and never resumed: skip the tickets. */
		SSL_CTX_set_num_tickets(ctx, 0);
	} else if (SSL_CTX_set_alpn_protos(ctx, alpn_h2, sizeof(alpn_h2)) != 0) {
		SSL_CTX_free(ctx);
		return ERR_CRYPTO;
	}
	SSL_CTX_set_mode(ctx, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
	/* Read whole records (and what follows) per read(2), not header then body. */
	SSL_CTX_set_read_ahead(ctx, 1);
	*out = ctx;
	return 0;
}

void rpc_tls_ctx_free(SSL_CTX *ctx)
{
	SSL_CTX_free(ctx);
}

int rpc_tls_ssl_new(SSL **out, SSL_CTX *ctx, int fd, bool server, const char *server_name)
{
	SSL *ssl;
	struct addr ip;

	*out = NULL;
	ssl = SSL_new(ctx);
	if (!ssl)
		return -ENOMEM;
	if (SSL_set_fd(ssl, fd) != 1)
		goto fail;
	if (server) {
		SSL_set_accept_state(ssl);
	} else {
		SSL_set_connect_state(ssl);
		if (server_name && *server_name) {
			if (addr_parse(server_name, &ip) == 0) {
				if (X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl), server_name) != 1)
					goto fail;
			} else {
				SSL_set_hostflags(ssl, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
				if (SSL_set1_host(ssl, server_name) != 1 ||
				    SSL_set_tlsext_host_name(ssl, server_name) != 1)
					goto fail;
			}
		}
	}
	*out = ssl;
	return 0;
fail:
	SSL_free(ssl);
	return ERR_CRYPTO;
}

/* Maps the outcome of an SSL call that returned r. */
static int io_result(SSL *ssl, int r, bool *want_write)
{
	int e = SSL_get_error(ssl, r);

	*want_write = false;
	switch (e) {
	case SSL_ERROR_WANT_READ:
		return -EAGAIN;
	case SSL_ERROR_WANT_WRITE:
		*want_write = true;
		return -EAGAIN;
	case SSL_ERROR_ZERO_RETURN:
		return -EPIPE;
	case SSL_ERROR_SYSCALL:
		return errno ? -errno : -EPIPE;
	default:
		if (SSL_get_verify_result(ssl) != X509_V_OK)
			return ERR_AUTH;
		return ERR_CRYPTO;
	}
}

int rpc_tls_handshake(SSL *ssl, bool *want_write)
{
	int r;

	ERR_clear_error();
	errno = 0;
	r = SSL_do_handshake(ssl);
	if (r == 1) {
		*want_write = false;
		return 0;
	}
	return io_result(ssl, r, want_write);
}

ssize_t rpc_tls_read(SSL *ssl, void *buf, size_t cap, bool *want_write)
{
	size_t n = 0;

	ERR_clear_error();
	errno = 0;
	if (SSL_read_ex(ssl, buf, cap, &n) == 1) {
		*want_write = false;
		return (ssize_t)n;
	}
	return io_result(ssl, 0, want_write);
}

ssize_t rpc_tls_write(SSL *ssl, const void *buf, size_t len, bool *want_write)
{
	size_t n = 0;

	ERR_clear_error();
	errno = 0;
	if (SSL_write_ex(ssl, buf, len, &n) == 1) {
		*want_write = false;
		return (ssize_t)n;
	}
	return io_result(ssl, 0, want_write);
}

bool rpc_tls_alpn_h2(const SSL *ssl)
{
	const unsigned char *p = NULL;
	unsigned int n = 0;

	SSL_get0_alpn_selected(ssl, &p, &n);
	return n == 2 && !memcmp(p, "h2", 2);
}
