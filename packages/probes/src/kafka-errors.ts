// Owns: turning kafkajs' errors (Kafka protocol error codes, its own error classes, the wrappers its retrier adds)
// into item failures. Must not: match on message text, or open connections.

import { ItemErrorCode as Code } from '@conncheck/core';
import { ProbeFailure } from './probe-result.js';
import { serverText } from './server-text.js';

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
 * adds (`cause`). Connection errors are not mapped here: the kafka probe sees the connection itself and knows more.
 * Undefined when the error is none of these.
 */
export function fromKafkaJsError(err: unknown): ProbeFailure | undefined {
  const e = innermostKafkaJsError(err);
  const message = serverText(e.message ?? String(err));
  switch (e.name) {
    case 'KafkaJSProtocolError': {
      const kafkaCode = typeof e.code === 'number' ? e.code : undefined;
      const code = (kafkaCode !== undefined ? KAFKA_ERROR_CODES[kafkaCode] : undefined) ?? Code.SERVER_UNAVAILABLE;
      return new ProbeFailure(code, `${message} (Kafka error ${String(e.type ?? '?')}, ${kafkaCode ?? '?'})`);
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
export function innermostKafkaJsError(err: unknown): KafkaJsErrorShape {
  let e = (err ?? {}) as KafkaJsErrorShape;
  for (let depth = 0; depth < 10 && e.cause && typeof e.cause === 'object' && e.cause !== e; depth++) {
    if (e.name !== 'KafkaJSNumberOfRetriesExceeded' && e.name !== 'KafkaJSNonRetriableError') break;
    e = e.cause as KafkaJsErrorShape;
  }
  return e;
}
