/*
 * schema.h — the typed schema: node types, edge types and their properties,
 * loaded from YAML (schema/stacktwin.yaml, embedded in the binary) with libyaml.
 *
 * The schema is immutable once loaded and may be shared by any number of
 * threads.  Every pointer it hands out stays valid until st_schema_free().
 * It knows nothing about the store: type *names* are the contract; the store
 * maps names to its own persistent small integers.
 */
#ifndef ST_SCHEMA_H
#define ST_SCHEMA_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common.h"

typedef enum st_ptype {
	ST_P_STRING = 1,
	ST_P_INT = 2,       /* int64 */
	ST_P_FLOAT = 3,     /* finite double */
	ST_P_BOOL = 4,
	ST_P_TIMESTAMP = 5, /* int64 seconds since the epoch, UTC */
	ST_P_LIST = 6,      /* list of strings */
	ST_P_MAP = 7,       /* string -> string */
} st_ptype;

/* "string", "int", ... ; NULL for an invalid value. */
const char *st_ptype_name(st_ptype t);

typedef struct st_prop_def {
	const char *name;
	size_t name_len; /* strlen(name), kept for hot-path comparisons */
	st_ptype type;
	bool required;
} st_prop_def;

typedef enum st_dep {
	ST_DEP_NONE = 0,
	ST_DEP_FORWARD = 1, /* A -E-> B: A needs B */
	ST_DEP_REVERSE = 2, /* A -E-> B: B needs A */
} st_dep;

typedef enum st_layer {
	ST_LAYER_LOGICAL = 1,
	ST_LAYER_SOURCE = 2,
} st_layer;

typedef struct st_node_type {
	const char *name;
	const char *description; /* "" when the YAML has none; never NULL */
	st_layer layer;
	/* Properties of this type, *including* the schema's common node
	 * properties, sorted by name (bytewise).  NULL when n_props == 0. */
	const st_prop_def *props;
	size_t n_props;
} st_node_type;

typedef struct st_edge_type {
	const char *name;
	const char *description; /* "" when the YAML has none; never NULL */
	st_dep dependency;
	/* Allowed endpoint node types as indexes into the node type table,
	 * in YAML order, without repeats; any_from/any_to are set for "*"
	 * (and the arrays are then empty: NULL, count 0). */
	bool any_from, any_to;
	const uint16_t *from;
	size_t n_from;
	const uint16_t *to;
	size_t n_to;
	/* Properties including the common edge properties, sorted by name;
	 * NULL when n_props == 0. */
	const st_prop_def *props;
	size_t n_props;
} st_edge_type;

typedef struct st_schema st_schema;

/* Load a schema from a YAML buffer.  `origin` names it in messages
 * ("schema/stacktwin.yaml").  On error returns ST_E_SCHEMA (or -ENOMEM) and
 * writes "origin:line:column: problem" into diag (lines and columns 1-based).
 * Rejected: unknown keys, wrong value kinds, unknown property types,
 * duplicate type or property names, an edge endpoint naming an unknown node
 * type, a missing `version: 1`, empty type tables, names that are not
 * [A-Za-z][A-Za-z0-9_]* (types) or [a-z][a-z0-9_]* (properties), more than
 * 1000 node or edge types, more than 64 properties per type.
 *
 * Further bounds: names are at most 128 bytes; the 64-property limit counts
 * the common properties; the text is at most 4 MiB (the message then has no
 * line:column), nested at most 32 levels deep, and holds exactly one YAML
 * document.  `version` and `required` must be unquoted (`1`, `true`,
 * `false`).  "*" must be the only entry of a `from`/`to` list, and a list
 * may not name a node type twice.  YAML syntax and encoding errors are
 * ST_E_SCHEMA too, located at libyaml's problem mark.
 *
 * The buffer need not be NUL-terminated and is not referenced after the
 * call.  *ret_schema is written only on success; free it with
 * st_schema_free().  -EINVAL if ret_schema is NULL or buf is NULL with
 * len > 0. */
int st_schema_load_buffer(const char *buf, size_t len, const char *origin,
			  st_schema **ret_schema, st_diag *diag);
/* Same, reading a file (errors name the path).  A file that cannot be
 * opened or read is ST_E_IO. */
int st_schema_load_file(const char *path, st_schema **ret_schema, st_diag *diag);
/* The schema compiled into the binary (schema/stacktwin.yaml). */
int st_schema_load_default(st_schema **ret_schema, st_diag *diag);
/* NULL-safe. */
void st_schema_free(st_schema *s);

size_t st_schema_node_type_count(const st_schema *s);
size_t st_schema_edge_type_count(const st_schema *s);
/* i < count (NULL otherwise); types keep the order of the YAML file. */
const st_node_type *st_schema_node_type(const st_schema *s, size_t i);
const st_edge_type *st_schema_edge_type(const st_schema *s, size_t i);

/* Index of the type with exactly this name (len bytes, not NUL-terminated),
 * or -1.  A hash look-up; -1 also for s == NULL. */
int st_schema_find_node_type(const st_schema *s, const char *name, size_t len);
int st_schema_find_edge_type(const st_schema *s, const char *name, size_t len);

/* Whether edge type e may go from node type `from` to node type `to`
 * (indexes).  Constant time; false for any index out of range. */
bool st_schema_edge_allows(const st_schema *s, size_t e, size_t from, size_t to);

/* The property definition with this name in a sorted prop table, or NULL.
 * A binary search; props may be NULL when n == 0. */
const st_prop_def *st_schema_find_prop(const st_prop_def *props, size_t n,
				       const char *name, size_t len);

/* A stable 64-bit FNV-1a hash of the YAML text the schema was loaded from
 * (every byte, comments included); 0 for s == NULL. */
uint64_t st_schema_hash(const st_schema *s);

#endif
