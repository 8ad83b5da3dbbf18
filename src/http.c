/*
 * http.c — HTTP/1.1 server core on libuv + http-parser (see http.h and
 * docs/http.md).
 *
 * Each connection owns a parser, one timer and a FIFO of requests.  A request
 * joins the FIFO when its message is complete and the handler is called at
 * once; responses are serialised into one buffer each and handed to
 * uv_write() strictly from the head of the FIFO, so a pipelined request that
 * is answered early waits for the ones before it.  Every input-driven buffer
 * is capped by the configuration; a limit hit queues a core-generated
 * problem+json response and stops parsing that connection.
 *
 * Memory rules: a connection is freed only in the close callback of its last
 * libuv handle, after libuv has called back every pending write.  A request
 * that the handler deferred outlives its connection if the client goes away
 * ("orphan"): st_http_respond() then just frees it.  This file must not log,
 * and must not block the loop.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <http_parser.h>
#include <uv.h>

#include "common.h"
#include "http.h"

enum {
	READ_BUF = 64 * 1024,	  /* shared read buffer, one per server */
	MAX_EXTRA_HEADERS = 4096, /* st_http_add_header() total per response */
	MAX_REJECTING = 64,	  /* connections being sent a 503 at once */
	LINGER_MS = 1000,	  /* reading after our FIN, so a close is no RST */
	MAX_CONTENT_TYPE = 256,
	PROBLEM_MAX = 2048, /* problem+json body, detail truncated to fit */
};

/* Bounds on configured limits, so size arithmetic cannot overflow. */
#define LIMIT_CAP ((uint64_t)1 << 40)

/* ---- size-capped byte buffer ------------------------------------------- */

/* Bytes p[0..len), always NUL-terminated when p is not NULL. */
typedef struct buf {
	char *p;
	size_t len, cap;
} buf;

/* Append n bytes, never letting len exceed max.  0, ST_E_LIMIT or -ENOMEM. */
static int buf_put(buf *b, const void *data, size_t n, size_t max)
{
	if (n > max || b->len > max - n)
		return ST_E_LIMIT;
	if (b->len + n + 1 > b->cap) {
		size_t cap = b->cap ? b->cap : 256;
		while (cap < b->len + n + 1)
			cap *= 2;
		if (cap > max + 1)
			cap = max + 1;
		char *p = realloc(b->p, cap);
		if (!p)
			return -ENOMEM;
		b->p = p;
		b->cap = cap;
	}
	if (n)
		memcpy(b->p + b->len, data, n);
	b->len += n;
	b->p[b->len] = '\0';
	return 0;
}

/* ---- types -------------------------------------------------------------- */

typedef struct conn conn;

typedef struct hdr {
	size_t name, value; /* offsets into request head buffer, NUL-terminated */
} hdr;

enum last_cb { CB_NONE, CB_URL, CB_FIELD, CB_VALUE };

struct st_http_request {
	st_http_server *server;
	conn *conn; /* NULL once orphaned */
	st_http_request *next;
	buf head;	   /* url \0 name \0 value \0 name \0 ... */
	size_t head_bytes; /* url + name + value bytes, checked against the limit */
	hdr *hdrs;
	uint32_t n_hdrs, cap_hdrs;
	enum last_cb last;
	const char *method;
	char *path, *query;
	buf body;
	buf extra; /* extra response header lines */
	bool headers_done, head_method, keep_alive, http10;
	bool dispatched, deferred, answered, writing, close;
	char *out;
	size_t out_len;
	uv_write_t wr;
};

enum cstate {
	C_OPEN,	    /* parsing requests */
	C_DRAINING, /* no more parsing; finishing the queued responses */
	C_LINGER,   /* our FIN sent; discarding input until EOF or LINGER_MS */
	C_CLOSING,  /* uv_close() issued */
};

enum tmode { T_NONE, T_IDLE, T_HEADER, T_BODY, T_WRITE, T_LINGER };

struct conn {
	st_http_server *server;
	conn *prev, *next;
	uv_tcp_t tcp;
	uv_timer_t timer;
	uv_shutdown_t sreq;
	uv_write_t cont_wr; /* "100 Continue" */
	int open_handles;
	http_parser parser;
	enum cstate state;
	enum tmode tmode;
	uint64_t msg_seq, timer_seq;
	st_http_request *cur; /* message being parsed */
	st_http_request *q_head, *q_tail;
	size_t q_len;
	char *stash; /* unparsed input kept while the parser is paused */
	size_t stash_len;
	int fail_status; /* set by a parser callback before it fails */
	const char *fail_detail;
	st_http_request *in_handler;
	bool handler_done, paused, reading, peer_eof, rejected, cont_pending;
};

struct st_http_server {
	st_http_config cfg;
	char *host;
	st_http_handler handler;
	void *ctx;
	uv_loop_t *loop;
	uv_tcp_t *listener; /* heap: its close callback may outlive a failed listen */
	bool listening, shutting, listener_closed, finished;
	st_http_shutdown_cb shutdown_cb;
	void *shutdown_ctx;
	conn *conns;
	size_t n_conns, n_rejecting, n_orphans;
	uint64_t served;
	time_t date_sec;
	char date[96];
	/* libuv calls read_cb right after alloc_cb on the loop thread, and a
	 * read is parsed (or stashed) before read_cb returns, so connections
	 * can share one read buffer. */
	char rbuf[READ_BUF];
};

static void conn_close(conn *c);
static void conn_fail(conn *c, int status, const char *detail);
static void conn_check_idle(conn *c);
static void conn_update_timer(conn *c, bool progress);
static void conn_flush(conn *c);
static void conn_parse(conn *c, const char *data, size_t len);
static void read_start(conn *c);
static void timer_cb(uv_timer_t *t);
static void cont_cb(uv_write_t *w, int status);

/* ---- server ------------------------------------------------------------- */

static uint64_t pick(uint64_t v, uint64_t dflt)
{
	v = v ? v : dflt;
	return v > LIMIT_CAP ? LIMIT_CAP : v;
}

int st_http_server_new(const st_http_config *cfg, st_http_handler handler, void *ctx,
		       st_http_server **ret_server)
{
	if (!cfg || !handler || !ret_server)
		return -EINVAL;
	st_http_server *s = calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	s->host = strdup(cfg->host ? cfg->host : "127.0.0.1");
	if (!s->host) {
		free(s);
		return -ENOMEM;
	}
	s->cfg = *cfg;
	s->cfg.host = s->host;
	s->cfg.max_connections = (uint32_t)pick(cfg->max_connections, 256);
	s->cfg.max_header_bytes = (uint32_t)pick(cfg->max_header_bytes, 8192);
	s->cfg.max_headers = (uint32_t)pick(cfg->max_headers, 64);
	s->cfg.max_body_bytes = pick(cfg->max_body_bytes, 1 << 20);
	s->cfg.max_response_bytes = pick(cfg->max_response_bytes, 16 << 20);
	if (s->cfg.max_response_bytes > (1u << 30))
		s->cfg.max_response_bytes = 1u << 30; /* one uv_buf_t holds it */
	s->cfg.max_pipelined = (uint32_t)pick(cfg->max_pipelined, 16);
	s->cfg.idle_timeout_ms = pick(cfg->idle_timeout_ms, 5000);
	s->cfg.header_timeout_ms = pick(cfg->header_timeout_ms, 10000);
	s->handler = handler;
	s->ctx = ctx;
	*ret_server = s;
	return 0;
}

static void maybe_finish(st_http_server *s)
{
	if (!s->shutting || s->finished || !s->listener_closed || s->n_conns || s->n_orphans)
		return;
	s->finished = true;
	if (s->shutdown_cb)
		s->shutdown_cb(s, s->shutdown_ctx);
}

static void listener_closed_cb(uv_handle_t *h)
{
	st_http_server *s = h->data;
	free(h);
	if (s) {
		s->listener_closed = true;
		maybe_finish(s);
	}
}

void st_http_server_free(st_http_server *s)
{
	if (!s)
		return;
	if (s->listening && !s->finished)
		abort(); /* libuv still points into s: a caller bug */
	free(s->host);
	free(s);
}

size_t st_http_connections(const st_http_server *s)
{
	return s ? s->n_conns : 0;
}

uint64_t st_http_requests_served(const st_http_server *s)
{
	return s ? s->served : 0;
}

/* "Sun, 06 Nov 1994 08:49:37 GMT", cached per second; locale-independent. */
static const char *http_date(st_http_server *s)
{
	static const char wday[7][4] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
	static const char mon[12][4] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
					"Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
	time_t now = time(NULL);
	if (now != s->date_sec || !s->date[0]) {
		struct tm tm;
		if (!gmtime_r(&now, &tm))
			return "Thu, 01 Jan 1970 00:00:00 GMT";
		snprintf(s->date, sizeof(s->date), "%s, %02d %s %04d %02d:%02d:%02d GMT",
			 wday[tm.tm_wday % 7], tm.tm_mday, mon[tm.tm_mon % 12], tm.tm_year + 1900,
			 tm.tm_hour, tm.tm_min, tm.tm_sec);
		s->date_sec = now;
	}
	return s->date;
}

static const char *reason(int status)
{
	const char *r = http_status_str((enum http_status)status);
	return (!r || r[0] == '<') ? "Unknown" : r;
}

/* ---- requests ----------------------------------------------------------- */

static st_http_request *req_new(conn *c)
{
	st_http_request *r = calloc(1, sizeof(*r));
	if (!r)
		return NULL;
	r->server = c->server;
	r->conn = c;
	r->method = "GET";
	r->wr.data = r;
	return r;
}

static void req_free(st_http_request *r)
{
	if (!r)
		return;
	free(r->head.p);
	free(r->hdrs);
	free(r->path);
	free(r->query);
	free(r->body.p);
	free(r->extra.p);
	free(r->out);
	free(r);
}

const char *st_http_method(const st_http_request *req)
{
	return req->method;
}

const char *st_http_path(const st_http_request *req)
{
	return req->path ? req->path : "/";
}

const char *st_http_query(const st_http_request *req)
{
	return req->query ? req->query : "";
}

const char *st_http_header(const st_http_request *req, const char *name)
{
	if (!req || !name)
		return NULL;
	for (uint32_t i = 0; i < req->n_hdrs; i++)
		if (strcasecmp(req->head.p + req->hdrs[i].name, name) == 0)
			return req->head.p + req->hdrs[i].value;
	return NULL;
}

const char *st_http_body(const st_http_request *req, size_t *ret_len)
{
	if (ret_len)
		*ret_len = req->body.len;
	return req->body.p ? req->body.p : "";
}

st_http_server *st_http_request_server(const st_http_request *req)
{
	return req->server;
}

int st_http_defer(st_http_request *req)
{
	if (!req)
		return -EINVAL;
	req->deferred = true;
	if (req->conn && req->conn->in_handler == req)
		req->conn->handler_done = true;
	return 0;
}

static bool has_crlf(const char *s)
{
	return strpbrk(s, "\r\n") != NULL;
}

int st_http_add_header(st_http_request *req, const char *name, const char *value)
{
	if (!req || !name || !value || !name[0] || has_crlf(name) || has_crlf(value) ||
	    strchr(name, ':'))
		return -EINVAL;
	size_t nl = strlen(name), vl = strlen(value);
	if (nl + vl + 4 > MAX_EXTRA_HEADERS || req->extra.len > MAX_EXTRA_HEADERS - (nl + vl + 4))
		return ST_E_LIMIT;
	int rc = buf_put(&req->extra, name, nl, MAX_EXTRA_HEADERS);
	if (!rc)
		rc = buf_put(&req->extra, ": ", 2, MAX_EXTRA_HEADERS);
	if (!rc)
		rc = buf_put(&req->extra, value, vl, MAX_EXTRA_HEADERS);
	if (!rc)
		rc = buf_put(&req->extra, "\r\n", 2, MAX_EXTRA_HEADERS);
	return rc;
}

/* Serialise the response into req->out.  0 or -ENOMEM. */
static int build_response(st_http_request *req, int status, const char *ctype, const void *body,
			  size_t len)
{
	bool no_body = req->head_method || status == 204 || status == 304;
	char h[1024];
	int n = snprintf(h, sizeof(h), "HTTP/1.1 %d %s\r\nDate: %s\r\n", status, reason(status),
			 http_date(req->server));
	if (ctype)
		n += snprintf(h + n, sizeof(h) - (size_t)n, "Content-Type: %s\r\n", ctype);
	if (status != 204)
		n += snprintf(h + n, sizeof(h) - (size_t)n, "Content-Length: %zu\r\n", len);
	if (req->close)
		n += snprintf(h + n, sizeof(h) - (size_t)n, "Connection: close\r\n");
	else if (req->http10)
		n += snprintf(h + n, sizeof(h) - (size_t)n, "Connection: keep-alive\r\n");
	if (n < 0 || (size_t)n >= sizeof(h))
		return -ENOMEM; /* cannot happen: ctype is at most MAX_CONTENT_TYPE */
	size_t body_len = no_body ? 0 : len;
	size_t total = (size_t)n + req->extra.len + 2 + body_len;
	char *out = malloc(total);
	if (!out)
		return -ENOMEM;
	memcpy(out, h, (size_t)n);
	if (req->extra.len)
		memcpy(out + n, req->extra.p, req->extra.len);
	memcpy(out + n + req->extra.len, "\r\n", 2);
	if (body_len)
		memcpy(out + n + req->extra.len + 2, body, body_len);
	free(req->out);
	req->out = out;
	req->out_len = total;
	return 0;
}

/* JSON string body without quotes; returns bytes written (< cap). */
static size_t json_escape(char *dst, size_t cap, const char *s)
{
	size_t o = 0;
	for (; s && *s; s++) {
		unsigned char ch = (unsigned char)*s;
		char tmp[8];
		size_t k;
		if (ch == '"' || ch == '\\') {
			tmp[0] = '\\';
			tmp[1] = (char)ch;
			k = 2;
		} else if (ch < 0x20) {
			k = (size_t)snprintf(tmp, sizeof(tmp), "\\u%04x", ch);
		} else {
			tmp[0] = (char)ch;
			k = 1;
		}
		if (o + k >= cap)
			break;
		memcpy(dst + o, tmp, k);
		o += k;
	}
	dst[o] = '\0';
	return o;
}

static size_t problem_body(char *out, size_t cap, int status, const char *detail)
{
	char d[PROBLEM_MAX / 2];
	json_escape(d, sizeof(d), detail ? detail : "");
	int n = snprintf(
		out, cap,
		"{\"type\":\"about:blank\",\"title\":\"%s\",\"status\":%d,\"detail\":\"%s\"}",
		reason(status), status, d);
	return n < 0 ? 0 : ((size_t)n >= cap ? cap - 1 : (size_t)n);
}

/* Takes ownership of req: it is freed here (orphan) or once written. */
int st_http_respond(st_http_request *req, int status, const char *content_type, const void *body,
		    size_t len)
{
	if (!req)
		return -EINVAL;
	int rc = 0;
	char pb[PROBLEM_MAX];
	if (status < 200 || status > 599 ||
	    (content_type && (has_crlf(content_type) || strlen(content_type) > MAX_CONTENT_TYPE)) ||
	    (len && !body)) {
		rc = -EINVAL;
		len = problem_body(pb, sizeof(pb), 500, "the handler gave an invalid response");
	} else if (len > req->server->cfg.max_response_bytes) {
		rc = ST_E_LIMIT;
		len = problem_body(pb, sizeof(pb), 500, "the response exceeds the size limit");
	}
	if (rc) {
		status = 500;
		content_type = "application/problem+json";
		body = pb;
		free(req->extra.p);
		req->extra = (buf){0};
	}
	conn *c = req->conn;
	if (c && c->in_handler == req)
		c->handler_done = true;
	if (!c) {
		/* orphan: the client is gone */
		st_http_server *s = req->server;
		req_free(req);
		s->n_orphans--;
		maybe_finish(s);
		return rc;
	}
	/* The last response before a shutdown closes the connection. */
	if (req->server->shutting && req == c->q_tail)
		req->close = true;
	int brc = build_response(req, status, content_type, body, len);
	if (brc) {
		req->answered = true; /* conn_close frees it rather than orphaning */
		conn_close(c);
		return brc;
	}
	req->answered = true;
	conn_flush(c);
	return rc;
}

int st_http_respond_problem(st_http_request *req, int status, const char *detail)
{
	char pb[PROBLEM_MAX];
	if (status < 200 || status > 599)
		status = 500;
	size_t n = problem_body(pb, sizeof(pb), status, detail);
	return st_http_respond(req, status, "application/problem+json", pb, n);
}

/* ---- connection: output ------------------------------------------------- */

static void queue_push(conn *c, st_http_request *r)
{
	r->next = NULL;
	if (c->q_tail)
		c->q_tail->next = r;
	else
		c->q_head = r;
	c->q_tail = r;
	c->q_len++;
}

static void write_cb(uv_write_t *wr, int status)
{
	st_http_request *r = wr->data;
	conn *c = r->conn;
	/* Writes complete in order, so r is the head. */
	c->q_head = r->next;
	if (!c->q_head)
		c->q_tail = NULL;
	c->q_len--;
	bool close = r->close;
	req_free(r);
	if (status == 0)
		c->server->served++;
	if (c->state == C_CLOSING)
		return;
	if (status < 0) {
		conn_close(c);
		return;
	}
	if (close) {
		c->state = C_DRAINING;
		conn_check_idle(c);
		return;
	}
	if (c->paused && c->q_len < c->server->cfg.max_pipelined && c->state == C_OPEN) {
		/* resume parsing what was stashed when the queue was full */
		char *s = c->stash;
		size_t n = c->stash_len;
		c->stash = NULL;
		c->stash_len = 0;
		c->paused = false;
		http_parser_pause(&c->parser, 0);
		if (s)
			conn_parse(c, s, n);
		free(s);
		if (c->state == C_CLOSING)
			return;
		if (!c->paused && c->state == C_OPEN && !c->reading && !c->peer_eof) {
			read_start(c);
		}
	}
	conn_check_idle(c);
	if (c->state != C_CLOSING)
		conn_update_timer(c, true);
}

static void conn_flush(conn *c)
{
	if (c->state == C_CLOSING)
		return;
	for (st_http_request *r = c->q_head; r; r = r->next) {
		if (r->writing)
			continue;
		if (!r->answered)
			break;
		uv_buf_t b = uv_buf_init(r->out, (unsigned)r->out_len);
		if (uv_write(&r->wr, (uv_stream_t *)&c->tcp, &b, 1, write_cb) < 0) {
			conn_close(c);
			return;
		}
		r->writing = true;
	}
	conn_update_timer(c, false);
}

/* ---- connection: lifetime ------------------------------------------------ */

static void conn_handle_closed(uv_handle_t *h)
{
	conn *c = h->data;
	if (--c->open_handles > 0)
		return;
	st_http_server *s = c->server;
	/* Pending writes were called back (cancelled) before this point. */
	while (c->q_head) {
		st_http_request *r = c->q_head;
		c->q_head = r->next;
		req_free(r);
	}
	if (c->prev)
		c->prev->next = c->next;
	else
		s->conns = c->next;
	if (c->next)
		c->next->prev = c->prev;
	s->n_conns--;
	if (c->rejected)
		s->n_rejecting--;
	free(c);
	maybe_finish(s);
}

static void conn_close(conn *c)
{
	if (c->state == C_CLOSING)
		return;
	c->state = C_CLOSING;
	req_free(c->cur);
	c->cur = NULL;
	free(c->stash);
	c->stash = NULL;
	c->stash_len = 0;
	/* Keep requests with a write in flight (libuv calls write_cb with
	 * UV_ECANCELED); orphan those the handler still owns; free the rest. */
	st_http_request **pp = &c->q_head;
	c->q_tail = NULL;
	while (*pp) {
		st_http_request *r = *pp;
		if (r->writing) {
			c->q_tail = r;
			pp = &r->next;
			continue;
		}
		*pp = r->next;
		c->q_len--;
		if (r->dispatched && !r->answered) {
			r->conn = NULL;
			r->next = NULL;
			c->server->n_orphans++;
		} else {
			req_free(r);
		}
	}
	uv_timer_stop(&c->timer);
	uv_close((uv_handle_t *)&c->timer, conn_handle_closed);
	uv_close((uv_handle_t *)&c->tcp, conn_handle_closed);
}

static void shutdown_cb(uv_shutdown_t *sreq, int status)
{
	(void)sreq;
	(void)status; /* the linger timer or EOF closes the connection */
}

/* All responses are out: close now, or send FIN and linger. */
static void conn_end(conn *c)
{
	if (c->peer_eof) {
		conn_close(c);
		return;
	}
	c->state = C_LINGER;
	if (uv_shutdown(&c->sreq, (uv_stream_t *)&c->tcp, shutdown_cb) < 0) {
		conn_close(c);
		return;
	}
	if (!c->reading) {
		read_start(c);
	}
	conn_update_timer(c, false);
}

/* Called when the queue may have become empty. */
static void conn_check_idle(conn *c)
{
	if (c->state == C_CLOSING || c->state == C_LINGER || c->q_len)
		return;
	if (c->state == C_DRAINING)
		conn_end(c);
	else if (c->server->shutting || (c->peer_eof && !c->paused))
		conn_close(c);
}

/* Tell the caller about a response the core generates itself. */
static void core_response(st_http_server *s, int status)
{
	if (s->cfg.on_core_response)
		s->cfg.on_core_response(status, s->ctx);
}

/* Queue a core-generated error response and stop parsing. */
static void conn_fail(conn *c, int status, const char *detail)
{
	if (c->state != C_OPEN)
		return;
	req_free(c->cur);
	c->cur = NULL;
	free(c->stash);
	c->stash = NULL;
	c->stash_len = 0;
	c->state = C_DRAINING;
	st_http_request *r = req_new(c);
	if (!r) {
		conn_close(c);
		return;
	}
	r->dispatched = true;
	r->close = true;
	queue_push(c, r);
	core_response(c->server, status);
	st_http_respond_problem(r, status, detail);
}

static void conn_update_timer(conn *c, bool progress)
{
	st_http_server *s = c->server;
	enum tmode m;
	uint64_t ms = s->cfg.idle_timeout_ms;
	if (c->state == C_CLOSING)
		return;
	if (c->state == C_LINGER) {
		m = T_LINGER;
		ms = ms < LINGER_MS ? ms : LINGER_MS;
	} else if (c->state == C_OPEN && c->cur && !c->cur->headers_done) {
		m = T_HEADER;
		ms = s->cfg.header_timeout_ms;
	} else if (c->state == C_OPEN && c->cur) {
		m = T_BODY;
	} else if (c->q_head && c->q_head->writing) {
		m = T_WRITE;
	} else if (c->state == C_OPEN && !c->q_len) {
		m = T_IDLE;
	} else {
		m = T_NONE;
	}
	bool restart = m != c->tmode || (m == T_HEADER && c->timer_seq != c->msg_seq) ||
		       (progress && (m == T_BODY || m == T_WRITE));
	if (!restart)
		return;
	c->tmode = m;
	c->timer_seq = c->msg_seq;
	uv_timer_stop(&c->timer);
	if (m != T_NONE) {
		uv_timer_start(&c->timer, timer_cb, ms, 0);
	}
}

static void timer_cb(uv_timer_t *t)
{
	conn *c = t->data;
	switch (c->tmode) {
	case T_HEADER:
		c->tmode = T_NONE;
		conn_fail(c, 408, "the request headers were not received in time");
		break;
	case T_BODY:
		c->tmode = T_NONE;
		conn_fail(c, 408, "the request body was not received in time");
		break;
	case T_IDLE:
	case T_WRITE:
	case T_LINGER: conn_close(c); break;
	case T_NONE: break;
	}
}

/* ---- connection: input --------------------------------------------------- */

static int fail_cb(conn *c, int status, const char *detail)
{
	c->fail_status = status;
	c->fail_detail = detail;
	return -1;
}

static int on_message_begin(http_parser *p)
{
	conn *c = p->data;
	req_free(c->cur);
	c->cur = req_new(c);
	if (!c->cur)
		return fail_cb(c, 503, "out of memory");
	c->msg_seq++;
	return 0;
}

/* Add header-section bytes; ST_E_LIMIT / -ENOMEM mapped to a status. */
static int head_put(conn *c, const char *at, size_t len, bool count)
{
	st_http_request *r = c->cur;
	const st_http_config *cfg = &c->server->cfg;
	if (count) {
		r->head_bytes += len;
		if (r->head_bytes > cfg->max_header_bytes) {
			if (r->last == CB_URL || r->last == CB_NONE)
				return fail_cb(c, 414, "the request target is too long");
			return fail_cb(c, 431, "the request headers are too large");
		}
	}
	size_t cap = (size_t)cfg->max_header_bytes + 2 * (size_t)cfg->max_headers + 4;
	int rc = buf_put(&r->head, at, len, cap);
	if (rc == -ENOMEM)
		return fail_cb(c, 503, "out of memory");
	if (rc)
		return fail_cb(c, 431, "the request headers are too large");
	return 0;
}

static int on_url(http_parser *p, const char *at, size_t len)
{
	conn *c = p->data;
	c->cur->last = CB_URL;
	return head_put(c, at, len, true);
}

static int on_header_field(http_parser *p, const char *at, size_t len)
{
	conn *c = p->data;
	st_http_request *r = c->cur;
	if (r->last != CB_FIELD) {
		if (r->n_hdrs >= c->server->cfg.max_headers)
			return fail_cb(c, 431, "too many request headers");
		if (head_put(c, "", 1, false))
			return -1; /* ends the url or the previous value */
		if (r->n_hdrs == r->cap_hdrs) {
			uint32_t cap = r->cap_hdrs ? r->cap_hdrs * 2 : 8;
			if (cap > c->server->cfg.max_headers)
				cap = c->server->cfg.max_headers;
			hdr *h = realloc(r->hdrs, cap * sizeof(*h));
			if (!h)
				return fail_cb(c, 503, "out of memory");
			r->hdrs = h;
			r->cap_hdrs = cap;
		}
		r->hdrs[r->n_hdrs].name = r->head.len;
		r->hdrs[r->n_hdrs].value = r->head.len;
		r->n_hdrs++;
		r->last = CB_FIELD;
	}
	return head_put(c, at, len, true);
}

static int on_header_value(http_parser *p, const char *at, size_t len)
{
	conn *c = p->data;
	st_http_request *r = c->cur;
	if (r->last != CB_VALUE) {
		if (head_put(c, "", 1, false))
			return -1;
		r->hdrs[r->n_hdrs - 1].value = r->head.len;
		r->last = CB_VALUE;
	}
	return head_put(c, at, len, true);
}

/* Split the request target into path and query (raw). */
static int split_target(st_http_request *r, const char *url, size_t url_len)
{
	const char *path = url;
	size_t path_len = url_len;
	struct http_parser_url u;
	if (url_len && url[0] != '/' && url_len < 65536) {
		/* absolute-form: take its path and query */
		http_parser_url_init(&u);
		if (http_parser_parse_url(url, url_len, 0, &u) == 0) {
			path = url + url_len; /* "http://host" has an empty path */
			if (u.field_set & (1 << UF_PATH))
				path = url + u.field_data[UF_PATH].off;
			else if (u.field_set & (1 << UF_QUERY))
				path = url + u.field_data[UF_QUERY].off - 1;
			path_len = (size_t)(url + url_len - path);
		}
	}
	const char *end = memchr(path, '#', path_len);
	if (end)
		path_len = (size_t)(end - path);
	const char *q = memchr(path, '?', path_len);
	size_t plen = q ? (size_t)(q - path) : path_len;
	r->path = strndup(path, plen);
	r->query = q ? strndup(q + 1, path_len - plen - 1) : strdup("");
	return (r->path && r->query) ? 0 : -ENOMEM;
}

static int on_headers_complete(http_parser *p)
{
	conn *c = p->data;
	st_http_request *r = c->cur;
	const st_http_config *cfg = &c->server->cfg;
	if (r->last == CB_FIELD) {
		/* a field without a value callback: give it an empty value */
		if (head_put(c, "", 1, false))
			return -1;
		r->hdrs[r->n_hdrs - 1].value = r->head.len;
	}
	if (head_put(c, "", 1, false))
		return -1;
	r->headers_done = true;
	if (p->http_major != 1)
		return fail_cb(c, 505, "only HTTP/1.0 and HTTP/1.1 are supported");
	if (p->method == HTTP_CONNECT)
		return fail_cb(c, 501, "CONNECT is not supported");
	if ((p->flags & F_CONTENTLENGTH) && p->content_length > cfg->max_body_bytes)
		return fail_cb(c, 413, "the request body is too large");
	r->method = http_method_str((enum http_method)p->method);
	r->head_method = p->method == HTTP_HEAD;
	r->http10 = p->http_minor == 0;
	/* No protocol upgrades: such a request is answered and the connection
	 * closed, since the parser does not read past it. */
	r->keep_alive = http_should_keep_alive(p) && !p->upgrade;
	size_t url_len = strlen(r->head.p);
	if (split_target(r, r->head.p, url_len))
		return fail_cb(c, 503, "out of memory");
	const char *expect = st_http_header(r, "Expect");
	if (expect && strcasecmp(expect, "100-continue") == 0 && !r->http10 && !c->q_len &&
	    !c->cont_pending && ((p->flags & F_CHUNKED) || p->content_length > 0)) {
		static char cont[] = "HTTP/1.1 100 Continue\r\n\r\n";
		uv_buf_t b = uv_buf_init(cont, sizeof(cont) - 1);
		if (uv_write(&c->cont_wr, (uv_stream_t *)&c->tcp, &b, 1, cont_cb) == 0)
			c->cont_pending = true;
	}
	return 0;
}

static void cont_cb(uv_write_t *w, int status)
{
	conn *c = w->data;
	(void)status;
	c->cont_pending = false;
}

static int on_body(http_parser *p, const char *at, size_t len)
{
	conn *c = p->data;
	int rc = buf_put(&c->cur->body, at, len, c->server->cfg.max_body_bytes);
	if (rc == -ENOMEM)
		return fail_cb(c, 503, "out of memory");
	if (rc)
		return fail_cb(c, 413, "the request body is too large");
	return 0;
}

static int on_message_complete(http_parser *p)
{
	conn *c = p->data;
	st_http_request *r = c->cur;
	c->cur = NULL;
	r->dispatched = true;
	r->close = !r->keep_alive;
	queue_push(c, r);
	if (r->close)
		c->state = C_DRAINING; /* nothing after this request is parsed */
	c->in_handler = r;
	c->handler_done = false;
	c->server->handler(r, c->server->ctx);
	c->in_handler = NULL;
	if (!c->handler_done) {
		core_response(c->server, 500);
		st_http_respond_problem(r, 500, "the handler did not answer");
	}
	if (c->state != C_OPEN) {
		http_parser_pause(p, 1);
		return 0;
	}
	if (c->q_len >= c->server->cfg.max_pipelined) {
		c->paused = true;
		http_parser_pause(p, 1);
	}
	return 0;
}

static const http_parser_settings parser_settings = {
	.on_message_begin = on_message_begin,
	.on_url = on_url,
	.on_header_field = on_header_field,
	.on_header_value = on_header_value,
	.on_headers_complete = on_headers_complete,
	.on_body = on_body,
	.on_message_complete = on_message_complete,
};

static int status_for_errno(conn *c, enum http_errno e)
{
	switch (e) {
	case HPE_CB_message_begin:
	case HPE_CB_url:
	case HPE_CB_header_field:
	case HPE_CB_header_value:
	case HPE_CB_headers_complete:
	case HPE_CB_body:
	case HPE_CB_message_complete: return c->fail_status ? c->fail_status : 500;
	case HPE_HEADER_OVERFLOW: return 431;
	default: return 400;
	}
}

static void conn_parse(conn *c, const char *data, size_t len)
{
	c->fail_status = 0;
	c->fail_detail = NULL;
	size_t n = http_parser_execute(&c->parser, &parser_settings, data, len);
	if (c->state != C_OPEN)
		return;
	enum http_errno e = HTTP_PARSER_ERRNO(&c->parser);
	if (e == HPE_PAUSED) {
		if (n < len) {
			char *st = realloc(c->stash, c->stash_len + (len - n));
			if (!st) {
				conn_close(c);
				return;
			}
			memcpy(st + c->stash_len, data + n, len - n);
			c->stash = st;
			c->stash_len += len - n;
		}
		if (c->reading) {
			uv_read_stop((uv_stream_t *)&c->tcp);
			c->reading = false;
		}
		return;
	}
	if (e != HPE_OK) {
		int status = status_for_errno(c, e);
		const char *detail = c->fail_detail ? c->fail_detail : http_errno_description(e);
		conn_fail(c, status, detail);
	}
}

static void alloc_cb(uv_handle_t *h, size_t suggested, uv_buf_t *b)
{
	conn *c = h->data;
	(void)suggested;
	*b = uv_buf_init(c->server->rbuf, sizeof(c->server->rbuf));
}

static void read_cb(uv_stream_t *stream, ssize_t nread, const uv_buf_t *b)
{
	conn *c = stream->data;
	if (nread == 0 || c->state == C_CLOSING)
		return;
	if (nread < 0) {
		if (nread != UV_EOF || c->state == C_LINGER) {
			conn_close(c);
			return;
		}
		c->peer_eof = true;
		uv_read_stop(stream);
		c->reading = false;
		if (c->state == C_OPEN && !c->paused && c->cur) {
			/* a partial request can never complete now */
			req_free(c->cur);
			c->cur = NULL;
			c->state = C_DRAINING;
		}
		conn_check_idle(c);
		if (c->state != C_CLOSING)
			conn_update_timer(c, false);
		return;
	}
	if (c->state != C_OPEN)
		return; /* draining or lingering: input is discarded */
	conn_parse(c, b->base, (size_t)nread);
	if (c->state != C_CLOSING)
		conn_update_timer(c, true);
}

static void read_start(conn *c)
{
	if (uv_read_start((uv_stream_t *)&c->tcp, alloc_cb, read_cb) == 0)
		c->reading = true;
	else
		conn_close(c);
}

static void on_connection(uv_stream_t *ls, int status)
{
	st_http_server *s = ls->data;
	if (status < 0 || s->shutting)
		return;
	conn *c = calloc(1, sizeof(*c));
	if (!c)
		return;
	c->server = s;
	c->tcp.data = c;
	c->timer.data = c;
	c->cont_wr.data = c;
	if (uv_tcp_init(s->loop, &c->tcp) < 0) {
		free(c);
		return;
	}
	/* From here on the connection is freed by conn_handle_closed(). */
	uv_timer_init(s->loop, &c->timer);
	c->open_handles = 2;
	c->next = s->conns;
	if (s->conns)
		s->conns->prev = c;
	s->conns = c;
	s->n_conns++;
	http_parser_init(&c->parser, HTTP_REQUEST);
	c->parser.data = c;
	c->tmode = T_NONE;
	if (uv_accept(ls, (uv_stream_t *)&c->tcp) < 0) {
		conn_close(c);
		return;
	}
	uv_tcp_nodelay(&c->tcp, 1);
	if (s->n_conns - 1 - s->n_rejecting >= s->cfg.max_connections) {
		if (s->n_rejecting >= MAX_REJECTING) {
			conn_close(c);
			return;
		}
		c->rejected = true;
		s->n_rejecting++;
	}
	read_start(c);
	if (c->state == C_CLOSING)
		return;
	if (c->rejected)
		conn_fail(c, 503, "the server has too many open connections");
	else
		conn_update_timer(c, false);
}

int st_http_listen(st_http_server *s, uv_loop_t *loop, uint16_t *ret_port)
{
	if (!s || !loop || s->listening || s->listener)
		return -EINVAL;
	struct sockaddr_storage ss;
	if (uv_ip4_addr(s->host, s->cfg.port, (struct sockaddr_in *)&ss) != 0 &&
	    uv_ip6_addr(s->host, s->cfg.port, (struct sockaddr_in6 *)&ss) != 0)
		return -EINVAL;
	uv_tcp_t *l = calloc(1, sizeof(*l));
	if (!l)
		return -ENOMEM;
	int rc = uv_tcp_init(loop, l);
	if (rc < 0) {
		free(l);
		return rc;
	}
	l->data = NULL;
	rc = uv_tcp_bind(l, (const struct sockaddr *)&ss, 0);
	if (!rc)
		rc = uv_listen((uv_stream_t *)l, 128, on_connection);
	struct sockaddr_storage bound;
	int blen = sizeof(bound);
	if (!rc)
		rc = uv_tcp_getsockname(l, (struct sockaddr *)&bound, &blen);
	if (rc < 0) {
		/* freed by the loop's next iteration */
		uv_close((uv_handle_t *)l, listener_closed_cb);
		return rc;
	}
	l->data = s;
	s->listener = l;
	s->loop = loop;
	s->listening = true;
	if (ret_port)
		*ret_port = ntohs(bound.ss_family == AF_INET6 ?
					  ((struct sockaddr_in6 *)&bound)->sin6_port :
					  ((struct sockaddr_in *)&bound)->sin_port);
	return 0;
}

int st_http_shutdown(st_http_server *s, st_http_shutdown_cb cb, void *ctx)
{
	if (!s || !s->listening)
		return -EINVAL;
	if (s->shutting)
		return -EALREADY;
	s->shutting = true;
	s->shutdown_cb = cb;
	s->shutdown_ctx = ctx;
	uv_close((uv_handle_t *)s->listener, listener_closed_cb);
	s->listener = NULL;
	for (conn *c = s->conns, *next; c; c = next) {
		next = c->next;
		if (c->state != C_OPEN)
			continue;
		if (!c->q_len) {
			conn_close(c);
			continue;
		}
		/* finish what was received; parse nothing more */
		req_free(c->cur);
		c->cur = NULL;
		free(c->stash);
		c->stash = NULL;
		c->stash_len = 0;
		c->state = C_DRAINING;
		conn_update_timer(c, false);
	}
	return 0;
}
