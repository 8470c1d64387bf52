/* Start-up measurement of the decoy (specs/reality.md §3.7): what a real
 * TLS 1.3 client receives from dest right after its Finished — the
 * encrypted records carrying NewSessionTickets, HTTP/2 SETTINGS and the
 * like — so that our server can send empty records of the same lengths to
 * its own clients (§3.6 "post-handshake imitation").
 *
 * One measurement = one TLS 1.3 connection made with libssl (no certificate
 * check: only the shape matters), with the server name and the ALPN list of
 * one "ALPN class" as Xray defines them: 0 = no ALPN, 1 = "http/1.1", 2 =
 * "h2", "http/1.1". The lengths of the application-data records that arrive
 * within window_ms after the handshake are recorded (header included), at
 * most DEST_PROBE_MAX. This is I/O: it blocks for up to the dial timeout
 * plus window_ms. */
#ifndef PHAROS_REALITY_DEST_PROBE_H
#define PHAROS_REALITY_DEST_PROBE_H

#include <stddef.h>
#include <stdint.h>

#include "lib/addr.h"
#include "lib/err.h"

#define DEST_PROBE_MAX      16
#define DEST_PROBE_CLASSES  3

struct dest_probe_result {
	size_t n;
	uint16_t len[DEST_PROBE_MAX];
};

/* The ALPN class of a ClientHello's ALPN list (first name "h2" -> 2, any
 * other list -> 1, no ALPN -> 0). */
int dest_probe_alpn_class(const uint8_t *first_name, size_t len, int has_alpn);

/* 0 and *out (possibly empty), or a negative errno / ERR_CRYPTO when no
 * TLS 1.3 handshake with dest completed. */
int dest_probe_measure(const union endpoint *dest, const char *server_name, int alpn_class, int timeout_ms,
                       int window_ms, struct dest_probe_result *out) WUR;

#endif
