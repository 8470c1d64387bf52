/* `setconf`, `addconf`, `syncconf`: a config file (parsed line by line by
 * src/awg/conf.c into UAPI set lines) applied to a running interface.
 *   setconf   replaces everything: replace_peers=true, so peers not in the
 *             file go away, and each listed peer's allowed IPs are replaced.
 *   addconf   adds and updates the listed peers, keeps the others.
 *   syncconf  like setconf, but peers already present and listed are updated
 *             in place rather than torn down and recreated, so their sessions
 *             survive: it reads the current peers and removes only those the
 *             file does not list. */
#include <errno.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>

#include "awg/conf.h"
#include "awg/uapi_client.h"
#include "lib/buf.h"
#include "lib/enc.h"
#include "lib/mem.h"
#include "pharos-awg/cli.h"
#include "pharos-awg/ipc.h"

/* Feeds the file to the parser one bounded line at a time. The line buffer
 * held key material: wiped before it is freed. */
static int parse_file(const char *path, struct conf *c, struct buf *body, char *err, size_t errlen)
{
	const size_t cap = CONF_MAX_LINE + 3; /* the line, "\r\n" and the NUL */
	FILE *f = fopen(path, "re");
	char *line = NULL;
	int rc = 0;

	if (!f) {
		rc = -errno;
		snprintf(err, errlen, "Unable to open configuration file '%s': %s", path, err_str(rc));
		return rc;
	}
	if (!(line = mem_alloc(cap))) {
		rc = -ENOMEM;
		snprintf(err, errlen, "%s", err_str(rc));
		goto out;
	}
	unsigned lineno = 0;
	while (fgets(line, (int)cap, f)) {
		size_t n = strlen(line);
		lineno++;
		if (n == cap - 1 && line[n - 1] != '\n') {
			rc = -EINVAL;
			snprintf(err, errlen, "%s: line %u: longer than %d bytes", path, lineno, CONF_MAX_LINE);
			goto out;
		}
		if ((rc = conf_line(c, line)) < 0) {
			snprintf(err, errlen, "%s: %s", path, conf_error(c));
			goto out;
		}
	}
	if (ferror(f)) {
		rc = -EIO;
		snprintf(err, errlen, "Unable to read configuration file '%s': %s", path, strerror(EIO));
		goto out;
	}
	if ((rc = conf_finish(c, body)) < 0)
		snprintf(err, errlen, "%s: %s", path, conf_error(c));
out:
	mem_free_secret(line, cap);
	fclose(f);
	return rc;
}

/* True when body has a "public_key=HEX" line for key. */
static bool body_lists(const struct buf *body, const uint8_t key[UAPI_CLIENT_KEY_LEN])
{
	char line[sizeof("\npublic_key=") + ENC_KEY_HEX_LEN + 1];
	char hex[ENC_KEY_HEX_LEN];
	enc_key_to_hex(hex, key);
	snprintf(line, sizeof(line), "\npublic_key=%s\n", hex);
	const char *data = body->data ? (const char *)body->data : "";
	/* The first line has no '\n' before it. */
	bool found = (body->len >= strlen(line + 1) && !memcmp(data, line + 1, strlen(line + 1))) ||
	             memmem(data, body->len, line, strlen(line));
	return found;
}

/* Appends a removal for every current peer the file does not list. */
static int add_removals(const char *ifname, struct buf *body, char *err, size_t errlen)
{
	struct uapi_client_device *dev = NULL;
	int rc = ipc_get(ifname, &dev, err, errlen);
	if (rc < 0)
		return rc;
	for (size_t i = 0; i < dev->n_peers && !rc; i++)
		if (!body_lists(body, dev->peers[i].public_key))
			rc = uapi_client_body_add_remove_peer(body, dev->peers[i].public_key);
	if (rc < 0)
		snprintf(err, errlen, "%s", err_str(rc));
	uapi_client_device_free(dev);
	return rc;
}

int cli_setconf(const char *prog, int argc, char **argv)
{
	const char *cmd = argv[0], *ifname = argc > 1 ? argv[1] : NULL;
	bool replace = !strcmp(cmd, "setconf"), sync = !strcmp(cmd, "syncconf");
	struct conf c;
	struct buf body;
	char err[CONF_ERR_LEN + 256];
	int ret = 1, rc;

	if (argc != 3) {
		fprintf(stderr, "Usage: %s %s %s\n", prog, cmd, CLI_CONF_ARGS);
		return 1;
	}
	if (!ipc_ifname_valid(ifname)) {
		fprintf(stderr, "Invalid interface name `%s': 1..15 characters, no '/'.\n", ifname);
		return 1;
	}
	if ((rc = conf_init(&c, replace ? CONF_REPLACE_PEERS : 0)) < 0) {
		fprintf(stderr, "%s: %s\n", prog, err_str(rc));
		return 1;
	}
	buf_init(&body, UAPI_CLIENT_MAX_REPLY);
	err[0] = '\0';
	if ((rc = parse_file(argv[2], &c, &body, err, sizeof(err))) < 0) {
		fprintf(stderr, "Configuration parsing error: %s\n", err);
		goto out;
	}
	for (size_t i = 0; i < conf_extra_count(&c); i++) {
		const struct conf_extra *x = conf_extra(&c, i);
		fprintf(stderr, "%s: %s: line %u: %s is for the interface setup tool, not the daemon; ignored\n", prog,
		        argv[2], x->line, x->key);
	}
	if (sync && (rc = add_removals(ifname, &body, err, sizeof(err))) < 0) {
		fprintf(stderr, "Unable to access interface %s: %s\n", ifname, err[0] ? err : err_str(rc));
		goto out;
	}
	if ((rc = ipc_set(ifname, body.data ? (const char *)body.data : "", body.len)) < 0) {
		fprintf(stderr, "Unable to modify interface %s: %s\n", ifname, err_str(rc));
		goto out;
	}
	ret = 0;
out:
	buf_fini_secret(&body);
	conf_fini(&c);
	return ret;
}
