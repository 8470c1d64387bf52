/* VLESS headers: see vless.h and specs/reality.md §5. */
#include "reality/vless.h"

#include <errno.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "lib/enc.h"

/* Protobuf wire: tag = field << 3 | wire type; Addons uses two
 * length-delimited fields. */
#define PB_FLOW_TAG 0x0a /* field 1, length-delimited */
#define PB_SEED_TAG 0x12 /* field 2, length-delimited */

static int pb_varint(const uint8_t *p, size_t len, size_t *at, uint64_t *v)
{
	uint64_t r = 0;
	for (unsigned shift = 0; shift < 64; shift += 7) {
		if (*at >= len)
			return ERR_PARSE;
		uint8_t b = p[(*at)++];
		r |= (uint64_t)(b & 0x7f) << shift;
		if (!(b & 0x80)) {
			*v = r;
			return 0;
		}
	}
	return ERR_PARSE;
}

/* Addons{flow, seed}: the flow is copied out ("" if absent); the seed and
 * unknown fields are skipped, but every field must be well formed. */
static int addons_parse(const uint8_t *p, size_t len, char *flow, size_t flow_cap)
{
	size_t at = 0;
	flow[0] = '\0';
	while (at < len) {
		uint64_t tag, n;
		if (pb_varint(p, len, &at, &tag) < 0)
			return ERR_PARSE;
		switch (tag & 7) {
		case 0:
			if (pb_varint(p, len, &at, &n) < 0)
				return ERR_PARSE;
			break;
		case 1:
			if (len - at < 8)
				return ERR_PARSE;
			at += 8;
			break;
		case 5:
			if (len - at < 4)
				return ERR_PARSE;
			at += 4;
			break;
		case 2:
			if (pb_varint(p, len, &at, &n) < 0 || n > len - at)
				return ERR_PARSE;
			if (tag == PB_FLOW_TAG) {
				if (n >= flow_cap)
					return ERR_RANGE;
				memcpy(flow, p + at, (size_t)n);
				flow[n] = '\0';
				if (memchr(flow, '\0', (size_t)n))
					return ERR_PARSE;
			}
			at += (size_t)n;
			break;
		default:
			return ERR_PARSE;
		}
	}
	return 0;
}

int vless_request_parse(const uint8_t *in, size_t len, struct vless_request *req, size_t *used)
{
	struct vless_request r;
	size_t at = 0;
	int rc;
	memset(&r, 0, sizeof(r));
	if (len < 1 + VLESS_UUID_LEN + 1)
		return len >= 1 && in[0] != VLESS_VERSION ? ERR_RANGE : 0;
	if (in[0] != VLESS_VERSION)
		return ERR_RANGE;
	memcpy(r.uuid, in + 1, VLESS_UUID_LEN);
	at = 1 + VLESS_UUID_LEN;
	size_t alen = in[at++];
	if (len - at < alen + 1)
		return 0;
	rc = addons_parse(in + at, alen, r.flow, sizeof(r.flow));
	if (rc < 0)
		return rc;
	at += alen;
	r.cmd = in[at++];
	if (r.cmd == VLESS_CMD_MUX)
		goto done;
	if (r.cmd != VLESS_CMD_TCP && r.cmd != VLESS_CMD_UDP)
		return ERR_RANGE;
	if (len - at < 3)
		return 0;
	r.dst.port = (uint16_t)(in[at] << 8 | in[at + 1]);
	r.dst.atyp = in[at + 2];
	at += 3;
	switch (r.dst.atyp) {
	case VLESS_ATYP_IPV4:
		if (len - at < 4)
			return 0;
		memcpy(r.dst.bytes, in + at, 4);
		at += 4;
		break;
	case VLESS_ATYP_IPV6:
		if (len - at < 16)
			return 0;
		memcpy(r.dst.bytes, in + at, 16);
		at += 16;
		break;
	case VLESS_ATYP_DOMAIN:
		if (len - at < 1)
			return 0;
		r.dst.len = in[at];
		if (r.dst.len == 0)
			return ERR_PARSE;
		if (len - at - 1 < r.dst.len)
			return 0;
		memcpy(r.dst.bytes, in + at + 1, r.dst.len);
		r.dst.bytes[r.dst.len] = '\0';
		if (memchr(r.dst.bytes, '\0', r.dst.len))
			return ERR_PARSE;
		at += 1 + (size_t)r.dst.len;
		break;
	default:
		return ERR_RANGE;
	}
done:
	*req = r;
	*used = at;
	return 1;
}

int vless_request_encode(const struct vless_request *req, uint8_t *out, size_t cap, size_t *len)
{
	uint8_t tmp[VLESS_REQUEST_MAX];
	size_t at = 0, flen = strnlen(req->flow, VLESS_FLOW_MAX);
	*len = 0;
	if (flen >= VLESS_FLOW_MAX)
		return -EINVAL;
	tmp[at++] = VLESS_VERSION;
	memcpy(tmp + at, req->uuid, VLESS_UUID_LEN);
	at += VLESS_UUID_LEN;
	if (flen) {
		tmp[at++] = (uint8_t)(2 + flen);
		tmp[at++] = PB_FLOW_TAG;
		tmp[at++] = (uint8_t)flen;
		memcpy(tmp + at, req->flow, flen);
		at += flen;
	} else {
		tmp[at++] = 0;
	}
	tmp[at++] = req->cmd;
	if (req->cmd != VLESS_CMD_MUX) {
		if (req->cmd != VLESS_CMD_TCP && req->cmd != VLESS_CMD_UDP)
			return -EINVAL;
		tmp[at++] = (uint8_t)(req->dst.port >> 8);
		tmp[at++] = (uint8_t)req->dst.port;
		tmp[at++] = req->dst.atyp;
		switch (req->dst.atyp) {
		case VLESS_ATYP_IPV4:
			memcpy(tmp + at, req->dst.bytes, 4);
			at += 4;
			break;
		case VLESS_ATYP_IPV6:
			memcpy(tmp + at, req->dst.bytes, 16);
			at += 16;
			break;
		case VLESS_ATYP_DOMAIN:
			if (req->dst.len == 0)
				return -EINVAL;
			tmp[at++] = req->dst.len;
			memcpy(tmp + at, req->dst.bytes, req->dst.len);
			at += req->dst.len;
			break;
		default:
			return -EINVAL;
		}
	}
	if (at > cap)
		return -ENOSPC;
	memcpy(out, tmp, at);
	*len = at;
	return 0;
}

int vless_response_parse(const uint8_t *in, size_t len, size_t *used)
{
	char flow[VLESS_FLOW_MAX];
	if (len < 1)
		return 0;
	if (in[0] != VLESS_VERSION)
		return ERR_RANGE;
	if (len < 2 || len - 2 < in[1])
		return 0;
	int rc = addons_parse(in + 2, in[1], flow, sizeof(flow));
	if (rc < 0)
		return rc;
	*used = 2 + (size_t)in[1];
	return 1;
}

void vless_response_encode(uint8_t out[VLESS_RESPONSE_LEN])
{
	out[0] = VLESS_VERSION;
	out[1] = 0;
}

int vless_uuid_parse(uint8_t uuid[VLESS_UUID_LEN], const char *s)
{
	static const unsigned groups[] = {8, 4, 4, 4, 12};
	size_t n = s ? strlen(s) : 0;
	memset(uuid, 0, VLESS_UUID_LEN);
	if (n >= 32 && n <= 36) {
		/* Hex groups 8-4-4-4-12, each optionally preceded by one hyphen,
		 * as Xray's uuid.ParseString reads them: drop those hyphens, then
		 * decode 32 digits. */
		char hex[33];
		const char *p = s;
		size_t o = 0;
		for (size_t g = 0; g < sizeof(groups) / sizeof(groups[0]); g++) {
			if (*p == '-')
				p++;
			for (unsigned i = 0; i < groups[g]; i++) {
				if (!*p || *p == '-')
					return -EINVAL;
				hex[o++] = *p++;
			}
		}
		hex[o] = '\0';
		if (*p)
			return -EINVAL;
		return enc_hex_decode(uuid, VLESS_UUID_LEN, hex);
	}
	if (n == 0 || n > 30)
		return -EINVAL;
	/* Xray maps a short text id to a name-based (SHA-1, version 5) UUID
	 * in the all-zero namespace. */
	{
		uint8_t ns[VLESS_UUID_LEN] = {0}, md[EVP_MAX_MD_SIZE];
		unsigned mdlen = 0;
		EVP_MD_CTX *c = EVP_MD_CTX_new();
		int ok = c && EVP_DigestInit_ex(c, EVP_sha1(), NULL) == 1 && EVP_DigestUpdate(c, ns, sizeof(ns)) == 1 &&
		         EVP_DigestUpdate(c, s, n) == 1 && EVP_DigestFinal_ex(c, md, &mdlen) == 1 && mdlen >= 16;
		EVP_MD_CTX_free(c);
		if (!ok)
			return -ENOMEM;
		memcpy(uuid, md, VLESS_UUID_LEN);
		uuid[6] = (uint8_t)((uuid[6] & 0x0f) | 0x50);
		uuid[8] = (uint8_t)((uuid[8] & 0x3f) | 0x80);
		return 0;
	}
}

void vless_uuid_format(char out[VLESS_UUID_TEXT], const uint8_t uuid[VLESS_UUID_LEN])
{
	static const char hex[] = "0123456789abcdef";
	size_t o = 0;
	for (size_t i = 0; i < VLESS_UUID_LEN; i++) {
		if (i == 4 || i == 6 || i == 8 || i == 10)
			out[o++] = '-';
		out[o++] = hex[uuid[i] >> 4];
		out[o++] = hex[uuid[i] & 15];
	}
	out[o] = '\0';
}

int vless_flow_parse(enum vless_flow *flow, const char *s)
{
	if (!s || !*s) {
		*flow = VLESS_FLOW_NONE;
		return 0;
	}
	if (strcmp(s, VLESS_FLOW_VISION) == 0) {
		*flow = VLESS_FLOW_XRV;
		return 0;
	}
	return -EINVAL;
}

int vless_users_add(struct vless_users *users, const struct vless_user *u)
{
	if (vless_users_find(users, u->uuid))
		return ERR_EXISTS;
	if (users->n >= VLESS_USERS_MAX)
		return ERR_TOOBIG;
	users->u[users->n++] = *u;
	return 0;
}

const struct vless_user *vless_users_find(const struct vless_users *users, const uint8_t uuid[VLESS_UUID_LEN])
{
	const struct vless_user *hit = NULL;
	for (size_t i = 0; i < users->n; i++) {
		/* no early exit: the time taken does not depend on which matched */
		if (CRYPTO_memcmp(users->u[i].uuid, uuid, VLESS_UUID_LEN) == 0 && !hit)
			hit = &users->u[i];
	}
	return hit;
}

int vless_flow_check(const struct vless_user *u, const struct vless_request *req, bool *vision)
{
	enum vless_flow rf;
	*vision = false;
	if (vless_flow_parse(&rf, req->flow) < 0)
		return ERR_AUTH;
	if (rf == VLESS_FLOW_XRV) {
		if (u->flow != VLESS_FLOW_XRV)
			return ERR_AUTH;
		if (req->cmd == VLESS_CMD_UDP)
			return ERR_AUTH;
		*vision = true; /* TCP, and Mux (XUDP) too */
		return 0;
	}
	/* No flow in the request: an account that demands Vision refuses
	 * TCP ("pure TLS proxy has TLS-in-TLS characteristics"); Mux is left
	 * to the Mux layer, which must refuse anything but XUDP. */
	if (u->flow == VLESS_FLOW_XRV && req->cmd == VLESS_CMD_TCP)
		return ERR_AUTH;
	return 0;
}

int vless_udp_frame_parse(const uint8_t *in, size_t len, const uint8_t **payload, size_t *plen, size_t *used)
{
	if (len < 2)
		return 0;
	size_t n = (size_t)in[0] << 8 | in[1];
	if (len - 2 < n)
		return 0;
	*payload = in + 2;
	*plen = n;
	*used = 2 + n;
	return 1;
}

