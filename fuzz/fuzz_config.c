/*
 * fuzz_config.c — fuzz target for the configuration loader (src/config.c).
 *
 * The input is handed to st_config_load_buffer() as the YAML text of a
 * config file named "fuzz.yaml" in the fixed directory /fuzz/base (so no
 * outcome depends on the current directory).  Whatever the input:
 *   - the result is 0 or ST_E_INVALID (-ENOMEM is tolerated: it is the
 *     machine's problem, not the input's);
 *   - a failure leaves *ret untouched and says why in the form
 *     "fuzz.yaml:LINE:COL: problem", with LINE and COL positive and inside
 *     the input (LINE at most one more than the input's line breaks, or
 *     column 1 of the line after that: see check_message; COL at most one
 *     more than its length);
 *   - a success returns a config that keeps the header's promises: paths
 *     made absolute, names valid and unique, exactly one reference per
 *     token, known source kinds, counts that agree with their arrays, and
 *     st_config_source() finds every source;
 *   - st_config_free() releases everything (the ASan build's leak check).
 * Any violation abort()s.  With STACKTWIN_FUZZ_VERBOSE set in the
 * environment it prints each load's outcome.
 *
 * This file only checks; it must not fix or work around what it finds.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common.h"
#include "config.h"
#include "connector.h"

/* The loader refuses more than 1 MiB; bigger fuzz inputs find nothing new. */
#define FUZZ_MAX_INPUT ((size_t)64 << 10)

#define ORIGIN "fuzz.yaml"
#define BASE_DIR "/fuzz/base"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void fail(const char *what, const char *detail)
{
	fprintf(stderr, "fuzz_config: %s%s%s\n", what, detail ? ": " : "", detail ? detail : "");
	abort();
}

/* Parse a positive decimal number at *p, advance past it; 0 if none. */
static unsigned long long number(const char **p)
{
	unsigned long long v = 0;
	const char *s = *p;
	if (*s < '1' || *s > '9')
		return 0;
	while (*s >= '0' && *s <= '9') {
		if (v > (UINT64_MAX - 9) / 10)
			return 0;
		v = v * 10 + (unsigned)(*s++ - '0');
	}
	*p = s;
	return v;
}

/* "fuzz.yaml:LINE:COL: problem" with the position inside the input.
 * libyaml counts \n, \r, \r\n, NEL, LS and PS as line breaks; counting
 * every byte that can end one gives an upper bound. */
static void check_message(const char *msg, const uint8_t *data, size_t size)
{
	size_t ol = strlen(ORIGIN);
	if (strncmp(msg, ORIGIN ":", ol + 1))
		fail("the message does not start with the origin", msg);
	const char *p = msg + ol + 1;
	unsigned long long line = number(&p);
	if (!line || *p++ != ':')
		fail("the message has no line number", msg);
	unsigned long long col = number(&p);
	if (!col || *p++ != ':' || *p++ != ' ' || !*p)
		fail("the message has no column or no problem", msg);
	unsigned long long breaks = 0;
	for (size_t i = 0; i < size; i++)
		if (data[i] == '\n' || data[i] == '\r' || data[i] == 0x85 || data[i] == 0xA8 ||
		    data[i] == 0xA9)
			breaks++;
	/* libyaml's end-of-stream mark starts a new line when the last one has
	 * no line break: an error there is reported at column 1 of the line
	 * after the last (accepted; docs/development.md, "Fuzzing"). */
	if (line > breaks + 2 || (line == breaks + 2 && col != 1))
		fail("the message's line is past the end of the input", msg);
	if (col > (unsigned long long)size + 1)
		fail("the message's column is past the end of the input", msg);
}

static void check_abs(const char *path, const char *what)
{
	if (path && path[0] != '/')
		fail("a path was not made absolute", what);
}

static void check_str(const char *s, const char *what)
{
	if (!s)
		fail("a required string is NULL", what);
}

/* [a-z0-9][a-z0-9._-]{0,63} (config.h, st_source_cfg.name). */
static void check_name(const char *s, const char *what)
{
	check_str(s, what);
	size_t n = strlen(s);
	if (!n || n > 64)
		fail("a name has a bad length", s);
	for (size_t i = 0; i < n; i++) {
		char c = s[i];
		bool ok = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
			  (i && (c == '.' || c == '_' || c == '-'));
		if (!ok)
			fail("a name has a character the loader should refuse", what);
	}
}

static void check_config(const st_config *c)
{
	if (!c->path || strcmp(c->path, ORIGIN))
		fail("the config's path is not the origin", c->path);
	check_abs(c->store, "store");
	check_abs(c->cache, "cache");
	check_abs(c->web, "server.web");
	if (c->listen) {
		char host[ST_LISTEN_HOST_MAX];
		uint16_t port;
		if (st_listen_parse(c->listen, host, &port))
			fail("server.listen does not parse", c->listen);
	}

	if (c->n_tokens && !c->tokens)
		fail("tokens is NULL with n_tokens > 0", NULL);
	for (size_t i = 0; i < c->n_tokens; i++) {
		const st_token_cfg *t = &c->tokens[i];
		check_name(t->name, "server.tokens[].name");
		if (t->role != ST_ROLE_READ && t->role != ST_ROLE_ADMIN)
			fail("a token has an unknown role", t->name);
		if ((t->env != NULL) + (t->file != NULL) + t->has_sha256 != 1)
			fail("a token does not have exactly one reference", t->name);
		check_abs(t->file, "server.tokens[].file");
		for (size_t k = 0; k < i; k++)
			if (!strcmp(c->tokens[k].name, t->name))
				fail("two tokens have the same name", t->name);
	}

	if (c->n_sources && !c->sources)
		fail("sources is NULL with n_sources > 0", NULL);
	for (size_t i = 0; i < c->n_sources; i++) {
		const st_source_cfg *s = &c->sources[i];
		check_name(s->name, "sources[].name");
		check_str(s->kind, s->name);
		if (!st_connector_find(s->kind))
			fail("a source has a kind no connector knows", s->kind);
		check_str(s->location, s->name);
		if (!s->location[0])
			fail("a source has an empty location", s->name);
		if (!strstr(s->location, "://"))
			check_abs(s->location, s->name);
		if (s->token_env && s->token_file)
			fail("a source has both token_env and token_file", s->name);
		check_abs(s->token_file, "sources[].token_file");
		if (s->schedule_s > 365ull * 86400)
			fail("a schedule is longer than a year", s->name);
		if (s->timeout_s < 0)
			fail("a timeout is negative", s->name);
		if (s->n_options && !s->options)
			fail("options is NULL with n_options > 0", s->name);
		for (size_t k = 0; k < s->n_options; k++) {
			check_str(s->options[k].key, "sources[].options key");
			check_str(s->options[k].value, "sources[].options value");
			for (size_t j = 0; j < k; j++)
				if (!strcmp(s->options[j].key, s->options[k].key))
					fail("a source has a repeated option", s->options[k].key);
		}
		if (st_config_source(c, s->name) != s)
			fail("st_config_source does not find a source", s->name);
	}

	if (!c->strip_suffixes_set && (c->strip_suffixes || c->n_strip_suffixes))
		fail("strip_suffixes is set but strip_suffixes_set is false", NULL);
	if (c->n_strip_suffixes && !c->strip_suffixes)
		fail("strip_suffixes is NULL with n_strip_suffixes > 0", NULL);
	for (size_t i = 0; i < c->n_strip_suffixes; i++)
		check_str(c->strip_suffixes[i], "identity.strip_suffixes[]");

	if (c->n_aliases && !c->aliases)
		fail("aliases is NULL with n_aliases > 0", NULL);
	for (size_t i = 0; i < c->n_aliases; i++) {
		const st_alias_cfg *a = &c->aliases[i];
		check_str(a->alias, "identity.aliases[].alias");
		check_str(a->name, "identity.aliases[].name");
		if (a->kind != ST_HINT_SERVICE && a->kind != ST_HINT_TEAM &&
		    a->kind != ST_HINT_SYSTEM)
			fail("an alias has an unknown kind", a->alias);
	}

	if (c->n_rules && !c->rules)
		fail("rules is NULL with n_rules > 0", NULL);
	for (size_t i = 0; i < c->n_rules; i++) {
		const st_rule_cfg *r = &c->rules[i];
		check_name(r->name, "identity.rules[].name");
		for (size_t k = 0; k < i; k++)
			if (!strcmp(c->rules[k].name, r->name))
				fail("two rules have the same name", r->name);
		check_str(r->key, r->name);
		if (strncmp(r->key, "tag:", 4) && strncmp(r->key, "label:", 6) &&
		    strncmp(r->key, "annotation:", 11))
			fail("a rule key has no known prefix", r->key);
		if (r->source_kind && !st_connector_find(r->source_kind))
			fail("a rule names a source kind no connector knows", r->source_kind);
		if (r->kind != ST_HINT_SERVICE && r->kind != ST_HINT_TEAM &&
		    r->kind != ST_HINT_SYSTEM)
			fail("a rule has an unknown kind", r->name);
	}
	if (st_config_source(c, "") != NULL)
		fail("st_config_source found the empty name", NULL);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size > FUZZ_MAX_INPUT)
		return 0;
	/* A distinct non-NULL value: a failed load must not write *ret. */
	st_config sentinel_storage;
	st_config *const sentinel = &sentinel_storage;
	st_config *c = sentinel;
	st_diag diag = {{0}};
	int r = st_config_load_buffer((const char *)data, size, ORIGIN, BASE_DIR, &c, &diag);
	if (getenv("STACKTWIN_FUZZ_VERBOSE"))
		fprintf(stderr, "    %s\n", r ? diag.msg : "loaded");
	if (r) {
		if (r == -ENOMEM)
			return 0;
		if (r != ST_E_INVALID)
			fail("st_config_load_buffer returned neither 0 nor ST_E_INVALID", diag.msg);
		if (c != sentinel)
			fail("ret was written on failure", diag.msg);
		check_message(diag.msg, data, size);
		return 0;
	}
	if (!c || c == sentinel)
		fail("a successful load returned no config", NULL);
	check_config(c);
	st_config_free(c);
	return 0;
}
