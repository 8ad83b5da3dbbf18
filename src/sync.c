/*
 * sync.c — one source's sync (sync.h, docs/sync.md).
 *
 * The sink given to the connector writes nodes and cost facts straight into
 * the batch; edges and identity hints are buffered until the run ends,
 * because an edge's endpoint may be declared later in the run (or by another
 * source) and a hint can only be resolved once every entity is known.  After
 * a complete run:
 *   1. hints are resolved (reconcile.c) into link edges carrying the rule and
 *      the evidence; ambiguous and unmatched hints are recorded;
 *   2. each buffered edge is added; an endpoint this run did not declare is
 *      *referenced* (st_batch_node_ref): an existing node keeps its
 *      properties, a missing logical entity is created from its id prefix
 *      (service:, team:, …) as a placeholder, and an edge to an unknown
 *      source object is dropped with a warning;
 *   3. the source's facts not asserted by this run are retired, except those
 *      of origins that reported a problem (kept, flagged stale);
 *   4. the status record is written in the same transaction and it commits.
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <yajl/yajl_gen.h>
#include <yajl/yajl_tree.h>

#include "props.h"
#include "reconcile.h"
#include "strmap.h"
#include "sync.h"

#define MAX_LISTED 50 /* warnings and unmatched hints kept in the status */

typedef struct bufedge {
	char *src, *dst;
	int type;
	uint8_t *props;
	size_t props_len;
	const char *origin; /* interned */
	uint32_t line;
} bufedge;

typedef struct bufhint {
	char *id, *value, *rule, *evidence;
	st_hint_kind kind;
	const char *origin;
	uint32_t line;
} bufhint;

typedef struct sync_run {
	st_sink sink;
	st_batch *b;
	const st_config *cfg;
	const st_source_cfg *src;
	const st_sync_opts *opts;
	st_sync_result *res;
	st_reconciler *rec;
	st_strmap declared; /* ids declared by this run -> schema type */
	st_strmap origins;  /* interned origin strings -> index */
	char **origin_v;
	size_t n_origin, cap_origin;
	st_strmap keep; /* origins with a problem this run */
	bufedge *edges;
	size_t n_edges, cap_edges;
	bufhint *hints;
	size_t n_hints, cap_hints;
	char *state;
	st_strmap runs_of; /* object id -> index into run_targets: the service it RUNS */
	char **run_targets;
	size_t n_run_targets;
	char **warnings; /* first MAX_LISTED messages */
	size_t n_warnings;
	char **unmatched; /* first MAX_LISTED, "id: kind 'value' (reason)" */
	size_t n_unmatched;
	double last_progress;
	st_pb pb;
	int t_component;
} sync_run;

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static const char *intern_origin(sync_run *r, const char *origin)
{
	if (!origin || !*origin)
		return "";
	size_t len = strlen(origin);
	uint32_t i = st_strmap_get(&r->origins, origin, len);
	if (i != UINT32_MAX)
		return r->origin_v[i];
	if (r->n_origin == r->cap_origin) {
		r->cap_origin = r->cap_origin ? 2 * r->cap_origin : 64;
		r->origin_v = st_xrealloc(r->origin_v, r->cap_origin * sizeof(char *));
	}
	r->origin_v[r->n_origin] = st_xstrndup(origin, len);
	st_strmap_put(&r->origins, origin, len, (uint32_t)r->n_origin);
	return r->origin_v[r->n_origin++];
}

static void add_message(char ***v, size_t *n, const char *msg)
{
	if (*n >= MAX_LISTED)
		return;
	*v = st_xrealloc(*v, (*n + 1) * sizeof(char *));
	(*v)[(*n)++] = st_xstrndup(msg, strlen(msg));
}

static void run_warning(sync_run *r, const char *msg)
{
	r->res->warnings++;
	add_message(&r->warnings, &r->n_warnings, msg);
	if (r->opts && r->opts->on_warning)
		r->opts->on_warning(msg, r->opts->ctx);
}

/* ------------------------------------------------------------------ sink */

static void push_hint(sync_run *r, const char *id, size_t idlen, st_hint_kind kind,
		      const char *value, size_t vlen, const char *rule, const char *evidence,
		      st_loc loc);
static void apply_config_rules(sync_run *r, const char *id, size_t idlen, const uint8_t *props,
			       size_t props_len, st_loc loc);

static int s_node(st_sink *s, const char *id, size_t idlen, int type, const uint8_t *props,
		  size_t props_len, st_loc loc, st_diag *diag)
{
	sync_run *r = s->ctx;
	int rc = st_batch_node(r->b, id, idlen, type, props, props_len, loc, diag);
	if (rc < 0) {
		st_diag_prefix(diag, "%s:%u", loc.origin ? loc.origin : r->src->name, loc.line);
		return rc;
	}
	st_strmap_put(&r->declared, id, idlen, (uint32_t)type);
	st_reconciler_add(r->rec, id, idlen, type, props, props_len);
	apply_config_rules(r, id, idlen, props, props_len, loc);
	r->res->nodes++;
	return 0;
}

static int s_edge(st_sink *s, const char *src, size_t srclen, const char *dst, size_t dstlen,
		  int type, const uint8_t *props, size_t props_len, st_loc loc, st_diag *diag)
{
	sync_run *r = s->ctx;
	const st_edge_type *et = st_schema_edge_type(s->schema, (size_t)type);
	if (!et)
		return st_diag_set(diag, ST_E_INVALID, "%s:%u: invalid edge type", loc.origin,
				   loc.line);
	int rc = st_props_check(props, props_len, et->props, et->n_props, diag);
	if (rc < 0) {
		st_diag_prefix(diag, "%s:%u: edge %s", loc.origin ? loc.origin : "", loc.line,
			       et->name);
		return rc;
	}
	if (r->n_edges == r->cap_edges) {
		r->cap_edges = r->cap_edges ? 2 * r->cap_edges : 1024;
		r->edges = st_xrealloc(r->edges, r->cap_edges * sizeof(bufedge));
	}
	bufedge *e = &r->edges[r->n_edges++];
	e->src = st_xstrndup(src, srclen);
	e->dst = st_xstrndup(dst, dstlen);
	e->type = type;
	e->props = props_len ? st_xmalloc(props_len) : NULL;
	if (props_len)
		memcpy(e->props, props, props_len);
	e->props_len = props_len;
	e->origin = intern_origin(r, loc.origin);
	e->line = loc.line;
	r->res->edges++;
	return 0;
}

static int s_cost(st_sink *s, const char *resource, size_t rlen, int32_t day, uint16_t currency,
		  int64_t effective, int64_t billed, st_loc loc, st_diag *diag)
{
	sync_run *r = s->ctx;
	int rc = st_batch_cost(r->b, resource, rlen, day, currency, effective, billed, loc, diag);
	if (rc < 0)
		st_diag_prefix(diag, "%s:%u", loc.origin ? loc.origin : "", loc.line);
	else
		r->res->costs++;
	return rc;
}

static void push_hint(sync_run *r, const char *id, size_t idlen, st_hint_kind kind,
		      const char *value, size_t vlen, const char *rule, const char *evidence,
		      st_loc loc)
{
	if (r->n_hints == r->cap_hints) {
		r->cap_hints = r->cap_hints ? 2 * r->cap_hints : 256;
		r->hints = st_xrealloc(r->hints, r->cap_hints * sizeof(bufhint));
	}
	bufhint *h = &r->hints[r->n_hints++];
	h->id = st_xstrndup(id, idlen);
	h->value = st_xstrndup(value, vlen);
	h->rule = st_xstrndup(rule ? rule : "", rule ? strlen(rule) : 0);
	h->evidence = st_xstrndup(evidence ? evidence : "", evidence ? strlen(evidence) : 0);
	h->kind = kind;
	h->origin = intern_origin(r, loc.origin);
	h->line = loc.line;
	r->res->hints++;
}

static int s_hint(st_sink *s, const char *id, size_t idlen, st_hint_kind kind, const char *value,
		  size_t vlen, const char *rule, const char *evidence, st_loc loc, st_diag *diag)
{
	(void)diag;
	sync_run *r = s->ctx;
	if (r->cfg && !r->cfg->default_rules)
		return 0; /* identity.default_rules: false */
	if (vlen == 0)
		return 0;
	push_hint(r, id, idlen, kind, value, vlen, rule, evidence, loc);
	return 0;
}

static void s_note(st_sink *s, st_loc loc, const char *msg)
{
	sync_run *r = s->ctx;
	char buf[ST_DIAG_MAX + 300];
	const char *origin = loc.origin && *loc.origin ? loc.origin : r->src->name;
	if (loc.line)
		snprintf(buf, sizeof(buf), "%s:%u: %s", origin, loc.line, msg);
	else
		snprintf(buf, sizeof(buf), "%s: %s", origin, msg);
	run_warning(r, buf);
}

static void s_warn(st_sink *s, st_loc loc, const char *msg)
{
	sync_run *r = s->ctx;
	if (loc.origin && *loc.origin)
		st_strmap_put(&r->keep, loc.origin, strlen(loc.origin), 1);
	s_note(s, loc, msg);
}

static void s_progress(st_sink *s, const char *what, uint64_t done, uint64_t total)
{
	sync_run *r = s->ctx;
	if (!r->opts || !r->opts->progress)
		return;
	double t = now_s();
	if (t - r->last_progress < 0.2 && done != total)
		return;
	r->last_progress = t;
	if (total)
		fprintf(stderr, "\r\033[K%s: %s %llu/%llu", r->src->name, what,
			(unsigned long long)done, (unsigned long long)total);
	else
		fprintf(stderr, "\r\033[K%s: %s %llu", r->src->name, what,
			(unsigned long long)done);
	fflush(stderr);
}

static void s_set_state(st_sink *s, const char *state)
{
	sync_run *r = s->ctx;
	free(r->state);
	r->state = state ? st_xstrndup(state, strnlen(state, 1024)) : NULL;
}

/* --------------------------------------------------- config identity rules */

/* identity.rules: a label/tag/annotation of a declared object names an
 * entity.  Terraform tags and Kubernetes labels both live in `labels`, so
 * "tag:" and "label:" look there; "annotation:" in `annotations`. */
static void apply_config_rules(sync_run *r, const char *id, size_t idlen, const uint8_t *props,
			       size_t props_len, st_loc loc)
{
	for (size_t i = 0; r->cfg && i < r->cfg->n_rules; i++) {
		const st_rule_cfg *rule = &r->cfg->rules[i];
		if (rule->source_kind && strcmp(rule->source_kind, r->src->kind))
			continue;
		const char *colon = strchr(rule->key, ':');
		if (!colon)
			continue;
		bool ann = !strncmp(rule->key, "annotation:", 11);
		const char *want = colon + 1;
		st_prop p;
		const char *map = ann ? "annotations" : "labels";
		if (st_props_get(props, props_len, map, strlen(map), &p) != 1 || p.type != ST_P_MAP)
			continue;
		st_coll_iter it;
		st_coll_iter_init(&it, &p);
		const char *k, *v;
		size_t kl, vl;
		while (st_coll_next(&it, &k, &kl, &v, &vl) == 1) {
			if (kl != strlen(want) || strncasecmp(k, want, kl) || !vl)
				continue;
			char ev[400];
			snprintf(ev, sizeof(ev), "%s %.*s=%.*s", ann ? "annotation" : "label",
				 (int)(kl > 100 ? 100 : kl), k, (int)(vl > 200 ? 200 : vl), v);
			push_hint(r, id, idlen, rule->kind, v, vl, rule->name, ev, loc);
		}
	}
}

/* ------------------------------------------------------------ reconcile */

static int find_type(const st_schema *s, const char *name)
{
	return st_schema_find_node_type(s, name, strlen(name));
}

static int edge_type(const st_schema *s, const char *name)
{
	return st_schema_find_edge_type(s, name, strlen(name));
}

static void note_unmatched(sync_run *r, const bufhint *h, const char *reason)
{
	static const char *const kinds[] = {"service", "team", "system", "cloud-id"};
	char buf[700];
	snprintf(buf, sizeof(buf), "%.200s: %s '%.100s' from %.60s (%.200s): %s", h->id,
		 kinds[h->kind], h->value, h->rule, h->evidence, reason);
	add_message(&r->unmatched, &r->n_unmatched, buf);
}

/* Buffer one link edge with rule and evidence properties. */
static int link_edge(sync_run *r, const char *src, const char *dst, int type, const bufhint *h,
		     const char *how, st_diag *diag)
{
	st_pb_reset(&r->pb);
	char ev[600];
	if (!strcmp(how, "name"))
		snprintf(ev, sizeof(ev), "%s", h->evidence);
	else
		snprintf(ev, sizeof(ev), "%s; %s", h->evidence, how);
	const uint8_t *blob;
	size_t len;
	if (st_pb_string(&r->pb, "rule", 4, h->rule, strlen(h->rule)) ||
	    st_pb_string(&r->pb, "evidence", 8, ev, strlen(ev)) ||
	    st_pb_finish(&r->pb, &blob, &len, diag))
		return st_diag_set(diag, ST_E_INVALID, "link edge properties");
	st_loc loc = {h->origin, h->line};
	r->res->edges--; /* s_edge counts connector edges; links are counted apart */
	int rc = s_edge(&r->sink, src, strlen(src), dst, strlen(dst), type, blob, len, loc, diag);
	if (rc == 0)
		r->res->links++;
	return rc;
}

static int resolve_hints(sync_run *r, st_diag *diag)
{
	const st_schema *sc = r->sink.schema;
	int e_runs = edge_type(sc, "RUNS"), e_defined = edge_type(sc, "DEFINED_IN");
	int e_owns = edge_type(sc, "OWNS"), e_billed = edge_type(sc, "BILLED_TO");
	int e_same = edge_type(sc, "SAME_AS");
	/* objects that got a service link (a team hint then does not bill) */
	st_strmap serviced = {0};
	for (int pass = 0; pass < 2; pass++) {
		for (size_t i = 0; i < r->n_hints; i++) {
			const bufhint *h = &r->hints[i];
			bool team = h->kind == ST_HINT_TEAM;
			if ((pass == 0) == team)
				continue; /* services first, then teams */
			uint32_t st = st_strmap_get(&r->declared, h->id, strlen(h->id));
			if (st == UINT32_MAX) {
				note_unmatched(r, h, "the object is not declared by this source");
				r->res->unmatched++;
				continue;
			}
			int stype = (int)st;
			if (h->kind == ST_HINT_SYSTEM) {
				/* no edge type links a source object to a System; kept
				 * as a label on the object, not a link */
				continue;
			}
			st_match m;
			st_reconcile(r->rec, h->kind, h->value, strlen(h->value), &m);
			/* the outcome of every hint, order-independent: a forced re-read
			 * that resolves exactly as before is no change */
			r->res->hints_hash += st_strmap_hash(h->id, strlen(h->id)) * 31u +
					      st_strmap_hash(h->value, strlen(h->value)) * 7u +
					      (m.id ? st_strmap_hash(m.id, strlen(m.id)) : 0) +
					      (uint64_t)m.status * 1000003u + (uint64_t)h->kind;
			if (m.status == ST_MATCH_NONE) {
				note_unmatched(r, h, "no such entity");
				r->res->unmatched++;
				continue;
			}
			if (m.status == ST_MATCH_AMBIGUOUS) {
				char why[600];
				snprintf(why, sizeof(why), "ambiguous: %.200s or %.200s (%s)", m.id,
					 m.other, m.how);
				note_unmatched(r, h, why);
				r->res->ambiguous++;
				continue;
			}
			int rc = 0;
			bool linked = false;
			if (h->kind == ST_HINT_CLOUD_ID) {
				if (e_same >= 0 &&
				    st_schema_edge_allows(sc, (size_t)e_same, (size_t)stype, (size_t)m.type)) {
					rc = link_edge(r, h->id, m.id, e_same, h, m.how, diag);
					linked = true;
				}
			} else if (!team) {
				if (e_runs >= 0 &&
				    st_schema_edge_allows(sc, (size_t)e_runs, (size_t)stype, (size_t)m.type)) {
					rc = link_edge(r, h->id, m.id, e_runs, h, m.how, diag);
					linked = true;
					r->run_targets = st_xrealloc(r->run_targets,
								     (r->n_run_targets + 1) * sizeof(char *));
					r->run_targets[r->n_run_targets] = st_xstrndup(m.id, strlen(m.id));
					st_strmap_put(&r->runs_of, h->id, strlen(h->id),
						      (uint32_t)r->n_run_targets++);
				} else if (e_defined >= 0 &&
					   st_schema_edge_allows(sc, (size_t)e_defined, (size_t)m.type,
								 (size_t)stype)) {
					rc = link_edge(r, m.id, h->id, e_defined, h, m.how, diag);
					linked = true;
				}
				if (!rc && e_billed >= 0 &&
				    st_schema_edge_allows(sc, (size_t)e_billed, (size_t)stype,
							  (size_t)m.type)) {
					rc = link_edge(r, h->id, m.id, e_billed, h, m.how, diag);
					st_strmap_put(&serviced, h->id, strlen(h->id), 1);
					linked = true;
				}
			} else {
				if (e_owns >= 0 &&
				    st_schema_edge_allows(sc, (size_t)e_owns, (size_t)m.type, (size_t)stype)) {
					rc = link_edge(r, m.id, h->id, e_owns, h, m.how, diag);
					linked = true;
				}
				if (!rc && e_billed >= 0 &&
				    st_strmap_get(&serviced, h->id, strlen(h->id)) == UINT32_MAX &&
				    st_schema_edge_allows(sc, (size_t)e_billed, (size_t)stype,
							  (size_t)m.type)) {
					rc = link_edge(r, h->id, m.id, e_billed, h, m.how, diag);
					st_strmap_put(&serviced, h->id, strlen(h->id), 1);
				}
			}
			if (rc < 0) {
				st_strmap_free(&serviced);
				return rc;
			}
			if (!linked) {
				note_unmatched(r, h, "no edge type links these node types");
				r->res->unmatched++;
			}
		}
	}
	st_strmap_free(&serviced);
	return 0;
}

/* Runtime edges lift to services: a CALLS edge between two objects that this
 * run linked (RUNS) to two different services also becomes a CALLS edge
 * between the services, so blast radius and paths see who calls whom at the
 * logical level.  Several object pairs of one service pair add their rates
 * (request_rate, error_rate) and keep the highest latency_p99_ms. */
struct lifted {
	const char *src, *dst;
	double req, err, p99;
	bool has_req, has_err, has_p99;
	const char *origin;
	uint32_t line;
	char evidence[300];
};

static double prop_float(const uint8_t *props, size_t len, const char *key, bool *has)
{
	st_prop p;
	if (st_props_get(props, len, key, strlen(key), &p) == 1 && p.type == ST_P_FLOAT) {
		*has = true;
		return p.v.f;
	}
	return 0;
}

static int lift_calls(sync_run *r, st_diag *diag)
{
	if (!r->n_run_targets)
		return 0;
	int e_calls = edge_type(r->sink.schema, "CALLS");
	st_strmap pairs = {0};
	struct lifted *v = NULL;
	size_t n = 0, n_edges = r->n_edges; /* link edges appended later are not CALLS */
	for (size_t i = 0; i < n_edges; i++) {
		const bufedge *e = &r->edges[i];
		if (e->type != e_calls)
			continue;
		uint32_t a = st_strmap_get(&r->runs_of, e->src, strlen(e->src));
		uint32_t b = st_strmap_get(&r->runs_of, e->dst, strlen(e->dst));
		if (a == UINT32_MAX || b == UINT32_MAX)
			continue;
		const char *sa = r->run_targets[a], *sb = r->run_targets[b];
		if (!strcmp(sa, sb))
			continue; /* calls within one service */
		char key[600];
		int kl = snprintf(key, sizeof(key), "%s%c%s", sa, 0, sb);
		if (kl < 0 || (size_t)kl >= sizeof(key))
			continue;
		uint32_t k = st_strmap_get(&pairs, key, (size_t)kl);
		if (k == UINT32_MAX) {
			v = st_xrealloc(v, (n + 1) * sizeof(*v));
			memset(&v[n], 0, sizeof(v[n]));
			v[n].src = sa;
			v[n].dst = sb;
			v[n].origin = e->origin;
			v[n].line = e->line;
			snprintf(v[n].evidence, sizeof(v[n].evidence), "%.140s -> %.140s", e->src,
				 e->dst);
			st_strmap_put(&pairs, key, (size_t)kl, (uint32_t)n);
			k = (uint32_t)n++;
		}
		struct lifted *l = &v[k];
		bool h = false;
		double x = prop_float(e->props, e->props_len, "request_rate", &h);
		if (h) {
			l->req += x;
			l->has_req = true;
		}
		h = false;
		x = prop_float(e->props, e->props_len, "error_rate", &h);
		if (h) {
			l->err += x;
			l->has_err = true;
		}
		h = false;
		x = prop_float(e->props, e->props_len, "latency_p99_ms", &h);
		if (h && (!l->has_p99 || x > l->p99)) {
			l->p99 = x;
			l->has_p99 = true;
		}
	}
	int rc = 0;
	for (size_t i = 0; i < n && !rc; i++) {
		const struct lifted *l = &v[i];
		st_pb_reset(&r->pb);
		const uint8_t *blob;
		size_t len;
		if (st_pb_string(&r->pb, "rule", 4, "runtime-lift", 12) ||
		    st_pb_string(&r->pb, "evidence", 8, l->evidence, strlen(l->evidence)) ||
		    (l->has_req && st_pb_float(&r->pb, "request_rate", 12, l->req)) ||
		    (l->has_err && st_pb_float(&r->pb, "error_rate", 10, l->err)) ||
		    (l->has_p99 && st_pb_float(&r->pb, "latency_p99_ms", 14, l->p99)) ||
		    st_pb_finish(&r->pb, &blob, &len, diag)) {
			rc = st_diag_set(diag, ST_E_INVALID, "lifted CALLS properties");
			break;
		}
		st_loc loc = {l->origin, l->line};
		r->res->edges--; /* counted as a link, not a connector edge */
		rc = s_edge(&r->sink, l->src, strlen(l->src), l->dst, strlen(l->dst), e_calls, blob,
			    len, loc, diag);
		if (!rc)
			r->res->links++;
	}
	free(v);
	st_strmap_free(&pairs);
	return rc;
}

/* The placeholder type of an undeclared logical entity, from its id. */
static int placeholder_type(sync_run *r, const char *id, const uint8_t **props, size_t *plen,
			    st_diag *diag)
{
	static const struct { const char *prefix, *type; } map[] = {
		{"service:", "Service"}, {"component:", "Component"}, {"api:", "API"},
		{"resource:", "Resource"}, {"system:", "System"},   {"domain:", "Domain"},
		{"team:", "Team"},	 {"group:", "Team"},	    {"user:", "User"},
	};
	*props = NULL;
	*plen = 0;
	/* "k8s:<cluster>": a cluster that manifests name and a live source declares */
	if (!strncmp(id, "k8s:", 4) && id[4] && !strchr(id + 4, '/'))
		return find_type(r->sink.schema, "KubernetesCluster");
	for (size_t i = 0; i < ST_ARRAY_LEN(map); i++) {
		size_t pl = strlen(map[i].prefix);
		if (strncmp(id, map[i].prefix, pl))
			continue;
		int t = find_type(r->sink.schema, map[i].type);
		if (t == r->t_component) {
			st_pb_reset(&r->pb);
			if (st_pb_string(&r->pb, "component_type", 14, "unknown", 7) ||
			    st_pb_finish(&r->pb, props, plen, diag))
				return -1;
		}
		return t;
	}
	return -1;
}

static int ensure_endpoint(sync_run *r, const char *id, const bufedge *e, st_diag *diag)
{
	size_t len = strlen(id);
	if (st_strmap_get(&r->declared, id, len) != UINT32_MAX)
		return 1;
	int type;
	st_loc loc = {e->origin, e->line};
	int rc = st_batch_lookup(r->b, id, len, &type);
	if (rc < 0)
		return st_diag_set(diag, rc, "store lookup failed");
	const uint8_t *props = NULL;
	size_t plen = 0;
	if (rc == 0) {
		type = placeholder_type(r, id, &props, &plen, diag);
		if (type < 0)
			return 0; /* unknown source object: the caller drops the edge */
	}
	if ((rc = st_batch_node_ref(r->b, id, len, type, props, plen, loc, diag)) < 0)
		return rc;
	/* later edges to it need no lookup */
	st_strmap_put(&r->declared, id, len, (uint32_t)type);
	r->res->refs++;
	return 1;
}

static int add_edges(sync_run *r, st_diag *diag)
{
	for (size_t i = 0; i < r->n_edges; i++) {
		const bufedge *e = &r->edges[i];
		int a = ensure_endpoint(r, e->src, e, diag);
		if (a < 0)
			return a;
		int b = a ? ensure_endpoint(r, e->dst, e, diag) : 0;
		if (b < 0)
			return b;
		if (!a || !b) {
			char msg[700];
			snprintf(msg, sizeof(msg), "%s:%u: edge %s -> %s dropped: %s is not known",
				 e->origin, e->line, e->src, e->dst, a ? e->dst : e->src);
			run_warning(r, msg);
			r->res->dropped_edges++;
			continue;
		}
		st_loc loc = {e->origin, e->line};
		int rc = st_batch_edge(r->b, e->src, strlen(e->src), e->dst, strlen(e->dst), e->type,
				       e->props, e->props_len, loc, diag);
		if (rc < 0) {
			st_diag_prefix(diag, "%s:%u", e->origin, e->line);
			return rc;
		}
	}
	return 0;
}

/* --------------------------------------------------------------- status */

static void gstr(yajl_gen g, const char *s)
{
	yajl_gen_string(g, (const unsigned char *)s, strlen(s));
}

static void gkv(yajl_gen g, const char *k, const char *v)
{
	gstr(g, k);
	if (v)
		gstr(g, v);
	else
		yajl_gen_null(g);
}

static void gnum(yajl_gen g, const char *k, uint64_t v)
{
	gstr(g, k);
	yajl_gen_integer(g, (long long)v);
}

static void gtime(yajl_gen g, const char *k, int64_t t)
{
	gstr(g, k);
	if (t <= 0) {
		yajl_gen_null(g);
		return;
	}
	char buf[40];
	st_timestamp_format(t, buf);
	gstr(g, buf);
}

/* Write a parsed JSON value back out (an unchanged sync carries lists over). */
void st_json_gen_value(yajl_gen g, yajl_val v)
{
	if (!v) {
		yajl_gen_null(g);
	} else if (YAJL_IS_STRING(v)) {
		gstr(g, v->u.string);
	} else if (YAJL_IS_INTEGER(v)) {
		yajl_gen_integer(g, YAJL_GET_INTEGER(v));
	} else if (YAJL_IS_NUMBER(v)) {
		yajl_gen_number(g, v->u.number.r, strlen(v->u.number.r));
	} else if (YAJL_IS_TRUE(v) || YAJL_IS_FALSE(v)) {
		yajl_gen_bool(g, YAJL_IS_TRUE(v));
	} else if (YAJL_IS_ARRAY(v)) {
		yajl_gen_array_open(g);
		for (size_t i = 0; i < v->u.array.len; i++)
			st_json_gen_value(g, v->u.array.values[i]);
		yajl_gen_array_close(g);
	} else if (YAJL_IS_OBJECT(v)) {
		yajl_gen_map_open(g);
		for (size_t i = 0; i < v->u.object.len; i++) {
			gstr(g, v->u.object.keys[i]);
			st_json_gen_value(g, v->u.object.values[i]);
		}
		yajl_gen_map_close(g);
	} else {
		yajl_gen_null(g);
	}
}

/* The previous status record's fields a new one carries over. */
typedef struct prev_status {
	int64_t last_success;
	char *state;
	uint64_t revision;
	uint64_t open_hints; /* unmatched + ambiguous at the last complete read */
	uint64_t hints_hash; /* how its hints resolved (st_sync_result.hints_hash) */
	yajl_val tree;	     /* the whole record: an unchanged sync keeps its lists */
} prev_status;

static yajl_val prev_get(const prev_status *p, const char *key)
{
	const char *path[] = {key, NULL};
	return p->tree ? yajl_tree_get(p->tree, path, yajl_t_any) : NULL;
}

static int prev_cb(const char *source, size_t slen, const void *blob, size_t len, void *ctx)
{
	void **c = ctx;
	const char *want = c[0];
	if (slen != strlen(want) || memcmp(source, want, slen))
		return 0;
	prev_status *p = c[1];
	char *text = st_xstrndup(blob, len);
	char err[128];
	yajl_val v = yajl_tree_parse(text, err, sizeof(err));
	free(text);
	if (!v)
		return 1;
	const char *k_state[] = {"state", NULL}, *k_ok[] = {"last_success", NULL},
		   *k_rev[] = {"revision", NULL};
	yajl_val s = yajl_tree_get(v, k_state, yajl_t_string);
	const char *str = s ? s->u.string : NULL;
	if (str)
		p->state = st_xstrndup(str, strlen(str));
	yajl_val ok = yajl_tree_get(v, k_ok, yajl_t_string);
	str = ok ? ok->u.string : NULL;
	if (str)
		st_timestamp_parse(str, strlen(str), &p->last_success);
	yajl_val rv = yajl_tree_get(v, k_rev, yajl_t_number);
	if (rv && YAJL_IS_INTEGER(rv))
		p->revision = (uint64_t)YAJL_GET_INTEGER(rv);
	const char *k_um[] = {"counts", "unmatched", NULL}, *k_amb[] = {"counts", "ambiguous", NULL};
	yajl_val um = yajl_tree_get(v, k_um, yajl_t_number), am = yajl_tree_get(v, k_amb, yajl_t_number);
	if (um && YAJL_IS_INTEGER(um))
		p->open_hints += (uint64_t)YAJL_GET_INTEGER(um);
	if (am && YAJL_IS_INTEGER(am))
		p->open_hints += (uint64_t)YAJL_GET_INTEGER(am);
	const char *k_hh[] = {"hints_hash", NULL};
	yajl_val hh = yajl_tree_get(v, k_hh, yajl_t_string);
	if (hh && hh->u.string)
		p->hints_hash = strtoull(hh->u.string, NULL, 16);
	p->tree = v;
	return 1;
}

static void read_prev(st_store *st, const char *name, prev_status *p)
{
	memset(p, 0, sizeof(*p));
	st_snap *s;
	if (st_snap_begin(st, &s, NULL) < 0)
		return;
	void *ctx[2] = {(void *)name, p};
	st_snap_statuses(s, prev_cb, ctx);
	st_snap_end(s);
}

static char *status_json(const sync_run *r, const prev_status *prev, int64_t attempt, size_t *ret_len)
{
	const st_sync_result *res = r->res;
	yajl_gen g = yajl_gen_alloc(NULL);
	yajl_gen_map_open(g);
	gkv(g, "source", r->src->name);
	gkv(g, "kind", r->src->kind);
	gkv(g, "location", r->src->location);
	gtime(g, "last_attempt", attempt);
	bool ok = res->rc >= 0;
	gtime(g, "last_success", ok ? attempt : prev->last_success);
	gkv(g, "result", res->rc == 0 ? "committed" : res->rc == ST_SYNC_UNCHANGED ? "unchanged" : "failed");
	gkv(g, "last_error", ok ? NULL : res->error);
	gstr(g, "duration_ms");
	yajl_gen_integer(g, (long long)(res->duration_s * 1000.0 + 0.5));
	gnum(g, "revision", res->revision ? res->revision : prev->revision);
	gkv(g, "state", r->state && res->rc == 0 ? r->state : prev->state);
	{
		char hh[20];
		snprintf(hh, sizeof(hh), "%016llx",
			 (unsigned long long)(res->rc == 0 ? res->hints_hash : prev->hints_hash));
		gkv(g, "hints_hash", hh);
	}
	if (res->rc == ST_SYNC_UNCHANGED && prev->tree) {
		/* nothing was read: what the last complete read found still holds */
		static const char *const keep[] = {"counts", "warnings", "unmatched"};
		for (size_t i = 0; i < ST_ARRAY_LEN(keep); i++) {
			gstr(g, keep[i]);
			st_json_gen_value(g, prev_get(prev, keep[i]));
		}
		yajl_gen_map_close(g);
		goto out;
	}
	gstr(g, "counts");
	yajl_gen_map_open(g);
	gnum(g, "nodes", res->nodes);
	gnum(g, "edges", res->edges);
	gnum(g, "cost_facts", res->costs);
	gnum(g, "references", res->refs);
	gnum(g, "hints", res->hints);
	gnum(g, "links", res->links);
	gnum(g, "ambiguous", res->ambiguous);
	gnum(g, "unmatched", res->unmatched);
	gnum(g, "warnings", res->warnings);
	gnum(g, "dropped_edges", res->dropped_edges);
	gnum(g, "retired_nodes", res->retired.nodes);
	gnum(g, "retired_edges", res->retired.edges);
	gnum(g, "retired_cost_facts", res->retired.costs);
	gnum(g, "stale", res->retired.stale);
	yajl_gen_map_close(g);
	gstr(g, "warnings");
	yajl_gen_array_open(g);
	for (size_t i = 0; i < r->n_warnings; i++)
		gstr(g, r->warnings[i]);
	yajl_gen_array_close(g);
	gstr(g, "unmatched");
	yajl_gen_array_open(g);
	for (size_t i = 0; i < r->n_unmatched; i++)
		gstr(g, r->unmatched[i]);
	yajl_gen_array_close(g);
	yajl_gen_map_close(g);
out:;
	const unsigned char *buf;
	size_t len;
	yajl_gen_get_buf(g, &buf, &len);
	char *out = st_xstrndup((const char *)buf, len);
	yajl_gen_free(g);
	*ret_len = len;
	return out;
}

struct status_ctx {
	const sync_run *r;
	const prev_status *prev;
	int64_t attempt;
	double t0;
};

/* Called by the store at commit, after retirement filled res->retired. */
static char *build_status(void *ctx, size_t *ret_len)
{
	struct status_ctx *c = ctx;
	c->r->res->duration_s = now_s() - c->t0;
	return status_json(c->r, c->prev, c->attempt, ret_len);
}

/* ----------------------------------------------------------------- main */

static int mkdir_p(const char *path)
{
	char buf[PATH_MAX];
	if (snprintf(buf, sizeof(buf), "%s", path) >= (int)sizeof(buf))
		return -ENAMETOOLONG;
	for (char *p = buf + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = 0;
		if (mkdir(buf, 0700) && errno != EEXIST)
			return -errno;
		*p = '/';
	}
	if (mkdir(buf, 0700) && errno != EEXIST)
		return -errno;
	return 0;
}

static void run_free(sync_run *r)
{
	for (size_t i = 0; i < r->n_edges; i++) {
		free(r->edges[i].src);
		free(r->edges[i].dst);
		free(r->edges[i].props);
	}
	free(r->edges);
	for (size_t i = 0; i < r->n_hints; i++) {
		free(r->hints[i].id);
		free(r->hints[i].value);
		free(r->hints[i].rule);
		free(r->hints[i].evidence);
	}
	free(r->hints);
	for (size_t i = 0; i < r->n_origin; i++)
		free(r->origin_v[i]);
	free(r->origin_v);
	for (size_t i = 0; i < r->n_warnings; i++)
		free(r->warnings[i]);
	free(r->warnings);
	for (size_t i = 0; i < r->n_unmatched; i++)
		free(r->unmatched[i]);
	free(r->unmatched);
	free(r->state);
	st_strmap_free(&r->declared);
	st_strmap_free(&r->origins);
	st_strmap_free(&r->keep);
	st_strmap_free(&r->runs_of);
	for (size_t i = 0; i < r->n_run_targets; i++)
		free(r->run_targets[i]);
	free(r->run_targets);
	st_reconciler_free(r->rec);
	st_pb_free(&r->pb);
}

int st_sync_source(st_store *st, const char *store_dir, const st_config *cfg,
		   const st_source_cfg *src, const st_sync_opts *opts, st_sync_result *res,
		   st_diag *diag)
{
	memset(res, 0, sizeof(*res));
	double t0 = now_s();
	int64_t attempt = (int64_t)time(NULL);
	sync_run r = {0};
	r.cfg = cfg;
	r.src = src;
	r.opts = opts;
	r.res = res;
	st_pb_init(&r.pb);
	const st_schema *schema = st_store_schema(st);
	r.t_component = find_type(schema, "Component");
	prev_status prev;
	read_prev(st, src->name, &prev);
	/* Hints left open by the last read may resolve now that other sources
	 * changed the graph: then read again even if the source did not change. */
	bool force = false;
	{
		st_snap *s;
		if (prev.open_hints && st_snap_begin(st, &s, NULL) == 0) {
			force = st_snap_revision(s) > prev.revision;
			st_snap_end(s);
		}
	}

	int rc = 0;
	const st_connector *conn = st_connector_find(src->kind);
	char cache[PATH_MAX];
	if (!conn) {
		rc = st_diag_set(diag, ST_E_INVALID, "source '%s': unknown kind '%s'", src->name,
				 src->kind);
		goto done;
	}
	if (cfg && cfg->cache)
		snprintf(cache, sizeof(cache), "%s/%s", cfg->cache, src->name);
	else
		snprintf(cache, sizeof(cache), "%s/cache/%s", store_dir, src->name);
	if ((rc = mkdir_p(cache)) < 0) {
		rc = st_diag_set(diag, ST_E_IO, "source '%s': cache directory %s: %s", src->name,
				 cache, strerror(-rc));
		goto done;
	}

	/* entities the run declares are indexed as they come; those of the store
	 * only after a complete read (an unchanged source costs no scan) */
	r.rec = st_reconciler_new(schema, cfg);
	if ((rc = st_batch_begin(st, src->name, &r.b, diag)) < 0)
		goto done;

	r.sink = (st_sink){.schema = schema, .ctx = &r, .node = s_node, .edge = s_edge,
			   .cost = s_cost, .hint = s_hint, .warn = s_warn, .note = s_note,
			   .progress = s_progress, .set_state = s_set_state};
	st_source source = {
		.name = src->name, .kind = src->kind, .location = src->location, .ref = src->ref,
		.cache_dir = cache, .token_env = src->token_env, .token_file = src->token_file,
		.options = src->options, .n_options = src->n_options,
		.prev_state = force ? NULL : prev.state, .timeout_s = src->timeout_s,
	};
	rc = conn->run(&source, &r.sink, diag);
	if (opts && opts->progress)
		fprintf(stderr, "\r\033[K");
	if (rc == 0 && !force && r.state && prev.state && !strcmp(r.state, prev.state)) {
		/* read in full but the same state as last time (a Terraform state
		 * with the same lineage and serial): no new revision */
		rc = ST_SYNC_UNCHANGED;
	}
	if (rc < 0 || rc == ST_SYNC_UNCHANGED) {
		st_batch_abort(r.b);
		r.b = NULL;
		goto done;
	}
	if (r.n_hints) {
		/* the logical entities known before this run; the run's own
		 * declarations were added first and win */
		st_snap *s;
		if ((rc = st_snap_begin(st, &s, diag)) < 0)
			goto done;
		rc = st_reconciler_load(r.rec, s, diag);
		st_snap_end(s);
		if (rc < 0)
			goto done;
	}
	if ((rc = resolve_hints(&r, diag)) < 0)
		goto done;
	if (force && r.state && prev.state && !strcmp(r.state, prev.state) &&
	    res->hints_hash == prev.hints_hash) {
		/* re-read because the graph moved, but every hint resolved as
		 * before: nothing to commit (else two sources with open hints
		 * would make each other commit forever) */
		st_batch_abort(r.b);
		r.b = NULL;
		rc = ST_SYNC_UNCHANGED;
		goto done;
	}
	if ((rc = lift_calls(&r, diag)) < 0 || (rc = add_edges(&r, diag)) < 0)
		goto done;
	/* a complete read: retire what it did not see, keep what failed to parse */
	{
		const char **keep = st_xcalloc(r.keep.n + 1, sizeof(char *));
		size_t n_keep = 0;
		for (size_t i = 0; i < r.keep.cap; i++)
			if (r.keep.slots[i].key)
				keep[n_keep++] = r.keep.slots[i].key;
		rc = st_batch_retire_unseen(r.b, keep, n_keep, &res->retired, diag);
		free(keep);
		if (rc < 0)
			goto done;
	}
	res->rc = 0;
	res->duration_s = now_s() - t0;
	res->revision = st_batch_next_revision(r.b);
	struct status_ctx sc = {&r, &prev, attempt, t0};
	st_batch_set_status_fn(r.b, build_status, &sc);
	rc = st_batch_commit(r.b, &res->revision, diag);
	r.b = NULL;
done:
	if (r.b)
		st_batch_abort(r.b);
	res->rc = rc;
	res->duration_s = now_s() - t0;
	if (rc < 0) {
		snprintf(res->error, sizeof(res->error), "%s", diag->msg);
		memset(&res->retired, 0, sizeof(res->retired));
	}
	if (rc != 0) {
		size_t len;
		char *json = status_json(&r, &prev, attempt, &len);
		st_diag d2;
		if (st_store_put_status(st, src->name, json, len, &d2) < 0 && rc >= 0) {
			rc = res->rc = st_diag_set(diag, ST_E_STORE, "%s", d2.msg);
		}
		free(json);
	}
	free(prev.state);
	yajl_tree_free(prev.tree);
	run_free(&r);
	return rc;
}

/* ------------------------------------------------------------- ad hoc */

int st_source_parse_adhoc(const char *spec, st_source_cfg *ret, st_diag *diag)
{
	memset(ret, 0, sizeof(*ret));
	const char *colon = strchr(spec, ':');
	if (!colon || colon == spec || !colon[1])
		return st_diag_set(diag, ST_E_INVALID,
				   "'%s': expected KIND:LOCATION, e.g. git:/path/to/repo or "
				   "terraform:prod.tfstate", spec);
	char kind[32];
	size_t kl = (size_t)(colon - spec);
	if (kl >= sizeof(kind))
		return st_diag_set(diag, ST_E_INVALID, "'%s': unknown kind", spec);
	memcpy(kind, spec, kl);
	kind[kl] = 0;
	if (!st_connector_find(kind)) {
		char known[256] = "";
		for (size_t i = 0; st_connectors[i]; i++) {
			strncat(known, i ? ", " : "", sizeof(known) - strlen(known) - 1);
			strncat(known, st_connectors[i]->kind, sizeof(known) - strlen(known) - 1);
		}
		return st_diag_set(diag, ST_E_INVALID, "'%s': unknown kind '%s' (known: %s)", spec,
				   kind, known);
	}
	const char *loc = colon + 1;
	/* name: kind-<last path component without extension>, sanitised */
	const char *end = loc + strlen(loc);
	while (end > loc && end[-1] == '/')
		end--;
	const char *base = end;
	while (base > loc && base[-1] != '/' && base[-1] != ':')
		base--;
	const char *dot = NULL;
	for (const char *p = base; p < end; p++)
		if (*p == '.')
			dot = p;
	if (dot && dot > base)
		end = dot;
	char name[65];
	size_t n = (size_t)snprintf(name, sizeof(name), "%s-", kind);
	for (const char *p = base; p < end && n + 1 < sizeof(name); p++) {
		char c = (char)((*p >= 'A' && *p <= 'Z') ? *p + 32 : *p);
		name[n++] = ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' ||
			     c == '_' || c == '-')
				    ? c
				    : '-';
	}
	name[n] = 0;
	ret->name = st_xstrndup(name, n);
	ret->kind = st_xstrndup(kind, kl);
	if (strstr(loc, "://") || loc[0] == '/') {
		ret->location = st_xstrndup(loc, strlen(loc));
	} else {
		char cwd[PATH_MAX];
		if (!getcwd(cwd, sizeof(cwd)))
			return st_diag_set(diag, ST_E_IO, "getcwd: %s", strerror(errno));
		size_t len = strlen(cwd) + strlen(loc) + 2;
		ret->location = st_xmalloc(len);
		snprintf(ret->location, len, "%s/%s", cwd, loc);
	}
	return 0;
}

void st_source_cfg_clear(st_source_cfg *s)
{
	free(s->name);
	free(s->kind);
	free(s->location);
	memset(s, 0, sizeof(*s));
}
