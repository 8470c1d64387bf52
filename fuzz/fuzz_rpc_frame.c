/* Fuzz target for rpc/frame (and rpc/meta's wire decoding): the gRPC
 * message framing and header values, on arbitrary bytes.
 *  - Deframing: the scanner fed the input in two pieces (cut where the first
 *    byte says) must count exactly the messages rpc_frame_next finds walking
 *    the whole input, fail with the same error, and agree on whether a
 *    partial message is pending.
 *  - grpc-timeout, grpc-status, content-type and :path parsers must not
 *    crash; a parsed timeout must format and parse back no shorter.
 *  - Percent-encoding must round-trip any bytes; decoding any text must stay
 *    in bounds.
 *  - Metadata from the wire (name and value split at the first NUL) either
 *    lands decoded within its bounds or is refused.
 * Any disagreement aborts. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "lib/err.h"
#include "lib/mem.h"
#include "rpc/frame.h"
#include "rpc/meta.h"

#define FUZZ_MAX_INPUT 8192

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check(bool ok)
{
	if (!ok)
		abort();
}

static void check_deframing(const uint8_t *data, size_t size)
{
	const size_t max = 1000;
	size_t cut = size ? (data[0] * size) / 256 : 0;
	struct rpc_frame_scanner s;
	int a, b, walk_err = 0;
	uint64_t walked = 0;
	size_t at = 0;

	rpc_frame_scanner_init(&s, max);
	a = rpc_frame_scan(&s, data, cut);
	b = a < 0 ? a : rpc_frame_scan(&s, data + cut, size - cut);
	for (;;) {
		const uint8_t *msg;
		size_t len, used;
		int rc = rpc_frame_next(data + at, size - at, max, &msg, &len, &used);
		if (rc < 0) {
			walk_err = rc;
			break;
		}
		if (rc == 0)
			break;
		check(len <= max && used == len + RPC_FRAME_HDR_LEN && msg == data + at + RPC_FRAME_HDR_LEN);
		walked++;
		at += used;
	}
	if (walk_err) {
		check(a == walk_err || b == walk_err);
		check(s.messages == walked);
		return;
	}
	check(a >= 0 && b >= 0 && (uint64_t)a + (uint64_t)b == walked && s.messages == walked);
	check(rpc_frame_scanner_idle(&s) == (at == size));
}

static void check_values(const char *s, size_t len)
{
	uint64_t ms, back;
	char t[RPC_TIMEOUT_STRLEN];
	int code;

	if (rpc_frame_timeout_parse(s, len, &ms) == 0) {
		rpc_frame_timeout_format(ms, t);
		check(rpc_frame_timeout_parse(t, strlen(t), &back) == 0 && back >= ms);
	} else {
		check(ms == 0);
	}
	if (rpc_frame_status_parse(s, len, &code) == 0)
		check(code >= 0);
	(void)rpc_frame_content_type_ok(s, len);
	(void)rpc_frame_path_ok(s, len);
}

static void check_percent(const char *s, size_t len)
{
	char *enc = mem_alloc(3 * len + 1), *dec = mem_alloc(len + 1), *any = mem_alloc(len + 1);
	int n;

	if (!enc || !dec || !any)
		goto out;
	n = rpc_frame_pct_encode(enc, 3 * len + 1, s, len);
	check(n >= 0 && (size_t)n == strlen(enc) && (size_t)n <= 3 * len);
	/* The text may hold NULs; compare what the decoder sees of it. */
	size_t d = rpc_frame_pct_decode(dec, len + 1, enc, (size_t)n);
	check(d == len && !memcmp(dec, s, len));
	check(rpc_frame_pct_decode(any, len + 1, s, len) <= len);
out:
	mem_free(enc);
	mem_free(dec);
	mem_free(any);
}

static void check_meta(const uint8_t *data, size_t size)
{
	const uint8_t *nul = memchr(data, 0, size);
	struct rpc_meta m;
	int rc;

	if (!nul)
		return;
	rpc_meta_init(&m);
	rc = rpc_meta_add_wire(&m, (const char *)data, (size_t)(nul - data), (const char *)nul + 1,
	                       size - (size_t)(nul - data) - 1);
	check(rc == 0 || rc == -EINVAL || rc == ERR_TOOBIG || rc == -ENOMEM);
	check(rpc_meta_count(&m) <= RPC_META_MAX_ENTRIES);
	for (size_t i = 0; i < rpc_meta_count(&m); i++) {
		const char *k;
		const uint8_t *v;
		size_t len;
		rpc_meta_at(&m, i, &k, &v, &len);
		check(len <= RPC_META_MAX_BYTES && k[0]);
	}
	rpc_meta_fini(&m);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size > FUZZ_MAX_INPUT)
		return 0;
	check_deframing(data, size);
	check_values((const char *)data, size);
	check_percent((const char *)data, size);
	check_meta(data, size);
	return 0;
}
