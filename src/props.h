/*
 * props.h — the compact binary encoding of node and edge properties.
 *
 * A property blob is a sequence of entries sorted bytewise by key, keys
 * unique:  u8 keylen | key | u8 tag (st_ptype) | payload
 *   STRING            varint len | bytes
 *   INT, TIMESTAMP    8 bytes, little-endian two's complement
 *   FLOAT             8 bytes, little-endian IEEE-754
 *   BOOL              1 byte (0 or 1)
 *   LIST              varint count | (varint len | bytes)*
 *   MAP               varint count | (varint klen | key | varint vlen | value)*,
 *                     keys sorted bytewise and unique
 * An empty blob has no properties.  The format is part of the on-disk store
 * format (docs/storage.md); changing it needs a store format version bump.
 *
 * The builder collects entries and produces a blob owned by the builder
 * (valid until the next st_pb_reset/st_pb_free).  The reader walks a blob
 * without copying; every pointer it returns points into the blob.
 */
#ifndef ST_PROPS_H
#define ST_PROPS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common.h"
#include "schema.h"

#define ST_PROP_KEY_MAX 255
#define ST_PROPS_MAX_ENTRIES 256

typedef struct st_pb {
	uint8_t *buf; /* encoded entries in insertion order */
	size_t len, cap;
	struct st_pb_ent { uint32_t off, len; } *ents;
	size_t n_ents, cap_ents;
	uint8_t *out; /* sorted result */
	size_t out_len, out_cap;
	/* open list/map under construction */
	int open_tag;
	size_t open_count_at, open_count;
	struct st_pb_kv { uint32_t koff, klen, voff, vlen; } *kvs;
	size_t n_kvs, cap_kvs;
	uint8_t *kvbuf;
	size_t kvlen, kvcap;
} st_pb;

void st_pb_init(st_pb *pb);
void st_pb_reset(st_pb *pb);
void st_pb_free(st_pb *pb);

/* Each returns 0, or ST_E_LIMIT for a key longer than ST_PROP_KEY_MAX or more
 * than ST_PROPS_MAX_ENTRIES entries. */
int st_pb_string(st_pb *pb, const char *key, size_t klen, const char *v, size_t vlen);
int st_pb_int(st_pb *pb, const char *key, size_t klen, int64_t v);
int st_pb_timestamp(st_pb *pb, const char *key, size_t klen, int64_t v);
int st_pb_float(st_pb *pb, const char *key, size_t klen, double v);
int st_pb_bool(st_pb *pb, const char *key, size_t klen, bool v);
int st_pb_list_begin(st_pb *pb, const char *key, size_t klen);
void st_pb_list_add(st_pb *pb, const char *v, size_t vlen);
int st_pb_map_begin(st_pb *pb, const char *key, size_t klen);
void st_pb_map_add(st_pb *pb, const char *k, size_t klen, const char *v, size_t vlen);
/* Closes the open list or map.  ST_E_INVALID (with diag) on a duplicate map key. */
int st_pb_end(st_pb *pb, st_diag *diag);

/* Sort and encode.  ST_E_INVALID with "duplicate property 'k'" on a repeated
 * key.  *ret_blob stays valid until the builder is reset or freed. */
int st_pb_finish(st_pb *pb, const uint8_t **ret_blob, size_t *ret_len, st_diag *diag);

/* ---- reading ---- */
typedef struct st_prop {
	const char *key;
	size_t klen;
	st_ptype type;
	union {
		struct { const char *p; size_t len; } s; /* STRING */
		int64_t i;                                /* INT, TIMESTAMP */
		double f;                                 /* FLOAT */
		bool b;                                   /* BOOL */
		struct { const uint8_t *p; size_t count, len; } coll; /* LIST, MAP */
	} v;
} st_prop;

typedef struct st_props_iter {
	const uint8_t *p, *end;
} st_props_iter;

void st_props_iter_init(st_props_iter *it, const uint8_t *blob, size_t len);
/* 1 with *ret filled, 0 at the end, ST_E_STORE on a corrupt blob. */
int st_props_next(st_props_iter *it, st_prop *ret);

/* Iterate the items of a LIST (val NULL) or MAP property. */
typedef struct st_coll_iter {
	const uint8_t *p, *end;
	size_t left;
	bool is_map;
} st_coll_iter;
void st_coll_iter_init(st_coll_iter *it, const st_prop *prop);
/* 1 with the item, 0 at the end, ST_E_STORE if corrupt.  For a LIST *k is the item. */
int st_coll_next(st_coll_iter *it, const char **k, size_t *klen, const char **v, size_t *vlen);

/* Find one property by key (linear; blobs are small).  1 found, 0 absent, <0 corrupt. */
int st_props_get(const uint8_t *blob, size_t len, const char *key, size_t klen, st_prop *ret);

/* Check a blob against a schema property table (sorted, as st_node_type.props):
 * every key declared with the same type, every required property present, the
 * encoding well formed.  ST_E_INVALID with a message naming the property. */
int st_props_check(const uint8_t *blob, size_t len, const st_prop_def *defs, size_t n_defs,
		   st_diag *diag);

/* Parse an RFC 3339 timestamp ("2026-10-01T12:00:00Z", "...T12:00:00.5+02:00")
 * to seconds since the epoch (fractions truncated). */
int st_timestamp_parse(const char *s, size_t len, int64_t *ret);
/* "YYYY-MM-DDTHH:MM:SSZ"; buf holds at least 32 bytes; returns the length. */
size_t st_timestamp_format(int64_t t, char *buf);

/* varints (LEB128, unsigned) shared with the store's own encodings */
size_t st_varint_put(uint8_t *p, uint64_t v);
/* Returns bytes read, 0 if malformed or truncated. */
size_t st_varint_get(const uint8_t *p, const uint8_t *end, uint64_t *ret);

#endif
