// Owns: turning a stored item (its public spec and its opened secrets) into what a probe checks.
// Must not: log or keep the secrets it handles; parsing of certificate material lives in @conncheck/core.

import {
  type CertBundle,
  defaultSslMode,
  isSaslProtocol,
  javaTrustWarning,
  isTlsProtocol,
  type ItemSecrets,
  type ItemSpec,
  kafkaKeyStorePasswords,
  kafkaSaslMechanism,
  kafkaSslMode,
  kafkaTrustStorePassword,
  parseCaBundle,
  parseKeyStore,
  parseTrustStore,
} from '@conncheck/core';
import type { KafkaSettings, ProbeTarget, ProbeTls } from '@conncheck/probes';

export interface ProbeTargetOptions {
  /** CONNCHECK_TLS_EXPIRY_WARNING_DAYS. @defaultValue 30 (the probes' default) */
  tlsExpiryWarningDays?: number;
}

/**
 * Builds the probe's target. Throws only for material that validated at submission but cannot be used now
 * (a bug or a changed parser): the caller turns that into an INTERNAL_ERROR result.
 */
export function probeTarget(spec: ItemSpec, secrets: ItemSecrets | undefined, options: ProbeTargetOptions = {}): ProbeTarget {
  const target: ProbeTarget = { dbType: spec.db_type, endpoints: spec.endpoints };
  if (spec.db_user !== undefined) target.user = spec.db_user;
  if (secrets?.db_password !== undefined) target.password = secrets.db_password;
  if (spec.db_name !== undefined) target.database = spec.db_name;
  // Kafka never has ssl_link (validate-tls.ts refuses it): its TLS comes from kafka_security_config.
  if (spec.ssl_link) {
    // The CA bundle was parsed at submission already; parsing again here keeps PKCS#12 passwords out of the spec.
    const bundle = secrets?.ssl_cert_key ? parseCaBundle(secrets.ssl_cert_key, secrets.ssl_cert_password) : undefined;
    target.tls = {
      mode: defaultSslMode(spec.ssl_mode, bundle !== undefined),
      ...(bundle ? { ca: bundle.pems, ...javaTrust(bundle, 'ssl_cert_key') } : {}),
      ...(options.tlsExpiryWarningDays !== undefined ? { expiryWarningDays: options.tlsExpiryWarningDays } : {}),
    };
  }
  if (spec.kafka) {
    const { kafka, tls } = kafkaParts(spec.kafka, secrets?.kafka, options);
    target.kafka = kafka;
    if (tls) target.tls = tls;
  }
  return target;
}

/**
 * kafka_security_config as the probe takes it. SSL and SASL_SSL verify the broker's chain (against the truststore, else
 * the system CAs) and, unless endpoint_algorithm is "", its name, as Java clients do; a key store gives mutual TLS.
 * The stores were parsed at submission (a bad one is a 400) with the same passwords.
 */
function kafkaParts(
  config: NonNullable<ItemSpec['kafka']>,
  secrets: ItemSecrets['kafka'],
  options: ProbeTargetOptions,
): { kafka: KafkaSettings; tls?: ProbeTls } {
  const mechanism = isSaslProtocol(config.type) ? kafkaSaslMechanism(config.sasl_mechanism) : undefined;
  const kafka: KafkaSettings = { securityProtocol: config.type, ...(mechanism ? { saslMechanism: mechanism } : {}) };
  if (!isTlsProtocol(config.type)) return { kafka };
  const bundle = secrets?.trust_store_key ? parseTrustStore(secrets.trust_store_key, kafkaTrustStorePassword(secrets.trust_store_password)) : undefined;
  const passwords = kafkaKeyStorePasswords(secrets ?? {});
  const pair = config.enable_key_store === true && secrets?.key_store_key ? parseKeyStore(secrets.key_store_key, passwords.store, passwords.key) : undefined;
  const tls: ProbeTls = {
    mode: kafkaSslMode(config.endpoint_algorithm),
    ...(bundle ? { ca: bundle.pems, ...javaTrust(bundle, 'trust_store_key') } : {}),
    ...(pair ? { cert: pair.certPem, key: pair.keyPem } : {}),
    ...(options.tlsExpiryWarningDays !== undefined ? { expiryWarningDays: options.tlsExpiryWarningDays } : {}),
  };
  return { kafka, tls };
}

/**
 * What a Java client would trust of the material, when that is less than conncheck trusts: a check that succeeds only
 * thanks to the rest says so in a warning (an OpenSSL-made PKCS#12 truststore, a key store given as truststore).
 */
function javaTrust(bundle: CertBundle, field: 'trust_store_key' | 'ssl_cert_key'): Pick<ProbeTls, 'javaTrust'> {
  const warning = javaTrustWarning(bundle, field);
  return bundle.javaAnchors && warning ? { javaTrust: { anchors: bundle.javaAnchors, warning } } : {};
}
