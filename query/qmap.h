/*
 * qmap.h — a small open-addressing hash map from a 64-bit key to a 32-bit
 * value, private to the query engine (owners.c, cost.c, search.c).
 *
 * Key 0 is reserved as "empty" (node id ST_ID_NONE is never a real node, so
 * callers keying by node id, or by node id combined with a non-zero tag, can
 * use it directly).  Grows by doubling at 50 % load; allocation failure
 * aborts (st_xcalloc), as for all internal bookkeeping.  Not thread-safe; one
 * map per query.
 */
#ifndef ST_QMAP_H
#define ST_QMAP_H

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "common.h"

typedef struct st__qmap {
	uint64_t *keys;
	uint32_t *vals;
	size_t cap; /* power of two, or 0 before the first insert */
	size_t n;
} st__qmap;

static inline size_t st__qmap_slot(uint64_t k, size_t mask)
{
	k ^= k >> 33;
	k *= 0xff51afd7ed558ccdULL;
	k ^= k >> 33;
	return (size_t)k & mask;
}

/* Pointer to the value of key k, or NULL if absent. */
static inline uint32_t *st__qmap_get(const st__qmap *m, uint64_t k)
{
	if (!m->cap)
		return NULL;
	size_t mask = m->cap - 1;
	for (size_t i = st__qmap_slot(k, mask);; i = (i + 1) & mask) {
		if (m->keys[i] == k)
			return &m->vals[i];
		if (m->keys[i] == 0)
			return NULL;
	}
}

static inline void st__qmap_grow(st__qmap *m)
{
	size_t ncap = m->cap ? m->cap * 2 : 64;
	uint64_t *nk = st_xcalloc(ncap, sizeof(uint64_t));
	uint32_t *nv = st_xcalloc(ncap, sizeof(uint32_t));
	for (size_t j = 0; j < m->cap; j++) {
		if (!m->keys[j])
			continue;
		size_t i = st__qmap_slot(m->keys[j], ncap - 1);
		while (nk[i])
			i = (i + 1) & (ncap - 1);
		nk[i] = m->keys[j];
		nv[i] = m->vals[j];
	}
	free(m->keys);
	free(m->vals);
	m->keys = nk;
	m->vals = nv;
	m->cap = ncap;
}

/* Insert k (if absent, with value v) and return a pointer to its value;
 * *ret_new says whether it was inserted. */
static inline uint32_t *st__qmap_put(st__qmap *m, uint64_t k, uint32_t v, int *ret_new)
{
	if ((m->n + 1) * 2 > m->cap)
		st__qmap_grow(m);
	size_t mask = m->cap - 1;
	size_t i = st__qmap_slot(k, mask);
	while (m->keys[i] && m->keys[i] != k)
		i = (i + 1) & mask;
	if (m->keys[i] == k) {
		if (ret_new)
			*ret_new = 0;
		return &m->vals[i];
	}
	m->keys[i] = k;
	m->vals[i] = v;
	m->n++;
	if (ret_new)
		*ret_new = 1;
	return &m->vals[i];
}

static inline void st__qmap_free(st__qmap *m)
{
	free(m->keys);
	free(m->vals);
	m->keys = NULL;
	m->vals = NULL;
	m->cap = m->n = 0;
}

#endif
