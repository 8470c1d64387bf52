/* Allowed-IPs: longest-prefix match from an inner address to a peer, for IPv4
 * and IPv6 (cryptokey routing, specs/awg.md §1.5). A binary radix trie per
 * family. Not internally locked: the device guards it with a rwlock and takes
 * the read side once per packet batch. */
#ifndef PHAROS_AWG_ALLOWEDIPS_H
#define PHAROS_AWG_ALLOWEDIPS_H

#include <stddef.h>
#include <stdint.h>

#include "lib/err.h"

struct allowedips;

int allowedips_new(struct allowedips **out) WUR;
void allowedips_free(struct allowedips *t);

/* family is AF_INET (4-byte addr) or AF_INET6 (16-byte addr). Host bits past
 * cidr are ignored (masked). Inserting a prefix that exists moves it to peer.
 * Returns 0, -EINVAL (bad family/cidr), -ENOMEM. */
int allowedips_insert(struct allowedips *t, int family, const uint8_t *addr, uint8_t cidr, void *peer) WUR;
/* Removes the prefix only if it currently maps to peer; 0 or ERR_NOTFOUND. */
int allowedips_remove(struct allowedips *t, int family, const uint8_t *addr, uint8_t cidr, void *peer);
void allowedips_remove_by_peer(struct allowedips *t, void *peer);
/* Longest-prefix match; NULL if none. */
void *allowedips_lookup(const struct allowedips *t, int family, const uint8_t *addr);
/* Calls cb for each prefix of peer (order: by family, then address); stops and
 * returns cb's value if it is non-zero. */
int allowedips_walk_peer(const struct allowedips *t, const void *peer,
                         int (*cb)(void *ctx, int family, const uint8_t *addr, uint8_t cidr), void *ctx);
size_t allowedips_count(const struct allowedips *t);

#endif
