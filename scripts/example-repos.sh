#!/usr/bin/env bash
# scripts/example-repos.sh — turn the directory trees of examples/shop/repos/
# into Git repositories, with the commit history written down in
# examples/shop/history, for `stacktwin sync --config examples/shop/stacktwin.yaml`.
#
#   scripts/example-repos.sh [--anchor YYYY-MM-DD] [--quiet] [DEST]
#
# DEST defaults to var/shop/repos (what examples/shop/stacktwin.yaml reads);
# each repository becomes DEST/<name> (a repository with a work tree, branch
# main).
#
# Deterministic: authors, committers, dates and messages come from the
# history file, so the same anchor gives the same commit ids.  Commit dates
# are counted back from the anchor, by default the first day of the current
# month (UTC).  Commit activity (`commits_90d` of a Repository) is counted by
# the Git connector over the 90 days before the sync, and the history keeps
# every commit either within 59 days or more than 90 days before the anchor,
# so the counts are the same on every day of the month; the commit ids change
# once a month.  --anchor fixes the anchor instead (ids then never change; a
# date more than 31 days ago makes the recent commits age out of the window).
#
# Idempotent: a repository whose HEAD already is the commit this run would
# create, with a clean work tree, is left alone ("up to date"); anything else
# at DEST/<name> is replaced.  Other directories under DEST are not touched.
#
# Only the `git` CLI is used, always with an explicit --git-dir and
# --work-tree, and with the user's and the system's Git configuration ignored.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
src=$root/examples/shop/repos
history=$root/examples/shop/history
anchor=
quiet=0
dest=

usage() { sed -n '2,/^set -euo/{/^set -euo/d;s/^# \{0,1\}//;p}' "${BASH_SOURCE[0]}"; }

while [ $# -gt 0 ]; do
	case "$1" in
	--anchor) [ $# -ge 2 ] || { echo "example-repos: --anchor needs a date" >&2; exit 2; }
		anchor=$2; shift 2 ;;
	--quiet) quiet=1; shift ;;
	-h|--help) usage; exit 0 ;;
	-*) echo "example-repos: unknown option $1" >&2; exit 2 ;;
	*) [ -z "$dest" ] || { echo "example-repos: more than one DEST" >&2; exit 2; }
		dest=$1; shift ;;
	esac
done
[ -n "$dest" ] || dest=$root/var/shop/repos
[ -n "$anchor" ] || anchor=$(date -u +%Y-%m-01)
if ! [[ $anchor =~ ^[0-9]{4}-[0-9]{2}-[0-9]{2}$ ]] ||
	! anchor_s=$(date -u -d "$anchor 00:00:00" +%s 2>/dev/null); then
	echo "example-repos: --anchor: expected YYYY-MM-DD, got '$anchor'" >&2
	exit 2
fi
command -v git >/dev/null || { echo "example-repos: git is not installed" >&2; exit 2; }

# Nothing from the user's or the system's Git configuration (signing, hooks
# paths, autocrlf, templates...) may change what gets committed.
export GIT_CONFIG_NOSYSTEM=1 GIT_CONFIG_GLOBAL=/dev/null GIT_TERMINAL_PROMPT=0
export LC_ALL=C TZ=UTC
unset GIT_DIR GIT_WORK_TREE GIT_INDEX_FILE GIT_OBJECT_DIRECTORY GIT_COMMON_DIR

declare -A full_name=(
	[alice]="Alice Andersen" [bob]="Bob Baptiste" [carol]="Carol Chen" [dave]="Dave Dubois"
	[erin]="Erin Eriksson" [frank]="Frank Fischer" [grace]="Grace García" [heidi]="Heidi Müller"
)

trim() { local s=$1; s=${s#"${s%%[![:space:]]*}"}; s=${s%"${s##*[![:space:]]}"}; printf '%s' "$s"; }
die() { echo "example-repos: $*" >&2; exit 1; }
say() { [ "$quiet" = 1 ] || echo "$@"; }

# g DIR ARGS...: git on the repository whose work tree is DIR, never on an
# enclosing one.
g() { local w=$1; shift; git --git-dir="$w/.git" --work-tree="$w" "$@"; }

mkdir -p "$dest"
dest=$(cd "$dest" && pwd)
tmp=$(mktemp -d "$dest/.example-repos.XXXXXX")
trap 'rm -rf -- "$tmp"' EXIT

# Read the history once: lines per repository, in file order.
declare -A lines=()
lineno=0
while IFS= read -r line || [ -n "$line" ]; do
	lineno=$((lineno + 1))
	case "$line" in ''|'#'*) continue ;; esac
	IFS='|' read -r f_repo f_days f_author f_msg f_paths extra <<<"$line"
	[ -z "${extra:-}" ] && [ -n "${f_paths:-}" ] || die "$history:$lineno: expected REPO | DAYS | AUTHOR | MESSAGE | PATHS"
	f_repo=$(trim "$f_repo")
	[ -d "$src/$f_repo" ] || die "$history:$lineno: no directory examples/shop/repos/$f_repo"
	lines[$f_repo]+="$lineno"$'\t'"$line"$'\n'
done <"$history"

for dir in "$src"/*/; do
	name=$(basename "$dir")
	[ -n "${lines[$name]:-}" ] || die "$name: no commits in $history"
	w=$tmp/$name
	mkdir -p "$w"
	git init -q -b main "$w"
	n=0
	while IFS=$'\t' read -r lineno line; do
		[ -n "$line" ] || continue
		IFS='|' read -r f_repo f_days f_author f_msg f_paths <<<"$line"
		days=$(trim "$f_days")
		author=$(trim "$f_author")
		msg=$(trim "$f_msg")
		[[ $days =~ ^[0-9]+$ ]] && { [ "$days" -ge 1 ] && [ "$days" -le 59 ] || [ "$days" -ge 91 ]; } ||
			die "$history:$lineno: DAYS must be 1..59 or 91 or more, not '$days'"
		[ -n "${full_name[$author]:-}" ] || die "$history:$lineno: unknown author '$author'"
		[ -n "$msg" ] || die "$history:$lineno: empty message"
		read -r -a paths <<<"$f_paths"
		for p in "${paths[@]}"; do
			case "$p" in /*|*..*) die "$history:$lineno: path '$p' must stay inside the repository" ;; esac
			[ -e "$src/$name/$p" ] || die "$history:$lineno: no file or directory $name/$p"
			[ ! -e "$w/$p" ] || die "$history:$lineno: $name/$p is already in an earlier commit"
			mkdir -p "$(dirname "$w/$p")"
			cp -R "$src/$name/$p" "$w/$p"
		done
		# Git keeps only the executable bit: make every file 644 whatever
		# the checkout's umask and modes were.
		find "$w" -path "$w/.git" -prune -o -type f -exec chmod 644 {} +
		g "$w" add -A -- "${paths[@]}"
		# 09:00 UTC on the day, plus 7 minutes per history line: distinct,
		# increasing times, always before the anchor.
		when=$((anchor_s - days * 86400 + 9 * 3600 + (lineno % 120) * 420))
		GIT_AUTHOR_NAME=${full_name[$author]} GIT_AUTHOR_EMAIL=$author@acme-shop.example \
		GIT_COMMITTER_NAME=${full_name[$author]} GIT_COMMITTER_EMAIL=$author@acme-shop.example \
		GIT_AUTHOR_DATE="@$when +0000" GIT_COMMITTER_DATE="@$when +0000" \
			g "$w" commit -q --no-verify --no-gpg-sign -m "$msg"
		n=$((n + 1))
	done <<<"${lines[$name]}"
	# Every file of the tree must have been committed, and nothing else.
	want=$(cd "$src/$name" && find . -type f | sed 's|^\./||' | sort)
	have=$(g "$w" ls-files | sort)
	[ "$want" = "$have" ] || die "$name: the history does not commit exactly the files of examples/shop/repos/$name:
$(diff <(echo "$want") <(echo "$have") || true)"
	[ -z "$(g "$w" status --porcelain)" ] || die "$name: uncommitted changes after the history"
	head=$(g "$w" rev-parse HEAD)
	out=$dest/$name
	if [ -d "$out/.git" ] && [ "$(g "$out" rev-parse -q --verify HEAD 2>/dev/null || true)" = "$head" ] &&
		[ -z "$(g "$out" status --porcelain 2>/dev/null || echo dirty)" ]; then
		say "$name: up to date ($head)"
		continue
	fi
	rm -rf -- "$out"
	mv "$w" "$out"
	say "$name: $n commits, HEAD $head"
done
say "repositories in $dest (anchor $anchor)"
