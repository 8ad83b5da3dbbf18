#!/usr/bin/env python3
"""A bearer-token proxy in front of a Prometheus, for tests/test_prometheus.c.

    auth_proxy.py UPSTREAM_URL TOKEN

Prometheus itself only knows basic auth; this stands for the usual reverse
proxy that checks bearer tokens.  Listens on 127.0.0.1 (a free port), prints
the port on the first line of stdout, and serves until killed:

  GET /slow/...  accepts, then sends nothing for 30 s (timeouts)
  GET /...       requires "Authorization: Bearer TOKEN" (else 401), then is
                 forwarded to UPSTREAM_URL + path; the upstream's basic-auth
                 credentials come from the environment variable
                 ST_PROM_UPSTREAM_AUTH ("user:password"), if set.
The Authorization header received is never printed.
"""
import base64
import http.server
import os
import sys
import time
import urllib.error
import urllib.request


def main():
    upstream, token = sys.argv[1].rstrip("/"), sys.argv[2]
    up_auth = os.environ.get("ST_PROM_UPSTREAM_AUTH")
    up_header = ("Basic " + base64.b64encode(up_auth.encode()).decode()) if up_auth else None

    class Handler(http.server.BaseHTTPRequestHandler):
        def log_message(self, *args):
            pass

        def reply(self, code, data, ctype):
            self.send_response(code)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_GET(self):
            if self.path.startswith("/slow/"):
                time.sleep(30)
                return
            if self.headers.get("Authorization", "") != "Bearer " + token:
                self.reply(401, b"Unauthorized\n", "text/plain")
                return
            req = urllib.request.Request(upstream + self.path)
            if up_header:
                req.add_header("Authorization", up_header)
            try:
                with urllib.request.urlopen(req, timeout=20) as r:
                    self.reply(r.status, r.read(), r.headers.get("Content-Type", ""))
            except urllib.error.HTTPError as e:
                self.reply(e.code, e.read(), e.headers.get("Content-Type", ""))

    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    srv.daemon_threads = True
    print(srv.server_address[1], flush=True)
    srv.serve_forever()


if __name__ == "__main__":
    main()
