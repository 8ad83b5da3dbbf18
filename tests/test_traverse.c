/*
 * test_traverse.c — unit tests of the graph traversals in query.h: edge set
 * parsing, blast radius (with and without a dependency graph), shortest
 * paths and neighbourhoods.  Small hand-built graphs have answers worked
 * out by hand; a seeded random graph is checked against a reference BFS
 * written here over the generator's own edge list, in both visited-set
 * regimes (hash table and bitmap).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "props.h"
#include "query.h"
#include "schema.h"
#include "store.h"

#include "fixture.h"

static st_edge_set ES(fx *f, const char *name)
{
	return 1ull << ET(f, name);
}

static const st_loc LOC = {"test.jsonl", 1};

static void begin(fx *f)
{
	st_diag d;
	assert_int_equal(st_batch_begin(f->st, "test", &f->b, &d), 0);
}

static void N(fx *f, const char *id, const char *type)
{
	st_diag d;
	st_pb pb;
	st_pb_init(&pb);
	/* Kubernetes objects require a cluster, namespaced ones a namespace */
	int t = NT(f, type);
	const st_node_type *nt = st_schema_node_type(f->schema, (size_t)t);
	const char *keys[] = {"cluster", "namespace"};
	for (size_t i = 0; i < 2; i++) {
		const st_prop_def *pd = st_schema_find_prop(nt->props, nt->n_props, keys[i], strlen(keys[i]));
		if (pd && pd->required)
			assert_int_equal(st_pb_string(&pb, keys[i], strlen(keys[i]), "x", 1), 0);
	}
	const uint8_t *blob;
	size_t len;
	assert_int_equal(st_pb_finish(&pb, &blob, &len, &d), 0);
	int r = st_batch_node(f->b, id, strlen(id), t, blob, len, LOC, &d);
	st_pb_free(&pb);
	if (r)
		fail_msg("st_batch_node %s: %s", id, d.msg);
}

static void E(fx *f, const char *src, const char *type, const char *dst)
{
	st_diag d;
	int r = st_batch_edge(f->b, src, strlen(src), dst, strlen(dst), ET(f, type), NULL, 0, LOC, &d);
	if (r)
		fail_msg("st_batch_edge %s -%s-> %s: %s", src, type, dst, d.msg);
}

/* Commit the open batch and (re)open the fixture's snapshot on it. */
static void commit(fx *f)
{
	st_diag d;
	uint64_t rev;
	int r = st_batch_commit(f->b, &rev, &d);
	f->b = NULL;
	if (r)
		fail_msg("commit: %s", d.msg);
	st_snap_end(f->s);
	assert_int_equal(st_snap_begin(f->st, &f->s, &d), 0);
}

static st_id I(fx *f, const char *id)
{
	st_id x = 0;
	if (st_snap_lookup(f->s, id, strlen(id), &x))
		fail_msg("no node %s", id);
	return x;
}

static st_br_result *br(fx *f, const char *root, st_edge_set set, uint32_t depth,
			const st_depgraph *g)
{
	st_br_opts o = {.edges = set, .depth = depth, .graph = g};
	st_br_result *r = NULL;
	st_diag d;
	int rc = st_blast_radius(f->s, I(f, root), &o, &r, &d);
	if (rc)
		fail_msg("blast radius of %s: %s (%s)", root, st_strerror(rc), d.msg);
	return r;
}

static const st_br_hit *hit(fx *f, const st_br_result *r, const char *id)
{
	st_id x = I(f, id);
	for (size_t i = 0; i < r->n_hits; i++)
		if (r->hits[i].id == x)
			return &r->hits[i];
	return NULL;
}

/* Result invariants: ordered by (distance, id), root absent, every hit's
 * evidence path a chain of real stored edges of the right types, each step
 * one distance closer, ending at the root. */
static void check_result(fx *f, const st_br_result *r, st_edge_set set)
{
	st_edge_set deps = st_edge_set_dependencies(f->schema);
	if (!set)
		set = deps;
	st_id *path = malloc(((size_t)r->max_distance + 1) * sizeof(st_id));
	for (size_t i = 0; i < r->n_hits; i++) {
		const st_br_hit *h = &r->hits[i];
		assert_true(h->id != r->root);
		assert_true(h->distance >= 1);
		if (i) {
			const st_br_hit *p = &r->hits[i - 1];
			assert_true(p->distance < h->distance ||
				    (p->distance == h->distance && p->id < h->id));
		}
		assert_true(h->edge_type >= 0 && ((set >> h->edge_type) & 1));
		const st_edge_type *et = st_schema_edge_type(f->schema, (size_t)h->edge_type);
		assert_int_equal(h->edge_forward, et->dependency == ST_DEP_FORWARD);
		st_edge e;
		if (h->edge_forward)
			assert_int_equal(st_snap_edge(f->s, h->id, h->edge_type, h->next, &e), 0);
		else
			assert_int_equal(st_snap_edge(f->s, h->next, h->edge_type, h->id, &e), 0);
		size_t n = st_br_path(r, i, path);
		assert_int_equal(n, h->distance + 1);
		assert_int_equal(path[0], h->id);
		assert_int_equal(path[n - 1], r->root);
		if (n > 2)
			assert_int_equal(path[1], h->next);
	}
	assert_int_equal(r->max_distance, r->n_hits ? r->hits[r->n_hits - 1].distance : 0);
	free(path);
}

/* ------------------------------------------------------------- edge sets */

static void test_edge_set_parse(void **state)
{
	fx *f = *state;
	st_edge_set set = 0;
	st_diag d;
	assert_int_equal(st_edge_set_parse(f->schema, "CALLS", &set, &d), 0);
	assert_true(set == ES(f, "CALLS"));
	assert_int_equal(st_edge_set_parse(f->schema, "DEPENDS_ON,CALLS,OWNS", &set, &d), 0);
	assert_true(set == (ES(f, "CALLS") | ES(f, "DEPENDS_ON") | ES(f, "OWNS")));
	set = 42;
	assert_int_equal(st_edge_set_parse(f->schema, "CALLS,NOPE", &set, &d), ST_E_NOTFOUND);
	assert_string_equal(d.msg, "unknown edge type 'NOPE'");
	assert_true(set == 42); /* untouched on error */
	assert_int_equal(st_edge_set_parse(f->schema, "CALLS, DEPENDS_ON", &set, &d), ST_E_NOTFOUND);
	assert_string_equal(d.msg, "unknown edge type ' DEPENDS_ON'");
	assert_int_equal(st_edge_set_parse(f->schema, "calls", &set, &d), ST_E_NOTFOUND);
	assert_int_equal(st_edge_set_parse(f->schema, "", &set, &d), ST_E_NOTFOUND);
	assert_int_equal(st_edge_set_parse(f->schema, "CALLS,", &set, &d), ST_E_NOTFOUND);
	assert_string_equal(d.msg, "unknown edge type ''");

	st_edge_set deps = st_edge_set_dependencies(f->schema);
	const char *dep[] = {"DEPENDS_ON", "CALLS", "PROVIDES_API", "CONSUMES_API", "RUNS",
			     "CONTROLLED_BY", "RUNS_ON", "SELECTS", "ROUTES_TO"};
	st_edge_set want = 0;
	for (size_t i = 0; i < ST_ARRAY_LEN(dep); i++)
		want |= ES(f, dep[i]);
	assert_true(deps == want);
	assert_false(deps & ES(f, "OWNS"));
	assert_false(deps & ES(f, "PART_OF"));
}

/* A schema with 65 edge types cannot be expressed as an st_edge_set. */
static void test_edge_set_limit(void **state)
{
	(void)state;
	char *y = malloc(16384);
	size_t n = (size_t)snprintf(y, 16384, "version: 1\nnode_types:\n  A: {layer: logical}\nedge_types:\n");
	for (int i = 0; i < 65; i++)
		n += (size_t)snprintf(y + n, 16384 - n,
				      "  E%d: {dependency: forward, from: [A], to: [A]}\n", i);
	st_schema *sc;
	st_diag d;
	int r = st_schema_load_buffer(y, n, "big.yaml", &sc, &d);
	if (r)
		fail_msg("%s", d.msg);
	st_edge_set set;
	assert_int_equal(st_edge_set_parse(sc, "E1", &set, &d), ST_E_LIMIT);
	assert_non_null(strstr(d.msg, "64"));
	st_schema_free(sc);
	free(y);
}

/* ---------------------------------------------------------- blast radius */

static void test_chain_and_depth(void **state)
{
	fx *f = *state;
	begin(f);
	N(f, "s1", "Service"), N(f, "s2", "Service"), N(f, "s3", "Service"), N(f, "s4", "Service");
	E(f, "s1", "CALLS", "s2");
	E(f, "s2", "CALLS", "s3");
	E(f, "s3", "CALLS", "s4");
	commit(f);

	st_br_result *r = br(f, "s4", 0, 0, NULL);
	check_result(f, r, 0);
	assert_int_equal(r->root, I(f, "s4"));
	assert_int_equal(r->n_hits, 3);
	assert_int_equal(r->max_distance, 3);
	assert_int_equal(hit(f, r, "s3")->distance, 1);
	assert_int_equal(hit(f, r, "s2")->distance, 2);
	assert_int_equal(hit(f, r, "s1")->distance, 3);
	assert_int_equal(hit(f, r, "s1")->next, I(f, "s2"));
	assert_int_equal(hit(f, r, "s1")->edge_type, ET(f, "CALLS"));
	assert_true(hit(f, r, "s1")->edge_forward);
	st_id path[4];
	size_t i = (size_t)(hit(f, r, "s1") - r->hits);
	assert_int_equal(st_br_path(r, i, path), 4);
	assert_int_equal(path[0], I(f, "s1"));
	assert_int_equal(path[1], I(f, "s2"));
	assert_int_equal(path[2], I(f, "s3"));
	assert_int_equal(path[3], I(f, "s4"));
	assert_int_equal(st_br_path(r, r->n_hits, path), 0);
	st_br_result_free(r);

	r = br(f, "s4", 0, 1, NULL);
	assert_int_equal(r->n_hits, 1);
	assert_int_equal(r->hits[0].id, I(f, "s3"));
	assert_int_equal(r->max_distance, 1);
	st_br_result_free(r);
	r = br(f, "s4", 0, 2, NULL);
	check_result(f, r, 0);
	assert_int_equal(r->n_hits, 2);
	assert_null(hit(f, r, "s1"));
	st_br_result_free(r);
	r = br(f, "s4", 0, 3, NULL);
	assert_int_equal(r->n_hits, 3);
	st_br_result_free(r);

	/* the head of the chain: nobody needs it */
	r = br(f, "s1", 0, 0, NULL);
	assert_int_equal(r->n_hits, 0);
	assert_int_equal(r->max_distance, 0);
	st_br_result_free(r);

	/* a node count cap */
	st_br_opts o = {.max_nodes = 2};
	st_diag d;
	assert_int_equal(st_blast_radius(f->s, I(f, "s4"), &o, &r, &d), ST_E_LIMIT);
	o.max_nodes = 3;
	assert_int_equal(st_blast_radius(f->s, I(f, "s4"), &o, &r, &d), 0);
	assert_int_equal(r->n_hits, 3);
	st_br_result_free(r);
	/* unknown root, non-dependency edge type */
	assert_int_equal(st_blast_radius(f->s, 9999, NULL, &r, &d), ST_E_NOTFOUND);
	o = (st_br_opts){.edges = ES(f, "CALLS") | ES(f, "OWNS")};
	assert_int_equal(st_blast_radius(f->s, I(f, "s4"), &o, &r, &d), ST_E_INVALID);
	assert_non_null(strstr(d.msg, "OWNS"));
}

static void build_diamond(fx *f)
{
	begin(f);
	N(f, "a", "Service"), N(f, "b", "Service"), N(f, "c", "Service"), N(f, "d", "Service");
	N(f, "e", "Service");
	E(f, "a", "CALLS", "b");
	E(f, "a", "CALLS", "c");
	E(f, "b", "CALLS", "d");
	E(f, "c", "DEPENDS_ON", "d");
	/* e reaches d in one step and in two: its distance is the minimum */
	E(f, "e", "CALLS", "a");
	E(f, "e", "DEPENDS_ON", "d");
	commit(f);
}

static void test_diamond(void **state)
{
	fx *f = *state;
	build_diamond(f);
	st_br_result *r = br(f, "d", 0, 0, NULL);
	check_result(f, r, 0);
	assert_int_equal(r->n_hits, 4);
	assert_int_equal(hit(f, r, "b")->distance, 1);
	assert_int_equal(hit(f, r, "c")->distance, 1);
	assert_int_equal(hit(f, r, "e")->distance, 1);
	assert_int_equal(hit(f, r, "e")->edge_type, ET(f, "DEPENDS_ON"));
	assert_int_equal(hit(f, r, "a")->distance, 2);
	/* the parent is the smallest-id node of the previous level */
	st_id b = I(f, "b"), c = I(f, "c");
	assert_int_equal(hit(f, r, "a")->next, b < c ? b : c);
	st_br_result_free(r);

	/* CALLS only: c and e reach d only through DEPENDS_ON */
	r = br(f, "d", ES(f, "CALLS"), 0, NULL);
	check_result(f, r, ES(f, "CALLS"));
	assert_int_equal(r->n_hits, 3);
	assert_int_equal(hit(f, r, "b")->distance, 1);
	assert_int_equal(hit(f, r, "a")->distance, 2);
	assert_int_equal(hit(f, r, "a")->next, I(f, "b"));
	assert_int_equal(hit(f, r, "e")->distance, 3);
	assert_null(hit(f, r, "c"));
	st_br_result_free(r);
	r = br(f, "d", ES(f, "DEPENDS_ON"), 0, NULL);
	assert_int_equal(r->n_hits, 2);
	assert_non_null(hit(f, r, "c"));
	assert_non_null(hit(f, r, "e"));
	st_br_result_free(r);
}

static void test_cycle_and_self_loop(void **state)
{
	fx *f = *state;
	begin(f);
	N(f, "x", "Service"), N(f, "y", "Service"), N(f, "z", "Service"), N(f, "w", "Service");
	E(f, "x", "CALLS", "y");
	E(f, "y", "CALLS", "z");
	E(f, "z", "CALLS", "x");
	E(f, "x", "CALLS", "x");
	E(f, "w", "DEPENDS_ON", "w");
	E(f, "w", "DEPENDS_ON", "y");
	commit(f);
	st_br_result *r = br(f, "x", 0, 0, NULL);
	check_result(f, r, 0);
	assert_int_equal(r->n_hits, 3);
	assert_null(hit(f, r, "x"));
	assert_int_equal(hit(f, r, "z")->distance, 1);
	assert_int_equal(hit(f, r, "y")->distance, 2);
	assert_int_equal(hit(f, r, "w")->distance, 3);
	st_br_result_free(r);
	/* a self-loop only */
	r = br(f, "w", 0, 0, NULL);
	assert_int_equal(r->n_hits, 0);
	st_br_result_free(r);
}

/* Reverse dependency types: the API needs its provider, the Service needs
 * the Deployment that runs it, a controller needs what it controls. */
static void test_reverse_types(void **state)
{
	fx *f = *state;
	begin(f);
	N(f, "kn", "KubernetesNode");
	N(f, "pod", "KubernetesPod");
	N(f, "rs", "KubernetesReplicaSet");
	N(f, "dep", "KubernetesDeployment");
	N(f, "svc", "Service");
	N(f, "caller", "Service");
	N(f, "api", "API");
	N(f, "consumer", "Service");
	N(f, "team", "Team");
	E(f, "pod", "RUNS_ON", "kn");
	E(f, "pod", "CONTROLLED_BY", "rs");
	E(f, "rs", "CONTROLLED_BY", "dep");
	E(f, "dep", "RUNS", "svc");
	E(f, "caller", "CALLS", "svc");
	E(f, "svc", "PROVIDES_API", "api");
	E(f, "consumer", "CONSUMES_API", "api");
	E(f, "team", "OWNS", "svc");
	commit(f);

	st_depgraph *g;
	st_diag d;
	assert_int_equal(st_depgraph_build(f->s, &g, &d), 0);
	assert_int_equal(st_depgraph_revision(g), st_snap_revision(f->s));
	for (int pass = 0; pass < 2; pass++) {
		st_br_result *r = br(f, "kn", 0, 0, pass ? g : NULL);
		check_result(f, r, 0);
		assert_int_equal(r->n_hits, 7);
		const st_br_hit *h = hit(f, r, "pod");
		assert_int_equal(h->distance, 1);
		assert_int_equal(h->edge_type, ET(f, "RUNS_ON"));
		assert_true(h->edge_forward);
		h = hit(f, r, "rs");
		assert_int_equal(h->distance, 2);
		assert_int_equal(h->next, I(f, "pod"));
		assert_int_equal(h->edge_type, ET(f, "CONTROLLED_BY"));
		assert_false(h->edge_forward);
		assert_int_equal(hit(f, r, "dep")->distance, 3);
		h = hit(f, r, "svc");
		assert_int_equal(h->distance, 4);
		assert_int_equal(h->edge_type, ET(f, "RUNS"));
		assert_false(h->edge_forward);
		assert_int_equal(hit(f, r, "caller")->distance, 5);
		h = hit(f, r, "api");
		assert_int_equal(h->distance, 5);
		assert_int_equal(h->edge_type, ET(f, "PROVIDES_API"));
		assert_false(h->edge_forward);
		h = hit(f, r, "consumer");
		assert_int_equal(h->distance, 6);
		assert_int_equal(h->next, I(f, "api"));
		assert_true(h->edge_forward);
		assert_null(hit(f, r, "team"));
		assert_null(hit(f, r, "kn"));
		st_br_result *r2 = br(f, "kn", ES(f, "RUNS_ON") | ES(f, "CONTROLLED_BY"), 0, pass ? g : NULL);
		assert_int_equal(r2->n_hits, 3);
		assert_null(hit(f, r2, "svc"));
		st_br_result_free(r2);
		/* forward types only: the pod, nothing behind the reverse edge */
		r2 = br(f, "kn", ES(f, "RUNS_ON") | ES(f, "CALLS"), 0, pass ? g : NULL);
		assert_int_equal(r2->n_hits, 1);
		st_br_result_free(r2);
		st_br_result_free(r);
	}
	/* the provider is not needed by its API's consumer's callee */
	st_br_result *r = br(f, "api", 0, 0, g);
	assert_int_equal(r->n_hits, 1);
	assert_int_equal(r->hits[0].id, I(f, "consumer"));
	st_br_result_free(r);

	/* a graph of an older revision is refused */
	begin(f);
	N(f, "late", "Service");
	E(f, "late", "CALLS", "svc");
	commit(f);
	st_br_opts o = {.graph = g};
	assert_int_equal(st_blast_radius(f->s, I(f, "svc"), &o, &r, &d), ST_E_INVALID);
	assert_non_null(strstr(d.msg, "revision"));
	st_depgraph_free(g);
	st_depgraph_free(NULL);
}

/* --------------------------------------------------- random graph vs BFS */

typedef struct redge {
	uint32_t src, dst;
	int type;
} redge;

static uint64_t rng_state;
static uint32_t rnd(uint32_t n)
{
	rng_state = rng_state * 6364136223846793005ull + 1442695040888963407ull;
	return (uint32_t)((rng_state >> 33) % n);
}

/* Reference: BFS over the generator's edge list (node indexes) with "needs"
 * reversed into per-node dependent lists, distances only; -1 = unreached. */
typedef struct refg {
	size_t *off;
	uint32_t *dep; /* dependent node index */
	int *type;
} refg;

static void ref_build(refg *g, const redge *e, size_t ne, size_t nn, const int *dep)
{
	g->off = calloc(nn + 1, sizeof(size_t));
	g->dep = malloc(ne * sizeof(uint32_t));
	g->type = malloc(ne * sizeof(int));
	for (size_t i = 0; i < ne; i++) {
		if (dep[e[i].type] == ST_DEP_FORWARD)
			g->off[e[i].dst + 1]++;
		else if (dep[e[i].type] == ST_DEP_REVERSE)
			g->off[e[i].src + 1]++;
	}
	for (size_t i = 0; i < nn; i++)
		g->off[i + 1] += g->off[i];
	size_t *fill = malloc(nn * sizeof(size_t));
	memcpy(fill, g->off, nn * sizeof(size_t));
	for (size_t i = 0; i < ne; i++) {
		if (dep[e[i].type] == ST_DEP_FORWARD) {
			g->dep[fill[e[i].dst]] = e[i].src;
			g->type[fill[e[i].dst]++] = e[i].type;
		} else if (dep[e[i].type] == ST_DEP_REVERSE) {
			g->dep[fill[e[i].src]] = e[i].dst;
			g->type[fill[e[i].src]++] = e[i].type;
		}
	}
	free(fill);
}

static void ref_bfs(const refg *g, size_t nn, st_edge_set set, uint32_t root, uint32_t depth, int *dist)
{
	for (size_t i = 0; i < nn; i++)
		dist[i] = -1;
	uint32_t *q = malloc(nn * sizeof(uint32_t));
	size_t qh = 0, qt = 0;
	dist[root] = 0;
	q[qt++] = root;
	while (qh < qt) {
		uint32_t u = q[qh++];
		if (depth && (uint32_t)dist[u] >= depth)
			continue;
		for (size_t i = g->off[u]; i < g->off[u + 1]; i++) {
			uint32_t v = g->dep[i];
			if (((set >> g->type[i]) & 1) && dist[v] < 0) {
				dist[v] = dist[u] + 1;
				q[qt++] = v;
			}
		}
	}
	free(q);
}

static bool all_zero(const uint64_t *w, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (w[i])
			return false;
	return true;
}

static void test_random_graph(void **state)
{
	fx *f = *state;
	enum { NS = 5000, NA = 600, NE = 14000 };
	const size_t nn = NS + NA;
	rng_state = 42;
	char id[32];
	begin(f);
	for (int i = 0; i < NS; i++) {
		snprintf(id, sizeof(id), "service:%d", i);
		N(f, id, "Service");
	}
	for (int i = 0; i < NA; i++) {
		snprintf(id, sizeof(id), "api:%d", i);
		N(f, id, "API");
	}
	redge *e = malloc(NE * sizeof(redge));
	size_t ne = 0;
	const char *tn[] = {"CALLS", "DEPENDS_ON", "PROVIDES_API", "CONSUMES_API", "OWNS"};
	int dep[64] = {0};
	for (size_t t = 0; t < ST_ARRAY_LEN(tn); t++)
		dep[ET(f, tn[t])] = (int)st_schema_edge_type(f->schema, (size_t)ET(f, tn[t]))->dependency;
	int team = 0;
	while (ne < NE) {
		/* skewed towards low ids: some nodes become hubs */
		uint32_t a = rnd(NS), b = rnd(rnd(NS) + 1);
		int k = (int)rnd(10);
		const char *t = k < 5 ? "CALLS" : k < 7 ? "DEPENDS_ON" : k < 8 ? "PROVIDES_API" : "CONSUMES_API";
		char sid[32], did[32];
		snprintf(sid, sizeof(sid), "service:%u", a);
		if (k >= 7) {
			b = rnd(NA);
			snprintf(did, sizeof(did), "api:%u", b);
			b += NS;
		} else {
			snprintf(did, sizeof(did), "service:%u", b);
		}
		bool dup = false; /* (src, type, dst) is unique in the store */
		for (size_t i = 0; i < ne && !dup; i++)
			dup = e[i].src == a && e[i].dst == b && e[i].type == ET(f, t);
		if (dup)
			continue;
		E(f, sid, t, did);
		e[ne++] = (redge){a, b, ET(f, t)};
		if (ne % 1000 == 0) { /* some non-dependency edges: never followed */
			char tid[32];
			snprintf(tid, sizeof(tid), "team:%d", team++);
			N(f, tid, "Team");
			E(f, tid, "OWNS", sid);
		}
	}
	commit(f);

	st_id *sid = malloc(nn * sizeof(st_id));
	for (size_t i = 0; i < nn; i++) {
		if (i < NS)
			snprintf(id, sizeof(id), "service:%zu", i);
		else
			snprintf(id, sizeof(id), "api:%zu", i - NS);
		sid[i] = I(f, id);
	}
	st_depgraph *g;
	st_diag d;
	assert_int_equal(st_depgraph_build(f->s, &g, &d), 0);
	int *dist = malloc(nn * sizeof(int));
	size_t n_words = (st_snap_id_bound(f->s) + 63) / 64;
	uint64_t *scratch = calloc(n_words, sizeof(uint64_t));
	refg rg;
	ref_build(&rg, e, ne, nn, dep);
	const st_edge_set sets[] = {0, ES(f, "CALLS"), ES(f, "CALLS") | ES(f, "PROVIDES_API") | ES(f, "CONSUMES_API")};
	const uint32_t depths[] = {0, 1, 3};
	size_t big = 0, small = 0;
	for (uint32_t root = 0; root < nn; root += 97) {
		for (size_t si = 0; si < ST_ARRAY_LEN(sets); si++) {
			for (size_t di = 0; di < ST_ARRAY_LEN(depths); di++) {
				st_edge_set set = sets[si] ? sets[si] : st_edge_set_dependencies(f->schema);
				ref_bfs(&rg, nn, set, root, depths[di], dist);
				size_t want = 0;
				for (size_t i = 0; i < nn; i++)
					want += i != root && dist[i] > 0;
				st_br_opts o = {.edges = sets[si], .depth = depths[di]};
				st_br_result *r1, *r2, *rs[2];
				assert_int_equal(st_blast_radius(f->s, sid[root], &o, &r1, &d), 0);
				o.graph = g;
				assert_int_equal(st_blast_radius(f->s, sid[root], &o, &r2, &d), 0);
				/* the same through the caller's visited scratch, both sources */
				o.scratch = scratch;
				for (int k = 0; k < 2; k++) {
					o.graph = k ? g : NULL;
					assert_int_equal(st_blast_radius(f->s, sid[root], &o, &rs[k], &d), 0);
					assert_true(all_zero(scratch, n_words));
				}
				assert_int_equal(r1->n_hits, want);
				assert_int_equal(r2->n_hits, want);
				assert_int_equal(rs[0]->n_hits, want);
				assert_int_equal(rs[1]->n_hits, want);
				for (size_t i = 0; i < want; i++) {
					const st_br_hit *x = &r1->hits[i];
					const st_br_hit *ys[3] = {&r2->hits[i], &rs[0]->hits[i], &rs[1]->hits[i]};
					for (int k = 0; k < 3; k++) {
						const st_br_hit *y = ys[k];
						assert_int_equal(x->id, y->id);
						assert_int_equal(x->distance, y->distance);
						assert_int_equal(x->next, y->next);
						assert_int_equal(x->edge_type, y->edge_type);
						assert_int_equal(x->edge_forward, y->edge_forward);
					}
				}
				/* a node cap cuts every variant the same way and still
				 * leaves the scratch clean */
				if (want > 2) {
					o.max_nodes = want / 2;
					for (int k = 0; k < 4; k++) {
						st_br_result *rx = NULL;
						o.graph = k & 1 ? g : NULL;
						o.scratch = k & 2 ? scratch : NULL;
						assert_int_equal(st_blast_radius(f->s, sid[root], &o, &rx, &d), ST_E_LIMIT);
						assert_null(rx);
						assert_true(all_zero(scratch, n_words));
					}
					o.max_nodes = want; /* exactly enough */
					o.graph = g;
					o.scratch = scratch;
					st_br_result *rx = NULL;
					assert_int_equal(st_blast_radius(f->s, sid[root], &o, &rx, &d), 0);
					assert_int_equal(rx->n_hits, want);
					assert_true(all_zero(scratch, n_words));
					st_br_result_free(rx);
				}
				st_br_result_free(rs[0]);
				st_br_result_free(rs[1]);
				for (size_t i = 0; i < nn; i++) {
					if (dist[i] <= 0)
						continue;
					/* hits are ordered: find by binary search on (dist, id) */
					size_t lo = 0, hi = r1->n_hits;
					uint64_t key = (uint64_t)dist[i] << 32 | sid[i];
					while (lo < hi) {
						size_t m = (lo + hi) / 2;
						uint64_t k = (uint64_t)r1->hits[m].distance << 32 | r1->hits[m].id;
						if (k < key)
							lo = m + 1;
						else
							hi = m;
					}
					assert_true(lo < r1->n_hits);
					assert_int_equal(r1->hits[lo].id, sid[i]);
					assert_int_equal(r1->hits[lo].distance, (uint32_t)dist[i]);
				}
				if (depths[di] == 0 && si == 0)
					check_result(f, r1, sets[si]);
				if (want > 4096)
					big++;
				else if (want > 0)
					small++;
				st_br_result_free(r1);
				st_br_result_free(r2);
			}
		}
	}
	/* both visited-set regimes were exercised */
	assert_true(big > 0);
	assert_true(small > 0);
	st_depgraph_free(g);
	free(rg.off);
	free(rg.dep);
	free(rg.type);
	free(dist);
	free(scratch);
	free(sid);
	free(e);
}

/* ------------------------------------------------------------------ paths */

static void test_paths(void **state)
{
	fx *f = *state;
	build_diamond(f);
	st_path_result *p;
	st_diag d;
	st_id a = I(f, "a"), b = I(f, "b"), c = I(f, "c"), dd = I(f, "d");
	st_id lo = b < c ? b : c, hi = b < c ? c : b;
	assert_int_equal(st_paths(f->s, a, dd, 0, 10, 0, &p, &d), 0);
	assert_int_equal(p->n_paths, 2);
	assert_int_equal(p->len, 3);
	for (size_t i = 0; i < 2; i++) {
		const st_id *n = p->nodes + p->starts[i];
		assert_int_equal(n[0], a);
		assert_int_equal(n[1], i == 0 ? lo : hi);
		assert_int_equal(n[2], dd);
		/* every step a stored edge of the reported type */
		for (size_t k = 0; k < 2; k++) {
			st_edge e;
			assert_int_equal(st_snap_edge(f->s, n[k], p->edges[i * 2 + k], n[k + 1], &e), 0);
		}
	}
	st_path_result_free(p);
	/* max_paths 0 = one path: the lexicographically first */
	assert_int_equal(st_paths(f->s, a, dd, 0, 0, 0, &p, &d), 0);
	assert_int_equal(p->n_paths, 1);
	assert_int_equal(p->nodes[1], lo);
	st_path_result_free(p);
	/* CALLS only: through b */
	assert_int_equal(st_paths(f->s, a, dd, ES(f, "CALLS"), 5, 0, &p, &d), 0);
	assert_int_equal(p->n_paths, 1);
	assert_int_equal(p->nodes[1], b);
	assert_int_equal(p->edges[0], ET(f, "CALLS"));
	assert_int_equal(p->edges[1], ET(f, "CALLS"));
	st_path_result_free(p);
	/* e -> d directly beats e -> a -> ... */
	assert_int_equal(st_paths(f->s, I(f, "e"), dd, 0, 5, 0, &p, &d), 0);
	assert_int_equal(p->n_paths, 1);
	assert_int_equal(p->len, 2);
	assert_int_equal(p->edges[0], ET(f, "DEPENDS_ON"));
	st_path_result_free(p);
	assert_int_equal(st_paths(f->s, I(f, "e"), dd, ES(f, "CALLS"), 5, 0, &p, &d), 0);
	assert_int_equal(p->len, 4);
	st_path_result_free(p);
	/* paths follow stored direction: none back */
	p = NULL;
	assert_int_equal(st_paths(f->s, dd, a, 0, 1, 0, &p, &d), ST_E_NOTFOUND);
	assert_null(p);
	assert_non_null(strstr(d.msg, "no path from d to a"));
	/* depth bound */
	assert_int_equal(st_paths(f->s, a, dd, 0, 1, 1, &p, &d), ST_E_NOTFOUND);
	assert_non_null(strstr(d.msg, "within 1"));
	assert_int_equal(st_paths(f->s, a, dd, 0, 1, 2, &p, &d), 0);
	st_path_result_free(p);
	/* a == b */
	assert_int_equal(st_paths(f->s, a, a, 0, 3, 0, &p, &d), 0);
	assert_int_equal(p->n_paths, 1);
	assert_int_equal(p->len, 1);
	assert_int_equal(p->nodes[0], a);
	st_path_result_free(p);
	/* unknown nodes */
	assert_int_equal(st_paths(f->s, a, 9999, 0, 1, 0, &p, &d), ST_E_NOTFOUND);
	st_path_result_free(NULL);
}

/* Many shortest paths: a 3-stage lattice, 3 x 3 = 9 of them, lexicographic. */
static void test_paths_many(void **state)
{
	fx *f = *state;
	begin(f);
	const char *l1[] = {"m1", "m2", "m3"}, *l2[] = {"n1", "n2", "n3"};
	N(f, "src", "Service"), N(f, "dst", "Service");
	for (int i = 0; i < 3; i++) {
		N(f, l1[i], "Service"), N(f, l2[i], "Service");
		E(f, "src", "CALLS", l1[i]);
		E(f, l2[i], "CALLS", "dst");
	}
	for (int i = 0; i < 3; i++)
		for (int j = 0; j < 3; j++)
			E(f, l1[i], "CALLS", l2[j]);
	commit(f);
	st_path_result *p;
	st_diag d;
	assert_int_equal(st_paths(f->s, I(f, "src"), I(f, "dst"), 0, 100, 0, &p, &d), 0);
	assert_int_equal(p->n_paths, 9);
	assert_int_equal(p->len, 4);
	for (size_t i = 1; i < p->n_paths; i++) {
		const st_id *x = p->nodes + p->starts[i - 1], *y = p->nodes + p->starts[i];
		assert_true(memcmp(x, y, 4 * sizeof(st_id)) != 0);
		assert_true(x[1] < y[1] || (x[1] == y[1] && x[2] < y[2]));
	}
	st_path_result_free(p);
	assert_int_equal(st_paths(f->s, I(f, "src"), I(f, "dst"), 0, 4, 0, &p, &d), 0);
	assert_int_equal(p->n_paths, 4);
	st_path_result_free(p);
}

/* ------------------------------------------------------------ neighbours */

static void test_neighbours(void **state)
{
	fx *f = *state;
	begin(f);
	char id[16];
	N(f, "hub", "Service");
	N(f, "in", "Service");
	N(f, "far", "Service");
	N(f, "team", "Team");
	for (int i = 0; i < 10; i++) {
		snprintf(id, sizeof(id), "n%d", i);
		N(f, id, "Service");
		E(f, "hub", "CALLS", id);
	}
	E(f, "in", "DEPENDS_ON", "hub");
	E(f, "n0", "CALLS", "n1");
	E(f, "n0", "DEPENDS_ON", "n1");
	E(f, "n1", "CALLS", "far");
	E(f, "team", "OWNS", "n2");
	commit(f);
	st_nb_result *r;
	st_diag d;
	st_id hub = I(f, "hub");

	/* one hop, no limits hit: hub, 10 callees, `in`, the team is 2 hops away */
	assert_int_equal(st_neighbours(f->s, hub, 1, 0, 0, 0, &r, &d), 0);
	assert_int_equal(r->n_nodes, 12);
	assert_false(r->truncated);
	assert_int_equal(r->nodes[0], hub);
	assert_int_equal(r->hops[0], 0);
	for (size_t i = 2; i < r->n_nodes; i++) {
		assert_int_equal(r->hops[i], 1);
		assert_true(r->nodes[i - 1] < r->nodes[i]);
	}
	/* edges: 10 hub CALLS, in -> hub, n0 -> n1 twice */
	assert_int_equal(r->n_edges, 13);
	for (size_t i = 0; i < r->n_edges; i++) {
		st_edge e;
		assert_int_equal(st_snap_edge(f->s, r->edges[i].src, r->edges[i].type, r->edges[i].dst, &e), 0);
		if (i) {
			const st_nb_edge *x = &r->edges[i - 1], *y = &r->edges[i];
			assert_true(x->src < y->src || (x->src == y->src && (x->type < y->type ||
				    (x->type == y->type && x->dst < y->dst))));
		}
	}
	st_nb_result_free(r);

	/* two hops reach far and team */
	assert_int_equal(st_neighbours(f->s, hub, 2, 0, 0, 0, &r, &d), 0);
	assert_int_equal(r->n_nodes, 14);
	assert_false(r->truncated);
	assert_int_equal(r->hops[r->n_nodes - 1], 2);
	st_nb_result_free(r);
	/* CALLS only: `in` and the team are not reached; the edge list still
	 * holds every stored edge between returned nodes (n0 DEPENDS_ON n1) */
	assert_int_equal(st_neighbours(f->s, hub, 2, ES(f, "CALLS"), 0, 0, &r, &d), 0);
	assert_int_equal(r->n_nodes, 12);
	bool dep = false;
	for (size_t i = 0; i < r->n_edges; i++)
		dep |= r->edges[i].type == ET(f, "DEPENDS_ON");
	assert_true(dep);
	st_nb_result_free(r);

	/* breadth 3: hub + 3 in adjacency order (the first callees) */
	assert_int_equal(st_neighbours(f->s, hub, 1, 0, 3, 0, &r, &d), 0);
	assert_int_equal(r->n_nodes, 4);
	assert_true(r->truncated);
	/* edges only among returned nodes */
	for (size_t i = 0; i < r->n_edges; i++) {
		bool s = false, t = false;
		for (size_t k = 0; k < r->n_nodes; k++) {
			s |= r->nodes[k] == r->edges[i].src;
			t |= r->nodes[k] == r->edges[i].dst;
		}
		assert_true(s && t);
	}
	st_nb_result_free(r);
	/* node cap 5 */
	assert_int_equal(st_neighbours(f->s, hub, 2, 0, 0, 5, &r, &d), 0);
	assert_int_equal(r->n_nodes, 5);
	assert_true(r->truncated);
	st_nb_result_free(r);
	/* exactly enough room: not truncated */
	assert_int_equal(st_neighbours(f->s, hub, 1, 0, 11, 12, &r, &d), 0);
	assert_int_equal(r->n_nodes, 12);
	assert_false(r->truncated);
	st_nb_result_free(r);
	/* k = 0: the node alone */
	assert_int_equal(st_neighbours(f->s, hub, 0, 0, 0, 0, &r, &d), 0);
	assert_int_equal(r->n_nodes, 1);
	assert_int_equal(r->n_edges, 0);
	st_nb_result_free(r);
	assert_int_equal(st_neighbours(f->s, 9999, 1, 0, 0, 0, &r, &d), ST_E_NOTFOUND);
	st_nb_result_free(NULL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_edge_set_parse, setup, teardown),
		cmocka_unit_test(test_edge_set_limit),
		cmocka_unit_test_setup_teardown(test_chain_and_depth, setup, teardown),
		cmocka_unit_test_setup_teardown(test_diamond, setup, teardown),
		cmocka_unit_test_setup_teardown(test_cycle_and_self_loop, setup, teardown),
		cmocka_unit_test_setup_teardown(test_reverse_types, setup, teardown),
		cmocka_unit_test_setup_teardown(test_random_graph, setup, teardown),
		cmocka_unit_test_setup_teardown(test_paths, setup, teardown),
		cmocka_unit_test_setup_teardown(test_paths_many, setup, teardown),
		cmocka_unit_test_setup_teardown(test_neighbours, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
