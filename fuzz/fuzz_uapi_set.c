/* Fuzz target: arbitrary bytes as the body of a UAPI set transaction (the
 * lines after "set=1\n", up to the empty line), parsed by uapi_parse_set the
 * way uapi_handle does before applying anything: once against plain
 * WireGuard parameters (the default obf_params) and once against an
 * AmneziaWG set, since the parser merges AWG keys with the current values.
 *
 * Must never crash or leak (LeakSanitizer checks that uapi_set_fini releases
 * everything, on success and on every error path), and what it returns must
 * hold up:
 *   - only the documented codes; -EINVAL always comes with a message;
 *   - on success the merged AWG set passes obf_params_validate, a port range
 *     is ordered and at most 1024 ports, peer and allowed-IP arrays are within
 *     their capacity;
 *   - the accepted AWG set, printed as get prints it, parses back to the same
 *     text (what `wg showconf | wg setconf` relies on). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "awg/uapi.h"
#include "lib/mem.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FMT_CAP (6 * OBF_MAX_TEMPLATE_TEXT + 4096)

static void die(const char *what, const char *detail)
{
	fprintf(stderr, "fuzz_uapi_set: %s%s%s\n", what, detail ? ": " : "", detail ? detail : "");
	abort();
}

static const struct obf_params *awg_current(void)
{
	static struct obf_params p;
	static bool ready;
	static const char *const kv[][2] = {
		{ "jc", "4" },        { "jmin", "40" },        { "jmax", "70" },         { "s1", "15" },
		{ "s2", "18" },       { "s3", "20" },          { "s4", "23" },           { "h1", "100000-100999" },
		{ "h2", "200000" },   { "h3", "300000-300010" }, { "h4", "400000-401000" }, { "i1", "<b 0xc0ff><r 16>" },
	};
	char err[256];
	if (ready)
		return &p;
	obf_params_init(&p);
	for (size_t i = 0; i < sizeof(kv) / sizeof(kv[0]); i++)
		if (obf_params_set(&p, kv[i][0], kv[i][1], err, sizeof(err)) != 0)
			die("fixture", err);
	if (obf_params_validate(&p, err, sizeof(err)) != 0)
		die("fixture", err);
	ready = true;
	return &p;
}

/* Prints p as get does; the caller's buffer holds FMT_CAP bytes. */
static int format(const struct obf_params *p, char *buf)
{
	int n = obf_params_format(p, buf, FMT_CAP);
	if (n < 0)
		die("obf_params_format failed on an accepted set", NULL);
	return n;
}

static void check_round_trip(const struct obf_params *p)
{
	static char *first, *second;
	struct uapi_set tx;
	char err[256] = "";

	if (!first && (!(first = malloc(FMT_CAP)) || !(second = malloc(FMT_CAP))))
		die("out of memory", NULL);
	int n = format(p, first);
	uapi_set_init(&tx);
	struct obf_params plain;
	obf_params_init(&plain);
	int rc = uapi_parse_set(&tx, first, (size_t)n, &plain, err, sizeof(err));
	if (rc != 0)
		die("the printed AWG set does not parse back", err);
	int m = format(&tx.obf, second);
	if (m != n || memcmp(first, second, (size_t)n))
		die("the printed AWG set parses back to something else", second);
	obf_params_fini(&plain);
	uapi_set_fini(&tx);
}

static void parse_once(const uint8_t *data, size_t size, const struct obf_params *current)
{
	struct uapi_set tx;
	char err[256] = "";

	uapi_set_init(&tx);
	int rc = uapi_parse_set(&tx, (const char *)data, size, current, err, sizeof(err));
	switch (rc) {
	case 0:
		break;
	case -EINVAL:
		if (!err[0])
			die("-EINVAL without a message", NULL);
		break;
	case -EPROTO:
	case -ENOMEM:
	case ERR_TOOBIG:
		break;
	default:
		die("undocumented return code", NULL);
	}
	if (rc == 0) {
		if (obf_params_validate(&tx.obf, err, sizeof(err)) != 0)
			die("accepted an invalid AWG set", err);
		if (tx.has_port && (tx.port_hi < tx.port || tx.port_hi - tx.port >= 1024))
			die("accepted a bad port range", NULL);
		if (tx.npeers > tx.cap)
			die("peer count past capacity", NULL);
		for (size_t i = 0; i < tx.npeers; i++)
			if (tx.peers[i].naips > tx.peers[i].aips_cap)
				die("allowed-IP count past capacity", NULL);
		if (tx.obf_changed)
			check_round_trip(&tx.obf);
	}
	uapi_set_fini(&tx);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct obf_params plain;
	obf_params_init(&plain);
	parse_once(data, size, &plain);
	obf_params_fini(&plain);
	parse_once(data, size, awg_current());
	return 0;
}
