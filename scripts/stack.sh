#!/usr/bin/env bash
# Starts and stops the local services that mailtriage's integration tests
# use: Kafka 4.4 in KRaft mode, PostgreSQL, ClickHouse and MinIO, as plain
# processes on 127.0.0.1. Data, logs, generated certificates, the
# broker's jars and the MinIO binary live under .stack/ in the repository.
#
# Usage:
#   scripts/stack.sh up              install what is missing, start all four, write .stack/env
#   scripts/stack.sh down [--purge]  stop all four; --purge also deletes their data
#   scripts/stack.sh status          print what runs; exit status 3 when a service is stopped
#   scripts/stack.sh start SERVICE   start one service (kafka, postgres, clickhouse or minio)
#   scripts/stack.sh stop SERVICE    stop one service: SIGTERM, then SIGKILL after a timeout
#   scripts/stack.sh kill SERVICE    send SIGKILL to one service, as a crash test would
#
# It runs as root on Debian bookworm and installs what is missing itself:
# Java 17, Maven and openssl, postgresql, clickhouse-server and
# clickhouse-client and curl with apt-get, the Kafka jars with Maven, and
# MinIO with `go install`, which needs Go and the Go module proxy. A MinIO
# build with a cold Go cache takes minutes, so `up` runs it while the
# other services start. `up` and `start` reuse a service that already
# runs, so running them twice is safe.
#
# Environment (default):
#   MAILTRIAGE_KAFKA_PORT (19092)            Kafka PLAINTEXT listener
#   MAILTRIAGE_KAFKA_SASL_SSL_PORT (19093)   Kafka SASL_SSL listener
#   MAILTRIAGE_KAFKA_CONTROLLER_PORT (19094) Kafka KRaft controller listener
#   MAILTRIAGE_POSTGRES_PORT (15432)         PostgreSQL
#   MAILTRIAGE_CLICKHOUSE_PORT (19000)       ClickHouse native protocol
#   MAILTRIAGE_CLICKHOUSE_HTTP_PORT (18123)  ClickHouse HTTP interface
#   MAILTRIAGE_MINIO_PORT (19010)            MinIO S3 API
#   MAILTRIAGE_MINIO_CONSOLE_PORT (19011)    MinIO web console
#   MAILTRIAGE_KAFKA_HEAP_OPTS (-Xms256m -Xmx512m)  broker heap
#   MAILTRIAGE_STACK_TIMEOUT (180)           seconds to wait for each service to be ready
#   MAILTRIAGE_STACK_STOP_TIMEOUT (60)       seconds between SIGTERM and SIGKILL
#   MAILTRIAGE_STACK_DIR (.stack)            where data, logs, jars and binaries live
# `up` saves the ports in .stack/ports, and later commands reuse them
# unless the environment names others.
set -euo pipefail
# shellcheck source-path=SCRIPTDIR

STACK_SCRIPT=$(readlink -f "${BASH_SOURCE[0]}")
STACK_LIB=$(dirname "$STACK_SCRIPT")/stack
REPO_ROOT=$(cd "$(dirname "$STACK_SCRIPT")/.." && pwd)
STACK_DIR=${MAILTRIAGE_STACK_DIR:-$REPO_ROOT/.stack}
KAFKA_DIR=$STACK_DIR/kafka
POSTGRES_DIR=$STACK_DIR/postgres
CLICKHOUSE_DIR=$STACK_DIR/clickhouse
MINIO_DIR=$STACK_DIR/minio
PORTS_FILE=$STACK_DIR/ports
ENV_FILE=$STACK_DIR/env
READY_TIMEOUT=${MAILTRIAGE_STACK_TIMEOUT:-180}
STOP_TIMEOUT=${MAILTRIAGE_STACK_STOP_TIMEOUT:-60}
KAFKA_HEAP_OPTS=${MAILTRIAGE_KAFKA_HEAP_OPTS:--Xms256m -Xmx512m}
LOCK_TIMEOUT=900
LOG_TAIL_LINES=40
SERVICES=(postgres clickhouse kafka minio)

# shellcheck source=scripts/stack/common.sh
. "$STACK_LIB/common.sh"
# shellcheck source=scripts/stack/kafka.sh
. "$STACK_LIB/kafka.sh"
# shellcheck source=scripts/stack/postgres.sh
. "$STACK_LIB/postgres.sh"
# shellcheck source=scripts/stack/clickhouse.sh
. "$STACK_LIB/clickhouse.sh"
# shellcheck source=scripts/stack/minio.sh
. "$STACK_LIB/minio.sh"

usage() {
	sed -n '7,13s/^# \{0,1\}//p' "$STACK_SCRIPT" >&2
	exit 2
}

require_root() {
	[[ $(id -u) == 0 ]] || die "'$1' must run as root: it installs packages and runs PostgreSQL as the postgres OS user"
}

require_service() {
	case ${1:-} in
	kafka | postgres | clickhouse | minio) ;;
	*) die "unknown service '${1:-}': use kafka, postgres, clickhouse or minio" ;;
	esac
}

# print_versions prints the version of each tool the stack runs.
print_versions() {
	postgres_bin
	log "java: $(java -version 2>&1 | head -n 1)"
	log "mvn: $(mvn -v 2>/dev/null | head -n 1 | sed 's/\x1b\[[0-9;]*m//g')"
	log "postgres: $("$PG_BIN/postgres" --version)"
	log "clickhouse: $(clickhouse-client --version 2>&1 | head -n 1)"
	log "minio: $MINIO_MODULE@$MINIO_VERSION"
}

# write_env writes the variables of the stack contract to .stack/env as
# export lines that `make test` and a shell can source.
write_env() {
	kafka_paths
	local password
	password=$(kafka_password)
	cat >"$ENV_FILE.partial" <<EOF
# Written by scripts/stack.sh up. Load it with: . .stack/env
export MAILTRIAGE_KAFKA_BROKERS='127.0.0.1:$KAFKA_PORT'
export MAILTRIAGE_KAFKA_SASL_SSL='127.0.0.1:$KAFKA_SASL_SSL_PORT'
export MAILTRIAGE_KAFKA_CA='$KAFKA_CA'
export MAILTRIAGE_KAFKA_SCRAM_USER='$KAFKA_USER'
export MAILTRIAGE_KAFKA_SCRAM_PASS='$password'
export MAILTRIAGE_KAFKA_PID_FILE='$KAFKA_PID'
export MAILTRIAGE_POSTGRES_DSN='postgres://$POSTGRES_ROLE@127.0.0.1:$POSTGRES_PORT/$POSTGRES_DATABASE?sslmode=disable'
export MAILTRIAGE_CLICKHOUSE_ADDR='127.0.0.1:$CLICKHOUSE_PORT'
export MAILTRIAGE_CLICKHOUSE_DATABASE='$CLICKHOUSE_DATABASE'
export MAILTRIAGE_STACK_SCRIPT='$STACK_SCRIPT'
EOF
	minio_env_lines >>"$ENV_FILE.partial"
	chmod 600 "$ENV_FILE.partial"
	mv "$ENV_FILE.partial" "$ENV_FILE"
}

cmd_up() {
	require_root up
	take_lock
	load_ports
	local started=$SECONDS
	minio_build_begin

	kafka_paths
	mkdir -p "$KAFKA_DIR" "$CLICKHOUSE_DIR"
	postgres_install
	clickhouse_install
	kafka_install_tools
	print_versions
	kafka_fetch_jars
	save_ports

	local service step
	for service in "${SERVICES[@]}"; do
		step=$SECONDS
		"${service}_up"
		log "$service: took $((SECONDS - step))s"
	done

	write_env
	log "all services ready after $((SECONDS - started))s; variables in $ENV_FILE"
}

cmd_down() {
	local purge=false
	case ${1:-} in
	'') ;;
	--purge) purge=true ;;
	*) die "unknown option '$1' for down: use 'down' or 'down --purge'" ;;
	esac
	require_root down
	take_lock
	load_ports

	minio_stop
	kafka_stop
	clickhouse_stop
	postgres_stop

	if $purge; then
		# The jars and the MinIO binary stay: they are a download and
		# build cache, not data.
		log "deleting the data, logs, certificates and keys under $STACK_DIR (keeping $KAFKA_DIR/libs and $MINIO_DIR/bin)"
		local entry
		# A cluster placed outside the repository goes with its link.
		if [[ -L $STACK_DIR/postgres ]]; then
			entry=$(readlink -f "$STACK_DIR/postgres")
			rm -rf "$entry"
			rmdir "$(dirname "$entry")" 2>/dev/null || true
		fi
		for entry in "$STACK_DIR"/* "$STACK_DIR"/.[!.]*; do
			if [[ -e $entry || -L $entry ]] && [[ $entry != "$KAFKA_DIR" && $entry != "$MINIO_DIR" && $entry != "$STACK_DIR/.lock" ]]; then
				rm -rf "$entry"
			fi
		done
		if [[ -d $KAFKA_DIR ]]; then
			for entry in "$KAFKA_DIR"/*; do
				[[ -e $entry && $entry != "$KAFKA_DIR/libs" ]] && rm -rf "$entry"
			done
		fi
		if [[ -d $MINIO_DIR ]]; then
			for entry in "$MINIO_DIR"/*; do
				[[ -e $entry && $entry != "$MINIO_DIR/bin" ]] && rm -rf "$entry"
			done
		fi
	fi
	log "stopped"
}

cmd_status() {
	load_ports
	local service all_running=true
	for service in kafka postgres clickhouse minio; do
		"${service}_status" || all_running=false
	done
	$all_running || exit 3
}

cmd_service() {
	local action=$1 service=${2:-}
	require_service "$service"
	require_root "$action $service"
	take_lock
	load_ports
	case $action in
	start)
		"${service}_up"
		save_ports
		write_env
		;;
	stop) "${service}_stop" ;;
	kill) "${service}_kill" ;;
	esac
}

main() {
	case ${1:-} in
	up) cmd_up ;;
	down) cmd_down "${@:2}" ;;
	status) cmd_status ;;
	start | stop | kill)
		[[ $# == 2 ]] || usage
		cmd_service "$1" "$2"
		;;
	*) usage ;;
	esac
}

main "$@"
