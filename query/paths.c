/*
 * paths.c — shortest paths between two nodes (st_paths) and the k-hop
 * neighbourhood of a node for the viewer (st_neighbours).
 *
 * st_paths: a breadth-first search from a along stored edge direction
 * finds b's distance D; a backward sweep from b marks the nodes that lie on
 * some shortest path (distance from a exactly one less than their
 * successor's); a depth-first walk of that DAG, successors in id order,
 * then yields shortest paths in lexicographic order of their node ids
 * without ever hitting a dead end, stopping after max_paths.
 *
 * st_neighbours: a breadth-first search over both directions with a
 * per-node breadth cap and a node cap, then the stored edges among the
 * returned nodes.  Both bound their memory by what they visit (id maps that
 * grow), never by the size of the graph.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "traverse_int.h"

#define ON_PATH 0x80000000u

static int node_check(st_snap *s, st_id id, st_diag *diag)
{
	st_node n;
	if (id == ST_ID_NONE || st_snap_node(s, id, &n))
		return st_diag_set(diag, ST_E_NOTFOUND, "no node with numeric id %u", id);
	return 0;
}

static int adj_fail(st_diag *diag, st_id u)
{
	return st_diag_set(diag, ST_E_STORE, "cannot read the adjacency of node %u", u);
}

/* ------------------------------------------------------------------ paths */

typedef struct cand {
	st_id w;
	int t;
} cand;

static int cmp_cand(const void *a, const void *b)
{
	const cand *x = a, *y = b;
	if (x->w != y->w)
		return (x->w > y->w) - (x->w < y->w);
	return (x->t > y->t) - (x->t < y->t);
}

typedef struct path_run {
	st_snap *s;
	st__tmap tm;
	st_edge_set set;
	st__idmap dist; /* id -> distance from a, | ON_PATH */
	st_diag *diag;
	cand *cs;
	size_t ncs, capcs;
} path_run;

/* Successors of u (at distance k from a) on shortest paths, appended to
 * the candidate stack sorted by (id, type), one per id (smallest type). */
static int successors(path_run *p, st_id u, uint32_t k)
{
	st_adj_iter it;
	if (st_snap_adj_open(p->s, ST_OUT, u, &it))
		return adj_fail(p->diag, u);
	size_t lo = p->ncs;
	const void *vals;
	size_t n;
	int r;
	while ((r = st_adj_next(&it, &vals, &n)) == 1) {
		for (size_t i = 0; i < n; i++) {
			uint64_t v = st_adj_at(vals, i);
			int t = st__tmap_type(&p->tm, v);
			if (t < 0 || t >= 64 || !((p->set >> t) & 1))
				continue;
			uint32_t *d = st__idmap_get(&p->dist, st_adj_node(v));
			if (!d || *d != ((k + 1) | ON_PATH))
				continue;
			if (p->ncs == p->capcs) {
				p->capcs = p->capcs ? p->capcs * 2 : 64;
				p->cs = st_xrealloc(p->cs, p->capcs * sizeof(cand));
			}
			p->cs[p->ncs++] = (cand){st_adj_node(v), t};
		}
	}
	st_adj_close(&it);
	if (r < 0)
		return adj_fail(p->diag, u);
	if (p->ncs - lo > 1)
		qsort(p->cs + lo, p->ncs - lo, sizeof(cand), cmp_cand);
	size_t o = lo;
	for (size_t i = lo; i < p->ncs; i++)
		if (i == lo || p->cs[i].w != p->cs[o - 1].w)
			p->cs[o++] = p->cs[i];
	p->ncs = o;
	return 0;
}

/* Forward BFS from a until b is reached; *ret_d = distance of b. */
static int bfs_forward(path_run *p, st_id a, st_id b, uint32_t max_depth, uint32_t *ret_d)
{
	st_id *q = st_xmalloc(64 * sizeof(st_id));
	size_t qn = 0, qcap = 64, from = 0, to;
	int r = 0;
	q[qn++] = a;
	st__idmap_put(&p->dist, a, 0);
	for (uint32_t d = 0;; d++) {
		to = qn;
		if (from == to || (max_depth && d >= max_depth)) {
			r = ST_E_NOTFOUND;
			break;
		}
		for (size_t i = from; i < to; i++) {
			st_id u = q[i];
			st_adj_iter it;
			if (st_snap_adj_open(p->s, ST_OUT, u, &it)) {
				r = adj_fail(p->diag, u);
				goto out;
			}
			const void *vals;
			size_t n;
			int rr;
			while ((rr = st_adj_next(&it, &vals, &n)) == 1) {
				for (size_t j = 0; j < n; j++) {
					uint64_t v = st_adj_at(vals, j);
					int t = st__tmap_type(&p->tm, v);
					if (t < 0 || t >= 64 || !((p->set >> t) & 1))
						continue;
					st_id w = st_adj_node(v);
					if (!st__idmap_put(&p->dist, w, d + 1))
						continue;
					if (w == b) {
						st_adj_close(&it);
						*ret_d = d + 1;
						goto out;
					}
					if (qn == qcap) {
						qcap *= 2;
						q = st_xrealloc(q, qcap * sizeof(st_id));
					}
					q[qn++] = w;
				}
			}
			st_adj_close(&it);
			if (rr < 0) {
				r = adj_fail(p->diag, u);
				goto out;
			}
		}
		from = to;
	}
out:
	free(q);
	return r;
}

/* Mark every node on a shortest a -> b path. */
static int mark_backward(path_run *p, st_id b)
{
	st_id *q = st_xmalloc(64 * sizeof(st_id));
	size_t qn = 0, qcap = 64;
	int r = 0;
	*st__idmap_get(&p->dist, b) |= ON_PATH;
	q[qn++] = b;
	for (size_t i = 0; i < qn; i++) {
		st_id w = q[i];
		uint32_t k = *st__idmap_get(&p->dist, w) & ~ON_PATH;
		if (k == 0)
			continue;
		st_adj_iter it;
		if (st_snap_adj_open(p->s, ST_IN, w, &it)) {
			r = adj_fail(p->diag, w);
			break;
		}
		const void *vals;
		size_t n;
		int rr;
		while ((rr = st_adj_next(&it, &vals, &n)) == 1) {
			for (size_t j = 0; j < n; j++) {
				uint64_t v = st_adj_at(vals, j);
				int t = st__tmap_type(&p->tm, v);
				if (t < 0 || t >= 64 || !((p->set >> t) & 1))
					continue;
				uint32_t *du = st__idmap_get(&p->dist, st_adj_node(v));
				if (!du || *du != k - 1)
					continue; /* not one step closer, or already marked */
				*du |= ON_PATH;
				if (qn == qcap) {
					qcap *= 2;
					q = st_xrealloc(q, qcap * sizeof(st_id));
				}
				q[qn++] = st_adj_node(v);
			}
		}
		st_adj_close(&it);
		if (rr < 0) {
			r = adj_fail(p->diag, w);
			break;
		}
	}
	free(q);
	return r;
}

static void describe(st_snap *s, st_id id, char *buf, size_t cap)
{
	st_node n;
	if (st_snap_node(s, id, &n) == 0)
		snprintf(buf, cap, "%.*s", n.key_len > 200 ? 200 : (int)n.key_len, n.key);
	else
		snprintf(buf, cap, "#%u", id);
}

int st_paths(st_snap *s, st_id a, st_id b, st_edge_set edges, size_t max_paths,
	     uint32_t max_depth, st_path_result **ret, st_diag *diag)
{
	const st_schema *sc = st__snap_schema(s);
	path_run p = {.s = s, .diag = diag};
	int r = st__any_set_check(sc, edges, &p.set, diag);
	if (r || (r = node_check(s, a, diag)) || (r = node_check(s, b, diag)))
		return r;
	if (max_paths == 0)
		max_paths = 1;
	st_path_result *res = st_xcalloc(1, sizeof(*res));
	if (a == b) {
		res->nodes = st_xmalloc(sizeof(st_id));
		res->nodes[0] = a;
		res->edges = NULL;
		res->starts = st_xcalloc(1, sizeof(size_t));
		res->n_paths = 1;
		res->len = 1;
		*ret = res;
		return 0;
	}
	st__tmap_init(&p.tm, s);
	st__idmap_init(&p.dist);
	uint32_t D = 0;
	uint32_t *pos = NULL, *lo = NULL, *hi = NULL;
	st_id *cur = NULL;
	int *curt = NULL;
	size_t capp = 0;
	r = bfs_forward(&p, a, b, max_depth, &D);
	if (r == ST_E_NOTFOUND) {
		char x[256], y[256];
		describe(s, a, x, sizeof(x));
		describe(s, b, y, sizeof(y));
		if (max_depth)
			st_diag_set(diag, r, "no path from %s to %s within %u edges", x, y, max_depth);
		else
			st_diag_set(diag, r, "no path from %s to %s", x, y);
	}
	if (r || (r = mark_backward(&p, b)))
		goto out;

	size_t len = (size_t)D + 1;
	res->len = len;
	pos = st_xmalloc(len * sizeof(uint32_t));
	lo = st_xmalloc(len * sizeof(uint32_t));
	hi = st_xmalloc(len * sizeof(uint32_t));
	cur = st_xmalloc(len * sizeof(st_id));
	curt = st_xmalloc(len * sizeof(int));
	cur[0] = a;
	if ((r = successors(&p, a, 0)))
		goto out;
	lo[0] = pos[0] = 0;
	hi[0] = (uint32_t)p.ncs;
	size_t k = 0;
	for (;;) {
		if (pos[k] == hi[k]) {
			p.ncs = lo[k];
			if (k == 0)
				break;
			k--;
			pos[k]++;
			continue;
		}
		cand c = p.cs[pos[k]];
		cur[k + 1] = c.w;
		curt[k] = c.t;
		if (k + 1 == D) {
			if (res->n_paths == capp) {
				capp = capp ? capp * 2 : 4;
				res->nodes = st_xrealloc(res->nodes, capp * len * sizeof(st_id));
				res->edges = st_xrealloc(res->edges, capp * D * sizeof(int));
				res->starts = st_xrealloc(res->starts, capp * sizeof(size_t));
			}
			memcpy(res->nodes + res->n_paths * len, cur, len * sizeof(st_id));
			memcpy(res->edges + res->n_paths * D, curt, D * sizeof(int));
			res->starts[res->n_paths] = res->n_paths * len;
			if (++res->n_paths == max_paths)
				break;
			pos[k]++;
			continue;
		}
		k++;
		lo[k] = (uint32_t)p.ncs;
		if ((r = successors(&p, c.w, (uint32_t)k)))
			goto out;
		pos[k] = lo[k];
		hi[k] = (uint32_t)p.ncs;
	}
	if (res->n_paths == 0)
		r = st_diag_set(diag, ST_E_STORE, "adjacency changed while enumerating paths");
out:
	free(pos);
	free(lo);
	free(hi);
	free(cur);
	free(curt);
	free(p.cs);
	st__idmap_free(&p.dist);
	if (r) {
		st_path_result_free(res);
		return r;
	}
	*ret = res;
	return 0;
}

void st_path_result_free(st_path_result *r)
{
	if (!r)
		return;
	free(r->nodes);
	free(r->edges);
	free(r->starts);
	free(r);
}

/* ----------------------------------------------------------- neighbours */

static int cmp_id(const void *a, const void *b)
{
	st_id x = *(const st_id *)a, y = *(const st_id *)b;
	return (x > y) - (x < y);
}

static int cmp_edge(const void *a, const void *b)
{
	const st_nb_edge *x = a, *y = b;
	if (x->src != y->src)
		return (x->src > y->src) - (x->src < y->src);
	if (x->type != y->type)
		return (x->type > y->type) - (x->type < y->type);
	return (x->dst > y->dst) - (x->dst < y->dst);
}

typedef struct nb_run {
	st_snap *s;
	st__tmap tm;
	st_edge_set set;
	st__idmap seen;
	st_nb_result *res;
	size_t breadth, max_nodes;
	bool full; /* max_nodes reached and a further node was wanted */
	st_diag *diag;
} nb_run;

/* Add up to *left new neighbours of u in one direction. */
static int nb_dir(nb_run *nb, st_id u, st_dir dir, uint32_t hop, size_t *left)
{
	st_nb_result *res = nb->res;
	st_adj_iter it;
	if (st_snap_adj_open(nb->s, dir, u, &it))
		return adj_fail(nb->diag, u);
	const void *vals;
	size_t n;
	int r;
	while ((r = st_adj_next(&it, &vals, &n)) == 1) {
		for (size_t i = 0; i < n; i++) {
			uint64_t v = st_adj_at(vals, i);
			int t = st__tmap_type(&nb->tm, v);
			if (t < 0 || t >= 64 || !((nb->set >> t) & 1))
				continue;
			st_id w = st_adj_node(v);
			if (st__idmap_get(&nb->seen, w))
				continue;
			if (*left == 0 || res->n_nodes == nb->max_nodes) {
				res->truncated = true;
				nb->full = res->n_nodes == nb->max_nodes;
				goto done;
			}
			st__idmap_put(&nb->seen, w, 1);
			res->nodes[res->n_nodes] = w;
			res->hops[res->n_nodes] = hop;
			res->n_nodes++;
			(*left)--;
		}
	}
done:
	st_adj_close(&it);
	return r < 0 ? adj_fail(nb->diag, u) : 0;
}

int st_neighbours(st_snap *s, st_id x, uint32_t k, st_edge_set edges, size_t breadth,
		  size_t max_nodes, st_nb_result **ret, st_diag *diag)
{
	const st_schema *sc = st__snap_schema(s);
	nb_run nb = {.s = s, .diag = diag};
	int r = st__any_set_check(sc, edges, &nb.set, diag);
	if (r || (r = node_check(s, x, diag)))
		return r;
	nb.breadth = breadth ? breadth : 50;
	nb.max_nodes = max_nodes ? max_nodes : 500;
	st_nb_result *res = st_xcalloc(1, sizeof(*res));
	nb.res = res;
	/* the node cap bounds the arrays; grown lazily for big caps */
	size_t cap = nb.max_nodes < 1024 ? nb.max_nodes : 1024;
	res->nodes = st_xmalloc(cap * sizeof(st_id));
	res->hops = st_xmalloc(cap * sizeof(uint32_t));
	st__tmap_init(&nb.tm, s);
	st__idmap_init(&nb.seen);
	st__idmap_put(&nb.seen, x, 1);
	res->nodes[0] = x;
	res->hops[0] = 0;
	res->n_nodes = 1;

	size_t from = 0, to = 1;
	for (uint32_t hop = 0; hop < k && from < to && !nb.full; hop++) {
		for (size_t i = from; i < to && !nb.full; i++) {
			/* room for breadth more nodes, within the cap */
			size_t want = res->n_nodes + nb.breadth;
			if (want > nb.max_nodes)
				want = nb.max_nodes;
			if (want > cap) {
				while (cap < want)
					cap *= 2;
				if (cap > nb.max_nodes)
					cap = nb.max_nodes;
				res->nodes = st_xrealloc(res->nodes, cap * sizeof(st_id));
				res->hops = st_xrealloc(res->hops, cap * sizeof(uint32_t));
			}
			size_t left = nb.breadth;
			st_id u = res->nodes[i];
			if ((r = nb_dir(&nb, u, ST_OUT, hop + 1, &left)))
				goto fail;
			if (!nb.full && (r = nb_dir(&nb, u, ST_IN, hop + 1, &left)))
				goto fail;
		}
		from = to;
		to = res->n_nodes;
		qsort(res->nodes + from, to - from, sizeof(st_id), cmp_id);
	}

	/* every stored edge between two returned nodes */
	size_t ecap = 0;
	for (size_t i = 0; i < res->n_nodes; i++) {
		st_id u = res->nodes[i];
		st_adj_iter it;
		if (st_snap_adj_open(s, ST_OUT, u, &it)) {
			r = adj_fail(diag, u);
			goto fail;
		}
		const void *vals;
		size_t n;
		int rr;
		while ((rr = st_adj_next(&it, &vals, &n)) == 1) {
			for (size_t j = 0; j < n; j++) {
				uint64_t v = st_adj_at(vals, j);
				int t = st__tmap_type(&nb.tm, v);
				if (t < 0 || !st__idmap_get(&nb.seen, st_adj_node(v)))
					continue;
				if (res->n_edges == ecap) {
					ecap = ecap ? ecap * 2 : 64;
					res->edges = st_xrealloc(res->edges, ecap * sizeof(st_nb_edge));
				}
				res->edges[res->n_edges++] = (st_nb_edge){u, st_adj_node(v), t};
			}
		}
		st_adj_close(&it);
		if (rr < 0) {
			r = adj_fail(diag, u);
			goto fail;
		}
	}
	if (res->n_edges > 1)
		qsort(res->edges, res->n_edges, sizeof(st_nb_edge), cmp_edge);
	st__idmap_free(&nb.seen);
	*ret = res;
	return 0;
fail:
	st__idmap_free(&nb.seen);
	st_nb_result_free(res);
	return r;
}

void st_nb_result_free(st_nb_result *r)
{
	if (!r)
		return;
	free(r->nodes);
	free(r->hops);
	free(r->edges);
	free(r);
}
