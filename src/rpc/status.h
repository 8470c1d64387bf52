/* gRPC status codes (grpc/doc/statuscodes.md) and the final status of a call,
 * plus the mappings the gRPC HTTP/2 spec (PROTOCOL-HTTP2.md, "Errors") and
 * http-grpc-status-mapping.md define for calls that end without trailers. */
#ifndef PHAROS_RPC_STATUS_H
#define PHAROS_RPC_STATUS_H

#include <stdint.h>

enum rpc_code {
	RPC_OK = 0,
	RPC_CANCELLED = 1,
	RPC_UNKNOWN = 2,
	RPC_INVALID_ARGUMENT = 3,
	RPC_DEADLINE_EXCEEDED = 4,
	RPC_NOT_FOUND = 5,
	RPC_ALREADY_EXISTS = 6,
	RPC_PERMISSION_DENIED = 7,
	RPC_RESOURCE_EXHAUSTED = 8,
	RPC_FAILED_PRECONDITION = 9,
	RPC_ABORTED = 10,
	RPC_OUT_OF_RANGE = 11,
	RPC_UNIMPLEMENTED = 12,
	RPC_INTERNAL = 13,
	RPC_UNAVAILABLE = 14,
	RPC_DATA_LOSS = 15,
	RPC_UNAUTHENTICATED = 16,
};
#define RPC_CODE_MAX RPC_UNAUTHENTICATED

/* With the NUL. A longer message is cut (it is a hint for humans; callers
 * that need structure put it in metadata or in the response). */
#define RPC_STATUS_MSG_MAX 256

struct rpc_status {
	int code;                         /* enum rpc_code */
	char message[RPC_STATUS_MSG_MAX]; /* UTF-8, already percent-decoded */
};

/* Sets code and a printf-formatted message (fmt may be NULL: empty message).
 * A code outside 0..16 becomes RPC_UNKNOWN. */
void rpc_status_set(struct rpc_status *st, int code, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* Static upper-case name ("OK", "DEADLINE_EXCEEDED"); "UNKNOWN" if out of range. */
const char *rpc_status_name(int code);
/* Code for a response that ended without grpc-status (http-grpc-status-mapping.md). */
int rpc_status_from_http(int http_status);
/* Code for a stream reset by RST_STREAM or GOAWAY with an HTTP/2 error code. */
int rpc_status_from_h2(uint32_t h2_error);

#endif
