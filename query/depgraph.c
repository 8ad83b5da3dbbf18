/*
 * depgraph.c — the in-memory dependency graph (st_depgraph) and the node-id
 * containers the traversals share (traverse_int.h).
 *
 * The depgraph is a CSR of "who needs u" over every dependency edge type,
 * built from two full adjacency scans per pass (IN for forward types, OUT
 * for reverse types): one pass counts, the second fills.  Each entry is a
 * 32-bit node id plus one byte of type and stored direction, 5 bytes per
 * dependency edge, so a blast radius walks flat arrays instead of B-tree
 * cursors.  It is immutable after building and holds no snapshot pointers.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "traverse_int.h"

/* ------------------------------------------------------------ depgraph */

struct dg_ctx {
	st_depgraph *g;
	st__tmap tm;
	st_edge_set mask; /* forward types for IN, reverse types for OUT */
	uint8_t fwd_flag;
	uint32_t *fill; /* NULL in the counting pass */
	uint64_t total;
	int err;
};

static int dg_cb(st_id node, const void *vals, size_t n, void *ctx)
{
	struct dg_ctx *c = ctx;
	st_depgraph *g = c->g;
	if (node >= g->bound) {
		c->err = 1;
		return ST_E_STORE;
	}
	if (!c->fill) {
		uint32_t k = 0;
		for (size_t i = 0; i < n; i++) {
			int t = st__tmap_type(&c->tm, st_adj_at(vals, i));
			if (t >= 0 && t < 64 && ((c->mask >> t) & 1))
				k++;
		}
		g->off[node] += k;
		c->total += k;
		return 0;
	}
	uint32_t pos = c->fill[node];
	for (size_t i = 0; i < n; i++) {
		uint64_t v = st_adj_at(vals, i);
		int t = st__tmap_type(&c->tm, v);
		if (t >= 0 && t < 64 && ((c->mask >> t) & 1)) {
			st_id w = st_adj_node(v);
			if (w == ST_ID_NONE || w >= g->bound) { /* readers rely on it */
				c->err = 1;
				return ST_E_STORE;
			}
			g->ent_node[pos] = w;
			g->ent_meta[pos] = (uint8_t)((unsigned)t | c->fwd_flag);
			pos++;
		}
	}
	c->fill[node] = pos;
	return 0;
}

static int dg_scan(st_snap *s, struct dg_ctx *c, st_edge_set fwd, st_edge_set rev)
{
	int r = 0;
	if (fwd) {
		c->mask = fwd;
		c->fwd_flag = ST__DG_FWD;
		if ((r = st_snap_adj_scan(s, ST_IN, dg_cb, c)))
			return r;
	}
	if (rev) {
		c->mask = rev;
		c->fwd_flag = 0;
		r = st_snap_adj_scan(s, ST_OUT, dg_cb, c);
	}
	return r;
}

int st_depgraph_build(st_snap *s, st_depgraph **ret, st_diag *diag)
{
	const st_schema *sc = st__snap_schema(s);
	st_edge_set all;
	int r = st__dep_set_check(sc, 0, &all, diag);
	if (r)
		return r;
	st_edge_set fwd, rev;
	st__dep_masks(sc, &fwd, &rev);

	st_depgraph *g = st_xcalloc(1, sizeof(*g));
	g->revision = st_snap_revision(s);
	g->bound = st_snap_id_bound(s);
	g->off = st_xcalloc((size_t)g->bound + 1, sizeof(uint32_t));
	struct dg_ctx c = {.g = g};
	st__tmap_init(&c.tm, s);

	/* pass 1: count each node's dependents into off[node] */
	if ((r = dg_scan(s, &c, fwd, rev)))
		goto fail;
	if (c.total > UINT32_MAX) {
		r = st_diag_set(diag, ST_E_LIMIT, "%llu dependency edges; the depgraph holds at most %u",
				(unsigned long long)c.total, UINT32_MAX);
		goto fail;
	}
	/* exclusive prefix sums: off[u] = start of u's list */
	uint32_t acc = 0;
	for (size_t u = 0; u <= g->bound; u++) {
		uint32_t k = g->off[u];
		g->off[u] = acc;
		acc += k;
	}
	g->n_ent = acc;
	g->ent_node = st_xmalloc((acc ? acc : 1) * sizeof(uint32_t));
	g->ent_meta = st_xmalloc(acc ? acc : 1);

	/* pass 2: fill, in the same scan order as pass 1 */
	c.fill = st_xmalloc(((size_t)g->bound + 1) * sizeof(uint32_t));
	memcpy(c.fill, g->off, ((size_t)g->bound + 1) * sizeof(uint32_t));
	c.total = 0;
	r = dg_scan(s, &c, fwd, rev);
	if (!r) {
		/* the snapshot cannot change between passes; check anyway */
		for (size_t u = 0; u < g->bound; u++)
			if (c.fill[u] != g->off[u + 1]) {
				r = ST_E_STORE;
				break;
			}
	}
	free(c.fill);
	if (r)
		goto fail;
	*ret = g;
	return 0;
fail:
	if (r == ST_E_STORE && c.err)
		st_diag_set(diag, r, "adjacency names a node beyond the snapshot's id bound");
	else if (r == ST_E_STORE)
		st_diag_set(diag, r, "reading adjacency for the dependency graph failed");
	st_depgraph_free(g);
	return r;
}

uint64_t st_depgraph_revision(const st_depgraph *g)
{
	return g->revision;
}

void st_depgraph_free(st_depgraph *g)
{
	if (!g)
		return;
	free(g->off);
	free(g->ent_node);
	free(g->ent_meta);
	free(g);
}

/* ------------------------------------------------------------- id sets */

void st__idset_init(st__idset *s, st_id bound)
{
	s->cap = 64;
	s->tab = st_xcalloc(s->cap, sizeof(uint32_t));
	s->n = 0;
	s->bits = NULL;
	s->bound = bound;
	s->ext = false;
}

void st__idset_init_bits(st__idset *s, st_id bound, uint64_t *bits)
{
	s->tab = NULL;
	s->cap = 0;
	s->n = 0;
	s->bits = bits;
	s->bound = bound;
	s->ext = true;
}

void st__idset_free(st__idset *s)
{
	free(s->tab);
	if (!s->ext)
		free(s->bits);
	s->tab = NULL;
	s->bits = NULL;
}

static void idset_to_bits(st__idset *s)
{
	s->bits = st_xcalloc(((size_t)s->bound >> 6) + 1, sizeof(uint64_t));
	for (size_t i = 0; i < s->cap; i++)
		if (s->tab[i])
			s->bits[s->tab[i] >> 6] |= 1ull << (s->tab[i] & 63);
	free(s->tab);
	s->tab = NULL;
	s->cap = 0;
}

static void idset_rehash(st__idset *s, size_t cap)
{
	uint32_t *old = s->tab;
	size_t oldcap = s->cap;
	s->cap = cap;
	s->tab = st_xcalloc(cap, sizeof(uint32_t));
	size_t mask = cap - 1;
	for (size_t i = 0; i < oldcap; i++) {
		uint32_t k = old[i];
		if (!k)
			continue;
		size_t j = ((uint32_t)(k * 2654435761u)) & mask;
		while (s->tab[j])
			j = (j + 1) & mask;
		s->tab[j] = k;
	}
	free(old);
}

void st__idset_reserve(st__idset *s, size_t more)
{
	if (s->bits)
		return;
	size_t want = s->n + more;
	if (want > ST__IDSET_SMALL) {
		idset_to_bits(s);
		return;
	}
	size_t cap = s->cap;
	while (want * 2 > cap)
		cap *= 2;
	if (cap != s->cap)
		idset_rehash(s, cap);
}

void st__idset_grow(st__idset *s)
{
	if (s->n > ST__IDSET_SMALL)
		idset_to_bits(s);
	else
		idset_rehash(s, s->cap * 2);
}

/* ------------------------------------------------------------- id maps */

void st__idmap_init(st__idmap *m)
{
	m->cap = 64;
	m->n = 0;
	m->keys = st_xcalloc(m->cap, sizeof(uint32_t));
	m->vals = st_xmalloc(m->cap * sizeof(uint32_t));
}

void st__idmap_free(st__idmap *m)
{
	free(m->keys);
	free(m->vals);
	m->keys = m->vals = NULL;
}

static size_t idmap_slot(const uint32_t *keys, size_t cap, st_id id)
{
	size_t mask = cap - 1, i = ((uint32_t)(id * 2654435761u)) & mask;
	while (keys[i] && keys[i] != id)
		i = (i + 1) & mask;
	return i;
}

uint32_t *st__idmap_get(const st__idmap *m, st_id id)
{
	size_t i = idmap_slot(m->keys, m->cap, id);
	return m->keys[i] ? &m->vals[i] : NULL;
}

bool st__idmap_put(st__idmap *m, st_id id, uint32_t val)
{
	size_t i = idmap_slot(m->keys, m->cap, id);
	if (m->keys[i])
		return false;
	m->keys[i] = id;
	m->vals[i] = val;
	if (++m->n * 2 <= m->cap)
		return true;
	size_t oc = m->cap;
	uint32_t *ok = m->keys, *ov = m->vals;
	m->cap = oc * 2;
	m->keys = st_xcalloc(m->cap, sizeof(uint32_t));
	m->vals = st_xmalloc(m->cap * sizeof(uint32_t));
	for (size_t j = 0; j < oc; j++)
		if (ok[j]) {
			size_t k = idmap_slot(m->keys, m->cap, ok[j]);
			m->keys[k] = ok[j];
			m->vals[k] = ov[j];
		}
	free(ok);
	free(ov);
	return true;
}
