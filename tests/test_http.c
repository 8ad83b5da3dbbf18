/*
 * test_http.c — unit tests for src/http.c, the HTTP/1.1 server core.
 *
 * Each test starts a server on 127.0.0.1, port 0, in a uv loop running on a
 * second thread, and talks to it with blocking POSIX sockets (3 s receive
 * timeout, so a broken server fails a test instead of hanging it).  The test
 * handler echoes the request; paths under /defer/MS answer from a uv_timer
 * MS milliseconds later, which lets a test finish requests out of order.
 * The loop thread and the test thread share only sockets and atomics; the
 * server is stopped through a uv_async_t that calls st_http_shutdown().
 *
 * Timeouts are small (header 150 ms, idle 400 ms) so the suite runs in a few
 * seconds; timing assertions use wide margins so a loaded machine does not
 * make them flaky.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <uv.h>

#include "http.h"

enum {
	HEADER_MS = 150,
	IDLE_MS = 400,
	MAX_CONNS = 3,
	MAX_BODY = 1024,
};

typedef struct srv {
	uv_loop_t loop;
	uv_async_t stop;
	st_http_server *s;
	uint16_t port;
	pthread_t th;
	bool stopped;
	atomic_int shutdown_fired;
	atomic_ullong served_at_shutdown;
	atomic_int deferred_done;
	atomic_int deferred_done_at_shutdown;
	atomic_int core_by_status[600]; /* on_core_response calls per status */
	atomic_int core_calls;
} srv;

/* ---- server side (loop thread) ------------------------------------------ */

/* cmocka's asserts longjmp and must stay on the test thread: the loop thread
 * counts failed checks instead, and teardown asserts there were none. */
static atomic_int loop_failures;
#define LCHECK(cond)                                         \
	do {                                                 \
		if (!(cond))                                 \
			atomic_fetch_add(&loop_failures, 1); \
	} while (0)

typedef struct deferred {
	uv_timer_t t;
	st_http_request *req;
	srv *f;
} deferred;

static void echo(st_http_request *req, const char *tag)
{
	size_t blen;
	const char *body = st_http_body(req, &blen);
	char out[2048];
	int n = snprintf(out, sizeof(out), "%s %s q=%s len=%zu body=%.*s%s", st_http_method(req),
			 st_http_path(req), st_http_query(req), blen,
			 (int)(blen > 256 ? 256 : blen), body, tag);
	LCHECK(n > 0 && (size_t)n < sizeof(out));
	LCHECK((st_http_respond(req, 200, "text/plain", out, (size_t)n)) == 0);
}

static void timer_closed(uv_handle_t *h)
{
	free(h->data);
}

static void defer_fire(uv_timer_t *t)
{
	deferred *d = t->data;
	atomic_fetch_add(&d->f->deferred_done, 1); /* before: answering may finish shutdown */
	echo(d->req, " deferred");
	uv_close((uv_handle_t *)&d->t, timer_closed);
}

static void handler(st_http_request *req, void *ctx)
{
	srv *f = ctx;
	const char *path = st_http_path(req);
	char out[256];
	if (strncmp(path, "/defer/", 7) == 0) {
		unsigned long ms = strtoul(path + 7, NULL, 10);
		deferred *d = calloc(1, sizeof(*d));
		if (!d)
			abort();
		d->req = req;
		d->f = f;
		d->t.data = d;
		LCHECK((uv_timer_init(&f->loop, &d->t)) == 0);
		LCHECK((uv_timer_start(&d->t, defer_fire, ms, 0)) == 0);
		LCHECK((st_http_defer(req)) == 0);
	} else if (strcmp(path, "/stats") == 0) {
		st_http_server *s = st_http_request_server(req);
		int n = snprintf(out, sizeof(out), "conns=%zu served=%llu", st_http_connections(s),
				 (unsigned long long)st_http_requests_served(s));
		st_http_respond(req, 200, "text/plain", out, (size_t)n);
	} else if (strcmp(path, "/header") == 0) {
		const char *v = st_http_header(req, st_http_query(req));
		int n = snprintf(out, sizeof(out), "[%s]", v ? v : "(none)");
		st_http_respond(req, 200, "text/plain", out, (size_t)n);
	} else if (strcmp(path, "/noanswer") == 0) {
		/* forgets to answer: the core must send a 500 */
	} else if (strcmp(path, "/extra") == 0) {
		LCHECK((st_http_add_header(req, "X-Extra", "yes")) == 0);
		LCHECK((st_http_add_header(req, "Bad\r\nName", "x")) == -EINVAL);
		st_http_respond(req, 201, NULL, "", 0);
	} else if (strcmp(path, "/problem") == 0) {
		st_http_respond_problem(req, 404, "no \"such\" thing");
	} else {
		echo(req, "");
	}
}

static void on_core(int status, void *ctx)
{
	srv *f = ctx;
	LCHECK(status >= 400 && status < 600);
	if (status >= 0 && status < 600)
		atomic_fetch_add(&f->core_by_status[status], 1);
	atomic_fetch_add(&f->core_calls, 1);
}

static void on_shutdown(st_http_server *s, void *ctx)
{
	srv *f = ctx;
	atomic_store(&f->served_at_shutdown, st_http_requests_served(s));
	atomic_store(&f->deferred_done_at_shutdown, atomic_load(&f->deferred_done));
	atomic_store(&f->shutdown_fired, 1);
	uv_close((uv_handle_t *)&f->stop, NULL);
}

static void stop_cb(uv_async_t *a)
{
	srv *f = a->data;
	LCHECK((st_http_shutdown(f->s, on_shutdown, f)) == 0);
	LCHECK((st_http_shutdown(f->s, on_shutdown, f)) == -EALREADY);
}

static void *loop_main(void *arg)
{
	srv *f = arg;
	uv_run(&f->loop, UV_RUN_DEFAULT);
	return NULL;
}

static int setup(void **state)
{
	srv *f = calloc(1, sizeof(*f));
	assert_non_null(f);
	assert_int_equal(uv_loop_init(&f->loop), 0);
	f->stop.data = f;
	assert_int_equal(uv_async_init(&f->loop, &f->stop, stop_cb), 0);
	st_http_config cfg = {
		.host = "127.0.0.1",
		.port = 0,
		.max_connections = MAX_CONNS,
		.max_header_bytes = 1024,
		.max_headers = 16,
		.max_body_bytes = MAX_BODY,
		.idle_timeout_ms = IDLE_MS,
		.header_timeout_ms = HEADER_MS,
		.on_core_response = on_core,
	};
	assert_int_equal(st_http_server_new(&cfg, handler, f, &f->s), 0);
	assert_int_equal(st_http_listen(f->s, &f->loop, &f->port), 0);
	assert_true(f->port != 0);
	assert_int_equal(pthread_create(&f->th, NULL, loop_main, f), 0);
	*state = f;
	return 0;
}

/* Wait (at most 5 s) for the loop thread to end: a server that never
 * finishes its shutdown fails the test instead of hanging it. */
static void srv_join(srv *f)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_sec += 5;
	assert_int_equal(pthread_timedjoin_np(f->th, NULL, &ts), 0);
}

/* Ask the loop thread to shut the server down and wait for the loop to end. */
static void srv_stop(srv *f)
{
	if (f->stopped)
		return;
	f->stopped = true;
	assert_int_equal(uv_async_send(&f->stop), 0);
	srv_join(f);
}

static int teardown(void **state)
{
	srv *f = *state;
	srv_stop(f);
	assert_int_equal(atomic_load(&f->shutdown_fired), 1);
	assert_int_equal(atomic_load(&loop_failures), 0);
	st_http_server_free(f->s);
	assert_int_equal(uv_loop_close(&f->loop), 0); /* no handle left behind */
	free(f);
	return 0;
}

/* ---- client side (test thread) ------------------------------------------ */

typedef struct cli {
	int fd;
	size_t len;
	char buf[65536];
} cli;

typedef struct resp {
	int status;
	char head[4096];
	char body[8192];
	size_t body_len;
} resp;

static double now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1000.0 + (double)ts.tv_nsec / 1e6;
}

static int cli_try_open(cli *c, uint16_t port)
{
	c->len = 0;
	c->fd = socket(AF_INET, SOCK_STREAM, 0);
	assert_true(c->fd >= 0);
	struct timeval tv = {.tv_sec = 3};
	setsockopt(c->fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons(port)};
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (connect(c->fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		close(c->fd);
		c->fd = -1;
		return -errno;
	}
	return 0;
}

static cli *cli_open(srv *f)
{
	cli *c = calloc(1, sizeof(*c));
	assert_non_null(c);
	assert_int_equal(cli_try_open(c, f->port), 0);
	return c;
}

static void cli_close(cli *c)
{
	if (c->fd >= 0)
		close(c->fd);
	free(c);
}

static void cli_sendn(cli *c, const char *s, size_t n)
{
	while (n) {
		ssize_t k = send(c->fd, s, n, MSG_NOSIGNAL);
		assert_true(k > 0);
		s += k;
		n -= (size_t)k;
	}
}

static void cli_send(cli *c, const char *s)
{
	cli_sendn(c, s, strlen(s));
}

/* Read more bytes into c->buf: >0 bytes, 0 EOF, <0 error or timeout. */
static ssize_t cli_fill(cli *c)
{
	if (c->len >= sizeof(c->buf) - 1)
		return -1;
	ssize_t k = recv(c->fd, c->buf + c->len, sizeof(c->buf) - 1 - c->len, 0);
	if (k > 0) {
		c->len += (size_t)k;
		c->buf[c->len] = '\0';
	}
	return k;
}

/* Value of header `name` in r->head (case-insensitive), or NULL. */
static const char *resp_header(const resp *r, const char *name, char *out, size_t cap)
{
	char pat[128];
	snprintf(pat, sizeof(pat), "\r\n%s:", name);
	const char *p = strcasestr(r->head, pat);
	if (!p)
		return NULL;
	p += strlen(pat);
	while (*p == ' ')
		p++;
	const char *e = strstr(p, "\r\n");
	size_t n = e ? (size_t)(e - p) : strlen(p);
	if (n >= cap)
		n = cap - 1;
	memcpy(out, p, n);
	out[n] = '\0';
	return out;
}

/* Read one response (no body when for_head).  0, or -1 on EOF/timeout/junk. */
static int cli_read(cli *c, resp *r, bool for_head)
{
	memset(r, 0, sizeof(*r));
	char *end;
	while (!(end = (c->len ? strstr(c->buf, "\r\n\r\n") : NULL)))
		if (cli_fill(c) <= 0)
			return -1;
	size_t hlen = (size_t)(end - c->buf) + 4;
	if (hlen >= sizeof(r->head) || sscanf(c->buf, "HTTP/1.1 %d ", &r->status) != 1)
		return -1;
	memcpy(r->head, c->buf, hlen);
	r->head[hlen] = '\0';
	char v[64];
	size_t cl = 0;
	if (resp_header(r, "Content-Length", v, sizeof(v)))
		cl = strtoul(v, NULL, 10);
	size_t blen = for_head ? 0 : cl;
	if (blen >= sizeof(r->body))
		return -1;
	while (c->len < hlen + blen)
		if (cli_fill(c) <= 0)
			return -1;
	memcpy(r->body, c->buf + hlen, blen);
	r->body[blen] = '\0';
	r->body_len = blen;
	memmove(c->buf, c->buf + hlen + blen, c->len - hlen - blen);
	c->len -= hlen + blen;
	c->buf[c->len] = '\0';
	return 0;
}

/* True when the server closes the connection (EOF or reset) with no further
 * bytes; *ret_ms (may be NULL) gets the time waited. */
static bool cli_closed(cli *c, double *ret_ms)
{
	double t0 = now_ms();
	char b[256];
	ssize_t k = c->len ? 1 : recv(c->fd, b, sizeof(b), 0);
	if (ret_ms)
		*ret_ms = now_ms() - t0;
	return k == 0 || (k < 0 && (errno == ECONNRESET));
}

/* One request / response on a new connection. */
static void get_once(srv *f, const char *request, resp *r)
{
	cli *c = cli_open(f);
	cli_send(c, request);
	assert_int_equal(cli_read(c, r, false), 0);
	cli_close(c);
}

static void assert_problem(const resp *r, int status)
{
	char v[128], want[32];
	assert_int_equal(r->status, status);
	assert_non_null(resp_header(r, "Content-Type", v, sizeof(v)));
	assert_string_equal(v, "application/problem+json");
	snprintf(want, sizeof(want), "\"status\":%d", status);
	assert_non_null(strstr(r->body, want));
	assert_non_null(strstr(r->body, "\"type\":\"about:blank\""));
	assert_non_null(strstr(r->body, "\"detail\":\""));
}

static void assert_close_header(const resp *r)
{
	char v[64];
	assert_non_null(resp_header(r, "Connection", v, sizeof(v)));
	assert_string_equal(v, "close");
}

/* ---- tests --------------------------------------------------------------- */

static void simple_get(void **state)
{
	srv *f = *state;
	resp r;
	char v[128];
	get_once(f, "GET /hello?x=1&y=%20 HTTP/1.1\r\nHost: t\r\n\r\n", &r);
	assert_int_equal(r.status, 200);
	assert_string_equal(r.body, "GET /hello q=x=1&y=%20 len=0 body=");
	assert_non_null(resp_header(&r, "Content-Length", v, sizeof(v)));
	assert_int_equal(strtoul(v, NULL, 10), r.body_len);
	assert_non_null(resp_header(&r, "Content-Type", v, sizeof(v)));
	assert_string_equal(v, "text/plain");
	assert_non_null(resp_header(&r, "Date", v, sizeof(v)));
	assert_true(strlen(v) == 29 && strcmp(v + 25, " GMT") == 0);
	assert_null(resp_header(&r, "Connection", v, sizeof(v)));
}

static void keep_alive_sequential(void **state)
{
	srv *f = *state;
	cli *c = cli_open(f);
	resp r;
	const char *paths[] = {"/a", "/b", "/c"};
	for (int i = 0; i < 3; i++) {
		char req[128], want[128];
		snprintf(req, sizeof(req), "GET %s HTTP/1.1\r\nHost: t\r\n\r\n", paths[i]);
		cli_send(c, req);
		assert_int_equal(cli_read(c, &r, false), 0);
		assert_int_equal(r.status, 200);
		snprintf(want, sizeof(want), "GET %s q= len=0 body=", paths[i]);
		assert_string_equal(r.body, want);
	}
	cli_send(c, "GET /stats HTTP/1.1\r\nHost: t\r\n\r\n");
	assert_int_equal(cli_read(c, &r, false), 0);
	assert_string_equal(r.body, "conns=1 served=3");
	cli_close(c);
}

static void pipelined_responses_in_order(void **state)
{
	srv *f = *state;
	cli *c = cli_open(f);
	resp r;
	double t0 = now_ms();
	cli_send(c, "GET /defer/250 HTTP/1.1\r\nHost: t\r\n\r\n"
		    "GET /defer/60 HTTP/1.1\r\nHost: t\r\n\r\n"
		    "POST /fast HTTP/1.1\r\nHost: t\r\nContent-Length: 3\r\n\r\nabc");
	assert_int_equal(cli_read(c, &r, false), 0);
	assert_string_equal(r.body, "GET /defer/250 q= len=0 body= deferred");
	assert_true(now_ms() - t0 >= 200);
	assert_int_equal(cli_read(c, &r, false), 0);
	assert_string_equal(r.body, "GET /defer/60 q= len=0 body= deferred");
	assert_int_equal(cli_read(c, &r, false), 0);
	assert_string_equal(r.body, "POST /fast q= len=3 body=abc");
	/* the connection is still usable */
	cli_send(c, "GET /stats HTTP/1.1\r\nHost: t\r\n\r\n");
	assert_int_equal(cli_read(c, &r, false), 0);
	assert_string_equal(r.body, "conns=1 served=3");
	cli_close(c);
}

static void pipelining_beyond_queue_limit(void **state)
{
	/* 40 pipelined requests, more than the default 16 queued per connection:
	 * the server pauses parsing and resumes; all are answered in order. */
	srv *f = *state;
	cli *c = cli_open(f);
	char all[4096];
	size_t n = 0;
	for (int i = 0; i < 40; i++)
		n += (size_t)snprintf(all + n, sizeof(all) - n, "GET /%s%d HTTP/1.1\r\n\r\n",
				      i % 7 == 0 ? "defer/5/" : "p", i);
	cli_sendn(c, all, n);
	for (int i = 0; i < 40; i++) {
		resp r;
		char want[128];
		assert_int_equal(cli_read(c, &r, false), 0);
		snprintf(want, sizeof(want), "GET /%s%d q= len=0 body=%s",
			 i % 7 == 0 ? "defer/5/" : "p", i, i % 7 == 0 ? " deferred" : "");
		assert_string_equal(r.body, want);
	}
	cli_close(c);
}

static void chunked_post(void **state)
{
	srv *f = *state;
	cli *c = cli_open(f);
	resp r;
	cli_send(c, "POST /up HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n"
		    "5\r\nhello\r\n");
	usleep(20000); /* body split across reads */
	cli_send(c, "6;ext=1\r\n world\r\n0\r\n\r\n");
	assert_int_equal(cli_read(c, &r, false), 0);
	assert_int_equal(r.status, 200);
	assert_string_equal(r.body, "POST /up q= len=11 body=hello world");
	/* trailer fields are visible like headers */
	cli_send(c, "POST /header?x-trailer HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n"
		    "1\r\nz\r\n0\r\nX-Trailer: tt\r\n\r\n");
	assert_int_equal(cli_read(c, &r, false), 0);
	assert_string_equal(r.body, "[tt]");
	cli_close(c);
}

static void body_over_limit_413(void **state)
{
	srv *f = *state;
	resp r;
	/* declared length: refused before the body is read */
	cli *c = cli_open(f);
	cli_send(c, "POST /x HTTP/1.1\r\nHost: t\r\nContent-Length: 1025\r\n\r\n");
	assert_int_equal(cli_read(c, &r, false), 0);
	assert_problem(&r, 413);
	assert_close_header(&r);
	assert_true(cli_closed(c, NULL));
	cli_close(c);

	/* chunked: refused when the decoded body passes the limit */
	c = cli_open(f);
	cli_send(c, "POST /x HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n");
	char chunk[600];
	memset(chunk, 'a', sizeof(chunk));
	for (int i = 0; i < 2; i++) {
		cli_send(c, "258\r\n"); /* 600 */
		cli_sendn(c, chunk, sizeof(chunk));
		cli_send(c, "\r\n");
	}
	assert_int_equal(cli_read(c, &r, false), 0);
	assert_problem(&r, 413);
	assert_true(cli_closed(c, NULL));
	cli_close(c);

	/* exactly at the limit is fine */
	c = cli_open(f);
	cli_send(c, "POST /x HTTP/1.1\r\nHost: t\r\nContent-Length: 1024\r\n\r\n");
	char body[MAX_BODY];
	memset(body, 'b', sizeof(body));
	cli_sendn(c, body, sizeof(body));
	assert_int_equal(cli_read(c, &r, false), 0);
	assert_int_equal(r.status, 200);
	assert_non_null(strstr(r.body, "len=1024 "));
	cli_close(c);
}

static void headers_over_limits_431(void **state)
{
	srv *f = *state;
	resp r;
	char req[4096];
	size_t n = (size_t)snprintf(req, sizeof(req), "GET / HTTP/1.1\r\n");
	for (int i = 0; i < 17; i++)
		n += (size_t)snprintf(req + n, sizeof(req) - n, "X-H%d: v\r\n", i);
	snprintf(req + n, sizeof(req) - n, "\r\n");
	cli *c = cli_open(f);
	cli_send(c, req);
	assert_int_equal(cli_read(c, &r, false), 0);
	assert_problem(&r, 431);
	assert_close_header(&r);
	assert_true(cli_closed(c, NULL));
	cli_close(c);

	/* 16 headers are allowed */
	n = (size_t)snprintf(req, sizeof(req), "GET / HTTP/1.1\r\n");
	for (int i = 0; i < 16; i++)
		n += (size_t)snprintf(req + n, sizeof(req) - n, "X-H%d: v\r\n", i);
	snprintf(req + n, sizeof(req) - n, "\r\n");
	get_once(f, req, &r);
	assert_int_equal(r.status, 200);

	/* one header over max_header_bytes */
	char big[1200];
	memset(big, 'v', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	snprintf(req, sizeof(req), "GET / HTTP/1.1\r\nX-Big: %s\r\n\r\n", big);
	c = cli_open(f);
	cli_send(c, req);
	assert_int_equal(cli_read(c, &r, false), 0);
	assert_problem(&r, 431);
	assert_true(cli_closed(c, NULL));
	cli_close(c);

	/* an over-long request target is 414 */
	snprintf(req, sizeof(req), "GET /%s HTTP/1.1\r\n\r\n", big);
	c = cli_open(f);
	cli_send(c, req);
	assert_int_equal(cli_read(c, &r, false), 0);
	assert_problem(&r, 414);
	cli_close(c);
}

static void malformed_request_400(void **state)
{
	srv *f = *state;
	static const char *bad[] = {
		"BL@H / HTTP/1.1\r\n\r\n",
		"GET / HTTP/1.1\r\nBad Header\r\n\r\n",
		"GET / HTTP/1.1\r\nContent-Length: 12x\r\n\r\n",
		"POST / HTTP/1.1\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
		"GET / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		cli *c = cli_open(f);
		resp r;
		cli_send(c, bad[i]);
		assert_int_equal(cli_read(c, &r, false), 0);
		assert_problem(&r, 400);
		assert_close_header(&r);
		assert_true(cli_closed(c, NULL));
		cli_close(c);
	}
}

static void good_then_bad_pipelined(void **state)
{
	/* the good request is answered first, then the 400, then close */
	srv *f = *state;
	cli *c = cli_open(f);
	resp r;
	cli_send(c, "GET /defer/50 HTTP/1.1\r\n\r\n\x01\x02garbage\r\n\r\n");
	assert_int_equal(cli_read(c, &r, false), 0);
	assert_int_equal(r.status, 200);
	char v[64];
	assert_null(resp_header(&r, "Connection", v, sizeof(v)));
	assert_int_equal(cli_read(c, &r, false), 0);
	assert_problem(&r, 400);
	assert_true(cli_closed(c, NULL));
	cli_close(c);
}

static void unsupported_version_505(void **state)
{
	srv *f = *state;
	resp r;
	get_once(f, "GET / HTTP/2.0\r\n\r\n", &r);
	assert_problem(&r, 505);
}

static void header_timeout(void **state)
{
	srv *f = *state;
	cli *c = cli_open(f);
	resp r;
	double t0 = now_ms();
	cli_send(c, "GET / HTTP/1.1\r\nHost: t\r\n");
	/* trickling bytes does not extend the deadline (slowloris): had either
	 * write restarted the timer, the 408 would come at >= 270 ms */
	usleep(60000);
	cli_send(c, "X-A: 1\r\n");
	usleep(60000);
	cli_send(c, "X-B: 2\r\n");
	assert_int_equal(cli_read(c, &r, false), 0);
	double ms = now_ms() - t0;
	assert_problem(&r, 408);
	assert_true(ms >= HEADER_MS - 10);
	assert_true(ms < 240);
	assert_true(cli_closed(c, NULL));
	cli_close(c);
}

static void idle_keep_alive_timeout(void **state)
{
	srv *f = *state;
	cli *c = cli_open(f);
	resp r;
	cli_send(c, "GET / HTTP/1.1\r\n\r\n");
	assert_int_equal(cli_read(c, &r, false), 0);
	assert_int_equal(r.status, 200);
	double ms;
	assert_true(cli_closed(c, &ms));
	assert_true(ms >= IDLE_MS - 50);
	assert_true(ms < IDLE_MS + 1000);
	cli_close(c);

	/* a connection that never sends anything is closed too */
	c = cli_open(f);
	assert_true(cli_closed(c, &ms));
	assert_true(ms >= IDLE_MS - 50 && ms < IDLE_MS + 1000);
	cli_close(c);
}

static void max_connections_503(void **state)
{
	srv *f = *state;
	cli *cs[MAX_CONNS];
	resp r;
	for (int i = 0; i < MAX_CONNS; i++) {
		cs[i] = cli_open(f);
		cli_send(cs[i], "GET /a HTTP/1.1\r\n\r\n");
		assert_int_equal(cli_read(cs[i], &r, false), 0);
		assert_int_equal(r.status, 200);
	}
	cli *extra = cli_open(f);
	cli_send(extra, "GET /a HTTP/1.1\r\n\r\n");
	assert_int_equal(cli_read(extra, &r, false), 0);
	assert_problem(&r, 503);
	assert_close_header(&r);
	assert_true(cli_closed(extra, NULL));
	cli_close(extra);

	/* a freed slot is usable again */
	cli_close(cs[0]);
	int status = 0;
	for (int tries = 0; tries < 100 && status != 200; tries++) {
		cli *c = cli_open(f);
		cli_send(c, "GET /stats HTTP/1.1\r\n\r\n");
		if (cli_read(c, &r, false) == 0)
			status = r.status;
		cli_close(c);
		if (status != 200)
			usleep(10000);
	}
	assert_int_equal(status, 200);
	for (int i = 1; i < MAX_CONNS; i++)
		cli_close(cs[i]);
}

static void connection_close_honoured(void **state)
{
	srv *f = *state;
	cli *c = cli_open(f);
	resp r;
	char v[64];
	/* the request after "Connection: close" is never answered */
	cli_send(c, "GET /x HTTP/1.1\r\nConnection: close\r\n\r\nGET /y HTTP/1.1\r\n\r\n");
	assert_int_equal(cli_read(c, &r, false), 0);
	assert_int_equal(r.status, 200);
	assert_string_equal(r.body, "GET /x q= len=0 body=");
	assert_close_header(&r);
	assert_true(cli_closed(c, NULL));
	cli_close(c);

	/* HTTP/1.0 closes by default ... */
	c = cli_open(f);
	cli_send(c, "GET /old HTTP/1.0\r\n\r\n");
	assert_int_equal(cli_read(c, &r, false), 0);
	assert_int_equal(r.status, 200);
	assert_close_header(&r);
	assert_true(cli_closed(c, NULL));
	cli_close(c);

	/* ... unless keep-alive is asked for */
	c = cli_open(f);
	cli_send(c, "GET /old HTTP/1.0\r\nConnection: keep-alive\r\n\r\n");
	assert_int_equal(cli_read(c, &r, false), 0);
	assert_non_null(resp_header(&r, "Connection", v, sizeof(v)));
	assert_string_equal(v, "keep-alive");
	cli_send(c, "GET /again HTTP/1.0\r\nConnection: keep-alive\r\n\r\n");
	assert_int_equal(cli_read(c, &r, false), 0);
	assert_string_equal(r.body, "GET /again q= len=0 body=");
	cli_close(c);
}

static void head_has_no_body(void **state)
{
	srv *f = *state;
	cli *c = cli_open(f);
	resp r;
	char v[64];
	cli_send(c, "HEAD /h HTTP/1.1\r\n\r\nGET /g HTTP/1.1\r\n\r\n");
	assert_int_equal(cli_read(c, &r, true), 0);
	assert_int_equal(r.status, 200);
	assert_non_null(resp_header(&r, "Content-Length", v, sizeof(v)));
	assert_int_equal(strtoul(v, NULL, 10), strlen("HEAD /h q= len=0 body="));
	/* had the HEAD response carried a body, this would read it as junk */
	assert_int_equal(cli_read(c, &r, false), 0);
	assert_int_equal(r.status, 200);
	assert_string_equal(r.body, "GET /g q= len=0 body=");
	cli_close(c);
}

static void header_lookup_and_helpers(void **state)
{
	srv *f = *state;
	resp r;
	char v[64];
	get_once(f, "GET /header?x-test HTTP/1.1\r\nX-TEST: abc\r\n\r\n", &r);
	assert_string_equal(r.body, "[abc]");
	get_once(f, "GET /header?x-empty HTTP/1.1\r\nX-Empty:\r\nX-Other: o\r\n\r\n", &r);
	assert_string_equal(r.body, "[]");
	get_once(f, "GET /header?x-missing HTTP/1.1\r\nX-Other: o\r\n\r\n", &r);
	assert_string_equal(r.body, "[(none)]");
	get_once(f, "GET /noanswer HTTP/1.1\r\n\r\n", &r);
	assert_problem(&r, 500);
	get_once(f, "GET /extra HTTP/1.1\r\n\r\n", &r);
	assert_int_equal(r.status, 201);
	assert_non_null(resp_header(&r, "X-Extra", v, sizeof(v)));
	assert_string_equal(v, "yes");
	assert_null(resp_header(&r, "Content-Type", v, sizeof(v)));
	get_once(f, "GET /problem HTTP/1.1\r\n\r\n", &r);
	assert_problem(&r, 404);
	assert_non_null(strstr(r.body, "\"title\":\"Not Found\""));
	assert_non_null(strstr(r.body, "\"detail\":\"no \\\"such\\\" thing\""));
	get_once(f, "GET http://example.com/abs?k=v HTTP/1.1\r\n\r\n", &r);
	assert_string_equal(r.body, "GET /abs q=k=v len=0 body=");
}

static void upgrade_and_connect(void **state)
{
	/* no protocol switch: an upgrade request is answered normally and the
	 * connection closed; CONNECT is refused */
	srv *f = *state;
	cli *c = cli_open(f);
	resp r;
	cli_send(c, "GET /ws HTTP/1.1\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n"
		    "more bytes");
	assert_int_equal(cli_read(c, &r, false), 0);
	assert_int_equal(r.status, 200);
	assert_string_equal(r.body, "GET /ws q= len=0 body=");
	assert_close_header(&r);
	assert_true(cli_closed(c, NULL));
	cli_close(c);
	get_once(f, "CONNECT example.com:443 HTTP/1.1\r\n\r\n", &r);
	assert_problem(&r, 501);
	get_once(f, "GET http://example.com?k=v HTTP/1.1\r\n\r\n", &r);
	assert_string_equal(r.body, "GET  q=k=v len=0 body=");
}

static void expect_continue(void **state)
{
	srv *f = *state;
	cli *c = cli_open(f);
	resp r;
	cli_send(c, "POST /e HTTP/1.1\r\nContent-Length: 2\r\nExpect: 100-continue\r\n\r\n");
	assert_int_equal(cli_read(c, &r, false), 0);
	assert_int_equal(r.status, 100);
	cli_send(c, "ok");
	assert_int_equal(cli_read(c, &r, false), 0);
	assert_string_equal(r.body, "POST /e q= len=2 body=ok");
	cli_close(c);
}

static void garbage_never_crashes(void **state)
{
	/* random bytes, optionally after a valid request line: every connection
	 * gets at most an error status and a close, and the server keeps serving */
	srv *f = *state;
	uint64_t x = 0x9E3779B97F4A7C15ULL;
	for (int i = 0; i < 40; i++) {
		char junk[512];
		size_t n = 0;
		if (i % 2)
			n = (size_t)snprintf(junk, sizeof(junk), "GET / HTTP/1.1\r\n");
		for (; n < sizeof(junk); n++) {
			x ^= x << 13, x ^= x >> 7, x ^= x << 17;
			junk[n] = (char)(x & 0xff);
		}
		cli *c = cli_open(f);
		cli_sendn(c, junk, sizeof(junk));
		resp r;
		if (cli_read(c, &r, false) == 0) {
			/* 200: the junk began with a bare LF, ending the headers */
			assert_true(r.status == 200 || r.status == 400 || r.status == 431 ||
				    r.status == 505 || r.status == 501 || r.status == 413);
		}
		cli_close(c);
	}
	resp r;
	get_once(f, "GET /alive HTTP/1.1\r\n\r\n", &r);
	assert_int_equal(r.status, 200);
}

static void shutdown_waits_for_deferred(void **state)
{
	srv *f = *state;
	cli *c = cli_open(f);
	cli *idle = cli_open(f);
	resp r;
	cli_send(c, "GET /defer/300 HTTP/1.1\r\n\r\n");
	usleep(60000); /* let the server receive it */
	assert_int_equal(uv_async_send(&f->stop), 0);
	f->stopped = true;
	/* new connections are refused once the listener is closed */
	cli probe;
	int rc = 0;
	for (int tries = 0; tries < 100 && rc == 0; tries++) {
		rc = cli_try_open(&probe, f->port);
		if (rc == 0) {
			close(probe.fd);
			usleep(5000);
		}
	}
	assert_int_equal(rc, -ECONNREFUSED);
	/* the idle connection is closed at once */
	double ms;
	assert_true(cli_closed(idle, &ms));
	assert_true(ms < 250);
	assert_int_equal(atomic_load(&f->shutdown_fired), 0);
	/* the in-flight request is still answered, announcing the close */
	assert_int_equal(cli_read(c, &r, false), 0);
	assert_int_equal(r.status, 200);
	assert_string_equal(r.body, "GET /defer/300 q= len=0 body= deferred");
	assert_close_header(&r);
	assert_true(cli_closed(c, NULL));
	srv_join(f);
	assert_int_equal(atomic_load(&f->shutdown_fired), 1);
	assert_int_equal(atomic_load(&f->deferred_done_at_shutdown), 1);
	assert_int_equal(atomic_load(&f->served_at_shutdown), 1);
	cli_close(c);
	cli_close(idle);
}

static void shutdown_with_orphaned_request(void **state)
{
	/* the client resets the connection while its request is deferred:
	 * shutdown still waits for the handler to answer (the answer is dropped),
	 * so the handler's timer is never left behind */
	srv *f = *state;
	cli *c = cli_open(f);
	cli_send(c, "GET /defer/200 HTTP/1.1\r\n\r\n");
	usleep(50000);
	struct linger lg = {.l_onoff = 1, .l_linger = 0};
	assert_int_equal(setsockopt(c->fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg)), 0);
	cli_close(c); /* RST */
	usleep(20000);
	assert_int_equal(uv_async_send(&f->stop), 0);
	f->stopped = true;
	srv_join(f);
	assert_int_equal(atomic_load(&f->shutdown_fired), 1);
	assert_int_equal(atomic_load(&f->deferred_done_at_shutdown), 1);
	assert_int_equal(atomic_load(&f->served_at_shutdown), 0);
}

static void core_responses_reported(void **state)
{
	/* on_core_response sees every response the core makes itself, with its
	 * status, and none of the handler's */
	srv *f = *state;
	resp r;
	get_once(f, "GET /a HTTP/1.1\r\n\r\n", &r);
	assert_int_equal(r.status, 200);
	get_once(f, "GET /problem HTTP/1.1\r\n\r\n", &r);
	assert_int_equal(r.status, 404);
	assert_int_equal(atomic_load(&f->core_calls), 0);

	char req[4096];
	size_t n = (size_t)snprintf(req, sizeof(req), "GET / HTTP/1.1\r\n");
	for (int i = 0; i < 17; i++)
		n += (size_t)snprintf(req + n, sizeof(req) - n, "X-H%d: v\r\n", i);
	snprintf(req + n, sizeof(req) - n, "\r\n");
	get_once(f, req, &r);
	assert_problem(&r, 431);
	assert_int_equal(atomic_load(&f->core_by_status[431]), 1);

	get_once(f, "NOT A REQUEST\r\n\r\n", &r);
	assert_problem(&r, 400);
	assert_int_equal(atomic_load(&f->core_by_status[400]), 1);

	get_once(f, "GET /noanswer HTTP/1.1\r\n\r\n", &r);
	assert_problem(&r, 500);
	assert_int_equal(atomic_load(&f->core_by_status[500]), 1);

	cli *cs[MAX_CONNS];
	for (int i = 0; i < MAX_CONNS; i++) {
		cs[i] = cli_open(f);
		cli_send(cs[i], "GET /a HTTP/1.1\r\n\r\n");
		assert_int_equal(cli_read(cs[i], &r, false), 0);
		assert_int_equal(r.status, 200);
	}
	cli *extra = cli_open(f);
	assert_int_equal(cli_read(extra, &r, false), 0);
	assert_problem(&r, 503);
	cli_close(extra);
	for (int i = 0; i < MAX_CONNS; i++)
		cli_close(cs[i]);
	assert_int_equal(atomic_load(&f->core_by_status[503]), 1);
	assert_int_equal(atomic_load(&f->core_calls), 4);
}

static void api_errors(void **state)
{
	(void)state;
	st_http_server *s = NULL;
	st_http_config cfg = {0};
	assert_int_equal(st_http_server_new(&cfg, NULL, NULL, &s), -EINVAL);
	assert_null(s);
	assert_int_equal(st_http_server_new(&cfg, handler, NULL, &s), 0);
	uv_loop_t loop;
	assert_int_equal(uv_loop_init(&loop), 0);
	assert_int_equal(st_http_shutdown(s, NULL, NULL), -EINVAL); /* never listened */
	st_http_server_free(s);

	cfg.host = "not-an-address";
	assert_int_equal(st_http_server_new(&cfg, handler, NULL, &s), 0);
	assert_int_equal(st_http_listen(s, &loop, NULL), -EINVAL);
	st_http_server_free(s);
	st_http_server_free(NULL);
	assert_int_equal(st_http_respond(NULL, 200, NULL, NULL, 0), -EINVAL);
	assert_int_equal(st_http_defer(NULL), -EINVAL);
	assert_int_equal(uv_loop_close(&loop), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(simple_get, setup, teardown),
		cmocka_unit_test_setup_teardown(keep_alive_sequential, setup, teardown),
		cmocka_unit_test_setup_teardown(pipelined_responses_in_order, setup, teardown),
		cmocka_unit_test_setup_teardown(pipelining_beyond_queue_limit, setup, teardown),
		cmocka_unit_test_setup_teardown(chunked_post, setup, teardown),
		cmocka_unit_test_setup_teardown(body_over_limit_413, setup, teardown),
		cmocka_unit_test_setup_teardown(headers_over_limits_431, setup, teardown),
		cmocka_unit_test_setup_teardown(malformed_request_400, setup, teardown),
		cmocka_unit_test_setup_teardown(good_then_bad_pipelined, setup, teardown),
		cmocka_unit_test_setup_teardown(unsupported_version_505, setup, teardown),
		cmocka_unit_test_setup_teardown(header_timeout, setup, teardown),
		cmocka_unit_test_setup_teardown(idle_keep_alive_timeout, setup, teardown),
		cmocka_unit_test_setup_teardown(max_connections_503, setup, teardown),
		cmocka_unit_test_setup_teardown(connection_close_honoured, setup, teardown),
		cmocka_unit_test_setup_teardown(head_has_no_body, setup, teardown),
		cmocka_unit_test_setup_teardown(header_lookup_and_helpers, setup, teardown),
		cmocka_unit_test_setup_teardown(upgrade_and_connect, setup, teardown),
		cmocka_unit_test_setup_teardown(expect_continue, setup, teardown),
		cmocka_unit_test_setup_teardown(garbage_never_crashes, setup, teardown),
		cmocka_unit_test_setup_teardown(shutdown_waits_for_deferred, setup, teardown),
		cmocka_unit_test_setup_teardown(shutdown_with_orphaned_request, setup, teardown),
		cmocka_unit_test_setup_teardown(core_responses_reported, setup, teardown),
		cmocka_unit_test(api_errors),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
