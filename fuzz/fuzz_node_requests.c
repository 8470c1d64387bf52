/* Fuzz target: protobuf decoding of every NodeControl request type, as the
 * node agent does it (rpc_pb_unpack with the same size cap). The first byte
 * picks the request type; the rest is the message. Anything that decodes is
 * re-encoded and must decode again to the same bytes. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "pharos/node/v1/control.pb-c.h"
#include "lib/mem.h"
#include "rpc/pb.h"

static const ProtobufCMessageDescriptor *const descs[] = {
	&pharos__node__v1__get_status_request__descriptor,
	&pharos__node__v1__get_metrics_request__descriptor,
	&pharos__node__v1__push_config_request__descriptor,
	&pharos__node__v1__add_peer_request__descriptor,
	&pharos__node__v1__remove_peer_request__descriptor,
	&pharos__node__v1__list_peers_request__descriptor,
	&pharos__node__v1__restart_service_request__descriptor,
	&pharos__node__v1__set_network_config_request__descriptor,
	&pharos__node__v1__configure_inner_link_request__descriptor,
	&pharos__node__v1__remove_inner_link_request__descriptor,
	&pharos__node__v1__watch_events_request__descriptor,
};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	const ProtobufCMessageDescriptor *d = descs[data[0] % (sizeof(descs) / sizeof(descs[0]))];
	ProtobufCMessage *m = NULL;
	if (rpc_pb_unpack(d, data + 1, size - 1, 64u << 20, &m) < 0)
		return 0;
	uint8_t *a = NULL, *b = NULL;
	size_t alen = 0, blen = 0;
	ProtobufCMessage *m2 = NULL;
	if (rpc_pb_pack(m, 64u << 20, &a, &alen) == 0 && rpc_pb_unpack(d, a, alen, 64u << 20, &m2) == 0 &&
	    rpc_pb_pack(m2, 64u << 20, &b, &blen) == 0 && (alen != blen || memcmp(a, b, alen)))
		abort(); /* re-encoding is not stable */
	rpc_pb_free(m2);
	rpc_pb_free(m);
	mem_free(a);
	mem_free(b);
	return 0;
}
