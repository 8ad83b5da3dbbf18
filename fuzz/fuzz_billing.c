/*
 * fuzz_billing.c — fuzz target for the billing export connectors
 * (connectors/billing.c: st_connector_focus, st_connector_cur and
 * st_connector_gcp_billing).
 *
 * Input: byte 0 picks the kind (value % 3: 0 focus, 1 cur, 2 gcp-billing),
 * byte 1 the option on_error (even: fail, odd: skip), so seeds start with a
 * readable "0F", "1S", "2F", ...  The rest is written to one file (created on
 * the first call in a fresh directory under $TMPDIR or /tmp, reused, removed
 * at exit), plain CSV or gzip: the connector tells them apart by the magic
 * bytes, so the fuzzer reaches both.  The kind's run() reads it into a
 * counting sink defined here.  Whatever the input:
 *   - the run returns 0 or ST_E_INVALID / ST_E_LIMIT with a message
 *     "fuzz:input.csv:LINE: ..." whose LINE is inside the (inflated) input,
 *     or one of the file-level problems that have no line (an empty file,
 *     truncated or corrupt gzip data);
 *   - with on_error: skip no row fails the run: a failure is a header
 *     problem, a limit or a file-level problem; malformed rows are reported
 *     one by one (at most 10) and summed up in one note whose count agrees
 *     with the "billing rows skipped" progress;
 *   - differential: every skip run is followed by a fail run of the same
 *     file.  When the skip run skipped nothing, both runs emit the same facts
 *     and end the same way; otherwise the fail run emits nothing and fails
 *     with exactly the first skipped row's message at its line;
 *   - facts: BillingResource nodes with ids "bill:<provider>/<resource id>"
 *     (provider aws for cur, gcp for gcp-billing, [a-z0-9-] for focus),
 *     unique, properties satisfying the schema and agreeing with the id;
 *     labels without secret-looking keys, at most 256, values at most 1024
 *     bytes; buckets ("service/...") without resource_id, labels or hints;
 *   - hints name the node just emitted: tag hints (service/app, team/owner)
 *     quote a label the node carries, the cloud-id hint its resource_id;
 *   - every sink->cost names a resource emitted as a node (no fact for an
 *     unknown node id), has a valid day (0..2932896, 1970..9999) and an
 *     ISO 4217-shaped currency code, amounts other than INT64_MIN, a line
 *     not before its node's; facts come sorted by (node, day, currency)
 *     without duplicates and every node has at least one;
 *   - the counts in the progress reports equal what reached the sink;
 *     set_state is never called (billing runs keep no state).
 * The connector does not report sums, so the per-currency totals cannot be
 * compared with anything it says; the checks above are what it does say.
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
#include <strings.h>
#include <unistd.h>

#include <zlib.h>

#include "common.h"
#include "connector.h"
#include "fuzz_file.h"
#include "props.h"
#include "schema.h"

#define FUZZ_MAX_INPUT ((size_t)64 << 10)

#define SOURCE "fuzz"
#define FILE_NAME "input.csv"
#define ORIGIN SOURCE ":" FILE_NAME

/* docs/connectors.md, "Billing" */
#define MAX_VALUE 1024
#define MAX_TAGS 256
#define MAX_REPORTED 10
#define MAX_DAY 2932896

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

__attribute__((noreturn)) static void fail(const char *what, const char *detail)
{
	fprintf(stderr, "fuzz_billing: %s%s%s\n", what, detail ? ": " : "", detail ? detail : "");
	abort();
}

static void *xrealloc(void *p, size_t n)
{
	p = realloc(p, n ? n : 1);
	if (!p)
		fail("out of memory", NULL);
	return p;
}

static char *xstrndup(const char *s, size_t n)
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
	size_t m = n < 100 ? n : 100;
	for (size_t i = 0; i < m; i++)
		buf[i] = (unsigned char)s[i] < 0x20 || (unsigned char)s[i] >= 0x7f ? '?' : s[i];
	buf[m] = 0;
	return buf;
}

static bool starts(const char *s, const char *prefix)
{
	return !strncmp(s, prefix, strlen(prefix));
}

/* ---- kinds ---------------------------------------------------------------- */

typedef struct bkind {
	const st_connector *conn;
	const char *provider;  /* fixed provider segment, or NULL (focus: from a column) */
	const char *id_column; /* the cloud-id hint's evidence names it */
} bkind;

static const bkind kinds[3] = {
	{&st_connector_focus, NULL, "ResourceId"},
	{&st_connector_cur, "aws", "lineItem/ResourceId"},
	{&st_connector_gcp_billing, "gcp", "resource"},
};

/* ---- the oracle's view of a label key ---------------------------------------- */

/* docs/connectors.md, "Billing" (Labels) and "Secrets": the key lower-cased
 * without '_', '-', '.', '/', ':' and spaces contains one of these words. */
static const char *const secret_words[] = {
	"password",   "passwd",	    "passphrase", "pwd",    "secret",
	"token",      "privatekey", "accesskey",  "apikey", "connectionstring",
	"credential", "signingkey", "authkey",
};

static bool key_looks_secret(const char *k, size_t n)
{
	char norm[MAX_VALUE + 1];
	size_t m = 0;
	for (size_t i = 0; i < n && m < MAX_VALUE; i++) {
		char c = k[i];
		if (c == '_' || c == '-' || c == '.' || c == '/' || c == ':' || c == ' ')
			continue;
		norm[m++] = (c >= 'A' && c <= 'Z') ? (char)(c - 'A' + 'a') : c;
	}
	for (size_t w = 0; w < ST_ARRAY_LEN(secret_words); w++) {
		size_t wl = strlen(secret_words[w]);
		for (size_t i = 0; i + wl <= m; i++)
			if (!memcmp(norm + i, secret_words[w], wl))
				return true;
	}
	return false;
}

/* ---- an id -> index set ------------------------------------------------------ */

typedef struct idset {
	char **ids; /* in emission order */
	size_t *idlen;
	uint32_t *line;
	size_t n, cap;
	uint32_t *slots; /* index + 1 */
	size_t n_slots;
} idset;

static uint64_t fnv(uint64_t h, const void *p, size_t n)
{
	const unsigned char *s = p;
	for (size_t i = 0; i < n; i++) {
		h ^= s[i];
		h *= 0x100000001b3ULL;
	}
	return h;
}

#define FNV_INIT 0xcbf29ce484222325ULL

/* Index of id, or -1. */
static long idset_find(const idset *s, const char *id, size_t n)
{
	if (!s->n_slots)
		return -1;
	size_t k = fnv(FNV_INIT, id, n) & (s->n_slots - 1);
	while (s->slots[k]) {
		size_t i = s->slots[k] - 1;
		if (s->idlen[i] == n && !memcmp(s->ids[i], id, n))
			return (long)i;
		k = (k + 1) & (s->n_slots - 1);
	}
	return -1;
}

static void idset_grow(idset *s)
{
	size_t n = s->n_slots ? 2 * s->n_slots : 256;
	free(s->slots);
	s->slots = calloc(n, sizeof(*s->slots));
	if (!s->slots)
		fail("out of memory", NULL);
	s->n_slots = n;
	for (size_t i = 0; i < s->n; i++) {
		size_t k = fnv(FNV_INIT, s->ids[i], s->idlen[i]) & (n - 1);
		while (s->slots[k])
			k = (k + 1) & (n - 1);
		s->slots[k] = (uint32_t)i + 1;
	}
}

/* Adds id; false if it was there already. */
static bool idset_add(idset *s, const char *id, size_t n, uint32_t line)
{
	if (idset_find(s, id, n) >= 0)
		return false;
	if (s->n == s->cap) {
		s->cap = s->cap ? 2 * s->cap : 64;
		s->ids = xrealloc(s->ids, s->cap * sizeof(*s->ids));
		s->idlen = xrealloc(s->idlen, s->cap * sizeof(*s->idlen));
		s->line = xrealloc(s->line, s->cap * sizeof(*s->line));
	}
	s->ids[s->n] = xstrndup(id, n);
	s->idlen[s->n] = n;
	s->line[s->n] = line;
	s->n++;
	if (2 * s->n >= s->n_slots)
		idset_grow(s);
	else {
		size_t k = fnv(FNV_INIT, id, n) & (s->n_slots - 1);
		while (s->slots[k])
			k = (k + 1) & (s->n_slots - 1);
		s->slots[k] = (uint32_t)s->n;
	}
	return true;
}

static void idset_free(idset *s)
{
	for (size_t i = 0; i < s->n; i++)
		free(s->ids[i]);
	free(s->ids);
	free(s->idlen);
	free(s->line);
	free(s->slots);
	memset(s, 0, sizeof(*s));
}

/* ---- the sink -------------------------------------------------------------- */

typedef struct fsink {
	st_sink sink;
	const bkind *k;
	bool skip; /* on_error: skip */
	uint32_t max_line;

	idset nodes;
	/* the node just emitted: what its hints are checked against */
	uint8_t *last_props;
	size_t last_props_len, last_props_cap;
	bool last_bucket;
	bool last_cloud_hint;

	/* cost facts: sorted by (node, day, currency), every node has one */
	size_t costs;
	long cost_node; /* node of the last fact, -1 none */
	int32_t cost_day;
	uint16_t cost_cur;

	size_t hints, notes, skip_notes;
	char first_skip[ST_DIAG_MAX + 32]; /* the first skipped row's message */
	uint32_t first_skip_line;
	bool summary;
	unsigned long long summary_n;
	bool prog_res, prog_facts, prog_skipped;
	uint64_t n_res, n_facts, n_skipped;

	uint64_t digest; /* of every node, hint and cost, in order */
} fsink;

static void check_loc(const fsink *c, st_loc loc, uint32_t min_line, const char *what)
{
	if (!loc.origin || strcmp(loc.origin, ORIGIN))
		fail("a fact carries an unexpected origin", loc.origin ? loc.origin : what);
	if (loc.line < min_line || loc.line > c->max_line) {
		char m[160];
		snprintf(m, sizeof(m), "%s at line %u, the input has %u", what, loc.line,
			 c->max_line);
		fail("a line is outside the input", m);
	}
}

static void digest(fsink *c, const void *p, size_t n)
{
	uint64_t len = n;
	c->digest = fnv(c->digest, &len, sizeof(len));
	c->digest = fnv(c->digest, p, n);
}

/* The string property key of blob, or NULL. */
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

static void check_labels(const st_prop *p)
{
	st_coll_iter ci;
	const char *k, *v;
	size_t kl, vl, n = 0;
	char b[128];
	st_coll_iter_init(&ci, p);
	int rc;
	while ((rc = st_coll_next(&ci, &k, &kl, &v, &vl)) == 1) {
		n++;
		if (!kl)
			fail("a label with an empty key", NULL);
		if (kl > MAX_VALUE || vl > MAX_VALUE)
			fail("a label over 1024 bytes was kept", shown(k, kl, b));
		if (key_looks_secret(k, kl))
			fail("a label whose key looks like a secret was kept", shown(k, kl, b));
	}
	if (rc < 0)
		fail("a labels map is corrupt", NULL);
	if (n > MAX_TAGS)
		fail("more than 256 labels were kept", NULL);
}

static int f_node(st_sink *s, const char *id, size_t idlen, int type, const uint8_t *props,
		  size_t props_len, st_loc loc, st_diag *diag)
{
	(void)diag;
	fsink *c = s->ctx;
	char b[128];
	if (c->costs)
		fail("a node after the first cost fact", shown(id, idlen, b));
	check_loc(c, loc, 2, "node");
	if (!id || idlen <= 5 || idlen > ST_NODE_ID_MAX || memcmp(id, "bill:", 5))
		fail("a node id is not \"bill:PROVIDER/...\" of at most 400 bytes",
		     id ? shown(id, idlen, b) : NULL);
	if (memchr(id, 0, idlen))
		fail("a node id holds a NUL byte", shown(id, idlen, b));
	const st_node_type *nt = st_schema_node_type(s->schema, (size_t)type);
	if (type < 0 || !nt || strcmp(nt->name, "BillingResource"))
		fail("a node is not a BillingResource", shown(id, idlen, b));
	st_diag d = {{0}};
	if (st_props_check(props, props_len, nt->props, nt->n_props, &d))
		fail("a property blob does not satisfy the schema", d.msg);

	/* provider: the id's segment after "bill:" */
	const char *slash = memchr(id + 5, '/', idlen - 5);
	if (!slash || slash == id + 5)
		fail("a node id has no provider segment", shown(id, idlen, b));
	size_t pl = (size_t)(slash - (id + 5));
	for (size_t i = 5; i < 5 + pl; i++)
		if (!((id[i] >= 'a' && id[i] <= 'z') || (id[i] >= '0' && id[i] <= '9') ||
		      id[i] == '-'))
			fail("a provider is not [a-z0-9-]", shown(id, idlen, b));
	if (c->k->provider && (pl != strlen(c->k->provider) || memcmp(id + 5, c->k->provider, pl)))
		fail("the provider is not the kind's", shown(id, idlen, b));
	size_t n;
	const char *v = prop_str(props, props_len, "provider", &n);
	if (!v || n != pl || memcmp(v, id + 5, pl))
		fail("the provider property is not the id's", shown(id, idlen, b));
	const char *rest = slash + 1;
	size_t rl = idlen - 6 - pl;

	/* a resource (resource_id is the rest of the id) or a service bucket */
	v = prop_str(props, props_len, "resource_id", &n);
	c->last_bucket = !v;
	if (v) {
		if (!n || n != rl || memcmp(v, rest, rl))
			fail("resource_id is not the rest of the id", shown(id, idlen, b));
	} else {
		if (rl < 9 || memcmp(rest, "service/", 8))
			fail("a node without resource_id is not \"bill:P/service/NAME\"",
			     shown(id, idlen, b));
		static const char *const none[] = {"region", "account", "name", "labels"};
		st_prop p;
		for (size_t i = 0; i < ST_ARRAY_LEN(none); i++)
			if (st_props_get(props, props_len, none[i], strlen(none[i]), &p) != 0)
				fail("a service bucket has a resource property", none[i]);
	}

	/* values kept are at most 1024 bytes; labels follow the rules */
	st_props_iter it;
	st_prop p;
	int r;
	st_props_iter_init(&it, props, props_len);
	while ((r = st_props_next(&it, &p)) == 1) {
		if (p.type == ST_P_STRING && p.v.s.len > MAX_VALUE)
			fail("a property over 1024 bytes was kept", shown(p.key, p.klen, b));
		if (p.type == ST_P_STRING && !p.v.s.len)
			fail("an empty property was kept", shown(p.key, p.klen, b));
		if (p.type == ST_P_MAP)
			check_labels(&p);
	}
	if (r < 0)
		fail("a property blob is corrupt", NULL);

	if (!idset_add(&c->nodes, id, idlen, loc.line))
		fail("a node id was emitted twice", shown(id, idlen, b));
	if (props_len > c->last_props_cap) {
		c->last_props_cap = props_len;
		c->last_props = xrealloc(c->last_props, props_len);
	}
	if (props_len)
		memcpy(c->last_props, props, props_len);
	c->last_props_len = props_len;
	c->last_cloud_hint = false;

	digest(c, "N", 1);
	digest(c, id, idlen);
	digest(c, props, props_len);
	digest(c, &loc.line, sizeof(loc.line));
	return 0;
}

static int f_edge(st_sink *s, const char *src, size_t srclen, const char *dst, size_t dstlen,
		  int type, const uint8_t *props, size_t props_len, st_loc loc, st_diag *diag)
{
	(void)s, (void)src, (void)srclen, (void)dst, (void)dstlen, (void)type, (void)props;
	(void)props_len, (void)loc, (void)diag;
	fail("a billing connector emitted an edge", NULL);
	return 0;
}

static int f_hint(st_sink *s, const char *id, size_t idlen, st_hint_kind kind, const char *value,
		  size_t vlen, const char *rule, const char *evidence, st_loc loc, st_diag *diag)
{
	(void)diag;
	fsink *c = s->ctx;
	char b[128];
	if (!c->nodes.n || c->costs)
		fail("a hint outside the nodes", NULL);
	size_t last = c->nodes.n - 1;
	if (!id || idlen != c->nodes.idlen[last] || memcmp(id, c->nodes.ids[last], idlen))
		fail("a hint does not name the node just emitted", id ? shown(id, idlen, b) : NULL);
	if (c->last_bucket)
		fail("a hint for a service bucket", shown(id, idlen, b));
	if (!value || !vlen || !rule || !evidence)
		fail("a hint without value, rule or evidence", shown(id, idlen, b));
	check_loc(c, loc, 2, "hint");
	size_t n;
	if (kind == ST_HINT_CLOUD_ID) {
		if (c->last_cloud_hint)
			fail("two cloud-id hints for one node", shown(id, idlen, b));
		c->last_cloud_hint = true;
		const char *rid = prop_str(c->last_props, c->last_props_len, "resource_id", &n);
		if (!rid || n != vlen || memcmp(rid, value, n))
			fail("a cloud-id hint is not the node's resource_id", shown(id, idlen, b));
		if (strcmp(rule, "billing-resource-id"))
			fail("a cloud-id hint's rule is not billing-resource-id", rule);
		size_t cl = strlen(c->k->id_column);
		if (strlen(evidence) != cl + 1 + vlen || memcmp(evidence, c->k->id_column, cl) ||
		    evidence[cl] != ' ' || memcmp(evidence + cl + 1, value, vlen))
			fail("a cloud-id hint's evidence is not \"COLUMN ID\"", evidence);
	} else if (kind == ST_HINT_SERVICE || kind == ST_HINT_TEAM) {
		if (c->last_cloud_hint)
			fail("a tag hint after the cloud-id hint", shown(id, idlen, b));
		if (strcmp(rule, "billing-tag"))
			fail("a tag hint's rule is not billing-tag", rule);
		/* evidence "tag KEY=VALUE"; KEY a hint tag, VALUE the node's label */
		size_t el = strlen(evidence);
		if (el < 4 + 1 + 1 + vlen || memcmp(evidence, "tag ", 4) ||
		    memcmp(evidence + el - vlen, value, vlen) || evidence[el - vlen - 1] != '=')
			fail("a tag hint's evidence is not \"tag KEY=VALUE\"", evidence);
		const char *key = evidence + 4;
		size_t kl = el - vlen - 1 - 4;
		bool ok = kind == ST_HINT_SERVICE ?
				  (kl == 7 && !strncasecmp(key, "service", 7)) ||
					  (kl == 3 && !strncasecmp(key, "app", 3)) :
				  (kl == 4 && !strncasecmp(key, "team", 4)) ||
					  (kl == 5 && !strncasecmp(key, "owner", 5));
		if (!ok)
			fail("a tag hint from a tag that names no service or team", evidence);
		st_prop p;
		bool found = false;
		if (st_props_get(c->last_props, c->last_props_len, "labels", 6, &p) == 1) {
			st_coll_iter ci;
			const char *k, *v;
			size_t kl2, vl2;
			st_coll_iter_init(&ci, &p);
			while (!found && st_coll_next(&ci, &k, &kl2, &v, &vl2) == 1)
				found = kl2 == kl && !memcmp(k, key, kl) && v && vl2 == vlen &&
					!memcmp(v, value, vlen);
		}
		if (!found)
			fail("a tag hint quotes a label the node does not carry", evidence);
	} else {
		fail("a hint of an unexpected kind", shown(id, idlen, b));
	}
	c->hints++;
	digest(c, "H", 1);
	digest(c, &kind, sizeof(kind));
	digest(c, value, vlen);
	digest(c, evidence, strlen(evidence));
	return 0;
}

static int f_cost(st_sink *s, const char *resource, size_t rlen, int32_t day, uint16_t currency,
		  int64_t effective, int64_t billed, st_loc loc, st_diag *diag)
{
	(void)diag;
	fsink *c = s->ctx;
	char b[128];
	if (!resource)
		fail("a cost fact without a resource", NULL);
	long i = idset_find(&c->nodes, resource, rlen);
	if (i < 0)
		fail("a cost fact for a resource that was not emitted as a node",
		     shown(resource, rlen, b));
	if (day < 0 || day > MAX_DAY)
		fail("a cost fact has a day outside 1970..9999", shown(resource, rlen, b));
	char cur[4];
	uint16_t back;
	st_currency_format(currency, cur);
	for (int k = 0; k < 3; k++)
		if (cur[k] < 'A' || cur[k] > 'Z')
			fail("a cost fact's currency is not three letters", cur);
	if (st_currency_parse(cur, 3, &back) || back != currency)
		fail("a cost fact's currency does not read back", cur);
	if (effective == INT64_MIN || billed == INT64_MIN)
		fail("a cost fact holds INT64_MIN micro-units", shown(resource, rlen, b));
	check_loc(c, loc, c->nodes.line[i], "cost fact");
	/* sorted by (node, day, currency), no node left without a fact */
	if (i == c->cost_node) {
		if (day < c->cost_day || (day == c->cost_day && currency <= c->cost_cur))
			fail("cost facts of a node are not sorted by (day, currency) or repeat",
			     shown(resource, rlen, b));
	} else if (i != c->cost_node + 1) {
		fail("cost facts are not in node order, or a node has none",
		     shown(resource, rlen, b));
	}
	c->cost_node = i;
	c->cost_day = day;
	c->cost_cur = currency;
	c->costs++;
	digest(c, "C", 1);
	digest(c, &i, sizeof(i));
	digest(c, &day, sizeof(day));
	digest(c, &currency, sizeof(currency));
	digest(c, &effective, sizeof(effective));
	digest(c, &billed, sizeof(billed));
	digest(c, &loc.line, sizeof(loc.line));
	return 0;
}

static void f_warn(st_sink *s, st_loc loc, const char *msg)
{
	(void)s, (void)loc;
	fail("a warning although the sink takes notes", msg);
}

static bool parse_u(const char **s, unsigned long long *ret)
{
	const char *p = *s;
	unsigned long long v = 0;
	if (*p < '0' || *p > '9')
		return false;
	while (*p >= '0' && *p <= '9') {
		if (v > 1000000000000ULL)
			return false;
		v = v * 10 + (unsigned)(*p++ - '0');
	}
	*s = p;
	*ret = v;
	return true;
}

static void f_note(st_sink *s, st_loc loc, const char *msg)
{
	fsink *c = s->ctx;
	if (!msg || !msg[0])
		fail("an empty note", NULL);
	if (!loc.origin || strcmp(loc.origin, ORIGIN))
		fail("a note carries an unexpected origin", loc.origin);
	c->notes++;
	static const char skipped[] = "malformed row skipped: ";
	if (starts(msg, skipped)) {
		if (!c->skip)
			fail("a row was skipped under on_error: fail", msg);
		if (c->summary)
			fail("a skipped row reported after the summary", msg);
		check_loc(c, loc, 2, "skipped row");
		if (!c->skip_notes++) {
			snprintf(c->first_skip, sizeof(c->first_skip), "%s", msg + strlen(skipped));
			c->first_skip_line = loc.line;
		}
		if (c->skip_notes > MAX_REPORTED)
			fail("more than 10 skipped rows reported one by one", msg);
		return;
	}
	if (loc.line == 0) {
		/* only the summary: "N malformed row(s) skipped (on_error: skip), the first at
		 * ORIGIN:LINE" */
		const char *p = msg;
		unsigned long long n, line;
		if (!c->skip || c->summary || !parse_u(&p, &n) || !n)
			fail("a note without a line that is not the one skip summary", msg);
		const char *tail =
			n == 1 ? " malformed row skipped (on_error: skip), the first at " :
				 " malformed rows skipped (on_error: skip), the first at ";
		if (!starts(p, tail))
			fail("a note without a line that is not the one skip summary", msg);
		p += strlen(tail);
		if (!starts(p, ORIGIN ":"))
			fail("the skip summary names another file", msg);
		p += strlen(ORIGIN ":");
		if (!parse_u(&p, &line) || *p || line != c->first_skip_line)
			fail("the skip summary does not name the first skipped row", msg);
		c->summary = true;
		c->summary_n = n;
		return;
	}
	check_loc(c, loc, 1, "note");
}

static void f_progress(st_sink *s, const char *what, uint64_t done, uint64_t total)
{
	fsink *c = s->ctx;
	if (!what)
		fail("progress without a description", NULL);
	if (!strcmp(what, "billing bytes")) {
		if (done > total)
			fail("more bytes read than the file holds", NULL);
	} else if (!strcmp(what, "billing resources")) {
		c->prog_res = true;
		c->n_res = done;
	} else if (!strcmp(what, "billing cost facts")) {
		c->prog_facts = true;
		c->n_facts = done;
	} else if (!strcmp(what, "billing rows skipped")) {
		c->prog_skipped = true;
		c->n_skipped = done;
	} else if (strcmp(what, "billing rows")) {
		fail("progress of an unknown kind", what);
	}
}

static void f_set_state(st_sink *s, const char *state)
{
	(void)s;
	fail("a billing connector set a state", state);
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
	const char *err = fz_file_init(&fz.f, "billing", FILE_NAME);
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

static uint32_t count_breaks(const uint8_t *p, size_t n)
{
	uint32_t k = 0;
	for (size_t i = 0; i < n; i++)
		k += p[i] == '\n' || p[i] == '\r';
	return k;
}

/* The highest line the connector can number: each line it counts ends at a
 * '\n' or '\r' of the text it parses (inflated, for gzip). */
static uint32_t max_line(const uint8_t *data, size_t size)
{
	if (size < 2 || data[0] != 0x1f || data[1] != 0x8b)
		return 1 + count_breaks(data, size);
	/* gzip, concatenated members included, as far as zlib reads it */
	static uint8_t out[64 << 10];
	uint32_t lines = 1;
	z_stream z;
	memset(&z, 0, sizeof(z));
	if (inflateInit2(&z, 15 + 16) != Z_OK)
		fail("cannot start zlib", NULL);
	z.next_in = (Bytef *)(uintptr_t)data;
	z.avail_in = (uInt)size;
	for (;;) {
		z.next_out = out;
		z.avail_out = sizeof(out);
		int zr = inflate(&z, Z_NO_FLUSH);
		lines += count_breaks(out, sizeof(out) - z.avail_out);
		if (zr == Z_STREAM_END) {
			if (!z.avail_in)
				break;
			inflateReset(&z); /* another member follows */
		} else if (zr != Z_OK || z.avail_out) {
			break; /* an error, or all input read */
		}
	}
	inflateEnd(&z);
	return lines;
}

typedef struct outcome {
	int r;
	st_diag diag;
	fsink c;
} outcome;

static void run_once(outcome *o, const bkind *k, bool skip, uint32_t lines)
{
	memset(o, 0, sizeof(*o));
	fsink *c = &o->c;
	c->k = k;
	c->skip = skip;
	c->max_line = lines;
	c->cost_node = -1;
	c->digest = FNV_INIT;
	c->sink.schema = fz.schema;
	c->sink.ctx = c;
	c->sink.node = f_node;
	c->sink.edge = f_edge;
	c->sink.cost = f_cost;
	c->sink.hint = f_hint;
	c->sink.warn = f_warn;
	c->sink.note = f_note;
	c->sink.progress = f_progress;
	c->sink.set_state = f_set_state;
	st_kv opt = {"on_error", skip ? "skip" : "fail"};
	st_source src = {
		.name = SOURCE,
		.kind = k->conn->kind,
		.location = fz.f.input,
		.cache_dir = fz.f.dir,
		.options = &opt,
		.n_options = 1,
	};
	o->r = k->conn->run(&src, &c->sink, &o->diag);
	if (getenv("STACKTWIN_FUZZ_VERBOSE"))
		fprintf(stderr,
			"    %s, on_error %s: %s (%zu nodes, %zu hints, %zu cost facts, %zu notes, "
			"%zu skipped rows reported)\n",
			k->conn->kind, skip ? "skip" : "fail", o->r ? o->diag.msg : "read",
			c->nodes.n, c->hints, c->costs, c->notes, c->skip_notes);
}

/* Messages of failures that do not come from one row: the header, the
 * limits, sums over the limits. */
static bool not_a_row(const char *rest)
{
	return starts(rest, "header: ") || starts(rest, "no column ") ||
	       starts(rest, "more than ") || starts(rest, "the sum for ") ||
	       (starts(rest, "the ") && strstr(rest, " exceeds 2^63 micro-units"));
}

static void check_outcome(const outcome *o)
{
	const fsink *c = &o->c;
	const char *msg = o->diag.msg;
	if (o->r > 0)
		fail("the run returned a positive code", msg);
	if (o->r < 0) {
		if (o->r != ST_E_INVALID && o->r != ST_E_LIMIT)
			fail("a failure other than ST_E_INVALID or ST_E_LIMIT", msg);
		if (!starts(msg, ORIGIN ":"))
			fail("a failure does not name the file", msg);
		const char *p = msg + strlen(ORIGIN ":");
		unsigned long long line;
		if (*p == ' ') {
			/* file-level problems without a line (docs: "Malformed rows") */
			p++;
			if (strcmp(p, "empty file: no header row") &&
			    strcmp(p, "truncated gzip data") && !starts(p, "corrupt gzip data ("))
				fail("a failure without a line that is not a file-level problem",
				     msg);
		} else {
			if (!parse_u(&p, &line) || !starts(p, ": "))
				fail("a failure does not say \"FILE:LINE: \"", msg);
			if (line < 1 || line > c->max_line)
				fail("a failure's line is outside the input", msg);
			if (c->skip && !not_a_row(p + 2))
				fail("a row failed the run under on_error: skip", msg);
		}
		return;
	}
	if (!c->prog_res || !c->prog_facts || !c->prog_skipped)
		fail("a complete run did not report its counts", NULL);
	if (c->n_res != c->nodes.n || c->n_facts != c->costs)
		fail("the reported resources or cost facts are not what reached the sink", NULL);
	if (c->nodes.n && c->cost_node != (long)c->nodes.n - 1)
		fail("a node has no cost fact", c->nodes.ids[c->nodes.n - 1]);
	if (!c->skip && c->n_skipped)
		fail("rows were skipped under on_error: fail", NULL);
	if (c->skip) {
		if (c->summary != (c->n_skipped > 0) ||
		    (c->summary && c->summary_n != c->n_skipped))
			fail("the skip summary does not agree with the rows skipped", NULL);
		uint64_t want = c->n_skipped < MAX_REPORTED ? c->n_skipped : MAX_REPORTED;
		if (c->skip_notes != want)
			fail("the skipped rows reported one by one are not the first 10", NULL);
	}
}

/* The same file read with on_error: fail after on_error: skip. */
static void check_differential(const outcome *s, const outcome *f)
{
	if (!s->c.skip_notes) {
		if (f->r != s->r || f->c.digest != s->c.digest ||
		    (f->r < 0 && strcmp(f->diag.msg, s->diag.msg))) {
			fprintf(stderr, "  skip: %d %s\n  fail: %d %s\n", s->r, s->diag.msg, f->r,
				f->diag.msg);
			fail("with no row skipped, on_error: fail and skip differ", NULL);
		}
		return;
	}
	char want[ST_DIAG_MAX + 64];
	snprintf(want, sizeof(want), "%s:%u: %s", ORIGIN, s->c.first_skip_line, s->c.first_skip);
	/* the diag buffer may have cut a long message */
	size_t n = strlen(f->diag.msg);
	if (f->r != ST_E_INVALID || (n < ST_DIAG_MAX - 1 && strcmp(f->diag.msg, want)) ||
	    strncmp(f->diag.msg, want, n)) {
		fprintf(stderr, "  expected: %s\n  got: %d %s\n", want, f->r, f->diag.msg);
		fail("on_error: fail does not stop at the first row on_error: skip skipped", NULL);
	}
	if (f->c.nodes.n || f->c.costs || f->c.hints)
		fail("a run failed by a row emitted facts", NULL);
}

static void outcome_free(outcome *o)
{
	idset_free(&o->c.nodes);
	free(o->c.last_props);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 2 || size > FUZZ_MAX_INPUT)
		return 0;
	if (!fz.schema)
		init();
	const bkind *k = &kinds[data[0] % 3];
	bool skip = data[1] & 1;
	data += 2;
	size -= 2;
	write_input(data, size);
	uint32_t lines = max_line(data, size);

	static outcome first, second;
	run_once(&first, k, skip, lines);
	check_outcome(&first);
	if (skip) {
		run_once(&second, k, false, lines);
		check_outcome(&second);
		check_differential(&first, &second);
		outcome_free(&second);
	}
	outcome_free(&first);
	return 0;
}
