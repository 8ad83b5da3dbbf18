/*
 * props.c — property blob builder, reader and schema check (see props.h for
 * the encoding).  Pure data code: no I/O, no LMDB, no logging.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "props.h"

size_t st_varint_put(uint8_t *p, uint64_t v)
{
	size_t n = 0;
	while (v >= 0x80) {
		p[n++] = (uint8_t)(v | 0x80);
		v >>= 7;
	}
	p[n++] = (uint8_t)v;
	return n;
}

size_t st_varint_get(const uint8_t *p, const uint8_t *end, uint64_t *ret)
{
	uint64_t v = 0;
	for (size_t n = 0; n < 10 && p + n < end; n++) {
		v |= (uint64_t)(p[n] & 0x7f) << (7 * n);
		if (!(p[n] & 0x80)) {
			*ret = v;
			return n + 1;
		}
	}
	return 0;
}

/* ---- growable byte buffers ---- */
static uint8_t *reserve(uint8_t **buf, size_t *len, size_t *cap, size_t extra)
{
	if (*len + extra > *cap) {
		size_t nc = *cap ? *cap * 2 : 256;
		while (nc < *len + extra)
			nc *= 2;
		*buf = st_xrealloc(*buf, nc);
		*cap = nc;
	}
	uint8_t *p = *buf + *len;
	*len += extra;
	return p;
}

static void put_bytes(st_pb *pb, const void *p, size_t n)
{
	if (n) /* p may be NULL for an empty value */
		memcpy(reserve(&pb->buf, &pb->len, &pb->cap, n), p, n);
}

static void put_varint(st_pb *pb, uint64_t v)
{
	uint8_t tmp[10];
	put_bytes(pb, tmp, st_varint_put(tmp, v));
}

static void put_u64le(st_pb *pb, uint64_t v)
{
	uint8_t tmp[8];
	for (int i = 0; i < 8; i++)
		tmp[i] = (uint8_t)(v >> (8 * i));
	put_bytes(pb, tmp, 8);
}

static uint64_t get_u64le(const uint8_t *p)
{
	uint64_t v = 0;
	for (int i = 0; i < 8; i++)
		v |= (uint64_t)p[i] << (8 * i);
	return v;
}

void st_pb_init(st_pb *pb)
{
	memset(pb, 0, sizeof(*pb));
}

void st_pb_reset(st_pb *pb)
{
	pb->len = 0;
	pb->n_ents = 0;
	pb->out_len = 0;
	pb->open_tag = 0;
	pb->n_kvs = 0;
	pb->kvlen = 0;
}

void st_pb_free(st_pb *pb)
{
	if (!pb)
		return;
	free(pb->buf);
	free(pb->ents);
	free(pb->out);
	free(pb->kvs);
	free(pb->kvbuf);
	st_pb_init(pb);
}

static int begin_entry(st_pb *pb, const char *key, size_t klen, st_ptype tag)
{
	if (klen == 0 || klen > ST_PROP_KEY_MAX)
		return ST_E_LIMIT;
	if (pb->n_ents >= ST_PROPS_MAX_ENTRIES)
		return ST_E_LIMIT;
	if (pb->n_ents == pb->cap_ents) {
		pb->cap_ents = pb->cap_ents ? pb->cap_ents * 2 : 16;
		pb->ents = st_xrealloc(pb->ents, pb->cap_ents * sizeof(*pb->ents));
	}
	pb->ents[pb->n_ents].off = (uint32_t)pb->len;
	uint8_t kl = (uint8_t)klen;
	put_bytes(pb, &kl, 1);
	put_bytes(pb, key, klen);
	uint8_t t = (uint8_t)tag;
	put_bytes(pb, &t, 1);
	return 0;
}

static void end_entry(st_pb *pb)
{
	struct st_pb_ent *e = &pb->ents[pb->n_ents++];
	e->len = (uint32_t)(pb->len - e->off);
}

int st_pb_string(st_pb *pb, const char *key, size_t klen, const char *v, size_t vlen)
{
	int r = begin_entry(pb, key, klen, ST_P_STRING);
	if (r)
		return r;
	put_varint(pb, vlen);
	put_bytes(pb, v, vlen);
	end_entry(pb);
	return 0;
}

static int put_fixed(st_pb *pb, const char *key, size_t klen, st_ptype t, uint64_t v)
{
	int r = begin_entry(pb, key, klen, t);
	if (r)
		return r;
	put_u64le(pb, v);
	end_entry(pb);
	return 0;
}

int st_pb_int(st_pb *pb, const char *key, size_t klen, int64_t v)
{
	return put_fixed(pb, key, klen, ST_P_INT, (uint64_t)v);
}

int st_pb_timestamp(st_pb *pb, const char *key, size_t klen, int64_t v)
{
	return put_fixed(pb, key, klen, ST_P_TIMESTAMP, (uint64_t)v);
}

int st_pb_float(st_pb *pb, const char *key, size_t klen, double v)
{
	uint64_t bits;
	memcpy(&bits, &v, 8);
	return put_fixed(pb, key, klen, ST_P_FLOAT, bits);
}

int st_pb_bool(st_pb *pb, const char *key, size_t klen, bool v)
{
	int r = begin_entry(pb, key, klen, ST_P_BOOL);
	if (r)
		return r;
	uint8_t b = v ? 1 : 0;
	put_bytes(pb, &b, 1);
	end_entry(pb);
	return 0;
}

static int coll_begin(st_pb *pb, const char *key, size_t klen, st_ptype t)
{
	int r = begin_entry(pb, key, klen, t);
	if (r)
		return r;
	pb->open_tag = (int)t;
	pb->open_count = 0;
	pb->n_kvs = 0;
	pb->kvlen = 0;
	return 0;
}

int st_pb_list_begin(st_pb *pb, const char *key, size_t klen)
{
	return coll_begin(pb, key, klen, ST_P_LIST);
}

int st_pb_map_begin(st_pb *pb, const char *key, size_t klen)
{
	return coll_begin(pb, key, klen, ST_P_MAP);
}

static uint32_t kv_put(st_pb *pb, const char *s, size_t n)
{
	uint32_t off = (uint32_t)pb->kvlen;
	if (n) /* s may be NULL for an empty key or value */
		memcpy(reserve(&pb->kvbuf, &pb->kvlen, &pb->kvcap, n), s, n);
	return off;
}

void st_pb_list_add(st_pb *pb, const char *v, size_t vlen)
{
	st_pb_map_add(pb, v, vlen, NULL, 0);
}

void st_pb_map_add(st_pb *pb, const char *k, size_t klen, const char *v, size_t vlen)
{
	if (pb->n_kvs == pb->cap_kvs) {
		pb->cap_kvs = pb->cap_kvs ? pb->cap_kvs * 2 : 16;
		pb->kvs = st_xrealloc(pb->kvs, pb->cap_kvs * sizeof(*pb->kvs));
	}
	struct st_pb_kv *kv = &pb->kvs[pb->n_kvs++];
	kv->koff = kv_put(pb, k, klen);
	kv->klen = (uint32_t)klen;
	kv->voff = v ? kv_put(pb, v, vlen) : 0;
	kv->vlen = (uint32_t)vlen;
}

/* Bytewise order of two short strings (property keys: inline, no memcmp call). */
static int bytes_cmp(const char *a, size_t al, const char *b, size_t bl)
{
	size_t m = al < bl ? al : bl;
	for (size_t i = 0; i < m; i++)
		if (a[i] != b[i])
			return (unsigned char)a[i] < (unsigned char)b[i] ? -1 : 1;
	return al < bl ? -1 : al > bl ? 1 : 0;
}

/* qsort has no context argument in C17; a thread-local keeps this reentrant
 * across threads. */
static _Thread_local const uint8_t *sort_base;

static int kv_cmp(const void *a, const void *b)
{
	const struct st_pb_kv *x = a, *y = b;
	return bytes_cmp((const char *)sort_base + x->koff, x->klen,
			 (const char *)sort_base + y->koff, y->klen);
}

int st_pb_end(st_pb *pb, st_diag *diag)
{
	bool is_map = pb->open_tag == ST_P_MAP;
	if (is_map && pb->n_kvs > 1) {
		sort_base = pb->kvbuf;
		qsort(pb->kvs, pb->n_kvs, sizeof(*pb->kvs), kv_cmp);
		for (size_t i = 1; i < pb->n_kvs; i++) {
			const struct st_pb_kv *a = &pb->kvs[i - 1], *b = &pb->kvs[i];
			if (a->klen == b->klen &&
			    memcmp(pb->kvbuf + a->koff, pb->kvbuf + b->koff, a->klen) == 0) {
				pb->open_tag = 0;
				pb->len = pb->ents[pb->n_ents].off; /* drop the entry */
				return st_diag_set(diag, ST_E_INVALID, "duplicate map key '%.*s'",
						   (int)a->klen, (const char *)pb->kvbuf + a->koff);
			}
		}
	}
	put_varint(pb, pb->n_kvs);
	for (size_t i = 0; i < pb->n_kvs; i++) {
		const struct st_pb_kv *kv = &pb->kvs[i];
		put_varint(pb, kv->klen);
		put_bytes(pb, pb->kvbuf + kv->koff, kv->klen);
		if (is_map) {
			put_varint(pb, kv->vlen);
			put_bytes(pb, pb->kvbuf + kv->voff, kv->vlen);
		}
	}
	pb->open_tag = 0;
	end_entry(pb);
	return 0;
}

static int ent_cmp(const void *a, const void *b)
{
	const struct st_pb_ent *x = a, *y = b;
	const uint8_t *ka = sort_base + x->off, *kb = sort_base + y->off;
	return bytes_cmp((const char *)ka + 1, ka[0], (const char *)kb + 1, kb[0]);
}

int st_pb_finish(st_pb *pb, const uint8_t **ret_blob, size_t *ret_len, st_diag *diag)
{
	if (pb->n_ents > 1) {
		sort_base = pb->buf;
		bool sorted = true; /* canonical input arrives sorted: skip qsort */
		for (size_t i = 1; i < pb->n_ents && sorted; i++)
			sorted = ent_cmp(&pb->ents[i - 1], &pb->ents[i]) < 0;
		if (!sorted)
			qsort(pb->ents, pb->n_ents, sizeof(*pb->ents), ent_cmp);
		for (size_t i = 1; i < pb->n_ents; i++) {
			if (ent_cmp(&pb->ents[i - 1], &pb->ents[i]) == 0) {
				const uint8_t *k = pb->buf + pb->ents[i].off;
				return st_diag_set(diag, ST_E_INVALID, "duplicate property '%.*s'",
						   (int)k[0], (const char *)k + 1);
			}
		}
	}
	pb->out_len = 0;
	for (size_t i = 0; i < pb->n_ents; i++) {
		const struct st_pb_ent *e = &pb->ents[i];
		memcpy(reserve(&pb->out, &pb->out_len, &pb->out_cap, e->len), pb->buf + e->off,
		       e->len);
	}
	*ret_blob = pb->out_len ? pb->out : (const uint8_t *)"";
	*ret_len = pb->out_len;
	return 0;
}

/* ---- reading ---- */
void st_props_iter_init(st_props_iter *it, const uint8_t *blob, size_t len)
{
	it->p = blob;
	it->end = blob ? blob + len : blob; /* no arithmetic on NULL (an empty blob) */
}

static bool skip_bytes(const uint8_t **p, const uint8_t *end, const uint8_t **ret, size_t *ret_len)
{
	uint64_t n;
	size_t k = st_varint_get(*p, end, &n);
	if (!k || n > (uint64_t)(end - *p - (ptrdiff_t)k))
		return false;
	*ret = *p + k;
	*ret_len = (size_t)n;
	*p += k + n;
	return true;
}

int st_props_next(st_props_iter *it, st_prop *ret)
{
	const uint8_t *p = it->p, *end = it->end;
	if (p == end)
		return 0;
	size_t kl = p[0];
	if (kl == 0 || (size_t)(end - p) < kl + 2)
		return ST_E_STORE;
	ret->key = (const char *)p + 1;
	ret->klen = kl;
	p += 1 + kl;
	ret->type = (st_ptype)*p++;
	switch (ret->type) {
	case ST_P_STRING: {
		const uint8_t *s;
		if (!skip_bytes(&p, end, &s, &ret->v.s.len))
			return ST_E_STORE;
		ret->v.s.p = (const char *)s;
		break;
	}
	case ST_P_INT:
	case ST_P_TIMESTAMP:
	case ST_P_FLOAT:
		if (end - p < 8)
			return ST_E_STORE;
		if (ret->type == ST_P_FLOAT) {
			uint64_t bits = get_u64le(p);
			memcpy(&ret->v.f, &bits, 8);
		} else {
			ret->v.i = (int64_t)get_u64le(p);
		}
		p += 8;
		break;
	case ST_P_BOOL:
		if (end - p < 1 || *p > 1)
			return ST_E_STORE;
		ret->v.b = *p++ != 0;
		break;
	case ST_P_LIST:
	case ST_P_MAP: {
		uint64_t count;
		size_t k = st_varint_get(p, end, &count);
		if (!k)
			return ST_E_STORE;
		const uint8_t *start = p + k, *q = start;
		for (uint64_t i = 0; i < count * (ret->type == ST_P_MAP ? 2 : 1); i++) {
			const uint8_t *s;
			size_t sl;
			if (!skip_bytes(&q, end, &s, &sl))
				return ST_E_STORE;
		}
		ret->v.coll.p = start;
		ret->v.coll.count = (size_t)count;
		ret->v.coll.len = (size_t)(q - start);
		p = q;
		break;
	}
	default:
		return ST_E_STORE;
	}
	it->p = p;
	return 1;
}

void st_coll_iter_init(st_coll_iter *it, const st_prop *prop)
{
	it->p = prop->v.coll.p;
	it->end = prop->v.coll.p + prop->v.coll.len;
	it->left = prop->v.coll.count;
	it->is_map = prop->type == ST_P_MAP;
}

int st_coll_next(st_coll_iter *it, const char **k, size_t *klen, const char **v, size_t *vlen)
{
	if (!it->left)
		return 0;
	const uint8_t *s;
	if (!skip_bytes(&it->p, it->end, &s, klen))
		return ST_E_STORE;
	*k = (const char *)s;
	if (it->is_map) {
		if (!skip_bytes(&it->p, it->end, &s, vlen))
			return ST_E_STORE;
		*v = (const char *)s;
	} else if (v) {
		*v = NULL;
		*vlen = 0;
	}
	it->left--;
	return 1;
}

int st_props_get(const uint8_t *blob, size_t len, const char *key, size_t klen, st_prop *ret)
{
	st_props_iter it;
	st_props_iter_init(&it, blob, len);
	int r;
	while ((r = st_props_next(&it, ret)) == 1) {
		if (ret->klen == klen && memcmp(ret->key, key, klen) == 0)
			return 1;
	}
	return r;
}

int st_props_check(const uint8_t *blob, size_t len, const st_prop_def *defs, size_t n_defs,
		   st_diag *diag)
{
	st_props_iter it;
	st_props_iter_init(&it, blob, len);
	st_prop p;
	int r;
	size_t di = 0; /* defs and blob are both sorted: merge */
	const char *prev = NULL;
	size_t prevlen = 0;
	while ((r = st_props_next(&it, &p)) == 1) {
		if (prev && bytes_cmp(prev, prevlen, p.key, p.klen) >= 0)
			return st_diag_set(diag, ST_E_INVALID, "properties not sorted or repeated at '%.*s'",
					   (int)p.klen, p.key);
		prev = p.key;
		prevlen = p.klen;
		while (di < n_defs && bytes_cmp(defs[di].name, defs[di].name_len, p.key, p.klen) < 0) {
			if (defs[di].required)
				return st_diag_set(diag, ST_E_INVALID, "missing required property '%s'",
						   defs[di].name);
			di++;
		}
		if (di == n_defs || bytes_cmp(defs[di].name, defs[di].name_len, p.key, p.klen) != 0)
			return st_diag_set(diag, ST_E_INVALID, "unknown property '%.*s'", (int)p.klen, p.key);
		if (defs[di].type != p.type)
			return st_diag_set(diag, ST_E_INVALID, "property '%.*s' must be %s, not %s",
					   (int)p.klen, p.key, st_ptype_name(defs[di].type),
					   st_ptype_name(p.type) ? st_ptype_name(p.type) : "?");
		if (p.type == ST_P_FLOAT && !isfinite(p.v.f))
			return st_diag_set(diag, ST_E_INVALID, "property '%.*s' is not finite",
					   (int)p.klen, p.key);
		di++;
	}
	if (r < 0)
		return st_diag_set(diag, ST_E_INVALID, "malformed property encoding");
	for (; di < n_defs; di++)
		if (defs[di].required)
			return st_diag_set(diag, ST_E_INVALID, "missing required property '%s'",
					   defs[di].name);
	return 0;
}

/* ---- timestamps ---- */
static bool num(const char *s, size_t n, int *ret)
{
	int v = 0;
	for (size_t i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return false;
		v = v * 10 + (s[i] - '0');
	}
	*ret = v;
	return true;
}

int st_timestamp_parse(const char *s, size_t len, int64_t *ret)
{
	int32_t day;
	int hh, mm, ss;
	if (len < 20 || st_day_parse(s, 10, &day) != 0 || (s[10] != 'T' && s[10] != 't' && s[10] != ' ') ||
	    !num(s + 11, 2, &hh) || s[13] != ':' || !num(s + 14, 2, &mm) || s[16] != ':' ||
	    !num(s + 17, 2, &ss) || hh > 23 || mm > 59 || ss > 60)
		return ST_E_INVALID;
	size_t i = 19;
	if (i < len && s[i] == '.') {
		i++;
		size_t f = i;
		while (i < len && s[i] >= '0' && s[i] <= '9')
			i++;
		if (i == f)
			return ST_E_INVALID;
	}
	int64_t off = 0;
	if (i < len && (s[i] == 'Z' || s[i] == 'z')) {
		i++;
	} else if (i + 6 == len && (s[i] == '+' || s[i] == '-') && s[i + 3] == ':') {
		int oh, om;
		if (!num(s + i + 1, 2, &oh) || !num(s + i + 4, 2, &om) || oh > 23 || om > 59)
			return ST_E_INVALID;
		off = (oh * 3600 + om * 60) * (s[i] == '+' ? 1 : -1);
		i += 6;
	} else {
		return ST_E_INVALID;
	}
	if (i != len)
		return ST_E_INVALID;
	*ret = (int64_t)day * 86400 + hh * 3600 + mm * 60 + (ss == 60 ? 59 : ss) - off;
	return 0;
}

size_t st_timestamp_format(int64_t t, char *buf)
{
	int64_t day = t >= 0 ? t / 86400 : -((-t + 86399) / 86400);
	int64_t sec = t - day * 86400;
	char d[11];
	st_day_format((int32_t)day, d);
	int n = snprintf(buf, 32, "%sT%02d:%02d:%02dZ", d, (int)(sec / 3600), (int)(sec / 60 % 60),
			 (int)(sec % 60));
	return (size_t)n;
}
