#!/usr/bin/env bash
# cli_query.sh STACKTWIN SOURCE_ROOT — `stacktwin query` on the bundled
# example estate against the answers computed independently by
# examples/estate/generate.py (examples/estate/README.md).
set -euo pipefail
st=$1 root=$2
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
db=$work/db
"$st" import --no-sync --db "$db" "$root"/examples/estate/{nodes,edges,costs}.jsonl >/dev/null

q() { "$st" query --db "$db" --json "$@"; }
# check NAME PYTHON-EXPRESSION-ON-j  (j = the parsed JSON of stdin)
check() {
	local name=$1 expr=$2
	if python3 -c "import json,sys; j=json.load(sys.stdin); sys.exit(0 if ($expr) else 1)"; then
		echo "ok: $name"
	else
		echo "FAIL: $name: expected $expr"
		exit 1
	fi
}

q blast-radius tf:prod/aws_db_instance.payments >"$work/br.json"
check "blast radius of the payments DB: 6 nodes" \
	"j['total'] == 6 and sorted(n['id'] for n in j['nodes']) == ['api:checkout-api','api:payments-api','resource:payments-db','service:checkout','service:frontend','service:payments']" <"$work/br.json"
check "blast radius: 3 affected services" "j['affected_services'] == 3" <"$work/br.json"
check "blast radius: every path ends at the root and starts at the node" \
	"all(n['path'][0] == n['id'] and n['path'][-1] == 'tf:prod/aws_db_instance.payments' and len(n['path']) == n['distance'] + 1 for n in j['nodes'])" <"$work/br.json"
check "blast radius: payments at distance 1, frontend further" \
	"{n['id']: n['distance'] for n in j['nodes']}['service:payments'] == 1 and {n['id']: n['distance'] for n in j['nodes']}['service:frontend'] >= 3" <"$work/br.json"
q blast-radius tf:prod/aws_db_instance.payments --from 2026-10-01 --to 2026-10-31 | check "who to notify and cost at risk" \
	"{t['team']: t['services'] for t in j['owner_teams']} == {'team:checkout': 2, 'team:catalog': 1, 'team:payments': 1} and j['unowned_services'] == 0 and j['cost_at_risk'] == [{'currency': 'USD', 'amount': 226.911318}]"
q blast-radius tf:prod/aws_db_instance.payments --depth 1 | check "depth 1: only direct dependents" \
	"sorted(n['id'] for n in j['nodes']) == ['resource:payments-db','service:payments']"
q blast-radius tf:prod/aws_db_instance.payments --limit 2 --offset 2 | check "pagination: 2 of 6 from offset 2, next at 4" \
	"len(j['nodes']) == 2 and j['total'] == 6 and j['next_offset'] == 4"

q owners service:frontend | check "frontend: two owners, conflict" \
	"j['owners'] == ['team:catalog','team:checkout'] and j['conflict'] and j['claim'] == 'owns'"
q owners service:shipping | check "shipping: unowned" "j['owners'] == [] and j['claim'] == 'unowned'"
q owners system:storefront | check "storefront: inherited or owned by catalog" "j['owners'] == ['team:catalog']"
q owners k8s:prod | check "cluster owned by a user" "j['owners'] == ['user:heidi']"
q owners team:payments | check "a team owns itself" "j['owners'] == ['team:payments'] and j['claim'] == 'self'"

cost_by() { q cost --by team --from 2026-10-01 --to 2026-10-31 "$@"; }
cost_by >"$work/cost.json"
rows="{(r['group'], r['currency']): r['amount'] for r in j['rows']}"
check "cost by team, effective" \
	"$rows == {('team:catalog','USD'): 428.028383, ('team:checkout','USD'): 148.32, ('team:payments','USD'): 226.911318, ('team:platform','USD'): 495.144236, ('team:platform','EUR'): 15.9, (None,'USD'): 92.911886}" <"$work/cost.json"
check "cost totals reconcile to the input" \
	"{t['currency']: t['amount'] for t in j['totals']} == {'USD': 1391.315823, 'EUR': 15.9}" <"$work/cost.json"
cost_by --metric billed | check "cost by team, billed" \
	"{(r['group'], r['currency']): r['amount'] for r in j['rows']}[('team:payments','USD')] == 348.54063 and {t['currency']: t['amount'] for t in j['totals']}['USD'] == 1639.413999"
q cost --by team --from 2026-11-01 --to 2026-12-01 | check "an empty window has no rows" "j['rows'] == [] and j['totals'] == []"

q path service:frontend tf:prod/aws_db_instance.payments --edges CALLS,DEPENDS_ON | check "path frontend -> payments DB" \
	"j['paths'][0]['nodes'] == ['service:frontend','service:checkout','service:payments','tf:prod/aws_db_instance.payments']"
q search --type Service | check "search by type: 10 services" "len(j['nodes']) == 10"
q search --prefix service:pay | check "search by prefix" "[n['id'] for n in j['nodes']] == ['service:payments']"

set +e
"$st" query --db "$db" owners service:payment 2>"$work/err" >/dev/null
rc=$?
set -e
[ "$rc" = 2 ] || { echo "FAIL: unknown id exit $rc, want 2"; exit 1; }
grep -q "did you mean 'service:payments'" "$work/err" || { echo "FAIL: no suggestion: $(cat "$work/err")"; exit 1; }
echo "ok: unknown id exits 2 with a suggestion"
