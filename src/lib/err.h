/* Error codes. A fallible function returns 0 or a negative code: either a
 * negative errno value (-ENOMEM, -EINVAL, ...) or one of ours below, which live
 * in their own band so they never collide with errno. err_str() names both. */
#ifndef PHAROS_LIB_ERR_H
#define PHAROS_LIB_ERR_H

#define ERR_BAND 10000
enum {
	ERR_PARSE      = -(ERR_BAND + 1),  /* malformed input */
	ERR_RANGE      = -(ERR_BAND + 2),  /* well-formed but out of range */
	ERR_TOOBIG     = -(ERR_BAND + 3),  /* exceeds a hard size cap */
	ERR_AUTH       = -(ERR_BAND + 4),  /* authentication or MAC failure */
	ERR_REPLAY     = -(ERR_BAND + 5),  /* replayed counter or timestamp */
	ERR_BADSTATE      = -(ERR_BAND + 6),  /* not valid in the current protocol state */
	ERR_NOTFOUND   = -(ERR_BAND + 7),  /* no such peer, key, index, row */
	ERR_CRYPTO     = -(ERR_BAND + 8),  /* a crypto primitive failed (e.g. zero DH) */
	ERR_PROTO      = -(ERR_BAND + 9),  /* peer violated the protocol */
	ERR_EXISTS     = -(ERR_BAND + 10), /* already present */
	ERR_CONFLICT   = -(ERR_BAND + 11), /* stale version: the row changed since it was read */
	ERR_LAST       = -(ERR_BAND + 12),
};

#define WUR __attribute__((warn_unused_result))

/* Static string for any code returned by our functions; never NULL. */
const char *err_str(int err);

#endif
