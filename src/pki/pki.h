/* The fleet's certificate authority, and the role policy every mTLS endpoint
 * enforces (DESIGN.md §4, "Certificate roles"). OpenSSL 3 underneath; this is
 * the module's one public header, implemented by pki.c (names, keys, files,
 * the role marker), pki_ca.c (issuing), pki_verify.c (trust, revocation,
 * verification) and pki_tls.c (TLS 1.3 contexts).
 *
 * Hierarchy (all ECDSA):
 *   "PharosVPN Root CA"    self-signed, P-384, 10 years, CA pathlen 1
 *   "PharosVPN Fleet CA"   root-signed, P-384, 5 years, CA pathlen 0:
 *                          controller, node and relay leaves
 *   "PharosVPN Device CA"  root-signed, P-384, 5 years, CA pathlen 0:
 *                          device leaves
 *   leaves                 1 year, P-256 (a CSR may bring P-384), random
 *                          128-bit serial, subject O=PharosVPN, CN=<id>
 *
 * Role marker. A leaf carries, in its subjectAltName, exactly one URI
 * "urn:pharos:role:<role>" (role is controller, node, relay or device) and
 * exactly one URI "urn:pharos:id:<id>" (id: 1..PKI_ID_MAX of [A-Za-z0-9._-]),
 * compared byte for byte; plus an extendedKeyUsage holding exactly the TLS
 * side the role plays: clientAuth for controller and device (they only
 * dial), serverAuth for node and relay (they only listen). A leaf verifies as
 * a role only if its marker names that role, its EKU is that role's, and it
 * chains to a trusted root through that role's intermediate: the Fleet CA
 * for controller, node and relay, the Device CA for device. Intermediates are
 * told apart by their exact subject CN, which leaf ids cannot spell.
 *
 * Errors: 0 or a negative code. -EINVAL for a caller's bad argument, -ENOMEM,
 * negative errno from file I/O, ERR_PARSE for undecodable input, ERR_TOOBIG
 * past a size cap, ERR_CRYPTO when OpenSSL fails or a key is not one we
 * accept, ERR_EXISTS when a CA would overwrite one, and from verification
 * ERR_AUTH (refused), -EKEYEXPIRED (outside its validity) or -EKEYREVOKED.
 * Our structures are allocated through lib/mem; OpenSSL objects through
 * OpenSSL's own allocator.
 *
 * Ownership: functions taking X509/EVP_PKEY/X509_CRL arguments borrow them
 * and take their own references if they keep them; *out objects belong to
 * the caller (X509_free, EVP_PKEY_free, X509_CRL_free, SSL_CTX_free).
 *
 * Threading: no shared state. A pki_trust may be used for verification from
 * several threads at once, but must not be changed meanwhile. */
#ifndef PHAROS_PKI_PKI_H
#define PHAROS_PKI_PKI_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include <openssl/types.h>

#include "lib/err.h"

/* STACK_OF(X509), declared here at file scope so prototypes share it. */
struct stack_st_X509;

enum pki_role {
	PKI_ROLE_NONE = 0,
	PKI_ROLE_CONTROLLER, /* cox's client certificate (Fleet CA, clientAuth) */
	PKI_ROLE_NODE,       /* a node's control port (Fleet CA, serverAuth) */
	PKI_ROLE_RELAY,      /* a relay's client door and tunnel port (Fleet CA, serverAuth) */
	PKI_ROLE_DEVICE,     /* an end-user device (Device CA, clientAuth) */
};

enum pki_ca_kind {
	PKI_CA_NONE = 0,
	PKI_CA_FLEET,  /* "PharosVPN Fleet CA" */
	PKI_CA_DEVICE, /* "PharosVPN Device CA" */
};

enum pki_curve {
	PKI_CURVE_NONE = 0,
	PKI_CURVE_P256,
	PKI_CURVE_P384,
};

#define PKI_ROLE_URI_PREFIX "urn:pharos:role:"
#define PKI_ID_URI_PREFIX   "urn:pharos:id:"
#define PKI_ID_MAX          64      /* entity id, without the NUL */
#define PKI_SERIAL_MAX      20      /* RFC 5280 §4.1.2.2 */
#define PKI_SERIAL_HEX_LEN  (2 * PKI_SERIAL_MAX + 1)
#define PKI_FINGERPRINT_LEN 32      /* SHA-256 of the DER certificate */
#define PKI_CSR_MAX         16384   /* a CSR, PEM or DER */
#define PKI_FILE_MAX        (1 << 20) /* any PEM file we read */
#define PKI_REVOKED_MAX     (1 << 18) /* serials one pki_trust holds, or one CRL lists */
#define PKI_SAN_MAX         16      /* DNS names, and IP addresses, per leaf */

#define PKI_ROOT_DAYS         3650
#define PKI_INTERMEDIATE_DAYS 1825
#define PKI_LEAF_DAYS         365
#define PKI_BACKDATE_SECONDS  300 /* notBefore = now - 5 min, for clock skew */

/* ---- names ------------------------------------------------------------ */

/* "controller", "node", "relay", "device"; NULL for anything else. */
const char *pki_role_name(enum pki_role role);
/* The inverse of pki_role_name: 0 or -EINVAL (*out = PKI_ROLE_NONE). */
int pki_role_parse(const char *s, enum pki_role *out) WUR;
/* The intermediate that issues a role: PKI_CA_DEVICE for devices,
 * PKI_CA_FLEET for the others, PKI_CA_NONE for an invalid role. */
enum pki_ca_kind pki_role_ca(enum pki_role role);
/* "fleet", "device"; NULL otherwise. */
const char *pki_ca_name(enum pki_ca_kind kind);
int pki_ca_parse(const char *s, enum pki_ca_kind *out) WUR;
/* 1..PKI_ID_MAX characters of [A-Za-z0-9._-]. */
bool pki_id_valid(const char *id);

/* A certificate serial number: its magnitude, big-endian, no leading zero
 * bytes (len 0 is the serial 0). */
struct pki_serial {
	size_t len;
	uint8_t bytes[PKI_SERIAL_MAX];
};
/* Lower-case hex of the magnitude ("0" for zero): 0 or -ENOSPC. */
int pki_serial_to_hex(const struct pki_serial *s, char *out, size_t cap) WUR;
/* 1..40 hex digits, either case, leading zeros allowed: 0 or -EINVAL. */
int pki_serial_from_hex(const char *s, struct pki_serial *out) WUR;
bool pki_serial_equal(const struct pki_serial *a, const struct pki_serial *b);

/* ---- keys ------------------------------------------------------------- */

/* A fresh EC key on a NIST curve. */
int pki_key_generate(enum pki_curve curve, EVP_PKEY **out) WUR;
/* 0 if key is an EC key on P-256 or P-384 with a named curve (not explicit
 * parameters) and a valid public point, setting *curve (may be NULL);
 * ERR_CRYPTO otherwise. */
int pki_key_check(EVP_PKEY *key, enum pki_curve *curve) WUR;
/* Writes the private key as unencrypted PKCS#8 PEM, mode 0600, atomically;
 * the PEM text is wiped from memory after. */
int pki_key_save(const char *path, EVP_PKEY *key) WUR;
/* Reads a PEM private key that pki_key_check accepts. Refuses (-EPERM) a
 * file that group or others may read, as ssh does, and (ERR_PARSE) an
 * encrypted key rather than prompting for a passphrase. */
int pki_key_load(const char *path, EVP_PKEY **out) WUR;

/* ---- certificates ----------------------------------------------------- */

/* Writes cert then each of chain (may be NULL) as PEM, mode 0644. */
int pki_cert_save(const char *path, X509 *cert, STACK_OF(X509) *chain) WUR;
/* Reads a PEM file of one or more certificates: the first goes to *cert,
 * the others to *chain (pass chain NULL to refuse a file with more than one:
 * ERR_PARSE). ERR_PARSE for no certificate or a malformed one; text and
 * other PEM blocks around them are skipped, as OpenSSL does. */
int pki_cert_load(const char *path, X509 **cert, STACK_OF(X509) **chain) WUR;
/* The same from memory. */
int pki_cert_from_pem(const uint8_t *pem, size_t len, X509 **cert, STACK_OF(X509) **chain) WUR;
/* PEM text of cert and chain (may be NULL) in a new buffer (mem_free), with
 * a NUL after the data that *len does not count. */
int pki_cert_to_pem(X509 *cert, STACK_OF(X509) *chain, uint8_t **pem, size_t *len) WUR;

/* The role marker of a leaf (see the top of this file), without checking
 * anything else: 0, or ERR_PARSE if the certificate does not carry exactly
 * one valid role URI and exactly one valid id URI. id may be NULL. */
int pki_cert_role(const X509 *cert, enum pki_role *role, char id[PKI_ID_MAX + 1]) WUR;
/* 0, or ERR_PARSE for a negative or over-long serial. */
int pki_cert_serial(const X509 *cert, struct pki_serial *out) WUR;
/* SHA-256 of the DER encoding: the root fingerprint pinned in enrollment
 * tickets, the device fingerprint a relay forwards. */
int pki_cert_fingerprint(const X509 *cert, uint8_t out[PKI_FINGERPRINT_LEN]) WUR;

/* ---- the certificate authority (controller only) ------------------------ */

/* Root, Fleet CA and Device CA, certificates and keys. */
struct pki_ca;

/* Generates a whole hierarchy in memory, valid from now - 5 min. */
int pki_ca_create(time_t now, struct pki_ca **out) WUR;
/* Writes it into dir (created 0700 if missing) as root.{crt,key},
 * fleet-ca.{crt,key}, device-ca.{crt,key}; keys 0600, certificates 0644.
 * ERR_EXISTS, touching nothing, if dir already holds root.key. */
int pki_ca_save(const struct pki_ca *ca, const char *dir) WUR;
/* pki_ca_create then pki_ca_save; *out may be NULL. */
int pki_ca_init(const char *dir, time_t now, struct pki_ca **out) WUR;
/* Loads what pki_ca_save wrote and checks it: each key matches its
 * certificate, both intermediates are signed by the root and carry their
 * names. ERR_CRYPTO if not. */
int pki_ca_load(const char *dir, struct pki_ca **out) WUR;
/* Frees it; the keys are wiped by OpenSSL. NULL is a no-op. */
void pki_ca_free(struct pki_ca *ca);
/* Borrowed pointers, valid until pki_ca_free. */
X509 *pki_ca_root(const struct pki_ca *ca);
X509 *pki_ca_intermediate(const struct pki_ca *ca, enum pki_ca_kind kind);

/* What the controller decides about a leaf; nothing of it comes from a CSR. */
struct pki_leaf {
	enum pki_role role;       /* required; also picks the issuing CA */
	const char *id;           /* required: pki_id_valid, becomes CN and the id URI */
	const char *const *dns;   /* extra DNS SANs (e.g. the name cox dials), n_dns <= PKI_SAN_MAX */
	size_t n_dns;
	const char *const *ips;   /* extra IP SANs, numeric IPv4/IPv6 text, n_ips <= PKI_SAN_MAX */
	size_t n_ips;
	time_t not_before;        /* 0: now - PKI_BACKDATE_SECONDS */
	time_t not_after;         /* 0: not_before + PKI_LEAF_DAYS days */
};

/* Issues a leaf for subject_key (its public half is used), signed by the
 * role's intermediate. -EINVAL for an invalid role, id or SAN; ERR_RANGE if
 * not_after is not after not_before or outlives the intermediate; ERR_CRYPTO
 * if the key is not P-256/P-384. */
int pki_issue(const struct pki_ca *ca, const struct pki_leaf *leaf, EVP_PKEY *subject_key, time_t now,
	      X509 **out) WUR;
/* Issues a leaf for the key of a CSR (PEM or DER, at most PKI_CSR_MAX bytes:
 * ERR_TOOBIG). The CSR's subject, extensions and attributes are ignored:
 * everything comes from leaf. ERR_PARSE if it is not exactly one CSR (blanks aside),
 * ERR_AUTH if its self-signature does not verify, ERR_CRYPTO if its key is not
 * a P-256/P-384 EC key. */
int pki_sign_csr(const struct pki_ca *ca, const struct pki_leaf *leaf, const uint8_t *csr, size_t len,
		 time_t now, X509 **out) WUR;
/* A PEM CSR for key with subject CN=cn (what `pharos-node gen-csr` prints),
 * in a new buffer (mem_free) with a NUL after the data. */
int pki_csr_new(EVP_PKEY *key, const char *cn, uint8_t **pem, size_t *len) WUR;

/* A CRL (v2, with crlNumber = now and an authorityKeyIdentifier) signed by
 * one intermediate, listing n serials (n <= PKI_REVOKED_MAX), valid from now
 * to next_update. */
int pki_crl_issue(const struct pki_ca *ca, enum pki_ca_kind kind, const struct pki_serial *revoked, size_t n,
		  time_t now, time_t next_update, X509_CRL **out) WUR;
/* A "signed list" file: the CRL then its issuer's certificate, PEM, 0644. */
int pki_crl_save(const char *path, X509_CRL *crl, X509 *issuer) WUR;
/* Reads such a file: exactly one CRL and one certificate, else ERR_PARSE. */
int pki_crl_load(const char *path, X509_CRL **crl, X509 **issuer) WUR;

/* ---- trust and verification (every endpoint) ---------------------------- */

/* What a verifier trusts: root certificates, the newest CRL of each
 * intermediate, and a plain set of revoked serials. */
struct pki_trust;

int pki_trust_new(struct pki_trust **out) WUR;
void pki_trust_free(struct pki_trust *t);
/* Adds a self-signed CA certificate as a trust anchor; ERR_CRYPTO if it is
 * not one or its key is not P-256/P-384. */
int pki_trust_add_root(struct pki_trust *t, X509 *root) WUR;
/* Adds every certificate of a PEM file (normally just root.crt). */
int pki_trust_load_roots(struct pki_trust *t, const char *path) WUR;
/* Adds a CRL signed by issuer, which must be one of our intermediates and
 * chain to a root already added (ERR_AUTH otherwise; the CRL's signature is
 * checked too). Replaces an older CRL of the same intermediate; ERR_REPLAY if
 * the one held is newer (a replayed list cannot undo a revocation). A CRL's
 * nextUpdate is not enforced: an old list still revokes, and never locks a
 * node away from the controller that would bring the new one. */
int pki_trust_add_crl(struct pki_trust *t, X509_CRL *crl, X509 *issuer) WUR;
/* pki_crl_load then pki_trust_add_crl. */
int pki_trust_load_crl(struct pki_trust *t, const char *path) WUR;
/* Refuses any certificate with this serial, whoever issued it (our serials
 * are random 128-bit, so they do not collide). ERR_TOOBIG past
 * PKI_REVOKED_MAX; adding a serial twice is fine. */
int pki_trust_revoke_serial(struct pki_trust *t, const struct pki_serial *serial) WUR;
/* Whether the serial set holds it (CRLs are not consulted). */
bool pki_trust_serial_revoked(const struct pki_trust *t, const struct pki_serial *serial);

/* Verifies a peer's leaf for one role, at time now:
 *   - it chains, with the certificates in untrusted (may be NULL), to a root
 *     of t through exactly one intermediate, the one that issues role
 *     (pki_role_ca), with every certificate valid at now, X.509 strict;
 *   - it carries exactly the role marker for role (and, if id is not NULL,
 *     that id), the role's EKU and no other, is not a CA, and has a
 *     P-256/P-384 key;
 *   - its serial is neither in t's serial set nor in the CRL t holds for
 *     that intermediate.
 * 0, ERR_AUTH (refused), -EKEYEXPIRED (expired or not yet valid),
 * -EKEYREVOKED, -EINVAL or -ENOMEM. err (if errlen > 0) always says why in
 * one line, with no secret in it. */
int pki_verify_peer(X509 *leaf, STACK_OF(X509) *untrusted, const struct pki_trust *t, enum pki_role role,
		    const char *id, time_t now, char *err, size_t errlen) WUR;

/* ---- TLS (libssl) --------------------------------------------------------- */

/* Our own certificate, its chain (the intermediate) and its key. */
struct pki_identity;

/* Takes its own references; ERR_CRYPTO if key does not match cert, ERR_PARSE
 * if cert carries no role marker. */
int pki_identity_new(X509 *cert, STACK_OF(X509) *chain, EVP_PKEY *key, struct pki_identity **out) WUR;
/* cert_path: leaf then intermediate, PEM (what pharos-pki writes as
 * PREFIX.crt); key_path: as pki_key_load. */
int pki_identity_load(const char *cert_path, const char *key_path, struct pki_identity **out) WUR;
void pki_identity_free(struct pki_identity *id);
/* The identity's role and id (id may be NULL). */
enum pki_role pki_identity_role(const struct pki_identity *self, char id[PKI_ID_MAX + 1]);

/* The peer a TLS context accepts. The context's verify callback reads this
 * at every handshake, so it (and trust, and id) must outlive the context. */
struct pki_peer_policy {
	const struct pki_trust *trust;
	enum pki_role role; /* the role the peer must carry */
	const char *id;     /* NULL, or the exact id it must carry */
};

/* TLS 1.3-only contexts presenting self and admitting only a peer that
 * pki_verify_peer accepts for policy (at the wall-clock time of the
 * handshake). ALPN "h2" (gRPC): the client offers it; the server selects it
 * and refuses a client that offers only other protocols. No session
 * resumption, so every connection is verified against the current trust.
 * The server requires a client certificate. self must suit the side: a
 * serverAuth role (node, relay) for a server, a clientAuth role (controller,
 * device) for a client; -EINVAL otherwise. Refusals are logged with their
 * reason at warning level. */
int pki_ssl_ctx_server(const struct pki_identity *self, const struct pki_peer_policy *policy, SSL_CTX **out) WUR;
int pki_ssl_ctx_client(const struct pki_identity *self, const struct pki_peer_policy *policy, SSL_CTX **out) WUR;

#endif
