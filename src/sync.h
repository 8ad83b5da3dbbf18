/*
 * sync.h — one source's sync: run its connector, reconcile identities, and
 * commit the facts as one LMDB write transaction (docs/sync.md).
 *
 * A sync is complete or nothing: the connector's facts go into one batch;
 * edges are checked once every node of the run is known; identity hints are
 * resolved to logical entities (reconcile.c); then, only if the connector
 * read the whole source, the source's facts not seen in this run are retired
 * and the batch commits.  A failed run aborts the batch: the last good graph
 * stays.  Every attempt writes the source's status record (last success,
 * last error, duration, counts, the connector's state), shown by
 * `stacktwin sources` and GET /api/v1/sources.
 */
#ifndef ST_SYNC_H
#define ST_SYNC_H

#include <stdbool.h>
#include <stdint.h>

#include <yajl/yajl_gen.h>
#include <yajl/yajl_tree.h>

#include "config.h"
#include "store.h"

typedef struct st_sync_result {
	int rc;		   /* 0 committed, ST_SYNC_UNCHANGED, or < 0 failed */
	uint64_t revision; /* the new revision (0 when nothing was committed) */
	double duration_s;
	uint64_t nodes, edges, costs; /* facts the connector emitted */
	uint64_t refs;		      /* referenced nodes declared elsewhere */
	uint64_t hints, links, ambiguous, unmatched;
	uint64_t warnings, dropped_edges;
	uint64_t hints_hash; /* how the hints resolved (order-independent) */
	st_retire_counts retired;
	char error[ST_DIAG_MAX]; /* when rc < 0 */
} st_sync_result;

typedef struct st_sync_opts {
	bool progress; /* a progress line on stderr (a TTY) */
	/* Called (if set) with each warning as "origin:line: message". */
	void (*on_warning)(const char *msg, void *ctx);
	void *ctx;
} st_sync_opts;

/* Sync one configured source into the store.  `store_dir` locates the
 * default cache directory.  Returns res->rc; diag gets the error too. */
int st_sync_source(st_store *st, const char *store_dir, const st_config *cfg,
		   const st_source_cfg *src, const st_sync_opts *opts, st_sync_result *res,
		   st_diag *diag);

/* "git:/path/or/url", "terraform:prod.tfstate" -> a source named after the
 * kind and location ("git-payments", "terraform-prod"); the strings are
 * owned by *ret (free with st_source_cfg_clear). */
int st_source_parse_adhoc(const char *spec, st_source_cfg *ret, st_diag *diag);
void st_source_cfg_clear(st_source_cfg *s);

/* Write a parsed JSON value (a status record) back out with yajl. */
void st_json_gen_value(yajl_gen g, yajl_val v);

#endif
