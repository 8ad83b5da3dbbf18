#!/usr/bin/env python3
"""bench/peers/load.py — convert a generated estate (interchange JSONL) into CSV
files for PostgreSQL COPY and the SQLite shell's .import, and pick the query
parameters (docs/peers.md).

    load.py --schema schema/stacktwin.yaml --in ESTATE_DIR --out CSV_DIR
            [--from 2026-10-01 --to 2026-10-31]

Python standard library only; streams the JSONL line by line.  Node ids are
numbered 1..N in bytewise (UTF-8) order of their string ids, so "smallest id"
is the same under integer and string comparison in the peers.  Money is
converted to integer micro-units from the decimal text, never through a
float.

Writes to CSV_DIR:
  nodes.csv       id,key,type            (type: node type code)
  edges.csv       src,dst,type           (type: edge type code)
  costs.csv       resource,day,currency,amount   (day: days since 1970-01-01,
                                                   amount: effective, micro-units)
  node_types.csv  code,name
  edge_types.csv  code,name,dependency   (forward / reverse / none)
  hub.txt         the query-1 root (string id)
  sample.txt      the 101 query-2/3 services (string ids, one per line)
  sample.csv      id,key of the same
  params.sh       shell assignments: type codes, dependency type lists, window
"""
import argparse
import csv
import datetime
import json
import multiprocessing
import os
import re
import sys

NODE_RE = re.compile(r'\{"id":"([^"\\]*)","type":"([A-Za-z0-9_]+)"')
EDGE_RE = re.compile(r'\{"src":"([^"\\]*)","dst":"([^"\\]*)","type":"([A-Za-z0-9_]+)"')
COST_RE = re.compile(
    r'\{"resource":"([^"\\]*)","day":"(\d{4}-\d\d-\d\d)","amount":(-?\d+(?:\.\d+)?),'
    r'"currency":"([A-Z]{3})"')
MONEY_RE = re.compile(r'-?\d+(?:\.\d{1,6})?\Z')
EPOCH = datetime.date(1970, 1, 1)


def die(msg):
    sys.stderr.write("load.py: %s\n" % msg)
    sys.exit(2)


def parse_schema(path):
    """Node and edge type names in file order and each edge type's
    `dependency`, from the two top-level maps of the schema YAML (the file's
    simple block layout: two-space type names, four-space keys)."""
    node_types, edge_types, deps = [], [], {}
    section, cur = None, None
    with open(path, encoding="utf-8") as f:
        for line in f:
            line = line.split("#", 1)[0].rstrip()
            if not line:
                continue
            m = re.match(r"([A-Za-z_]+):", line)
            if m:
                section, cur = m.group(1), None
                continue
            m = re.match(r"  ([A-Za-z][A-Za-z0-9_]*):", line)
            if m and section in ("node_types", "edge_types"):
                cur = m.group(1)
                (node_types if section == "node_types" else edge_types).append(cur)
                continue
            m = re.match(r"    dependency:\s*(\w+)", line)
            if m and section == "edge_types" and cur:
                deps[cur] = m.group(1)
    for e in edge_types:
        if deps.get(e) not in ("forward", "reverse", "none"):
            die("schema: edge type %s has no dependency direction" % e)
    return node_types, edge_types, deps


def day_of(s, cache={}):
    d = cache.get(s)
    if d is None:
        d = (datetime.date.fromisoformat(s) - EPOCH).days
        cache[s] = d
    return d


def micros(text, where):
    if not MONEY_RE.match(text):
        die("%s: amount %r is not a decimal with at most 6 fractional digits" % (where, text))
    neg = text.startswith("-")
    if neg:
        text = text[1:]
    ip, _, fp = text.partition(".")
    v = int(ip) * 1000000 + int((fp + "000000")[:6])
    return -v if neg else v


def records(path):
    """(lineno, line) of the non-empty lines."""
    with open(path, encoding="utf-8", newline="\n") as f:
        for n, line in enumerate(f, 1):
            if line.strip():
                yield n, line


def slow(line, where):
    try:
        return json.loads(line, parse_float=str, parse_int=str)
    except ValueError as e:
        die("%s: %s" % (where, e))


def convert_edges(path, out, ids, ecode):
    n = 0
    with open(out, "w", encoding="utf-8", buffering=1 << 20) as w:
        wr = w.write
        for ln, line in records(path):
            m = EDGE_RE.match(line)
            if m:
                s, d, t = m.groups()
            else:
                o = slow(line, "%s:%d" % (path, ln))
                s, d, t = o["src"], o["dst"], o["type"]
            try:
                wr("%d,%d,%d\n" % (ids[s], ids[d], ecode[t]))
            except KeyError as e:
                die("%s:%d: unknown node or edge type %s" % (path, ln, e))
            n += 1
    return n


def convert_costs(path, out, ids):
    n = 0
    with open(out, "w", encoding="utf-8", buffering=1 << 20) as w:
        wr = w.write
        for ln, line in records(path):
            m = COST_RE.match(line)
            if m:
                r, day, amount, cur = m.groups()
            else:
                o = slow(line, "%s:%d" % (path, ln))
                r, day, amount, cur = o["resource"], o["day"], o["amount"], o["currency"]
            try:
                rid = ids[r]
            except KeyError:
                die("%s:%d: unknown resource %s" % (path, ln, r))
            wr("%d,%d,%s,%d\n" % (rid, day_of(day), cur, micros(amount, "%s:%d" % (path, ln))))
            n += 1
    return n


def worker(kind, path, out, ids, ecode, q):
    try:
        if kind == "edges":
            q.put((kind, convert_edges(path, out, ids, ecode)))
        else:
            q.put((kind, convert_costs(path, out, ids)))
    except SystemExit:
        q.put((kind, None))
        raise


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--schema", required=True)
    ap.add_argument("--in", dest="indir", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--from", dest="dfrom", default="2026-10-01")
    ap.add_argument("--to", dest="dto", default="2026-10-31")
    a = ap.parse_args()
    os.makedirs(a.out, exist_ok=True)

    node_types, edge_types, deps = parse_schema(a.schema)
    ncode = {t: i for i, t in enumerate(node_types)}
    ecode = {t: i for i, t in enumerate(edge_types)}

    # nodes: collect, number in bytewise order of the id (str order of code
    # points == UTF-8 byte order)
    path = os.path.join(a.indir, "nodes.jsonl")
    types = {}
    for ln, line in records(path):
        m = NODE_RE.match(line)
        if m:
            i, t = m.groups()
        else:
            o = slow(line, "%s:%d" % (path, ln))
            i, t = o["id"], o["type"]
        if t not in ncode:
            die("%s:%d: unknown node type %s" % (path, ln, t))
        types[i] = ncode[t]
    keys = sorted(types)
    ids = {k: n for n, k in enumerate(keys, 1)}
    with open(os.path.join(a.out, "nodes.csv"), "w", encoding="utf-8", newline="") as f:
        w = csv.writer(f, lineterminator="\n")
        for n, k in enumerate(keys, 1):
            w.writerow((n, k, types[k]))
    svc = ncode["Service"]
    services = [ids[k] for k in keys if types[k] == svc]
    del types

    # edges and costs in two processes (fork: the id map is shared)
    q = multiprocessing.Queue()
    procs = [multiprocessing.Process(target=worker, args=(
        kind, os.path.join(a.indir, kind + ".jsonl"), os.path.join(a.out, kind + ".csv"),
        ids, ecode, q)) for kind in ("edges", "costs")]
    for p in procs:
        p.start()
    counts = dict(q.get() for _ in procs)
    for p in procs:
        p.join()
        if p.exitcode != 0:
            sys.exit(2)

    # parameters: the hub (most distinct CALLS callers other than itself,
    # ties -> smallest id) and 101 evenly spaced services in id order
    calls = ecode["CALLS"]
    svc_ids = services
    svc_set = set(services)
    if not svc_ids:
        die("no Service nodes")
    callers = {}
    with open(os.path.join(a.out, "edges.csv"), encoding="utf-8") as f:
        for line in f:
            s, d, t = line.split(",")
            if int(t) == calls and s != d:
                di = int(d)
                if di in svc_set:
                    callers[di] = callers.get(di, 0) + 1  # edges are unique per (src,type,dst)
    hub = min(svc_ids, key=lambda i: (-callers.get(i, 0), i))
    nsv = len(svc_ids)
    sample = sorted({svc_ids[i * (nsv - 1) // 100] for i in range(101)})
    with open(os.path.join(a.out, "hub.txt"), "w", encoding="utf-8") as f:
        f.write(keys[hub - 1] + "\n")
    with open(os.path.join(a.out, "sample.txt"), "w", encoding="utf-8") as f:
        for i in sample:
            f.write(keys[i - 1] + "\n")
    with open(os.path.join(a.out, "sample.csv"), "w", encoding="utf-8", newline="") as f:
        w = csv.writer(f, lineterminator="\n")
        for i in sample:
            w.writerow((i, keys[i - 1]))
    with open(os.path.join(a.out, "node_types.csv"), "w", encoding="utf-8") as f:
        for i, t in enumerate(node_types):
            f.write("%d,%s\n" % (i, t))
    with open(os.path.join(a.out, "edge_types.csv"), "w", encoding="utf-8") as f:
        for i, t in enumerate(edge_types):
            f.write("%d,%s,%s\n" % (i, t, deps[t]))

    fwd = [ecode[t] for t in edge_types if deps[t] == "forward"]
    rev = [ecode[t] for t in edge_types if deps[t] == "reverse"]
    if not fwd:
        die("schema has no forward dependency edge type")
    # an empty IN () list is not SQL: -1 matches no type
    with open(os.path.join(a.out, "params.sh"), "w", encoding="utf-8") as f:
        f.write("FWD=%s\nREV=%s\n" % (",".join(map(str, fwd)), ",".join(map(str, rev)) or "-1"))
        for t in ("OWNS", "PART_OF", "BILLED_TO", "SAME_AS", "CALLS"):
            f.write("E_%s=%d\n" % (t, ecode[t]))
        f.write("N_TEAM=%d\nN_SERVICE=%d\n" % (ncode["Team"], svc))
        f.write("HUB=%d\nHUB_CALLERS=%d\n" % (hub, callers.get(hub, 0)))
        f.write("DAY_FROM=%d\nDAY_TO=%d\n" % (day_of(a.dfrom), day_of(a.dto)))
        f.write("N_NODES=%d\nN_EDGES=%d\nN_COSTS=%d\nN_SAMPLE=%d\n" % (
            len(keys), counts["edges"], counts["costs"], len(sample)))


if __name__ == "__main__":
    main()
