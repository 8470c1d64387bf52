/* Device internals shared by device.c, peer.c, send.c, receive.c, timers.c,
 * uapi.c, udp.c and tun.c. Not part of the engine's API. */
#ifndef PHAROS_AWG_DEVPRIV_H
#define PHAROS_AWG_DEVPRIV_H

#include "awg/device.h"

#include <sys/socket.h>
#include <sys/uio.h>

#define DEV_MAX_SOCKS 2048           /* listen sockets: 2 per port, up to 1024 ports */
#define DEV_BATCH 64                 /* datagrams per recvmmsg/sendmmsg */
#define DEV_BUF_SIZE 65664           /* one datagram or TUN super-packet + headroom */
#define DEV_HS_QUEUE 4096            /* handshake messages waiting for the control thread */
#define DEV_HS_RESERVED 64          /* kept for answers to our own initiations */
#define DEV_UNDER_LOAD_QUEUE 128     /* queue length from which we demand cookies */
#define DEV_TICK_NS (100 * NSEC_PER_MSEC)
#define DEV_ATTN_QUEUE 256           /* idle peers woken between two ticks (more: a full walk) */
#define DEV_FULL_TICK_NS (10 * NSEC_PER_SEC) /* a walk over every peer anyway, as a safety net */
#define DEV_INDEX_BUCKETS (1U << 16)

/* Index table entry: a local index belongs to a peer's pending handshake or to
 * one of its keypairs. */
struct index_entry {
	uint32_t index;
	struct peer *peer;
	struct keypair *keypair; /* NULL: the peer's handshake */
	struct index_entry *next;
};

struct staged_packet {
	uint16_t len;
	uint8_t data[];
};

struct peer {
	struct device *dev;
	struct peer *hash_next;      /* dev->peers_by_key chain */
	struct peer *list_next, *list_prev;
	uint8_t public_key[NOISE_PUBLIC_KEY_LEN];
	/* Written only under the dev write lock: by UAPI set, and by the control
	 * thread's handshakes, which fill its static DH cache on first use. UAPI
	 * get reads its psk under the read lock; the data threads never touch it. */
	struct noise_peer_keys nkeys;
	struct noise_handshake hs;    /* control thread only */
	struct cookie_state cookie;   /* control thread only */

	pthread_mutex_t lock;        /* keypair slots, endpoint, staged queue */
	struct keypair *kp_prev, *kp_cur, *kp_next;
	struct peer_endpoint ep;
	bool has_endpoint;
	struct staged_packet **staged; /* ring of MAX_STAGED_PACKETS, allocated on first use */
	unsigned staged_head, staged_count;

	uint16_t persistent_keepalive; /* seconds, 0 = off */
	_Atomic uint64_t rx_bytes, tx_bytes;
	_Atomic int64_t last_handshake_sec, last_handshake_nsec; /* wall clock */

	/* Facts for the timers (monotonic ns, 0 = never). Data threads store,
	 * timers.c decides. */
	_Atomic uint64_t t_data_sent, t_data_received;
	_Atomic uint64_t t_auth_sent, t_auth_received;
	_Atomic uint64_t t_session_derived;
	_Atomic bool want_handshake;     /* data threads ask the control thread to initiate */
	_Atomic bool want_flush;         /* rx thread: keys confirmed, send staged packets */
	/* Control-thread-only timer state. */
	uint64_t t_initiation_sent;      /* last initiation we sent */
	uint64_t retransmit_at;          /* 0 = no handshake in flight */
	unsigned handshake_attempts;
	/* The first data received since we last sent anything, and the first
	 * data sent since we last received anything, as the tick saw them
	 * (0 = none): the passive keepalive and "stopped hearing back" count
	 * from these, not from the latest packet, or a steady one-way stream
	 * would postpone them for ever. */
	uint64_t t_unanswered_recv;
	uint64_t t_unanswered_sent;
	uint64_t t_persistent_sent;
	bool expired_reported;
	bool connected_reported;
	/* The timer walk visits only peers that may have something to do
	 * (timers.c): those on dev->tick_list (control thread, write lock). A
	 * data thread that gives an idle peer work queues it on dev->attn. */
	struct peer *tick_next, *tick_prev;
	bool ticking;
	bool attn_queued;                /* dev->attn_lock */
};

struct hs_item {
	uint16_t len;
	uint8_t type;
	int sock;
	union endpoint src;
	struct addr local;
	uint8_t data[sizeof(struct msg_initiation) + 16];
};

struct sock_info {
	int fd;
	int family;
	uint16_t port;
	bool gso;
};

struct device {
	struct device_options opts;
	char ifname[16];
	uint32_t mtu;
	double timer_scale;

	pthread_rwlock_t lock;
	struct noise_identity id;      /* write lock */
	struct cookie_checker cookies; /* control thread */
	struct obf_params obf;         /* write lock */
	uint16_t listen_port;
	uint16_t listen_port_hi;       /* extension: receive on listen_port..listen_port_hi */
	uint32_t fwmark;

	struct peer **peers_by_key;    /* hash buckets */
	size_t peer_buckets;
	struct peer *peer_list;
	size_t npeers;
	struct peer *tick_list;        /* peers the timers visit (write lock) */
	bool tick_all;                 /* write lock: visit every peer on the next tick */
	uint64_t next_full_tick;       /* control thread: the periodic full walk */
	pthread_mutex_t attn_lock;     /* data threads -> control thread: idle peers given work */
	struct peer *attn[DEV_ATTN_QUEUE];
	unsigned attn_n;
	bool attn_overflow;
	struct allowedips *aips;
	struct index_entry **index;    /* DEV_INDEX_BUCKETS */
	size_t nindex;

	struct sock_info socks[DEV_MAX_SOCKS];
	int nsocks;
	int rx_epoll;                  /* sockets, rebuilt when they change */

	int tun_fd;
	bool tun_vnet;                 /* reads/writes carry a virtio_net_hdr (TSO/GRO) */
	bool tun_uso;                  /* the kernel also takes UDP super-packets */

	/* Handshake queue (rx thread -> control thread). */
	pthread_mutex_t hs_lock;
	struct hs_item *hs_queue;      /* ring of DEV_HS_QUEUE */
	unsigned hs_head, hs_count;
	_Atomic uint64_t hs_dropped;
	uint64_t under_load_until;
	struct ratelimit *ratelimit;   /* per-source handshakes under load (control thread) */

	int ctl_epoll;
	int wake_fd;                   /* eventfd: wakes the control thread */
	int stop_fd;                   /* eventfd: stop request */
	int uapi_fds[4];
	char *uapi_paths[4];
	int nuapi;

	pthread_t tx_thread, rx_thread, ctl_thread;
	struct workers *tx_workers, *rx_workers; /* crypto pools owned by the tx and rx threads */
	bool threads_started;
	_Atomic bool stopping;
	_Atomic bool scan_requested;   /* some peer has a want_* flag set */
	_Atomic bool gso_ok;          /* UDP GSO works on this path (cleared on EIO) */

	device_event_fn event_fn;
	void *event_ctx;
	device_forward_fn forward_fn;
	void *forward_ctx;

	_Atomic uint64_t drops_no_peer, drops_bad_packet, drops_replay, drops_no_key, drops_staged;
};

/* Monotonic clock in ns; wall clock split. */
uint64_t dev_now(void);
void dev_wallclock(int64_t *sec, int64_t *nsec);
uint64_t dev_scaled(const struct device *dev, uint64_t ns);

/* peer.c — all need the write lock unless stated. */
struct peer *peer_lookup(struct device *dev, const uint8_t pub[NOISE_PUBLIC_KEY_LEN]);
int peer_create(struct device *dev, const uint8_t pub[NOISE_PUBLIC_KEY_LEN], struct peer **out) WUR;
void peer_remove(struct device *dev, struct peer *peer);
void peer_remove_all(struct device *dev);
/* Installs a freshly derived keypair: initiator -> current, responder -> next. */
int peer_install_keypair(struct device *dev, struct peer *peer, const struct noise_keys *keys, uint64_t now) WUR;
/* Zeroes every keypair and the handshake (after silence or key change). */
void peer_zero_keys(struct device *dev, struct peer *peer);
void peer_clear_staged(struct peer *peer);
void peer_set_endpoint(struct peer *peer, const union endpoint *remote, const struct addr *local, int sock);
bool peer_get_endpoint(struct peer *peer, struct peer_endpoint *out);

/* index table (peer.c), write lock for changes, read lock for lookup */
int index_add(struct device *dev, struct peer *peer, struct keypair *kp, uint32_t *out_index) WUR;
void index_remove(struct device *dev, uint32_t index);
struct index_entry *index_lookup(struct device *dev, uint32_t index);

/* send.c */
void send_handshake_initiation(struct device *dev, struct peer *peer, uint64_t now);
void send_handshake_response(struct device *dev, struct peer *peer, uint64_t now);
void send_cookie_reply(struct device *dev, const struct hs_item *it, uint32_t sender_index, uint64_t now);
void send_keepalive(struct device *dev, struct peer *peer, uint64_t now);
void send_staged(struct device *dev, struct peer *peer, uint64_t now);
void *tx_thread_main(void *arg);
/* Encrypts and sends n inner packets to one peer (caller holds read lock). */
struct workers;
int send_packets(struct device *dev, struct peer *peer, struct iovec *pkts, unsigned n, uint64_t now,
                 struct workers *w);
int udp_send_raw(struct device *dev, const struct peer_endpoint *ep, const struct iovec *dgrams, unsigned n,
                 uint16_t gso_size);

/* receive.c */
void *rx_thread_main(void *arg);
void handshake_process(struct device *dev, struct hs_item *it, uint64_t now, bool under_load);

/* timers.c: evaluated on the control thread every tick and on wake-ups.
 * timers_tick visits the peers on the tick list (all of them when `all`, or
 * when the periodic full walk is due) and drops those left with nothing to
 * do. Write lock held. */
void timers_tick(struct device *dev, uint64_t now, bool all);
/* Puts a peer on the tick list (write lock). */
void timers_activate(struct device *dev, struct peer *peer);
/* Takes a peer off the tick list and the attention queue before it is
 * freed (write lock). */
void timers_forget(struct device *dev, struct peer *peer);
/* A data thread gave the peer work (a want_* flag, staged packets): the
 * next tick visits it. Caller holds the device lock, read or write. */
void dev_attention(struct device *dev, struct peer *peer);
void timers_handshake_complete(struct device *dev, struct peer *peer, uint64_t now);

/* udp.c */
int udp_rebind(struct device *dev, uint16_t port, uint16_t port_hi) WUR;
void udp_close_all(struct device *dev);

/* tun.c */
int tun_open(const char *ifname, char *actual, size_t cap, bool *vnet, bool *uso) WUR;
int tun_set_mtu(const char *ifname, uint32_t mtu) WUR;

/* uapi.c */
int uapi_handle(struct device *dev, const char *req, size_t len, char **reply, size_t *reply_len) WUR;

void dev_emit(struct device *dev, enum device_event_type type, struct peer *peer);
void dev_wake(struct device *dev);

#endif
