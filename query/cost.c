/*
 * cost.c — cost rollups over a day window (docs/queries.md, "Cost rollups").
 *
 * One pass over the window's cost facts (st_snap_scan_costs delivers them
 * resource by resource).  The attribution of a resource (its BILLED_TO
 * target b, then the group of b) is computed once per resource, the group of
 * a target once per target (memoised: many resources bill to one service),
 * and the facts are summed into (group, currency) rows in a tight loop.
 * Money is integer micro-units; currencies never mix; every fact lands in
 * exactly one row, so the per-currency totals equal the sum of the input.
 *
 * Reads only through store.h; no logging.
 */
#include <stdlib.h>
#include <string.h>

#include "owners_int.h"
#include "qmap.h"

#define CHAIN_MAX 32 /* PART_OF steps looked at when searching a system/domain */

typedef struct rollup {
	st_snap *s;
	st_group g;
	st_metric m;
	int e_billed, e_same, e_part;
	int t_system, t_domain;
	st__owner_ctx *own;
	st__qmap target_group; /* BILLED_TO target -> group (memo) */
	st__qmap sys_domain;   /* system -> domain (memo) */
	st_id bound;           /* st_snap_id_bound: size of the arrays below */
	st_id *billed;         /* prefilled smallest BILLED_TO target per node, or NULL */
	st_id *sys_of;         /* prefilled smallest System PART_OF target per node, or NULL */
	uint8_t *is_sys;       /* bitmap of System nodes (with sys_of) */
	st_id *owns_min;       /* prefilled smallest OWNS source per node, or NULL */
	uint8_t *is_team;      /* bitmap of Team nodes (with owns_min) */
	int e_owns, t_team;
	st__qmap rowmap;       /* (group, currency) -> row index */
	st_cost_row *rows;
	size_t n_rows, cap_rows;
	size_t res_rows; /* ST_GROUP_RESOURCE: rows before the current resource's */
	int err;
	st_id err_node;
} rollup;

/* Smallest-id neighbour over one edge type (adjacency runs are sorted, so it
 * is the first value); ST_ID_NONE if none. */
static int first_neighbour(st_snap *s, st_dir dir, st_id node, int type, st_id *ret)
{
	*ret = ST_ID_NONE;
	if (type < 0)
		return 0;
	st_adj_iter it;
	int r = st_snap_adj_open_type(s, dir, node, type, &it);
	if (r)
		return r == ST_E_NOTFOUND ? 0 : r;
	const void *vals;
	size_t n;
	r = st_adj_next(&it, &vals, &n);
	if (r == 1)
		*ret = st_adj_node(st_adj_at(vals, 0));
	st_adj_close(&it);
	return r < 0 ? r : 0;
}

/* Walk the PART_OF chain from `from` (inclusive) up to the first node of
 * type `want`: at each step the smallest-id PART_OF target of that type if
 * there is one, else the smallest-id target. */
static int find_up(rollup *ru, st_id from, int want, st_id *ret)
{
	*ret = ST_ID_NONE;
	if (want < 0 || ru->e_part < 0)
		return 0;
	st_id cur = from;
	for (int step = 0; step <= CHAIN_MAX && cur != ST_ID_NONE; step++) {
		st_node nd;
		int r = st_snap_node(ru->s, cur, &nd);
		if (r)
			return r;
		if (nd.type == want) {
			*ret = cur;
			return 0;
		}
		/* prefer a target of the wanted type among all PART_OF targets */
		st_adj_iter it;
		r = st_snap_adj_open_type(ru->s, ST_OUT, cur, ru->e_part, &it);
		if (r)
			return r == ST_E_NOTFOUND ? 0 : r;
		const void *vals;
		size_t n;
		st_id first = ST_ID_NONE, hit = ST_ID_NONE;
		while (hit == ST_ID_NONE && (r = st_adj_next(&it, &vals, &n)) == 1) {
			for (size_t i = 0; i < n; i++) {
				st_id t = st_adj_node(st_adj_at(vals, i));
				if (first == ST_ID_NONE)
					first = t;
				st_node tn;
				if ((r = st_snap_node(ru->s, t, &tn)))
					break;
				if (tn.type == want) {
					hit = t;
					break;
				}
			}
			if (r < 0)
				break;
		}
		st_adj_close(&it);
		if (r < 0)
			return r;
		if (hit != ST_ID_NONE) {
			*ret = hit;
			return 0;
		}
		cur = first;
	}
	return 0; /* no such ancestor (or a cycle / more than CHAIN_MAX steps) */
}

/* find_up(b, System), answered from the prefilled arrays when b is a
 * System or has a System among its PART_OF targets (the common case). */
static int system_of(rollup *ru, st_id b, st_id *ret)
{
	if (ru->sys_of && b < ru->bound) {
		if (ru->is_sys[b / 8] & (1u << (b % 8))) {
			*ret = b;
			return 0;
		}
		if (ru->sys_of[b] != ST_ID_NONE) {
			*ret = ru->sys_of[b];
			return 0;
		}
	}
	return find_up(ru, b, ru->t_system, ret);
}

/* Group of a BILLED_TO target for ST_GROUP_TEAM/SYSTEM/DOMAIN. */
static int target_group(rollup *ru, st_id b, st_id *ret)
{
	*ret = ST_ID_NONE;
	int r = 0;
	switch (ru->g) {
	case ST_GROUP_TEAM: {
		if (ru->owns_min && b < ru->bound) {
			if (ru->is_team[b / 8] & (1u << (b % 8))) {
				*ret = b; /* a team owns itself */
				break;
			}
			if (ru->owns_min[b] != ST_ID_NONE) {
				*ret = ru->owns_min[b]; /* == owners[0] of the OWNS claim */
				break;
			}
		}
		st_claim cl;
		const st_id *ow;
		size_t n;
		r = st__owner_eval(ru->own, b, &cl, &ow, &n);
		if (!r && n)
			*ret = ow[0]; /* conflict: the smallest id */
		break;
	}
	case ST_GROUP_SYSTEM:
		r = system_of(ru, b, ret);
		break;
	case ST_GROUP_DOMAIN: {
		st_id sys;
		r = system_of(ru, b, &sys);
		if (r || sys == ST_ID_NONE)
			break;
		uint32_t *m = st__qmap_get(&ru->sys_domain, sys);
		if (m) {
			*ret = *m;
			break;
		}
		if (!(r = find_up(ru, sys, ru->t_domain, ret)))
			st__qmap_put(&ru->sys_domain, sys, *ret, NULL);
		break;
	}
	default:
		*ret = b;
	}
	return r;
}

/* BILLED_TO target of resource r: the smallest-id target, else through
 * r -SAME_AS-> y (smallest y) y's smallest-id target; NONE if neither. */
static int direct_billed(rollup *ru, st_id node, st_id *ret)
{
	if (ru->billed) {
		*ret = node < ru->bound ? ru->billed[node] : ST_ID_NONE;
		return 0;
	}
	return first_neighbour(ru->s, ST_OUT, node, ru->e_billed, ret);
}

static int billed_to(rollup *ru, st_id r_id, st_id *ret)
{
	int r = direct_billed(ru, r_id, ret);
	if (r || *ret != ST_ID_NONE)
		return r;
	st_id y;
	if ((r = first_neighbour(ru->s, ST_OUT, r_id, ru->e_same, &y)) || y == ST_ID_NONE)
		return r;
	return direct_billed(ru, y, ret);
}

typedef struct fill_ctx {
	rollup *ru;
	st_id *arr;
	int edge;
	st_dir dir;
	uint8_t *bits; /* optional: mark each scanned id */
	int err;
} fill_ctx;

/* For each node t of a type: every neighbour of t over `edge` in direction
 * `dir` gets t, unless it already has a smaller one. */
static int fill_cb(const void *ids, size_t n, void *ctx)
{
	fill_ctx *fc = ctx;
	for (size_t i = 0; i < n; i++) {
		st_id t = st_id_at(ids, i);
		if (fc->bits && t < fc->ru->bound)
			fc->bits[t / 8] |= (uint8_t)(1u << (t % 8));
		st_adj_iter it;
		int r = st_snap_adj_open_type(fc->ru->s, fc->dir, t, fc->edge, &it);
		if (r)
			return fc->err = r;
		const void *vals;
		size_t m;
		while ((r = st_adj_next(&it, &vals, &m)) == 1)
			for (size_t j = 0; j < m; j++) {
				st_id u = st_adj_node(st_adj_at(vals, j));
				if (u < fc->ru->bound && (fc->arr[u] == ST_ID_NONE || t < fc->arr[u]))
					fc->arr[u] = t;
			}
		st_adj_close(&it);
		if (r < 0)
			return fc->err = r;
	}
	return 0;
}

/* Only mark the scanned ids in fc->bits. */
static int mark_cb(const void *ids, size_t n, void *ctx)
{
	fill_ctx *fc = ctx;
	for (size_t i = 0; i < n; i++) {
		st_id t = st_id_at(ids, i);
		if (t < fc->ru->bound)
			fc->bits[t / 8] |= (uint8_t)(1u << (t % 8));
	}
	return 0;
}

/* Prefill billed[] from the BILLED_TO targets' side: far fewer targets
 * (services, teams) than billed resources, so far fewer look-ups.  Only
 * when the schema lists the target types (not "*"). */
static int prefill(rollup *ru)
{
	const st_schema *sc = st__snap_schema(ru->s);
	ru->bound = st_snap_id_bound(ru->s);
	const st_edge_type *et = ru->e_billed >= 0 ? st_schema_edge_type(sc, (size_t)ru->e_billed)
						   : NULL;
	int r;
	if (et && !et->any_to) {
		ru->billed = st_xcalloc(ru->bound, sizeof(st_id));
		fill_ctx fc = {ru, ru->billed, ru->e_billed, ST_IN, NULL, 0};
		for (size_t i = 0; i < et->n_to; i++)
			if ((r = st_snap_scan_type(ru->s, et->to[i], fill_cb, &fc)))
				return fc.err ? fc.err : r;
	}
	if ((ru->g == ST_GROUP_SYSTEM || ru->g == ST_GROUP_DOMAIN) && ru->t_system >= 0 &&
	    ru->e_part >= 0) {
		ru->sys_of = st_xcalloc(ru->bound, sizeof(st_id));
		ru->is_sys = st_xcalloc(ru->bound / 8 + 1, 1);
		fill_ctx fc = {ru, ru->sys_of, ru->e_part, ST_IN, ru->is_sys, 0};
		if ((r = st_snap_scan_type(ru->s, ru->t_system, fill_cb, &fc)))
			return fc.err ? fc.err : r;
	}
	/* owner() of most targets is decided by a Team type or an OWNS edge:
	 * prefill both from the (few) OWNS sources; the rest is evaluated */
	const st_edge_type *ot = ru->e_owns >= 0 ? st_schema_edge_type(sc, (size_t)ru->e_owns)
						 : NULL;
	if (ru->g == ST_GROUP_TEAM && ot && !ot->any_from && ru->t_team >= 0) {
		ru->owns_min = st_xcalloc(ru->bound, sizeof(st_id));
		ru->is_team = st_xcalloc(ru->bound / 8 + 1, 1);
		st_id none = 0;
		fill_ctx fc = {ru, &none, -1, ST_OUT, ru->is_team, 0};
		if ((r = st_snap_scan_type(ru->s, ru->t_team, mark_cb, &fc)))
			return fc.err ? fc.err : r;
		fc = (fill_ctx){ru, ru->owns_min, ru->e_owns, ST_OUT, NULL, 0};
		for (size_t i = 0; i < ot->n_from; i++)
			if ((r = st_snap_scan_type(ru->s, ot->from[i], fill_cb, &fc)))
				return fc.err ? fc.err : r;
	}
	return 0;
}

static int attribute(rollup *ru, st_id res, st_id *ret)
{
	if (ru->g == ST_GROUP_RESOURCE) {
		*ret = res;
		return 0;
	}
	st_id b;
	int r = billed_to(ru, res, &b);
	if (r)
		return r;
	if (b == ST_ID_NONE || ru->g == ST_GROUP_SERVICE) {
		*ret = b;
		return 0;
	}
	uint32_t *m = st__qmap_get(&ru->target_group, b);
	if (m) {
		*ret = *m;
		return 0;
	}
	if ((r = target_group(ru, b, ret)))
		return r;
	st__qmap_put(&ru->target_group, b, *ret, NULL);
	return 0;
}

static size_t new_row(rollup *ru, st_id group, uint16_t currency)
{
	if (ru->n_rows == ru->cap_rows) {
		ru->cap_rows = ru->cap_rows ? ru->cap_rows * 2 : 64;
		ru->rows = st_xrealloc(ru->rows, ru->cap_rows * sizeof(st_cost_row));
	}
	ru->rows[ru->n_rows] = (st_cost_row){group, currency, 0, 0};
	return ru->n_rows++;
}

static size_t row_of(rollup *ru, st_id group, uint16_t currency)
{
	if (ru->g == ST_GROUP_RESOURCE) {
		/* a resource's facts all come in one call, so its rows are the
		 * last ones created: no map needed */
		for (size_t i = ru->n_rows; i > ru->res_rows; i--)
			if (ru->rows[i - 1].currency == currency)
				return i - 1;
		return new_row(ru, group, currency);
	}
	uint64_t key = (1ull << 48) | ((uint64_t)group << 16) | currency;
	int fresh;
	uint32_t *v = st__qmap_put(&ru->rowmap, key, (uint32_t)ru->n_rows, &fresh);
	if (fresh)
		new_row(ru, group, currency);
	return *v;
}

static int on_facts(st_id resource, const st_cost *facts, size_t n, void *ctx)
{
	rollup *ru = ctx;
	st_id group;
	ru->res_rows = ru->n_rows;
	int r = attribute(ru, resource, &group);
	if (r) {
		ru->err = r;
		ru->err_node = resource;
		return r;
	}
	uint16_t cur = facts[0].currency;
	size_t ri = row_of(ru, group, cur); /* may move ru->rows */
	st_cost_row *row = &ru->rows[ri];
	bool billed = ru->m == ST_METRIC_BILLED;
	for (size_t i = 0; i < n; i++) {
		if (facts[i].currency != cur) {
			cur = facts[i].currency;
			ri = row_of(ru, group, cur);
			row = &ru->rows[ri];
		}
		int64_t v = billed ? facts[i].billed : facts[i].effective;
		if (__builtin_add_overflow(row->amount, v, &row->amount)) {
			ru->err = ST_E_LIMIT;
			ru->err_node = resource;
			return ST_E_LIMIT;
		}
		row->facts++;
	}
	return 0;
}

static int cmp_row(const void *a, const void *b)
{
	const st_cost_row *x = a, *y = b;
	if (x->currency != y->currency)
		return x->currency < y->currency ? -1 : 1;
	if (x->amount != y->amount)
		return x->amount > y->amount ? -1 : 1;
	return x->group < y->group ? -1 : x->group > y->group;
}

int st_cost_rollup(st_snap *s, int32_t from, int32_t to, st_group g, st_metric m,
		   st_cost_result **ret, st_diag *diag)
{
	if (g < ST_GROUP_RESOURCE || g > ST_GROUP_DOMAIN)
		return st_diag_set(diag, ST_E_INVALID, "cost: unknown grouping %d", (int)g);
	if (m != ST_METRIC_EFFECTIVE && m != ST_METRIC_BILLED)
		return st_diag_set(diag, ST_E_INVALID, "cost: unknown metric %d", (int)m);
	const st_schema *sc = st__snap_schema(s);
	rollup ru = {
		.s = s,
		.g = g,
		.m = m,
		.e_billed = st_schema_find_edge_type(sc, "BILLED_TO", 9),
		.e_same = st_schema_find_edge_type(sc, "SAME_AS", 7),
		.e_part = st_schema_find_edge_type(sc, "PART_OF", 7),
		.t_system = st_schema_find_node_type(sc, "System", 6),
		.t_domain = st_schema_find_node_type(sc, "Domain", 6),
		.e_owns = st_schema_find_edge_type(sc, "OWNS", 4),
		.t_team = st_schema_find_node_type(sc, "Team", 4),
	};
	if (g == ST_GROUP_TEAM)
		ru.own = st__owner_ctx_new(s);
	int r = 0;
	if (from < to && g != ST_GROUP_RESOURCE && (r = prefill(&ru))) {
		r = st_diag_set(diag, r, "cost: store read failed: %s", st_strerror(r));
		goto out;
	}
	if (from < to && (r = st_snap_scan_costs(s, from, to, on_facts, &ru))) {
		if (ru.err == ST_E_LIMIT)
			r = st_diag_set(diag, r, "cost: amount overflows 64 bits at resource %u",
					ru.err_node);
		else if (ru.err)
			r = st_diag_set(diag, r, "cost: attributing resource %u: %s", ru.err_node,
					st_strerror(r));
		else
			r = st_diag_set(diag, r, "cost: store read failed: %s", st_strerror(r));
		goto out;
	}
	if (ru.n_rows)
		qsort(ru.rows, ru.n_rows, sizeof(st_cost_row), cmp_row);

	st_cost_result *res = st_xcalloc(1, sizeof(*res));
	res->rows = ru.rows;
	res->n_rows = ru.n_rows;
	ru.rows = NULL;
	/* totals: rows are grouped by currency after the sort */
	size_t nt = 0;
	for (size_t i = 0; i < res->n_rows; i++)
		if (i == 0 || res->rows[i].currency != res->rows[i - 1].currency)
			nt++;
	if (nt)
		res->totals = st_xcalloc(nt, sizeof(*res->totals));
	res->n_totals = 0;
	for (size_t i = 0; i < res->n_rows; i++) {
		const st_cost_row *row = &res->rows[i];
		if (i == 0 || row->currency != res->rows[i - 1].currency)
			res->totals[res->n_totals++].currency = row->currency;
		__typeof__(res->totals) t = &res->totals[res->n_totals - 1];
		if (__builtin_add_overflow(t->amount, row->amount, &t->amount)) {
			st_cost_result_free(res);
			r = st_diag_set(diag, ST_E_LIMIT, "cost: total overflows 64 bits");
			goto out;
		}
		t->facts += row->facts;
	}
	*ret = res;
out:
	free(ru.rows);
	st__qmap_free(&ru.rowmap);
	st__qmap_free(&ru.target_group);
	st__qmap_free(&ru.sys_domain);
	free(ru.billed);
	free(ru.sys_of);
	free(ru.is_sys);
	free(ru.owns_min);
	free(ru.is_team);
	st__owner_ctx_free(ru.own);
	return r;
}

void st_cost_result_free(st_cost_result *r)
{
	if (!r)
		return;
	free(r->rows);
	free(r->totals);
	free(r);
}
