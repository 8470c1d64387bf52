/* Device requests: pharos-device-1:<awg pub>:<enc pub>:<name>:<check>. */
#include "profile/profile.h"

#include <errno.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>

#include "lib/enc.h"
#include "lib/text.h"
#include "profile/profile_int.h"

#define CHECK_BYTES 4
#define CHECK_HEX (2 * CHECK_BYTES)
#define PREFIX_BASE "pharos-device-"

bool devreq_name_valid(const char *s)
{
	return !*s || (profile_name_valid(s) && !strchr(s, ' '));
}

static bool all_zero(const uint8_t *k)
{
	return sodium_is_zero(k, PROFILE_KEY_LEN);
}

/* First CHECK_BYTES of BLAKE2b-128(text[0..len)), as lower-case hex. */
static void checksum(const char *text, size_t len, char out[CHECK_HEX + 1])
{
	uint8_t h[crypto_generichash_BYTES_MIN];
	crypto_generichash(h, sizeof(h), (const uint8_t *)text, len, NULL, 0);
	if (enc_hex_encode(out, CHECK_HEX + 1, h, CHECK_BYTES) < 0)
		out[0] = '\0';
}

int devreq_format(const struct devreq *r, char *out, size_t cap)
{
	char awg[ENC_KEY_BASE64_LEN], enc[ENC_KEY_BASE64_LEN], check[CHECK_HEX + 1];
	char body[DEVREQ_MAX];

	if (cap)
		out[0] = '\0';
	if (!devreq_name_valid(r->name) || all_zero(r->awg_public) || all_zero(r->enc_public))
		return -EINVAL;
	enc_key_to_base64(awg, r->awg_public);
	enc_key_to_base64(enc, r->enc_public);
	int n = snprintf(body, sizeof(body), DEVREQ_PREFIX "%s:%s:%s", awg, enc, r->name);
	if (n < 0 || (size_t)n >= sizeof(body))
		return -ENOSPC;
	checksum(body, (size_t)n, check);
	int m = snprintf(out, cap, "%s:%s", body, check);
	if (m < 0 || (size_t)m >= cap) {
		if (cap)
			out[0] = '\0';
		return -ENOSPC;
	}
	return m;
}

static bool blank(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

int devreq_parse(const char *line, struct devreq *out, char *err, size_t errlen)
{
	char buf[DEVREQ_MAX + 1], q[TEXT_QUOTE_BUF(48)], check[CHECK_HEX + 1];
	char *field[3], *p, *sum;
	size_t n, len;
	int rc;

	memset(out, 0, sizeof(*out));
	while (blank(*line))
		line++;
	len = strnlen(line, 4 * DEVREQ_MAX);
	while (len && blank(line[len - 1]))
		len--;
	if (len > DEVREQ_MAX)
		return profile_seterr(err, errlen, ERR_TOOBIG,
				      "device request: %zu characters, a request has at most %d", len, DEVREQ_MAX);
	memcpy(buf, line, len);
	buf[len] = '\0';
	if (strncmp(buf, DEVREQ_PREFIX, strlen(DEVREQ_PREFIX)) != 0) {
		unsigned v;
		int used = 0;
		if (sscanf(buf, PREFIX_BASE "%u:%n", &v, &used) == 1 && used > 0 && v > 1)
			return profile_seterr(err, errlen, ERR_PROTO,
					      "device request: format %u is newer than this program reads (1)", v);
		return profile_seterr(err, errlen, ERR_PARSE,
				      "device request: %s does not start with \"" DEVREQ_PREFIX
				      "\" (paste the whole line `caravel init` printed)",
				      text_quote(q, 48, buf, len));
	}
	/* The checksum covers everything before the last ':'. */
	sum = strrchr(buf, ':');
	p = buf + strlen(DEVREQ_PREFIX);
	n = 0;
	if (sum >= p) {
		*sum++ = '\0';
		checksum(buf, (size_t)(sum - 1 - buf), check);
		for (; p && n < 3; n++) {
			field[n] = p;
			if ((p = strchr(p, ':')))
				*p++ = '\0';
		}
	}
	if (n != 3 || p)
		return profile_seterr(err, errlen, ERR_PARSE,
				      "device request: want 4 fields after \"" DEVREQ_PREFIX
				      "\", separated by ':' (AmneziaWG key:encryption key:name:checksum)");
	if (strlen(sum) != CHECK_HEX || sodium_memcmp(check, sum, CHECK_HEX) != 0) {
		rc = profile_seterr(err, errlen, ERR_AUTH,
				    "device request: checksum %s does not match: the line was changed or cut while "
				    "copying",
				    text_quote(q, 16, sum, strlen(sum)));
		goto fail;
	}
	if (profile_b64_exact(out->awg_public, PROFILE_KEY_LEN, field[0]) < 0 || all_zero(out->awg_public)) {
		rc = profile_seterr(err, errlen, ERR_PARSE,
				    "device request: AmneziaWG key %s is not a 32-byte key in base64",
				    text_quote(q, 48, field[0], strlen(field[0])));
		goto fail;
	}
	if (profile_b64_exact(out->enc_public, PROFILE_KEY_LEN, field[1]) < 0 || all_zero(out->enc_public)) {
		rc = profile_seterr(err, errlen, ERR_PARSE,
				    "device request: encryption key %s is not a 32-byte key in base64",
				    text_quote(q, 48, field[1], strlen(field[1])));
		goto fail;
	}
	if (!devreq_name_valid(field[2])) {
		rc = profile_seterr(err, errlen, ERR_PARSE,
				    "device request: name %s is not valid (up to %d of A-Z a-z 0-9 . _ @ + -)",
				    text_quote(q, 48, field[2], strlen(field[2])), PROFILE_NAME_MAX);
		goto fail;
	}
	memcpy(out->name, field[2], strlen(field[2]) + 1);
	return 0;
fail:
	memset(out, 0, sizeof(*out));
	return rc;
}
