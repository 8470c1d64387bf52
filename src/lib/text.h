/* Showing untrusted text in messages. */
#ifndef PHAROS_LIB_TEXT_H
#define PHAROS_LIB_TEXT_H

#include <stdbool.h>
#include <stddef.h>

/* Room text_quote needs for a given cut-off. */
#define TEXT_QUOTE_BUF(max) ((max) * 4 + 8)

/* Writes s[0..len) (stopping at a NUL) in double quotes into out, escaping
 * quotes, backslashes and non-printable bytes (\xNN), cut after max
 * characters with "...", so a huge or binary input never floods a log line
 * or an error reply. out must hold TEXT_QUOTE_BUF(max) bytes. Returns out. */
const char *text_quote(char *out, size_t max, const char *s, size_t len);

/* s is a host name: dot-separated labels of letters, digits and inner
 * hyphens, each 1..63 characters, 253 in all, no trailing dot. */
bool text_is_dns_name(const char *s);

#endif
