// Owns: turning what a Kafka check saw into item failures — kafkajs' errors (Kafka protocol error codes, its own error
// classes, the wrappers its retrier adds), what one connection showed (kafka-link.ts records), and the failure of an
// advertised broker named after its address. Must not: open connections, or match on message text of its own.

import { type Endpoint, hostPort, ItemErrorCode as Code } from '@conncheck/core';
import type { LinkRecord } from './kafka-link.js';
import { ApiKey } from './kafka-wire.js';
import { ProbeFailure } from './probe-result.js';
import { serverText } from './server-text.js';
import type { KafkaSettings } from './types.js';

/** What the wording of a failure needs to know about the check that was asked for. */
export interface KafkaRequest {
  settings: KafkaSettings;
  user: string | undefined;
  /** It uses TLS (SSL, SASL_SSL). */
  tls: boolean;
  /** It authenticates (a SASL type with a mechanism). */
  sasl: boolean;
}

/** Codes of an advertised address that cannot be reached (as opposed to one that answers wrongly). */
const UNREACHABLE = new Set<Code>([
  Code.DNS_RESOLUTION_FAILED,
  Code.CONNECTION_REFUSED,
  Code.CONNECTION_TIMEOUT,
  Code.HOST_UNREACHABLE,
  Code.CONNECTION_RESET,
  Code.TIMEOUT,
]);

const API_NAMES: Readonly<Record<number, string>> = {
  [ApiKey.Metadata]: 'Metadata',
  [ApiKey.SaslHandshake]: 'SaslHandshake',
  [ApiKey.ApiVersions]: 'ApiVersions',
  [ApiKey.SaslAuthenticate]: 'SaslAuthenticate',
};

/**
 * Why kafkajs gave up on a client: what its connections showed first, else its own error. `bootstrap`: the bootstrap
 * endpoint that answered (host:port), named when the failure is an advertised broker's.
 */
export function explainClient(err: unknown, records: readonly LinkRecord[], request: KafkaRequest, bootstrap: string | undefined): ProbeFailure {
  for (const record of records) {
    const failure = explainRecord(record, request);
    if (failure) return record.role === 'broker' && records[0]?.role === 'bootstrap' ? brokerFailure(record, failure, bootstrap) : failure;
  }
  const mapped = fromKafkaJsError(err);
  const seed = records[0];
  const mechanism = request.settings.saslMechanism;
  if (mapped?.code === Code.SASL_MECHANISM_UNSUPPORTED) {
    const offered = seed?.saslMechanisms?.length ? seed.saslMechanisms.join(', ') : 'none';
    return new ProbeFailure(mapped.code, `the listener does not enable SASL mechanism ${mechanism ?? '?'}; it enables ${offered}`);
  }
  if (mapped?.code === Code.SECURITY_PROTOCOL_MISMATCH) {
    const plain = request.tls ? 'SSL' : 'PLAINTEXT';
    return new ProbeFailure(
      mapped.code,
      `the listener does not use SASL (it answered the SASL handshake with ILLEGAL_SASL_STATE): it is a ${plain} listener, so set type ${plain}, or use the port of the SASL listener`,
    );
  }
  if (mapped?.code === Code.AUTH_FAILED) {
    // kafkajs' text, not ours: it prefixes the broker's reason with "SASL <MECHANISM> authentication failed: ", which
    // we say ourselves, and keeps the reason nowhere else.
    const raw = innermostKafkaJsError(err).message ?? '';
    const reason = serverText(raw.replace(/^SASL [A-Z0-9 -]+ (?:authentication )?failed: /i, ''));
    return new ProbeFailure(mapped.code, `SASL ${mechanism ?? ''} authentication of user "${request.user ?? ''}" failed: ${reason}`);
  }
  if (mapped) return mapped;
  const e = innermostKafkaJsError(err);
  return new ProbeFailure(Code.PROTOCOL_ERROR, `unexpected answer from the broker: ${serverText(e.message ?? String(err))}`);
}

/** A failure one connection shows by itself: one we saw happen, or the server closing it while a request waited. */
export function explainRecord(record: LinkRecord, request: KafkaRequest): ProbeFailure | undefined {
  if (record.failure && record.failure.code !== Code.CANCELED) return record.failure;
  const unanswered = record.closedByServer?.unanswered;
  if (!unanswered?.length) return undefined;
  const where = hostPort(record.host, record.port);
  const waiting = unanswered.map((key) => API_NAMES[key] ?? `API ${key}`).join(', ');
  if (!request.sasl && unanswered.includes(ApiKey.Metadata) && record.answered.includes(ApiKey.ApiVersions)) {
    const tls = request.settings.securityProtocol === 'SSL';
    return new ProbeFailure(
      Code.SECURITY_PROTOCOL_MISMATCH,
      `${where} answered ApiVersions, then closed the connection when asked for Metadata without SASL authentication: the listener requires SASL — set type ${tls ? 'SASL_SSL' : 'SASL_PLAINTEXT'} with sasl_mechanism, db_user and db_password` +
        (tls && request.user ? ' (the request has type SSL with a db_user: for SASL over TLS the type is SASL_SSL)' : ''),
    );
  }
  if (record.answered.length === 0) {
    return new ProbeFailure(
      Code.CONNECTION_RESET,
      `${where} closed the connection without answering ${waiting}, the first Kafka request` +
        (request.tls ? '' : ': if this is a TLS listener, set type SSL or SASL_SSL'),
    );
  }
  return new ProbeFailure(Code.CONNECTION_RESET, `${where} closed the connection while ${waiting} waited for an answer`);
}

/** The failure of an advertised broker, named as such: the bootstrap worked, the address it hands out does not. */
export function brokerFailure(broker: Endpoint & { nodeId?: number }, failure: ProbeFailure, bootstrap: string | undefined): ProbeFailure {
  if (failure instanceof BrokerFailure) return failure;
  const who = `${broker.nodeId !== undefined ? `broker ${broker.nodeId}` : 'a broker'} advertises ${hostPort(broker.host, broker.port)}`;
  const via = bootstrap ? ` (learnt from the bootstrap ${bootstrap})` : '';
  if (UNREACHABLE.has(failure.code)) {
    return new BrokerFailure(
      Code.BROKER_UNREACHABLE,
      `${who}${via}, which cannot be reached: ${failure.message} — clients connect to the advertised address after bootstrapping; check advertised.listeners`,
    );
  }
  if (failure.code === Code.TARGET_FORBIDDEN) return new BrokerFailure(Code.BROKER_FORBIDDEN, `${who}${via}: ${failure.message}`);
  return new BrokerFailure(failure.code, `${who}${via}: ${failure.message}`, failure.tls);
}

/** A failure already named after the broker that advertised the address. */
class BrokerFailure extends ProbeFailure {}

/** Kafka turns name verification on and off with endpoint_algorithm, not ssl_mode: a name mismatch says how. */
export function kafkaWording(failure: ProbeFailure): ProbeFailure {
  if (failure.code !== Code.TLS_HOSTNAME_MISMATCH) return failure;
  return new ProbeFailure(failure.code, `${failure.message} (endpoint_algorithm "https" verifies the broker name; "" does not)`, failure.tls);
}

/**
 * Kafka protocol error codes (Kafka's numbering, kafkajs' `code` on KafkaJSProtocolError) a broker answers a probe's
 * requests with during connection setup.
 */
const KAFKA_ERROR_CODES: Readonly<Record<number, Code>> = {
  33: Code.SASL_MECHANISM_UNSUPPORTED, // UNSUPPORTED_SASL_MECHANISM
  34: Code.SECURITY_PROTOCOL_MISMATCH, // ILLEGAL_SASL_STATE: a SASL handshake sent to a listener without SASL
  58: Code.AUTH_FAILED, // SASL_AUTHENTICATION_FAILED
  35: Code.PROTOCOL_ERROR, // UNSUPPORTED_VERSION
  42: Code.PROTOCOL_ERROR, // INVALID_REQUEST
};

/**
 * Maps an error kafkajs rejects with, by its class (`name`) and Kafka error `code`, through the wrappers its retrier
 * adds (`cause`). Connection errors are not mapped here: the connection's record knows more (explainRecord).
 * Undefined when the error is none of these.
 */
function fromKafkaJsError(err: unknown): ProbeFailure | undefined {
  const e = innermostKafkaJsError(err);
  const message = serverText(e.message ?? String(err));
  switch (e.name) {
    case 'KafkaJSProtocolError': {
      const kafkaCode = typeof e.code === 'number' ? e.code : undefined;
      const code = (kafkaCode !== undefined ? KAFKA_ERROR_CODES[kafkaCode] : undefined) ?? Code.SERVER_UNAVAILABLE;
      return new ProbeFailure(code, `${message} (Kafka error ${typeof e.type === 'string' ? e.type : '?'}, ${kafkaCode ?? '?'})`);
    }
    case 'KafkaJSSASLAuthenticationError':
      return new ProbeFailure(Code.AUTH_FAILED, message);
    case 'KafkaJSRequestTimeoutError':
    case 'KafkaJSLockTimeout':
      return new ProbeFailure(Code.TIMEOUT, message);
    case 'KafkaJSServerDoesNotSupportApiKey':
      return new ProbeFailure(Code.PROTOCOL_ERROR, `the broker does not support a request the checker needs: ${message}`);
    default:
      return undefined;
  }
}

type KafkaJsErrorShape = { name?: string; message?: string; code?: unknown; type?: unknown; cause?: unknown };

/** kafkajs' retrier wraps the error it gave up on (KafkaJSNumberOfRetriesExceeded, KafkaJSNonRetriableError). */
function innermostKafkaJsError(err: unknown): KafkaJsErrorShape {
  let e = (err ?? {}) as KafkaJsErrorShape;
  for (let depth = 0; depth < 10 && e.cause && typeof e.cause === 'object' && e.cause !== e; depth++) {
    if (e.name !== 'KafkaJSNumberOfRetriesExceeded' && e.name !== 'KafkaJSNonRetriableError') break;
    e = e.cause;
  }
  return e;
}
