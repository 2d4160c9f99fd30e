#!/usr/bin/env bash
# Runs the fuzz targets of mailtriage one after another, each for a bounded
# time, and prints a summary with the executions of each. `go test -fuzz`
# fuzzes one target per run, so the targets cannot share a run.
#
# Usage:
#   scripts/fuzz.sh                     every target in TARGETS below
#   scripts/fuzz.sh PACKAGE TARGET ...  only the given package/target pairs
#
# Environment (default):
#   FUZZTIME (10s)            time per target, as go test -fuzztime takes it
#   FUZZMINIMIZETIME (2s)     time to minimize each failing input and each
#                             input with new coverage; go test's default of
#                             60s would take most of a short run
#   FUZZPARALLEL (GOMAXPROCS) worker processes per target
#
# A failing input is written to testdata/fuzz/<target>/ of its package and
# the script exits 1 after the remaining targets ran. Commit that file: the
# plain `go test` then runs it as a regression test. The seeds of the MIME
# targets include every message of ../shared/corpus/mime up to 64 KiB when
# the shared folder sits beside the repository.
set -euo pipefail
cd "$(dirname "$0")/.."

FUZZTIME=${FUZZTIME:-10s}
FUZZMINIMIZETIME=${FUZZMINIMIZETIME:-2s}
FUZZPARALLEL=${FUZZPARALLEL:-}

# Package and target, one pair per line.
TARGETS="
./internal/mime FuzzParseContract
./internal/mime FuzzDecodeHeaderValue
./internal/mime FuzzReplyText
./connectors/webhook FuzzSignatureTamper
./connectors/webhook FuzzJSONEndpoint
./internal/ingest FuzzFromJSON
./schemas FuzzDecodeArbitraryBytes
./schemas FuzzRoundTripEveryContract
./processors FuzzRedactText
./processors FuzzRedactRemovesValues
"
if [ $# -gt 0 ]; then
	if [ $(($# % 2)) -ne 0 ]; then
		echo "fuzz.sh: expected PACKAGE TARGET pairs, got $# arguments" >&2
		exit 2
	fi
	TARGETS=$(printf '%s %s\n' "$@")
fi

parallel=()
if [ -n "$FUZZPARALLEL" ]; then
	parallel=(-parallel "$FUZZPARALLEL")
fi

log=$(mktemp)
trap 'rm -f "$log"' EXIT
summary=()
failed=0
while read -r pkg target; do
	[ -n "$pkg" ] || continue
	echo "== $target in $pkg for $FUZZTIME"
	start=$(date +%s)
	status=ok
	if ! go test -run '^$' -fuzz "^${target}\$" -fuzztime "$FUZZTIME" \
		-fuzzminimizetime "$FUZZMINIMIZETIME" "${parallel[@]}" "$pkg" 2>&1 | tee "$log"; then
		status=FAILED
		failed=1
	fi
	seconds=$(($(date +%s) - start))
	# The last progress line reads "fuzz: elapsed: 10s, execs: 12345 (1234/sec), ...".
	execs=$(grep -o 'execs: [0-9]*' "$log" | tail -n 1 | cut -d' ' -f2)
	summary+=("$(printf '%-28s %-22s %5ss %10s execs  %s' "$target" "$pkg" "$seconds" "${execs:-0}" "$status")")
done <<<"$TARGETS"

echo
echo "== fuzz summary (FUZZTIME=$FUZZTIME each; the seconds include the build and the seed run)"
printf '%s\n' "${summary[@]}"
if [ "$failed" -ne 0 ]; then
	echo "fuzz.sh: a target failed; its input is under testdata/fuzz/ of the package, named in the output above" >&2
fi
exit "$failed"
