/* Feeds arbitrary text (cut at its first NUL) to devreq_parse. An accepted
 * request must format back to the same line, blanks around it aside (one
 * encoding per request), and parse again to the same struct; a refused one
 * leaves the struct zeroed and says why. */
#include <sodium.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "profile/profile.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check(int ok)
{
	if (!ok)
		abort();
}

static int blank(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char text[4 * DEVREQ_MAX + 1], line[DEVREQ_MAX + 1], err[256];
	struct devreq r, again;

	if (size > sizeof(text) - 1)
		size = sizeof(text) - 1;
	memcpy(text, data, size);
	text[size] = '\0';
	if (devreq_parse(text, &r, err, sizeof(err)) < 0) {
		check(sodium_is_zero((const uint8_t *)&r, sizeof(r)) && err[0] != '\0');
		return 0;
	}
	int n = devreq_format(&r, line, sizeof(line));
	check(n > 0 && (size_t)n == strlen(line));
	const char *s = text;
	size_t len = strlen(text);
	while (blank(*s))
		s++, len--;
	while (len && blank(s[len - 1]))
		len--;
	check(len == (size_t)n && memcmp(s, line, len) == 0);
	check(devreq_parse(line, &again, err, sizeof(err)) == 0);
	check(memcmp(&r, &again, sizeof(r)) == 0);
	return 0;
}
