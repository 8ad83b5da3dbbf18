/*
 * codeowners.c — GitHub CODEOWNERS parser and matcher (codeowners.h).
 *
 * A rule keeps its pattern as written and a compiled form: the pattern's
 * '/'-separated segments (escapes kept, resolved while matching), whether it
 * is anchored at the root, whether it only matches directories, and whether
 * it may match an ancestor directory of a path (every pattern may, except one
 * whose last segment is exactly `*`).  Matching walks segments with the
 * classic single-backtrack wildcard algorithm, once over segments (`**`) and
 * once over the characters of a segment (`*`, `?`): linear for practical
 * patterns, never exponential.  This file must not log or know about Git.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "codeowners.h"

typedef struct seg {
	const char *p; /* into the rule's pattern copy (or a static "*") */
	uint32_t len;
	bool dstar; /* exactly "**" */
} seg;

typedef struct rule {
	st_co_rule pub; /* first: st_co_rule pointers are rule pointers */
	char *pattern;
	char **owners;
	seg *segs;
	size_t n_segs;
	bool dir_only;	  /* trailing '/' */
	bool no_ancestor; /* last segment is exactly "*": direct children only */
} rule;

struct st_codeowners {
	rule *rules;
	size_t n, cap;
};

static bool is_blank(char c)
{
	return c == ' ' || c == '\t';
}

/* ---- matching ---- */

/* One pattern segment against one path segment. */
static bool seg_match(const char *pat, size_t plen, const char *name, size_t nlen)
{
	size_t p = 0, s = 0, star = SIZE_MAX, star_s = 0;
	while (s < nlen) {
		if (p < plen && pat[p] == '*') {
			star = ++p;
			star_s = s;
			continue;
		}
		if (p < plen && pat[p] == '?') {
			p++;
			s++;
			/* one character, not one byte, of UTF-8 */
			while (s < nlen && ((unsigned char)name[s] & 0xC0) == 0x80)
				s++;
			continue;
		}
		if (p < plen) {
			size_t adv = 1;
			char c = pat[p];
			if (c == '\\' && p + 1 < plen) {
				c = pat[p + 1];
				adv = 2;
			}
			if (c == name[s]) {
				p += adv;
				s++;
				continue;
			}
		}
		if (star != SIZE_MAX) {
			p = star;
			s = ++star_s;
			continue;
		}
		return false;
	}
	while (p < plen && pat[p] == '*')
		p++;
	return p == plen;
}

/* End of the path segment starting at i (path[0..plen)). */
static size_t seg_end(const char *path, size_t plen, size_t i)
{
	const char *slash = memchr(path + i, '/', plen - i);
	return slash ? (size_t)(slash - path) : plen;
}

/* Whether the rule's segments match exactly the segments of path[0..plen). */
static bool match_exact(const rule *r, const char *path, size_t plen)
{
	size_t pi = 0, si = 0, star_pi = SIZE_MAX, star_si = 0;
	for (;;) {
		if (pi < r->n_segs && r->segs[pi].dstar) {
			star_pi = ++pi;
			star_si = si;
			continue;
		}
		if (si > plen)
			break; /* every path segment consumed */
		size_t e = seg_end(path, plen, si);
		if (pi < r->n_segs &&
		    seg_match(r->segs[pi].p, r->segs[pi].len, path + si, e - si)) {
			pi++;
			si = e + 1;
			continue;
		}
		if (star_pi != SIZE_MAX) {
			/* let the last ** take one more segment */
			star_si = seg_end(path, plen, star_si) + 1;
			si = star_si;
			pi = star_pi;
			continue;
		}
		return false;
	}
	while (pi < r->n_segs && r->segs[pi].dstar)
		pi++;
	return pi == r->n_segs;
}

bool st_codeowners_rule_matches(const st_co_rule *pub, const char *path)
{
	const rule *r = (const rule *)pub;
	while (*path == '/')
		path++;
	size_t plen = strlen(path);
	if (!plen)
		return false;
	if (!r->dir_only && match_exact(r, path, plen))
		return true;
	if (r->no_ancestor && !r->dir_only)
		return false;
	/* a pattern matching a directory owns everything below it */
	for (size_t i = 0; i < plen; i++)
		if (path[i] == '/' && i > 0 && match_exact(r, path, i))
			return true;
	return false;
}

const st_co_rule *st_codeowners_match(const st_codeowners *co, const char *path)
{
	for (size_t i = co ? co->n : 0; i-- > 0;)
		if (st_codeowners_rule_matches(&co->rules[i].pub, path))
			return &co->rules[i].pub;
	return NULL;
}

const st_co_rule *st_codeowners_repo_rule(const st_codeowners *co)
{
	for (size_t i = co ? co->n : 0; i-- > 0;)
		if (co->rules[i].pub.catch_all)
			return &co->rules[i].pub;
	return NULL;
}

/* Only patterns made of `*` and `**` segments can match every path; their
 * answer depends only on the path's depth, so probing depths 1..n+2 decides
 * it with the matcher itself (one definition of "matches"). */
static bool compute_catch_all(const rule *r)
{
	for (size_t i = 0; i < r->n_segs; i++)
		for (uint32_t k = 0; k < r->segs[i].len; k++)
			if (r->segs[i].p[k] != '*')
				return false;
	char probe[2 * 64 + 2];
	size_t depth_max = r->n_segs + 2;
	if (depth_max > 64)
		return false;
	for (size_t d = 1; d <= depth_max; d++) {
		size_t len = 0;
		for (size_t k = 0; k < d; k++) {
			if (k)
				probe[len++] = '/';
			probe[len++] = 'x';
		}
		probe[len] = 0;
		if (!st_codeowners_rule_matches(&r->pub, probe))
			return false;
	}
	return true;
}

/* ---- parsing ---- */

static bool valid_name(const char *s, size_t n, const char *extra)
{
	if (!n)
		return false;
	for (size_t i = 0; i < n; i++) {
		char c = s[i];
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '-' || strchr(extra, c)))
			return false;
	}
	return true;
}

static bool valid_owner(const char *s, size_t n)
{
	if (n >= 2 && s[0] == '@') {
		const char *slash = memchr(s + 1, '/', n - 1);
		if (!slash)
			return valid_name(s + 1, n - 1, "_."); /* @user */
		size_t ol = (size_t)(slash - (s + 1));
		return valid_name(s + 1, ol, "_") &&
		       valid_name(slash + 1, n - 2 - ol, "_."); /* @org/team */
	}
	const char *at = memchr(s, '@', n);
	if (!at || at == s || memchr(at + 1, '@', n - (size_t)(at - s) - 1))
		return false;
	for (const char *p = s; p < at; p++)
		if ((unsigned char)*p <= ' ' || (unsigned char)*p >= 127 ||
		    strchr("\"(),:;<>[]\\", *p))
			return false;
	const char *dom = at + 1;
	size_t dl = n - (size_t)(dom - s);
	return dl >= 3 && dom[0] != '.' && dom[dl - 1] != '.' && memchr(dom, '.', dl) &&
	       valid_name(dom, dl, ".");
}

typedef struct tok {
	const char *p;
	size_t len;
} tok;

static void report(st_co_error_fn on_error, void *ctx, uint32_t line, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
static void report(st_co_error_fn on_error, void *ctx, uint32_t line, const char *fmt, ...)
{
	if (!on_error)
		return;
	char msg[512];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	on_error(ctx, line, msg);
}

static void rule_free(rule *r)
{
	free(r->pattern);
	for (size_t i = 0; i < r->pub.n_owners; i++)
		free(r->owners[i]);
	free(r->owners);
	free(r->segs);
}

/* Compile pattern text (escapes kept) into r; 0, or -1 with *why set. */
static int compile(rule *r, const char **why)
{
	const char *p = r->pattern;
	size_t n = strlen(p);
	if (p[0] == '!') {
		*why = "negation ('!') is not supported in CODEOWNERS";
		return -1;
	}
	for (size_t i = 0; i < n; i++) {
		if (p[i] == '\\') {
			if (i + 1 == n) {
				*why = "the pattern ends with a lone '\\'";
				return -1;
			}
			i++;
		} else if (p[i] == '[') {
			*why = "character ranges ('[...]') are not supported in CODEOWNERS";
			return -1;
		}
	}
	size_t b = 0, e = n;
	if (e > b && p[e - 1] == '/' && !(e >= 2 && p[e - 2] == '\\')) {
		r->dir_only = true;
		while (e > b && p[e - 1] == '/')
			e--;
	}
	bool anchored = memchr(p, '/', e) != NULL;
	while (b < e && p[b] == '/')
		b++;
	if (b == e) {
		*why = "the pattern matches no file (use '*' for the whole repository)";
		return -1;
	}
	size_t cap = 2;
	for (size_t i = b; i < e; i++)
		cap += p[i] == '/';
	r->segs = st_xcalloc(cap + 1, sizeof(seg));
	if (!anchored)
		r->segs[r->n_segs++] = (seg){"**", 2, true};
	for (size_t i = b; i <= e;) {
		size_t j = i;
		while (j < e && p[j] != '/')
			j++;
		if (j > i) /* "a//b" is "a/b" */
			r->segs[r->n_segs++] = (seg){p + i, (uint32_t)(j - i),
						     j - i == 2 && p[i] == '*' && p[i + 1] == '*'};
		i = j + 1;
	}
	seg *last = &r->segs[r->n_segs - 1];
	if (last->dstar && r->n_segs > 1)
		/* a trailing "**" (after "a/") is everything inside a: one or more segments */
		r->segs[r->n_segs++] = (seg){"*", 1, false};
	else if (last->len == 1 && last->p[0] == '*' && anchored)
		r->no_ancestor = true; /* GitHub: "docs/" + "*" owns docs/x, not docs/y/z */
	return 0;
}

static int parse_line(st_codeowners *co, const char *s, size_t n, uint32_t line,
		      st_co_error_fn on_error, void *ctx)
{
	tok toks[ST_CODEOWNERS_MAX_OWNERS + 1]; /* the pattern and its owners */
	size_t nt = 0;
	size_t i = 0;
	for (;;) {
		while (i < n && is_blank(s[i]))
			i++;
		if (i == n || s[i] == '#')
			break; /* end, or a comment (whole line or trailing) */
		if (nt == ST_ARRAY_LEN(toks)) {
			report(on_error, ctx, line, "more than %d owners",
			       ST_CODEOWNERS_MAX_OWNERS);
			return 0;
		}
		size_t st = i;
		while (i < n && !is_blank(s[i])) {
			if (s[i] == '\\' && i + 1 < n)
				i++;
			i++;
		}
		toks[nt++] = (tok){s + st, i - st};
	}
	if (!nt)
		return 0;
	if (memchr(s, 0, n)) {
		report(on_error, ctx, line, "NUL byte in line");
		return 0;
	}
	for (size_t k = 1; k < nt; k++)
		if (!valid_owner(toks[k].p, toks[k].len)) {
			report(on_error, ctx, line,
			       "invalid owner '%.*s' (expected @user, @org/team or an e-mail address)",
			       (int)(toks[k].len > 80 ? 80 : toks[k].len), toks[k].p);
			return 0;
		}
	rule r = {0};
	r.pattern = st_xstrndup(toks[0].p, toks[0].len);
	const char *why = NULL;
	if (compile(&r, &why) < 0) {
		report(on_error, ctx, line, "pattern '%.*s': %s",
		       (int)(toks[0].len > 80 ? 80 : toks[0].len), toks[0].p, why);
		rule_free(&r);
		return 0;
	}
	r.owners = st_xcalloc(nt, sizeof(char *));
	for (size_t k = 1; k < nt; k++)
		r.owners[k - 1] = st_xstrndup(toks[k].p, toks[k].len);
	r.pub.n_owners = nt - 1;
	r.pub.line = line;
	if (co->n == co->cap) {
		co->cap = co->cap ? 2 * co->cap : 16;
		co->rules = st_xrealloc(co->rules, co->cap * sizeof(rule));
	}
	co->rules[co->n++] = r;
	return 0;
}

int st_codeowners_parse(const char *buf, size_t len, st_co_error_fn on_error, void *ctx,
			st_codeowners **ret, st_diag *diag)
{
	if (len >= ST_CODEOWNERS_MAX_BYTES)
		return st_diag_set(diag, ST_E_LIMIT,
				   "CODEOWNERS is %zu bytes; GitHub ignores files of 3 MiB or more",
				   len);
	st_codeowners *co = st_xcalloc(1, sizeof(*co));
	uint32_t line = 0;
	size_t i = 0;
	if (len >= 3 && !memcmp(buf, "\xEF\xBB\xBF", 3))
		i = 3; /* UTF-8 byte order mark */
	while (i < len) {
		const char *nl = memchr(buf + i, '\n', len - i);
		size_t e = nl ? (size_t)(nl - buf) : len;
		size_t le = e;
		if (le > i && buf[le - 1] == '\r')
			le--;
		line++;
		parse_line(co, buf + i, le - i, line, on_error, ctx);
		i = e + 1;
	}
	/* pointers into the rules array are fixed from here on */
	for (size_t k = 0; k < co->n; k++) {
		rule *r = &co->rules[k];
		r->pub.pattern = r->pattern;
		r->pub.owners = (const char *const *)r->owners;
		r->pub.catch_all = compute_catch_all(r);
	}
	*ret = co;
	return 0;
}

void st_codeowners_free(st_codeowners *co)
{
	if (!co)
		return;
	for (size_t i = 0; i < co->n; i++)
		rule_free(&co->rules[i]);
	free(co->rules);
	free(co);
}

size_t st_codeowners_count(const st_codeowners *co)
{
	return co ? co->n : 0;
}

const st_co_rule *st_codeowners_rule(const st_codeowners *co, size_t i)
{
	return co && i < co->n ? &co->rules[i].pub : NULL;
}
