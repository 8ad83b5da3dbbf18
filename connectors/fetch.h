/*
 * fetch.h — the one libcurl client the HTTP connectors share (terraform.c,
 * prometheus.c, k8s.c).
 *
 * It owns what must be the same everywhere: http(s) only, timeouts, the
 * user-agent, redirects, bearer or basic credentials, the error buffer, and
 * the wording of failures.  Messages name the source, the URL as the caller
 * shows it (st_fetch_mask_url: no user info, by default no query) and the
 * credential *reference* (environment variable or file; k8s.c names its
 * kubeconfig entries itself), never a credential value; libcurl's own detail
 * is quoted only when it holds neither the secret nor an '@'.  A refused
 * connection says why (the OS error: "Connection refused").
 *
 * The body is handed to the caller's write function as it arrives (a yajl
 * parser, usually): nothing here buffers a response.  Like the connectors it
 * does not log and never touches the store.
 */
#ifndef ST_FETCH_H
#define ST_FETCH_H

#include <stdbool.h>
#include <stddef.h>

#include <curl/curl.h>

#include "connector.h"

#define ST_FETCH_DEFAULT_TIMEOUT_S 30.0

/* How a connector's requests differ; zero is the common case. */
typedef struct st_fetch_opts {
	const char *user_agent; /* "stacktwin-KIND/1" */
	bool total_timeout;	/* the timeout bounds each whole request; otherwise only
				   connecting and stalls (a big body may take longer) */
	bool no_redirects;	/* otherwise up to 5 redirects, to http(s) only */
	bool keepalive;		/* TCP keep-alive probes on the (reused) connection */
	const char *accept;	/* an Accept header value, or NULL */
	bool own_credential;	/* do not read the source's token: the caller calls
				   st_fetch_set_auth (or leaves the request anonymous) */
} st_fetch_opts;

/* One client: caller-owned memory, one CURL handle reused by every
 * st_fetch_get (so connections are kept alive between requests). */
typedef struct st_fetch {
	CURL *curl; /* the caller may set options of its own (TLS) or escape strings */
	const st_source *src;
	double timeout_s; /* src->timeout_s or ST_FETCH_DEFAULT_TIMEOUT_S */
	/* private */
	char *token;		      /* read from the source: owned, wiped on free */
	const char *secret, *secret2; /* values that must not appear in messages */
	char cred[600];		      /* the source's credential reference, for 401/403 */
	struct curl_slist *headers;
	char errbuf[CURL_ERROR_SIZE];
} st_fetch;

/* Set up f for src.  Unless opts->own_credential, reads the source's token
 * (st_source_token): sent as HTTP basic auth password when the source has
 * option `username`, else as a bearer token.  Errors: those of
 * st_source_token (ST_E_INVALID naming the variable or file), -ENOMEM when
 * libcurl cannot start.  Call st_fetch_free afterwards in any case. */
int st_fetch_init(st_fetch *f, const st_source *src, const st_fetch_opts *opts, st_diag *diag);

/* A credential the caller found itself (a kubeconfig user): a bearer token,
 * or basic auth with user and password (token NULL), or none (all NULL).
 * The strings are borrowed and must stay valid until st_fetch_free; the
 * caller's 401/403 messages name where they came from. */
void st_fetch_set_auth(st_fetch *f, const char *token, const char *user, const char *password);

/* Called with each piece of a response body and the response's HTTP status.
 * Returns 0 to go on, ST_FETCH_STOP to stop reading without an error, or a
 * negative code (with its message already in diag) to stop with that error. */
typedef int (*st_fetch_write_fn)(void *ctx, long status, const char *data, size_t n);
#define ST_FETCH_STOP 1

/* GET url.  `shown` is the request as messages show it (user info
 * masked, see st_fetch_mask_url).
 * Returns 0 when a response was received (in full, or until the write
 * function stopped it) with its HTTP status in *ret_status, whatever that
 * status is; the write function's negative code; or ST_E_IO when the
 * request failed (timed out, refused, TLS, ...), the message naming the
 * source and `shown`. */
int st_fetch_get(st_fetch *f, const char *url, const char *shown, st_fetch_write_fn fn, void *ctx,
		 long *ret_status, st_diag *diag);

/* ST_E_IO for a response with an unwanted status: "source 'S': GET <shown>:
 * HTTP <status><detail>"; for 401 and 403 it says the server refused the
 * credential and names its reference (never its value).  detail may be
 * NULL. */
int st_fetch_http_error(const st_fetch *f, const char *shown, long status, const char *detail,
			st_diag *diag);

/* How messages name the source's credential: "the token from environment
 * variable X", "the token from file Y" or "no credential (set token_env or
 * token_file)", into buf. */
void st_fetch_cred_ref(const st_source *src, char *buf, size_t cap);

/* Whether a location is an http:// or https:// URL (any case). */
bool st_fetch_is_url(const char *location);

/* Wipes the credential, frees what f holds; NULL-safe, f may be zeroed. */
void st_fetch_free(st_fetch *f);

/* A URL as messages show it, user info replaced by "***": a new string
 * (free it).  Flags drop more. */
enum {
	ST_FETCH_MASK_QUERY = 1 << 0, /* also the query and the fragment */
	ST_FETCH_MASK_SLASH = 1 << 1, /* also trailing '/' of the path */
};
char *st_fetch_mask_url(const char *url, unsigned flags);

#endif
