/*
 * registry.c — the connector table and the helpers every connector shares
 * (options, credentials by reference, secret-looking names).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "connector.h"

const st_connector *const st_connectors[] = {
	&st_connector_git,
	&st_connector_terraform,
	&st_connector_k8s,
	&st_connector_prometheus,
	&st_connector_focus,
	&st_connector_cur,
	&st_connector_gcp_billing,
	NULL,
};

const st_connector *st_connector_find(const char *kind)
{
	for (size_t i = 0; kind && st_connectors[i]; i++)
		if (!strcmp(st_connectors[i]->kind, kind))
			return st_connectors[i];
	return NULL;
}

const char *st_source_option(const st_source *src, const char *key)
{
	for (size_t i = 0; i < src->n_options; i++)
		if (!strcmp(src->options[i].key, key))
			return src->options[i].value;
	return NULL;
}

void st_secret_free(char *secret)
{
	if (!secret)
		return;
	/* volatile so that the wipe is not optimised away before free */
	volatile char *p = secret;
	while (*p)
		*p++ = 0;
	free(secret);
}

static char *read_first_line(const char *path, int *err)
{
	FILE *f = fopen(path, "re");
	if (!f) {
		*err = errno;
		return NULL;
	}
	char *line = NULL;
	size_t cap = 0;
	ssize_t n = getline(&line, &cap, f);
	fclose(f);
	if (n < 0) {
		free(line);
		*err = 0;
		return NULL;
	}
	while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r'))
		line[--n] = 0;
	return line;
}

int st_source_token(const st_source *src, char **ret, st_diag *diag)
{
	*ret = NULL;
	if (src->token_env) {
		const char *v = getenv(src->token_env);
		if (!v || !*v)
			return st_diag_set(diag, ST_E_INVALID,
					   "source '%s': environment variable %s (its token) is not set",
					   src->name, src->token_env);
		*ret = st_xstrndup(v, strlen(v));
		return 0;
	}
	if (src->token_file) {
		int err = 0;
		char *v = read_first_line(src->token_file, &err);
		if (!v || !*v) {
			st_secret_free(v);
			return st_diag_set(diag, ST_E_INVALID, "source '%s': token file %s: %s",
					   src->name, src->token_file,
					   err ? strerror(err) : "empty");
		}
		*ret = v;
	}
	return 0;
}

/* Keep docs/connectors.md ("Secrets") in sync. */
static const char *const secret_words[] = {
	"password",   "passwd",	    "passphrase", "pwd",    "secret",
	"token",      "privatekey", "accesskey",  "apikey", "connectionstring",
	"credential", "signingkey", "authkey",
};

static bool name_sep(char c)
{
	return c == '_' || c == '-' || c == '.' || c == '/' || c == ':' || c == ' ';
}

static char lower(char c)
{
	return (c >= 'A' && c <= 'Z') ? (char)(c - 'A' + 'a') : c;
}

/* Matches each word against the name as if lower-cased and without
 * separators, without building that string: any length can be judged. */
bool st_secret_name(const char *key, size_t len)
{
	for (size_t i = 0; i < len; i++) {
		if (name_sep(key[i]))
			continue;
		for (size_t w = 0; w < ST_ARRAY_LEN(secret_words); w++) {
			const char *q = secret_words[w];
			for (size_t j = i; *q && j < len; j++) {
				if (name_sep(key[j]))
					continue;
				if (lower(key[j]) != *q)
					break;
				q++;
			}
			if (!*q)
				return true;
		}
	}
	return false;
}
