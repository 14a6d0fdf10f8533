// Owns: the submission-time rules for a Kafka job's kafka_security_config, including opening its trust and key
// stores (a bad store is a 400, not a failed item). Must not: open connections; it only judges what the request carries.

import type { BatchJob } from './batch-request.js';
import { CERT_MATERIAL_API_CODES, CertMaterialError, type CertMaterialReason, parseKeyStore, parseTrustStore } from './cert-material.js';
import { ApiErrorCode } from './error-codes.js';
import type { ProblemList } from './field-problems.js';
import { isSaslProtocol, isTlsProtocol, KAFKA_SASL_MECHANISMS, kafkaSaslMechanism } from './security-settings.js';

/** A value migration clients send as "" when it does not apply: "" counts as absent. */
const given = (value: string | undefined): string | undefined => (value === undefined || value === '' ? undefined : value);

/**
 * The passwords of the key store (mutual TLS): the store's, and the private key's — key_store_key_password, or its
 * alias key_password, else the store's (as Java's ssl.key.password defaults). "" counts as none.
 */
export function kafkaKeyStorePasswords(secrets: {
  key_store_password?: string | undefined;
  key_store_key_password?: string | undefined;
  key_password?: string | undefined;
}): { store?: string; key?: string } {
  const store = given(secrets.key_store_password);
  const key = given(secrets.key_store_key_password) ?? given(secrets.key_password);
  return { ...(store !== undefined ? { store } : {}), ...(key !== undefined ? { key } : {}) };
}

/** The trust store password, "" counting as none (a JKS is then read without an integrity check, as keytool does). */
export function kafkaTrustStorePassword(password: string | undefined): string | undefined {
  return given(password);
}

export function validateKafka(job: BatchJob, dbType: string, at: (field: string) => string, out: ProblemList): void {
  const config = job.kafka_security_config;
  if (config && dbType !== 'kafka') {
    out.add(at('kafka_security_config'), ApiErrorCode.INVALID_PARAMETER, 'is only valid with db_type kafka');
    return;
  }
  // Without kafka_security_config a kafka job is PLAINTEXT, the Kafka clients' default security.protocol.
  if (dbType !== 'kafka' || !config) return;
  const field = (name: string): string => at(`kafka_security_config.${name}`);
  const { type } = config;

  if (isSaslProtocol(type)) {
    if (given(config.sasl_mechanism) === undefined) {
      out.add(field('sasl_mechanism'), ApiErrorCode.MISSING_FIELD, `is required for type ${type} (${KAFKA_SASL_MECHANISMS.join(', ')})`);
    } else if (!kafkaSaslMechanism(config.sasl_mechanism)) {
      out.add(
        field('sasl_mechanism'),
        ApiErrorCode.UNSUPPORTED_SASL_MECHANISM,
        `"${config.sasl_mechanism}" is not supported; conncheck performs ${KAFKA_SASL_MECHANISMS.join(', ')} (not GSSAPI/Kerberos, OAUTHBEARER or AWS_MSK_IAM)`,
      );
    }
    if (config.delegation_tokens === true) {
      out.add(
        field('delegation_tokens'),
        ApiErrorCode.UNSUPPORTED_SASL_MECHANISM,
        'SCRAM with delegation tokens is not supported; authenticate with a user and password',
      );
    }
    if (given(job.db_user) === undefined) out.add(at('db_user'), ApiErrorCode.MISSING_FIELD, `is required for kafka type ${type} (the SASL user)`);
    if (job.db_password === undefined) out.add(at('db_password'), ApiErrorCode.MISSING_FIELD, `is required for kafka type ${type} (the SASL password)`);
  } else if (given(config.sasl_mechanism) !== undefined) {
    out.add(
      field('sasl_mechanism'),
      ApiErrorCode.INVALID_PARAMETER,
      `is used only with type SASL_PLAINTEXT or SASL_SSL, not ${type}${type === 'SSL' ? ' (for SASL over TLS, set type SASL_SSL)' : ''}`,
    );
  }

  if (!isTlsProtocol(type)) {
    for (const name of ['trust_store_key', 'key_store_key'] as const) {
      if (given(config[name]) !== undefined) out.add(field(name), ApiErrorCode.INVALID_PARAMETER, `is used only with type SSL or SASL_SSL, not ${type}`);
    }
    if (config.enable_key_store === true) out.add(field('enable_key_store'), ApiErrorCode.INVALID_PARAMETER, `needs type SSL or SASL_SSL, not ${type}`);
    return;
  }

  const algorithm = config.endpoint_algorithm;
  if (algorithm !== undefined && algorithm !== '' && algorithm.toLowerCase() !== 'https') {
    out.add(field('endpoint_algorithm'), ApiErrorCode.INVALID_PARAMETER, `must be "https" (verify the broker's name) or "" (do not), got "${algorithm}"`);
  }

  const trustStore = given(config.trust_store_key);
  if (trustStore !== undefined) {
    try {
      parseTrustStore(trustStore, kafkaTrustStorePassword(config.trust_store_password));
    } catch (err) {
      if (!(err instanceof CertMaterialError)) throw err;
      out.add(field(err.reason === 'wrong_password' ? 'trust_store_password' : 'trust_store_key'), CERT_MATERIAL_API_CODES[err.reason], err.message);
    }
  }

  if (config.enable_key_store === true) {
    const keyStore = given(config.key_store_key);
    const passwords = kafkaKeyStorePasswords(config);
    const alias = given(config.key_password);
    const keyPassword = given(config.key_store_key_password);
    if (alias !== undefined && keyPassword !== undefined && alias !== keyPassword) {
      out.add(field('key_password'), ApiErrorCode.INVALID_PARAMETER, 'is another name for key_store_key_password, and the two differ; give one');
    }
    if (config.set_private_key_password === true && passwords.key === undefined) {
      out.add(field('key_store_key_password'), ApiErrorCode.MISSING_FIELD, 'is required when set_private_key_password is true');
    }
    if (keyStore === undefined) {
      out.add(field('key_store_key'), ApiErrorCode.MISSING_FIELD, 'is required when enable_key_store is true (the client certificate and key)');
      return;
    }
    try {
      parseKeyStore(keyStore, passwords.store, passwords.key);
    } catch (err) {
      if (!(err instanceof CertMaterialError)) throw err;
      out.add(field(keyStoreField(err.reason, keyStore, passwords.store)), CERT_MATERIAL_API_CODES[err.reason], err.message);
    }
  }
}

/** Which field a key store problem is about: a wrong password is the key's when the store itself opens. */
function keyStoreField(reason: CertMaterialReason, keyStore: string, storePassword: string | undefined): string {
  if (reason !== 'wrong_password') return 'key_store_key';
  try {
    parseTrustStore(keyStore, storePassword);
    return 'key_store_key_password';
  } catch {
    return 'key_store_password';
  }
}
