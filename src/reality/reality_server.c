/* REALITY server connection state machine: see reality_server.h and
 * specs/reality.md §3 (decision, dest mirroring, our flight) and §5 (VLESS,
 * Vision). */
#include "reality/reality_server.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <sodium.h>

#include "reality/mlkem.h"
#include "reality/reality_wire.h"

#define SCRATCH_LEN (TLS_MAX_INNER + 64)
/* scratch also holds a VLESS response and one padded write */
#define SCRATCH_CAP (3 * VISION_BUF_SIZE + 64 > SCRATCH_LEN ? 3 * VISION_BUF_SIZE + 64 : SCRATCH_LEN)
/* Largest chunk of target data sealed per record while Vision pads (a
 * padded frame must fit one record); plain data uses full records. */
#define PADDED_CHUNK 4096
static_assert(VLESS_RESPONSE_LEN + (PADDED_CHUNK / 4085 + 2) * VISION_BUF_SIZE <= 3 * VISION_BUF_SIZE + 64,
              "scratch holds the response and one padded chunk");

const char *reality_verdict_str(enum reality_verdict v)
{
	static const char *const s[] = {
		[REALITY_V_NONE] = "undecided",      [REALITY_V_OURS] = "ours",
		[REALITY_V_NOT_TLS] = "not TLS",     [REALITY_V_BAD_CH] = "ClientHello unusable",
		[REALITY_V_SNI] = "server name",     [REALITY_V_KEY_SHARE] = "key share",
		[REALITY_V_AUTH] = "session id",     [REALITY_V_VERSION] = "client version",
		[REALITY_V_TIME] = "timestamp",      [REALITY_V_SHORT_ID] = "short id",
		[REALITY_V_DEST] = "dest reply",     [REALITY_V_REPLAY] = "replayed",
	};
	return (unsigned)v < sizeof(s) / sizeof(s[0]) && s[v] ? s[v] : "?";
}

struct replay_entry {
	uint8_t key[REALITY_REPLAY_KEY_LEN];
	uint64_t expires_ms; /* 0: free */
};

struct reality_replay {
	pthread_mutex_t mu;
	struct replay_entry e[REALITY_REPLAY_BUCKETS][REALITY_REPLAY_WAYS];
};

struct reality_replay *reality_replay_new(void)
{
	struct reality_replay *r = calloc(1, sizeof(*r));
	if (r && pthread_mutex_init(&r->mu, NULL) != 0) {
		free(r);
		r = NULL;
	}
	return r;
}

void reality_replay_free(struct reality_replay *r)
{
	if (!r)
		return;
	pthread_mutex_destroy(&r->mu);
	free(r);
}

bool reality_replay_seen(struct reality_replay *r, const uint8_t key[REALITY_REPLAY_KEY_LEN], uint64_t now_ms,
                         uint64_t ttl_ms)
{
	/* the key is a GCM tag: already uniformly distributed */
	size_t b = ((size_t)key[0] << 8 | key[1]) % REALITY_REPLAY_BUCKETS, victim = 0;
	bool seen = false;
	pthread_mutex_lock(&r->mu);
	struct replay_entry *e = r->e[b];
	for (size_t i = 0; i < REALITY_REPLAY_WAYS; i++) {
		if (e[i].expires_ms > now_ms && memcmp(e[i].key, key, REALITY_REPLAY_KEY_LEN) == 0)
			seen = true;
		if (e[i].expires_ms < e[victim].expires_ms)
			victim = i;
	}
	if (!seen) {
		memcpy(e[victim].key, key, REALITY_REPLAY_KEY_LEN);
		e[victim].expires_ms = now_ms + ttl_ms;
	}
	pthread_mutex_unlock(&r->mu);
	return seen;
}

int reality_server_cfg_keys(struct reality_server_cfg *cfg)
{
	randombytes_buf(cfg->ed_seed, sizeof(cfg->ed_seed));
	int rc = reality_auth_ed25519_public(cfg->ed_pub, cfg->ed_seed);
	if (rc < 0)
		return rc;
	reality_auth_cert_build(cfg->cert, cfg->ed_pub);
	return 0;
}

int reality_conn_init(struct reality_conn *c, const struct reality_server_cfg *cfg, uint64_t now_ms)
{
	memset(c, 0, sizeof(*c));
	c->cfg = cfg;
	c->now_ms = now_ms;
	buf_init(&c->out_client, REALITY_SERVER_QUEUE_MAX);
	buf_init(&c->out_dest, REALITY_SERVER_QUEUE_MAX);
	buf_init(&c->out_target, REALITY_SERVER_QUEUE_MAX);
	buf_init(&c->ch_raw, REALITY_SERVER_CH_MAX + TLS_MAX_RECORD);
	buf_init(&c->dest_raw, REALITY_SERVER_QUEUE_MAX);
	buf_init(&c->rx, REALITY_SERVER_QUEUE_MAX);
	buf_init(&c->ch_msg, REALITY_SERVER_CH_MAX);
	buf_init(&c->vin, VLESS_REQUEST_MAX + TLS_MAX_INNER);
	return 0;
}

/* The scratch area (one record's plaintext, one padded write) lives only
 * while a call uses it, so an idle connection does not hold it. */
static int scratch_get(struct reality_conn *c)
{
	if (!c->scratch)
		c->scratch = malloc(SCRATCH_CAP);
	return c->scratch ? 0 : -ENOMEM;
}

static void scratch_put(struct reality_conn *c)
{
	if (c->scratch) {
		sodium_memzero(c->scratch, SCRATCH_CAP);
		free(c->scratch);
	}
	c->scratch = NULL;
}

void reality_conn_fini(struct reality_conn *c)
{
	buf_fini(&c->out_client);
	buf_fini(&c->out_dest);
	buf_fini_secret(&c->out_target);
	buf_fini(&c->ch_raw);
	buf_fini(&c->dest_raw);
	buf_fini(&c->rx);
	buf_fini(&c->ch_msg);
	buf_fini_secret(&c->vin);
	if (c->rec_live)
		tls13_record_fini(&c->rec);
	if (c->tr_live)
		tls13_keysched_transcript_fini(&c->tr);
	if (c->reasm_live)
		tls13_record_reasm_fini(&c->reasm);
	tls13_keysched_wipe(&c->ks);
	sodium_memzero(c->auth_key, sizeof(c->auth_key));
	sodium_memzero(c->c_ap, sizeof(c->c_ap));
	sodium_memzero(c->s_ap, sizeof(c->s_ap));
	scratch_put(c);
}

/* ---- not ours: become a pipe ---- */

static int go_relay(struct reality_conn *c, enum reality_verdict why)
{
	c->state = REALITY_CONN_RELAY;
	c->verdict = why;
	/* everything dest said so far goes to the client; client bytes were
	 * all mirrored already (§3.3) */
	int rc = buf_append(&c->out_client, c->dest_raw.data, c->dest_raw.len);
	buf_reset(&c->dest_raw);
	return rc;
}

/* ---- the decision (§3.2) ---- */

static bool name_allowed(const struct reality_server_cfg *cfg, const uint8_t *name, size_t len, size_t *idx)
{
	for (size_t i = 0; i < cfg->n_names; i++)
		if (strlen(cfg->names[i]) == len && memcmp(cfg->names[i], name, len) == 0) {
			*idx = i;
			return true;
		}
	return false;
}

static int alpn_class_of(const struct tls13_msg_ch *ch)
{
	struct tls13_msg_iter it;
	const uint8_t *name;
	size_t len;
	if (tls13_msg_ch_alpn(ch, &it) < 0 || !tls13_msg_alpn_next(&it, &name, &len))
		return dest_probe_alpn_class(NULL, 0, 0);
	return dest_probe_alpn_class(name, len, 1);
}

static bool short_id_allowed(const struct reality_server_cfg *cfg, const uint8_t id[REALITY_SHORT_ID_LEN])
{
	bool hit = false;
	for (size_t i = 0; i < cfg->n_short_ids; i++)
		hit |= CRYPTO_memcmp(cfg->short_ids[i], id, REALITY_SHORT_ID_LEN) == 0;
	return hit;
}

/* The X25519 key the client's AuthKey came from: the first 32-byte X25519
 * share, else the X25519 half of the hybrid share (§2.1, §3.2 item 3). */
static int auth_share(const struct tls13_msg_ch *ch, const uint8_t **pub)
{
	struct tls13_msg_iter it;
	struct tls13_msg_key_share ks;
	const uint8_t *hybrid = NULL;
	*pub = NULL;
	if (tls13_msg_ch_key_shares(ch, &it) < 0)
		return ERR_PARSE;
	while (tls13_msg_key_share_next(&it, &ks)) {
		if (ks.group == TLS_GROUP_X25519 && ks.len == TLS_X25519_LEN) {
			*pub = ks.key;
			return 0;
		}
		if (ks.group == TLS_GROUP_X25519MLKEM768 && ks.len == TLS_X25519MLKEM768_CLIENT_LEN && !hybrid)
			hybrid = ks.key + TLS_MLKEM768_EK_LEN;
	}
	*pub = hybrid;
	return hybrid ? 0 : ERR_NOTFOUND;
}

static enum reality_verdict decide(struct reality_conn *c)
{
	const struct reality_server_cfg *cfg = c->cfg;
	const uint8_t *name = (const uint8_t *)"", *pub, *sid;
	size_t name_len = 0, sid_len;
	uint8_t plain[REALITY_AUTH_PLAIN_LEN];
	struct reality_auth_fields f;
	enum reality_verdict v;

	if (tls13_msg_ch_parse(&c->ch, c->ch_msg.data, c->ch_msg.len) < 0 || !tls13_msg_ch_offers_tls13(&c->ch))
		return REALITY_V_BAD_CH;
	tls13_msg_ch_session_id(&c->ch, &sid, &sid_len);
	if (sid_len != REALITY_SESSION_ID_LEN)
		return REALITY_V_BAD_CH;
	int rc = tls13_msg_ch_server_name(&c->ch, &name, &name_len);
	if (rc == ERR_NOTFOUND)
		name_len = 0;
	else if (rc < 0)
		return REALITY_V_BAD_CH;
	if (!name_allowed(cfg, name, name_len, &c->name_idx))
		return REALITY_V_SNI;
	c->alpn_class = alpn_class_of(&c->ch);
	if (auth_share(&c->ch, &pub) < 0)
		return REALITY_V_KEY_SHARE;
	if (reality_auth_key_from_ecdh(c->auth_key, cfg->private_key, pub, tls13_msg_ch_random(&c->ch)) < 0)
		return REALITY_V_KEY_SHARE;
	if (reality_auth_open(c->auth_key, c->ch_msg.data, c->ch_msg.len, plain) < 0)
		return REALITY_V_AUTH;
	reality_auth_fields_decode(plain, &f);
	v = REALITY_V_OURS;
	if ((cfg->min_client_ver && f.version < cfg->min_client_ver) ||
	    (cfg->max_client_ver && f.version > cfg->max_client_ver))
		v = REALITY_V_VERSION;
	else if (cfg->max_time_diff_ms) {
		uint64_t t = (uint64_t)f.unix_time * 1000;
		uint64_t d = t > c->now_ms ? t - c->now_ms : c->now_ms - t;
		if (d > cfg->max_time_diff_ms)
			v = REALITY_V_TIME;
	}
	if (v == REALITY_V_OURS && !short_id_allowed(cfg, f.short_id))
		v = REALITY_V_SHORT_ID;
	if (v == REALITY_V_OURS && cfg->replay) {
		/* remembered for as long as the time check could pass, at least
		 * the 2 minutes upstream's unwired cache uses */
		uint64_t ttl = cfg->max_time_diff_ms + 30000 > 120000 ? cfg->max_time_diff_ms + 30000 : 120000;
		if (reality_replay_seen(cfg->replay, sid + REALITY_AUTH_PLAIN_LEN, c->now_ms, ttl))
			v = REALITY_V_REPLAY;
	}
	sodium_memzero(plain, sizeof(plain));
	return v;
}

/* Gathers the ClientHello from the plaintext handshake records at the
 * start of ch_raw: 1 when whole (*used = the records' bytes), 0 for more,
 * <0 when it is not a ClientHello at all. */
static int gather_ch(struct reality_conn *c, size_t *used)
{
	size_t at = 0;
	buf_reset(&c->ch_msg);
	for (;;) {
		uint8_t type;
		uint16_t ver, len;
		int rc = tls13_record_header_parse(c->ch_raw.data + at, c->ch_raw.len - at, &type, &ver, &len);
		if (rc <= 0)
			return rc;
		if (type != TLS_CT_HANDSHAKE || len == 0)
			return ERR_PARSE;
		if (c->ch_raw.len - at - TLS_RECORD_HEADER_LEN < len)
			return 0;
		if (buf_append(&c->ch_msg, c->ch_raw.data + at + TLS_RECORD_HEADER_LEN, len) < 0)
			return ERR_TOOBIG;
		at += TLS_RECORD_HEADER_LEN + len;
		if (c->ch_msg.len >= TLS_HS_HEADER_LEN) {
			if (c->ch_msg.data[0] != TLS_HS_CLIENT_HELLO)
				return ERR_PARSE;
			size_t want = TLS_HS_HEADER_LEN + tls_get_u24(c->ch_msg.data + 1);
			if (want > REALITY_SERVER_CH_MAX)
				return ERR_TOOBIG;
			if (c->ch_msg.len == want) {
				*used = at;
				return 1;
			}
			if (c->ch_msg.len > want)
				return ERR_PARSE; /* another message in the same record */
		}
	}
}

static int start_handshake(struct reality_conn *c, size_t used)
{
	int rc = tls13_record_init(&c->rec, TLS13_RECORD_SERVER);
	if (rc < 0)
		return rc;
	c->rec_live = true;
	c->rec.records_in = 1; /* the ClientHello: a CCS may follow */
	tls13_record_reasm_init(&c->reasm, 0);
	c->reasm_live = true;
	/* anything the client sent after its ClientHello waits for our keys */
	rc = buf_append(&c->rx, c->ch_raw.data + used, c->ch_raw.len - used);
	c->state = REALITY_CONN_WAIT_DEST;
	c->verdict = REALITY_V_OURS;
	return rc;
}

/* ---- dest's reply (§3.4) and our flight (§3.5) ---- */

struct dest_shape {
	size_t sh_off, sh_len;     /* ServerHello message inside dest_raw */
	size_t rec_len[5];         /* records 2..6, header included; 0 = absent */
	bool combined;
};

/* 1 when dest's flight is understood, 0 for more bytes, <0 unusable. */
static int parse_dest(const struct buf *d, struct dest_shape *s)
{
	size_t at = 0, idx = 0;
	memset(s, 0, sizeof(*s));
	if (d->len > REALITY_SERVER_DEST_MAX)
		return ERR_TOOBIG;
	for (;;) {
		if (d->len - at < TLS_RECORD_HEADER_LEN)
			break;
		const uint8_t *h = d->data + at;
		uint8_t type = h[0];
		size_t len = tls_get_u16(h + 3);
		if (tls_get_u16(h + 1) != TLS_VERSION_12)
			return ERR_PROTO;
		if (d->len - at - TLS_RECORD_HEADER_LEN < len)
			break;
		if (idx == 0) {
			if (type != TLS_CT_HANDSHAKE)
				return ERR_PROTO;
			s->sh_off = at + TLS_RECORD_HEADER_LEN;
			s->sh_len = len;
		} else if (idx == 1) {
			if (type != TLS_CT_CHANGE_CIPHER_SPEC || len != 1)
				return ERR_PROTO;
		} else {
			if (type != TLS_CT_APPLICATION_DATA)
				return ERR_PROTO;
			s->rec_len[idx - 2] = TLS_RECORD_HEADER_LEN + len;
			if (idx == 2 && s->rec_len[0] > REALITY_SERVER_COMBINED_MIN) {
				s->combined = true;
				return 1;
			}
		}
		at += TLS_RECORD_HEADER_LEN + len;
		if (++idx == 7)
			break;
	}
	if (idx >= 6)
		return 1; /* records 2..5 (and 6 if it came along) */
	return 0;
}

static int flight_msgs(struct reality_conn *c, uint8_t *ee, size_t *ee_len, uint8_t *cert, size_t *cert_len,
                       uint8_t *cv, size_t *cv_len, uint8_t *fin, size_t *fin_len)
{
	uint8_t der[REALITY_CERT_LEN], th[TLS_MAX_HASH_LEN], content[TLS_CV_CONTENT_MAX], sig[REALITY_ED25519_SIG_LEN];
	size_t content_len;
	int rc;
	struct tls13_msg_cert_in ci = {.der = der, .len = sizeof(der)};

	memcpy(der, c->cfg->cert, sizeof(der));
	rc = reality_auth_cert_sign(der, c->auth_key);
	if (rc == 0)
		rc = tls13_msg_ee_build(NULL, 0, ee, 64, ee_len);
	if (rc == 0)
		rc = tls13_keysched_transcript_update(&c->tr, ee, *ee_len);
	if (rc == 0)
		rc = tls13_msg_cert_build(NULL, 0, &ci, 1, cert, 512, cert_len);
	if (rc == 0)
		rc = tls13_keysched_transcript_update(&c->tr, cert, *cert_len);
	if (rc == 0)
		rc = tls13_keysched_transcript_hash(&c->tr, th);
	if (rc == 0)
		rc = tls13_msg_cv_content(true, th, c->suite->hash_len, content, sizeof(content), &content_len);
	if (rc == 0)
		rc = reality_auth_ed25519_sign(sig, c->cfg->ed_seed, content, content_len);
	if (rc == 0)
		rc = tls13_msg_cv_build(TLS_SIG_ED25519, sig, sizeof(sig), cv, 128, cv_len);
	if (rc == 0)
		rc = tls13_keysched_transcript_update(&c->tr, cv, *cv_len);
	if (rc == 0)
		rc = tls13_keysched_transcript_hash(&c->tr, th);
	if (rc == 0) {
		uint8_t vd[TLS_MAX_HASH_LEN];
		rc = tls13_keysched_finished(c->suite->hash, c->ks.s_hs, th, vd);
		if (rc == 0)
			rc = tls13_msg_fin_build(vd, c->suite->hash_len, fin, 64, fin_len);
		sodium_memzero(vd, sizeof(vd));
	}
	if (rc == 0)
		rc = tls13_keysched_transcript_update(&c->tr, fin, *fin_len);
	return rc;
}

/* Computes the (EC)DHE secret for dest's chosen group and writes our key
 * share into the ServerHello (in place). */
static int key_exchange(struct reality_conn *c, const struct tls13_msg_sh *sh, uint8_t *sh_msg, uint8_t *shared,
                        size_t *shared_len)
{
	struct tls13_msg_key_share ks;
	uint8_t priv[TLS_X25519_LEN], pub[TLS_X25519_LEN], share[TLS_X25519MLKEM768_SERVER_LEN];
	int rc;
	if (reality_auth_x25519_keypair(priv, pub) < 0)
		return ERR_CRYPTO;
	if (sh->group == TLS_GROUP_X25519 && sh->key_len == TLS_X25519_LEN) {
		rc = tls13_msg_ch_key_share_find(&c->ch, TLS_GROUP_X25519, &ks);
		if (rc == 0 && ks.len != TLS_X25519_LEN)
			rc = ERR_PROTO;
		if (rc == 0)
			rc = reality_auth_x25519(shared, priv, ks.key);
		*shared_len = TLS_X25519_LEN;
		if (rc == 0)
			rc = tls13_msg_sh_replace_key(sh, sh_msg, pub, sizeof(pub));
	} else if (sh->group == TLS_GROUP_X25519MLKEM768 && sh->key_len == TLS_X25519MLKEM768_SERVER_LEN) {
		rc = tls13_msg_ch_key_share_find(&c->ch, TLS_GROUP_X25519MLKEM768, &ks);
		if (rc == 0 && ks.len != TLS_X25519MLKEM768_CLIENT_LEN)
			rc = ERR_PROTO;
		/* shared = ML-KEM ss ‖ X25519 ss; share = ct ‖ our X25519 */
		if (rc == 0)
			rc = mlkem_encaps(share, shared, ks.key);
		if (rc == 0)
			rc = reality_auth_x25519(shared + TLS_MLKEM768_SS_LEN, priv, ks.key + TLS_MLKEM768_EK_LEN);
		memcpy(share + TLS_MLKEM768_CT_LEN, pub, sizeof(pub));
		*shared_len = TLS_X25519MLKEM768_SS_LEN;
		if (rc == 0)
			rc = tls13_msg_sh_replace_key(sh, sh_msg, share, sizeof(share));
	} else {
		rc = ERR_PROTO;
	}
	sodium_memzero(priv, sizeof(priv));
	return rc;
}

static int seal_append(struct reality_conn *c, uint8_t type, const uint8_t *data, size_t len, size_t record_len)
{
	size_t n;
	int rc = buf_reserve(&c->out_client, TLS_MAX_RECORD);
	if (rc < 0)
		return rc;
	uint8_t *out = c->out_client.data + c->out_client.len;
	if (record_len)
		rc = tls13_record_seal_to_size(&c->rec, type, data, len, record_len, out, TLS_MAX_RECORD, &n);
	else
		rc = tls13_record_seal(&c->rec, type, data, len, 0, out, TLS_MAX_RECORD, &n);
	if (rc == 0)
		buf_advance(&c->out_client, n);
	return rc;
}

static int our_flight(struct reality_conn *c, const struct dest_shape *s)
{
	uint8_t sh_msg[2048], shared[TLS_MAX_SHARED_SECRET], th[TLS_MAX_HASH_LEN];
	uint8_t ee[64], cert[512], cv[128], fin[64], all[64 + 512 + 128 + 64];
	size_t ee_len, cert_len, cv_len, fin_len, shared_len = 0, n;
	struct tls13_msg_sh sh;
	int rc;

	if (s->sh_len > sizeof(sh_msg))
		return ERR_PROTO;
	memcpy(sh_msg, c->dest_raw.data + s->sh_off, s->sh_len);
	rc = tls13_msg_sh_parse(&sh, sh_msg, s->sh_len);
	if (rc < 0 || sh.is_hrr || sh.legacy_version != TLS_VERSION_12 || sh.version != TLS_VERSION_13)
		return ERR_PROTO;
	c->suite = tls13_keysched_suite(sh.suite);
	if (!c->suite)
		return ERR_PROTO;
	rc = key_exchange(c, &sh, sh_msg, shared, &shared_len);
	if (rc < 0)
		goto out;
	c->group = sh.group;
	rc = tls13_keysched_transcript_init(&c->tr, c->suite->hash);
	if (rc < 0)
		goto out;
	c->tr_live = true;
	rc = tls13_keysched_transcript_update(&c->tr, c->ch_msg.data, c->ch_msg.len);
	if (rc == 0)
		rc = tls13_keysched_transcript_update(&c->tr, sh_msg, s->sh_len);
	if (rc == 0)
		rc = tls13_keysched_transcript_hash(&c->tr, th);
	if (rc == 0)
		rc = tls13_keysched_init(&c->ks, c->suite, NULL, 0);
	if (rc == 0)
		rc = tls13_keysched_handshake(&c->ks, shared, shared_len, th);
	if (rc < 0)
		goto out;
	/* ServerHello and CCS in plaintext, then the encrypted flight */
	rc = buf_reserve(&c->out_client, TLS_RECORD_HEADER_LEN + s->sh_len + TLS_CCS_RECORD_LEN);
	if (rc < 0)
		goto out;
	rc = tls13_record_write_plain(&c->rec, TLS_CT_HANDSHAKE, sh_msg, s->sh_len, c->out_client.data + c->out_client.len,
	                              c->out_client.cap - c->out_client.len, &n);
	if (rc < 0)
		goto out;
	buf_advance(&c->out_client, n);
	static const uint8_t ccs = TLS_CCS_BYTE;
	rc = tls13_record_write_plain(&c->rec, TLS_CT_CHANGE_CIPHER_SPEC, &ccs, 1, c->out_client.data + c->out_client.len,
	                              c->out_client.cap - c->out_client.len, &n);
	if (rc < 0)
		goto out;
	buf_advance(&c->out_client, n);
	rc = tls13_record_set_secret(&c->rec, true, c->suite->id, c->ks.s_hs, TLS13_EPOCH_HANDSHAKE);
	if (rc == 0)
		rc = tls13_record_set_secret(&c->rec, false, c->suite->id, c->ks.c_hs, TLS13_EPOCH_HANDSHAKE);
	if (rc == 0)
		rc = flight_msgs(c, ee, &ee_len, cert, &cert_len, cv, &cv_len, fin, &fin_len);
	if (rc < 0)
		goto out;
	/* records sized like dest's (§3.5); a message that does not fit
	 * aborts (ERR_RANGE from the record layer) */
	if (s->combined) {
		size_t k = 0;
		memcpy(all + k, ee, ee_len), k += ee_len;
		memcpy(all + k, cert, cert_len), k += cert_len;
		memcpy(all + k, cv, cv_len), k += cv_len;
		memcpy(all + k, fin, fin_len), k += fin_len;
		rc = seal_append(c, TLS_CT_HANDSHAKE, all, k, s->rec_len[0]);
	} else {
		rc = seal_append(c, TLS_CT_HANDSHAKE, ee, ee_len, s->rec_len[0]);
		if (rc == 0)
			rc = seal_append(c, TLS_CT_HANDSHAKE, cert, cert_len, s->rec_len[1]);
		if (rc == 0)
			rc = seal_append(c, TLS_CT_HANDSHAKE, cv, cv_len, s->rec_len[2]);
		if (rc == 0)
			rc = seal_append(c, TLS_CT_HANDSHAKE, fin, fin_len, s->rec_len[3]);
	}
	if (rc < 0)
		goto out;
	/* application secrets over CH..server Finished; we may write at once */
	rc = tls13_keysched_transcript_hash(&c->tr, th);
	if (rc == 0)
		rc = tls13_keysched_application(&c->ks, th);
	if (rc == 0)
		rc = tls13_record_set_secret(&c->rec, true, c->suite->id, c->ks.s_ap, TLS13_EPOCH_APPLICATION);
	if (rc == 0 && !s->combined && s->rec_len[4])
		rc = seal_append(c, TLS_CT_APPLICATION_DATA, NULL, 0, s->rec_len[4]);
out:
	sodium_memzero(shared, sizeof(shared));
	sodium_memzero(th, sizeof(th));
	return rc;
}

/* ---- after the handshake ---- */

static int handle_plaintext(struct reality_conn *c, const uint8_t *p, size_t len);

static int send_app(struct reality_conn *c, const uint8_t *data, size_t len)
{
	while (len) {
		size_t n = len > TLS_MAX_PLAINTEXT ? TLS_MAX_PLAINTEXT : len;
		int rc = seal_append(c, TLS_CT_APPLICATION_DATA, data, n, 0);
		if (rc < 0)
			return rc;
		data += n;
		len -= n;
	}
	return 0;
}

static void fail(struct reality_conn *c)
{
	c->state = REALITY_CONN_CLOSED;
}

/* Post-handshake handshake messages from the client: only KeyUpdate. */
static int post_handshake(struct reality_conn *c, const struct tls13_record_hs_msg *m)
{
	bool requested;
	int rc;
	if (m->type != TLS_HS_KEY_UPDATE || tls13_msg_key_update_parse(m->msg, m->msg_len, &requested) < 0) {
		fail(c);
		return 0;
	}
	rc = tls13_keysched_update(c->suite->hash, c->c_ap);
	if (rc == 0)
		rc = tls13_record_set_secret(&c->rec, false, c->suite->id, c->c_ap, TLS13_EPOCH_APPLICATION);
	if (rc == 0 && requested) {
		uint8_t ku[8];
		size_t n;
		rc = tls13_msg_key_update_build(false, ku, sizeof(ku), &n);
		if (rc == 0)
			rc = seal_append(c, TLS_CT_HANDSHAKE, ku, n, 0);
		if (rc == 0)
			rc = tls13_keysched_update(c->suite->hash, c->s_ap);
		if (rc == 0)
			rc = tls13_record_set_secret(&c->rec, true, c->suite->id, c->s_ap, TLS13_EPOCH_APPLICATION);
	}
	return rc;
}

static int client_finished(struct reality_conn *c, const struct tls13_record_hs_msg *m)
{
	uint8_t th[TLS_MAX_HASH_LEN];
	int rc = tls13_keysched_transcript_hash(&c->tr, th);
	if (rc < 0)
		return rc;
	if (m->type != TLS_HS_FINISHED ||
	    tls13_msg_fin_verify(c->suite->hash, c->ks.c_hs, th, m->msg, m->msg_len) < 0) {
		fail(c);
		return 0;
	}
	memcpy(c->c_ap, c->ks.c_ap, c->suite->hash_len);
	memcpy(c->s_ap, c->ks.s_ap, c->suite->hash_len);
	rc = tls13_record_set_secret(&c->rec, false, c->suite->id, c->c_ap, TLS13_EPOCH_APPLICATION);
	/* imitate what dest sends after a client's Finished (§3.6): empty
	 * application records of the measured lengths */
	const struct dest_probe_result *ph = &c->cfg->post_hs[c->name_idx][c->alpn_class];
	for (size_t i = 0; rc == 0 && i < ph->n; i++)
		if (ph->len[i] >= TLS_RECORD_OVERHEAD && ph->len[i] <= TLS_MAX_RECORD)
			rc = seal_append(c, TLS_CT_APPLICATION_DATA, NULL, 0, ph->len[i]);
	if (rc == 0) {
		c->state = REALITY_CONN_OPEN;
		/* the handshake's buffers are done with: an open connection keeps
		 * only its queues and keys */
		buf_fini(&c->ch_raw);
		buf_fini(&c->ch_msg);
		buf_fini(&c->dest_raw);
		memset(&c->ch, 0, sizeof(c->ch));
		tls13_keysched_transcript_fini(&c->tr);
		c->tr_live = false;
	}
	return rc;
}

/* Reads whole records out of rx while in WAIT_FIN or OPEN. */
static int read_records_inner(struct reality_conn *c);
static int read_records(struct reality_conn *c)
{
	if (scratch_get(c) < 0)
		return -ENOMEM;
	int rc = read_records_inner(c);
	scratch_put(c);
	return rc;
}

static int read_records_inner(struct reality_conn *c)
{
	struct tls13_record_in r;
	struct tls13_record_hs_msg m;
	size_t at = 0;
	int rc = 0;
	while ((c->state == REALITY_CONN_WAIT_FIN || c->state == REALITY_CONN_OPEN) && !c->uplink_raw &&
	       !c->client_closed) {
		rc = tls13_record_read(&c->rec, c->rx.data + at, c->rx.len - at, c->scratch, SCRATCH_LEN, &r);
		if (rc == 0)
			break;
		if (rc < 0) {
			fail(c);
			rc = 0;
			break;
		}
		at += r.used;
		if (r.dropped)
			continue;
		if (r.type == TLS_CT_ALERT) {
			c->client_closed = true; /* close_notify or fatal: either way, done */
			break;
		}
		if (r.type == TLS_CT_HANDSHAKE) {
			rc = tls13_record_reasm_add(&c->reasm, r.data, r.len);
			while (rc == 0 && c->state != REALITY_CONN_CLOSED) {
				rc = tls13_record_reasm_next(&c->reasm, &m);
				if (rc <= 0)
					break;
				rc = c->state == REALITY_CONN_WAIT_FIN ? client_finished(c, &m) : post_handshake(c, &m);
			}
			if (rc < 0) {
				fail(c);
				rc = 0;
			}
			continue;
		}
		if (r.type == TLS_CT_APPLICATION_DATA && c->state == REALITY_CONN_OPEN) {
			rc = handle_plaintext(c, r.data, r.len);
			if (rc < 0)
				break;
			if (c->uplink_raw) {
				/* Vision direct (§5.3): all later socket bytes are raw */
				rc = buf_append(&c->out_target, c->rx.data + at, c->rx.len - at);
				at = c->rx.len;
			}
			continue;
		}
		fail(c);
	}
	buf_consume(&c->rx, at);
	return rc;
}

static int handle_plaintext(struct reality_conn *c, const uint8_t *p, size_t len)
{
	int rc;
	if (!c->have_request) {
		size_t used = 0;
		rc = buf_append(&c->vin, p, len);
		if (rc < 0) {
			fail(c);
			return 0;
		}
		rc = vless_request_parse(c->vin.data, c->vin.len, &c->req, &used);
		if (rc == 0)
			return 0;
		if (rc < 0) {
			fail(c);
			return 0;
		}
		c->user = vless_users_find(&c->cfg->users, c->req.uuid);
		/* TCP, plain UDP (cmd 2) and XUDP (cmd 3, session 0 only: the
		 * I/O layer refuses other Mux frames) */
		if (!c->user || vless_flow_check(c->user, &c->req, &c->vision) < 0) {
			fail(c);
			return 0;
		}
		c->have_request = true;
		c->connect_wanted = true;
		if (c->vision) {
			vision_traffic_init(&c->vt);
			vision_unpad_init(&c->vu, c->req.uuid);
			vision_pad_init(&c->vp, c->req.uuid);
		}
		/* the rest of this record is payload; unpadding works on it in
		 * place inside vin */
		buf_consume(&c->vin, used);
		p = c->vin.data;
		len = c->vin.len;
		if (len == 0)
			return 0;
	}
	if (c->vision) {
		size_t n;
		/* p lies in scratch (a record) or vin: both writable and ours */
		vision_unpad_feed(&c->vu, p, len, (uint8_t *)p, &n);
		vision_filter(&c->vt, p, n);
		rc = buf_append(&c->out_target, p, n);
		if (c->vu.direct)
			c->uplink_raw = true;
	} else {
		rc = buf_append(&c->out_target, p, len);
	}
	if (c->vin.len)
		buf_reset(&c->vin);
	return rc;
}

/* ---- entry points ---- */

int reality_conn_client_data(struct reality_conn *c, const uint8_t *in, size_t len)
{
	int rc;
	size_t used = 0;
	switch (c->state) {
	case REALITY_CONN_READ_CH:
		rc = buf_append(&c->out_dest, in, len); /* mirror at once (§3.1) */
		if (rc < 0)
			return rc;
		if (buf_append(&c->ch_raw, in, len) < 0)
			return go_relay(c, REALITY_V_BAD_CH);
		rc = gather_ch(c, &used);
		if (rc == 0)
			return 0;
		if (rc < 0)
			return go_relay(c, c->ch_raw.data[0] == TLS_CT_HANDSHAKE ? REALITY_V_BAD_CH : REALITY_V_NOT_TLS);
		{
			enum reality_verdict v = decide(c);
			if (v != REALITY_V_OURS)
				return go_relay(c, v);
		}
		rc = start_handshake(c, used);
		if (rc < 0)
			return rc;
		/* dest may have answered already */
		return reality_conn_dest_data(c, NULL, 0);
	case REALITY_CONN_RELAY:
		return buf_append(&c->out_dest, in, len);
	case REALITY_CONN_WAIT_DEST:
		return buf_append(&c->rx, in, len);
	case REALITY_CONN_WAIT_FIN:
	case REALITY_CONN_OPEN:
		if (c->uplink_raw)
			return buf_append(&c->out_target, in, len);
		rc = buf_append(&c->rx, in, len);
		if (rc < 0)
			return rc;
		return read_records(c);
	case REALITY_CONN_CLOSED:
		return 0;
	}
	return 0;
}

int reality_conn_dest_data(struct reality_conn *c, const uint8_t *in, size_t len)
{
	struct dest_shape s;
	int rc;
	switch (c->state) {
	case REALITY_CONN_READ_CH:
		return buf_append(&c->dest_raw, in, len);
	case REALITY_CONN_RELAY:
		return buf_append(&c->out_client, in, len);
	case REALITY_CONN_WAIT_DEST:
		if (len && buf_append(&c->dest_raw, in, len) < 0)
			return go_relay(c, REALITY_V_DEST);
		rc = parse_dest(&c->dest_raw, &s);
		if (rc == 0)
			return 0;
		if (rc < 0)
			return go_relay(c, REALITY_V_DEST);
		{
			size_t before = c->out_client.len;
			rc = our_flight(c, &s);
			if (rc < 0) {
				/* nothing of ours may leak: drop what we queued, then pipe */
				c->out_client.len = before;
				return go_relay(c, REALITY_V_DEST);
			}
		}
		buf_reset(&c->dest_raw);
		c->state = REALITY_CONN_WAIT_FIN;
		return read_records(c);
	default:
		return 0; /* after our flight dest is ignored, then closed */
	}
}

int reality_conn_give_up(struct reality_conn *c)
{
	if (c->state != REALITY_CONN_READ_CH)
		return 0;
	return go_relay(c, REALITY_V_NONE);
}

void reality_conn_target_connected(struct reality_conn *c)
{
	c->connect_wanted = false;
	c->target_ready = true;
}

static int target_data(struct reality_conn *c, const uint8_t *in, size_t len);
int reality_conn_target_data(struct reality_conn *c, const uint8_t *in, size_t len)
{
	if (scratch_get(c) < 0)
		return -ENOMEM;
	int rc = target_data(c, in, len);
	scratch_put(c);
	return rc;
}

static int target_data(struct reality_conn *c, const uint8_t *in, size_t len)
{
	int rc = 0;
	if (c->state != REALITY_CONN_OPEN)
		return 0;
	if (!c->response_sent) {
		/* the response header goes in the same record as the first data
		 * (Xray's buffered writer does the same), in front of the first
		 * padded frame when Vision pads */
		size_t chunk, n = 0;
		uint8_t *out = c->scratch;
		vless_response_encode(out);
		c->response_sent = true;
		if (c->vision && c->vp.padding && len) {
			chunk = len > PADDED_CHUNK ? PADDED_CHUNK : len;
			vision_filter(&c->vt, in, chunk);
			rc = vision_pad_write(&c->vp, &c->vt, in, chunk, out + VLESS_RESPONSE_LEN,
			                      vision_pad_bound(PADDED_CHUNK), &n);
		} else {
			chunk = len > TLS_MAX_PLAINTEXT - VLESS_RESPONSE_LEN ? TLS_MAX_PLAINTEXT - VLESS_RESPONSE_LEN : len;
			if (chunk)
				memcpy(out + VLESS_RESPONSE_LEN, in, chunk);
			n = chunk;
		}
		if (rc == 0)
			rc = send_app(c, out, VLESS_RESPONSE_LEN + n);
		if (rc < 0)
			return rc;
		in += chunk;
		len -= chunk;
	}
	while (len && c->vision && c->vp.padding) {
		size_t chunk = len > PADDED_CHUNK ? PADDED_CHUNK : len, n;
		vision_filter(&c->vt, in, chunk);
		rc = vision_pad_write(&c->vp, &c->vt, in, chunk, c->scratch, vision_pad_bound(PADDED_CHUNK), &n);
		if (rc == 0)
			rc = send_app(c, c->scratch, n);
		if (rc < 0)
			return rc;
		in += chunk;
		len -= chunk;
	}
	return send_app(c, in, len);
}

int reality_conn_target_eof(struct reality_conn *c)
{
	static const uint8_t close_notify[TLS_ALERT_LEN] = {TLS_ALERT_LEVEL_WARNING, TLS_ALERT_CLOSE_NOTIFY};
	if (c->state != REALITY_CONN_OPEN)
		return 0;
	if (!c->response_sent) {
		int rc = reality_conn_target_data(c, NULL, 0);
		if (rc < 0)
			return rc;
	}
	return seal_append(c, TLS_CT_ALERT, close_notify, sizeof(close_notify), 0);
}
