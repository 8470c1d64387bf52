/* The CLI's state directory ($CARAVEL_HOME, default /etc/pharos/caravel),
 * every file 0600, every directory 0700, written atomically:
 *   device.key           awg=<base64> enc=<base64> name=<name> (one per line)
 *   profiles/NAME.json   an opened profile (caravel_profile_json)
 *   pins/<hex fleet id>  the fleet's profile-signing key, base64, pinned on
 *                        first import */
#ifndef PHAROS_CARAVEL_STORE_H
#define PHAROS_CARAVEL_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lib/err.h"

#define CARAVEL_STORE_DEFAULT_HOME "/etc/pharos/caravel"
#define CARAVEL_STORE_NAME_MAX 64

struct caravel_keys {
	uint8_t awg_sk[32];
	uint8_t enc_sk[32];
	char name[65];
};

/* $CARAVEL_HOME or the default. */
const char *caravel_store_home(void);
/* 1..64 of [A-Za-z0-9._-], not starting with '.'. */
bool caravel_store_name_ok(const char *name);

/* -ENOENT when `caravel init` has not run. */
int caravel_store_keys_load(const char *home, struct caravel_keys *k) WUR;
/* ERR_EXISTS if present. */
int caravel_store_keys_save(const char *home, const struct caravel_keys *k) WUR;

int caravel_store_profile_save(const char *home, const char *name, const char *json, size_t len) WUR;
/* *json malloc'd (free with mem_free_secret(*json, *len + 1)); -ENOENT if absent. */
int caravel_store_profile_load(const char *home, const char *name, char **json, size_t *len) WUR;
int caravel_store_profile_remove(const char *home, const char *name) WUR;
/* Stored names, sorted, into names (each malloc'd; free with
 * caravel_store_names_free). */
int caravel_store_profile_names(const char *home, char ***names, size_t *n) WUR;
void caravel_store_names_free(char **names, size_t n);

/* 1 and the key when pinned, 0 when not, or a negative code. */
int caravel_store_pin_get(const char *home, const char *fleet_id, uint8_t key[32]) WUR;
int caravel_store_pin_set(const char *home, const char *fleet_id, const uint8_t key[32]) WUR;

#endif
