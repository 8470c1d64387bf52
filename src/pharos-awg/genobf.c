/* `genobf`: a fresh random AmneziaWG parameter set (obf_params_generate),
 * printed as [Interface] config lines to paste into both ends' configs.
 * Every deployment drawing its own set is the point (specs/awg.md §6 item
 * 10): a fixed, widely copied set becomes a fingerprint. */
#include <sodium.h>
#include <stdio.h>

#include "awg/obf.h"
#include "awg/uapi_client.h"
#include "pharos-awg/cli.h"

int cli_genobf(const char *prog, int argc, char **argv)
{
	struct obf_params p;
	char v[64], err[160];
	int ret = 1;

	if (argc != 1) {
		fprintf(stderr, "Usage: %s %s\n", prog, argv[0]);
		return 1;
	}
	if (sodium_init() < 0) {
		fprintf(stderr, "%s: libsodium failed to initialise\n", prog);
		return 1;
	}
	obf_params_init(&p);
	int rc = obf_params_generate(&p);
	if (rc == 0)
		rc = obf_params_validate(&p, err, sizeof(err));
	else
		snprintf(err, sizeof(err), "%s", err_str(rc));
	if (rc < 0) {
		fprintf(stderr, "%s: %s: no valid parameter set: %s\n", prog, argv[0], err);
		goto out;
	}
	/* Templates (I1..I5) are left out: they are per-deployment shapes
	 * (QUIC, DNS) a generator cannot choose well. */
	for (int k = 0; k <= UAPI_CLIENT_H4; k++) {
		const char *key = uapi_client_awg_key_name(k);
		if (obf_params_format_value(&p, key, v, sizeof(v)) < 0) {
			fprintf(stderr, "%s: %s: cannot format %s\n", prog, argv[0], key);
			goto out;
		}
		printf("%s = %s\n", uapi_client_awg_conf_name(k), v);
	}
	ret = fflush(stdout) != 0;
out:
	obf_params_fini(&p);
	return ret;
}
