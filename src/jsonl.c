/*
 * jsonl.c — JSON Lines import and canonical export (docs/interchange.md).
 *
 * Import: one yajl handle per stream (multiple values allowed) is fed one
 * line at a time; callbacks collect the record's top-level fields and raw
 * properties; at the record's closing brace the properties are converted to
 * the schema's types and handed to the store batch.  Export walks a snapshot
 * and writes canonical lines with yajl_gen.  Neither logs: errors go to diag.
 */
#include <errno.h>
#include <pthread.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <yajl/yajl_gen.h>
#include <yajl/yajl_parse.h>

#include "jsonl.h"
#include "props.h"

#define LINE_MAX_BYTES (16u << 20)
#define READ_CHUNK (4u << 20)

enum field {
	F_ID, F_TYPE, F_PROPS, F_SRC, F_DST, F_RESOURCE, F_DAY, F_AMOUNT, F_BILLED, F_CURRENCY, F_N
};
static const char *const field_names[F_N] = {
	"id", "type", "props", "src", "dst", "resource", "day", "amount", "billed", "currency",
};

static const size_t field_lens[F_N] = {2, 4, 5, 3, 3, 8, 3, 6, 6, 8};

/* Which top-level key this is, or -1.  Called for every key of every line,
 * so it dispatches on the first byte instead of calling memcmp ten times. */
static int field_of(const char *s, size_t n)
{
	static const signed char first[26] = {
		['a' - 'a'] = F_AMOUNT + 1, ['b' - 'a'] = F_BILLED + 1, ['c' - 'a'] = F_CURRENCY + 1,
		['d' - 'a'] = F_DAY + 1,    ['i' - 'a'] = F_ID + 1,     ['p' - 'a'] = F_PROPS + 1,
		['r' - 'a'] = F_RESOURCE + 1, ['s' - 'a'] = F_SRC + 1,  ['t' - 'a'] = F_TYPE + 1,
	};
	if (n < 2 || s[0] < 'a' || s[0] > 'z')
		return -1;
	int f = first[s[0] - 'a'] - 1;
	if (f == F_DAY && s[1] == 's')
		f = F_DST; /* "day" and "dst" share the first letter */
	if (f < 0 || field_lens[f] != n)
		return -1;
	for (size_t i = 1; i < n; i++)
		if (field_names[f][i] != s[i])
			return -1;
	return f;
}

enum rkind { RK_STRING, RK_NUMBER, RK_BOOL, RK_NULL, RK_LIST, RK_MAP };
static const char *const rkind_names[] = {"a string", "a number", "a boolean", "null", "an array", "an object"};

typedef struct rawprop {
	size_t koff, klen;
	enum rkind kind;
	size_t voff, vlen; /* string or number text */
	bool b;
	size_t item0, n_items; /* into items */
} rawprop;

typedef struct rawitem {
	size_t koff, klen, voff, vlen;
} rawitem;

typedef struct parser {
	st_batch *batch;
	const st_schema *schema;
	const char *name;
	uint64_t line;
	int depth;
	int cur_field; /* at depth 1: field whose value comes next; -1 none */
	unsigned seen;
	bool got_record;
	/* scratch for the record */
	char *buf;
	size_t len, cap;
	size_t fv_off[F_N], fv_len[F_N];
	rawprop *props;
	size_t n_props, cap_props;
	rawitem *items;
	size_t n_items, cap_items;
	st_pb pb;
	st_diag *diag;
	int err;
	st_import_result *acc;
	struct pipeline *pl; /* set in the reader thread: records are queued, not applied */
} parser;

static size_t keep(parser *p, const void *s, size_t n)
{
	if (p->len + n > p->cap) {
		p->cap = (p->len + n) * 2 + 256;
		p->buf = st_xrealloc(p->buf, p->cap);
	}
	size_t off = p->len;
	if (n) /* an empty string on a fresh parser: buf may still be NULL */
		memcpy(p->buf + off, s, n);
	p->len += n;
	return off;
}

static int fail(parser *p, int code, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int fail(parser *p, int code, const char *fmt, ...)
{
	char msg[ST_DIAG_MAX - 64];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	p->err = st_diag_set(p->diag, code, "%s:%llu: %s", p->name, (unsigned long long)p->line, msg);
	return 0; /* cancels yajl */
}

static rawprop *cur_prop(parser *p)
{
	return &p->props[p->n_props - 1];
}

/* A scalar value arrived (string/number/bool/null). */
static int on_scalar(parser *p, enum rkind kind, const char *s, size_t n, bool b)
{
	if (p->depth == 0)
		return fail(p, ST_E_INVALID, "a line must hold one JSON object, not %s", rkind_names[kind]);
	if (p->depth == 1) {
		int f = p->cur_field;
		p->cur_field = -1;
		if (f == F_PROPS)
			return fail(p, ST_E_INVALID, "\"props\" must be an object, not %s", rkind_names[kind]);
		bool numeric = f == F_AMOUNT || f == F_BILLED;
		if (numeric && kind != RK_NUMBER)
			return fail(p, ST_E_INVALID, "\"%s\" must be a number, not %s", field_names[f],
				    rkind_names[kind]);
		if (!numeric && kind != RK_STRING)
			return fail(p, ST_E_INVALID, "\"%s\" must be a string, not %s", field_names[f],
				    rkind_names[kind]);
		p->fv_off[f] = keep(p, s, n);
		p->fv_len[f] = n;
		return 1;
	}
	if (p->depth == 2) { /* property value */
		rawprop *rp = cur_prop(p);
		rp->kind = kind;
		rp->b = b;
		if (kind == RK_STRING || kind == RK_NUMBER) {
			rp->voff = keep(p, s, n);
			rp->vlen = n;
		}
		return 1;
	}
	/* depth 3: item of a list or value of a map */
	rawprop *rp = cur_prop(p);
	if (kind != RK_STRING)
		return fail(p, ST_E_INVALID, "property '%.*s': %s items must be strings, not %s",
			    (int)rp->klen, p->buf + rp->koff, rp->kind == RK_LIST ? "list" : "map",
			    rkind_names[kind]);
	if (rp->kind == RK_LIST) {
		if (p->n_items == p->cap_items) {
			p->cap_items = p->cap_items ? p->cap_items * 2 : 64;
			p->items = st_xrealloc(p->items, p->cap_items * sizeof(rawitem));
		}
		rawitem *it = &p->items[p->n_items++];
		it->koff = keep(p, s, n);
		it->klen = n;
		rp->n_items++;
	} else {
		rawitem *it = &p->items[p->n_items - 1];
		it->voff = keep(p, s, n);
		it->vlen = n;
	}
	return 1;
}

static int cb_null(void *ctx)
{
	return on_scalar(ctx, RK_NULL, NULL, 0, false);
}

static int cb_bool(void *ctx, int v)
{
	return on_scalar(ctx, RK_BOOL, NULL, 0, v != 0);
}

static int cb_number(void *ctx, const char *s, size_t n)
{
	return on_scalar(ctx, RK_NUMBER, s, n, false);
}

static int cb_string(void *ctx, const unsigned char *s, size_t n)
{
	return on_scalar(ctx, RK_STRING, (const char *)s, n, false);
}

static int cb_start_map(void *ctx)
{
	parser *p = ctx;
	if (p->depth == 0) {
		if (p->got_record)
			return fail(p, ST_E_INVALID, "more than one JSON value on the line");
		p->seen = 0;
		p->cur_field = -1;
		p->len = 0;
		p->n_props = 0;
		p->n_items = 0;
	} else if (p->depth == 1) {
		if (p->cur_field != F_PROPS)
			return fail(p, ST_E_INVALID, "\"%s\" must not be an object", field_names[p->cur_field]);
		p->cur_field = -1;
	} else if (p->depth == 2) {
		cur_prop(p)->kind = RK_MAP;
		cur_prop(p)->item0 = p->n_items;
	} else {
		rawprop *rp = cur_prop(p);
		return fail(p, ST_E_INVALID, "property '%.*s': values nested deeper than one level are not allowed",
			    (int)rp->klen, p->buf + rp->koff);
	}
	p->depth++;
	return 1;
}

static int cb_map_key(void *ctx, const unsigned char *s, size_t n)
{
	parser *p = ctx;
	if (p->depth == 1) {
		int f = field_of((const char *)s, n);
		if (f < 0)
			return fail(p, ST_E_INVALID, "unknown key \"%.*s\"", (int)(n > 64 ? 64 : n), s);
		if (p->seen & (1u << f))
			return fail(p, ST_E_INVALID, "duplicate key \"%s\"", field_names[f]);
		p->seen |= 1u << f;
		p->cur_field = f;
		return 1;
	}
	if (p->depth == 2) {
		if (p->n_props == p->cap_props) {
			p->cap_props = p->cap_props ? p->cap_props * 2 : 32;
			p->props = st_xrealloc(p->props, p->cap_props * sizeof(rawprop));
		}
		if (p->n_props >= ST_PROPS_MAX_ENTRIES)
			return fail(p, ST_E_LIMIT, "more than %d properties", ST_PROPS_MAX_ENTRIES);
		rawprop *rp = &p->props[p->n_props++];
		memset(rp, 0, sizeof(*rp));
		rp->koff = keep(p, s, n);
		rp->klen = n;
		return 1;
	}
	/* depth 3: map item key */
	if (p->n_items == p->cap_items) {
		p->cap_items = p->cap_items ? p->cap_items * 2 : 64;
		p->items = st_xrealloc(p->items, p->cap_items * sizeof(rawitem));
	}
	rawitem *it = &p->items[p->n_items++];
	it->koff = keep(p, s, n);
	it->klen = n;
	it->voff = it->vlen = 0;
	cur_prop(p)->n_items++;
	return 1;
}

static int record_done(parser *p);

static int cb_end_map(void *ctx)
{
	parser *p = ctx;
	p->depth--;
	if (p->depth == 0) {
		p->got_record = true;
		return record_done(p);
	}
	return 1;
}

static int cb_start_array(void *ctx)
{
	parser *p = ctx;
	if (p->depth == 0)
		return fail(p, ST_E_INVALID, "a line must hold one JSON object, not an array");
	if (p->depth == 1)
		return fail(p, ST_E_INVALID, "\"%s\" must not be an array", field_names[p->cur_field]);
	if (p->depth == 2) {
		cur_prop(p)->kind = RK_LIST;
		cur_prop(p)->item0 = p->n_items;
		p->depth++;
		return 1;
	}
	rawprop *rp = cur_prop(p);
	return fail(p, ST_E_INVALID, "property '%.*s': values nested deeper than one level are not allowed",
		    (int)rp->klen, p->buf + rp->koff);
}

static int cb_end_array(void *ctx)
{
	parser *p = ctx;
	p->depth--;
	return 1;
}

static const yajl_callbacks callbacks = {
	.yajl_null = cb_null,
	.yajl_boolean = cb_bool,
	.yajl_number = cb_number,
	.yajl_string = cb_string,
	.yajl_start_map = cb_start_map,
	.yajl_map_key = cb_map_key,
	.yajl_end_map = cb_end_map,
	.yajl_start_array = cb_start_array,
	.yajl_end_array = cb_end_array,
};

static bool parse_int(const char *s, size_t n, int64_t *ret)
{
	char tmp[32];
	if (n == 0 || n >= sizeof(tmp))
		return false;
	for (size_t i = 0; i < n; i++)
		if (!((s[i] >= '0' && s[i] <= '9') || (i == 0 && s[i] == '-')))
			return false;
	memcpy(tmp, s, n);
	tmp[n] = '\0';
	errno = 0;
	long long v = strtoll(tmp, NULL, 10);
	if (errno)
		return false;
	*ret = v;
	return true;
}

static bool parse_double(const char *s, size_t n, double *ret)
{
	char tmp[64];
	if (n == 0 || n >= sizeof(tmp))
		return false;
	memcpy(tmp, s, n);
	tmp[n] = '\0';
	char *end;
	double v = strtod(tmp, &end);
	if (*end || !isfinite(v))
		return false;
	*ret = v;
	return true;
}

/* Convert the raw props to a blob typed by `defs`. */
static int build_props(parser *p, const char *kind, const char *tname, const st_prop_def *defs,
		       size_t n_defs, const uint8_t **ret, size_t *ret_len)
{
	st_pb *pb = &p->pb;
	st_pb_reset(pb);
	for (size_t i = 0; i < p->n_props; i++) {
		const rawprop *rp = &p->props[i];
		const char *k = p->buf + rp->koff, *v = p->buf + rp->voff;
		const st_prop_def *d = st_schema_find_prop(defs, n_defs, k, rp->klen);
		if (!d)
			return fail(p, ST_E_INVALID, "%s type %s has no property '%.*s'", kind, tname,
				    (int)rp->klen, k);
		if (rp->kind == RK_NULL)
			return fail(p, ST_E_INVALID, "property '%s' is null (leave it out instead)", d->name);
		int r = 0;
		bool ok = true;
		switch (d->type) {
		case ST_P_STRING:
			ok = rp->kind == RK_STRING;
			if (ok)
				r = st_pb_string(pb, k, rp->klen, v, rp->vlen);
			break;
		case ST_P_INT: {
			int64_t x;
			ok = rp->kind == RK_NUMBER && parse_int(v, rp->vlen, &x);
			if (ok)
				r = st_pb_int(pb, k, rp->klen, x);
			break;
		}
		case ST_P_FLOAT: {
			double x;
			ok = rp->kind == RK_NUMBER && parse_double(v, rp->vlen, &x);
			if (ok)
				r = st_pb_float(pb, k, rp->klen, x);
			break;
		}
		case ST_P_BOOL:
			ok = rp->kind == RK_BOOL;
			if (ok)
				r = st_pb_bool(pb, k, rp->klen, rp->b);
			break;
		case ST_P_TIMESTAMP: {
			int64_t t;
			ok = rp->kind == RK_STRING && st_timestamp_parse(v, rp->vlen, &t) == 0;
			if (ok)
				r = st_pb_timestamp(pb, k, rp->klen, t);
			break;
		}
		case ST_P_LIST:
		case ST_P_MAP:
			ok = rp->kind == (d->type == ST_P_LIST ? RK_LIST : RK_MAP);
			if (!ok)
				break;
			r = d->type == ST_P_LIST ? st_pb_list_begin(pb, k, rp->klen)
						 : st_pb_map_begin(pb, k, rp->klen);
			for (size_t j = 0; !r && j < rp->n_items; j++) {
				const rawitem *it = &p->items[rp->item0 + j];
				if (d->type == ST_P_LIST)
					st_pb_list_add(pb, p->buf + it->koff, it->klen);
				else
					st_pb_map_add(pb, p->buf + it->koff, it->klen, p->buf + it->voff, it->vlen);
			}
			if (!r && (r = st_pb_end(pb, p->diag)))
				return fail(p, r, "property '%s': %s", d->name, p->diag->msg);
			break;
		}
		if (!ok) {
			const char *want = st_ptype_name(d->type);
			if (d->type == ST_P_TIMESTAMP)
				want = "an RFC 3339 timestamp string";
			else if (d->type == ST_P_INT)
				want = "an integer (64-bit, no fraction or exponent)";
			else if (d->type == ST_P_FLOAT)
				want = "a finite number";
			return fail(p, ST_E_INVALID, "property '%s' must be %s, got %s", d->name, want,
				    rkind_names[rp->kind]);
		}
		if (r)
			return fail(p, r, "property '%.*s': %s", (int)rp->klen, k, st_strerror(r));
	}
	int r = st_pb_finish(pb, ret, ret_len, p->diag);
	if (r)
		return fail(p, r, "%s", p->diag->msg);
	/* required properties are checked by the store (st_props_check) */
	return 1;
}

#define FV(f) (p->buf + p->fv_off[f]), p->fv_len[f]
#define HAS(f) (p->seen & (1u << (f)))

static int need(parser *p, enum field f)
{
	if (!HAS(f))
		return fail(p, ST_E_INVALID, "missing key \"%s\"", field_names[f]);
	return 1;
}

static int only(parser *p, unsigned allowed, const char *kind)
{
	unsigned extra = p->seen & ~allowed;
	if (!extra)
		return 1;
	for (int f = 0; f < F_N; f++)
		if (extra & (1u << f))
			return fail(p, ST_E_INVALID, "key \"%s\" does not belong in %s %s record", field_names[f],
				    kind[0] == 'e' ? "an" : "a", kind);
	return 1;
}

/* A record checked and typed by the reader thread, ready for the batch. */
enum rec_kind { RK_NODE = 1, RK_EDGE, RK_COST };
typedef struct typed {
	uint64_t line;
	int32_t kind, type;
	const char *a, *b; /* id | src, dst | resource */
	uint32_t alen, blen;
	const uint8_t *blob;
	uint32_t blob_len;
	int32_t day;
	uint16_t cur;
	int64_t eff, billed;
} typed;

/* Check a parsed record's keys and convert its values to the schema's
 * types (everything that needs no store access). */
static int prepare_record(parser *p, typed *t)
{
	int r;
	memset(t, 0, sizeof(*t));
	t->line = p->line;
	size_t blen = 0;
	if (HAS(F_ID)) {
		if (!only(p, 1u << F_ID | 1u << F_TYPE | 1u << F_PROPS, "node") || !need(p, F_TYPE))
			return 0;
		int ty = st_schema_find_node_type(p->schema, FV(F_TYPE));
		if (ty < 0)
			return fail(p, ST_E_INVALID, "unknown node type \"%.*s\"", (int)p->fv_len[F_TYPE],
				    p->buf + p->fv_off[F_TYPE]);
		const st_node_type *nt = st_schema_node_type(p->schema, (size_t)ty);
		if (!build_props(p, "node", nt->name, nt->props, nt->n_props, &t->blob, &blen))
			return 0;
		t->kind = RK_NODE;
		t->type = ty;
		t->a = p->buf + p->fv_off[F_ID];
		t->alen = (uint32_t)p->fv_len[F_ID];
	} else if (HAS(F_SRC) || HAS(F_DST)) {
		if (!only(p, 1u << F_SRC | 1u << F_DST | 1u << F_TYPE | 1u << F_PROPS, "edge") ||
		    !need(p, F_SRC) || !need(p, F_DST) || !need(p, F_TYPE))
			return 0;
		int ty = st_schema_find_edge_type(p->schema, FV(F_TYPE));
		if (ty < 0)
			return fail(p, ST_E_INVALID, "unknown edge type \"%.*s\"", (int)p->fv_len[F_TYPE],
				    p->buf + p->fv_off[F_TYPE]);
		const st_edge_type *et = st_schema_edge_type(p->schema, (size_t)ty);
		if (!build_props(p, "edge", et->name, et->props, et->n_props, &t->blob, &blen))
			return 0;
		t->kind = RK_EDGE;
		t->type = ty;
		t->a = p->buf + p->fv_off[F_SRC];
		t->alen = (uint32_t)p->fv_len[F_SRC];
		t->b = p->buf + p->fv_off[F_DST];
		t->blen = (uint32_t)p->fv_len[F_DST];
	} else if (HAS(F_RESOURCE)) {
		if (!only(p, 1u << F_RESOURCE | 1u << F_DAY | 1u << F_AMOUNT | 1u << F_BILLED | 1u << F_CURRENCY,
			  "cost") ||
		    !need(p, F_DAY) || !need(p, F_AMOUNT) || !need(p, F_CURRENCY))
			return 0;
		if (st_day_parse(FV(F_DAY), &t->day))
			return fail(p, ST_E_INVALID, "\"day\" must be a calendar day YYYY-MM-DD, got \"%.*s\"",
				    (int)(p->fv_len[F_DAY] > 40 ? 40 : p->fv_len[F_DAY]), p->buf + p->fv_off[F_DAY]);
		if ((r = st_money_parse(FV(F_AMOUNT), &t->eff)))
			return fail(p, ST_E_INVALID, "\"amount\" %.*s: %s", (int)p->fv_len[F_AMOUNT],
				    p->buf + p->fv_off[F_AMOUNT],
				    r == ST_E_LIMIT ? "more than 6 decimals or out of range"
						    : "must be a plain decimal (no exponent)");
		t->billed = t->eff;
		if (HAS(F_BILLED) && (r = st_money_parse(FV(F_BILLED), &t->billed)))
			return fail(p, ST_E_INVALID, "\"billed\" %.*s: %s", (int)p->fv_len[F_BILLED],
				    p->buf + p->fv_off[F_BILLED],
				    r == ST_E_LIMIT ? "more than 6 decimals or out of range"
						    : "must be a plain decimal (no exponent)");
		if (st_currency_parse(FV(F_CURRENCY), &t->cur))
			return fail(p, ST_E_INVALID, "\"currency\" must be a 3-letter upper-case ISO 4217 code");
		t->kind = RK_COST;
		t->a = p->buf + p->fv_off[F_RESOURCE];
		t->alen = (uint32_t)p->fv_len[F_RESOURCE];
	} else {
		return fail(p, ST_E_INVALID, "not a record: needs \"id\" (node), \"src\" (edge) or \"resource\" (cost fact)");
	}
	t->blob_len = (uint32_t)blen;
	return 1;
}

/* Hand a typed record to the batch (the applying thread). */
static int apply_typed(parser *c, const typed *t)
{
	st_loc loc = {c->name, (uint32_t)(t->line > UINT32_MAX ? UINT32_MAX : t->line)};
	int r = 0;
	c->line = t->line;
	switch (t->kind) {
	case RK_NODE:
		r = st_batch_node(c->batch, t->a, t->alen, t->type, t->blob, t->blob_len, loc, c->diag);
		c->acc->nodes++;
		break;
	case RK_EDGE:
		r = st_batch_edge(c->batch, t->a, t->alen, t->b, t->blen, t->type, t->blob, t->blob_len, loc,
				  c->diag);
		c->acc->edges++;
		break;
	case RK_COST:
		r = st_batch_cost(c->batch, t->a, t->alen, t->day, t->cur, t->eff, t->billed, loc, c->diag);
		c->acc->costs++;
		break;
	}
	if (r)
		return fail(c, r, "%s", c->diag->msg);
	return 1;
}

/* ------------------------------------------------------------- pipeline */

/* The reader thread reads the files, splits lines and runs yajl; each parsed
 * record (its field values, raw properties and line number) is serialised
 * into a block.  The calling thread takes blocks in order and applies the
 * records to the batch (schema typing, validation, id resolution), so the
 * two halves of the work run on two cores.  Errors keep their order: the
 * reader's first error travels in the block after the last good record. */

#define QBLOCK_BYTES (1u << 20)
#define QDEPTH 16

typedef struct qblock {
	char *data;
	size_t len, cap;
	const char *name; /* file of the records */
	int err;          /* reader error after the records, with diag */
	st_diag diag;
	bool last;
	struct qblock *next;
} qblock;

typedef struct pipeline {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	qblock *head, *tail, *free_list;
	size_t n_full;
	bool stop; /* the applier gave up: the reader ends early */
	const char *const *paths;
	size_t n_paths;
	const st_schema *schema;
	st_import_result acc; /* reader's counts: lines, bytes */
	qblock *cur;
} pipeline;

static size_t align8(size_t n)
{
	return (n + 7) & ~(size_t)7;
}

static qblock *block_get(pipeline *pl, const char *name)
{
	pthread_mutex_lock(&pl->mu);
	qblock *b = pl->free_list;
	if (b)
		pl->free_list = b->next;
	pthread_mutex_unlock(&pl->mu);
	if (!b) {
		b = st_xcalloc(1, sizeof(*b));
		b->cap = QBLOCK_BYTES + 4096;
		b->data = st_xmalloc(b->cap);
	}
	b->len = 0;
	b->name = name;
	b->err = 0;
	b->last = false;
	b->next = NULL;
	return b;
}

/* Hand a block to the applier; waits while QDEPTH blocks are queued.
 * Returns false if the applier stopped. */
static bool block_put(pipeline *pl, qblock *b)
{
	pthread_mutex_lock(&pl->mu);
	while (pl->n_full >= QDEPTH && !pl->stop)
		pthread_cond_wait(&pl->cv, &pl->mu);
	bool ok = !pl->stop;
	if (pl->tail)
		pl->tail->next = b;
	else
		pl->head = b;
	pl->tail = b;
	pl->n_full++;
	pthread_cond_broadcast(&pl->cv);
	pthread_mutex_unlock(&pl->mu);
	return ok;
}

static qblock *block_take(pipeline *pl)
{
	pthread_mutex_lock(&pl->mu);
	while (!pl->head)
		pthread_cond_wait(&pl->cv, &pl->mu);
	qblock *b = pl->head;
	pl->head = b->next;
	if (!pl->head)
		pl->tail = NULL;
	pl->n_full--;
	pthread_cond_broadcast(&pl->cv);
	pthread_mutex_unlock(&pl->mu);
	return b;
}

static void block_recycle(pipeline *pl, qblock *b)
{
	pthread_mutex_lock(&pl->mu);
	b->next = pl->free_list;
	pl->free_list = b;
	pthread_mutex_unlock(&pl->mu);
}

static int emit_record(parser *p)
{
	typed t;
	if (!prepare_record(p, &t))
		return 0;
	pipeline *pl = p->pl;
	qblock *b = pl->cur;
	size_t need = sizeof(typed) + align8(t.alen) + align8(t.blen) + align8(t.blob_len);
	if (b->len + need > b->cap) {
		b->cap = b->len + need + 4096;
		b->data = st_xrealloc(b->data, b->cap);
	}
	char *d = b->data + b->len;
	memcpy(d, &t, sizeof(t)); /* the pointers are rebuilt by the applier */
	d += sizeof(t);
	memcpy(d, t.a, t.alen);
	d += align8(t.alen);
	if (t.blen)
		memcpy(d, t.b, t.blen);
	d += align8(t.blen);
	if (t.blob_len)
		memcpy(d, t.blob, t.blob_len);
	b->len += need;
	if (b->len >= QBLOCK_BYTES) {
		if (!block_put(pl, b))
			return fail(p, ST_E_INVALID, "import stopped");
		pl->cur = block_get(pl, b->name);
	}
	return 1;
}

static int record_done(parser *p)
{
	return emit_record(p);
}

static int parse_line(parser *p, yajl_handle h, const char *s, size_t n)
{
	if (n && s[n - 1] == '\r')
		n--;
	size_t i = 0;
	while (i < n && (s[i] == ' ' || s[i] == '\t'))
		i++;
	if (i == n)
		return 0; /* blank */
	if (n > LINE_MAX_BYTES)
		return st_diag_set(p->diag, ST_E_LIMIT, "%s:%llu: line longer than %u bytes", p->name,
				   (unsigned long long)p->line, LINE_MAX_BYTES);
	p->got_record = false;
	yajl_status stt = yajl_parse(h, (const unsigned char *)s, n);
	if (stt == yajl_status_client_canceled)
		return p->err ? p->err : ST_E_INVALID;
	if (stt != yajl_status_ok) {
		unsigned char *m = yajl_get_error(h, 0, (const unsigned char *)s, n);
		size_t col = yajl_get_bytes_consumed(h) + 1;
		int r = st_diag_set(p->diag, ST_E_INVALID, "%s:%llu:%zu: malformed JSON: %s", p->name,
				    (unsigned long long)p->line, col, m ? (const char *)m : "?");
		if (m)
			yajl_free_error(h, m);
		return r;
	}
	if (!p->got_record || p->depth != 0)
		return st_diag_set(p->diag, ST_E_INVALID,
				   "%s:%llu: not one complete JSON object (each record must be on one line)",
				   p->name, (unsigned long long)p->line);
	p->acc->lines++;
	return 0;
}

/* Read and parse one stream into the pipeline. */
static int read_stream(parser *p, FILE *f)
{
	yajl_handle h = yajl_alloc(&callbacks, NULL, p);
	yajl_config(h, yajl_allow_multiple_values, 1);
	size_t cap = READ_CHUNK, have = 0;
	char *buf = st_xmalloc(cap);
	int r = 0;
	bool eof = false;
	p->line = 0;
	p->depth = 0;
	while (!eof && !r) {
		if (have == cap) {
			if (cap >= LINE_MAX_BYTES + READ_CHUNK) {
				r = st_diag_set(p->diag, ST_E_LIMIT, "%s:%llu: line longer than %u bytes", p->name,
						(unsigned long long)p->line + 1, LINE_MAX_BYTES);
				break;
			}
			cap *= 2;
			buf = st_xrealloc(buf, cap);
		}
		size_t got = fread(buf + have, 1, cap - have, f);
		if (got == 0) {
			if (ferror(f)) {
				r = st_diag_set(p->diag, ST_E_IO, "%s: read error: %s", p->name, strerror(errno));
				break;
			}
			eof = true;
		}
		p->acc->bytes += got;
		have += got;
		size_t start = 0;
		for (;;) {
			char *nl = memchr(buf + start, '\n', have - start);
			if (!nl) {
				if (eof && start < have) { /* last line without newline */
					p->line++;
					r = parse_line(p, h, buf + start, have - start);
					start = have;
				}
				break;
			}
			p->line++;
			r = parse_line(p, h, buf + start, (size_t)(nl - (buf + start)));
			start = (size_t)(nl - buf) + 1;
			if (r)
				break;
		}
		memmove(buf, buf + start, have - start);
		have -= start;
	}
	free(buf);
	yajl_free(h);
	return r;
}

static void *reader_main(void *arg)
{
	pipeline *pl = arg;
	st_diag diag = {{0}};
	parser p = {0};
	p.diag = &diag;
	p.acc = &pl->acc;
	p.cur_field = -1;
	p.pl = pl;
	p.schema = pl->schema;
	st_pb_init(&p.pb);
	int r = 0;
	for (size_t i = 0; i < pl->n_paths && !r; i++) {
		bool is_stdin = strcmp(pl->paths[i], "-") == 0;
		p.name = is_stdin ? "<stdin>" : pl->paths[i];
		if (pl->cur->len && !block_put(pl, pl->cur)) {
			pl->cur = NULL;
			r = ST_E_INVALID;
			break;
		}
		if (pl->cur->len)
			pl->cur = block_get(pl, p.name);
		pl->cur->name = p.name;
		FILE *f = is_stdin ? stdin : fopen(pl->paths[i], "rb");
		if (!f) {
			r = st_diag_set(&diag, ST_E_IO, "%s: %s", pl->paths[i], strerror(errno));
			break;
		}
		r = read_stream(&p, f);
		if (!is_stdin)
			fclose(f);
	}
	if (pl->cur) {
		pl->cur->err = r;
		if (r)
			pl->cur->diag = diag;
		pl->cur->last = true;
		block_put(pl, pl->cur);
		pl->cur = NULL;
	}
	free(p.buf);
	free(p.props);
	free(p.items);
	st_pb_free(&p.pb);
	return NULL;
}

/* Apply every record of a block; 0 or the first error. */
static int apply_block(parser *c, const qblock *b)
{
	const char *d = b->data, *end = b->data + b->len;
	c->name = b->name;
	while (d < end) {
		typed t;
		memcpy(&t, d, sizeof(t));
		d += sizeof(t);
		t.a = d;
		d += align8(t.alen);
		t.b = d;
		d += align8(t.blen);
		t.blob = (const uint8_t *)d;
		d += align8(t.blob_len);
		if (!apply_typed(c, &t))
			return c->err ? c->err : ST_E_INVALID;
	}
	return 0;
}

static double now_seconds(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int st_import_files(st_store *st, const char *source, const char *const *paths, size_t n_paths,
		    st_import_result *ret, st_diag *diag)
{
	st_import_result acc = {0};
	st_batch *b;
	double t0 = now_seconds();
	int r = st_batch_begin(st, source, &b, diag);
	if (r)
		return r;
	pipeline pl = {0};
	pthread_mutex_init(&pl.mu, NULL);
	pthread_cond_init(&pl.cv, NULL);
	pl.paths = paths;
	pl.n_paths = n_paths;
	pl.schema = st__batch_schema(b);
	pl.cur = block_get(&pl, n_paths ? paths[0] : "");
	pthread_t reader;
	if ((r = pthread_create(&reader, NULL, reader_main, &pl))) {
		st_batch_abort(b);
		block_recycle(&pl, pl.cur);
		r = st_diag_set(diag, -r, "import: cannot start the reader thread");
		goto out;
	}
	pthread_setname_np(reader, "st-import-read");
	parser c = {0};
	c.batch = b;
	c.schema = st__batch_schema(b);
	c.diag = diag;
	c.acc = &acc;
	for (bool last = false; !last;) {
		qblock *blk = block_take(&pl);
		last = blk->last;
		if (!r) {
			r = apply_block(&c, blk);
			if (!r && blk->err) {
				r = blk->err;
				*diag = blk->diag;
			}
			if (r) {
				pthread_mutex_lock(&pl.mu);
				pl.stop = true;
				pthread_cond_broadcast(&pl.cv);
				pthread_mutex_unlock(&pl.mu);
			}
		}
		block_recycle(&pl, blk);
	}
	pthread_join(reader, NULL);
	acc.lines = pl.acc.lines;
	acc.bytes = pl.acc.bytes;
	if (r) {
		st_batch_abort(b);
		goto out;
	}
	double t1 = now_seconds();
	r = st_batch_commit(b, &acc.revision, diag);
	acc.parse_seconds = t1 - t0;
	acc.commit_seconds = now_seconds() - t1;
	if (!r && ret)
		*ret = acc;
out:
	while (pl.free_list) {
		qblock *n = pl.free_list->next;
		free(pl.free_list->data);
		free(pl.free_list);
		pl.free_list = n;
	}
	pthread_mutex_destroy(&pl.mu);
	pthread_cond_destroy(&pl.cv);
	return r;
}

/* ------------------------------------------------------------------ export */

typedef struct exporter {
	st_snap *snap;
	const st_schema *schema;
	yajl_gen g;
	FILE *fn, *fe, *fc;
	st_diag *diag;
	int err;
	/* edge staging: per node, sorted by (type name, dst id) */
	struct xedge { const char *tname; const char *dkey; size_t dlen; st_id dst; int type; } *xe;
	size_t n_xe, cap_xe;
} exporter;

static void gstr(yajl_gen g, const char *s, size_t n)
{
	yajl_gen_string(g, (const unsigned char *)s, n);
}

static void gkey(yajl_gen g, const char *k)
{
	gstr(g, k, strlen(k));
}

static int flush_line(exporter *x, FILE *f)
{
	const unsigned char *buf;
	size_t len;
	yajl_gen_get_buf(x->g, &buf, &len);
	if (fwrite(buf, 1, len, f) != len || putc('\n', f) == EOF)
		return x->err = st_diag_set(x->diag, ST_E_IO, "export: write failed: %s", strerror(errno));
	yajl_gen_clear(x->g);
	yajl_gen_reset(x->g, NULL);
	return 0;
}

static int gen_props(exporter *x, const uint8_t *blob, size_t len)
{
	yajl_gen g = x->g;
	yajl_gen_map_open(g);
	st_props_iter it;
	st_props_iter_init(&it, blob, len);
	st_prop p;
	int r;
	while ((r = st_props_next(&it, &p)) == 1) {
		gstr(g, p.key, p.klen);
		char num[40];
		size_t nl;
		switch (p.type) {
		case ST_P_STRING:
			gstr(g, p.v.s.p, p.v.s.len);
			break;
		case ST_P_INT:
			nl = (size_t)snprintf(num, sizeof(num), "%lld", (long long)p.v.i);
			yajl_gen_number(g, num, nl);
			break;
		case ST_P_FLOAT:
			nl = st_double_format(p.v.f, num);
			yajl_gen_number(g, num, nl);
			break;
		case ST_P_BOOL:
			yajl_gen_bool(g, p.v.b);
			break;
		case ST_P_TIMESTAMP:
			nl = st_timestamp_format(p.v.i, num);
			gstr(g, num, nl);
			break;
		case ST_P_LIST:
		case ST_P_MAP: {
			bool map = p.type == ST_P_MAP;
			map ? yajl_gen_map_open(g) : yajl_gen_array_open(g);
			st_coll_iter ci;
			st_coll_iter_init(&ci, &p);
			const char *k, *v;
			size_t kl, vl;
			int cr;
			while ((cr = st_coll_next(&ci, &k, &kl, &v, &vl)) == 1) {
				gstr(g, k, kl);
				if (map)
					gstr(g, v, vl);
			}
			if (cr < 0)
				return ST_E_STORE;
			map ? yajl_gen_map_close(g) : yajl_gen_array_close(g);
			break;
		}
		}
	}
	yajl_gen_map_close(g);
	return r < 0 ? ST_E_STORE : 0;
}

static int xedge_cmp(const void *a, const void *b)
{
	const struct xedge *x = a, *y = b;
	int c = strcmp(x->tname, y->tname);
	if (c)
		return c;
	size_t m = x->dlen < y->dlen ? x->dlen : y->dlen;
	c = memcmp(x->dkey, y->dkey, m);
	if (c)
		return c;
	return x->dlen < y->dlen ? -1 : x->dlen > y->dlen;
}

static int export_costs_cb(st_id res, const st_cost *facts, size_t n, void *ctx)
{
	exporter *x = ctx;
	st_node node;
	if (st_snap_node(x->snap, res, &node))
		return ST_E_STORE;
	for (size_t i = 0; i < n; i++) {
		yajl_gen g = x->g;
		char day[11], money[ST_MONEY_BUF], cur[4];
		yajl_gen_map_open(g);
		gkey(g, "resource");
		gstr(g, node.key, node.key_len);
		gkey(g, "day");
		st_day_format(facts[i].day, day);
		gstr(g, day, 10);
		gkey(g, "amount");
		yajl_gen_number(g, money, st_money_format(facts[i].effective, money));
		gkey(g, "currency");
		st_currency_format(facts[i].currency, cur);
		gstr(g, cur, 3);
		if (facts[i].billed != facts[i].effective) {
			gkey(g, "billed");
			yajl_gen_number(g, money, st_money_format(facts[i].billed, money));
		}
		yajl_gen_map_close(g);
		if (flush_line(x, x->fc))
			return x->err;
	}
	return 0;
}

static int export_node_cb(const st_node *n, void *ctx)
{
	exporter *x = ctx;
	yajl_gen g = x->g;
	if (n->type < 0)
		return x->err = st_diag_set(x->diag, ST_E_STORE, "export: node '%.*s' has a type the schema lacks",
					    (int)n->key_len, n->key);
	yajl_gen_map_open(g);
	gkey(g, "id");
	gstr(g, n->key, n->key_len);
	gkey(g, "type");
	gkey(g, st_schema_node_type(x->schema, (size_t)n->type)->name);
	gkey(g, "props");
	if (gen_props(x, n->props, n->props_len))
		return x->err = st_diag_set(x->diag, ST_E_STORE, "export: corrupt properties of '%.*s'",
					    (int)n->key_len, n->key);
	yajl_gen_map_close(g);
	return flush_line(x, x->fn);
}

/* pass 2: edges of a node, sorted by (type name, target id) */
static int export_edges_cb(const st_node *n, void *ctx)
{
	exporter *x = ctx;
	char skey[ST_NODE_ID_MAX];
	size_t slen = n->key_len;
	memcpy(skey, n->key, slen);
	st_id src = n->id;
	st_adj_iter it;
	if (st_snap_adj_open(x->snap, ST_OUT, src, &it))
		return ST_E_STORE;
	x->n_xe = 0;
	const void *vals;
	size_t cnt;
	int r;
	while ((r = st_adj_next(&it, &vals, &cnt)) == 1) {
		for (size_t i = 0; i < cnt; i++) {
			uint64_t v = st_adj_at(vals, i);
			if (x->n_xe == x->cap_xe) {
				x->cap_xe = x->cap_xe ? x->cap_xe * 2 : 64;
				x->xe = st_xrealloc(x->xe, x->cap_xe * sizeof(*x->xe));
			}
			int t = st_snap_adj_type(x->snap, v);
			st_node d;
			if (t < 0 || st_snap_node(x->snap, st_adj_node(v), &d)) {
				st_adj_close(&it);
				return x->err = st_diag_set(x->diag, ST_E_STORE, "export: dangling or untyped edge");
			}
			x->xe[x->n_xe++] = (struct xedge){st_schema_edge_type(x->schema, (size_t)t)->name,
							  d.key, d.key_len, d.id, t};
		}
	}
	st_adj_close(&it);
	if (r < 0)
		return ST_E_STORE;
	if (x->n_xe > 1)
		qsort(x->xe, x->n_xe, sizeof(*x->xe), xedge_cmp);
	for (size_t i = 0; i < x->n_xe; i++) {
		const struct xedge *e = &x->xe[i];
		st_edge ed;
		if (st_snap_edge(x->snap, src, e->type, e->dst, &ed))
			return x->err = st_diag_set(x->diag, ST_E_STORE, "export: edge record missing");
		yajl_gen g = x->g;
		yajl_gen_map_open(g);
		gkey(g, "src");
		gstr(g, skey, slen);
		gkey(g, "dst");
		gstr(g, e->dkey, e->dlen);
		gkey(g, "type");
		gkey(g, e->tname);
		gkey(g, "props");
		if (gen_props(x, ed.props, ed.props_len))
			return x->err = st_diag_set(x->diag, ST_E_STORE, "export: corrupt edge properties");
		yajl_gen_map_close(g);
		if (flush_line(x, x->fe))
			return x->err;
	}
	return 0;
}

static int export_node_costs_cb(const st_node *n, void *ctx)
{
	return st_snap_costs_of(((exporter *)ctx)->snap, n->id, export_costs_cb, ctx);
}

int st_export(st_snap *s, FILE *nodes, FILE *edges, FILE *costs, st_diag *diag)
{
	exporter x = {.snap = s, .schema = st__snap_schema(s), .fn = nodes, .fe = edges, .fc = costs, .diag = diag};
	x.g = yajl_gen_alloc(NULL);
	yajl_gen_config(x.g, yajl_gen_validate_utf8, 0);
	int r = st_snap_scan_nodes(s, export_node_cb, &x);
	if (!r)
		r = st_snap_scan_nodes(s, export_edges_cb, &x);
	if (!r)
		r = st_snap_scan_nodes(s, export_node_costs_cb, &x);
	if (r && !x.err)
		r = st_diag_set(diag, r, "export: %s", st_strerror(r));
	yajl_gen_free(x.g);
	free(x.xe);
	if (!r && (fflush(nodes) || fflush(edges) || fflush(costs)))
		r = st_diag_set(diag, ST_E_IO, "export: write failed: %s", strerror(errno));
	return r;
}
