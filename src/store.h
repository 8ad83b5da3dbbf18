/*
 * store.h — the graph store: a typed property graph in one LMDB environment.
 *
 * This is the only module that calls LMDB.  Writers go through a batch
 * (st_batch): records are validated against the schema as they are added and
 * buffered; st_batch_commit() writes them in one LMDB write transaction, so a
 * batch lands whole or not at all.  Readers take a snapshot (st_snap: one
 * LMDB read transaction) and see one committed revision until they end it;
 * a commit never blocks or half-shows to a reader.
 *
 * Ids: nodes are named by strings ("service:payments") and numbered by the
 * store with dense 32-bit ids (st_id, never 0).  Edges are identified by
 * (source, type, target): at most one edge of a type between two nodes.
 * Node and edge *types* are schema indexes (st_schema_find_node_type) in this
 * API; the store keeps its own persistent numbering inside.
 *
 * Threads: an st_store may be shared by threads.  A snapshot or a batch
 * belongs to one thread at a time (MDB_NOTLS: it may move between threads,
 * e.g. libuv's pool, but not be used concurrently).  At most one batch is open
 * at a time per store; a second st_batch_begin waits for the first to end.
 *
 * The on-disk layout is described in docs/storage.md.
 */
#ifndef ST_STORE_H
#define ST_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common.h"
#include "schema.h"

typedef uint32_t st_id;
#define ST_ID_NONE 0u
#define ST_NODE_ID_MAX 400 /* bytes of a node's string id */

typedef struct st_store st_store;
typedef struct st_snap st_snap;
typedef struct st_batch st_batch;

enum {
	ST_OPEN_READONLY = 1u << 0,
	ST_OPEN_NOSYNC = 1u << 1, /* commits do not fsync (benchmarks, tests) */
};



/* Open (creating if needed, unless read-only) the store in directory `dir`.
 * The schema must outlive the store.  Errors: ST_E_STORE (LMDB failure, with
 * the LMDB message in diag), ST_E_VERSION (format mismatch), -ENOENT
 * (read-only and no store), negative errno from mkdir. */
int st_store_open(const char *dir, const st_schema *schema, unsigned flags, st_store **ret_store,
		  st_diag *diag);
/* NULL-safe.  All snapshots and batches must have ended. */
void st_store_close(st_store *st);
const st_schema *st_store_schema(const st_store *st);

/* ---------------------------------------------------------------- writes */

/* Provenance location of a record: origin is a file or object name
 * ("nodes.jsonl", "payments:catalog-info.yaml"), line 0 if none. */
typedef struct st_loc {
	const char *origin;
	uint32_t line;
} st_loc;

/* Begin a batch on behalf of source `source` (1..64 bytes, e.g. "import").
 * ST_E_STORE/ST_E_FULL on LMDB errors. */
int st_batch_begin(st_store *st, const char *source, st_batch **ret_batch, st_diag *diag);

/* Upsert a node.  `type` is a schema node type index, `props` a property blob
 * (props.h) that must satisfy the type's property table.  An existing node
 * keeps its numeric id and gets these properties; its type must not change
 * (ST_E_EXISTS).  The same id given twice in a batch: the last one wins, the
 * types must agree.  Errors (ST_E_INVALID, ST_E_EXISTS) carry a message
 * without location: the caller prefixes its own file:line. */
int st_batch_node(st_batch *b, const char *id, size_t idlen, int type, const uint8_t *props,
		  size_t props_len, st_loc loc, st_diag *diag);

/* Upsert an edge between two node ids.  Endpoints are resolved when the
 * edge is added if they are known (in the store or earlier in this batch);
 * otherwise at commit, where an unknown endpoint fails the commit with the
 * edge's location.  Endpoint types must be allowed by the edge type. */
int st_batch_edge(st_batch *b, const char *src, size_t srclen, const char *dst, size_t dstlen,
		  int type, const uint8_t *props, size_t props_len, st_loc loc, st_diag *diag);

/* Add a cost fact: resource node id, day (days since 1970-01-01), currency
 * (st_currency_parse), effective and billed amounts in micro-units.  Facts
 * of one batch with the same (resource, day, currency) add up; a committed
 * batch *replaces* this source's earlier facts for those keys. */
int st_batch_cost(st_batch *b, const char *resource, size_t rlen, int32_t day, uint16_t currency,
		  int64_t effective, int64_t billed, st_loc loc, st_diag *diag);

/* Delete a node with its edges and cost facts; ST_E_NOTFOUND if it does not
 * exist.  Deletes apply before the batch's upserts. */
int st_batch_delete_node(st_batch *b, const char *id, size_t idlen, st_diag *diag);
/* Delete one edge; ST_E_NOTFOUND if it does not exist. */
int st_batch_delete_edge(st_batch *b, const char *src, size_t srclen, const char *dst,
			 size_t dstlen, int type, st_diag *diag);

/* Does node `id` exist (in the store, or upserted earlier in this batch)?
 * 1 with *ret_type (may be NULL) set, 0 if not, ST_E_STORE on failure. */
int st_batch_lookup(st_batch *b, const char *id, size_t idlen, int *ret_type);

/* Reference a node: an edge of this source points at it, but another source
 * declares it (a catalog's owner, a Terraform tag's service).  If the node
 * exists (in the store or earlier in this batch) only this source's
 * provenance entry is added, flagged ST_PROV_REF, and the node's type and
 * properties stay; otherwise it is created with `type` and `props`, like
 * st_batch_node.  A later st_batch_node of the same id in the batch wins. */
int st_batch_node_ref(st_batch *b, const char *id, size_t idlen, int type, const uint8_t *props,
		      size_t props_len, st_loc loc, st_diag *diag);

/* Make this batch a *complete* sync of its source: at commit, every node and
 * edge with a provenance entry of this source that the batch did not assert
 * loses that entry; one left without provenance is deleted (a node with its
 * edges and cost facts).  Entries whose origin is in keep_origins (files that
 * failed to parse this time) are kept and flagged ST_PROV_STALE instead.
 * *ret (may be NULL) is filled at commit.  Cost facts: the batch's facts
 * replace the source's stored facts for each (resource, currency, month) it
 * writes, and the source's facts under keys it does not write are removed. */
typedef struct st_retire_counts {
	uint64_t nodes, edges; /* deleted */
	uint64_t dropped;      /* records that lost this source's entry but stay */
	uint64_t stale;	       /* entries newly flagged stale */
	uint64_t costs;	       /* cost facts (resource-days) removed */
} st_retire_counts;
int st_batch_retire_unseen(st_batch *b, const char *const *keep_origins, size_t n_keep,
			   st_retire_counts *ret, st_diag *diag);

/* A status record for the batch's source, written in the same transaction
 * (opaque bytes; src/sync.c stores JSON). */
void st_batch_set_status(st_batch *b, const char *blob, size_t len);
/* Or: build the status record at commit, after retirement, so it can report
 * the retire counts; fn returns a malloc'd blob (freed by the store). */
typedef char *(*st_status_build_fn)(void *ctx, size_t *ret_len);
void st_batch_set_status_fn(st_batch *b, st_status_build_fn fn, void *ctx);
/* The revision this batch's commit will get (the batch holds the write lock). */
uint64_t st_batch_next_revision(st_batch *b);

/* Counts of what the batch holds so far. */
typedef struct st_batch_counts {
	uint64_t nodes, edges, costs, deletes;
} st_batch_counts;
void st_batch_get_counts(const st_batch *b, st_batch_counts *ret);

/* Write everything in one transaction and free the batch (also on error, in
 * which case nothing was written).  *ret_rev gets the new revision. */
int st_batch_commit(st_batch *b, uint64_t *ret_rev, st_diag *diag);
/* Drop the batch; nothing is written.  NULL-safe. */
void st_batch_abort(st_batch *b);

/* Write a source's status record in its own transaction (a failed or
 * unchanged sync, which writes no batch).  ST_E_BUSY-free: LMDB serialises
 * writers, so this waits for a running batch. */
int st_store_put_status(st_store *st, const char *source, const char *blob, size_t len,
			st_diag *diag);

/* ----------------------------------------------------------------- reads */

int st_snap_begin(st_store *st, st_snap **ret_snap, st_diag *diag);
/* NULL-safe.  Every pointer obtained from the snapshot dies with it. */
void st_snap_end(st_snap *s);

/* Revision of this snapshot (0 for an empty store; +1 per commit). */
uint64_t st_snap_revision(const st_snap *s);
/* Commit time (seconds since the epoch) of this snapshot's revision, 0 if none. */
int64_t st_snap_revision_time(const st_snap *s);

/* Numeric id of a node id string; ST_E_NOTFOUND if absent. */
int st_snap_lookup(st_snap *s, const char *id, size_t idlen, st_id *ret_id);

typedef struct st_prov {
	const char *source; /* source name */
	size_t source_len;
	uint64_t first_rev, last_rev;
	const char *origin; /* "" if none */
	size_t origin_len;
	uint32_t line;
	unsigned flags; /* ST_PROV_REF, ST_PROV_STALE */
} st_prov;

enum {
	ST_PROV_REF = 1,   /* the source only refers to the object (an edge's endpoint);
			      another source is expected to declare it */
	ST_PROV_STALE = 2, /* kept from an earlier sync: its origin failed to parse */
};

typedef struct st_node {
	st_id id;
	const char *key; /* string id, not NUL-terminated */
	size_t key_len;
	int type;       /* schema node type index; -1 if the schema lacks it */
	const uint8_t *props;
	size_t props_len;
	uint32_t n_prov;
	const uint8_t *prov_raw; /* decode with st_snap_prov() */
} st_node;

/* The node with numeric id `id`; ST_E_NOTFOUND if absent. */
int st_snap_node(st_snap *s, st_id id, st_node *ret_node);
/* Provenance entry i (< node->n_prov) of a node or edge record. */
int st_snap_prov(st_snap *s, const uint8_t *prov_raw, uint32_t i, st_prov *ret_prov);

typedef struct st_edge {
	st_id src, dst;
	int type; /* schema edge type index; -1 if the schema lacks it */
	const uint8_t *props;
	size_t props_len;
	uint32_t n_prov;
	const uint8_t *prov_raw;
} st_edge;

/* The edge (src, type, dst); ST_E_NOTFOUND if absent. */
int st_snap_edge(st_snap *s, st_id src, int type, st_id dst, st_edge *ret_edge);

typedef enum st_dir { ST_OUT = 0, ST_IN = 1 } st_dir;

/* Adjacency is returned as chunks of packed 64-bit values: (store edge type
 * << 32) | neighbour id, sorted ascending, so all neighbours over one edge
 * type are contiguous.  Chunks point into LMDB pages and are NOT 8-byte
 * aligned: read value i with st_adj_at(); decode with st_adj_node() and
 * st_snap_adj_type(). */
static inline uint64_t st_adj_at(const void *vals, size_t i)
{
	uint64_t v;
	__builtin_memcpy(&v, (const unsigned char *)vals + i * 8, 8);
	return v;
}
static inline st_id st_adj_node(uint64_t v) { return (st_id)v; }
/* Node id i of an st_snap_scan_type chunk (also possibly unaligned). */
static inline st_id st_id_at(const void *ids, size_t i)
{
	st_id v;
	__builtin_memcpy(&v, (const unsigned char *)ids + i * sizeof(st_id), sizeof(st_id));
	return v;
}
int st_snap_adj_type(const st_snap *s, uint64_t v); /* schema edge type index or -1 */

/* Neighbour cursor: call st_adj_next until it returns 0.  Each call yields a
 * chunk of values that stays valid until the next call or st_snap_end. */
typedef struct st_adj_iter {
	void *cur;
	st_id node;
	int state;
	int32_t stype; /* store edge type filter, -1 for all */
} st_adj_iter;
int st_snap_adj_open(st_snap *s, st_dir dir, st_id node, st_adj_iter *it);
/* Neighbours over one edge type only (schema index): positions the cursor
 * at the first value of that type and stops at the last, so a node's other
 * edge types are never read.  An edge type the store has never seen yields
 * nothing. */
int st_snap_adj_open_type(st_snap *s, st_dir dir, st_id node, int type, st_adj_iter *it);
/* Re-aim an open iterator (of the same snapshot and direction) at another
 * node and edge type (-1: all types) without opening a new cursor; for
 * traversals that expand many nodes.  ST_E_NOTFOUND for an invalid type. */
int st_adj_reset(st_adj_iter *it, st_snap *s, st_id node, int type);
/* 1 with (*ret_vals, *ret_n), 0 when done, <0 on error. */
int st_adj_next(st_adj_iter *it, const void **ret_vals, size_t *ret_n);
void st_adj_close(st_adj_iter *it);

/* Full scan of one adjacency direction in node id order: calls fn(node, vals,
 * n, ctx) for each chunk; stops early if fn returns non-zero (returned). */
typedef int (*st_adj_scan_fn)(st_id node, const void *vals, size_t n, void *ctx);
int st_snap_adj_scan(st_snap *s, st_dir dir, st_adj_scan_fn fn, void *ctx);

/* Node ids of one schema node type, ascending, in chunks (as adjacency). */
typedef int (*st_id_scan_fn)(const void *ids, size_t n, void *ctx);
int st_snap_scan_type(st_snap *s, int type, st_id_scan_fn fn, void *ctx);

/* All nodes ordered by string id. */
typedef int (*st_node_scan_fn)(const st_node *node, void *ctx);
int st_snap_scan_nodes(st_snap *s, st_node_scan_fn fn, void *ctx);
/* Nodes whose string id starts with prefix (len bytes), ordered by id;
 * stops early if fn returns non-zero (returned). */
int st_snap_scan_nodes_prefix(st_snap *s, const char *prefix, size_t len, st_node_scan_fn fn,
			      void *ctx);

/* One more than the largest node id ever assigned (ids are 1..max-1; some
 * may be deleted): the size for per-node arrays and bitmaps. */
st_id st_snap_id_bound(st_snap *s);

/* Cost facts of one resource, ordered by (day, currency), summed over sources. */
typedef struct st_cost {
	int32_t day;
	uint16_t currency;
	int64_t effective, billed;
} st_cost;
typedef int (*st_cost_scan_fn)(st_id resource, const st_cost *facts, size_t n, void *ctx);
int st_snap_costs_of(st_snap *s, st_id resource, st_cost_scan_fn fn, void *ctx);
/* All cost facts with from <= day < to, resource by resource (numeric id
 * order), facts of a resource in one call, not merged across sources. */
int st_snap_scan_costs(st_snap *s, int32_t from, int32_t to, st_cost_scan_fn fn, void *ctx);

typedef struct st_stats {
	uint64_t revision;
	int64_t revision_time;
	uint64_t nodes, edges, costs;
	size_t n_node_types, n_edge_types; /* schema sizes */
	uint64_t *node_count; /* [n_node_types], by schema index */
	uint64_t *edge_count; /* [n_edge_types] */
	uint64_t store_bytes;  /* bytes allocated to the data file (it may be sparse) */
	uint64_t used_bytes;   /* pages in use × page size */
	uint32_t next_id;
} st_stats;
/* Counts at this snapshot.  Free with st_stats_free(). */
int st_snap_stats(st_snap *s, st_stats *ret_stats);
void st_stats_free(st_stats *stats);

/* A source's facts in the store. */
typedef int (*st_status_fn)(const char *source, size_t slen, const void *blob, size_t len,
			    void *ctx);
/* Every source status record, by source name; stops at fn's first non-zero. */
int st_snap_statuses(st_snap *s, st_status_fn fn, void *ctx);

typedef int (*st_source_fn)(const char *name, size_t len, void *ctx);
int st_snap_sources(st_snap *s, st_source_fn fn, void *ctx);

/* Check the store's invariants at this snapshot: every adjacency entry has
 * its mirror and an edge record (and the reverse), edge endpoints exist,
 * str2id and the node records agree, the type index holds every node once,
 * the edge and cost counters match, cost entries are sorted by day within
 * their month.  ST_E_STORE with the first violation in diag. */
int st_snap_verify(st_snap *s, st_diag *diag);

/* ------------------------------------------------------- internal (st__) */
/* The schema a batch or snapshot validates against (for sibling modules). */
const st_schema *st__batch_schema(const st_batch *b);
const st_schema *st__snap_schema(const st_snap *s);

#endif
