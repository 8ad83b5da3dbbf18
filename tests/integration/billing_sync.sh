#!/usr/bin/env bash
# billing_sync.sh — end-to-end check of a billing export through a real store
# (docs/connectors.md, "Billing"; docs/queries.md, "Cost rollups"):
# `stacktwin import` of two teams and a service, `stacktwin sync` of a
# Terraform state (tests/data/billing/e2e.tfstate) and of the FOCUS export
# tests/data/billing/e2e_focus.csv (one untagged row linked by its ARN), then `stacktwin query cost` by team and
# by service with exact amounts and the unattributed row; a failing sync of a
# malformed export keeps the last good graph.
#
# Usage: billing_sync.sh STACKTWIN_BINARY SOURCE_ROOT
set -euo pipefail

if [ $# -ne 2 ]; then
	echo "usage: $0 STACKTWIN_BINARY SOURCE_ROOT" >&2
	exit 2
fi
ST=$1
ROOT=$2
DATA=$ROOT/tests/data/billing
export LC_ALL=C TZ=UTC

tmp=$(mktemp -d "${TMPDIR:-/tmp}/stacktwin-billing-sync.XXXXXX")
trap 'rm -rf -- "$tmp"' EXIT
DB=$tmp/db

check() {
	local name=$1 expr=$2
	if python3 -c "import json,sys; j=json.load(sys.stdin); sys.exit(0 if ($expr) else 1)"; then
		echo "ok: $name"
	else
		echo "FAIL: $name: expected $expr" >&2
		exit 1
	fi
}

cat >"$tmp/nodes.jsonl" <<'JSON'
{"id":"team:payments","type":"Team","props":{"name":"payments"}}
{"id":"team:platform","type":"Team","props":{"name":"platform"}}
{"id":"service:payments","type":"Service","props":{"name":"payments"}}
JSON
cat >"$tmp/edges.jsonl" <<'JSON'
{"src":"team:payments","dst":"service:payments","type":"OWNS","props":{}}
JSON
"$ST" import --db "$DB" --no-sync "$tmp/nodes.jsonl" "$tmp/edges.jsonl" >/dev/null

"$ST" sync --db "$DB" --no-sync --quiet "terraform:$DATA/e2e.tfstate" >/dev/null
# the export is synced from a copy that later gets a bad row (one source, one location)
mkdir "$tmp/exp" && cp "$DATA/e2e_focus.csv" "$tmp/exp/e2e_focus.csv"
"$ST" sync --db "$DB" --no-sync --quiet "focus:$tmp/exp/e2e_focus.csv" >"$tmp/sync.out"
grep -q 'focus-e2e_focus: revision' "$tmp/sync.out" || { echo "FAIL: sync: $(cat "$tmp/sync.out")" >&2; exit 1; }
echo "ok: sync focus:e2e_focus.csv"

# Effective cost in October: res-pay 1.5 + 0.2 -> service:payments -> team:payments;
# the untagged RDS row (0.5) is SAME_AS the Terraform resource by its ARN, whose
# tag service=payments bills it to service:payments;
# res-plat (tag team=platform) -> team:platform; res-none and the AWS Support
# bucket have no BILLED_TO -> unattributed; EUR stays apart; November is out.
"$ST" query --db "$DB" --json cost --by team --from 2026-10-01 --to 2026-11-01 >"$tmp/team.json"
check "by team: USD per team and an unattributed row, EUR apart" \
	"{r['group']: r['amount'] for r in j['rows'] if r['currency'] == 'USD'} == {'team:payments': 2.2, 'team:platform': 2.000001, None: 0.4} and len(j['rows']) == 4 and [(r['group'], r['amount']) for r in j['rows'] if r['currency'] == 'EUR'] == [('team:payments', 5)]" <"$tmp/team.json"
check "by team: totals reconcile to the input exactly" \
	"sorted((t['currency'], t['amount']) for t in j['totals']) == [('EUR', 5), ('USD', 4.600001)]" <"$tmp/team.json"

"$ST" query --db "$DB" --json cost --by service --from 2026-10-01 --to 2026-11-01 --metric billed >"$tmp/svc.json"
check "by service, billed: 1.75 + 0.5 (via SAME_AS) to service:payments, 2.000001 to team:platform" \
	"{r['group']: r['amount'] for r in j['rows'] if r['currency'] == 'USD'} == {'service:payments': 2.25, 'team:platform': 2.000001, None: 0.4}" <"$tmp/svc.json"

"$ST" query --db "$DB" --json cost --by team --from 2026-11-01 --to 2026-12-01 >"$tmp/nov.json"
check "November: the 9 USD row alone" \
	"[(r['group'], r['amount']) for r in j['rows']] == [('team:payments', 9)]" <"$tmp/nov.json"

# a malformed export fails the sync (exit 2) and changes nothing
printf '1,1,USD,not-a-date,res-pay,Amazon RDS,AWS,NULL\n' >>"$tmp/exp/e2e_focus.csv"
set +e
"$ST" sync --db "$DB" --no-sync --quiet "focus:$tmp/exp/e2e_focus.csv" >"$tmp/bad.out" 2>&1
rc=$?
set -e
[ $rc -eq 2 ] && grep -q 'e2e_focus.csv:10: ChargePeriodStart' "$tmp/bad.out" ||
	{ echo "FAIL: malformed sync: rc $rc: $(cat "$tmp/bad.out")" >&2; exit 1; }
echo "ok: malformed export: exit 2 with file:line"
"$ST" query --db "$DB" --json cost --by team --from 2026-10-01 --to 2026-11-01 | check "the last good graph is kept" \
	"sorted((t['currency'], t['amount']) for t in j['totals']) == [('EUR', 5), ('USD', 4.600001)]"
