# shellcheck shell=bash
# Helpers shared by the service files of scripts/stack.sh: messages,
# ports, process checks, package installs and readiness waits.
# This file is sourced, not run.

# log prints one progress line on stderr.
log() {
	printf 'stack: %s\n' "$*" >&2
}

# die prints an error and exits.
die() {
	printf 'stack: error: %s\n' "$*" >&2
	exit 1
}

# fail_service prints an error that names the service and its log
# files, then the last lines of each, and exits. Separate several log
# files with a colon.
fail_service() {
	local service=$1 log_files=$2 message=$3 log_file
	printf 'stack: error: %s: %s\n' "$service" "$message" >&2
	local IFS=:
	for log_file in $log_files; do
		printf 'stack: %s log: %s\n' "$service" "$log_file" >&2
		if [[ -s $log_file ]]; then
			printf 'stack: last %s lines of %s:\n' "$LOG_TAIL_LINES" "$log_file" >&2
			tail -n "$LOG_TAIL_LINES" "$log_file" | sed 's/^/    /' >&2
		else
			printf 'stack: %s is empty or missing\n' "$log_file" >&2
		fi
	done
	exit 1
}

# load_ports sets every port variable, in this order of precedence: the
# environment, the ports that an earlier `up` saved in $PORTS_FILE, the
# default. Saving them lets `stack.sh start SERVICE`, run from a test
# that only has .stack/env, restart a service on the port it had.
load_ports() {
	local saved_kafka='' saved_kafka_sasl_ssl='' saved_kafka_controller=''
	local saved_postgres='' saved_clickhouse='' saved_clickhouse_http=''
	local saved_minio='' saved_minio_console=''
	if [[ -r $PORTS_FILE ]]; then
		# shellcheck disable=SC1090
		. "$PORTS_FILE"
	fi

	KAFKA_PORT=${MAILTRIAGE_KAFKA_PORT:-${saved_kafka:-19092}}
	KAFKA_SASL_SSL_PORT=${MAILTRIAGE_KAFKA_SASL_SSL_PORT:-${saved_kafka_sasl_ssl:-19093}}
	KAFKA_CONTROLLER_PORT=${MAILTRIAGE_KAFKA_CONTROLLER_PORT:-${saved_kafka_controller:-19094}}
	POSTGRES_PORT=${MAILTRIAGE_POSTGRES_PORT:-${saved_postgres:-15432}}
	CLICKHOUSE_PORT=${MAILTRIAGE_CLICKHOUSE_PORT:-${saved_clickhouse:-19000}}
	CLICKHOUSE_HTTP_PORT=${MAILTRIAGE_CLICKHOUSE_HTTP_PORT:-${saved_clickhouse_http:-18123}}
	MINIO_PORT=${MAILTRIAGE_MINIO_PORT:-${saved_minio:-19010}}
	MINIO_CONSOLE_PORT=${MAILTRIAGE_MINIO_CONSOLE_PORT:-${saved_minio_console:-19011}}

	local name
	for name in KAFKA_PORT KAFKA_SASL_SSL_PORT KAFKA_CONTROLLER_PORT POSTGRES_PORT CLICKHOUSE_PORT CLICKHOUSE_HTTP_PORT MINIO_PORT MINIO_CONSOLE_PORT; do
		if ! [[ ${!name} =~ ^[0-9]+$ ]] || ((${!name} < 1 || ${!name} > 65535)); then
			die "invalid MAILTRIAGE_$name '${!name}': set it to a TCP port number between 1 and 65535"
		fi
	done

	# The controller's address is written into the metadata log when the
	# storage is formatted, so it cannot move without a new log.
	if [[ -n $saved_kafka_controller && $saved_kafka_controller != "$KAFKA_CONTROLLER_PORT" && -e $KAFKA_DIR/data/meta.properties ]]; then
		die "MAILTRIAGE_KAFKA_CONTROLLER_PORT is $KAFKA_CONTROLLER_PORT but the Kafka log in $KAFKA_DIR/data was formatted for $saved_kafka_controller: unset it, or run 'scripts/stack.sh down --purge' to start over"
	fi
}

# save_ports writes the ports in use to $PORTS_FILE.
save_ports() {
	cat >"$PORTS_FILE" <<EOF
# Ports of the local stack, written by scripts/stack.sh up.
saved_kafka=$KAFKA_PORT
saved_kafka_sasl_ssl=$KAFKA_SASL_SSL_PORT
saved_kafka_controller=$KAFKA_CONTROLLER_PORT
saved_postgres=$POSTGRES_PORT
saved_clickhouse=$CLICKHOUSE_PORT
saved_clickhouse_http=$CLICKHOUSE_HTTP_PORT
saved_minio=$MINIO_PORT
saved_minio_console=$MINIO_CONSOLE_PORT
EOF
}

# take_lock serializes every command that starts or stops a service, so
# that tests in parallel packages cannot start one service twice. The
# lock is file descriptor 9, which every background service start closes.
take_lock() {
	mkdir -p "$STACK_DIR"
	exec 9>"$STACK_DIR/.lock"
	if ! flock -w "$LOCK_TIMEOUT" 9; then
		die "another scripts/stack.sh command held $STACK_DIR/.lock for ${LOCK_TIMEOUT}s: wait for it to finish, or find it with 'fuser $STACK_DIR/.lock'"
	fi
}

# pid_runs succeeds when the PID file names a live process whose command
# line contains the given text, so that a PID reused by another program
# does not count.
pid_runs() {
	local pid_file=$1 marker=$2 pid cmdline
	[[ -r $pid_file ]] || return 1
	pid=$(head -n 1 "$pid_file" 2>/dev/null | tr -dc '0-9')
	[[ -n $pid && -r /proc/$pid/cmdline ]] || return 1
	cmdline=$(tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null) || return 1
	[[ $cmdline == *"$marker"* ]]
}

# read_pid prints the first number in a PID file.
read_pid() {
	head -n 1 "$1" 2>/dev/null | tr -dc '0-9'
}

# port_listener prints the socket line of whatever listens on the TCP
# port, or nothing.
port_listener() {
	ss -Hltnp "sport = :$1" 2>/dev/null || true
}

# require_free_port stops with an error when another program listens on
# a port that a service is about to open.
require_free_port() {
	local service=$1 port=$2 variable=$3 owner
	owner=$(port_listener "$port")
	if [[ -n $owner ]]; then
		die "$service: port $port is already in use by another program ($(tr -s ' ' <<<"$owner")): stop that program, or set $variable to a free port"
	fi
}

# port_accepts succeeds when a TCP connection to host:port succeeds.
port_accepts() {
	timeout 3 bash -c 'exec 3<>"/dev/tcp/$1/$2"' probe "$1" "$2" 2>/dev/null
}

# wait_for runs a check every half second until it succeeds. It fails
# the service, naming its log, when the timeout passes or when the PID
# file stops naming a live process (pass '' for no PID check).
wait_for() {
	local service=$1 log_file=$2 pid_file=$3 marker=$4 what=$5
	shift 5
	local deadline=$((SECONDS + READY_TIMEOUT))
	until "$@"; do
		if [[ -n $pid_file ]] && ! pid_runs "$pid_file" "$marker"; then
			fail_service "$service" "$log_file" "the process exited before $what"
		fi
		if ((SECONDS >= deadline)); then
			fail_service "$service" "$log_file" "no $what within ${READY_TIMEOUT}s (set MAILTRIAGE_STACK_TIMEOUT to wait longer)"
		fi
		sleep 0.5
	done
}

# stop_pid sends SIGTERM to the process, waits up to $STOP_TIMEOUT
# seconds for it to exit, then sends SIGKILL.
stop_pid() {
	local service=$1 pid=$2
	kill -TERM "$pid" 2>/dev/null || return 0
	local deadline=$((SECONDS + STOP_TIMEOUT))
	while kill -0 "$pid" 2>/dev/null; do
		if ((SECONDS >= deadline)); then
			log "$service did not exit ${STOP_TIMEOUT}s after SIGTERM: sending SIGKILL to $pid"
			kill -KILL "$pid" 2>/dev/null || true
			wait_gone "$pid"
			return 0
		fi
		sleep 0.2
	done
}

# kill_pid sends SIGKILL to the process and waits until it is gone.
kill_pid() {
	kill -KILL "$1" 2>/dev/null || true
	wait_gone "$1"
}

# wait_gone waits up to 10 seconds for a process to disappear.
wait_gone() {
	local i
	for ((i = 0; i < 50; i++)); do
		kill -0 "$1" 2>/dev/null || return 0
		sleep 0.2
	done
	die "process $1 still runs 10s after SIGKILL"
}

# apt_install installs Debian packages, running `apt-get update` once
# per script run first. It waits for another apt-get to release the
# dpkg lock instead of failing at once.
apt_install() {
	if [[ $(id -u) != 0 ]]; then
		die "packages $* are missing and installing them needs root: run 'apt-get install $*' as root, or run this script as root"
	fi
	if [[ -z ${APT_UPDATED:-} ]]; then
		log "apt-get update"
		apt-get -q -o DPkg::Lock::Timeout=600 update >"$STACK_DIR/apt.log" 2>&1 ||
			fail_service apt "$STACK_DIR/apt.log" "apt-get update failed"
		APT_UPDATED=1
	fi
	log "apt-get install $*"
	DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends \
		-o DPkg::Lock::Timeout=600 "$@" >>"$STACK_DIR/apt.log" 2>&1 ||
		fail_service apt "$STACK_DIR/apt.log" "apt-get install $* failed"
}

# start_background runs a command detached from this shell: in its own
# session, with no terminal input, its output appended to a log file and
# the lock descriptor closed, so it neither holds the lock nor keeps a
# caller's pipe open. It prints the PID.
start_background() {
	local log_file=$1
	shift
	setsid "$@" </dev/null >>"$log_file" 2>&1 9>&- &
	echo $!
}
