#include "support.h"

#include <stdbool.h>
#include <string.h>

#include "awg/messages.h"
#include "awg/replay.h"

/* One step of a scripted sequence: feed counter, expect verdict. */
struct step {
	uint64_t counter;
	bool accept;
};

static void run_steps(struct replay_window *w, const struct step *s, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		bool got = replay_check(w, s[i].counter);
		if (got != s[i].accept)
			fail_msg("step %zu: counter %llu was %s, expected %s", i, (unsigned long long)s[i].counter,
			         got ? "accepted" : "refused", s[i].accept ? "accepted" : "refused");
	}
}

static void counters_in_order_are_each_accepted_exactly_once(void **state)
{
	struct replay_window w;

	replay_init(&w);
	for (uint64_t c = 0; c < 20000; c++)
		assert_true(replay_check(&w, c));
	for (uint64_t c = 20000 - REPLAY_WINDOW - 1; c < 20000; c++)
		assert_false(replay_check(&w, c));
}

static void counter_zero_is_accepted_first_and_refused_as_a_duplicate(void **state)
{
	struct replay_window w;

	replay_init(&w);
	assert_true(replay_check(&w, 0));
	assert_false(replay_check(&w, 0));
	assert_true(replay_check(&w, 1));
	assert_false(replay_check(&w, 0));
}

static void out_of_order_counters_within_the_window_are_accepted_once(void **state)
{
	struct replay_window w;
	static const struct step steps[] = {
		{ 0, true }, { 1, true }, { 1, false }, { 9, true }, { 8, true }, { 7, true }, { 7, false },
		{ 2, true }, { 2, false }, { 100, true }, { 3, true }, { 99, true }, { 64, true }, { 63, true },
		{ 64, false }, { 63, false }, { 9, false }, { 100, false },
	};

	replay_init(&w);
	run_steps(&w, steps, sizeof(steps) / sizeof(steps[0]));
}

static void the_window_edge_is_8128_counters_behind_the_latest(void **state)
{
	struct replay_window w;
	const uint64_t top = 3 * REPLAY_WINDOW + 17;
	const struct step steps[] = {
		{ top, true },
		{ top - REPLAY_WINDOW - 1, false }, /* one too old */
		{ top - REPLAY_WINDOW, true },      /* oldest still inside */
		{ top - REPLAY_WINDOW, false },
		{ top - REPLAY_WINDOW + 1, true },
		{ top - 1, true },
		{ top, false },
		{ 0, false },
		{ top + 1, true },
		{ top - REPLAY_WINDOW, false },   /* fell out when the window moved by one */
		{ top + 1 - REPLAY_WINDOW, false }, /* inside, but already seen */
		{ top + 2 - REPLAY_WINDOW, true },
	};

	replay_init(&w);
	run_steps(&w, steps, sizeof(steps) / sizeof(steps[0]));
}

static void a_jump_of_a_whole_ring_clears_bits_left_by_older_counters(void **state)
{
	struct replay_window w;

	replay_init(&w);
	/* Fill block 0, then jump to block 129: ring slot 0 now stands for block 128. */
	for (uint64_t c = 0; c < 64; c++)
		assert_true(replay_check(&w, c));
	assert_true(replay_check(&w, 129 * 64 + 6));
	for (uint64_t c = 128 * 64; c < 129 * 64; c++)
		assert_true(replay_check(&w, c));
	for (uint64_t c = 0; c < 64; c++)
		assert_false(replay_check(&w, c));

	/* A huge jump (far more than a ring) also leaves a clean window. */
	uint64_t far = (UINT64_C(1) << 40) + 5;
	assert_true(replay_check(&w, far));
	for (uint64_t c = far - REPLAY_WINDOW; c < far; c++)
		assert_true(replay_check(&w, c));
	assert_false(replay_check(&w, far - REPLAY_WINDOW - 1));
}

static void bits_still_inside_the_window_survive_a_forward_jump(void **state)
{
	struct replay_window w;

	replay_init(&w);
	for (uint64_t c = 0; c < 200; c++)
		assert_true(replay_check(&w, c));
	/* Latest 8292: everything from 164 up is still inside the window. */
	assert_true(replay_check(&w, 8192 + 100));
	for (uint64_t c = 164; c < 200; c++)
		assert_false(replay_check(&w, c));
	assert_false(replay_check(&w, 163));
	for (uint64_t c = 200; c < 8292; c++)
		assert_true(replay_check(&w, c));
}

static void counters_from_reject_after_messages_on_are_refused(void **state)
{
	struct replay_window w;
	static const struct step steps[] = {
		{ REJECT_AFTER_MESSAGES, false },
		{ REJECT_AFTER_MESSAGES + 1, false },
		{ UINT64_MAX, false },
		{ REJECT_AFTER_MESSAGES - 1, true },
		{ REJECT_AFTER_MESSAGES - 1, false },
		{ REJECT_AFTER_MESSAGES, false },
		{ REJECT_AFTER_MESSAGES - 2, true },
		{ REJECT_AFTER_MESSAGES - 2, false },
		{ REJECT_AFTER_MESSAGES - 3, true },
		{ REJECT_AFTER_MESSAGES - 1 - REPLAY_WINDOW, true },
		{ REJECT_AFTER_MESSAGES - 2 - REPLAY_WINDOW, false },
		{ 0, false },
	};

	replay_init(&w);
	run_steps(&w, steps, sizeof(steps) / sizeof(steps[0]));
	assert_true(REJECT_AFTER_MESSAGES == UINT64_MAX - 8192);
}

static void init_resets_a_used_window(void **state)
{
	struct replay_window w;

	replay_init(&w);
	for (uint64_t c = 0; c < 1000; c++)
		assert_true(replay_check(&w, c));
	replay_init(&w);
	for (uint64_t c = 0; c < 1000; c++)
		assert_true(replay_check(&w, c));
}

/* Reference model: accept a counter below the limit that is newer than the
 * latest or at most REPLAY_WINDOW behind it, and never accepted before. */
#define MODEL_SPACE (1U << 24)
static uint8_t model_seen[MODEL_SPACE / 8];

static uint64_t xorshift(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

static void random_sequences_agree_with_a_simple_reference_model(void **state)
{
	struct replay_window w;
	uint64_t rng = 0x9e3779b97f4a7c15ULL;

	for (int run = 0; run < 20; run++) {
		uint64_t last = 0, cur = 0;
		memset(model_seen, 0, sizeof(model_seen));
		replay_init(&w);
		for (int i = 0; i < 50000; i++) {
			uint64_t r = xorshift(&rng);
			uint64_t c;
			switch (r % 8) {
			case 0: /* a little behind the latest, near the edge */
				c = cur > 8200 ? cur - 8100 - (r >> 8) % 100 : (r >> 8) % (cur + 1);
				break;
			case 1: /* far behind */
				c = (r >> 8) % (cur + 1);
				break;
			case 2: /* a jump forward, sometimes past a whole ring */
				c = cur + (r >> 8) % ((r >> 40) % 16 ? 600 : 20000);
				break;
			default: /* roughly in order */
				c = cur + (r >> 8) % 8;
				if ((r >> 16) & 1 && c >= 3)
					c -= 3;
				break;
			}
			if (c >= MODEL_SPACE)
				break;
			bool seen = model_seen[c / 8] >> (c % 8) & 1;
			bool want = !seen && (c > last || last - c <= REPLAY_WINDOW);
			bool got = replay_check(&w, c);
			if (got != want)
				fail_msg("run %d step %d: counter %llu (latest %llu) %s, model says %s", run, i,
				         (unsigned long long)c, (unsigned long long)last, got ? "accepted" : "refused",
				         want ? "accept" : "refuse");
			if (want) {
				model_seen[c / 8] |= (uint8_t)(1U << (c % 8));
				if (c > last)
					last = c;
			}
			if (c > cur)
				cur = c;
		}
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(counters_in_order_are_each_accepted_exactly_once),
		cmocka_unit_test(counter_zero_is_accepted_first_and_refused_as_a_duplicate),
		cmocka_unit_test(out_of_order_counters_within_the_window_are_accepted_once),
		cmocka_unit_test(the_window_edge_is_8128_counters_behind_the_latest),
		cmocka_unit_test(a_jump_of_a_whole_ring_clears_bits_left_by_older_counters),
		cmocka_unit_test(bits_still_inside_the_window_survive_a_forward_jump),
		cmocka_unit_test(counters_from_reject_after_messages_on_are_refused),
		cmocka_unit_test(init_resets_a_used_window),
		cmocka_unit_test(random_sequences_agree_with_a_simple_reference_model),
	};
	return run_group(tests);
}
