/*
 * fuzz_k8sdump.c — fuzz target for the Kubernetes connector's dump mode
 * (connectors/k8s.c, st_connector_k8s, with the manifest set of
 * connectors/manifest.c behind it).
 *
 * Each input is written as the one file dump.json of a directory (created on
 * the first call under $TMPDIR or /tmp, reused, removed at exit), and
 * st_connector_k8s.run() reads that directory (source "fuzz", option
 * cluster=fz) into a counting sink defined here.  Whatever the input
 * (docs/connectors.md, "Kubernetes"):
 *   - the run returns 0: a malformed file is one warning at
 *     "fuzz:dump.json" line 0, after which nothing of the file is emitted
 *     (the cluster node only); a negative return is a failure unless it is
 *     the object limit (unreachable at this input size);
 *   - node ids are "k8s:fz", "k8s:fz/<ns>", "k8s:fz/Node/<name>" or
 *     "k8s:fz/<ns>/<Kind>/<name>" with segments of 1..253 bytes of
 *     [A-Za-z0-9._-], at most ST_NODE_ID_MAX bytes (the store refuses
 *     longer ids, failing the sync); the node type is the one the shape and
 *     Kind name; properties satisfy the schema and agree with the id
 *     (cluster, namespace, name); the cluster node comes first, once, with
 *     its name only; a namespace node comes once;
 *   - every edge joins two nodes emitted before it in this run (dumps
 *     declare the cluster and the set is complete: SCOPED_IN reaches the
 *     cluster node, ROUTES_TO only Services that were read), with a type the
 *     schema allows between them and the shape the docs give (SCOPED_IN to
 *     the object's own namespace, CONTROLLED_BY / SELECTS / ROUTES_TO within
 *     one namespace, RUNS_ON Pod -> Node); no DECLARED_IN;
 *   - hints only on Deployments, StatefulSets, DaemonSets, CronJobs and
 *     Jobs, with the manifest rules, evidence "label|annotation|pod template
 *     label KEY=VALUE" for the rule's key, quoting a label or annotation the
 *     node carries;
 *   - facts and notes carry {"fuzz:dump.json", 1..objects} (the cluster
 *     node {NULL, 0}); no state; progress "k8s objects", never list pages;
 *   - the annotation kubectl.kubernetes.io/last-applied-configuration is
 *     never kept.  Seeds plant marker tokens "FUZZ-APPLIED-<word>" in its
 *     value.  The target reads the input itself (a yajl event pass) and
 *     files each marker token as "secret" when it sits in that annotation's
 *     value of an object the connector reads (root or items[*],
 *     metadata.annotations), else as "allowed"; every marker token in an id,
 *     property (strings, list items, map keys and values), edge, hint,
 *     warning, note or message must be a prefix of an allowed token (names
 *     in notes are cut).  Where it cannot tell it errs towards "allowed", so
 *     a report is always a real leak.
 * Any violation abort()s.  With STACKTWIN_FUZZ_VERBOSE set in the
 * environment it prints each run's outcome.
 *
 * This file only checks; it must not fix or work around what it finds.
 */
#include <dirent.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <yajl/yajl_parse.h>

#include "common.h"
#include "connector.h"
#include "fuzz_file.h"
#include "props.h"
#include "schema.h"

#define FUZZ_MAX_INPUT ((size_t)64 << 10)

#define SOURCE "fuzz"
#define FILE_NAME "dump.json"
#define ORIGIN SOURCE ":" FILE_NAME
#define CLUSTER "fz"
#define CLUSTER_ID "k8s:" CLUSTER

#define LAST_APPLIED "kubectl.kubernetes.io/last-applied-configuration"
#define MARKER "FUZZ-APPLIED-"
#define MARKER_LEN (sizeof(MARKER) - 1)

/* docs/connectors.md, "Kubernetes" ("Dropped on purpose") */
#define MAX_VALUE ((size_t)64 << 10)
#define MAX_MAP 4096
#define MAX_SEGMENT 253

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

__attribute__((noreturn)) static void fail(const char *what, const char *detail)
{
	fprintf(stderr, "fuzz_k8sdump: %s%s%s\n", what, detail ? ": " : "", detail ? detail : "");
	abort();
}

static void *xrealloc(void *p, size_t n)
{
	p = realloc(p, n ? n : 1);
	if (!p)
		fail("out of memory", NULL);
	return p;
}

static char *xmemdup(const void *s, size_t n)
{
	char *d = xrealloc(NULL, n + 1);
	if (n)
		memcpy(d, s, n);
	d[n] = 0;
	return d;
}

/* A short printable copy of s for messages. */
static const char *shown(const char *s, size_t n, char buf[128])
{
	size_t m = n < 120 ? n : 120;
	for (size_t i = 0; i < m; i++)
		buf[i] = (unsigned char)s[i] < 0x20 || (unsigned char)s[i] >= 0x7f ? '?' : s[i];
	buf[m] = 0;
	return buf;
}

static bool eq(const char *s, size_t n, const char *lit)
{
	return n == strlen(lit) && !memcmp(s, lit, n);
}

/* ---- marker tokens ------------------------------------------------------- */

typedef struct tokset {
	char **v;
	size_t *len;
	size_t n, cap;
} tokset;

static bool tok_char(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       c == '_';
}

/* Calls fn for every marker token in s[0..n): the marker and the token
 * characters after it. */
static void each_token(const char *s, size_t n, void (*fn)(void *, const char *, size_t), void *ctx)
{
	if (!s)
		return;
	for (size_t i = 0; n >= MARKER_LEN && i <= n - MARKER_LEN; i++) {
		if (memcmp(s + i, MARKER, MARKER_LEN))
			continue;
		size_t e = i + MARKER_LEN;
		while (e < n && tok_char((unsigned char)s[e]))
			e++;
		fn(ctx, s + i, e - i);
		i = e - 1;
	}
}

static void tok_add(void *ctx, const char *s, size_t n)
{
	tokset *t = ctx;
	for (size_t i = 0; i < t->n; i++)
		if (t->len[i] == n && !memcmp(t->v[i], s, n))
			return;
	if (t->n == t->cap) {
		t->cap = t->cap ? 2 * t->cap : 16;
		t->v = xrealloc(t->v, t->cap * sizeof(*t->v));
		t->len = xrealloc(t->len, t->cap * sizeof(*t->len));
	}
	t->v[t->n] = xmemdup(s, n);
	t->len[t->n++] = n;
}

static void tok_clear(tokset *t)
{
	for (size_t i = 0; i < t->n; i++)
		free(t->v[i]);
	t->n = 0;
}

/* ---- where the input holds markers (a yajl event pass) -------------------- */

enum role {
	RO_OTHER,  /* read or not, the connector may copy what is here */
	RO_ROOT,   /* the top-level map: an object or a list */
	RO_ITEMS,  /* root "items" */
	RO_OBJ,	   /* an element of items */
	RO_META,   /* metadata of the root or an item */
	RO_ANNS,   /* its annotations */
	RO_SECRET, /* inside the value of the last-applied annotation */
};

#define ORACLE_FRAMES 256

typedef struct oframe {
	uint8_t role;
	bool is_map;
	bool key_la; /* the current key is the last-applied annotation */
	bool key_items, key_meta, key_anns;
} oframe;

typedef struct oracle {
	tokset *allowed, *secret;
	oframe fr[ORACLE_FRAMES];
	size_t depth; /* may exceed ORACLE_FRAMES: deeper frames are RO_OTHER/RO_SECRET */
	bool deep_secret;
} oracle;

static oframe *ocur(oracle *o)
{
	return o->depth && o->depth <= ORACLE_FRAMES ? &o->fr[o->depth - 1] : NULL;
}

/* Whether the value now arriving is the last-applied annotation's value,
 * or inside it. */
static bool value_secret(oracle *o)
{
	if (o->deep_secret)
		return true;
	oframe *f = ocur(o);
	if (!f)
		return false;
	if (f->role == RO_SECRET)
		return true;
	return f->role == RO_ANNS && f->is_map && f->key_la;
}

static void o_text(oracle *o, const char *s, size_t n)
{
	each_token(s, n, tok_add, value_secret(o) ? o->secret : o->allowed);
}

static int o_string(void *ctx, const unsigned char *s, size_t n)
{
	o_text(ctx, (const char *)s, n);
	return 1;
}

static int o_key(void *ctx, const unsigned char *s, size_t n)
{
	oracle *o = ctx;
	oframe *f = ocur(o);
	/* a key inside the secret value is secret; any other key may be copied */
	bool secret = o->deep_secret || (f && f->role == RO_SECRET);
	each_token((const char *)s, n, tok_add, secret ? o->secret : o->allowed);
	if (f) {
		const char *k = (const char *)s;
		f->key_la = eq(k, n, LAST_APPLIED);
		f->key_items = eq(k, n, "items");
		f->key_meta = eq(k, n, "metadata");
		f->key_anns = eq(k, n, "annotations");
	}
	return 1;
}

static int o_scalar(void *ctx)
{
	(void)ctx;
	return 1;
}

static int o_bool(void *ctx, int b)
{
	(void)b;
	return o_scalar(ctx);
}

static int o_number(void *ctx, const char *s, size_t n)
{
	(void)s, (void)n;
	return o_scalar(ctx);
}

static int o_open(oracle *o, bool is_map)
{
	bool secret = value_secret(o);
	oframe *p = ocur(o);
	int role = RO_OTHER;
	if (secret)
		role = RO_SECRET;
	else if (!o->depth)
		role = is_map ? RO_ROOT : RO_OTHER;
	else if (p && p->is_map && is_map && p->key_meta &&
		 (p->role == RO_ROOT || p->role == RO_OBJ))
		role = RO_META;
	else if (p && p->is_map && is_map && p->key_anns && p->role == RO_META)
		role = RO_ANNS;
	else if (p && p->is_map && !is_map && p->key_items && p->role == RO_ROOT)
		role = RO_ITEMS;
	else if (p && !p->is_map && is_map && p->role == RO_ITEMS)
		role = RO_OBJ;
	if (o->depth >= ORACLE_FRAMES) {
		/* deeper than the connector reads (128): nothing below is kept */
		o->deep_secret = o->deep_secret || secret;
		o->depth++;
		return 1;
	}
	o->fr[o->depth++] = (oframe){.role = (uint8_t)role, .is_map = is_map};
	return 1;
}

static int o_start_map(void *ctx)
{
	return o_open(ctx, true);
}

static int o_start_array(void *ctx)
{
	return o_open(ctx, false);
}

static int o_end(void *ctx)
{
	oracle *o = ctx;
	if (o->depth)
		o->depth--;
	if (o->depth <= ORACLE_FRAMES)
		o->deep_secret = false;
	return 1;
}

static const yajl_callbacks oracle_callbacks = {
	.yajl_null = o_scalar,
	.yajl_boolean = o_bool,
	.yajl_number = o_number,
	.yajl_string = o_string,
	.yajl_start_map = o_start_map,
	.yajl_map_key = o_key,
	.yajl_end_map = o_end,
	.yajl_start_array = o_start_array,
	.yajl_end_array = o_end,
};

/* File every marker token of the input.  The connector parses with yajl's
 * defaults too, so both stop at the same byte; a token after that point is
 * never read by either. */
static void read_markers(const uint8_t *data, size_t size, tokset *allowed, tokset *secret)
{
	static oracle o;
	memset(&o, 0, sizeof(o));
	o.allowed = allowed;
	o.secret = secret;
	yajl_handle h = yajl_alloc(&oracle_callbacks, NULL, &o);
	if (!h)
		fail("out of memory", NULL);
	if (yajl_parse(h, data, size) == yajl_status_ok)
		yajl_complete_parse(h);
	yajl_free(h);
}

/* ---- ids ------------------------------------------------------------------- */

typedef enum shape {
	SH_CLUSTER,
	SH_NAMESPACE,
	SH_NODE,
	SH_OBJECT,
} shape;

static const char *const object_kinds[] = {
	"Deployment", "StatefulSet", "DaemonSet",  "Job", "CronJob",
	"Service",    "Ingress",     "ReplicaSet", "Pod",
};

typedef struct idinfo {
	shape sh;
	const char *ns, *kind, *name; /* into the id; NULL when absent */
	size_t nsl, kindl, namel;
	char type_name[32]; /* the node type the shape calls for */
} idinfo;

static bool valid_segment(const char *s, size_t n)
{
	if (!n || n > MAX_SEGMENT)
		return false;
	for (size_t i = 0; i < n; i++) {
		char c = s[i];
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '.' || c == '-' || c == '_'))
			return false;
	}
	return true;
}

/* Parse an id of this run; fails on anything else. */
static void parse_id(const char *id, size_t n, idinfo *ret)
{
	char b[128];
	if (!id || !n)
		fail("an empty id", NULL);
	if (n > ST_NODE_ID_MAX) {
		char m[160];
		snprintf(m, sizeof(m), "%zu bytes: %s", n, shown(id, n, b));
		fail("an id longer than ST_NODE_ID_MAX (the store refuses it, failing the sync)",
		     m);
	}
	if (memchr(id, 0, n))
		fail("an id holds a NUL byte", shown(id, n, b));
	if (n < strlen(CLUSTER_ID) || memcmp(id, CLUSTER_ID, strlen(CLUSTER_ID)) ||
	    (n > strlen(CLUSTER_ID) && id[strlen(CLUSTER_ID)] != '/'))
		fail("an id does not start with \"k8s:fz\"", shown(id, n, b));
	const char *seg[4];
	size_t segl[4], k = 0;
	const char *p = id + strlen(CLUSTER_ID), *end = id + n;
	while (p < end) {
		p++; /* '/' */
		const char *e = memchr(p, '/', (size_t)(end - p));
		if (!e)
			e = end;
		if (k == 3)
			fail("an id has more than four segments", shown(id, n, b));
		if (!valid_segment(p, (size_t)(e - p)))
			fail("an id segment is not 1..253 of [A-Za-z0-9._-]", shown(id, n, b));
		seg[k] = p;
		segl[k++] = (size_t)(e - p);
		p = e;
	}
	memset(ret, 0, sizeof(*ret));
	switch (k) {
	case 0:
		ret->sh = SH_CLUSTER;
		snprintf(ret->type_name, sizeof(ret->type_name), "KubernetesCluster");
		break;
	case 1:
		ret->sh = SH_NAMESPACE;
		ret->name = seg[0];
		ret->namel = segl[0];
		snprintf(ret->type_name, sizeof(ret->type_name), "KubernetesNamespace");
		break;
	case 2:
		if (!eq(seg[0], segl[0], "Node"))
			fail("a three-segment id is not \"k8s:fz/Node/NAME\"", shown(id, n, b));
		ret->sh = SH_NODE;
		ret->kind = seg[0];
		ret->kindl = segl[0];
		ret->name = seg[1];
		ret->namel = segl[1];
		snprintf(ret->type_name, sizeof(ret->type_name), "KubernetesNode");
		break;
	default: {
		bool known = false;
		for (size_t i = 0; i < ST_ARRAY_LEN(object_kinds); i++)
			known = known || eq(seg[1], segl[1], object_kinds[i]);
		if (!known)
			fail("an object id names an unknown kind", shown(id, n, b));
		ret->sh = SH_OBJECT;
		ret->ns = seg[0];
		ret->nsl = segl[0];
		ret->kind = seg[1];
		ret->kindl = segl[1];
		ret->name = seg[2];
		ret->namel = segl[2];
		snprintf(ret->type_name, sizeof(ret->type_name), "Kubernetes%.*s", (int)segl[1],
			 seg[1]);
	}
	}
}

/* ---- the set of emitted nodes ------------------------------------------------ */

typedef struct nodeent {
	char *id;
	size_t idlen;
	int type;
	/* every property blob emitted under this id (duplicate objects) */
	uint8_t **blobs;
	size_t *blen;
	size_t n_blobs;
} nodeent;

typedef struct nodeset {
	nodeent *v;
	size_t n, cap;
	uint32_t *slots; /* index + 1 */
	size_t n_slots;
} nodeset;

static uint64_t fnv(const void *p, size_t n)
{
	const unsigned char *s = p;
	uint64_t h = 0xcbf29ce484222325ULL;
	for (size_t i = 0; i < n; i++) {
		h ^= s[i];
		h *= 0x100000001b3ULL;
	}
	return h;
}

static nodeent *ns_find(const nodeset *s, const char *id, size_t n)
{
	if (!s->n_slots)
		return NULL;
	size_t k = fnv(id, n) & (s->n_slots - 1);
	while (s->slots[k]) {
		nodeent *e = &s->v[s->slots[k] - 1];
		if (e->idlen == n && !memcmp(e->id, id, n))
			return e;
		k = (k + 1) & (s->n_slots - 1);
	}
	return NULL;
}

static void ns_rehash(nodeset *s)
{
	size_t n = s->n_slots ? 2 * s->n_slots : 256;
	free(s->slots);
	s->slots = calloc(n, sizeof(*s->slots));
	if (!s->slots)
		fail("out of memory", NULL);
	s->n_slots = n;
	for (size_t i = 0; i < s->n; i++) {
		size_t k = fnv(s->v[i].id, s->v[i].idlen) & (n - 1);
		while (s->slots[k])
			k = (k + 1) & (n - 1);
		s->slots[k] = (uint32_t)i + 1;
	}
}

/* The entry of id, added when new (*ret_new says which). */
static nodeent *ns_get(nodeset *s, const char *id, size_t n, int type, bool *ret_new)
{
	nodeent *e = ns_find(s, id, n);
	*ret_new = !e;
	if (e)
		return e;
	if (s->n == s->cap) {
		s->cap = s->cap ? 2 * s->cap : 64;
		s->v = xrealloc(s->v, s->cap * sizeof(*s->v));
	}
	e = &s->v[s->n++];
	memset(e, 0, sizeof(*e));
	e->id = xmemdup(id, n);
	e->idlen = n;
	e->type = type;
	if (2 * s->n >= s->n_slots) {
		ns_rehash(s);
	} else {
		size_t k = fnv(id, n) & (s->n_slots - 1);
		while (s->slots[k])
			k = (k + 1) & (s->n_slots - 1);
		s->slots[k] = (uint32_t)s->n;
	}
	return e;
}

static void ns_add_blob(nodeent *e, const uint8_t *p, size_t n)
{
	e->blobs = xrealloc(e->blobs, (e->n_blobs + 1) * sizeof(*e->blobs));
	e->blen = xrealloc(e->blen, (e->n_blobs + 1) * sizeof(*e->blen));
	e->blobs[e->n_blobs] = (uint8_t *)xmemdup(p, n);
	e->blen[e->n_blobs++] = n;
}

static void ns_free(nodeset *s)
{
	for (size_t i = 0; i < s->n; i++) {
		for (size_t j = 0; j < s->v[i].n_blobs; j++)
			free(s->v[i].blobs[j]);
		free(s->v[i].blobs);
		free(s->v[i].blen);
		free(s->v[i].id);
	}
	free(s->v);
	free(s->slots);
	memset(s, 0, sizeof(*s));
}

/* ---- the sink -------------------------------------------------------------- */

typedef struct fsink {
	st_sink sink;
	const tokset *allowed;
	uint32_t max_line; /* objects in the file: at most one per '{' */
	nodeset nodes;
	size_t node_calls, edges, hints, notes, warnings;
	size_t object_nodes; /* node calls for objects other than namespaces */
	bool cluster_seen;
	bool final_objects; /* a "k8s objects" progress came */
	uint64_t n_objects, n_skipped;
	int et_scoped, et_controlled, et_runs_on, et_selects, et_routes;
} fsink;

static void scan_text(const fsink *c, const char *s, size_t n, const char *where);

static void tok_check(void *ctx, const char *s, size_t n)
{
	const fsink *c = ((const void **)ctx)[0];
	const char *where = ((const void **)ctx)[1];
	const tokset *a = c->allowed;
	for (size_t i = 0; i < a->n; i++)
		if (a->len[i] >= n && !memcmp(a->v[i], s, n))
			return;
	char b[128], m[300];
	snprintf(m, sizeof(m), "%s holds %s", where, shown(s, n, b));
	fail("the last-applied-configuration annotation's value reached the sink", m);
}

static void scan_text(const fsink *c, const char *s, size_t n, const char *where)
{
	const void *ctx[2] = {c, where};
	each_token(s, n, tok_check, ctx);
}

static void scan_cstr(const fsink *c, const char *s, const char *where)
{
	if (s)
		scan_text(c, s, strlen(s), where);
}

/* A string-map property: keys non-empty, bounded; annotations without the
 * last-applied key. */
static void check_map(const fsink *c, const st_prop *p, const char *id, size_t idlen)
{
	char b[128];
	st_coll_iter ci;
	const char *k, *v;
	size_t kl, vl, n = 0;
	int r;
	bool anns = eq(p->key, p->klen, "annotations");
	st_coll_iter_init(&ci, p);
	while ((r = st_coll_next(&ci, &k, &kl, &v, &vl)) == 1) {
		n++;
		if (!kl)
			fail("a map entry with an empty key", shown(id, idlen, b));
		if (memchr(k, 0, kl))
			fail("a map key holds a NUL byte", shown(id, idlen, b));
		if (vl > MAX_VALUE)
			fail("a label, annotation or selector value over 64 KiB was kept",
			     shown(id, idlen, b));
		if (anns && eq(k, kl, LAST_APPLIED))
			fail("the last-applied-configuration annotation was kept",
			     shown(id, idlen, b));
		scan_text(c, k, kl, "a map key");
		scan_text(c, v, vl, "a map value");
	}
	if (r < 0)
		fail("a map property is corrupt", shown(id, idlen, b));
	if (n > MAX_MAP)
		fail("more than 4096 entries kept in one map", shown(id, idlen, b));
}

/* Every string of a blob through the marker check. */
static void scan_blob(const fsink *c, const uint8_t *props, size_t len, const char *id,
		      size_t idlen)
{
	char b[128];
	st_props_iter it;
	st_prop p;
	int r;
	st_props_iter_init(&it, props, len);
	while ((r = st_props_next(&it, &p)) == 1) {
		scan_text(c, p.key, p.klen, "a property key");
		if (p.type == ST_P_STRING) {
			scan_text(c, p.v.s.p, p.v.s.len, "a property");
		} else if (p.type == ST_P_MAP) {
			check_map(c, &p, id, idlen);
		} else if (p.type == ST_P_LIST) {
			st_coll_iter ci;
			const char *k, *v;
			size_t kl, vl;
			st_coll_iter_init(&ci, &p);
			while ((r = st_coll_next(&ci, &k, &kl, &v, &vl)) == 1)
				scan_text(c, k, kl, "a list item");
			if (r < 0)
				fail("a list property is corrupt", shown(id, idlen, b));
		}
	}
	if (r < 0)
		fail("a property blob is corrupt", shown(id, idlen, b));
}

/* The string property key, or NULL when absent. */
static const char *prop_str(const uint8_t *blob, size_t len, const char *key, size_t *ret_n)
{
	st_prop p;
	if (st_props_get(blob, len, key, strlen(key), &p) != 1)
		return NULL;
	if (p.type != ST_P_STRING)
		fail("a property is not a string", key);
	*ret_n = p.v.s.len;
	return p.v.s.p;
}

static void want_prop(const uint8_t *blob, size_t len, const char *key, const char *v, size_t vl,
		      const char *id, size_t idlen)
{
	char b[128], m[300];
	size_t n = 0;
	const char *s = prop_str(blob, len, key, &n);
	if (!s || n != vl || memcmp(s, v, vl)) {
		snprintf(m, sizeof(m), "%s of %s", key, shown(id, idlen, b));
		fail("a property does not agree with the id", m);
	}
}

static void check_loc(const fsink *c, st_loc loc, const char *what)
{
	char m[160];
	if (!loc.origin || strcmp(loc.origin, ORIGIN))
		fail("a fact or note carries an unexpected origin", loc.origin ? loc.origin : what);
	if (loc.line < 1 || loc.line > c->max_line) {
		snprintf(m, sizeof(m), "%s at index %u, the file holds at most %u objects", what,
			 loc.line, c->max_line);
		fail("a location is not an object of the file", m);
	}
}

static int f_node(st_sink *s, const char *id, size_t idlen, int type, const uint8_t *props,
		  size_t props_len, st_loc loc, st_diag *diag)
{
	(void)diag;
	fsink *c = s->ctx;
	char b[128];
	idinfo in;
	parse_id(id, idlen, &in);
	const st_node_type *nt = type >= 0 ? st_schema_node_type(s->schema, (size_t)type) : NULL;
	if (!nt || strcmp(nt->name, in.type_name))
		fail("a node's type is not the one its id calls for", shown(id, idlen, b));
	st_diag d = {{0}};
	if (st_props_check(props, props_len, nt->props, nt->n_props, &d))
		fail("a property blob does not satisfy the schema", d.msg);
	scan_text(c, id, idlen, "a node id");
	scan_blob(c, props, props_len, id, idlen);
	if (!c->node_calls && in.sh != SH_CLUSTER)
		fail("the first node is not the cluster", shown(id, idlen, b));
	c->node_calls++;

	bool added;
	nodeent *e = ns_get(&c->nodes, id, idlen, type, &added);
	if (in.sh == SH_CLUSTER) {
		if (!added)
			fail("the cluster node was emitted twice", NULL);
		if (loc.line != 0 || (loc.origin && loc.origin[0]))
			fail("the cluster node of a dump has a location", loc.origin);
		/* "declared with its name only" */
		st_props_iter it;
		st_prop p;
		size_t n = 0;
		st_props_iter_init(&it, props, props_len);
		while (st_props_next(&it, &p) == 1)
			n++;
		want_prop(props, props_len, "name", CLUSTER, strlen(CLUSTER), id, idlen);
		if (n != 1)
			fail("the cluster node of a dump has properties besides its name", NULL);
		c->cluster_seen = true;
	} else {
		check_loc(c, loc, "node");
		want_prop(props, props_len, "cluster", CLUSTER, strlen(CLUSTER), id, idlen);
		want_prop(props, props_len, "name", in.name, in.namel, id, idlen);
		st_prop p;
		if (in.sh == SH_OBJECT)
			want_prop(props, props_len, "namespace", in.ns, in.nsl, id, idlen);
		else if (st_props_get(props, props_len, "namespace", 9, &p) != 0)
			fail("a cluster-scoped node has a namespace property", shown(id, idlen, b));
		if (in.sh == SH_NAMESPACE && !added)
			fail("a namespace node was emitted twice", shown(id, idlen, b));
		if (in.sh != SH_NAMESPACE)
			c->object_nodes++;
	}
	ns_add_blob(e, props, props_len);
	return 0;
}

static int f_edge(st_sink *s, const char *src, size_t srclen, const char *dst, size_t dstlen,
		  int type, const uint8_t *props, size_t props_len, st_loc loc, st_diag *diag)
{
	(void)diag;
	fsink *c = s->ctx;
	char b[128], b2[128], m[300];
	idinfo a, z;
	parse_id(src, srclen, &a);
	parse_id(dst, dstlen, &z);
	snprintf(m, sizeof(m), "%s -> %s", shown(src, srclen, b), shown(dst, dstlen, b2));
	const nodeent *na = ns_find(&c->nodes, src, srclen);
	const nodeent *nz = ns_find(&c->nodes, dst, dstlen);
	if (!na || !nz)
		fail("an edge end was not emitted as a node before the edge", m);
	const st_edge_type *et = type >= 0 ? st_schema_edge_type(s->schema, (size_t)type) : NULL;
	if (!et)
		fail("an edge of an unknown type", m);
	if (!st_schema_edge_allows(s->schema, (size_t)type, (size_t)na->type, (size_t)nz->type))
		fail("the schema does not allow this edge", m);
	st_diag d = {{0}};
	if (st_props_check(props, props_len, et->props, et->n_props, &d))
		fail("an edge's property blob does not satisfy the schema", d.msg);
	scan_blob(c, props, props_len, src, srclen);
	check_loc(c, loc, "edge");
	bool same_ns = a.sh == SH_OBJECT && z.sh == SH_OBJECT && a.nsl == z.nsl &&
		       !memcmp(a.ns, z.ns, a.nsl);
	if (type == c->et_scoped) {
		bool ok = (a.sh == SH_NAMESPACE || a.sh == SH_NODE) ? z.sh == SH_CLUSTER :
			  a.sh == SH_OBJECT ? z.sh == SH_NAMESPACE && z.namel == a.nsl &&
						      !memcmp(z.name, a.ns, a.nsl) :
					      false;
		if (!ok)
			fail("SCOPED_IN does not go to the node's own namespace or cluster", m);
	} else if (type == c->et_runs_on) {
		if (a.sh != SH_OBJECT || !eq(a.kind, a.kindl, "Pod") || z.sh != SH_NODE)
			fail("RUNS_ON is not Pod -> Node", m);
	} else if (type == c->et_controlled || type == c->et_selects) {
		if (!same_ns)
			fail("CONTROLLED_BY or SELECTS across namespaces", m);
		if (type == c->et_selects) {
			size_t n;
			const char *v = prop_str(props, props_len, "rule", &n);
			if (!v || !eq(v, n, "selector") ||
			    !prop_str(props, props_len, "evidence", &n) || !n)
				fail("SELECTS without rule \"selector\" and evidence", m);
		}
	} else if (type == c->et_routes) {
		if (!same_ns || !eq(a.kind, a.kindl, "Ingress") || !eq(z.kind, z.kindl, "Service"))
			fail("ROUTES_TO is not Ingress -> Service of its namespace", m);
	} else {
		fail("an edge of a type the dump mode does not emit", et->name);
	}
	c->edges++;
	return 0;
}

static const struct hint_rule {
	const char *key, *rule;
	st_hint_kind kind;
	bool annotation_too;
} hint_rules[] = {
	{"app.kubernetes.io/name", "k8s-label-name", ST_HINT_SERVICE, false},
	{"app", "k8s-label-app", ST_HINT_SERVICE, false},
	{"backstage.io/kubernetes-id", "backstage-kubernetes-id", ST_HINT_SERVICE, true},
	{"app.kubernetes.io/part-of", "k8s-label-part-of", ST_HINT_SYSTEM, false},
	{"team", "k8s-label-team", ST_HINT_TEAM, false},
	{"owner", "k8s-label-owner", ST_HINT_TEAM, false},
};

/* Whether one of the node's blobs has map `map` with key=value. */
static bool node_has(const nodeent *e, const char *map, const char *k, size_t kl, const char *v,
		     size_t vl)
{
	for (size_t i = 0; i < e->n_blobs; i++) {
		st_prop p;
		if (st_props_get(e->blobs[i], e->blen[i], map, strlen(map), &p) != 1)
			continue;
		st_coll_iter ci;
		const char *k2, *v2;
		size_t kl2, vl2;
		st_coll_iter_init(&ci, &p);
		while (st_coll_next(&ci, &k2, &kl2, &v2, &vl2) == 1)
			if (kl2 == kl && !memcmp(k2, k, kl) && vl2 == vl && !memcmp(v2, v, vl))
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
	idinfo in;
	parse_id(id, idlen, &in);
	const nodeent *e = ns_find(&c->nodes, id, idlen);
	if (!e)
		fail("a hint names a node not emitted", shown(id, idlen, b));
	static const char *const top[] = {"Deployment", "StatefulSet", "DaemonSet", "CronJob",
					  "Job"};
	bool ok = false;
	for (size_t i = 0; in.sh == SH_OBJECT && i < ST_ARRAY_LEN(top); i++)
		ok = ok || eq(in.kind, in.kindl, top[i]);
	if (!ok)
		fail("a hint on something other than a top-level workload", shown(id, idlen, b));
	if (!value || !vlen || memchr(value, 0, vlen) || !rule || !evidence)
		fail("a hint without value, rule or evidence", shown(id, idlen, b));
	scan_text(c, value, vlen, "a hint value");
	scan_cstr(c, rule, "a hint rule");
	scan_cstr(c, evidence, "a hint's evidence");
	check_loc(c, loc, "hint");
	const struct hint_rule *h = NULL;
	for (size_t i = 0; i < ST_ARRAY_LEN(hint_rules); i++)
		if (!strcmp(rule, hint_rules[i].rule))
			h = &hint_rules[i];
	if (!h)
		fail("a hint with an unknown rule", rule);
	if (kind != h->kind)
		fail("a hint's kind is not its rule's", rule);
	/* "SOURCE KEY=VALUE" */
	static const char *const sources[] = {"label ", "annotation ", "pod template label "};
	size_t el = strlen(evidence), kl = strlen(h->key);
	int src = -1;
	for (int i = 0; i < 3; i++)
		if (!strncmp(evidence, sources[i], strlen(sources[i])))
			src = i;
	if (src < 0)
		fail("a hint's evidence names no label or annotation", evidence);
	size_t sl = strlen(sources[src]);
	if (el != sl + kl + 1 + vlen || memcmp(evidence + sl, h->key, kl) ||
	    evidence[sl + kl] != '=' || memcmp(evidence + sl + kl + 1, value, vlen))
		fail("a hint's evidence is not \"SOURCE KEY=VALUE\" for its rule", evidence);
	if (src == 1 && !h->annotation_too)
		fail("a hint from an annotation for a label-only rule", evidence);
	if (src == 0 && !node_has(e, "labels", h->key, kl, value, vlen))
		fail("a label hint quotes a label the node does not carry", evidence);
	if (src == 1 && !node_has(e, "annotations", h->key, kl, value, vlen))
		fail("an annotation hint quotes an annotation the node does not carry", evidence);
	c->hints++;
	return 0;
}

static int f_cost(st_sink *s, const char *resource, size_t rlen, int32_t day, uint16_t currency,
		  int64_t effective, int64_t billed, st_loc loc, st_diag *diag)
{
	(void)s, (void)resource, (void)rlen, (void)day, (void)currency, (void)effective;
	(void)billed, (void)loc, (void)diag;
	fail("the k8s connector emitted a cost fact", NULL);
}

static void f_warn(st_sink *s, st_loc loc, const char *msg)
{
	fsink *c = s->ctx;
	if (!msg || !msg[0])
		fail("an empty warning", NULL);
	scan_cstr(c, msg, "a warning");
	if (!loc.origin || strcmp(loc.origin, ORIGIN) || loc.line != 0)
		fail("a warning is not at the file (line 0)", msg);
	if (c->node_calls)
		fail("a warning after the first fact", msg);
	if (++c->warnings > 1)
		fail("one file warned twice", msg);
}

static void f_note(st_sink *s, st_loc loc, const char *msg)
{
	fsink *c = s->ctx;
	if (!msg || !msg[0])
		fail("an empty note", NULL);
	scan_cstr(c, msg, "a note");
	check_loc(c, loc, "note");
	c->notes++;
}

static void f_progress(st_sink *s, const char *what, uint64_t done, uint64_t total)
{
	fsink *c = s->ctx;
	if (!what)
		fail("progress without a description", NULL);
	if (!strcmp(what, "k8s objects")) {
		/* after each file (total 0), then the closing count (total = done;
		 * 0 and 0 when nothing was read) */
		if (total && done != total)
			fail("the closing \"k8s objects\" progress has another total", NULL);
		c->final_objects = true;
		c->n_objects = done;
	} else if (!strcmp(what, "k8s objects of other kinds skipped")) {
		if (!done || done != total)
			fail("a skipped count of zero or with another total", NULL);
		c->n_skipped = done;
	} else if (!strcmp(what, "k8s list pages")) {
		fail("list pages reported for a dump", NULL);
	} else {
		fail("progress of an unknown kind", what);
	}
}

static void f_set_state(st_sink *s, const char *state)
{
	(void)s;
	fail("the k8s connector set a state", state);
}

/* ---- the target ------------------------------------------------------------ */

static struct {
	st_schema *schema;
	fz_file f;
	tokset allowed, secret;
} fz;

static void cleanup(void)
{
	st_schema_free(fz.schema);
	fz.schema = NULL;
	tok_clear(&fz.allowed);
	tok_clear(&fz.secret);
	free(fz.allowed.v);
	free(fz.allowed.len);
	free(fz.secret.v);
	free(fz.secret.len);
	fz_file_remove(&fz.f);
}

static void init(void)
{
	st_diag diag = {{0}};
	const char *err = fz_file_init(&fz.f, "k8sdump", FILE_NAME);
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

static int edge_type(const char *name)
{
	int t = st_schema_find_edge_type(fz.schema, name, strlen(name));
	if (t < 0)
		fail("the schema lacks an edge type", name);
	return t;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size > FUZZ_MAX_INPUT)
		return 0;
	if (!fz.schema)
		init();
	write_input(data, size);
	tok_clear(&fz.allowed);
	tok_clear(&fz.secret);
	read_markers(data, size, &fz.allowed, &fz.secret);

	static fsink c;
	memset(&c, 0, sizeof(c));
	c.allowed = &fz.allowed;
	for (size_t i = 0; i < size; i++)
		c.max_line += data[i] == '{';
	c.et_scoped = edge_type("SCOPED_IN");
	c.et_controlled = edge_type("CONTROLLED_BY");
	c.et_runs_on = edge_type("RUNS_ON");
	c.et_selects = edge_type("SELECTS");
	c.et_routes = edge_type("ROUTES_TO");
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
	st_kv opt = {"cluster", CLUSTER};
	st_source src = {
		.name = SOURCE,
		.kind = "k8s",
		.location = fz.f.dir,
		.cache_dir = fz.f.dir,
		.options = &opt,
		.n_options = 1,
	};
	st_diag diag = {{0}};
	int r = st_connector_k8s.run(&src, &c.sink, &diag);
	if (getenv("STACKTWIN_FUZZ_VERBOSE"))
		fprintf(stderr,
			"    %s (%zu node calls, %zu ids, %zu edges, %zu hints, %zu notes, %zu "
			"warnings, %zu secret / %zu allowed markers)\n",
			r ? diag.msg : "read", c.node_calls, c.nodes.n, c.edges, c.hints, c.notes,
			c.warnings, fz.secret.n, fz.allowed.n);
	scan_cstr(&c, diag.msg, "the run's message");
	if (r > 0)
		fail("the run returned a positive code", diag.msg);
	if (r < 0) {
		/* docs: a dump run fails only on a limit of the whole set (2,000,000
		 * objects, 100,000 files), a sink error or an unreadable directory */
		if (!diag.msg[0])
			fail("a failure without a message", NULL);
		fail("a dump run failed (a bad file is a warning, the run goes on)", diag.msg);
	}
	if (!c.cluster_seen)
		fail("a dump run did not declare the cluster node", NULL);
	if (!c.final_objects)
		fail("no \"k8s objects\" progress", NULL);
	if (c.object_nodes > c.n_objects)
		fail("more object nodes than \"k8s objects\" read", NULL);
	if (c.warnings) {
		/* nothing of a malformed file is kept */
		if (c.nodes.n != 1 || c.edges || c.hints || c.n_objects || c.n_skipped)
			fail("facts of a file that warned were emitted", NULL);
	}
	ns_free(&c.nodes);
	return 0;
}
