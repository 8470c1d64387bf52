/* mlkem-tool: a test tool over src/reality/mlkem, so the Python oracle test
 * (tests/interop/test_mlkem_oracle.py) can compare our ML-KEM-768 with an
 * independent implementation byte for byte. Not installed.
 *
 * Every value is hex on the command line and printed as NAME=HEX lines.
 * Exit status: 0 done, 1 the operation refused its input (an encapsulation
 * key failing the modulus check), 2 usage or malformed arguments. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/enc.h"
#include "lib/err.h"
#include "reality/mlkem.h"

struct command {
	const char *name;
	int min_args, max_args;
	int (*fn)(char **args, int n);
	const char *usage;
	const char *help;
};

/* Decodes args[i] as exactly len bytes of hex into out, or explains why not. */
static int unhex(const char *what, const char *s, uint8_t *out, size_t len)
{
	if (enc_hex_decode(out, len, s) == 0)
		return 0;
	fprintf(stderr, "mlkem-tool: %s \"%.16s%s\" (%zu characters): expected exactly %zu hex digits\n",
	        what, s, strlen(s) > 16 ? "..." : "", strlen(s), 2 * len);
	return -1;
}

static int print_hex(const char *name, const uint8_t *p, size_t len)
{
	char *text = malloc(ENC_HEX_LEN(len));

	if (!text || enc_hex_encode(text, ENC_HEX_LEN(len), p, len) < 0) {
		free(text);
		fprintf(stderr, "mlkem-tool: out of memory\n");
		return 2;
	}
	printf("%s=%s\n", name, text);
	free(text);
	return 0;
}

static int cmd_keygen(char **args, int n)
{
	uint8_t seed[MLKEM_SEED_LEN], ek[MLKEM_EK_LEN], dk[MLKEM_DK_LEN];
	int rc;

	if (n == 1) {
		if (unhex("SEED", args[0], seed, sizeof(seed)) < 0)
			return 2;
		mlkem_keygen_derand(ek, dk, seed);
	} else if ((rc = mlkem_keygen(ek, dk)) < 0) {
		fprintf(stderr, "mlkem-tool keygen: %s\n", err_str(rc));
		return 1;
	}
	rc = print_hex("ek", ek, sizeof(ek));
	return rc ? rc : print_hex("dk", dk, sizeof(dk));
}

static int cmd_encaps(char **args, int n)
{
	uint8_t ek[MLKEM_EK_LEN], m[MLKEM_MSG_LEN], ct[MLKEM_CT_LEN], ss[MLKEM_SS_LEN];
	int rc;

	if (unhex("EK", args[0], ek, sizeof(ek)) < 0)
		return 2;
	if (n == 2) {
		if (unhex("M", args[1], m, sizeof(m)) < 0)
			return 2;
		rc = mlkem_encaps_derand(ct, ss, ek, m);
	} else {
		rc = mlkem_encaps(ct, ss, ek);
	}
	if (rc < 0) {
		fprintf(stderr, "mlkem-tool encaps: encapsulation key refused: %s\n", err_str(rc));
		return 1;
	}
	rc = print_hex("ct", ct, sizeof(ct));
	return rc ? rc : print_hex("ss", ss, sizeof(ss));
}

static int cmd_decaps(char **args, int n)
{
	uint8_t dk[MLKEM_DK_LEN], ct[MLKEM_CT_LEN], ss[MLKEM_SS_LEN];

	if (unhex("DK", args[0], dk, sizeof(dk)) < 0 || unhex("CT", args[1], ct, sizeof(ct)) < 0)
		return 2;
	mlkem_decaps(ss, dk, ct);
	return print_hex("ss", ss, sizeof(ss));
}

static int cmd_check_ek(char **args, int n)
{
	uint8_t ek[MLKEM_EK_LEN];
	int rc;

	if (unhex("EK", args[0], ek, sizeof(ek)) < 0)
		return 2;
	rc = mlkem_check_ek(ek);
	printf("%s\n", rc < 0 ? "refused" : "ok");
	return rc < 0 ? 1 : 0;
}

static int cmd_check_dk(char **args, int n)
{
	uint8_t dk[MLKEM_DK_LEN];
	int rc;

	if (unhex("DK", args[0], dk, sizeof(dk)) < 0)
		return 2;
	rc = mlkem_check_dk(dk);
	printf("%s\n", rc < 0 ? "refused" : "ok");
	return rc < 0 ? 1 : 0;
}

static const struct command commands[] = {
	{ "keygen", 0, 1, cmd_keygen, "[SEED]", "ek and dk from the 64-byte seed d||z (random without SEED)" },
	{ "encaps", 1, 2, cmd_encaps, "EK [M]", "ct and ss for EK with the 32-byte message M (random without M)" },
	{ "decaps", 2, 2, cmd_decaps, "DK CT", "ss for CT (implicit rejection: never fails)" },
	{ "check-ek", 1, 1, cmd_check_ek, "EK", "the FIPS 203 modulus check; prints ok or refused" },
	{ "check-dk", 1, 1, cmd_check_dk, "DK", "the FIPS 203 hash check; prints ok or refused" },
};

static void usage(FILE *f)
{
	fprintf(f, "usage: mlkem-tool COMMAND ARGS (all values in hex; ML-KEM-768)\n");
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		fprintf(f, "  %-8s %-8s %s\n", commands[i].name, commands[i].usage, commands[i].help);
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		usage(stderr);
		return 2;
	}
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++) {
		const struct command *c = &commands[i];
		int n = argc - 2;

		if (strcmp(argv[1], c->name))
			continue;
		if (n < c->min_args || n > c->max_args) {
			fprintf(stderr, "mlkem-tool %s: takes %s\n", c->name, c->usage);
			return 2;
		}
		return c->fn(argv + 2, n);
	}
	fprintf(stderr, "mlkem-tool: unknown command \"%s\"\n", argv[1]);
	usage(stderr);
	return 2;
}
