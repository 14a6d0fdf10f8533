// Owns: what a target's security settings mean, decided once for validation, the worker and the probes — the TLS
// modes and which applies when none is given, the Kafka security protocols (which use SASL, which TLS) and SASL mechanisms.
// Must not: judge a request (validate-*.ts do) or open connections (packages/probes).

/** TLS verification, as libpq names it. require: encrypt, verify nothing; verify-ca: the chain; verify-full: and the name. */
export const SSL_MODES = ['require', 'verify-ca', 'verify-full'] as const;
export type SslMode = (typeof SSL_MODES)[number];

/**
 * The mode of a TLS check that names none: verify-full when a CA was given to verify against, else require (a CA the
 * user did not give cannot be the one they meant, so nothing is verified and the item says so in a warning).
 */
export function defaultSslMode(given: SslMode | undefined, hasCa: boolean): SslMode {
  return given ?? (hasCa ? 'verify-full' : 'require');
}

/** Kafka's security.protocol values. */
export const KAFKA_SECURITY_PROTOCOLS = ['PLAINTEXT', 'SASL_PLAINTEXT', 'SSL', 'SASL_SSL'] as const;
export type KafkaSecurityProtocol = (typeof KAFKA_SECURITY_PROTOCOLS)[number];

export function isKafkaSecurityProtocol(value: string): value is KafkaSecurityProtocol {
  return (KAFKA_SECURITY_PROTOCOLS as readonly string[]).includes(value);
}

/** The SASL mechanisms the checker performs (kafkajs' PLAIN and SCRAM). */
export const KAFKA_SASL_MECHANISMS = ['PLAIN', 'SCRAM-SHA-256', 'SCRAM-SHA-512'] as const;
export type KafkaSaslMechanism = (typeof KAFKA_SASL_MECHANISMS)[number];

/** `sasl_mechanism` as the checker uses it (upper case), or undefined when it is not one it performs. */
export function kafkaSaslMechanism(value: string | undefined): KafkaSaslMechanism | undefined {
  const upper = value?.trim().toUpperCase();
  return KAFKA_SASL_MECHANISMS.find((m) => m === upper);
}

export function isSaslProtocol(protocol: KafkaSecurityProtocol): boolean {
  return protocol === 'SASL_PLAINTEXT' || protocol === 'SASL_SSL';
}

export function isTlsProtocol(protocol: KafkaSecurityProtocol): boolean {
  return protocol === 'SSL' || protocol === 'SASL_SSL';
}

/**
 * The mode of a Kafka TLS listener: Java clients verify the chain, and the broker's name unless
 * ssl.endpoint.identification.algorithm (our endpoint_algorithm) is "".
 */
export function kafkaSslMode(endpointAlgorithm: string | undefined): SslMode {
  return endpointAlgorithm === '' ? 'verify-ca' : 'verify-full';
}
