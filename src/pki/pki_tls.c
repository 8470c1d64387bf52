/* Identities and TLS 1.3 contexts that enforce a peer role (pki.h). The only
 * file of the module that needs libssl. */
#include "pki/pki.h"

#include <errno.h>
#include <string.h>
#include <time.h>

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include "lib/log.h"
#include "lib/mem.h"
#include "pki/pki_int.h"

/* gRPC runs over HTTP/2: ALPN "h2", length-prefixed (RFC 7301 §3.1). */
static const unsigned char alpn_h2[] = { 2, 'h', '2' };

struct pki_identity {
	X509 *cert;
	STACK_OF(X509) *chain;
	EVP_PKEY *key;
	enum pki_role role;
	char id[PKI_ID_MAX + 1];
};

int pki_identity_new(X509 *cert, STACK_OF(X509) *chain, EVP_PKEY *key, struct pki_identity **out)
{
	struct pki_identity *self;
	int rc;

	*out = NULL;
	if (!cert || !key)
		return -EINVAL;
	self = mem_zalloc(sizeof(*self));
	if (!self)
		return -ENOMEM;
	rc = pki_cert_role(cert, &self->role, self->id);
	if (rc < 0)
		goto fail;
	if (X509_check_private_key(cert, key) != 1) {
		ERR_clear_error();
		rc = ERR_CRYPTO;
		goto fail;
	}
	self->chain = chain ? X509_chain_up_ref(chain) : sk_X509_new_null();
	if (!self->chain) {
		rc = pki_ossl_fail();
		goto fail;
	}
	X509_up_ref(cert);
	EVP_PKEY_up_ref(key);
	self->cert = cert;
	self->key = key;
	*out = self;
	return 0;
fail:
	mem_free(self);
	return rc;
}

void pki_identity_free(struct pki_identity *self)
{
	if (!self)
		return;
	X509_free(self->cert);
	sk_X509_pop_free(self->chain, X509_free);
	EVP_PKEY_free(self->key);
	mem_free(self);
}

int pki_identity_load(const char *cert_path, const char *key_path, struct pki_identity **out)
{
	X509 *cert = NULL;
	STACK_OF(X509) *chain = NULL;
	EVP_PKEY *key = NULL;
	int rc;

	*out = NULL;
	rc = pki_cert_load(cert_path, &cert, &chain);
	if (!rc)
		rc = pki_key_load(key_path, &key);
	if (!rc)
		rc = pki_identity_new(cert, chain, key, out);
	X509_free(cert);
	sk_X509_pop_free(chain, X509_free);
	EVP_PKEY_free(key);
	return rc;
}

enum pki_role pki_identity_role(const struct pki_identity *self, char id[PKI_ID_MAX + 1])
{
	if (id)
		memcpy(id, self->id, sizeof(self->id));
	return self->role;
}

static bool serves(enum pki_role role)
{
	return role == PKI_ROLE_NODE || role == PKI_ROLE_RELAY;
}

/* Replaces OpenSSL's chain verification for the context: the peer is
 * admitted only as pki_verify_peer says, at the time of the handshake. */
static int verify_peer_cb(X509_STORE_CTX *xs, void *arg)
{
	const struct pki_peer_policy *policy = arg;
	char err[256];
	int rc = pki_verify_peer(X509_STORE_CTX_get0_cert(xs), X509_STORE_CTX_get0_untrusted(xs), policy->trust,
				 policy->role, policy->id, time(NULL), err, sizeof(err));
	if (rc == 0)
		return 1;
	log_warn("tls: refused a peer presented as %s: %s", pki_role_name(policy->role), err);
	X509_STORE_CTX_set_error(xs, rc == -EKEYEXPIRED   ? X509_V_ERR_CERT_HAS_EXPIRED
				     : rc == -EKEYREVOKED ? X509_V_ERR_CERT_REVOKED
							  : X509_V_ERR_APPLICATION_VERIFICATION);
	return 0;
}

static int alpn_select(SSL *ssl, const unsigned char **out, unsigned char *outlen, const unsigned char *in,
		       unsigned int inlen, void *arg)
{
	unsigned char *sel = NULL;
	unsigned char sellen = 0;
	if (SSL_select_next_proto(&sel, &sellen, alpn_h2, sizeof(alpn_h2), in, inlen) != OPENSSL_NPN_NEGOTIATED)
		return SSL_TLSEXT_ERR_ALERT_FATAL;
	*out = sel;
	*outlen = sellen;
	return SSL_TLSEXT_ERR_OK;
}

static int ctx_new(const struct pki_identity *self, const struct pki_peer_policy *policy, bool server, SSL_CTX **out)
{
	SSL_CTX *ctx;
	int rc = 0;

	*out = NULL;
	if (!self || !policy || !policy->trust || !pki_role_name(policy->role) ||
	    (policy->id && !pki_id_valid(policy->id)))
		return -EINVAL;
	/* A server presents a serverAuth role and admits a clientAuth one,
	 * and the other way round: anything else could never verify. */
	if (serves(self->role) != server || serves(policy->role) == server)
		return -EINVAL;
	ctx = SSL_CTX_new(server ? TLS_server_method() : TLS_client_method());
	if (!ctx)
		return pki_ossl_fail();
	if (!SSL_CTX_set_min_proto_version(ctx, TLS1_3_VERSION) || !SSL_CTX_set_max_proto_version(ctx, TLS1_3_VERSION) ||
	    !SSL_CTX_set1_groups_list(ctx, "X25519:P-256:P-384") || SSL_CTX_use_certificate(ctx, self->cert) != 1 ||
	    SSL_CTX_use_PrivateKey(ctx, self->key) != 1 || !SSL_CTX_set1_chain(ctx, self->chain) ||
	    SSL_CTX_check_private_key(ctx) != 1) {
		rc = pki_ossl_fail();
		goto out;
	}
	/* No resumption: a resumed session skips certificate verification,
	 * so a revocation would not reach connections that resume. */
	SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
	SSL_CTX_set_options(ctx, SSL_OP_NO_TICKET);
	if (server) {
		if (!SSL_CTX_set_num_tickets(ctx, 0)) {
			rc = pki_ossl_fail();
			goto out;
		}
		SSL_CTX_set_alpn_select_cb(ctx, alpn_select, NULL);
		SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, NULL);
	} else {
		/* set_alpn_protos returns 0 on success. */
		if (SSL_CTX_set_alpn_protos(ctx, alpn_h2, sizeof(alpn_h2)) != 0) {
			rc = pki_ossl_fail();
			goto out;
		}
		SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
	}
	SSL_CTX_set_cert_verify_callback(ctx, verify_peer_cb, (void *)policy);
out:
	if (rc < 0)
		SSL_CTX_free(ctx);
	else
		*out = ctx;
	return rc;
}

int pki_ssl_ctx_server(const struct pki_identity *self, const struct pki_peer_policy *policy, SSL_CTX **out)
{
	return ctx_new(self, policy, true, out);
}

int pki_ssl_ctx_client(const struct pki_identity *self, const struct pki_peer_policy *policy, SSL_CTX **out)
{
	return ctx_new(self, policy, false, out);
}
