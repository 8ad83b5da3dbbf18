/*
 * search.c — finding nodes: st_search (id prefix, type, name, property
 * filters) and st_suggest ("did you mean" for an unknown id); semantics in
 * docs/queries.md, "Search".
 *
 * st_search picks the cheapest scan: an id prefix range, else the type
 * index, else all nodes; the other criteria filter what that scan yields.
 * st_suggest never scans the whole store: it probes the id dictionary with
 * prefix scans around the point where the unknown id stops matching any
 * existing id, and ranks what it finds by edit distance.
 *
 * Reads only through store.h; no logging.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "props.h"
#include "qmap.h"
#include "query.h"

#define DEFAULT_LIMIT 100

/* ------------------------------------------------------------- filters */

typedef struct filt {
	const st_search_opts *o;
	size_t name_len;
	const char *prop;        /* property key to look up */
	size_t prop_len;
	const char *map_key;     /* "labels.app": key inside a map property, else NULL */
	size_t map_key_len;
	size_t value_len;
} filt;

static unsigned char lower(unsigned char c)
{
	return c >= 'A' && c <= 'Z' ? (unsigned char)(c + 32) : c;
}

/* ASCII case-insensitive substring (bytes beyond ASCII compare exactly). */
static bool contains_ci(const char *hay, size_t hn, const char *needle, size_t nn)
{
	if (nn == 0)
		return true;
	for (size_t i = 0; i + nn <= hn; i++) {
		size_t j = 0;
		while (j < nn && lower((unsigned char)hay[i + j]) == lower((unsigned char)needle[j]))
			j++;
		if (j == nn)
			return true;
	}
	return false;
}

static bool eq(const char *a, size_t an, const char *b, size_t bn)
{
	return an == bn && (an == 0 || memcmp(a, b, an) == 0);
}

/* Whether property p satisfies the value criterion (value == NULL: present). */
static bool prop_matches(const filt *f, const st_prop *p, bool via_map_key)
{
	const char *v = f->o->value;
	size_t vn = f->value_len;
	st_coll_iter it;
	const char *k, *iv;
	size_t kn, ivn;
	if (via_map_key) {
		if (p->type != ST_P_MAP)
			return false;
		st_coll_iter_init(&it, p);
		while (st_coll_next(&it, &k, &kn, &iv, &ivn) == 1)
			if (eq(k, kn, f->map_key, f->map_key_len))
				return !v || eq(iv, ivn, v, vn);
		return false;
	}
	if (!v)
		return true;
	switch (p->type) {
	case ST_P_STRING:
		return eq(p->v.s.p, p->v.s.len, v, vn);
	case ST_P_LIST:
		st_coll_iter_init(&it, p);
		while (st_coll_next(&it, &k, &kn, &iv, &ivn) == 1)
			if (eq(k, kn, v, vn))
				return true;
		return false;
	case ST_P_MAP: {
		/* an undotted map property matches "key=value" */
		const char *e = memchr(v, '=', vn);
		if (!e)
			return false;
		size_t kl = (size_t)(e - v);
		st_coll_iter_init(&it, p);
		while (st_coll_next(&it, &k, &kn, &iv, &ivn) == 1)
			if (eq(k, kn, v, kl))
				return eq(iv, ivn, e + 1, vn - kl - 1);
		return false;
	}
	case ST_P_INT:
	case ST_P_TIMESTAMP: {
		char buf[32];
		int n = snprintf(buf, sizeof(buf), "%lld", (long long)p->v.i);
		return n > 0 && eq(buf, (size_t)n, v, vn);
	}
	case ST_P_BOOL:
		return eq(p->v.b ? "true" : "false", p->v.b ? 4 : 5, v, vn);
	default:
		return false;
	}
}

static bool matches(const filt *f, const st_node *n)
{
	const st_search_opts *o = f->o;
	if (o->type >= 0 && n->type != o->type)
		return false;
	if (o->id_prefix) {
		size_t pl = strlen(o->id_prefix);
		if (n->key_len < pl || memcmp(n->key, o->id_prefix, pl) != 0)
			return false;
	}
	st_prop p;
	if (o->name) {
		if (st_props_get(n->props, n->props_len, "name", 4, &p) != 1 || p.type != ST_P_STRING ||
		    !contains_ci(p.v.s.p, p.v.s.len, o->name, f->name_len))
			return false;
	}
	if (f->prop) {
		if (st_props_get(n->props, n->props_len, f->prop, f->prop_len, &p) == 1 &&
		    prop_matches(f, &p, false))
			return true;
		if (!f->map_key)
			return false;
		/* "labels.app": property "labels", map key "app" */
		return st_props_get(n->props, n->props_len, f->prop, f->map_key - 1 - f->prop,
				    &p) == 1 &&
		       prop_matches(f, &p, true);
	}
	return true;
}

/* ------------------------------------------------------------- search */

typedef struct hit {
	st_id id;
	const char *key;
	size_t key_len;
} hit;

typedef struct sctx {
	st_snap *s;
	filt f;
	size_t limit;
	bool ordered; /* the scan yields id-string order: stop after limit + 1 */
	hit *hits;
	size_t n, cap;
	int err;
} sctx;

static void push_hit(sctx *c, const st_node *n)
{
	if (c->n == c->cap) {
		c->cap = c->cap ? c->cap * 2 : 64;
		c->hits = st_xrealloc(c->hits, c->cap * sizeof(hit));
	}
	c->hits[c->n++] = (hit){n->id, n->key, n->key_len};
}

static int on_node(const st_node *n, void *ctx)
{
	sctx *c = ctx;
	if (!matches(&c->f, n))
		return 0;
	push_hit(c, n);
	return c->ordered && c->n > c->limit ? 1 : 0;
}

static int on_type_ids(const void *ids, size_t n, void *ctx)
{
	sctx *c = ctx;
	for (size_t i = 0; i < n; i++) {
		st_node nd;
		int r = st_snap_node(c->s, st_id_at(ids, i), &nd);
		if (r) {
			c->err = r;
			return r;
		}
		on_node(&nd, c);
	}
	return 0;
}

static int cmp_hit(const void *a, const void *b)
{
	const hit *x = a, *y = b;
	size_t m = x->key_len < y->key_len ? x->key_len : y->key_len;
	int c = memcmp(x->key, y->key, m);
	if (c)
		return c;
	return x->key_len < y->key_len ? -1 : x->key_len > y->key_len;
}

int st_search(st_snap *s, const st_search_opts *o, st_search_result **ret, st_diag *diag)
{
	if (!o)
		return st_diag_set(diag, ST_E_INVALID, "search: no options");
	if (o->value && !o->prop)
		return st_diag_set(diag, ST_E_INVALID, "search: a value needs a property");
	if (o->type >= 0 && (size_t)o->type >= st_schema_node_type_count(st__snap_schema(s)))
		return st_diag_set(diag, ST_E_NOTFOUND, "search: unknown node type %d", o->type);
	sctx c = {.s = s, .limit = o->limit ? o->limit : DEFAULT_LIMIT};
	c.f.o = o;
	c.f.name_len = o->name ? strlen(o->name) : 0;
	c.f.value_len = o->value ? strlen(o->value) : 0;
	if (o->prop) {
		c.f.prop = o->prop;
		c.f.prop_len = strlen(o->prop);
		if (c.f.prop_len == 0 || c.f.prop_len > ST_PROP_KEY_MAX)
			return st_diag_set(diag, ST_E_INVALID, "search: bad property name");
		const char *dot = memchr(o->prop, '.', c.f.prop_len);
		if (dot && dot > o->prop && dot[1]) {
			c.f.map_key = dot + 1;
			c.f.map_key_len = c.f.prop_len - (size_t)(dot + 1 - o->prop);
		}
	}
	int r;
	if (o->id_prefix && o->id_prefix[0]) {
		c.ordered = true;
		r = st_snap_scan_nodes_prefix(s, o->id_prefix, strlen(o->id_prefix), on_node, &c);
	} else if (o->type >= 0) {
		c.ordered = false;
		r = st_snap_scan_type(s, o->type, on_type_ids, &c);
	} else {
		c.ordered = true;
		r = st_snap_scan_nodes(s, on_node, &c);
	}
	if (r < 0 || c.err) {
		free(c.hits);
		r = c.err ? c.err : r;
		return st_diag_set(diag, r, "search: store read failed: %s", st_strerror(r));
	}
	if (!c.ordered && c.n)
		qsort(c.hits, c.n, sizeof(hit), cmp_hit);
	st_search_result *res = st_xcalloc(1, sizeof(*res));
	res->truncated = c.n > c.limit;
	res->n_ids = res->truncated ? c.limit : c.n;
	if (res->n_ids) {
		res->ids = st_xmalloc(res->n_ids * sizeof(st_id));
		for (size_t i = 0; i < res->n_ids; i++)
			res->ids[i] = c.hits[i].id;
	}
	free(c.hits);
	*ret = res;
	return 0;
}

void st_search_result_free(st_search_result *r)
{
	if (!r)
		return;
	free(r->ids);
	free(r);
}

/* ------------------------------------------------------------- suggest */

#define SUG_DIST_MAX 8       /* edits beyond this are not suggestions */
#define SUG_PER_PROBE 16     /* ids taken from one prefix probe */
#define SUG_CANDIDATES 4096  /* distinct candidates ranked at most */
#define SUG_WINDOW 3         /* edit positions tried before the divergence point */

typedef struct cand {
	st_id id;
	uint32_t dist;
	uint32_t common; /* shared prefix length with the query */
	char key[ST_NODE_ID_MAX];
	size_t key_len;
} cand;

typedef struct gctx {
	st_snap *s;
	const char *q;
	size_t qn;
	uint32_t bound;
	cand *c;
	size_t n, cap;
	st__qmap seen;
	size_t taken; /* ids taken by the current probe */
	size_t take;  /* ... at most */
	uint32_t *row0, *row1; /* Levenshtein rows (qn + 1) */
} gctx;

/* Levenshtein distance with a band cut-off: returns > bound when the
 * distance exceeds bound. */
static uint32_t lev(gctx *g, const char *a, size_t an)
{
	const char *b = g->q;
	size_t bn = g->qn;
	uint32_t bound = g->bound;
	if ((an > bn ? an - bn : bn - an) > bound)
		return bound + 1;
	uint32_t *prev = g->row0, *cur = g->row1;
	for (size_t j = 0; j <= bn; j++)
		prev[j] = (uint32_t)j;
	for (size_t i = 1; i <= an; i++) {
		cur[0] = (uint32_t)i;
		uint32_t rowmin = cur[0];
		for (size_t j = 1; j <= bn; j++) {
			uint32_t sub = prev[j - 1] + (a[i - 1] != b[j - 1]);
			uint32_t del = prev[j] + 1, ins = cur[j - 1] + 1;
			uint32_t v = sub < del ? sub : del;
			cur[j] = v < ins ? v : ins;
			if (cur[j] < rowmin)
				rowmin = cur[j];
		}
		if (rowmin > bound)
			return bound + 1;
		uint32_t *t = prev;
		prev = cur;
		cur = t;
	}
	return prev[bn];
}

static int on_candidate(const st_node *n, void *ctx)
{
	gctx *g = ctx;
	if (g->taken++ >= g->take || g->n >= SUG_CANDIDATES)
		return 1;
	int fresh;
	st__qmap_put(&g->seen, n->id, 0, &fresh);
	if (!fresh)
		return 0;
	uint32_t d = lev(g, n->key, n->key_len);
	if (d > g->bound || n->key_len > ST_NODE_ID_MAX)
		return 0;
	if (g->n == g->cap) {
		g->cap = g->cap ? g->cap * 2 : 32;
		g->c = st_xrealloc(g->c, g->cap * sizeof(cand));
	}
	cand *c = &g->c[g->n++];
	c->id = n->id;
	c->dist = d;
	uint32_t common = 0;
	while (common < n->key_len && common < g->qn && n->key[common] == g->q[common])
		common++;
	c->common = common;
	memcpy(c->key, n->key, n->key_len);
	c->key_len = n->key_len;
	return 0;
}

static void probe(gctx *g, const char *p, size_t pn, size_t take)
{
	g->taken = 0;
	g->take = take;
	st_snap_scan_nodes_prefix(g->s, p, pn, on_candidate, g);
}

static int one_exists(const st_node *n, void *ctx)
{
	(void)n;
	*(bool *)ctx = true;
	return 1;
}

static bool prefix_exists(st_snap *s, const char *p, size_t pn)
{
	bool found = false;
	st_snap_scan_nodes_prefix(s, p, pn, one_exists, &found);
	return found;
}

static int cmp_cand(const void *a, const void *b)
{
	const cand *x = a, *y = b;
	if (x->dist != y->dist)
		return x->dist < y->dist ? -1 : 1;
	if (x->common != y->common)
		return x->common > y->common ? -1 : 1;
	size_t m = x->key_len < y->key_len ? x->key_len : y->key_len;
	int c = memcmp(x->key, y->key, m);
	if (c)
		return c;
	return x->key_len < y->key_len ? -1 : x->key_len > y->key_len;
}

size_t st_suggest(st_snap *s, const char *id, size_t idlen, st_id *out, size_t n)
{
	if (!n || !id || idlen == 0 || idlen > ST_NODE_ID_MAX)
		return 0;
	gctx g = {.s = s, .q = id, .qn = idlen};
	g.bound = (uint32_t)(idlen / 3 + 1);
	if (g.bound > SUG_DIST_MAX)
		g.bound = SUG_DIST_MAX;
	g.row0 = st_xmalloc((idlen + 1) * sizeof(uint32_t));
	g.row1 = st_xmalloc((idlen + 1) * sizeof(uint32_t));

	/* L = the longest prefix of the query that some id starts with
	 * (binary search: prefix existence is monotone in the length) */
	size_t lo = 0, hi = idlen;
	while (lo < hi) {
		size_t mid = (lo + hi + 1) / 2;
		if (prefix_exists(s, id, mid))
			lo = mid;
		else
			hi = mid - 1;
	}
	size_t L = lo;

	/* 1. ids continuing the query's longest matching prefix, and a little
	 * further up (shorter prefixes) */
	for (size_t k = 0; k <= SUG_WINDOW && k <= L; k++)
		probe(&g, id, L - k, SUG_PER_PROBE);

	/* 2. single edits at the positions around the divergence point: the
	 * variant with the edit, as a prefix (an exact match or an extension) */
	char *v = st_xmalloc(idlen + 2);
	size_t first = L > SUG_WINDOW ? L - SUG_WINDOW : 0;
	for (size_t i = first; i <= L && i <= idlen; i++) {
		/* deletion of q[i] */
		if (i < idlen) {
			memcpy(v, id, i);
			memcpy(v + i, id + i + 1, idlen - i - 1);
			probe(&g, v, idlen - 1, 4);
		}
		/* transposition of q[i], q[i+1] */
		if (i + 1 < idlen) {
			memcpy(v, id, idlen);
			v[i] = id[i + 1];
			v[i + 1] = id[i];
			probe(&g, v, idlen, 4);
		}
		/* insertion before q[i] and substitution of q[i], over printable
		 * ASCII, only where an id continues the prefix with that byte */
		for (int ch = 0x21; ch < 0x7f; ch++) {
			memcpy(v, id, i);
			v[i] = (char)ch;
			if (!prefix_exists(s, v, i + 1))
				continue;
			memcpy(v + i + 1, id + i, idlen - i);
			probe(&g, v, idlen + 1, 4);
			if (i < idlen) {
				memcpy(v + i + 1, id + i + 1, idlen - i - 1);
				probe(&g, v, idlen, 4);
			}
		}
	}
	free(v);

	if (g.n)
		qsort(g.c, g.n, sizeof(cand), cmp_cand);
	size_t k = g.n < n ? g.n : n;
	for (size_t i = 0; i < k; i++)
		out[i] = g.c[i].id;
	free(g.c);
	free(g.row0);
	free(g.row1);
	st__qmap_free(&g.seen);
	return k;
}
