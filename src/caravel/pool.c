#include "caravel/pool.h"

#include <errno.h>

#include "profile/profile.h"

uint64_t caravel_pool_size(const struct profile_node *n)
{
	if (!n->n_endpoints || n->port_hi < n->port_lo || !n->port_lo)
		return 0;
	return (uint64_t)n->n_endpoints * ((uint64_t)n->port_hi - n->port_lo + 1);
}

int caravel_pool_at(const struct profile_node *n, uint64_t i, union endpoint *out)
{
	uint64_t ports = (uint64_t)n->port_hi - n->port_lo + 1;
	if (i >= caravel_pool_size(n))
		return ERR_RANGE;
	return endpoint_from_addr(out, &n->endpoints[i / ports], (uint16_t)(n->port_lo + i % ports));
}

int caravel_pool_pick(const struct profile_node *n, uint32_t r, const union endpoint *avoid, union endpoint *out)
{
	uint64_t size = caravel_pool_size(n);
	if (!size)
		return ERR_NOTFOUND;
	/* r scaled onto [0, size) (size <= 64 * 65536, so the product fits). */
	uint64_t i = ((uint64_t)r * size) >> 32;
	int rc = caravel_pool_at(n, i, out);
	if (rc == 0 && avoid && size > 1 && endpoint_equal(out, avoid))
		rc = caravel_pool_at(n, (i + 1 + (((uint64_t)r * (size - 1)) >> 32) % (size - 1)) % size, out);
	return rc;
}

uint64_t caravel_rotation_delay_ms(uint32_t interval_s, uint32_t jitter_s, uint32_t r)
{
	int64_t base = (int64_t)interval_s * 1000, j = (int64_t)jitter_s * 1000;
	/* Uniform offset in [-j, +j]. */
	int64_t off = j ? (int64_t)(((uint64_t)r * (uint64_t)(2 * j + 1)) >> 32) - j : 0;
	int64_t d = base + off;
	return d < 1000 ? 1000 : (uint64_t)d;
}

const struct profile_awg *caravel_node_awg(const struct profile_node *n)
{
	for (size_t i = 0; i < n->n_protocols; i++)
		if (n->protocols[i].type == PROFILE_PROTO_AMNEZIAWG)
			return &n->protocols[i].u.awg;
	return NULL;
}

long caravel_node_next(const struct profile *p, size_t from)
{
	for (size_t k = 0; k < p->n_nodes; k++) {
		size_t i = (from + k) % p->n_nodes;
		if (caravel_node_awg(&p->nodes[i]) && caravel_pool_size(&p->nodes[i]))
			return (long)i;
	}
	return -1;
}
