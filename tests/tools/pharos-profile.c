/* pharos-profile: a test tool over src/profile, so integration tests can
 * make signing and device keys, seal and open .pharos files and build or
 * read device requests before (and besides) cox and caravel. Not installed.
 *
 * Key files hold one line of standard base64: the 64-byte libsodium Ed25519
 * secret key (keygen-signing) or the 32-byte X25519 secret key
 * (keygen-device), written 0600; keygen prints the public key on stdout.
 * Passwords come from the first line of stdin (--password-stdin), never
 * from the command line. */
#include <errno.h>
#include <sodium.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "lib/enc.h"
#include "lib/err.h"
#include "lib/fileio.h"
#include "lib/mem.h"
#include "profile/profile.h"

struct opts {
	const char *enc, *recipient, *signing_key, *device_key, *signer, *awg, *encpub, *name;
	const char *opslimit, *memlimit;
	bool password_stdin, unchecked;
};

struct command {
	const char *name;
	int nargs;
	int (*fn)(char **args, const struct opts *o);
	const char *usage;
	const char *help;
};

static int fail(const char *cmd, const char *what, const char *detail)
{
	fprintf(stderr, "pharos-profile %s: %s%s%s\n", cmd, what, detail ? ": " : "", detail ? detail : "");
	return 1;
}

/* Reads a key file (one line of base64) into out[len]. */
static int read_key(const char *cmd, const char *path, uint8_t *out, size_t len)
{
	uint8_t *data = NULL;
	size_t n = 0;
	int rc = fileio_read_all(path, 1024, &data, &n);
	if (rc < 0)
		return fail(cmd, path, err_str(rc));
	while (n && (data[n - 1] == '\n' || data[n - 1] == '\r' || data[n - 1] == ' '))
		data[--n] = '\0';
	size_t got = 0;
	rc = enc_base64_decode(out, len, (const char *)data, &got);
	mem_free_secret(data, n + 1);
	if (rc < 0 || got != len) {
		char what[64];
		snprintf(what, sizeof(what), "want %zu bytes in standard base64", len);
		return fail(cmd, path, what);
	}
	return 0;
}

static int write_key(const char *cmd, const char *path, const uint8_t *sk, size_t sklen, const uint8_t *pk)
{
	char line[ENC_BASE64_LEN(64) + 1], pub[ENC_KEY_BASE64_LEN];
	int rc = enc_base64_encode(line, sizeof(line), sk, sklen);
	if (rc == 0) {
		strcat(line, "\n");
		rc = fileio_write_atomic(path, line, strlen(line), 0600);
	}
	sodium_memzero(line, sizeof(line));
	if (rc < 0)
		return fail(cmd, path, err_str(rc));
	enc_key_to_base64(pub, pk);
	printf("%s\n", pub);
	return 0;
}

/* keygen-signing (Ed25519) and keygen-device (X25519). */
static int cmd_keygen(char **args, const struct opts *o, bool signing)
{
	uint8_t pk[32], sk[64];
	_Static_assert(crypto_sign_SECRETKEYBYTES == 64 && crypto_box_SECRETKEYBYTES == 32, "key sizes");
	if (signing)
		crypto_sign_keypair(pk, sk);
	else
		crypto_box_keypair(pk, sk);
	int rc = write_key(signing ? "keygen-signing" : "keygen-device", args[0], sk, signing ? 64 : 32, pk);
	sodium_memzero(sk, sizeof(sk));
	return rc;
}

static int cmd_keygen_signing(char **args, const struct opts *o)
{
	return cmd_keygen(args, o, true);
}

static int cmd_keygen_device(char **args, const struct opts *o)
{
	return cmd_keygen(args, o, false);
}

/* All of stdin (at most max bytes after the password), NUL-terminated.
 * With --password-stdin its first line is the password (without the line
 * end) and the rest is the input: stdin is read once, so both can come
 * through one pipe. */
struct input {
	uint8_t *buf;
	size_t cap;
	char *password;
	uint8_t *data;
	size_t len;
};

static int read_stdin(const char *cmd, size_t max, bool password_first, struct input *in)
{
	size_t n = 0, r;

	memset(in, 0, sizeof(*in));
	in->cap = max + PROFILE_PASSWORD_MAX + 3;
	if (!(in->buf = mem_alloc(in->cap)))
		return fail(cmd, "reading stdin", "out of memory");
	while (n < in->cap - 1 && (r = fread(in->buf + n, 1, in->cap - 1 - n, stdin)) > 0)
		n += r;
	in->buf[n] = '\0';
	if (ferror(stdin) || n == in->cap - 1)
		return fail(cmd, "reading stdin", ferror(stdin) ? strerror(errno) : "too long");
	in->data = in->buf;
	in->len = n;
	if (!password_first)
		return 0;
	uint8_t *nl = memchr(in->buf, '\n', n);
	size_t pl = nl ? (size_t)(nl - in->buf) : n;
	in->buf[pl] = '\0';
	if (pl && in->buf[pl - 1] == '\r')
		in->buf[pl - 1] = '\0';
	if (!in->buf[0] || strlen((char *)in->buf) > PROFILE_PASSWORD_MAX)
		return fail(cmd, "--password-stdin", "want the password (1..1024 bytes) on the first line of stdin");
	in->password = (char *)in->buf;
	in->data = nl ? nl + 1 : in->buf + n;
	in->len = nl ? n - pl - 1 : 0;
	if (in->len > max)
		return fail(cmd, "reading stdin", "too long");
	return 0;
}

static void free_stdin(struct input *in)
{
	if (in->buf)
		mem_free_secret(in->buf, in->cap);
	memset(in, 0, sizeof(*in));
}

static bool parse_u64(const char *s, unsigned long long *out)
{
	char *end;
	errno = 0;
	*out = strtoull(s, &end, 10);
	return s[0] >= '0' && s[0] <= '9' && !*end && !errno;
}

static int cmd_seal(char **args, const struct opts *o)
{
	struct profile_seal_args a = { .unchecked = o->unchecked };
	uint8_t sk[PROFILE_SIGN_SK_LEN], rcpt[PROFILE_KEY_LEN];
	uint8_t *file = NULL;
	size_t file_len = 0;
	struct input in = { 0 };
	unsigned long long v;
	int ret = 1, rc;

	if (!o->enc || profile_enc_parse(o->enc, &a.enc) < 0)
		return fail("seal", "--enc", "want none, password or account");
	if (!o->signing_key)
		return fail("seal", "--signing-key FILE", "is required");
	if (a.enc == PROFILE_ENC_ACCOUNT && (!o->recipient || enc_key_from_base64(rcpt, o->recipient) < 0))
		return fail("seal", "--recipient", "enc=account wants the device's X25519 public key in base64");
	if (a.enc == PROFILE_ENC_PASSWORD && !o->password_stdin)
		return fail("seal", "enc=password", "give the password with --password-stdin");
	if (o->opslimit && !parse_u64(o->opslimit, &v))
		return fail("seal", "--opslimit", "want a number");
	a.opslimit = o->opslimit ? v : 0;
	if (o->memlimit && !parse_u64(o->memlimit, &v))
		return fail("seal", "--memlimit", "want a number of bytes");
	a.memlimit = o->memlimit ? (size_t)v : 0;
	if (read_key("seal", o->signing_key, sk, sizeof(sk)))
		return 1;
	a.signing_sk = sk;
	a.recipient = rcpt;
	if (read_stdin("seal", PROFILE_JSON_MAX, o->password_stdin, &in))
		goto out;
	a.password = in.password;
	rc = profile_seal((const char *)in.data, in.len, &a, &file, &file_len);
	if (rc < 0) {
		char msg[512] = "";
		struct profile p;
		profile_init(&p);
		if (rc != -EINVAL && !o->unchecked && profile_parse((const char *)in.data, in.len, &p, msg, sizeof(msg)) < 0)
			fail("seal", "the profile is invalid", msg);
		else
			fail("seal", "sealing", err_str(rc));
		profile_free(&p);
		goto out;
	}
	if (fwrite(file, 1, file_len, stdout) != file_len || fflush(stdout) != 0) {
		fail("seal", "writing stdout", strerror(errno));
		goto out;
	}
	ret = 0;
out:
	sodium_memzero(sk, sizeof(sk));
	free_stdin(&in);
	mem_free(file);
	return ret;
}

static int cmd_open(char **args, const struct opts *o)
{
	struct profile_open_args a = { 0 };
	uint8_t dev[PROFILE_KEY_LEN], pin[PROFILE_KEY_LEN], signer[PROFILE_KEY_LEN];
	uint8_t *file = NULL;
	size_t len = 0, jlen = 0;
	char *json = NULL, err[512] = "", b64[ENC_KEY_BASE64_LEN];
	struct input in = { 0 };
	enum profile_enc enc = PROFILE_ENC_NONE;
	int ret = 1, rc;

	if (o->device_key) {
		if (read_key("open", o->device_key, dev, sizeof(dev)))
			return 1;
		a.device_sk = dev;
	}
	if (o->signer) {
		if (enc_key_from_base64(pin, o->signer) < 0)
			return fail("open", "--signer", "want an Ed25519 public key in base64");
		a.signer_pin = pin;
	}
	if (o->password_stdin && read_stdin("open", 0, true, &in))
		goto out;
	a.password = in.password;
	if ((rc = fileio_read_all(args[0], PROFILE_FILE_MAX, &file, &len)) < 0) {
		fail("open", args[0], err_str(rc));
		goto out;
	}
	if ((rc = profile_file_enc(file, len, &enc, err, sizeof(err))) == 0)
		rc = profile_open(file, len, &a, signer, &json, &jlen, err, sizeof(err));
	if (rc < 0) {
		fprintf(stderr, "pharos-profile open: %s: %s (%s)\n", args[0], err, err_str(rc));
		ret = 2;
		goto out;
	}
	enc_key_to_base64(b64, signer);
	fwrite(json, 1, jlen, stdout);
	if (jlen && json[jlen - 1] != '\n')
		putchar('\n');
	fprintf(stderr, "signer=%s enc=%s\n", b64, profile_enc_name(enc));
	ret = 0;
out:
	sodium_memzero(dev, sizeof(dev));
	free_stdin(&in);
	if (json)
		mem_free_secret(json, jlen + 1);
	mem_free(file);
	return ret;
}

static int cmd_enc(char **args, const struct opts *o)
{
	uint8_t *file = NULL;
	size_t len;
	char err[256];
	enum profile_enc enc;
	int rc = fileio_read_all(args[0], PROFILE_FILE_MAX, &file, &len);
	if (rc < 0)
		return fail("enc", args[0], err_str(rc));
	rc = profile_file_enc(file, len, &enc, err, sizeof(err));
	mem_free(file);
	if (rc < 0)
		return fail("enc", args[0], err);
	printf("%s\n", profile_enc_name(enc));
	return 0;
}

static int cmd_check(char **args, const struct opts *o)
{
	struct input in;
	char err[512];
	struct profile p;
	if (read_stdin("check", PROFILE_JSON_MAX + 1, false, &in)) {
		free_stdin(&in);
		return 1;
	}
	int rc = profile_parse((const char *)in.data, in.len, &p, err, sizeof(err));
	free_stdin(&in);
	if (rc < 0) {
		fprintf(stderr, "pharos-profile check: %s (%s)\n", err, err_str(rc));
		return 2;
	}
	printf("ok nodes=%zu skipped_protocols=%zu revision=%llu\n", p.n_nodes, p.skipped_protocols,
	       (unsigned long long)p.revision);
	profile_free(&p);
	return 0;
}

static int cmd_devreq_format(char **args, const struct opts *o)
{
	struct devreq r = { 0 };
	char line[DEVREQ_MAX + 1];
	if (!o->awg || enc_key_from_base64(r.awg_public, o->awg) < 0)
		return fail("devreq-format", "--awg", "want the AmneziaWG public key in base64");
	if (!o->encpub || enc_key_from_base64(r.enc_public, o->encpub) < 0)
		return fail("devreq-format", "--enc", "want the X25519 public key in base64");
	if (o->name && (strlen(o->name) > PROFILE_NAME_MAX || !devreq_name_valid(o->name)))
		return fail("devreq-format", "--name", "want up to 64 of A-Z a-z 0-9 . _ @ + -");
	if (o->name)
		strcpy(r.name, o->name);
	int n = devreq_format(&r, line, sizeof(line));
	if (n < 0)
		return fail("devreq-format", "formatting", err_str(n));
	printf("%s\n", line);
	return 0;
}

static int cmd_devreq_parse(char **args, const struct opts *o)
{
	struct devreq r;
	char err[256], a[ENC_KEY_BASE64_LEN], e[ENC_KEY_BASE64_LEN];
	int rc = devreq_parse(args[0], &r, err, sizeof(err));
	if (rc < 0) {
		fprintf(stderr, "pharos-profile devreq-parse: %s\n", err);
		return 2;
	}
	enc_key_to_base64(a, r.awg_public);
	enc_key_to_base64(e, r.enc_public);
	printf("awg=%s\nenc=%s\nname=%s\n", a, e, r.name);
	return 0;
}

static const struct command commands[] = {
	{ "keygen-signing", 1, cmd_keygen_signing, "OUT", "a fleet profile-signing key (Ed25519) to OUT; prints its public key" },
	{ "keygen-device", 1, cmd_keygen_device, "OUT", "a device encryption key (X25519) to OUT; prints its public key" },
	{ "seal", 0, cmd_seal,
	  "--enc none|password|account [--recipient B64] [--password-stdin] --signing-key FILE [--unchecked] "
	  "[--opslimit N] [--memlimit BYTES] < profile.json > file.pharos",
	  "seal profile JSON (checked unless --unchecked)" },
	{ "open", 1, cmd_open, "[--device-key FILE] [--password-stdin] [--signer B64] FILE",
	  "verify and open: the JSON on stdout, \"signer=B64 enc=MODE\" on stderr; exit 2 if refused" },
	{ "enc", 1, cmd_enc, "FILE", "print the file's enc (header only)" },
	{ "check", 0, cmd_check, "< profile.json", "validate profile JSON; exit 2 with the reason if invalid" },
	{ "devreq-format", 0, cmd_devreq_format, "--awg B64 --enc B64 [--name NAME]", "print a device request line" },
	{ "devreq-parse", 1, cmd_devreq_parse, "LINE", "print awg=, enc=, name= of a device request; exit 2 if refused" },
};

static void usage(FILE *f)
{
	fprintf(f, "Usage: pharos-profile COMMAND ARGS (a test tool over src/profile)\n");
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		fprintf(f, "  %s %s\n      %s\n", commands[i].name, commands[i].usage, commands[i].help);
}

static const struct {
	const char *name;
	size_t off; /* offset of the const char * in struct opts */
} value_opts[] = {
	{ "--enc", offsetof(struct opts, enc) },
	{ "--recipient", offsetof(struct opts, recipient) },
	{ "--signing-key", offsetof(struct opts, signing_key) },
	{ "--device-key", offsetof(struct opts, device_key) },
	{ "--signer", offsetof(struct opts, signer) },
	{ "--awg", offsetof(struct opts, awg) },
	{ "--name", offsetof(struct opts, name) },
	{ "--opslimit", offsetof(struct opts, opslimit) },
	{ "--memlimit", offsetof(struct opts, memlimit) },
};

static int parse_opts(const char *cmd, int argc, char **argv, char **pos, int *npos, struct opts *o)
{
	*npos = 0;
	for (int i = 0; i < argc; i++) {
		const char *a = argv[i];
		bool found = false;
		if (strncmp(a, "--", 2) != 0) {
			pos[(*npos)++] = argv[i];
			continue;
		}
		if (!strcmp(a, "--password-stdin")) {
			o->password_stdin = true;
			continue;
		}
		if (!strcmp(a, "--unchecked")) {
			o->unchecked = true;
			continue;
		}
		/* --enc means the mode for seal and the public key for devreq-format. */
		if (!strcmp(a, "--enc") && !strcmp(cmd, "devreq-format")) {
			if (i + 1 == argc)
				break;
			o->encpub = argv[++i];
			continue;
		}
		for (size_t k = 0; k < sizeof(value_opts) / sizeof(value_opts[0]); k++) {
			if (strcmp(a, value_opts[k].name) != 0)
				continue;
			if (i + 1 == argc) {
				fprintf(stderr, "pharos-profile: option %s needs a value\n", a);
				return -1;
			}
			*(const char **)((char *)o + value_opts[k].off) = argv[++i];
			found = true;
		}
		if (!found) {
			fprintf(stderr, "pharos-profile: unknown option \"%s\"\n", a);
			return -1;
		}
	}
	return 0;
}

int main(int argc, char **argv)
{
	struct opts o = { 0 };
	char *pos[64];
	int npos;

	if (sodium_init() < 0)
		return 1;
	if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "help")) {
		usage(argc < 2 ? stderr : stdout);
		return argc < 2 ? 1 : 0;
	}
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++) {
		const struct command *c = &commands[i];
		if (strcmp(argv[1], c->name) != 0)
			continue;
		if (argc - 2 > (int)(sizeof(pos) / sizeof(pos[0])) || parse_opts(c->name, argc - 2, argv + 2, pos, &npos, &o) < 0)
			return 1;
		if (npos != c->nargs) {
			fprintf(stderr, "Usage: pharos-profile %s %s\n", c->name, c->usage);
			return 1;
		}
		return c->fn(pos, &o);
	}
	fprintf(stderr, "pharos-profile: unknown command \"%s\"\n", argv[1]);
	usage(stderr);
	return 1;
}
