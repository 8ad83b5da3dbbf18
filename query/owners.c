/*
 * owners.c — ownership: owner(x) and owned_by(team) (docs/queries.md,
 * "Ownership").
 *
 * owner(x) is a team x itself, else the sources of OWNS edges into x, else
 * the owners reached by ONE inheritance step whose kind is the first of
 * PART_OF, RUNS, CONTROLLED_BY, SAME_AS, SCOPED_IN that x has (the union
 * over all targets of that kind), recursively.  The evaluator memoises per
 * node, detects cycles on the current inheritance path and stops at a depth
 * of 32 steps; a branch cut by either counts as unowned, and a result that
 * depended on such a cut is not memoised (it depends on where evaluation
 * started).  owned_by() walks the inheritance edges backwards from what the
 * team owns and keeps a node only if the same evaluator says the team is
 * among its owners, so both queries agree by construction.
 *
 * Reads only through store.h; no logging.
 */
#include <stdlib.h>
#include <string.h>

#include "owners_int.h"
#include "qmap.h"

#define MAX_DEPTH 32
#define MAX_STEPS 1000000 /* node evaluations per context */
#define N_INH 5

static const char *const inh_names[N_INH] = {"PART_OF", "RUNS", "CONTROLLED_BY", "SAME_AS",
					     "SCOPED_IN"};

typedef struct orec {
	st_id node;
	uint8_t claim; /* st_claim */
	uint8_t cut;   /* depended on a cycle or depth cut: not memoised */
	int16_t edge;  /* inheritance edge type of the primary step, -1 */
	int32_t next;  /* record of the primary branch's target, -1 */
	uint32_t off, n; /* owners in pool */
} orec;

struct st__owner_ctx {
	st_snap *s;
	int t_team;
	int e_owns;
	int e_inh[N_INH];
	orec *recs;
	size_t n_recs, cap_recs;
	st_id *pool;
	size_t n_pool, cap_pool;
	st__qmap memo; /* node -> record index */
	st_id path[MAX_DEPTH + 2];
	size_t steps;
};

st__owner_ctx *st__owner_ctx_new(st_snap *s)
{
	st__owner_ctx *c = st_xcalloc(1, sizeof(*c));
	const st_schema *sc = st__snap_schema(s);
	c->s = s;
	c->t_team = st_schema_find_node_type(sc, "Team", 4);
	c->e_owns = st_schema_find_edge_type(sc, "OWNS", 4);
	for (size_t i = 0; i < N_INH; i++)
		c->e_inh[i] = st_schema_find_edge_type(sc, inh_names[i], strlen(inh_names[i]));
	return c;
}

void st__owner_ctx_free(st__owner_ctx *c)
{
	if (!c)
		return;
	free(c->recs);
	free(c->pool);
	st__qmap_free(&c->memo);
	free(c);
}

/* A growable id vector with a small inline buffer (most nodes have one or
 * two neighbours of a kind). */
typedef struct idvec {
	st_id *v;
	size_t n, cap;
	st_id inl[8];
} idvec;

static void idvec_init(idvec *a)
{
	a->v = a->inl;
	a->n = 0;
	a->cap = ST_ARRAY_LEN(a->inl);
}

static void idvec_push(idvec *a, st_id x)
{
	if (a->n == a->cap) {
		size_t ncap = a->cap * 2;
		if (a->v == a->inl) {
			a->v = st_xmalloc(ncap * sizeof(st_id));
			memcpy(a->v, a->inl, a->n * sizeof(st_id));
		} else {
			a->v = st_xrealloc(a->v, ncap * sizeof(st_id));
		}
		a->cap = ncap;
	}
	a->v[a->n++] = x;
}

static void idvec_free(idvec *a)
{
	if (a->v != a->inl)
		free(a->v);
	idvec_init(a);
}

/* Neighbours of node over edge type `type` in direction dir, appended in
 * ascending id order (adjacency runs are sorted). */
static int adj_collect(st_snap *s, st_dir dir, st_id node, int type, idvec *out)
{
	if (type < 0)
		return 0;
	st_adj_iter it;
	int r = st_snap_adj_open_type(s, dir, node, type, &it);
	if (r)
		return r == ST_E_NOTFOUND ? 0 : r;
	const void *vals;
	size_t n;
	while ((r = st_adj_next(&it, &vals, &n)) == 1)
		for (size_t i = 0; i < n; i++)
			idvec_push(out, st_adj_node(st_adj_at(vals, i)));
	st_adj_close(&it);
	return r < 0 ? r : 0;
}

static int cmp_id(const void *a, const void *b)
{
	st_id x = *(const st_id *)a, y = *(const st_id *)b;
	return x < y ? -1 : x > y;
}

/* Append a record; owners[0..n) are copied to the pool, sorted and unique. */
static int32_t add_rec(st__owner_ctx *c, st_id node, st_claim claim, bool cut, int edge,
		       int32_t next, const st_id *owners, size_t n)
{
	if (c->n_recs == c->cap_recs) {
		c->cap_recs = c->cap_recs ? c->cap_recs * 2 : 64;
		c->recs = st_xrealloc(c->recs, c->cap_recs * sizeof(orec));
	}
	if (c->n_pool + n > c->cap_pool) {
		c->cap_pool = (c->n_pool + n) * 2 + 64;
		c->pool = st_xrealloc(c->pool, c->cap_pool * sizeof(st_id));
	}
	st_id *dst = c->pool + c->n_pool;
	if (n)
		memcpy(dst, owners, n * sizeof(st_id));
	if (n > 1) {
		qsort(dst, n, sizeof(st_id), cmp_id);
		size_t m = 1;
		for (size_t i = 1; i < n; i++)
			if (dst[i] != dst[m - 1])
				dst[m++] = dst[i];
		n = m;
	}
	orec *r = &c->recs[c->n_recs];
	r->node = node;
	r->claim = (uint8_t)claim;
	r->cut = cut;
	r->edge = (int16_t)edge;
	r->next = next;
	r->off = (uint32_t)c->n_pool;
	r->n = (uint32_t)n;
	c->n_pool += n;
	if (!cut)
		st__qmap_put(&c->memo, node, (uint32_t)c->n_recs, NULL);
	return (int32_t)c->n_recs++;
}

/* Evaluate owner(node) at inheritance depth `depth` (path[0..depth) holds
 * the nodes above it).  *ret_idx is the record, or -1 if this branch was cut
 * (cycle or depth cap: unowned, not memoisable). */
static int eval(st__owner_ctx *c, st_id node, size_t depth, int32_t *ret_idx)
{
	uint32_t *m = st__qmap_get(&c->memo, node);
	if (m) {
		*ret_idx = (int32_t)*m;
		return 0;
	}
	if (depth > MAX_DEPTH) {
		*ret_idx = -1;
		return 0;
	}
	for (size_t i = 0; i < depth; i++)
		if (c->path[i] == node) {
			*ret_idx = -1;
			return 0;
		}
	if (++c->steps > MAX_STEPS)
		return ST_E_LIMIT;

	st_node nd;
	int r = st_snap_node(c->s, node, &nd);
	if (r)
		return r;
	if (nd.type >= 0 && nd.type == c->t_team) {
		*ret_idx = add_rec(c, node, ST_CLAIM_SELF, false, -1, -1, &node, 1);
		return 0;
	}

	idvec a;
	idvec_init(&a);
	if ((r = adj_collect(c->s, ST_IN, node, c->e_owns, &a)))
		goto out;
	if (a.n) {
		*ret_idx = add_rec(c, node, ST_CLAIM_OWNS, false, -1, -1, a.v, a.n);
		goto out;
	}
	for (size_t k = 0; k < N_INH; k++) {
		if ((r = adj_collect(c->s, ST_OUT, node, c->e_inh[k], &a)))
			goto out;
		if (!a.n)
			continue;
		/* this kind decides: union of the targets' owners */
		idvec u;
		idvec_init(&u);
		bool cut = false;
		int32_t primary = -1;
		c->path[depth] = node;
		for (size_t i = 0; i < a.n; i++) {
			int32_t ci;
			if ((r = eval(c, a.v[i], depth + 1, &ci))) {
				idvec_free(&u);
				goto out;
			}
			if (ci < 0) {
				cut = true;
				continue;
			}
			const orec *cr = &c->recs[ci];
			cut |= cr->cut;
			if (cr->n && primary < 0)
				primary = ci;
			for (uint32_t j = 0; j < cr->n; j++)
				idvec_push(&u, c->pool[cr->off + j]);
		}
		*ret_idx = add_rec(c, node, u.n ? ST_CLAIM_INHERITED : ST_CLAIM_NONE, cut,
				   c->e_inh[k], primary, u.v, u.n);
		idvec_free(&u);
		goto out;
	}
	*ret_idx = add_rec(c, node, ST_CLAIM_NONE, false, -1, -1, NULL, 0);
out:
	idvec_free(&a);
	return r;
}

static int eval_root(st__owner_ctx *c, st_id node, int32_t *ret_idx)
{
	int32_t idx;
	int r = eval(c, node, 0, &idx);
	if (r)
		return r;
	if (idx < 0) /* cannot happen at depth 0, but stay total */
		idx = add_rec(c, node, ST_CLAIM_NONE, true, -1, -1, NULL, 0);
	*ret_idx = idx;
	return 0;
}

int st__owner_eval(st__owner_ctx *c, st_id node, st_claim *ret_claim, const st_id **ret_owners,
		   size_t *ret_n)
{
	int32_t idx;
	int r = eval_root(c, node, &idx);
	if (r)
		return r;
	const orec *rec = &c->recs[idx];
	*ret_claim = (st_claim)rec->claim;
	*ret_owners = c->pool + rec->off;
	*ret_n = rec->n;
	return 0;
}

static int eval_error(int r, st_id node, st_diag *diag)
{
	if (r == ST_E_NOTFOUND)
		return st_diag_set(diag, r, "owner: no node with id %u", node);
	if (r == ST_E_LIMIT)
		return st_diag_set(diag, r, "owner: more than %d inheritance steps evaluated",
				   MAX_STEPS);
	return st_diag_set(diag, r, "owner: store read failed: %s", st_strerror(r));
}

int st_owner(st_snap *s, st_id node, st_owner_result **ret, st_diag *diag)
{
	st__owner_ctx *c = st__owner_ctx_new(s);
	int32_t idx;
	int r = eval_root(c, node, &idx);
	if (r) {
		r = eval_error(r, node, diag);
		goto out;
	}
	const orec *rec = &c->recs[idx];
	st_owner_result *res = st_xcalloc(1, sizeof(*res));
	res->node = node;
	res->claim = (st_claim)rec->claim;
	res->n_owners = rec->n;
	res->conflict = rec->n > 1;
	if (rec->n) {
		res->owners = st_xmalloc(rec->n * sizeof(st_id));
		memcpy(res->owners, c->pool + rec->off, rec->n * sizeof(st_id));
	}
	if (rec->claim == ST_CLAIM_INHERITED) {
		size_t n = 1;
		for (const orec *p = rec; p->claim == ST_CLAIM_INHERITED && p->next >= 0;
		     p = &c->recs[p->next])
			n++;
		res->chain = st_xmalloc(n * sizeof(st_id));
		res->chain_edges = st_xmalloc(n * sizeof(int));
		size_t i = 0;
		for (const orec *p = rec;; p = &c->recs[p->next]) {
			res->chain[i] = p->node;
			bool more = p->claim == ST_CLAIM_INHERITED && p->next >= 0;
			res->chain_edges[i] = more ? p->edge : -1;
			i++;
			if (!more)
				break;
		}
		res->n_chain = n;
	}
	*ret = res;
out:
	st__owner_ctx_free(c);
	return r;
}

void st_owner_result_free(st_owner_result *r)
{
	if (!r)
		return;
	free(r->owners);
	free(r->chain);
	free(r->chain_edges);
	free(r);
}

/* ------------------------------------------------------------- owned_by */

static bool has_owner(const st_id *v, size_t n, st_id x)
{
	size_t lo = 0, hi = n;
	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		if (v[mid] == x)
			return true;
		if (v[mid] < x)
			lo = mid + 1;
		else
			hi = mid;
	}
	return false;
}

int st_owned_by(st_snap *s, st_id team, size_t max_nodes, st_owned_result **ret, st_diag *diag)
{
	if (max_nodes == 0)
		max_nodes = 100000;
	st_node nd;
	int r = st_snap_node(s, team, &nd);
	if (r)
		return r == ST_E_NOTFOUND
			       ? st_diag_set(diag, r, "owned_by: no node with id %u", team)
			       : st_diag_set(diag, r, "owned_by: store read failed");

	st__owner_ctx *c = st__owner_ctx_new(s);
	st__qmap seen = {0};
	idvec direct, inherited, queue, nb;
	idvec_init(&direct);
	idvec_init(&inherited);
	idvec_init(&queue);
	idvec_init(&nb);

	if ((r = adj_collect(s, ST_OUT, team, c->e_owns, &direct)))
		goto fail_store;
	if (direct.n > max_nodes)
		goto fail_limit;
	/* seeds: the team (things PART_OF it) and everything it owns directly */
	st__qmap_put(&seen, team, 0, NULL);
	idvec_push(&queue, team);
	for (size_t i = 0; i < direct.n; i++) {
		int fresh;
		st__qmap_put(&seen, direct.v[i], 0, &fresh);
		if (fresh)
			idvec_push(&queue, direct.v[i]);
	}
	for (size_t qi = 0; qi < queue.n; qi++) {
		st_id y = queue.v[qi];
		for (size_t k = 0; k < N_INH; k++) {
			nb.n = 0;
			if ((r = adj_collect(s, ST_IN, y, c->e_inh[k], &nb)))
				goto fail_store;
			for (size_t i = 0; i < nb.n; i++) {
				st_id z = nb.v[i];
				int fresh;
				st__qmap_put(&seen, z, 0, &fresh);
				if (!fresh)
					continue;
				st_claim cl;
				const st_id *ow;
				size_t n_ow;
				if ((r = st__owner_eval(c, z, &cl, &ow, &n_ow))) {
					r = eval_error(r, z, diag);
					goto fail;
				}
				if (cl != ST_CLAIM_INHERITED || !has_owner(ow, n_ow, team))
					continue;
				if (direct.n + inherited.n >= max_nodes)
					goto fail_limit;
				idvec_push(&inherited, z);
				idvec_push(&queue, z);
			}
		}
	}
	qsort(direct.v, direct.n, sizeof(st_id), cmp_id);
	qsort(inherited.v, inherited.n, sizeof(st_id), cmp_id);

	st_owned_result *res = st_xcalloc(1, sizeof(*res));
	res->team = team;
	res->n_direct = direct.n;
	res->n_inherited = inherited.n;
	if (direct.n) {
		res->direct = st_xmalloc(direct.n * sizeof(st_id));
		memcpy(res->direct, direct.v, direct.n * sizeof(st_id));
	}
	if (inherited.n) {
		res->inherited = st_xmalloc(inherited.n * sizeof(st_id));
		memcpy(res->inherited, inherited.v, inherited.n * sizeof(st_id));
	}
	*ret = res;
	r = 0;
	goto out;

fail_limit:
	r = st_diag_set(diag, ST_E_LIMIT, "owned_by: more than %zu owned nodes", max_nodes);
	goto fail;
fail_store:
	r = st_diag_set(diag, r, "owned_by: store read failed: %s", st_strerror(r));
fail:
out:
	idvec_free(&direct);
	idvec_free(&inherited);
	idvec_free(&queue);
	idvec_free(&nb);
	st__qmap_free(&seen);
	st__owner_ctx_free(c);
	return r;
}

void st_owned_result_free(st_owned_result *r)
{
	if (!r)
		return;
	free(r->direct);
	free(r->inherited);
	free(r);
}
