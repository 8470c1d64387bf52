/* `showconf`: the running configuration as a config file that setconf
 * accepts back, AmneziaWG keys included (Jc = 4, H1 = 100-200,
 * I1 = <b 0x...>); the reply-to-file conversion is conf_from_uapi. Like wg
 * showconf it prints the private key: asking for the config is asking for
 * the secret, so the output belongs in a 0600 file. */
#include <stdio.h>

#include "awg/conf.h"
#include "awg/uapi_client.h"
#include "lib/buf.h"
#include "pharos-awg/cli.h"
#include "pharos-awg/ipc.h"

int cli_showconf(const char *prog, int argc, char **argv)
{
	struct buf reply, conf;
	char err[CONF_ERR_LEN];
	int ret = 1;

	if (argc != 2) {
		fprintf(stderr, "Usage: %s %s %s\n", prog, argv[0], CLI_SHOWCONF_ARGS);
		return 1;
	}
	if (!ipc_ifname_valid(argv[1])) {
		fprintf(stderr, "Invalid interface name `%s': 1..15 characters, no '/'.\n", argv[1]);
		return 1;
	}
	buf_init(&reply, UAPI_CLIENT_MAX_REPLY);
	buf_init(&conf, UAPI_CLIENT_MAX_REPLY);
	err[0] = '\0';
	int rc = ipc_get_text(argv[1], &reply);
	if (!rc)
		rc = conf_from_uapi(reply.data ? (const char *)reply.data : "", reply.len, &conf, err, sizeof(err));
	if (rc < 0) {
		fprintf(stderr, "Unable to access interface %s: %s%s%s\n", argv[1], err_str(rc), err[0] ? ": " : "",
		        err);
		goto out;
	}
	if (conf.len && fwrite(conf.data, 1, conf.len, stdout) != conf.len)
		goto out;
	ret = fflush(stdout) != 0;
out:
	buf_fini_secret(&reply);
	buf_fini_secret(&conf);
	return ret;
}
