/*
 * jsonl.h — the interchange format (docs/interchange.md): bulk import of
 * JSON Lines files into one store batch, and canonical export.
 *
 * Import parses with yajl, checks every record against the schema as it is
 * read, and commits all files as one transaction: on any error nothing is
 * written and diag holds "FILE:LINE: problem".
 */
#ifndef ST_JSONL_H
#define ST_JSONL_H

#include <stdint.h>
#include <stdio.h>

#include "common.h"
#include "store.h"

typedef struct st_import_result {
	uint64_t lines, nodes, edges, costs;
	uint64_t bytes;
	uint64_t revision;
	double parse_seconds, commit_seconds;
} st_import_result;

/* Import files (a path of "-" is standard input) on behalf of `source`.
 * A reader thread parses while the calling thread validates and batches. */
int st_import_files(st_store *st, const char *source, const char *const *paths, size_t n_paths,
		    st_import_result *ret_result, st_diag *diag);

/* Canonical export of a snapshot: nodes, edges and cost facts to three
 * streams (they may be the same stream).  Errors: ST_E_IO, ST_E_STORE. */
int st_export(st_snap *s, FILE *nodes, FILE *edges, FILE *costs, st_diag *diag);

#endif
