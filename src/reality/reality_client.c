/* REALITY client handshake and record protection: see reality_client.h and
 * specs/reality.md §2.4-2.6, §6.1. */
#include "reality/reality_client.h"

#include <errno.h>
#include <string.h>

#include <openssl/evp.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>
#include <sodium.h>

#include "lib/mem.h"
#include "reality/mlkem.h"
#include "reality/tls13_msg.h"

void reality_client_fini(struct reality_client *c)
{
	tls13_record_fini(&c->rec);
	tls13_record_reasm_fini(&c->reasm);
	tls13_keysched_wipe(&c->ks);
	tls13_keysched_transcript_fini(&c->tr);
	chello_keys_wipe(&c->keys);
	if (c->foreign_cert)
		mem_free(c->foreign_cert);
	c->foreign_cert = NULL;
	sodium_memzero(c->auth_key, sizeof(c->auth_key));
	sodium_memzero(c->inner, sizeof(c->inner));
	c->state = REALITY_CLIENT_CLOSED;
}

int reality_client_init(struct reality_client *c, const struct reality_client_config *cfg, uint32_t now,
                        const struct chello_rand *rand, const struct chello_keys *keys)
{
	struct chello_rand r;
	struct reality_auth_fields f;
	int rc;

	memset(c, 0, sizeof(*c));
	tls13_record_reasm_init(&c->reasm, 0);
	rc = tls13_record_init(&c->rec, TLS13_RECORD_CLIENT);
	if (rc < 0)
		goto out;
	c->rec.tx_compat_0301 = true;
	if (rand)
		r = *rand;
	else
		chello_rand_fill(&r);
	if (keys)
		c->keys = *keys;
	else if ((rc = chello_keys_generate(&c->keys)) < 0)
		goto out;
	rc = chello_build(cfg->server_name, &c->keys, &r, c->ch, sizeof(c->ch), &c->ch_len);
	if (rc < 0)
		goto out;
	f.version = cfg->version ? cfg->version : CHELLO_REALITY_VERSION;
	f.unix_time = now;
	memcpy(f.short_id, cfg->short_id, sizeof(f.short_id));
	rc = chello_seal(c->ch, c->ch_len, &c->keys, cfg->server_pub, &f, c->auth_key);
	if (rc < 0)
		goto out;
	c->state = REALITY_CLIENT_WAIT_SH;
out:
	sodium_memzero(&r, sizeof(r));
	if (rc < 0)
		reality_client_fini(c);
	return rc;
}

/* Appends one record to out. */
static int out_plain(struct reality_client *c, uint8_t type, const uint8_t *data, size_t len, struct buf *out)
{
	size_t n;
	int rc = buf_reserve(out, len + TLS_RECORD_HEADER_LEN);
	if (rc < 0)
		return rc;
	rc = tls13_record_write_plain(&c->rec, type, data, len, out->data + out->len, out->cap - out->len, &n);
	if (rc == 0)
		buf_advance(out, n);
	return rc;
}

static int out_sealed(struct reality_client *c, uint8_t type, const uint8_t *data, size_t len, struct buf *out)
{
	size_t n;
	int rc = buf_reserve(out, len + TLS_RECORD_OVERHEAD);
	if (rc < 0)
		return rc;
	rc = tls13_record_seal(&c->rec, type, data, len, 0, out->data + out->len, out->cap - out->len, &n);
	if (rc == 0)
		buf_advance(out, n);
	return rc;
}

int reality_client_hello(struct reality_client *c, struct buf *out)
{
	if (c->state != REALITY_CLIENT_WAIT_SH)
		return ERR_BADSTATE;
	return out_plain(c, TLS_CT_HANDSHAKE, c->ch, c->ch_len, out);
}

/* ECDHE with the server's share: X25519 with the standalone key, or for
 * X25519MLKEM768 ML-KEM decapsulation ‖ X25519 with the hybrid's key. */
static int shared_secret(struct reality_client *c, const struct tls13_msg_sh *sh, uint8_t *ss, size_t *ss_len)
{
	const uint8_t *key = sh->msg + sh->key_off;

	if (sh->group == TLS_GROUP_X25519) {
		*ss_len = TLS_X25519_LEN;
		return reality_auth_x25519(ss, c->keys.x25519_priv, key);
	}
	if (sh->group == TLS_GROUP_X25519MLKEM768) {
		*ss_len = TLS_X25519MLKEM768_SS_LEN;
		mlkem_decaps(ss, c->keys.mlkem_dk, key);
		return reality_auth_x25519(ss + TLS_MLKEM768_SS_LEN, c->keys.hybrid_x25519_priv,
		                           key + TLS_MLKEM768_CT_LEN);
	}
	return ERR_PROTO; /* a GREASE or other group we sent no real share for */
}

static int on_server_hello(struct reality_client *c, const struct tls13_record_hs_msg *m)
{
	struct tls13_msg_ch ch;
	struct tls13_msg_sh sh;
	uint8_t ss[TLS_MAX_SHARED_SECRET], thash[TLS_MAX_HASH_LEN];
	size_t ss_len = 0;
	int rc;

	if (m->type != TLS_HS_SERVER_HELLO)
		return ERR_PROTO;
	rc = tls13_msg_sh_parse(&sh, m->msg, m->msg_len);
	if (rc < 0)
		return rc;
	rc = tls13_msg_ch_parse(&ch, c->ch, c->ch_len);
	if (rc < 0)
		return rc;
	/* REALITY never asks for a retry: its dest saw shares for both groups. */
	if (sh.is_hrr)
		return ERR_PROTO;
	rc = tls13_msg_sh_check(&sh, &ch);
	if (rc < 0)
		return rc;
	c->suite = tls13_keysched_suite(sh.suite);
	rc = shared_secret(c, &sh, ss, &ss_len);
	if (rc < 0)
		goto out;
	rc = tls13_keysched_transcript_init(&c->tr, c->suite->hash);
	if (rc == 0)
		rc = tls13_keysched_transcript_update(&c->tr, c->ch, c->ch_len);
	if (rc == 0)
		rc = tls13_keysched_transcript_update(&c->tr, m->msg, m->msg_len);
	if (rc == 0)
		rc = tls13_keysched_transcript_hash(&c->tr, thash);
	if (rc == 0)
		rc = tls13_keysched_init(&c->ks, c->suite, NULL, 0);
	if (rc == 0)
		rc = tls13_keysched_handshake(&c->ks, ss, ss_len, thash);
	if (rc == 0)
		rc = tls13_record_set_secret(&c->rec, false, sh.suite, c->ks.s_hs, TLS13_EPOCH_HANDSHAKE);
	if (rc == 0)
		c->state = REALITY_CLIENT_WAIT_EE;
out:
	sodium_memzero(ss, sizeof(ss));
	return rc;
}

static int on_encrypted_extensions(struct reality_client *c, const struct tls13_record_hs_msg *m)
{
	struct tls13_msg_ee ee;
	const uint8_t *name;
	size_t name_len;
	int rc;

	if (m->type != TLS_HS_ENCRYPTED_EXTENSIONS)
		return ERR_PROTO;
	rc = tls13_msg_ee_parse(&ee, m->msg, m->msg_len);
	if (rc < 0)
		return rc;
	rc = tls13_msg_ee_alpn(&ee, &name, &name_len);
	if (rc == 0) {
		memcpy(c->alpn, name, name_len);
		c->alpn[name_len] = '\0';
	} else if (rc != ERR_NOTFOUND) {
		return rc;
	}
	c->state = REALITY_CLIENT_WAIT_CERT;
	return tls13_keysched_transcript_update(&c->tr, m->msg, m->msg_len);
}

static int on_certificate(struct reality_client *c, const struct tls13_record_hs_msg *m)
{
	struct tls13_msg_cert cert;
	const uint8_t *der;
	size_t der_len;
	int rc;

	if (m->type != TLS_HS_CERTIFICATE)
		return ERR_PROTO;
	rc = tls13_msg_cert_parse(&cert, m->msg, m->msg_len);
	if (rc < 0)
		return rc;
	if (cert.ctx_len != 0)
		return ERR_PROTO;
	rc = tls13_msg_cert_get(&cert, 0, &der, &der_len);
	if (rc < 0)
		return ERR_PROTO; /* a server must send a certificate */
	rc = reality_auth_cert_check(der, der_len, c->auth_key, c->cert_pub);
	if (rc == 0) {
		c->verified = true;
	} else if (rc == ERR_AUTH || rc == ERR_PARSE) {
		/* Not the REALITY certificate: keep it to check CertificateVerify
		 * as any TLS client would, then refuse the connection (§2.4). */
		c->foreign_cert = mem_dup(der, der_len);
		if (!c->foreign_cert)
			return -ENOMEM;
		c->foreign_cert_len = der_len;
	} else {
		return rc;
	}
	c->state = REALITY_CLIENT_WAIT_CV;
	return tls13_keysched_transcript_update(&c->tr, m->msg, m->msg_len);
}

/* The digest and padding a CertificateVerify scheme uses with a real
 * certificate; only the schemes our hello offers (Ed25519 is REALITY's). */
static int scheme_params(uint16_t scheme, const EVP_MD **md, int *pkey_type, int *padding)
{
	*padding = 0;
	switch (scheme) {
	case TLS_SIG_ECDSA_SECP256R1_SHA256:
		*md = EVP_sha256();
		*pkey_type = EVP_PKEY_EC;
		return 0;
	case TLS_SIG_ECDSA_SECP384R1_SHA384:
		*md = EVP_sha384();
		*pkey_type = EVP_PKEY_EC;
		return 0;
	case TLS_SIG_RSA_PSS_RSAE_SHA256:
		*md = EVP_sha256();
		break;
	case TLS_SIG_RSA_PSS_RSAE_SHA384:
		*md = EVP_sha384();
		break;
	case TLS_SIG_RSA_PSS_RSAE_SHA512:
		*md = EVP_sha512();
		break;
	default:
		return ERR_PROTO;
	}
	*pkey_type = EVP_PKEY_RSA;
	*padding = RSA_PKCS1_PSS_PADDING;
	return 0;
}

/* CertificateVerify of a foreign certificate, checked with libcrypto. */
static int verify_foreign(struct reality_client *c, uint16_t scheme, const uint8_t *sig, size_t sig_len,
                          const uint8_t *content, size_t content_len)
{
	const uint8_t *p = c->foreign_cert;
	X509 *x = NULL;
	EVP_MD_CTX *md_ctx = NULL;
	EVP_PKEY_CTX *pctx = NULL;
	const EVP_MD *md;
	EVP_PKEY *pkey;
	int pkey_type, padding, rc;

	rc = scheme_params(scheme, &md, &pkey_type, &padding);
	if (rc < 0)
		return rc;
	x = d2i_X509(NULL, &p, (long)c->foreign_cert_len);
	if (!x || p != c->foreign_cert + c->foreign_cert_len) {
		rc = ERR_PARSE;
		goto out;
	}
	pkey = X509_get0_pubkey(x);
	if (!pkey || EVP_PKEY_base_id(pkey) != pkey_type) {
		rc = ERR_PROTO;
		goto out;
	}
	md_ctx = EVP_MD_CTX_new();
	if (!md_ctx) {
		rc = -ENOMEM;
		goto out;
	}
	if (EVP_DigestVerifyInit(md_ctx, &pctx, md, NULL, pkey) != 1 ||
	    (padding && (EVP_PKEY_CTX_set_rsa_padding(pctx, padding) != 1 ||
	                 EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx, RSA_PSS_SALTLEN_DIGEST) != 1))) {
		rc = ERR_CRYPTO;
		goto out;
	}
	rc = EVP_DigestVerify(md_ctx, sig, sig_len, content, content_len) == 1 ? 0 : ERR_AUTH;
out:
	EVP_MD_CTX_free(md_ctx);
	X509_free(x);
	return rc;
}

static int on_certificate_verify(struct reality_client *c, const struct tls13_record_hs_msg *m)
{
	struct tls13_msg_cv cv;
	uint8_t thash[TLS_MAX_HASH_LEN], content[TLS_CV_CONTENT_MAX];
	size_t content_len;
	int rc;

	if (m->type != TLS_HS_CERTIFICATE_VERIFY)
		return ERR_PROTO;
	rc = tls13_msg_cv_parse(&cv, m->msg, m->msg_len);
	if (rc < 0)
		return rc;
	rc = tls13_keysched_transcript_hash(&c->tr, thash);
	if (rc == 0)
		rc = tls13_msg_cv_content(true, thash, c->suite->hash_len, content, sizeof(content), &content_len);
	if (rc < 0)
		return rc;
	if (c->verified) {
		/* Ed25519 although our hello does not offer it (§2.4, fact 7). */
		if (cv.scheme != TLS_SIG_ED25519 || cv.sig_len != REALITY_ED25519_SIG_LEN)
			return ERR_PROTO;
		rc = reality_auth_ed25519_verify(m->msg + cv.sig_off, c->cert_pub, content, content_len);
	} else {
		rc = verify_foreign(c, cv.scheme, m->msg + cv.sig_off, cv.sig_len, content, content_len);
	}
	if (rc < 0)
		return rc;
	c->cv_scheme = cv.scheme;
	c->state = REALITY_CLIENT_WAIT_FIN;
	return tls13_keysched_transcript_update(&c->tr, m->msg, m->msg_len);
}

/* Verifies the server's Finished, then sends CCS (middlebox compatibility,
 * as Chrome does) and our Finished and moves to the application keys. */
static int on_finished(struct reality_client *c, const struct tls13_record_hs_msg *m, struct buf *out)
{
	enum tls13_keysched_hash h = c->suite->hash;
	uint8_t thash[TLS_MAX_HASH_LEN], vd[TLS_MAX_HASH_LEN], fin[TLS_HS_HEADER_LEN + TLS_MAX_HASH_LEN];
	static const uint8_t ccs = TLS_CCS_BYTE;
	size_t fin_len;
	int rc;

	if (m->type != TLS_HS_FINISHED)
		return ERR_PROTO;
	rc = tls13_keysched_transcript_hash(&c->tr, thash);
	if (rc == 0)
		rc = tls13_msg_fin_verify(h, c->ks.s_hs, thash, m->msg, m->msg_len);
	if (rc == 0)
		rc = tls13_keysched_transcript_update(&c->tr, m->msg, m->msg_len);
	if (rc == 0)
		rc = tls13_keysched_transcript_hash(&c->tr, thash);
	if (rc == 0)
		rc = tls13_keysched_application(&c->ks, thash);
	if (rc == 0)
		rc = tls13_keysched_finished(h, c->ks.c_hs, thash, vd);
	if (rc == 0)
		rc = tls13_msg_fin_build(vd, c->suite->hash_len, fin, sizeof(fin), &fin_len);
	if (rc == 0)
		rc = out_plain(c, TLS_CT_CHANGE_CIPHER_SPEC, &ccs, 1, out);
	if (rc == 0)
		rc = tls13_record_set_secret(&c->rec, true, c->suite->id, c->ks.c_hs, TLS13_EPOCH_HANDSHAKE);
	if (rc == 0)
		rc = out_sealed(c, TLS_CT_HANDSHAKE, fin, fin_len, out);
	if (rc == 0)
		rc = tls13_record_set_secret(&c->rec, true, c->suite->id, c->ks.c_ap, TLS13_EPOCH_APPLICATION);
	if (rc == 0)
		rc = tls13_record_set_secret(&c->rec, false, c->suite->id, c->ks.s_ap, TLS13_EPOCH_APPLICATION);
	if (rc < 0)
		goto out;
	if (c->verified) {
		c->state = REALITY_CLIENT_CONNECTED;
		rc = REALITY_CLIENT_OURS;
	} else {
		rc = reality_client_close(c, out);
		c->state = REALITY_CLIENT_REFUSED;
		if (rc == 0)
			rc = REALITY_CLIENT_NOT_OURS;
	}
out:
	sodium_memzero(vd, sizeof(vd));
	sodium_memzero(fin, sizeof(fin));
	return rc;
}

static int on_handshake_message(struct reality_client *c, const struct tls13_record_hs_msg *m, struct buf *out)
{
	int rc;

	switch (c->state) {
	case REALITY_CLIENT_WAIT_SH:
		rc = on_server_hello(c, m);
		/* No message may share a record with ServerHello across the key change. */
		if (rc == 0 && !tls13_record_reasm_empty(&c->reasm))
			rc = ERR_PROTO;
		return rc;
	case REALITY_CLIENT_WAIT_EE:
		return on_encrypted_extensions(c, m);
	case REALITY_CLIENT_WAIT_CERT:
		if (m->type == TLS_HS_COMPRESSED_CERTIFICATE) {
			/* Only a real server compresses (REALITY never does, §6.1):
			 * not ours, and nothing to check it with. Leave politely,
			 * under our handshake key as any TLS 1.3 client would. */
			rc = tls13_record_set_secret(&c->rec, true, c->suite->id, c->ks.c_hs, TLS13_EPOCH_HANDSHAKE);
			if (rc == 0)
				rc = reality_client_close(c, out);
			c->state = REALITY_CLIENT_REFUSED;
			return rc < 0 ? rc : REALITY_CLIENT_NOT_OURS;
		}
		return on_certificate(c, m);
	case REALITY_CLIENT_WAIT_CV:
		return on_certificate_verify(c, m);
	case REALITY_CLIENT_WAIT_FIN:
		rc = on_finished(c, m, out);
		if (rc > 0 && !tls13_record_reasm_empty(&c->reasm))
			rc = ERR_PROTO;
		return rc;
	default:
		return ERR_BADSTATE;
	}
}

int reality_client_handshake(struct reality_client *c, const uint8_t *in, size_t len, size_t *used,
                             struct buf *out)
{
	struct tls13_record_hs_msg m;
	struct tls13_record_in r;
	int rc;

	*used = 0;
	if (c->state > REALITY_CLIENT_WAIT_FIN)
		return ERR_BADSTATE;
	for (;;) {
		rc = tls13_record_reasm_next(&c->reasm, &m);
		if (rc < 0)
			goto fail;
		if (rc == 1) {
			rc = on_handshake_message(c, &m, out);
			if (rc < 0)
				goto fail;
			if (rc > 0)
				return rc;
			continue;
		}
		rc = tls13_record_read(&c->rec, in + *used, len - *used, c->inner, sizeof(c->inner), &r);
		if (rc <= 0) {
			if (rc < 0)
				goto fail;
			return 0;
		}
		*used += r.used;
		if (r.dropped)
			continue;
		if (r.type != TLS_CT_HANDSHAKE) {
			/* An alert (or data) before the handshake ends: fatal. */
			rc = ERR_PROTO;
			goto fail;
		}
		rc = tls13_record_reasm_add(&c->reasm, r.data, r.len);
		if (rc < 0)
			goto fail;
	}
fail:
	c->state = REALITY_CLIENT_FAILED;
	return rc;
}

int reality_client_write(struct reality_client *c, const uint8_t *data, size_t len, struct buf *out)
{
	if (c->state != REALITY_CLIENT_CONNECTED || c->tx_closed)
		return ERR_BADSTATE;
	while (len > 0) {
		size_t n = len < TLS_MAX_PLAINTEXT ? len : TLS_MAX_PLAINTEXT;
		int rc = out_sealed(c, TLS_CT_APPLICATION_DATA, data, n, out);
		if (rc < 0)
			return rc;
		data += n;
		len -= n;
	}
	return 0;
}

/* A post-handshake message (§4.6): tickets are skipped (we never resume),
 * KeyUpdate moves the read key on and, when asked, ours too. */
static int on_post_handshake(struct reality_client *c, const struct tls13_record_hs_msg *m, struct buf *out)
{
	enum tls13_keysched_hash h = c->suite->hash;
	uint8_t ku[TLS_HS_HEADER_LEN + 1];
	size_t ku_len;
	bool requested;
	int rc;

	if (m->type == TLS_HS_NEW_SESSION_TICKET)
		return tls13_msg_nst_check(m->msg, m->msg_len);
	if (m->type != TLS_HS_KEY_UPDATE)
		return ERR_PROTO;
	rc = tls13_msg_key_update_parse(m->msg, m->msg_len, &requested);
	if (rc == 0 && !tls13_record_reasm_empty(&c->reasm))
		rc = ERR_PROTO;
	if (rc == 0)
		rc = tls13_keysched_update(h, c->ks.s_ap);
	if (rc == 0)
		rc = tls13_record_set_secret(&c->rec, false, c->suite->id, c->ks.s_ap, TLS13_EPOCH_APPLICATION);
	if (rc < 0 || !requested || c->tx_closed)
		return rc;
	rc = tls13_msg_key_update_build(false, ku, sizeof(ku), &ku_len);
	if (rc == 0)
		rc = out_sealed(c, TLS_CT_HANDSHAKE, ku, ku_len, out);
	if (rc == 0)
		rc = tls13_keysched_update(h, c->ks.c_ap);
	if (rc == 0)
		rc = tls13_record_set_secret(&c->rec, true, c->suite->id, c->ks.c_ap, TLS13_EPOCH_APPLICATION);
	return rc;
}

int reality_client_read(struct reality_client *c, const uint8_t *in, size_t len, size_t *used,
                        const uint8_t **data, size_t *dlen, struct buf *out)
{
	struct tls13_record_hs_msg m;
	struct tls13_record_in r;
	uint8_t level, desc;
	int rc;

	*used = 0;
	*data = NULL;
	*dlen = 0;
	if (c->state != REALITY_CLIENT_CONNECTED)
		return ERR_BADSTATE;
	rc = tls13_record_read(&c->rec, in, len, c->inner, sizeof(c->inner), &r);
	if (rc <= 0)
		goto done;
	*used = r.used;
	rc = 1;
	if (r.dropped)
		goto done;
	switch (r.type) {
	case TLS_CT_APPLICATION_DATA:
		if (!tls13_record_reasm_empty(&c->reasm)) {
			rc = ERR_PROTO;
			break;
		}
		*data = r.data;
		*dlen = r.len;
		break;
	case TLS_CT_HANDSHAKE:
		rc = tls13_record_reasm_add(&c->reasm, r.data, r.len);
		while (rc == 0 && (rc = tls13_record_reasm_next(&c->reasm, &m)) == 1)
			rc = on_post_handshake(c, &m, out);
		if (rc == 0)
			rc = 1;
		break;
	case TLS_CT_ALERT:
		rc = tls13_record_alert_parse(r.data, r.len, &level, &desc);
		if (rc == 0)
			rc = desc == TLS_ALERT_CLOSE_NOTIFY ? REALITY_CLIENT_EOF : ERR_PROTO;
		if (rc == REALITY_CLIENT_EOF)
			c->state = REALITY_CLIENT_CLOSED;
		break;
	default:
		rc = ERR_PROTO;
	}
done:
	if (rc < 0)
		c->state = REALITY_CLIENT_FAILED;
	return rc;
}

int reality_client_close(struct reality_client *c, struct buf *out)
{
	static const uint8_t alert[TLS_ALERT_LEN] = {TLS_ALERT_LEVEL_WARNING, TLS_ALERT_CLOSE_NOTIFY};
	int rc;

	if (c->tx_closed || c->state == REALITY_CLIENT_FAILED)
		return ERR_BADSTATE;
	rc = c->rec.tx.epoch == TLS13_EPOCH_PLAINTEXT ? out_plain(c, TLS_CT_ALERT, alert, sizeof(alert), out)
	                                              : out_sealed(c, TLS_CT_ALERT, alert, sizeof(alert), out);
	c->tx_closed = true;
	return rc;
}
