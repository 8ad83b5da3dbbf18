/*
 * test_config.c — unit tests for the config loader (src/config.c): a full
 * config with every key and every parsed field checked, the defaults, the
 * duration / listen / size parsers, path resolution, limits, one case per
 * kind of malformed config (each with its exact "origin:line:column:" and a
 * phrase of the message), the example in docs/examples/, and a check that
 * docs/config.md names every key the loader knows.
 *
 * Needs ST_SOURCE_ROOT (set by tests/meson.build) to find the docs.  Writes
 * only under a fresh mkdtemp() directory, which it removes.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "config.h"

#ifndef ST_SOURCE_ROOT
#error "ST_SOURCE_ROOT must name the source tree"
#endif

/* ---- helpers ------------------------------------------------------------ */

static st_config *load_text(const char *yaml, const char *base)
{
	st_config *c = NULL;
	st_diag d = {{0}};
	int r = st_config_load_buffer(yaml, strlen(yaml), "t.yaml", base, &c, &d);
	if (r)
		print_error("t.yaml: %s\n", d.msg);
	assert_int_equal(r, 0);
	assert_non_null(c);
	return c;
}

static void expect_error_len(const char *yaml, size_t len, const char *where, const char *phrase)
{
	st_config *c = NULL;
	st_diag d = {{0}};
	int r = st_config_load_buffer(yaml, len, "t.yaml", "/base", &c, &d);
	if (r != ST_E_INVALID || strncmp(d.msg, where, strlen(where)) != 0 ||
	    !strstr(d.msg, phrase))
		print_error("got %d \"%s\"; want \"%s...%s...\"\n", r, d.msg, where, phrase);
	assert_int_equal(r, ST_E_INVALID);
	assert_null(c);
	assert_memory_equal(d.msg, where, strlen(where));
	assert_non_null(strstr(d.msg, phrase));
}

static void expect_error(const char *yaml, const char *where, const char *phrase)
{
	expect_error_len(yaml, strlen(yaml), where, phrase);
}

static char *read_all(const char *path, size_t *ret_len)
{
	FILE *f = fopen(path, "rb");
	if (!f)
		print_error("%s: %s\n", path, strerror(errno));
	assert_non_null(f);
	size_t cap = 1 << 16, len = 0;
	char *buf = malloc(cap + 1);
	assert_non_null(buf);
	size_t got;
	while ((got = fread(buf + len, 1, cap - len, f)) > 0) {
		len += got;
		if (len == cap) {
			cap *= 2;
			buf = realloc(buf, cap + 1);
			assert_non_null(buf);
		}
	}
	fclose(f);
	buf[len] = '\0';
	*ret_len = len;
	return buf;
}

static void write_file(const char *path, const char *data, size_t len)
{
	FILE *f = fopen(path, "wb");
	assert_non_null(f);
	assert_int_equal(fwrite(data, 1, len, f), len);
	assert_int_equal(fclose(f), 0);
}

/* ---- a full config ------------------------------------------------------ */

static const char full_yaml[] =
	"store: var/estate.db\n"				      /* 1 */
	"cache: /var/cache/stacktwin/\n"			      /* 2 */
	"server:\n"						      /* 3 */
	"  listen: \"[::1]:9090\"\n"				      /* 4 */
	"  web: ./web/../web2\n"				      /* 5 */
	"  allow_anonymous_read: true\n"			      /* 6 */
	"  tokens:\n"						      /* 7 */
	"    - {name: ci, role: read, env: STACKTWIN_CI_TOKEN}\n"     /* 8 */
	"    - {name: ops, role: admin, file: secrets/admin.token}\n" /* 9 */
	"    - name: viewer\n"					      /* 10 */
	"      role: read\n"					      /* 11 */
	"      sha256: 9F86D081884C7D659A2FEAA0C55AD015a3bf4f1b2b0b822cd15d6c15b0f00a08\n"
	"  limits:\n"						/* 13 */
	"    max_connections: 100000\n"				/* 14 */
	"    max_header_bytes: 16KiB\n"				/* 15 */
	"    max_headers: 1\n"					/* 16 */
	"    max_body_bytes: 2097152\n"				/* 17 */
	"    header_timeout: 1500ms\n"				/* 18 */
	"    idle_timeout: 2m\n"				/* 19 */
	"    max_rows: 500\n"					/* 20 */
	"sources:\n"						/* 21 */
	"  - name: payments-repo\n"				/* 22 */
	"    kind: git\n"					/* 23 */
	"    location: https://github.com/acme/payments.git\n"	/* 24 */
	"    ref: main\n"					/* 25 */
	"    token_env: GITHUB_TOKEN\n"				/* 26 */
	"    schedule: 10m\n"					/* 27 */
	"    timeout: 1500ms\n"					/* 28 */
	"  - name: prod.state_1\n"				/* 29 */
	"    kind: terraform\n"					/* 30 */
	"    location: states//prod.tfstate\n"			/* 31 */
	"    token_file: /run/secrets/aws\n"			/* 32 */
	"    schedule: 2d\n"					/* 33 */
	"    options:\n"					/* 34 */
	"      workspace: prod\n"				/* 35 */
	"      region: eu-west-1\n"				/* 36 */
	"      retries: 3\n"					/* 37 */
	"      empty: \"\"\n"					/* 38 */
	"identity:\n"						/* 39 */
	"  default_rules: false\n"				/* 40 */
	"  strip_suffixes: [-prod, -svc]\n"			/* 41 */
	"  aliases:\n"						/* 42 */
	"    - {kind: service, alias: pay, name: payments}\n"	/* 43 */
	"    - {kind: team, alias: pay, name: payments-team}\n" /* 44 */
	"    - {kind: system, alias: shop, name: storefront}\n" /* 45 */
	"  rules:\n"						/* 46 */
	"    - {name: cost-center, source_kind: terraform, key: \"tag:costcenter\", kind: team}\n"
	"    - {name: sys, key: \"annotation:acme.io/system\", kind: system}\n"
	"    - {name: app-label, key: label:app, kind: service}\n"; /* 49 */

static void test_full(void **state)
{
	(void)state;
	st_config *c = load_text(full_yaml, "/srv/st/");
	assert_string_equal(c->path, "t.yaml");
	assert_string_equal(c->store, "/srv/st/var/estate.db");
	assert_string_equal(c->cache, "/var/cache/stacktwin");

	/* server */
	assert_string_equal(c->listen, "[::1]:9090");
	assert_string_equal(c->web, "/srv/st/web/../web2");
	assert_true(c->allow_anonymous_read);
	assert_int_equal(c->n_tokens, 3);
	const st_token_cfg *t = c->tokens;
	assert_string_equal(t[0].name, "ci");
	assert_int_equal(t[0].role, ST_ROLE_READ);
	assert_string_equal(t[0].env, "STACKTWIN_CI_TOKEN");
	assert_null(t[0].file);
	assert_false(t[0].has_sha256);
	assert_int_equal(t[0].line, 8);
	assert_string_equal(t[1].name, "ops");
	assert_int_equal(t[1].role, ST_ROLE_ADMIN);
	assert_null(t[1].env);
	assert_string_equal(t[1].file, "/srv/st/secrets/admin.token");
	assert_false(t[1].has_sha256);
	assert_int_equal(t[1].line, 9);
	assert_string_equal(t[2].name, "viewer");
	assert_int_equal(t[2].role, ST_ROLE_READ);
	assert_null(t[2].env);
	assert_null(t[2].file);
	assert_true(t[2].has_sha256);
	static const uint8_t sha[32] = {
		0x9f, 0x86, 0xd0, 0x81, 0x88, 0x4c, 0x7d, 0x65, 0x9a, 0x2f, 0xea,
		0xa0, 0xc5, 0x5a, 0xd0, 0x15, 0xa3, 0xbf, 0x4f, 0x1b, 0x2b, 0x0b,
		0x82, 0x2c, 0xd1, 0x5d, 0x6c, 0x15, 0xb0, 0xf0, 0x0a, 0x08,
	};
	assert_memory_equal(t[2].sha256, sha, 32);
	assert_int_equal(t[2].line, 10);

	/* limits */
	assert_int_equal(c->limits.max_connections, 100000);
	assert_int_equal(c->limits.max_header_bytes, 16384);
	assert_int_equal(c->limits.max_headers, 1);
	assert_int_equal(c->limits.max_body_bytes, 2097152);
	assert_int_equal(c->limits.header_timeout_ms, 1500);
	assert_int_equal(c->limits.idle_timeout_ms, 120000);
	assert_int_equal(c->limits.max_rows, 500);

	/* sources */
	assert_int_equal(c->n_sources, 2);
	const st_source_cfg *s = &c->sources[0];
	assert_string_equal(s->name, "payments-repo");
	assert_string_equal(s->kind, "git");
	assert_string_equal(s->location, "https://github.com/acme/payments.git");
	assert_string_equal(s->ref, "main");
	assert_string_equal(s->token_env, "GITHUB_TOKEN");
	assert_null(s->token_file);
	assert_int_equal(s->schedule_s, 600);
	assert_true(s->timeout_s == 1.5);
	assert_null(s->options);
	assert_int_equal(s->n_options, 0);
	assert_int_equal(s->line, 22);
	s = &c->sources[1];
	assert_string_equal(s->name, "prod.state_1");
	assert_string_equal(s->kind, "terraform");
	assert_string_equal(s->location, "/srv/st/states/prod.tfstate");
	assert_null(s->ref);
	assert_null(s->token_env);
	assert_string_equal(s->token_file, "/run/secrets/aws");
	assert_int_equal(s->schedule_s, 2 * 86400);
	assert_true(s->timeout_s == 0);
	assert_int_equal(s->n_options, 4);
	static const char *const opts[4][2] = {
		{"workspace", "prod"}, {"region", "eu-west-1"}, {"retries", "3"}, {"empty", ""}};
	for (size_t i = 0; i < 4; i++) {
		assert_string_equal(s->options[i].key, opts[i][0]);
		assert_string_equal(s->options[i].value, opts[i][1]);
	}
	assert_int_equal(s->line, 29);
	assert_ptr_equal(st_config_source(c, "prod.state_1"), s);
	assert_ptr_equal(st_config_source(c, "payments-repo"), &c->sources[0]);
	assert_null(st_config_source(c, "prod"));
	assert_null(st_config_source(c, NULL));
	assert_null(st_config_source(NULL, "prod.state_1"));

	/* identity */
	assert_false(c->default_rules);
	assert_true(c->strip_suffixes_set);
	assert_int_equal(c->n_strip_suffixes, 2);
	assert_string_equal(c->strip_suffixes[0], "-prod");
	assert_string_equal(c->strip_suffixes[1], "-svc");
	assert_int_equal(c->n_aliases, 3);
	assert_int_equal(c->aliases[0].kind, ST_HINT_SERVICE);
	assert_string_equal(c->aliases[0].alias, "pay");
	assert_string_equal(c->aliases[0].name, "payments");
	assert_int_equal(c->aliases[0].line, 43);
	assert_int_equal(c->aliases[1].kind, ST_HINT_TEAM);
	assert_string_equal(c->aliases[1].alias, "pay");
	assert_string_equal(c->aliases[1].name, "payments-team");
	assert_int_equal(c->aliases[2].kind, ST_HINT_SYSTEM);
	assert_string_equal(c->aliases[2].name, "storefront");
	assert_int_equal(c->aliases[2].line, 45);
	assert_int_equal(c->n_rules, 3);
	assert_string_equal(c->rules[0].name, "cost-center");
	assert_string_equal(c->rules[0].source_kind, "terraform");
	assert_string_equal(c->rules[0].key, "tag:costcenter");
	assert_int_equal(c->rules[0].kind, ST_HINT_TEAM);
	assert_int_equal(c->rules[0].line, 47);
	assert_string_equal(c->rules[1].name, "sys");
	assert_null(c->rules[1].source_kind);
	assert_string_equal(c->rules[1].key, "annotation:acme.io/system");
	assert_int_equal(c->rules[1].kind, ST_HINT_SYSTEM);
	assert_string_equal(c->rules[2].key, "label:app");
	assert_int_equal(c->rules[2].kind, ST_HINT_SERVICE);
	assert_int_equal(c->rules[2].line, 49);
	st_config_free(c);
}

/* ---- defaults ----------------------------------------------------------- */

static void assert_defaults(const st_config *c)
{
	assert_null(c->store);
	assert_null(c->cache);
	assert_null(c->listen);
	assert_null(c->web);
	assert_false(c->allow_anonymous_read);
	assert_null(c->tokens);
	assert_int_equal(c->n_tokens, 0);
	assert_int_equal(c->limits.max_connections, 0);
	assert_int_equal(c->limits.max_header_bytes, 0);
	assert_int_equal(c->limits.max_headers, 0);
	assert_int_equal(c->limits.max_body_bytes, 0);
	assert_int_equal(c->limits.header_timeout_ms, 0);
	assert_int_equal(c->limits.idle_timeout_ms, 0);
	assert_int_equal(c->limits.max_rows, 0);
	assert_null(c->sources);
	assert_int_equal(c->n_sources, 0);
	assert_null(c->strip_suffixes);
	assert_int_equal(c->n_strip_suffixes, 0);
	assert_false(c->strip_suffixes_set);
	assert_null(c->aliases);
	assert_int_equal(c->n_aliases, 0);
	assert_null(c->rules);
	assert_int_equal(c->n_rules, 0);
	assert_true(c->default_rules);
}

static void test_defaults(void **state)
{
	(void)state;
	st_config *c = st_config_new();
	assert_non_null(c);
	assert_null(c->path);
	assert_defaults(c);
	st_config_free(c);
	st_config_free(NULL);

	/* An empty file, comments only, a lone "---", a null document and
	 * empty sections are all defaults. */
	static const char *const empty[] = {
		"",
		"# nothing here\n\n",
		"---\n",
		"--- ~\n",
		"server: {}\nidentity: {}\n",
		"sources: []\nserver: {tokens: [], limits: {}}\n",
	};
	for (size_t i = 0; i < ST_ARRAY_LEN(empty); i++) {
		c = load_text(empty[i], "/x");
		assert_string_equal(c->path, "t.yaml");
		assert_defaults(c);
		st_config_free(c);
	}

	/* NULL buffer with length 0 is an empty config too. */
	st_diag d = {{0}};
	c = NULL;
	assert_int_equal(st_config_load_buffer(NULL, 0, NULL, NULL, &c, &d), 0);
	assert_string_equal(c->path, "(config)");
	assert_defaults(c);
	st_config_free(c);
	assert_int_equal(st_config_load_buffer(NULL, 3, "x", NULL, &c, &d), -EINVAL);
	assert_int_equal(st_config_load_buffer("", 0, "x", NULL, NULL, &d), -EINVAL);

	/* An explicitly empty suffix list is not the built-in one. */
	c = load_text("identity: {strip_suffixes: []}\n", "/x");
	assert_true(c->strip_suffixes_set);
	assert_int_equal(c->n_strip_suffixes, 0);
	st_config_free(c);
	size_t n = 0;
	while (st_config_default_strip_suffixes[n])
		n++;
	assert_true(n >= 3);
	assert_string_equal(st_config_default_strip_suffixes[0], "-production");
}

/* ---- parsers ------------------------------------------------------------ */

static void test_duration(void **state)
{
	(void)state;
	static const struct {
		const char *s;
		uint64_t ms;
	} good[] = {
		{"0", 0},
		{"1", 1000},
		{"90", 90000},
		{"500ms", 500},
		{"0ms", 0},
		{"90s", 90000},
		{"10m", 600000},
		{"1h", 3600000},
		{"2d", 172800000},
		{"007s", 7000},
		{"18446744073709551615ms", UINT64_MAX},
		{"18446744073709551s", UINT64_C(18446744073709551000)},
		{"213503982334d", UINT64_C(213503982334) * 86400000},
	};
	for (size_t i = 0; i < ST_ARRAY_LEN(good); i++) {
		uint64_t ms = 12345;
		int r = st_duration_parse(good[i].s, &ms);
		if (r || ms != good[i].ms)
			print_error("'%s' -> %d %llu\n", good[i].s, r, (unsigned long long)ms);
		assert_int_equal(r, 0);
		assert_true(ms == good[i].ms);
	}
	static const char *const bad[] = {
		"",
		"s",
		"ms",
		"-1",
		"+1",
		"1.5s",
		"1 s",
		" 1s",
		"1s ",
		"10M",
		"1H",
		"1w",
		"1y",
		"1sec",
		"1hh",
		"1h30m",
		"0x10",
		"1e3",
		"18446744073709551616",
		"18446744073709551616ms",
		"18446744073709552s",
		"213503982335d",
		"99999999999999999999999h",
	};
	for (size_t i = 0; i < ST_ARRAY_LEN(bad); i++) {
		uint64_t ms = 777;
		int r = st_duration_parse(bad[i], &ms);
		if (r != ST_E_INVALID)
			print_error("'%s' accepted as %llu\n", bad[i], (unsigned long long)ms);
		assert_int_equal(r, ST_E_INVALID);
		assert_int_equal(ms, 777); /* untouched */
	}
	uint64_t ms = 0;
	assert_int_equal(st_duration_parse(NULL, &ms), ST_E_INVALID);
	assert_int_equal(st_duration_parse("1s", NULL), ST_E_INVALID);
}

static void test_listen(void **state)
{
	(void)state;
	static const struct {
		const char *s, *host;
		uint16_t port;
	} good[] = {
		{"127.0.0.1:8080", "127.0.0.1", 8080}, {"0.0.0.0:0", "0.0.0.0", 0},
		{"[::1]:65535", "::1", 65535},	       {"[::]:80", "::", 80},
		{"localhost:1", "127.0.0.1", 1},       {"10.1.2.3:00443", "10.1.2.3", 443},
		{"[fe80::1:2]:9", "fe80::1:2", 9},
	};
	for (size_t i = 0; i < ST_ARRAY_LEN(good); i++) {
		char host[ST_LISTEN_HOST_MAX];
		uint16_t port = 1234;
		int r = st_listen_parse(good[i].s, host, &port);
		if (r)
			print_error("'%s' rejected\n", good[i].s);
		assert_int_equal(r, 0);
		assert_string_equal(host, good[i].host);
		assert_int_equal(port, good[i].port);
	}
	static const char *const bad[] = {
		"",
		"8080",
		":8080",
		"127.0.0.1",
		"127.0.0.1:",
		"127.0.0.1:65536",
		"127.0.0.1:-1",
		"127.0.0.1:+80",
		"127.0.0.1:80a",
		"127.0.0.1:000080",
		"256.0.0.1:80",
		"1.2.3:80",
		"::1:80",
		"[::1]80",
		"[::1:80",
		"[127.0.0.1]:80",
		"example.com:80",
		"Localhost:80",
		"[]:80",
		" 127.0.0.1:80",
		"[fe80::1%eth0]:80",
	};
	for (size_t i = 0; i < ST_ARRAY_LEN(bad); i++) {
		char host[ST_LISTEN_HOST_MAX] = "untouched";
		uint16_t port = 4321;
		int r = st_listen_parse(bad[i], host, &port);
		if (r != ST_E_INVALID)
			print_error("'%s' accepted\n", bad[i]);
		assert_int_equal(r, ST_E_INVALID);
		assert_string_equal(host, "untouched");
		assert_int_equal(port, 4321);
	}
	char host[ST_LISTEN_HOST_MAX];
	uint16_t port;
	assert_int_equal(st_listen_parse(NULL, host, &port), ST_E_INVALID);
}

static void test_sizes_and_bounds(void **state)
{
	(void)state;
	/* Lower and upper ends of every limit are accepted ... */
	st_config *c = load_text("server:\n  limits:\n"
				 "    max_connections: 1\n"
				 "    max_header_bytes: 1KiB\n"
				 "    max_headers: 1000\n"
				 "    max_body_bytes: 1GiB\n"
				 "    header_timeout: 100ms\n"
				 "    idle_timeout: 1h\n"
				 "    max_rows: 1000000\n",
				 "/x");
	assert_int_equal(c->limits.max_connections, 1);
	assert_int_equal(c->limits.max_header_bytes, 1024);
	assert_int_equal(c->limits.max_headers, 1000);
	assert_int_equal(c->limits.max_body_bytes, UINT64_C(1) << 30);
	assert_int_equal(c->limits.header_timeout_ms, 100);
	assert_int_equal(c->limits.idle_timeout_ms, 3600000);
	assert_int_equal(c->limits.max_rows, 1000000);
	st_config_free(c);
	c = load_text("server:\n  limits: {max_header_bytes: 1MiB, max_body_bytes: 1, "
		      "header_timeout: 3600, idle_timeout: 1}\n",
		      "/x");
	assert_int_equal(c->limits.max_header_bytes, 1 << 20);
	assert_int_equal(c->limits.max_body_bytes, 1);
	assert_int_equal(c->limits.header_timeout_ms, 3600000);
	assert_int_equal(c->limits.idle_timeout_ms, 1000);
	st_config_free(c);
	/* ... one past them is not (the cases below name the ranges). */
	expect_error("server: {limits: {max_header_bytes: 1023}}\n",
		     "t.yaml:1:37: ", "(allowed 1KiB..1MiB)");
	expect_error("server: {limits: {max_header_bytes: 1049601}}\n",
		     "t.yaml:1:37: ", "out of range: 1049601");
	expect_error("server: {limits: {max_headers: 1001}}\n",
		     "t.yaml:1:32: ", "(allowed 1..1000)");
	expect_error("server: {limits: {max_rows: 1000001}}\n",
		     "t.yaml:1:29: ", "(allowed 1..1000000)");
	expect_error("server: {limits: {idle_timeout: 3601s}}\n",
		     "t.yaml:1:33: ", "(allowed 100ms..1h)");
	/* names: one character, all allowed characters, exactly 64 bytes */
	c = load_text("sources:\n"
		      "  - {name: \"0\", kind: git, location: x}\n"
		      "  - {name: a.b_c-d9, kind: git, location: x}\n"
		      "  - {name: a123456789012345678901234567890123456789012345678901234567890123,"
		      " kind: git, location: x}\n",
		      "/x");
	assert_string_equal(c->sources[0].name, "0");
	assert_string_equal(c->sources[1].name, "a.b_c-d9");
	assert_int_equal(strlen(c->sources[2].name), 64);
	st_config_free(c);
	/* schedule 0 means on demand; a year is the longest */
	c = load_text("sources:\n"
		      "  - {name: a, kind: git, location: x, schedule: 0}\n"
		      "  - {name: b, kind: git, location: x, schedule: 365d, timeout: 100ms}\n",
		      "/x");
	assert_int_equal(c->sources[0].schedule_s, 0);
	assert_int_equal(c->sources[1].schedule_s, 365 * 86400);
	assert_true(c->sources[1].timeout_s == 0.1);
	st_config_free(c);
}

static void test_paths(void **state)
{
	(void)state;
	static const struct {
		const char *base, *in, *out;
	} cases[] = {
		{"/srv", "a", "/srv/a"},
		{"/srv/", "./a//b/./c/", "/srv/a/b/c"},
		{"/srv", "../x", "/srv/../x"},
		{"/srv", ".", "/srv"},
		{"/", "a", "/a"},
		{"/srv//st/.", "a", "/srv/st/a"},
		{"/srv", "/abs/./p/", "/abs/p"},
		{"/srv", "//", "/"},
	};
	for (size_t i = 0; i < ST_ARRAY_LEN(cases); i++) {
		char yaml[256];
		snprintf(yaml, sizeof(yaml), "store: \"%s\"\n", cases[i].in);
		st_config *c = load_text(yaml, cases[i].base);
		if (strcmp(c->store, cases[i].out))
			print_error("%s + %s -> %s\n", cases[i].base, cases[i].in, c->store);
		assert_string_equal(c->store, cases[i].out);
		st_config_free(c);
	}

	/* Locations with "://" are URLs and kept; anything else is a path. */
	st_config *c = load_text("sources:\n"
				 "  - {name: a, kind: git, location: \"ssh://git@host/x.git\"}\n"
				 "  - {name: b, kind: git, location: \"git@host:x.git\"}\n"
				 "  - {name: c, kind: terraform, location: \"s3://b/k/./x\"}\n",
				 "/cfg");
	assert_string_equal(c->sources[0].location, "ssh://git@host/x.git");
	assert_string_equal(c->sources[1].location, "/cfg/git@host:x.git");
	assert_string_equal(c->sources[2].location, "s3://b/k/./x");
	st_config_free(c);

	/* No base directory: the current one; a relative one: under it. */
	char *cwd = getcwd(NULL, 0);
	assert_non_null(cwd);
	const char *cw = cwd && strcmp(cwd, "/") ? cwd : ""; /* "/" + "/db" is "//db" */
	char want[4096];
	c = load_text("store: db\n", NULL);
	snprintf(want, sizeof(want), "%s/db", cw);
	assert_string_equal(c->store, want);
	st_config_free(c);
	c = load_text("store: db\n", "etc/st");
	snprintf(want, sizeof(want), "%s/etc/st/db", cw);
	assert_string_equal(c->store, want);
	st_config_free(c);
	free(cwd);

	/* Environment variables are not expanded. */
	setenv("ST_TEST_DIR", "/expanded", 1);
	c = load_text("store: ${ST_TEST_DIR}/db\nserver: {web: $ST_TEST_DIR}\n", "/b");
	assert_string_equal(c->store, "/b/${ST_TEST_DIR}/db");
	assert_string_equal(c->web, "/b/$ST_TEST_DIR");
	st_config_free(c);
	unsetenv("ST_TEST_DIR");
}

static void test_yaml_forms(void **state)
{
	(void)state;
	/* Block and flow styles, anchors and aliases, single- and double-quoted
	 * strings, and an unquoted "tag:x" inside a flow mapping all load;
	 * option values keep the text as written. */
	st_config *c = load_text("cache: &dir /data\n"
				 "store: *dir\n"
				 "sources:\n"
				 "  - {name: a, kind: git, location: x, schedule: 1h}\n"
				 "  - {name: b, kind: 'terraform', location: \"y\",\n"
				 "     options: {n: 1.50, t: true, q: 'it''s', e: \"\\u00e9\"}}\n"
				 "identity:\n"
				 "  strip_suffixes: [\"-a\", '-b', -c]\n"
				 "  rules:\n"
				 "    - {name: r, key: tag:cost, kind: team}\n",
				 "/x");
	assert_string_equal(c->cache, "/data");
	assert_string_equal(c->store, "/data");
	assert_string_equal(c->sources[1].kind, "terraform");
	assert_string_equal(c->sources[1].location, "/x/y");
	assert_int_equal(c->sources[1].n_options, 4);
	assert_string_equal(c->sources[1].options[0].value, "1.50");
	assert_string_equal(c->sources[1].options[1].value, "true");
	assert_string_equal(c->sources[1].options[2].value, "it's");
	assert_string_equal(c->sources[1].options[3].value, "\xc3\xa9");
	assert_int_equal(c->n_strip_suffixes, 3);
	assert_string_equal(c->strip_suffixes[2], "-c");
	assert_string_equal(c->rules[0].key, "tag:cost");
	st_config_free(c);
}

/* ---- loading files ------------------------------------------------------ */

static void test_load_file(void **state)
{
	(void)state;
	char dir[] = "/tmp/st-config-XXXXXX";
	assert_non_null(mkdtemp(dir));
	char path[256], sub[256];
	snprintf(sub, sizeof(sub), "%s/etc", dir);
	assert_int_equal(mkdir(sub, 0700), 0);
	snprintf(path, sizeof(path), "%s/etc/stacktwin.yaml", dir);
	const char *yaml = "store: ../var/db\nsources:\n  - {name: a, kind: git, location: r}\n";
	write_file(path, yaml, strlen(yaml));

	st_config *c = NULL;
	st_diag d = {{0}};
	assert_int_equal(st_config_load(path, &c, &d), 0);
	char want[512];
	assert_string_equal(c->path, path);
	snprintf(want, sizeof(want), "%s/etc/../var/db", dir);
	assert_string_equal(c->store, want);
	snprintf(want, sizeof(want), "%s/etc/r", dir);
	assert_string_equal(c->sources[0].location, want);
	st_config_free(c);

	/* An error names the file as given. */
	const char *bad = "store: a\nsources: 3\n";
	write_file(path, bad, strlen(bad));
	c = NULL;
	assert_int_equal(st_config_load(path, &c, &d), ST_E_INVALID);
	assert_null(c);
	snprintf(want, sizeof(want), "%s:2:10: expected a sequence for 'sources'", path);
	assert_memory_equal(d.msg, want, strlen(want));

	/* Missing: ST_E_IO with the path and the system's reason. */
	snprintf(path, sizeof(path), "%s/none.yaml", dir);
	assert_int_equal(st_config_load(path, &c, &d), ST_E_IO);
	assert_null(c);
	assert_non_null(strstr(d.msg, path));
	assert_non_null(strstr(d.msg, strerror(ENOENT)));

	/* A directory cannot be read. */
	assert_int_equal(st_config_load(sub, &c, &d), ST_E_IO);
	assert_non_null(strstr(d.msg, sub));

	/* Exactly 1 MiB loads (comments), one byte more is refused. */
	size_t big = (size_t)1 << 20;
	char *text = malloc(big + 1);
	assert_non_null(text);
	memset(text, '#', big + 1);
	text[big - 1] = '\n';
	snprintf(path, sizeof(path), "%s/big.yaml", dir);
	write_file(path, text, big);
	assert_int_equal(st_config_load(path, &c, &d), 0);
	assert_defaults(c);
	st_config_free(c);
	c = NULL;
	text[big] = '\n';
	write_file(path, text, big + 1);
	assert_int_equal(st_config_load(path, &c, &d), ST_E_INVALID);
	assert_null(c);
	assert_non_null(strstr(d.msg, "larger than 1 MiB"));
	assert_int_equal(st_config_load_buffer(text, big + 1, "m.yaml", "/", &c, &d), ST_E_INVALID);
	assert_non_null(strstr(d.msg, "m.yaml: the config is larger than 1 MiB"));
	free(text);

	assert_int_equal(st_config_load(NULL, &c, &d), -EINVAL);
	assert_int_equal(unlink(path), 0);
	snprintf(path, sizeof(path), "%s/etc/stacktwin.yaml", dir);
	assert_int_equal(unlink(path), 0);
	assert_int_equal(rmdir(sub), 0);
	assert_int_equal(rmdir(dir), 0);
}

static void test_example_file(void **state)
{
	(void)state;
	st_config *c = NULL;
	st_diag d = {{0}};
	int r = st_config_load(ST_SOURCE_ROOT "/docs/examples/stacktwin.yaml", &c, &d);
	if (r)
		print_error("%s\n", d.msg);
	assert_int_equal(r, 0);
	const char *dir = ST_SOURCE_ROOT "/docs/examples";
	char want[4096];
	/* ST_SOURCE_ROOT is absolute, so paths are under it */
	snprintf(want, sizeof(want), "%s/var/estate.db", dir);
	assert_string_equal(c->store, want);
	assert_string_equal(c->listen, "127.0.0.1:8080");
	assert_int_equal(c->n_tokens, 3);
	assert_int_equal(c->tokens[1].role, ST_ROLE_ADMIN);
	assert_true(c->tokens[2].has_sha256);
	assert_int_equal(c->tokens[2].sha256[0], 0x9f);
	assert_int_equal(c->limits.max_header_bytes, 8192);
	assert_int_equal(c->limits.max_body_bytes, 1 << 20);
	assert_true(c->n_sources >= 2);
	bool git = false, tf = false;
	for (size_t i = 0; i < c->n_sources; i++) {
		git |= !strcmp(c->sources[i].kind, "git");
		tf |= !strcmp(c->sources[i].kind, "terraform");
	}
	assert_true(git && tf);
	const st_source_cfg *s = st_config_source(c, "prod-state");
	assert_non_null(s);
	snprintf(want, sizeof(want), "%s/states/prod.tfstate", dir);
	assert_string_equal(s->location, want);
	assert_int_equal(s->schedule_s, 3600);
	assert_int_equal(s->n_options, 1);
	assert_string_equal(s->options[0].value, "prod");
	assert_true(c->strip_suffixes_set);
	assert_true(c->n_aliases >= 1);
	assert_true(c->n_rules >= 1);
	st_config_free(c);
}

/* ---- docs --------------------------------------------------------------- */

static void test_key_paths(void **state)
{
	(void)state;
	char buf[128];
	assert_string_equal(st_config_key_path(0, buf, sizeof(buf)), "store");
	bool rows = false, options = false, sha = false;
	size_t n = 0;
	while (st_config_key_path(n, buf, sizeof(buf))) {
		rows |= !strcmp(buf, "server.limits.max_rows");
		options |= !strcmp(buf, "sources[].options");
		sha |= !strcmp(buf, "server.tokens[].sha256");
		n++;
	}
	assert_true(rows && options && sha);
	/* 5 top-level, 5 server, 5 token, 7 limits, 9 source, 4 identity,
	 * 3 alias, 4 rule keys */
	assert_int_equal(n, 42);
	assert_null(st_config_key_path(n, buf, sizeof(buf)));
	assert_null(st_config_key_path(0, buf, 0));
}

static void test_docs_mention_all_keys(void **state)
{
	(void)state;
	size_t len;
	char *doc = read_all(ST_SOURCE_ROOT "/docs/config.md", &len);
	assert_true(len > 0);
	char path[128], quoted[132];
	size_t n = 0;
	for (; st_config_key_path(n, path, sizeof(path)); n++) {
		snprintf(quoted, sizeof(quoted), "`%s`", path);
		if (!strstr(doc, quoted))
			print_error("docs/config.md does not mention %s\n", quoted);
		assert_non_null(strstr(doc, quoted));
	}
	assert_true(n > 30);
	for (size_t i = 0; st_config_default_strip_suffixes[i]; i++) {
		snprintf(quoted, sizeof(quoted), "`%s`", st_config_default_strip_suffixes[i]);
		if (!strstr(doc, quoted))
			print_error("docs/config.md does not list suffix %s\n", quoted);
		assert_non_null(strstr(doc, quoted));
	}
	assert_null(strstr(doc, "`server.no_such_key`"));
	free(doc);
}

/* ---- malformed configs -------------------------------------------------- */

typedef struct bad_case {
	const char *name, *yaml, *where, *phrase;
} bad_case;

#define SRC(extra) "sources:\n  - name: a\n    kind: git\n    location: x\n" extra
#define TOK(body) "server:\n  tokens:\n    - {" body "}\n"

static const bad_case bad_cases[] = {
	/* unknown keys, with suggestions, at every depth */
	{"unknown top-level key", "stor: x\n", "t.yaml:1:1: ",
	 "unknown key 'stor' in the top-level mapping (known: store, cache, server, sources, "
	 "identity); did you mean 'store'?"},
	{"unknown key, no suggestion", "server:\n  port: 80\n", "t.yaml:2:3: ",
	 "unknown key 'port' in server (known: listen, web, allow_anonymous_read, tokens, "
	 "limits)"},
	{"unknown limits key", "server:\n  limits:\n    max_connection: 5\n",
	 "t.yaml:3:5: ", "unknown key 'max_connection' in server.limits (known: max_connections, "},
	{"unknown source key", SRC("    shedule: 1h\n"), "t.yaml:5:5: ",
	 "unknown key 'shedule' in sources[0] (known: name, kind, location, ref, token_env, "
	 "token_file, schedule, timeout, options); did you mean 'schedule'?"},
	{"unknown identity key", "identity:\n  strip_suffix: []\n",
	 "t.yaml:2:3: ", "did you mean 'strip_suffixes'?"},
	{"unknown rule key",
	 "identity:\n  rules:\n    - {name: r, key: tag:x, kind: team, "
	 "soruce_kind: git}\n",
	 "t.yaml:3:41: ", "unknown key 'soruce_kind' in identity.rules[0]"},
	{"unknown token key", TOK("name: a, role: read, envv: X"),
	 "t.yaml:3:29: ", "unknown key 'envv' in server.tokens[0]"},
	{"non-scalar key", "? [a]\n: b\n",
	 "t.yaml:1:3: ", "expected a key name in the top-level mapping, found a sequence"},

	/* wrong types */
	{"string is a sequence", "store: [a, b]\n", "t.yaml:1:8: ",
	 "expected a string for 'store' in the top-level mapping, found a sequence"},
	{"string is null", "store:\ncache: x\n",
	 "t.yaml:1:7: ", "expected a string for 'store' in the top-level mapping, found null"},
	{"string is empty", "store: \"\"\n",
	 "t.yaml:1:8: ", "'store' in the top-level mapping must not be empty"},
	{"string has a control character", "store: \"a\\tb\"\n",
	 "t.yaml:1:8: ", "contains a control character"},
	{"string has a NUL", "cache: \"a\\0b\"\n", "t.yaml:1:8: ", "contains a control character"},
	{"number is a word", "server:\n  limits: {max_connections: lots}\n",
	 "t.yaml:2:29: ", "expected a number for 'max_connections' in server.limits, found 'lots'"},
	{"number is negative", "server:\n  limits: {max_rows: -1}\n",
	 "t.yaml:2:22: ", "expected a number for 'max_rows' in server.limits, found '-1'"},
	{"number is quoted", "server:\n  limits: {max_headers: \"64\"}\n", "t.yaml:2:25: ",
	 "expected a number for 'max_headers' in server.limits, found a quoted string"},
	{"number overflows", "server:\n  limits: {max_connections: 99999999999999999999999}\n",
	 "t.yaml:2:29: ", "out of range: 99999999999999999999999 (allowed 1..100000)"},
	{"bool is yes", "server:\n  allow_anonymous_read: yes\n", "t.yaml:2:25: ",
	 "expected true or false for 'allow_anonymous_read' in server, found 'yes'"},
	{"bool is quoted", "identity: {default_rules: \"true\"}\n", "t.yaml:1:27: ",
	 "expected true or false for 'default_rules' in identity, found a quoted string"},
	{"section is a scalar", "server: 5\n",
	 "t.yaml:1:9: ", "expected a mapping for 'server' in the top-level mapping, found '5'"},
	{"limits is a sequence", "server: {limits: [1]}\n",
	 "t.yaml:1:18: ", "expected a mapping for 'limits' in server, found a sequence"},
	{"sources is a mapping", "sources: {name: a}\n", "t.yaml:1:10: ",
	 "expected a sequence for 'sources' in the top-level mapping, found a mapping"},
	{"tokens is null", "server:\n  tokens:\n",
	 "t.yaml:2:10: ", "expected a sequence for 'tokens' in server, found null"},
	{"source is a scalar", "sources:\n  - a\n",
	 "t.yaml:2:5: ", "expected a mapping for sources[0], found 'a'"},
	{"suffixes not a list", "identity: {strip_suffixes: -prod}\n",
	 "t.yaml:1:28: ", "expected a list of strings for 'strip_suffixes' in identity"},
	{"suffix is a mapping", "identity: {strip_suffixes: [-a, {b: c}]}\n",
	 "t.yaml:1:33: ", "expected a string for 'strip_suffixes' in identity, found a mapping"},
	{"options is a list", SRC("    options: [a]\n"),
	 "t.yaml:5:14: ", "expected a mapping for 'options' in sources[0], found a sequence"},
	{"option value not a scalar", SRC("    options: {a: 1, b: [1]}\n"),
	 "t.yaml:5:24: ", "expected a scalar value for option 'b' in sources[0].options"},
	{"option value null", SRC("    options: {a: }\n"), "t.yaml:5:18: ",
	 "expected a scalar value for option 'a' in sources[0].options (option values are "
	 "strings or numbers), found null"},
	{"option name invalid", SRC("    options: {\"a b\": 1}\n"),
	 "t.yaml:5:15: ", "invalid option name 'a b' in sources[0].options"},
	{"duplicate option", SRC("    options:\n      a: 1\n      a: 2\n"),
	 "t.yaml:7:7: ", "duplicate option 'a' in sources[0].options"},

	/* duplicates */
	{"duplicate top-level key", "store: a\nstore: b\n",
	 "t.yaml:2:1: ", "duplicate key 'store' in the top-level mapping (first at line 1)"},
	{"duplicate nested key", "server:\n  listen: 127.0.0.1:1\n  listen: 127.0.0.1:2\n",
	 "t.yaml:3:3: ", "duplicate key 'listen' in server (first at line 2)"},
	{"duplicate section", "server: {}\nidentity: {}\nserver: {}\n",
	 "t.yaml:3:1: ", "duplicate key 'server'"},
	{"duplicate source name",
	 "sources:\n  - {name: a, kind: git, location: x}\n  - {name: a, kind: git, location: y}\n",
	 "t.yaml:3:12: ", "duplicate source name 'a' in sources[1] (first at line 2)"},
	{"duplicate token name",
	 "server:\n  tokens:\n    - {name: ci, role: read, env: A}\n"
	 "    - {name: ci, role: admin, env: B}\n",
	 "t.yaml:4:14: ", "duplicate token name 'ci' in server.tokens[1] (first at line 3)"},
	{"duplicate alias",
	 "identity:\n  aliases:\n    - {kind: team, alias: p, name: a}\n"
	 "    - {kind: team, alias: p, name: b}\n",
	 "t.yaml:4:27: ", "duplicate alias 'p' of kind team in identity.aliases[1]"},
	{"duplicate rule name",
	 "identity:\n  rules:\n    - {name: r, key: tag:a, kind: team}\n"
	 "    - {name: r, key: tag:b, kind: team}\n",
	 "t.yaml:4:14: ", "duplicate rule name 'r' in identity.rules[1]"},
	{"duplicate suffix", "identity: {strip_suffixes: [-a, -b, -a]}\n",
	 "t.yaml:1:37: ", "duplicate suffix '-a' in 'strip_suffixes' in identity"},

	/* sources */
	{"source name upper case", "sources:\n  - {name: Pay, kind: git, location: x}\n",
	 "t.yaml:2:12: ",
	 "invalid name 'Pay' for 'name' in sources[0] (expected [a-z0-9][a-z0-9._-]*, at most 64 "
	 "bytes)"},
	{"source name leading dot", "sources:\n  - {name: .a, kind: git, location: x}\n",
	 "t.yaml:2:12: ", "invalid name '.a'"},
	{"source name too long",
	 "sources:\n  - {name: a1234567890123456789012345678901234567890123456789012345678901234, "
	 "kind: git, location: x}\n",
	 "t.yaml:2:12: ", "at most 64 bytes"},
	{"unknown source kind", "sources:\n  - {name: a, kind: gti, location: x}\n",
	 "t.yaml:2:21: ",
	 "unknown source kind 'gti' for 'kind' in sources[0] (known: git, terraform, k8s, "
	 "prometheus, focus, cur, gcp-billing); did you mean 'git'?"},
	{"missing kind", "sources:\n  - {name: a, location: x}\n",
	 "t.yaml:2:5: ", "missing required key 'kind' in sources[0]"},
	{"missing location", "sources:\n  - name: a\n    kind: git\n",
	 "t.yaml:2:5: ", "missing required key 'location' in sources[0]"},
	{"token_env and token_file", SRC("    token_env: T\n    token_file: f\n"), "t.yaml:6:17: ",
	 "source 'a' in sources[0] has both 'token_env' and 'token_file': give at most one"},
	{"bad token_env name", SRC("    token_env: GITHUB-TOKEN\n"), "t.yaml:5:16: ",
	 "invalid environment variable name 'GITHUB-TOKEN' for 'token_env' in sources[0]"},
	{"schedule not whole seconds", SRC("    schedule: 1500ms\n"),
	 "t.yaml:5:15: ", "'schedule' in sources[0] must be a whole number of seconds"},
	{"schedule over a year", SRC("    schedule: 366d\n"),
	 "t.yaml:5:15: ", "out of range: 366d (allowed 0..365d)"},
	{"schedule words", SRC("    schedule: hourly\n"),
	 "t.yaml:5:15: ", "expected a duration for 'schedule' in sources[0]"},
	{"timeout too short", SRC("    timeout: 10ms\n"),
	 "t.yaml:5:14: ", "'timeout' in sources[0] is out of range: 10ms (allowed 100ms..1h)"},
	{"too many sources? no: second source bad",
	 "sources:\n  - {name: a, kind: git, location: x}\n  - {name: b, kind: git}\n",
	 "t.yaml:3:5: ", "missing required key 'location' in sources[1]"},

	/* tokens */
	{"token with env and file", TOK("name: ci, role: read, env: A, file: f"), "t.yaml:3:44: ",
	 "token 'ci' in server.tokens[0] has both 'env' and 'file': give exactly one of env, "
	 "file or sha256"},
	{"token with file and sha256",
	 TOK("name: ci, role: read, sha256: "
	     "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08, file: f"),
	 "t.yaml:3:110: ", "has both 'file' and 'sha256'"},
	{"token without reference", TOK("name: ci, role: read"), "t.yaml:3:7: ",
	 "token 'ci' in server.tokens[0] has no reference: give exactly one of env, file or "
	 "sha256"},
	{"token without role", TOK("name: ci, env: X"),
	 "t.yaml:3:7: ", "missing required key 'role' in server.tokens[0]"},
	{"token without name", TOK("role: read, env: X"),
	 "t.yaml:3:7: ", "missing required key 'name' in server.tokens[0]"},
	{"bad role", TOK("name: ci, role: root, env: X"), "t.yaml:3:24: ",
	 "unknown value 'root' for 'role' in server.tokens[0] (known: read, admin)"},
	{"role typo", TOK("name: ci, role: admn, env: X"),
	 "t.yaml:3:24: ", "did you mean 'admin'?"},
	{"short sha256", TOK("name: ci, role: read, sha256: abc"),
	 "t.yaml:3:38: ", "invalid 'sha256' in server.tokens[0]: expected 64 hexadecimal digits"},
	{"non-hex sha256",
	 TOK("name: ci, role: read, sha256: "
	     "zz86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"),
	 "t.yaml:3:38: ", "the value (64 bytes) is not shown"},
	{"bad env name", TOK("name: ci, role: read, env: 1X"),
	 "t.yaml:3:35: ", "invalid environment variable name '1X' for 'env' in server.tokens[0]"},
	{"bad token name", TOK("name: CI, role: read, env: X"),
	 "t.yaml:3:14: ", "invalid name 'CI' for 'name' in server.tokens[0]"},

	/* server */
	{"listen hostname", "server:\n  listen: example.com:80\n", "t.yaml:2:11: ",
	 "invalid address 'example.com:80' for 'listen' in server (expected HOST:PORT"},
	{"listen port too big", "server: {listen: \"127.0.0.1:65536\"}\n",
	 "t.yaml:1:18: ", "invalid address '127.0.0.1:65536'"},
	{"listen v6 unbracketed", "server: {listen: \"::1:80\"}\n",
	 "t.yaml:1:18: ", "invalid address '::1:80'"},
	{"listen without port", "server: {listen: 127.0.0.1}\n",
	 "t.yaml:1:18: ", "invalid address '127.0.0.1'"},
	{"max_connections zero", "server:\n  limits:\n    max_connections: 0\n", "t.yaml:3:22: ",
	 "'max_connections' in server.limits is out of range: 0 (allowed 1..100000)"},
	{"max_connections too many", "server:\n  limits:\n    max_connections: 100001\n",
	 "t.yaml:3:22: ", "out of range: 100001 (allowed 1..100000)"},
	{"body size too big", "server: {limits: {max_body_bytes: 2GiB}}\n", "t.yaml:1:35: ",
	 "'max_body_bytes' in server.limits is out of range: 2GiB (allowed 1..1GiB)"},
	{"size with decimal suffix", "server: {limits: {max_header_bytes: 8KB}}\n", "t.yaml:1:37: ",
	 "expected a size for 'max_header_bytes' in server.limits (bytes, or a number with KiB, "
	 "MiB or GiB), found '8KB'"},
	{"duration with words", "server: {limits: {header_timeout: 10 minutes}}\n",
	 "t.yaml:1:35: ", "expected a duration for 'header_timeout' in server.limits"},
	{"duration too short", "server: {limits: {idle_timeout: 50ms}}\n",
	 "t.yaml:1:33: ", "out of range: 50ms (allowed 100ms..1h)"},

	/* identity */
	{"rule key without prefix", "identity:\n  rules:\n    - {name: r, key: team, kind: team}\n",
	 "t.yaml:3:22: ",
	 "invalid rule key 'team' for 'key' in identity.rules[0] (expected tag:NAME, label:NAME "
	 "or annotation:NAME)"},
	{"rule key empty name", "identity:\n  rules:\n    - {name: r, key: \"tag:\", kind: team}\n",
	 "t.yaml:3:22: ", "invalid rule key 'tag:'"},
	{"rule key unknown prefix",
	 "identity:\n  rules:\n    - {name: r, key: \"property:x\", kind: team}\n",
	 "t.yaml:3:22: ", "invalid rule key 'property:x'"},
	{"rule source_kind unknown",
	 "identity:\n  rules:\n    - {name: r, source_kind: kube, key: tag:x, kind: team}\n",
	 "t.yaml:3:30: ", "unknown source kind 'kube' for 'source_kind' in identity.rules[0]"},
	{"rule kind unknown", "identity:\n  rules:\n    - {name: r, key: tag:x, kind: owner}\n",
	 "t.yaml:3:35: ",
	 "unknown value 'owner' for 'kind' in identity.rules[0] (known: service, team, system)"},
	{"rule without key", "identity:\n  rules:\n    - {name: r, kind: team}\n",
	 "t.yaml:3:7: ", "missing required key 'key' in identity.rules[0]"},
	{"alias kind unknown", "identity:\n  aliases:\n    - {kind: group, alias: a, name: b}\n",
	 "t.yaml:3:14: ",
	 "unknown value 'group' for 'kind' in identity.aliases[0] (known: service, team, "
	 "system)"},
	{"alias without name", "identity:\n  aliases:\n    - {kind: team, alias: a}\n",
	 "t.yaml:3:7: ", "missing required key 'name' in identity.aliases[0]"},
	{"default_rules not bool", "identity:\n  default_rules: 1\n",
	 "t.yaml:2:18: ", "expected true or false for 'default_rules' in identity, found '1'"},

	/* the document */
	{"top level is a sequence", "- a\n- b\n",
	 "t.yaml:1:1: ", "the config must be a mapping at the top level, found a sequence"},
	{"top level is a scalar", "hello\n",
	 "t.yaml:1:1: ", "the config must be a mapping at the top level, found 'hello'"},
	{"two documents", "store: a\n---\nstore: b\n",
	 "t.yaml:2:1: ", "more than one YAML document"},
	{"syntax error: unclosed flow", "server: {listen: x\n",
	 "t.yaml:2:1: ", "YAML syntax error: did not find expected ',' or '}'"},
	{"syntax error: bad indentation", "server:\n  listen: a\n web: b\n",
	 "t.yaml:3:2: ", "YAML syntax error: "},
	{"syntax error: tab indentation", "server:\n\tlisten: a\n",
	 "t.yaml:2:1: ", "YAML syntax error: found character that cannot start any token"},
	{"undefined alias", "store: *nowhere\n",
	 "t.yaml:1:8: ", "YAML syntax error: found undefined alias"},
	{"nesting too deep", "store: [[[[[[[[[[[[[[[[[x]]]]]]]]]]]]]]]]]\n",
	 "t.yaml:1:23: ", "YAML nesting deeper than 16 levels"},
};

static void test_bad(void **state)
{
	const bad_case *bc = *state;
	expect_error(bc->yaml, bc->where, bc->phrase);
}

static void test_bad_bytes(void **state)
{
	(void)state;
	/* invalid UTF-8 is a reader error, located by counting */
	static const char bad_utf8[] = "store: a\ncache: \xff\xfe\n";
	expect_error_len(bad_utf8, sizeof(bad_utf8) - 1, "t.yaml:2:8: ", "invalid YAML input");
	/* a raw NUL byte in the text */
	static const char nul[] = "store: a\0b\n";
	expect_error_len(nul, sizeof(nul) - 1, "t.yaml:1:", "invalid YAML input");
}

/* The sha256 message must not echo the value: it may be a pasted token. */
static void test_sha256_not_echoed(void **state)
{
	(void)state;
	st_config *c = NULL;
	st_diag d = {{0}};
	const char *yaml = TOK("name: ci, role: read, sha256: s3cr3t-t0ken-value");
	assert_int_equal(st_config_load_buffer(yaml, strlen(yaml), "t.yaml", "/", &c, &d),
			 ST_E_INVALID);
	assert_non_null(strstr(d.msg, "sha256"));
	assert_null(strstr(d.msg, "s3cr3t"));
}

static void test_entry_limits(void **state)
{
	(void)state;
	/* 1000 sources load; 1001 do not, and the error is at the 1001st. */
	size_t cap = 1100 * 64;
	char *yaml = malloc(cap);
	assert_non_null(yaml);
	size_t off = (size_t)snprintf(yaml, cap, "sources:\n");
	for (int i = 0; i < 1000; i++)
		off += (size_t)snprintf(yaml + off, cap - off,
					"  - {name: s%d, kind: git, location: x}\n", i);
	st_config *c = load_text(yaml, "/x");
	assert_int_equal(c->n_sources, 1000);
	assert_string_equal(c->sources[999].name, "s999");
	assert_int_equal(c->sources[999].line, 1001);
	st_config_free(c);
	snprintf(yaml + off, cap - off, "  - {name: s1000, kind: git, location: x}\n");
	expect_error(yaml, "t.yaml:1002:5: ", "too many entries in sources (limit 1000)");

	/* 64 options, not 65 */
	off = (size_t)snprintf(yaml, cap, SRC("    options:\n"));
	for (int i = 0; i < 65; i++)
		off += (size_t)snprintf(yaml + off, cap - off, "      o%d: v\n", i);
	expect_error(yaml, "t.yaml:70:7: ", "too many entries in sources[0].options (limit 64)");
	free(yaml);
}

int main(void)
{
	static const struct CMUnitTest fixed[] = {
		cmocka_unit_test(test_full),
		cmocka_unit_test(test_defaults),
		cmocka_unit_test(test_duration),
		cmocka_unit_test(test_listen),
		cmocka_unit_test(test_sizes_and_bounds),
		cmocka_unit_test(test_paths),
		cmocka_unit_test(test_yaml_forms),
		cmocka_unit_test(test_load_file),
		cmocka_unit_test(test_example_file),
		cmocka_unit_test(test_key_paths),
		cmocka_unit_test(test_docs_mention_all_keys),
		cmocka_unit_test(test_bad_bytes),
		cmocka_unit_test(test_sha256_not_echoed),
		cmocka_unit_test(test_entry_limits),
	};
	/* One named test per malformed config, so a failure names the case. */
	size_t n_fixed = ST_ARRAY_LEN(fixed), n_bad = ST_ARRAY_LEN(bad_cases);
	struct CMUnitTest *tests = calloc(n_fixed + n_bad, sizeof(*tests));
	if (!tests)
		return 1;
	memcpy(tests, fixed, sizeof(fixed));
	for (size_t i = 0; i < n_bad; i++) {
		tests[n_fixed + i] = (struct CMUnitTest){
			.name = bad_cases[i].name,
			.test_func = test_bad,
			.initial_state = (void *)&bad_cases[i],
		};
	}
	int failed = _cmocka_run_group_tests("config", tests, n_fixed + n_bad, NULL, NULL);
	free(tests);
	return failed ? 1 : 0;
}
