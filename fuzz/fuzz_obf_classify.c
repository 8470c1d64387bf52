/* Classifies arbitrary datagrams under fixed AmneziaWG parameter sets (plain
 * WireGuard, 2.0 ranges, 1.0-style single values, S4 == S1 sharing sizes,
 * large prefixes) and under one set read from the input's first bytes when
 * that set validates. Checks the contract of obf_classify: a returned type's
 * message fits the datagram exactly (>= 32 bytes for data) and its on-wire
 * value lies in that type's range. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "awg/messages.h"
#include "awg/obf.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const size_t msg_size[4] = {148, 92, 64, 32};

static void check(const struct obf_params *p, const uint8_t *pkt, size_t len)
{
	size_t prefix = 12345;
	int t = obf_classify(p, pkt, len, &prefix);
	if (t == MSG_INVALID) {
		if (prefix != 0)
			abort();
		return;
	}
	if (t < MSG_INITIATION || t > MSG_DATA || prefix != p->s[t - 1])
		abort();
	size_t need = prefix + msg_size[t - 1];
	if (t == MSG_DATA ? len < need : len != need)
		abort();
	uint32_t h = le32_read(pkt + prefix);
	if (h < p->h[t - 1].lo || h > p->h[t - 1].hi)
		abort();
}

static void set(struct obf_params *p, const char *key, const char *value)
{
	if (obf_params_set(p, key, value, NULL, 0) != 0)
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct obf_params p[5];
	for (int i = 0; i < 5; i++)
		obf_params_init(&p[i]);
	/* 2.0 with ranges */
	set(&p[1], "s1", "10");
	set(&p[1], "s2", "20");
	set(&p[1], "s3", "30");
	set(&p[1], "s4", "40");
	set(&p[1], "h1", "1000-2000");
	set(&p[1], "h2", "3000-4000");
	set(&p[1], "h3", "5000");
	set(&p[1], "h4", "6000-7000");
	/* 1.0 style: single values, no S3/S4 */
	set(&p[2], "s1", "15");
	set(&p[2], "s2", "30");
	set(&p[2], "h1", "1234567");
	set(&p[2], "h2", "2345678");
	set(&p[2], "h3", "3456789");
	set(&p[2], "h4", "4567890");
	/* data packets share the initiation's size and offset; large S2 */
	set(&p[3], "s1", "16");
	set(&p[3], "s4", "16");
	set(&p[3], "s2", "1000");
	set(&p[3], "h1", "100-199");
	set(&p[3], "h2", "0-99");
	set(&p[3], "h3", "300-4294967295");
	set(&p[3], "h4", "200-299");
	for (int i = 0; i < 4; i++)
		if (obf_params_validate(&p[i], NULL, 0) != 0)
			abort();
	for (int i = 0; i < 4; i++)
		check(&p[i], data, size);

	/* A set from the first 36 bytes: S1..S4 (u16 each, kept small), then
	 * four (lo, width) pairs. Only sets that validate are used. */
	if (size >= 36) {
		for (int k = 0; k < 4; k++) {
			p[4].s[k] = (uint32_t)(data[2 * k] | data[2 * k + 1] << 8) % 2048;
			uint32_t lo = le32_read(data + 8 + 7 * k), width = (uint32_t)data[12 + 7 * k] << 16 |
			                                                    (uint32_t)data[13 + 7 * k] << 8 | data[14 + 7 * k];
			p[4].h[k].lo = lo;
			p[4].h[k].hi = lo + width < lo ? UINT32_MAX : lo + width;
		}
		if (obf_params_validate(&p[4], NULL, 0) == 0)
			check(&p[4], data + 36, size - 36);
	}
	for (int i = 0; i < 5; i++)
		obf_params_fini(&p[i]);
	return 0;
}
