/*
 * prometheus.c — the Prometheus runtime call-graph connector
 * (docs/connectors.md, "Prometheus").
 *
 * Asks a Prometheus server (GET /api/v1/query, instant queries) — or reads a
 * file of saved instant-query responses — for the request rate, error rate
 * and p99 latency between pairs of runtime endpoints, using a built-in
 * profile (OTel service graph metrics, Istio standard metrics) or custom
 * PromQL, and emits a Workload node per endpoint, a CALLS edge per calling
 * pair with a non-zero request rate, and one service identity hint per
 * Workload.  It never emits service-level edges: the sync lifts CALLS
 * between linked workloads onto services (src/sync.c).
 *
 * Responses are parsed as a stream with yajl (libcurl's write callback, or
 * 256 KiB file chunks); per series only the handful of labels the profile
 * names and the sample value are kept.  Values that are not finite numbers,
 * results that are not instant vectors and series without the labels are
 * reported with sink->note and skipped; they do not fail the run.  HTTP
 * errors, `status: error` responses, timeouts and malformed JSON do.
 *
 * Messages name the URL without user info, query or fragment and the
 * credential *reference* (environment variable or file), never its value.
 * Like every connector it does not log and never touches the store.
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <curl/curl.h>
#include <yajl/yajl_parse.h>

#include "connector.h"
#include "fetch.h"
#include "jsonpos.h"
#include "props.h"
#include "strmap.h"

#define READ_CHUNK (256u << 10)
#define MAX_BODY (64ull << 20)	   /* one query response over HTTP */
#define MAX_ERROR_BODY (64u << 10) /* a non-2xx body read for errorType/error */
#define MAX_FILE (512ull << 20)	   /* a saved-responses file */
#define MAX_DEPTH 128		   /* JSON nesting */
#define MAX_LABEL 1024		   /* a kept label value */
#define MAX_SERIES 1000000	   /* series per response */
#define MAX_NOTES 100		   /* then one summary note */
#define MAX_PROTO 256		   /* the joined protocol list of one edge */

/* ---------------------------------------------------------------------------
 * Profiles: the queries and the labels that name the endpoints. */

enum { Q_REQ, Q_ERR, Q_P99, Q_N };
static const char *const query_names[Q_N] = {"request_rate", "error_rate", "latency_p99"};

enum { L_CLIENT, L_SERVER, L_CNS, L_SNS, L_PROTO, L_N };

typedef struct prof {
	const char *name; /* profile name: provenance origin and messages */
	const char *rule; /* the identity rule of the hints */
	const char *label[L_N];
	char *query[Q_N];  /* NULL: not asked */
	double p99_scale;  /* latency result -> milliseconds */
	bool skip_unknown; /* Istio's "unknown": a peer outside the mesh */
} prof;

static void prof_free(prof *c)
{
	for (int q = 0; q < Q_N; q++)
		free(c->query[q]);
}

static char *fmt(const char *f, ...) __attribute__((format(printf, 1, 2)));
static char *fmt(const char *f, ...)
{
	va_list ap;
	va_start(ap, f);
	int n = vsnprintf(NULL, 0, f, ap);
	va_end(ap);
	char *s = st_xmalloc((size_t)n + 1);
	va_start(ap, f);
	vsnprintf(s, (size_t)n + 1, f, ap);
	va_end(ap);
	return s;
}

static bool valid_label_name(const char *s)
{
	size_t n = strlen(s);
	if (!n || n > 128 || !((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || *s == '_'))
		return false;
	for (size_t i = 1; i < n; i++) {
		char c = s[i];
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '_'))
			return false;
	}
	return true;
}

/* A PromQL range duration: one or more <digits><unit>, unit ms s m h d w y. */
static bool valid_window(const char *s)
{
	if (!*s || strlen(s) > 32)
		return false;
	while (*s) {
		if (*s < '0' || *s > '9')
			return false;
		while (*s >= '0' && *s <= '9')
			s++;
		if (!strncmp(s, "ms", 2))
			s += 2;
		else if (*s && strchr("smhdwy", *s))
			s++;
		else
			return false;
	}
	return true;
}

/* RFC 3339 or unix seconds (with an optional fraction). */
static bool valid_time(const char *s)
{
	int64_t t;
	if (!st_timestamp_parse(s, strlen(s), &t))
		return true;
	size_t i = 0, digits = 0;
	while (s[i] >= '0' && s[i] <= '9')
		i++, digits++;
	if (s[i] == '.') {
		i++;
		while (s[i] >= '0' && s[i] <= '9')
			i++;
	}
	return digits && digits <= 12 && !s[i];
}

static const char *const known_options[] = {
	"profile",
	"window",
	"time",
	"username",
	"query",
	"error_query",
	"latency_query",
	"client_label",
	"server_label",
	"namespace_label",
	"client_namespace_label",
	"server_namespace_label",
	"protocol_label",
	"reporter",
};
static const char *const custom_only[] = {
	"query",	"error_query",	   "latency_query",	     "client_label",
	"server_label", "namespace_label", "client_namespace_label", "server_namespace_label",
};

static int configure(const st_source *src, prof *c, bool file_mode, st_diag *diag)
{
	memset(c, 0, sizeof(*c));
	for (size_t i = 0; i < src->n_options; i++) {
		const st_kv *o = &src->options[i];
		bool known = false;
		for (size_t k = 0; k < ST_ARRAY_LEN(known_options); k++)
			known |= !strcmp(o->key, known_options[k]);
		if (!known)
			return st_diag_set(
				diag, ST_E_INVALID,
				"source '%s': unknown option '%s' (prometheus knows profile, "
				"window, time, username, query, error_query, latency_query, "
				"client_label, server_label, namespace_label, "
				"client_namespace_label, server_namespace_label, "
				"protocol_label, reporter)",
				src->name, o->key);
		if (!o->value || !*o->value)
			return st_diag_set(diag, ST_E_INVALID, "source '%s': option '%s' is empty",
					   src->name, o->key);
	}
	const char *profile = st_source_option(src, "profile");
	if (!profile)
		profile = "otel-service-graph";
	const char *w = st_source_option(src, "window");
	if (!w)
		w = "5m";
	if (!valid_window(w))
		return st_diag_set(diag, ST_E_INVALID,
				   "source '%s': option window '%s' is not a PromQL duration (e.g. "
				   "5m, 1h30m)",
				   src->name, w);
	const char *t = st_source_option(src, "time");
	if (t && !valid_time(t))
		return st_diag_set(diag, ST_E_INVALID,
				   "source '%s': option time '%s' is neither RFC 3339 nor unix "
				   "seconds",
				   src->name, t);
	bool custom = !strcmp(profile, "custom");
	for (size_t k = 0; !custom && k < ST_ARRAY_LEN(custom_only); k++)
		if (st_source_option(src, custom_only[k]))
			return st_diag_set(diag, ST_E_INVALID,
					   "source '%s': option '%s' is for profile custom only",
					   src->name, custom_only[k]);
	const char *reporter = st_source_option(src, "reporter");
	if (reporter && strcmp(profile, "istio"))
		return st_diag_set(diag, ST_E_INVALID,
				   "source '%s': option 'reporter' is for profile istio only",
				   src->name);

	if (!strcmp(profile, "otel-service-graph")) {
		c->name = "otel-service-graph";
		c->rule = "otel-service-graph";
		c->label[L_CLIENT] = "client";
		c->label[L_SERVER] = "server";
		c->p99_scale = 1000.0; /* seconds */
		/* a protocol label must survive the aggregation to be read */
		const char *plo = st_source_option(src, "protocol_label");
		c->query[Q_REQ] = fmt("sum by (client, server%s%s) "
				      "(rate(traces_service_graph_request_total[%s]))",
				      plo ? ", " : "", plo ? plo : "", w);
		c->query[Q_ERR] = fmt("sum by (client, server) "
				      "(rate(traces_service_graph_request_failed_total[%s]))",
				      w);
		c->query[Q_P99] =
			fmt("histogram_quantile(0.99, sum by (client, server, le) "
			    "(rate(traces_service_graph_request_server_seconds_bucket[%s])))",
			    w);
	} else if (!strcmp(profile, "istio")) {
		if (!reporter)
			reporter = "destination";
		if (strcmp(reporter, "destination") && strcmp(reporter, "source"))
			return st_diag_set(diag, ST_E_INVALID,
					   "source '%s': option reporter must be destination or "
					   "source",
					   src->name);
		c->name = "istio";
		c->rule = "istio-workload";
		c->label[L_CLIENT] = "source_workload";
		c->label[L_SERVER] = "destination_workload";
		c->label[L_CNS] = "source_workload_namespace";
		c->label[L_SNS] = "destination_workload_namespace";
		c->label[L_PROTO] = "request_protocol";
		c->p99_scale = 1.0; /* milliseconds */
		c->skip_unknown = true;
		const char *by = "source_workload, source_workload_namespace, "
				 "destination_workload, destination_workload_namespace";
		c->query[Q_REQ] = fmt("sum by (%s, request_protocol) "
				      "(rate(istio_requests_total{reporter=\"%s\"}[%s]))",
				      by, reporter, w);
		c->query[Q_ERR] = fmt("sum by (%s) (rate(istio_requests_total{reporter=\"%s\", "
				      "response_code=~\"5..\"}[%s]))",
				      by, reporter, w);
		c->query[Q_P99] = fmt("histogram_quantile(0.99, sum by (%s, le) "
				      "(rate(istio_request_duration_milliseconds_bucket{reporter="
				      "\"%s\"}[%s])))",
				      by, reporter, w);
	} else if (custom) {
		c->name = "custom";
		c->rule = "prometheus-label";
		c->label[L_CLIENT] = st_source_option(src, "client_label");
		c->label[L_SERVER] = st_source_option(src, "server_label");
		const char *ns = st_source_option(src, "namespace_label");
		c->label[L_CNS] = st_source_option(src, "client_namespace_label");
		c->label[L_SNS] = st_source_option(src, "server_namespace_label");
		if (!c->label[L_CNS])
			c->label[L_CNS] = ns;
		if (!c->label[L_SNS])
			c->label[L_SNS] = ns;
		c->p99_scale = 1.0;
		if (!c->label[L_CLIENT] || !c->label[L_SERVER])
			return st_diag_set(diag, ST_E_INVALID,
					   "source '%s': profile custom needs options client_label "
					   "and server_label",
					   src->name);
		const char *q = st_source_option(src, "query");
		if (!q && !file_mode)
			return st_diag_set(diag, ST_E_INVALID,
					   "source '%s': profile custom needs option query (PromQL "
					   "returning a request rate per client/server pair)",
					   src->name);
		const char *opt[Q_N] = {"query", "error_query", "latency_query"};
		for (int k = 0; k < Q_N; k++) {
			const char *v = st_source_option(src, opt[k]);
			if (v)
				c->query[k] = st_xstrndup(v, strlen(v));
		}
	} else
		return st_diag_set(diag, ST_E_INVALID,
				   "source '%s': unknown profile '%s' (otel-service-graph, istio, "
				   "custom)",
				   src->name, profile);
	const char *pl = st_source_option(src, "protocol_label");
	if (pl)
		c->label[L_PROTO] = pl;
	for (int l = 0; l < L_N; l++)
		if (c->label[l] && !valid_label_name(c->label[l])) {
			int rc = st_diag_set(diag, ST_E_INVALID,
					     "source '%s': '%s' is not a Prometheus label name",
					     src->name, c->label[l]);
			prof_free(c);
			return rc;
		}
	return 0;
}

/* ---------------------------------------------------------------------------
 * Small containers. */
typedef struct sbuf {
	char *p;
	size_t len, cap;
} sbuf;

static size_t sb_add(sbuf *b, const void *s, size_t n)
{
	if (b->len + n + 1 > b->cap) {
		size_t nc = b->cap ? b->cap * 2 : 1024;
		while (nc < b->len + n + 1)
			nc *= 2;
		b->p = st_xrealloc(b->p, nc);
		b->cap = nc;
	}
	size_t off = b->len;
	if (n)
		memcpy(b->p + off, s, n);
	b->len += n;
	b->p[b->len] = 0;
	return off;
}

static void sb_str(sbuf *b, const char *s)
{
	sb_add(b, s, strlen(s));
}

static void sb_free(sbuf *b)
{
	free(b->p);
	memset(b, 0, sizeof(*b));
}

/* A label value as PromQL writes it: "..." with \ " and newlines escaped;
 * control characters become '?'. */
static void sb_quoted(sbuf *b, const char *s, size_t n)
{
	sb_add(b, "\"", 1);
	for (size_t i = 0; i < n; i++) {
		char c = s[i];
		if (c == '"' || c == '\\') {
			char e[2] = {'\\', c};
			sb_add(b, e, 2);
		} else if (c == '\n')
			sb_add(b, "\\n", 2);
		else if ((unsigned char)c < 0x20 || c == 0x7f)
			sb_add(b, "?", 1);
		else
			sb_add(b, &c, 1);
	}
	sb_add(b, "\"", 1);
}

/* ---------------------------------------------------------------------------
 * One parsed response. */

typedef struct series {
	size_t off[L_N];
	uint32_t len[L_N];
	uint32_t set;  /* bit per L_x present */
	uint32_t line; /* of the series' '{' */
	double v;
	uint8_t vstate; /* 0 no value, 1 ok, 2 unreadable */
	bool long_label;
} series;

typedef struct resp {
	bool present;
	uint32_t line; /* of the response object's '{' (file mode) */
	int status;    /* 0 absent, 1 success, 2 error, 3 other */
	char error_type[64], error[512];
	char result_type[16];
	size_t non_objects; /* result items that are not series objects */
	size_t n_warnings;
	series *s;
	size_t n, cap;
} resp;

enum frame { FR_FILE = 1, FR_RESP, FR_DATA, FR_RESULT, FR_SERIES, FR_METRIC, FR_VALUE, FR_WARN };

enum key {
	K_OTHER = 0,
	K_QUERY,
	K_STATUS,
	K_ERRTYPE,
	K_ERROR,
	K_DATA,
	K_WARNINGS,
	K_RESULTTYPE,
	K_RESULT,
	K_METRIC,
	K_VALUE,
	K_LABEL,
};

typedef struct pp {
	const st_source *src;
	st_sink *sink;
	st_diag *diag;
	const prof *c;
	const char *where; /* parse error prefix: "<source>:<file>" or "... GET url (q)" */
	const char *fact_origin;
	const char *note_origin; /* the file's origin in file mode, else fact_origin */
	const char *shown;	 /* URL mode: the base URL for messages */
	bool file_mode;
	yajl_handle h;
	int err;

	/* position */
	st__jpos pos;

	/* structure */
	uint8_t fr[MAX_DEPTH];
	int nfr;
	uint32_t skip;
	int key;
	uint32_t label_mask;
	int cur_q; /* the response being filled; -1: an unknown query name (skipped) */
	int val_idx;

	resp r[Q_N];
	sbuf strs; /* kept label values */

	size_t n_notes, n_more_notes;
	sbuf msg; /* scratch */
} pp;

static void note(pp *p, uint32_t line, const char *msg)
{
	if (p->n_notes >= MAX_NOTES) {
		p->n_more_notes++;
		return;
	}
	p->n_notes++;
	st_loc loc = {p->note_origin, p->file_mode ? line : 0};
	if (p->sink->note)
		p->sink->note(p->sink, loc, msg);
	else
		p->sink->warn(p->sink, loc, msg);
}

static void here(pp *p, uint32_t *line, uint32_t *col)
{
	st__jpos_here(&p->pos, p->h, line, col);
}

static int fail(pp *p, const char *f, ...) __attribute__((format(printf, 2, 3)));
static int fail(pp *p, const char *f, ...)
{
	char m[512];
	va_list ap;
	va_start(ap, f);
	vsnprintf(m, sizeof(m), f, ap);
	va_end(ap);
	uint32_t l, c;
	here(p, &l, &c);
	p->err = st_diag_set(p->diag, ST_E_INVALID, "%s:%u:%u: %s", p->where, l, c, m);
	return 0; /* cancels yajl */
}

static int top(const pp *p)
{
	return p->nfr ? p->fr[p->nfr - 1] : 0;
}

static int push(pp *p, int f)
{
	if (p->nfr + p->skip >= MAX_DEPTH)
		return fail(p, "JSON nested deeper than %d", MAX_DEPTH);
	p->fr[p->nfr++] = (uint8_t)f;
	p->key = K_OTHER;
	return 1;
}

static bool key_is(const unsigned char *s, size_t n, const char *lit)
{
	size_t m = strlen(lit);
	return n == m && !memcmp(s, lit, m);
}

static resp *cur(pp *p)
{
	return p->cur_q >= 0 ? &p->r[p->cur_q] : NULL;
}

static series *cur_series(pp *p)
{
	resp *r = cur(p);
	return &r->s[r->n - 1];
}

/* Copy a string value into a fixed buffer, replacing control characters. */
static void copy_text(char *dst, size_t cap, const unsigned char *s, size_t n)
{
	size_t m = n < cap - 1 ? n : cap - 1;
	for (size_t i = 0; i < m; i++)
		dst[i] = (s[i] < 0x20 || s[i] == 0x7f) ? ' ' : (char)s[i];
	dst[m] = 0;
}

static void set_value(pp *p, const unsigned char *s, size_t n)
{
	series *se = cur_series(p);
	char buf[64];
	if (n == 0 || n >= sizeof(buf)) {
		se->vstate = 2;
		return;
	}
	memcpy(buf, s, n);
	buf[n] = 0;
	char *end;
	errno = 0;
	double v = strtod(buf, &end);
	se->v = v;
	se->vstate = *end ? 2 : 1;
}

/* Any scalar value (string, number, bool, null).  s is NULL for null/bool. */
static int on_scalar(pp *p, const unsigned char *s, size_t n, bool is_string)
{
	if (p->skip)
		return 1;
	resp *r = cur(p);
	switch (top(p)) {
	case 0: return fail(p, "expected a JSON object");
	case FR_FILE:
		if (p->key == K_QUERY)
			return fail(p, "the saved response for \"%s\" is not a JSON object",
				    query_names[p->cur_q]);
		return 1;
	case FR_RESP:
		if (!is_string)
			return 1;
		if (p->key == K_STATUS)
			r->status = key_is(s, n, "success") ? 1 : key_is(s, n, "error") ? 2 : 3;
		else if (p->key == K_ERRTYPE)
			copy_text(r->error_type, sizeof(r->error_type), s, n);
		else if (p->key == K_ERROR)
			copy_text(r->error, sizeof(r->error), s, n);
		return 1;
	case FR_DATA:
		if (p->key == K_RESULTTYPE)
			copy_text(r->result_type, sizeof(r->result_type),
				  s ? s : (const unsigned char *)"", s ? n : 0);
		return 1;
	case FR_RESULT: r->non_objects++; return 1;
	case FR_METRIC:
		if (p->key == K_LABEL && is_string) {
			series *se = cur_series(p);
			if (n > MAX_LABEL) {
				se->long_label = true;
				return 1;
			}
			size_t off = sb_add(&p->strs, s, n);
			for (int l = 0; l < L_N; l++)
				if (p->label_mask & (1u << l)) {
					se->off[l] = off;
					se->len[l] = (uint32_t)n;
					se->set |= 1u << l;
				}
		}
		return 1;
	case FR_VALUE:
		if (p->val_idx++ == 1) {
			if (s)
				set_value(p, s, n);
			else
				cur_series(p)->vstate = 2;
		}
		return 1;
	case FR_WARN:
		if (is_string) {
			r->n_warnings++;
			char m[600], w[400];
			copy_text(w, sizeof(w), s, n);
			snprintf(m, sizeof(m), "%s: Prometheus warns: %s", query_names[p->cur_q],
				 w);
			note(p, r->line, m);
		}
		return 1;
	}
	return 1;
}

static int on_null(void *ctx)
{
	return on_scalar(ctx, NULL, 0, false);
}

static int on_bool(void *ctx, int b)
{
	(void)b;
	return on_scalar(ctx, NULL, 0, false);
}

static int on_number(void *ctx, const char *s, size_t n)
{
	return on_scalar(ctx, (const unsigned char *)s, n, false);
}

static int on_string(void *ctx, const unsigned char *s, size_t n)
{
	return on_scalar(ctx, s, n, true);
}

static int on_start_map(void *ctx)
{
	pp *p = ctx;
	if (p->skip) {
		if (p->nfr + p->skip >= MAX_DEPTH)
			return fail(p, "JSON nested deeper than %d", MAX_DEPTH);
		p->skip++;
		return 1;
	}
	uint32_t l, c;
	switch (top(p)) {
	case 0:
		if (p->file_mode)
			return push(p, FR_FILE);
		here(p, &l, &c);
		cur(p)->line = l;
		return push(p, FR_RESP);
	case FR_FILE:
		if (p->key != K_QUERY)
			break;
		here(p, &l, &c);
		cur(p)->line = l;
		return push(p, FR_RESP);
	case FR_RESP:
		if (p->key == K_DATA)
			return push(p, FR_DATA);
		break;
	case FR_RESULT: {
		resp *r = cur(p);
		if (r->n >= MAX_SERIES)
			return fail(p, "more than %d series in the response for \"%s\"", MAX_SERIES,
				    query_names[p->cur_q]);
		if (r->n == r->cap) {
			r->cap = r->cap ? r->cap * 2 : 64;
			r->s = st_xrealloc(r->s, r->cap * sizeof(*r->s));
		}
		series *se = &r->s[r->n++];
		memset(se, 0, sizeof(*se));
		here(p, &l, &c);
		se->line = l;
		return push(p, FR_SERIES);
	}
	case FR_SERIES:
		if (p->key == K_METRIC)
			return push(p, FR_METRIC);
		break;
	case FR_DATA:
		if (p->key == K_RESULT)
			cur(p)->non_objects++; /* a result that is no list */
		break;
	}
	p->skip = 1;
	return 1;
}

static int on_key(void *ctx, const unsigned char *s, size_t n)
{
	pp *p = ctx;
	if (p->skip)
		return 1;
	int k = K_OTHER;
	switch (top(p)) {
	case FR_FILE:
		p->cur_q = -1;
		for (int q = 0; q < Q_N; q++)
			if (key_is(s, n, query_names[q]))
				p->cur_q = q;
		if (p->cur_q < 0) {
			char m[256], name[65];
			copy_text(name, sizeof(name), s, n);
			snprintf(m, sizeof(m),
				 "unknown query name '%s' in the saved responses (request_rate, "
				 "error_rate, latency_p99); ignored",
				 name);
			uint32_t l, c;
			here(p, &l, &c);
			note(p, l, m);
			break;
		}
		if (p->r[p->cur_q].present)
			return fail(p, "\"%s\" appears twice", query_names[p->cur_q]);
		p->r[p->cur_q].present = true;
		k = K_QUERY;
		break;
	case FR_RESP:
		k = key_is(s, n, "status")    ? K_STATUS :
		    key_is(s, n, "errorType") ? K_ERRTYPE :
		    key_is(s, n, "error")     ? K_ERROR :
		    key_is(s, n, "data")      ? K_DATA :
		    key_is(s, n, "warnings")  ? K_WARNINGS :
						K_OTHER;
		break;
	case FR_DATA:
		k = key_is(s, n, "resultType") ? K_RESULTTYPE :
		    key_is(s, n, "result")     ? K_RESULT :
						 K_OTHER;
		break;
	case FR_SERIES:
		k = key_is(s, n, "metric") ? K_METRIC : key_is(s, n, "value") ? K_VALUE : K_OTHER;
		break;
	case FR_METRIC:
		p->label_mask = 0;
		for (int l = 0; l < L_N; l++)
			if (p->c->label[l] && key_is(s, n, p->c->label[l]))
				p->label_mask |= 1u << l;
		k = p->label_mask ? K_LABEL : K_OTHER;
		break;
	}
	p->key = k;
	return 1;
}

static int on_end_map(void *ctx)
{
	pp *p = ctx;
	if (p->skip) {
		p->skip--;
		return 1;
	}
	p->nfr--;
	p->key = K_OTHER;
	return 1;
}

static int on_start_array(void *ctx)
{
	pp *p = ctx;
	if (p->skip) {
		if (p->nfr + p->skip >= MAX_DEPTH)
			return fail(p, "JSON nested deeper than %d", MAX_DEPTH);
		p->skip++;
		return 1;
	}
	switch (top(p)) {
	case 0: return fail(p, "expected a JSON object");
	case FR_FILE:
		if (p->key == K_QUERY)
			return fail(p, "the saved response for \"%s\" is not a JSON object",
				    query_names[p->cur_q]);
		break;
	case FR_DATA:
		if (p->key == K_RESULT)
			return push(p, FR_RESULT);
		break;
	case FR_SERIES:
		if (p->key == K_VALUE) {
			p->val_idx = 0;
			return push(p, FR_VALUE);
		}
		break;
	case FR_RESP:
		if (p->key == K_WARNINGS)
			return push(p, FR_WARN);
		break;
	case FR_RESULT: cur(p)->non_objects++; break;
	}
	p->skip = 1;
	return 1;
}

static int on_end_array(void *ctx)
{
	pp *p = ctx;
	if (p->skip) {
		p->skip--;
		return 1;
	}
	p->nfr--;
	p->key = K_OTHER;
	return 1;
}

static const yajl_callbacks callbacks = {
	.yajl_null = on_null,
	.yajl_boolean = on_bool,
	.yajl_number = on_number,
	.yajl_string = on_string,
	.yajl_start_map = on_start_map,
	.yajl_map_key = on_key,
	.yajl_end_map = on_end_map,
	.yajl_start_array = on_start_array,
	.yajl_end_array = on_end_array,
};

/* ---------------------------------------------------------------------------
 * Feeding the parser. */

static int begin_parse(pp *p, const char *where)
{
	if (p->h)
		yajl_free(p->h);
	p->h = yajl_alloc(&callbacks, NULL, p);
	if (!p->h)
		return st_diag_set(p->diag, -ENOMEM, "source '%s': out of memory", p->src->name);
	p->where = where;
	p->err = 0;
	st__jpos_init(&p->pos);
	p->nfr = 0;
	p->skip = 0;
	p->key = K_OTHER;
	return 0;
}

static int parse_error(pp *p, yajl_status s, bool at_end)
{
	if (s == yajl_status_client_canceled || p->err < 0)
		return p->err < 0 ? p->err :
				    st_diag_set(p->diag, ST_E_INVALID, "%s: cancelled", p->where);
	return p->err = st__jpos_syntax_error(&p->pos, p->h, at_end, p->where, p->diag);
}

static int feed(pp *p, const unsigned char *buf, size_t n, uint64_t max)
{
	if (p->pos.base + n > max)
		return p->err = st_diag_set(p->diag, ST_E_LIMIT, "%s: larger than %llu bytes",
					    p->where, (unsigned long long)max);
	yajl_status s = st__jpos_parse(&p->pos, p->h, buf, n);
	if (s != yajl_status_ok)
		return parse_error(p, s, false);
	return 0;
}

static int end_parse(pp *p)
{
	if (p->err < 0)
		return p->err;
	if (p->pos.base == 0)
		return p->err = st_diag_set(p->diag, ST_E_INVALID, "%s:1:1: empty response",
					    p->where);
	yajl_status s = yajl_complete_parse(p->h);
	if (s != yajl_status_ok)
		return parse_error(p, s, true);
	return 0;
}

/* ---------------------------------------------------------------------------
 * HTTP. */

typedef struct http_ctx {
	pp *p;
	bool checked, broken;
} http_ctx;

static int on_body(void *ud, long status, const char *data, size_t n)
{
	http_ctx *hc = ud;
	hc->checked = true;
	if (status >= 200 && status <= 299)
		return feed(hc->p, (const unsigned char *)data, n, MAX_BODY);
	if (status == 401 || status == 403)
		return ST_FETCH_STOP; /* the body says nothing more than the status */
	/* an error body: read for errorType/error if it is JSON, else ignored */
	if (!hc->broken && feed(hc->p, (const unsigned char *)data, n, MAX_ERROR_BODY) < 0) {
		hc->broken = true;
		hc->p->err = 0;
	}
	return 0;
}

/* GET one query; the response lands in p->r[q]. */
static int http_query(pp *p, st_fetch *f, int q, const char *base, const char *shown)
{
	const st_source *src = p->src;
	char *where =
		fmt("source '%s': GET %s/api/v1/query (%s)", src->name, shown, query_names[q]);
	int rc = begin_parse(p, where);
	if (rc < 0) {
		free(where);
		return rc;
	}
	p->cur_q = q;
	p->r[q].present = true;
	char *eq = curl_easy_escape(f->curl, p->c->query[q], 0);
	const char *tm = st_source_option(src, "time");
	char *et = tm ? curl_easy_escape(f->curl, tm, 0) : NULL;
	long tms = (long)(f->timeout_s * 1000.0);
	char *url = fmt("%s/api/v1/query?query=%s%s%s&timeout=%ldms", base, eq ? eq : "",
			et ? "&time=" : "", et ? et : "", tms < 1 ? 1L : tms);
	curl_free(eq);
	curl_free(et);
	/* messages say "GET <shown>/api/v1/query (<query name>)" */
	char *what = fmt("%s/api/v1/query (%s)", shown, query_names[q]);

	http_ctx hc = {.p = p};
	long status = 0;
	resp *r = &p->r[q];
	rc = st_fetch_get(f, url, what, on_body, &hc, &status, p->diag);
	if (rc < 0)
		goto out; /* the parser's or the transport's message stands */
	if (status == 401 || status == 403) {
		char *plain = fmt("%s/api/v1/query", shown);
		rc = st_fetch_http_error(f, plain, status, NULL, p->diag);
		free(plain);
	} else if (status < 200 || status > 299) {
		char *detail = NULL;
		if (!hc.broken && hc.checked && yajl_complete_parse(p->h) == yajl_status_ok &&
		    r->status == 2)
			detail = fmt(": %s: %s", r->error_type[0] ? r->error_type : "error",
				     r->error);
		rc = st_fetch_http_error(f, what, status, detail, p->diag);
		free(detail);
	} else if (p->err < 0)
		rc = p->err;
	else
		rc = end_parse(p);
out:
	free(url);
	free(what);
	free(where);
	p->where = NULL;
	return rc;
}

/* ---------------------------------------------------------------------------
 * The saved-responses file. */

static int read_saved(pp *p, const char *path, const char *where)
{
	int rc = begin_parse(p, where);
	if (rc < 0)
		return rc;
	p->cur_q = -1;
	FILE *f = fopen(path, "re");
	if (!f)
		return st_diag_set(p->diag, ST_E_IO, "source '%s': cannot open %s: %s",
				   p->src->name, path, strerror(errno));
	unsigned char *buf = st_xmalloc(READ_CHUNK);
	for (;;) {
		size_t n = fread(buf, 1, READ_CHUNK, f);
		if (n && (rc = feed(p, buf, n, MAX_FILE)) < 0)
			break;
		if (n < READ_CHUNK) {
			if (ferror(f))
				rc = st_diag_set(p->diag, ST_E_IO, "source '%s': reading %s: %s",
						 p->src->name, path, strerror(errno));
			break;
		}
	}
	free(buf);
	fclose(f);
	if (rc < 0)
		return rc;
	return end_parse(p);
}

/* ---------------------------------------------------------------------------
 * From series to facts. */

typedef struct endpoint {
	char *id, *name, *ns, *evidence;
} endpoint;

typedef struct pair {
	uint32_t a, b; /* endpoints */
	double req, err, p99;
	bool has_p99;
	char proto[MAX_PROTO];
} pair;

typedef struct graph {
	endpoint *ep;
	size_t n_ep, cap_ep;
	st_strmap ep_index;
	pair *pr;
	size_t n_pr, cap_pr;
	st_strmap pr_index;
	bool has_err;
} graph;

static void graph_free(graph *g)
{
	for (size_t i = 0; i < g->n_ep; i++) {
		free(g->ep[i].id);
		free(g->ep[i].name);
		free(g->ep[i].ns);
		free(g->ep[i].evidence);
	}
	free(g->ep);
	free(g->pr);
	st_strmap_free(&g->ep_index);
	st_strmap_free(&g->pr_index);
}

/* "{client="a", server="b"}" for messages: the kept labels of a series. */
static const char *describe(pp *p, const series *se)
{
	p->msg.len = 0;
	sb_add(&p->msg, "{", 1);
	bool first = true;
	for (int l = 0; l < L_N; l++) {
		if (!(se->set & (1u << l)) ||
		    (l == L_SNS && p->c->label[L_SNS] == p->c->label[L_CNS]))
			continue;
		if (!first)
			sb_add(&p->msg, ", ", 2);
		first = false;
		sb_str(&p->msg, p->c->label[l]);
		sb_add(&p->msg, "=", 1);
		size_t n = se->len[l] > 200 ? 200 : se->len[l];
		sb_quoted(&p->msg, p->strs.p + se->off[l], n);
	}
	sb_add(&p->msg, "}", 1);
	return p->msg.p;
}

static void note_series(pp *p, int q, const series *se, const char *what)
{
	char m[1024];
	snprintf(m, sizeof(m), "%s: series %s %s; skipped", query_names[q], describe(p, se), what);
	note(p, se->line, m);
}

/* The endpoint id of one side (client 0, server 1) of a series in b; false
 * (with a note) if a label is missing or the id is too long. */
static bool endpoint_id(pp *p, int q, const series *se, int side, sbuf *b, bool quiet)
{
	int ln = side ? L_SERVER : L_CLIENT, lns = side ? L_SNS : L_CNS;
	char m[300];
	bool has_ns = p->c->label[lns] != NULL;
	if (!(se->set & (1u << ln)) || !se->len[ln])
		snprintf(m, sizeof(m), "has no (or an empty) label %s", p->c->label[ln]);
	else if (has_ns && (!(se->set & (1u << lns)) || !se->len[lns]))
		snprintf(m, sizeof(m), "has no (or an empty) label %s", p->c->label[lns]);
	else if (memchr(p->strs.p + se->off[ln], 0, se->len[ln]) ||
		 (has_ns && memchr(p->strs.p + se->off[lns], 0, se->len[lns])))
		snprintf(m, sizeof(m), "has a NUL byte in label %s or its namespace",
			 p->c->label[ln]);
	else if (p->c->skip_unknown && se->len[ln] == 7 &&
		 !memcmp(p->strs.p + se->off[ln], "unknown", 7))
		snprintf(m, sizeof(m), "has %s=\"unknown\" (a peer outside the mesh)",
			 p->c->label[ln]);
	else
		m[0] = 0;
	if (m[0]) {
		if (!quiet)
			note_series(p, q, se, m);
		return false;
	}
	b->len = 0;
	sb_str(b, "workload:");
	if (has_ns) {
		sb_add(b, p->strs.p + se->off[lns], se->len[lns]);
		sb_add(b, "/", 1);
	}
	sb_add(b, p->strs.p + se->off[ln], se->len[ln]);
	if (b->len > ST_NODE_ID_MAX) {
		if (!quiet)
			note_series(p, q, se, "gives a workload id longer than 400 bytes");
		return false;
	}
	return true;
}

/* Common checks of a series: labels kept, value readable and finite. */
static bool usable(pp *p, int q, const series *se)
{
	if (se->long_label) {
		note_series(p, q, se, "has a label value longer than 1024 bytes");
		return false;
	}
	if (se->vstate == 0) {
		note_series(p, q, se, "has no value (\"value\": [time, \"number\"])");
		return false;
	}
	if (se->vstate == 2) {
		note_series(p, q, se, "has a value that is not a number");
		return false;
	}
	if (isnan(se->v) || isinf(se->v)) {
		note_series(p, q, se, isnan(se->v) ? "has value NaN" : "has an infinite value");
		return false;
	}
	if (se->v < 0) {
		note_series(p, q, se, "has a negative value");
		return false;
	}
	return true;
}

static uint32_t add_endpoint(pp *p, graph *g, const series *se, int side, const sbuf *id)
{
	uint32_t k = st_strmap_get(&g->ep_index, id->p, id->len);
	if (k != UINT32_MAX)
		return k;
	int ln = side ? L_SERVER : L_CLIENT, lns = side ? L_SNS : L_CNS;
	if (g->n_ep == g->cap_ep) {
		g->cap_ep = g->cap_ep ? g->cap_ep * 2 : 32;
		g->ep = st_xrealloc(g->ep, g->cap_ep * sizeof(*g->ep));
	}
	endpoint *e = &g->ep[g->n_ep];
	e->id = st_xstrndup(id->p, id->len);
	e->name = st_xstrndup(p->strs.p + se->off[ln], se->len[ln]);
	e->ns = p->c->label[lns] ? st_xstrndup(p->strs.p + se->off[lns], se->len[lns]) : NULL;
	sbuf ev = {0};
	sb_str(&ev, p->c->label[ln]);
	sb_add(&ev, "=", 1);
	sb_quoted(&ev, e->name, strlen(e->name));
	if (e->ns) {
		sb_add(&ev, ", ", 2);
		sb_str(&ev, p->c->label[lns]);
		sb_add(&ev, "=", 1);
		sb_quoted(&ev, e->ns, strlen(e->ns));
	}
	e->evidence = ev.p;
	st_strmap_put(&g->ep_index, id->p, id->len, (uint32_t)g->n_ep);
	return (uint32_t)g->n_ep++;
}

/* Add a protocol to the sorted, comma-separated list of a pair. */
static void add_proto(pair *pr, const char *s, size_t n)
{
	if (!n || memchr(s, ',', n))
		return;
	char out[MAX_PROTO];
	size_t ol = 0;
	bool placed = false;
	const char *q = pr->proto;
	while (*q || !placed) {
		size_t tl = strcspn(q, ",");
		int cmp = !*q ? 1 : 0;
		if (*q) {
			size_t m = tl < n ? tl : n;
			cmp = memcmp(s, q, m);
			if (!cmp)
				cmp = (n > tl) - (n < tl);
			if (!cmp)
				return; /* already there */
		}
		if (!placed && cmp < 0) {
			if (ol + n + 2 > sizeof(out))
				return;
			if (ol)
				out[ol++] = ',';
			memcpy(out + ol, s, n);
			ol += n;
			placed = true;
		}
		if (!*q)
			break;
		if (ol + tl + 2 > sizeof(out))
			return;
		if (ol)
			out[ol++] = ',';
		memcpy(out + ol, q, tl);
		ol += tl;
		q += tl + (q[tl] == ',');
	}
	if (!placed) {
		if (ol + n + 2 > sizeof(out))
			return;
		if (ol)
			out[ol++] = ',';
		memcpy(out + ol, s, n);
		ol += n;
	}
	out[ol] = 0;
	memcpy(pr->proto, out, ol + 1);
}

/* Check one response's envelope; true when its series should be used. */
static int check_resp(pp *p, int q, bool *use)
{
	resp *r = &p->r[q];
	*use = false;
	char at[600];
	if (p->file_mode)
		snprintf(at, sizeof(at), "%s:%u: saved response for \"%s\"", p->note_origin,
			 r->line, query_names[q]);
	else
		snprintf(at, sizeof(at), "source '%s': GET %s/api/v1/query (%s)", p->src->name,
			 p->shown, query_names[q]);
	if (r->status == 2)
		return st_diag_set(p->diag, p->file_mode ? ST_E_INVALID : ST_E_IO,
				   "%s: status error: %s: %s", at,
				   r->error_type[0] ? r->error_type : "error", r->error);
	if (r->status != 1)
		return st_diag_set(p->diag, ST_E_INVALID,
				   "%s: no \"status\": \"success\" (not a Prometheus API "
				   "response)",
				   at);
	if (strcmp(r->result_type, "vector")) {
		char m[256];
		snprintf(m, sizeof(m), "%s: the result is %s%s, not an instant vector; ignored",
			 query_names[q], r->result_type[0] ? "a " : "",
			 r->result_type[0] ? r->result_type : "missing");
		note(p, r->line, m);
		return 0;
	}
	if (r->non_objects) {
		char m[256];
		snprintf(m, sizeof(m), "%s: %zu result items are not series objects; ignored",
			 query_names[q], r->non_objects);
		note(p, r->line, m);
	}
	*use = true;
	return 0;
}

static int apply(pp *p, graph *g, int q)
{
	bool use;
	int rc = check_resp(p, q, &use);
	if (rc < 0 || !use)
		return rc;
	const resp *r = &p->r[q];
	sbuf ida = {0}, idb = {0};
	if (q == Q_ERR)
		g->has_err = true;
	for (size_t i = 0; i < r->n; i++) {
		const series *se = &r->s[i];
		if (q == Q_REQ) {
			if (!usable(p, q, se) || !endpoint_id(p, q, se, 0, &ida, false) ||
			    !endpoint_id(p, q, se, 1, &idb, false))
				continue;
			if (se->v == 0)
				continue; /* not called in the window */
			uint32_t a = add_endpoint(p, g, se, 0, &ida);
			uint32_t b = add_endpoint(p, g, se, 1, &idb);
			uint32_t key[2] = {a, b};
			uint32_t k = st_strmap_get(&g->pr_index, (const char *)key, sizeof(key));
			if (k == UINT32_MAX) {
				if (g->n_pr == g->cap_pr) {
					g->cap_pr = g->cap_pr ? g->cap_pr * 2 : 32;
					g->pr = st_xrealloc(g->pr, g->cap_pr * sizeof(*g->pr));
				}
				memset(&g->pr[g->n_pr], 0, sizeof(*g->pr));
				g->pr[g->n_pr].a = a;
				g->pr[g->n_pr].b = b;
				k = (uint32_t)g->n_pr++;
				st_strmap_put(&g->pr_index, (const char *)key, sizeof(key), k);
			}
			pair *pr = &g->pr[k];
			if (!isfinite(pr->req + se->v)) {
				note_series(p, q, se, "makes the pair's request rate overflow; skipped");
				continue;
			}
			pr->req += se->v;
			if (se->set & (1u << L_PROTO))
				add_proto(pr, p->strs.p + se->off[L_PROTO], se->len[L_PROTO]);
			continue;
		}
		/* error and latency series only annotate the edges the request rates
		 * gave; the others were reported there, or have no traffic */
		if (se->long_label || !endpoint_id(p, q, se, 0, &ida, true) ||
		    !endpoint_id(p, q, se, 1, &idb, true))
			continue;
		uint32_t a = st_strmap_get(&g->ep_index, ida.p, ida.len);
		uint32_t b = st_strmap_get(&g->ep_index, idb.p, idb.len);
		if (a == UINT32_MAX || b == UINT32_MAX)
			continue;
		uint32_t key[2] = {a, b};
		uint32_t k = st_strmap_get(&g->pr_index, (const char *)key, sizeof(key));
		if (k == UINT32_MAX || !usable(p, q, se))
			continue;
		pair *pr = &g->pr[k];
		if (q == Q_ERR) {
			if (!isfinite(pr->err + se->v)) {
				note_series(p, q, se, "makes the pair's error rate overflow; skipped");
				continue;
			}
			pr->err += se->v;
		} else {
			double ms = se->v * p->c->p99_scale;
			if (!isfinite(ms)) {
				note_series(p, q, se, "is too large in milliseconds; skipped");
				continue;
			}
			if (!pr->has_p99 || ms > pr->p99)
				pr->p99 = ms;
			pr->has_p99 = true;
		}
	}
	sb_free(&ida);
	sb_free(&idb);
	return 0;
}

static int cmp_ep(const void *x, const void *y, void *ctx)
{
	const graph *g = ctx;
	return strcmp(g->ep[*(const uint32_t *)x].id, g->ep[*(const uint32_t *)y].id);
}

static int cmp_pair(const void *x, const void *y, void *ctx)
{
	const graph *g = ctx;
	const pair *a = x, *b = y;
	int c = strcmp(g->ep[a->a].id, g->ep[b->a].id);
	return c ? c : strcmp(g->ep[a->b].id, g->ep[b->b].id);
}

static int emit(pp *p, graph *g)
{
	st_sink *sink = p->sink;
	int nt = st_schema_find_node_type(sink->schema, "Workload", 8);
	int et = st_schema_find_edge_type(sink->schema, "CALLS", 5);
	if (nt < 0 || et < 0)
		return st_diag_set(p->diag, ST_E_SCHEMA,
				   "source '%s': the schema has no Workload or CALLS",
				   p->src->name);
	st_loc loc = {p->fact_origin, 0};
	st_pb pb;
	st_pb_init(&pb);
	int rc = 0;
	const uint8_t *blob;
	size_t blen;
	uint32_t *order = st_xmalloc((g->n_ep + 1) * sizeof(*order));
	for (size_t i = 0; i < g->n_ep; i++)
		order[i] = (uint32_t)i;
	if (g->n_ep > 1)
		qsort_r(order, g->n_ep, sizeof(*order), cmp_ep, g);
	if (g->n_pr > 1)
		qsort_r(g->pr, g->n_pr, sizeof(*g->pr), cmp_pair, g);
	for (size_t i = 0; i < g->n_ep && !rc; i++) {
		const endpoint *e = &g->ep[order[i]];
		st_pb_reset(&pb);
		if ((rc = st_pb_string(&pb, "name", 4, e->name, strlen(e->name))) < 0 ||
		    (e->ns && (rc = st_pb_string(&pb, "namespace", 9, e->ns, strlen(e->ns))) < 0) ||
		    (rc = st_pb_finish(&pb, &blob, &blen, p->diag)) < 0)
			break;
		if ((rc = sink->node(sink, e->id, strlen(e->id), nt, blob, blen, loc, p->diag)) < 0)
			break;
		rc = sink->hint(sink, e->id, strlen(e->id), ST_HINT_SERVICE, e->name,
				strlen(e->name), p->c->rule, e->evidence, loc, p->diag);
	}
	for (size_t i = 0; i < g->n_pr && !rc; i++) {
		const pair *pr = &g->pr[i];
		st_pb_reset(&pb);
		if ((rc = st_pb_float(&pb, "request_rate", 12, pr->req)) < 0 ||
		    (g->has_err && (rc = st_pb_float(&pb, "error_rate", 10, pr->err)) < 0) ||
		    (pr->has_p99 && (rc = st_pb_float(&pb, "latency_p99_ms", 14, pr->p99)) < 0) ||
		    (pr->proto[0] &&
		     (rc = st_pb_string(&pb, "protocol", 8, pr->proto, strlen(pr->proto))) < 0) ||
		    (rc = st_pb_finish(&pb, &blob, &blen, p->diag)) < 0)
			break;
		const char *a = g->ep[pr->a].id, *b = g->ep[pr->b].id;
		rc = sink->edge(sink, a, strlen(a), b, strlen(b), et, blob, blen, loc, p->diag);
	}
	free(order);
	st_pb_free(&pb);
	return rc;
}

/* ---------------------------------------------------------------------------
 * The run. */

static void pp_free(pp *p)
{
	if (p->h)
		yajl_free(p->h);
	for (int q = 0; q < Q_N; q++)
		free(p->r[q].s);
	sb_free(&p->strs);
	sb_free(&p->msg);
}

static int run(const st_source *src, st_sink *sink, st_diag *diag)
{
	if (!src->location || !*src->location)
		return st_diag_set(
			diag, ST_E_INVALID,
			"source '%s': no location (a Prometheus URL or a saved-responses "
			"file)",
			src->name);
	bool url = st_fetch_is_url(src->location);
	if (!url && strstr(src->location, "://"))
		return st_diag_set(diag, ST_E_INVALID,
				   "source '%s': unsupported location scheme (a file path, http:// "
				   "or https://)",
				   src->name);
	if (url && strpbrk(src->location, "?#"))
		return st_diag_set(diag, ST_E_INVALID,
				   "source '%s': the Prometheus URL must have no query or fragment",
				   src->name);
	prof c;
	int rc = configure(src, &c, !url, diag);
	if (rc < 0)
		return rc;

	pp p = {0};
	graph g = {0};
	char *shown = NULL, *base = NULL, *fact_origin = NULL, *file_origin = NULL;
	st_fetch f = {0};
	p.src = src;
	p.sink = sink;
	p.diag = diag;
	p.c = &c;
	p.file_mode = !url;
	fact_origin = fmt("%s:%s", src->name, c.name);
	p.fact_origin = fact_origin;
	p.note_origin = fact_origin;
	if (url) {
		shown = st_fetch_mask_url(src->location, ST_FETCH_MASK_QUERY | ST_FETCH_MASK_SLASH);
		p.shown = shown;
		base = st_xstrndup(src->location, strlen(src->location));
		size_t bl = strlen(base);
		while (bl && base[bl - 1] == '/')
			base[--bl] = 0;
		const st_fetch_opts opts = {.user_agent = "stacktwin-prometheus/1",
					    .total_timeout = true};
		if ((rc = st_fetch_init(&f, src, &opts, diag)) < 0)
			goto out;
		for (int q = 0; q < Q_N && !rc; q++) {
			if (!c.query[q])
				continue;
			if ((rc = http_query(&p, &f, q, base, shown)) < 0 ||
			    (rc = apply(&p, &g, q)) < 0)
				break;
			if (q == Q_REQ && !g.n_pr)
				break; /* nothing called: the other queries cannot add anything */
		}
	} else {
		const char *slash = strrchr(src->location, '/');
		file_origin = fmt("%s:%s", src->name, slash ? slash + 1 : src->location);
		p.note_origin = file_origin;
		if ((rc = read_saved(&p, src->location, file_origin)) < 0)
			goto out;
		if (!p.r[Q_REQ].present) {
			rc = st_diag_set(
				diag, ST_E_INVALID,
				"%s: no saved response \"request_rate\" (the file maps query "
				"names request_rate, error_rate, latency_p99 to "
				"/api/v1/query responses)",
				file_origin);
			goto out;
		}
		for (int q = 0; q < Q_N && !rc; q++)
			if (p.r[q].present)
				rc = apply(&p, &g, q);
	}
	if (rc < 0)
		goto out;
	if ((rc = emit(&p, &g)) < 0)
		goto out;
	if (p.n_more_notes) {
		char m[128];
		snprintf(m, sizeof(m), "%zu more remarks about series not shown", p.n_more_notes);
		p.n_notes = 0;
		note(&p, 0, m);
	}
	if (sink->progress) {
		sink->progress(sink, "prometheus workloads", g.n_ep, g.n_ep);
		sink->progress(sink, "prometheus call edges", g.n_pr, g.n_pr);
	}
	if (sink->set_state) {
		const char *tm = st_source_option(src, "time");
		char state[160];
		snprintf(state, sizeof(state), "prom1:%s@%.64s", c.name, tm ? tm : "now");
		sink->set_state(sink, state);
	}
	rc = 0;
out:
	pp_free(&p);
	graph_free(&g);
	prof_free(&c);
	st_fetch_free(&f);
	free(shown);
	free(base);
	free(fact_origin);
	free(file_origin);
	return rc;
}

const st_connector st_connector_prometheus = {
	"prometheus",
	"Prometheus instant queries (OTel service graph, Istio, custom PromQL; URL or saved "
	"responses): Workload nodes, CALLS edges with rates and p99",
	run,
};
