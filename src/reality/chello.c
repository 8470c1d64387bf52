/* Chrome-shaped ClientHello for the REALITY client: see chello.h and
 * specs/reality.md §2.1-2.3. */
#include "reality/chello.h"

#include <errno.h>
#include <stdbool.h>
#include <string.h>

#include <sodium.h>

#include "lib/rng.h"
#include "lib/text.h"
#include "reality/tls13_msg.h"

/* Chrome's cipher suites after the GREASE one (utls HelloChrome_133). */
static const uint16_t chrome_suites[] = {
	TLS_AES_128_GCM_SHA256, TLS_AES_256_GCM_SHA384, TLS_CHACHA20_POLY1305_SHA256,
	0xc02b, 0xc02f, 0xc02c, 0xc030, 0xcca9, 0xcca8, 0xc013, 0xc014, 0x009c, 0x009d, 0x002f, 0x0035,
};

static const uint16_t chrome_sig_algs[] = {
	TLS_SIG_ECDSA_SECP256R1_SHA256, TLS_SIG_RSA_PSS_RSAE_SHA256, TLS_SIG_RSA_PKCS1_SHA256,
	TLS_SIG_ECDSA_SECP384R1_SHA384, TLS_SIG_RSA_PSS_RSAE_SHA384, TLS_SIG_RSA_PKCS1_SHA384,
	TLS_SIG_RSA_PSS_RSAE_SHA512,    TLS_SIG_RSA_PKCS1_SHA512,
};

/* The shuffled extensions, by index into chello_rand.order. */
enum {
	X_SNI, X_EMS, X_RENEG, X_GROUPS, X_POINTS, X_TICKET, X_ALPN, X_STATUS, X_SIGALGS, X_SCT, X_KEY_SHARE,
	X_PSK_MODES, X_VERSIONS, X_COMPRESS_CERT, X_ALPS, X_ECH,
};
static_assert(X_ECH + 1 == CHELLO_N_SHUFFLED, "one index per shuffled extension");

enum {
	ECH_OUTER = 0,
	HPKE_KDF_HKDF_SHA256 = 0x0001,
	HPKE_AEAD_AES_128_GCM = 0x0001,
	CERT_COMPRESSION_BROTLI = 2,
	STATUS_TYPE_OCSP = 1,
};

static const uint16_t ech_payload_lens[] = {144, 176, 208, 240};

static uint16_t grease_value(void)
{
	uint8_t b = (uint8_t)((rng_u32() & 0xf0) | 0x0a);
	return (uint16_t)(b << 8 | b);
}

void chello_rand_fill(struct chello_rand *r)
{
	rng_bytes(r->random, sizeof(r->random));
	r->grease_suite = grease_value();
	r->grease_group = grease_value();
	r->grease_ext1 = grease_value();
	r->grease_ext2 = grease_value();
	if (r->grease_ext2 == r->grease_ext1)
		r->grease_ext2 ^= 0x1010; /* BoringSSL keeps the two extension values apart */
	r->grease_version = grease_value();
	for (unsigned i = 0; i < CHELLO_N_SHUFFLED; i++)
		r->order[i] = (uint8_t)i;
	for (unsigned i = CHELLO_N_SHUFFLED - 1; i > 0; i--) {
		unsigned j = rng_uniform(i + 1);
		uint8_t t = r->order[i];
		r->order[i] = r->order[j];
		r->order[j] = t;
	}
	r->ech_config_id = (uint8_t)rng_u32();
	rng_bytes(r->ech_enc, sizeof(r->ech_enc));
	r->ech_payload_len = ech_payload_lens[rng_uniform(4)];
	rng_bytes(r->ech_payload, r->ech_payload_len);
}

int chello_keys_generate(struct chello_keys *k)
{
	int rc = reality_auth_x25519_keypair(k->x25519_priv, k->x25519_pub);
	if (rc == 0)
		rc = reality_auth_x25519_keypair(k->hybrid_x25519_priv, k->hybrid_x25519_pub);
	if (rc == 0)
		rc = mlkem_keygen(k->mlkem_ek, k->mlkem_dk);
	if (rc < 0)
		chello_keys_wipe(k);
	return rc;
}

void chello_keys_wipe(struct chello_keys *k)
{
	sodium_memzero(k, sizeof(*k));
}

static bool order_ok(const uint8_t order[CHELLO_N_SHUFFLED])
{
	unsigned seen = 0;
	for (unsigned i = 0; i < CHELLO_N_SHUFFLED; i++) {
		if (order[i] >= CHELLO_N_SHUFFLED || (seen & (1u << order[i])))
			return false;
		seen |= 1u << order[i];
	}
	return true;
}

static void ext_open(struct tls13_msg_wr *w, uint16_t type)
{
	tls13_msg_wr_u16(w, type);
	tls13_msg_wr_open(w, 2);
}

static void put_ext(struct tls13_msg_wr *w, unsigned which, const char *sni, size_t sni_len,
                    const struct chello_keys *k, const struct chello_rand *r)
{
	switch (which) {
	case X_SNI:
		if (!sni_len)
			return;
		ext_open(w, TLS_EXT_SERVER_NAME);
		tls13_msg_wr_open(w, 2);
		tls13_msg_wr_u8(w, TLS_SNI_HOST_NAME);
		tls13_msg_wr_open(w, 2);
		tls13_msg_wr_bytes(w, sni, sni_len);
		tls13_msg_wr_close(w);
		tls13_msg_wr_close(w);
		break;
	case X_EMS:
		ext_open(w, TLS_EXT_EXTENDED_MASTER_SECRET);
		break;
	case X_RENEG:
		ext_open(w, TLS_EXT_RENEGOTIATION_INFO);
		tls13_msg_wr_u8(w, 0); /* empty renegotiated_connection */
		break;
	case X_GROUPS:
		ext_open(w, TLS_EXT_SUPPORTED_GROUPS);
		tls13_msg_wr_open(w, 2);
		tls13_msg_wr_u16(w, r->grease_group);
		tls13_msg_wr_u16(w, TLS_GROUP_X25519MLKEM768);
		tls13_msg_wr_u16(w, TLS_GROUP_X25519);
		tls13_msg_wr_u16(w, TLS_GROUP_SECP256R1);
		tls13_msg_wr_u16(w, TLS_GROUP_SECP384R1);
		tls13_msg_wr_close(w);
		break;
	case X_POINTS:
		ext_open(w, TLS_EXT_EC_POINT_FORMATS);
		tls13_msg_wr_u8(w, 1);
		tls13_msg_wr_u8(w, 0); /* uncompressed */
		break;
	case X_TICKET:
		ext_open(w, TLS_EXT_SESSION_TICKET);
		break;
	case X_ALPN:
		ext_open(w, TLS_EXT_ALPN);
		tls13_msg_wr_open(w, 2);
		tls13_msg_wr_u8(w, 2);
		tls13_msg_wr_bytes(w, "h2", 2);
		tls13_msg_wr_u8(w, 8);
		tls13_msg_wr_bytes(w, "http/1.1", 8);
		tls13_msg_wr_close(w);
		break;
	case X_STATUS:
		ext_open(w, TLS_EXT_STATUS_REQUEST);
		tls13_msg_wr_u8(w, STATUS_TYPE_OCSP);
		tls13_msg_wr_u16(w, 0); /* responder_id_list */
		tls13_msg_wr_u16(w, 0); /* request_extensions */
		break;
	case X_SIGALGS:
		ext_open(w, TLS_EXT_SIGNATURE_ALGORITHMS);
		tls13_msg_wr_open(w, 2);
		for (size_t i = 0; i < sizeof(chrome_sig_algs) / sizeof(chrome_sig_algs[0]); i++)
			tls13_msg_wr_u16(w, chrome_sig_algs[i]);
		tls13_msg_wr_close(w);
		break;
	case X_SCT:
		ext_open(w, TLS_EXT_SCT);
		break;
	case X_KEY_SHARE:
		ext_open(w, TLS_EXT_KEY_SHARE);
		tls13_msg_wr_open(w, 2);
		tls13_msg_wr_u16(w, r->grease_group);
		tls13_msg_wr_u16(w, 1);
		tls13_msg_wr_u8(w, 0);
		tls13_msg_wr_u16(w, TLS_GROUP_X25519MLKEM768);
		tls13_msg_wr_u16(w, TLS_X25519MLKEM768_CLIENT_LEN);
		tls13_msg_wr_bytes(w, k->mlkem_ek, MLKEM_EK_LEN);
		tls13_msg_wr_bytes(w, k->hybrid_x25519_pub, TLS_X25519_LEN);
		tls13_msg_wr_u16(w, TLS_GROUP_X25519);
		tls13_msg_wr_u16(w, TLS_X25519_LEN);
		tls13_msg_wr_bytes(w, k->x25519_pub, TLS_X25519_LEN);
		tls13_msg_wr_close(w);
		break;
	case X_PSK_MODES:
		ext_open(w, TLS_EXT_PSK_KEY_EXCHANGE_MODES);
		tls13_msg_wr_u8(w, 1);
		tls13_msg_wr_u8(w, TLS_PSK_DHE_KE);
		break;
	case X_VERSIONS:
		ext_open(w, TLS_EXT_SUPPORTED_VERSIONS);
		tls13_msg_wr_u8(w, 6);
		tls13_msg_wr_u16(w, r->grease_version);
		tls13_msg_wr_u16(w, TLS_VERSION_13);
		tls13_msg_wr_u16(w, TLS_VERSION_12);
		break;
	case X_COMPRESS_CERT:
		ext_open(w, TLS_EXT_COMPRESS_CERTIFICATE);
		tls13_msg_wr_u8(w, 2);
		tls13_msg_wr_u16(w, CERT_COMPRESSION_BROTLI);
		break;
	case X_ALPS:
		ext_open(w, TLS_EXT_APPLICATION_SETTINGS);
		tls13_msg_wr_open(w, 2);
		tls13_msg_wr_u8(w, 2);
		tls13_msg_wr_bytes(w, "h2", 2);
		tls13_msg_wr_close(w);
		break;
	case X_ECH:
		ext_open(w, TLS_EXT_ENCRYPTED_CLIENT_HELLO);
		tls13_msg_wr_u8(w, ECH_OUTER);
		tls13_msg_wr_u16(w, HPKE_KDF_HKDF_SHA256);
		tls13_msg_wr_u16(w, HPKE_AEAD_AES_128_GCM);
		tls13_msg_wr_u8(w, r->ech_config_id);
		tls13_msg_wr_u16(w, CHELLO_ECH_ENC_LEN);
		tls13_msg_wr_bytes(w, r->ech_enc, CHELLO_ECH_ENC_LEN);
		tls13_msg_wr_u16(w, r->ech_payload_len);
		tls13_msg_wr_bytes(w, r->ech_payload, r->ech_payload_len);
		break;
	default:
		return;
	}
	tls13_msg_wr_close(w);
}

int chello_build(const char *server_name, const struct chello_keys *k, const struct chello_rand *r,
                 uint8_t *out, size_t cap, size_t *len)
{
	struct tls13_msg_wr w;
	size_t sni_len = server_name ? strlen(server_name) : 0;

	*len = 0;
	if ((sni_len && !text_is_dns_name(server_name)) || !order_ok(r->order) ||
	    !tls13_msg_is_grease(r->grease_suite) || !tls13_msg_is_grease(r->grease_group) ||
	    !tls13_msg_is_grease(r->grease_ext1) || !tls13_msg_is_grease(r->grease_ext2) ||
	    r->grease_ext1 == r->grease_ext2 || !tls13_msg_is_grease(r->grease_version) ||
	    r->ech_payload_len > CHELLO_ECH_PAYLOAD_MAX)
		return -EINVAL;
	tls13_msg_wr_init(&w, out, cap);
	tls13_msg_wr_hs_open(&w, TLS_HS_CLIENT_HELLO);
	tls13_msg_wr_u16(&w, TLS_VERSION_12);
	tls13_msg_wr_bytes(&w, r->random, TLS_RANDOM_LEN);
	tls13_msg_wr_u8(&w, REALITY_SESSION_ID_LEN);
	tls13_msg_wr_zeros(&w, REALITY_SESSION_ID_LEN);
	tls13_msg_wr_open(&w, 2);
	tls13_msg_wr_u16(&w, r->grease_suite);
	for (size_t i = 0; i < sizeof(chrome_suites) / sizeof(chrome_suites[0]); i++)
		tls13_msg_wr_u16(&w, chrome_suites[i]);
	tls13_msg_wr_close(&w);
	tls13_msg_wr_u8(&w, 1);
	tls13_msg_wr_u8(&w, 0);
	tls13_msg_wr_open(&w, 2);
	tls13_msg_wr_u16(&w, r->grease_ext1); /* first: empty GREASE */
	tls13_msg_wr_u16(&w, 0);
	for (unsigned i = 0; i < CHELLO_N_SHUFFLED; i++)
		put_ext(&w, r->order[i], server_name, sni_len, k, r);
	tls13_msg_wr_u16(&w, r->grease_ext2); /* last: GREASE with one zero byte */
	tls13_msg_wr_u16(&w, 1);
	tls13_msg_wr_u8(&w, 0);
	tls13_msg_wr_close(&w);
	tls13_msg_wr_close(&w);
	return tls13_msg_wr_finish(&w, len);
}

int chello_seal(uint8_t *ch, size_t len, const struct chello_keys *k, const uint8_t server_pub[REALITY_KEY_LEN],
                const struct reality_auth_fields *fields, uint8_t auth_key[REALITY_KEY_LEN])
{
	uint8_t plain[REALITY_AUTH_PLAIN_LEN];
	int rc;

	if (len < REALITY_SESSION_ID_OFFSET + REALITY_SESSION_ID_LEN)
		return ERR_PARSE;
	rc = reality_auth_key_from_ecdh(auth_key, k->x25519_priv, server_pub, ch + TLS_HS_HEADER_LEN + 2);
	if (rc < 0)
		goto out;
	reality_auth_fields_encode(fields, plain);
	rc = reality_auth_seal(auth_key, ch, len, plain);
out:
	if (rc < 0)
		sodium_memzero(auth_key, REALITY_KEY_LEN);
	sodium_memzero(plain, sizeof(plain));
	return rc;
}
