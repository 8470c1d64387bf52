/* Fuzz target for vless:// share links (reality/vless_link): the input, cut
 * at its first NUL, is parsed; a link that parses must format, and the
 * formatted link must parse back to the same settings and format to the same
 * text (the canonical form is a fixed point). A failed parse must leave an
 * error message and a zeroed result. Any disagreement aborts. */
#include <stdlib.h>
#include <string.h>

#include "reality/vless_link.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check(bool ok)
{
	if (!ok)
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const struct vless_link zero;
	static struct vless_link a, b;
	static char s[VLESS_LINK_MAX + 2], out[VLESS_LINK_MAX * 3], again[VLESS_LINK_MAX * 3];
	char err[VLESS_LINK_ERR_MAX];
	size_t n = size < sizeof(s) - 1 ? size : sizeof(s) - 1;

	memcpy(s, data, n);
	s[n] = '\0';
	if (vless_link_parse(&a, s, err, sizeof(err)) < 0) {
		check(err[0] != '\0' && memcmp(&a, &zero, sizeof(a)) == 0);
		return 0;
	}
	check(vless_link_format(&a, out, sizeof(out)) == 0);
	check(vless_link_parse(&b, out, err, sizeof(err)) == 0);
	check(memcmp(&a, &b, sizeof(a)) == 0);
	check(vless_link_format(&b, again, sizeof(again)) == 0);
	check(strcmp(out, again) == 0);
	return 0;
}
