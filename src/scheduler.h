/*
 * scheduler.h — syncs inside `stacktwin serve` (docs/sync.md, docs/api.md).
 *
 * Each configured source with a `schedule` gets a libuv timer; a due or
 * triggered sync is queued, and the queue runs one sync at a time on the
 * libuv thread pool (a sync is one LMDB write transaction; LMDB has one
 * writer anyway), so the loop keeps answering queries from the previous
 * snapshot while it runs.  All functions are called on the loop thread.
 */
#ifndef ST_SCHEDULER_H
#define ST_SCHEDULER_H

#include <stdbool.h>
#include <stdint.h>

#include <uv.h>

#include "config.h"
#include "store.h"
#include "sync.h"

typedef struct st_sched st_sched;

/* Called on the loop thread when a sync finishes. */
typedef void (*st_sched_done_fn)(const char *source, const st_sync_result *res, void *ctx);

/* How a sync gets the store: acquire returns it (writable) or NULL with the
 * reason in why; release ends the use.  Called on a thread-pool thread, so
 * the server can keep the store behind a lock (it may be reopened). */
typedef struct st_sched_store {
	st_store *(*acquire)(void *ctx, char *why, size_t cap);
	void (*release)(void *ctx);
	void *ctx;
} st_sched_store;

/* Start timers for every source with a schedule; the first run of each is
 * due `initial_delay_ms` after start (then every schedule).  cfg must
 * outlive the scheduler. */
st_sched *st_sched_new(uv_loop_t *loop, st_sched_store store, const char *store_dir,
		       const st_config *cfg, uint64_t initial_delay_ms);

/* Queue a sync of source `name` now; done (may be NULL) is called when the
 * sync that serves this request ends.  A source already queued is not queued
 * twice (the request joins that run); a source running now is queued again
 * behind it, since the running sync may have read the source before the
 * change that made someone ask.  Returns 0 when nothing of the source was
 * queued or running, 1 when something was; ST_E_NOTFOUND unknown source;
 * ST_E_BUSY while stopping. */
int st_sched_trigger(st_sched *s, const char *name, st_sched_done_fn done, void *ctx);

/* State of one source for GET /api/v1/sources and /metrics. */
typedef struct st_sched_info {
	const char *name, *kind;
	bool queued, running;
	uint64_t schedule_s;	/* 0 = on demand only */
	int64_t next_run;	/* epoch seconds, 0 if none */
	uint64_t runs, failures; /* since the server started */
	int64_t last_success;	/* epoch seconds of the last success in this process, 0 if none */
	double last_duration_s;
	int last_rc; /* of the last run in this process; 0 before any */
} st_sched_info;

size_t st_sched_count(const st_sched *s);
void st_sched_info_at(const st_sched *s, size_t i, st_sched_info *ret);

/* Stop the timers and drop queued syncs; a running sync finishes (it is one
 * transaction: stopping cannot cut it), then on_stopped is called. */
void st_sched_stop(st_sched *s, void (*on_stopped)(void *ctx), void *ctx);
/* Free after on_stopped.  NULL-safe. */
void st_sched_free(st_sched *s);

#endif
