/* Call metadata: the custom headers of a gRPC request, response or trailer
 * (PROTOCOL-HTTP2.md "Custom-Metadata"). Keys are lower-case
 * [0-9a-z_.-]+; a key ending in "-bin" carries arbitrary bytes, sent as
 * unpadded base64 (padded or unpadded accepted, and a comma-separated list
 * of base64 values is several entries); any other key carries printable
 * ASCII (0x20..0x7E). Keys starting with "grpc-", pseudo-headers and the
 * headers gRPC itself sets (content-type, te, user-agent, and HTTP/1
 * connection headers) are reserved: adding one is -EINVAL, and received
 * ones never reach this list.
 *
 * Bounded: at most RPC_META_MAX_ENTRIES entries and RPC_META_MAX_BYTES of
 * keys and (decoded) values together, which also bounds what a peer can
 * make us hold per call. The entries live in the struct; the bytes in one
 * growing arena. Not thread-safe. */
#ifndef PHAROS_RPC_META_H
#define PHAROS_RPC_META_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lib/buf.h"
#include "lib/err.h"

#define RPC_META_MAX_ENTRIES 64
#define RPC_META_MAX_BYTES   (8 * 1024)

struct rpc_meta_entry {
	uint32_t key, key_len; /* offsets into arena; both key and value are NUL-terminated there */
	uint32_t val, val_len;
};

struct rpc_meta {
	size_t count;
	struct rpc_meta_entry e[RPC_META_MAX_ENTRIES];
	struct buf arena;
};

void rpc_meta_init(struct rpc_meta *m);
/* Drops every entry but keeps the arena's allocation. */
void rpc_meta_reset(struct rpc_meta *m);
void rpc_meta_fini(struct rpc_meta *m);
/* Replaces dst's entries with copies of src's. 0, -ENOMEM (dst then empty). */
int rpc_meta_copy(struct rpc_meta *dst, const struct rpc_meta *src) WUR;

/* Adds an entry (keys may repeat). 0, -EINVAL (bad or reserved key, or a
 * non-printable value for a non-binary key), ERR_TOOBIG or -ENOMEM. */
int rpc_meta_add(struct rpc_meta *m, const char *key, const void *val, size_t len) WUR;
int rpc_meta_add_str(struct rpc_meta *m, const char *key, const char *val) WUR;

size_t rpc_meta_count(const struct rpc_meta *m);
/* Entry i < count. Pointers stay valid until the metadata next changes. */
void rpc_meta_at(const struct rpc_meta *m, size_t i, const char **key, const uint8_t **val, size_t *len);
/* First value under key, or NULL. */
const uint8_t *rpc_meta_get(const struct rpc_meta *m, const char *key, size_t *len);

/* Reserved for gRPC or HTTP/2 (see above). */
bool rpc_meta_reserved(const char *key, size_t len);
/* A received header field: decodes -bin values (one entry per
 * comma-separated piece). 0, -EINVAL (bad key, bad base64, bad character),
 * ERR_TOOBIG or -ENOMEM. Reserved keys are the caller's to skip. */
int rpc_meta_add_wire(struct rpc_meta *m, const char *name, size_t name_len, const char *value,
                      size_t value_len) WUR;
/* Sending: bytes that suffice for every entry's wire value with its NUL. */
size_t rpc_meta_wire_bound(const struct rpc_meta *m);
/* Writes entry i's wire value (base64 without padding for -bin keys) with a
 * NUL into out and returns its length, or -ENOSPC. */
int rpc_meta_wire_value(const struct rpc_meta *m, size_t i, char *out, size_t cap) WUR;

#endif
