/* libcaravel internals shared by its files (not part of the ABI). */
#ifndef PHAROS_CARAVEL_PRIV_H
#define PHAROS_CARAVEL_PRIV_H

#include <stdint.h>

#include "profile/profile.h"

struct caravel_profile {
	struct profile p;
	uint8_t signer[PROFILE_KEY_LEN]; /* zero for a loaded profile */
};

/* ERR_* codes of our modules as CARAVEL_ERR_* codes; others unchanged. */
int caravel_map_err(int rc);

#endif
