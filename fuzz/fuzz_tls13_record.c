/* Fuzz target: arbitrary bytes through the TLS 1.3 record layer and the
 * handshake reassembler, as a socket would deliver them. The first byte
 * picks the situation:
 *
 *   mode % 4 == 0  a server before any key (ClientHello records, CCS)
 *   mode % 4 == 1  a client before any key (ServerHello records, CCS)
 *   mode % 4 == 2  a client reading protected records: with bit 2 clear
 *                  under the RFC 8448 server handshake key, with it set
 *                  under the RFC 8448 server application key (so the
 *                  trace's records decrypt and the fuzzer starts past the
 *                  tag), AES-128-GCM either way
 *   mode % 4 == 3  the rest is a list of (type, padding, length, content)
 *                  chunks that a sender seals under a fixed key of the
 *                  suite (mode >> 2) % 3 and a receiver opens: content,
 *                  type and padding must survive the round trip
 *
 * The stream is consumed record by record as a connection would (stop at
 * the first error or when more bytes are needed), handshake content goes
 * through the reassembler, and invariants (used <= input, content inside
 * the right buffer, no interleaving accepted, bounded buffering) abort when
 * broken. Deterministic: fixed keys, no clock. */
#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "reality/reality_wire.h"
#include "reality/tls13_keysched.h"
#include "reality/tls13_msg.h"
#include "reality/tls13_record.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* RFC 8448 §3: server handshake and application write keys and IVs. */
static const uint8_t s_hs_key[16] = { 0x3f, 0xce, 0x51, 0x60, 0x09, 0xc2, 0x17, 0x27,
	                              0xd0, 0xf2, 0xe4, 0xe8, 0x6e, 0xe4, 0x03, 0xbc };
static const uint8_t s_hs_iv[12] = { 0x5d, 0x31, 0x3e, 0xb2, 0x67, 0x12, 0x76, 0xee, 0x13, 0x00, 0x0b, 0x30 };
static const uint8_t s_ap_key[16] = { 0x9f, 0x02, 0x28, 0x3b, 0x6c, 0x9c, 0x07, 0xef,
	                              0xc2, 0x6b, 0xb9, 0xf2, 0xac, 0x92, 0xe3, 0x56 };
static const uint8_t s_ap_iv[12] = { 0xcf, 0x78, 0x2b, 0x88, 0xdd, 0x83, 0x54, 0x9a, 0xad, 0xf1, 0xe9, 0x84 };

static const uint16_t suites[3] = { TLS_AES_128_GCM_SHA256, TLS_AES_256_GCM_SHA384, TLS_CHACHA20_POLY1305_SHA256 };

static uint8_t out[TLS_MAX_INNER];
static uint8_t sealed[TLS_MAX_RECORD];

static void check(bool ok)
{
	if (!ok)
		abort();
}

/* Drains whole messages; each must be consistent with its header. */
static void drain(struct tls13_record_reasm *h)
{
	struct tls13_record_hs_msg m;
	uint8_t type;
	size_t body;
	int rc;

	while ((rc = tls13_record_reasm_next(h, &m)) == 1) {
		check(m.msg_len == TLS_HS_HEADER_LEN + m.body_len && m.body == m.msg + TLS_HS_HEADER_LEN);
		check(m.body_len <= h->max_body);
		check(tls13_msg_header(m.msg, m.msg_len, &type, &body) == 0 && type == m.type && body == m.body_len);
	}
	check(rc == 0 || rc == ERR_TOOBIG);
}

/* Feeds a stream to r as a connection would. */
static void run_stream(struct tls13_record *r, const uint8_t *p, size_t left)
{
	struct tls13_record_reasm h;
	struct tls13_record_in in;
	int rc;

	tls13_record_reasm_init(&h, 4096);
	for (;;) {
		rc = tls13_record_read(r, p, left, out, sizeof(out), &in);
		if (rc == 0) {
			check(in.need > left && in.need <= TLS_MAX_RECORD);
			break;
		}
		if (rc < 0) {
			check(r->alert != 0);
			break;
		}
		check(in.used >= TLS_RECORD_HEADER_LEN && in.used <= left && in.len <= TLS_MAX_INNER);
		if (in.is_protected)
			check(in.data >= out && in.data + in.len <= out + sizeof(out));
		else
			check(in.data >= p && in.data + in.len <= p + in.used);
		if (in.dropped) {
			check(in.len == 0);
		} else if (in.type == TLS_CT_HANDSHAKE) {
			check(in.len > 0);
			if (tls13_record_reasm_add(&h, in.data, in.len) < 0)
				break;
			drain(&h);
		} else {
			/* No other content type in the middle of a handshake message. */
			if (!tls13_record_reasm_empty(&h))
				break;
			if (in.type == TLS_CT_ALERT) {
				uint8_t level, desc;
				check(tls13_record_alert_parse(in.data, in.len, &level, &desc) == 0);
			}
		}
		p += in.used;
		left -= in.used;
	}
	tls13_record_reasm_fini(&h);
}

/* Mode 3: chunks sealed by one side, opened by the other. */
static void run_sealed(uint16_t suite, const uint8_t *p, size_t left)
{
	static const uint8_t secret[48] = { 1, 2, 3, 4, 5, 6, 7, 8, 9 };
	struct tls13_record tx, rx;
	struct tls13_record_in in;
	size_t n;

	if (tls13_record_init(&tx, TLS13_RECORD_SERVER) < 0 || tls13_record_init(&rx, TLS13_RECORD_CLIENT) < 0)
		abort();
	check(tls13_record_set_secret(&tx, true, suite, secret, TLS13_EPOCH_APPLICATION) == 0);
	check(tls13_record_set_secret(&rx, false, suite, secret, TLS13_EPOCH_APPLICATION) == 0);
	while (left >= 4) {
		static const uint8_t types[3] = { TLS_CT_HANDSHAKE, TLS_CT_ALERT, TLS_CT_APPLICATION_DATA };
		uint8_t type = types[p[0] % 3];
		size_t pad = p[1] * (size_t)(p[0] & 0x80 ? 64 : 1);
		size_t len = tls_get_u16(p + 2);
		p += 4;
		left -= 4;
		if (len > left)
			len = left;
		int rc = tls13_record_seal(&tx, type, p, len, pad, sealed, sizeof(sealed), &n);
		if (rc < 0) {
			/* Only the documented refusals. */
			check(rc == -EINVAL || rc == ERR_TOOBIG);
			check((type == TLS_CT_HANDSHAKE && len == 0) || (type == TLS_CT_ALERT && len != 2) ||
			      len + pad + 1 > TLS_MAX_INNER);
		} else {
			bool over = type == TLS_CT_APPLICATION_DATA && len == 0 && rx.empty_run >= rx.empty_max;
			check(n == TLS_RECORD_OVERHEAD + len + pad);
			rc = tls13_record_read(&rx, sealed, n, out, sizeof(out), &in);
			if (over) {
				check(rc == ERR_PROTO);
				break;
			}
			check(rc == 1 && in.used == n && in.type == type && in.len == len && in.is_protected);
			check(len == 0 || memcmp(in.data, p, len) == 0);
			check(in.dropped == (len == 0));
		}
		p += len;
		left -= len;
	}
	check(tx.tx.seq == rx.rx.seq);
	tls13_record_fini(&tx);
	tls13_record_fini(&rx);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct tls13_record r;
	uint8_t mode;

	if (size < 1)
		return 0;
	mode = data[0];
	data++;
	size--;
	switch (mode % 4) {
	case 0:
	case 1:
		if (tls13_record_init(&r, mode % 4 == 0 ? TLS13_RECORD_SERVER : TLS13_RECORD_CLIENT) < 0)
			abort();
		r.ccs_max = 1 + (mode >> 4);
		run_stream(&r, data, size);
		tls13_record_fini(&r);
		break;
	case 2:
		if (tls13_record_init(&r, TLS13_RECORD_CLIENT) < 0)
			abort();
		if (mode & 4)
			check(tls13_record_set_key(&r, false, TLS_AES_128_GCM_SHA256, s_ap_key, 16, s_ap_iv,
			                           TLS13_EPOCH_APPLICATION) == 0);
		else
			check(tls13_record_set_key(&r, false, TLS_AES_128_GCM_SHA256, s_hs_key, 16, s_hs_iv,
			                           TLS13_EPOCH_HANDSHAKE) == 0);
		r.empty_max = mode >> 4;
		run_stream(&r, data, size);
		tls13_record_fini(&r);
		break;
	case 3:
		run_sealed(suites[(mode >> 2) % 3], data, size);
		break;
	}
	return 0;
}
