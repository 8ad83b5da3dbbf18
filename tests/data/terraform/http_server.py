#!/usr/bin/env python3
"""A loopback Terraform HTTP backend for tests/test_terraform.c.

    http_server.py STATE_FILE TOKEN USERNAME

Listens on 127.0.0.1 (a free port), prints the port on the first line of
stdout, and serves until killed:

  GET /state   the state file; requires "Authorization: Bearer TOKEN"
  GET /basic   the state file; requires HTTP basic auth USERNAME:TOKEN
  GET /moved   302 to /state (the bearer token must follow on the same host)
  GET /slow    accepts, then sends nothing for 30 s (timeouts)
  GET /boom    500
Anything else is 404.  The Authorization header seen last is never printed.
"""
import base64
import http.server
import sys
import time


def main():
    state_path, token, username = sys.argv[1], sys.argv[2], sys.argv[3]
    with open(state_path, "rb") as f:
        body = f.read()
    basic = "Basic " + base64.b64encode(f"{username}:{token}".encode()).decode()

    class Handler(http.server.BaseHTTPRequestHandler):
        def log_message(self, *args):
            pass

        def send_body(self, code, data, ctype="application/json"):
            self.send_response(code)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_GET(self):
            auth = self.headers.get("Authorization", "")
            if self.path == "/state":
                if auth != "Bearer " + token:
                    return self.send_body(401, b'{"error":"unauthorized"}')
                return self.send_body(200, body)
            if self.path == "/basic":
                if auth != basic:
                    return self.send_body(401, b'{"error":"unauthorized"}')
                return self.send_body(200, body)
            if self.path == "/moved":
                self.send_response(302)
                self.send_header("Location", "/state")
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            if self.path == "/slow":
                time.sleep(30)
                return self.send_body(200, body)
            if self.path == "/boom":
                return self.send_body(500, b"internal error", "text/plain")
            return self.send_body(404, b"not found", "text/plain")

    class Server(http.server.ThreadingHTTPServer):
        daemon_threads = True

    srv = Server(("127.0.0.1", 0), Handler)
    print(srv.server_address[1], flush=True)
    srv.serve_forever()


if __name__ == "__main__":
    main()
