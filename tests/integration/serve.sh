#!/usr/bin/env bash
# serve.sh STACKTWIN SOURCE_ROOT — `stacktwin serve` on the bundled example
# estate: authentication, the JSON of the API against `stacktwin query
# --json`, problem+json errors, keep-alive, /metrics, static files under
# --web (second instance) and graceful shutdown on SIGTERM.
# Uses python3's http.client only (no curl).
set -euo pipefail
st=$1 root=$2
source "$(dirname "$0")/serve_lib.sh"
work=$(mktemp -d)
pid= pid2=
cleanup() {
	for p in $pid $pid2; do
		if kill -0 "$p" 2>/dev/null; then
			kill -KILL "$p" 2>/dev/null || true
		fi
	done
	rm -rf "$work"
}
trap cleanup EXIT
db=$work/db
"$st" import --no-sync --db "$db" "$root"/examples/estate/{nodes,edges,costs}.jsonl >/dev/null

# Without a token file and without --allow-anonymous-read: refuse, exit 2.
set +e
"$st" serve --db "$db" --listen 127.0.0.1:0 >/dev/null 2>"$work/refuse.err"
rc=$?
set -e
[ "$rc" = 2 ] || { echo "FAIL: serve without auth exit $rc, want 2"; exit 1; }
grep -q "allow-anonymous-read" "$work/refuse.err" || { echo "FAIL: no hint: $(cat "$work/refuse.err")"; exit 1; }
echo "ok: refuses to start without --token-file or --allow-anonymous-read"

printf 'test-token-123\n' >"$work/token"
"$st" query --db "$db" --json blast-radius tf:prod/aws_db_instance.payments >"$work/br_cli.json"

mkfifo "$work/out"
"$st" serve --db "$db" --listen 127.0.0.1:0 --token-file "$work/token" >"$work/out" 2>"$work/serve.err" &
pid=$!
exec 3<"$work/out"
server_port 3 "$work/serve.err"
port=$SERVER_PORT

python3 - "$port" "$work/br_cli.json" <<'PY'
import http.client, json, sys

port, br_cli = int(sys.argv[1]), sys.argv[2]
TOKEN = {'Authorization': 'Bearer test-token-123'}
conn = http.client.HTTPConnection('127.0.0.1', port, timeout=10)
failed = False

def req(path, headers=None, method='GET'):
    conn.request(method, path, headers=headers or {})
    r = conn.getresponse()
    body = r.read()
    return r, body

def check(name, cond, extra=''):
    global failed
    if cond:
        print('ok: ' + name)
    else:
        print('FAIL: ' + name + (': ' + extra if extra else ''))
        failed = True

r, b = req('/healthz')
check('healthz without a token', r.status == 200 and json.loads(b) == {'status': 'ok', 'revision': 1}, b)
check('healthz is application/json', r.getheader('Content-Type') == 'application/json')

r, b = req('/api/v1/stats')
check('no token: 401 with WWW-Authenticate: Bearer', r.status == 401 and r.getheader('WWW-Authenticate') == 'Bearer'
      and r.getheader('Content-Type') == 'application/problem+json', (r.status, b))
r, b = req('/api/v1/stats', {'Authorization': 'Bearer wrong'})
check('wrong token: 403', r.status == 403 and json.loads(b)['status'] == 403, (r.status, b))
r, b = req('/api/v1/stats', TOKEN)
check('stats with the token', r.status == 200 and json.loads(b)['nodes'] == 113, (r.status, b))

# these all run on the same connection: keep-alive
sock0 = conn.sock
r, b = req('/api/v1/blast-radius?id=tf%3Aprod%2Faws_db_instance.payments', TOKEN)
with open(br_cli) as f:
    cli = json.load(f)
check('blast radius equals `stacktwin query --json blast-radius`', r.status == 200 and json.loads(b) == cli, b[:200])
r, b = req('/api/v1/blast-radius?id=tf:prod/aws_db_instance.payments&from=2026-10-01&to=2026-10-31&limit=2&offset=2', TOKEN)
j = json.loads(b)
check('blast radius: window and pagination', r.status == 200 and j['cost_at_risk'] == [{'currency': 'USD', 'amount': 226.911318}]
      and len(j['nodes']) == 2 and j['next_offset'] == 4, b[:200])

r, b = req('/api/v1/owners?id=service:frontend', TOKEN)
j = json.loads(b)
check('owners of frontend: conflict', r.status == 200 and j['owners'] == ['team:catalog', 'team:checkout'] and j['conflict'], b)

r, b = req('/api/v1/cost?by=team&from=2026-10-01&to=2026-10-31', TOKEN)
j = json.loads(b)
check('cost by team totals', r.status == 200 and {t['currency']: t['amount'] for t in j['totals']} == {'USD': 1391.315823, 'EUR': 15.9}, b[:200])

r, b = req('/api/v1/path?from=service:frontend&to=tf:prod/aws_db_instance.payments&edges=CALLS,DEPENDS_ON', TOKEN)
check('path', r.status == 200 and json.loads(b)['paths'][0]['nodes'][1] == 'service:checkout', b[:200])
r, b = req('/api/v1/neighbours?id=service:payments&hops=1', TOKEN)
check('neighbours', r.status == 200 and json.loads(b)['nodes'][0] == {'id': 'service:payments', 'type': 'Service', 'hop': 0}, b[:200])
r, b = req('/api/v1/search?prefix=service%3Apay', TOKEN)
check('search, percent-decoded', r.status == 200 and [n['id'] for n in json.loads(b)['nodes']] == ['service:payments'], b[:200])
r, b = req('/api/v1/search?type=Service&limit=100', TOKEN)
check('search by type', r.status == 200 and len(json.loads(b)['nodes']) == 10, b[:200])
r, b = req('/api/v1/owned-by?id=team:payments', TOKEN)
check('owned-by', r.status == 200 and 'service:payments' in json.loads(b)['direct'], b[:200])
r, b = req('/api/v1/node?id=service:payments', TOKEN)
j = json.loads(b)
check('node', r.status == 200 and j['type'] == 'Service' and j['props']['name'] == 'payments'
      and j['prop_types']['tier'] == 'int' and len(j['provenance']) >= 1, b[:200])

r, b = req('/api/v1/owners?id=service:payment', TOKEN)
j = json.loads(b)
check('unknown id: 404 problem+json with a suggestion', r.status == 404 and r.getheader('Content-Type') == 'application/problem+json'
      and "did you mean 'service:payments'" in j['detail'], b)
r, b = req('/api/v1/blast-radius?id=service:payments&depth=deep', TOKEN)
check('bad parameter: 400', r.status == 400 and r.getheader('Content-Type') == 'application/problem+json', b)
r, b = req('/api/v1/cost?by=planet&from=2026-10-01&to=2026-10-31', TOKEN)
check('bad enum: 400', r.status == 400, b)
r, b = req('/api/v1/owners', TOKEN)
check('missing parameter: 400', r.status == 400, b)
r, b = req('/api/v1/owners?id=service:payments&bogus=1', TOKEN)
check('unknown parameter: 400', r.status == 400, b)
r, b = req('/api/v1/owners?id=%zz', TOKEN)
check('bad percent-encoding: 400', r.status == 400, b)
r, b = req('/api/v1/owners?id=service:payments', TOKEN, method='POST')
check('POST: 405 with Allow', r.status == 405 and 'GET' in (r.getheader('Allow') or ''), b)
r, b = req('/api/v1/nothing', TOKEN)
check('unknown route: 404', r.status == 404, b)
r, b = req('/')
check('/ without --web: a JSON index', r.status == 200 and json.loads(b)['metrics'] == '/metrics', b)

r, b = req('/metrics')
check('/metrics without a token: 401', r.status == 401, (r.status, b))
r, b = req('/metrics', TOKEN)
text = b.decode()
check('/metrics: 200 text/plain version 0.0.4', r.status == 200
      and r.getheader('Content-Type') == 'text/plain; version=0.0.4; charset=utf-8', (r.status, r.getheader('Content-Type')))
def sample(name):
    for line in text.splitlines():
        if line.startswith(name + ' '):
            return float(line.split()[-1])
    return None
owners = sample('stacktwin_http_requests_total{route="owners",code="200"}')
check('/metrics: requests_total counts owners 200', owners is not None and owners >= 1, text[:400])
check('/metrics: 404 of owners counted', (sample('stacktwin_http_requests_total{route="owners",code="404"}') or 0) >= 1)
check('/metrics: 401 of /metrics counted', (sample('stacktwin_http_requests_total{route="metrics",code="401"}') or 0) >= 1)
check('/metrics: unknown routes use one label', (sample('stacktwin_http_requests_total{route="unknown",code="404"}') or 0) >= 1
      and '/api/v1/nothing' not in text)
inf = sample('stacktwin_http_request_duration_seconds_bucket{route="owners",le="+Inf"}')
cnt = sample('stacktwin_http_request_duration_seconds_count{route="owners"}')
check('/metrics: histogram +Inf bucket equals _count', inf is not None and inf == cnt and inf >= 1, (inf, cnt))
check('/metrics: HELP and TYPE lines', '# TYPE stacktwin_http_requests_total counter' in text
      and '# TYPE stacktwin_http_request_duration_seconds histogram' in text
      and '# HELP stacktwin_http_requests_in_flight' in text)
check('/metrics: store gauges', sample('stacktwin_graph_nodes') == 113 and sample('stacktwin_store_revision') == 1
      and sample('stacktwin_http_connections') >= 1 and sample('stacktwin_http_requests_in_flight') >= 1
      and sample('stacktwin_cost_facts') is not None and sample('stacktwin_graph_edges') is not None, text[-600:])

r, b = req('/healthz')
check('keep-alive: every request above used one connection', r.status == 200 and sock0 is not None and conn.sock is sock0)
conn.close()
sys.exit(1 if failed else 0)
PY

# A second instance with --web: static files need no token and never leave
# the web root.
web=$work/web
mkdir -p "$web/sub"
printf '<!doctype html><title>t</title>index-page\n' >"$web/index.html"
printf 'body { color: red }\n' >"$web/a.css"
printf 'sub-index\n' >"$web/sub/index.html"
printf 'secret\n' >"$web/.hidden"
ln -s /etc/passwd "$web/link-to-passwd"
ln -s a.css "$web/link-inside.css"
mkfifo "$work/out2"
"$st" serve --db "$db" --listen 127.0.0.1:0 --token-file "$work/token" --web "$web" >"$work/out2" 2>"$work/serve2.err" &
pid2=$!
exec 4<"$work/out2"
server_port 4 "$work/serve2.err"
port2=$SERVER_PORT
set +e
python3 - "$port2" <<'PY'
import http.client, sys

port = int(sys.argv[1])
failed = False

def req(path, method='GET', headers=None):
    conn = http.client.HTTPConnection('127.0.0.1', port, timeout=10)
    conn.request(method, path, headers=headers or {})
    r = conn.getresponse()
    body = r.read()
    conn.close()
    return r, body

def check(name, cond, extra=''):
    global failed
    if cond:
        print('ok: ' + name)
    else:
        print('FAIL: ' + name + (': ' + repr(extra) if extra else ''))
        failed = True

r, b = req('/')
check('web: / serves index.html as text/html without a token', r.status == 200
      and (r.getheader('Content-Type') or '').startswith('text/html') and b'index-page' in b, (r.status, b[:100]))
r, b = req('/index.html')
check('web: /index.html', r.status == 200 and b'index-page' in b)
r, b = req('/a.css')
check('web: /a.css is text/css', r.status == 200 and (r.getheader('Content-Type') or '').startswith('text/css')
      and b == b'body { color: red }\n', (r.status, r.getheader('Content-Type')))
r, b = req('/sub/')
check('web: /sub/ serves sub/index.html', r.status == 200 and b == b'sub-index\n', (r.status, b))
r, b = req('/link-inside.css')
check('web: a symlink inside the root is served', r.status == 200 and b == b'body { color: red }\n', r.status)
for path in ['/../etc/passwd', '/%2e%2e/etc/passwd', '/%2E%2E%2Fetc%2Fpasswd', '/sub/../../etc/passwd',
             '/link-to-passwd', '//etc/passwd', '/.hidden', '/sub']:
    r, b = req(path)
    check('web: %s rejected' % path, r.status in (403, 404) and b'root:' not in b and b'secret' not in b, (r.status, b[:100]))
r, b = req('/missing.html')
check('web: missing file 404 problem+json', r.status == 404 and r.getheader('Content-Type') == 'application/problem+json', r.status)
r, b = req('/a.css', method='HEAD')
check('web: HEAD has headers and no body', r.status == 200 and b == b'' and r.getheader('Content-Length') == '20', (r.status, b))
r, b = req('/a.css', method='POST')
check('web: POST 405', r.status == 405, r.status)
r, b = req('/api/v1/stats')
check('web: the API still needs the token', r.status == 401, r.status)
r, b = req('/api/v1/nope', headers={'Authorization': 'Bearer test-token-123'})
check('web: unknown /api/ route is 404, not a file', r.status == 404, r.status)
r, b = req('/metrics', headers={'Authorization': 'Bearer test-token-123'})
check('web: static requests counted under one label', b'stacktwin_http_requests_total{route="static",code="200"}' in b
      and b'etc/passwd' not in b, b[:300])
sys.exit(1 if failed else 0)
PY
web_rc=$?
set -e
[ "$web_rc" = 0 ] || exit 1
stop_server "$pid2" "$work/serve2.err"
pid2=
echo "ok: the --web instance stops with exit 0"

stop_server "$pid" "$work/serve.err"
pid=
echo "ok: SIGTERM stops the server with exit 0"
if grep -q "test-token-123" "$work/serve.err"; then
	echo "FAIL: the token appears in the log"
	exit 1
fi
echo "ok: the token is not logged"
