/*
 * jsonpos.c — positions and error text of streamed yajl input (jsonpos.h).
 * It never copies input into a message.
 */
#include <stdio.h>
#include <string.h>

#include "jsonpos.h"

void st__jpos_init(st__jpos *j)
{
	memset(j, 0, sizeof(*j));
	j->line = 1;
	j->last_nl = -1;
}

/* Count the newlines of the current chunk up to offset off. */
static void advance_to(st__jpos *j, size_t off)
{
	const unsigned char *c = j->chunk;
	size_t i = j->scanned;
	while (i < off) {
		const unsigned char *nl = memchr(c + i, '\n', off - i);
		if (!nl)
			break;
		i = (size_t)(nl - c);
		j->line++;
		j->last_nl = (int64_t)(j->base + i);
		i++;
	}
	j->scanned = off;
}

yajl_status st__jpos_parse(st__jpos *j, yajl_handle h, const unsigned char *buf, size_t n)
{
	j->chunk = buf;
	j->scanned = 0;
	yajl_status s = yajl_parse(h, buf, n);
	if (s != yajl_status_ok)
		return s;
	advance_to(j, n);
	j->chunk = NULL;
	j->base += n;
	j->scanned = 0;
	return s;
}

void st__jpos_here(st__jpos *j, yajl_handle h, uint32_t *ret_line, uint32_t *ret_col)
{
	if (j->chunk)
		advance_to(j, yajl_get_bytes_consumed(h));
	*ret_line = j->line;
	*ret_col = (uint32_t)((int64_t)(j->base + j->scanned) - j->last_nl);
}

void st__jpos_end(const st__jpos *j, uint32_t *ret_line, uint32_t *ret_col)
{
	*ret_line = j->line;
	*ret_col = (uint32_t)((int64_t)j->base - j->last_nl);
}

void st__yajl_error_text(yajl_handle h, char *buf, size_t cap)
{
	unsigned char *e = yajl_get_error(h, 0, NULL, 0);
	snprintf(buf, cap, "%s", e ? (const char *)e : "parse error");
	if (e)
		yajl_free_error(h, e);
	size_t n = strlen(buf);
	while (n && (buf[n - 1] == '\n' || buf[n - 1] == ' ' || buf[n - 1] == '.'))
		buf[--n] = 0;
}

int st__jpos_syntax_error(st__jpos *j, yajl_handle h, bool at_end, const char *origin,
			  st_diag *diag)
{
	uint32_t line, col;
	if (at_end)
		st__jpos_end(j, &line, &col);
	else
		st__jpos_here(j, h, &line, &col);
	char msg[256];
	st__yajl_error_text(h, msg, sizeof(msg));
	return st_diag_set(diag, ST_E_INVALID, "%s:%u:%u: truncated or malformed JSON (%s)", origin,
			   line, col, msg);
}
