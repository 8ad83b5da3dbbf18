/*
 * config.h — the one YAML configuration file (docs/config.md).
 *
 * Loaded with libyaml's document API and checked against a declarative key
 * table: an unknown key, a wrong type, a bad value or a missing required key
 * is ST_E_INVALID with "FILE:LINE:COLUMN: problem".  Relative paths in the
 * file are resolved against the directory of the config file.  Secrets are
 * never in the file: tokens and credentials are references (an environment
 * variable, a file, or for API tokens the SHA-256 of the token).
 *
 * Example (docs/config.md has every key):
 *
 *   store: var/estate.db
 *   cache: var/cache
 *   server:
 *     listen: 127.0.0.1:8080
 *     web: web
 *     allow_anonymous_read: false
 *     tokens:
 *       - {name: ci, role: read, env: STACKTWIN_CI_TOKEN}
 *       - {name: ops, role: admin, file: /etc/stacktwin/admin.token}
 *       - {name: viewer, role: read, sha256: 9f86d08...}
 *     limits: {max_connections: 256, max_header_bytes: 8192, max_headers: 64,
 *              max_body_bytes: 1048576, header_timeout: 10s, idle_timeout: 5s,
 *              max_rows: 10000}
 *   sources:
 *     - name: payments-repo
 *       kind: git
 *       location: https://github.com/acme/payments.git
 *       ref: main
 *       token_env: GITHUB_TOKEN
 *       schedule: 10m
 *     - name: prod-state
 *       kind: terraform
 *       location: states/prod.tfstate
 *       schedule: 1h
 *       options: {workspace: prod}
 *   identity:
 *     strip_suffixes: [-prod, -staging, -dev, -api, -svc]
 *     aliases:
 *       - {kind: service, alias: pay, name: payments}
 *     rules:
 *       - {name: cost-center-tag, source_kind: terraform, key: tag:costcenter, kind: team}
 */
#ifndef ST_CONFIG_H
#define ST_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common.h"
#include "connector.h" /* st_kv, st_hint_kind */

typedef enum st_role {
	ST_ROLE_READ = 1,  /* every GET route */
	ST_ROLE_ADMIN = 2, /* also the admin routes (POST sync) */
} st_role;

/* One API token, by reference: exactly one of env, file, sha256 is set. */
typedef struct st_token_cfg {
	char *name;	  /* for logs and metrics; never the token */
	st_role role;
	char *env;	  /* environment variable holding the token */
	char *file;	  /* file whose first line is the token (absolute path) */
	bool has_sha256;
	uint8_t sha256[32]; /* SHA-256 of the token (from 64 hex digits) */
	unsigned line;	  /* where it was declared */
} st_token_cfg;

typedef struct st_limits_cfg {
	/* 0 = not set in the file: keep the built-in default */
	uint32_t max_connections, max_header_bytes, max_headers;
	uint64_t max_body_bytes;
	uint64_t header_timeout_ms, idle_timeout_ms;
	uint32_t max_rows; /* cap on `limit` and rows of any one answer */
} st_limits_cfg;

typedef struct st_source_cfg {
	char *name;	  /* [a-z0-9][a-z0-9._-]{0,63}, unique */
	char *kind;	  /* a connector kind (st_connector_find must know it) */
	char *location;	  /* path (made absolute) or URL */
	char *ref;	  /* NULL if not given */
	char *token_env, *token_file; /* credential by reference; at most one */
	uint64_t schedule_s;	      /* 0 = only on demand */
	double timeout_s;	      /* 0 = connector default */
	st_kv *options;		      /* `options:` map, strings, config order */
	size_t n_options;
	unsigned line;
} st_source_cfg;

/* An extra identity rule: objects of connector kind `source_kind` (NULL: any)
 * whose key `key` ("tag:NAME", "label:NAME", "annotation:NAME") has a value
 * hint at the logical entity of `kind` with that name. */
typedef struct st_rule_cfg {
	char *name;
	char *source_kind;
	char *key;
	st_hint_kind kind;
	unsigned line;
} st_rule_cfg;

typedef struct st_alias_cfg {
	st_hint_kind kind;
	char *alias, *name;
	unsigned line;
} st_alias_cfg;

typedef struct st_config {
	char *path;	 /* the file loaded (as given) */
	char *store;	 /* absolute; NULL if not given */
	char *cache;	 /* absolute; NULL: "<store>/cache" */
	char *listen;	 /* NULL: 127.0.0.1:8080 */
	char *web;	 /* absolute; NULL: none */
	bool allow_anonymous_read;
	st_token_cfg *tokens;
	size_t n_tokens;
	st_limits_cfg limits;
	st_source_cfg *sources;
	size_t n_sources;
	/* identity */
	char **strip_suffixes; /* NULL: the built-in list (docs/config.md) */
	size_t n_strip_suffixes;
	bool strip_suffixes_set; /* an explicit (possibly empty) list was given */
	st_alias_cfg *aliases;
	size_t n_aliases;
	st_rule_cfg *rules;
	size_t n_rules;
	bool default_rules; /* identity.default_rules, default true */
} st_config;

/* Load and check a config file.  ST_E_IO if unreadable, ST_E_INVALID with
 * "FILE:LINE:COLUMN: problem" otherwise. */
int st_config_load(const char *path, st_config **ret, st_diag *diag);
/* Parse from memory; `origin` names it in messages, `base_dir` resolves
 * relative paths (NULL: the current directory). */
int st_config_load_buffer(const char *buf, size_t len, const char *origin, const char *base_dir,
			  st_config **ret, st_diag *diag);
/* An empty config (all defaults), e.g. for `sync` without --config. */
st_config *st_config_new(void);
void st_config_free(st_config *c);

/* A source by name, or NULL. */
const st_source_cfg *st_config_source(const st_config *c, const char *name);

/* "90s", "10m", "1h", "2d", "500ms" or a bare number of seconds -> ms.
 * ST_E_INVALID on anything else or overflow. */
int st_duration_parse(const char *s, uint64_t *ret_ms);

/* "HOST:PORT" as `server.listen` takes it: HOST is an IPv4 literal, an IPv6
 * literal in brackets ("[::1]:8080") or "localhost" (which gives
 * "127.0.0.1"); PORT is 0..65535 in decimal.  ret_host receives the bare
 * address (no brackets), NUL-terminated.  ST_E_INVALID on anything else;
 * nothing is written then. */
#define ST_LISTEN_HOST_MAX 46 /* INET6_ADDRSTRLEN */
int st_listen_parse(const char *s, char ret_host[static ST_LISTEN_HOST_MAX], uint16_t *ret_port);

/* The built-in `identity.strip_suffixes` list, used when the config gives
 * none (strip_suffixes_set false); NULL-terminated, static storage. */
extern const char *const st_config_default_strip_suffixes[];

/* The i-th key the loader knows (i from 0), as a path: "store",
 * "server.limits.max_rows", "sources[].options".  Writes it into buf (cap
 * bytes, truncated if needed) and returns buf; NULL when i is past the last
 * key.  For documentation checks and `--help`-style listings. */
const char *st_config_key_path(size_t i, char *buf, size_t cap);

#endif
