/*
 * git.c — the Git connector: one repository (a local path, or a file:// or
 * https URL mirrored bare into the source's cache directory) read at one
 * commit with libgit2, without a checkout (docs/connectors.md, "## Git").
 *
 * A run resolves the tracked ref to a commit; when that commit is the one of
 * the last successful sync (src->prev_state) it stops at once and reports
 * ST_SYNC_UNCHANGED.  For a remote this check happens right after listing the
 * remote's refs, before anything is downloaded.  Otherwise it emits the
 * Repository node (commit activity of the last 90 days from a time-ordered
 * revwalk that stops at the window's edge), the CODEOWNERS rules and the
 * repository owner hints, and hands every catalog-info.yaml and Kubernetes
 * manifest in the tree to the Backstage and manifest parsers.
 *
 * libgit2 errors are converted here, once, into ST_E_* codes with a message
 * naming the source and its location (credentials stripped).  The token is
 * only ever passed to libgit2's credential object and wiped after the run.
 * This file must not touch the store or include another connector's code
 * other than through the parsers' headers.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <git2.h>

#include "codeowners.h"
#include "connector.h"
#include "props.h"

#include "backstage.h"
#include "manifest.h"

#define STATE_PREFIX "git1:"
#define WINDOW_DAYS 90
#define TOP_AUTHORS 5
#define AUTHOR_NAME_MAX 200
#define MANIFEST_MAX_BYTES (1u << 20)
#define TREE_ENTRIES_MAX 5000000u /* files and directories visited */
#define YAML_FILES_MAX 50000u	  /* catalog and manifest candidates */
#define LOCATION_FOLLOW_MAX 10000u
#define DEFAULT_TIMEOUT_S 30.0
#define REFSPEC_HEADS "+refs/heads/*:refs/remotes/origin/*"
#define REFSPEC_TAGS "+refs/tags/*:refs/tags/*"

typedef enum fkind { F_CATALOG, F_MANIFEST } fkind;

typedef struct yfile {
	char *path;
	git_oid oid;
	fkind kind;
} yfile;

typedef struct author {
	char *name;
	uint64_t count;
} author;

typedef struct gctx {
	const st_source *src;
	st_sink *sink;
	st_diag *diag;
	bool remote;   /* location is a URL: mirrored into cache_dir */
	char *url;     /* location without credentials, query or fragment */
	char *repo_id; /* "git:host/path" */
	char *name;    /* last path component */
	char *branch;  /* short name of the tracked ref, NULL if detached */
	git_repository *repo;
	git_oid head;
	char state[64];
	/* network */
	char *token;
	const char *token_what; /* "environment variable X" / "token file Y" (for messages) */
	char token_what_buf[512];
	int auth_attempts;
	bool auth_rejected, timed_out;
	struct timespec deadline;
	/* tree */
	yfile *files;
	size_t n_files, cap_files;
	size_t n_entries;
	bool limit_hit;
	/* authors */
	author *authors; /* open addressing, cap_authors a power of two */
	size_t n_authors, cap_authors;
} gctx;

/* ---- errors ---- */

/* Convert the last libgit2 error into an ST_E_* code and a message naming the
 * source and its location. */
static int git_fail(gctx *g, int gerr, const char *what)
{
	const git_error *e = git_error_last();
	const char *msg = e && e->message ? e->message : "unknown libgit2 error";
	int code = ST_E_IO;
	if (gerr == GIT_ENOTFOUND)
		code = ST_E_NOTFOUND;
	else if (gerr == GIT_EINVALIDSPEC || gerr == GIT_EINVALID)
		code = ST_E_INVALID;
	if (g->timed_out)
		return st_diag_set(g->diag, ST_E_IO, "source '%s': %s: %s: timed out after %g s",
				   g->src->name, g->url, what,
				   g->src->timeout_s > 0 ? g->src->timeout_s : DEFAULT_TIMEOUT_S);
	if (gerr == GIT_EAUTH || g->auth_rejected) {
		if (g->token)
			return st_diag_set(
				g->diag, ST_E_INVALID,
				"source '%s': %s: %s: authentication failed with the token "
				"from %s",
				g->src->name, g->url, what, g->token_what);
		return st_diag_set(g->diag, ST_E_INVALID,
				   "source '%s': %s: %s: authentication required and the source "
				   "has no token (token_env or token_file)",
				   g->src->name, g->url, what);
	}
	return st_diag_set(g->diag, code, "source '%s': %s: %s: %s", g->src->name, g->url, what,
			   msg);
}

/* ---- location, ids ---- */

static bool is_url(const char *s)
{
	return !strncmp(s, "https://", 8) || !strncmp(s, "http://", 7) || !strncmp(s, "file://", 7);
}

/* Split a URL into scheme, host (without userinfo or port) and path (without
 * leading '/', trailing '/' and ".git", query or fragment). */
static void url_parts(const char *url, const char **scheme_end, const char **host, size_t *hlen,
		      const char **path, size_t *plen, const char **rest)
{
	const char *p = strstr(url, "://");
	*scheme_end = p;
	p += 3;
	const char *auth_end = p + strcspn(p, "/?#");
	const char *at = NULL;
	for (const char *q = p; q < auth_end; q++)
		if (*q == '@')
			at = q; /* the last '@' ends the userinfo */
	if (at)
		p = at + 1;
	*host = p;
	const char *colon = memchr(p, ':', (size_t)(auth_end - p));
	*hlen = (size_t)((colon ? colon : auth_end) - p);
	*rest = p; /* host[:port]... for the stripped URL */
	const char *q = auth_end;
	size_t n = strcspn(q, "?#");
	while (n && *q == '/')
		q++, n--;
	while (n && q[n - 1] == '/')
		n--;
	if (n >= 4 && !memcmp(q + n - 4, ".git", 4))
		n -= 4;
	*path = q;
	*plen = n;
}

static char *strip_url(const char *url)
{
	const char *se, *host, *path, *rest;
	size_t hlen, plen;
	url_parts(url, &se, &host, &hlen, &path, &plen, &rest);
	size_t n = strcspn(rest, "?#");
	size_t sl = (size_t)(se - url) + 3;
	char *out = st_xmalloc(sl + n + 1);
	memcpy(out, url, sl);
	memcpy(out + sl, rest, n);
	out[sl + n] = 0;
	return out;
}

static char *last_component(const char *s, size_t n)
{
	while (n && s[n - 1] == '/')
		n--;
	if (n >= 5 && !memcmp(s + n - 5, "/.git", 5))
		n -= 5;
	else if (n >= 4 && !memcmp(s + n - 4, ".git", 4))
		n -= 4;
	while (n && s[n - 1] == '/')
		n--;
	size_t b = n;
	while (b && s[b - 1] != '/')
		b--;
	if (b == n)
		return st_xstrndup(s, n);
	return st_xstrndup(s + b, n - b);
}

static char *xasprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static char *xasprintf(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	char *s = st_xmalloc((size_t)n + 1);
	va_start(ap, fmt);
	vsnprintf(s, (size_t)n + 1, fmt, ap);
	va_end(ap);
	return s;
}

static int set_identity(gctx *g)
{
	const st_source *src = g->src;
	const char *opt_id = st_source_option(src, "id");
	if (g->remote) {
		g->url = strip_url(src->location);
		const char *se, *host, *path, *rest;
		size_t hlen, plen;
		url_parts(src->location, &se, &host, &hlen, &path, &plen, &rest);
		bool file = !strncmp(src->location, "file://", 7);
		if (!file && (!hlen || !plen))
			return st_diag_set(
				g->diag, ST_E_INVALID,
				"source '%s': %s: not a repository URL (no host or path)",
				src->name, g->url);
		g->name = last_component(path, plen);
		if (opt_id)
			g->repo_id = xasprintf("%s", opt_id);
		else if (file)
			g->repo_id = xasprintf("git:%s", src->name);
		else {
			g->repo_id = xasprintf("git:%.*s/%.*s", (int)hlen, host, (int)plen, path);
			for (size_t i = 4; i < 4 + hlen; i++)
				if (g->repo_id[i] >= 'A' && g->repo_id[i] <= 'Z')
					g->repo_id[i] = (char)(g->repo_id[i] - 'A' + 'a');
		}
	} else {
		g->url = xasprintf("%s", src->location);
		g->name = last_component(src->location, strlen(src->location));
		g->repo_id = opt_id ? xasprintf("%s", opt_id) : xasprintf("git:%s", src->name);
	}
	if (!*g->name) {
		free(g->name);
		g->name = xasprintf("%s", src->name);
	}
	return 0;
}

/* ---- network callbacks ---- */

static bool past_deadline(gctx *g)
{
	struct timespec now;
	clock_gettime(CLOCK_MONOTONIC, &now);
	return now.tv_sec > g->deadline.tv_sec ||
	       (now.tv_sec == g->deadline.tv_sec && now.tv_nsec > g->deadline.tv_nsec);
}

static int cb_credentials(git_credential **out, const char *url, const char *user_from_url,
			  unsigned int allowed, void *payload)
{
	(void)url;
	gctx *g = payload;
	if (!g->token || !(allowed & GIT_CREDENTIAL_USERPASS_PLAINTEXT))
		return GIT_PASSTHROUGH;
	if (g->auth_attempts++ > 0) {
		/* the server refused the token: do not let libgit2 ask forever */
		g->auth_rejected = true;
		git_error_set_str(GIT_ERROR_NET, "authentication rejected");
		return GIT_EAUTH;
	}
	const char *user = st_source_option(g->src, "username");
	if (!user)
		user = user_from_url && *user_from_url ? user_from_url : "x-access-token";
	return git_credential_userpass_plaintext_new(out, user, g->token);
}

static int cb_transfer(const git_indexer_progress *stats, void *payload)
{
	(void)stats;
	gctx *g = payload;
	if (past_deadline(g)) {
		g->timed_out = true;
		return -1;
	}
	return 0;
}

static int cb_sideband(const char *str, int len, void *payload)
{
	(void)str, (void)len;
	return cb_transfer(NULL, payload);
}

static void init_callbacks(gctx *g, git_remote_callbacks *cbs)
{
	git_remote_init_callbacks(cbs, GIT_REMOTE_CALLBACKS_VERSION);
	cbs->credentials = cb_credentials;
	cbs->transfer_progress = cb_transfer;
	cbs->sideband_progress = cb_sideband;
	cbs->payload = g;
}

/* ---- resolving the tracked ref ---- */

static void set_branch(gctx *g, const char *refname)
{
	free(g->branch);
	g->branch = NULL;
	if (!refname)
		return;
	static const char *const prefixes[] = {"refs/heads/", "refs/tags/", "refs/remotes/",
					       "refs/"};
	for (size_t i = 0; i < ST_ARRAY_LEN(prefixes); i++) {
		size_t n = strlen(prefixes[i]);
		if (!strncmp(refname, prefixes[i], n)) {
			g->branch = xasprintf("%s", refname + n);
			return;
		}
	}
	g->branch = xasprintf("%s", refname);
}

/* Candidate full ref names for src->ref, in order: a branch wins over a tag. */
static size_t ref_candidates(const char *ref, char *out[4])
{
	size_t n = 0;
	if (!strncmp(ref, "refs/", 5))
		out[n++] = xasprintf("%s", ref);
	out[n++] = xasprintf("refs/heads/%s", ref);
	out[n++] = xasprintf("refs/tags/%s", ref);
	return n;
}

static int resolve_local(gctx *g)
{
	git_reference *ref = NULL;
	git_object *obj = NULL;
	int rc = 0, gerr;
	if (g->src->ref) {
		char *cand[4];
		size_t nc = ref_candidates(g->src->ref, cand);
		gerr = GIT_ENOTFOUND;
		for (size_t i = 0; i < nc && gerr == GIT_ENOTFOUND; i++)
			gerr = git_reference_lookup(&ref, g->repo, cand[i]);
		if (gerr == GIT_ENOTFOUND) {
			char *rr = xasprintf("refs/remotes/%s", g->src->ref);
			gerr = git_reference_lookup(&ref, g->repo, rr);
			free(rr);
		}
		for (size_t i = 0; i < nc; i++)
			free(cand[i]);
		if (gerr == GIT_ENOTFOUND) {
			rc = st_diag_set(g->diag, ST_E_NOTFOUND,
					 "source '%s': %s: no branch or tag '%s'", g->src->name,
					 g->url, g->src->ref);
			goto out;
		}
		if (gerr < 0) {
			rc = git_fail(g, gerr, "resolving the ref");
			goto out;
		}
		set_branch(g, git_reference_name(ref));
	} else {
		gerr = git_repository_head(&ref, g->repo);
		if (gerr == GIT_EUNBORNBRANCH || gerr == GIT_ENOTFOUND) {
			rc = st_diag_set(
				g->diag, ST_E_NOTFOUND,
				"source '%s': %s: HEAD points to no commit (empty repository?)",
				g->src->name, g->url);
			goto out;
		}
		if (gerr < 0) {
			rc = git_fail(g, gerr, "resolving HEAD");
			goto out;
		}
		if (!git_repository_head_detached(g->repo))
			set_branch(g, git_reference_name(ref));
	}
	gerr = git_reference_peel(&obj, ref, GIT_OBJECT_COMMIT);
	if (gerr < 0) {
		rc = git_fail(g, gerr, "the tracked ref is not a commit");
		goto out;
	}
	git_oid_cpy(&g->head, git_object_id(obj));
out:
	git_object_free(obj);
	git_reference_free(ref);
	return rc;
}

/* Remove a directory tree we created (no symlinks are followed). */
static void remove_tree(const char *path, int depth)
{
	DIR *d = depth < 8 ? opendir(path) : NULL;
	if (d) {
		struct dirent *de;
		char p[4096];
		while ((de = readdir(d))) {
			if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
				continue;
			if ((size_t)snprintf(p, sizeof(p), "%s/%s", path, de->d_name) >= sizeof(p))
				continue;
			struct stat st;
			if (lstat(p, &st) == 0 && S_ISDIR(st.st_mode))
				remove_tree(p, depth + 1);
			else
				unlink(p);
		}
		closedir(d);
	}
	rmdir(path);
}

/* Copy file src to a new file dst; -1 (dst removed) on failure. */
static int copy_file(const char *src, const char *dst)
{
	int in = open(src, O_RDONLY | O_CLOEXEC);
	if (in < 0)
		return -1;
	int out = open(dst, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0444);
	int rc = out < 0 ? -1 : 0;
	char buf[65536];
	ssize_t n;
	while (rc == 0 && (n = read(in, buf, sizeof(buf))) != 0)
		if (n < 0 || write(out, buf, (size_t)n) != n)
			rc = -1;
	close(in);
	if (out >= 0 && close(out) < 0)
		rc = -1;
	if (rc < 0 && out >= 0)
		unlink(dst);
	return rc;
}

/* Copy (hard-link where possible) every file under src into the new
 * directory dst.  Object files are immutable, so sharing their inodes with
 * the source is safe.  -1 on the first failure (dst left for the caller). */
static int copy_tree(const char *src, const char *dst, int depth)
{
	if (depth > 8 || mkdir(dst, 0777) < 0)
		return -1;
	DIR *d = opendir(src);
	if (!d)
		return -1;
	int rc = 0;
	struct dirent *de;
	char sp[4096], dp[4096];
	while (rc == 0 && (de = readdir(d))) {
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		if ((size_t)snprintf(sp, sizeof(sp), "%s/%s", src, de->d_name) >= sizeof(sp) ||
		    (size_t)snprintf(dp, sizeof(dp), "%s/%s", dst, de->d_name) >= sizeof(dp)) {
			rc = -1;
			break;
		}
		struct stat st;
		if (lstat(sp, &st) < 0)
			rc = -1;
		else if (S_ISDIR(st.st_mode))
			rc = copy_tree(sp, dp, depth + 1);
		else if (S_ISREG(st.st_mode) && link(sp, dp) < 0)
			rc = copy_file(sp, dp); /* another file system */
	}
	closedir(d);
	return rc;
}

/* First run on a file:// URL: give the new, empty mirror at `dir` a copy of
 * the source's object files, as `git clone` does for local repositories, so
 * that the fetch that follows finds every object present and transfers
 * nothing.  (libgit2's local transport would otherwise build a pack with
 * delta search: seconds for 10k commits.)  The objects are copied aside and
 * swapped in whole; on any problem the mirror is left as it was and the
 * fetch transfers everything.  A source using alternates is not copied. */
static void seed_local_mirror(const char *path, const char *dir)
{
	git_repository *srcrepo = NULL;
	git_buf from = {0};
	if (git_repository_open_ext(&srcrepo, path, GIT_REPOSITORY_OPEN_NO_SEARCH, NULL) < 0 ||
	    git_repository_item_path(&from, srcrepo, GIT_REPOSITORY_ITEM_OBJECTS) < 0)
		goto out;
	char alt[4096], tmp[4000], objects[4000], sub[4096];
	struct stat st;
	if ((size_t)snprintf(alt, sizeof(alt), "%sinfo/alternates", from.ptr) >= sizeof(alt) ||
	    stat(alt, &st) == 0)
		goto out;
	if ((size_t)snprintf(tmp, sizeof(tmp), "%s/objects.seed", dir) >= sizeof(tmp))
		goto out;
	snprintf(objects, sizeof(objects), "%s/objects", dir);
	remove_tree(tmp, 0);
	if (copy_tree(from.ptr, tmp, 0) < 0) {
		remove_tree(tmp, 0);
		goto out;
	}
	/* a new mirror's objects/ holds only the empty info/ and pack/ */
	snprintf(sub, sizeof(sub), "%s/info", objects);
	rmdir(sub);
	snprintf(sub, sizeof(sub), "%s/pack", objects);
	rmdir(sub);
	if (rmdir(objects) < 0 || rename(tmp, objects) < 0) {
		remove_tree(tmp, 0);
		mkdir(objects, 0777);
		snprintf(sub, sizeof(sub), "%s/info", objects);
		mkdir(sub, 0777);
		snprintf(sub, sizeof(sub), "%s/pack", objects);
		mkdir(sub, 0777);
	}
out:
	git_buf_dispose(&from);
	git_repository_free(srcrepo);
}

/* Open or create the bare mirror in cache_dir and an in-memory remote for
 * the location.  The remote is not stored in the mirror's config (and no
 * url.*.insteadOf rewriting applies): the location in our config is the only
 * truth, and libgit2 1.5 leaks in its config regex matching on lookup. */
static int open_mirror(gctx *g, git_remote **ret_remote)
{
	const st_source *src = g->src;
	int gerr;
	if (!src->cache_dir)
		return st_diag_set(g->diag, ST_E_INVALID,
				   "source '%s': %s: a remote repository needs a cache directory",
				   src->name, g->url);
	char *dir = xasprintf("%s/repo.git", src->cache_dir);
	gerr = git_repository_open_bare(&g->repo, dir);
	if (gerr == GIT_ENOTFOUND) {
		gerr = git_repository_init(&g->repo, dir, 1);
		if (gerr == 0 && !strncmp(src->location, "file://", 7)) {
			git_repository_free(g->repo);
			g->repo = NULL;
			seed_local_mirror(src->location + 7, dir);
			gerr = git_repository_open_bare(&g->repo, dir);
		}
	}
	if (gerr < 0) {
		int rc = git_fail(g, gerr, "opening the cache");
		st_diag_prefix(g->diag, "cache %s", dir);
		free(dir);
		return rc;
	}
	free(dir);
	git_remote_create_options opts;
	git_remote_create_options_init(&opts, GIT_REMOTE_CREATE_OPTIONS_VERSION);
	opts.repository = g->repo;
	opts.name = NULL; /* in-memory */
	opts.fetchspec = REFSPEC_HEADS;
	opts.flags = GIT_REMOTE_CREATE_SKIP_INSTEADOF;
	gerr = git_remote_create_with_opts(ret_remote, src->location, &opts);
	if (gerr < 0)
		return git_fail(g, gerr, "setting up the remote");
	return 0;
}

static const git_remote_head *find_head(const git_remote_head **heads, size_t n, const char *name)
{
	for (size_t i = 0; i < n; i++)
		if (!strcmp(heads[i]->name, name))
			return heads[i];
	return NULL;
}

/* Connect, list the remote's refs, pick the tracked one; when it names the
 * commit of prev_state return ST_SYNC_UNCHANGED without downloading,
 * otherwise fetch and update the mirror's refs. */
static int resolve_remote(gctx *g)
{
	git_remote *remote = NULL;
	git_remote_callbacks cbs;
	int rc = open_mirror(g, &remote);
	if (rc < 0)
		return rc;
	init_callbacks(g, &cbs);
	int gerr = git_remote_connect(remote, GIT_DIRECTION_FETCH, &cbs, NULL, NULL);
	if (gerr < 0) {
		rc = git_fail(g, gerr, "connecting");
		goto out;
	}
	const git_remote_head **heads;
	size_t n_heads;
	gerr = git_remote_ls(&heads, &n_heads, remote);
	if (gerr < 0) {
		rc = git_fail(g, gerr, "listing refs");
		goto out;
	}
	const git_remote_head *h = NULL;
	char *full = NULL;
	if (g->src->ref) {
		char *cand[4];
		size_t nc = ref_candidates(g->src->ref, cand);
		for (size_t i = 0; i < nc; i++) {
			if (!h && (h = find_head(heads, n_heads, cand[i])))
				full = cand[i];
			else
				free(cand[i]);
		}
		if (!h) {
			rc = st_diag_set(g->diag, ST_E_NOTFOUND,
					 "source '%s': %s: the remote has no branch or tag '%s'",
					 g->src->name, g->url, g->src->ref);
			goto out;
		}
		set_branch(g, full);
	} else {
		h = find_head(heads, n_heads, "HEAD");
		if (!h) {
			rc = st_diag_set(
				g->diag, ST_E_NOTFOUND,
				"source '%s': %s: the remote has no HEAD (empty repository?)",
				g->src->name, g->url);
			goto out;
		}
		if (h->symref_target)
			set_branch(g, h->symref_target);
		else /* old servers: a branch at the same commit */
			for (size_t i = 0; i < n_heads && !g->branch; i++)
				if (!strncmp(heads[i]->name, "refs/heads/", 11) &&
				    git_oid_equal(&heads[i]->oid, &h->oid))
					set_branch(g, heads[i]->name);
		full = xasprintf("HEAD");
	}
	/* an annotated tag: servers advertise the commit it peels to as "name^{}" */
	char *peeled_name = xasprintf("%s^{}", full);
	const git_remote_head *peeled = find_head(heads, n_heads, peeled_name);
	free(peeled_name);
	free(full);
	git_oid_cpy(&g->head, peeled ? &peeled->oid : &h->oid);
	bool known = peeled || strncmp(h->name, "refs/tags/", 10);
	if (!known) {
		/* a lightweight tag names a commit: known if the mirror has it */
		git_odb *odb = NULL;
		size_t size;
		git_object_t type = GIT_OBJECT_INVALID;
		if (git_repository_odb(&odb, g->repo) == 0 &&
		    git_odb_read_header(&size, &type, odb, &g->head) == 0)
			known = type == GIT_OBJECT_COMMIT;
		git_odb_free(odb);
		git_error_clear();
	}
	if (known) {
		snprintf(g->state, sizeof(g->state), STATE_PREFIX "%s", git_oid_tostr_s(&g->head));
		if (g->src->prev_state && !strcmp(g->src->prev_state, g->state)) {
			rc = ST_SYNC_UNCHANGED;
			goto out;
		}
	}
	git_fetch_options fo;
	git_fetch_options_init(&fo, GIT_FETCH_OPTIONS_VERSION);
	fo.callbacks = cbs;
	fo.download_tags = GIT_REMOTE_DOWNLOAD_TAGS_NONE; /* the tags refspec fetches them all */
	char *specs[] = {REFSPEC_HEADS, REFSPEC_TAGS};
	git_strarray refspecs = {specs, 2};
	gerr = git_remote_download(remote, &refspecs, &fo);
	if (gerr == 0)
		gerr = git_remote_update_tips(remote, &cbs, 0, GIT_REMOTE_DOWNLOAD_TAGS_NONE,
					      "stacktwin fetch");
	if (gerr < 0) {
		rc = git_fail(g, gerr, "fetching");
		goto out;
	}
	if (!known) { /* a tag object we now have: peel it */
		git_object *obj = NULL, *c = NULL;
		gerr = git_object_lookup(&obj, g->repo, &g->head, GIT_OBJECT_ANY);
		if (gerr == 0)
			gerr = git_object_peel(&c, obj, GIT_OBJECT_COMMIT);
		if (gerr == 0)
			git_oid_cpy(&g->head, git_object_id(c));
		git_object_free(c);
		git_object_free(obj);
		if (gerr < 0) {
			rc = git_fail(g, gerr, "the tracked ref is not a commit");
			goto out;
		}
	}
out:
	if (remote) {
		git_remote_disconnect(remote);
		git_remote_free(remote);
	}
	return rc;
}

/* ---- commit activity ---- */

static uint64_t fnv1a(const char *s)
{
	uint64_t h = 1469598103934665603ULL;
	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 1099511628211ULL;
	return h;
}

static void author_add(gctx *g, const char *name)
{
	if (!name || !*name)
		name = "(unknown)";
	char buf[AUTHOR_NAME_MAX + 1];
	size_t n = strlen(name);
	if (n > AUTHOR_NAME_MAX)
		n = AUTHOR_NAME_MAX;
	memcpy(buf, name, n);
	buf[n] = 0;
	if (2 * (g->n_authors + 1) > g->cap_authors) {
		size_t ncap = g->cap_authors ? 2 * g->cap_authors : 64;
		author *na = st_xcalloc(ncap, sizeof(author));
		for (size_t i = 0; i < g->cap_authors; i++) {
			if (!g->authors[i].name)
				continue;
			size_t j = fnv1a(g->authors[i].name) & (ncap - 1);
			while (na[j].name)
				j = (j + 1) & (ncap - 1);
			na[j] = g->authors[i];
		}
		free(g->authors);
		g->authors = na;
		g->cap_authors = ncap;
	}
	size_t j = fnv1a(buf) & (g->cap_authors - 1);
	while (g->authors[j].name && strcmp(g->authors[j].name, buf))
		j = (j + 1) & (g->cap_authors - 1);
	if (!g->authors[j].name) {
		g->authors[j].name = st_xstrndup(buf, n);
		g->n_authors++;
	}
	g->authors[j].count++;
}

static int cmp_author(const void *a, const void *b)
{
	const author *x = a, *y = b;
	if (!x->name || !y->name)
		return (x->name == NULL) - (y->name == NULL);
	if (x->count != y->count)
		return x->count > y->count ? -1 : 1;
	return strcmp(x->name, y->name);
}

/* Count commits reachable from head with a commit time in the 90 days before
 * now, by author.  The walk is in commit-time order and stops at the first
 * older commit, so its cost follows the window, not the history. */
static int activity(gctx *g, int64_t now, int64_t *ret_commits)
{
	git_revwalk *walk = NULL;
	int64_t cutoff = now - (int64_t)WINDOW_DAYS * 86400;
	int64_t n = 0;
	int rc = 0;
	int gerr = git_revwalk_new(&walk, g->repo);
	if (gerr == 0)
		gerr = git_revwalk_sorting(walk, GIT_SORT_TIME);
	if (gerr == 0)
		gerr = git_revwalk_push(walk, &g->head);
	if (gerr < 0) {
		rc = git_fail(g, gerr, "walking history");
		goto out;
	}
	git_oid oid;
	while ((gerr = git_revwalk_next(&oid, walk)) == 0) {
		git_commit *c;
		gerr = git_commit_lookup(&c, g->repo, &oid);
		if (gerr < 0)
			break;
		int64_t t = git_commit_time(c);
		if (t < cutoff) {
			git_commit_free(c);
			break;
		}
		if (t <= now) {
			n++;
			const git_signature *a = git_commit_author(c);
			author_add(g, a ? a->name : NULL);
		}
		git_commit_free(c);
	}
	if (gerr < 0 && gerr != GIT_ITEROVER) {
		rc = git_fail(g, gerr, "walking history");
		goto out;
	}
	*ret_commits = n;
out:
	git_revwalk_free(walk);
	return rc;
}

/* ---- the tree ---- */

static bool ends_with(const char *s, size_t n, const char *suffix)
{
	size_t k = strlen(suffix);
	return n >= k && !memcmp(s + n - k, suffix, k);
}

static int cb_tree(const char *root, const git_tree_entry *entry, void *payload)
{
	gctx *g = payload;
	if (++g->n_entries > TREE_ENTRIES_MAX) {
		g->limit_hit = true;
		return -1;
	}
	if (git_tree_entry_type(entry) != GIT_OBJECT_BLOB ||
	    git_tree_entry_filemode(entry) == GIT_FILEMODE_LINK)
		return 0; /* directories are descended into; submodules, symlinks skipped */
	const char *name = git_tree_entry_name(entry);
	size_t nl = strlen(name);
	fkind kind;
	if (!strcmp(name, "catalog-info.yaml"))
		kind = F_CATALOG;
	else if (ends_with(name, nl, ".yaml") || ends_with(name, nl, ".yml"))
		kind = F_MANIFEST;
	else
		return 0;
	if (g->n_files == YAML_FILES_MAX) {
		g->limit_hit = true;
		return -1;
	}
	if (g->n_files == g->cap_files) {
		g->cap_files = g->cap_files ? 2 * g->cap_files : 64;
		g->files = st_xrealloc(g->files, g->cap_files * sizeof(yfile));
	}
	yfile *f = &g->files[g->n_files++];
	f->path = xasprintf("%s%s", root, name);
	git_oid_cpy(&f->oid, git_tree_entry_id(entry));
	f->kind = kind;
	return 0;
}

static void warn_at(gctx *g, const char *path, uint32_t line, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
static void warn_at(gctx *g, const char *path, uint32_t line, const char *fmt, ...)
{
	char origin[1024], msg[1024];
	snprintf(origin, sizeof(origin), "%s:%s", g->src->name, path);
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	g->sink->warn(g->sink, (st_loc){origin, line}, msg);
}

/* ---- CODEOWNERS ---- */

typedef struct co_read {
	gctx *g;
	const char *path;
} co_read;

static void on_co_error(void *ctx, uint32_t line, const char *msg)
{
	co_read *r = ctx;
	warn_at(r->g, r->path, line, "%s", msg);
}

static const char *const codeowners_paths[] = {".github/CODEOWNERS", "CODEOWNERS",
					       "docs/CODEOWNERS"};

/* The first CODEOWNERS (GitHub's order) parsed into *ret (NULL if none). */
static int read_codeowners(gctx *g, git_tree *tree, const char **ret_path, st_codeowners **ret)
{
	*ret = NULL;
	*ret_path = NULL;
	for (size_t i = 0; i < ST_ARRAY_LEN(codeowners_paths); i++) {
		git_tree_entry *e = NULL;
		if (git_tree_entry_bypath(&e, tree, codeowners_paths[i]) < 0)
			continue;
		if (git_tree_entry_type(e) != GIT_OBJECT_BLOB) {
			git_tree_entry_free(e);
			continue;
		}
		git_blob *blob = NULL;
		int gerr = git_blob_lookup(&blob, g->repo, git_tree_entry_id(e));
		git_tree_entry_free(e);
		if (gerr < 0)
			return git_fail(g, gerr, codeowners_paths[i]);
		co_read cr = {g, codeowners_paths[i]};
		st_diag d;
		int rc = st_codeowners_parse(git_blob_rawcontent(blob),
					     (size_t)git_blob_rawsize(blob), on_co_error, &cr, ret,
					     &d);
		git_blob_free(blob);
		if (rc < 0) {
			warn_at(g, codeowners_paths[i], 0, "%s; not read", d.msg);
			*ret = NULL;
		}
		*ret_path = codeowners_paths[i];
		return 0;
	}
	return 0;
}

/* "pattern owner owner" */
static char *rule_text(const st_co_rule *r)
{
	size_t n = strlen(r->pattern) + 1;
	for (size_t i = 0; i < r->n_owners; i++)
		n += strlen(r->owners[i]) + 1;
	char *s = st_xmalloc(n);
	size_t len = strlen(r->pattern);
	memcpy(s, r->pattern, len);
	for (size_t i = 0; i < r->n_owners; i++) {
		s[len++] = ' ';
		size_t k = strlen(r->owners[i]);
		memcpy(s + len, r->owners[i], k);
		len += k;
	}
	s[len] = 0;
	return s;
}

static int emit_owner_hints(gctx *g, const st_codeowners *co, const char *co_path)
{
	const st_co_rule *r = st_codeowners_repo_rule(co);
	if (!r)
		return 0;
	char origin[1024];
	snprintf(origin, sizeof(origin), "%s:%s", g->src->name, co_path);
	char *text = rule_text(r);
	char *evidence = xasprintf("%s:%u %s", co_path, r->line, text);
	free(text);
	int rc = 0;
	for (size_t i = 0; i < r->n_owners && rc >= 0; i++) {
		const char *o = r->owners[i];
		char *value;
		const char *slash = strchr(o, '/');
		if (o[0] == '@' && slash)
			value = xasprintf("%s", slash + 1); /* @org/team -> team slug */
		else if (o[0] == '@')
			value = xasprintf("user:%s", o + 1);
		else
			value = xasprintf("user:%s", o);
		rc = g->sink->hint(g->sink, g->repo_id, strlen(g->repo_id), ST_HINT_TEAM, value,
				   strlen(value), "codeowners", evidence, (st_loc){origin, r->line},
				   g->diag);
		free(value);
	}
	free(evidence);
	return rc;
}

/* ---- the Repository node ---- */

static int emit_repository(gctx *g, git_commit *commit, const st_codeowners *co,
			   const char *co_path)
{
	int64_t now = (int64_t)time(NULL), commits = 0;
	int rc = activity(g, now, &commits);
	if (rc < 0)
		return rc;
	author *top = NULL;
	size_t n_top = 0;
	if (g->n_authors) {
		top = st_xmalloc(g->cap_authors * sizeof(author));
		memcpy(top, g->authors, g->cap_authors * sizeof(author));
		qsort(top, g->cap_authors, sizeof(author), cmp_author);
		n_top = g->n_authors < TOP_AUTHORS ? g->n_authors : TOP_AUTHORS;
	}
	st_pb pb;
	st_pb_init(&pb);
	char hex[GIT_OID_HEXSZ + 1];
	git_oid_tostr(hex, sizeof(hex), &g->head);
	st_pb_string(&pb, "name", 4, g->name, strlen(g->name));
	st_pb_string(&pb, "url", 3, g->url, strlen(g->url));
	if (g->branch)
		st_pb_string(&pb, "default_branch", 14, g->branch, strlen(g->branch));
	st_pb_string(&pb, "head_commit", 11, hex, strlen(hex));
	st_pb_timestamp(&pb, "last_commit_at", 14, (int64_t)git_commit_time(commit));
	st_pb_int(&pb, "commits_90d", 11, commits);
	st_pb_list_begin(&pb, "top_authors", 11);
	for (size_t i = 0; i < n_top; i++) {
		char buf[AUTHOR_NAME_MAX + 32];
		int k = snprintf(buf, sizeof(buf), "%s (%llu)", top[i].name,
				 (unsigned long long)top[i].count);
		st_pb_list_add(&pb, buf, (size_t)k);
	}
	rc = st_pb_end(&pb, g->diag);
	if (rc >= 0 && co_path) {
		st_pb_string(&pb, "codeowners_file", 15, co_path, strlen(co_path));
		st_pb_list_begin(&pb, "codeowners", 10);
		for (size_t i = 0; i < st_codeowners_count(co); i++) {
			char *t = rule_text(st_codeowners_rule(co, i));
			st_pb_list_add(&pb, t, strlen(t));
			free(t);
		}
		rc = st_pb_end(&pb, g->diag);
	}
	const uint8_t *blob;
	size_t blen;
	if (rc >= 0)
		rc = st_pb_finish(&pb, &blob, &blen, g->diag);
	if (rc >= 0) {
		int type = st_schema_find_node_type(g->sink->schema, "Repository", 10);
		if (type < 0)
			rc = st_diag_set(g->diag, ST_E_SCHEMA, "the schema has no Repository type");
		else
			rc = g->sink->node(g->sink, g->repo_id, strlen(g->repo_id), type, blob,
					   blen, (st_loc){g->src->name, 0}, g->diag);
	}
	st_pb_free(&pb);
	free(top);
	if (rc < 0)
		st_diag_prefix(g->diag, "source '%s'", g->src->name);
	return rc;
}

/* ---- catalogs and manifests ---- */

/* Read a blob of at most max bytes; 1 with *ret_blob, 0 if too large (size in
 * *ret_size), <0 on error. */
static int read_blob(gctx *g, const yfile *f, size_t max, git_blob **ret_blob, size_t *ret_size)
{
	git_odb *odb = NULL;
	size_t size = 0;
	git_object_t type;
	int gerr = git_repository_odb(&odb, g->repo);
	if (gerr == 0)
		gerr = git_odb_read_header(&size, &type, odb, &f->oid);
	git_odb_free(odb);
	if (gerr < 0)
		return git_fail(g, gerr, f->path);
	*ret_size = size;
	if (size > max)
		return 0;
	gerr = git_blob_lookup(ret_blob, g->repo, &f->oid);
	if (gerr < 0)
		return git_fail(g, gerr, f->path);
	return 1;
}

/* A Kubernetes manifest names apiVersion and kind; a templated file (Helm
 * chart templates, "{{ ... }}") is not YAML until rendered, so it is not one. */
static bool looks_like_manifest(const char *p, size_t n)
{
	return memmem(p, n, "apiVersion:", 11) && memmem(p, n, "kind:", 5) &&
	       !memmem(p, n, "{{", 2);
}

/* A set of strings (paths already parsed as catalogs). */
typedef struct strset {
	char **v; /* open addressing; cap a power of two */
	size_t n, cap;
} strset;

/* true if s was added, false if it was there already. */
static bool strset_add(strset *set, const char *s)
{
	if (2 * (set->n + 1) > set->cap) {
		size_t ncap = set->cap ? 2 * set->cap : 64;
		char **nv = st_xcalloc(ncap, sizeof(char *));
		for (size_t i = 0; i < set->cap; i++) {
			if (!set->v[i])
				continue;
			size_t j = fnv1a(set->v[i]) & (ncap - 1);
			while (nv[j])
				j = (j + 1) & (ncap - 1);
			nv[j] = set->v[i];
		}
		free(set->v);
		set->v = nv;
		set->cap = ncap;
	}
	size_t j = fnv1a(s) & (set->cap - 1);
	while (set->v[j]) {
		if (!strcmp(set->v[j], s))
			return false;
		j = (j + 1) & (set->cap - 1);
	}
	set->v[j] = xasprintf("%s", s);
	set->n++;
	return true;
}

static bool strset_has(const strset *set, const char *s)
{
	if (!set->cap)
		return false;
	size_t j = fnv1a(s) & (set->cap - 1);
	while (set->v[j]) {
		if (!strcmp(set->v[j], s))
			return true;
		j = (j + 1) & (set->cap - 1);
	}
	return false;
}

static void strset_free(strset *set)
{
	for (size_t i = 0; i < set->cap; i++)
		free(set->v[i]);
	free(set->v);
}

/* Resolve a Location target written in the file at `from` to a path in the
 * repository: NULL (and *why) when it is a URL, absolute, a glob or leaves
 * the repository. */
static char *resolve_target(const char *from, const char *target, const char **why)
{
	size_t k =
		strspn(target, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789+.-");
	if (k && target[k] == ':') {
		*why = "is a URL";
		return NULL;
	}
	if (target[0] == '/') {
		*why = "is an absolute path";
		return NULL;
	}
	if (strpbrk(target, "*?[")) {
		*why = "is a glob";
		return NULL;
	}
	const char *slash = strrchr(from, '/');
	size_t dl = slash ? (size_t)(slash - from) + 1 : 0;
	size_t tl = strlen(target);
	char *joined = st_xmalloc(dl + tl + 1);
	memcpy(joined, from, dl);
	memcpy(joined + dl, target, tl + 1);
	/* normalise '.', '..' and empty segments in place */
	char *out = st_xmalloc(dl + tl + 1);
	size_t len = 0;
	for (char *seg = joined; *seg;) {
		size_t n = strcspn(seg, "/");
		if ((n == 1 && seg[0] == '.') || n == 0) {
			/* nothing */
		} else if (n == 2 && seg[0] == '.' && seg[1] == '.') {
			if (!len) {
				free(joined);
				free(out);
				*why = "leaves the repository";
				return NULL;
			}
			while (len && out[len - 1] != '/')
				len--;
			if (len)
				len--; /* the '/' */
		} else {
			if (len)
				out[len++] = '/';
			memcpy(out + len, seg, n);
			len += n;
		}
		seg += n;
		if (*seg == '/')
			seg++;
	}
	out[len] = 0;
	free(joined);
	if (!len) {
		free(out);
		*why = "names no file";
		return NULL;
	}
	return out;
}

typedef struct catq {
	char **paths; /* catalog files still to parse, with their origin */
	size_t n, cap, head;
} catq;

static void catq_push(catq *q, const char *path)
{
	if (q->n == q->cap) {
		q->cap = q->cap ? 2 * q->cap : 64;
		q->paths = st_xrealloc(q->paths, q->cap * sizeof(char *));
	}
	q->paths[q->n++] = xasprintf("%s", path);
}

/* Look a path up in the tree: 1 with *ret_oid, 0 if absent or not a file. */
static int tree_file(git_tree *tree, const char *path, git_oid *ret_oid)
{
	git_tree_entry *e = NULL;
	if (git_tree_entry_bypath(&e, tree, path) < 0)
		return 0;
	int found = git_tree_entry_type(e) == GIT_OBJECT_BLOB &&
		    git_tree_entry_filemode(e) != GIT_FILEMODE_LINK;
	if (found)
		git_oid_cpy(ret_oid, git_tree_entry_id(e));
	git_tree_entry_free(e);
	return found;
}

/* Parse one catalog file and queue the in-repository targets of its
 * Location entities (each path once: `seen`). */
static int parse_catalog(gctx *g, git_tree *tree, const yfile *f, strset *seen, catq *q)
{
	git_blob *blob = NULL;
	size_t size = 0;
	int rc = read_blob(g, f, ST_CATALOG_MAX_BYTES, &blob, &size);
	if (rc <= 0) {
		if (rc == 0)
			warn_at(g, f->path, 0, "%zu bytes, more than %zu: not read", size,
				(size_t)ST_CATALOG_MAX_BYTES);
		return rc;
	}
	st_parse_ctx ctx = {.source = g->src->name, .path = f->path, .repo_id = g->repo_id};
	st_strv targets = {0};
	st_diag d;
	rc = st_backstage_parse(g->sink, &ctx, git_blob_rawcontent(blob),
				(size_t)git_blob_rawsize(blob), NULL, &targets, &d);
	git_blob_free(blob);
	if (rc == ST_E_INVALID) {
		rc = 0; /* the parser has warned; the other files still count */
		goto out;
	}
	if (rc < 0) {
		st_diag_set(g->diag, rc, "source '%s': %s", g->src->name, d.msg);
		goto out;
	}
	for (size_t i = 0; i < targets.n; i++) {
		const char *why = NULL;
		char *p = resolve_target(f->path, targets.v[i], &why);
		if (!p) {
			warn_at(g, f->path, 0, "Location target '%.200s' %s: not followed",
				targets.v[i], why);
			continue;
		}
		git_oid oid;
		if (!tree_file(tree, p, &oid)) {
			warn_at(g, f->path, 0,
				"Location target '%.200s' (%.200s) is not in the repository",
				targets.v[i], p);
			free(p);
			continue;
		}
		if (strset_add(seen, p)) {
			if (q->n >= LOCATION_FOLLOW_MAX) {
				free(p);
				rc = st_diag_set(g->diag, ST_E_LIMIT,
						 "source '%s': more than %u Location targets",
						 g->src->name, LOCATION_FOLLOW_MAX);
				goto out;
			}
			catq_push(q, p);
		}
		free(p);
	}
out:
	st_strv_free(&targets);
	return rc;
}

static int process_files(gctx *g, git_tree *tree)
{
	strset seen = {0};
	catq q = {0};
	st_manifests *set = NULL;
	int rc = 0;
	/* catalog-info.yaml files first, then whatever their Locations name */
	for (size_t i = 0; i < g->n_files; i++)
		if (g->files[i].kind == F_CATALOG && strset_add(&seen, g->files[i].path))
			catq_push(&q, g->files[i].path);
	for (; q.head < q.n && rc >= 0; q.head++) {
		yfile f = {.path = q.paths[q.head], .kind = F_CATALOG};
		if (!tree_file(tree, f.path, &f.oid))
			continue; /* reported by the file that named it */
		rc = parse_catalog(g, tree, &f, &seen, &q);
	}
	if (rc < 0)
		goto out;

	const char *cluster = st_source_option(g->src, "cluster");
	rc = st_manifests_new(cluster ? cluster : "declared", &set, g->diag);
	if (rc < 0) {
		st_diag_prefix(g->diag, "source '%s': option cluster", g->src->name);
		goto out;
	}
	for (size_t i = 0; i < g->n_files && rc >= 0; i++) {
		const yfile *f = &g->files[i];
		if (f->kind != F_MANIFEST || strset_has(&seen, f->path))
			continue;
		git_blob *blob = NULL;
		size_t size = 0;
		rc = read_blob(g, f, MANIFEST_MAX_BYTES, &blob, &size);
		if (rc <= 0)
			continue; /* larger than a manifest we read: not one */
		rc = 0;
		const char *buf = git_blob_rawcontent(blob);
		size_t len = (size_t)git_blob_rawsize(blob);
		if (looks_like_manifest(buf, len)) {
			st_parse_ctx ctx = {
				.source = g->src->name, .path = f->path, .repo_id = g->repo_id};
			st_diag d;
			rc = st_manifests_add(set, &ctx, buf, len, g->sink, NULL, &d);
			if (rc == ST_E_INVALID)
				rc = 0; /* warned by the parser */
			else if (rc < 0)
				st_diag_set(g->diag, rc, "source '%s': %s", g->src->name, d.msg);
		}
		git_blob_free(blob);
	}
	if (rc >= 0)
		rc = st_manifests_emit(set, g->sink, NULL, g->diag);
out:
	st_manifests_free(set);
	for (size_t i = 0; i < q.n; i++)
		free(q.paths[i]);
	free(q.paths);
	strset_free(&seen);
	return rc;
}

/* ---- the run ---- */

static void free_ctx(gctx *g)
{
	st_secret_free(g->token);
	free(g->url);
	free(g->repo_id);
	free(g->name);
	free(g->branch);
	git_repository_free(g->repo);
	for (size_t i = 0; i < g->n_files; i++)
		free(g->files[i].path);
	free(g->files);
	for (size_t i = 0; i < g->cap_authors; i++)
		free(g->authors[i].name);
	free(g->authors);
}

static int read_commit(gctx *g)
{
	git_commit *commit = NULL;
	git_tree *tree = NULL;
	st_codeowners *co = NULL;
	const char *co_path = NULL;
	int rc;
	int gerr = git_commit_lookup(&commit, g->repo, &g->head);
	if (gerr == 0)
		gerr = git_commit_tree(&tree, commit);
	if (gerr < 0) {
		rc = git_fail(g, gerr, "reading the commit");
		goto out;
	}
	rc = read_codeowners(g, tree, &co_path, &co);
	if (rc < 0)
		goto out;
	rc = emit_repository(g, commit, co, co_path);
	if (rc < 0)
		goto out;
	if (co) {
		rc = emit_owner_hints(g, co, co_path);
		if (rc < 0)
			goto out;
	}
	gerr = git_tree_walk(tree, GIT_TREEWALK_PRE, cb_tree, g);
	if (g->limit_hit) {
		rc = st_diag_set(g->diag, ST_E_LIMIT,
				 "source '%s': %s: more than %u tree entries or %u YAML files",
				 g->src->name, g->url, TREE_ENTRIES_MAX, YAML_FILES_MAX);
		goto out;
	}
	if (gerr < 0) {
		rc = git_fail(g, gerr, "walking the tree");
		goto out;
	}
	rc = process_files(g, tree);
out:
	st_codeowners_free(co);
	git_tree_free(tree);
	git_commit_free(commit);
	return rc;
}

static int check_options(const st_source *src, st_diag *diag)
{
	static const char *const known[] = {"id", "username", "cluster"};
	for (size_t i = 0; i < src->n_options; i++) {
		size_t k = 0;
		while (k < ST_ARRAY_LEN(known) && strcmp(src->options[i].key, known[k]))
			k++;
		if (k == ST_ARRAY_LEN(known))
			return st_diag_set(diag, ST_E_INVALID,
					   "source '%s': unknown option '%s' (git takes id, "
					   "username, cluster)",
					   src->name, src->options[i].key);
		if (!*src->options[i].value)
			return st_diag_set(diag, ST_E_INVALID, "source '%s': option %s is empty",
					   src->name, src->options[i].key);
	}
	return 0;
}

static int run(const st_source *src, st_sink *sink, st_diag *diag)
{
	gctx g = {.src = src, .sink = sink, .diag = diag};
	int rc = check_options(src, diag);
	if (rc < 0)
		return rc;
	if (!src->location || !*src->location)
		return st_diag_set(diag, ST_E_INVALID, "source '%s': no location", src->name);
	git_libgit2_init();
	g.remote = is_url(src->location);
	const char *colon = strchr(src->location, ':');
	if (!g.remote && colon && colon > src->location &&
	    !memchr(src->location, '/', (size_t)(colon - src->location))) {
		/* "ssh://host/x", "git@host:x": not a path either */
		rc = st_diag_set(diag, ST_E_INVALID,
				 "source '%s': %.*s...: unsupported location (git takes a path, "
				 "file://, https:// or http://)",
				 src->name, (int)(colon - src->location), src->location);
		goto out;
	}
	rc = set_identity(&g);
	if (rc < 0)
		goto out;
	double timeout = src->timeout_s > 0 ? src->timeout_s : DEFAULT_TIMEOUT_S;
	clock_gettime(CLOCK_MONOTONIC, &g.deadline);
	g.deadline.tv_sec += (time_t)timeout;
	g.deadline.tv_nsec += (long)((timeout - (double)(time_t)timeout) * 1e9);
	if (g.deadline.tv_nsec >= 1000000000L) {
		g.deadline.tv_sec++;
		g.deadline.tv_nsec -= 1000000000L;
	}
	if (g.remote) {
		if (strncmp(src->location, "file://", 7)) {
			rc = st_source_token(src, &g.token, diag);
			if (rc < 0)
				goto out;
			if (src->token_env)
				snprintf(g.token_what_buf, sizeof(g.token_what_buf),
					 "environment variable %s", src->token_env);
			else if (src->token_file)
				snprintf(g.token_what_buf, sizeof(g.token_what_buf),
					 "token file %s", src->token_file);
			g.token_what = g.token_what_buf;
		}
		rc = resolve_remote(&g);
	} else {
		int gerr = git_repository_open_ext(&g.repo, src->location,
						   GIT_REPOSITORY_OPEN_NO_SEARCH, NULL);
		if (gerr < 0) {
			rc = git_fail(&g, gerr, "opening the repository");
			goto out;
		}
		rc = resolve_local(&g);
	}
	if (rc < 0)
		goto out;
	snprintf(g.state, sizeof(g.state), STATE_PREFIX "%s", git_oid_tostr_s(&g.head));
	sink->set_state(sink, g.state);
	if (rc == ST_SYNC_UNCHANGED || (src->prev_state && !strcmp(src->prev_state, g.state))) {
		rc = ST_SYNC_UNCHANGED;
		goto out;
	}
	rc = read_commit(&g);
out:
	free_ctx(&g);
	git_libgit2_shutdown();
	return rc;
}

const st_connector st_connector_git = {
	"git",
	"a Git repository (local path, file:// or https URL): Repository, CODEOWNERS, "
	"catalog-info.yaml and Kubernetes manifests at the tracked ref",
	run,
};
