/*
 * fuzz_tfstate.c — fuzz target for the Terraform state connector
 * (connectors/terraform.c, st_connector_terraform).
 *
 * Each input is written to one file (created on the first call in a fresh
 * directory under $TMPDIR or /tmp, reused, removed at exit) and read by
 * st_connector_terraform.run() into a counting sink defined here.  Whatever
 * the input:
 *   - the run returns 0 (and sets a "tf1:" state) or a negative code with a
 *     message; nothing crashes;
 *   - every fact carries the file's origin and a line inside the input; ids
 *     are "tf:fuzz/..." without NUL bytes; property blobs satisfy the schema;
 *     a hint names a node emitted before it;
 *   - no secret leaks (docs/connectors.md, "Secrets").  Seeds plant marker
 *     tokens "FUZZ-SECRET-<word>" in values the connector must never copy:
 *     attributes other than arn, id, region, name, availability_zone, zone,
 *     location and the tag maps; values covered by `sensitive_attributes`;
 *     tags whose key looks like a secret; `outputs` and `check_results`.
 *     The target reads the input itself (a yajl event pass, below) and files
 *     every marker token under "allowed" when it sits where the connector may
 *     legitimately copy it (a resource name, an index key, a kept attribute
 *     no sensitive path covers, ...) and under "secret" otherwise.  Every
 *     marker token in an id, edge end, property (strings, list items, map
 *     keys and values), hint value, rule or evidence, warning, note, state or
 *     error message must then be (a prefix of, case aside: zones are cut to
 *     regions) an allowed token.  Reading the positions instead of banning
 *     the marker outright keeps the check sound when the fuzzer moves a
 *     marker into, say, a resource name.  Where the target cannot tell, it
 *     errs towards "allowed", so a report is always a real leak.
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

#include <yajl/yajl_parse.h>

#include "common.h"
#include "connector.h"
#include "fuzz_file.h"
#include "props.h"
#include "schema.h"

#define FUZZ_MAX_INPUT ((size_t)64 << 10)

#define MARKER "fuzz-secret-"
#define MARKER_LEN 12
#define ORIGIN "fuzz:input.tfstate"
#define ID_PREFIX "tf:fuzz/"

/* The connector keeps values and tag keys up to this many bytes. */
#define MAX_VALUE 1024

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void fail(const char *what, const char *detail)
{
	fprintf(stderr, "fuzz_tfstate: %s%s%s\n", what, detail ? ": " : "", detail ? detail : "");
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

/* ---- marker tokens ------------------------------------------------------- */

typedef struct tokset {
	char **v; /* lower-cased */
	size_t n, cap;
} tokset;

static bool tok_char(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       c == '_';
}

/* Calls fn for every marker token in s[0..n): the marker, case-insensitive,
 * and the token characters after it. */
static void each_token(const char *s, size_t n, void (*fn)(void *, const char *, size_t), void *ctx)
{
	for (size_t i = 0; n >= MARKER_LEN && i <= n - MARKER_LEN; i++) {
		if (strncasecmp(s + i, MARKER, MARKER_LEN))
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
		if (strlen(t->v[i]) == n && !strncasecmp(t->v[i], s, n))
			return;
	if (t->n == t->cap) {
		t->cap = t->cap ? 2 * t->cap : 16;
		t->v = xrealloc(t->v, t->cap * sizeof(*t->v));
	}
	char *d = xstrndup(s, n);
	for (size_t i = 0; i < n; i++)
		if (d[i] >= 'A' && d[i] <= 'Z')
			d[i] = (char)(d[i] - 'A' + 'a');
	t->v[t->n++] = d;
}

static void tok_free(tokset *t)
{
	for (size_t i = 0; i < t->n; i++)
		free(t->v[i]);
	free(t->v);
	memset(t, 0, sizeof(*t));
}

static bool tok_allowed(const tokset *allowed, const char *s, size_t n)
{
	for (size_t i = 0; i < allowed->n; i++)
		if (strlen(allowed->v[i]) >= n && !strncasecmp(allowed->v[i], s, n))
			return true;
	return false;
}

/* ---- where the input holds markers (a yajl event pass) -------------------- */

/* docs/connectors.md, "Secrets" */
static const char *const kept_attrs[] = {
	"arn", "id", "region", "name", "availability_zone", "zone", "location",
};
static const char *const tag_maps[] = {
	"tags", "labels", "tags_all", "effective_labels", "terraform_labels",
};
static const char *const secret_words[] = {
	"password",   "passwd",	    "passphrase", "pwd",    "secret",
	"token",      "privatekey", "accesskey",  "apikey", "connectionstring",
	"credential", "signingkey", "authkey",
};

static bool looks_secret(const char *k, size_t n)
{
	if (n >= MAX_VALUE)
		return true; /* such keys are not kept at all */
	char norm[MAX_VALUE];
	size_t m = 0;
	for (size_t i = 0; i < n; i++) {
		char c = k[i];
		if (c == '_' || c == '-' || c == '.' || c == '/' || c == ':' || c == ' ')
			continue;
		norm[m++] = (c >= 'A' && c <= 'Z') ? (char)(c - 'A' + 'a') : c;
	}
	norm[m] = 0;
	for (size_t i = 0; i < ST_ARRAY_LEN(secret_words); i++)
		if (memmem(norm, m, secret_words[i], strlen(secret_words[i])))
			return true;
	return false;
}

static int find_name(const char *const *names, size_t count, const char *s, size_t n)
{
	for (size_t i = 0; i < count; i++)
		if (strlen(names[i]) == n && !memcmp(names[i], s, n))
			return (int)i;
	return -1;
}

enum role {
	RO_ALLOWED, /* nothing the connector must keep secret */
	RO_SECRET,  /* never read: every value and key is secret */
	RO_TOP,
	RO_RESOURCES,
	RO_RESOURCE,
	RO_INSTANCES,
	RO_INSTANCE,
	RO_ATTRS,
	RO_FLAT,
	RO_TAGS,
	RO_SENS,
	RO_SPATH,
	RO_SSTEP,
	RO_SIDX,
};

typedef struct frame {
	uint8_t role;
	bool is_map;
	char *key; /* the current key of a map */
	size_t klen;
} frame;

/* A marker token in an instance's attributes, filed when the instance ends. */
typedef struct pending {
	char *tok;
	int attr; /* index in kept_attrs, or -1 for a tag */
	char *tag_key;
	size_t tag_klen;
} pending;

#define MAX_FRAMES 1024

typedef struct oracle {
	tokset allowed, secret;
	frame fr[MAX_FRAMES];
	size_t depth; /* may exceed MAX_FRAMES: deeper frames copy their parent's role */
	/* the current instance */
	bool in_inst;
	bool r_all, r_tags;
	uint32_t redact; /* bit per kept_attrs entry */
	char **rtags;	 /* tag keys a sensitive path covers */
	size_t n_rtags, cap_rtags;
	pending *pend;
	size_t n_pend, cap_pend;
	/* the sensitive path and step being read (as the connector reads them) */
	unsigned sp_steps;
	int sp_attr; /* -1 other, 0..6 kept attribute, 100+ tag map */
	bool sp_bad, sp_key_ok;
	char *sp_key;
	int st_type; /* 0 missing, 1 get_attr, 2 index, 3 other */
	int st_val;  /* 0 none, 1 string, 2 number, 3 other */
	char *st_buf;
	size_t st_len;
} oracle;

static frame *cur(oracle *o)
{
	return o->depth && o->depth <= MAX_FRAMES ? &o->fr[o->depth - 1] : NULL;
}

static int cur_role(oracle *o)
{
	if (!o->depth)
		return -1;
	if (o->depth > MAX_FRAMES)
		return o->fr[MAX_FRAMES - 1].role;
	return o->fr[o->depth - 1].role;
}

static void file_tokens(tokset *t, const char *s, size_t n)
{
	each_token(s, n, tok_add, t);
}

static void add_pending(void *ctx, const char *s, size_t n)
{
	oracle *o = ctx;
	frame *f = cur(o);
	if (o->n_pend == o->cap_pend) {
		o->cap_pend = o->cap_pend ? 2 * o->cap_pend : 16;
		o->pend = xrealloc(o->pend, o->cap_pend * sizeof(*o->pend));
	}
	pending *p = &o->pend[o->n_pend++];
	memset(p, 0, sizeof(*p));
	p->tok = xstrndup(s, n);
	p->attr = -1;
	if (f->role == RO_TAGS) {
		p->tag_key = xstrndup(f->key ? f->key : "", f->klen);
		p->tag_klen = f->klen;
		return;
	}
	/* RO_ATTRS or RO_FLAT: a kept attribute or (flat) "MAP.KEY" */
	int a = find_name(kept_attrs, ST_ARRAY_LEN(kept_attrs), f->key, f->klen);
	if (a >= 0) {
		p->attr = a;
		return;
	}
	const char *dot = memchr(f->key, '.', f->klen);
	p->tag_key = xstrndup(dot + 1, f->klen - (size_t)(dot + 1 - f->key));
	p->tag_klen = f->klen - (size_t)(dot + 1 - f->key);
}

/* Whether an attributes_flat key is "MAP.KEY" of a tag map (not "MAP.%"). */
static bool flat_tag_key(const char *k, size_t n)
{
	for (size_t t = 0; t < ST_ARRAY_LEN(tag_maps); t++) {
		size_t m = strlen(tag_maps[t]);
		if (n > m + 1 && !memcmp(k, tag_maps[t], m) && k[m] == '.' &&
		    !(n == m + 2 && k[m + 1] == '%'))
			return true;
	}
	return false;
}

/* File the current instance's pending tokens. */
static void end_instance(oracle *o)
{
	for (size_t i = 0; i < o->n_pend; i++) {
		pending *p = &o->pend[i];
		bool ok;
		if (p->attr >= 0) {
			ok = !o->r_all && !(o->redact & (1u << p->attr));
		} else {
			ok = !o->r_all && !o->r_tags && !looks_secret(p->tag_key, p->tag_klen);
			for (size_t k = 0; ok && k < o->n_rtags; k++)
				if (strlen(o->rtags[k]) == p->tag_klen &&
				    !memcmp(o->rtags[k], p->tag_key, p->tag_klen))
					ok = false;
		}
		file_tokens(ok ? &o->allowed : &o->secret, p->tok, strlen(p->tok));
		free(p->tok);
		free(p->tag_key);
	}
	o->n_pend = 0;
	for (size_t k = 0; k < o->n_rtags; k++)
		free(o->rtags[k]);
	o->n_rtags = 0;
	o->r_all = o->r_tags = false;
	o->redact = 0;
	o->in_inst = false;
}

static void step_value(oracle *o, bool is_string, bool is_number, const char *s, size_t n)
{
	if ((!is_string && !is_number) || n >= MAX_VALUE) {
		o->st_val = 3;
		return;
	}
	free(o->st_buf);
	o->st_buf = xstrndup(s, n);
	o->st_len = n;
	o->st_val = is_string ? 1 : 2;
}

static void end_step(oracle *o)
{
	unsigned k = o->sp_steps++;
	if (k == 0) {
		if (o->st_type == 1 && o->st_val == 1) {
			int a = find_name(kept_attrs, ST_ARRAY_LEN(kept_attrs), o->st_buf,
					  o->st_len);
			int t = find_name(tag_maps, ST_ARRAY_LEN(tag_maps), o->st_buf, o->st_len);
			o->sp_attr = a >= 0 ? a : t >= 0 ? 100 + t : -1;
		} else {
			o->sp_bad = true;
		}
	} else if (k == 1 && o->sp_attr >= 100 && o->st_type == 2 && o->st_val == 1) {
		free(o->sp_key);
		o->sp_key = xstrndup(o->st_buf, o->st_len);
		o->sp_key_ok = true;
	}
}

static void end_path(oracle *o)
{
	if (o->sp_steps == 0 || o->sp_bad) {
		o->r_all = true;
	} else if (o->sp_attr >= 100) {
		if (o->sp_steps == 1 || !o->sp_key_ok) {
			o->r_tags = true;
		} else {
			if (o->n_rtags == o->cap_rtags) {
				o->cap_rtags = o->cap_rtags ? 2 * o->cap_rtags : 8;
				o->rtags = xrealloc(o->rtags, o->cap_rtags * sizeof(*o->rtags));
			}
			o->rtags[o->n_rtags++] = o->sp_key;
			o->sp_key = NULL;
		}
	} else if (o->sp_attr >= 0) {
		o->redact |= 1u << o->sp_attr;
	}
}

/* A scalar (or key) in the current container: file its tokens. */
static void on_text(oracle *o, const char *s, size_t n, bool is_key)
{
	int role = cur_role(o);
	frame *f = cur(o);
	switch (role) {
	case RO_SECRET: file_tokens(&o->secret, s, n); return;
	case RO_ATTRS:
	case RO_FLAT:
		if (is_key) { /* attribute keys are never copied; flat tag keys look secret */
			file_tokens(&o->secret, s, n);
			return;
		}
		if (f && (find_name(kept_attrs, ST_ARRAY_LEN(kept_attrs), f->key, f->klen) >= 0 ||
			  (role == RO_FLAT && flat_tag_key(f->key, f->klen)))) {
			each_token(s, n, add_pending, o);
			return;
		}
		file_tokens(&o->secret, s, n);
		return;
	case RO_TAGS:
		if (is_key) { /* a key holding the marker holds "secret": dropped */
			file_tokens(&o->secret, s, n);
			return;
		}
		each_token(s, n, add_pending, o);
		return;
	default: file_tokens(&o->allowed, s, n); return;
	}
}

static bool key_is(const frame *f, const char *lit)
{
	return f && f->key && f->klen == strlen(lit) && !memcmp(f->key, lit, f->klen);
}

/* The scalar events of a sensitive path step, as the connector reads them. */
static void step_scalar(oracle *o, bool is_string, bool is_number, const char *s, size_t n)
{
	int role = cur_role(o);
	frame *f = cur(o);
	if (role == RO_SSTEP && key_is(f, "type")) {
		if (is_string && n == 8 && !memcmp(s, "get_attr", 8))
			o->st_type = 1;
		else if (is_string && n == 5 && !memcmp(s, "index", 5))
			o->st_type = 2;
		else
			o->st_type = 3;
	} else if ((role == RO_SSTEP || role == RO_SIDX) && key_is(f, "value")) {
		step_value(o, is_string, is_number, s, n);
	}
}

static int o_null(void *ctx)
{
	step_scalar(ctx, false, false, NULL, 0);
	return 1;
}

static int o_bool(void *ctx, int b)
{
	(void)b;
	step_scalar(ctx, false, false, NULL, 0);
	return 1;
}

static int o_number(void *ctx, const char *s, size_t n)
{
	step_scalar(ctx, false, true, s, n);
	return 1;
}

static int o_string(void *ctx, const unsigned char *s, size_t n)
{
	step_scalar(ctx, true, false, (const char *)s, n);
	on_text(ctx, (const char *)s, n, false);
	return 1;
}

static int o_key(void *ctx, const unsigned char *s, size_t n)
{
	oracle *o = ctx;
	on_text(o, (const char *)s, n, true);
	frame *f = cur(o);
	if (f) {
		free(f->key);
		f->key = xstrndup((const char *)s, n);
		f->klen = n;
	}
	return 1;
}

static int open_c(oracle *o, bool is_map)
{
	int parent = cur_role(o);
	frame *pf = cur(o);
	int role = RO_ALLOWED;
	switch (parent) {
	case -1: role = is_map ? RO_TOP : RO_ALLOWED; break;
	case RO_SECRET: role = RO_SECRET; break;
	case RO_TOP:
		if (key_is(pf, "resources") && !is_map)
			role = RO_RESOURCES;
		else if (key_is(pf, "outputs") || key_is(pf, "check_results"))
			role = RO_SECRET;
		break;
	case RO_RESOURCES: role = is_map ? RO_RESOURCE : RO_ALLOWED; break;
	case RO_RESOURCE:
		if (key_is(pf, "instances") && !is_map)
			role = RO_INSTANCES;
		break;
	case RO_INSTANCES:
		if (is_map) {
			if (o->in_inst)
				end_instance(o);
			o->in_inst = true;
			role = RO_INSTANCE;
		}
		break;
	case RO_INSTANCE:
		if (key_is(pf, "attributes") && is_map)
			role = RO_ATTRS;
		else if (key_is(pf, "attributes_flat") && is_map)
			role = RO_FLAT;
		else if (key_is(pf, "sensitive_attributes") && !is_map)
			role = RO_SENS;
		break;
	case RO_ATTRS:
		/* a tag map is read; any other container is skipped unread */
		role = RO_SECRET;
		if (is_map && pf && pf->key &&
		    find_name(tag_maps, ST_ARRAY_LEN(tag_maps), pf->key, pf->klen) >= 0)
			role = RO_TAGS;
		break;
	case RO_FLAT:
	case RO_TAGS: role = RO_SECRET; break;
	case RO_SENS:
		if (!is_map) {
			o->sp_steps = 0;
			o->sp_attr = -1;
			o->sp_bad = o->sp_key_ok = false;
			role = RO_SPATH;
		}
		break;
	case RO_SPATH:
		if (is_map) {
			o->st_type = 0;
			o->st_val = 0;
			role = RO_SSTEP;
		}
		break;
	case RO_SSTEP:
		if (key_is(pf, "value") && is_map)
			role = RO_SIDX;
		else if (key_is(pf, "value"))
			o->st_val = 3;
		else if (key_is(pf, "type"))
			o->st_type = 3;
		break;
	case RO_SIDX:
		if (key_is(pf, "value"))
			o->st_val = 3;
		break;
	}
	if (o->depth < MAX_FRAMES)
		o->fr[o->depth] = (frame){.role = (uint8_t)role, .is_map = is_map};
	o->depth++;
	return 1;
}

static int close_c(oracle *o)
{
	int role = cur_role(o);
	frame *f = cur(o);
	if (f) {
		free(f->key);
		f->key = NULL;
	}
	o->depth--;
	if (o->depth >= MAX_FRAMES)
		return 1;
	switch (role) {
	case RO_SSTEP: end_step(o); break;
	case RO_SPATH: end_path(o); break;
	case RO_INSTANCE: end_instance(o); break;
	}
	return 1;
}

static int o_start_map(void *ctx)
{
	return open_c(ctx, true);
}

static int o_start_array(void *ctx)
{
	return open_c(ctx, false);
}

static int o_end(void *ctx)
{
	return close_c(ctx);
}

static const yajl_callbacks oracle_callbacks = {
	.yajl_null = o_null,
	.yajl_boolean = o_bool,
	.yajl_number = o_number,
	.yajl_string = o_string,
	.yajl_start_map = o_start_map,
	.yajl_map_key = o_key,
	.yajl_end_map = o_end,
	.yajl_start_array = o_start_array,
	.yajl_end_array = o_end,
};

/* Read the input as the connector does (yajl, default options) and file its
 * marker tokens.  A syntax error ends the pass; what was read stands. */
static void oracle_read(oracle *o, const uint8_t *data, size_t size)
{
	memset(o, 0, sizeof(*o));
	yajl_handle h = yajl_alloc(&oracle_callbacks, NULL, o);
	if (!h)
		fail("out of memory", NULL);
	if (yajl_parse(h, data, size) == yajl_status_ok)
		yajl_complete_parse(h);
	yajl_free(h);
	if (o->in_inst)
		end_instance(o);
	for (size_t i = 0; i < o->depth && i < MAX_FRAMES; i++)
		free(o->fr[i].key);
	free(o->rtags);
	free(o->pend);
	free(o->sp_key);
	free(o->st_buf);
}

/* ---- the sink ------------------------------------------------------------- */

typedef struct fsink {
	st_sink sink;
	const oracle *o;
	uint32_t max_line;
	size_t nodes, edges, hints, warns, notes;
	char **ids; /* node ids, in order */
	size_t n_ids, cap_ids;
	bool state_set;
} fsink;

static void no_leak(const fsink *c, const char *s, size_t n, const char *what);

static void check_token(void *ctx, const char *s, size_t n)
{
	const fsink *c = ctx;
	if (tok_allowed(&c->o->allowed, s, n))
		return;
	char tok[128];
	snprintf(tok, sizeof(tok), "%.*s", (int)(n < 100 ? n : 100), s);
	for (size_t i = 0; i < c->o->secret.n; i++)
		if (strlen(c->o->secret.v[i]) >= n && !strncasecmp(c->o->secret.v[i], s, n))
			fail("a secret reached the sink", tok);
	fail("a marker token the input holds nowhere the connector may copy from reached the sink",
	     tok);
}

static void no_leak(const fsink *c, const char *s, size_t n, const char *what)
{
	if (!s)
		return;
	if (getenv("STACKTWIN_FUZZ_VERBOSE") && n >= MARKER_LEN && memmem(s, n, "FUZZ", 4))
		fprintf(stderr, "      %s: %.*s\n", what, (int)(n > 200 ? 200 : n), s);
	each_token(s, n, check_token, (void *)c);
}

static void check_props(const fsink *c, const uint8_t *blob, size_t len, const st_prop_def *defs,
			size_t n_defs)
{
	st_diag d = {{0}};
	if (st_props_check(blob, len, defs, n_defs, &d))
		fail("a property blob does not satisfy the schema", d.msg);
	st_props_iter it;
	st_prop p;
	st_props_iter_init(&it, blob, len);
	int r;
	while ((r = st_props_next(&it, &p)) == 1) {
		no_leak(c, p.key, p.klen, "property key");
		if (p.type == ST_P_STRING) {
			no_leak(c, p.v.s.p, p.v.s.len, "property");
		} else if (p.type == ST_P_LIST || p.type == ST_P_MAP) {
			st_coll_iter ci;
			const char *k, *v;
			size_t kl, vl;
			st_coll_iter_init(&ci, &p);
			int rc;
			while ((rc = st_coll_next(&ci, &k, &kl, &v, &vl)) == 1) {
				no_leak(c, k, kl, "property item");
				if (v)
					no_leak(c, v, vl, "property value");
			}
			if (rc < 0)
				fail("a list or map property is corrupt", NULL);
		}
	}
	if (r < 0)
		fail("a property blob is corrupt", NULL);
}

static void check_loc(const fsink *c, st_loc loc, const char *what)
{
	if (!loc.origin || strcmp(loc.origin, ORIGIN))
		fail("a fact carries an unexpected origin", loc.origin ? loc.origin : what);
	if (loc.line < 1 || loc.line > c->max_line)
		fail("a fact's line is outside the input", what);
}

static void check_id(const fsink *c, const char *id, size_t n, const char *what)
{
	if (!id || n <= strlen(ID_PREFIX) || strncmp(id, ID_PREFIX, strlen(ID_PREFIX)))
		fail("an id is not \"" ID_PREFIX "ADDRESS\"", what);
	if (memchr(id, 0, n))
		fail("an id holds a NUL byte", what);
	no_leak(c, id, n, what);
}

static int f_node(st_sink *s, const char *id, size_t idlen, int type, const uint8_t *props,
		  size_t props_len, st_loc loc, st_diag *diag)
{
	(void)diag;
	fsink *c = s->ctx;
	check_id(c, id, idlen, "node id");
	const st_node_type *nt = st_schema_node_type(s->schema, (size_t)type);
	if (type < 0 || !nt || strcmp(nt->name, "CloudResource"))
		fail("a node is not a CloudResource", NULL);
	check_props(c, props, props_len, nt->props, nt->n_props);
	check_loc(c, loc, "node");
	if (c->n_ids == c->cap_ids) {
		c->cap_ids = c->cap_ids ? 2 * c->cap_ids : 64;
		c->ids = xrealloc(c->ids, c->cap_ids * sizeof(*c->ids));
	}
	c->ids[c->n_ids++] = xstrndup(id, idlen);
	c->nodes++;
	return 0;
}

static int f_edge(st_sink *s, const char *src, size_t srclen, const char *dst, size_t dstlen,
		  int type, const uint8_t *props, size_t props_len, st_loc loc, st_diag *diag)
{
	(void)diag;
	fsink *c = s->ctx;
	check_id(c, src, srclen, "edge source");
	check_id(c, dst, dstlen, "edge target");
	const st_edge_type *et = st_schema_edge_type(s->schema, (size_t)type);
	if (type < 0 || !et || strcmp(et->name, "DEPENDS_ON"))
		fail("an edge is not DEPENDS_ON", NULL);
	check_props(c, props, props_len, et->props, et->n_props);
	check_loc(c, loc, "edge");
	c->edges++;
	return 0;
}

static int f_cost(st_sink *s, const char *resource, size_t rlen, int32_t day, uint16_t currency,
		  int64_t effective, int64_t billed, st_loc loc, st_diag *diag)
{
	(void)s, (void)resource, (void)rlen, (void)day, (void)currency, (void)effective;
	(void)billed, (void)loc, (void)diag;
	fail("the Terraform connector emitted a cost fact", NULL);
	return 0;
}

static int f_hint(st_sink *s, const char *id, size_t idlen, st_hint_kind kind, const char *value,
		  size_t vlen, const char *rule, const char *evidence, st_loc loc, st_diag *diag)
{
	(void)diag;
	fsink *c = s->ctx;
	check_id(c, id, idlen, "hint id");
	if (kind != ST_HINT_SERVICE && kind != ST_HINT_TEAM && kind != ST_HINT_SYSTEM)
		fail("a hint has an unknown kind", NULL);
	if (!value || !vlen || !rule || !evidence)
		fail("a hint has no value, rule or evidence", NULL);
	no_leak(c, value, vlen, "hint value");
	no_leak(c, rule, strlen(rule), "hint rule");
	no_leak(c, evidence, strlen(evidence), "hint evidence");
	check_loc(c, loc, "hint");
	bool found = false;
	for (size_t i = c->n_ids; !found && i-- > 0;)
		found = strlen(c->ids[i]) == idlen && !memcmp(c->ids[i], id, idlen);
	if (!found)
		fail("a hint names no node emitted before it", NULL);
	c->hints++;
	return 0;
}

static void f_warn(st_sink *s, st_loc loc, const char *msg)
{
	fsink *c = s->ctx;
	if (!msg || !msg[0])
		fail("an empty warning", NULL);
	no_leak(c, msg, strlen(msg), "warning");
	check_loc(c, loc, "warning");
	c->warns++;
}

static void f_note(st_sink *s, st_loc loc, const char *msg)
{
	fsink *c = s->ctx;
	if (!msg || !msg[0])
		fail("an empty note", NULL);
	no_leak(c, msg, strlen(msg), "note");
	check_loc(c, loc, "note");
	c->notes++;
}

static void f_progress(st_sink *s, const char *what, uint64_t done, uint64_t total)
{
	(void)done, (void)total;
	if (!what)
		fail("progress without a description", NULL);
	no_leak(s->ctx, what, strlen(what), "progress");
}

static void f_set_state(st_sink *s, const char *state)
{
	fsink *c = s->ctx;
	if (!state || strncmp(state, "tf1:", 4) || strlen(state) > 1024)
		fail("the state is not \"tf1:LINEAGE:SERIAL\" of at most 1 KiB", state);
	no_leak(c, state, strlen(state), "state");
	c->state_set = true;
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
	const char *err = fz_file_init(&fz.f, "tfstate", "input.tfstate");
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

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size > FUZZ_MAX_INPUT)
		return 0;
	if (!fz.schema)
		init();
	write_input(data, size);

	oracle o;
	oracle_read(&o, data, size);

	fsink c = {0};
	c.o = &o;
	c.max_line = 1;
	for (size_t i = 0; i < size; i++)
		c.max_line += data[i] == '\n';
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

	st_source src = {
		.name = "fuzz",
		.kind = "terraform",
		.location = fz.f.input,
		.cache_dir = fz.f.dir,
	};
	st_diag diag = {{0}};
	int r = st_connector_terraform.run(&src, &c.sink, &diag);
	if (getenv("STACKTWIN_FUZZ_VERBOSE"))
		fprintf(stderr,
			"    %s (%zu nodes, %zu edges, %zu hints, %zu warnings, %zu notes; "
			"markers: %zu allowed, %zu secret)\n",
			r ? diag.msg : "read", c.nodes, c.edges, c.hints, c.warns, c.notes,
			o.allowed.n, o.secret.n);
	if (r > 0)
		fail("the run returned a positive code", diag.msg);
	if (r < 0 && !diag.msg[0])
		fail("a failed run left no message", NULL);
	if (r == 0 && !c.state_set)
		fail("a successful run set no state", NULL);
	no_leak(&c, diag.msg, strlen(diag.msg), "error message");

	for (size_t i = 0; i < c.n_ids; i++)
		free(c.ids[i]);
	free(c.ids);
	tok_free(&o.allowed);
	tok_free(&o.secret);
	return 0;
}
