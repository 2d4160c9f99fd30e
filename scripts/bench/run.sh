#!/usr/bin/env bash
# run.sh is `make bench`. In one run on this machine it measures the MIME
# parsing throughput of mailtriage's parser beside enmime, Python's email
# package and npm mailparser over ../shared/corpus/mime. It then measures
# the processor chain, the Avro codec, the webhook gateway, and the
# exactly-once topology beside an at-least-once baseline. It measures the
# end-to-end latency of the roles run as processes against the stack, at
# the default rate and briefly at the target's. It profiles the chain, the
# gateway and the topology, whose targets are missed, in runs of their
# own. Last, it rewrites the generated section of BENCHMARKS.md, between
# the markers that internal/benchreport defines, and keeps the rest of the
# page.
#
# Environment:
#   BENCH_QUICK=1  shortens every measurement to a smoke run and prints the
#                  section instead of writing BENCHMARKS.md (make bench-quick)
#   BENCH_OUT=FILE writes the section into FILE instead; - prints it
#   BENCH_LATENCY_RATE=N  emails per second of the latency run (default 200)
#
# It installs Node.js and npm with apt-get when they are missing, and the
# pinned mailparser into scripts/bench/node_modules when that is missing.
set -euo pipefail

cd "$(dirname "$0")/../.."
bench_dir=scripts/bench
corpus=../shared/corpus/mime
quick=${BENCH_QUICK:-0}
if [ "$quick" = 1 ]; then
	out=${BENCH_OUT:--}
else
	out=${BENCH_OUT:-BENCHMARKS.md}
fi

fail() {
	echo "bench: $*" >&2
	exit 1
}
say() { echo "bench: $*" >&2; }

need() {
	command -v "$1" >/dev/null 2>&1 || fail "$1 not found; $2"
}

# ensure_node installs Node.js and npm from the Debian packages when either
# is missing, as scripts/stack.sh does for the stack, and checks the
# version mailparser requires.
ensure_node() {
	if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
		command -v apt-get >/dev/null 2>&1 || fail "node or npm not found and apt-get is not available; install Node.js 20 or later with npm"
		[ "$(id -u)" = 0 ] || fail "node or npm not found; install Node.js 20 or later with npm, or run as root so that apt-get can"
		say "installing nodejs and npm with apt-get"
		apt-get update -qq >&2
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nodejs npm >&2
	fi
	local major
	major=$(node -p 'process.versions.node.split(".")[0]')
	[ "$major" -ge 20 ] || fail "Node.js $(node --version) found, but mailparser (scripts/bench/package.json) needs 20 or later; install a newer nodejs"
}

# ensure_mailparser runs npm ci when node_modules lacks the version that
# package.json pins.
ensure_mailparser() {
	local pinned installed=""
	pinned=$(node -p "require('./$bench_dir/package.json').dependencies.mailparser")
	if [ -f "$bench_dir/node_modules/mailparser/package.json" ]; then
		installed=$(node -p "require('./$bench_dir/node_modules/mailparser/package.json').version")
	fi
	if [ "$installed" != "$pinned" ]; then
		say "installing mailparser $pinned into $bench_dir/node_modules"
		(cd "$bench_dir" && npm ci --no-audit --no-fund >&2) ||
			fail "npm ci in $bench_dir failed; check that the npm registry is reachable and that package-lock.json matches package.json"
	fi
}

need go "install Go (the version go.mod names)"
need python3 "install Python 3 (apt-get install -y python3)"
ensure_node
ensure_mailparser

pin=()
if command -v taskset >/dev/null 2>&1; then
	pin=(taskset -c 0)
else
	say "taskset not found (package util-linux); the single-core runs are not pinned to a CPU"
fi

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
results=$work/results
mkdir -p "$results"
[ "$quick" = 1 ] && touch "$results/quick"

say "building mailtriage-bench"
go build -o "$work/mailtriage-bench" ./cmd/mailtriage-bench
bench=$work/mailtriage-bench

"$bench" machine \
	--tool "Python=$(python3 -c 'import platform; print(platform.python_version())')" \
	--tool "Node.js=$(node --version)" \
	--tool "mailparser=$(node -p "require('./$bench_dir/node_modules/mailparser/package.json').version")" \
	>"$results/machine.json"

failures=()

# shown prints a command as BENCHMARKS.md shows it: arguments with shell
# metacharacters single-quoted, and the temporary paths replaced by what
# they stand for.
shown() {
	local arg text=""
	for arg in "$@"; do
		if [[ $arg =~ ^[A-Za-z0-9_./=:,+-]+$ ]]; then
			text+=" $arg"
		else
			text+=" '$arg'"
		fi
	done
	text=${text# }
	text=${text//$bench/mailtriage-bench}
	text=${text//$work\/pack-all/PACK}
	text=${text//$work\/pack-listed/PACK}
	echo "$text"
}

# --- MIME parsing ---------------------------------------------------------

if [ "$quick" = 1 ]; then
	limits=(--min-passes 1 --max-passes 1 --min-seconds 0 --max-seconds 5)
else
	limits=(--min-passes 3 --max-passes 5 --min-seconds 3 --max-seconds 60)
fi

# run_parse SET RUNNER COMMAND... runs one parse runner and keeps its JSON.
run_parse() {
	local set=$1 runner=$2
	shift 2
	local name=parse-$set-$runner
	shown "$@" >"$results/$name.cmd"
	say "parsing the '$set' selection with $runner"
	local status=0
	"$@" >"$results/$name.json" || status=$?
	if [ "$status" -ne 0 ]; then
		echo "$runner failed with exit status $status; its error was printed by the run" >"$results/$name.skipped"
		failures+=("$name")
	fi
}

if [ ! -f "$corpus/MESSAGES" ]; then
	say "MIME corpus not found at $corpus; the parsing section is skipped"
	echo "the MIME corpus was not found at \`$corpus\` (the shared folder beside the repository)." >"$results/parse.skipped"
else
	"$bench" pack --corpus "$corpus" --out "$work/pack-all"
	"$bench" pack --corpus "$corpus" --listed "$corpus/MESSAGES" --out "$work/pack-listed"
	pinned=false
	[ ${#pin[@]} -gt 0 ] && pinned=true
	printf '{"corpus": "%s", "pinned": %s, "minPasses": %s, "maxPasses": %s, "minSeconds": %s, "maxSeconds": %s}\n' \
		"$corpus" "$pinned" "${limits[1]}" "${limits[3]}" "${limits[5]}" "${limits[7]}" >"$results/parse-settings.json"

	for set in all listed; do
		pack=$work/pack-$set
		for parser in mailtriage enmime; do
			run_parse "$set" "$parser" "${pin[@]}" env GOMAXPROCS=1 "$bench" parse --parser "$parser" --pack "$pack" "${limits[@]}"
		done
		run_parse "$set" python-email "${pin[@]}" python3 "$bench_dir/parse_email.py" --pack "$pack" "${limits[@]}"
		run_parse "$set" mailparser "${pin[@]}" node "$bench_dir/parse_mailparser.js" --pack "$pack" "${limits[@]}"
	done

	# A CPU profile of mailtriage's parser over the first selection, in a run
	# of its own so that profiling does not slow the measured passes.
	say "profiling mailtriage's parser"
	profile_cmd=("${pin[@]}" env GOMAXPROCS=1 "$bench" parse --parser mailtriage --pack "$work/pack-all"
		--min-passes 1 --max-passes 2 --min-seconds 0 --max-seconds 10 --cpuprofile "$work/mailtriage.pprof")
	pprof_cmd=(go tool pprof -top -nodecount=20 "$bench" "$work/mailtriage.pprof")
	{
		shown "${profile_cmd[@]}"
		shown "${pprof_cmd[@]}"
	} | sed "s|$work/mailtriage.pprof|PROFILE|" >"$results/profile-mailtriage.cmd"
	if ! { "${profile_cmd[@]}" >/dev/null && "${pprof_cmd[@]}" >"$results/profile-mailtriage.txt" 2>/dev/null; }; then
		echo "the profile run failed; its error was printed by the run" >"$results/profile-mailtriage.skipped"
		failures+=(profile-mailtriage)
	fi
fi

# --- Go benchmarks --------------------------------------------------------

# run_go NAME COMMAND... runs one `go test -bench` command and keeps its
# output; a failure is recorded and the run goes on.
run_go() {
	local name=$1
	shift
	shown "$@" >"$results/$name.cmd"
	say "running the $name benchmarks"
	local status=0
	"$@" >"$results/$name.txt" 2>&1 || status=$?
	if [ "$status" -ne 0 ]; then
		cat "$results/$name.txt" >&2
		echo "\`go test\` failed with exit status $status; its output was printed by the run" >"$results/$name.skipped"
		failures+=("$name")
	fi
}

if [ "$quick" = 1 ]; then
	chain_time=(-benchtime 1x -count 1)
	codec_time=(-benchtime 100x -count 1)
	gateway_time=(-benchtime 100x -count 1)
else
	chain_time=(-benchtime 2s -count 3)
	codec_time=(-benchtime 1s -count 3)
	gateway_time=(-benchtime 2000x -count 3)
fi

run_go chain "${pin[@]}" go test ./processors -run '^$' -bench '^Benchmark(Chain|Redact|Classify|Route)$' \
	-cpu 1 -benchmem "${chain_time[@]}"
run_go codec "${pin[@]}" go test ./schemas -run '^$' -bench 'InboundEmail$' -cpu 1 -benchmem "${codec_time[@]}"
run_go gateway go test ./connectors/webhook -run '^$' -bench '^BenchmarkGateway' "${gateway_time[@]}"

# --- CPU profiles of the missed targets -----------------------------------

# Each profile comes from a run of its own, so that profiling does not slow
# the measured runs. For a profile NAME, $work/NAME.pprof is the profile and
# $work/NAME.test the test binary; internal/benchreport reads NAME.cmd,
# NAME-bench.txt, NAME-top.txt and the other views that pprof_view adds.

# profile_paths replaces the temporary paths of profile $1 in a command.
profile_paths() {
	sed -e "s|$work/$1.pprof|PROFILE|g" -e "s|$work/$1.test|TEST_BINARY|g" -e "s|$work/$1.trace|TRACE|g"
}

# run_profile NAME COMMAND... runs COMMAND, a `go test -bench` command with
# -cpuprofile $work/NAME.pprof and -o $work/NAME.test, and keeps its output
# and the top functions of the profile. It returns 1 when either failed.
run_profile() {
	local name=$1
	shift
	local top_cmd=(go tool pprof -top -nodecount=20 "$work/$name.test" "$work/$name.pprof")
	{
		shown "$@"
		shown "${top_cmd[@]}"
	} | profile_paths "$name" >"$results/$name.cmd"
	say "profiling for $name"
	if ! "$@" >"$results/$name-bench.txt" 2>&1 || ! "${top_cmd[@]}" >"$results/$name-top.txt" 2>/dev/null; then
		cat "$results/$name-bench.txt" >&2
		echo "the profiled run or pprof failed; the output was printed by the run" >"$results/$name.skipped"
		failures+=("$name")
		return 1
	fi
}

# pprof_view NAME VIEW ARGS... writes `go tool pprof ARGS` of profile NAME
# to NAME-VIEW.txt and adds the command to NAME.cmd.
pprof_view() {
	local name=$1 view=$2
	shift 2
	local cmd=(go tool pprof "$@" "$work/$name.test" "$work/$name.pprof")
	shown "${cmd[@]}" | profile_paths "$name" >>"$results/$name.cmd"
	if ! "${cmd[@]}" >"$results/$name-$view.txt" 2>/dev/null; then
		echo "\`go tool pprof $*\` failed" >"$results/$name.skipped"
		failures+=("$name")
	fi
}

if [ "$quick" = 1 ]; then
	chain_profile_time=(-benchtime 20x)
	gateway_profile_time=(-benchtime 100x)
else
	chain_profile_time=(-benchtime 3s)
	gateway_profile_time=(-benchtime 2000x)
fi

# The processor chain, with the cumulative time of each stage's Process.
if run_profile profile-chain "${pin[@]}" go test ./processors -run '^$' -bench '^BenchmarkChain$' -cpu 1 -count 1 \
	"${chain_profile_time[@]}" -cpuprofile "$work/profile-chain.pprof" -o "$work/profile-chain.test"; then
	pprof_view profile-chain cum -top -cum '-show=processors\.\(\*(Dedupe|Redact|Classify|Route)\)\.Process'
fi

# trace_view NAME KIND writes `go tool pprof -traces` of the KIND blocking
# profile (syscall, sync) that `go tool trace` derives from the execution
# trace $work/NAME.trace to NAME-KIND.txt, and adds the commands to NAME.cmd.
trace_view() {
	local name=$1 kind=$2
	local blocking=$work/$name-$kind.pprof
	local trace_cmd=(go tool trace "-pprof=$kind" "$work/$name.trace")
	local pprof_cmd=(go tool pprof -traces "$work/$name.test" "$blocking")
	{
		echo "$(shown "${trace_cmd[@]}") > $kind.pprof"
		shown "${pprof_cmd[@]}"
	} | sed "s|$blocking|$kind.pprof|g" | profile_paths "$name" >>"$results/$name.cmd"
	if ! { "${trace_cmd[@]}" >"$blocking" && "${pprof_cmd[@]}" >"$results/$name-$kind.txt"; } 2>/dev/null; then
		echo "\`go tool trace -pprof=$kind\` or pprof failed" >"$results/$name.skipped"
		failures+=("$name")
	fi
}

# The raw gateway; -traces lists every stack with its profiler labels,
# from which the report splits the time. The execution trace of the same
# run shows where the handlers block, which the CPU profile cannot.
if run_profile profile-gateway go test ./connectors/webhook -run '^$' -bench '^BenchmarkGatewayRaw$' -count 1 \
	"${gateway_profile_time[@]}" -cpuprofile "$work/profile-gateway.pprof" -trace "$work/profile-gateway.trace" \
	-o "$work/profile-gateway.test"; then
	pprof_view profile-gateway traces -traces
	trace_view profile-gateway syscall
	trace_view profile-gateway sync
fi

# The exactly-once topology on kfake and on the stack's Kafka broker, when
# .stack/env names one; without it the kafka rows say they were skipped.
if [ -z "${MAILTRIAGE_KAFKA_BROKERS:-}" ] && [ -f .stack/env ]; then
	# shellcheck disable=SC1091
	. ./.stack/env
fi
topology_env=()
[ "$quick" = 1 ] && topology_env=(MAILTRIAGE_BENCH_TOPOLOGY_EMAILS=1000)
run_go topology env "${topology_env[@]}" go test ./processors/runner -run '^$' -bench '^BenchmarkTopology$' -benchtime 1x -count 1
run_go baseline env "${topology_env[@]}" go test ./processors/runner -run '^$' -bench '^BenchmarkBaseline$' -benchtime 1x -count 1

# The topology's chain run, on the stack's Kafka broker when there is one:
# the broker is then a process of its own, and the profile holds only the
# runner. Without the stack it is kfake, in the benchmark process.
profile_broker=kfake
[ -n "${MAILTRIAGE_KAFKA_BROKERS:-}" ] && profile_broker=kafka
if run_profile profile-topology env "${topology_env[@]}" go test ./processors/runner -run '^$' \
	-bench "^BenchmarkTopology\$/^$profile_broker\$/^chain\$" -benchtime 1x -count 1 \
	-cpuprofile "$work/profile-topology.pprof" -o "$work/profile-topology.test"; then
	pprof_view profile-topology traces -traces
fi

# --- End-to-end latency ---------------------------------------------------

# The roles run from the built binary against the stack; without the stack
# the latency section says it was skipped. The rate defaults to 200 emails/s,
# a fifth of the target's 1,000, and BENCH_LATENCY_RATE sets another.
# A second, short run at the target's 1,000 emails/s shows what happens at
# that rate; its drain timeout bounds the wait when the roles fall behind.
if [ "$quick" = 1 ]; then
	latency_args=(--rate "${BENCH_LATENCY_RATE:-50}" --duration 3s)
	latency_target_args=(--rate 1000 --duration 2s --drain-timeout 30s)
else
	latency_args=(--rate "${BENCH_LATENCY_RATE:-200}" --duration 30s)
	latency_target_args=(--rate 1000 --duration 10s --drain-timeout 60s)
fi

# run_latency NAME ARGS... runs one latency measurement.
run_latency() {
	local name=$1
	shift
	local cmd=("$bench" latency --mailtriage "$work/mailtriage" "$@")
	shown "${cmd[@]}" | sed "s|$work/mailtriage|MAILTRIAGE|" >"$results/$name.cmd"
	if [ -z "${MAILTRIAGE_KAFKA_BROKERS:-}" ] || [ -z "${MAILTRIAGE_POSTGRES_DSN:-}" ]; then
		echo "MAILTRIAGE_KAFKA_BROKERS or MAILTRIAGE_POSTGRES_DSN is not set; start the stack with \`make stack-up\`" >"$results/$name.skipped"
		return
	fi
	say "measuring the end-to-end latency: $*"
	local status=0
	"${cmd[@]}" >"$results/$name.json" || status=$?
	if [ "$status" -ne 0 ]; then
		echo "mailtriage-bench latency failed with exit status $status; its error was printed by the run" >"$results/$name.skipped"
		failures+=("$name")
	fi
}

go build -o "$work/mailtriage" ./cmd/mailtriage
run_latency latency "${latency_args[@]}"
run_latency latency-target "${latency_target_args[@]}"

# --- Report ---------------------------------------------------------------

"$bench" report --results "$results" --out "$out"
[ "$out" = - ] || say "wrote the generated section of $out"

if [ ${#failures[@]} -gt 0 ]; then
	fail "these measurements failed and are marked in the report: ${failures[*]}"
fi
