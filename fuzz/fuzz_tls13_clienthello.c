/* Fuzz target: arbitrary bytes as a ClientHello handshake message. The
 * input is parsed twice: as it is (header included, so the header checks
 * are fuzzed too) and as a body behind a correct header (so the fuzzer need
 * not rediscover the length). When a parse succeeds:
 *   - every accessor either fails cleanly or returns pointers and lengths
 *     inside the message, and the iterators end exactly at their list's end;
 *   - the table agrees with the wire: offsets inside the extensions block,
 *     in order, no type twice, pre_shared_key only last;
 *   - a ClientHello with legacy_version 0x0303 and compression [null]
 *     rebuilds from its parsed parts to the same bytes;
 *   - the RFC 8448 ServerHello can be checked against it without harm.
 * A failed parse must leave the output struct untouched. */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "reality/reality_wire.h"
#include "reality/tls13_msg.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAX_INPUT (64 * 1024)

/* RFC 8448 §3 ServerHello. */
static const uint8_t rfc8448_sh[] = {
	0x02, 0x00, 0x00, 0x56, 0x03, 0x03, 0xa6, 0xaf, 0x06, 0xa4, 0x12, 0x18, 0x60, 0xdc, 0x5e, 0x6e, 0x60, 0x24,
	0x9c, 0xd3, 0x4c, 0x95, 0x93, 0x0c, 0x8a, 0xc5, 0xcb, 0x14, 0x34, 0xda, 0xc1, 0x55, 0x77, 0x2e, 0xd3, 0xe2,
	0x69, 0x28, 0x00, 0x13, 0x01, 0x00, 0x00, 0x2e, 0x00, 0x33, 0x00, 0x24, 0x00, 0x1d, 0x00, 0x20, 0xc9, 0x82,
	0x88, 0x76, 0x11, 0x20, 0x95, 0xfe, 0x66, 0x76, 0x2b, 0xdb, 0xf7, 0xc6, 0x72, 0xe1, 0x56, 0xd6, 0xcc, 0x25,
	0x3b, 0x83, 0x3d, 0xf1, 0xdd, 0x69, 0xb1, 0xb0, 0x4e, 0x75, 0x1f, 0x0f, 0x00, 0x2b, 0x00, 0x02, 0x03, 0x04,
};

static uint8_t framed[MAX_INPUT + TLS_HS_HEADER_LEN];
static uint8_t rebuilt[MAX_INPUT + 1024];

static void check(bool ok)
{
	if (!ok)
		abort();
}

static void inside(const struct tls13_msg_ch *ch, const uint8_t *p, size_t len)
{
	check(p >= ch->msg && len <= ch->len && (size_t)(p - ch->msg) <= ch->len - len);
}

static void exercise(const struct tls13_msg_ch *ch)
{
	struct tls13_msg_iter it;
	struct tls13_msg_key_share ks;
	const uint8_t *p;
	size_t n, total;
	int rc;

	check(ch->len >= 4 + 2 + 32 + 1 + 2 + 2 + 1 + 1 + 2 + 8);
	inside(ch, tls13_msg_ch_random(ch), TLS_RANDOM_LEN);
	tls13_msg_ch_session_id(ch, &p, &n);
	inside(ch, p, n);
	check(n <= TLS_SESSION_ID_MAX && (n != 32 || ch->sid_off == REALITY_SESSION_ID_OFFSET));
	tls13_msg_ch_suites(ch, &p, &n);
	inside(ch, p, 2 * n);
	check(n >= 1);
	for (size_t i = 0; i < n; i++)
		check(tls13_msg_ch_offers_suite(ch, tls_get_u16(p + 2 * i)));
	check(ch->comp_len >= 1);
	inside(ch, ch->msg + ch->comp_off, ch->comp_len);

	/* The table, against the block it came from. */
	inside(ch, ch->msg + ch->ext_block_off, ch->ext_block_len);
	check(ch->ext_block_off + ch->ext_block_len == ch->len);
	check(ch->ext_count <= TLS13_MSG_CH_MAX_EXT);
	size_t expect = ch->ext_block_off;
	for (size_t i = 0; i < ch->ext_count; i++) {
		const struct tls13_msg_ext *e = &ch->ext[i];
		check(e->off == expect + 4 && tls_get_u16(ch->msg + expect) == e->type &&
		      tls_get_u16(ch->msg + expect + 2) == e->len);
		expect = e->off + e->len;
		for (size_t j = 0; j < i; j++)
			check(ch->ext[j].type != e->type);
		check(e->type != TLS_EXT_PRE_SHARED_KEY || i + 1 == ch->ext_count);
		check(tls13_msg_ch_ext(ch, e->type, &p, &n) == 0 && p == ch->msg + e->off && n == e->len);
	}
	check(expect == ch->len);

	if (tls13_msg_ch_server_name(ch, &p, &n) == 0) {
		inside(ch, p, n);
		check(n >= 1);
	}
	if (tls13_msg_ch_supported_versions(ch, &p, &n) == 0) {
		inside(ch, p, 2 * n);
		check(n >= 1 && n <= 127);
	} else {
		check(!tls13_msg_ch_offers_tls13(ch));
	}
	if (tls13_msg_ch_supported_groups(ch, &p, &n) == 0) {
		inside(ch, p, 2 * n);
		check(n >= 1);
	}
	if (tls13_msg_ch_sig_algs(ch, &p, &n) == 0) {
		inside(ch, p, 2 * n);
		check(n >= 1);
	}
	if (tls13_msg_ch_psk_modes(ch, &p, &n) == 0) {
		inside(ch, p, n);
		check(n >= 1);
	}
	rc = tls13_msg_ch_key_shares(ch, &it);
	if (rc == 0) {
		const uint8_t *end = it.end;
		while (tls13_msg_key_share_next(&it, &ks)) {
			inside(ch, ks.key, ks.len);
			check(ks.len >= 1);
			struct tls13_msg_key_share again;
			check(tls13_msg_ch_key_share_find(ch, ks.group, &again) == 0 && again.key == ks.key);
		}
		check(it.p == end);
	} else {
		check(rc == ERR_NOTFOUND || rc == ERR_PARSE || rc == ERR_TOOBIG);
	}
	if (tls13_msg_ch_alpn(ch, &it) == 0) {
		const uint8_t *end = it.end;
		total = 0;
		while (tls13_msg_alpn_next(&it, &p, &n)) {
			inside(ch, p, n);
			check(n >= 1);
			total++;
		}
		check(it.p == end && total >= 1);
	}
	(void)tls13_msg_ch_has_psk(ch);
	(void)tls13_msg_ch_compression_null(ch);
}

/* Rebuilding from the parsed parts gives the same bytes, when the fixed
 * fields are the ones our builder writes. */
static void rebuild(const struct tls13_msg_ch *ch)
{
	static struct tls13_msg_ext_in ext[TLS13_MSG_CH_MAX_EXT];
	static uint16_t suites[0x7fff];
	const uint8_t *p, *sid;
	size_t n, sid_len, len;

	if (ch->legacy_version != TLS_VERSION_12 || !tls13_msg_ch_compression_null(ch))
		return;
	tls13_msg_ch_suites(ch, &p, &n);
	for (size_t i = 0; i < n; i++)
		suites[i] = tls_get_u16(p + 2 * i);
	for (size_t i = 0; i < ch->ext_count; i++) {
		ext[i].type = ch->ext[i].type;
		ext[i].data = ch->msg + ch->ext[i].off;
		ext[i].len = ch->ext[i].len;
	}
	tls13_msg_ch_session_id(ch, &sid, &sid_len);
	struct tls13_msg_ch_spec spec = { tls13_msg_ch_random(ch), sid, sid_len, suites, n, ext, ch->ext_count };
	check(tls13_msg_ch_build(&spec, rebuilt, sizeof(rebuilt), &len) == 0);
	check(len == ch->len && memcmp(rebuilt, ch->msg, len) == 0);
}

static void one(const uint8_t *msg, size_t len)
{
	static struct tls13_msg_ch ch, untouched;
	struct tls13_msg_sh sh;

	memset(&ch, 0x5a, sizeof(ch));
	memset(&untouched, 0x5a, sizeof(untouched));
	if (tls13_msg_ch_parse(&ch, msg, len) != 0) {
		check(memcmp(&ch, &untouched, sizeof(ch)) == 0);
		return;
	}
	check(ch.msg == msg && ch.len == len);
	exercise(&ch);
	rebuild(&ch);
	if (tls13_msg_sh_parse(&sh, rfc8448_sh, sizeof(rfc8448_sh)) != 0)
		abort();
	int rc = tls13_msg_sh_check(&sh, &ch);
	check(rc == 0 || rc == ERR_PROTO);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size > MAX_INPUT)
		return 0;
	one(data, size);
	framed[0] = TLS_HS_CLIENT_HELLO;
	tls_put_u24(framed + 1, (uint32_t)size);
	memcpy(framed + TLS_HS_HEADER_LEN, data, size);
	one(framed, size + TLS_HS_HEADER_LEN);
	return 0;
}
