#include "awg/ratelimit.h"

#include <errno.h>
#include <sodium.h>
#include <string.h>
#include <sys/socket.h>

#include "lib/mem.h"

#define NSEC_PER_SEC_RL 1000000000ULL
#define TOKEN_COST (NSEC_PER_SEC_RL / RATELIMIT_PER_SEC) /* tokens are nanoseconds of credit */
#define TOKEN_MAX (TOKEN_COST * RATELIMIT_BURST)

struct bucket {
	uint8_t key[9];   /* family tag + 8 bytes (IPv4 address or IPv6 /64) */
	bool used;
	uint64_t tokens;
	uint64_t last_ns;
};

struct ratelimit {
	struct bucket slots[RATELIMIT_SLOTS];
	uint8_t hkey[16]; /* per-table key, so sources cannot aim at one slot chain */
};

int ratelimit_new(struct ratelimit **out)
{
	*out = mem_zalloc(sizeof(**out));
	if (!*out)
		return -ENOMEM;
	randombytes_buf((*out)->hkey, sizeof((*out)->hkey));
	return 0;
}

void ratelimit_free(struct ratelimit *r)
{
	mem_free(r);
}

static uint32_t hash(const struct ratelimit *r, const uint8_t key[9])
{
	/* FNV-1a over key and the table key; the probe sequence is short. */
	uint32_t h = 2166136261u;
	for (int i = 0; i < 16; i++)
		h = (h ^ r->hkey[i]) * 16777619u;
	for (int i = 0; i < 9; i++)
		h = (h ^ key[i]) * 16777619u;
	return h;
}

bool ratelimit_allow(struct ratelimit *r, int family, const uint8_t *addr, uint64_t now_ns)
{
	uint8_t key[9] = { (uint8_t)family };
	memcpy(key + 1, addr, family == AF_INET ? 4 : 8);
	uint32_t h = hash(r, key);
	struct bucket *b = NULL, *oldest = NULL;
	/* Linear probe over 8 slots; recycle the stalest when none matches. */
	for (int i = 0; i < 8; i++) {
		struct bucket *c = &r->slots[(h + (uint32_t)i) % RATELIMIT_SLOTS];
		if (c->used && !memcmp(c->key, key, sizeof(key))) {
			b = c;
			break;
		}
		if (!oldest || !c->used || (oldest->used && c->last_ns < oldest->last_ns))
			oldest = c;
	}
	if (!b) {
		b = oldest;
		memcpy(b->key, key, sizeof(key));
		b->used = true;
		b->tokens = TOKEN_MAX;
		b->last_ns = now_ns;
	}
	uint64_t elapsed = now_ns > b->last_ns ? now_ns - b->last_ns : 0;
	b->last_ns = now_ns;
	b->tokens = elapsed >= TOKEN_MAX || b->tokens + elapsed >= TOKEN_MAX ? TOKEN_MAX : b->tokens + elapsed;
	if (b->tokens < TOKEN_COST)
		return false;
	b->tokens -= TOKEN_COST;
	return true;
}
