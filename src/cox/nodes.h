/* Node helpers shared by the cox commands and the controller loop. */
#ifndef PHAROS_COX_NODES_H
#define PHAROS_COX_NODES_H

#include "cox/cox.h"

struct sshc;
struct sshc_key;
struct store_node;

int cox_ssh_key_load(struct cox *c, struct sshc_key **key) WUR;
/* Connects over SSH with the node's pinned host key; a changed key is
 * refused with both fingerprints in the message. */
int cox_node_ssh(struct cox *c, const struct store_node *n, struct sshc **out) WUR;
/* Sends the node's recorded policy with SetNetworkConfig. */
int cox_node_apply_policy(struct cox *c, const struct store_node *n, char *err, size_t errlen) WUR;

#endif
