#!/usr/bin/env bash
# scripts/quickstart.sh — the README's first command: install what is
# needed, build, load the bundled example estate (examples/estate/) into a
# fresh store at var/example.db, check it, print its counts, and serve the
# query API on http://127.0.0.1:8080 until Ctrl-C.  The API needs a bearer
# token: one is generated into var/token (mode 600) on the first run; it is
# never printed.
#
#   ./scripts/quickstart.sh [--db DIR] [--listen HOST:PORT] [--no-serve]
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
db=$root/var/example.db
listen=127.0.0.1:8080
serve=1
while [ $# -gt 0 ]; do
	case "$1" in
	--db) db=$2; shift 2 ;;
	--listen) listen=$2; shift 2 ;;
	--no-serve) serve=0; shift ;;
	-h|--help) sed -n '2,10p' "$0"; exit 0 ;;
	*) echo "quickstart: unknown option $1" >&2; exit 2 ;;
	esac
done

"$root/scripts/setup.sh"
st=$root/build/src/stacktwin
rm -rf "$db"
mkdir -p "$(dirname "$db")"
"$st" import --db "$db" --source example \
	"$root/examples/estate/nodes.jsonl" "$root/examples/estate/edges.jsonl" \
	"$root/examples/estate/costs.jsonl"
"$st" verify --db "$db"
"$st" stats --db "$db"
echo
echo "store: $db"
[ "$serve" = 1 ] || exit 0

token=$root/var/token
if [ ! -s "$token" ]; then
	(umask 077 && head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n' > "$token")
fi
echo "token: $token (send it as: Authorization: Bearer \$(cat $token))"
echo "try:   curl -H \"Authorization: Bearer \$(cat $token)\" 'http://$listen/api/v1/blast-radius?id=tf:prod/aws_db_instance.payments'"
exec "$st" serve --db "$db" --listen "$listen" --token-file "$token" --web "$root/web"
