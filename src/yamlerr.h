/*
 * yamlerr.h — the libyaml error handling the config loader and the schema
 * loader share: "origin:line:column: problem" messages (1-based), parser
 * failures converted once, and an event pre-pass that bounds nesting and
 * counts documents (libyaml's document API has no depth limit).
 */
#ifndef ST_YAMLERR_H
#define ST_YAMLERR_H

#include <stddef.h>

#include <yaml.h>

#include "common.h"

/* Write "origin:LINE:COLUMN: message" at m into diag; returns code. */
int st_yaml_fail_at(const char *origin, int code, st_diag *diag, yaml_mark_t m, const char *fmt,
		    ...) __attribute__((format(printf, 5, 6)));

/* A libyaml parser failure as `code` (-ENOMEM for its memory errors), with
 * the position of reader errors (bad encoding, control characters) counted
 * from their byte offset. */
int st_yaml_parser_fail(const yaml_parser_t *p, const char *buf, size_t len, const char *origin,
			int code, st_diag *diag);

/* Event pass over buf: nesting deeper than max_depth, or more than one
 * document, is `code` ("more than one YAML document (WHAT is one document)");
 * with empty_msg, no document at all is too ("origin:1:1: EMPTY_MSG"). */
int st_yaml_prescan(const char *buf, size_t len, const char *origin, int code, int max_depth,
		    const char *what, const char *empty_msg, st_diag *diag);

#endif
