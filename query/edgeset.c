/*
 * edgeset.c — edge type sets (st_edge_set: a bitmask over schema edge type
 * indexes): parsing "DEPENDS_ON,CALLS", the schema's dependency types, the
 * checks every traversal applies to a caller's set, and the per-query cache
 * from the store's adjacency type numbers to schema indexes.
 *
 * Queries only support schemas with at most 64 edge types (one bit each);
 * a larger schema is ST_E_LIMIT here, never a silently wrong answer.
 */
#include <string.h>

#include "traverse_int.h"

st_edge_set st_edge_set_dependencies(const st_schema *sc)
{
	st_edge_set fwd, rev;
	st__dep_masks(sc, &fwd, &rev);
	return fwd | rev;
}

void st__dep_masks(const st_schema *sc, st_edge_set *ret_fwd, st_edge_set *ret_rev)
{
	st_edge_set fwd = 0, rev = 0;
	size_t n = st_schema_edge_type_count(sc);
	for (size_t i = 0; i < n && i < 64; i++) {
		st_dep d = st_schema_edge_type(sc, i)->dependency;
		if (d == ST_DEP_FORWARD)
			fwd |= 1ull << i;
		else if (d == ST_DEP_REVERSE)
			rev |= 1ull << i;
	}
	*ret_fwd = fwd;
	*ret_rev = rev;
}

static int check_size(const st_schema *sc, st_diag *diag)
{
	size_t n = st_schema_edge_type_count(sc);
	if (n > 64)
		return st_diag_set(diag, ST_E_LIMIT,
				   "the schema has %zu edge types; queries support at most 64", n);
	return 0;
}

int st_edge_set_parse(const st_schema *sc, const char *list, st_edge_set *ret, st_diag *diag)
{
	int r = check_size(sc, diag);
	if (r)
		return r;
	if (!list)
		return st_diag_set(diag, ST_E_INVALID, "no edge type list");
	st_edge_set set = 0;
	const char *p = list;
	for (;;) {
		const char *e = strchr(p, ',');
		size_t len = e ? (size_t)(e - p) : strlen(p);
		int t = st_schema_find_edge_type(sc, p, len);
		if (t < 0) {
			int show = len > 128 ? 128 : (int)len;
			return st_diag_set(diag, ST_E_NOTFOUND, "unknown edge type '%.*s'%s", show, p,
					   len > 128 ? "..." : "");
		}
		set |= 1ull << t;
		if (!e)
			break;
		p = e + 1;
	}
	*ret = set;
	return 0;
}

static int check_bits(const st_schema *sc, st_edge_set set, st_diag *diag)
{
	size_t n = st_schema_edge_type_count(sc);
	if (n < 64 && (set >> n))
		return st_diag_set(diag, ST_E_INVALID,
				   "edge set names type index %d; the schema has %zu edge types",
				   63 - __builtin_clzll(set), n);
	return 0;
}

int st__dep_set_check(const st_schema *sc, st_edge_set set, st_edge_set *ret_set, st_diag *diag)
{
	int r = check_size(sc, diag);
	if (r || (r = check_bits(sc, set, diag)))
		return r;
	st_edge_set deps = st_edge_set_dependencies(sc);
	if (set == 0) {
		*ret_set = deps;
		return 0;
	}
	st_edge_set bad = set & ~deps;
	if (bad) {
		int t = __builtin_ctzll(bad);
		return st_diag_set(diag, ST_E_INVALID,
				   "edge type %s is not a dependency type (dependency: none)",
				   st_schema_edge_type(sc, (size_t)t)->name);
	}
	*ret_set = set;
	return 0;
}

int st__any_set_check(const st_schema *sc, st_edge_set set, st_edge_set *ret_set, st_diag *diag)
{
	int r = check_size(sc, diag);
	if (r || (r = check_bits(sc, set, diag)))
		return r;
	if (set == 0) {
		size_t n = st_schema_edge_type_count(sc);
		set = n >= 64 ? ~0ull : (1ull << n) - 1;
	}
	*ret_set = set;
	return 0;
}

void st__tmap_init(st__tmap *m, const st_snap *s)
{
	m->s = s;
	for (size_t i = 0; i < ST__TMAP_N; i++)
		m->t[i] = -2;
}

int st__tmap_slow(st__tmap *m, uint64_t v)
{
	int t = st_snap_adj_type(m->s, v);
	uint64_t st = v >> 32;
	if (st < ST__TMAP_N)
		m->t[st] = (int16_t)(t < 0 ? -1 : t);
	return t < 0 ? -1 : t;
}
