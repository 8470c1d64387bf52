/* XTLS Vision framing: see vision.h and specs/reality.md §5.3. */
#include "reality/vision.h"

#include <errno.h>
#include <string.h>

#include "lib/rng.h"

/* Xray's default "testseed": long padding below 900 bytes of content is
 * rand[0,500) + 900 - content, otherwise rand[0,256). */
#define LONG_PAD_BELOW 900
#define LONG_PAD_RAND  500
#define LONG_PAD_BASE  900
#define SHORT_PAD_RAND 256
#define FILTER_PACKETS 8

static const uint8_t app_data_start[3] = {0x17, 0x03, 0x03};
static const uint8_t tls13_supported_versions[6] = {0x00, 0x2b, 0x00, 0x02, 0x03, 0x04};
#define TLS_AES_128_CCM_8_SHA256 0x1305

void vision_traffic_init(struct vision_traffic *t)
{
	memset(t, 0, sizeof(*t));
	t->packets_to_filter = FILTER_PACKETS;
	t->remaining_server_hello = -1;
}

static bool contains(const uint8_t *h, size_t hlen, const uint8_t *n, size_t nlen)
{
	for (size_t i = 0; i + nlen <= hlen; i++)
		if (memcmp(h + i, n, nlen) == 0)
			return true;
	return false;
}

void vision_filter(struct vision_traffic *t, const uint8_t *b, size_t len)
{
	if (t->packets_to_filter <= 0)
		return;
	t->packets_to_filter--;
	if (len >= 6) {
		if (b[0] == 0x16 && b[1] == 0x03 && b[2] == 0x03 && b[5] == 2) { /* ServerHello */
			t->remaining_server_hello = (int32_t)(b[3] << 8 | b[4]) + 5;
			t->is_tls12_or_above = true;
			t->is_tls = true;
			if (len >= 79 && t->remaining_server_hello >= 79) {
				/* session id length at 43, the suite right after it */
				size_t sid = b[43];
				if (43 + sid + 3 <= len)
					t->cipher = (uint16_t)(b[43 + sid + 1] << 8 | b[43 + sid + 2]);
			}
		} else if (b[0] == 0x16 && b[1] == 0x03 && b[5] == 1) { /* ClientHello */
			t->is_tls = true;
		}
	}
	if (t->remaining_server_hello > 0) {
		size_t end = (size_t)t->remaining_server_hello < len ? (size_t)t->remaining_server_hello : len;
		t->remaining_server_hello -= (int32_t)(len > INT32_MAX ? INT32_MAX : len);
		if (contains(b, end, tls13_supported_versions, sizeof(tls13_supported_versions))) {
			uint16_t c = t->cipher;
			if ((c == 0x1301 || c == 0x1302 || c == 0x1303 || c == 0x1304) && c != TLS_AES_128_CCM_8_SHA256)
				t->enable_xtls = true;
			t->packets_to_filter = 0;
		} else if (t->remaining_server_hello <= 0) {
			t->packets_to_filter = 0; /* TLS 1.2 */
		}
	}
}

void vision_unpad_init(struct vision_unpad *u, const uint8_t uuid[VISION_UUID_LEN])
{
	memset(u, 0, sizeof(*u));
	memcpy(u->uuid, uuid, VISION_UUID_LEN);
	u->rem_cmd = u->rem_content = u->rem_padding = -1;
	u->within_padding = true;
}

void vision_unpad_feed(struct vision_unpad *u, const uint8_t *in, size_t len, uint8_t *out, size_t *out_len)
{
	size_t at = 0, o = 0;
	if (!u->within_padding) {
		memmove(out, in, len);
		*out_len = len;
		return;
	}
	if (u->rem_cmd == -1 && u->rem_content == -1 && u->rem_padding == -1) {
		if (len < VISION_UUID_LEN + VISION_HDR_LEN || memcmp(in, u->uuid, VISION_UUID_LEN) != 0) {
			memmove(out, in, len); /* not padded */
			*out_len = len;
			return;
		}
		at = VISION_UUID_LEN;
		u->rem_cmd = 5;
	}
	while (at < len) {
		if (u->rem_cmd > 0) {
			uint8_t b = in[at++];
			switch (u->rem_cmd) {
			case 5:
				u->cur_cmd = b;
				break;
			case 4:
				u->rem_content = b << 8;
				break;
			case 3:
				u->rem_content |= b;
				break;
			case 2:
				u->rem_padding = b << 8;
				break;
			case 1:
				u->rem_padding |= b;
				break;
			}
			u->rem_cmd--;
		} else if (u->rem_content > 0) {
			size_t n = (size_t)u->rem_content < len - at ? (size_t)u->rem_content : len - at;
			memmove(out + o, in + at, n);
			o += n;
			at += n;
			u->rem_content -= (int)n;
		} else {
			size_t n = (size_t)u->rem_padding < len - at ? (size_t)u->rem_padding : len - at;
			at += n;
			u->rem_padding -= (int)n;
		}
		if (u->rem_cmd <= 0 && u->rem_content <= 0 && u->rem_padding <= 0) { /* frame done */
			if (u->cur_cmd == VISION_CMD_CONTINUE) {
				u->rem_cmd = 5;
				continue;
			}
			u->rem_cmd = u->rem_content = u->rem_padding = -1;
			u->within_padding = false;
			u->direct = u->cur_cmd == VISION_CMD_DIRECT;
			/* Any unknown command also ends the padding (Xray stops
			 * unpadding whenever the command is not 0). */
			memmove(out + o, in + at, len - at);
			o += len - at;
			at = len;
		}
	}
	*out_len = o;
}

void vision_pad_init(struct vision_pad *p, const uint8_t uuid[VISION_UUID_LEN])
{
	memset(p, 0, sizeof(*p));
	memcpy(p->uuid, uuid, VISION_UUID_LEN);
	p->uuid_pending = true;
	p->padding = true;
}

size_t vision_pad_bound(size_t len)
{
	return (len / (VISION_MAX_CONTENT / 2) + 2) * VISION_BUF_SIZE;
}

bool vision_is_complete_app_records(const uint8_t *in, size_t len)
{
	size_t at = 0;
	if (len == 0)
		return false;
	while (at < len) {
		if (len - at < 5 || memcmp(in + at, app_data_start, 3) != 0)
			return false;
		size_t rl = (size_t)in[at + 3] << 8 | in[at + 4];
		if (rl == 0 || len - at - 5 < rl)
			return false;
		at += 5 + rl;
	}
	return true;
}

static size_t frame(struct vision_pad *p, uint8_t cmd, const uint8_t *content, size_t clen, bool long_pad,
                    uint8_t *out)
{
	size_t o = 0, pad;
	if (clen < LONG_PAD_BELOW && long_pad)
		pad = rng_uniform(LONG_PAD_RAND) + LONG_PAD_BASE - clen;
	else
		pad = rng_uniform(SHORT_PAD_RAND);
	if (pad > VISION_BUF_SIZE - 21 - clen)
		pad = VISION_BUF_SIZE - 21 - clen;
	if (p->uuid_pending) {
		memcpy(out, p->uuid, VISION_UUID_LEN);
		o += VISION_UUID_LEN;
		p->uuid_pending = false;
	}
	out[o++] = cmd;
	out[o++] = (uint8_t)(clen >> 8);
	out[o++] = (uint8_t)clen;
	out[o++] = (uint8_t)(pad >> 8);
	out[o++] = (uint8_t)pad;
	if (clen)
		memcpy(out + o, content, clen);
	o += clen;
	rng_bytes(out + o, pad); /* padding content is arbitrary */
	return o + pad;
}

/* Where to cut the next piece: Xray cuts an oversized buffer at the last
 * application-data record start, so that the piece after it still starts
 * with one; otherwise in the middle. */
static size_t piece_len(const uint8_t *in, size_t len)
{
	if (len <= VISION_MAX_CONTENT)
		return len;
	for (size_t i = VISION_MAX_CONTENT; i >= 21; i--)
		if (i + 3 <= len && memcmp(in + i, app_data_start, 3) == 0)
			return i;
	return VISION_BUF_SIZE / 2;
}

int vision_pad_write(struct vision_pad *p, const struct vision_traffic *t, const uint8_t *in, size_t len,
                     uint8_t *out, size_t cap, size_t *out_len)
{
	size_t o = 0, at = 0;
	*out_len = 0;
	if (cap < vision_pad_bound(len))
		return -ENOSPC;
	if (!p->padding) {
		if (len)
			memcpy(out, in, len);
		*out_len = len;
		return 0;
	}
	if (len == 0) {
		*out_len = frame(p, VISION_CMD_CONTINUE, NULL, 0, true, out);
		return 0;
	}
	bool complete = vision_is_complete_app_records(in, len);
	bool long_pad = t->is_tls;
	while (at < len) {
		size_t n = piece_len(in + at, len - at);
		bool last = at + n == len;
		const uint8_t *b = in + at;
		if (t->is_tls && n >= 6 && memcmp(b, app_data_start, 3) == 0 && complete) {
			o += frame(p, last ? VISION_CMD_END : VISION_CMD_CONTINUE, b, n, false, out + o);
			p->padding = false;
			long_pad = false;
		} else if (!t->is_tls12_or_above && t->packets_to_filter <= 1) {
			/* not TLS after all: end one packet early, as Xray does for
			 * older receivers; the rest goes unframed */
			p->padding = false;
			o += frame(p, VISION_CMD_END, b, n, long_pad, out + o);
			at += n;
			memcpy(out + o, in + at, len - at);
			o += len - at;
			break;
		} else {
			o += frame(p, last && !p->padding ? VISION_CMD_END : VISION_CMD_CONTINUE, b, n, long_pad,
			           out + o);
		}
		at += n;
	}
	*out_len = o;
	return 0;
}
