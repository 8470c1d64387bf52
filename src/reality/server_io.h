/* The thin I/O layer around reality_server's state machine: a listening
 * TCP socket, one thread per connection (poll(2) over the client, dest and
 * target sockets), blocking writes of what the machine queued, and the
 * plain byte pipe for connections that are not ours (specs/reality.md §3.1,
 * §3.3, §3.6).
 *
 * Per connection: accept, dial dest at once (failure closes the client),
 * feed bytes both ways; RELAY becomes a copy loop with half-close (FIN one
 * way is shutdown(SHUT_WR) the other way); once our flight is out dest is
 * closed when the handshake completes, and if dest closes first the client
 * is closed too (dest's handshake timeout mirrored); VLESS asks for the
 * target, which is dialled here (numeric address or name). */
#ifndef PHAROS_REALITY_SERVER_IO_H
#define PHAROS_REALITY_SERVER_IO_H

#include <signal.h>

#include "lib/addr.h"
#include "lib/err.h"
#include "reality/reality_server.h"

struct server_io_cfg {
	union endpoint listen;
	union endpoint dest;
	char dest_host[256];       /* dest given by name: resolved at start-up */
	uint16_t dest_port;
	int dial_timeout_ms;       /* dest and target connects */
	unsigned max_conns;        /* connections served at once; more wait in the backlog */
	int measure_window_ms;     /* dest's post-handshake records: how long to watch; 0 = off */
	struct reality_server_cfg core;
};

/* Serves until *stop becomes non-zero (checked at least every 500 ms),
 * then waits up to 2 s for open connections to end. 0; -EBUSY when some
 * are still open (their threads still read cfg: the caller must exit the
 * process without freeing it); or a negative errno when the listening
 * socket cannot be set up. */
int server_io_run(const struct server_io_cfg *cfg, volatile sig_atomic_t *stop) WUR;

/* Measures dest once per server name and ALPN class (dest_probe.h) into
 * cfg->core.post_hs, logging what it found. A failed measurement leaves an
 * empty list (nothing is imitated), as upstream does. */
void server_io_measure_dest(struct server_io_cfg *cfg);

/* When dest was given by name, resolves it (getaddrinfo, first address)
 * into cfg->dest. 0, or -EHOSTUNREACH. */
int server_io_resolve_dest(struct server_io_cfg *cfg) WUR;

#endif
