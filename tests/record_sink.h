/*
 * record_sink.h — a sink (connector.h) that records every fact in memory, for
 * testing a connector alone against real inputs.  Header-only: include it in
 * one test file.
 *
 * Facts are kept in emission order with copies of their ids and property
 * blobs; rs_find_node / rs_find_edge / rs_prop_str look them up.  Node and edge
 * properties are also checked against the schema here (st_props_check), so a
 * connector emitting a blob the store would refuse fails its test.
 * Include after <cmocka.h> (rs_assert_prop fails the test).
 */
#ifndef ST_RECORD_SINK_H
#define ST_RECORD_SINK_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "connector.h"
#include "props.h"

typedef struct rs_fact {
	char kind;	/* 'n' node, 'e' edge, 'c' cost, 'h' hint, 'w' warning, 'o' note */
	char *id, *dst; /* node id / edge source, edge target, hint value, warning message */
	int type;	/* schema type index, hint kind */
	uint8_t *props;
	size_t props_len;
	char *origin, *rule, *evidence;
	uint32_t line;
	int32_t day;
	uint16_t currency;
	int64_t effective, billed;
} rs_fact;

typedef struct rs_sink {
	st_sink sink;
	rs_fact *facts;
	size_t n, cap;
	char *state;
	size_t n_nodes, n_edges, n_costs, n_hints, n_warnings;
} rs_sink;

static char *rs_dup(const char *s, size_t n)
{
	char *d = malloc(n + 1);
	if (!d)
		abort();
	if (n)
		memcpy(d, s, n);
	d[n] = 0;
	return d;
}

static rs_fact *rs_push(rs_sink *r, char kind, st_loc loc)
{
	if (r->n == r->cap) {
		r->cap = r->cap ? 2 * r->cap : 64;
		r->facts = realloc(r->facts, r->cap * sizeof(*r->facts));
		if (!r->facts)
			abort();
	}
	rs_fact *f = &r->facts[r->n++];
	memset(f, 0, sizeof(*f));
	f->kind = kind;
	f->origin = rs_dup(loc.origin ? loc.origin : "", loc.origin ? strlen(loc.origin) : 0);
	f->line = loc.line;
	return f;
}

static int rs_node(st_sink *s, const char *id, size_t idlen, int type, const uint8_t *props,
		   size_t props_len, st_loc loc, st_diag *diag)
{
	rs_sink *r = s->ctx;
	const st_node_type *nt = st_schema_node_type(s->schema, (size_t)type);
	if (!nt)
		return st_diag_set(diag, ST_E_INVALID, "bad node type %d", type);
	int rc = st_props_check(props, props_len, nt->props, nt->n_props, diag);
	if (rc < 0)
		return rc;
	rs_fact *f = rs_push(r, 'n', loc);
	f->id = rs_dup(id, idlen);
	f->type = type;
	f->props = (uint8_t *)rs_dup((const char *)props, props_len);
	f->props_len = props_len;
	r->n_nodes++;
	return 0;
}

static int rs_edge(st_sink *s, const char *src, size_t srclen, const char *dst, size_t dstlen,
		   int type, const uint8_t *props, size_t props_len, st_loc loc, st_diag *diag)
{
	rs_sink *r = s->ctx;
	const st_edge_type *et = st_schema_edge_type(s->schema, (size_t)type);
	if (!et)
		return st_diag_set(diag, ST_E_INVALID, "bad edge type %d", type);
	int rc = st_props_check(props, props_len, et->props, et->n_props, diag);
	if (rc < 0)
		return rc;
	rs_fact *f = rs_push(r, 'e', loc);
	f->id = rs_dup(src, srclen);
	f->dst = rs_dup(dst, dstlen);
	f->type = type;
	f->props = (uint8_t *)rs_dup((const char *)props, props_len);
	f->props_len = props_len;
	r->n_edges++;
	return 0;
}

static int rs_cost(st_sink *s, const char *resource, size_t rlen, int32_t day, uint16_t currency,
		   int64_t effective, int64_t billed, st_loc loc, st_diag *diag)
{
	(void)diag;
	rs_sink *r = s->ctx;
	rs_fact *f = rs_push(r, 'c', loc);
	f->id = rs_dup(resource, rlen);
	f->day = day;
	f->currency = currency;
	f->effective = effective;
	f->billed = billed;
	r->n_costs++;
	return 0;
}

static int rs_hint(st_sink *s, const char *id, size_t idlen, st_hint_kind kind, const char *value,
		   size_t vlen, const char *rule, const char *evidence, st_loc loc, st_diag *diag)
{
	(void)diag;
	rs_sink *r = s->ctx;
	rs_fact *f = rs_push(r, 'h', loc);
	f->id = rs_dup(id, idlen);
	f->dst = rs_dup(value, vlen);
	f->type = (int)kind;
	f->rule = rs_dup(rule, strlen(rule));
	f->evidence = rs_dup(evidence, strlen(evidence));
	r->n_hints++;
	return 0;
}

static void rs_warn(st_sink *s, st_loc loc, const char *msg)
{
	rs_sink *r = s->ctx;
	rs_fact *f = rs_push(r, 'w', loc);
	f->dst = rs_dup(msg, strlen(msg));
	r->n_warnings++;
}

static void rs_set_state(st_sink *s, const char *state)
{
	rs_sink *r = s->ctx;
	free(r->state);
	r->state = state ? rs_dup(state, strlen(state)) : NULL;
}

static void rs_init(rs_sink *r, const st_schema *schema)
{
	memset(r, 0, sizeof(*r));
	r->sink.schema = schema;
	r->sink.ctx = r;
	r->sink.node = rs_node;
	r->sink.edge = rs_edge;
	r->sink.cost = rs_cost;
	r->sink.hint = rs_hint;
	r->sink.warn = rs_warn;
	r->sink.set_state = rs_set_state;
}

static void rs_free(rs_sink *r)
{
	for (size_t i = 0; i < r->n; i++) {
		rs_fact *f = &r->facts[i];
		free(f->id);
		free(f->dst);
		free(f->props);
		free(f->origin);
		free(f->rule);
		free(f->evidence);
	}
	free(r->facts);
	free(r->state);
	memset(r, 0, sizeof(*r));
}

/* The last node fact with this id, or NULL. */
static ST_UNUSED const rs_fact *rs_find_node(const rs_sink *r, const char *id)
{
	for (size_t i = r->n; i-- > 0;)
		if (r->facts[i].kind == 'n' && !strcmp(r->facts[i].id, id))
			return &r->facts[i];
	return NULL;
}

/* The edge fact (src, type name, dst), or NULL. */
static ST_UNUSED const rs_fact *rs_find_edge(const rs_sink *r, const char *src, const char *type,
					     const char *dst)
{
	int t = st_schema_find_edge_type(r->sink.schema, type, strlen(type));
	for (size_t i = r->n; i-- > 0;) {
		const rs_fact *f = &r->facts[i];
		if (f->kind == 'e' && f->type == t && !strcmp(f->id, src) && !strcmp(f->dst, dst))
			return f;
	}
	return NULL;
}

/* The hint (id, kind, value), or NULL. */
static ST_UNUSED const rs_fact *rs_find_hint(const rs_sink *r, const char *id, st_hint_kind kind,
					     const char *value)
{
	for (size_t i = 0; i < r->n; i++) {
		const rs_fact *f = &r->facts[i];
		if (f->kind == 'h' && f->type == (int)kind && !strcmp(f->id, id) &&
		    !strcmp(f->dst, value))
			return f;
	}
	return NULL;
}

/* A string property of a fact as a new NUL-terminated string ("" if absent;
 * ints, bools and timestamps are printed as numbers, lists joined by ','). */
static ST_UNUSED char *rs_prop_str(const rs_fact *f, const char *key)
{
	st_prop p;
	if (!f || st_props_get(f->props, f->props_len, key, strlen(key), &p) != 1)
		return rs_dup("", 0);
	char buf[64];
	switch (p.type) {
	case ST_P_STRING:
		return rs_dup(p.v.s.p, p.v.s.len);
	case ST_P_INT:
	case ST_P_TIMESTAMP:
		snprintf(buf, sizeof(buf), "%lld", (long long)p.v.i);
		return rs_dup(buf, strlen(buf));
	case ST_P_BOOL:
		return rs_dup(p.v.b ? "true" : "false", p.v.b ? 4 : 5);
	case ST_P_FLOAT:
		snprintf(buf, sizeof(buf), "%.17g", p.v.f);
		return rs_dup(buf, strlen(buf));
	case ST_P_LIST:
	case ST_P_MAP: {
		size_t cap = 1, len = 0;
		char *out = rs_dup("", 0);
		st_coll_iter it;
		st_coll_iter_init(&it, &p);
		const char *k, *v;
		size_t kl, vl;
		while (st_coll_next(&it, &k, &kl, &v, &vl) == 1) {
			size_t need = len + kl + (v ? vl + 1 : 0) + 2;
			if (need > cap) {
				cap = 2 * need;
				out = realloc(out, cap);
				if (!out)
					abort();
			}
			if (len)
				out[len++] = ',';
			memcpy(out + len, k, kl);
			len += kl;
			if (v) {
				out[len++] = '=';
				memcpy(out + len, v, vl);
				len += vl;
			}
			out[len] = 0;
		}
		return out;
	}
	}
	return rs_dup("", 0);
}

/* A note recorder (kind 'o', the message in dst) for tests that tell notes
 * from warnings: set sink.note = rs_note after rs_init. */
static ST_UNUSED void rs_note(st_sink *s, st_loc loc, const char *msg)
{
	rs_fact *f = rs_push(s->ctx, 'o', loc);
	f->dst = rs_dup(msg, strlen(msg));
}

/* How many facts of a kind ('n', 'e', 'c', 'h', 'w') were recorded. */
static ST_UNUSED size_t rs_count_kind(const rs_sink *r, char kind)
{
	size_t n = 0;
	for (size_t i = 0; i < r->n; i++)
		n += r->facts[i].kind == kind;
	return n;
}

/* Fails the test unless fact f exists and its property key reads `want`. */
static ST_UNUSED void rs_assert_prop(const rs_fact *f, const char *key, const char *want)
{
	assert_non_null(f);
	char *v = rs_prop_str(f, key);
	if (strcmp(v, want))
		fail_msg("%s: property %s is '%s', want '%s'", f->id, key, v, want);
	free(v);
}

#endif
