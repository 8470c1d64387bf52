/* Feeds arbitrary bytes, as a PEM or DER CSR, to the CSR-signing path
 * (pki_sign_csr). It must either refuse with a negative code and nothing
 * issued, or issue a leaf that carries exactly the role and id the CA
 * assigned (never anything from the CSR) and verifies as that role. No call
 * may leave an OpenSSL error queued. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/err.h>
#include <openssl/x509.h>

#include "pki/pki.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Made once per process: three P-384 keys per input would leave no time to
 * explore the parser. libFuzzer's interface leaves no other place for them
 * than file-scope statics. */
static struct pki_ca *ca;
static struct pki_trust *trust;
static time_t born;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	born = time(NULL);
	if (pki_ca_create(born, &ca) < 0 || pki_trust_new(&trust) < 0 || pki_trust_add_root(trust, pki_ca_root(ca)) < 0)
		abort();
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct pki_leaf leaf = { .role = PKI_ROLE_NODE, .id = "fuzz-node" };
	enum pki_role role;
	char id[PKI_ID_MAX + 1], err[256];
	X509 *x = NULL;
	STACK_OF(X509) *chain;

	if (!ca)
		LLVMFuzzerInitialize(NULL, NULL);
	int rc = pki_sign_csr(ca, &leaf, data, size, born, &x);
	if (rc > 0 || (rc < 0 && x) || (rc == 0 && !x))
		abort();
	if (rc == 0) {
		if (pki_cert_role(x, &role, id) != 0 || role != PKI_ROLE_NODE || strcmp(id, "fuzz-node") != 0)
			abort();
		chain = sk_X509_new_null();
		if (!chain || !sk_X509_push(chain, pki_ca_intermediate(ca, PKI_CA_FLEET)))
			abort();
		if (pki_verify_peer(x, chain, trust, PKI_ROLE_NODE, "fuzz-node", born, err, sizeof(err)) != 0)
			abort();
		sk_X509_free(chain);
		X509_free(x);
	}
	if (ERR_peek_error() != 0)
		abort();
	return 0;
}
