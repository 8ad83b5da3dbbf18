/*
 * blast_agg.c — the aggregates of a blast radius (query.h
 * st_br_aggregate_compute): affected services, the teams to notify, the
 * cost at risk.  Built on the other queries (st_owner, st_cost_rollup); no
 * store access of its own beyond node types.
 */
#include <stdlib.h>
#include <string.h>

#include "query.h"

static int id_cmp(const void *a, const void *b)
{
	st_id x = *(const st_id *)a, y = *(const st_id *)b;
	return x < y ? -1 : x > y;
}

static int team_cmp(const void *a, const void *b)
{
	const st_br_team *x = a, *y = b;
	if (x->services != y->services)
		return x->services > y->services ? -1 : 1;
	return x->team < y->team ? -1 : x->team > y->team;
}

static int money_cmp(const void *a, const void *b)
{
	const st_br_money *x = a, *y = b;
	return x->currency < y->currency ? -1 : x->currency > y->currency;
}

void st_br_aggregate_free(st_br_aggregate *a)
{
	if (!a)
		return;
	free(a->teams);
	free(a->risk);
	free(a);
}

/* Count one affected service for each of its owners. */
static int count_owners(st_snap *s, st_id id, st_br_aggregate *a, size_t *cap, st_diag *diag)
{
	st_owner_result *ow;
	int r = st_owner(s, id, &ow, diag);
	if (r)
		return r;
	if (ow->n_owners == 0)
		a->unowned++;
	for (size_t j = 0; j < ow->n_owners; j++) {
		size_t t = 0;
		while (t < a->n_teams && a->teams[t].team != ow->owners[j])
			t++;
		if (t == a->n_teams) {
			if (a->n_teams == *cap) {
				*cap = *cap ? *cap * 2 : 16;
				a->teams = st_xrealloc(a->teams, *cap * sizeof(*a->teams));
			}
			a->teams[a->n_teams++] = (st_br_team){ow->owners[j], 0};
		}
		a->teams[t].services++;
	}
	st_owner_result_free(ow);
	return 0;
}

static int cost_at_risk(st_snap *s, const st_br_result *r, int32_t from, int32_t to, st_metric m,
			st_br_aggregate *a, st_diag *diag)
{
	st_cost_result *cr;
	int rc = st_cost_rollup(s, from, to, ST_GROUP_SERVICE, m, &cr, diag);
	if (rc)
		return rc;
	st_id *ids = st_xmalloc((r->n_hits + 1) * sizeof(st_id));
	for (size_t i = 0; i < r->n_hits; i++)
		ids[i] = r->hits[i].id;
	ids[r->n_hits] = r->root;
	qsort(ids, r->n_hits + 1, sizeof(st_id), id_cmp);
	size_t cap = 0;
	for (size_t i = 0; i < cr->n_rows; i++) {
		st_id g = cr->rows[i].group;
		if (!g || !bsearch(&g, ids, r->n_hits + 1, sizeof(st_id), id_cmp))
			continue;
		size_t c = 0;
		while (c < a->n_risk && a->risk[c].currency != cr->rows[i].currency)
			c++;
		if (c == a->n_risk) {
			if (a->n_risk == cap) {
				cap = cap ? cap * 2 : 4;
				a->risk = st_xrealloc(a->risk, cap * sizeof(*a->risk));
			}
			a->risk[a->n_risk++] = (st_br_money){cr->rows[i].currency, 0};
		}
		a->risk[c].amount += cr->rows[i].amount;
	}
	if (a->n_risk > 1)
		qsort(a->risk, a->n_risk, sizeof(*a->risk), money_cmp);
	free(ids);
	st_cost_result_free(cr);
	return 0;
}

int st_br_aggregate_compute(st_snap *s, const st_br_result *r, int32_t from, int32_t to, st_metric m,
			    st_br_aggregate **ret, st_diag *diag)
{
	const st_schema *sc = st__snap_schema(s);
	int svc = st_schema_find_node_type(sc, "Service", 7);
	int cmp = st_schema_find_node_type(sc, "Component", 9);
	st_br_aggregate *a = st_xcalloc(1, sizeof(*a));
	size_t cap = 0;
	int rc = 0;
	for (size_t i = 0; i < r->n_hits && !rc; i++) {
		st_node n;
		if (st_snap_node(s, r->hits[i].id, &n) || n.type < 0 || (n.type != svc && n.type != cmp))
			continue;
		a->services++;
		rc = count_owners(s, r->hits[i].id, a, &cap, diag);
	}
	if (!rc && a->n_teams > 1)
		qsort(a->teams, a->n_teams, sizeof(*a->teams), team_cmp);
	if (!rc && from < to)
		rc = cost_at_risk(s, r, from, to, m, a, diag);
	if (rc) {
		st_br_aggregate_free(a);
		return rc;
	}
	*ret = a;
	return 0;
}
