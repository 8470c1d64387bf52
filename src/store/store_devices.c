/* Devices: keys born on the device (public halves only), a stable tunnel
 * address pair, and a PSK per active node. */
#include "store/store.h"

#include <ctype.h>
#include <errno.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/addr.h"
#include "lib/mem.h"
#include "store/store_backend.h"

#define DEVICE_COLS                                                                                   \
	"d.id, d.user_id, u.email, d.name, d.awg_public, d.enc_public, d.host, d.addr4, d.addr6," \
	" d.revoked_at, d.version, d.created_at, d.updated_at"
#define DEVICE_FROM " FROM devices d JOIN users u ON u.id = d.user_id"

#define KV_SUBNET4 "fleet.subnet4"
#define KV_SUBNET6 "fleet.subnet6"

static int read_device(struct store *st, struct store_stmt *s, struct store_device *d)
{
	memset(d, 0, sizeof(*d));
	d->id = st->be->col_i64(s, 0);
	d->user_id = st->be->col_i64(s, 1);
	int r = store_q_col_str(st, s, 2, d->user_email, sizeof(d->user_email));
	if (r == 0)
		r = store_q_col_str(st, s, 3, d->name, sizeof(d->name));
	if (r == 0)
		r = store_q_col_key(st, s, 4, d->awg_public, STORE_KEY_LEN);
	if (r == 0)
		r = store_q_col_key(st, s, 5, d->enc_public, STORE_KEY_LEN);
	d->host = st->be->col_i64(s, 6);
	if (r == 0)
		r = store_q_col_str(st, s, 7, d->addr4, sizeof(d->addr4));
	if (r == 0)
		r = store_q_col_str(st, s, 8, d->addr6, sizeof(d->addr6));
	d->revoked_at = st->be->col_i64(s, 9);
	d->version = st->be->col_i64(s, 10);
	d->created_at = st->be->col_i64(s, 11);
	d->updated_at = st->be->col_i64(s, 12);
	return r;
}

/* Runs a device query; with one_row, exactly one row (ERR_NOTFOUND for none,
 * ERR_EXISTS for several), else every row to cb. */
static int query_devices(struct store *st, struct store_stmt *s, struct store_device *one,
			 int (*cb)(void *arg, const struct store_device *d), void *arg)
{
	struct store_device d;
	int r, rows = 0;
	while ((r = st->be->step(s)) > 0) {
		rows++;
		if (one) {
			if (rows > 1) {
				r = ERR_EXISTS;
				break;
			}
			r = read_device(st, s, one);
		} else {
			r = read_device(st, s, &d);
			if (r == 0)
				r = cb(arg, &d);
		}
		if (r != 0)
			break;
	}
	store_q_finalize(st, s);
	if (r == 0 && one && rows == 0)
		r = ERR_NOTFOUND;
	return r;
}

int store_device_get(struct store *st, int64_t id, struct store_device *out)
{
	memset(out, 0, sizeof(*out));
	struct store_stmt *s;
	int r = store_q_prepare(st, &s, "SELECT " DEVICE_COLS DEVICE_FROM " WHERE d.id = ?", "i", id);
	return r < 0 ? r : query_devices(st, s, out, NULL, NULL);
}

static bool all_digits(const char *s)
{
	if (!*s || strlen(s) > 18)
		return false;
	for (; *s; s++)
		if (!isdigit((unsigned char)*s))
			return false;
	return true;
}

int store_device_find(struct store *st, const char *ref, struct store_device *out)
{
	memset(out, 0, sizeof(*out));
	if (!ref || !*ref)
		return ERR_NOTFOUND;
	int r;
	struct store_stmt *s;
	const char *slash = strrchr(ref, '/');
	if (slash) {
		char email[STORE_EMAIL_MAX + 1];
		size_t n = (size_t)(slash - ref);
		if (n >= sizeof(email) || !store_name_valid(slash + 1))
			return ERR_NOTFOUND;
		memcpy(email, ref, n);
		email[n] = 0;
		for (size_t i = 0; i < n; i++)
			email[i] = (char)tolower((unsigned char)email[i]);
		r = store_q_prepare(st, &s, "SELECT " DEVICE_COLS DEVICE_FROM " WHERE u.email = ? AND d.name = ?",
				    "tt", email, slash + 1);
		return r < 0 ? r : query_devices(st, s, out, NULL, NULL);
	}
	if (all_digits(ref)) {
		r = store_device_get(st, strtoll(ref, NULL, 10), out);
		if (r != ERR_NOTFOUND)
			return r;
	}
	if (!store_name_valid(ref))
		return ERR_NOTFOUND;
	r = store_q_prepare(st, &s, "SELECT " DEVICE_COLS DEVICE_FROM " WHERE d.name = ? ORDER BY d.id", "t", ref);
	return r < 0 ? r : query_devices(st, s, out, NULL, NULL);
}

int store_devices_list(struct store *st, const struct store_device_filter *f,
		       int (*cb)(void *arg, const struct store_device *d), void *arg)
{
	static const char *const sql[2][2] = {
		{ "SELECT " DEVICE_COLS DEVICE_FROM " WHERE d.revoked_at = 0 ORDER BY d.id",
		  "SELECT " DEVICE_COLS DEVICE_FROM " ORDER BY d.id" },
		{ "SELECT " DEVICE_COLS DEVICE_FROM " WHERE u.email = ? AND d.revoked_at = 0 ORDER BY d.id",
		  "SELECT " DEVICE_COLS DEVICE_FROM " WHERE u.email = ? ORDER BY d.id" },
	};
	bool by_user = f && f->email;
	bool revoked = !f || f->include_revoked;
	char email[STORE_EMAIL_MAX + 1] = "";
	if (by_user) {
		size_t n = strlen(f->email);
		if (n >= sizeof(email))
			return 0;
		for (size_t i = 0; i <= n; i++)
			email[i] = (char)tolower((unsigned char)f->email[i]);
	}
	struct store_stmt *s;
	int r = store_q_prepare(st, &s, sql[by_user][revoked], by_user ? "t" : NULL, email);
	return r < 0 ? r : query_devices(st, s, NULL, cb, arg);
}

int store_devices_count(struct store *st, int64_t *n)
{
	return store_q_i64(st, n, "SELECT COUNT(*) FROM devices", NULL);
}

/* ---- address allocation ---------------------------------------------------- */

struct fleet_net {
	struct cidr c4, c6;
	int64_t max_host;   /* highest host index both subnets can give */
	char canon4[CIDR_STRLEN], canon6[CIDR_STRLEN];
};

static int fleet_net_parse(const struct store_subnets *sn, struct fleet_net *fn)
{
	memset(fn, 0, sizeof(*fn));
	if (!sn || !sn->subnet4 || !sn->subnet6)
		return -EINVAL;
	if (cidr_parse(sn->subnet4, &fn->c4) < 0 || fn->c4.addr.family != AF_INET || fn->c4.prefix < 8 ||
	    fn->c4.prefix > 30)
		return -EINVAL;
	if (cidr_parse(sn->subnet6, &fn->c6) < 0 || fn->c6.addr.family != AF_INET6 || fn->c6.prefix < 8 ||
	    fn->c6.prefix > 120)
		return -EINVAL;
	/* IPv4: hosts 2 .. size-2 (0 network, 1 gateway, size-1 broadcast). */
	int64_t max4 = ((int64_t)1 << (32 - fn->c4.prefix)) - 2;
	/* IPv6: hosts 2 .. size-1 (no broadcast). */
	int bits6 = 128 - fn->c6.prefix;
	int64_t max6 = bits6 >= 62 ? INT64_MAX : ((int64_t)1 << bits6) - 1;
	fn->max_host = max4 < max6 ? max4 : max6;
	if (cidr_format(&fn->c4, fn->canon4, sizeof(fn->canon4)) < 0 ||
	    cidr_format(&fn->c6, fn->canon6, sizeof(fn->canon6)) < 0)
		return -EINVAL;
	return 0;
}

/* base + host, big-endian, into text. host <= max_host fits the subnet. */
static int host_addr(const struct cidr *c, int64_t host, char *buf, size_t cap)
{
	struct addr a = c->addr;
	int last = a.family == AF_INET ? 3 : 15;
	uint64_t carry = (uint64_t)host;
	for (int i = last; i >= 0 && carry; i--) {
		uint64_t v = a.bytes[i] + (carry & 0xff);
		a.bytes[i] = (uint8_t)v;
		carry = (carry >> 8) + (v >> 8);
	}
	return addr_format(&a, buf, cap) < 0 ? -EINVAL : 0;
}

/* Subnets are recorded at the first allocation; a different pair later
 * would move every device, so it is refused. */
static int check_subnets(struct store *st, const struct fleet_net *fn)
{
	char v4[CIDR_STRLEN], v6[CIDR_STRLEN];
	int r4 = store_kv_get(st, KV_SUBNET4, v4, sizeof(v4));
	int r6 = store_kv_get(st, KV_SUBNET6, v6, sizeof(v6));
	if (r4 == ERR_NOTFOUND && r6 == ERR_NOTFOUND) {
		int r = store_kv_set(st, KV_SUBNET4, fn->canon4);
		return r < 0 ? r : store_kv_set(st, KV_SUBNET6, fn->canon6);
	}
	if (r4 < 0 || r6 < 0)
		return r4 < 0 ? r4 : r6;
	if (strcmp(v4, fn->canon4) || strcmp(v6, fn->canon6))
		return ERR_BADSTATE;
	return 0;
}

/* One above the highest host in use; when that passes the end of the
 * subnet, the lowest free one. Runs inside the insert's write transaction,
 * so two writers never pick the same host (and UNIQUE(host) backs it). */
static int alloc_host(struct store *st, const struct fleet_net *fn, int64_t *host)
{
	int64_t max = 0;
	int r = store_q_i64(st, &max, "SELECT COALESCE(MAX(host), 1) FROM devices", NULL);
	if (r < 0)
		return r;
	if (max < fn->max_host) {
		*host = max < 2 ? 2 : max + 1;
		return 0;
	}
	int64_t used2 = 0;
	r = store_q_i64(st, &used2, "SELECT COUNT(*) FROM devices WHERE host = 2", NULL);
	if (r < 0)
		return r;
	if (!used2) {
		*host = 2;
		return 0;
	}
	r = store_q_i64(st, host,
			"SELECT d.host + 1 FROM devices d WHERE d.host + 1 <= ?"
			" AND NOT EXISTS (SELECT 1 FROM devices e WHERE e.host = d.host + 1)"
			" ORDER BY d.host LIMIT 1",
			"i", fn->max_host);
	return r == ERR_NOTFOUND ? -ENOSPC : r;
}

/* Creates the PSKs of n (device, node) pairs: one call for all the random
 * bytes (a bulk import makes a million PSKs), one reused statement. */
static int insert_psks(struct store *st, const int64_t *ids, size_t n, int64_t fixed, bool fixed_is_device)
{
	if (!n)
		return 0;
	uint8_t *psks = mem_alloc(n * STORE_KEY_LEN);
	if (!psks)
		return -ENOMEM;
	randombytes_buf(psks, n * STORE_KEY_LEN);
	int64_t now = store_now(st);
	int r = 0;
	for (size_t i = 0; r == 0 && i < n; i++)
		r = store_q_run(st, NULL,
				"INSERT INTO device_nodes (device_id, node_id, psk, version, created_at, updated_at)"
				" VALUES (?, ?, ?, 1, ?, ?)",
				"iibii", fixed_is_device ? fixed : ids[i], fixed_is_device ? ids[i] : fixed,
				psks + i * STORE_KEY_LEN, (size_t)STORE_KEY_LEN, now, now);
	sodium_memzero(psks, n * STORE_KEY_LEN);
	mem_free(psks);
	return r;
}

int store_psks_fill(struct store *st, const char *ids_sql, int64_t fixed, bool fixed_is_device)
{
	struct store_stmt *s;
	int r = store_q_prepare(st, &s, ids_sql, "i", fixed);
	if (r < 0)
		return r;
	int64_t *ids = NULL;
	size_t n = 0, cap = 0;
	while ((r = st->be->step(s)) > 0) {
		if (n == cap) {
			size_t ncap = cap ? cap * 2 : 64;
			int64_t *t = mem_realloc(ids, ncap * sizeof(*t));
			if (!t) {
				r = -ENOMEM;
				break;
			}
			ids = t;
			cap = ncap;
		}
		ids[n++] = st->be->col_i64(s, 0);
	}
	store_q_finalize(st, s);
	if (r == 0)
		r = insert_psks(st, ids, n, fixed, fixed_is_device);
	mem_free(ids);
	return r;
}

int store_device_add(struct store *st, const char *email, const struct store_subnets *sn, struct store_device *d)
{
	struct fleet_net fn;
	if (!d || !store_name_valid(d->name) || fleet_net_parse(sn, &fn) < 0)
		return -EINVAL;
	int r = store_tx_begin(st);
	if (r < 0)
		return r;
	struct store_user u;
	int64_t host = 0, now = store_now(st);
	char a4[ADDR_STRLEN], a6[ADDR_STRLEN];
	r = store_user_get(st, email, &u);
	if (r == 0)
		r = check_subnets(st, &fn);
	if (r == 0)
		r = alloc_host(st, &fn, &host);
	if (r == 0)
		r = host_addr(&fn.c4, host, a4, sizeof(a4));
	if (r == 0)
		r = host_addr(&fn.c6, host, a6, sizeof(a6));
	if (r == 0)
		r = store_q_run(st, NULL,
				"INSERT INTO devices (user_id, name, awg_public, enc_public, host, addr4, addr6,"
				" revoked_at, version, created_at, updated_at)"
				" VALUES (?, ?, ?, ?, ?, ?, ?, 0, 1, ?, ?)",
				"itbbittii", u.id, d->name, d->awg_public, (size_t)STORE_KEY_LEN, d->enc_public,
				(size_t)STORE_KEY_LEN, host, a4, a6, now, now);
	int64_t id = 0;
	if (r == 0)
		r = store_q_i64(st, &id, "SELECT id FROM devices WHERE host = ?", "i", host);
	if (r == 0)
		r = store_psks_fill(st, STORE_SQL_NODES_FOR_NEW_DEVICE, id, true);
	if (r == 0)
		r = store_device_get(st, id, d);
	return store_tx_end(st, r);
}

int store_device_revoke(struct store *st, struct store_device *d)
{
	if (d->revoked_at)
		return ERR_BADSTATE;
	int r = store_tx_begin(st);
	if (r < 0)
		return r;
	int64_t now = store_now(st);
	r = store_q_versioned(st, "devices", d->id, &d->version, &d->updated_at, "revoked_at = ?", "i", now);
	/* A revoked device's PSKs have no further use: drop them now. */
	if (r == 0)
		r = store_q_run(st, NULL, "DELETE FROM device_nodes WHERE device_id = ?", "i", d->id);
	if (r == 0)
		d->revoked_at = now;
	return store_tx_end(st, r);
}

int store_device_remove(struct store *st, struct store_device *d)
{
	int64_t n = 0;
	int r = store_q_run(st, &n, "DELETE FROM devices WHERE id = ? AND version = ?", "ii", d->id, d->version);
	if (r == 0 && n == 0)
		r = store_q_stale(st, "devices", d->id);
	return r;
}
