/*
 * query.h — the query engine: traversals and rollups on one store snapshot
 * (docs/queries.md has the exact semantics; ../shared/DESIGN.md §4).
 *
 * Every function reads through the store's read API (store.h) on a caller's
 * snapshot and never touches LMDB.  Results are caller-owned structures
 * freed with their *_free function (NULL-safe); string pointers inside a
 * result point into the snapshot and die with it.  Library code: no logging,
 * errors as negative codes with a message in st_diag.
 *
 * Node and edge types are schema indexes.  "Needs": for a dependency edge
 * type with direction forward, A -E-> B means A needs B; with direction
 * reverse, A -E-> B means B needs A (schema.h st_dep).
 */
#ifndef ST_QUERY_H
#define ST_QUERY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common.h"
#include "schema.h"
#include "store.h"

/* A set of edge types as a bitmask over schema indexes (at most 64 edge
 * types in a schema used by queries; st_edge_set_parse checks). */
typedef uint64_t st_edge_set;
/* All dependency edge types of the schema. */
st_edge_set st_edge_set_dependencies(const st_schema *sc);
/* Parse "DEPENDS_ON,CALLS"; ST_E_NOTFOUND with a message naming the type. */
int st_edge_set_parse(const st_schema *sc, const char *list, st_edge_set *ret, st_diag *diag);

/* Cost metric of rollups and cost at risk. */
typedef enum st_metric { ST_METRIC_EFFECTIVE = 0, ST_METRIC_BILLED = 1 } st_metric;

/* ------------------------------------------------------- dependency graph */
/* An in-memory CSR of the "needs" relation over all dependency edge types,
 * built from one snapshot by a full adjacency scan (~0.1-0.2 s per million
 * nodes).  Optional: traversals use it when given one built for the same
 * revision, else they read adjacency through the store.  Immutable once
 * built; share it between threads.  A long-lived process (the server, the
 * benchmarks) keeps one per revision. */
typedef struct st_depgraph st_depgraph;
int st_depgraph_build(st_snap *s, st_depgraph **ret, st_diag *diag);
uint64_t st_depgraph_revision(const st_depgraph *g);
void st_depgraph_free(st_depgraph *g);

/* ------------------------------------------------------------ blast radius */
typedef struct st_br_opts {
	st_edge_set edges;        /* 0 = all dependency edge types */
	uint32_t depth;           /* 0 = unbounded */
	const st_depgraph *graph; /* optional, must match the snapshot's revision */
	size_t max_nodes;         /* 0 = no cap; else ST_E_LIMIT beyond it */
	/* optional visited-set scratch for callers that run many queries (a
	 * server thread): a bitmap of (st_snap_id_bound(s) + 63) / 64 words,
	 * all zero on entry and left all zero on return, whatever the outcome;
	 * one per concurrent call.  NULL: the query allocates its own. */
	uint64_t *scratch;
} st_br_opts;

typedef struct st_br_hit {
	st_id id;
	uint32_t distance; /* minimum number of edges from the node to the root */
	st_id next;        /* next node on one shortest path towards the root */
	int edge_type;     /* type of the edge between id and next */
	bool edge_forward; /* true: stored as id -E-> next; false: next -E-> id */
} st_br_hit;

typedef struct st_br_result {
	st_id root;
	st_br_hit *hits; /* every dependent, ordered by (distance, id) */
	size_t n_hits;
	uint32_t max_distance;
} st_br_result;

/* Every node y != root with a path y needs ... needs root of length
 * 1..depth over the chosen edge types.  Self-loops and cycles are fine;
 * the root never appears in its own result. */
int st_blast_radius(st_snap *s, st_id root, const st_br_opts *opts, st_br_result **ret,
		    st_diag *diag);
/* One shortest path from hit i to the root, as node ids (hit first, root
 * last), written to out (room for distance+1 ids); returns the count. */
size_t st_br_path(const st_br_result *r, size_t i, st_id *out);
void st_br_result_free(st_br_result *r);

/* Aggregates of a blast radius: what breaks, who to call, what it costs. */
typedef struct st_br_team {
	st_id team;
	size_t services; /* affected services/components this team owns */
} st_br_team;

typedef struct st_br_money {
	uint16_t currency;
	int64_t amount; /* micro-units of the chosen metric */
} st_br_money;

typedef struct st_br_aggregate {
	size_t services;     /* results of type Service or Component */
	st_br_team *teams;   /* owners of those (all owners on a conflict), most services first */
	size_t n_teams;
	size_t unowned;      /* affected services/components without an owner */
	st_br_money *risk;   /* cost at risk per currency (empty without a window) */
	size_t n_risk;
} st_br_aggregate;

/* Aggregates of r.  With from < to, cost at risk = the cost in [from, to)
 * charged (BILLED_TO, as the ST_GROUP_SERVICE rollup) to the root or to any
 * node of the result, per currency. */
int st_br_aggregate_compute(st_snap *s, const st_br_result *r, int32_t from, int32_t to, st_metric m,
			    st_br_aggregate **ret, st_diag *diag);
void st_br_aggregate_free(st_br_aggregate *a);

/* ------------------------------------------------------------- ownership */
typedef enum st_claim {
	ST_CLAIM_NONE = 0,     /* unowned */
	ST_CLAIM_SELF,         /* the node is a team */
	ST_CLAIM_OWNS,         /* OWNS edge(s) into the node */
	ST_CLAIM_INHERITED,    /* owner of the node reached by `via` */
} st_claim;

typedef struct st_owner_result {
	st_id node;
	st_claim claim;
	st_id *owners;     /* sorted ascending; >1 means conflict */
	size_t n_owners;
	bool conflict;
	/* for ST_CLAIM_INHERITED: the chain of nodes the ownership came through
	 * (node first, the node with the OWNS claim or the team last) and the
	 * edge type of each step */
	st_id *chain;
	int *chain_edges;
	size_t n_chain;
} st_owner_result;

/* owner(x) as defined in docs/queries.md. */
int st_owner(st_snap *s, st_id node, st_owner_result **ret, st_diag *diag);
void st_owner_result_free(st_owner_result *r);

/* Everything a team owns: nodes it OWNS directly and every node whose
 * owner() includes the team by inheritance; ordered by id. */
typedef struct st_owned_result {
	st_id team;
	st_id *direct;
	size_t n_direct;
	st_id *inherited;
	size_t n_inherited;
} st_owned_result;
int st_owned_by(st_snap *s, st_id team, size_t max_nodes, st_owned_result **ret, st_diag *diag);
void st_owned_result_free(st_owned_result *r);

/* ---------------------------------------------------------------- cost */
typedef enum st_group {
	ST_GROUP_RESOURCE = 0, /* the billed node itself */
	ST_GROUP_SERVICE,      /* BILLED_TO target */
	ST_GROUP_TEAM,         /* owner of the BILLED_TO target */
	ST_GROUP_SYSTEM,       /* system of the BILLED_TO target (PART_OF) */
	ST_GROUP_DOMAIN,       /* domain of that system (PART_OF) */
} st_group;

typedef struct st_cost_row {
	st_id group;        /* ST_ID_NONE for the unattributed row */
	uint16_t currency;
	int64_t amount;     /* micro-units of the chosen metric */
	uint64_t facts;     /* cost facts summed into the row */
} st_cost_row;

typedef struct st_cost_result {
	st_cost_row *rows;  /* ordered by currency, then amount descending, then group id */
	size_t n_rows;
	/* totals per currency over all rows (== the sum of the input facts) */
	struct { uint16_t currency; int64_t amount; uint64_t facts; } *totals;
	size_t n_totals;
} st_cost_result;

/* Cost facts with from <= day < to, grouped; every unit lands in exactly
 * one row, unattributable money in the group ST_ID_NONE row. */
int st_cost_rollup(st_snap *s, int32_t from, int32_t to, st_group g, st_metric m,
		   st_cost_result **ret, st_diag *diag);
void st_cost_result_free(st_cost_result *r);

/* ---------------------------------------------------------------- paths */
typedef struct st_path_result {
	st_id *nodes;      /* paths back to back, each (len) nodes from a to b */
	int *edges;        /* edge types, (len - 1) per path */
	size_t *starts;    /* path i is nodes[starts[i] .. starts[i] + len) */
	size_t n_paths;
	size_t len;        /* nodes per path (all shortest paths have the same length) */
} st_path_result;

/* Shortest directed paths a -> ... -> b following stored edge direction over
 * the edge set (0 = all types), at most max_paths of them (0 = 1). */
int st_paths(st_snap *s, st_id a, st_id b, st_edge_set edges, size_t max_paths,
	     uint32_t max_depth, st_path_result **ret, st_diag *diag);
void st_path_result_free(st_path_result *r);

/* --------------------------------------------------------- neighbourhood */
typedef struct st_nb_edge {
	st_id src, dst;
	int type;
} st_nb_edge;

typedef struct st_nb_result {
	st_id *nodes;       /* root first, then by (hop, id) */
	uint32_t *hops;
	size_t n_nodes;
	st_nb_edge *edges;  /* every stored edge between two returned nodes */
	size_t n_edges;
	bool truncated;     /* a breadth or node limit cut the subgraph */
} st_nb_result;

/* The k-hop subgraph around x over edges of either direction (edge set 0 =
 * all types), taking at most `breadth` neighbours per node (0 = 50) and at
 * most max_nodes nodes (0 = 500). */
int st_neighbours(st_snap *s, st_id x, uint32_t k, st_edge_set edges, size_t breadth,
		  size_t max_nodes, st_nb_result **ret, st_diag *diag);
void st_nb_result_free(st_nb_result *r);

/* --------------------------------------------------------------- search */
typedef struct st_search_opts {
	const char *id_prefix;  /* node ids starting with this */
	const char *name;       /* case-insensitive substring of the `name` property */
	int type;               /* schema node type, -1 = any */
	const char *prop;       /* property key ... */
	const char *value;      /* ... whose value (string, or a map/list entry) equals this */
	size_t limit;           /* 0 = 100 */
} st_search_opts;

typedef struct st_search_result {
	st_id *ids;             /* ordered by id string */
	size_t n_ids;
	bool truncated;
} st_search_result;

int st_search(st_snap *s, const st_search_opts *o, st_search_result **ret, st_diag *diag);
void st_search_result_free(st_search_result *r);

/* Up to n ids closest to an unknown id (edit distance and shared prefix),
 * for "did you mean" messages.  Returns the count written to out. */
size_t st_suggest(st_snap *s, const char *id, size_t idlen, st_id *out, size_t n);

#endif
