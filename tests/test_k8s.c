/*
 * test_k8s.c — the Kubernetes connector (connectors/k8s.c) and the manifest
 * set's live kinds (connectors/manifest.c) against a loopback API server
 * (tests/data/k8s/apiserver.py serving tests/data/k8s/cluster.json), dump
 * directories written here, and, when present, the real samples in
 * /work/shared/fixtures/k8s-api and /work/shared/fixtures/kubeconfig (skipped
 * with a printed reason when absent).
 *
 * Each test starts its own server (a child process, killed by its pid) in a
 * fresh temporary directory that holds the kubeconfig and the request log.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "manifest.h"
#include "record_sink.h"
#include "spawn.h"

#define DATA ST_SOURCE_ROOT "/tests/data/k8s/"
#define FIX_API "/work/shared/fixtures/k8s-api"
#define FIX_KC "/work/shared/fixtures/kubeconfig"
#define TOKEN "s3cret-token-4711"
#define C "k8s:test/"

static st_schema *schema;

/* ---- helpers ---------------------------------------------------------------- */

typedef struct srv {
	pid_t pid;
	int port;
	char dir[64];
	char kc[128], log[128];
} srv;

/* The file's content, "" when it is missing. */
static char *read_all(const char *path)
{
	char *b = sp_read_all(path, NULL);
	return b ? b : strdup("");
}

static size_t count_str(const char *hay, const char *needle)
{
	size_t n = 0;
	for (const char *p = hay; (p = strstr(p, needle)); p++)
		n++;
	return n;
}

static void mktmp(srv *s)
{
	snprintf(s->dir, sizeof(s->dir), "/tmp/test_k8s.XXXXXX");
	assert_non_null(mkdtemp(s->dir));
	snprintf(s->kc, sizeof(s->kc), "%s/kubeconfig", s->dir);
	snprintf(s->log, sizeof(s->log), "%s/requests.log", s->dir);
}

/* Start apiserver.py with extra args (NULL-terminated); fills port. */
static void start(srv *s, ...)
{
	const char *argv[32] = {"python3", DATA "apiserver.py",
				"--data",  DATA "cluster.json",
				"--token", TOKEN,
				"--log",   s->log};
	int n = 8;
	va_list ap;
	va_start(ap, s);
	const char *a;
	while ((a = va_arg(ap, const char *)) && n < 30)
		argv[n++] = a;
	va_end(ap);
	argv[n] = NULL;
	if (sp_start_port(argv, &s->pid, &s->port))
		fail_msg("apiserver.py did not start");
}

static void stop(srv *s)
{
	sp_stop(&s->pid);
	assert_int_equal(sp_rmrf(s->dir), 0);
}

/* A kubeconfig for server URL with `user_yaml` as the user entry's body. */
static void kubeconfig(srv *s, const char *server, const char *cluster_extra, const char *user_yaml)
{
	sp_write_file(s->kc,
		      "apiVersion: v1\n"
		      "kind: Config\n"
		      "clusters:\n"
		      "- name: other\n"
		      "  cluster: {server: 'http://127.0.0.1:1'}\n"
		      "- name: test\n"
		      "  cluster:\n"
		      "    server: %s\n"
		      "%s"
		      "contexts:\n"
		      "- name: other-ctx\n"
		      "  context: {cluster: other, user: ci}\n"
		      "- name: test-ctx\n"
		      "  context: {cluster: test, user: ci, namespace: shop}\n"
		      "current-context: test-ctx\n"
		      "preferences: {}\n"
		      "users:\n"
		      "- name: ci\n"
		      "  user:\n"
		      "%s",
		      server, cluster_extra ? cluster_extra : "", user_yaml);
}

static void kubeconfig_http(srv *s, const char *user_yaml)
{
	char url[64];
	snprintf(url, sizeof(url), "http://127.0.0.1:%d", s->port);
	kubeconfig(s, url, NULL, user_yaml);
}

typedef struct k_run {
	rs_sink rs;
	st_diag d;
	int rc;
} k_run;

static void run_loc(k_run *t, const char *location, const st_kv *opts, size_t n_opts,
		    double timeout)
{
	memset(t, 0, sizeof(*t));
	rs_init(&t->rs, schema);
	t->rs.sink.note = rs_note;
	st_source src = {.name = "live",
			 .kind = "k8s",
			 .location = location,
			 .options = opts,
			 .n_options = n_opts,
			 .timeout_s = timeout};
	t->rc = st_connector_k8s.run(&src, &t->rs.sink, &t->d);
}

static void k_free(k_run *t)
{
	rs_free(&t->rs);
}

static size_t count_type(const rs_sink *r, const char *node_type)
{
	int t = st_schema_find_node_type(schema, node_type, strlen(node_type));
	size_t n = 0;
	for (size_t i = 0; i < r->n; i++)
		n += r->facts[i].kind == 'n' && r->facts[i].type == t;
	return n;
}

static size_t count_edges(const rs_sink *r, const char *edge_type)
{
	int t = st_schema_find_edge_type(schema, edge_type, strlen(edge_type));
	size_t n = 0;
	for (size_t i = 0; i < r->n; i++)
		n += r->facts[i].kind == 'e' && r->facts[i].type == t;
	return n;
}

static size_t count_hints_on(const rs_sink *r, const char *id)
{
	size_t n = 0;
	for (size_t i = 0; i < r->n; i++)
		n += r->facts[i].kind == 'h' && !strcmp(r->facts[i].id, id);
	return n;
}

/* No recorded fact or message holds `secret`. */
static void assert_nowhere(const k_run *t, const char *secret)
{
	assert_null(strstr(t->d.msg, secret));
	for (size_t i = 0; i < t->rs.n; i++) {
		const rs_fact *f = &t->rs.facts[i];
		const char *s[] = {f->id, f->dst, f->origin, f->rule, f->evidence};
		for (size_t j = 0; j < 5; j++)
			if (s[j] && strstr(s[j], secret))
				fail_msg("'%s' found in a fact", secret);
		for (size_t k = 0; f->props && k + strlen(secret) <= f->props_len; k++)
			if (!memcmp(f->props + k, secret, strlen(secret)))
				fail_msg("'%s' found in the props of %s", secret, f->id);
	}
}

/* ---- the live API --------------------------------------------------------------- */

static void test_list_everything(void **state)
{
	(void)state;
	srv s;
	mktmp(&s);
	start(&s, NULL);
	kubeconfig_http(&s, "    token: " TOKEN "\n");
	st_kv opts[] = {{"page_size", "2"}, {"cluster", "test"}};
	k_run t;
	run_loc(&t, s.kc, opts, 2, 5);
	if (t.rc)
		fail_msg("run: %s", t.d.msg);
	rs_sink *r = &t.rs;

	/* the cluster, declared with server and version */
	const rs_fact *cl = rs_find_node(r, "k8s:test");
	char url[64];
	snprintf(url, sizeof(url), "http://127.0.0.1:%d", s.port);
	rs_assert_prop(cl, "server", url);
	rs_assert_prop(cl, "version", "v1.31.4");
	rs_assert_prop(cl, "name", "test");
	assert_string_equal(cl->origin, "live:/version");

	/* every kind */
	assert_int_equal(count_type(r, "KubernetesNamespace"), 2);
	assert_int_equal(count_type(r, "KubernetesNode"), 2);
	assert_int_equal(count_type(r, "KubernetesDeployment"), 3);
	assert_int_equal(count_type(r, "KubernetesReplicaSet"), 3);
	assert_int_equal(count_type(r, "KubernetesStatefulSet"), 1);
	assert_int_equal(count_type(r, "KubernetesDaemonSet"), 1);
	assert_int_equal(count_type(r, "KubernetesCronJob"), 1);
	assert_int_equal(count_type(r, "KubernetesJob"), 2);
	assert_int_equal(count_type(r, "KubernetesPod"), 9);
	assert_int_equal(count_type(r, "KubernetesService"), 4);
	assert_int_equal(count_type(r, "KubernetesIngress"), 1);
	assert_int_equal(rs_count_kind(r, 'n'), 30);
	assert_int_equal(rs_count_kind(r, 'w'), 0);
	assert_int_equal(rs_count_kind(r, 'o'), 0);

	/* properties */
	const rs_fact *d = rs_find_node(r, C "shop/Deployment/cart");
	rs_assert_prop(d, "replicas", "2");
	rs_assert_prop(d, "image", "ghcr.io/acme/cart:2.8.0");
	rs_assert_prop(d, "uid", "uid-shop-cart");
	rs_assert_prop(d, "namespace", "shop");
	rs_assert_prop(d, "cluster", "test");
	rs_assert_prop(d, "annotations",
		       "backstage.io/kubernetes-id=cart-svc,deployment.kubernetes.io/revision=3");
	assert_string_equal(d->origin, "live:/apis/apps/v1/deployments");
	assert_int_equal(d->line, 0);
	const rs_fact *p = rs_find_node(r, C "shop/Pod/cart-7d4b5-aaaaa");
	rs_assert_prop(p, "phase", "Running");
	rs_assert_prop(p, "node_name", "node-a");
	rs_assert_prop(p, "image", "ghcr.io/acme/cart:2.8.0");
	rs_assert_prop(p, "labels", "app=cart,pod-template-hash=7d4b5");
	assert_string_equal(p->origin, "live:/api/v1/pods");
	rs_assert_prop(rs_find_node(r, C "platform/Pod/migrate-db-z"), "phase", "Pending");
	const rs_fact *n = rs_find_node(r, C "Node/node-a");
	rs_assert_prop(n, "instance_type", "m6i.xlarge");
	rs_assert_prop(n, "zone", "eu-west-1a");
	rs_assert_prop(n, "provider_id", "aws:///eu-west-1a/i-0a4f1c2e9b7d35e01");
	rs_assert_prop(n, "name", "node-a");
	n = rs_find_node(r, C "Node/node-b"); /* the deprecated beta labels */
	rs_assert_prop(n, "instance_type", "m5.large");
	rs_assert_prop(n, "zone", "eu-west-1b");
	rs_assert_prop(rs_find_node(r, C "shop/Service/cart"), "selector", "app=cart");
	rs_assert_prop(rs_find_node(r, C "shop/Service/payments-ext"), "service_type",
		       "ExternalName");
	rs_assert_prop(rs_find_node(r, C "shop/Ingress/web"), "hosts",
		       "shop.example.com,www.shop.example.com");
	rs_assert_prop(rs_find_node(r, C "shop"), "labels",
		       "kubernetes.io/metadata.name=shop,team=payments");
	rs_assert_prop(rs_find_node(r, C "platform/CronJob/nightly-report"), "image",
		       "ghcr.io/acme/report:1.1");

	/* CONTROLLED_BY along ownerReferences */
	const char *ctl[][2] = {
		{"shop/Pod/cart-7d4b5-aaaaa", "shop/ReplicaSet/cart-7d4b5"},
		{"shop/ReplicaSet/cart-7d4b5", "shop/Deployment/cart"},
		{"shop/ReplicaSet/checkout-5f6", "shop/Deployment/checkout"},
		{"shop/Pod/redis-0", "shop/StatefulSet/redis"},
		{"platform/Pod/node-exporter-x1", "platform/DaemonSet/node-exporter"},
		{"platform/Job/nightly-report-28000000", "platform/CronJob/nightly-report"},
		{"platform/Pod/nightly-report-28000000-q", "platform/Job/nightly-report-28000000"},
		{"platform/Pod/migrate-db-z", "platform/Job/migrate-db"},
	};
	for (size_t i = 0; i < ST_ARRAY_LEN(ctl); i++) {
		char a[160], b[160];
		snprintf(a, sizeof(a), C "%s", ctl[i][0]);
		snprintf(b, sizeof(b), C "%s", ctl[i][1]);
		if (!rs_find_edge(r, a, "CONTROLLED_BY", b))
			fail_msg("no CONTROLLED_BY %s -> %s", a, b);
	}
	/* 7 pods with a known owner + 3 ReplicaSets - the stale one + 1 Job */
	assert_int_equal(count_edges(r, "CONTROLLED_BY"), 7 + 2 + 1);
	/* the owner's uid differs: a namesake, no edge */
	assert_null(rs_find_edge(r, C "platform/ReplicaSet/currency-abc", "CONTROLLED_BY",
				 C "platform/Deployment/currency"));

	/* RUNS_ON: pods on nodes that exist */
	assert_non_null(rs_find_edge(r, C "shop/Pod/cart-7d4b5-aaaaa", "RUNS_ON", C "Node/node-a"));
	assert_non_null(rs_find_edge(r, C "shop/Pod/cart-7d4b5-bbbbb", "RUNS_ON", C "Node/node-b"));
	assert_null(rs_find_edge(r, C "platform/Pod/lost-1", "RUNS_ON", C "Node/node-gone"));
	assert_int_equal(count_edges(r, "RUNS_ON"), 7);

	/* SELECTS workloads by pod template labels; never ReplicaSets */
	assert_non_null(
		rs_find_edge(r, C "shop/Service/cart", "SELECTS", C "shop/Deployment/cart"));
	assert_non_null(
		rs_find_edge(r, C "shop/Service/redis", "SELECTS", C "shop/StatefulSet/redis"));
	assert_non_null(rs_find_edge(r, C "platform/Service/currency", "SELECTS",
				     C "platform/Deployment/currency"));
	assert_null(
		rs_find_edge(r, C "shop/Service/cart", "SELECTS", C "shop/ReplicaSet/cart-7d4b5"));
	assert_int_equal(count_edges(r, "SELECTS"), 3);

	/* ROUTES_TO and SCOPED_IN */
	assert_non_null(rs_find_edge(r, C "shop/Ingress/web", "ROUTES_TO", C "shop/Service/cart"));
	assert_non_null(rs_find_edge(r, C "shop/Pod/redis-0", "SCOPED_IN", C "shop"));
	assert_non_null(rs_find_edge(r, C "Node/node-a", "SCOPED_IN", "k8s:test"));
	assert_non_null(rs_find_edge(r, C "platform", "SCOPED_IN", "k8s:test"));
	assert_int_equal(count_edges(r, "SCOPED_IN"), 29);

	/* hints on top-level workloads only */
	const char *cart = C "shop/Deployment/cart";
	const rs_fact *h = rs_find_hint(r, cart, ST_HINT_SERVICE, "cart");
	assert_non_null(h);
	assert_string_equal(h->rule, "k8s-label-name");
	assert_string_equal(h->evidence, "label app.kubernetes.io/name=cart");
	h = rs_find_hint(r, cart, ST_HINT_SERVICE, "cart-svc");
	assert_non_null(h);
	assert_string_equal(h->rule, "backstage-kubernetes-id");
	assert_string_equal(rs_find_hint(r, cart, ST_HINT_SYSTEM, "acme-shop")->rule,
			    "k8s-label-part-of");
	assert_string_equal(rs_find_hint(r, cart, ST_HINT_TEAM, "payments")->rule,
			    "k8s-label-team");
	h = rs_find_hint(r, C "shop/Deployment/checkout", ST_HINT_TEAM, "checkout-team");
	assert_non_null(h);
	assert_string_equal(h->rule, "k8s-label-owner");
	h = rs_find_hint(r, C "shop/Deployment/checkout", ST_HINT_SERVICE, "checkout");
	assert_non_null(h);
	assert_string_equal(h->evidence, "label app=checkout");
	assert_non_null(rs_find_hint(r, C "shop/StatefulSet/redis", ST_HINT_SERVICE, "redis-cart"));
	assert_non_null(rs_find_hint(r, C "platform/DaemonSet/node-exporter", ST_HINT_SYSTEM,
				     "monitoring"));
	assert_non_null(
		rs_find_hint(r, C "platform/CronJob/nightly-report", ST_HINT_SERVICE, "report"));
	assert_non_null(rs_find_hint(r, C "platform/Job/migrate-db", ST_HINT_SERVICE, "migrate"));
	assert_int_equal(count_hints_on(r, C "platform/Job/nightly-report-28000000"), 0);
	assert_int_equal(count_hints_on(r, C "shop/ReplicaSet/cart-7d4b5"), 0);
	assert_int_equal(count_hints_on(r, C "shop/Pod/cart-7d4b5-aaaaa"), 0);

	/* the applied manifest annotation (env values) is never kept */
	assert_nowhere(&t, "sk-live-DO-NOT-STORE");
	assert_nowhere(&t, "last-applied-configuration");
	assert_nowhere(&t, TOKEN);

	/* pagination: 9 pods at 2 a page = 5 pages, 4 with a continue token */
	char *log = read_all(s.log);
	assert_int_equal(count_str(log, "GET /api/v1/pods?limit=2"), 5);
	assert_int_equal(count_str(log, "GET /api/v1/pods?limit=2&continue="), 4);
	assert_int_equal(count_str(log, "GET /version"), 1);
	assert_int_equal(count_str(log, "GET /apis/networking.k8s.io/v1/ingresses?limit=2"), 1);
	free(log);
	k_free(&t);

	/* default cluster name: the context's cluster; default page size 500 */
	run_loc(&t, s.kc, NULL, 0, 5);
	assert_int_equal(t.rc, 0);
	assert_non_null(rs_find_node(&t.rs, "k8s:test/shop/Deployment/cart"));
	log = read_all(s.log);
	assert_int_equal(count_str(log, "GET /api/v1/pods?limit=500"), 1);
	free(log);
	k_free(&t);

	/* option context picks another context; its server is down */
	st_kv ctx = {"context", "other-ctx"};
	run_loc(&t, s.kc, &ctx, 1, 2);
	assert_true(t.rc < 0);
	assert_non_null(strstr(t.d.msg, "http://127.0.0.1:1/version"));
	k_free(&t);
	st_kv bad = {"context", "nope"};
	run_loc(&t, s.kc, &bad, 1, 2);
	assert_int_equal(t.rc, ST_E_NOTFOUND);
	assert_non_null(strstr(t.d.msg, "no context 'nope'"));
	k_free(&t);
	st_kv unknown = {"namespace", "shop"};
	run_loc(&t, s.kc, &unknown, 1, 2);
	assert_int_equal(t.rc, ST_E_INVALID);
	assert_non_null(strstr(t.d.msg, "unknown option 'namespace'"));
	k_free(&t);
	stop(&s);
}

static void test_auth_errors(void **state)
{
	(void)state;
	srv s;
	mktmp(&s);
	start(&s, "--forbid", "pods", "--basic", "alice:pw-9931", NULL);
	k_run t;

	/* a wrong token: 401 names the user entry, never the value */
	kubeconfig_http(&s, "    token: wrong-token-0815\n");
	run_loc(&t, s.kc, NULL, 0, 5);
	assert_int_equal(t.rc, ST_E_IO);
	assert_non_null(strstr(t.d.msg, "HTTP 401"));
	assert_non_null(strstr(t.d.msg, "user 'ci' (token from kubeconfig)"));
	assert_non_null(strstr(t.d.msg, "the API says \"Unauthorized\""));
	assert_nowhere(&t, "wrong-token-0815");
	assert_int_equal(rs_count_kind(&t.rs, 'n'), 0);
	k_free(&t);

	/* tokenFile, relative to the kubeconfig's directory */
	char tf[160];
	snprintf(tf, sizeof(tf), "%s/tok", s.dir);
	sp_write_file(tf, "wrong-from-file-77\n");
	kubeconfig_http(&s, "    tokenFile: tok\n");
	run_loc(&t, s.kc, NULL, 0, 5);
	assert_int_equal(t.rc, ST_E_IO);
	assert_non_null(strstr(t.d.msg, "(token file "));
	assert_non_null(strstr(t.d.msg, tf));
	assert_nowhere(&t, "wrong-from-file-77");
	k_free(&t);

	/* the right token in the file: 403 on pods quotes the Status message */
	sp_write_file(tf, TOKEN "\n");
	run_loc(&t, s.kc, NULL, 0, 5);
	assert_int_equal(t.rc, ST_E_IO);
	assert_non_null(strstr(t.d.msg, "HTTP 403 (forbidden)"));
	assert_non_null(strstr(t.d.msg, "/api/v1/pods"));
	assert_non_null(strstr(t.d.msg, "pods is forbidden: User \\\"ci\\\"") ||
			strstr(t.d.msg, "pods is forbidden: User \"ci\""));
	assert_nowhere(&t, TOKEN);
	k_free(&t);

	/* a missing token file */
	kubeconfig_http(&s, "    tokenFile: /nonexistent/tok\n");
	run_loc(&t, s.kc, NULL, 0, 5);
	assert_int_equal(t.rc, ST_E_INVALID);
	assert_non_null(strstr(t.d.msg, "tokenFile /nonexistent/tok"));
	k_free(&t);

	/* basic auth: a wrong password names the user name, not the password */
	kubeconfig_http(&s, "    username: alice\n    password: nope-1234\n");
	run_loc(&t, s.kc, NULL, 0, 5);
	assert_int_equal(t.rc, ST_E_IO);
	assert_non_null(strstr(t.d.msg, "basic auth as 'alice'"));
	assert_nowhere(&t, "nope-1234");
	k_free(&t);
	kubeconfig_http(&s, "    username: alice\n    password: pw-9931\n");
	run_loc(&t, s.kc, NULL, 0, 5);
	assert_int_equal(t.rc, ST_E_IO); /* past auth: the 403 on pods */
	assert_non_null(strstr(t.d.msg, "HTTP 403"));
	k_free(&t);

	/* exec and auth-provider users are refused before any request */
	kubeconfig_http(&s, "    exec:\n      apiVersion: client.authentication.k8s.io/v1\n"
			    "      command: aws\n      args: [eks, get-token]\n");
	run_loc(&t, s.kc, NULL, 0, 5);
	assert_int_equal(t.rc, ST_E_INVALID);
	assert_string_equal(t.d.msg, "source 'live': exec credential plugins are not supported "
				     "(user 'ci'); use a token");
	k_free(&t);
	kubeconfig_http(&s, "    auth-provider:\n      name: gcp\n");
	run_loc(&t, s.kc, NULL, 0, 5);
	assert_int_equal(t.rc, ST_E_INVALID);
	assert_non_null(strstr(t.d.msg, "auth-provider plugins are not supported (user 'ci')"));
	k_free(&t);

	/* the source's token_env wins over the kubeconfig user */
	kubeconfig_http(&s, "    token: wrong\n");
	setenv("K8S_TEST_TOKEN", "also-wrong-5", 1);
	memset(&t, 0, sizeof(t));
	rs_init(&t.rs, schema);
	st_source src = {.name = "live",
			 .kind = "k8s",
			 .location = s.kc,
			 .token_env = "K8S_TEST_TOKEN",
			 .timeout_s = 5};
	t.rc = st_connector_k8s.run(&src, &t.rs.sink, &t.d);
	assert_int_equal(t.rc, ST_E_IO);
	assert_non_null(strstr(t.d.msg, "the token from environment variable K8S_TEST_TOKEN"));
	assert_nowhere(&t, "also-wrong-5");
	k_free(&t);
	stop(&s);
}

static void test_gone_restart(void **state)
{
	(void)state;
	srv s;
	mktmp(&s);
	start(&s, "--expire", "pods:once", NULL);
	kubeconfig_http(&s, "    token: " TOKEN "\n");
	st_kv opts[] = {{"page_size", "4"}};
	k_run t;
	run_loc(&t, s.kc, opts, 1, 5);
	if (t.rc)
		fail_msg("run: %s", t.d.msg);
	/* restarted once; no pod twice */
	assert_int_equal(count_type(&t.rs, "KubernetesPod"), 9);
	char *log = read_all(s.log);
	assert_int_equal(count_str(log, "GET /api/v1/pods?limit=4\n"), 2);
	free(log);
	k_free(&t);
	stop(&s);

	mktmp(&s);
	start(&s, "--expire", "pods:always", NULL);
	kubeconfig_http(&s, "    token: " TOKEN "\n");
	run_loc(&t, s.kc, opts, 1, 5);
	assert_int_equal(t.rc, ST_E_IO);
	assert_non_null(strstr(t.d.msg, "HTTP 410 Gone"));
	assert_non_null(strstr(t.d.msg, "again after a restart"));
	k_free(&t);
	stop(&s);
}

static void test_namespaces_option(void **state)
{
	(void)state;
	srv s;
	mktmp(&s);
	start(&s, NULL);
	kubeconfig_http(&s, "    token: " TOKEN "\n");
	st_kv opts[] = {{"namespaces", "shop"}};
	k_run t;
	run_loc(&t, s.kc, opts, 1, 5);
	if (t.rc)
		fail_msg("run: %s", t.d.msg);
	for (size_t i = 0; i < t.rs.n; i++)
		if (t.rs.facts[i].kind == 'n')
			assert_null(strstr(t.rs.facts[i].id, "platform"));
	assert_int_equal(count_type(&t.rs, "KubernetesNamespace"), 1);
	assert_int_equal(count_type(&t.rs, "KubernetesPod"), 4);
	assert_int_equal(count_type(&t.rs, "KubernetesNode"), 2); /* cluster-wide */
	rs_assert_prop(rs_find_node(&t.rs, C "shop"), "labels",
		       "kubernetes.io/metadata.name=shop,team=payments");
	char *log = read_all(s.log);
	assert_int_equal(count_str(log, "GET /api/v1/namespaces/shop\n"), 1);
	assert_int_equal(count_str(log, "GET /api/v1/namespaces/shop/pods?limit="), 1);
	assert_int_equal(count_str(log, "GET /apis/apps/v1/namespaces/shop/deployments?"), 1);
	assert_int_equal(count_str(log, "GET /api/v1/pods"), 0);
	free(log);
	k_free(&t);

	/* a namespace that does not exist: 404 with the Status message */
	st_kv o2[] = {{"namespaces", "shop, nope"}};
	run_loc(&t, s.kc, o2, 1, 5);
	assert_int_equal(t.rc, ST_E_IO);
	assert_non_null(strstr(t.d.msg, "HTTP 404"));
	assert_non_null(strstr(t.d.msg, "namespaces \\\"nope\\\" not found") ||
			strstr(t.d.msg, "namespaces \"nope\" not found"));
	k_free(&t);
	st_kv o3[] = {{"namespaces", "Bad/Name"}};
	run_loc(&t, s.kc, o3, 1, 5);
	assert_int_equal(t.rc, ST_E_INVALID);
	k_free(&t);
	stop(&s);
}

static void test_network_errors(void **state)
{
	(void)state;
	srv s;
	mktmp(&s);
	/* a listener that never answers: the stall times out */
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
	assert_int_equal(listen(fd, 4), 0);
	socklen_t al = sizeof(a);
	getsockname(fd, (struct sockaddr *)&a, &al);
	s.port = ntohs(a.sin_port);
	kubeconfig_http(&s, "    token: " TOKEN "\n");
	k_run t;
	run_loc(&t, s.kc, NULL, 0, 1);
	assert_int_equal(t.rc, ST_E_IO);
	assert_non_null(strstr(t.d.msg, "timed out after 1 s"));
	assert_nowhere(&t, TOKEN);
	k_free(&t);
	close(fd); /* now nobody listens there: refused */
	run_loc(&t, s.kc, NULL, 0, 1);
	assert_int_equal(t.rc, ST_E_IO);
	assert_non_null(strstr(t.d.msg, "/version: Couldn't connect to server"));
	k_free(&t);

	/* user info in the server URL is masked in messages */
	kubeconfig(&s, "http://u:pw-in-url-77@127.0.0.1:1", NULL, "    token: " TOKEN "\n");
	run_loc(&t, s.kc, NULL, 0, 1);
	assert_int_equal(t.rc, ST_E_IO);
	assert_non_null(strstr(t.d.msg, "GET http://***@127.0.0.1:1/version"));
	assert_nowhere(&t, "pw-in-url-77");
	k_free(&t);

	/* not a kubeconfig / no server */
	sp_write_file(s.kc, "clusters: [\n");
	run_loc(&t, s.kc, NULL, 0, 1);
	assert_int_equal(t.rc, ST_E_INVALID);
	assert_non_null(strstr(t.d.msg, "kubeconfig"));
	k_free(&t);
	stop(&s);
}

/* $KUBECONFIG for an empty location, "-" too; a list of files merges. */
static void test_kubeconfig_env(void **state)
{
	(void)state;
	srv s;
	mktmp(&s);
	start(&s, NULL);
	kubeconfig_http(&s, "    token: " TOKEN "\n");
	char first[160], env[800];
	snprintf(first, sizeof(first), "%s/first", s.dir);
	/* the first file sets current-context; the context lives in the second */
	sp_write_file(first, "apiVersion: v1\nkind: Config\ncurrent-context: test-ctx\n");
	snprintf(env, sizeof(env), "%s:%s/missing:%s:%s/missing2", first, s.dir, s.kc, s.dir);
	setenv("KUBECONFIG", env, 1);
	k_run t;
	run_loc(&t, "", NULL, 0, 5);
	if (t.rc)
		fail_msg("run: %s", t.d.msg);
	assert_int_equal(count_type(&t.rs, "KubernetesPod"), 9);
	k_free(&t);
	run_loc(&t, "-", NULL, 0, 5);
	assert_int_equal(t.rc, 0);
	k_free(&t);
	unsetenv("KUBECONFIG");
	stop(&s);
}

/* TLS: a self-signed CA made with openssl; CA data, CA file, insecure,
 * and in-cluster with sa_dir. */
static void test_tls_and_in_cluster(void **state)
{
	(void)state;
	srv s;
	mktmp(&s);
	char cmd[1024];
	snprintf(cmd, sizeof(cmd),
		 "cd '%s' && openssl req -x509 -newkey rsa:2048 -nodes -keyout key.pem -out "
		 "ca.crt -days 2 -subj /CN=127.0.0.1 -addext subjectAltName=IP:127.0.0.1 "
		 ">/dev/null 2>&1 && base64 -w0 ca.crt > ca.b64 && echo '" TOKEN "' > token",
		 s.dir);
	if (system(cmd) != 0) {
		print_message("skipped: openssl could not make a certificate\n");
		stop(&s);
		skip();
	}
	char cert[160], key[160];
	snprintf(cert, sizeof(cert), "%s/ca.crt", s.dir);
	snprintf(key, sizeof(key), "%s/key.pem", s.dir);
	start(&s, "--tls", cert, key, NULL);
	char url[64], extra[4096], p[160];
	snprintf(url, sizeof(url), "https://127.0.0.1:%d", s.port);
	snprintf(p, sizeof(p), "%s/ca.b64", s.dir);
	char *b64 = read_all(p);
	k_run t;

	/* no CA: verification fails */
	kubeconfig(&s, url, NULL, "    token: " TOKEN "\n");
	run_loc(&t, s.kc, NULL, 0, 5);
	assert_int_equal(t.rc, ST_E_IO);
	k_free(&t);
	/* certificate-authority-data */
	snprintf(extra, sizeof(extra), "    certificate-authority-data: %s\n", b64);
	kubeconfig(&s, url, extra, "    token: " TOKEN "\n");
	run_loc(&t, s.kc, NULL, 0, 5);
	if (t.rc)
		fail_msg("run: %s", t.d.msg);
	assert_int_equal(count_type(&t.rs, "KubernetesPod"), 9);
	k_free(&t);
	/* certificate-authority (relative path) */
	kubeconfig(&s, url, "    certificate-authority: ca.crt\n", "    token: " TOKEN "\n");
	run_loc(&t, s.kc, NULL, 0, 5);
	assert_int_equal(t.rc, 0);
	k_free(&t);
	/* insecure-skip-tls-verify */
	kubeconfig(&s, url, "    insecure-skip-tls-verify: true\n", "    token: " TOKEN "\n");
	run_loc(&t, s.kc, NULL, 0, 5);
	assert_int_equal(t.rc, 0);
	k_free(&t);
	/* bad base64 */
	kubeconfig(&s, url, "    certificate-authority-data: not*base64\n",
		   "    token: " TOKEN "\n");
	run_loc(&t, s.kc, NULL, 0, 5);
	assert_int_equal(t.rc, ST_E_INVALID);
	assert_string_equal(t.d.msg, "source 'live': kubeconfig cluster 'test': "
				     "certificate-authority-data is not valid base64");
	k_free(&t);

	/* in-cluster: token and ca.crt from sa_dir, server from the environment */
	char port[16];
	snprintf(port, sizeof(port), "%d", s.port);
	st_kv opts[] = {{"sa_dir", s.dir}};
	unsetenv("KUBERNETES_SERVICE_HOST");
	run_loc(&t, "in-cluster", opts, 1, 5);
	assert_int_equal(t.rc, ST_E_INVALID);
	assert_non_null(strstr(t.d.msg, "KUBERNETES_SERVICE_HOST"));
	k_free(&t);
	setenv("KUBERNETES_SERVICE_HOST", "127.0.0.1", 1);
	setenv("KUBERNETES_SERVICE_PORT", port, 1);
	run_loc(&t, "in-cluster", opts, 1, 5);
	if (t.rc)
		fail_msg("run: %s", t.d.msg);
	assert_non_null(rs_find_node(&t.rs, "k8s:in-cluster/shop/Deployment/cart"));
	rs_assert_prop(rs_find_node(&t.rs, "k8s:in-cluster"), "server", url);
	k_free(&t);
	snprintf(p, sizeof(p), "%s/token", s.dir);
	sp_write_file(p, "bad-sa-token-31\n");
	run_loc(&t, "in-cluster", opts, 1, 5);
	assert_int_equal(t.rc, ST_E_IO);
	assert_non_null(strstr(t.d.msg, "the service account token from "));
	assert_non_null(strstr(t.d.msg, p));
	assert_nowhere(&t, "bad-sa-token-31");
	k_free(&t);
	unsetenv("KUBERNETES_SERVICE_HOST");
	unsetenv("KUBERNETES_SERVICE_PORT");
	free(b64);
	stop(&s);
}

/* ---- dumps ------------------------------------------------------------------ */

static void test_dump_dir(void **state)
{
	(void)state;
	srv s;
	mktmp(&s);
	char p[200];
	snprintf(p, sizeof(p), "%s/sub", s.dir);
	assert_int_equal(mkdir(p, 0755), 0);
	snprintf(p, sizeof(p), "%s/deploy.json", s.dir);
	/* a typed list whose items carry no kind, as the API writes them */
	sp_write_file(
		p, "{\"kind\":\"DeploymentList\",\"apiVersion\":\"apps/v1\",\"metadata\":{},"
		   "\"items\":[{\"metadata\":{\"name\":\"api\",\"namespace\":\"a\",\"uid\":\"u1\","
		   "\"labels\":{\"app\":\"api\"}},\"spec\":{\"replicas\":2,\"template\":{"
		   "\"metadata\":{\"labels\":{\"app\":\"api\"}},\"spec\":{\"containers\":[{"
		   "\"image\":\"api:1\"}]}}}}]}");
	snprintf(p, sizeof(p), "%s/sub/all.json", s.dir);
	/* `kubectl get -o json` of several kinds: kind on every item */
	sp_write_file(
		p,
		"{\"kind\":\"List\",\"apiVersion\":\"v1\",\"items\":["
		"{\"kind\":\"ReplicaSet\",\"apiVersion\":\"apps/v1\",\"metadata\":{\"name\":"
		"\"api-1\",\"namespace\":\"a\",\"ownerReferences\":[{\"kind\":\"Deployment\","
		"\"name\":\"api\",\"uid\":\"u1\",\"controller\":true}]}},"
		"{\"kind\":\"ConfigMap\",\"apiVersion\":\"v1\",\"metadata\":{\"name\":\"c\"}},"
		"{\"kind\":\"Service\",\"apiVersion\":\"v1\",\"metadata\":{\"name\":\"api\","
		"\"namespace\":\"a\"},\"spec\":{\"selector\":{\"app\":\"api\"}}},"
		"{\"kind\":\"Ingress\",\"apiVersion\":\"networking.k8s.io/v1\",\"metadata\":{"
		"\"name\":\"web\",\"namespace\":\"a\"},\"spec\":{\"defaultBackend\":{\"service\":"
		"{\"name\":\"ghost\"}},\"rules\":[{\"http\":{\"paths\":[{\"backend\":{"
		"\"service\":{\"name\":\"api\"}}}]}}]}}]}");
	snprintf(p, sizeof(p), "%s/sub/pod.json", s.dir);
	sp_write_file(p,
		      "{\"kind\":\"Pod\",\"apiVersion\":\"v1\",\"metadata\":{\"name\":\"api-1-x\","
		      "\"namespace\":\"a\",\"ownerReferences\":[{\"kind\":\"ReplicaSet\",\"name\":"
		      "\"api-1\",\"controller\":true}]},\"spec\":{\"nodeName\":\"n1\"},"
		      "\"status\":{\"phase\":\"Running\"}}");
	snprintf(p, sizeof(p), "%s/sub/broken.json", s.dir);
	sp_write_file(
		p, "{\"kind\":\"Pod\",\"apiVersion\":\"v1\",\"metadata\":{\"name\":\"zz\"}, oops");
	snprintf(p, sizeof(p), "%s/notes.txt", s.dir);
	sp_write_file(p, "not json");
	k_run t;
	run_loc(&t, s.dir, NULL, 0, 0);
	if (t.rc)
		fail_msg("run: %s", t.d.msg);
	rs_sink *r = &t.rs;
	const rs_fact *d = rs_find_node(r, "k8s:dump/a/Deployment/api");
	rs_assert_prop(d, "image", "api:1");
	assert_string_equal(d->origin, "live:deploy.json");
	assert_int_equal(d->line, 1);
	const rs_fact *svc = rs_find_node(r, "k8s:dump/a/Service/api");
	assert_string_equal(svc->origin, "live:sub/all.json");
	assert_int_equal(svc->line, 3); /* the third item */
	assert_non_null(rs_find_node(r, "k8s:dump"));
	rs_assert_prop(rs_find_node(r, "k8s:dump"), "server", "");
	assert_non_null(rs_find_edge(r, "k8s:dump/a/ReplicaSet/api-1", "CONTROLLED_BY",
				     "k8s:dump/a/Deployment/api"));
	assert_non_null(rs_find_edge(r, "k8s:dump/a/Pod/api-1-x", "CONTROLLED_BY",
				     "k8s:dump/a/ReplicaSet/api-1"));
	assert_non_null(
		rs_find_edge(r, "k8s:dump/a/Service/api", "SELECTS", "k8s:dump/a/Deployment/api"));
	assert_int_equal(count_edges(r, "RUNS_ON"), 0); /* no Node n1 in the dump */
	/* a whole cluster: a backend that is not there is a note, not an edge */
	assert_non_null(
		rs_find_edge(r, "k8s:dump/a/Ingress/web", "ROUTES_TO", "k8s:dump/a/Service/api"));
	assert_null(
		rs_find_edge(r, "k8s:dump/a/Ingress/web", "ROUTES_TO", "k8s:dump/a/Service/ghost"));
	assert_int_equal(rs_count_kind(r, 'o'), 1);
	for (size_t i = 0; i < r->n; i++)
		if (r->facts[i].kind == 'o') {
			assert_string_equal(r->facts[i].dst,
					    "k8s:dump/a/Ingress/web routes to "
					    "Service 'ghost', which does not exist");
			assert_string_equal(r->facts[i].origin, "live:sub/all.json");
			assert_int_equal(r->facts[i].line, 4);
		}
	assert_null(rs_find_node(r, "k8s:dump/default/Pod/zz"));
	/* the broken file: one warning at its origin, the run goes on */
	assert_int_equal(rs_count_kind(r, 'w'), 1);
	for (size_t i = 0; i < r->n; i++)
		if (r->facts[i].kind == 'w') {
			assert_string_equal(r->facts[i].origin, "live:sub/broken.json");
			assert_non_null(strstr(r->facts[i].dst, "malformed JSON"));
		}
	assert_non_null(rs_find_hint(r, "k8s:dump/a/Deployment/api", ST_HINT_SERVICE, "api"));
	k_free(&t);

	st_kv ns = {"namespaces", "a"};
	run_loc(&t, s.dir, &ns, 1, 0);
	assert_int_equal(t.rc, ST_E_INVALID);
	k_free(&t);
	stop(&s);
}

/* Hostile and odd dump files: bounded, never a crash, at most a warning. */
static void test_dump_robustness(void **state)
{
	(void)state;
	srv s;
	mktmp(&s);
	char p[200];
	snprintf(p, sizeof(p), "%s/deep.json", s.dir);
	FILE *f = fopen(p, "w");
	assert_non_null(f);
	fputs("{\"kind\":\"Pod\",\"apiVersion\":\"v1\",\"metadata\":{\"name\":\"deep\"},\"x\":", f);
	for (int i = 0; i < 300; i++)
		fputc('[', f);
	for (int i = 0; i < 300; i++)
		fputc(']', f);
	fputs("}", f);
	fclose(f);
	snprintf(p, sizeof(p), "%s/types.json", s.dir);
	sp_write_file(p,
		      "{\"kind\":\"Deployment\",\"apiVersion\":\"apps/v1\",\"metadata\":{"
		      "\"name\":\"t\",\"namespace\":\"n\",\"labels\":[\"a\",\"b\"],\"annotations\":"
		      "\"x\",\"ownerReferences\":{\"kind\":\"ReplicaSet\"},\"uid\":7},\"spec\":{"
		      "\"replicas\":\"3\",\"template\":[1,2],\"selector\":null}}");
	snprintf(p, sizeof(p), "%s/odd.json", s.dir);
	sp_write_file(
		p,
		"{\"kind\":\"List\",\"apiVersion\":\"v1\",\"items\":[1,null,[],"
		"{\"kind\":\"Pod\",\"apiVersion\":\"v1\",\"metadata\":{\"name\":\"bad name\"}},"
		"{\"kind\":7,\"apiVersion\":\"v1\",\"metadata\":{\"name\":\"k\"}},"
		"{\"kind\":\"Pod\",\"apiVersion\":\"v1\",\"metadata\":{\"name\":\"na\\u006de\","
		"\"namespace\":\"n\",\"labels\":{\"big\":\"%0*d\",\"ok\":\"1\",\"n\":null}}}]}",
		70000, 0);
	snprintf(p, sizeof(p), "%s/empty.json", s.dir);
	sp_write_file(p, "%s", "");
	snprintf(p, sizeof(p), "%s/array.json", s.dir);
	sp_write_file(p, "[1,2,{\"kind\":\"Pod\"}]");
	k_run t;
	run_loc(&t, s.dir, NULL, 0, 0);
	if (t.rc)
		fail_msg("run: %s", t.d.msg);
	rs_sink *r = &t.rs;
	size_t deep = 0, empty = 0;
	for (size_t i = 0; i < r->n; i++)
		if (r->facts[i].kind == 'w') {
			deep += strstr(r->facts[i].dst, "nested deeper than 128") != NULL;
			empty += strstr(r->facts[i].dst, "empty") != NULL;
		}
	assert_int_equal(deep, 1);
	assert_int_equal(empty, 1);
	assert_int_equal(rs_count_kind(r, 'w'), 2);
	assert_null(rs_find_node(r, "k8s:dump/default/Pod/deep"));
	const rs_fact *d = rs_find_node(r, "k8s:dump/n/Deployment/t");
	rs_assert_prop(d, "replicas", "");
	rs_assert_prop(d, "labels", "");
	rs_assert_prop(d, "uid", "7");
	const rs_fact *pod = rs_find_node(r, "k8s:dump/n/Pod/name"); /* \u escape decoded */
	rs_assert_prop(pod, "labels", "ok=1"); /* 70 kB value dropped, null dropped */
	assert_int_equal(count_type(r, "KubernetesPod"), 1);
	assert_int_equal(rs_count_kind(r, 'o'), 1); /* the Pod called "bad name" */
	for (size_t i = 0; i < r->n; i++)
		if (r->facts[i].kind == 'o')
			assert_string_equal(
				r->facts[i].dst,
				"Pod 'bad name' skipped: not a valid name or namespace");
	k_free(&t);
	stop(&s);
}

static bool have_dir(const char *dir)
{
	struct stat sb;
	if (stat(dir, &sb) == 0 && S_ISDIR(sb.st_mode))
		return true;
	print_message("skipped: fixture directory %s is absent (see fixtures/MANIFEST.md)\n", dir);
	return false;
}

/* Real `kubectl`/API captures (troubleshoot support bundles, k9s, kubectl-neat). */
static void test_real_dumps(void **state)
{
	(void)state;
	if (!have_dir(FIX_API))
		skip();
	k_run t;
	st_kv opt = {"cluster", "bundle"};
	run_loc(&t, FIX_API, &opt, 1, 0);
	if (t.rc)
		fail_msg("run: %s", t.d.msg);
	rs_sink *r = &t.rs;
	assert_int_equal(rs_count_kind(r, 'w'), 0);
	/* NodeList: 6 nodes with real labels */
	assert_int_equal(count_type(r, "KubernetesNode"), 6);
	/* ReplicaSetLists: 2 + 12; k9s rs.json has a foreign apiVersion and is skipped */
	assert_int_equal(count_type(r, "KubernetesReplicaSet"), 14);
	/* The samples come from different bundles: every ReplicaSet names a
	 * Deployment the dump does not hold (and the monitoring StatefulSets a
	 * Prometheus custom resource), so no CONTROLLED_BY edge may dangle. */
	const rs_fact *rsk = rs_find_node(r, "k8s:bundle/default/ReplicaSet/kotsadm-f98ff7d75");
	assert_non_null(rsk);
	rs_assert_prop(rsk, "replicas", "1");
	assert_null(
		rs_find_edge(r, rsk->id, "CONTROLLED_BY", "k8s:bundle/default/Deployment/kotsadm"));
	int et = st_schema_find_edge_type(schema, "CONTROLLED_BY", 13);
	for (size_t i = 0; i < r->n; i++)
		if (r->facts[i].kind == 'e' && r->facts[i].type == et) {
			assert_non_null(rs_find_node(r, r->facts[i].id));
			assert_non_null(rs_find_node(r, r->facts[i].dst));
		}
	/* a real Pod: phase and node from its status and spec */
	size_t pods_with_phase = 0;
	int pt = st_schema_find_node_type(schema, "KubernetesPod", 13);
	for (size_t i = 0; i < r->n; i++)
		if (r->facts[i].kind == 'n' && r->facts[i].type == pt) {
			char *ph = rs_prop_str(&r->facts[i], "phase");
			pods_with_phase += ph[0] != 0;
			free(ph);
		}
	assert_true(pods_with_phase >= 5);
	assert_true(count_type(r, "KubernetesPod") >= 5);
	assert_true(count_type(r, "KubernetesDeployment") >= 10);
	assert_true(count_type(r, "KubernetesJob") == 2);
	assert_true(rs_count_kind(r, 'h') > 0);
	/* every Node carries the instance type or zone from its real labels? at
	 * least the name and cluster */
	for (size_t i = 0; i < r->n; i++)
		if (r->facts[i].kind == 'n' &&
		    r->facts[i].type == st_schema_find_node_type(schema, "KubernetesNode", 14)) {
			rs_assert_prop(&r->facts[i], "cluster", "bundle");
			assert_non_null(strstr(r->facts[i].id, "k8s:bundle/Node/"));
		}
	k_free(&t);
}

static void test_real_kubeconfigs(void **state)
{
	(void)state;
	if (!have_dir(FIX_KC))
		skip();
	k_run t;
	/* Azure kubelogin: an exec user */
	run_loc(&t, FIX_KC "/azure-kubelogin/test/integration/fixtures/sample_kubeconfig.yaml",
		NULL, 0, 1);
	assert_int_equal(t.rc, ST_E_INVALID);
	assert_string_equal(t.d.msg,
			    "source 'live': exec credential plugins are not supported (user "
			    "'clusterUser_test-group_test-cluster'); use a token");
	k_free(&t);
	/* kubecm: placeholder "-data" values that are not base64 */
	run_loc(&t, FIX_KC "/kubecm/example.yaml", NULL, 0, 1);
	assert_int_equal(t.rc, ST_E_INVALID);
	assert_string_equal(t.d.msg, "source 'live': kubeconfig cluster 'development': "
				     "certificate-authority-data is not valid base64");
	k_free(&t);
	st_kv o = {"context", "missing"};
	run_loc(&t, FIX_KC "/kubecm/example.yaml", &o, 1, 1);
	assert_int_equal(t.rc, ST_E_NOTFOUND);
	k_free(&t);
}

/* The manifest set with live kinds, without the connector. */
static void test_manifest_live_kinds(void **state)
{
	(void)state;
	st_manifests *m = NULL;
	st_diag d;
	assert_int_equal(st_manifests_new("c1", &m, &d), 0);
	st_parse_ctx ctx = {.source = "s", .path = "x"};
	st_k8s_owner own = {.kind = "ReplicaSet", .name = "rs", .controller = true};
	st_k8s_owner other = {.kind = "Deployment", .name = "d", .controller = false};
	st_k8s_owner two[] = {own, other};
	st_k8s_obj rs = {.kind = ST_K8S_REPLICASET, .name = "rs", .ns = "n"};
	st_k8s_obj dp = {.kind = ST_K8S_DEPLOYMENT, .name = "d", .ns = "n"};
	st_k8s_obj pod = {.kind = ST_K8S_POD, .name = "p", .ns = "n", .owners = two, .n_owners = 2};
	assert_int_equal(st_manifests_add_object(m, &ctx, &rs, &d), 0);
	assert_int_equal(st_manifests_add_object(m, &ctx, &dp, &d), 0);
	assert_int_equal(st_manifests_count(m), 2);
	assert_int_equal(st_manifests_add_object(m, &ctx, &pod, &d), 0);
	st_manifests_truncate(m, 2); /* takes the pod back */
	assert_int_equal(st_manifests_count(m), 2);
	assert_int_equal(st_manifests_add_object(m, &ctx, &pod, &d), 0);
	rs_sink r;
	rs_init(&r, schema);
	assert_int_equal(st_manifests_emit(m, &r.sink, NULL, &d), 0);
	/* only the controller reference */
	assert_non_null(
		rs_find_edge(&r, "k8s:c1/n/Pod/p", "CONTROLLED_BY", "k8s:c1/n/ReplicaSet/rs"));
	assert_null(rs_find_edge(&r, "k8s:c1/n/Pod/p", "CONTROLLED_BY", "k8s:c1/n/Deployment/d"));
	assert_null(rs_find_node(&r, "k8s:c1")); /* not declared unless asked */
	rs_free(&r);
	assert_int_equal(st_k8s_kind_find("Pod", "v1", true), ST_K8S_POD);
	assert_int_equal(st_k8s_kind_find("Pod", "v1", false), -1);
	assert_int_equal(st_k8s_kind_find("ReplicaSet", "networking.k8s.io/v1", true), -1);
	assert_int_equal(st_k8s_kind_find("Ingress", "networking.k8s.io/v1", false),
			 ST_K8S_INGRESS);
	st_manifests_free(m);
}

/* ---- end to end: stacktwin sync k8s:KUBECONFIG ------------------------------- */

static void test_cli_sync(void **state)
{
	(void)state;
	char self[512];
	ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	assert_true(n > 0);
	self[n] = 0;
	char *slash = strrchr(self, '/');
	*slash = 0;
	char bin[600];
	snprintf(bin, sizeof(bin), "%s/../src/stacktwin", self);
	if (access(bin, X_OK) != 0) {
		print_message("skipped: %s not built\n", bin);
		skip();
	}
	srv s;
	mktmp(&s);
	start(&s, NULL);
	kubeconfig_http(&s, "    token: " TOKEN "\n");
	char cmd[1400], out[200];
	snprintf(out, sizeof(out), "%s/out.txt", s.dir);
	snprintf(cmd, sizeof(cmd), "'%s' sync --quiet --db '%s/db' 'k8s:%s' > '%s' 2>&1", bin,
		 s.dir, s.kc, out);
	int rc = system(cmd);
	char *o = read_all(out);
	if (rc != 0)
		fail_msg("sync failed: %s", o);
	assert_non_null(strstr(o, "k8s-kubeconfig: revision"));
	assert_non_null(strstr(o, "30 nodes"));
	free(o);
	snprintf(cmd, sizeof(cmd), "'%s' stats --db '%s/db' > '%s' 2>&1", bin, s.dir, out);
	assert_int_equal(system(cmd), 0);
	o = read_all(out);
	assert_non_null(strstr(o, "KubernetesPod"));
	free(o);
	stop(&s);
}

static int group_setup(void **state)
{
	(void)state;
	st_diag d;
	signal(SIGPIPE, SIG_IGN);
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
		cmocka_unit_test(test_list_everything),
		cmocka_unit_test(test_auth_errors),
		cmocka_unit_test(test_gone_restart),
		cmocka_unit_test(test_namespaces_option),
		cmocka_unit_test(test_network_errors),
		cmocka_unit_test(test_kubeconfig_env),
		cmocka_unit_test(test_tls_and_in_cluster),
		cmocka_unit_test(test_dump_dir),
		cmocka_unit_test(test_dump_robustness),
		cmocka_unit_test(test_real_dumps),
		cmocka_unit_test(test_real_kubeconfigs),
		cmocka_unit_test(test_manifest_live_kinds),
		cmocka_unit_test(test_cli_sync),
	};
	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
