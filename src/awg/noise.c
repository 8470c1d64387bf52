/* Noise_IKpsk2_25519_ChaChaPoly_BLAKE2s as WireGuard uses it (specs/awg.md
 * §1.1, §1.3). Every step works on local copies of the chaining key and hash
 * and writes the handshake state only once the whole message checked out, so a
 * forged or replayed message leaves the peer's state untouched. Each function
 * has one exit label that wipes every temporary secret on success and failure.
 *
 * libsodium provides X25519 and ChaCha20-Poly1305; the caller must have run
 * sodium_init() once (it selects the fast implementations and seeds the RNG). */
#include "awg/noise.h"

#include <errno.h>
#include <string.h>

#include <sodium.h>

#include "awg/blake2s.h"

/* C0 = HASH(CONSTRUCTION) and H0 = HASH(C0 || IDENTIFIER), specs/awg.md §1.1,
 * with CONSTRUCTION = "Noise_IKpsk2_25519_ChaChaPoly_BLAKE2s" and IDENTIFIER =
 * "WireGuard v1 zx2c4 Jason@zx2c4.com". tests/unit/test_blake2s.c recomputes both. */
static const uint8_t initial_chaining_key[NOISE_HASH_LEN] = {
	0x60, 0xe2, 0x6d, 0xae, 0xf3, 0x27, 0xef, 0xc0, 0x2e, 0xc3, 0x35, 0xe2, 0xa0, 0x25, 0xd2, 0xd0,
	0x16, 0xeb, 0x42, 0x06, 0xf8, 0x72, 0x77, 0xf5, 0x2d, 0x38, 0xd1, 0x98, 0x8b, 0x78, 0xcd, 0x36,
};
static const uint8_t initial_hash[NOISE_HASH_LEN] = {
	0x22, 0x11, 0xb3, 0x61, 0x08, 0x1a, 0xc5, 0x66, 0x69, 0x12, 0x43, 0xdb, 0x45, 0x8a, 0xd5, 0x32,
	0x2d, 0x9c, 0x6c, 0x66, 0x22, 0x93, 0xe8, 0xb7, 0x0e, 0xe1, 0x9c, 0x65, 0xba, 0x07, 0x9e, 0xf3,
};

static const char label_mac1[] = "mac1----";
static const char label_cookie[] = "cookie--";
#define LABEL_LEN 8

/* TAI64 label of the Unix epoch plus the 10 leap seconds of 1972 (§1.1). */
#define TAI64_EPOCH 0x400000000000000aULL

/* HASH(label || pub): the mac1 and cookie keys of §1.4. */
static void label_key(uint8_t out[NOISE_SYMMETRIC_KEY_LEN], const char *label,
                      const uint8_t pub[NOISE_PUBLIC_KEY_LEN])
{
	struct blake2s_state s;

	blake2s_init(&s, NOISE_HASH_LEN);
	blake2s_update(&s, (const uint8_t *)label, LABEL_LEN);
	blake2s_update(&s, pub, NOISE_PUBLIC_KEY_LEN);
	blake2s_final(&s, out);
}

/* KDFn (§1.1): t0 = HMAC(ck, x), t1 = HMAC(t0, 0x01), t2 = HMAC(t0, t1 || 0x02),
 * t3 = HMAC(t0, t2 || 0x03). t2/t3 may be NULL; any output may alias ck. */
static void kdf(uint8_t *t1, uint8_t *t2, uint8_t *t3, const uint8_t ck[NOISE_HASH_LEN], const uint8_t *x,
                size_t xlen)
{
	uint8_t t0[NOISE_HASH_LEN], prev[NOISE_HASH_LEN + 1], cur[NOISE_HASH_LEN];

	blake2s_hmac(t0, ck, NOISE_HASH_LEN, x, xlen);

	prev[0] = 0x01;
	blake2s_hmac(cur, t0, sizeof(t0), prev, 1);
	memcpy(t1, cur, NOISE_HASH_LEN);
	if (!t2)
		goto out;

	memcpy(prev, cur, NOISE_HASH_LEN);
	prev[NOISE_HASH_LEN] = 0x02;
	blake2s_hmac(cur, t0, sizeof(t0), prev, sizeof(prev));
	memcpy(t2, cur, NOISE_HASH_LEN);
	if (!t3)
		goto out;

	memcpy(prev, cur, NOISE_HASH_LEN);
	prev[NOISE_HASH_LEN] = 0x03;
	blake2s_hmac(cur, t0, sizeof(t0), prev, sizeof(prev));
	memcpy(t3, cur, NOISE_HASH_LEN);

out:
	sodium_memzero(t0, sizeof(t0));
	sodium_memzero(prev, sizeof(prev));
	sodium_memzero(cur, sizeof(cur));
}

/* MIX_HASH: h = HASH(h || data). */
static void mix_hash(uint8_t h[NOISE_HASH_LEN], const uint8_t *data, size_t len)
{
	struct blake2s_state s;

	blake2s_init(&s, NOISE_HASH_LEN);
	blake2s_update(&s, h, NOISE_HASH_LEN);
	blake2s_update(&s, data, len);
	blake2s_final(&s, h);
}

/* X25519 refusing an all-zero result (a low-order public key). */
static int dh(uint8_t out[NOISE_PUBLIC_KEY_LEN], const uint8_t priv[NOISE_PUBLIC_KEY_LEN],
              const uint8_t pub[NOISE_PUBLIC_KEY_LEN])
{
	if (crypto_scalarmult(out, priv, pub) != 0 || sodium_is_zero(out, NOISE_PUBLIC_KEY_LEN)) {
		sodium_memzero(out, NOISE_PUBLIC_KEY_LEN);
		return ERR_CRYPTO;
	}
	return 0;
}

/* MIX_KEY with a fresh DH: (ck, key) = KDF2(ck, DH(priv, pub)); key may be NULL (KDF1). */
static int mix_dh(uint8_t ck[NOISE_HASH_LEN], uint8_t *key, const uint8_t priv[NOISE_PUBLIC_KEY_LEN],
                  const uint8_t pub[NOISE_PUBLIC_KEY_LEN])
{
	uint8_t ss[NOISE_PUBLIC_KEY_LEN];
	int ret;

	ret = dh(ss, priv, pub);
	if (ret)
		goto out;
	kdf(ck, key, NULL, ck, ss, sizeof(ss));
out:
	sodium_memzero(ss, sizeof(ss));
	return ret;
}

/* MIX_KEY with DH(our static, their static), cached in pk (computed on first use). */
static int mix_static_dh(uint8_t ck[NOISE_HASH_LEN], uint8_t key[NOISE_SYMMETRIC_KEY_LEN],
                         struct noise_peer_keys *pk, const struct noise_identity *id)
{
	int ret = noise_peer_keys_static_dh(pk, id);

	if (ret)
		return ret;
	kdf(ck, key, NULL, ck, pk->static_static, NOISE_PUBLIC_KEY_LEN);
	return 0;
}

/* Handshake AEAD: nonce 0 (every handshake key is used once), AD = h; then
 * h = HASH(h || ciphertext). */
static void seal_and_hash(uint8_t *dst, const uint8_t *src, size_t len, const uint8_t key[NOISE_SYMMETRIC_KEY_LEN],
                          uint8_t h[NOISE_HASH_LEN])
{
	static const uint8_t zero_nonce[crypto_aead_chacha20poly1305_IETF_NPUBBYTES];

	crypto_aead_chacha20poly1305_ietf_encrypt_detached(dst, dst + len, NULL, src, len, h, NOISE_HASH_LEN, NULL,
	                                                   zero_nonce, key);
	mix_hash(h, dst, len + NOISE_AUTHTAG_LEN);
}

static int open_and_hash(uint8_t *dst, const uint8_t *src, size_t sealed_len,
                         const uint8_t key[NOISE_SYMMETRIC_KEY_LEN], uint8_t h[NOISE_HASH_LEN])
{
	static const uint8_t zero_nonce[crypto_aead_chacha20poly1305_IETF_NPUBBYTES];
	size_t len = sealed_len - NOISE_AUTHTAG_LEN;

	if (crypto_aead_chacha20poly1305_ietf_decrypt_detached(dst, NULL, src, len, src + len, h, NOISE_HASH_LEN,
	                                                       zero_nonce, key) != 0)
		return ERR_AUTH;
	mix_hash(h, src, sealed_len);
	return 0;
}

/* An ephemeral: the caller's fixed one (tests) or a fresh random one, clamped. */
static int make_ephemeral(uint8_t priv[NOISE_PUBLIC_KEY_LEN], uint8_t pub[NOISE_PUBLIC_KEY_LEN],
                          const uint8_t *fixed)
{
	if (fixed) {
		memcpy(priv, fixed, NOISE_PUBLIC_KEY_LEN);
		priv[0] &= 248;
		priv[31] &= 127;
		priv[31] |= 64;
	} else {
		noise_generate_private(priv);
	}
	return noise_public_from_private(pub, priv);
}

void noise_generate_private(uint8_t out[NOISE_PUBLIC_KEY_LEN])
{
	randombytes_buf(out, NOISE_PUBLIC_KEY_LEN);
	out[0] &= 248;
	out[31] &= 127;
	out[31] |= 64;
}

int noise_public_from_private(uint8_t pub[NOISE_PUBLIC_KEY_LEN], const uint8_t priv[NOISE_PUBLIC_KEY_LEN])
{
	if (crypto_scalarmult_base(pub, priv) != 0 || sodium_is_zero(pub, NOISE_PUBLIC_KEY_LEN)) {
		sodium_memzero(pub, NOISE_PUBLIC_KEY_LEN);
		return ERR_CRYPTO;
	}
	return 0;
}

void noise_identity_clear(struct noise_identity *id)
{
	sodium_memzero(id, sizeof(*id));
}

void noise_identity_set(struct noise_identity *id, const uint8_t private_key[NOISE_PUBLIC_KEY_LEN])
{
	noise_identity_clear(id);
	if (!private_key || sodium_is_zero(private_key, NOISE_PUBLIC_KEY_LEN))
		return;
	memcpy(id->private_key, private_key, NOISE_PUBLIC_KEY_LEN);
	id->private_key[0] &= 248;
	id->private_key[31] &= 127;
	id->private_key[31] |= 64;
	if (noise_public_from_private(id->public_key, id->private_key) != 0) {
		noise_identity_clear(id);
		return;
	}
	label_key(id->mac1_key, label_mac1, id->public_key);
	label_key(id->cookie_key, label_cookie, id->public_key);
	id->has_key = true;
}

int noise_peer_keys_init(struct noise_peer_keys *pk, const uint8_t remote_static[NOISE_PUBLIC_KEY_LEN],
                         const uint8_t *psk)
{
	sodium_memzero(pk, sizeof(*pk));
	if (!remote_static)
		return -EINVAL;
	memcpy(pk->remote_static, remote_static, NOISE_PUBLIC_KEY_LEN);
	if (psk)
		memcpy(pk->preshared_key, psk, NOISE_SYMMETRIC_KEY_LEN);
	label_key(pk->mac1_key, label_mac1, remote_static);
	label_key(pk->cookie_key, label_cookie, remote_static);
	return 0;
}

void noise_peer_keys_forget_dh(struct noise_peer_keys *pk)
{
	pk->ss_state = NOISE_SS_NONE;
	sodium_memzero(pk->ss_identity, sizeof(pk->ss_identity));
	sodium_memzero(pk->static_static, sizeof(pk->static_static));
}

int noise_peer_keys_static_dh(struct noise_peer_keys *pk, const struct noise_identity *id)
{
	if (!id->has_key)
		return ERR_BADSTATE;
	/* Public keys are public: a plain comparison is fine. */
	if (pk->ss_state == NOISE_SS_NONE || memcmp(pk->ss_identity, id->public_key, NOISE_PUBLIC_KEY_LEN) != 0) {
		noise_peer_keys_forget_dh(pk);
		/* A failed DH leaves static_static zero and is remembered: every
		 * handshake with this peer fails with ERR_CRYPTO, but the peer may
		 * still be configured (noise.h), and is not recomputed each time. */
		if (dh(pk->static_static, id->private_key, pk->remote_static) == 0)
			pk->ss_state = NOISE_SS_VALID;
		else
			pk->ss_state = NOISE_SS_ZERO;
		memcpy(pk->ss_identity, id->public_key, NOISE_PUBLIC_KEY_LEN);
	}
	return pk->ss_state == NOISE_SS_VALID ? 0 : ERR_CRYPTO;
}

void noise_handshake_clear(struct noise_handshake *hs)
{
	hs->state = NOISE_HS_ZEROED;
	sodium_memzero(hs->ephemeral_private, sizeof(hs->ephemeral_private));
	sodium_memzero(hs->remote_ephemeral, sizeof(hs->remote_ephemeral));
	sodium_memzero(hs->hash, sizeof(hs->hash));
	sodium_memzero(hs->chaining_key, sizeof(hs->chaining_key));
	hs->local_index = 0;
	hs->remote_index = 0;
}

void noise_tai64n(uint8_t out[NOISE_TIMESTAMP_LEN], uint64_t unix_sec, uint32_t nsec)
{
	unix_sec += nsec / NSEC_PER_SEC;
	nsec = (uint32_t)(nsec % NSEC_PER_SEC);
	/* Round down to 2^24 ns (~16.8 ms) so the timestamp does not reveal a precise clock. */
	nsec &= ~((UINT32_C(1) << 24) - 1);
	uint64_t sec = TAI64_EPOCH + unix_sec;
	for (int i = 0; i < 8; i++)
		out[i] = (uint8_t)(sec >> (56 - 8 * i));
	for (int i = 0; i < 4; i++)
		out[8 + i] = (uint8_t)(nsec >> (24 - 8 * i));
}

int noise_create_initiation(struct noise_handshake *hs, const struct noise_identity *id,
                            struct noise_peer_keys *pk, uint32_t local_index,
                            const uint8_t timestamp[NOISE_TIMESTAMP_LEN],
                            const uint8_t *ephemeral_private, struct msg_initiation *out)
{
	uint8_t ck[NOISE_HASH_LEN], h[NOISE_HASH_LEN], key[NOISE_SYMMETRIC_KEY_LEN];
	uint8_t e_priv[NOISE_PUBLIC_KEY_LEN], e_pub[NOISE_PUBLIC_KEY_LEN];
	int ret;

	memset(out, 0, sizeof(*out));
	if (!id->has_key) {
		ret = ERR_BADSTATE;
		goto out;
	}

	/* C = C0; H = HASH(H0 || Sr_pub) */
	memcpy(ck, initial_chaining_key, sizeof(ck));
	memcpy(h, initial_hash, sizeof(h));
	mix_hash(h, pk->remote_static, NOISE_PUBLIC_KEY_LEN);

	/* e */
	ret = make_ephemeral(e_priv, e_pub, ephemeral_private);
	if (ret)
		goto out;
	memcpy(out->ephemeral, e_pub, sizeof(e_pub));
	kdf(ck, NULL, NULL, ck, e_pub, sizeof(e_pub));
	mix_hash(h, e_pub, sizeof(e_pub));

	/* es */
	ret = mix_dh(ck, key, e_priv, pk->remote_static);
	if (ret)
		goto out;

	/* s */
	seal_and_hash(out->encrypted_static, id->public_key, NOISE_PUBLIC_KEY_LEN, key, h);

	/* ss */
	ret = mix_static_dh(ck, key, pk, id);
	if (ret)
		goto out;

	/* {t} */
	seal_and_hash(out->encrypted_timestamp, timestamp, NOISE_TIMESTAMP_LEN, key, h);

	le32_write(&out->type, MSG_INITIATION);
	le32_write(&out->sender_index, local_index);

	hs->state = NOISE_HS_CREATED_INITIATION;
	memcpy(hs->ephemeral_private, e_priv, sizeof(e_priv));
	sodium_memzero(hs->remote_ephemeral, sizeof(hs->remote_ephemeral));
	memcpy(hs->hash, h, sizeof(h));
	memcpy(hs->chaining_key, ck, sizeof(ck));
	hs->local_index = local_index;
	hs->remote_index = 0;

out:
	if (ret)
		memset(out, 0, sizeof(*out));
	sodium_memzero(ck, sizeof(ck));
	sodium_memzero(h, sizeof(h));
	sodium_memzero(key, sizeof(key));
	sodium_memzero(e_priv, sizeof(e_priv));
	sodium_memzero(e_pub, sizeof(e_pub));
	return ret;
}

int noise_consume_initiation_begin(const struct noise_identity *id, const struct msg_initiation *msg,
                                   struct noise_initiation_state *st)
{
	uint8_t ck[NOISE_HASH_LEN], h[NOISE_HASH_LEN], key[NOISE_SYMMETRIC_KEY_LEN];
	uint8_t s[NOISE_PUBLIC_KEY_LEN];
	int ret;

	sodium_memzero(st, sizeof(*st));
	if (!id->has_key) {
		ret = ERR_BADSTATE;
		goto out;
	}

	/* C = C0; H = HASH(H0 || Sr_pub) */
	memcpy(ck, initial_chaining_key, sizeof(ck));
	memcpy(h, initial_hash, sizeof(h));
	mix_hash(h, id->public_key, NOISE_PUBLIC_KEY_LEN);

	/* e */
	kdf(ck, NULL, NULL, ck, msg->ephemeral, NOISE_PUBLIC_KEY_LEN);
	mix_hash(h, msg->ephemeral, NOISE_PUBLIC_KEY_LEN);

	/* es */
	ret = mix_dh(ck, key, id->private_key, msg->ephemeral);
	if (ret)
		goto out;

	/* s */
	ret = open_and_hash(s, msg->encrypted_static, sizeof(msg->encrypted_static), key, h);
	if (ret)
		goto out;

	memcpy(st->hash, h, sizeof(h));
	memcpy(st->chaining_key, ck, sizeof(ck));
	memcpy(st->remote_static, s, sizeof(s));
	memcpy(st->remote_ephemeral, msg->ephemeral, NOISE_PUBLIC_KEY_LEN);
	st->remote_index = le32_read(&msg->sender_index);

out:
	sodium_memzero(ck, sizeof(ck));
	sodium_memzero(h, sizeof(h));
	sodium_memzero(key, sizeof(key));
	sodium_memzero(s, sizeof(s));
	return ret;
}

int noise_consume_initiation_finish(struct noise_handshake *hs, const struct noise_identity *id,
                                    struct noise_peer_keys *pk, struct noise_initiation_state *st,
                                    const struct msg_initiation *msg, uint64_t now_ns)
{
	uint8_t ck[NOISE_HASH_LEN], h[NOISE_HASH_LEN], key[NOISE_SYMMETRIC_KEY_LEN];
	uint8_t t[NOISE_TIMESTAMP_LEN];
	int ret;

	/* The caller found pk by st->remote_static; make sure it is that peer. */
	if (sodium_memcmp(pk->remote_static, st->remote_static, NOISE_PUBLIC_KEY_LEN) != 0) {
		ret = ERR_NOTFOUND;
		goto out;
	}
	memcpy(ck, st->chaining_key, sizeof(ck));
	memcpy(h, st->hash, sizeof(h));

	/* ss */
	ret = mix_static_dh(ck, key, pk, id);
	if (ret)
		goto out;

	/* {t} */
	ret = open_and_hash(t, msg->encrypted_timestamp, sizeof(msg->encrypted_timestamp), key, h);
	if (ret)
		goto out;

	/* Replay: TAI64N is big-endian, so byte order is time order; strictly greater. */
	if (memcmp(t, hs->latest_timestamp, NOISE_TIMESTAMP_LEN) <= 0) {
		ret = ERR_REPLAY;
		goto out;
	}
	/* Flood: at most one accepted initiation per INITIATIONS_MIN_INTERVAL_NS.
	 * A clock that went backwards counts as too soon. */
	if (hs->have_consumed_initiation &&
	    (now_ns < hs->last_initiation_consumed_ns ||
	     now_ns - hs->last_initiation_consumed_ns < INITIATIONS_MIN_INTERVAL_NS)) {
		ret = ERR_REPLAY;
		goto out;
	}

	hs->state = NOISE_HS_CONSUMED_INITIATION;
	sodium_memzero(hs->ephemeral_private, sizeof(hs->ephemeral_private));
	memcpy(hs->remote_ephemeral, st->remote_ephemeral, sizeof(hs->remote_ephemeral));
	memcpy(hs->hash, h, sizeof(h));
	memcpy(hs->chaining_key, ck, sizeof(ck));
	memcpy(hs->latest_timestamp, t, sizeof(t));
	hs->last_initiation_consumed_ns = now_ns;
	hs->have_consumed_initiation = true;
	hs->remote_index = st->remote_index;

out:
	sodium_memzero(st, sizeof(*st));
	sodium_memzero(ck, sizeof(ck));
	sodium_memzero(h, sizeof(h));
	sodium_memzero(key, sizeof(key));
	sodium_memzero(t, sizeof(t));
	return ret;
}

int noise_create_response(struct noise_handshake *hs, const struct noise_identity *id,
                          const struct noise_peer_keys *pk, uint32_t local_index,
                          const uint8_t *ephemeral_private, struct msg_response *out)
{
	uint8_t ck[NOISE_HASH_LEN], h[NOISE_HASH_LEN], key[NOISE_SYMMETRIC_KEY_LEN], tau[NOISE_HASH_LEN];
	uint8_t e_priv[NOISE_PUBLIC_KEY_LEN], e_pub[NOISE_PUBLIC_KEY_LEN];
	int ret;

	memset(out, 0, sizeof(*out));
	if (hs->state != NOISE_HS_CONSUMED_INITIATION || !id->has_key) {
		ret = ERR_BADSTATE;
		goto out;
	}
	memcpy(ck, hs->chaining_key, sizeof(ck));
	memcpy(h, hs->hash, sizeof(h));

	/* e */
	ret = make_ephemeral(e_priv, e_pub, ephemeral_private);
	if (ret)
		goto out;
	memcpy(out->ephemeral, e_pub, sizeof(e_pub));
	kdf(ck, NULL, NULL, ck, e_pub, sizeof(e_pub));
	mix_hash(h, e_pub, sizeof(e_pub));

	/* ee */
	ret = mix_dh(ck, NULL, e_priv, hs->remote_ephemeral);
	if (ret)
		goto out;

	/* se */
	ret = mix_dh(ck, NULL, e_priv, pk->remote_static);
	if (ret)
		goto out;

	/* psk */
	kdf(ck, tau, key, ck, pk->preshared_key, NOISE_SYMMETRIC_KEY_LEN);
	mix_hash(h, tau, sizeof(tau));

	/* {} */
	seal_and_hash(out->encrypted_nothing, NULL, 0, key, h);

	le32_write(&out->type, MSG_RESPONSE);
	le32_write(&out->sender_index, local_index);
	le32_write(&out->receiver_index, hs->remote_index);

	hs->state = NOISE_HS_CREATED_RESPONSE;
	memcpy(hs->ephemeral_private, e_priv, sizeof(e_priv));
	memcpy(hs->hash, h, sizeof(h));
	memcpy(hs->chaining_key, ck, sizeof(ck));
	hs->local_index = local_index;

out:
	if (ret)
		memset(out, 0, sizeof(*out));
	sodium_memzero(ck, sizeof(ck));
	sodium_memzero(h, sizeof(h));
	sodium_memzero(key, sizeof(key));
	sodium_memzero(tau, sizeof(tau));
	sodium_memzero(e_priv, sizeof(e_priv));
	sodium_memzero(e_pub, sizeof(e_pub));
	return ret;
}

int noise_consume_response(struct noise_handshake *hs, const struct noise_identity *id,
                           const struct noise_peer_keys *pk, const struct msg_response *msg)
{
	uint8_t ck[NOISE_HASH_LEN], h[NOISE_HASH_LEN], key[NOISE_SYMMETRIC_KEY_LEN], tau[NOISE_HASH_LEN];
	uint8_t e_remote[NOISE_PUBLIC_KEY_LEN];
	int ret;

	if (hs->state != NOISE_HS_CREATED_INITIATION || !id->has_key ||
	    hs->local_index != le32_read(&msg->receiver_index)) {
		ret = ERR_BADSTATE;
		goto out;
	}
	memcpy(ck, hs->chaining_key, sizeof(ck));
	memcpy(h, hs->hash, sizeof(h));
	memcpy(e_remote, msg->ephemeral, sizeof(e_remote));

	/* e */
	kdf(ck, NULL, NULL, ck, e_remote, sizeof(e_remote));
	mix_hash(h, e_remote, sizeof(e_remote));

	/* ee */
	ret = mix_dh(ck, NULL, hs->ephemeral_private, e_remote);
	if (ret)
		goto out;

	/* se */
	ret = mix_dh(ck, NULL, id->private_key, e_remote);
	if (ret)
		goto out;

	/* psk */
	kdf(ck, tau, key, ck, pk->preshared_key, NOISE_SYMMETRIC_KEY_LEN);
	mix_hash(h, tau, sizeof(tau));

	/* {} */
	ret = open_and_hash(NULL, msg->encrypted_nothing, sizeof(msg->encrypted_nothing), key, h);
	if (ret)
		goto out;

	hs->state = NOISE_HS_CONSUMED_RESPONSE;
	memcpy(hs->remote_ephemeral, e_remote, sizeof(e_remote));
	memcpy(hs->hash, h, sizeof(h));
	memcpy(hs->chaining_key, ck, sizeof(ck));
	hs->remote_index = le32_read(&msg->sender_index);

out:
	sodium_memzero(ck, sizeof(ck));
	sodium_memzero(h, sizeof(h));
	sodium_memzero(key, sizeof(key));
	sodium_memzero(tau, sizeof(tau));
	sodium_memzero(e_remote, sizeof(e_remote));
	return ret;
}

int noise_derive_keys(struct noise_handshake *hs, struct noise_keys *out)
{
	uint8_t t1[NOISE_SYMMETRIC_KEY_LEN], t2[NOISE_SYMMETRIC_KEY_LEN];
	bool initiator;
	int ret = 0;

	sodium_memzero(out, sizeof(*out));
	if (hs->state == NOISE_HS_CONSUMED_RESPONSE) {
		initiator = true;
	} else if (hs->state == NOISE_HS_CREATED_RESPONSE) {
		initiator = false;
	} else {
		ret = ERR_BADSTATE;
		goto out;
	}

	/* (T1, T2) = KDF2(C, ε): the initiator sends with T1, the responder with T2. */
	kdf(t1, t2, NULL, hs->chaining_key, NULL, 0);
	memcpy(out->send_key, initiator ? t1 : t2, NOISE_SYMMETRIC_KEY_LEN);
	memcpy(out->recv_key, initiator ? t2 : t1, NOISE_SYMMETRIC_KEY_LEN);
	out->local_index = hs->local_index;
	out->remote_index = hs->remote_index;
	out->is_initiator = initiator;
	noise_handshake_clear(hs);

out:
	sodium_memzero(t1, sizeof(t1));
	sodium_memzero(t2, sizeof(t2));
	return ret;
}

static void transport_nonce(uint8_t nonce[crypto_aead_chacha20poly1305_IETF_NPUBBYTES], uint64_t counter)
{
	memset(nonce, 0, 4);
	le64_write(nonce + 4, counter);
}

void noise_seal(uint8_t *dst, const uint8_t *src, size_t len, uint64_t counter,
                const uint8_t key[NOISE_SYMMETRIC_KEY_LEN])
{
	uint8_t nonce[crypto_aead_chacha20poly1305_IETF_NPUBBYTES];

	transport_nonce(nonce, counter);
	crypto_aead_chacha20poly1305_ietf_encrypt_detached(dst, dst + len, NULL, src, len, NULL, 0, NULL, nonce,
	                                                   key);
}

int noise_open(uint8_t *dst, const uint8_t *src, size_t sealed_len, uint64_t counter,
               const uint8_t key[NOISE_SYMMETRIC_KEY_LEN])
{
	uint8_t nonce[crypto_aead_chacha20poly1305_IETF_NPUBBYTES];
	size_t len;

	if (sealed_len < NOISE_AUTHTAG_LEN)
		return ERR_PARSE;
	len = sealed_len - NOISE_AUTHTAG_LEN;
	transport_nonce(nonce, counter);
	if (crypto_aead_chacha20poly1305_ietf_decrypt_detached(dst, NULL, src, len, src + len, NULL, 0, nonce,
	                                                       key) != 0)
		return ERR_AUTH;
	return 0;
}
