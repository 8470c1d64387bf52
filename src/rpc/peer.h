/* Who is on the other end of one TLS connection: the certificate it
 * presented and the chain OpenSSL verified it with, and its address.
 * Reference-counted and immutable once made, so handlers on worker threads
 * can keep it after the connection has gone. */
#ifndef PHAROS_RPC_PEER_H
#define PHAROS_RPC_PEER_H

#include "lib/err.h"

struct rpc_peer;
struct ssl_st;
struct x509_st;
struct stack_st_X509;
union endpoint;

/* From an established connection; addr may be NULL. 0 or -ENOMEM. */
int rpc_peer_new(struct rpc_peer **out, struct ssl_st *ssl, const union endpoint *addr) WUR;
struct rpc_peer *rpc_peer_get(struct rpc_peer *p);
/* Drops a reference; NULL is a no-op. */
void rpc_peer_put(struct rpc_peer *p);

/* The verified leaf (X509 *), or NULL when the peer sent none (a server
 * that made client certificates optional). Owned by the peer. */
struct x509_st *rpc_peer_cert(const struct rpc_peer *p);
/* The verified chain, leaf first, trust anchor last (STACK_OF(X509) *), or
 * NULL with the leaf. Owned by the peer. */
struct stack_st_X509 *rpc_peer_chain(const struct rpc_peer *p);
/* The peer's address (family 0 if unknown). */
const union endpoint *rpc_peer_addr(const struct rpc_peer *p);

#endif
