/*
 * test_terraform.c — the Terraform state connector (connectors/terraform.c)
 * against hand-written states (tests/data/terraform/), a loopback HTTP
 * backend (tests/data/terraform/http_server.py) and, when present, the real
 * public states in /work/shared/fixtures/tfstate/.
 *
 * Secret handling is checked by planting marker strings in sensitive and
 * secret-named attributes and tags and asserting that none of them appears
 * in any recorded fact, warning, state string or error message.
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

#include "record_sink.h"
#include "spawn.h"

#define DATA ST_SOURCE_ROOT "/tests/data/terraform/"
#define FIXTURES "/work/shared/fixtures/tfstate/"

static st_schema *schema;

typedef struct tf_run {
	rs_sink rs;
	st_diag d;
	int rc;
} tf_run;

/* Run the connector on `location` as source "prod" (or `name`). */
static void run_src(tf_run *t, st_source *src)
{
	memset(t, 0, sizeof(*t));
	rs_init(&t->rs, schema);
	t->rc = st_connector_terraform.run(src, &t->rs.sink, &t->d);
}

static void run_file(tf_run *t, const char *path, const char *workspace)
{
	st_kv opt = {"workspace", workspace};
	st_source src = {.name = "prod",
			 .kind = "terraform",
			 .location = path,
			 .options = workspace ? &opt : NULL,
			 .n_options = workspace ? 1 : 0};
	run_src(t, &src);
}

static void assert_no_prop(const rs_fact *f, const char *key)
{
	st_prop p;
	assert_non_null(f);
	assert_int_equal(st_props_get(f->props, f->props_len, key, strlen(key), &p), 0);
}

static bool has(const void *hay, size_t n, const char *needle)
{
	return hay && memmem(hay, n, needle, strlen(needle)) != NULL;
}

static bool has_s(const char *s, const char *needle)
{
	return s && strstr(s, needle);
}

/* No recorded fact, state or the diag mentions `secret`. */
static void assert_nowhere(const tf_run *t, const char *secret)
{
	for (size_t i = 0; i < t->rs.n; i++) {
		const rs_fact *f = &t->rs.facts[i];
		if (has_s(f->id, secret) || has_s(f->dst, secret) || has_s(f->origin, secret) ||
		    has_s(f->rule, secret) || has_s(f->evidence, secret) ||
		    has(f->props, f->props_len, secret))
			fail_msg("secret '%s' leaked into fact %zu (%c %s)", secret, i, f->kind,
				 f->id ? f->id : "");
	}
	assert_false(has_s(t->rs.state, secret));
	assert_false(has_s(t->d.msg, secret));
}

static void tf_free(tf_run *t)
{
	rs_free(&t->rs);
}

/* ---- basic.tfstate: addresses, properties, locations ---- */

static void test_addresses(void **state)
{
	(void)state;
	tf_run t;
	run_file(&t, DATA "basic.tfstate", "ws1");
	if (t.rc)
		fail_msg("rc %d: %s", t.rc, t.d.msg);
	/* 1 vpc + 3 subnets + rt + 2 buckets + db + 3 web + vm + rg + old (deposed one skipped) */
	assert_int_equal(t.rs.n_nodes, 14);
	const rs_fact *f = rs_find_node(&t.rs, "tf:ws1/module.net.aws_subnet.a[2]");
	rs_assert_prop(f, "address", "module.net.aws_subnet.a[2]");
	rs_assert_prop(f, "module", "module.net");
	rs_assert_prop(f, "resource_type", "aws_subnet");
	rs_assert_prop(f, "provider", "aws");
	rs_assert_prop(f, "cloud_id", "subnet-2");
	rs_assert_prop(f, "region", "eu-west-1"); /* from the ARN */
	rs_assert_prop(f, "name", "a");	       /* no name attribute: the resource name */
	assert_string_equal(f->origin, "prod:basic.tfstate");
	assert_int_equal(f->line, 93);

	f = rs_find_node(&t.rs, "tf:ws1/aws_s3_bucket.b[\"logs\"]");
	rs_assert_prop(f, "arn", "arn:aws:s3:::acme-logs");
	rs_assert_prop(f, "region", "us-east-1"); /* the attribute; the ARN has none */
	assert_no_prop(f, "module");
	assert_int_equal(f->line, 153);
	assert_non_null(rs_find_node(&t.rs, "tf:ws1/aws_s3_bucket.b[\"assets\"]"));

	f = rs_find_node(&t.rs, "tf:ws1/aws_db_instance.payments");
	rs_assert_prop(f, "name", "payments");
	rs_assert_prop(f, "cloud_id", "payments-db");
	rs_assert_prop(f, "labels",
		    "System=checkout,app.kubernetes.io/name=payments-api,"
		    "owner=team-payments,service=payments");
	assert_int_equal(f->line, 179);

	f = rs_find_node(&t.rs, "tf:ws1/module.app[\"blue\"].aws_instance.web[1]");
	rs_assert_prop(f, "module", "module.app[\"blue\"]");
	rs_assert_prop(f, "region", "eu-west-1"); /* from availability_zone */
	assert_non_null(rs_find_node(&t.rs, "tf:ws1/module.app[\"green\"].aws_instance.web[0]"));
	assert_null(rs_find_node(&t.rs, "tf:ws1/module.app[\"green\"].aws_instance.web[1]"));

	f = rs_find_node(&t.rs, "tf:ws1/google_compute_instance.vm");
	rs_assert_prop(f, "provider", "google");
	rs_assert_prop(f, "region", "europe-west1"); /* from zone */
	rs_assert_prop(f, "name", "vm-1");
	rs_assert_prop(f, "labels", "app=shop,team=web"); /* the network tags list is ignored */

	f = rs_find_node(&t.rs, "tf:ws1/azurerm_resource_group.rg");
	rs_assert_prop(f, "provider", "azurerm");
	rs_assert_prop(f, "region", "westeurope");

	f = rs_find_node(&t.rs, "tf:ws1/module.net.aws_vpc.main");
	/* tags win over tags_all; tags_all adds env */
	rs_assert_prop(f, "labels", "Name=main,env=prod,team=Platform");
	f = rs_find_node(&t.rs, "tf:ws1/module.net.aws_route_table.rt");
	rs_assert_prop(f, "provider", "aws"); /* legacy provider.aws */

	/* deposed object: no second node, and no data source nodes */
	assert_non_null(rs_find_node(&t.rs, "tf:ws1/aws_instance.old"));
	for (size_t i = 0; i < t.rs.n; i++)
		if (t.rs.facts[i].kind == 'n')
			assert_null(strstr(t.rs.facts[i].id, "aws_caller_identity"));
	assert_string_equal(t.rs.state, "tf1:3f1c9a2e-0d4b-4c6e-9a7f-2b8d5e6f7a81:42");
	/* the sensitive output is never read */
	assert_nowhere(&t, "OUTPUT-SECRET-000");
	tf_free(&t);
}

static void test_default_workspace_and_prev_state(void **state)
{
	(void)state;
	tf_run t;
	st_source src = {.name = "billing",
			 .kind = "terraform",
			 .location = DATA "basic.tfstate",
			 .prev_state = "tf1:3f1c9a2e-0d4b-4c6e-9a7f-2b8d5e6f7a81:42"};
	run_src(&t, &src);
	/* the same state as last time: still a complete read with every fact */
	assert_int_equal(t.rc, 0);
	assert_int_equal(t.rs.n_nodes, 14);
	assert_non_null(rs_find_node(&t.rs, "tf:billing/aws_db_instance.payments"));
	tf_free(&t);
}

/* ---- dependencies ---- */

static void test_dependencies(void **state)
{
	(void)state;
	tf_run t;
	run_file(&t, DATA "basic.tfstate", "prod");
	assert_int_equal(t.rc, 0);
	const char *net = "tf:prod/module.net.";
	char a[128], b[128];
	/* index-less reference to a counted resource: edges to all its instances */
	for (int i = 0; i < 3; i++) {
		snprintf(b, sizeof(b), "%saws_subnet.a[%d]", net, i);
		assert_non_null(
			rs_find_edge(&t.rs, "tf:prod/aws_db_instance.payments", "DEPENDS_ON", b));
		snprintf(a, sizeof(a), "%saws_vpc.main", net);
		assert_non_null(rs_find_edge(&t.rs, b, "DEPENDS_ON", a));
	}
	/* an indexed reference: that instance only */
	assert_non_null(rs_find_edge(&t.rs, "tf:prod/module.app[\"blue\"].aws_instance.web[0]",
				     "DEPENDS_ON", "tf:prod/module.net.aws_subnet.a[1]"));
	assert_null(rs_find_edge(&t.rs, "tf:prod/module.app[\"blue\"].aws_instance.web[0]",
				 "DEPENDS_ON", "tf:prod/module.net.aws_subnet.a[0]"));
	/* legacy depends_on, relative to the module */
	assert_non_null(rs_find_edge(&t.rs, "tf:prod/module.net.aws_route_table.rt", "DEPENDS_ON",
				     "tf:prod/module.net.aws_vpc.main"));
	/* 3 subnet->vpc, 3 db->subnet, 3 web->subnet[1], rt->vpc */
	assert_int_equal(t.rs.n_edges, 10);
	/* the dangling dependency warns once, at the instance; the data source does not */
	assert_int_equal(t.rs.n_warnings, 1);
	const rs_fact *w = NULL;
	for (size_t i = 0; i < t.rs.n; i++)
		if (t.rs.facts[i].kind == 'w')
			w = &t.rs.facts[i];
	assert_non_null(strstr(w->dst, "aws_security_group.gone"));
	assert_non_null(strstr(w->dst, "aws_db_instance.payments"));
	assert_int_equal(w->line, 179);
	/* edges carry the depending instance's location */
	const rs_fact *e = rs_find_edge(&t.rs, "tf:prod/aws_db_instance.payments", "DEPENDS_ON",
					"tf:prod/module.net.aws_subnet.a[0]");
	assert_int_equal(e->line, 179);
	tf_free(&t);
}

/* ---- tags -> hints ---- */

static void test_hints(void **state)
{
	(void)state;
	tf_run t;
	run_file(&t, DATA "basic.tfstate", "prod");
	assert_int_equal(t.rc, 0);
	const char *db = "tf:prod/aws_db_instance.payments";
	const rs_fact *h = rs_find_hint(&t.rs, db, ST_HINT_SERVICE, "payments");
	assert_non_null(h);
	assert_string_equal(h->rule, "terraform-tag");
	assert_string_equal(h->evidence, "tag service=payments");
	assert_int_equal(h->line, 179);
	assert_non_null(rs_find_hint(&t.rs, db, ST_HINT_SERVICE, "payments-api"));
	assert_non_null(rs_find_hint(&t.rs, db, ST_HINT_TEAM, "team-payments"));
	h = rs_find_hint(&t.rs, db, ST_HINT_SYSTEM, "checkout");
	assert_non_null(h);
	assert_string_equal(h->evidence, "tag System=checkout"); /* key case-insensitive */
	assert_non_null(rs_find_hint(&t.rs, "tf:prod/aws_s3_bucket.b[\"logs\"]", ST_HINT_SERVICE,
				     "payments"));
	h = rs_find_hint(&t.rs, "tf:prod/google_compute_instance.vm", ST_HINT_SERVICE, "shop");
	assert_non_null(h);
	assert_string_equal(h->evidence, "label app=shop");
	assert_non_null(
		rs_find_hint(&t.rs, "tf:prod/google_compute_instance.vm", ST_HINT_TEAM, "web"));
	assert_non_null(
		rs_find_hint(&t.rs, "tf:prod/azurerm_resource_group.rg", ST_HINT_TEAM, "ops"));
	assert_non_null(
		rs_find_hint(&t.rs, "tf:prod/module.net.aws_vpc.main", ST_HINT_TEAM, "Platform"));
	/* Name/env are not identity tags */
	assert_int_equal(t.rs.n_hints, 10);
	tf_free(&t);
}

/* ---- key order: a key-sorted state (version last, instances first) ---- */

static void test_sorted_keys(void **state)
{
	(void)state;
	tf_run a, b;
	run_file(&a, DATA "basic.tfstate", "prod");
	run_file(&b, DATA "sorted.tfstate", "prod");
	assert_int_equal(a.rc, 0);
	if (b.rc)
		fail_msg("%s", b.d.msg);
	assert_int_equal(a.rs.n_nodes, b.rs.n_nodes);
	assert_int_equal(a.rs.n_edges, b.rs.n_edges);
	assert_int_equal(a.rs.n_hints, b.rs.n_hints);
	assert_int_equal(a.rs.n_warnings, b.rs.n_warnings);
	assert_string_equal(a.rs.state, b.rs.state);
	for (size_t i = 0; i < a.rs.n; i++) {
		const rs_fact *f = &a.rs.facts[i];
		if (f->kind == 'n') {
			const rs_fact *g = rs_find_node(&b.rs, f->id);
			assert_non_null(g);
			assert_int_equal(f->props_len, g->props_len);
			assert_memory_equal(f->props, g->props, f->props_len);
		} else if (f->kind == 'e')
			assert_non_null(rs_find_edge(&b.rs, f->id, "DEPENDS_ON", f->dst));
	}
	tf_free(&a);
	tf_free(&b);
}

/* ---- secrets ---- */

static const char *const secrets[] = {
	"S3cr3t-DB-Pass!",   "MASTERPW-abc",	   "CONNSTR-PW-42",	"TAGPASS-123",
	"APIKEY-999",	     "SENS-TAG-VALUE-777", "SENS-ID-VALUE-555", "ACCESSKEY-888",
	"TOKEN-TAG-666",     "WHOLE-MAP-SECRET-1", "ODD-PATH-SECRET-2", "RANDOM-RESULT-SECRET-3",
	"BCRYPT-SECRET-4",   "AZKEY-SECRET-5",	   "AZCONN-SECRET-6",	"TAG-CLIENT-SECRET-7",
	"OUTPUT-SECRET-000",
};

static void check_sensitive(const char *file)
{
	tf_run t;
	run_file(&t, file, "prod");
	if (t.rc)
		fail_msg("%s", t.d.msg);
	assert_int_equal(t.rs.n_nodes, 5);
	for (size_t i = 0; i < ST_ARRAY_LEN(secrets); i++)
		assert_nowhere(&t, secrets[i]);
	/* what is not secret is still there */
	const rs_fact *f = rs_find_node(&t.rs, "tf:prod/aws_db_instance.payments");
	rs_assert_prop(f, "arn", "arn:aws:rds:eu-west-1:123456789012:db:payments");
	assert_no_prop(f, "cloud_id"); /* id is a sensitive path */
	rs_assert_prop(f, "labels", "service=payments,team=payments-team");
	assert_non_null(rs_find_hint(&t.rs, "tf:prod/aws_db_instance.payments", ST_HINT_SERVICE,
				     "payments"));
	/* a whole sensitive tag map: no labels, no hints */
	f = rs_find_node(&t.rs, "tf:prod/aws_instance.whole");
	assert_no_prop(f, "labels");
	rs_assert_prop(f, "cloud_id", "i-whole");
	/* a path the connector does not understand: no attribute value kept */
	f = rs_find_node(&t.rs, "tf:prod/aws_instance.odd");
	assert_no_prop(f, "cloud_id");
	assert_no_prop(f, "arn");
	assert_no_prop(f, "labels");
	rs_assert_prop(f, "name", "odd");
	f = rs_find_node(&t.rs, "tf:prod/azurerm_storage_account.sa");
	rs_assert_prop(f, "labels", "owner=storage-team"); /* client_secret tag dropped */
	assert_int_equal(t.rs.n_hints, 3);		/* db service+team, storage owner */
	tf_free(&t);
}

static void test_sensitive_after_attributes(void **state)
{
	(void)state;
	check_sensitive(DATA "sensitive_after.tfstate");
}

static void test_sensitive_before_attributes(void **state)
{
	(void)state;
	check_sensitive(DATA "sensitive_before.tfstate");
}

/* ---- errors ---- */

static void test_version3(void **state)
{
	(void)state;
	tf_run t;
	run_file(&t, DATA "v3.tfstate", "prod");
	assert_int_equal(t.rc, ST_E_INVALID);
	assert_non_null(strstr(t.d.msg, "prod:v3.tfstate:2:"));
	assert_non_null(strstr(t.d.msg, "state version 3 is not supported; terraform 0.12+ writes "
					"version 4"));
	assert_int_equal(t.rs.n_nodes, 0);
	assert_null(t.rs.state);
	tf_free(&t);
}

static void test_truncated(void **state)
{
	(void)state;
	tf_run t;
	run_file(&t, DATA "truncated.tfstate", "prod");
	assert_int_equal(t.rc, ST_E_INVALID);
	/* the file ends inside a string on line 176, after 21 characters */
	assert_non_null(strstr(t.d.msg, "prod:truncated.tfstate:176:22: "));
	assert_non_null(strstr(t.d.msg, "premature EOF"));
	assert_null(t.rs.state);
	tf_free(&t);
}

/* Write `text` to a temporary file; returns its path (static buffer per slot). */
static const char *tmp_state(int slot, const char *text, size_t n)
{
	static char paths[4][64];
	sp_tmpfile(paths[slot], sizeof(paths[slot]), "st-tf-test", text, n);
	return paths[slot];
}

static void test_malformed(void **state)
{
	(void)state;
	static const char bad[] =
		"{\n  \"version\": 4,\n  \"serial\": 1,\n  \"lineage\": \"l\",\n"
		"  \"resources\": [\n    {\"mode\": \"managed\", \"type\": nope}\n  ]\n}\n";
	tf_run t;
	const char *path = tmp_state(0, bad, sizeof(bad) - 1);
	run_file(&t, path, "prod");
	assert_int_equal(t.rc, ST_E_INVALID);
	char want[128];
	snprintf(want, sizeof(want), "%s:6:", strrchr(path, '/') + 1);
	if (!strstr(t.d.msg, want))
		fail_msg("'%s' lacks '%s'", t.d.msg, want);
	unlink(path);
	tf_free(&t);

	/* a resource without "type": the resource's own position */
	static const char notype[] = "{\"version\": 4, \"serial\": 1, \"lineage\": \"l\",\n"
				     "\"resources\": [\n  {\"mode\": \"managed\", \"name\": \"x\", "
				     "\"provider\": \"provider.aws\", \"instances\": []}\n]}\n";
	path = tmp_state(1, notype, sizeof(notype) - 1);
	run_file(&t, path, "prod");
	assert_int_equal(t.rc, ST_E_INVALID);
	snprintf(want, sizeof(want), "%s:3:3: resource has no \"type\"", strrchr(path, '/') + 1);
	if (!strstr(t.d.msg, want))
		fail_msg("'%s' lacks '%s'", t.d.msg, want);
	unlink(path);
	tf_free(&t);

	/* no lineage */
	static const char nolineage[] = "{\"version\": 4, \"serial\": 1, \"resources\": []}";
	path = tmp_state(2, nolineage, sizeof(nolineage) - 1);
	run_file(&t, path, "prod");
	assert_int_equal(t.rc, ST_E_INVALID);
	assert_non_null(strstr(t.d.msg, "no \"lineage\""));
	unlink(path);
	tf_free(&t);

	/* a missing file */
	run_file(&t, DATA "does-not-exist.tfstate", "prod");
	assert_int_equal(t.rc, ST_E_IO);
	assert_non_null(strstr(t.d.msg, "does-not-exist.tfstate"));
	tf_free(&t);
}

/* Module-keyed and escaped-key dependencies, attributes_flat, an over-long
 * tag value. */
static void test_edge_cases(void **state)
{
	(void)state;
	char big[1200];
	memset(big, 'v', sizeof(big) - 1);
	big[sizeof(big) - 1] = 0;
	char text[4096];
	int n = snprintf(
		text, sizeof(text),
		"{\"version\": 4, \"serial\": 9, \"lineage\": \"e\", \"resources\": [\n"
		"{\"module\": \"module.app[\\\"blue\\\"]\", \"mode\": \"managed\", \"type\": \"aws_instance\","
		" \"name\": \"web\", \"provider\": \"provider.aws\", \"instances\": [\n"
		" {\"index_key\": 0, \"attributes\": {\"id\": \"b0\"}},\n"
		" {\"index_key\": 1, \"attributes\": {\"id\": \"b1\"}}]},\n"
		"{\"module\": \"module.app[\\\"green\\\"]\", \"mode\": \"managed\", \"type\": \"aws_instance\","
		" \"name\": \"web\", \"provider\": \"provider.aws\", \"instances\": [\n"
		" {\"index_key\": 0, \"attributes\": {\"id\": \"g0\"}}]},\n"
		"{\"mode\": \"managed\", \"type\": \"aws_sqs_queue\", \"name\": \"q\", \"provider\": \"provider.aws\","
		" \"instances\": [\n"
		" {\"index_key\": \"a\\\"b\", \"attributes_flat\": {\"id\": \"q1\", \"tags.%%\": \"2\","
		" \"tags.team\": \"queues\", \"tags.long\": \"%s\"}}]},\n"
		"{\"mode\": \"managed\", \"type\": \"aws_lb\", \"name\": \"lb\", \"provider\": \"provider.aws\","
		" \"instances\": [\n"
		" {\"attributes\": {\"id\": \"lb1\"}, \"dependencies\": [\"module.app[\\\"blue\\\"].aws_instance.web\","
		" \"aws_sqs_queue.q[\\\"a\\\\\\\"b\\\"]\"]}]}\n"
		"]}\n",
		big);
	assert_true(n > 0 && (size_t)n < sizeof(text));
	const char *path = tmp_state(0, text, (size_t)n);
	tf_run t;
	run_file(&t, path, "prod");
	if (t.rc)
		fail_msg("%s", t.d.msg);
	assert_int_equal(t.rs.n_nodes, 5);
	const char *lb = "tf:prod/aws_lb.lb";
	assert_non_null(rs_find_edge(&t.rs, lb, "DEPENDS_ON",
				     "tf:prod/module.app[\"blue\"].aws_instance.web[0]"));
	assert_non_null(rs_find_edge(&t.rs, lb, "DEPENDS_ON",
				     "tf:prod/module.app[\"blue\"].aws_instance.web[1]"));
	assert_null(rs_find_edge(&t.rs, lb, "DEPENDS_ON",
				 "tf:prod/module.app[\"green\"].aws_instance.web[0]"));
	assert_non_null(
		rs_find_edge(&t.rs, lb, "DEPENDS_ON", "tf:prod/aws_sqs_queue.q[\"a\\\"b\"]"));
	assert_int_equal(t.rs.n_edges, 3);
	const rs_fact *f = rs_find_node(&t.rs, "tf:prod/aws_sqs_queue.q[\"a\\\"b\"]");
	rs_assert_prop(f, "cloud_id", "q1");
	rs_assert_prop(f, "labels", "team=queues"); /* "tags.%" is a count; the long one is not kept */
	assert_non_null(rs_find_hint(&t.rs, f->id, ST_HINT_TEAM, "queues"));
	assert_int_equal(t.rs.n_warnings, 1);
	for (size_t i = 0; i < t.rs.n; i++)
		if (t.rs.facts[i].kind == 'w')
			assert_non_null(strstr(t.rs.facts[i].dst, "longer than 1024 bytes"));
	assert_nowhere(&t, "vvvvvvvvvvvvvvvv");
	unlink(path);
	tf_free(&t);
}

/* A state bigger than several read chunks: line numbers and redaction across
 * chunk boundaries. */
static void test_large_state(void **state)
{
	(void)state;
	size_t cap = 4u << 20, len = 0;
	char *s = malloc(cap);
	assert_non_null(s);
#define OUT(...) (len += (size_t)snprintf(s + len, cap - len, __VA_ARGS__))
	OUT("{\n\"version\": 4,\n\"serial\": 3,\n\"lineage\": \"big\",\n\"resources\": [\n");
	/* resource r takes lines 6+7r .. 12+7r; its instance is on line 9+7r */
	for (int r = 0; r < 40; r++) {
		OUT("{\"mode\": \"managed\", \"type\": \"aws_instance\", \"name\": \"n%d\",\n", r);
		OUT("\"provider\": \"provider[\\\"registry.terraform.io/hashicorp/aws\\\"]\",\n");
		OUT("\"instances\": [\n");
		OUT("{\"attributes\": {\"id\": \"i-%d\", \"user_data\": \"", r);
		for (int k = 0; k < 300; k++)
			OUT("line %d of padding with a \\\"quote\\\" and \\\\ escape\\n", k);
		OUT("\", \"tags\": {\"service\": \"svc%d\", \"password\": \"PW-IN-BIG-%d\"}},\n", r,
		    r);
		OUT("\"sensitive_attributes\": [[{\"type\": \"get_attr\", \"value\": \"user_data\"}]],\n");
		OUT("\"dependencies\": [\"aws_instance.n%d\"]}\n]}%s\n", r ? r - 1 : 39,
		    r < 39 ? "," : "");
	}
	OUT("]}\n");
#undef OUT
	assert_true(len > 2 * (256u << 10)); /* several read chunks */
	const char *path = tmp_state(3, s, len);
	free(s);
	tf_run t;
	run_file(&t, path, "big");
	if (t.rc)
		fail_msg("%s", t.d.msg);
	assert_int_equal(t.rs.n_nodes, 40);
	assert_int_equal(t.rs.n_edges, 40); /* a ring */
	const rs_fact *f = rs_find_node(&t.rs, "tf:big/aws_instance.n39");
	assert_int_equal(f->line, 9 + 7 * 39);
	rs_assert_prop(f, "labels", "service=svc39");
	f = rs_find_node(&t.rs, "tf:big/aws_instance.n0");
	assert_int_equal(f->line, 9);
	assert_nowhere(&t, "PW-IN-BIG-");
	assert_nowhere(&t, "padding");
	assert_string_equal(t.rs.state, "tf1:big:3");
	unlink(path);
	tf_free(&t);
}

/* ---- HTTP ---- */

static pid_t server_pid;
static int server_port;
#define TOKEN "tf-test-token-7f3a9c"

static int start_server(void **state)
{
	(void)state;
	const char *const argv[] = {"python3", DATA "http_server.py", DATA "basic.tfstate",
				    TOKEN, "ci", NULL};
	return sp_start_port(argv, &server_pid, &server_port);
}

static int stop_server(void **state)
{
	(void)state;
	sp_stop(&server_pid);
	unsetenv("ST_TF_TEST_TOKEN");
	return 0;
}

static void run_url(tf_run *t, const char *path, const char *token_env, const char *token_file,
		    const char *username, double timeout)
{
	char url[128];
	snprintf(url, sizeof(url), "http://127.0.0.1:%d%s", server_port, path);
	st_kv opts[2] = {{"workspace", "prod"}, {"username", username}};
	st_source src = {.name = "remote",
			 .kind = "terraform",
			 .location = url,
			 .token_env = token_env,
			 .token_file = token_file,
			 .options = opts,
			 .n_options = username ? 2 : 1,
			 .timeout_s = timeout};
	run_src(t, &src);
}

static void test_http_ok(void **state)
{
	(void)state;
	setenv("ST_TF_TEST_TOKEN", TOKEN, 1);
	tf_run t;
	run_url(&t, "/state", "ST_TF_TEST_TOKEN", NULL, NULL, 0);
	if (t.rc)
		fail_msg("%s", t.d.msg);
	assert_int_equal(t.rs.n_nodes, 14);
	assert_int_equal(t.rs.n_edges, 10);
	const rs_fact *f = rs_find_node(&t.rs, "tf:prod/aws_db_instance.payments");
	char origin[96];
	snprintf(origin, sizeof(origin), "remote:http://127.0.0.1:%d/state", server_port);
	assert_string_equal(f->origin, origin);
	assert_int_equal(f->line, 179);
	assert_string_equal(t.rs.state, "tf1:3f1c9a2e-0d4b-4c6e-9a7f-2b8d5e6f7a81:42");
	assert_nowhere(&t, TOKEN);
	tf_free(&t);

	/* a redirect on the same host keeps the bearer token */
	run_url(&t, "/moved", "ST_TF_TEST_TOKEN", NULL, NULL, 0);
	if (t.rc)
		fail_msg("%s", t.d.msg);
	assert_int_equal(t.rs.n_nodes, 14);
	tf_free(&t);
}

static void test_http_basic_auth(void **state)
{
	(void)state;
	char path[64];
	sp_tmpfile(path, sizeof(path), "st-tf-token", TOKEN "\n", sizeof(TOKEN));
	tf_run t;
	run_url(&t, "/basic", NULL, path, "ci", 0);
	if (t.rc)
		fail_msg("%s", t.d.msg);
	assert_int_equal(t.rs.n_nodes, 14);
	tf_free(&t);
	/* bearer where basic is required: refused, naming the file */
	run_url(&t, "/basic", NULL, path, NULL, 0);
	assert_int_equal(t.rc, ST_E_IO);
	assert_non_null(strstr(t.d.msg, "HTTP 401"));
	assert_non_null(strstr(t.d.msg, path));
	assert_null(strstr(t.d.msg, TOKEN));
	tf_free(&t);
	unlink(path);
}

static void test_http_401(void **state)
{
	(void)state;
	setenv("ST_TF_TEST_TOKEN", "wrong-value-0c4e1b", 1);
	tf_run t;
	run_url(&t, "/state", "ST_TF_TEST_TOKEN", NULL, NULL, 0);
	assert_int_equal(t.rc, ST_E_IO);
	char url[96];
	snprintf(url, sizeof(url), "http://127.0.0.1:%d/state", server_port);
	assert_non_null(strstr(t.d.msg, url));
	assert_non_null(strstr(t.d.msg, "HTTP 401"));
	assert_non_null(strstr(t.d.msg, "environment variable ST_TF_TEST_TOKEN"));
	assert_null(strstr(t.d.msg, "wrong-value-0c4e1b"));
	assert_int_equal(t.rs.n_nodes, 0);
	assert_null(t.rs.state);
	tf_free(&t);
	/* no credential at all */
	run_url(&t, "/state", NULL, NULL, NULL, 0);
	assert_int_equal(t.rc, ST_E_IO);
	assert_non_null(strstr(t.d.msg, "no credential"));
	tf_free(&t);
	/* an unset variable is named too */
	unsetenv("ST_TF_TEST_TOKEN");
	run_url(&t, "/state", "ST_TF_TEST_TOKEN", NULL, NULL, 0);
	assert_int_equal(t.rc, ST_E_INVALID);
	assert_non_null(strstr(t.d.msg, "ST_TF_TEST_TOKEN"));
	tf_free(&t);
}

static void test_http_errors(void **state)
{
	(void)state;
	tf_run t;
	run_url(&t, "/boom", NULL, NULL, NULL, 0);
	assert_int_equal(t.rc, ST_E_IO);
	assert_non_null(strstr(t.d.msg, "/boom: HTTP 500"));
	assert_null(strstr(t.d.msg, "internal error")); /* the body is not quoted */
	tf_free(&t);

	run_url(&t, "/slow", NULL, NULL, NULL, 1.0);
	assert_int_equal(t.rc, ST_E_IO);
	assert_non_null(strstr(t.d.msg, "/slow: timed out after 1 s"));
	tf_free(&t);

	/* connection refused: a port nobody listens on; userinfo and query stay out */
	int port = sp_free_port();
	assert_true(port > 0);
	char url[160], shown[96];
	snprintf(url, sizeof(url), "http://user:URLPASS-1@127.0.0.1:%d/st?access_token=QUERY-2",
		 port);
	snprintf(shown, sizeof(shown), "GET http://***@127.0.0.1:%d/st:", port);
	st_source src = {.name = "remote", .kind = "terraform", .location = url};
	run_src(&t, &src);
	assert_int_equal(t.rc, ST_E_IO);
	if (!strstr(t.d.msg, shown))
		fail_msg("'%s' lacks '%s'", t.d.msg, shown);
	assert_non_null(strstr(t.d.msg, "onnect"));
	assert_null(strstr(t.d.msg, "URLPASS-1"));
	assert_null(strstr(t.d.msg, "QUERY-2"));
	tf_free(&t);
}

/* ---- the real public states, when the shared fixtures are there ---- */

static void test_public_fixtures(void **state)
{
	(void)state;
	static const struct {
		const char *file;
		size_t nodes, edges;
	} want[] = {
		{"driftctl/aws_db_instance/terraform.tfstate", 1, 0},
		{"driftctl/aws_iam_user_policy_multiple/terraform.tfstate", 12, 0},
		{"driftctl/aws_lb_listener/terraform.tfstate", 6, 6},
		{"driftctl/aws_s3_full/terraform.tfstate", 26, 23},
		{"driftctl/aws_subnet/terraform.tfstate", 6, 0},
		{"driftctl/azurerm_network_security_group/terraform.tfstate", 3, 2},
		{"driftctl/google_cloudrun_service/terraform.tfstate", 1, 0},
		{"inframap/aws_state_cyclic.json", 19, 20},
		{"inframap/aws_state_sgr.json", 9, 9},
		{"inframap/google_state.json", 4, 0},
		{"inframap/multi_module_state.json", 3, 2},
		{"inframap/openstack_state_lb.json", 12, 11},
		{"inframap/repeated_modules.json", 16, 13},
		{"tfstate-lookup/terraform.tfstate", 11, 0},
	};
	if (access(FIXTURES, R_OK)) {
		printf("skipping: %s does not exist (shared fixtures not installed)\n", FIXTURES);
		skip();
	}
	for (size_t i = 0; i < ST_ARRAY_LEN(want); i++) {
		char path[256];
		snprintf(path, sizeof(path), FIXTURES "%s", want[i].file);
		tf_run t;
		run_file(&t, path, "prod");
		if (t.rc)
			fail_msg("%s: %s", want[i].file, t.d.msg);
		if (t.rs.n_nodes != want[i].nodes || t.rs.n_edges != want[i].edges)
			fail_msg("%s: %zu nodes, %zu edges; want %zu, %zu", want[i].file,
				 t.rs.n_nodes, t.rs.n_edges, want[i].nodes, want[i].edges);
		assert_non_null(t.rs.state);
		assert_int_equal(strncmp(t.rs.state, "tf1:", 4), 0);
		tf_free(&t);
	}
	/* spot checks: nested modules with count, and a 0.12 state */
	tf_run t;
	run_file(&t, FIXTURES "inframap/repeated_modules.json", "prod");
	const rs_fact *f =
		rs_find_node(&t.rs, "tf:prod/module.ec2_ubuntu_a[1].aws_instance.this[0]");
	assert_non_null(f);
	rs_assert_prop(f, "module", "module.ec2_ubuntu_a[1]");
	rs_assert_prop(f, "provider", "aws");
	tf_free(&t);
	run_file(&t, FIXTURES "tfstate-lookup/terraform.tfstate", "prod");
	assert_int_equal(t.rc, 0);
	for (size_t i = 0; i < t.rs.n; i++)
		if (t.rs.facts[i].kind == 'n')
			assert_null(strstr(t.rs.facts[i].id, "terraform_remote_state"));
	assert_int_equal(rs_count_kind(&t.rs, 'n'), 11);
	tf_free(&t);
}

static int group_setup(void **state)
{
	(void)state;
	st_diag d;
	return st_schema_load_default(&schema, &d);
}

static int group_teardown(void **state)
{
	(void)state;
	st_schema_free(schema);
	return 0;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_addresses),
		cmocka_unit_test(test_default_workspace_and_prev_state),
		cmocka_unit_test(test_dependencies),
		cmocka_unit_test(test_hints),
		cmocka_unit_test(test_sorted_keys),
		cmocka_unit_test(test_sensitive_after_attributes),
		cmocka_unit_test(test_sensitive_before_attributes),
		cmocka_unit_test(test_version3),
		cmocka_unit_test(test_truncated),
		cmocka_unit_test(test_malformed),
		cmocka_unit_test(test_edge_cases),
		cmocka_unit_test(test_large_state),
		cmocka_unit_test_setup_teardown(test_http_ok, start_server, stop_server),
		cmocka_unit_test_setup_teardown(test_http_basic_auth, start_server, stop_server),
		cmocka_unit_test_setup_teardown(test_http_401, start_server, stop_server),
		cmocka_unit_test_setup_teardown(test_http_errors, start_server, stop_server),
		cmocka_unit_test(test_public_fixtures),
	};
	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
