/* Internal to src/profile: helpers shared by profile.c (profile JSON),
 * profile_seal.c (.pharos files) and profile_devreq.c (device requests). */
#ifndef PHAROS_PROFILE_PROFILE_INT_H
#define PHAROS_PROFILE_PROFILE_INT_H

#include <stddef.h>
#include <stdint.h>

#include "lib/err.h"

/* Routes jansson's allocations through lib/mem (so the allocation-failure
 * tests reach them) and wipes every block jansson frees, since parsed
 * profiles and their JSON text hold preshared keys. jansson's allocator is
 * process-wide: installed once (pthread_once) by the first call into this
 * module; blocks jansson allocated earlier with malloc are freed correctly
 * by the wiping free. Also calls sodium_init(). */
void profile_json_setup(void);

/* snprintf into err (when errlen > 0), returns rc: `return seterr(...)`. */
int profile_seterr(char *err, size_t errlen, int rc, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

/* Standard base64 of exactly len bytes; 0 or -EINVAL (out zeroed). */
int profile_b64_exact(uint8_t *out, size_t len, const char *s) WUR;

#endif
