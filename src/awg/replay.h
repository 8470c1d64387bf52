/* Anti-replay sliding window for transport counters (specs/awg.md §1.8,
 * RFC 6479 style): 8192-bit ring, 8128 usable. Not thread-safe: each keypair's
 * window is touched only by its peer's sequential receive stage. */
#ifndef PHAROS_AWG_REPLAY_H
#define PHAROS_AWG_REPLAY_H

#include <stdbool.h>
#include <stdint.h>

#define REPLAY_BLOCKS 128
#define REPLAY_WINDOW (REPLAY_BLOCKS * 64 - 64)

struct replay_window {
	uint64_t last;
	uint64_t blocks[REPLAY_BLOCKS];
};

void replay_init(struct replay_window *w);
/* Call only after the packet authenticated. True: accept (and remember) the
 * counter; false: replayed, too old or >= REJECT_AFTER_MESSAGES. */
bool replay_check(struct replay_window *w, uint64_t counter);

#endif
