#!/bin/sh
# Owns: starting the compose file's `targets` Kafka: one KRaft node (broker and controller) from the stock Apache
# Kafka jars, a PLAINTEXT listener and a SASL_SSL one (SCRAM-SHA-512 and PLAIN for $KAFKA_USER). Must not: be used
# as a production broker (one node, no replication) or make certificates (make-certs.sh does, before this runs).
set -eu

libs="${KAFKA_LIBS:-/opt/kafka/libs}"
certs="${CERTS_DIR:-/certs}"
data="${KAFKA_DATA:-/var/lib/kafka/data}"
host="${KAFKA_HOST:-kafka}"
bind="${KAFKA_BIND:-0.0.0.0}"
plaintext_port="${KAFKA_PLAINTEXT_PORT:-9092}"
sasl_ssl_port="${KAFKA_SASL_SSL_PORT:-9093}"
controller_port="${KAFKA_CONTROLLER_PORT:-9094}"
user="${KAFKA_USER:-app}"
password="${KAFKA_PASSWORD:?set KAFKA_PASSWORD: the password of $user}"
# Three parsers read it (the properties file, the JAAS line, --add-scram), each with its own quoting: keep it plain.
case "$password" in
  *[!A-Za-z0-9._~-]*) echo "kafka: KAFKA_PASSWORD may hold only letters, digits and . _ ~ -" >&2; exit 2 ;;
esac
store_password="$(cat "$certs/password")"
java="${JAVA_HOME:+$JAVA_HOME/bin/}java"

mkdir -p "$data/log"
props="$data/server.properties"
umask 077
cat > "$props" <<PROPS
# written by deploy/kafka/start.sh at every start
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@localhost:$controller_port
controller.listener.names=CONTROLLER
listeners=PLAINTEXT://$bind:$plaintext_port,SASL_SSL://$bind:$sasl_ssl_port,CONTROLLER://localhost:$controller_port
advertised.listeners=PLAINTEXT://$host:$plaintext_port,SASL_SSL://$host:$sasl_ssl_port
listener.security.protocol.map=PLAINTEXT:PLAINTEXT,SASL_SSL:SASL_SSL,CONTROLLER:PLAINTEXT
inter.broker.listener.name=PLAINTEXT
log.dirs=$data/log
ssl.keystore.type=PKCS12
ssl.keystore.location=$certs/server.p12
ssl.keystore.password=$store_password
ssl.key.password=$store_password
ssl.client.auth=none
sasl.enabled.mechanisms=SCRAM-SHA-512,PLAIN
listener.name.sasl_ssl.sasl.enabled.mechanisms=SCRAM-SHA-512,PLAIN
listener.name.sasl_ssl.scram-sha-512.sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required;
listener.name.sasl_ssl.plain.sasl.jaas.config=org.apache.kafka.common.security.plain.PlainLoginModule required user_$user="$password";
num.partitions=1
offsets.topic.replication.factor=1
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
share.coordinator.state.topic.replication.factor=1
share.coordinator.state.topic.min.isr=1
group.initial.rebalance.delay.ms=0
PROPS

set -- -Xms256m -Xmx512m -XX:+UseSerialGC -Djava.awt.headless=true -cp "$libs/*"
# The image's own logging configuration, where there is one (the stock jars alone log errors only).
for config in "${KAFKA_LOG4J_CONFIG:-}" /opt/kafka/config/log4j2.yaml /opt/kafka/config/log4j2.properties; do
  if [ -n "$config" ] && [ -f "$config" ]; then set -- "$@" "-Dlog4j2.configurationFile=$config"; break; fi
done

if [ ! -f "$data/log/meta.properties" ]; then
  # A cluster id is 16 random bytes in unpadded base64url; the SCRAM credential goes into the bootstrap metadata.
  cluster_id="$(head -c 16 /dev/urandom | base64 | tr '+/' '-_' | tr -d '=\n')"
  "$java" "$@" kafka.tools.StorageTool format --cluster-id "$cluster_id" --config "$props" \
    --add-scram "SCRAM-SHA-512=[name=$user,password=$password]" > "$data/format.log" 2>&1 || {
    grep -vi scram "$data/format.log" >&2
    exit 1
  }
  echo "kafka: formatted $data/log (cluster $cluster_id, SCRAM-SHA-512 user $user)"
fi
exec "$java" "$@" kafka.Kafka "$props"
