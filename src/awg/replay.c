/* Sliding replay window (specs/awg.md §1.8, RFC 6479). The ring holds the
 * 128 most recent 64-bit blocks of counter space ending at the block of
 * `last`; moving forward clears the blocks that fall off so no bit outlives
 * its window. Counter 0 needs no special case: the initial state (last = 0,
 * ring empty) treats it as an unseen counter inside the window. */
#include "awg/replay.h"

#include <string.h>

#include "awg/messages.h"

#define BLOCK_BITS 64
#define BLOCK_SHIFT 6
#define BLOCK_MASK (REPLAY_BLOCKS - 1)

static_assert((REPLAY_BLOCKS & BLOCK_MASK) == 0, "the ring size is a power of two");
static_assert(REPLAY_WINDOW == 8128, "window as in the reference implementations");

void replay_init(struct replay_window *w)
{
	memset(w, 0, sizeof(*w));
}

bool replay_check(struct replay_window *w, uint64_t counter)
{
	if (counter >= REJECT_AFTER_MESSAGES)
		return false;

	uint64_t block = counter >> BLOCK_SHIFT;
	if (counter > w->last) {
		/* Clear the blocks between last's block (exclusive) and counter's
		 * (inclusive); a jump of a whole ring or more clears all of it. */
		uint64_t current = w->last >> BLOCK_SHIFT;
		uint64_t diff = block - current;
		if (diff > REPLAY_BLOCKS)
			diff = REPLAY_BLOCKS;
		for (uint64_t i = 1; i <= diff; i++)
			w->blocks[(current + i) & BLOCK_MASK] = 0;
		w->last = counter;
	} else if (w->last - counter > REPLAY_WINDOW) {
		return false;
	}

	uint64_t bit = UINT64_C(1) << (counter & (BLOCK_BITS - 1));
	uint64_t *slot = &w->blocks[block & BLOCK_MASK];
	if (*slot & bit)
		return false;
	*slot |= bit;
	return true;
}
