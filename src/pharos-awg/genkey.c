/* `genkey`, `genpsk`, `pubkey`: keys as wg(8) prints them, base64 on one
 * line. Every buffer that held key material is wiped before returning. */
#include <errno.h>
#include <stdbool.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lib/enc.h"
#include "pharos-awg/cli.h"

/* A key redirected into a file others can read is a leak in waiting: warn,
 * as wg does, but still write (the user may chmod right after). */
static void warn_if_world_readable(const char *prog)
{
	struct stat st;
	if (fstat(STDOUT_FILENO, &st) == 0 && S_ISREG(st.st_mode) && (st.st_mode & S_IRWXO))
		fprintf(stderr, "%s: warning: writing to a world accessible file; consider `umask 077' first.\n", prog);
}

static int sodium_ready(const char *prog)
{
	if (sodium_init() < 0) {
		fprintf(stderr, "%s: libsodium failed to initialise\n", prog);
		return -1;
	}
	return 0;
}

int cli_genkey(const char *prog, int argc, char **argv)
{
	uint8_t key[ENC_KEY_LEN];
	char out[ENC_KEY_BASE64_LEN];
	bool psk = !strcmp(argv[0], "genpsk");

	if (argc != 1) {
		fprintf(stderr, "Usage: %s %s\n", prog, argv[0]);
		return 1;
	}
	if (sodium_ready(prog) < 0)
		return 1;
	warn_if_world_readable(prog);
	randombytes_buf(key, sizeof(key));
	if (!psk) {
		/* Clamped as X25519 uses it (RFC 7748 §5), like wg genkey. */
		key[0] &= 248;
		key[31] &= 127;
		key[31] |= 64;
	}
	enc_key_to_base64(out, key);
	int ret = printf("%s\n", out) < 0 || fflush(stdout) != 0;
	sodium_memzero(key, sizeof(key));
	sodium_memzero(out, sizeof(out));
	if (ret)
		fprintf(stderr, "%s: unable to write the key: %s\n", prog, strerror(errno));
	return ret;
}

int cli_pubkey(const char *prog, int argc, char **argv)
{
	uint8_t priv[ENC_KEY_LEN], pub[ENC_KEY_LEN];
	char in[ENC_KEY_BASE64_LEN + 8], out[ENC_KEY_BASE64_LEN];
	int ret = 1;

	if (argc != 1) {
		fprintf(stderr, "Usage: %s %s < private.key\n", prog, argv[0]);
		return 1;
	}
	if (sodium_ready(prog) < 0)
		return 1;
	/* One key and a newline; anything longer is not a key. */
	size_t n = fread(in, 1, sizeof(in) - 1, stdin);
	in[n] = '\0';
	while (n && (in[n - 1] == '\n' || in[n - 1] == '\r' || in[n - 1] == ' ' || in[n - 1] == '\t'))
		in[--n] = '\0';
	if (n != ENC_KEY_BASE64_LEN - 1 || !feof(stdin) || enc_key_from_base64(priv, in) != 0) {
		fprintf(stderr, "%s: %s: stdin does not hold a private key (44 characters of base64, see genkey)\n",
		        prog, argv[0]);
		goto out;
	}
	if (crypto_scalarmult_curve25519_base(pub, priv) != 0) {
		fprintf(stderr, "%s: %s: this private key has no usable public key\n", prog, argv[0]);
		goto out;
	}
	enc_key_to_base64(out, pub);
	if (printf("%s\n", out) < 0 || fflush(stdout) != 0) {
		fprintf(stderr, "%s: unable to write the key: %s\n", prog, strerror(errno));
		goto out;
	}
	ret = 0;
out:
	sodium_memzero(priv, sizeof(priv));
	sodium_memzero(in, sizeof(in));
	return ret;
}
