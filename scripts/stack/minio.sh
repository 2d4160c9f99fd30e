# shellcheck shell=bash
# MinIO for scripts/stack.sh: an S3-compatible object store, built from
# source with `go install` into .stack/minio/bin and run as a plain process
# on 127.0.0.1, with its data under .stack/minio/data. This file is
# sourced, not run.
#
# The root user and password are generated on the first start and kept in
# .stack/minio/secrets (mode 600). They reach the server through its
# environment, never its command line. A single-key KMS
# (MINIO_KMS_SECRET_KEY, also generated once) lets uploads request SSE-S3
# and SSE-KMS. Deleting that key makes the encrypted objects unreadable,
# so only `down --purge` removes it, together with the data.

# MinIO tags its releases RELEASE.<date>, which are not semantic versions,
# so the Go module proxy offers only pseudo-versions. This one is the
# commit of 2026-02-12 that `go install github.com/minio/minio@latest`
# resolved to.
MINIO_MODULE=github.com/minio/minio
MINIO_VERSION=v0.0.0-20260212201848-7aac2a2c5b7c
MINIO_KMS_KEY_NAME=mailtriage-key
MINIO_REGION=us-east-1

minio_paths() {
	MINIO_BIN_DIR=$MINIO_DIR/bin
	MINIO_BIN=$MINIO_BIN_DIR/minio
	MINIO_DATA=$MINIO_DIR/data
	MINIO_LOG=$MINIO_DIR/minio.log
	MINIO_BUILD_LOG=$MINIO_DIR/build.log
	MINIO_PID=$MINIO_DIR/minio.pid
	MINIO_SECRETS=$MINIO_DIR/secrets
	MINIO_MARKER="$MINIO_BIN server"
}

# minio_built succeeds when the binary exists and was built from
# MINIO_VERSION. Without the go command the version cannot be read, so a
# binary that exists counts as built.
minio_built() {
	[[ -x $MINIO_BIN ]] || return 1
	command -v go >/dev/null || return 0
	local built
	built=$(go version -m "$MINIO_BIN" 2>/dev/null | awk -v module="$MINIO_MODULE" '$1 == "mod" && $2 == module { print $3 }') || return 1
	[[ $built == "$MINIO_VERSION" ]]
}

# minio_build_begin starts `go install` in the background when the
# binary is missing, so that MinIO builds while the other services start,
# and minio_install waits for it. The build writes into a scratch folder,
# so an interrupted build leaves no half-written binary, and it runs in a
# session of its own, so that minio_build_cancel can stop the compiler
# processes with it.
minio_build_begin() {
	minio_paths
	MINIO_BUILD_PID=''
	minio_built && return 0
	minio_require_go
	minio_build_prepare
	log "minio: building $MINIO_MODULE@$MINIO_VERSION in the background (log: $MINIO_BUILD_LOG)"
	MINIO_BUILD_STARTED=$SECONDS
	GOBIN=$MINIO_DIR/bin.partial setsid nice go install "$MINIO_MODULE@$MINIO_VERSION" \
		</dev/null >>"$MINIO_BUILD_LOG" 2>&1 9>&- &
	MINIO_BUILD_PID=$!
	trap minio_build_cancel EXIT
}

# minio_build_cancel stops a background build that still runs when the
# script exits early, for example because another service failed.
minio_build_cancel() {
	if [[ -n ${MINIO_BUILD_PID:-} ]] && kill -0 "$MINIO_BUILD_PID" 2>/dev/null; then
		log "minio: stopping the unfinished build"
		kill -TERM -- "-$MINIO_BUILD_PID" 2>/dev/null || true
	fi
}

minio_build_prepare() {
	mkdir -p "$MINIO_BIN_DIR"
	rm -rf "$MINIO_DIR/bin.partial"
	mkdir -p "$MINIO_DIR/bin.partial"
	: >"$MINIO_BUILD_LOG"
}

# minio_build_finish moves the binary of a successful build into place.
minio_build_finish() {
	mv "$MINIO_DIR/bin.partial/minio" "$MINIO_BIN"
	rmdir "$MINIO_DIR/bin.partial"
	minio_built || fail_service minio "$MINIO_BUILD_LOG" "the binary built at $MINIO_BIN does not report $MINIO_MODULE $MINIO_VERSION in 'go version -m'"
}

minio_require_go() {
	command -v go >/dev/null ||
		die "minio: the go command is missing, and building MinIO needs it: install Go 1.24 or later, or put a MinIO binary built from $MINIO_MODULE@$MINIO_VERSION at $MINIO_BIN"
}

# minio_install makes sure the binary of MINIO_VERSION exists: it waits
# for the background build of minio_build_begin, or builds in the
# foreground when none runs.
minio_install() {
	minio_paths
	if [[ -n ${MINIO_BUILD_PID:-} ]]; then
		local status=0
		wait "$MINIO_BUILD_PID" || status=$?
		MINIO_BUILD_PID=''
		trap - EXIT
		((status == 0)) || fail_service minio "$MINIO_BUILD_LOG" "go install $MINIO_MODULE@$MINIO_VERSION failed"
		minio_build_finish
		log "minio: build finished after $((SECONDS - MINIO_BUILD_STARTED))s"
	fi
	minio_built && return 0

	minio_require_go
	minio_build_prepare
	log "minio: building $MINIO_MODULE@$MINIO_VERSION (log: $MINIO_BUILD_LOG); a build without a warm Go cache takes minutes"
	local started=$SECONDS
	GOBIN=$MINIO_DIR/bin.partial nice go install "$MINIO_MODULE@$MINIO_VERSION" </dev/null >>"$MINIO_BUILD_LOG" 2>&1 9>&- ||
		fail_service minio "$MINIO_BUILD_LOG" "go install $MINIO_MODULE@$MINIO_VERSION failed"
	minio_build_finish
	log "minio: build finished after $((SECONDS - started))s"
}

# minio_random prints n random bytes as lower-case hex.
minio_random() {
	head -c "$1" /dev/urandom | od -An -v -tx1 | tr -d ' \n'
}

# minio_secrets creates the root credentials and the KMS key once and
# sets MINIO_ROOT_USER_VALUE, MINIO_ROOT_PASSWORD_VALUE and
# MINIO_KMS_SECRET_KEY_VALUE from the secrets file.
minio_secrets() {
	if [[ ! -s $MINIO_SECRETS ]]; then
		mkdir -p "$MINIO_DIR"
		local kms_key
		kms_key=$(head -c 32 /dev/urandom | base64 -w 0)
		(
			umask 077
			cat >"$MINIO_SECRETS.partial" <<EOF
# MinIO root credentials and KMS key of the local stack, generated once by
# scripts/stack.sh. Deleting the KMS key makes encrypted objects unreadable.
minio_root_user=mailtriage-$(minio_random 6)
minio_root_password=$(minio_random 20)
minio_kms_secret_key=$MINIO_KMS_KEY_NAME:$kms_key
EOF
		)
		mv "$MINIO_SECRETS.partial" "$MINIO_SECRETS"
	fi

	local minio_root_user='' minio_root_password='' minio_kms_secret_key=''
	# shellcheck disable=SC1090
	. "$MINIO_SECRETS"
	[[ -n $minio_root_user && -n $minio_root_password && -n $minio_kms_secret_key ]] ||
		die "minio: $MINIO_SECRETS lacks minio_root_user, minio_root_password or minio_kms_secret_key: restore it, or run 'scripts/stack.sh down --purge' to start over"
	MINIO_ROOT_USER_VALUE=$minio_root_user
	MINIO_ROOT_PASSWORD_VALUE=$minio_root_password
	MINIO_KMS_SECRET_KEY_VALUE=$minio_kms_secret_key
}

# minio_env_lines prints the export lines of .stack/env for MinIO, or
# nothing before the first start has created the credentials.
minio_env_lines() {
	minio_paths
	[[ -s $MINIO_SECRETS ]] || return 0
	minio_secrets
	cat <<EOF
export MAILTRIAGE_S3_ENDPOINT='127.0.0.1:$MINIO_PORT'
export MAILTRIAGE_S3_TLS='false'
export MAILTRIAGE_S3_REGION='$MINIO_REGION'
export MAILTRIAGE_S3_ACCESS_KEY='$MINIO_ROOT_USER_VALUE'
export MAILTRIAGE_S3_SECRET_KEY='$MINIO_ROOT_PASSWORD_VALUE'
export MAILTRIAGE_S3_KMS_KEY_ID='$MINIO_KMS_KEY_NAME'
EOF
}

minio_running() {
	pid_runs "$MINIO_PID" "$MINIO_MARKER"
}

minio_ready() {
	curl -fsS -o /dev/null --max-time 3 "http://127.0.0.1:$MINIO_PORT/minio/health/ready" 2>/dev/null
}

minio_up() {
	minio_paths
	command -v curl >/dev/null || apt_install curl
	# The binary is built also when a server runs, so a later start finds it.
	minio_install
	if minio_running; then
		log "minio: reusing the server that runs as PID $(read_pid "$MINIO_PID")"
	else
		minio_start
	fi
	wait_for minio "$MINIO_LOG" "$MINIO_PID" "$MINIO_MARKER" \
		"answer from /minio/health/ready on 127.0.0.1:$MINIO_PORT" minio_ready
	log "minio: ready on 127.0.0.1:$MINIO_PORT (S3 API) and 127.0.0.1:$MINIO_CONSOLE_PORT (console)"
}

minio_start() {
	require_free_port minio "$MINIO_PORT" MAILTRIAGE_MINIO_PORT
	require_free_port minio "$MINIO_CONSOLE_PORT" MAILTRIAGE_MINIO_CONSOLE_PORT
	minio_secrets
	mkdir -p "$MINIO_DATA"
	log "minio: starting the server (log: $MINIO_LOG)"
	printf '\n==== started by scripts/stack.sh at %s ====\n' "$(date -u +%FT%TZ)" >>"$MINIO_LOG"
	# The subshell keeps the secrets out of this script's environment.
	# MINIO_UPDATE=off stops the server from looking for new releases.
	(
		export MINIO_ROOT_USER=$MINIO_ROOT_USER_VALUE
		export MINIO_ROOT_PASSWORD=$MINIO_ROOT_PASSWORD_VALUE
		export MINIO_KMS_SECRET_KEY=$MINIO_KMS_SECRET_KEY_VALUE
		export MINIO_SITE_REGION=$MINIO_REGION MINIO_UPDATE=off
		start_background "$MINIO_LOG" "$MINIO_BIN" server \
			--address "127.0.0.1:$MINIO_PORT" \
			--console-address "127.0.0.1:$MINIO_CONSOLE_PORT" \
			--quiet --anonymous "$MINIO_DATA" >"$MINIO_PID"
	)
}

minio_stop() {
	minio_paths
	if minio_running; then
		log "minio: stopping PID $(read_pid "$MINIO_PID")"
		stop_pid minio "$(read_pid "$MINIO_PID")"
	fi
	rm -f "$MINIO_PID"
}

minio_kill() {
	minio_paths
	if minio_running; then
		log "minio: sending SIGKILL to PID $(read_pid "$MINIO_PID")"
		kill_pid "$(read_pid "$MINIO_PID")"
	fi
	rm -f "$MINIO_PID"
}

minio_status() {
	minio_paths
	if minio_running; then
		echo "minio       running  PID $(read_pid "$MINIO_PID")  127.0.0.1:$MINIO_PORT S3 API, 127.0.0.1:$MINIO_CONSOLE_PORT console  log $MINIO_LOG"
	else
		echo "minio       stopped  log $MINIO_LOG"
		return 1
	fi
}
