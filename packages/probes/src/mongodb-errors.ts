// Owns: turning the MongoDB driver's errors (server codes, network and parse errors, the causes it wraps) into item
// failures. Must not: match on message text, or open connections.

import { ItemErrorCode as Code } from '@conncheck/core';
import { loadedDriver } from './drivers.js';
import { fromNodeError } from './node-errors.js';
import { ProbeFailure } from './probe-result.js';
import { serverText } from './server-text.js';

/**
 * MongoDB server error codes (`code` / `codeName` of a server reply) met while connecting and authenticating.
 * Unknown codes are SERVER_UNAVAILABLE: the server answered, and refused.
 */
const MONGO_SERVER_CODES: Readonly<Record<number, Code>> = {
  18: Code.AUTH_FAILED, // AuthenticationFailed: wrong password, no such user in the authentication database
  11: Code.AUTH_FAILED, // UserNotFound
  13: Code.AUTH_FAILED, // Unauthorized: "command … requires authentication"
  8000: Code.AUTH_FAILED, // AtlasError: Atlas answers "bad auth : authentication failed" with it
  334: Code.AUTH_METHOD_UNSUPPORTED, // MechanismUnavailable: the SCRAM variant is not enabled on the server
  9: Code.PROTOCOL_ERROR, // FailedToParse
  59: Code.PROTOCOL_ERROR, // CommandNotFound: not a MongoDB-compatible server for hello/ping
  50: Code.TIMEOUT, // MaxTimeMSExpired
  262: Code.TIMEOUT, // ExceededTimeLimit
};

/**
 * Maps any error of the MongoDB driver. The driver retries and wraps: server selection fails with a
 * MongoServerSelectionError whose own message is the last server's error, while the cause that tells what to fix
 * sits in `reason` (the topology description: its `error`, or each server description's `error`) or `cause`; a
 * network error carries Node's error (ECONNREFUSED, ENOTFOUND …) as `cause`. So the chain is followed down to
 * the deepest error we know, and that one is mapped. Never throws.
 */
export function fromMongoError(err: unknown): ProbeFailure {
  const {
    BSON,
    MongoCompatibilityError,
    MongoMissingCredentialsError,
    MongoNetworkError,
    MongoNetworkTimeoutError,
    MongoParseError,
    MongoServerError,
    MongoUnexpectedServerResponseError,
  } = loadedDriver('mongodb');
  const root = mongoRootCause(err);
  if (root instanceof ProbeFailure) return root;
  const message = serverText(root instanceof Error ? root.message : String(root));
  if (root instanceof MongoServerError) {
    const code = typeof root.code === 'number' ? root.code : undefined;
    const name = root.codeName ? ` ${root.codeName}` : '';
    return new ProbeFailure(
      (code !== undefined ? MONGO_SERVER_CODES[code] : undefined) ?? Code.SERVER_UNAVAILABLE,
      `${message} (MongoDB error ${code ?? '?'}${name})`,
    );
  }
  if (root instanceof MongoCompatibilityError) return new ProbeFailure(Code.SERVER_VERSION_UNSUPPORTED, message);
  if (root instanceof MongoNetworkTimeoutError) return new ProbeFailure(Code.TIMEOUT, `the server did not answer in time: ${message}`);
  if (root instanceof MongoNetworkError) {
    const node = root.cause ? fromNodeError(root.cause) : undefined;
    return node ?? new ProbeFailure(Code.CONNECTION_RESET, `the connection was closed: ${message}`);
  }
  if (root instanceof MongoMissingCredentialsError) return new ProbeFailure(Code.AUTH_FAILED, `incomplete credentials: ${message}`);
  if (root instanceof MongoParseError || root instanceof MongoUnexpectedServerResponseError || BSON.BSONError.isBSONError(root)) {
    return new ProbeFailure(Code.PROTOCOL_ERROR, `malformed reply from the server: ${message}`);
  }
  const node = fromNodeError(root);
  if (node) return node;
  // Anything else the driver raises while talking to the server means the peer did not behave like MongoDB.
  return new ProbeFailure(Code.PROTOCOL_ERROR, `unexpected reply from the server: ${message}`);
}

/** Follows `reason` (topology description) and `cause` down to the error that names what went wrong. */
export function mongoRootCause(err: unknown): unknown {
  const { MongoError, MongoNetworkError } = loadedDriver('mongodb');
  let current = err;
  for (let depth = 0; depth < 8; depth++) {
    if (!(current instanceof MongoError)) return current;
    const reason = (current as { reason?: { error?: unknown; servers?: Map<string, { error?: unknown }> } }).reason;
    const fromServers = reason?.servers ? [...reason.servers.values()].map((server) => server.error).find((e) => e) : undefined;
    // A network error's cause is Node's own error: mapped by the caller with the network error around it.
    const next = reason?.error ?? fromServers ?? (current instanceof MongoNetworkError ? undefined : current.cause);
    if (!next || next === current) return current;
    current = next;
  }
  return current;
}
