/*
 * http.h — the HTTP/1.1 core of `stacktwin serve`: a libuv TCP server that
 * parses requests with http-parser, hands each complete request to one
 * handler callback and writes the responses back in request order.
 *
 * It knows nothing about routes, JSON or the store: routing belongs to the
 * caller's handler.  It enforces the protocol limits (header size and count,
 * body size, connections, per-connection timeouts, response size, pipelining
 * depth) and answers a violated limit or a malformed request itself, with an
 * application/problem+json body.  It does not log.  docs/http.md describes
 * the connection state machine.
 *
 * Threading: every function here must be called on the thread that runs the
 * uv loop given to st_http_listen().  A handler that hands work to the thread
 * pool calls st_http_defer() and later st_http_respond() from the loop thread
 * (e.g. from a uv_queue_work after_work callback).
 */
#ifndef ST_HTTP_H
#define ST_HTTP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <uv.h>

#include "common.h"

typedef struct st_http_server st_http_server;
typedef struct st_http_request st_http_request;

/* Called once per complete request, on the loop thread.  The handler must
 * either answer with st_http_respond() before returning, or call
 * st_http_defer() and answer later.  A handler that does neither gets a 500
 * sent on its behalf. */
typedef void (*st_http_handler)(st_http_request *req, void *ctx);

/* Server settings.  A field left 0 takes the default in brackets (port 0
 * asks the kernel for an ephemeral port; st_http_listen() returns it). */
typedef struct st_http_config {
	const char *host;	     /* IPv4 or IPv6 literal ["127.0.0.1"] */
	uint16_t port;		     /* 0 = ephemeral */
	uint32_t max_connections;    /* open client connections [256]; above: 503 */
	uint32_t max_header_bytes;   /* request line + header bytes [8192]; above: 431 (414) */
	uint32_t max_headers;	     /* header fields per request [64]; above: 431 */
	uint64_t max_body_bytes;     /* decoded request body [1 MiB]; above: 413 */
	uint64_t max_response_bytes; /* response body [16 MiB, at most 1 GiB]; above: 500 */
	uint32_t max_pipelined;	     /* requests queued per connection before it
				     * stops reading [16] */
	uint64_t idle_timeout_ms;    /* keep-alive idle, and between body reads [5000] */
	uint64_t header_timeout_ms;  /* first request byte to end of headers [10000]; 408 */
	/* Optional: told of every response the core generates itself (400 on a
	 * malformed request, 408, 413, 414, 431, 501, 505, 503 over the
	 * connection limit or out of memory, and the 500 sent for a handler that
	 * neither answered nor deferred), with its status and the handler's ctx,
	 * on the loop thread, just before the response is queued.  Such
	 * responses never reach the handler; this lets the caller count them.
	 * It must not call back into the core for that connection. */
	void (*on_core_response)(int status, void *ctx);
} st_http_config;

/* Create a server; nothing is bound until st_http_listen().  cfg is copied
 * (host too).  Errors: -EINVAL (NULL handler or ret), -ENOMEM. */
int st_http_server_new(const st_http_config *cfg, st_http_handler handler, void *ctx,
		       st_http_server **ret_server);

/* Bind and listen on loop.  *ret_port (may be NULL) receives the bound port.
 * Errors: -EINVAL (bad host or called twice), -EADDRINUSE and other
 * negative errno from libuv (libuv's UV_E* values are negative errno).
 * After a bind or listen failure the loop holds a closing handle that its
 * next uv_run() releases; the server itself may be freed at once. */
int st_http_listen(st_http_server *s, uv_loop_t *loop, uint16_t *ret_port);

/* Graceful stop: close the listening socket, close idle connections, let
 * every request already received finish (its response is written, with
 * "Connection: close"), ignore further input, and call cb(s, ctx) on the loop
 * thread once every connection is closed and no deferred request is left.
 * cb is never called from inside st_http_shutdown().  A second call, or a call
 * on a server that never listened, is -EALREADY / -EINVAL. */
typedef void (*st_http_shutdown_cb)(st_http_server *s, void *ctx);
int st_http_shutdown(st_http_server *s, st_http_shutdown_cb cb, void *ctx);

/* Free a server.  NULL is allowed.  Only valid for a server that never
 * listened or whose shutdown callback has run; otherwise it aborts, because
 * libuv still holds pointers into it. */
void st_http_server_free(st_http_server *s);

/* Statistics for /metrics: client connections open now (including ones
 * being refused with 503) and responses completely written since start. */
size_t st_http_connections(const st_http_server *s);
uint64_t st_http_requests_served(const st_http_server *s);

/* ---- requests: valid from the handler call until st_http_respond() ---- */

/* Method name ("GET"), raw path ("/api/v1/x", not percent-decoded) and raw
 * query string without '?' ("" when there is none).  NUL-terminated. */
const char *st_http_method(const st_http_request *req);
const char *st_http_path(const st_http_request *req);
const char *st_http_query(const st_http_request *req);

/* Value of the first header field named `name` (case-insensitive), NUL-
 * terminated, or NULL when absent. */
const char *st_http_header(const st_http_request *req, const char *name);

/* The decoded body (chunked encoding removed), NUL-terminated for
 * convenience; *ret_len (may be NULL) receives its length. */
const char *st_http_body(const st_http_request *req, size_t *ret_len);

/* The server the request came from (e.g. for st_http_connections). */
st_http_server *st_http_request_server(const st_http_request *req);

/* Promise to answer later with st_http_respond().  The request stays valid
 * until then even if the client disconnects meanwhile (the response is then
 * dropped), and shutdown waits for it.  Errors: -EINVAL (req is NULL). */
int st_http_defer(st_http_request *req);

/* Add a response header before st_http_respond().  name and value must not
 * contain CR or LF; at most 4 KiB of extra headers per response.  The core
 * sets Date, Content-Length, Content-Type and Connection itself.
 * Errors: -EINVAL, ST_E_LIMIT. */
int st_http_add_header(st_http_request *req, const char *name, const char *value);

/* Answer req, exactly once: status 200..599, content_type may be NULL (no
 * Content-Type), body (len bytes) is copied.  HEAD requests get the headers
 * only; 204 and 304 never carry a body.  The response is written after every
 * earlier response on the connection.  After this call req is invalid,
 * whatever the result.  Errors (a 500 problem is sent instead): -EINVAL (req
 * NULL, status out of range, content_type with CR/LF or over 256 bytes),
 * ST_E_LIMIT (body over max_response_bytes); -ENOMEM (the connection is
 * closed). */
int st_http_respond(st_http_request *req, int status, const char *content_type, const void *body,
		    size_t len);

/* Answer with an application/problem+json body
 * {"type":"about:blank","title":<reason>,"status":status,"detail":detail}.
 * detail may be NULL.  Same errors and validity rule as st_http_respond(). */
int st_http_respond_problem(st_http_request *req, int status, const char *detail);

#endif
