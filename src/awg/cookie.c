/* mac1/mac2 and cookie replies (specs/awg.md §1.4). MAC(key, x) is keyed
 * BLAKE2s with a 16-byte digest. MACs are compared in constant time. */
#include "awg/cookie.h"

#include <string.h>

#include <sodium.h>

#include "awg/blake2s.h"
#include "awg/noise.h"

static_assert(sizeof(struct msg_macs) == 2 * MAC_LEN, "macs trail every handshake message");
static_assert(crypto_aead_xchacha20poly1305_ietf_NPUBBYTES == COOKIE_NONCE_LEN, "XChaCha nonce");
static_assert(crypto_aead_xchacha20poly1305_ietf_ABYTES == NOISE_AUTHTAG_LEN, "XChaCha tag");

/* True when something born at `birth` is at least `age` old at `now`. A birth
 * in the future (clock confusion) also counts as expired. */
static bool has_expired(uint64_t birth, uint64_t age, uint64_t now)
{
	return now < birth || now - birth >= age;
}

/* The cookie for a source address: MAC(Rm, src), rotating Rm when stale. */
static void make_cookie(struct cookie_checker *c, uint8_t cookie[COOKIE_LEN], const uint8_t *src, size_t src_len,
                        uint64_t now_ns)
{
	if (!c->secret_valid || has_expired(c->secret_birth_ns, COOKIE_SECRET_MAX_AGE_NS, now_ns)) {
		randombytes_buf(c->secret, sizeof(c->secret));
		c->secret_birth_ns = now_ns;
		c->secret_valid = true;
	}
	blake2s(cookie, COOKIE_LEN, c->secret, sizeof(c->secret), src, src_len);
}

void cookie_checker_init(struct cookie_checker *c, const struct noise_identity *id)
{
	sodium_memzero(c, sizeof(*c));
	memcpy(c->mac1_key, id->mac1_key, sizeof(c->mac1_key));
	memcpy(c->cookie_key, id->cookie_key, sizeof(c->cookie_key));
}

void cookie_checker_clear(struct cookie_checker *c)
{
	sodium_memzero(c, sizeof(*c));
}

enum cookie_mac_state cookie_validate(struct cookie_checker *c, const uint8_t *msg, size_t len,
                                      const uint8_t *src, size_t src_len, bool check_cookie,
                                      uint64_t now_ns)
{
	uint8_t computed[MAC_LEN], cookie[COOKIE_LEN];
	enum cookie_mac_state ret = COOKIE_MAC_INVALID;

	if (len < sizeof(struct msg_macs))
		goto out;
	const uint8_t *mac1 = msg + len - sizeof(struct msg_macs);
	const uint8_t *mac2 = mac1 + MAC_LEN;

	/* mac1 = MAC(HASH(LABEL_MAC1 || our pub), msg[0 : len-32]) */
	blake2s(computed, MAC_LEN, c->mac1_key, sizeof(c->mac1_key), msg, len - sizeof(struct msg_macs));
	if (crypto_verify_16(computed, mac1) != 0)
		goto out;

	ret = COOKIE_MAC_VALID_NO_COOKIE;
	if (!check_cookie)
		goto out;

	/* mac2 = MAC(MAC(Rm, src), msg[0 : len-16]) */
	make_cookie(c, cookie, src, src_len, now_ns);
	blake2s(computed, MAC_LEN, cookie, sizeof(cookie), msg, len - MAC_LEN);
	if (crypto_verify_16(computed, mac2) != 0)
		goto out;
	ret = COOKIE_MAC_VALID_WITH_COOKIE;

out:
	sodium_memzero(computed, sizeof(computed));
	sodium_memzero(cookie, sizeof(cookie));
	return ret;
}

void cookie_add_macs(struct cookie_state *st, const uint8_t peer_mac1_key[NOISE_SYMMETRIC_KEY_LEN],
                     uint8_t *msg, size_t len, uint64_t now_ns)
{
	if (len < sizeof(struct msg_macs))
		return;
	uint8_t *mac1 = msg + len - sizeof(struct msg_macs);
	uint8_t *mac2 = mac1 + MAC_LEN;

	blake2s(mac1, MAC_LEN, peer_mac1_key, NOISE_SYMMETRIC_KEY_LEN, msg, len - sizeof(struct msg_macs));
	memcpy(st->last_mac1_sent, mac1, MAC_LEN);
	st->have_sent_mac1 = true;

	/* Stop using a cookie a little before the issuer's secret rotates. */
	if (st->have_cookie &&
	    !has_expired(st->cookie_birth_ns, COOKIE_SECRET_MAX_AGE_NS - COOKIE_SECRET_LATENCY_NS, now_ns))
		blake2s(mac2, MAC_LEN, st->cookie, COOKIE_LEN, msg, len - MAC_LEN);
	else
		memset(mac2, 0, MAC_LEN);
}

int cookie_create_reply(struct cookie_checker *c, struct msg_cookie *out, const uint8_t *msg, size_t len,
                        uint32_t receiver_index, const uint8_t *src, size_t src_len,
                        const uint8_t *nonce, uint64_t now_ns)
{
	uint8_t cookie[COOKIE_LEN];
	int ret = 0;

	memset(out, 0, sizeof(*out));
	if (len < sizeof(struct msg_macs)) {
		ret = ERR_PARSE;
		goto out;
	}
	const uint8_t *mac1 = msg + len - sizeof(struct msg_macs);

	le32_write(&out->type, MSG_COOKIE);
	le32_write(&out->receiver_index, receiver_index);
	if (nonce)
		memcpy(out->nonce, nonce, COOKIE_NONCE_LEN);
	else
		randombytes_buf(out->nonce, COOKIE_NONCE_LEN);

	/* encrypted_cookie = XAEAD(HASH(LABEL_COOKIE || our pub), nonce, cookie, ad = mac1) */
	make_cookie(c, cookie, src, src_len, now_ns);
	crypto_aead_xchacha20poly1305_ietf_encrypt(out->encrypted_cookie, NULL, cookie, COOKIE_LEN, mac1, MAC_LEN,
	                                           NULL, out->nonce, c->cookie_key);

out:
	sodium_memzero(cookie, sizeof(cookie));
	return ret;
}

int cookie_consume_reply(struct cookie_state *st, const uint8_t peer_cookie_key[NOISE_SYMMETRIC_KEY_LEN],
                         const struct msg_cookie *msg, uint64_t now_ns)
{
	uint8_t cookie[COOKIE_LEN];
	int ret = 0;

	if (!st->have_sent_mac1) {
		ret = ERR_BADSTATE;
		goto out;
	}
	if (crypto_aead_xchacha20poly1305_ietf_decrypt(cookie, NULL, NULL, msg->encrypted_cookie,
	                                               sizeof(msg->encrypted_cookie), st->last_mac1_sent, MAC_LEN,
	                                               msg->nonce, peer_cookie_key) != 0) {
		ret = ERR_AUTH;
		goto out;
	}
	memcpy(st->cookie, cookie, COOKIE_LEN);
	st->cookie_birth_ns = now_ns;
	st->have_cookie = true;
	/* One reply per mac1 sent: a second copy of this reply is refused. */
	st->have_sent_mac1 = false;

out:
	sodium_memzero(cookie, sizeof(cookie));
	return ret;
}
