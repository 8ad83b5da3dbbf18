#!/usr/bin/env bash
#
# setup.sh — install what stacktwin needs on Debian 12 and build it with Meson.
#
# Idempotent: packages are installed only when dpkg says one is missing, an
# existing build directory is reconfigured rather than recreated, and Ninja
# rebuilds only what changed.  Prints one progress line per step; the full
# output of a step is shown only when that step fails.
#
# It must not depend on anything installed by hand: CI runs it on a fresh
# machine as root with no stdin.  It does not run tests (scripts/test.sh does).
#
# usage: scripts/setup.sh [--sanitize] [--builddir DIR] [-- MESON_SETUP_ARGS...]
#   --sanitize       ASan+UBSan build (default directory build-asan)
#   --builddir DIR   build directory (default: build, or build-asan with
#                    --sanitize, in the repository root)
#   --no-deps        skip the package step (e.g. on a non-Debian machine)
#   -- ARGS          extra arguments for `meson setup` / `meson configure`
#
set -euo pipefail

# Debian packages, one place.  Add new needs here (and in docs/dependencies.md):
# e.g. prometheus, postgresql, sqlite3, wrk, chromium for later test suites.
PACKAGES=(
	# build tools
	meson ninja-build pkg-config gcc libc6-dev python3
	# libraries linked into stacktwin
	libgit2-dev libcurl4-openssl-dev libyajl-dev liblmdb-dev libuv1-dev
	libyaml-dev libhttp-parser-dev libssl-dev zlib1g-dev
	# tests and tooling
	libcmocka-dev lmdb-utils git ca-certificates
	# a real Prometheus server for the Prometheus connector's tests
	prometheus
	# benchmarks (bench/run-bench)
	time
)

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)

usage()
{
	sed -n 's/^# \{0,1\}//; /^usage:/,/^$/p' "${BASH_SOURCE[0]}"
}

die()
{
	printf 'setup.sh: %s\n' "$*" >&2
	exit 2
}

sanitize=0
builddir=
deps=1
extra=()
while [ $# -gt 0 ]; do
	case $1 in
	--sanitize) sanitize=1 ;;
	--builddir)
		[ $# -ge 2 ] || die "--builddir needs a directory"
		builddir=$2
		shift
		;;
	--builddir=*) builddir=${1#--builddir=} ;;
	--no-deps) deps=0 ;;
	-h | --help)
		usage
		exit 0
		;;
	--)
		shift
		extra=("$@")
		break
		;;
	*) die "unknown argument '$1' (see --help)" ;;
	esac
	shift
done
# A given --builddir is relative to the caller's directory, the default to the
# repository root.
if [ -z "$builddir" ]; then
	if [ $sanitize = 1 ]; then builddir=build-asan; else builddir=build; fi
elif [ "${builddir#/}" = "$builddir" ]; then
	builddir=$PWD/$builddir
fi

# Meson refuses to run in a non-UTF-8 locale, which is what a bare container has.
if [ "$(locale charmap 2>/dev/null || true)" != UTF-8 ]; then
	export LC_ALL=C.UTF-8
fi
export DEBIAN_FRONTEND=noninteractive

LOG=$(mktemp "${TMPDIR:-/tmp}/stacktwin-setup.XXXXXX")
trap 'rm -f "$LOG"' EXIT

step()
{
	printf '==> %s\n' "$*"
}

# Run a command with its output captured; on failure show that output.
quiet()
{
	if ! "$@" >"$LOG" 2>&1; then
		printf 'setup.sh: failed: %s\n' "$*" >&2
		cat "$LOG" >&2
		exit 1
	fi
}

installed()
{
	[ "$(dpkg-query -W -f='${Status}' "$1" 2>/dev/null || true)" = "install ok installed" ]
}

install_packages()
{
	local missing=() p
	for p in "${PACKAGES[@]}"; do
		installed "$p" || missing+=("$p")
	done
	if [ ${#missing[@]} -eq 0 ]; then
		step "packages: all ${#PACKAGES[@]} installed"
		return
	fi
	command -v apt-get >/dev/null || die "apt-get not found; install by hand: ${missing[*]}"
	local sudo=()
	if [ "$(id -u)" != 0 ]; then
		command -v sudo >/dev/null || die "not root and no sudo; install: ${missing[*]}"
		sudo=(sudo)
	fi
	step "packages: installing ${missing[*]}"
	quiet "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -q
	quiet "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive \
		apt-get install -y -q --no-install-recommends "${missing[@]}"
}

configure()
{
	local opts=()
	if [ $sanitize = 1 ]; then
		opts=("-Db_sanitize=address,undefined" -Db_lundef=false)
	else
		opts=(-Db_sanitize=none -Db_lundef=true)
	fi
	opts+=("${extra[@]}")
	if [ -f "$builddir/build.ninja" ]; then
		step "configure: $builddir (existing)"
		quiet meson configure "$builddir" "${opts[@]}"
	else
		# Also right for a directory left by a failed setup: meson redoes it.
		step "configure: $builddir"
		quiet meson setup "$builddir" "${opts[@]}"
	fi
}

build()
{
	step "build: $builddir"
	quiet meson compile -C "$builddir"
}

cd "$ROOT"
if [ $deps = 1 ]; then
	install_packages
fi
configure
build
step "ready: $builddir"
