/* protobuf-c adapters: the rpc layer moves opaque bytes; these turn them
 * into messages and back, with a size limit on both sides and every
 * allocation through lib/mem (so fault injection reaches decoding too).
 * Proto3 semantics as protobuf-c implements them: unknown fields are kept
 * aside and ignored. */
#ifndef PHAROS_RPC_PB_H
#define PHAROS_RPC_PB_H

#include <stddef.h>
#include <stdint.h>

#include "lib/err.h"

struct ProtobufCMessage;
struct ProtobufCMessageDescriptor;
struct buf;

/* Packs msg into a new buffer (free with mem_free or mem_free_secret).
 * 0, ERR_TOOBIG (packed size over max), -ENOMEM. *out NULL on failure. */
int rpc_pb_pack(const struct ProtobufCMessage *msg, size_t max, uint8_t **out, size_t *len) WUR;
/* Appends the packed msg to out (a unary handler's response buffer): 0,
 * ERR_TOOBIG (over out's cap), -ENOMEM. out unchanged on failure. */
int rpc_pb_pack_buf(const struct ProtobufCMessage *msg, struct buf *out) WUR;
/* Unpacks data[0..len) as desc's message. 0, ERR_TOOBIG (len over max),
 * ERR_PARSE (not a valid encoding), -EINVAL. Free with rpc_pb_free. */
int rpc_pb_unpack(const struct ProtobufCMessageDescriptor *desc, const uint8_t *data, size_t len, size_t max,
                  struct ProtobufCMessage **out) WUR;
/* NULL is a no-op. */
void rpc_pb_free(struct ProtobufCMessage *msg);

#endif
