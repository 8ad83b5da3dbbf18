/*
 * test_schema.c — unit tests for the schema loader (schema/schema.c): the
 * embedded default schema, look-ups, limits, and one case per kind of
 * malformed schema, each checking the exact "origin:line:column:" and a
 * phrase of the message.  Also checks that docs/schema.md names every type.
 *
 * Needs ST_SOURCE_ROOT (set by tests/meson.build) to find the docs and the
 * schema file on disk.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "schema.h"

#ifndef ST_SOURCE_ROOT
#error "ST_SOURCE_ROOT must name the source tree"
#endif

extern const char st_schema_default_yaml[];
extern const size_t st_schema_default_yaml_len;

/* ---- helpers ------------------------------------------------------------ */

static st_schema *load_default(void)
{
	st_schema *s = NULL;
	st_diag d = {{0}};
	int r = st_schema_load_default(&s, &d);
	if (r)
		print_error("default schema: %s\n", d.msg);
	assert_int_equal(r, 0);
	assert_non_null(s);
	return s;
}

static st_schema *load_text(const char *yaml)
{
	st_schema *s = NULL;
	st_diag d = {{0}};
	int r = st_schema_load_buffer(yaml, strlen(yaml), "t.yaml", &s, &d);
	if (r)
		print_error("t.yaml: %s\n", d.msg);
	assert_int_equal(r, 0);
	assert_non_null(s);
	return s;
}

static void expect_error(const char *yaml, size_t len, const char *where, const char *phrase)
{
	st_schema *s = NULL;
	st_diag d = {{0}};
	int r = st_schema_load_buffer(yaml, len, "t.yaml", &s, &d);
	if (r != ST_E_SCHEMA || strncmp(d.msg, where, strlen(where)) != 0 || !strstr(d.msg, phrase))
		print_error("got %d \"%s\"; want \"%s...%s...\"\n", r, d.msg, where, phrase);
	assert_int_equal(r, ST_E_SCHEMA);
	assert_null(s);
	assert_memory_equal(d.msg, where, strlen(where));
	assert_non_null(strstr(d.msg, phrase));
}

static int node_index(const st_schema *s, const char *name)
{
	return st_schema_find_node_type(s, name, strlen(name));
}

static const st_node_type *node_named(const st_schema *s, const char *name)
{
	int i = node_index(s, name);
	assert_true(i >= 0);
	return st_schema_node_type(s, (size_t)i);
}

static const st_edge_type *edge_named(const st_schema *s, const char *name)
{
	int i = st_schema_find_edge_type(s, name, strlen(name));
	assert_true(i >= 0);
	return st_schema_edge_type(s, (size_t)i);
}

static bool allows(const st_schema *s, const char *e, const char *from, const char *to)
{
	int ei = st_schema_find_edge_type(s, e, strlen(e));
	int fi = node_index(s, from), ti = node_index(s, to);
	assert_true(ei >= 0 && fi >= 0 && ti >= 0);
	return st_schema_edge_allows(s, (size_t)ei, (size_t)fi, (size_t)ti);
}

static const st_prop_def *prop(const st_prop_def *props, size_t n, const char *name)
{
	return st_schema_find_prop(props, n, name, strlen(name));
}

static uint64_t ref_fnv1a64(const char *p, size_t n)
{
	uint64_t h = 0xcbf29ce484222325ull;
	for (size_t i = 0; i < n; i++) {
		h ^= (unsigned char)p[i];
		h *= 0x100000001b3ull;
	}
	return h;
}

/* A growable text buffer for generated schemas. */
typedef struct text {
	char *p;
	size_t len, cap;
} text;

static void text_add(text *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void text_add(text *t, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	assert_true(n >= 0);
	if (t->len + (size_t)n + 1 > t->cap) {
		t->cap = (t->len + (size_t)n + 1) * 2;
		t->p = realloc(t->p, t->cap);
		assert_non_null(t->p);
	}
	va_start(ap, fmt);
	vsnprintf(t->p + t->len, t->cap - t->len, fmt, ap);
	va_end(ap);
	t->len += (size_t)n;
}

static char *read_all(const char *path, size_t *ret_len)
{
	FILE *f = fopen(path, "rb");
	if (!f)
		print_error("%s: %s\n", path, strerror(errno));
	assert_non_null(f);
	text t = {0};
	char buf[4096];
	size_t n;
	while ((n = fread(buf, 1, sizeof(buf), f)) > 0)
		text_add(&t, "%.*s", (int)n, buf);
	fclose(f);
	*ret_len = t.len;
	return t.p;
}

/* ---- the default schema ------------------------------------------------- */

static void test_default_loads(void **state)
{
	(void)state;
	st_schema *s = load_default();
	assert_int_equal(st_schema_node_type_count(s), 24);
	assert_int_equal(st_schema_edge_type_count(s), 17);
	/* YAML order is kept. */
	assert_string_equal(st_schema_node_type(s, 0)->name, "Domain");
	assert_string_equal(st_schema_node_type(s, 23)->name, "Workload");
	assert_string_equal(st_schema_edge_type(s, 0)->name, "OWNS");
	assert_string_equal(st_schema_edge_type(s, 16)->name, "BILLED_TO");
	assert_null(st_schema_node_type(s, 24));
	assert_null(st_schema_edge_type(s, 17));
	/* Every type is found under its own name at its own index. */
	for (size_t i = 0; i < st_schema_node_type_count(s); i++) {
		const st_node_type *t = st_schema_node_type(s, i);
		assert_int_equal(node_index(s, t->name), (int)i);
		assert_non_null(t->description);
		assert_true(t->description[0] != '\0');
	}
	for (size_t i = 0; i < st_schema_edge_type_count(s); i++) {
		const st_edge_type *t = st_schema_edge_type(s, i);
		assert_int_equal(st_schema_find_edge_type(s, t->name, strlen(t->name)), (int)i);
	}
	assert_int_equal(st_schema_hash(s),
			 ref_fnv1a64(st_schema_default_yaml, st_schema_default_yaml_len));
	st_schema_free(s);
}

static void test_hash(void **state)
{
	(void)state;
	/* Known answer for the reference implementation used above. */
	assert_int_equal(ref_fnv1a64("a", 1), 0xaf63dc4c8601ec8cull);
	st_schema *a = load_default(), *b = load_default();
	assert_int_equal(st_schema_hash(a), st_schema_hash(b));
	/* A comment changes the text and so the hash, not the types. */
	size_t n = st_schema_default_yaml_len;
	char *t = malloc(n + 3);
	assert_non_null(t);
	memcpy(t, st_schema_default_yaml, n);
	memcpy(t + n, "#\n", 3);
	st_schema *c = NULL;
	st_diag d;
	assert_int_equal(st_schema_load_buffer(t, n + 2, "t.yaml", &c, &d), 0);
	assert_int_not_equal(st_schema_hash(a), st_schema_hash(c));
	assert_int_equal(st_schema_node_type_count(c), st_schema_node_type_count(a));
	assert_int_equal(st_schema_hash(NULL), 0);
	free(t);
	st_schema_free(a);
	st_schema_free(b);
	st_schema_free(c);
}

static void test_find_type(void **state)
{
	(void)state;
	st_schema *s = load_default();
	assert_int_equal(node_index(s, "Domain"), 0);
	assert_int_equal(node_index(s, "Service"), 2);
	assert_int_equal(node_index(s, "Team"), 6);
	/* Lengths are honoured: the name need not be NUL-terminated. */
	assert_int_equal(st_schema_find_node_type(s, "ServiceXYZ", 7), 2);
	assert_int_equal(st_schema_find_node_type(s, "Servic", 6), -1);
	assert_int_equal(st_schema_find_node_type(s, "Service\0", 8), -1);
	assert_int_equal(node_index(s, "service"), -1);
	assert_int_equal(node_index(s, ""), -1);
	assert_int_equal(node_index(s, "CALLS"), -1);
	assert_int_equal(st_schema_find_edge_type(s, "CALLS", 5), 4);
	assert_int_equal(st_schema_find_edge_type(s, "Service", 7), -1);
	assert_int_equal(st_schema_find_node_type(NULL, "Service", 7), -1);

	const st_node_type *svc = node_named(s, "Service");
	assert_int_equal(svc->layer, ST_LAYER_LOGICAL);
	assert_int_equal(node_named(s, "Team")->layer, ST_LAYER_LOGICAL);
	assert_int_equal(node_named(s, "KubernetesPod")->layer, ST_LAYER_SOURCE);
	st_schema_free(s);
}

static void test_edges(void **state)
{
	(void)state;
	st_schema *s = load_default();
	assert_int_equal(edge_named(s, "CALLS")->dependency, ST_DEP_FORWARD);
	assert_int_equal(edge_named(s, "DEPENDS_ON")->dependency, ST_DEP_FORWARD);
	assert_int_equal(edge_named(s, "PROVIDES_API")->dependency, ST_DEP_REVERSE);
	assert_int_equal(edge_named(s, "RUNS")->dependency, ST_DEP_REVERSE);
	assert_int_equal(edge_named(s, "OWNS")->dependency, ST_DEP_NONE);

	const st_edge_type *owns = edge_named(s, "OWNS");
	assert_false(owns->any_from);
	assert_true(owns->any_to);
	assert_int_equal(owns->n_from, 2);
	assert_int_equal(owns->from[0], node_index(s, "Team"));
	assert_int_equal(owns->from[1], node_index(s, "User"));
	assert_int_equal(owns->n_to, 0);
	for (size_t i = 0; i < st_schema_node_type_count(s); i++) {
		const char *to = st_schema_node_type(s, i)->name;
		assert_true(allows(s, "OWNS", "Team", to));
		assert_true(allows(s, "OWNS", "User", to));
	}
	assert_false(allows(s, "OWNS", "Service", "Team"));

	const st_edge_type *calls = edge_named(s, "CALLS");
	assert_int_equal(calls->n_from, 3);
	assert_int_equal(calls->n_to, 4);
	assert_int_equal(calls->to[3], node_index(s, "API"));
	assert_false(allows(s, "CALLS", "Team", "Team"));
	assert_true(allows(s, "CALLS", "Service", "Service"));
	assert_true(allows(s, "CALLS", "Workload", "API"));
	assert_false(allows(s, "CALLS", "API", "Service"));
	assert_true(allows(s, "PROVIDES_API", "Service", "API"));
	assert_false(allows(s, "PROVIDES_API", "API", "Service"));
	assert_true(allows(s, "CONTROLLED_BY", "KubernetesPod", "KubernetesReplicaSet"));
	assert_false(allows(s, "CONTROLLED_BY", "KubernetesDeployment", "KubernetesPod"));

	/* Out-of-range indexes are refused, not read. */
	assert_false(st_schema_edge_allows(s, 16, 0, 0));
	assert_false(st_schema_edge_allows(s, 0, 6, 24));
	assert_false(st_schema_edge_allows(s, 0, 24, 0));
	assert_false(st_schema_edge_allows(NULL, 0, 0, 0));
	st_schema_free(s);
}

static void test_props(void **state)
{
	(void)state;
	st_schema *s = load_default();
	const st_node_type *svc = node_named(s, "Service");
	/* 6 common + lifecycle, tier, language */
	assert_int_equal(svc->n_props, 9);
	for (size_t i = 1; i < svc->n_props; i++)
		assert_true(strcmp(svc->props[i - 1].name, svc->props[i].name) < 0);
	const st_prop_def *p = prop(svc->props, svc->n_props, "tier");
	assert_non_null(p);
	assert_int_equal(p->type, ST_P_INT);
	assert_false(p->required);
	assert_int_equal(prop(svc->props, svc->n_props, "labels")->type, ST_P_MAP);
	assert_int_equal(prop(svc->props, svc->n_props, "tags")->type, ST_P_LIST);
	assert_int_equal(prop(svc->props, svc->n_props, "name")->type, ST_P_STRING);
	assert_null(prop(svc->props, svc->n_props, "component_type"));
	assert_null(prop(svc->props, svc->n_props, "tie"));
	assert_null(prop(svc->props, svc->n_props, "tiers"));
	assert_null(prop(svc->props, svc->n_props, ""));
	/* Counted lookups: "tierX" with length 4 is "tier". */
	assert_ptr_equal(st_schema_find_prop(svc->props, svc->n_props, "tierX", 4), p);

	const st_node_type *comp = node_named(s, "Component");
	p = prop(comp->props, comp->n_props, "component_type");
	assert_non_null(p);
	assert_true(p->required);
	assert_int_equal(p->type, ST_P_STRING);
	assert_false(prop(comp->props, comp->n_props, "lifecycle")->required);
	assert_false(prop(comp->props, comp->n_props, "description")->required);

	const st_node_type *repo = node_named(s, "Repository");
	assert_int_equal(prop(repo->props, repo->n_props, "last_commit_at")->type, ST_P_TIMESTAMP);

	const st_edge_type *calls = edge_named(s, "CALLS");
	assert_int_equal(calls->n_props, 6);
	assert_int_equal(prop(calls->props, calls->n_props, "request_rate")->type, ST_P_FLOAT);
	assert_int_equal(prop(calls->props, calls->n_props, "rule")->type, ST_P_STRING);
	assert_non_null(prop(calls->props, calls->n_props, "evidence"));
	assert_null(prop(calls->props, calls->n_props, "name"));
	const st_edge_type *owns = edge_named(s, "OWNS");
	assert_int_equal(owns->n_props, 2);
	assert_string_equal(owns->props[0].name, "evidence");
	assert_string_equal(owns->props[1].name, "rule");

	assert_null(st_schema_find_prop(NULL, 0, "x", 1));
	st_schema_free(s);
}

static void test_alias_props(void **state)
{
	(void)state;
	static const char *const workloads[] = {
		"KubernetesDeployment", "KubernetesStatefulSet", "KubernetesDaemonSet",
		"KubernetesReplicaSet", "KubernetesJob",	 "KubernetesCronJob",
	};
	st_schema *s = load_default();
	for (size_t i = 0; i < ST_ARRAY_LEN(workloads); i++) {
		const st_node_type *t = node_named(s, workloads[i]);
		assert_int_equal(t->n_props, 11);
		assert_true(prop(t->props, t->n_props, "cluster")->required);
		assert_true(prop(t->props, t->n_props, "namespace")->required);
		assert_false(prop(t->props, t->n_props, "uid")->required);
		assert_int_equal(prop(t->props, t->n_props, "replicas")->type, ST_P_INT);
		assert_non_null(prop(t->props, t->n_props, "image"));
		assert_non_null(prop(t->props, t->n_props, "title"));
	}
	const st_node_type *sts = node_named(s, "KubernetesStatefulSet");
	assert_string_equal(sts->description, "apps/v1 StatefulSet.");
	st_schema_free(s);
}

static void test_ptype_name(void **state)
{
	(void)state;
	assert_string_equal(st_ptype_name(ST_P_STRING), "string");
	assert_string_equal(st_ptype_name(ST_P_TIMESTAMP), "timestamp");
	assert_string_equal(st_ptype_name(ST_P_MAP), "map");
	assert_null(st_ptype_name((st_ptype)0));
	assert_null(st_ptype_name((st_ptype)8));
}

/* ---- small valid schemas ------------------------------------------------ */

static void test_minimal(void **state)
{
	(void)state;
	st_schema *s = load_text("version: 1\n"
				 "node_types:\n"
				 "  A: {layer: logical}\n"
				 "  b_2: {layer: source, properties: {}}\n"
				 "edge_types:\n"
				 "  E: {dependency: reverse, from: ['*'], to: [b_2]}\n");
	assert_int_equal(st_schema_node_type_count(s), 2);
	const st_node_type *a = st_schema_node_type(s, 0);
	assert_string_equal(a->description, "");
	assert_int_equal(a->n_props, 0);
	assert_null(st_schema_find_prop(a->props, a->n_props, "x", 1));
	assert_int_equal(st_schema_node_type(s, 1)->layer, ST_LAYER_SOURCE);
	const st_edge_type *e = st_schema_edge_type(s, 0);
	assert_true(e->any_from);
	assert_false(e->any_to);
	assert_int_equal(e->dependency, ST_DEP_REVERSE);
	assert_true(st_schema_edge_allows(s, 0, 0, 1));
	assert_true(st_schema_edge_allows(s, 0, 1, 1));
	assert_false(st_schema_edge_allows(s, 0, 1, 0));
	st_schema_free(s);
}

static void test_load_file(void **state)
{
	(void)state;
	st_schema *f = NULL, *d = load_default();
	st_diag diag = {{0}};
	assert_int_equal(st_schema_load_file(ST_SOURCE_ROOT "/schema/stacktwin.yaml", &f, &diag),
			 0);
	assert_int_equal(st_schema_hash(f), st_schema_hash(d));
	assert_int_equal(st_schema_node_type_count(f), st_schema_node_type_count(d));
	st_schema_free(f);
	st_schema_free(d);

	f = NULL;
	assert_int_equal(st_schema_load_file("/nonexistent/x.yaml", &f, &diag), ST_E_IO);
	assert_null(f);
	assert_non_null(strstr(diag.msg, "/nonexistent/x.yaml"));

	/* Errors in a file name the path with line and column. */
	char path[] = "/tmp/test_schema_XXXXXX";
	int fd = mkstemp(path);
	assert_true(fd >= 0);
	static const char bad[] = "version: 1\nnode_types: 3\nedge_types: {}\n";
	assert_int_equal(write(fd, bad, sizeof(bad) - 1), (ssize_t)(sizeof(bad) - 1));
	close(fd);
	assert_int_equal(st_schema_load_file(path, &f, &diag), ST_E_SCHEMA);
	unlink(path);
	char want[64];
	snprintf(want, sizeof(want), "%s:2:13: ", path);
	assert_memory_equal(diag.msg, want, strlen(want));
	assert_null(f);
}

static void test_free_null(void **state)
{
	(void)state;
	st_schema_free(NULL);
	assert_int_equal(st_schema_node_type_count(NULL), 0);
	assert_int_equal(st_schema_edge_type_count(NULL), 0);
	assert_null(st_schema_node_type(NULL, 0));
}

/* ---- limits ------------------------------------------------------------- */

static void gen_types(text *t, size_t n_nodes)
{
	text_add(t, "version: 1\nnode_types:\n");
	for (size_t i = 0; i < n_nodes; i++)
		text_add(t, "  T%zu: {layer: logical}\n", i);
	text_add(t, "edge_types:\n  E: {dependency: none, from: [T0], to: [T%zu]}\n", n_nodes - 1);
}

static void test_type_limit(void **state)
{
	(void)state;
	text t = {0};
	gen_types(&t, 1000);
	st_schema *s = load_text(t.p);
	assert_int_equal(st_schema_node_type_count(s), 1000);
	/* Every name resolves through the hash to its own index. */
	for (size_t i = 0; i < 1000; i++) {
		char name[16];
		int n = snprintf(name, sizeof(name), "T%zu", i);
		assert_int_equal(st_schema_find_node_type(s, name, (size_t)n), (int)i);
	}
	assert_true(st_schema_edge_allows(s, 0, 0, 999));
	assert_false(st_schema_edge_allows(s, 0, 999, 0));
	assert_false(st_schema_edge_allows(s, 0, 0, 998));
	st_schema_free(s);
	free(t.p);

	t = (text){0};
	gen_types(&t, 1001);
	/* Line 3 holds T0, so T1000 is on line 1003. */
	expect_error(t.p, t.len,
		     "t.yaml:1003:3: ", "too many entries in 'node_types' (limit 1000)");
	free(t.p);
}

static void gen_props(text *t, size_t n_own)
{
	text_add(t, "version: 1\ncommon_node_properties:\n  name: {type: string}\n"
		    "node_types:\n  A:\n    layer: logical\n    properties:\n");
	for (size_t i = 0; i < n_own; i++)
		text_add(t, "      p%zu: {type: int}\n", i);
	text_add(t, "edge_types:\n  E: {dependency: none, from: [A], to: [A]}\n");
}

static void test_prop_limit(void **state)
{
	(void)state;
	text t = {0};
	gen_props(&t, 63);
	st_schema *s = load_text(t.p);
	const st_node_type *a = st_schema_node_type(s, 0);
	assert_int_equal(a->n_props, 64);
	assert_string_equal(a->props[0].name, "name");
	assert_string_equal(a->props[1].name, "p0");
	assert_string_equal(a->props[2].name, "p1");
	assert_string_equal(a->props[3].name, "p10");
	assert_non_null(prop(a->props, a->n_props, "p62"));
	st_schema_free(s);
	free(t.p);

	t = (text){0};
	gen_props(&t, 64);
	/* p0 is on line 8, p63 on line 71. */
	expect_error(t.p, t.len, "t.yaml:71:7: ", "too many properties in node type 'A' (limit 64");
	free(t.p);
}

static void test_depth_limit(void **state)
{
	(void)state;
	text t = {0};
	text_add(&t, "version: 1\nx: ");
	for (int i = 0; i < 40; i++)
		text_add(&t, "[");
	for (int i = 0; i < 40; i++)
		text_add(&t, "]");
	text_add(&t, "\n");
	/* The root mapping is level 1; the 32nd '[' (column 35) is level 33. */
	expect_error(t.p, t.len, "t.yaml:2:35: ", "nesting deeper than 32 levels");
	free(t.p);
}

static void test_size_limit(void **state)
{
	(void)state;
	size_t n = ((size_t)4 << 20) + 1;
	char *big = malloc(n);
	assert_non_null(big);
	memset(big, ' ', n);
	st_schema *s = NULL;
	st_diag d = {{0}};
	assert_int_equal(st_schema_load_buffer(big, n, "big.yaml", &s, &d), ST_E_SCHEMA);
	assert_null(s);
	assert_non_null(strstr(d.msg, "big.yaml: schema is larger than"));
	free(big);
}

/* ---- malformed schemas -------------------------------------------------- */

typedef struct bad_case {
	const char *name;
	const char *yaml;
	const char *where; /* exact "t.yaml:line:column: " prefix */
	const char *phrase;
} bad_case;

#define NODES_A "node_types:\n  A: {layer: logical}\n"
#define EDGES_E "edge_types:\n  E: {dependency: none, from: [A], to: [A]}\n"

static const bad_case bad_cases[] = {
	{"unknown top-level key", "version: 1\n" NODES_A EDGES_E "colour: blue\n",
	 "t.yaml:6:1: ", "unknown key 'colour' in the top-level mapping"},
	{"unknown property type",
	 "version: 1\nnode_types:\n  A:\n    layer: logical\n    properties:\n"
	 "      p: {type: strng}\n" EDGES_E,
	 "t.yaml:6:17: ", "unknown property type 'strng' for property 'p' of node type 'A'"},
	{"version missing", "# no version\n" NODES_A EDGES_E,
	 "t.yaml:2:1: ", "missing required top-level key 'version'"},
	{"version 2", "version: 2\n" NODES_A EDGES_E,
	 "t.yaml:1:10: ", "unsupported schema version '2' (expected 1)"},
	{"version quoted", "version: '1'\n" NODES_A EDGES_E,
	 "t.yaml:1:10: ", "unsupported schema version '1' (expected 1, unquoted)"},
	{"version mapping", "version: {v: 1}\n" NODES_A EDGES_E,
	 "t.yaml:1:10: ", "expected a scalar for 'version'"},
	{"duplicate node type",
	 "version: 1\nnode_types:\n  A: {layer: logical}\n  A: {layer: source}\n" EDGES_E,
	 "t.yaml:4:3: ", "duplicate node type 'A'"},
	{"duplicate edge type",
	 "version: 1\n" NODES_A EDGES_E "  E: {dependency: none, from: [A], to: [A]}\n",
	 "t.yaml:6:3: ", "duplicate edge type 'E'"},
	{"edge to unknown node type",
	 "version: 1\n" NODES_A "edge_types:\n  E: {dependency: none, from: [A], to: [A, B]}\n",
	 "t.yaml:5:44: ", "unknown node type 'B' in 'to' of edge type 'E'"},
	{"bad node type name", "version: 1\nnode_types:\n  my-type: {layer: logical}\n" EDGES_E,
	 "t.yaml:3:3: ", "invalid node type name 'my-type'"},
	{"bad edge type name",
	 "version: 1\n" NODES_A "edge_types:\n  9E: {dependency: none, from: [A], to: [A]}\n",
	 "t.yaml:5:3: ", "invalid edge type name '9E'"},
	{"bad property name",
	 "version: 1\nnode_types:\n  A:\n    layer: logical\n    properties:\n"
	 "      Big: {type: string}\n" EDGES_E,
	 "t.yaml:6:7: ", "invalid property name 'Big' in node type 'A'"},
	{"node type not a mapping", "version: 1\nnode_types:\n  A: [layer, logical]\n" EDGES_E,
	 "t.yaml:3:6: ", "expected a mapping for node type 'A', found a sequence"},
	{"top level not a mapping", "- version\n- 1\n",
	 "t.yaml:1:1: ", "must be a mapping at the top level, found a sequence"},
	{"node_types not a mapping", "version: 1\nnode_types: [A]\n" EDGES_E,
	 "t.yaml:2:13: ", "expected a mapping for 'node_types', found a sequence"},
	{"properties not a mapping",
	 "version: 1\nnode_types:\n  A: {layer: logical, properties: x}\n" EDGES_E,
	 "t.yaml:3:35: ", "expected a mapping for 'properties' of node type 'A', found a scalar"},
	{"from not a sequence",
	 "version: 1\n" NODES_A "edge_types:\n  E: {dependency: none, from: A, to: [A]}\n",
	 "t.yaml:5:31: ", "expected a sequence for 'from' of edge type 'E', found a scalar"},
	{"yaml syntax error", "version: 1\nnode_types:\n\tA: {layer: logical}\n",
	 "t.yaml:3:1: ", "YAML syntax error: found character that cannot start any token"},
	{"unclosed flow mapping", "version: 1\nnode_types:\n  A: {layer: logical\n",
	 "t.yaml:4:1: ", "YAML syntax error: did not find expected ',' or '}'"},
	{"undefined alias",
	 "version: 1\nnode_types:\n  A: {layer: logical, properties: *p}\n" EDGES_E,
	 "t.yaml:3:35: ", "YAML syntax error: found undefined alias"},
	{"invalid utf-8", "version: 1\nnode_types: \xff\n", "t.yaml:2:13: ", "invalid YAML input"},
	{"required not a bool",
	 "version: 1\nnode_types:\n  A:\n    layer: logical\n    properties:\n"
	 "      p: {type: string, required: notabool}\n" EDGES_E,
	 "t.yaml:6:35: ",
	 "invalid value 'notabool' for 'required' of property 'p' of node type 'A' (expected true or false)"},
	{"required quoted",
	 "version: 1\nnode_types:\n  A:\n    layer: logical\n    properties:\n"
	 "      p: {type: string, required: 'true'}\n" EDGES_E,
	 "t.yaml:6:35: ", "invalid value 'true' for 'required'"},
	{"property type missing",
	 "version: 1\nnode_types:\n  A:\n    layer: logical\n    properties:\n"
	 "      p: {required: true}\n" EDGES_E,
	 "t.yaml:6:10: ", "property 'p' of node type 'A' is missing required key 'type'"},
	{"unknown key in property",
	 "version: 1\nnode_types:\n  A:\n    layer: logical\n    properties:\n"
	 "      p: {type: string, default: x}\n" EDGES_E,
	 "t.yaml:6:25: ",
	 "unknown key 'default' in property 'p' of node type 'A' (expected type, required)"},
	{"unknown key in node type",
	 "version: 1\nnode_types:\n  A:\n    layer: logical\n    color: red\n" EDGES_E,
	 "t.yaml:5:5: ", "unknown key 'color' in node type 'A'"},
	{"unknown key in edge type",
	 "version: 1\n" NODES_A
	 "edge_types:\n  E: {dependency: none, from: [A], to: [A], weight: 1}\n",
	 "t.yaml:5:45: ", "unknown key 'weight' in edge type 'E'"},
	{"duplicate key", "version: 1\nnode_types:\n  A: {layer: logical, layer: source}\n" EDGES_E,
	 "t.yaml:3:23: ", "duplicate key 'layer' in node type 'A'"},
	{"duplicate top-level key", "version: 1\n" NODES_A EDGES_E "version: 1\n",
	 "t.yaml:6:1: ", "duplicate key 'version' in the top-level mapping"},
	{"missing layer", "version: 1\nnode_types:\n  A: {description: x}\n" EDGES_E,
	 "t.yaml:3:6: ", "node type 'A' is missing required key 'layer'"},
	{"bad layer", "version: 1\nnode_types:\n  A: {layer: physical}\n" EDGES_E, "t.yaml:3:14: ",
	 "invalid layer 'physical' for node type 'A' (expected logical or source)"},
	{"bad dependency",
	 "version: 1\n" NODES_A "edge_types:\n  E: {dependency: backward, from: [A], to: [A]}\n",
	 "t.yaml:5:19: ", "invalid dependency 'backward' for edge type 'E'"},
	{"missing to", "version: 1\n" NODES_A "edge_types:\n  E: {dependency: none, from: [A]}\n",
	 "t.yaml:5:6: ", "edge type 'E' is missing required key 'to'"},
	{"missing node_types", "version: 1\n" EDGES_E,
	 "t.yaml:1:1: ", "missing required top-level key 'node_types'"},
	{"missing edge_types", "version: 1\n" NODES_A,
	 "t.yaml:1:1: ", "missing required top-level key 'edge_types'"},
	{"empty node_types", "version: 1\nnode_types: {}\n" EDGES_E,
	 "t.yaml:2:13: ", "'node_types' is empty"},
	{"empty from",
	 "version: 1\n" NODES_A "edge_types:\n  E: {dependency: none, from: [], to: [A]}\n",
	 "t.yaml:5:31: ", "'from' of edge type 'E' is empty"},
	{"star with others",
	 "version: 1\n" NODES_A "edge_types:\n  E: {dependency: none, from: [A, '*'], to: [A]}\n",
	 "t.yaml:5:35: ", "'*' must be the only entry of 'from' of edge type 'E'"},
	{"duplicate endpoint",
	 "version: 1\n" NODES_A "edge_types:\n  E: {dependency: none, from: [A, A], to: [A]}\n",
	 "t.yaml:5:35: ", "duplicate node type 'A' in 'from' of edge type 'E'"},
	{"duplicate of common property",
	 "version: 1\ncommon_node_properties:\n  name: {type: string}\nnode_types:\n"
	 "  A:\n    layer: logical\n    properties:\n      name: {type: string}\n" EDGES_E,
	 "t.yaml:8:7: ", "property 'name' of node type 'A' duplicates a common node property"},
	{"duplicate of common edge property",
	 "version: 1\ncommon_edge_properties: {rule: {type: string}}\n" NODES_A
	 "edge_types:\n  E: {dependency: none, from: [A], to: [A], properties: {rule: {type: int}}}\n",
	 "t.yaml:6:58: ", "property 'rule' of edge type 'E' duplicates a common edge property"},
	{"duplicate property",
	 "version: 1\nnode_types:\n  A:\n    layer: logical\n    properties:\n"
	 "      p: {type: string}\n      p: {type: int}\n" EDGES_E,
	 "t.yaml:7:7: ", "duplicate property 'p' in node type 'A'"},
	{"bad common property type",
	 "version: 1\ncommon_node_properties:\n  x: {type: date}\n" NODES_A EDGES_E,
	 "t.yaml:3:13: ", "unknown property type 'date' for property 'x' of common_node_properties"},
	{"mapping as key", "version: 1\nnode_types:\n  ? {a: b}\n  : {layer: logical}\n" EDGES_E,
	 "t.yaml:3:5: ", "expected a node type name, found a mapping"},
	{"two documents", "version: 1\n" NODES_A EDGES_E "---\nversion: 1\n",
	 "t.yaml:6:1: ", "more than one YAML document"},
	{"empty text", "", "t.yaml:1:1: ", "the schema is empty"},
	{"only comments", "# nothing\n\n", "t.yaml:1:1: ", "the schema is empty"},
	{"long value is shortened",
	 "version: 1\nnode_types:\n  A: {layer: "
	 "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx}\n" EDGES_E,
	 "t.yaml:3:14: ",
	 "invalid layer 'xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx...' for"},
};

static void test_bad(void **state)
{
	const bad_case *c = *state;
	expect_error(c->yaml, strlen(c->yaml), c->where, c->phrase);
}

/* The error offset of a buffer with an embedded NUL is still located. */
static void test_bad_nul(void **state)
{
	(void)state;
	static const char yaml[] = "version: 1\nnode_types:\n  A: {layer: lo\0gical}\n";
	expect_error(yaml, sizeof(yaml) - 1, "t.yaml:3:16: ", "invalid YAML input");
}

/* ---- documentation ------------------------------------------------------ */

static bool is_word_char(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       c == '_';
}

/* Whether `word` occurs in `doc` not as part of a longer identifier
 * ("Service" inside "KubernetesService" does not count). */
static bool mentions(const char *doc, const char *word)
{
	size_t n = strlen(word);
	for (const char *p = strstr(doc, word); p; p = strstr(p + 1, word)) {
		bool start = p == doc || !is_word_char(p[-1]);
		if (start && !is_word_char(p[n]))
			return true;
	}
	return false;
}

static void test_docs_mention_all_types(void **state)
{
	(void)state;
	size_t len;
	char *doc = read_all(ST_SOURCE_ROOT "/docs/schema.md", &len);
	assert_true(len > 0);
	st_schema *s = load_default();
	for (size_t i = 0; i < st_schema_node_type_count(s); i++) {
		const char *name = st_schema_node_type(s, i)->name;
		if (!mentions(doc, name))
			print_error("docs/schema.md does not mention node type %s\n", name);
		assert_true(mentions(doc, name));
	}
	for (size_t i = 0; i < st_schema_edge_type_count(s); i++) {
		const char *name = st_schema_edge_type(s, i)->name;
		if (!mentions(doc, name))
			print_error("docs/schema.md does not mention edge type %s\n", name);
		assert_true(mentions(doc, name));
	}
	assert_false(mentions(doc, "NoSuchTypeAnywhere"));
	st_schema_free(s);
	free(doc);
}

int main(void)
{
	static const struct CMUnitTest fixed[] = {
		cmocka_unit_test(test_default_loads), cmocka_unit_test(test_hash),
		cmocka_unit_test(test_find_type),     cmocka_unit_test(test_edges),
		cmocka_unit_test(test_props),	      cmocka_unit_test(test_alias_props),
		cmocka_unit_test(test_ptype_name),    cmocka_unit_test(test_minimal),
		cmocka_unit_test(test_load_file),     cmocka_unit_test(test_free_null),
		cmocka_unit_test(test_type_limit),    cmocka_unit_test(test_prop_limit),
		cmocka_unit_test(test_depth_limit),   cmocka_unit_test(test_size_limit),
		cmocka_unit_test(test_bad_nul),	      cmocka_unit_test(test_docs_mention_all_types),
	};
	/* One named test per malformed schema, so a failure names the case. */
	size_t n_fixed = ST_ARRAY_LEN(fixed), n_bad = ST_ARRAY_LEN(bad_cases);
	struct CMUnitTest *tests = calloc(n_fixed + n_bad, sizeof(*tests));
	if (!tests)
		return 1;
	memcpy(tests, fixed, sizeof(fixed));
	for (size_t i = 0; i < n_bad; i++) {
		tests[n_fixed + i] = (struct CMUnitTest){
			.name = bad_cases[i].name,
			.test_func = test_bad,
			.initial_state = (void *)&bad_cases[i],
		};
	}
	int failed = _cmocka_run_group_tests("schema", tests, n_fixed + n_bad, NULL, NULL);
	free(tests);
	return failed;
}
