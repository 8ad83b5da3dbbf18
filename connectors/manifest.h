/*
 * manifest.h — Kubernetes manifests as declared deployments (docs/catalog.md).
 *
 * A *set* collects the objects of many files (st_manifests_add parses one
 * YAML file; st_manifests_add_object adds one object from any other reader,
 * e.g. a `kubectl get -o json` dump), then st_manifests_emit turns the whole
 * set into facts, so that edges across files (a Service in one file
 * selecting a Deployment in another) are found.
 *
 * Ids follow examples/estate: cluster "k8s:<cluster>", namespace
 * "k8s:<cluster>/<ns>", object "k8s:<cluster>/<ns>/<Kind>/<name>" (Kind as
 * Kubernetes spells it: Deployment, StatefulSet, DaemonSet, Job, CronJob,
 * Service, Ingress, ReplicaSet, Pod), node "k8s:<cluster>/Node/<name>".
 * Objects without metadata.namespace are in "default".
 *
 * Like the catalog parser this module does no I/O and no logging; a set
 * belongs to one thread at a time.
 */
#ifndef ST_MANIFEST_H
#define ST_MANIFEST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "backstage.h" /* st_parse_ctx, st_strv, limits */
#include "common.h"
#include "connector.h"

/* Bounds per set (a hit is ST_E_LIMIT from add, nothing of that file kept). */
#define ST_MANIFESTS_MAX_OBJECTS 2000000
#define ST_MANIFESTS_MAX_FILES 100000

typedef enum st_k8s_kind {
	ST_K8S_NAMESPACE,
	ST_K8S_DEPLOYMENT,
	ST_K8S_STATEFULSET,
	ST_K8S_DAEMONSET,
	ST_K8S_JOB,
	ST_K8S_CRONJOB,
	ST_K8S_SERVICE,
	ST_K8S_INGRESS,
	/* live objects only (st_manifests_add_object): YAML files skip them */
	ST_K8S_REPLICASET,
	ST_K8S_POD,
	ST_K8S_NODE, /* cluster-scoped: no namespace */
	ST_K8S_KIND_COUNT
} st_k8s_kind;

/* "Deployment", ...; NULL out of range. */
const char *st_k8s_kind_name(st_k8s_kind k);
/* The kind called `name` (exact spelling) whose apiVersion `api_version`
 * ("apps/v1", "v1", ...) is of an accepted group (the table in
 * docs/catalog.md), or -1.  `live` admits ReplicaSet, Pod and Node too. */
int st_k8s_kind_find(const char *name, const char *api_version, bool live);

/* One ownerReferences entry. */
typedef struct st_k8s_owner {
	const char *kind, *name, *uid;
	bool controller;
} st_k8s_owner;

/* One object, independent of how it was read.  Every pointer is borrowed for
 * the call of st_manifests_add_object (the set copies).  Strings are
 * NUL-terminated; NULL means absent.  Map pairs with an empty key and
 * repeated keys (the first wins), empty hosts and backends that are not valid
 * names are dropped. */
typedef struct st_k8s_obj {
	st_k8s_kind kind;
	const char *name; /* required */
	const char *ns;	  /* NULL or "": "default" (ignored for Namespace) */
	const char *uid;
	const st_kv *labels, *annotations;
	size_t n_labels, n_annotations;
	/* workloads (Deployment ... CronJob) */
	bool has_replicas;
	int64_t replicas;
	const char *image;	 /* first container's image of the pod template */
	const st_kv *pod_labels; /* pod template labels */
	size_t n_pod_labels;
	/* Service */
	const char *service_type; /* spec.type; NULL: ClusterIP is NOT assumed */
	const st_kv *selector;	  /* spec.selector; none: selects nothing */
	size_t n_selector;
	/* Ingress */
	const char *const *hosts; /* spec.rules[].host and spec.tls[].hosts[], deduplicated */
	size_t n_hosts;
	const char *const *backends; /* backend Service names (same namespace) */
	size_t n_backends;
	/* metadata.ownerReferences (all of them; only those of a kind above give
	 * CONTROLLED_BY edges, but any owner makes a Job not top-level) */
	const st_k8s_owner *owners;
	size_t n_owners;
	/* Pod: status.phase, spec.nodeName (image: spec.containers[0].image) */
	const char *phase, *node_name;
	/* Node: spec.providerID */
	const char *provider_id;
	uint32_t line; /* 1-based line of the object's start in its file (or its
			  index in a dump file); 0 unknown */
} st_k8s_obj;

typedef struct st_manifests st_manifests;

/* What a set holds / emitted. */
typedef struct st_manifests_stats {
	size_t files;			 /* files added successfully */
	size_t objects;			 /* objects of the kinds above */
	size_t skipped;			 /* Kubernetes objects of other kinds (ConfigMap, ...) or
			    of a known kind with a foreign apiVersion group
			    (e.g. Knative serving.knative.dev Service) */
	size_t ignored;			 /* documents that are not Kubernetes objects (no
			    apiVersion or kind: Helm values, ...); empty
			    documents are not counted */
	size_t namespaces, edges, hints; /* emitted by st_manifests_emit */
} st_manifests_stats;

/* A new empty set for cluster `cluster` (the id segment; the Git connector
 * passes its option `cluster`, default "declared"; 1..253 bytes without '/').
 * -EINVAL for a bad cluster or ret_set NULL.  Free with st_manifests_free. */
int st_manifests_new(const char *cluster, st_manifests **ret_set, st_diag *diag);
/* NULL-safe. */
void st_manifests_free(st_manifests *set);

/*
 * Parse one manifest file (a YAML stream; each document an object or a
 * `kind: List` with `items`) and add its objects to the set.  ctx->repo_id
 * and ctx->path give the DECLARED_IN edges of its objects (none when
 * repo_id is NULL); ctx->source and ctx->origin as in backstage.h.
 *
 * Returns 0 (*ret_stats, may be NULL, gets this file's counts), or:
 *   ST_E_INVALID  the file is malformed (YAML syntax, bounds, a known kind
 *                 without metadata.name, a value of the wrong kind, the same
 *                 object twice in the file): NOTHING of it is kept.  If
 *                 `sink` is not NULL the parser has called sink->warn({origin,
 *                 LINE}, "PROBLEM (column COL)") once and the caller must not
 *                 warn again; with sink NULL nothing was reported and the
 *                 caller decides.  diag holds "origin:LINE:COLUMN: PROBLEM".
 *   ST_E_LIMIT    the set is full (ST_MANIFESTS_MAX_*); nothing kept, no warning.
 *   -EINVAL       bad arguments.
 * buf need not be NUL-terminated and is not referenced after the call.  The
 * sink is used only to warn.
 */
int st_manifests_add(st_manifests *set, const st_parse_ctx *ctx, const char *buf, size_t len,
		     st_sink *sink, st_manifests_stats *ret_stats, st_diag *diag);

/* Add one object read elsewhere.  ctx as for st_manifests_add.  ST_E_INVALID
 * (diag only, never a warning) for a missing name or kind out of range;
 * ST_E_LIMIT when full. */
int st_manifests_add_object(st_manifests *set, const st_parse_ctx *ctx, const st_k8s_obj *obj,
			    st_diag *diag);

/* The number of objects in the set, and dropping every object added after
 * the set held `n` (a reader that restarts a list or gives up on a file
 * takes back what it added).  Truncating to n >= count does nothing. */
size_t st_manifests_count(const st_manifests *set);
void st_manifests_truncate(st_manifests *set, size_t n);

/* The set holds a whole cluster (a live read or a dump), not files that may
 * reference objects declared elsewhere: ROUTES_TO goes only to Services in
 * the set, and a backend that is not there is reported with sink->note
 * (when set) instead of an edge the sync would drop with a warning. */
void st_manifests_set_complete(st_manifests *set);

/* Make st_manifests_emit declare the KubernetesCluster node "k8s:<cluster>"
 * with props name, and server / version when not NULL (a live source knows
 * them; manifests in Git never call this, so they only reference the
 * cluster), at {origin, 0}.  The strings are copied. */
void st_manifests_declare_cluster(st_manifests *set, const char *origin, const char *server,
				  const char *version);

/*
 * Emit the set's facts, in this order: the KubernetesCluster node
 * "k8s:<cluster>" when st_manifests_declare_cluster was called; one
 * KubernetesNamespace node per namespace declared or used (props cluster,
 * name; plus labels/annotations when declared by a Namespace object, which
 * also gets DECLARED_IN) with SCOPED_IN namespace -> cluster; every other
 * object's node, SCOPED_IN
 * object -> namespace, DECLARED_IN object -> repository (path); SELECTS
 * Service -> workload when the Service's selector is non-empty and a subset
 * of the workload's pod template labels (same namespace, any file; rule
 * "selector", evidence "k=v,k=v"); ROUTES_TO Ingress -> "…/Service/<b>" for
 * each backend b (same namespace; the Service need not be in the set unless
 * st_manifests_set_complete was called);
 * CONTROLLED_BY object -> owner for each ownerReference to an object of the
 * set (same namespace and kind, uid equal when both have one; only the
 * controller reference when there is one) that the schema allows; RUNS_ON
 * Pod -> "k8s:<cluster>/Node/<spec.nodeName>" when that Node is in the set;
 * and the identity hints of docs/catalog.md on top-level workloads
 * (Deployments, StatefulSets, DaemonSets, CronJobs, Jobs without owners).
 * Node ids are "k8s:<cluster>/Node/<name>", SCOPED_IN the cluster.
 *
 * Facts carry {origin of the object's file, line of the object}.  Emitting
 * does not change the set (it can be emitted again).  Returns 0 with
 * *ret_stats (may be NULL) filled, or the first sink error.
 */
int st_manifests_emit(st_manifests *set, st_sink *sink, st_manifests_stats *ret_stats,
		      st_diag *diag);

#endif
