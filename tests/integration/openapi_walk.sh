#!/usr/bin/env bash
# openapi_walk.sh STACKTWIN SOURCE_ROOT — check docs/openapi.yaml against a
# running `stacktwin serve` on the bundled example estate, with a read token
# from a config file, an admin token from --token-file and one on-demand
# Terraform source (`prod-state`, a one-resource state file written here, so
# the server opens the store read-write and the sync route really syncs):
# every path answers 200 with a body matching its schema, 401 without a token,
# 403 for the read token on an admin route, 400 without each required
# parameter, the source routes list, run and fail syncs as documented, and the
# spec lists every route under /api/v1/ (tests/integration/openapi_walk.py
# does the walking).
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
# one managed resource in workspace prod-state (ids tf:prod-state/..., apart
# from the estate's tf:prod/...), no tags, so no identity hints
cat >"$work/prod.tfstate" <<'EOF'
{"version":4,"terraform_version":"1.6.0","serial":1,"lineage":"walk","outputs":{},"resources":[
 {"mode":"managed","type":"aws_s3_bucket","name":"assets","provider":"provider[\"registry.terraform.io/hashicorp/aws\"]",
  "instances":[{"schema_version":0,"attributes":{"id":"walk-assets","bucket":"walk-assets"}}]}]}
EOF
cat >"$work/serve.yaml" <<'EOF'
server:
  tokens:
    - {name: walker, role: read, env: ST_WALK_READ_TOKEN}
sources:
  - {name: prod-state, kind: terraform, location: prod.tfstate}
EOF

mkfifo "$work/out"
ST_WALK_READ_TOKEN=walk-token-42 "$st" serve --config "$work/serve.yaml" --db "$db" --listen 127.0.0.1:0 \
	--token-file "$work/token" >"$work/out" 2>"$work/serve.err" &
pid=$!
exec 3<"$work/out"
server_port 3 "$work/serve.err"
port=$SERVER_PORT

python3 "$root/tests/integration/openapi_walk.py" "$root/docs/openapi.yaml" "$port" walk-token-42 walk-admin-token-17 \
	"$work/prod.tfstate"
grep -q '1 source(s), 0 on a schedule' "$work/serve.err" ||
	{ echo "FAIL: the server did not take the config's source; stderr: $(cat "$work/serve.err")"; exit 1; }

stop_server "$pid" "$work/serve.err"
pid=
echo "ok: SIGTERM stops the server with exit 0"
