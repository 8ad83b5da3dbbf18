/*
 * metrics.c — request counters, a duration histogram per route and the
 * Prometheus text rendering (metrics.h).
 *
 * Storage is fixed at creation: per route, one counter per status code
 * 100..599 and one non-cumulative count per histogram bucket, so an update
 * is a few array increments and never allocates.  Rendering walks these
 * arrays; its output is bounded by routes x (codes + buckets) lines.  This
 * file must not lock, log or know about HTTP or the store.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "metrics.h"

#define MIN_STATUS 100
#define N_STATUS 500 /* 100..599 */

/* Upper bounds of the finite buckets; "+Inf" is the count. */
static const double bucket_le[] = {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025,
				   0.05,   0.1,	  0.25,	  0.5,	 1,    2.5};
static const char *const bucket_txt[] = {"0.0005", "0.001", "0.0025", "0.005", "0.01", "0.025",
					 "0.05",   "0.1",   "0.25",   "0.5",   "1",    "2.5"};
#define N_BUCKETS (sizeof(bucket_le) / sizeof(bucket_le[0]))

struct route_stats {
	uint64_t by_status[N_STATUS];
	uint64_t bucket[N_BUCKETS]; /* observations in (le[i-1], le[i]] */
	uint64_t count;
	double sum;
	bool untimed; /* no histogram lines */
};

struct st_metrics {
	const char *const *names;
	size_t n;
	uint64_t in_flight;
	struct route_stats *r; /* [n] */
};

int st_metrics_new(const char *const *routes, size_t n_routes, st_metrics **ret_metrics)
{
	if (!routes || !n_routes || !ret_metrics)
		return -EINVAL;
	st_metrics *m = calloc(1, sizeof(*m));
	if (!m)
		return -ENOMEM;
	m->r = calloc(n_routes, sizeof(*m->r));
	if (!m->r) {
		free(m);
		return -ENOMEM;
	}
	m->names = routes;
	m->n = n_routes;
	*ret_metrics = m;
	return 0;
}

void st_metrics_free(st_metrics *m)
{
	if (!m)
		return;
	free(m->r);
	free(m);
}

void st_metrics_request_begin(st_metrics *m)
{
	m->in_flight++;
}

void st_metrics_request_end(st_metrics *m, size_t route, int status, double seconds)
{
	if (m->in_flight)
		m->in_flight--;
	if (route >= m->n || status < MIN_STATUS || status >= MIN_STATUS + N_STATUS)
		return;
	struct route_stats *rs = &m->r[route];
	rs->by_status[status - MIN_STATUS]++;
	if (!(seconds >= 0)) /* also NaN */
		seconds = 0;
	for (size_t i = 0; i < N_BUCKETS; i++)
		if (seconds <= bucket_le[i]) {
			rs->bucket[i]++;
			break;
		}
	rs->count++;
	rs->sum += seconds;
}

void st_metrics_count(st_metrics *m, size_t route, int status)
{
	if (route >= m->n || status < MIN_STATUS || status >= MIN_STATUS + N_STATUS)
		return;
	m->r[route].by_status[status - MIN_STATUS]++;
}

int st_metrics_untimed(st_metrics *m, size_t route)
{
	if (!m || route >= m->n)
		return -EINVAL;
	m->r[route].untimed = true;
	return 0;
}

/* ------------------------------------------------------------ rendering */

struct out {
	char *p;
	size_t len, cap;
	bool oom;
};

static void outf(struct out *o, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void outf(struct out *o, const char *fmt, ...)
{
	if (o->oom)
		return;
	for (;;) {
		va_list ap;
		va_start(ap, fmt);
		int n = vsnprintf(o->p + o->len, o->cap - o->len, fmt, ap);
		va_end(ap);
		if (n < 0) {
			o->oom = true;
			return;
		}
		if ((size_t)n < o->cap - o->len) {
			o->len += (size_t)n;
			return;
		}
		size_t cap = o->cap * 2 + (size_t)n;
		char *p = realloc(o->p, cap);
		if (!p) {
			o->oom = true;
			return;
		}
		o->p = p;
		o->cap = cap;
	}
}

static void header(struct out *o, const char *name, const char *type, const char *help)
{
	outf(o, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

static void gauge(struct out *o, const char *name, const char *help, uint64_t v)
{
	header(o, name, "gauge", help);
	outf(o, "%s %llu\n", name, (unsigned long long)v);
}

/* Per-source series, one family at a time as the format wants. */
static void render_sources(struct out *o, const st_metrics_gauges *g)
{
	if (!g->n_sources)
		return;
	static const char ok[] = "stacktwin_source_last_success_timestamp_seconds",
			  stale[] = "stacktwin_source_staleness_seconds",
			  dur[] = "stacktwin_source_last_sync_duration_seconds",
			  up[] = "stacktwin_source_up", run[] = "stacktwin_source_sync_running",
			  syncs[] = "stacktwin_source_syncs_total",
			  fails[] = "stacktwin_source_sync_failures_total";
	header(o, ok, "gauge", "When the source last synced successfully (seconds since the epoch).");
	for (size_t i = 0; i < g->n_sources; i++)
		if (g->sources[i].last_success)
			outf(o, "%s{source=\"%s\"} %lld\n", ok, g->sources[i].name,
			     (long long)g->sources[i].last_success);
	header(o, stale, "gauge", "Seconds since the source last synced successfully.");
	for (size_t i = 0; i < g->n_sources; i++)
		if (g->sources[i].last_success)
			outf(o, "%s{source=\"%s\"} %lld\n", stale, g->sources[i].name,
			     (long long)(g->now - g->sources[i].last_success));
	header(o, dur, "gauge", "Duration of the source's last sync attempt in seconds.");
	for (size_t i = 0; i < g->n_sources; i++)
		if (g->sources[i].has_attempt)
			outf(o, "%s{source=\"%s\"} %.6f\n", dur, g->sources[i].name,
			     g->sources[i].last_duration_s);
	header(o, up, "gauge", "1 if the source's last sync attempt succeeded, else 0.");
	for (size_t i = 0; i < g->n_sources; i++)
		if (g->sources[i].has_attempt)
			outf(o, "%s{source=\"%s\"} %d\n", up, g->sources[i].name,
			     g->sources[i].up ? 1 : 0);
	header(o, run, "gauge", "1 while a sync of the source runs in this server.");
	for (size_t i = 0; i < g->n_sources; i++)
		outf(o, "%s{source=\"%s\"} %d\n", run, g->sources[i].name,
		     g->sources[i].running ? 1 : 0);
	header(o, syncs, "counter", "Sync attempts of the source run by this server.");
	for (size_t i = 0; i < g->n_sources; i++)
		outf(o, "%s{source=\"%s\"} %llu\n", syncs, g->sources[i].name,
		     (unsigned long long)g->sources[i].syncs);
	header(o, fails, "counter", "Failed sync attempts of the source run by this server.");
	for (size_t i = 0; i < g->n_sources; i++)
		outf(o, "%s{source=\"%s\"} %llu\n", fails, g->sources[i].name,
		     (unsigned long long)g->sources[i].failures);
}

int st_metrics_render(const st_metrics *m, const st_metrics_gauges *g, char **ret_text,
		      size_t *ret_len)
{
	if (!m || !g || !ret_text || !ret_len)
		return -EINVAL;
	struct out o = {.cap = 4096};
	o.p = malloc(o.cap);
	if (!o.p)
		return -ENOMEM;
	o.p[0] = 0;

	static const char req_total[] = "stacktwin_http_requests_total";
	header(&o, req_total, "counter",
	       "HTTP responses sent by the API, by route and status code.");
	for (size_t i = 0; i < m->n; i++)
		for (int c = 0; c < N_STATUS; c++)
			if (m->r[i].by_status[c])
				outf(&o, "%s{route=\"%s\",code=\"%d\"} %llu\n", req_total,
				     m->names[i], c + MIN_STATUS,
				     (unsigned long long)m->r[i].by_status[c]);

	static const char dur[] = "stacktwin_http_request_duration_seconds";
	header(&o, dur, "histogram",
	       "Time from a complete request to its response being queued, by route.");
	for (size_t i = 0; i < m->n; i++) {
		const struct route_stats *rs = &m->r[i];
		uint64_t cum = 0;
		if (rs->untimed)
			continue;
		for (size_t b = 0; b < N_BUCKETS; b++) {
			cum += rs->bucket[b];
			outf(&o, "%s_bucket{route=\"%s\",le=\"%s\"} %llu\n", dur, m->names[i],
			     bucket_txt[b], (unsigned long long)cum);
		}
		outf(&o, "%s_bucket{route=\"%s\",le=\"+Inf\"} %llu\n", dur, m->names[i],
		     (unsigned long long)rs->count);
		outf(&o, "%s_sum{route=\"%s\"} %.9g\n", dur, m->names[i], rs->sum);
		outf(&o, "%s_count{route=\"%s\"} %llu\n", dur, m->names[i],
		     (unsigned long long)rs->count);
	}

	gauge(&o, "stacktwin_http_requests_in_flight",
	      "Requests received and not yet answered (this scrape included).", m->in_flight);
	gauge(&o, "stacktwin_http_connections", "Open client connections.", g->connections);
	if (g->store_ok) {
		gauge(&o, "stacktwin_graph_nodes", "Nodes in the store at its newest revision.",
		      g->nodes);
		gauge(&o, "stacktwin_graph_edges", "Edges in the store at its newest revision.",
		      g->edges);
		gauge(&o, "stacktwin_cost_facts", "Cost facts in the store at its newest revision.",
		      g->cost_facts);
		gauge(&o, "stacktwin_store_revision", "The store's newest revision.", g->revision);
		if (g->revision_time) {
			static const char ts[] = "stacktwin_store_revision_timestamp_seconds";
			header(&o, ts, "gauge",
			       "When the newest revision was written, in seconds since the epoch.");
			outf(&o, "%s %lld\n", ts, (long long)g->revision_time);
		}
	}
	render_sources(&o, g);
	if (o.oom) {
		free(o.p);
		return -ENOMEM;
	}
	*ret_text = o.p;
	*ret_len = o.len;
	return 0;
}
