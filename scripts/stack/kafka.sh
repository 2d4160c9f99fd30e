# shellcheck shell=bash
# Kafka 4.4 for scripts/stack.sh: one KRaft node that is both broker and
# controller, on loopback, run from the jars that Maven copies from the
# registry with the machine's Java 17. This file is sourced, not run.
#
# Listeners:
#   PLAINTEXT  127.0.0.1:$KAFKA_PORT            (MAILTRIAGE_KAFKA_BROKERS)
#   SASL_SSL   127.0.0.1:$KAFKA_SASL_SSL_PORT   SCRAM-SHA-256, SCRAM-SHA-512, PLAIN
#   CONTROLLER 127.0.0.1:$KAFKA_CONTROLLER_PORT KRaft quorum, not for clients

KAFKA_USER=mailtriage

kafka_paths() {
	KAFKA_LIBS=$KAFKA_DIR/libs
	KAFKA_DATA=$KAFKA_DIR/data
	KAFKA_TLS=$KAFKA_DIR/tls
	KAFKA_CONFIG=$KAFKA_DIR/server.properties
	KAFKA_LOG4J=$KAFKA_DIR/log4j2.properties
	KAFKA_LOG=$KAFKA_DIR/kafka.log
	KAFKA_PID=$KAFKA_DIR/kafka.pid
	KAFKA_MARKER="kafka.Kafka $KAFKA_CONFIG"
	KAFKA_CA=$KAFKA_TLS/ca.pem
	KAFKA_PASSWORD_FILE=$KAFKA_DIR/scram-password
}

# kafka_install_tools installs Java 17, Maven and openssl when missing.
kafka_install_tools() {
	local packages=()
	command -v java >/dev/null || packages+=(openjdk-17-jre-headless)
	command -v mvn >/dev/null || packages+=(maven)
	command -v openssl >/dev/null || packages+=(openssl)
	if ((${#packages[@]} > 0)); then
		apt_install "${packages[@]}"
	fi

	local java_major
	java_major=$(java -XshowSettings:properties -version 2>&1 | sed -n 's/^ *java.specification.version = //p')
	if [[ -z $java_major || ${java_major%%.*} -lt 17 ]]; then
		die "kafka: Kafka 4.4 needs Java 17 or newer but 'java' is version '${java_major:-unknown}': install openjdk-17-jre-headless or put a newer java first on PATH"
	fi
}

# kafka_fetch_jars copies the broker's jars into $KAFKA_LIBS with Maven,
# unless a copy made from the same pom is there already.
kafka_fetch_jars() {
	local pom=$STACK_LIB/kafka-pom.xml stamp
	stamp=$(sha256sum "$pom" | cut -d' ' -f1)
	if [[ -r $KAFKA_LIBS/.pom-sha256 && $(<"$KAFKA_LIBS/.pom-sha256") == "$stamp" ]]; then
		return 0
	fi

	log "kafka: copying the broker's jars into $KAFKA_LIBS with Maven"
	local maven_log=$KAFKA_DIR/maven.log
	rm -rf "$KAFKA_LIBS.partial"
	if ! mvn -q -B -f "$pom" dependency:copy-dependencies \
		-DincludeScope=runtime -DoutputDirectory="$KAFKA_LIBS.partial" >"$maven_log" 2>&1; then
		fail_service kafka "$maven_log" "Maven could not copy the jars listed in $pom"
	fi
	echo "$stamp" >"$KAFKA_LIBS.partial/.pom-sha256"
	rm -rf "$KAFKA_LIBS"
	mv "$KAFKA_LIBS.partial" "$KAFKA_LIBS"
}

# kafka_tls creates, once, a CA and a broker certificate for 127.0.0.1,
# ::1 and localhost, signed by that CA. Clients trust $KAFKA_CA.
kafka_tls() {
	[[ -s $KAFKA_TLS/broker-keystore.pem && -s $KAFKA_CA ]] && return 0

	log "kafka: creating a CA and a broker certificate in $KAFKA_TLS"
	rm -rf "$KAFKA_TLS"
	mkdir -p "$KAFKA_TLS"
	local tls_log=$KAFKA_DIR/tls.log
	{
		openssl req -x509 -newkey rsa:2048 -nodes -days 3650 \
			-subj '/CN=mailtriage local stack CA' \
			-addext 'basicConstraints=critical,CA:TRUE' \
			-addext 'keyUsage=critical,keyCertSign,cRLSign' \
			-keyout "$KAFKA_TLS/ca.key" -out "$KAFKA_CA" &&
			openssl req -newkey rsa:2048 -nodes -subj '/CN=localhost' \
				-keyout "$KAFKA_TLS/broker.key" -out "$KAFKA_TLS/broker.csr" &&
			printf '%s\n' \
				'basicConstraints=CA:FALSE' \
				'keyUsage=critical,digitalSignature,keyEncipherment' \
				'extendedKeyUsage=serverAuth' \
				'subjectAltName=IP:127.0.0.1,IP:::1,DNS:localhost' >"$KAFKA_TLS/broker.ext" &&
			openssl x509 -req -days 3650 -in "$KAFKA_TLS/broker.csr" \
				-CA "$KAFKA_CA" -CAkey "$KAFKA_TLS/ca.key" -CAcreateserial \
				-extfile "$KAFKA_TLS/broker.ext" -out "$KAFKA_TLS/broker.pem"
	} >"$tls_log" 2>&1 || fail_service kafka "$tls_log" "openssl could not create the TLS certificates"

	# A PEM key store contains the unencrypted PKCS#8 key, then the chain.
	cat "$KAFKA_TLS/broker.key" "$KAFKA_TLS/broker.pem" "$KAFKA_CA" >"$KAFKA_TLS/broker-keystore.pem"
	chmod 600 "$KAFKA_TLS/ca.key" "$KAFKA_TLS/broker.key" "$KAFKA_TLS/broker-keystore.pem"
}

# kafka_password prints the password of the SCRAM and PLAIN user,
# creating it once.
kafka_password() {
	if [[ ! -s $KAFKA_PASSWORD_FILE ]]; then
		mkdir -p "$KAFKA_DIR"
		(umask 077 && openssl rand -hex 16 >"$KAFKA_PASSWORD_FILE")
	fi
	cat "$KAFKA_PASSWORD_FILE"
}

# kafka_configure writes server.properties and the Log4j 2 settings for
# the current ports.
kafka_configure() {
	local password
	password=$(kafka_password)
	(
		umask 077
		cat >"$KAFKA_CONFIG" <<EOF
# Written by scripts/stack.sh on every start: edit the script, not this file.
process.roles=broker,controller
node.id=1
controller.quorum.bootstrap.servers=127.0.0.1:$KAFKA_CONTROLLER_PORT
controller.listener.names=CONTROLLER
listeners=PLAINTEXT://127.0.0.1:$KAFKA_PORT,SASL_SSL://127.0.0.1:$KAFKA_SASL_SSL_PORT,CONTROLLER://127.0.0.1:$KAFKA_CONTROLLER_PORT
advertised.listeners=PLAINTEXT://127.0.0.1:$KAFKA_PORT,SASL_SSL://127.0.0.1:$KAFKA_SASL_SSL_PORT
listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT,SASL_SSL:SASL_SSL
inter.broker.listener.name=PLAINTEXT
log.dirs=$KAFKA_DATA

# SASL_SSL: SCRAM users live in the metadata log (added when the storage
# is formatted); the PLAIN user is listed here.
sasl.enabled.mechanisms=SCRAM-SHA-256,SCRAM-SHA-512,PLAIN
listener.name.sasl_ssl.scram-sha-256.sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required;
listener.name.sasl_ssl.scram-sha-512.sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required;
listener.name.sasl_ssl.plain.sasl.jaas.config=org.apache.kafka.common.security.plain.PlainLoginModule required user_$KAFKA_USER="$password";
ssl.keystore.type=PEM
ssl.keystore.location=$KAFKA_TLS/broker-keystore.pem
ssl.client.auth=none

# One node: every internal topic has one replica.
offsets.topic.replication.factor=1
offsets.topic.num.partitions=10
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
transaction.state.log.num.partitions=10
share.coordinator.state.topic.replication.factor=1
share.coordinator.state.topic.min.isr=1
group.initial.rebalance.delay.ms=0
num.partitions=1
default.replication.factor=1
min.insync.replicas=1

# Topics are created by 'mailtriage topics' and by tests, never by a
# producer or consumer that names a missing topic.
auto.create.topics.enable=false
EOF
	)

	cat >"$KAFKA_LOG4J" <<'EOF'
# Written by scripts/stack.sh: the broker logs to stdout, which the script
# appends to kafka.log.
status = warn
appender.stdout.type = Console
appender.stdout.name = STDOUT
appender.stdout.layout.type = PatternLayout
appender.stdout.layout.pattern = [%d] %p %m (%c)%n
rootLogger.level = INFO
rootLogger.appenderRef.stdout.ref = STDOUT
logger.request.name = kafka.request.logger
logger.request.level = WARN
logger.state.name = state.change.logger
logger.state.level = WARN
EOF
}

# kafka_jvm sets KAFKA_JVM to the java command line, up to the main
# class, that runs Kafka with the copied jars and the given heap options.
kafka_jvm() {
	local heap_opts=$1
	# shellcheck disable=SC2206 # heap options are words on purpose
	KAFKA_JVM=(java $heap_opts -XX:+UseG1GC -XX:MaxGCPauseMillis=20 -XX:+ExitOnOutOfMemoryError
		-Djava.awt.headless=true -Dlog4j2.configurationFile="$KAFKA_LOG4J" -cp "$KAFKA_LIBS/*")
}

# kafka_format formats the log directory once, as a single-node dynamic
# quorum, with the SCRAM credentials of $KAFKA_USER.
kafka_format() {
	[[ -e $KAFKA_DATA/meta.properties ]] && return 0

	local password cluster_id format_log=$KAFKA_DIR/format.log
	password=$(kafka_password)
	# A cluster ID is 16 random bytes in unpadded URL-safe base64, the
	# form that 'kafka-storage random-uuid' prints. Like random-uuid, draw
	# again when it starts with '-': the storage tool would read such an
	# ID as an option and fail (one run in 64).
	cluster_id=-
	while [[ $cluster_id == -* ]]; do
		cluster_id=$(openssl rand -base64 16 | tr '+/' '-_' | tr -d '=\n')
	done
	kafka_jvm -Xmx256m
	log "kafka: formatting $KAFKA_DATA for cluster $cluster_id"
	mkdir -p "$KAFKA_DATA"
	if ! "${KAFKA_JVM[@]}" kafka.tools.StorageTool format --standalone \
		--config "$KAFKA_CONFIG" --cluster-id "$cluster_id" \
		--add-scram "SCRAM-SHA-256=[name=$KAFKA_USER,password=$password]" \
		--add-scram "SCRAM-SHA-512=[name=$KAFKA_USER,password=$password]" >"$format_log" 2>&1; then
		rm -rf "$KAFKA_DATA"
		fail_service kafka "$format_log" "kafka.tools.StorageTool format failed"
	fi
}

# kafka_metadata_ready sends one Metadata request (version 4, all
# topics) to the PLAINTEXT listener and succeeds when the reply carries
# the request's correlation ID and lists at least one broker.
kafka_metadata_ready() {
	local reply
	reply=$(timeout 5 bash -c '
		exec 3<>"/dev/tcp/127.0.0.1/$1" || exit 1
		# size 20, api key 3, version 4, correlation ID 0x4d54,
		# client ID "stack", topics null, allow_auto_topic_creation false
		printf "\x00\x00\x00\x14\x00\x03\x00\x04\x00\x00\x4d\x54\x00\x05stack\xff\xff\xff\xff\x00" >&3
		dd bs=1 count=16 status=none <&3 | od -An -tx1 -v
	' probe "$KAFKA_PORT" 2>/dev/null) || return 1
	reply=${reply//[[:space:]]/}
	# size (4 bytes), correlation ID (4), throttle time (4), broker count (4)
	[[ ${#reply} == 32 && ${reply:8:8} == 00004d54 ]] || return 1
	((16#${reply:24:8} >= 1))
}

kafka_ready() {
	kafka_metadata_ready && port_accepts 127.0.0.1 "$KAFKA_SASL_SSL_PORT"
}

kafka_running() {
	pid_runs "$KAFKA_PID" "$KAFKA_MARKER"
}

kafka_up() {
	kafka_paths
	mkdir -p "$KAFKA_DIR"
	kafka_install_tools
	kafka_fetch_jars
	if kafka_running; then
		log "kafka: reusing the broker that runs as PID $(read_pid "$KAFKA_PID")"
	else
		kafka_start
	fi
	wait_for kafka "$KAFKA_LOG" "$KAFKA_PID" "$KAFKA_MARKER" \
		"metadata reply on 127.0.0.1:$KAFKA_PORT and SASL_SSL listener on 127.0.0.1:$KAFKA_SASL_SSL_PORT" kafka_ready
	log "kafka: ready on 127.0.0.1:$KAFKA_PORT (PLAINTEXT) and 127.0.0.1:$KAFKA_SASL_SSL_PORT (SASL_SSL)"
}

kafka_start() {
	require_free_port kafka "$KAFKA_PORT" MAILTRIAGE_KAFKA_PORT
	require_free_port kafka "$KAFKA_SASL_SSL_PORT" MAILTRIAGE_KAFKA_SASL_SSL_PORT
	require_free_port kafka "$KAFKA_CONTROLLER_PORT" MAILTRIAGE_KAFKA_CONTROLLER_PORT
	kafka_tls
	kafka_configure
	kafka_format

	log "kafka: starting the broker (log: $KAFKA_LOG)"
	printf '\n==== started by scripts/stack.sh at %s ====\n' "$(date -u +%FT%TZ)" >>"$KAFKA_LOG"
	kafka_jvm "$KAFKA_HEAP_OPTS"
	start_background "$KAFKA_LOG" "${KAFKA_JVM[@]}" kafka.Kafka "$KAFKA_CONFIG" >"$KAFKA_PID"
}

kafka_stop() {
	kafka_paths
	if kafka_running; then
		log "kafka: stopping PID $(read_pid "$KAFKA_PID")"
		stop_pid kafka "$(read_pid "$KAFKA_PID")"
	fi
	rm -f "$KAFKA_PID"
}

kafka_kill() {
	kafka_paths
	if kafka_running; then
		log "kafka: sending SIGKILL to PID $(read_pid "$KAFKA_PID")"
		kill_pid "$(read_pid "$KAFKA_PID")"
	fi
	rm -f "$KAFKA_PID"
}

kafka_status() {
	kafka_paths
	if kafka_running; then
		echo "kafka       running  PID $(read_pid "$KAFKA_PID")  127.0.0.1:$KAFKA_PORT PLAINTEXT, 127.0.0.1:$KAFKA_SASL_SSL_PORT SASL_SSL  log $KAFKA_LOG"
	else
		echo "kafka       stopped  log $KAFKA_LOG"
		return 1
	fi
}
