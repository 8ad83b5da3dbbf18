/*
 * fuzz_codeowners.c — fuzz target for the CODEOWNERS parser and matcher
 * (connectors/codeowners.c).
 *
 * The input is parsed with st_codeowners_parse() as a CODEOWNERS file, then
 * a fixed set of paths, plus paths derived from the first rules' patterns,
 * is matched against the rules.  Whatever the input:
 *   - parsing succeeds (inputs are far below the 3 MiB limit);
 *   - every rejected line is reported once, with a line number inside the
 *     input and a message; no line both yields a rule and is rejected;
 *   - every rule has a non-empty pattern that is neither a negation nor a
 *     character class, valid-looking owners (at most the maximum), and
 *     strictly increasing line numbers;
 *   - st_codeowners_match(path) is the LAST rule for which
 *     st_codeowners_rule_matches(rule, path) is true (or NULL if none);
 *   - a catch_all rule matches every path, st_codeowners_repo_rule() is the
 *     last catch_all rule;
 *   - a literal pattern (letters, digits, '.', '_', '-' and '/' only) owns
 *     the path it spells and everything below it; an unanchored one also at
 *     any depth; one with a trailing '/' owns what is below it but not a
 *     file of that name.
 * Any violation abort()s.  With STACKTWIN_FUZZ_VERBOSE set in the
 * environment it prints each parse's rule and error counts.
 *
 * This file only checks; it must not fix or work around what it finds.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "codeowners.h"
#include "common.h"

/* Matching costs paths x rules; larger inputs only slow the fuzzer down. */
#define FUZZ_MAX_INPUT ((size_t)16 << 10)
/* Paths are derived from this many rules at most. */
#define DERIVE_RULES 32
#define PATH_MAX_LEN 600

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char *const fixed_paths[] = {
	"README.md",
	"CODEOWNERS",
	".github/CODEOWNERS",
	"docs/index.md",
	"docs/a/b.md",
	"docs",
	"src/main.c",
	"src/app/x.go",
	"src/app/deep/er/y.go",
	"a",
	"a/b",
	"a/b/c",
	"x/y/z/w.txt",
	"b\xc3\xbcro/\xc3\xbc.txt",
	"dir with space/f",
	"#hash",
	"*",
	"a*b/c?d",
	"\\",
	"/leading/slash",
	"trailing/",
	"a//b",
};

typedef struct errs {
	uint8_t *seen; /* per line: 1 rejected */
	uint32_t n_lines;
	size_t count;
} errs;

static void fail(const char *what, const char *detail)
{
	fprintf(stderr, "fuzz_codeowners: %s%s%s\n", what, detail ? ": " : "",
		detail ? detail : "");
	abort();
}

static void on_error(void *ctx, uint32_t line, const char *msg)
{
	errs *e = ctx;
	if (!msg || !msg[0])
		fail("a rejected line has no message", NULL);
	if (line < 1 || line > e->n_lines)
		fail("a rejected line's number is outside the input", msg);
	if (e->seen[line])
		fail("a line was rejected twice", msg);
	e->seen[line] = 1;
	e->count++;
}

/* Index of rule r in co, or abort. */
static size_t index_of(const st_codeowners *co, const st_co_rule *r)
{
	size_t n = st_codeowners_count(co);
	for (size_t i = 0; i < n; i++)
		if (st_codeowners_rule(co, i) == r)
			return i;
	fail("a returned rule is not one of the parsed rules", r ? r->pattern : NULL);
	return 0;
}

static void check_path(const st_codeowners *co, const char *path)
{
	size_t n = st_codeowners_count(co);
	const st_co_rule *m = st_codeowners_match(co, path);
	size_t from = 0;
	if (m) {
		size_t i = index_of(co, m);
		if (!st_codeowners_rule_matches(m, path))
			fail("match returned a rule that does not match the path", path);
		from = i + 1;
	}
	for (size_t i = from; i < n; i++)
		if (st_codeowners_rule_matches(st_codeowners_rule(co, i), path))
			fail(m ? "a later rule also matches: match is not the last matching rule" :
				 "match returned NULL but a rule matches",
			     path);
	/* path ends in a file name here; catch_all owns every file */
	const char *last = strrchr(path, '/');
	bool plain = path[0] && path[strlen(path) - 1] != '/' && path[0] != '/' &&
		     !strstr(path, "//") && !(last && !last[1]);
	for (size_t i = 0; plain && i < n; i++) {
		const st_co_rule *r = st_codeowners_rule(co, i);
		if (r->catch_all && !st_codeowners_rule_matches(r, path))
			fail("a catch_all rule does not match a path", path);
	}
}

/* The path a literal pattern spells (leading '/'s and a trailing '/'
 * removed) into buf; false when the pattern is not literal. */
static bool literal_path(const char *pat, char *buf, size_t cap, bool *ret_dir, bool *ret_anch)
{
	size_t n = strlen(pat);
	for (size_t i = 0; i < n; i++) {
		char c = pat[i];
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '.' || c == '_' || c == '-' || c == '/'))
			return false;
	}
	size_t b = 0, e = n;
	bool dir = e && pat[e - 1] == '/';
	if (dir)
		e--;
	bool anchored = memchr(pat, '/', e) != NULL;
	while (b < e && pat[b] == '/')
		b++;
	if (b == e || e - b >= cap)
		return false;
	/* empty segments ("a//b", "a/") would need normalising; skip them */
	for (size_t i = b; i < e; i++)
		if (pat[i] == '/' && (i + 1 == e || pat[i + 1] == '/'))
			return false;
	memcpy(buf, pat + b, e - b);
	buf[e - b] = 0;
	*ret_dir = dir;
	*ret_anch = anchored;
	return true;
}

static void check_literal(const st_codeowners *co, const st_co_rule *r)
{
	char p[PATH_MAX_LEN], q[PATH_MAX_LEN + 32];
	bool dir, anchored;
	if (!literal_path(r->pattern, p, sizeof(p), &dir, &anchored))
		return;
	snprintf(q, sizeof(q), "%s/sub/file.txt", p);
	if (!st_codeowners_rule_matches(r, q))
		fail("a literal pattern does not own a file below it", r->pattern);
	check_path(co, q);
	if (dir) {
		if (st_codeowners_rule_matches(r, p))
			fail("a pattern with a trailing '/' matches a file", r->pattern);
	} else if (!st_codeowners_rule_matches(r, p)) {
		fail("a literal pattern does not match the path it spells", r->pattern);
	}
	check_path(co, p);
	if (!anchored) {
		snprintf(q, sizeof(q), "deep/er/%s%s", p, dir ? "/f" : "");
		if (!st_codeowners_rule_matches(r, q))
			fail("an unanchored literal pattern does not match at depth", r->pattern);
		check_path(co, q);
	}
}

static void check_rules(const st_codeowners *co, const errs *e)
{
	size_t n = st_codeowners_count(co);
	uint32_t prev = 0;
	const st_co_rule *last_catch_all = NULL;
	for (size_t i = 0; i < n; i++) {
		const st_co_rule *r = st_codeowners_rule(co, i);
		if (!r || !r->pattern || !r->pattern[0])
			fail("a rule has no pattern", NULL);
		if (r->pattern[0] == '!')
			fail("a negation was accepted", r->pattern);
		for (const char *c = r->pattern; *c; c++) {
			if (*c == '\\' && c[1])
				c++;
			else if (*c == '[')
				fail("a character class was accepted", r->pattern);
			else if (*c == ' ' || *c == '\t')
				fail("a pattern holds an unescaped blank", r->pattern);
		}
		if (r->line <= prev || r->line > e->n_lines)
			fail("rule line numbers are not increasing inside the input", r->pattern);
		if (e->seen[r->line])
			fail("a line both made a rule and was rejected", r->pattern);
		prev = r->line;
		if (r->n_owners > ST_CODEOWNERS_MAX_OWNERS)
			fail("a rule has more owners than the maximum", r->pattern);
		if (r->n_owners && !r->owners)
			fail("a rule's owners are NULL", r->pattern);
		for (size_t k = 0; k < r->n_owners; k++)
			if (!r->owners[k] || !strchr(r->owners[k], '@') ||
			    strpbrk(r->owners[k], " \t"))
				fail("an invalid owner was accepted", r->owners[k]);
		if (r->catch_all)
			last_catch_all = r;
	}
	if (st_codeowners_rule(co, n))
		fail("a rule index past the end returned a rule", NULL);
	if (st_codeowners_repo_rule(co) != last_catch_all)
		fail("repo_rule is not the last catch_all rule", NULL);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size > FUZZ_MAX_INPUT)
		return 0;
	errs e = {0};
	/* an upper bound of the parser's line count: one per '\n', plus one */
	e.n_lines = 1;
	for (size_t i = 0; i < size; i++)
		e.n_lines += data[i] == '\n';
	e.seen = calloc((size_t)e.n_lines + 1, 1);
	if (!e.seen)
		fail("out of memory", NULL);

	st_codeowners *co = NULL;
	st_diag diag = {{0}};
	int r = st_codeowners_parse((const char *)data, size, on_error, &e, &co, &diag);
	if (r || !co)
		fail("st_codeowners_parse failed on a small input", diag.msg);
	if (getenv("STACKTWIN_FUZZ_VERBOSE"))
		fprintf(stderr, "    %zu rules, %zu rejected lines\n", st_codeowners_count(co),
			e.count);
	check_rules(co, &e);

	for (size_t i = 0; i < ST_ARRAY_LEN(fixed_paths); i++)
		check_path(co, fixed_paths[i]);
	size_t n = st_codeowners_count(co);
	for (size_t i = 0; i < n && i < DERIVE_RULES; i++) {
		const st_co_rule *rule = st_codeowners_rule(co, i);
		check_literal(co, rule);
		/* the pattern itself as a path: wildcards and escapes as bytes */
		if (strlen(rule->pattern) < PATH_MAX_LEN)
			check_path(co, rule->pattern);
	}

	st_codeowners_free(co);
	free(e.seen);
	return 0;
}
