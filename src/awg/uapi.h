/* UAPI set transactions, parsed before they are applied (see uapi.c). */
#ifndef PHAROS_AWG_UAPI_H
#define PHAROS_AWG_UAPI_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "awg/obf.h"
#include "lib/addr.h"
#include "lib/err.h"

struct uapi_aip {
	struct cidr cidr;
	bool remove; /* "allowed_ip=-CIDR" */
};

struct uapi_peer_op {
	uint8_t public_key[32];
	bool remove, update_only, replace_aips;
	bool has_psk, has_endpoint;
	uint8_t psk[32];
	union endpoint endpoint;
	int keepalive; /* -1: unchanged */
	struct uapi_aip *aips;
	size_t naips, aips_cap;
};

struct uapi_set {
	bool has_private_key;
	uint8_t private_key[32];
	bool has_port;
	uint16_t port, port_hi;
	bool has_fwmark;
	uint32_t fwmark;
	bool replace_peers;
	bool obf_changed;
	struct obf_params obf;
	struct uapi_peer_op *peers;
	size_t npeers, cap;
};

void uapi_set_init(struct uapi_set *tx);
/* Frees and wipes (the transaction may hold private and preshared keys). */
void uapi_set_fini(struct uapi_set *tx);
/* Parses the lines after "set=1" (up to the empty line or len). Returns 0,
 * -EPROTO (a line without '='), -EINVAL with a message in err naming the key,
 * ERR_TOOBIG or -ENOMEM. Nothing outside tx is touched. */
int uapi_parse_set(struct uapi_set *tx, const char *body, size_t len, const struct obf_params *current,
                   char *err, size_t errlen) WUR;

#endif
