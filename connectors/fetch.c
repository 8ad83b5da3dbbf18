/*
 * fetch.c — the libcurl client of the HTTP connectors (fetch.h).
 *
 * Everything a failure message may contain is decided here, once: the
 * source's name, the URL as the caller shows it, the credential reference,
 * and libcurl's error detail only after checking it holds no secret.  It
 * must not log, keep a response body, or put a credential value anywhere
 * but into libcurl.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "fetch.h"

void st_fetch_cred_ref(const st_source *src, char *buf, size_t cap)
{
	if (src->token_env)
		snprintf(buf, cap, "the token from environment variable %s", src->token_env);
	else if (src->token_file)
		snprintf(buf, cap, "the token from file %s", src->token_file);
	else
		snprintf(buf, cap, "no credential (set token_env or token_file)");
}

bool st_fetch_is_url(const char *location)
{
	return !strncasecmp(location, "http://", 7) || !strncasecmp(location, "https://", 8);
}

int st_fetch_init(st_fetch *f, const st_source *src, const st_fetch_opts *opts, st_diag *diag)
{
	memset(f, 0, sizeof(*f));
	f->src = src;
	f->timeout_s = src->timeout_s > 0 ? src->timeout_s : ST_FETCH_DEFAULT_TIMEOUT_S;
	st_fetch_cred_ref(src, f->cred, sizeof(f->cred));
	if (!opts->own_credential) {
		int rc = st_source_token(src, &f->token, diag);
		if (rc < 0)
			return rc;
	}
	CURL *c = curl_easy_init();
	if (!c)
		return st_diag_set(diag, -ENOMEM, "source '%s': cannot start libcurl", src->name);
	f->curl = c;
	long tms = (long)(f->timeout_s * 1000.0);
	long ts = (long)(f->timeout_s + 0.999);
	if (tms < 1)
		tms = 1;
	curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
	if (opts->no_redirects)
		curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L);
	else {
		curl_easy_setopt(c, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
		curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 1L);
		curl_easy_setopt(c, CURLOPT_MAXREDIRS, 5L);
	}
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, tms);
	if (opts->total_timeout)
		curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, tms);
	else {
		/* a stall longer than the timeout gives up; a big body may take longer */
		curl_easy_setopt(c, CURLOPT_LOW_SPEED_LIMIT, 1L);
		curl_easy_setopt(c, CURLOPT_LOW_SPEED_TIME, ts < 1 ? 1L : ts);
	}
	curl_easy_setopt(c, CURLOPT_ACCEPT_ENCODING, "");
	curl_easy_setopt(c, CURLOPT_USERAGENT, opts->user_agent);
	curl_easy_setopt(c, CURLOPT_ERRORBUFFER, f->errbuf);
	if (opts->keepalive)
		curl_easy_setopt(c, CURLOPT_TCP_KEEPALIVE, 1L);
	if (opts->accept) {
		char h[128];
		snprintf(h, sizeof(h), "Accept: %s", opts->accept);
		f->headers = curl_slist_append(NULL, h);
		curl_easy_setopt(c, CURLOPT_HTTPHEADER, f->headers);
	}
	if (f->token) {
		const char *user = st_source_option(src, "username");
		if (user)
			st_fetch_set_auth(f, NULL, user, f->token);
		else
			st_fetch_set_auth(f, f->token, NULL, NULL);
	}
	return 0;
}

void st_fetch_set_auth(st_fetch *f, const char *token, const char *user, const char *password)
{
	CURL *c = f->curl;
	if (token) {
		curl_easy_setopt(c, CURLOPT_HTTPAUTH, (long)CURLAUTH_BEARER);
		curl_easy_setopt(c, CURLOPT_XOAUTH2_BEARER, token);
	} else if (user) {
		curl_easy_setopt(c, CURLOPT_HTTPAUTH, (long)CURLAUTH_BASIC);
		curl_easy_setopt(c, CURLOPT_USERNAME, user);
		curl_easy_setopt(c, CURLOPT_PASSWORD, password ? password : "");
	}
	f->secret = token;
	f->secret2 = password;
}

/* One request's state, the CURLOPT_WRITEDATA of st_fetch_get. */
typedef struct req {
	st_fetch *f;
	st_fetch_write_fn fn;
	void *ctx;
	long status;
	bool checked, stopped;
	int err; /* the write function's negative code */
} req;

static size_t on_body(char *data, size_t size, size_t nmemb, void *ud)
{
	req *r = ud;
	size_t n = size * nmemb;
	if (!r->checked) {
		r->checked = true;
		curl_easy_getinfo(r->f->curl, CURLINFO_RESPONSE_CODE, &r->status);
	}
	int rc = r->fn(r->ctx, r->status, data, n);
	if (rc < 0)
		r->err = rc;
	else if (rc == ST_FETCH_STOP)
		r->stopped = true;
	else
		return n;
	return 0; /* libcurl stops with CURLE_WRITE_ERROR */
}

/* libcurl's detail may name hosts and ports; make sure it holds no secret. */
static bool detail_safe(const st_fetch *f)
{
	const char *e = f->errbuf;
	return e[0] && !strchr(e, '@') && !(f->secret && *f->secret && strstr(e, f->secret)) &&
	       !(f->secret2 && *f->secret2 && strstr(e, f->secret2));
}

static int transport_error(st_fetch *f, CURLcode cc, const char *shown, st_diag *diag)
{
	const char *name = f->src->name;
	bool safe = detail_safe(f);
	long os_err = 0;
	curl_easy_getinfo(f->curl, CURLINFO_OS_ERRNO, &os_err);
	if (cc == CURLE_OPERATION_TIMEDOUT)
		return st_diag_set(diag, ST_E_IO, "source '%s': GET %s: timed out after %g s%s%s",
				   name, shown, f->timeout_s, safe ? ": " : "",
				   safe ? f->errbuf : "");
	if (cc == CURLE_COULDNT_CONNECT && os_err > 0)
		return st_diag_set(diag, ST_E_IO, "source '%s': GET %s: %s: %s", name, shown,
				   curl_easy_strerror(cc), strerror((int)os_err));
	return st_diag_set(diag, ST_E_IO, "source '%s': GET %s: %s%s%s", name, shown,
			   curl_easy_strerror(cc), safe ? ": " : "", safe ? f->errbuf : "");
}

int st_fetch_get(st_fetch *f, const char *url, const char *shown, st_fetch_write_fn fn, void *ctx,
		 long *ret_status, st_diag *diag)
{
	req r = {.f = f, .fn = fn, .ctx = ctx};
	CURL *c = f->curl;
	f->errbuf[0] = 0;
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, &r);
	CURLcode cc = curl_easy_perform(c);
	if (!r.checked)
		curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &r.status);
	if (r.err < 0)
		return r.err; /* the write function's message stands */
	if (cc != CURLE_OK && !(cc == CURLE_WRITE_ERROR && r.stopped))
		return transport_error(f, cc, shown, diag);
	*ret_status = r.status;
	return 0;
}

int st_fetch_http_error(const st_fetch *f, const char *shown, long status, const char *detail,
			st_diag *diag)
{
	if (!detail)
		detail = "";
	if (status == 401 || status == 403)
		return st_diag_set(diag, ST_E_IO,
				   "source '%s': GET %s: HTTP %ld (%s): the server refused %s%s",
				   f->src->name, shown, status,
				   status == 401 ? "unauthorized" : "forbidden", f->cred, detail);
	return st_diag_set(diag, ST_E_IO, "source '%s': GET %s: HTTP %ld%s", f->src->name, shown,
			   status, detail);
}

void st_fetch_free(st_fetch *f)
{
	if (!f)
		return;
	if (f->curl)
		curl_easy_cleanup(f->curl);
	curl_slist_free_all(f->headers);
	st_secret_free(f->token);
	memset(f, 0, sizeof(*f));
}

char *st_fetch_mask_url(const char *url, unsigned flags)
{
	const char *sep = strstr(url, "://");
	size_t off = sep ? (size_t)(sep - url) + 3 : 0;
	const char *auth = url + off;
	size_t hend = strcspn(auth, "/?#");
	const char *at = memchr(auth, '@', hend);
	const char *rest = at ? at + 1 : auth; /* host, then path */
	size_t rlen = (flags & ST_FETCH_MASK_QUERY) ?
			      (size_t)(auth + hend - rest) + strcspn(auth + hend, "?#") :
			      strlen(rest);
	size_t keep = (size_t)(auth + hend - rest); /* the host: never trimmed */
	if (flags & ST_FETCH_MASK_SLASH)
		while (rlen > keep && rest[rlen - 1] == '/')
			rlen--;
	size_t n = off + (at ? 4 : 0) + rlen;
	char *s = st_xmalloc(n + 1);
	memcpy(s, url, off);
	if (at)
		memcpy(s + off, "***@", 4);
	memcpy(s + off + (at ? 4 : 0), rest, rlen);
	s[n] = 0;
	return s;
}
