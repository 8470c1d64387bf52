#include "rpc/status.h"

#include <stdarg.h>
#include <stdio.h>

void rpc_status_set(struct rpc_status *st, int code, const char *fmt, ...)
{
	va_list ap;

	st->code = code >= 0 && code <= RPC_CODE_MAX ? code : RPC_UNKNOWN;
	st->message[0] = '\0';
	if (!fmt)
		return;
	va_start(ap, fmt);
	vsnprintf(st->message, sizeof(st->message), fmt, ap);
	va_end(ap);
}

const char *rpc_status_name(int code)
{
	static const char *const names[] = {
		"OK", "CANCELLED", "UNKNOWN", "INVALID_ARGUMENT", "DEADLINE_EXCEEDED", "NOT_FOUND",
		"ALREADY_EXISTS", "PERMISSION_DENIED", "RESOURCE_EXHAUSTED", "FAILED_PRECONDITION",
		"ABORTED", "OUT_OF_RANGE", "UNIMPLEMENTED", "INTERNAL", "UNAVAILABLE", "DATA_LOSS",
		"UNAUTHENTICATED",
	};
	_Static_assert(sizeof(names) / sizeof(names[0]) == RPC_CODE_MAX + 1, "one name per code");
	return code >= 0 && code <= RPC_CODE_MAX ? names[code] : "UNKNOWN";
}

int rpc_status_from_http(int http_status)
{
	switch (http_status) {
	case 400: return RPC_INTERNAL;
	case 401: return RPC_UNAUTHENTICATED;
	case 403: return RPC_PERMISSION_DENIED;
	case 404: return RPC_UNIMPLEMENTED;
	case 429: case 502: case 503: case 504: return RPC_UNAVAILABLE;
	default: return RPC_UNKNOWN;
	}
}

/* HTTP/2 error codes (RFC 9113 §7) by number, so this file needs no nghttp2. */
int rpc_status_from_h2(uint32_t h2_error)
{
	switch (h2_error) {
	case 0x7: return RPC_UNAVAILABLE;        /* REFUSED_STREAM: not processed, safe to retry */
	case 0x8: return RPC_CANCELLED;          /* CANCEL */
	case 0xb: return RPC_RESOURCE_EXHAUSTED; /* ENHANCE_YOUR_CALM */
	case 0xc: return RPC_PERMISSION_DENIED;  /* INADEQUATE_SECURITY */
	default: return RPC_INTERNAL;            /* NO_ERROR without trailers, PROTOCOL_ERROR, ... */
	}
}
