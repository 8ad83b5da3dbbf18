#!/usr/bin/env bash
# example_sync.sh — integration test of the example estate as real sources
# (examples/shop/): Git repositories made by scripts/example-repos.sh, the
# Terraform state, the config; `stacktwin sync`, `sources`, `unmatched`,
# `query`, `import` and `serve --config` against them (docs/sync.md).
#
# Usage: example_sync.sh STACKTWIN_BINARY SOURCE_ROOT
#
# Everything happens in a temporary directory: the repositories are created
# there (the script takes DEST) and the config is a copy of
# examples/shop/stacktwin.yaml with its paths pointed there.  It checks:
#   - the repositories are deterministic and the script idempotent, and
#     examples/shop/import/ is up to date with examples/estate/;
#   - the first sync commits every source without warnings, the second
#     prints `unchanged` for every Git source;
#   - the known answers of examples/estate/README.md that the sources cover
#     (blast radius of the payments database and of service:payments,
#     owners: the frontend conflict, unowned shipping), CODEOWNERS owners of
#     repositories, link edges with rule and evidence, commit activity;
#   - the Terraform password reaches neither the store nor any output;
#   - sync + examples/shop/import/ give the whole estate and its answers;
#   - a commit removing a manifest retires that object and nothing else;
#   - a malformed catalog-info.yaml is a `repo:path:line` warning and the
#     entities it declared stay (with their old revision, via serve --config).
# One line per check; stops at the first failure.
set -euo pipefail

if [ $# -ne 2 ]; then
	echo "usage: $0 STACKTWIN_BINARY SOURCE_ROOT" >&2
	exit 2
fi
ST=$1
ROOT=$2
SHOP=$ROOT/examples/shop
export LC_ALL=C TZ=UTC
export GIT_CONFIG_NOSYSTEM=1 GIT_CONFIG_GLOBAL=/dev/null GIT_TERMINAL_PROMPT=0

tmp=$(mktemp -d "${TMPDIR:-/tmp}/stacktwin-example-sync.XXXXXX")
server_pid=
cleanup() {
	if [ -n "$server_pid" ]; then
		kill -TERM "$server_pid" 2>/dev/null || true
		wait "$server_pid" 2>/dev/null || true
	fi
	rm -rf -- "$tmp"
}
trap cleanup EXIT
DB=$tmp/db
CFG=$tmp/stacktwin.yaml
OUT=$tmp/outputs # every output of every command, for the secret check
mkdir -p "$OUT"
PASSWORD=pw-7Kq2vN9xLr4Tz8Wd # the sensitive attribute in examples/shop/terraform/prod.tfstate
checks=0
n_out=0

fail() {
	echo "FAIL: $*" >&2
	for f in "$tmp/stdout" "$tmp/stderr"; do
		if [ -s "$f" ]; then
			echo "--- $(basename "$f") of the last command:" >&2
			sed -n '1,40s/^/  /p' "$f" >&2
		fi
	done
	exit 1
}
ok() {
	checks=$((checks + 1))
	echo "ok $checks - $*"
}

# run CMD...: stdout in $tmp/stdout, stderr in $tmp/stderr (both also kept
# under $OUT), exit code in $rc, without tripping `set -e`.
run() {
	rc=0
	"$@" >"$tmp/stdout" 2>"$tmp/stderr" || rc=$?
	n_out=$((n_out + 1))
	cp "$tmp/stdout" "$OUT/$n_out.out"
	cp "$tmp/stderr" "$OUT/$n_out.err"
}
expect_rc() { [ "$rc" -eq "$1" ] || fail "$2: exit code $rc, expected $1"; }

# pyj EXPR: evaluate a Python expression over the JSON document on stdin
# (bound to d); lists print one item per line.
pyj() {
	python3 -c 'import json, sys
d = json.load(sys.stdin)
r = eval(sys.argv[1])
print("\n".join(map(str, r)) if isinstance(r, list) else r)' "$1"
}
# g DIR ARGS...: git on the repository DIR only.
g() { local w=$1; shift; git --git-dir="$w/.git" --work-tree="$w" "$@"; }
# commit DIR MESSAGE: commit everything staged in DIR as a fixed author.
commit() {
	GIT_AUTHOR_NAME="Test Robot" GIT_AUTHOR_EMAIL=robot@acme-shop.example \
	GIT_COMMITTER_NAME="Test Robot" GIT_COMMITTER_EMAIL=robot@acme-shop.example \
		g "$1" commit -q --no-verify --no-gpg-sign -m "$2"
}
q() { run "$ST" query --db "$DB" --json "$@"; expect_rc 0 "query $*"; }
export_db() { # DB: canonical export into $tmp/export/
	rm -rf "$tmp/export"
	run "$ST" export --db "$1" --out "$tmp/export"
	expect_rc 0 "export"
}
has_line() { grep -qxF -- "$1" "$2"; }

# ---------------------------------------------------------------- repositories
anchor=$(date -u +%Y-%m-01)
repos=(backstage-catalog cart catalog checkout currency email frontend infra payments
	recommendations search shipping)
run "$ROOT/scripts/example-repos.sh" --anchor "$anchor" "$tmp/repos"
expect_rc 0 "example-repos.sh"
for r in "${repos[@]}"; do
	[ "$(g "$tmp/repos/$r" rev-parse --abbrev-ref HEAD)" = main ] || fail "$r: not on branch main"
	[ -z "$(g "$tmp/repos/$r" status --porcelain)" ] || fail "$r: work tree not clean"
done
[ "$(ls "$tmp/repos" | tr '\n' ' ')" = "${repos[*]} " ] || fail "repositories: $(ls "$tmp/repos")"
[ "$(g "$tmp/repos/payments" rev-list --count HEAD)" = 5 ] || fail "payments: not 5 commits"
ok "example-repos.sh creates the ${#repos[@]} repositories on main, clean"

heads() { for r in "${repos[@]}"; do echo "$r $(g "$1/$r" rev-parse HEAD)"; done; }
heads "$tmp/repos" >"$tmp/heads1"
run "$ROOT/scripts/example-repos.sh" --anchor "$anchor" "$tmp/repos"
expect_rc 0 "example-repos.sh again"
[ "$(grep -c ': up to date (' "$tmp/stdout")" = "${#repos[@]}" ] || fail "second run did not leave every repository as it was"
heads "$tmp/repos" | cmp -s - "$tmp/heads1" || fail "second run changed a HEAD"
run "$ROOT/scripts/example-repos.sh" --quiet --anchor "$anchor" "$tmp/repos2"
expect_rc 0 "example-repos.sh into another directory"
heads "$tmp/repos2" | cmp -s - "$tmp/heads1" || fail "the same anchor gave other commit ids"
run "$ROOT/scripts/example-repos.sh" --quiet --anchor 2020-01-01 "$tmp/repos3"
expect_rc 0 "example-repos.sh --anchor 2020-01-01"
! heads "$tmp/repos3" | cmp -s - "$tmp/heads1" || fail "another anchor gave the same commit ids"
rm -rf "$tmp/repos2" "$tmp/repos3"
ok "the repositories are deterministic and the script idempotent"

run python3 "$SHOP/split.py" --check
expect_rc 0 "examples/shop/split.py --check (import/*.jsonl stale?)"
ok "examples/shop/import/*.jsonl are what split.py makes of examples/estate"

# ---------------------------------------------------------------- config
sed -e "s|\.\./\.\./var/shop/repos/|$tmp/repos/|" \
	-e "s|^store: \.\./\.\./var/shop\.db\$|store: $DB|" \
	-e "s|^cache: \.\./\.\./var/shop-cache\$|cache: $tmp/cache|" \
	-e "s|file: \.\./\.\./var/token}|file: $tmp/token}|" \
	-e "s|^  web: \.\./\.\./web\$|  web: $ROOT/web|" \
	-e "s|location: terraform/prod\.tfstate\$|location: $SHOP/terraform/prod.tfstate|" \
	"$SHOP/stacktwin.yaml" >"$CFG"
! grep -n '\.\./' "$CFG" || fail "a relative path is left in the config copy"
[ "$(grep -c "location: $tmp/repos/" "$CFG")" = "${#repos[@]}" ] || fail "config: not one git source per repository"
(umask 077 && echo "example-sync-test-token" >"$tmp/token")
sources=$(sed -n 's/^  - name: //p' "$CFG")
[ "$(echo "$sources" | wc -l)" = 13 ] || fail "config: expected 13 sources, got: $sources"

# ---------------------------------------------------------------- first sync
run "$ST" sync --config "$CFG"
expect_rc 0 "first sync"
[ ! -s "$tmp/stderr" ] || fail "first sync warned"
for s in $sources; do
	grep -qE "^$s: revision [0-9]+ in " "$tmp/stdout" || fail "sync: no commit line for $s"
done
[ "$(wc -l <"$tmp/stdout")" = 13 ] || fail "sync: not one line per source"
rev_checkout=$(sed -n 's/^checkout: revision \([0-9]*\) .*/\1/p' "$tmp/stdout")
ok "first sync commits each of the 13 sources once, no warnings"

run "$ST" sources --config "$CFG" --json
expect_rc 0 "sources --json"
[ "$(pyj 'sorted((s["source"], s["result"], s["last_error"]) for s in d["sources"])' <"$tmp/stdout")" = \
	"$(for s in $sources; do echo "('$s', 'committed', None)"; done | sort)" ] ||
	fail "sources: not every configured source committed without error"
[ "$(pyj '[s["kind"] for s in d["sources"] if s["source"] == "terraform-prod"]' <"$tmp/stdout")" = terraform ] ||
	fail "sources: terraform-prod is not a terraform source"
ok "sources --json: all 13 committed, no errors"

# The manifests only reference their cluster (docs/catalog.md): k8s:prod is
# a placeholder until the import declares it.  Nothing else is unmatched.
run "$ST" unmatched --config "$CFG" --json
expect_rc 1 "unmatched"
[ "$(pyj '[(u["what"], u["id"]) for u in d["unmatched"]]' <"$tmp/stdout")" = "('undeclared', 'k8s:prod')" ] ||
	fail "unmatched: $(cat "$tmp/stdout")"
ok "unmatched: every hint matched, every source object linked; only the cluster is undeclared"

run "$ST" stats --db "$DB" --json
expect_rc 0 "stats"
[ "$(pyj '" ".join("%s=%d" % (t, d["node_types"][t]) for t in ("Domain", "System", "Team", "User", "Service", "API", "Resource", "Repository", "KubernetesDeployment", "KubernetesService", "KubernetesIngress", "CloudResource"))' <"$tmp/stdout")" = \
	"Domain=2 System=4 Team=4 User=8 Service=10 API=4 Resource=2 Repository=12 KubernetesDeployment=10 KubernetesService=10 KubernetesIngress=1 CloudResource=11" ] ||
	fail "node counts by type: $(cat "$tmp/stdout")"
[ "$(pyj 'd["nodes"]' <"$tmp/stdout")" = 81 ] || fail "synced nodes: want 81 (113 of the estate minus 33 imported, plus the cluster placeholder)"
ok "the sources give the estate's nodes of the synced types (counts as in examples/estate)"

# ---------------------------------------------------------------- known answers
q blast-radius tf:prod/aws_db_instance.payments
[ "$(pyj 'sorted(n["id"] for n in d["nodes"])' <"$tmp/stdout" | tr '\n' ' ')" = \
	"api:checkout-api api:payments-api service:checkout service:frontend service:payments " ] ||
	fail "blast radius of the payments database (synced part)"
ok "blast radius of tf:prod/aws_db_instance.payments: payments, checkout, frontend and their APIs"

q blast-radius service:payments
[ "$(pyj 'sorted(n["id"] for n in d["nodes"])' <"$tmp/stdout" | tr '\n' ' ')" = \
	"api:checkout-api api:payments-api service:checkout service:frontend " ] ||
	fail "blast radius of service:payments"
ok "blast radius of service:payments: checkout, frontend, payments-api, checkout-api"

q owners service:frontend
[ "$(pyj '(d["claim"], d["conflict"], sorted(d["owners"]))' <"$tmp/stdout")" = \
	"('owns', True, ['team:catalog', 'team:checkout'])" ] || fail "owners of service:frontend"
ok "owners of service:frontend: conflict between team:catalog and team:checkout"

for x in service:shipping system:orders domain:commerce git:github.com/acme-shop/shipping; do
	q owners "$x"
	[ "$(pyj '(d["claim"], d["owners"])' <"$tmp/stdout")" = "('unowned', [])" ] || fail "$x is not unowned"
done
q owners service:payments
[ "$(pyj '(d["claim"], d["owners"])' <"$tmp/stdout")" = "('owns', ['team:payments'])" ] || fail "owners of service:payments"
ok "service:shipping, system:orders, domain:commerce (and the shipping repository) are unowned"

q owners git:github.com/acme-shop/payments
[ "$(pyj '(d["claim"], d["owners"])' <"$tmp/stdout")" = "('owns', ['team:payments'])" ] ||
	fail "owners of the payments repository"
q owners git:github.com/acme-shop/frontend
[ "$(pyj 'sorted(d["owners"])' <"$tmp/stdout" | tr '\n' ' ')" = "team:catalog team:checkout " ] ||
	fail "owners of the frontend repository"
export_db "$DB"
E=$tmp/export/edges.jsonl
N=$tmp/export/nodes.jsonl
has_line '{"src":"team:payments","dst":"git:github.com/acme-shop/payments","type":"OWNS","props":{"evidence":".github/CODEOWNERS:3 * @acme-shop/payments","rule":"codeowners"}}' "$E" ||
	fail "no codeowners OWNS edge from the catch-all on line 3 (not the last line) of payments' CODEOWNERS"
has_line '{"src":"team:checkout","dst":"git:github.com/acme-shop/cart","type":"OWNS","props":{"evidence":"CODEOWNERS:2 * @acme-shop/checkout","rule":"codeowners"}}' "$E" ||
	fail "no codeowners OWNS edge from cart's root CODEOWNERS"
has_line '{"src":"team:platform","dst":"git:github.com/acme-shop/currency","type":"OWNS","props":{"evidence":"docs/CODEOWNERS:1 * @acme-shop/platform","rule":"codeowners"}}' "$E" ||
	fail "no codeowners OWNS edge from currency's docs/CODEOWNERS"
[ "$(grep -c '"dst":"git:github.com/acme-shop/[a-z-]*","type":"OWNS"' "$E")" = 12 ] ||
	fail "expected 12 CODEOWNERS OWNS edges (11 repositories, frontend twice, none for shipping)"
ok "CODEOWNERS: repositories owned by their catch-all rule's teams (.github/, root, docs/; not last line)"

ns_of() { case "$1" in email|currency) echo platform ;; *) echo shop ;; esac; }
for s in frontend catalog search recommendations checkout cart payments shipping email currency; do
	has_line "{\"src\":\"k8s:prod/$(ns_of $s)/Deployment/$s\",\"dst\":\"service:$s\",\"type\":\"RUNS\",\"props\":{\"evidence\":\"label app.kubernetes.io/name=$s\",\"rule\":\"k8s-label-name\"}}" "$E" ||
		fail "no RUNS edge with rule and evidence from the $s Deployment"
	has_line "{\"src\":\"k8s:prod/$(ns_of $s)/Service/$s\",\"dst\":\"k8s:prod/$(ns_of $s)/Deployment/$s\",\"type\":\"SELECTS\",\"props\":{\"evidence\":\"app.kubernetes.io/name=$s\",\"rule\":\"selector\"}}" "$E" ||
		fail "no SELECTS edge from the $s Service"
done
[ "$(grep -c '"type":"RUNS","props":{"evidence":"label app.kubernetes.io/name=' "$E")" = 10 ] || fail "not exactly 10 RUNS from Deployments"
has_line '{"src":"k8s:prod/shop/Ingress/storefront","dst":"k8s:prod/shop/Service/checkout","type":"ROUTES_TO","props":{}}' "$E" ||
	fail "the Ingress (frontend repository) does not route to checkout's Service (checkout repository)"
ok "manifests: 10 Deployments RUN their service (rule k8s-label-name, evidence), Services SELECT them, the Ingress routes across repositories"

tf=tf:prod/aws_db_instance.payments
has_line "{\"src\":\"$tf\",\"dst\":\"service:payments\",\"type\":\"RUNS\",\"props\":{\"evidence\":\"tag service=payments\",\"rule\":\"terraform-tag\"}}" "$E" ||
	fail "no RUNS edge with rule and evidence from $tf"
has_line "{\"src\":\"$tf\",\"dst\":\"service:payments\",\"type\":\"BILLED_TO\",\"props\":{\"evidence\":\"tag service=payments\",\"rule\":\"terraform-tag\"}}" "$E" ||
	fail "no BILLED_TO edge from $tf"
has_line "{\"src\":\"team:payments\",\"dst\":\"$tf\",\"type\":\"OWNS\",\"props\":{\"evidence\":\"tag team=payments\",\"rule\":\"terraform-tag\"}}" "$E" ||
	fail "no OWNS edge from the team tag of $tf"
grep -qF "{\"src\":\"$tf\",\"dst\":\"tf:prod/aws_kms_key.payments\",\"type\":\"DEPENDS_ON\"," "$E" ||
	fail "no DEPENDS_ON from the state's dependencies"
[ "$(grep -c '"type":"DEPENDS_ON"' "$E")" = 3 ] || fail "DEPENDS_ON: want 3 (1 Terraform, 2 dependsOn)"
grep -qF '"type":"BILLED_TO","props":{"evidence":"tag team=platform","rule":"terraform-tag"}' "$E" ||
	fail "no BILLED_TO to a team from a CloudResource without a service tag"
ok "Terraform: tags link $tf (RUNS, BILLED_TO, OWNS with rule/evidence), dependencies give DEPENDS_ON"

repo_prop() { # REPO KEY: a property of a Repository node in the export
	grep -F "{\"id\":\"git:github.com/acme-shop/$1\",\"type\":\"Repository\"" "$N" | pyj "d['props']['$2']"
}
[ "$(repo_prop payments commits_90d)" = 2 ] || fail "payments: commits_90d $(repo_prop payments commits_90d), want 2"
[ "$(repo_prop infra commits_90d)" = 3 ] || fail "infra: commits_90d, want 3"
[ "$(repo_prop shipping commits_90d)" = 0 ] || fail "shipping: commits_90d, want 0"
[ "$(repo_prop payments top_authors | tr '\n' ';')" = "Alice Andersen (1);Bob Baptiste (1);" ] || fail "payments: top_authors"
[ "$(repo_prop payments head_commit)" = "$(g "$tmp/repos/payments" rev-parse HEAD)" ] || fail "payments: head_commit"
grep -qF '{"src":"service:payments","dst":"git:github.com/acme-shop/payments","type":"DEFINED_IN","props":{"path":"catalog-info.yaml"}}' "$E" ||
	fail "service:payments is not DEFINED_IN its repository"
grep -qF '{"src":"resource:payments-db","dst":"git:github.com/acme-shop/infra","type":"DEFINED_IN","props":{"path":"catalog/resources.yaml"}}' "$E" ||
	fail "the Location of the infra repository was not followed"
ok "repositories: ids from option id, commit activity from examples/shop/history, Locations followed"

# ---------------------------------------------------------------- secrets
grep -qF "$PASSWORD" "$SHOP/terraform/prod.tfstate" || fail "the test's password is not in the state any more"
for f in "$DB"/*; do
	c=$(grep -c -F -- "$PASSWORD" "$f" || true)
	[ "$c" = 0 ] || fail "the Terraform password is in $(basename "$f") ($c times)"
done
[ ! -e "$tmp/cache" ] || ! grep -rqF -- "$PASSWORD" "$tmp/cache" || fail "the Terraform password is in the cache"
ok "the sensitive password of the state is in no file of the store"

# ---------------------------------------------------------------- second sync
run "$ST" sync --config "$CFG"
expect_rc 0 "second sync"
for r in "${repos[@]}"; do
	grep -qE "^$r: unchanged \(" "$tmp/stdout" || fail "second sync: $r is not unchanged"
done
ok "second sync: every Git source unchanged"

# ---------------------------------------------------------------- plus the import
cp -a "$DB" "$tmp/full"
run "$ST" import --db "$tmp/full" --source example-runtime "$SHOP"/import/nodes.jsonl \
	"$SHOP"/import/edges.jsonl "$SHOP"/import/costs.jsonl
expect_rc 0 "import of examples/shop/import"
run "$ST" verify --db "$tmp/full"
expect_rc 0 "verify after the import"
run "$ST" stats --db "$tmp/full" --json
[ "$(pyj 'd["nodes"], d["cost_facts"]' <"$tmp/stdout")" = "(113, 390)" ] || fail "sync + import: not the 113 nodes and 390 cost facts of the estate"
export_db "$tmp/full"
for kind in nodes edges; do
	python3 - "$ROOT/examples/estate/$kind.jsonl" "$tmp/export/$kind.jsonl" <<-'EOF' ||
	import json, sys
	def load(path):
	    out = {}
	    for line in open(path, encoding="utf-8"):
	        if line.strip():
	            r = json.loads(line)
	            out[r["id"] if "id" in r else (r["src"], r["type"], r["dst"])] = r.get("type")
	    return out
	want, have = load(sys.argv[1]), load(sys.argv[2])
	bad = [k for k in want if have.get(k) != want[k]]
	sys.exit(f"missing or of another type: {bad[:5]}" if bad else 0)
	EOF
		fail "sync + import lacks records of examples/estate/$kind.jsonl"
done
DB_SAVE=$DB
DB=$tmp/full
q blast-radius tf:prod/aws_db_instance.payments
[ "$(pyj 'sorted(n["id"] for n in d["nodes"])' <"$tmp/stdout" | tr '\n' ' ')" = \
	"api:checkout-api api:payments-api resource:payments-db service:checkout service:frontend service:payments " ] ||
	fail "blast radius of the payments database after the import (the 6 nodes of the README)"
q cost --by team --from 2026-10-01 --to 2026-10-31
[ "$(pyj 'sorted("%s %s %s" % (r["group"], r["currency"], r["amount"]) for r in d["rows"])' <"$tmp/stdout" | tr '\n' ' ')" = \
	"None USD 92.911886 team:catalog USD 428.028383 team:checkout USD 148.32 team:payments USD 226.911318 team:platform EUR 15.9 team:platform USD 495.144236 " ] ||
	fail "cost by team after the import"
DB=$DB_SAVE
run "$ST" unmatched --db "$tmp/full" --json
expect_rc 1 "unmatched after the import"
[ "$(pyj '[(u["what"], u["id"]) for u in d["unmatched"]]' <"$tmp/stdout")" = \
	"('no-link', 'bill:aws/nat-0d3e5f7a9b1c2e4f6')" ] || fail "unmatched after the import"
ok "sync + import: every record of examples/estate, blast radius (6 nodes) and cost by team as in its README"

# ---------------------------------------------------------------- a ref moves
R=$tmp/repos/cart
g "$R" rm -q deploy/deployment.yaml
commit "$R" "Move cart to the new platform chart"
run "$ST" sync --config "$CFG"
expect_rc 0 "sync after removing cart's Deployment"
grep -qE '^cart: revision [0-9]+ in .* retired 1 nodes and [0-9]+ edges$' "$tmp/stdout" || fail "cart: did not retire one node"
for r in "${repos[@]}"; do
	[ "$r" = cart ] || grep -qE "^$r: unchanged \(" "$tmp/stdout" || fail "$r is not unchanged"
done
export_db "$DB"
! grep -qF 'k8s:prod/shop/Deployment/cart"' "$tmp/export/nodes.jsonl" || fail "cart's Deployment is still there"
! grep -qF 'k8s:prod/shop/Deployment/cart"' "$tmp/export/edges.jsonl" || fail "an edge of cart's Deployment is still there"
grep -qF '{"id":"k8s:prod/shop/Service/cart","type":"KubernetesService"' "$tmp/export/nodes.jsonl" || fail "cart's Service was retired too"
grep -qF '{"id":"service:cart","type":"Service"' "$tmp/export/nodes.jsonl" || fail "service:cart was retired"
grep -qF '{"id":"k8s:prod/shop/Deployment/checkout","type":"KubernetesDeployment"' "$tmp/export/nodes.jsonl" || fail "another Deployment went"
run "$ST" stats --db "$DB" --json
[ "$(pyj 'd["node_types"]["KubernetesDeployment"], d["nodes"]' <"$tmp/stdout")" = "(9, 80)" ] || fail "after the retirement: want 9 Deployments, 80 nodes"
ok "a commit removing cart's Deployment retires it (and its edges) and nothing else"

# The same commit synced into the store with the import: the imported
# declaration of the cluster survives the manifests' reference to it.
run "$ST" sync --config "$CFG" --db "$tmp/full" --source cart
expect_rc 0 "sync of cart into the store with the import"
export_db "$tmp/full"
has_line '{"id":"k8s:prod","type":"KubernetesCluster","props":{"name":"prod","server":"https://4C1F8E2A9B7D.gr7.eu-west-1.eks.amazonaws.com","version":"v1.31.4"}}' "$tmp/export/nodes.jsonl" ||
	fail "the cluster lost the properties of its imported declaration"
! grep -qF '"id":"k8s:prod/shop/Deployment/cart"' "$tmp/export/nodes.jsonl" || fail "cart's Deployment is still in the store with the import"
grep -qF '"type":"KubernetesReplicaSet"' "$tmp/export/nodes.jsonl" || fail "the imported replica sets are gone"
ok "a later sync keeps the imported cluster declaration"

# ---------------------------------------------------------------- malformed catalog
# checkout's catalog-info.yaml declares service:checkout and api:checkout-api.
R=$tmp/repos/checkout
line=$(grep -n -m1 '^  lifecycle: production$' "$R/catalog-info.yaml" | cut -d: -f1)
[ -n "$line" ] || fail "checkout/catalog-info.yaml has no lifecycle line"
sed -i "${line}s/.*/  lifecycle: production: true/" "$R/catalog-info.yaml"
g "$R" add catalog-info.yaml
commit "$R" "Lifecycle"
run "$ST" sync --config "$CFG" --source checkout
expect_rc 0 "sync of a repository with a malformed catalog-info.yaml"
grep -q "^warning: checkout:catalog-info.yaml:$line: " "$tmp/stderr" || fail "no warning checkout:catalog-info.yaml:$line"
[ "$(wc -l <"$tmp/stderr")" = 1 ] || fail "more than one warning"
grep -qE '^checkout: revision [0-9]+ in .* 1 warnings, retired 0 nodes and 0 edges$' "$tmp/stdout" ||
	fail "the malformed file's entities were retired"
rev_broken=$(sed -n 's/^checkout: revision \([0-9]*\) .*/\1/p' "$tmp/stdout")
warning=$(sed -n 's/^warning: //p' "$tmp/stderr")
export_db "$DB"
for l in '{"id":"service:checkout","type":"Service"' \
	'{"id":"api:checkout-api","type":"API"' \
	'{"src":"team:checkout","dst":"service:checkout","type":"OWNS"' \
	'{"src":"service:checkout","dst":"system:orders","type":"PART_OF"' \
	'{"src":"service:checkout","dst":"api:checkout-api","type":"PROVIDES_API"' \
	'{"src":"service:checkout","dst":"api:payments-api","type":"CONSUMES_API"' \
	'{"src":"service:checkout","dst":"git:github.com/acme-shop/checkout","type":"DEFINED_IN"'; do
	grep -qF "$l" "$tmp/export/nodes.jsonl" "$tmp/export/edges.jsonl" || fail "gone after the malformed commit: $l"
done
q blast-radius tf:prod/aws_db_instance.payments
[ "$(pyj 'sorted(n["id"] for n in d["nodes"])' <"$tmp/stdout" | tr '\n' ' ')" = \
	"api:checkout-api api:payments-api service:checkout service:frontend service:payments " ] ||
	fail "blast radius of the payments database changed with the malformed catalog"
run "$ST" sources --config "$CFG" --json
[ "$(pyj '[(s["result"], s["counts"]["warnings"], s["warnings"][0]) for s in d["sources"] if s["source"] == "checkout"]' <"$tmp/stdout")" = \
	"('committed', 1, '$warning')" ] ||
	fail "sources: the warning is not in checkout's status"
ok "a malformed catalog-info.yaml: warning checkout:catalog-info.yaml:$line; its entities, edges and the blast radius stay"

# The entities are kept with their provenance of the last good read: seen
# through the API of `serve --config` (token by file reference).
"$ST" serve --config "$CFG" --listen 127.0.0.1:0 >"$tmp/serve.out" 2>"$tmp/serve.err" &
server_pid=$!
for _ in $(seq 100); do
	[ -s "$tmp/serve.out" ] && break
	sleep 0.1
done
first=$(head -n1 "$tmp/serve.out")
case "$first" in
"listening on http://127.0.0.1:"[0-9]*) ;;
*) fail "serve --config: no listening line ('$first'): $(cat "$tmp/serve.err")" ;;
esac
port=${first##*:}
api() { # PATH [TOKEN]: GET, body on stdout, "HTTP <code>" on the last line
	python3 - "$port" "$1" "${2:-}" <<-'EOF'
	import sys, urllib.request, urllib.error
	req = urllib.request.Request(f"http://127.0.0.1:{sys.argv[1]}{sys.argv[2]}")
	if sys.argv[3]:
	    req.add_header("Authorization", "Bearer " + sys.argv[3])
	try:
	    with urllib.request.urlopen(req, timeout=10) as r:
	        print(r.read().decode()); print("HTTP", r.status)
	except urllib.error.HTTPError as e:
	    print(e.read().decode()); print("HTTP", e.code)
	EOF
}
api "/api/v1/node?id=api:checkout-api" >"$tmp/stdout"
cp "$tmp/stdout" "$OUT/api-anonymous"
[ "$(tail -n1 "$tmp/stdout")" = "HTTP 401" ] || fail "serve --config: a request without the token was not refused"
token=$(cat "$tmp/token")
api "/api/v1/node?id=api:checkout-api" "$token" >"$tmp/stdout"
cp "$tmp/stdout" "$OUT/api-node"
[ "$(tail -n1 "$tmp/stdout")" = "HTTP 200" ] || fail "serve --config: the token of the config's file was refused"
[ "$(sed '$d' "$tmp/stdout" | pyj '[(p["origin"], p["last_revision"]) for p in d["provenance"] if p["source"] == "checkout"]')" = \
	"('checkout:catalog-info.yaml', $rev_checkout)" ] ||
	fail "api:checkout-api: provenance is not the last good read (revision $rev_checkout)"
api "/api/v1/node?id=k8s:prod/shop/Deployment/checkout" "$token" >"$tmp/stdout"
cp "$tmp/stdout" "$OUT/api-deployment"
[ "$(sed '$d' "$tmp/stdout" | pyj '[p["last_revision"] for p in d["provenance"] if p["source"] == "checkout"]')" = "$rev_broken" ] ||
	fail "the Deployment of the same repository was not re-read at revision $rev_broken"
kill -TERM "$server_pid"
wait "$server_pid" || fail "serve did not stop cleanly on SIGTERM"
server_pid=
ok "serve --config: api:checkout-api keeps its entry of revision $rev_checkout, the re-read Deployment has $rev_broken"

# ---------------------------------------------------------------- secrets, again
grep -rlF -- "$PASSWORD" "$OUT" "$DB" "$tmp/full" "$tmp/serve.out" "$tmp/serve.err" >"$tmp/leaks" || true
[ ! -s "$tmp/leaks" ] || fail "the Terraform password leaked into: $(cat "$tmp/leaks")"
[ "$(ls "$OUT" | wc -l)" -gt 40 ] || fail "the outputs were not collected"
ok "the password is in none of the $(ls "$OUT" | wc -l) outputs and in neither store"

run "$ST" verify --db "$DB"
expect_rc 0 "verify"
ok "verify: the store is consistent ($checks checks)"
