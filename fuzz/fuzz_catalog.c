/*
 * fuzz_catalog.c — fuzz target for the catalog parsers of the Git connector:
 * the Backstage catalog parser (st_backstage_parse, connectors/backstage.c)
 * and the Kubernetes manifest set (st_manifests_*, connectors/manifest.c).
 *
 * Every input is read by both, as a YAML stream:
 *   1. st_backstage_parse() into a counting sink defined here;
 *   2. a manifest set that already holds a small fixed file (BASE below) is
 *      emitted once, the input is added as a second file, and the set is
 *      emitted again (twice when the add succeeded).
 * Whatever the input:
 *   - file atomicity: when a parser reports a problem of the file
 *     (ST_E_INVALID), it emitted no fact for it, warned exactly once with
 *     "PROBLEM (column C)" at the line of "origin:LINE:C: PROBLEM" in diag,
 *     left the out-params alone, and (manifests) the set emits exactly what
 *     it emitted before the bad file was added;
 *   - a parse that succeeds warned nothing, and its stats agree with what
 *     reached the sink; no other return code occurs (the sink never fails);
 *   - every fact carries the file's origin and a line inside the input; ids
 *     are non-empty without NUL bytes, Backstage ids lowercase, no node id
 *     is emitted twice in one Backstage run; a node's type is the one its
 *     id prefix names; an edge between ids whose prefixes name their types
 *     is one the schema allows; property blobs satisfy the schema; a hint
 *     names a node of the same run;
 *   - emitting a set twice gives the same facts in the same order.
 * Any violation abort()s.  With STACKTWIN_FUZZ_VERBOSE set in the
 * environment it prints each parse's outcome.
 *
 * This file only checks; it must not fix or work around what it finds.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backstage.h"
#include "common.h"
#include "connector.h"
#include "manifest.h"
#include "props.h"
#include "schema.h"

#define FUZZ_MAX_INPUT ((size_t)64 << 10)

#define REPO "git:github.com/acme/catalog"
#define BS_ORIGIN "acme:catalog-info.yaml"
#define BASE_ORIGIN "acme:k8s/base.yaml"
#define APP_ORIGIN "acme:k8s/app.yaml"

/* The manifest file every set starts with: a Deployment and the Service
 * selecting it, so that inputs can select, route to and collide with them. */
static const char BASE[] = "apiVersion: apps/v1\n"
			   "kind: Deployment\n"
			   "metadata: {name: web, labels: {app.kubernetes.io/name: web}}\n"
			   "spec:\n"
			   "  replicas: 2\n"
			   "  template:\n"
			   "    metadata: {labels: {app: web}}\n"
			   "    spec: {containers: [{name: web, image: acme/web:1}]}\n"
			   "---\n"
			   "apiVersion: v1\n"
			   "kind: Service\n"
			   "metadata: {name: web}\n"
			   "spec: {selector: {app: web}, ports: [{port: 80}]}\n";

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void fail(const char *what, const char *detail)
{
	fprintf(stderr, "fuzz_catalog: %s%s%s\n", what, detail ? ": " : "", detail ? detail : "");
	abort();
}

/* ---- the counting sink --------------------------------------------------- */

typedef struct idrec {
	char *id;
	int type;
} idrec;

typedef struct csink {
	st_sink sink;
	bool backstage;		/* id scheme: Backstage prefixes, else k8s */
	const char *origins[2]; /* the origins facts may carry */
	uint32_t max_line[2];	/* per origin */
	size_t nodes, edges, costs, hints, warns, notes;
	uint64_t hash; /* of every fact, in order */
	idrec *nv;     /* node ids of this run */
	size_t nn, capn;
	char **hv; /* hint ids */
	size_t nh, caph;
	st_loc warn_loc;
	char warn_origin[64];
	char warn_msg[ST_DIAG_MAX + 64];
} csink;

static void *grow(void *p, size_t *cap, size_t n, size_t elem)
{
	if (n < *cap)
		return p;
	*cap = *cap ? 2 * *cap : 64;
	p = realloc(p, *cap * elem);
	if (!p)
		fail("out of memory", NULL);
	return p;
}

static char *dup_id(const char *s, size_t n, const char *what)
{
	if (!s || !n)
		fail("an empty id", what);
	if (memchr(s, 0, n))
		fail("an id with a NUL byte", what);
	char *d = malloc(n + 1);
	if (!d)
		fail("out of memory", NULL);
	memcpy(d, s, n);
	d[n] = 0;
	return d;
}

static void mix(csink *c, const void *p, size_t n)
{
	const uint8_t *b = p;
	for (size_t i = 0; i < n; i++)
		c->hash = (c->hash ^ b[i]) * 1099511628211ull;
	c->hash = (c->hash ^ 0xff) * 1099511628211ull; /* field separator */
}

static void check_loc(csink *c, st_loc loc, const char *what)
{
	for (size_t i = 0; i < 2; i++)
		if (c->origins[i] && loc.origin && !strcmp(loc.origin, c->origins[i])) {
			if (loc.line < 1 || loc.line > c->max_line[i])
				fail("a fact's line is outside its file", what);
			mix(c, loc.origin, strlen(loc.origin));
			mix(c, &loc.line, sizeof(loc.line));
			return;
		}
	fail("a fact carries an unexpected origin", loc.origin ? loc.origin : "(null)");
}

static void check_lower(const csink *c, const char *id)
{
	if (!c->backstage || !strcmp(id, REPO))
		return;
	for (const char *p = id; *p; p++)
		if (*p >= 'A' && *p <= 'Z')
			fail("a Backstage id is not lowercase", id);
}

/* The schema node type an id's form names, or -1 if it names none. */
static int type_of_id(const csink *c, const char *id)
{
	const st_schema *s = c->sink.schema;
	if (!strncmp(id, "git:", 4))
		return st_schema_find_node_type(s, "Repository", 10);
	if (c->backstage) {
		static const char *const map[][2] = {
			{"service:", "Service"}, {"component:", "Component"},
			{"api:", "API"},	 {"resource:", "Resource"},
			{"system:", "System"},	 {"domain:", "Domain"},
			{"team:", "Team"},	 {"user:", "User"},
		};
		for (size_t i = 0; i < ST_ARRAY_LEN(map); i++)
			if (!strncmp(id, map[i][0], strlen(map[i][0])))
				return st_schema_find_node_type(s, map[i][1], strlen(map[i][1]));
		return -1;
	}
	if (strncmp(id, "k8s:", 4))
		return -1;
	/* k8s:CLUSTER[/NS[/Kind/NAME]]: names have no '/' */
	const char *parts[4];
	size_t lens[4], n = 0;
	const char *p = id + 4;
	for (;;) {
		const char *sl = strchr(p, '/');
		if (n == 4)
			return -1;
		parts[n] = p;
		lens[n++] = sl ? (size_t)(sl - p) : strlen(p);
		if (!sl)
			break;
		p = sl + 1;
	}
	if (n == 1)
		return st_schema_find_node_type(s, "KubernetesCluster", 17);
	if (n == 2)
		return st_schema_find_node_type(s, "KubernetesNamespace", 19);
	if (n != 4 || lens[2] > 64)
		return -1;
	char name[96];
	snprintf(name, sizeof(name), "Kubernetes%.*s", (int)lens[2], parts[2]);
	return st_schema_find_node_type(s, name, strlen(name));
}

static int c_node(st_sink *s, const char *id, size_t idlen, int type, const uint8_t *props,
		  size_t props_len, st_loc loc, st_diag *diag)
{
	csink *c = s->ctx;
	char *d = dup_id(id, idlen, "node");
	const st_node_type *nt = st_schema_node_type(s->schema, (size_t)type);
	if (type < 0 || !nt)
		fail("a node has no valid type", d);
	st_diag pd = {{0}};
	if (st_props_check(props, props_len, nt->props, nt->n_props, &pd))
		fail("a node's properties do not satisfy the schema", pd.msg);
	int want = type_of_id(c, d);
	if (want >= 0 && want != type)
		fail("a node's type is not the one its id names", d);
	check_lower(c, d);
	check_loc(c, loc, d);
	mix(c, "n", 1);
	mix(c, d, idlen);
	mix(c, &type, sizeof(type));
	mix(c, props, props_len);
	c->nv = grow(c->nv, &c->capn, c->nn, sizeof(*c->nv));
	c->nv[c->nn++] = (idrec){d, type};
	c->nodes++;
	(void)diag;
	return 0;
}

static int c_edge(st_sink *s, const char *src, size_t srclen, const char *dst, size_t dstlen,
		  int type, const uint8_t *props, size_t props_len, st_loc loc, st_diag *diag)
{
	csink *c = s->ctx;
	char *a = dup_id(src, srclen, "edge source"), *b = dup_id(dst, dstlen, "edge target");
	const st_edge_type *et = st_schema_edge_type(s->schema, (size_t)type);
	if (type < 0 || !et)
		fail("an edge has no valid type", a);
	st_diag pd = {{0}};
	if (st_props_check(props, props_len, et->props, et->n_props, &pd))
		fail("an edge's properties do not satisfy the schema", pd.msg);
	int ta = type_of_id(c, a), tb = type_of_id(c, b);
	if (ta >= 0 && tb >= 0 &&
	    !st_schema_edge_allows(s->schema, (size_t)type, (size_t)ta, (size_t)tb)) {
		fprintf(stderr, "fuzz_catalog: %s -%s-> %s\n", a, et->name, b);
		fail("an edge the schema forbids", et->name);
	}
	check_lower(c, a);
	check_lower(c, b);
	check_loc(c, loc, a);
	mix(c, "e", 1);
	mix(c, a, srclen);
	mix(c, b, dstlen);
	mix(c, &type, sizeof(type));
	mix(c, props, props_len);
	free(a);
	free(b);
	c->edges++;
	(void)diag;
	return 0;
}

static int c_cost(st_sink *s, const char *resource, size_t rlen, int32_t day, uint16_t currency,
		  int64_t effective, int64_t billed, st_loc loc, st_diag *diag)
{
	(void)resource, (void)rlen, (void)day, (void)currency, (void)effective, (void)billed;
	(void)loc, (void)diag;
	csink *c = s->ctx;
	c->costs++;
	fail("a catalog parser emitted a cost fact", NULL);
	return 0;
}

static int c_hint(st_sink *s, const char *id, size_t idlen, st_hint_kind kind, const char *value,
		  size_t vlen, const char *rule, const char *evidence, st_loc loc, st_diag *diag)
{
	csink *c = s->ctx;
	char *d = dup_id(id, idlen, "hint");
	if (kind != ST_HINT_SERVICE && kind != ST_HINT_TEAM && kind != ST_HINT_SYSTEM)
		fail("a hint has an unknown kind", d);
	if (!value || !vlen || memchr(value, 0, vlen))
		fail("a hint has an empty value or a NUL byte in it", d);
	if (!rule || !rule[0] || !evidence || !evidence[0])
		fail("a hint has no rule or no evidence", d);
	check_loc(c, loc, d);
	mix(c, "h", 1);
	mix(c, d, idlen);
	mix(c, &kind, sizeof(kind));
	mix(c, value, vlen);
	mix(c, rule, strlen(rule));
	mix(c, evidence, strlen(evidence));
	c->hv = grow(c->hv, &c->caph, c->nh, sizeof(*c->hv));
	c->hv[c->nh++] = d;
	c->hints++;
	(void)diag;
	return 0;
}

static void c_warn(st_sink *s, st_loc loc, const char *msg)
{
	csink *c = s->ctx;
	if (!msg || !msg[0])
		fail("an empty warning", NULL);
	c->warns++;
	c->warn_loc = loc;
	snprintf(c->warn_origin, sizeof(c->warn_origin), "%s", loc.origin ? loc.origin : "");
	c->warn_loc.origin = c->warn_origin;
	snprintf(c->warn_msg, sizeof(c->warn_msg), "%s", msg);
}

/* A note is allowed, except from a file with a problem (check_problem). */
static void c_note(st_sink *s, st_loc loc, const char *msg)
{
	csink *c = s->ctx;
	if (!msg || !msg[0])
		fail("an empty note", NULL);
	check_loc(c, loc, msg);
	c->notes++;
}

static int cmp_idrec(const void *a, const void *b)
{
	return strcmp(((const idrec *)a)->id, ((const idrec *)b)->id);
}

/* After a run: every hint on a node of the run; for a Backstage file no
 * node id twice (a duplicate entity is a problem of the file).  Two manifest
 * files may declare the same object: the set emits both. */
static void c_finish(csink *c)
{
	if (c->nn)
		qsort(c->nv, c->nn, sizeof(*c->nv), cmp_idrec);
	for (size_t i = 1; c->backstage && i < c->nn; i++)
		if (!strcmp(c->nv[i - 1].id, c->nv[i].id))
			fail("a node id was emitted twice in one run", c->nv[i].id);
	for (size_t i = 0; i < c->nh; i++) {
		idrec key = {c->hv[i], 0};
		if (!c->nn || !bsearch(&key, c->nv, c->nn, sizeof(*c->nv), cmp_idrec))
			fail("a hint names no node of the run", c->hv[i]);
	}
}

/* Forget the facts (keep the configuration). */
static void c_reset(csink *c)
{
	for (size_t i = 0; i < c->nn; i++)
		free(c->nv[i].id);
	for (size_t i = 0; i < c->nh; i++)
		free(c->hv[i]);
	c->nn = c->nh = 0;
	c->nodes = c->edges = c->costs = c->hints = c->warns = c->notes = 0;
	c->hash = 14695981039346656037ull;
	c->warn_msg[0] = 0;
}

static void c_init(csink *c, const st_schema *schema, bool backstage)
{
	memset(c, 0, sizeof(*c));
	c->sink.schema = schema;
	c->sink.ctx = c;
	c->sink.node = c_node;
	c->sink.edge = c_edge;
	c->sink.cost = c_cost;
	c->sink.hint = c_hint;
	c->sink.warn = c_warn;
	c->sink.note = c_note;
	c->backstage = backstage;
	c_reset(c);
}

static void c_free(csink *c)
{
	c_reset(c);
	free(c->nv);
	free(c->hv);
}

/* ---- checks ---------------------------------------------------------------- */

/* An upper bound of libyaml's line count (\n, \r, NEL, LS, PS). */
static uint32_t max_line(const uint8_t *data, size_t size)
{
	uint32_t n = 1;
	for (size_t i = 0; i < size; i++)
		n += data[i] == '\n' || data[i] == '\r' || data[i] == 0x85 || data[i] == 0xA8 ||
		     data[i] == 0xA9;
	return n;
}

/* A problem of the file: diag is "origin:LINE:COL: PROBLEM", the one
 * warning is "PROBLEM (column COL)" at {origin, LINE}. */
static void check_problem(const csink *c, const char *origin, const char *msg, const char *input,
			  size_t size)
{
	size_t ol = strlen(origin);
	if (strncmp(msg, origin, ol) || msg[ol] != ':')
		fail("a problem's message does not start with the origin", msg);
	char *end;
	unsigned long line = strtoul(msg + ol + 1, &end, 10);
	if (!line || *end != ':')
		fail("a problem's message has no line", msg);
	unsigned long col = strtoul(end + 1, &end, 10);
	if (!col || end[0] != ':' || end[1] != ' ' || !end[2])
		fail("a problem's message has no column or no problem", msg);
	if (col > size + 1)
		fail("a problem's column is past the end of the input", msg);
	/* as in fuzz_config.c: column 1 of the line after the last is the
	 * end-of-stream mark of a file without a final line break */
	uint32_t lines = max_line((const uint8_t *)input, size);
	if (line > (unsigned long)lines + 1 || (line == (unsigned long)lines + 1 && col != 1))
		fail("a problem's line is past the end of the input", msg);
	const char *problem = end + 2;
	if (c->warns != 1)
		fail("a problem of the file was not warned exactly once", msg);
	if (strcmp(c->warn_loc.origin, origin) || c->warn_loc.line != line)
		fail("the warning's location is not the message's", c->warn_msg);
	char want[ST_DIAG_MAX + 64];
	snprintf(want, sizeof(want), "%s (column %lu)", problem, col);
	if (strcmp(c->warn_msg, want))
		fail("the warning does not say what the message says", c->warn_msg);
	if (c->nodes || c->edges || c->costs || c->hints || c->notes)
		fail("a file with a problem emitted facts or notes", msg);
}

static st_schema *schema;

static void free_schema(void)
{
	st_schema_free(schema);
	schema = NULL;
}

static const st_schema *the_schema(void)
{
	if (!schema) {
		st_diag d = {{0}};
		if (st_schema_load_default(&schema, &d))
			fail("cannot load the default schema", d.msg);
		atexit(free_schema);
	}
	return schema;
}

static void run_backstage(const uint8_t *data, size_t size, bool verbose)
{
	csink c;
	c_init(&c, the_schema(), true);
	c.origins[0] = BS_ORIGIN;
	c.max_line[0] = max_line(data, size);
	st_parse_ctx ctx = {.source = "acme", .path = "catalog-info.yaml", .repo_id = REPO};
	st_catalog_stats st = {.entities = 4242, .edges = 4242};
	st_strv targets = {0};
	st_diag diag = {{0}};
	int r = st_backstage_parse(&c.sink, &ctx, (const char *)data, size, &st, &targets, &diag);
	if (verbose)
		fprintf(stderr, "    backstage: %s\n", r ? diag.msg : "parsed");
	if (r == ST_E_INVALID) {
		check_problem(&c, BS_ORIGIN, diag.msg, (const char *)data, size);
		if (st.entities != 4242 || st.edges != 4242 || targets.n)
			fail("a failed parse wrote its out-params", diag.msg);
	} else if (r) {
		fail("st_backstage_parse returned neither 0 nor ST_E_INVALID", diag.msg);
	} else {
		if (c.warns)
			fail("a successful parse warned", c.warn_msg);
		if (st.entities != c.nodes || st.edges != c.edges)
			fail("the stats do not count what was emitted", NULL);
		for (size_t i = 0; i < targets.n; i++)
			if (!targets.v[i])
				fail("a Location target is NULL", NULL);
		c_finish(&c);
	}
	st_strv_free(&targets);
	c_free(&c);
}

static void emit(st_manifests *m, csink *c, st_manifests_stats *st, const char *when)
{
	st_diag diag = {{0}};
	c_reset(c);
	int r = st_manifests_emit(m, &c->sink, st, &diag);
	if (r)
		fail(when, diag.msg);
	if (c->warns)
		fail("st_manifests_emit warned", c->warn_msg);
	if (st->namespaces > c->nodes || st->edges != c->edges || st->hints != c->hints)
		fail("the emit stats do not count what was emitted", when);
	c_finish(c);
}

static void run_manifests(const uint8_t *data, size_t size, bool verbose)
{
	csink c;
	c_init(&c, the_schema(), false);
	c.origins[0] = BASE_ORIGIN;
	c.max_line[0] = max_line((const uint8_t *)BASE, sizeof(BASE) - 1);
	c.origins[1] = APP_ORIGIN;
	c.max_line[1] = max_line(data, size);
	st_manifests *m = NULL;
	st_diag diag = {{0}};
	if (st_manifests_new("declared", &m, &diag))
		fail("st_manifests_new failed", diag.msg);
	st_parse_ctx base = {.source = "acme", .path = "k8s/base.yaml", .repo_id = REPO};
	st_parse_ctx app = {.source = "acme", .path = "k8s/app.yaml", .repo_id = REPO};
	st_manifests_stats st;
	if (st_manifests_add(m, &base, BASE, sizeof(BASE) - 1, &c.sink, &st, &diag))
		fail("the base manifest does not load", diag.msg);
	st_manifests_stats before;
	emit(m, &c, &before, "emitting the base set failed");
	uint64_t h0 = c.hash;
	size_t n0 = c.nodes + c.edges + c.hints;

	c_reset(&c);
	st_manifests_stats fst = {.objects = 4242};
	int r = st_manifests_add(m, &app, (const char *)data, size, &c.sink, &fst, &diag);
	if (verbose)
		fprintf(stderr, "    manifests: %s\n", r ? diag.msg : "added");
	if (r == ST_E_INVALID) {
		check_problem(&c, APP_ORIGIN, diag.msg, (const char *)data, size);
		if (fst.objects != 4242)
			fail("a failed add wrote its stats", diag.msg);
		emit(m, &c, &st, "emitting after a failed add failed");
		if (c.hash != h0 || c.nodes + c.edges + c.hints != n0 || st.files != before.files ||
		    st.objects != before.objects)
			fail("a failed add changed what the set emits", diag.msg);
	} else if (r) {
		fail("st_manifests_add returned neither 0 nor ST_E_INVALID", diag.msg);
	} else {
		if (c.warns)
			fail("a successful add warned", c.warn_msg);
		if (c.nodes || c.edges || c.hints)
			fail("st_manifests_add emitted facts", NULL);
		if (fst.files != 1)
			fail("a successful add did not count its file", NULL);
		emit(m, &c, &st, "emitting failed");
		uint64_t h1 = c.hash;
		size_t n1 = c.nodes + c.edges + c.hints;
		if (st.objects != before.objects + fst.objects)
			fail("the set's object count is not the sum of its files'", NULL);
		emit(m, &c, &st, "emitting again failed");
		if (c.hash != h1 || c.nodes + c.edges + c.hints != n1)
			fail("emitting the same set twice gave different facts", NULL);
	}

	/* Without a sink the add must decide the same way. */
	st_manifests *m2 = NULL;
	if (st_manifests_new("declared", &m2, &diag))
		fail("st_manifests_new failed", diag.msg);
	int r2 = st_manifests_add(m2, &app, (const char *)data, size, NULL, NULL, &diag);
	if (r2 != r)
		fail("st_manifests_add decides differently without a sink", diag.msg);
	st_manifests_free(m2);
	st_manifests_free(m);
	c_free(&c);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size > FUZZ_MAX_INPUT)
		return 0;
	bool verbose = getenv("STACKTWIN_FUZZ_VERBOSE") != NULL;
	run_backstage(data, size, verbose);
	run_manifests(data, size, verbose);
	return 0;
}
