/*
 * store.c — the LMDB graph store (store.h).  The only file that includes
 * lmdb.h.  Layout (docs/storage.md):
 *
 *   meta    string key -> value      format, rev, revtime, next_id, counters
 *   dict    kind byte + name -> u32  node/edge types, sources, origins
 *   dictr   kind byte + u32 BE -> name
 *   str2id  node id string -> u32
 *   nodes   u32 (INTEGERKEY) -> node record
 *   bytype  u32 store node type -> u32 node ids (DUPSORT|DUPFIXED|INTEGERDUP)
 *   out/in  u32 node -> u64 (store edge type << 32 | neighbour) (DUPFIXED|INTEGERDUP)
 *   edges   src u32 BE | type u16 BE | dst u32 BE -> edge record
 *   cost    res u32 BE | currency u16 BE | month u16 BE | source u16 BE ->
 *           packed day entries {i32 day, i64 effective, i64 billed} by day
 *
 * A batch buffers validated records in memory and writes them at commit in
 * key order, with MDB_APPEND where a database was empty at the start, so a
 * bulk load into a new store is a sequence of appends.  It must not: call
 * anything but LMDB for persistence, log, or keep a transaction open after
 * commit/abort.
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include <lmdb.h>

#include "props.h"
#include "store.h"

#define FORMAT_VERSION 1u
#define MAP_SIZE (256ull << 30)
#define MAX_READERS 1024
#define PROV_SIZE 20
#define COST_ENT 20
#define NODE_HDR 12
#define EDGE_HDR 4
#define MAX_STORE_TYPES 65535

enum { DB_META, DB_DICT, DB_DICTR, DB_STR2ID, DB_NODES, DB_BYTYPE, DB_OUT, DB_IN, DB_EDGES, DB_COST, DB_COUNT };

static const struct {
	const char *name;
	unsigned flags;
} db_defs[DB_COUNT] = {
	[DB_META] = {"meta", 0},
	[DB_DICT] = {"dict", 0},
	[DB_DICTR] = {"dictr", 0},
	[DB_STR2ID] = {"str2id", 0},
	[DB_NODES] = {"nodes", MDB_INTEGERKEY},
	[DB_BYTYPE] = {"bytype", MDB_INTEGERKEY | MDB_DUPSORT | MDB_DUPFIXED | MDB_INTEGERDUP},
	[DB_OUT] = {"out", MDB_INTEGERKEY | MDB_DUPSORT | MDB_DUPFIXED | MDB_INTEGERDUP},
	[DB_IN] = {"in", MDB_INTEGERKEY | MDB_DUPSORT | MDB_DUPFIXED | MDB_INTEGERDUP},
	[DB_EDGES] = {"edges", 0},
	[DB_COST] = {"cost", 0},
};

struct st_store {
	MDB_env *env;
	MDB_dbi dbi[DB_COUNT];
	const st_schema *schema;
	unsigned flags;
	char *dir;
	/* schema index <-> persistent store type id (0 = none) */
	uint16_t *nt_s2st, *et_s2st;
	int32_t *nt_st2s, *et_st2s;
	size_t n_nt_st, n_et_st; /* sizes of the st2s tables */
};

/* ---------------------------------------------------------------- helpers */

static int mdb_fail(int rc, st_diag *diag, const char *what)
{
	int code = ST_E_STORE;
	if (rc == MDB_MAP_FULL)
		code = ST_E_FULL;
	else if (rc == MDB_TXN_FULL || rc == MDB_READERS_FULL || rc == MDB_DBS_FULL)
		code = ST_E_LIMIT;
	else if (rc == MDB_VERSION_MISMATCH || rc == MDB_INVALID)
		code = ST_E_VERSION;
	else if (rc > 0 && rc < 4096)
		code = -rc;
	return st_diag_set(diag, code, "store: %s: %s", what, mdb_strerror(rc));
}

static inline void put_be32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

static inline uint32_t get_be32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static inline void put_be16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static inline uint16_t get_be16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static inline uint16_t rd16(const uint8_t *p)
{
	uint16_t v;
	memcpy(&v, p, 2);
	return v;
}

static inline uint32_t rd32(const uint8_t *p)
{
	uint32_t v;
	memcpy(&v, p, 4);
	return v;
}

static inline int64_t rd64(const uint8_t *p)
{
	int64_t v;
	memcpy(&v, p, 8);
	return v;
}

static int meta_get(MDB_txn *txn, st_store *st, const char *key, void *out, size_t len)
{
	MDB_val k = {strlen(key), (void *)key}, v;
	int rc = mdb_get(txn, st->dbi[DB_META], &k, &v);
	if (rc)
		return rc;
	if (v.mv_size != len)
		return MDB_CORRUPTED;
	memcpy(out, v.mv_data, len);
	return 0;
}

static int meta_put(MDB_txn *txn, st_store *st, const char *key, const void *val, size_t len)
{
	MDB_val k = {strlen(key), (void *)key}, v = {len, (void *)val};
	return mdb_put(txn, st->dbi[DB_META], &k, &v, 0);
}

/* dict: kind + name -> u32 id; ids per kind are dense from 1. */
static int dict_get(MDB_txn *txn, st_store *st, char kind, const char *name, size_t len,
		    uint32_t *ret)
{
	uint8_t kb[512];
	if (len + 1 > sizeof(kb))
		return MDB_BAD_VALSIZE;
	kb[0] = (uint8_t)kind;
	memcpy(kb + 1, name, len);
	MDB_val k = {len + 1, kb}, v;
	int rc = mdb_get(txn, st->dbi[DB_DICT], &k, &v);
	if (rc)
		return rc;
	if (v.mv_size != 4)
		return MDB_CORRUPTED;
	*ret = rd32(v.mv_data);
	return 0;
}

static int dict_intern(MDB_txn *txn, st_store *st, char kind, const char *name, size_t len,
		       uint32_t limit, uint32_t *ret)
{
	int rc = dict_get(txn, st, kind, name, len, ret);
	if (rc != MDB_NOTFOUND)
		return rc;
	char ck[8] = {'n', 'e', 'x', 't', '.', kind, 0};
	uint32_t next = 1;
	rc = meta_get(txn, st, ck, &next, 4);
	if (rc && rc != MDB_NOTFOUND)
		return rc;
	if (next > limit)
		return MDB_TXN_FULL;
	uint8_t kb[512];
	kb[0] = (uint8_t)kind;
	memcpy(kb + 1, name, len);
	MDB_val k = {len + 1, kb}, v = {4, &next};
	if ((rc = mdb_put(txn, st->dbi[DB_DICT], &k, &v, 0)))
		return rc;
	uint8_t rk[5];
	rk[0] = (uint8_t)kind;
	put_be32(rk + 1, next);
	MDB_val rkv = {5, rk}, rv = {len, (void *)name};
	if ((rc = mdb_put(txn, st->dbi[DB_DICTR], &rkv, &rv, 0)))
		return rc;
	*ret = next;
	next++;
	if ((rc = meta_put(txn, st, ck, &next, 4)))
		return rc;
	return 0;
}

static int dict_name(MDB_txn *txn, st_store *st, char kind, uint32_t id, const char **ret,
		     size_t *ret_len)
{
	uint8_t rk[5];
	rk[0] = (uint8_t)kind;
	put_be32(rk + 1, id);
	MDB_val k = {5, rk}, v;
	int rc = mdb_get(txn, st->dbi[DB_DICTR], &k, &v);
	if (rc)
		return rc;
	*ret = v.mv_data;
	*ret_len = v.mv_size;
	return 0;
}

/* Build the schema <-> store type tables; with `txn` writable, assign store
 * ids to schema types the store has not seen yet. */
static int load_types(st_store *st, MDB_txn *txn, bool assign)
{
	const st_schema *sc = st->schema;
	size_t nn = st_schema_node_type_count(sc), ne = st_schema_edge_type_count(sc);
	free(st->nt_s2st);
	free(st->et_s2st);
	st->nt_s2st = st_xcalloc(nn, sizeof(uint16_t));
	st->et_s2st = st_xcalloc(ne, sizeof(uint16_t));
	uint32_t maxn = 0, maxe = 0;
	for (int pass = 0; pass < 2; pass++) {
		size_t n = pass ? ne : nn;
		char kind = pass ? 'e' : 'n';
		for (size_t i = 0; i < n; i++) {
			const char *name = pass ? st_schema_edge_type(sc, i)->name
						: st_schema_node_type(sc, i)->name;
			uint32_t id = 0;
			int rc = assign ? dict_intern(txn, st, kind, name, strlen(name),
						      MAX_STORE_TYPES, &id)
					: dict_get(txn, st, kind, name, strlen(name), &id);
			if (rc == MDB_NOTFOUND)
				id = 0;
			else if (rc)
				return rc;
			if (pass) {
				st->et_s2st[i] = (uint16_t)id;
				if (id > maxe)
					maxe = id;
			} else {
				st->nt_s2st[i] = (uint16_t)id;
				if (id > maxn)
					maxn = id;
			}
		}
	}
	/* store ids beyond the schema's (types the schema dropped) map to -1 */
	uint32_t nextn = 1, nexte = 1;
	meta_get(txn, st, "next.n", &nextn, 4);
	meta_get(txn, st, "next.e", &nexte, 4);
	if (nextn > maxn + 1)
		maxn = nextn - 1;
	if (nexte > maxe + 1)
		maxe = nexte - 1;
	free(st->nt_st2s);
	free(st->et_st2s);
	st->n_nt_st = maxn + 1;
	st->n_et_st = maxe + 1;
	st->nt_st2s = st_xmalloc(st->n_nt_st * sizeof(int32_t));
	st->et_st2s = st_xmalloc(st->n_et_st * sizeof(int32_t));
	for (size_t i = 0; i < st->n_nt_st; i++)
		st->nt_st2s[i] = -1;
	for (size_t i = 0; i < st->n_et_st; i++)
		st->et_st2s[i] = -1;
	for (size_t i = 0; i < nn; i++)
		if (st->nt_s2st[i])
			st->nt_st2s[st->nt_s2st[i]] = (int32_t)i;
	for (size_t i = 0; i < ne; i++)
		if (st->et_s2st[i])
			st->et_st2s[st->et_s2st[i]] = (int32_t)i;
	return 0;
}

static int node_type_of_store(const st_store *st, uint32_t stype)
{
	return stype < st->n_nt_st ? st->nt_st2s[stype] : -1;
}

static int edge_type_of_store(const st_store *st, uint32_t stype)
{
	return stype < st->n_et_st ? st->et_st2s[stype] : -1;
}

/* ------------------------------------------------------------- open/close */

int st_store_open(const char *dir, const st_schema *schema, unsigned flags, st_store **ret_store,
		  st_diag *diag)
{
	bool ro = flags & ST_OPEN_READONLY;
	struct stat sb;
	if (stat(dir, &sb) != 0) {
		if (ro || errno != ENOENT)
			return st_diag_set(diag, -errno, "store %s: %s", dir, strerror(errno));
		if (mkdir(dir, 0750) != 0)
			return st_diag_set(diag, -errno, "store %s: cannot create: %s", dir,
					   strerror(errno));
	} else if (!S_ISDIR(sb.st_mode)) {
		return st_diag_set(diag, -ENOTDIR, "store %s: not a directory", dir);
	}
	if (ro) {
		char path[4096];
		snprintf(path, sizeof(path), "%s/data.mdb", dir);
		if (stat(path, &sb) != 0)
			return st_diag_set(diag, -ENOENT, "store %s: no store here (data.mdb missing)", dir);
	}

	st_store *st = st_xcalloc(1, sizeof(*st));
	st->schema = schema;
	st->flags = flags;
	st->dir = st_xstrndup(dir, strlen(dir));
	MDB_txn *txn = NULL;
	int rc, r = 0;
	if ((rc = mdb_env_create(&st->env))) {
		st->env = NULL;
		r = mdb_fail(rc, diag, "create environment");
		goto fail;
	}
	mdb_env_set_maxdbs(st->env, DB_COUNT + 2);
	mdb_env_set_maxreaders(st->env, MAX_READERS);
	mdb_env_set_mapsize(st->env, MAP_SIZE);
	unsigned envflags = MDB_NOTLS | (ro ? MDB_RDONLY : 0) | ((flags & ST_OPEN_NOSYNC) ? MDB_NOSYNC : 0);
	if ((rc = mdb_env_open(st->env, dir, envflags, 0640))) {
		r = mdb_fail(rc, diag, dir);
		goto fail;
	}
	if ((rc = mdb_txn_begin(st->env, NULL, ro ? MDB_RDONLY : 0, &txn))) {
		r = mdb_fail(rc, diag, "begin");
		goto fail;
	}
	for (int i = 0; i < DB_COUNT; i++) {
		if ((rc = mdb_dbi_open(txn, db_defs[i].name, db_defs[i].flags | (ro ? 0 : MDB_CREATE),
				       &st->dbi[i]))) {
			if (ro && rc == MDB_NOTFOUND) {
				r = st_diag_set(diag, ST_E_VERSION, "store %s: not a stacktwin store", dir);
				goto fail;
			}
			r = mdb_fail(rc, diag, db_defs[i].name);
			goto fail;
		}
	}
	uint32_t fmt = 0;
	rc = meta_get(txn, st, "format", &fmt, 4);
	if (rc == MDB_NOTFOUND && !ro) {
		fmt = FORMAT_VERSION;
		if ((rc = meta_put(txn, st, "format", &fmt, 4))) {
			r = mdb_fail(rc, diag, "init");
			goto fail;
		}
	} else if (rc) {
		r = rc == MDB_NOTFOUND ? st_diag_set(diag, ST_E_VERSION, "store %s: not a stacktwin store", dir)
				       : mdb_fail(rc, diag, "format");
		goto fail;
	}
	if (fmt != FORMAT_VERSION) {
		r = st_diag_set(diag, ST_E_VERSION, "store %s: format version %u, this build reads %u",
				dir, fmt, FORMAT_VERSION);
		goto fail;
	}
	if ((rc = load_types(st, txn, !ro))) {
		r = mdb_fail(rc, diag, "type table");
		goto fail;
	}
	/* commit even a read-only txn: an aborted txn closes its dbi handles */
	if ((rc = mdb_txn_commit(txn))) {
		txn = NULL;
		r = mdb_fail(rc, diag, "commit");
		goto fail;
	}
	*ret_store = st;
	return 0;
fail:
	if (txn)
		mdb_txn_abort(txn);
	st_store_close(st);
	return r;
}

void st_store_close(st_store *st)
{
	if (!st)
		return;
	if (st->env)
		mdb_env_close(st->env);
	free(st->nt_s2st);
	free(st->et_s2st);
	free(st->nt_st2s);
	free(st->et_st2s);
	free(st->dir);
	free(st);
}

const st_schema *st_store_schema(const st_store *st)
{
	return st->schema;
}

/* ------------------------------------------------------------------ arena */

typedef struct arena_blk {
	struct arena_blk *next;
	size_t used, cap;
	uint8_t data[];
} arena_blk;

typedef struct arena {
	arena_blk *head;
} arena;

static void *arena_alloc(arena *a, size_t n)
{
	n = (n + 7) & ~(size_t)7;
	if (!a->head || a->head->cap - a->head->used < n) {
		size_t cap = n > (1u << 20) ? n : (1u << 20);
		arena_blk *b = st_xmalloc(sizeof(*b) + cap);
		b->next = a->head;
		b->used = 0;
		b->cap = cap;
		a->head = b;
	}
	void *p = a->head->data + a->head->used;
	a->head->used += n;
	return p;
}

static void *arena_dup(arena *a, const void *p, size_t n)
{
	if (!n)
		return NULL;
	void *q = arena_alloc(a, n);
	memcpy(q, p, n);
	return q;
}

static void arena_free(arena *a)
{
	arena_blk *b = a->head;
	while (b) {
		arena_blk *n = b->next;
		free(b);
		b = n;
	}
	a->head = NULL;
}

/* ------------------------------------------------------------ node table */

enum { NF_UPSERT = 1, NF_NEW = 2, NF_DELETE = 4, NF_EXISTS = 8,
       NF_REF = 16 /* only referenced by this batch: keep an existing node's props */ };

typedef struct bnode {
	const char *key;
	uint32_t klen;
	st_id id;
	int32_t type; /* schema index */
	uint32_t flags;
	const uint8_t *props;
	uint32_t props_len;
	uint32_t origin, line;
} bnode;

typedef struct bedge {
	st_id src, dst;
	uint16_t stype;
	uint16_t flags;
	uint32_t props_len;
	const uint8_t *props;
	uint32_t origin, line;
} bedge;

typedef struct bcost {
	st_id res;
	int32_t day;
	uint16_t cur;
	int64_t eff, billed;
} bcost;

typedef struct pending {
	const char *a, *b; /* unresolved endpoint strings (b NULL for costs) */
	uint32_t alen, blen;
	size_t idx; /* index into edges or costs */
	bool is_cost;
	const char *origin; /* for the error message */
	uint32_t line;
} pending;

#define VEC(T) struct { T *v; size_t n, cap; }
#define VEC_PUSH(vec, item)                                                              \
	do {                                                                             \
		if ((vec).n == (vec).cap) {                                              \
			(vec).cap = (vec).cap ? (vec).cap * 2 : 1024;                    \
			(vec).v = st_xrealloc((vec).v, (vec).cap * sizeof(*(vec).v));    \
		}                                                                        \
		(vec).v[(vec).n++] = (item);                                             \
	} while (0)

struct st_batch {
	st_store *st;
	MDB_txn *txn;
	uint16_t source;
	char *source_name;
	arena mem;
	/* open-addressing hash: node id string -> index into nodes; hash and
	 * index side by side so a probe touches one cache line */
	struct hslot { uint64_t hash; const char *key; uint32_t idx, klen; } *slots;
	size_t n_slots;
	VEC(bnode) nodes;
	VEC(bedge) edges;
	VEC(bcost) costs;
	VEC(pending) pend;
	VEC(bedge) edel;
	VEC(st_id) ndel;
	uint32_t next_id;
	uint64_t n_node_upserts;
	uint32_t recent[2]; /* resolve() cache: node entry indexes */
	int recent_next;
	/* origin interning cache */
	const char *last_origin;
	char *last_origin_copy; /* in mem: lives as long as the batch */
	uint32_t last_origin_id;
	bool fresh[DB_COUNT]; /* database was empty when the batch began */
	/* a complete sync: retire this source's facts the batch did not assert */
	bool retire;
	uint32_t *keep; /* origin ids whose earlier facts are kept (stale) */
	size_t n_keep;
	st_retire_counts *retired;
	const char *status; /* in mem; written under "status:<source>" */
	size_t status_len;
	st_status_build_fn status_fn; /* or built at commit, after retirement */
	uint8_t *cost_keys; /* retire: the cost keys this batch wrote, 10 bytes each, ascending */
	size_t n_cost_keys;
	void *status_ctx;
};

static uint64_t hash_bytes(const char *p, size_t n)
{
	/* 64-bit FNV-1a over 8-byte words, finished with a murmur mix. */
	uint64_t h = 0xcbf29ce484222325ull ^ n;
	size_t i = 0;
	for (; i + 8 <= n; i += 8) {
		uint64_t w;
		memcpy(&w, p + i, 8);
		h = (h ^ w) * 0x100000001b3ull;
		h ^= h >> 29;
	}
	for (; i < n; i++)
		h = (h ^ (uint8_t)p[i]) * 0x100000001b3ull;
	h ^= h >> 33;
	h *= 0xff51afd7ed558ccdull;
	h ^= h >> 33;
	h *= 0xc4ceb9fe1a85ec53ull;
	h ^= h >> 33;
	return h;
}

static void hash_grow(st_batch *b)
{
	size_t nn = b->n_slots ? b->n_slots * 2 : 1u << 12;
	struct hslot *slots = st_xmalloc(nn * sizeof(*slots));
	for (size_t i = 0; i < nn; i++)
		slots[i].idx = UINT32_MAX;
	for (size_t i = 0; i < b->n_slots; i++) {
		if (b->slots[i].idx == UINT32_MAX)
			continue;
		size_t j = b->slots[i].hash & (nn - 1);
		while (slots[j].idx != UINT32_MAX)
			j = (j + 1) & (nn - 1);
		slots[j] = b->slots[i];
	}
	free(b->slots);
	b->slots = slots;
	b->n_slots = nn;
}

/* Index of the node entry for this id, or UINT32_MAX; *ret_slot gets the
 * slot where it is or would be inserted. */
static uint32_t hash_find(st_batch *b, const char *key, size_t klen, uint64_t h, size_t *ret_slot)
{
	size_t mask = b->n_slots - 1, j = h & mask;
	for (;;) {
		const struct hslot *sl = &b->slots[j];
		if (sl->idx == UINT32_MAX) {
			*ret_slot = j;
			return UINT32_MAX;
		}
		if (sl->hash == h && sl->klen == klen && memcmp(sl->key, key, klen) == 0) {
			*ret_slot = j;
			return sl->idx;
		}
		j = (j + 1) & mask;
	}
}

static uint32_t hash_insert(st_batch *b, size_t slot, uint64_t h, const bnode *n)
{
	uint32_t idx = (uint32_t)b->nodes.n;
	VEC_PUSH(b->nodes, *n);
	b->slots[slot].hash = h;
	b->slots[slot].key = n->key;
	b->slots[slot].klen = n->klen;
	b->slots[slot].idx = idx;
	return idx;
}

static int read_node_type(st_batch *b, st_id id, int *ret_type)
{
	MDB_val k = {sizeof(unsigned int), &id}, v;
	int rc = mdb_get(b->txn, b->st->dbi[DB_NODES], &k, &v);
	if (rc)
		return rc;
	if (v.mv_size < NODE_HDR)
		return MDB_CORRUPTED;
	*ret_type = node_type_of_store(b->st, rd16(v.mv_data));
	return 0;
}

/* Resolve a node id string: from this batch, else from the store (cached in
 * the table).  Returns the entry index, UINT32_MAX if unknown, or sets *rc. */
static uint32_t resolve_at(st_batch *b, const char *key, size_t klen, int *rc, size_t *ret_slot,
			   uint64_t *ret_hash)
{
	*rc = 0;
	/* records come in runs (a resource's 30 days of cost, a node's edges):
	 * a two-entry cache of the last hits skips the hash table */
	for (int i = 0; i < 2; i++) {
		uint32_t ci = b->recent[i];
		if (ci != UINT32_MAX && b->nodes.v[ci].klen == klen &&
		    memcmp(b->nodes.v[ci].key, key, klen) == 0)
			return ci;
	}
	if ((b->nodes.n + 1) * 4 > b->n_slots * 3)
		hash_grow(b);
	uint64_t h = hash_bytes(key, klen);
	size_t slot;
	uint32_t idx = hash_find(b, key, klen, h, &slot);
	*ret_slot = slot;
	*ret_hash = h;
	if (idx != UINT32_MAX) {
		b->recent[b->recent_next] = idx;
		b->recent_next ^= 1;
		return idx;
	}
	if (b->fresh[DB_STR2ID])
		return idx;
	MDB_val k = {klen, (void *)key}, v;
	int r = mdb_get(b->txn, b->st->dbi[DB_STR2ID], &k, &v);
	if (r == MDB_NOTFOUND)
		return UINT32_MAX;
	if (r || v.mv_size != 4) {
		*rc = r ? r : MDB_CORRUPTED;
		return UINT32_MAX;
	}
	bnode n = {0};
	n.id = rd32(v.mv_data);
	if ((r = read_node_type(b, n.id, &n.type))) {
		*rc = r;
		return UINT32_MAX;
	}
	n.key = arena_dup(&b->mem, key, klen);
	n.klen = (uint32_t)klen;
	n.flags = NF_EXISTS;
	return hash_insert(b, slot, h, &n);
}

static uint32_t resolve(st_batch *b, const char *key, size_t klen, int *rc)
{
	size_t slot;
	uint64_t h;
	return resolve_at(b, key, klen, rc, &slot, &h);
}

static int origin_id(st_batch *b, const char *origin, uint32_t *ret, st_diag *diag)
{
	if (!origin || !*origin) {
		*ret = 0;
		return 0;
	}
	if (b->last_origin_copy && (origin == b->last_origin || strcmp(origin, b->last_origin_copy) == 0)) {
		*ret = b->last_origin_id;
		return 0;
	}
	size_t len = strlen(origin);
	if (len > 500)
		len = 500;
	int rc = dict_intern(b->txn, b->st, 'o', origin, len, UINT32_MAX - 1, ret);
	if (rc)
		return mdb_fail(rc, diag, "origin");
	/* in the batch arena, not freed on the next origin: pending records
	 * keep pointing at it for their commit-time error messages */
	b->last_origin_copy = arena_dup(&b->mem, origin, strlen(origin) + 1);
	b->last_origin = origin;
	b->last_origin_id = *ret;
	return 0;
}

static bool db_empty(MDB_txn *txn, MDB_dbi dbi)
{
	MDB_stat s;
	return mdb_stat(txn, dbi, &s) == 0 && s.ms_entries == 0;
}

int st_batch_begin(st_store *st, const char *source, st_batch **ret_batch, st_diag *diag)
{
	size_t slen = source ? strlen(source) : 0;
	if (slen == 0 || slen > 64)
		return st_diag_set(diag, ST_E_INVALID, "source name must be 1-64 bytes");
	if (st->flags & ST_OPEN_READONLY)
		return st_diag_set(diag, -EROFS, "store opened read-only");
	st_batch *b = st_xcalloc(1, sizeof(*b));
	b->st = st;
	int rc = mdb_txn_begin(st->env, NULL, 0, &b->txn);
	if (rc) {
		free(b);
		return mdb_fail(rc, diag, "begin write");
	}
	uint32_t src;
	if ((rc = dict_intern(b->txn, st, 's', source, slen, 65535, &src))) {
		mdb_txn_abort(b->txn);
		free(b);
		return mdb_fail(rc, diag, "source");
	}
	b->source = (uint16_t)src;
	b->source_name = st_xstrndup(source, slen);
	b->next_id = 1;
	b->recent[0] = b->recent[1] = UINT32_MAX;
	rc = meta_get(b->txn, st, "next_id", &b->next_id, 4);
	if (rc && rc != MDB_NOTFOUND) {
		st_batch_abort(b);
		return mdb_fail(rc, diag, "next_id");
	}
	for (int i = 0; i < DB_COUNT; i++)
		b->fresh[i] = db_empty(b->txn, st->dbi[i]);
	hash_grow(b);
	*ret_batch = b;
	return 0;
}

void st_batch_abort(st_batch *b)
{
	if (!b)
		return;
	if (b->txn)
		mdb_txn_abort(b->txn);
	arena_free(&b->mem);
	free(b->slots);
	free(b->nodes.v);
	free(b->edges.v);
	free(b->costs.v);
	free(b->pend.v);
	free(b->edel.v);
	free(b->ndel.v);
	free(b->source_name);
	free(b->keep);
	free(b->cost_keys);
	free(b);
}

void st_batch_get_counts(const st_batch *b, st_batch_counts *ret)
{
	ret->nodes = b->n_node_upserts;
	ret->edges = b->edges.n;
	ret->costs = b->costs.n;
	ret->deletes = b->edel.n + b->ndel.n;
}

int st_batch_retire_unseen(st_batch *b, const char *const *keep_origins, size_t n_keep,
			   st_retire_counts *ret, st_diag *diag)
{
	b->retire = true;
	b->retired = ret;
	if (ret)
		memset(ret, 0, sizeof(*ret));
	free(b->keep);
	b->keep = st_xmalloc((n_keep ? n_keep : 1) * sizeof(uint32_t));
	b->n_keep = 0;
	for (size_t i = 0; i < n_keep; i++) {
		uint32_t id;
		size_t len = strlen(keep_origins[i]);
		int rc = dict_get(b->txn, b->st, 'o', keep_origins[i], len > 500 ? 500 : len, &id);
		if (rc == MDB_NOTFOUND)
			continue; /* never stored: nothing to keep */
		if (rc)
			return mdb_fail(rc, diag, "origin");
		b->keep[b->n_keep++] = id;
	}
	return 0;
}

void st_batch_set_status_fn(st_batch *b, st_status_build_fn fn, void *ctx)
{
	b->status_fn = fn;
	b->status_ctx = ctx;
}

uint64_t st_batch_next_revision(st_batch *b)
{
	uint64_t rev = 0;
	meta_get(b->txn, b->st, "rev", &rev, 8);
	return rev + 1;
}

void st_batch_set_status(st_batch *b, const char *blob, size_t len)
{
	b->status = arena_dup(&b->mem, blob, len);
	b->status_len = len;
}

static const char *ntype_name(const st_store *st, int t)
{
	return t >= 0 ? st_schema_node_type(st->schema, (size_t)t)->name : "(type unknown to the schema)";
}

int st_batch_node(st_batch *b, const char *id, size_t idlen, int type, const uint8_t *props,
		  size_t props_len, st_loc loc, st_diag *diag)
{
	const st_schema *sc = b->st->schema;
	if (idlen == 0 || idlen > ST_NODE_ID_MAX)
		return st_diag_set(diag, ST_E_INVALID, "node id must be 1-%d bytes", ST_NODE_ID_MAX);
	if (type < 0 || (size_t)type >= st_schema_node_type_count(sc))
		return st_diag_set(diag, ST_E_INVALID, "invalid node type");
	const st_node_type *nt = st_schema_node_type(sc, (size_t)type);
	int r = st_props_check(props, props_len, nt->props, nt->n_props, diag);
	if (r) {
		st_diag_prefix(diag, "node '%.*s' (%s)", (int)(idlen > 80 ? 80 : idlen), id, nt->name);
		return r;
	}
	uint32_t org;
	if ((r = origin_id(b, loc.origin, &org, diag)))
		return r;
	int rc;
	size_t slot;
	uint64_t h;
	uint32_t idx = resolve_at(b, id, idlen, &rc, &slot, &h);
	if (rc)
		return mdb_fail(rc, diag, "lookup");
	bnode *n;
	if (idx == UINT32_MAX) {
		if (b->next_id == UINT32_MAX)
			return st_diag_set(diag, ST_E_LIMIT, "too many nodes (2^32)");
		bnode nn = {0};
		nn.key = arena_dup(&b->mem, id, idlen);
		nn.klen = (uint32_t)idlen;
		nn.id = b->next_id++;
		nn.type = type;
		nn.flags = NF_NEW;
		idx = hash_insert(b, slot, h, &nn);
	}
	n = &b->nodes.v[idx];
	if (n->type != type) {
		if ((n->flags & NF_EXISTS) && !(n->flags & NF_DELETE))
			return st_diag_set(diag, ST_E_EXISTS, "node '%.*s' exists with type %s, not %s",
					   (int)idlen, id, ntype_name(b->st, n->type), nt->name);
		if (n->flags & NF_UPSERT)
			return st_diag_set(diag, ST_E_EXISTS, "node '%.*s' given earlier with type %s, now %s",
					   (int)idlen, id, ntype_name(b->st, n->type), nt->name);
		n->type = type; /* re-created after a delete in this batch */
	}
	if (!(n->flags & NF_UPSERT))
		b->n_node_upserts++;
	n->flags |= NF_UPSERT;
	n->flags &= ~(uint32_t)NF_REF;
	n->props = arena_dup(&b->mem, props, props_len);
	n->props_len = (uint32_t)props_len;
	n->origin = org;
	n->line = loc.line;
	return 0;
}

int st_batch_lookup(st_batch *b, const char *id, size_t idlen, int *ret_type)
{
	int rc;
	uint32_t idx = resolve(b, id, idlen, &rc);
	if (rc)
		return ST_E_STORE;
	if (idx == UINT32_MAX)
		return 0;
	const bnode *n = &b->nodes.v[idx];
	if (!(n->flags & NF_UPSERT) && (n->flags & NF_DELETE))
		return 0;
	if (!(n->flags & (NF_UPSERT | NF_EXISTS)))
		return 0;
	if (ret_type)
		*ret_type = n->type;
	return 1;
}

int st_batch_node_ref(st_batch *b, const char *id, size_t idlen, int type, const uint8_t *props,
		      size_t props_len, st_loc loc, st_diag *diag)
{
	if (idlen == 0 || idlen > ST_NODE_ID_MAX)
		return st_diag_set(diag, ST_E_INVALID, "node id must be 1-%d bytes", ST_NODE_ID_MAX);
	int rc;
	size_t slot;
	uint64_t h;
	uint32_t idx = resolve_at(b, id, idlen, &rc, &slot, &h);
	if (rc)
		return mdb_fail(rc, diag, "lookup");
	if (idx != UINT32_MAX) {
		bnode *n = &b->nodes.v[idx];
		if (n->flags & NF_UPSERT)
			return 0; /* declared (or referenced) earlier in this batch */
		if ((n->flags & NF_EXISTS) && !(n->flags & NF_DELETE)) {
			uint32_t org;
			if ((rc = origin_id(b, loc.origin, &org, diag)))
				return rc;
			n->flags |= NF_UPSERT | NF_REF;
			n->origin = org;
			n->line = loc.line;
			b->n_node_upserts++;
			return 0;
		}
	}
	/* unknown: create it like a declaration, flagged as a reference */
	if ((rc = st_batch_node(b, id, idlen, type, props, props_len, loc, diag)))
		return rc;
	idx = resolve(b, id, idlen, &rc);
	if (idx != UINT32_MAX)
		b->nodes.v[idx].flags |= NF_REF;
	return 0;
}

static int check_edge_types(st_batch *b, int type, const bnode *s, const bnode *d, st_diag *diag)
{
	const st_schema *sc = b->st->schema;
	if (s->type < 0 || d->type < 0 ||
	    !st_schema_edge_allows(sc, (size_t)type, (size_t)s->type, (size_t)d->type))
		return st_diag_set(diag, ST_E_INVALID, "%s edge not allowed from %s '%.*s' to %s '%.*s'",
				   st_schema_edge_type(sc, (size_t)type)->name, ntype_name(b->st, s->type),
				   (int)s->klen, s->key, ntype_name(b->st, d->type), (int)d->klen, d->key);
	return 0;
}

int st_batch_edge(st_batch *b, const char *src, size_t srclen, const char *dst, size_t dstlen,
		  int type, const uint8_t *props, size_t props_len, st_loc loc, st_diag *diag)
{
	const st_schema *sc = b->st->schema;
	if (type < 0 || (size_t)type >= st_schema_edge_type_count(sc))
		return st_diag_set(diag, ST_E_INVALID, "invalid edge type");
	const st_edge_type *et = st_schema_edge_type(sc, (size_t)type);
	int r = st_props_check(props, props_len, et->props, et->n_props, diag);
	if (r) {
		st_diag_prefix(diag, "%s edge", et->name);
		return r;
	}
	if (srclen == 0 || srclen > ST_NODE_ID_MAX || dstlen == 0 || dstlen > ST_NODE_ID_MAX)
		return st_diag_set(diag, ST_E_INVALID, "node id must be 1-%d bytes", ST_NODE_ID_MAX);
	uint32_t org;
	if ((r = origin_id(b, loc.origin, &org, diag)))
		return r;
	int rc;
	uint32_t si = resolve(b, src, srclen, &rc);
	if (rc)
		return mdb_fail(rc, diag, "lookup");
	uint32_t di = resolve(b, dst, dstlen, &rc);
	if (rc)
		return mdb_fail(rc, diag, "lookup");
	bedge e = {0};
	e.stype = b->st->et_s2st[type];
	e.props = arena_dup(&b->mem, props, props_len);
	e.props_len = (uint32_t)props_len;
	e.origin = org;
	e.line = loc.line;
	if (si != UINT32_MAX && di != UINT32_MAX) {
		const bnode *s = &b->nodes.v[si], *d = &b->nodes.v[di];
		if ((r = check_edge_types(b, type, s, d, diag)))
			return r;
		e.src = s->id;
		e.dst = d->id;
	} else {
		pending p = {0};
		p.a = arena_dup(&b->mem, src, srclen);
		p.alen = (uint32_t)srclen;
		p.b = arena_dup(&b->mem, dst, dstlen);
		p.blen = (uint32_t)dstlen;
		p.idx = b->edges.n;
		p.origin = b->last_origin_copy;
		p.line = loc.line;
		e.flags = (uint16_t)type; /* schema type kept for the check at commit */
		e.src = e.dst = ST_ID_NONE;
		VEC_PUSH(b->pend, p);
	}
	VEC_PUSH(b->edges, e);
	return 0;
}

int st_batch_cost(st_batch *b, const char *resource, size_t rlen, int32_t day, uint16_t currency,
		  int64_t effective, int64_t billed, st_loc loc, st_diag *diag)
{
	if (rlen == 0 || rlen > ST_NODE_ID_MAX)
		return st_diag_set(diag, ST_E_INVALID, "node id must be 1-%d bytes", ST_NODE_ID_MAX);
	/* the cost key holds the month in 16 bits: 1970-01 .. 7431-04 */
	if (day < 0 || st_day_month(day) > 65535)
		return st_diag_set(diag, ST_E_INVALID, "day out of range (1970-01-01 to 7431-04-30)");
	int rc;
	uint32_t ri = resolve(b, resource, rlen, &rc);
	if (rc)
		return mdb_fail(rc, diag, "lookup");
	bcost c = {ri == UINT32_MAX ? ST_ID_NONE : b->nodes.v[ri].id, day, currency, effective, billed};
	if (ri == UINT32_MAX) {
		pending p = {0};
		p.a = arena_dup(&b->mem, resource, rlen);
		p.alen = (uint32_t)rlen;
		p.idx = b->costs.n;
		p.is_cost = true;
		uint32_t org;
		int r = origin_id(b, loc.origin, &org, diag);
		if (r)
			return r;
		p.origin = b->last_origin_copy;
		p.line = loc.line;
		VEC_PUSH(b->pend, p);
	}
	VEC_PUSH(b->costs, c);
	return 0;
}

int st_batch_delete_node(st_batch *b, const char *id, size_t idlen, st_diag *diag)
{
	int rc;
	uint32_t idx = resolve(b, id, idlen, &rc);
	if (rc)
		return mdb_fail(rc, diag, "lookup");
	if (idx == UINT32_MAX || !(b->nodes.v[idx].flags & NF_EXISTS))
		return st_diag_set(diag, ST_E_NOTFOUND, "no node '%.*s' in the store", (int)idlen, id);
	bnode *n = &b->nodes.v[idx];
	if (!(n->flags & NF_DELETE)) {
		n->flags |= NF_DELETE;
		VEC_PUSH(b->ndel, n->id);
	}
	return 0;
}

int st_batch_delete_edge(st_batch *b, const char *src, size_t srclen, const char *dst,
			 size_t dstlen, int type, st_diag *diag)
{
	if (type < 0 || (size_t)type >= st_schema_edge_type_count(b->st->schema))
		return st_diag_set(diag, ST_E_INVALID, "invalid edge type");
	int rc;
	uint32_t si = resolve(b, src, srclen, &rc);
	uint32_t di = rc ? UINT32_MAX : resolve(b, dst, dstlen, &rc);
	if (rc)
		return mdb_fail(rc, diag, "lookup");
	if (si == UINT32_MAX || di == UINT32_MAX)
		return st_diag_set(diag, ST_E_NOTFOUND, "no such edge");
	uint8_t key[10];
	put_be32(key, b->nodes.v[si].id);
	put_be16(key + 4, b->st->et_s2st[type]);
	put_be32(key + 6, b->nodes.v[di].id);
	MDB_val k = {10, key}, v;
	rc = mdb_get(b->txn, b->st->dbi[DB_EDGES], &k, &v);
	if (rc == MDB_NOTFOUND)
		return st_diag_set(diag, ST_E_NOTFOUND, "no %s edge from '%.*s' to '%.*s'",
				   st_schema_edge_type(b->st->schema, (size_t)type)->name, (int)srclen,
				   src, (int)dstlen, dst);
	if (rc)
		return mdb_fail(rc, diag, "edge lookup");
	bedge e = {.src = b->nodes.v[si].id, .dst = b->nodes.v[di].id, .stype = b->st->et_s2st[type]};
	VEC_PUSH(b->edel, e);
	return 0;
}

/* ----------------------------------------------------------------- commit */

/* Stable LSD radix sort of (key, idx) pairs on the low `bits` bits of key. */
typedef struct skey {
	uint64_t k;
	uint64_t idx;
} skey;

static void radix_sort(skey *a, size_t n, unsigned bits)
{
	enum { DIGIT = 11, BUCKETS = 1 << DIGIT };
	if (n < 2)
		return;
	skey *tmp = st_xmalloc(n * sizeof(skey));
	size_t cnt[BUCKETS];
	for (unsigned shift = 0; shift < bits; shift += DIGIT) {
		memset(cnt, 0, sizeof(cnt));
		for (size_t i = 0; i < n; i++)
			cnt[(a[i].k >> shift) & (BUCKETS - 1)]++;
		if (cnt[(a[0].k >> shift) & (BUCKETS - 1)] == n)
			continue; /* digit constant: pass would not move anything */
		size_t sum = 0;
		for (size_t d = 0; d < BUCKETS; d++) {
			size_t c = cnt[d];
			cnt[d] = sum;
			sum += c;
		}
		for (size_t i = 0; i < n; i++)
			tmp[cnt[(a[i].k >> shift) & (BUCKETS - 1)]++] = a[i];
		memcpy(a, tmp, n * sizeof(skey));
	}
	free(tmp);
}

static void write_prov(uint8_t *p, uint16_t source, uint16_t flags, uint32_t first, uint32_t last,
		       uint32_t origin, uint32_t line)
{
	memcpy(p, &source, 2);
	memcpy(p + 2, &flags, 2);
	memcpy(p + 4, &first, 4);
	memcpy(p + 8, &last, 4);
	memcpy(p + 12, &origin, 4);
	memcpy(p + 16, &line, 4);
}

/* Merge this batch's provenance into an old provenance list: returns the new
 * count written at out (room for old_n + 1 entries). */
static uint32_t merge_prov(const uint8_t *old, uint32_t old_n, uint8_t *out, uint16_t source,
			   uint16_t flags, uint32_t rev, uint32_t origin, uint32_t line)
{
	uint32_t n = 0;
	bool found = false;
	for (uint32_t i = 0; i < old_n; i++) {
		const uint8_t *p = old + (size_t)i * PROV_SIZE;
		if (rd16(p) == source) {
			write_prov(out + (size_t)n * PROV_SIZE, source, flags, rd32(p + 4), rev, origin,
				   line);
			found = true;
		} else {
			memcpy(out + (size_t)n * PROV_SIZE, p, PROV_SIZE);
		}
		n++;
	}
	if (!found) {
		write_prov(out + (size_t)n * PROV_SIZE, source, flags, rev, rev, origin, line);
		n++;
	}
	return n;
}

typedef struct wbuf {
	uint8_t *p;
	size_t cap;
} wbuf;

static uint8_t *wbuf_get(wbuf *w, size_t n)
{
	if (n > w->cap) {
		w->cap = n > 4096 ? n * 2 : 4096;
		w->p = st_xrealloc(w->p, w->cap);
	}
	return w->p;
}

static int id_cmp(const void *a, const void *b)
{
	st_id x = *(const st_id *)a, y = *(const st_id *)b;
	return x < y ? -1 : x > y;
}

/* Deleted ids (sorted) that this batch does not re-create. */
static bool is_dangling(const st_id *gone, size_t n, st_id id)
{
	return n && bsearch(&id, gone, n, sizeof(st_id), id_cmp) != NULL;
}

static int del_dup(MDB_txn *txn, MDB_dbi dbi, st_id key, uint64_t val)
{
	MDB_val k = {sizeof(unsigned int), &key}, v = {8, &val};
	int rc = mdb_del(txn, dbi, &k, &v);
	return rc == MDB_NOTFOUND ? 0 : rc;
}

static int delete_edge_rec(st_batch *b, st_id src, uint16_t stype, st_id dst, uint64_t *ecount,
			   size_t n_ecount)
{
	st_store *st = b->st;
	uint8_t key[10];
	put_be32(key, src);
	put_be16(key + 4, stype);
	put_be32(key + 6, dst);
	MDB_val k = {10, key};
	int rc = mdb_del(b->txn, st->dbi[DB_EDGES], &k, NULL);
	if (rc == MDB_NOTFOUND)
		return 0;
	if (rc)
		return rc;
	if (stype < n_ecount && ecount[stype])
		ecount[stype]--;
	if ((rc = del_dup(b->txn, st->dbi[DB_OUT], src, (uint64_t)stype << 32 | dst)))
		return rc;
	return del_dup(b->txn, st->dbi[DB_IN], dst, (uint64_t)stype << 32 | src);
}

static int delete_node(st_batch *b, st_id id, uint64_t *ecount, size_t n_ecount, uint64_t *ncost)
{
	st_store *st = b->st;
	MDB_txn *txn = b->txn;
	int rc;
	/* incident edges, both directions: collect first, then delete */
	for (int dir = 0; dir < 2; dir++) {
		MDB_cursor *c;
		if ((rc = mdb_cursor_open(txn, st->dbi[dir ? DB_IN : DB_OUT], &c)))
			return rc;
		MDB_val k = {sizeof(unsigned int), &id}, v;
		size_t n = 0, cap = 0;
		uint64_t *vals = NULL;
		rc = mdb_cursor_get(c, &k, &v, MDB_SET);
		while (rc == 0) {
			if (n == cap) {
				cap = cap ? cap * 2 : 64;
				vals = st_xrealloc(vals, cap * 8);
			}
			memcpy(&vals[n++], v.mv_data, 8);
			rc = mdb_cursor_get(c, &k, &v, MDB_NEXT_DUP);
		}
		mdb_cursor_close(c);
		if (rc != MDB_NOTFOUND) {
			free(vals);
			return rc;
		}
		rc = 0;
		for (size_t i = 0; i < n && !rc; i++) {
			uint16_t stype = (uint16_t)(vals[i] >> 32);
			st_id other = (st_id)vals[i];
			rc = dir ? delete_edge_rec(b, other, stype, id, ecount, n_ecount)
				 : delete_edge_rec(b, id, stype, other, ecount, n_ecount);
		}
		free(vals);
		if (rc)
			return rc;
	}
	/* cost facts of the resource */
	MDB_cursor *c;
	if ((rc = mdb_cursor_open(txn, st->dbi[DB_COST], &c)))
		return rc;
	uint8_t pfx[4];
	put_be32(pfx, id);
	MDB_val k = {4, pfx}, v;
	rc = mdb_cursor_get(c, &k, &v, MDB_SET_RANGE);
	while (rc == 0 && k.mv_size >= 4 && memcmp(k.mv_data, pfx, 4) == 0) {
		*ncost -= v.mv_size / COST_ENT;
		if ((rc = mdb_cursor_del(c, 0)))
			break;
		rc = mdb_cursor_get(c, &k, &v, MDB_GET_CURRENT);
		if (rc == MDB_NOTFOUND || rc == EINVAL)
			rc = mdb_cursor_get(c, &k, &v, MDB_NEXT);
	}
	mdb_cursor_close(c);
	if (rc && rc != MDB_NOTFOUND)
		return rc;
	/* the node itself */
	MDB_val nk = {sizeof(unsigned int), &id}, nv;
	if ((rc = mdb_get(txn, st->dbi[DB_NODES], &nk, &nv)))
		return rc;
	uint16_t stype = rd16(nv.mv_data);
	uint16_t klen = rd16((const uint8_t *)nv.mv_data + 4);
	uint8_t kbuf[ST_NODE_ID_MAX];
	memcpy(kbuf, (const uint8_t *)nv.mv_data + NODE_HDR, klen);
	MDB_val sk = {klen, kbuf};
	if ((rc = mdb_del(txn, st->dbi[DB_STR2ID], &sk, NULL)))
		return rc;
	unsigned int tk = stype;
	MDB_val tkv = {sizeof(unsigned int), &tk}, tv = {sizeof(unsigned int), &id};
	if ((rc = mdb_del(txn, st->dbi[DB_BYTYPE], &tkv, &tv)) && rc != MDB_NOTFOUND)
		return rc;
	return mdb_del(txn, st->dbi[DB_NODES], &nk, NULL);
}

/* Put n sorted DUPFIXED values under one key; `append` when the key is
 * greater than every key in the database (a bulk load into an empty one). */
static int put_multiple(MDB_cursor *c, st_id key, const void *vals, size_t n, size_t size, bool append)
{
	if (n == 0)
		return 0;
	unsigned int kk = key;
	MDB_val k = {sizeof(unsigned int), &kk};
	MDB_val v[2] = {{size, (void *)vals}, {n, NULL}};
	return mdb_cursor_put(c, &k, v, MDB_MULTIPLE | (append ? MDB_APPEND : 0));
}

/* qsort has no context argument in C17: the node table and byte offset for
 * key_tail_cmp. */
static _Thread_local const bnode *sort_nodes;
static _Thread_local size_t sort_off;

/* Order two node keys known to share their first sort_off bytes. */
static int key_tail_cmp(const void *a, const void *b)
{
	const bnode *x = &sort_nodes[((const skey *)a)->idx], *y = &sort_nodes[((const skey *)b)->idx];
	size_t m = x->klen < y->klen ? x->klen : y->klen;
	int c = m > sort_off ? memcmp(x->key + sort_off, y->key + sort_off, m - sort_off) : 0;
	if (c)
		return c;
	return x->klen < y->klen ? -1 : x->klen > y->klen;
}

static uint64_t key_chunk(const bnode *n, size_t off)
{
	uint64_t k = 0;
	for (size_t i = off; i < off + 8; i++)
		k = k << 8 | (i < n->klen ? (uint8_t)n->key[i] : 0);
	return k;
}

/* Sort node entries bytewise by key, all sharing their first `off` bytes:
 * radix on the next 8 bytes, then recurse into groups that tie.  Within a
 * tie, keys ending inside the chunk are prefixes of the longer ones. */
static void sort_keys(skey *a, size_t n, size_t off, const bnode *nodes)
{
	if (n < 2)
		return;
	if (n < 64) {
		sort_nodes = nodes;
		sort_off = off;
		qsort(a, n, sizeof(skey), key_tail_cmp);
		return;
	}
	for (size_t i = 0; i < n; i++)
		a[i].k = key_chunk(&nodes[a[i].idx], off);
	radix_sort(a, n, 64);
	for (size_t lo = 0; lo < n;) {
		size_t hi = lo + 1;
		while (hi < n && a[hi].k == a[lo].k)
			hi++;
		if (hi - lo > 1) {
			/* short keys (ending in this chunk) first, by length */
			size_t ns = lo;
			for (size_t i = lo; i < hi; i++) {
				if (nodes[a[i].idx].klen <= off + 8) {
					skey t = a[i];
					memmove(a + ns + 1, a + ns, (i - ns) * sizeof(skey));
					a[ns++] = t;
				}
			}
			if (ns - lo > 1) {
				sort_nodes = nodes;
				sort_off = off;
				qsort(a + lo, ns - lo, sizeof(skey), key_tail_cmp);
			}
			sort_keys(a + ns, hi - ns, off + 8, nodes);
		}
		lo = hi;
	}
}

/* Does the batch's source hold a declaration (not a reference) of the node
 * from an origin in the keep list? */
static bool keeps_declaration(const st_batch *b, const uint8_t *prov, uint32_t n)
{
	for (uint32_t i = 0; i < n; i++) {
		const uint8_t *p = prov + (size_t)i * PROV_SIZE;
		if (rd16(p) != b->source || (rd16(p + 2) & ST_PROV_REF))
			continue;
		for (size_t k = 0; k < b->n_keep; k++)
			if (b->keep[k] == rd32(p + 12))
				return true;
	}
	return false;
}

static int write_nodes(st_batch *b, uint32_t rev, wbuf *w)
{
	st_store *st = b->st;
	MDB_txn *txn = b->txn;
	MDB_dbi nodes = st->dbi[DB_NODES];
	int rc = 0;
	size_t n_new = 0;
	unsigned int *ids = NULL; /* one type's new node ids for the type index */
	for (size_t i = 0; i < b->nodes.n; i++) {
		bnode *n = &b->nodes.v[i];
		if (!(n->flags & NF_UPSERT))
			continue;
		MDB_val k = {sizeof(unsigned int), &n->id}, old = {0, NULL};
		bool existing = (n->flags & NF_EXISTS) && !(n->flags & NF_DELETE);
		if (existing) {
			if ((rc = mdb_get(txn, nodes, &k, &old)))
				return rc;
		}
		uint32_t old_n = existing ? rd16((const uint8_t *)old.mv_data + 2) : 0;
		size_t len = NODE_HDR + n->klen + (size_t)(old_n + 1) * PROV_SIZE + n->props_len;
		uint8_t *p = wbuf_get(w, len);
		const uint8_t *oldprov = existing ? (const uint8_t *)old.mv_data + NODE_HDR +
							    rd16((const uint8_t *)old.mv_data + 4)
						  : NULL;
		const uint8_t *props = n->props;
		uint32_t props_len = n->props_len;
		if ((n->flags & NF_REF) && existing && keeps_declaration(b, oldprov, old_n)) {
			/* this source declared it from an origin that failed to parse
			 * this time: leave the entry for retirement to flag stale */
			continue;
		}
		if ((n->flags & NF_REF) && existing) {
			/* a reference keeps what the declaring source wrote */
			props_len = rd32((const uint8_t *)old.mv_data + 8);
			props = (const uint8_t *)old.mv_data + old.mv_size - props_len;
			len = NODE_HDR + n->klen + (size_t)(old_n + 1) * PROV_SIZE + props_len;
			p = wbuf_get(w, len);
		}
		uint32_t np = merge_prov(oldprov, old_n, p + NODE_HDR + n->klen, b->source,
					 (n->flags & NF_REF) ? ST_PROV_REF : 0, rev, n->origin,
					 n->line);
		uint16_t stype = st->nt_s2st[n->type], npv = (uint16_t)np, kl = (uint16_t)n->klen, z = 0;
		memcpy(p, &stype, 2);
		memcpy(p + 2, &npv, 2);
		memcpy(p + 4, &kl, 2);
		memcpy(p + 6, &z, 2);
		memcpy(p + 8, &props_len, 4);
		memcpy(p + NODE_HDR, n->key, n->klen);
		if (props_len)
			memcpy(p + NODE_HDR + n->klen + (size_t)np * PROV_SIZE, props, props_len);
		len = NODE_HDR + n->klen + (size_t)np * PROV_SIZE + props_len;
		MDB_val v = {len, p};
		if ((rc = mdb_put(txn, nodes, &k, &v, (n->flags & NF_NEW) ? MDB_APPEND : 0)))
			return rc;
		if (!existing)
			n_new++;
	}
	/* str2id and type index for nodes that did not exist before */
	skey *order = st_xmalloc((n_new ? n_new : 1) * sizeof(skey));
	size_t j = 0;
	for (size_t i = 0; i < b->nodes.n; i++) {
		const bnode *n = &b->nodes.v[i];
		if ((n->flags & NF_UPSERT) && (!(n->flags & NF_EXISTS) || (n->flags & NF_DELETE)))
			order[j++] = (skey){(uint64_t)st->nt_s2st[n->type] << 32 | n->id, i};
	}
	if (b->fresh[DB_STR2ID]) {
		/* sort the new keys bytewise so they can be appended */
		skey *s = st_xmalloc((n_new ? n_new : 1) * sizeof(skey));
		for (size_t i = 0; i < n_new; i++)
			s[i] = (skey){0, order[i].idx};
		sort_keys(s, n_new, 0, b->nodes.v);
		MDB_cursor *c;
		if ((rc = mdb_cursor_open(txn, st->dbi[DB_STR2ID], &c)))
			goto out;
		for (size_t i = 0; i < n_new && !rc; i++) {
			const bnode *n = &b->nodes.v[s[i].idx];
			MDB_val k = {n->klen, (void *)n->key}, v = {4, (void *)&n->id};
			rc = mdb_cursor_put(c, &k, &v, MDB_APPEND);
		}
		mdb_cursor_close(c);
		free(s);
	} else {
		for (size_t i = 0; i < n_new && !rc; i++) {
			const bnode *n = &b->nodes.v[order[i].idx];
			MDB_val k = {n->klen, (void *)n->key}, v = {4, (void *)&n->id};
			rc = mdb_put(txn, st->dbi[DB_STR2ID], &k, &v, 0);
		}
	}
	if (rc)
		goto out;
	radix_sort(order, n_new, 48);
	ids = st_xmalloc((n_new ? n_new : 1) * sizeof(unsigned int));
	MDB_cursor *c;
	if ((rc = mdb_cursor_open(txn, st->dbi[DB_BYTYPE], &c)))
		goto out;
	for (size_t lo = 0; lo < n_new && !rc;) {
		size_t hi = lo;
		uint32_t t = (uint32_t)(order[lo].k >> 32);
		while (hi < n_new && (uint32_t)(order[hi].k >> 32) == t) {
			ids[hi - lo] = (unsigned int)order[hi].k;
			hi++;
		}
		rc = put_multiple(c, t, ids, hi - lo, sizeof(unsigned int), b->fresh[DB_BYTYPE]);
		lo = hi;
	}
	mdb_cursor_close(c);
out:
	free(order);
	free(ids);
	return rc;
}

/* Commit-time orderings are pure CPU work on the batch's arrays: they run on
 * worker threads while the main thread writes nodes to LMDB. */
typedef struct sort_job {
	const st_batch *b;
	skey *out; /* edges by (src, type, dst) or costs by (res, currency, day) */
} sort_job;

static void *sort_edges_job(void *arg)
{
	sort_job *j = arg;
	size_t n = j->b->edges.n;
	const bedge *ev = j->b->edges.v;
	skey *s = st_xmalloc((n ? n : 1) * sizeof(skey));
	for (size_t i = 0; i < n; i++)
		s[i] = (skey){ev[i].dst, i};
	radix_sort(s, n, 32);
	for (size_t i = 0; i < n; i++) {
		const bedge *e = &ev[s[i].idx];
		s[i].k = (uint64_t)e->src << 16 | e->stype;
	}
	radix_sort(s, n, 48);
	j->out = s;
	return NULL;
}

static void *sort_costs_job(void *arg)
{
	sort_job *j = arg;
	size_t n = j->b->costs.n;
	const bcost *cv = j->b->costs.v;
	skey *s = st_xmalloc((n ? n : 1) * sizeof(skey));
	for (size_t i = 0; i < n; i++)
		s[i] = (skey){(uint64_t)(uint32_t)cv[i].day, i};
	radix_sort(s, n, 32);
	for (size_t i = 0; i < n; i++) {
		const bcost *c = &cv[s[i].idx];
		s[i].k = (uint64_t)c->res << 16 | c->cur;
	}
	radix_sort(s, n, 48);
	j->out = s;
	return NULL;
}

/* Write the batch's edges in the order `s` (sort_edges_job; freed here). */
static int write_edges(st_batch *b, skey *s, uint32_t rev, uint64_t *ecount, size_t n_ecount,
		       const st_id *gone, size_t n_gone, wbuf *w, st_diag *diag)
{
	st_store *st = b->st;
	MDB_txn *txn = b->txn;
	size_t n = b->edges.n;
	int rc = 0;
	if (!n) {
		free(s);
		return 0;
	}
	/* unique edges, the last of equal keys wins (the sort is stable) */
	skey *in = st_xmalloc(n * sizeof(skey));
	size_t n_in = 0;
	uint64_t *outv = st_xmalloc(n * sizeof(uint64_t));
	size_t n_outv = 0;
	st_id out_node = ST_ID_NONE;
	MDB_cursor *ec = NULL, *oc = NULL;
	if ((rc = mdb_cursor_open(txn, st->dbi[DB_EDGES], &ec)) ||
	    (rc = mdb_cursor_open(txn, st->dbi[DB_OUT], &oc)))
		goto out;
	for (size_t i = 0; i < n; i++) {
		const bedge *e = &b->edges.v[s[i].idx];
		if (i + 1 < n) {
			const bedge *f = &b->edges.v[s[i + 1].idx];
			if (f->src == e->src && f->stype == e->stype && f->dst == e->dst)
				continue;
		}
		if (is_dangling(gone, n_gone, e->src) || is_dangling(gone, n_gone, e->dst)) {
			rc = -1;
			st_diag_set(diag, ST_E_INVALID, "edge refers to a node deleted in the same batch");
			goto out;
		}
		uint8_t key[10];
		put_be32(key, e->src);
		put_be16(key + 4, e->stype);
		put_be32(key + 6, e->dst);
		MDB_val k = {10, key}, old = {0, NULL};
		bool exists = false;
		if (!b->fresh[DB_EDGES]) {
			rc = mdb_get(txn, st->dbi[DB_EDGES], &k, &old);
			if (rc && rc != MDB_NOTFOUND)
				goto out;
			exists = rc == 0;
			rc = 0;
		}
		uint32_t old_n = exists ? rd16(old.mv_data) : 0;
		size_t len = EDGE_HDR + (size_t)(old_n + 1) * PROV_SIZE + e->props_len;
		uint8_t *p = wbuf_get(w, len);
		uint32_t np = merge_prov(exists ? (const uint8_t *)old.mv_data + EDGE_HDR : NULL, old_n,
					 p + EDGE_HDR, b->source, 0, rev, e->origin, e->line);
		uint16_t npv = (uint16_t)np, z = 0;
		memcpy(p, &npv, 2);
		memcpy(p + 2, &z, 2);
		if (e->props_len)
			memcpy(p + EDGE_HDR + (size_t)np * PROV_SIZE, e->props, e->props_len);
		MDB_val v = {EDGE_HDR + (size_t)np * PROV_SIZE + e->props_len, p};
		if ((rc = mdb_cursor_put(ec, &k, &v, b->fresh[DB_EDGES] ? MDB_APPEND : 0)))
			goto out;
		if (exists)
			continue;
		if (e->stype < n_ecount)
			ecount[e->stype]++;
		if (e->src != out_node && n_outv) {
			if ((rc = put_multiple(oc, out_node, outv, n_outv, 8, b->fresh[DB_OUT])))
				goto out;
			n_outv = 0;
		}
		out_node = e->src;
		outv[n_outv++] = (uint64_t)e->stype << 32 | e->dst;
		in[n_in++] = (skey){(uint64_t)e->stype << 32 | e->src, e->dst};
	}
	if (n_outv && (rc = put_multiple(oc, out_node, outv, n_outv, 8, b->fresh[DB_OUT])))
		goto out;
	/* reverse adjacency: sort by (dst, type, src) */
	radix_sort(in, n_in, 48);
	for (size_t i = 0; i < n_in; i++) {
		uint64_t t = in[i].k;
		in[i].k = in[i].idx;
		in[i].idx = t;
	}
	radix_sort(in, n_in, 32);
	mdb_cursor_close(oc);
	oc = NULL;
	if ((rc = mdb_cursor_open(txn, st->dbi[DB_IN], &oc)))
		goto out;
	for (size_t lo = 0; lo < n_in && !rc;) {
		size_t hi = lo;
		while (hi < n_in && in[hi].k == in[lo].k) {
			outv[hi - lo] = in[hi].idx;
			hi++;
		}
		rc = put_multiple(oc, (st_id)in[lo].k, outv, hi - lo, 8, b->fresh[DB_IN]);
		lo = hi;
	}
out:
	if (ec)
		mdb_cursor_close(ec);
	if (oc)
		mdb_cursor_close(oc);
	free(s);
	free(in);
	free(outv);
	return rc;
}

static void cost_key(uint8_t key[10], st_id res, uint16_t cur, uint16_t month, uint16_t src)
{
	put_be32(key, res);
	put_be16(key + 4, cur);
	put_be16(key + 6, month);
	put_be16(key + 8, src);
}

static void cost_ent(uint8_t *p, int32_t day, int64_t eff, int64_t billed)
{
	memcpy(p, &day, 4);
	memcpy(p + 4, &eff, 8);
	memcpy(p + 12, &billed, 8);
}

/* Write the batch's cost facts in the order `s` (sort_costs_job; freed here). */
static int write_costs(st_batch *b, skey *s, uint64_t *ncost, const st_id *gone, size_t n_gone,
		       wbuf *w, st_diag *diag)
{
	st_store *st = b->st;
	size_t n = b->costs.n;
	int rc = 0;
	if (!n) {
		free(s);
		return 0;
	}
	MDB_cursor *cc;
	if ((rc = mdb_cursor_open(b->txn, st->dbi[DB_COST], &cc))) {
		free(s);
		return rc;
	}
	uint8_t *ents = NULL;
	size_t ents_cap = 0;
	for (size_t lo = 0; lo < n && !rc;) {
		const bcost *c0 = &b->costs.v[s[lo].idx];
		if (is_dangling(gone, n_gone, c0->res)) {
			rc = -1;
			st_diag_set(diag, ST_E_INVALID, "cost fact refers to a node deleted in the same batch");
			break;
		}
		int32_t month = st_day_month(c0->day);
		int32_t month_end = st_month_first_day(month + 1);
		/* one key: same resource, currency and month */
		size_t hi = lo, ne = 0;
		while (hi < n) {
			const bcost *c = &b->costs.v[s[hi].idx];
			if (c->res != c0->res || c->cur != c0->cur || c->day >= month_end)
				break;
			hi++;
		}
		if (ents_cap < (hi - lo + 32) * COST_ENT) {
			ents_cap = (hi - lo + 32) * COST_ENT * 2;
			ents = st_xrealloc(ents, ents_cap);
		}
		for (size_t i = lo; i < hi; i++) {
			const bcost *c = &b->costs.v[s[i].idx];
			if (ne && rd32(ents + (ne - 1) * COST_ENT) == (uint32_t)c->day) {
				uint8_t *p = ents + (ne - 1) * COST_ENT;
				cost_ent(p, c->day, rd64(p + 4) + c->eff, rd64(p + 12) + c->billed);
			} else {
				cost_ent(ents + ne * COST_ENT, c->day, c->eff, c->billed);
				ne++;
			}
		}
		uint8_t key[10];
		cost_key(key, c0->res, c0->cur, (uint16_t)month, b->source);
		MDB_val k = {10, key}, v;
		size_t total = ne;
		const uint8_t *data = ents;
		if (b->retire) {
			/* a complete sync: its facts replace the source's whole key */
			b->cost_keys = st_xrealloc(b->cost_keys, (b->n_cost_keys + 1) * 10);
			memcpy(b->cost_keys + b->n_cost_keys++ * 10, key, 10);
			MDB_val old;
			rc = b->fresh[DB_COST] ? MDB_NOTFOUND : mdb_get(b->txn, st->dbi[DB_COST], &k, &old);
			if (rc && rc != MDB_NOTFOUND)
				break;
			if (rc == 0)
				*ncost -= old.mv_size / COST_ENT;
			rc = 0;
		} else if (!b->fresh[DB_COST]) {
			MDB_val old;
			rc = mdb_get(b->txn, st->dbi[DB_COST], &k, &old);
			if (rc && rc != MDB_NOTFOUND)
				break;
			if (rc == 0) {
				/* merge: batch days replace stored days */
				size_t on = old.mv_size / COST_ENT;
				uint8_t *m = wbuf_get(w, (on + ne) * COST_ENT);
				size_t a = 0, bb = 0, t = 0;
				const uint8_t *op = old.mv_data;
				while (a < on || bb < ne) {
					int32_t da = a < on ? (int32_t)rd32(op + a * COST_ENT) : INT32_MAX;
					int32_t db = bb < ne ? (int32_t)rd32(ents + bb * COST_ENT) : INT32_MAX;
					if (db <= da) {
						memcpy(m + t * COST_ENT, ents + bb * COST_ENT, COST_ENT);
						bb++;
						if (da == db)
							a++;
					} else {
						memcpy(m + t * COST_ENT, op + a * COST_ENT, COST_ENT);
						a++;
					}
					t++;
				}
				*ncost -= on;
				total = t;
				data = m;
			}
			rc = 0;
		}
		*ncost += total;
		v.mv_size = total * COST_ENT;
		v.mv_data = (void *)data;
		rc = mdb_cursor_put(cc, &k, &v, b->fresh[DB_COST] ? MDB_APPEND : 0);
		lo = hi;
	}
	mdb_cursor_close(cc);
	free(ents);
	free(s);
	return rc;
}

/* ------------------------------------------------------------ retirement */

/* What to do with one record's entry of the syncing source. */
enum { RT_KEEP, RT_DROP_ENTRY, RT_DELETE, RT_MARK_STALE };

static int retire_action(const st_batch *b, const uint8_t *prov, uint32_t np, uint32_t rev,
			 uint32_t *ret_idx)
{
	for (uint32_t i = 0; i < np; i++) {
		const uint8_t *p = prov + (size_t)i * PROV_SIZE;
		if (rd16(p) != b->source)
			continue;
		*ret_idx = i;
		if (rd32(p + 8) >= rev)
			return RT_KEEP; /* asserted by this sync */
		uint32_t origin = rd32(p + 12);
		for (size_t k = 0; k < b->n_keep; k++)
			if (b->keep[k] == origin)
				return (rd16(p + 2) & ST_PROV_STALE) ? RT_KEEP : RT_MARK_STALE;
		return np == 1 ? RT_DELETE : RT_DROP_ENTRY;
	}
	return RT_KEEP;
}

/* Did this batch write cost key `key` (binary search; the keys are ascending)? */
static bool cost_key_written(const st_batch *b, const uint8_t *key)
{
	size_t lo = 0, hi = b->n_cost_keys;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int c = memcmp(b->cost_keys + mid * 10, key, 10);
		if (c == 0)
			return true;
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return false;
}

/* Copy a record with its provenance list at prov_off (np entries, count at
 * count_off) changed per action on entry idx. */
static MDB_val rewrite_prov(wbuf *w, const MDB_val *old, size_t prov_off, size_t count_off,
			    uint32_t np, uint32_t idx, int action)
{
	uint8_t *p = wbuf_get(w, old->mv_size);
	const uint8_t *o = old->mv_data;
	size_t entry = prov_off + (size_t)idx * PROV_SIZE;
	if (action == RT_MARK_STALE) {
		memcpy(p, o, old->mv_size);
		uint16_t f = rd16(p + entry + 2) | ST_PROV_STALE;
		memcpy(p + entry + 2, &f, 2);
		return (MDB_val){old->mv_size, p};
	}
	memcpy(p, o, entry);
	memcpy(p + entry, o + entry + PROV_SIZE, old->mv_size - entry - PROV_SIZE);
	uint16_t n = (uint16_t)(np - 1);
	memcpy(p + count_off, &n, 2);
	return (MDB_val){old->mv_size - PROV_SIZE, p};
}

typedef struct rt_item {
	uint8_t key[10]; /* node id (4) or edge key (10) */
	uint32_t idx;
	int action;
} rt_item;

/* A complete sync: every node and edge whose provenance has an entry of this
 * source older than this revision loses that entry (or, for an origin in the
 * keep list, gets it marked stale); a record left without provenance is
 * deleted (a node with its edges and cost facts).  Two passes: collect under
 * read cursors, then apply. */
static int retire_unseen(st_batch *b, uint32_t rev, uint64_t *ecount, size_t n_ecount,
			 uint64_t *ncost, wbuf *w)
{
	st_store *st = b->st;
	MDB_txn *txn = b->txn;
	VEC(rt_item) nodes = {0}, edges = {0};
	MDB_cursor *c = NULL;
	MDB_val k, v;
	int rc;
	if ((rc = mdb_cursor_open(txn, st->dbi[DB_NODES], &c)))
		return rc;
	for (rc = mdb_cursor_get(c, &k, &v, MDB_FIRST); rc == 0;
	     rc = mdb_cursor_get(c, &k, &v, MDB_NEXT)) {
		const uint8_t *r = v.mv_data;
		uint32_t idx, np = rd16(r + 2);
		int a = retire_action(b, r + NODE_HDR + rd16(r + 4), np, rev, &idx);
		if (a != RT_KEEP) {
			rt_item it = {{0}, idx, a};
			memcpy(it.key, k.mv_data, 4);
			VEC_PUSH(nodes, it);
		}
	}
	mdb_cursor_close(c);
	if (rc != MDB_NOTFOUND)
		goto out;
	if ((rc = mdb_cursor_open(txn, st->dbi[DB_EDGES], &c)))
		goto out;
	for (rc = mdb_cursor_get(c, &k, &v, MDB_FIRST); rc == 0;
	     rc = mdb_cursor_get(c, &k, &v, MDB_NEXT)) {
		const uint8_t *r = v.mv_data;
		uint32_t idx, np = rd16(r);
		int a = retire_action(b, r + EDGE_HDR, np, rev, &idx);
		if (a != RT_KEEP) {
			rt_item it = {{0}, idx, a};
			memcpy(it.key, k.mv_data, 10);
			VEC_PUSH(edges, it);
		}
	}
	mdb_cursor_close(c);
	if (rc != MDB_NOTFOUND)
		goto out;
	rc = 0;
	st_retire_counts *cnt = b->retired;
	for (size_t i = 0; i < edges.n && !rc; i++) {
		const rt_item *it = &edges.v[i];
		MDB_val ek = {10, (void *)it->key}, ev;
		if (it->action == RT_DELETE) {
			rc = delete_edge_rec(b, get_be32(it->key), get_be16(it->key + 4),
					     get_be32(it->key + 6), ecount, n_ecount);
			if (cnt && !rc)
				cnt->edges++;
			continue;
		}
		if ((rc = mdb_get(txn, st->dbi[DB_EDGES], &ek, &ev)))
			break;
		MDB_val nv = rewrite_prov(w, &ev, EDGE_HDR, 0, rd16(ev.mv_data), it->idx, it->action);
		rc = mdb_put(txn, st->dbi[DB_EDGES], &ek, &nv, 0);
		if (cnt && !rc)
			(*(it->action == RT_MARK_STALE ? &cnt->stale : &cnt->dropped))++;
	}
	for (size_t i = 0; i < nodes.n && !rc; i++) {
		const rt_item *it = &nodes.v[i];
		st_id id;
		memcpy(&id, it->key, 4);
		if (it->action == RT_DELETE) {
			rc = delete_node(b, id, ecount, n_ecount, ncost);
			if (cnt && !rc)
				cnt->nodes++;
			continue;
		}
		MDB_val nk = {sizeof(unsigned int), &id}, ov;
		if ((rc = mdb_get(txn, st->dbi[DB_NODES], &nk, &ov)))
			break;
		const uint8_t *r = ov.mv_data;
		MDB_val nv = rewrite_prov(w, &ov, NODE_HDR + rd16(r + 4), 2, rd16(r + 2), it->idx,
					  it->action);
		rc = mdb_put(txn, st->dbi[DB_NODES], &nk, &nv, 0);
		if (cnt && !rc)
			(*(it->action == RT_MARK_STALE ? &cnt->stale : &cnt->dropped))++;
	}
	/* cost facts of this source under keys the batch did not write */
	if (!rc && !b->fresh[DB_COST]) {
		if ((rc = mdb_cursor_open(txn, st->dbi[DB_COST], &c)))
			goto out;
		for (rc = mdb_cursor_get(c, &k, &v, MDB_FIRST); rc == 0;) {
			const uint8_t *key = k.mv_data;
			if (k.mv_size != 10 || get_be16(key + 8) != b->source ||
			    cost_key_written(b, key)) {
				rc = mdb_cursor_get(c, &k, &v, MDB_NEXT);
				continue;
			}
			*ncost -= v.mv_size / COST_ENT;
			if (cnt)
				cnt->costs += v.mv_size / COST_ENT;
			if ((rc = mdb_cursor_del(c, 0)))
				break;
			rc = mdb_cursor_get(c, &k, &v, MDB_GET_CURRENT);
			if (rc == MDB_NOTFOUND || rc == EINVAL)
				rc = mdb_cursor_get(c, &k, &v, MDB_NEXT);
		}
		mdb_cursor_close(c);
		if (rc == MDB_NOTFOUND)
			rc = 0;
	}
out:
	free(nodes.v);
	free(edges.v);
	return rc == MDB_NOTFOUND ? 0 : rc;
}

int st_batch_commit(st_batch *b, uint64_t *ret_rev, st_diag *diag)
{
	st_store *st = b->st;
	MDB_txn *txn = b->txn;
	int rc = 0, r = 0;
	wbuf w = {0};
	st_id *gone = NULL;
	size_t n_gone = 0;
	uint64_t *ecount = NULL;
	size_t n_ecount = st->n_et_st;
	sort_job ej = {b, NULL}, cj = {b, NULL};
	pthread_t et, ct;
	bool et_on = false, ct_on = false;

	/* 1. resolve forward references */
	for (size_t i = 0; i < b->pend.n; i++) {
		const pending *p = &b->pend.v[i];
		uint32_t ai = resolve(b, p->a, p->alen, &rc);
		if (rc) {
			r = mdb_fail(rc, diag, "lookup");
			goto fail;
		}
		if (ai == UINT32_MAX) {
			r = st_diag_set(diag, ST_E_NOTFOUND, "%s:%u: %s refers to unknown node '%.*s'",
					p->origin ? p->origin : "?", p->line,
					p->is_cost ? "cost fact" : "edge", (int)p->alen, p->a);
			goto fail;
		}
		if (p->is_cost) {
			b->costs.v[p->idx].res = b->nodes.v[ai].id;
			continue;
		}
		uint32_t di = resolve(b, p->b, p->blen, &rc);
		if (rc) {
			r = mdb_fail(rc, diag, "lookup");
			goto fail;
		}
		if (di == UINT32_MAX) {
			r = st_diag_set(diag, ST_E_NOTFOUND, "%s:%u: edge refers to unknown node '%.*s'",
					p->origin ? p->origin : "?", p->line, (int)p->blen, p->b);
			goto fail;
		}
		bedge *e = &b->edges.v[p->idx];
		const bnode *s = &b->nodes.v[ai], *d = &b->nodes.v[di];
		if ((r = check_edge_types(b, e->flags, s, d, diag))) {
			st_diag_prefix(diag, "%s:%u", p->origin ? p->origin : "?", p->line);
			goto fail;
		}
		e->src = s->id;
		e->dst = d->id;
		e->flags = 0;
	}

	/* orderings on worker threads (joined before use, and on every exit) */
	et_on = pthread_create(&et, NULL, sort_edges_job, &ej) == 0;
	ct_on = pthread_create(&ct, NULL, sort_costs_job, &cj) == 0;
	if (!et_on)
		sort_edges_job(&ej);
	if (!ct_on)
		sort_costs_job(&cj);

	uint64_t rev = 0;
	rc = meta_get(txn, st, "rev", &rev, 8);
	if (rc && rc != MDB_NOTFOUND) {
		r = mdb_fail(rc, diag, "rev");
		goto fail;
	}
	rev++;
	if (rev > UINT32_MAX) {
		r = st_diag_set(diag, ST_E_LIMIT, "revision counter exhausted");
		goto fail;
	}
	ecount = st_xcalloc(n_ecount, sizeof(uint64_t));
	{
		MDB_val k = {6, "ecount"}, v;
		rc = mdb_get(txn, st->dbi[DB_META], &k, &v);
		if (rc == 0)
			memcpy(ecount, v.mv_data, v.mv_size < n_ecount * 8 ? v.mv_size : n_ecount * 8);
		else if (rc != MDB_NOTFOUND) {
			r = mdb_fail(rc, diag, "ecount");
			goto fail;
		}
	}
	uint64_t ncost = 0;
	rc = meta_get(txn, st, "ncost", &ncost, 8);
	if (rc && rc != MDB_NOTFOUND) {
		r = mdb_fail(rc, diag, "ncost");
		goto fail;
	}

	/* 2. deletes */
	for (size_t i = 0; i < b->edel.n; i++) {
		const bedge *e = &b->edel.v[i];
		if ((rc = delete_edge_rec(b, e->src, e->stype, e->dst, ecount, n_ecount))) {
			r = mdb_fail(rc, diag, "delete edge");
			goto fail;
		}
	}
	for (size_t i = 0; i < b->ndel.n; i++) {
		if ((rc = delete_node(b, b->ndel.v[i], ecount, n_ecount, &ncost))) {
			r = mdb_fail(rc, diag, "delete node");
			goto fail;
		}
	}
	if (b->ndel.n) {
		gone = st_xmalloc(b->ndel.n * sizeof(st_id));
		for (size_t i = 0; i < b->nodes.n; i++) {
			const bnode *n = &b->nodes.v[i];
			if ((n->flags & NF_DELETE) && !(n->flags & NF_UPSERT))
				gone[n_gone++] = n->id;
		}
		qsort(gone, n_gone, sizeof(st_id), id_cmp);
	}

	/* 3.-5. upserts */
	if ((rc = write_nodes(b, (uint32_t)rev, &w))) {
		r = mdb_fail(rc, diag, "write nodes");
		goto fail;
	}
	if (et_on) {
		pthread_join(et, NULL);
		et_on = false;
	}
	rc = write_edges(b, ej.out, (uint32_t)rev, ecount, n_ecount, gone, n_gone, &w, diag);
	ej.out = NULL;
	if (rc) {
		r = rc == -1 ? ST_E_INVALID : mdb_fail(rc, diag, "write edges");
		goto fail;
	}
	if (ct_on) {
		pthread_join(ct, NULL);
		ct_on = false;
	}
	rc = write_costs(b, cj.out, &ncost, gone, n_gone, &w, diag);
	cj.out = NULL;
	if (rc) {
		r = rc == -1 ? ST_E_INVALID : mdb_fail(rc, diag, "write costs");
		goto fail;
	}

	/* 5b. retirement of what a complete sync did not see */
	if (b->retire && (rc = retire_unseen(b, (uint32_t)rev, ecount, n_ecount, &ncost, &w))) {
		r = mdb_fail(rc, diag, "retire");
		goto fail;
	}
	if (b->status || b->status_fn) {
		char key[80];
		snprintf(key, sizeof(key), "status:%s", b->source_name);
		size_t slen = b->status_len;
		char *built = b->status_fn ? b->status_fn(b->status_ctx, &slen) : NULL;
		MDB_val sk = {strlen(key), key},
			sv = {slen, built ? built : (void *)b->status};
		rc = mdb_put(txn, st->dbi[DB_META], &sk, &sv, 0);
		free(built);
		if (rc) {
			r = mdb_fail(rc, diag, "status");
			goto fail;
		}
	}

	/* 6. counters and revision */
	int64_t now = (int64_t)time(NULL);
	if ((rc = meta_put(txn, st, "rev", &rev, 8)) || (rc = meta_put(txn, st, "revtime", &now, 8)) ||
	    (rc = meta_put(txn, st, "next_id", &b->next_id, 4)) ||
	    (rc = meta_put(txn, st, "ncost", &ncost, 8)) ||
	    (rc = meta_put(txn, st, "ecount", ecount, n_ecount * 8))) {
		r = mdb_fail(rc, diag, "meta");
		goto fail;
	}
	b->txn = NULL;
	if ((rc = mdb_txn_commit(txn))) {
		r = mdb_fail(rc, diag, "commit");
		goto fail;
	}
	if (ret_rev)
		*ret_rev = rev;
	free(w.p);
	free(gone);
	free(ecount);
	st_batch_abort(b);
	return 0;
fail:
	if (et_on)
		pthread_join(et, NULL);
	if (ct_on)
		pthread_join(ct, NULL);
	free(ej.out);
	free(cj.out);
	free(w.p);
	free(gone);
	free(ecount);
	st_batch_abort(b);
	return r ? r : ST_E_STORE;
}

/* ------------------------------------------------------------------ reads */

struct st_snap {
	st_store *st;
	MDB_txn *txn;
	uint64_t rev;
	int64_t revtime;
};

int st_snap_begin(st_store *st, st_snap **ret_snap, st_diag *diag)
{
	st_snap *s = st_xcalloc(1, sizeof(*s));
	s->st = st;
	int rc = mdb_txn_begin(st->env, NULL, MDB_RDONLY, &s->txn);
	if (rc) {
		free(s);
		return mdb_fail(rc, diag, "begin read");
	}
	meta_get(s->txn, st, "rev", &s->rev, 8);
	meta_get(s->txn, st, "revtime", &s->revtime, 8);
	*ret_snap = s;
	return 0;
}

void st_snap_end(st_snap *s)
{
	if (!s)
		return;
	mdb_txn_abort(s->txn);
	free(s);
}

uint64_t st_snap_revision(const st_snap *s)
{
	return s->rev;
}

int64_t st_snap_revision_time(const st_snap *s)
{
	return s->revtime;
}

int st_snap_lookup(st_snap *s, const char *id, size_t idlen, st_id *ret_id)
{
	if (idlen == 0 || idlen > ST_NODE_ID_MAX)
		return ST_E_NOTFOUND;
	MDB_val k = {idlen, (void *)id}, v;
	int rc = mdb_get(s->txn, s->st->dbi[DB_STR2ID], &k, &v);
	if (rc == MDB_NOTFOUND)
		return ST_E_NOTFOUND;
	if (rc || v.mv_size != 4)
		return ST_E_STORE;
	*ret_id = rd32(v.mv_data);
	return 0;
}

static int decode_node(const st_store *st, st_id id, const MDB_val *v, st_node *n)
{
	const uint8_t *p = v->mv_data;
	if (v->mv_size < NODE_HDR)
		return ST_E_STORE;
	uint16_t stype = rd16(p), np = rd16(p + 2), kl = rd16(p + 4);
	uint32_t pl = rd32(p + 8);
	if (v->mv_size != NODE_HDR + (size_t)kl + (size_t)np * PROV_SIZE + pl)
		return ST_E_STORE;
	n->id = id;
	n->key = (const char *)p + NODE_HDR;
	n->key_len = kl;
	n->type = node_type_of_store(st, stype);
	n->n_prov = np;
	n->prov_raw = p + NODE_HDR + kl;
	n->props = n->prov_raw + (size_t)np * PROV_SIZE;
	n->props_len = pl;
	return 0;
}

int st_snap_node(st_snap *s, st_id id, st_node *ret_node)
{
	MDB_val k = {sizeof(unsigned int), &id}, v;
	int rc = mdb_get(s->txn, s->st->dbi[DB_NODES], &k, &v);
	if (rc == MDB_NOTFOUND)
		return ST_E_NOTFOUND;
	if (rc)
		return ST_E_STORE;
	return decode_node(s->st, id, &v, ret_node);
}

int st_snap_prov(st_snap *s, const uint8_t *prov_raw, uint32_t i, st_prov *ret)
{
	const uint8_t *p = prov_raw + (size_t)i * PROV_SIZE;
	uint32_t origin = rd32(p + 12);
	int rc = dict_name(s->txn, s->st, 's', rd16(p), &ret->source, &ret->source_len);
	if (rc)
		return ST_E_STORE;
	ret->flags = rd16(p + 2);
	ret->first_rev = rd32(p + 4);
	ret->last_rev = rd32(p + 8);
	ret->line = rd32(p + 16);
	ret->origin = "";
	ret->origin_len = 0;
	if (origin && dict_name(s->txn, s->st, 'o', origin, &ret->origin, &ret->origin_len))
		return ST_E_STORE;
	return 0;
}

int st_snap_edge(st_snap *s, st_id src, int type, st_id dst, st_edge *ret)
{
	const st_store *st = s->st;
	if (type < 0 || (size_t)type >= st_schema_edge_type_count(st->schema) || !st->et_s2st[type])
		return ST_E_NOTFOUND;
	uint8_t key[10];
	put_be32(key, src);
	put_be16(key + 4, st->et_s2st[type]);
	put_be32(key + 6, dst);
	MDB_val k = {10, key}, v;
	int rc = mdb_get(s->txn, st->dbi[DB_EDGES], &k, &v);
	if (rc == MDB_NOTFOUND)
		return ST_E_NOTFOUND;
	if (rc || v.mv_size < EDGE_HDR)
		return ST_E_STORE;
	const uint8_t *p = v.mv_data;
	uint16_t np = rd16(p);
	if (v.mv_size < EDGE_HDR + (size_t)np * PROV_SIZE)
		return ST_E_STORE;
	ret->src = src;
	ret->dst = dst;
	ret->type = type;
	ret->n_prov = np;
	ret->prov_raw = p + EDGE_HDR;
	ret->props = p + EDGE_HDR + (size_t)np * PROV_SIZE;
	ret->props_len = v.mv_size - EDGE_HDR - (size_t)np * PROV_SIZE;
	return 0;
}

int st_snap_adj_type(const st_snap *s, uint64_t v)
{
	return edge_type_of_store(s->st, (uint32_t)(v >> 32));
}

int st_snap_adj_open(st_snap *s, st_dir dir, st_id node, st_adj_iter *it)
{
	MDB_cursor *c;
	if (mdb_cursor_open(s->txn, s->st->dbi[dir == ST_IN ? DB_IN : DB_OUT], &c))
		return ST_E_STORE;
	it->cur = c;
	it->node = node;
	it->state = 0;
	it->stype = -1;
	return 0;
}

int st_snap_adj_open_type(st_snap *s, st_dir dir, st_id node, int type, st_adj_iter *it)
{
	const st_store *st = s->st;
	if (type < 0 || (size_t)type >= st_schema_edge_type_count(st->schema))
		return ST_E_NOTFOUND;
	int r = st_snap_adj_open(s, dir, node, it);
	if (r)
		return r;
	it->stype = st->et_s2st[type];
	if (!it->stype)
		it->state = 2; /* never stored: nothing to find */
	return 0;
}

int st_adj_reset(st_adj_iter *it, st_snap *s, st_id node, int type)
{
	const st_store *st = s->st;
	if (type >= 0 && (size_t)type >= st_schema_edge_type_count(st->schema))
		return ST_E_NOTFOUND;
	it->node = node;
	it->state = 0;
	it->stype = type < 0 ? -1 : st->et_s2st[type];
	if (type >= 0 && !it->stype)
		it->state = 2; /* never stored: nothing to find */
	return 0;
}

/* Trim a GET_MULTIPLE chunk to the values of it->stype; 0 if none are left
 * in it (and marks the iterator done once past the type). */
static size_t trim_to_type(st_adj_iter *it, const void **vals, size_t n)
{
	const unsigned char *p = *vals;
	size_t lo = 0, hi = n;
	while (lo < n && (st_adj_at(p, lo) >> 32) < (uint64_t)it->stype)
		lo++;
	hi = lo;
	while (hi < n && (st_adj_at(p, hi) >> 32) == (uint64_t)it->stype)
		hi++;
	if (hi < n)
		it->state = 2; /* values beyond the type: done after this chunk */
	*vals = p + lo * 8;
	return hi - lo;
}

int st_adj_next(st_adj_iter *it, const void **ret_vals, size_t *ret_n)
{
	MDB_cursor *c = it->cur;
	MDB_val k = {sizeof(unsigned int), &it->node}, v;
	int rc;
	if (it->state == 2)
		return 0;
	for (;;) {
		if (it->state == 2)
			return 0;
		if (it->state == 0) {
			if (it->stype >= 0) {
				/* first value >= (type << 32): the type's run starts there */
				/* v must carry the found value on: for a key with one
				 * value LMDB keeps no sub-page and GET_MULTIPLE leaves
				 * v as it is */
				uint64_t first = (uint64_t)it->stype << 32;
				v.mv_size = 8;
				v.mv_data = &first;
				rc = mdb_cursor_get(c, &k, &v, MDB_GET_BOTH_RANGE);
			} else {
				rc = mdb_cursor_get(c, &k, &v, MDB_SET);
			}
			if (rc == MDB_NOTFOUND) {
				it->state = 2;
				return 0;
			}
			if (rc)
				return ST_E_STORE;
			rc = mdb_cursor_get(c, &k, &v, MDB_GET_MULTIPLE);
			it->state = 1;
		} else {
			rc = mdb_cursor_get(c, &k, &v, MDB_NEXT_MULTIPLE);
		}
		if (rc == MDB_NOTFOUND) {
			it->state = 2;
			return 0;
		}
		if (rc)
			return ST_E_STORE;
		const void *vals = v.mv_data;
		size_t n = v.mv_size / 8;
		if (it->stype >= 0)
			n = trim_to_type(it, &vals, n);
		if (n) {
			*ret_vals = vals;
			*ret_n = n;
			return 1;
		}
	}
}

void st_adj_close(st_adj_iter *it)
{
	if (it->cur)
		mdb_cursor_close(it->cur);
	it->cur = NULL;
}

/* Sweep a DUPFIXED database key by key with GET_MULTIPLE chunks. */
static int sweep_dupfixed(st_snap *s, MDB_dbi dbi, int (*fn)(uint32_t key, const void *vals, size_t n, void *ctx),
			  size_t vsize, void *ctx)
{
	MDB_cursor *c;
	if (mdb_cursor_open(s->txn, dbi, &c))
		return ST_E_STORE;
	MDB_val k, v;
	int rc = mdb_cursor_get(c, &k, &v, MDB_FIRST), r = 0;
	while (rc == 0) {
		uint32_t key = rd32(k.mv_data);
		rc = mdb_cursor_get(c, &k, &v, MDB_GET_MULTIPLE);
		while (rc == 0) {
			if ((r = fn(key, v.mv_data, v.mv_size / vsize, ctx)))
				goto out;
			rc = mdb_cursor_get(c, &k, &v, MDB_NEXT_MULTIPLE);
		}
		if (rc != MDB_NOTFOUND)
			break;
		rc = mdb_cursor_get(c, &k, &v, MDB_NEXT_NODUP);
	}
	if (rc != MDB_NOTFOUND)
		r = ST_E_STORE;
out:
	mdb_cursor_close(c);
	return r;
}

struct adj_scan_ctx {
	st_adj_scan_fn fn;
	void *ctx;
};

static int adj_scan_cb(uint32_t key, const void *vals, size_t n, void *ctx)
{
	struct adj_scan_ctx *a = ctx;
	return a->fn(key, vals, n, a->ctx);
}

int st_snap_adj_scan(st_snap *s, st_dir dir, st_adj_scan_fn fn, void *ctx)
{
	struct adj_scan_ctx a = {fn, ctx};
	return sweep_dupfixed(s, s->st->dbi[dir == ST_IN ? DB_IN : DB_OUT], adj_scan_cb, 8, &a);
}

int st_snap_scan_type(st_snap *s, int type, st_id_scan_fn fn, void *ctx)
{
	const st_store *st = s->st;
	if (type < 0 || (size_t)type >= st_schema_node_type_count(st->schema))
		return ST_E_NOTFOUND;
	unsigned int t = st->nt_s2st[type];
	if (!t)
		return 0;
	MDB_cursor *c;
	if (mdb_cursor_open(s->txn, st->dbi[DB_BYTYPE], &c))
		return ST_E_STORE;
	MDB_val k = {sizeof(unsigned int), &t}, v;
	int rc = mdb_cursor_get(c, &k, &v, MDB_SET), r = 0;
	if (rc == 0)
		rc = mdb_cursor_get(c, &k, &v, MDB_GET_MULTIPLE);
	while (rc == 0) {
		if ((r = fn(v.mv_data, v.mv_size / sizeof(st_id), ctx)))
			break;
		rc = mdb_cursor_get(c, &k, &v, MDB_NEXT_MULTIPLE);
	}
	if (!r && rc != MDB_NOTFOUND)
		r = ST_E_STORE;
	mdb_cursor_close(c);
	return r;
}

int st_snap_scan_nodes(st_snap *s, st_node_scan_fn fn, void *ctx)
{
	MDB_cursor *c;
	if (mdb_cursor_open(s->txn, s->st->dbi[DB_STR2ID], &c))
		return ST_E_STORE;
	MDB_val k, v;
	int rc = mdb_cursor_get(c, &k, &v, MDB_FIRST), r = 0;
	while (rc == 0) {
		st_node n;
		if ((r = st_snap_node(s, rd32(v.mv_data), &n)) || (r = fn(&n, ctx)))
			break;
		rc = mdb_cursor_get(c, &k, &v, MDB_NEXT);
	}
	if (!r && rc != MDB_NOTFOUND)
		r = ST_E_STORE;
	mdb_cursor_close(c);
	return r;
}

int st_snap_scan_nodes_prefix(st_snap *s, const char *prefix, size_t len, st_node_scan_fn fn,
			      void *ctx)
{
	if (len == 0)
		return st_snap_scan_nodes(s, fn, ctx);
	if (len > ST_NODE_ID_MAX)
		return 0;
	MDB_cursor *c;
	if (mdb_cursor_open(s->txn, s->st->dbi[DB_STR2ID], &c))
		return ST_E_STORE;
	MDB_val k = {len, (void *)prefix}, v;
	int rc = mdb_cursor_get(c, &k, &v, MDB_SET_RANGE), r = 0;
	while (rc == 0 && k.mv_size >= len && memcmp(k.mv_data, prefix, len) == 0) {
		st_node n;
		if ((r = st_snap_node(s, rd32(v.mv_data), &n)) || (r = fn(&n, ctx)))
			break;
		rc = mdb_cursor_get(c, &k, &v, MDB_NEXT);
	}
	if (!r && rc && rc != MDB_NOTFOUND)
		r = ST_E_STORE;
	mdb_cursor_close(c);
	return r;
}

st_id st_snap_id_bound(st_snap *s)
{
	uint32_t next = 1;
	meta_get(s->txn, s->st, "next_id", &next, 4);
	return next;
}

static int cost_cmp(const void *a, const void *b)
{
	const st_cost *x = a, *y = b;
	if (x->day != y->day)
		return x->day < y->day ? -1 : 1;
	return x->currency < y->currency ? -1 : x->currency > y->currency;
}

int st_snap_costs_of(st_snap *s, st_id resource, st_cost_scan_fn fn, void *ctx)
{
	MDB_cursor *c;
	if (mdb_cursor_open(s->txn, s->st->dbi[DB_COST], &c))
		return ST_E_STORE;
	uint8_t pfx[4];
	put_be32(pfx, resource);
	MDB_val k = {4, pfx}, v;
	st_cost *facts = NULL;
	size_t n = 0, cap = 0;
	int rc = mdb_cursor_get(c, &k, &v, MDB_SET_RANGE), r = 0;
	while (rc == 0 && k.mv_size == 10 && memcmp(k.mv_data, pfx, 4) == 0) {
		uint16_t cur = get_be16((const uint8_t *)k.mv_data + 4);
		size_t m = v.mv_size / COST_ENT;
		if (n + m > cap) {
			cap = (n + m) * 2;
			facts = st_xrealloc(facts, cap * sizeof(st_cost));
		}
		for (size_t i = 0; i < m; i++) {
			const uint8_t *p = (const uint8_t *)v.mv_data + i * COST_ENT;
			facts[n++] = (st_cost){(int32_t)rd32(p), cur, rd64(p + 4), rd64(p + 12)};
		}
		rc = mdb_cursor_get(c, &k, &v, MDB_NEXT);
	}
	mdb_cursor_close(c);
	if (rc && rc != MDB_NOTFOUND) {
		free(facts);
		return ST_E_STORE;
	}
	if (n) {
		qsort(facts, n, sizeof(st_cost), cost_cmp);
		size_t m = 0; /* sum over sources */
		for (size_t i = 0; i < n; i++) {
			if (m && facts[m - 1].day == facts[i].day && facts[m - 1].currency == facts[i].currency) {
				facts[m - 1].effective += facts[i].effective;
				facts[m - 1].billed += facts[i].billed;
			} else {
				facts[m++] = facts[i];
			}
		}
		r = fn(resource, facts, m, ctx);
	}
	free(facts);
	return r;
}

int st_snap_scan_costs(st_snap *s, int32_t from, int32_t to, st_cost_scan_fn fn, void *ctx)
{
	if (from >= to)
		return 0;
	MDB_cursor *c;
	if (mdb_cursor_open(s->txn, s->st->dbi[DB_COST], &c))
		return ST_E_STORE;
	int32_t mfrom = st_day_month(from), mto = st_day_month(to - 1);
	MDB_val k, v;
	st_cost *facts = NULL;
	size_t n = 0, cap = 0;
	st_id cur_res = ST_ID_NONE;
	int rc = mdb_cursor_get(c, &k, &v, MDB_FIRST), r = 0;
	while (rc == 0) {
		const uint8_t *kp = k.mv_data;
		st_id res = get_be32(kp);
		if (res != cur_res) {
			if (n && (r = fn(cur_res, facts, n, ctx)))
				break;
			n = 0;
			cur_res = res;
		}
		int32_t month = get_be16(kp + 6);
		if (month >= mfrom && month <= mto) {
			uint16_t cu = get_be16(kp + 4);
			size_t m = v.mv_size / COST_ENT;
			if (n + m > cap) {
				cap = (n + m) * 2;
				facts = st_xrealloc(facts, cap * sizeof(st_cost));
			}
			for (size_t i = 0; i < m; i++) {
				const uint8_t *p = (const uint8_t *)v.mv_data + i * COST_ENT;
				int32_t day = (int32_t)rd32(p);
				if (day >= from && day < to)
					facts[n++] = (st_cost){day, cu, rd64(p + 4), rd64(p + 12)};
			}
		}
		rc = mdb_cursor_get(c, &k, &v, MDB_NEXT);
	}
	if (!r && rc == MDB_NOTFOUND && n)
		r = fn(cur_res, facts, n, ctx);
	else if (!r && rc != MDB_NOTFOUND)
		r = ST_E_STORE;
	free(facts);
	mdb_cursor_close(c);
	return r;
}

int st_snap_stats(st_snap *s, st_stats *ret)
{
	const st_store *st = s->st;
	memset(ret, 0, sizeof(*ret));
	ret->revision = s->rev;
	ret->revision_time = s->revtime;
	ret->n_node_types = st_schema_node_type_count(st->schema);
	ret->n_edge_types = st_schema_edge_type_count(st->schema);
	ret->node_count = st_xcalloc(ret->n_node_types, sizeof(uint64_t));
	ret->edge_count = st_xcalloc(ret->n_edge_types, sizeof(uint64_t));
	MDB_stat ms;
	if (mdb_stat(s->txn, st->dbi[DB_NODES], &ms) == 0)
		ret->nodes = ms.ms_entries;
	if (mdb_stat(s->txn, st->dbi[DB_EDGES], &ms) == 0)
		ret->edges = ms.ms_entries;
	meta_get(s->txn, (st_store *)st, "ncost", &ret->costs, 8);
	meta_get(s->txn, (st_store *)st, "next_id", &ret->next_id, 4);
	MDB_cursor *c;
	if (mdb_cursor_open(s->txn, st->dbi[DB_BYTYPE], &c) == 0) {
		MDB_val k, v;
		int rc = mdb_cursor_get(c, &k, &v, MDB_FIRST);
		while (rc == 0) {
			size_t cnt = 0;
			mdb_cursor_count(c, &cnt);
			int t = node_type_of_store(st, rd32(k.mv_data));
			if (t >= 0)
				ret->node_count[t] = cnt;
			rc = mdb_cursor_get(c, &k, &v, MDB_NEXT_NODUP);
		}
		mdb_cursor_close(c);
	}
	MDB_val k = {6, "ecount"}, v;
	if (mdb_get(s->txn, st->dbi[DB_META], &k, &v) == 0) {
		for (size_t i = 0; i * 8 < v.mv_size; i++) {
			int t = edge_type_of_store(st, (uint32_t)i);
			if (t >= 0)
				ret->edge_count[t] = (uint64_t)rd64((const uint8_t *)v.mv_data + i * 8);
		}
	}
	MDB_envinfo info;
	MDB_stat es;
	if (mdb_env_info(st->env, &info) == 0 && mdb_env_stat(st->env, &es) == 0)
		ret->used_bytes = (uint64_t)(info.me_last_pgno + 1) * es.ms_psize;
	char path[4096];
	struct stat sb;
	snprintf(path, sizeof(path), "%s/data.mdb", st->dir);
	if (stat(path, &sb) == 0)
		ret->store_bytes = (uint64_t)sb.st_blocks * 512; /* allocated: the file may be sparse */
	return 0;
}

void st_stats_free(st_stats *stats)
{
	if (!stats)
		return;
	free(stats->node_count);
	free(stats->edge_count);
	stats->node_count = stats->edge_count = NULL;
}

int st_snap_sources(st_snap *s, st_source_fn fn, void *ctx)
{
	MDB_cursor *c;
	if (mdb_cursor_open(s->txn, s->st->dbi[DB_DICT], &c))
		return ST_E_STORE;
	MDB_val k = {1, "s"}, v;
	int rc = mdb_cursor_get(c, &k, &v, MDB_SET_RANGE), r = 0;
	while (rc == 0 && k.mv_size >= 1 && ((const char *)k.mv_data)[0] == 's') {
		if ((r = fn((const char *)k.mv_data + 1, k.mv_size - 1, ctx)))
			break;
		rc = mdb_cursor_get(c, &k, &v, MDB_NEXT);
	}
	mdb_cursor_close(c);
	return r;
}

/* Internal accessors for sibling modules (jsonl.c). */
int st_store_put_status(st_store *st, const char *source, const char *blob, size_t len,
			st_diag *diag)
{
	char key[80];
	if (strlen(source) > 64)
		return st_diag_set(diag, ST_E_INVALID, "source name too long");
	snprintf(key, sizeof(key), "status:%s", source);
	MDB_txn *txn;
	int rc = mdb_txn_begin(st->env, NULL, 0, &txn);
	if (rc)
		return mdb_fail(rc, diag, "status");
	MDB_val k = {strlen(key), key}, v = {len, (void *)blob};
	if ((rc = mdb_put(txn, st->dbi[DB_META], &k, &v, 0))) {
		mdb_txn_abort(txn);
		return mdb_fail(rc, diag, "status");
	}
	if ((rc = mdb_txn_commit(txn)))
		return mdb_fail(rc, diag, "status");
	return 0;
}

int st_snap_statuses(st_snap *s, st_status_fn fn, void *ctx)
{
	MDB_cursor *c;
	int rc = mdb_cursor_open(s->txn, s->st->dbi[DB_META], &c);
	if (rc)
		return ST_E_STORE;
	MDB_val k = {7, "status:"}, v;
	int r = 0;
	for (rc = mdb_cursor_get(c, &k, &v, MDB_SET_RANGE); rc == 0;
	     rc = mdb_cursor_get(c, &k, &v, MDB_NEXT)) {
		if (k.mv_size < 7 || memcmp(k.mv_data, "status:", 7))
			break;
		if ((r = fn((const char *)k.mv_data + 7, k.mv_size - 7, v.mv_data, v.mv_size, ctx)))
			break;
	}
	mdb_cursor_close(c);
	if (rc && rc != MDB_NOTFOUND)
		return ST_E_STORE;
	return r;
}

const st_schema *st__batch_schema(const st_batch *b)
{
	return b->st->schema;
}

const st_schema *st__snap_schema(const st_snap *s)
{
	return s->st->schema;
}

/* ----------------------------------------------------------------- verify */

static int verify_adj(st_snap *s, int dir, uint64_t *n_adj, st_diag *diag)
{
	const st_store *st = s->st;
	MDB_cursor *c;
	if (mdb_cursor_open(s->txn, st->dbi[dir ? DB_IN : DB_OUT], &c))
		return st_diag_set(diag, ST_E_STORE, "verify: cursor");
	MDB_val k, v;
	int rc = mdb_cursor_get(c, &k, &v, MDB_FIRST), r = 0;
	while (rc == 0 && !r) {
		st_id node = rd32(k.mv_data);
		uint64_t val;
		memcpy(&val, v.mv_data, 8);
		st_id other = (st_id)val;
		uint16_t stype = (uint16_t)(val >> 32);
		st_id src = dir ? other : node, dst = dir ? node : other;
		uint8_t key[10];
		put_be32(key, src);
		put_be16(key + 4, stype);
		put_be32(key + 6, dst);
		MDB_val ek = {10, key}, ev;
		uint64_t mirror = (uint64_t)stype << 32 | node;
		MDB_val mk = {sizeof(unsigned int), &other}, mv = {8, &mirror};
		MDB_cursor *m;
		if (mdb_get(s->txn, st->dbi[DB_EDGES], &ek, &ev))
			r = st_diag_set(diag, ST_E_STORE, "verify: %s adjacency %u->%u (type %u) has no edge record",
					dir ? "in" : "out", src, dst, stype);
		else if (mdb_cursor_open(s->txn, st->dbi[dir ? DB_OUT : DB_IN], &m) == 0) {
			if (mdb_cursor_get(m, &mk, &mv, MDB_GET_BOTH))
				r = st_diag_set(diag, ST_E_STORE, "verify: adjacency %u->%u (type %u) has no mirror",
						src, dst, stype);
			mdb_cursor_close(m);
		}
		(*n_adj)++;
		rc = mdb_cursor_get(c, &k, &v, MDB_NEXT);
	}
	mdb_cursor_close(c);
	if (!r && rc != MDB_NOTFOUND)
		r = st_diag_set(diag, ST_E_STORE, "verify: adjacency scan: %s", mdb_strerror(rc));
	return r;
}

int st_snap_verify(st_snap *s, st_diag *diag)
{
	const st_store *st = s->st;
	MDB_txn *txn = s->txn;
	MDB_cursor *c;
	MDB_val k, v;
	int rc, r = 0;
	uint64_t n_nodes = 0, n_edges = 0, n_out = 0, n_in = 0, n_cost = 0, n_bytype = 0;
	uint32_t next_id = 1;
	meta_get(txn, (st_store *)st, "next_id", &next_id, 4);
	/* nodes <-> str2id <-> bytype */
	if (mdb_cursor_open(txn, st->dbi[DB_NODES], &c))
		return st_diag_set(diag, ST_E_STORE, "verify: cursor");
	rc = mdb_cursor_get(c, &k, &v, MDB_FIRST);
	while (rc == 0 && !r) {
		st_id id = rd32(k.mv_data);
		st_node n;
		if (id == 0 || id >= next_id)
			r = st_diag_set(diag, ST_E_STORE, "verify: node id %u outside 1..%u", id, next_id - 1);
		else if (decode_node(st, id, &v, &n))
			r = st_diag_set(diag, ST_E_STORE, "verify: node %u: malformed record", id);
		else {
			MDB_val sk = {n.key_len, (void *)n.key}, sv;
			unsigned int t = rd16(v.mv_data);
			MDB_val tk = {sizeof(unsigned int), &t}, tv = {sizeof(unsigned int), &id};
			MDB_cursor *tc;
			st_props_iter it;
			st_prop p;
			int pr;
			st_props_iter_init(&it, n.props, n.props_len);
			while ((pr = st_props_next(&it, &p)) == 1)
				;
			if (mdb_get(txn, st->dbi[DB_STR2ID], &sk, &sv) || sv.mv_size != 4 || rd32(sv.mv_data) != id)
				r = st_diag_set(diag, ST_E_STORE, "verify: node %u '%.*s' missing from str2id", id,
						(int)n.key_len, n.key);
			else if (pr < 0)
				r = st_diag_set(diag, ST_E_STORE, "verify: node '%.*s': corrupt properties",
						(int)n.key_len, n.key);
			else if (n.n_prov == 0)
				r = st_diag_set(diag, ST_E_STORE, "verify: node '%.*s' has no provenance",
						(int)n.key_len, n.key);
			else if (mdb_cursor_open(txn, st->dbi[DB_BYTYPE], &tc) == 0) {
				if (mdb_cursor_get(tc, &tk, &tv, MDB_GET_BOTH))
					r = st_diag_set(diag, ST_E_STORE, "verify: node '%.*s' missing from type index",
							(int)n.key_len, n.key);
				mdb_cursor_close(tc);
			}
		}
		n_nodes++;
		rc = mdb_cursor_get(c, &k, &v, MDB_NEXT);
	}
	mdb_cursor_close(c);
	if (r)
		return r;
	MDB_stat ms;
	mdb_stat(txn, st->dbi[DB_STR2ID], &ms);
	if (ms.ms_entries != n_nodes)
		return st_diag_set(diag, ST_E_STORE, "verify: str2id has %zu entries, nodes %llu",
				   ms.ms_entries, (unsigned long long)n_nodes);
	mdb_stat(txn, st->dbi[DB_BYTYPE], &ms);
	n_bytype = ms.ms_entries;
	if (n_bytype != n_nodes)
		return st_diag_set(diag, ST_E_STORE, "verify: type index has %llu entries, nodes %llu",
				   (unsigned long long)n_bytype, (unsigned long long)n_nodes);
	/* edges: endpoints exist, adjacency present; counters */
	uint64_t *ecount = st_xcalloc(st->n_et_st, sizeof(uint64_t));
	if (mdb_cursor_open(txn, st->dbi[DB_EDGES], &c)) {
		free(ecount);
		return st_diag_set(diag, ST_E_STORE, "verify: cursor");
	}
	rc = mdb_cursor_get(c, &k, &v, MDB_FIRST);
	while (rc == 0 && !r) {
		const uint8_t *kp = k.mv_data;
		st_id src = get_be32(kp), dst = get_be32(kp + 6);
		uint16_t stype = get_be16(kp + 4);
		MDB_val a = {sizeof(unsigned int), &src}, b2 = {sizeof(unsigned int), &dst}, tmp;
		if (k.mv_size != 10 || v.mv_size < EDGE_HDR || rd16(v.mv_data) == 0)
			r = st_diag_set(diag, ST_E_STORE, "verify: malformed edge record");
		else if (mdb_get(txn, st->dbi[DB_NODES], &a, &tmp) || mdb_get(txn, st->dbi[DB_NODES], &b2, &tmp))
			r = st_diag_set(diag, ST_E_STORE, "verify: edge %u->%u has a missing endpoint", src, dst);
		if (stype < st->n_et_st)
			ecount[stype]++;
		n_edges++;
		rc = mdb_cursor_get(c, &k, &v, MDB_NEXT);
	}
	mdb_cursor_close(c);
	if (!r) {
		MDB_val ck = {6, "ecount"}, cv;
		if (mdb_get(txn, st->dbi[DB_META], &ck, &cv) == 0) {
			for (size_t i = 0; i < st->n_et_st && !r; i++) {
				uint64_t want = i * 8 < cv.mv_size ? (uint64_t)rd64((const uint8_t *)cv.mv_data + i * 8) : 0;
				if (want != ecount[i])
					r = st_diag_set(diag, ST_E_STORE,
							"verify: edge counter of type %zu is %llu, records %llu", i,
							(unsigned long long)want, (unsigned long long)ecount[i]);
			}
		} else if (n_edges) {
			r = st_diag_set(diag, ST_E_STORE, "verify: edge counters missing");
		}
	}
	free(ecount);
	if (!r)
		r = verify_adj(s, 0, &n_out, diag);
	if (!r)
		r = verify_adj(s, 1, &n_in, diag);
	if (!r && (n_out != n_edges || n_in != n_edges))
		r = st_diag_set(diag, ST_E_STORE, "verify: %llu edges but %llu out / %llu in adjacency entries",
				(unsigned long long)n_edges, (unsigned long long)n_out, (unsigned long long)n_in);
	if (r)
		return r;
	/* cost: resource exists, entries sorted by day and inside the key's month */
	if (mdb_cursor_open(txn, st->dbi[DB_COST], &c))
		return st_diag_set(diag, ST_E_STORE, "verify: cursor");
	rc = mdb_cursor_get(c, &k, &v, MDB_FIRST);
	while (rc == 0 && !r) {
		const uint8_t *kp = k.mv_data;
		st_id res = get_be32(kp);
		MDB_val a = {sizeof(unsigned int), &res}, tmp;
		if (k.mv_size != 10 || v.mv_size == 0 || v.mv_size % COST_ENT)
			r = st_diag_set(diag, ST_E_STORE, "verify: malformed cost record");
		else if (mdb_get(txn, st->dbi[DB_NODES], &a, &tmp))
			r = st_diag_set(diag, ST_E_STORE, "verify: cost facts of missing node %u", res);
		else {
			int32_t prev = INT32_MIN;
			for (size_t i = 0; i < v.mv_size / COST_ENT && !r; i++) {
				int32_t day = (int32_t)rd32((const uint8_t *)v.mv_data + i * COST_ENT);
				if (day <= prev || st_day_month(day) != get_be16(kp + 6))
					r = st_diag_set(diag, ST_E_STORE, "verify: cost entries of node %u out of order", res);
				prev = day;
			}
			n_cost += v.mv_size / COST_ENT;
		}
		rc = mdb_cursor_get(c, &k, &v, MDB_NEXT);
	}
	mdb_cursor_close(c);
	uint64_t want = 0;
	meta_get(txn, (st_store *)st, "ncost", &want, 8);
	if (!r && want != n_cost)
		r = st_diag_set(diag, ST_E_STORE, "verify: cost counter %llu, entries %llu",
				(unsigned long long)want, (unsigned long long)n_cost);
	return r;
}
