#!/usr/bin/env python3
"""gen_k8s.py — a seeded, generated cluster for bench/k8s-bench.

  gen_k8s.py --out DIR [--pods 100000] [--deployments 1000] [--namespaces 20]
             [--nodes 200] [--seed 1]

Writes DIR/<resource>.jsonl (one API object per line, serialised once, in the
shape the API returns them: items without kind, with managedFields, status,
resources and env) for tests/data/k8s/apiserver.py --data-dir.  Pods are spread
evenly over the Deployments (one ReplicaSet each) and randomly over the Nodes;
each Deployment has a Service selecting it.
"""
import argparse
import json
import os
import random


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", required=True)
    ap.add_argument("--pods", type=int, default=100000)
    ap.add_argument("--deployments", type=int, default=1000)
    ap.add_argument("--namespaces", type=int, default=20)
    ap.add_argument("--nodes", type=int, default=200)
    ap.add_argument("--seed", type=int, default=1)
    a = ap.parse_args()
    rnd = random.Random(a.seed)
    os.makedirs(a.out, exist_ok=True)

    def uid():
        return "%08x-%04x-4%03x-8%03x-%012x" % (rnd.getrandbits(32), rnd.getrandbits(16),
                                                rnd.getrandbits(12), rnd.getrandbits(12),
                                                rnd.getrandbits(48))

    def suffix(n):
        return "".join(rnd.choice("bcdfghjklmnpqrstvwxz2456789") for _ in range(n))

    def managed(manager, api):
        return [{"manager": manager, "operation": "Update", "apiVersion": api,
                 "time": "2026-11-01T10:00:00Z", "fieldsType": "FieldsV1",
                 "fieldsV1": {"f:metadata": {"f:labels": {".": {}, "f:app.kubernetes.io/name": {}}},
                              "f:status": {"f:conditions": {}, "f:phase": {}}}}]

    out = {r: open(os.path.join(a.out, r + ".jsonl"), "w") for r in
           ("namespaces", "nodes", "deployments", "replicasets", "pods", "services",
            "statefulsets", "daemonsets", "jobs", "cronjobs", "ingresses")}

    def emit(r, obj):
        out[r].write(json.dumps(obj, separators=(",", ":")) + "\n")

    nss = ["team-%02d" % i for i in range(a.namespaces)]
    for ns in nss:
        emit("namespaces", {"metadata": {"name": ns, "uid": uid(), "resourceVersion": "1",
                                         "labels": {"kubernetes.io/metadata.name": ns}},
                            "spec": {"finalizers": ["kubernetes"]}, "status": {"phase": "Active"}})
    zones = ["eu-west-1a", "eu-west-1b", "eu-west-1c"]
    nodes = []
    for i in range(a.nodes):
        z = zones[i % 3]
        name = "ip-10-%d-%d-%d.eu-west-1.compute.internal" % (i % 3, i // 250, i % 250)
        nodes.append(name)
        emit("nodes", {"metadata": {"name": name, "uid": uid(), "labels": {
            "kubernetes.io/hostname": name, "node.kubernetes.io/instance-type": "m6i.2xlarge",
            "topology.kubernetes.io/zone": z, "kubernetes.io/os": "linux"}},
            "spec": {"providerID": "aws:///%s/i-%017x" % (z, rnd.getrandbits(68))},
            "status": {"capacity": {"cpu": "8", "memory": "32Gi", "pods": "110"},
                       "nodeInfo": {"kubeletVersion": "v1.31.4", "osImage": "Amazon Linux 2023"}}})
    per = a.pods // a.deployments
    extra = a.pods - per * a.deployments
    for d in range(a.deployments):
        ns = nss[d % len(nss)]
        app = "svc-%04d" % d
        team = "team-%02d" % (d % len(nss))
        image = "ghcr.io/acme/%s:1.%d.%d" % (app, rnd.randrange(40), rnd.randrange(10))
        duid, ruid = uid(), uid()
        h = suffix(10)
        labels = {"app.kubernetes.io/name": app, "app.kubernetes.io/part-of": "shop-%d" % (d % 37),
                  "team": team}
        tpl = {"metadata": {"labels": {"app": app, "app.kubernetes.io/name": app}},
               "spec": {"containers": [{"name": app, "image": image,
                                        "ports": [{"containerPort": 8080, "protocol": "TCP"}],
                                        "env": [{"name": "LOG_LEVEL", "value": "info"}],
                                        "resources": {"requests": {"cpu": "100m", "memory": "128Mi"}}}]}}
        emit("deployments", {"metadata": {"name": app, "namespace": ns, "uid": duid,
                                          "resourceVersion": "100", "generation": 3,
                                          "labels": labels,
                                          "annotations": {"deployment.kubernetes.io/revision": "3"},
                                          "managedFields": managed("kubectl", "apps/v1")},
                             "spec": {"replicas": per, "selector": {"matchLabels": {"app": app}},
                                      "template": tpl},
                             "status": {"replicas": per, "readyReplicas": per}})
        rtpl = json.loads(json.dumps(tpl))
        rtpl["metadata"]["labels"]["pod-template-hash"] = h
        rs = app + "-" + h
        emit("replicasets", {"metadata": {"name": rs, "namespace": ns, "uid": ruid,
                                          "labels": dict(rtpl["metadata"]["labels"]),
                                          "ownerReferences": [{"apiVersion": "apps/v1", "kind": "Deployment",
                                                               "name": app, "uid": duid, "controller": True,
                                                               "blockOwnerDeletion": True}],
                                          "managedFields": managed("kube-controller-manager", "apps/v1")},
                             "spec": {"replicas": per, "template": rtpl},
                             "status": {"replicas": per}})
        emit("services", {"metadata": {"name": app, "namespace": ns, "uid": uid(),
                                       "labels": {"app.kubernetes.io/name": app}},
                          "spec": {"type": "ClusterIP", "selector": {"app": app},
                                   "ports": [{"port": 80, "targetPort": 8080, "protocol": "TCP"}],
                                   "clusterIP": "10.100.%d.%d" % (d // 250, d % 250)}})
        n = per + (1 if d < extra else 0)
        for _ in range(n):
            node = rnd.choice(nodes)
            emit("pods", {
                "metadata": {"name": rs + "-" + suffix(5), "generateName": rs + "-",
                             "namespace": ns, "uid": uid(), "resourceVersion": str(rnd.randrange(10**7)),
                             "creationTimestamp": "2026-11-01T10:00:00Z",
                             "labels": dict(rtpl["metadata"]["labels"]),
                             "ownerReferences": [{"apiVersion": "apps/v1", "kind": "ReplicaSet",
                                                  "name": rs, "uid": ruid, "controller": True,
                                                  "blockOwnerDeletion": True}],
                             "managedFields": managed("kubelet", "v1")},
                "spec": {"nodeName": node, "serviceAccountName": "default",
                         "containers": [{"name": app, "image": image,
                                         "ports": [{"containerPort": 8080, "protocol": "TCP"}],
                                         "env": [{"name": "LOG_LEVEL", "value": "info"}],
                                         "resources": {"requests": {"cpu": "100m", "memory": "128Mi"}},
                                         "volumeMounts": [{"name": "kube-api-access", "readOnly": True,
                                                           "mountPath": "/var/run/secrets/kubernetes.io/serviceaccount"}]}],
                         "restartPolicy": "Always", "dnsPolicy": "ClusterFirst"},
                "status": {"phase": "Running", "podIP": "10.1.%d.%d" % (rnd.randrange(256), rnd.randrange(256)),
                           "hostIP": "10.0.0.1", "qosClass": "Burstable",
                           "conditions": [{"type": t, "status": "True",
                                           "lastTransitionTime": "2026-11-01T10:00:05Z"}
                                          for t in ("Initialized", "Ready", "ContainersReady", "PodScheduled")],
                           "containerStatuses": [{"name": app, "ready": True, "restartCount": 0,
                                                  "image": image, "imageID": "sha256:%064x" % rnd.getrandbits(256),
                                                  "containerID": "containerd://%064x" % rnd.getrandbits(256),
                                                  "started": True,
                                                  "state": {"running": {"startedAt": "2026-11-01T10:00:04Z"}}}]}})
    for f in out.values():
        f.close()


if __name__ == "__main__":
    main()
