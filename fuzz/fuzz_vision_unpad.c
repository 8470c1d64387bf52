/* Fuzz target: XTLS Vision unpadding over arbitrary bytes cut into chunks
 * at arbitrary places (the first input byte seeds the cut points), and the
 * padder against the unpadder. Invariants: unpadding never produces more
 * bytes than it was given; the output does not depend on where the stream
 * was cut once the first chunk holds the UUID and a frame header; what the
 * padder frames unpads back to the same bytes. Deterministic except for
 * padding contents, which the unpadder discards. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "reality/vision.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const uint8_t UUID[16] = {0xb8, 0x31, 0x38, 0x1d, 0x63, 0x24, 0x4d, 0x53,
                                 0xad, 0x4f, 0x8c, 0xda, 0x48, 0xb3, 0x08, 0x11};

static size_t unpad_all(const uint8_t *in, size_t len, size_t first, unsigned step, uint8_t *out, bool *direct)
{
	struct vision_unpad u;
	size_t at = 0, o = 0, got;
	vision_unpad_init(&u, UUID);
	while (at < len) {
		size_t n = at == 0 ? first : step;
		if (n > len - at)
			n = len - at;
		if (n == 0)
			n = 1;
		vision_unpad_feed(&u, in + at, n, out + o, &got);
		if (got > n)
			abort();
		o += got;
		at += n;
	}
	*direct = u.direct;
	return o;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 2)
		return 0;
	unsigned step = (unsigned)data[0] % 17 + 1;
	const uint8_t *in = data + 1;
	size_t len = size - 1;
	/* put the UUID in front so the frame parser gets exercised */
	uint8_t *buf = malloc(len + 16), *a = malloc(len + 16), *b = malloc(len + 16);
	if (!buf || !a || !b)
		abort();
	memcpy(buf, UUID, 16);
	memcpy(buf + 16, in, len);
	bool d1, d2;
	size_t whole = unpad_all(buf, len + 16, len + 16, step, a, &d1);
	if (len + 16 >= 21) {
		size_t cut = unpad_all(buf, len + 16, 21, step, b, &d2);
		if (cut != whole || memcmp(a, b, whole) || d1 != d2)
			abort();
	}
	/* padder -> unpadder round trip over the raw input */
	struct vision_traffic t;
	struct vision_pad p;
	struct vision_unpad u;
	size_t cap = vision_pad_bound(len), n, got;
	uint8_t *framed = malloc(cap), *back = malloc(cap);
	if (!framed || !back)
		abort();
	vision_traffic_init(&t);
	vision_filter(&t, in, len);
	vision_pad_init(&p, UUID);
	vision_unpad_init(&u, UUID);
	if (vision_pad_write(&p, &t, in, len, framed, cap, &n) != 0)
		abort();
	vision_unpad_feed(&u, framed, n, back, &got);
	if (got != len || memcmp(back, in, len))
		abort();
	free(framed);
	free(back);
	free(buf);
	free(a);
	free(b);
	return 0;
}
