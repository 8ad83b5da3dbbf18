/*
 * test_sync.c — the sync engine (src/sync.c), reconciliation (src/reconcile.c)
 * and the server's scheduler (src/scheduler.c), driven by the real Terraform
 * connector over state files the tests write, into a real store.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <uv.h>

#include "config.h"
#include "jsonl.h"
#include "props.h"
#include "reconcile.h"
#include "scheduler.h"
#include "sync.h"

#include "fixture.h"

/* A state with one instance per (type.name, tags-json, deps-json). */
struct res {
	const char *type, *name, *tags, *deps;
};

static void write_state(const char *path, int serial, const struct res *r, size_t n)
{
	FILE *f = fopen(path, "w");
	assert_non_null(f);
	fprintf(f, "{\"version\":4,\"terraform_version\":\"1.6.0\",\"serial\":%d,"
		   "\"lineage\":\"l-1\",\"outputs\":{},\"resources\":[", serial);
	for (size_t i = 0; i < n; i++)
		fprintf(f, "%s\n{\"mode\":\"managed\",\"type\":\"%s\",\"name\":\"%s\","
			   "\"provider\":\"provider[\\\"registry.terraform.io/hashicorp/aws\\\"]\","
			   "\"instances\":[{\"schema_version\":0,\"attributes\":{\"id\":\"%s-id\","
			   "\"password\":\"hunter2-secret\",\"tags\":%s},"
			   "\"sensitive_attributes\":[[{\"type\":\"get_attr\",\"value\":\"password\"}]],"
			   "\"dependencies\":%s}]}",
			i ? "," : "", r[i].type, r[i].name, r[i].name, r[i].tags ? r[i].tags : "{}",
			r[i].deps ? r[i].deps : "[]");
	fprintf(f, "]}\n");
	fclose(f);
}

static void import_text(fx *f, const char *text)
{
	char path[128];
	snprintf(path, sizeof(path), "%s/in.jsonl", f->dir);
	FILE *fp = fopen(path, "w");
	assert_non_null(fp);
	fputs(text, fp);
	fclose(fp);
	const char *files[] = {path};
	st_diag d;
	int r = st_import_files(f->st, "catalog", files, 1, NULL, &d);
	if (r)
		fail_msg("import: %s", d.msg);
}

static st_source_cfg tf_source(const char *name, const char *path)
{
	static st_kv ws = {"workspace", "prod"};
	st_source_cfg s = {0};
	s.name = (char *)name;
	s.kind = (char *)"terraform";
	s.location = (char *)path;
	s.options = &ws;
	s.n_options = 1;
	return s;
}

static int sync_src(fx *f, st_config *cfg, st_source_cfg *src, st_sync_result *res)
{
	st_diag d = {{0}};
	return st_sync_source(f->st, f->dir, cfg, src, NULL, res, &d);
}

static bool exists(fx *f, const char *id)
{
	st_snap *s;
	st_diag d;
	assert_int_equal(st_snap_begin(f->st, &s, &d), 0);
	st_id x;
	bool ok = st_snap_lookup(s, id, strlen(id), &x) == 0;
	st_snap_end(s);
	return ok;
}

/* The edge's property `key` ("" if absent; "(no edge)" if no such edge). */
static void edge_prop(fx *f, const char *src, const char *type, const char *dst, const char *key,
		      char *out, size_t cap)
{
	st_snap *s;
	st_diag d;
	assert_int_equal(st_snap_begin(f->st, &s, &d), 0);
	st_id a, b;
	st_edge e;
	snprintf(out, cap, "(no edge)");
	if (!st_snap_lookup(s, src, strlen(src), &a) && !st_snap_lookup(s, dst, strlen(dst), &b) &&
	    !st_snap_edge(s, a, ET(f, type), b, &e)) {
		st_prop p;
		if (st_props_get(e.props, e.props_len, key, strlen(key), &p) == 1)
			snprintf(out, cap, "%.*s", (int)p.v.s.len, p.v.s.p);
		else
			out[0] = 0;
	}
	st_snap_end(s);
}

static int status_of(const char *source, size_t slen, const void *blob, size_t len, void *ctx)
{
	char **out = ctx;
	if (slen == strlen(out[0]) && !memcmp(source, out[0], slen))
		out[1] = strndup(blob, len);
	return 0;
}

static char *status(fx *f, const char *name)
{
	st_snap *s;
	st_diag d;
	assert_int_equal(st_snap_begin(f->st, &s, &d), 0);
	char *out[2] = {(char *)name, NULL};
	st_snap_statuses(s, status_of, out);
	st_snap_end(s);
	assert_non_null(out[1]);
	return out[1];
}

static const char CATALOG[] =
	"{\"id\":\"service:payments\",\"type\":\"Service\",\"props\":{\"name\":\"payments\"}}\n"
	"{\"id\":\"service:cart\",\"type\":\"Service\",\"props\":{\"name\":\"cart\"}}\n"
	"{\"id\":\"service:cart-api\",\"type\":\"Service\",\"props\":{\"name\":\"cart-api\"}}\n"
	"{\"id\":\"team:payments\",\"type\":\"Team\",\"props\":{\"name\":\"Payments\"}}\n";

static void test_sync_links_retires_and_keeps_last_good(void **state)
{
	fx *f = *state;
	import_text(f, CATALOG);
	char path[128];
	snprintf(path, sizeof(path), "%s/prod.tfstate", f->dir);
	struct res r1[] = {
		{"aws_db_instance", "payments", "{\"service\":\"payments-prod\",\"team\":\"payments\"}", NULL},
		{"aws_security_group", "db", "{\"team\":\"nobody\"}", NULL},
		{"aws_instance", "app", "{\"service\":\"cart-staging\"}", "[\"aws_db_instance.payments\"]"},
		{"aws_s3_bucket", "logs", "{\"owner\":\"Payments\"}", NULL},
	};
	write_state(path, 1, r1, 4);
	st_config *cfg = st_config_new();
	st_source_cfg src = tf_source("prod", path);
	st_sync_result res;
	assert_int_equal(sync_src(f, cfg, &src, &res), 0);
	assert_int_equal(res.nodes, 4);
	assert_int_equal(res.revision, 2);
	char buf[256];
	/* normalised match, with rule and evidence */
	edge_prop(f, "tf:prod/aws_db_instance.payments", "RUNS", "service:payments", "rule", buf,
		  sizeof(buf));
	assert_string_equal(buf, "terraform-tag");
	edge_prop(f, "tf:prod/aws_db_instance.payments", "RUNS", "service:payments", "evidence",
		  buf, sizeof(buf));
	assert_string_equal(buf, "tag service=payments-prod; normalised 'payments-prod' -> 'payments'");
	edge_prop(f, "tf:prod/aws_db_instance.payments", "BILLED_TO", "service:payments", "rule",
		  buf, sizeof(buf));
	assert_string_equal(buf, "terraform-tag");
	edge_prop(f, "team:payments", "OWNS", "tf:prod/aws_db_instance.payments", "rule", buf,
		  sizeof(buf));
	assert_string_equal(buf, "terraform-tag");
	/* a team tag without a service bills the team; case-insensitive name */
	edge_prop(f, "tf:prod/aws_s3_bucket.logs", "BILLED_TO", "team:payments", "rule", buf,
		  sizeof(buf));
	assert_string_equal(buf, "terraform-tag");
	/* cart-staging normalises to cart, which both cart and cart-api reach: ambiguous */
	edge_prop(f, "tf:prod/aws_instance.app", "RUNS", "service:cart", "rule", buf, sizeof(buf));
	assert_string_equal(buf, "(no edge)");
	edge_prop(f, "tf:prod/aws_instance.app", "RUNS", "service:cart-api", "rule", buf, sizeof(buf));
	assert_string_equal(buf, "(no edge)");
	assert_int_equal(res.ambiguous, 1);
	assert_int_equal(res.unmatched, 1); /* team nobody */
	char *st1 = status(f, "prod");
	assert_non_null(strstr(st1, "\"result\":\"committed\""));
	assert_non_null(strstr(st1, "ambiguous: service:cart or service:cart-api"));
	assert_non_null(strstr(st1, "team 'nobody'"));
	assert_non_null(strstr(st1, "\"state\":\"tf1:l-1:1\""));
	assert_non_null(strstr(st1, "\"revision\":2"));
	free(st1);
	edge_prop(f, "tf:prod/aws_instance.app", "DEPENDS_ON", "tf:prod/aws_db_instance.payments",
		  "rule", buf, sizeof(buf));
	assert_string_equal(buf, "");

	/* a truncated state fails and changes nothing */
	FILE *fp = fopen(path, "w");
	fputs("{\"version\":4,\"serial\":2,\"lineage\":\"l-1\",\"resources\":[{\"mode\":", fp);
	fclose(fp);
	assert_true(sync_src(f, cfg, &src, &res) < 0);
	assert_non_null(strstr(res.error, "prod.tfstate"));
	assert_int_equal(res.revision, 0);
	assert_true(exists(f, "tf:prod/aws_security_group.db"));
	char *st2 = status(f, "prod");
	assert_non_null(strstr(st2, "\"result\":\"failed\""));
	assert_non_null(strstr(st2, "\"last_success\":\"2")); /* carried over */
	assert_non_null(strstr(st2, "\"state\":\"tf1:l-1:1\""));
	free(st2);

	/* the next complete state drops the security group: retired, links too */
	struct res r2[] = {r1[0], r1[2], r1[3]};
	write_state(path, 3, r2, 3);
	assert_int_equal(sync_src(f, cfg, &src, &res), 0);
	assert_int_equal(res.retired.nodes, 1);
	assert_false(exists(f, "tf:prod/aws_security_group.db"));
	assert_true(exists(f, "tf:prod/aws_db_instance.payments"));
	assert_true(exists(f, "service:payments")); /* declared by the catalog */

	/* the secret never reached the store file */
	char cmd[256];
	snprintf(cmd, sizeof(cmd), "grep -c hunter2-secret '%s/data.mdb' >/dev/null", f->dir);
	assert_int_not_equal(system(cmd), 0);
	st_config_free(cfg);
	st_snap *s;
	st_diag d;
	assert_int_equal(st_snap_begin(f->st, &s, &d), 0);
	assert_int_equal(st_snap_verify(s, &d), 0);
	st_snap_end(s);
}

static void test_sync_references_and_config_rules(void **state)
{
	fx *f = *state;
	char path[128];
	snprintf(path, sizeof(path), "%s/s.tfstate", f->dir);
	struct res r[] = {
		{"aws_instance", "a", "{\"costcenter\":\"Billing_Team\"}", NULL},
		{"aws_instance", "b", "{\"service\":\"pay\"}", NULL},
	};
	write_state(path, 1, r, 2);
	import_text(f, "{\"id\":\"team:billing-team\",\"type\":\"Team\",\"props\":{}}\n"
		       "{\"id\":\"service:payments\",\"type\":\"Service\",\"props\":{}}\n");
	const char yaml[] = "identity:\n"
			    "  aliases:\n"
			    "    - {kind: service, alias: pay, name: payments}\n"
			    "  rules:\n"
			    "    - {name: cost-center, source_kind: terraform, key: tag:costcenter, kind: team}\n";
	st_config *cfg;
	st_diag d;
	int rc = st_config_load_buffer(yaml, sizeof(yaml) - 1, "t.yaml", f->dir, &cfg, &d);
	if (rc)
		fail_msg("config: %s", d.msg);
	st_source_cfg src = tf_source("s", path);
	st_sync_result res;
	assert_int_equal(sync_src(f, cfg, &src, &res), 0);
	char buf[256];
	edge_prop(f, "team:billing-team", "OWNS", "tf:prod/aws_instance.a", "rule", buf, sizeof(buf));
	assert_string_equal(buf, "cost-center");
	edge_prop(f, "team:billing-team", "OWNS", "tf:prod/aws_instance.a", "evidence", buf,
		  sizeof(buf));
	assert_string_equal(buf, "label costcenter=Billing_Team; normalised 'billing_team' -> 'billing-team'");
	edge_prop(f, "tf:prod/aws_instance.b", "RUNS", "service:payments", "evidence", buf,
		  sizeof(buf));
	assert_string_equal(buf, "tag service=pay; alias 'pay' -> 'payments'");
	/* the linked entities gained a reference entry of the terraform source */
	st_snap *s;
	assert_int_equal(st_snap_begin(f->st, &s, &d), 0);
	st_id x;
	st_node n;
	assert_int_equal(st_snap_lookup(s, "service:payments", 16, &x), 0);
	assert_int_equal(st_snap_node(s, x, &n), 0);
	assert_int_equal(n.n_prov, 2);
	st_prov p;
	assert_int_equal(st_snap_prov(s, n.prov_raw, 1, &p), 0);
	assert_memory_equal(p.source, "s", 1);
	assert_int_equal(p.flags, ST_PROV_REF);
	st_snap_end(s);
	st_config_free(cfg);
}

static void test_sync_lifts_runtime_calls(void **state)
{
	fx *f = *state;
	import_text(f, "{\"id\":\"service:frontend\",\"type\":\"Service\",\"props\":{}}\n"
		       "{\"id\":\"service:checkout\",\"type\":\"Service\",\"props\":{}}\n");
	st_source_cfg src = {0};
	src.name = (char *)"runtime";
	src.kind = (char *)"prometheus";
	src.location = (char *)ST_SOURCE_ROOT "/tests/data/prometheus/saved_otel.json";
	st_config *cfg = st_config_new();
	st_sync_result res;
	assert_int_equal(sync_src(f, cfg, &src, &res), 0);
	char buf[256];
	/* workload:frontend -> workload:checkout, both linked: lifted to the services */
	edge_prop(f, "service:frontend", "CALLS", "service:checkout", "rule", buf, sizeof(buf));
	assert_string_equal(buf, "runtime-lift");
	edge_prop(f, "service:frontend", "CALLS", "service:checkout", "evidence", buf, sizeof(buf));
	assert_string_equal(buf, "workload:frontend -> workload:checkout");
	edge_prop(f, "workload:frontend", "RUNS", "service:frontend", "rule", buf, sizeof(buf));
	assert_string_equal(buf, "otel-service-graph");
	/* a workload without a service (payments is not declared): no lifted edge */
	edge_prop(f, "service:checkout", "CALLS", "service:payments", "rule", buf, sizeof(buf));
	assert_string_equal(buf, "(no edge)");
	assert_true(res.links >= 3);
	st_config_free(cfg);
}

/* Two sources with open hints: each commit of one forces the other to read
 * again, but a forced read that resolves every hint as before commits
 * nothing, so they settle instead of committing each other forever. */
static void test_open_hints_settle(void **state)
{
	fx *f = *state;
	char px[128], py[128];
	snprintf(px, sizeof(px), "%s/x.tfstate", f->dir);
	snprintf(py, sizeof(py), "%s/y.tfstate", f->dir);
	struct res rx[] = {{"aws_instance", "x", "{\"service\":\"nowhere\"}", NULL}};
	struct res ry[] = {{"aws_instance", "y", "{\"team\":\"nobody\"}", NULL}};
	write_state(px, 1, rx, 1);
	write_state(py, 1, ry, 1);
	st_config *cfg = st_config_new();
	st_source_cfg sx = tf_source("x", px), sy = tf_source("y", py);
	st_sync_result res;
	assert_int_equal(sync_src(f, cfg, &sx, &res), 0);
	assert_int_equal(sync_src(f, cfg, &sy, &res), 0);
	assert_int_equal(res.revision, 2);
	for (int round = 0; round < 2; round++) {
		assert_int_equal(sync_src(f, cfg, &sx, &res), ST_SYNC_UNCHANGED);
		assert_int_equal(sync_src(f, cfg, &sy, &res), ST_SYNC_UNCHANGED);
	}
	/* the entity appears: x's forced read now links and commits */
	import_text(f, "{\"id\":\"service:nowhere\",\"type\":\"Service\",\"props\":{}}\n");
	assert_int_equal(sync_src(f, cfg, &sx, &res), 0);
	assert_int_equal(res.links, 2); /* RUNS and BILLED_TO */
	assert_int_equal(res.unmatched, 0);
	st_config_free(cfg);
}

static void test_reconcile_tiers(void **state)
{
	fx *f = *state;
	st_config *cfg = st_config_new();
	st_reconciler *r = st_reconciler_new(f->schema, cfg);
	st_pb pb;
	st_pb_init(&pb);
	st_diag d;
	assert_int_equal(st_pb_map_begin(&pb, "annotations", 11), 0);
	st_pb_map_add(&pb, "backstage.io/kubernetes-id", 26, "web-frontend", 12);
	assert_int_equal(st_pb_end(&pb, &d), 0);
	const uint8_t *blob;
	size_t len;
	assert_int_equal(st_pb_finish(&pb, &blob, &len, &d), 0);
	st_reconciler_add(r, "service:frontend", 16, NT(f, "Service"), blob, len);
	st_reconciler_add(r, "service:frontend", 16, NT(f, "Service"), NULL, 0); /* again: harmless */
	st_reconciler_add(r, "team:web", 8, NT(f, "Team"), NULL, 0);
	st_reconciler_add(r, "user:ann", 8, NT(f, "User"), NULL, 0);
	st_reconciler_add(r, "tf:prod/x", 9, NT(f, "CloudResource"), NULL, 0); /* ignored */
	st_match m;
	st_reconcile(r, ST_HINT_SERVICE, "Web-Frontend", 12, &m);
	assert_int_equal(m.status, ST_MATCH_ONE);
	assert_string_equal(m.id, "service:frontend");
	st_reconcile(r, ST_HINT_SERVICE, "frontend_svc", 12, &m);
	assert_int_equal(m.status, ST_MATCH_ONE);
	assert_string_equal(m.how, "normalised 'frontend_svc' -> 'frontend'");
	st_reconcile(r, ST_HINT_SERVICE, "web", 3, &m); /* a team, not a service */
	assert_int_equal(m.status, ST_MATCH_NONE);
	st_reconcile(r, ST_HINT_TEAM, "WEB", 3, &m);
	assert_int_equal(m.status, ST_MATCH_ONE);
	assert_string_equal(m.id, "team:web");
	st_reconcile(r, ST_HINT_TEAM, "user:ann", 8, &m);
	assert_int_equal(m.status, ST_MATCH_ONE);
	assert_string_equal(m.id, "user:ann");
	st_reconcile(r, ST_HINT_TEAM, "ann", 3, &m);
	assert_int_equal(m.status, ST_MATCH_NONE);
	char out[64];
	assert_int_equal(st_reconcile_normalise(r, "Pay.Ments_Prod", 14, out, sizeof(out)), 9);
	assert_string_equal(out, "pay-ments");
	st_pb_free(&pb);
	st_reconciler_free(r);
	st_config_free(cfg);
}

static void test_adhoc_source_names(void **state)
{
	(void)state;
	st_source_cfg s;
	st_diag d;
	assert_int_equal(st_source_parse_adhoc("terraform:/x/Prod.State.tfstate", &s, &d), 0);
	assert_string_equal(s.name, "terraform-prod.state");
	assert_string_equal(s.kind, "terraform");
	assert_string_equal(s.location, "/x/Prod.State.tfstate");
	st_source_cfg_clear(&s);
	assert_int_equal(st_source_parse_adhoc("git:https://github.com/acme/pay.git", &s, &d), 0);
	assert_string_equal(s.name, "git-pay");
	assert_string_equal(s.location, "https://github.com/acme/pay.git");
	st_source_cfg_clear(&s);
	assert_int_equal(st_source_parse_adhoc("git:rel/dir/", &s, &d), 0);
	assert_string_equal(s.name, "git-dir");
	assert_int_equal(s.location[0], '/');
	st_source_cfg_clear(&s);
	assert_int_equal(st_source_parse_adhoc("nope:/x", &s, &d), ST_E_INVALID);
	assert_non_null(strstr(d.msg, "known: git, terraform"));
	assert_int_equal(st_source_parse_adhoc("/just/a/path", &s, &d), ST_E_INVALID);
}

/* ------------------------------------------------------------ scheduler */

struct sched_ctx {
	int done;
	int rc[4];
	uv_loop_t *loop;
	st_sched *s;
	bool stopped;
};

static void on_done(const char *source, const st_sync_result *res, void *ctx)
{
	struct sched_ctx *c = ctx;
	assert_string_equal(source, "prod");
	c->rc[c->done++ % 4] = res->rc;
}

static st_store *plain_acquire(void *ctx, char *why, size_t cap)
{
	(void)why, (void)cap;
	return ctx;
}

static void plain_release(void *ctx)
{
	(void)ctx;
}

static void on_stopped(void *ctx)
{
	struct sched_ctx *c = ctx;
	c->stopped = true;
}

static void test_scheduler(void **state)
{
	fx *f = *state;
	char path[128];
	snprintf(path, sizeof(path), "%s/p.tfstate", f->dir);
	struct res r[] = {{"aws_instance", "a", NULL, NULL}};
	write_state(path, 1, r, 1);
	st_config *cfg = st_config_new();
	cfg->sources = calloc(2, sizeof(st_source_cfg));
	cfg->sources[0] = tf_source("prod", path);
	cfg->sources[0].schedule_s = 1;
	cfg->sources[1] = tf_source("manual", "/nonexistent.tfstate");
	cfg->n_sources = 2;
	uv_loop_t loop;
	uv_loop_init(&loop);
	struct sched_ctx c = {.loop = &loop};
	/* first scheduled run after 50 ms, then every second */
	st_sched_store ss = {plain_acquire, plain_release, f->st};
	st_sched *s = st_sched_new(&loop, ss, f->dir, cfg, 50);
	c.s = s;
	assert_int_equal(st_sched_count(s), 2);
	assert_int_equal(st_sched_trigger(s, "nope", on_done, &c), ST_E_NOTFOUND);
	assert_int_equal(st_sched_trigger(s, "prod", on_done, &c), 0);
	/* asked again while running: queued behind it (the running sync may have
	 * read the source before the change), and answered by that second run */
	assert_int_equal(st_sched_trigger(s, "prod", on_done, &c), 1);
	assert_int_equal(st_sched_trigger(s, "prod", on_done, &c), 1); /* once */
	st_sched_info info;
	st_sched_info_at(s, 0, &info);
	assert_true(info.running);
	assert_true(info.queued);
	assert_int_equal(info.schedule_s, 1);
	while (c.done < 3)
		uv_run(&loop, UV_RUN_ONCE);
	assert_int_equal(c.rc[0], 0);
	assert_int_equal(c.rc[1], ST_SYNC_UNCHANGED); /* the same state, read again */
	assert_int_equal(c.rc[2], ST_SYNC_UNCHANGED);
	st_sched_info_at(s, 0, &info);
	assert_true(info.runs >= 2); /* the 1 s timer may have added one */
	assert_true(exists(f, "tf:prod/aws_instance.a"));
	/* the timer runs it again: the state did not change, still complete */
	st_sched_info_at(s, 0, &info);
	uint64_t runs = info.runs;
	while (info.runs < runs + 1) {
		uv_run(&loop, UV_RUN_ONCE);
		st_sched_info_at(s, 0, &info);
	}
	assert_int_equal(info.failures, 0);
	assert_true(info.last_success > 0);
	/* a failing source counts a failure; the manual one has no timer */
	st_sched_info_at(s, 1, &info);
	assert_int_equal(info.next_run, 0);
	struct sched_ctx c2 = {0};
	(void)c2;
	assert_int_equal(st_sched_trigger(s, "manual", NULL, NULL), 0);
	do {
		uv_run(&loop, UV_RUN_ONCE);
		st_sched_info_at(s, 1, &info);
	} while (info.runs == 0);
	assert_int_equal(info.failures, 1);
	assert_true(info.last_rc < 0);
	st_sched_stop(s, on_stopped, &c);
	assert_int_equal(st_sched_trigger(s, "prod", NULL, NULL), ST_E_BUSY);
	while (!c.stopped)
		uv_run(&loop, UV_RUN_ONCE);
	uv_run(&loop, UV_RUN_DEFAULT);
	assert_int_equal(uv_loop_close(&loop), 0);
	st_sched_free(s);
	cfg->sources[0].name = NULL; /* static strings: not owned by the config */
	for (size_t i = 0; i < 2; i++)
		memset(&cfg->sources[i], 0, sizeof(st_source_cfg));
	free(cfg->sources);
	cfg->sources = NULL;
	cfg->n_sources = 0;
	st_config_free(cfg);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_sync_links_retires_and_keeps_last_good, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_sync_references_and_config_rules, setup, teardown),
		cmocka_unit_test_setup_teardown(test_sync_lifts_runtime_calls, setup, teardown),
		cmocka_unit_test_setup_teardown(test_open_hints_settle, setup, teardown),
		cmocka_unit_test_setup_teardown(test_reconcile_tiers, setup, teardown),
		cmocka_unit_test(test_adhoc_source_names),
		cmocka_unit_test_setup_teardown(test_scheduler, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
