/*
 * backstage.h — the Backstage catalog parser used by the Git connector
 * (docs/catalog.md has the full mapping tables).
 *
 * st_backstage_parse() reads one catalog file (catalog-info.yaml or any
 * file a Location points at): a YAML stream of one or more documents, each
 * a Backstage entity.  It turns the entities into logical-layer facts
 * (Service, Component, API, Resource, System, Domain, Team, User nodes and
 * OWNS, PART_OF, MEMBER_OF, DEPENDS_ON, PROVIDES_API, CONSUMES_API,
 * DEFINED_IN edges) and emits them into a sink (connector.h).
 *
 * File-level atomicity: the whole file is parsed and checked first (YAML,
 * required fields, value kinds, entity refs, schema endpoint rules); only a
 * fully valid file emits facts.  A file with a problem emits no facts at all.
 *
 * The parser is pure: no I/O, no logging, no global state; it may run on any
 * thread with its own sink.  The Kubernetes manifest parser lives in
 * manifest.h and shares st_parse_ctx and st_strv with this header.
 */
#ifndef ST_BACKSTAGE_H
#define ST_BACKSTAGE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common.h"
#include "connector.h"

/* Bounds on input a repository author controls.  Hitting one is a problem
 * of the file (ST_E_INVALID, reported like any other, see below). */
#define ST_CATALOG_MAX_BYTES ((size_t)4 << 20) /* one file */
#define ST_CATALOG_MAX_DOCS 10000	       /* YAML documents in one file */
#define ST_CATALOG_MAX_DEPTH 64		       /* YAML nesting */
#define ST_CATALOG_MAX_REFS 100000	       /* edges produced by one file */

/* Where a file comes from.  All strings are NUL-terminated, owned by the
 * caller and need only live for the call that takes the ctx (the sink copies
 * what it keeps). */
typedef struct st_parse_ctx {
	const char *source;  /* the source's name (st_source.name); required */
	const char *path;    /* the file's path inside the repository, e.g.
				"catalog-info.yaml" or "k8s/app.yaml"; required */
	const char *repo_id; /* the Repository node id ("git:github.com/acme/x"):
				every entity / object gets a DEFINED_IN /
				DECLARED_IN edge to it with prop path = path.
				NULL: no such edges */
	const char *origin;  /* st_loc.origin of every fact and the prefix of
				every message; NULL means "<source>:<path>" */
} st_parse_ctx;

/* A growable vector of NUL-terminated strings owned by the vector.
 * Zero-initialise ({0}) before first use; free with st_strv_free. */
typedef struct st_strv {
	char **v;
	size_t n, cap;
} st_strv;

/* Frees every string and the array and zeroes *v.  NULL-safe. */
void st_strv_free(st_strv *v);

/* What one parse found (all counts are of this file). */
typedef struct st_catalog_stats {
	size_t entities;  /* entities emitted as nodes */
	size_t locations; /* Location entities (no node; targets returned) */
	size_t skipped;	  /* documents skipped: other kinds (Template, ...) or
			     apiVersions other than backstage.io/v1alpha1 and
			     backstage.io/v1beta1.  Empty documents are not
			     counted */
	size_t edges;	  /* edges emitted, after de-duplication */
} st_catalog_stats;

/*
 * Parse the catalog file buf[0..len) (need not be NUL-terminated; not
 * referenced after the call) and emit its facts into sink.
 *
 * Ids (lowercase): Component with spec.type service -> "service:<name>",
 * other Components "component:<name>", then "api:", "resource:", "system:",
 * "domain:", "team:" (Group), "user:".  Namespace "default" is omitted;
 * another namespace gives "<prefix>:<namespace>/<name>".  A ref to a
 * Component ("component:x", or a dependsOn ref of kind component) becomes
 * "service:x" unless this same file declares Component x (same namespace)
 * with a spec.type other than service.  Edges may point at nodes this file
 * does not declare; the sync engine creates them as placeholders.
 *
 * Every fact's st_loc is {ctx->origin or "<source>:<path>", line of the
 * entity's document start (1-based): the "---" line of an explicit
 * document, else its first content line}.  Warnings use the same origin,
 * so the sync engine keeps (marks stale) exactly this file's old facts.
 *
 * Returns:
 *   0             the file was valid; its facts were emitted; *ret_stats
 *                 (may be NULL) filled; the targets of its Location entities
 *                 (spec.target and spec.targets, strings exactly as written,
 *                 relative paths NOT resolved: the caller resolves them
 *                 against the directory of ctx->path) are APPENDED to
 *                 *ret_targets (may be NULL: targets dropped).
 *   ST_E_INVALID  a problem of the file (YAML syntax, a bound above hit, a
 *                 missing apiVersion/kind/metadata.name, a value of the
 *                 wrong kind, a malformed ref, a ref that would make an edge
 *                 the schema forbids, a duplicate entity).  NOTHING was
 *                 emitted except ONE warning: the parser itself has called
 *                 sink->warn({origin, LINE}, "PROBLEM (column COL)").  The
 *                 caller must NOT warn again: it just goes on with the next
 *                 file.  diag holds "origin:LINE:COLUMN: PROBLEM" (1-based),
 *                 for logs and tests.  The out-params are untouched.
 *   other < 0     an error of the run, not of the file: -EINVAL for bad
 *                 arguments, or whatever a sink callback returned (facts may
 *                 have been emitted before it; the sync fails anyway).  No
 *                 warning was issued; diag says why.
 */
int st_backstage_parse(st_sink *sink, const st_parse_ctx *ctx, const char *buf, size_t len,
		       st_catalog_stats *ret_stats, st_strv *ret_targets, st_diag *diag);

/* ---- internal: YAML plumbing shared by backstage.c and manifest.c -------
 * Not for connectors.  A whole YAML stream loaded with the document API after
 * an event pass that bounds depth and document count. */
struct yaml_document_s;
struct yaml_node_s;

typedef struct st__yfile {
	const char *origin;
	struct yaml_document_s *docs;
	size_t n_docs;
	/* the problem, once st__yfail() was called */
	uint32_t line, column; /* 1-based */
	char problem[ST_DIAG_MAX / 2];
} st__yfile;

/* Load buf as a YAML stream.  0, or ST_E_INVALID with the problem recorded
 * in f (syntax, bounds), or -ENOMEM.  st__yfile_free in every case. */
int st__yfile_load(st__yfile *f, const char *origin, const char *buf, size_t len, size_t max_docs);
void st__yfile_free(st__yfile *f);
/* Record a problem at a node's start (first one wins); returns ST_E_INVALID. */
int st__yfail(st__yfile *f, const struct yaml_node_s *n, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/* Record a problem at line:column (1-based). */
int st__yfail_at(st__yfile *f, uint32_t line, uint32_t column, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
/* Write the recorded problem into diag ("origin:L:C: problem") and, if sink
 * is not NULL, warn it once.  Returns ST_E_INVALID. */
int st__yfile_report(const st__yfile *f, st_sink *sink, st_diag *diag);

/* The node with this id in document d (libyaml ids are 1-based). */
struct yaml_node_s *st__ynode(struct yaml_document_s *d, int id);
/* A plain null scalar ("", "~", "null", "Null", "NULL") or NULL. */
bool st__ynull(const struct yaml_node_s *n);

enum { ST__Y_ANY, ST__Y_STR, ST__Y_MAP, ST__Y_SEQ };
/* Look `key` up in mapping `map` of d.  *ret is NULL when the key is absent
 * or its value is null; otherwise the value, which must be of kind `want`
 * (a STR must be a scalar without NUL bytes).  A repeated key, a wrong kind:
 * st__yfail naming `path` (e.g. "spec.owner"). */
int st__yget(st__yfile *f, struct yaml_document_s *d, const struct yaml_node_s *map,
	     const char *key, const char *path, int want, struct yaml_node_s **ret);
/* Check that n is a string scalar (see st__yget); message names `path`. */
int st__ywant_str(st__yfile *f, const struct yaml_node_s *n, const char *path);
/* Scalar text and length (n must be a scalar). */
const char *st__ytext(const struct yaml_node_s *n);
size_t st__ylen(const struct yaml_node_s *n);
/* Up to 64 bytes of user text for a message, control bytes replaced; buf
 * holds at least 72 bytes. */
const char *st__yquote(char *buf, const char *s, size_t len);

#endif
