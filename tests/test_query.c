/*
 * test_query.c — unit tests of the ownership, cost and search queries
 * (query/owners.c, cost.c, search.c) on hand-built graphs and on the bundled
 * example estate (examples/estate, whose README lists answers computed
 * independently of stacktwin).  Traversals (blast radius, paths) are tested
 * in test_traverse.c.
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

#include "jsonl.h"
#include "props.h"
#include "query.h"
#include "schema.h"
#include "store.h"

#include "fixture.h"

static const st_loc LOC = {"test", 1};

/* A node with string properties given as key, value pairs ending in NULL. */
static void add_node(st_batch *b, fx *f, const char *id, const char *type, ...)
{
	st_pb pb;
	st_pb_init(&pb);
	va_list ap;
	va_start(ap, type);
	const char *k;
	while ((k = va_arg(ap, const char *))) {
		const char *v = va_arg(ap, const char *);
		assert_int_equal(st_pb_string(&pb, k, strlen(k), v, strlen(v)), 0);
	}
	va_end(ap);
	const uint8_t *blob;
	size_t len;
	st_diag d;
	assert_int_equal(st_pb_finish(&pb, &blob, &len, &d), 0);
	if (st_batch_node(b, id, strlen(id), NT(f, type), blob, len, LOC, &d))
		fail_msg("st_batch_node %s: %s", id, d.msg);
	st_pb_free(&pb);
}

static void add_edge(st_batch *b, fx *f, const char *s, const char *d2, const char *type)
{
	st_diag d;
	if (st_batch_edge(b, s, strlen(s), d2, strlen(d2), ET(f, type), NULL, 0, LOC, &d))
		fail_msg("st_batch_edge %s->%s: %s", s, d2, d.msg);
}

static int32_t day(const char *s)
{
	int32_t d;
	assert_int_equal(st_day_parse(s, strlen(s), &d), 0);
	return d;
}

static uint16_t cur(const char *c)
{
	uint16_t code;
	assert_int_equal(st_currency_parse(c, 3, &code), 0);
	return code;
}

static void add_cost(st_batch *b, const char *res, int32_t d, const char *currency, int64_t eff,
		     int64_t billed)
{
	st_diag dg;
	if (st_batch_cost(b, res, strlen(res), d, cur(currency), eff, billed, LOC, &dg))
		fail_msg("st_batch_cost %s: %s", res, dg.msg);
}

static st_batch *begin(fx *f)
{
	st_batch *b;
	st_diag d;
	assert_int_equal(st_batch_begin(f->st, "test", &b, &d), 0);
	return b;
}

static void commit_and_snap(fx *f, st_batch *b)
{
	uint64_t rev;
	st_diag d;
	if (st_batch_commit(b, &rev, &d))
		fail_msg("commit: %s", d.msg);
	assert_int_equal(st_snap_begin(f->st, &f->s, &d), 0);
}

static st_id ID(fx *f, const char *id)
{
	st_id x = 0;
	if (st_snap_lookup(f->s, id, strlen(id), &x))
		fail_msg("no node %s", id);
	return x;
}

static const char *KEY(fx *f, st_id id, char *buf)
{
	st_node n;
	assert_int_equal(st_snap_node(f->s, id, &n), 0);
	memcpy(buf, n.key, n.key_len);
	buf[n.key_len] = '\0';
	return buf;
}

/* owner(id) as "claim:owner1,owner2" with string ids */
static void owner_str(fx *f, const char *id, char *out, size_t cap)
{
	st_owner_result *r = NULL;
	st_diag d;
	if (st_owner(f->s, ID(f, id), &r, &d))
		fail_msg("st_owner %s: %s", id, d.msg);
	static const char *const cl[] = {"none", "self", "owns", "inherited"};
	size_t n = (size_t)snprintf(out, cap, "%s:", cl[r->claim]);
	for (size_t i = 0; i < r->n_owners; i++) {
		char k[ST_NODE_ID_MAX + 1];
		n += (size_t)snprintf(out + n, cap - n, "%s%s", i ? "," : "", KEY(f, r->owners[i], k));
	}
	assert_int_equal(r->conflict, r->n_owners > 1);
	if (r->claim != ST_CLAIM_INHERITED)
		assert_int_equal(r->n_chain, 0);
	st_owner_result_free(r);
}

#define assert_owner(f, id, want)                                                    \
	do {                                                                         \
		char _b[512];                                                        \
		owner_str(f, id, _b, sizeof(_b));                                    \
		if (strcmp(_b, want))                                                \
			fail_msg("owner(%s) = '%s', want '%s'", id, _b, want);       \
	} while (0)

/* chain of owner(id) as "a -E-> b -E-> c" */
static void chain_str(fx *f, const char *id, char *out, size_t cap)
{
	st_owner_result *r = NULL;
	st_diag d;
	assert_int_equal(st_owner(f->s, ID(f, id), &r, &d), 0);
	size_t n = 0;
	out[0] = '\0';
	for (size_t i = 0; i < r->n_chain; i++) {
		char k[ST_NODE_ID_MAX + 1];
		n += (size_t)snprintf(out + n, cap - n, "%s", KEY(f, r->chain[i], k));
		if (i + 1 < r->n_chain) {
			const st_edge_type *et = st_schema_edge_type(f->schema, (size_t)r->chain_edges[i]);
			assert_non_null(et);
			n += (size_t)snprintf(out + n, cap - n, " -%s-> ", et->name);
		} else {
			assert_int_equal(r->chain_edges[i], -1);
		}
	}
	st_owner_result_free(r);
}

#define assert_chain(f, id, want)                                                    \
	do {                                                                         \
		char _b[1024];                                                       \
		chain_str(f, id, _b, sizeof(_b));                                    \
		if (strcmp(_b, want))                                                \
			fail_msg("chain(%s) = '%s', want '%s'", id, _b, want);       \
	} while (0)

/* ------------------------------------------------------------ owners */

static void build_owner_graph(fx *f)
{
	st_batch *b = begin(f);
	add_node(b, f, "team:a", "Team", NULL);
	add_node(b, f, "team:b", "Team", NULL);
	add_node(b, f, "team:sub", "Team", NULL);
	add_edge(b, f, "team:sub", "team:a", "PART_OF");
	add_node(b, f, "user:u", "User", NULL);
	add_edge(b, f, "user:u", "team:b", "MEMBER_OF");
	/* two levels of PART_OF: svc -> system:s -> domain:d (OWNS by team:a) */
	add_node(b, f, "domain:d", "Domain", NULL);
	add_edge(b, f, "team:a", "domain:d", "OWNS");
	add_node(b, f, "system:s", "System", NULL);
	add_edge(b, f, "system:s", "domain:d", "PART_OF");
	add_node(b, f, "service:svc", "Service", NULL);
	add_edge(b, f, "service:svc", "system:s", "PART_OF");
	/* direct OWNS beats inheritance; two owners: conflict */
	add_node(b, f, "service:dup", "Service", NULL);
	add_edge(b, f, "team:b", "service:dup", "OWNS");
	add_edge(b, f, "team:a", "service:dup", "OWNS");
	add_edge(b, f, "service:dup", "system:s", "PART_OF");
	/* RUNS then PART_OF: Deployment -> Service -> System owned by team:b */
	add_node(b, f, "system:s2", "System", NULL);
	add_edge(b, f, "team:b", "system:s2", "OWNS");
	add_node(b, f, "service:svc2", "Service", NULL);
	add_edge(b, f, "service:svc2", "system:s2", "PART_OF");
	add_node(b, f, "k8s:c", "KubernetesCluster", NULL);
	add_edge(b, f, "user:u", "k8s:c", "OWNS");
	add_node(b, f, "k8s:c/ns", "KubernetesNamespace", "cluster", "c", NULL);
	add_edge(b, f, "k8s:c/ns", "k8s:c", "SCOPED_IN");
	add_node(b, f, "k8s:c/ns/Deployment/svc2", "KubernetesDeployment", "cluster", "c",
		 "namespace", "ns", NULL);
	add_edge(b, f, "k8s:c/ns/Deployment/svc2", "service:svc2", "RUNS");
	add_edge(b, f, "k8s:c/ns/Deployment/svc2", "k8s:c/ns", "SCOPED_IN");
	/* CONTROLLED_BY chain from a Pod */
	add_node(b, f, "k8s:c/ns/ReplicaSet/svc2-1", "KubernetesReplicaSet", "cluster", "c",
		 "namespace", "ns", NULL);
	add_edge(b, f, "k8s:c/ns/ReplicaSet/svc2-1", "k8s:c/ns/Deployment/svc2", "CONTROLLED_BY");
	add_node(b, f, "k8s:c/ns/Pod/svc2-1-x", "KubernetesPod", "cluster", "c", "namespace", "ns",
		 NULL);
	add_edge(b, f, "k8s:c/ns/Pod/svc2-1-x", "k8s:c/ns/ReplicaSet/svc2-1", "CONTROLLED_BY");
	add_edge(b, f, "k8s:c/ns/Pod/svc2-1-x", "k8s:c/ns", "SCOPED_IN");
	/* only SCOPED_IN: inherits the namespace's (here: the cluster's) owner */
	add_node(b, f, "k8s:c/ns/Deployment/loose", "KubernetesDeployment", "cluster", "c",
		 "namespace", "ns", NULL);
	add_edge(b, f, "k8s:c/ns/Deployment/loose", "k8s:c/ns", "SCOPED_IN");
	/* SAME_AS: billing resource -> Terraform resource owned by team:b */
	add_node(b, f, "tf:x", "CloudResource", "resource_type", "aws_s3_bucket", NULL);
	add_edge(b, f, "team:b", "tf:x", "OWNS");
	add_node(b, f, "bill:x", "BillingResource", NULL);
	add_edge(b, f, "bill:x", "tf:x", "SAME_AS");
	/* unowned: nothing at all, and a system nobody owns */
	add_node(b, f, "service:orphan", "Service", NULL);
	add_node(b, f, "system:nobody", "System", NULL);
	add_node(b, f, "service:lost", "Service", NULL);
	add_edge(b, f, "service:lost", "system:nobody", "PART_OF");
	/* PART_OF cycle without a way out, and one with a way out */
	add_node(b, f, "system:c1", "System", NULL);
	add_node(b, f, "system:c2", "System", NULL);
	add_edge(b, f, "system:c1", "system:c2", "PART_OF");
	add_edge(b, f, "system:c2", "system:c1", "PART_OF");
	add_node(b, f, "system:c3", "System", NULL);
	add_node(b, f, "system:c4", "System", NULL);
	add_edge(b, f, "system:c3", "system:c4", "PART_OF");
	add_edge(b, f, "system:c4", "system:c3", "PART_OF");
	add_edge(b, f, "system:c4", "domain:d", "PART_OF");
	/* several targets of the deciding kind: union (conflict) */
	add_node(b, f, "service:multi", "Service", NULL);
	add_edge(b, f, "service:multi", "system:s", "PART_OF");
	add_edge(b, f, "service:multi", "system:s2", "PART_OF");
	/* a service PART_OF a team directly */
	add_node(b, f, "service:inteam", "Service", NULL);
	add_edge(b, f, "service:inteam", "team:sub", "PART_OF");
	/* the first kind present decides: RUNS to an unowned service wins over
	 * SCOPED_IN to an owned namespace */
	add_node(b, f, "k8s:c/ns/Deployment/orphan", "KubernetesDeployment", "cluster", "c",
		 "namespace", "ns", NULL);
	add_edge(b, f, "k8s:c/ns/Deployment/orphan", "service:orphan", "RUNS");
	add_edge(b, f, "k8s:c/ns/Deployment/orphan", "k8s:c/ns", "SCOPED_IN");
	commit_and_snap(f, b);
}

static void test_owner_claims(void **state)
{
	fx *f = *state;
	build_owner_graph(f);
	assert_owner(f, "team:a", "self:team:a");
	assert_owner(f, "team:sub", "self:team:sub"); /* a team owns itself, not its parent */
	assert_owner(f, "domain:d", "owns:team:a");
	assert_owner(f, "service:dup", "owns:team:a,team:b");
	assert_owner(f, "system:s", "inherited:team:a");
	assert_owner(f, "service:svc", "inherited:team:a");
	assert_chain(f, "service:svc", "service:svc -PART_OF-> system:s -PART_OF-> domain:d");
	assert_owner(f, "k8s:c/ns/Deployment/svc2", "inherited:team:b");
	assert_chain(f, "k8s:c/ns/Deployment/svc2",
		     "k8s:c/ns/Deployment/svc2 -RUNS-> service:svc2 -PART_OF-> system:s2");
	assert_owner(f, "k8s:c/ns/Pod/svc2-1-x", "inherited:team:b");
	assert_chain(f, "k8s:c/ns/Pod/svc2-1-x",
		     "k8s:c/ns/Pod/svc2-1-x -CONTROLLED_BY-> k8s:c/ns/ReplicaSet/svc2-1 "
		     "-CONTROLLED_BY-> k8s:c/ns/Deployment/svc2 -RUNS-> service:svc2 "
		     "-PART_OF-> system:s2");
	assert_owner(f, "k8s:c", "owns:user:u");
	assert_owner(f, "k8s:c/ns/Deployment/loose", "inherited:user:u");
	assert_chain(f, "k8s:c/ns/Deployment/loose",
		     "k8s:c/ns/Deployment/loose -SCOPED_IN-> k8s:c/ns -SCOPED_IN-> k8s:c");
	assert_owner(f, "bill:x", "inherited:team:b");
	assert_chain(f, "bill:x", "bill:x -SAME_AS-> tf:x");
	assert_owner(f, "service:orphan", "none:");
	assert_owner(f, "service:lost", "none:");
	assert_owner(f, "user:u", "none:");
	assert_owner(f, "system:c1", "none:");
	assert_owner(f, "system:c2", "none:");
	assert_owner(f, "system:c3", "inherited:team:a");
	assert_owner(f, "system:c4", "inherited:team:a");
	assert_owner(f, "service:multi", "inherited:team:a,team:b");
	assert_owner(f, "service:inteam", "inherited:team:sub");
	assert_owner(f, "k8s:c/ns/Deployment/orphan", "none:");

	st_owner_result *r = NULL;
	st_diag d;
	assert_int_equal(st_owner(f->s, 999999, &r, &d), ST_E_NOTFOUND);
	assert_null(r);
	st_owner_result_free(NULL);
}

typedef struct all_ids {
	st_id *v;
	size_t n;
	int *type;
} all_ids;

static int collect_node(const st_node *n, void *ctx)
{
	all_ids *a = ctx;
	a->v = realloc(a->v, (a->n + 1) * sizeof(st_id));
	a->type = realloc(a->type, (a->n + 1) * sizeof(int));
	a->v[a->n] = n->id;
	a->type[a->n++] = n->type;
	return 0;
}

static bool in_list(const st_id *v, size_t n, st_id x)
{
	for (size_t i = 0; i < n; i++)
		if (v[i] == x)
			return true;
	return false;
}

/* For every node that is not a team: owner in owner(node) <=> node in
 * owned_by(owner); lists ascending; direct == OWNS targets. */
static void check_owned_by_consistent(fx *f, const char *owner_id)
{
	st_id t = ID(f, owner_id);
	st_owned_result *o = NULL;
	st_diag d;
	if (st_owned_by(f->s, t, 0, &o, &d))
		fail_msg("owned_by %s: %s", owner_id, d.msg);
	assert_int_equal(o->team, t);
	for (size_t i = 1; i < o->n_direct; i++)
		assert_true(o->direct[i - 1] < o->direct[i]);
	for (size_t i = 1; i < o->n_inherited; i++)
		assert_true(o->inherited[i - 1] < o->inherited[i]);
	all_ids a = {0};
	assert_int_equal(st_snap_scan_nodes(f->s, collect_node, &a), 0);
	int team = NT(f, "Team");
	size_t hits = 0;
	for (size_t i = 0; i < a.n; i++) {
		st_owner_result *r = NULL;
		assert_int_equal(st_owner(f->s, a.v[i], &r, &d), 0);
		bool owns = in_list(r->owners, r->n_owners, t);
		bool dir = in_list(o->direct, o->n_direct, a.v[i]);
		bool inh = in_list(o->inherited, o->n_inherited, a.v[i]);
		assert_false(dir && inh);
		if (a.type[i] != team) {
			if (owns != (dir || inh)) {
				char k[ST_NODE_ID_MAX + 1];
				fail_msg("%s: owner includes %s: %d, owned_by lists it: %d",
					 KEY(f, a.v[i], k), owner_id, owns, dir || inh);
			}
			if (dir)
				assert_int_equal(r->claim, ST_CLAIM_OWNS);
			if (inh)
				assert_int_equal(r->claim, ST_CLAIM_INHERITED);
			hits += owns;
		}
		st_owner_result_free(r);
	}
	assert_int_equal(hits, o->n_inherited + o->n_direct);
	free(a.v);
	free(a.type);
	st_owned_result_free(o);
}

static void test_owned_by(void **state)
{
	fx *f = *state;
	build_owner_graph(f);
	check_owned_by_consistent(f, "team:a");
	check_owned_by_consistent(f, "team:b");
	check_owned_by_consistent(f, "team:sub");
	check_owned_by_consistent(f, "user:u");

	st_owned_result *o = NULL;
	st_diag d;
	assert_int_equal(st_owned_by(f->s, ID(f, "team:a"), 0, &o, &d), 0);
	/* domain:d, service:dup */
	assert_int_equal(o->n_direct, 2);
	/* system:s, service:svc, system:c3, system:c4, service:multi */
	assert_int_equal(o->n_inherited, 5);
	assert_true(in_list(o->inherited, o->n_inherited, ID(f, "service:svc")));
	assert_false(in_list(o->inherited, o->n_inherited, ID(f, "service:inteam")));
	st_owned_result_free(o);
	o = NULL;
	assert_int_equal(st_owned_by(f->s, ID(f, "team:a"), 3, &o, &d), ST_E_LIMIT);
	assert_null(o);
	assert_int_equal(st_owned_by(f->s, 999999, 0, &o, &d), ST_E_NOTFOUND);
	st_owned_result_free(NULL);
}

/* ------------------------------------------------------------ cost */

static void build_cost_graph(fx *f)
{
	st_batch *b = begin(f);
	add_node(b, f, "team:t1", "Team", NULL);
	add_node(b, f, "team:t2", "Team", NULL);
	add_node(b, f, "domain:dm", "Domain", NULL);
	add_node(b, f, "system:sy", "System", NULL);
	add_edge(b, f, "system:sy", "domain:dm", "PART_OF");
	add_node(b, f, "service:p", "Service", NULL);
	add_edge(b, f, "service:p", "system:sy", "PART_OF");
	add_edge(b, f, "team:t1", "service:p", "OWNS");
	add_node(b, f, "service:q", "Service", NULL);
	add_edge(b, f, "team:t2", "service:q", "OWNS");
	add_node(b, f, "service:conf", "Service", NULL);
	add_edge(b, f, "team:t2", "service:conf", "OWNS");
	add_edge(b, f, "team:t1", "service:conf", "OWNS");
	add_edge(b, f, "service:conf", "system:sy", "PART_OF");
	add_node(b, f, "service:nobody", "Service", NULL);
	add_node(b, f, "tf:4", "CloudResource", "resource_type", "aws_instance", NULL);
	add_edge(b, f, "tf:4", "service:q", "BILLED_TO");
	for (int i = 1; i <= 7; i++) {
		char id[16];
		snprintf(id, sizeof(id), "bill:%d", i);
		add_node(b, f, id, "BillingResource", NULL);
	}
	add_edge(b, f, "bill:1", "service:p", "BILLED_TO");
	add_edge(b, f, "bill:2", "team:t2", "BILLED_TO");
	/* bill:3: no BILLED_TO at all -> unattributed */
	add_edge(b, f, "bill:4", "tf:4", "SAME_AS"); /* billed through its SAME_AS */
	add_edge(b, f, "bill:5", "service:q", "BILLED_TO");
	add_edge(b, f, "bill:5", "service:p", "BILLED_TO"); /* two: smallest id (p) */
	add_edge(b, f, "bill:6", "service:conf", "BILLED_TO");
	add_edge(b, f, "bill:7", "service:nobody", "BILLED_TO");

	int32_t D = day("2026-10-01");
	add_cost(b, "bill:1", D - 1, "USD", 1000, 1000); /* before the window */
	add_cost(b, "bill:1", D, "USD", 100, 150);        /* first day: in */
	add_cost(b, "bill:1", D + 5, "USD", -50, -50);    /* a credit */
	add_cost(b, "bill:1", D + 9, "USD", 200, 250);    /* last day: in */
	add_cost(b, "bill:1", D + 10, "USD", 5000, 5000); /* `to` itself: out */
	add_cost(b, "bill:2", D + 1, "USD", 300, 300);
	add_cost(b, "bill:2", D + 1, "EUR", 7, 9);
	add_cost(b, "bill:3", D + 2, "USD", 40, 41);
	add_cost(b, "bill:4", D + 3, "EUR", 11, 13);
	add_cost(b, "bill:5", D + 4, "USD", 5, 6);
	add_cost(b, "bill:6", D + 5, "USD", 1000, 1100);
	add_cost(b, "bill:7", D + 6, "USD", 60, 60);
	commit_and_snap(f, b);
	/* the fixture relies on creation order for "smallest id" */
	assert_true(ID(f, "service:p") < ID(f, "service:q"));
	assert_true(ID(f, "team:t1") < ID(f, "team:t2"));
}

static st_cost_result *rollup(fx *f, int32_t from, int32_t to, st_group g, st_metric m)
{
	st_cost_result *r = NULL;
	st_diag d;
	if (st_cost_rollup(f->s, from, to, g, m, &r, &d))
		fail_msg("rollup: %s", d.msg);
	/* ordering: currency, amount descending, group; (group, currency) unique */
	for (size_t i = 1; i < r->n_rows; i++) {
		const st_cost_row *a = &r->rows[i - 1], *b = &r->rows[i];
		assert_true(a->currency < b->currency ||
			    (a->currency == b->currency &&
			     (a->amount > b->amount || (a->amount == b->amount && a->group < b->group))));
	}
	/* totals are the sums of the rows */
	for (size_t t = 0; t < r->n_totals; t++) {
		int64_t sum = 0;
		uint64_t facts = 0;
		for (size_t i = 0; i < r->n_rows; i++)
			if (r->rows[i].currency == r->totals[t].currency) {
				sum += r->rows[i].amount;
				facts += r->rows[i].facts;
			}
		assert_int_equal(sum, r->totals[t].amount);
		assert_int_equal(facts, r->totals[t].facts);
	}
	return r;
}

/* amount of a row (group id string or NULL for unattributed); -1 facts if absent */
static int64_t row(fx *f, const st_cost_result *r, const char *group, const char *currency,
		   uint64_t *ret_facts)
{
	st_id g = group ? ID(f, group) : ST_ID_NONE;
	for (size_t i = 0; i < r->n_rows; i++)
		if (r->rows[i].group == g && r->rows[i].currency == cur(currency)) {
			if (ret_facts)
				*ret_facts = r->rows[i].facts;
			return r->rows[i].amount;
		}
	fail_msg("no row %s %s", group ? group : "(unattributed)", currency);
	return 0;
}

static int64_t total(const st_cost_result *r, const char *currency)
{
	for (size_t i = 0; i < r->n_totals; i++)
		if (r->totals[i].currency == cur(currency))
			return r->totals[i].amount;
	fail_msg("no total %s", currency);
	return 0;
}

typedef struct indep {
	int32_t from, to;
	int64_t usd, eur, usd_b, eur_b;
	uint64_t n;
	uint16_t cu_usd, cu_eur;
} indep;

static int indep_cb(st_id res, const st_cost *c, size_t n, void *ctx)
{
	(void)res;
	indep *x = ctx;
	for (size_t i = 0; i < n; i++) {
		if (c[i].day < x->from || c[i].day >= x->to)
			continue;
		x->n++;
		if (c[i].currency == x->cu_usd) {
			x->usd += c[i].effective;
			x->usd_b += c[i].billed;
		} else {
			x->eur += c[i].effective;
			x->eur_b += c[i].billed;
		}
	}
	return 0;
}

/* The window's sums computed independently, resource by resource. */
static indep independent_sums(fx *f, int32_t from, int32_t to)
{
	indep x = {.from = from, .to = to, .cu_usd = cur("USD"), .cu_eur = cur("EUR")};
	all_ids a = {0};
	assert_int_equal(st_snap_scan_nodes(f->s, collect_node, &a), 0);
	for (size_t i = 0; i < a.n; i++)
		assert_int_equal(st_snap_costs_of(f->s, a.v[i], indep_cb, &x), 0);
	free(a.v);
	free(a.type);
	return x;
}

static void test_cost_small(void **state)
{
	fx *f = *state;
	build_cost_graph(f);
	int32_t D = day("2026-10-01");
	uint64_t n;

	st_cost_result *r = rollup(f, D, D + 10, ST_GROUP_TEAM, ST_METRIC_EFFECTIVE);
	assert_int_equal(row(f, r, "team:t1", "USD", &n), 250 + 5 + 1000);
	assert_int_equal(n, 5);
	assert_int_equal(row(f, r, "team:t2", "USD", &n), 300);
	assert_int_equal(n, 1);
	assert_int_equal(row(f, r, NULL, "USD", &n), 40 + 60); /* no BILLED_TO; unowned target */
	assert_int_equal(n, 2);
	assert_int_equal(row(f, r, "team:t2", "EUR", &n), 7 + 11);
	assert_int_equal(n, 2);
	assert_int_equal(r->n_rows, 4);
	assert_int_equal(r->n_totals, 2);
	indep x = independent_sums(f, D, D + 10);
	assert_int_equal(total(r, "USD"), x.usd);
	assert_int_equal(total(r, "EUR"), x.eur);
	assert_int_equal(total(r, "USD"), 1655);
	assert_int_equal(total(r, "EUR"), 18);
	assert_int_equal(r->totals[0].facts + r->totals[1].facts, x.n);
	st_cost_result_free(r);

	r = rollup(f, D, D + 10, ST_GROUP_TEAM, ST_METRIC_BILLED);
	assert_int_equal(row(f, r, "team:t1", "USD", NULL), 350 + 6 + 1100);
	assert_int_equal(row(f, r, "team:t2", "USD", NULL), 300);
	assert_int_equal(row(f, r, NULL, "USD", NULL), 41 + 60);
	assert_int_equal(row(f, r, "team:t2", "EUR", NULL), 9 + 13);
	assert_int_equal(total(r, "USD"), x.usd_b);
	assert_int_equal(total(r, "EUR"), x.eur_b);
	st_cost_result_free(r);

	r = rollup(f, D, D + 10, ST_GROUP_SERVICE, ST_METRIC_EFFECTIVE);
	assert_int_equal(row(f, r, "service:p", "USD", NULL), 250 + 5);
	assert_int_equal(row(f, r, "team:t2", "USD", NULL), 300);
	assert_int_equal(row(f, r, "service:conf", "USD", NULL), 1000);
	assert_int_equal(row(f, r, "service:nobody", "USD", NULL), 60);
	assert_int_equal(row(f, r, NULL, "USD", NULL), 40);
	assert_int_equal(row(f, r, "team:t2", "EUR", NULL), 7);
	assert_int_equal(row(f, r, "service:q", "EUR", NULL), 11);
	assert_int_equal(r->n_rows, 7);
	st_cost_result_free(r);

	r = rollup(f, D, D + 10, ST_GROUP_SYSTEM, ST_METRIC_EFFECTIVE);
	assert_int_equal(row(f, r, "system:sy", "USD", NULL), 1255);
	assert_int_equal(row(f, r, NULL, "USD", NULL), 400);
	assert_int_equal(row(f, r, NULL, "EUR", NULL), 18);
	assert_int_equal(r->n_rows, 3);
	st_cost_result_free(r);

	r = rollup(f, D, D + 10, ST_GROUP_DOMAIN, ST_METRIC_EFFECTIVE);
	assert_int_equal(row(f, r, "domain:dm", "USD", NULL), 1255);
	assert_int_equal(row(f, r, NULL, "USD", NULL), 400);
	assert_int_equal(row(f, r, NULL, "EUR", NULL), 18);
	assert_int_equal(r->n_rows, 3);
	st_cost_result_free(r);

	r = rollup(f, D, D + 10, ST_GROUP_RESOURCE, ST_METRIC_EFFECTIVE);
	assert_int_equal(row(f, r, "bill:1", "USD", &n), 250);
	assert_int_equal(n, 3);
	assert_int_equal(row(f, r, "bill:3", "USD", NULL), 40);
	assert_int_equal(r->n_rows, 8);
	st_cost_result_free(r);

	/* window edges: `from` inclusive, `to` exclusive */
	r = rollup(f, D + 9, D + 10, ST_GROUP_TEAM, ST_METRIC_EFFECTIVE);
	assert_int_equal(r->n_rows, 1);
	assert_int_equal(row(f, r, "team:t1", "USD", NULL), 200);
	st_cost_result_free(r);
	r = rollup(f, D - 1, D, ST_GROUP_TEAM, ST_METRIC_EFFECTIVE);
	assert_int_equal(r->n_rows, 1);
	assert_int_equal(row(f, r, "team:t1", "USD", NULL), 1000);
	st_cost_result_free(r);
	r = rollup(f, D - 1, D + 11, ST_GROUP_TEAM, ST_METRIC_EFFECTIVE);
	assert_int_equal(total(r, "USD"), 1655 + 1000 + 5000);
	x = independent_sums(f, D - 1, D + 11);
	assert_int_equal(total(r, "USD"), x.usd);
	st_cost_result_free(r);

	/* empty windows */
	r = rollup(f, D, D, ST_GROUP_TEAM, ST_METRIC_EFFECTIVE);
	assert_int_equal(r->n_rows, 0);
	assert_int_equal(r->n_totals, 0);
	st_cost_result_free(r);
	r = rollup(f, D + 5, D + 1, ST_GROUP_TEAM, ST_METRIC_EFFECTIVE);
	assert_int_equal(r->n_rows, 0);
	st_cost_result_free(r);
	r = rollup(f, day("2030-01-01"), day("2030-02-01"), ST_GROUP_TEAM, ST_METRIC_EFFECTIVE);
	assert_int_equal(r->n_rows, 0);
	st_cost_result_free(r);

	st_diag d;
	r = NULL;
	assert_int_equal(st_cost_rollup(f->s, D, D + 1, (st_group)42, ST_METRIC_EFFECTIVE, &r, &d),
			 ST_E_INVALID);
	assert_null(r);
	st_cost_result_free(NULL);
}

/* ------------------------------------------------------- example estate */

static void load_estate(fx *f)
{
	const char *paths[3] = {ST_SOURCE_ROOT "/examples/estate/nodes.jsonl",
				ST_SOURCE_ROOT "/examples/estate/edges.jsonl",
				ST_SOURCE_ROOT "/examples/estate/costs.jsonl"};
	st_import_result res;
	st_diag d;
	if (st_import_files(f->st, "import", paths, 3, &res, &d))
		fail_msg("import: %s", d.msg);
	assert_int_equal(res.nodes, 113);
	assert_int_equal(res.edges, 226);
	assert_int_equal(res.costs, 390);
	assert_int_equal(st_snap_begin(f->st, &f->s, &d), 0);
}

static int64_t money(const char *s)
{
	int64_t v;
	assert_int_equal(st_money_parse(s, strlen(s), &v), 0);
	return v;
}

static void test_estate_owners(void **state)
{
	fx *f = *state;
	load_estate(f);
	assert_owner(f, "service:frontend", "owns:team:catalog,team:checkout");
	assert_owner(f, "service:catalog", "owns:team:catalog");
	static const struct {
		const char *id, *owner;
	} want[] = {
		{"service:search", "team:catalog"},
		{"service:recommendations", "team:catalog"},
		{"service:checkout", "team:checkout"},
		{"service:cart", "team:checkout"},
		{"service:payments", "team:payments"},
		{"service:email", "team:platform"},
		{"service:currency", "team:platform"},
		{"system:storefront", "team:catalog"},
		{"system:messaging", "team:platform"},
		{"system:shared-services", "team:platform"},
		{"domain:platform", "team:platform"},
		{"api:payments-api", "team:payments"},
		{"api:checkout-api", "team:checkout"},
		{"api:catalog-api", "team:catalog"},
		{"api:currency-api", "team:platform"},
		{"resource:payments-db", "team:payments"},
		{"resource:product-images", "team:catalog"},
		{"k8s:prod", "user:heidi"},
	};
	for (size_t i = 0; i < ST_ARRAY_LEN(want); i++) {
		char b[512];
		owner_str(f, want[i].id, b, sizeof(b));
		const char *colon = strchr(b, ':');
		if (strcmp(colon + 1, want[i].owner))
			fail_msg("owner(%s) = '%s', want '%s'", want[i].id, b, want[i].owner);
	}
	assert_owner(f, "service:shipping", "none:");
	assert_owner(f, "system:orders", "none:");
	assert_owner(f, "domain:commerce", "none:");
	assert_owner(f, "team:payments", "self:team:payments");
	/* source objects reach the logical layer */
	assert_owner(f, "k8s:prod/shop/Deployment/payments", "inherited:team:payments");
	assert_owner(f, "tf:prod/aws_db_instance.payments", "inherited:team:payments");
	check_owned_by_consistent(f, "team:catalog");
	check_owned_by_consistent(f, "team:checkout");
	check_owned_by_consistent(f, "team:payments");
	check_owned_by_consistent(f, "team:platform");
	check_owned_by_consistent(f, "user:heidi");
}

static void test_estate_cost(void **state)
{
	fx *f = *state;
	load_estate(f);
	int32_t from = day("2026-10-01"), to = day("2026-10-31");
	st_cost_result *r = rollup(f, from, to, ST_GROUP_TEAM, ST_METRIC_EFFECTIVE);
	assert_int_equal(row(f, r, "team:catalog", "USD", NULL), money("428.028383"));
	assert_int_equal(row(f, r, "team:checkout", "USD", NULL), money("148.32"));
	assert_int_equal(row(f, r, "team:payments", "USD", NULL), money("226.911318"));
	assert_int_equal(row(f, r, "team:platform", "USD", NULL), money("495.144236"));
	/* unattributed: the NAT gateway (no BILLED_TO) + service:shipping (no owner) */
	assert_int_equal(row(f, r, NULL, "USD", NULL), money("89.367392") + money("3.544494"));
	assert_int_equal(row(f, r, "team:platform", "EUR", NULL), money("15.9"));
	assert_int_equal(total(r, "USD"), money("1391.315823"));
	assert_int_equal(total(r, "EUR"), money("15.9"));
	assert_int_equal(r->n_rows, 6);
	assert_int_equal(r->totals[0].facts + r->totals[1].facts, 390);
	st_cost_result_free(r);

	r = rollup(f, from, to, ST_GROUP_TEAM, ST_METRIC_BILLED);
	assert_int_equal(row(f, r, "team:catalog", "USD", NULL), money("428.028383"));
	assert_int_equal(row(f, r, "team:checkout", "USD", NULL), money("148.32"));
	assert_int_equal(row(f, r, "team:payments", "USD", NULL), money("348.54063"));
	assert_int_equal(row(f, r, "team:platform", "USD", NULL), money("621.6131"));
	assert_int_equal(row(f, r, NULL, "USD", NULL), money("89.367392") + money("3.544494"));
	assert_int_equal(total(r, "USD"), money("1639.413999"));
	assert_int_equal(total(r, "EUR"), money("15.9"));
	st_cost_result_free(r);

	r = rollup(f, from, to, ST_GROUP_SERVICE, ST_METRIC_EFFECTIVE);
	assert_int_equal(row(f, r, "service:shipping", "USD", NULL), money("3.544494"));
	assert_int_equal(row(f, r, "service:search", "USD", NULL), money("322.950512"));
	assert_int_equal(row(f, r, "service:payments", "USD", NULL),
			 money("225.883008") + money("1.02831"));
	assert_int_equal(row(f, r, NULL, "USD", NULL), money("89.367392"));
	assert_int_equal(row(f, r, "service:email", "EUR", NULL), money("15.9"));
	st_cost_result_free(r);

	r = rollup(f, from, to, ST_GROUP_RESOURCE, ST_METRIC_BILLED);
	assert_int_equal(row(f, r, "bill:hetzner/server-31415926", "EUR", NULL), money("15.9"));
	assert_int_equal(r->n_rows, 13);
	assert_int_equal(total(r, "USD"), money("1639.413999"));
	st_cost_result_free(r);

	/* systems: storefront = catalog + search; orders = cart + payments +
	 * shipping; messaging = email (EUR); the team:platform charges have no system */
	r = rollup(f, from, to, ST_GROUP_SYSTEM, ST_METRIC_EFFECTIVE);
	assert_int_equal(row(f, r, "system:storefront", "USD", NULL), money("428.028383"));
	assert_int_equal(row(f, r, "system:orders", "USD", NULL),
			 money("148.32") + money("226.911318") + money("3.544494"));
	assert_int_equal(row(f, r, NULL, "USD", NULL), money("495.144236") + money("89.367392"));
	assert_int_equal(row(f, r, "system:messaging", "EUR", NULL), money("15.9"));
	assert_int_equal(total(r, "USD"), money("1391.315823"));
	st_cost_result_free(r);

	r = rollup(f, from, to, ST_GROUP_DOMAIN, ST_METRIC_EFFECTIVE);
	assert_int_equal(row(f, r, "domain:commerce", "USD", NULL),
			 money("428.028383") + money("148.32") + money("226.911318") +
				 money("3.544494"));
	assert_int_equal(row(f, r, "domain:platform", "EUR", NULL), money("15.9"));
	assert_int_equal(total(r, "USD"), money("1391.315823"));
	st_cost_result_free(r);
}

/* ------------------------------------------------------------ search */

static void search_str(fx *f, const st_search_opts *o, char *out, size_t cap, bool *trunc)
{
	st_search_result *r = NULL;
	st_diag d;
	if (st_search(f->s, o, &r, &d))
		fail_msg("search: %s", d.msg);
	size_t n = 0;
	out[0] = '\0';
	for (size_t i = 0; i < r->n_ids; i++) {
		char k[ST_NODE_ID_MAX + 1];
		n += (size_t)snprintf(out + n, cap - n, "%s%s", i ? " " : "", KEY(f, r->ids[i], k));
	}
	if (trunc)
		*trunc = r->truncated;
	st_search_result_free(r);
}

#define assert_search(f, o, want, want_trunc)                                        \
	do {                                                                         \
		char _b[8192];                                                       \
		bool _t;                                                             \
		search_str(f, o, _b, sizeof(_b), &_t);                               \
		if (strcmp(_b, want))                                                \
			fail_msg("search = '%s', want '%s'", _b, want);              \
		assert_int_equal(_t, want_trunc);                                    \
	} while (0)

static void test_search(void **state)
{
	fx *f = *state;
	load_estate(f);
	st_search_opts o = {.type = -1};
	o.id_prefix = "team:";
	assert_search(f, &o, "team:catalog team:checkout team:payments team:platform", false);
	o.limit = 2;
	assert_search(f, &o, "team:catalog team:checkout", true);
	o.limit = 4;
	assert_search(f, &o, "team:catalog team:checkout team:payments team:platform", false);

	o = (st_search_opts){.type = NT(f, "Team")};
	assert_search(f, &o, "team:catalog team:checkout team:payments team:platform", false);
	o.limit = 3;
	assert_search(f, &o, "team:catalog team:checkout team:payments", true);

	o = (st_search_opts){.type = -1, .name = "PAY"};
	assert_search(f, &o,
		      "api:payments-api git:github.com/acme-shop/payments "
		      "k8s:prod/shop/Deployment/payments k8s:prod/shop/Pod/payments-g6bvrswbfl-fg54r "
		      "k8s:prod/shop/Pod/payments-g6bvrswbfl-ltmtd "
		      "k8s:prod/shop/ReplicaSet/payments-g6bvrswbfl k8s:prod/shop/Service/payments "
		      "resource:payments-db service:payments team:payments "
		      "tf:prod/aws_db_instance.payments tf:prod/aws_kms_key.payments",
		      false);
	o.type = NT(f, "Service");
	assert_search(f, &o, "service:payments", false);
	o = (st_search_opts){.type = -1, .name = "PAY", .id_prefix = "k8s:prod/shop/P"};
	assert_search(f, &o,
		      "k8s:prod/shop/Pod/payments-g6bvrswbfl-fg54r "
		      "k8s:prod/shop/Pod/payments-g6bvrswbfl-ltmtd",
		      false);

	/* map entry by dotted name: the Service only has it in `selector` */
	o = (st_search_opts){.type = -1, .prop = "labels.app.kubernetes.io/name", .value = "payments"};
	assert_search(f, &o,
		      "k8s:prod/shop/Deployment/payments k8s:prod/shop/Pod/payments-g6bvrswbfl-fg54r "
		      "k8s:prod/shop/Pod/payments-g6bvrswbfl-ltmtd "
		      "k8s:prod/shop/ReplicaSet/payments-g6bvrswbfl",
		      false);
	/* a list entry */
	o = (st_search_opts){.type = -1, .prop = "tags", .value = "orders"};
	assert_search(f, &o, "service:cart service:checkout service:payments service:shipping", false);
	/* a string property, AND-ed with a type */
	o = (st_search_opts){.type = NT(f, "API"), .prop = "api_type", .value = "openapi"};
	assert_search(f, &o, "api:checkout-api", false);
	o = (st_search_opts){.type = -1, .prop = "lifecycle", .value = "production", .limit = 1000};
	char b[8192];
	search_str(f, &o, b, sizeof(b), NULL);
	size_t words = 1;
	for (const char *p = b; *p; p++)
		words += *p == ' ';
	assert_int_equal(words, 19);
	/* nothing */
	o = (st_search_opts){.type = -1, .id_prefix = "zzz"};
	assert_search(f, &o, "", false);
	o = (st_search_opts){.type = -1, .prop = "tags", .value = "nope"};
	assert_search(f, &o, "", false);

	st_search_result *r = NULL;
	st_diag d;
	o = (st_search_opts){.type = -1, .value = "x"};
	assert_int_equal(st_search(f->s, &o, &r, &d), ST_E_INVALID);
	assert_null(r);
	st_search_result_free(NULL);
}

static void assert_suggest(fx *f, const char *q, const char *want)
{
	st_id out[5];
	size_t n = st_suggest(f->s, q, strlen(q), out, 5);
	assert_true(n >= 1);
	char k[ST_NODE_ID_MAX + 1];
	if (strcmp(KEY(f, out[0], k), want))
		fail_msg("suggest(%s)[0] = '%s', want '%s'", q, k, want);
}

static void test_suggest(void **state)
{
	fx *f = *state;
	load_estate(f);
	assert_suggest(f, "service:payment", "service:payments");
	assert_suggest(f, "servce:payments", "service:payments");
	assert_suggest(f, "service:paymnets", "service:payments");
	assert_suggest(f, "service:paymentsx", "service:payments");
	assert_suggest(f, "Service:payments", "service:payments");
	assert_suggest(f, "team:platfrom", "team:platform");
	st_id out[2];
	assert_int_equal(st_suggest(f->s, "zzzzzzzzzzzzzzzzzzzz", 20, out, 2), 0);
	assert_int_equal(st_suggest(f->s, "service:payment", 15, out, 0), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_owner_claims, setup, teardown),
		cmocka_unit_test_setup_teardown(test_owned_by, setup, teardown),
		cmocka_unit_test_setup_teardown(test_cost_small, setup, teardown),
		cmocka_unit_test_setup_teardown(test_estate_owners, setup, teardown),
		cmocka_unit_test_setup_teardown(test_estate_cost, setup, teardown),
		cmocka_unit_test_setup_teardown(test_search, setup, teardown),
		cmocka_unit_test_setup_teardown(test_suggest, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
