/*
 * strmap.h — a small open-addressing hash map from byte strings to uint32
 * values, for the sync engine's per-run tables (ids declared in a run, the
 * logical-entity index).  Keys are copied.  Header-only.
 */
#ifndef ST_STRMAP_H
#define ST_STRMAP_H

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common.h"

typedef struct st_strmap {
	struct st_strmap_slot {
		char *key; /* NULL: empty */
		uint32_t klen, val;
		uint64_t hash;
	} *slots;
	size_t cap, n; /* cap is a power of two */
} st_strmap;

static inline uint64_t st_strmap_hash(const char *p, size_t n)
{
	uint64_t h = 1469598103934665603ull; /* FNV-1a */
	for (size_t i = 0; i < n; i++) {
		h ^= (uint8_t)p[i];
		h *= 1099511628211ull;
	}
	return h ^ (h >> 29);
}

static inline struct st_strmap_slot *st_strmap_slot(const st_strmap *m, const char *k, size_t n,
						    uint64_t h)
{
	size_t mask = m->cap - 1;
	for (size_t i = h & mask;; i = (i + 1) & mask) {
		struct st_strmap_slot *s = &m->slots[i];
		if (!s->key || (s->hash == h && s->klen == n && memcmp(s->key, k, n) == 0))
			return s;
	}
}

/* The value of key k, or UINT32_MAX. */
static inline uint32_t st_strmap_get(const st_strmap *m, const char *k, size_t n)
{
	if (!m->cap)
		return UINT32_MAX;
	const struct st_strmap_slot *s = st_strmap_slot(m, k, n, st_strmap_hash(k, n));
	return s->key ? s->val : UINT32_MAX;
}

/* Set key k to val (insert or overwrite). */
static inline void st_strmap_put(st_strmap *m, const char *k, size_t n, uint32_t val)
{
	if ((m->n + 1) * 4 > m->cap * 3) {
		st_strmap old = *m;
		m->cap = old.cap ? old.cap * 2 : 64;
		m->slots = st_xcalloc(m->cap, sizeof(*m->slots));
		for (size_t i = 0; i < old.cap; i++)
			if (old.slots[i].key)
				*st_strmap_slot(m, old.slots[i].key, old.slots[i].klen,
						old.slots[i].hash) = old.slots[i];
		free(old.slots);
	}
	uint64_t h = st_strmap_hash(k, n);
	struct st_strmap_slot *s = st_strmap_slot(m, k, n, h);
	if (!s->key) {
		s->key = st_xstrndup(k, n);
		s->klen = (uint32_t)n;
		s->hash = h;
		m->n++;
	}
	s->val = val;
}

static inline void st_strmap_free(st_strmap *m)
{
	for (size_t i = 0; i < m->cap; i++)
		free(m->slots[i].key);
	free(m->slots);
	memset(m, 0, sizeof(*m));
}

#endif
