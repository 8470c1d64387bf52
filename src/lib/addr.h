/* IP addresses, CIDR prefixes and UDP endpoints: strict numeric parsing and
 * canonical formatting. No name resolution, except that an IPv6 scope may name
 * an interface ("[fe80::1%eth0]:51820"), which is looked up with
 * if_nametoindex(3).
 *
 * What the parsers accept (anything else is -EINVAL, malformed):
 *   IPv4      four dotted decimal octets 0..255, no leading zeros ("010" is
 *             refused because other tools read it as octal).
 *   IPv6      RFC 4291 text: 1..4 hex digits per group (either case), at most
 *             one "::" standing for one or more zero groups, an optional
 *             trailing dotted IPv4 in the last 32 bits. No scope, no brackets.
 *   CIDR      ADDR "/" PREFIX, or a bare ADDR meaning /32 or /128. PREFIX is
 *             decimal without leading zeros ("/0" yes, "/08" no). Host bits
 *             past the prefix are cleared ("10.1.2.3/8" is 10.0.0.0/8).
 *   endpoint  IPV4 ":" PORT, or "[" IPV6 ["%" SCOPE] "]" ":" PORT. PORT is
 *             decimal 0..65535 without leading zeros. SCOPE is a decimal
 *             interface index (no leading zeros) or an interface name; an
 *             all-digit SCOPE is always taken as an index.
 * A well-formed number that is too large (prefix 33 on IPv4, port 65536, a
 * scope index past 2^32-1) is ERR_RANGE. No whitespace is skipped anywhere.
 *
 * Formatting is canonical: IPv6 follows RFC 5952 (lower case, no leading
 * zeros, the longest run of two or more zero groups shortened to "::", the
 * first such run on a tie, IPv4-mapped addresses as "::ffff:a.b.c.d"), and a
 * scope is printed as its index so the text does not depend on interface
 * names. Parsing what a formatter printed gives back an equal value. */
#ifndef PHAROS_LIB_ADDR_H
#define PHAROS_LIB_ADDR_H

#include <netinet/in.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "lib/err.h"

/* family is AF_INET (bytes[0..3] used, the rest zero) or AF_INET6. */
struct addr {
	int family;
	uint8_t bytes[16];
};

/* prefix is 0..32 or 0..128; the parser leaves no host bits set. */
struct cidr {
	struct addr addr;
	uint8_t prefix;
};

/* Ready for sendmsg/connect: pass &e.sa and endpoint_len(&e). */
union endpoint {
	struct sockaddr sa;
	struct sockaddr_in in4;
	struct sockaddr_in6 in6;
};

/* Buffer sizes (with the NUL) that always suffice for the formatters. */
#define ADDR_STRLEN     46 /* INET6_ADDRSTRLEN */
#define CIDR_STRLEN     (ADDR_STRLEN + 4)
#define ENDPOINT_STRLEN (ADDR_STRLEN + 1 + 1 + 10 + 2 + 5) /* [ADDR%SCOPE]:PORT */

/* Parsers: 0, -EINVAL (malformed) or ERR_RANGE (see above); endpoint_parse
 * also -ENODEV when a scope names no interface. out is zeroed on failure. */
int addr_parse(const char *s, struct addr *out) WUR;
int cidr_parse(const char *s, struct cidr *out) WUR;
int endpoint_parse(const char *s, union endpoint *out) WUR;

/* Formatters write a NUL-terminated string and return its length, or
 * -ENOSPC if cap is too small (buf is then "" when cap > 0), or
 * -EAFNOSUPPORT for a family that is neither AF_INET nor AF_INET6. */
int addr_format(const struct addr *a, char *buf, size_t cap) WUR;
int cidr_format(const struct cidr *c, char *buf, size_t cap) WUR;
int endpoint_format(const union endpoint *e, char *buf, size_t cap) WUR;

/* Same family and same bytes. */
bool addr_equal(const struct addr *a, const struct addr *b);
/* Same family, prefix and network bits. */
bool cidr_equal(const struct cidr *a, const struct cidr *b);
/* a lies inside c. Families must match: 1.2.3.4 is not in ::ffff:0:0/96. */
bool cidr_contains(const struct cidr *c, const struct addr *a);
/* Same family, address and port, and for IPv6 the same scope; flow labels
 * are ignored. False for any other family. */
bool endpoint_equal(const union endpoint *a, const union endpoint *b);

/* Builds an endpoint (IPv6 scope 0); 0 or -EAFNOSUPPORT (out zeroed). */
int endpoint_from_addr(union endpoint *out, const struct addr *a, uint16_t port) WUR;
/* Copies a received socket address (recvmsg's msg_name, len its length);
 * 0, or -EAFNOSUPPORT for another family or -EINVAL if len is too short. */
int endpoint_from_sockaddr(union endpoint *out, const struct sockaddr *sa, socklen_t len) WUR;
/* The endpoint's address; 0 or -EAFNOSUPPORT (out zeroed). */
int addr_from_endpoint(struct addr *out, const union endpoint *e) WUR;
/* Port in host byte order; 0 for an unknown family. */
uint16_t endpoint_port(const union endpoint *e);
/* sizeof the family's sockaddr, for sendmsg/connect; 0 for an unknown family. */
socklen_t endpoint_len(const union endpoint *e);

#endif
