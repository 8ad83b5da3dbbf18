#!/usr/bin/env bash
# cli_import.sh — integration test of `stacktwin import/export/stats/verify`
# against the example estate in examples/estate/ (docs/interchange.md).
#
# Usage: cli_import.sh STACKTWIN_BINARY SOURCE_ROOT
#
# It checks the round trip (import, verify, stats counts, canonical export,
# idempotent re-import), that every kind of bad input is rejected with exit
# code 2 and FILE:LINE: and leaves the store exactly as it was, `export
# --out`, and the usage errors around --db.  It only ever writes into its own
# temporary directory and never touches the source tree.  It prints one line
# per check and stops at the first failure.
set -euo pipefail

if [ $# -ne 2 ]; then
	echo "usage: $0 STACKTWIN_BINARY SOURCE_ROOT" >&2
	exit 2
fi
ST=$1
ESTATE=$2/examples/estate
NODES=$ESTATE/nodes.jsonl
EDGES=$ESTATE/edges.jsonl
COSTS=$ESTATE/costs.jsonl
export LC_ALL=C

tmp=$(mktemp -d "${TMPDIR:-/tmp}/stacktwin-cli-import.XXXXXX")
trap 'rm -rf -- "$tmp"' EXIT
DB=$tmp/db
checks=0

fail() {
	echo "FAIL: $*" >&2
	if [ -s "$tmp/stderr" ]; then
		echo "--- stderr of the last command:" >&2
		sed 's/^/  /' "$tmp/stderr" >&2
	fi
	exit 1
}

ok() {
	checks=$((checks + 1))
	echo "ok $checks - $*"
}

# run CMD...: runs CMD with stdout in $tmp/stdout, stderr in $tmp/stderr and
# its exit code in $rc, without tripping `set -e`.
run() {
	rc=0
	"$@" >"$tmp/stdout" 2>"$tmp/stderr" || rc=$?
}

expect_rc() { # expected description
	[ "$rc" -eq "$1" ] || fail "$2: exit code $rc, expected $1"
}

# stat_value FILE KEY: the integer value of "KEY" in `stats --json` output
# (one key per line); fails unless exactly one line carries the key.
stat_value() {
	local n v
	n=$(grep -c -E "^[[:space:]]*\"$2\":[[:space:]]*-?[0-9]+,?\$" "$1" || true)
	[ "$n" -eq 1 ] || fail "stats --json: key \"$2\" found $n times, expected once"
	v=$(sed -n -E "s/^[[:space:]]*\"$2\":[[:space:]]*(-?[0-9]+),?\$/\\1/p" "$1")
	printf '%s\n' "$v"
}

export_to() { # FILE: export the store to FILE (must succeed)
	run "$ST" export --db "$DB"
	expect_rc 0 "export"
	mv "$tmp/stdout" "$1"
}

revision() {
	run "$ST" stats --db "$DB" --json
	expect_rc 0 "stats --json"
	mv "$tmp/stdout" "$tmp/rev.json"
	stat_value "$tmp/rev.json" revision
}

# ---- the input files ------------------------------------------------------
for f in "$NODES" "$EDGES" "$COSTS"; do
	[ -s "$f" ] || fail "missing or empty input $f"
done
[ -x "$ST" ] || fail "not an executable: $ST"
n_nodes=$(wc -l <"$NODES")
n_edges=$(wc -l <"$EDGES")
n_costs=$(wc -l <"$COSTS")
cat "$NODES" "$EDGES" "$COSTS" | sort >"$tmp/input.sorted"
ok "example estate has $n_nodes nodes, $n_edges edges, $n_costs cost facts"

# ---- import into a fresh store --------------------------------------------
[ ! -e "$DB" ] || fail "$DB exists before the first import"
run "$ST" import --db "$DB" "$NODES" "$EDGES" "$COSTS"
expect_rc 0 "import of the example estate"
grep -q -F "imported $n_nodes nodes, $n_edges edges, $n_costs cost facts" "$tmp/stdout" ||
	fail "import summary does not report $n_nodes nodes, $n_edges edges, $n_costs cost facts: $(cat "$tmp/stdout")"
ok "import exits 0 and reports the file's counts"

run "$ST" verify --db "$DB"
expect_rc 0 "verify after import"
ok "verify passes"

# ---- stats ------------------------------------------------------------------
run "$ST" stats --db "$DB" --json
expect_rc 0 "stats --json"
mv "$tmp/stdout" "$tmp/stats.json"
for kv in "nodes $n_nodes" "edges $n_edges" "cost_facts $n_costs" "revision 1"; do
	read -r key want <<<"$kv"
	got=$(stat_value "$tmp/stats.json" "$key")
	[ "$got" -eq "$want" ] || fail "stats --json: $key is $got, expected $want"
done
ok "stats --json: nodes, edges, cost_facts and revision 1 match"

# Every node and edge type present in the files, counted with sed/uniq.
sed -n -E 's/^\{"id":"[^"]*","type":"([A-Za-z0-9_]+)".*/\1/p' "$NODES" | sort | uniq -c >"$tmp/node_types"
sed -n -E 's/^\{"src":"[^"]*","dst":"[^"]*","type":"([A-Za-z0-9_]+)".*/\1/p' "$EDGES" | sort | uniq -c >"$tmp/edge_types"
sum=0
while read -r count type; do
	got=$(stat_value "$tmp/stats.json" "$type")
	[ "$got" -eq "$count" ] || fail "stats --json: node type $type has $got, expected $count"
	sum=$((sum + count))
done <"$tmp/node_types"
[ "$sum" -eq "$n_nodes" ] || fail "node type counts of the files add up to $sum, not $n_nodes"
sum=0
while read -r count type; do
	got=$(stat_value "$tmp/stats.json" "$type")
	[ "$got" -eq "$count" ] || fail "stats --json: edge type $type has $got, expected $count"
	sum=$((sum + count))
done <"$tmp/edge_types"
[ "$sum" -eq "$n_edges" ] || fail "edge type counts of the files add up to $sum, not $n_edges"
for t in Service Team User KubernetesPod CloudResource BillingResource CALLS OWNS BILLED_TO SAME_AS; do
	grep -q -E "^ *[0-9]+ $t\$" "$tmp/node_types" "$tmp/edge_types" ||
		fail "the example estate has no $t (the per-type checks would be vacuous)"
done
got=$(stat_value "$tmp/stats.json" Component)
[ "$got" -eq 0 ] || fail "stats --json: Component is $got, the estate has none"
ok "stats --json: $(wc -l <"$tmp/node_types") node type and $(wc -l <"$tmp/edge_types") edge type counts match the files"

# ---- canonical export round trip -----------------------------------------
export_to "$tmp/export1.jsonl"
sort "$tmp/export1.jsonl" >"$tmp/export1.sorted"
cmp -s "$tmp/export1.sorted" "$tmp/input.sorted" ||
	fail "sorted export differs from the sorted input files: $(diff "$tmp/input.sorted" "$tmp/export1.sorted" | head -5)"
ok "sort(export) == sort(input files), byte for byte"

# ---- idempotent re-import -------------------------------------------------
run "$ST" import --db "$DB" "$NODES" "$EDGES" "$COSTS"
expect_rc 0 "second import of the same files"
export_to "$tmp/export2.jsonl"
cmp -s "$tmp/export1.jsonl" "$tmp/export2.jsonl" ||
	fail "export changed after importing the same files again: $(diff "$tmp/export1.jsonl" "$tmp/export2.jsonl" | head -5)"
rev=$(revision)
[ "$rev" -eq 2 ] || fail "revision after the second import is $rev, expected 2"
run "$ST" verify --db "$DB"
expect_rc 0 "verify after re-import"
ok "re-import is idempotent (export unchanged, revision 1 -> 2, verify passes)"

# ---- bad inputs -------------------------------------------------------------
# Each case: a file (or two) whose first lines are valid and would change the
# store, then one bad line.  Import must exit 2, name FILE:LINE: of the bad
# line, and leave export and revision exactly as they were.
mkdir "$tmp/bad"
baseline=$tmp/export2.jsonl
base_rev=$rev

# bad_case NAME LINE FILE...: the error is expected at LINE of the last FILE.
bad_case() {
	local name=$1 line=$2
	shift 2
	local files=("$@")
	local last=${files[$((${#files[@]} - 1))]}
	run "$ST" import --db "$DB" "${files[@]}"
	expect_rc 2 "import of bad input ($name)"
	grep -q -F -- "$last:$line:" "$tmp/stderr" ||
		fail "bad input ($name): stderr does not name $last:$line:"
	export_to "$tmp/after.jsonl"
	cmp -s "$baseline" "$tmp/after.jsonl" ||
		fail "bad input ($name): the store changed: $(diff "$baseline" "$tmp/after.jsonl" | head -5)"
	local r
	r=$(revision)
	[ "$r" -eq "$base_rev" ] || fail "bad input ($name): revision is $r, expected $base_rev"
	ok "bad input ($name): exit 2, $(basename "$last"):$line: on stderr, store unchanged"
}

cat >"$tmp/bad/malformed.jsonl" <<'EOF'
{"id":"team:new-team","type":"Team","props":{"name":"new-team"}}
{"src":"user:alice","dst":"team:new-team","type":"MEMBER_OF","props":{}}
{"id":"service:broken","type":"Service","props":{"name":"broken"}
EOF
bad_case "malformed JSON" 3 "$tmp/bad/malformed.jsonl"

# A leading empty line still counts as line 1.
cat >"$tmp/bad/unknown_type.jsonl" <<'EOF'

{"id":"service:payments","type":"Service","props":{"name":"payments","tier":3}}
{"id":"spaceship:enterprise","type":"Spaceship","props":{}}
EOF
bad_case "unknown node type" 3 "$tmp/bad/unknown_type.jsonl"

cat >"$tmp/bad/missing_node.jsonl" <<'EOF'
{"src":"service:frontend","dst":"service:catalog","type":"CALLS","props":{"request_rate":1}}
{"src":"service:checkout","dst":"service:does-not-exist","type":"CALLS","props":{"request_rate":2.5}}
{"id":"service:late","type":"Service","props":{"name":"late"}}
EOF
bad_case "edge to a missing node" 2 "$tmp/bad/missing_node.jsonl"

cat >"$tmp/bad/wrong_prop_type.jsonl" <<'EOF'
{"id":"service:loyalty","type":"Service","props":{"name":"loyalty","tier":2}}
{"src":"team:checkout","dst":"service:loyalty","type":"OWNS","props":{}}
{"id":"service:payments","type":"Service","props":{"name":"payments","tier":"one"}}
EOF
bad_case "wrong property type" 3 "$tmp/bad/wrong_prop_type.jsonl"

cat >"$tmp/bad/bad_day.jsonl" <<'EOF'
{"resource":"bill:aws/nat-0d3e5f7a9b1c2e4f6","day":"2026-10-31","amount":3.1,"currency":"USD"}
{"resource":"bill:aws/nat-0d3e5f7a9b1c2e4f6","day":"2026-11-01","amount":3.2,"currency":"USD"}
{"resource":"bill:aws/nat-0d3e5f7a9b1c2e4f6","day":"2026-02-30","amount":3.3,"currency":"USD"}
{"resource":"bill:aws/nat-0d3e5f7a9b1c2e4f6","day":"2026-11-02","amount":3.4,"currency":"USD"}
EOF
bad_case "bad day" 3 "$tmp/bad/bad_day.jsonl"

cat >"$tmp/bad/bad_currency.jsonl" <<'EOF'
{"resource":"bill:aws/nat-0d3e5f7a9b1c2e4f6","day":"2026-10-31","amount":3.1,"currency":"USD"}
{"resource":"bill:aws/nat-0d3e5f7a9b1c2e4f6","day":"2026-11-01","amount":3.2,"currency":"usd"}
EOF
bad_case "bad currency" 2 "$tmp/bad/bad_currency.jsonl"

cat >"$tmp/bad/missing_required.jsonl" <<'EOF'
{"id":"k8s:prod/staging","type":"KubernetesNamespace","props":{"name":"staging","cluster":"prod"}}
{"src":"k8s:prod/staging","dst":"k8s:prod","type":"SCOPED_IN","props":{}}
{"id":"k8s:prod/batch","type":"KubernetesNamespace","props":{"name":"batch"}}
EOF
bad_case "missing required property" 3 "$tmp/bad/missing_required.jsonl"

cat >"$tmp/bad/bad_endpoints.jsonl" <<'EOF'
{"src":"team:platform","dst":"service:shipping","type":"OWNS","props":{}}
{"src":"service:shipping","dst":"team:platform","type":"OWNS","props":{}}
EOF
bad_case "edge endpoint types not allowed" 2 "$tmp/bad/bad_endpoints.jsonl"

# A valid file (new, self-contained records) followed by a bad one: nothing
# of the first file may land.
cat >"$tmp/bad/good.jsonl" <<'EOF'
{"id":"domain:marketing","type":"Domain","props":{"name":"marketing"}}
{"id":"system:campaigns","type":"System","props":{"name":"campaigns"}}
{"src":"system:campaigns","dst":"domain:marketing","type":"PART_OF","props":{}}
{"resource":"domain:marketing","day":"2026-10-05","amount":1.5,"currency":"USD"}
EOF
cat >"$tmp/bad/after_good.jsonl" <<'EOF'
{"id":"team:marketing","type":"Team","props":{"name":"marketing"}}
{"src":"team:marketing","dst":"system:campaigns","type":"OWNS","props":{}}
{"resource":"system:campaigns","day":"2026-10-05","amount":2,"currency":"USD"}
{"resource":"system:campaigns","day":"2026-10-06","amount":2.0000001,"currency":"USD"}
EOF
bad_case "valid file followed by a bad file" 4 "$tmp/bad/good.jsonl" "$tmp/bad/after_good.jsonl"
# The first file really is valid on its own (so the case above tests the
# all-or-nothing transaction, not a second error).
run "$ST" import --db "$tmp/scratch-db" "$tmp/bad/good.jsonl"
expect_rc 0 "import of the valid file alone into a scratch store"
ok "the valid file of the previous case imports on its own"

run "$ST" verify --db "$DB"
expect_rc 0 "verify after the rejected imports"
ok "verify passes after the rejected imports"

# ---- export --out DIR -----------------------------------------------------
run "$ST" export --db "$DB" --out "$tmp/out"
expect_rc 0 "export --out"
for f in nodes edges costs; do
	[ -f "$tmp/out/$f.jsonl" ] || fail "export --out did not write $f.jsonl"
	cmp -s "$tmp/out/$f.jsonl" "$ESTATE/$f.jsonl" ||
		fail "export --out: $f.jsonl differs from the input: $(diff "$ESTATE/$f.jsonl" "$tmp/out/$f.jsonl" | head -5)"
done
[ ! -s "$tmp/stdout" ] || fail "export --out also wrote to standard output"
ok "export --out writes nodes.jsonl, edges.jsonl, costs.jsonl equal to the inputs"

# ---- usage errors around --db ---------------------------------------------
for cmd in import export stats verify; do
	if [ "$cmd" = import ]; then
		run "$ST" import "$NODES"
	else
		run "$ST" "$cmd"
	fi
	expect_rc 2 "$cmd without --db"
	grep -q -F -- "--db" "$tmp/stderr" || fail "$cmd without --db: stderr does not mention --db"
done
ok "a missing --db is exit 2 for import, export, stats and verify"

for cmd in stats export verify; do
	run "$ST" "$cmd" --db "$tmp/no-such-store"
	expect_rc 2 "$cmd --db on a nonexistent store"
	grep -q -F -- "$tmp/no-such-store" "$tmp/stderr" ||
		fail "$cmd --db on a nonexistent store: stderr does not name the store: $(cat "$tmp/stderr")"
	[ ! -e "$tmp/no-such-store" ] || fail "$cmd --db on a nonexistent store created it"
done
ok "a nonexistent --db is exit 2 with a message naming it for stats, export and verify (and is not created)"

echo "all $checks checks passed"
