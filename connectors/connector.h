/*
 * connector.h — the interface between a source and the graph (DESIGN §1).
 *
 * A connector reads one source (a Git repository, a Terraform state, ...) and
 * emits facts into a sink: node upserts, edge upserts, cost facts and
 * identity hints, each with the location it came from.  Connectors never
 * touch LMDB or each other; the sink (src/sync.c in the program, a recording
 * sink in tests) decides what happens to the facts.
 *
 * One run is one complete read of the source.  It returns
 *   0                   the read was complete: every fact the source now
 *                       holds was emitted (the sync may retire the rest);
 *   ST_SYNC_UNCHANGED   nothing changed since src->prev_state (e.g. the Git
 *                       ref did not move): nothing was emitted and nothing
 *                       must be retired;
 *   < 0                 an error (ST_E_*, message in diag naming the source
 *                       and location): the sync fails and changes nothing.
 *
 * A recoverable problem in one part of the source (one malformed
 * catalog-info.yaml, one bad CODEOWNERS line) is reported with sink->warn and
 * the run goes on; the facts that origin produced in the last good sync are
 * kept (not retired) and marked stale.  A remark that does not cast doubt on
 * what was read goes to sink->note (when set) instead.
 *
 * Node and edge types are schema indexes (st_schema_find_node_type on
 * sink->schema); property blobs are built with props.h and must satisfy the
 * schema.  The sink copies everything it keeps: pointers passed in need only
 * live for the call.
 */
#ifndef ST_CONNECTOR_H
#define ST_CONNECTOR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common.h"
#include "schema.h"
#include "store.h" /* st_loc */

#define ST_SYNC_UNCHANGED 1

/* One key/value of a source's `options:` map in the config. */
typedef struct st_kv {
	const char *key, *value;
} st_kv;

/* What a connector gets to read one source.  All strings are NUL-terminated
 * and owned by the caller. */
typedef struct st_source {
	const char *name;      /* the source's name: provenance, ids, messages */
	const char *kind;      /* "git", "terraform", ... */
	const char *location;  /* path or URL */
	const char *ref;       /* git: the branch or tag to track; NULL = the remote's HEAD */
	const char *cache_dir; /* an existing directory the connector may keep files in
				  (clones); it belongs to this source alone */
	const char *token_env; /* credential by reference: the environment variable ... */
	const char *token_file; /* ... or the file holding it (first line); both NULL: none */
	const st_kv *options;  /* kind-specific options, in config order */
	size_t n_options;
	const char *prev_state; /* the state string of the last successful sync, or NULL */
	double timeout_s;       /* network operations give up after this long; 0 = default 30 s */
} st_source;

/* The value of option `key`, or NULL. */
const char *st_source_option(const st_source *src, const char *key);

/* Read the source's credential (token_env or token_file) into a new string
 * (*ret NULL when the source has none).  ST_E_INVALID when the variable is
 * unset or the file unreadable, naming the variable or file, never the value.
 * The caller frees it with st_secret_free, which wipes it first. */
int st_source_token(const st_source *src, char **ret, st_diag *diag);
void st_secret_free(char *secret);

/* Whether a tag or label key looks like it names a secret: lower-cased and
 * without '_', '-', '.', '/', ':' and spaces, it contains "password",
 * "token", "secret", "apikey", ... (docs/connectors.md, "Secrets").  Such a
 * tag's value is never stored. */
bool st_secret_name(const char *key, size_t len);

/* What an identity hint says a source object belongs to. */
typedef enum st_hint_kind {
	ST_HINT_SERVICE, /* a logical Service or Component */
	ST_HINT_TEAM,	 /* the owning Team (or User) */
	ST_HINT_SYSTEM,	 /* a System */
	ST_HINT_CLOUD_ID, /* the same physical resource as the CloudResource whose `arn`
			     or `cloud_id` equals the value (billing ResourceId) */
} st_hint_kind;

typedef struct st_sink st_sink;
struct st_sink {
	const st_schema *schema;
	void *ctx; /* the sink implementation's own */

	/* Upsert a node / an edge / add a cost fact (store.h semantics). */
	int (*node)(st_sink *s, const char *id, size_t idlen, int type, const uint8_t *props,
		    size_t props_len, st_loc loc, st_diag *diag);
	int (*edge)(st_sink *s, const char *src, size_t srclen, const char *dst, size_t dstlen,
		    int type, const uint8_t *props, size_t props_len, st_loc loc, st_diag *diag);
	int (*cost)(st_sink *s, const char *resource, size_t rlen, int32_t day, uint16_t currency,
		    int64_t effective, int64_t billed, st_loc loc, st_diag *diag);

	/* Source object `id` (emitted by this run) belongs to the logical entity
	 * of `kind` called `value`, because of `evidence` (e.g. "tag service=payments",
	 * "CODEOWNERS /  @acme/payments").  `rule` names the rule that produced the
	 * hint ("terraform-tag", "codeowners-root", ...).  Reconciliation decides
	 * whether and where it links (docs/reconciliation.md). */
	int (*hint)(st_sink *s, const char *id, size_t idlen, st_hint_kind kind, const char *value,
		    size_t vlen, const char *rule, const char *evidence, st_loc loc, st_diag *diag);

	/* A recoverable problem at loc ("repo:path:line: problem" is built from it):
	 * the origin's previous facts are kept and marked stale; the run goes on. */
	void (*warn)(st_sink *s, st_loc loc, const char *msg);

	/* A remark about the data that does not make the origin's facts doubtful
	 * (a dependency on something not in the state, a value too long to keep):
	 * reported like a warning, but nothing is kept stale.  May be NULL. */
	void (*note)(st_sink *s, st_loc loc, const char *msg);

	/* Optional (may be NULL): progress for a TTY line. */
	void (*progress)(st_sink *s, const char *what, uint64_t done, uint64_t total);

	/* The state to remember after a successful sync (e.g. the commit id read);
	 * at most 1 KiB.  NULL-safe to call once per run. */
	void (*set_state)(st_sink *s, const char *state);
};

typedef struct st_connector {
	const char *kind;	 /* "git" */
	const char *description; /* one line for `stacktwin sources --kinds` */
	int (*run)(const st_source *src, st_sink *sink, st_diag *diag);
} st_connector;

extern const st_connector st_connector_git;
extern const st_connector st_connector_terraform;
extern const st_connector st_connector_k8s;
extern const st_connector st_connector_prometheus;
extern const st_connector st_connector_focus;
extern const st_connector st_connector_cur;
extern const st_connector st_connector_gcp_billing;

/* The connector of a kind, or NULL. */
const st_connector *st_connector_find(const char *kind);
/* All connectors, NULL-terminated. */
extern const st_connector *const st_connectors[];

#endif
