# shellcheck shell=bash
# ClickHouse for scripts/stack.sh: Debian's clickhouse-server (18.16),
# run as a plain process with a config file whose paths all point into
# .stack/clickhouse, listening on 127.0.0.1 only. This file is sourced,
# not run.
#
# The user `default` has no password and may connect from loopback only.
# No interserver HTTP port is opened: this is a single server. The server
# runs as the user of the script (root): 18.16 starts as root with a config
# file of its own, so no switch to the clickhouse OS user is needed.

CLICKHOUSE_DATABASE=mailtriage

clickhouse_paths() {
	CH_CONFIG=$CLICKHOUSE_DIR/config.xml
	CH_USERS=$CLICKHOUSE_DIR/users.xml
	CH_LOG=$CLICKHOUSE_DIR/log/clickhouse-server.log
	CH_ERROR_LOG=$CLICKHOUSE_DIR/log/clickhouse-server.err.log
	CH_STDOUT=$CLICKHOUSE_DIR/log/stdout.log
	CH_PID=$CLICKHOUSE_DIR/clickhouse.pid
	CH_MARKER="--config-file=$CH_CONFIG"
}

clickhouse_install() {
	local packages=()
	command -v clickhouse-server >/dev/null || packages+=(clickhouse-server)
	command -v clickhouse-client >/dev/null || packages+=(clickhouse-client)
	if ((${#packages[@]} > 0)); then
		apt_install "${packages[@]}"
	fi
}

# clickhouse_configure writes config.xml and users.xml for the current
# ports. Both are rewritten on every start.
clickhouse_configure() {
	mkdir -p "$CLICKHOUSE_DIR"/{data,tmp,user_files,format_schemas,log}
	cat >"$CH_CONFIG" <<EOF
<?xml version="1.0"?>
<!-- Written by scripts/stack.sh on every start: edit the script, not this file. -->
<yandex>
    <logger>
        <level>information</level>
        <log>$CH_LOG</log>
        <errorlog>$CH_ERROR_LOG</errorlog>
        <size>100M</size>
        <count>3</count>
    </logger>

    <listen_host>127.0.0.1</listen_host>
    <tcp_port>$CLICKHOUSE_PORT</tcp_port>
    <http_port>$CLICKHOUSE_HTTP_PORT</http_port>

    <path>$CLICKHOUSE_DIR/data/</path>
    <tmp_path>$CLICKHOUSE_DIR/tmp/</tmp_path>
    <user_files_path>$CLICKHOUSE_DIR/user_files/</user_files_path>
    <format_schema_path>$CLICKHOUSE_DIR/format_schemas/</format_schema_path>
    <users_config>$CH_USERS</users_config>

    <default_profile>default</default_profile>
    <default_database>default</default_database>
    <timezone>UTC</timezone>
    <max_connections>1024</max_connections>
    <keep_alive_timeout>3</keep_alive_timeout>
    <max_concurrent_queries>100</max_concurrent_queries>
    <uncompressed_cache_size>268435456</uncompressed_cache_size>
    <mark_cache_size>268435456</mark_cache_size>
    <mlock_executable>false</mlock_executable>
</yandex>
EOF

	cat >"$CH_USERS" <<'EOF'
<?xml version="1.0"?>
<!-- Written by scripts/stack.sh on every start: edit the script, not this file. -->
<yandex>
    <profiles>
        <default>
            <max_memory_usage>4000000000</max_memory_usage>
            <load_balancing>random</load_balancing>
        </default>
    </profiles>
    <users>
        <default>
            <password></password>
            <networks>
                <ip>::1</ip>
                <ip>127.0.0.1</ip>
            </networks>
            <profile>default</profile>
            <quota>default</quota>
        </default>
    </users>
    <quotas>
        <default>
            <interval>
                <duration>3600</duration>
                <queries>0</queries>
                <errors>0</errors>
                <result_rows>0</result_rows>
                <read_rows>0</read_rows>
                <execution_time>0</execution_time>
            </interval>
        </default>
    </quotas>
</yandex>
EOF
}

# clickhouse_query runs one query over the native protocol.
clickhouse_query() {
	clickhouse-client --host 127.0.0.1 --port "$CLICKHOUSE_PORT" --query "$1"
}

clickhouse_ready() {
	[[ $(clickhouse_query 'SELECT 1' 2>/dev/null) == 1 ]]
}

clickhouse_running() {
	pid_runs "$CH_PID" "$CH_MARKER"
}

clickhouse_up() {
	clickhouse_paths
	mkdir -p "$CLICKHOUSE_DIR/log"
	clickhouse_install
	if clickhouse_running; then
		log "clickhouse: reusing the server that runs as PID $(read_pid "$CH_PID")"
	else
		clickhouse_start
	fi
	wait_for clickhouse "$CH_ERROR_LOG:$CH_STDOUT" "$CH_PID" "$CH_MARKER" \
		"answer to 'SELECT 1' on 127.0.0.1:$CLICKHOUSE_PORT" clickhouse_ready

	local setup_log=$CLICKHOUSE_DIR/log/setup.log
	clickhouse_query "CREATE DATABASE IF NOT EXISTS $CLICKHOUSE_DATABASE" >"$setup_log" 2>&1 ||
		fail_service clickhouse "$setup_log" "creating the database '$CLICKHOUSE_DATABASE' failed"
	log "clickhouse: ready on 127.0.0.1:$CLICKHOUSE_PORT (native) and 127.0.0.1:$CLICKHOUSE_HTTP_PORT (HTTP)"
}

clickhouse_start() {
	require_free_port clickhouse "$CLICKHOUSE_PORT" MAILTRIAGE_CLICKHOUSE_PORT
	require_free_port clickhouse "$CLICKHOUSE_HTTP_PORT" MAILTRIAGE_CLICKHOUSE_HTTP_PORT
	clickhouse_configure
	log "clickhouse: starting the server (log: $CH_LOG)"
	printf '\n==== started by scripts/stack.sh at %s ====\n' "$(date -u +%FT%TZ)" >>"$CH_STDOUT"
	start_background "$CH_STDOUT" clickhouse-server "$CH_MARKER" >"$CH_PID"
}

clickhouse_stop() {
	clickhouse_paths
	if clickhouse_running; then
		log "clickhouse: stopping PID $(read_pid "$CH_PID")"
		stop_pid clickhouse "$(read_pid "$CH_PID")"
	fi
	rm -f "$CH_PID"
}

clickhouse_kill() {
	clickhouse_paths
	if clickhouse_running; then
		log "clickhouse: sending SIGKILL to PID $(read_pid "$CH_PID")"
		kill_pid "$(read_pid "$CH_PID")"
	fi
	rm -f "$CH_PID"
}

clickhouse_status() {
	clickhouse_paths
	if clickhouse_running; then
		echo "clickhouse  running  PID $(read_pid "$CH_PID")  127.0.0.1:$CLICKHOUSE_PORT native, 127.0.0.1:$CLICKHOUSE_HTTP_PORT HTTP  log $CH_LOG"
	else
		echo "clickhouse  stopped  log $CH_LOG"
		return 1
	fi
}
