#!/usr/bin/env bash
# scripts/quickstart.sh — the README's first command: install what is
# needed, build, and load the bundled example estate (examples/estate/)
# into a fresh store at var/example.db, then check it and print its counts.
#
#   ./scripts/quickstart.sh [--db DIR]
#
# Later this command also serves the HTTP API and viewer; today stacktwin
# has import/export/stats/verify (see README.md).
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
db=$root/var/example.db
while [ $# -gt 0 ]; do
	case "$1" in
	--db) db=$2; shift 2 ;;
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
echo "next:  $st export --db $db | head"
