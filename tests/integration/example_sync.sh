#!/usr/bin/env bash
# example_sync.sh — integration test of the example estate as real sources
# (examples/shop/): Git repositories made by scripts/example-repos.sh, the
# Terraform state, the Kubernetes dumps, the saved Prometheus responses, the
# FOCUS export, the config; `stacktwin sync`, `sources`, `unmatched`,
# `query`, `import` and `serve --config` against them (docs/sync.md).
#
# Usage: example_sync.sh STACKTWIN_BINARY SOURCE_ROOT
#
# Everything happens in a temporary directory: the repositories are created
# there (the script takes DEST), the Kubernetes dumps and the FOCUS export
# are copied there (the test edits them), and the config is a copy of
# examples/shop/stacktwin.yaml with its paths pointed there.  It checks:
#   - the repositories are deterministic and the script idempotent, and the
#     files examples/shop/split.py writes are up to date with examples/estate/;
#   - the first sync commits every source (all five kinds) without warnings,
#     the second prints `unchanged` for every Git source;
#   - the known answers of examples/estate/README.md that the sources cover
#     (blast radius of the payments database and of service:payments with
#     the runtime calls, owners: the frontend conflict, unowned shipping;
#     cost by team, system and service, the unattributed cost), CODEOWNERS
#     owners of repositories, link edges with rule and evidence, commit
#     activity, the Kubernetes objects, runtime calls and billing resources;
#   - the Terraform password reaches neither the store nor any output;
#   - sync + examples/shop/import/ give the whole estate and its answers;
#   - a commit removing a manifest drops Git's claim on that object, and the
#     dump without it retires it, and nothing else;
#   - a malformed FOCUS row fails the billing sync naming the row (the last
#     good costs stay); with on_error: skip it is counted and left out;
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
expect_rc 0 "examples/shop/split.py --check (k8s/, prometheus/, billing/ or import/ stale?)"
ok "examples/shop/{k8s,prometheus,billing,import}/ are what split.py makes of examples/estate"

# ---------------------------------------------------------------- config
sed -e "s|\.\./\.\./var/shop/repos/|$tmp/repos/|" \
	-e "s|^store: \.\./\.\./var/shop\.db\$|store: $DB|" \
	-e "s|^cache: \.\./\.\./var/shop-cache\$|cache: $tmp/cache|" \
	-e "s|file: \.\./\.\./var/token}|file: $tmp/token}|" \
	-e "s|^  web: \.\./\.\./web\$|  web: $ROOT/web|" \
	-e "s|location: terraform/prod\.tfstate\$|location: $SHOP/terraform/prod.tfstate|" \
	-e "s|location: k8s\$|location: $tmp/k8s|" \
	-e "s|location: prometheus/otel\.json\$|location: $SHOP/prometheus/otel.json|" \
	-e "s|location: billing/focus\.csv\$|location: $tmp/billing/focus.csv|" \
	"$SHOP/stacktwin.yaml" >"$CFG"
! grep -n '\.\./' "$CFG" || fail "a relative path is left in the config copy"
[ "$(grep -c 'location: /' "$CFG")" = "$(grep -c 'location: ' "$CFG")" ] || fail "a relative location is left in the config copy"
[ "$(grep -c "location: $tmp/repos/" "$CFG")" = "${#repos[@]}" ] || fail "config: not one git source per repository"
cp -R "$SHOP/k8s" "$tmp/k8s"
mkdir "$tmp/billing"
cp "$SHOP/billing/focus.csv" "$tmp/billing/focus.csv"
(umask 077 && echo "example-sync-test-token" >"$tmp/token")
sources=$(sed -n 's/^  - name: //p' "$CFG")
[ "$(echo "$sources" | wc -l)" = 16 ] || fail "config: expected 16 sources, got: $sources"

# ---------------------------------------------------------------- first sync
run "$ST" sync --config "$CFG"
expect_rc 0 "first sync"
[ ! -s "$tmp/stderr" ] || fail "first sync warned"
for s in $sources; do
	grep -qE "^$s: revision [0-9]+ in " "$tmp/stdout" || fail "sync: no commit line for $s"
done
[ "$(wc -l <"$tmp/stdout")" = 16 ] || fail "sync: not one line per source"
rev_checkout=$(sed -n 's/^checkout: revision \([0-9]*\) .*/\1/p' "$tmp/stdout")
ok "first sync commits each of the 16 sources once, no warnings"

run "$ST" sources --config "$CFG" --json
expect_rc 0 "sources --json"
[ "$(pyj 'sorted((s["source"], s["result"], s["last_error"]) for s in d["sources"])' <"$tmp/stdout")" = \
	"$(for s in $sources; do echo "('$s', 'committed', None)"; done | sort)" ] ||
	fail "sources: not every configured source committed without error"
[ "$(pyj '[s["kind"] for s in d["sources"] if s["source"] == "terraform-prod"]' <"$tmp/stdout")" = terraform ] ||
	fail "sources: terraform-prod is not a terraform source"
[ "$(pyj '" ".join(sorted({s["kind"] for s in d["sources"] if s["result"] == "committed"}))' <"$tmp/stdout")" = \
	"focus git k8s prometheus terraform" ] || fail "sources: not all five source kinds committed"
[ "$(pyj 'sorted((s["source"], s["kind"], s["counts"]["nodes"], s["counts"]["edges"], s["counts"]["cost_facts"], s["counts"]["warnings"]) for s in d["sources"] if s["source"] in ("k8s-prod", "service-graph", "billing"))' <"$tmp/stdout" | tr '\n' ' ')" = \
	"('billing', 'focus', 13, 0, 390, 0) ('k8s-prod', 'k8s', 43, 76, 0, 0) ('service-graph', 'prometheus', 10, 15, 0, 0) " ] ||
	fail "sources: the cluster dump, the service graph or the FOCUS export did not give what examples/estate has"
ok "sources --json: all 16 committed, no errors; kinds git, terraform, k8s, prometheus, focus"

# The billing resources of the NAT gateway (created by hand) and of the
# Hetzner server match no Terraform resource by ResourceId, and the NAT
# gateway has no tags either: its cost is unattributed on purpose.
# Nothing else is unmatched (the cluster dump declares k8s:prod).
run "$ST" unmatched --config "$CFG" --json
expect_rc 1 "unmatched"
[ "$(pyj '[(u["what"], u["id"]) for u in d["unmatched"]]' <"$tmp/stdout" | tr '\n' ' ')" = \
	"('hint', 'bill:aws/nat-0d3e5f7a9b1c2e4f6') ('hint', 'bill:hetzner/server-31415926') ('no-link', 'bill:aws/nat-0d3e5f7a9b1c2e4f6') " ] ||
	fail "unmatched: $(cat "$tmp/stdout")"
ok "unmatched: only the NAT gateway (no link) and the two billing ids without a Terraform resource"

run "$ST" stats --db "$DB" --json
expect_rc 0 "stats"
[ "$(pyj '" ".join("%s=%d" % (t, d["node_types"][t]) for t in ("Domain", "System", "Team", "User", "Service", "API", "Resource", "Repository", "KubernetesCluster", "KubernetesNamespace", "KubernetesNode", "KubernetesDeployment", "KubernetesReplicaSet", "KubernetesPod", "KubernetesService", "KubernetesIngress", "CloudResource", "BillingResource", "Workload"))' <"$tmp/stdout")" = \
	"Domain=2 System=4 Team=4 User=8 Service=10 API=4 Resource=2 Repository=12 KubernetesCluster=1 KubernetesNamespace=2 KubernetesNode=3 KubernetesDeployment=10 KubernetesReplicaSet=10 KubernetesPod=6 KubernetesService=10 KubernetesIngress=1 CloudResource=11 BillingResource=13 Workload=10" ] ||
	fail "node counts by type: $(cat "$tmp/stdout")"
[ "$(pyj 'd["nodes"], d["cost_facts"]' <"$tmp/stdout")" = "(123, 390)" ] ||
	fail "synced nodes and cost facts: want 123 (the estate's 113 plus 10 Prometheus Workloads) and 390"
ok "the sources give every node type and count of examples/estate (plus 10 Workloads) and its 390 cost facts"

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

# The runtime part: checkout and frontend are reached over the CALLS that the
# sync lifted from the Prometheus workloads onto the services.
q blast-radius tf:prod/aws_db_instance.payments
[ "$(pyj 'sorted((n["id"], n["edge"], n["distance"]) for n in d["nodes"] if n["type"] == "Service")' <"$tmp/stdout" | tr '\n' ' ')" = \
	"('service:checkout', 'CALLS', 2) ('service:frontend', 'CALLS', 3) ('service:payments', 'RUNS', 1) " ] ||
	fail "blast radius of the payments database: checkout and frontend not reached over the runtime CALLS"
# The Kubernetes part: the node ip-10-0-1-23 runs a frontend and a payments
# pod (examples/estate): their ReplicaSets, Deployments, Services, the
# Ingress, the two services, and checkout (calls payments) depend on it.
q blast-radius k8s:prod/Node/ip-10-0-1-23.eu-west-1.compute.internal
[ "$(pyj 'sorted(n["id"] for n in d["nodes"])' <"$tmp/stdout" | tr '\n' ' ')" = \
	"api:checkout-api api:payments-api k8s:prod/shop/Deployment/frontend k8s:prod/shop/Deployment/payments k8s:prod/shop/Ingress/storefront k8s:prod/shop/Pod/frontend-mxztmx6sfk-rd998 k8s:prod/shop/Pod/payments-g6bvrswbfl-fg54r k8s:prod/shop/ReplicaSet/frontend-mxztmx6sfk k8s:prod/shop/ReplicaSet/payments-g6bvrswbfl k8s:prod/shop/Service/frontend k8s:prod/shop/Service/payments service:checkout service:frontend service:payments " ] ||
	fail "blast radius of a Kubernetes node (pods RUNS_ON it, CONTROLLED_BY up to the Deployments)"
ok "blast radius with the runtime calls (CALLS from checkout, frontend) and through the cluster (node -> pods -> ReplicaSets -> Deployments -> services)"

# Cost: the known answers of examples/estate/README.md, from the FOCUS export
# alone.  By system (not in that README; from its per-resource table):
# storefront = catalog + search, orders = cart + payments + shipping,
# messaging = the Hetzner server (service:email); what is billed to
# team:platform directly and the NAT gateway belong to no system.
cost_rows() { pyj 'sorted("%s %s %s" % (r["group"], r["currency"], r["amount"]) for r in d["rows"])' <"$tmp/stdout" | tr '\n' ' '; }
q cost --by team --from 2026-10-01 --to 2026-10-31
[ "$(cost_rows)" = "None USD 92.911886 team:catalog USD 428.028383 team:checkout USD 148.32 team:payments USD 226.911318 team:platform EUR 15.9 team:platform USD 495.144236 " ] ||
	fail "cost by team: $(cost_rows)"
[ "$(pyj 'sorted((t["currency"], t["amount"], t["facts"]) for t in d["totals"])' <"$tmp/stdout" | tr '\n' ' ')" = \
	"('EUR', 15.9, 30) ('USD', 1391.315823, 360) " ] || fail "cost totals"
q cost --by team --from 2026-10-01 --to 2026-10-31 --metric billed
[ "$(cost_rows)" = "None USD 92.911886 team:catalog USD 428.028383 team:checkout USD 148.32 team:payments USD 348.54063 team:platform EUR 15.9 team:platform USD 621.6131 " ] ||
	fail "billed cost by team: $(cost_rows)"
[ "$(pyj 'sorted((t["currency"], t["amount"]) for t in d["totals"])' <"$tmp/stdout" | tr '\n' ' ')" = \
	"('EUR', 15.9) ('USD', 1639.413999) " ] || fail "billed cost totals"
q cost --by system --from 2026-10-01 --to 2026-10-31
[ "$(cost_rows)" = "None USD 584.511628 system:messaging EUR 15.9 system:orders USD 378.775812 system:storefront USD 428.028383 " ] ||
	fail "cost by system: $(cost_rows)"
q cost --by service --from 2026-10-01 --to 2026-10-31
[ "$(cost_rows)" = "None USD 89.367392 service:cart USD 148.32 service:catalog USD 105.077871 service:email EUR 15.9 service:payments USD 226.911318 service:search USD 322.950512 service:shipping USD 3.544494 team:platform USD 495.144236 " ] ||
	fail "cost by BILLED_TO target: $(cost_rows)"
ok "cost by team (effective and billed), by system and by service as in examples/estate; unattributed: USD 89.367392 (NAT gateway), by team 92.911886 (+ unowned shipping)"

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

# The cluster dump, the service graph and the FOCUS export against
# examples/estate: every edge of the estate between Kubernetes objects with
# its properties, the Kubernetes properties the estate has, the CALLS between
# services (rule runtime-lift, the workloads as evidence), SAME_AS from every
# billing resource that has a Terraform resource, BILLED_TO from billing tags,
# and the cost facts byte for byte.
python3 - "$ROOT/examples/estate" "$tmp/export" <<-'EOF' || fail "the synced Kubernetes, runtime or billing records differ from examples/estate"
	import json, sys
	def load(path):
	    return [json.loads(l) for l in open(path, encoding="utf-8") if l.strip()]
	est, got = sys.argv[1], sys.argv[2]
	en = {n["id"]: n for n in load(est + "/nodes.jsonl")}
	gn = {n["id"]: n for n in load(got + "/nodes.jsonl")}
	ee = {(e["src"], e["type"], e["dst"]): e for e in load(est + "/edges.jsonl")}
	ge = {(e["src"], e["type"], e["dst"]): e for e in load(got + "/edges.jsonl")}
	bad = []
	for i, n in en.items():
	    if not i.startswith(("k8s:", "bill:")):
	        continue
	    g = gn.get(i)
	    if not g or g["type"] != n["type"]:
	        bad.append(("node", i)); continue
	    for k in ("uid", "replicas", "image", "node_name", "phase", "selector", "service_type", "hosts",
	              "instance_type", "zone", "provider_id", "cluster", "namespace", "account", "region",
	              "service_name", "provider"):
	        if n["props"].get(k) != g["props"].get(k):
	            bad.append((i, k, n["props"].get(k), g["props"].get(k)))
	for k, e in ee.items():
	    s, t, d = k
	    if t in ("CONTROLLED_BY", "SCOPED_IN", "SELECTS", "ROUTES_TO") or (t == "RUNS_ON" and s.startswith("k8s:prod/") and "/Pod/" in s):
	        if k not in ge:
	            bad.append(("edge", k))
	    elif t == "CALLS":
	        g = ge.get(k, {}).get("props", {})
	        want = {p: e["props"][p] for p in ("request_rate", "error_rate", "latency_p99_ms")}
	        want.update(rule="runtime-lift", evidence="workload:%s -> workload:%s" % (s[8:], d[8:]))
	        if g != want:
	            bad.append(("CALLS", k, g))
	    elif t == "SAME_AS":
	        if ge.get(k, {}).get("props", {}).get("rule") != "billing-resource-id":
	            bad.append(("SAME_AS", k))
	    elif t == "BILLED_TO":
	        if ge.get(k, {}).get("props", {}).get("rule") != "billing-tag":
	            bad.append(("BILLED_TO", k))
	n_calls = sum(1 for (s, t, d) in ge if t == "CALLS" and s.startswith("service:"))
	if n_calls != 15:
	    bad.append(("service CALLS", n_calls))
	if open(est + "/costs.jsonl", "rb").read() != open(got + "/costs.jsonl", "rb").read():
	    bad.append("costs.jsonl")
	sys.exit(f"differences: {bad[:5]}" if bad else 0)
	EOF
has_line '{"id":"k8s:prod","type":"KubernetesCluster","props":{"name":"prod"}}' "$N" ||
	fail "the cluster is not declared by the dump (name only)"
ok "cluster dump, service graph, FOCUS export: the estate's Kubernetes objects and edges, 15 service CALLS (runtime-lift), SAME_AS by ResourceId, BILLED_TO by tag, the 390 cost facts byte for byte"

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
# What no connector produces: 11 edges (examples/shop/split.py).
[ "$(ls "$SHOP/import")" = edges.jsonl ] || fail "examples/shop/import/ holds more than edges.jsonl"
cp -a "$DB" "$tmp/full"
run "$ST" import --db "$tmp/full" --source example-runtime "$SHOP"/import/edges.jsonl
expect_rc 0 "import of examples/shop/import"
grep -qF 'imported 0 nodes, 11 edges, 0 cost facts' "$tmp/stdout" || fail "the import is not the 11 edges"
run "$ST" verify --db "$tmp/full"
expect_rc 0 "verify after the import"
run "$ST" stats --db "$tmp/full" --json
[ "$(pyj 'd["nodes"], d["cost_facts"]' <"$tmp/stdout")" = "(123, 390)" ] || fail "sync + import: not the 113 nodes of the estate (+ 10 Workloads) and its 390 cost facts"
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
[ "$(pyj '[(u["what"], u["id"]) for u in d["unmatched"]]' <"$tmp/stdout" | tr '\n' ' ')" = \
	"('hint', 'bill:aws/nat-0d3e5f7a9b1c2e4f6') ('hint', 'bill:hetzner/server-31415926') ('no-link', 'bill:aws/nat-0d3e5f7a9b1c2e4f6') " ] ||
	fail "unmatched after the import"
ok "sync + import: every record of examples/estate, blast radius (6 nodes) and cost by team as in its README"

# ---------------------------------------------------------------- a ref moves
R=$tmp/repos/cart
g "$R" rm -q deploy/deployment.yaml
commit "$R" "Move cart to the new platform chart"
run "$ST" sync --config "$CFG"
expect_rc 0 "sync after removing cart's Deployment"
# The cluster still runs it: Git's claim goes (its DECLARED_IN edge), the
# Deployment stays, declared by the cluster dump.
grep -qE '^cart: revision [0-9]+ in .* retired 0 nodes and 1 edges$' "$tmp/stdout" || fail "cart: did not retire exactly the DECLARED_IN edge"
for r in "${repos[@]}"; do
	[ "$r" = cart ] || grep -qE "^$r: unchanged \(" "$tmp/stdout" || fail "$r is not unchanged"
done
export_db "$DB"
grep -qF '{"id":"k8s:prod/shop/Deployment/cart","type":"KubernetesDeployment"' "$tmp/export/nodes.jsonl" || fail "cart's Deployment went with the manifest although the cluster runs it"
! grep -qF '{"src":"k8s:prod/shop/Deployment/cart","dst":"git:github.com/acme-shop/cart","type":"DECLARED_IN"' "$tmp/export/edges.jsonl" ||
	fail "cart's Deployment is still DECLARED_IN the repository"
# ... and a dump without it (and its ReplicaSet) retires it.
python3 - "$tmp/k8s" <<-'EOF' || fail "could not edit the dumps"
	import json, sys
	for name in ("deployments.json", "replicasets.json"):
	    path = sys.argv[1] + "/" + name
	    d = json.load(open(path, encoding="utf-8"))
	    d["items"] = [i for i in d["items"] if not i["metadata"]["name"].startswith("cart")]
	    json.dump(d, open(path, "w", encoding="utf-8"), indent=4)
	EOF
run "$ST" sync --config "$CFG" --source k8s-prod
expect_rc 0 "sync of the dump without cart's Deployment"
grep -qE '^k8s-prod: revision [0-9]+ in .* retired 2 nodes and [0-9]+ edges$' "$tmp/stdout" || fail "k8s-prod: did not retire two nodes"
export_db "$DB"
! grep -qF 'k8s:prod/shop/Deployment/cart"' "$tmp/export/nodes.jsonl" || fail "cart's Deployment is still there"
! grep -qF 'k8s:prod/shop/Deployment/cart"' "$tmp/export/edges.jsonl" || fail "an edge of cart's Deployment is still there"
! grep -qF 'k8s:prod/shop/ReplicaSet/cart-' "$tmp/export/nodes.jsonl" || fail "cart's ReplicaSet is still there"
grep -qF '{"id":"k8s:prod/shop/Service/cart","type":"KubernetesService"' "$tmp/export/nodes.jsonl" || fail "cart's Service was retired too"
grep -qF '{"id":"service:cart","type":"Service"' "$tmp/export/nodes.jsonl" || fail "service:cart was retired"
grep -qF '{"id":"k8s:prod/shop/Deployment/checkout","type":"KubernetesDeployment"' "$tmp/export/nodes.jsonl" || fail "another Deployment went"
run "$ST" stats --db "$DB" --json
[ "$(pyj 'd["node_types"]["KubernetesDeployment"], d["node_types"]["KubernetesReplicaSet"], d["nodes"]' <"$tmp/stdout")" = "(9, 9, 121)" ] ||
	fail "after the retirement: want 9 Deployments, 9 ReplicaSets, 121 nodes"
ok "a commit removing cart's Deployment drops Git's claim on it; the dump without it retires it (and its edges, its ReplicaSet) and nothing else"

# The same changes synced into the store with the import: the imported edges
# (user:heidi OWNS the cluster, the nodes RUN_ON the node group) survive.
run "$ST" sync --config "$CFG" --db "$tmp/full" --source cart --source k8s-prod
expect_rc 0 "sync of cart and the dump into the store with the import"
export_db "$tmp/full"
has_line '{"id":"k8s:prod","type":"KubernetesCluster","props":{"name":"prod"}}' "$tmp/export/nodes.jsonl" ||
	fail "the cluster is not the dump's declaration"
has_line '{"src":"user:heidi","dst":"k8s:prod","type":"OWNS","props":{}}' "$tmp/export/edges.jsonl" ||
	fail "the imported OWNS of the cluster is gone"
[ "$(grep -c '"dst":"tf:prod/module.eks.aws_eks_node_group.default","type":"RUNS_ON"' "$tmp/export/edges.jsonl")" = 3 ] ||
	fail "the imported RUNS_ON of the nodes are gone"
! grep -qF '"id":"k8s:prod/shop/Deployment/cart"' "$tmp/export/nodes.jsonl" || fail "cart's Deployment is still in the store with the import"
[ "$(grep -c '"type":"KubernetesReplicaSet"' "$tmp/export/nodes.jsonl")" = 9 ] || fail "not the 9 other ReplicaSets"
ok "a later sync keeps the imported edges"

# ---------------------------------------------------------------- malformed FOCUS row
# A valid extra charge (NAT gateway, 100 USD on 2026-10-30) and then a row
# one field short.  The default policy fails the run at that row: nothing of
# the file is committed, the last good costs stay.
F=$tmp/billing/focus.csv
nat_row=$(grep -m1 ',2026-10-30T00:00:00Z,.*,nat-0d3e5f7a9b1c2e4f6,' "$F" | tr -d '\r')
[ -n "$nat_row" ] || fail "no NAT gateway row on 2026-10-30 in the FOCUS export"
python3 - "$F" "$nat_row" <<-'EOF' || fail "could not edit the FOCUS export"
	import csv, io, sys
	path, row = sys.argv[1], next(csv.reader([sys.argv[2]]))
	header = next(csv.reader(open(path, encoding="utf-8", newline="")))
	row[header.index("BilledCost")] = row[header.index("EffectiveCost")] = "100"
	row[header.index("ListCost")] = row[header.index("ContractedCost")] = "100"
	out = io.StringIO()
	w = csv.writer(out, lineterminator="\r\n")
	w.writerow(row)
	w.writerow(row[:-1])  # no Tags cell: one field short
	open(path, "a", encoding="utf-8", newline="").write(out.getvalue())
	EOF
bad_line=$(wc -l <"$F")
run "$ST" sync --config "$CFG" --source billing
expect_rc 2 "sync of a FOCUS export with a malformed row"
grep -qxE "billing: FAILED after [0-9.]+ s: billing:focus.csv:$bad_line: 30 fields, the header has 31" "$tmp/stdout" ||
	fail "the failure does not name the row billing:focus.csv:$bad_line"
run "$ST" sources --config "$CFG" --json
[ "$(pyj '[(s["result"], s["last_error"]) for s in d["sources"] if s["source"] == "billing"]' <"$tmp/stdout")" = \
	"('failed', 'billing:focus.csv:$bad_line: 30 fields, the header has 31')" ] || fail "sources: billing is not failed with the row"
q cost --by service --from 2026-10-01 --to 2026-10-31
[ "$(pyj '[(r["currency"], r["amount"]) for r in d["rows"] if r["group"] is None] + sorted((t["currency"], t["amount"], t["facts"]) for t in d["totals"])' <"$tmp/stdout" | tr '\n' ' ')" = \
	"('USD', 89.367392) ('EUR', 15.9, 30) ('USD', 1391.315823, 360) " ] || fail "the costs changed with a failed billing sync"
ok "a malformed FOCUS row fails the billing sync (billing:focus.csv:$bad_line: 30 fields, the header has 31); the last good costs stay"

# With on_error: skip the run commits: the row is counted and left out, the
# valid extra charge is in.
sed -i "s|^    location: $tmp/billing/focus.csv\$|&\n    options: {on_error: skip}|" "$CFG"
grep -qxF '    options: {on_error: skip}' "$CFG" || fail "could not set on_error: skip"
run "$ST" sync --config "$CFG" --source billing
expect_rc 0 "sync with on_error: skip"
grep -qE '^billing: revision [0-9]+ in .* 390 cost facts, .* 2 warnings, retired 0 nodes and 0 edges$' "$tmp/stdout" ||
	fail "billing with on_error: skip did not commit"
grep -qxF "warning: billing:focus.csv:$bad_line: malformed row skipped: 30 fields, the header has 31" "$tmp/stderr" ||
	fail "no warning naming the skipped row"
grep -qxF "warning: billing:focus.csv: 1 malformed row skipped (on_error: skip), the first at billing:focus.csv:$bad_line" "$tmp/stderr" ||
	fail "no count of the skipped rows"
run "$ST" sources --config "$CFG" --json
[ "$(pyj '[(s["result"], s["last_error"], s["counts"]["warnings"], s["counts"]["cost_facts"]) for s in d["sources"] if s["source"] == "billing"]' <"$tmp/stdout")" = \
	"('committed', None, 2, 390)" ] || fail "sources: billing after on_error: skip"
q cost --by service --from 2026-10-01 --to 2026-10-31
[ "$(pyj '[(r["currency"], r["amount"]) for r in d["rows"] if r["group"] is None] + sorted((t["currency"], t["amount"], t["facts"]) for t in d["totals"])' <"$tmp/stdout" | tr '\n' ' ')" = \
	"('USD', 189.367392) ('EUR', 15.9, 30) ('USD', 1491.315823, 360) " ] || fail "the costs after on_error: skip"
ok "with on_error: skip the billing sync commits, counts the malformed row (warning at line $bad_line) and keeps the valid extra charge"

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
