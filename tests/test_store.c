/*
 * test_store.c — unit tests of the LMDB graph store and the JSONL importer:
 * batches commit whole or not at all, upsert/delete semantics, provenance,
 * adjacency in both directions, cost facts, snapshots, and the store's
 * invariants (st_snap_verify) after every change.
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

#include "jsonl.h"
#include "props.h"
#include "schema.h"
#include "store.h"

#include "fixture.h"

static const st_loc LOC = {"test.jsonl", 7};

static void add_node(st_batch *b, fx *f, const char *id, const char *type, const char *name)
{
	st_pb pb;
	st_pb_init(&pb);
	if (name)
		assert_int_equal(st_pb_string(&pb, "name", 4, name, strlen(name)), 0);
	const uint8_t *blob;
	size_t len;
	st_diag d;
	assert_int_equal(st_pb_finish(&pb, &blob, &len, &d), 0);
	int r = st_batch_node(b, id, strlen(id), NT(f, type), blob, len, LOC, &d);
	if (r)
		fail_msg("st_batch_node %s: %s", id, d.msg);
	st_pb_free(&pb);
}

static void add_edge(st_batch *b, fx *f, const char *s, const char *d2, const char *type)
{
	st_diag d;
	int r = st_batch_edge(b, s, strlen(s), d2, strlen(d2), ET(f, type), NULL, 0, LOC, &d);
	if (r)
		fail_msg("st_batch_edge %s->%s: %s", s, d2, d.msg);
}

static st_batch *begin(fx *f, const char *source)
{
	st_batch *b;
	st_diag d;
	assert_int_equal(st_batch_begin(f->st, source, &b, &d), 0);
	return b;
}

static uint64_t commit(st_batch *b)
{
	uint64_t rev = 0;
	st_diag d;
	int r = st_batch_commit(b, &rev, &d);
	if (r)
		fail_msg("commit: %s", d.msg);
	return rev;
}

static void verify(fx *f)
{
	st_snap *s;
	st_diag d;
	assert_int_equal(st_snap_begin(f->st, &s, &d), 0);
	int r = st_snap_verify(s, &d);
	if (r)
		fail_msg("%s", d.msg);
	st_snap_end(s);
}

static st_id lookup(st_snap *s, const char *id)
{
	st_id x = 0;
	int r = st_snap_lookup(s, id, strlen(id), &x);
	return r ? 0 : x;
}

/* all neighbours of a node in one direction, as "TYPE:id" strings joined by ',' */
static void neighbours(fx *f, st_snap *s, const char *id, st_dir dir, char *out, size_t cap)
{
	st_adj_iter it;
	out[0] = '\0';
	assert_int_equal(st_snap_adj_open(s, dir, lookup(s, id), &it), 0);
	const void *v;
	size_t n;
	while (st_adj_next(&it, &v, &n) == 1) {
		for (size_t i = 0; i < n; i++) {
			st_node nd;
			assert_int_equal(st_snap_node(s, st_adj_node(st_adj_at(v, i)), &nd), 0);
			int t = st_snap_adj_type(s, st_adj_at(v, i));
			assert_true(t >= 0);
			size_t l = strlen(out);
			snprintf(out + l, cap - l, "%s%s:%.*s", l ? "," : "",
				 st_schema_edge_type(f->schema, (size_t)t)->name, (int)nd.key_len, nd.key);
		}
	}
	st_adj_close(&it);
}

static void test_empty_store(void **state)
{
	fx *f = *state;
	st_snap *s;
	st_diag d;
	assert_int_equal(st_snap_begin(f->st, &s, &d), 0);
	assert_int_equal(st_snap_revision(s), 0);
	st_id x;
	assert_int_equal(st_snap_lookup(s, "a", 1, &x), ST_E_NOTFOUND);
	st_stats stt;
	assert_int_equal(st_snap_stats(s, &stt), 0);
	assert_int_equal(stt.nodes, 0);
	assert_int_equal(stt.edges, 0);
	st_stats_free(&stt);
	assert_int_equal(st_snap_verify(s, &d), 0);
	st_snap_end(s);
}

static void build_small(fx *f)
{
	st_batch *b = begin(f, "git");
	add_node(b, f, "team:pay", "Team", "Payments");
	add_node(b, f, "service:pay", "Service", "payments");
	add_node(b, f, "service:checkout", "Service", "checkout");
	add_node(b, f, "service:front", "Service", "front");
	add_edge(b, f, "service:checkout", "service:pay", "CALLS");
	add_edge(b, f, "service:front", "service:checkout", "CALLS");
	add_edge(b, f, "service:front", "service:pay", "DEPENDS_ON");
	add_edge(b, f, "team:pay", "service:pay", "OWNS");
	/* forward reference: the node comes after the edge */
	add_edge(b, f, "service:pay", "api:pay", "PROVIDES_API");
	add_node(b, f, "api:pay", "API", NULL);
	assert_int_equal(commit(b), 1);
}

static void test_batch_and_reads(void **state)
{
	fx *f = *state;
	build_small(f);
	verify(f);
	st_snap *s;
	st_diag d;
	assert_int_equal(st_snap_begin(f->st, &s, &d), 0);
	assert_int_equal(st_snap_revision(s), 1);
	st_id pay = lookup(s, "service:pay");
	assert_true(pay != 0);
	st_node n;
	assert_int_equal(st_snap_node(s, pay, &n), 0);
	assert_int_equal(n.type, NT(f, "Service"));
	assert_memory_equal(n.key, "service:pay", 11);
	st_prop p;
	assert_int_equal(st_props_get(n.props, n.props_len, "name", 4, &p), 1);
	assert_int_equal(p.v.s.len, 8);
	assert_memory_equal(p.v.s.p, "payments", 8);
	/* provenance */
	assert_int_equal(n.n_prov, 1);
	st_prov pv;
	assert_int_equal(st_snap_prov(s, n.prov_raw, 0, &pv), 0);
	assert_int_equal(pv.source_len, 3);
	assert_memory_equal(pv.source, "git", 3);
	assert_int_equal(pv.first_rev, 1);
	assert_int_equal(pv.last_rev, 1);
	assert_int_equal(pv.line, 7);
	assert_memory_equal(pv.origin, "test.jsonl", 10);
	/* adjacency both ways, grouped by edge type */
	char buf[512];
	neighbours(f, s, "service:pay", ST_IN, buf, sizeof(buf));
	assert_string_equal(buf, "OWNS:team:pay,DEPENDS_ON:service:front,CALLS:service:checkout");
	neighbours(f, s, "service:pay", ST_OUT, buf, sizeof(buf));
	assert_string_equal(buf, "PROVIDES_API:api:pay");
	neighbours(f, s, "service:front", ST_OUT, buf, sizeof(buf));
	assert_string_equal(buf, "DEPENDS_ON:service:pay,CALLS:service:checkout");
	/* edge lookup */
	st_edge e;
	assert_int_equal(st_snap_edge(s, lookup(s, "service:checkout"), ET(f, "CALLS"), pay, &e), 0);
	assert_int_equal(st_snap_edge(s, pay, ET(f, "CALLS"), lookup(s, "service:checkout"), &e), ST_E_NOTFOUND);
	/* stats per type */
	st_stats stt;
	st_snap_stats(s, &stt);
	assert_int_equal(stt.nodes, 5);
	assert_int_equal(stt.edges, 5);
	assert_int_equal(stt.node_count[NT(f, "Service")], 3);
	assert_int_equal(stt.edge_count[ET(f, "CALLS")], 2);
	st_stats_free(&stt);
	st_snap_end(s);
}

/* neighbours over one edge type, as ids joined by ',' */
static void typed_neighbours(fx *f, st_snap *s, const char *id, st_dir dir, const char *type, char *out,
			     size_t cap)
{
	st_adj_iter it;
	out[0] = '\0';
	assert_int_equal(st_snap_adj_open_type(s, dir, lookup(s, id), ET(f, type), &it), 0);
	const void *v;
	size_t n;
	int r;
	while ((r = st_adj_next(&it, &v, &n)) == 1) {
		for (size_t i = 0; i < n; i++) {
			uint64_t x = st_adj_at(v, i);
			assert_int_equal(st_snap_adj_type(s, x), ET(f, type));
			st_node nd;
			assert_int_equal(st_snap_node(s, st_adj_node(x), &nd), 0);
			size_t l = strlen(out);
			snprintf(out + l, cap - l, "%s%.*s", l ? "," : "", (int)nd.key_len, nd.key);
		}
	}
	assert_int_equal(r, 0);
	st_adj_close(&it);
}

static void test_neighbours_by_type(void **state)
{
	fx *f = *state;
	build_small(f);
	/* a node with many neighbours of several types (sub-database pages) */
	st_batch *b = begin(f, "git");
	char id[64];
	for (int i = 0; i < 1500; i++) {
		snprintf(id, sizeof(id), "service:c%04d", i);
		add_node(b, f, id, "Service", NULL);
		add_edge(b, f, id, "service:pay", i % 3 ? "CALLS" : "DEPENDS_ON");
	}
	commit(b);
	verify(f);
	st_snap *s;
	st_diag d;
	st_snap_begin(f->st, &s, &d);
	char buf[65536];
	/* single-value keys (no LMDB sub-page) */
	typed_neighbours(f, s, "service:checkout", ST_OUT, "CALLS", buf, sizeof(buf));
	assert_string_equal(buf, "service:pay");
	typed_neighbours(f, s, "service:checkout", ST_OUT, "DEPENDS_ON", buf, sizeof(buf));
	assert_string_equal(buf, "");
	typed_neighbours(f, s, "service:pay", ST_OUT, "PROVIDES_API", buf, sizeof(buf));
	assert_string_equal(buf, "api:pay");
	typed_neighbours(f, s, "service:pay", ST_OUT, "CALLS", buf, sizeof(buf));
	assert_string_equal(buf, "");
	/* the hub: 1000 CALLS + the checkout one, 500 DEPENDS_ON + front, 1 OWNS */
	size_t calls = 0, deps = 0, owns = 0;
	typed_neighbours(f, s, "service:pay", ST_IN, "CALLS", buf, sizeof(buf));
	for (char *p = buf; *p; p++)
		calls += *p == ',';
	typed_neighbours(f, s, "service:pay", ST_IN, "DEPENDS_ON", buf, sizeof(buf));
	for (char *p = buf; *p; p++)
		deps += *p == ',';
	assert_non_null(strstr(buf, "service:front"));
	typed_neighbours(f, s, "service:pay", ST_IN, "OWNS", buf, sizeof(buf));
	assert_string_equal(buf, "team:pay");
	(void)owns;
	assert_int_equal(calls + 1, 1001);
	assert_int_equal(deps + 1, 501);
	/* an edge type never stored */
	typed_neighbours(f, s, "service:pay", ST_IN, "SELECTS", buf, sizeof(buf));
	assert_string_equal(buf, "");
	st_adj_iter it;
	assert_int_equal(st_snap_adj_open_type(s, ST_IN, lookup(s, "service:pay"), 9999, &it), ST_E_NOTFOUND);
	st_snap_end(s);
}

static int count_ids(const void *ids, size_t n, void *ctx)
{
	(void)ids;
	*(size_t *)ctx += n;
	return 0;
}

static int count_adj(st_id node, const void *v, size_t n, void *ctx)
{
	(void)node;
	(void)v;
	*(size_t *)ctx += n;
	return 0;
}

static void test_scans(void **state)
{
	fx *f = *state;
	build_small(f);
	st_snap *s;
	st_diag d;
	st_snap_begin(f->st, &s, &d);
	size_t n = 0;
	assert_int_equal(st_snap_scan_type(s, NT(f, "Service"), count_ids, &n), 0);
	assert_int_equal(n, 3);
	n = 0;
	assert_int_equal(st_snap_scan_type(s, NT(f, "Domain"), count_ids, &n), 0);
	assert_int_equal(n, 0);
	n = 0;
	assert_int_equal(st_snap_adj_scan(s, ST_OUT, count_adj, &n), 0);
	assert_int_equal(n, 5);
	n = 0;
	assert_int_equal(st_snap_adj_scan(s, ST_IN, count_adj, &n), 0);
	assert_int_equal(n, 5);
	st_snap_end(s);
}

static void test_failed_commit_changes_nothing(void **state)
{
	fx *f = *state;
	build_small(f);
	st_batch *b = begin(f, "git");
	add_node(b, f, "service:new", "Service", "new");
	add_edge(b, f, "service:new", "service:missing", "CALLS");
	uint64_t rev;
	st_diag d;
	assert_int_equal(st_batch_commit(b, &rev, &d), ST_E_NOTFOUND);
	assert_non_null(strstr(d.msg, "test.jsonl:7"));
	assert_non_null(strstr(d.msg, "service:missing"));
	st_snap *s;
	st_snap_begin(f->st, &s, &d);
	assert_int_equal(st_snap_revision(s), 1);
	assert_int_equal(lookup(s, "service:new"), 0);
	st_snap_end(s);
	verify(f);
	/* abort writes nothing either */
	b = begin(f, "git");
	add_node(b, f, "service:other", "Service", NULL);
	st_batch_abort(b);
	st_snap_begin(f->st, &s, &d);
	assert_int_equal(lookup(s, "service:other"), 0);
	assert_int_equal(st_snap_revision(s), 1);
	st_snap_end(s);
}

static void test_validation(void **state)
{
	fx *f = *state;
	build_small(f);
	st_batch *b = begin(f, "git");
	st_diag d;
	/* type change of an existing node */
	assert_int_equal(st_batch_node(b, "team:pay", 8, NT(f, "Service"), NULL, 0, LOC, &d), ST_E_EXISTS);
	assert_non_null(strstr(d.msg, "exists with type Team"));
	/* edge endpoint types */
	assert_int_equal(st_batch_edge(b, "team:pay", 8, "service:pay", 11, ET(f, "CALLS"), NULL, 0, LOC, &d),
			 ST_E_INVALID);
	assert_non_null(strstr(d.msg, "CALLS edge not allowed from Team"));
	/* required property missing */
	assert_int_equal(st_batch_node(b, "c:x", 3, NT(f, "Component"), NULL, 0, LOC, &d), ST_E_INVALID);
	assert_non_null(strstr(d.msg, "component_type"));
	/* property not in the schema and of the wrong type */
	st_pb pb;
	st_pb_init(&pb);
	const uint8_t *blob;
	size_t len;
	st_pb_int(&pb, "colour", 6, 1);
	st_pb_finish(&pb, &blob, &len, &d);
	assert_int_equal(st_batch_node(b, "s:x", 3, NT(f, "Service"), blob, len, LOC, &d), ST_E_INVALID);
	assert_non_null(strstr(d.msg, "unknown property 'colour'"));
	st_pb_reset(&pb);
	st_pb_string(&pb, "tier", 4, "1", 1);
	st_pb_finish(&pb, &blob, &len, &d);
	assert_int_equal(st_batch_node(b, "s:x", 3, NT(f, "Service"), blob, len, LOC, &d), ST_E_INVALID);
	assert_non_null(strstr(d.msg, "must be int"));
	st_pb_free(&pb);
	/* ids */
	assert_int_equal(st_batch_node(b, "", 0, NT(f, "Service"), NULL, 0, LOC, &d), ST_E_INVALID);
	char big[ST_NODE_ID_MAX + 2];
	memset(big, 'x', sizeof(big));
	assert_int_equal(st_batch_node(b, big, sizeof(big), NT(f, "Service"), NULL, 0, LOC, &d), ST_E_INVALID);
	/* same id twice with different types in one batch */
	add_node(b, f, "svc:twice", "Service", NULL);
	assert_int_equal(st_batch_node(b, "svc:twice", 9, NT(f, "Team"), NULL, 0, LOC, &d), ST_E_EXISTS);
	st_batch_abort(b);
	verify(f);
}

static void test_upsert_and_provenance(void **state)
{
	fx *f = *state;
	build_small(f);
	st_batch *b = begin(f, "git");
	add_node(b, f, "service:pay", "Service", "payments-v2");
	add_edge(b, f, "service:checkout", "service:pay", "CALLS"); /* again: no new edge */
	assert_int_equal(commit(b), 2);
	b = begin(f, "k8s");
	add_node(b, f, "service:pay", "Service", "payments-v3");
	assert_int_equal(commit(b), 3);
	verify(f);
	st_snap *s;
	st_diag d;
	st_snap_begin(f->st, &s, &d);
	st_node n;
	assert_int_equal(st_snap_node(s, lookup(s, "service:pay"), &n), 0);
	st_prop p;
	assert_int_equal(st_props_get(n.props, n.props_len, "name", 4, &p), 1);
	assert_memory_equal(p.v.s.p, "payments-v3", 11);
	assert_int_equal(n.n_prov, 2);
	st_prov a, c;
	st_snap_prov(s, n.prov_raw, 0, &a);
	st_snap_prov(s, n.prov_raw, 1, &c);
	assert_memory_equal(a.source, "git", 3);
	assert_int_equal(a.first_rev, 1);
	assert_int_equal(a.last_rev, 2);
	assert_memory_equal(c.source, "k8s", 3);
	assert_int_equal(c.first_rev, 3);
	st_stats stt;
	st_snap_stats(s, &stt);
	assert_int_equal(stt.edges, 5);
	assert_int_equal(stt.nodes, 5);
	st_stats_free(&stt);
	st_snap_end(s);
}

static void add_node_at(st_batch *b, fx *f, const char *id, const char *type, const char *name,
			const char *origin)
{
	st_pb pb;
	st_pb_init(&pb);
	assert_int_equal(st_pb_string(&pb, "name", 4, name, strlen(name)), 0);
	const uint8_t *blob;
	size_t len;
	st_diag d;
	assert_int_equal(st_pb_finish(&pb, &blob, &len, &d), 0);
	st_loc loc = {origin, 1};
	int r = st_batch_node(b, id, strlen(id), NT(f, type), blob, len, loc, &d);
	if (r)
		fail_msg("st_batch_node %s: %s", id, d.msg);
	st_pb_free(&pb);
}

/* name property of a node, or "" / "(absent)" */
static void node_name(st_snap *s, const char *id, char *out, size_t cap)
{
	st_id x = lookup(s, id);
	st_node n;
	if (!x && st_snap_lookup(s, id, strlen(id), &x)) {
		snprintf(out, cap, "(absent)");
		return;
	}
	assert_int_equal(st_snap_node(s, x, &n), 0);
	st_prop p;
	if (st_props_get(n.props, n.props_len, "name", 4, &p) == 1)
		snprintf(out, cap, "%.*s", (int)p.v.s.len, p.v.s.p);
	else
		out[0] = 0;
}

static unsigned prov_flags(st_snap *s, const char *id, const char *source)
{
	st_id x;
	assert_int_equal(st_snap_lookup(s, id, strlen(id), &x), 0);
	st_node n;
	assert_int_equal(st_snap_node(s, x, &n), 0);
	for (uint32_t i = 0; i < n.n_prov; i++) {
		st_prov p;
		assert_int_equal(st_snap_prov(s, n.prov_raw, i, &p), 0);
		if (p.source_len == strlen(source) && !memcmp(p.source, source, p.source_len))
			return p.flags | 0x100u; /* 0x100: the source has an entry */
	}
	return 0;
}

static void test_node_ref_keeps_declared_props(void **state)
{
	fx *f = *state;
	st_diag d;
	st_batch *b = begin(f, "catalog");
	add_node(b, f, "service:pay", "Service", "Payments");
	commit(b);
	/* a reference from another source keeps the declared properties */
	b = begin(f, "terraform");
	assert_int_equal(st_batch_node_ref(b, "service:pay", 11, NT(f, "Service"), NULL, 0, LOC, &d), 0);
	/* an unknown one is created as a placeholder */
	assert_int_equal(st_batch_node_ref(b, "team:core", 9, NT(f, "Team"), NULL, 0, LOC, &d), 0);
	int type = -1;
	assert_int_equal(st_batch_lookup(b, "service:pay", 11, &type), 1);
	assert_int_equal(type, NT(f, "Service"));
	assert_int_equal(st_batch_lookup(b, "service:nope", 12, NULL), 0);
	commit(b);
	verify(f);
	st_snap *s;
	st_snap_begin(f->st, &s, &d);
	char name[64];
	node_name(s, "service:pay", name, sizeof(name));
	assert_string_equal(name, "Payments");
	assert_int_equal(prov_flags(s, "service:pay", "terraform"), 0x100u | ST_PROV_REF);
	assert_int_equal(prov_flags(s, "service:pay", "catalog"), 0x100u);
	assert_int_equal(prov_flags(s, "team:core", "terraform"), 0x100u | ST_PROV_REF);
	st_snap_end(s);
	/* a later declaration by the same source clears the reference flag */
	b = begin(f, "terraform");
	add_node(b, f, "team:core", "Team", "Core");
	commit(b);
	st_snap_begin(f->st, &s, &d);
	assert_int_equal(prov_flags(s, "team:core", "terraform"), 0x100u);
	st_snap_end(s);
}

static void test_retire_unseen(void **state)
{
	fx *f = *state;
	st_diag d;
	st_batch *b = begin(f, "other");
	add_node(b, f, "service:shared", "Service", "shared");
	commit(b);
	b = begin(f, "tf");
	add_node_at(b, f, "service:a", "Service", "a", "main.tf");
	add_node_at(b, f, "service:b", "Service", "b", "main.tf");
	add_node_at(b, f, "service:c", "Service", "c", "broken.tf");
	add_node_at(b, f, "service:shared", "Service", "shared-by-tf", "main.tf");
	add_edge(b, f, "service:a", "service:b", "DEPENDS_ON");
	add_edge(b, f, "service:a", "service:shared", "DEPENDS_ON");
	st_loc broken = {"broken.tf", 3};
	assert_int_equal(st_batch_edge(b, "service:c", 9, "service:shared", 14, ET(f, "DEPENDS_ON"),
				       NULL, 0, broken, &d), 0);
	commit(b);
	/* a complete sync that sees only a: b goes, shared loses tf's entry,
	 * c's origin failed to parse this time: kept and flagged stale */
	b = begin(f, "tf");
	add_node_at(b, f, "service:a", "Service", "a", "main.tf");
	const char *keep[] = {"broken.tf", "never-stored.tf"};
	st_retire_counts rc;
	assert_int_equal(st_batch_retire_unseen(b, keep, 2, &rc, &d), 0);
	uint64_t rev = commit(b);
	verify(f);
	assert_int_equal(rc.nodes, 1);	 /* service:b */
	assert_int_equal(rc.edges, 2);	 /* a->shared and a->b */
	assert_int_equal(rc.dropped, 1); /* service:shared keeps "other" */
	assert_int_equal(rc.stale, 2);	 /* service:c and its edge */
	st_snap *s;
	st_snap_begin(f->st, &s, &d);
	assert_int_equal(st_snap_revision(s), rev);
	st_id x;
	assert_int_equal(st_snap_lookup(s, "service:b", 9, &x), ST_E_NOTFOUND);
	assert_int_equal(prov_flags(s, "service:shared", "tf"), 0);
	assert_int_equal(prov_flags(s, "service:shared", "other"), 0x100u);
	assert_int_equal(prov_flags(s, "service:c", "tf"), 0x100u | ST_PROV_STALE);
	assert_int_equal(prov_flags(s, "service:a", "tf"), 0x100u);
	st_edge e;
	assert_int_equal(st_snap_edge(s, lookup(s, "service:c"), ET(f, "DEPENDS_ON"),
				      lookup(s, "service:shared"), &e), 0);
	assert_int_equal(st_snap_edge(s, lookup(s, "service:a"), ET(f, "DEPENDS_ON"),
				      lookup(s, "service:shared"), &e), ST_E_NOTFOUND);
	st_stats stt;
	st_snap_stats(s, &stt);
	assert_int_equal(stt.nodes, 3);
	assert_int_equal(stt.edges, 1);
	st_stats_free(&stt);
	st_snap_end(s);
	/* an aborted batch retires nothing */
	b = begin(f, "tf");
	assert_int_equal(st_batch_retire_unseen(b, NULL, 0, NULL, &d), 0);
	st_batch_abort(b);
	st_snap_begin(f->st, &s, &d);
	assert_int_equal(st_snap_revision(s), rev);
	assert_true(lookup(s, "service:a") != 0);
	st_snap_end(s);
}

static int status_cb(const char *source, size_t slen, const void *blob, size_t len, void *ctx)
{
	char *out = ctx;
	size_t l = strlen(out);
	snprintf(out + l, 256 - l, "%.*s=%.*s;", (int)slen, source, (int)len, (const char *)blob);
	return 0;
}

static void test_source_status(void **state)
{
	fx *f = *state;
	st_diag d;
	st_batch *b = begin(f, "git");
	add_node(b, f, "service:a", "Service", "a");
	assert_int_equal(st_batch_next_revision(b), 1);
	st_batch_set_status(b, "{\"ok\":1}", 8);
	commit(b);
	assert_int_equal(st_store_put_status(f->st, "tf", "{\"err\":1}", 9, &d), 0);
	/* an aborted batch's status is not written */
	b = begin(f, "zz");
	st_batch_set_status(b, "x", 1);
	st_batch_abort(b);
	st_snap *s;
	st_snap_begin(f->st, &s, &d);
	char out[256] = "";
	assert_int_equal(st_snap_statuses(s, status_cb, out), 0);
	assert_string_equal(out, "git={\"ok\":1};tf={\"err\":1};");
	assert_int_equal(st_snap_revision(s), 1);
	st_snap_end(s);
	verify(f);
}

static void test_snapshot_isolation(void **state)
{
	fx *f = *state;
	build_small(f);
	st_snap *old;
	st_diag d;
	st_snap_begin(f->st, &old, &d);
	st_batch *b = begin(f, "git");
	add_node(b, f, "service:late", "Service", NULL);
	add_edge(b, f, "service:late", "service:pay", "CALLS");
	commit(b);
	assert_int_equal(lookup(old, "service:late"), 0);
	assert_int_equal(st_snap_revision(old), 1);
	char buf[512];
	neighbours(f, old, "service:pay", ST_IN, buf, sizeof(buf));
	assert_null(strstr(buf, "late"));
	st_snap *cur;
	st_snap_begin(f->st, &cur, &d);
	assert_true(lookup(cur, "service:late") != 0);
	neighbours(f, cur, "service:pay", ST_IN, buf, sizeof(buf));
	assert_non_null(strstr(buf, "CALLS:service:late"));
	st_snap_end(cur);
	st_snap_end(old);
}

static int sum_costs(st_id res, const st_cost *c, size_t n, void *ctx)
{
	(void)res;
	int64_t *t = ctx;
	for (size_t i = 0; i < n; i++) {
		t[0] += c[i].effective;
		t[1] += c[i].billed;
		t[2]++;
	}
	return 0;
}

static void add_cost(st_batch *b, const char *res, const char *day, int64_t eff, int64_t billed)
{
	int32_t dd;
	uint16_t usd;
	st_diag d;
	assert_int_equal(st_day_parse(day, 10, &dd), 0);
	st_currency_parse("USD", 3, &usd);
	assert_int_equal(st_batch_cost(b, res, strlen(res), dd, usd, eff, billed, LOC, &d), 0);
}

static void test_costs(void **state)
{
	fx *f = *state;
	build_small(f);
	st_batch *b = begin(f, "billing");
	add_cost(b, "service:pay", "2026-10-31", 100, 110);
	add_cost(b, "service:pay", "2026-11-01", 5, 5);
	add_cost(b, "service:pay", "2026-11-01", 7, 8); /* same key: adds up */
	add_cost(b, "service:pay", "2026-12-15", 1000, 1000);
	add_cost(b, "api:pay", "2026-11-02", -3, -3); /* credit */
	commit(b);
	verify(f);
	st_snap *s;
	st_diag d;
	st_snap_begin(f->st, &s, &d);
	int64_t t[3] = {0};
	int32_t from, to;
	st_day_parse("2026-11-01", 10, &from);
	st_day_parse("2026-12-15", 10, &to); /* exclusive */
	assert_int_equal(st_snap_scan_costs(s, from, to, sum_costs, t), 0);
	assert_int_equal(t[0], 12 - 3);
	assert_int_equal(t[1], 13 - 3);
	assert_int_equal(t[2], 2);
	memset(t, 0, sizeof(t));
	assert_int_equal(st_snap_costs_of(s, lookup(s, "service:pay"), sum_costs, t), 0);
	assert_int_equal(t[0], 1112);
	assert_int_equal(t[2], 3);
	st_stats stt;
	st_snap_stats(s, &stt);
	assert_int_equal(stt.costs, 4);
	st_stats_free(&stt);
	st_snap_end(s);
	/* the same source again replaces its facts for those keys; another source adds */
	b = begin(f, "billing");
	add_cost(b, "service:pay", "2026-11-01", 1, 1);
	commit(b);
	b = begin(f, "other-billing");
	add_cost(b, "service:pay", "2026-11-01", 50, 50);
	commit(b);
	verify(f);
	st_snap_begin(f->st, &s, &d);
	memset(t, 0, sizeof(t));
	assert_int_equal(st_snap_scan_costs(s, from, from + 1, sum_costs, t), 0);
	assert_int_equal(t[0], 51);
	st_snap_end(s);
}

static void test_complete_sync_replaces_costs(void **state)
{
	fx *f = *state;
	build_small(f);
	st_batch *b = begin(f, "billing");
	add_cost(b, "service:pay", "2026-10-30", 100, 100);
	add_cost(b, "service:pay", "2026-10-31", 100, 100);
	add_cost(b, "service:pay", "2026-11-01", 7, 7);
	add_cost(b, "api:pay", "2026-11-02", 3, 3);
	commit(b);
	b = begin(f, "other");
	add_cost(b, "api:pay", "2026-11-02", 40, 40);
	commit(b);
	/* a complete sync of "billing" now holds only 2026-10-31 of service:pay */
	b = begin(f, "billing");
	add_cost(b, "service:pay", "2026-10-31", 90, 95);
	st_diag d;
	st_retire_counts rc;
	assert_int_equal(st_batch_retire_unseen(b, NULL, 0, &rc, &d), 0);
	commit(b);
	verify(f); /* also checks the stored cost-fact counter */
	assert_int_equal(rc.costs, 2); /* 2026-11-01 of pay and the api's day */
	st_snap *s;
	st_snap_begin(f->st, &s, &d);
	int64_t t[3] = {0};
	assert_int_equal(st_snap_costs_of(s, lookup(s, "service:pay"), sum_costs, t), 0);
	assert_int_equal(t[0], 90); /* 2026-10-30 gone with the rest of the key */
	assert_int_equal(t[1], 95);
	assert_int_equal(t[2], 1);
	memset(t, 0, sizeof(t));
	assert_int_equal(st_snap_costs_of(s, lookup(s, "api:pay"), sum_costs, t), 0);
	assert_int_equal(t[0], 40); /* the other source's fact stays */
	st_stats stt;
	st_snap_stats(s, &stt);
	assert_int_equal(stt.costs, 2);
	st_stats_free(&stt);
	st_snap_end(s);
}

static void test_delete_cascades(void **state)
{
	fx *f = *state;
	build_small(f);
	st_batch *b = begin(f, "billing");
	add_cost(b, "service:pay", "2026-10-31", 100, 110);
	commit(b);
	b = begin(f, "git");
	st_diag d;
	assert_int_equal(st_batch_delete_node(b, "service:nope", 12, &d), ST_E_NOTFOUND);
	assert_int_equal(st_batch_delete_node(b, "service:pay", 11, &d), 0);
	commit(b);
	verify(f);
	st_snap *s;
	st_snap_begin(f->st, &s, &d);
	assert_int_equal(lookup(s, "service:pay"), 0);
	st_stats stt;
	st_snap_stats(s, &stt);
	assert_int_equal(stt.nodes, 4);
	assert_int_equal(stt.edges, 1); /* front -> checkout remains */
	assert_int_equal(stt.costs, 0);
	st_stats_free(&stt);
	char buf[512];
	neighbours(f, s, "service:checkout", ST_OUT, buf, sizeof(buf));
	assert_string_equal(buf, "");
	st_snap_end(s);
	/* an edge to a node deleted in the same batch fails the commit */
	b = begin(f, "git");
	assert_int_equal(st_batch_delete_node(b, "service:checkout", 16, &d), 0);
	add_edge(b, f, "service:front", "service:checkout", "DEPENDS_ON");
	uint64_t rev;
	assert_int_equal(st_batch_commit(b, &rev, &d), ST_E_INVALID);
	verify(f);
	/* delete one edge */
	b = begin(f, "git");
	assert_int_equal(st_batch_delete_edge(b, "service:front", 13, "service:checkout", 16, ET(f, "CALLS"), &d), 0);
	commit(b);
	verify(f);
	st_snap_begin(f->st, &s, &d);
	st_snap_stats(s, &stt);
	assert_int_equal(stt.edges, 0);
	st_stats_free(&stt);
	st_snap_end(s);
}

static void test_readonly_and_reopen(void **state)
{
	fx *f = *state;
	build_small(f);
	st_store_close(f->st);
	st_diag d;
	st_store *ro;
	assert_int_equal(st_store_open(f->dir, f->schema, ST_OPEN_READONLY, &ro, &d), 0);
	st_batch *b;
	assert_true(st_batch_begin(ro, "x", &b, &d) < 0);
	st_snap *s;
	st_snap_begin(ro, &s, &d);
	assert_int_equal(st_snap_revision(s), 1);
	assert_true(lookup(s, "service:front") != 0);
	st_snap_end(s);
	st_store_close(ro);
	assert_int_equal(st_store_open("/nonexistent/st", f->schema, ST_OPEN_READONLY, &ro, &d), -ENOENT);
	assert_int_equal(st_store_open(f->dir, f->schema, ST_OPEN_NOSYNC, &f->st, &d), 0);
}

/* ---- importer ---- */

static void write_file(const char *path, const char *text)
{
	FILE *fp = fopen(path, "w");
	assert_non_null(fp);
	fputs(text, fp);
	fclose(fp);
}

static int import_text(fx *f, const char *text, st_diag *d)
{
	char path[128];
	snprintf(path, sizeof(path), "%s/in.jsonl", f->dir);
	write_file(path, text);
	const char *paths[1] = {path};
	st_import_result res;
	return st_import_files(f->st, "import", paths, 1, &res, d);
}

static void test_import_errors_keep_store(void **state)
{
	fx *f = *state;
	st_diag d;
	assert_int_equal(import_text(f, "{\"id\":\"team:a\",\"type\":\"Team\"}\n"
					"{\"id\":\"service:a\",\"type\":\"Service\",\"props\":{\"tier\":2}}\n"
					"{\"src\":\"team:a\",\"dst\":\"service:a\",\"type\":\"OWNS\"}\n", &d), 0);
	static const struct {
		const char *text, *want;
	} bad[] = {
		{"{\"id\":\"x\",\"type\":\"Service\"}\n{\"id\":\"y\" \"type\":\"Service\"}\n", "in.jsonl:2:"},
		{"{\"id\":\"x\",\"type\":\"Nope\"}\n", "in.jsonl:1: unknown node type \"Nope\""},
		{"\n\n{\"src\":\"team:a\",\"dst\":\"ghost\",\"type\":\"OWNS\"}\n", "in.jsonl:3: edge refers to unknown node 'ghost'"},
		{"{\"id\":\"x\",\"type\":\"Service\",\"props\":{\"tier\":\"high\"}}\n", "property 'tier' must be an integer"},
		{"{\"id\":\"x\",\"type\":\"Service\",\"props\":{\"tier\":null}}\n", "is null"},
		{"{\"id\":\"x\",\"type\":\"Service\",\"props\":{\"color\":\"red\"}}\n", "has no property 'color'"},
		{"{\"id\":\"x\",\"type\":\"Service\",\"props\":{\"tags\":[[\"a\"]]}}\n", "nested deeper"},
		{"[1,2]\n", "not an array"},
		{"{\"id\":\"x\"}\n", "missing key \"type\""},
		{"{\"id\":\"x\",\"type\":\"Service\",\"src\":\"y\"}\n", "does not belong in a node record"},
		{"{\"resource\":\"team:a\",\"day\":\"2026-13-01\",\"amount\":1,\"currency\":\"USD\"}\n", "calendar day"},
		{"{\"resource\":\"team:a\",\"day\":\"2026-10-01\",\"amount\":1e3,\"currency\":\"USD\"}\n", "no exponent"},
		{"{\"resource\":\"team:a\",\"day\":\"2026-10-01\",\"amount\":1,\"currency\":\"usd\"}\n", "ISO 4217"},
		{"{\"resource\":\"nope\",\"day\":\"2026-10-01\",\"amount\":1,\"currency\":\"USD\"}\n", "cost fact refers to unknown node 'nope'"},
		{"{\"id\":\"team:a\",\"type\":\"Service\"}\n", "exists with type Team"},
		{"{\"id\":\"x\",\"type\":\"Service\",\"props\":{\"name\":\"\xff\"}}\n", "malformed JSON"},
		{"{\"src\":\"service:a\",\"dst\":\"team:a\",\"type\":\"OWNS\"}\n", "OWNS edge not allowed"},
		{"{\"id\":\"x\",\"type\":\"Service\",\"props\":{\"labels\":{\"a\":\"1\",\"a\":\"2\"}}}\n", "duplicate map key"},
		{"{\"id\":\"x\",\"type\":\"Service\"}{\"id\":\"y\",\"type\":\"Service\"}\n", "more than one JSON value"},
		{"{\"id\":\"x\",\"type\":\"Service\",\n\"props\":{}}\n", "each record must be on one line"},
		/* an empty first string (was a NULL memcpy, found by fuzzing) */
		{"{\"id\":\"\",\"type\":\"Service\"}\n", "node id must be 1-400 bytes"},
		{"{\"resource\":\"team:a\",\"day\":\"9999-12-31\",\"amount\":1,\"currency\":\"USD\"}\n", "day out of range"},
		{"{\"src\":\"a\",\"dst\":\"b\",\"type\":\"CALLS\",\"day\":\"2026-01-01\"}\n", "does not belong in an edge record"},
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		memset(&d, 0, sizeof(d));
		int r = import_text(f, bad[i].text, &d);
		if (r == 0 || !strstr(d.msg, bad[i].want))
			fail_msg("case %zu: r=%d msg='%s', want '%s'", i, r, d.msg, bad[i].want);
		st_snap *s;
		st_snap_begin(f->st, &s, &d);
		assert_int_equal(st_snap_revision(s), 1);
		assert_int_equal(lookup(s, "x"), 0);
		st_snap_end(s);
	}
	verify(f);
}

/* An unresolved reference in an earlier file is reported with that file's
 * name after later files changed the origin (a use-after-free once). */
static void test_import_pending_origin_across_files(void **state)
{
	fx *f = *state;
	char a[128], b[128];
	snprintf(a, sizeof(a), "%s/first.jsonl", f->dir);
	snprintf(b, sizeof(b), "%s/second.jsonl", f->dir);
	write_file(a, "{\"src\":\"service:a\",\"dst\":\"service:ghost\",\"type\":\"CALLS\"}\n"
		      "{\"id\":\"service:a\",\"type\":\"Service\"}\n");
	write_file(b, "{\"id\":\"service:b\",\"type\":\"Service\"}\n");
	const char *paths[2] = {a, b};
	st_import_result res;
	st_diag d;
	assert_int_equal(st_import_files(f->st, "import", paths, 2, &res, &d), ST_E_NOTFOUND);
	char want[192];
	snprintf(want, sizeof(want), "%s:1: edge refers to unknown node 'service:ghost'", a);
	assert_string_equal(d.msg, want);
}

static void test_import_export_round_trip(void **state)
{
	fx *f = *state;
	const char *text =
		"{\"id\":\"a:1\",\"type\":\"Repository\",\"props\":{\"commits_90d\":-5,\"last_commit_at\":\"2026-10-01T12:00:00+02:00\",\"top_authors\":[\"b\",\"a\"]}}\n"
		"{\"id\":\"s:1\",\"type\":\"Service\",\"props\":{\"annotations\":{\"z\":\"\\u0001\\\"\",\"a\":\"/\"},\"name\":\"caf\xc3\xa9\"}}\n"
		"{\"src\":\"s:1\",\"dst\":\"a:1\",\"type\":\"DEFINED_IN\",\"props\":{\"path\":\"catalog-info.yaml\"}}\n"
		"{\"src\":\"s:1\",\"dst\":\"s:1\",\"type\":\"CALLS\",\"props\":{\"request_rate\":10.0,\"error_rate\":1e-7}}\n"
		"{\"resource\":\"s:1\",\"day\":\"2026-10-01\",\"amount\":0.10,\"currency\":\"EUR\",\"billed\":\"x\"}\n";
	st_diag d;
	/* billed must be a number */
	assert_int_not_equal(import_text(f, text, &d), 0);
	assert_non_null(strstr(d.msg, "in.jsonl:5"));
	char *fixed = strdup(text);
	char *q = strstr(fixed, "\"billed\":\"x\"");
	memcpy(q, "\"billed\":0.2", 12); /* same length as "billed":"x" */
	if (import_text(f, fixed, &d))
		fail_msg("%s", d.msg);
	free(fixed);
	verify(f);
	char path[128];
	snprintf(path, sizeof(path), "%s/out.jsonl", f->dir);
	FILE *fp = fopen(path, "w+");
	st_snap *s;
	st_snap_begin(f->st, &s, &d);
	assert_int_equal(st_export(s, fp, fp, fp, &d), 0);
	st_snap_end(s);
	rewind(fp);
	char out[4096];
	size_t n = fread(out, 1, sizeof(out) - 1, fp);
	out[n] = '\0';
	fclose(fp);
	const char *want =
		"{\"id\":\"a:1\",\"type\":\"Repository\",\"props\":{\"commits_90d\":-5,\"last_commit_at\":\"2026-10-01T10:00:00Z\",\"top_authors\":[\"b\",\"a\"]}}\n"
		"{\"id\":\"s:1\",\"type\":\"Service\",\"props\":{\"annotations\":{\"a\":\"/\",\"z\":\"\\u0001\\\"\"},\"name\":\"caf\xc3\xa9\"}}\n"
		"{\"src\":\"s:1\",\"dst\":\"s:1\",\"type\":\"CALLS\",\"props\":{\"error_rate\":1e-7,\"request_rate\":10}}\n"
		"{\"src\":\"s:1\",\"dst\":\"a:1\",\"type\":\"DEFINED_IN\",\"props\":{\"path\":\"catalog-info.yaml\"}}\n"
		"{\"resource\":\"s:1\",\"day\":\"2026-10-01\",\"amount\":0.1,\"currency\":\"EUR\",\"billed\":0.2}\n";
	assert_string_equal(out, want);
	/* export is a fixed point: import it again into the same store, same export */
	assert_int_equal(import_text(f, out, &d), 0);
	fp = fopen(path, "w+");
	st_snap_begin(f->st, &s, &d);
	assert_int_equal(st_snap_revision(s), 2);
	assert_int_equal(st_export(s, fp, fp, fp, &d), 0);
	st_snap_end(s);
	rewind(fp);
	char out2[4096];
	n = fread(out2, 1, sizeof(out2) - 1, fp);
	out2[n] = '\0';
	fclose(fp);
	assert_string_equal(out, out2);
	verify(f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_empty_store, setup, teardown),
		cmocka_unit_test_setup_teardown(test_batch_and_reads, setup, teardown),
		cmocka_unit_test_setup_teardown(test_scans, setup, teardown),
		cmocka_unit_test_setup_teardown(test_neighbours_by_type, setup, teardown),
		cmocka_unit_test_setup_teardown(test_failed_commit_changes_nothing, setup, teardown),
		cmocka_unit_test_setup_teardown(test_validation, setup, teardown),
		cmocka_unit_test_setup_teardown(test_upsert_and_provenance, setup, teardown),
		cmocka_unit_test_setup_teardown(test_snapshot_isolation, setup, teardown),
		cmocka_unit_test_setup_teardown(test_costs, setup, teardown),
		cmocka_unit_test_setup_teardown(test_delete_cascades, setup, teardown),
		cmocka_unit_test_setup_teardown(test_readonly_and_reopen, setup, teardown),
		cmocka_unit_test_setup_teardown(test_import_errors_keep_store, setup, teardown),
		cmocka_unit_test_setup_teardown(test_import_pending_origin_across_files, setup, teardown),
		cmocka_unit_test_setup_teardown(test_import_export_round_trip, setup, teardown),
		cmocka_unit_test_setup_teardown(test_node_ref_keeps_declared_props, setup, teardown),
		cmocka_unit_test_setup_teardown(test_retire_unseen, setup, teardown),
		cmocka_unit_test_setup_teardown(test_source_status, setup, teardown),
		cmocka_unit_test_setup_teardown(test_complete_sync_replaces_costs, setup, teardown),
	};
	return cmocka_run_group_tests_name("store", tests, NULL, NULL);
}
