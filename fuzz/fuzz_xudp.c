/* Fuzz target for XUDP frames as the client reads them from a server
 * (reality/xudp): the input is parsed frame by frame; every frame must lie
 * inside the input, and a frame with an address must re-encode (as a client
 * frame to that address) and parse back to the same address and payload. */
#include <stdlib.h>
#include <string.h>

#include "reality/xudp.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check(bool ok)
{
	if (!ok)
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static uint8_t frame[XUDP_FRAME_MAX];
	struct xudp_packet p, q;
	size_t at = 0, used, n, qused;
	int rc;

	while ((rc = xudp_parse(data + at, size - at, &p, &used)) == 1) {
		check(used > 0 && used <= size - at);
		check(!p.data || (p.data >= data + at && p.data + p.len <= data + at + used));
		if (p.has_addr && p.data && p.len <= XUDP_MAX_PAYLOAD &&
		    xudp_encode(false, &p.addr, p.data, p.len, frame, sizeof(frame), &n) == 0) {
			/* our keep frame is one a server could send back */
			check(xudp_parse(frame, n, &q, &qused) == 1 && qused == n && q.has_addr);
			check(q.addr.atyp == p.addr.atyp && q.addr.port == p.addr.port && q.len == p.len);
			check(memcmp(q.data, p.data, p.len) == 0);
		}
		at += used;
	}
	check(rc == 0 || rc == XUDP_END || rc == ERR_PARSE);
	return 0;
}
