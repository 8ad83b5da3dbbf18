#!/usr/bin/env bash
# serve_sync.sh STACKTWIN SOURCE_ROOT — syncs inside `stacktwin serve --config`:
# a Git source on a 1 s schedule and a Terraform source on demand; the first
# scheduled sync creates the store (503 before it); GET /api/v1/sources;
# POST /api/v1/sources/{name}/sync with the read token (403), the admin token
# (202, or 200 with ?wait=true and the result), an unknown source (404) and
# GET (405); a changed state retired while queries go on; per-source metrics;
# a graceful stop while a sync was just asked for.  Real git repository, real
# state file, python3's standard library for HTTP.
set -euo pipefail
st=$1 root=$2
source "$(dirname "$0")/serve_lib.sh"
work=$(mktemp -d)
pid=
cleanup() {
	[ -n "$pid" ] && kill -KILL "$pid" 2>/dev/null || true
	rm -rf "$work"
}
trap cleanup EXIT
export GIT_CONFIG_GLOBAL=/dev/null GIT_CONFIG_NOSYSTEM=1

# a repository with one service, its team and a Deployment that runs it
repo=$work/payments
mkdir -p "$repo/deploy"
cat >"$repo/catalog-info.yaml" <<'EOF'
apiVersion: backstage.io/v1alpha1
kind: Group
metadata: {name: payments}
spec: {type: team, children: []}
---
apiVersion: backstage.io/v1alpha1
kind: Component
metadata: {name: payments}
spec: {type: service, lifecycle: production, owner: group:payments}
EOF
cat >"$repo/deploy/d.yaml" <<'EOF'
apiVersion: apps/v1
kind: Deployment
metadata: {name: payments, namespace: shop, labels: {app.kubernetes.io/name: payments}}
spec: {template: {metadata: {labels: {app.kubernetes.io/name: payments}}}}
EOF
git -C "$repo" init -q -b main
git -C "$repo" add -A
git -C "$repo" -c user.name=t -c user.email=t@example.com commit -qm init

write_state() { # SERIAL RESOURCE...
	local serial=$1 first=1
	shift
	{
		printf '{"version":4,"terraform_version":"1.6.0","serial":%s,"lineage":"l","outputs":{},"resources":[' "$serial"
		for r in "$@"; do
			[ $first = 1 ] || printf ','
			first=0
			printf '{"mode":"managed","type":"aws_db_instance","name":"%s","provider":"provider[\\"registry.terraform.io/hashicorp/aws\\"]","instances":[{"schema_version":0,"attributes":{"id":"%s","tags":{"service":"payments"}}}]}' "$r" "$r"
		done
		printf ']}\n'
	} >"$work/prod.tfstate"
}
write_state 1 main replica

admin_tok=admin-token-5a5a5a
read_tok=read-token-6b6b6b
printf '%s\n' "$admin_tok" >"$work/admin.token"
printf '%s\n' "$read_tok" >"$work/read.token"
cat >"$work/st.yaml" <<EOF
store: db
server:
  listen: 127.0.0.1:0
  tokens:
    - {name: ops, role: admin, file: admin.token}
    - {name: ci, role: read, file: read.token}
sources:
  - {name: payments, kind: git, location: payments, schedule: 1s, options: {cluster: prod}}
  - {name: prod, kind: terraform, location: prod.tfstate, options: {workspace: prod}}
EOF

mkfifo "$work/out.fifo"
"$st" serve --config "$work/st.yaml" >"$work/out.fifo" 2>"$work/err" &
pid=$!
exec 3<"$work/out.fifo"
server_port 3 "$work/err"

python3 - "$SERVER_PORT" "$admin_tok" "$read_tok" "$work" <<'PY'
import http.client, json, sys, time

port, admin, read, work = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4]
failed = False

def req(path, token=None, method='GET'):
    conn = http.client.HTTPConnection('127.0.0.1', port, timeout=30)
    conn.request(method, path, headers={'Authorization': 'Bearer ' + token} if token else {})
    r = conn.getresponse()
    body = r.read()
    conn.close()
    return r, body

def check(name, cond, extra=''):
    global failed
    print(('ok: ' if cond else 'FAIL: ') + name + ('' if cond else ': ' + str(extra)[:500]))
    failed |= not cond

def sources():
    r, b = req('/api/v1/sources', read)
    return r.status, (json.loads(b)['sources'] if r.status == 200 else b)

# the scheduled git sync runs ~2 s after start and creates the store
deadline = time.time() + 20
st = None
while time.time() < deadline:
    code, st = sources()
    if code == 200 and any(s['source'] == 'payments' and s['status'] and s['status']['result'] == 'committed' for s in st):
        break
    time.sleep(0.2)
check('scheduled git sync committed', code == 200 and st and any(s['source'] == 'payments' and s['status'] and s['status']['result'] == 'committed' for s in st), st)
by = {s['source']: s for s in st} if code == 200 else {}
check('git source on a 1 s schedule with a next run', by.get('payments', {}).get('schedule_seconds') == 1 and by['payments']['next_run'], by.get('payments'))
check('terraform source configured, never synced', by.get('prod', {}).get('status', 'x') is None and by['prod']['configured'] is True and by['prod']['schedule_seconds'] is None, by.get('prod'))
r, b = req('/api/v1/owners?id=service:payments', read)
check('catalog ownership served', r.status == 200 and json.loads(b)['owners'] == ['team:payments'], (r.status, b))

# POST sync: roles, unknown source, method
r, b = req('/api/v1/sources/prod/sync', read, 'POST')
check('read token may not trigger a sync (403)', r.status == 403, (r.status, b))
r, b = req('/api/v1/sources/prod/sync', None, 'POST')
check('no token: 401', r.status == 401, (r.status, b))
r, b = req('/api/v1/sources/nope/sync', admin, 'POST')
check('unknown source: 404 naming it', r.status == 404 and b"nope" in b, (r.status, b))
r, b = req('/api/v1/sources/prod/sync', admin, 'GET')
check('GET on the sync route: 405', r.status == 405 and r.getheader('Allow') == 'POST', (r.status, b))
r, b = req('/api/v1/sources/prod/sync?wait=true', admin, 'POST')
res = json.loads(b) if r.status == 200 else {}
check('admin sync with wait: 200 committed', r.status == 200 and res.get('result') == 'committed' and res.get('revision', 0) >= 2, (r.status, b))
r, b = req('/api/v1/nodes/tf:prod%2Faws_db_instance.replica', read)
check('synced resource served', r.status == 200, (r.status, b))
r, b = req('/api/v1/blast-radius?id=tf:prod/aws_db_instance.main', read)
ids = [n['id'] for n in json.loads(b)['nodes']] if r.status == 200 else []
check('blast radius of the DB reaches the service through the tag link', 'service:payments' in ids, (r.status, b[:300]))

# the same state again: unchanged, no new revision
r, b = req('/api/v1/sources/prod/sync?wait=1', admin, 'POST')
check('same state: unchanged', r.status == 200 and json.loads(b)['result'] == 'unchanged' and json.loads(b)['revision'] is None, (r.status, b))

# a new state without the replica: retired, while reads go on
import re
state = json.load(open(work + '/prod.tfstate'))
state['serial'] = 2
state['resources'] = [x for x in state['resources'] if x['name'] != 'replica']
check('test setup: one resource left', len(state['resources']) == 1)
with open(work + '/prod.tfstate', 'w') as f:
    json.dump(state, f)
r, b = req('/api/v1/sources/prod/sync', admin, 'POST')
check('admin sync without wait: 202 queued', r.status == 202 and json.loads(b)['source'] == 'prod', (r.status, b))
deadline = time.time() + 10
gone = False
while time.time() < deadline and not gone:
    r, b = req('/api/v1/nodes/tf:prod%2Faws_db_instance.replica', read)
    gone = r.status == 404
    r2, _ = req('/api/v1/nodes/tf:prod%2Faws_db_instance.main', read)
    if r2.status != 200:
        check('queries keep being answered during syncs', False, r2.status)
        break
    time.sleep(0.1)
check('removed resource retired', gone)
code, st = sources()
prod = {s['source']: s for s in st}['prod']['status'] if code == 200 else {}
check('status counts the retirement', prod.get('counts', {}).get('retired_nodes') == 1 and prod.get('result') == 'committed', prod)

# metrics per source
r, b = req('/metrics', read)
text = b.decode()
check('metrics: last success of both sources', 'stacktwin_source_last_success_timestamp_seconds{source="prod"}' in text and 'stacktwin_source_last_success_timestamp_seconds{source="payments"}' in text, text[-1500:])
m = re.search(r'stacktwin_source_syncs_total\{source="prod"\} (\d+)', text)
check('metrics: three prod syncs run by this server', m and int(m.group(1)) == 3, m and m.group(0))
check('metrics: staleness and up', re.search(r'stacktwin_source_staleness_seconds\{source="prod"\} \d+', text) and 'stacktwin_source_up{source="prod"} 1' in text, text[-800:])
check('metrics: the sync route is counted', 'route="source-sync",code="202"' in text, '')

# a broken state fails the source's sync and keeps the last good graph
with open(work + '/prod.tfstate', 'w') as f:
    f.write('{"version":4,"serial":3,"resources":[{"mode":')
r, b = req('/api/v1/sources/prod/sync?wait=true', admin, 'POST')
res = json.loads(b) if r.status == 200 else {}
check('truncated state: result failed with the file named', res.get('result') == 'failed' and 'prod.tfstate' in (res.get('error') or ''), (r.status, b))
r, b = req('/api/v1/nodes/tf:prod%2Faws_db_instance.main', read)
check('last good graph kept', r.status == 200, r.status)
r, b = req('/metrics', read)
check('metrics: source down after the failure', 'stacktwin_source_up{source="prod"} 0' in b.decode(), '')

# ask for one more sync and stop at once: a clean exit
req('/api/v1/sources/payments/sync', admin, 'POST')
sys.exit(1 if failed else 0)
PY
stop_server "$pid" "$work/err"
pid=
grep -q 'syncs stopped' "$work/err" || { echo "FAIL: no 'syncs stopped' in the log"; cat "$work/err"; exit 1; }
if grep -q -e "$admin_tok" -e "$read_tok" "$work/err"; then
	echo "FAIL: a token value appears in the log"
	exit 1
fi
echo "ok: stopped cleanly; no token in the log"
