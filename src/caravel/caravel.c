/* libcaravel: versions, errors, keys and profiles (caravel.h). The tunnel
 * lives in tunnel.c. */
#include "caravel/caravel.h"

#include <errno.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>

#include "caravel/pool.h"
#include "caravel/priv.h"
#include "lib/enc.h"
#include "lib/mem.h"
#include "profile/profile.h"

#ifndef PHAROS_VERSION
#define PHAROS_VERSION "unknown"
#endif

_Static_assert(CARAVEL_KEY_LEN == PROFILE_KEY_LEN, "key sizes agree");
_Static_assert(CARAVEL_ID_MAX == PROFILE_NAME_MAX + 1, "id sizes agree");
_Static_assert(ADDR_STRLEN <= 48 && CIDR_STRLEN <= 64, "info text fits");
_Static_assert(ENDPOINT_STRLEN <= CARAVEL_ENDPOINT_MAX, "endpoint text fits");

int caravel_api_version(void)
{
	return CARAVEL_API_VERSION;
}

const char *caravel_version(void)
{
	return PHAROS_VERSION;
}

const char *caravel_strerror(int err)
{
	switch (err) {
	case CARAVEL_ERR_PARSE:
		return "malformed profile";
	case CARAVEL_ERR_AUTH:
		return "the file does not open: wrong key or password, or it was altered";
	case CARAVEL_ERR_PIN:
		return "signed by a key other than the fleet's pinned profile-signing key";
	case CARAVEL_ERR_NO_NODE:
		return "no usable node in the profile";
	case CARAVEL_ERR_VERSION:
		return "structure or API version not supported by this library";
	case CARAVEL_ERR_STATE:
		return "not valid in the tunnel's current state";
	default:
		return err_str(err);
	}
}

/* Our internal codes, as the ABI spells them. */
int caravel_map_err(int rc)
{
	switch (rc) {
	case ERR_PARSE:
	case ERR_RANGE:
	case ERR_TOOBIG:
		return CARAVEL_ERR_PARSE;
	case ERR_AUTH:
	case ERR_CRYPTO:
		return CARAVEL_ERR_AUTH;
	case ERR_BADSTATE:
		return CARAVEL_ERR_STATE;
	default:
		return rc;
	}
}

int caravel_keypair_generate(uint8_t sk[CARAVEL_KEY_LEN], uint8_t pk[CARAVEL_KEY_LEN])
{
	if (sodium_init() < 0)
		return -EIO;
	randombytes_buf(sk, CARAVEL_KEY_LEN);
	/* X25519 clamping, as wg genkey stores it. */
	sk[0] &= 248;
	sk[31] = (uint8_t)((sk[31] & 127) | 64);
	return pk ? caravel_public_key(sk, pk) : 0;
}

int caravel_public_key(const uint8_t sk[CARAVEL_KEY_LEN], uint8_t pk[CARAVEL_KEY_LEN])
{
	if (sodium_init() < 0)
		return -EIO;
	return crypto_scalarmult_base(pk, sk) == 0 ? 0 : ERR_CRYPTO;
}

int caravel_device_request(const uint8_t awg_public[CARAVEL_KEY_LEN], const uint8_t enc_public[CARAVEL_KEY_LEN],
                           const char *name, char *out, size_t cap)
{
	struct devreq r;
	memset(&r, 0, sizeof(r));
	memcpy(r.awg_public, awg_public, sizeof(r.awg_public));
	memcpy(r.enc_public, enc_public, sizeof(r.enc_public));
	if (name && strlen(name) >= sizeof(r.name))
		return ERR_RANGE;
	snprintf(r.name, sizeof(r.name), "%s", name ? name : "");
	int rc = devreq_format(&r, out, cap); /* its length on success */
	return rc < 0 ? caravel_map_err(rc) : 0;
}

int caravel_file_enc(const uint8_t *file, size_t len, enum caravel_enc *enc, char *err, size_t errlen)
{
	enum profile_enc e;
	int rc = profile_file_enc(file, len, &e, err, errlen);
	if (rc < 0)
		return caravel_map_err(rc);
	*enc = e == PROFILE_ENC_NONE ? CARAVEL_ENC_NONE : e == PROFILE_ENC_PASSWORD ? CARAVEL_ENC_PASSWORD
	                                                                              : CARAVEL_ENC_ACCOUNT;
	return 0;
}

static int load(const char *json, size_t len, caravel_profile **out, char *err, size_t errlen)
{
	caravel_profile *p = mem_zalloc(sizeof(*p));
	if (!p)
		return -ENOMEM;
	profile_init(&p->p);
	int rc = profile_parse(json, len, &p->p, err, errlen);
	if (rc < 0) {
		caravel_profile_free(p);
		return caravel_map_err(rc);
	}
	if (caravel_node_next(&p->p, 0) < 0) {
		snprintf(err, errlen, "the profile of fleet \"%s\" has no node offering AmneziaWG with an entry pool",
		         p->p.fleet_id);
		caravel_profile_free(p);
		return CARAVEL_ERR_NO_NODE;
	}
	*out = p;
	return 0;
}

int caravel_profile_open(const uint8_t *file, size_t len, const struct caravel_open_args *a, caravel_profile **out,
                         char *err, size_t errlen)
{
	uint8_t signer[PROFILE_KEY_LEN], pinned[PROFILE_KEY_LEN];
	char *json = NULL;
	size_t jlen = 0;
	caravel_profile *p = NULL;
	*out = NULL;
	if (!a || a->size < sizeof(struct caravel_open_args) || !a->pin_lookup) {
		snprintf(err, errlen, "caravel_open_args: size or pin_lookup missing");
		return CARAVEL_ERR_VERSION;
	}
	struct profile_open_args oa = { .device_sk = a->device_enc_sk, .password = a->password };
	int rc = profile_open(file, len, &oa, signer, &json, &jlen, err, errlen);
	if (rc < 0)
		return caravel_map_err(rc);
	if ((rc = load(json, jlen, &p, err, errlen)) < 0)
		goto out;
	memcpy(p->signer, signer, sizeof(signer));
	rc = a->pin_lookup(a->pin_ctx, p->p.fleet_id, pinned);
	if (rc < 0) {
		snprintf(err, errlen, "reading the pinned key of fleet \"%s\": %s", p->p.fleet_id, caravel_strerror(rc));
		goto out;
	}
	if (rc == 1 && sodium_memcmp(pinned, signer, sizeof(signer)) != 0) {
		char have[ENC_KEY_BASE64_LEN], want[ENC_KEY_BASE64_LEN];
		enc_key_to_base64(have, signer);
		enc_key_to_base64(want, pinned);
		snprintf(err, errlen,
		         "refusing the profile: fleet \"%s\" is pinned to profile-signing key %s, but this file is "
		         "signed by %s (a different controller, or a forged file)",
		         p->p.fleet_id, want, have);
		rc = CARAVEL_ERR_PIN;
		goto out;
	}
	rc = 0;
	*out = p;
	p = NULL;
out:
	caravel_profile_free(p);
	if (json)
		mem_free_secret(json, jlen);
	return rc;
}

int caravel_profile_load(const char *json, size_t len, caravel_profile **out, char *err, size_t errlen)
{
	*out = NULL;
	return load(json, len, out, err, errlen);
}

int caravel_profile_json(const caravel_profile *p, char **json, size_t *len)
{
	*json = NULL;
	int rc = profile_to_json(&p->p, json);
	if (rc < 0)
		return caravel_map_err(rc);
	if (len)
		*len = strlen(*json);
	return 0;
}

void caravel_profile_free(caravel_profile *p)
{
	if (!p)
		return;
	profile_free(&p->p);
	sodium_memzero(p, sizeof(*p));
	mem_free(p);
}

void caravel_free_secret(void *p, size_t n)
{
	mem_free_secret(p, n);
}

const char *caravel_profile_fleet_id(const caravel_profile *p)
{
	return p->p.fleet_id;
}

const char *caravel_profile_fleet_name(const caravel_profile *p)
{
	return p->p.fleet_name;
}

const char *caravel_profile_device_name(const caravel_profile *p)
{
	return p->p.device_name;
}

const char *caravel_profile_user(const caravel_profile *p)
{
	return p->p.user;
}

uint64_t caravel_profile_revision(const caravel_profile *p)
{
	return p->p.revision;
}

size_t caravel_profile_skipped(const caravel_profile *p)
{
	return p->p.skipped_protocols;
}

void caravel_profile_signer(const caravel_profile *p, uint8_t key[CARAVEL_KEY_LEN])
{
	memcpy(key, p->signer, CARAVEL_KEY_LEN);
}

int caravel_profile_info(const caravel_profile *p, struct caravel_profile_info *info)
{
	if (!info || info->size < sizeof(*info))
		return CARAVEL_ERR_VERSION;
	size_t size = info->size;
	memset(info, 0, sizeof(*info));
	info->size = size;
	if (p->p.address4.addr.family && cidr_format(&p->p.address4, info->address4, sizeof(info->address4)) < 0)
		return CARAVEL_ERR_PARSE;
	if (p->p.address6.addr.family && cidr_format(&p->p.address6, info->address6, sizeof(info->address6)) < 0)
		return CARAVEL_ERR_PARSE;
	for (size_t i = 0; i < p->p.n_dns && i < 4; i++)
		if (addr_format(&p->p.dns[i], info->dns[info->n_dns], sizeof(info->dns[0])) > 0)
			info->n_dns++;
	info->n_nodes = p->p.n_nodes;
	info->rotation_enabled = p->p.rotation.enabled ? 1 : 0;
	info->rotation_interval = p->p.rotation.interval;
	info->rotation_jitter = p->p.rotation.jitter;
	return 0;
}

int caravel_profile_node(const caravel_profile *p, size_t i, struct caravel_node_info *info)
{
	if (!info || info->size < sizeof(*info))
		return CARAVEL_ERR_VERSION;
	if (i >= p->p.n_nodes)
		return -ERANGE;
	const struct profile_node *n = &p->p.nodes[i];
	const struct profile_awg *awg = caravel_node_awg(n);
	size_t size = info->size;
	memset(info, 0, sizeof(*info));
	info->size = size;
	snprintf(info->id, sizeof(info->id), "%s", n->id);
	snprintf(info->name, sizeof(info->name), "%s", n->name);
	snprintf(info->region, sizeof(info->region), "%s", n->region);
	info->n_endpoints = n->n_endpoints;
	info->port_lo = n->port_lo;
	info->port_hi = n->port_hi;
	info->usable = awg && caravel_pool_size(n) ? 1 : 0;
	info->mtu = awg ? awg->mtu : 0;
	return 0;
}

int caravel_profile_node_endpoint(const caravel_profile *p, size_t n, size_t i, char *out, size_t cap)
{
	if (n >= p->p.n_nodes || i >= p->p.nodes[n].n_endpoints)
		return -ERANGE;
	int rc = addr_format(&p->p.nodes[n].endpoints[i], out, cap);
	return rc < 0 ? rc : 0;
}
