/* Helpers shared by the pki_*.c files; not part of the module's interface. */
#ifndef PHAROS_PKI_PKI_INT_H
#define PHAROS_PKI_PKI_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <openssl/types.h>

#include "pki/pki.h"

#define PKI_ORG       "PharosVPN"
#define PKI_ROOT_CN   "PharosVPN Root CA"
#define PKI_FLEET_CN  "PharosVPN Fleet CA"
#define PKI_DEVICE_CN "PharosVPN Device CA"

/* The code for an OpenSSL failure that has just happened (-ENOMEM if OpenSSL
 * ran out of memory, ERR_CRYPTO otherwise). Clears the thread's OpenSSL
 * error queue, so a stale entry never explains a later failure. */
int pki_ossl_fail(void) WUR;

/* The subject CN an intermediate carries; NULL for PKI_CA_NONE. */
const char *pki_ca_cn(enum pki_ca_kind kind);
/* Whether name holds exactly one CN and it is exactly cn. */
bool pki_name_has_cn(const X509_NAME *name, const char *cn);

/* Reads a whole PEM file (at most PKI_FILE_MAX); as fileio_read_all. */
int pki_read_file(const char *path, uint8_t **out, size_t *len) WUR;

/* Serial of an ASN1_INTEGER, as pki_cert_serial. */
int pki_serial_from_asn1(const ASN1_INTEGER *ai, struct pki_serial *out) WUR;
/* A new ASN1_INTEGER holding s. */
ASN1_INTEGER *pki_serial_to_asn1(const struct pki_serial *s);

#endif
