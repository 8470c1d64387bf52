/* Feeds arbitrary bytes to profile_parse as profile JSON. What it accepts
 * must write back (profile_to_json), re-parse, and write back to the same
 * text: one canonical form per profile, and nothing the writer emits is
 * refused by the reader. Refusals must leave the struct empty. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "lib/mem.h"
#include "profile/profile.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check(int ok)
{
	if (!ok)
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct profile p, q;
	char err[256], *a = NULL, *b = NULL;

	int rc = profile_parse((const char *)data, size, &p, err, sizeof(err));
	if (rc < 0) {
		check(p.nodes == NULL && p.n_nodes == 0 && err[0] != '\0');
		return 0;
	}
	check(profile_to_json(&p, &a) == 0);
	check(profile_parse(a, strlen(a), &q, err, sizeof(err)) == 0);
	check(q.n_nodes == p.n_nodes && q.revision == p.revision && q.skipped_protocols == 0);
	check(profile_to_json(&q, &b) == 0);
	check(strcmp(a, b) == 0);
	check(profile_validate(&q, err, sizeof(err)) == 0);
	mem_free_secret(a, strlen(a) + 1);
	mem_free_secret(b, strlen(b) + 1);
	profile_free(&p);
	profile_free(&q);
	return 0;
}
