/* Every WireGuard wire struct and protocol constant, in one place
 * (specs/awg.md §1.2, §1.7). All integers on the wire are little-endian. */
#ifndef PHAROS_AWG_MESSAGES_H
#define PHAROS_AWG_MESSAGES_H

#include <assert.h>
#include <stdint.h>

enum {
	NOISE_PUBLIC_KEY_LEN = 32,
	NOISE_SYMMETRIC_KEY_LEN = 32,
	NOISE_TIMESTAMP_LEN = 12,
	NOISE_AUTHTAG_LEN = 16,
	NOISE_HASH_LEN = 32,
	COOKIE_LEN = 16,
	COOKIE_NONCE_LEN = 24,
	MAC_LEN = 16,
};

/* Standard message types; AmneziaWG replaces the on-wire value (H1..H4). */
enum msg_type {
	MSG_INVALID = 0,
	MSG_INITIATION = 1,
	MSG_RESPONSE = 2,
	MSG_COOKIE = 3,
	MSG_DATA = 4,
};

struct msg_macs {
	uint8_t mac1[MAC_LEN];
	uint8_t mac2[MAC_LEN];
} __attribute__((packed));

struct msg_initiation {
	uint32_t type;
	uint32_t sender_index;
	uint8_t ephemeral[NOISE_PUBLIC_KEY_LEN];
	uint8_t encrypted_static[NOISE_PUBLIC_KEY_LEN + NOISE_AUTHTAG_LEN];
	uint8_t encrypted_timestamp[NOISE_TIMESTAMP_LEN + NOISE_AUTHTAG_LEN];
	struct msg_macs macs;
} __attribute__((packed));

struct msg_response {
	uint32_t type;
	uint32_t sender_index;
	uint32_t receiver_index;
	uint8_t ephemeral[NOISE_PUBLIC_KEY_LEN];
	uint8_t encrypted_nothing[NOISE_AUTHTAG_LEN];
	struct msg_macs macs;
} __attribute__((packed));

struct msg_cookie {
	uint32_t type;
	uint32_t receiver_index;
	uint8_t nonce[COOKIE_NONCE_LEN];
	uint8_t encrypted_cookie[COOKIE_LEN + NOISE_AUTHTAG_LEN];
} __attribute__((packed));

struct msg_data {
	uint32_t type;
	uint32_t receiver_index;
	uint64_t counter;
	uint8_t encrypted_data[];
} __attribute__((packed));

static_assert(sizeof(struct msg_initiation) == 148, "initiation is 148 bytes");
static_assert(sizeof(struct msg_response) == 92, "response is 92 bytes");
static_assert(sizeof(struct msg_cookie) == 64, "cookie reply is 64 bytes");
static_assert(sizeof(struct msg_data) == 16, "data header is 16 bytes");

#define MSG_DATA_MIN_LEN (sizeof(struct msg_data) + NOISE_AUTHTAG_LEN) /* 32: keepalive */
#define MSG_PADDING_MULTIPLE 16

/* Timers and limits (specs/awg.md §1.7). Times in nanoseconds. */
#define NSEC_PER_SEC 1000000000ULL
#define NSEC_PER_MSEC 1000000ULL
#define REKEY_AFTER_MESSAGES (1ULL << 60)
#define REJECT_AFTER_MESSAGES (UINT64_MAX - (1ULL << 13))
#define REKEY_TIMEOUT_NS (5 * NSEC_PER_SEC)
#define REKEY_TIMEOUT_JITTER_MAX_NS (NSEC_PER_SEC / 3)
#define REKEY_AFTER_TIME_NS (120 * NSEC_PER_SEC)
#define REJECT_AFTER_TIME_NS (180 * NSEC_PER_SEC)
#define REKEY_ATTEMPT_TIME_NS (90 * NSEC_PER_SEC)
#define MAX_TIMER_HANDSHAKES (90 / 5)
#define KEEPALIVE_TIMEOUT_NS (10 * NSEC_PER_SEC)
#define COOKIE_SECRET_MAX_AGE_NS (120 * NSEC_PER_SEC)
#define COOKIE_SECRET_LATENCY_NS (5 * NSEC_PER_SEC)
#define INITIATIONS_MIN_INTERVAL_NS (NSEC_PER_SEC / 50)
#define ZERO_KEYS_AFTER_NS (3 * REJECT_AFTER_TIME_NS)
#define MAX_STAGED_PACKETS 128
#define MAX_PEERS_PER_DEVICE (1U << 20)

/* Little-endian helpers for wire fields (the structs above are byte images). */
static inline uint32_t le32_read(const void *p)
{
	const uint8_t *b = p;
	return (uint32_t)b[0] | (uint32_t)b[1] << 8 | (uint32_t)b[2] << 16 | (uint32_t)b[3] << 24;
}
static inline void le32_write(void *p, uint32_t v)
{
	uint8_t *b = p;
	b[0] = (uint8_t)v; b[1] = (uint8_t)(v >> 8); b[2] = (uint8_t)(v >> 16); b[3] = (uint8_t)(v >> 24);
}
static inline uint64_t le64_read(const void *p)
{
	const uint8_t *b = p;
	return (uint64_t)le32_read(b) | (uint64_t)le32_read(b + 4) << 32;
}
static inline void le64_write(void *p, uint64_t v)
{
	le32_write(p, (uint32_t)v);
	le32_write((uint8_t *)p + 4, (uint32_t)(v >> 32));
}

#endif
