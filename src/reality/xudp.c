/* XUDP frames: see xudp.h. */
#include "reality/xudp.h"

#include <errno.h>
#include <string.h>

#include "reality/reality_wire.h"

enum {
	STATUS_NEW = 1,
	STATUS_KEEP = 2,
	STATUS_KEEPALIVE = 4,
	OPTION_DATA = 1,
	NETWORK_UDP = 2,
	GLOBAL_ID_LEN = 8,
	META_MIN = 4, /* session id, status, option */
};

static size_t addr_len(const struct vless_addr *a)
{
	switch (a->atyp) {
	case VLESS_ATYP_IPV4:
		return 4;
	case VLESS_ATYP_IPV6:
		return 16;
	case VLESS_ATYP_DOMAIN:
		return a->len ? 1u + a->len : 0;
	default:
		return 0;
	}
}

int xudp_encode(bool first, const struct vless_addr *dst, const uint8_t *data, size_t len, uint8_t *out,
                size_t cap, size_t *out_len)
{
	size_t alen = addr_len(dst), meta, o = 0;

	*out_len = 0;
	if (!alen || len == 0 || len > XUDP_MAX_PAYLOAD)
		return -EINVAL;
	meta = META_MIN + 1 + 2 + 1 + alen + (first ? GLOBAL_ID_LEN : 0);
	if (cap < 2 + meta + 2 + len)
		return -ENOSPC;
	tls_put_u16(out, (uint16_t)meta);
	o = 2;
	out[o++] = 0; /* session id 0 */
	out[o++] = 0;
	out[o++] = first ? STATUS_NEW : STATUS_KEEP;
	out[o++] = OPTION_DATA;
	out[o++] = NETWORK_UDP;
	tls_put_u16(out + o, dst->port);
	o += 2;
	out[o++] = dst->atyp;
	if (dst->atyp == VLESS_ATYP_DOMAIN)
		out[o++] = dst->len;
	memcpy(out + o, dst->bytes, dst->atyp == VLESS_ATYP_DOMAIN ? dst->len : alen);
	o += dst->atyp == VLESS_ATYP_DOMAIN ? dst->len : alen;
	if (first) {
		memset(out + o, 0, GLOBAL_ID_LEN); /* no cone identity */
		o += GLOBAL_ID_LEN;
	}
	tls_put_u16(out + o, (uint16_t)len);
	o += 2;
	memcpy(out + o, data, len);
	*out_len = o + len;
	return 0;
}

/* The address after the network byte: port, atyp, address, within end. */
static int parse_addr(const uint8_t *p, const uint8_t *end, struct vless_addr *a)
{
	size_t n;

	if (end - p < 3)
		return ERR_PARSE;
	memset(a, 0, sizeof(*a));
	a->port = tls_get_u16(p);
	a->atyp = p[2];
	p += 3;
	switch (a->atyp) {
	case VLESS_ATYP_IPV4:
		n = 4;
		break;
	case VLESS_ATYP_IPV6:
		n = 16;
		break;
	case VLESS_ATYP_DOMAIN:
		if (p == end || p[0] == 0)
			return ERR_PARSE;
		a->len = p[0];
		n = a->len;
		p++;
		break;
	default:
		return ERR_PARSE;
	}
	if ((size_t)(end - p) < n)
		return ERR_PARSE;
	memcpy(a->bytes, p, n);
	return 0;
}

int xudp_parse(const uint8_t *in, size_t len, struct xudp_packet *p, size_t *used)
{
	size_t meta, at;
	uint8_t status, option;

	*used = 0;
	memset(p, 0, sizeof(*p));
	if (len < 2)
		return 0;
	meta = tls_get_u16(in);
	if (meta < META_MIN)
		return XUDP_END;
	if (len < 2 + meta)
		return 0;
	status = in[4];
	option = in[5];
	if (status == STATUS_KEEP) {
		if (meta > META_MIN && in[6] == NETWORK_UDP) {
			if (parse_addr(in + 7, in + 2 + meta, &p->addr) < 0)
				return ERR_PARSE;
			p->has_addr = true;
		}
	} else if (status == STATUS_KEEPALIVE) {
		p->keepalive = true;
	} else {
		return XUDP_END;
	}
	at = 2 + meta;
	if (option & OPTION_DATA) {
		if (len < at + 2)
			return 0;
		size_t dlen = tls_get_u16(in + at);
		if (len < at + 2 + dlen)
			return 0;
		if (dlen) {
			p->data = in + at + 2;
			p->len = dlen;
		}
		at += 2 + dlen;
	}
	*used = at;
	return 1;
}
