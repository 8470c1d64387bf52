/* Micro-benchmark of ML-KEM-768 (src/reality/mlkem.c) on one core: key
 * generations, encapsulations and decapsulations per second (CPU time), and
 * the Keccak permutation the three are built on. Build with release flags:
 *   cc -O2 -D_GNU_SOURCE -Isrc bench/mlkem-bench.c src/reality/mlkem.c \
 *      src/reality/keccak.c -lcrypto -o mlkem-bench
 * Usage: mlkem-bench [SECONDS per measurement, default 1] */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "reality/keccak.h"
#include "reality/mlkem.h"

/* CPU time of this process: a per-core rate even on a busy machine. */
static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

struct state {
	uint8_t seed[MLKEM_SEED_LEN], m[MLKEM_MSG_LEN];
	uint8_t ek[MLKEM_EK_LEN], dk[MLKEM_DK_LEN], ct[MLKEM_CT_LEN], ss[MLKEM_SS_LEN];
	uint64_t lanes[25];
	unsigned sink;
};

static void op_keygen(struct state *s)
{
	s->seed[0]++;
	mlkem_keygen_derand(s->ek, s->dk, s->seed);
}

static void op_encaps(struct state *s)
{
	s->m[0]++;
	if (mlkem_encaps_derand(s->ct, s->ss, s->ek, s->m) < 0)
		abort();
	s->sink += s->ss[0];
}

static void op_decaps(struct state *s)
{
	mlkem_decaps(s->ss, s->dk, s->ct);
	s->sink += s->ss[0];
}

static void op_decaps_rejected(struct state *s)
{
	s->ct[0] ^= 1;
	mlkem_decaps(s->ss, s->dk, s->ct);
	s->ct[0] ^= 1;
	s->sink += s->ss[0];
}

static void op_keccak(struct state *s)
{
	keccak_f1600(s->lanes);
}

/* Runs op in batches until `seconds` of CPU time have passed; ops/second. */
static double measure(void (*op)(struct state *), struct state *s, double seconds)
{
	long n = 0, batch = 16;
	double start = now_s(), elapsed;

	do {
		for (long i = 0; i < batch; i++)
			op(s);
		n += batch;
		elapsed = now_s() - start;
	} while (elapsed < seconds);
	return (double)n / elapsed;
}

int main(int argc, char **argv)
{
	static const struct {
		const char *name;
		void (*op)(struct state *);
	} ops[] = {
		{ "keygen", op_keygen },
		{ "encaps", op_encaps },
		{ "decaps", op_decaps },
		{ "decaps (implicit rejection)", op_decaps_rejected },
		{ "keccak-f[1600]", op_keccak },
	};
	double seconds = argc > 1 ? atof(argv[1]) : 1.0;
	struct state s;

	if (seconds <= 0) {
		fprintf(stderr, "usage: mlkem-bench [SECONDS > 0]\n");
		return 2;
	}
	memset(&s, 0, sizeof(s));
	mlkem_keygen_derand(s.ek, s.dk, s.seed);
	if (mlkem_encaps_derand(s.ct, s.ss, s.ek, s.m) < 0)
		return 1;
	printf("ML-KEM-768, one core, %.1f s CPU per line\n", seconds);
	for (size_t i = 0; i < sizeof(ops) / sizeof(ops[0]); i++) {
		double rate = measure(ops[i].op, &s, seconds);
		printf("  %-28s %10.0f ops/s  %8.1f us/op\n", ops[i].name, rate, 1e6 / rate);
	}
	return s.sink == 0xffffffffu;
}
