/*
 * fuzz_schema.c — fuzz target for the schema loader (schema/schema.c).
 *
 * The input is handed to st_schema_load_buffer() as YAML.  A schema that
 * loads must answer its own look-ups consistently: every node and edge type
 * is found by its name at its index, every property by name in its table,
 * an edge type allows its first declared endpoints and nothing out of range.
 * A schema that does not load must say why (a non-empty diag message and a
 * negative code).  Any violation abort()s.  With STACKTWIN_FUZZ_VERBOSE set
 * in the environment it prints each load's outcome.
 *
 * This file only checks; it must not depend on the default schema.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common.h"
#include "schema.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void fail(const char *what, const char *name)
{
	fprintf(stderr, "fuzz_schema: %s%s%s\n", what, name ? ": " : "", name ? name : "");
	abort();
}

static void check_props(const st_prop_def *props, size_t n, const char *owner)
{
	if (n && !props)
		fail("a non-empty property table is NULL", owner);
	for (size_t i = 0; i < n; i++) {
		const st_prop_def *p = &props[i];
		if (!p->name || strlen(p->name) != p->name_len)
			fail("a property's name_len is wrong", owner);
		if (!st_ptype_name(p->type))
			fail("a property has an invalid type", p->name);
		if (i && strcmp(props[i - 1].name, p->name) >= 0)
			fail("a property table is not sorted or has a repeat", owner);
		if (st_schema_find_prop(props, n, p->name, p->name_len) != p)
			fail("a property is not found by name", p->name);
	}
	if (st_schema_find_prop(props, n, "", 0))
		fail("the empty property name was found", owner);
}

static void check(const st_schema *s)
{
	size_t nn = st_schema_node_type_count(s), ne = st_schema_edge_type_count(s);
	if (!nn || !ne)
		fail("a loaded schema has an empty type table", NULL);
	for (size_t i = 0; i < nn; i++) {
		const st_node_type *t = st_schema_node_type(s, i);
		if (!t || !t->name || !t->description)
			fail("a node type has a NULL field", NULL);
		if (st_schema_find_node_type(s, t->name, strlen(t->name)) != (int)i)
			fail("a node type is not found by name", t->name);
		check_props(t->props, t->n_props, t->name);
	}
	for (size_t i = 0; i < ne; i++) {
		const st_edge_type *t = st_schema_edge_type(s, i);
		if (!t || !t->name || !t->description)
			fail("an edge type has a NULL field", NULL);
		if (st_schema_find_edge_type(s, t->name, strlen(t->name)) != (int)i)
			fail("an edge type is not found by name", t->name);
		check_props(t->props, t->n_props, t->name);
		if ((t->any_from && t->n_from) || (t->any_to && t->n_to))
			fail("an edge type has \"*\" and a list", t->name);
		for (size_t k = 0; k < t->n_from; k++)
			if (t->from[k] >= nn)
				fail("an edge's from type is out of range", t->name);
		for (size_t k = 0; k < t->n_to; k++)
			if (t->to[k] >= nn)
				fail("an edge's to type is out of range", t->name);
		size_t from = t->n_from ? t->from[0] : 0, to = t->n_to ? t->to[0] : nn - 1;
		if ((t->any_from || t->n_from) && (t->any_to || t->n_to) &&
		    !st_schema_edge_allows(s, i, from, to))
			fail("an edge type does not allow its own first endpoints", t->name);
		if (st_schema_edge_allows(s, i, nn, to) || st_schema_edge_allows(s, i, from, nn))
			fail("edge_allows accepted a node type out of range", t->name);
	}
	if (st_schema_node_type(s, nn) || st_schema_edge_type(s, ne))
		fail("a type index out of range returned a type", NULL);
	if (st_schema_edge_allows(s, ne, 0, 0))
		fail("edge_allows accepted an edge type out of range", NULL);
	if (st_schema_find_node_type(s, "", 0) != -1 || st_schema_find_edge_type(s, "", 0) != -1)
		fail("the empty type name was found", NULL);
	(void)st_schema_hash(s);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	st_schema *s = NULL;
	st_diag diag = {{0}};
	int r = st_schema_load_buffer((const char *)data, size, "fuzz.yaml", &s, &diag);
	if (getenv("STACKTWIN_FUZZ_VERBOSE"))
		fprintf(stderr, "    %s\n", r ? diag.msg : "loaded");
	if (r) {
		if (r > 0)
			fail("st_schema_load_buffer returned a positive code", NULL);
		if (s)
			fail("ret_schema was written on failure", NULL);
		if (!diag.msg[0])
			fail("a failed load left no message", NULL);
		return 0;
	}
	if (!s)
		fail("a successful load returned no schema", NULL);
	check(s);
	st_schema_free(s);
	return 0;
}
