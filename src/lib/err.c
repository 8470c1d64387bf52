#include "lib/err.h"

#include <string.h>

static const char *const names[] = {
	[-(ERR_PARSE) - ERR_BAND]    = "malformed input",
	[-(ERR_RANGE) - ERR_BAND]    = "value out of range",
	[-(ERR_TOOBIG) - ERR_BAND]   = "input exceeds size limit",
	[-(ERR_AUTH) - ERR_BAND]     = "authentication failed",
	[-(ERR_REPLAY) - ERR_BAND]   = "replayed message",
	[-(ERR_BADSTATE) - ERR_BAND]    = "invalid in current state",
	[-(ERR_NOTFOUND) - ERR_BAND] = "not found",
	[-(ERR_CRYPTO) - ERR_BAND]   = "cryptographic operation failed",
	[-(ERR_PROTO) - ERR_BAND]    = "protocol violation",
	[-(ERR_EXISTS) - ERR_BAND]   = "already exists",
	[-(ERR_CONFLICT) - ERR_BAND] = "changed by someone else since it was read",
};

const char *err_str(int err)
{
	if (err == 0)
		return "success";
	if (err <= -ERR_BAND - 1 && err > ERR_LAST) {
		const char *s = names[-err - ERR_BAND];
		return s ? s : "unknown error";
	}
	if (err < 0 && err > -ERR_BAND)
		return strerror(-err);
	return "unknown error";
}
