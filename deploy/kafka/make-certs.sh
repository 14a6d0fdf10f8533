#!/bin/sh
# Owns: the certificates of the compose file's `targets` Kafka (SASL_SSL): a CA and the broker's key store, made with
# keytool (no openssl needed) at first start into $CERTS_DIR. Must not: be used for anything but those demo targets.
#
# Writes: ca.pem (the CA certificate: the truststore a client needs), server.p12 (the broker's key and certificate,
# SAN DNS:$KAFKA_HOST and DNS:localhost, with the CA in its chain) and password (of server.p12, random per volume).
# The CA's private key is deleted once it has signed: nothing else can be signed with it. Nothing here is committed.
set -eu

dir="${CERTS_DIR:-/certs}"
host="${KAFKA_HOST:-kafka}"
if [ -s "$dir/ca.pem" ] && [ -s "$dir/server.p12" ] && [ -s "$dir/password" ]; then
  echo "kafka-certs: certificates already in $dir"
  exit 0
fi
mkdir -p "$dir"
cd "$dir"
rm -f ca.p12 ca.pem server.p12 server.csr server.pem password

pass="$(od -An -tx1 -N16 /dev/urandom | tr -d ' \n')"
kt() { keytool "$@" -storepass "$pass" -noprompt; }

kt -genkeypair -alias ca -keyalg EC -groupname secp256r1 -dname "CN=conncheck targets CA" -ext bc:c \
  -validity 825 -keystore ca.p12 -storetype PKCS12
kt -exportcert -rfc -alias ca -keystore ca.p12 -file ca.pem
kt -genkeypair -alias kafka -keyalg EC -groupname secp256r1 -dname "CN=$host" -validity 825 -keystore server.p12 -storetype PKCS12
kt -certreq -alias kafka -keystore server.p12 -file server.csr
kt -gencert -alias ca -keystore ca.p12 -infile server.csr -outfile server.pem -rfc -validity 825 \
  -ext "SAN=dns:$host,dns:localhost" -ext "EKU=serverAuth" -ext "KU=digitalSignature"
kt -importcert -alias ca -file ca.pem -keystore server.p12
kt -importcert -alias kafka -file server.pem -keystore server.p12

printf '%s' "$pass" > password
rm -f ca.p12 server.csr server.pem
chmod 644 ca.pem
chmod 600 password server.p12
echo "kafka-certs: made a CA and a certificate for $host in $dir"
