/* Feeds arbitrary text to the configuration parser line by line. When it
 * converts, the UAPI body is read back as a get reply (showconf), and that
 * normalised file must convert again and show identically: parsing and
 * showing agree on everything they both carry. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "awg/conf.h"
#include "lib/buf.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Converts text (NUL-terminated) line by line into out; returns conf's code. */
static int convert(const char *text, size_t len, struct buf *out, unsigned flags)
{
	struct conf c;
	int rc = conf_init(&c, flags);
	const char *p = text, *end = text + len;
	char *line = malloc(len + 1);
	if (!line)
		abort();
	while (!rc && p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		size_t n = nl ? (size_t)(nl - p) : (size_t)(end - p);
		memcpy(line, p, n);
		line[n] = '\0';
		rc = conf_line(&c, line);
		p += n + (nl ? 1 : 0);
	}
	if (!rc)
		rc = conf_finish(&c, out);
	if (rc && !conf_error(&c)[0])
		abort(); /* every failure says why */
	free(line);
	conf_fini(&c);
	return rc;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct buf set1, show1, set2, show2;
	char err[512];
	buf_init(&set1, 1 << 22);
	buf_init(&show1, 1 << 22);
	buf_init(&set2, 1 << 22);
	buf_init(&show2, 1 << 22);
	if (convert((const char *)data, size, &set1, size && (data[0] & 1) ? CONF_REPLACE_PEERS : 0) == 0 && set1.len) {
		if (conf_from_uapi((char *)set1.data, set1.len, &show1, err, sizeof(err)) != 0)
			abort();
		if (convert((char *)show1.data, show1.len, &set2, 0) != 0)
			abort();
		if (conf_from_uapi((char *)set2.data, set2.len, &show2, err, sizeof(err)) != 0)
			abort();
		if (show1.len != show2.len || memcmp(show1.data, show2.data, show1.len))
			abort();
	}
	/* The input as a get reply must never crash either. */
	struct buf any;
	buf_init(&any, 1 << 22);
	int rc = conf_from_uapi((const char *)data, size, &any, err, sizeof(err));
	if (rc < 0 && !err[0])
		abort(); /* every failure says why */
	buf_fini_secret(&any);
	buf_fini_secret(&set1);
	buf_fini_secret(&show1);
	buf_fini_secret(&set2);
	buf_fini_secret(&show2);
	return 0;
}
