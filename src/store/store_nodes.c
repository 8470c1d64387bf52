/* Nodes and their peers (device x node PSKs). */
#include "store/store.h"

#include <errno.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>

#include "lib/addr.h"
#include "lib/mem.h"
#include "store/store_backend.h"

static const char *const state_names[] = {
	[STORE_NODE_PENDING] = "pending",
	[STORE_NODE_ACTIVE] = "active",
	[STORE_NODE_UNREACHABLE] = "unreachable",
	[STORE_NODE_STOPPED] = "stopped",
};

const char *store_node_state_name(enum store_node_state s)
{
	return (unsigned)s < sizeof(state_names) / sizeof(state_names[0]) ? state_names[s] : "unknown";
}

int store_node_state_parse(const char *s, enum store_node_state *out)
{
	for (size_t i = 0; i < sizeof(state_names) / sizeof(state_names[0]); i++) {
		if (!strcmp(s, state_names[i])) {
			*out = (enum store_node_state)i;
			return 0;
		}
	}
	return ERR_PARSE;
}

void store_node_init(struct store_node *n)
{
	memset(n, 0, sizeof(*n));
	n->ssh_port = 22;
	n->control_port = 8444;
	n->port_lo = n->port_hi = 443;
	n->forwarding = n->masquerade = n->isolation = true;
}

void store_node_fini(struct store_node *n)
{
	if (!n)
		return;
	mem_free(n->obfuscation);
	n->obfuscation = NULL;
}

#define NODE_COLS                                                                                       \
	"id, name, region, ssh_user, ssh_host, ssh_port, host_key_fp, state, awg_public, obfuscation,"  \
	" reality_public, control_host, control_port, endpoints, port_lo, port_hi, forwarding,"         \
	" masquerade, isolation, intended_rev, applied_rev, misses, last_seen, last_stale_heal,"        \
	" binary_version, version, created_at, updated_at"

static int endpoints_parse(const char *text, struct store_node *n)
{
	n->n_endpoints = 0;
	const char *p = text;
	while (*p) {
		while (*p == ' ')
			p++;
		if (!*p)
			break;
		size_t len = strcspn(p, " ");
		if (len >= STORE_ADDR_MAX || n->n_endpoints == STORE_ENDPOINTS_MAX)
			return ERR_TOOBIG;
		memcpy(n->endpoints[n->n_endpoints], p, len);
		n->endpoints[n->n_endpoints][len] = 0;
		n->n_endpoints++;
		p += len;
	}
	return 0;
}

static int endpoints_format(const struct store_node *n, char *buf, size_t cap)
{
	size_t off = 0;
	buf[0] = 0;
	if (n->n_endpoints > STORE_ENDPOINTS_MAX)
		return -EINVAL;
	for (size_t i = 0; i < n->n_endpoints; i++) {
		struct addr a;
		if (addr_parse(n->endpoints[i], &a) < 0)
			return -EINVAL;
		char canon[ADDR_STRLEN];
		if (addr_format(&a, canon, sizeof(canon)) < 0)
			return -EINVAL;
		int w = snprintf(buf + off, cap - off, "%s%s", i ? " " : "", canon);
		if (w < 0 || (size_t)w >= cap - off)
			return -ENOSPC;
		off += (size_t)w;
	}
	return 0;
}

static int read_node(struct store *st, struct store_stmt *s, void *out)
{
	struct store_node *n = out;
	const struct store_backend *be = st->be;
	store_node_init(n);
	n->id = be->col_i64(s, 0);
	int r = store_q_col_str(st, s, 1, n->name, sizeof(n->name));
	if (r == 0)
		r = store_q_col_str(st, s, 2, n->region, sizeof(n->region));
	if (r == 0)
		r = store_q_col_str(st, s, 3, n->ssh_user, sizeof(n->ssh_user));
	if (r == 0)
		r = store_q_col_str(st, s, 4, n->ssh_host, sizeof(n->ssh_host));
	n->ssh_port = (uint16_t)be->col_i64(s, 5);
	if (r == 0)
		r = store_q_col_str(st, s, 6, n->host_key_fp, sizeof(n->host_key_fp));
	if (r == 0)
		r = store_node_state_parse(be->col_text(s, 7), &n->state);
	n->has_awg_public = !be->col_null(s, 8);
	if (r == 0 && n->has_awg_public)
		r = store_q_col_key(st, s, 8, n->awg_public, STORE_KEY_LEN);
	const char *obf = be->col_text(s, 9);
	if (r == 0 && *obf) {
		if (strlen(obf) > STORE_OBF_MAX)
			r = ERR_TOOBIG;
		else if (!(n->obfuscation = mem_strdup(obf)))
			r = -ENOMEM;
	}
	n->has_reality_public = !be->col_null(s, 10);
	if (r == 0 && n->has_reality_public)
		r = store_q_col_key(st, s, 10, n->reality_public, STORE_KEY_LEN);
	if (r == 0)
		r = store_q_col_str(st, s, 11, n->control_host, sizeof(n->control_host));
	n->control_port = (uint16_t)be->col_i64(s, 12);
	if (r == 0)
		r = endpoints_parse(be->col_text(s, 13), n);
	n->port_lo = (uint16_t)be->col_i64(s, 14);
	n->port_hi = (uint16_t)be->col_i64(s, 15);
	n->forwarding = be->col_i64(s, 16) != 0;
	n->masquerade = be->col_i64(s, 17) != 0;
	n->isolation = be->col_i64(s, 18) != 0;
	n->intended_rev = (uint64_t)be->col_i64(s, 19);
	n->applied_rev = (uint64_t)be->col_i64(s, 20);
	n->misses = (uint32_t)be->col_i64(s, 21);
	n->last_seen = be->col_i64(s, 22);
	n->last_stale_heal = be->col_i64(s, 23);
	if (r == 0)
		r = store_q_col_str(st, s, 24, n->binary_version, sizeof(n->binary_version));
	n->version = be->col_i64(s, 25);
	n->created_at = be->col_i64(s, 26);
	n->updated_at = be->col_i64(s, 27);
	if (r < 0)
		store_node_fini(n);
	return r;
}

static int node_valid(const struct store_node *n)
{
	if (!store_name_valid(n->name) || (n->region[0] && !store_name_valid(n->region)) ||
	    !store_text_valid(n->ssh_user, STORE_NAME_MAX) || !n->ssh_user[0] ||
	    !store_text_valid(n->ssh_host, STORE_HOST_MAX) || !n->ssh_host[0] || n->ssh_port == 0 ||
	    !store_text_valid(n->host_key_fp, STORE_FP_MAX) || !store_text_valid(n->control_host, STORE_HOST_MAX) ||
	    !store_text_valid(n->binary_version, STORE_VERSION_MAX) || n->port_lo > n->port_hi ||
	    (unsigned)n->state > STORE_NODE_STOPPED || (!n->forwarding && (n->masquerade || n->isolation)) ||
	    (n->obfuscation && strlen(n->obfuscation) > STORE_OBF_MAX))
		return -EINVAL;
	return 0;
}

/* Binds every writable column in NODE_COLS order from name (2..25). */
#define NODE_SET_FMT "ttttittbtbtitiiiiiiiiiit"

static int write_node(struct store *st, int64_t *changes, const char *sql, const struct store_node *n,
		      int64_t now, bool insert)
{
	char eps[STORE_ENDPOINTS_MAX * STORE_ADDR_MAX];
	int r = endpoints_format(n, eps, sizeof(eps));
	if (r < 0)
		return r;
	struct store_stmt *s;
	r = store_q_prepare(st, &s, sql, NODE_SET_FMT "ii", n->name, n->region, n->ssh_user, n->ssh_host,
			    (int64_t)n->ssh_port, n->host_key_fp, store_node_state_name(n->state),
			    n->has_awg_public ? (const void *)n->awg_public : NULL,
			    (size_t)(n->has_awg_public ? STORE_KEY_LEN : 0), n->obfuscation ? n->obfuscation : "",
			    n->has_reality_public ? (const void *)n->reality_public : NULL,
			    (size_t)(n->has_reality_public ? STORE_KEY_LEN : 0), n->control_host,
			    (int64_t)n->control_port, eps, (int64_t)n->port_lo, (int64_t)n->port_hi,
			    (int64_t)n->forwarding, (int64_t)n->masquerade, (int64_t)n->isolation,
			    (int64_t)n->intended_rev, (int64_t)n->applied_rev, (int64_t)n->misses, n->last_seen,
			    n->last_stale_heal, n->binary_version, now, insert ? now : n->id);
	if (r < 0)
		return r;
	/* A NULL key binds SQL NULL (the column allows it). */
	if (!n->has_awg_public)
		r = st->be->bind_text(s, 8, NULL);
	if (r == 0 && !n->has_reality_public)
		r = st->be->bind_text(s, 10, NULL);
	if (r == 0 && !insert)
		r = st->be->bind_i64(s, 27, n->version);
	while (r == 0 && (r = st->be->step(s)) > 0)
		;
	if (r == 0 && changes)
		*changes = st->be->changes(s);
	store_q_finalize(st, s);
	return r;
}

int store_node_add(struct store *st, struct store_node *n)
{
	if (node_valid(n) < 0)
		return -EINVAL;
	int r = store_tx_begin(st);
	if (r < 0)
		return r;
	int64_t now = store_now(st);
	r = write_node(st, NULL,
		       "INSERT INTO nodes (name, region, ssh_user, ssh_host, ssh_port, host_key_fp, state, awg_public,"
		       " obfuscation, reality_public, control_host, control_port, endpoints, port_lo, port_hi,"
		       " forwarding, masquerade, isolation, intended_rev, applied_rev, misses, last_seen,"
		       " last_stale_heal, binary_version, version, created_at, updated_at)"
		       " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 1, ?, ?)",
		       n, now, true);
	int64_t id = 0;
	if (r == 0)
		r = store_q_i64(st, &id, "SELECT id FROM nodes WHERE name = ?", "t", n->name);
	if (r == 0 && n->state == STORE_NODE_ACTIVE)
		r = store_psks_fill(st, STORE_SQL_DEVICES_WITHOUT_PSK, id, false);
	r = store_tx_end(st, r);
	if (r == 0) {
		n->id = id;
		n->version = 1;
		n->created_at = n->updated_at = now;
	}
	return r;
}

int store_node_update(struct store *st, struct store_node *n)
{
	if (node_valid(n) < 0)
		return -EINVAL;
	int r = store_tx_begin(st);
	if (r < 0)
		return r;
	int64_t now = store_now(st), changed = 0;
	r = write_node(st, &changed,
		       "UPDATE nodes SET name = ?, region = ?, ssh_user = ?, ssh_host = ?, ssh_port = ?,"
		       " host_key_fp = ?, state = ?, awg_public = ?, obfuscation = ?, reality_public = ?,"
		       " control_host = ?, control_port = ?, endpoints = ?, port_lo = ?, port_hi = ?,"
		       " forwarding = ?, masquerade = ?, isolation = ?, intended_rev = ?, applied_rev = ?,"
		       " misses = ?, last_seen = ?, last_stale_heal = ?, binary_version = ?,"
		       " version = version + 1, updated_at = ? WHERE id = ? AND version = ?",
		       n, now, false);
	if (r == 0 && changed == 0)
		r = store_q_stale(st, "nodes", n->id);
	if (r == 0 && n->state == STORE_NODE_ACTIVE)
		r = store_psks_fill(st, STORE_SQL_DEVICES_WITHOUT_PSK, n->id, false);
	r = store_tx_end(st, r);
	if (r == 0) {
		n->version++;
		n->updated_at = now;
	}
	return r;
}

int store_node_get(struct store *st, const char *name, struct store_node *out)
{
	store_node_init(out);
	struct store_stmt *s;
	int r = store_q_prepare(st, &s, "SELECT " NODE_COLS " FROM nodes WHERE name = ?", "t", name);
	return r < 0 ? r : store_q_one(st, s, read_node, out);
}

int store_node_remove(struct store *st, struct store_node *n)
{
	int64_t changed = 0;
	int r = store_q_run(st, &changed, "DELETE FROM nodes WHERE id = ? AND version = ?", "ii", n->id, n->version);
	if (r == 0 && changed == 0)
		r = store_q_stale(st, "nodes", n->id);
	return r;
}

int store_nodes_list(struct store *st, int (*cb)(void *arg, const struct store_node *n), void *arg)
{
	struct store_stmt *s;
	int r = store_q_prepare(st, &s, "SELECT " NODE_COLS " FROM nodes ORDER BY name", NULL);
	if (r < 0)
		return r;
	struct store_node n;
	while ((r = st->be->step(s)) > 0) {
		r = read_node(st, s, &n);
		if (r == 0) {
			r = cb(arg, &n);
			store_node_fini(&n);
		}
		if (r != 0)
			break;
	}
	store_q_finalize(st, s);
	return r;
}

int store_node_bump_intended(struct store *st, const char *name)
{
	int64_t now = store_now(st), changed = 0;
	int r;
	if (name)
		r = store_q_run(st, &changed,
				"UPDATE nodes SET intended_rev = intended_rev + 1, version = version + 1,"
				" updated_at = ? WHERE name = ?",
				"it", now, name);
	else
		r = store_q_run(st, &changed,
				"UPDATE nodes SET intended_rev = intended_rev + 1, version = version + 1,"
				" updated_at = ? WHERE state <> 'stopped'",
				"i", now);
	if (r == 0 && name && changed == 0)
		r = ERR_NOTFOUND;
	return r;
}

int store_node_peers(struct store *st, int64_t node_id, int (*cb)(void *arg, const struct store_peer *p),
		     void *arg)
{
	struct store_stmt *s;
	int r = store_q_prepare(st, &s,
				"SELECT d.id, d.name, u.email, d.awg_public, x.psk, d.addr4, d.addr6"
				" FROM device_nodes x JOIN devices d ON d.id = x.device_id"
				" JOIN users u ON u.id = d.user_id"
				" WHERE x.node_id = ? AND d.revoked_at = 0 ORDER BY x.device_id",
				"i", node_id);
	if (r < 0)
		return r;
	struct store_peer p;
	while ((r = st->be->step(s)) > 0) {
		memset(&p, 0, sizeof(p));
		p.device_id = st->be->col_i64(s, 0);
		p.device_name = st->be->col_text(s, 1);
		p.user_email = st->be->col_text(s, 2);
		r = store_q_col_key(st, s, 3, p.awg_public, STORE_KEY_LEN);
		if (r == 0)
			r = store_q_col_key(st, s, 4, p.psk, STORE_KEY_LEN);
		p.addr4 = st->be->col_text(s, 5);
		p.addr6 = st->be->col_text(s, 6);
		if (r == 0)
			r = cb(arg, &p);
		sodium_memzero(p.psk, sizeof(p.psk));
		if (r != 0)
			break;
	}
	store_q_finalize(st, s);
	return r;
}

int store_node_peer_count(struct store *st, int64_t node_id, int64_t *n)
{
	return store_q_i64(st, n,
			   "SELECT COUNT(*) FROM device_nodes x JOIN devices d ON d.id = x.device_id"
			   " WHERE x.node_id = ? AND d.revoked_at = 0",
			   "i", node_id);
}

int store_psk_get(struct store *st, int64_t device_id, int64_t node_id, uint8_t psk[STORE_KEY_LEN])
{
	memset(psk, 0, STORE_KEY_LEN);
	struct store_stmt *s;
	int r = store_q_prepare(st, &s, "SELECT psk FROM device_nodes WHERE device_id = ? AND node_id = ?", "ii",
				device_id, node_id);
	if (r < 0)
		return r;
	r = st->be->step(s);
	if (r > 0)
		r = store_q_col_key(st, s, 0, psk, STORE_KEY_LEN);
	else if (r == 0)
		r = ERR_NOTFOUND;
	store_q_finalize(st, s);
	return r;
}
