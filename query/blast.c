/*
 * blast.c — blast radius (DESIGN.md §4): every node that needs the root,
 * directly or through a chain of dependency edges, with its minimum
 * distance and one shortest path as evidence.
 *
 * A breadth-first search over "is needed by", level by level.  Each level
 * is sorted by node id before it is expanded, so a hit's `next` is the
 * smallest-id node one step closer to the root that it needs (ties between
 * edge types broken by adjacency order), and the result comes out ordered
 * by (distance, id) without a final sort.  Neighbours come either from the
 * store (IN adjacency of forward types, OUT adjacency of reverse types) or
 * from a prebuilt st_depgraph holding the same lists in the same order, so
 * both give identical results.  The visited set grows with the traversal
 * (traverse_int.h), never with the graph, until it is large.
 */
#include <stdlib.h>
#include <string.h>

#include "traverse_int.h"

typedef struct br_run {
	st_snap *s;
	const st_depgraph *g;
	st__tmap tm;
	st_edge_set fwd, rev; /* chosen forward / reverse dependency types */
	st_edge_set set;
	bool all;             /* the set is every dependency type */
	st_id bound;
	st__idset seen;
	st_br_hit *hits;
	size_t n, cap, max_nodes;
	st_diag *diag;
} br_run;

static int add_hit(br_run *b, st_id v, uint32_t dist, st_id next, int type, bool fwd)
{
	if (v >= b->bound || v == ST_ID_NONE)
		return st_diag_set(b->diag, ST_E_STORE, "adjacency of node %u names node %u beyond the id bound",
				   next, v);
	if (!st__idset_add(&b->seen, v))
		return 0;
	if (b->max_nodes && b->n >= b->max_nodes)
		return st_diag_set(b->diag, ST_E_LIMIT, "the blast radius has more than %zu nodes",
				   b->max_nodes);
	if (b->n == b->cap) {
		b->cap = b->cap ? b->cap * 2 : 64;
		b->hits = st_xrealloc(b->hits, b->cap * sizeof(st_br_hit));
	}
	st_br_hit *h = &b->hits[b->n++];
	h->id = v;
	h->distance = dist;
	h->next = next;
	h->edge_type = type;
	h->edge_forward = fwd;
	return 0;
}

/* Dependents of u through one adjacency direction of the store. */
static int expand_store_dir(br_run *b, st_id u, uint32_t dist, st_dir dir, st_edge_set mask)
{
	st_adj_iter it;
	int r;
	if (__builtin_popcountll(mask) == 1)
		r = st_snap_adj_open_type(b->s, dir, u, __builtin_ctzll(mask), &it);
	else
		r = st_snap_adj_open(b->s, dir, u, &it);
	if (r)
		return st_diag_set(b->diag, ST_E_STORE, "cannot read the adjacency of node %u", u);
	const void *vals;
	size_t n;
	bool fwd = dir == ST_IN;
	while ((r = st_adj_next(&it, &vals, &n)) == 1) {
		for (size_t i = 0; i < n; i++) {
			uint64_t v = st_adj_at(vals, i);
			int t = st__tmap_type(&b->tm, v);
			if (t < 0 || t >= 64 || !((mask >> t) & 1))
				continue;
			if ((r = add_hit(b, st_adj_node(v), dist, u, t, fwd)))
				goto out;
		}
	}
	if (r < 0)
		r = st_diag_set(b->diag, ST_E_STORE, "cannot read the adjacency of node %u", u);
out:
	st_adj_close(&it);
	return r;
}

static int expand(br_run *b, st_id u, uint32_t dist)
{
	int r = 0;
	if (b->g) {
		const st_depgraph *g = b->g;
		if (u >= g->bound)
			return 0;
		for (uint32_t i = g->off[u], e = g->off[u + 1]; i < e; i++) {
			unsigned m = g->ent_meta[i];
			int t = (int)(m & ST__DG_TYPE);
			if (!b->all && !((b->set >> t) & 1))
				continue;
			if ((r = add_hit(b, g->ent_node[i], dist, u, t, (m & ST__DG_FWD) != 0)))
				return r;
		}
		return 0;
	}
	if (b->fwd && (r = expand_store_dir(b, u, dist, ST_IN, b->fwd)))
		return r;
	if (b->rev && (r = expand_store_dir(b, u, dist, ST_OUT, b->rev)))
		return r;
	return 0;
}

/* Sort hits[from, to) by id (one BFS level: all the same distance). */
static void sort_level(br_run *b, size_t from, size_t to)
{
	size_t n = to - from;
	if (n < 2)
		return;
	st_br_hit *h = b->hits + from;
	bool sorted = true;
	for (size_t i = 1; i < n && sorted; i++)
		sorted = h[i - 1].id < h[i].id;
	if (sorted)
		return;
	uint64_t *keys = st_xmalloc(n * sizeof(uint64_t));
	for (size_t i = 0; i < n; i++)
		keys[i] = (uint64_t)h[i].id << 32 | i;
	st__sort_keys(keys, n);
	st_br_hit *tmp = st_xmalloc(n * sizeof(st_br_hit));
	for (size_t i = 0; i < n; i++)
		tmp[i] = h[(uint32_t)keys[i]];
	memcpy(h, tmp, n * sizeof(st_br_hit));
	free(tmp);
	free(keys);
}

int st_blast_radius(st_snap *s, st_id root, const st_br_opts *opts, st_br_result **ret,
		    st_diag *diag)
{
	static const st_br_opts defaults = {0};
	if (!opts)
		opts = &defaults;
	const st_schema *sc = st__snap_schema(s);
	br_run b = {.s = s, .g = opts->graph, .max_nodes = opts->max_nodes, .diag = diag};
	int r = st__dep_set_check(sc, opts->edges, &b.set, diag);
	if (r)
		return r;
	st_edge_set fwd, rev;
	st__dep_masks(sc, &fwd, &rev);
	b.all = b.set == (fwd | rev);
	b.fwd = b.set & fwd;
	b.rev = b.set & rev;
	if (b.g && b.g->revision != st_snap_revision(s))
		return st_diag_set(diag, ST_E_INVALID,
				   "the dependency graph is of revision %llu, the snapshot of revision %llu",
				   (unsigned long long)b.g->revision,
				   (unsigned long long)st_snap_revision(s));
	st_node node;
	if (root == ST_ID_NONE || st_snap_node(s, root, &node))
		return st_diag_set(diag, ST_E_NOTFOUND, "no node with numeric id %u", root);
	b.bound = st_snap_id_bound(s);
	st__tmap_init(&b.tm, s);
	st__idset_init(&b.seen, b.bound);
	st__idset_add(&b.seen, root);

	uint32_t depth = opts->depth;
	size_t from = 0, to = 0;
	uint32_t dist = 0;
	r = expand(&b, root, 1);
	while (!r) {
		from = to;
		to = b.n;
		dist++;
		if (from == to)
			break;
		sort_level(&b, from, to);
		if (depth && dist >= depth)
			break;
		for (size_t i = from; i < to && !r; i++)
			r = expand(&b, b.hits[i].id, dist + 1);
	}
	st__idset_free(&b.seen);
	if (r) {
		free(b.hits);
		return r;
	}
	st_br_result *res = st_xcalloc(1, sizeof(*res));
	res->root = root;
	res->hits = b.hits;
	res->n_hits = b.n;
	res->max_distance = b.n ? b.hits[b.n - 1].distance : 0;
	*ret = res;
	return 0;
}

static const st_br_hit *find_hit(const st_br_result *r, uint32_t dist, st_id id)
{
	uint64_t key = (uint64_t)dist << 32 | id;
	size_t lo = 0, hi = r->n_hits;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		const st_br_hit *h = &r->hits[mid];
		uint64_t k = (uint64_t)h->distance << 32 | h->id;
		if (k == key)
			return h;
		if (k < key)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}

size_t st_br_path(const st_br_result *r, size_t i, st_id *out)
{
	if (!r || i >= r->n_hits)
		return 0;
	const st_br_hit *h = &r->hits[i];
	size_t k = 0;
	out[k++] = h->id;
	while (h->distance > 1) {
		h = find_hit(r, h->distance - 1, h->next);
		if (!h)
			return 0; /* not a result of st_blast_radius */
		out[k++] = h->id;
	}
	out[k++] = r->root;
	return k;
}

void st_br_result_free(st_br_result *r)
{
	if (!r)
		return;
	free(r->hits);
	free(r);
}
