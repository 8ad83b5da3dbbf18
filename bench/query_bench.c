/*
 * query_bench.c — the stacktwin side of bench/compare-peers (docs/peers.md).
 *
 *   query-bench DB HUB_FILE SAMPLE_FILE OUT_DIR RUNS
 *
 * Opens the store DB read-only, takes one snapshot, builds the dependency
 * graph (st_depgraph_build, RUNS times, the last one kept) and runs each
 * query RUNS times, timing every run with clock_gettime around the engine
 * calls only (id lookups of the parameters included, formatting excluded):
 *
 *   q1  st_blast_radius of the hub (HUB_FILE: one string id), unbounded,
 *       all dependency edge types, with the depgraph
 *   q2  st_blast_radius to depth 3 of each service in SAMPLE_FILE (one id
 *       a line), with the depgraph
 *   q3  st_owner of each sample service
 *   q4  st_cost_rollup [2026-10-01, 2026-10-31), by team, effective cost
 *   q1_store, q2_store: q1 and q2 without the depgraph (adjacency read
 *       through the store); their answers must equal q1's and q2's
 *
 * Timings go to stdout as "name seconds" lines, one per run.  Answers go to
 * OUT_DIR as canonical lines sorted bytewise (the format the SQL peers
 * write, see docs/peers.md):
 *   q1.txt         dependent
 *   q1-dist.txt    dependent TAB distance      (not compared with the peers)
 *   q2.txt         root TAB dependent TAB distance
 *   q3.txt         service TAB owner           (smallest string id, or "unowned")
 *   q4.txt         group TAB currency TAB micro-units TAB facts
 *                  (group "unattributed" for the ST_ID_NONE row)
 *   q4-totals.txt  currency TAB micro-units TAB facts
 * Exit 2 on errors, 1 if the with/without-depgraph answers differ.
 */
#include <errno.h>
#include <stdarg.h>
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

static _Noreturn void die(const char *what, int err, const st_diag *d)
{
	fprintf(stderr, "query-bench: %s: %s%s%s\n", what, st_strerror(err), d && d->msg[0] ? ": " : "",
		d ? d->msg : "");
	exit(2);
}

/* ------------------------------------------------------------ output lines */
typedef struct lines {
	char **v;
	size_t n, cap;
} lines;

static void addf(lines *l, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void addf(lines *l, const char *fmt, ...)
{
	va_list ap;
	char *s;
	va_start(ap, fmt);
	if (vasprintf(&s, fmt, ap) < 0) {
		fprintf(stderr, "query-bench: out of memory\n");
		exit(2);
	}
	va_end(ap);
	if (l->n == l->cap) {
		l->cap = l->cap ? l->cap * 2 : 1024;
		l->v = st_xrealloc(l->v, l->cap * sizeof(*l->v));
	}
	l->v[l->n++] = s;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static void lines_write(lines *l, const char *dir, const char *name)
{
	char path[4096];
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	FILE *f = fopen(path, "w");
	if (!f)
		die(path, -errno, NULL);
	qsort(l->v, l->n, sizeof(*l->v), cmp_str);
	for (size_t i = 0; i < l->n; i++) {
		fputs(l->v[i], f);
		fputc('\n', f);
		free(l->v[i]);
	}
	if (fclose(f))
		die(path, -errno, NULL);
	free(l->v);
	*l = (lines){0};
}

/* ------------------------------------------------------------- parameters */
typedef struct idstr {
	const char *s;
	int len;
} idstr;

static idstr key_of(st_snap *s, st_id id)
{
	st_node n;
	int r = st_snap_node(s, id, &n);
	if (r)
		die("node record", r, NULL);
	return (idstr){n.key, (int)n.key_len};
}

/* Lines of a file, without the newline, NUL-terminated. */
static char **read_lines(const char *path, size_t *ret_n)
{
	FILE *f = fopen(path, "r");
	if (!f)
		die(path, -errno, NULL);
	char **v = NULL;
	size_t n = 0, cap = 0, len = 0;
	char *line = NULL;
	ssize_t got;
	while ((got = getline(&line, &len, f)) >= 0) {
		while (got > 0 && (line[got - 1] == '\n' || line[got - 1] == '\r'))
			line[--got] = 0;
		if (!got)
			continue;
		if (n == cap) {
			cap = cap ? cap * 2 : 128;
			v = st_xrealloc(v, cap * sizeof(*v));
		}
		v[n++] = st_xstrndup(line, (size_t)got);
	}
	free(line);
	fclose(f);
	*ret_n = n;
	return v;
}

static st_id lookup(st_snap *s, const char *id)
{
	st_id x;
	int r = st_snap_lookup(s, id, strlen(id), &x);
	if (r) {
		fprintf(stderr, "query-bench: unknown node %s\n", id);
		exit(2);
	}
	return x;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

static double median(double *t, size_t n)
{
	qsort(t, n, sizeof(*t), cmp_double);
	return t[(n - 1) / 2];
}

/* Same hits (id, distance) in the same order: both are ordered by
 * (distance, id) per query.h. */
static int br_equal(const st_br_result *a, const st_br_result *b)
{
	if (a->n_hits != b->n_hits)
		return 0;
	for (size_t i = 0; i < a->n_hits; i++)
		if (a->hits[i].id != b->hits[i].id || a->hits[i].distance != b->hits[i].distance)
			return 0;
	return 1;
}

int main(int argc, char **argv)
{
	if (argc != 6) {
		fprintf(stderr, "usage: query-bench DB HUB_FILE SAMPLE_FILE OUT_DIR RUNS\n");
		return 2;
	}
	const char *dir = argv[1], *outdir = argv[4];
	int runs = atoi(argv[5]);
	if (runs < 1) {
		fprintf(stderr, "query-bench: RUNS must be >= 1\n");
		return 2;
	}
	st_schema *schema;
	st_store *st;
	st_snap *s;
	st_diag d = {{0}};
	int r;
	if ((r = st_schema_load_default(&schema, &d)))
		die("schema", r, &d);
	if ((r = st_store_open(dir, schema, ST_OPEN_READONLY, &st, &d)))
		die(dir, r, &d);
	if ((r = st_snap_begin(st, &s, &d)))
		die("snapshot", r, &d);

	size_t nh, ns;
	char **hubv = read_lines(argv[2], &nh);
	char **samplev = read_lines(argv[3], &ns);
	if (nh != 1 || ns == 0) {
		fprintf(stderr, "query-bench: expected one hub id and at least one sample id\n");
		return 2;
	}
	double *t = st_xcalloc((size_t)runs, sizeof(double));
	int bad = 0;

	/* ---- dependency graph */
	st_depgraph *g = NULL;
	for (int i = 0; i < runs; i++) {
		st_depgraph_free(g);
		g = NULL;
		double t0 = now();
		if ((r = st_depgraph_build(s, &g, &d)))
			die("st_depgraph_build", r, &d);
		t[i] = now() - t0;
		printf("depgraph_build %.6f\n", t[i]);
	}
	fprintf(stderr, "query-bench: depgraph %.3f s (median of %d)\n", median(t, (size_t)runs), runs);

	/* ---- q1: hub blast radius, unbounded */
	st_br_result *q1 = NULL, *q1s = NULL;
	for (int pass = 0; pass < 2; pass++) {
		const char *name = pass ? "q1_store" : "q1";
		st_br_result **res = pass ? &q1s : &q1;
		for (int i = 0; i < runs; i++) {
			st_br_result_free(*res);
			*res = NULL;
			double t0 = now();
			st_id hub = lookup(s, hubv[0]);
			st_br_opts o = {.edges = 0, .depth = 0, .graph = pass ? NULL : g};
			if ((r = st_blast_radius(s, hub, &o, res, &d)))
				die("st_blast_radius (q1)", r, &d);
			t[i] = now() - t0;
			printf("%s %.6f\n", name, t[i]);
		}
		fprintf(stderr, "query-bench: %s: %zu dependents, max distance %u, %.3f ms\n", name,
			(*res)->n_hits, (*res)->max_distance, median(t, (size_t)runs) * 1e3);
	}
	if (!br_equal(q1, q1s)) {
		fprintf(stderr, "query-bench: q1 differs with and without the depgraph (%zu vs %zu hits)\n",
			q1->n_hits, q1s->n_hits);
		bad = 1;
	}
	{
		lines a = {0}, b = {0};
		for (size_t i = 0; i < q1->n_hits; i++) {
			idstr k = key_of(s, q1->hits[i].id);
			addf(&a, "%.*s", k.len, k.s);
			addf(&b, "%.*s\t%u", k.len, k.s, q1->hits[i].distance);
		}
		lines_write(&a, outdir, "q1.txt");
		lines_write(&b, outdir, "q1-dist.txt");
	}
	st_br_result_free(q1s);
	st_br_result_free(q1);

	/* ---- q2: depth-3 blast radius of the sample */
	st_br_result **q2 = st_xcalloc(ns, sizeof(*q2)), **q2s = st_xcalloc(ns, sizeof(*q2s));
	for (int pass = 0; pass < 2; pass++) {
		const char *name = pass ? "q2_store" : "q2";
		st_br_result **res = pass ? q2s : q2;
		for (int i = 0; i < runs; i++) {
			for (size_t j = 0; j < ns; j++) {
				st_br_result_free(res[j]);
				res[j] = NULL;
			}
			double t0 = now();
			for (size_t j = 0; j < ns; j++) {
				st_id x = lookup(s, samplev[j]);
				st_br_opts o = {.edges = 0, .depth = 3, .graph = pass ? NULL : g};
				if ((r = st_blast_radius(s, x, &o, &res[j], &d)))
					die("st_blast_radius (q2)", r, &d);
			}
			t[i] = now() - t0;
			printf("%s %.6f\n", name, t[i]);
		}
		size_t hits = 0;
		for (size_t j = 0; j < ns; j++)
			hits += res[j]->n_hits;
		fprintf(stderr, "query-bench: %s: %zu roots, %zu (root, dependent) pairs, %.3f ms\n", name,
			ns, hits, median(t, (size_t)runs) * 1e3);
	}
	{
		lines a = {0};
		for (size_t j = 0; j < ns; j++) {
			if (!br_equal(q2[j], q2s[j])) {
				fprintf(stderr, "query-bench: q2 %s differs with and without the depgraph\n",
					samplev[j]);
				bad = 1;
			}
			for (size_t i = 0; i < q2[j]->n_hits; i++) {
				idstr k = key_of(s, q2[j]->hits[i].id);
				addf(&a, "%s\t%.*s\t%u", samplev[j], k.len, k.s, q2[j]->hits[i].distance);
			}
			st_br_result_free(q2[j]);
			st_br_result_free(q2s[j]);
		}
		lines_write(&a, outdir, "q2.txt");
	}
	free(q2);
	free(q2s);

	/* ---- q3: owners of the sample */
	st_owner_result **q3 = st_xcalloc(ns, sizeof(*q3));
	for (int i = 0; i < runs; i++) {
		for (size_t j = 0; j < ns; j++) {
			st_owner_result_free(q3[j]);
			q3[j] = NULL;
		}
		double t0 = now();
		for (size_t j = 0; j < ns; j++) {
			st_id x = lookup(s, samplev[j]);
			if ((r = st_owner(s, x, &q3[j], &d)))
				die("st_owner", r, &d);
		}
		t[i] = now() - t0;
		printf("q3 %.6f\n", t[i]);
	}
	fprintf(stderr, "query-bench: q3: %zu owners, %.3f ms\n", ns, median(t, (size_t)runs) * 1e3);
	{
		lines a = {0};
		for (size_t j = 0; j < ns; j++) {
			/* owners[] is sorted by numeric id; the benchmark takes the
			 * smallest string id */
			idstr best = {"unowned", 7};
			for (size_t i = 0; i < q3[j]->n_owners; i++) {
				idstr k = key_of(s, q3[j]->owners[i]);
				if (i == 0) {
					best = k;
					continue;
				}
				int m = k.len < best.len ? k.len : best.len;
				int c = memcmp(k.s, best.s, (size_t)m);
				if (c < 0 || (c == 0 && k.len < best.len))
					best = k;
			}
			addf(&a, "%s\t%.*s", samplev[j], best.len, best.s);
			st_owner_result_free(q3[j]);
		}
		lines_write(&a, outdir, "q3.txt");
	}
	free(q3);

	/* ---- q4: cost per team */
	int32_t from, to;
	if (st_day_parse("2026-10-01", 10, &from) || st_day_parse("2026-10-31", 10, &to))
		die("day", ST_E_INVALID, NULL);
	st_cost_result *q4 = NULL;
	for (int i = 0; i < runs; i++) {
		st_cost_result_free(q4);
		q4 = NULL;
		double t0 = now();
		if ((r = st_cost_rollup(s, from, to, ST_GROUP_TEAM, ST_METRIC_EFFECTIVE, &q4, &d)))
			die("st_cost_rollup", r, &d);
		t[i] = now() - t0;
		printf("q4 %.6f\n", t[i]);
	}
	fprintf(stderr, "query-bench: q4: %zu rows, %.3f ms\n", q4->n_rows, median(t, (size_t)runs) * 1e3);
	{
		lines a = {0}, b = {0};
		char cur[4];
		for (size_t i = 0; i < q4->n_rows; i++) {
			const st_cost_row *row = &q4->rows[i];
			st_currency_format(row->currency, cur);
			idstr k = row->group == ST_ID_NONE ? (idstr){"unattributed", 12} : key_of(s, row->group);
			addf(&a, "%.*s\t%s\t%lld\t%llu", k.len, k.s, cur, (long long)row->amount,
			     (unsigned long long)row->facts);
		}
		for (size_t i = 0; i < q4->n_totals; i++) {
			st_currency_format(q4->totals[i].currency, cur);
			addf(&b, "%s\t%lld\t%llu", cur, (long long)q4->totals[i].amount,
			     (unsigned long long)q4->totals[i].facts);
		}
		lines_write(&a, outdir, "q4.txt");
		lines_write(&b, outdir, "q4-totals.txt");
	}
	st_cost_result_free(q4);

	st_depgraph_free(g);
	for (size_t j = 0; j < ns; j++)
		free(samplev[j]);
	free(samplev);
	free(hubv[0]);
	free(hubv);
	free(t);
	st_snap_end(s);
	st_store_close(st);
	st_schema_free(schema);
	return bad;
}
