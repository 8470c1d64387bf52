/* The node's own AmneziaWG identity: its private key and its obfuscation set,
 * generated on first run and kept in the config directory (0600), reported
 * by GetStatus. Every node has its own set, never a fleet-wide one. */
#ifndef PHAROS_NODE_IDENTITY_H
#define PHAROS_NODE_IDENTITY_H

#include <stdbool.h>
#include <stdint.h>

#include "awg/obf.h"
#include "lib/err.h"

struct node_identity {
	uint8_t awg_private[32];
	uint8_t awg_public[32];
	struct obf_params obf;
};

/* Loads DIR/awg.key and DIR/awg-obf.conf, creating them when absent. *created
 * says whether this run made them. A present but invalid file is an error
 * (never silently replaced: clients hold the old values). */
int node_identity_load_or_create(const char *dir, struct node_identity *id, bool *created) WUR;
/* A random set in the ranges of the reference platform (specs/platform.md
 * §6.1) with single header values (so AmneziaWG 1.0, 1.5 and 2.0 clients all
 * work), S4 kept at most 48 so a full 1420-byte packet stays within 1500, and
 * every rule of obf_params_validate. */
int node_identity_generate_obf(struct obf_params *p) WUR;
void node_identity_fini(struct node_identity *id);

#endif
