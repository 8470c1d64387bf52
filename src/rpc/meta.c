#include "rpc/meta.h"

#include <errno.h>
#include <string.h>

#include "lib/enc.h"

void rpc_meta_init(struct rpc_meta *m)
{
	m->count = 0;
	buf_init(&m->arena, RPC_META_MAX_BYTES + 2 * RPC_META_MAX_ENTRIES);
}

void rpc_meta_reset(struct rpc_meta *m)
{
	m->count = 0;
	buf_reset(&m->arena);
}

void rpc_meta_fini(struct rpc_meta *m)
{
	m->count = 0;
	buf_fini(&m->arena);
}

int rpc_meta_copy(struct rpc_meta *dst, const struct rpc_meta *src)
{
	rpc_meta_reset(dst);
	if (!src || !src->count)
		return 0;
	if (buf_append(&dst->arena, src->arena.data, src->arena.len) < 0)
		return -ENOMEM;
	memcpy(dst->e, src->e, src->count * sizeof(src->e[0]));
	dst->count = src->count;
	return 0;
}

static bool key_char(char c)
{
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || c == '_' || c == '-' || c == '.';
}

static bool is_bin(const char *key, size_t len)
{
	return len > 4 && !memcmp(key + len - 4, "-bin", 4);
}

bool rpc_meta_reserved(const char *key, size_t len)
{
	static const char *const names[] = {
		"content-type", "te", "user-agent", "connection", "keep-alive", "proxy-connection",
		"transfer-encoding", "upgrade", "host",
	};
	if (len == 0 || key[0] == ':' || (len >= 5 && !memcmp(key, "grpc-", 5)))
		return true;
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (strlen(names[i]) == len && !memcmp(names[i], key, len))
			return true;
	return false;
}

static bool key_ok(const char *key, size_t len)
{
	if (len == 0 || rpc_meta_reserved(key, len))
		return false;
	for (size_t i = 0; i < len; i++)
		if (!key_char(key[i]))
			return false;
	return true;
}

static bool ascii_ok(const uint8_t *v, size_t len)
{
	for (size_t i = 0; i < len; i++)
		if (v[i] < 0x20 || v[i] > 0x7e)
			return false;
	return true;
}

/* Appends key and value, each NUL-terminated; on failure nothing changes. */
static int push(struct rpc_meta *m, const char *key, size_t klen, const void *val, size_t vlen)
{
	struct buf *a = &m->arena;
	size_t at = a->len;
	int rc;

	if (m->count >= RPC_META_MAX_ENTRIES)
		return ERR_TOOBIG;
	/* The byte budget counts keys and values, not the terminators. */
	if (klen > RPC_META_MAX_BYTES || vlen > RPC_META_MAX_BYTES - klen ||
	    at - 2 * m->count + klen + vlen > RPC_META_MAX_BYTES)
		return ERR_TOOBIG;
	rc = buf_reserve(a, klen + vlen + 2);
	if (rc < 0)
		return rc;
	memcpy(a->data + at, key, klen);
	a->data[at + klen] = '\0';
	if (vlen)
		memcpy(a->data + at + klen + 1, val, vlen);
	a->data[at + klen + 1 + vlen] = '\0';
	buf_advance(a, klen + vlen + 2);
	m->e[m->count].key = (uint32_t)at;
	m->e[m->count].key_len = (uint32_t)klen;
	m->e[m->count].val = (uint32_t)(at + klen + 1);
	m->e[m->count].val_len = (uint32_t)vlen;
	m->count++;
	return 0;
}

int rpc_meta_add(struct rpc_meta *m, const char *key, const void *val, size_t len)
{
	size_t klen = strlen(key);

	if (!key_ok(key, klen) || (len && !val))
		return -EINVAL;
	if (!is_bin(key, klen) && !ascii_ok(val, len))
		return -EINVAL;
	return push(m, key, klen, val, len);
}

int rpc_meta_add_str(struct rpc_meta *m, const char *key, const char *val)
{
	return rpc_meta_add(m, key, val, strlen(val));
}

size_t rpc_meta_count(const struct rpc_meta *m)
{
	return m->count;
}

void rpc_meta_at(const struct rpc_meta *m, size_t i, const char **key, const uint8_t **val, size_t *len)
{
	const struct rpc_meta_entry *e = &m->e[i];

	*key = (const char *)m->arena.data + e->key;
	*val = m->arena.data + e->val;
	*len = e->val_len;
}

const uint8_t *rpc_meta_get(const struct rpc_meta *m, const char *key, size_t *len)
{
	size_t klen = strlen(key);

	for (size_t i = 0; i < m->count; i++) {
		const struct rpc_meta_entry *e = &m->e[i];
		if (e->key_len == klen && !memcmp(m->arena.data + e->key, key, klen)) {
			if (len)
				*len = e->val_len;
			return m->arena.data + e->val;
		}
	}
	if (len)
		*len = 0;
	return NULL;
}

/* One base64 piece, padded or not, decoded into a new entry. */
static int add_b64(struct rpc_meta *m, const char *key, size_t klen, const char *s, size_t len)
{
	char text[RPC_META_MAX_BYTES + 4];
	uint8_t raw[RPC_META_MAX_BYTES];
	size_t n = 0;

	/* 4 characters carry 3 bytes, so anything longer cannot fit the budget. */
	if (len > sizeof(text) - 4)
		return ERR_TOOBIG;
	if (len % 4 == 1)
		return -EINVAL;
	memcpy(text, s, len);
	while (len % 4)
		text[len++] = '=';
	text[len] = '\0';
	if (enc_base64_decode(raw, sizeof(raw), text, &n) < 0)
		return -EINVAL;
	return push(m, key, klen, raw, n);
}

int rpc_meta_add_wire(struct rpc_meta *m, const char *name, size_t name_len, const char *value,
                      size_t value_len)
{
	size_t start = 0;
	int rc;

	for (size_t i = 0; i < name_len; i++)
		if (!key_char(name[i]))
			return -EINVAL;
	if (name_len == 0)
		return -EINVAL;
	if (!is_bin(name, name_len)) {
		if (!ascii_ok((const uint8_t *)value, value_len))
			return -EINVAL;
		return push(m, name, name_len, value, value_len);
	}
	for (size_t i = 0; i <= value_len; i++) {
		if (i < value_len && value[i] != ',')
			continue;
		size_t a = start, b = i;
		while (a < b && value[a] == ' ')
			a++;
		while (b > a && value[b - 1] == ' ')
			b--;
		rc = add_b64(m, name, name_len, value + a, b - a);
		if (rc < 0)
			return rc;
		start = i + 1;
	}
	return 0;
}

size_t rpc_meta_wire_bound(const struct rpc_meta *m)
{
	size_t n = 0;

	for (size_t i = 0; i < m->count; i++) {
		const struct rpc_meta_entry *e = &m->e[i];
		n += is_bin((const char *)m->arena.data + e->key, e->key_len) ? ENC_BASE64_LEN(e->val_len)
		                                                                   : e->val_len + 1;
	}
	return n;
}

int rpc_meta_wire_value(const struct rpc_meta *m, size_t i, char *out, size_t cap)
{
	const struct rpc_meta_entry *e = &m->e[i];
	const uint8_t *v = m->arena.data + e->val;
	size_t n;

	if (!is_bin((const char *)m->arena.data + e->key, e->key_len)) {
		if (cap < (size_t)e->val_len + 1)
			return -ENOSPC;
		memcpy(out, v, e->val_len);
		out[e->val_len] = '\0';
		return (int)e->val_len;
	}
	if (enc_base64_encode(out, cap, v, e->val_len) < 0)
		return -ENOSPC;
	n = strlen(out);
	while (n && out[n - 1] == '=')
		out[--n] = '\0';
	return (int)n;
}
