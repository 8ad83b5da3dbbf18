/*
 * fuzz_import.c — fuzz target for the JSON Lines importer (src/jsonl.c).
 *
 * Each input is written to a file and imported with st_import_files() into
 * one store that lives for the whole process (created on the first call in a
 * fresh directory under $TMPDIR or /tmp, removed at exit).  Whatever the
 * input, the store must stay consistent: after every input st_snap_verify()
 * must pass, a failed import must leave the revision unchanged and say why,
 * and a successful one must advance it.  Any violation abort()s, which is
 * what libFuzzer and the replay test (fuzz/replay.c) report as a failure.
 *
 * With STACKTWIN_FUZZ_VERBOSE set in the environment it prints each import's
 * outcome (for checking what a seed exercises).
 *
 * Valid inputs accumulate in the store, so one input's outcome may depend on
 * earlier ones (e.g. a node's type cannot change).  This file must not fix
 * or work around what it finds: it only checks.
 */
#include <dirent.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common.h"
#include "fuzz_file.h"
#include "jsonl.h"
#include "schema.h"
#include "store.h"

/* Bigger inputs find nothing new and only make the store grow. */
#define FUZZ_MAX_INPUT ((size_t)64 << 10)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct {
	st_schema *schema;
	st_store *store;
	fz_file f;
} fz;

static void die(const char *what, const st_diag *d)
{
	fprintf(stderr, "fuzz_import: %s%s%s\n", what, d ? ": " : "", d ? d->msg : "");
	abort();
}

/* Remove the store directory and everything in it (LMDB's two files and
 * the input file; nothing nested). */
static void cleanup(void)
{
	st_store_close(fz.store);
	fz.store = NULL;
	st_schema_free(fz.schema);
	fz.schema = NULL;
	fz_file_remove(&fz.f);
}

static void init(void)
{
	st_diag diag = {{0}};
	const char *err = fz_file_init(&fz.f, "import", "input.jsonl");
	if (err)
		die(err, NULL);
	atexit(cleanup);
	if (st_schema_load_default(&fz.schema, &diag))
		die("cannot load the default schema", &diag);
	if (st_store_open(fz.f.dir, fz.schema, ST_OPEN_NOSYNC, &fz.store, &diag))
		die("cannot open the store", &diag);
}

static uint64_t revision(void)
{
	st_diag diag = {{0}};
	st_snap *s;
	if (st_snap_begin(fz.store, &s, &diag))
		die("st_snap_begin failed", &diag);
	uint64_t rev = st_snap_revision(s);
	st_snap_end(s);
	return rev;
}

static void write_input(const uint8_t *data, size_t size)
{
	const char *err = fz_file_write(&fz.f, data, size);
	if (err)
		die(err, NULL);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size > FUZZ_MAX_INPUT)
		return 0;
	if (!fz.store)
		init();

	uint64_t before = revision();
	write_input(data, size);

	st_diag diag = {{0}};
	st_import_result res = {0};
	const char *paths[] = {fz.f.input};
	int r = st_import_files(fz.store, "fuzz", paths, 1, &res, &diag);

	st_diag vdiag = {{0}};
	st_snap *s;
	if (st_snap_begin(fz.store, &s, &vdiag))
		die("st_snap_begin failed", &vdiag);
	uint64_t after = st_snap_revision(s);
	if (st_snap_verify(s, &vdiag))
		die("st_snap_verify failed", &vdiag);
	st_snap_end(s);

	if (getenv("STACKTWIN_FUZZ_VERBOSE"))
		fprintf(stderr, "    %s\n", r ? diag.msg : "imported");
	if (r) {
		if (r > 0)
			die("st_import_files returned a positive code", NULL);
		if (after != before)
			die("a failed import changed the revision", &diag);
		if (!diag.msg[0])
			die("a failed import left no message", NULL);
	} else {
		if (after <= before)
			die("a successful import did not advance the revision", NULL);
		if (res.revision != after)
			die("the import result's revision is not the store's", NULL);
	}
	return 0;
}
