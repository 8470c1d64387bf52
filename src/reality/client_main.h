/* `pharos-reality client`: a local SOCKS5 (CONNECT and UDP ASSOCIATE) and
 * HTTP CONNECT proxy on loopback whose every accepted connection is carried
 * to a VLESS server over REALITY (reality_client.h), with XTLS Vision framing
 * when the flow says so (vision.h); a UDP association is one VLESS Mux
 * connection speaking XUDP (xudp.h). One thread per connection; the protocol
 * cores do the work, this layer only moves bytes.
 *
 *   pharos-reality client (--config FILE | --link 'vless://...')
 *                         [--listen 127.0.0.1:1080]
 *
 * The config file is JSON: {"link": "vless://..."} or the link's parts
 * {"server": "HOST:PORT", "id": ..., "public_key": ..., "server_name": ...,
 * "short_id": ..., "flow": ...}, and optionally "listen". --listen wins over
 * the file. The listen address must be a loopback address (the proxy has no
 * authentication).
 *
 * A server that answers with any certificate but the REALITY one (it fell
 * back to its decoy, or the path is intercepted) gets no proxy data: the
 * handshake is completed and closed politely, and the local client gets a
 * failure reply (SOCKS5 reply 0x05 "connection refused", HTTP 502). */
#ifndef PHAROS_REALITY_CLIENT_MAIN_H
#define PHAROS_REALITY_CLIENT_MAIN_H

/* argv[0] is "client". Returns the process exit status. */
int reality_client_main(int argc, char **argv);

#endif
