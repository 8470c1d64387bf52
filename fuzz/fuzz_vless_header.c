/* Fuzz target: bytes as the first plaintext a VLESS server receives (the
 * request header, then payload) and as what a client receives (the
 * response header). Invariants: a header that parses is re-encoded (when
 * it is one we can write) to bytes the parser takes back to the same
 * request; a header that parses from a prefix parses the same from the
 * whole input; `used` never exceeds the input; the user table and flow
 * rules accept only what they should. Deterministic. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "reality/vless.h"
#include "reality/xudp.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_request(const uint8_t *data, size_t size)
{
	struct vless_request r, back;
	uint8_t out[VLESS_REQUEST_MAX];
	size_t used = 0, n = 0, used2 = 0;
	int rc = vless_request_parse(data, size, &r, &used);
	if (rc != 1)
		return;
	if (used > size || used < 1 + 16 + 1 + 1)
		abort();
	/* the same prefix parses alike */
	if (vless_request_parse(data, used, &back, &used2) != 1 || used2 != used || memcmp(&back, &r, sizeof(r)))
		abort();
	/* re-encode: addons beyond the flow (a seed, unknown fields) are not
	 * kept, so compare the parsed requests, not the bytes */
	if (vless_request_encode(&r, out, sizeof(out), &n) == 0) {
		if (vless_request_parse(out, n, &back, &used2) != 1 || used2 != n)
			abort();
		if (memcmp(back.uuid, r.uuid, 16) || strcmp(back.flow, r.flow) || back.cmd != r.cmd ||
		    back.dst.port != r.dst.port || back.dst.atyp != r.dst.atyp || back.dst.len != r.dst.len)
			abort();
	}
	/* flow rules: Vision only for a Vision account, never for UDP */
	struct vless_user u = {.flow = (data[size - 1] & 1) ? VLESS_FLOW_XRV : VLESS_FLOW_NONE};
	bool vision = false;
	if (vless_flow_check(&u, &r, &vision) == 0) {
		if (vision && (u.flow != VLESS_FLOW_XRV || r.cmd == VLESS_CMD_UDP))
			abort();
		if (u.flow == VLESS_FLOW_XRV && !vision && r.cmd == VLESS_CMD_TCP)
			abort();
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	size_t used = 0;
	if (size == 0)
		return 0;
	check_request(data, size);
	if (vless_response_parse(data, size, &used) == 1 && (used > size || used < 2))
		abort();
	/* XUDP frames: consecutive frames as a stream; a parsed frame stays
	 * inside the input, and a Keep frame we encode parses back */
	size_t at = 0;
	struct vless_xudp_pkt pk;
	while (at < size && vless_xudp_parse(data + at, size - at, &pk, &used) == 1) {
		if (used > size - at || (pk.data && (pk.data < data + at || pk.data + pk.len > data + at + used)))
			abort();
		if (pk.has_dst && pk.data && pk.len && pk.len <= XUDP_MAX_PAYLOAD) {
			static uint8_t fr[XUDP_FRAME_MAX];
			size_t fn, u2;
			struct vless_xudp_pkt back;
			if (xudp_encode(pk.status == VLESS_XUDP_NEW, &pk.dst, pk.data, pk.len, fr, sizeof(fr), &fn) != 0 ||
			    vless_xudp_parse(fr, fn, &back, &u2) != 1 || u2 != fn || back.len != pk.len ||
			    memcmp(back.data, pk.data, pk.len))
				abort();
		}
		at += used;
	}
	/* uuid text forms */
	char text[64], fmt[VLESS_UUID_TEXT];
	uint8_t id[16], id2[16];
	size_t n = size < sizeof(text) - 1 ? size : sizeof(text) - 1;
	memcpy(text, data, n);
	text[n] = '\0';
	if (vless_uuid_parse(id, text) == 0) {
		vless_uuid_format(fmt, id);
		if (vless_uuid_parse(id2, fmt) != 0 || memcmp(id, id2, 16))
			abort();
	}
	return 0;
}
