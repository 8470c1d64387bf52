#include "support.h"

#include <errno.h>
#include <string.h>

#include "lib/buf.h"
#include "lib/err.h"
#include "lib/mem.h"
#include "rpc/pb.h"
#include "tests/proto/echo.pb-c.h"

static void a_message_packs_and_unpacks_to_the_same_fields(void **state)
{
	Pharos__Test__Msg m = PHAROS__TEST__MSG__INIT;
	ProtobufCMessage *out;
	uint8_t blob[300], *p;
	size_t len;

	memset(blob, 0xa5, sizeof(blob));
	m.text = "hello";
	m.blob.data = blob;
	m.blob.len = sizeof(blob);
	m.seq = 1ull << 40;
	assert_int_equal(rpc_pb_pack(&m.base, 1024, &p, &len), 0);
	assert_int_equal(rpc_pb_unpack(&pharos__test__msg__descriptor, p, len, 1024, &out), 0);
	Pharos__Test__Msg *r = (Pharos__Test__Msg *)out;
	assert_string_equal(r->text, "hello");
	assert_int_equal(r->blob.len, sizeof(blob));
	assert_memory_equal(r->blob.data, blob, sizeof(blob));
	assert_true(r->seq == 1ull << 40);
	rpc_pb_free(out);
	mem_free(p);
}

static void packing_respects_the_size_limit_and_the_buffer_cap(void **state)
{
	Pharos__Test__Msg m = PHAROS__TEST__MSG__INIT;
	uint8_t *p;
	size_t len;
	struct buf b;

	m.text = "0123456789";
	assert_int_equal(rpc_pb_pack(&m.base, 11, &p, &len), ERR_TOOBIG);
	assert_null(p);
	assert_int_equal(rpc_pb_pack(&m.base, 12, &p, &len), 0);
	assert_int_equal(len, 12);
	mem_free(p);
	buf_init(&b, 20);
	assert_int_equal(rpc_pb_pack_buf(&m.base, &b), 0);
	assert_int_equal(b.len, 12);
	assert_int_equal(rpc_pb_pack_buf(&m.base, &b), ERR_TOOBIG);
	assert_int_equal(b.len, 12);
	buf_fini(&b);
}

static void malformed_or_oversized_input_is_refused(void **state)
{
	ProtobufCMessage *out;
	const uint8_t truncated[] = { 0x0a, 0x05, 'a', 'b' };
	const uint8_t unknown_field[] = { 0x20, 0x01, 0x18, 0x05 }; /* field 4 (unknown), then seq = 5 */

	assert_int_equal(rpc_pb_unpack(&pharos__test__msg__descriptor, truncated, sizeof(truncated), 100, &out),
	                 ERR_PARSE);
	assert_null(out);
	assert_int_equal(rpc_pb_unpack(&pharos__test__msg__descriptor, truncated, sizeof(truncated), 3, &out),
	                 ERR_TOOBIG);
	assert_int_equal(rpc_pb_unpack(&pharos__test__msg__descriptor, unknown_field, sizeof(unknown_field), 100, &out),
	                 0);
	assert_true(((Pharos__Test__Msg *)out)->seq == 5);
	rpc_pb_free(out);
	assert_int_equal(rpc_pb_unpack(&pharos__test__msg__descriptor, NULL, 0, 100, &out), 0);
	rpc_pb_free(out);
	rpc_pb_free(NULL);
}

static int roundtrip(void *ctx)
{
	Pharos__Test__Msg m = PHAROS__TEST__MSG__INIT;
	ProtobufCMessage *out = NULL;
	uint8_t *p = NULL;
	size_t len;
	int rc;

	m.text = "fault injection";
	m.seq = 3;
	rc = rpc_pb_pack(&m.base, 1024, &p, &len);
	if (rc == 0) {
		rc = rpc_pb_unpack(&pharos__test__msg__descriptor, p, len, 1024, &out);
		if (rc == ERR_PARSE)
			rc = -ENOMEM; /* protobuf-c cannot tell; here it can only be memory */
	}
	rpc_pb_free(out);
	mem_free(p);
	return rc;
}

static void every_allocation_failure_unwinds_cleanly(void **state)
{
	assert_true(support_alloc_failure_loop(roundtrip, NULL) >= 2);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(a_message_packs_and_unpacks_to_the_same_fields),
		cmocka_unit_test(packing_respects_the_size_limit_and_the_buffer_cap),
		cmocka_unit_test(malformed_or_oversized_input_is_refused),
		cmocka_unit_test(every_allocation_failure_unwinds_cleanly),
	};
	return run_group(tests);
}
