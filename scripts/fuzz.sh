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
#   FUZZTIME (10s)            time or exec count per target, as go test
#                             -fuzztime takes it (10s, 1000x)
#   FUZZMINIMIZETIME (2s)     time to minimize each failing input and each
#                             input with new coverage; go test's default of
#                             60s would take most of a short run
#   FUZZPARALLEL (GOMAXPROCS) worker processes per target
#
# A duration such as 10s can fail with "context deadline exceeded" and no
# failing input on Go 1.26, a race in the fuzz coordinator
# (go.dev/issue/75804, fixed in Go 1.27); such a target runs once more.
# `make fuzz-ci` uses an exec count, which the race cannot reach.
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
./processors FuzzRedactMatchesReference
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
# run_target fuzzes one target and returns go test's status; its output
# is in $log.
run_target() {
	go test -run '^$' -fuzz "^${2}\$" -fuzztime "$FUZZTIME" \
		-fuzzminimizetime "$FUZZMINIMIZETIME" "${parallel[@]}" "$1" 2>&1 | tee "$log"
}

# toolchain_race reports whether a failed run of target $2 in package $1
# is the Go 1.26 fuzz coordinator race (go.dev/issue/75804): a duration
# -fuzztime ends with "context deadline exceeded" and no failing input is
# written. An exec count such as 1000x never hits it.
toolchain_race() {
	grep -q '^    context deadline exceeded$' "$log" &&
		! grep -q 'Failing input written to' "$log"
}

while read -r pkg target; do
	[ -n "$pkg" ] || continue
	echo "== $target in $pkg for $FUZZTIME"
	start=$(date +%s)
	status=ok
	if ! run_target "$pkg" "$target"; then
		if toolchain_race && echo "fuzz.sh: $target hit the fuzz coordinator's deadline race, not a crash; running it again" >&2 && run_target "$pkg" "$target"; then
			status="ok (second run)"
		else
			status=FAILED
			failed=1
		fi
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
