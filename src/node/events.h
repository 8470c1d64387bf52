/* Event fan-out for WatchEvents: the engine publishes (from its threads),
 * every subscriber has its own bounded queue and a drop counter, so a slow
 * subscriber loses its own events and never slows the data plane or the
 * others. */
#ifndef PHAROS_NODE_EVENTS_H
#define PHAROS_NODE_EVENTS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lib/addr.h"
#include "lib/err.h"

#define EVENTS_MAX_SUBSCRIBERS 64
#define EVENTS_DEFAULT_QUEUE 4096

enum node_event_type {
	NODE_EV_HANDSHAKE_UP = 1,
	NODE_EV_HANDSHAKE_DOWN,
	NODE_EV_PEER_CONNECTED,
	NODE_EV_PEER_DISCONNECTED,
	NODE_EV_PEER_ROAMED,
	NODE_EV_ERROR,
};

struct node_event {
	enum node_event_type type;
	uint64_t seq;              /* per hub, increasing */
	int64_t unix_ms;           /* when it happened */
	uint8_t public_key[32];
	union endpoint endpoint;   /* source endpoint (family 0: unknown) */
	uint64_t rx_bytes, tx_bytes;
	char message[96];          /* errors */
};

struct events_hub;
struct events_sub;

int events_hub_new(struct events_hub **out) WUR;
void events_hub_free(struct events_hub *h);
/* Any thread. Never blocks on a subscriber. */
void events_publish(struct events_hub *h, const struct node_event *ev);

/* A subscriber with room for `depth` events (0: EVENTS_DEFAULT_QUEUE).
 * ERR_TOOBIG when EVENTS_MAX_SUBSCRIBERS are already subscribed. */
int events_subscribe(struct events_hub *h, size_t depth, struct events_sub **out) WUR;
void events_unsubscribe(struct events_hub *h, struct events_sub *s);
/* Takes up to max queued events into out; waits up to timeout_ms (0: no wait,
 * -1: forever) for the first. Returns the count, or 0 on timeout or close. */
size_t events_take(struct events_sub *s, struct node_event *out, size_t max, int timeout_ms);
/* Events this subscriber lost to a full queue. */
uint64_t events_dropped(const struct events_sub *s);
/* Wakes a waiting events_take for good (the stream is ending). */
void events_close(struct events_sub *s);

#endif
