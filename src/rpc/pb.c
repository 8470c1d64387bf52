#include "rpc/pb.h"

#include <errno.h>
#include <protobuf-c/protobuf-c.h>

#include "lib/buf.h"
#include "lib/mem.h"

static void *pb_alloc(void *ud, size_t n)
{
	return mem_alloc(n);
}

static void pb_free(void *ud, void *p)
{
	mem_free(p);
}

/* Stateless, so a constant: protobuf-c takes a non-const pointer but only reads it. */
static const ProtobufCAllocator allocator = { pb_alloc, pb_free, NULL };

int rpc_pb_pack(const ProtobufCMessage *msg, size_t max, uint8_t **out, size_t *len)
{
	size_t n;

	*out = NULL;
	*len = 0;
	if (!msg)
		return -EINVAL;
	n = protobuf_c_message_get_packed_size(msg);
	if (n > max)
		return ERR_TOOBIG;
	*out = mem_alloc(n);
	if (!*out)
		return -ENOMEM;
	*len = protobuf_c_message_pack(msg, *out);
	return 0;
}

int rpc_pb_pack_buf(const ProtobufCMessage *msg, struct buf *out)
{
	size_t n;
	int rc;

	if (!msg)
		return -EINVAL;
	n = protobuf_c_message_get_packed_size(msg);
	rc = buf_reserve(out, n);
	if (rc < 0)
		return rc;
	buf_advance(out, protobuf_c_message_pack(msg, out->data + out->len));
	return 0;
}

int rpc_pb_unpack(const ProtobufCMessageDescriptor *desc, const uint8_t *data, size_t len, size_t max,
                  ProtobufCMessage **out)
{
	*out = NULL;
	if (!desc || (len && !data))
		return -EINVAL;
	if (len > max)
		return ERR_TOOBIG;
	*out = protobuf_c_message_unpack(desc, (ProtobufCAllocator *)&allocator, len, data);
	/* protobuf-c does not tell a parse error from a failed allocation. */
	return *out ? 0 : ERR_PARSE;
}

void rpc_pb_free(ProtobufCMessage *msg)
{
	if (msg)
		protobuf_c_message_free_unpacked(msg, (ProtobufCAllocator *)&allocator);
}
