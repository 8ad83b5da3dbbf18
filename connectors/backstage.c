/*
 * backstage.c — Backstage catalog files to logical-layer facts
 * (backstage.h for the contract, docs/catalog.md for the mapping).
 *
 * Three phases, so that a file is emitted whole or not at all:
 *   1. load every YAML document (st__yfile, also used by manifest.c) and read
 *      each entity: required fields, value kinds, ref syntax;
 *   2. give entities their ids (a Component ref needs to know which
 *      Components of this file are not services), resolve refs to ids, check
 *      every edge against the schema, build property blobs, de-duplicate
 *      edges;
 *   3. only then call the sink.
 * Any problem in 1 or 2 is recorded once with its line:column and the sink
 * hears nothing but one warning.
 *
 * This file must not do I/O, log, or keep global state; the YAML documents
 * are freed before returning.  The walk over a document has a fixed shape
 * (only known keys are visited), so aliases cannot blow it up.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <yaml.h>

#include "backstage.h"
#include "props.h"

/* ---- st_strv ------------------------------------------------------------ */

void st_strv_free(st_strv *v)
{
	if (!v)
		return;
	for (size_t i = 0; i < v->n; i++)
		free(v->v[i]);
	free(v->v);
	memset(v, 0, sizeof(*v));
}

static void strv_push(st_strv *v, const char *s, size_t len)
{
	if (v->n == v->cap) {
		v->cap = v->cap ? 2 * v->cap : 8;
		v->v = st_xrealloc(v->v, v->cap * sizeof(*v->v));
	}
	v->v[v->n++] = st_xstrndup(s, len);
}

/* ---- shared YAML plumbing (st__y*) ---------------------------------------- */

const char *st__yquote(char *buf, const char *s, size_t len)
{
	size_t n = len > 64 ? 64 : len;
	while (n < len && n > 0 && ((unsigned char)s[n] & 0xC0) == 0x80)
		n--; /* cut at a UTF-8 boundary */
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		buf[i] = (c < 0x20 || c == 0x7f) ? '?' : (char)c;
	}
	if (n < len)
		memcpy(buf + n, "...", 4);
	else
		buf[n] = '\0';
	return buf;
}

static int yfail_v(st__yfile *f, uint32_t line, uint32_t column, const char *fmt, va_list ap)
{
	if (f->line == 0) { /* the first problem wins */
		f->line = line ? line : 1;
		f->column = column ? column : 1;
		vsnprintf(f->problem, sizeof(f->problem), fmt, ap);
	}
	return ST_E_INVALID;
}

int st__yfail_at(st__yfile *f, uint32_t line, uint32_t column, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int r = yfail_v(f, line, column, fmt, ap);
	va_end(ap);
	return r;
}

int st__yfail(st__yfile *f, const yaml_node_t *n, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int r = yfail_v(f, (uint32_t)n->start_mark.line + 1, (uint32_t)n->start_mark.column + 1,
			fmt, ap);
	va_end(ap);
	return r;
}

int st__yfile_report(const st__yfile *f, st_sink *sink, st_diag *diag)
{
	st_diag_set(diag, ST_E_INVALID, "%s:%u:%u: %s", f->origin, (unsigned)f->line,
		    (unsigned)f->column, f->problem);
	if (sink && sink->warn) {
		char msg[sizeof(f->problem) + 32];
		snprintf(msg, sizeof(msg), "%s (column %u)", f->problem, (unsigned)f->column);
		sink->warn(sink, (st_loc){.origin = f->origin, .line = f->line}, msg);
	}
	return ST_E_INVALID;
}

/* Converts a libyaml parser failure into the file's problem (once). */
static int yparser_fail(st__yfile *f, const yaml_parser_t *p, const char *buf, size_t len)
{
	const char *problem = p->problem ? p->problem : "unknown error";
	if (p->error == YAML_MEMORY_ERROR)
		return -ENOMEM;
	if (p->error == YAML_READER_ERROR) {
		/* Reader errors carry a byte offset, not a mark. */
		uint32_t line = 1, col = 1;
		size_t end = p->problem_offset < len ? p->problem_offset : len;
		for (size_t i = 0; i < end; i++) {
			unsigned char c = (unsigned char)buf[i];
			if (c == '\n') {
				line++;
				col = 1;
			} else if ((c & 0xC0) != 0x80 && c != '\r') {
				col++;
			}
		}
		return st__yfail_at(f, line, col, "invalid YAML input: %s", problem);
	}
	uint32_t line = (uint32_t)p->problem_mark.line + 1,
		 col = (uint32_t)p->problem_mark.column + 1;
	if (p->context)
		return st__yfail_at(f, line, col, "YAML syntax error: %s %s", problem, p->context);
	return st__yfail_at(f, line, col, "YAML syntax error: %s", problem);
}

/* Event pass: syntax, nesting depth and document count, before the document
 * API builds anything (it has no depth limit of its own). */
static int yprescan(st__yfile *f, const char *buf, size_t len, size_t max_docs)
{
	yaml_parser_t p;
	yaml_event_t ev;
	int depth = 0, r = 0;
	size_t docs = 0;
	if (!yaml_parser_initialize(&p))
		return -ENOMEM;
	yaml_parser_set_input_string(&p, (const unsigned char *)buf, len);
	for (;;) {
		if (!yaml_parser_parse(&p, &ev)) {
			r = yparser_fail(f, &p, buf, len);
			break;
		}
		yaml_event_type_t type = ev.type;
		yaml_mark_t m = ev.start_mark;
		yaml_event_delete(&ev);
		if (type == YAML_SEQUENCE_START_EVENT || type == YAML_MAPPING_START_EVENT) {
			if (++depth > ST_CATALOG_MAX_DEPTH) {
				r = st__yfail_at(f, (uint32_t)m.line + 1, (uint32_t)m.column + 1,
						 "YAML nesting deeper than %d levels",
						 ST_CATALOG_MAX_DEPTH);
				break;
			}
		} else if (type == YAML_SEQUENCE_END_EVENT || type == YAML_MAPPING_END_EVENT) {
			depth--;
		} else if (type == YAML_DOCUMENT_START_EVENT) {
			if (++docs > max_docs) {
				r = st__yfail_at(f, (uint32_t)m.line + 1, (uint32_t)m.column + 1,
						 "more than %zu YAML documents", max_docs);
				break;
			}
		} else if (type == YAML_STREAM_END_EVENT) {
			break;
		}
	}
	yaml_parser_delete(&p);
	return r;
}

int st__yfile_load(st__yfile *f, const char *origin, const char *buf, size_t len, size_t max_docs)
{
	yaml_parser_t p;
	int r;
	memset(f, 0, sizeof(*f));
	f->origin = origin;
	if (len > ST_CATALOG_MAX_BYTES)
		return st__yfail_at(f, 1, 1, "file is larger than %zu bytes", ST_CATALOG_MAX_BYTES);
	if ((r = yprescan(f, buf, len, max_docs)))
		return r;
	if (!yaml_parser_initialize(&p))
		return -ENOMEM;
	yaml_parser_set_input_string(&p, (const unsigned char *)buf, len);
	size_t cap = 0;
	for (;;) {
		yaml_document_t doc;
		if (!yaml_parser_load(&p, &doc)) {
			r = yparser_fail(f, &p, buf, len);
			break;
		}
		if (!yaml_document_get_root_node(&doc)) { /* end of the stream */
			yaml_document_delete(&doc);
			break;
		}
		if (f->n_docs == cap) {
			cap = cap ? 2 * cap : 4;
			f->docs = st_xrealloc(f->docs, cap * sizeof(*f->docs));
		}
		f->docs[f->n_docs++] = doc;
	}
	yaml_parser_delete(&p);
	return r;
}

void st__yfile_free(st__yfile *f)
{
	if (!f)
		return;
	for (size_t i = 0; i < f->n_docs; i++)
		yaml_document_delete(&f->docs[i]);
	free(f->docs);
	f->docs = NULL;
	f->n_docs = 0;
}

yaml_node_t *st__ynode(yaml_document_t *d, int id)
{
	return yaml_document_get_node(d, id);
}

const char *st__ytext(const yaml_node_t *n)
{
	return (const char *)n->data.scalar.value;
}

size_t st__ylen(const yaml_node_t *n)
{
	return n->data.scalar.length;
}

static bool text_is(const yaml_node_t *n, const char *s)
{
	size_t l = strlen(s);
	return n->data.scalar.length == l && memcmp(n->data.scalar.value, s, l) == 0;
}

bool st__ynull(const yaml_node_t *n)
{
	if (!n)
		return true;
	if (n->type != YAML_SCALAR_NODE || n->data.scalar.style != YAML_PLAIN_SCALAR_STYLE)
		return false;
	return text_is(n, "") || text_is(n, "~") || text_is(n, "null") || text_is(n, "Null") ||
	       text_is(n, "NULL");
}

static const char *kind_word(const yaml_node_t *n)
{
	switch (n->type) {
	case YAML_SCALAR_NODE: return "a scalar";
	case YAML_SEQUENCE_NODE: return "a sequence";
	case YAML_MAPPING_NODE: return "a mapping";
	default: return "an empty node";
	}
}

int st__ywant_str(st__yfile *f, const yaml_node_t *n, const char *path)
{
	if (n->type != YAML_SCALAR_NODE)
		return st__yfail(f, n, "expected a string for '%s', found %s", path, kind_word(n));
	if (memchr(n->data.scalar.value, 0, n->data.scalar.length))
		return st__yfail(f, n, "'%s' contains a NUL character", path);
	return 0;
}

int st__yget(st__yfile *f, yaml_document_t *d, const yaml_node_t *map, const char *key,
	     const char *path, int want, yaml_node_t **ret)
{
	yaml_node_t *found = NULL;
	*ret = NULL;
	for (const yaml_node_pair_t *p = map->data.mapping.pairs.start;
	     p < map->data.mapping.pairs.top; p++) {
		yaml_node_t *k = st__ynode(d, p->key);
		if (!k || k->type != YAML_SCALAR_NODE || !text_is(k, key))
			continue;
		if (found)
			return st__yfail(f, k, "duplicate key '%s'", path);
		found = st__ynode(d, p->value);
	}
	if (!found || st__ynull(found))
		return 0;
	switch (want) {
	case ST__Y_STR: {
		int r = st__ywant_str(f, found, path);
		if (r)
			return r;
		break;
	}
	case ST__Y_MAP:
		if (found->type != YAML_MAPPING_NODE)
			return st__yfail(f, found, "expected a mapping for '%s', found %s", path,
					 kind_word(found));
		break;
	case ST__Y_SEQ:
		if (found->type != YAML_SEQUENCE_NODE)
			return st__yfail(f, found, "expected a sequence for '%s', found %s", path,
					 kind_word(found));
		break;
	default: break;
	}
	*ret = found;
	return 0;
}

/* ---- the catalog model -------------------------------------------------- */

enum ekind { K_COMPONENT, K_API, K_RESOURCE, K_SYSTEM, K_DOMAIN, K_GROUP, K_USER, K_LOCATION, K_N };
static const char *const ekind_names[K_N] = {
	"Component", "API", "Resource", "System", "Domain", "Group", "User", "Location",
};

/* Node types we emit, looked up once per parse. */
enum ntype {
	N_SERVICE,
	N_COMPONENT,
	N_API,
	N_RESOURCE,
	N_SYSTEM,
	N_DOMAIN,
	N_TEAM,
	N_USER,
	N_REPO,
	N_N
};
static const char *const ntype_names[N_N] = {
	"Service", "Component", "API", "Resource", "System", "Domain", "Team", "User", "Repository",
};
static const char *const ntype_prefix[N_N] = {
	"service", "component", "api", "resource", "system", "domain", "team", "user", "git",
};

enum etype {
	E_OWNS,
	E_PART_OF,
	E_MEMBER_OF,
	E_DEPENDS_ON,
	E_PROVIDES_API,
	E_CONSUMES_API,
	E_DEFINED_IN,
	E_N
};
static const char *const etype_names[E_N] = {
	"OWNS", "PART_OF", "MEMBER_OF", "DEPENDS_ON", "PROVIDES_API", "CONSUMES_API", "DEFINED_IN",
};

/* Ref fields: where they may appear, their default kind (NULL: the ref must
 * name one), the edge they make and its direction. */
typedef struct field {
	const char *key, *path;
	unsigned kinds; /* bit per enum ekind */
	bool list;
	const char *default_kind;
	enum etype edge;
	bool ref_to_self; /* edge goes ref -> entity (else entity -> ref) */
} field;

#define KB(k) (1u << (k))
static const field fields[] = {
	{"owner", "spec.owner",
	 KB(K_COMPONENT) | KB(K_API) | KB(K_RESOURCE) | KB(K_SYSTEM) | KB(K_DOMAIN), false, "group",
	 E_OWNS, true},
	{"system", "spec.system", KB(K_COMPONENT) | KB(K_API) | KB(K_RESOURCE), false, "system",
	 E_PART_OF, false},
	{"domain", "spec.domain", KB(K_SYSTEM), false, "domain", E_PART_OF, false},
	{"parent", "spec.parent", KB(K_GROUP), false, "group", E_PART_OF, false},
	{"children", "spec.children", KB(K_GROUP), true, "group", E_PART_OF, true},
	{"members", "spec.members", KB(K_GROUP), true, "user", E_MEMBER_OF, true},
	{"memberOf", "spec.memberOf", KB(K_USER), true, "group", E_MEMBER_OF, false},
	{"dependsOn", "spec.dependsOn", KB(K_COMPONENT) | KB(K_RESOURCE), true, NULL, E_DEPENDS_ON,
	 false},
	{"dependencyOf", "spec.dependencyOf", KB(K_COMPONENT) | KB(K_RESOURCE), true, NULL,
	 E_DEPENDS_ON, true},
	{"providesApis", "spec.providesApis", KB(K_COMPONENT), true, "api", E_PROVIDES_API, false},
	{"consumesApis", "spec.consumesApis", KB(K_COMPONENT), true, "api", E_CONSUMES_API, false},
};

typedef struct ref {
	const yaml_node_t *at;
	const field *fd;
	char *kind, *ns, *name; /* lowercase; ns defaults to the entity's */
} ref;

typedef struct entity {
	enum ekind kind;
	yaml_document_t *doc;
	uint32_t line;
	const yaml_node_t *root, *meta, *spec, *name_node;
	char *ns, *name;	      /* lowercase */
	const yaml_node_t *type_node; /* spec.type */
	enum ntype nt;
	char *id;
	size_t ref0, nref;
	uint8_t *blob;
	size_t blob_len;
} entity;

typedef struct edge {
	char *src, *dst;
	enum etype type;
	uint32_t line;
	bool with_path;
} edge;

typedef struct parse {
	st__yfile f;
	const st_schema *schema;
	int nt[N_N], et[E_N];
	const char *origin;
	const st_parse_ctx *ctx;
	entity *ents;
	size_t n_ents, cap_ents;
	const entity **comps; /* index_components() */
	size_t n_comps;
	ref *refs;
	size_t n_refs, cap_refs;
	edge *edges;
	size_t n_edges, cap_edges;
	st_strv targets;
	size_t skipped, locations;
	st_pb pb;
} parse;

/* ---- names and refs ----------------------------------------------------- */

static bool is_alnum(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

static char lower(char c)
{
	return (c >= 'A' && c <= 'Z') ? (char)(c - 'A' + 'a') : c;
}

static char *lowdup(const char *s, size_t n)
{
	char *d = st_xstrndup(s, n);
	for (size_t i = 0; i < n; i++)
		d[i] = lower(d[i]);
	return d;
}

/* Backstage names and namespaces: 1..63 of [A-Za-z0-9] in runs joined by
 * single '-', '_' or '.'. */
static bool valid_name(const char *s, size_t n)
{
	if (n == 0 || n > 63 || !is_alnum(s[0]) || !is_alnum(s[n - 1]))
		return false;
	for (size_t i = 1; i < n; i++) {
		if (is_alnum(s[i]))
			continue;
		if ((s[i] != '-' && s[i] != '_' && s[i] != '.') || !is_alnum(s[i - 1]))
			return false;
	}
	return true;
}

static bool valid_kind(const char *s, size_t n)
{
	if (n == 0 || n > 63)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!is_alnum(s[i]))
			return false;
	return true;
}

static bool eq_ci(const char *a, size_t n, const char *b)
{
	size_t m = strlen(b);
	if (n != m)
		return false;
	for (size_t i = 0; i < n; i++)
		if (lower(a[i]) != lower(b[i]))
			return false;
	return true;
}

/* Parse "[kind:][namespace/]name" at node n into a new ref of entity e. */
static int add_ref(parse *P, entity *e, const field *fd, const yaml_node_t *n)
{
	char qb[72];
	int r = st__ywant_str(&P->f, n, fd->path);
	if (r)
		return r;
	const char *s = st__ytext(n);
	size_t len = st__ylen(n);
	const char *colon = memchr(s, ':', len);
	const char *kind = fd->default_kind, *rest = s;
	size_t klen = kind ? strlen(kind) : 0, rlen = len;
	if (colon) {
		kind = s;
		klen = (size_t)(colon - s);
		rest = colon + 1;
		rlen = len - klen - 1;
		if (!valid_kind(kind, klen))
			return st__yfail(&P->f, n, "bad entity ref '%s' in %s: invalid kind",
					 st__yquote(qb, s, len), fd->path);
	} else if (!kind) {
		return st__yfail(&P->f, n,
				 "entity ref '%s' in %s needs a kind (e.g. component:%s or "
				 "resource:%s)",
				 st__yquote(qb, s, len), fd->path, st__yquote(qb, s, len),
				 st__yquote(qb, s, len));
	}
	const char *slash = memchr(rest, '/', rlen);
	const char *ns = NULL, *name = rest;
	size_t nslen = 0, nlen = rlen;
	if (slash) {
		ns = rest;
		nslen = (size_t)(slash - rest);
		name = slash + 1;
		nlen = rlen - nslen - 1;
		if (!valid_name(ns, nslen))
			return st__yfail(&P->f, n, "bad entity ref '%s' in %s: invalid namespace",
					 st__yquote(qb, s, len), fd->path);
	}
	if (!valid_name(name, nlen))
		return st__yfail(&P->f, n, "bad entity ref '%s' in %s: invalid name",
				 st__yquote(qb, s, len), fd->path);
	if (P->n_refs >= ST_CATALOG_MAX_REFS)
		return st__yfail(&P->f, n, "more than %d entity refs in one file",
				 ST_CATALOG_MAX_REFS);
	if (P->n_refs == P->cap_refs) {
		P->cap_refs = P->cap_refs ? 2 * P->cap_refs : 32;
		P->refs = st_xrealloc(P->refs, P->cap_refs * sizeof(*P->refs));
	}
	ref *rf = &P->refs[P->n_refs++];
	rf->at = n;
	rf->fd = fd;
	rf->kind = lowdup(kind, klen);
	rf->ns = ns ? lowdup(ns, nslen) : st_xstrndup(e->ns, strlen(e->ns));
	rf->name = lowdup(name, nlen);
	e->nref++;
	return 0;
}

/* "prefix:name" or "prefix:ns/name" (namespace "default" omitted). */
static char *make_id(const char *prefix, const char *ns, const char *name)
{
	size_t pl = strlen(prefix), nl = strlen(ns), ml = strlen(name);
	bool with_ns = strcmp(ns, "default") != 0;
	char *id = st_xmalloc(pl + 1 + (with_ns ? nl + 1 : 0) + ml + 1);
	if (with_ns)
		snprintf(id, pl + nl + ml + 3, "%s:%s/%s", prefix, ns, name);
	else
		snprintf(id, pl + ml + 2, "%s:%s", prefix, name);
	return id;
}

/* ---- phase 1: read one entity ------------------------------------------ */

static int check_scalar_map(parse *P, yaml_document_t *d, const yaml_node_t *map, const char *path)
{
	for (const yaml_node_pair_t *p = map->data.mapping.pairs.start;
	     p < map->data.mapping.pairs.top; p++) {
		int r;
		const yaml_node_t *k = st__ynode(d, p->key);
		if ((r = st__ywant_str(&P->f, k, path)) ||
		    (r = st__ywant_str(&P->f, st__ynode(d, p->value), path)))
			return r;
		if (st__ylen(k) == 0)
			return st__yfail(&P->f, k, "empty key in '%s'", path);
	}
	return 0;
}

static int check_scalar_seq(parse *P, yaml_document_t *d, const yaml_node_t *seq, const char *path)
{
	for (const yaml_node_item_t *it = seq->data.sequence.items.start;
	     it < seq->data.sequence.items.top; it++) {
		int r = st__ywant_str(&P->f, st__ynode(d, *it), path);
		if (r)
			return r;
	}
	return 0;
}

static int read_entity(parse *P, yaml_document_t *d)
{
	char qb[72];
	st__yfile *f = &P->f;
	yaml_node_t *root = yaml_document_get_root_node(d), *v;
	int r;
	if (st__ynull(root))
		return 0; /* an empty document */
	if (root->type != YAML_MAPPING_NODE)
		return st__yfail(f, root, "expected a mapping (a catalog entity), found %s",
				 kind_word(root));
	yaml_node_t *api, *kind, *meta, *name;
	if ((r = st__yget(f, d, root, "apiVersion", "apiVersion", ST__Y_STR, &api)) ||
	    (r = st__yget(f, d, root, "kind", "kind", ST__Y_STR, &kind)))
		return r;
	if (!api)
		return st__yfail(f, root, "missing apiVersion");
	if (!kind)
		return st__yfail(f, root, "missing kind");
	size_t k = 0;
	while (k < K_N && !eq_ci(st__ytext(kind), st__ylen(kind), ekind_names[k]))
		k++;
	if (k == K_N ||
	    !(text_is(api, "backstage.io/v1alpha1") || text_is(api, "backstage.io/v1beta1"))) {
		P->skipped++;
		return 0;
	}
	if ((r = st__yget(f, d, root, "metadata", "metadata", ST__Y_MAP, &meta)))
		return r;
	if (!meta)
		return st__yfail(f, root, "missing metadata.name");
	if ((r = st__yget(f, d, meta, "name", "metadata.name", ST__Y_STR, &name)))
		return r;
	if (!name)
		return st__yfail(f, meta, "missing metadata.name");
	if (!valid_name(st__ytext(name), st__ylen(name)))
		return st__yfail(f, name,
				 "invalid metadata.name '%s' (1..63 letters and digits joined "
				 "by '-', '_' or '.')",
				 st__yquote(qb, st__ytext(name), st__ylen(name)));
	yaml_node_t *ns;
	if ((r = st__yget(f, d, meta, "namespace", "metadata.namespace", ST__Y_STR, &ns)))
		return r;
	if (ns && !valid_name(st__ytext(ns), st__ylen(ns)))
		return st__yfail(f, ns, "invalid metadata.namespace '%s'",
				 st__yquote(qb, st__ytext(ns), st__ylen(ns)));
	/* metadata values we keep */
	if ((r = st__yget(f, d, meta, "title", "metadata.title", ST__Y_STR, &v)) ||
	    (r = st__yget(f, d, meta, "description", "metadata.description", ST__Y_STR, &v)))
		return r;
	if ((r = st__yget(f, d, meta, "labels", "metadata.labels", ST__Y_MAP, &v)) ||
	    (v && (r = check_scalar_map(P, d, v, "metadata.labels"))))
		return r;
	if ((r = st__yget(f, d, meta, "annotations", "metadata.annotations", ST__Y_MAP, &v)) ||
	    (v && (r = check_scalar_map(P, d, v, "metadata.annotations"))))
		return r;
	if ((r = st__yget(f, d, meta, "tags", "metadata.tags", ST__Y_SEQ, &v)) ||
	    (v && (r = check_scalar_seq(P, d, v, "metadata.tags"))))
		return r;

	yaml_node_t *spec;
	if ((r = st__yget(f, d, root, "spec", "spec", ST__Y_MAP, &spec)))
		return r;

	if (k == K_LOCATION) {
		P->locations++;
		if (!spec)
			return 0;
		yaml_node_t *t, *ts;
		if ((r = st__yget(f, d, spec, "target", "spec.target", ST__Y_STR, &t)) ||
		    (r = st__yget(f, d, spec, "targets", "spec.targets", ST__Y_SEQ, &ts)) ||
		    (ts && (r = check_scalar_seq(P, d, ts, "spec.targets"))))
			return r;
		if (t)
			strv_push(&P->targets, st__ytext(t), st__ylen(t));
		for (const yaml_node_item_t *it = ts ? ts->data.sequence.items.start : NULL;
		     ts && it < ts->data.sequence.items.top; it++) {
			yaml_node_t *n = st__ynode(d, *it);
			strv_push(&P->targets, st__ytext(n), st__ylen(n));
		}
		return 0;
	}

	if (P->n_ents == P->cap_ents) {
		P->cap_ents = P->cap_ents ? 2 * P->cap_ents : 16;
		P->ents = st_xrealloc(P->ents, P->cap_ents * sizeof(*P->ents));
	}
	entity *e = &P->ents[P->n_ents++];
	memset(e, 0, sizeof(*e));
	e->kind = (enum ekind)k;
	e->doc = d;
	e->line = (uint32_t)d->start_mark.line + 1;
	e->root = root;
	e->meta = meta;
	e->spec = spec;
	e->name_node = name;
	e->name = lowdup(st__ytext(name), st__ylen(name));
	e->ns = ns ? lowdup(st__ytext(ns), st__ylen(ns)) : st_xstrndup("default", 7);
	e->ref0 = P->n_refs;

	if (spec) {
		static const char *const str_keys[] = {"type", "lifecycle"};
		for (size_t i = 0; i < ST_ARRAY_LEN(str_keys); i++) {
			char path[32];
			snprintf(path, sizeof(path), "spec.%s", str_keys[i]);
			if ((r = st__yget(f, d, spec, str_keys[i], path, ST__Y_STR, &v)))
				return r;
			if (i == 0)
				e->type_node = v;
		}
		if (k == K_GROUP || k == K_USER) {
			yaml_node_t *prof;
			if ((r = st__yget(f, d, spec, "profile", "spec.profile", ST__Y_MAP, &prof)))
				return r;
			if (prof && ((r = st__yget(f, d, prof, "email", "spec.profile.email",
						   ST__Y_STR, &v)) ||
				     (r = st__yget(f, d, prof, "displayName",
						   "spec.profile.displayName", ST__Y_STR, &v))))
				return r;
		}
		for (size_t i = 0; i < ST_ARRAY_LEN(fields); i++) {
			const field *fd = &fields[i];
			if (!(fd->kinds & KB(k)))
				continue;
			if ((r = st__yget(f, d, spec, fd->key, fd->path,
					  fd->list ? ST__Y_SEQ : ST__Y_STR, &v)))
				return r;
			if (!v)
				continue;
			if (!fd->list) {
				if ((r = add_ref(P, e, fd, v)))
					return r;
				continue;
			}
			for (const yaml_node_item_t *it = v->data.sequence.items.start;
			     it < v->data.sequence.items.top; it++)
				if ((r = add_ref(P, e, fd, st__ynode(d, *it))))
					return r;
		}
	}
	if (k == K_COMPONENT && !e->type_node)
		return st__yfail(f, spec ? spec : root,
				 "missing spec.type (a Component needs one)");
	static const enum ntype kind_ntype[K_N] = {
		[K_COMPONENT] = N_COMPONENT, [K_API] = N_API,	    [K_RESOURCE] = N_RESOURCE,
		[K_SYSTEM] = N_SYSTEM,	     [K_DOMAIN] = N_DOMAIN, [K_GROUP] = N_TEAM,
		[K_USER] = N_USER,
	};
	e->nt = kind_ntype[k];
	if (k == K_COMPONENT && eq_ci(st__ytext(e->type_node), st__ylen(e->type_node), "service"))
		e->nt = N_SERVICE;
	e->id = make_id(ntype_prefix[e->nt], e->ns, e->name);
	return 0;
}

/* ---- phase 2: resolve, check, build ------------------------------------- */

static int ns_name_cmp(const entity *e, const char *ns, const char *name)
{
	int c = strcmp(e->ns, ns);
	return c ? c : strcmp(e->name, name);
}

static int comp_cmp(const void *a, const void *b)
{
	const entity *x = *(const entity *const *)a, *y = *(const entity *const *)b;
	return ns_name_cmp(x, y->ns, y->name);
}

/* The non-service Components of the file, sorted by (namespace, name). */
static void index_components(parse *P)
{
	P->comps = st_xcalloc(P->n_ents ? P->n_ents : 1, sizeof(*P->comps));
	for (size_t i = 0; i < P->n_ents; i++)
		if (P->ents[i].nt == N_COMPONENT)
			P->comps[P->n_comps++] = &P->ents[i];
	qsort(P->comps, P->n_comps, sizeof(*P->comps), comp_cmp);
}

/* The node type a ref of this (lowercase) kind points at, or -1. */
static int ref_ntype(const parse *P, const ref *rf)
{
	static const struct {
		const char *kind;
		enum ntype nt;
	} map[] = {
		{"api", N_API},	      {"resource", N_RESOURCE}, {"system", N_SYSTEM},
		{"domain", N_DOMAIN}, {"group", N_TEAM},	{"user", N_USER},
	};
	if (!strcmp(rf->kind, "component")) {
		/* Declared here with a non-service type: a Component; otherwise
		 * we cannot know, and services are what refs mostly mean. */
		size_t lo = 0, hi = P->n_comps;
		while (lo < hi) {
			size_t mid = lo + (hi - lo) / 2;
			int c = ns_name_cmp(P->comps[mid], rf->ns, rf->name);
			if (c == 0)
				return N_COMPONENT;
			if (c < 0)
				lo = mid + 1;
			else
				hi = mid;
		}
		return N_SERVICE;
	}
	for (size_t i = 0; i < ST_ARRAY_LEN(map); i++)
		if (!strcmp(rf->kind, map[i].kind))
			return (int)map[i].nt;
	return -1;
}

static void add_edge(parse *P, char *src, char *dst, enum etype t, uint32_t line, bool with_path)
{
	if (P->n_edges == P->cap_edges) {
		P->cap_edges = P->cap_edges ? 2 * P->cap_edges : 32;
		P->edges = st_xrealloc(P->edges, P->cap_edges * sizeof(*P->edges));
	}
	P->edges[P->n_edges++] = (edge){src, dst, t, line, with_path};
}

static int ident_cmp(const void *a, const void *b)
{
	const entity *x = *(const entity *const *)a, *y = *(const entity *const *)b;
	if (x->kind != y->kind)
		return x->kind < y->kind ? -1 : 1;
	int c = ns_name_cmp(x, y->ns, y->name);
	return c ? c : (x > y) - (x < y); /* file order among equals */
}

/* Entity identity is kind + namespace + name (case-insensitive): the second
 * declaration in file order is the problem. */
static int check_duplicates(parse *P)
{
	char qb[72];
	const entity **v = st_xcalloc(P->n_ents ? P->n_ents : 1, sizeof(*v));
	for (size_t i = 0; i < P->n_ents; i++)
		v[i] = &P->ents[i];
	qsort(v, P->n_ents, sizeof(*v), ident_cmp);
	const entity *dup = NULL, *first = NULL;
	for (size_t i = 1; i < P->n_ents; i++) {
		const entity *a = v[i - 1], *b = v[i];
		if (a->kind == b->kind && !ns_name_cmp(a, b->ns, b->name) && (!dup || b < dup)) {
			dup = b;
			first = a;
		}
	}
	free(v);
	if (!dup)
		return 0;
	return st__yfail(&P->f, dup->name_node, "duplicate %s '%s' (first declared at line %u)",
			 ekind_names[dup->kind], st__yquote(qb, dup->name, strlen(dup->name)),
			 (unsigned)first->line);
}

static int resolve(parse *P)
{
	char qb[72];
	for (size_t i = 0; i < P->n_ents; i++) {
		entity *e = &P->ents[i];
		for (size_t j = e->ref0; j < e->ref0 + e->nref; j++) {
			const ref *rf = &P->refs[j];
			int nt = ref_ntype(P, rf);
			if (nt < 0)
				return st__yfail(
					&P->f, rf->at,
					"entity ref '%s' in %s: kind '%s' cannot be referenced "
					"(no node type)",
					st__yquote(qb, st__ytext(rf->at), st__ylen(rf->at)),
					rf->fd->path, rf->kind);
			size_t from = (size_t)P->nt[rf->fd->ref_to_self ? nt : (int)e->nt];
			size_t to = (size_t)P->nt[rf->fd->ref_to_self ? (int)e->nt : nt];
			size_t et = (size_t)P->et[rf->fd->edge];
			if (!st_schema_edge_allows(P->schema, et, from, to))
				return st__yfail(
					&P->f, rf->at,
					"entity ref '%s' in %s would make a %s edge from %s to "
					"%s, which the schema does not allow",
					st__yquote(qb, st__ytext(rf->at), st__ylen(rf->at)),
					rf->fd->path, etype_names[rf->fd->edge],
					ntype_names[rf->fd->ref_to_self ? nt : (int)e->nt],
					ntype_names[rf->fd->ref_to_self ? (int)e->nt : nt]);
			char *other = make_id(ntype_prefix[nt], rf->ns, rf->name);
			char *self = st_xstrndup(e->id, strlen(e->id));
			if (rf->fd->ref_to_self)
				add_edge(P, other, self, rf->fd->edge, e->line, false);
			else
				add_edge(P, self, other, rf->fd->edge, e->line, false);
		}
		if (P->ctx->repo_id) {
			if (!st_schema_edge_allows(P->schema, (size_t)P->et[E_DEFINED_IN],
						   (size_t)P->nt[e->nt], (size_t)P->nt[N_REPO]))
				return st__yfail(&P->f, e->root,
						 "the schema does not allow DEFINED_IN from %s",
						 ntype_names[e->nt]);
			add_edge(P, st_xstrndup(e->id, strlen(e->id)),
				 st_xstrndup(P->ctx->repo_id, strlen(P->ctx->repo_id)),
				 E_DEFINED_IN, e->line, true);
		}
	}
	return 0;
}

/* Drop repeated (src, type, dst) edges, keeping the first; a hash set of
 * indexes sized to stay at most half full. */
static uint64_t edge_hash(const edge *e)
{
	uint64_t h = 1469598103934665603ull ^ (uint64_t)e->type;
	for (const char *s = e->src; *s; s++)
		h = (h ^ (unsigned char)*s) * 1099511628211ull;
	h = (h ^ 0xff) * 1099511628211ull;
	for (const char *s = e->dst; *s; s++)
		h = (h ^ (unsigned char)*s) * 1099511628211ull;
	return h;
}

static void dedupe_edges(parse *P)
{
	size_t cap = 16;
	while (cap < 2 * P->n_edges)
		cap *= 2;
	size_t *slots = st_xcalloc(cap, sizeof(*slots)); /* index + 1; 0 empty */
	size_t out = 0;
	for (size_t i = 0; i < P->n_edges; i++) {
		edge *e = &P->edges[i];
		size_t s = (size_t)edge_hash(e) & (cap - 1);
		bool dup = false;
		while (slots[s]) {
			const edge *o = &P->edges[slots[s] - 1];
			if (o->type == e->type && !strcmp(o->src, e->src) &&
			    !strcmp(o->dst, e->dst)) {
				dup = true;
				break;
			}
			s = (s + 1) & (cap - 1);
		}
		if (dup) {
			free(e->src);
			free(e->dst);
			continue;
		}
		P->edges[out] = *e;
		slots[s] = ++out;
	}
	P->n_edges = out;
	free(slots);
}

static int pb_str(parse *P, const char *key, const yaml_node_t *v)
{
	if (!v)
		return 0;
	return st_pb_string(&P->pb, key, strlen(key), st__ytext(v), st__ylen(v));
}

static int pb_map(parse *P, yaml_document_t *d, const char *key, const yaml_node_t *m,
		  st_diag *diag)
{
	if (!m)
		return 0;
	int r = st_pb_map_begin(&P->pb, key, strlen(key));
	if (r)
		return r;
	for (const yaml_node_pair_t *p = m->data.mapping.pairs.start; p < m->data.mapping.pairs.top;
	     p++) {
		const yaml_node_t *k = st__ynode(d, p->key), *v = st__ynode(d, p->value);
		st_pb_map_add(&P->pb, st__ytext(k), st__ylen(k), st__ytext(v), st__ylen(v));
	}
	if (st_pb_end(&P->pb, diag) < 0) /* a repeated key */
		return st__yfail(&P->f, m, "metadata.%s has a repeated key", key);
	return 0;
}

static int pb_list(parse *P, yaml_document_t *d, const char *key, const yaml_node_t *s,
		   st_diag *diag)
{
	if (!s)
		return 0;
	int r = st_pb_list_begin(&P->pb, key, strlen(key));
	if (r)
		return r;
	for (const yaml_node_item_t *it = s->data.sequence.items.start;
	     it < s->data.sequence.items.top; it++) {
		const yaml_node_t *v = st__ynode(d, *it);
		if (st__ylen(v)) /* an empty tag says nothing */
			st_pb_list_add(&P->pb, st__ytext(v), st__ylen(v));
	}
	return st_pb_end(&P->pb, diag);
}

static int build_props(parse *P, entity *e, st_diag *diag)
{
	st__yfile *f = &P->f;
	yaml_document_t *d = e->doc;
	yaml_node_t *title, *desc, *labels, *ann, *tags, *life = NULL, *prof = NULL, *email = NULL,
							 *display = NULL;
	int r;
	st_pb_reset(&P->pb);
	/* Types were checked in phase 1; these look-ups cannot fail now. */
	st__yget(f, d, e->meta, "title", "", ST__Y_STR, &title);
	st__yget(f, d, e->meta, "description", "", ST__Y_STR, &desc);
	st__yget(f, d, e->meta, "labels", "", ST__Y_MAP, &labels);
	st__yget(f, d, e->meta, "annotations", "", ST__Y_MAP, &ann);
	st__yget(f, d, e->meta, "tags", "", ST__Y_SEQ, &tags);
	if (e->spec) {
		st__yget(f, d, e->spec, "lifecycle", "", ST__Y_STR, &life);
		st__yget(f, d, e->spec, "profile", "", ST__Y_MAP, &prof);
		if (prof) {
			st__yget(f, d, prof, "email", "", ST__Y_STR, &email);
			st__yget(f, d, prof, "displayName", "", ST__Y_STR, &display);
		}
	}
	if ((r = pb_str(P, "name", e->name_node)) ||
	    (r = pb_str(P, "title", title ? title : display)) ||
	    (r = pb_str(P, "description", desc)) || (r = pb_map(P, d, "labels", labels, diag)) ||
	    (r = pb_map(P, d, "annotations", ann, diag)) || (r = pb_list(P, d, "tags", tags, diag)))
		return r;
	switch (e->nt) {
	case N_SERVICE:
	case N_API:
	case N_SYSTEM:
	case N_DOMAIN:
		r = pb_str(P, "lifecycle", life);
		if (!r && e->nt == N_API)
			r = pb_str(P, "api_type", e->type_node);
		break;
	case N_COMPONENT:
		if (!(r = pb_str(P, "lifecycle", life)))
			r = pb_str(P, "component_type", e->type_node);
		break;
	case N_RESOURCE: r = pb_str(P, "resource_type", e->type_node); break;
	case N_TEAM:
		if (!(r = pb_str(P, "group_type", e->type_node)))
			r = pb_str(P, "email", email);
		break;
	case N_USER: r = pb_str(P, "email", email); break;
	default: break;
	}
	if (r)
		return r == ST_E_INVALID ? r : st__yfail(f, e->root, "too many properties");
	const uint8_t *blob;
	size_t len;
	if ((r = st_pb_finish(&P->pb, &blob, &len, diag)))
		return st__yfail(f, e->root, "%s", diag ? diag->msg : "invalid properties");
	e->blob = st_xmalloc(len ? len : 1);
	if (len)
		memcpy(e->blob, blob, len);
	e->blob_len = len;
	return 0;
}

/* ---- phase 3: emit ------------------------------------------------------- */

static int emit(parse *P, st_sink *sink, st_diag *diag)
{
	int r;
	for (size_t i = 0; i < P->n_ents; i++) {
		const entity *e = &P->ents[i];
		st_loc loc = {P->origin, e->line};
		if ((r = sink->node(sink, e->id, strlen(e->id), P->nt[e->nt], e->blob, e->blob_len,
				    loc, diag)))
			return r;
	}
	const uint8_t *empty, *with_path;
	size_t empty_len, path_len;
	st_pb_reset(&P->pb);
	if ((r = st_pb_finish(&P->pb, &empty, &empty_len, diag)))
		return r;
	uint8_t *e0 = st_xmalloc(empty_len + 1);
	if (empty_len)
		memcpy(e0, empty, empty_len);
	st_pb_reset(&P->pb);
	const char *path = P->ctx->path;
	if ((r = st_pb_string(&P->pb, "path", 4, path, strlen(path))) ||
	    (r = st_pb_finish(&P->pb, &with_path, &path_len, diag))) {
		free(e0);
		return r;
	}
	for (size_t i = 0; i < P->n_edges; i++) {
		const edge *e = &P->edges[i];
		st_loc loc = {P->origin, e->line};
		r = sink->edge(sink, e->src, strlen(e->src), e->dst, strlen(e->dst), P->et[e->type],
			       e->with_path ? with_path : e0, e->with_path ? path_len : empty_len,
			       loc, diag);
		if (r)
			break;
	}
	free(e0);
	return r;
}

/* ---- public ------------------------------------------------------------- */

static void parse_free(parse *P)
{
	for (size_t i = 0; i < P->n_ents; i++) {
		free(P->ents[i].ns);
		free(P->ents[i].name);
		free(P->ents[i].id);
		free(P->ents[i].blob);
	}
	free(P->ents);
	free(P->comps);
	for (size_t i = 0; i < P->n_refs; i++) {
		free(P->refs[i].kind);
		free(P->refs[i].ns);
		free(P->refs[i].name);
	}
	free(P->refs);
	for (size_t i = 0; i < P->n_edges; i++) {
		free(P->edges[i].src);
		free(P->edges[i].dst);
	}
	free(P->edges);
	st_strv_free(&P->targets);
	st_pb_free(&P->pb);
	st__yfile_free(&P->f);
}

int st_backstage_parse(st_sink *sink, const st_parse_ctx *ctx, const char *buf, size_t len,
		       st_catalog_stats *ret_stats, st_strv *ret_targets, st_diag *diag)
{
	if (!sink || !sink->schema || !sink->node || !sink->edge || !ctx || !ctx->source ||
	    !ctx->path || (!buf && len))
		return st_diag_set(diag, -EINVAL, "backstage: invalid arguments");
	if (!buf)
		buf = "";
	char *own_origin = NULL;
	const char *origin = ctx->origin;
	if (!origin) {
		size_t n = strlen(ctx->source) + strlen(ctx->path) + 2;
		own_origin = st_xmalloc(n);
		snprintf(own_origin, n, "%s:%s", ctx->source, ctx->path);
		origin = own_origin;
	}
	parse P = {.schema = sink->schema, .origin = origin, .ctx = ctx};
	st_pb_init(&P.pb);
	int r = 0;
	for (size_t i = 0; i < N_N; i++)
		if ((P.nt[i] = st_schema_find_node_type(P.schema, ntype_names[i],
							strlen(ntype_names[i]))) < 0)
			r = st_diag_set(diag, ST_E_SCHEMA, "%s: the schema has no node type %s",
					origin, ntype_names[i]);
	for (size_t i = 0; i < E_N; i++)
		if ((P.et[i] = st_schema_find_edge_type(P.schema, etype_names[i],
							strlen(etype_names[i]))) < 0)
			r = st_diag_set(diag, ST_E_SCHEMA, "%s: the schema has no edge type %s",
					origin, etype_names[i]);
	if (r)
		goto out;

	r = st__yfile_load(&P.f, origin, buf, len, ST_CATALOG_MAX_DOCS);
	for (size_t i = 0; !r && i < P.f.n_docs; i++)
		r = read_entity(&P, &P.f.docs[i]);
	if (!r)
		r = check_duplicates(&P);
	if (!r) {
		index_components(&P);
		r = resolve(&P);
	}
	for (size_t i = 0; !r && i < P.n_ents; i++)
		r = build_props(&P, &P.ents[i], diag);
	if (r == ST_E_INVALID) {
		st__yfile_report(&P.f, sink, diag);
		goto out;
	}
	if (r) {
		if (r == -ENOMEM)
			st_diag_set(diag, r, "%s: out of memory", origin);
		goto out;
	}
	dedupe_edges(&P);
	if ((r = emit(&P, sink, diag)))
		goto out;
	if (ret_stats)
		*ret_stats = (st_catalog_stats){.entities = P.n_ents,
						.locations = P.locations,
						.skipped = P.skipped,
						.edges = P.n_edges};
	if (ret_targets)
		for (size_t i = 0; i < P.targets.n; i++)
			strv_push(ret_targets, P.targets.v[i], strlen(P.targets.v[i]));
out:
	parse_free(&P);
	free(own_origin);
	return r;
}
