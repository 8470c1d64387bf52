/* The controller's own key files in its state directory. */
#ifndef PHAROS_COX_KEYS_H
#define PHAROS_COX_KEYS_H

#include <stdint.h>

#include "cox/cox.h"

#define COX_CA_DIR "ca"
#define COX_CONTROLLER_KEY "controller.key"
#define COX_CONTROLLER_CRT "controller.crt"
#define COX_SSH_KEY "ssh/id_ed25519"
#define COX_SIGNING_KEY "profile-signing.key"
#define COX_SIGNING_PUB "profile-signing.pub"
#define COX_SIGN_SK_LEN 64
#define COX_SIGN_PK_LEN 32

/* Creates profile-signing.key (raw 64-byte Ed25519 secret key, 0600) and
 * profile-signing.pub (base64 public key, 0644) in dir. */
int cox_signing_key_create(const char *dir) WUR;
/* Loads the secret key (wipe it after use) and optionally the public key. */
int cox_signing_key_load(const struct cox *c, uint8_t sk[COX_SIGN_SK_LEN], uint8_t pk[COX_SIGN_PK_LEN]) WUR;

#endif
