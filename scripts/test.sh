#!/usr/bin/env bash
#
# test.sh — THE test command: set up and build (scripts/setup.sh), run the
# default test suites with `meson test`, and end with one summary line
#
#     N passed, N failed[, N skipped]
#
# counted from Meson's machine-readable log (BUILDDIR/meson-logs/testlog.json),
# so the line agrees with what Meson ran.  OK and EXPECTEDFAIL count as passed,
# SKIP as skipped, anything else (FAIL, UNEXPECTEDPASS, TIMEOUT, ERROR) as
# failed.  A failed setup or build counts as one failure.  The exit status is
# non-zero when anything failed or when no test ran at all.
#
# usage: scripts/test.sh [--sanitize] [--builddir DIR] [-- MESON_TEST_ARGS...]
#   --sanitize       ASan+UBSan build in build-asan (see scripts/setup.sh)
#   --builddir DIR   build directory (default build, or build-asan)
#   -- ARGS          extra arguments for `meson test` (e.g. a test name)
#
set -euo pipefail

# The suites this command runs.  Add browser, slow here when they
# should be part of every run.
SUITES=(unit integration fuzz)

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)

usage()
{
	sed -n 's/^# \{0,1\}//; /^usage:/,/^$/p' "${BASH_SOURCE[0]}"
}

die()
{
	printf 'test.sh: %s\n' "$*" >&2
	exit 2
}

sanitize=0
builddir=
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
# Same rule as setup.sh: a given directory is relative to the caller's
# directory, the default lives in the repository root.
if [ -z "$builddir" ]; then
	if [ $sanitize = 1 ]; then builddir=$ROOT/build-asan; else builddir=$ROOT/build; fi
elif [ "${builddir#/}" = "$builddir" ]; then
	builddir=$PWD/$builddir
fi

if [ "$(locale charmap 2>/dev/null || true)" != UTF-8 ]; then
	export LC_ALL=C.UTF-8
fi

summary()
{
	local line="$1 passed, $2 failed"
	if [ "$3" -gt 0 ]; then
		line+=", $3 skipped"
	fi
	printf '%s\n' "$line"
}

setup_args=(--builddir "$builddir")
if [ $sanitize = 1 ]; then
	setup_args+=(--sanitize)
fi
if ! bash "$ROOT/scripts/setup.sh" "${setup_args[@]}"; then
	echo "test.sh: setup or build failed; no tests ran" >&2
	summary 0 1 0
	exit 1
fi

test_args=(--print-errorlogs)
for s in "${SUITES[@]}"; do
	test_args+=(--suite "$s")
done
if [ $sanitize = 1 ]; then
	# Sanitized code runs a few times slower.  Meson's own defaults for these
	# variables apply only when they are unset; ours match the CI's.
	test_args+=(--timeout-multiplier 3)
	export ASAN_OPTIONS=${ASAN_OPTIONS-detect_leaks=1:abort_on_error=1}
	export UBSAN_OPTIONS=${UBSAN_OPTIONS-print_stacktrace=1:halt_on_error=1}
fi

testlog=$builddir/meson-logs/testlog.json
rm -f "$testlog" # meson leaves an old log in place when nothing matches

rc=0
meson test -C "$builddir" "${test_args[@]}" "${extra[@]}" </dev/null || rc=$?

counts=$(python3 - "$testlog" <<'EOF'
import json
import sys

passed = failed = skipped = 0
try:
    f = open(sys.argv[1], encoding="utf-8")
except FileNotFoundError:
    f = []
for n, line in enumerate(f, 1):
    line = line.strip()
    if not line:
        continue
    try:
        result = json.loads(line).get("result")
    except (ValueError, AttributeError):
        print(f"test.sh: {sys.argv[1]}:{n}: not a JSON object", file=sys.stderr)
        failed += 1
        continue
    if result in ("OK", "EXPECTEDFAIL"):
        passed += 1
    elif result == "SKIP":
        skipped += 1
    else:
        failed += 1
print(passed, failed, skipped)
EOF
) || counts="0 1 0"
read -r passed failed skipped <<<"$counts"

status=0
if [ "$rc" -ne 0 ] && [ "$failed" -eq 0 ]; then
	# meson itself failed (rebuild error, bad argument): not a test result,
	# but it must not look like success.
	echo "test.sh: meson test exited with status $rc" >&2
	failed=1
fi
if [ $((passed + failed)) -eq 0 ]; then
	echo "test.sh: no test ran (suites: ${SUITES[*]})" >&2
	status=1
fi
if [ "$failed" -gt 0 ]; then
	status=1
fi
summary "$passed" "$failed" "$skipped"
exit $status
