/*
 * yamlerr.c — libyaml errors as our messages (yamlerr.h).
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>

#include "yamlerr.h"

int st_yaml_fail_at(const char *origin, int code, st_diag *diag, yaml_mark_t m, const char *fmt,
		    ...)
{
	char msg[ST_DIAG_MAX];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	return st_diag_set(diag, code, "%s:%zu:%zu: %s", origin, m.line + 1, m.column + 1, msg);
}

int st_yaml_parser_fail(const yaml_parser_t *p, const char *buf, size_t len, const char *origin,
			int code, st_diag *diag)
{
	const char *problem = p->problem ? p->problem : "unknown error";
	if (p->error == YAML_MEMORY_ERROR)
		return st_diag_set(diag, -ENOMEM, "%s: out of memory", origin);
	if (p->error == YAML_READER_ERROR) {
		/* reader errors carry a byte offset, not a mark: count lines
		 * (\n, \r\n or a lone \r) and characters (not UTF-8 continuations) */
		yaml_mark_t m = {0, 0, 0};
		size_t end = p->problem_offset < len ? p->problem_offset : len;
		for (size_t i = 0; i < end; i++) {
			unsigned char c = (unsigned char)buf[i];
			if (c == '\n' || (c == '\r' && (i + 1 >= len || buf[i + 1] != '\n'))) {
				m.line++;
				m.column = 0;
			} else if ((c & 0xC0) != 0x80 && c != '\r') {
				m.column++;
			}
		}
		if (p->problem_value != -1)
			return st_yaml_fail_at(origin, code, diag, m, "invalid YAML input: %s (#%X)",
					       problem, (unsigned)p->problem_value);
		return st_yaml_fail_at(origin, code, diag, m, "invalid YAML input: %s", problem);
	}
	if (p->context)
		return st_yaml_fail_at(origin, code, diag, p->problem_mark,
				       "YAML syntax error: %s (%s)", problem, p->context);
	return st_yaml_fail_at(origin, code, diag, p->problem_mark, "YAML syntax error: %s",
			       problem);
}

int st_yaml_prescan(const char *buf, size_t len, const char *origin, int code, int max_depth,
		    const char *what, const char *empty_msg, st_diag *diag)
{
	yaml_parser_t p;
	yaml_event_t ev;
	int depth = 0, docs = 0, r = 0;
	if (!yaml_parser_initialize(&p))
		return st_diag_set(diag, -ENOMEM, "%s: out of memory", origin);
	yaml_parser_set_input_string(&p, (const unsigned char *)buf, len);
	for (;;) {
		if (!yaml_parser_parse(&p, &ev)) {
			r = st_yaml_parser_fail(&p, buf, len, origin, code, diag);
			break;
		}
		yaml_event_type_t type = ev.type;
		yaml_mark_t mark = ev.start_mark;
		yaml_event_delete(&ev);
		if (type == YAML_SEQUENCE_START_EVENT || type == YAML_MAPPING_START_EVENT) {
			if (++depth > max_depth) {
				r = st_yaml_fail_at(origin, code, diag, mark,
						    "YAML nesting deeper than %d levels", max_depth);
				break;
			}
		} else if (type == YAML_SEQUENCE_END_EVENT || type == YAML_MAPPING_END_EVENT) {
			depth--;
		} else if (type == YAML_DOCUMENT_START_EVENT) {
			if (++docs > 1) {
				r = st_yaml_fail_at(origin, code, diag, mark,
						    "more than one YAML document (%s is one document)",
						    what);
				break;
			}
		} else if (type == YAML_STREAM_END_EVENT) {
			if (docs == 0 && empty_msg)
				r = st_diag_set(diag, code, "%s:1:1: %s", origin, empty_msg);
			break;
		}
	}
	yaml_parser_delete(&p);
	return r;
}
