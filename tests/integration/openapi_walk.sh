#!/usr/bin/env bash
# openapi_walk.sh STACKTWIN SOURCE_ROOT — check docs/openapi.yaml against a
# running `stacktwin serve` on the bundled example estate: every path answers
# 200 with a body matching its schema, 401 without a token, 400 without each
# required parameter, and the spec lists every route under /api/v1/
# (tests/integration/openapi_walk.py does the walking).
set -euo pipefail
st=$1 root=$2
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
printf 'walk-token-42\n' >"$work/token"

mkfifo "$work/out"
"$st" serve --db "$db" --listen 127.0.0.1:0 --token-file "$work/token" >"$work/out" 2>"$work/serve.err" &
pid=$!
exec 3<"$work/out"
line=
read -r -t 10 line <&3 || { echo "FAIL: no listening line; stderr: $(cat "$work/serve.err")"; exit 1; }
case "$line" in
"listening on http://127.0.0.1:"[0-9]*) echo "ok: $line" ;;
*) echo "FAIL: unexpected first line '$line'"; exit 1 ;;
esac
port=${line##*:}

python3 "$root/tests/integration/openapi_walk.py" "$root/docs/openapi.yaml" "$port" walk-token-42

kill -TERM "$pid"
for _ in $(seq 50); do
	kill -0 "$pid" 2>/dev/null || break
	sleep 0.1
done
if kill -0 "$pid" 2>/dev/null; then
	echo "FAIL: server still running 5 s after SIGTERM"
	exit 1
fi
set +e
wait "$pid"
rc=$?
set -e
pid=
[ "$rc" = 0 ] || { echo "FAIL: serve exit $rc after SIGTERM, want 0; stderr: $(cat "$work/serve.err")"; exit 1; }
echo "ok: SIGTERM stops the server with exit 0"
