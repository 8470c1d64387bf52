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

/* The address after the network byte: port u16 | atyp | address, from
 * in[0..n). 1 with *a and *used; ERR_PARSE for an unknown type, a short or
 * empty address, or a NUL inside a name. */
static int addr_parse(const uint8_t *in, size_t n, struct vless_addr *a, size_t *used)
{
	size_t at = 3, alen;

	memset(a, 0, sizeof(*a));
	if (n < 3)
		return ERR_PARSE;
	a->port = tls_get_u16(in);
	a->atyp = in[2];
	switch (a->atyp) {
	case VLESS_ATYP_IPV4:
		alen = 4;
		break;
	case VLESS_ATYP_IPV6:
		alen = 16;
		break;
	case VLESS_ATYP_DOMAIN:
		if (n == at || in[at] == 0)
			return ERR_PARSE;
		a->len = in[at++];
		alen = a->len;
		break;
	default:
		return ERR_PARSE;
	}
	if (n - at < alen)
		return ERR_PARSE;
	memcpy(a->bytes, in + at, alen);
	if (a->atyp == VLESS_ATYP_DOMAIN && memchr(a->bytes, '\0', alen))
		return ERR_PARSE;
	*used = at + alen;
	return 1;
}

/* One frame's layout, whoever wrote it. */
struct frame {
	uint16_t session;
	uint8_t status, option;
	const uint8_t *extra; /* meta after session, status, option: [network | address | GlobalID] */
	size_t extra_len;
	bool has_data;
	const uint8_t *data;
	size_t len;
};

/* The meta of the frame at the start of in[0..len): 1 with *f (no data
 * yet) and *at just past it, 0 when more bytes are needed, XUDP_END when
 * meta_len < 4 (both sides end the stream there). Reads no field's meaning:
 * the two parsers below do, before frame_data, so a bad address is refused
 * before its data has arrived. */
static int frame_meta(const uint8_t *in, size_t len, struct frame *f, size_t *at)
{
	memset(f, 0, sizeof(*f));
	if (len < 2)
		return 0;
	size_t meta = tls_get_u16(in);
	if (meta < META_MIN)
		return XUDP_END;
	if (len - 2 < meta)
		return 0;
	f->session = tls_get_u16(in + 2);
	f->status = in[4];
	f->option = in[5];
	f->extra = in + 2 + META_MIN;
	f->extra_len = meta - META_MIN;
	*at = 2 + meta;
	return 1;
}

/* The data after the meta, if the option says there is some: 1 with *at
 * past it, 0 when more bytes are needed. */
static int frame_data(const uint8_t *in, size_t len, struct frame *f, size_t *at)
{
	if (!(f->option & OPTION_DATA))
		return 1;
	if (len - *at < 2)
		return 0;
	size_t n = tls_get_u16(in + *at);
	if (len - *at - 2 < n)
		return 0;
	f->has_data = true;
	f->data = in + *at + 2;
	f->len = n;
	*at += 2 + n;
	return 1;
}

int xudp_parse(const uint8_t *in, size_t len, struct xudp_packet *p, size_t *used)
{
	struct frame f;
	size_t n;

	*used = 0;
	memset(p, 0, sizeof(*p));
	int rc = frame_meta(in, len, &f, &n);
	if (rc != 1)
		return rc;
	if (f.status == STATUS_KEEP) {
		if (f.extra_len && f.extra[0] == NETWORK_UDP) {
			size_t alen;
			if (addr_parse(f.extra + 1, f.extra_len - 1, &p->addr, &alen) < 0)
				return ERR_PARSE;
			p->has_addr = true;
		}
	} else if (f.status == STATUS_KEEPALIVE) {
		p->keepalive = true;
	} else {
		return XUDP_END;
	}
	if (frame_data(in, len, &f, &n) != 1)
		return 0;
	if (f.len) {
		p->data = f.data;
		p->len = f.len;
	}
	*used = n;
	return 1;
}

int vless_xudp_parse(const uint8_t *in, size_t len, struct vless_xudp_pkt *p, size_t *used)
{
	struct vless_xudp_pkt r;
	struct frame f;
	size_t n;

	memset(&r, 0, sizeof(r));
	int rc = frame_meta(in, len, &f, &n);
	if (rc == XUDP_END)
		return ERR_PARSE; /* Xray ends the stream here; for us it is malformed */
	if (rc != 1)
		return rc;
	if (f.session != 0)
		return ERR_PARSE; /* only session 0 (XUDP); full Mux is not served */
	r.status = f.status;
	if (r.status < VLESS_XUDP_NEW || r.status > VLESS_XUDP_KEEPALIVE)
		return ERR_RANGE;
	if ((r.status == VLESS_XUDP_NEW || r.status == VLESS_XUDP_KEEP) && f.extra_len) {
		size_t alen;
		if (f.extra[0] != VLESS_XUDP_NET_UDP || addr_parse(f.extra + 1, f.extra_len - 1, &r.dst, &alen) < 0)
			return ERR_PARSE;
		r.has_dst = true;
		/* a New frame may end with an 8-byte GlobalID; nothing else */
		size_t rest = f.extra_len - 1 - alen;
		if (rest != 0 && !(r.status == VLESS_XUDP_NEW && rest == GLOBAL_ID_LEN))
			return ERR_PARSE;
	} else if (r.status == VLESS_XUDP_NEW) {
		return ERR_PARSE; /* a New frame names its destination */
	}
	if (frame_data(in, len, &f, &n) != 1)
		return 0;
	if (f.has_data) {
		r.data = f.data;
		r.len = f.len;
	}
	*p = r;
	*used = n;
	return 1;
}
