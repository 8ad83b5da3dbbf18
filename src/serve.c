/*
 * serve.c — `stacktwin serve`: routes, parameters, authentication and the
 * thread-pool plumbing of the HTTP query API (docs/api.md).
 *
 * The loop thread only routes, checks the method, the bearer token and the
 * route's role, and hands each request to the libuv thread pool
 * (st_http_defer + uv_queue_work).  A worker decodes the query parameters,
 * takes its own store snapshot, runs one query from query/ and renders it
 * with render.c, the same JSON as `stacktwin query --json`; the after-work
 * callback answers on the loop thread.  List answers page with an opaque
 * cursor (revision, position and a hash of the other parameters) that this
 * file makes and checks.  Shared state between workers lives in `struct
 * server`: the store handle under a rwlock (NULL while the store cannot be
 * opened: the API answers 503 and a request retries the open at most once a
 * second; the admin route reopens it), and the dependency graph of the latest
 * revision and a pool of visited-set bitmaps under one mutex.
 *
 * Tokens come from the config file (by environment variable, file or
 * SHA-256) and --token-file; only their SHA-256 is kept, and a presented
 * token is hashed and compared with every configured hash.  It also serves
 * GET /metrics (Prometheus text, metrics.c), counting the HTTP core's own
 * protocol errors too, and, with --web DIR, the static files of the web
 * viewer.  The request counters are updated and read on the loop thread
 * only, where every response is sent, so they need no lock.  This file must
 * not format query answers itself (render.c does) nor log a token or a
 * request body.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <uv.h>
#include <yajl/yajl_gen.h>

#include "config.h"
#include "http.h"
#include "metrics.h"
#include "query.h"
#include "props.h"
#include "render.h"
#include "scheduler.h"
#include "schema.h"
#include "serve.h"
#include "store.h"

#define EXIT_ERROR 2
#define MAX_PARAMS 16		   /* query parameters per request */
#define MAX_TOKEN 4096		   /* bytes of a bearer token */
#define SCRATCH_POOL 8		   /* idle visited-set bitmaps kept */
#define DEFAULT_MAX_ROWS 10000	   /* cap on `limit` unless server.limits.max_rows */
#define DEFAULT_LIMIT 100	   /* rows per page when `limit` is absent */
#define API_MAX_NODES 100000	   /* neighbourhood and owned-by caps */
#define SEARCH_MAX_SCAN 1000000	   /* search matches a page may start after */
#define WEB_MAX_FILE (16u << 20)   /* bytes of one static file (the core's response cap) */
#define STORE_RETRY_NS 1000000000u /* at most one open attempt per second */
#define SCHED_FIRST_MS 2000	   /* first scheduled syncs, after start */
#define RETRY_AFTER "5"		   /* seconds, on every 503 of an unavailable store */

static const char serve_usage[] =
	"usage: stacktwin serve [--config FILE] [--db DIR] [--listen HOST:PORT] [--token-file FILE]\n"
	"                       [--allow-anonymous-read] [--schema FILE] [--web DIR]\n"
	"\n"
	"Serves the query API (docs/api.md) as JSON over HTTP/1.1.\n"
	"  --config FILE             store, server.listen, server.web, server.tokens,\n"
	"                            server.allow_anonymous_read and server.limits from FILE;\n"
	"                            the options below override it\n"
	"  --db DIR                  the store (else `store:` of the config)\n"
	"  --listen HOST:PORT        address to listen on [127.0.0.1:8080]; port 0 = any free port\n"
	"  --token-file FILE         one more token, role admin: 'Authorization: Bearer <first line of FILE>'\n"
	"  --allow-anonymous-read    serve the read routes without a token (required without tokens)\n"
	"  --web DIR                 serve the static files of DIR at / (no token needed)\n"
	"Stops gracefully on SIGTERM or SIGINT.\n";

/* A dependency graph shared by the workers that use it. */
struct dgref {
	st_depgraph *g;
	unsigned refs;
};

struct scratch {
	uint64_t *bits;
	size_t words;
};

/* The route label of the request metrics: a fixed set, never the raw path. */
enum label {
	L_HEALTHZ,
	L_STATS,
	L_NODE,
	L_SEARCH,
	L_BLAST,
	L_OWNERS,
	L_OWNED_BY,
	L_COST,
	L_PATH,
	L_NEIGHBOURS,
	L_WHOAMI,
	L_REOPEN,
	L_SOURCES,
	L_SYNC,
	L_METRICS,
	L_INDEX,    /* "/" without --web */
	L_STATIC,   /* a file under --web */
	L_UNKNOWN,  /* no route */
	L_PROTOCOL, /* errors the HTTP core answers itself (never a handler's request) */
	N_LABELS
};

static const char *const label_names[N_LABELS] = {
	[L_HEALTHZ] = "healthz",       [L_STATS] = "stats",	   [L_NODE] = "node",
	[L_SEARCH] = "search",	       [L_BLAST] = "blast-radius", [L_OWNERS] = "owners",
	[L_OWNED_BY] = "owned-by",     [L_COST] = "cost",	   [L_PATH] = "path",
	[L_NEIGHBOURS] = "neighbours", [L_WHOAMI] = "whoami",	   [L_REOPEN] = "admin-reopen",
	[L_SOURCES] = "sources",       [L_SYNC] = "source-sync",
	[L_METRICS] = "metrics",       [L_INDEX] = "index",	   [L_STATIC] = "static",
	[L_UNKNOWN] = "unknown",       [L_PROTOCOL] = "protocol",
};

/* What a route asks of the caller. */
enum need { NEED_NONE, NEED_READ, NEED_ADMIN };

/* One accepted token: only its hash is kept. */
struct token {
	char *name;
	st_role role;
	uint8_t sha256[32];
};

/* What the metrics need to know about a request until it is answered. */
struct tally {
	enum label label;
	uint64_t t0; /* uv_hrtime() when the handler got it */
};

struct server {
	uv_loop_t loop;
	st_http_server *http;
	st_metrics *metrics; /* loop thread only */
	char *web_root;	     /* realpath of --web, NULL when not given */
	size_t web_root_len;
	st_schema *schema;
	char *db; /* the store directory */
	struct token *tokens;
	size_t n_tokens;
	bool anon; /* the read routes need no token */
	size_t max_rows;
	uv_signal_t sig_term, sig_int;
	/* Traversals run at most heavy_max at a time, so point lookups always
	 * find a free pool worker; the others wait here, in arrival order. */
	unsigned heavy_running, heavy_max;
	struct job *heavy_head, *heavy_tail;
	bool stopping;
	/* Readers hold store_lock while they use st; (re)opening takes it for
	 * writing, so the store is never closed under a snapshot. */
	pthread_rwlock_t store_lock;
	st_store *st;		 /* NULL while the store cannot be opened */
	char store_err[1200];	 /* why st is NULL */
	uint64_t store_retry_ns; /* uv_hrtime() of the next open attempt */
	bool writable;		 /* config sources: the server syncs, so it opens read-write */
	const st_config *cfg;
	st_sched *sched; /* NULL without config sources */
	pthread_mutex_t lock;	 /* guards dg and pool */
	struct dgref *dg;	 /* for the newest revision seen so far */
	struct scratch pool[SCRATCH_POOL];
	size_t n_pool;
};

struct param {
	const char *key;
	const char *val;
};

struct job;
typedef void (*route_fn)(struct job *j, st_snap *s);

enum {
	F_PROMETHEUS = 1u << 0, /* answered with st_metrics_render() after the worker */
	F_POST = 1u << 1,	/* POST only (else GET and HEAD) */
	F_PREFIX = 1u << 2,	/* path is a prefix; the rest is a percent-encoded argument */
	F_NOSTORE = 1u << 3,	/* the worker runs fn without a snapshot */
	F_HEALTH = 1u << 4,	/* answers 503 JSON (not problem+json) when the store is down */
	F_SOURCES = 1u << 5,	/* needs the scheduler's state, copied on the loop thread */
	F_HEAVY = 1u << 6,	/* a traversal: at most HEAVY_MAX run at once (the rest wait) */
};

struct route {
	const char *path;
	route_fn fn;
	enum need need;
	const char *const *params; /* allowed parameter names, NULL-terminated */
	enum label label;
	unsigned flags;
};

#define CURSOR_TEXT 48 /* base64url of the cursor record, NUL-terminated */

struct job {
	struct job *heavy_next; /* F_HEAVY jobs waiting for a slot */
	uv_work_t work;
	struct server *srv;
	st_http_request *req;
	const struct route *route;
	char *query;   /* raw copy, decoded in place by the worker */
	char *path_id; /* F_PREFIX: the raw rest of the path, decoded by the worker */
	struct param params[MAX_PARAMS];
	size_t n_params;
	yajl_gen g;
	int status;
	bool retry_after; /* 503 of an unavailable store */
	bool unavailable; /* F_HEALTH: answer {"status":"unavailable"} */
	char detail[4608];
	char next_cursor[CURSOR_TEXT];
	struct tally t;
	st_metrics_gauges gauges; /* /metrics: store part, filled by the worker */
	st_sched_info *infos;	  /* F_SOURCES: the scheduler's state at arrival */
	size_t n_infos;
	st_metrics_source *msrc;  /* /metrics: per source, store part by the worker */
	size_t n_msrc;
	char **msrc_names;
};

/* ---------------------------------------------------------- job results */

static void problem(struct job *j, int status, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static void problem(struct job *j, int status, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(j->detail, sizeof(j->detail), fmt, ap);
	va_end(ap);
	j->status = status;
}

/* An engine error as an HTTP status. */
static void engine_error(struct job *j, int r, const st_diag *d, const char *what)
{
	int status = r == ST_E_INVALID	? 400 :
		     r == ST_E_NOTFOUND ? 404 :
		     r == ST_E_LIMIT	? 422 :
		     r == -ENOMEM	? 503 :
					  500;
	problem(j, status, "%s: %s", what, d->msg[0] ? d->msg : st_strerror(r));
}

/* -------------------------------------------------------------- params */

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* Percent-decode s in place ('+' is a space when plus_space: query strings,
 * not paths); false on a bad escape or NUL. */
static bool pct_decode(char *s, bool plus_space)
{
	char *o = s;
	for (const char *p = s; *p; p++) {
		if (*p == '%') {
			int hi = hexval(p[1]), lo = hi >= 0 ? hexval(p[2]) : -1;
			if (hi < 0 || lo < 0 || (hi == 0 && lo == 0))
				return false;
			*o++ = (char)(hi * 16 + lo);
			p += 2;
		} else {
			*o++ = *p == '+' && plus_space ? ' ' : *p;
		}
	}
	*o = 0;
	return true;
}

static bool parse_params(struct job *j)
{
	char *p = j->query;
	while (p && *p) {
		char *amp = strchr(p, '&');
		if (amp)
			*amp = 0;
		if (*p) {
			char *eq = strchr(p, '=');
			char *val = p + strlen(p);
			if (eq) {
				*eq = 0;
				val = eq + 1;
			}
			if (!pct_decode(p, true) || !pct_decode(val, true)) {
				problem(j, 400, "bad percent-encoding in the query string");
				return false;
			}
			bool known = false;
			for (const char *const *a = j->route->params; a && *a; a++)
				known |= !strcmp(*a, p);
			if (!known) {
				problem(j, 400, "unknown parameter '%.64s' for %s", p,
					j->route->path);
				return false;
			}
			for (size_t i = 0; i < j->n_params; i++)
				if (!strcmp(j->params[i].key, p)) {
					problem(j, 400, "parameter '%s' given twice", p);
					return false;
				}
			if (j->n_params == MAX_PARAMS) {
				problem(j, 400, "too many parameters");
				return false;
			}
			j->params[j->n_params++] = (struct param){p, val};
		}
		p = amp ? amp + 1 : NULL;
	}
	return true;
}

/* The value of a parameter, NULL when absent (an empty value counts as absent). */
static const char *param(const struct job *j, const char *key)
{
	for (size_t i = 0; i < j->n_params; i++)
		if (!strcmp(j->params[i].key, key))
			return j->params[i].val[0] ? j->params[i].val : NULL;
	return NULL;
}

static bool num_param(struct job *j, const char *key, long lo, long hi, long dflt, long *ret)
{
	const char *v = param(j, key);
	if (!v) {
		*ret = dflt;
		return true;
	}
	char *end;
	errno = 0;
	long x = strtol(v, &end, 10);
	if (errno || *end || end == v || v[0] == '+' || v[0] == ' ' || x < lo || x > hi) {
		problem(j, 400, "parameter '%s' takes a whole number from %ld to %ld", key, lo, hi);
		return false;
	}
	*ret = x;
	return true;
}

static bool need_param(struct job *j, const char *key, const char **ret)
{
	*ret = param(j, key);
	if (!*ret)
		problem(j, 400, "parameter '%s' is required", key);
	return *ret != NULL;
}

/* Resolve a node id parameter; 400 when missing, 404 with suggestions when unknown. */
static bool node_param(struct job *j, st_snap *s, const char *key, st_id *ret)
{
	const char *id;
	if (!need_param(j, key, &id))
		return false;
	if (st_snap_lookup(s, id, strlen(id), ret) == 0)
		return true;
	char msg[4096];
	st_render_unknown_node(s, id, msg, sizeof(msg));
	problem(j, 404, "%s", msg);
	return false;
}

static bool edges_param(struct job *j, st_snap *s, st_edge_set *ret)
{
	*ret = 0;
	const char *v = param(j, "edges");
	st_diag d = {{0}};
	if (v && st_edge_set_parse(st__snap_schema(s), v, ret, &d)) {
		problem(j, 400, "edges: %s", d.msg);
		return false;
	}
	return true;
}

static bool day_param(struct job *j, const char *key, int32_t *ret)
{
	const char *v = param(j, key);
	if (v && st_day_parse(v, strlen(v), ret) == 0)
		return true;
	problem(j, 400, "parameter '%s' takes a day YYYY-MM-DD", key);
	return false;
}

/* from/to days: both or (unless required) neither; to >= from. */
static bool window_params(struct job *j, bool required, int32_t *from, int32_t *to)
{
	*from = *to = 0;
	if (!required && !param(j, "from") && !param(j, "to"))
		return true;
	if (!day_param(j, "from", from) || !day_param(j, "to", to))
		return false;
	if (*to < *from) {
		problem(j, 400, "'to' is before 'from'");
		return false;
	}
	return true;
}

static bool metric_param(struct job *j, st_metric *m)
{
	const char *v = param(j, "metric");
	*m = ST_METRIC_EFFECTIVE;
	if (!v || !strcmp(v, "effective"))
		return true;
	if (!strcmp(v, "billed")) {
		*m = ST_METRIC_BILLED;
		return true;
	}
	problem(j, 400, "parameter 'metric' is effective or billed");
	return false;
}

/* ------------------------------------------------ shared worker state */

static void dg_unref_locked(struct dgref *r)
{
	if (r && --r->refs == 0) {
		st_depgraph_free(r->g);
		free(r);
	}
}

/* The dependency graph for the snapshot's revision, built on first use and
 * replaced when a newer revision shows up; NULL (traverse the store) if the
 * snapshot is older than the cached graph or the build failed. */
static struct dgref *dg_acquire(struct server *srv, st_snap *s)
{
	uint64_t rev = st_snap_revision(s);
	struct dgref *ref = NULL;
	pthread_mutex_lock(&srv->lock);
	if (!srv->dg || st_depgraph_revision(srv->dg->g) < rev) {
		st_depgraph *g;
		st_diag d = {{0}};
		struct dgref *n = malloc(sizeof(*n));
		if (n && st_depgraph_build(s, &g, &d) == 0) {
			n->g = g;
			n->refs = 1;
			dg_unref_locked(srv->dg);
			srv->dg = n;
		} else {
			free(n);
		}
	}
	if (srv->dg && st_depgraph_revision(srv->dg->g) == rev) {
		ref = srv->dg;
		ref->refs++;
	}
	pthread_mutex_unlock(&srv->lock);
	return ref;
}

static void dg_release(struct server *srv, struct dgref *r)
{
	if (!r)
		return;
	pthread_mutex_lock(&srv->lock);
	dg_unref_locked(r);
	pthread_mutex_unlock(&srv->lock);
}

/* A zeroed bitmap of at least `words` words from the pool, or a new one;
 * bits NULL if out of memory (the query then allocates its own). */
static struct scratch scratch_get(struct server *srv, size_t words)
{
	struct scratch sc = {NULL, 0};
	pthread_mutex_lock(&srv->lock);
	while (srv->n_pool && !sc.bits) {
		struct scratch c = srv->pool[--srv->n_pool];
		if (c.words >= words)
			sc = c;
		else
			free(c.bits);
	}
	pthread_mutex_unlock(&srv->lock);
	if (!sc.bits) {
		sc.bits = calloc(words ? words : 1, sizeof(uint64_t));
		sc.words = sc.bits ? words : 0;
	}
	return sc;
}

static void scratch_put(struct server *srv, struct scratch sc)
{
	if (!sc.bits)
		return;
	pthread_mutex_lock(&srv->lock);
	if (srv->n_pool < SCRATCH_POOL) {
		srv->pool[srv->n_pool++] = sc;
		sc.bits = NULL;
	}
	pthread_mutex_unlock(&srv->lock);
	free(sc.bits);
}

/* -------------------------------------------------------------- cursor */

/* A cursor is the base64url (no padding) of a 25-byte record: version (1),
 * store revision (8, big-endian), position of the next row (8) and the first
 * 8 bytes of the SHA-256 of the route label and the other parameters (sorted
 * key/value pairs, without `cursor` and `limit`, so the page size may change
 * between pages).  It is not secret and not signed: a forged position only
 * selects rows the caller may read anyway, and is bounds-checked. */
#define CURSOR_VERSION 1
#define CURSOR_BYTES 25

static const char b64url[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

static void b64url_encode(const uint8_t *in, size_t n, char *out)
{
	size_t o = 0;
	for (size_t i = 0; i < n; i += 3) {
		uint32_t v = (uint32_t)in[i] << 16;
		if (i + 1 < n)
			v |= (uint32_t)in[i + 1] << 8;
		if (i + 2 < n)
			v |= in[i + 2];
		out[o++] = b64url[(v >> 18) & 63];
		out[o++] = b64url[(v >> 12) & 63];
		if (i + 1 < n)
			out[o++] = b64url[(v >> 6) & 63];
		if (i + 2 < n)
			out[o++] = b64url[v & 63];
	}
	out[o] = 0;
}

/* Decode exactly `n` bytes; false on any other length or character. */
static bool b64url_decode(const char *in, uint8_t *out, size_t n)
{
	size_t len = strlen(in), want = n / 3 * 4 + (n % 3 ? n % 3 + 1 : 0);
	if (len != want)
		return false;
	uint32_t acc = 0;
	size_t bits = 0, o = 0;
	for (size_t i = 0; i < len; i++) {
		const char *p = strchr(b64url, in[i]);
		if (!in[i] || !p)
			return false;
		acc = (acc << 6) | (uint32_t)(p - b64url);
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			if (o < n)
				out[o++] = (uint8_t)(acc >> bits);
			acc &= (1u << bits) - 1;
		}
	}
	return o == n && acc == 0; /* leftover bits must be zero (one spelling per record) */
}

static bool sha256(const void *p, size_t n, uint8_t out[32])
{
	unsigned len = 0;
	return EVP_Digest(p, n, out, &len, EVP_sha256(), NULL) == 1 && len == 32;
}

/* The hash of the query a cursor belongs to; false if hashing failed. */
static bool query_hash(const struct job *j, uint8_t out[8])
{
	const struct param *sorted[MAX_PARAMS];
	size_t n = 0;
	for (size_t i = 0; i < j->n_params; i++) {
		const struct param *p = &j->params[i];
		if (!p->val[0] || !strcmp(p->key, "cursor") || !strcmp(p->key, "limit"))
			continue;
		size_t k = n++;
		while (k && strcmp(sorted[k - 1]->key, p->key) > 0) {
			sorted[k] = sorted[k - 1];
			k--;
		}
		sorted[k] = p;
	}
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	uint8_t h[EVP_MAX_MD_SIZE];
	unsigned hl = 0;
	bool ok = ctx && EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) == 1;
	const char *label = label_names[j->route->label];
	ok = ok && EVP_DigestUpdate(ctx, label, strlen(label) + 1) == 1;
	if (j->path_id)
		ok = ok && EVP_DigestUpdate(ctx, j->path_id, strlen(j->path_id) + 1) == 1;
	for (size_t i = 0; i < n; i++)
		ok = ok && EVP_DigestUpdate(ctx, sorted[i]->key, strlen(sorted[i]->key) + 1) == 1 &&
		     EVP_DigestUpdate(ctx, sorted[i]->val, strlen(sorted[i]->val) + 1) == 1;
	ok = ok && EVP_DigestFinal_ex(ctx, h, &hl) == 1 && hl >= 8;
	EVP_MD_CTX_free(ctx);
	if (ok)
		memcpy(out, h, 8);
	return ok;
}

static void put_be64(uint8_t *p, uint64_t v)
{
	for (int i = 7; i >= 0; i--, v >>= 8)
		p[i] = (uint8_t)v;
}

static uint64_t get_be64(const uint8_t *p)
{
	uint64_t v = 0;
	for (int i = 0; i < 8; i++)
		v = v << 8 | p[i];
	return v;
}

/* The `cursor` parameter as a position on this snapshot: 0 without one;
 * false after setting 400 (malformed, another query) or 410 (another
 * revision). */
static bool cursor_param(struct job *j, st_snap *s, size_t *ret_pos)
{
	const char *v = param(j, "cursor");
	*ret_pos = 0;
	if (!v)
		return true;
	uint8_t rec[CURSOR_BYTES], h[8];
	if (!b64url_decode(v, rec, sizeof(rec)) || rec[0] != CURSOR_VERSION ||
	    get_be64(rec + 9) > SIZE_MAX) {
		problem(j, 400, "malformed cursor; use the next_cursor of an answer as it is");
		return false;
	}
	if (!query_hash(j, h)) {
		problem(j, 503, "cannot hash the query");
		return false;
	}
	if (CRYPTO_memcmp(h, rec + 17, 8) != 0) {
		problem(j, 400,
			"cursor belongs to another query; repeat the parameters of the "
			"request that returned it (only limit may change)");
		return false;
	}
	uint64_t rev = get_be64(rec + 1), now = st_snap_revision(s);
	if (rev != now) {
		problem(j, 410,
			"the store changed since this cursor was issued (revision %llu, now "
			"%llu); start again without cursor",
			(unsigned long long)rev, (unsigned long long)now);
		return false;
	}
	*ret_pos = (size_t)get_be64(rec + 9);
	return true;
}

/* The API page [pos, pos + limit) of n rows; a next cursor when rows follow
 * the page (`more`: rows beyond the n known ones).  False after setting 400
 * if pos lies beyond the rows (a forged cursor), or 503. */
static bool api_page(struct job *j, st_snap *s, size_t pos, size_t limit, size_t n, bool more,
		     st_render_page *ret)
{
	if (pos > n) {
		problem(j, 400, "malformed cursor: its position is past the last row");
		return false;
	}
	*ret = (st_render_page){pos, limit, true, NULL};
	size_t end = st_render_page_end(ret, n);
	if (end < n || more) {
		uint8_t rec[CURSOR_BYTES];
		rec[0] = CURSOR_VERSION;
		put_be64(rec + 1, st_snap_revision(s));
		put_be64(rec + 9, end);
		if (!query_hash(j, rec + 17)) {
			problem(j, 503, "cannot hash the query");
			return false;
		}
		b64url_encode(rec, sizeof(rec), j->next_cursor);
		ret->next_cursor = j->next_cursor;
	}
	return true;
}

/* `limit`: 1..max_rows, default DEFAULT_LIMIT (or max_rows if smaller). */
static bool limit_param(struct job *j, long *ret)
{
	long max = (long)j->srv->max_rows;
	return num_param(j, "limit", 1, max, DEFAULT_LIMIT < max ? DEFAULT_LIMIT : max, ret);
}

/* --------------------------------------------------------------- store */

/* Open the store (store_lock held for writing); on failure remember why and
 * when to try again.  Logs changes of state, not every attempt. */
static void store_open_locked(struct server *srv)
{
	st_diag d = {{0}};
	st_store *st = NULL;
	int r = st_store_open(srv->db, srv->schema, srv->writable ? 0 : ST_OPEN_READONLY, &st, &d);
	if (r == 0) {
		srv->st = st;
		if (srv->store_err[0])
			fprintf(stderr, "stacktwin serve: store %s is open\n", srv->db);
		srv->store_err[0] = 0;
		return;
	}
	char err[sizeof(srv->store_err)];
	snprintf(err, sizeof(err), "the store %s cannot be opened: %s", srv->db,
		 d.msg[0] ? d.msg : st_strerror(r));
	if (strcmp(err, srv->store_err) != 0)
		fprintf(stderr, "stacktwin serve: %s; answering 503 and retrying\n", err);
	memcpy(srv->store_err, err, sizeof(err));
	srv->store_retry_ns = uv_hrtime() + STORE_RETRY_NS;
}

/* The open store with store_lock held for reading (release with
 * store_release), or NULL with the reason in why.  While the store is
 * unavailable, a request tries to open it again at most once a second. */
static st_store *store_acquire(struct server *srv, char *why, size_t cap)
{
	for (int pass = 0;; pass++) {
		pthread_rwlock_rdlock(&srv->store_lock);
		if (srv->st)
			return srv->st;
		bool due = uv_hrtime() >= srv->store_retry_ns;
		snprintf(why, cap, "%s", srv->store_err);
		pthread_rwlock_unlock(&srv->store_lock);
		if (pass || !due)
			return NULL;
		pthread_rwlock_wrlock(&srv->store_lock);
		if (!srv->st && uv_hrtime() >= srv->store_retry_ns)
			store_open_locked(srv);
		pthread_rwlock_unlock(&srv->store_lock);
	}
}

static void store_release(struct server *srv)
{
	pthread_rwlock_unlock(&srv->store_lock);
}

/* The scheduler's access to the store: a sync holds the read side of
 * store_lock like a query (LMDB serialises the write transaction itself). */
static st_store *sched_acquire(void *ctx, char *why, size_t cap)
{
	return store_acquire(ctx, why, cap);
}

static void sched_release(void *ctx)
{
	store_release(ctx);
}

/* -------------------------------------------------------------- routes */

static void gkey(yajl_gen g, const char *k)
{
	yajl_gen_string(g, (const unsigned char *)k, strlen(k));
}

static void r_healthz(struct job *j, st_snap *s)
{
	yajl_gen_map_open(j->g);
	gkey(j->g, "status");
	gkey(j->g, "ok");
	gkey(j->g, "revision");
	yajl_gen_integer(j->g, (long long)st_snap_revision(s));
	yajl_gen_map_close(j->g);
	j->status = 200;
}

static void r_stats(struct job *j, st_snap *s)
{
	int r = st_render_stats(j->g, s);
	if (r)
		problem(j, 500, "stats: %s", st_strerror(r));
	else
		j->status = 200;
}

/* /api/v1/node?id= and /api/v1/nodes/{id} */
static void r_node(struct job *j, st_snap *s)
{
	st_id x;
	if (!node_param(j, s, "id", &x))
		return;
	int r = st_render_node(j->g, s, x);
	if (r)
		problem(j, 500, "node: %s", st_strerror(r));
	else
		j->status = 200;
}

static void r_search(struct job *j, st_snap *s)
{
	long limit;
	size_t pos;
	if (!limit_param(j, &limit) || !cursor_param(j, s, &pos))
		return;
	if ((size_t)limit > SEARCH_MAX_SCAN || pos > SEARCH_MAX_SCAN - (size_t)limit) {
		problem(j, 422,
			"search: pages end after %d matches; narrow the search (prefix, type, "
			"name, prop)",
			SEARCH_MAX_SCAN);
		return;
	}
	/* The engine has no "after" key: ask for everything up to the end of
	 * the page and write the page's part. */
	st_search_opts so = {param(j, "prefix"), param(j, "name"),  -1,
			     param(j, "prop"),	 param(j, "value"), pos + (size_t)limit};
	const char *type = param(j, "type");
	if (type) {
		so.type = st_schema_find_node_type(st__snap_schema(s), type, strlen(type));
		if (so.type < 0) {
			problem(j, 400, "parameter 'type': no node type '%.64s' in the schema",
				type);
			return;
		}
	}
	if (so.value && !so.prop) {
		problem(j, 400, "parameter 'value' needs 'prop'");
		return;
	}
	st_search_result *r;
	st_diag d = {{0}};
	int e = st_search(s, &so, &r, &d);
	if (e) {
		engine_error(j, e, &d, "search");
		return;
	}
	st_render_page pg;
	if (api_page(j, s, pos, (size_t)limit, r->n_ids, r->truncated, &pg)) {
		st_render_search(j->g, s, r, &pg);
		j->status = 200;
	}
	st_search_result_free(r);
}

static void r_blast(struct job *j, st_snap *s)
{
	st_id root;
	st_br_opts bo = {0};
	long depth, limit;
	size_t pos;
	int32_t from, to;
	st_metric m;
	if (!node_param(j, s, "id", &root) || !edges_param(j, s, &bo.edges) ||
	    !num_param(j, "depth", 0, 1000000, 0, &depth) || !limit_param(j, &limit) ||
	    !window_params(j, false, &from, &to) || !metric_param(j, &m) ||
	    !cursor_param(j, s, &pos))
		return;
	bo.depth = (uint32_t)depth;
	struct dgref *dg = dg_acquire(j->srv, s);
	bo.graph = dg ? dg->g : NULL;
	struct scratch sc = scratch_get(j->srv, ((size_t)st_snap_id_bound(s) + 63) / 64);
	bo.scratch = sc.bits;
	st_br_result *r = NULL;
	st_br_aggregate *ag = NULL;
	st_diag d = {{0}};
	int e = st_blast_radius(s, root, &bo, &r, &d);
	scratch_put(j->srv, sc);
	dg_release(j->srv, dg);
	if (e) {
		engine_error(j, e, &d, "blast-radius");
		return;
	}
	st_render_page pg;
	e = st_br_aggregate_compute(s, r, from, to, m, &ag, &d);
	if (e)
		engine_error(j, e, &d, "blast-radius aggregates");
	else if (!api_page(j, s, pos, (size_t)limit, r->n_hits, false, &pg))
		;
	else if ((e = st_render_blast(j->g, s, r, ag, bo.depth, to > from, &pg)))
		problem(j, 503, "blast-radius: %s", st_strerror(e));
	else
		j->status = 200;
	st_br_aggregate_free(ag);
	st_br_result_free(r);
}

static void r_owners(struct job *j, st_snap *s)
{
	st_id x;
	if (!node_param(j, s, "id", &x))
		return;
	st_owner_result *r;
	st_diag d = {{0}};
	int e = st_owner(s, x, &r, &d);
	if (e) {
		engine_error(j, e, &d, "owners");
		return;
	}
	st_render_owners(j->g, s, r);
	st_owner_result_free(r);
	j->status = 200;
}

static void r_owned_by(struct job *j, st_snap *s)
{
	st_id t;
	long limit;
	size_t pos;
	if (!node_param(j, s, "id", &t) || !limit_param(j, &limit) || !cursor_param(j, s, &pos))
		return;
	st_owned_result *r;
	st_diag d = {{0}};
	int e = st_owned_by(s, t, API_MAX_NODES, &r, &d);
	if (e) {
		engine_error(j, e, &d, "owned-by");
		return;
	}
	st_render_page pg;
	if (api_page(j, s, pos, (size_t)limit, r->n_direct + r->n_inherited, false, &pg)) {
		st_render_owned_by(j->g, s, r, &pg);
		j->status = 200;
	}
	st_owned_result_free(r);
}

static void r_cost(struct job *j, st_snap *s)
{
	const char *by_name;
	st_group by;
	int32_t from, to;
	st_metric m;
	long limit;
	size_t pos;
	if (!need_param(j, "by", &by_name))
		return;
	if (st_render_group_parse(by_name, &by)) {
		problem(j, 400, "parameter 'by' is resource, service, team, system or domain");
		return;
	}
	if (!window_params(j, true, &from, &to) || !metric_param(j, &m) ||
	    !limit_param(j, &limit) || !cursor_param(j, s, &pos))
		return;
	st_cost_result *r;
	st_diag d = {{0}};
	int e = st_cost_rollup(s, from, to, by, m, &r, &d);
	if (e) {
		engine_error(j, e, &d, "cost");
		return;
	}
	st_render_page pg;
	if (api_page(j, s, pos, (size_t)limit, r->n_rows, false, &pg)) {
		st_render_cost(j->g, s, r, by, from, to, m, &pg);
		j->status = 200;
	}
	st_cost_result_free(r);
}

static void r_path(struct job *j, st_snap *s)
{
	st_id a, b;
	st_edge_set es;
	long max_paths;
	if (!node_param(j, s, "from", &a) || !node_param(j, s, "to", &b) ||
	    !edges_param(j, s, &es) || !num_param(j, "max_paths", 1, 1000, 1, &max_paths))
		return;
	st_path_result *r;
	st_diag d = {{0}};
	int e = st_paths(s, a, b, es, (size_t)max_paths, 0, &r, &d);
	if (e) {
		engine_error(j, e, &d, "path");
		return;
	}
	st_render_path(j->g, s, r);
	st_path_result_free(r);
	j->status = 200;
}

static void r_neighbours(struct job *j, st_snap *s)
{
	st_id x;
	st_edge_set es;
	long hops, breadth, max_nodes;
	if (!node_param(j, s, "id", &x) || !edges_param(j, s, &es) ||
	    !num_param(j, "hops", 1, 16, 1, &hops) ||
	    !num_param(j, "breadth", 1, 100000, 50, &breadth) ||
	    !num_param(j, "max_nodes", 1, API_MAX_NODES, 500, &max_nodes))
		return;
	st_nb_result *r;
	st_diag d = {{0}};
	int e = st_neighbours(s, x, (uint32_t)hops, es, (size_t)breadth, (size_t)max_nodes, &r, &d);
	if (e) {
		engine_error(j, e, &d, "neighbours");
		return;
	}
	st_render_neighbours(j->g, s, r);
	st_nb_result_free(r);
	j->status = 200;
}

/* The store gauges of /metrics; the counters are rendered on the loop thread. */
/* One status record (docs/sync.md) as metrics, merged with the scheduler's
 * counters for the same source. */
static int metrics_status(const char *source, size_t slen, const void *blob, size_t len, void *ctx)
{
	struct job *j = ctx;
	char *text = strndup(blob, len);
	char err[64];
	yajl_val v = text ? yajl_tree_parse(text, err, sizeof(err)) : NULL;
	free(text);
	st_metrics_source ms = {0};
	if (v) {
		const char *k_ok[] = {"last_success", NULL}, *k_res[] = {"result", NULL},
			   *k_dur[] = {"duration_ms", NULL};
		yajl_val ok = yajl_tree_get(v, k_ok, yajl_t_string);
		if (ok && ok->u.string)
			st_timestamp_parse(ok->u.string, strlen(ok->u.string), &ms.last_success);
		yajl_val res = yajl_tree_get(v, k_res, yajl_t_string);
		ms.has_attempt = res != NULL;
		ms.up = res && res->u.string && strcmp(res->u.string, "failed") != 0;
		yajl_val dur = yajl_tree_get(v, k_dur, yajl_t_number);
		if (dur && YAJL_IS_INTEGER(dur))
			ms.last_duration_s = (double)YAJL_GET_INTEGER(dur) / 1000.0;
		yajl_tree_free(v);
	}
	char *name = strndup(source, slen);
	if (!name)
		return 1;
	for (size_t i = 0; i < j->n_infos; i++)
		if (!strcmp(j->infos[i].name, name)) {
			ms.running = j->infos[i].running;
			ms.syncs = j->infos[i].runs;
			ms.failures = j->infos[i].failures;
			j->infos[i].queued = true; /* marks "seen" for the pass below */
		}
	j->msrc = st_xrealloc(j->msrc, (j->n_msrc + 1) * sizeof(*j->msrc));
	j->msrc_names = st_xrealloc(j->msrc_names, (j->n_msrc + 1) * sizeof(char *));
	ms.name = name;
	j->msrc_names[j->n_msrc] = name;
	j->msrc[j->n_msrc++] = ms;
	return 0;
}

static void r_metrics(struct job *j, st_snap *s)
{
	for (size_t i = 0; i < j->n_infos; i++)
		j->infos[i].queued = false;
	st_snap_statuses(s, metrics_status, j);
	/* configured sources that never synced */
	for (size_t i = 0; i < j->n_infos; i++) {
		if (j->infos[i].queued)
			continue;
		char *name = strdup(j->infos[i].name);
		if (!name)
			break;
		j->msrc = st_xrealloc(j->msrc, (j->n_msrc + 1) * sizeof(*j->msrc));
		j->msrc_names = st_xrealloc(j->msrc_names, (j->n_msrc + 1) * sizeof(char *));
		j->msrc_names[j->n_msrc] = name;
		j->msrc[j->n_msrc++] = (st_metrics_source){.name = name,
							   .running = j->infos[i].running,
							   .syncs = j->infos[i].runs,
							   .failures = j->infos[i].failures};
	}
	st_stats stt;
	if (st_snap_stats(s, &stt) == 0) {
		j->gauges = (st_metrics_gauges){
			.store_ok = true,
			.nodes = stt.nodes,
			.edges = stt.edges,
			.cost_facts = stt.costs,
			.revision = stt.revision,
			.revision_time = stt.revision_time,
		};
		st_stats_free(&stt);
	}
	j->status = 200;
}

/* GET /api/v1/sources: every status record (docs/sync.md) with the
 * scheduler's view of the source, then configured sources never synced. */
struct src_render {
	struct job *j;
	bool *seen;
};

static void sched_fields(yajl_gen g, const st_sched_info *in)
{
	gkey(g, "schedule_seconds");
	if (in && in->schedule_s)
		yajl_gen_integer(g, (long long)in->schedule_s);
	else
		yajl_gen_null(g);
	gkey(g, "next_run");
	if (in && in->next_run) {
		char ts[40];
		st_timestamp_format(in->next_run, ts);
		gkey(g, ts);
	} else {
		yajl_gen_null(g);
	}
	gkey(g, "running");
	yajl_gen_bool(g, in && in->running);
	gkey(g, "queued");
	yajl_gen_bool(g, in && in->queued);
	gkey(g, "configured");
	yajl_gen_bool(g, in != NULL);
}

static int sources_status(const char *source, size_t slen, const void *blob, size_t len, void *ctx)
{
	struct src_render *sr = ctx;
	struct job *j = sr->j;
	const st_sched_info *in = NULL;
	for (size_t i = 0; i < j->n_infos; i++)
		if (strlen(j->infos[i].name) == slen && !memcmp(j->infos[i].name, source, slen)) {
			in = &j->infos[i];
			sr->seen[i] = true;
		}
	char *text = strndup(blob, len);
	char err[64];
	yajl_val v = text ? yajl_tree_parse(text, err, sizeof(err)) : NULL;
	free(text);
	yajl_gen_map_open(j->g);
	gkey(j->g, "source");
	yajl_gen_string(j->g, (const unsigned char *)source, slen);
	sched_fields(j->g, in);
	gkey(j->g, "status");
	st_json_gen_value(j->g, v);
	yajl_gen_map_close(j->g);
	yajl_tree_free(v);
	return 0;
}

static void r_sources(struct job *j, st_snap *s)
{
	struct src_render sr = {j, calloc(j->n_infos + 1, 1)};
	if (!sr.seen) {
		problem(j, 503, "out of memory");
		return;
	}
	yajl_gen_map_open(j->g);
	gkey(j->g, "sources");
	yajl_gen_array_open(j->g);
	int r = st_snap_statuses(s, sources_status, &sr);
	for (size_t i = 0; i < j->n_infos; i++) {
		if (sr.seen[i])
			continue;
		yajl_gen_map_open(j->g);
		gkey(j->g, "source");
		gkey(j->g, j->infos[i].name);
		sched_fields(j->g, &j->infos[i]);
		gkey(j->g, "status");
		yajl_gen_null(j->g);
		yajl_gen_map_close(j->g);
	}
	yajl_gen_array_close(j->g);
	yajl_gen_map_close(j->g);
	free(sr.seen);
	if (r < 0) {
		problem(j, 503, "reading the source status records failed");
		return;
	}
	j->status = 200;
}

/* POST /api/v1/admin/reopen: close the store once no request uses it and open
 * it again (after the directory was replaced, or to retry at once). */
static void r_reopen(struct job *j, st_snap *unused)
{
	struct server *srv = j->srv;
	(void)unused;
	uint64_t rev = 0;
	int r = -1;
	/* Wait at most 2 s for the readers to leave: a running sync holds the
	 * store for as long as its source takes, and a writer waiting on the
	 * lock would hold up every new request behind it (writer preference). */
	bool locked = false;
	for (int i = 0; i < 200 && !locked; i++) {
		locked = pthread_rwlock_trywrlock(&srv->store_lock) == 0;
		if (!locked)
			usleep(10000);
	}
	if (!locked) {
		problem(j, 409, "the store is in use (a sync or long queries are running); "
				"try again when they are done");
		return;
	}
	st_store_close(srv->st);
	srv->st = NULL;
	pthread_mutex_lock(&srv->lock);
	dg_unref_locked(srv->dg); /* the new store may reuse revision numbers */
	srv->dg = NULL;
	pthread_mutex_unlock(&srv->lock);
	srv->store_err[0] = 0;
	store_open_locked(srv);
	st_snap *s;
	st_diag d = {{0}};
	if (!srv->st) {
		problem(j, 503, "%s", srv->store_err);
	} else if ((r = st_snap_begin(srv->st, &s, &d)) == 0) {
		rev = st_snap_revision(s);
		st_snap_end(s);
	} else {
		problem(j, 503, "the store %s: %s", srv->db, d.msg);
	}
	pthread_rwlock_unlock(&srv->store_lock);
	if (r) {
		j->retry_after = true;
		return;
	}
	fprintf(stderr, "stacktwin serve: store %s reopened at revision %llu\n", srv->db,
		(unsigned long long)rev);
	yajl_gen_map_open(j->g);
	gkey(j->g, "revision");
	yajl_gen_integer(j->g, (long long)rev);
	yajl_gen_map_close(j->g);
	j->status = 200;
}

static const char *const p_none[] = {NULL};
static const char *const p_id[] = {"id", NULL};
static const char *const p_search[] = {"prefix", "name",  "type",   "prop",
				       "value",	 "limit", "cursor", NULL};
static const char *const p_blast[] = {"id",	"depth", "edges",  "from", "to",
				      "metric", "limit", "cursor", NULL};
static const char *const p_owned[] = {"id", "limit", "cursor", NULL};
static const char *const p_cost[] = {"by", "from", "to", "metric", "limit", "cursor", NULL};
static const char *const p_path[] = {"from", "to", "edges", "max_paths", NULL};
static const char *const p_nb[] = {"id", "hops", "breadth", "max_nodes", "edges", NULL};

static const struct route routes[] = {
	{"/healthz", r_healthz, NEED_NONE, p_none, L_HEALTHZ, F_HEALTH},
	{"/metrics", r_metrics, NEED_READ, p_none, L_METRICS, F_PROMETHEUS},
	{"/api/v1/stats", r_stats, NEED_READ, p_none, L_STATS, 0},
	{"/api/v1/node", r_node, NEED_READ, p_id, L_NODE, 0},
	{"/api/v1/nodes/", r_node, NEED_READ, p_none, L_NODE, F_PREFIX},
	{"/api/v1/search", r_search, NEED_READ, p_search, L_SEARCH, F_HEAVY},
	{"/api/v1/blast-radius", r_blast, NEED_READ, p_blast, L_BLAST, F_HEAVY},
	{"/api/v1/owners", r_owners, NEED_READ, p_id, L_OWNERS, 0},
	{"/api/v1/owned-by", r_owned_by, NEED_READ, p_owned, L_OWNED_BY, F_HEAVY},
	{"/api/v1/cost", r_cost, NEED_READ, p_cost, L_COST, F_HEAVY},
	{"/api/v1/path", r_path, NEED_READ, p_path, L_PATH, F_HEAVY},
	{"/api/v1/neighbours", r_neighbours, NEED_READ, p_nb, L_NEIGHBOURS, F_HEAVY},
	{"/api/v1/neighbors", r_neighbours, NEED_READ, p_nb, L_NEIGHBOURS, F_HEAVY},
	{"/api/v1/whoami", NULL, NEED_READ, p_none, L_WHOAMI, 0}, /* on the loop thread */
	{"/api/v1/admin/reopen", r_reopen, NEED_ADMIN, p_none, L_REOPEN, F_POST | F_NOSTORE},
	{"/api/v1/sources", r_sources, NEED_READ, p_none, L_SOURCES, F_SOURCES},
	/* POST /api/v1/sources/{name}/sync, on the loop thread */
	{"/api/v1/sources/", NULL, NEED_ADMIN, p_none, L_SYNC, F_POST | F_PREFIX},
};

/* The route for a path; for a prefix route *ret_rest is the rest of the path. */
static const struct route *find_route(const char *path, const char **ret_rest)
{
	*ret_rest = NULL;
	for (size_t i = 0; i < ST_ARRAY_LEN(routes); i++) {
		const struct route *rt = &routes[i];
		if (rt->flags & F_PREFIX) {
			size_t n = strlen(rt->path);
			if (!strncmp(path, rt->path, n)) {
				*ret_rest = path + n;
				return rt;
			}
		} else if (!strcmp(path, rt->path)) {
			return rt;
		}
	}
	return NULL;
}

/* ------------------------------------------------------------ answers */

/* Every answer of this file goes through reply() or reply_problem(), on the
 * loop thread, so that each request is counted exactly once. */
static void counted(struct server *srv, const struct tally *t, int status, int r)
{
	double secs = (double)(uv_hrtime() - t->t0) / 1e9;
	st_metrics_request_end(srv->metrics, t->label, r ? 500 : status, secs);
}

static void reply(struct server *srv, st_http_request *req, const struct tally *t, int status,
		  const char *ctype, const void *body, size_t len)
{
	counted(srv, t, status, st_http_respond(req, status, ctype, body, len));
}

static void reply_problem(struct server *srv, st_http_request *req, const struct tally *t,
			  int status, const char *detail)
{
	counted(srv, t, status, st_http_respond_problem(req, status, detail));
}

/* The HTTP core answered a protocol error itself (http.h on_core_response). */
static void on_core_response(int status, void *ctx)
{
	struct server *srv = ctx;
	st_metrics_count(srv->metrics, L_PROTOCOL, status);
}

/* --------------------------------------------------------- thread pool */

static void job_free(struct job *j)
{
	if (!j)
		return;
	if (j->g)
		yajl_gen_free(j->g);
	free(j->query);
	free(j->path_id);
	free(j->infos);
	for (size_t i = 0; i < j->n_msrc; i++)
		free(j->msrc_names[i]);
	free(j->msrc_names);
	free(j->msrc);
	free(j);
}

/* F_PREFIX: the percent-decoded rest of the path is the `id` parameter. */
static bool path_id(struct job *j)
{
	if (!j->path_id)
		return true;
	if (!pct_decode(j->path_id, false)) {
		problem(j, 400, "bad percent-encoding in the path");
		return false;
	}
	if (!j->path_id[0]) {
		problem(j, 400, "the node id is missing: %s{id}", j->route->path);
		return false;
	}
	if (j->n_params == MAX_PARAMS) {
		problem(j, 400, "too many parameters");
		return false;
	}
	j->params[j->n_params++] = (struct param){"id", j->path_id};
	return true;
}

static void work_cb(uv_work_t *w)
{
	struct job *j = w->data;
	struct server *srv = j->srv;
	if (!parse_params(j) || !path_id(j))
		return;
	j->g = yajl_gen_alloc(NULL);
	if (!j->g) {
		problem(j, 503, "out of memory");
		return;
	}
	if (j->route->flags & F_NOSTORE) {
		j->route->fn(j, NULL);
		return;
	}
	char why[sizeof(srv->store_err)];
	st_store *st = store_acquire(srv, why, sizeof(why));
	st_snap *s = NULL;
	st_diag d = {{0}};
	if (st && st_snap_begin(st, &s, &d) != 0) {
		snprintf(why, sizeof(why), "the store %s: %s", srv->db, d.msg);
		store_release(srv);
		st = NULL;
	}
	if (!st) {
		if (j->route->flags & F_PROMETHEUS) {
			j->status = 200; /* the HTTP metrics without the store gauges */
			return;
		}
		problem(j, 503, "%s", why);
		j->retry_after = true;
		j->unavailable = j->route->flags & F_HEALTH;
		return;
	}
	j->route->fn(j, s);
	st_snap_end(s);
	store_release(srv);
}

static void work_cb(uv_work_t *w);
static void after_work_cb(uv_work_t *w, int status);

/* Queue a job on the pool (a heavy one only while under heavy_max). */
static void submit(struct server *srv, struct job *j)
{
	if (j->route->flags & F_HEAVY) {
		if (srv->heavy_running >= srv->heavy_max) {
			j->heavy_next = NULL;
			if (srv->heavy_tail)
				srv->heavy_tail->heavy_next = j;
			else
				srv->heavy_head = j;
			srv->heavy_tail = j;
			return;
		}
		srv->heavy_running++;
	}
	if (uv_queue_work(&srv->loop, &j->work, work_cb, after_work_cb) != 0) {
		if (j->route->flags & F_HEAVY)
			srv->heavy_running--;
		reply_problem(srv, j->req, &j->t, 500, "could not queue the request");
		job_free(j);
	}
}

/* A heavy job ended: start the next waiting one. */
static void heavy_done(struct server *srv)
{
	srv->heavy_running--;
	struct job *n = srv->heavy_head;
	if (!n)
		return;
	srv->heavy_head = n->heavy_next;
	if (!srv->heavy_head)
		srv->heavy_tail = NULL;
	submit(srv, n);
}

static void after_work_cb(uv_work_t *w, int status)
{
	struct job *j = w->data;
	struct server *srv = j->srv;
	(void)status;
	if (j->route->flags & F_HEAVY)
		heavy_done(srv);
	if (j->retry_after)
		st_http_add_header(j->req, "Retry-After", RETRY_AFTER);
	if (j->status == 200 && (j->route->flags & F_PROMETHEUS)) {
		char *text;
		size_t len;
		j->gauges.connections = st_http_connections(srv->http);
		j->gauges.sources = j->msrc;
		j->gauges.n_sources = j->n_msrc;
		j->gauges.now = (int64_t)time(NULL);
		if (st_metrics_render(srv->metrics, &j->gauges, &text, &len) == 0) {
			reply(srv, j->req, &j->t, 200, ST_METRICS_CONTENT_TYPE, text, len);
			free(text);
		} else {
			reply_problem(srv, j->req, &j->t, 503, "out of memory");
		}
	} else if (j->status == 200) {
		const unsigned char *buf;
		size_t len;
		yajl_gen_get_buf(j->g, &buf, &len);
		reply(srv, j->req, &j->t, 200, "application/json", buf, len);
	} else if (j->unavailable && j->g) {
		/* /healthz: {"status":"unavailable","detail":…} */
		const unsigned char *buf;
		size_t len;
		yajl_gen_clear(j->g);
		yajl_gen_map_open(j->g);
		gkey(j->g, "status");
		gkey(j->g, "unavailable");
		gkey(j->g, "detail");
		gkey(j->g, j->detail);
		yajl_gen_map_close(j->g);
		yajl_gen_get_buf(j->g, &buf, &len);
		reply(srv, j->req, &j->t, 503, "application/json", buf, len);
	} else {
		if (j->status >= 500 && !j->retry_after)
			fprintf(stderr, "stacktwin serve: %d on %s: %s\n", j->status,
				j->route->path, j->detail);
		reply_problem(srv, j->req, &j->t, j->status ? j->status : 500,
			      j->detail[0] ? j->detail : NULL);
	}
	job_free(j);
}

/* -------------------------------------------------------- static files */

/* A GET or HEAD of a file under --web, read by a worker. */
struct fjob {
	uv_work_t work;
	struct server *srv;
	st_http_request *req;
	struct tally t;
	char *path; /* raw request path, decoded in place by the worker */
	char *body;
	size_t len;
	const char *ctype;
	int status;
	char detail[128];
};

static void fjob_free(struct fjob *f)
{
	if (!f)
		return;
	free(f->path);
	free(f->body);
	free(f);
}

static const char *content_type(const char *path)
{
	static const struct {
		const char *ext, *type;
	} types[] = {
		{"html", "text/html; charset=utf-8"},
		{"js", "text/javascript; charset=utf-8"},
		{"mjs", "text/javascript; charset=utf-8"},
		{"css", "text/css; charset=utf-8"},
		{"json", "application/json"},
		{"svg", "image/svg+xml"},
		{"png", "image/png"},
		{"ico", "image/x-icon"},
		{"txt", "text/plain; charset=utf-8"},
		{"map", "application/json"},
	};
	const char *base = strrchr(path, '/');
	const char *dot = strrchr(base ? base : path, '.');
	for (size_t i = 0; dot && i < ST_ARRAY_LEN(types); i++)
		if (!strcasecmp(dot + 1, types[i].ext))
			return types[i].type;
	return "application/octet-stream";
}

static int file_problem(struct fjob *f, int status, const char *detail)
{
	snprintf(f->detail, sizeof(f->detail), "%s", detail);
	return status;
}

/* Map the request path to a file inside the web root and read it; the HTTP
 * status.  Segments are checked after percent-decoding so that %2e%2e and
 * %2f cannot smuggle a "..", and the resolved path (symlinks followed) must
 * still lie under the resolved root. */
static int read_web_file(struct fjob *f)
{
	const struct server *srv = f->srv;
	char *p = f->path;
	if (p[0] != '/')
		return file_problem(f, 400, "the path must start with '/'");
	if (!pct_decode(p, false))
		return file_problem(f, 400, "bad percent-encoding in the path");
	for (const char *seg = p; seg; seg = strchr(seg, '/')) {
		seg++;
		size_t n = strcspn(seg, "/");
		if (n == 2 && seg[0] == '.' && seg[1] == '.')
			return file_problem(f, 403, "'..' is not allowed in a path");
		if (n && seg[0] == '.')
			return file_problem(f, 404, "no such file"); /* dot files are private */
	}
	size_t plen = strlen(p);
	char full[PATH_MAX], real[PATH_MAX];
	int n = snprintf(full, sizeof(full), "%s%s%s", srv->web_root, p,
			 p[plen - 1] == '/' ? "index.html" : "");
	if (n < 0 || (size_t)n >= sizeof(full))
		return file_problem(f, 404, "no such file");
	if (!realpath(full, real))
		return errno == EACCES ? file_problem(f, 403, "permission denied") :
					 file_problem(f, 404, "no such file");
	size_t rl = srv->web_root_len;
	if (rl > 1 && (strncmp(real, srv->web_root, rl) != 0 || real[rl] != '/'))
		return file_problem(f, 404, "no such file"); /* a symlink out of the root */
	int fd = open(real, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);
	if (fd < 0)
		return errno == EACCES ? file_problem(f, 403, "permission denied") :
					 file_problem(f, 404, "no such file");
	int status = 200;
	struct stat sb;
	if (fstat(fd, &sb) != 0 || !S_ISREG(sb.st_mode)) {
		status = file_problem(f, 404, "no such file");
		goto out;
	}
	if ((uint64_t)sb.st_size > WEB_MAX_FILE) {
		status = file_problem(f, 500, "the file is larger than 16 MiB");
		goto out;
	}
	size_t size = (size_t)sb.st_size, got = 0;
	f->body = malloc(size ? size : 1);
	if (!f->body) {
		status = file_problem(f, 503, "out of memory");
		goto out;
	}
	while (got < size) {
		ssize_t k = read(fd, f->body + got, size - got);
		if (k < 0 && errno == EINTR)
			continue;
		if (k < 0) {
			status = file_problem(f, 500, "reading the file failed");
			goto out;
		}
		if (k == 0)
			break; /* it shrank meanwhile: serve what is there */
		got += (size_t)k;
	}
	f->len = got;
	f->ctype = content_type(real);
out:
	close(fd);
	return status;
}

static void file_work_cb(uv_work_t *w)
{
	struct fjob *f = w->data;
	f->status = read_web_file(f);
}

static void file_after_cb(uv_work_t *w, int status)
{
	struct fjob *f = w->data;
	(void)status;
	if (f->status == 200) {
		st_http_add_header(f->req, "X-Content-Type-Options", "nosniff");
		reply(f->srv, f->req, &f->t, 200, f->ctype, f->body, f->len);
	} else {
		if (f->status >= 500)
			fprintf(stderr, "stacktwin serve: %d on a static file: %s\n", f->status,
				f->detail);
		reply_problem(f->srv, f->req, &f->t, f->status, f->detail);
	}
	fjob_free(f);
}

static void queue_file(struct server *srv, st_http_request *req, const struct tally *t)
{
	struct fjob *f = calloc(1, sizeof(*f));
	if (f)
		f->path = strdup(st_http_path(req));
	if (!f || !f->path) {
		fjob_free(f);
		reply_problem(srv, req, t, 503, "out of memory");
		return;
	}
	f->srv = srv;
	f->req = req;
	f->t = *t;
	f->work.data = f;
	st_http_defer(req);
	if (uv_queue_work(&srv->loop, &f->work, file_work_cb, file_after_cb) != 0) {
		fjob_free(f);
		reply_problem(srv, req, t, 500, "could not queue the request");
	}
}

/* ---------------------------------------------------------------- auth */

/* Who made a request: a token index, or -1 for anonymous. */
#define ANONYMOUS (-1)

static const char *role_name(st_role r)
{
	return r == ST_ROLE_ADMIN ? "admin" : "read";
}

/* The token a presented bearer value hashes to, or -2 if none.  Every
 * configured hash is compared, whatever matched before, with CRYPTO_memcmp,
 * so the time taken does not depend on which token (or which prefix of one)
 * matched. */
static int token_lookup(const struct server *srv, const char *given, size_t n)
{
	uint8_t h[32];
	if (n > MAX_TOKEN || !sha256(given, n, h))
		return -2;
	int found = -2;
	for (size_t i = 0; i < srv->n_tokens; i++) {
		int eq = CRYPTO_memcmp(h, srv->tokens[i].sha256, sizeof(h)) == 0;
		found = eq ? (int)i : found;
	}
	OPENSSL_cleanse(h, sizeof(h));
	return found;
}

/* 0 with *ret_who set if the request may use a route that needs `need`,
 * else the status already answered: 401 without a token (anonymous read
 * never reaches an admin route), 403 for an unknown token or a read token on
 * an admin route. */
static int authorize(struct server *srv, st_http_request *req, const struct tally *t,
		     enum need need, int *ret_who)
{
	*ret_who = ANONYMOUS;
	if (need == NEED_NONE)
		return 0;
	const char *h = st_http_header(req, "Authorization");
	bool bearer = h && strncasecmp(h, "Bearer ", 7) == 0;
	if (!bearer || !srv->n_tokens) {
		if (srv->anon && need == NEED_READ)
			return 0;
		st_http_add_header(req, "WWW-Authenticate", "Bearer");
		reply_problem(srv, req, t, 401,
			      need == NEED_ADMIN ?
				      "this route needs 'Authorization: Bearer <token>' with a "
				      "token of the admin role" :
				      "this server needs 'Authorization: Bearer <token>'");
		return 401;
	}
	h += 7;
	while (*h == ' ')
		h++;
	size_t n = strlen(h);
	while (n && (h[n - 1] == ' ' || h[n - 1] == '\t'))
		n--;
	int who = token_lookup(srv, h, n);
	if (who < 0) {
		reply_problem(srv, req, t, 403, "the bearer token is not valid");
		return 403;
	}
	if (need == NEED_ADMIN && srv->tokens[who].role != ST_ROLE_ADMIN) {
		char msg[256];
		snprintf(msg, sizeof(msg),
			 "this route needs the admin role; token '%.100s' has the read role",
			 srv->tokens[who].name);
		reply_problem(srv, req, t, 403, msg);
		return 403;
	}
	*ret_who = who;
	return 0;
}

/* GET /api/v1/whoami, on the loop thread: the caller's token name and role. */
static void answer_whoami(struct server *srv, st_http_request *req, const struct tally *t, int who)
{
	yajl_gen g = yajl_gen_alloc(NULL);
	if (!g) {
		reply_problem(srv, req, t, 503, "out of memory");
		return;
	}
	yajl_gen_map_open(g);
	gkey(g, "token");
	if (who == ANONYMOUS)
		yajl_gen_null(g);
	else
		gkey(g, srv->tokens[who].name);
	gkey(g, "role");
	gkey(g, who == ANONYMOUS ? "anonymous" : role_name(srv->tokens[who].role));
	yajl_gen_map_close(g);
	const unsigned char *buf;
	size_t len;
	yajl_gen_get_buf(g, &buf, &len);
	reply(srv, req, t, 200, "application/json", buf, len);
	yajl_gen_free(g);
}

/* A POST .../sync that waits for its sync (?wait=true). */
struct sync_wait {
	struct server *srv;
	st_http_request *req;
	struct tally t;
};

static void sync_result_json(yajl_gen g, const char *source, const st_sync_result *res)
{
	yajl_gen_map_open(g);
	gkey(g, "source");
	gkey(g, source);
	gkey(g, "result");
	gkey(g, res->rc < 0 ? "failed" : res->rc == ST_SYNC_UNCHANGED ? "unchanged" : "committed");
	gkey(g, "revision");
	if (res->rc == 0)
		yajl_gen_integer(g, (long long)res->revision);
	else
		yajl_gen_null(g);
	gkey(g, "duration_ms");
	yajl_gen_integer(g, (long long)(res->duration_s * 1000.0 + 0.5));
	gkey(g, "error");
	if (res->rc < 0)
		gkey(g, res->error);
	else
		yajl_gen_null(g);
	yajl_gen_map_close(g);
}

static void sync_waited(const char *source, const st_sync_result *res, void *ctx)
{
	struct sync_wait *w = ctx;
	yajl_gen g = yajl_gen_alloc(NULL);
	if (!g) {
		reply_problem(w->srv, w->req, &w->t, 503, "out of memory");
	} else {
		sync_result_json(g, source, res);
		const unsigned char *buf;
		size_t len;
		yajl_gen_get_buf(g, &buf, &len);
		/* a sync that could not run because the server is stopping is 503;
		 * a source's own failure is reported in the body with 200 */
		if (res->rc == ST_E_BUSY)
			reply_problem(w->srv, w->req, &w->t, 503, res->error);
		else
			reply(w->srv, w->req, &w->t, 200, "application/json", buf, len);
		yajl_gen_free(g);
	}
	free(w);
}

/* POST /api/v1/sources/{name}/sync[?wait=true]: queue a sync (202), or wait
 * for it and answer its result (200). */
static void trigger_sync(struct server *srv, st_http_request *req, const struct tally *t,
			 const char *rest)
{
	char name[80];
	size_t n = strlen(rest);
	if (n < 6 || strcmp(rest + n - 5, "/sync") != 0 || n - 5 >= sizeof(name)) {
		reply_problem(srv, req, t, 404, "no such route; POST /api/v1/sources/{name}/sync");
		return;
	}
	memcpy(name, rest, n - 5);
	name[n - 5] = 0;
	if (!pct_decode(name, false) || !name[0] || strchr(name, '/')) {
		reply_problem(srv, req, t, 400, "bad source name in the path");
		return;
	}
	const char *q = st_http_query(req);
	bool wait = false;
	if (!strcmp(q, "wait=true") || !strcmp(q, "wait=1"))
		wait = true;
	else if (q[0] && strcmp(q, "wait=false") && strcmp(q, "wait=0")) {
		reply_problem(srv, req, t, 400, "the only parameter is wait=true|false");
		return;
	}
	if (!srv->sched) {
		char d[200];
		snprintf(d, sizeof(d), "no source '%.80s': this server has no sources (serve --config "
				       "with sources: docs/config.md)", name);
		reply_problem(srv, req, t, 404, d);
		return;
	}
	struct sync_wait *w = NULL;
	if (wait) {
		w = calloc(1, sizeof(*w));
		if (!w) {
			reply_problem(srv, req, t, 503, "out of memory");
			return;
		}
		*w = (struct sync_wait){srv, req, *t};
	}
	int r = st_sched_trigger(srv->sched, name, wait ? sync_waited : NULL, w);
	if (r == ST_E_NOTFOUND || r == ST_E_BUSY) {
		free(w);
		char d[200];
		snprintf(d, sizeof(d), r == ST_E_BUSY ? "the server is stopping" : "no source '%.80s' in the config", name);
		reply_problem(srv, req, t, r == ST_E_BUSY ? 503 : 404, d);
		return;
	}
	if (wait) {
		st_http_defer(req);
		return;
	}
	yajl_gen g = yajl_gen_alloc(NULL);
	if (!g) {
		reply_problem(srv, req, t, 503, "out of memory");
		return;
	}
	yajl_gen_map_open(g);
	gkey(g, "source");
	gkey(g, name);
	gkey(g, "queued");
	yajl_gen_bool(g, true);
	gkey(g, "already_queued_or_running");
	yajl_gen_bool(g, r == 1);
	yajl_gen_map_close(g);
	const unsigned char *buf;
	size_t len;
	yajl_gen_get_buf(g, &buf, &len);
	reply(srv, req, t, 202, "application/json", buf, len);
	yajl_gen_free(g);
}

static const char index_json[] = "{\"api\":\"/api/v1\",\"health\":\"/healthz\","
				 "\"metrics\":\"/metrics\"}";

static void handle(st_http_request *req, void *ctx)
{
	struct server *srv = ctx;
	struct tally t = {L_UNKNOWN, uv_hrtime()};
	st_metrics_request_begin(srv->metrics);
	const char *path = st_http_path(req);
	const char *rest;
	const struct route *rt = find_route(path, &rest);
	if (rt)
		t.label = rt->label;
	else if (srv->web_root && strncmp(path, "/api/", 5) != 0)
		t.label = L_STATIC;
	else if (!srv->web_root && !strcmp(path, "/"))
		t.label = L_INDEX;
	else {
		reply_problem(srv, req, &t, 404, "no such route; see docs/api.md");
		return;
	}
	const char *method = st_http_method(req);
	if (rt && (rt->flags & F_POST)) {
		if (strcmp(method, "POST") != 0) {
			st_http_add_header(req, "Allow", "POST");
			reply_problem(srv, req, &t, 405, "only POST is supported on this route");
			return;
		}
	} else if (strcmp(method, "GET") != 0 && strcmp(method, "HEAD") != 0) {
		st_http_add_header(req, "Allow", "GET, HEAD");
		reply_problem(srv, req, &t, 405, "only GET and HEAD are supported");
		return;
	}
	if (t.label == L_INDEX) {
		reply(srv, req, &t, 200, "application/json", index_json, sizeof(index_json) - 1);
		return;
	}
	if (t.label == L_STATIC) {
		queue_file(srv, req, &t);
		return;
	}
	int who;
	if (authorize(srv, req, &t, rt->need, &who))
		return;
	if (t.label == L_WHOAMI) {
		if (st_http_query(req)[0])
			reply_problem(srv, req, &t, 400, "/api/v1/whoami takes no parameters");
		else
			answer_whoami(srv, req, &t, who);
		return;
	}
	if (t.label == L_SYNC) {
		trigger_sync(srv, req, &t, rest);
		return;
	}
	struct job *j = calloc(1, sizeof(*j));
	if (j) {
		j->query = strdup(st_http_query(req));
		j->path_id = rest ? strdup(rest) : NULL;
	}
	if (!j || !j->query || (rest && !j->path_id)) {
		job_free(j);
		reply_problem(srv, req, &t, 503, "out of memory");
		return;
	}
	j->srv = srv;
	j->req = req;
	j->route = rt;
	j->t = t;
	j->work.data = j;
	if ((rt->flags & (F_SOURCES | F_PROMETHEUS)) && srv->sched) {
		/* the scheduler lives on the loop thread: copy its state for the worker */
		j->n_infos = st_sched_count(srv->sched);
		j->infos = calloc(j->n_infos ? j->n_infos : 1, sizeof(*j->infos));
		if (!j->infos) {
			job_free(j);
			reply_problem(srv, req, &t, 503, "out of memory");
			return;
		}
		for (size_t i = 0; i < j->n_infos; i++)
			st_sched_info_at(srv->sched, i, &j->infos[i]);
	}
	st_http_defer(req);
	submit(srv, j);
}

/* Traversals may use all but one pool worker and all but one CPU (at least
 * one of each): a point lookup then never queues behind them, and the loop
 * thread keeps a core.  With libuv's default pool of 4 on 2 cores: 1. */
static unsigned heavy_max_default(void)
{
	const char *e = getenv("UV_THREADPOOL_SIZE");
	long pool = e ? strtol(e, NULL, 10) : 4;
	if (pool < 1 || pool > 1024)
		pool = 4;
	long cpus = (long)uv_available_parallelism();
	long n = pool - 1 < cpus - 1 ? pool - 1 : cpus - 1;
	return n > 1 ? (unsigned)n : 1u;
}

/* ---------------------------------------------------------- lifecycle */

static void on_http_closed(st_http_server *s, void *ctx)
{
	(void)s;
	(void)ctx;
	fprintf(stderr, "stacktwin serve: stopped\n");
}

static void on_sched_stopped(void *ctx)
{
	(void)ctx;
	fprintf(stderr, "stacktwin serve: syncs stopped\n");
}

static void on_signal(uv_signal_t *h, int signum)
{
	struct server *srv = h->data;
	(void)signum;
	if (srv->stopping)
		return;
	srv->stopping = true;
	uv_close((uv_handle_t *)&srv->sig_term, NULL);
	uv_close((uv_handle_t *)&srv->sig_int, NULL);
	if (srv->sched)
		st_sched_stop(srv->sched, on_sched_stopped, srv);
	st_http_shutdown(srv->http, on_http_closed, srv);
}

/* Hash the token in the first line of a file (line end stripped) into out.
 * The plaintext only ever sits in a local buffer (no stdio buffering) that is
 * wiped before returning.  False with a message that names the file and the
 * token, never the content. */
static bool hash_token_file(const char *name, const char *path, uint8_t out[32])
{
	char buf[MAX_TOKEN + 2];
	size_t n = 0;
	bool ok = false;
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		fprintf(stderr, "stacktwin serve: token '%s': cannot read %s: %s\n", name, path,
			strerror(errno));
		return false;
	}
	while (n < sizeof(buf) && !memchr(buf, '\n', n)) {
		ssize_t k = read(fd, buf + n, sizeof(buf) - n);
		if (k < 0 && errno == EINTR)
			continue;
		if (k < 0) {
			fprintf(stderr, "stacktwin serve: token '%s': cannot read %s: %s\n", name,
				path, strerror(errno));
			goto out;
		}
		if (k == 0)
			break;
		n += (size_t)k;
	}
	char *nl = memchr(buf, '\n', n);
	size_t len = nl ? (size_t)(nl - buf) : n;
	if (len && buf[len - 1] == '\r')
		len--;
	if (!nl && n == sizeof(buf)) {
		fprintf(stderr,
			"stacktwin serve: token '%s': %s: the token is longer than %d bytes\n",
			name, path, MAX_TOKEN);
	} else if (!len) {
		fprintf(stderr,
			"stacktwin serve: token '%s': %s: the first line (the token) is empty\n",
			name, path);
	} else if (len > MAX_TOKEN) {
		fprintf(stderr,
			"stacktwin serve: token '%s': %s: the token is longer than %d bytes\n",
			name, path, MAX_TOKEN);
	} else if (!sha256(buf, len, out)) {
		fprintf(stderr, "stacktwin serve: token '%s': SHA-256 failed\n", name);
	} else {
		ok = true;
	}
out:
	OPENSSL_cleanse(buf, sizeof(buf));
	close(fd);
	return ok;
}

/* Resolve the tokens of the config and --token-file into name, role and
 * SHA-256.  False with a message naming the variable or file. */
static bool load_tokens(struct server *srv, const st_config *cfg, const char *token_file)
{
	size_t n = (cfg ? cfg->n_tokens : 0) + (token_file ? 1 : 0);
	if (!n)
		return true;
	srv->tokens = calloc(n, sizeof(*srv->tokens));
	if (!srv->tokens)
		return false;
	for (size_t i = 0; cfg && i < cfg->n_tokens; i++) {
		const st_token_cfg *tc = &cfg->tokens[i];
		struct token *t = &srv->tokens[srv->n_tokens];
		if (!(t->name = strdup(tc->name ? tc->name : "?")))
			return false;
		srv->n_tokens++;
		t->role = tc->role == ST_ROLE_ADMIN ? ST_ROLE_ADMIN : ST_ROLE_READ;
		if (tc->has_sha256) {
			memcpy(t->sha256, tc->sha256, sizeof(t->sha256));
		} else if (tc->env) {
			const char *v = getenv(tc->env);
			size_t len = v ? strlen(v) : 0;
			const char *why = !v		  ? "is not set" :
					  !len		  ? "is empty" :
					  len > MAX_TOKEN ? "holds a token longer than 4096 bytes" :
					  !sha256(v, len, t->sha256) ? "could not be hashed" :
								       NULL;
			if (why) {
				fprintf(stderr,
					"stacktwin serve: %s:%u: token '%s': environment variable "
					"%s %s\n",
					cfg->path, tc->line, t->name, tc->env, why);
				return false;
			}
		} else if (tc->file) {
			if (!hash_token_file(t->name, tc->file, t->sha256))
				return false;
		} else {
			fprintf(stderr,
				"stacktwin serve: %s:%u: token '%s' has no env, file or sha256\n",
				cfg->path, tc->line, t->name);
			return false;
		}
	}
	if (token_file) {
		struct token *t = &srv->tokens[srv->n_tokens];
		if (!(t->name = strdup("token-file")))
			return false;
		srv->n_tokens++;
		t->role = ST_ROLE_ADMIN;
		if (!hash_token_file(t->name, token_file, t->sha256))
			return false;
	}
	/* the same token twice would make its role ambiguous */
	for (size_t i = 0; i < srv->n_tokens; i++)
		for (size_t k = i + 1; k < srv->n_tokens; k++)
			if (!CRYPTO_memcmp(srv->tokens[i].sha256, srv->tokens[k].sha256, 32)) {
				fprintf(stderr,
					"stacktwin serve: tokens '%s' and '%s' are the same token\n",
					srv->tokens[i].name, srv->tokens[k].name);
				return false;
			}
	return true;
}

static int serve_usage_error(const char *msg)
{
	fprintf(stderr, "stacktwin serve: %s\n%s", msg, serve_usage);
	return EXIT_ERROR;
}

enum { O_DB = 1000, O_SCHEMA, O_LISTEN, O_TOKEN, O_ANON, O_WEB, O_CONFIG };

int st_cli_serve(int argc, char **argv)
{
	static const struct option opts[] = {
		{"config", required_argument, NULL, O_CONFIG},
		{"db", required_argument, NULL, O_DB},
		{"schema", required_argument, NULL, O_SCHEMA},
		{"listen", required_argument, NULL, O_LISTEN},
		{"token-file", required_argument, NULL, O_TOKEN},
		{"allow-anonymous-read", no_argument, NULL, O_ANON},
		{"web", required_argument, NULL, O_WEB},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	const char *db = NULL, *schema_path = NULL, *listen = NULL, *token_file = NULL;
	const char *web = NULL, *config_path = NULL;
	bool anon = false;
	int o;
	optind = 1;
	while ((o = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (o) {
		case O_CONFIG: config_path = optarg; break;
		case O_DB: db = optarg; break;
		case O_SCHEMA: schema_path = optarg; break;
		case O_LISTEN: listen = optarg; break;
		case O_TOKEN: token_file = optarg; break;
		case O_ANON: anon = true; break;
		case O_WEB: web = optarg; break;
		case 'h': fputs(serve_usage, stdout); return 0;
		default: return serve_usage_error("bad option");
		}
	}
	if (optind < argc)
		return serve_usage_error("unexpected argument");

	st_diag d = {{0}};
	st_config *cfg = NULL;
	if (config_path && st_config_load(config_path, &cfg, &d) != 0) {
		fprintf(stderr, "stacktwin serve: %s\n", d.msg[0] ? d.msg : config_path);
		return EXIT_ERROR;
	}
	/* the command line overrides the config */
	if (cfg) {
		db = db ? db : cfg->store;
		listen = listen ? listen : cfg->listen;
		web = web ? web : cfg->web;
		anon = anon || cfg->allow_anonymous_read;
	}
	listen = listen ? listen : "127.0.0.1:8080";
	int rc = EXIT_ERROR;
	struct server *srv = NULL;
	char host[ST_LISTEN_HOST_MAX];
	uint16_t port;
	if (!db) {
		rc = serve_usage_error("--db DIR is required (or `store:` in the --config file)");
		goto out_cfg;
	}
	if (!token_file && !anon && !(cfg && cfg->n_tokens)) {
		rc = serve_usage_error(
			"refusing to serve without authentication: give --token-file FILE or "
			"server.tokens in --config, or --allow-anonymous-read to let anyone who "
			"can connect read the API");
		goto out_cfg;
	}
	if (st_listen_parse(listen, host, &port) != 0) {
		rc = serve_usage_error("--listen takes HOST:PORT (an IPv4 address, [IPv6 address] "
				       "or localhost, and a port 0..65535)");
		goto out_cfg;
	}

	srv = calloc(1, sizeof(*srv));
	if (!srv)
		goto out_cfg;
	bool loop_ok = false, lock_ok = false, rwlock_ok = false;
	srv->anon = anon;
	srv->cfg = cfg;
	srv->writable = cfg && cfg->n_sources > 0;
	srv->heavy_max = heavy_max_default();
	srv->max_rows = cfg && cfg->limits.max_rows ? cfg->limits.max_rows : DEFAULT_MAX_ROWS;
	if (!(srv->db = strdup(db)) || !load_tokens(srv, cfg, token_file))
		goto out;
	if (web) {
		struct stat sb;
		srv->web_root = realpath(web, NULL);
		if (!srv->web_root || stat(srv->web_root, &sb) != 0 || !S_ISDIR(sb.st_mode)) {
			fprintf(stderr, "stacktwin serve: --web %s: %s\n", web,
				srv->web_root ? "not a directory" : strerror(errno));
			goto out;
		}
		srv->web_root_len = strlen(srv->web_root);
	}
	if (st_metrics_new(label_names, N_LABELS, &srv->metrics) != 0 ||
	    st_metrics_untimed(srv->metrics, L_PROTOCOL) != 0)
		goto out;
	int r = schema_path ? st_schema_load_file(schema_path, &srv->schema, &d) :
			      st_schema_load_default(&srv->schema, &d);
	if (r) {
		fprintf(stderr, "stacktwin serve: %s\n", d.msg);
		goto out;
	}
	pthread_rwlockattr_t ra;
	pthread_rwlockattr_init(&ra);
	/* a reopen must not wait behind an endless stream of readers */
	pthread_rwlockattr_setkind_np(&ra, PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP);
	rwlock_ok = pthread_rwlock_init(&srv->store_lock, &ra) == 0;
	pthread_rwlockattr_destroy(&ra);
	if (!rwlock_ok)
		goto out;
	/* A store that cannot be opened yet (before the first sync) is not
	 * fatal: the API answers 503 until a request finds it openable. */
	store_open_locked(srv);
	if (pthread_mutex_init(&srv->lock, NULL) != 0)
		goto out;
	lock_ok = true;
	if (uv_loop_init(&srv->loop) != 0)
		goto out;
	loop_ok = true;
	st_http_config hc = {.host = host, .port = port, .on_core_response = on_core_response};
	if (cfg) {
		hc.max_connections = cfg->limits.max_connections;
		hc.max_header_bytes = cfg->limits.max_header_bytes;
		hc.max_headers = cfg->limits.max_headers;
		hc.max_body_bytes = cfg->limits.max_body_bytes;
		hc.header_timeout_ms = cfg->limits.header_timeout_ms;
		hc.idle_timeout_ms = cfg->limits.idle_timeout_ms;
	}
	if ((r = st_http_server_new(&hc, handle, srv, &srv->http)) != 0) {
		fprintf(stderr, "stacktwin serve: %s\n", st_strerror(r));
		goto out;
	}
	uint16_t bound = 0;
	if ((r = st_http_listen(srv->http, &srv->loop, &bound)) != 0) {
		fprintf(stderr, "stacktwin serve: cannot listen on %s: %s\n", listen,
			r == -EINVAL ? "bad address" : uv_strerror(r));
		goto out;
	}
	signal(SIGPIPE, SIG_IGN);
	uv_signal_init(&srv->loop, &srv->sig_term);
	uv_signal_init(&srv->loop, &srv->sig_int);
	srv->sig_term.data = srv->sig_int.data = srv;
	uv_signal_start(&srv->sig_term, on_signal, SIGTERM);
	uv_signal_start(&srv->sig_int, on_signal, SIGINT);
	bool v6 = strchr(host, ':') != NULL;
	printf("listening on http://%s%s%s:%u\n", v6 ? "[" : "", host, v6 ? "]" : "", bound);
	fflush(stdout);
	fprintf(stderr, "stacktwin serve: store %s (%s), %zu bearer token(s)", srv->db,
		srv->st ? "open" : "unavailable", srv->n_tokens);
	for (size_t i = 0; i < srv->n_tokens; i++)
		fprintf(stderr, "%s%s (%s)", i ? ", " : ": ", srv->tokens[i].name,
			role_name(srv->tokens[i].role));
	fprintf(stderr, "; anonymous read %s\n", srv->anon ? "allowed" : "not allowed");
	if (srv->writable) {
		st_sched_store ss = {sched_acquire, sched_release, srv};
		srv->sched = st_sched_new(&srv->loop, ss, srv->db, cfg, SCHED_FIRST_MS);
		size_t n_sched = 0;
		for (size_t i = 0; i < cfg->n_sources; i++)
			n_sched += cfg->sources[i].schedule_s > 0;
		fprintf(stderr, "stacktwin serve: %zu source(s), %zu on a schedule\n",
			cfg->n_sources, n_sched);
	}
	uv_run(&srv->loop, UV_RUN_DEFAULT);
	rc = 0;
out:
	if (loop_ok) {
		/* releases handles a failed listen left closing */
		uv_run(&srv->loop, UV_RUN_DEFAULT);
		st_http_server_free(srv->http);
		if (uv_loop_close(&srv->loop) != 0 && rc == 0) {
			fprintf(stderr, "stacktwin serve: the event loop did not close cleanly\n");
			rc = EXIT_ERROR;
		}
	}
	st_sched_free(srv->sched);
	if (lock_ok)
		pthread_mutex_destroy(&srv->lock);
	if (rwlock_ok)
		pthread_rwlock_destroy(&srv->store_lock);
	if (srv->dg)
		dg_unref_locked(srv->dg);
	for (size_t i = 0; i < srv->n_pool; i++)
		free(srv->pool[i].bits);
	st_store_close(srv->st);
	st_schema_free(srv->schema);
	for (size_t i = 0; i < srv->n_tokens; i++)
		free(srv->tokens[i].name);
	if (srv->tokens)
		OPENSSL_cleanse(srv->tokens, srv->n_tokens * sizeof(*srv->tokens));
	free(srv->tokens);
	st_metrics_free(srv->metrics);
	free(srv->web_root);
	free(srv->db);
	free(srv);
out_cfg:
	st_config_free(cfg);
	return rc;
}
