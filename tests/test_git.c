/*
 * test_git.c — the Git connector (connectors/git.c) and the CODEOWNERS
 * matcher (connectors/codeowners.c) against real repositories.
 *
 * Each test builds its repositories in a fresh temporary directory with the
 * git CLI, with fixed author and committer names and dates (relative to now,
 * since the connector counts the last 90 days), and an isolated git config.
 * The connector runs into the recording sink (tests/record_sink.h), which
 * also checks every property blob against the schema.  Fixtures from
 * /work/shared/fixtures are used when present and skipped with a message
 * otherwise.
 */
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "codeowners.h"
#include "connector.h"
#include "record_sink.h"
#include "spawn.h"

#define FIXTURES "/work/shared/fixtures"
#define DAY 86400LL

typedef struct tctx {
	char dir[64];
	st_schema *schema;
	rs_sink rs;
	st_diag diag;
	int64_t now;
	pid_t server_pid; /* a test's HTTP server, stopped in teardown */
} tctx;

static tctx *T;

static void sh(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void sh(const char *fmt, ...)
{
	char cmd[8192];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	int rc = system(cmd);
	if (rc != 0)
		fail_msg("command failed (%d): %s", rc, cmd);
}

static char *out_of(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static char *out_of(const char *fmt, ...)
{
	char cmd[4096];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	FILE *p = popen(cmd, "r");
	assert_non_null(p);
	static char buf[4096];
	size_t n = fread(buf, 1, sizeof(buf) - 1, p);
	assert_int_equal(pclose(p), 0);
	while (n && (buf[n - 1] == '\n' || buf[n - 1] == '\r'))
		n--;
	buf[n] = 0;
	return buf;
}

/* Skip the test (with the reason printed) when a tool it needs is absent. */
static bool have(const char *probe, const char *what)
{
	char cmd[512];
	snprintf(cmd, sizeof(cmd), "%s >/dev/null 2>&1", probe);
	if (system(cmd) == 0)
		return true;
	printf("SKIP: %s is not available\n", what);
	return false;
}

/* Write a file (creating its directories) in the repository at `repo`. */
static void put(const char *repo, const char *path, const char *content)
{
	char full[1024];
	snprintf(full, sizeof(full), "%s/%s", repo, path);
	char *slash = strrchr(full, '/');
	*slash = 0;
	sh("mkdir -p '%s'", full);
	*slash = '/';
	sp_write_file(full, "%s", content);
}

/* Commit everything in `repo` as `author` at `when` (epoch seconds). */
static void commit(const char *repo, const char *author, int64_t when, const char *msg)
{
	sh("cd '%s' && git add -A && GIT_AUTHOR_NAME='%s' GIT_AUTHOR_EMAIL='%s@example.com' "
	   "GIT_COMMITTER_NAME='%s' GIT_COMMITTER_EMAIL='%s@example.com' "
	   "GIT_AUTHOR_DATE='@%lld +0000' GIT_COMMITTER_DATE='@%lld +0000' "
	   "git commit -q --allow-empty -m '%s'",
	   repo, author, author, author, author, (long long)when, (long long)when, msg);
}

static char *new_repo(const char *name)
{
	static char path[256];
	if (!have("git --version", "the git CLI (to build test repositories)"))
		skip();
	snprintf(path, sizeof(path), "%s/%s", T->dir, name);
	sh("git init -q -b main '%s'", path);
	return path;
}

static char *head_of(const char *repo, const char *rev)
{
	return out_of("git -C '%s' rev-parse '%s^{commit}'", repo, rev);
}

static int setup(void **state)
{
	tctx *t = calloc(1, sizeof(*t));
	snprintf(t->dir, sizeof(t->dir), "/tmp/st-git-XXXXXX");
	assert_non_null(mkdtemp(t->dir));
	assert_int_equal(st_schema_load_default(&t->schema, &t->diag), 0);
	rs_init(&t->rs, t->schema);
	t->now = (int64_t)time(NULL);
	/* the git CLI must not read the user's or the system's configuration */
	setenv("GIT_CONFIG_NOSYSTEM", "1", 1);
	setenv("GIT_CONFIG_GLOBAL", "/dev/null", 1);
	setenv("GIT_TERMINAL_PROMPT", "0", 1);
	T = t;
	*state = t;
	return 0;
}

static int teardown(void **state)
{
	tctx *t = *state;
	sp_stop(&t->server_pid);
	rs_free(&t->rs);
	st_schema_free(t->schema);
	assert_int_equal(sp_rmrf(t->dir), 0);
	free(t);
	T = NULL;
	return 0;
}

/* Run the connector once into a fresh recording sink. */
static int run_git(const st_source *src)
{
	rs_free(&T->rs);
	rs_init(&T->rs, T->schema);
	memset(&T->diag, 0, sizeof(T->diag));
	return st_connector_git.run(src, &T->rs.sink, &T->diag);
}

static const rs_fact *repo_node(const char *id)
{
	const rs_fact *f = rs_find_node(&T->rs, id);
	if (!f)
		fail_msg("no node %s", id);
	int t = st_schema_find_node_type(T->schema, "Repository", 10);
	assert_int_equal(f->type, t);
	return f;
}

static void assert_prop(const rs_fact *f, const char *key, const char *want)
{
	char *v = rs_prop_str(f, key);
	if (strcmp(v, want))
		fail_msg("property %s: got '%s', want '%s'", key, v, want);
	free(v);
}

/* The warning at origin:line, or NULL. */
static const rs_fact *find_warning(const char *origin, uint32_t line)
{
	for (size_t i = 0; i < T->rs.n; i++) {
		const rs_fact *f = &T->rs.facts[i];
		if (f->kind == 'w' && !strcmp(f->origin, origin) && f->line == line)
			return f;
	}
	return NULL;
}

/* ---- Repository properties ---- */

static void test_repository_props(void **state)
{
	(void)state;
	char *repo = new_repo("payments");
	int64_t now = T->now;
	/* outside the window: 200, 120 and 91 days ago */
	put(repo, "README.md", "old\n");
	commit(repo, "Alice", now - 200 * DAY, "a0");
	commit(repo, "Dave", now - 120 * DAY, "d0");
	commit(repo, "Alice", now - 91 * DAY, "a1");
	/* inside: Alice 3, Bob 2, Carol 1, Eve 1, Frank 1, Zed 1 */
	commit(repo, "Bob", now - 89 * DAY, "b1");
	commit(repo, "Zed", now - 80 * DAY, "z1");
	commit(repo, "Alice", now - 60 * DAY, "a2");
	commit(repo, "Frank", now - 50 * DAY, "f1");
	commit(repo, "Carol", now - 40 * DAY, "c1");
	commit(repo, "Alice", now - 30 * DAY, "a3");
	commit(repo, "Eve", now - 20 * DAY, "e1");
	commit(repo, "Bob", now - 10 * DAY, "b2");
	put(repo, "README.md", "new\n");
	commit(repo, "Alice", now - 2 * DAY, "a4");

	st_source src = {.name = "payments", .kind = "git", .location = repo};
	assert_int_equal(run_git(&src), 0);
	const rs_fact *n = repo_node("git:payments");
	char hex[64];
	snprintf(hex, sizeof(hex), "%s", head_of(repo, "HEAD"));
	char want_state[80];
	snprintf(want_state, sizeof(want_state), "git1:%s", hex);
	assert_string_equal(T->rs.state, want_state);
	assert_prop(n, "head_commit", hex);
	assert_prop(n, "name", "payments");
	assert_prop(n, "url", repo);
	assert_prop(n, "default_branch", "main");
	assert_prop(n, "commits_90d", "9");
	/* ties (1 commit) by name; only 5 */
	assert_prop(n, "top_authors", "Alice (3),Bob (2),Carol (1),Eve (1),Frank (1)");
	char when[32];
	snprintf(when, sizeof(when), "%lld", (long long)(now - 2 * DAY));
	assert_prop(n, "last_commit_at", when);
	/* no CODEOWNERS: no rules, no hints */
	assert_prop(n, "codeowners_file", "");
	assert_int_equal(T->rs.n_hints, 0);
	assert_int_equal(T->rs.n_warnings, 0);

	/* option id overrides the id of a local repository */
	st_kv opt[] = {{"id", "git:github.com/acme/payments"}};
	src.options = opt;
	src.n_options = 1;
	assert_int_equal(run_git(&src), 0);
	assert_non_null(rs_find_node(&T->rs, "git:github.com/acme/payments"));
	assert_null(rs_find_node(&T->rs, "git:payments"));

	/* unknown options are an error */
	st_kv bad[] = {{"branch", "main"}};
	src.options = bad;
	assert_int_equal(run_git(&src), ST_E_INVALID);
	assert_non_null(strstr(T->diag.msg, "'branch'"));
}

static void test_no_recent_commits(void **state)
{
	(void)state;
	char *repo = new_repo("old");
	commit(repo, "Alice", T->now - 400 * DAY, "ancient");
	st_source src = {.name = "old", .kind = "git", .location = repo};
	assert_int_equal(run_git(&src), 0);
	const rs_fact *n = repo_node("git:old");
	assert_prop(n, "commits_90d", "0");
	assert_prop(n, "top_authors", "");
}

/* ---- refs ---- */

static void test_ref_selection(void **state)
{
	(void)state;
	char *repo = new_repo("refs");
	put(repo, "a.txt", "1\n");
	commit(repo, "Alice", T->now - 5 * DAY, "first");
	char first[64];
	snprintf(first, sizeof(first), "%s", head_of(repo, "HEAD"));
	sh("cd '%s' && GIT_COMMITTER_NAME=A GIT_COMMITTER_EMAIL=a@x "
	   "git tag -a v1.0 -m 'release 1'",
	   repo);
	sh("git -C '%s' tag light", repo);
	sh("git -C '%s' checkout -q -b dev", repo);
	put(repo, "a.txt", "2\n");
	commit(repo, "Bob", T->now - 4 * DAY, "on dev");
	char dev[64];
	snprintf(dev, sizeof(dev), "%s", head_of(repo, "dev"));
	sh("git -C '%s' checkout -q main", repo);
	put(repo, "a.txt", "3\n");
	commit(repo, "Carol", T->now - 3 * DAY, "on main");
	char main_[64];
	snprintf(main_, sizeof(main_), "%s", head_of(repo, "main"));

	st_source src = {.name = "refs", .kind = "git", .location = repo};
	/* HEAD */
	assert_int_equal(run_git(&src), 0);
	assert_prop(repo_node("git:refs"), "head_commit", main_);
	assert_prop(repo_node("git:refs"), "default_branch", "main");
	/* a branch */
	src.ref = "dev";
	assert_int_equal(run_git(&src), 0);
	assert_prop(repo_node("git:refs"), "head_commit", dev);
	assert_prop(repo_node("git:refs"), "default_branch", "dev");
	assert_prop(repo_node("git:refs"), "commits_90d", "2");
	/* an annotated tag peels to its commit */
	src.ref = "v1.0";
	assert_int_equal(run_git(&src), 0);
	assert_prop(repo_node("git:refs"), "head_commit", first);
	assert_prop(repo_node("git:refs"), "default_branch", "v1.0");
	/* a lightweight tag */
	src.ref = "light";
	assert_int_equal(run_git(&src), 0);
	assert_prop(repo_node("git:refs"), "head_commit", first);
	/* a full ref name */
	src.ref = "refs/heads/dev";
	assert_int_equal(run_git(&src), 0);
	assert_prop(repo_node("git:refs"), "head_commit", dev);
	/* a missing ref fails the run, naming the ref and the location */
	src.ref = "nope";
	int rc = run_git(&src);
	assert_int_equal(rc, ST_E_NOTFOUND);
	assert_non_null(strstr(T->diag.msg, "'nope'"));
	assert_non_null(strstr(T->diag.msg, repo));
	assert_int_equal(T->rs.n, 0);

	/* the same through file://, where refs come from the remote's listing */
	char url[512], cache[512];
	snprintf(url, sizeof(url), "file://%s", repo);
	snprintf(cache, sizeof(cache), "%s/cache-refs", T->dir);
	sh("mkdir -p '%s'", cache);
	st_source rsrc = {.name = "refs", .kind = "git", .location = url, .cache_dir = cache};
	assert_int_equal(run_git(&rsrc), 0);
	assert_prop(repo_node("git:refs"), "head_commit", main_);
	assert_prop(repo_node("git:refs"), "default_branch", "main");
	rsrc.ref = "v1.0";
	assert_int_equal(run_git(&rsrc), 0);
	assert_prop(repo_node("git:refs"), "head_commit", first);
	rsrc.ref = "dev";
	assert_int_equal(run_git(&rsrc), 0);
	assert_prop(repo_node("git:refs"), "head_commit", dev);
	rsrc.ref = "nope";
	assert_int_equal(run_git(&rsrc), ST_E_NOTFOUND);
	assert_non_null(strstr(T->diag.msg, url));
}

/* ---- unchanged / changed ---- */

static void test_unchanged_then_new_commit(void **state)
{
	(void)state;
	char *repo = new_repo("svc");
	put(repo, ".github/CODEOWNERS", "* @acme/svc\n");
	commit(repo, "Alice", T->now - DAY, "one");
	st_source src = {.name = "svc", .kind = "git", .location = repo};
	assert_int_equal(run_git(&src), 0);
	char state1[80];
	snprintf(state1, sizeof(state1), "%s", T->rs.state);
	assert_int_equal(strncmp(state1, "git1:", 5), 0);
	assert_int_equal(strlen(state1), 45);

	src.prev_state = state1;
	assert_int_equal(run_git(&src), ST_SYNC_UNCHANGED);
	assert_int_equal(T->rs.n, 0); /* nothing emitted */

	put(repo, "b.txt", "x\n");
	commit(repo, "Bob", T->now - 1000, "two");
	assert_int_equal(run_git(&src), 0);
	assert_string_not_equal(T->rs.state, state1);
	const rs_fact *n = repo_node("git:svc");
	assert_prop(n, "head_commit", head_of(repo, "HEAD"));
	assert_prop(n, "commits_90d", "2");
	assert_non_null(rs_find_hint(&T->rs, "git:svc", ST_HINT_TEAM, "svc"));
}

/* ---- file:// mirror ---- */

static void test_file_clone_then_fetch(void **state)
{
	(void)state;
	char *repo = new_repo("origin");
	put(repo, "CODEOWNERS", "* @acme/orig\n");
	commit(repo, "Alice", T->now - 3 * DAY, "one");
	char url[512], cache[512], mirror[600];
	snprintf(url, sizeof(url), "file://%s", repo);
	snprintf(cache, sizeof(cache), "%s/cache", T->dir);
	snprintf(mirror, sizeof(mirror), "%s/repo.git", cache);
	sh("mkdir -p '%s'", cache);
	st_source src = {.name = "orig", .kind = "git", .location = url, .cache_dir = cache};

	assert_int_equal(run_git(&src), 0);
	const rs_fact *n = repo_node("git:orig");
	assert_prop(n, "head_commit", head_of(repo, "HEAD"));
	assert_prop(n, "url", url);
	assert_prop(n, "name", "origin");
	assert_prop(n, "codeowners_file", "CODEOWNERS");
	/* a bare mirror, no checkout */
	struct stat st;
	assert_int_equal(stat(mirror, &st), 0);
	assert_int_equal(stat(out_of("printf %%s '%s/HEAD'", mirror), &st), 0);
	assert_int_not_equal(stat(out_of("printf %%s '%s/CODEOWNERS'", mirror), &st), 0);
	char state1[80];
	snprintf(state1, sizeof(state1), "%s", T->rs.state);

	/* unchanged: decided from the remote's ref listing */
	src.prev_state = state1;
	assert_int_equal(run_git(&src), ST_SYNC_UNCHANGED);
	assert_int_equal(T->rs.n, 0);

	/* a new commit upstream is fetched into the mirror */
	put(repo, "CODEOWNERS", "* @acme/newowner\n");
	commit(repo, "Bob", T->now - DAY, "two");
	assert_int_equal(run_git(&src), 0);
	n = repo_node("git:orig");
	char head2[64];
	snprintf(head2, sizeof(head2), "%s", head_of(repo, "HEAD"));
	assert_prop(n, "head_commit", head2);
	assert_prop(n, "commits_90d", "2");
	assert_non_null(rs_find_hint(&T->rs, "git:orig", ST_HINT_TEAM, "newowner"));
	assert_null(rs_find_hint(&T->rs, "git:orig", ST_HINT_TEAM, "orig"));
	/* the mirror now has the commit */
	assert_string_equal(out_of("git -C '%s' rev-parse refs/remotes/origin/main", mirror),
			    head2);

	char state2[80];
	snprintf(state2, sizeof(state2), "%s", T->rs.state);
	src.prev_state = state2;
	assert_int_equal(run_git(&src), ST_SYNC_UNCHANGED);
}

/* ---- errors ---- */

static void test_unreachable(void **state)
{
	(void)state;
	char missing[256], url[300], cache[300];
	snprintf(missing, sizeof(missing), "%s/no-such-repo", T->dir);
	st_source src = {.name = "gone", .kind = "git", .location = missing};
	int rc = run_git(&src);
	assert_true(rc < 0);
	assert_non_null(strstr(T->diag.msg, missing));
	assert_non_null(strstr(T->diag.msg, "'gone'"));
	assert_int_equal(T->rs.n, 0);

	snprintf(url, sizeof(url), "file://%s", missing);
	snprintf(cache, sizeof(cache), "%s/cache-gone", T->dir);
	sh("mkdir -p '%s'", cache);
	st_source rsrc = {.name = "gone", .kind = "git", .location = url, .cache_dir = cache};
	rc = run_git(&rsrc);
	assert_true(rc < 0);
	assert_non_null(strstr(T->diag.msg, url));

	/* https: nothing listens on port 1; the message names the URL without
	 * the credentials written into it */
	st_source hsrc = {.name = "remote",
			  .kind = "git",
			  .location = "https://user:s3cret@127.0.0.1:1/acme/x.git",
			  .cache_dir = cache,
			  .timeout_s = 5};
	rc = run_git(&hsrc);
	assert_true(rc < 0);
	assert_non_null(strstr(T->diag.msg, "https://127.0.0.1:1/acme/x.git"));
	assert_null(strstr(T->diag.msg, "s3cret"));

	/* a configured token that is missing fails before any network use */
	st_source tsrc = {.name = "tok",
			  .kind = "git",
			  .location = "https://127.0.0.1:1/a/b.git",
			  .cache_dir = cache,
			  .token_env = "ST_TEST_GIT_TOKEN_UNSET"};
	unsetenv("ST_TEST_GIT_TOKEN_UNSET");
	rc = run_git(&tsrc);
	assert_int_equal(rc, ST_E_INVALID);
	assert_non_null(strstr(T->diag.msg, "ST_TEST_GIT_TOKEN_UNSET"));

	/* ssh and scp-like locations are refused without touching anything */
	st_source ssrc = {.name = "ssh", .kind = "git", .location = "git@github.com:acme/x.git"};
	assert_int_equal(run_git(&ssrc), ST_E_INVALID);
	assert_non_null(strstr(T->diag.msg, "unsupported location"));
	ssrc.location = "ssh://git@github.com/acme/x.git";
	assert_int_equal(run_git(&ssrc), ST_E_INVALID);

	/* a remote location needs a cache directory */
	rsrc.cache_dir = NULL;
	assert_int_equal(run_git(&rsrc), ST_E_INVALID);

	/* an empty repository has no HEAD commit */
	char *empty = new_repo("empty");
	st_source esrc = {.name = "empty", .kind = "git", .location = empty};
	assert_int_equal(run_git(&esrc), ST_E_NOTFOUND);
	assert_non_null(strstr(T->diag.msg, empty));
}

static void test_url_ids(void **state)
{
	(void)state;
	/* the id of an https source comes from its URL even when the run fails */
	char cache[300];
	snprintf(cache, sizeof(cache), "%s/c", T->dir);
	sh("mkdir -p '%s'", cache);
	/* make the URL unreachable fast but parseable; we only look at the message */
	st_source src = {.name = "p",
			 .kind = "git",
			 .location = "https://tok@127.0.0.1:1/Acme/Payments.git?x=1",
			 .cache_dir = cache,
			 .timeout_s = 2};
	assert_true(run_git(&src) < 0);
	assert_non_null(strstr(T->diag.msg, "https://127.0.0.1:1/Acme/Payments.git"));
	assert_null(strstr(T->diag.msg, "tok@"));
}

/* ---- CODEOWNERS matching ---- */

static const char rich_codeowners[] = "# comment line\n"
				      "*                 @acme/everyone\n"	      /* 2 */
				      "*.js              @js-owner\n"		      /* 3 */
				      "*.go  docs@example.com   # trailing comment\n" /* 4 */
				      "/build/logs/      @doctocat\n"		      /* 5 */
				      "docs/*            @docs-direct\n"	      /* 6 */
				      "apps/             @octocat\n"		      /* 7 */
				      "/docs/            @acme/docs\n"		      /* 8 */
				      "**/logs           @logs-anywhere\n"	      /* 9 */
				      "/scripts/         @acme/scripts @alice\n"      /* 10 */
				      "/apps/github\n"			 /* 11: no owner */
				      "src/**/test?.c    @testers\n"	 /* 12 */
				      "/vendor/**        @acme/vendor\n" /* 13 */
				      "\\#hash           @hash\n"	 /* 14 */
				      "with\\ space.txt  @spacey\n"	 /* 15 */
				      "/Makefile         @make\n";	 /* 16 */

static void test_codeowners_table(void **state)
{
	(void)state;
	st_codeowners *co = NULL;
	st_diag d;
	assert_int_equal(st_codeowners_parse(rich_codeowners, strlen(rich_codeowners), NULL, NULL,
					     &co, &d),
			 0);
	assert_int_equal(st_codeowners_count(co), 15);
	static const struct {
		const char *path;
		int line; /* expected rule line, 0 none */
	} cases[] = {
		{"README.md", 2},
		{"web/app.js", 3},
		{"app.js", 3},
		{"cmd/main.go", 4},
		{"build/logs/x.txt", 9}, /* rule 9 comes later than rule 5 */
		{"build/logs/deep/y", 9},
		{"build/other", 2},
		{"docs/getting-started.md", 8}, /* rule 8 after rule 6 */
		{"docs/build-app/troubleshooting.md", 8},
		{"x/docs/a.md", 2}, /* rule 6 is anchored (has a slash) */
		{"apps/a.txt", 7},
		{"deep/apps/b/c.txt", 7},
		{"apps/github", 11}, /* no owners */
		{"apps/github/x.rb", 11},
		{"deeply/nested/logs/z", 9},
		{"scripts/run.sh", 10},
		{"src/test1.c", 12},
		{"src/a/b/testX.c", 12},
		{"src/a/b/test10.c", 2}, /* ? is one character */
		{"vendor/lib/x.c", 13},
		{"vendor", 2}, /* rule 13 is for what is inside vendor */
		{"#hash", 14},
		{"sub/#hash", 14},
		{"with space.txt", 15},
		{"Makefile", 16},
		{"sub/Makefile", 2}, /* anchored */
		{"makefile", 2},     /* case-sensitive */
	};
	for (size_t i = 0; i < ST_ARRAY_LEN(cases); i++) {
		const st_co_rule *r = st_codeowners_match(co, cases[i].path);
		int got = r ? (int)r->line : 0;
		if (got != cases[i].line)
			fail_msg("%s: matched line %d, want %d", cases[i].path, got, cases[i].line);
	}
	/* rule 6 alone matches the direct child only */
	const st_co_rule *r6 = st_codeowners_rule(co, 4);
	assert_int_equal(r6->line, 6);
	assert_true(st_codeowners_rule_matches(r6, "docs/a.md"));
	assert_false(st_codeowners_rule_matches(r6, "docs/build-app/troubleshooting.md"));
	/* the owners of rule 10 as written */
	const st_co_rule *r10 = st_codeowners_match(co, "scripts/x");
	assert_int_equal(r10->n_owners, 2);
	assert_string_equal(r10->owners[0], "@acme/scripts");
	assert_string_equal(r10->owners[1], "@alice");
	assert_int_equal(st_codeowners_match(co, "apps/github")->n_owners, 0);
	/* the repository owner is the last catch-all: line 2 */
	assert_int_equal(st_codeowners_repo_rule(co)->line, 2);
	st_codeowners_free(co);
}

static void test_codeowners_catch_all(void **state)
{
	(void)state;
	static const struct {
		const char *pattern;
		bool catch_all;
	} cases[] = {
		{"*", true},	 {"**", true},	  {"/**", true},   {"**/*", true},
		{"/**/*", true}, {"**/**", true}, {"/*", false},   {"*/**", false},
		{"**/", false},	 {"*/", false},	  {"/*/", false},  {"*.*", false},
		{"a/**", false}, {"**/a", false}, {"/**/", false}, {"?", false},
	};
	for (size_t i = 0; i < ST_ARRAY_LEN(cases); i++) {
		char buf[64];
		int n = snprintf(buf, sizeof(buf), "%s @o\n", cases[i].pattern);
		st_codeowners *co = NULL;
		st_diag d;
		assert_int_equal(st_codeowners_parse(buf, (size_t)n, NULL, NULL, &co, &d), 0);
		assert_int_equal(st_codeowners_count(co), 1);
		if (st_codeowners_rule(co, 0)->catch_all != cases[i].catch_all)
			fail_msg("pattern %s: catch_all %d", cases[i].pattern, !cases[i].catch_all);
		st_codeowners_free(co);
	}
	/* "/" + "*" owns root files only */
	st_codeowners *co = NULL;
	st_diag d;
	const char txt[] = "/* @root\n";
	assert_int_equal(st_codeowners_parse(txt, sizeof(txt) - 1, NULL, NULL, &co, &d), 0);
	assert_non_null(st_codeowners_match(co, "a.txt"));
	assert_null(st_codeowners_match(co, "dir/a.txt"));
	assert_null(st_codeowners_repo_rule(co));
	st_codeowners_free(co);
	/* 3 MiB or more: refused, as GitHub does */
	size_t big = ST_CODEOWNERS_MAX_BYTES;
	char *buf = malloc(big);
	memset(buf, '\n', big);
	assert_int_equal(st_codeowners_parse(buf, big, NULL, NULL, &co, &d), ST_E_LIMIT);
	free(buf);
}

typedef struct errs {
	uint32_t lines[16];
	char msgs[16][200];
	size_t n;
} errs;

static void collect_err(void *ctx, uint32_t line, const char *msg)
{
	errs *e = ctx;
	if (e->n < 16) {
		e->lines[e->n] = line;
		snprintf(e->msgs[e->n], sizeof(e->msgs[0]), "%s", msg);
		e->n++;
	}
}

static void test_codeowners_bad_lines(void **state)
{
	(void)state;
	static const char txt[] = "* @acme/all\n"	    /* 1 */
				  "!negated.txt @a\n"	    /* 2 */
				  "# fine\n"		    /* 3 */
				  "[abc].txt @a\n"	    /* 4 */
				  "/ok/ @acme/ok\n"	    /* 5 */
				  "x.txt not-an-owner\n"    /* 6 */
				  "y.txt @bad/team/extra\n" /* 7 */
				  "/ @root\n"		    /* 8 */
				  "z.txt a@b.co\r\n"	    /* 9: CRLF ok */
				  "trail\\\n";		    /* 10: lone backslash */
	errs e = {0};
	st_codeowners *co = NULL;
	st_diag d;
	assert_int_equal(st_codeowners_parse(txt, sizeof(txt) - 1, collect_err, &e, &co, &d), 0);
	assert_int_equal(e.n, 6);
	static const uint32_t want[] = {2, 4, 6, 7, 8, 10};
	for (size_t i = 0; i < 6; i++)
		assert_int_equal(e.lines[i], want[i]);
	assert_non_null(strstr(e.msgs[0], "negation"));
	assert_non_null(strstr(e.msgs[1], "[...]"));
	assert_non_null(strstr(e.msgs[2], "not-an-owner"));
	assert_int_equal(st_codeowners_count(co), 3);
	assert_int_equal(st_codeowners_match(co, "ok/a")->line, 5);
	assert_int_equal(st_codeowners_match(co, "q/z.txt")->line, 9);
	assert_string_equal(st_codeowners_match(co, "q/z.txt")->owners[0], "a@b.co");
	assert_int_equal(st_codeowners_match(co, "x.txt")->line, 1); /* its line was skipped */
	st_codeowners_free(co);
}

/* ---- CODEOWNERS through the connector ---- */

static void test_repo_owner_and_hints(void **state)
{
	(void)state;
	char *repo = new_repo("owners");
	put(repo, ".github/CODEOWNERS",
	    "# default owners\n"
	    "* @acme/old-default\n"			  /* 2 */
	    "/** @acme/platform @alice dev@example.com\n" /* 3: last catch-all */
	    "/docs/ @acme/docs\n"			  /* 4 */
	    "/* @acme/root-files\n"			  /* 5: root files only */
	    "*.go @acme/gophers\n");			  /* 6 */
	put(repo, "CODEOWNERS", "* @acme/ignored-root-file\n");
	put(repo, "docs/CODEOWNERS", "* @acme/ignored-docs-file\n");
	commit(repo, "Alice", T->now - DAY, "one");
	st_source src = {.name = "own", .kind = "git", .location = repo};
	assert_int_equal(run_git(&src), 0);
	const rs_fact *n = repo_node("git:own");
	assert_prop(n, "codeowners_file", ".github/CODEOWNERS");
	assert_prop(n, "codeowners",
		    "* @acme/old-default,/** @acme/platform @alice dev@example.com,"
		    "/docs/ @acme/docs,/* @acme/root-files,*.go @acme/gophers");
	assert_int_equal(T->rs.n_hints, 3);
	const rs_fact *h = rs_find_hint(&T->rs, "git:own", ST_HINT_TEAM, "platform");
	assert_non_null(h);
	assert_string_equal(h->rule, "codeowners");
	assert_string_equal(h->evidence,
			    ".github/CODEOWNERS:3 /** @acme/platform @alice dev@example.com");
	assert_string_equal(h->origin, "own:.github/CODEOWNERS");
	assert_int_equal(h->line, 3);
	assert_non_null(rs_find_hint(&T->rs, "git:own", ST_HINT_TEAM, "user:alice"));
	assert_non_null(rs_find_hint(&T->rs, "git:own", ST_HINT_TEAM, "user:dev@example.com"));
	assert_null(rs_find_hint(&T->rs, "git:own", ST_HINT_TEAM, "old-default"));
	assert_null(rs_find_hint(&T->rs, "git:own", ST_HINT_TEAM, "root-files"));
	assert_null(rs_find_hint(&T->rs, "git:own", ST_HINT_TEAM, "gophers"));
	assert_null(rs_find_hint(&T->rs, "git:own", ST_HINT_TEAM, "ignored-root-file"));

	/* without .github/: the root file wins over docs/ */
	sh("cd '%s' && git rm -q -r .github", repo);
	commit(repo, "Alice", T->now - 1000, "two");
	assert_int_equal(run_git(&src), 0);
	assert_prop(repo_node("git:own"), "codeowners_file", "CODEOWNERS");
	assert_non_null(rs_find_hint(&T->rs, "git:own", ST_HINT_TEAM, "ignored-root-file"));
	/* then docs/ */
	sh("cd '%s' && git rm -q CODEOWNERS", repo);
	commit(repo, "Alice", T->now - 900, "three");
	assert_int_equal(run_git(&src), 0);
	assert_prop(repo_node("git:own"), "codeowners_file", "docs/CODEOWNERS");
	assert_non_null(rs_find_hint(&T->rs, "git:own", ST_HINT_TEAM, "ignored-docs-file"));

	/* a catch-all without owners makes the repository unowned */
	put(repo, "docs/CODEOWNERS", "* @acme/x\n** \n/src/ @acme/src\n");
	commit(repo, "Alice", T->now - 800, "four");
	assert_int_equal(run_git(&src), 0);
	assert_int_equal(T->rs.n_hints, 0);
}

static void test_codeowners_warnings_in_repo(void **state)
{
	(void)state;
	char *repo = new_repo("warn");
	put(repo, ".github/CODEOWNERS",
	    "* @acme/a\n"	    /* 1 */
	    "\n"		    /* 2 */
	    "!secret.txt @b\n"	    /* 3 */
	    "/src/ @acme/src\n"	    /* 4 */
	    "lib/[ab]/ @acme/lib\n" /* 5 */
	    "/tools/ owner\n"	    /* 6 */
	    "/web/ @acme/web\n");   /* 7 */
	commit(repo, "Alice", T->now - DAY, "one");
	st_source src = {.name = "w", .kind = "git", .location = repo};
	assert_int_equal(run_git(&src), 0);
	assert_int_equal(T->rs.n_warnings, 3);
	assert_non_null(find_warning("w:.github/CODEOWNERS", 3));
	assert_non_null(find_warning("w:.github/CODEOWNERS", 5));
	assert_non_null(find_warning("w:.github/CODEOWNERS", 6));
	assert_null(find_warning("w:.github/CODEOWNERS", 4));
	/* the rest of the file still applies */
	assert_prop(repo_node("git:w"), "codeowners", "* @acme/a,/src/ @acme/src,/web/ @acme/web");
	assert_non_null(rs_find_hint(&T->rs, "git:w", ST_HINT_TEAM, "a"));
}

/* ---- fixtures: real CODEOWNERS files ---- */

static void test_fixture_codeowners(void **state)
{
	(void)state;
	size_t len = 0;
	char *buf = sp_read_all(FIXTURES "/codeowners/prometheus/CODEOWNERS", &len);
	if (!buf) {
		printf("SKIP: " FIXTURES "/codeowners/prometheus/CODEOWNERS is absent\n");
		skip();
	}
	errs e = {0};
	st_codeowners *co = NULL;
	st_diag d;
	assert_int_equal(st_codeowners_parse(buf, len, collect_err, &e, &co, &d), 0);
	free(buf);
	assert_int_equal(e.n, 0);
	assert_int_equal(st_codeowners_count(co), 18);
	const st_co_rule *r = st_codeowners_match(co, "tsdb/agent/db.go");
	assert_non_null(r);
	assert_string_equal(r->pattern, "/tsdb/agent");
	assert_string_equal(r->owners[r->n_owners - 1], "@kgeckhart");
	assert_string_equal(st_codeowners_match(co, "tsdb/head.go")->pattern, "/tsdb");
	assert_string_equal(st_codeowners_match(co, "web/ui/module/x.ts")->pattern,
			    "/web/ui/module");
	assert_string_equal(st_codeowners_match(co, "discovery/aws/ec2.go")->pattern,
			    "/discovery/aws/");
	assert_string_equal(st_codeowners_match(co, "README.md")->pattern, "*");
	/* commented-out rules do not apply */
	assert_string_equal(st_codeowners_match(co, "discovery/nomad/x.go")->pattern, "*");
	assert_int_equal(st_codeowners_repo_rule(co)->line, 7);
	st_codeowners_free(co);

	buf = sp_read_all(FIXTURES "/codeowners/finops-toolkit/.github/CODEOWNERS", &len);
	if (!buf) {
		printf("SKIP: finops-toolkit CODEOWNERS is absent\n");
		return;
	}
	e.n = 0;
	assert_int_equal(st_codeowners_parse(buf, len, collect_err, &e, &co, &d), 0);
	free(buf);
	assert_int_equal(e.n, 0);
	assert_int_equal(st_codeowners_count(co), 23);
	assert_string_equal(st_codeowners_match(co, "src/power-bi/kql/Governance.pbip")->owners[0],
			    "@nteyan");
	assert_string_equal(st_codeowners_match(co, "src/power-bi/other.pbip")->pattern, "*");
	assert_string_equal(
		st_codeowners_match(co, "src/templates/finops-hub/main.bicep")->owners[0],
		"@msbrett");
	assert_string_equal(st_codeowners_repo_rule(co)->owners[1], "@msbrett");
	st_codeowners_free(co);
}

static void test_fixture_online_boutique(void **state)
{
	(void)state;
	struct stat st;
	const char *fx = FIXTURES "/git-repo/online-boutique";
	if (stat(fx, &st) != 0) {
		printf("SKIP: %s is absent\n", fx);
		skip();
	}
	char *repo = new_repo("online-boutique");
	sh("cp -r '%s/.' '%s/'", fx, repo);
	commit(repo, "Alice", T->now - DAY, "import");
	st_source src = {.name = "boutique", .kind = "git", .location = repo};
	assert_int_equal(run_git(&src), 0);
	assert_prop(repo_node("git:boutique"), "codeowners_file", ".github/CODEOWNERS");
	assert_non_null(rs_find_hint(&T->rs, "git:boutique", ST_HINT_TEAM,
				     "devrel-flagship-app-maintainers"));
	assert_non_null(rs_find_hint(&T->rs, "git:boutique", ST_HINT_TEAM, "user:yoshi-approver"));
	assert_int_equal(T->rs.n_warnings, 0);
}

/* ---- catalogs and manifests ---- */

static const char good_catalog[] = "apiVersion: backstage.io/v1alpha1\n"
				   "kind: Component\n"
				   "metadata:\n"
				   "  name: payments-api\n"
				   "spec:\n"
				   "  type: service\n"
				   "  lifecycle: production\n"
				   "  owner: group:payments\n";

static void test_catalogs_at_depth(void **state)
{
	(void)state;
	char *repo = new_repo("cat");
	put(repo, "services/payments/api/catalog-info.yaml", good_catalog);
	/* malformed: a mapping where a string must be, on line 4 */
	put(repo, "services/broken/catalog-info.yaml",
	    "apiVersion: backstage.io/v1alpha1\n"
	    "kind: Component\n"
	    "metadata:\n"
	    "  name: [not, a, string]\n"
	    "spec:\n"
	    "  type: service\n"
	    "  owner: team-x\n");
	/* a Location that points inside, outside and at a URL; a cycle back */
	put(repo, "catalog-info.yaml",
	    "apiVersion: backstage.io/v1alpha1\n"
	    "kind: Location\n"
	    "metadata:\n"
	    "  name: root\n"
	    "spec:\n"
	    "  targets:\n"
	    "    - ./systems/core.yaml\n"
	    "    - ../outside.yaml\n"
	    "    - https://example.com/catalog-info.yaml\n"
	    "    - ./catalog-info.yaml\n"
	    "    - ./missing.yaml\n");
	put(repo, "systems/core.yaml",
	    "apiVersion: backstage.io/v1alpha1\n"
	    "kind: System\n"
	    "metadata:\n"
	    "  name: core\n"
	    "spec:\n"
	    "  owner: group:platform\n"
	    "---\n"
	    "apiVersion: backstage.io/v1alpha1\n"
	    "kind: Location\n"
	    "metadata:\n"
	    "  name: back\n"
	    "spec:\n"
	    "  target: ../catalog-info.yaml\n");
	commit(repo, "Alice", T->now - DAY, "one");
	st_source src = {.name = "cat", .kind = "git", .location = repo};
	assert_int_equal(run_git(&src), 0);
	/* the Repository node comes first */
	assert_int_equal(T->rs.facts[0].kind, 'n');
	assert_string_equal(T->rs.facts[0].id, "git:cat");
	/* the entity at depth and the one reached through a Location */
	const rs_fact *svc = rs_find_node(&T->rs, "service:payments-api");
	assert_non_null(svc);
	assert_string_equal(svc->origin, "cat:services/payments/api/catalog-info.yaml");
	assert_non_null(rs_find_edge(&T->rs, "service:payments-api", "DEFINED_IN", "git:cat"));
	assert_non_null(rs_find_node(&T->rs, "system:core"));
	/* the broken file: one warning with its line, nothing of it */
	const rs_fact *w = find_warning("cat:services/broken/catalog-info.yaml", 4);
	if (!w)
		fail_msg("no warning at cat:services/broken/catalog-info.yaml:4");
	/* targets outside the repository are reported, not followed */
	size_t not_followed = 0;
	for (size_t i = 0; i < T->rs.n; i++)
		if (T->rs.facts[i].kind == 'w' && strstr(T->rs.facts[i].dst, "not followed"))
			not_followed++;
	assert_int_equal(not_followed, 2);
	/* each file read once: the root catalog is not parsed twice */
	size_t sys = 0;
	for (size_t i = 0; i < T->rs.n; i++)
		sys += T->rs.facts[i].kind == 'n' && !strcmp(T->rs.facts[i].id, "system:core");
	assert_int_equal(sys, 1);
	/* a target missing from the tree: reported by the file naming it */
	const rs_fact *mw = find_warning("cat:catalog-info.yaml", 0);
	size_t missing = 0;
	for (size_t i = 0; i < T->rs.n; i++)
		if (T->rs.facts[i].kind == 'w' && strstr(T->rs.facts[i].dst, "missing.yaml") &&
		    strstr(T->rs.facts[i].dst, "not in the repository"))
			missing++;
	assert_non_null(mw);
	assert_int_equal(missing, 1);
	assert_int_equal(T->rs.n_warnings, 4);
}

static void test_manifests_at_depth(void **state)
{
	(void)state;
	char *repo = new_repo("deploy");
	put(repo, "k8s/prod/api/deployment.yaml",
	    "apiVersion: apps/v1\n"
	    "kind: Deployment\n"
	    "metadata:\n"
	    "  name: payments-api\n"
	    "  namespace: prod\n"
	    "spec:\n"
	    "  replicas: 3\n"
	    "  template:\n"
	    "    metadata:\n"
	    "      labels: {app: payments-api}\n"
	    "    spec:\n"
	    "      containers:\n"
	    "        - name: app\n"
	    "          image: registry.example.com/payments-api:1.2\n");
	put(repo, "k8s/prod/api/service.yml",
	    "apiVersion: v1\n"
	    "kind: Service\n"
	    "metadata:\n"
	    "  name: payments-api\n"
	    "  namespace: prod\n"
	    "spec:\n"
	    "  selector: {app: payments-api}\n");
	/* malformed: replicas is not an integer (line 6) */
	put(repo, "k8s/prod/bad/deployment.yaml",
	    "apiVersion: apps/v1\n"
	    "kind: Deployment\n"
	    "metadata:\n"
	    "  name: broken\n"
	    "spec:\n"
	    "  replicas: many\n");
	/* not manifests: Helm values, a Helm template, a catalog file */
	put(repo, "chart/values.yaml", "replicaCount: 2\nimage: {repository: x}\n");
	put(repo, "chart/templates/deploy.yaml",
	    "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: {{ .Release.Name }}\n");
	put(repo, "svc/catalog-info.yaml", good_catalog);
	commit(repo, "Alice", T->now - DAY, "one");
	st_source src = {.name = "dep", .kind = "git", .location = repo};
	assert_int_equal(run_git(&src), 0);
	const char *dep = "k8s:declared/prod/Deployment/payments-api";
	const rs_fact *d = rs_find_node(&T->rs, dep);
	if (!d)
		fail_msg("no node %s", dep);
	assert_string_equal(d->origin, "dep:k8s/prod/api/deployment.yaml");
	assert_prop(d, "replicas", "3");
	const rs_fact *e = rs_find_edge(&T->rs, dep, "DECLARED_IN", "git:dep");
	assert_non_null(e);
	assert_prop(e, "path", "k8s/prod/api/deployment.yaml");
	/* a Service in another file selects it */
	assert_non_null(
		rs_find_edge(&T->rs, "k8s:declared/prod/Service/payments-api", "SELECTS", dep));
	/* the catalog went to the catalog parser only */
	assert_non_null(rs_find_node(&T->rs, "service:payments-api"));
	/* one warning, for the malformed file, at its line; nothing of it */
	assert_int_equal(T->rs.n_warnings, 1);
	assert_non_null(find_warning("dep:k8s/prod/bad/deployment.yaml", 6));
	assert_null(rs_find_node(&T->rs, "k8s:declared/default/Deployment/broken"));

	/* option cluster names the cluster segment of the ids */
	st_kv opt[] = {{"cluster", "eu-1"}};
	src.options = opt;
	src.n_options = 1;
	assert_int_equal(run_git(&src), 0);
	assert_non_null(rs_find_node(&T->rs, "k8s:eu-1/prod/Deployment/payments-api"));
}

static void test_fixture_manifests_and_catalogs(void **state)
{
	(void)state;
	struct stat st;
	const char *k8s = FIXTURES "/k8s-manifests/online-boutique/kubernetes-manifests";
	const char *cat = FIXTURES "/backstage/backstage-demo/catalog-info.yaml";
	if (stat(k8s, &st) != 0 || stat(cat, &st) != 0) {
		printf("SKIP: %s or %s is absent\n", k8s, cat);
		skip();
	}
	char *repo = new_repo("boutique");
	sh("mkdir -p '%s/deploy/base' '%s/apps/demo' && cp '%s'/*.yaml '%s/deploy/base/' && "
	   "cp '%s' '%s/apps/demo/'",
	   repo, repo, k8s, repo, cat, repo);
	commit(repo, "Alice", T->now - DAY, "import");
	st_source src = {.name = "ob", .kind = "git", .location = repo};
	assert_int_equal(run_git(&src), 0);
	static const char *const deployments[] = {"frontend", "cartservice", "checkoutservice",
						  "paymentservice", "redis-cart"};
	for (size_t i = 0; i < ST_ARRAY_LEN(deployments); i++) {
		char id[128];
		snprintf(id, sizeof(id), "k8s:declared/default/Deployment/%s", deployments[i]);
		if (!rs_find_node(&T->rs, id))
			fail_msg("no node %s", id);
		assert_non_null(rs_find_edge(&T->rs, id, "DECLARED_IN", "git:ob"));
	}
	/* the Backstage demo catalog at depth: a Component (website) and an API */
	assert_non_null(rs_find_node(&T->rs, "component:backstage-demo"));
	assert_non_null(rs_find_node(&T->rs, "api:demo-graphql"));
	assert_int_equal(T->rs.n_warnings, 0);
}

/* ---- http(s) remotes: a local smart-HTTP server ----
 * python3's CGI server running `git http-backend`, optionally demanding
 * Basic authentication; https differs only in TLS, which libgit2 owns. */

static const char server_py[] =
	"import base64, http.server, os, sys\n"
	"root, portfile, cred = sys.argv[1], sys.argv[2], sys.argv[3]\n"
	"class H(http.server.CGIHTTPRequestHandler):\n"
	"    cgi_directories = ['/cgi-bin']\n"
	"    def log_message(self, *a): pass\n"
	"    def ok(self):\n"
	"        want = 'Basic ' + base64.b64encode(cred.encode()).decode()\n"
	"        if cred == '-' or self.headers.get('Authorization', '') == want: return True\n"
	"        self.send_response(401)\n"
	"        self.send_header('WWW-Authenticate', 'Basic realm=\"git\"')\n"
	"        self.send_header('Content-Length', '0')\n"
	"        self.end_headers()\n"
	"        return False\n"
	"    def do_GET(self):\n"
	"        if self.ok(): super().do_GET()\n"
	"    def do_POST(self):\n"
	"        if self.ok(): super().do_POST()\n"
	"os.chdir(root)\n"
	"s = http.server.HTTPServer(('127.0.0.1', 0), H)\n"
	"open(portfile + '.tmp', 'w').write(str(s.server_address[1]))\n"
	"os.rename(portfile + '.tmp', portfile)\n"
	"s.serve_forever()\n";

typedef struct server {
	int port;
	pid_t pid;
} server;

/* Serve T->dir/srv/repos over smart HTTP; cred "user:password" or "-".
 * Run as root, python's CGI server drops to "nobody" for the script: the
 * served tree must be readable by others. */
static server start_server(const char *cred)
{
	char path[512];
	sh("chmod 755 '%s'", T->dir);
	snprintf(path, sizeof(path), "%s/srv/root/cgi-bin", T->dir);
	sh("mkdir -p '%s'", path);
	snprintf(path, sizeof(path), "%s/srv/server.py", T->dir);
	sp_write_file(path, "%s", server_py);
	snprintf(path, sizeof(path), "%s/srv/root/cgi-bin/git", T->dir);
	sp_write_file(path,
		      "#!/bin/sh\nexport GIT_PROJECT_ROOT='%s/srv/repos' GIT_HTTP_EXPORT_ALL=1\n"
		      "export GIT_CONFIG_COUNT=1 GIT_CONFIG_KEY_0=safe.directory "
		      "GIT_CONFIG_VALUE_0='*'\n"
		      "exec git http-backend\n",
		      T->dir);
	sh("chmod +x '%s'", path);
	sh("rm -f '%s/srv/port'; python3 '%s/srv/server.py' '%s/srv/root' '%s/srv/port' '%s' "
	   "</dev/null >/dev/null 2>&1 & echo $! > '%s/srv/pid'",
	   T->dir, T->dir, T->dir, T->dir, cred, T->dir);
	server sv = {0};
	sv.pid = (pid_t)strtol(out_of("cat '%s/srv/pid'", T->dir), NULL, 10);
	T->server_pid = sv.pid;
	char portfile[512];
	snprintf(portfile, sizeof(portfile), "%s/srv/port", T->dir);
	for (int i = 0; i < 100; i++) {
		FILE *pf = fopen(portfile, "r");
		if (pf) {
			if (fscanf(pf, "%d", &sv.port) != 1)
				sv.port = 0;
			fclose(pf);
			break;
		}
		usleep(50000);
	}
	assert_true(sv.port > 0);
	return sv;
}

static void stop_server(server sv)
{
	sp_stop(&sv.pid);
	T->server_pid = 0;
}

/* A bare repository acme/payments.git served by the server. */
static void served_repo(void)
{
	if (!have("python3 -c 'import http.server'", "python3 (for the HTTP test server)") ||
	    !have("test -x \"$(git --exec-path)/git-http-backend\"", "git http-backend"))
		skip();
	char *repo = new_repo("work");
	put(repo, ".github/CODEOWNERS", "* @acme/payments\n");
	put(repo, "catalog-info.yaml", good_catalog);
	commit(repo, "Alice", T->now - DAY, "one");
	sh("mkdir -p '%s/srv/repos/acme' && git clone -q --bare '%s' '%s/srv/repos/acme/payments.git'",
	   T->dir, repo, T->dir);
}

static void test_http_remote(void **state)
{
	(void)state;
	served_repo();
	server sv = start_server("-");
	char url[256], cache[256], want_url[256];
	snprintf(url, sizeof(url), "http://someone@127.0.0.1:%d/cgi-bin/git/acme/payments.git",
		 sv.port);
	snprintf(want_url, sizeof(want_url), "http://127.0.0.1:%d/cgi-bin/git/acme/payments.git",
		 sv.port);
	snprintf(cache, sizeof(cache), "%s/cache-http", T->dir);
	sh("mkdir -p '%s'", cache);
	st_source src = {
		.name = "pay", .kind = "git", .location = url, .cache_dir = cache, .timeout_s = 20};
	int rc = run_git(&src);
	if (rc != 0)
		fail_msg("run: %s", T->diag.msg);
	/* the id comes from host and path: no port, no user, no .git */
	const rs_fact *n = repo_node("git:127.0.0.1/cgi-bin/git/acme/payments");
	assert_prop(n, "url", want_url);
	assert_prop(n, "name", "payments");
	assert_prop(n, "default_branch", "main");
	assert_non_null(rs_find_hint(&T->rs, "git:127.0.0.1/cgi-bin/git/acme/payments",
				     ST_HINT_TEAM, "payments"));
	assert_non_null(rs_find_edge(&T->rs, "service:payments-api", "DEFINED_IN",
				     "git:127.0.0.1/cgi-bin/git/acme/payments"));
	char state1[80];
	snprintf(state1, sizeof(state1), "%s", T->rs.state);
	src.prev_state = state1;
	assert_int_equal(run_git(&src), ST_SYNC_UNCHANGED);
	assert_int_equal(T->rs.n, 0);
	stop_server(sv);
}

static void test_http_auth(void **state)
{
	(void)state;
	served_repo();
	server sv = start_server("x-access-token:tok-SECRET-1");
	char url[256], cache[256], tokfile[256];
	snprintf(url, sizeof(url), "http://127.0.0.1:%d/cgi-bin/git/acme/payments.git", sv.port);
	snprintf(cache, sizeof(cache), "%s/cache-auth", T->dir);
	snprintf(tokfile, sizeof(tokfile), "%s/token", T->dir);
	sh("mkdir -p '%s'", cache);
	st_source src = {
		.name = "pay", .kind = "git", .location = url, .cache_dir = cache, .timeout_s = 20};

	/* no token configured */
	int rc = run_git(&src);
	assert_int_equal(rc, ST_E_INVALID);
	assert_non_null(strstr(T->diag.msg, "no token"));
	assert_non_null(strstr(T->diag.msg, url));

	/* a wrong token from an environment variable: named, never shown */
	setenv("ST_TEST_GIT_TOKEN", "tok-WRONG-2", 1);
	src.token_env = "ST_TEST_GIT_TOKEN";
	rc = run_git(&src);
	assert_int_equal(rc, ST_E_INVALID);
	assert_non_null(strstr(T->diag.msg, "environment variable ST_TEST_GIT_TOKEN"));
	assert_null(strstr(T->diag.msg, "tok-WRONG-2"));

	/* the right token: user x-access-token by default */
	setenv("ST_TEST_GIT_TOKEN", "tok-SECRET-1", 1);
	rc = run_git(&src);
	if (rc != 0)
		fail_msg("run: %s", T->diag.msg);
	assert_non_null(rs_find_node(&T->rs, "git:127.0.0.1/cgi-bin/git/acme/payments"));

	/* from a file, with another user name: the file is named on failure */
	put(T->dir, "token", "tok-SECRET-1\n");
	src.token_env = NULL;
	src.token_file = tokfile;
	st_kv opt[] = {{"username", "bot"}};
	src.options = opt;
	src.n_options = 1;
	rc = run_git(&src);
	assert_int_equal(rc, ST_E_INVALID);
	assert_non_null(strstr(T->diag.msg, tokfile));
	assert_null(strstr(T->diag.msg, "tok-SECRET-1"));
	unsetenv("ST_TEST_GIT_TOKEN");
	stop_server(sv);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_repository_props, setup, teardown),
		cmocka_unit_test_setup_teardown(test_no_recent_commits, setup, teardown),
		cmocka_unit_test_setup_teardown(test_ref_selection, setup, teardown),
		cmocka_unit_test_setup_teardown(test_unchanged_then_new_commit, setup, teardown),
		cmocka_unit_test_setup_teardown(test_file_clone_then_fetch, setup, teardown),
		cmocka_unit_test_setup_teardown(test_unreachable, setup, teardown),
		cmocka_unit_test_setup_teardown(test_url_ids, setup, teardown),
		cmocka_unit_test_setup_teardown(test_codeowners_table, setup, teardown),
		cmocka_unit_test_setup_teardown(test_codeowners_catch_all, setup, teardown),
		cmocka_unit_test_setup_teardown(test_codeowners_bad_lines, setup, teardown),
		cmocka_unit_test_setup_teardown(test_repo_owner_and_hints, setup, teardown),
		cmocka_unit_test_setup_teardown(test_codeowners_warnings_in_repo, setup, teardown),
		cmocka_unit_test_setup_teardown(test_fixture_codeowners, setup, teardown),
		cmocka_unit_test_setup_teardown(test_fixture_online_boutique, setup, teardown),
		cmocka_unit_test_setup_teardown(test_catalogs_at_depth, setup, teardown),
		cmocka_unit_test_setup_teardown(test_manifests_at_depth, setup, teardown),
		cmocka_unit_test_setup_teardown(test_fixture_manifests_and_catalogs, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_http_remote, setup, teardown),
		cmocka_unit_test_setup_teardown(test_http_auth, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
