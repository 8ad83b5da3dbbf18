/*
 * config.c — loads the one YAML configuration file (docs/config.md) into an
 * st_config.
 *
 * The text is read with libyaml in two passes, like schema/schema.c: an
 * event pass that bounds nesting depth and rejects more than one document
 * (the document API has no depth limit of its own), then the document API.
 * Every mapping of the file is described by a declarative table of keys:
 * name, value type, whether it is required, where the value goes (an offset
 * into the target struct), bounds, and an optional validator.  One walker
 * (load_map) applies a table to a mapping, and one destructor (free_obj)
 * walks the same tables to free what was loaded, so adding a key is one
 * table row plus its line in docs/config.md (tests/test_config.c checks that
 * the page names every key of the tables).
 *
 * Everything an st_config points to is malloc'd and owned by it.
 *
 * This file must not print or log, read environment variables or token
 * values, or touch the sources: the config only records references (which
 * variable, which file, which hash), and the server and the connectors
 * resolve them.  Error messages never quote a `sha256` value, in case a
 * token was pasted there by mistake.  Errors are ST_E_INVALID with
 * "origin:line:column: problem" in the caller's st_diag.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <yaml.h>

#include "config.h"
#include "yamlerr.h"

/* Bounds on what the config author controls (docs/config.md, "Limits"). */
#define MAX_TEXT ((size_t)1 << 20) /* bytes of config text */
#define MAX_DEPTH 16		   /* YAML nesting levels */
#define MAX_VALUE 4095		   /* bytes of one string value (PATH_MAX - 1) */
#define MAX_NAME 64		   /* source, token, rule and option names */
#define MAX_KEYS 16		   /* keys of one table */
/* Longest piece of user text quoted in one message. */
#define QUOTE_MAX 64
#define QBUF (QUOTE_MAX + 4)
#define WHERE_MAX 128

#define MS_PER_S UINT64_C(1000)
#define MS_PER_DAY (UINT64_C(86400) * MS_PER_S)

_Static_assert(sizeof(st_role) == sizeof(int), "enums are stored through int *");
_Static_assert(sizeof(st_hint_kind) == sizeof(int), "enums are stored through int *");

const char *const st_config_default_strip_suffixes[] = {
	"-production", "-prod", "-staging", "-stage", "-stg", "-development", "-dev", "-test",
	"-qa", "-uat", "-service", "-svc", "-api", "-app", "-server", "-deployment", NULL,
};

/* ---- the key tables: types ---------------------------------------------- */

typedef struct loader {
	const char *origin;
	const char *base; /* absolute, normalised directory for relative paths */
	st_diag *diag;
	yaml_document_t *doc;
} loader;

typedef enum vtype {
	V_STRING,   /* a non-null scalar -> char * */
	V_PATH,	    /* a string made absolute against the config's directory */
	V_LOCATION, /* URL-or-path: kept as is if it contains "://", else a V_PATH */
	V_BOOL,	    /* true / false -> bool */
	V_UINT,	    /* decimal digits -> uint32_t or uint64_t */
	V_BYTES,    /* digits with an optional KiB/MiB/GiB suffix -> uint32_t or uint64_t */
	V_DURATION, /* st_duration_parse -> ms, whole seconds, or seconds as double */
	V_ENUM,	    /* one of enums[] -> int */
	V_STRINGS,  /* sequence of strings -> char ** and a size_t count */
	V_STRMAP,   /* mapping of scalars -> st_kv * and a size_t count, file order */
	V_SECTION,  /* nested mapping: its own table, fields at obj + off */
	V_ITEMS,    /* sequence of mappings -> array of sub->elem_size and a count */
	V_CUSTOM,   /* parse() does everything */
} vtype;

/* How a number is stored. */
typedef enum store_kind {
	S_U64,	     /* uint64_t (durations: milliseconds) */
	S_U32,	     /* uint32_t */
	S_SECONDS,   /* durations: uint64_t whole seconds */
	S_SECONDS_F, /* durations: double seconds */
} store_kind;

typedef struct enum_val {
	const char *name;
	int value;
} enum_val;

typedef struct table table;
typedef struct key_def key_def;

struct key_def {
	const char *name;
	vtype type;
	bool required;
	store_kind store;
	size_t off;	  /* the field, from the start of the table's object */
	size_t count_off; /* V_STRINGS, V_STRMAP, V_ITEMS: the size_t count */
	/* Numbers: inclusive range in the value's unit (bytes, ms); max 0 =
	 * unbounded.  Lists and maps: max = most entries. */
	uint64_t min, max;
	const table *sub;      /* V_SECTION, V_ITEMS */
	const enum_val *enums; /* V_ENUM, ends with {NULL, 0} */
	/* Optional check after the value is stored (so a failed check leaks
	 * nothing); V_CUSTOM's parser has the same shape. */
	int (*check)(loader *L, const key_def *k, const yaml_node_t *v, const char *where,
		     void *obj);
};

struct table {
	const key_def *keys;
	size_t n;
	size_t elem_size, line_off; /* V_ITEMS elements: size, `unsigned line` */
	/* Optional checks across keys once the mapping is loaded; vals[i] is
	 * the value node of keys[i] or NULL; index is the element's position
	 * when the table describes V_ITEMS elements (earlier elements precede
	 * obj in memory). */
	int (*finish)(loader *L, const yaml_node_t *map, yaml_node_t *const vals[],
		      const char *where, void *obj, size_t index);
};

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
	if (n < len)
		memcpy(buf + n, "...", 4);
	else
		buf[n] = '\0';
	return buf;
}

static void fmt(char *buf, size_t cap, const char *f, ...) __attribute__((format(printf, 3, 4)));
static void fmt(char *buf, size_t cap, const char *f, ...)
{
	va_list ap;
	va_start(ap, f);
	vsnprintf(buf, cap, f, ap);
	va_end(ap);
}

static int fail_at(const char *origin, st_diag *diag, yaml_mark_t m, const char *f, ...)
	__attribute__((format(printf, 4, 5)));
static int fail_at(const char *origin, st_diag *diag, yaml_mark_t m, const char *f, ...)
{
	char msg[ST_DIAG_MAX];
	va_list ap;
	va_start(ap, f);
	vsnprintf(msg, sizeof(msg), f, ap);
	va_end(ap);
	return st_yaml_fail_at(origin, ST_E_INVALID, diag, m, "%s", msg);
}

/* "origin:line:column: message" at a document node; returns ST_E_INVALID. */
static int fail(loader *L, const yaml_node_t *n, const char *f, ...)
	__attribute__((format(printf, 3, 4)));
static int fail(loader *L, const yaml_node_t *n, const char *f, ...)
{
	char msg[ST_DIAG_MAX];
	va_list ap;
	va_start(ap, f);
	vsnprintf(msg, sizeof(msg), f, ap);
	va_end(ap);
	return fail_at(L->origin, L->diag, n->start_mark, "%s", msg);
}

static int oom(const char *origin, st_diag *diag)
{
	return st_diag_set(diag, -ENOMEM, "%s: out of memory", origin);
}

static int yaml_fail(const yaml_parser_t *p, const char *buf, size_t len, const char *origin,
		     st_diag *diag)
{
	return st_yaml_parser_fail(p, buf, len, origin, ST_E_INVALID, diag);
}

/* ---- document helpers --------------------------------------------------- */

static yaml_node_t *node(const loader *L, int id)
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

static bool is_plain(const yaml_node_t *n)
{
	return n->type == YAML_SCALAR_NODE && n->data.scalar.style == YAML_PLAIN_SCALAR_STYLE;
}

static bool scalar_is(const yaml_node_t *n, const char *text)
{
	return n->type == YAML_SCALAR_NODE && slen(n) == strlen(text) &&
	       memcmp(sval(n), text, slen(n)) == 0;
}

/* `key:` with no value, `~` and `null` (unquoted) are YAML's null. */
static bool is_null(const yaml_node_t *n)
{
	return is_plain(n) && (slen(n) == 0 || scalar_is(n, "~") || scalar_is(n, "null") ||
			       scalar_is(n, "Null") || scalar_is(n, "NULL"));
}

/* What a node is, for "found ..." in messages. */
static const char *found(const yaml_node_t *n, char qb[static QBUF + 2])
{
	switch (n->type) {
	case YAML_MAPPING_NODE: return "a mapping";
	case YAML_SEQUENCE_NODE: return "a sequence";
	case YAML_SCALAR_NODE:
		if (is_null(n))
			return "null (no value)";
		if (!is_plain(n))
			return "a quoted string";
		char q[QBUF];
		fmt(qb, QBUF + 2, "'%s'", quote(q, sval(n), slen(n)));
		return qb;
	default: return "an empty node";
	}
}

static size_t items_len(const yaml_node_t *seq)
{
	return (size_t)(seq->data.sequence.items.top - seq->data.sequence.items.start);
}

static size_t pairs_len(const yaml_node_t *map)
{
	return (size_t)(map->data.mapping.pairs.top - map->data.mapping.pairs.start);
}

/* The phrase for a section path in messages. */
static const char *in(const char *where)
{
	return where[0] ? where : "the top-level mapping";
}

/* ---- suggestions -------------------------------------------------------- */

/* Optimal-string-alignment distance (Levenshtein plus adjacent swaps),
 * for names of at most 64 bytes; longer ones get a large distance. */
static size_t distance(const char *a, size_t la, const char *b, size_t lb)
{
	enum { N = 64 };
	if (la > N || lb > N)
		return SIZE_MAX;
	size_t d[N + 1][N + 1];
	for (size_t i = 0; i <= la; i++)
		d[i][0] = i;
	for (size_t j = 0; j <= lb; j++)
		d[0][j] = j;
	for (size_t i = 1; i <= la; i++) {
		for (size_t j = 1; j <= lb; j++) {
			size_t cost = a[i - 1] == b[j - 1] ? 0 : 1;
			size_t v = d[i - 1][j] + 1;
			if (d[i][j - 1] + 1 < v)
				v = d[i][j - 1] + 1;
			if (d[i - 1][j - 1] + cost < v)
				v = d[i - 1][j - 1] + cost;
			if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] &&
			    d[i - 2][j - 2] + 1 < v)
				v = d[i - 2][j - 2] + 1;
			d[i][j] = v;
		}
	}
	return d[la][lb];
}

/* The closest of names[0..n) to got if it is close enough to be a typo
 * (one edit for names up to 4 bytes, two for longer ones), else NULL. */
static const char *closest(const char *got, size_t len, const char *const names[], size_t n)
{
	const char *best = NULL;
	size_t best_d = SIZE_MAX;
	for (size_t i = 0; i < n; i++) {
		size_t nl = strlen(names[i]);
		size_t d = distance(got, len, names[i], nl);
		if (d <= (nl <= 4 ? 1u : 2u) && d < best_d) {
			best = names[i];
			best_d = d;
		}
	}
	return best;
}

/* "a, b, c" into buf (truncated with "..." if it does not fit). */
static const char *join(char *buf, size_t cap, const char *const names[], size_t n)
{
	size_t off = 0;
	buf[0] = '\0';
	for (size_t i = 0; i < n; i++) {
		int w = snprintf(buf + off, cap - off, "%s%s", i ? ", " : "", names[i]);
		if (w < 0 || (size_t)w >= cap - off) {
			if (cap >= 4)
				memcpy(buf + cap - 4, "...", 4);
			break;
		}
		off += (size_t)w;
	}
	return buf;
}

/* "unknown <what> 'x' <context> (known: a, b); did you mean 'a'?" at n. */
static int fail_unknown(loader *L, const yaml_node_t *n, const char *what, const char *context,
			const char *const names[], size_t count)
{
	char qb[QBUF], list[512], hint[96] = "";
	const char *near = closest(sval(n), slen(n), names, count);
	if (near)
		fmt(hint, sizeof(hint), "; did you mean '%s'?", near);
	return fail(L, n, "unknown %s '%s' %s (known: %s)%s", what, quote(qb, sval(n), slen(n)),
		    context, join(list, sizeof(list), names, count), hint);
}

/* ---- scalars ------------------------------------------------------------ */

/* Decimal digits only, no sign, no spaces; ST_E_INVALID on overflow. */
static int parse_digits(const char *s, size_t len, uint64_t *ret)
{
	uint64_t v = 0;
	if (len == 0)
		return ST_E_INVALID;
	for (size_t i = 0; i < len; i++) {
		if (s[i] < '0' || s[i] > '9')
			return ST_E_INVALID;
		unsigned d = (unsigned)(s[i] - '0');
		if (v > (UINT64_MAX - d) / 10)
			return ST_E_INVALID;
		v = v * 10 + d;
	}
	*ret = v;
	return 0;
}

/* digits times a unit, with the unit one of units[].suffix ("" included). */
typedef struct unit {
	const char *suffix;
	uint64_t mult;
} unit;

static int parse_with_unit(const char *s, const unit *units, size_t n_units, uint64_t *ret)
{
	if (!s)
		return ST_E_INVALID;
	size_t digits = 0;
	while (s[digits] >= '0' && s[digits] <= '9')
		digits++;
	uint64_t v;
	if (parse_digits(s, digits, &v))
		return ST_E_INVALID;
	for (size_t i = 0; i < n_units; i++) {
		if (strcmp(s + digits, units[i].suffix) != 0)
			continue;
		if (v > UINT64_MAX / units[i].mult)
			return ST_E_INVALID;
		*ret = v * units[i].mult;
		return 0;
	}
	return ST_E_INVALID;
}

int st_duration_parse(const char *s, uint64_t *ret_ms)
{
	static const unit units[] = {
		{"", MS_PER_S},		{"ms", 1},	   {"s", MS_PER_S}, {"m", 60 * MS_PER_S},
		{"h", 3600 * MS_PER_S}, {"d", MS_PER_DAY},
	};
	if (!ret_ms)
		return ST_E_INVALID;
	return parse_with_unit(s, units, ST_ARRAY_LEN(units), ret_ms);
}

/* Bare bytes or a binary suffix: "65536", "64KiB", "1MiB", "1GiB". */
static int bytes_parse(const char *s, uint64_t *ret)
{
	static const unit units[] = {
		{"", 1},
		{"KiB", UINT64_C(1) << 10},
		{"MiB", UINT64_C(1) << 20},
		{"GiB", UINT64_C(1) << 30},
	};
	return parse_with_unit(s, units, ST_ARRAY_LEN(units), ret);
}

/* The shortest exact form of a duration or a size, for range messages. */
static const char *duration_text(char *buf, size_t cap, uint64_t ms)
{
	static const unit units[] = {
		{"d", MS_PER_DAY},
		{"h", 3600 * MS_PER_S},
		{"m", 60 * MS_PER_S},
		{"s", MS_PER_S},
	};
	if (ms == 0) {
		fmt(buf, cap, "0");
		return buf;
	}
	for (size_t i = 0; i < ST_ARRAY_LEN(units); i++) {
		if (ms % units[i].mult == 0) {
			fmt(buf, cap, "%llu%s", (unsigned long long)(ms / units[i].mult),
			    units[i].suffix);
			return buf;
		}
	}
	fmt(buf, cap, "%llums", (unsigned long long)ms);
	return buf;
}

static const char *bytes_text(char *buf, size_t cap, uint64_t b)
{
	static const unit units[] = {
		{"GiB", UINT64_C(1) << 30},
		{"MiB", UINT64_C(1) << 20},
		{"KiB", UINT64_C(1) << 10},
	};
	for (size_t i = 0; i < ST_ARRAY_LEN(units); i++) {
		if (b && b % units[i].mult == 0) {
			fmt(buf, cap, "%llu%s", (unsigned long long)(b / units[i].mult),
			    units[i].suffix);
			return buf;
		}
	}
	fmt(buf, cap, "%llu", (unsigned long long)b);
	return buf;
}

int st_listen_parse(const char *s, char ret_host[static ST_LISTEN_HOST_MAX], uint16_t *ret_port)
{
	char host[ST_LISTEN_HOST_MAX];
	if (!s || !ret_port)
		return ST_E_INVALID;
	const char *colon = strrchr(s, ':');
	if (!colon)
		return ST_E_INVALID;
	const char *h = s;
	size_t hl = (size_t)(colon - s);
	bool v6 = hl >= 2 && h[0] == '[' && h[hl - 1] == ']';
	if (v6) {
		h++;
		hl -= 2;
	}
	if (hl == 0 || hl >= sizeof(host))
		return ST_E_INVALID;
	memcpy(host, h, hl);
	host[hl] = '\0';
	unsigned char addr[16];
	if (v6) {
		if (inet_pton(AF_INET6, host, addr) != 1)
			return ST_E_INVALID;
	} else if (!strcmp(host, "localhost")) {
		memcpy(host, "127.0.0.1", sizeof("127.0.0.1"));
	} else if (inet_pton(AF_INET, host, addr) != 1) {
		return ST_E_INVALID;
	}
	uint64_t port;
	size_t pl = strlen(colon + 1);
	if (pl > 5 || parse_digits(colon + 1, pl, &port) || port > 65535)
		return ST_E_INVALID;
	memcpy(ret_host, host, strlen(host) + 1);
	*ret_port = (uint16_t)port;
	return 0;
}

/* ---- paths -------------------------------------------------------------- */

/* Collapses "//", "/./" and a trailing "/." or "/" of an absolute path in
 * place.  ".." is kept: resolving it lexically would be wrong across
 * symbolic links, and the kernel resolves it correctly. */
static void normalise(char *p)
{
	char *w = p;
	const char *r = p;
	while (*r) {
		while (*r == '/')
			r++;
		const char *seg = r;
		while (*r && *r != '/')
			r++;
		size_t n = (size_t)(r - seg);
		if (n == 0 || (n == 1 && seg[0] == '.'))
			continue;
		*w++ = '/';
		memmove(w, seg, n);
		w += n;
	}
	if (w == p)
		*w++ = '/';
	*w = '\0';
}

/* base (absolute) joined with rel unless rel is absolute; NULL on OOM. */
static char *absolute(const char *base, const char *rel)
{
	size_t bl = rel[0] == '/' ? 0 : strlen(base), rl = strlen(rel);
	char *p = malloc(bl + rl + 2);
	if (!p)
		return NULL;
	memcpy(p, base, bl);
	p[bl] = '/';
	memcpy(p + bl + 1, rel, rl + 1);
	normalise(p);
	return p;
}

/* ---- loading values ----------------------------------------------------- */

static int load_map(loader *L, const yaml_node_t *map, const table *t, const char *where, void *obj,
		    size_t index);

static void *field(void *obj, size_t off)
{
	return (char *)obj + off;
}

/* A usable string value: a scalar that is not null, not empty, at most
 * MAX_VALUE bytes, without control characters (a NUL would cut it short). */
static int want_string(loader *L, const yaml_node_t *v, const char *key, const char *where)
{
	char qb[QBUF + 2];
	if (v->type != YAML_SCALAR_NODE || is_null(v))
		return fail(L, v, "expected a string for '%s' in %s, found %s", key, in(where),
			    found(v, qb));
	if (slen(v) == 0)
		return fail(L, v, "'%s' in %s must not be empty", key, in(where));
	if (slen(v) > MAX_VALUE)
		return fail(L, v, "'%s' in %s is longer than %d bytes", key, in(where), MAX_VALUE);
	for (size_t i = 0; i < slen(v); i++) {
		unsigned char c = (unsigned char)sval(v)[i];
		if (c < 0x20 || c == 0x7f)
			return fail(L, v, "'%s' in %s contains a control character", key,
				    in(where));
	}
	return 0;
}

static int load_string(loader *L, const key_def *k, const yaml_node_t *v, const char *where,
		       char **ret)
{
	int r = want_string(L, v, k->name, where);
	if (r)
		return r;
	const char *s = sval(v);
	char *out;
	if (k->type == V_PATH || (k->type == V_LOCATION && !strstr(s, "://")))
		out = absolute(L->base, s);
	else
		out = strdup(s);
	if (!out)
		return oom(L->origin, L->diag);
	if (strlen(out) > MAX_VALUE) {
		free(out);
		return fail(L, v, "'%s' in %s is longer than %d bytes once made absolute", k->name,
			    in(where), MAX_VALUE);
	}
	free(*ret);
	*ret = out;
	return 0;
}

static int load_bool(loader *L, const key_def *k, const yaml_node_t *v, const char *where,
		     bool *ret)
{
	static const char *const yes[] = {"true", "True", "TRUE"}, *const no[] = {"false", "False",
										  "FALSE"};
	char qb[QBUF + 2];
	if (is_plain(v)) {
		for (size_t i = 0; i < ST_ARRAY_LEN(yes); i++) {
			if (scalar_is(v, yes[i]) || scalar_is(v, no[i])) {
				*ret = scalar_is(v, yes[i]);
				return 0;
			}
		}
	}
	return fail(L, v, "expected true or false for '%s' in %s, found %s", k->name, in(where),
		    found(v, qb));
}

static void store_uint(const key_def *k, void *f, uint64_t v)
{
	if (k->store == S_U32)
		*(uint32_t *)f = (uint32_t)v;
	else
		*(uint64_t *)f = v;
}

static int range_fail(loader *L, const key_def *k, const yaml_node_t *v, const char *where)
{
	char lo[32], hi[32];
	const char *(*text)(char *, size_t, uint64_t) = NULL;
	if (k->type == V_DURATION)
		text = duration_text;
	else if (k->type == V_BYTES)
		text = bytes_text;
	if (text) {
		text(lo, sizeof(lo), k->min);
		text(hi, sizeof(hi), k->max);
	} else {
		fmt(lo, sizeof(lo), "%llu", (unsigned long long)k->min);
		fmt(hi, sizeof(hi), "%llu", (unsigned long long)k->max);
	}
	char qb[QBUF];
	return fail(L, v, "'%s' in %s is out of range: %s (allowed %s..%s)", k->name, in(where),
		    quote(qb, sval(v), slen(v)), lo, hi);
}

static bool in_range(const key_def *k, uint64_t v)
{
	return v >= k->min && (k->max == 0 || v <= k->max);
}

static int load_number(loader *L, const key_def *k, const yaml_node_t *v, const char *where,
		       void *f)
{
	char qb[QBUF + 2];
	uint64_t n;
	if (v->type != YAML_SCALAR_NODE || is_null(v))
		goto wrong;
	switch (k->type) {
	case V_UINT:
		if (!is_plain(v))
			goto wrong;
		if (parse_digits(sval(v), slen(v), &n)) {
			/* all digits but too many of them: a range problem */
			if (strspn(sval(v), "0123456789") == slen(v) && slen(v) > 0)
				return range_fail(L, k, v, where);
			goto wrong;
		}
		if (!in_range(k, n))
			return range_fail(L, k, v, where);
		store_uint(k, f, n);
		return 0;
	case V_BYTES:
		if (strlen(sval(v)) != slen(v) || bytes_parse(sval(v), &n))
			goto wrong;
		if (!in_range(k, n))
			return range_fail(L, k, v, where);
		store_uint(k, f, n);
		return 0;
	default: /* V_DURATION */
		if (strlen(sval(v)) != slen(v) || st_duration_parse(sval(v), &n))
			goto wrong;
		if (!in_range(k, n))
			return range_fail(L, k, v, where);
		if (k->store == S_SECONDS) {
			if (n % MS_PER_S)
				return fail(L, v, "'%s' in %s must be a whole number of seconds",
					    k->name, in(where));
			*(uint64_t *)f = n / MS_PER_S;
		} else if (k->store == S_SECONDS_F) {
			*(double *)f = (double)n / (double)MS_PER_S;
		} else {
			*(uint64_t *)f = n;
		}
		return 0;
	}
wrong:
	if (k->type == V_UINT)
		return fail(L, v, "expected a number for '%s' in %s, found %s", k->name, in(where),
			    found(v, qb));
	if (k->type == V_BYTES)
		return fail(L, v,
			    "expected a size for '%s' in %s (bytes, or a number with KiB, MiB "
			    "or GiB), found %s",
			    k->name, in(where), found(v, qb));
	return fail(L, v,
		    "expected a duration for '%s' in %s (a number with ms, s, m, h or d, or "
		    "bare seconds), found %s",
		    k->name, in(where), found(v, qb));
}

static int load_enum(loader *L, const key_def *k, const yaml_node_t *v, const char *where, int *ret)
{
	const char *names[16];
	size_t n = 0;
	char qb[QBUF + 2], context[WHERE_MAX + 32];
	if (v->type != YAML_SCALAR_NODE || is_null(v))
		return fail(L, v, "expected a string for '%s' in %s, found %s", k->name, in(where),
			    found(v, qb));
	for (const enum_val *e = k->enums; e->name && n < ST_ARRAY_LEN(names); e++, n++) {
		if (scalar_is(v, e->name)) {
			*ret = e->value;
			return 0;
		}
		names[n] = e->name;
	}
	fmt(context, sizeof(context), "for '%s' in %s", k->name, in(where));
	return fail_unknown(L, v, "value", context, names, n);
}

static int load_strings(loader *L, const key_def *k, const yaml_node_t *v, const char *where,
			void *obj)
{
	char qb[QBUF + 2];
	if (v->type != YAML_SEQUENCE_NODE)
		return fail(L, v, "expected a list of strings for '%s' in %s, found %s", k->name,
			    in(where), found(v, qb));
	size_t n = items_len(v);
	const yaml_node_item_t *items = v->data.sequence.items.start;
	if (n > k->max)
		return fail(L, node(L, items[k->max]),
			    "too many entries in '%s' in %s (limit %llu)", k->name, in(where),
			    (unsigned long long)k->max);
	char ***arr = field(obj, k->off);
	size_t *count = field(obj, k->count_off);
	if (n) {
		*arr = calloc(n, sizeof(**arr));
		if (!*arr)
			return oom(L->origin, L->diag);
		*count = n;
	}
	for (size_t i = 0; i < n; i++) {
		const yaml_node_t *it = node(L, items[i]);
		int r = want_string(L, it, k->name, where);
		if (r)
			return r;
		if (!((*arr)[i] = strdup(sval(it))))
			return oom(L->origin, L->diag);
	}
	return 0;
}

/* [A-Za-z0-9_][A-Za-z0-9_.-]{0,63}: the names of `options:` keys. */
static bool valid_option_key(const char *s, size_t len)
{
	if (len == 0 || len > MAX_NAME)
		return false;
	for (size_t i = 0; i < len; i++) {
		char c = s[i];
		bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
			  (c >= '0' && c <= '9') || c == '_' || (i > 0 && (c == '.' || c == '-'));
		if (!ok)
			return false;
	}
	return true;
}

static int load_strmap(loader *L, const key_def *k, const yaml_node_t *v, const char *where,
		       void *obj)
{
	char qb[QBUF + 2], sub[WHERE_MAX];
	if (v->type != YAML_MAPPING_NODE)
		return fail(L, v, "expected a mapping for '%s' in %s, found %s", k->name, in(where),
			    found(v, qb));
	fmt(sub, sizeof(sub), "%s%s%s", where, where[0] ? "." : "", k->name);
	size_t n = pairs_len(v);
	const yaml_node_pair_t *pairs = v->data.mapping.pairs.start;
	if (n > k->max)
		return fail(L, node(L, pairs[k->max].key), "too many entries in %s (limit %llu)",
			    sub, (unsigned long long)k->max);
	st_kv **arr = field(obj, k->off);
	size_t *count = field(obj, k->count_off);
	if (n) {
		*arr = calloc(n, sizeof(**arr));
		if (!*arr)
			return oom(L->origin, L->diag);
		*count = n;
	}
	for (size_t i = 0; i < n; i++) {
		const yaml_node_t *key = node(L, pairs[i].key), *val = node(L, pairs[i].value);
		if (key->type != YAML_SCALAR_NODE || is_null(key))
			return fail(L, key, "expected an option name in %s, found %s", sub,
				    found(key, qb));
		if (!valid_option_key(sval(key), slen(key)))
			return fail(L, key,
				    "invalid option name '%s' in %s (expected "
				    "[A-Za-z0-9_][A-Za-z0-9_.-]*, at most %d bytes)",
				    quote(qb, sval(key), slen(key)), sub, MAX_NAME);
		for (size_t j = 0; j < i; j++)
			if (scalar_is(key, (*arr)[j].key))
				return fail(L, key, "duplicate option '%s' in %s", (*arr)[j].key,
					    sub);
		if (val->type != YAML_SCALAR_NODE || is_null(val))
			return fail(L, val,
				    "expected a scalar value for option '%s' in %s (option values "
				    "are strings or numbers), found %s",
				    sval(key), sub, found(val, qb));
		char opt[MAX_NAME + 16];
		fmt(opt, sizeof(opt), "option '%s'", sval(key));
		if (slen(val) > MAX_VALUE)
			return fail(L, val, "%s in %s is longer than %d bytes", opt, sub,
				    MAX_VALUE);
		for (size_t j = 0; j < slen(val); j++) {
			unsigned char c = (unsigned char)sval(val)[j];
			if (c < 0x20 || c == 0x7f)
				return fail(L, val, "%s in %s contains a control character", opt,
					    sub);
		}
		if (!((*arr)[i].key = strdup(sval(key))) || !((*arr)[i].value = strdup(sval(val))))
			return oom(L->origin, L->diag);
	}
	return 0;
}

static int load_items(loader *L, const key_def *k, const yaml_node_t *v, const char *where,
		      void *obj)
{
	char qb[QBUF + 2], path[WHERE_MAX], item[WHERE_MAX];
	const table *t = k->sub;
	if (v->type != YAML_SEQUENCE_NODE)
		return fail(L, v, "expected a sequence for '%s' in %s, found %s", k->name,
			    in(where), found(v, qb));
	fmt(path, sizeof(path), "%s%s%s", where, where[0] ? "." : "", k->name);
	size_t n = items_len(v);
	const yaml_node_item_t *items = v->data.sequence.items.start;
	if (n > k->max)
		return fail(L, node(L, items[k->max]), "too many entries in %s (limit %llu)", path,
			    (unsigned long long)k->max);
	char **arr = field(obj, k->off);
	size_t *count = field(obj, k->count_off);
	if (n) {
		*arr = calloc(n, t->elem_size);
		if (!*arr)
			return oom(L->origin, L->diag);
		*count = n;
	}
	for (size_t i = 0; i < n; i++) {
		const yaml_node_t *it = node(L, items[i]);
		fmt(item, sizeof(item), "%s[%zu]", path, i);
		if (it->type != YAML_MAPPING_NODE)
			return fail(L, it, "expected a mapping for %s, found %s", item,
				    found(it, qb));
		void *elem = *arr + i * t->elem_size;
		*(unsigned *)field(elem, t->line_off) = (unsigned)it->start_mark.line + 1;
		int r = load_map(L, it, t, item, elem, i);
		if (r)
			return r;
	}
	return 0;
}

static int load_value(loader *L, const key_def *k, const yaml_node_t *v, const char *where,
		      void *obj)
{
	void *f = field(obj, k->off);
	char qb[QBUF + 2], sub[WHERE_MAX];
	int r = 0;
	switch (k->type) {
	case V_STRING:
	case V_PATH:
	case V_LOCATION: r = load_string(L, k, v, where, f); break;
	case V_BOOL: r = load_bool(L, k, v, where, f); break;
	case V_UINT:
	case V_BYTES:
	case V_DURATION: r = load_number(L, k, v, where, f); break;
	case V_ENUM: r = load_enum(L, k, v, where, f); break;
	case V_STRINGS: r = load_strings(L, k, v, where, obj); break;
	case V_STRMAP: r = load_strmap(L, k, v, where, obj); break;
	case V_ITEMS: r = load_items(L, k, v, where, obj); break;
	case V_SECTION:
		if (v->type != YAML_MAPPING_NODE)
			return fail(L, v, "expected a mapping for '%s' in %s, found %s", k->name,
				    in(where), found(v, qb));
		fmt(sub, sizeof(sub), "%s%s%s", where, where[0] ? "." : "", k->name);
		r = load_map(L, v, k->sub, sub, f, 0);
		break;
	case V_CUSTOM: break; /* check() below does the work */
	}
	if (!r && k->check)
		r = k->check(L, k, v, where, obj);
	return r;
}

static int load_map(loader *L, const yaml_node_t *map, const table *t, const char *where, void *obj,
		    size_t index)
{
	yaml_node_t *vals[MAX_KEYS] = {NULL}, *keys[MAX_KEYS] = {NULL};
	char qb[QBUF + 2];
	for (const yaml_node_pair_t *p = map->data.mapping.pairs.start;
	     p < map->data.mapping.pairs.top; p++) {
		yaml_node_t *k = node(L, p->key);
		if (k->type != YAML_SCALAR_NODE)
			return fail(L, k, "expected a key name in %s, found %s", in(where),
				    found(k, qb));
		size_t i = 0;
		while (i < t->n && !scalar_is(k, t->keys[i].name))
			i++;
		if (i == t->n) {
			const char *names[MAX_KEYS];
			char context[WHERE_MAX + 8];
			for (size_t j = 0; j < t->n; j++)
				names[j] = t->keys[j].name;
			fmt(context, sizeof(context), "in %s", in(where));
			return fail_unknown(L, k, "key", context, names, t->n);
		}
		if (vals[i])
			return fail(L, k, "duplicate key '%s' in %s (first at line %zu)",
				    t->keys[i].name, in(where), keys[i]->start_mark.line + 1);
		keys[i] = k;
		vals[i] = node(L, p->value);
		int r = load_value(L, &t->keys[i], vals[i], where, obj);
		if (r)
			return r;
	}
	for (size_t i = 0; i < t->n; i++)
		if (t->keys[i].required && !vals[i])
			return fail(L, map, "missing required key '%s' in %s", t->keys[i].name,
				    in(where));
	return t->finish ? t->finish(L, map, vals, where, obj, index) : 0;
}

/* ---- validators --------------------------------------------------------- */

static const char *str_field(void *obj, const key_def *k)
{
	return *(char **)field(obj, k->off);
}

/* [a-z0-9][a-z0-9._-]{0,63}: sources, tokens, rules. */
static bool valid_name(const char *s)
{
	size_t len = strlen(s);
	if (len == 0 || len > MAX_NAME)
		return false;
	for (size_t i = 0; i < len; i++) {
		char c = s[i];
		bool ok = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
			  (i > 0 && (c == '.' || c == '_' || c == '-'));
		if (!ok)
			return false;
	}
	return true;
}

static int check_name(loader *L, const key_def *k, const yaml_node_t *v, const char *where,
		      void *obj)
{
	char qb[QBUF];
	if (valid_name(str_field(obj, k)))
		return 0;
	return fail(
		L, v,
		"invalid name '%s' for '%s' in %s (expected [a-z0-9][a-z0-9._-]*, at most %d bytes)",
		quote(qb, sval(v), slen(v)), k->name, in(where), MAX_NAME);
}

/* [A-Za-z_][A-Za-z0-9_]*, at most 255 bytes. */
static int check_env(loader *L, const key_def *k, const yaml_node_t *v, const char *where,
		     void *obj)
{
	char qb[QBUF];
	const char *s = str_field(obj, k);
	size_t len = strlen(s);
	bool ok = len <= 255;
	for (size_t i = 0; ok && i < len; i++) {
		char c = s[i];
		ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' ||
		     (i > 0 && c >= '0' && c <= '9');
	}
	if (ok)
		return 0;
	return fail(L, v,
		    "invalid environment variable name '%s' for '%s' in %s (expected "
		    "[A-Za-z_][A-Za-z0-9_]*)",
		    quote(qb, sval(v), slen(v)), k->name, in(where));
}

static int check_kind(loader *L, const key_def *k, const yaml_node_t *v, const char *where,
		      void *obj)
{
	const char *names[32];
	size_t n = 0;
	char context[WHERE_MAX + 32];
	if (st_connector_find(str_field(obj, k)))
		return 0;
	while (st_connectors[n] && n < ST_ARRAY_LEN(names)) {
		names[n] = st_connectors[n]->kind;
		n++;
	}
	fmt(context, sizeof(context), "for '%s' in %s", k->name, in(where));
	return fail_unknown(L, v, "source kind", context, names, n);
}

static int check_listen(loader *L, const key_def *k, const yaml_node_t *v, const char *where,
			void *obj)
{
	char host[ST_LISTEN_HOST_MAX], qb[QBUF];
	uint16_t port;
	if (st_listen_parse(str_field(obj, k), host, &port) == 0)
		return 0;
	return fail(L, v,
		    "invalid address '%s' for '%s' in %s (expected HOST:PORT: an IPv4 address, "
		    "[IPv6 address] or localhost, and a port 0..65535)",
		    quote(qb, sval(v), slen(v)), k->name, in(where));
}

static int check_rule_key(loader *L, const key_def *k, const yaml_node_t *v, const char *where,
			  void *obj)
{
	static const char *const prefixes[] = {"tag:", "label:", "annotation:"};
	char qb[QBUF];
	const char *s = str_field(obj, k);
	for (size_t i = 0; i < ST_ARRAY_LEN(prefixes); i++) {
		size_t pl = strlen(prefixes[i]);
		if (strncmp(s, prefixes[i], pl) != 0 || s[pl] == '\0')
			continue;
		if (!strpbrk(s + pl, " \t"))
			return 0;
	}
	return fail(L, v,
		    "invalid rule key '%s' for '%s' in %s (expected tag:NAME, label:NAME or "
		    "annotation:NAME)",
		    quote(qb, sval(v), slen(v)), k->name, in(where));
}

static int check_suffixes(loader *L, const key_def *k, const yaml_node_t *v, const char *where,
			  void *obj)
{
	st_config *c = obj;
	c->strip_suffixes_set = true;
	for (size_t i = 0; i < c->n_strip_suffixes; i++)
		for (size_t j = 0; j < i; j++)
			if (!strcmp(c->strip_suffixes[i], c->strip_suffixes[j]))
				return fail(L, node(L, v->data.sequence.items.start[i]),
					    "duplicate suffix '%s' in '%s' in %s",
					    c->strip_suffixes[i], k->name, in(where));
	return 0;
}

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* V_CUSTOM: 64 hex digits into st_token_cfg.sha256.  The value is never
 * quoted back: it might be a token pasted into the wrong key. */
static int parse_sha256(loader *L, const key_def *k, const yaml_node_t *v, const char *where,
			void *obj)
{
	st_token_cfg *t = obj;
	char qb[QBUF + 2];
	if (v->type != YAML_SCALAR_NODE || is_null(v))
		return fail(L, v, "expected a string for '%s' in %s, found %s", k->name, in(where),
			    found(v, qb));
	bool ok = slen(v) == 64;
	for (size_t i = 0; ok && i < 64; i++)
		ok = hexval(sval(v)[i]) >= 0;
	if (!ok)
		return fail(L, v,
			    "invalid '%s' in %s: expected 64 hexadecimal digits (the SHA-256 of "
			    "the token, as sha256sum prints it); the value (%zu bytes) is not "
			    "shown",
			    k->name, in(where), slen(v));
	for (size_t i = 0; i < 32; i++)
		t->sha256[i] = (uint8_t)(hexval(sval(v)[2 * i]) << 4 | hexval(sval(v)[2 * i + 1]));
	t->has_sha256 = true;
	return 0;
}

/* ---- cross-key checks --------------------------------------------------- */

/* The later (in the file) of two nodes. */
static const yaml_node_t *later(const yaml_node_t *a, const yaml_node_t *b)
{
	return a->start_mark.index > b->start_mark.index ? a : b;
}

enum { TK_NAME, TK_ROLE, TK_ENV, TK_FILE, TK_SHA256, TK_N };

static int finish_token(loader *L, const yaml_node_t *map, yaml_node_t *const vals[],
			const char *where, void *obj, size_t index)
{
	static const int refs[] = {TK_ENV, TK_FILE, TK_SHA256};
	static const char *const ref_names[] = {"env", "file", "sha256"};
	const st_token_cfg *t = obj, *all = t - index;
	const yaml_node_t *first = NULL;
	size_t first_i = 0;
	for (size_t i = 0; i < ST_ARRAY_LEN(refs); i++) {
		const yaml_node_t *v = vals[refs[i]];
		if (!v)
			continue;
		if (first) {
			const char *a = ref_names[first_i], *b = ref_names[i];
			return fail(L, later(first, v),
				    "token '%s' in %s has both '%s' and '%s': give exactly one of "
				    "env, file or sha256",
				    t->name, where, a, b);
		}
		first = v;
		first_i = i;
	}
	if (!first)
		return fail(L, map,
			    "token '%s' in %s has no reference: give exactly one of env, file or "
			    "sha256",
			    t->name, where);
	for (size_t j = 0; j < index; j++)
		if (!strcmp(all[j].name, t->name))
			return fail(L, vals[TK_NAME],
				    "duplicate token name '%s' in %s (first at line %u)", t->name,
				    where, all[j].line);
	return 0;
}

enum {
	SK_NAME,
	SK_KIND,
	SK_LOCATION,
	SK_REF,
	SK_TOKEN_ENV,
	SK_TOKEN_FILE,
	SK_SCHEDULE,
	SK_TIMEOUT,
	SK_OPTIONS,
	SK_N
};

static int finish_source(loader *L, const yaml_node_t *map, yaml_node_t *const vals[],
			 const char *where, void *obj, size_t index)
{
	(void)map;
	const st_source_cfg *s = obj, *all = s - index;
	if (vals[SK_TOKEN_ENV] && vals[SK_TOKEN_FILE])
		return fail(L, later(vals[SK_TOKEN_ENV], vals[SK_TOKEN_FILE]),
			    "source '%s' in %s has both 'token_env' and 'token_file': give at "
			    "most one",
			    s->name, where);
	for (size_t j = 0; j < index; j++)
		if (!strcmp(all[j].name, s->name))
			return fail(L, vals[SK_NAME],
				    "duplicate source name '%s' in %s (first at line %u)", s->name,
				    where, all[j].line);
	return 0;
}

enum { AK_KIND, AK_ALIAS, AK_NAME, AK_N };

static const char *hint_kind_name(st_hint_kind k)
{
	switch (k) {
	case ST_HINT_SERVICE: return "service";
	case ST_HINT_TEAM: return "team";
	case ST_HINT_SYSTEM: return "system";
	case ST_HINT_CLOUD_ID: return "cloud-id";
	}
	return "?";
}

static int finish_alias(loader *L, const yaml_node_t *map, yaml_node_t *const vals[],
			const char *where, void *obj, size_t index)
{
	(void)map;
	const st_alias_cfg *a = obj, *all = a - index;
	for (size_t j = 0; j < index; j++)
		if (all[j].kind == a->kind && !strcmp(all[j].alias, a->alias))
			return fail(L, vals[AK_ALIAS],
				    "duplicate alias '%s' of kind %s in %s (first at line %u)",
				    a->alias, hint_kind_name(a->kind), where, all[j].line);
	return 0;
}

enum { RK_NAME, RK_SOURCE_KIND, RK_KEY, RK_KIND, RK_N };

static int finish_rule(loader *L, const yaml_node_t *map, yaml_node_t *const vals[],
		       const char *where, void *obj, size_t index)
{
	(void)map;
	const st_rule_cfg *r = obj, *all = r - index;
	for (size_t j = 0; j < index; j++)
		if (!strcmp(all[j].name, r->name))
			return fail(L, vals[RK_NAME],
				    "duplicate rule name '%s' in %s (first at line %u)", r->name,
				    where, all[j].line);
	return 0;
}

/* ---- the key tables ----------------------------------------------------- */

static const enum_val roles[] = {{"read", ST_ROLE_READ}, {"admin", ST_ROLE_ADMIN}, {NULL, 0}};
static const enum_val hint_kinds[] = {
	{"service", ST_HINT_SERVICE},
	{"team", ST_HINT_TEAM},
	{"system", ST_HINT_SYSTEM},
	{NULL, 0},
};

#define KiB (UINT64_C(1) << 10)
#define MiB (UINT64_C(1) << 20)
#define GiB (UINT64_C(1) << 30)
#define HOUR (UINT64_C(3600) * MS_PER_S)

static const key_def limits_keys[] = {
	{"max_connections", V_UINT, .store = S_U32, .off = offsetof(st_limits_cfg, max_connections),
	 .min = 1, .max = 100000},
	{"max_header_bytes", V_BYTES, .store = S_U32,
	 .off = offsetof(st_limits_cfg, max_header_bytes), .min = 1 * KiB, .max = 1 * MiB},
	{"max_headers", V_UINT, .store = S_U32, .off = offsetof(st_limits_cfg, max_headers),
	 .min = 1, .max = 1000},
	{"max_body_bytes", V_BYTES, .off = offsetof(st_limits_cfg, max_body_bytes), .min = 1,
	 .max = 1 * GiB},
	{"header_timeout", V_DURATION, .off = offsetof(st_limits_cfg, header_timeout_ms),
	 .min = 100, .max = 1 * HOUR},
	{"idle_timeout", V_DURATION, .off = offsetof(st_limits_cfg, idle_timeout_ms), .min = 100,
	 .max = 1 * HOUR},
	{"max_rows", V_UINT, .store = S_U32, .off = offsetof(st_limits_cfg, max_rows), .min = 1,
	 .max = 1000000},
};
static const table limits_table = {limits_keys, ST_ARRAY_LEN(limits_keys), 0, 0, NULL};

static const key_def token_keys[TK_N] = {
	[TK_NAME] = {"name", V_STRING, .required = true, .off = offsetof(st_token_cfg, name),
		     .check = check_name},
	[TK_ROLE] = {"role", V_ENUM, .required = true, .off = offsetof(st_token_cfg, role),
		     .enums = roles},
	[TK_ENV] = {"env", V_STRING, .off = offsetof(st_token_cfg, env), .check = check_env},
	[TK_FILE] = {"file", V_PATH, .off = offsetof(st_token_cfg, file)},
	[TK_SHA256] = {"sha256", V_CUSTOM, .check = parse_sha256},
};
static const table token_table = {token_keys, TK_N, sizeof(st_token_cfg),
				  offsetof(st_token_cfg, line), finish_token};

static const key_def server_keys[] = {
	{"listen", V_STRING, .off = offsetof(st_config, listen), .check = check_listen},
	{"web", V_PATH, .off = offsetof(st_config, web)},
	{"allow_anonymous_read", V_BOOL, .off = offsetof(st_config, allow_anonymous_read)},
	{"tokens", V_ITEMS, .off = offsetof(st_config, tokens),
	 .count_off = offsetof(st_config, n_tokens), .max = 256, .sub = &token_table},
	{"limits", V_SECTION, .off = offsetof(st_config, limits), .sub = &limits_table},
};
static const table server_table = {server_keys, ST_ARRAY_LEN(server_keys), 0, 0, NULL};

static const key_def source_keys[SK_N] = {
	[SK_NAME] = {"name", V_STRING, .required = true, .off = offsetof(st_source_cfg, name),
		     .check = check_name},
	[SK_KIND] = {"kind", V_STRING, .required = true, .off = offsetof(st_source_cfg, kind),
		     .check = check_kind},
	[SK_LOCATION] = {"location", V_LOCATION, .required = true,
			 .off = offsetof(st_source_cfg, location)},
	[SK_REF] = {"ref", V_STRING, .off = offsetof(st_source_cfg, ref)},
	[SK_TOKEN_ENV] = {"token_env", V_STRING, .off = offsetof(st_source_cfg, token_env),
			  .check = check_env},
	[SK_TOKEN_FILE] = {"token_file", V_PATH, .off = offsetof(st_source_cfg, token_file)},
	[SK_SCHEDULE] = {"schedule", V_DURATION, .store = S_SECONDS,
			 .off = offsetof(st_source_cfg, schedule_s), .min = 0,
			 .max = 365 * MS_PER_DAY},
	[SK_TIMEOUT] = {"timeout", V_DURATION, .store = S_SECONDS_F,
			.off = offsetof(st_source_cfg, timeout_s), .min = 100, .max = 1 * HOUR},
	[SK_OPTIONS] = {"options", V_STRMAP, .off = offsetof(st_source_cfg, options),
			.count_off = offsetof(st_source_cfg, n_options), .max = 64},
};
static const table source_table = {source_keys, SK_N, sizeof(st_source_cfg),
				   offsetof(st_source_cfg, line), finish_source};

static const key_def alias_keys[AK_N] = {
	[AK_KIND] = {"kind", V_ENUM, .required = true, .off = offsetof(st_alias_cfg, kind),
		     .enums = hint_kinds},
	[AK_ALIAS] = {"alias", V_STRING, .required = true, .off = offsetof(st_alias_cfg, alias)},
	[AK_NAME] = {"name", V_STRING, .required = true, .off = offsetof(st_alias_cfg, name)},
};
static const table alias_table = {alias_keys, AK_N, sizeof(st_alias_cfg),
				  offsetof(st_alias_cfg, line), finish_alias};

static const key_def rule_keys[RK_N] = {
	[RK_NAME] = {"name", V_STRING, .required = true, .off = offsetof(st_rule_cfg, name),
		     .check = check_name},
	[RK_SOURCE_KIND] = {"source_kind", V_STRING, .off = offsetof(st_rule_cfg, source_kind),
			    .check = check_kind},
	[RK_KEY] = {"key", V_STRING, .required = true, .off = offsetof(st_rule_cfg, key),
		    .check = check_rule_key},
	[RK_KIND] = {"kind", V_ENUM, .required = true, .off = offsetof(st_rule_cfg, kind),
		     .enums = hint_kinds},
};
static const table rule_table = {rule_keys, RK_N, sizeof(st_rule_cfg), offsetof(st_rule_cfg, line),
				 finish_rule};

static const key_def identity_keys[] = {
	{"default_rules", V_BOOL, .off = offsetof(st_config, default_rules)},
	{"strip_suffixes", V_STRINGS, .off = offsetof(st_config, strip_suffixes),
	 .count_off = offsetof(st_config, n_strip_suffixes), .max = 64, .check = check_suffixes},
	{"aliases", V_ITEMS, .off = offsetof(st_config, aliases),
	 .count_off = offsetof(st_config, n_aliases), .max = 10000, .sub = &alias_table},
	{"rules", V_ITEMS, .off = offsetof(st_config, rules),
	 .count_off = offsetof(st_config, n_rules), .max = 1000, .sub = &rule_table},
};
static const table identity_table = {identity_keys, ST_ARRAY_LEN(identity_keys), 0, 0, NULL};

/* `server` and `identity` are sections of the st_config itself (offset 0). */
static const key_def root_keys[] = {
	{"store", V_PATH, .off = offsetof(st_config, store)},
	{"cache", V_PATH, .off = offsetof(st_config, cache)},
	{"server", V_SECTION, .off = 0, .sub = &server_table},
	{"sources", V_ITEMS, .off = offsetof(st_config, sources),
	 .count_off = offsetof(st_config, n_sources), .max = 1000, .sub = &source_table},
	{"identity", V_SECTION, .off = 0, .sub = &identity_table},
};
static const table root_table = {root_keys, ST_ARRAY_LEN(root_keys), 0, 0, NULL};

_Static_assert(ST_ARRAY_LEN(root_keys) <= MAX_KEYS && ST_ARRAY_LEN(limits_keys) <= MAX_KEYS &&
		       TK_N <= MAX_KEYS && SK_N <= MAX_KEYS,
	       "raise MAX_KEYS");

/* ---- freeing, by the same tables ---------------------------------------- */

static void free_obj(const table *t, void *obj)
{
	for (size_t i = 0; i < t->n; i++) {
		const key_def *k = &t->keys[i];
		void *f = field(obj, k->off);
		switch (k->type) {
		case V_STRING:
		case V_PATH:
		case V_LOCATION: free(*(char **)f); break;
		case V_STRINGS: {
			char **arr = *(char ***)f;
			size_t n = *(size_t *)field(obj, k->count_off);
			for (size_t j = 0; arr && j < n; j++)
				free(arr[j]);
			free(arr);
			break;
		}
		case V_STRMAP: {
			st_kv *arr = *(st_kv **)f;
			size_t n = *(size_t *)field(obj, k->count_off);
			for (size_t j = 0; arr && j < n; j++) {
				free((void *)arr[j].key);
				free((void *)arr[j].value);
			}
			free(arr);
			break;
		}
		case V_SECTION: free_obj(k->sub, f); break;
		case V_ITEMS: {
			char *arr = *(char **)f;
			size_t n = *(size_t *)field(obj, k->count_off);
			for (size_t j = 0; arr && j < n; j++)
				free_obj(k->sub, arr + j * k->sub->elem_size);
			free(arr);
			break;
		}
		default: break;
		}
	}
}

/* ---- key listing -------------------------------------------------------- */

static bool key_path_at(const table *t, const char *prefix, size_t *i, char *buf, size_t cap)
{
	for (size_t j = 0; j < t->n; j++) {
		const key_def *k = &t->keys[j];
		char path[WHERE_MAX];
		fmt(path, sizeof(path), "%s%s%s", prefix, prefix[0] ? "." : "", k->name);
		if (*i == 0) {
			fmt(buf, cap, "%s", path);
			return true;
		}
		--*i;
		if (k->type == V_SECTION || k->type == V_ITEMS) {
			char sub[WHERE_MAX];
			fmt(sub, sizeof(sub), "%s%s", path, k->type == V_ITEMS ? "[]" : "");
			if (key_path_at(k->sub, sub, i, buf, cap))
				return true;
		}
	}
	return false;
}

const char *st_config_key_path(size_t i, char *buf, size_t cap)
{
	if (!buf || cap == 0)
		return NULL;
	return key_path_at(&root_table, "", &i, buf, cap) ? buf : NULL;
}

/* ---- public API --------------------------------------------------------- */

st_config *st_config_new(void)
{
	st_config *c = calloc(1, sizeof(*c));
	if (c)
		c->default_rules = true;
	return c;
}

void st_config_free(st_config *c)
{
	if (!c)
		return;
	free_obj(&root_table, c);
	free(c->path);
	free(c);
}

const st_source_cfg *st_config_source(const st_config *c, const char *name)
{
	for (size_t i = 0; c && name && i < c->n_sources; i++)
		if (!strcmp(c->sources[i].name, name))
			return &c->sources[i];
	return NULL;
}


/* The directory relative paths are resolved against: base_dir made
 * absolute against the current directory, normalised. */
static int base_directory(const char *base_dir, const char *origin, char **ret, st_diag *diag)
{
	char *cwd = NULL, *b;
	if (base_dir && base_dir[0] == '/') {
		b = absolute("/", base_dir);
	} else {
		cwd = getcwd(NULL, 0);
		if (!cwd) {
			int e = errno;
			return st_diag_set(diag, ST_E_IO,
					   "%s: cannot resolve relative paths: the current "
					   "directory: %s",
					   origin, strerror(e));
		}
		b = absolute(cwd, base_dir && base_dir[0] ? base_dir : ".");
		free(cwd);
	}
	if (!b)
		return oom(origin, diag);
	*ret = b;
	return 0;
}

int st_config_load_buffer(const char *buf, size_t len, const char *origin, const char *base_dir,
			  st_config **ret, st_diag *diag)
{
	yaml_parser_t parser;
	yaml_document_t doc;
	bool have_parser = false, have_doc = false;
	st_config *c = NULL;
	char *base = NULL;
	int r;

	if (!origin)
		origin = "(config)";
	if (!ret || (!buf && len))
		return st_diag_set(diag, -EINVAL, "%s: invalid arguments", origin);
	if (!buf)
		buf = "";
	if (len > MAX_TEXT)
		return st_diag_set(diag, ST_E_INVALID,
				   "%s: the config is larger than 1 MiB (%zu bytes); refusing it",
				   origin, MAX_TEXT);
	if ((r = st_yaml_prescan(buf, len, origin, ST_E_INVALID, MAX_DEPTH, "the config", NULL,
				   diag)))
		return r;
	if ((r = base_directory(base_dir, origin, &base, diag)))
		return r;
	c = st_config_new();
	if (!c || !(c->path = strdup(origin))) {
		r = oom(origin, diag);
		goto out;
	}
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
	/* No document, or a lone "---", is an empty config: all defaults. */
	if (root && !is_null(root)) {
		loader L = {.origin = origin, .base = base, .diag = diag, .doc = &doc};
		char qb[QBUF + 2];
		if (root->type != YAML_MAPPING_NODE) {
			r = fail(&L, root,
				 "the config must be a mapping at the top level, found %s",
				 found(root, qb));
			goto out;
		}
		if ((r = load_map(&L, root, &root_table, "", c, 0)))
			goto out;
	}
	*ret = c;
	c = NULL;
out:
	if (have_doc)
		yaml_document_delete(&doc);
	if (have_parser)
		yaml_parser_delete(&parser);
	st_config_free(c);
	free(base);
	return r;
}

int st_config_load(const char *path, st_config **ret, st_diag *diag)
{
	char *buf = NULL, *dir = NULL;
	size_t len = 0;
	int r;

	if (!path || !ret)
		return st_diag_set(diag, -EINVAL, "config: invalid arguments");
	FILE *f = fopen(path, "rbe");
	if (!f) {
		int e = errno;
		return st_diag_set(diag, ST_E_IO, "%s: cannot open: %s", path, strerror(e));
	}
	/* One byte more than the limit tells an oversized file apart. */
	buf = malloc(MAX_TEXT + 1);
	if (!buf) {
		r = oom(path, diag);
		goto out;
	}
	while (len <= MAX_TEXT) {
		size_t got = fread(buf + len, 1, MAX_TEXT + 1 - len, f);
		len += got;
		if (got == 0)
			break;
	}
	if (ferror(f)) {
		int e = errno ? errno : EIO;
		r = st_diag_set(diag, ST_E_IO, "%s: cannot read: %s", path, strerror(e));
		goto out;
	}
	if (len > MAX_TEXT) {
		r = st_diag_set(diag, ST_E_INVALID,
				"%s: the config is larger than 1 MiB (%zu bytes); refusing it",
				path, MAX_TEXT);
		goto out;
	}
	const char *slash = strrchr(path, '/');
	if (slash) {
		dir = strndup(path, slash == path ? 1 : (size_t)(slash - path));
		if (!dir) {
			r = oom(path, diag);
			goto out;
		}
	}
	r = st_config_load_buffer(buf, len, path, dir, ret, diag);
out:
	free(dir);
	free(buf);
	fclose(f);
	return r;
}
