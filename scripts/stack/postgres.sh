# shellcheck shell=bash
# PostgreSQL for scripts/stack.sh: Debian's server package, with a
# cluster of its own under .stack/postgres, owned and run by the
# `postgres` OS user on 127.0.0.1. This file is sourced, not run.
#
# Authentication is `trust` for every local and loopback connection: this
# is a throwaway test stack that listens on loopback only, so the role
# `mailtriage` has no password. Never copy these settings to a server
# that others can reach.

POSTGRES_OS_USER=postgres
POSTGRES_ROLE=mailtriage
POSTGRES_DATABASE=mailtriage

postgres_paths() {
	# An earlier start may have placed the cluster outside the repository
	# (see postgres_place); the link in .stack leads to it.
	if [[ -L $POSTGRES_DIR ]]; then
		POSTGRES_DIR=$(readlink -f "$POSTGRES_DIR")
	fi
	PG_DATA=$POSTGRES_DIR/data
	PG_SOCKETS=$POSTGRES_DIR/run
	PG_LOG=$POSTGRES_DIR/postgres.log
	PG_PID=$PG_DATA/postmaster.pid
	PG_MARKER="-D $PG_DATA"
}

# postgres_bin sets PG_BIN to the newest installed server's bin folder.
postgres_bin() {
	PG_BIN=$(find /usr/lib/postgresql -mindepth 3 -maxdepth 3 -path '*/bin/initdb' 2>/dev/null | sort -V | tail -n 1)
	PG_BIN=${PG_BIN%/initdb}
}

postgres_install() {
	postgres_bin
	if [[ -z $PG_BIN ]]; then
		apt_install postgresql
		postgres_bin
		[[ -n $PG_BIN ]] || die "postgres: the postgresql package installed no server under /usr/lib/postgresql/*/bin: check $STACK_DIR/apt.log"
	fi
	id "$POSTGRES_OS_USER" >/dev/null 2>&1 ||
		die "postgres: the OS user '$POSTGRES_OS_USER' is missing although the postgresql package is installed: reinstall it with 'apt-get install --reinstall postgresql-common'"
}

# as_postgres runs a command as the postgres OS user from its data
# folder, without the lock descriptor.
as_postgres() {
	(cd "$POSTGRES_DIR" && runuser -u "$POSTGRES_OS_USER" -- "$@" 9>&-)
}

# postgres_place makes sure that the postgres OS user can reach the
# cluster's folder. When a folder above the repository is closed to
# other users (a clone in a `mktemp -d` folder, say), the cluster goes to
# /var/lib/mailtriage-stack/ instead, with a link from .stack/postgres.
postgres_place() {
	mkdir -p "$POSTGRES_DIR"
	chown "$POSTGRES_OS_USER:$POSTGRES_OS_USER" "$POSTGRES_DIR"
	runuser -u "$POSTGRES_OS_USER" -- test -w "$POSTGRES_DIR" 9>&- && return 0

	if [[ -e $POSTGRES_DIR/data ]]; then
		die "postgres: the '$POSTGRES_OS_USER' OS user cannot reach the cluster in $POSTGRES_DIR/data: make every folder above it searchable by others (chmod o+x), or delete it with 'scripts/stack.sh down --purge'"
	fi
	local link=$POSTGRES_DIR outside
	outside=/var/lib/mailtriage-stack/$(printf '%s' "$STACK_DIR" | sha256sum | cut -c1-16)/postgres
	log "postgres: the '$POSTGRES_OS_USER' OS user cannot reach $link, so the cluster goes to $outside (linked from $link)"
	mkdir -p "$outside"
	chmod 755 "$(dirname "$(dirname "$outside")")" "$(dirname "$outside")"
	rm -rf "$link"
	ln -s "$outside" "$link"
	postgres_paths
	chown "$POSTGRES_OS_USER:$POSTGRES_OS_USER" "$POSTGRES_DIR"
	runuser -u "$POSTGRES_OS_USER" -- test -w "$POSTGRES_DIR" 9>&- ||
		die "postgres: the '$POSTGRES_OS_USER' OS user cannot write to $POSTGRES_DIR either: check the permissions of /var/lib"
}

# postgres_init creates the cluster once and points its settings at the
# stack's port and socket folder.
postgres_init() {
	postgres_place
	mkdir -p "$PG_SOCKETS"
	chown -R "$POSTGRES_OS_USER:$POSTGRES_OS_USER" "$POSTGRES_DIR"

	if [[ ! -s $PG_DATA/PG_VERSION ]]; then
		log "postgres: creating a cluster in $PG_DATA"
		local init_log=$POSTGRES_DIR/initdb.log
		rm -rf "$PG_DATA"
		: >"$init_log"
		chown "$POSTGRES_OS_USER:$POSTGRES_OS_USER" "$init_log"
		as_postgres "$PG_BIN/initdb" -D "$PG_DATA" -U postgres --auth=trust \
			--encoding=UTF8 --locale=C.UTF-8 --no-sync >>"$init_log" 2>&1 ||
			fail_service postgres "$init_log" "initdb failed"
		echo "include 'stack.conf'" >>"$PG_DATA/postgresql.conf"
	fi

	# fsync is off because this cluster contains test data only: a killed
	# server loses nothing (the kernel still writes what it was given),
	# only a crash of the whole machine could.
	cat >"$PG_DATA/stack.conf" <<EOF
# Written by scripts/stack.sh on every start: edit the script, not this file.
listen_addresses = '127.0.0.1'
port = $POSTGRES_PORT
unix_socket_directories = '$PG_SOCKETS'
max_connections = 200
fsync = off
EOF
	chown "$POSTGRES_OS_USER:$POSTGRES_OS_USER" "$PG_DATA/stack.conf"
}

postgres_running() {
	pid_runs "$PG_PID" "$PG_MARKER"
}

postgres_ready() {
	"$PG_BIN/pg_isready" -q -h 127.0.0.1 -p "$POSTGRES_PORT" -d postgres -U postgres
}

# postgres_psql runs SQL as the superuser over loopback.
postgres_psql() {
	"$PG_BIN/psql" -X -q -At -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$POSTGRES_PORT" -U postgres -d postgres "$@"
}

# postgres_create_database creates the role and the database of the
# tests when they are missing.
postgres_create_database() {
	local sql_log=$POSTGRES_DIR/setup.log
	{
		postgres_psql -c "DO \$\$ BEGIN
			IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '$POSTGRES_ROLE') THEN
				CREATE ROLE $POSTGRES_ROLE LOGIN CREATEDB;
			END IF;
		END \$\$;" &&
			if [[ -z $(postgres_psql -c "SELECT 1 FROM pg_database WHERE datname = '$POSTGRES_DATABASE'") ]]; then
				postgres_psql -c "CREATE DATABASE $POSTGRES_DATABASE OWNER $POSTGRES_ROLE"
			fi
	} >"$sql_log" 2>&1 || fail_service postgres "$sql_log" "creating the role and database '$POSTGRES_DATABASE' failed"
}

postgres_up() {
	postgres_paths
	postgres_install
	if postgres_running; then
		log "postgres: reusing the server that runs as PID $(read_pid "$PG_PID")"
	else
		postgres_start
	fi
	wait_for postgres "$PG_LOG" "$PG_PID" "$PG_MARKER" "answer from pg_isready on 127.0.0.1:$POSTGRES_PORT" postgres_ready
	postgres_create_database
	log "postgres: ready on 127.0.0.1:$POSTGRES_PORT"
}

postgres_start() {
	require_free_port postgres "$POSTGRES_PORT" MAILTRIAGE_POSTGRES_PORT
	postgres_init
	log "postgres: starting the server (log: $PG_LOG)"
	touch "$PG_LOG"
	chown "$POSTGRES_OS_USER:$POSTGRES_OS_USER" "$PG_LOG"
	# pg_ctl detaches the server; its own output goes to the log too.
	as_postgres "$PG_BIN/pg_ctl" -D "$PG_DATA" -l "$PG_LOG" -w -t "$READY_TIMEOUT" start >>"$PG_LOG" 2>&1 ||
		fail_service postgres "$PG_LOG" "pg_ctl start failed"
}

postgres_stop() {
	postgres_paths
	postgres_bin
	postgres_running || return 0
	local pid
	pid=$(read_pid "$PG_PID")
	log "postgres: stopping PID $pid"
	if ! as_postgres "$PG_BIN/pg_ctl" -D "$PG_DATA" -m fast -w -t "$STOP_TIMEOUT" stop >>"$PG_LOG" 2>&1; then
		log "postgres: pg_ctl stop failed after ${STOP_TIMEOUT}s: sending SIGKILL"
		postgres_kill_tree "$pid"
	fi
}

postgres_kill() {
	postgres_paths
	postgres_running || return 0
	local pid
	pid=$(read_pid "$PG_PID")
	log "postgres: sending SIGKILL to PID $pid and its backends"
	postgres_kill_tree "$pid"
}

# postgres_kill_tree sends SIGKILL to the postmaster and to its child
# processes, so that a restart does not wait for orphaned backends to
# release the shared memory.
postgres_kill_tree() {
	local pid=$1 children child
	children=$(ps -o pid= --ppid "$pid" || true)
	kill -KILL "$pid" 2>/dev/null || true
	for child in $children; do
		kill -KILL "$child" 2>/dev/null || true
	done
	wait_gone "$pid"
	for child in $children; do
		wait_gone "$child"
	done
}

postgres_status() {
	postgres_paths
	if postgres_running; then
		echo "postgres    running  PID $(read_pid "$PG_PID")  127.0.0.1:$POSTGRES_PORT  log $PG_LOG"
	else
		echo "postgres    stopped  log $PG_LOG"
		return 1
	fi
}
