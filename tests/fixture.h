/*
 * fixture.h — the cmocka fixture shared by the store and query unit tests:
 * a fresh store (built-in schema, no fsync) in a temporary directory per
 * test, removed afterwards, and type lookups that fail the test when a name
 * is not in the schema.  Include after <cmocka.h>.
 */
#ifndef ST_TEST_FIXTURE_H
#define ST_TEST_FIXTURE_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "schema.h"
#include "store.h"

typedef struct fx {
	char dir[64];
	st_schema *schema;
	st_store *st;
	st_batch *b; /* optional: aborted in teardown if left open */
	st_snap *s;  /* optional: ended in teardown if left open */
} fx;

static int setup(void **state)
{
	fx *f = calloc(1, sizeof(*f));
	snprintf(f->dir, sizeof(f->dir), "/tmp/st-test-XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	st_diag d;
	assert_int_equal(st_schema_load_default(&f->schema, &d), 0);
	assert_int_equal(st_store_open(f->dir, f->schema, ST_OPEN_NOSYNC, &f->st, &d), 0);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	fx *f = *state;
	st_snap_end(f->s);
	st_batch_abort(f->b);
	st_store_close(f->st);
	st_schema_free(f->schema);
	char cmd[128];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", f->dir);
	assert_int_equal(system(cmd), 0);
	free(f);
	return 0;
}

/* Schema index of a node / edge type that must exist. */
static inline int NT(fx *f, const char *name)
{
	int t = st_schema_find_node_type(f->schema, name, strlen(name));
	assert_true(t >= 0);
	return t;
}

static inline int ET(fx *f, const char *name)
{
	int t = st_schema_find_edge_type(f->schema, name, strlen(name));
	assert_true(t >= 0);
	return t;
}

#endif
