/*
 * scheduler.c — scheduled and triggered syncs inside the server (scheduler.h).
 *
 * One `slot` per configured source holds its timer, its waiters and its
 * counters.  `queue` is a FIFO of slot indexes; `busy` says a sync is on the
 * thread pool.  Only the loop thread touches this state; the worker gets a
 * copy of what it needs and writes only its own result.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "scheduler.h"

typedef struct waiter {
	st_sched_done_fn fn;
	void *ctx;
	struct waiter *next;
} waiter;

typedef struct slot {
	st_sched *s;
	const st_source_cfg *src;
	uv_timer_t timer;
	bool timer_on;
	bool queued, running;
	int64_t next_run;
	uint64_t runs, failures;
	int64_t last_success;
	double last_duration_s;
	int last_rc;
	waiter *waiters;      /* answered when the running sync ends */
	waiter *next_waiters; /* answered when the queued sync ends */
} slot;

struct st_sched {
	uv_loop_t *loop;
	st_sched_store store;
	char *store_dir;
	const st_config *cfg;
	slot *slots;
	size_t n;
	size_t *queue; /* ring of n entries */
	size_t q_head, q_len;
	bool busy, stopping;
	size_t timers_open;
	uv_work_t work;
	size_t work_slot;
	st_sync_result work_res;
	void (*on_stopped)(void *);
	void *stop_ctx;
};

static void start_next(st_sched *s);

static void enqueue(st_sched *s, size_t i)
{
	slot *sl = &s->slots[i];
	/* a source already running is queued again: the running sync may have
	 * read it before the change that made someone ask */
	if (sl->queued)
		return;
	sl->queued = true;
	s->queue[(s->q_head + s->q_len++) % s->n] = i;
	start_next(s);
}

static void on_timer(uv_timer_t *t)
{
	slot *sl = t->data;
	st_sched *s = sl->s;
	if (s->stopping)
		return;
	sl->next_run = (int64_t)time(NULL) + (int64_t)sl->src->schedule_s;
	if (!sl->running) /* a schedule does not pile up behind a long sync */
		enqueue(s, (size_t)(sl - s->slots));
}

static void work_cb(uv_work_t *w)
{
	st_sched *s = w->data;
	const slot *sl = &s->slots[s->work_slot];
	st_diag d = {{0}};
	st_sync_opts opts = {0};
	char why[600];
	st_store *st = s->store.acquire(s->store.ctx, why, sizeof(why));
	if (!st) {
		memset(&s->work_res, 0, sizeof(s->work_res));
		s->work_res.rc = ST_E_STORE;
		snprintf(s->work_res.error, sizeof(s->work_res.error), "%s", why);
		return;
	}
	st_sync_source(st, s->store_dir, s->cfg, sl->src, &opts, &s->work_res, &d);
	s->store.release(s->store.ctx);
}

static void maybe_stopped(st_sched *s)
{
	if (s->stopping && !s->busy && s->timers_open == 0 && s->on_stopped) {
		void (*fn)(void *) = s->on_stopped;
		s->on_stopped = NULL;
		fn(s->stop_ctx);
	}
}

static void after_work_cb(uv_work_t *w, int status)
{
	st_sched *s = w->data;
	slot *sl = &s->slots[s->work_slot];
	st_sync_result *res = &s->work_res;
	if (status == UV_ECANCELED) {
		res->rc = ST_E_BUSY;
		snprintf(res->error, sizeof(res->error), "cancelled: the server is stopping");
	}
	sl->running = false;
	sl->runs++;
	sl->last_rc = res->rc;
	sl->last_duration_s = res->duration_s;
	if (res->rc < 0)
		sl->failures++;
	else
		sl->last_success = (int64_t)time(NULL);
	if (res->rc < 0)
		fprintf(stderr, "stacktwin: sync %s failed: %s\n", sl->src->name, res->error);
	else if (res->rc == ST_SYNC_UNCHANGED)
		fprintf(stderr, "stacktwin: sync %s: unchanged in %.2f s\n", sl->src->name,
			res->duration_s);
	else
		fprintf(stderr, "stacktwin: sync %s: committed revision %llu in %.2f s\n",
			sl->src->name, (unsigned long long)res->revision, res->duration_s);
	waiter *wt = sl->waiters;
	sl->waiters = NULL;
	while (wt) {
		waiter *next = wt->next;
		wt->fn(sl->src->name, res, wt->ctx);
		free(wt);
		wt = next;
	}
	s->busy = false;
	if (!s->stopping)
		start_next(s);
	maybe_stopped(s);
}

static void start_next(st_sched *s)
{
	if (s->busy || s->stopping || !s->q_len)
		return;
	size_t i = s->queue[s->q_head];
	s->q_head = (s->q_head + 1) % s->n;
	s->q_len--;
	slot *sl = &s->slots[i];
	sl->queued = false;
	sl->running = true;
	sl->waiters = sl->next_waiters;
	sl->next_waiters = NULL;
	s->busy = true;
	s->work_slot = i;
	memset(&s->work_res, 0, sizeof(s->work_res));
	s->work.data = s;
	if (uv_queue_work(s->loop, &s->work, work_cb, after_work_cb)) {
		s->work_res.rc = ST_E_BUSY;
		snprintf(s->work_res.error, sizeof(s->work_res.error), "could not queue the sync");
		after_work_cb(&s->work, 0);
	}
}

st_sched *st_sched_new(uv_loop_t *loop, st_sched_store store, const char *store_dir,
		       const st_config *cfg, uint64_t initial_delay_ms)
{
	st_sched *s = st_xcalloc(1, sizeof(*s));
	s->loop = loop;
	s->store = store;
	s->store_dir = st_xstrndup(store_dir, strlen(store_dir));
	s->cfg = cfg;
	s->n = cfg->n_sources;
	s->slots = st_xcalloc(s->n ? s->n : 1, sizeof(slot));
	s->queue = st_xcalloc(s->n ? s->n : 1, sizeof(size_t));
	for (size_t i = 0; i < s->n; i++) {
		slot *sl = &s->slots[i];
		sl->s = s;
		sl->src = &cfg->sources[i];
		if (!sl->src->schedule_s)
			continue;
		uv_timer_init(loop, &sl->timer);
		sl->timer.data = sl;
		/* spread first runs a little so sources do not all start at once */
		uint64_t first = initial_delay_ms + i * 200;
		uv_timer_start(&sl->timer, on_timer, first, sl->src->schedule_s * 1000);
		sl->timer_on = true;
		sl->next_run = (int64_t)time(NULL) + (int64_t)(first / 1000);
	}
	return s;
}

int st_sched_trigger(st_sched *s, const char *name, st_sched_done_fn done, void *ctx)
{
	if (s->stopping)
		return ST_E_BUSY;
	for (size_t i = 0; i < s->n; i++) {
		slot *sl = &s->slots[i];
		if (strcmp(sl->src->name, name))
			continue;
		int already = sl->queued || sl->running;
		if (done) {
			waiter *w = st_xmalloc(sizeof(*w));
			*w = (waiter){done, ctx, sl->next_waiters};
			sl->next_waiters = w;
		}
		enqueue(s, i);
		return already;
	}
	return ST_E_NOTFOUND;
}

size_t st_sched_count(const st_sched *s)
{
	return s ? s->n : 0;
}

void st_sched_info_at(const st_sched *s, size_t i, st_sched_info *ret)
{
	const slot *sl = &s->slots[i];
	*ret = (st_sched_info){
		.name = sl->src->name,
		.kind = sl->src->kind,
		.queued = sl->queued,
		.running = sl->running,
		.schedule_s = sl->src->schedule_s,
		.next_run = sl->timer_on ? sl->next_run : 0,
		.runs = sl->runs,
		.failures = sl->failures,
		.last_success = sl->last_success,
		.last_duration_s = sl->last_duration_s,
		.last_rc = sl->last_rc,
	};
}

static void timer_closed(uv_handle_t *h)
{
	slot *sl = h->data;
	st_sched *s = sl->s;
	s->timers_open--;
	maybe_stopped(s);
}

void st_sched_stop(st_sched *s, void (*on_stopped)(void *ctx), void *ctx)
{
	s->stopping = true;
	s->on_stopped = on_stopped;
	s->stop_ctx = ctx;
	/* queued syncs are dropped: tell their waiters */
	while (s->q_len) {
		slot *sl = &s->slots[s->queue[s->q_head]];
		s->q_head = (s->q_head + 1) % s->n;
		s->q_len--;
		sl->queued = false;
		st_sync_result res = {.rc = ST_E_BUSY};
		snprintf(res.error, sizeof(res.error), "not run: the server is stopping");
		waiter *w = sl->next_waiters;
		sl->next_waiters = NULL;
		while (w) {
			waiter *next = w->next;
			w->fn(sl->src->name, &res, w->ctx);
			free(w);
			w = next;
		}
	}
	for (size_t i = 0; i < s->n; i++) {
		slot *sl = &s->slots[i];
		if (!sl->timer_on)
			continue;
		uv_timer_stop(&sl->timer);
		sl->timer_on = false;
		s->timers_open++;
		uv_close((uv_handle_t *)&sl->timer, timer_closed);
	}
	maybe_stopped(s);
}

void st_sched_free(st_sched *s)
{
	if (!s)
		return;
	for (size_t i = 0; i < s->n; i++) {
		waiter *lists[2] = {s->slots[i].waiters, s->slots[i].next_waiters};
		for (int k = 0; k < 2; k++) {
			waiter *w = lists[k];
			while (w) {
				waiter *next = w->next;
				free(w);
				w = next;
			}
		}
	}
	free(s->slots);
	free(s->queue);
	free(s->store_dir);
	free(s);
}
