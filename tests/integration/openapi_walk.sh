#!/usr/bin/env bash
# openapi_walk.sh STACKTWIN SOURCE_ROOT — check docs/openapi.yaml against a
# running `stacktwin serve` on the bundled example estate, with a read token
# from a config file and an admin token from --token-file: every path answers
# 200 with a body matching its schema, 401 without a token, 403 for the read
# token on an admin route, 400 without each required parameter, and the spec
# lists every route under /api/v1/ (tests/integration/openapi_walk.py does
# the walking).
set -euo pipefail
st=$1 root=$2
source "$(dirname "$0")/serve_lib.sh"
work=$(mktemp -d)
pid=
cleanup() {
	if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
		kill -KILL "$pid" 2>/dev/null || true
	fi
	rm -rf "$work"
}
trap cleanup EXIT
db=$work/db
"$st" import --no-sync --db "$db" "$root"/examples/estate/{nodes,edges,costs}.jsonl >/dev/null
printf 'walk-admin-token-17\n' >"$work/token"
cat >"$work/serve.yaml" <<'EOF'
server:
  tokens:
    - {name: walker, role: read, env: ST_WALK_READ_TOKEN}
EOF

mkfifo "$work/out"
ST_WALK_READ_TOKEN=walk-token-42 "$st" serve --config "$work/serve.yaml" --db "$db" --listen 127.0.0.1:0 \
	--token-file "$work/token" >"$work/out" 2>"$work/serve.err" &
pid=$!
exec 3<"$work/out"
server_port 3 "$work/serve.err"
port=$SERVER_PORT

python3 "$root/tests/integration/openapi_walk.py" "$root/docs/openapi.yaml" "$port" walk-token-42 walk-admin-token-17

stop_server "$pid" "$work/serve.err"
pid=
echo "ok: SIGTERM stops the server with exit 0"
