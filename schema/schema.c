/*
 * schema.c — loads the typed schema (node types, edge types and their
 * properties) from YAML and answers look-ups on it.
 *
 * Loading is two passes over the text with libyaml: an event pass that only
 * bounds nesting depth and counts documents (the document API has no depth
 * limit of its own), then the document API (yaml_parser_load), so that
 * anchors and aliases (`&workload` / `*workload`) resolve to shared nodes.
 * The walk over the document has a fixed shape, so an alias cycle cannot
 * make it recurse.  Everything the loaded schema hands out lives in one
 * arena owned by the st_schema; the YAML document is freed before returning.
 *
 * This file must not print or log, keep global mutable state, or know about
 * the store: errors go into the caller's st_diag as "origin:line:column: ...".
 */
#include <errno.h>
#include <stdalign.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <yaml.h>

#include "schema.h"
#include "yamlerr.h"

/* Generated from schema/stacktwin.yaml by scripts/embed.py. */
extern const char st_schema_default_yaml[];
extern const size_t st_schema_default_yaml_len;

#define DEFAULT_ORIGIN "schema/stacktwin.yaml"

/* Bounds on input the schema author controls (see schema.h). */
#define MAX_TYPES 1000
#define MAX_PROPS 64
#define MAX_NAME 128
#define MAX_TEXT ((size_t)4 << 20)
#define MAX_DEPTH 32
/* Longest piece of user text quoted in one message. */
#define QUOTE_MAX 64
#define QBUF (QUOTE_MAX + 4)

/* ---- arena -------------------------------------------------------------- */

typedef struct chunk {
	struct chunk *next;
	size_t used, cap;
	max_align_t data[];
} chunk;

typedef struct arena {
	chunk *head;
} arena;

#define CHUNK_SIZE ((size_t)16384)

/* Returns NULL on out-of-memory; n == 0 still yields a unique pointer. */
static void *arena_alloc(arena *a, size_t n)
{
	const size_t al = alignof(max_align_t);
	if (n > SIZE_MAX / 2)
		return NULL;
	n = n ? (n + al - 1) & ~(al - 1) : al;
	chunk *c = a->head;
	if (c && c->cap - c->used >= n) {
		void *p = (unsigned char *)c->data + c->used;
		c->used += n;
		return p;
	}
	/* Large blocks get a chunk of their own, linked behind the head so
	 * that the head's free space is not wasted. */
	size_t cap = n > CHUNK_SIZE / 4 ? n : CHUNK_SIZE;
	chunk *nc = malloc(sizeof(*nc) + cap);
	if (!nc)
		return NULL;
	nc->cap = cap;
	nc->used = n;
	if (cap == n && c) {
		nc->next = c->next;
		c->next = nc;
	} else {
		nc->next = c;
		a->head = nc;
	}
	return nc->data;
}

static void *arena_zalloc(arena *a, size_t n)
{
	void *p = arena_alloc(a, n);
	if (p)
		memset(p, 0, n);
	return p;
}

static char *arena_strndup(arena *a, const char *s, size_t len)
{
	char *p = arena_alloc(a, len + 1);
	if (p) {
		memcpy(p, s, len);
		p[len] = '\0';
	}
	return p;
}

static void arena_free(arena *a)
{
	chunk *c = a->head;
	while (c) {
		chunk *next = c->next;
		free(c);
		c = next;
	}
	a->head = NULL;
}

/* ---- names -------------------------------------------------------------- */

/* Bytewise comparison of a NUL-terminated name with a counted key that may
 * contain any bytes; never reads past the name's terminator. */
static int key_cmp(const char *name, const char *key, size_t len)
{
	for (size_t i = 0; i < len; i++) {
		unsigned char a = (unsigned char)name[i];
		unsigned char b = (unsigned char)key[i];
		if (a == '\0')
			return -1;
		if (a != b)
			return a < b ? -1 : 1;
	}
	return name[len] == '\0' ? 0 : 1;
}

static bool is_lower(char c)
{
	return c >= 'a' && c <= 'z';
}
static bool is_upper(char c)
{
	return c >= 'A' && c <= 'Z';
}
static bool is_digit(char c)
{
	return c >= '0' && c <= '9';
}

/* [A-Za-z][A-Za-z0-9_]* */
static bool valid_type_name(const char *s, size_t len)
{
	if (len == 0 || len > MAX_NAME || !(is_lower(s[0]) || is_upper(s[0])))
		return false;
	for (size_t i = 1; i < len; i++)
		if (!(is_lower(s[i]) || is_upper(s[i]) || is_digit(s[i]) || s[i] == '_'))
			return false;
	return true;
}

/* [a-z][a-z0-9_]* */
static bool valid_prop_name(const char *s, size_t len)
{
	if (len == 0 || len > MAX_NAME || !is_lower(s[0]))
		return false;
	for (size_t i = 1; i < len; i++)
		if (!(is_lower(s[i]) || is_digit(s[i]) || s[i] == '_'))
			return false;
	return true;
}

/* Open-addressing index from a type name to its position in a type table.
 * Slots hold position + 1 (0 = empty); at most half full, so probing ends. */
typedef struct name_index {
	uint16_t *slots;
	const char **names;
	size_t mask;
} name_index;

static size_t name_hash(const char *s, size_t len)
{
	uint32_t h = 2166136261u;
	for (size_t i = 0; i < len; i++) {
		h ^= (unsigned char)s[i];
		h *= 16777619u;
	}
	return h;
}

static int index_init(arena *a, name_index *ix, size_t n)
{
	size_t cap = 16;
	while (cap < 2 * n)
		cap *= 2;
	ix->slots = arena_zalloc(a, cap * sizeof(*ix->slots));
	ix->names = arena_zalloc(a, n * sizeof(*ix->names));
	if (!ix->slots || !ix->names)
		return -ENOMEM;
	ix->mask = cap - 1;
	return 0;
}

static int index_find(const name_index *ix, const char *key, size_t len)
{
	if (!ix->slots)
		return -1;
	for (size_t h = name_hash(key, len) & ix->mask;; h = (h + 1) & ix->mask) {
		unsigned v = ix->slots[h];
		if (v == 0)
			return -1;
		if (key_cmp(ix->names[v - 1], key, len) == 0)
			return (int)(v - 1);
	}
}

/* names[i] must be set and not yet present. */
static void index_insert(name_index *ix, size_t i)
{
	const char *name = ix->names[i];
	size_t h = name_hash(name, strlen(name)) & ix->mask;
	while (ix->slots[h])
		h = (h + 1) & ix->mask;
	ix->slots[h] = (uint16_t)(i + 1);
}

/* ---- the schema --------------------------------------------------------- */

struct st_schema {
	arena mem;
	st_node_type *nodes;
	size_t n_nodes;
	st_edge_type *edges;
	size_t n_edges;
	name_index node_ix, edge_ix;
	/* Per edge type e: allowed `from` node types as a bitset at
	 * allow[(2e) * words], allowed `to` at allow[(2e + 1) * words]. */
	uint64_t *allow;
	size_t words;
	uint64_t hash;
};

static const char *const ptype_names[] = {
	[ST_P_STRING] = "string",
	[ST_P_INT] = "int",
	[ST_P_FLOAT] = "float",
	[ST_P_BOOL] = "bool",
	[ST_P_TIMESTAMP] = "timestamp",
	[ST_P_LIST] = "list",
	[ST_P_MAP] = "map",
};

const char *st_ptype_name(st_ptype t)
{
	if ((unsigned)t >= ST_ARRAY_LEN(ptype_names))
		return NULL;
	return ptype_names[t];
}

static uint64_t fnv1a64(const char *s, size_t len)
{
	uint64_t h = 14695981039346656037ull;
	for (size_t i = 0; i < len; i++) {
		h ^= (unsigned char)s[i];
		h *= 1099511628211ull;
	}
	return h;
}

/* ---- diagnostics -------------------------------------------------------- */

/* Copies at most QUOTE_MAX bytes of user text for a message, cut at a UTF-8
 * boundary, control characters replaced, "..." appended when shortened. */
static const char *quote(char buf[static QBUF], const char *s, size_t len)
{
	size_t n = len;
	if (n > QUOTE_MAX) {
		n = QUOTE_MAX;
		while (n > 0 && ((unsigned char)s[n] & 0xC0) == 0x80)
			n--;
	}
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		buf[i] = (c < 0x20 || c == 0x7f) ? '?' : (char)c;
	}
	if (n < len) {
		memcpy(buf + n, "...", 4);
	} else {
		buf[n] = '\0';
	}
	return buf;
}

typedef struct loader {
	const char *origin;
	st_diag *diag;
	yaml_document_t *doc;
	st_schema *s;
	const st_prop_def *common_node, *common_edge;
	size_t n_common_node, n_common_edge;
} loader;

static int fail_mark(const char *origin, st_diag *diag, yaml_mark_t m, const char *fmt, va_list ap)
{
	char msg[ST_DIAG_MAX];
	vsnprintf(msg, sizeof(msg), fmt, ap);
	return st_diag_set(diag, ST_E_SCHEMA, "%s:%zu:%zu: %s", origin, m.line + 1, m.column + 1,
			   msg);
}

static int fail(loader *L, const yaml_node_t *n, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* "origin:line:column: message" (1-based) at a document node; returns
 * ST_E_SCHEMA. */
static int fail(loader *L, const yaml_node_t *n, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int r = fail_mark(L->origin, L->diag, n->start_mark, fmt, ap);
	va_end(ap);
	return r;
}

static int oom(const char *origin, st_diag *diag)
{
	return st_diag_set(diag, -ENOMEM, "%s: out of memory", origin);
}

static int yaml_fail(const yaml_parser_t *p, const char *buf, size_t len, const char *origin,
		     st_diag *diag)
{
	return st_yaml_parser_fail(p, buf, len, origin, ST_E_SCHEMA, diag);
}

/* ---- document helpers --------------------------------------------------- */

static const char *kind_name(const yaml_node_t *n)
{
	switch (n->type) {
	case YAML_SCALAR_NODE: return "scalar";
	case YAML_SEQUENCE_NODE: return "sequence";
	case YAML_MAPPING_NODE: return "mapping";
	default: return "empty node";
	}
}

static yaml_node_t *get(const loader *L, int id)
{
	return yaml_document_get_node(L->doc, id);
}

static const char *sval(const yaml_node_t *n)
{
	return (const char *)n->data.scalar.value;
}

static size_t slen(const yaml_node_t *n)
{
	return n->data.scalar.length;
}

static bool is_plain(const yaml_node_t *n, const char *text)
{
	return n->type == YAML_SCALAR_NODE && n->data.scalar.style == YAML_PLAIN_SCALAR_STYLE &&
	       key_cmp(text, sval(n), slen(n)) == 0;
}

static int want_scalar(loader *L, const yaml_node_t *n, const char *key, const char *what)
{
	if (n->type == YAML_SCALAR_NODE)
		return 0;
	return fail(L, n, "expected a scalar for '%s' of %s, found a %s", key, what, kind_name(n));
}

/* Reads a mapping whose keys must come from names[0..n); vals[i] receives
 * the value of names[i] (caller zeroes vals).  Unknown and repeated keys are
 * errors. */
static int read_map(loader *L, const yaml_node_t *map, const char *what, const char *const names[],
		    size_t n, yaml_node_t *vals[])
{
	char qb[QBUF];
	if (map->type != YAML_MAPPING_NODE)
		return fail(L, map, "expected a mapping for %s, found a %s", what, kind_name(map));
	for (const yaml_node_pair_t *p = map->data.mapping.pairs.start;
	     p < map->data.mapping.pairs.top; p++) {
		yaml_node_t *k = get(L, p->key);
		if (k->type != YAML_SCALAR_NODE)
			return fail(L, k, "expected a scalar key in %s, found a %s", what,
				    kind_name(k));
		size_t i = 0;
		while (i < n && key_cmp(names[i], sval(k), slen(k)) != 0)
			i++;
		if (i == n) {
			char list[256];
			size_t off = 0;
			for (size_t j = 0; j < n && off < sizeof(list); j++) {
				int w = snprintf(list + off, sizeof(list) - off, "%s%s",
						 j ? ", " : "", names[j]);
				if (w < 0)
					break;
				off += (size_t)w;
			}
			return fail(L, k, "unknown key '%s' in %s (expected %s)",
				    quote(qb, sval(k), slen(k)), what, list);
		}
		if (vals[i])
			return fail(L, k, "duplicate key '%s' in %s", names[i], what);
		vals[i] = get(L, p->value);
	}
	return 0;
}

static size_t map_len(const yaml_node_t *n)
{
	return (size_t)(n->data.mapping.pairs.top - n->data.mapping.pairs.start);
}

/* ---- properties --------------------------------------------------------- */

static int prop_cmp(const void *a, const void *b)
{
	return strcmp(((const st_prop_def *)a)->name, ((const st_prop_def *)b)->name);
}

static int load_prop_def(loader *L, const yaml_node_t *def, const char *what, st_prop_def *ret)
{
	static const char *const keys[] = {"type", "required"};
	yaml_node_t *v[2] = {NULL, NULL};
	char qb[QBUF];
	int r = read_map(L, def, what, keys, 2, v);
	if (r)
		return r;
	if (!v[0])
		return fail(L, def, "%s is missing required key 'type'", what);
	r = want_scalar(L, v[0], "type", what);
	if (r)
		return r;
	ret->type = 0;
	for (size_t t = 1; t < ST_ARRAY_LEN(ptype_names); t++)
		if (key_cmp(ptype_names[t], sval(v[0]), slen(v[0])) == 0)
			ret->type = (st_ptype)t;
	if (!ret->type)
		return fail(L, v[0],
			    "unknown property type '%s' for %s (expected string, int, float, "
			    "bool, timestamp, list or map)",
			    quote(qb, sval(v[0]), slen(v[0])), what);
	ret->required = false;
	if (v[1]) {
		r = want_scalar(L, v[1], "required", what);
		if (r)
			return r;
		if (is_plain(v[1], "true"))
			ret->required = true;
		else if (!is_plain(v[1], "false"))
			return fail(
				L, v[1],
				"invalid value '%s' for 'required' of %s (expected true or false)",
				quote(qb, sval(v[1]), slen(v[1])), what);
	}
	return 0;
}

/* Builds a type's property table: the common properties (already sorted)
 * plus the ones in `map` (may be NULL), sorted by name.  `owner` names the
 * type in messages ("node type 'Service'"); `kind` is "node" or "edge". */
static int load_props(loader *L, const yaml_node_t *map, const char *owner, const char *kind,
		      const st_prop_def *common, size_t n_common, const st_prop_def **ret_props,
		      size_t *ret_n)
{
	st_prop_def tmp[MAX_PROPS];
	char what[256], qb[QBUF];
	size_t n = n_common;
	if (n_common)
		memcpy(tmp, common, n_common * sizeof(*tmp));
	if (map) {
		if (map->type != YAML_MAPPING_NODE)
			return fail(L, map, "expected a mapping for 'properties' of %s, found a %s",
				    owner, kind_name(map));
		for (const yaml_node_pair_t *p = map->data.mapping.pairs.start;
		     p < map->data.mapping.pairs.top; p++) {
			yaml_node_t *k = get(L, p->key);
			if (k->type != YAML_SCALAR_NODE)
				return fail(L, k, "expected a property name in %s, found a %s",
					    owner, kind_name(k));
			const char *name = sval(k);
			size_t len = slen(k);
			if (!valid_prop_name(name, len))
				return fail(L, k,
					    "invalid property name '%s' in %s (expected "
					    "[a-z][a-z0-9_]*, at most %d bytes)",
					    quote(qb, name, len), owner, MAX_NAME);
			for (size_t j = 0; j < n; j++) {
				if (key_cmp(tmp[j].name, name, len) != 0)
					continue;
				if (j < n_common)
					return fail(
						L, k,
						"property '%s' of %s duplicates a common %s property",
						tmp[j].name, owner, kind);
				return fail(L, k, "duplicate property '%s' in %s", tmp[j].name,
					    owner);
			}
			if (n == MAX_PROPS)
				return fail(L, k,
					    "too many properties in %s (limit %d, including common "
					    "properties)",
					    owner, MAX_PROPS);
			snprintf(what, sizeof(what), "property '%s' of %s", quote(qb, name, len),
				 owner);
			int r = load_prop_def(L, get(L, p->value), what, &tmp[n]);
			if (r)
				return r;
			tmp[n].name = arena_strndup(&L->s->mem, name, len);
			if (!tmp[n].name)
				return oom(L->origin, L->diag);
			tmp[n].name_len = len;
			n++;
		}
	}
	if (n == 0) {
		*ret_props = NULL;
		*ret_n = 0;
		return 0;
	}
	qsort(tmp, n, sizeof(*tmp), prop_cmp);
	st_prop_def *props = arena_alloc(&L->s->mem, n * sizeof(*props));
	if (!props)
		return oom(L->origin, L->diag);
	memcpy(props, tmp, n * sizeof(*props));
	*ret_props = props;
	*ret_n = n;
	return 0;
}

/* ---- type tables -------------------------------------------------------- */

/* Checks a type table's shape and size and sets up its name index.  Returns
 * the number of types in *ret_n. */
static int begin_types(loader *L, const yaml_node_t *map, const char *key, name_index *ix,
		       size_t *ret_n)
{
	if (map->type != YAML_MAPPING_NODE)
		return fail(L, map, "expected a mapping for '%s', found a %s", key, kind_name(map));
	size_t n = map_len(map);
	if (n == 0)
		return fail(L, map, "'%s' is empty: at least one type is required", key);
	if (n > MAX_TYPES)
		return fail(L, get(L, map->data.mapping.pairs.start[MAX_TYPES].key),
			    "too many entries in '%s' (limit %d)", key, MAX_TYPES);
	if (index_init(&L->s->mem, ix, n))
		return oom(L->origin, L->diag);
	*ret_n = n;
	return 0;
}

/* Validates a type name key, rejects duplicates and enters it into ix as
 * entry i. */
static int add_type_name(loader *L, const yaml_node_t *k, const char *kind, name_index *ix,
			 size_t i)
{
	char qb[QBUF];
	if (k->type != YAML_SCALAR_NODE)
		return fail(L, k, "expected a %s type name, found a %s", kind, kind_name(k));
	if (!valid_type_name(sval(k), slen(k)))
		return fail(L, k,
			    "invalid %s type name '%s' (expected [A-Za-z][A-Za-z0-9_]*, at "
			    "most %d bytes)",
			    kind, quote(qb, sval(k), slen(k)), MAX_NAME);
	if (index_find(ix, sval(k), slen(k)) >= 0)
		return fail(L, k, "duplicate %s type '%s'", kind, sval(k));
	ix->names[i] = arena_strndup(&L->s->mem, sval(k), slen(k));
	if (!ix->names[i])
		return oom(L->origin, L->diag);
	index_insert(ix, i);
	return 0;
}

static int load_description(loader *L, const yaml_node_t *v, const char *what, const char **ret)
{
	if (!v) {
		*ret = "";
		return 0;
	}
	int r = want_scalar(L, v, "description", what);
	if (r)
		return r;
	*ret = arena_strndup(&L->s->mem, sval(v), slen(v));
	return *ret ? 0 : oom(L->origin, L->diag);
}

static int load_node_types(loader *L, const yaml_node_t *map)
{
	static const char *const keys[] = {"layer", "description", "properties"};
	st_schema *s = L->s;
	char what[256], qb[QBUF];
	size_t n = 0;
	int r = begin_types(L, map, "node_types", &s->node_ix, &n);
	if (r)
		return r;
	s->nodes = arena_zalloc(&s->mem, n * sizeof(*s->nodes));
	if (!s->nodes)
		return oom(L->origin, L->diag);
	for (size_t i = 0; i < n; i++) {
		const yaml_node_pair_t *p = &map->data.mapping.pairs.start[i];
		st_node_type *t = &s->nodes[i];
		r = add_type_name(L, get(L, p->key), "node", &s->node_ix, i);
		if (r)
			return r;
		t->name = s->node_ix.names[i];
		s->n_nodes = i + 1;
		snprintf(what, sizeof(what), "node type '%s'", t->name);

		yaml_node_t *body = get(L, p->value), *v[3] = {NULL, NULL, NULL};
		r = read_map(L, body, what, keys, 3, v);
		if (r)
			return r;
		if (!v[0])
			return fail(L, body, "%s is missing required key 'layer'", what);
		if ((r = want_scalar(L, v[0], "layer", what)))
			return r;
		if (key_cmp("logical", sval(v[0]), slen(v[0])) == 0)
			t->layer = ST_LAYER_LOGICAL;
		else if (key_cmp("source", sval(v[0]), slen(v[0])) == 0)
			t->layer = ST_LAYER_SOURCE;
		else
			return fail(L, v[0],
				    "invalid layer '%s' for %s (expected logical or source)",
				    quote(qb, sval(v[0]), slen(v[0])), what);
		if ((r = load_description(L, v[1], what, &t->description)))
			return r;
		r = load_props(L, v[2], what, "node", L->common_node, L->n_common_node, &t->props,
			       &t->n_props);
		if (r)
			return r;
	}
	return 0;
}

/* Reads an edge type's `from` or `to` list into an index array and the
 * bitset `bits`; ["*"] sets *ret_any instead. */
static int load_endpoints(loader *L, const yaml_node_t *seq, const char *key, const char *what,
			  bool *ret_any, const uint16_t **ret_idx, size_t *ret_n, uint64_t *bits)
{
	st_schema *s = L->s;
	char qb[QBUF];
	if (seq->type != YAML_SEQUENCE_NODE)
		return fail(L, seq, "expected a sequence for '%s' of %s, found a %s", key, what,
			    kind_name(seq));
	const yaml_node_item_t *items = seq->data.sequence.items.start;
	size_t n = (size_t)(seq->data.sequence.items.top - items);
	if (n == 0)
		return fail(L, seq, "'%s' of %s is empty (use [\"*\"] to allow any node type)", key,
			    what);
	*ret_any = false;
	*ret_idx = NULL;
	*ret_n = 0;
	/* Duplicates are rejected, so at most n_nodes entries are stored. */
	uint16_t *idx = arena_alloc(&s->mem, (n < s->n_nodes ? n : s->n_nodes) * sizeof(*idx));
	if (!idx)
		return oom(L->origin, L->diag);
	size_t m = 0;
	for (size_t i = 0; i < n; i++) {
		yaml_node_t *it = get(L, items[i]);
		if (it->type != YAML_SCALAR_NODE)
			return fail(L, it, "expected a node type name in '%s' of %s, found a %s",
				    key, what, kind_name(it));
		if (key_cmp("*", sval(it), slen(it)) == 0) {
			if (n != 1)
				return fail(L, it, "'*' must be the only entry of '%s' of %s", key,
					    what);
			*ret_any = true;
			return 0;
		}
		int t = index_find(&s->node_ix, sval(it), slen(it));
		if (t < 0)
			return fail(L, it, "unknown node type '%s' in '%s' of %s",
				    quote(qb, sval(it), slen(it)), key, what);
		uint64_t bit = (uint64_t)1 << (t % 64);
		if (bits[t / 64] & bit)
			return fail(L, it, "duplicate node type '%s' in '%s' of %s", sval(it), key,
				    what);
		bits[t / 64] |= bit;
		idx[m++] = (uint16_t)t;
	}
	*ret_idx = idx;
	*ret_n = m;
	return 0;
}

static int load_edge_types(loader *L, const yaml_node_t *map)
{
	static const char *const keys[] = {"dependency", "description", "from", "to", "properties"};
	st_schema *s = L->s;
	char what[256], qb[QBUF];
	size_t n = 0;
	int r = begin_types(L, map, "edge_types", &s->edge_ix, &n);
	if (r)
		return r;
	s->edges = arena_zalloc(&s->mem, n * sizeof(*s->edges));
	s->words = (s->n_nodes + 63) / 64;
	s->allow = arena_zalloc(&s->mem, 2 * n * s->words * sizeof(*s->allow));
	if (!s->edges || !s->allow)
		return oom(L->origin, L->diag);
	for (size_t i = 0; i < n; i++) {
		const yaml_node_pair_t *p = &map->data.mapping.pairs.start[i];
		st_edge_type *t = &s->edges[i];
		r = add_type_name(L, get(L, p->key), "edge", &s->edge_ix, i);
		if (r)
			return r;
		t->name = s->edge_ix.names[i];
		s->n_edges = i + 1;
		snprintf(what, sizeof(what), "edge type '%s'", t->name);

		yaml_node_t *body = get(L, p->value), *v[5] = {NULL, NULL, NULL, NULL, NULL};
		r = read_map(L, body, what, keys, 5, v);
		if (r)
			return r;
		/* dependency, from and to are required; description is not. */
		static const size_t required[] = {0, 2, 3};
		for (size_t k = 0; k < ST_ARRAY_LEN(required); k++)
			if (!v[required[k]])
				return fail(L, body, "%s is missing required key '%s'", what,
					    keys[required[k]]);
		if ((r = want_scalar(L, v[0], "dependency", what)))
			return r;
		if (key_cmp("none", sval(v[0]), slen(v[0])) == 0)
			t->dependency = ST_DEP_NONE;
		else if (key_cmp("forward", sval(v[0]), slen(v[0])) == 0)
			t->dependency = ST_DEP_FORWARD;
		else if (key_cmp("reverse", sval(v[0]), slen(v[0])) == 0)
			t->dependency = ST_DEP_REVERSE;
		else
			return fail(
				L, v[0],
				"invalid dependency '%s' for %s (expected none, forward or reverse)",
				quote(qb, sval(v[0]), slen(v[0])), what);
		if ((r = load_description(L, v[1], what, &t->description)))
			return r;
		r = load_endpoints(L, v[2], "from", what, &t->any_from, &t->from, &t->n_from,
				   &s->allow[2 * i * s->words]);
		if (r)
			return r;
		r = load_endpoints(L, v[3], "to", what, &t->any_to, &t->to, &t->n_to,
				   &s->allow[(2 * i + 1) * s->words]);
		if (r)
			return r;
		r = load_props(L, v[4], what, "edge", L->common_edge, L->n_common_edge, &t->props,
			       &t->n_props);
		if (r)
			return r;
	}
	return 0;
}

enum { K_VERSION, K_COMMON_NODE, K_COMMON_EDGE, K_NODES, K_EDGES, K_COUNT };

static int load_root(loader *L, const yaml_node_t *root)
{
	static const char *const keys[K_COUNT] = {
		[K_VERSION] = "version",
		[K_COMMON_NODE] = "common_node_properties",
		[K_COMMON_EDGE] = "common_edge_properties",
		[K_NODES] = "node_types",
		[K_EDGES] = "edge_types",
	};
	yaml_node_t *v[K_COUNT] = {NULL};
	char qb[QBUF];
	if (root->type != YAML_MAPPING_NODE)
		return fail(L, root, "the schema must be a mapping at the top level, found a %s",
			    kind_name(root));
	int r = read_map(L, root, "the top-level mapping", keys, K_COUNT, v);
	if (r)
		return r;
	if (!v[K_VERSION])
		return fail(L, root, "missing required top-level key 'version'");
	if ((r = want_scalar(L, v[K_VERSION], "version", "the schema")))
		return r;
	if (!is_plain(v[K_VERSION], "1"))
		return fail(L, v[K_VERSION], "unsupported schema version '%s' (expected 1%s)",
			    quote(qb, sval(v[K_VERSION]), slen(v[K_VERSION])),
			    v[K_VERSION]->data.scalar.style == YAML_PLAIN_SCALAR_STYLE ?
				    "" :
				    ", unquoted");
	for (size_t k = K_NODES; k <= K_EDGES; k++)
		if (!v[k])
			return fail(L, root, "missing required top-level key '%s'", keys[k]);
	/* Common property tables are checked like a type's own properties;
	 * their owner in messages is the key itself. */
	r = load_props(L, v[K_COMMON_NODE], "common_node_properties", "node", NULL, 0,
		       &L->common_node, &L->n_common_node);
	if (r)
		return r;
	r = load_props(L, v[K_COMMON_EDGE], "common_edge_properties", "edge", NULL, 0,
		       &L->common_edge, &L->n_common_edge);
	if (r)
		return r;
	if ((r = load_node_types(L, v[K_NODES])))
		return r;
	return load_edge_types(L, v[K_EDGES]);
}


/* ---- public API --------------------------------------------------------- */

int st_schema_load_buffer(const char *buf, size_t len, const char *origin, st_schema **ret_schema,
			  st_diag *diag)
{
	yaml_parser_t parser;
	yaml_document_t doc;
	bool have_parser = false, have_doc = false;
	st_schema *s = NULL;
	int r;

	if (!origin)
		origin = "(schema)";
	if (!ret_schema || (!buf && len))
		return st_diag_set(diag, -EINVAL, "%s: invalid arguments", origin);
	if (!buf)
		buf = "";
	if (len > MAX_TEXT)
		return st_diag_set(diag, ST_E_SCHEMA, "%s: schema is larger than %zu bytes", origin,
				   MAX_TEXT);
	r = st_yaml_prescan(buf, len, origin, ST_E_SCHEMA, MAX_DEPTH, "a schema",
			    "the schema is empty", diag);
	if (r)
		return r;

	s = calloc(1, sizeof(*s));
	if (!s)
		return oom(origin, diag);
	if (!yaml_parser_initialize(&parser)) {
		r = oom(origin, diag);
		goto out;
	}
	have_parser = true;
	yaml_parser_set_input_string(&parser, (const unsigned char *)buf, len);
	if (!yaml_parser_load(&parser, &doc)) {
		r = yaml_fail(&parser, buf, len, origin, diag);
		goto out;
	}
	have_doc = true;
	const yaml_node_t *root = yaml_document_get_root_node(&doc);
	if (!root) {
		r = st_diag_set(diag, ST_E_SCHEMA, "%s:1:1: the schema is empty", origin);
		goto out;
	}
	loader L = {.origin = origin, .diag = diag, .doc = &doc, .s = s};
	r = load_root(&L, root);
	if (r)
		goto out;
	s->hash = fnv1a64(buf, len);
	*ret_schema = s;
	s = NULL;
out:
	if (have_doc)
		yaml_document_delete(&doc);
	if (have_parser)
		yaml_parser_delete(&parser);
	st_schema_free(s);
	return r;
}

int st_schema_load_file(const char *path, st_schema **ret_schema, st_diag *diag)
{
	char *buf = NULL;
	size_t len = 0, cap = 0;
	int r;

	if (!path || !ret_schema)
		return st_diag_set(diag, -EINVAL, "invalid arguments");
	FILE *f = fopen(path, "rb");
	if (!f)
		return st_diag_set(diag, ST_E_IO, "%s: cannot open: %s", path, st_strerror(-errno));
	for (;;) {
		if (len == cap) {
			/* Read one byte past the limit to detect an oversized file. */
			size_t ncap = cap ? cap * 2 : 65536;
			if (ncap > MAX_TEXT + 1)
				ncap = MAX_TEXT + 1;
			if (ncap == cap) {
				r = st_diag_set(diag, ST_E_SCHEMA,
						"%s: schema is larger than %zu bytes", path,
						MAX_TEXT);
				goto out;
			}
			char *nb = realloc(buf, ncap);
			if (!nb) {
				r = oom(path, diag);
				goto out;
			}
			buf = nb;
			cap = ncap;
		}
		size_t got = fread(buf + len, 1, cap - len, f);
		len += got;
		if (got == 0) {
			if (ferror(f)) {
				r = st_diag_set(diag, ST_E_IO, "%s: cannot read: %s", path,
						st_strerror(errno ? -errno : -EIO));
				goto out;
			}
			break;
		}
	}
	r = st_schema_load_buffer(buf, len, path, ret_schema, diag);
out:
	free(buf);
	fclose(f);
	return r;
}

int st_schema_load_default(st_schema **ret_schema, st_diag *diag)
{
	return st_schema_load_buffer(st_schema_default_yaml, st_schema_default_yaml_len,
				     DEFAULT_ORIGIN, ret_schema, diag);
}

void st_schema_free(st_schema *s)
{
	if (!s)
		return;
	arena_free(&s->mem);
	free(s);
}

size_t st_schema_node_type_count(const st_schema *s)
{
	return s ? s->n_nodes : 0;
}

size_t st_schema_edge_type_count(const st_schema *s)
{
	return s ? s->n_edges : 0;
}

const st_node_type *st_schema_node_type(const st_schema *s, size_t i)
{
	return s && i < s->n_nodes ? &s->nodes[i] : NULL;
}

const st_edge_type *st_schema_edge_type(const st_schema *s, size_t i)
{
	return s && i < s->n_edges ? &s->edges[i] : NULL;
}

int st_schema_find_node_type(const st_schema *s, const char *name, size_t len)
{
	if (!s || (!name && len))
		return -1;
	return index_find(&s->node_ix, name ? name : "", len);
}

int st_schema_find_edge_type(const st_schema *s, const char *name, size_t len)
{
	if (!s || (!name && len))
		return -1;
	return index_find(&s->edge_ix, name ? name : "", len);
}

bool st_schema_edge_allows(const st_schema *s, size_t e, size_t from, size_t to)
{
	if (!s || e >= s->n_edges || from >= s->n_nodes || to >= s->n_nodes)
		return false;
	const st_edge_type *t = &s->edges[e];
	const uint64_t *fb = &s->allow[2 * e * s->words];
	const uint64_t *tb = &s->allow[(2 * e + 1) * s->words];
	uint64_t fbit = (uint64_t)1 << (from % 64), tbit = (uint64_t)1 << (to % 64);
	return (t->any_from || (fb[from / 64] & fbit)) && (t->any_to || (tb[to / 64] & tbit));
}

const st_prop_def *st_schema_find_prop(const st_prop_def *props, size_t n, const char *name,
				       size_t len)
{
	if (!props || (!name && len))
		return NULL;
	size_t lo = 0, hi = n;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int c = key_cmp(props[mid].name, name ? name : "", len);
		if (c == 0)
			return &props[mid];
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}

uint64_t st_schema_hash(const st_schema *s)
{
	return s ? s->hash : 0;
}
