/*
 * render.c — query answers as JSON (render.h).  The documents are the public
 * contract of `stacktwin query --json` and of /api/v1 (docs/api.md): keys and
 * their order change only together with those docs and the tests.  This file
 * formats; it must not run queries, print or log.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <yajl/yajl_gen.h>

#include "props.h"
#include "render.h"

static void gk(yajl_gen g, const char *k)
{
	yajl_gen_string(g, (const unsigned char *)k, strlen(k));
}

static void gs(yajl_gen g, const char *s, size_t n)
{
	yajl_gen_string(g, (const unsigned char *)s, n);
}

static void gmoney(yajl_gen g, int64_t micros)
{
	char buf[ST_MONEY_BUF];
	size_t n = st_money_format(micros, buf);
	yajl_gen_number(g, buf, n);
}

static void gcurrency(yajl_gen g, uint16_t code)
{
	char cur[4];
	st_currency_format(code, cur);
	gs(g, cur, 3);
}

/* id string and type name of a node ("?" if it vanished) */
static void node_info(st_snap *s, st_id id, const char **key, size_t *klen, const char **type)
{
	st_node n;
	if (st_snap_node(s, id, &n) == 0) {
		*key = n.key;
		*klen = n.key_len;
		*type = n.type >= 0 ?
				st_schema_node_type(st__snap_schema(s), (size_t)n.type)->name :
				"?";
	} else {
		*key = "?";
		*klen = 1;
		*type = "?";
	}
}

static void gnode(yajl_gen g, st_snap *s, st_id id)
{
	const char *k, *t;
	size_t kl;
	node_info(s, id, &k, &kl, &t);
	gs(g, k, kl);
}

static const char *edge_name(st_snap *s, int t)
{
	return t >= 0 ? st_schema_edge_type(st__snap_schema(s), (size_t)t)->name : "?";
}

/* Open a JSON object {"id": …, "type": …, for the caller to add to and close. */
static void gnode_obj(yajl_gen g, st_snap *s, st_id id)
{
	const char *k, *t;
	size_t kl;
	node_info(s, id, &k, &kl, &t);
	yajl_gen_map_open(g);
	gk(g, "id");
	gs(g, k, kl);
	gk(g, "type");
	gk(g, t);
}

static void gid_list(yajl_gen g, st_snap *s, const char *key, const st_id *ids, size_t n)
{
	gk(g, key);
	yajl_gen_array_open(g);
	for (size_t i = 0; i < n; i++)
		gnode(g, s, ids[i]);
	yajl_gen_array_close(g);
}

const char *st_render_claim_name(st_claim c)
{
	switch (c) {
	case ST_CLAIM_SELF: return "self";
	case ST_CLAIM_OWNS: return "owns";
	case ST_CLAIM_INHERITED: return "inherited";
	default: return "unowned";
	}
}

static const struct {
	const char *name;
	st_group g;
} groups[] = {
	{"resource", ST_GROUP_RESOURCE}, {"service", ST_GROUP_SERVICE}, {"team", ST_GROUP_TEAM},
	{"system", ST_GROUP_SYSTEM},	 {"domain", ST_GROUP_DOMAIN},
};

const char *st_render_group_name(st_group by)
{
	for (size_t i = 0; i < ST_ARRAY_LEN(groups); i++)
		if (groups[i].g == by)
			return groups[i].name;
	return "?";
}

int st_render_group_parse(const char *name, st_group *ret_group)
{
	for (size_t i = 0; name && i < ST_ARRAY_LEN(groups); i++)
		if (!strcmp(name, groups[i].name)) {
			*ret_group = groups[i].g;
			return 0;
		}
	return ST_E_INVALID;
}

size_t st_render_unknown_node(st_snap *s, const char *id, char *buf, size_t cap)
{
	size_t idlen = strlen(id);
	st_id sug[5];
	size_t n = st_suggest(s, id, idlen, sug, 5);
	size_t at = 0;
	int w = snprintf(buf, cap, "unknown node '%.*s'", (int)(idlen > 400 ? 400 : idlen), id);
	at = w > 0 ? (size_t)w : 0;
	for (size_t i = 0; i < n && at < cap; i++) {
		const char *k, *t;
		size_t kl;
		node_info(s, sug[i], &k, &kl, &t);
		w = snprintf(buf + at, cap - at, "%s'%.*s'", i ? ", " : "; did you mean ", (int)kl,
			     k);
		at += w > 0 ? (size_t)w : 0;
	}
	if (n && at < cap)
		snprintf(buf + at, cap - at, "?");
	return n;
}

size_t st_render_page_end(const st_render_page *p, size_t n)
{
	if (!p)
		return n;
	size_t off = p->offset < n ? p->offset : n;
	return p->limit && p->limit < n - off ? off + p->limit : n;
}

static size_t page_start(const st_render_page *p, size_t n)
{
	return p && p->offset < n ? p->offset : (p ? n : 0);
}

static void gnext_cursor(yajl_gen g, const st_render_page *p)
{
	if (!p || !p->cursor)
		return;
	gk(g, "next_cursor");
	if (p->next_cursor)
		gk(g, p->next_cursor);
	else
		yajl_gen_null(g);
}

int st_render_blast(yajl_gen g, st_snap *s, const st_br_result *r, const st_br_aggregate *ag,
		    uint32_t depth, bool with_risk, const st_render_page *page)
{
	st_render_page dflt = {0, 100, false, NULL};
	if (!page)
		page = &dflt;
	size_t limit = page->limit ? page->limit : 100;
	st_render_page pg = *page;
	pg.limit = limit;
	size_t off = page_start(&pg, r->n_hits);
	size_t end = st_render_page_end(&pg, r->n_hits);
	st_id *path = malloc(((size_t)r->max_distance + 2) * sizeof(st_id));
	if (!path)
		return -ENOMEM;
	yajl_gen_map_open(g);
	gk(g, "root");
	gnode(g, s, r->root);
	gk(g, "revision");
	yajl_gen_integer(g, (long long)st_snap_revision(s));
	gk(g, "depth");
	if (depth)
		yajl_gen_integer(g, depth);
	else
		yajl_gen_null(g);
	gk(g, "total");
	yajl_gen_integer(g, (long long)r->n_hits);
	if (pg.cursor) {
		gk(g, "limit");
		yajl_gen_integer(g, (long long)limit);
		gnext_cursor(g, &pg);
	} else {
		gk(g, "offset");
		yajl_gen_integer(g, (long long)off);
		gk(g, "limit");
		yajl_gen_integer(g, (long long)limit);
		gk(g, "next_offset");
		if (end < r->n_hits)
			yajl_gen_integer(g, (long long)end);
		else
			yajl_gen_null(g);
	}
	gk(g, "nodes");
	yajl_gen_array_open(g);
	for (size_t i = off; i < end; i++) {
		gnode_obj(g, s, r->hits[i].id);
		gk(g, "distance");
		yajl_gen_integer(g, r->hits[i].distance);
		gk(g, "path");
		yajl_gen_array_open(g);
		size_t pn = st_br_path(r, i, path);
		for (size_t p = 0; p < pn; p++)
			gnode(g, s, path[p]);
		yajl_gen_array_close(g);
		gk(g, "edge");
		gk(g, edge_name(s, r->hits[i].edge_type));
		yajl_gen_map_close(g);
	}
	yajl_gen_array_close(g);
	gk(g, "affected_services");
	yajl_gen_integer(g, (long long)ag->services);
	gk(g, "owner_teams");
	yajl_gen_array_open(g);
	for (size_t t = 0; t < ag->n_teams; t++) {
		yajl_gen_map_open(g);
		gk(g, "team");
		gnode(g, s, ag->teams[t].team);
		gk(g, "services");
		yajl_gen_integer(g, (long long)ag->teams[t].services);
		yajl_gen_map_close(g);
	}
	yajl_gen_array_close(g);
	gk(g, "unowned_services");
	yajl_gen_integer(g, (long long)ag->unowned);
	if (with_risk) {
		gk(g, "cost_at_risk");
		yajl_gen_array_open(g);
		for (size_t c = 0; c < ag->n_risk; c++) {
			yajl_gen_map_open(g);
			gk(g, "currency");
			gcurrency(g, ag->risk[c].currency);
			gk(g, "amount");
			gmoney(g, ag->risk[c].amount);
			yajl_gen_map_close(g);
		}
		yajl_gen_array_close(g);
	}
	yajl_gen_map_close(g);
	free(path);
	return 0;
}

int st_render_owners(yajl_gen g, st_snap *s, const st_owner_result *r)
{
	yajl_gen_map_open(g);
	gk(g, "node");
	gnode(g, s, r->node);
	gk(g, "claim");
	gk(g, st_render_claim_name(r->claim));
	gid_list(g, s, "owners", r->owners, r->n_owners);
	gk(g, "conflict");
	yajl_gen_bool(g, r->conflict);
	gk(g, "via");
	yajl_gen_array_open(g);
	for (size_t i = 0; i < r->n_chain; i++) {
		yajl_gen_map_open(g);
		gk(g, "node");
		gnode(g, s, r->chain[i]);
		if (i + 1 < r->n_chain) {
			gk(g, "edge");
			gk(g, edge_name(s, r->chain_edges[i]));
		}
		yajl_gen_map_close(g);
	}
	yajl_gen_array_close(g);
	yajl_gen_map_close(g);
	return 0;
}

int st_render_owned_by(yajl_gen g, st_snap *s, const st_owned_result *r, const st_render_page *page)
{
	/* rows [off, end) of direct ++ inherited */
	size_t n = r->n_direct + r->n_inherited;
	size_t off = page_start(page, n), end = st_render_page_end(page, n);
	size_t d0 = off < r->n_direct ? off : r->n_direct;
	size_t d1 = end < r->n_direct ? end : r->n_direct;
	size_t i0 = off > r->n_direct ? off - r->n_direct : 0;
	size_t i1 = end > r->n_direct ? end - r->n_direct : 0;
	yajl_gen_map_open(g);
	gk(g, "team");
	gnode(g, s, r->team);
	gid_list(g, s, "direct", r->direct + d0, d1 - d0);
	gid_list(g, s, "inherited", r->inherited + i0, i1 > i0 ? i1 - i0 : 0);
	gnext_cursor(g, page);
	yajl_gen_map_close(g);
	return 0;
}

int st_render_cost(yajl_gen g, st_snap *s, const st_cost_result *r, st_group by, int32_t from,
		   int32_t to, st_metric m, const st_render_page *page)
{
	size_t off = page_start(page, r->n_rows), end = st_render_page_end(page, r->n_rows);
	char day[11];
	yajl_gen_map_open(g);
	gk(g, "by");
	gk(g, st_render_group_name(by));
	gk(g, "from");
	st_day_format(from, day);
	gs(g, day, 10);
	gk(g, "to");
	st_day_format(to, day);
	gs(g, day, 10);
	gk(g, "metric");
	gk(g, m == ST_METRIC_BILLED ? "billed" : "effective");
	gk(g, "rows");
	yajl_gen_array_open(g);
	for (size_t i = off; i < end; i++) {
		yajl_gen_map_open(g);
		gk(g, "group");
		if (r->rows[i].group)
			gnode(g, s, r->rows[i].group);
		else
			yajl_gen_null(g);
		gk(g, "currency");
		gcurrency(g, r->rows[i].currency);
		gk(g, "amount");
		gmoney(g, r->rows[i].amount);
		gk(g, "facts");
		yajl_gen_integer(g, (long long)r->rows[i].facts);
		yajl_gen_map_close(g);
	}
	yajl_gen_array_close(g);
	gk(g, "totals");
	yajl_gen_array_open(g);
	for (size_t i = 0; i < r->n_totals; i++) {
		yajl_gen_map_open(g);
		gk(g, "currency");
		gcurrency(g, r->totals[i].currency);
		gk(g, "amount");
		gmoney(g, r->totals[i].amount);
		gk(g, "facts");
		yajl_gen_integer(g, (long long)r->totals[i].facts);
		yajl_gen_map_close(g);
	}
	yajl_gen_array_close(g);
	gnext_cursor(g, page);
	yajl_gen_map_close(g);
	return 0;
}

int st_render_path(yajl_gen g, st_snap *s, const st_path_result *r)
{
	yajl_gen_map_open(g);
	gk(g, "paths");
	yajl_gen_array_open(g);
	for (size_t p = 0; p < r->n_paths; p++) {
		yajl_gen_map_open(g);
		gk(g, "nodes");
		yajl_gen_array_open(g);
		for (size_t i = 0; i < r->len; i++)
			gnode(g, s, r->nodes[r->starts[p] + i]);
		yajl_gen_array_close(g);
		gk(g, "edges");
		yajl_gen_array_open(g);
		for (size_t i = 0; i + 1 < r->len; i++)
			gk(g, edge_name(s, r->edges[r->starts[p] - p + i]));
		yajl_gen_array_close(g);
		yajl_gen_map_close(g);
	}
	yajl_gen_array_close(g);
	yajl_gen_map_close(g);
	return 0;
}

int st_render_neighbours(yajl_gen g, st_snap *s, const st_nb_result *r)
{
	yajl_gen_map_open(g);
	gk(g, "nodes");
	yajl_gen_array_open(g);
	for (size_t i = 0; i < r->n_nodes; i++) {
		gnode_obj(g, s, r->nodes[i]);
		gk(g, "hop");
		yajl_gen_integer(g, r->hops[i]);
		yajl_gen_map_close(g);
	}
	yajl_gen_array_close(g);
	gk(g, "edges");
	yajl_gen_array_open(g);
	for (size_t i = 0; i < r->n_edges; i++) {
		yajl_gen_map_open(g);
		gk(g, "src");
		gnode(g, s, r->edges[i].src);
		gk(g, "dst");
		gnode(g, s, r->edges[i].dst);
		gk(g, "type");
		gk(g, edge_name(s, r->edges[i].type));
		yajl_gen_map_close(g);
	}
	yajl_gen_array_close(g);
	gk(g, "truncated");
	yajl_gen_bool(g, r->truncated);
	yajl_gen_map_close(g);
	return 0;
}

int st_render_search(yajl_gen g, st_snap *s, const st_search_result *r, const st_render_page *page)
{
	size_t off = page_start(page, r->n_ids), end = st_render_page_end(page, r->n_ids);
	yajl_gen_map_open(g);
	gk(g, "nodes");
	yajl_gen_array_open(g);
	for (size_t i = off; i < end; i++) {
		gnode_obj(g, s, r->ids[i]);
		yajl_gen_map_close(g);
	}
	yajl_gen_array_close(g);
	gk(g, "truncated");
	yajl_gen_bool(g, r->truncated || end < r->n_ids);
	gnext_cursor(g, page);
	yajl_gen_map_close(g);
	return 0;
}

/* One property value in the interchange format's JSON form. */
static int gprop_value(yajl_gen g, const st_prop *p)
{
	char num[40];
	size_t nl;
	switch (p->type) {
	case ST_P_STRING: gs(g, p->v.s.p, p->v.s.len); break;
	case ST_P_INT:
		nl = (size_t)snprintf(num, sizeof(num), "%lld", (long long)p->v.i);
		yajl_gen_number(g, num, nl);
		break;
	case ST_P_FLOAT:
		nl = st_double_format(p->v.f, num);
		yajl_gen_number(g, num, nl);
		break;
	case ST_P_BOOL: yajl_gen_bool(g, p->v.b); break;
	case ST_P_TIMESTAMP:
		nl = st_timestamp_format(p->v.i, num);
		gs(g, num, nl);
		break;
	case ST_P_LIST:
	case ST_P_MAP: {
		bool map = p->type == ST_P_MAP;
		map ? yajl_gen_map_open(g) : yajl_gen_array_open(g);
		st_coll_iter ci;
		st_coll_iter_init(&ci, p);
		const char *k, *v;
		size_t kl, vl;
		int cr;
		while ((cr = st_coll_next(&ci, &k, &kl, &v, &vl)) == 1) {
			gs(g, k, kl);
			if (map)
				gs(g, v, vl);
		}
		if (cr < 0)
			return ST_E_STORE;
		map ? yajl_gen_map_close(g) : yajl_gen_array_close(g);
		break;
	}
	default: return ST_E_STORE;
	}
	return 0;
}

int st_render_node(yajl_gen g, st_snap *s, st_id id)
{
	st_node n;
	if (st_snap_node(s, id, &n) != 0)
		return -ENOENT;
	gnode_obj(g, s, id);
	st_props_iter it;
	st_prop p;
	int r;
	gk(g, "props");
	yajl_gen_map_open(g);
	st_props_iter_init(&it, n.props, n.props_len);
	while ((r = st_props_next(&it, &p)) == 1) {
		gs(g, p.key, p.klen);
		int e = gprop_value(g, &p);
		if (e)
			return e;
	}
	if (r < 0)
		return ST_E_STORE;
	yajl_gen_map_close(g);
	gk(g, "prop_types");
	yajl_gen_map_open(g);
	st_props_iter_init(&it, n.props, n.props_len);
	while ((r = st_props_next(&it, &p)) == 1) {
		const char *tn = st_ptype_name(p.type);
		gs(g, p.key, p.klen);
		gk(g, tn ? tn : "?");
	}
	if (r < 0)
		return ST_E_STORE;
	yajl_gen_map_close(g);
	gk(g, "provenance");
	yajl_gen_array_open(g);
	for (uint32_t i = 0; i < n.n_prov; i++) {
		st_prov pv;
		if (st_snap_prov(s, n.prov_raw, i, &pv))
			return ST_E_STORE;
		yajl_gen_map_open(g);
		gk(g, "source");
		gs(g, pv.source, pv.source_len);
		gk(g, "first_revision");
		yajl_gen_integer(g, (long long)pv.first_rev);
		gk(g, "last_revision");
		yajl_gen_integer(g, (long long)pv.last_rev);
		gk(g, "origin");
		gs(g, pv.origin, pv.origin_len);
		gk(g, "line");
		yajl_gen_integer(g, pv.line);
		/* a reference: the source points at the node, another declares it */
		gk(g, "reference");
		yajl_gen_bool(g, (pv.flags & ST_PROV_REF) != 0);
		/* kept from an earlier read because its origin failed to parse */
		gk(g, "stale");
		yajl_gen_bool(g, (pv.flags & ST_PROV_STALE) != 0);
		yajl_gen_map_close(g);
	}
	yajl_gen_array_close(g);
	yajl_gen_map_close(g);
	return 0;
}

int st_render_stats(yajl_gen g, st_snap *s)
{
	const st_schema *schema = st__snap_schema(s);
	st_stats stt;
	int r = st_snap_stats(s, &stt);
	if (r)
		return r;
	char when[32];
	yajl_gen_map_open(g);
	gk(g, "revision");
	yajl_gen_integer(g, (long long)stt.revision);
	gk(g, "revision_time");
	if (stt.revision_time) {
		st_timestamp_format(stt.revision_time, when);
		gk(g, when);
	} else {
		yajl_gen_null(g);
	}
	gk(g, "nodes");
	yajl_gen_integer(g, (long long)stt.nodes);
	gk(g, "edges");
	yajl_gen_integer(g, (long long)stt.edges);
	gk(g, "cost_facts");
	yajl_gen_integer(g, (long long)stt.costs);
	gk(g, "store_bytes");
	yajl_gen_integer(g, (long long)stt.store_bytes);
	gk(g, "used_bytes");
	yajl_gen_integer(g, (long long)stt.used_bytes);
	gk(g, "node_types");
	yajl_gen_map_open(g);
	for (size_t t = 0; t < stt.n_node_types; t++) {
		gk(g, st_schema_node_type(schema, t)->name);
		yajl_gen_integer(g, (long long)stt.node_count[t]);
	}
	yajl_gen_map_close(g);
	gk(g, "edge_types");
	yajl_gen_map_open(g);
	for (size_t t = 0; t < stt.n_edge_types; t++) {
		gk(g, st_schema_edge_type(schema, t)->name);
		yajl_gen_integer(g, (long long)stt.edge_count[t]);
	}
	yajl_gen_map_close(g);
	yajl_gen_map_close(g);
	st_stats_free(&stt);
	return 0;
}
