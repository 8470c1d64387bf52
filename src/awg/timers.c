/* WireGuard's timers (specs/awg.md §1.7), decided in one place. The data
 * threads only record facts (t_data_sent, t_auth_received, ...) with relaxed
 * stores; this file runs on the control thread, on every tick (100 ms) and on
 * wake-ups, and turns the facts into actions. Because every rule compares
 * timestamps, no per-packet timer arming is needed on the data path.
 * A node has thousands of peers and most of them idle, so a tick visits only
 * the peers on the tick list: a peer joins it when configured, when a
 * handshake gives it keys, or when a data thread calls dev_attention, and
 * leaves it once peer_idle holds; every peer is visited every
 * DEV_FULL_TICK_NS anyway.
 * Durations are multiplied by dev->timer_scale (tests shrink them). */
#include "awg/devpriv.h"

#include <sodium.h>
#include <string.h>

#include "lib/log.h"

static uint64_t jitter(void)
{
	return randombytes_uniform((uint32_t)(REKEY_TIMEOUT_JITTER_MAX_NS / NSEC_PER_MSEC)) * NSEC_PER_MSEC;
}

static uint64_t ld(_Atomic uint64_t *t)
{
	return atomic_load_explicit(t, memory_order_relaxed);
}

static void start_handshake(struct device *dev, struct peer *p, uint64_t now, bool retry)
{
	if (!retry)
		p->handshake_attempts = 0;
	send_handshake_initiation(dev, p, now);
	p->retransmit_at = now + dev_scaled(dev, REKEY_TIMEOUT_NS) + jitter();
}

void timers_handshake_complete(struct device *dev, struct peer *p, uint64_t now)
{
	int64_t sec, nsec;
	p->retransmit_at = 0;
	p->handshake_attempts = 0;
	p->expired_reported = false;
	dev_wallclock(&sec, &nsec);
	atomic_store(&p->last_handshake_sec, sec);
	atomic_store(&p->last_handshake_nsec, nsec);
}

static bool has_usable_key(struct peer *p, uint64_t now)
{
	pthread_mutex_lock(&p->lock);
	bool ok = p->kp_cur && now - p->kp_cur->birth_ns < REJECT_AFTER_TIME_NS;
	pthread_mutex_unlock(&p->lock);
	return ok;
}

static bool awaiting_confirmation(struct peer *p, uint64_t now, uint64_t window)
{
	pthread_mutex_lock(&p->lock);
	bool waiting = p->kp_next && now - p->kp_next->birth_ns < window;
	pthread_mutex_unlock(&p->lock);
	return waiting;
}

/* Runs every rule for one peer. Write lock held. */
static void peer_tick(struct device *dev, struct peer *p, uint64_t now)
{
	const uint64_t rekey_timeout = dev_scaled(dev, REKEY_TIMEOUT_NS);
	const uint64_t keepalive = dev_scaled(dev, KEEPALIVE_TIMEOUT_NS);
	uint64_t data_sent = ld(&p->t_data_sent), data_recv = ld(&p->t_data_received);
	uint64_t auth_sent = ld(&p->t_auth_sent), auth_recv = ld(&p->t_auth_received);

	/* Keys confirmed by the peer's first packet (we were the responder). */
	if (atomic_exchange(&p->want_flush, false)) {
		if (p->hs.state == NOISE_HS_ZEROED)
			timers_handshake_complete(dev, p, now);
		if (p->staged_count)
			send_staged(dev, p, now);
	} else if (p->staged_count && has_usable_key(p, now)) {
		/* Staged packets and usable keys: nothing else will send them. */
		send_staged(dev, p, now);
	}

	/* Retransmit an unanswered initiation, give up after 18 tries. */
	if (p->retransmit_at && now >= p->retransmit_at) {
		if (p->handshake_attempts >= MAX_TIMER_HANDSHAKES) {
			log_debug("handshake did not complete after %u attempts, giving up", p->handshake_attempts + 1);
			p->retransmit_at = 0;
			peer_clear_staged(p);
			atomic_store(&p->want_handshake, false);
		} else {
			p->handshake_attempts++;
			start_handshake(dev, p, now, true);
		}
	}

	/* Sending wants keys (none, expiring, or too many messages), unless we
	 * just answered the peer's handshake and wait for its first packet to
	 * confirm those keys: starting our own now would only race it
	 * (wireguard-go waits REKEY_TIMEOUT too). */
	if (atomic_load(&p->want_handshake) && !awaiting_confirmation(p, now, rekey_timeout)) {
		if (!p->retransmit_at && (!p->t_initiation_sent || now - p->t_initiation_sent >= rekey_timeout)) {
			atomic_store(&p->want_handshake, false);
			start_handshake(dev, p, now, false);
		} else if (p->retransmit_at) {
			atomic_store(&p->want_handshake, false); /* one is in flight already */
		}
	}

	/* wireguard-go arms these two timers on the first packet of a silence
	 * and leaves them alone on later ones; the tick sees only the latest
	 * timestamps, so it remembers the first one it saw (up to one tick
	 * late). Counting from the latest packet instead would never fire while
	 * a stream flows one way. */
	if (data_recv > auth_sent) {
		if (p->t_unanswered_recv <= auth_sent)
			p->t_unanswered_recv = data_recv;
	} else {
		p->t_unanswered_recv = 0;
	}
	if (data_sent > auth_recv) {
		if (p->t_unanswered_sent <= auth_recv)
			p->t_unanswered_sent = data_sent;
	} else {
		p->t_unanswered_sent = 0;
	}

	/* Passive keepalive: data received and nothing sent back for 10 s. */
	if (p->t_unanswered_recv && now - p->t_unanswered_recv >= keepalive && has_usable_key(p, now)) {
		p->t_unanswered_recv = 0;
		send_keepalive(dev, p, now);
	}

	/* Stopped hearing back: nothing authenticated received for 10 + 5 s
	 * after we sent data: start a new handshake. Re-armed by the next data
	 * we send while the silence lasts. */
	if (p->t_unanswered_sent && now - p->t_unanswered_sent >= keepalive + rekey_timeout && !p->retransmit_at) {
		log_debug("no reply for %llu ms after sending data, new handshake",
		          (unsigned long long)((now - p->t_unanswered_sent) / NSEC_PER_MSEC));
		p->t_unanswered_sent = 0;
		pthread_mutex_lock(&p->lock);
		memset(&p->ep.local, 0, sizeof(p->ep.local)); /* forget the sticky source */
		pthread_mutex_unlock(&p->lock);
		start_handshake(dev, p, now, false);
	}

	/* Persistent keepalive: every N s of silence in both directions. */
	if (p->persistent_keepalive && p->has_endpoint) {
		uint64_t last = auth_sent > auth_recv ? auth_sent : auth_recv;
		uint64_t pk = dev_scaled(dev, (uint64_t)p->persistent_keepalive * NSEC_PER_SEC);
		if (now - last >= pk)
			send_keepalive(dev, p, now);
	}

	uint64_t derived = ld(&p->t_session_derived);
	/* The peer is gone: no new session within REJECT_AFTER_TIME of the last. */
	if (p->connected_reported && derived && now - derived >= dev_scaled(dev, REJECT_AFTER_TIME_NS)) {
		p->connected_reported = false;
		dev_emit(dev, DEV_EVENT_SESSION_DOWN, p);
	}

	/* Zero all keys after 3 x 180 s without a new session. */
	if (derived && now - derived >= dev_scaled(dev, ZERO_KEYS_AFTER_NS) && !p->expired_reported) {
		peer_zero_keys(dev, p);
		p->expired_reported = true;
		atomic_store(&p->t_session_derived, 0);
		dev_emit(dev, DEV_EVENT_SESSION_EXPIRED, p);
	}
}

void timers_activate(struct device *dev, struct peer *p)
{
	if (p->ticking)
		return;
	p->ticking = true;
	p->tick_prev = NULL;
	p->tick_next = dev->tick_list;
	if (dev->tick_list)
		dev->tick_list->tick_prev = p;
	dev->tick_list = p;
}

static void deactivate(struct device *dev, struct peer *p)
{
	if (!p->ticking)
		return;
	if (p->tick_prev)
		p->tick_prev->tick_next = p->tick_next;
	else
		dev->tick_list = p->tick_next;
	if (p->tick_next)
		p->tick_next->tick_prev = p->tick_prev;
	p->tick_next = p->tick_prev = NULL;
	p->ticking = false;
}

void timers_forget(struct device *dev, struct peer *p)
{
	deactivate(dev, p);
	pthread_mutex_lock(&dev->attn_lock);
	if (p->attn_queued) {
		for (unsigned i = 0; i < dev->attn_n; i++)
			if (dev->attn[i] == p) {
				dev->attn[i] = dev->attn[--dev->attn_n];
				break;
			}
		p->attn_queued = false;
	}
	pthread_mutex_unlock(&dev->attn_lock);
}

void dev_attention(struct device *dev, struct peer *p)
{
	pthread_mutex_lock(&dev->attn_lock);
	if (!p->attn_queued) {
		if (dev->attn_n < DEV_ATTN_QUEUE) {
			dev->attn[dev->attn_n++] = p;
			p->attn_queued = true;
		} else {
			dev->attn_overflow = true;
		}
	}
	pthread_mutex_unlock(&dev->attn_lock);
}

/* Nothing for peer_tick to do now, and nothing will be until a handshake,
 * a UAPI change or a data thread's dev_attention puts it back: no session
 * (or its keys already zeroed), no handshake in flight, no flags, nothing
 * staged, no silence being timed, no persistent keepalive. Sessions keep a
 * peer listed until their keys are zeroed (3 x REJECT_AFTER_TIME). */
static bool peer_idle(struct peer *p)
{
	if (atomic_load(&p->want_flush) || atomic_load(&p->want_handshake) || p->retransmit_at ||
	    p->t_unanswered_recv || p->t_unanswered_sent || ld(&p->t_session_derived) ||
	    (p->persistent_keepalive && p->has_endpoint))
		return false;
	if (ld(&p->t_data_received) > ld(&p->t_auth_sent) || ld(&p->t_data_sent) > ld(&p->t_auth_received))
		return false;
	pthread_mutex_lock(&p->lock);
	bool staged = p->staged_count != 0;
	pthread_mutex_unlock(&p->lock);
	return !staged;
}

void timers_tick(struct device *dev, uint64_t now, bool all)
{
	/* Before reading any flag: a data thread sets its flag first and
	 * queues the peer second, so a peer dropped below with a flag set a
	 * moment later is back on the queue for the next tick. */
	pthread_mutex_lock(&dev->attn_lock);
	for (unsigned i = 0; i < dev->attn_n; i++) {
		dev->attn[i]->attn_queued = false;
		timers_activate(dev, dev->attn[i]);
	}
	dev->attn_n = 0;
	if (dev->attn_overflow)
		all = true;
	dev->attn_overflow = false;
	pthread_mutex_unlock(&dev->attn_lock);
	if (dev->tick_all || now >= dev->next_full_tick)
		all = true;
	if (all) {
		dev->tick_all = false;
		dev->next_full_tick = now + DEV_FULL_TICK_NS;
		for (struct peer *p = dev->peer_list; p; p = p->list_next)
			timers_activate(dev, p);
	}
	for (struct peer *p = dev->tick_list, *next; p; p = next) {
		next = p->tick_next;
		peer_tick(dev, p, now);
		if (peer_idle(p))
			deactivate(dev, p);
	}
}
