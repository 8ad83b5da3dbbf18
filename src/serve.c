/*
 * serve.c — `stacktwin serve`: routes, parameters, authentication and the
 * thread-pool plumbing of the HTTP query API (docs/api.md).
 *
 * The loop thread only routes, checks the method and the bearer token, and
 * hands each request to the libuv thread pool (st_http_defer + uv_queue_work).
 * A worker decodes the query parameters, takes its own store snapshot, runs
 * one query from query/ and renders it with render.c, the same JSON as
 * `stacktwin query --json`; the after-work callback answers on the loop
 * thread.  Shared state between workers (the dependency graph of the latest
 * revision and a pool of visited-set bitmaps) lives in `struct server`,
 * guarded by one mutex.
 *
 * It also serves GET /metrics (Prometheus text, metrics.c) and, with --web
 * DIR, the static files of the web viewer (read on the thread pool after a
 * path check that keeps every file inside DIR).  The request counters are
 * updated and read on the loop thread only, where every response is sent, so
 * they need no lock.  This file must not format query answers itself
 * (render.c does) nor log the token or request bodies.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include <uv.h>
#include <yajl/yajl_gen.h>

#include "http.h"
#include "metrics.h"
#include "query.h"
#include "render.h"
#include "schema.h"
#include "serve.h"
#include "store.h"

#define EXIT_ERROR 2
#define MAX_PARAMS 16		 /* query parameters per request */
#define MAX_TOKEN 4096		 /* bytes of the bearer token */
#define SCRATCH_POOL 8		 /* idle visited-set bitmaps kept */
#define API_MAX_LIMIT 10000	 /* rows per page (blast radius, search) */
#define API_MAX_NODES 100000	 /* neighbourhood and owned-by caps */
#define WEB_MAX_FILE (16u << 20) /* bytes of one static file (the core's response cap) */

static const char serve_usage[] =
	"usage: stacktwin serve --db DIR [--listen HOST:PORT] [--token-file FILE]\n"
	"                       [--allow-anonymous-read] [--schema FILE] [--web DIR]\n"
	"\n"
	"Serves the query API (docs/api.md) as JSON over HTTP/1.1.\n"
	"  --listen HOST:PORT        address to listen on [127.0.0.1:8080]; port 0 = any free port\n"
	"  --token-file FILE         require 'Authorization: Bearer <first line of FILE>'\n"
	"  --allow-anonymous-read    serve without a token (required when --token-file is absent)\n"
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
	L_METRICS,
	L_INDEX,  /* "/" without --web */
	L_STATIC, /* a file under --web */
	L_UNKNOWN,
	N_LABELS
};

static const char *const label_names[N_LABELS] = {
	[L_HEALTHZ] = "healthz",       [L_STATS] = "stats",	   [L_NODE] = "node",
	[L_SEARCH] = "search",	       [L_BLAST] = "blast-radius", [L_OWNERS] = "owners",
	[L_OWNED_BY] = "owned-by",     [L_COST] = "cost",	   [L_PATH] = "path",
	[L_NEIGHBOURS] = "neighbours", [L_METRICS] = "metrics",	   [L_INDEX] = "index",
	[L_STATIC] = "static",	       [L_UNKNOWN] = "unknown",
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
	st_store *st;
	char *token; /* NULL: anonymous read allowed */
	size_t token_len;
	uv_signal_t sig_term, sig_int;
	bool stopping;
	pthread_mutex_t lock; /* guards dg and pool */
	struct dgref *dg;     /* for the newest revision seen so far */
	struct scratch pool[SCRATCH_POOL];
	size_t n_pool;
};

struct param {
	const char *key;
	const char *val;
};

struct job;
typedef void (*route_fn)(struct job *j, st_snap *s);

struct route {
	const char *path;
	route_fn fn;
	bool auth;
	const char *const *params; /* allowed parameter names, NULL-terminated */
	enum label label;
	bool prometheus; /* answered with st_metrics_render() after the worker */
};

struct job {
	uv_work_t work;
	struct server *srv;
	st_http_request *req;
	const struct route *route;
	char *query; /* raw copy, decoded in place by the worker */
	struct param params[MAX_PARAMS];
	size_t n_params;
	yajl_gen g;
	int status;
	char detail[4608];
	struct tally t;
	st_metrics_gauges gauges; /* /metrics: store part, filled by the worker */
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
	if (!num_param(j, "limit", 1, API_MAX_LIMIT, 100, &limit))
		return;
	st_search_opts so = {param(j, "prefix"), param(j, "name"),  -1,
			     param(j, "prop"),	 param(j, "value"), (size_t)limit};
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
	st_render_search(j->g, s, r);
	st_search_result_free(r);
	j->status = 200;
}

static void r_blast(struct job *j, st_snap *s)
{
	st_id root;
	st_br_opts bo = {0};
	long depth, limit, offset;
	int32_t from, to;
	st_metric m;
	if (!node_param(j, s, "id", &root) || !edges_param(j, s, &bo.edges) ||
	    !num_param(j, "depth", 0, 1000000, 0, &depth) ||
	    !num_param(j, "limit", 1, API_MAX_LIMIT, 100, &limit) ||
	    !num_param(j, "offset", 0, 1000000000L, 0, &offset) ||
	    !window_params(j, false, &from, &to) || !metric_param(j, &m))
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
	e = st_br_aggregate_compute(s, r, from, to, m, &ag, &d);
	if (e)
		engine_error(j, e, &d, "blast-radius aggregates");
	else if ((e = st_render_blast(j->g, s, r, ag, bo.depth, to > from, (size_t)offset,
				      (size_t)limit)))
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
	if (!node_param(j, s, "id", &t))
		return;
	st_owned_result *r;
	st_diag d = {{0}};
	int e = st_owned_by(s, t, API_MAX_NODES, &r, &d);
	if (e) {
		engine_error(j, e, &d, "owned-by");
		return;
	}
	st_render_owned_by(j->g, s, r);
	st_owned_result_free(r);
	j->status = 200;
}

static void r_cost(struct job *j, st_snap *s)
{
	const char *by_name;
	st_group by;
	int32_t from, to;
	st_metric m;
	if (!need_param(j, "by", &by_name))
		return;
	if (st_render_group_parse(by_name, &by)) {
		problem(j, 400, "parameter 'by' is resource, service, team, system or domain");
		return;
	}
	if (!window_params(j, true, &from, &to) || !metric_param(j, &m))
		return;
	st_cost_result *r;
	st_diag d = {{0}};
	int e = st_cost_rollup(s, from, to, by, m, &r, &d);
	if (e) {
		engine_error(j, e, &d, "cost");
		return;
	}
	st_render_cost(j->g, s, r, by, from, to, m);
	st_cost_result_free(r);
	j->status = 200;
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
static void r_metrics(struct job *j, st_snap *s)
{
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

static const char *const p_none[] = {NULL};
static const char *const p_id[] = {"id", NULL};
static const char *const p_search[] = {"prefix", "name", "type", "prop", "value", "limit", NULL};
static const char *const p_blast[] = {"id",	"depth", "edges",  "from", "to",
				      "metric", "limit", "offset", NULL};
static const char *const p_cost[] = {"by", "from", "to", "metric", NULL};
static const char *const p_path[] = {"from", "to", "edges", "max_paths", NULL};
static const char *const p_nb[] = {"id", "hops", "breadth", "max_nodes", "edges", NULL};

static const struct route routes[] = {
	{"/healthz", r_healthz, false, p_none, L_HEALTHZ, false},
	{"/metrics", r_metrics, true, p_none, L_METRICS, true},
	{"/api/v1/stats", r_stats, true, p_none, L_STATS, false},
	{"/api/v1/node", r_node, true, p_id, L_NODE, false},
	{"/api/v1/search", r_search, true, p_search, L_SEARCH, false},
	{"/api/v1/blast-radius", r_blast, true, p_blast, L_BLAST, false},
	{"/api/v1/owners", r_owners, true, p_id, L_OWNERS, false},
	{"/api/v1/owned-by", r_owned_by, true, p_id, L_OWNED_BY, false},
	{"/api/v1/cost", r_cost, true, p_cost, L_COST, false},
	{"/api/v1/path", r_path, true, p_path, L_PATH, false},
	{"/api/v1/neighbours", r_neighbours, true, p_nb, L_NEIGHBOURS, false},
	{"/api/v1/neighbors", r_neighbours, true, p_nb, L_NEIGHBOURS, false},
};

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

/* --------------------------------------------------------- thread pool */

static void job_free(struct job *j)
{
	if (!j)
		return;
	if (j->g)
		yajl_gen_free(j->g);
	free(j->query);
	free(j);
}

static void work_cb(uv_work_t *w)
{
	struct job *j = w->data;
	if (!parse_params(j))
		return;
	st_snap *s;
	st_diag d = {{0}};
	int r = st_snap_begin(j->srv->st, &s, &d);
	if (r && j->route->prometheus) {
		j->status = 200; /* the HTTP metrics without the store gauges */
		return;
	}
	if (r) {
		problem(j, 503, "store: %s", d.msg);
		return;
	}
	j->g = yajl_gen_alloc(NULL);
	if (!j->g)
		problem(j, 503, "out of memory");
	else
		j->route->fn(j, s);
	st_snap_end(s);
}

static void after_work_cb(uv_work_t *w, int status)
{
	struct job *j = w->data;
	struct server *srv = j->srv;
	(void)status;
	if (j->status == 200 && j->route->prometheus) {
		char *text;
		size_t len;
		j->gauges.connections = st_http_connections(srv->http);
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
	} else {
		if (j->status >= 500)
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

/* Compare in time that depends on the expected token's length only. */
static bool token_equal(const char *given, size_t glen, const char *tok, size_t tlen)
{
	volatile unsigned char diff = glen != tlen;
	for (size_t i = 0; i < tlen; i++) {
		unsigned char c = i < glen ? (unsigned char)given[i] : 0;
		diff |= (unsigned char)(c ^ (unsigned char)tok[i]);
	}
	return diff == 0;
}

/* 0 if the request may proceed, else the status already answered. */
static int check_auth(struct server *srv, st_http_request *req, const struct tally *t)
{
	const char *h = st_http_header(req, "Authorization");
	if (!h || strncasecmp(h, "Bearer ", 7) != 0) {
		st_http_add_header(req, "WWW-Authenticate", "Bearer");
		reply_problem(srv, req, t, 401,
			      "this server needs 'Authorization: Bearer <token>'");
		return 401;
	}
	h += 7;
	while (*h == ' ')
		h++;
	size_t n = strlen(h);
	while (n && (h[n - 1] == ' ' || h[n - 1] == '\t'))
		n--;
	if (!token_equal(h, n, srv->token, srv->token_len)) {
		reply_problem(srv, req, t, 403, "the bearer token is not valid");
		return 403;
	}
	return 0;
}

static const char index_json[] = "{\"api\":\"/api/v1\",\"health\":\"/healthz\","
				 "\"metrics\":\"/metrics\"}";

static void handle(st_http_request *req, void *ctx)
{
	struct server *srv = ctx;
	struct tally t = {L_UNKNOWN, uv_hrtime()};
	st_metrics_request_begin(srv->metrics);
	const char *path = st_http_path(req);
	const struct route *rt = NULL;
	for (size_t i = 0; i < ST_ARRAY_LEN(routes); i++)
		if (!strcmp(path, routes[i].path))
			rt = &routes[i];
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
	if (strcmp(method, "GET") != 0 && strcmp(method, "HEAD") != 0) {
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
	if (rt->auth && srv->token && check_auth(srv, req, &t))
		return;
	struct job *j = calloc(1, sizeof(*j));
	const char *q = st_http_query(req);
	if (j)
		j->query = strdup(q);
	if (!j || !j->query) {
		job_free(j);
		reply_problem(srv, req, &t, 503, "out of memory");
		return;
	}
	j->srv = srv;
	j->req = req;
	j->route = rt;
	j->t = t;
	j->work.data = j;
	st_http_defer(req);
	int r = uv_queue_work(&srv->loop, &j->work, work_cb, after_work_cb);
	if (r) {
		job_free(j);
		reply_problem(srv, req, &t, 500, "could not queue the request");
	}
}

/* ---------------------------------------------------------- lifecycle */

static void on_http_closed(st_http_server *s, void *ctx)
{
	(void)s;
	(void)ctx;
	fprintf(stderr, "stacktwin serve: stopped\n");
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
	st_http_shutdown(srv->http, on_http_closed, srv);
}

/* The first line of a file, without its line end; NULL with a message. */
static char *read_token(const char *path, size_t *ret_len)
{
	FILE *f = fopen(path, "r");
	if (!f) {
		fprintf(stderr, "stacktwin serve: %s: %s\n", path, strerror(errno));
		return NULL;
	}
	char *buf = calloc(1, MAX_TOKEN + 2);
	size_t n = 0;
	if (buf && fgets(buf, MAX_TOKEN + 2, f))
		n = strlen(buf);
	fclose(f);
	if (!buf)
		return NULL;
	bool whole = n && (buf[n - 1] == '\n' || n <= MAX_TOKEN);
	while (n && (buf[n - 1] == '\n' || buf[n - 1] == '\r'))
		buf[--n] = 0;
	if (!whole || n > MAX_TOKEN) {
		fprintf(stderr, "stacktwin serve: %s: the token is longer than %d bytes\n", path,
			MAX_TOKEN);
		free(buf);
		return NULL;
	}
	if (!n) {
		fprintf(stderr, "stacktwin serve: %s: the first line (the token) is empty\n", path);
		free(buf);
		return NULL;
	}
	*ret_len = n;
	return buf;
}

/* "HOST:PORT" or "[V6]:PORT" into host (cap bytes) and port. */
static bool parse_listen(const char *s, char *host, size_t cap, uint16_t *port)
{
	const char *colon = strrchr(s, ':');
	if (!colon || colon == s)
		return false;
	const char *h = s;
	size_t hl = (size_t)(colon - s);
	if (h[0] == '[') {
		if (hl < 3 || h[hl - 1] != ']')
			return false;
		h++;
		hl -= 2;
	}
	if (hl >= cap)
		return false;
	memcpy(host, h, hl);
	host[hl] = 0;
	char *end;
	errno = 0;
	long p = strtol(colon + 1, &end, 10);
	if (errno || *end || end == colon + 1 || p < 0 || p > 65535)
		return false;
	*port = (uint16_t)p;
	return true;
}

static int serve_usage_error(const char *msg)
{
	fprintf(stderr, "stacktwin serve: %s\n%s", msg, serve_usage);
	return EXIT_ERROR;
}

enum { O_DB = 1000, O_SCHEMA, O_LISTEN, O_TOKEN, O_ANON, O_WEB };

int st_cli_serve(int argc, char **argv)
{
	static const struct option opts[] = {
		{"db", required_argument, NULL, O_DB},
		{"schema", required_argument, NULL, O_SCHEMA},
		{"listen", required_argument, NULL, O_LISTEN},
		{"token-file", required_argument, NULL, O_TOKEN},
		{"allow-anonymous-read", no_argument, NULL, O_ANON},
		{"web", required_argument, NULL, O_WEB},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	const char *db = NULL, *schema_path = NULL, *listen = "127.0.0.1:8080", *token_file = NULL;
	const char *web = NULL;
	bool anon = false;
	int o;
	optind = 1;
	while ((o = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (o) {
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
	if (!db)
		return serve_usage_error("--db DIR is required");
	if (!token_file && !anon)
		return serve_usage_error(
			"refusing to serve without authentication: give --token-file FILE, "
			"or --allow-anonymous-read to let anyone who can connect read the API");
	char host[256];
	uint16_t port;
	if (!parse_listen(listen, host, sizeof(host), &port))
		return serve_usage_error(
			"--listen takes HOST:PORT (an IP address and a port 0..65535)");

	struct server *srv = calloc(1, sizeof(*srv));
	if (!srv)
		return EXIT_ERROR;
	int rc = EXIT_ERROR;
	bool loop_ok = false, lock_ok = false;
	st_diag d = {{0}};
	if (token_file && !(srv->token = read_token(token_file, &srv->token_len)))
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
	if (st_metrics_new(label_names, N_LABELS, &srv->metrics) != 0)
		goto out;
	int r = schema_path ? st_schema_load_file(schema_path, &srv->schema, &d) :
			      st_schema_load_default(&srv->schema, &d);
	if (r || st_store_open(db, srv->schema, ST_OPEN_READONLY, &srv->st, &d)) {
		fprintf(stderr, "stacktwin serve: %s\n", d.msg);
		goto out;
	}
	if (pthread_mutex_init(&srv->lock, NULL) != 0)
		goto out;
	lock_ok = true;
	if (uv_loop_init(&srv->loop) != 0)
		goto out;
	loop_ok = true;
	st_http_config cfg = {.host = host, .port = port};
	if ((r = st_http_server_new(&cfg, handle, srv, &srv->http)) != 0) {
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
	fprintf(stderr, "stacktwin serve: store %s, %s\n", db,
		srv->token ? "bearer token required" : "anonymous read allowed");
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
	if (lock_ok)
		pthread_mutex_destroy(&srv->lock);
	if (srv->dg)
		dg_unref_locked(srv->dg);
	for (size_t i = 0; i < srv->n_pool; i++)
		free(srv->pool[i].bits);
	st_store_close(srv->st);
	st_schema_free(srv->schema);
	if (srv->token) {
		memset(srv->token, 0, srv->token_len);
		free(srv->token);
	}
	st_metrics_free(srv->metrics);
	free(srv->web_root);
	free(srv);
	return rc;
}
