/* Fuzz target for the REALITY client's handling of the server's first
 * flight (reality/reality_client): ServerHello, CCS, then the encrypted
 * EncryptedExtensions, Certificate, CertificateVerify and Finished.
 *
 * The client is made deterministic (fixed hello randomness and keys). The
 * first input byte picks the mode:
 *   even: the rest of the input is the server's byte stream as is;
 *   odd:  the harness plays the server up to its handshake keys (a valid
 *         X25519 ServerHello with the suite byte 1 selects, and a CCS), then
 *         seals the rest of the input as records under the server's
 *         handshake key: each piece is a 2-byte header (top bit: content
 *         type application data instead of handshake; low 14 bits: length)
 *         and that many bytes. This reaches the parsers behind the AEAD.
 * The input is fed in two parts to exercise partial records. Invariants:
 * nothing crashes or leaks; a connection that did not end in
 * REALITY_CLIENT_OURS never accepts application data to send. */
#include <stdlib.h>
#include <string.h>

#include "lib/buf.h"
#include "reality/reality_auth.h"
#include "reality/reality_client.h"
#include "reality/tls13_msg.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FLIGHT_MAX (80 * 1024)

static void check(bool ok)
{
	if (!ok)
		abort();
}

static void fixed_client(struct reality_client *c)
{
	static struct chello_keys k;
	static struct chello_rand r;
	static const uint8_t seed[MLKEM_SEED_LEN] = {1, 2, 3};
	struct reality_client_config cfg = {.server_name = "www.example.com"};

	memset(&k, 0, sizeof(k));
	memset(&r, 0, sizeof(r));
	for (int i = 0; i < 32; i++) {
		k.x25519_priv[i] = (uint8_t)(0x40 + i);
		k.hybrid_x25519_priv[i] = (uint8_t)(0x60 + i);
		cfg.server_pub[i] = (uint8_t)(0x09 * (i + 1));
		r.random[i] = (uint8_t)i;
	}
	check(reality_auth_x25519_public(k.x25519_pub, k.x25519_priv) == 0);
	check(reality_auth_x25519_public(k.hybrid_x25519_pub, k.hybrid_x25519_priv) == 0);
	mlkem_keygen_derand(k.mlkem_ek, k.mlkem_dk, seed);
	r.grease_suite = 0x0a0a;
	r.grease_group = 0x1a1a;
	r.grease_ext1 = 0x2a2a;
	r.grease_ext2 = 0x3a3a;
	r.grease_version = 0x4a4a;
	for (int i = 0; i < CHELLO_N_SHUFFLED; i++)
		r.order[i] = (uint8_t)i;
	r.ech_payload_len = 144;
	check(reality_client_init(c, &cfg, 1767225600u, &r, &k) == 0);
}

/* Server side up to its handshake keys; appends SH and CCS to flight. */
static size_t play_server(struct reality_client *c, uint16_t suite_id, struct tls13_record *rec, uint8_t *flight)
{
	static const uint8_t eph[32] = {0x77, 0x11}, random[32] = {0x5e}, ccs = 1;
	const struct tls13_keysched_suite *suite = tls13_keysched_suite(suite_id);
	struct tls13_keysched ks;
	struct tls13_keysched_transcript tr = {0};
	uint8_t pub[32], ss[32], sh[256], thash[TLS_MAX_HASH_LEN];
	size_t sh_len, w, len = 0;
	struct tls13_msg_sh_spec spec = {.random = random, .sid = c->ch + REALITY_SESSION_ID_OFFSET, .sid_len = 32,
	                                 .suite = suite_id, .group = TLS_GROUP_X25519, .key = pub, .key_len = 32};

	memset(&ks, 0, sizeof(ks));
	check(reality_auth_x25519_public(pub, eph) == 0);
	check(reality_auth_x25519(ss, eph, c->keys.x25519_pub) == 0);
	check(tls13_msg_sh_build(&spec, sh, sizeof(sh), &sh_len) == 0);
	check(tls13_record_write_plain(rec, TLS_CT_HANDSHAKE, sh, sh_len, flight, FLIGHT_MAX, &w) == 0);
	len += w;
	check(tls13_record_write_plain(rec, TLS_CT_CHANGE_CIPHER_SPEC, &ccs, 1, flight + len, FLIGHT_MAX - len, &w) ==
	      0);
	len += w;
	check(tls13_keysched_transcript_init(&tr, suite->hash) == 0);
	check(tls13_keysched_transcript_update(&tr, c->ch, c->ch_len) == 0);
	check(tls13_keysched_transcript_update(&tr, sh, sh_len) == 0);
	check(tls13_keysched_transcript_hash(&tr, thash) == 0);
	check(tls13_keysched_init(&ks, suite, NULL, 0) == 0);
	check(tls13_keysched_handshake(&ks, ss, sizeof(ss), thash) == 0);
	check(tls13_record_set_secret(rec, true, suite_id, ks.s_hs, TLS13_EPOCH_HANDSHAKE) == 0);
	tls13_keysched_transcript_fini(&tr);
	tls13_keysched_wipe(&ks);
	return len;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const uint16_t suites[] = {TLS_AES_128_GCM_SHA256, TLS_AES_256_GCM_SHA384, TLS_CHACHA20_POLY1305_SHA256};
	static struct reality_client c;
	static uint8_t flight[FLIGHT_MAX];
	struct tls13_record rec;
	struct buf out;
	size_t len = 0, used, half;
	int rc;

	if (size < 2 || size > 64 * 1024)
		return 0;
	fixed_client(&c);
	buf_init(&out, 1 << 20);
	if (data[0] & 1) {
		check(tls13_record_init(&rec, TLS13_RECORD_SERVER) == 0);
		len = play_server(&c, suites[data[1] % 3], &rec, flight);
		for (size_t at = 2; at + 2 <= size;) {
			size_t n = (size_t)(data[at] & 0x3f) << 8 | data[at + 1], w;
			uint8_t type = data[at] & 0x80 ? TLS_CT_APPLICATION_DATA : TLS_CT_HANDSHAKE;
			at += 2;
			if (n > size - at)
				n = size - at;
			if (n > TLS_MAX_PLAINTEXT)
				n = TLS_MAX_PLAINTEXT;
			if (tls13_record_seal(&rec, type, data + at, n, 0, flight + len, FLIGHT_MAX - len, &w) == 0)
				len += w;
			at += n;
		}
		tls13_record_fini(&rec);
	} else {
		len = size - 1;
		memcpy(flight, data + 1, len);
	}
	half = len / 2;
	rc = reality_client_handshake(&c, flight, half, &used, &out);
	if (rc == 0) {
		/* Unused bytes of the first part are offered again with the rest. */
		size_t used2;
		rc = reality_client_handshake(&c, flight + used, len - used, &used2, &out);
		used += used2;
	}
	if (rc == REALITY_CLIENT_OURS) {
		const uint8_t *d;
		size_t dlen, u;
		while (used < len && reality_client_read(&c, flight + used, len - used, &u, &d, &dlen, &out) == 1)
			used += u;
	} else {
		check(reality_client_write(&c, data, 1, &out) == ERR_BADSTATE);
	}
	buf_fini(&out);
	reality_client_fini(&c);
	return 0;
}
