#!/usr/bin/env python3
"""Write examples/shop/import/*.jsonl: the part of the example estate that no
connector produces yet.

The example estate examples/shop/ is examples/estate/ ("acme-shop") as real
sources: Git repositories (Backstage catalog files, CODEOWNERS, Kubernetes
manifests) and a Terraform state, read by `stacktwin sync`.  What those
connectors cannot see yet comes from the estate's JSON Lines, imported after
the sync with `stacktwin import --source example-runtime`.  This script picks
those records out of examples/estate/{nodes,edges,costs}.jsonl, line for line
(the lines are copied unchanged, so they stay in canonical form):

Nodes, by type (the Kubernetes API, Prometheus and billing connectors):
  KubernetesCluster, KubernetesNode, KubernetesReplicaSet, KubernetesPod,
  BillingResource
(The manifests in Git only reference the cluster `k8s:prod`: the sync makes
it a placeholder without properties, which the import then declares with
its server and version; later syncs keep those.)

Edges:
  1. by type: CALLS (runtime call graph), CONTROLLED_BY (ownerReferences),
     RUNS_ON (pods on nodes, nodes on the node group), SAME_AS (billing =
     Terraform) and BILLED_TO (billing tags);
  2. every other edge with an imported node as an end that no connector
     makes (the SCOPED_IN of nodes, replica sets and pods; the SCOPED_IN of
     the namespaces into the cluster come from the manifests);
  3. DEPENDS_ON from a logical entity to a CloudResource (the estate's
     `env-endpoint` edges: found in a workload's environment at runtime);
  4. RUNS from a CloudResource to a catalog Resource (the estate's
     `backstage.io/resource` tag: Terraform tags name services, teams and
     systems only);
  5. OWNS of a KubernetesCluster (user:heidi: a cluster is no catalog entity).

Cost facts: all of them (billing).

Everything else is synced: domains, systems, teams, users, services, APIs
and resources with their OWNS, PART_OF, MEMBER_OF, DEFINED_IN, PROVIDES_API,
CONSUMES_API and DEPENDS_ON edges from catalog-info.yaml files; repositories
from Git; the namespaces, Deployments, Services and the Ingress with
SCOPED_IN, SELECTS, ROUTES_TO and RUNS (Deployment -> service) from the
manifests; CloudResources and their DEPENDS_ON from the Terraform state.

The script checks that the split is clean: every node type of the estate is
either synced or imported (never both), and every edge is either imported or
of a kind a connector produces (never both).  Python 3 standard library only; deterministic.

    examples/shop/split.py           write examples/shop/import/*.jsonl
    examples/shop/split.py --check   exit 1 if they are stale
"""

import argparse
import json
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
ESTATE = os.path.join(HERE, "..", "estate")
OUT = os.path.join(HERE, "import")

IMPORTED_NODE_TYPES = {
    "KubernetesCluster", "KubernetesNode", "KubernetesReplicaSet", "KubernetesPod", "BillingResource",
}
IMPORTED_EDGE_TYPES = {"CALLS", "CONTROLLED_BY", "RUNS_ON", "SAME_AS", "BILLED_TO"}

# Node types the connectors of `stacktwin sync` declare, and the edges they
# make (by type, between which node types).  Used only to check the split.
SYNCED_NODE_TYPES = {
    "Domain", "System", "Service", "API", "Resource", "Team", "User",  # Backstage
    "Repository",  # Git
    "KubernetesNamespace", "KubernetesDeployment", "KubernetesService",
    "KubernetesIngress",  # manifests
    "CloudResource",  # Terraform
}
LOGICAL = {"Domain", "System", "Service", "Component", "API", "Resource", "Team", "User"}


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
    if t == "RUNS":  # Kubernetes labels of a Deployment
        return st == "KubernetesDeployment" and dt == "Service"
    if t in ("SCOPED_IN", "SELECTS", "ROUTES_TO", "DECLARED_IN"):  # manifests
        return st in SYNCED_NODE_TYPES
    return False


def import_rule(t, st, dt, imported_end):
    """The rule of the module docstring that imports such an edge, or None."""
    if t in IMPORTED_EDGE_TYPES:
        return 1
    if imported_end:
        return 2
    if t == "DEPENDS_ON" and st in LOGICAL and dt == "CloudResource":
        return 3
    if t == "RUNS" and st == "CloudResource" and dt == "Resource":
        return 4
    if t == "OWNS" and dt == "KubernetesCluster":
        return 5
    return None


def split():
    nodes = read_lines("nodes.jsonl")
    edges = read_lines("edges.jsonl")
    costs = read_lines("costs.jsonl")
    types = {}
    out_nodes = []
    for line in nodes:
        n = json.loads(line)
        types[n["id"]] = n["type"]
        if n["type"] in IMPORTED_NODE_TYPES:
            out_nodes.append(line)
        elif n["type"] not in SYNCED_NODE_TYPES:
            raise SystemExit(f"split.py: node {n['id']}: type {n['type']} is neither synced nor imported")
    imported = {json.loads(line)["id"] for line in out_nodes}
    out_edges = []
    for line in edges:
        e = json.loads(line)
        s, d, t = e["src"], e["dst"], e["type"]
        st, dt = types[s], types[d]
        synced = synced_edge(t, st, dt)
        rule = import_rule(t, st, dt, s in imported or d in imported)
        if synced and rule in (1, 3, 4, 5):
            raise SystemExit(f"split.py: edge {s} -{t}-> {d} is both synced and imported")
        if synced:
            continue
        if rule is None:
            raise SystemExit(f"split.py: edge {s} -{t}-> {d} is neither synced nor imported")
        out_edges.append(line)
    return {
        "nodes.jsonl": "".join(line + "\n" for line in out_nodes),
        "edges.jsonl": "".join(line + "\n" for line in out_edges),
        "costs.jsonl": "".join(line + "\n" for line in costs),
    }


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--check", action="store_true", help="exit 1 if import/*.jsonl are stale")
    args = ap.parse_args()
    files = split()
    if args.check:
        stale = []
        for name, text in files.items():
            try:
                with open(os.path.join(OUT, name), encoding="utf-8") as f:
                    if f.read() != text:
                        stale.append(name)
            except FileNotFoundError:
                stale.append(name)
        if stale:
            print("stale: " + ", ".join(stale) + " (run examples/shop/split.py)", file=sys.stderr)
            return 1
        return 0
    os.makedirs(OUT, exist_ok=True)
    for name, text in files.items():
        with open(os.path.join(OUT, name), "w", encoding="utf-8", newline="\n") as f:
            f.write(text)
    counts = {name: text.count("\n") for name, text in files.items()}
    print(f"wrote {counts['nodes.jsonl']} nodes, {counts['edges.jsonl']} edges, "
          f"{counts['costs.jsonl']} cost facts to {os.path.relpath(OUT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
