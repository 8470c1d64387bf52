/* The `pharos-reality server` configuration file (JSON):
 *
 *   {
 *     "listen": "0.0.0.0:443",                 numeric IP:port
 *     "dest": "192.0.2.10:443",                the decoy: IP:port, or name:port (resolved once
 *                                              at start-up, server_io_resolve_dest)
 *     "private_key": "<base64url, 43 chars>",  as `pharos-reality genkey` / `xray x25519` print it
 *     "server_names": ["www.example.com"],     exact SNI values accepted ("" = no SNI)
 *     "short_ids": ["", "0123456789abcdef"],   0..16 hex digits, even count
 *     "users": [{"uuid": "...", "flow": "xtls-rprx-vision", "name": "alice"}],
 *     "min_client_ver": "26.3.27",             optional "x.y.z"
 *     "max_client_ver": "30.0.0",              optional
 *     "max_time_diff_ms": 120000,              optional, 0 = not checked
 *     "dial_timeout_ms": 5000,                 optional
 *     "max_conns": 4096,                       optional
 *     "measure_window_ms": 1000,               optional: watch dest's post-handshake records
 *                                              this long at start-up (0 = off)
 *     "log_level": "info"                      optional: error|warn|info|debug
 *   }
 *
 * Unknown keys are refused, so a typo never silently weakens a check. */
#ifndef PHAROS_REALITY_SERVER_CONF_H
#define PHAROS_REALITY_SERVER_CONF_H

#include <stddef.h>

#include "lib/err.h"
#include "lib/log.h"
#include "reality/server_io.h"

/* Parses text[0..len) into cfg (which it zeroes first; the Ed25519 key is
 * not made here: reality_server_cfg_keys). 0, or -EINVAL with a message in
 * err[0..errlen) that quotes the bad value and says what is valid. */
int server_conf_parse(const char *text, size_t len, struct server_io_cfg *cfg, enum log_level *level, char *err,
                      size_t errlen) WUR;

#endif
