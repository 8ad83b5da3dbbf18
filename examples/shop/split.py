#!/usr/bin/env python3
"""Write the source files of the example estate that are derived from
examples/estate/, and the part of it that no connector produces
(examples/shop/import/).

The example estate examples/shop/ is examples/estate/ ("acme-shop") as real
sources, read by `stacktwin sync --config examples/shop/stacktwin.yaml`:

  Git repositories (repos/, history; Backstage catalog files, CODEOWNERS,
  Kubernetes manifests) and the Terraform state (terraform/prod.tfstate) are
  written by hand.  This script writes the other three sources from the
  estate's records, in the formats the real tools produce:

  k8s/*.json            `kubectl get -o json` dumps of the cluster `prod`:
                        the namespaces, nodes, Deployments, ReplicaSets,
                        pods, Services and the Ingress (kind: k8s, dump mode)
  prometheus/otel.json  saved /api/v1/query responses of the OTel
                        service-graph queries (kind: prometheus): one series
                        per CALLS edge, the services as `client`/`server`
  billing/focus.csv     a FOCUS 1.0 cost export (kind: focus) whose rows add
                        up, per resource, day and currency, to exactly the
                        estate's cost facts (BilledCost = `billed`,
                        EffectiveCost = `amount`)

What no connector produces is copied, line for line (the lines stay in
canonical form), into import/edges.jsonl, imported after the sync with
`stacktwin import --source example-runtime`:

  1. RUNS_ON from a KubernetesNode to a CloudResource (the estate's
     `nodegroup-label` edges: the Kubernetes connector does not link nodes to
     their cloud instances or node groups yet);
  2. DEPENDS_ON from a logical entity to a CloudResource (the estate's
     `env-endpoint` edges: found in a workload's environment at runtime);
  3. RUNS from a CloudResource to a catalog Resource (the estate's
     `backstage.io/resource` tag: Terraform tags name services, teams and
     systems only);
  4. OWNS of a KubernetesCluster (user:heidi: a cluster is no catalog entity).

Every node and every cost fact of the estate is synced.  The script checks
that the split is clean: every node type of the estate is synced, every edge
is either imported or of a kind a connector produces (never both), and the
billing rows add up to the estate's cost facts.  Python 3 standard library
only; deterministic.

    examples/shop/split.py           write the files
    examples/shop/split.py --check   exit 1 if any of them is stale
"""

import argparse
import json
import os
import sys
import uuid
from decimal import Decimal

HERE = os.path.dirname(os.path.abspath(__file__))
ESTATE = os.path.join(HERE, "..", "estate")

# Node types the connectors of `stacktwin sync` declare.
SYNCED_NODE_TYPES = {
    "Domain", "System", "Service", "API", "Resource", "Team", "User",  # Backstage (Git)
    "Repository",  # Git
    "KubernetesNamespace", "KubernetesDeployment", "KubernetesService",
    "KubernetesIngress",  # manifests in Git, and the cluster dump
    "KubernetesCluster", "KubernetesNode", "KubernetesReplicaSet", "KubernetesPod",  # cluster dump
    "CloudResource",  # Terraform
    "BillingResource",  # FOCUS
}
LOGICAL = {"Domain", "System", "Service", "Component", "API", "Resource", "Team", "User"}
K8S = {t for t in SYNCED_NODE_TYPES if t.startswith("Kubernetes")}


def read_lines(name):
    with open(os.path.join(ESTATE, name), encoding="utf-8") as f:
        return [line for line in f.read().split("\n") if line]


def synced_edge(t, st, dt):
    """Whether a connector of `stacktwin sync` produces an edge of type t from
    a node of type st to one of type dt."""
    if t in ("OWNS", "PART_OF", "MEMBER_OF", "DEFINED_IN", "PROVIDES_API", "CONSUMES_API"):
        return st in LOGICAL and (dt in LOGICAL or dt == "Repository")  # Backstage
    if t == "DEPENDS_ON":  # Backstage dependsOn, Terraform dependencies
        return (st in LOGICAL and dt in LOGICAL) or (st == dt == "CloudResource")
    if t == "RUNS":  # Kubernetes labels of a Deployment (manifests and dump)
        return st == "KubernetesDeployment" and dt == "Service"
    if t in ("SCOPED_IN", "SELECTS", "ROUTES_TO", "CONTROLLED_BY"):  # manifests, dump
        return st in K8S and dt in K8S
    if t == "RUNS_ON":  # spec.nodeName of a pod
        return st == "KubernetesPod" and dt == "KubernetesNode"
    if t == "CALLS":  # Prometheus Workloads, lifted onto their services
        return st == dt == "Service"
    if t == "SAME_AS":  # billing ResourceId = Terraform arn / id
        return st == "BillingResource" and dt == "CloudResource"
    if t == "BILLED_TO":  # billing tags
        return st == "BillingResource" and dt in ("Service", "Team")
    return False


def import_rule(t, st, dt):
    """The rule of the module docstring that imports such an edge, or None."""
    if t == "RUNS_ON" and st == "KubernetesNode" and dt == "CloudResource":
        return 1
    if t == "DEPENDS_ON" and st in LOGICAL and dt == "CloudResource":
        return 2
    if t == "RUNS" and st == "CloudResource" and dt == "Resource":
        return 3
    if t == "OWNS" and dt == "KubernetesCluster":
        return 4
    return None


# ---------------------------------------------------------------- Kubernetes
T_CREATED = "2026-09-14T08:12:31Z"


def k8s_uid(node_id):
    """A stable uid for objects the estate gives none (namespaces, nodes)."""
    return str(uuid.uuid5(uuid.NAMESPACE_URL, "https://acme-shop.example/" + node_id))


def k8s_files(nodes, edges):
    by_type = {}
    for n in nodes:
        by_type.setdefault(n["type"], []).append(n)
    system_of = {e["src"]: e["dst"].split(":", 1)[1] for e in edges
                 if e["type"] == "PART_OF" and e["src"].startswith("service:")}
    ctrl = {e["src"]: e["dst"] for e in edges if e["type"] == "CONTROLLED_BY"}
    routes = sorted(e["dst"] for e in edges if e["type"] == "ROUTES_TO")
    ids = {n["id"]: n for n in nodes}
    rv = [4711000]

    def meta(n, **extra):
        rv[0] += 17
        p = n["props"]
        m = {"name": p["name"]}
        if "namespace" in p:
            m["namespace"] = p["namespace"]
        m["uid"] = p.get("uid") or k8s_uid(n["id"])
        m["resourceVersion"] = str(rv[0])
        m["creationTimestamp"] = T_CREATED
        m.update(extra)
        return m

    def app_labels(p):
        # The labels of the manifests in Git (deploy/deployment.yaml), which
        # is what was applied: part-of names the service's System.
        svc = p["labels"]["app.kubernetes.io/name"]
        return {"app.kubernetes.io/name": svc,
                "app.kubernetes.io/part-of": system_of["service:" + svc]}

    def containers(p):
        name = p["labels"]["app.kubernetes.io/name"]
        return [{"name": name, "image": p["image"], "imagePullPolicy": "IfNotPresent",
                 "resources": {"requests": {"cpu": "100m", "memory": "128Mi"}}}]

    files = {}
    # kubectl get namespace shop platform -o json: a List, items with kind.
    items = []
    for n in sorted(by_type["KubernetesNamespace"], key=lambda n: n["id"], reverse=True):
        items.append({"apiVersion": "v1", "kind": "Namespace",
                      "metadata": meta(n, labels=dict(n["props"]["labels"])),
                      "spec": {"finalizers": ["kubernetes"]}, "status": {"phase": "Active"}})
    files["namespaces.json"] = {"apiVersion": "v1", "items": items, "kind": "List",
                                "metadata": {"resourceVersion": ""}}
    # kubectl get nodes -o json
    items = []
    for i, n in enumerate(sorted(by_type["KubernetesNode"], key=lambda n: n["id"])):
        p = n["props"]
        labels = dict(p["labels"])
        labels.update({
            "beta.kubernetes.io/arch": "amd64", "beta.kubernetes.io/os": "linux",
            "kubernetes.io/arch": "amd64", "kubernetes.io/hostname": p["name"],
            "kubernetes.io/os": "linux", "node.kubernetes.io/instance-type": p["instance_type"],
            "topology.kubernetes.io/region": p["zone"][:-1], "topology.kubernetes.io/zone": p["zone"],
        })
        ip = p["name"].split(".")[0][3:].replace("-", ".")
        items.append({
            "apiVersion": "v1", "kind": "Node",
            "metadata": meta(n, labels=dict(sorted(labels.items())),
                             annotations={"node.alpha.kubernetes.io/ttl": "0"}),
            "spec": {"providerID": p["provider_id"]},
            "status": {
                "addresses": [{"address": ip, "type": "InternalIP"},
                              {"address": p["name"], "type": "Hostname"}],
                "nodeInfo": {"architecture": "amd64", "containerRuntimeVersion": "containerd://1.7.22",
                             "kernelVersion": "6.1.112-122.189.amzn2023.x86_64",
                             "kubeletVersion": "v1.31.4-eks-0f56d01", "operatingSystem": "linux",
                             "osImage": "Amazon Linux 2023.6.20241111"},
            },
        })
    files["nodes.json"] = {"apiVersion": "v1", "items": items, "kind": "List",
                           "metadata": {"resourceVersion": ""}}
    # GET /apis/apps/v1/deployments (an API capture: a typed list, items
    # without kind/apiVersion)
    items = []
    deploy = sorted(by_type["KubernetesDeployment"], key=lambda n: n["id"])
    for n in deploy:
        p = n["props"]
        labels = app_labels(p)
        sel = {"app.kubernetes.io/name": labels["app.kubernetes.io/name"]}
        items.append({
            "metadata": meta(n, generation=1, labels=labels,
                             annotations={"deployment.kubernetes.io/revision": "1"}),
            "spec": {"replicas": p["replicas"], "selector": {"matchLabels": sel},
                     "template": {"metadata": {"labels": labels},
                                  "spec": {"containers": containers(p)}},
                     "strategy": {"type": "RollingUpdate"}},
            "status": {"observedGeneration": 1, "replicas": p["replicas"],
                       "readyReplicas": p["replicas"], "availableReplicas": p["replicas"]},
        })
    files["deployments.json"] = {"kind": "DeploymentList", "apiVersion": "apps/v1",
                                 "metadata": {"resourceVersion": "4712000"}, "items": items}
    # GET /apis/apps/v1/replicasets
    items = []
    for n in sorted(by_type["KubernetesReplicaSet"], key=lambda n: n["id"]):
        p = n["props"]
        owner = ids[ctrl[n["id"]]]
        pth = p["name"].rsplit("-", 1)[1]
        labels = dict(app_labels(p), **{"pod-template-hash": pth})
        sel = {"app.kubernetes.io/name": labels["app.kubernetes.io/name"], "pod-template-hash": pth}
        items.append({
            "metadata": meta(n, generation=1, labels=labels,
                             annotations={"deployment.kubernetes.io/revision": "1"},
                             ownerReferences=[{"apiVersion": "apps/v1", "kind": "Deployment",
                                               "name": owner["props"]["name"],
                                               "uid": owner["props"]["uid"],
                                               "controller": True, "blockOwnerDeletion": True}]),
            "spec": {"replicas": p["replicas"], "selector": {"matchLabels": sel},
                     "template": {"metadata": {"labels": labels},
                                  "spec": {"containers": containers(p)}}},
            "status": {"replicas": p["replicas"], "readyReplicas": p["replicas"],
                       "observedGeneration": 1},
        })
    files["replicasets.json"] = {"kind": "ReplicaSetList", "apiVersion": "apps/v1",
                                 "metadata": {"resourceVersion": "4712000"}, "items": items}
    # kubectl get pods -A -o json
    items = []
    for i, n in enumerate(sorted(by_type["KubernetesPod"], key=lambda n: n["id"])):
        p = n["props"]
        owner = ids[ctrl[n["id"]]]
        pth = owner["props"]["name"].rsplit("-", 1)[1]
        labels = dict(app_labels(p), **{"pod-template-hash": pth})
        items.append({
            "apiVersion": "v1", "kind": "Pod",
            "metadata": meta(n, generateName=owner["props"]["name"] + "-", labels=labels,
                             ownerReferences=[{"apiVersion": "apps/v1", "kind": "ReplicaSet",
                                               "name": owner["props"]["name"],
                                               "uid": owner["props"]["uid"],
                                               "controller": True, "blockOwnerDeletion": True}]),
            "spec": {"containers": containers(p), "nodeName": p["node_name"],
                     "restartPolicy": "Always", "serviceAccountName": "default"},
            "status": {"phase": p["phase"], "podIP": "10.0.%d.%d" % (i % 3 + 1, 100 + i),
                       "qosClass": "Burstable", "startTime": "2026-10-28T07:00:00Z"},
        })
    files["pods.json"] = {"apiVersion": "v1", "items": items, "kind": "List",
                          "metadata": {"resourceVersion": ""}}
    # kubectl get services -A -o json
    items = []
    for i, n in enumerate(sorted(by_type["KubernetesService"], key=lambda n: n["id"])):
        p = n["props"]
        items.append({
            "apiVersion": "v1", "kind": "Service",
            "metadata": meta(n, labels={"app.kubernetes.io/name": p["name"]}),
            "spec": {"type": p["service_type"], "clusterIP": "172.20.%d.%d" % (40 + i, 10 + 7 * i),
                     "selector": dict(p["selector"]),
                     "ports": [{"port": 80, "protocol": "TCP", "targetPort": 8080}]},
            "status": {"loadBalancer": {}},
        })
    files["services.json"] = {"apiVersion": "v1", "items": items, "kind": "List",
                              "metadata": {"resourceVersion": ""}}
    # kubectl get ingress -A -o json
    items = []
    for n in by_type["KubernetesIngress"]:
        p = n["props"]
        backends = [ids[r]["props"]["name"] for r in routes]
        # hosts[0] (shop.) serves the frontend, hosts[1] (api.) /orders of checkout
        rules = []
        for host, svc, path in ((p["hosts"][0], "frontend", "/"), (p["hosts"][1], "checkout", "/orders")):
            assert svc in backends
            rules.append({"host": host, "http": {"paths": [{
                "path": path, "pathType": "Prefix",
                "backend": {"service": {"name": svc, "port": {"number": 80}}}}]}})
        items.append({
            "apiVersion": "networking.k8s.io/v1", "kind": "Ingress",
            "metadata": meta(n, generation=1, annotations=dict(p["annotations"])),
            "spec": {"rules": rules},
            "status": {"loadBalancer": {"ingress": [
                {"hostname": "k8s-shop-storefro-5f2c9e1a7b-1234567890.eu-west-1.elb.amazonaws.com"}]}},
        })
    files["ingresses.json"] = {"apiVersion": "v1", "items": items, "kind": "List",
                               "metadata": {"resourceVersion": ""}}
    return {"k8s/" + k: json.dumps(v, indent=4, ensure_ascii=False) + "\n" for k, v in files.items()}


# ---------------------------------------------------------------- Prometheus
EVAL_TIME = 1793404800  # 2026-10-31T00:00:00Z


def prom_number(x):
    """A sample value as Prometheus writes it (Go's shortest 'f' format)."""
    s = repr(float(x))
    return s[:-2] if s.endswith(".0") else s


def prometheus_file(edges):
    calls = sorted((e for e in edges if e["type"] == "CALLS"), key=lambda e: (e["src"], e["dst"]))

    def body(series):
        return {"status": "success", "data": {"resultType": "vector", "result": series}}

    def series(e, value):
        return {"metric": {"client": e["src"].split(":", 1)[1], "server": e["dst"].split(":", 1)[1]},
                "value": [EVAL_TIME, prom_number(value)]}

    doc = {
        "request_rate": body([series(e, e["props"]["request_rate"]) for e in calls]),
        # Pairs that never failed have no traces_service_graph_request_failed_total
        # series at all, so the query returns none for them.
        "error_rate": body([series(e, e["props"]["error_rate"]) for e in calls if e["props"]["error_rate"]]),
        "latency_p99": body([series(e, Decimal(str(e["props"]["latency_p99_ms"])) / 1000) for e in calls]),
    }
    lines = ["{"]
    for i, (k, v) in enumerate(doc.items()):
        lines.append("  %s: {\"status\": \"success\", \"data\": {\"resultType\": \"vector\", \"result\": [" % json.dumps(k))
        res = v["data"]["result"]
        for j, s in enumerate(res):
            lines.append("    " + json.dumps(s) + ("," if j + 1 < len(res) else ""))
        lines.append("  ]}}" + ("," if i + 1 < len(doc) else ""))
    lines.append("}")
    return {"prometheus/otel.json": "\n".join(lines) + "\n"}


# ---------------------------------------------------------------- billing
FOCUS_COLUMNS = [
    "BillingAccountId", "BillingAccountName", "BillingCurrency", "BillingPeriodStart",
    "BillingPeriodEnd", "ChargePeriodStart", "ChargePeriodEnd", "ChargeCategory", "ChargeClass",
    "ChargeDescription", "ChargeFrequency", "BilledCost", "EffectiveCost", "ListCost",
    "ContractedCost", "PricingCategory", "CommitmentDiscountId", "CommitmentDiscountType",
    "ProviderName", "PublisherName", "InvoiceIssuerName", "RegionId", "RegionName",
    "ResourceId", "ResourceName", "ResourceType", "ServiceCategory", "ServiceName",
    "SubAccountId", "SubAccountName", "Tags",
]
# ResourceId of the Hetzner server: FOCUS ids are the provider's resource
# names, and the estate's id is bill:hetzner/server-31415926.
HETZNER_ID = "server-31415926"
# Per resource (by the start of its resource id): resource type, service
# category, and the usage lines a day's cost is split into (description,
# share of the day).
USAGE = [
    ("arn:aws:rds:", "DB Instance", "Databases",
     [("USD per RDS db.r6g.large Multi-AZ instance hour", "0.8731"),
      ("USD per GB-month of provisioned gp3 storage", None)]),
    ("arn:aws:kms:", "Key", "Security", [("USD per customer managed key per month, prorated", None)]),
    ("arn:aws:es:", "Domain", "Analytics",
     [("USD per r6g.large.search instance hour", "0.9127"), ("USD per GB-month of gp3 storage", None)]),
    ("arn:aws:elasticache:", "Cluster", "Databases",
     [("USD per cache.r6g.large node hour", None)]),
    ("arn:aws:sqs:", "Queue", "Integration", [("USD per million standard queue requests", None)]),
    ("arn:aws:eks:eu-west-1:493817265014:cluster/", "Cluster", "Compute",
     [("USD per EKS cluster hour", None)]),
    ("arn:aws:eks:eu-west-1:493817265014:nodegroup/", "Node Group", "Compute",
     [("USD per m6i.xlarge Linux instance hour", "0.9618"), ("USD per GB-month of gp3 EBS volume", None)]),
    ("arn:aws:elasticloadbalancing:", "Load Balancer", "Networking",
     [("USD per Application Load Balancer hour", "0.5523"), ("USD per LCU-hour", None)]),
    ("arn:aws:logs:", "Log Group", "Management and Governance",
     [("USD per GB of log data ingested", "0.8894"), ("USD per GB-month of log data stored", None)]),
    ("nat-", "NAT Gateway", "Networking",
     [("USD per NAT Gateway hour", "0.4046"), ("USD per GB of data processed by NAT Gateways", None)]),
    ("acme-shop-", "Bucket", "Storage",
     [("USD per GB-month of S3 Standard storage", "0.7311"), ("USD per 1,000 GET requests", None)]),
    (HETZNER_ID, "Cloud Server", "Compute", [("CX41 server, daily share of the monthly price", None)]),
]
AWS_REGIONS = {"eu-west-1": "Europe (Ireland)"}
Q = Decimal("1e-10")


def money(d):
    s = format(d, "f")
    if "." in s:
        s = s.rstrip("0").rstrip(".")
    return s if s not in ("-0", "") else "0"


def csv_cell(v):
    v = "" if v is None else str(v)
    if any(c in v for c in ',"\n\r'):
        return '"' + v.replace('"', '""') + '"'
    return v


def split_amount(total, shares):
    """Split a Decimal into parts by the shares (the last takes the rest), with
    up to 10 decimals each, adding up to exactly the total."""
    parts, rest = [], total
    for share in shares[:-1]:
        p = (total * Decimal(share)).quantize(Q)
        parts.append(p)
        rest -= p
    parts.append(rest)
    return parts


def billing_file(nodes, edges, costs, tf_tags):
    res = {n["id"]: n["props"] for n in nodes if n["type"] == "BillingResource"}
    same_as = {e["src"]: e["dst"] for e in edges if e["type"] == "SAME_AS"}
    billed_to = {e["src"]: e["dst"] for e in edges if e["type"] == "BILLED_TO"}
    rows = []
    for c in costs:
        rid = c["resource"]
        p = res[rid]
        resource_id = HETZNER_ID if p["provider"] == "hetzner" else p["resource_id"]
        if "bill:%s/%s" % (p["provider"], resource_id) != rid:
            raise SystemExit(f"split.py: {rid}: the billing connector would call it "
                             f"bill:{p['provider']}/{resource_id}")
        # Tags: the cost allocation tags are the resource's own tags (those of
        # the Terraform state); the Hetzner server has the label service=email.
        if rid in same_as:
            tags = tf_tags[same_as[rid]]
        elif rid in billed_to:
            tags = {billed_to[rid].split(":", 1)[0]: billed_to[rid].split(":", 1)[1]}
        else:
            tags = {}
        kind = next(u for u in USAGE if resource_id.startswith(u[0]))
        amount = c["amount"]
        billed = c.get("billed", amount)
        day = c["day"]
        nxt = "2026-10-%02d" % (int(day[8:]) + 1) if day < "2026-10-31" else "2026-11-01"
        hetzner = p["provider"] == "hetzner"
        base = {
            "BillingAccountId": p["account"] if hetzner else "493817265014",
            "BillingAccountName": "acme-shop" if hetzner else "acme-shop-payer",
            "BillingCurrency": c["currency"],
            "BillingPeriodStart": "2026-10-01T00:00:00Z", "BillingPeriodEnd": "2026-11-01T00:00:00Z",
            "ChargePeriodStart": day + "T00:00:00Z", "ChargePeriodEnd": nxt + "T00:00:00Z",
            "ProviderName": "Hetzner" if hetzner else "AWS",
            "PublisherName": "Hetzner" if hetzner else "AWS",
            "InvoiceIssuerName": "Hetzner Online GmbH" if hetzner else "AWS",
            "RegionId": p.get("region", ""),
            "RegionName": "Falkenstein" if hetzner else AWS_REGIONS.get(p.get("region", ""), ""),
            "ResourceId": resource_id, "ResourceName": "", "ResourceType": kind[1],
            "ServiceCategory": kind[2], "ServiceName": p["service_name"],
            "SubAccountId": p["account"], "SubAccountName": "acme-shop" if hetzner else "acme-shop-prod",
            "Tags": json.dumps(tags, separators=(",", ":")) if tags else "",
        }
        if amount < 0:  # a credit: one row, no usage that day
            rows.append(dict(base, ChargeCategory="Credit", ChargeClass="",
                             ChargeDescription="Service credit", ChargeFrequency="One-Time",
                             BilledCost=money(billed), EffectiveCost=money(amount),
                             ListCost="0", ContractedCost="0", PricingCategory=""))
            continue
        lines = kind[3]
        shares = [s for _, s in lines]
        for (desc, _), b, a in zip(lines, split_amount(billed, shares), split_amount(amount, shares)):
            commit = {}
            if a != b:
                if "rds" in resource_id:
                    commit = {"PricingCategory": "Committed", "CommitmentDiscountType": "Reserved Instance",
                              "CommitmentDiscountId": "arn:aws:rds:eu-west-1:493817265014:ri:acme-payments-ri-2026"}
                else:
                    commit = {"PricingCategory": "Committed", "CommitmentDiscountType": "Savings Plan",
                              "CommitmentDiscountId": "arn:aws:savingsplans::493817265014:savingsplan/"
                                                      "7d3c1e2a-5b4f-4a6e-9c8d-0e1f2a3b4c5d"}
            rows.append(dict(base, ChargeCategory="Usage", ChargeClass="", ChargeDescription=desc,
                             ChargeFrequency="Usage-Based", BilledCost=money(b), EffectiveCost=money(a),
                             ListCost=money(b), ContractedCost=money(b),
                             **dict({"PricingCategory": "Standard"}, **commit)))
    rows.sort(key=lambda r: (r["ChargePeriodStart"], r["ProviderName"], r["ResourceId"]))
    out = [",".join(FOCUS_COLUMNS)]
    for r in rows:
        out.append(",".join(csv_cell(r.get(col, "")) for col in FOCUS_COLUMNS))
    text = "\r\n".join(out) + "\r\n"
    check_billing(text, costs)
    return {"billing/focus.csv": text}


def check_billing(text, costs):
    """The rows add up to the estate's facts, exactly."""
    import csv
    import io
    sums = {}
    for r in csv.DictReader(io.StringIO(text, newline="")):
        prov = r["ProviderName"].lower()
        k = ("bill:%s/%s" % (prov, r["ResourceId"]), r["ChargePeriodStart"][:10], r["BillingCurrency"])
        a, b = sums.get(k, (Decimal(0), Decimal(0)))
        sums[k] = (a + Decimal(r["EffectiveCost"]), b + Decimal(r["BilledCost"]))
    want = {(c["resource"], c["day"], c["currency"]): (c["amount"], c.get("billed", c["amount"]))
            for c in costs}
    if sums != want:
        bad = sorted(k for k in set(sums) | set(want) if sums.get(k) != want.get(k))
        raise SystemExit(f"split.py: billing rows do not add up to the estate's facts: {bad[:3]}")


# ---------------------------------------------------------------- all files
def tf_tags():
    with open(os.path.join(HERE, "terraform", "prod.tfstate"), encoding="utf-8") as f:
        state = json.load(f)
    out = {}
    for r in state["resources"]:
        if r["mode"] != "managed":
            continue
        addr = (r["module"] + "." if "module" in r else "") + r["type"] + "." + r["name"]
        out["tf:prod/" + addr] = r["instances"][0]["attributes"].get("tags") or {}
    return out


def split():
    node_lines = read_lines("nodes.jsonl")
    edge_lines = read_lines("edges.jsonl")
    nodes = [json.loads(line) for line in node_lines]
    edges = [json.loads(line) for line in edge_lines]
    costs = [json.loads(line, parse_float=Decimal, parse_int=Decimal) for line in read_lines("costs.jsonl")]
    types = {}
    for n in nodes:
        types[n["id"]] = n["type"]
        if n["type"] not in SYNCED_NODE_TYPES:
            raise SystemExit(f"split.py: node {n['id']}: type {n['type']} is not synced")
    out_edges = []
    for line, e in zip(edge_lines, edges):
        s, d, t = e["src"], e["dst"], e["type"]
        synced = synced_edge(t, types[s], types[d])
        rule = import_rule(t, types[s], types[d])
        if synced and rule:
            raise SystemExit(f"split.py: edge {s} -{t}-> {d} is both synced and imported")
        if not synced and not rule:
            raise SystemExit(f"split.py: edge {s} -{t}-> {d} is neither synced nor imported")
        if rule:
            out_edges.append(line)
    files = {"import/edges.jsonl": "".join(line + "\n" for line in out_edges)}
    files.update(k8s_files(nodes, edges))
    files.update(prometheus_file(edges))
    files.update(billing_file(nodes, edges, costs, tf_tags()))
    return files


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--check", action="store_true", help="exit 1 if a written file is stale")
    args = ap.parse_args()
    files = split()
    if args.check:
        stale = []
        for name, text in files.items():
            try:
                with open(os.path.join(HERE, name), encoding="utf-8", newline="") as f:
                    if f.read() != text:
                        stale.append(name)
            except FileNotFoundError:
                stale.append(name)
        for d in ("import", "k8s", "prometheus", "billing"):
            for name in sorted(os.listdir(os.path.join(HERE, d))) if os.path.isdir(os.path.join(HERE, d)) else []:
                if d + "/" + name not in files:
                    stale.append(d + "/" + name + " (not written by split.py: remove it)")
        if stale:
            print("stale: " + ", ".join(stale) + " (run examples/shop/split.py)", file=sys.stderr)
            return 1
        return 0
    for name, text in files.items():
        path = os.path.join(HERE, name)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "w", encoding="utf-8", newline="") as f:
            f.write(text)
    n_edges = files["import/edges.jsonl"].count("\n")
    print(f"wrote {len(files) - 1} source files and {n_edges} edges to import under {os.path.relpath(HERE)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
