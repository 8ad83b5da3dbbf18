#!/usr/bin/env python3
"""Generate the acme-shop example estate in the stacktwin interchange format.

This script is the source of truth for examples/estate/{nodes,edges,costs}.jsonl:
the estate is written down below as plain Python calls, and the script writes
the three files in canonical form (docs/interchange.md), so that
`sort(stacktwin export) == sort(files)` byte for byte.  It is deterministic: no
clocks, no randomness, only hashes of fixed strings.

It also computes the estate's "known answers" (ownership, the blast radius of
the payments database, cost by team) with its own small graph code, never by
asking stacktwin, so that the answers in README.md can be used to check the
query layer.  It must not import anything outside the Python standard library.

    ./generate.py                 write the three files next to this script
    ./generate.py --out DIR       write them into DIR instead
    ./generate.py --check         exit 1 if the committed files are stale
    ./generate.py --answers       print the known answers (writes nothing)
"""

import argparse
import datetime
import decimal
import hashlib
import json
import math
import os
import re
import sys
import uuid

ORG = "acme-shop"
CLUSTER = "prod"
REGION = "eu-west-1"
ACCOUNT = "493817265014"
TF = "tf:prod/"
FIRST_DAY = datetime.date(2026, 10, 1)
N_DAYS = 30  # 2026-10-01 .. 2026-10-30
WINDOW = (datetime.date(2026, 10, 1), datetime.date(2026, 10, 31))  # [from, to)

# Dependency direction of the edge types this estate uses, as in
# schema/stacktwin.yaml: "forward" A->B means A needs B, "reverse" means B
# needs A, None is not a dependency.  Written out here on purpose: the known
# answers must not come from the code they are meant to check.
DEPENDENCY = {
    "OWNS": None, "PART_OF": None, "MEMBER_OF": None, "DEPENDS_ON": "forward",
    "CALLS": "forward", "PROVIDES_API": "reverse", "CONSUMES_API": "forward",
    "DEFINED_IN": None, "RUNS": "reverse", "CONTROLLED_BY": "reverse",
    "RUNS_ON": "forward", "SELECTS": "forward", "ROUTES_TO": "forward",
    "SCOPED_IN": None, "SAME_AS": None, "BILLED_TO": None,
}

# ---------------------------------------------------------------------------
# Canonical JSON


def js_number(v):
    """Shortest text that reads back to the same double, laid out like
    JavaScript's Number#toString ("10", "0.1", "1.5e-7", "1e+21")."""
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        raise TypeError(f"not a number: {v!r}")
    v = float(v)
    if not math.isfinite(v):
        raise ValueError("NaN and infinities are not JSON")
    if v == 0:
        return "0"
    sign, digits, exp = decimal.Decimal(repr(v)).as_tuple()
    ds = "".join(map(str, digits)).rstrip("0")
    exp += len(digits) - len(ds)
    k = len(ds)
    n = k + exp  # value = 0.ds * 10^n
    out = "-" if sign else ""
    if k <= n <= 21:
        out += ds + "0" * (n - k)
    elif 0 < n <= 21:
        out += ds[:n] + "." + ds[n:]
    elif -6 < n <= 0:
        out += "0." + "0" * (-n) + ds
    else:
        e = n - 1
        out += ds[0] + ("." + ds[1:] if k > 1 else "") + ("e+" if e >= 0 else "e-") + str(abs(e))
    return out


def js_string(s):
    if not isinstance(s, str):
        raise TypeError(f"not a string: {s!r}")
    if re.search(r"[\x00-\x1f\x7f]", s):
        # Escapes of control characters differ in case between encoders;
        # the example has no reason to contain any.
        raise ValueError(f"control character in {s!r}")
    return json.dumps(s, ensure_ascii=False)


def bytewise(keys):
    return sorted(keys, key=lambda k: k.encode("utf-8"))


TIMESTAMP_RE = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")


def prop_value(v):
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, (int, float)):
        return js_number(v)
    if isinstance(v, str):
        return js_string(v)
    if isinstance(v, (list, tuple)):
        return "[" + ",".join(js_string(x) for x in v) + "]"
    if isinstance(v, dict):
        return "{" + ",".join(js_string(k) + ":" + js_string(v[k]) for k in bytewise(v)) + "}"
    raise TypeError(f"unsupported property value {v!r}")


def props_json(props):
    return "{" + ",".join(js_string(k) + ":" + prop_value(props[k]) for k in bytewise(props)) + "}"


def money(micros):
    """Canonical decimal of integer micro-units: no trailing zeros, "0" for 0."""
    sign = "-" if micros < 0 else ""
    ip, fp = divmod(abs(micros), 1_000_000)
    if fp == 0:
        return f"{sign}{ip}"
    return f"{sign}{ip}.{fp:06d}".rstrip("0")


def to_micros(text):
    d = decimal.Decimal(text)
    m = d * 1_000_000
    if m != m.to_integral_value():
        raise ValueError(f"{text}: more than 6 decimals")
    return int(m)


# ---------------------------------------------------------------------------
# The estate container


class Estate:
    def __init__(self):
        self.nodes = {}   # id -> (type, props)
        self.edges = {}   # (src, type, dst) -> props
        self.costs = {}   # (resource, day, currency) -> [amount, billed] micros

    def node(self, nid, ntype, **props):
        if nid in self.nodes:
            raise ValueError(f"node {nid} defined twice")
        if not 1 <= len(nid.encode()) <= 400:
            raise ValueError(f"bad id {nid!r}")
        for k, v in props.items():
            if k.endswith("_at") and not TIMESTAMP_RE.match(v):
                raise ValueError(f"{nid}: {k} is not a canonical timestamp")
        self.nodes[nid] = (ntype, {k: v for k, v in props.items() if v is not None})
        return nid

    def edge(self, src, etype, dst, **props):
        if etype not in DEPENDENCY:
            raise ValueError(f"unknown edge type {etype}")
        key = (src, etype, dst)
        if key in self.edges:
            raise ValueError(f"edge {key} defined twice")
        self.edges[key] = {k: v for k, v in props.items() if v is not None}

    def cost(self, resource, day, currency, amount_micros, billed_micros=None):
        key = (resource, day.isoformat(), currency)
        if key in self.costs:
            raise ValueError(f"cost {key} defined twice (canonical form has one line)")
        self.costs[key] = [amount_micros, amount_micros if billed_micros is None else billed_micros]

    def type_of(self, nid):
        return self.nodes[nid][0]

    def out(self, src, etype):
        return sorted(d for (s, t, d) in self.edges if s == src and t == etype)

    def into(self, dst, etype):
        return sorted(s for (s, t, d) in self.edges if d == dst and t == etype)

    def validate(self):
        for (s, t, d) in self.edges:
            for end in (s, d):
                if end not in self.nodes:
                    raise ValueError(f"edge {s} -{t}-> {d}: no node {end}")
        for (r, _, _) in self.costs:
            if r not in self.nodes:
                raise ValueError(f"cost fact of missing node {r}")

    # canonical lines, in export order
    def node_lines(self):
        for nid in bytewise(self.nodes):
            t, p = self.nodes[nid]
            yield '{"id":%s,"type":%s,"props":%s}' % (js_string(nid), js_string(t), props_json(p))

    def edge_lines(self):
        for (s, t, d) in sorted(self.edges, key=lambda e: tuple(x.encode() for x in e)):
            yield '{"src":%s,"dst":%s,"type":%s,"props":%s}' % (
                js_string(s), js_string(d), js_string(t), props_json(self.edges[(s, t, d)]))

    def cost_lines(self):
        for key in sorted(self.costs, key=lambda c: tuple(x.encode() for x in c)):
            r, day, cur = key
            amount, billed = self.costs[key]
            line = '{"resource":%s,"day":"%s","amount":%s,"currency":"%s"' % (
                js_string(r), day, money(amount), cur)
            if billed != amount:
                line += ',"billed":%s' % money(billed)
            yield line + "}"


def h64(*parts):
    """Stable 64-bit hash of strings (for made-up uids, suffixes, jitter)."""
    return int.from_bytes(hashlib.sha256("|".join(parts).encode()).digest()[:8], "big")


def k8s_uid(nid):
    return str(uuid.uuid5(uuid.NAMESPACE_URL, "acme-shop-estate/" + nid))


K8S_ALPHABET = "bcdfghjklmnpqrstvwxz2456789"


def k8s_suffix(seed, n):
    x, out = h64(seed), ""
    for _ in range(n):
        x, i = divmod(x, len(K8S_ALPHABET))
        out += K8S_ALPHABET[i]
    return out


# ---------------------------------------------------------------------------
# The estate itself

# name: (system, title, language, tier, lifecycle, owner teams, description)
SERVICES = {
    "frontend": ("storefront", "Frontend", "typescript", 1, "production", ["catalog", "checkout"],
                 "Web storefront; renders pages from catalog, cart and checkout"),
    "catalog": ("storefront", "Product catalog", "go", 1, "production", ["catalog"],
                "Products, prices and stock levels"),
    "search": ("storefront", "Search", "java", 2, "production", ["catalog"],
               "Full-text product search"),
    "recommendations": ("storefront", "Recommendations", "python", 3, "experimental", ["catalog"],
                        "\"Customers also bought\" suggestions"),
    "checkout": ("orders", "Checkout", "go", 1, "production", ["checkout"],
                 "Turns a cart into an order: payment, shipping, confirmation"),
    "cart": ("orders", "Cart", "csharp", 1, "production", ["checkout"],
             "Shopping carts, kept in Redis"),
    "payments": ("orders", "Payments", "java", 1, "production", ["payments"],
                 "Card and wallet payments via the PSP"),
    "shipping": ("orders", "Shipping", "rust", 2, "production", [],
                 "Shipping quotes and parcel tracking"),
    "email": ("messaging", "Email", "ruby", 2, "production", ["platform"],
              "Transactional email (order confirmations)"),
    "currency": ("shared-services", "Currency", "cpp", 2, "production", ["platform"],
                 "Exchange rates and currency conversion"),
}

# (name, domain, owner team or None, title)
SYSTEMS = [
    ("storefront", "commerce", "catalog", "Storefront"),
    ("orders", "commerce", None, "Order processing"),
    ("messaging", "platform", "platform", "Messaging"),
    ("shared-services", "platform", "platform", "Shared services"),
]

# name: (title, parent team, slack)
TEAMS = {
    "checkout": ("Checkout", None, "#team-checkout"),
    "payments": ("Payments", "checkout", "#team-payments"),
    "catalog": ("Catalog & Discovery", None, "#team-catalog"),
    "platform": ("Platform", None, "#team-platform"),
}

# user: (full name, teams)
USERS = {
    "alice": ("Alice Andersen", ["payments"]),
    "bob": ("Bob Baptiste", ["payments"]),
    "carol": ("Carol Chen", ["checkout"]),
    "dave": ("Dave Dubois", ["checkout"]),
    "erin": ("Erin Eriksson", ["catalog"]),
    "frank": ("Frank Fischer", ["catalog"]),
    "grace": ("Grace García", ["platform"]),
    "heidi": ("Heidi Müller", ["catalog", "platform"]),
}

# api: (provider service, api_type, system, consumers)
APIS = {
    "payments-api": ("payments", "grpc", "orders", ["checkout"]),
    "checkout-api": ("checkout", "openapi", "orders", ["frontend"]),
    "catalog-api": ("catalog", "grpc", "storefront", ["frontend", "recommendations", "search"]),
    "currency-api": ("currency", "grpc", "shared-services", ["checkout", "frontend", "shipping"]),
}

# Observed calls: (caller, callee, request_rate, error_rate, latency_p99_ms, protocol).
# checkout -> {payments, shipping} -> currency is a diamond;
# catalog <-> recommendations is a cycle of length 2.
CALLS = [
    ("frontend", "catalog", 412.5, 0.8, 38.0, "grpc"),
    ("frontend", "cart", 96.25, 0.05, 12.0, "grpc"),
    ("frontend", "checkout", 7.5, 0.02, 240.0, "http"),
    ("frontend", "recommendations", 180.0, 1.25, 95.5, "grpc"),
    ("frontend", "search", 61.0, 0.0, 140.0, "http"),
    ("frontend", "currency", 220.0, 0.0, 4.5, "grpc"),
    ("checkout", "cart", 7.5, 0.0, 9.0, "grpc"),
    ("checkout", "payments", 7.25, 0.015, 610.0, "grpc"),
    ("checkout", "shipping", 7.25, 0.0, 55.0, "grpc"),
    ("checkout", "email", 7.0, 0.001, 120.0, "grpc"),
    ("payments", "currency", 7.25, 0.0, 3.25, "grpc"),
    ("shipping", "currency", 14.5, 0.0, 3.0, "grpc"),
    ("recommendations", "catalog", 175.0, 0.35, 22.0, "grpc"),
    ("catalog", "recommendations", 3.125, 0.0625, 80.0, "grpc"),
    ("search", "catalog", 58.0, 0.125, 30.0, "grpc"),
]

# Kubernetes: service -> (namespace, replicas, image tag, number of pods modelled)
K8S = {
    "frontend": ("shop", 3, "2026.10.3", 2),
    "catalog": ("shop", 3, "1.42.0", 0),
    "search": ("shop", 2, "3.1.7", 0),
    "recommendations": ("shop", 1, "0.9.2", 0),
    "checkout": ("shop", 2, "5.0.1", 1),
    "cart": ("shop", 2, "2.8.0", 0),
    "payments": ("shop", 2, "7.3.4", 2),
    "shipping": ("shop", 1, "1.5.0", 0),
    "email": ("platform", 1, "4.2.2", 0),
    "currency": ("platform", 2, "1.0.9", 1),
}
K8S_NODES = [
    ("ip-10-0-1-23.eu-west-1.compute.internal", "eu-west-1a", "i-0a4f1c2e9b7d35e01"),
    ("ip-10-0-2-141.eu-west-1.compute.internal", "eu-west-1b", "i-0c77e1d05fa92b4d3"),
    ("ip-10-0-3-87.eu-west-1.compute.internal", "eu-west-1c", "i-05be3d8a6c1f0e9a7"),
]


def arn(service, rest, region=REGION, account=ACCOUNT):
    return f"arn:aws:{service}:{region}:{account}:{rest}"


# Terraform resources: address -> (resource_type, module, arn, cloud_id)
CLOUD = {
    "aws_db_instance.payments": ("aws_db_instance", None,
                                 arn("rds", "db:acme-payments-prod"), "acme-payments-prod"),
    "aws_kms_key.payments": ("aws_kms_key", None,
                             arn("kms", "key/6f1d2c8e-3b4a-4e5f-9a0b-1c2d3e4f5a6b"),
                             "6f1d2c8e-3b4a-4e5f-9a0b-1c2d3e4f5a6b"),
    "aws_db_instance.catalog": ("aws_db_instance", None,
                                arn("rds", "db:acme-catalog-prod"), "acme-catalog-prod"),
    "aws_elasticache_cluster.cart": ("aws_elasticache_cluster", None,
                                     arn("elasticache", "cluster:acme-cart-prod"), "acme-cart-prod"),
    "aws_s3_bucket.product_images": ("aws_s3_bucket", None,
                                     "arn:aws:s3:::acme-shop-product-images", "acme-shop-product-images"),
    "aws_opensearch_domain.search": ("aws_opensearch_domain", None,
                                     arn("es", "domain/acme-search"), "493817265014/acme-search"),
    "aws_sqs_queue.shipping_events": ("aws_sqs_queue", None, arn("sqs", "shipping-events"),
                                      f"https://sqs.{REGION}.amazonaws.com/{ACCOUNT}/shipping-events"),
    "aws_lb.frontend": ("aws_lb", None,
                        arn("elasticloadbalancing", "loadbalancer/app/acme-frontend/5f2c9e1a7b3d4c60"),
                        arn("elasticloadbalancing", "loadbalancer/app/acme-frontend/5f2c9e1a7b3d4c60")),
    "module.eks.aws_eks_cluster.this": ("aws_eks_cluster", "module.eks",
                                        arn("eks", "cluster/prod"), "prod"),
    "module.eks.aws_eks_node_group.default": ("aws_eks_node_group", "module.eks",
                                              arn("eks", "nodegroup/prod/default/4ac6b8f2-91d3-5e07-a2b4-c6d8e0f21a43"),
                                              "prod:default"),
    "module.eks.aws_cloudwatch_log_group.this": ("aws_cloudwatch_log_group", "module.eks",
                                                 arn("logs", "log-group:/aws/eks/prod/cluster"),
                                                 "/aws/eks/prod/cluster"),
}

AWS_SERVICE_NAME = {
    "aws_db_instance": "Amazon Relational Database Service",
    "aws_kms_key": "AWS Key Management Service",
    "aws_elasticache_cluster": "Amazon ElastiCache",
    "aws_s3_bucket": "Amazon Simple Storage Service",
    "aws_opensearch_domain": "Amazon OpenSearch Service",
    "aws_sqs_queue": "Amazon Simple Queue Service",
    "aws_lb": "Elastic Load Balancing",
    "aws_eks_cluster": "Amazon Elastic Kubernetes Service",
    "aws_eks_node_group": "Amazon Elastic Compute Cloud",
    "aws_cloudwatch_log_group": "AmazonCloudWatch",
}

# Billed resources.  key -> (billing id, matching Terraform address or None,
# BILLED_TO target or None, currency, cost model).  The cost model is
# (daily list cost, discount %, jitter per mille, weekend factor %, credits
# {day: amount}); every number is a decimal string.
NAT_ID = "nat-0d3e5f7a9b1c2e4f6"
BILLED = [
    ("aws_db_instance.payments", None, "service:payments", "USD",
     ("11.52", 35, 40, 100, {})),
    ("aws_kms_key.payments", None, "service:payments", "USD",
     ("0.033333", 0, 300, 100, {})),
    ("aws_db_instance.catalog", None, "service:catalog", "USD",
     ("1.632", 0, 60, 100, {})),
    ("aws_elasticache_cluster.cart", None, "service:cart", "USD",
     ("4.944", 0, 0, 100, {})),
    ("aws_s3_bucket.product_images", None, "service:catalog", "USD",
     ("1.857", 0, 120, 100, {})),
    ("aws_opensearch_domain.search", None, "service:search", "USD",
     ("12.024", 0, 25, 100, {10: "-25"})),
    ("aws_sqs_queue.shipping_events", None, "service:shipping", "USD",
     ("0.1284", 0, 200, 60, {})),
    ("aws_lb.frontend", None, "team:platform", "USD",
     ("1.4731", 0, 150, 70, {})),
    ("module.eks.aws_eks_cluster.this", None, "team:platform", "USD",
     ("2.4", 0, 0, 100, {15: "-10"})),
    ("module.eks.aws_eks_node_group.default", None, "team:platform", "USD",
     ("15.408", 30, 0, 67, {})),
    ("module.eks.aws_cloudwatch_log_group.this", None, "team:platform", "USD",
     ("3.51", 0, 180, 85, {})),
    # Not in Terraform (created by hand in the console) and charged to nobody.
    (None, f"bill:aws/{NAT_ID}", None, "USD",
     ("3.152", 0, 90, 80, {})),
    # A mail relay rented from a European hoster, invoiced in EUR.
    (None, "bill:hetzner/server-31415926", "service:email", "EUR",
     ("0.53", 0, 0, 100, {})),
]


def billing_id(address):
    rtype, _, rarn, cid = CLOUD[address]
    # Billing exports name buckets by name, everything else by ARN.
    return "bill:aws/" + (cid if rtype == "aws_s3_bucket" else rarn)


def daily_costs(rid, model):
    """30 (day, amount, billed) triples in micro-units for one resource."""
    base, discount, jitter, weekend, credits = model
    base = to_micros(base)
    out = []
    for i in range(N_DAYS):
        day = FIRST_DAY + datetime.timedelta(days=i)
        listed = base
        if day.weekday() >= 5:
            listed = listed * weekend // 100
        if jitter:
            j = h64(rid, day.isoformat()) % (2 * jitter + 1) - jitter
            listed = listed * (1000 + j) // 1000
        amount = listed * (100 - discount) // 100
        if day.day in credits:
            amount = listed = to_micros(credits[day.day])
        out.append((day, amount, listed))
    return out


def build():
    e = Estate()
    org_repo = f"git:github.com/{ORG}/backstage-catalog"
    infra_repo = f"git:github.com/{ORG}/infra"

    def repo(name, authors, commits, last):
        return e.node(f"git:github.com/{ORG}/{name}", "Repository", name=name,
                      url=f"https://github.com/{ORG}/{name}", default_branch="main",
                      last_commit_at=last, commits_90d=commits, top_authors=authors)

    repo("backstage-catalog", ["grace", "carol"], 37, "2026-10-27T16:02:11Z")
    repo("infra", ["heidi", "grace", "bob"], 212, "2026-10-30T08:45:00Z")

    # ---- organisation
    for d, title in (("commerce", "Commerce"), ("platform", "Platform")):
        e.node(f"domain:{d}", "Domain", name=d, title=title, lifecycle="production")
        e.edge(f"domain:{d}", "DEFINED_IN", org_repo, path=f"domains/{d}.yaml")
    e.edge("team:platform", "OWNS", "domain:platform")

    for t, (title, parent, slack) in TEAMS.items():
        e.node(f"team:{t}", "Team", name=t, title=title, group_type="team",
               email=f"{t}@{ORG}.example", slack=slack, oncall=f"pagerduty:{t}-primary")
        e.edge(f"team:{t}", "DEFINED_IN", org_repo, path=f"teams/{t}.yaml")
        if parent:
            e.edge(f"team:{t}", "PART_OF", f"team:{parent}")

    for u, (full, teams) in USERS.items():
        e.node(f"user:{u}", "User", name=u, title=full, email=f"{u}@{ORG}.example")
        for t in teams:
            e.edge(f"user:{u}", "MEMBER_OF", f"team:{t}")
    e.edge("user:heidi", "OWNS", f"k8s:{CLUSTER}")

    for s, domain, owner, title in SYSTEMS:
        e.node(f"system:{s}", "System", name=s, title=title, lifecycle="production")
        e.edge(f"system:{s}", "PART_OF", f"domain:{domain}")
        e.edge(f"system:{s}", "DEFINED_IN", org_repo, path=f"systems/{s}.yaml")
        if owner:
            e.edge(f"team:{owner}", "OWNS", f"system:{s}")

    # ---- services, their repositories and APIs
    for i, (s, (system, title, lang, tier, lc, owners, desc)) in enumerate(SERVICES.items()):
        sid = f"service:{s}"
        authors = [u for u, (_, teams) in USERS.items() if set(teams) & set(owners)][:3]
        r = repo(s, authors, 20 + 17 * i % 90, f"2026-10-{10 + 2 * i:02d}T{9 + i:02d}:{7 * i % 60:02d}:00Z")
        e.node(sid, "Service", name=s, title=title, description=desc, lifecycle=lc, tier=tier,
               language=lang, tags=[lang, system],
               annotations={"github.com/project-slug": f"{ORG}/{s}",
                            "backstage.io/techdocs-ref": "dir:."})
        e.edge(sid, "PART_OF", f"system:{system}")
        e.edge(sid, "DEFINED_IN", r, path="catalog-info.yaml")
        for t in owners:
            e.edge(f"team:{t}", "OWNS", sid)

    for a, (provider, atype, system, consumers) in APIS.items():
        aid = f"api:{a}"
        e.node(aid, "API", name=a, api_type=atype, lifecycle="production")
        e.edge(aid, "PART_OF", f"system:{system}")
        e.edge(aid, "DEFINED_IN", f"git:github.com/{ORG}/{provider}",
               path="api/openapi.yaml" if atype == "openapi" else f"proto/{provider}.proto")
        e.edge(f"service:{provider}", "PROVIDES_API", aid)
        for t in SERVICES[provider][5]:
            e.edge(f"team:{t}", "OWNS", aid)
        for c in consumers:
            e.edge(f"service:{c}", "CONSUMES_API", aid)

    for src, dst, rate, err, p99, proto in CALLS:
        e.edge(f"service:{src}", "CALLS", f"service:{dst}", request_rate=rate, error_rate=err,
               latency_p99_ms=p99, protocol=proto, rule="otel-servicegraph")

    # ---- catalog resources and Terraform
    e.node("resource:payments-db", "Resource", name="payments-db", resource_type="database",
           description="PostgreSQL for payment intents and ledger")
    e.node("resource:product-images", "Resource", name="product-images", resource_type="s3-bucket")
    for res, system, owner in (("payments-db", "orders", "payments"),
                               ("product-images", "storefront", "catalog")):
        e.edge(f"resource:{res}", "PART_OF", f"system:{system}")
        e.edge(f"resource:{res}", "DEFINED_IN", infra_repo, path="catalog/resources.yaml")
        e.edge(f"team:{owner}", "OWNS", f"resource:{res}")

    for addr, (rtype, module, rarn, cid) in CLOUD.items():
        name = addr.rsplit(".", 1)[1]
        e.node(TF + addr, "CloudResource", name=name, provider="aws", resource_type=rtype,
               address=addr, module=module, arn=rarn, cloud_id=cid,
               region=None if rtype == "aws_s3_bucket" else REGION)

    db = TF + "aws_db_instance.payments"
    e.edge(db, "RUNS", "resource:payments-db", rule="tag", evidence="tag backstage.io/resource=payments-db")
    e.edge(TF + "aws_s3_bucket.product_images", "RUNS", "resource:product-images",
           rule="tag", evidence="tag backstage.io/resource=product-images")
    e.edge(db, "DEPENDS_ON", TF + "aws_kms_key.payments", rule="terraform-dependencies")
    e.edge("service:payments", "DEPENDS_ON", "resource:payments-db")
    e.edge("service:payments", "DEPENDS_ON", db, rule="env-endpoint",
           evidence="DATABASE_HOST=acme-payments-prod.c1x2y3z4.eu-west-1.rds.amazonaws.com")
    e.edge("service:cart", "DEPENDS_ON", TF + "aws_elasticache_cluster.cart", rule="env-endpoint",
           evidence="REDIS_ADDR=acme-cart-prod.x7k2lq.0001.euw1.cache.amazonaws.com:6379")
    e.edge("service:catalog", "DEPENDS_ON", TF + "aws_db_instance.catalog", rule="env-endpoint",
           evidence="DATABASE_HOST=acme-catalog-prod.c1x2y3z4.eu-west-1.rds.amazonaws.com")
    e.edge("service:catalog", "DEPENDS_ON", "resource:product-images")
    e.edge("service:search", "DEPENDS_ON", TF + "aws_opensearch_domain.search", rule="env-endpoint",
           evidence="OPENSEARCH_URL=https://vpc-acme-search.eu-west-1.es.amazonaws.com")
    e.edge("service:shipping", "DEPENDS_ON", TF + "aws_sqs_queue.shipping_events", rule="env-endpoint",
           evidence=f"QUEUE_URL=https://sqs.{REGION}.amazonaws.com/{ACCOUNT}/shipping-events")

    # ---- Kubernetes
    cl = f"k8s:{CLUSTER}"
    e.node(cl, "KubernetesCluster", name=CLUSTER, version="v1.31.4",
           server="https://4C1F8E2A9B7D.gr7.eu-west-1.eks.amazonaws.com")
    for ns in ("shop", "platform"):
        e.node(f"{cl}/{ns}", "KubernetesNamespace", name=ns, cluster=CLUSTER,
               labels={"kubernetes.io/metadata.name": ns})
        e.edge(f"{cl}/{ns}", "SCOPED_IN", cl)
    for kn, zone, iid in K8S_NODES:
        nid = f"{cl}/Node/{kn}"
        e.node(nid, "KubernetesNode", name=kn, cluster=CLUSTER, instance_type="m6i.xlarge",
               zone=zone, provider_id=f"aws:///{zone}/{iid}",
               labels={"eks.amazonaws.com/nodegroup": "default",
                       "topology.kubernetes.io/zone": zone})
        e.edge(nid, "SCOPED_IN", cl)
        e.edge(nid, "RUNS_ON", TF + "module.eks.aws_eks_node_group.default", rule="nodegroup-label",
               evidence="label eks.amazonaws.com/nodegroup=default")

    pod_no = 0
    for s, (ns, replicas, tag, pods) in K8S.items():
        nsid = f"{cl}/{ns}"
        image = f"ghcr.io/{ORG}/{s}:{tag}"
        app = {"app.kubernetes.io/name": s, "app.kubernetes.io/part-of": ORG}
        dep = e.node(f"{nsid}/Deployment/{s}", "KubernetesDeployment", name=s, cluster=CLUSTER,
                     namespace=ns, uid=k8s_uid(f"{nsid}/Deployment/{s}"), replicas=replicas,
                     image=image, labels=app)
        e.edge(dep, "RUNS", f"service:{s}", rule="k8s-label", evidence=f"label app.kubernetes.io/name={s}")
        e.edge(dep, "SCOPED_IN", nsid)
        rs_name = f"{s}-{k8s_suffix(s + tag, 10)}"
        rs = e.node(f"{nsid}/ReplicaSet/{rs_name}", "KubernetesReplicaSet", name=rs_name,
                    cluster=CLUSTER, namespace=ns, uid=k8s_uid(f"{nsid}/ReplicaSet/{rs_name}"),
                    replicas=replicas, image=image, labels=app)
        e.edge(rs, "CONTROLLED_BY", dep)
        e.edge(rs, "SCOPED_IN", nsid)
        for p in range(pods):
            pname = f"{rs_name}-{k8s_suffix(rs_name + str(p), 5)}"
            kn = K8S_NODES[pod_no % len(K8S_NODES)][0]
            pod_no += 1
            pod = e.node(f"{nsid}/Pod/{pname}", "KubernetesPod", name=pname, cluster=CLUSTER,
                         namespace=ns, uid=k8s_uid(f"{nsid}/Pod/{pname}"), phase="Running",
                         node_name=kn, image=image, labels=app)
            e.edge(pod, "CONTROLLED_BY", rs)
            e.edge(pod, "RUNS_ON", f"{cl}/Node/{kn}")
            e.edge(pod, "SCOPED_IN", nsid)
        svc = e.node(f"{nsid}/Service/{s}", "KubernetesService", name=s, cluster=CLUSTER,
                     namespace=ns, uid=k8s_uid(f"{nsid}/Service/{s}"), service_type="ClusterIP",
                     selector={"app.kubernetes.io/name": s})
        e.edge(svc, "SELECTS", dep, rule="selector", evidence=f"app.kubernetes.io/name={s}")
        e.edge(svc, "SCOPED_IN", nsid)

    ing = e.node(f"{cl}/shop/Ingress/storefront", "KubernetesIngress", name="storefront",
                 cluster=CLUSTER, namespace="shop", uid=k8s_uid(f"{cl}/shop/Ingress/storefront"),
                 hosts=["shop.acme-shop.example", "api.acme-shop.example"],
                 annotations={"alb.ingress.kubernetes.io/scheme": "internet-facing",
                              "kubernetes.io/ingress.class": "alb"})
    e.edge(ing, "ROUTES_TO", f"{cl}/shop/Service/frontend")
    e.edge(ing, "ROUTES_TO", f"{cl}/shop/Service/checkout")
    e.edge(ing, "SCOPED_IN", f"{cl}/shop")

    # ---- billing
    for addr, bid, target, cur, model in BILLED:
        if addr:
            bid = billing_id(addr)
            rtype, _, rarn, cid = CLOUD[addr]
            e.node(bid, "BillingResource", provider="aws", service_name=AWS_SERVICE_NAME[rtype],
                   resource_id=bid[len("bill:aws/"):], account=ACCOUNT,
                   region=None if rtype == "aws_s3_bucket" else REGION)
            how = "cloud-id" if rtype == "aws_s3_bucket" else "arn"
            e.edge(bid, "SAME_AS", TF + addr, rule=how, evidence=bid[len("bill:aws/"):])
        elif bid.startswith("bill:aws/"):
            e.node(bid, "BillingResource", provider="aws",
                   service_name="Amazon Elastic Compute Cloud", resource_id=NAT_ID,
                   account=ACCOUNT, region=REGION)
        else:
            e.node(bid, "BillingResource", provider="hetzner", service_name="Cloud Server CX41",
                   resource_id="31415926", region="fsn1", account="K0815471")
        if target:
            e.edge(bid, "BILLED_TO", target, rule="tag",
                   evidence="tag " + ("team" if target.startswith("team:") else "service")
                   + "=" + target.split(":", 1)[1])
        for day, amount, listed in daily_costs(bid, model):
            e.cost(bid, day, cur, amount, listed)

    e.validate()
    return e


# ---------------------------------------------------------------------------
# Known answers, computed from the Estate object (not from stacktwin)


def owners_of(e, nid, seen=()):
    """(owners, via): direct OWNS sources, else those of the PART_OF parents."""
    direct = e.into(nid, "OWNS")
    if direct:
        return direct, nid
    for parent in e.out(nid, "PART_OF"):
        if parent not in seen:
            o, via = owners_of(e, parent, seen + (nid,))
            if o:
                return o, via
    return [], None


def blast_radius(e, start):
    needed_by = {}
    for (s, t, d) in e.edges:
        if DEPENDENCY[t] == "forward":
            needed_by.setdefault(d, set()).add(s)
        elif DEPENDENCY[t] == "reverse":
            needed_by.setdefault(s, set()).add(d)
    seen, todo = set(), [start]
    while todo:
        for n in needed_by.get(todo.pop(), ()):
            if n not in seen and n != start:
                seen.add(n)
                todo.append(n)
    return seen


def cost_by_team(e):
    """{bucket: {currency: [amount, billed]}} for the window.  A cost fact
    goes to its resource's BILLED_TO target; a team target is that team, a
    service target is the service's owner team (direct or via PART_OF)."""
    out = {}
    lo, hi = (d.isoformat() for d in WINDOW)
    for (r, day, cur), (amount, billed) in e.costs.items():
        if not lo <= day < hi:
            continue
        targets = e.out(r, "BILLED_TO")
        assert len(targets) <= 1, r
        if not targets:
            bucket = "(unattributed: no BILLED_TO)"
        elif e.type_of(targets[0]) == "Team":
            bucket = targets[0]
        else:
            owners, _ = owners_of(e, targets[0])
            if len(owners) == 1:
                bucket = owners[0]
            elif not owners:
                bucket = f"(no owner: {targets[0]})"
            else:
                bucket = f"(conflict: {targets[0]})"
        acc = out.setdefault(bucket, {}).setdefault(cur, [0, 0])
        acc[0] += amount
        acc[1] += billed
    return out


def print_answers(e):
    p = print
    types = {}
    for t, _ in e.nodes.values():
        types[t] = types.get(t, 0) + 1
    etypes = {}
    for (_, t, _) in e.edges:
        etypes[t] = etypes.get(t, 0) + 1
    p(f"nodes {len(e.nodes)}, edges {len(e.edges)}, cost facts {len(e.costs)}")
    p("node types: " + ", ".join(f"{t} {n}" for t, n in sorted(types.items())))
    p("edge types: " + ", ".join(f"{t} {n}" for t, n in sorted(etypes.items())))
    p()
    p("owners (direct OWNS, else inherited along PART_OF):")
    for nid in bytewise(e.nodes):
        if e.type_of(nid) in ("Service", "System", "API", "Resource", "Domain"):
            owners, via = owners_of(e, nid)
            how = "" if via == nid else f" (via {via})" if via else ""
            flag = "  <- CONFLICT" if len(owners) > 1 else "  <- UNOWNED" if not owners else ""
            p(f"  {nid}: {', '.join(owners) or '-'}{how}{flag}")
    p()
    db = TF + "aws_db_instance.payments"
    br = blast_radius(e, db)
    p(f"blast radius of {db}: {len(br)} nodes")
    p("  services: " + ", ".join(bytewise(n for n in br if e.type_of(n) == "Service")))
    p("  all: " + ", ".join(bytewise(br)))
    p()
    p(f"cost by team, [{WINDOW[0]}, {WINDOW[1]}) (amount / billed):")
    by = cost_by_team(e)
    for bucket in bytewise(by):
        for cur in sorted(by[bucket]):
            a, b = by[bucket][cur]
            p(f"  {bucket} {cur} {money(a)} / {money(b)}")
    tot = {}
    for (_, day, cur), (a, b) in e.costs.items():
        t = tot.setdefault(cur, [0, 0])
        t[0] += a
        t[1] += b
    for cur in sorted(tot):
        p(f"  total {cur} {money(tot[cur][0])} / {money(tot[cur][1])}")
    sub = {}
    for team in ("team:checkout", "team:payments"):
        for cur, (a, _) in by.get(team, {}).items():
            sub[cur] = sub.get(cur, 0) + a
    p("  team:checkout including sub-team payments: "
      + ", ".join(f"{cur} {money(a)}" for cur, a in sorted(sub.items())))
    p()
    p("cost by billed resource (amount / billed, BILLED_TO target):")
    res = {}
    for (r, _, cur), (a, b) in e.costs.items():
        acc = res.setdefault((r, cur), [0, 0])
        acc[0] += a
        acc[1] += b
    for (r, cur) in sorted(res):
        a, b = res[(r, cur)]
        tg = (e.out(r, "BILLED_TO") or ["-"])[0]
        same = (e.out(r, "SAME_AS") or ["no SAME_AS"])[0]
        p(f"  {r} {cur} {money(a)} / {money(b)} -> {tg} ({same})")
    p()
    p("cost by BILLED_TO target (amount):")
    per = {}
    for (r, _, cur), (a, _) in e.costs.items():
        tg = (e.out(r, "BILLED_TO") or ["(none)"])[0]
        per.setdefault((tg, cur), 0)
        per[(tg, cur)] += a
    for (tg, cur) in sorted(per):
        p(f"  {tg} {cur} {money(per[(tg, cur)])}")


# ---------------------------------------------------------------------------


def render(e):
    return {
        "nodes.jsonl": "".join(line + "\n" for line in e.node_lines()),
        "edges.jsonl": "".join(line + "\n" for line in e.edge_lines()),
        "costs.jsonl": "".join(line + "\n" for line in e.cost_lines()),
    }


def self_test():
    cases = {0.1: "0.1", 10.0: "10", 12.5: "12.5", 1e300: "1e+300", 1.5e-7: "1.5e-7",
             1e21: "1e+21", 123456789012345680000.0: "123456789012345680000",
             0.000001: "0.000001", -2.5: "-2.5", 3: "3"}
    for v, want in cases.items():
        assert js_number(v) == want, (v, js_number(v), want)
    assert money(0) == "0" and money(-25_000_000) == "-25" and money(1_500) == "0.0015"
    assert money(-1) == "-0.000001" and money(7_488_000) == "7.488"


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", default=os.path.dirname(os.path.abspath(__file__)),
                    help="directory for nodes.jsonl, edges.jsonl, costs.jsonl")
    ap.add_argument("--check", action="store_true", help="compare with the files in --out")
    ap.add_argument("--answers", action="store_true", help="print the known answers")
    args = ap.parse_args()
    self_test()
    e = build()
    if args.answers:
        print_answers(e)
        return 0
    files = render(e)
    if args.check:
        stale = []
        for name, text in files.items():
            try:
                with open(os.path.join(args.out, name), encoding="utf-8") as f:
                    if f.read() != text:
                        stale.append(name)
            except FileNotFoundError:
                stale.append(name)
        if stale:
            print("stale: " + ", ".join(stale) + " (run generate.py)", file=sys.stderr)
            return 1
        return 0
    os.makedirs(args.out, exist_ok=True)
    for name, text in files.items():
        with open(os.path.join(args.out, name), "w", encoding="utf-8", newline="\n") as f:
            f.write(text)
    print(f"wrote {len(e.nodes)} nodes, {len(e.edges)} edges, {len(e.costs)} cost facts to {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
