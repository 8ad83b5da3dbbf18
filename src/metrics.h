/*
 * metrics.h — the request counters of `stacktwin serve` and their rendering
 * in the Prometheus text exposition format, version 0.0.4 (docs/api.md lists
 * the metric names).
 *
 * Requests are counted by route *label*: a small fixed set of names the
 * caller gives at creation, never the raw request path, so the number of
 * time series stays bounded whatever clients send.  Status codes are bounded
 * too (100..599).
 *
 * Threading: there is no locking.  Every function on one st_metrics must be
 * called from one thread; the server uses its loop thread, which is where
 * responses are sent.  Nothing here logs or does I/O.
 */
#ifndef ST_METRICS_H
#define ST_METRICS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common.h"

typedef struct st_metrics st_metrics;

/* Gauges the caller samples at scrape time.  The store gauges are written
 * only when store_ok is true (a snapshot could be taken). */
/* One source's sync state (docs/api.md): what the store's status record
 * says, plus this process's counters.  name needs no escaping (config
 * source names are [a-z0-9._-]). */
typedef struct st_metrics_source {
	const char *name;
	int64_t last_success; /* epoch seconds; 0 = never (series left out) */
	double last_duration_s;
	bool has_attempt, up; /* up: the last attempt succeeded */
	bool running;
	uint64_t syncs, failures; /* in this process */
} st_metrics_source;

typedef struct st_metrics_gauges {
	uint64_t connections;
	const st_metrics_source *sources;
	size_t n_sources;
	int64_t now; /* for staleness */
	bool store_ok;
	uint64_t nodes, edges, cost_facts, revision;
	int64_t revision_time; /* seconds since the epoch; 0 = none (left out) */
} st_metrics_gauges;

/* New counters for routes[0..n_routes-1], the route label values.  The
 * strings are not copied: they must outlive the st_metrics (use literals),
 * and must need no escaping (letters, digits, '-', '_', '/', '.').
 * Errors: -EINVAL (no routes, NULL ret), -ENOMEM. */
int st_metrics_new(const char *const *routes, size_t n_routes, st_metrics **ret_metrics);

/* Free; NULL is allowed. */
void st_metrics_free(st_metrics *m);

/* A request has arrived: the in-flight gauge goes up by one. */
void st_metrics_request_begin(st_metrics *m);

/* The request started by st_metrics_request_begin() was answered with
 * status on route (an index into the routes given to st_metrics_new) after
 * seconds: counts it, observes the duration and lowers the in-flight gauge.
 * An out-of-range route or status is ignored except for the gauge. */
void st_metrics_request_end(st_metrics *m, size_t route, int status, double seconds);

/* Count a response that never was a handler's request, e.g. a protocol
 * error the HTTP core answered itself: requests_total only, no duration, the
 * in-flight gauge unchanged.  An out-of-range route or status is ignored. */
void st_metrics_count(st_metrics *m, size_t route, int status);

/* Leave route out of the duration histogram (for a route counted only with
 * st_metrics_count, whose durations mean nothing).  Errors: -EINVAL. */
int st_metrics_untimed(st_metrics *m, size_t route);

/* The whole exposition (HELP, TYPE and samples) in a new NUL-terminated
 * buffer the caller frees; *ret_len excludes the NUL.  Errors: -EINVAL,
 * -ENOMEM. */
int st_metrics_render(const st_metrics *m, const st_metrics_gauges *g, char **ret_text,
		      size_t *ret_len);

/* The Content-Type of st_metrics_render()'s output. */
#define ST_METRICS_CONTENT_TYPE "text/plain; version=0.0.4; charset=utf-8"

#endif
