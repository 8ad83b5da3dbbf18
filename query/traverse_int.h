/*
 * traverse_int.h — internals shared by the traversal files of the query
 * engine (edgeset.c, depgraph.c, blast.c, paths.c): the dependency graph's
 * layout, node-id sets and maps sized by what a query touches, and a cache
 * from the store's adjacency type numbers to schema edge types.
 *
 * Nothing here is part of query.h's contract; other query files must not
 * rely on it.  Everything reads through store.h only.
 */
#ifndef ST_TRAVERSE_INT_H
#define ST_TRAVERSE_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "query.h"

/* --------------------------------------------------------- dependency graph */
/* CSR of "needs" reversed: for node u, ent_node[off[u] .. off[u+1]) are the
 * nodes that need u directly (its dependents), with ent_meta holding the
 * schema edge type (low 7 bits) and ST__DG_FWD when the edge is stored as
 * dependent -E-> u (a forward dependency type; reverse types are stored
 * u -E-> dependent).  Per node: the IN-direction entries first, then the
 * OUT-direction ones, each in store adjacency order, which is the order a
 * store-reading traversal sees them in, so both give identical results.
 * Building checks every entry: 0 < ent_node[i] < bound, so readers need
 * not. */
#define ST__DG_FWD 0x80u
#define ST__DG_TYPE 0x7fu

struct st_depgraph {
	uint64_t revision;
	st_id bound;       /* node ids are < bound */
	uint32_t *off;     /* [bound + 1] */
	uint32_t *ent_node;
	uint8_t *ent_meta;
	size_t n_ent;
};

/* ----------------------------------------------------------- edge types */
/* Store type number -> schema edge type index, looked up once per query. */
#define ST__TMAP_N 256
typedef struct st__tmap {
	const st_snap *s;
	int16_t t[ST__TMAP_N]; /* -2 = not looked up yet, -1 = not in the schema */
} st__tmap;

void st__tmap_init(st__tmap *m, const st_snap *s);
int st__tmap_slow(st__tmap *m, uint64_t v);
/* Schema edge type index of an adjacency value, -1 if the schema lacks it. */
static inline int st__tmap_type(st__tmap *m, uint64_t v)
{
	uint64_t st = v >> 32;
	if (st < ST__TMAP_N && m->t[st] != -2)
		return m->t[st];
	return st__tmap_slow(m, v);
}

/* The schema's forward and reverse dependency edge types (indexes < 64). */
void st__dep_masks(const st_schema *sc, st_edge_set *ret_fwd, st_edge_set *ret_rev);
/* Check a blast-radius edge set: 0 means all dependency types; every type
 * in it must exist and be a dependency type.  ST_E_INVALID / ST_E_LIMIT. */
int st__dep_set_check(const st_schema *sc, st_edge_set set, st_edge_set *ret_set, st_diag *diag);
/* Check a general edge set (0 = every edge type); ST_E_INVALID for bits
 * beyond the schema, ST_E_LIMIT when the schema has > 64 edge types. */
int st__any_set_check(const st_schema *sc, st_edge_set set, st_edge_set *ret_set, st_diag *diag);

/* ---------------------------------------------------------------- id sets */
/* A set of node ids that starts as a small open-addressing hash table and
 * turns into a bitmap over [0, bound) once it holds more than
 * ST__IDSET_SMALL ids, so small traversals never allocate memory
 * proportional to the whole graph and large ones get O(1) bit tests.
 * Or a bitmap the caller owns from the start (st__idset_init_bits):
 * nothing allocated, nothing freed, and clearing it is the caller's. */
#define ST__IDSET_SMALL 4096
typedef struct st__idset {
	uint32_t *tab; /* hash regime: 0 = empty slot */
	size_t cap;    /* power of two */
	size_t n;
	uint64_t *bits; /* bitmap regime when non-NULL */
	st_id bound;
	bool ext;       /* bits is the caller's */
} st__idset;

void st__idset_init(st__idset *s, st_id bound);
/* A set over the caller's all-zero bitmap of at least (bound + 63) / 64 words. */
void st__idset_init_bits(st__idset *s, st_id bound, uint64_t *bits);
void st__idset_free(st__idset *s);
void st__idset_grow(st__idset *s);
/* Make room for `more` further ids without growing on the way (in the hash
 * regime; turns into the bitmap when n + more passes ST__IDSET_SMALL). */
void st__idset_reserve(st__idset *s, size_t more);
/* Add id (0 < id < bound); true if it was not there. */
static inline bool st__idset_add(st__idset *s, st_id id)
{
	if (s->bits) {
		uint64_t m = 1ull << (id & 63), *w = &s->bits[id >> 6];
		if (*w & m)
			return false;
		*w |= m;
		s->n++;
		return true;
	}
	size_t mask = s->cap - 1, i = ((uint32_t)(id * 2654435761u)) & mask;
	for (;;) {
		uint32_t k = s->tab[i];
		if (k == id)
			return false;
		if (k == 0)
			break;
		i = (i + 1) & mask;
	}
	s->tab[i] = id;
	if (++s->n * 2 > s->cap)
		st__idset_grow(s);
	return true;
}

/* ---------------------------------------------------------------- id maps */
/* node id -> uint32 value, open addressing, grows; for paths and
 * neighbourhoods (bounded by their own limits). */
typedef struct st__idmap {
	uint32_t *keys; /* 0 = empty */
	uint32_t *vals;
	size_t cap, n;
} st__idmap;

void st__idmap_init(st__idmap *m);
void st__idmap_free(st__idmap *m);
/* Pointer to the value of id, or NULL. */
uint32_t *st__idmap_get(const st__idmap *m, st_id id);
/* Insert id with val if absent; true if inserted (else the old value stays). */
bool st__idmap_put(st__idmap *m, st_id id, uint32_t val);

#endif
