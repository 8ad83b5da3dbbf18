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
 * (traverse_int.h), never with the graph, until it is large; or it is the
 * caller's bitmap (st_br_opts.scratch), cleared again through the hits.
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
	/* store reads only: which types to read for a node, from the schema's
	 * endpoint rules and the edge type the node was reached by
	 * (index 64: the root, by its node type) */
	st_edge_set in_of[65], out_of[65];
	int order[64]; /* schema dependency types in store type order */
	int n_order;
	st_br_hit *hits;
	size_t n, cap, max_nodes;
	size_t limit;  /* max_nodes, or SIZE_MAX for none */
	st_id stray;   /* visited but not a hit (the node past max_nodes) */
	st_diag *diag;
	/* depgraph reads: each level's [off[u], off[u + 1]) pairs */
	uint32_t *rng;
	size_t rng_cap;
	/* sorting a level */
	st_br_hit *tmp;
	size_t tmp_cap;
	/* store reads: one cursor per direction for the whole run, re-aimed
	 * with st_adj_reset (opening a cursor per node allocates) */
	st_adj_iter it[2];
	bool it_open[2];
} br_run;

/* The run's iterator for a direction, aimed at (u, type or -1). */
static st_adj_iter *aim(br_run *b, st_dir dir, st_id u, int type)
{
	st_adj_iter *it = &b->it[dir];
	if (!b->it_open[dir]) {
		if (st_snap_adj_open(b->s, dir, u, it))
			return NULL;
		b->it_open[dir] = true;
	}
	return st_adj_reset(it, b->s, u, type) ? NULL : it;
}

static int over_limit(br_run *b, st_id v)
{
	b->stray = v;
	return st_diag_set(b->diag, ST_E_LIMIT, "the blast radius has more than %zu nodes", b->max_nodes);
}

static int add_hit(br_run *b, st_id v, uint32_t dist, st_id next, int type, bool fwd)
{
	if (v >= b->bound || v == ST_ID_NONE)
		return st_diag_set(b->diag, ST_E_STORE, "adjacency of node %u names node %u beyond the id bound",
				   next, v);
	if (!st__idset_add(&b->seen, v))
		return 0;
	if (b->n >= b->limit)
		return over_limit(b, v);
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

/* Read the values of one adjacency cursor, adding the dependents among them. */
static int read_adj(br_run *b, st_adj_iter *it, st_id u, uint32_t dist, st_edge_set mask, bool fwd)
{
	const void *vals;
	size_t n;
	int r;
	while ((r = st_adj_next(it, &vals, &n)) == 1) {
		for (size_t i = 0; i < n; i++) {
			uint64_t v = st_adj_at(vals, i);
			int t = st__tmap_type(&b->tm, v);
			if (t < 0 || t >= 64 || !((mask >> t) & 1))
				continue;
			if ((r = add_hit(b, st_adj_node(v), dist, u, t, fwd)))
				return r;
		}
	}
	if (r < 0)
		return st_diag_set(b->diag, ST_E_STORE, "cannot read the adjacency of node %u", u);
	return 0;
}

/* Dependents of u through one adjacency direction of the store, over the
 * types in mask.  A few types: one positioned cursor per type, in store
 * type order (so values come in the same order as a full sweep); more:
 * one sweep of all the node's values, filtered.  A cursor seek costs about
 * as much as sweeping a few dozen values, and nodes with many edges of
 * other types (a service's calls out) make the sweep the slower choice. */
static int expand_store_dir(br_run *b, st_id u, uint32_t dist, st_dir dir, st_edge_set mask,
			    int max_typed)
{
	st_adj_iter *it;
	int r = 0;
	bool fwd = dir == ST_IN;
	if (__builtin_popcountll(mask) <= max_typed) {
		for (int k = 0; k < b->n_order && !r; k++) {
			int t = b->order[k];
			if (!((mask >> t) & 1))
				continue;
			if (!(it = aim(b, dir, u, t)))
				return st_diag_set(b->diag, ST_E_STORE, "cannot read the adjacency of node %u", u);
			r = read_adj(b, it, u, dist, mask, fwd);
		}
		return r;
	}
	if (!(it = aim(b, dir, u, -1)))
		return st_diag_set(b->diag, ST_E_STORE, "cannot read the adjacency of node %u", u);
	return read_adj(b, it, u, dist, mask, fwd);
}

/* Whether a node of one of the types in (list, n, any) may be an endpoint
 * of an edge type whose allowed endpoints are (list2, n2, any2). */
static bool overlap(const uint16_t *a, size_t na, bool anya, const uint16_t *c, size_t nc, bool anyc)
{
	if (anya || anyc)
		return true;
	for (size_t i = 0; i < na; i++)
		for (size_t j = 0; j < nc; j++)
			if (a[i] == c[j])
				return true;
	return false;
}

/* For a node whose type is one of (types, n, any): the forward types that
 * can end at it (read IN) and the reverse types that can start at it
 * (read OUT), within the chosen set. */
static void relevant(const br_run *b, const st_schema *sc, const uint16_t *types, size_t n, bool any,
		     st_edge_set *ret_in, st_edge_set *ret_out)
{
	st_edge_set in = 0, out = 0;
	for (int t = 0; t < 64; t++) {
		if (!(((b->fwd | b->rev) >> t) & 1))
			continue;
		const st_edge_type *et = st_schema_edge_type(sc, (size_t)t);
		if (((b->fwd >> t) & 1) && overlap(types, n, any, et->to, et->n_to, et->any_to))
			in |= 1ull << t;
		if (((b->rev >> t) & 1) && overlap(types, n, any, et->from, et->n_from, et->any_from))
			out |= 1ull << t;
	}
	*ret_in = in;
	*ret_out = out;
}

static void plan_store_reads(br_run *b, const st_schema *sc, int root_type)
{
	/* dependency types the store has seen, in store order; types it has
	 * never stored have no adjacency to read */
	st_edge_set stored = 0;
	b->n_order = 0;
	for (uint64_t k = 0; k < ST__TMAP_N; k++) {
		int t = st__tmap_type(&b->tm, k << 32);
		if (t >= 0 && t < 64 && (((b->fwd | b->rev) >> t) & 1) && !((stored >> t) & 1)) {
			stored |= 1ull << t;
			b->order[b->n_order++] = t;
		}
	}
	st_edge_set extra = (b->fwd | b->rev) & ~stored;
	while (extra) { /* store type numbers beyond the cache: keep them all */
		int t = __builtin_ctzll(extra);
		extra &= extra - 1;
		b->order[b->n_order++] = t;
		stored |= 1ull << t;
	}
	b->fwd &= stored;
	b->rev &= stored;
	for (int t = 0; t < 64; t++) {
		if (!(((b->fwd | b->rev) >> t) & 1))
			continue;
		const st_edge_type *et = st_schema_edge_type(sc, (size_t)t);
		/* reached by a forward edge: the node is its source; reverse: its target */
		if ((b->fwd >> t) & 1)
			relevant(b, sc, et->from, et->n_from, et->any_from, &b->in_of[t], &b->out_of[t]);
		else
			relevant(b, sc, et->to, et->n_to, et->any_to, &b->in_of[t], &b->out_of[t]);
	}
	if (root_type >= 0) {
		uint16_t rt = (uint16_t)root_type;
		relevant(b, sc, &rt, 1, false, &b->in_of[64], &b->out_of[64]);
	} else {
		b->in_of[64] = b->fwd;
		b->out_of[64] = b->rev;
	}
}

/* Expand u (reached by an edge of type `via`, 64 for the root) from the store. */
static int expand(br_run *b, st_id u, int via, uint32_t dist)
{
	int r = 0;
	st_edge_set in = b->in_of[via], out = b->out_of[via];
	if (in && (r = expand_store_dir(b, u, dist, ST_IN, in, 1)))
		return r;
	if (out && (r = expand_store_dir(b, u, dist, ST_OUT, out, 2)))
		return r;
	return 0;
}

/* --- depgraph reads: a level at a time.  A first pass reads every node's
 * entry range (prefetching ahead: the offsets of a level's nodes are cache
 * misses, independent ones), which bounds the level's new hits, so the
 * hit array and the visited set are sized once; a second pass walks the
 * entries, prefetching the lists a few nodes ahead.  Entries are checked
 * against the bound when the depgraph is built. */

/* Room for `more` new hits: they are distinct ids < bound, at most limit. */
static void reserve_hits(br_run *b, uint64_t more)
{
	uint64_t want = (uint64_t)b->n + more;
	if (want > b->bound)
		want = b->bound;
	if (want > b->limit)
		want = b->limit;
	if (want > b->cap) {
		size_t cap = b->cap ? b->cap : 64;
		while (cap < want)
			cap *= 2;
		b->hits = st_xrealloc(b->hits, cap * sizeof(st_br_hit));
		b->cap = cap;
	}
	st__idset_reserve(&b->seen, more < b->bound ? (size_t)more : b->bound);
}

/* The entries [lo, hi) of u's list; `all`: every dependency type. */
static inline __attribute__((always_inline)) int dg_node(br_run *b, st_id u, uint32_t lo, uint32_t hi,
							 uint32_t dist, bool all)
{
	const uint32_t *en = b->g->ent_node;
	const uint8_t *em = b->g->ent_meta;
	for (uint32_t i = lo; i < hi; i++) {
		unsigned m = em[i];
		if (!all && !((b->set >> (m & ST__DG_TYPE)) & 1))
			continue;
		st_id v = en[i];
		if (!st__idset_add(&b->seen, v))
			continue;
		if (b->n >= b->limit)
			return over_limit(b, v);
		st_br_hit *h = &b->hits[b->n++];
		h->id = v;
		h->distance = dist;
		h->next = u;
		h->edge_type = (int)(m & ST__DG_TYPE);
		h->edge_forward = (m & ST__DG_FWD) != 0;
	}
	return 0;
}

static int dg_root(br_run *b, st_id root)
{
	const st_depgraph *g = b->g;
	if (root >= g->bound)
		return 0;
	uint32_t lo = g->off[root], hi = g->off[root + 1];
	reserve_hits(b, hi - lo);
	return b->all ? dg_node(b, root, lo, hi, 1, true) : dg_node(b, root, lo, hi, 1, false);
}

#define DG_PF_OFF 16 /* nodes ahead whose offsets are prefetched */
#define DG_PF_ENT 4  /* nodes ahead whose entry lists are prefetched */

/* Expand the level hits[from, to), its new hits at distance dist. */
static int dg_level(br_run *b, size_t from, size_t to, uint32_t dist)
{
	const st_depgraph *g = b->g;
	size_t n = to - from;
	if (n > b->rng_cap) {
		b->rng_cap = n > 2 * b->rng_cap ? n : 2 * b->rng_cap;
		b->rng = st_xrealloc(b->rng, b->rng_cap * 2 * sizeof(uint32_t));
	}
	uint32_t *rg = b->rng;
	const st_br_hit *h = b->hits + from;
	uint64_t more = 0;
	for (size_t i = 0; i < n; i++) {
		if (i + DG_PF_OFF < n)
			__builtin_prefetch(&g->off[h[i + DG_PF_OFF].id]);
		st_id u = h[i].id;
		uint32_t lo = g->off[u], hi = g->off[u + 1];
		rg[2 * i] = lo;
		rg[2 * i + 1] = hi;
		more += hi - lo;
	}
	reserve_hits(b, more); /* no reallocation below: h stays valid */
	h = b->hits + from;
	int r = 0;
	for (size_t i = 0; i < n && !r; i++) {
		if (i + DG_PF_ENT < n) {
			uint32_t lo = rg[2 * (i + DG_PF_ENT)];
			__builtin_prefetch(&g->ent_node[lo]);
			__builtin_prefetch(&g->ent_meta[lo]);
		}
		if (b->all)
			r = dg_node(b, h[i].id, rg[2 * i], rg[2 * i + 1], dist, true);
		else
			r = dg_node(b, h[i].id, rg[2 * i], rg[2 * i + 1], dist, false);
	}
	return r;
}

/* Sort hits[from, to) by id (one BFS level: all the same distance, ids
 * distinct): insertion sort when small, else an LSD radix sort of the hits
 * themselves over the bits the largest id needs, in at most three passes
 * whose digit counts come from one read of the level. */
static void sort_level(br_run *b, size_t from, size_t to)
{
	size_t n = to - from;
	if (n < 2)
		return;
	st_br_hit *h = b->hits + from;
	bool sorted = true;
	st_id max = h[0].id;
	for (size_t i = 1; i < n; i++) {
		sorted &= h[i - 1].id < h[i].id;
		if (h[i].id > max)
			max = h[i].id;
	}
	if (sorted)
		return;
	if (n < 48) {
		for (size_t i = 1; i < n; i++) {
			st_br_hit v = h[i];
			size_t j = i;
			for (; j > 0 && h[j - 1].id > v.id; j--)
				h[j] = h[j - 1];
			h[j] = v;
		}
		return;
	}
	unsigned bits = 32 - (unsigned)__builtin_clz(max); /* max > 0: ids are */
	unsigned passes = (bits + 10) / 11, width = (bits + passes - 1) / passes;
	uint32_t nb = 1u << width, dm = nb - 1;
	uint32_t cnt[3][2048];
	for (unsigned p = 0; p < passes; p++)
		memset(cnt[p], 0, nb * sizeof(uint32_t));
	for (size_t i = 0; i < n; i++)
		for (unsigned p = 0, id = h[i].id; p < passes; p++)
			cnt[p][(id >> (p * width)) & dm]++;
	for (unsigned p = 0; p < passes; p++)
		for (uint32_t d = 0, acc = 0; d < nb; d++) {
			uint32_t c = cnt[p][d];
			cnt[p][d] = acc;
			acc += c;
		}
	if (n > b->tmp_cap) {
		free(b->tmp);
		b->tmp_cap = n > 2 * b->tmp_cap ? n : 2 * b->tmp_cap;
		b->tmp = st_xmalloc(b->tmp_cap * sizeof(st_br_hit));
	}
	st_br_hit *src = h, *dst = b->tmp;
	for (unsigned p = 0; p < passes; p++) {
		unsigned shift = p * width;
		uint32_t *c = cnt[p];
		for (size_t i = 0; i < n; i++)
			dst[c[(src[i].id >> shift) & dm]++] = src[i];
		st_br_hit *t = src;
		src = dst;
		dst = t;
	}
	if (src != h)
		memcpy(h, src, n * sizeof(st_br_hit));
}

int st_blast_radius(st_snap *s, st_id root, const st_br_opts *opts, st_br_result **ret,
		    st_diag *diag)
{
	static const st_br_opts defaults = {0};
	if (!opts)
		opts = &defaults;
	const st_schema *sc = st__snap_schema(s);
	br_run b = {.s = s,
		    .g = opts->graph,
		    .max_nodes = opts->max_nodes,
		    .limit = opts->max_nodes ? opts->max_nodes : SIZE_MAX,
		    .diag = diag};
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
	if (opts->scratch)
		st__idset_init_bits(&b.seen, b.bound, opts->scratch);
	else
		st__idset_init(&b.seen, b.bound);
	st__idset_add(&b.seen, root);
	if (!b.g)
		plan_store_reads(&b, sc, node.type);

	uint32_t depth = opts->depth;
	size_t from = 0, to = 0;
	uint32_t dist = 0;
	r = b.g ? dg_root(&b, root) : expand(&b, root, 64, 1);
	while (!r) {
		from = to;
		to = b.n;
		dist++;
		if (from == to)
			break;
		sort_level(&b, from, to);
		if (depth && dist >= depth)
			break;
		if (b.g)
			r = dg_level(&b, from, to, dist + 1);
		else
			for (size_t i = from; i < to && !r; i++)
				r = expand(&b, b.hits[i].id, b.hits[i].edge_type, dist + 1);
	}
	for (int d = 0; d < 2; d++)
		if (b.it_open[d])
			st_adj_close(&b.it[d]);
	if (b.seen.ext) {
		/* hand the scratch back all zero: every bit set is the root's,
		 * a hit's or the stray's, so clearing their words is enough */
		uint64_t *w = b.seen.bits;
		w[root >> 6] = 0;
		w[b.stray >> 6] = 0;
		for (size_t i = 0; i < b.n; i++)
			w[b.hits[i].id >> 6] = 0;
	}
	free(b.rng);
	free(b.tmp);
	st__idset_free(&b.seen);
	if (r) {
		free(b.hits);
		return r;
	}
	if (b.cap - b.n > 4096) /* reserved per level by upper bounds */
		b.hits = st_xrealloc(b.hits, (b.n ? b.n : 1) * sizeof(st_br_hit));
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
