/*
 * render.h — the JSON form of every query answer, shared by `stacktwin query
 * --json` and the HTTP API of `stacktwin serve` so that both speak the same
 * documents (docs/queries.md, docs/api.md).
 *
 * Each st_render_* function writes exactly one JSON value into a caller's
 * yajl_gen (which decides on beautification) from a snapshot and a query
 * result computed on that same snapshot.  Node ids are written as their
 * strings, node and edge types by their schema names.  Nothing here runs a
 * query, prints or logs; a function may be called from any thread that owns
 * the snapshot.  Errors: -ENOMEM, ST_E_STORE (a corrupt property or
 * provenance record); the generator then holds a partial document that the
 * caller must discard.
 */
#ifndef ST_RENDER_H
#define ST_RENDER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <yajl/yajl_gen.h>

#include "query.h"
#include "store.h"

/* Which rows of a list answer to write and how to say where the next page
 * starts.  The CLI pages by offset (`--offset`, "next_offset" in the blast
 * radius); the HTTP API by an opaque cursor that serve.c makes (docs/api.md),
 * so with `cursor` the document carries "next_cursor" instead of "offset" and
 * "next_offset".  A NULL page means every row, CLI style. */
typedef struct st_render_page {
	size_t offset;		 /* first row written, clamped to the row count */
	size_t limit;		 /* rows written at most; 0 = all from offset */
	bool cursor;		 /* the API's form: write "next_cursor" */
	const char *next_cursor; /* with cursor: the next page's cursor, NULL = last page */
} st_render_page;

/* The end (exclusive) of the rows a page writes out of n rows. */
size_t st_render_page_end(const st_render_page *p, size_t n);

/* One page of a blast radius with its aggregates: root, revision, depth
 * (0 = unbounded, written as null), total, then offset, limit, next_offset
 * (CLI) or limit, next_cursor (page->cursor), the page's nodes with distance,
 * path and edge, then affected_services, owner_teams, unowned_services, and
 * cost_at_risk when with_risk (a cost window was given).  page->limit 0 is
 * written as 100, the CLI default. */
int st_render_blast(yajl_gen g, st_snap *s, const st_br_result *r, const st_br_aggregate *agg,
		    uint32_t depth, bool with_risk, const st_render_page *page);

/* {"node","claim","owners","conflict","via"} of st_owner(). */
int st_render_owners(yajl_gen g, st_snap *s, const st_owner_result *r);

/* {"team","direct","inherited"} of st_owned_by(), plus "next_cursor" with a
 * cursor page.  A page counts the rows of direct then inherited as one list. */
int st_render_owned_by(yajl_gen g, st_snap *s, const st_owned_result *r,
		       const st_render_page *page);

/* {"by","from","to","metric","rows","totals"} of st_cost_rollup() over the
 * days [from, to), plus "next_cursor" with a cursor page; totals always
 * cover every row. */
int st_render_cost(yajl_gen g, st_snap *s, const st_cost_result *r, st_group by, int32_t from,
		   int32_t to, st_metric m, const st_render_page *page);

/* {"paths":[{"nodes","edges"}…]} of st_paths(). */
int st_render_path(yajl_gen g, st_snap *s, const st_path_result *r);

/* {"nodes":[{"id","type","hop"}…],"edges":[{"src","dst","type"}…],"truncated"}. */
int st_render_neighbours(yajl_gen g, st_snap *s, const st_nb_result *r);

/* {"nodes":[{"id","type"}…],"truncated"} of st_search(), plus "next_cursor"
 * with a cursor page.  "truncated": more matches follow the rows written. */
int st_render_search(yajl_gen g, st_snap *s, const st_search_result *r, const st_render_page *page);

/* One node: {"id","type","props":{key: value},"prop_types":{key: type name},
 * "provenance":[{"source","first_revision","last_revision","origin","line"}]}.
 * Timestamps are RFC 3339 strings, lists arrays, maps objects.  -ENOENT if
 * the node does not exist. */
int st_render_node(yajl_gen g, st_snap *s, st_id id);

/* The counts of `stacktwin stats --json`: revision, revision_time, nodes,
 * edges, cost_facts, store_bytes, used_bytes, node_types, edge_types. */
int st_render_stats(yajl_gen g, st_snap *s);

/* Names used in the documents above (static strings). */
const char *st_render_claim_name(st_claim c);
const char *st_render_group_name(st_group by);
/* "resource", "service", "team", "system" or "domain"; ST_E_INVALID otherwise. */
int st_render_group_parse(const char *name, st_group *ret_group);

/* "unknown node 'ID'" plus "; did you mean 'A', 'B'?" with up to five close
 * ids (st_suggest), NUL-terminated and truncated to cap bytes (cap > 0).
 * Returns the number of suggestions. */
size_t st_render_unknown_node(st_snap *s, const char *id, char *buf, size_t cap);

#endif
