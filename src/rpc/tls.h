/* TLS for gRPC (DESIGN.md §5.1, platform spec §5.2): TLS 1.3 with mutual
 * authentication and ALPN "h2", on OpenSSL 3. The chain is verified by
 * OpenSSL against the configured CA; then, still inside the handshake, the
 * caller's policy callback sees the leaf and the verified chain and may
 * refuse (the certificate-role policy lives with its owner, not here). A
 * refusal fails the handshake with an alert, so the peer learns at once.
 *
 * Thin I/O wrappers over non-blocking sockets are here too, so the server
 * and client share one reading of SSL_get_error. */
#ifndef PHAROS_RPC_TLS_H
#define PHAROS_RPC_TLS_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "lib/err.h"

struct ssl_ctx_st;
struct ssl_st;
struct x509_st;
struct stack_st_X509;

/* Policy: leaf is the peer's certificate (X509 *), chain (STACK_OF(X509) *)
 * the verified chain, leaf first. Return 0 to accept, negative to refuse.
 * Runs on the rpc loop thread during the handshake: must not block. */
typedef int (*rpc_tls_verify_fn)(void *ctx, struct x509_st *leaf, struct stack_st_X509 *chain);

struct rpc_tls_opts {
	/* PEM files: our certificate (then any intermediates), our key, and the
	 * CA certificates a peer's chain must end in. */
	const char *cert;
	const char *key;
	const char *ca;
	/* Or a context the caller configured: it is used instead of the files
	 * (we take a reference). We add ALPN and, when verify is set, our
	 * verification hook; everything else (versions, CA, client-certificate
	 * mode) is the caller's. */
	struct ssl_ctx_st *ssl_ctx;
	rpc_tls_verify_fn verify; /* optional extra policy */
	void *verify_ctx;
	bool client_cert_optional; /* server: accept a client without a certificate */
	bool allow_tls12;          /* TLS 1.2 as the minimum instead of 1.3 */
};

/* Where the verification hook finds the policy; lives as long as the context. */
struct rpc_tls_hook {
	rpc_tls_verify_fn fn;
	void *ctx;
};

/* Builds (or adopts) a context for a server or a client. hook must outlive
 * it. 0, -EINVAL (no certificate/key/CA given), or ERR_CRYPTO (OpenSSL
 * refused a file; the reason is logged). */
int rpc_tls_ctx_new(struct ssl_ctx_st **out, bool server, const struct rpc_tls_opts *o,
                    struct rpc_tls_hook *hook) WUR;
void rpc_tls_ctx_free(struct ssl_ctx_st *ctx);

/* One connection over fd. A client checks the server's certificate against
 * server_name (a DNS name, or an IP literal matched against IP SANs) and
 * sends it as SNI unless it is an IP. 0, -ENOMEM or ERR_CRYPTO. */
int rpc_tls_ssl_new(struct ssl_st **out, struct ssl_ctx_st *ctx, int fd, bool server, const char *server_name) WUR;

/* Non-blocking steps. Each returns >= 0 on progress, -EAGAIN when it must
 * wait (then *want_write says whether for writability), -EPIPE when the
 * peer closed cleanly, ERR_AUTH when verification failed, or ERR_CRYPTO. */
int rpc_tls_handshake(struct ssl_st *ssl, bool *want_write) WUR;
ssize_t rpc_tls_read(struct ssl_st *ssl, void *buf, size_t cap, bool *want_write) WUR;
ssize_t rpc_tls_write(struct ssl_st *ssl, const void *buf, size_t len, bool *want_write) WUR;
/* ALPN settled on "h2". */
bool rpc_tls_alpn_h2(const struct ssl_st *ssl);
/* Takes the thread's OpenSSL error queue into a short text (and clears it). */
void rpc_tls_error_text(char *out, size_t cap);

#endif
