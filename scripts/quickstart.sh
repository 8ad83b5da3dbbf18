#!/usr/bin/env bash
# scripts/quickstart.sh — the README's first command: install what is
# needed, build, and load the bundled example estate acme-shop from real
# sources (examples/shop/): create its Git repositories under var/shop/repos,
# `stacktwin sync` them, its Terraform state, its Kubernetes dumps, its saved
# Prometheus service graph and its FOCUS cost export with
# examples/shop/stacktwin.yaml into a fresh store at var/shop.db, import the
# few edges no connector produces yet (examples/shop/import/, if any), check
# the store, print its counts and the status of every source, and serve the
# query API on http://127.0.0.1:8080 until Ctrl-C.  The API needs a bearer
# token: one is generated into var/token (mode 600) on the first run; it is
# never printed.
#
#   ./scripts/quickstart.sh [--db DIR] [--listen HOST:PORT] [--no-serve]
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
config=$root/examples/shop/stacktwin.yaml
db=$root/var/shop.db
listen=127.0.0.1:8080
serve=1
while [ $# -gt 0 ]; do
	case "$1" in
	--db) db=$2; shift 2 ;;
	--listen) listen=$2; shift 2 ;;
	--no-serve) serve=0; shift ;;
	-h|--help) sed -n '2,14p' "$0"; exit 0 ;;
	*) echo "quickstart: unknown option $1" >&2; exit 2 ;;
	esac
done

"$root/scripts/setup.sh"
st=$root/build/src/stacktwin
rm -rf "$db"
mkdir -p "$(dirname "$db")"

echo "==> example repositories"
"$root/scripts/example-repos.sh"
echo "==> sync"
"$st" sync --config "$config" --db "$db"
# What no connector produces yet (examples/shop/split.py): edges between
# synced nodes, so they are imported after the sync.
imports=()
for f in nodes edges costs; do
	if [ -s "$root/examples/shop/import/$f.jsonl" ]; then
		imports+=("$root/examples/shop/import/$f.jsonl")
	fi
done
if [ ${#imports[@]} -gt 0 ]; then
	echo "==> import"
	"$st" import --db "$db" --source example-runtime "${imports[@]}"
fi
"$st" verify --db "$db"
"$st" stats --db "$db"
echo
"$st" sources --config "$config" --db "$db"
echo
echo "store: $db"
[ "$serve" = 1 ] || exit 0

# The config names this file as the token of role admin (server.tokens).
token=$root/var/token
if [ ! -s "$token" ]; then
	(umask 077 && head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n' > "$token")
fi
echo "token: $token (send it as: Authorization: Bearer \$(cat $token))"
echo "try:   curl -H \"Authorization: Bearer \$(cat $token)\" 'http://$listen/api/v1/blast-radius?id=tf:prod/aws_db_instance.payments'"
if "$st" serve --help 2>&1 | grep -q -- '--config'; then
	exec "$st" serve --config "$config" --db "$db" --listen "$listen"
fi
# A build whose serve does not read the config yet.
exec "$st" serve --db "$db" --listen "$listen" --token-file "$token" --web "$root/web"
