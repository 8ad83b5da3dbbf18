#!/usr/bin/env bash
# serve_auth.sh STACKTWIN SOURCE_ROOT — `stacktwin serve --config FILE`: tokens
# by environment variable, file and SHA-256 with the read and admin roles,
# --token-file and the other flags over the config, server.limits (max_rows,
# max_header_bytes), startup errors (unknown key with file:line:column, a
# missing environment variable, an empty token file) that never show a token,
# anonymous read that never reaches the admin route, and a store that does
# not exist yet at start (503, then served once `stacktwin import` made it).
# Uses python3's standard library only.
set -euo pipefail
st=$1 root=$2
source "$(dirname "$0")/serve_lib.sh"
work=$(mktemp -d)
pids=()
cleanup() {
	for p in "${pids[@]}"; do
		if kill -0 "$p" 2>/dev/null; then
			kill -KILL "$p" 2>/dev/null || true
		fi
	done
	rm -rf "$work"
}
trap cleanup EXIT
fail() {
	echo "FAIL: $*"
	exit 1
}
estate=("$root"/examples/estate/{nodes,edges,costs}.jsonl)
db=$work/db
"$st" import --no-sync --db "$db" "${estate[@]}" >/dev/null

read_tok=read-env-token-7f3a91
admin_tok=admin-file-token-c0ffee
view_tok=viewer-sha-token-5e1f
view_sha=$(printf '%s' "$view_tok" | sha256sum | cut -d' ' -f1)
printf '%s\n' "$admin_tok" >"$work/admin.token"
export ST_TEST_READ_TOKEN=$read_tok

# Relative paths (store, token file) are resolved against the config's directory.
cat >"$work/serve.yaml" <<EOF
store: db
server:
  listen: 127.0.0.1:0
  tokens:
    - {name: ci, role: read, env: ST_TEST_READ_TOKEN}
    - {name: ops, role: admin, file: admin.token}
    - {name: viewer, role: read, sha256: $view_sha}
  limits:
    max_header_bytes: 2048
    max_rows: 50
EOF

# start_server NAME ARGS…: run serve in the background, standard output
# through a FIFO (read with file descriptor SERVER_FD), standard error to
# NAME.err; sets SERVER_PORT, SERVER_PID and SERVER_FD.
fdn=3
start_server() {
	local name=$1
	shift
	mkfifo "$work/$name.fifo"
	"$st" serve "$@" >"$work/$name.fifo" 2>"$work/$name.err" &
	SERVER_PID=$!
	SERVER_FD=$fdn
	pids+=("$SERVER_PID")
	eval "exec $fdn<\"$work/$name.fifo\""
	server_port "$fdn" "$work/$name.err"
	fdn=$((fdn + 1))
}

# stop_and_collect NAME PID FD: stop the server, keep the rest of its
# standard output in NAME.out.
stop_and_collect() {
	stop_server "$2" "$work/$1.err"
	cat <&"$3" >"$work/$1.out"
}

# ---- tokens of both roles from the config ----------------------------------
start_server roles --config "$work/serve.yaml"
pid=$SERVER_PID fd=$SERVER_FD
python3 - "$SERVER_PORT" "$read_tok" "$admin_tok" "$view_tok" <<'PY'
import http.client, json, socket, sys

port, read_tok, admin_tok, view_tok = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4]
failed = False

def req(path, token=None, method='GET'):
    conn = http.client.HTTPConnection('127.0.0.1', port, timeout=10)
    conn.request(method, path, headers={'Authorization': 'Bearer ' + token} if token else {})
    r = conn.getresponse()
    body = r.read()
    conn.close()
    return r, body

def check(name, cond, extra=''):
    global failed
    print(('ok: ' if cond else 'FAIL: ') + name + ('' if cond or not extra else ': ' + str(extra)[:400]))
    failed |= not cond

for tok, name, role in [(read_tok, 'ci', 'read'), (admin_tok, 'ops', 'admin'), (view_tok, 'viewer', 'read')]:
    r, b = req('/api/v1/whoami', tok)
    check('whoami: %s (%s)' % (name, role), r.status == 200 and json.loads(b) == {'token': name, 'role': role}, (r.status, b))
    r, b = req('/api/v1/stats', tok)
    check('%s may read: stats 200' % name, r.status == 200 and json.loads(b)['nodes'] == 113, (r.status, b[:100]))
    r, b = req('/api/v1/blast-radius?id=service:payments&limit=1', tok)
    check('%s may read: blast-radius 200' % name, r.status == 200, (r.status, b[:100]))
    r, b = req('/api/v1/admin/reopen', tok, method='POST')
    if role == 'admin':
        check('%s (admin) may POST /api/v1/admin/reopen' % name, r.status == 200 and json.loads(b) == {'revision': 1}, (r.status, b))
    else:
        d = json.loads(b).get('detail', '')
        check('%s (read) on the admin route: 403 naming the admin role' % name, r.status == 403
              and r.getheader('Content-Type') == 'application/problem+json' and 'admin role' in d, (r.status, b))
r, b = req('/api/v1/stats')
check('no token: 401 with WWW-Authenticate: Bearer', r.status == 401 and r.getheader('WWW-Authenticate') == 'Bearer', r.status)
r, b = req('/api/v1/admin/reopen', method='POST')
check('no token on the admin route: 401', r.status == 401 and r.getheader('WWW-Authenticate') == 'Bearer', r.status)
for wrong in ['wrong', read_tok + 'x', read_tok[:-1], admin_tok.upper(), view_tok + ' x']:
    r, b = req('/api/v1/stats', wrong)
    check('wrong token %r: 403' % wrong, r.status == 403, r.status)
    r, b = req('/api/v1/admin/reopen', wrong, method='POST')
    check('wrong token %r on the admin route: 403' % wrong, r.status == 403, r.status)
r, b = req('/healthz')
check('healthz needs no token', r.status == 200, r.status)

# server.limits.max_rows caps limit
r, b = req('/api/v1/search?type=Service&limit=50', read_tok)
check('limit = max_rows (50) is allowed', r.status == 200, (r.status, b))
r, b = req('/api/v1/search?type=Service&limit=51', read_tok)
check('limit over max_rows: 400 naming the range', r.status == 400 and b'1 to 50' in b, (r.status, b))

# server.limits.max_header_bytes: 2048 — the core answers 431 itself
raw = socket.create_connection(('127.0.0.1', port), timeout=10)
raw.sendall(b'GET /api/v1/stats HTTP/1.1\r\nX-Big: ' + b'a' * 3000 + b'\r\n\r\n')
got = raw.recv(4096)
raw.close()
check('a 3000-byte header is over max_header_bytes: 431', got.startswith(b'HTTP/1.1 431 '), got[:80])
r, b = req('/metrics', read_tok)
check('/metrics counts the 431 under route="protocol"',
      'stacktwin_http_requests_total{route="protocol",code="431"} 1\n' in b.decode(), b[:300])
check('/metrics counts the 403 of the admin route',
      'stacktwin_http_requests_total{route="admin-reopen",code="403"} 7\n' in b.decode(), b.decode()[:2000])
sys.exit(1 if failed else 0)
PY
stop_and_collect roles "$pid" "$fd"
for t in "$read_tok" "$admin_tok" "$view_tok"; do
	if grep -qF "$t" "$work/roles.err" "$work/roles.out"; then
		fail "a token value appears in the server's output"
	fi
done
grep -q "3 bearer token(s): ci (read), ops (admin), viewer (read)" "$work/roles.err" ||
	fail "the start line does not list the token names and roles: $(cat "$work/roles.err")"
echo "ok: no token value in the server's output; names and roles are logged"

# ---- the command line over the config ---------------------------------------
# The config's store does not exist; --db, --listen and --token-file win.
sed -e 's|^store: db$|store: no-such-store|' -e 's|listen: 127.0.0.1:0|listen: 127.0.0.1:1|' \
	"$work/serve.yaml" >"$work/override.yaml"
printf 'flag-token-9d2\n' >"$work/flag.token"
start_server override --config "$work/override.yaml" --db "$db" --listen 127.0.0.1:0 --token-file "$work/flag.token"
pid=$SERVER_PID
python3 - "$SERVER_PORT" "$read_tok" <<'PY'
import http.client, json, sys
port, read_tok = int(sys.argv[1]), sys.argv[2]
failed = False
def req(path, token, method='GET'):
    conn = http.client.HTTPConnection('127.0.0.1', port, timeout=10)
    conn.request(method, path, headers={'Authorization': 'Bearer ' + token})
    r = conn.getresponse()
    return r, r.read()
def check(name, cond, extra=''):
    global failed
    print(('ok: ' if cond else 'FAIL: ') + name + ('' if cond or not extra else ': ' + str(extra)[:400]))
    failed |= not cond
r, b = req('/api/v1/whoami', 'flag-token-9d2')
check('--token-file with --config: an admin token named token-file', r.status == 200
      and json.loads(b) == {'token': 'token-file', 'role': 'admin'}, (r.status, b))
r, b = req('/api/v1/admin/reopen', 'flag-token-9d2', 'POST')
check('the --token-file token may use the admin route', r.status == 200, (r.status, b))
r, b = req('/api/v1/stats', read_tok)
check('--db overrides store: (the config\'s store does not exist)', r.status == 200 and json.loads(b)['nodes'] == 113, (r.status, b))
sys.exit(1 if failed else 0)
PY
stop_server "$pid" "$work/override.err"
echo "ok: --db, --listen and --token-file override the config"

# ---- startup errors: exit 2, a message that names the problem, no token ----
expect_exit2() { # NAME PATTERN ARGS…: serve must exit 2 with PATTERN (ERE) on stderr
	local name=$1 pat=$2 rc
	shift 2
	set +e
	timeout 10 "$st" serve "$@" >"$work/$name.out" 2>"$work/$name.err"
	rc=$?
	set -e
	[ "$rc" = 2 ] || fail "$name: exit $rc, want 2; stderr: $(cat "$work/$name.err")"
	grep -Eq "$pat" "$work/$name.err" || fail "$name: stderr does not match '$pat': $(cat "$work/$name.err")"
	for t in "$read_tok" "$admin_tok" "$view_tok"; do
		if grep -qF "$t" "$work/$name.err" "$work/$name.out"; then
			fail "$name: a token value appears in the output"
		fi
	done
	echo "ok: $name: exit 2, $(head -1 "$work/$name.err")"
}
cp "$work/serve.yaml" "$work/unknown.yaml"
printf '  colour: blue\n' >>"$work/unknown.yaml"
expect_exit2 unknown-key "unknown\.yaml:11:3:.*colour" --config "$work/unknown.yaml"
(
	unset ST_TEST_READ_TOKEN
	expect_exit2 missing-env "ST_TEST_READ_TOKEN.*(not set)" --config "$work/serve.yaml"
)
ST_TEST_READ_TOKEN= expect_exit2 empty-env "ST_TEST_READ_TOKEN.*empty" --config "$work/serve.yaml"
: >"$work/admin.token"
expect_exit2 empty-file "admin\.token.*empty" --config "$work/serve.yaml"
rm "$work/admin.token"
expect_exit2 missing-file "token 'ops'.*admin\.token" --config "$work/serve.yaml"
printf '%s\n' "$admin_tok" >"$work/admin.token"
expect_exit2 missing-token-file "no-such\.token" --config "$work/serve.yaml" --token-file "$work/no-such.token"
printf '%s\n' "$read_tok" >"$work/dup.token"
expect_exit2 duplicate-token "tokens 'ci' and 'token-file' are the same token" --config "$work/serve.yaml" --token-file "$work/dup.token"
printf 'store: db\nserver:\n  listen: 127.0.0.1:0\n' >"$work/notoken.yaml"
expect_exit2 no-auth "allow-anonymous-read" --config "$work/notoken.yaml"

# ---- anonymous read: every GET route, never the admin route -----------------
printf 'store: db\nserver:\n  listen: 127.0.0.1:0\n  allow_anonymous_read: true\n  tokens:\n    - {name: ops, role: admin, file: admin.token}\n' >"$work/anon.yaml"
start_server anon --config "$work/anon.yaml"
pid=$SERVER_PID
python3 - "$SERVER_PORT" "$admin_tok" <<'PY'
import http.client, json, sys
port, admin_tok = int(sys.argv[1]), sys.argv[2]
failed = False
def req(path, token=None, method='GET'):
    conn = http.client.HTTPConnection('127.0.0.1', port, timeout=10)
    conn.request(method, path, headers={'Authorization': 'Bearer ' + token} if token else {})
    r = conn.getresponse()
    return r, r.read()
def check(name, cond, extra=''):
    global failed
    print(('ok: ' if cond else 'FAIL: ') + name + ('' if cond or not extra else ': ' + str(extra)[:400]))
    failed |= not cond
r, b = req('/api/v1/whoami')
check('anonymous whoami', r.status == 200 and json.loads(b) == {'token': None, 'role': 'anonymous'}, (r.status, b))
r, b = req('/api/v1/stats')
check('anonymous read of stats', r.status == 200, r.status)
r, b = req('/metrics')
check('anonymous read of /metrics', r.status == 200, r.status)
r, b = req('/api/v1/admin/reopen', method='POST')
check('anonymous read never reaches the admin route: 401', r.status == 401 and r.getheader('WWW-Authenticate') == 'Bearer'
      and 'admin role' in json.loads(b)['detail'], (r.status, b))
r, b = req('/api/v1/stats', 'not-a-token')
check('a wrong token is still 403 when anonymous read is allowed', r.status == 403, r.status)
r, b = req('/api/v1/admin/reopen', admin_tok, 'POST')
check('the admin token still reaches the admin route', r.status == 200, (r.status, b))
sys.exit(1 if failed else 0)
PY
stop_server "$pid" "$work/anon.err"

# ---- a store that does not exist yet ----------------------------------------
later=$work/later.db
start_server nostore --db "$later" --allow-anonymous-read --listen 127.0.0.1:0
pid=$SERVER_PID
grep -q "cannot be opened" "$work/nostore.err" || fail "the missing store is not logged: $(cat "$work/nostore.err")"
python3 - "$SERVER_PORT" "$later" "$st" "${estate[@]}" <<'PY'
import http.client, json, subprocess, sys, time
port, later, st, files = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4:]
failed = False
def req(path, method='GET'):
    conn = http.client.HTTPConnection('127.0.0.1', port, timeout=10)
    conn.request(method, path)
    r = conn.getresponse()
    return r, r.read()
def check(name, cond, extra=''):
    global failed
    print(('ok: ' if cond else 'FAIL: ') + name + ('' if cond or not extra else ': ' + str(extra)[:400]))
    failed |= not cond
r, b = req('/healthz')
j = json.loads(b)
check('no store: healthz 503 {"status":"unavailable","detail":…} naming the store', r.status == 503
      and r.getheader('Content-Type') == 'application/json' and j['status'] == 'unavailable'
      and later in j['detail'] and set(j) == {'status', 'detail'}, (r.status, b))
for path in ['/api/v1/stats', '/api/v1/blast-radius?id=service:payments', '/api/v1/nodes/service:payments']:
    r, b = req(path)
    j = json.loads(b)
    check('no store: %s is 503 problem+json with Retry-After: 5 naming the store' % path, r.status == 503
          and r.getheader('Content-Type') == 'application/problem+json' and r.getheader('Retry-After') == '5'
          and later in j['detail'], (r.status, r.getheader('Retry-After'), b))
r, b = req('/metrics')
check('no store: /metrics still answers, without the store gauges', r.status == 200
      and b'stacktwin_http_requests_total{route="stats",code="503"} 1' in b and b'stacktwin_graph_nodes' not in b, b[:300])
r, b = req('/api/v1/whoami')
check('no store: whoami still answers', r.status == 200, r.status)
imp = subprocess.run([st, 'import', '--no-sync', '--db', later] + files, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
check('stacktwin import creates the store', imp.returncode == 0, imp.stderr)
time.sleep(1.2)  # the server retries at most once a second
r, b = req('/api/v1/stats')
check('the next request after >= 1 s opens the store: stats 200', r.status == 200 and json.loads(b)['nodes'] == 113, (r.status, b))
r, b = req('/healthz')
check('healthz 200 {"status":"ok","revision":1}', r.status == 200 and json.loads(b) == {'status': 'ok', 'revision': 1}, (r.status, b))
sys.exit(1 if failed else 0)
PY
grep -q "store $later is open" "$work/nostore.err" || fail "the store opening is not logged: $(cat "$work/nostore.err")"
stop_server "$pid" "$work/nostore.err"
echo "ok: a store created after the start is served"
