/*
 * jsonpos.h — line and column of a JSON text that yajl parses in chunks, and
 * yajl's error text, for the connectors that stream JSON (terraform.c,
 * prometheus.c, k8s.c).
 *
 * yajl reports byte offsets within the chunk it was given; messages want
 * "origin:LINE:COLUMN".  Newlines are counted lazily, only up to the offset
 * a position is asked for, so a chunk is scanned at most once.  The error
 * text is yajl's non-verbose form: the verbose one quotes the input, which
 * may hold secrets.
 */
#ifndef ST_JSONPOS_H
#define ST_JSONPOS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <yajl/yajl_parse.h>

#include "common.h"

typedef struct st__jpos {
	const unsigned char *chunk; /* the chunk being parsed, NULL between chunks */
	size_t scanned;		    /* bytes of chunk already counted */
	uint64_t base;		    /* bytes of the input before chunk (all, between chunks) */
	uint32_t line;		    /* 1-based line at chunk + scanned */
	int64_t last_nl;	    /* absolute offset of the last newline counted, -1 none */
} st__jpos;

/* Before the first chunk. */
void st__jpos_init(st__jpos *j);

/* yajl_parse one chunk, counting its lines.  On an error status the chunk is
 * kept, so that st__jpos_here points at the offending token. */
yajl_status st__jpos_parse(st__jpos *j, yajl_handle h, const unsigned char *buf, size_t n);

/* The position just past the token yajl last delivered (in a callback, or
 * after a failed st__jpos_parse). */
void st__jpos_here(st__jpos *j, yajl_handle h, uint32_t *ret_line, uint32_t *ret_col);

/* The position at the end of everything parsed (after the last chunk). */
void st__jpos_end(const st__jpos *j, uint32_t *ret_line, uint32_t *ret_col);

/* yajl's non-verbose error for h into buf, without trailing '.', ' ' or
 * newline ("parse error: premature EOF"). */
void st__yajl_error_text(yajl_handle h, char *buf, size_t cap);

/* ST_E_INVALID "ORIGIN:LINE:COLUMN: truncated or malformed JSON (TEXT)",
 * TEXT from st__yajl_error_text, at the end of the input when at_end (yajl_
 * complete_parse failed), else at the token yajl stopped on. */
int st__jpos_syntax_error(st__jpos *j, yajl_handle h, bool at_end, const char *origin,
			  st_diag *diag);

#endif
