/* Pushing each node its intended peer set, several nodes at once, and the
 * reconcile sweep. gRPC calls run on worker threads (one node per job);
 * every store access stays on the calling thread, since one store handle
 * is not shared across threads. */
#include <errno.h>
#include <pthread.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cox/cox.h"
#include "cox/nodeclient.h"
#include "cox/reconcile.h"
#include "lib/enc.h"
#include "store/store.h"

#define WORKERS 8
#define HANDSHAKE_FRESH_S 180 /* a handshake younger than this means a live data plane */

/* ---- parallel jobs --------------------------------------------------------- */

struct job {
	struct store_node node;
	/* push input */
	bool do_status, do_push, do_restart;
	struct node_peer *peers;
	char (*keys)[ENC_KEY_BASE64_LEN];
	char (*psks)[ENC_KEY_BASE64_LEN];
	char (*ids)[24];
	char (*a4)[STORE_ADDR_MAX + 4];
	char (*a6)[STORE_ADDR_MAX + 4];
	size_t n_peers, cap;
	/* results */
	int status_r, push_r, restart_r;
	struct node_status ns;
	uint64_t applied;
	char err[512];
};

/* Jobs run on WORKERS threads. A push's peer set (10,000 peers are ~3 MB
 * with their protobuf) is read from the store on the calling thread just
 * before a worker needs it and dropped as soon as the node answered, so at
 * most HELD sets are in memory whatever the fleet size. */
#define HELD (WORKERS + 2)

struct pool {
	struct job *jobs;
	size_t n, next;
	size_t loaded;  /* jobs[0..loaded) have their input */
	size_t held;    /* loaded, not yet finished */
	bool stop;      /* the loader failed: jobs from `loaded` on are not run */
	pthread_mutex_t lock;
	pthread_cond_t cond;
	struct cox_tls *tls;
};

static void drop_peers(struct job *j)
{
	if (j->psks)
		sodium_memzero(j->psks, j->cap * sizeof(*j->psks));
	free(j->peers);
	free(j->keys);
	free(j->psks);
	free(j->ids);
	free(j->a4);
	free(j->a6);
	j->peers = NULL;
	j->keys = j->psks = NULL;
	j->ids = NULL;
	j->a4 = j->a6 = NULL;
	j->cap = 0; /* n_peers stays: it is reported */
}

static void run_job(struct cox_tls *tls, struct job *j)
{
	struct nodeclient *nc = NULL;
	int r = nodeclient_new(tls, j->node.name, j->node.control_host, j->node.control_port, &nc);
	if (r < 0) {
		j->status_r = j->push_r = j->restart_r = r;
		snprintf(j->err, sizeof(j->err), "%s", cox_strerror(r));
		return;
	}
	if (j->do_status)
		j->status_r = nodeclient_status(nc, &j->ns, j->err, sizeof(j->err));
	if (j->do_push && j->status_r == 0) {
		bool reloaded;
		j->push_r = nodeclient_push_awg(nc, j->node.intended_rev, j->peers, j->n_peers, &j->applied, &reloaded,
						j->err, sizeof(j->err));
	}
	if (j->do_restart && j->status_r == 0)
		j->restart_r = nodeclient_restart_awg(nc, j->err, sizeof(j->err));
	nodeclient_free(nc);
}

static void *worker(void *arg)
{
	struct pool *p = arg;
	pthread_mutex_lock(&p->lock);
	for (;;) {
		while (p->next < p->n && p->next >= p->loaded && !p->stop)
			pthread_cond_wait(&p->cond, &p->lock);
		if (p->next >= p->n || p->next >= p->loaded)
			break;
		struct job *j = &p->jobs[p->next++];
		pthread_mutex_unlock(&p->lock);
		run_job(p->tls, j);
		drop_peers(j);
		pthread_mutex_lock(&p->lock);
		p->held--;
		pthread_cond_broadcast(&p->cond);
	}
	pthread_mutex_unlock(&p->lock);
	return NULL;
}

/* Runs every job; load (may be NULL) prepares a job's input on this thread
 * (the store is not shared across threads), in order, at most HELD ahead of
 * the finished ones. If load fails, the jobs not loaded yet are not run:
 * they get its error. Returns load's first error, else 0. */
static int run_all(struct cox_tls *tls, struct job *jobs, size_t n, int (*load)(void *arg, struct job *j),
		   void *arg)
{
	struct pool p = { .jobs = jobs, .n = n, .tls = tls, .loaded = load ? 0 : n, .held = load ? 0 : n };
	pthread_t th[WORKERS];
	size_t nt = n < WORKERS ? n : WORKERS, started = 0;
	int r = 0;
	pthread_mutex_init(&p.lock, NULL);
	pthread_cond_init(&p.cond, NULL);
	for (size_t i = 0; i < nt; i++)
		if (pthread_create(&th[i], NULL, worker, &p) == 0)
			started++;
	if (!started) {
		/* No thread could start: one job after the other, here. */
		for (size_t i = 0; i < n && r == 0; i++) {
			if (load && (r = load(arg, &jobs[i])) < 0)
				break;
			p.loaded = i + 1;
			run_job(tls, &jobs[i]);
			drop_peers(&jobs[i]);
		}
		if (!load)
			p.loaded = n;
	}
	for (size_t i = 0; started && load && i < n; i++) {
		pthread_mutex_lock(&p.lock);
		while (p.held >= HELD)
			pthread_cond_wait(&p.cond, &p.lock);
		pthread_mutex_unlock(&p.lock);
		r = load(arg, &jobs[i]);
		pthread_mutex_lock(&p.lock);
		if (r < 0) {
			p.stop = true;
		} else {
			p.loaded++;
			p.held++;
		}
		pthread_cond_broadcast(&p.cond);
		pthread_mutex_unlock(&p.lock);
		if (r < 0)
			break;
	}
	for (size_t i = 0; i < started; i++)
		pthread_join(th[i], NULL);
	for (size_t i = p.loaded; i < n; i++) {
		jobs[i].status_r = jobs[i].push_r = jobs[i].restart_r = r;
		snprintf(jobs[i].err, sizeof(jobs[i].err), "its peer set could not be read: %s", cox_strerror(r));
	}
	pthread_cond_destroy(&p.cond);
	pthread_mutex_destroy(&p.lock);
	return r;
}

static void job_fini(struct job *j)
{
	drop_peers(j);
	node_status_fini(&j->ns);
	store_node_fini(&j->node);
}

/* ---- building a node's peer set from the store ----------------------------- */

static int add_peer(void *arg, const struct store_peer *p)
{
	struct job *j = arg;
	if (j->n_peers == j->cap) {
		size_t cap = j->cap ? 2 * j->cap : 64;
#define GROW(f)                                                         \
	do {                                                            \
		void *nf = realloc(j->f, cap * sizeof(*j->f));          \
		if (!nf)                                                \
			return -ENOMEM;                                 \
		j->f = nf;                                              \
	} while (0)
		/* PSKs move to a fresh buffer so the old one can be wiped. */
		char (*np)[ENC_KEY_BASE64_LEN] = calloc(cap, sizeof(*np));
		if (!np)
			return -ENOMEM;
		if (j->psks) {
			memcpy(np, j->psks, j->cap * sizeof(*np));
			sodium_memzero(j->psks, j->cap * sizeof(*np));
			free(j->psks);
		}
		j->psks = np;
		GROW(peers);
		GROW(keys);
		GROW(ids);
		GROW(a4);
		GROW(a6);
#undef GROW
		j->cap = cap;
	}
	size_t i = j->n_peers++;
	enc_key_to_base64(j->keys[i], p->awg_public);
	enc_key_to_base64(j->psks[i], p->psk);
	snprintf(j->ids[i], sizeof(j->ids[i]), "dev-%lld", (long long)p->device_id);
	snprintf(j->a4[i], sizeof(j->a4[i]), "%s/32", p->addr4);
	snprintf(j->a6[i], sizeof(j->a6[i]), "%s/128", p->addr6);
	return 0;
}

/* Pointers are set once all rows are in (the arrays may have moved). */
static void link_peers(struct job *j)
{
	for (size_t i = 0; i < j->n_peers; i++) {
		struct node_peer *np = &j->peers[i];
		np->id = j->ids[i];
		np->public_key = j->keys[i];
		np->preshared_key = j->psks[i];
		np->allowed_ips[0] = j->a4[i];
		np->allowed_ips[1] = j->a6[i];
		np->n_allowed = 2;
	}
}

static int load_peers(struct store *st, struct job *j)
{
	j->n_peers = 0;
	int r = store_node_peers(st, j->node.id, add_peer, j);
	if (r == 0)
		link_peers(j);
	return r;
}

/* run_all's loader: the peer set of a job that pushes. */
static int load_job(void *arg, struct job *j)
{
	return j->do_push ? load_peers(arg, j) : 0;
}

/* ---- recording results ---------------------------------------------------- */

/* Re-reads the node and applies fn to it until the versioned write holds. */
static int update_node(struct store *st, const char *name, void (*fn)(struct store_node *n, void *arg), void *arg)
{
	for (int attempt = 0; attempt < 5; attempt++) {
		struct store_node n;
		store_node_init(&n);
		int r = store_node_get(st, name, &n);
		if (r == 0) {
			fn(&n, arg);
			r = store_node_update(st, &n);
		}
		store_node_fini(&n);
		if (r != ERR_CONFLICT)
			return r;
	}
	return ERR_CONFLICT;
}

struct seen {
	int64_t now;
	uint64_t applied;   /* 0: unchanged */
	bool reached;
	uint32_t miss_limit;
	int64_t stale_heal; /* 0: unchanged */
	bool became_unreachable, healed;
};

static void mark_seen(struct store_node *n, void *arg)
{
	struct seen *s = arg;
	if (s->reached) {
		s->healed = n->state == STORE_NODE_UNREACHABLE;
		if (n->state == STORE_NODE_UNREACHABLE || n->state == STORE_NODE_PENDING)
			n->state = STORE_NODE_ACTIVE;
		n->misses = 0;
		n->last_seen = s->now;
		if (s->applied)
			n->applied_rev = s->applied;
		if (s->stale_heal)
			n->last_stale_heal = s->stale_heal;
	} else {
		n->misses++;
		if (n->misses >= s->miss_limit && n->state == STORE_NODE_ACTIVE) {
			n->state = STORE_NODE_UNREACHABLE;
			s->became_unreachable = true;
		}
	}
}

static int64_t now_s(void)
{
	return (int64_t)time(NULL);
}

/* ---- cox_push_nodes --------------------------------------------------------- */

struct collect {
	struct job *jobs;
	size_t n, cap;
	const char *only;
	int err;
};

static int collect_cb(void *arg, const struct store_node *n)
{
	struct collect *cl = arg;
	if (cl->only && strcmp(cl->only, n->name))
		return 0;
	if (n->state == STORE_NODE_STOPPED || n->state == STORE_NODE_PENDING || !n->has_awg_public)
		return 0;
	if (cl->n == cl->cap) {
		size_t cap = cl->cap ? 2 * cl->cap : 16;
		struct job *nj = realloc(cl->jobs, cap * sizeof(*nj));
		if (!nj)
			return -ENOMEM;
		cl->jobs = nj;
		cl->cap = cap;
	}
	struct job *j = &cl->jobs[cl->n];
	memset(j, 0, sizeof(*j));
	store_node_init(&j->node);
	/* Copy the row; obfuscation is not needed here. */
	char *obf = j->node.obfuscation;
	j->node = *n;
	j->node.obfuscation = obf;
	cl->n++;
	return 0;
}

static int collect_nodes(struct store *st, const char *only, struct job **jobs, size_t *n)
{
	struct collect cl = { .only = only };
	int r = store_nodes_list(st, collect_cb, &cl);
	if (r < 0) {
		for (size_t i = 0; i < cl.n; i++)
			job_fini(&cl.jobs[i]);
		free(cl.jobs);
		return r;
	}
	*jobs = cl.jobs;
	*n = cl.n;
	return 0;
}

int cox_push_nodes(struct cox *c, const char *node_id)
{
	struct store *st;
	struct cox_tls *tls = NULL;
	struct job *jobs = NULL;
	size_t n = 0, failed = 0;
	int r = cox_store(c, &st);
	if (r < 0)
		return r;
	if ((r = store_node_bump_intended(st, node_id)) < 0 && r != ERR_NOTFOUND) {
		cox_fail(c, "cannot bump the node revisions: %s", cox_strerror(r));
		return r;
	}
	if ((r = collect_nodes(st, node_id, &jobs, &n)) < 0)
		return cox_fail(c, "cannot list nodes: %s", cox_strerror(r)), r;
	if (!n)
		goto out;
	for (size_t i = 0; i < n; i++) {
		jobs[i].do_status = true;
		jobs[i].do_push = true;
	}
	if ((r = cox_tls_new(c, &tls)) < 0) {
		cox_fail(c, "cannot load the controller certificate: %s", cox_strerror(r));
		goto out;
	}
	if ((r = run_all(tls, jobs, n, load_job, st)) < 0)
		cox_fail(c, "cannot read the peers of the nodes: %s", cox_strerror(r));
	/* One transaction for the results: one disk sync, not one per node. */
	int lr = r;
	if ((r = store_begin(st)) < 0)
		goto out;
	for (size_t i = 0; i < n; i++) {
		struct job *j = &jobs[i];
		struct seen s = { .now = now_s(), .miss_limit = c->cfg.miss_limit };
		if (j->status_r == 0 && j->push_r == 0) {
			s.reached = true;
			s.applied = j->applied;
			fprintf(c->out, "pushed revision %llu to node %s (%zu peers)\n",
				(unsigned long long)j->applied, j->node.name, j->n_peers);
		} else {
			failed++;
			s.reached = j->status_r == 0;
			fprintf(c->out, "node %s: not pushed now (%s); the reconcile sweep will retry\n", j->node.name,
				j->err);
		}
		int ur = update_node(st, j->node.name, mark_seen, &s);
		if (ur < 0 && ur != ERR_NOTFOUND && r == 0)
			r = ur;
	}
	if (r < 0)
		store_rollback(st);
	else
		r = store_commit(st);
	if (r == 0)
		r = lr;
	if (r == 0 && failed)
		r = -EAGAIN;
out:
	for (size_t i = 0; i < n; i++)
		job_fini(&jobs[i]);
	free(jobs);
	cox_tls_free(tls);
	return r;
}

/* ---- the sweep -------------------------------------------------------------- */

#define BACKOFF_MAX_SWEEPS 8

struct backoff {
	char name[STORE_NAME_MAX + 1];
	int64_t next_try;
};

struct reconcile {
	struct cox *c;
	struct backoff *bo;
	size_t n_bo, cap_bo;
};

int reconcile_new(struct cox *c, struct reconcile **out)
{
	*out = calloc(1, sizeof(**out));
	if (!*out)
		return -ENOMEM;
	(*out)->c = c;
	return 0;
}

void reconcile_free(struct reconcile *rc)
{
	if (!rc)
		return;
	free(rc->bo);
	free(rc);
}

static struct backoff *backoff_get(struct reconcile *rc, const char *name, bool create)
{
	for (size_t i = 0; i < rc->n_bo; i++)
		if (!strcmp(rc->bo[i].name, name))
			return &rc->bo[i];
	if (!create)
		return NULL;
	if (rc->n_bo == rc->cap_bo) {
		size_t cap = rc->cap_bo ? 2 * rc->cap_bo : 16;
		struct backoff *nb = realloc(rc->bo, cap * sizeof(*nb));
		if (!nb)
			return NULL;
		rc->bo = nb;
		rc->cap_bo = cap;
	}
	struct backoff *b = &rc->bo[rc->n_bo++];
	snprintf(b->name, sizeof(b->name), "%s", name);
	b->next_try = 0;
	return b;
}

int reconcile_sweep(struct reconcile *rc, struct sweep_stats *stats)
{
	struct cox *c = rc->c;
	struct store *st;
	struct cox_tls *tls = NULL;
	struct job *jobs = NULL;
	size_t n = 0;
	bool in_tx = false;
	memset(stats, 0, sizeof(*stats));
	int r = cox_store(c, &st);
	if (r < 0)
		return r;
	if ((r = collect_nodes(st, NULL, &jobs, &n)) < 0)
		return r;
	if ((r = cox_tls_new(c, &tls)) < 0)
		goto out;
	int64_t now = now_s();
	/* Phase 1: status of every node due for a try. */
	for (size_t i = 0; i < n; i++) {
		struct backoff *b = backoff_get(rc, jobs[i].node.name, false);
		jobs[i].do_status = !(b && b->next_try > now);
	}
	size_t k = 0;
	struct job *due = calloc(n ? n : 1, sizeof(*due));
	if (!due) {
		r = -ENOMEM;
		goto out;
	}
	/* run only the due ones, in place */
	for (size_t i = 0; i < n; i++)
		if (jobs[i].do_status)
			due[k++] = jobs[i];
	(void)run_all(tls, due, k, NULL, NULL);
	for (size_t i = 0, d = 0; i < n; i++)
		if (jobs[i].do_status)
			jobs[i] = due[d++];
	free(due);

	/* Phase 2: decide, record, and collect heals, in one transaction (one
	 * disk sync for the whole fleet). */
	stats->nodes = (unsigned)n;
	if ((r = store_begin(st)) < 0)
		goto out;
	in_tx = true;
	for (size_t i = 0; i < n; i++) {
		struct job *j = &jobs[i];
		if (!j->do_status) {
			stats->skipped++;
			continue;
		}
		struct seen s = { .now = now, .miss_limit = c->cfg.miss_limit, .reached = j->status_r == 0 };
		if (j->status_r == 0) {
			stats->reachable++;
			int64_t expected = 0;
			if ((r = store_node_peer_count(st, j->node.id, &expected)) < 0)
				goto out;
			bool behind = j->ns.applied_revision < j->node.intended_rev;
			bool drift = (int64_t)j->ns.peer_count != expected;
			if (behind || drift) {
				fprintf(c->out, "node %s: %s (applied %llu, intended %llu, %u peers on the node, %lld intended); pushing\n",
					j->node.name, behind ? "behind" : "peer set drifted",
					(unsigned long long)j->ns.applied_revision, (unsigned long long)j->node.intended_rev,
					j->ns.peer_count, (long long)expected);
				/* A drifted node at the intended revision would take an
				 * equal revision as a no-op: move past it. */
				if (!behind || j->ns.applied_revision >= j->node.intended_rev) {
					if ((r = store_node_bump_intended(st, j->node.name)) < 0)
						goto out;
					j->node.intended_rev++;
				}
				if (j->ns.applied_revision >= j->node.intended_rev) {
					/* the node is ahead (restored database): jump past it */
					while (j->node.intended_rev <= j->ns.applied_revision) {
						if ((r = store_node_bump_intended(st, j->node.name)) < 0)
							goto out;
						j->node.intended_rev++;
					}
				}
				j->do_push = true; /* its peers are read when a worker is free */
				j->do_status = false;
			} else if (j->ns.peer_count > 0 && j->ns.handshaking_peers == 0 &&
				   (j->ns.newest_handshake_age < 0 || j->ns.newest_handshake_age > HANDSHAKE_FRESH_S) &&
				   now - j->node.last_stale_heal >= (int64_t)c->cfg.stale_seconds) {
				fprintf(c->out, "node %s: %u peers and none handshaking; restarting its data plane\n",
					j->node.name, j->ns.peer_count);
				j->do_restart = true;
				j->do_status = false;
				s.stale_heal = now;
			}
			struct backoff *b = backoff_get(rc, j->node.name, false);
			if (b)
				b->next_try = 0;
		} else {
			stats->unreachable++;
		}
		int ur = update_node(st, j->node.name, mark_seen, &s);
		if (ur < 0 && ur != ERR_NOTFOUND) {
			r = ur;
			goto out;
		}
		if (s.healed)
			fprintf(c->out, "node %s: reachable again\n", j->node.name);
		if (!s.reached) {
			fprintf(c->out, "node %s: no answer (%s), miss %u\n", j->node.name, j->err, j->node.misses + 1);
			if (s.became_unreachable)
				fprintf(c->out, "node %s: marked unreachable after %u misses\n", j->node.name,
					c->cfg.miss_limit);
			if (j->node.misses + 1 >= c->cfg.miss_limit) {
				/* Back off: 2, 4, ... up to 8 sweep intervals between tries. */
				unsigned over = j->node.misses + 1 - c->cfg.miss_limit;
				unsigned mult = over >= 3 ? BACKOFF_MAX_SWEEPS : 1u << (over + 1);
				struct backoff *b = backoff_get(rc, j->node.name, true);
				if (b)
					b->next_try = now + (int64_t)mult * c->cfg.sweep_seconds - 1;
			}
		}
	}

	in_tx = false;
	if ((r = store_commit(st)) < 0)
		goto out;

	/* Phase 3: pushes and restarts. */
	size_t m = 0;
	for (size_t i = 0; i < n; i++)
		if (jobs[i].do_push || jobs[i].do_restart)
			m++;
	if (m) {
		struct job *heal = calloc(m, sizeof(*heal));
		if (!heal) {
			r = -ENOMEM;
			goto out;
		}
		size_t h = 0;
		for (size_t i = 0; i < n; i++) {
			if (!(jobs[i].do_push || jobs[i].do_restart))
				continue;
			heal[h] = jobs[i];
			heal[h].status_r = 0; /* run_job pushes only after a good status */
			h++;
		}
		(void)run_all(tls, heal, m, load_job, st);
		if ((r = store_begin(st)) < 0) {
			free(heal);
			goto out;
		}
		in_tx = true;
		for (size_t i = 0, d = 0; i < n; i++) {
			if (!(jobs[i].do_push || jobs[i].do_restart))
				continue;
			jobs[i] = heal[d++];
			struct job *j = &jobs[i];
			if (j->do_push) {
				struct seen s = { .now = now, .miss_limit = c->cfg.miss_limit, .reached = j->push_r == 0,
						  .applied = j->applied };
				if (j->push_r == 0) {
					stats->pushed++;
					fprintf(c->out, "node %s: healed, revision %llu applied (%zu peers)\n", j->node.name,
						(unsigned long long)j->applied, j->n_peers);
					(void)(update_node(st, j->node.name, mark_seen, &s) < 0);
				} else {
					stats->failed++;
					fprintf(c->out, "node %s: push failed: %s\n", j->node.name, j->err);
				}
			} else if (j->restart_r == 0) {
				stats->healed_stale++;
			} else {
				stats->failed++;
				fprintf(c->out, "node %s: restart failed: %s\n", j->node.name, j->err);
			}
		}
		free(heal);
		in_tx = false;
		if ((r = store_commit(st)) < 0)
			goto out;
	}
	r = 0;
out:
	if (in_tx)
		store_rollback(st);
	for (size_t i = 0; i < n; i++)
		job_fini(&jobs[i]);
	free(jobs);
	cox_tls_free(tls);
	return r;
}
