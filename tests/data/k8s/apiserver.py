#!/usr/bin/env python3
"""A loopback stand-in for the Kubernetes API server's list API (tests and
bench/k8s-bench only).

Serves, from a JSON data file {"version": {...}, "resources": {"pods": [items],
...}} (--data) and/or a directory of pre-serialised <resource>.jsonl files
(--data-dir, written by bench/gen_k8s.py), the read paths the k8s connector
uses:

  /version
  /api/v1/<res>                 /api/v1/namespaces/<ns>/<res>
  /apis/<group>/<v>/<res>       /apis/<group>/<v>/namespaces/<ns>/<res>
  /api/v1/namespaces/<name>     (one Namespace)

as the real server shapes them: a `<Kind>List` with apiVersion,
metadata.resourceVersion / continue / remainingItemCount and items without
kind (as the API returns them).  `limit` paginates; `continue` tokens are
opaque.  Every request needs `Authorization: Bearer <token>` (--token) or
basic auth (--basic user:pass); otherwise 401 with a `kind: Status` body.

  --expire RES:once|always   the first (once) or every (always) continue
                             token for RES is answered 410 Expired
  --forbid RES               lists of RES are answered 403 Forbidden
  --log FILE                 one line per request: "METHOD PATH?QUERY"
  --tls CERT KEY             serve https
Items are serialised once at start, so pages are joins of bytes: the server
is not the bottleneck of a benchmark.  Prints the port on stdout.
"""
import argparse
import base64
import json
import os
import socket
import ssl
import sys
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

# resource -> (api prefix, list kind, apiVersion, namespaced)
RESOURCES = {
    "namespaces": ("/api/v1", "NamespaceList", "v1", False),
    "nodes": ("/api/v1", "NodeList", "v1", False),
    "pods": ("/api/v1", "PodList", "v1", True),
    "services": ("/api/v1", "ServiceList", "v1", True),
    "deployments": ("/apis/apps/v1", "DeploymentList", "apps/v1", True),
    "statefulsets": ("/apis/apps/v1", "StatefulSetList", "apps/v1", True),
    "daemonsets": ("/apis/apps/v1", "DaemonSetList", "apps/v1", True),
    "replicasets": ("/apis/apps/v1", "ReplicaSetList", "apps/v1", True),
    "jobs": ("/apis/batch/v1", "JobList", "batch/v1", True),
    "cronjobs": ("/apis/batch/v1", "CronJobList", "batch/v1", True),
    "ingresses": ("/apis/networking.k8s.io/v1", "IngressList", "networking.k8s.io/v1", True),
}

EXPIRED = ("The provided continue parameter is too old to display a consistent list "
           "result. You can start a new list without the continue parameter.")


def status(code, reason, message):
    return json.dumps({"kind": "Status", "apiVersion": "v1", "metadata": {},
                       "status": "Failure", "message": message, "reason": reason,
                       "code": code}).encode()


class State:
    def __init__(self, args):
        data = {}
        if args.data:
            with open(args.data, "rb") as f:
                data = json.load(f)
        self.version = json.dumps(data.get("version", {"major": "1", "minor": "31",
                                                        "gitVersion": "v1.31.4"})).encode()
        res = data.get("resources", {})
        self.items = {}  # res -> [(namespace or None: not parsed yet, bytes)]
        self.by_name = {}  # namespace name -> bytes (a single Namespace)
        for r in RESOURCES:
            lst = []
            for it in res.get(r, []):
                b = json.dumps(it, separators=(",", ":")).encode()
                lst.append((it.get("metadata", {}).get("namespace", ""), b))
            if args.data_dir:
                # pre-serialised: <res>.jsonl, one object a line, kept as bytes
                p = os.path.join(args.data_dir, r + ".jsonl")
                if os.path.exists(p):
                    with open(p, "rb") as f:
                        lst.extend((None, line.rstrip(b"\n")) for line in f if line.strip())
            if r == "namespaces":
                for (_, b) in lst:
                    it = json.loads(b)
                    one = dict(it, kind="Namespace", apiVersion="v1")
                    self.by_name[it["metadata"]["name"]] = json.dumps(one).encode()
            self.items[r] = lst
        self.filtered = {}
        self.token = args.token
        self.basic = None
        if args.basic:
            self.basic = "Basic " + base64.b64encode(args.basic.encode()).decode()
        self.expire = {}
        for e in args.expire or []:
            r, mode = e.split(":")
            self.expire[r] = mode
        self.forbid = set(args.forbid or [])
        self.log = open(args.log, "a", buffering=1) if args.log else None
        self.lock = threading.Lock()

    def listing(self, r, ns):
        key = (r, ns)
        if key not in self.filtered:
            lst = self.items[r]
            if ns is None:
                self.filtered[key] = [b for (_, b) in lst]
            else:
                self.filtered[key] = [b for (n, b) in lst
                                      if (n if n is not None else
                                          json.loads(b)["metadata"].get("namespace", "")) == ns]
        return self.filtered[key]


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "fake-apiserver/1"

    def setup(self):
        super().setup()
        # one segment per answer where possible: no Nagle/delayed-ACK stalls
        self.request.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def log_message(self, *a):
        pass

    def send(self, code, body, ctype="application/json"):
        self.send_response(code)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self):
        st = self.server.st
        if st.log:
            with st.lock:
                st.log.write("GET " + self.path + "\n")
        auth = self.headers.get("Authorization", "")
        ok = (st.token and auth == "Bearer " + st.token) or (st.basic and auth == st.basic)
        if not ok:
            return self.send(401, status(401, "Unauthorized", "Unauthorized"))
        u = urllib.parse.urlsplit(self.path)
        q = urllib.parse.parse_qs(u.query)
        path = u.path.rstrip("/")
        if path == "/version":
            return self.send(200, st.version)
        parts = path.split("/")
        # /api/v1/namespaces/<name>
        if len(parts) == 5 and parts[1:4] == ["api", "v1", "namespaces"]:
            b = st.by_name.get(parts[4])
            if b is None:
                return self.send(404, status(404, "NotFound",
                                             'namespaces "%s" not found' % parts[4]))
            return self.send(200, b)
        res, ns = parts[-1], None
        prefix = "/".join(parts[:-1])
        if len(parts) >= 3 and parts[-3] == "namespaces":
            ns = parts[-2]
            prefix = "/".join(parts[:-3])
        spec = RESOURCES.get(res)
        if not spec or spec[0] != prefix or (ns is not None and not spec[3]):
            return self.send(404, status(404, "NotFound", "the server could not find the "
                                         "requested resource"))
        if res in st.forbid:
            return self.send(403, status(403, "Forbidden",
                                         '%s is forbidden: User "ci" cannot list resource '
                                         '"%s" at the cluster scope' % (res, res)))
        items = st.listing(res, ns)
        start = 0
        if "continue" in q:
            try:
                tok = json.loads(base64.urlsafe_b64decode(q["continue"][0].encode()))
                start = int(tok["o"])
                assert tok["r"] == res and tok["n"] == ns
            except Exception:
                return self.send(400, status(400, "BadRequest", "invalid continue token"))
            mode = st.expire.get(res)
            if mode == "always" or mode == "once":
                if mode == "once":
                    st.expire[res] = "done"
                return self.send(410, status(410, "Expired", EXPIRED))
        limit = int(q.get("limit", ["0"])[0] or 0)
        end = len(items) if limit <= 0 else min(len(items), start + limit)
        meta = {"resourceVersion": "4242"}
        if end < len(items):
            tok = base64.urlsafe_b64encode(json.dumps(
                {"r": res, "n": ns, "o": end, "rv": 4242}).encode()).decode()
            meta["continue"] = tok
            meta["remainingItemCount"] = len(items) - end
        head = ('{"kind":"%s","apiVersion":"%s","metadata":%s,"items":[' %
                (spec[1], spec[2], json.dumps(meta))).encode()
        body = head + b",".join(items[start:end]) + b"]}"
        self.send(200, body)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--data")
    ap.add_argument("--data-dir")
    ap.add_argument("--token")
    ap.add_argument("--basic")
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--expire", action="append")
    ap.add_argument("--forbid", action="append")
    ap.add_argument("--log")
    ap.add_argument("--tls", nargs=2, metavar=("CERT", "KEY"))
    args = ap.parse_args()
    srv = ThreadingHTTPServer(("127.0.0.1", args.port), Handler)
    srv.daemon_threads = True
    srv.st = State(args)
    if args.tls:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(args.tls[0], args.tls[1])
        srv.socket = ctx.wrap_socket(srv.socket, server_side=True)
    # a test that fails never kills us: leave when the parent is gone
    parent = os.getppid()

    def watch():
        while os.getppid() == parent:
            time.sleep(0.5)
        os._exit(0)

    threading.Thread(target=watch, daemon=True).start()
    sys.stdout.write("%d\n" % srv.server_address[1])
    sys.stdout.flush()
    try:
        srv.serve_forever()
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    sys.exit(main())
