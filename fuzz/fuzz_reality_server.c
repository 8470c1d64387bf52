/* Fuzz target: the REALITY server's connection state machine before and
 * around its decision, fed arbitrary client and dest bytes. Input: u16 BE
 * length of the client part, the client part, then the dest part; each is
 * fed in chunks whose sizes come from the data itself. Invariants: until
 * the decision every client byte is mirrored to dest unchanged; once the
 * connection is a pipe, the client has received exactly a prefix of dest's
 * bytes (nothing of ours) and dest every client byte; no crash, no leak.
 * The server key is fixed and the clock too, so random input is (almost
 * surely) not ours: this exercises the parse-and-relay paths. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "reality/reality_server.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct reality_server_cfg *cfg_once(void)
{
	static struct reality_server_cfg *cfg;
	if (!cfg) {
		cfg = calloc(1, sizeof(*cfg));
		if (!cfg || reality_auth_key_from_text(cfg->private_key, "aGSYystUbf59_9_6LKRxD27rmSW_-2_nyd9YG_Gwbks") < 0)
			abort();
		strcpy(cfg->names[cfg->n_names++], "www.example.com");
		cfg->n_short_ids = 1;
		if (reality_server_cfg_keys(cfg) < 0)
			abort();
	}
	return cfg;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct reality_conn c;
	if (size < 2)
		return 0;
	size_t clen = (size_t)data[0] << 8 | data[1];
	const uint8_t *in = data + 2;
	size_t rest = size - 2;
	if (clen > rest)
		clen = rest;
	const uint8_t *dest = in + clen;
	size_t dlen = rest - clen;
	if (reality_conn_init(&c, cfg_once(), 1767225600000ull) < 0)
		abort();
	size_t ca = 0, da = 0;
	while (ca < clen || da < dlen) {
		if (ca < clen) {
			size_t n = in[ca] % 97 + 1;
			if (n > clen - ca)
				n = clen - ca;
			if (reality_conn_client_data(&c, in + ca, n) < 0)
				break;
			ca += n;
		}
		if (da < dlen) {
			size_t n = dest[da] % 131 + 1;
			if (n > dlen - da)
				n = dlen - da;
			if (reality_conn_dest_data(&c, dest + da, n) < 0)
				break;
			da += n;
		}
		if (c.state == REALITY_CONN_READ_CH || c.state == REALITY_CONN_RELAY) {
			if (c.out_dest.len != ca || (ca && memcmp(c.out_dest.data, in, ca)))
				abort();
		}
		if (c.state == REALITY_CONN_RELAY &&
		    (c.out_client.len > da || (c.out_client.len && memcmp(c.out_client.data, dest, c.out_client.len))))
			abort();
	}
	reality_conn_fini(&c);
	return 0;
}
