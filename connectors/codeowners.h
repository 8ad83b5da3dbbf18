/*
 * codeowners.h — GitHub CODEOWNERS files: parse the rules and answer "who
 * owns this path" the way GitHub does (docs/connectors.md, "## Git").
 *
 * Semantics (GitHub's, which are gitignore's with exceptions):
 *   - one rule per line: a pattern, then zero or more owners separated by
 *     blanks; '#' starts a comment (at the start of a line, or as a token of
 *     its own after the pattern); a rule without owners is valid and means
 *     "these paths have no owner";
 *   - '\' escapes the next character of a pattern (`\#` for a leading '#',
 *     `\ ` for a blank inside a pattern); escaped characters match literally;
 *   - `*` matches any run of characters except '/', `?` one character except
 *     '/', `**` as a whole path segment any number of segments (at least one
 *     when it ends a pattern after a '/');
 *   - a pattern with a '/' at its start or in its middle is anchored at the
 *     repository root, otherwise it matches at any depth;
 *   - a pattern that matches a directory owns every file below it; a trailing
 *     '/' makes the pattern match directories only; a pattern whose last
 *     segment is exactly `*` ("docs/ *", without the blank) owns only the
 *     files directly in that directory, not deeper ones (GitHub's documented
 *     exception);
 *   - matching is case-sensitive; for a path the LAST matching rule wins.
 * GitHub does not support `!` negation or `[...]` character classes: such
 * lines are errors and are skipped, as are lines with an invalid owner.
 * Owners are `@user`, `@org/team` or an e-mail address.
 *
 * Nothing here logs: problems go to the caller's error callback with the
 * 1-based line number.  The parsed rule set owns all its memory.
 */
#ifndef ST_CODEOWNERS_H
#define ST_CODEOWNERS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common.h"

/* GitHub ignores CODEOWNERS files of 3 MiB or more; so do we (ST_E_LIMIT). */
#define ST_CODEOWNERS_MAX_BYTES (3u << 20)
/* More owners than this on one line is an error for that line. */
#define ST_CODEOWNERS_MAX_OWNERS 128

typedef struct st_co_rule {
	const char *pattern;	   /* as written in the file, escapes included */
	const char *const *owners; /* as written: "@org/team", "@user", "a@b.c" */
	size_t n_owners;	   /* 0: the matched paths have no owner */
	uint32_t line;		   /* 1-based */
	bool catch_all;		   /* the pattern matches every file of a repository */
} st_co_rule;

typedef struct st_codeowners st_codeowners;

/* Called once per rejected line; msg is valid for the call only. */
typedef void (*st_co_error_fn)(void *ctx, uint32_t line, const char *msg);

/* Parse a CODEOWNERS buffer (need not be NUL-terminated; not referenced
 * after the call).  Bad lines go to on_error (may be NULL) and are skipped;
 * the rest still applies.  ST_E_LIMIT (with diag) if len is
 * ST_CODEOWNERS_MAX_BYTES or more.  *ret is written only on success and is
 * freed with st_codeowners_free. */
int st_codeowners_parse(const char *buf, size_t len, st_co_error_fn on_error, void *ctx,
			st_codeowners **ret, st_diag *diag);

/* NULL-safe. */
void st_codeowners_free(st_codeowners *co);

/* Rules in file order (only the valid ones); i < count, else NULL.  Pointers
 * stay valid until st_codeowners_free. */
size_t st_codeowners_count(const st_codeowners *co);
const st_co_rule *st_codeowners_rule(const st_codeowners *co, size_t i);

/* The last rule matching `path` (relative to the repository root, '/'
 * separated, no leading '/'), or NULL when no rule matches. */
const st_co_rule *st_codeowners_match(const st_codeowners *co, const char *path);

/* Whether one rule matches `path`. */
bool st_codeowners_rule_matches(const st_co_rule *rule, const char *path);

/* The owner of the repository as a whole: the last rule whose pattern
 * matches every file: catch_all is set for `*`, `**`, and their anchored and
 * combined forms ("/ **", "** / *", "/ ** / *", written here with blanks that
 * the patterns do not have), but not for "/ *", which owns only the files at
 * the root.  NULL when there is none. */
const st_co_rule *st_codeowners_repo_rule(const st_codeowners *co);

#endif
