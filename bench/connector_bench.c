/*
 * connector_bench.c — run one connector into a counting sink and report its
 * time, fact counts and peak RSS: the connector's own cost, without the store.
 *
 *   connector-bench KIND LOCATION [--ref REF] [--cache DIR] [--state S]
 *                   [--option KEY=VALUE]... [--runs N]
 *
 * Each run starts from --state (default none); with --runs N the state the
 * first run set is NOT carried over, so every run is a first sync.  Use
 * --state with the printed state to time a no-change re-sync.  Prints one
 * line per run and the median: "run 1: 1.234 s, 12345 nodes, 678 edges, ...".
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include "connector.h"
#include "props.h"

typedef struct counts {
	uint64_t nodes, edges, costs, hints, warnings;
	char state[1100];
} counts;

static int c_node(st_sink *s, const char *id, size_t idlen, int type, const uint8_t *props,
		  size_t props_len, st_loc loc, st_diag *diag)
{
	(void)id, (void)idlen, (void)loc;
	const st_node_type *nt = st_schema_node_type(s->schema, (size_t)type);
	int rc = st_props_check(props, props_len, nt->props, nt->n_props, diag);
	if (rc < 0)
		return rc;
	((counts *)s->ctx)->nodes++;
	return 0;
}

static int c_edge(st_sink *s, const char *src, size_t srclen, const char *dst, size_t dstlen,
		  int type, const uint8_t *props, size_t props_len, st_loc loc, st_diag *diag)
{
	(void)src, (void)srclen, (void)dst, (void)dstlen, (void)loc;
	const st_edge_type *et = st_schema_edge_type(s->schema, (size_t)type);
	int rc = st_props_check(props, props_len, et->props, et->n_props, diag);
	if (rc < 0)
		return rc;
	((counts *)s->ctx)->edges++;
	return 0;
}

static int c_cost(st_sink *s, const char *resource, size_t rlen, int32_t day, uint16_t currency,
		  int64_t effective, int64_t billed, st_loc loc, st_diag *diag)
{
	(void)resource, (void)rlen, (void)day, (void)currency, (void)effective, (void)billed;
	(void)loc, (void)diag;
	((counts *)s->ctx)->costs++;
	return 0;
}

static int c_hint(st_sink *s, const char *id, size_t idlen, st_hint_kind kind, const char *value,
		  size_t vlen, const char *rule, const char *evidence, st_loc loc, st_diag *diag)
{
	(void)id, (void)idlen, (void)kind, (void)value, (void)vlen, (void)rule, (void)evidence;
	(void)loc, (void)diag;
	((counts *)s->ctx)->hints++;
	return 0;
}

static void c_warn(st_sink *s, st_loc loc, const char *msg)
{
	counts *c = s->ctx;
	if (c->warnings++ < 5)
		fprintf(stderr, "warning: %s:%u: %s\n", loc.origin ? loc.origin : "", loc.line, msg);
}

static void c_set_state(st_sink *s, const char *state)
{
	counts *c = s->ctx;
	snprintf(c->state, sizeof(c->state), "%s", state ? state : "");
}

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

static void usage(void)
{
	fprintf(stderr, "usage: connector-bench KIND LOCATION [--ref REF] [--cache DIR] "
			"[--state S] [--option KEY=VALUE]... [--runs N]\n");
	exit(2);
}

int main(int argc, char **argv)
{
	if (argc < 3)
		usage();
	st_source src = {.name = "bench", .kind = argv[1], .location = argv[2]};
	st_kv opts[32];
	size_t n_opts = 0;
	int runs = 1;
	for (int i = 3; i < argc; i++) {
		if (i + 1 >= argc)
			usage();
		if (!strcmp(argv[i], "--ref"))
			src.ref = argv[++i];
		else if (!strcmp(argv[i], "--cache"))
			src.cache_dir = argv[++i];
		else if (!strcmp(argv[i], "--state"))
			src.prev_state = argv[++i];
		else if (!strcmp(argv[i], "--runs"))
			runs = atoi(argv[++i]);
		else if (!strcmp(argv[i], "--option") && n_opts < ST_ARRAY_LEN(opts)) {
			char *kv = argv[++i], *eq = strchr(kv, '=');
			if (!eq)
				usage();
			*eq = 0;
			opts[n_opts++] = (st_kv){kv, eq + 1};
		} else
			usage();
	}
	if (runs < 1 || runs > 100)
		usage();
	src.options = opts;
	src.n_options = n_opts;
	const st_connector *conn = st_connector_find(src.kind);
	if (!conn) {
		fprintf(stderr, "connector-bench: unknown kind '%s'\n", src.kind);
		return 2;
	}
	st_schema *schema;
	st_diag d = {{0}};
	if (st_schema_load_default(&schema, &d) < 0) {
		fprintf(stderr, "connector-bench: %s\n", d.msg);
		return 2;
	}
	double *times = st_xcalloc((size_t)runs, sizeof(double));
	int rc = 0;
	for (int r = 0; r < runs; r++) {
		counts c = {0};
		st_sink sink = {.schema = schema, .ctx = &c, .node = c_node, .edge = c_edge,
				.cost = c_cost, .hint = c_hint, .warn = c_warn,
				.set_state = c_set_state};
		double t0 = now_s();
		rc = conn->run(&src, &sink, &d);
		times[r] = now_s() - t0;
		if (rc < 0) {
			fprintf(stderr, "connector-bench: %s\n", d.msg);
			break;
		}
		printf("run %d: %.3f s, %s, %llu nodes, %llu edges, %llu cost facts, %llu hints, "
		       "%llu warnings, state %s\n",
		       r + 1, times[r], rc == ST_SYNC_UNCHANGED ? "unchanged" : "complete",
		       (unsigned long long)c.nodes, (unsigned long long)c.edges,
		       (unsigned long long)c.costs, (unsigned long long)c.hints,
		       (unsigned long long)c.warnings, c.state[0] ? c.state : "-");
	}
	if (rc >= 0) {
		qsort(times, (size_t)runs, sizeof(double), cmp_double);
		struct rusage ru;
		getrusage(RUSAGE_SELF, &ru);
		printf("median %.3f s over %d runs; peak RSS %.1f MiB\n", times[runs / 2], runs,
		       (double)ru.ru_maxrss / 1024.0);
	}
	free(times);
	st_schema_free(schema);
	return rc < 0 ? 1 : 0;
}
