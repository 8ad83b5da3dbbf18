/*
 * terraform.c — the Terraform state connector (docs/connectors.md, "Terraform").
 *
 * Reads one Terraform state (format version 4, written by Terraform 0.12 and
 * later) from a file or an http(s) URL and emits one CloudResource node per
 * managed resource instance, DEPENDS_ON edges from each instance's
 * `dependencies`, and identity hints from service/team/system tags.
 *
 * The state is parsed as a stream (yajl over 256 KiB chunks or libcurl's
 * write callback); the text is never held whole.  Per instance only a few
 * values are buffered (index key, arn, id, region, name, zone, tags,
 * dependencies, sensitive paths) until the resource ends, because JSON key
 * order is free: `sensitive_attributes` may come after `attributes`, and a
 * key-sorted state has `instances` before `type`.  What outlives a resource
 * is a compact table of instance addresses and interned dependency strings,
 * resolved into edges once the whole state has been read.
 *
 * Secrets: no attribute value other than the ones above is ever copied, and
 * those are dropped when a `sensitive_attributes` path covers them or (for
 * tags) when the key looks like a secret.  Nothing here may put an attribute
 * value into a message: errors name keys, addresses and positions only, and
 * yajl's verbose errors (which quote the input) are never used.
 *
 * Like every connector it does not log and never touches the store.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <curl/curl.h>
#include <yajl/yajl_parse.h>

#include "connector.h"
#include "fetch.h"
#include "jsonpos.h"
#include "props.h"

/* A remark that does not make the state's facts doubtful (connector.h). */
static void note(st_sink *sink, st_loc loc, const char *msg)
{
	if (sink->note)
		sink->note(sink, loc, msg);
	else
		sink->warn(sink, loc, msg);
}

#define READ_CHUNK (256u << 10)
#define MAX_STATE_BYTES (8ull << 30) /* a state larger than this is refused */
#define MAX_DEPTH 512		     /* JSON nesting */
#define MAX_VALUE 1024		     /* a kept attribute or tag key/value, bytes */
#define MAX_ADDR 4096		     /* a resource instance address */
#define MAX_TAGS 1024		     /* kept tags per instance */
#define MAX_LINEAGE 256
#define MAX_DEP_WARNINGS 100
#define PROGRESS_EVERY (16u << 20)

/* ---------------------------------------------------------------------------
 * Small containers. */
typedef struct sbuf {
	char *p;
	size_t len, cap;
} sbuf;

static size_t sb_add(sbuf *b, const void *s, size_t n)
{
	if (b->len + n + 1 > b->cap) {
		size_t nc = b->cap ? b->cap * 2 : 4096;
		while (nc < b->len + n + 1)
			nc *= 2;
		b->p = st_xrealloc(b->p, nc);
		b->cap = nc;
	}
	size_t off = b->len;
	if (n)
		memcpy(b->p + off, s, n);
	b->len += n;
	b->p[b->len] = 0;
	return off;
}

static size_t sb_str(sbuf *b, const char *s)
{
	return sb_add(b, s, strlen(s));
}

static void sb_free(sbuf *b)
{
	free(b->p);
	memset(b, 0, sizeof(*b));
}

/* Make room for one more element in a vector. */
static void *grow(void *v, size_t n, size_t *cap, size_t elem)
{
	if (n < *cap)
		return v;
	*cap = *cap ? *cap * 2 : 16;
	return st_xrealloc(v, *cap * elem);
}
#define PUSH(v, n, cap) ((v) = grow((v), (n), &(cap), sizeof(*(v))), &(v)[(n)++])

/* An interning string table (open addressing, FNV-1a): id per distinct
 * string, plus one uint32 value the caller may use. */
struct tab_ent {
	size_t off;
	uint32_t len, val;
	uint64_t hash;
};

typedef struct strtab {
	sbuf s;
	struct tab_ent *e;
	size_t n, cap;
	uint32_t *slots; /* entry index + 1; 0 = empty */
	size_t nslots;
} strtab;

static uint64_t fnv1a(const char *s, size_t n)
{
	uint64_t h = 1469598103934665603ull;
	for (size_t i = 0; i < n; i++) {
		h ^= (unsigned char)s[i];
		h *= 1099511628211ull;
	}
	return h;
}

static void tab_rehash(strtab *t)
{
	size_t ns = t->nslots ? t->nslots * 2 : 256;
	uint32_t *slots = st_xcalloc(ns, sizeof(*slots));
	for (size_t i = 0; i < t->n; i++) {
		size_t j = t->e[i].hash & (ns - 1);
		while (slots[j])
			j = (j + 1) & (ns - 1);
		slots[j] = (uint32_t)i + 1;
	}
	free(t->slots);
	t->slots = slots;
	t->nslots = ns;
}

/* Index of the string, or -1; with add, adds it (val = UINT32_MAX). */
static int64_t tab_get(strtab *t, const char *s, size_t n, bool add)
{
	if (add && (t->n + 1) * 2 > t->nslots)
		tab_rehash(t);
	if (!t->nslots)
		return -1;
	uint64_t h = fnv1a(s, n);
	size_t j = h & (t->nslots - 1);
	while (t->slots[j]) {
		struct tab_ent *e = &t->e[t->slots[j] - 1];
		if (e->hash == h && e->len == n && !memcmp(t->s.p + e->off, s, n))
			return t->slots[j] - 1;
		j = (j + 1) & (t->nslots - 1);
	}
	if (!add)
		return -1;
	struct tab_ent *e = PUSH(t->e, t->n, t->cap);
	e->off = sb_add(&t->s, s, n);
	t->s.len++; /* keep the NUL sb_add wrote: tab_str returns C strings */
	e->len = (uint32_t)n;
	e->val = UINT32_MAX;
	e->hash = h;
	t->slots[j] = (uint32_t)t->n;
	return (int64_t)t->n - 1;
}

static const char *tab_str(const strtab *t, size_t i)
{
	return t->s.p + t->e[i].off;
}

static void tab_free(strtab *t)
{
	sb_free(&t->s);
	free(t->e);
	free(t->slots);
	memset(t, 0, sizeof(*t));
}

/* ---------------------------------------------------------------------------
 * What is kept while a resource is being read ("pending"). */

/* Kept scalar attributes; the bit (1 << A_x) redacts one. */
enum { A_ARN, A_ID, A_REGION, A_NAME, A_AZ, A_ZONE, A_LOCATION, A_N };
static const char *const attr_names[A_N] = {
	"arn", "id", "region", "name", "availability_zone", "zone", "location",
};
#define R_TAGS (1u << 16) /* a whole tag/label map is sensitive */
#define R_ALL (1u << 17)  /* an unrecognised sensitive path: keep no attribute value */

/* Maps that hold tags; lower prio wins for a key present in several. */
enum { T_TAGS, T_LABELS, T_TAGS_ALL, T_EFFECTIVE_LABELS, T_TERRAFORM_LABELS, T_N };
static const char *const tagsrc_names[T_N] = {
	"tags", "labels", "tags_all", "effective_labels", "terraform_labels",
};
static const uint8_t tagsrc_prio[T_N] = {0, 0, 1, 1, 2};
static const char *const tagsrc_word[T_N] = {"tag", "label", "tag", "label", "label"};

enum { R_MODULE, R_MODE, R_TYPE, R_NAME, R_PROVIDER, R_N };
static const char *const res_field_names[R_N] = {"module", "mode", "type", "name", "provider"};

typedef struct ptag {
	size_t koff, klen, voff, vlen; /* in pend */
	uint8_t src;
} ptag;

typedef struct pdep {
	size_t off, len; /* in pend */
	bool relative;	 /* legacy `depends_on`: relative to the resource's module */
} pdep;

typedef struct pinst {
	uint32_t line;
	uint8_t idx_kind; /* 0 none, 1 number, 2 string */
	bool deposed;
	size_t idx_off, idx_len;
	size_t a_off[A_N], a_len[A_N];
	uint32_t a_set, redact;
	uint32_t n_long; /* values over MAX_VALUE that were not kept */
	size_t tag0, n_tags;
	size_t rtag0, n_rtags; /* tag keys a sensitive path covers (src unused) */
	size_t dep0, n_deps;
} pinst;

typedef struct pres {
	size_t off[R_N], len[R_N];
	uint32_t set;
	uint32_t line, col;
	size_t inst0, n_inst;
} pres;

/* What outlives the resource: one record per emitted instance and resource. */
typedef struct inst {
	size_t addr_off; /* in addrs */
	uint32_t addr_len, line;
	size_t dep0; /* in deps */
	uint32_t n_deps;
} inst;

typedef struct rrec {
	size_t abs_off; /* module (with instance keys) + type.name, in addrs */
	uint32_t abs_len;
	uint32_t inst0, n_inst;
	uint32_t next; /* next resource with the same config address; UINT32_MAX ends */
	bool data;
} rrec;

/* Resolution of one distinct dependency string. */
typedef struct depres {
	uint8_t state; /* 0 not yet, 1 instances, 2 only data sources, 3 missing */
	size_t off, n; /* into targets */
	uint32_t first_inst, refs;
} depres;

/* ---------------------------------------------------------------------------
 * The parser. */
/* One label candidate while building an instance's labels. */
struct tv {
	const char *k, *v;
	size_t kl, vl;
	uint8_t prio, src;
};

enum frame {
	FR_NONE,
	FR_TOP,
	FR_RESOURCES,
	FR_RESOURCE,
	FR_INSTANCES,
	FR_INSTANCE,
	FR_ATTRS,
	FR_TAGS,
	FR_SENS,
	FR_SPATH,
	FR_SSTEP,
	FR_SIDX,
	FR_DEPS,
};

enum key {
	K_OTHER = 0,
	K_VERSION,
	K_SERIAL,
	K_LINEAGE,
	K_RESOURCES,
	K_RES = 10, /* + R_x */
	K_INSTANCES = 20,
	K_INDEX_KEY,
	K_ATTRIBUTES,
	K_ATTRIBUTES_FLAT,
	K_SENSITIVE,
	K_DEPENDENCIES,
	K_DEPENDS_ON,
	K_DEPOSED,
	K_ATTR = 40,	 /* + A_x */
	K_TAGSRC = 60,	 /* + T_x */
	K_FLAT_TAG = 70, /* attributes_flat "tags.KEY"; the key is in flat_key */
	K_STYPE = 80,
	K_SVALUE,
	K_SIDX_VALUE,
};

enum vkind { V_NULL, V_BOOL, V_NUMBER, V_STRING };

typedef struct tfp {
	const st_source *src;
	st_sink *sink;
	st_diag *diag;
	const char *origin;
	const char *ws;
	int node_type, edge_type;
	yajl_handle h;
	int err;

	/* position: newlines are counted up to yajl's consumed offset */
	st__jpos pos;
	uint64_t next_progress, total_hint;

	/* structure */
	uint8_t fr[16];
	int nfr;
	uint32_t skip; /* depth inside a container we do not read */
	int key;
	bool flat; /* reading attributes_flat */
	uint8_t tag_src;
	size_t tkey_off, tkey_len;
	bool tkey_long;
	size_t flat_key_off, flat_key_len;
	bool deps_relative;

	/* sensitive path under construction */
	uint32_t sp_steps;
	int sp_attr; /* -1 other, else K_ATTR+A_x or K_TAGSRC+T_x */
	bool sp_bad, sp_key_ok;
	size_t sp_key_off, sp_key_len;
	int st_type; /* 0 missing, 1 get_attr, 2 index, 3 other */
	int st_val;  /* 0 none, 1 string, 2 number, 3 complex or too long */
	char st_buf[MAX_VALUE];
	size_t st_len;

	/* top level */
	bool have_version, version_ok, have_serial, have_lineage;
	char serial[24], lineage[MAX_LINEAGE + 1];

	/* pending resources (until flushed) */
	sbuf pend;
	pres *pr;
	size_t npr, cappr;
	pinst *pi;
	size_t npi, cappi;
	ptag *pt;
	size_t npt, cappt;
	ptag *rt;
	size_t nrt, caprt;
	pdep *pd;
	size_t npd, cappd;

	/* permanent */
	sbuf addrs;
	inst *in;
	size_t nin, capin;
	rrec *rs;
	size_t nrs, caprs;
	uint32_t *deps;
	size_t ndeps, capdeps;
	strtab deptab, cfgtab;
	depres *dr;
	uint32_t *targets;
	size_t ntargets, captargets;

	/* scratch */
	st_pb pb;
	sbuf tmp, id1, id2, ev;
	struct tv *tv;
	size_t ntv, captv;

	uint64_t n_data, n_deposed, n_other_mode, n_instances;
} tfp;

/* The current position (after the token yajl just delivered). */
static void here(tfp *p, uint32_t *line, uint32_t *col)
{
	st__jpos_here(&p->pos, p->h, line, col);
}

static int fail_at(tfp *p, uint32_t line, uint32_t col, int code, const char *fmt, ...)
	__attribute__((format(printf, 5, 6)));
static int fail_at(tfp *p, uint32_t line, uint32_t col, int code, const char *fmt, ...)
{
	char msg[ST_DIAG_MAX - 128];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	p->err = st_diag_set(p->diag, code, "%s:%u:%u: %s", p->origin, line, col, msg);
	return 0; /* cancels yajl */
}

#define FAIL(p, ...)                                                    \
	do {                                                            \
		uint32_t l_, c_;                                        \
		here((p), &l_, &c_);                                    \
		return fail_at((p), l_, c_, ST_E_INVALID, __VA_ARGS__); \
	} while (0)

static int top(const tfp *p)
{
	return p->nfr ? p->fr[p->nfr - 1] : FR_NONE;
}

static bool key_is(const char *s, size_t n, const char *lit)
{
	size_t m = strlen(lit);
	return n == m && !memcmp(s, lit, m);
}

static int classify_attr(const char *s, size_t n)
{
	for (int a = 0; a < A_N; a++)
		if (key_is(s, n, attr_names[a]))
			return K_ATTR + a;
	for (int t = 0; t < T_N; t++)
		if (key_is(s, n, tagsrc_names[t]))
			return K_TAGSRC + t;
	return K_OTHER;
}

static pinst *cur_inst(tfp *p)
{
	return &p->pi[p->npi - 1];
}

static pres *cur_res(tfp *p)
{
	return &p->pr[p->npr - 1];
}

static int flush(tfp *p);

/* ---- yajl callbacks ---- */

static int on_key(void *ctx, const unsigned char *s8, size_t n)
{
	tfp *p = ctx;
	if (p->skip)
		return 1;
	const char *s = (const char *)s8;
	int k = K_OTHER;
	switch (top(p)) {
	case FR_TOP:
		if (key_is(s, n, "version"))
			k = K_VERSION;
		else if (key_is(s, n, "serial"))
			k = K_SERIAL;
		else if (key_is(s, n, "lineage"))
			k = K_LINEAGE;
		else if (key_is(s, n, "resources"))
			k = K_RESOURCES;
		break;
	case FR_RESOURCE:
		for (int r = 0; r < R_N; r++)
			if (key_is(s, n, res_field_names[r]))
				k = K_RES + r;
		if (key_is(s, n, "instances"))
			k = K_INSTANCES;
		break;
	case FR_INSTANCE:
		if (key_is(s, n, "index_key"))
			k = K_INDEX_KEY;
		else if (key_is(s, n, "attributes"))
			k = K_ATTRIBUTES;
		else if (key_is(s, n, "attributes_flat"))
			k = K_ATTRIBUTES_FLAT;
		else if (key_is(s, n, "sensitive_attributes"))
			k = K_SENSITIVE;
		else if (key_is(s, n, "dependencies"))
			k = K_DEPENDENCIES;
		else if (key_is(s, n, "depends_on"))
			k = K_DEPENDS_ON;
		else if (key_is(s, n, "deposed"))
			k = K_DEPOSED;
		break;
	case FR_ATTRS:
		if (!p->flat) {
			k = classify_attr(s, n);
			break;
		}
		/* attributes_flat: "tags.KEY" / "labels.KEY"; "tags.%" is the count */
		for (int t = 0; t < T_N; t++) {
			size_t m = strlen(tagsrc_names[t]);
			if (n > m + 1 && !memcmp(s, tagsrc_names[t], m) && s[m] == '.' &&
			    !(n == m + 2 && s[m + 1] == '%')) {
				p->tag_src = (uint8_t)t;
				if (n - m - 1 > MAX_VALUE) {
					cur_inst(p)->n_long++;
					p->key = K_OTHER;
					return 1;
				}
				p->flat_key_off = sb_add(&p->pend, s + m + 1, n - m - 1);
				p->flat_key_len = n - m - 1;
				p->key = K_FLAT_TAG;
				return 1;
			}
		}
		k = classify_attr(s, n);
		if (k >= K_TAGSRC)
			k = K_OTHER; /* "tags" itself does not occur flat */
		break;
	case FR_TAGS:
		p->tkey_long = n > MAX_VALUE;
		if (!p->tkey_long) {
			p->tkey_off = sb_add(&p->pend, s, n);
			p->tkey_len = n;
		}
		break;
	case FR_SSTEP:
		if (key_is(s, n, "type"))
			k = K_STYPE;
		else if (key_is(s, n, "value"))
			k = K_SVALUE;
		break;
	case FR_SIDX:
		if (key_is(s, n, "value"))
			k = K_SIDX_VALUE;
		break;
	}
	p->key = k;
	return 1;
}

static void begin_resource(tfp *p)
{
	pres *r = PUSH(p->pr, p->npr, p->cappr);
	memset(r, 0, sizeof(*r));
	here(p, &r->line, &r->col);
	if (r->col > 1)
		r->col--; /* point at the '{' itself */
	r->inst0 = p->npi;
}

static void begin_instance(tfp *p)
{
	pinst *i = PUSH(p->pi, p->npi, p->cappi);
	memset(i, 0, sizeof(*i));
	uint32_t col;
	here(p, &i->line, &col);
	i->tag0 = p->npt;
	i->rtag0 = p->nrt;
	i->dep0 = p->npd;
	cur_res(p)->n_inst++;
}

static void step_value(tfp *p, enum vkind kind, const char *s, size_t n)
{
	if ((kind != V_STRING && kind != V_NUMBER) || n >= sizeof(p->st_buf)) {
		p->st_val = 3;
		return;
	}
	memcpy(p->st_buf, s, n);
	p->st_len = n;
	p->st_val = kind == V_STRING ? 1 : 2;
}

static void end_step(tfp *p)
{
	uint32_t k = p->sp_steps++;
	if (k == 0) {
		if (p->st_type == 1 && p->st_val == 1) {
			int a = classify_attr(p->st_buf, p->st_len);
			p->sp_attr = a == K_OTHER ? -1 : a;
		} else
			p->sp_bad = true;
	} else if (k == 1 && p->sp_attr >= K_TAGSRC) {
		if (p->st_type == 2 && p->st_val == 1) {
			p->sp_key_off = sb_add(&p->pend, p->st_buf, p->st_len);
			p->sp_key_len = p->st_len;
			p->sp_key_ok = true;
		}
	}
}

static void end_path(tfp *p)
{
	pinst *i = cur_inst(p);
	if (p->sp_steps == 0 || p->sp_bad)
		i->redact |= R_ALL;
	else if (p->sp_attr >= K_TAGSRC) {
		if (p->sp_steps == 1 || !p->sp_key_ok)
			i->redact |= R_TAGS;
		else {
			ptag *t = PUSH(p->rt, p->nrt, p->caprt);
			memset(t, 0, sizeof(*t));
			t->koff = p->sp_key_off;
			t->klen = p->sp_key_len;
			i->n_rtags++;
		}
	} else if (p->sp_attr >= K_ATTR)
		i->redact |= 1u << (p->sp_attr - K_ATTR);
}

static int open_container(tfp *p, bool is_map)
{
	if (p->skip) {
		if (++p->skip + (uint32_t)p->nfr > MAX_DEPTH)
			FAIL(p, "JSON nested deeper than %d levels", MAX_DEPTH);
		return 1;
	}
	int next = -1;
	switch (top(p)) {
	case FR_NONE:
		if (!is_map)
			FAIL(p, "a Terraform state must be a JSON object");
		next = FR_TOP;
		break;
	case FR_TOP:
		if (p->key == K_RESOURCES) {
			if (is_map)
				FAIL(p, "\"resources\" must be an array");
			next = FR_RESOURCES;
		} else if (p->key != K_OTHER)
			FAIL(p, "top-level field has the wrong type");
		break;
	case FR_RESOURCES:
		if (!is_map)
			FAIL(p, "each entry of \"resources\" must be an object");
		begin_resource(p);
		next = FR_RESOURCE;
		break;
	case FR_RESOURCE:
		if (p->key == K_INSTANCES) {
			if (is_map)
				FAIL(p, "\"instances\" must be an array");
			next = FR_INSTANCES;
		} else if (p->key != K_OTHER)
			FAIL(p, "\"%s\" of a resource must be a string",
			     res_field_names[p->key - K_RES]);
		break;
	case FR_INSTANCES:
		if (!is_map)
			FAIL(p, "each entry of \"instances\" must be an object");
		begin_instance(p);
		next = FR_INSTANCE;
		break;
	case FR_INSTANCE:
		switch (p->key) {
		case K_ATTRIBUTES:
		case K_ATTRIBUTES_FLAT:
			if (!is_map)
				FAIL(p, "\"attributes\" must be an object");
			p->flat = p->key == K_ATTRIBUTES_FLAT;
			next = FR_ATTRS;
			break;
		case K_SENSITIVE:
			if (is_map)
				FAIL(p, "\"sensitive_attributes\" must be an array");
			next = FR_SENS;
			break;
		case K_DEPENDENCIES:
		case K_DEPENDS_ON:
			if (is_map)
				FAIL(p, "\"dependencies\" must be an array");
			p->deps_relative = p->key == K_DEPENDS_ON;
			next = FR_DEPS;
			break;
		case K_INDEX_KEY: FAIL(p, "\"index_key\" must be a number or a string");
		case K_DEPOSED: FAIL(p, "\"deposed\" must be a string");
		}
		break;
	case FR_ATTRS:
		if (is_map && p->key >= K_TAGSRC && p->key < K_TAGSRC + T_N) {
			p->tag_src = (uint8_t)(p->key - K_TAGSRC);
			next = FR_TAGS;
		}
		break;
	case FR_SENS:
		if (is_map)
			FAIL(p, "a \"sensitive_attributes\" path must be an array");
		p->sp_steps = 0;
		p->sp_attr = -1;
		p->sp_bad = p->sp_key_ok = false;
		next = FR_SPATH;
		break;
	case FR_SPATH:
		if (!is_map)
			FAIL(p, "a \"sensitive_attributes\" step must be an object");
		p->st_type = 0;
		p->st_val = 0;
		next = FR_SSTEP;
		break;
	case FR_SSTEP:
		if (p->key == K_SVALUE && is_map)
			next = FR_SIDX;
		else if (p->key == K_SVALUE)
			p->st_val = 3;
		else if (p->key == K_STYPE)
			p->st_type = 3;
		break;
	case FR_SIDX:
		if (p->key == K_SIDX_VALUE)
			p->st_val = 3;
		break;
	case FR_DEPS: FAIL(p, "\"dependencies\" must hold strings");
	}
	if (next < 0) {
		p->skip = 1;
		return 1;
	}
	if (p->nfr >= (int)sizeof(p->fr))
		FAIL(p, "internal: frame stack full");
	p->fr[p->nfr++] = (uint8_t)next;
	return 1;
}

static int check_resource(tfp *p, const pres *r)
{
	static const int required[] = {R_MODE, R_TYPE, R_NAME, R_PROVIDER};
	for (size_t i = 0; i < ST_ARRAY_LEN(required); i++)
		if (!(r->set & (1u << required[i])))
			return fail_at(p, r->line, r->col, ST_E_INVALID, "resource has no \"%s\"",
				       res_field_names[required[i]]);
	return 1;
}

static int close_container(tfp *p)
{
	if (p->skip) {
		p->skip--;
		return 1;
	}
	int f = p->fr[--p->nfr];
	switch (f) {
	case FR_RESOURCE:
		if (!check_resource(p, cur_res(p)))
			return 0;
		if (p->version_ok && flush(p) < 0)
			return 0;
		break;
	case FR_SPATH: end_path(p); break;
	case FR_SSTEP: end_step(p); break;
	case FR_ATTRS: p->flat = false; break;
	}
	return 1;
}

static int on_start_map(void *ctx)
{
	return open_container(ctx, true);
}

static int on_start_array(void *ctx)
{
	return open_container(ctx, false);
}

static int on_end(void *ctx)
{
	return close_container(ctx);
}

static bool all_digits(const char *s, size_t n)
{
	if (!n)
		return false;
	for (size_t i = 0; i < n; i++)
		if (s[i] < '0' || s[i] > '9')
			return false;
	return true;
}

static void keep_attr(tfp *p, int a, const char *s, size_t n)
{
	pinst *i = cur_inst(p);
	if (n > MAX_VALUE) {
		i->n_long++;
		return;
	}
	i->a_off[a] = sb_add(&p->pend, s, n);
	i->a_len[a] = n;
	i->a_set |= 1u << a;
}

static void keep_tag(tfp *p, size_t koff, size_t klen, const char *v, size_t vn)
{
	pinst *i = cur_inst(p);
	if (vn > MAX_VALUE || i->n_tags >= MAX_TAGS) {
		i->n_long++;
		return;
	}
	ptag *t = PUSH(p->pt, p->npt, p->cappt);
	t->koff = koff;
	t->klen = klen;
	t->voff = sb_add(&p->pend, v, vn);
	t->vlen = vn;
	t->src = p->tag_src;
	i->n_tags++;
}

static int on_scalar(tfp *p, enum vkind kind, const char *s, size_t n)
{
	if (p->skip)
		return 1;
	switch (top(p)) {
	case FR_NONE: FAIL(p, "a Terraform state must be a JSON object");
	case FR_TOP:
		switch (p->key) {
		case K_VERSION:
			if (kind != V_NUMBER || !all_digits(s, n))
				FAIL(p, "\"version\" must be an integer");
			if (!(n == 1 && s[0] == '4')) {
				if (n > 6)
					FAIL(p, "state version is not supported; terraform 0.12+ "
						"writes version 4");
				FAIL(p,
				     "state version %.*s is not supported; terraform 0.12+ writes "
				     "version 4",
				     (int)n, s);
			}
			p->have_version = p->version_ok = true;
			if (flush(p) < 0)
				return 0;
			break;
		case K_SERIAL:
			if (kind != V_NUMBER || !all_digits(s, n) || n >= sizeof(p->serial))
				FAIL(p, "\"serial\" must be a non-negative integer");
			memcpy(p->serial, s, n);
			p->serial[n] = 0;
			p->have_serial = true;
			break;
		case K_LINEAGE:
			if (kind != V_STRING)
				FAIL(p, "\"lineage\" must be a string");
			if (n > MAX_LINEAGE)
				FAIL(p, "\"lineage\" is longer than %d bytes", MAX_LINEAGE);
			memcpy(p->lineage, s, n);
			p->lineage[n] = 0;
			p->have_lineage = true;
			break;
		case K_RESOURCES:
			if (kind != V_NULL)
				FAIL(p, "\"resources\" must be an array");
			break;
		}
		return 1;
	case FR_RESOURCES: FAIL(p, "each entry of \"resources\" must be an object");
	case FR_RESOURCE:
		if (p->key >= K_RES && p->key < K_RES + R_N) {
			int f = p->key - K_RES;
			if (kind != V_STRING)
				FAIL(p, "\"%s\" of a resource must be a string",
				     res_field_names[f]);
			if (n > MAX_ADDR)
				FAIL(p, "\"%s\" of a resource is longer than %d bytes",
				     res_field_names[f], MAX_ADDR);
			pres *r = cur_res(p);
			r->off[f] = sb_add(&p->pend, s, n);
			r->len[f] = n;
			r->set |= 1u << f;
		} else if (p->key == K_INSTANCES && kind != V_NULL)
			FAIL(p, "\"instances\" must be an array");
		return 1;
	case FR_INSTANCES: FAIL(p, "each entry of \"instances\" must be an object");
	case FR_INSTANCE: {
		pinst *i = cur_inst(p);
		switch (p->key) {
		case K_INDEX_KEY:
			if (kind == V_NULL)
				break;
			if (kind == V_BOOL)
				FAIL(p, "\"index_key\" must be a number or a string");
			if (n > MAX_VALUE)
				FAIL(p, "\"index_key\" is longer than %d bytes", MAX_VALUE);
			i->idx_kind = kind == V_NUMBER ? 1 : 2;
			i->idx_off = sb_add(&p->pend, s, n);
			i->idx_len = n;
			break;
		case K_DEPOSED:
			if (kind != V_NULL)
				i->deposed = true;
			break;
		case K_ATTRIBUTES:
		case K_ATTRIBUTES_FLAT:
		case K_SENSITIVE:
		case K_DEPENDENCIES:
		case K_DEPENDS_ON:
			if (kind != V_NULL)
				FAIL(p, "an instance field has the wrong type");
			break;
		}
		return 1;
	}
	case FR_ATTRS:
		if (kind != V_STRING)
			return 1;
		if (p->key >= K_ATTR && p->key < K_ATTR + A_N)
			keep_attr(p, p->key - K_ATTR, s, n);
		else if (p->key == K_FLAT_TAG)
			keep_tag(p, p->flat_key_off, p->flat_key_len, s, n);
		return 1;
	case FR_TAGS:
		if (kind != V_STRING)
			return 1;
		if (p->tkey_long) {
			cur_inst(p)->n_long++;
			return 1;
		}
		keep_tag(p, p->tkey_off, p->tkey_len, s, n);
		return 1;
	case FR_SENS: FAIL(p, "a \"sensitive_attributes\" path must be an array");
	case FR_SPATH: FAIL(p, "a \"sensitive_attributes\" step must be an object");
	case FR_SSTEP:
		if (p->key == K_STYPE) {
			if (kind == V_STRING && key_is(s, n, "get_attr"))
				p->st_type = 1;
			else if (kind == V_STRING && key_is(s, n, "index"))
				p->st_type = 2;
			else
				p->st_type = 3;
		} else if (p->key == K_SVALUE)
			step_value(p, kind, s, n);
		return 1;
	case FR_SIDX:
		if (p->key == K_SIDX_VALUE)
			step_value(p, kind, s, n);
		return 1;
	case FR_DEPS: {
		if (kind != V_STRING)
			FAIL(p, "\"dependencies\" must hold strings");
		if (n > MAX_ADDR)
			FAIL(p, "a dependency is longer than %d bytes", MAX_ADDR);
		pdep *d = PUSH(p->pd, p->npd, p->cappd);
		d->off = sb_add(&p->pend, s, n);
		d->len = n;
		d->relative = p->deps_relative;
		cur_inst(p)->n_deps++;
		return 1;
	}
	}
	return 1;
}

static int on_null(void *ctx)
{
	return on_scalar(ctx, V_NULL, NULL, 0);
}

static int on_bool(void *ctx, int v)
{
	(void)v;
	return on_scalar(ctx, V_BOOL, NULL, 0);
}

static int on_number(void *ctx, const char *s, size_t n)
{
	return on_scalar(ctx, V_NUMBER, s, n);
}

static int on_string(void *ctx, const unsigned char *s, size_t n)
{
	return on_scalar(ctx, V_STRING, (const char *)s, n);
}

static const yajl_callbacks callbacks = {
	.yajl_null = on_null,
	.yajl_boolean = on_bool,
	.yajl_number = on_number,
	.yajl_string = on_string,
	.yajl_start_map = on_start_map,
	.yajl_map_key = on_key,
	.yajl_end_map = on_end,
	.yajl_start_array = on_start_array,
	.yajl_end_array = on_end,
};

/* ---------------------------------------------------------------------------
 * Emitting nodes. */

/* Append `s` with module instance keys and instance keys ([...]) removed:
 * the configuration address that `dependencies` use.  Returns whether a key
 * was removed before the last segment (*mod_keys) and at the very end
 * (*inst_key) when those are not NULL. */
static void strip_keys(sbuf *out, const char *s, size_t n, bool *mod_keys, bool *inst_key)
{
	bool mk = false, ik = false;
	size_t i = 0;
	while (i < n) {
		if (s[i] != '[') {
			size_t j = i;
			while (j < n && s[j] != '[')
				j++;
			sb_add(out, s + i, j - i);
			i = j;
			continue;
		}
		/* skip a [...] group; quoted strings may hold ']' and escapes */
		bool q = false;
		for (i++; i < n; i++) {
			if (q && s[i] == '\\')
				i++;
			else if (s[i] == '"')
				q = !q;
			else if (!q && s[i] == ']')
				break;
		}
		i++;
		if (i >= n)
			ik = true;
		else
			mk = true;
	}
	if (mod_keys)
		*mod_keys = mk;
	if (inst_key)
		*inst_key = ik;
}

/* Terraform's short provider name: "aws" from
 * provider["registry.terraform.io/hashicorp/aws"](.alias) or provider.aws(.alias). */
static bool provider_short(const char *s, size_t n, const char **ret, size_t *ret_len)
{
	const char *b = memmem(s, n, "provider[\"", 10);
	if (b) {
		b += 10;
		const char *e = memchr(b, '"', (size_t)(s + n - b));
		if (!e)
			return false;
		const char *slash = b;
		for (const char *c = b; c < e; c++)
			if (*c == '/')
				slash = c + 1;
		*ret = slash;
		*ret_len = (size_t)(e - slash);
		return *ret_len > 0;
	}
	b = memmem(s, n, "provider.", 9);
	if (!b)
		return false;
	b += 9;
	const char *e = b;
	while (e < s + n && *e != '.')
		e++;
	*ret = b;
	*ret_len = (size_t)(e - b);
	return *ret_len > 0;
}

/* Index key as Terraform writes it in an address: [0] or ["key"]. */
static void add_index(sbuf *b, const pinst *i, const char *pend)
{
	const char *k = pend + i->idx_off;
	if (i->idx_kind == 1) {
		sb_add(b, "[", 1);
		sb_add(b, k, i->idx_len);
		sb_add(b, "]", 1);
		return;
	}
	sb_add(b, "[\"", 2);
	for (size_t j = 0; j < i->idx_len; j++) {
		unsigned char c = (unsigned char)k[j];
		char esc[8];
		if (c == '"' || c == '\\') {
			esc[0] = '\\';
			esc[1] = (char)c;
			sb_add(b, esc, 2);
		} else if (c == '\n')
			sb_add(b, "\\n", 2);
		else if (c == '\r')
			sb_add(b, "\\r", 2);
		else if (c == '\t')
			sb_add(b, "\\t", 2);
		else if (c < 0x20) {
			snprintf(esc, sizeof(esc), "\\u%04x", c);
			sb_add(b, esc, 6);
		} else
			sb_add(b, (const char *)&c, 1);
	}
	sb_add(b, "\"]", 2);
}

/* A region from an AWS availability zone ("us-east-1a") or a GCP zone
 * ("europe-west1-b"). */
static size_t region_of_zone(const char *z, size_t n)
{
	if (n >= 3 && z[n - 2] == '-' && z[n - 1] >= 'a' && z[n - 1] <= 'z')
		return n - 2;
	if (n >= 2 && z[n - 1] >= 'a' && z[n - 1] <= 'z' && z[n - 2] >= '0' && z[n - 2] <= '9')
		return n - 1;
	return 0;
}

static int tv_cmp(const void *a, const void *b)
{
	const struct tv *x = a, *y = b;
	size_t m = x->kl < y->kl ? x->kl : y->kl;
	int c = memcmp(x->k, y->k, m);
	if (c)
		return c;
	if (x->kl != y->kl)
		return x->kl < y->kl ? -1 : 1;
	return (int)x->prio - (int)y->prio;
}

static bool ieq(const char *s, size_t n, const char *lit)
{
	return strlen(lit) == n && !strncasecmp(s, lit, n);
}

static int hint_kind(const char *k, size_t n)
{
	if (ieq(k, n, "service") || ieq(k, n, "app") || ieq(k, n, "app.kubernetes.io/name"))
		return ST_HINT_SERVICE;
	if (ieq(k, n, "team") || ieq(k, n, "owner"))
		return ST_HINT_TEAM;
	if (ieq(k, n, "system"))
		return ST_HINT_SYSTEM;
	return -1;
}

static void id_of(tfp *p, sbuf *b, const char *addr, size_t n)
{
	b->len = 0;
	sb_str(b, "tf:");
	sb_str(b, p->ws);
	sb_add(b, "/", 1);
	sb_add(b, addr, n);
}

#define PB(call)                                                                          \
	do {                                                                              \
		if ((rc = (call)) < 0)                                                    \
			return st_diag_set(p->diag, rc, "%s:%u: %s: too many properties", \
					   p->origin, i->line, addr);                     \
	} while (0)

/* The node (and hints) of one instance whose address is `addr`. */
static int emit_node(tfp *p, const pres *r, const pinst *i, const char *addr, size_t alen)
{
	const char *pend = p->pend.p;
	st_loc loc = {p->origin, i->line};
	int rc;
	if (i->n_long) {
		char msg[MAX_ADDR + 128];
		snprintf(msg, sizeof(msg),
			 "%s: %u attribute or tag values longer than %d bytes "
			 "were not stored",
			 addr, i->n_long, MAX_VALUE);
		note(p->sink, loc, msg);
	}
	uint32_t red = i->redact;
	uint32_t keep = (red & R_ALL) ? 0 : i->a_set & ~red;
#define KEPT(a) ((keep >> (a)) & 1u)
#define VAL(a) (pend + i->a_off[a]), (i->a_len[a])
	st_pb_reset(&p->pb);
	const char *ps;
	size_t pl;
	if (provider_short(pend + r->off[R_PROVIDER], r->len[R_PROVIDER], &ps, &pl))
		PB(st_pb_string(&p->pb, "provider", 8, ps, pl));
	PB(st_pb_string(&p->pb, "resource_type", 13, pend + r->off[R_TYPE], r->len[R_TYPE]));
	PB(st_pb_string(&p->pb, "address", 7, addr, alen));
	if (r->set & (1u << R_MODULE) && r->len[R_MODULE])
		PB(st_pb_string(&p->pb, "module", 6, pend + r->off[R_MODULE], r->len[R_MODULE]));
	if (KEPT(A_ARN))
		PB(st_pb_string(&p->pb, "arn", 3, VAL(A_ARN)));
	if (KEPT(A_ID))
		PB(st_pb_string(&p->pb, "cloud_id", 8, VAL(A_ID)));
	/* region: the attribute, else the ARN's region field, else a zone */
	const char *rg = NULL;
	size_t rgl = 0;
	if (KEPT(A_REGION) && i->a_len[A_REGION]) {
		rg = pend + i->a_off[A_REGION];
		rgl = i->a_len[A_REGION];
	}
	if (!rg && KEPT(A_ARN)) {
		const char *a = pend + i->a_off[A_ARN], *e = a + i->a_len[A_ARN];
		const char *f = a;
		for (int field = 0; field < 3 && f; field++) {
			f = memchr(f, ':', (size_t)(e - f));
			if (f)
				f++;
		}
		if (f && !strncmp(a, "arn:", 4)) {
			const char *fe = memchr(f, ':', (size_t)(e - f));
			if (fe && fe > f) {
				rg = f;
				rgl = (size_t)(fe - f);
			}
		}
	}
	for (int a = A_AZ; !rg && a <= A_ZONE; a++)
		if (KEPT(a)) {
			size_t l = region_of_zone(pend + i->a_off[a], i->a_len[a]);
			if (l) {
				rg = pend + i->a_off[a];
				rgl = l;
			}
		}
	if (!rg && KEPT(A_LOCATION) && i->a_len[A_LOCATION]) {
		rg = pend + i->a_off[A_LOCATION];
		rgl = i->a_len[A_LOCATION];
	}
	if (rg)
		PB(st_pb_string(&p->pb, "region", 6, rg, rgl));
	if (KEPT(A_NAME) && i->a_len[A_NAME])
		PB(st_pb_string(&p->pb, "name", 4, VAL(A_NAME)));
	else
		PB(st_pb_string(&p->pb, "name", 4, pend + r->off[R_NAME], r->len[R_NAME]));
#undef KEPT
#undef VAL

	/* labels: tags/labels, then tags_all & co for keys not seen, minus
	 * sensitive and secret-looking keys */
	p->ntv = 0;
	if (!(red & (R_ALL | R_TAGS))) {
		for (size_t t = i->tag0; t < i->tag0 + i->n_tags; t++) {
			const ptag *g = &p->pt[t];
			const char *k = pend + g->koff;
			bool drop = st_secret_name(k, g->klen);
			for (size_t x = i->rtag0; !drop && x < i->rtag0 + i->n_rtags; x++)
				drop = p->rt[x].klen == g->klen &&
				       !memcmp(pend + p->rt[x].koff, k, g->klen);
			if (drop)
				continue;
			struct tv *v = PUSH(p->tv, p->ntv, p->captv);
			*v = (struct tv){k,	  pend + g->voff,      g->klen,
					 g->vlen, tagsrc_prio[g->src], g->src};
		}
	}
	if (p->ntv > 1)
		qsort(p->tv, p->ntv, sizeof(*p->tv), tv_cmp);
	size_t nu = 0;
	for (size_t t = 0; t < p->ntv; t++)
		if (!nu || p->tv[nu - 1].kl != p->tv[t].kl ||
		    memcmp(p->tv[nu - 1].k, p->tv[t].k, p->tv[t].kl))
			p->tv[nu++] = p->tv[t];
	p->ntv = nu;
	if (nu) {
		PB(st_pb_map_begin(&p->pb, "labels", 6));
		for (size_t t = 0; t < nu; t++)
			st_pb_map_add(&p->pb, p->tv[t].k, p->tv[t].kl, p->tv[t].v, p->tv[t].vl);
		if ((rc = st_pb_end(&p->pb, p->diag)) < 0)
			return rc;
	}
	const uint8_t *blob;
	size_t blen;
	if ((rc = st_pb_finish(&p->pb, &blob, &blen, p->diag)) < 0)
		return rc;
	id_of(p, &p->id1, addr, alen);
	if ((rc = p->sink->node(p->sink, p->id1.p, p->id1.len, p->node_type, blob, blen, loc,
				p->diag)) < 0)
		return rc;
	for (size_t t = 0; t < nu; t++) {
		int hk = hint_kind(p->tv[t].k, p->tv[t].kl);
		if (hk < 0 || !p->tv[t].vl)
			continue;
		p->ev.len = 0;
		sb_str(&p->ev, tagsrc_word[p->tv[t].src]);
		sb_add(&p->ev, " ", 1);
		sb_add(&p->ev, p->tv[t].k, p->tv[t].kl);
		sb_add(&p->ev, "=", 1);
		sb_add(&p->ev, p->tv[t].v, p->tv[t].vl);
		if ((rc = p->sink->hint(p->sink, p->id1.p, p->id1.len, (st_hint_kind)hk, p->tv[t].v,
					p->tv[t].vl, "terraform-tag", p->ev.p, loc, p->diag)) < 0)
			return rc;
	}
	return 0;
}
#undef PB

/* Register a resource's configuration address in cfgtab. */
static void add_rrec(tfp *p, const char *abs, size_t alen, bool data)
{
	p->tmp.len = 0;
	strip_keys(&p->tmp, abs, alen, NULL, NULL);
	uint32_t idx = (uint32_t)p->nrs;
	rrec *rr = PUSH(p->rs, p->nrs, p->caprs);
	rr->abs_off = sb_add(&p->addrs, abs, alen);
	rr->abs_len = (uint32_t)alen;
	rr->inst0 = (uint32_t)p->nin;
	rr->n_inst = 0;
	rr->data = data;
	int64_t c = tab_get(&p->cfgtab, p->tmp.p, p->tmp.len, true);
	rr->next = p->cfgtab.e[c].val;
	p->cfgtab.e[c].val = idx;
}

/* Emit every pending resource (the version is known to be 4) and keep what
 * the edges need. */
static int flush(tfp *p)
{
	sbuf abs = {0};
	int rc = 0;
	for (size_t ri = 0; ri < p->npr; ri++) {
		const pres *r = &p->pr[ri];
		const char *pend = p->pend.p;
		const char *mode = pend + r->off[R_MODE];
		bool has_mod = (r->set & (1u << R_MODULE)) && r->len[R_MODULE];
		bool data = key_is(mode, r->len[R_MODE], "data");
		abs.len = 0;
		if (has_mod) {
			sb_add(&abs, pend + r->off[R_MODULE], r->len[R_MODULE]);
			sb_add(&abs, ".", 1);
		}
		if (data)
			sb_add(&abs, "data.", 5);
		sb_add(&abs, pend + r->off[R_TYPE], r->len[R_TYPE]);
		sb_add(&abs, ".", 1);
		sb_add(&abs, pend + r->off[R_NAME], r->len[R_NAME]);
		if (data) {
			p->n_data++;
			add_rrec(p, abs.p, abs.len, true);
			continue;
		}
		if (!key_is(mode, r->len[R_MODE], "managed")) {
			p->n_other_mode++;
			continue;
		}
		add_rrec(p, abs.p, abs.len, false);
		size_t rr = p->nrs - 1;
		for (size_t ii = r->inst0; ii < r->inst0 + r->n_inst; ii++) {
			const pinst *i = &p->pi[ii];
			if (i->deposed) {
				p->n_deposed++;
				continue;
			}
			size_t aoff = p->addrs.len;
			sb_add(&p->addrs, abs.p, abs.len);
			if (i->idx_kind)
				add_index(&p->addrs, i, pend);
			size_t alen = p->addrs.len - aoff;
			if (alen > MAX_ADDR) {
				rc = st_diag_set(p->diag, ST_E_LIMIT,
						 "%s:%u: address longer than %d bytes", p->origin,
						 i->line, MAX_ADDR);
				goto out;
			}
			inst *in = PUSH(p->in, p->nin, p->capin);
			in->addr_off = aoff;
			in->addr_len = (uint32_t)alen;
			in->line = i->line;
			in->dep0 = p->ndeps;
			in->n_deps = 0;
			for (size_t d = i->dep0; d < i->dep0 + i->n_deps; d++) {
				const pdep *pd = &p->pd[d];
				p->tmp.len = 0;
				if (pd->relative && has_mod) {
					sb_add(&p->tmp, pend + r->off[R_MODULE], r->len[R_MODULE]);
					sb_add(&p->tmp, ".", 1);
				}
				sb_add(&p->tmp, pend + pd->off, pd->len);
				int64_t id = tab_get(&p->deptab, p->tmp.p, p->tmp.len, true);
				uint32_t *slot = PUSH(p->deps, p->ndeps, p->capdeps);
				*slot = (uint32_t)id;
				in->n_deps++;
			}
			p->rs[rr].n_inst++;
			p->n_instances++;
			/* addrs may have moved: point into it only now */
			if ((rc = emit_node(p, r, i, p->addrs.p + aoff, alen)) < 0)
				goto out;
		}
	}
	p->npr = p->npi = p->npt = p->nrt = p->npd = 0;
	p->pend.len = 0;
out:
	sb_free(&abs);
	if (rc < 0)
		p->err = rc;
	return rc;
}

/* ---------------------------------------------------------------------------
 * Edges. */

static void resolve(tfp *p, uint32_t d)
{
	depres *r = &p->dr[d];
	const char *s = tab_str(&p->deptab, d);
	size_t n = p->deptab.e[d].len;
	bool mod_keys, inst_key;
	p->tmp.len = 0;
	strip_keys(&p->tmp, s, n, &mod_keys, &inst_key);
	size_t abs_len = n; /* s without its trailing instance key */
	if (inst_key) {
		bool q = false;
		int depth = 0;
		for (size_t k = 0; k < n; k++) {
			if (q) {
				if (s[k] == '\\')
					k++;
				else if (s[k] == '"')
					q = false;
			} else if (s[k] == '"')
				q = true;
			else if (s[k] == '[') {
				if (!depth)
					abs_len = k;
				depth++;
			} else if (s[k] == ']' && depth)
				depth--;
		}
	}
	r->off = p->ntargets;
	r->n = 0;
	bool data = false;
	int64_t c = tab_get(&p->cfgtab, p->tmp.p, p->tmp.len, false);
	for (uint32_t ri = c >= 0 ? p->cfgtab.e[c].val : UINT32_MAX; ri != UINT32_MAX;
	     ri = p->rs[ri].next) {
		const rrec *rr = &p->rs[ri];
		if (rr->data) {
			data = true;
			continue;
		}
		if (mod_keys &&
		    (rr->abs_len != abs_len || memcmp(p->addrs.p + rr->abs_off, s, abs_len)))
			continue;
		for (uint32_t k = rr->inst0; k < rr->inst0 + rr->n_inst; k++) {
			const inst *in = &p->in[k];
			if (inst_key &&
			    (in->addr_len != n || memcmp(p->addrs.p + in->addr_off, s, n)))
				continue;
			*PUSH(p->targets, p->ntargets, p->captargets) = k;
			r->n++;
		}
	}
	r->state = r->n ? 1 : data ? 2 : 3;
}

static int cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
	return (x > y) - (x < y);
}

static int emit_edges(tfp *p)
{
	int rc = 0;
	p->dr = st_xcalloc(p->deptab.n + 1, sizeof(*p->dr));
	uint32_t *tl = NULL;
	size_t ntl = 0, captl = 0;
	for (size_t ii = 0; ii < p->nin; ii++) {
		const inst *in = &p->in[ii];
		ntl = 0;
		for (uint32_t k = 0; k < in->n_deps; k++) {
			uint32_t d = p->deps[in->dep0 + k];
			depres *r = &p->dr[d];
			if (!r->state)
				resolve(p, d);
			if (r->state == 3 && !r->refs++)
				r->first_inst = (uint32_t)ii;
			for (size_t t = 0; t < r->n; t++)
				*PUSH(tl, ntl, captl) = p->targets[r->off + t];
		}
		if (ntl > 1)
			qsort(tl, ntl, sizeof(*tl), cmp_u32);
		id_of(p, &p->id1, p->addrs.p + in->addr_off, in->addr_len);
		st_loc loc = {p->origin, in->line};
		for (size_t t = 0; t < ntl; t++) {
			if ((t && tl[t] == tl[t - 1]) || tl[t] == ii)
				continue;
			const inst *to = &p->in[tl[t]];
			id_of(p, &p->id2, p->addrs.p + to->addr_off, to->addr_len);
			if ((rc = p->sink->edge(p->sink, p->id1.p, p->id1.len, p->id2.p, p->id2.len,
						p->edge_type, NULL, 0, loc, p->diag)) < 0)
				goto out;
		}
	}
	size_t warned = 0, more = 0;
	for (size_t d = 0; d < p->deptab.n; d++) {
		const depres *r = &p->dr[d];
		if (r->state != 3)
			continue;
		if (warned == MAX_DEP_WARNINGS) {
			more++;
			continue;
		}
		const inst *in = &p->in[r->first_inst];
		char msg[2 * MAX_ADDR + 160];
		snprintf(msg, sizeof(msg),
			 "dependency '%s' of %.*s is not in the state; no edge (referenced by %u "
			 "instance%s)",
			 tab_str(&p->deptab, d), (int)in->addr_len, p->addrs.p + in->addr_off,
			 r->refs, r->refs == 1 ? "" : "s");
		note(p->sink, (st_loc){p->origin, in->line}, msg);
		warned++;
	}
	if (more) {
		char msg[128];
		snprintf(msg, sizeof(msg), "%zu more dependencies are not in the state", more);
		note(p->sink, (st_loc){p->origin, 0}, msg);
	}
out:
	free(tl);
	return rc;
}

/* ---------------------------------------------------------------------------
 * Input. */

static void report_progress(tfp *p)
{
	if (p->sink->progress && p->pos.base >= p->next_progress) {
		p->sink->progress(p->sink, "terraform state bytes", p->pos.base, p->total_hint);
		p->next_progress = p->pos.base + PROGRESS_EVERY;
	}
}

static int parse_error(tfp *p, yajl_status s, bool at_end)
{
	if (s == yajl_status_client_canceled || p->err < 0)
		return p->err < 0 ? p->err :
				    st_diag_set(p->diag, ST_E_INVALID, "%s: cancelled", p->origin);
	return p->err = st__jpos_syntax_error(&p->pos, p->h, at_end, p->origin, p->diag);
}

static int feed(tfp *p, const unsigned char *buf, size_t n)
{
	if (p->pos.base + n > MAX_STATE_BYTES)
		return p->err = st_diag_set(p->diag, ST_E_LIMIT, "%s: state larger than %llu bytes",
					    p->origin, (unsigned long long)MAX_STATE_BYTES);
	yajl_status s = st__jpos_parse(&p->pos, p->h, buf, n);
	if (s != yajl_status_ok)
		return parse_error(p, s, false);
	report_progress(p);
	return 0;
}

static int read_file(tfp *p, const char *path)
{
	FILE *f = fopen(path, "re");
	if (!f)
		return st_diag_set(p->diag, ST_E_IO, "source '%s': cannot open state file %s: %s",
				   p->src->name, path, strerror(errno));
	unsigned char *buf = st_xmalloc(READ_CHUNK);
	int rc = 0;
	if (!fseek(f, 0, SEEK_END)) {
		long sz = ftell(f);
		p->total_hint = sz > 0 ? (uint64_t)sz : 0;
		rewind(f);
	}
	for (;;) {
		size_t n = fread(buf, 1, READ_CHUNK, f);
		if (n && (rc = feed(p, buf, n)) < 0)
			break;
		if (n < READ_CHUNK) {
			if (ferror(f))
				rc = st_diag_set(p->diag, ST_E_IO, "source '%s': reading %s: %s",
						 p->src->name, path, strerror(errno));
			break;
		}
	}
	free(buf);
	fclose(f);
	return rc;
}

typedef struct http_ctx {
	tfp *p;
	st_fetch *f;
	bool started;
} http_ctx;

static int on_body(void *ud, long status, const char *data, size_t n)
{
	http_ctx *hc = ud;
	if (status < 200 || status > 299)
		return ST_FETCH_STOP; /* the error body is not read: it is no state */
	if (!hc->started) {
		hc->started = true;
		curl_off_t cl = -1;
		if (!curl_easy_getinfo(hc->f->curl, CURLINFO_CONTENT_LENGTH_DOWNLOAD_T, &cl) &&
		    cl > 0)
			hc->p->total_hint = (uint64_t)cl;
	}
	return feed(hc->p, (const unsigned char *)data, n);
}

static int read_http(tfp *p, const char *url, const char *shown)
{
	st_fetch f;
	const st_fetch_opts opts = {.user_agent = "stacktwin-terraform/1"};
	int rc = st_fetch_init(&f, p->src, &opts, p->diag);
	if (rc < 0)
		goto out;
	http_ctx hc = {.p = p, .f = &f};
	long status = 0;
	rc = st_fetch_get(&f, url, shown, on_body, &hc, &status, p->diag);
	if (!rc && (status < 200 || status > 299))
		rc = st_fetch_http_error(&f, shown, status, NULL, p->diag);
out:
	st_fetch_free(&f);
	return rc;
}

/* ---------------------------------------------------------------------------
 * The run. */

static void tfp_free(tfp *p)
{
	if (p->h)
		yajl_free(p->h);
	sb_free(&p->pend);
	free(p->pr);
	free(p->pi);
	free(p->pt);
	free(p->rt);
	free(p->pd);
	sb_free(&p->addrs);
	free(p->in);
	free(p->rs);
	free(p->deps);
	tab_free(&p->deptab);
	tab_free(&p->cfgtab);
	free(p->dr);
	free(p->targets);
	st_pb_free(&p->pb);
	sb_free(&p->tmp);
	sb_free(&p->id1);
	sb_free(&p->id2);
	sb_free(&p->ev);
	free(p->tv);
}

static int run(const st_source *src, st_sink *sink, st_diag *diag)
{
	tfp p = {0};
	char *shown = NULL, *origin = NULL;
	int rc = 0;
	for (size_t i = 0; i < src->n_options; i++)
		if (strcmp(src->options[i].key, "workspace") &&
		    strcmp(src->options[i].key, "username"))
			return st_diag_set(diag, ST_E_INVALID,
					   "source '%s': unknown option '%s' (terraform knows "
					   "workspace, username)",
					   src->name, src->options[i].key);
	if (!src->location || !*src->location)
		return st_diag_set(diag, ST_E_INVALID,
				   "source '%s': no location (a state file or URL)", src->name);
	bool url = st_fetch_is_url(src->location);
	if (!url && strstr(src->location, "://"))
		return st_diag_set(diag, ST_E_INVALID,
				   "source '%s': unsupported location scheme (a file path, http:// "
				   "or https://)",
				   src->name);
	const char *ws = st_source_option(src, "workspace");
	if (!ws)
		ws = src->name;
	if (!*ws || strchr(ws, '/'))
		return st_diag_set(diag, ST_E_INVALID,
				   "source '%s': workspace must be non-empty and have no '/'",
				   src->name);
	p.node_type = st_schema_find_node_type(sink->schema, "CloudResource", 13);
	p.edge_type = st_schema_find_edge_type(sink->schema, "DEPENDS_ON", 10);
	if (p.node_type < 0 || p.edge_type < 0)
		return st_diag_set(diag, ST_E_SCHEMA,
				   "source '%s': the schema has no CloudResource or DEPENDS_ON",
				   src->name);

	if (url)
		shown = st_fetch_mask_url(src->location, ST_FETCH_MASK_QUERY);
	else {
		const char *slash = strrchr(src->location, '/');
		shown = st_xstrndup(slash ? slash + 1 : src->location,
				    strlen(slash ? slash + 1 : src->location));
	}
	size_t ol = strlen(src->name) + strlen(shown) + 2;
	origin = st_xmalloc(ol);
	snprintf(origin, ol, "%s:%s", src->name, shown);

	p.src = src;
	p.sink = sink;
	p.diag = diag;
	p.origin = origin;
	p.ws = ws;
	st__jpos_init(&p.pos);
	st_pb_init(&p.pb);
	p.h = yajl_alloc(&callbacks, NULL, &p);
	if (!p.h) {
		rc = st_diag_set(diag, -ENOMEM, "source '%s': out of memory", src->name);
		goto out;
	}

	rc = url ? read_http(&p, src->location, shown) : read_file(&p, src->location);
	if (rc < 0)
		goto out;
	if (p.pos.base == 0) {
		rc = st_diag_set(diag, ST_E_INVALID, "%s:1:1: the state is empty", origin);
		goto out;
	}
	yajl_status s = yajl_complete_parse(p.h);
	if (s != yajl_status_ok) {
		rc = parse_error(&p, s, true);
		goto out;
	}
	uint32_t el, ec;
	st__jpos_end(&p.pos, &el, &ec);
	if (!p.have_version) {
		rc = st_diag_set(diag, ST_E_INVALID,
				 "%s:%u:%u: no \"version\": not a Terraform state", origin, el, ec);
		goto out;
	}
	if (!p.have_lineage || !p.have_serial) {
		rc = st_diag_set(diag, ST_E_INVALID, "%s:%u:%u: the state has no \"%s\"", origin,
				 el, ec, p.have_lineage ? "serial" : "lineage");
		goto out;
	}
	if ((rc = flush(&p)) < 0 || (rc = emit_edges(&p)) < 0)
		goto out;
	char state[MAX_LINEAGE + 64];
	snprintf(state, sizeof(state), "tf1:%s:%s", p.lineage, p.serial);
	if (sink->set_state)
		sink->set_state(sink, state);
	if (sink->progress) {
		sink->progress(sink, "terraform resource instances", p.n_instances, p.n_instances);
		sink->progress(sink, "terraform data sources skipped", p.n_data, p.n_data);
		if (p.n_deposed)
			sink->progress(sink, "terraform deposed objects skipped", p.n_deposed,
				       p.n_deposed);
	}
	rc = 0;
out:
	tfp_free(&p);
	free(shown);
	free(origin);
	return rc;
}

const st_connector st_connector_terraform = {
	"terraform",
	"Terraform state v4 (file or http(s) backend): CloudResource nodes, DEPENDS_ON edges, "
	"tag hints",
	run,
};
