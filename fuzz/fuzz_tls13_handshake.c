/* Fuzz target: the server-flight and post-handshake parsers (ServerHello /
 * HelloRetryRequest, EncryptedExtensions, Certificate, CertificateVerify,
 * Finished, KeyUpdate, NewSessionTicket). The first byte picks the parser;
 * the rest is parsed as it is and again behind a correct header of that
 * message type. On success:
 *   - every offset the parser reports lies inside the message;
 *   - EncryptedExtensions, Certificate and CertificateVerify rebuild from
 *     their parsed parts to the same bytes;
 *   - a ServerHello is checked against the RFC 8448 ClientHello, and its
 *     key share (if any) can be replaced in place without touching anything
 *     else;
 *   - a Finished is verified under a fixed secret (it must fail or pass
 *     cleanly).
 * A failed parse must leave the output struct untouched. */
#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "reality/reality_wire.h"
#include "reality/tls13_keysched.h"
#include "reality/tls13_msg.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAX_INPUT (64 * 1024)

/* RFC 8448 §3 ClientHello. */
static const uint8_t rfc8448_ch[] = {
	0x01, 0x00, 0x00, 0xc0, 0x03, 0x03, 0xcb, 0x34, 0xec, 0xb1, 0xe7, 0x81, 0x63, 0xba, 0x1c, 0x38, 0xc6, 0xda,
	0xcb, 0x19, 0x6a, 0x6d, 0xff, 0xa2, 0x1a, 0x8d, 0x99, 0x12, 0xec, 0x18, 0xa2, 0xef, 0x62, 0x83, 0x02, 0x4d,
	0xec, 0xe7, 0x00, 0x00, 0x06, 0x13, 0x01, 0x13, 0x03, 0x13, 0x02, 0x01, 0x00, 0x00, 0x91, 0x00, 0x00, 0x00,
	0x0b, 0x00, 0x09, 0x00, 0x00, 0x06, 0x73, 0x65, 0x72, 0x76, 0x65, 0x72, 0xff, 0x01, 0x00, 0x01, 0x00, 0x00,
	0x0a, 0x00, 0x14, 0x00, 0x12, 0x00, 0x1d, 0x00, 0x17, 0x00, 0x18, 0x00, 0x19, 0x01, 0x00, 0x01, 0x01, 0x01,
	0x02, 0x01, 0x03, 0x01, 0x04, 0x00, 0x23, 0x00, 0x00, 0x00, 0x33, 0x00, 0x26, 0x00, 0x24, 0x00, 0x1d, 0x00,
	0x20, 0x99, 0x38, 0x1d, 0xe5, 0x60, 0xe4, 0xbd, 0x43, 0xd2, 0x3d, 0x8e, 0x43, 0x5a, 0x7d, 0xba, 0xfe, 0xb3,
	0xc0, 0x6e, 0x51, 0xc1, 0x3c, 0xae, 0x4d, 0x54, 0x13, 0x69, 0x1e, 0x52, 0x9a, 0xaf, 0x2c, 0x00, 0x2b, 0x00,
	0x03, 0x02, 0x03, 0x04, 0x00, 0x0d, 0x00, 0x20, 0x00, 0x1e, 0x04, 0x03, 0x05, 0x03, 0x06, 0x03, 0x02, 0x03,
	0x08, 0x04, 0x08, 0x05, 0x08, 0x06, 0x04, 0x01, 0x05, 0x01, 0x06, 0x01, 0x02, 0x01, 0x04, 0x02, 0x05, 0x02,
	0x06, 0x02, 0x02, 0x02, 0x00, 0x2d, 0x00, 0x02, 0x01, 0x01, 0x00, 0x1c, 0x00, 0x02, 0x40, 0x01,
};

static const uint8_t types[] = {
	TLS_HS_SERVER_HELLO, TLS_HS_ENCRYPTED_EXTENSIONS, TLS_HS_CERTIFICATE, TLS_HS_CERTIFICATE_VERIFY,
	TLS_HS_FINISHED,     TLS_HS_KEY_UPDATE,           TLS_HS_NEW_SESSION_TICKET,
};

static uint8_t framed[MAX_INPUT + TLS_HS_HEADER_LEN];
static uint8_t copy[MAX_INPUT + TLS_HS_HEADER_LEN];
static uint8_t rebuilt[MAX_INPUT + 1024];

static void check(bool ok)
{
	if (!ok)
		abort();
}

static void in_msg(const uint8_t *msg, size_t len, size_t off, size_t n)
{
	check(off <= len && n <= len - off);
	(void)msg;
}

static void same(int rc, size_t n, const uint8_t *msg, size_t len)
{
	check(rc == 0 && n == len && memcmp(rebuilt, msg, len) == 0);
}

static void server_hello(const uint8_t *msg, size_t len)
{
	static struct tls13_msg_sh sh, untouched;
	static struct tls13_msg_ch ch;
	int rc;

	memset(&sh, 0x5a, sizeof(sh));
	memset(&untouched, 0x5a, sizeof(untouched));
	if (tls13_msg_sh_parse(&sh, msg, len) != 0) {
		check(memcmp(&sh, &untouched, sizeof(sh)) == 0);
		return;
	}
	in_msg(msg, len, sh.random_off, TLS_RANDOM_LEN);
	in_msg(msg, len, sh.sid_off, sh.sid_len);
	check(sh.sid_len <= TLS_SESSION_ID_MAX);
	check(sh.is_hrr == (memcmp(tls13_msg_sh_random(&sh), TLS_HRR_RANDOM, TLS_RANDOM_LEN) == 0));
	for (size_t i = 0; i < sh.ext_count; i++)
		in_msg(msg, len, sh.ext[i].off, sh.ext[i].len);
	if (sh.key_off) {
		check(!sh.is_hrr && sh.key_len >= 1);
		in_msg(msg, len, sh.key_off, sh.key_len);
	}
	if (sh.cookie_off)
		in_msg(msg, len, sh.cookie_off, sh.cookie_len);
	if (tls13_msg_ch_parse(&ch, rfc8448_ch, sizeof(rfc8448_ch)) != 0)
		abort();
	rc = tls13_msg_sh_check(&sh, &ch);
	check(rc == 0 || rc == ERR_PROTO);

	/* Splice a new key share in a copy: only those bytes change. */
	if (sh.key_off) {
		struct tls13_msg_sh sc;
		memcpy(copy, msg, len);
		check(tls13_msg_sh_parse(&sc, copy, len) == 0);
		memset(rebuilt, 0xc3, sh.key_len);
		check(tls13_msg_sh_replace_key(&sc, copy, rebuilt, sh.key_len) == 0);
		check(memcmp(copy, msg, sh.key_off) == 0 && memcmp(copy + sh.key_off, rebuilt, sh.key_len) == 0 &&
		      memcmp(copy + sh.key_off + sh.key_len, msg + sh.key_off + sh.key_len,
		             len - sh.key_off - sh.key_len) == 0);
		check(tls13_msg_sh_parse(&sc, copy, len) == 0 && sc.key_off == sh.key_off);
	} else {
		check(tls13_msg_sh_replace_key(&sh, copy, rebuilt, 32) == -EINVAL);
	}
}

static void encrypted_extensions(const uint8_t *msg, size_t len)
{
	static struct tls13_msg_ee ee, untouched;
	static struct tls13_msg_ext_in ext[TLS13_MSG_EE_MAX_EXT];
	const uint8_t *p;
	size_t n;

	memset(&ee, 0x5a, sizeof(ee));
	memset(&untouched, 0x5a, sizeof(untouched));
	if (tls13_msg_ee_parse(&ee, msg, len) != 0) {
		check(memcmp(&ee, &untouched, sizeof(ee)) == 0);
		return;
	}
	for (size_t i = 0; i < ee.ext_count; i++) {
		in_msg(msg, len, ee.ext[i].off, ee.ext[i].len);
		ext[i].type = ee.ext[i].type;
		ext[i].data = msg + ee.ext[i].off;
		ext[i].len = ee.ext[i].len;
	}
	if (tls13_msg_ee_alpn(&ee, &p, &n) == 0) {
		check(n >= 1 && n <= 255);
		in_msg(msg, len, (size_t)(p - msg), n);
	}
	int rc = tls13_msg_ee_build(ext, ee.ext_count, rebuilt, sizeof(rebuilt), &n);
	same(rc, n, msg, len);
}

static void certificate(const uint8_t *msg, size_t len)
{
	static struct tls13_msg_cert c, untouched;
	static struct tls13_msg_cert_in in[TLS13_MSG_CERT_MAX];
	const uint8_t *der;
	size_t n;

	memset(&c, 0x5a, sizeof(c));
	memset(&untouched, 0x5a, sizeof(untouched));
	if (tls13_msg_cert_parse(&c, msg, len) != 0) {
		check(memcmp(&c, &untouched, sizeof(c)) == 0);
		return;
	}
	in_msg(msg, len, c.ctx_off, c.ctx_len);
	check(c.count <= TLS13_MSG_CERT_MAX);
	for (size_t i = 0; i < c.count; i++) {
		check(tls13_msg_cert_get(&c, i, &der, &n) == 0 && n >= 1);
		in_msg(msg, len, (size_t)(der - msg), n);
		in_msg(msg, len, c.entry[i].ext_off, c.entry[i].ext_len);
		in[i].der = der;
		in[i].len = n;
		in[i].ext = msg + c.entry[i].ext_off;
		in[i].ext_len = c.entry[i].ext_len;
	}
	check(tls13_msg_cert_get(&c, c.count, &der, &n) == ERR_NOTFOUND);
	int rc = tls13_msg_cert_build(msg + c.ctx_off, c.ctx_len, in, c.count, rebuilt, sizeof(rebuilt), &n);
	same(rc, n, msg, len);
}

static void certificate_verify(const uint8_t *msg, size_t len)
{
	static struct tls13_msg_cv cv, untouched;
	size_t n;

	memset(&cv, 0x5a, sizeof(cv));
	memset(&untouched, 0x5a, sizeof(untouched));
	if (tls13_msg_cv_parse(&cv, msg, len) != 0) {
		check(memcmp(&cv, &untouched, sizeof(cv)) == 0);
		return;
	}
	in_msg(msg, len, cv.sig_off, cv.sig_len);
	int rc = tls13_msg_cv_build(cv.scheme, msg + cv.sig_off, cv.sig_len, rebuilt, sizeof(rebuilt), &n);
	same(rc, n, msg, len);
}

static void finished(const uint8_t *msg, size_t len)
{
	static const uint8_t secret[48] = { 7 }, thash[48] = { 9 };
	const uint8_t *v;

	for (size_t hl = 32; hl <= 48; hl += 16) {
		if (tls13_msg_fin_parse(msg, len, hl, &v) == 0) {
			check(v == msg + TLS_HS_HEADER_LEN && len == TLS_HS_HEADER_LEN + hl);
			int rc = tls13_msg_fin_verify(hl == 32 ? TLS13_SHA256 : TLS13_SHA384, secret, thash, msg, len);
			check(rc == 0 || rc == ERR_AUTH);
		}
	}
}

static void parse(uint8_t type, const uint8_t *msg, size_t len)
{
	bool req;

	switch (type) {
	case TLS_HS_SERVER_HELLO:
		server_hello(msg, len);
		break;
	case TLS_HS_ENCRYPTED_EXTENSIONS:
		encrypted_extensions(msg, len);
		break;
	case TLS_HS_CERTIFICATE:
		certificate(msg, len);
		break;
	case TLS_HS_CERTIFICATE_VERIFY:
		certificate_verify(msg, len);
		break;
	case TLS_HS_FINISHED:
		finished(msg, len);
		break;
	case TLS_HS_KEY_UPDATE:
		if (tls13_msg_key_update_parse(msg, len, &req) == 0)
			check(len == 5 && msg[4] == (req ? 1 : 0));
		break;
	case TLS_HS_NEW_SESSION_TICKET: {
		int rc = tls13_msg_nst_check(msg, len);
		check(rc == 0 || rc == ERR_PARSE || rc == ERR_TOOBIG);
		break;
	}
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint8_t type;

	if (size < 1 || size > MAX_INPUT)
		return 0;
	type = types[data[0] % sizeof(types)];
	data++;
	size--;
	parse(type, data, size);
	framed[0] = type;
	tls_put_u24(framed + 1, (uint32_t)size);
	memcpy(framed + TLS_HS_HEADER_LEN, data, size);
	parse(type, framed, size + TLS_HS_HEADER_LEN);
	return 0;
}
