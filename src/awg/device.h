/* The AmneziaWG device: identity, peers, keypairs, sockets and TUN, and the
 * three threads that move packets (see DESIGN.md "Engine threads"):
 *   tx thread      TUN -> lookup peer -> encrypt -> UDP   (data path)
 *   rx thread      UDP -> classify -> decrypt -> TUN      (data path)
 *   control thread handshakes, cookies, timers, UAPI       (everything else)
 * Data threads hold dev->lock for reading once per batch; the control thread
 * takes it for writing to change peers, keys, allowed IPs or sockets. */
#ifndef PHAROS_AWG_DEVICE_H
#define PHAROS_AWG_DEVICE_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "awg/cookie.h"
#include "awg/noise.h"
#include "awg/obf.h"
#include "awg/replay.h"
#include "lib/addr.h"
#include "lib/err.h"

struct allowedips;
struct device;
struct peer;

/* Where a peer is, and which of our sockets/addresses it last talked to. */
struct peer_endpoint {
	union endpoint remote;
	struct addr local;   /* our address the peer used (family 0: let the kernel pick) */
	int sock;            /* index into dev->socks, -1 when unknown */
};

struct keypair {
	struct noise_keys keys;
	_Atomic uint64_t send_counter;
	struct replay_window replay; /* rx thread only */
	uint64_t birth_ns;
	struct peer *peer;
	bool confirmed; /* initiator keys, or responder keys after their first packet (rx thread) */
};

/* Events the engine reports (node agent turns them into WatchEvents). */
enum device_event_type {
	/* A handshake completed on our side: as initiator we consumed the
	 * response; as responder we sent one. The responder's session is
	 * confirmed only by the initiator's first packet, so it reports this
	 * even when the initiator then cannot open the response (a preshared
	 * key mismatch reports one HANDSHAKE per initiation answered). */
	DEV_EVENT_HANDSHAKE = 1,
	DEV_EVENT_ENDPOINT,       /* first contact or roamed to a new source endpoint */
	DEV_EVENT_SESSION_EXPIRED,/* all keys zeroed after silence */
	DEV_EVENT_SESSION_DOWN,   /* no session for REJECT_AFTER_TIME: the peer is gone */
};
struct device_event {
	enum device_event_type type;
	bool connected;  /* HANDSHAKE: the first session since the peer was down (or ever) */
	uint8_t public_key[NOISE_PUBLIC_KEY_LEN];
	union endpoint endpoint;
	uint64_t rx_bytes, tx_bytes;
};
typedef void (*device_event_fn)(void *ctx, const struct device_event *ev);

/* Forwarding hook for in-process cascades: called on the rx thread with a
 * decrypted, validated inner packet from `from`. Return true when consumed
 * (handed to another peer/engine); false to write it to the TUN device. */
typedef bool (*device_forward_fn)(void *ctx, struct device *dev, struct peer *from, uint8_t *pkt, size_t len);

struct peer_config {
	uint8_t public_key[NOISE_PUBLIC_KEY_LEN];
	bool has_psk;
	uint8_t psk[NOISE_SYMMETRIC_KEY_LEN];
	bool has_endpoint;
	union endpoint endpoint;
	int persistent_keepalive; /* -1: unchanged */
};

/* Opens a bound UDP socket for the device (privilege separation: a helper
 * with CAP_NET_BIND_SERVICE binds ports below 1024). Returns the fd
 * (non-blocking, close-on-exec) and the bound port, or a negative errno. */
typedef int (*device_udp_open_fn)(void *ctx, int family, uint16_t port, uint16_t *bound_port);

struct device_options {
	const char *ifname;
	int tun_fd;        /* -1: open /dev/net/tun ourselves; else ours to use, the caller's to close */
	bool tun_vnet;     /* tun_fd >= 0: it was opened with IFF_VNET_HDR (device_tun_open says) */
	bool tun_uso;      /* tun_fd >= 0: the kernel also takes UDP super-packets */
	device_udp_open_fn udp_open; /* NULL: device_udp_socket() in this process */
	void *udp_open_ctx;
	bool no_tun;       /* tests and benchmarks: no TUN device, packets go to forward hook */
	uint32_t mtu;      /* 0: default 1420 */
	/* Test knobs: multiply all protocol timeouts (e.g. 0.1 for fast tests). */
	double timer_scale;
};

int device_new(struct device **out, const struct device_options *opts) WUR;
/* Opens the TUN device the way device_new does (offloads unless
 * PHAROS_AWG_NO_OFFLOAD is set, MTU set, 0: 1420), for a caller that opens
 * it once with privileges and hands the fd to device_new (tun_fd, tun_vnet,
 * tun_uso). Returns the fd or a negative errno; `actual` gets the name. */
int device_tun_open(const char *ifname, uint32_t mtu, char *actual, size_t cap, bool *vnet, bool *uso) WUR;
/* A UDP socket as the device binds it (packet info, buffers, GRO, v6only),
 * on `port` (0: kernel-chosen). Returns the fd or a negative errno. */
int device_udp_socket(int family, uint16_t port, uint32_t fwmark, uint16_t *bound_port) WUR;
/* Starts the data and control threads. */
int device_start(struct device *dev) WUR;
/* Stops threads, closes sockets and TUN, wipes keys. NULL is a no-op. */
void device_free(struct device *dev);
/* Requests shutdown from any thread or a signal handler (async-signal-safe). */
void device_request_stop(struct device *dev);
/* True once a stop was requested or a thread stopped on its own. */
bool device_stopped(const struct device *dev);
/* Blocks until stopped (by device_request_stop or TUN removal). */
void device_wait(struct device *dev);
const char *device_ifname(const struct device *dev);

void device_set_event_handler(struct device *dev, device_event_fn fn, void *ctx);
void device_set_forward_hook(struct device *dev, device_forward_fn fn, void *ctx);

/* UAPI: serve one connection's worth of requests on fd (blocking, called on the
 * control thread by the UAPI listener). Exposed for the daemon and tests. */
int device_uapi_serve_fd(struct device *dev, int fd);
/* Run a UAPI request given as text; reply written to out (NUL-terminated).
 * Used by tests and the node agent in-process. */
int device_uapi_request(struct device *dev, const char *req, size_t req_len, char **reply, size_t *reply_len) WUR;
/* Adds a UAPI listening socket path (e.g. /var/run/wireguard/wg0.sock). */
int device_uapi_listen(struct device *dev, const char *path) WUR;

/* Sends one inner IP packet to a peer as if it came from the TUN (used by the
 * forwarding hook and tests). Called from any thread holding no device lock. */
int device_send_to_peer(struct device *dev, struct peer *peer, const uint8_t *pkt, size_t len) WUR;
/* The configured peer with this public key, or NULL. Takes the read lock. The
 * pointer stays valid only until the peer is removed (UAPI remove=true,
 * replace_peers, or our own key set to the peer's): callers that keep it must
 * not race with such a removal. */
struct peer *device_peer_get(struct device *dev, const uint8_t pubkey[NOISE_PUBLIC_KEY_LEN]);

/* What a health check needs without a full `get=1` dump: peer count,
 * whether a UDP socket is bound, how many peers completed a handshake in the
 * last `window_sec` seconds, and the newest handshake (wall clock, 0: none).
 * One walk under the read lock, no allocation. */
struct device_summary {
	size_t peers;
	bool listening;
	uint16_t listen_port;
	size_t recent_handshakes;
	int64_t newest_handshake_sec;
};
void device_get_summary(struct device *dev, int64_t now_sec, int64_t window_sec, struct device_summary *out);

/* Test and fuzzing entry points: feed one received datagram as if it arrived
 * on our first socket from src (the buffer is modified in place), and run the
 * control thread's handshake processing synchronously (for a device whose
 * threads were not started). */
void device_inject_datagram(struct device *dev, uint8_t *data, size_t len, const union endpoint *src);
void device_process_pending(struct device *dev);

#endif
