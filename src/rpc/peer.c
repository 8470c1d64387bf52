#include "rpc/peer.h"

#include <errno.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <stdatomic.h>

#include "lib/addr.h"
#include "lib/mem.h"

struct rpc_peer {
	atomic_int refs;
	X509 *cert;
	STACK_OF(X509) *chain;
	union endpoint addr;
};

int rpc_peer_new(struct rpc_peer **out, SSL *ssl, const union endpoint *addr)
{
	struct rpc_peer *p;
	STACK_OF(X509) *chain;

	*out = NULL;
	p = mem_zalloc(sizeof(*p));
	if (!p)
		return -ENOMEM;
	atomic_init(&p->refs, 1);
	if (addr)
		p->addr = *addr;
	p->cert = SSL_get1_peer_certificate(ssl);
	if (p->cert && SSL_get_verify_result(ssl) == X509_V_OK) {
		chain = SSL_get0_verified_chain(ssl);
		if (chain) {
			p->chain = X509_chain_up_ref(chain);
			if (!p->chain) {
				rpc_peer_put(p);
				return -ENOMEM;
			}
		}
	} else if (p->cert) {
		/* Only verified certificates are identities. */
		X509_free(p->cert);
		p->cert = NULL;
	}
	*out = p;
	return 0;
}

struct rpc_peer *rpc_peer_get(struct rpc_peer *p)
{
	atomic_fetch_add_explicit(&p->refs, 1, memory_order_relaxed);
	return p;
}

void rpc_peer_put(struct rpc_peer *p)
{
	if (!p || atomic_fetch_sub_explicit(&p->refs, 1, memory_order_acq_rel) != 1)
		return;
	X509_free(p->cert);
	if (p->chain)
		sk_X509_pop_free(p->chain, X509_free);
	mem_free(p);
}

X509 *rpc_peer_cert(const struct rpc_peer *p)
{
	return p->cert;
}

STACK_OF(X509) *rpc_peer_chain(const struct rpc_peer *p)
{
	return p->chain;
}

const union endpoint *rpc_peer_addr(const struct rpc_peer *p)
{
	return &p->addr;
}
