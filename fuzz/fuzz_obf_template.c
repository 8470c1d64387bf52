/* Parses arbitrary text as an I1..I5 template. A template that parses must
 * render to exactly obf_template_len bytes, refuse a buffer one byte short,
 * survive a copy, and be accepted by obf_params_set (which also formats it
 * back unchanged); text that fails must fail there too. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "awg/obf.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size > OBF_MAX_TEMPLATE_TEXT + 16)
		return 0;
	char *text = malloc(size + 1);
	if (!text)
		return 0;
	memcpy(text, data, size);
	text[size] = '\0';
	bool blank = true;
	for (size_t i = 0; text[i]; i++)
		blank &= text[i] == ' ' || text[i] == '\t';

	struct obf_template *t = NULL;
	char err[512];
	int rc = obf_template_parse(text, &t, err, sizeof(err));
	if (rc == 0) {
		size_t len = obf_template_len(t);
		if (len > OBF_MAX_TEMPLATE_BYTES)
			abort();
		uint8_t *out = malloc(len ? len : 1);
		if (!out)
			abort();
		if (obf_template_render(t, out, len, 0x6553f100, 7) != len)
			abort();
		if (len && obf_template_render(t, out, len - 1, 0, 0) != 0)
			abort();
		free(out);
	} else if (t || !err[0]) {
		abort(); /* failure must leave no template and say why */
	}

	struct obf_params p, q;
	obf_params_init(&p);
	int rc2 = obf_params_set(&p, "i1", text, err, sizeof(err));
	if (blank ? rc2 != 0 || p.i[0] : (rc2 == 0) != (rc == 0))
		abort();
	if (rc2 == 0 && p.i[0]) {
		if (obf_template_len(p.i[0]) != obf_template_len(t))
			abort();
		if (obf_params_copy(&q, &p) == 0) {
			if (strcmp(q.i_text[0], p.i_text[0]) || obf_template_len(q.i[0]) != obf_template_len(t))
				abort();
			obf_params_fini(&q);
		}
		if (obf_params_validate(&p, NULL, 0) != 0)
			abort();
	}
	obf_params_fini(&p);
	obf_template_free(t);
	free(text);
	return 0;
}
