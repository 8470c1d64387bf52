/* UAPI transport for the CLI (specs/awg.md §3.1, §3.2): finds a daemon's
 * unix socket and runs one transaction per connection, as wg does. The text
 * itself is parsed and built by src/awg/uapi_client.c.
 *
 * Sockets are looked for in IPC_AWG_DIR first (amneziawg-go and our daemon),
 * then IPC_WG_DIR (wireguard-go, and our daemon's second socket). Every
 * function returns 0 or a negative errno: -EINVAL for a bad interface name,
 * -ENODEV when no socket exists, the connect(2) error when none accepts,
 * -ETIMEDOUT when the daemon stops answering, -EMSGSIZE past a cap, -EPROTO
 * for a malformed reply, or the daemon's own errno. */
#ifndef PHAROS_AWG_CLI_IPC_H
#define PHAROS_AWG_CLI_IPC_H

#include <stdbool.h>
#include <stddef.h>

#include "lib/err.h"

struct buf;
struct uapi_client_device;

#define IPC_AWG_DIR "/var/run/amneziawg"
#define IPC_WG_DIR "/var/run/wireguard"
#define IPC_TIMEOUT_MS 30000 /* a daemon silent this long is given up on */

/* 1..IFNAMSIZ-1 bytes, no '/', not "." or "..". */
bool ipc_ifname_valid(const char *name);

/* Interfaces whose socket accepts a connection, from both directories,
 * deduplicated and sorted. *names is NULL on entry; free with ipc_list_free. */
int ipc_list_interfaces(char ***names, size_t *count) WUR;
void ipc_list_free(char **names, size_t count);

/* Sends `get=1` and reads the whole reply (up to the empty line that ends it,
 * at most UAPI_CLIENT_MAX_REPLY bytes) into reply, a buf the caller
 * initialised; the reply holds the private key: buf_fini_secret it. */
int ipc_get_text(const char *ifname, struct buf *reply) WUR;

/* ipc_get_text, parsed. *out is NULL on entry and set on success; err gets a
 * message on a malformed reply. */
int ipc_get(const char *ifname, struct uapi_client_device **out, char *err, size_t errlen) WUR;

/* Sends `set=1`, body (key=value lines, each ending in '\n', no empty line)
 * and the empty line that ends the transaction; returns the daemon's errno
 * (0 or negative). */
int ipc_set(const char *ifname, const char *body, size_t len) WUR;

#endif
