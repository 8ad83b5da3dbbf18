/*
 * store_bench.c — micro-benchmarks of an existing store, run by bench/run-bench.
 *
 *   store-bench open DIR ID      time to load the schema, open the store
 *                                read-only, take a snapshot and answer one
 *                                lookup of ID (+ read its record); one run per
 *                                process so the caller can time cold opens.
 *   store-bench scan DIR [RUNS]  full adjacency scan (out and in) RUNS times;
 *                                prints each run's edges/s and the median.
 *   store-bench lookups DIR N    N random id lookups + node reads; prints the
 *                                rate (ids sampled from the store first).
 *   store-bench blast DIR N      blast radius timings: the depgraph build, the
 *                                unbounded radius of the service with the most
 *                                CALLS callers (11 runs, with and without the
 *                                depgraph), and the depth-3 radius of N random
 *                                services (seeded), with and without it; medians.
 *
 * Output is one "key value" pair per line for the driver to parse.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "query.h"
#include "schema.h"
#include "store.h"

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static _Noreturn void die(const char *what, const st_diag *d)
{
	fprintf(stderr, "store-bench: %s: %s\n", what, d ? d->msg : "");
	exit(2);
}

/* Schema, read-only store and a snapshot, or exit 2. */
static void open_ro(const char *dir, st_schema **schema, st_store **st, st_snap **s)
{
	st_diag d;
	if (st_schema_load_default(schema, &d) || st_store_open(dir, *schema, ST_OPEN_READONLY, st, &d) ||
	    st_snap_begin(*st, s, &d))
		die("open", &d);
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

static int bench_open(const char *dir, const char *id)
{
	double t0 = now();
	st_schema *schema;
	st_store *st;
	st_snap *s;
	st_diag d;
	if (st_schema_load_default(&schema, &d))
		die("schema", &d);
	if (st_store_open(dir, schema, ST_OPEN_READONLY, &st, &d))
		die("open", &d);
	if (st_snap_begin(st, &s, &d))
		die("snapshot", &d);
	st_id x;
	st_node n;
	if (st_snap_lookup(s, id, strlen(id), &x) || st_snap_node(s, x, &n))
		die("lookup", NULL);
	double t1 = now();
	printf("open_lookup_ms %.3f\n", (t1 - t0) * 1e3);
	printf("found %.*s\n", (int)n.key_len, n.key);
	st_snap_end(s);
	st_store_close(st);
	st_schema_free(schema);
	return 0;
}

struct scan_acc {
	uint64_t n, sum;
};

static int scan_cb(st_id node, const void *vals, size_t n, void *ctx)
{
	struct scan_acc *a = ctx;
	uint64_t s = node;
	for (size_t i = 0; i < n; i++)
		s += st_adj_at(vals, i); /* touch every value */
	a->sum += s;
	a->n += n;
	return 0;
}

static int bench_scan(const char *dir, int runs)
{
	st_schema *schema;
	st_store *st;
	st_diag d;
	if (st_schema_load_default(&schema, &d) || st_store_open(dir, schema, ST_OPEN_READONLY, &st, &d))
		die("open", &d);
	if (runs < 1)
		runs = 1;
	double *rates = calloc((size_t)runs, sizeof(double));
	double *in_rates = calloc((size_t)runs, sizeof(double));
	uint64_t edges = 0;
	for (int r = 0; r < runs; r++) {
		st_snap *s;
		if (st_snap_begin(st, &s, &d))
			die("snapshot", &d);
		struct scan_acc a = {0, 0}, b = {0, 0};
		double t0 = now();
		if (st_snap_adj_scan(s, ST_OUT, scan_cb, &a))
			die("scan", NULL);
		double t1 = now();
		if (st_snap_adj_scan(s, ST_IN, scan_cb, &b))
			die("scan", NULL);
		double t2 = now();
		st_snap_end(s);
		if (a.n != b.n)
			die("out and in adjacency differ in size", NULL);
		edges = a.n;
		rates[r] = (double)a.n / (t1 - t0);
		in_rates[r] = (double)b.n / (t2 - t1);
		printf("scan_run %d edges %llu out_seconds %.4f in_seconds %.4f checksum %llu\n", r,
		       (unsigned long long)a.n, t1 - t0, t2 - t1, (unsigned long long)(a.sum ^ b.sum));
	}
	qsort(rates, (size_t)runs, sizeof(double), cmp_double);
	qsort(in_rates, (size_t)runs, sizeof(double), cmp_double);
	printf("scan_edges %llu\n", (unsigned long long)edges);
	printf("scan_out_median_edges_per_s %.0f\n", rates[runs / 2]);
	printf("scan_in_median_edges_per_s %.0f\n", in_rates[runs / 2]);
	free(rates);
	free(in_rates);
	st_store_close(st);
	st_schema_free(schema);
	return 0;
}

struct ids {
	st_id *v;
	size_t n, cap;
};

static int collect(const st_node *n, void *ctx)
{
	struct ids *ids = ctx;
	if (ids->n == ids->cap) {
		ids->cap = ids->cap ? ids->cap * 2 : 1024;
		ids->v = realloc(ids->v, ids->cap * sizeof(st_id));
	}
	ids->v[ids->n++] = n->id;
	return 0;
}

static int bench_lookups(const char *dir, long count)
{
	st_schema *schema;
	st_store *st;
	st_snap *s;
	open_ro(dir, &schema, &st, &s);
	struct ids ids = {0};
	st_snap_scan_nodes(s, collect, &ids);
	if (!ids.n)
		die("empty store", NULL);
	/* keys copied out so the lookups go through the string index */
	char **keys = malloc(ids.n * sizeof(char *));
	for (size_t i = 0; i < ids.n; i++) {
		st_node n;
		st_snap_node(s, ids.v[i], &n);
		keys[i] = strndup(n.key, n.key_len);
	}
	uint64_t seed = 42, found = 0;
	double t0 = now();
	for (long i = 0; i < count; i++) {
		seed = seed * 6364136223846793005ull + 1442695040888963407ull;
		const char *k = keys[(seed >> 33) % ids.n];
		st_id x;
		st_node n;
		if (st_snap_lookup(s, k, strlen(k), &x) == 0 && st_snap_node(s, x, &n) == 0)
			found++;
	}
	double t = now() - t0;
	printf("lookups %ld found %llu seconds %.4f\n", count, (unsigned long long)found, t);
	printf("lookup_us %.3f\n", t / (double)count * 1e6);
	for (size_t i = 0; i < ids.n; i++)
		free(keys[i]);
	free(keys);
	free(ids.v);
	st_snap_end(s);
	st_store_close(st);
	st_schema_free(schema);
	return found == (uint64_t)count ? 0 : 1;
}

static int collect_ids(const void *ids, size_t n, void *ctx)
{
	struct ids *v = ctx;
	for (size_t i = 0; i < n; i++) {
		if (v->n == v->cap) {
			v->cap = v->cap ? v->cap * 2 : 1024;
			v->v = realloc(v->v, v->cap * sizeof(st_id));
		}
		v->v[v->n++] = st_id_at(ids, i);
	}
	return 0;
}

/* Median of n timings (sorts them). */
static double med(double *t, size_t n)
{
	qsort(t, n, sizeof(double), cmp_double);
	return t[n / 2];
}

static double time_br(st_snap *s, st_id root, uint32_t depth, const st_depgraph *g, uint64_t *scratch,
		      size_t *hits)
{
	st_br_opts o = {.depth = depth, .graph = g, .scratch = scratch};
	st_br_result *r;
	st_diag d;
	double t0 = now();
	if (st_blast_radius(s, root, &o, &r, &d))
		die("blast radius", &d);
	double t = now() - t0;
	*hits = r->n_hits;
	st_br_result_free(r);
	return t;
}

static int bench_blast(const char *dir, long count)
{
	st_schema *schema;
	st_store *st;
	st_snap *s;
	st_diag d;
	open_ro(dir, &schema, &st, &s);
	int svc = st_schema_find_node_type(schema, "Service", 7);
	int calls = st_schema_find_edge_type(schema, "CALLS", 5);
	struct ids sv = {0};
	st_snap_scan_type(s, svc, collect_ids, &sv);
	if (!sv.n || count < 1)
		die("no services", NULL);
	/* the hub: most CALLS callers, ties to the smallest id */
	st_id hub = 0;
	size_t best = 0;
	for (size_t i = 0; i < sv.n; i++) {
		st_adj_iter it;
		const void *v;
		size_t n, c = 0;
		st_snap_adj_open_type(s, ST_IN, sv.v[i], calls, &it);
		while (st_adj_next(&it, &v, &n) == 1)
			c += n;
		st_adj_close(&it);
		if (c > best) {
			best = c;
			hub = sv.v[i];
		}
	}
	double tb[5];
	st_depgraph *g = NULL;
	for (int i = 0; i < 5; i++) {
		st_depgraph_free(g);
		double t0 = now();
		if (st_depgraph_build(s, &g, &d))
			die("depgraph", &d);
		tb[i] = now() - t0;
	}
	printf("depgraph_build_ms %.1f\n", med(tb, 5) * 1e3);
	double tw[11], to[11];
	size_t hits = 0;
	for (int i = 0; i < 11; i++) {
		tw[i] = time_br(s, hub, 0, g, NULL, &hits);
		to[i] = time_br(s, hub, 0, NULL, NULL, &hits);
	}
	st_node hn;
	st_snap_node(s, hub, &hn);
	printf("hub %.*s callers %zu dependents %zu\n", (int)hn.key_len, hn.key, best, hits);
	printf("hub_unbounded_ms_depgraph %.2f\n", med(tw, 11) * 1e3);
	printf("hub_unbounded_ms_store %.2f\n", med(to, 11) * 1e3);
	double *a = malloc((size_t)count * sizeof(double)), *b = malloc((size_t)count * sizeof(double));
	double *h = malloc((size_t)count * sizeof(double));
	/* each path in its own loop (steady state, as a server answering
	 * queries in a row), the same seeded services for both */
	uint64_t seed = 7;
	for (long i = 0; i < count; i++) {
		seed = seed * 6364136223846793005ull + 1442695040888963407ull;
		a[i] = time_br(s, sv.v[(seed >> 33) % sv.n], 3, g, NULL, &hits);
		h[i] = (double)hits;
	}
	seed = 7;
	for (long i = 0; i < count; i++) {
		seed = seed * 6364136223846793005ull + 1442695040888963407ull;
		b[i] = time_br(s, sv.v[(seed >> 33) % sv.n], 3, NULL, NULL, &hits);
	}
	/* with a per-thread visited bitmap, as a server worker keeps one */
	uint64_t *scratch = calloc((st_snap_id_bound(s) + 63) / 64, sizeof(uint64_t));
	double *c = malloc((size_t)count * sizeof(double));
	seed = 7;
	for (long i = 0; i < count; i++) {
		seed = seed * 6364136223846793005ull + 1442695040888963407ull;
		c[i] = time_br(s, sv.v[(seed >> 33) % sv.n], 3, g, scratch, &hits);
	}
	printf("depth3_us_depgraph_scratch %.1f\n", med(c, (size_t)count) * 1e6);
	free(c);
	free(scratch);
	printf("depth3_services %ld median_dependents %.0f\n", count, med(h, (size_t)count));
	printf("depth3_us_depgraph %.1f\n", med(a, (size_t)count) * 1e6);
	printf("depth3_us_store %.1f\n", med(b, (size_t)count) * 1e6);
	free(a);
	free(b);
	free(h);
	free(sv.v);
	st_depgraph_free(g);
	st_snap_end(s);
	st_store_close(st);
	st_schema_free(schema);
	return 0;
}

int main(int argc, char **argv)
{
	if (argc >= 4 && !strcmp(argv[1], "open"))
		return bench_open(argv[2], argv[3]);
	if (argc >= 3 && !strcmp(argv[1], "scan"))
		return bench_scan(argv[2], argc >= 4 ? (int)strtol(argv[3], NULL, 10) : 5);
	if (argc >= 4 && !strcmp(argv[1], "lookups"))
		return bench_lookups(argv[2], strtol(argv[3], NULL, 10));
	if (argc >= 3 && !strcmp(argv[1], "blast"))
		return bench_blast(argv[2], argc >= 4 ? strtol(argv[3], NULL, 10) : 1000);
	fprintf(stderr, "usage: store-bench open DIR ID | scan DIR [RUNS] | lookups DIR N | blast DIR [N]\n");
	return 2;
}
