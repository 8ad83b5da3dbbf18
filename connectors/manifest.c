/*
 * manifest.c — Kubernetes objects to source-layer facts: manifests in Git
 * (declared deployments) and the objects the Kubernetes connector reads from
 * a cluster (which adds ReplicaSets, Pods, Nodes, ownerReferences and the
 * cluster's own node); manifest.h has the contract, docs/catalog.md the
 * mapping.
 *
 * Reading and emitting are separate on purpose: st_manifests_add turns one
 * YAML file into small owned objects (kobj) and keeps them in the set, all
 * or nothing per file; st_manifests_add_object does the same for an object
 * read by any other means; st_manifests_emit walks the whole set, so that
 * edges between files (SELECTS, ROUTES_TO) are found.  Nothing here knows
 * YAML except read_file() and its helpers.
 *
 * This file must not do I/O, log or keep global state.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <yaml.h>

#include "manifest.h"
#include "props.h"

#define NAME_MAX_LEN 253

typedef struct kvpair {
	char *k, *v;
} kvpair;

typedef struct kvs {
	kvpair *p;
	size_t n;
} kvs;

typedef struct kowner {
	st_k8s_kind kind;
	bool controller;
	char *name, *uid;
} kowner;

typedef struct kobj {
	st_k8s_kind kind;
	char *name, *ns, *uid, *image, *service_type;
	char *phase, *node_name, *provider_id;
	kowner *owners; /* only those of a known kind */
	size_t n_owners;
	bool has_owner; /* any ownerReference at all */
	bool foreign_controller; /* its controller is of a kind not modelled */
	kvs labels, ann, pod, sel;
	char **hosts, **backends;
	size_t n_hosts, n_backends;
	bool has_replicas;
	int64_t replicas;
	uint32_t line;
	size_t file;
} kobj;

typedef struct kfile {
	char *origin, *path, *repo_id;
} kfile;

struct st_manifests {
	char *cluster;
	kfile *files;
	size_t n_files, cap_files;
	kobj *objs;
	size_t n_objs, cap_objs;
	size_t skipped, ignored;
	bool declare_cluster, complete;
	char *cluster_origin, *server, *version;
};

static const char *const kind_names[ST_K8S_KIND_COUNT] = {
	"Namespace", "Deployment", "StatefulSet", "DaemonSet", "Job",  "CronJob",
	"Service",   "Ingress",	   "ReplicaSet",  "Pod",       "Node",
};
static const char *const node_type_names[ST_K8S_KIND_COUNT] = {
	"KubernetesNamespace", "KubernetesDeployment", "KubernetesStatefulSet",
	"KubernetesDaemonSet", "KubernetesJob",	       "KubernetesCronJob",
	"KubernetesService",   "KubernetesIngress",    "KubernetesReplicaSet",
	"KubernetesPod",       "KubernetesNode",
};
/* accepted apiVersion groups, '|'-separated; "" = core */
static const char *const kind_groups[ST_K8S_KIND_COUNT] = {
	"",
	"apps|extensions",
	"apps",
	"apps|extensions",
	"batch",
	"batch",
	"",
	"networking.k8s.io|extensions",
	"apps|extensions",
	"",
	"",
};

const char *st_k8s_kind_name(st_k8s_kind k)
{
	return (unsigned)k < ST_K8S_KIND_COUNT ? kind_names[k] : NULL;
}

/* Workloads: objects with a pod template (replicas, image). */
static bool is_workload(st_k8s_kind k)
{
	return (k >= ST_K8S_DEPLOYMENT && k <= ST_K8S_CRONJOB) || k == ST_K8S_REPLICASET;
}

/* The kind of (kind, group) over the first n_kinds kinds, or -1. */
static int kind_lookup(const char *kind, size_t kl, const char *api, size_t al, size_t n_kinds)
{
	const char *slash = memchr(api, '/', al);
	size_t glen = slash ? (size_t)(slash - api) : 0;
	for (size_t i = 0; i < n_kinds; i++) {
		if (strlen(kind_names[i]) != kl || memcmp(kind_names[i], kind, kl))
			continue;
		const char *g = kind_groups[i];
		for (;;) {
			const char *bar = strchr(g, '|');
			size_t l = bar ? (size_t)(bar - g) : strlen(g);
			if (l == glen && !memcmp(g, api, l))
				return (int)i;
			if (!bar)
				return -1;
			g = bar + 1;
		}
	}
	return -1;
}

int st_k8s_kind_find(const char *name, const char *api_version, bool live)
{
	if (!name || !api_version)
		return -1;
	return kind_lookup(name, strlen(name), api_version, strlen(api_version),
			   live ? ST_K8S_KIND_COUNT : ST_K8S_REPLICASET);
}

/* ---- owned objects -------------------------------------------------------- */

static void kvs_free(kvs *m)
{
	for (size_t i = 0; i < m->n; i++) {
		free(m->p[i].k);
		free(m->p[i].v);
	}
	free(m->p);
	m->p = NULL;
	m->n = 0;
}

static void kvs_add(kvs *m, const char *k, size_t kl, const char *v, size_t vl)
{
	m->p = st_xrealloc(m->p, (m->n + 1) * sizeof(*m->p));
	m->p[m->n].k = st_xstrndup(k, kl);
	m->p[m->n].v = st_xstrndup(v, vl);
	m->n++;
}

static const char *kvs_get(const kvs *m, const char *k)
{
	for (size_t i = 0; i < m->n; i++)
		if (!strcmp(m->p[i].k, k))
			return m->p[i].v;
	return NULL;
}

static void strs_free(char **v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(v[i]);
	free(v);
}

/* Append s unless already present. */
static void strs_add_unique(char ***v, size_t *n, const char *s, size_t len)
{
	for (size_t i = 0; i < *n; i++)
		if (strlen((*v)[i]) == len && !memcmp((*v)[i], s, len))
			return;
	*v = st_xrealloc(*v, (*n + 1) * sizeof(**v));
	(*v)[(*n)++] = st_xstrndup(s, len);
}

static void kobj_free(kobj *o)
{
	free(o->name);
	free(o->ns);
	free(o->uid);
	free(o->image);
	free(o->service_type);
	free(o->phase);
	free(o->node_name);
	free(o->provider_id);
	for (size_t i = 0; i < o->n_owners; i++) {
		free(o->owners[i].name);
		free(o->owners[i].uid);
	}
	free(o->owners);
	kvs_free(&o->labels);
	kvs_free(&o->ann);
	kvs_free(&o->pod);
	kvs_free(&o->sel);
	strs_free(o->hosts, o->n_hosts);
	strs_free(o->backends, o->n_backends);
	memset(o, 0, sizeof(*o));
}

/* Kubernetes object names and namespaces as id segments: 1..253 bytes of
 * [A-Za-z0-9._-] (no '/', no spaces: a Helm template left unrendered is
 * caught here). */
static bool valid_k8s_name(const char *s, size_t n)
{
	if (n == 0 || n > NAME_MAX_LEN)
		return false;
	for (size_t i = 0; i < n; i++) {
		char c = s[i];
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '.' || c == '-' || c == '_'))
			return false;
	}
	return true;
}

/* ---- the set ---------------------------------------------------------------- */

int st_manifests_new(const char *cluster, st_manifests **ret_set, st_diag *diag)
{
	if (!ret_set || !cluster || !valid_k8s_name(cluster, strlen(cluster)))
		return st_diag_set(diag, -EINVAL, "manifests: invalid cluster name '%s'",
				   cluster ? cluster : "(null)");
	st_manifests *m = st_xcalloc(1, sizeof(*m));
	m->cluster = st_xstrndup(cluster, strlen(cluster));
	*ret_set = m;
	return 0;
}

void st_manifests_free(st_manifests *m)
{
	if (!m)
		return;
	for (size_t i = 0; i < m->n_objs; i++)
		kobj_free(&m->objs[i]);
	free(m->objs);
	for (size_t i = 0; i < m->n_files; i++) {
		free(m->files[i].origin);
		free(m->files[i].path);
		free(m->files[i].repo_id);
	}
	free(m->files);
	free(m->cluster);
	free(m->cluster_origin);
	free(m->server);
	free(m->version);
	free(m);
}

size_t st_manifests_count(const st_manifests *m)
{
	return m ? m->n_objs : 0;
}

void st_manifests_truncate(st_manifests *m, size_t n)
{
	if (!m)
		return;
	while (m->n_objs > n)
		kobj_free(&m->objs[--m->n_objs]);
}

void st_manifests_set_complete(st_manifests *m)
{
	if (m)
		m->complete = true;
}

void st_manifests_declare_cluster(st_manifests *m, const char *origin, const char *server,
				  const char *version)
{
	if (!m)
		return;
	m->declare_cluster = true;
	free(m->cluster_origin);
	free(m->server);
	free(m->version);
	m->cluster_origin = origin ? st_xstrndup(origin, strlen(origin)) : NULL;
	m->server = server ? st_xstrndup(server, strlen(server)) : NULL;
	m->version = version ? st_xstrndup(version, strlen(version)) : NULL;
}

static char *ctx_origin(const st_parse_ctx *ctx)
{
	if (ctx->origin)
		return st_xstrndup(ctx->origin, strlen(ctx->origin));
	size_t n = strlen(ctx->source) + strlen(ctx->path) + 2;
	char *o = st_xmalloc(n);
	snprintf(o, n, "%s:%s", ctx->source, ctx->path);
	return o;
}

static bool same_str(const char *a, const char *b)
{
	return (!a && !b) || (a && b && !strcmp(a, b));
}

/* The index of the file record for ctx: the last one if it matches, else a
 * new one. */
static size_t file_for(st_manifests *m, const st_parse_ctx *ctx, char *origin)
{
	if (m->n_files) {
		kfile *f = &m->files[m->n_files - 1];
		if (!strcmp(f->origin, origin) && same_str(f->path, ctx->path) &&
		    same_str(f->repo_id, ctx->repo_id)) {
			free(origin);
			return m->n_files - 1;
		}
	}
	if (m->n_files == m->cap_files) {
		m->cap_files = m->cap_files ? 2 * m->cap_files : 16;
		m->files = st_xrealloc(m->files, m->cap_files * sizeof(*m->files));
	}
	kfile *f = &m->files[m->n_files++];
	f->origin = origin;
	f->path = st_xstrndup(ctx->path, strlen(ctx->path));
	f->repo_id = ctx->repo_id ? st_xstrndup(ctx->repo_id, strlen(ctx->repo_id)) : NULL;
	return m->n_files - 1;
}

static void objs_append(st_manifests *m, kobj *objs, size_t n, size_t file)
{
	if (m->n_objs + n > m->cap_objs) {
		m->cap_objs = (m->n_objs + n) * 2;
		m->objs = st_xrealloc(m->objs, m->cap_objs * sizeof(*m->objs));
	}
	for (size_t i = 0; i < n; i++) {
		objs[i].file = file;
		m->objs[m->n_objs++] = objs[i];
	}
}

/* ---- reading YAML ------------------------------------------------------------ */

typedef struct reader {
	st__yfile f;
	kobj *objs;
	size_t n, cap;
	size_t skipped, ignored;
} reader;

/* A map of scalars at map[key] into *out (absent: empty). */
static int read_kvs(reader *R, yaml_document_t *d, const yaml_node_t *map, const char *key,
		    const char *path, kvs *out)
{
	yaml_node_t *m;
	int r = st__yget(&R->f, d, map, key, path, ST__Y_MAP, &m);
	if (r || !m)
		return r;
	for (const yaml_node_pair_t *p = m->data.mapping.pairs.start; p < m->data.mapping.pairs.top;
	     p++) {
		yaml_node_t *k = st__ynode(d, p->key), *v = st__ynode(d, p->value);
		if ((r = st__ywant_str(&R->f, k, path)) || (r = st__ywant_str(&R->f, v, path)))
			return r;
		if (st__ylen(k) == 0)
			return st__yfail(&R->f, k, "empty key in '%s'", path);
		for (size_t i = 0; i < out->n; i++)
			if (strlen(out->p[i].k) == st__ylen(k) &&
			    !memcmp(out->p[i].k, st__ytext(k), st__ylen(k)))
				return st__yfail(&R->f, k, "duplicate key in '%s'", path);
		kvs_add(out, st__ytext(k), st__ylen(k), st__ytext(v), st__ylen(v));
	}
	return 0;
}

static int read_str(reader *R, yaml_document_t *d, const yaml_node_t *map, const char *key,
		    const char *path, char **out)
{
	yaml_node_t *v;
	int r = st__yget(&R->f, d, map, key, path, ST__Y_STR, &v);
	if (!r && v)
		*out = st_xstrndup(st__ytext(v), st__ylen(v));
	return r;
}

static int parse_int(const char *s, size_t n, int64_t *ret)
{
	size_t i = 0;
	bool neg = false;
	int64_t v = 0;
	if (n && (s[0] == '-' || s[0] == '+'))
		neg = s[i++] == '-';
	if (i == n)
		return -1;
	for (; i < n; i++) {
		if (s[i] < '0' || s[i] > '9' || v > (INT64_MAX - 9) / 10)
			return -1;
		v = v * 10 + (s[i] - '0');
	}
	*ret = neg ? -v : v;
	return 0;
}

/* The pod template of a workload: spec.template, or for a CronJob
 * spec.jobTemplate.spec.template.  Reads its labels and first image. */
static int read_template(reader *R, yaml_document_t *d, const yaml_node_t *spec, kobj *o)
{
	yaml_node_t *tpl, *js, *meta, *ps, *cs;
	int r;
	const char *pre = "spec.template";
	if (o->kind == ST_K8S_CRONJOB) {
		pre = "spec.jobTemplate.spec.template";
		if ((r = st__yget(&R->f, d, spec, "jobTemplate", "spec.jobTemplate", ST__Y_MAP,
				  &tpl)) ||
		    !tpl)
			return r;
		if ((r = st__yget(&R->f, d, tpl, "spec", "spec.jobTemplate.spec", ST__Y_MAP,
				  &js)) ||
		    !js)
			return r;
		spec = js;
	}
	char path[96];
	if ((r = st__yget(&R->f, d, spec, "template", pre, ST__Y_MAP, &tpl)) || !tpl)
		return r;
	snprintf(path, sizeof(path), "%s.metadata", pre);
	if ((r = st__yget(&R->f, d, tpl, "metadata", path, ST__Y_MAP, &meta)))
		return r;
	snprintf(path, sizeof(path), "%s.metadata.labels", pre);
	if (meta && (r = read_kvs(R, d, meta, "labels", path, &o->pod)))
		return r;
	snprintf(path, sizeof(path), "%s.spec", pre);
	if ((r = st__yget(&R->f, d, tpl, "spec", path, ST__Y_MAP, &ps)) || !ps)
		return r;
	snprintf(path, sizeof(path), "%s.spec.containers", pre);
	if ((r = st__yget(&R->f, d, ps, "containers", path, ST__Y_SEQ, &cs)) || !cs)
		return r;
	char ipath[128];
	snprintf(ipath, sizeof(ipath), "%s[].image", path);
	for (const yaml_node_item_t *it = cs->data.sequence.items.start;
	     it < cs->data.sequence.items.top; it++) {
		yaml_node_t *c = st__ynode(d, *it);
		if (c->type != YAML_MAPPING_NODE)
			return st__yfail(&R->f, c, "expected a mapping for '%s[]'", path);
		if (it == cs->data.sequence.items.start &&
		    (r = read_str(R, d, c, "image", ipath, &o->image)))
			return r;
	}
	return 0;
}

/* A backend's service name: {service: {name}} (v1) or {serviceName} (v1beta1). */
static int read_backend(reader *R, yaml_document_t *d, const yaml_node_t *b, const char *path,
			kobj *o)
{
	yaml_node_t *svc, *name;
	char p[128];
	int r;
	snprintf(p, sizeof(p), "%s.service", path);
	if ((r = st__yget(&R->f, d, b, "service", p, ST__Y_MAP, &svc)))
		return r;
	if (svc) {
		snprintf(p, sizeof(p), "%s.service.name", path);
		if ((r = st__yget(&R->f, d, svc, "name", p, ST__Y_STR, &name)))
			return r;
	} else {
		snprintf(p, sizeof(p), "%s.serviceName", path);
		if ((r = st__yget(&R->f, d, b, "serviceName", p, ST__Y_STR, &name)))
			return r;
	}
	if (!name)
		return 0; /* a resource backend */
	if (!valid_k8s_name(st__ytext(name), st__ylen(name)))
		return st__yfail(&R->f, name, "invalid Service name in '%s'", p);
	strs_add_unique(&o->backends, &o->n_backends, st__ytext(name), st__ylen(name));
	return 0;
}

static int read_ingress(reader *R, yaml_document_t *d, const yaml_node_t *spec, kobj *o)
{
	yaml_node_t *v, *rules, *tls;
	int r;
	if ((r = st__yget(&R->f, d, spec, "defaultBackend", "spec.defaultBackend", ST__Y_MAP,
			  &v)) ||
	    (v && (r = read_backend(R, d, v, "spec.defaultBackend", o))))
		return r;
	if ((r = st__yget(&R->f, d, spec, "backend", "spec.backend", ST__Y_MAP, &v)) ||
	    (v && (r = read_backend(R, d, v, "spec.backend", o))))
		return r;
	if ((r = st__yget(&R->f, d, spec, "rules", "spec.rules", ST__Y_SEQ, &rules)))
		return r;
	for (const yaml_node_item_t *it = rules ? rules->data.sequence.items.start : NULL;
	     rules && it < rules->data.sequence.items.top; it++) {
		yaml_node_t *rule = st__ynode(d, *it), *host, *http, *paths;
		if (rule->type != YAML_MAPPING_NODE)
			return st__yfail(&R->f, rule, "expected a mapping for 'spec.rules[]'");
		if ((r = st__yget(&R->f, d, rule, "host", "spec.rules[].host", ST__Y_STR, &host)))
			return r;
		if (host && st__ylen(host))
			strs_add_unique(&o->hosts, &o->n_hosts, st__ytext(host), st__ylen(host));
		if ((r = st__yget(&R->f, d, rule, "http", "spec.rules[].http", ST__Y_MAP, &http)))
			return r;
		if (!http)
			continue;
		if ((r = st__yget(&R->f, d, http, "paths", "spec.rules[].http.paths", ST__Y_SEQ,
				  &paths)))
			return r;
		for (const yaml_node_item_t *pt = paths ? paths->data.sequence.items.start : NULL;
		     paths && pt < paths->data.sequence.items.top; pt++) {
			yaml_node_t *pn = st__ynode(d, *pt), *b;
			if (pn->type != YAML_MAPPING_NODE)
				return st__yfail(
					&R->f, pn,
					"expected a mapping for 'spec.rules[].http.paths[]'");
			if ((r = st__yget(&R->f, d, pn, "backend",
					  "spec.rules[].http.paths[].backend", ST__Y_MAP, &b)) ||
			    (b &&
			     (r = read_backend(R, d, b, "spec.rules[].http.paths[].backend", o))))
				return r;
		}
	}
	if ((r = st__yget(&R->f, d, spec, "tls", "spec.tls", ST__Y_SEQ, &tls)))
		return r;
	for (const yaml_node_item_t *it = tls ? tls->data.sequence.items.start : NULL;
	     tls && it < tls->data.sequence.items.top; it++) {
		yaml_node_t *t = st__ynode(d, *it), *hosts;
		if (t->type != YAML_MAPPING_NODE)
			return st__yfail(&R->f, t, "expected a mapping for 'spec.tls[]'");
		if ((r = st__yget(&R->f, d, t, "hosts", "spec.tls[].hosts", ST__Y_SEQ, &hosts)))
			return r;
		for (const yaml_node_item_t *h = hosts ? hosts->data.sequence.items.start : NULL;
		     hosts && h < hosts->data.sequence.items.top; h++) {
			yaml_node_t *hn = st__ynode(d, *h);
			if ((r = st__ywant_str(&R->f, hn, "spec.tls[].hosts[]")))
				return r;
			if (st__ylen(hn))
				strs_add_unique(&o->hosts, &o->n_hosts, st__ytext(hn),
						st__ylen(hn));
		}
	}
	return 0;
}

/* The kind of an object by kind and apiVersion group, or -1 (skipped).  YAML
 * files declare; ReplicaSets, Pods and Nodes are what controllers make, so
 * they are skipped like any other kind. */
static int object_kind(const yaml_node_t *api, const yaml_node_t *kind)
{
	return kind_lookup(st__ytext(kind), st__ylen(kind), st__ytext(api), st__ylen(api),
			   ST_K8S_REPLICASET);
}

static int read_object(reader *R, yaml_document_t *d, yaml_node_t *root, uint32_t line, bool top);

static int read_list(reader *R, yaml_document_t *d, const yaml_node_t *root)
{
	yaml_node_t *items;
	int r = st__yget(&R->f, d, root, "items", "items", ST__Y_SEQ, &items);
	if (r || !items)
		return r;
	for (const yaml_node_item_t *it = items->data.sequence.items.start;
	     it < items->data.sequence.items.top; it++) {
		yaml_node_t *n = st__ynode(d, *it);
		if ((r = read_object(R, d, n, (uint32_t)n->start_mark.line + 1, false)))
			return r;
	}
	return 0;
}

static int read_object(reader *R, yaml_document_t *d, yaml_node_t *root, uint32_t line, bool top)
{
	char qb[72];
	st__yfile *f = &R->f;
	yaml_node_t *api, *kind, *meta, *name, *ns, *spec, *v;
	int r;
	if (st__ynull(root))
		return 0;
	if (root->type != YAML_MAPPING_NODE) {
		if (!top)
			return st__yfail(f, root,
					 "expected a mapping for 'items[]', found another node");
		R->ignored++;
		return 0;
	}
	if ((r = st__yget(f, d, root, "apiVersion", "apiVersion", ST__Y_STR, &api)) ||
	    (r = st__yget(f, d, root, "kind", "kind", ST__Y_STR, &kind)))
		return r;
	if (!api || !kind) {
		R->ignored++;
		return 0;
	}
	size_t kl = st__ylen(kind);
	if (top && kl >= 4 && !memcmp(st__ytext(kind) + kl - 4, "List", 4))
		return read_list(R, d, root);
	int k = object_kind(api, kind);
	if (k < 0) {
		R->skipped++;
		return 0;
	}
	if ((r = st__yget(f, d, root, "metadata", "metadata", ST__Y_MAP, &meta)))
		return r;
	if (!meta)
		return st__yfail(f, root, "missing metadata.name");
	if ((r = st__yget(f, d, meta, "name", "metadata.name", ST__Y_STR, &name)))
		return r;
	if (!name)
		return st__yfail(f, meta, "missing metadata.name");
	if (!valid_k8s_name(st__ytext(name), st__ylen(name)))
		return st__yfail(f, name, "invalid metadata.name '%s'",
				 st__yquote(qb, st__ytext(name), st__ylen(name)));
	if ((r = st__yget(f, d, meta, "namespace", "metadata.namespace", ST__Y_STR, &ns)))
		return r;
	if (ns && !valid_k8s_name(st__ytext(ns), st__ylen(ns)))
		return st__yfail(f, ns, "invalid metadata.namespace '%s'",
				 st__yquote(qb, st__ytext(ns), st__ylen(ns)));

	if (R->n == R->cap) {
		R->cap = R->cap ? 2 * R->cap : 16;
		R->objs = st_xrealloc(R->objs, R->cap * sizeof(*R->objs));
	}
	kobj *o = &R->objs[R->n++];
	memset(o, 0, sizeof(*o));
	o->kind = (st_k8s_kind)k;
	o->line = line;
	o->name = st_xstrndup(st__ytext(name), st__ylen(name));
	if (k != ST_K8S_NAMESPACE)
		o->ns = ns ? st_xstrndup(st__ytext(ns), st__ylen(ns)) : st_xstrndup("default", 7);
	if ((r = read_str(R, d, meta, "uid", "metadata.uid", &o->uid)) ||
	    (r = read_kvs(R, d, meta, "labels", "metadata.labels", &o->labels)) ||
	    (r = read_kvs(R, d, meta, "annotations", "metadata.annotations", &o->ann)))
		return r;
	if ((r = st__yget(f, d, root, "spec", "spec", ST__Y_MAP, &spec)) || !spec)
		return r;
	if (is_workload(o->kind)) {
		if ((r = st__yget(f, d, spec, "replicas", "spec.replicas", ST__Y_STR, &v)))
			return r;
		if (v) {
			if (parse_int(st__ytext(v), st__ylen(v), &o->replicas) < 0)
				return st__yfail(f, v, "expected an integer for 'spec.replicas'");
			o->has_replicas = true;
		}
		return read_template(R, d, spec, o);
	}
	if (o->kind == ST_K8S_SERVICE) {
		if ((r = read_str(R, d, spec, "type", "spec.type", &o->service_type)))
			return r;
		return read_kvs(R, d, spec, "selector", "spec.selector", &o->sel);
	}
	if (o->kind == ST_K8S_INGRESS)
		return read_ingress(R, d, spec, o);
	return 0;
}

static int ident_cmp(const void *a, const void *b)
{
	const kobj *x = *(const kobj *const *)a, *y = *(const kobj *const *)b;
	if (x->kind != y->kind)
		return x->kind < y->kind ? -1 : 1;
	int c = strcmp(x->ns ? x->ns : "", y->ns ? y->ns : "");
	if (!c)
		c = strcmp(x->name, y->name);
	return c ? c : (x > y) - (x < y); /* file order among equals */
}

/* Same kind, namespace and name twice in one file: the second in file order
 * is the problem. */
static int check_file_duplicates(reader *R)
{
	char qb[72];
	const kobj **v = st_xcalloc(R->n ? R->n : 1, sizeof(*v));
	for (size_t i = 0; i < R->n; i++)
		v[i] = &R->objs[i];
	qsort(v, R->n, sizeof(*v), ident_cmp);
	const kobj *dup = NULL, *first = NULL;
	for (size_t i = 1; i < R->n; i++) {
		const kobj *a = v[i - 1], *b = v[i];
		if (a->kind == b->kind && !strcmp(a->name, b->name) && same_str(a->ns, b->ns) &&
		    (!dup || b < dup)) {
			dup = b;
			first = a;
		}
	}
	free(v);
	if (!dup)
		return 0;
	return st__yfail_at(&R->f, dup->line, 1, "duplicate %s '%s' (first at line %u)",
			    kind_names[dup->kind], st__yquote(qb, dup->name, strlen(dup->name)),
			    (unsigned)first->line);
}

int st_manifests_add(st_manifests *m, const st_parse_ctx *ctx, const char *buf, size_t len,
		     st_sink *sink, st_manifests_stats *ret_stats, st_diag *diag)
{
	if (!m || !ctx || !ctx->source || !ctx->path || (!buf && len))
		return st_diag_set(diag, -EINVAL, "manifests: invalid arguments");
	if (!buf)
		buf = "";
	char *origin = ctx_origin(ctx);
	reader R = {0};
	int r = 0;
	if (m->n_files >= ST_MANIFESTS_MAX_FILES) {
		r = st_diag_set(diag, ST_E_LIMIT, "%s: more than %d manifest files", origin,
				ST_MANIFESTS_MAX_FILES);
		goto out;
	}
	r = st__yfile_load(&R.f, origin, buf, len, ST_CATALOG_MAX_DOCS);
	for (size_t i = 0; !r && i < R.f.n_docs; i++) {
		yaml_document_t *d = &R.f.docs[i];
		r = read_object(&R, d, yaml_document_get_root_node(d),
				(uint32_t)d->start_mark.line + 1, true);
	}
	if (!r)
		r = check_file_duplicates(&R);
	if (r == ST_E_INVALID) {
		st__yfile_report(&R.f, sink, diag);
		goto out;
	}
	if (r) {
		st_diag_set(diag, r, "%s: out of memory", origin);
		goto out;
	}
	if (m->n_objs + R.n > ST_MANIFESTS_MAX_OBJECTS) {
		r = st_diag_set(diag, ST_E_LIMIT, "%s: more than %d manifest objects in the set",
				origin, ST_MANIFESTS_MAX_OBJECTS);
		goto out;
	}
	size_t fi = file_for(m, ctx, origin);
	origin = NULL; /* owned by the file record now */
	objs_append(m, R.objs, R.n, fi);
	m->skipped += R.skipped;
	m->ignored += R.ignored;
	if (ret_stats)
		*ret_stats = (st_manifests_stats){
			.files = 1, .objects = R.n, .skipped = R.skipped, .ignored = R.ignored};
	R.n = 0;
out:
	for (size_t i = 0; i < R.n; i++)
		kobj_free(&R.objs[i]);
	free(R.objs);
	st__yfile_free(&R.f);
	free(origin);
	return r;
}

/* Copies pairs; empty or NULL keys and repeated keys (the first wins) are
 * dropped, a NULL value is "". */
static void kvs_copy(kvs *dst, const st_kv *src, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		const char *v = src[i].value ? src[i].value : "";
		if (src[i].key && src[i].key[0] && !kvs_get(dst, src[i].key))
			kvs_add(dst, src[i].key, strlen(src[i].key), v, strlen(v));
	}
}

static char *dup_or_null(const char *s)
{
	return s ? st_xstrndup(s, strlen(s)) : NULL;
}

int st_manifests_add_object(st_manifests *m, const st_parse_ctx *ctx, const st_k8s_obj *obj,
			    st_diag *diag)
{
	if (!m || !ctx || !ctx->source || !ctx->path || !obj)
		return st_diag_set(diag, -EINVAL, "manifests: invalid arguments");
	if ((unsigned)obj->kind >= ST_K8S_KIND_COUNT || !obj->name ||
	    !valid_k8s_name(obj->name, strlen(obj->name)) ||
	    (obj->ns && obj->ns[0] && !valid_k8s_name(obj->ns, strlen(obj->ns))))
		return st_diag_set(diag, ST_E_INVALID,
				   "manifests: object without a valid kind, name or namespace");
	/* the longest id it gets: k8s:<cluster>/<ns>/<Kind>/<name> */
	size_t idlen = 4 + strlen(m->cluster) + 1 + (obj->ns && obj->ns[0] ? strlen(obj->ns) : 7) +
		       1 + strlen(kind_names[obj->kind]) + 1 + strlen(obj->name);
	if (idlen > ST_NODE_ID_MAX)
		return st_diag_set(diag, ST_E_INVALID,
				   "manifests: the object's id would be %zu bytes (at most %d)", idlen,
				   ST_NODE_ID_MAX);
	if (m->n_objs >= ST_MANIFESTS_MAX_OBJECTS)
		return st_diag_set(diag, ST_E_LIMIT, "manifests: more than %d objects in the set",
				   ST_MANIFESTS_MAX_OBJECTS);
	kobj o = {.kind = obj->kind,
		  .name = dup_or_null(obj->name),
		  .uid = dup_or_null(obj->uid),
		  .image = dup_or_null(obj->image),
		  .service_type = dup_or_null(obj->service_type),
		  .has_replicas = obj->has_replicas,
		  .replicas = obj->replicas,
		  .line = obj->line};
	if (obj->kind != ST_K8S_NAMESPACE && obj->kind != ST_K8S_NODE)
		o.ns = dup_or_null(obj->ns && obj->ns[0] ? obj->ns : "default");
	o.phase = dup_or_null(obj->phase);
	o.node_name = dup_or_null(obj->node_name);
	o.provider_id = dup_or_null(obj->provider_id);
	o.has_owner = obj->n_owners > 0;
	for (size_t i = 0; i < obj->n_owners; i++) {
		const st_k8s_owner *w = &obj->owners[i];
		int k = -1;
		for (size_t j = 0; w->kind && j < ST_K8S_KIND_COUNT; j++)
			if (!strcmp(kind_names[j], w->kind))
				k = (int)j;
		if (k < 0 || !w->name || !valid_k8s_name(w->name, strlen(w->name))) {
			/* a controller we do not model still means the others are not */
			o.foreign_controller |= w->controller;
			continue;
		}
		o.owners = st_xrealloc(o.owners, (o.n_owners + 1) * sizeof(*o.owners));
		o.owners[o.n_owners++] = (kowner){.kind = (st_k8s_kind)k,
						  .controller = w->controller,
						  .name = dup_or_null(w->name),
						  .uid = dup_or_null(w->uid)};
	}
	kvs_copy(&o.labels, obj->labels, obj->n_labels);
	kvs_copy(&o.ann, obj->annotations, obj->n_annotations);
	kvs_copy(&o.pod, obj->pod_labels, obj->n_pod_labels);
	kvs_copy(&o.sel, obj->selector, obj->n_selector);
	for (size_t i = 0; i < obj->n_hosts; i++)
		if (obj->hosts[i] && obj->hosts[i][0])
			strs_add_unique(&o.hosts, &o.n_hosts, obj->hosts[i], strlen(obj->hosts[i]));
	for (size_t i = 0; i < obj->n_backends; i++)
		if (obj->backends[i] && valid_k8s_name(obj->backends[i], strlen(obj->backends[i])))
			strs_add_unique(&o.backends, &o.n_backends, obj->backends[i],
					strlen(obj->backends[i]));
	size_t fi = file_for(m, ctx, ctx_origin(ctx));
	objs_append(m, &o, 1, fi);
	return 0;
}

/* ---- emitting ---------------------------------------------------------------- */

typedef struct emitter {
	const st_manifests *m;
	st_sink *sink;
	st_diag *diag;
	int nt[ST_K8S_KIND_COUNT], nt_cluster, nt_repo;
	int et_scoped, et_declared, et_selects, et_routes, et_controlled, et_runs_on;
	st_pb pb;
	st_manifests_stats st;
} emitter;

static char *obj_id(const st_manifests *m, const kobj *o)
{
	size_t n = 4 + strlen(m->cluster) + 1 + (o->ns ? strlen(o->ns) + 1 : 0) +
		   strlen(kind_names[o->kind]) + 1 + strlen(o->name) + 1;
	char *id = st_xmalloc(n);
	if (o->kind == ST_K8S_NAMESPACE)
		snprintf(id, n, "k8s:%s/%s", m->cluster, o->name);
	else if (o->kind == ST_K8S_NODE)
		snprintf(id, n, "k8s:%s/Node/%s", m->cluster, o->name);
	else
		snprintf(id, n, "k8s:%s/%s/%s/%s", m->cluster, o->ns, kind_names[o->kind], o->name);
	return id;
}

static char *ns_id(const st_manifests *m, const char *ns)
{
	size_t n = 4 + strlen(m->cluster) + 1 + strlen(ns) + 1;
	char *id = st_xmalloc(n);
	snprintf(id, n, "k8s:%s/%s", m->cluster, ns);
	return id;
}

static st_loc obj_loc(const st_manifests *m, const kobj *o)
{
	return (st_loc){m->files[o->file].origin, o->line};
}

static int pb_kvs(emitter *E, const char *key, const kvs *v)
{
	if (!v->n)
		return 0;
	int r = st_pb_map_begin(&E->pb, key, strlen(key));
	if (r)
		return r;
	for (size_t i = 0; i < v->n; i++)
		st_pb_map_add(&E->pb, v->p[i].k, strlen(v->p[i].k), v->p[i].v, strlen(v->p[i].v));
	return st_pb_end(&E->pb, E->diag);
}

static int pb_s(emitter *E, const char *key, const char *v)
{
	return v ? st_pb_string(&E->pb, key, strlen(key), v, strlen(v)) : 0;
}

static int do_edge(emitter *E, const char *src, const char *dst, int type, const char *pk1,
		   const char *pv1, const char *pk2, const char *pv2, st_loc loc)
{
	const uint8_t *blob;
	size_t len;
	int r;
	st_pb_reset(&E->pb);
	if ((r = pb_s(E, pk1 ? pk1 : "", pk1 ? pv1 : NULL)) ||
	    (r = pb_s(E, pk2 ? pk2 : "", pk2 ? pv2 : NULL)) ||
	    (r = st_pb_finish(&E->pb, &blob, &len, E->diag)))
		return r;
	r = E->sink->edge(E->sink, src, strlen(src), dst, strlen(dst), type, blob, len, loc,
			  E->diag);
	if (!r)
		E->st.edges++;
	return r;
}

static int do_node(emitter *E, const char *id, int type, st_loc loc)
{
	const uint8_t *blob;
	size_t len;
	int r = st_pb_finish(&E->pb, &blob, &len, E->diag);
	if (!r)
		r = E->sink->node(E->sink, id, strlen(id), type, blob, len, loc, E->diag);
	return r;
}

typedef struct wl {
	const char *ns;
	size_t idx;
} wl;

static int wl_cmp(const void *a, const void *b)
{
	const wl *x = a, *y = b;
	int c = strcmp(x->ns, y->ns);
	return c ? c : (x->idx > y->idx) - (x->idx < y->idx);
}

static int idx_cmp(const void *a, const void *b)
{
	const wl *x = a, *y = b;
	return (x->idx > y->idx) - (x->idx < y->idx);
}

/* One node per namespace (in order of first appearance), each SCOPED_IN
 * the cluster.  The cluster node itself is not declared here: manifests do
 * not know its server or version, and a declaration would overwrite what a
 * live Kubernetes source says; the sync references it (a placeholder until a
 * live source declares it). */
static int emit_namespaces(emitter *E)
{
	const st_manifests *m = E->m;
	char *cid = st_xmalloc(strlen(m->cluster) + 5);
	snprintf(cid, strlen(m->cluster) + 5, "k8s:%s", m->cluster);
	int r = 0;
	/* names[i]: namespace, decl[i]: declaring object or NULL, user[i]:
	 * first object in it; in order of first appearance.  Found by sorting
	 * (namespace, index), so that 10^5 objects in 10^3 namespaces stay cheap. */
	wl *all = st_xcalloc(m->n_objs ? m->n_objs : 1, sizeof(*all));
	size_t na = 0;
	for (size_t i = 0; i < m->n_objs; i++) {
		const kobj *o = &m->objs[i];
		if (o->kind != ST_K8S_NODE)
			all[na++] = (wl){o->kind == ST_K8S_NAMESPACE ? o->name : o->ns, i};
	}
	qsort(all, na, sizeof(*all), wl_cmp);
	wl *firsts = st_xcalloc(na ? na : 1, sizeof(*firsts));
	size_t n = 0;
	for (size_t i = 0; i < na; i++)
		if (!i || strcmp(all[i].ns, all[i - 1].ns))
			firsts[n++] = all[i];
	qsort(firsts, n, sizeof(*firsts), idx_cmp);
	const char **names = st_xcalloc(n ? n : 1, sizeof(*names));
	const kobj **decl = st_xcalloc(n ? n : 1, sizeof(*decl));
	const kobj **user = st_xcalloc(n ? n : 1, sizeof(*user));
	for (size_t j = 0; j < n; j++) {
		names[j] = firsts[j].ns;
		user[j] = &m->objs[firsts[j].idx];
		/* the first Namespace object of that name declares it */
		size_t lo = 0, hi = na;
		while (lo < hi) {
			size_t mid = lo + (hi - lo) / 2;
			if (strcmp(all[mid].ns, names[j]) < 0)
				lo = mid + 1;
			else
				hi = mid;
		}
		for (size_t i = lo; i < na && !strcmp(all[i].ns, names[j]) && !decl[j]; i++)
			if (m->objs[all[i].idx].kind == ST_K8S_NAMESPACE)
				decl[j] = &m->objs[all[i].idx];
	}
	free(all);
	free(firsts);
	for (size_t j = 0; j < n && !r; j++) {
		char *id = ns_id(m, names[j]);
		const kobj *o = decl[j] ? decl[j] : user[j];
		st_pb_reset(&E->pb);
		if (!(r = pb_s(E, "cluster", m->cluster)) && !(r = pb_s(E, "name", names[j])) &&
		    decl[j] && !(r = pb_kvs(E, "labels", &o->labels)))
			r = pb_kvs(E, "annotations", &o->ann);
		if (!r)
			r = do_node(E, id, E->nt[ST_K8S_NAMESPACE], obj_loc(m, o));
		if (!r)
			r = do_edge(E, id, cid, E->et_scoped, NULL, NULL, NULL, NULL,
				    obj_loc(m, o));
		if (!r && decl[j] && m->files[o->file].repo_id)
			r = do_edge(E, id, m->files[o->file].repo_id, E->et_declared, "path",
				    m->files[o->file].path, NULL, NULL, obj_loc(m, o));
		free(id);
		E->st.namespaces++;
	}
	free(names);
	free(decl);
	free(user);
	free(cid);
	return r;
}

static int emit_object(emitter *E, const kobj *o)
{
	const st_manifests *m = E->m;
	st_loc loc = obj_loc(m, o);
	char *id = obj_id(m, o);
	char *nsid = o->kind == ST_K8S_NODE ? ns_id(m, "") : ns_id(m, o->ns);
	int r;
	if (o->kind == ST_K8S_NODE)
		nsid[strlen(nsid) - 1] = 0; /* "k8s:<cluster>": nodes are in the cluster */
	st_pb_reset(&E->pb);
	if ((r = pb_s(E, "cluster", m->cluster)) || (r = pb_s(E, "namespace", o->ns)) ||
	    (r = pb_s(E, "name", o->name)) ||
	    (o->kind != ST_K8S_NODE && (r = pb_s(E, "uid", o->uid))) ||
	    (r = pb_kvs(E, "labels", &o->labels)) || (r = pb_kvs(E, "annotations", &o->ann)))
		goto out;
	if (is_workload(o->kind)) {
		if ((o->has_replicas && (r = st_pb_int(&E->pb, "replicas", 8, o->replicas))) ||
		    (r = pb_s(E, "image", o->image)))
			goto out;
	} else if (o->kind == ST_K8S_SERVICE) {
		if ((r = pb_s(E, "service_type", o->service_type)) ||
		    (r = pb_kvs(E, "selector", &o->sel)))
			goto out;
	} else if (o->kind == ST_K8S_POD) {
		if ((r = pb_s(E, "phase", o->phase)) || (r = pb_s(E, "node_name", o->node_name)) ||
		    (r = pb_s(E, "image", o->image)))
			goto out;
	} else if (o->kind == ST_K8S_NODE) {
		const char *it = kvs_get(&o->labels, "node.kubernetes.io/instance-type");
		const char *zone = kvs_get(&o->labels, "topology.kubernetes.io/zone");
		if (!it)
			it = kvs_get(&o->labels, "beta.kubernetes.io/instance-type");
		if (!zone)
			zone = kvs_get(&o->labels, "failure-domain.beta.kubernetes.io/zone");
		if ((r = pb_s(E, "instance_type", it)) || (r = pb_s(E, "zone", zone)) ||
		    (r = pb_s(E, "provider_id", o->provider_id)))
			goto out;
	} else if (o->kind == ST_K8S_INGRESS && o->n_hosts) {
		if ((r = st_pb_list_begin(&E->pb, "hosts", 5)))
			goto out;
		for (size_t i = 0; i < o->n_hosts; i++)
			st_pb_list_add(&E->pb, o->hosts[i], strlen(o->hosts[i]));
		if ((r = st_pb_end(&E->pb, E->diag)))
			goto out;
	}
	if ((r = do_node(E, id, E->nt[o->kind], loc)) ||
	    (r = do_edge(E, id, nsid, E->et_scoped, NULL, NULL, NULL, NULL, loc)))
		goto out;
	if (m->files[o->file].repo_id)
		r = do_edge(E, id, m->files[o->file].repo_id, E->et_declared, "path",
			    m->files[o->file].path, NULL, NULL, loc);
out:
	free(id);
	free(nsid);
	return r;
}

static bool selects(const kobj *svc, const kobj *w)
{
	if (!svc->sel.n)
		return false;
	for (size_t i = 0; i < svc->sel.n; i++) {
		const char *v = kvs_get(&w->pod, svc->sel.p[i].k);
		if (!v || strcmp(v, svc->sel.p[i].v))
			return false;
	}
	return true;
}

static int emit_selects(emitter *E)
{
	const st_manifests *m = E->m;
	wl *ws = st_xcalloc(m->n_objs ? m->n_objs : 1, sizeof(*ws));
	size_t n = 0;
	int r = 0;
	for (size_t i = 0; i < m->n_objs; i++) {
		const kobj *o = &m->objs[i];
		if (is_workload(o->kind) &&
		    st_schema_edge_allows(E->sink->schema, (size_t)E->et_selects,
					  (size_t)E->nt[ST_K8S_SERVICE], (size_t)E->nt[o->kind]))
			ws[n++] = (wl){o->ns, i};
	}
	qsort(ws, n, sizeof(*ws), wl_cmp);
	for (size_t i = 0; i < m->n_objs && !r; i++) {
		const kobj *s = &m->objs[i];
		if (s->kind != ST_K8S_SERVICE || !s->sel.n)
			continue;
		/* first workload of the Service's namespace */
		size_t lo = 0, hi = n;
		while (lo < hi) {
			size_t mid = lo + (hi - lo) / 2;
			if (strcmp(ws[mid].ns, s->ns) < 0)
				lo = mid + 1;
			else
				hi = mid;
		}
		char *ev = NULL;
		for (size_t j = lo; j < n && !strcmp(ws[j].ns, s->ns) && !r; j++) {
			const kobj *w = &m->objs[ws[j].idx];
			if (!selects(s, w))
				continue;
			if (!ev) {
				size_t cap = 1;
				for (size_t k = 0; k < s->sel.n; k++)
					cap += strlen(s->sel.p[k].k) + strlen(s->sel.p[k].v) + 2;
				ev = st_xmalloc(cap);
				size_t off = 0;
				for (size_t k = 0; k < s->sel.n; k++)
					off += (size_t)snprintf(ev + off, cap - off, "%s%s=%s",
								k ? "," : "", s->sel.p[k].k,
								s->sel.p[k].v);
			}
			char *sid = obj_id(m, s), *wid = obj_id(m, w);
			r = do_edge(E, sid, wid, E->et_selects, "rule", "selector", "evidence", ev,
				    obj_loc(m, s));
			free(sid);
			free(wid);
		}
		free(ev);
	}
	free(ws);
	return r;
}

static int emit_routes(emitter *E, const kobj *o)
{
	const st_manifests *m = E->m;
	int r = 0;
	char *id = obj_id(m, o);
	for (size_t i = 0; i < o->n_backends && !r; i++) {
		kobj svc = {.kind = ST_K8S_SERVICE, .ns = o->ns, .name = o->backends[i]};
		char *sid = obj_id(m, &svc);
		r = do_edge(E, id, sid, E->et_routes, NULL, NULL, NULL, NULL, obj_loc(m, o));
		free(sid);
	}
	free(id);
	return r;
}

/* ---- CONTROLLED_BY and RUNS_ON: objects looked up by (kind, namespace, name) */

typedef struct okey {
	st_k8s_kind kind;
	const char *ns, *name;
	size_t idx;
} okey;

static int okey_cmp(const void *a, const void *b)
{
	const okey *x = a, *y = b;
	if (x->kind != y->kind)
		return x->kind < y->kind ? -1 : 1;
	int c = strcmp(x->ns, y->ns);
	if (!c)
		c = strcmp(x->name, y->name);
	return c ? c : (x->idx > y->idx) - (x->idx < y->idx);
}

/* The last object of the set with that identity (the sink keeps the later of
 * two upserts too), or NULL. */
static const kobj *find_obj(const st_manifests *m, const okey *keys, size_t n, st_k8s_kind kind,
			    const char *ns, const char *name)
{
	okey want = {kind, ns ? ns : "", name, (size_t)-1};
	size_t lo = 0, hi = n;
	while (lo < hi) { /* first key > want (idx -1 sorts after every index) */
		size_t mid = lo + (hi - lo) / 2;
		if (okey_cmp(&keys[mid], &want) <= 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (!lo)
		return NULL;
	const okey *k = &keys[lo - 1];
	if (k->kind != kind || strcmp(k->ns, want.ns) || strcmp(k->name, name))
		return NULL;
	return &m->objs[k->idx];
}

static int emit_links(emitter *E)
{
	const st_manifests *m = E->m;
	const st_schema *sc = E->sink->schema;
	okey *keys = st_xcalloc(m->n_objs ? m->n_objs : 1, sizeof(*keys));
	size_t n = 0;
	bool any = false;
	for (size_t i = 0; i < m->n_objs; i++) {
		const kobj *o = &m->objs[i];
		keys[n++] = (okey){o->kind, o->ns ? o->ns : "", o->name, i};
		any = any || o->n_owners || (o->kind == ST_K8S_POD && o->node_name) ||
		      (m->complete && o->n_backends);
	}
	if (!any) {
		free(keys);
		return 0;
	}
	qsort(keys, n, sizeof(*keys), okey_cmp);
	int r = 0;
	for (size_t i = 0; i < m->n_objs && !r; i++) {
		const kobj *o = &m->objs[i];
		bool has_controller = o->foreign_controller;
		for (size_t j = 0; j < o->n_owners; j++)
			has_controller = has_controller || o->owners[j].controller;
		for (size_t j = 0; j < o->n_owners && !r; j++) {
			const kowner *w = &o->owners[j];
			if (has_controller && !w->controller)
				continue;
			if (!st_schema_edge_allows(sc, (size_t)E->et_controlled,
						   (size_t)E->nt[o->kind], (size_t)E->nt[w->kind]))
				continue;
			const kobj *t = find_obj(m, keys, n, w->kind, o->ns, w->name);
			if (!t || (t->uid && w->uid && strcmp(t->uid, w->uid)))
				continue; /* not read, or a namesake that replaced it */
			char *a = obj_id(m, o), *b = obj_id(m, t);
			r = do_edge(E, a, b, E->et_controlled, NULL, NULL, NULL, NULL,
				    obj_loc(m, o));
			free(a);
			free(b);
		}
		for (size_t j = 0; m->complete && j < o->n_backends && !r; j++) {
			/* a whole cluster: a backend that is not there is a remark, not
			 * an edge the sync would drop with a warning */
			const kobj *t = find_obj(m, keys, n, ST_K8S_SERVICE, o->ns, o->backends[j]);
			char *a = obj_id(m, o);
			if (t) {
				char *b = obj_id(m, t);
				r = do_edge(E, a, b, E->et_routes, NULL, NULL, NULL, NULL,
					    obj_loc(m, o));
				free(b);
			} else if (E->sink->note) {
				size_t ml = strlen(a) + strlen(o->backends[j]) + 64;
				char *msg = st_xmalloc(ml);
				snprintf(msg, ml, "%s routes to Service '%s', which does not exist",
					 a, o->backends[j]);
				E->sink->note(E->sink, obj_loc(m, o), msg);
				free(msg);
			}
			free(a);
		}
		if (o->kind == ST_K8S_POD && o->node_name && !r) {
			const kobj *t = find_obj(m, keys, n, ST_K8S_NODE, NULL, o->node_name);
			if (!t)
				continue;
			char *a = obj_id(m, o), *b = obj_id(m, t);
			r = do_edge(E, a, b, E->et_runs_on, NULL, NULL, NULL, NULL, obj_loc(m, o));
			free(a);
			free(b);
		}
	}
	free(keys);
	return r;
}

/* Identity hints go on what a team deploys, not on what controllers make of
 * it: no ReplicaSets or Pods, no Jobs a CronJob (or anything) owns. */
static bool top_level(const kobj *o)
{
	switch (o->kind) {
	case ST_K8S_DEPLOYMENT:
	case ST_K8S_STATEFULSET:
	case ST_K8S_DAEMONSET:
	case ST_K8S_CRONJOB: return true;
	case ST_K8S_JOB: return !o->has_owner;
	default: return false;
	}
}

static int emit_cluster(emitter *E)
{
	const st_manifests *m = E->m;
	char *cid = st_xmalloc(strlen(m->cluster) + 5);
	snprintf(cid, strlen(m->cluster) + 5, "k8s:%s", m->cluster);
	st_pb_reset(&E->pb);
	int r;
	st_loc loc = {m->cluster_origin, 0};
	if (!(r = pb_s(E, "name", m->cluster)) && !(r = pb_s(E, "server", m->server)) &&
	    !(r = pb_s(E, "version", m->version)))
		r = do_node(E, cid, E->nt_cluster, loc);
	free(cid);
	return r;
}

static const struct hint_rule {
	const char *key;
	st_hint_kind kind;
	const char *rule;
	bool annotation_too;
} hint_rules[] = {
	{"app.kubernetes.io/name", ST_HINT_SERVICE, "k8s-label-name", false},
	{"app", ST_HINT_SERVICE, "k8s-label-app", false},
	{"backstage.io/kubernetes-id", ST_HINT_SERVICE, "backstage-kubernetes-id", true},
	{"app.kubernetes.io/part-of", ST_HINT_SYSTEM, "k8s-label-part-of", false},
	{"team", ST_HINT_TEAM, "k8s-label-team", false},
	{"owner", ST_HINT_TEAM, "k8s-label-owner", false},
};

/* Hints from the object's labels, its annotations (Backstage id only), then
 * its pod template labels; one hint per (rule, value). */
static int emit_hints(emitter *E, const kobj *o)
{
	const st_manifests *m = E->m;
	char *id = obj_id(m, o);
	int r = 0;
	for (size_t i = 0; i < ST_ARRAY_LEN(hint_rules) && !r; i++) {
		const struct hint_rule *h = &hint_rules[i];
		const struct {
			const kvs *src;
			const char *what;
		} srcs[] = {{&o->labels, "label"},
			    {h->annotation_too ? &o->ann : NULL, "annotation"},
			    {&o->pod, "pod template label"}};
		const char *seen[3];
		size_t n_seen = 0;
		for (size_t s = 0; s < ST_ARRAY_LEN(srcs) && !r; s++) {
			if (!srcs[s].src)
				continue;
			const char *v = kvs_get(srcs[s].src, h->key);
			if (!v || !*v)
				continue;
			bool dup = false;
			for (size_t k = 0; k < n_seen; k++)
				dup = dup || !strcmp(seen[k], v);
			if (dup)
				continue;
			seen[n_seen++] = v;
			size_t elen = strlen(srcs[s].what) + strlen(h->key) + strlen(v) + 3;
			char *ev = st_xmalloc(elen);
			snprintf(ev, elen, "%s %s=%s", srcs[s].what, h->key, v);
			r = E->sink->hint(E->sink, id, strlen(id), h->kind, v, strlen(v), h->rule,
					  ev, obj_loc(m, o), E->diag);
			free(ev);
			if (!r)
				E->st.hints++;
		}
	}
	free(id);
	return r;
}

int st_manifests_emit(st_manifests *m, st_sink *sink, st_manifests_stats *ret_stats, st_diag *diag)
{
	if (!m || !sink || !sink->schema || !sink->node || !sink->edge || !sink->hint)
		return st_diag_set(diag, -EINVAL, "manifests: invalid arguments");
	emitter E = {.m = m, .sink = sink, .diag = diag};
	const st_schema *s = sink->schema;
	int r = 0;
	for (size_t i = 0; i < ST_K8S_KIND_COUNT; i++)
		if ((E.nt[i] = st_schema_find_node_type(s, node_type_names[i],
							strlen(node_type_names[i]))) < 0)
			return st_diag_set(diag, ST_E_SCHEMA, "the schema has no node type %s",
					   node_type_names[i]);
	E.nt_cluster = st_schema_find_node_type(s, "KubernetesCluster", 17);
	E.nt_repo = st_schema_find_node_type(s, "Repository", 10);
	E.et_scoped = st_schema_find_edge_type(s, "SCOPED_IN", 9);
	E.et_declared = st_schema_find_edge_type(s, "DECLARED_IN", 11);
	E.et_selects = st_schema_find_edge_type(s, "SELECTS", 7);
	E.et_routes = st_schema_find_edge_type(s, "ROUTES_TO", 9);
	E.et_controlled = st_schema_find_edge_type(s, "CONTROLLED_BY", 13);
	E.et_runs_on = st_schema_find_edge_type(s, "RUNS_ON", 7);
	if (E.nt_cluster < 0 || E.nt_repo < 0 || E.et_scoped < 0 || E.et_declared < 0 ||
	    E.et_selects < 0 || E.et_routes < 0 || E.et_controlled < 0 || E.et_runs_on < 0)
		return st_diag_set(diag, ST_E_SCHEMA,
				   "the schema lacks a Kubernetes node or edge type");
	st_pb_init(&E.pb);
	if (m->declare_cluster)
		r = emit_cluster(&E);
	if (m->n_objs && !r)
		r = emit_namespaces(&E);
	for (size_t i = 0; i < m->n_objs && !r; i++)
		if (m->objs[i].kind != ST_K8S_NAMESPACE)
			r = emit_object(&E, &m->objs[i]);
	if (!r)
		r = emit_selects(&E);
	for (size_t i = 0; i < m->n_objs && !r && !m->complete; i++)
		if (m->objs[i].kind == ST_K8S_INGRESS)
			r = emit_routes(&E, &m->objs[i]);
	if (!r)
		r = emit_links(&E);
	for (size_t i = 0; i < m->n_objs && !r; i++)
		if (top_level(&m->objs[i]))
			r = emit_hints(&E, &m->objs[i]);
	st_pb_free(&E.pb);
	if (r)
		return r;
	if (ret_stats) {
		E.st.files = m->n_files;
		E.st.objects = m->n_objs;
		E.st.skipped = m->skipped;
		E.st.ignored = m->ignored;
		*ret_stats = E.st;
	}
	return 0;
}
