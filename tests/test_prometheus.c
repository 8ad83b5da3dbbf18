/*
 * test_prometheus.c — the Prometheus connector (connectors/prometheus.c)
 * against a real Prometheus, started once for this binary on data the test
 * writes itself: an OpenMetrics file of service-graph and Istio counters and
 * histograms (30 minutes, one sample every 15 s, ending at T_END), backfilled
 * with `promtool tsdb create-blocks-from openmetrics` and queried at T_END, so
 * every expected rate is the slope of a counter written below.  Prometheus
 * runs with basic auth (--web.config.file, a bcrypt hash made with python3's
 * crypt module) when a hash can be made; bearer tokens go through
 * tests/data/prometheus/auth_proxy.py.
 *
 * Also: the saved-responses file mode (tests/data/prometheus/, a file written
 * from the live server's own responses, and the Prometheus documentation's
 * example responses in /work/shared/fixtures/prometheus when present) and
 * option errors.  The server tests skip, saying why, when `prometheus` or
 * `promtool` is not installed.
 */
#include <math.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <curl/curl.h>

#include "record_sink.h"
#include "spawn.h"

#define DATA ST_SOURCE_ROOT "/tests/data/prometheus/"
#define FIXTURES "/work/shared/fixtures/prometheus/"
#define T_END 1700000000LL /* 2023-11-14T22:13:20Z */
#define STEPS 120	   /* samples every 15 s: 30 minutes */
#define USER "stacktwin"
#define PASS "prom-pass-5d1e77"
#define TOKEN "bearer-token-a81c03"
#define ENV "ST_PROM_TEST_TOKEN"

static st_schema *schema;

/* The live server, when there is one. */
static struct {
	bool have;  /* prometheus and promtool are installed */
	bool basic; /* started with basic auth */
	char dir[64];
	pid_t pid;
	int port;
	char url[64];
} prom;

typedef struct prun {
	rs_sink rs;
	st_diag d;
	int rc;
} prun;

static void run_src(prun *t, const st_source *src)
{
	memset(t, 0, sizeof(*t));
	rs_init(&t->rs, schema);
	t->rs.sink.note = rs_note;
	t->rc = st_connector_prometheus.run(src, &t->rs.sink, &t->d);
}

static void prun_free(prun *t)
{
	rs_free(&t->rs);
}

/* Run against the live server (basic auth added when it has it).  opts is a
 * NULL-terminated list of key, value. */
static void run_live(prun *t, const char *location, const char *const *opts)
{
	st_kv kv[16];
	size_t n = 0;
	for (size_t i = 0; opts && opts[i]; i += 2)
		kv[n++] = (st_kv){opts[i], opts[i + 1]};
	if (prom.basic)
		kv[n++] = (st_kv){"username", USER};
	setenv(ENV, PASS, 1);
	st_source src = {.name = "prom",
			 .kind = "prometheus",
			 .location = location ? location : prom.url,
			 .token_env = prom.basic ? ENV : NULL,
			 .options = kv,
			 .n_options = n};
	run_src(t, &src);
}

static void run_file(prun *t, const char *path, const char *const *opts)
{
	st_kv kv[16];
	size_t n = 0;
	for (size_t i = 0; opts && opts[i]; i += 2)
		kv[n++] = (st_kv){opts[i], opts[i + 1]};
	st_source src = {.name = "saved",
			 .kind = "prometheus",
			 .location = path,
			 .options = kv,
			 .n_options = n};
	run_src(t, &src);
}

static size_t count(const prun *t, char kind)
{
	size_t n = 0;
	for (size_t i = 0; i < t->rs.n; i++)
		n += t->rs.facts[i].kind == kind;
	return n;
}

/* The note containing `needle` (NULL if none). */
static const rs_fact *find_note(const prun *t, const char *needle)
{
	for (size_t i = 0; i < t->rs.n; i++)
		if (t->rs.facts[i].kind == 'o' && strstr(t->rs.facts[i].dst, needle))
			return &t->rs.facts[i];
	return NULL;
}

static void dump(const prun *t)
{
	for (size_t i = 0; i < t->rs.n; i++) {
		const rs_fact *f = &t->rs.facts[i];
		printf("  %c %s %s [%s:%u]\n", f->kind, f->id ? f->id : "", f->dst ? f->dst : "",
		       f->origin, f->line);
	}
}

#define ASSERT_OK(t)                                                \
	do {                                                        \
		if ((t)->rc) {                                      \
			dump(t);                                    \
			fail_msg("rc %d: %s", (t)->rc, (t)->d.msg); \
		}                                                   \
	} while (0)

static void assert_no_prop(const rs_fact *f, const char *key)
{
	st_prop p;
	assert_non_null(f);
	if (st_props_get(f->props, f->props_len, key, strlen(key), &p) != 0)
		fail_msg("%s -> %s: unexpected property %s", f->id, f->dst ? f->dst : "", key);
}

static void assert_float(const rs_fact *f, const char *key, double want, double rel)
{
	st_prop p;
	assert_non_null(f);
	if (st_props_get(f->props, f->props_len, key, strlen(key), &p) != 1 || p.type != ST_P_FLOAT)
		fail_msg("%s -> %s: no float property %s", f->id, f->dst, key);
	double tol = rel * (fabs(want) > 1 ? fabs(want) : 1);
	if (fabs(p.v.f - want) > tol)
		fail_msg("%s -> %s: %s is %.17g, want %.17g", f->id, f->dst, key, p.v.f, want);
}

static const rs_fact *edge(const prun *t, const char *a, const char *b)
{
	const rs_fact *f = rs_find_edge(&t->rs, a, "CALLS", b);
	if (!f) {
		dump(t);
		fail_msg("no CALLS edge %s -> %s", a, b);
	}
	return f;
}

/* No fact, note or message mentions s. */
static void assert_nowhere(const prun *t, const char *s)
{
	assert_null(strstr(t->d.msg, s));
	for (size_t i = 0; i < t->rs.n; i++) {
		const rs_fact *f = &t->rs.facts[i];
		const char *v[] = {f->id, f->dst, f->origin, f->rule, f->evidence};
		for (size_t k = 0; k < ST_ARRAY_LEN(v); k++)
			if (v[k] && strstr(v[k], s))
				fail_msg("'%s' found in a fact: %s", s, v[k]);
	}
}

/* ---------------------------------------------------------------------------
 * The data and the server. */

static void om_counter(FILE *f, const char *name, const char *labels, double rate, int stop)
{
	for (int i = 0; i <= STEPS; i++) {
		int k = stop >= 0 && i > stop ? stop : i;
		fprintf(f, "%s{%s} %.6f %lld\n", name, labels, 1000.0 + rate * 15.0 * k,
			T_END - 15LL * (STEPS - i));
	}
}

/* A histogram series set: cumulative per-bucket rates (last bucket +Inf). */
static void om_histogram(FILE *f, const char *fam, const char *labels, const char *const *le,
			 const double *rates, size_t n)
{
	char name[160], lab[1100];
	snprintf(name, sizeof(name), "%s_bucket", fam);
	for (size_t b = 0; b < n; b++) {
		snprintf(lab, sizeof(lab), "%s,le=\"%s\"", labels, le[b]);
		om_counter(f, name, lab, rates[b], -1);
	}
	snprintf(name, sizeof(name), "%s_count", fam);
	om_counter(f, name, labels, rates[n - 1], -1);
	snprintf(name, sizeof(name), "%s_sum", fam);
	om_counter(f, name, labels, rates[n - 1] * 0.01, -1);
}

static int write_openmetrics(const char *path)
{
	FILE *f = fopen(path, "w");
	if (!f)
		return -1;
	fputs("# TYPE traces_service_graph_request counter\n", f);
	om_counter(f, "traces_service_graph_request_total",
		   "client=\"frontend\",server=\"checkout\"", 12.5, -1);
	om_counter(f, "traces_service_graph_request_total",
		   "client=\"checkout\",server=\"payments\"", 3.25, -1);
	om_counter(f, "traces_service_graph_request_total",
		   "client=\"frontend\",server=\"catalog\"", 0.5, -1);
	/* called during the first 10 minutes only: rate 0 at T_END */
	om_counter(f, "traces_service_graph_request_total",
		   "client=\"loadgen\",server=\"frontend\"", 2, 40);
	fputs("# TYPE traces_service_graph_request_failed counter\n", f);
	om_counter(f, "traces_service_graph_request_failed_total",
		   "client=\"frontend\",server=\"checkout\"", 0.25, -1);
	om_counter(f, "traces_service_graph_request_failed_total",
		   "client=\"checkout\",server=\"payments\"", 0, -1);
	fputs("# TYPE traces_service_graph_request_server_seconds histogram\n", f);
	static const char *const le1[] = {"0.05", "0.1", "0.25", "0.5", "+Inf"};
	static const double r1[] = {5, 10, 12, 12.5, 12.5};
	om_histogram(f, "traces_service_graph_request_server_seconds",
		     "client=\"frontend\",server=\"checkout\"", le1, r1, 5);
	static const char *const le2[] = {"0.01", "0.025", "+Inf"};
	static const double r2[] = {3, 3.25, 3.25};
	om_histogram(f, "traces_service_graph_request_server_seconds",
		     "client=\"checkout\",server=\"payments\"", le2, r2, 3);

	fputs("# TYPE istio_requests counter\n", f);
	static const char *const rep[] = {"destination", "source"};
	char lab[512];
	for (int r = 0; r < 2; r++) {
		const char *fe =
			"source_workload=\"frontend\",source_workload_namespace=\"shop\","
			"destination_workload=\"cart\",destination_workload_namespace=\"shop\"";
		snprintf(lab, sizeof(lab),
			 "reporter=\"%s\",%s,request_protocol=\"http\",response_code=\"200\"",
			 rep[r], fe);
		om_counter(f, "istio_requests_total", lab, 4, -1);
		snprintf(lab, sizeof(lab),
			 "reporter=\"%s\",%s,request_protocol=\"http\",response_code=\"503\"",
			 rep[r], fe);
		om_counter(f, "istio_requests_total", lab, 0.5, -1);
		snprintf(lab, sizeof(lab),
			 "reporter=\"%s\",%s,request_protocol=\"grpc\",response_code=\"200\"",
			 rep[r], fe);
		om_counter(f, "istio_requests_total", lab, 1, -1);
		snprintf(
			lab, sizeof(lab),
			"reporter=\"%s\",source_workload=\"cart\",source_workload_namespace=\"shop\","
			"destination_workload=\"redis\",destination_workload_namespace=\"data\","
			"request_protocol=\"http\",response_code=\"200\"",
			rep[r]);
		om_counter(f, "istio_requests_total", lab, 2, -1);
	}
	om_counter(f, "istio_requests_total",
		   "reporter=\"destination\",source_workload=\"unknown\",source_workload_namespace="
		   "\"unknown\",destination_workload=\"frontend\",destination_workload_namespace="
		   "\"shop\",request_protocol=\"http\",response_code=\"200\"",
		   2, -1);
	fputs("# TYPE istio_request_duration_milliseconds histogram\n", f);
	static const char *const le3[] = {"10", "50", "100", "+Inf"};
	static const double r3[] = {2, 5, 5.5, 5.5};
	static const double r3s[] = {5.5, 5.5, 5.5, 5.5}; /* the source side: must not be used */
	for (int r = 0; r < 2; r++) {
		snprintf(lab, sizeof(lab),
			 "reporter=\"%s\",source_workload=\"frontend\",source_workload_namespace="
			 "\"shop\",destination_workload=\"cart\",destination_workload_namespace="
			 "\"shop\"",
			 rep[r]);
		om_histogram(f, "istio_request_duration_milliseconds", lab, le3, r ? r3s : r3, 4);
	}
	fputs("# EOF\n", f);
	return fclose(f);
}

static bool in_path(const char *prog)
{
	const char *path = getenv("PATH");
	if (!path)
		path = "/usr/bin:/bin";
	while (*path) {
		size_t n = strcspn(path, ":");
		char p[512];
		snprintf(p, sizeof(p), "%.*s/%s", (int)n, path, prog);
		if (!access(p, X_OK))
			return true;
		path += n + (path[n] == ':');
	}
	return false;
}

static size_t sink_body(char *d, size_t s, size_t n, void *ud)
{
	FILE *f = ud;
	return f ? fwrite(d, s, n, f) : s * n;
}

/* GET url (with the server's basic auth); the HTTP status, the body to out. */
static long http_get(const char *url, FILE *out)
{
	CURL *c = curl_easy_init();
	if (!c)
		return -1;
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_TIMEOUT, 5L);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, sink_body);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, out);
	if (prom.basic)
		curl_easy_setopt(c, CURLOPT_USERPWD, USER ":" PASS);
	long code = -1;
	if (curl_easy_perform(c) == CURLE_OK)
		curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &code);
	curl_easy_cleanup(c);
	return code;
}

/* A bcrypt hash of PASS (cost 4: tests need no slow hashing), or false. */
static bool bcrypt_hash(char *out, size_t n)
{
	FILE *p = popen("python3 -W ignore -c \"import crypt; print(crypt.crypt('" PASS
			"', crypt.mksalt(crypt.METHOD_BLOWFISH, rounds=16)))\" 2>/dev/null",
			"r");
	if (!p)
		return false;
	bool ok = fgets(out, (int)n, p) != NULL;
	pclose(p);
	out[strcspn(out, "\n")] = 0;
	return ok && !strncmp(out, "$2", 2) && strlen(out) == 60;
}

static void dump_log(void)
{
	char cmd[160];
	snprintf(cmd, sizeof(cmd), "tail -n 20 '%s/prometheus.log' >&2", prom.dir);
	if (system(cmd)) {
	}
}

static int start_prometheus(void)
{
	snprintf(prom.dir, sizeof(prom.dir), "/tmp/st-prom-XXXXXX");
	if (!mkdtemp(prom.dir))
		return -1;
	char om[128], tsdb[128], cfg[128], web[128], cmd[512], hash[128];
	snprintf(om, sizeof(om), "%s/data.om", prom.dir);
	snprintf(tsdb, sizeof(tsdb), "%s/tsdb", prom.dir);
	snprintf(cfg, sizeof(cfg), "%s/prometheus.yml", prom.dir);
	snprintf(web, sizeof(web), "%s/web.yml", prom.dir);
	if (write_openmetrics(om))
		return -1;
	snprintf(cmd, sizeof(cmd),
		 "promtool tsdb create-blocks-from openmetrics '%s' '%s' > '%s/promtool.log' 2>&1",
		 om, tsdb, prom.dir);
	if (system(cmd)) {
		fprintf(stderr, "promtool failed, see %s/promtool.log\n", prom.dir);
		return -1;
	}
	FILE *f = fopen(cfg, "w");
	if (!f)
		return -1;
	fputs("global:\n  scrape_interval: 15s\n", f);
	fclose(f);
	prom.basic = bcrypt_hash(hash, sizeof(hash));
	if (prom.basic) {
		f = fopen(web, "w");
		if (!f)
			return -1;
		fprintf(f, "basic_auth_users:\n  %s: '%s'\n", USER, hash);
		fclose(f);
	} else
		printf("note: no bcrypt hash from python3's crypt module: Prometheus runs without "
		       "basic auth and the basic-auth tests are skipped\n");

	for (int attempt = 0; attempt < 3; attempt++) {
		prom.port = sp_free_port();
		if (prom.port <= 0)
			return -1;
		snprintf(prom.url, sizeof(prom.url), "http://127.0.0.1:%d", prom.port);
		char a_cfg[160], a_tsdb[160], a_listen[80], a_web[160], logp[160];
		snprintf(a_cfg, sizeof(a_cfg), "--config.file=%s", cfg);
		snprintf(a_tsdb, sizeof(a_tsdb), "--storage.tsdb.path=%s", tsdb);
		snprintf(a_listen, sizeof(a_listen), "--web.listen-address=127.0.0.1:%d",
			 prom.port);
		snprintf(a_web, sizeof(a_web), "--web.config.file=%s", web);
		snprintf(logp, sizeof(logp), "%s/prometheus.log", prom.dir);
		prom.pid = fork();
		if (prom.pid < 0)
			return -1;
		if (!prom.pid) {
			FILE *lf = freopen(logp, "a", stdout);
			if (lf)
				dup2(fileno(lf), 2);
			/* retention: the backfilled blocks are years old */
			execlp("prometheus", "prometheus", a_cfg, a_tsdb, a_listen,
			       "--storage.tsdb.retention.time=100y", prom.basic ? a_web : NULL,
			       (char *)NULL);
			_exit(127);
		}
		char ready[96];
		snprintf(ready, sizeof(ready), "%s/-/ready", prom.url);
		for (int i = 0; i < 300; i++) {
			if (waitpid(prom.pid, NULL, WNOHANG) == prom.pid) {
				prom.pid = 0;
				break; /* exited: port taken, or worse */
			}
			if (http_get(ready, NULL) == 200)
				return 0;
			usleep(50 * 1000);
		}
		sp_stop(&prom.pid);
	}
	fprintf(stderr, "prometheus did not become ready:\n");
	dump_log();
	return -1;
}

static void stop_prometheus(void)
{
	sp_stop(&prom.pid);
	if (prom.dir[0]) {
		if (sp_rmrf(prom.dir))
			fprintf(stderr, "could not remove %s\n", prom.dir);
		prom.dir[0] = 0;
	}
}

static void need_prometheus(void)
{
	if (!prom.have) {
		printf("skipping: prometheus and promtool are not both installed "
		       "(scripts/setup.sh installs them)\n");
		skip();
	}
}

/* ---------------------------------------------------------------------------
 * Live server tests. */

static const char *const AT_END[] = {"time", "1700000000", NULL};

static void check_otel(const prun *t, const char *origin, const char *rule)
{
	assert_int_equal(count(t, 'w'), 0);
	assert_int_equal(t->rs.n_nodes, 4);
	assert_int_equal(t->rs.n_edges, 3);
	assert_int_equal(t->rs.n_hints, 4);
	const rs_fact *e = edge(t, "workload:frontend", "workload:checkout");
	assert_float(e, "request_rate", 12.5, 1e-9);
	assert_float(e, "error_rate", 0.25, 1e-9);
	assert_float(e, "latency_p99_ms", 437.5, 1e-6);
	assert_no_prop(e, "protocol");
	assert_string_equal(e->origin, origin);
	assert_int_equal(e->line, 0);
	e = edge(t, "workload:checkout", "workload:payments");
	assert_float(e, "request_rate", 3.25, 1e-9);
	assert_float(e, "error_rate", 0, 1e-9);
	assert_float(e, "latency_p99_ms", 23.05, 1e-6);
	e = edge(t, "workload:frontend", "workload:catalog");
	assert_float(e, "request_rate", 0.5, 1e-9);
	assert_float(e, "error_rate", 0, 1e-9);
	assert_no_prop(e, "latency_p99_ms"); /* no histogram for this pair */
	/* loadgen stopped calling 20 minutes before T_END */
	assert_null(rs_find_node(&t->rs, "workload:loadgen"));
	const rs_fact *n = rs_find_node(&t->rs, "workload:frontend");
	rs_assert_prop(n, "name", "frontend");
	assert_no_prop(n, "namespace");
	assert_string_equal(n->origin, origin);
	const rs_fact *h = rs_find_hint(&t->rs, "workload:frontend", ST_HINT_SERVICE, "frontend");
	assert_non_null(h);
	assert_string_equal(h->rule, rule);
	assert_string_equal(h->evidence, "client=\"frontend\"");
	h = rs_find_hint(&t->rs, "workload:payments", ST_HINT_SERVICE, "payments");
	assert_non_null(h);
	assert_string_equal(h->evidence, "server=\"payments\"");
	assert_non_null(rs_find_hint(&t->rs, "workload:catalog", ST_HINT_SERVICE, "catalog"));
	assert_non_null(rs_find_hint(&t->rs, "workload:checkout", ST_HINT_SERVICE, "checkout"));
}

static void test_otel(void **state)
{
	(void)state;
	need_prometheus();
	prun t;
	run_live(&t, NULL, AT_END);
	ASSERT_OK(&t);
	check_otel(&t, "prom:otel-service-graph", "otel-service-graph");
	assert_string_equal(t.rs.state, "prom1:otel-service-graph@1700000000");
	assert_nowhere(&t, PASS);
	prun_free(&t);

	/* the same instant in RFC 3339, the profile named, a URL with a trailing '/' */
	char url[96];
	snprintf(url, sizeof(url), "%s/", prom.url);
	const char *o[] = {"profile", "otel-service-graph",
			   "time",    "2023-11-14T22:13:20Z",
			   "window",  "5m",
			   NULL};
	run_live(&t, url, o);
	ASSERT_OK(&t);
	check_otel(&t, "prom:otel-service-graph", "otel-service-graph");
	prun_free(&t);

	/* a time with no data: no edges, no error */
	const char *o2[] = {"time", "1600000000", NULL};
	run_live(&t, NULL, o2);
	ASSERT_OK(&t);
	assert_int_equal(t.rs.n_edges, 0);
	assert_int_equal(t.rs.n_nodes, 0);
	prun_free(&t);
}

static void test_istio(void **state)
{
	(void)state;
	need_prometheus();
	prun t;
	const char *o[] = {"profile", "istio", "time", "1700000000", NULL};
	run_live(&t, NULL, o);
	ASSERT_OK(&t);
	assert_int_equal(t.rs.n_nodes, 3);
	assert_int_equal(t.rs.n_edges, 2);
	/* reporter="destination" only: the source side's copies are not added */
	const rs_fact *e = edge(&t, "workload:shop/frontend", "workload:shop/cart");
	assert_float(e, "request_rate", 5.5, 1e-9);
	assert_float(e, "error_rate", 0.5, 1e-9);
	assert_float(e, "latency_p99_ms", 94.5, 1e-6);
	rs_assert_prop(e, "protocol", "grpc,http");
	assert_string_equal(e->origin, "prom:istio");
	e = edge(&t, "workload:shop/cart", "workload:data/redis");
	assert_float(e, "request_rate", 2, 1e-9);
	assert_float(e, "error_rate", 0, 1e-9);
	assert_no_prop(e, "latency_p99_ms");
	rs_assert_prop(e, "protocol", "http");
	const rs_fact *n = rs_find_node(&t.rs, "workload:data/redis");
	rs_assert_prop(n, "name", "redis");
	rs_assert_prop(n, "namespace", "data");
	const rs_fact *h =
		rs_find_hint(&t.rs, "workload:shop/frontend", ST_HINT_SERVICE, "frontend");
	assert_non_null(h);
	assert_string_equal(h->rule, "istio-workload");
	assert_string_equal(h->evidence,
			    "source_workload=\"frontend\", source_workload_namespace=\"shop\"");
	/* the caller outside the mesh is reported, not turned into a node */
	assert_non_null(find_note(&t, "source_workload=\"unknown\""));
	assert_null(rs_find_node(&t.rs, "workload:unknown/unknown"));
	prun_free(&t);

	/* reporter source: the other side's histogram (everything under 10 ms) */
	const char *o2[] = {"profile", "istio", "reporter", "source", "time", "1700000000", NULL};
	run_live(&t, NULL, o2);
	ASSERT_OK(&t);
	e = edge(&t, "workload:shop/frontend", "workload:shop/cart");
	assert_float(e, "request_rate", 5.5, 1e-9);
	assert_float(e, "latency_p99_ms", 9.9, 1e-6);
	prun_free(&t);
}

static void test_custom(void **state)
{
	(void)state;
	need_prometheus();
	prun t;
	const char *o[] = {
		"profile",
		"custom",
		"time",
		"1700000000",
		"client_label",
		"client",
		"server_label",
		"server",
		"query",
		"sum by (client, server) (rate(traces_service_graph_request_total[5m]))",
		"error_query",
		"sum by (client, server) (rate(traces_service_graph_request_failed_total[5m]))",
		"latency_query",
		"1000 * histogram_quantile(0.99, sum by (client, server, le) "
		"(rate(traces_service_graph_request_server_seconds_bucket[5m])))",
		NULL};
	run_live(&t, NULL, o);
	ASSERT_OK(&t);
	check_otel(&t, "prom:custom", "prometheus-label");
	prun_free(&t);

	/* the request query only: no error_rate property */
	const char *o1[] = {
		"profile",
		"custom",
		"time",
		"1700000000",
		"client_label",
		"client",
		"server_label",
		"server",
		"query",
		"sum by (client, server) (rate(traces_service_graph_request_total[5m]))",
		NULL};
	run_live(&t, NULL, o1);
	ASSERT_OK(&t);
	assert_int_equal(t.rs.n_edges, 3);
	assert_no_prop(edge(&t, "workload:frontend", "workload:checkout"), "error_rate");
	prun_free(&t);

	/* an unknown metric: no edges, no error, no remark */
	const char *o2[] = {"profile",
			    "custom",
			    "time",
			    "1700000000",
			    "client_label",
			    "client",
			    "server_label",
			    "server",
			    "query",
			    "sum by (client, server) (rate(no_such_metric_total[5m]))",
			    NULL};
	run_live(&t, NULL, o2);
	ASSERT_OK(&t);
	assert_int_equal(t.rs.n, 0);
	prun_free(&t);

	/* a range vector: reported, skipped */
	const char *o3[] = {"profile",
			    "custom",
			    "time",
			    "1700000000",
			    "client_label",
			    "client",
			    "server_label",
			    "server",
			    "query",
			    "traces_service_graph_request_total[5m]",
			    NULL};
	run_live(&t, NULL, o3);
	ASSERT_OK(&t);
	assert_int_equal(t.rs.n_edges, 0);
	assert_non_null(
		find_note(&t, "request_rate: the result is a matrix, not an instant vector"));
	prun_free(&t);

	/* no client/server labels: each series reported */
	const char *o4[] = {"profile",
			    "custom",
			    "time",
			    "1700000000",
			    "client_label",
			    "client",
			    "server_label",
			    "server",
			    "query",
			    "sum(rate(traces_service_graph_request_total[5m]))",
			    NULL};
	run_live(&t, NULL, o4);
	ASSERT_OK(&t);
	assert_int_equal(t.rs.n_edges, 0);
	assert_non_null(find_note(&t, "series {} has no (or an empty) label client; skipped"));
	prun_free(&t);

	/* NaN values (0/0) */
	const char *o5[] = {
		"profile",
		"custom",
		"time",
		"1700000000",
		"client_label",
		"client",
		"server_label",
		"server",
		"query",
		"(sum by (client, server) (rate(traces_service_graph_request_total[5m])) - "
		"sum by (client, server) (rate(traces_service_graph_request_total[5m]))) / 0",
		NULL};
	run_live(&t, NULL, o5);
	ASSERT_OK(&t);
	assert_int_equal(t.rs.n_edges, 0);
	assert_non_null(
		find_note(&t, "series {client=\"frontend\", server=\"checkout\"} has value NaN"));
	prun_free(&t);

	/* bad PromQL: the API's errorType and error */
	const char *o6[] = {"profile", "custom",       "time",	 "1700000000", "client_label",
			    "client",  "server_label", "server", "query",      "sum(",
			    NULL};
	run_live(&t, NULL, o6);
	assert_int_equal(t.rc, ST_E_IO);
	if (!strstr(t.d.msg, "/api/v1/query (request_rate): HTTP 400: bad_data: ") ||
	    !strstr(t.d.msg, "parse error"))
		fail_msg("%s", t.d.msg);
	prun_free(&t);
}

static void test_basic_auth(void **state)
{
	(void)state;
	need_prometheus();
	if (!prom.basic) {
		printf("skipping: Prometheus runs without basic auth (no bcrypt hash)\n");
		skip();
	}
	/* wrong password */
	setenv(ENV, "wrong-pass-33aa", 1);
	st_kv kv[] = {{"time", "1700000000"}, {"username", USER}};
	st_source src = {.name = "prom",
			 .kind = "prometheus",
			 .location = prom.url,
			 .token_env = ENV,
			 .options = kv,
			 .n_options = 2};
	prun t;
	run_src(&t, &src);
	assert_int_equal(t.rc, ST_E_IO);
	if (!strstr(t.d.msg, "HTTP 401 (unauthorized): the server refused the token from "
			     "environment variable " ENV))
		fail_msg("%s", t.d.msg);
	assert_nowhere(&t, "wrong-pass-33aa");
	assert_int_equal(t.rs.n, 0);
	prun_free(&t);
	/* no credential at all */
	src.token_env = NULL;
	src.n_options = 1;
	run_src(&t, &src);
	assert_int_equal(t.rc, ST_E_IO);
	assert_non_null(strstr(t.d.msg, "no credential"));
	prun_free(&t);
	/* credentials in the URL never show */
	char url[128];
	snprintf(url, sizeof(url), "http://" USER ":URLPASS-9@127.0.0.1:%d", prom.port);
	src.location = url;
	run_src(&t, &src);
	assert_int_equal(t.rc, ST_E_IO);
	assert_nowhere(&t, "URLPASS-9");
	assert_non_null(strstr(t.d.msg, "http://***@127.0.0.1:"));
	prun_free(&t);
	unsetenv(ENV);
}

static pid_t proxy_pid;
static int proxy_port;

static int start_proxy(void **state)
{
	(void)state;
	if (!prom.have)
		return 0;
	if (prom.basic)
		setenv("ST_PROM_UPSTREAM_AUTH", USER ":" PASS, 1);
	const char *const argv[] = {"python3", DATA "auth_proxy.py", prom.url, TOKEN, NULL};
	int rc = sp_start_port(argv, &proxy_pid, &proxy_port);
	unsetenv("ST_PROM_UPSTREAM_AUTH");
	return rc;
}

static int stop_proxy(void **state)
{
	(void)state;
	sp_stop(&proxy_pid);
	return 0;
}

static void test_bearer(void **state)
{
	(void)state;
	need_prometheus();
	char path[64];
	sp_tmpfile(path, sizeof(path), "st-prom-token", TOKEN "\n", sizeof(TOKEN));
	char url[96];
	snprintf(url, sizeof(url), "http://127.0.0.1:%d", proxy_port);
	st_kv kv[] = {{"time", "1700000000"}};
	st_source src = {.name = "prom",
			 .kind = "prometheus",
			 .location = url,
			 .token_file = path,
			 .options = kv,
			 .n_options = 1};
	prun t;
	run_src(&t, &src);
	ASSERT_OK(&t);
	check_otel(&t, "prom:otel-service-graph", "otel-service-graph");
	assert_nowhere(&t, TOKEN);
	prun_free(&t);

	/* a wrong token: 401 naming the file, not the value */
	sp_write_file(path, "not-the-token-77\n");
	run_src(&t, &src);
	assert_int_equal(t.rc, ST_E_IO);
	char want[256];
	snprintf(want, sizeof(want),
		 "source 'prom': GET http://127.0.0.1:%d/api/v1/query: HTTP 401 (unauthorized): "
		 "the server refused the token from file %s",
		 proxy_port, path);
	if (strcmp(t.d.msg, want))
		fail_msg("'%s'\nwant '%s'", t.d.msg, want);
	assert_nowhere(&t, "not-the-token-77");
	prun_free(&t);
	unlink(path);

	/* a server that accepts and never answers: the timeout */
	snprintf(url, sizeof(url), "http://127.0.0.1:%d/slow", proxy_port);
	st_source slow = {.name = "prom", .kind = "prometheus", .location = url, .timeout_s = 0.5};
	struct timespec a, b;
	clock_gettime(CLOCK_MONOTONIC, &a);
	run_src(&t, &slow);
	clock_gettime(CLOCK_MONOTONIC, &b);
	assert_int_equal(t.rc, ST_E_IO);
	if (!strstr(t.d.msg, "/slow/api/v1/query (request_rate): timed out after 0.5 s"))
		fail_msg("%s", t.d.msg);
	assert_true((double)(b.tv_sec - a.tv_sec) + (double)(b.tv_nsec - a.tv_nsec) / 1e9 < 5);
	prun_free(&t);
}

static void test_refused(void **state)
{
	(void)state;
	/* a port nobody listens on (no live server needed) */
	int port = sp_free_port();
	assert_true(port > 0);
	char url[96];
	snprintf(url, sizeof(url), "http://u:SECRET-IN-URL@127.0.0.1:%d/prom", port);
	st_source src = {.name = "prom", .kind = "prometheus", .location = url};
	prun t;
	run_src(&t, &src);
	assert_int_equal(t.rc, ST_E_IO);
	char want[128];
	snprintf(want, sizeof(want),
		 "source 'prom': GET http://***@127.0.0.1:%d/prom/api/v1/query (request_rate): ",
		 port);
	if (strncmp(t.d.msg, want, strlen(want)) || !strstr(t.d.msg, "Connection refused"))
		fail_msg("'%s'", t.d.msg);
	assert_nowhere(&t, "SECRET-IN-URL");
	assert_int_equal(t.rs.n, 0);
	prun_free(&t);
}

/* The live server's own responses, saved into the file format, give the
 * same facts as the server. */
static void test_saved_from_server(void **state)
{
	(void)state;
	need_prometheus();
	static const char *const names[] = {"request_rate", "error_rate", "latency_p99"};
	static const char *const queries[] = {
		"sum+by+(client,server)+(rate(traces_service_graph_request_total[5m]))",
		"sum+by+(client,server)+(rate(traces_service_graph_request_failed_total[5m]))",
		("histogram_quantile(0.99,sum+by+(client,server,le)+(rate(traces_service_graph_"
		 "request_server_seconds_bucket[5m])))"),
	};
	char path[] = "/tmp/st-prom-saved-XXXXXX";
	int fd = mkstemp(path);
	assert_true(fd >= 0);
	FILE *f = fdopen(fd, "w");
	fputs("{\n", f);
	for (int q = 0; q < 3; q++) {
		char url[512];
		snprintf(url, sizeof(url), "%s/api/v1/query?time=1700000000&query=%s", prom.url,
			 queries[q]);
		fprintf(f, "%s\"%s\": ", q ? ",\n" : "", names[q]);
		fflush(f);
		assert_int_equal(http_get(url, f), 200);
	}
	fputs("\n}\n", f);
	fclose(f);
	prun t;
	run_file(&t, path, NULL);
	ASSERT_OK(&t);
	/* file mode: the facts' origin is still the profile */
	check_otel(&t, "saved:otel-service-graph", "otel-service-graph");
	prun_free(&t);
	unlink(path);
}

/* ---------------------------------------------------------------------------
 * File mode. */

static void test_file(void **state)
{
	(void)state;
	prun t;
	run_file(&t, DATA "saved_otel.json", NULL);
	ASSERT_OK(&t);
	assert_int_equal(t.rs.n_edges, 2);
	assert_int_equal(t.rs.n_nodes, 3);
	const rs_fact *e = edge(&t, "workload:frontend", "workload:checkout");
	assert_float(e, "request_rate", 12.5, 0);
	assert_float(e, "error_rate", 0.25, 0);
	assert_float(e, "latency_p99_ms", 437.5, 1e-12);
	assert_string_equal(e->origin, "saved:otel-service-graph");
	e = edge(&t, "workload:checkout", "workload:payments");
	assert_float(e, "error_rate", 0, 0);
	assert_no_prop(e, "latency_p99_ms");
	/* remarks carry the file's line */
	const rs_fact *n = find_note(&t, "request_rate: series {client=\"frontend\", "
					 "server=\"catalog\"} has value NaN; skipped");
	assert_non_null(n);
	assert_string_equal(n->origin, "saved:saved_otel.json");
	assert_int_equal(n->line, 9);
	n = find_note(&t, "series {client=\"loadgen\"} has no (or an empty) label server");
	assert_non_null(n);
	assert_int_equal(n->line, 10);
	n = find_note(&t, "series {client=\"frontend\", server=\"ads\"} has an infinite value");
	assert_non_null(n);
	assert_int_equal(n->line, 12);
	n = find_note(&t, "latency_p99: series {client=\"checkout\", server=\"payments\"} has "
			  "value NaN");
	assert_non_null(n);
	assert_int_equal(n->line, 31);
	assert_non_null(find_note(&t, "unknown query name 'comment'"));
	assert_null(rs_find_node(&t.rs, "workload:batch")); /* rate 0 */
	assert_int_equal(count(&t, 'o'), 5);
	assert_int_equal(count(&t, 'w'), 0);
	prun_free(&t);

	/* malformed: the position */
	run_file(&t, DATA "malformed.json", NULL);
	assert_int_equal(t.rc, ST_E_INVALID);
	if (!strstr(t.d.msg, "saved:malformed.json:6:") || !strstr(t.d.msg, "malformed JSON"))
		fail_msg("%s", t.d.msg);
	assert_int_equal(t.rs.n, 0);
	prun_free(&t);

	/* a saved error response fails the run with the API's words */
	run_file(&t, DATA "status_error.json", NULL);
	assert_int_equal(t.rc, ST_E_INVALID);
	if (!strstr(t.d.msg, "saved:status_error.json:3: saved response for \"error_rate\": "
			     "status error: bad_data: invalid parameter"))
		fail_msg("%s", t.d.msg);
	prun_free(&t);

	/* a matrix: reported, no edges, no error */
	run_file(&t, DATA "matrix.json", NULL);
	ASSERT_OK(&t);
	assert_int_equal(t.rs.n_edges, 0);
	assert_non_null(find_note(&t, "the result is a matrix, not an instant vector"));
	prun_free(&t);

	/* missing file; not a JSON object; no request_rate */
	run_file(&t, DATA "does-not-exist.json", NULL);
	assert_int_equal(t.rc, ST_E_IO);
	prun_free(&t);
	char path[64];
	sp_tmpfile(path, sizeof(path), "st-prom-file", "[1, 2]\n", 7);
	run_file(&t, path, NULL);
	assert_int_equal(t.rc, ST_E_INVALID);
	if (!strstr(t.d.msg, ":1:2: expected a JSON object"))
		fail_msg("%s", t.d.msg);
	prun_free(&t);
	sp_write_file(path, "%s", "{\"error_rate\": {\"status\": \"success\"}}");
	run_file(&t, path, NULL);
	assert_int_equal(t.rc, ST_E_INVALID);
	assert_non_null(strstr(t.d.msg, "no saved response \"request_rate\""));
	prun_free(&t);
	sp_write_file(path, "%s", "{\"request_rate\": 3}");
	run_file(&t, path, NULL);
	assert_int_equal(t.rc, ST_E_INVALID);
	assert_non_null(
		strstr(t.d.msg, "the saved response for \"request_rate\" is not a JSON object"));
	prun_free(&t);
	unlink(path);
}

/* The documentation's example responses (/work/shared/fixtures/prometheus). */
static void test_shared_fixtures(void **state)
{
	(void)state;
	const char *vec = FIXTURES "prometheus-docs-api-md/query_up_vector.json";
	const char *mat = FIXTURES "prometheus-docs-api-md/query_range_up_matrix.json";
	if (access(vec, R_OK) || access(mat, R_OK)) {
		printf("skipping: %s is not there (shared fixtures not installed)\n", vec);
		skip();
	}
	const char *files[] = {vec, mat};
	char path[] = "/tmp/st-prom-fx-XXXXXX";
	int fd = mkstemp(path);
	assert_true(fd >= 0);
	close(fd);
	const char *o[] = {"profile",  "custom", "client_label", "job", "server_label",
			   "instance", NULL};
	for (int i = 0; i < 2; i++) {
		/* wrap the response: {"request_rate": <file>} */
		FILE *in = fopen(files[i], "r"), *out = fopen(path, "w");
		assert_non_null(in);
		assert_non_null(out);
		fputs("{\"request_rate\":\n", out);
		char buf[4096];
		size_t n;
		while ((n = fread(buf, 1, sizeof(buf), in)) > 0)
			assert_int_equal(fwrite(buf, 1, n, out), n);
		fputs("}\n", out);
		fclose(in);
		fclose(out);
		prun t;
		run_file(&t, path, o);
		ASSERT_OK(&t);
		if (i == 0) {
			/* up{job="prometheus"} 1 is an edge; up{job="node"} 0 is not */
			assert_int_equal(t.rs.n_edges, 1);
			const rs_fact *e =
				edge(&t, "workload:prometheus", "workload:localhost:9090");
			assert_float(e, "request_rate", 1, 0);
			assert_null(rs_find_node(&t.rs, "workload:node"));
			const rs_fact *h = rs_find_hint(&t.rs, "workload:prometheus",
							ST_HINT_SERVICE, "prometheus");
			assert_non_null(h);
			assert_string_equal(h->rule, "prometheus-label");
			assert_string_equal(h->evidence, "job=\"prometheus\"");
		} else {
			assert_int_equal(t.rs.n_edges, 0);
			assert_non_null(find_note(&t, "the result is a matrix"));
		}
		prun_free(&t);
	}
	unlink(path);
}

static void test_options(void **state)
{
	(void)state;
	static const struct {
		const char *k1, *v1, *k2, *v2;
		const char *want;
	} cases[] = {
		{"colour", "red", NULL, NULL, "unknown option 'colour'"},
		{"window", "5 minutes", NULL, NULL,
		 "option window '5 minutes' is not a PromQL duration"},
		{"window", "5m]) or vector(1", NULL, NULL, "is not a PromQL duration"},
		{"time", "yesterday", NULL, NULL, "neither RFC 3339 nor unix seconds"},
		{"profile", "linkerd", NULL, NULL, "unknown profile 'linkerd'"},
		{"query", "up", NULL, NULL, "option 'query' is for profile custom only"},
		{"profile", "custom", "query", "up", "needs options client_label and server_label"},
		{"reporter", "source", NULL, NULL, "option 'reporter' is for profile istio only"},
		{"profile", "istio", "reporter", "both", "reporter must be destination or source"},
		{"profile", "otel-service-graph", "protocol_label", "a-b",
		 "'a-b' is not a Prometheus label name"},
		{"username", "", NULL, NULL, "option 'username' is empty"},
	};
	for (size_t i = 0; i < ST_ARRAY_LEN(cases); i++) {
		st_kv kv[2] = {{cases[i].k1, cases[i].v1}, {cases[i].k2, cases[i].v2}};
		st_source src = {.name = "p",
				 .kind = "prometheus",
				 .location = "http://127.0.0.1:1",
				 .options = kv,
				 .n_options = cases[i].k2 ? 2 : 1};
		prun t;
		run_src(&t, &src);
		assert_int_equal(t.rc, ST_E_INVALID);
		if (!strstr(t.d.msg, cases[i].want))
			fail_msg("case %zu: '%s' lacks '%s'", i, t.d.msg, cases[i].want);
		prun_free(&t);
	}
	/* custom without a query: only in file mode is that fine */
	st_kv kv[] = {{"profile", "custom"}, {"client_label", "a"}, {"server_label", "b"}};
	st_source src = {.name = "p",
			 .kind = "prometheus",
			 .location = "http://127.0.0.1:1",
			 .options = kv,
			 .n_options = 3};
	prun t;
	run_src(&t, &src);
	assert_int_equal(t.rc, ST_E_INVALID);
	assert_non_null(strstr(t.d.msg, "needs option query"));
	prun_free(&t);
	st_source bad = {.name = "p", .kind = "prometheus", .location = "ftp://x/y"};
	run_src(&t, &bad);
	assert_int_equal(t.rc, ST_E_INVALID);
	prun_free(&t);
	st_source q = {.name = "p", .kind = "prometheus", .location = "http://h:9090/?x=1"};
	run_src(&t, &q);
	assert_int_equal(t.rc, ST_E_INVALID);
	assert_non_null(strstr(t.d.msg, "no query or fragment"));
	prun_free(&t);
}

static int group_setup(void **state)
{
	(void)state;
	st_diag d;
	if (st_schema_load_default(&schema, &d))
		return -1;
	curl_global_init(CURL_GLOBAL_DEFAULT);
	prom.have = in_path("prometheus") && in_path("promtool");
	if (!prom.have) {
		printf("note: prometheus/promtool not installed: the live-server tests are "
		       "skipped\n");
		return 0;
	}
	return start_prometheus();
}

static int group_teardown(void **state)
{
	(void)state;
	stop_prometheus();
	st_schema_free(schema);
	curl_global_cleanup();
	return 0;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_otel),
		cmocka_unit_test(test_istio),
		cmocka_unit_test(test_custom),
		cmocka_unit_test(test_basic_auth),
		cmocka_unit_test_setup_teardown(test_bearer, start_proxy, stop_proxy),
		cmocka_unit_test(test_refused),
		cmocka_unit_test(test_saved_from_server),
		cmocka_unit_test(test_file),
		cmocka_unit_test(test_shared_fixtures),
		cmocka_unit_test(test_options),
	};
	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
