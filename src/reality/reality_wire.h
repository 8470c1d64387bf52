/* Every wire constant of TLS 1.3 (RFC 8446) as REALITY uses it, and the few
 * REALITY adds on top (specs/reality.md §0, §2, §3), in one place. All
 * integers on the wire are big-endian. Nothing here allocates or does I/O.
 *
 * The numbers are IANA's (TLS parameters registries); where a value comes
 * from somewhere else (Chrome's ALPS codepoint, the hybrid group) the comment
 * says so. */
#ifndef PHAROS_REALITY_WIRE_H
#define PHAROS_REALITY_WIRE_H

#include <assert.h>
#include <stdint.h>

/* Versions (RFC 8446 §4.1.2, §4.2.1, §5.1). */
enum {
	TLS_VERSION_10 = 0x0301, /* record version of an initial ClientHello */
	TLS_VERSION_12 = 0x0303, /* legacy_version / legacy_record_version */
	TLS_VERSION_13 = 0x0304, /* only ever inside supported_versions */
};

/* Record layer (RFC 8446 §5.1, §5.2). */
enum {
	TLS_CT_INVALID = 0,
	TLS_CT_CHANGE_CIPHER_SPEC = 20,
	TLS_CT_ALERT = 21,
	TLS_CT_HANDSHAKE = 22,
	TLS_CT_APPLICATION_DATA = 23,
};

#define TLS_RECORD_HEADER_LEN 5
#define TLS_MAX_PLAINTEXT     16384u                   /* 2^14 */
#define TLS_MAX_INNER         (TLS_MAX_PLAINTEXT + 1)  /* TLSInnerPlaintext: content, type, zeros */
#define TLS_MAX_CIPHERTEXT    (TLS_MAX_PLAINTEXT + 256)
#define TLS_MAX_RECORD        (TLS_RECORD_HEADER_LEN + TLS_MAX_CIPHERTEXT)
#define TLS_AEAD_TAG_LEN      16
#define TLS_AEAD_NONCE_LEN    12
/* Smallest protected record: header, one inner type byte, tag. */
#define TLS_RECORD_OVERHEAD   (TLS_RECORD_HEADER_LEN + 1 + TLS_AEAD_TAG_LEN)
/* The one ChangeCipherSpec record TLS 1.3 peers send for middlebox
 * compatibility (RFC 8446 §5, D.4): 14 03 03 00 01 01. */
#define TLS_CCS_BYTE          0x01
#define TLS_CCS_RECORD_LEN    6

/* Usage limits (RFC 8446 §5.3, §5.5). The sequence number may not wrap;
 * AES-GCM keys should be updated before 2^24.5 full-size records, so we ask
 * for a KeyUpdate after 2^24 records whatever the suite. */
#define TLS_SEQ_MAX                UINT64_MAX
#define TLS_REKEY_AFTER_RECORDS    (1ULL << 24)

/* Handshake messages (RFC 8446 §4, B.3; 25 is RFC 8879). */
enum {
	TLS_HS_CLIENT_HELLO = 1,
	TLS_HS_SERVER_HELLO = 2,
	TLS_HS_NEW_SESSION_TICKET = 4,
	TLS_HS_END_OF_EARLY_DATA = 5,
	TLS_HS_ENCRYPTED_EXTENSIONS = 8,
	TLS_HS_CERTIFICATE = 11,
	TLS_HS_CERTIFICATE_REQUEST = 13,
	TLS_HS_CERTIFICATE_VERIFY = 15,
	TLS_HS_FINISHED = 20,
	TLS_HS_KEY_UPDATE = 24,
	TLS_HS_COMPRESSED_CERTIFICATE = 25,
	TLS_HS_MESSAGE_HASH = 254,
};
#define TLS_HS_HEADER_LEN 4            /* type, uint24 length */
#define TLS_HS_MAX_BODY   0xffffffu    /* what a uint24 can say */
#define TLS_HS_REASM_MAX  (64u * 1024) /* our cap on one message body */

/* Extensions (RFC 8446 §4.2 and the registry). */
enum {
	TLS_EXT_SERVER_NAME = 0,
	TLS_EXT_STATUS_REQUEST = 5,
	TLS_EXT_SUPPORTED_GROUPS = 10,
	TLS_EXT_EC_POINT_FORMATS = 11,
	TLS_EXT_SIGNATURE_ALGORITHMS = 13,
	TLS_EXT_ALPN = 16,
	TLS_EXT_SCT = 18,
	TLS_EXT_PADDING = 21,
	TLS_EXT_EXTENDED_MASTER_SECRET = 23,
	TLS_EXT_COMPRESS_CERTIFICATE = 27,
	TLS_EXT_RECORD_SIZE_LIMIT = 28,
	TLS_EXT_SESSION_TICKET = 35,
	TLS_EXT_PRE_SHARED_KEY = 41,
	TLS_EXT_EARLY_DATA = 42,
	TLS_EXT_SUPPORTED_VERSIONS = 43,
	TLS_EXT_COOKIE = 44,
	TLS_EXT_PSK_KEY_EXCHANGE_MODES = 45,
	TLS_EXT_CERTIFICATE_AUTHORITIES = 47,
	TLS_EXT_SIGNATURE_ALGORITHMS_CERT = 50,
	TLS_EXT_KEY_SHARE = 51,
	TLS_EXT_APPLICATION_SETTINGS = 0x44cd, /* ALPS, Chrome's new codepoint (§2.1) */
	TLS_EXT_ENCRYPTED_CLIENT_HELLO = 0xfe0d,
	TLS_EXT_RENEGOTIATION_INFO = 0xff01,
};

/* Named groups (RFC 8446 §4.2.7; 0x11ec is draft-kwiatkowski-tls-ecdhe-mlkem). */
enum {
	TLS_GROUP_SECP256R1 = 0x0017,
	TLS_GROUP_SECP384R1 = 0x0018,
	TLS_GROUP_SECP521R1 = 0x0019,
	TLS_GROUP_X25519 = 0x001d,
	TLS_GROUP_X25519MLKEM768 = 0x11ec,
};
#define TLS_X25519_LEN           32
#define TLS_P256_POINT_LEN       65  /* uncompressed: 04 ‖ x ‖ y (RFC 8446 §4.2.8.2) */
#define TLS_P384_POINT_LEN       97
#define TLS_P521_POINT_LEN       133
#define TLS_MLKEM768_EK_LEN      1184
#define TLS_MLKEM768_CT_LEN      1088
#define TLS_MLKEM768_SS_LEN      32
/* X25519MLKEM768 puts ML-KEM first: client ek ‖ x25519, server ct ‖ x25519. */
#define TLS_X25519MLKEM768_CLIENT_LEN (TLS_MLKEM768_EK_LEN + TLS_X25519_LEN)
#define TLS_X25519MLKEM768_SERVER_LEN (TLS_MLKEM768_CT_LEN + TLS_X25519_LEN)
#define TLS_X25519MLKEM768_SS_LEN     (TLS_MLKEM768_SS_LEN + TLS_X25519_LEN)
/* Largest (EC)DHE shared secret we feed the key schedule. */
#define TLS_MAX_SHARED_SECRET    TLS_X25519MLKEM768_SS_LEN

/* Cipher suites (RFC 8446 B.4). */
enum {
	TLS_AES_128_GCM_SHA256 = 0x1301,
	TLS_AES_256_GCM_SHA384 = 0x1302,
	TLS_CHACHA20_POLY1305_SHA256 = 0x1303,
};
#define TLS_MAX_HASH_LEN 48 /* SHA-384 */
#define TLS_MAX_KEY_LEN  32

/* Signature schemes (RFC 8446 §4.2.3) that Chrome offers, and Ed25519,
 * which REALITY's CertificateVerify uses although Chrome does not offer it. */
enum {
	TLS_SIG_RSA_PKCS1_SHA256 = 0x0401,
	TLS_SIG_RSA_PKCS1_SHA384 = 0x0501,
	TLS_SIG_RSA_PKCS1_SHA512 = 0x0601,
	TLS_SIG_ECDSA_SECP256R1_SHA256 = 0x0403,
	TLS_SIG_ECDSA_SECP384R1_SHA384 = 0x0503,
	TLS_SIG_RSA_PSS_RSAE_SHA256 = 0x0804,
	TLS_SIG_RSA_PSS_RSAE_SHA384 = 0x0805,
	TLS_SIG_RSA_PSS_RSAE_SHA512 = 0x0806,
	TLS_SIG_ED25519 = 0x0807,
};

/* psk_key_exchange_modes (RFC 8446 §4.2.9), KeyUpdate (§4.6.3). */
enum {
	TLS_PSK_KE = 0,
	TLS_PSK_DHE_KE = 1,
	TLS_KEY_UPDATE_NOT_REQUESTED = 0,
	TLS_KEY_UPDATE_REQUESTED = 1,
};

/* server_name (RFC 6066 §3). */
#define TLS_SNI_HOST_NAME 0

/* Alerts (RFC 8446 §6). In TLS 1.3 every alert but close_notify and
 * user_canceled is fatal whatever its level byte says. */
enum {
	TLS_ALERT_LEVEL_WARNING = 1,
	TLS_ALERT_LEVEL_FATAL = 2,
};
enum {
	TLS_ALERT_CLOSE_NOTIFY = 0,
	TLS_ALERT_UNEXPECTED_MESSAGE = 10,
	TLS_ALERT_BAD_RECORD_MAC = 20,
	TLS_ALERT_RECORD_OVERFLOW = 22,
	TLS_ALERT_HANDSHAKE_FAILURE = 40,
	TLS_ALERT_BAD_CERTIFICATE = 42,
	TLS_ALERT_UNSUPPORTED_CERTIFICATE = 43,
	TLS_ALERT_CERTIFICATE_EXPIRED = 45,
	TLS_ALERT_CERTIFICATE_UNKNOWN = 46,
	TLS_ALERT_ILLEGAL_PARAMETER = 47,
	TLS_ALERT_UNKNOWN_CA = 48,
	TLS_ALERT_DECODE_ERROR = 50,
	TLS_ALERT_DECRYPT_ERROR = 51,
	TLS_ALERT_PROTOCOL_VERSION = 70,
	TLS_ALERT_INSUFFICIENT_SECURITY = 71,
	TLS_ALERT_INTERNAL_ERROR = 80,
	TLS_ALERT_USER_CANCELED = 90,
	TLS_ALERT_MISSING_EXTENSION = 109,
	TLS_ALERT_UNSUPPORTED_EXTENSION = 110,
	TLS_ALERT_UNRECOGNIZED_NAME = 112,
	TLS_ALERT_NO_APPLICATION_PROTOCOL = 120,
};
#define TLS_ALERT_LEN 2

/* Hello messages (RFC 8446 §4.1.2, §4.1.3). */
#define TLS_RANDOM_LEN          32
#define TLS_SESSION_ID_MAX      32
/* ServerHello.random of a HelloRetryRequest: SHA-256("HelloRetryRequest"). */
#define TLS_HRR_RANDOM                                                                     \
	"\xcf\x21\xad\x74\xe5\x9a\x61\x11\xbe\x1d\x8c\x02\x1e\x65\xb8\x91"                 \
	"\xc2\xa2\x11\x16\x7a\xbb\x8c\x5e\x07\x9e\x09\xe2\xc8\xa8\x33\x9c"
/* Last 8 bytes of a TLS 1.3 server's random when it negotiates TLS 1.2 or
 * below (RFC 8446 §4.1.3): "DOWNGRD" then 01 (TLS 1.2) or 00. */
#define TLS_DOWNGRADE_PREFIX     "DOWNGRD"
#define TLS_DOWNGRADE_PREFIX_LEN 7

/* CertificateVerify signed content (RFC 8446 §4.4.3): 64 spaces, the
 * context string, a zero byte, then the transcript hash. */
#define TLS_CV_PAD_LEN          64
#define TLS_CV_SERVER_CONTEXT   "TLS 1.3, server CertificateVerify"
#define TLS_CV_CLIENT_CONTEXT   "TLS 1.3, client CertificateVerify"
#define TLS_CV_CONTEXT_LEN      33
#define TLS_CV_CONTENT_MAX      (TLS_CV_PAD_LEN + TLS_CV_CONTEXT_LEN + 1 + TLS_MAX_HASH_LEN)

/* HKDF-Expand-Label (RFC 8446 §7.1): "tls13 " ‖ label, both length-prefixed. */
#define TLS_LABEL_PREFIX        "tls13 "
#define TLS_LABEL_PREFIX_LEN    6
#define TLS_LABEL_MAX           (255 - TLS_LABEL_PREFIX_LEN)
#define TLS_LABEL_CONTEXT_MAX   255

/* REALITY (specs/reality.md §2.1, §2.3): the client's sealed auth data is
 * the whole 32-byte legacy_session_id, at a fixed offset of the ClientHello
 * handshake message: type 1 + length 3 + legacy_version 2 + random 32 + the
 * session id's length byte 1. */
#define REALITY_SESSION_ID_LEN    32
#define REALITY_SESSION_ID_OFFSET (TLS_HS_HEADER_LEN + 2 + TLS_RANDOM_LEN + 1)

static_assert(TLS_MAX_RECORD == 5 + 16384 + 256, "a record is at most 2^14 + 256 bytes after its header");
static_assert(TLS_RECORD_OVERHEAD == 22, "header, inner type and tag");
static_assert(TLS_X25519MLKEM768_CLIENT_LEN == 1216, "hybrid client share is 1216 bytes");
static_assert(TLS_X25519MLKEM768_SERVER_LEN == 1120, "hybrid server share is 1120 bytes");
static_assert(TLS_X25519MLKEM768_SS_LEN == 64, "hybrid shared secret is 64 bytes");
static_assert(REALITY_SESSION_ID_OFFSET == 39, "both sides hard-code offset 39");
static_assert(REALITY_SESSION_ID_LEN == TLS_SESSION_ID_MAX, "REALITY fills the whole session id");
static_assert(sizeof(TLS_HRR_RANDOM) - 1 == TLS_RANDOM_LEN, "HRR random is 32 bytes");
static_assert(sizeof(TLS_CV_SERVER_CONTEXT) - 1 == TLS_CV_CONTEXT_LEN, "context string length");
static_assert(sizeof(TLS_CV_CLIENT_CONTEXT) - 1 == TLS_CV_CONTEXT_LEN, "context string length");
static_assert(TLS_CV_CONTENT_MAX == 146, "CertificateVerify content with SHA-384");
static_assert(TLS_HS_REASM_MAX <= TLS_HS_MAX_BODY, "cap fits a uint24");

/* Big-endian helpers for wire fields. */
static inline uint16_t tls_get_u16(const uint8_t *p)
{
	return (uint16_t)((unsigned)p[0] << 8 | p[1]);
}
static inline uint32_t tls_get_u24(const uint8_t *p)
{
	return (uint32_t)p[0] << 16 | (uint32_t)p[1] << 8 | p[2];
}
static inline void tls_put_u16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}
static inline void tls_put_u24(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 16);
	p[1] = (uint8_t)(v >> 8);
	p[2] = (uint8_t)v;
}

#endif
