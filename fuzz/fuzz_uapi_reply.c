/* Fuzz target: arbitrary bytes as a UAPI get reply (what a daemon, or
 * anything listening on its socket path, sends the CLI). The parser must
 * never crash or leak, and whatever it accepts must be internally sane. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "awg/uapi_client.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct uapi_client_device *dev = NULL;
	char err[192], v[64];

	if (uapi_client_parse_reply((const char *)data, size, &dev, err, sizeof(err)) == 0) {
		for (size_t i = 0; i < dev->n_peers; i++)
			if (dev->peers[i].n_allowed_ips > dev->peers[i].cap_allowed_ips)
				abort();
		for (int k = 0; k < UAPI_CLIENT_AWG_COUNT; k++)
			(void)uapi_client_awg_value(&dev->awg, k, v, sizeof(v));
		uapi_client_sort_peers(dev);
	}
	uapi_client_device_free(dev);
	return 0;
}
