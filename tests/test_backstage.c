/*
 * test_backstage.c — unit tests for the catalog parser (connectors/backstage.c)
 * and the Kubernetes manifest set (connectors/manifest.c), against a
 * recording sink (tests/record_sink.h): every entity kind and ref field,
 * namespaces and default kinds, file-level atomicity with exact
 * line:column errors, Location targets; manifest kinds, Lists, SELECTS
 * across files, ROUTES_TO, hints, rejected files.  The real upstream samples
 * in /work/shared/fixtures (MANIFEST.md) are parsed when present; the tests
 * using them are skipped with a printed reason when they are absent.
 *
 * Inline YAML is written one line per C line so that expected line numbers
 * can be counted in the source.
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

#include "backstage.h"
#include "manifest.h"
#include "record_sink.h"

#ifndef ST_FIXTURES
#define ST_FIXTURES "/work/shared/fixtures"
#endif
#define BS ST_FIXTURES "/backstage/"
#define K8S ST_FIXTURES "/k8s-manifests/online-boutique/"

#define REPO "git:github.com/acme/catalog"

/* ---- helpers ------------------------------------------------------------ */

static st_schema *schema(void)
{
	static st_schema *s; /* loaded once per test program */
	if (!s) {
		st_diag d = {{0}};
		assert_int_equal(st_schema_load_default(&s, &d), 0);
	}
	return s;
}

static const st_parse_ctx CTX = {.source = "acme", .path = "catalog-info.yaml", .repo_id = REPO};

/* Parse text with a fresh recording sink (caller frees with rs_free). */
static int parse_text(rs_sink *rs, const char *text, st_catalog_stats *stats, st_strv *targets,
		      st_diag *d)
{
	rs_init(rs, schema());
	int r = st_backstage_parse(&rs->sink, &CTX, text, strlen(text), stats, targets, d);
	if (r && r != ST_E_INVALID)
		print_error("parse: %d %s\n", r, d->msg);
	return r;
}

static void parse_ok(rs_sink *rs, const char *text, st_catalog_stats *stats)
{
	st_diag d = {{0}};
	int r = parse_text(rs, text, stats, NULL, &d);
	if (r)
		print_error("unexpected error: %s\n", d.msg);
	assert_int_equal(r, 0);
	assert_int_equal(rs->n_warnings, 0);
}

static void assert_prop(const rs_fact *f, const char *key, const char *want)
{
	assert_non_null(f);
	char *got = rs_prop_str(f, key);
	if (strcmp(got, want))
		print_error("%s.%s: got \"%s\", want \"%s\"\n", f->id, key, got, want);
	assert_string_equal(got, want);
	free(got);
}

static const rs_fact *node_of_type(const rs_sink *rs, const char *id, const char *type)
{
	const rs_fact *f = rs_find_node(rs, id);
	if (!f)
		print_error("no node %s\n", id);
	assert_non_null(f);
	int t = st_schema_find_node_type(schema(), type, strlen(type));
	assert_int_equal(f->type, t);
	return f;
}

static const rs_fact *edge(const rs_sink *rs, const char *src, const char *type, const char *dst)
{
	const rs_fact *f = rs_find_edge(rs, src, type, dst);
	if (!f)
		print_error("no edge %s -%s-> %s\n", src, type, dst);
	assert_non_null(f);
	return f;
}

static size_t count_edges(const rs_sink *rs, const char *type)
{
	int t = st_schema_find_edge_type(schema(), type, strlen(type));
	size_t n = 0;
	for (size_t i = 0; i < rs->n; i++)
		n += rs->facts[i].kind == 'e' && rs->facts[i].type == t;
	return n;
}

static size_t count_nodes(const rs_sink *rs, const char *type)
{
	int t = st_schema_find_node_type(schema(), type, strlen(type));
	size_t n = 0;
	for (size_t i = 0; i < rs->n; i++)
		n += rs->facts[i].kind == 'n' && rs->facts[i].type == t;
	return n;
}

/* The whole file, NUL-terminated, or NULL when it does not exist. */
static char *slurp(const char *path, size_t *ret_len)
{
	FILE *f = fopen(path, "rb");
	if (!f)
		return NULL;
	size_t cap = 4096, len = 0;
	char *buf = malloc(cap);
	size_t n;
	while ((n = fread(buf + len, 1, cap - len - 1, f)) > 0) {
		len += n;
		if (cap - len < 2) {
			cap *= 2;
			buf = realloc(buf, cap);
		}
	}
	fclose(f);
	buf[len] = 0;
	*ret_len = len;
	return buf;
}

static bool have_fixtures(const char *dir)
{
	if (access(dir, R_OK) == 0)
		return true;
	print_message("skipped: fixture directory %s is absent (see fixtures/MANIFEST.md)\n", dir);
	return false;
}

/* ---- Backstage: kinds and props ----------------------------------------- */

static const char ALL_KINDS[] =
	"apiVersion: backstage.io/v1alpha1\n" /* 1 */
	"kind: Component\n"
	"metadata:\n"
	"  name: Payments\n"
	"  title: Payments service\n" /* 5 */
	"  description: Takes money\n"
	"  labels: {tier: \"1\"}\n"
	"  annotations:\n"
	"    backstage.io/kubernetes-id: payments\n"
	"    github.com/project-slug: acme/payments\n" /* 10 */
	"  tags: [go, grpc]\n"
	"spec:\n"
	"  type: service\n"
	"  lifecycle: production\n"
	"  owner: team-payments\n" /* 15 */
	"---\n"
	"apiVersion: backstage.io/v1alpha1\n"
	"kind: Component\n"
	"metadata: {name: web-shop}\n"
	"spec: {type: website, lifecycle: experimental, owner: user:alice}\n" /* 20 */
	"---\n"
	"apiVersion: backstage.io/v1alpha1\n"
	"kind: API\n"
	"metadata: {name: payments-api}\n"
	"spec: {type: grpc, lifecycle: production, owner: team-payments, definition: x}\n" /* 25 */
	"---\n"
	"apiVersion: backstage.io/v1alpha1\n"
	"kind: Resource\n"
	"metadata: {name: payments-db}\n"
	"spec: {type: database, owner: team-payments}\n" /* 30 */
	"---\n"
	"apiVersion: backstage.io/v1alpha1\n"
	"kind: System\n"
	"metadata: {name: checkout}\n"
	"spec: {owner: team-payments}\n" /* 35 */
	"---\n"
	"apiVersion: backstage.io/v1beta1\n"
	"kind: Domain\n"
	"metadata: {name: commerce}\n"
	"spec: {owner: team-payments}\n" /* 40 */
	"---\n"
	"apiVersion: backstage.io/v1alpha1\n"
	"kind: Group\n"
	"metadata: {name: team-payments}\n"
	"spec:\n" /* 45 */
	"  type: team\n"
	"  profile: {displayName: Payments Team, email: pay@acme.example}\n"
	"  children: []\n"
	"---\n"
	"apiVersion: backstage.io/v1alpha1\n" /* 50 */
	"kind: User\n"
	"metadata: {name: alice}\n"
	"spec: {profile: {email: alice@acme.example}, memberOf: [team-payments]}\n"
	"---\n"
	"apiVersion: scaffolder.backstage.io/v1beta3\n" /* 55 */
	"kind: Template\n"
	"metadata: {name: new-service}\n"
	"spec: {owner: team-payments}\n"
	"---\n"
	"apiVersion: backstage.io/v1alpha1\n" /* 60 */
	"kind: Location\n"
	"metadata: {name: more}\n"
	"spec: {type: url, target: ./more.yaml}\n"
	"---\n";

static void test_all_kinds(void **state)
{
	(void)state;
	rs_sink rs;
	st_catalog_stats st;
	parse_ok(&rs, ALL_KINDS, &st);
	assert_int_equal(st.entities, 8);
	assert_int_equal(st.locations, 1);
	assert_int_equal(st.skipped, 1); /* the Template */
	assert_int_equal(rs.n_nodes, 8);

	/* Component of type service: a Service, id lowercased, name as written */
	const rs_fact *f = node_of_type(&rs, "service:payments", "Service");
	assert_string_equal(f->origin, "acme:catalog-info.yaml");
	assert_int_equal(f->line, 1);
	assert_prop(f, "name", "Payments");
	assert_prop(f, "title", "Payments service");
	assert_prop(f, "description", "Takes money");
	assert_prop(f, "lifecycle", "production");
	assert_prop(f, "labels", "tier=1");
	assert_prop(f, "annotations",
		    "backstage.io/kubernetes-id=payments,github.com/project-slug=acme/payments");
	assert_prop(f, "tags", "go,grpc");
	assert_prop(f, "component_type", ""); /* Service has no such prop */

	f = node_of_type(&rs, "component:web-shop", "Component");
	assert_int_equal(f->line, 16); /* the document starts at its "---" */
	assert_prop(f, "component_type", "website");
	assert_prop(f, "lifecycle", "experimental");

	f = node_of_type(&rs, "api:payments-api", "API");
	assert_prop(f, "api_type", "grpc");
	assert_prop(f, "lifecycle", "production");
	f = node_of_type(&rs, "resource:payments-db", "Resource");
	assert_prop(f, "resource_type", "database");
	node_of_type(&rs, "system:checkout", "System");
	node_of_type(&rs, "domain:commerce", "Domain");
	f = node_of_type(&rs, "team:team-payments", "Team");
	assert_prop(f, "group_type", "team");
	assert_prop(f, "email", "pay@acme.example");
	assert_prop(f, "title", "Payments Team"); /* profile.displayName */
	f = node_of_type(&rs, "user:alice", "User");
	assert_prop(f, "email", "alice@acme.example");
	assert_null(rs_find_node(&rs, "template:new-service"));

	/* owners; a user owner; memberOf */
	const rs_fact *e = edge(&rs, "team:team-payments", "OWNS", "service:payments");
	assert_int_equal(e->line, 1);
	edge(&rs, "user:alice", "OWNS", "component:web-shop");
	edge(&rs, "team:team-payments", "OWNS", "api:payments-api");
	edge(&rs, "team:team-payments", "OWNS", "resource:payments-db");
	edge(&rs, "team:team-payments", "OWNS", "system:checkout");
	edge(&rs, "team:team-payments", "OWNS", "domain:commerce");
	edge(&rs, "user:alice", "MEMBER_OF", "team:team-payments");
	assert_int_equal(count_edges(&rs, "OWNS"), 6);

	/* one DEFINED_IN per entity, with the path */
	assert_int_equal(count_edges(&rs, "DEFINED_IN"), 8);
	e = edge(&rs, "domain:commerce", "DEFINED_IN", REPO);
	assert_prop(e, "path", "catalog-info.yaml");
	assert_int_equal(e->line, 36);
	assert_int_equal(st.edges, rs.n_edges);
	rs_free(&rs);
}

/* ---- Backstage: refs ------------------------------------------------------ */

static const char REFS[] =
	"apiVersion: backstage.io/v1alpha1\n" /* 1 */
	"kind: Component\n"
	"metadata: {name: checkout, namespace: Shop}\n"
	"spec:\n"
	"  type: service\n" /* 5 */
	"  owner: group:default/Team-A\n"
	"  system: store\n"
	"  dependsOn: [component:cart, Component:ui-lib, resource:default/orders-db, "
	"component:payments/pay]\n"
	"  dependencyOf: [component:frontend]\n"
	"  providesApis: [checkout-api]\n" /* 10 */
	"  consumesApis: [api:default/pay-api, pay-api]\n"
	"---\n"
	"apiVersion: backstage.io/v1alpha1\n"
	"kind: Component\n"
	"metadata: {name: ui-lib, namespace: shop}\n" /* 15 */
	"spec: {type: library, owner: team-a}\n"
	"---\n"
	"apiVersion: backstage.io/v1alpha1\n"
	"kind: API\n"
	"metadata: {name: checkout-api, namespace: shop}\n" /* 20 */
	"spec: {type: openapi, system: store}\n"
	"---\n"
	"apiVersion: backstage.io/v1alpha1\n"
	"kind: Resource\n"
	"metadata: {name: orders-db}\n" /* 25 */
	"spec: {type: database, system: store, dependsOn: [resource:disk], "
	"dependencyOf: [component:billing]}\n"
	"---\n"
	"apiVersion: backstage.io/v1alpha1\n"
	"kind: System\n"
	"metadata: {name: store}\n" /* 30 */
	"spec: {owner: team-a, domain: commerce}\n"
	"---\n"
	"apiVersion: backstage.io/v1alpha1\n"
	"kind: Group\n"
	"metadata: {name: team-a}\n" /* 35 */
	"spec: {type: team, parent: eng, children: [team-a1, other/team-a2], "
	"members: [bob, user:carol]}\n"
	"---\n"
	"apiVersion: backstage.io/v1alpha1\n"
	"kind: User\n"
	"metadata: {name: bob}\n" /* 40 */
	"spec: {memberOf: [team-a, group:team-b]}\n";

static void test_refs(void **state)
{
	(void)state;
	rs_sink rs;
	st_catalog_stats st;
	parse_ok(&rs, REFS, &st);
	assert_int_equal(st.entities, 7);

	/* a non-default namespace: in the id, and the default for refs */
	node_of_type(&rs, "service:shop/checkout", "Service");
	node_of_type(&rs, "component:shop/ui-lib", "Component");
	node_of_type(&rs, "api:shop/checkout-api", "API");
	const char *co = "service:shop/checkout";
	edge(&rs, "team:team-a", "OWNS", co); /* explicit default namespace, case folded */
	edge(&rs, co, "PART_OF", "system:shop/store");
	/* dependsOn: component refs are services unless declared here otherwise */
	edge(&rs, co, "DEPENDS_ON", "service:shop/cart");
	edge(&rs, co, "DEPENDS_ON", "component:shop/ui-lib");
	edge(&rs, co, "DEPENDS_ON", "resource:orders-db");
	edge(&rs, co, "DEPENDS_ON", "service:payments/pay");
	edge(&rs, "service:shop/frontend", "DEPENDS_ON", co); /* dependencyOf */
	edge(&rs, co, "PROVIDES_API", "api:shop/checkout-api");
	edge(&rs, co, "CONSUMES_API", "api:pay-api");
	edge(&rs, co, "CONSUMES_API", "api:shop/pay-api");
	edge(&rs, "team:shop/team-a", "OWNS", "component:shop/ui-lib");
	edge(&rs, "api:shop/checkout-api", "PART_OF", "system:shop/store");
	edge(&rs, "resource:orders-db", "PART_OF", "system:store");
	edge(&rs, "resource:orders-db", "DEPENDS_ON", "resource:disk");
	edge(&rs, "service:billing", "DEPENDS_ON", "resource:orders-db");
	edge(&rs, "system:store", "PART_OF", "domain:commerce");
	edge(&rs, "team:team-a", "OWNS", "system:store");
	edge(&rs, "team:team-a", "PART_OF", "team:eng");
	edge(&rs, "team:team-a1", "PART_OF", "team:team-a");
	edge(&rs, "team:other/team-a2", "PART_OF", "team:team-a");
	edge(&rs, "user:bob", "MEMBER_OF", "team:team-a");
	edge(&rs, "user:carol", "MEMBER_OF", "team:team-a");
	edge(&rs, "user:bob", "MEMBER_OF", "team:team-b");
	/* members + memberOf name the same edge once */
	assert_int_equal(count_edges(&rs, "MEMBER_OF"), 3);
	assert_int_equal(count_edges(&rs, "DEPENDS_ON"), 7);
	/* an edge carries the line of its entity's document */
	assert_int_equal(rs_find_edge(&rs, "user:bob", "MEMBER_OF", "team:team-b")->line, 37);
	rs_free(&rs);
}

static void test_no_repo_no_defined_in(void **state)
{
	(void)state;
	rs_sink rs;
	rs_init(&rs, schema());
	st_parse_ctx ctx = {.source = "s", .path = "a/b.yaml", .origin = "custom-origin"};
	const char *y = "apiVersion: backstage.io/v1alpha1\nkind: System\nmetadata: {name: x}\n";
	st_diag d = {{0}};
	assert_int_equal(st_backstage_parse(&rs.sink, &ctx, y, strlen(y), NULL, NULL, &d), 0);
	assert_int_equal(rs.n_nodes, 1);
	assert_int_equal(rs.n_edges, 0);
	assert_string_equal(rs.facts[0].origin, "custom-origin");
	rs_free(&rs);
}

/* ---- Backstage: Location targets ----------------------------------------- */

static void test_location_targets(void **state)
{
	(void)state;
	const char *y = "apiVersion: backstage.io/v1alpha1\n"
			"kind: Location\n"
			"metadata: {name: root}\n"
			"spec:\n"
			"  target: ./a.yaml\n"
			"  targets: [../b/catalog-info.yaml, 'https://example.com/c.yaml']\n"
			"---\n"
			"apiVersion: backstage.io/v1alpha1\n"
			"kind: Location\n"
			"metadata: {name: two}\n"
			"spec: {targets: [d.yaml]}\n";
	rs_sink rs;
	st_strv t = {0};
	/* targets are appended to what the vector holds */
	t.v = malloc(sizeof(char *));
	t.v[0] = strdup("earlier");
	t.n = t.cap = 1;
	st_catalog_stats st;
	st_diag d = {{0}};
	assert_int_equal(parse_text(&rs, y, &st, &t, &d), 0);
	assert_int_equal(st.locations, 2);
	assert_int_equal(st.entities, 0);
	assert_int_equal(rs.n_nodes + rs.n_edges, 0);
	assert_int_equal(t.n, 5);
	assert_string_equal(t.v[0], "earlier");
	assert_string_equal(t.v[1], "./a.yaml");
	assert_string_equal(t.v[2], "../b/catalog-info.yaml");
	assert_string_equal(t.v[3], "https://example.com/c.yaml");
	assert_string_equal(t.v[4], "d.yaml");
	st_strv_free(&t);
	assert_int_equal(t.n, 0);
	assert_null(t.v);
	st_strv_free(NULL);
	rs_free(&rs);
}

/* ---- Backstage: malformed files ----------------------------------------- */

typedef struct bad_case {
	const char *yaml;
	unsigned line, col;
	const char *phrase;
} bad_case;

static const bad_case BAD[] = {
	/* YAML syntax error in the second document: nothing of the first */
	{"apiVersion: backstage.io/v1alpha1\nkind: System\nmetadata: {name: ok}\n---\n"
	 "apiVersion: backstage.io/v1alpha1\nkind: System\nmetadata: {name: [x}\n",
	 7, 20, "YAML syntax error"},
	/* missing metadata.name */
	{"apiVersion: backstage.io/v1alpha1\nkind: System\nmetadata: {name: ok}\n---\n"
	 "apiVersion: backstage.io/v1alpha1\nkind: System\nmetadata:\n  title: x\n",
	 8, 3, "missing metadata.name"},
	{"apiVersion: backstage.io/v1alpha1\nkind: System\nspec: {}\n", 1, 1,
	 "missing metadata.name"},
	{"kind: System\nmetadata: {name: x}\n", 1, 1, "missing apiVersion"},
	{"apiVersion: backstage.io/v1alpha1\nmetadata: {name: x}\n", 1, 1, "missing kind"},
	/* a bad ref */
	{"apiVersion: backstage.io/v1alpha1\nkind: Component\nmetadata: {name: a}\nspec:\n"
	 "  type: service\n  owner: 'group:bad name'\n",
	 6, 10, "bad entity ref 'group:bad name' in spec.owner"},
	{"apiVersion: backstage.io/v1alpha1\nkind: Component\nmetadata: {name: a}\nspec:\n"
	 "  type: service\n  dependsOn:\n    - resource:db\n    - cart\n",
	 8, 7, "needs a kind"},
	{"apiVersion: backstage.io/v1alpha1\nkind: Component\nmetadata: {name: a}\nspec:\n"
	 "  type: service\n  dependsOn: [template:x]\n",
	 6, 15, "kind 'template' cannot be referenced"},
	/* an edge the schema forbids: a Component as owner */
	{"apiVersion: backstage.io/v1alpha1\nkind: System\nmetadata: {name: a}\nspec:\n"
	 "  owner: component:web\n",
	 5, 10, "OWNS edge from Service to System"},
	{"apiVersion: backstage.io/v1alpha1\nkind: Component\nmetadata: {name: a}\nspec:\n"
	 "  type: service\n  providesApis: [group:x]\n",
	 6, 18, "PROVIDES_API edge from Service to Team"},
	/* wrong kinds of values */
	{"apiVersion: backstage.io/v1alpha1\nkind: Component\nmetadata: {name: a}\nspec:\n"
	 "  type: service\n  owner:\n    name: x\n",
	 7, 5, "expected a string for 'spec.owner', found a mapping"},
	{"apiVersion: backstage.io/v1alpha1\nkind: System\nmetadata:\n  name: a\n  tags: go\n", 5,
	 9, "expected a sequence for 'metadata.tags'"},
	{"apiVersion: backstage.io/v1alpha1\nkind: System\nmetadata:\n  name: a\n"
	 "  labels: {a: [1]}\n",
	 5, 15, "expected a string for 'metadata.labels', found a sequence"},
	{"apiVersion: backstage.io/v1alpha1\nkind: Group\nmetadata: {name: a}\nspec:\n"
	 "  type: team\n  members: bob\n",
	 6, 12, "expected a sequence for 'spec.members'"},
	{"- a\n- b\n", 1, 1, "expected a mapping (a catalog entity), found a sequence"},
	{"apiVersion: backstage.io/v1alpha1\nkind: System\nmetadata:\n  name: a\n"
	 "  labels: {a: x, a: y}\n",
	 5, 11, "metadata.labels has a repeated key"},
	{"apiVersion: backstage.io/v1alpha1\nkind: System\nmetadata:\n  name: a\n"
	 "  annotations: {'': x}\n",
	 5, 17, "empty key in 'metadata.annotations'"},
	/* other rules */
	{"apiVersion: backstage.io/v1alpha1\nkind: Component\nmetadata: {name: a}\nspec: {owner: x}\n",
	 4, 7, "missing spec.type"},
	{"apiVersion: backstage.io/v1alpha1\nkind: System\nmetadata: {name: 'a b'}\n", 3, 18,
	 "invalid metadata.name 'a b'"},
	{"apiVersion: backstage.io/v1alpha1\nkind: System\nmetadata: {name: a}\n---\n"
	 "apiVersion: backstage.io/v1alpha1\nkind: System\nmetadata: {name: A}\n",
	 7, 18, "duplicate System 'a' (first declared at line 1)"},
	{"apiVersion: backstage.io/v1alpha1\nkind: User\nmetadata: {name: b}\n---\n"
	 "apiVersion: backstage.io/v1alpha1\nkind: System\nmetadata: {name: b}\n---\n"
	 "apiVersion: backstage.io/v1alpha1\nkind: User\nmetadata: {name: B}\n---\n"
	 "apiVersion: backstage.io/v1alpha1\nkind: User\nmetadata: {name: b}\n",
	 11, 18, "duplicate User 'b' (first declared at line 1)"},
	{"apiVersion: backstage.io/v1alpha1\nkind: System\nmetadata: {name: a, name: b}\n", 3, 21,
	 "duplicate key 'metadata.name'"},
};

static void test_malformed(void **state)
{
	(void)state;
	for (size_t i = 0; i < ST_ARRAY_LEN(BAD); i++) {
		const bad_case *c = &BAD[i];
		rs_sink rs;
		st_diag d = {{0}};
		st_strv t = {0};
		st_catalog_stats st = {.entities = 99};
		int r = parse_text(&rs, c->yaml, &st, &t, &d);
		char where[64];
		snprintf(where, sizeof(where), "acme:catalog-info.yaml:%u:%u: ", c->line, c->col);
		if (r != ST_E_INVALID || strncmp(d.msg, where, strlen(where)) ||
		    !strstr(d.msg, c->phrase))
			print_error("case %zu: got %d \"%s\"; want \"%s...%s\"\n", i, r, d.msg,
				    where, c->phrase);
		assert_int_equal(r, ST_E_INVALID);
		assert_memory_equal(d.msg, where, strlen(where));
		assert_non_null(strstr(d.msg, c->phrase));
		/* nothing emitted but one warning at that line, with the column */
		assert_int_equal(rs.n_nodes + rs.n_edges + rs.n_hints, 0);
		assert_int_equal(rs.n_warnings, 1);
		assert_int_equal(rs.facts[0].line, c->line);
		assert_string_equal(rs.facts[0].origin, "acme:catalog-info.yaml");
		char col[32];
		snprintf(col, sizeof(col), "(column %u)", c->col);
		assert_non_null(strstr(rs.facts[0].dst, col));
		assert_non_null(strstr(rs.facts[0].dst, c->phrase));
		/* out-params untouched */
		assert_int_equal(st.entities, 99);
		assert_int_equal(t.n, 0);
		rs_free(&rs);
	}
}

static void test_bounds(void **state)
{
	(void)state;
	/* nesting deeper than the bound */
	size_t depth = ST_CATALOG_MAX_DEPTH + 5;
	char *y = malloc(2 * depth + 64);
	size_t n = 0;
	n += (size_t)snprintf(y, 2 * depth + 64, "apiVersion: backstage.io/v1alpha1\nx: ");
	for (size_t i = 0; i < depth; i++)
		y[n++] = '[';
	for (size_t i = 0; i < depth; i++)
		y[n++] = ']';
	y[n++] = '\n';
	y[n] = 0;
	rs_sink rs;
	st_diag d = {{0}};
	assert_int_equal(parse_text(&rs, y, NULL, NULL, &d), ST_E_INVALID);
	assert_non_null(strstr(d.msg, "nesting deeper than"));
	assert_memory_equal(d.msg, "acme:catalog-info.yaml:2:", 25);
	assert_int_equal(rs.n_warnings, 1);
	rs_free(&rs);
	free(y);

	/* too many documents */
	y = malloc(4 * (ST_CATALOG_MAX_DOCS + 1) + 1);
	for (size_t i = 0; i <= ST_CATALOG_MAX_DOCS; i++)
		memcpy(y + 4 * i, "---\n", 4);
	y[4 * (ST_CATALOG_MAX_DOCS + 1)] = 0;
	assert_int_equal(parse_text(&rs, y, NULL, NULL, &d), ST_E_INVALID);
	assert_non_null(strstr(d.msg, "more than 10000 YAML documents"));
	assert_int_equal(rs.n_warnings, 1);
	rs_free(&rs);
	free(y);

	/* bad arguments are not problems of the file: no warning */
	rs_init(&rs, schema());
	assert_int_equal(st_backstage_parse(&rs.sink, NULL, "", 0, NULL, NULL, &d), -EINVAL);
	assert_int_equal(rs.n, 0);
	rs_free(&rs);

	/* empty files and empty documents are fine and emit nothing */
	st_catalog_stats st;
	parse_ok(&rs, "", &st);
	assert_int_equal(st.entities + st.skipped, 0);
	rs_free(&rs);
	parse_ok(&rs, "---\n---\n# only a comment\n", &st);
	assert_int_equal(rs.n, 0);
	rs_free(&rs);
}

/* A sink whose node() fails on the second call: the error is the sink's,
 * returned as is, and no warning is issued. */
static int failing_node(st_sink *s, const char *id, size_t idlen, int type, const uint8_t *props,
			size_t props_len, st_loc loc, st_diag *diag)
{
	rs_sink *r = s->ctx;
	if (r->n_nodes == 1)
		return st_diag_set(diag, ST_E_FULL, "full");
	return rs_node(s, id, idlen, type, props, props_len, loc, diag);
}

static void test_sink_error(void **state)
{
	(void)state;
	rs_sink rs;
	rs_init(&rs, schema());
	rs.sink.node = failing_node;
	st_diag d = {{0}};
	int r = st_backstage_parse(&rs.sink, &CTX, ALL_KINDS, strlen(ALL_KINDS), NULL, NULL, &d);
	assert_int_equal(r, ST_E_FULL);
	assert_int_equal(rs.n_warnings, 0);
	assert_int_equal(rs.n_nodes, 1);
	rs_free(&rs);
}

/* ---- Backstage: real upstream samples ------------------------------------ */

static char *parse_fixture(rs_sink *rs, const char *path, const char *rel, st_catalog_stats *st,
			   st_strv *targets)
{
	size_t len = 0;
	char *buf = slurp(path, &len);
	assert_non_null(buf);
	st_parse_ctx ctx = {.source = "fx", .path = rel, .repo_id = REPO};
	st_diag d = {{0}};
	rs_init(rs, schema());
	int r = st_backstage_parse(&rs->sink, &ctx, buf, len, st, targets, &d);
	if (r)
		print_error("%s: %s\n", path, d.msg);
	assert_int_equal(r, 0);
	return buf;
}

static void test_fixtures_backstage(void **state)
{
	(void)state;
	if (!have_fixtures(BS)) {
		skip();
		return;
	}
	static const struct {
		const char *rel;
		size_t entities, locations;
	} files[] = {
		{"backstage-catalog-model-examples/acme/org.yaml", 1, 1},
		{"backstage-catalog-model-examples/acme/team-a-group.yaml", 6, 0},
		{"backstage-catalog-model-examples/components/artist-lookup-component.yaml", 1, 0},
		{"backstage-catalog-model-examples/components/playback-order-component.yaml", 1, 0},
		{"backstage-catalog-model-examples/components/wayback-search-component.yaml", 1, 0},
		{"backstage-catalog-model-examples/domains/artists-domain.yaml", 1, 0},
		{"backstage-catalog-model-examples/resources/artists-db-resource.yaml", 1, 0},
		{"backstage-catalog-model-examples/systems/artist-engagement-portal-system.yaml", 1,
		 0},
		{"backstage-demo/catalog-info.yaml", 2, 0},
		{"driftctl/catalog-info.yaml", 1, 0},
	};
	size_t total = 0;
	for (size_t i = 0; i < ST_ARRAY_LEN(files); i++) {
		char path[512];
		snprintf(path, sizeof(path), BS "%s", files[i].rel);
		rs_sink rs;
		st_catalog_stats st;
		st_strv t = {0};
		char *buf = parse_fixture(&rs, path, files[i].rel, &st, &t);
		assert_int_equal(st.entities, files[i].entities);
		assert_int_equal(st.locations, files[i].locations);
		assert_int_equal(rs.n_warnings, 0);
		total += st.entities;
		if (i == 0) { /* org.yaml */
			node_of_type(&rs, "team:acme-corp", "Team");
			assert_prop(rs_find_node(&rs, "team:acme-corp"), "group_type",
				    "organization");
			edge(&rs, "team:infrastructure", "PART_OF", "team:acme-corp");
			assert_int_equal(t.n, 7);
			assert_string_equal(t.v[0], "./infrastructure-group.yaml");
			assert_string_equal(t.v[6], "./team-d-group.yaml");
		}
		if (i == 1) { /* Group team-a and five Users, one in namespace development */
			assert_int_equal(count_nodes(&rs, "User"), 5);
			edge(&rs, "team:team-a", "PART_OF", "team:backstage");
			edge(&rs, "user:breanna.davison", "MEMBER_OF", "team:team-a");
			edge(&rs, "user:development/guest", "MEMBER_OF", "team:team-a");
			assert_int_equal(count_edges(&rs, "MEMBER_OF"), 5);
			assert_prop(rs_find_node(&rs, "user:janelle.dawe"), "title",
				    "Janelle Dawe");
			assert_prop(rs_find_node(&rs, "team:team-a"), "email",
				    "team-a@example.com");
		}
		if (i == 2) { /* artist-lookup */
			const rs_fact *f = node_of_type(&rs, "service:artist-lookup", "Service");
			assert_prop(f, "tags", "java,data");
			edge(&rs, "service:artist-lookup", "DEPENDS_ON", "resource:artists-db");
			edge(&rs, "service:artist-lookup", "PART_OF",
			     "system:artist-engagement-portal");
			edge(&rs, "team:team-a", "OWNS", "service:artist-lookup");
		}
		if (i == 3)
			edge(&rs, "user:guest", "OWNS", "service:playback-order");
		if (i == 4) {
			edge(&rs, "service:wayback-search", "PROVIDES_API", "api:wayback-search");
			edge(&rs, "service:wayback-search", "CONSUMES_API", "api:wayback-archive");
		}
		if (i == 8) { /* backstage/demo: a website component, owner with a namespace */
			const rs_fact *f =
				node_of_type(&rs, "component:backstage-demo", "Component");
			assert_prop(f, "component_type", "website");
			edge(&rs, "team:backstage/maintainers", "OWNS", "component:backstage-demo");
			edge(&rs, "component:backstage-demo", "CONSUMES_API", "api:demo-graphql");
			assert_prop(node_of_type(&rs, "api:demo-graphql", "API"), "api_type",
				    "graphql");
		}
		if (i == 9) { /* driftctl: annotations kept for reconciliation */
			const rs_fact *f = node_of_type(&rs, "component:driftctl", "Component");
			assert_prop(f, "component_type", "external-tooling");
			assert_prop(
				f, "annotations",
				"github.com/project-slug=snyk/driftctl,github.com/team-slug=snyk/iac");
			edge(&rs, "team:iac", "OWNS", "component:driftctl");
			const rs_fact *e = edge(&rs, "component:driftctl", "DEFINED_IN", REPO);
			assert_prop(e, "path", "driftctl/catalog-info.yaml");
		}
		st_strv_free(&t);
		rs_free(&rs);
		free(buf);
	}
	assert_int_equal(total, 16);
}

/* ---- manifests ------------------------------------------------------------ */

#define CL "k8s:declared"

static st_manifests *new_set(void)
{
	st_manifests *m = NULL;
	st_diag d = {{0}};
	assert_int_equal(st_manifests_new("declared", &m, &d), 0);
	return m;
}

static void add_ok(st_manifests *m, const char *path, const char *y, st_manifests_stats *st)
{
	st_parse_ctx ctx = {.source = "infra", .path = path, .repo_id = REPO};
	st_diag d = {{0}};
	int r = st_manifests_add(m, &ctx, y, strlen(y), NULL, st, &d);
	if (r)
		print_error("%s: %s\n", path, d.msg);
	assert_int_equal(r, 0);
}

static void emit_ok(st_manifests *m, rs_sink *rs, st_manifests_stats *st)
{
	rs_init(rs, schema());
	st_diag d = {{0}};
	int r = st_manifests_emit(m, &rs->sink, st, &d);
	if (r)
		print_error("emit: %s\n", d.msg);
	assert_int_equal(r, 0);
}

static const char KINDS[] =
	"apiVersion: v1\n" /* 1 */
	"kind: Namespace\n"
	"metadata: {name: shop, labels: {env: prod}}\n"
	"---\n"
	"apiVersion: apps/v1\n" /* 5 */
	"kind: Deployment\n"
	"metadata:\n"
	"  name: payments\n"
	"  namespace: shop\n"
	"  uid: 1234\n" /* 10 */
	"  labels: {app.kubernetes.io/name: payments}\n"
	"spec:\n"
	"  replicas: 3\n"
	"  template:\n"
	"    metadata: {labels: {app: payments, tier: api}}\n" /* 15 */
	"    spec:\n"
	"      containers:\n"
	"      - {name: main, image: ghcr.io/acme/payments:7.3}\n"
	"      - {name: sidecar, image: envoy:1}\n"
	"---\n" /* 20 */
	"apiVersion: apps/v1\n"
	"kind: StatefulSet\n"
	"metadata: {name: db, namespace: shop}\n"
	"spec: {replicas: 1, template: {spec: {containers: [{image: postgres:16}]}}}\n"
	"---\n" /* 25 */
	"apiVersion: apps/v1\n"
	"kind: DaemonSet\n"
	"metadata: {name: agent, namespace: kube-system}\n"
	"spec: {template: {spec: {containers: [{image: agent:2}]}}}\n"
	"---\n" /* 30 */
	"apiVersion: batch/v1\n"
	"kind: Job\n"
	"metadata: {name: migrate, namespace: shop}\n"
	"spec: {template: {spec: {containers: [{image: migrate:1}]}}}\n"
	"---\n" /* 35 */
	"apiVersion: batch/v1\n"
	"kind: CronJob\n"
	"metadata: {name: report}\n"
	"spec:\n"
	"  schedule: '0 * * * *'\n" /* 40 */
	"  jobTemplate:\n"
	"    spec:\n"
	"      template:\n"
	"        metadata: {labels: {app: report}}\n"
	"        spec: {containers: [{image: report:3}]}\n" /* 45 */
	"---\n"
	"apiVersion: v1\n"
	"kind: Service\n"
	"metadata: {name: payments, namespace: shop}\n"
	"spec: {type: ClusterIP, selector: {app: payments}}\n" /* 50 */
	"---\n"
	"apiVersion: networking.k8s.io/v1\n"
	"kind: Ingress\n"
	"metadata: {name: web, namespace: shop}\n"
	"spec:\n" /* 55 */
	"  defaultBackend: {service: {name: fallback, port: {number: 80}}}\n"
	"  tls: [{hosts: [shop.example, api.example]}]\n"
	"  rules:\n"
	"  - host: shop.example\n"
	"    http:\n" /* 60 */
	"      paths:\n"
	"      - {path: /, backend: {service: {name: payments, port: {number: 80}}}}\n"
	"      - {path: /x, backend: {resource: {kind: Bucket, name: b}}}\n"
	"---\n"
	"apiVersion: v1\n" /* 65 */
	"kind: ConfigMap\n"
	"metadata: {name: cfg}\n"
	"---\n"
	"apiVersion: serving.knative.dev/v1\n"
	"kind: Service\n" /* 70 */
	"metadata: {name: kn}\n"
	"---\n"
	"replicaCount: 3\n";

static void test_manifest_kinds(void **state)
{
	(void)state;
	st_manifests *m = new_set();
	st_manifests_stats fst;
	add_ok(m, "k8s/all.yaml", KINDS, &fst);
	assert_int_equal(fst.objects, 8);
	assert_int_equal(fst.skipped, 2); /* ConfigMap, Knative Service */
	assert_int_equal(fst.ignored, 1); /* Helm-values-like document */
	rs_sink rs;
	st_manifests_stats st;
	emit_ok(m, &rs, &st);
	assert_int_equal(st.objects, 8);
	assert_int_equal(st.files, 1);

	/* the cluster is referenced (SCOPED_IN below), not declared */
	assert_null(rs_find_node(&rs, CL));
	/* namespaces: declared shop (labels), used kube-system and default */
	assert_int_equal(st.namespaces, 3);
	const rs_fact *f = node_of_type(&rs, CL "/shop", "KubernetesNamespace");
	assert_prop(f, "cluster", "declared");
	assert_prop(f, "labels", "env=prod");
	assert_int_equal(f->line, 1);
	edge(&rs, CL "/shop", "SCOPED_IN", CL);
	edge(&rs, CL "/shop", "DECLARED_IN", REPO);
	node_of_type(&rs, CL "/kube-system", "KubernetesNamespace");
	node_of_type(&rs, CL "/default", "KubernetesNamespace");
	assert_null(rs_find_edge(&rs, CL "/default", "DECLARED_IN", REPO));

	f = node_of_type(&rs, CL "/shop/Deployment/payments", "KubernetesDeployment");
	assert_int_equal(f->line, 4);
	assert_string_equal(f->origin, "infra:k8s/all.yaml");
	assert_prop(f, "replicas", "3");
	assert_prop(f, "image", "ghcr.io/acme/payments:7.3");
	assert_prop(f, "namespace", "shop");
	assert_prop(f, "cluster", "declared");
	assert_prop(f, "uid", "1234");
	assert_prop(f, "labels", "app.kubernetes.io/name=payments");
	edge(&rs, CL "/shop/Deployment/payments", "SCOPED_IN", CL "/shop");
	assert_prop(edge(&rs, CL "/shop/Deployment/payments", "DECLARED_IN", REPO), "path",
		    "k8s/all.yaml");
	assert_prop(node_of_type(&rs, CL "/shop/StatefulSet/db", "KubernetesStatefulSet"), "image",
		    "postgres:16");
	node_of_type(&rs, CL "/kube-system/DaemonSet/agent", "KubernetesDaemonSet");
	node_of_type(&rs, CL "/shop/Job/migrate", "KubernetesJob");
	f = node_of_type(&rs, CL "/default/CronJob/report", "KubernetesCronJob");
	assert_prop(f, "image", "report:3");
	edge(&rs, CL "/default/CronJob/report", "SCOPED_IN", CL "/default");
	f = node_of_type(&rs, CL "/shop/Service/payments", "KubernetesService");
	assert_prop(f, "service_type", "ClusterIP");
	assert_prop(f, "selector", "app=payments");
	f = node_of_type(&rs, CL "/shop/Ingress/web", "KubernetesIngress");
	assert_prop(f, "hosts", "shop.example,api.example");
	assert_null(rs_find_node(&rs, CL "/default/ConfigMap/cfg"));
	assert_null(rs_find_node(&rs, CL "/default/Service/kn"));

	/* SELECTS within the namespace only; ROUTES_TO every backend Service */
	const rs_fact *e =
		edge(&rs, CL "/shop/Service/payments", "SELECTS", CL "/shop/Deployment/payments");
	assert_prop(e, "rule", "selector");
	assert_prop(e, "evidence", "app=payments");
	assert_int_equal(count_edges(&rs, "SELECTS"), 1);
	edge(&rs, CL "/shop/Ingress/web", "ROUTES_TO", CL "/shop/Service/payments");
	edge(&rs, CL "/shop/Ingress/web", "ROUTES_TO", CL "/shop/Service/fallback");
	assert_int_equal(count_edges(&rs, "ROUTES_TO"), 2);
	/* 8 objects + 3 namespaces scoped; 8 objects declared */
	assert_int_equal(count_edges(&rs, "SCOPED_IN"), 10);
	assert_int_equal(count_edges(&rs, "DECLARED_IN"), 8);
	assert_int_equal(st.edges, rs.n_edges);
	rs_free(&rs);

	/* emitting again gives the same facts */
	emit_ok(m, &rs, &st);
	assert_int_equal(count_edges(&rs, "SELECTS"), 1);
	rs_free(&rs);
	st_manifests_free(m);
	st_manifests_free(NULL);
}

static void test_manifest_list(void **state)
{
	(void)state;
	const char *y =
		"apiVersion: v1\n"
		"kind: List\n"
		"items:\n"
		"- apiVersion: apps/v1\n"
		"  kind: Deployment\n"
		"  metadata: {name: a, namespace: n1}\n"
		"- apiVersion: v1\n"
		"  kind: Service\n"
		"  metadata: {name: a, namespace: n1}\n"
		"  spec: {selector: {app: a}}\n"
		"- apiVersion: v1\n"
		"  kind: Secret\n"
		"  metadata: {name: s}\n"
		"---\n"
		"apiVersion: apps/v1\n"
		"kind: DeploymentList\n"
		"items:\n"
		"- {apiVersion: apps/v1, kind: Deployment, metadata: {name: b, namespace: n1}}\n";
	st_manifests *m = new_set();
	st_manifests_stats fst;
	add_ok(m, "list.yaml", y, &fst);
	assert_int_equal(fst.objects, 3);
	assert_int_equal(fst.skipped, 1);
	rs_sink rs;
	emit_ok(m, &rs, NULL);
	assert_int_equal(node_of_type(&rs, CL "/n1/Deployment/a", "KubernetesDeployment")->line, 4);
	assert_int_equal(node_of_type(&rs, CL "/n1/Service/a", "KubernetesService")->line, 7);
	assert_int_equal(node_of_type(&rs, CL "/n1/Deployment/b", "KubernetesDeployment")->line,
			 18);
	/* a Deployment without pod template labels is selected by nothing */
	assert_int_equal(count_edges(&rs, "SELECTS"), 0);
	rs_free(&rs);
	st_manifests_free(m);
}

static void test_manifest_selects_across_files(void **state)
{
	(void)state;
	st_manifests *m = new_set();
	add_ok(m, "svc.yaml",
	       "apiVersion: v1\nkind: Service\nmetadata: {name: api, namespace: shop}\n"
	       "spec: {selector: {app: api, tier: web}}\n"
	       "---\n"
	       "apiVersion: v1\nkind: Service\nmetadata: {name: api, namespace: other}\n"
	       "spec: {selector: {app: api}}\n"
	       "---\n"
	       "apiVersion: v1\nkind: Service\nmetadata: {name: none, namespace: shop}\n"
	       "spec: {type: ExternalName}\n",
	       NULL);
	add_ok(m, "deploy.yaml",
	       "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: api, namespace: shop}\n"
	       "spec: {template: {metadata: {labels: {app: api, tier: web, version: v2}}}}\n"
	       "---\n"
	       "apiVersion: apps/v1\nkind: StatefulSet\nmetadata: {name: api-cache, namespace: shop}\n"
	       "spec: {template: {metadata: {labels: {app: api}}}}\n"
	       "---\n"
	       "apiVersion: batch/v1\nkind: Job\nmetadata: {name: api-job, namespace: shop}\n"
	       "spec: {template: {metadata: {labels: {app: api, tier: web}}}}\n",
	       NULL);
	/* a Deployment added through the object model, in namespace other */
	st_kv pod[] = {{"app", "api"}};
	st_k8s_obj o = {.kind = ST_K8S_DEPLOYMENT,
			.name = "api",
			.ns = "other",
			.pod_labels = pod,
			.n_pod_labels = 1,
			.line = 7};
	st_parse_ctx ctx = {.source = "kube", .path = "dump.json"};
	st_diag d = {{0}};
	assert_int_equal(st_manifests_add_object(m, &ctx, &o, &d), 0);
	o.name = "bad/name";
	assert_int_equal(st_manifests_add_object(m, &ctx, &o, &d), ST_E_INVALID);

	rs_sink rs;
	st_manifests_stats st;
	emit_ok(m, &rs, &st);
	assert_int_equal(st.files, 3);
	const rs_fact *e = edge(&rs, CL "/shop/Service/api", "SELECTS", CL "/shop/Deployment/api");
	assert_string_equal(e->origin, "infra:svc.yaml");
	assert_prop(e, "evidence", "app=api,tier=web");
	/* the Service in namespace other selects the object-model Deployment */
	edge(&rs, CL "/other/Service/api", "SELECTS", CL "/other/Deployment/api");
	/* not: a partial match, a Job (schema), another namespace, no selector */
	assert_null(rs_find_edge(&rs, CL "/shop/Service/api", "SELECTS",
				 CL "/shop/StatefulSet/api-cache"));
	assert_null(rs_find_edge(&rs, CL "/shop/Service/api", "SELECTS", CL "/shop/Job/api-job"));
	assert_int_equal(count_edges(&rs, "SELECTS"), 2);
	/* the object-model Deployment has no repository: no DECLARED_IN */
	assert_null(rs_find_edge(&rs, CL "/other/Deployment/api", "DECLARED_IN", REPO));
	assert_string_equal(rs_find_node(&rs, CL "/other/Deployment/api")->origin,
			    "kube:dump.json");
	rs_free(&rs);
	st_manifests_free(m);
}

static void test_manifest_routes(void **state)
{
	(void)state;
	st_manifests *m = new_set();
	add_ok(m, "ing.yaml",
	       "apiVersion: extensions/v1beta1\nkind: Ingress\nmetadata: {name: old}\n"
	       "spec:\n"
	       "  backend: {serviceName: default-svc, servicePort: 80}\n"
	       "  rules:\n"
	       "  - host: a.example\n"
	       "    http: {paths: [{backend: {serviceName: a, servicePort: 80}}, "
	       "{backend: {serviceName: a, servicePort: 81}}]}\n"
	       "  - host: b.example\n"
	       "    http: {paths: [{backend: {serviceName: b, servicePort: 80}}]}\n",
	       NULL);
	rs_sink rs;
	emit_ok(m, &rs, NULL);
	const char *ing = CL "/default/Ingress/old";
	edge(&rs, ing, "ROUTES_TO", CL "/default/Service/default-svc");
	edge(&rs, ing, "ROUTES_TO", CL "/default/Service/a");
	edge(&rs, ing, "ROUTES_TO", CL "/default/Service/b");
	assert_int_equal(count_edges(&rs, "ROUTES_TO"), 3); /* a once */
	assert_prop(rs_find_node(&rs, ing), "hosts", "a.example,b.example");
	rs_free(&rs);
	st_manifests_free(m);
}

static void test_manifest_hints(void **state)
{
	(void)state;
	st_manifests *m = new_set();
	add_ok(m, "h.yaml",
	       "apiVersion: apps/v1\n"
	       "kind: Deployment\n"
	       "metadata:\n"
	       "  name: pay\n"
	       "  labels: {app.kubernetes.io/name: payments, app.kubernetes.io/part-of: shop, "
	       "team: payments-team}\n"
	       "  annotations: {backstage.io/kubernetes-id: payments-svc}\n"
	       "spec:\n"
	       "  template:\n"
	       "    metadata:\n"
	       "      labels: {app: pay, app.kubernetes.io/name: payments, owner: alice}\n"
	       "---\n"
	       "apiVersion: v1\nkind: Service\nmetadata: {name: pay, labels: {app: pay}}\n",
	       NULL);
	rs_sink rs;
	st_manifests_stats st;
	emit_ok(m, &rs, &st);
	const char *id = CL "/default/Deployment/pay";
	const rs_fact *h = rs_find_hint(&rs, id, ST_HINT_SERVICE, "payments");
	assert_non_null(h);
	assert_string_equal(h->rule, "k8s-label-name");
	assert_string_equal(h->evidence, "label app.kubernetes.io/name=payments");
	assert_int_equal(h->line, 1);
	h = rs_find_hint(&rs, id, ST_HINT_SERVICE, "pay");
	assert_non_null(h);
	assert_string_equal(h->rule, "k8s-label-app");
	assert_string_equal(h->evidence, "pod template label app=pay");
	h = rs_find_hint(&rs, id, ST_HINT_SERVICE, "payments-svc");
	assert_non_null(h);
	assert_string_equal(h->rule, "backstage-kubernetes-id");
	assert_string_equal(h->evidence, "annotation backstage.io/kubernetes-id=payments-svc");
	h = rs_find_hint(&rs, id, ST_HINT_SYSTEM, "shop");
	assert_non_null(h);
	assert_string_equal(h->rule, "k8s-label-part-of");
	h = rs_find_hint(&rs, id, ST_HINT_TEAM, "payments-team");
	assert_non_null(h);
	assert_string_equal(h->rule, "k8s-label-team");
	h = rs_find_hint(&rs, id, ST_HINT_TEAM, "alice");
	assert_non_null(h);
	assert_string_equal(h->rule, "k8s-label-owner");
	/* name=payments is on the object and the pod template: one hint; the
	 * Service gets none */
	assert_int_equal(rs.n_hints, 6);
	assert_int_equal(st.hints, 6);
	rs_free(&rs);
	st_manifests_free(m);
}

static void test_manifest_malformed(void **state)
{
	(void)state;
	static const bad_case bad[] = {
		{"apiVersion: v1\nkind: Service\nmetadata: {name: a}\n---\nkind: [\n", 6, 1,
		 "YAML syntax error"},
		{"apiVersion: apps/v1\nkind: Deployment\nmetadata: {namespace: x}\n", 3, 11,
		 "missing metadata.name"},
		{"apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: a\n  labels: [x]\n", 5,
		 11, "expected a mapping for 'metadata.labels'"},
		{"apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: a}\nspec: {replicas: many}\n",
		 4, 18, "expected an integer for 'spec.replicas'"},
		{"apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: a}\n"
		 "spec: {template: {spec: {containers: [{image: {x: 1}}]}}}\n",
		 4, 47, "expected a string for 'spec.template.spec.containers[].image'"},
		{"apiVersion: v1\nkind: Service\nmetadata: {name: a}\n---\n"
		 "apiVersion: v1\nkind: Service\nmetadata: {name: a}\n",
		 4, 1, "duplicate Service 'a' (first at line 1)"},
		{"apiVersion: v1\nkind: Service\nmetadata: {name: '{{ .Release.Name }}'}\n", 3, 18,
		 "invalid metadata.name"},
		{"apiVersion: v1\nkind: List\nitems: [3]\n", 3, 9,
		 "expected a mapping for 'items[]'"},
		{"apiVersion: v1\nkind: Service\nmetadata: {name: a}\nspec: {selector: {'': x}}\n",
		 4, 19, "empty key in 'spec.selector'"},
	};
	for (size_t i = 0; i < ST_ARRAY_LEN(bad); i++) {
		st_manifests *m = new_set();
		add_ok(m, "good.yaml", "apiVersion: v1\nkind: Service\nmetadata: {name: good}\n",
		       NULL);
		rs_sink warn;
		rs_init(&warn, schema());
		st_parse_ctx ctx = {.source = "infra", .path = "bad.yaml", .repo_id = REPO};
		st_diag d = {{0}};
		st_manifests_stats st = {.objects = 99};
		int r = st_manifests_add(m, &ctx, bad[i].yaml, strlen(bad[i].yaml), &warn.sink, &st,
					 &d);
		char where[64];
		snprintf(where, sizeof(where), "infra:bad.yaml:%u:%u: ", bad[i].line, bad[i].col);
		if (r != ST_E_INVALID || strncmp(d.msg, where, strlen(where)) ||
		    !strstr(d.msg, bad[i].phrase))
			print_error("case %zu: got %d \"%s\"; want \"%s...%s\"\n", i, r, d.msg,
				    where, bad[i].phrase);
		assert_int_equal(r, ST_E_INVALID);
		assert_memory_equal(d.msg, where, strlen(where));
		assert_non_null(strstr(d.msg, bad[i].phrase));
		assert_int_equal(st.objects, 99);
		assert_int_equal(warn.n, 1);
		assert_int_equal(warn.n_warnings, 1);
		assert_int_equal(warn.facts[0].line, bad[i].line);
		rs_free(&warn);
		/* without a sink: the same error, no warning anywhere */
		assert_int_equal(st_manifests_add(m, &ctx, bad[i].yaml, strlen(bad[i].yaml), NULL,
						  NULL, &d),
				 ST_E_INVALID);
		/* the set holds only the good file */
		rs_sink rs;
		st_manifests_stats es;
		emit_ok(m, &rs, &es);
		assert_int_equal(es.objects, 1);
		assert_int_equal(es.files, 1);
		assert_int_equal(count_nodes(&rs, "KubernetesService"), 1);
		assert_int_equal(count_nodes(&rs, "KubernetesDeployment"), 0);
		rs_free(&rs);
		st_manifests_free(m);
	}
	/* a bad cluster name */
	st_manifests *m = NULL;
	st_diag d = {{0}};
	assert_int_equal(st_manifests_new("a/b", &m, &d), -EINVAL);
	assert_null(m);
}

static void test_manifest_empty_set(void **state)
{
	(void)state;
	st_manifests *m = new_set();
	rs_sink rs;
	st_manifests_stats st;
	emit_ok(m, &rs, &st);
	assert_int_equal(rs.n, 0);
	assert_int_equal(st.objects, 0);
	rs_free(&rs);
	st_manifests_free(m);
}

/* ---- both: damaged inputs ------------------------------------------------ */

/* Atomicity over many damaged inputs: every prefix of a valid file and
 * every single-byte replacement either parses or is rejected with exactly
 * one warning and no facts; never a crash (run under ASan/UBSan too). */
static size_t damaged_backstage(const char *good)
{
	static const char repl[] = {':', '[', '{', '-', '\n', '\0', '\'', '*', '&', ' '};
	size_t len = strlen(good), rejected = 0;
	char *buf = malloc(len + 1);
	for (size_t i = 0; i < len; i++) {
		for (size_t k = 0; k <= ST_ARRAY_LEN(repl); k++) {
			memcpy(buf, good, len + 1);
			size_t n = len;
			if (k == ST_ARRAY_LEN(repl))
				n = i; /* the prefix */
			else
				buf[i] = repl[k];
			rs_sink rs;
			rs_init(&rs, schema());
			st_diag d = {{0}};
			st_strv t = {0};
			int r = st_backstage_parse(&rs.sink, &CTX, buf, n, NULL, &t, &d);
			if (r != 0 && r != ST_E_INVALID)
				print_error("offset %zu repl %zu: %d %s\n", i, k, r, d.msg);
			assert_true(r == 0 || r == ST_E_INVALID);
			if (r) {
				assert_int_equal(rs.n, 1);
				assert_int_equal(rs.n_warnings, 1);
				assert_int_equal(t.n, 0);
				rejected++;
			} else {
				assert_int_equal(rs.n_warnings, 0);
			}
			st_strv_free(&t);
			rs_free(&rs);
		}
	}
	free(buf);
	return rejected;
}

static void test_damaged_inputs(void **state)
{
	(void)state;
	assert_true(damaged_backstage(ALL_KINDS) > 1000);
	assert_true(damaged_backstage(REFS) > 1000);
	/* the same for the manifest reader, through a set */
	static const char repl[] = {':', '[', '{', '-', '\n', '\0', ' '};
	size_t len = strlen(KINDS), rejected = 0;
	char *buf = malloc(len + 1);
	for (size_t i = 0; i < len; i++) {
		for (size_t k = 0; k <= ST_ARRAY_LEN(repl); k++) {
			memcpy(buf, KINDS, len + 1);
			size_t n = k == ST_ARRAY_LEN(repl) ? i : len;
			if (k < ST_ARRAY_LEN(repl))
				buf[i] = repl[k];
			st_manifests *m = new_set();
			rs_sink w;
			rs_init(&w, schema());
			st_parse_ctx ctx = {.source = "s", .path = "p"};
			st_diag d = {{0}};
			int r = st_manifests_add(m, &ctx, buf, n, &w.sink, NULL, &d);
			assert_true(r == 0 || r == ST_E_INVALID);
			assert_int_equal(w.n, r ? 1 : 0);
			rejected += r != 0;
			rs_sink rs;
			st_manifests_stats st;
			emit_ok(m, &rs, &st);
			if (r)
				assert_int_equal(rs.n, 0);
			rs_free(&rs);
			rs_free(&w);
			st_manifests_free(m);
		}
	}
	free(buf);
	assert_true(rejected > 500);
}

/* ---- manifests: real upstream samples (Online Boutique) ------------------- */

static const char *const BOUTIQUE[] = {
	"adservice",
	"cartservice",
	"checkoutservice",
	"currencyservice",
	"emailservice",
	"frontend",
	"loadgenerator",
	"paymentservice",
	"productcatalogservice",
	"recommendationservice",
	"shippingservice",
};

static void add_fixture(st_manifests *m, const char *path, const char *rel, st_manifests_stats *st)
{
	size_t len = 0;
	char *buf = slurp(path, &len);
	assert_non_null(buf);
	st_parse_ctx ctx = {.source = "boutique", .path = rel, .repo_id = REPO};
	st_diag d = {{0}};
	int r = st_manifests_add(m, &ctx, buf, len, NULL, st, &d);
	if (r)
		print_error("%s: %s\n", path, d.msg);
	assert_int_equal(r, 0);
	free(buf);
}

static void test_fixtures_release(void **state)
{
	(void)state;
	if (!have_fixtures(K8S "release/kubernetes-manifests.yaml")) {
		skip();
		return;
	}
	st_manifests *m = new_set();
	st_manifests_stats fst;
	add_fixture(m, K8S "release/kubernetes-manifests.yaml", "release/kubernetes-manifests.yaml",
		    &fst);
	assert_int_equal(fst.objects, 24); /* 12 Deployments, 12 Services */
	assert_int_equal(fst.skipped, 11); /* ServiceAccounts */
	add_fixture(m, K8S "release/istio-manifests.yaml", "release/istio-manifests.yaml", &fst);
	assert_int_equal(fst.objects, 0);
	assert_int_equal(fst.skipped, 5); /* Istio and Gateway API kinds */
	rs_sink rs;
	st_manifests_stats st;
	emit_ok(m, &rs, &st);
	assert_int_equal(count_nodes(&rs, "KubernetesDeployment"), 12);
	assert_int_equal(count_nodes(&rs, "KubernetesService"), 12);
	assert_int_equal(count_nodes(&rs, "KubernetesNamespace"), 1);
	/* every Service selects exactly its Deployment; frontend twice */
	assert_int_equal(count_edges(&rs, "SELECTS"), 12);
	edge(&rs, CL "/default/Service/frontend-external", "SELECTS",
	     CL "/default/Deployment/frontend");
	edge(&rs, CL "/default/Service/redis-cart", "SELECTS", CL "/default/Deployment/redis-cart");
	assert_prop(rs_find_node(&rs, CL "/default/Service/frontend-external"), "service_type",
		    "LoadBalancer");
	const rs_fact *f = rs_find_node(&rs, CL "/default/Deployment/redis-cart");
	assert_prop(f, "image", "redis:alpine");
	for (size_t i = 0; i < ST_ARRAY_LEN(BOUTIQUE); i++) {
		char id[128];
		snprintf(id, sizeof(id), CL "/default/Deployment/%s", BOUTIQUE[i]);
		const rs_fact *h = rs_find_hint(&rs, id, ST_HINT_SERVICE, BOUTIQUE[i]);
		if (!h)
			print_error("no app hint on %s\n", id);
		assert_non_null(h);
		assert_string_equal(h->rule, "k8s-label-app");
	}
	rs_free(&rs);
	st_manifests_free(m);
}

static void test_fixtures_per_service(void **state)
{
	(void)state;
	if (!have_fixtures(K8S "kubernetes-manifests")) {
		skip();
		return;
	}
	st_manifests *m = new_set();
	size_t objects = 0, skipped = 0;
	for (size_t i = 0; i < ST_ARRAY_LEN(BOUTIQUE); i++) {
		char path[512], rel[128];
		snprintf(rel, sizeof(rel), "kubernetes-manifests/%s.yaml", BOUTIQUE[i]);
		snprintf(path, sizeof(path), K8S "%s", rel);
		st_manifests_stats fst;
		add_fixture(m, path, rel, &fst);
		objects += fst.objects;
		skipped += fst.skipped;
	}
	/* kustomization.yaml and the network policies: nothing we model */
	static const char *const other[] = {
		"kubernetes-manifests/kustomization.yaml",
		"network-policies/network-policy-frontend.yaml",
		"network-policies/network-policy-deny-all.yaml",
		"helm-chart/values.yaml",
		"helm-chart/Chart.yaml",
	};
	size_t ignored = 0;
	for (size_t i = 0; i < ST_ARRAY_LEN(other); i++) {
		char path[512];
		snprintf(path, sizeof(path), K8S "%s", other[i]);
		st_manifests_stats fst;
		add_fixture(m, path, other[i], &fst);
		assert_int_equal(fst.objects, 0);
		skipped += fst.skipped;
		ignored += fst.ignored;
	}
	assert_int_equal(objects, 24);
	assert_int_equal(skipped, 11 + 3);
	assert_int_equal(ignored, 2);
	rs_sink rs;
	st_manifests_stats st;
	emit_ok(m, &rs, &st);
	assert_int_equal(st.files, 11 + 5);
	assert_int_equal(count_edges(&rs, "SELECTS"), 12);
	const rs_fact *e = edge(&rs, CL "/default/Deployment/cartservice", "DECLARED_IN", REPO);
	assert_prop(e, "path", "kubernetes-manifests/cartservice.yaml");
	e = edge(&rs, CL "/default/Deployment/redis-cart", "DECLARED_IN", REPO);
	assert_prop(e, "path", "kubernetes-manifests/cartservice.yaml");
	rs_free(&rs);
	st_manifests_free(m);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_all_kinds),
		cmocka_unit_test(test_refs),
		cmocka_unit_test(test_no_repo_no_defined_in),
		cmocka_unit_test(test_location_targets),
		cmocka_unit_test(test_malformed),
		cmocka_unit_test(test_bounds),
		cmocka_unit_test(test_sink_error),
		cmocka_unit_test(test_damaged_inputs),
		cmocka_unit_test(test_fixtures_backstage),
		cmocka_unit_test(test_manifest_kinds),
		cmocka_unit_test(test_manifest_list),
		cmocka_unit_test(test_manifest_selects_across_files),
		cmocka_unit_test(test_manifest_routes),
		cmocka_unit_test(test_manifest_hints),
		cmocka_unit_test(test_manifest_malformed),
		cmocka_unit_test(test_manifest_empty_set),
		cmocka_unit_test(test_fixtures_release),
		cmocka_unit_test(test_fixtures_per_service),
	};
	int r = cmocka_run_group_tests(tests, NULL, NULL);
	st_schema_free(schema());
	return r;
}
