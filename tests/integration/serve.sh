#!/usr/bin/env bash
# serve.sh STACKTWIN SOURCE_ROOT — `stacktwin serve` on the bundled example
# estate: authentication, the JSON of the API against `stacktwin query
# --json`, cursor paging (every page walked, changed parameters, a stale
# cursor after an import), /api/v1/nodes/{id}, whoami and the admin route
# of the --token-file token, problem+json errors, keep-alive, /metrics (with
# the core's own 431 under route="protocol"), static files under --web
# (second instance) and graceful shutdown on SIGTERM.  Config files, roles
# and a missing store: serve_auth.sh.
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

python3 - "$port" "$work/br_cli.json" "$st" "$db" "$root" <<'PY'
import http.client, json, socket, subprocess, sys, urllib.parse

port, br_cli, st, db, root = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4], sys.argv[5]
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
        print('FAIL: ' + name + (': ' + str(extra)[:600] if extra else ''))
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
api = json.loads(b) if r.status == 200 else {}
# The same document but for the paging keys: the CLI pages by offset, the API by cursor.
check('blast radius equals `stacktwin query --json blast-radius` (paging keys aside)',
      r.status == 200 and {k: v for k, v in api.items() if k != 'next_cursor'} ==
      {k: v for k, v in cli.items() if k not in ('offset', 'next_offset')}
      and api['next_cursor'] is None and 'offset' not in api and cli['next_offset'] is None, b[:200])
r, b = req('/api/v1/blast-radius?id=tf:prod/aws_db_instance.payments&from=2026-10-01&to=2026-10-31&limit=2', TOKEN)
j = json.loads(b)
r2, b2 = req('/api/v1/blast-radius?id=tf:prod/aws_db_instance.payments&from=2026-10-01&to=2026-10-31&limit=2&cursor='
             + (j.get('next_cursor') or ''), TOKEN)
j2 = json.loads(b2)
check('blast radius: window and a second page by cursor', r.status == 200 and r2.status == 200
      and j2['cost_at_risk'] == [{'currency': 'USD', 'amount': 226.911318}]
      and len(j2['nodes']) == 2 and j2['nodes'][0]['id'] == cli['nodes'][2]['id'] and isinstance(j2['next_cursor'], str)
      and j2['total'] == 6, (b[:200], b2[:200]))
r, b = req('/api/v1/blast-radius?id=tf:prod/aws_db_instance.payments&offset=2', TOKEN)
check('offset is no longer an API parameter: 400', r.status == 400 and b'offset' in b, b)

def walk(base, key, limit):
    """Follow next_cursor from the first page; (rows, pages) or (None, error)."""
    rows, pages, cur = [], 0, None
    while pages < 200:
        r, b = req(base + '&limit=%d' % limit + ('&cursor=' + cur if cur else ''), TOKEN)
        if r.status != 200:
            return None, (r.status, b)
        j = json.loads(b)
        pages += 1
        rows += j['direct'] + j['inherited'] if key == 'owned' else j[key]
        cur = j['next_cursor']
        if cur is None:
            return rows, pages
    return None, 'no last page'

def unpaged(base, key):
    r, b = req(base + '&limit=10000', TOKEN)
    j = json.loads(b)
    check('%s: unpaged answer has no next_cursor' % base, r.status == 200 and j['next_cursor'] is None, b[:200])
    return j['direct'] + j['inherited'] if key == 'owned' else j[key]

for base, key, limit, pages in [
        ('/api/v1/blast-radius?id=tf:prod/aws_db_instance.payments', 'nodes', 2, 3),
        ('/api/v1/blast-radius?id=tf:prod/aws_db_instance.payments&depth=1', 'nodes', 1, None),
        ('/api/v1/search?type=Service', 'nodes', 3, 4),
        ('/api/v1/search?prefix=k8s:', 'nodes', 7, None),
        ('/api/v1/cost?by=resource&from=2026-10-01&to=2026-10-31', 'rows', 2, None),
        ('/api/v1/owned-by?id=team:payments', 'owned', 1, None)]:
    whole = unpaged(base, key)
    rows, n = walk(base, key, limit)
    check('cursor walk of %s (limit %d): the pages add up to the unpaged answer' % (base, limit),
          rows is not None and rows == whole and len(whole) > limit
          and len(set(json.dumps(x, sort_keys=True) for x in rows)) == len(rows)
          and (pages is None or n == pages), (n, rows, whole))

base = '/api/v1/blast-radius?id=tf:prod/aws_db_instance.payments'
r, b = req(base + '&limit=2', TOKEN)
cur = json.loads(b)['next_cursor']
r, b = req(base + '&limit=4&cursor=' + cur, TOKEN)
check('cursor: a different limit is allowed', r.status == 200 and len(json.loads(b)['nodes']) == 4, b[:200])
for other in [base + '&depth=1', '/api/v1/blast-radius?id=service:payments',
              base + '&edges=DEPENDS_ON', '/api/v1/search?type=Service']:
    r, b = req(other + '&limit=2&cursor=' + cur, TOKEN)
    check('cursor with other parameters (%s): 400' % other, r.status == 400
          and 'cursor belongs to another query' in json.loads(b)['detail'], (r.status, b))
for bad in ['abc', cur[:-1], cur + 'A', cur[:-1] + ('B' if cur[-1] != 'B' else 'C'), 'A' * 34, '%2F' * 10]:
    r, b = req(base + '&limit=2&cursor=' + bad, TOKEN)
    check('malformed cursor %r: 400' % bad, r.status == 400 and 'cursor' in json.loads(b)['detail'], (r.status, b))

# /api/v1/nodes/{id}: the rest of the path, raw or percent-encoded, is the id
nid = 'k8s:prod/Node/ip-10-0-1-23.eu-west-1.compute.internal'
r, b = req('/api/v1/node?id=' + urllib.parse.quote(nid, safe=''), TOKEN)
want = json.loads(b)
for form in [nid, urllib.parse.quote(nid, safe=':'), urllib.parse.quote(nid, safe='')]:
    r, b = req('/api/v1/nodes/' + form, TOKEN)
    check('/api/v1/nodes/%s equals /api/v1/node?id=' % form, r.status == 200 and json.loads(b) == want
          and want['id'] == nid, (r.status, b[:200]))
r, b = req('/api/v1/nodes/service:payment', TOKEN)
check('/api/v1/nodes/{unknown}: 404 with suggestions', r.status == 404 and 'did you mean' in json.loads(b)['detail'], b)
r, b = req('/api/v1/nodes/', TOKEN)
check('/api/v1/nodes/ without an id: 400', r.status == 400, (r.status, b))
r, b = req('/api/v1/nodes/service:payments?id=service:payments', TOKEN)
check('/api/v1/nodes/{id} takes no query parameters: 400', r.status == 400, (r.status, b))
r, b = req('/api/v1/nodes/service%00x', TOKEN)
check('/api/v1/nodes/ with an encoded NUL: 400', r.status == 400, (r.status, b))
r, b = req('/api/v1/nodes/service:payments')
check('/api/v1/nodes/{id} needs the token', r.status == 401, r.status)

# --token-file is an admin token named "token-file"
r, b = req('/api/v1/whoami', TOKEN)
check('whoami: the --token-file token is admin', r.status == 200 and json.loads(b) == {'token': 'token-file', 'role': 'admin'}, b)
r, b = req('/api/v1/whoami')
check('whoami without a token: 401', r.status == 401, r.status)
r, b = req('/api/v1/admin/reopen', TOKEN, method='POST')
check('POST /api/v1/admin/reopen with the admin token', r.status == 200 and json.loads(b) == {'revision': 1}, (r.status, b))
conn.request('POST', '/api/v1/admin/reopen', body=iter([b'ignored ', b'body']),
             headers=dict(TOKEN, **{'Transfer-Encoding': 'chunked'}), encode_chunked=True)
r = conn.getresponse()
b = r.read()
check('POST /api/v1/admin/reopen with a chunked body (ignored)', r.status == 200 and json.loads(b) == {'revision': 1}, (r.status, b))
r, b = req('/api/v1/admin/reopen', TOKEN)
check('GET /api/v1/admin/reopen: 405 with Allow: POST', r.status == 405 and r.getheader('Allow') == 'POST', (r.status, b))
r, b = req('/api/v1/admin/reopen', method='POST')
check('POST /api/v1/admin/reopen without a token: 401', r.status == 401 and r.getheader('WWW-Authenticate') == 'Bearer', r.status)
r, b = req('/api/v1/stats', TOKEN, method='POST')
check('POST on a GET route: 405 with Allow: GET, HEAD', r.status == 405 and r.getheader('Allow') == 'GET, HEAD', r.status)

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

# a request whose headers are over the core's 8 KiB limit: the core answers 431 itself
raw = socket.create_connection(('127.0.0.1', port), timeout=10)
raw.sendall(b'GET /api/v1/stats HTTP/1.1\r\nX-Big: ' + b'a' * 9000 + b'\r\n\r\n')
got = b''
while True:
    chunk = raw.recv(4096)
    if not chunk:
        break
    got += chunk
raw.close()
check('oversized headers: the core answers 431', got.startswith(b'HTTP/1.1 431 '), got[:100])

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
check('/metrics: the core\'s 431 counted under route="protocol"',
      sample('stacktwin_http_requests_total{route="protocol",code="431"}') == 1, text[:1500])
check('/metrics: protocol errors have no duration histogram',
      'stacktwin_http_request_duration_seconds_count{route="protocol"}' not in text
      and sample('stacktwin_http_request_duration_seconds_count{route="whoami"}') is not None)
check('/metrics: /api/v1/nodes/{id} counted as route="node"',
      (sample('stacktwin_http_requests_total{route="node",code="200"}') or 0) >= 4
      and 'k8s:prod' not in text)
check('/metrics: the admin route has its own label',
      sample('stacktwin_http_requests_total{route="admin-reopen",code="200"}') == 2
      and sample('stacktwin_http_requests_total{route="admin-reopen",code="405"}') == 1)
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

# A stale cursor: an import into the same store makes revision 2.
r, b = req(base + '&limit=2', TOKEN)
cur = json.loads(b)['next_cursor']
imp = subprocess.run([st, 'import', '--no-sync', '--db', db] +
                     ['%s/examples/estate/%s.jsonl' % (root, f) for f in ('nodes', 'edges', 'costs')],
                     stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
check('import into the served store', imp.returncode == 0, imp.stderr)
r, b = req(base + '&limit=2&cursor=' + cur, TOKEN)
d = json.loads(b).get('detail', '')
check('a cursor of an older revision: 410 Gone', r.status == 410 and r.getheader('Content-Type') == 'application/problem+json'
      and 'revision 1, now 2' in d and 'without cursor' in d, (r.status, b))
r, b = req(base + '&limit=2', TOKEN)
check('without the cursor the new revision answers', r.status == 200 and json.loads(b)['revision'] == 2, b[:100])
r, b = req('/healthz')
check('healthz shows the new revision', r.status == 200 and json.loads(b) == {'status': 'ok', 'revision': 2}, b)
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
