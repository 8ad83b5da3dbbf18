/*
 * fuzz_promfile.c — fuzz target for the Prometheus connector's
 * saved-responses file mode (connectors/prometheus.c,
 * st_connector_prometheus with a file path as location).
 *
 * Input: byte 0 picks the profile (value % 4: 0 otel-service-graph, 1 istio,
 * 2 custom with client_label client, server_label server, protocol_label
 * protocol, 3 custom with client_label src, server_label dst,
 * namespace_label ns), so seeds start with a readable "0".."3".  The rest is
 * written to one file (created on the first call in a fresh directory under
 * $TMPDIR or /tmp, reused, removed at exit) and read by run() into a
 * counting sink defined here.  No network: a file path never reaches
 * libcurl.  Whatever the input:
 *   - the run returns 0 (and sets the state "prom1:PROFILE@now") or
 *     ST_E_INVALID / ST_E_LIMIT, emits no fact and sets no state, with a
 *     message "fuzz:input.json:LINE:COL: ..." whose position is inside the
 *     input (COL at most one past the end of its line), or one of the two
 *     documented forms without a column: "fuzz:input.json:LINE: saved
 *     response for "QUERY": ..." (an envelope: status error, no status) and
 *     "fuzz:input.json: no saved response "request_rate" ...";
 *   - nodes are Workloads "workload:[NAMESPACE/]NAME" (a namespace exactly
 *     for istio and the namespaced custom profile) whose properties say the
 *     same, sorted by id without repeats, each followed by exactly one
 *     service hint with its name, the profile's rule and the label that
 *     named it as evidence;
 *   - every edge is CALLS between two Workloads emitted before it (so no
 *     edge end is unknown), sorted by (client, server) without repeats;
 *     request_rate is finite and > 0, error_rate and latency_p99_ms (when
 *     present) finite and >= 0; protocol only where the profile reads one,
 *     as sorted distinct non-empty values joined by ','; every Workload is
 *     the end of some edge;
 *   - facts carry the origin "fuzz:PROFILE" and line 0; remarks (notes,
 *     never warnings) carry "fuzz:input.json" and a line inside the input,
 *     line 0 only for the one "N more remarks" summary, at most 101 of them;
 *   - the progress counts equal what reached the sink.
 * Any violation abort()s.  With STACKTWIN_FUZZ_VERBOSE set in the
 * environment it prints each run's outcome.
 *
 * This file only checks; it must not fix or work around what it finds.
 */
#include <dirent.h>
#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common.h"
#include "connector.h"
#include "fuzz_file.h"
#include "props.h"
#include "schema.h"

#define FUZZ_MAX_INPUT ((size_t)64 << 10)

#define SOURCE "fuzz"
#define FILE_NAME "input.json"
#define ORIGIN SOURCE ":" FILE_NAME

#define MAX_NOTES 100 /* then one summary (docs/connectors.md, "Remarks") */
#define MAX_PROTO 255

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

__attribute__((noreturn)) static void fail(const char *what, const char *detail)
{
	fprintf(stderr, "fuzz_promfile: %s%s%s\n", what, detail ? ": " : "", detail ? detail : "");
	abort();
}

static void *xrealloc(void *p, size_t n)
{
	p = realloc(p, n ? n : 1);
	if (!p)
		fail("out of memory", NULL);
	return p;
}

static bool starts(const char *s, const char *prefix)
{
	return !strncmp(s, prefix, strlen(prefix));
}

/* A short printable copy of s for messages. */
static const char *shown(const char *s, size_t n, char buf[128])
{
	size_t m = n < 100 ? n : 100;
	for (size_t i = 0; i < m; i++)
		buf[i] = (unsigned char)s[i] < 0x20 || (unsigned char)s[i] >= 0x7f ? '?' : s[i];
	buf[m] = 0;
	return buf;
}

/* ---- profiles ---------------------------------------------------------------- */

typedef struct variant {
	const char *profile, *rule;
	const char *client, *server, *ns; /* labels; ns NULL: ids without a namespace */
	bool proto;			  /* edges may carry a protocol */
	st_kv opts[4];
	size_t n_opts;
} variant;

static const variant variants[4] = {
	{"otel-service-graph", "otel-service-graph", "client", "server", NULL, false, {{0}}, 0},
	{"istio",
	 "istio-workload",
	 "source_workload",
	 "destination_workload",
	 "_workload_namespace", /* source_... / destination_... */
	 true,
	 {{"profile", "istio"}},
	 1},
	{"custom",
	 "prometheus-label",
	 "client",
	 "server",
	 NULL,
	 true,
	 {{"profile", "custom"},
	  {"client_label", "client"},
	  {"server_label", "server"},
	  {"protocol_label", "protocol"}},
	 4},
	{"custom",
	 "prometheus-label",
	 "src",
	 "dst",
	 "ns",
	 false,
	 {{"profile", "custom"},
	  {"client_label", "src"},
	  {"server_label", "dst"},
	  {"namespace_label", "ns"}},
	 4},
};

/* ---- the sink -------------------------------------------------------------- */

typedef struct fsink {
	st_sink sink;
	const variant *v;
	int node_type, edge_type;
	char fact_origin[64];
	const uint8_t *text; /* the file */
	size_t text_len;
	uint32_t max_line;

	char **ids; /* sorted: nodes come in id order */
	size_t n_ids, cap_ids;
	bool *used; /* an end of some edge */
	char *last_name, *last_ns;
	bool last_hinted;

	size_t edges;
	char *last_src, *last_dst;

	size_t hints, notes;
	bool summary;
	bool state_set;
	bool prog_nodes, prog_edges;
	uint64_t n_nodes, n_edges;
} fsink;

static void check_fact_loc(const fsink *c, st_loc loc, const char *what)
{
	if (!loc.origin || strcmp(loc.origin, c->fact_origin))
		fail("a fact does not carry the origin \"fuzz:PROFILE\"",
		     loc.origin ? loc.origin : what);
	if (loc.line != 0)
		fail("a fact carries a line", what);
}

static void check_props(const uint8_t *blob, size_t len, const st_prop_def *defs, size_t n)
{
	st_diag d = {{0}};
	if (st_props_check(blob, len, defs, n, &d))
		fail("a property blob does not satisfy the schema", d.msg);
}

static char *str_prop(const uint8_t *blob, size_t len, const char *key)
{
	st_prop p;
	int r = st_props_get(blob, len, key, strlen(key), &p);
	if (r < 0)
		fail("a property blob is corrupt", NULL);
	if (!r)
		return NULL;
	if (p.type != ST_P_STRING)
		fail("a property is not a string", key);
	if (memchr(p.v.s.p, 0, p.v.s.len))
		fail("a property holds a NUL byte", key);
	char *s = xrealloc(NULL, p.v.s.len + 1);
	memcpy(s, p.v.s.p, p.v.s.len);
	s[p.v.s.len] = 0;
	return s;
}

/* ids are NUL-free strings; bytewise order is strcmp's */
static long find_id(const fsink *c, const char *id, size_t n)
{
	size_t lo = 0, hi = c->n_ids;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		const char *m = c->ids[mid];
		size_t ml = strlen(m);
		int r = memcmp(m, id, ml < n ? ml : n);
		if (!r)
			r = (ml > n) - (ml < n);
		if (!r)
			return (long)mid;
		if (r < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return -1;
}

static int f_node(st_sink *s, const char *id, size_t idlen, int type, const uint8_t *props,
		  size_t props_len, st_loc loc, st_diag *diag)
{
	(void)diag;
	fsink *c = s->ctx;
	char b[128];
	if (c->edges)
		fail("a node after the first edge", NULL);
	if (c->n_ids && !c->last_hinted)
		fail("a node without its service hint", c->ids[c->n_ids - 1]);
	check_fact_loc(c, loc, "node");
	if (!id || idlen <= 9 || idlen > ST_NODE_ID_MAX || memcmp(id, "workload:", 9))
		fail("a node id is not \"workload:...\" of at most 400 bytes",
		     id ? shown(id, idlen, b) : NULL);
	if (memchr(id, 0, idlen))
		fail("a node id holds a NUL byte", shown(id, idlen, b));
	if (type != c->node_type)
		fail("a node is not a Workload", shown(id, idlen, b));
	const st_node_type *nt = st_schema_node_type(s->schema, (size_t)type);
	check_props(props, props_len, nt->props, nt->n_props);

	char *name = str_prop(props, props_len, "name");
	char *ns = str_prop(props, props_len, "namespace");
	if (!name || !*name)
		fail("a Workload without a name", shown(id, idlen, b));
	if (!c->v->ns != !ns || (ns && !*ns))
		fail("a Workload's namespace is not what the profile reads", shown(id, idlen, b));
	size_t nl = strlen(name), sl = ns ? strlen(ns) + 1 : 0;
	if (idlen != 9 + sl + nl || (ns && (memcmp(id + 9, ns, sl - 1) || id[9 + sl - 1] != '/')) ||
	    memcmp(id + 9 + sl, name, nl))
		fail("a Workload id is not \"workload:[NAMESPACE/]NAME\" of its properties",
		     shown(id, idlen, b));

	if (c->n_ids) {
		const char *prev = c->ids[c->n_ids - 1];
		size_t pl = strlen(prev);
		int r = memcmp(prev, id, pl < idlen ? pl : idlen);
		if (r > 0 || (!r && pl >= idlen))
			fail("nodes are not sorted by id, or an id repeats", shown(id, idlen, b));
	}
	if (c->n_ids == c->cap_ids) {
		c->cap_ids = c->cap_ids ? 2 * c->cap_ids : 64;
		c->ids = xrealloc(c->ids, c->cap_ids * sizeof(*c->ids));
		c->used = xrealloc(c->used, c->cap_ids * sizeof(*c->used));
	}
	char *copy = xrealloc(NULL, idlen + 1);
	memcpy(copy, id, idlen);
	copy[idlen] = 0;
	c->used[c->n_ids] = false;
	c->ids[c->n_ids++] = copy;
	free(c->last_name);
	free(c->last_ns);
	c->last_name = name;
	c->last_ns = ns;
	c->last_hinted = false;
	return 0;
}

/* Whether a label value reads the same quoted (no '"', '\\', control
 * characters): then the evidence is checked exactly, else by its prefix. */
static bool plain(const char *s)
{
	for (; *s; s++)
		if (*s == '"' || *s == '\\' || (unsigned char)*s < 0x20 || *s == 0x7f)
			return false;
	return true;
}

static bool evidence_ok(const fsink *c, const char *ev)
{
	const variant *v = c->v;
	for (int side = 0; side < 2; side++) {
		const char *label = side ? v->server : v->client;
		char nslabel[64] = "";
		if (v->ns && !strcmp(v->ns, "_workload_namespace"))
			snprintf(nslabel, sizeof(nslabel), "%s%s", side ? "destination" : "source",
				 v->ns);
		else if (v->ns)
			snprintf(nslabel, sizeof(nslabel), "%s", v->ns);
		size_t ll = strlen(label);
		if (strncmp(ev, label, ll) || strncmp(ev + ll, "=\"", 2))
			continue;
		if (!plain(c->last_name) || (c->last_ns && !plain(c->last_ns)))
			return true;
		char want[4096];
		if (c->last_ns)
			snprintf(want, sizeof(want), "%s=\"%s\", %s=\"%s\"", label, c->last_name,
				 nslabel, c->last_ns);
		else
			snprintf(want, sizeof(want), "%s=\"%s\"", label, c->last_name);
		if (!strcmp(ev, want))
			return true;
	}
	return false;
}

static int f_hint(st_sink *s, const char *id, size_t idlen, st_hint_kind kind, const char *value,
		  size_t vlen, const char *rule, const char *evidence, st_loc loc, st_diag *diag)
{
	(void)diag;
	fsink *c = s->ctx;
	char b[128];
	if (!c->n_ids || c->edges)
		fail("a hint outside the nodes", NULL);
	const char *last = c->ids[c->n_ids - 1];
	if (!id || idlen != strlen(last) || memcmp(id, last, idlen))
		fail("a hint does not name the node just emitted", id ? shown(id, idlen, b) : NULL);
	if (c->last_hinted)
		fail("a second hint for a Workload", last);
	c->last_hinted = true;
	if (kind != ST_HINT_SERVICE)
		fail("a hint that is not a service hint", last);
	if (!value || vlen != strlen(c->last_name) || memcmp(value, c->last_name, vlen))
		fail("a service hint's value is not the Workload's name", last);
	if (!rule || strcmp(rule, c->v->rule))
		fail("a service hint's rule is not the profile's", rule);
	if (!evidence || !evidence_ok(c, evidence))
		fail("a service hint's evidence is not the label that named it", evidence);
	check_fact_loc(c, loc, "hint");
	c->hints++;
	return 0;
}

static void check_rate(const st_prop *p, bool positive)
{
	if (p->type != ST_P_FLOAT)
		fail("a rate is not a float", NULL);
	double x = p->v.f;
	if (!isfinite(x) || x < 0 || (positive && !(x > 0))) {
		char m[128];
		snprintf(m, sizeof(m), "%.*s = %g", (int)p->klen, p->key, x);
		fail(positive ? "a rate is not finite and > 0" : "a value is not finite and >= 0",
		     m);
	}
}

static void check_protocol(const fsink *c, const st_prop *p)
{
	if (!c->v->proto)
		fail("a protocol where the profile reads none", NULL);
	const char *s = p->v.s.p;
	size_t n = p->v.s.len;
	char b[128];
	if (!n || n > MAX_PROTO || memchr(s, 0, n))
		fail("a protocol list is empty, too long or holds a NUL byte", shown(s, n, b));
	const char *prev = NULL;
	size_t prevlen = 0;
	for (size_t i = 0; i <= n;) {
		const char *e = memchr(s + i, ',', n - i);
		size_t tl = e ? (size_t)(e - (s + i)) : n - i;
		if (!tl)
			fail("a protocol list has an empty item", shown(s, n, b));
		if (prev) {
			int r = memcmp(prev, s + i, prevlen < tl ? prevlen : tl);
			if (r > 0 || (!r && prevlen >= tl))
				fail("a protocol list is not sorted and distinct", shown(s, n, b));
		}
		prev = s + i;
		prevlen = tl;
		i += tl + 1;
	}
}

static int f_edge(st_sink *s, const char *src, size_t srclen, const char *dst, size_t dstlen,
		  int type, const uint8_t *props, size_t props_len, st_loc loc, st_diag *diag)
{
	(void)diag;
	fsink *c = s->ctx;
	char b[128];
	if (c->n_ids && !c->last_hinted)
		fail("a node without its service hint", c->ids[c->n_ids - 1]);
	check_fact_loc(c, loc, "edge");
	if (type != c->edge_type)
		fail("an edge is not CALLS", NULL);
	long a = src ? find_id(c, src, srclen) : -1, z = dst ? find_id(c, dst, dstlen) : -1;
	if (a < 0)
		fail("an edge's client is not a Workload emitted before it",
		     src ? shown(src, srclen, b) : NULL);
	if (z < 0)
		fail("an edge's server is not a Workload emitted before it",
		     dst ? shown(dst, dstlen, b) : NULL);
	c->used[a] = c->used[z] = true;
	if (c->edges) {
		int r = strcmp(c->last_src, c->ids[a]);
		if (!r)
			r = strcmp(c->last_dst, c->ids[z]);
		if (r >= 0)
			fail("edges are not sorted by (client, server), or a pair repeats",
			     c->ids[a]);
	}
	c->last_src = c->ids[a];
	c->last_dst = c->ids[z];

	const st_edge_type *et = st_schema_edge_type(s->schema, (size_t)type);
	check_props(props, props_len, et->props, et->n_props);
	st_props_iter it;
	st_prop p;
	int r;
	bool has_req = false;
	st_props_iter_init(&it, props, props_len);
	while ((r = st_props_next(&it, &p)) == 1) {
		if (p.klen == 12 && !memcmp(p.key, "request_rate", 12)) {
			check_rate(&p, true);
			has_req = true;
		} else if ((p.klen == 10 && !memcmp(p.key, "error_rate", 10)) ||
			   (p.klen == 14 && !memcmp(p.key, "latency_p99_ms", 14))) {
			check_rate(&p, false);
		} else if (p.klen == 8 && !memcmp(p.key, "protocol", 8)) {
			check_protocol(c, &p);
		} else {
			fail("an edge property the connector does not write",
			     shown(p.key, p.klen, b));
		}
	}
	if (r < 0)
		fail("a property blob is corrupt", NULL);
	if (!has_req)
		fail("an edge without request_rate", c->ids[a]);
	c->edges++;
	return 0;
}

static int f_cost(st_sink *s, const char *resource, size_t rlen, int32_t day, uint16_t currency,
		  int64_t effective, int64_t billed, st_loc loc, st_diag *diag)
{
	(void)s, (void)resource, (void)rlen, (void)day, (void)currency, (void)effective;
	(void)billed, (void)loc, (void)diag;
	fail("the Prometheus connector emitted a cost fact", NULL);
	return 0;
}

static void f_warn(st_sink *s, st_loc loc, const char *msg)
{
	(void)s, (void)loc;
	fail("a warning although the sink takes notes", msg);
}

static void f_note(st_sink *s, st_loc loc, const char *msg)
{
	fsink *c = s->ctx;
	if (!msg || !msg[0])
		fail("an empty note", NULL);
	if (!loc.origin || strcmp(loc.origin, ORIGIN))
		fail("a note does not carry the file's origin", loc.origin);
	if (c->summary)
		fail("a note after the summary", msg);
	if (loc.line == 0) {
		const char *p = msg;
		while (*p >= '0' && *p <= '9')
			p++;
		if (p == msg || strcmp(p, " more remarks about series not shown") ||
		    c->notes != MAX_NOTES)
			fail("a note without a line that is not the summary after 100 notes", msg);
		c->summary = true;
	} else if (loc.line > c->max_line) {
		fail("a note's line is outside the input", msg);
	} else if (c->notes >= MAX_NOTES) {
		fail("more than 100 notes", msg);
	}
	c->notes++;
}

static void f_progress(st_sink *s, const char *what, uint64_t done, uint64_t total)
{
	fsink *c = s->ctx;
	(void)total;
	if (!what)
		fail("progress without a description", NULL);
	if (!strcmp(what, "prometheus workloads")) {
		c->prog_nodes = true;
		c->n_nodes = done;
	} else if (!strcmp(what, "prometheus call edges")) {
		c->prog_edges = true;
		c->n_edges = done;
	}
}

static void f_set_state(st_sink *s, const char *state)
{
	fsink *c = s->ctx;
	char want[128];
	snprintf(want, sizeof(want), "prom1:%s@now", c->v->profile);
	if (!state || strcmp(state, want))
		fail("the state is not \"prom1:PROFILE@now\"", state);
	if (c->state_set)
		fail("the state was set twice", state);
	c->state_set = true;
}

/* ---- the target ------------------------------------------------------------ */

static struct {
	st_schema *schema;
	fz_file f;
} fz;

static void cleanup(void)
{
	st_schema_free(fz.schema);
	fz.schema = NULL;
	fz_file_remove(&fz.f);
}

static void init(void)
{
	st_diag diag = {{0}};
	const char *err = fz_file_init(&fz.f, "promfile", FILE_NAME);
	if (err)
		fail(err, fz.f.dir);
	atexit(cleanup);
	if (st_schema_load_default(&fz.schema, &diag))
		fail("cannot load the default schema", diag.msg);
}

static void write_input(const uint8_t *data, size_t size)
{
	const char *err = fz_file_write(&fz.f, data, size);
	if (err)
		fail(err, fz.f.input);
}

static bool parse_u(const char **s, unsigned long *ret)
{
	const char *p = *s;
	unsigned long v = 0;
	if (*p < '0' || *p > '9')
		return false;
	while (*p >= '0' && *p <= '9') {
		if (v > 100000000UL)
			return false;
		v = v * 10 + (unsigned)(*p++ - '0');
	}
	*s = p;
	*ret = v;
	return true;
}

/* Bytes of line `line` (1-based) of the text, without its '\n'. */
static size_t line_length(const fsink *c, unsigned long line)
{
	size_t i = 0;
	for (unsigned long l = 1; l < line; l++) {
		const uint8_t *nl = memchr(c->text + i, '\n', c->text_len - i);
		i = (size_t)(nl - c->text) + 1;
	}
	const uint8_t *nl = memchr(c->text + i, '\n', c->text_len - i);
	return nl ? (size_t)(nl - (c->text + i)) : c->text_len - i;
}

static void check_failure(const fsink *c, int r, const char *msg)
{
	if (r != ST_E_INVALID && r != ST_E_LIMIT)
		fail("a failure other than ST_E_INVALID or ST_E_LIMIT", msg);
	if (c->n_ids || c->edges || c->hints)
		fail("a failed run emitted facts", msg);
	if (c->state_set)
		fail("a failed run set a state", msg);
	if (!starts(msg, ORIGIN ":"))
		fail("a failure does not name the file", msg);
	const char *p = msg + strlen(ORIGIN ":");
	if (starts(p, " no saved response \"request_rate\""))
		return;
	unsigned long line, col;
	if (!parse_u(&p, &line) || line < 1 || line > c->max_line)
		fail("a failure's line is missing or outside the input", msg);
	if (starts(p, ": saved response for \"")) {
		p += strlen(": saved response for \"");
		if (!starts(p, "request_rate\": ") && !starts(p, "error_rate\": ") &&
		    !starts(p, "latency_p99\": "))
			fail("a failed saved response names no query", msg);
		return;
	}
	if (*p++ != ':' || !parse_u(&p, &col) || *p != ':')
		fail("a failure says neither \"FILE:LINE:COL:\" nor \"FILE:LINE: saved response\"",
		     msg);
	if (col < 1 || col > line_length(c, line) + 1)
		fail("a failure's column is outside its line", msg);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1 || size > FUZZ_MAX_INPUT)
		return 0;
	if (!fz.schema)
		init();
	const variant *v = &variants[data[0] % 4];
	data++;
	size--;
	write_input(data, size);

	fsink c = {0};
	c.v = v;
	snprintf(c.fact_origin, sizeof(c.fact_origin), "%s:%s", SOURCE, v->profile);
	c.text = data;
	c.text_len = size;
	c.max_line = 1;
	for (size_t i = 0; i < size; i++)
		c.max_line += data[i] == '\n';
	c.node_type = st_schema_find_node_type(fz.schema, "Workload", 8);
	c.edge_type = st_schema_find_edge_type(fz.schema, "CALLS", 5);
	if (c.node_type < 0 || c.edge_type < 0)
		fail("the default schema has no Workload or CALLS", NULL);
	c.sink.schema = fz.schema;
	c.sink.ctx = &c;
	c.sink.node = f_node;
	c.sink.edge = f_edge;
	c.sink.cost = f_cost;
	c.sink.hint = f_hint;
	c.sink.warn = f_warn;
	c.sink.note = f_note;
	c.sink.progress = f_progress;
	c.sink.set_state = f_set_state;

	st_source src = {
		.name = SOURCE,
		.kind = "prometheus",
		.location = fz.f.input,
		.cache_dir = fz.f.dir,
		.options = v->opts,
		.n_options = v->n_opts,
	};
	st_diag diag = {{0}};
	int r = st_connector_prometheus.run(&src, &c.sink, &diag);
	if (getenv("STACKTWIN_FUZZ_VERBOSE"))
		fprintf(stderr, "    %s: %s (%zu nodes, %zu edges, %zu hints, %zu notes)\n",
			v->profile, r ? diag.msg : "read", c.n_ids, c.edges, c.hints, c.notes);
	if (r > 0)
		fail("the run returned a positive code", diag.msg);
	if (r < 0) {
		check_failure(&c, r, diag.msg);
	} else {
		if (!c.state_set)
			fail("a successful run set no state", NULL);
		if (c.n_ids && !c.last_hinted)
			fail("a node without its service hint", c.ids[c.n_ids - 1]);
		if (!c.prog_nodes || !c.prog_edges || c.n_nodes != c.n_ids || c.n_edges != c.edges)
			fail("the progress counts are not what reached the sink", NULL);
		for (size_t i = 0; i < c.n_ids; i++)
			if (!c.used[i])
				fail("a Workload that is the end of no edge", c.ids[i]);
	}

	for (size_t i = 0; i < c.n_ids; i++)
		free(c.ids[i]);
	free(c.ids);
	free(c.used);
	free(c.last_name);
	free(c.last_ns);
	return 0;
}
