/*
 * k8s.c — the Kubernetes connector (docs/connectors.md, "Kubernetes").
 *
 * Reads one cluster's objects — Namespaces, Nodes, Deployments, StatefulSets,
 * DaemonSets, ReplicaSets, CronJobs, Jobs, Pods, Services, Ingresses — from
 * the API server (located by a kubeconfig or in-cluster service account), or
 * from a directory of `kubectl get -o json` dumps, into a manifest set
 * (manifest.h), which turns them into facts: nodes, SCOPED_IN, CONTROLLED_BY,
 * SELECTS, ROUTES_TO, RUNS_ON edges and identity hints.
 *
 * Lists are read page by page (`limit`/`continue`) and every page is
 * stream-parsed with yajl into small owned objects: no raw JSON is kept.  The
 * parser is a table-free state machine over the few paths we read
 * (metadata, the pod template, ownerReferences, ...); everything else is
 * skipped without being copied.
 *
 * Secrets: tokens, passwords and private keys from the kubeconfig or the
 * service account are handed to libcurl and wiped after the run; messages
 * name the kubeconfig user entry or the file a credential came from, never
 * a value.  The API's Status message is quoted on errors (it names users and
 * resources, not credentials); other response bodies are never shown.
 *
 * Like every connector it does not log and never touches the store.
 */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <curl/curl.h>
#include <yajl/yajl_parse.h>
#include <yajl/yajl_tree.h>
#include <yaml.h>

#include "connector.h"
#include "fetch.h"
#include "jsonpos.h"
#include "manifest.h"

#define DEFAULT_PAGE 500
#define MAX_PAGE 100000
#define MAX_DEPTH 128		   /* JSON nesting */
#define MAX_VALUE (64u << 10)	   /* a kept string; longer label/annotation values are dropped */
#define MAX_MAP 4096		   /* labels, annotations, selector entries per object */
#define MAX_LIST 1024		   /* owners, hosts, backends per object */
#define MAX_BODY (1ull << 30)	   /* one response */
#define MAX_DUMP (4ull << 30)	   /* one dump file */
#define MAX_SMALL_BODY (64u << 10) /* /version and error bodies */
#define MAX_KUBECONFIG (16u << 20)
#define MAX_PAGES 1000000u
#define MAX_DUMP_FILES 100000u
#define MAX_DUMP_DEPTH 16
#define READ_CHUNK (256u << 10)
#define DEFAULT_SA_DIR "/var/run/secrets/kubernetes.io/serviceaccount"
#define LAST_APPLIED "kubectl.kubernetes.io/last-applied-configuration"

enum { GONE = 1 }; /* a list's continue token expired (HTTP 410) */

/* ---- small growable buffers ------------------------------------------------ */

typedef struct sbuf {
	char *p;
	size_t n, cap;
} sbuf;

static void sb_add(sbuf *b, const char *s, size_t n)
{
	if (b->n + n + 1 > b->cap) {
		b->cap = (b->n + n + 1) * 2;
		b->p = st_xrealloc(b->p, b->cap);
	}
	memcpy(b->p + b->n, s, n);
	b->n += n;
	b->p[b->n] = 0;
}

static void sb_str(sbuf *b, const char *s)
{
	sb_add(b, s, strlen(s));
}

static char *xdup(const char *s)
{
	return s ? st_xstrndup(s, strlen(s)) : NULL;
}

static char *xjoin(const char *a, const char *b)
{
	size_t n = strlen(a) + strlen(b) + 1;
	char *s = st_xmalloc(n);
	snprintf(s, n, "%s%s", a, b);
	return s;
}

/* Wipe and free a secret held with its length (blobs may hold NUL bytes). */
static void secret_free_n(char *s, size_t n)
{
	if (!s)
		return;
	volatile char *p = s;
	for (size_t i = 0; i < n; i++)
		p[i] = 0;
	free(s);
}

/* Up to 300 bytes of API text for a message, control bytes replaced. */
static void quote(char *out, size_t cap, const char *s)
{
	size_t o = 0;
	for (size_t i = 0; s && s[i] && o + 4 < cap && i < 300; i++)
		out[o++] = (unsigned char)s[i] < 0x20 ? ' ' : s[i];
	if (s && strlen(s) > 300 && o + 4 < cap) {
		memcpy(out + o, "...", 3);
		o += 3;
	}
	out[o] = 0;
}

/* ---- base64 (kubeconfig *-data fields) ------------------------------------ */

static int b64val(unsigned char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '+')
		return 62;
	if (c == '/')
		return 63;
	return -1;
}

/* Decode standard base64 (whitespace ignored, '=' padding optional). */
static int b64decode(const char *s, char **ret, size_t *ret_len)
{
	size_t n = strlen(s);
	char *out = st_xmalloc(n / 4 * 3 + 4);
	size_t o = 0, q = 0;
	uint32_t acc = 0;
	bool pad = false;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c == ' ' || c == '\n' || c == '\r' || c == '\t')
			continue;
		if (c == '=') {
			pad = true;
			continue;
		}
		int v = b64val(c);
		if (v < 0 || pad) {
			secret_free_n(out, n / 4 * 3 + 4);
			return -1;
		}
		acc = acc << 6 | (uint32_t)v;
		if (++q == 4) {
			out[o++] = (char)(acc >> 16);
			out[o++] = (char)(acc >> 8);
			out[o++] = (char)acc;
			q = 0;
			acc = 0;
		}
	}
	if (q == 1) {
		secret_free_n(out, n / 4 * 3 + 4);
		return -1;
	}
	if (q == 2)
		out[o++] = (char)(acc >> 4);
	else if (q == 3) {
		out[o++] = (char)(acc >> 10);
		out[o++] = (char)(acc >> 2);
	}
	out[o] = 0;
	*ret = out;
	*ret_len = o;
	return 0;
}

/* ---- kubeconfig ------------------------------------------------------------- */

typedef struct kc_cluster {
	char *name, *server, *ca_file, *ca_data;
	bool insecure;
} kc_cluster;

typedef struct kc_user {
	char *name, *token, *token_file, *cert_file, *cert_data, *key_file, *key_data;
	char *username, *password;
	bool exec, auth_provider;
} kc_user;

typedef struct kc_context {
	char *name, *cluster, *user;
} kc_context;

typedef struct kubeconfig {
	char *current;
	kc_cluster *clusters;
	kc_user *users;
	kc_context *contexts;
	size_t n_clusters, n_users, n_contexts;
} kubeconfig;

static void kc_free(kubeconfig *kc)
{
	for (size_t i = 0; i < kc->n_clusters; i++) {
		kc_cluster *c = &kc->clusters[i];
		free(c->name);
		free(c->server);
		free(c->ca_file);
		free(c->ca_data);
	}
	for (size_t i = 0; i < kc->n_users; i++) {
		kc_user *u = &kc->users[i];
		free(u->name);
		st_secret_free(u->token);
		free(u->token_file);
		free(u->cert_file);
		free(u->cert_data);
		free(u->key_file);
		st_secret_free(u->key_data);
		free(u->username);
		st_secret_free(u->password);
	}
	for (size_t i = 0; i < kc->n_contexts; i++) {
		free(kc->contexts[i].name);
		free(kc->contexts[i].cluster);
		free(kc->contexts[i].user);
	}
	free(kc->clusters);
	free(kc->users);
	free(kc->contexts);
	free(kc->current);
	memset(kc, 0, sizeof(*kc));
}

static yaml_node_t *ymap_get(yaml_document_t *d, yaml_node_t *map, const char *key)
{
	if (!map || map->type != YAML_MAPPING_NODE)
		return NULL;
	for (yaml_node_pair_t *p = map->data.mapping.pairs.start; p < map->data.mapping.pairs.top;
	     p++) {
		yaml_node_t *k = yaml_document_get_node(d, p->key);
		if (k && k->type == YAML_SCALAR_NODE && k->data.scalar.length == strlen(key) &&
		    !memcmp(k->data.scalar.value, key, k->data.scalar.length))
			return yaml_document_get_node(d, p->value);
	}
	return NULL;
}

/* A scalar's text (new string) or NULL (absent, null or not a scalar). */
static char *ystr(yaml_document_t *d, yaml_node_t *map, const char *key)
{
	yaml_node_t *v = ymap_get(d, map, key);
	if (!v || v->type != YAML_SCALAR_NODE)
		return NULL;
	const char *t = (const char *)v->data.scalar.value;
	size_t n = v->data.scalar.length;
	if (v->data.scalar.style == YAML_PLAIN_SCALAR_STYLE &&
	    (n == 0 || (n == 1 && t[0] == '~') || (n == 4 && !memcmp(t, "null", 4))))
		return NULL;
	return st_xstrndup(t, n);
}

static bool ytrue(yaml_document_t *d, yaml_node_t *map, const char *key)
{
	char *s = ystr(d, map, key);
	bool t = s && (!strcmp(s, "true") || !strcmp(s, "True") || !strcmp(s, "TRUE"));
	free(s);
	return t;
}

/* A path from the kubeconfig, relative to its directory. */
static char *kc_path(const char *dir, char *p)
{
	if (!p || p[0] == '/' || !dir)
		return p;
	size_t n = strlen(dir) + strlen(p) + 2;
	char *r = st_xmalloc(n);
	snprintf(r, n, "%s/%s", dir, p);
	free(p);
	return r;
}

/* The first file naming an entry wins (as kubectl merges $KUBECONFIG). */
static bool kc_has_cluster(const kubeconfig *kc, const char *name)
{
	for (size_t i = 0; i < kc->n_clusters; i++)
		if (!strcmp(kc->clusters[i].name, name))
			return true;
	return false;
}

static bool kc_has_user(const kubeconfig *kc, const char *name)
{
	for (size_t i = 0; i < kc->n_users; i++)
		if (!strcmp(kc->users[i].name, name))
			return true;
	return false;
}

static bool kc_has_context(const kubeconfig *kc, const char *name)
{
	for (size_t i = 0; i < kc->n_contexts; i++)
		if (!strcmp(kc->contexts[i].name, name))
			return true;
	return false;
}

/* Read one kubeconfig file and merge it into kc (the first file that names
 * an entry or current-context wins, as kubectl merges $KUBECONFIG). */
static int kc_load(kubeconfig *kc, const char *path, const st_source *src, st_diag *diag)
{
	FILE *f = fopen(path, "re");
	if (!f)
		return st_diag_set(diag, ST_E_IO, "source '%s': cannot open kubeconfig %s: %s",
				   src->name, path, strerror(errno));
	sbuf b = {0};
	char chunk[16384];
	size_t n;
	int rc = 0;
	while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0) {
		if (b.n + n > MAX_KUBECONFIG) {
			rc = st_diag_set(diag, ST_E_LIMIT,
					 "source '%s': kubeconfig %s is larger than %u bytes",
					 src->name, path, MAX_KUBECONFIG);
			break;
		}
		sb_add(&b, chunk, n);
	}
	fclose(f);
	if (rc) {
		secret_free_n(b.p, b.cap);
		return rc;
	}
	char *dir = xdup(path), *slash = strrchr(dir, '/');
	if (slash)
		*slash = 0;
	else {
		free(dir);
		dir = NULL;
	}
	yaml_parser_t yp;
	yaml_document_t doc;
	yaml_parser_initialize(&yp);
	yaml_parser_set_input_string(&yp, (const unsigned char *)(b.p ? b.p : ""), b.n);
	if (!yaml_parser_load(&yp, &doc)) {
		rc = st_diag_set(diag, ST_E_INVALID, "source '%s': kubeconfig %s:%zu:%zu: %s",
				 src->name, path, yp.problem_mark.line + 1,
				 yp.problem_mark.column + 1,
				 yp.problem ? yp.problem : "YAML error");
		yaml_parser_delete(&yp);
		secret_free_n(b.p, b.cap);
		free(dir);
		return rc;
	}
	yaml_node_t *root = yaml_document_get_root_node(&doc);
	if (!root || root->type != YAML_MAPPING_NODE) {
		rc = st_diag_set(diag, ST_E_INVALID, "source '%s': kubeconfig %s is not a mapping",
				 src->name, path);
		goto out;
	}
	if (!kc->current)
		kc->current = ystr(&doc, root, "current-context");
	static const char *const lists[] = {"clusters", "users", "contexts"};
	static const char *const inner[] = {"cluster", "user", "context"};
	for (size_t li = 0; li < 3; li++) {
		yaml_node_t *seq = ymap_get(&doc, root, lists[li]);
		if (!seq || seq->type != YAML_SEQUENCE_NODE)
			continue;
		for (yaml_node_item_t *it = seq->data.sequence.items.start;
		     it < seq->data.sequence.items.top; it++) {
			yaml_node_t *e = yaml_document_get_node(&doc, *it);
			char *name = ystr(&doc, e, "name");
			yaml_node_t *v = ymap_get(&doc, e, inner[li]);
			if (!name || !v || v->type != YAML_MAPPING_NODE) {
				free(name);
				continue;
			}
			if (li == 0) {
				if (kc_has_cluster(kc, name)) {
					free(name);
					continue;
				}
				kc->clusters = st_xrealloc(
					kc->clusters, (kc->n_clusters + 1) * sizeof(*kc->clusters));
				kc_cluster *c = &kc->clusters[kc->n_clusters++];
				*c = (kc_cluster){
					.name = name,
					.server = ystr(&doc, v, "server"),
					.ca_file = kc_path(dir,
							   ystr(&doc, v, "certificate-authority")),
					.ca_data = ystr(&doc, v, "certificate-authority-data"),
					.insecure = ytrue(&doc, v, "insecure-skip-tls-verify")};
			} else if (li == 1) {
				if (kc_has_user(kc, name)) {
					free(name);
					continue;
				}
				kc->users = st_xrealloc(kc->users,
							(kc->n_users + 1) * sizeof(*kc->users));
				kc_user *u = &kc->users[kc->n_users++];
				*u = (kc_user){
					.name = name,
					.token = ystr(&doc, v, "token"),
					.token_file = kc_path(dir, ystr(&doc, v, "tokenFile")),
					.cert_file =
						kc_path(dir, ystr(&doc, v, "client-certificate")),
					.cert_data = ystr(&doc, v, "client-certificate-data"),
					.key_file = kc_path(dir, ystr(&doc, v, "client-key")),
					.key_data = ystr(&doc, v, "client-key-data"),
					.username = ystr(&doc, v, "username"),
					.password = ystr(&doc, v, "password"),
					.exec = ymap_get(&doc, v, "exec") != NULL,
					.auth_provider = ymap_get(&doc, v, "auth-provider") !=
							 NULL};
			} else {
				if (kc_has_context(kc, name)) {
					free(name);
					continue;
				}
				kc->contexts = st_xrealloc(
					kc->contexts, (kc->n_contexts + 1) * sizeof(*kc->contexts));
				kc->contexts[kc->n_contexts++] =
					(kc_context){.name = name,
						     .cluster = ystr(&doc, v, "cluster"),
						     .user = ystr(&doc, v, "user")};
			}
		}
	}
out:
	yaml_document_delete(&doc);
	yaml_parser_delete(&yp);
	secret_free_n(b.p, b.cap);
	free(dir);
	return rc;
}

/* ---- the run's state ----------------------------------------------------------- */

typedef struct ob ob;

typedef struct kx {
	const st_source *src;
	st_sink *sink;
	st_diag *diag;
	st_manifests *set;
	/* connection */
	st_fetch f;
	char *server; /* without a trailing '/' */
	char *shown;  /* server for messages and props: user info masked */
	char *cred; /* "user 'ci' (token from kubeconfig)": no value */
	char *token, *password, *user;
	char *ca_blob, *cert_blob, *key_blob;
	size_t ca_len, cert_len, key_len;
	char *ca_file, *cert_file, *key_file;
	bool insecure;
	long page_size;
	uint64_t objects, skipped, ignored, pages;
} kx;

/* ---- streaming JSON: objects into the set --------------------------------- */

enum {
	S_IGNORE,
	S_ROOT,
	S_ITEMS,
	S_OBJ,
	S_KIND,
	S_API,
	S_META,
	S_NAME,
	S_NS,
	S_UID,
	S_CONTINUE,
	S_LABELS,
	S_LABEL,
	S_ANNS,
	S_ANN,
	S_OREFS,
	S_OREF,
	S_OREF_KIND,
	S_OREF_NAME,
	S_OREF_UID,
	S_OREF_CTRL,
	S_SPEC,
	S_REPLICAS,
	S_STYPE,
	S_SEL,
	S_SELV,
	S_NODENAME,
	S_PROVIDER,
	S_PCONTS,
	S_PCONT,
	S_PIMAGE,
	S_TPL,
	S_TMETA,
	S_TLABELS,
	S_TLABEL,
	S_TSPEC,
	S_TCONTS,
	S_TCONT,
	S_TIMAGE,
	S_JT,
	S_JTSPEC,
	S_STATUS,
	S_PHASE,
	S_RULES,
	S_RULE,
	S_HOST,
	S_HTTP,
	S_PATHS,
	S_PATH,
	S_BACKEND,
	S_BSVC,
	S_BSVCNAME,
	S_TLSS,
	S_TLS,
	S_TLSHOSTS,
	S_TLSHOST,
};

typedef struct kvv {
	st_kv *p;
	size_t n;
} kvv;

typedef struct strv {
	char **p;
	size_t n;
} strv;

/* One object being read. */
struct ob {
	char *kind, *api, *name, *ns, *uid, *pod_image, *tpl_image, *stype, *phase, *node_name,
		*provider_id;
	kvv labels, ann, tlabels, sel;
	st_k8s_owner *owners;
	size_t n_owners;
	strv hosts, backends;
	bool has_replicas;
	int64_t replicas;
};

static void kvv_free(kvv *v)
{
	for (size_t i = 0; i < v->n; i++) {
		free((char *)v->p[i].key);
		free((char *)v->p[i].value);
	}
	free(v->p);
	memset(v, 0, sizeof(*v));
}

static void strv_free(strv *v)
{
	for (size_t i = 0; i < v->n; i++)
		free(v->p[i]);
	free(v->p);
	memset(v, 0, sizeof(*v));
}

static void ob_free(ob *o)
{
	free(o->kind);
	free(o->api);
	free(o->name);
	free(o->ns);
	free(o->uid);
	free(o->pod_image);
	free(o->tpl_image);
	free(o->stype);
	free(o->phase);
	free(o->node_name);
	free(o->provider_id);
	kvv_free(&o->labels);
	kvv_free(&o->ann);
	kvv_free(&o->tlabels);
	kvv_free(&o->sel);
	for (size_t i = 0; i < o->n_owners; i++) {
		free((char *)o->owners[i].kind);
		free((char *)o->owners[i].name);
		free((char *)o->owners[i].uid);
	}
	free(o->owners);
	strv_free(&o->hosts);
	strv_free(&o->backends);
	memset(o, 0, sizeof(*o));
}

typedef struct frame {
	int st;
	bool array;
	size_t idx;
	int key_st; /* maps: the state of the value after the last key */
	ob *o;
} frame;

typedef struct jp {
	kx *x;
	yajl_handle h;
	frame stack[MAX_DEPTH];
	int depth;
	ob root, item;
	char *key;	  /* the last key inside a labels/annotations/selector map */
	char *cont;	  /* metadata.continue of a list */
	st_k8s_kind want; /* live: the kind requested; -1: from the JSON (dumps) */
	bool live;
	const st_parse_ctx *ctx;
	uint32_t index; /* objects seen in this body (dumps: their "line") */
	uint64_t bytes;
	int err;
} jp;

static int child_state(int st, const char *k, size_t n)
{
#define K(s) (n == sizeof(s) - 1 && !memcmp(k, s, n))
	switch (st) {
	case S_ROOT:
		if (K("items"))
			return S_ITEMS;
		/* fall through */
	case S_OBJ:
		if (K("kind"))
			return S_KIND;
		if (K("apiVersion"))
			return S_API;
		if (K("metadata"))
			return S_META;
		if (K("spec"))
			return S_SPEC;
		if (K("status"))
			return S_STATUS;
		return S_IGNORE;
	case S_META:
		if (K("name"))
			return S_NAME;
		if (K("namespace"))
			return S_NS;
		if (K("uid"))
			return S_UID;
		if (K("labels"))
			return S_LABELS;
		if (K("annotations"))
			return S_ANNS;
		if (K("ownerReferences"))
			return S_OREFS;
		if (K("continue"))
			return S_CONTINUE;
		return S_IGNORE;
	case S_LABELS: return S_LABEL;
	case S_ANNS: return S_ANN;
	case S_SEL: return S_SELV;
	case S_TLABELS: return S_TLABEL;
	case S_OREF:
		if (K("kind"))
			return S_OREF_KIND;
		if (K("name"))
			return S_OREF_NAME;
		if (K("uid"))
			return S_OREF_UID;
		if (K("controller"))
			return S_OREF_CTRL;
		return S_IGNORE;
	case S_SPEC:
		if (K("replicas"))
			return S_REPLICAS;
		if (K("type"))
			return S_STYPE;
		if (K("selector"))
			return S_SEL;
		if (K("nodeName"))
			return S_NODENAME;
		if (K("providerID"))
			return S_PROVIDER;
		if (K("containers"))
			return S_PCONTS;
		if (K("template"))
			return S_TPL;
		if (K("jobTemplate"))
			return S_JT;
		if (K("rules"))
			return S_RULES;
		if (K("tls"))
			return S_TLSS;
		if (K("defaultBackend") || K("backend"))
			return S_BACKEND;
		return S_IGNORE;
	case S_PCONT: return K("image") ? S_PIMAGE : S_IGNORE;
	case S_TPL:
		if (K("metadata"))
			return S_TMETA;
		return K("spec") ? S_TSPEC : S_IGNORE;
	case S_TMETA: return K("labels") ? S_TLABELS : S_IGNORE;
	case S_TSPEC: return K("containers") ? S_TCONTS : S_IGNORE;
	case S_TCONT: return K("image") ? S_TIMAGE : S_IGNORE;
	case S_JT: return K("spec") ? S_JTSPEC : S_IGNORE;
	case S_JTSPEC: return K("template") ? S_TPL : S_IGNORE;
	case S_STATUS: return K("phase") ? S_PHASE : S_IGNORE;
	case S_RULE:
		if (K("host"))
			return S_HOST;
		return K("http") ? S_HTTP : S_IGNORE;
	case S_HTTP: return K("paths") ? S_PATHS : S_IGNORE;
	case S_PATH: return K("backend") ? S_BACKEND : S_IGNORE;
	case S_BACKEND:
		if (K("service"))
			return S_BSVC;
		return K("serviceName") ? S_BSVCNAME : S_IGNORE;
	case S_BSVC: return K("name") ? S_BSVCNAME : S_IGNORE;
	case S_TLS: return K("hosts") ? S_TLSHOSTS : S_IGNORE;
	default: return S_IGNORE;
	}
#undef K
}

static int elem_state(int st, size_t idx)
{
	switch (st) {
	case S_ITEMS: return S_OBJ;
	case S_OREFS: return S_OREF;
	case S_PCONTS: return idx == 0 ? S_PCONT : S_IGNORE;
	case S_TCONTS: return idx == 0 ? S_TCONT : S_IGNORE;
	case S_RULES: return S_RULE;
	case S_PATHS: return S_PATH;
	case S_TLSS: return S_TLS;
	case S_TLSHOSTS: return S_TLSHOST;
	default: return S_IGNORE;
	}
}

/* The state of the value now arriving (and the object it belongs to). */
static int value_state(jp *p, ob **ret_o)
{
	if (p->depth == 0) {
		*ret_o = &p->root;
		return S_ROOT;
	}
	frame *f = &p->stack[p->depth - 1];
	*ret_o = f->o;
	if (f->array)
		return elem_state(f->st, f->idx++);
	return f->key_st;
}

static void kvv_add(jp *p, kvv *v, const char *val, size_t n)
{
	if (!p->key)
		return;
	if (n > MAX_VALUE || v->n >= MAX_MAP) {
		free(p->key);
		p->key = NULL;
		return; /* dropped: too long or too many (documented) */
	}
	v->p = st_xrealloc(v->p, (v->n + 1) * sizeof(*v->p));
	v->p[v->n].key = p->key;
	v->p[v->n].value = st_xstrndup(val, n);
	v->n++;
	p->key = NULL;
}

static void strv_add(strv *v, const char *s, size_t n)
{
	if (n == 0 || n > MAX_VALUE || v->n >= MAX_LIST)
		return;
	for (size_t i = 0; i < v->n; i++)
		if (strlen(v->p[i]) == n && !memcmp(v->p[i], s, n))
			return;
	v->p = st_xrealloc(v->p, (v->n + 1) * sizeof(*v->p));
	v->p[v->n++] = st_xstrndup(s, n);
}

static void set_str(char **dst, const char *s, size_t n)
{
	if (n > MAX_VALUE)
		return;
	free(*dst);
	*dst = st_xstrndup(s, n);
}

static st_k8s_owner *cur_owner(ob *o)
{
	return o->n_owners ? &o->owners[o->n_owners - 1] : NULL;
}

/* A scalar (string, number or boolean as text) at state st. */
static void on_scalar(jp *p, int st, ob *o, const char *s, size_t n, bool is_string)
{
	st_k8s_owner *w;
	switch (st) {
	case S_KIND: set_str(&o->kind, s, n); break;
	case S_API: set_str(&o->api, s, n); break;
	case S_NAME: set_str(&o->name, s, n); break;
	case S_NS: set_str(&o->ns, s, n); break;
	case S_UID: set_str(&o->uid, s, n); break;
	case S_CONTINUE:
		if (o == &p->root)
			set_str(&p->cont, s, n);
		break;
	case S_LABEL: kvv_add(p, &o->labels, s, n); break;
	case S_ANN:
		if (p->key && !strcmp(p->key, LAST_APPLIED)) {
			/* the whole applied manifest: large, and may hold env values */
			free(p->key);
			p->key = NULL;
		} else
			kvv_add(p, &o->ann, s, n);
		break;
	case S_TLABEL: kvv_add(p, &o->tlabels, s, n); break;
	case S_SELV: kvv_add(p, &o->sel, s, n); break;
	case S_OREF_KIND:
		if ((w = cur_owner(o)) && n <= MAX_VALUE) {
			free((char *)w->kind);
			w->kind = st_xstrndup(s, n);
		}
		break;
	case S_OREF_NAME:
		if ((w = cur_owner(o)) && n <= MAX_VALUE) {
			free((char *)w->name);
			w->name = st_xstrndup(s, n);
		}
		break;
	case S_OREF_UID:
		if ((w = cur_owner(o)) && n <= MAX_VALUE) {
			free((char *)w->uid);
			w->uid = st_xstrndup(s, n);
		}
		break;
	case S_OREF_CTRL:
		if ((w = cur_owner(o)))
			w->controller = !is_string && n == 4 && !memcmp(s, "true", 4);
		break;
	case S_REPLICAS:
		if (!is_string) {
			int64_t v = 0;
			bool ok = n > 0 && n < 19;
			for (size_t i = 0; ok && i < n; i++)
				ok = s[i] >= '0' && s[i] <= '9';
			for (size_t i = 0; ok && i < n; i++)
				v = v * 10 + (s[i] - '0');
			o->has_replicas = ok;
			o->replicas = v;
		}
		break;
	case S_STYPE: set_str(&o->stype, s, n); break;
	case S_NODENAME: set_str(&o->node_name, s, n); break;
	case S_PROVIDER: set_str(&o->provider_id, s, n); break;
	case S_PIMAGE: set_str(&o->pod_image, s, n); break;
	case S_TIMAGE: set_str(&o->tpl_image, s, n); break;
	case S_PHASE: set_str(&o->phase, s, n); break;
	case S_HOST:
	case S_TLSHOST: strv_add(&o->hosts, s, n); break;
	case S_BSVCNAME: strv_add(&o->backends, s, n); break;
	default: break;
	}
}

/* The kind of a finished object: live lists know it; dumps say it on the
 * object or, for a typed list (DeploymentList), on the list. */
static int ob_kind(jp *p, ob *o)
{
	if (p->live)
		return (int)p->want;
	const char *kind = o->kind, *api = o->api;
	char lk[128];
	if (!kind && o != &p->root && p->root.kind) {
		size_t n = strlen(p->root.kind);
		if (n > 4 && n < sizeof(lk) && !strcmp(p->root.kind + n - 4, "List")) {
			memcpy(lk, p->root.kind, n - 4);
			lk[n - 4] = 0;
			kind = lk;
		}
	}
	if (!api && o != &p->root)
		api = p->root.api;
	if (!kind || !api)
		return -2; /* not a Kubernetes object: ignored */
	return st_k8s_kind_find(kind, api, true);
}

static int add_ob(jp *p, ob *o)
{
	kx *x = p->x;
	p->index++;
	int k = ob_kind(p, o);
	if (k == -2) {
		x->ignored++;
		return 0;
	}
	if (k < 0) {
		x->skipped++;
		return 0;
	}
	bool pod = k == ST_K8S_POD;
	st_k8s_obj obj = {
		.kind = (st_k8s_kind)k,
		.name = o->name,
		.ns = o->ns,
		.uid = o->uid,
		.labels = o->labels.p,
		.n_labels = o->labels.n,
		.annotations = o->ann.p,
		.n_annotations = o->ann.n,
		.has_replicas = o->has_replicas,
		.replicas = o->replicas,
		.image = pod ? o->pod_image : o->tpl_image,
		.pod_labels = o->tlabels.p,
		.n_pod_labels = o->tlabels.n,
		.service_type = o->stype,
		.selector = k == ST_K8S_SERVICE ? o->sel.p : NULL,
		.n_selector = k == ST_K8S_SERVICE ? o->sel.n : 0,
		.hosts = (const char *const *)o->hosts.p,
		.n_hosts = o->hosts.n,
		.backends = (const char *const *)o->backends.p,
		.n_backends = o->backends.n,
		.owners = o->owners,
		.n_owners = o->n_owners,
		.phase = o->phase,
		.node_name = o->node_name,
		.provider_id = o->provider_id,
		.line = p->live ? 0 : p->index,
	};
	st_diag d;
	int rc = st_manifests_add_object(x->set, p->ctx, &obj, &d);
	if (rc == ST_E_INVALID) {
		char msg[ST_DIAG_MAX + 64];
		char q[80];
		quote(q, sizeof(q), o->name ? o->name : "");
		snprintf(msg, sizeof(msg), "%s '%s' skipped: %s", st_k8s_kind_name((st_k8s_kind)k), q,
			 strstr(d.msg, "bytes") ? "its id would be too long"
						: "not a valid name or namespace");
		st_loc loc = {p->ctx->origin, p->live ? 0 : p->index};
		if (x->sink->note)
			x->sink->note(x->sink, loc, msg);
		x->skipped++;
		return 0;
	}
	if (rc < 0)
		return st_diag_set(x->diag, rc, "source '%s': %s", x->src->name, d.msg);
	x->objects++;
	return 0;
}

static bool is_array_state(int st)
{
	return st == S_ITEMS || st == S_OREFS || st == S_PCONTS || st == S_TCONTS ||
	       st == S_RULES || st == S_PATHS || st == S_TLSS || st == S_TLSHOSTS;
}

static bool is_map_state(int st)
{
	switch (st) {
	case S_ROOT:
	case S_OBJ:
	case S_META:
	case S_LABELS:
	case S_ANNS:
	case S_OREF:
	case S_SPEC:
	case S_SEL:
	case S_PCONT:
	case S_TPL:
	case S_TMETA:
	case S_TLABELS:
	case S_TSPEC:
	case S_TCONT:
	case S_JT:
	case S_JTSPEC:
	case S_STATUS:
	case S_RULE:
	case S_HTTP:
	case S_PATH:
	case S_BACKEND:
	case S_BSVC:
	case S_TLS: return true;
	default: return false;
	}
}

static int push(jp *p, bool array)
{
	if (p->depth >= MAX_DEPTH) {
		p->err = st_diag_set(p->x->diag, ST_E_LIMIT, "%s: JSON nested deeper than %d",
				     p->ctx->origin, MAX_DEPTH);
		return 0;
	}
	ob *o;
	int st = value_state(p, &o);
	if (st == S_OBJ && !array)
		o = &p->item;
	if (st == S_OREF && !array) { /* a new ownerReferences entry */
		if (o->n_owners < MAX_LIST) {
			o->owners = st_xrealloc(o->owners, (o->n_owners + 1) * sizeof(*o->owners));
			o->owners[o->n_owners++] = (st_k8s_owner){0};
		} else
			st = S_IGNORE;
	}
	/* a value of the wrong kind (a list where a map belongs, a map as a
	 * label value) is skipped whole */
	if (st != S_IGNORE && (array ? !is_array_state(st) : !is_map_state(st)))
		st = S_IGNORE;
	p->stack[p->depth++] = (frame){.st = st, .array = array, .o = o, .key_st = S_IGNORE};
	return 1;
}

static int pop(jp *p)
{
	frame *f = &p->stack[--p->depth];
	if (f->array)
		return 1;
	if (f->st == S_OBJ && f->o == &p->item) {
		int rc = add_ob(p, &p->item);
		ob_free(&p->item);
		if (rc < 0) {
			p->err = rc;
			return 0;
		}
	} else if (f->st == S_ROOT) {
		size_t n = p->root.kind ? strlen(p->root.kind) : 0;
		bool list = n >= 4 && !strcmp(p->root.kind + n - 4, "List");
		if (!list && (p->live || p->root.kind)) {
			int rc = add_ob(p, &p->root);
			if (rc < 0) {
				p->err = rc;
				return 0;
			}
		} else if (!list)
			p->x->ignored++;
	}
	return 1;
}

static int cb_start_map(void *ud)
{
	return push(ud, false);
}

static int cb_start_array(void *ud)
{
	return push(ud, true);
}

static int cb_end(void *ud)
{
	return pop(ud);
}

static int cb_key(void *ud, const unsigned char *k, size_t n)
{
	jp *p = ud;
	frame *f = &p->stack[p->depth - 1];
	if (f->st == S_IGNORE) {
		f->key_st = S_IGNORE;
		return 1;
	}
	f->key_st = child_state(f->st, (const char *)k, n);
	if (f->key_st == S_LABEL || f->key_st == S_ANN || f->key_st == S_SELV ||
	    f->key_st == S_TLABEL) {
		free(p->key);
		p->key = n <= MAX_VALUE && n > 0 ? st_xstrndup((const char *)k, n) : NULL;
	}
	return 1;
}

static int scalar(jp *p, const char *s, size_t n, bool is_string)
{
	ob *o;
	int st = value_state(p, &o);
	if (st != S_IGNORE)
		on_scalar(p, st, o, s, n, is_string);
	return 1;
}

static int cb_null(void *ud);

static int cb_string(void *ud, const unsigned char *s, size_t n)
{
	/* a \u0000 would cut the C strings the object model keeps (two names
	 * could merge): such a value counts as absent */
	if (memchr(s, 0, n))
		return cb_null(ud);
	return scalar(ud, (const char *)s, n, true);
}

static int cb_number(void *ud, const char *s, size_t n)
{
	return scalar(ud, s, n, false);
}

static int cb_bool(void *ud, int b)
{
	return scalar(ud, b ? "true" : "false", b ? 4 : 5, false);
}

static int cb_null(void *ud)
{
	jp *p = ud;
	ob *o;
	value_state(p, &o);
	free(p->key);
	p->key = NULL;
	return 1;
}

static const yajl_callbacks callbacks = {
	.yajl_null = cb_null,
	.yajl_boolean = cb_bool,
	.yajl_number = cb_number,
	.yajl_string = cb_string,
	.yajl_start_map = cb_start_map,
	.yajl_map_key = cb_key,
	.yajl_end_map = cb_end,
	.yajl_start_array = cb_start_array,
	.yajl_end_array = cb_end,
};

static void jp_init(jp *p, kx *x, const st_parse_ctx *ctx, int want)
{
	memset(p, 0, sizeof(*p));
	p->x = x;
	p->ctx = ctx;
	p->live = want >= 0;
	p->want = want >= 0 ? (st_k8s_kind)want : ST_K8S_NAMESPACE;
	p->h = yajl_alloc(&callbacks, NULL, p);
	if (!p->h)
		abort();
}

static void jp_free(jp *p)
{
	if (p->h)
		yajl_free(p->h);
	ob_free(&p->root);
	ob_free(&p->item);
	free(p->key);
	free(p->cont);
	p->h = NULL;
}

/* Not verbose: the verbose form quotes the input. */
static int jp_error(jp *p, yajl_status s)
{
	if (p->err < 0)
		return p->err;
	if (s == yajl_status_client_canceled)
		return st_diag_set(p->x->diag, ST_E_INVALID, "%s: cancelled", p->ctx->origin);
	char msg[200];
	st__yajl_error_text(p->h, msg, sizeof(msg));
	return p->err = st_diag_set(p->x->diag, ST_E_INVALID,
				    "%s: malformed JSON near byte %llu (%s)", p->ctx->origin,
				    (unsigned long long)(p->bytes + yajl_get_bytes_consumed(p->h)),
				    msg);
}

static int jp_feed(jp *p, const char *buf, size_t n, uint64_t max)
{
	if (p->bytes + n > max)
		return p->err = st_diag_set(p->x->diag, ST_E_LIMIT, "%s: more than %llu bytes",
					    p->ctx->origin, (unsigned long long)max);
	yajl_status s = yajl_parse(p->h, (const unsigned char *)buf, n);
	if (s != yajl_status_ok)
		return jp_error(p, s);
	p->bytes += n;
	return 0;
}

static int jp_finish(jp *p)
{
	if (p->err < 0)
		return p->err;
	if (p->bytes == 0)
		return p->err = st_diag_set(p->x->diag, ST_E_INVALID, "%s: empty body",
					    p->ctx->origin);
	yajl_status s = yajl_complete_parse(p->h);
	return s == yajl_status_ok ? 0 : jp_error(p, s);
}

/* ---- HTTP ------------------------------------------------------------------- */

typedef struct req {
	jp *p; /* NULL: keep the body in small (/version) */
	sbuf small;
	bool small_full;
} req;

static int on_body(void *ud, long status, const char *data, size_t n)
{
	req *r = ud;
	bool bad = status < 200 || status > 299;
	if (bad || !r->p) {
		/* an error's Status object or a small answer: kept up to a bound */
		if (r->small.n + n > MAX_SMALL_BODY) {
			r->small_full = true;
			return bad ? 0 : ST_FETCH_STOP;
		}
		sb_add(&r->small, data, n);
		return 0;
	}
	return jp_feed(r->p, data, n, MAX_BODY);
}

/* The `message` of a Kubernetes Status object, quoted, or "". */
static void status_message(const sbuf *b, char *out, size_t cap)
{
	out[0] = 0;
	if (!b->p)
		return;
	char eb[64];
	yajl_val v = yajl_tree_parse(b->p, eb, sizeof(eb));
	if (!v)
		return;
	const char *path[] = {"message", NULL};
	yajl_val m = yajl_tree_get(v, path, yajl_t_string);
	const char *ms = m ? YAJL_GET_STRING(m) : NULL;
	if (ms)
		quote(out, cap, ms);
	yajl_tree_free(v);
}

/* GET server+path (path may have a query); the body goes to p (a parser) or,
 * with p NULL, into *ret_small.  Returns 0, GONE for 410, or an error. */
static int http_get(kx *x, const char *path, jp *p, sbuf *ret_small)
{
	char *url = xjoin(x->server, path);
	req r = {.p = p};
	/* the path without the query for messages (continue tokens are noise) */
	char shown[512];
	snprintf(shown, sizeof(shown), "%s%.*s", x->shown, (int)strcspn(path, "?"), path);
	long status = 0;
	int rc = st_fetch_get(&x->f, url, shown, on_body, &r, &status, x->diag);
	char msg[400], api[320];
	if (rc < 0)
		goto out; /* the parser's or the transport's message stands */
	if (status < 200 || status > 299) {
		status_message(&r.small, api, sizeof(api));
		if (api[0])
			snprintf(msg, sizeof(msg), ": the API says \"%s\"", api);
		else
			msg[0] = 0;
		if (status == 410)
			rc = GONE;
		else if (status == 401 || status == 403)
			rc = st_diag_set(x->diag, ST_E_IO,
					 "source '%s': GET %s: HTTP %ld (%s) with %s%s",
					 x->src->name, shown, status,
					 status == 401 ? "unauthorized" : "forbidden", x->cred, msg);
		else
			rc = st_fetch_http_error(&x->f, shown, status, msg, x->diag);
	} else if (!p && r.small_full)
		rc = st_diag_set(x->diag, ST_E_LIMIT,
				 "source '%s': GET %s: answer larger than %u bytes", x->src->name,
				 shown, MAX_SMALL_BODY);
	if (!rc && !p && ret_small) {
		*ret_small = r.small;
		r.small = (sbuf){0};
	}
out:
	free(r.small.p);
	free(url);
	return rc;
}

static int curl_setup(kx *x)
{
	const st_fetch_opts opts = {.user_agent = "stacktwin-k8s/1",
				    .no_redirects = true,
				    .keepalive = true,
				    .accept = "application/json",
				    .own_credential = true};
	int rc = st_fetch_init(&x->f, x->src, &opts, x->diag);
	if (rc < 0)
		return rc;
	CURL *c = x->f.curl;
	st_fetch_set_auth(&x->f, x->token, x->user, x->password);
	if (x->insecure) {
		curl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER, 0L);
		curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, 0L);
	} else if (x->ca_blob) {
		struct curl_blob b = {x->ca_blob, x->ca_len, CURL_BLOB_COPY};
		curl_easy_setopt(c, CURLOPT_CAINFO_BLOB, &b);
	} else if (x->ca_file)
		curl_easy_setopt(c, CURLOPT_CAINFO, x->ca_file);
	if (x->cert_blob) {
		struct curl_blob b = {x->cert_blob, x->cert_len, CURL_BLOB_COPY};
		curl_easy_setopt(c, CURLOPT_SSLCERT_BLOB, &b);
		curl_easy_setopt(c, CURLOPT_SSLCERTTYPE, "PEM");
	} else if (x->cert_file)
		curl_easy_setopt(c, CURLOPT_SSLCERT, x->cert_file);
	if (x->key_blob) {
		struct curl_blob b = {x->key_blob, x->key_len, CURL_BLOB_COPY};
		curl_easy_setopt(c, CURLOPT_SSLKEY_BLOB, &b);
		curl_easy_setopt(c, CURLOPT_SSLKEYTYPE, "PEM");
	} else if (x->key_file)
		curl_easy_setopt(c, CURLOPT_SSLKEY, x->key_file);
	return 0;
}

/* ---- reading the API ------------------------------------------------------------ */

static const struct resource {
	const char *prefix, *plural;
	st_k8s_kind kind;
	bool namespaced;
} resources[] = {
	{"/api/v1", "namespaces", ST_K8S_NAMESPACE, false},
	{"/api/v1", "nodes", ST_K8S_NODE, false},
	{"/apis/apps/v1", "deployments", ST_K8S_DEPLOYMENT, true},
	{"/apis/apps/v1", "statefulsets", ST_K8S_STATEFULSET, true},
	{"/apis/apps/v1", "daemonsets", ST_K8S_DAEMONSET, true},
	{"/apis/apps/v1", "replicasets", ST_K8S_REPLICASET, true},
	{"/apis/batch/v1", "cronjobs", ST_K8S_CRONJOB, true},
	{"/apis/batch/v1", "jobs", ST_K8S_JOB, true},
	{"/api/v1", "pods", ST_K8S_POD, true},
	{"/api/v1", "services", ST_K8S_SERVICE, true},
	{"/apis/networking.k8s.io/v1", "ingresses", ST_K8S_INGRESS, true},
};

static void progress(kx *x)
{
	if (x->sink->progress)
		x->sink->progress(x->sink, "k8s objects", x->objects, 0);
}

/* One object by path (a namespace named in option `namespaces`). */
static int read_one(kx *x, const char *path, st_k8s_kind kind)
{
	char *origin = xjoin(x->src->name, ":");
	char *o2 = xjoin(origin, path);
	free(origin);
	st_parse_ctx ctx = {.source = x->src->name, .path = path, .origin = o2};
	jp p;
	jp_init(&p, x, &ctx, (int)kind);
	int rc = http_get(x, path, &p, NULL);
	if (rc == GONE)
		rc = st_diag_set(x->diag, ST_E_IO, "source '%s': GET %s: HTTP 410", x->src->name,
				 path);
	if (!rc)
		rc = jp_finish(&p);
	jp_free(&p);
	free(o2);
	return rc;
}

/* Every page of one list; a 410 Gone (continue token expired) restarts the
 * list once, dropping what its earlier pages added. */
static int read_list(kx *x, const char *path, st_k8s_kind kind)
{
	char *o1 = xjoin(x->src->name, ":");
	char *origin = xjoin(o1, path);
	free(o1);
	st_parse_ctx ctx = {.source = x->src->name, .path = path, .origin = origin};
	size_t start = st_manifests_count(x->set);
	uint64_t start_objects = x->objects;
	char *cont = NULL;
	bool restarted = false;
	int rc = 0;
	for (unsigned pages = 0;; pages++) {
		if (pages >= MAX_PAGES) {
			rc = st_diag_set(x->diag, ST_E_LIMIT,
					 "source '%s': GET %s%s: more than %u pages", x->src->name,
					 x->shown, path, MAX_PAGES);
			break;
		}
		sbuf u = {0};
		char lim[48];
		sb_str(&u, path);
		snprintf(lim, sizeof(lim), "?limit=%ld", x->page_size);
		sb_str(&u, lim);
		if (cont) {
			char *e = curl_easy_escape(x->f.curl, cont, (int)strlen(cont));
			sb_str(&u, "&continue=");
			sb_str(&u, e ? e : "");
			curl_free(e);
		}
		jp p;
		jp_init(&p, x, &ctx, (int)kind);
		rc = http_get(x, u.p, &p, NULL);
		free(u.p);
		if (!rc)
			rc = jp_finish(&p);
		x->pages++;
		bool same = rc == 0 && cont && p.cont && !strcmp(cont, p.cont);
		free(cont);
		cont = p.cont && *p.cont ? xdup(p.cont) : NULL;
		jp_free(&p);
		if (same) {
			rc = st_diag_set(
				x->diag, ST_E_INVALID,
				"source '%s': GET %s%s: the server answered a continue token "
				"with the same token",
				x->src->name, x->shown, path);
			break;
		}
		if (rc == GONE) {
			free(cont);
			cont = NULL;
			if (!restarted && pages > 0) {
				restarted = true;
				st_manifests_truncate(x->set, start);
				x->objects = start_objects;
				pages = (unsigned)-1;
				rc = 0;
				continue;
			}
			rc = st_diag_set(
				x->diag, ST_E_IO,
				"source '%s': GET %s%s: HTTP 410 Gone: the list's continue "
				"token expired%s",
				x->src->name, x->shown, path,
				restarted ? " again after a restart" : "");
			break;
		}
		if (rc < 0)
			break;
		progress(x);
		if (!cont)
			break;
	}
	free(cont);
	free(origin);
	return rc;
}

/* Option `namespaces`: a comma list of valid names. */
static int parse_namespaces(kx *x, const char *opt, strv *ret)
{
	const char *s = opt;
	while (*s) {
		size_t n = strcspn(s, ",");
		const char *a = s, *b = s + n;
		while (a < b && *a == ' ')
			a++;
		while (b > a && b[-1] == ' ')
			b--;
		bool ok = b > a && b - a <= 63;
		for (const char *q = a; ok && q < b; q++)
			ok = (*q >= 'a' && *q <= 'z') || (*q >= '0' && *q <= '9') || *q == '-';
		if (!ok)
			return st_diag_set(
				x->diag, ST_E_INVALID,
				"source '%s': option namespaces: '%.*s' is not a namespace name",
				x->src->name, (int)(s + n - s), s);
		strv_add(ret, a, (size_t)(b - a));
		s += n;
		if (*s == ',')
			s++;
	}
	if (!ret->n)
		return st_diag_set(x->diag, ST_E_INVALID, "source '%s': option namespaces is empty",
				   x->src->name);
	return 0;
}

static int read_api(kx *x, const char *ns_opt, char **ret_version)
{
	sbuf v = {0};
	int rc = http_get(x, "/version", NULL, &v);
	if (rc == GONE)
		rc = st_diag_set(x->diag, ST_E_IO, "source '%s': GET /version: HTTP 410",
				 x->src->name);
	if (rc)
		return rc;
	char eb[64];
	yajl_val t = v.p ? yajl_tree_parse(v.p, eb, sizeof(eb)) : NULL;
	const char *gp[] = {"gitVersion", NULL};
	yajl_val gv = t ? yajl_tree_get(t, gp, yajl_t_string) : NULL;
	const char *gs = gv ? YAJL_GET_STRING(gv) : NULL;
	if (gs && strlen(gs) < 128)
		*ret_version = xdup(gs);
	if (t)
		yajl_tree_free(t);
	free(v.p);
	if (!*ret_version)
		return st_diag_set(
			x->diag, ST_E_INVALID,
			"source '%s': GET %s/version: no gitVersion: not a Kubernetes API "
			"server?",
			x->src->name, x->shown);
	strv nss = {0};
	if (ns_opt && (rc = parse_namespaces(x, ns_opt, &nss)) < 0)
		return rc;
	char path[512];
	for (size_t i = 0; i < ST_ARRAY_LEN(resources) && !rc; i++) {
		const struct resource *r = &resources[i];
		if (!nss.n || r->kind == ST_K8S_NODE) {
			snprintf(path, sizeof(path), "%s/%s", r->prefix, r->plural);
			rc = read_list(x, path, r->kind);
			continue;
		}
		for (size_t j = 0; j < nss.n && !rc; j++) {
			if (r->kind == ST_K8S_NAMESPACE) {
				snprintf(path, sizeof(path), "/api/v1/namespaces/%s", nss.p[j]);
				rc = read_one(x, path, r->kind);
			} else {
				snprintf(path, sizeof(path), "%s/namespaces/%s/%s", r->prefix,
					 nss.p[j], r->plural);
				rc = read_list(x, path, r->kind);
			}
		}
	}
	strv_free(&nss);
	return rc;
}

/* ---- dumps -------------------------------------------------------------------- */

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Every *.json below dir (relative paths), at most MAX_DUMP_DEPTH deep. */
static int find_dumps(kx *x, const char *root, const char *rel, int depth, strv *out)
{
	char *dir = rel[0] ? xjoin(root, "/") : xdup(root);
	if (rel[0]) {
		char *d2 = xjoin(dir, rel);
		free(dir);
		dir = d2;
	}
	DIR *d = opendir(dir);
	if (!d) {
		int rc = st_diag_set(x->diag, ST_E_IO, "source '%s': cannot read directory %s: %s",
				     x->src->name, dir, strerror(errno));
		free(dir);
		return rc;
	}
	int rc = 0;
	struct dirent *e;
	while (!rc && (e = readdir(d))) {
		if (e->d_name[0] == '.')
			continue;
		size_t n = strlen(rel) + strlen(e->d_name) + 2;
		char *r = st_xmalloc(n);
		snprintf(r, n, "%s%s%s", rel, rel[0] ? "/" : "", e->d_name);
		char *full = xjoin(root, "/");
		char *f2 = xjoin(full, r);
		free(full);
		struct stat sb;
		if (stat(f2, &sb) == 0 && S_ISDIR(sb.st_mode)) {
			if (depth < MAX_DUMP_DEPTH)
				rc = find_dumps(x, root, r, depth + 1, out);
			free(r);
		} else if (stat(f2, &sb) == 0 && S_ISREG(sb.st_mode) && strlen(e->d_name) > 5 &&
			   !strcmp(e->d_name + strlen(e->d_name) - 5, ".json")) {
			if (out->n >= MAX_DUMP_FILES)
				rc = st_diag_set(x->diag, ST_E_LIMIT,
						 "source '%s': more than %u dump files",
						 x->src->name, MAX_DUMP_FILES);
			else {
				out->p = st_xrealloc(out->p, (out->n + 1) * sizeof(*out->p));
				out->p[out->n++] = r;
				r = NULL;
			}
			free(r);
		} else
			free(r);
		free(f2);
	}
	closedir(d);
	free(dir);
	return rc;
}

static int read_dumps(kx *x, const char *root)
{
	strv files = {0};
	int rc = find_dumps(x, root, "", 0, &files);
	if (rc < 0) {
		strv_free(&files);
		return rc;
	}
	qsort(files.p, files.n, sizeof(*files.p), cmp_str);
	char *buf = st_xmalloc(READ_CHUNK);
	for (size_t i = 0; i < files.n && rc >= 0; i++) {
		char *o1 = xjoin(x->src->name, ":");
		char *origin = xjoin(o1, files.p[i]);
		char *f1 = xjoin(root, "/");
		char *full = xjoin(f1, files.p[i]);
		free(o1);
		free(f1);
		st_parse_ctx ctx = {.source = x->src->name, .path = files.p[i], .origin = origin};
		size_t start = st_manifests_count(x->set);
		uint64_t start_objects = x->objects, start_sk = x->skipped, start_ig = x->ignored;
		FILE *f = fopen(full, "re");
		jp p;
		jp_init(&p, x, &ctx, -1);
		st_diag d;
		st_diag *saved = x->diag;
		x->diag = &d; /* a bad file is a warning, not the run's error */
		int frc = 0;
		if (!f)
			frc = st_diag_set(&d, ST_E_IO, "%s: %s", origin, strerror(errno));
		size_t n;
		while (!frc && f && (n = fread(buf, 1, READ_CHUNK, f)) > 0)
			frc = jp_feed(&p, buf, n, MAX_DUMP);
		if (!frc && f && ferror(f))
			frc = st_diag_set(&d, ST_E_IO, "%s: %s", origin, strerror(errno));
		if (!frc)
			frc = jp_finish(&p);
		x->diag = saved;
		if (f)
			fclose(f);
		jp_free(&p);
		if (frc == ST_E_LIMIT && st_manifests_count(x->set) >= ST_MANIFESTS_MAX_OBJECTS)
			rc = st_diag_set(x->diag, frc, "%s", d.msg);
		else if (frc < 0) {
			st_manifests_truncate(x->set, start);
			x->objects = start_objects;
			x->skipped = start_sk;
			x->ignored = start_ig;
			const char *m = d.msg;
			size_t ol = strlen(origin);
			if (!strncmp(m, origin, ol) && m[ol] == ':')
				m += ol + 2; /* the origin is the warning's location already */
			x->sink->warn(x->sink, (st_loc){origin, 0}, m);
		}
		free(origin);
		free(full);
		progress(x);
	}
	free(buf);
	strv_free(&files);
	return rc < 0 ? rc : 0;
}

/* ---- credentials ----------------------------------------------------------------- */

static char *read_file_secret(const char *path, size_t max, size_t *ret_len, int *err)
{
	FILE *f = fopen(path, "re");
	if (!f) {
		*err = errno;
		return NULL;
	}
	sbuf b = {0};
	char chunk[4096];
	size_t n;
	while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0) {
		if (b.n + n > max) {
			fclose(f);
			secret_free_n(b.p, b.cap);
			*err = EFBIG;
			return NULL;
		}
		sb_add(&b, chunk, n);
	}
	fclose(f);
	if (!b.p)
		b.p = xdup("");
	*ret_len = b.n;
	return b.p;
}

/* A token file's content without surrounding whitespace. */
static int load_token_file(kx *x, const char *path, const char *what)
{
	int err = 0;
	size_t n = 0;
	char *t = read_file_secret(path, 1u << 20, &n, &err);
	if (!t)
		return st_diag_set(x->diag, ST_E_INVALID, "source '%s': %s %s: %s", x->src->name,
				   what, path, strerror(err));
	while (n && (t[n - 1] == '\n' || t[n - 1] == '\r' || t[n - 1] == ' '))
		t[--n] = 0;
	if (!n) {
		st_secret_free(t);
		return st_diag_set(x->diag, ST_E_INVALID, "source '%s': %s %s is empty",
				   x->src->name, what, path);
	}
	x->token = t;
	return 0;
}

static int decode_data(kx *x, const char *what, const char *entry, const char *b64, char **ret,
		       size_t *ret_len)
{
	if (b64decode(b64, ret, ret_len) < 0 || !*ret_len)
		return st_diag_set(x->diag, ST_E_INVALID,
				   "source '%s': kubeconfig %s: %s is not valid base64",
				   x->src->name, entry, what);
	return 0;
}

static bool valid_cluster_name(const char *s)
{
	size_t n = strlen(s);
	if (!n || n > 253)
		return false;
	for (size_t i = 0; i < n; i++) {
		char c = s[i];
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '.' || c == '-' || c == '_'))
			return false;
	}
	return true;
}

/* Server, TLS and credential from the kubeconfig; *ret_cluster the context's
 * cluster name. */
static int from_kubeconfig(kx *x, const char *location, char **ret_cluster)
{
	const st_source *src = x->src;
	kubeconfig kc = {0};
	int rc = 0;
	char *paths = NULL;
	if (!location || !*location || !strcmp(location, "-")) {
		const char *env = getenv("KUBECONFIG");
		if (env && *env)
			paths = xdup(env);
		else {
			const char *home = getenv("HOME");
			if (!home || !*home)
				return st_diag_set(
					x->diag, ST_E_INVALID,
					"source '%s': no location, $KUBECONFIG and $HOME "
					"unset",
					src->name);
			paths = xjoin(home, "/.kube/config");
		}
	} else
		paths = xdup(location);
	bool loaded = false, list = strchr(paths, ':') != NULL;
	for (char *s = paths, *e; !rc && s && *s; s = e ? e + 1 : NULL) {
		e = strchr(s, ':');
		if (e)
			*e = 0;
		if (!*s)
			continue;
		if (list && access(s, R_OK) != 0)
			continue; /* kubectl skips missing files of a $KUBECONFIG list */
		rc = kc_load(&kc, s, src, x->diag);
		loaded = true;
	}
	free(paths);
	if (!rc && !loaded)
		rc = st_diag_set(x->diag, ST_E_IO, "source '%s': no kubeconfig file found",
				 src->name);
	if (rc)
		goto out;
	const char *cname = st_source_option(src, "context");
	if (!cname)
		cname = kc.current;
	if (!cname || !*cname) {
		rc = st_diag_set(x->diag, ST_E_INVALID,
				 "source '%s': the kubeconfig has no current-context; set option "
				 "context",
				 src->name);
		goto out;
	}
	const kc_context *ctx = NULL;
	for (size_t i = 0; i < kc.n_contexts; i++)
		if (!strcmp(kc.contexts[i].name, cname))
			ctx = &kc.contexts[i];
	if (!ctx) {
		rc = st_diag_set(x->diag, ST_E_NOTFOUND,
				 "source '%s': kubeconfig has no context '%s'", src->name, cname);
		goto out;
	}
	const kc_cluster *cl = NULL;
	const kc_user *u = NULL;
	for (size_t i = 0; ctx->cluster && i < kc.n_clusters; i++)
		if (!strcmp(kc.clusters[i].name, ctx->cluster))
			cl = &kc.clusters[i];
	for (size_t i = 0; ctx->user && i < kc.n_users; i++)
		if (!strcmp(kc.users[i].name, ctx->user))
			u = &kc.users[i];
	if (!cl || !cl->server) {
		rc = st_diag_set(x->diag, ST_E_NOTFOUND,
				 "source '%s': context '%s': no cluster '%s' with a server in the "
				 "kubeconfig",
				 src->name, cname, ctx->cluster ? ctx->cluster : "");
		goto out;
	}
	if (ctx->user && !u) {
		rc = st_diag_set(x->diag, ST_E_NOTFOUND,
				 "source '%s': context '%s': no user '%s' in the kubeconfig",
				 src->name, cname, ctx->user);
		goto out;
	}
	x->server = xdup(cl->server);
	x->insecure = cl->insecure;
	char entry[300];
	snprintf(entry, sizeof(entry), "cluster '%s'", cl->name);
	if (cl->ca_data && (rc = decode_data(x, "certificate-authority-data", entry, cl->ca_data,
					     &x->ca_blob, &x->ca_len)))
		goto out;
	if (!cl->ca_data && cl->ca_file)
		x->ca_file = xdup(cl->ca_file);
	*ret_cluster = xdup(cl->name);
	if (src->token_env || src->token_file) {
		/* the source's own credential wins over the kubeconfig user's */
		if ((rc = st_source_token(src, &x->token, x->diag)) < 0)
			goto out;
		char b[600];
		st_fetch_cred_ref(src, b, sizeof(b));
		x->cred = xdup(b);
		goto out;
	}
	if (!u) {
		x->cred = xdup("no credential (the context has no user)");
		goto out;
	}
	if (u->exec || u->auth_provider) {
		rc = st_diag_set(x->diag, ST_E_INVALID,
				 "source '%s': %s are not supported (user '%s'); use a token",
				 src->name,
				 u->exec ? "exec credential plugins" : "auth-provider plugins",
				 u->name);
		goto out;
	}
	char b[700];
	snprintf(entry, sizeof(entry), "user '%s'", u->name);
	if (u->token) {
		x->token = xdup(u->token);
		snprintf(b, sizeof(b), "user '%s' (token from kubeconfig)", u->name);
	} else if (u->token_file) {
		if ((rc = load_token_file(x, u->token_file, "tokenFile")) < 0)
			goto out;
		snprintf(b, sizeof(b), "user '%s' (token file %s)", u->name, u->token_file);
	} else if (u->username) {
		x->user = xdup(u->username);
		x->password = xdup(u->password ? u->password : "");
		snprintf(b, sizeof(b), "user '%s' (basic auth as '%s')", u->name, u->username);
	} else if (u->cert_data || u->cert_file) {
		snprintf(b, sizeof(b), "user '%s' (client certificate)", u->name);
	} else
		snprintf(b, sizeof(b), "user '%s' (no credential)", u->name);
	x->cred = xdup(b);
	if (u->cert_data && (rc = decode_data(x, "client-certificate-data", entry, u->cert_data,
					      &x->cert_blob, &x->cert_len)))
		goto out;
	if (u->key_data &&
	    (rc = decode_data(x, "client-key-data", entry, u->key_data, &x->key_blob, &x->key_len)))
		goto out;
	if (!u->cert_data && u->cert_file)
		x->cert_file = xdup(u->cert_file);
	if (!u->key_data && u->key_file)
		x->key_file = xdup(u->key_file);
out:
	kc_free(&kc);
	return rc;
}

static int from_in_cluster(kx *x)
{
	const char *dir = st_source_option(x->src, "sa_dir");
	if (!dir)
		dir = DEFAULT_SA_DIR;
	const char *host = getenv("KUBERNETES_SERVICE_HOST");
	const char *port = getenv("KUBERNETES_SERVICE_PORT");
	if (!host || !*host || !port || !*port)
		return st_diag_set(
			x->diag, ST_E_INVALID,
			"source '%s': in-cluster: KUBERNETES_SERVICE_HOST/PORT are not set "
			"(not running in a pod?)",
			x->src->name);
	size_t n = strlen(host) + strlen(port) + 16;
	x->server = st_xmalloc(n);
	snprintf(x->server, n, strchr(host, ':') ? "https://[%s]:%s" : "https://%s:%s", host, port);
	char *tf = xjoin(dir, "/token");
	int rc = load_token_file(x, tf, "service account token");
	if (!rc) {
		char b[600];
		snprintf(b, sizeof(b), "the service account token from %s", tf);
		x->cred = xdup(b);
		x->ca_file = xjoin(dir, "/ca.crt");
	}
	free(tf);
	return rc;
}

/* ---- the run -------------------------------------------------------------------- */

static void kx_free(kx *x)
{
	st_fetch_free(&x->f); /* before the credentials it borrows */
	free(x->server);
	free(x->shown);
	free(x->cred);
	st_secret_free(x->token);
	st_secret_free(x->password);
	free(x->user);
	free(x->ca_blob);
	free(x->cert_blob);
	secret_free_n(x->key_blob, x->key_len);
	free(x->ca_file);
	free(x->cert_file);
	free(x->key_file);
	st_manifests_free(x->set);
}

static int run(const st_source *src, st_sink *sink, st_diag *diag)
{
	static const char *const known[] = {"context", "cluster", "namespaces", "page_size",
					    "sa_dir"};
	for (size_t i = 0; i < src->n_options; i++) {
		bool ok = false;
		for (size_t j = 0; j < ST_ARRAY_LEN(known); j++)
			ok = ok || !strcmp(src->options[i].key, known[j]);
		if (!ok)
			return st_diag_set(diag, ST_E_INVALID,
					   "source '%s': unknown option '%s' (k8s knows context, "
					   "cluster, namespaces, page_size, sa_dir)",
					   src->name, src->options[i].key);
	}
	kx x = {.src = src, .sink = sink, .diag = diag, .page_size = DEFAULT_PAGE};
	const char *ps = st_source_option(src, "page_size");
	if (ps) {
		char *end = NULL;
		errno = 0;
		long v = strtol(ps, &end, 10);
		if (errno || !end || *end || v < 1 || v > MAX_PAGE)
			return st_diag_set(diag, ST_E_INVALID,
					   "source '%s': option page_size must be 1..%d", src->name,
					   MAX_PAGE);
		x.page_size = v;
	}
	const char *loc = src->location ? src->location : "";
	const char *ns_opt = st_source_option(src, "namespaces");
	struct stat sb;
	bool dump = *loc && strcmp(loc, "-") && strcmp(loc, "in-cluster") && !stat(loc, &sb) &&
		    S_ISDIR(sb.st_mode);
	char *cluster = NULL, *version = NULL, *vorigin = NULL;
	int rc = 0;
	if (dump && ns_opt) {
		rc = st_diag_set(
			diag, ST_E_INVALID,
			"source '%s': option namespaces does not apply to a dump directory",
			src->name);
		goto out;
	}
	if (!dump) {
		rc = !strcmp(loc, "in-cluster") ? from_in_cluster(&x) :
						  from_kubeconfig(&x, loc, &cluster);
		if (rc < 0)
			goto out;
		size_t sl = strlen(x.server);
		while (sl && x.server[sl - 1] == '/')
			x.server[--sl] = 0;
		x.shown = st_fetch_mask_url(x.server, 0);
		if (strncmp(x.server, "https://", 8) && strncmp(x.server, "http://", 7)) {
			rc = st_diag_set(diag, ST_E_INVALID,
					 "source '%s': server '%s' is not an http(s) URL",
					 src->name, x.shown);
			goto out;
		}
	}
	const char *cname = st_source_option(src, "cluster");
	if (!cname)
		cname = dump ? "dump" : cluster ? cluster : "in-cluster";
	if (!valid_cluster_name(cname)) {
		rc = st_diag_set(diag, ST_E_INVALID,
				 "source '%s': cluster name '%s' cannot be an id segment (1-253 of "
				 "A-Z a-z 0-9 . _ -); set option cluster",
				 src->name, cname);
		goto out;
	}
	if ((rc = st_manifests_new(cname, &x.set, diag)) < 0)
		goto out;
	st_manifests_set_complete(x.set);
	if (dump) {
		if ((rc = read_dumps(&x, loc)) < 0)
			goto out;
		st_manifests_declare_cluster(x.set, NULL, NULL, NULL);
	} else {
		if ((rc = curl_setup(&x)) < 0 || (rc = read_api(&x, ns_opt, &version)) < 0)
			goto out;
		vorigin = xjoin(src->name, ":/version");
		st_manifests_declare_cluster(x.set, vorigin, x.shown, version);
	}
	st_manifests_stats st;
	if ((rc = st_manifests_emit(x.set, sink, &st, diag)) < 0)
		goto out;
	if (sink->progress) {
		sink->progress(sink, "k8s objects", x.objects, x.objects);
		if (x.skipped)
			sink->progress(sink, "k8s objects of other kinds skipped", x.skipped,
				       x.skipped);
		if (!dump)
			sink->progress(sink, "k8s list pages", x.pages, x.pages);
	}
	rc = 0;
out:
	kx_free(&x);
	free(cluster);
	free(version);
	free(vorigin);
	return rc;
}

const st_connector st_connector_k8s = {
	"k8s",
	"Kubernetes API (kubeconfig or in-cluster) or kubectl JSON dumps: workloads, pods, "
	"services, ingresses, nodes; ownerReference, selector and label facts",
	run,
};
