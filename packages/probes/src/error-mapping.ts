// Owns: turning Node socket/DNS errors, MySQL errnos, PostgreSQL SQLSTATEs and MongoDB driver errors into item codes.
// Must not: match on message text where a code exists, or open connections; probes call it, it calls nothing.

import { ItemErrorCode as Code } from '@conncheck/core';
import {
  BSON,
  MongoCompatibilityError,
  MongoError,
  MongoMissingCredentialsError,
  MongoNetworkError,
  MongoNetworkTimeoutError,
  MongoParseError,
  MongoServerError,
  MongoUnexpectedServerResponseError,
} from 'mongodb';
import pg from 'pg';
import { ProbeFailure } from './probe-result.js';
import { serverText } from './server-text.js';

type Mapping = readonly [Code, string];

/** Node `err.code` of socket and DNS errors, with a short phrase for error_msg. */
const NODE_CODES: Readonly<Record<string, Mapping>> = {
  ENOTFOUND: [Code.DNS_RESOLUTION_FAILED, 'name not found'],
  EAI_NONAME: [Code.DNS_RESOLUTION_FAILED, 'name not found'],
  EAI_NODATA: [Code.DNS_RESOLUTION_FAILED, 'the name has no address'],
  EAI_AGAIN: [Code.DNS_RESOLUTION_FAILED, 'temporary DNS failure (the DNS server did not answer)'],
  EAI_FAIL: [Code.DNS_RESOLUTION_FAILED, 'the DNS server failed'],
  ECONNREFUSED: [Code.CONNECTION_REFUSED, 'connection refused'],
  EHOSTUNREACH: [Code.HOST_UNREACHABLE, 'no route to host'],
  ENETUNREACH: [Code.HOST_UNREACHABLE, 'network unreachable'],
  EHOSTDOWN: [Code.HOST_UNREACHABLE, 'host is down'],
  ENETDOWN: [Code.HOST_UNREACHABLE, 'network is down'],
  EADDRNOTAVAIL: [Code.HOST_UNREACHABLE, 'address not reachable from this worker'],
  ECONNRESET: [Code.CONNECTION_RESET, 'connection reset by the server'],
  EPIPE: [Code.CONNECTION_RESET, 'connection closed by the server'],
  ECONNABORTED: [Code.CONNECTION_RESET, 'connection aborted'],
  ETIMEDOUT: [Code.CONNECTION_TIMEOUT, 'connection timed out'],
};

/** Maps a Node socket or DNS error by its `code`; undefined when it is not one. */
export function fromNodeError(err: unknown, what?: string): ProbeFailure | undefined {
  const code = errorCode(err);
  const mapping = code === undefined ? undefined : NODE_CODES[code];
  return mapping && new ProbeFailure(mapping[0], `${what ? `${what}: ` : ''}${mapping[1]} (${code})`);
}

/**
 * Server errnos a MySQL/MariaDB server sends during connection setup.
 * 1044 gets its own code, not DATABASE_NOT_FOUND: the user authenticated and the fix is usually a GRANT, not
 * db_name. MySQL sends 1044 also for a database that does not exist when the user has no global privileges
 * (it will not reveal which databases exist), and 1049 only to users allowed to know; the hint says so.
 */
const MYSQL_ERRNOS: Readonly<Record<number, Code>> = {
  1040: Code.TOO_MANY_CONNECTIONS, // ER_CON_COUNT_ERROR
  1043: Code.PROTOCOL_ERROR, // ER_HANDSHAKE_ERROR (bad handshake)
  1044: Code.DATABASE_ACCESS_DENIED, // ER_DBACCESS_DENIED_ERROR
  1045: Code.AUTH_FAILED, // ER_ACCESS_DENIED_ERROR
  1049: Code.DATABASE_NOT_FOUND, // ER_BAD_DB_ERROR
  1053: Code.SERVER_UNAVAILABLE, // ER_SERVER_SHUTDOWN
  1129: Code.ACCESS_DENIED_FROM_HOST, // ER_HOST_IS_BLOCKED (too many connection errors; the message names the fix)
  1130: Code.ACCESS_DENIED_FROM_HOST, // ER_HOST_NOT_PRIVILEGED
  1131: Code.AUTH_FAILED, // ER_PASSWORD_ANONYMOUS_USER (anonymous users may not log in this way)
  1203: Code.TOO_MANY_CONNECTIONS, // ER_TOO_MANY_USER_CONNECTIONS (max_user_connections)
  1226: Code.TOO_MANY_CONNECTIONS, // ER_USER_LIMIT_REACHED (max_connections_per_hour …)
  1251: Code.AUTH_METHOD_UNSUPPORTED, // ER_NOT_SUPPORTED_AUTH_MODE
  1275: Code.AUTH_METHOD_UNSUPPORTED, // ER_SERVER_IS_IN_SECURE_AUTH_MODE (the account has an old-format password)
  1698: Code.AUTH_FAILED, // ER_ACCESS_DENIED_NO_PASSWORD_ERROR (e.g. root with unix_socket auth, from a TCP client)
  1820: Code.AUTH_FAILED, // ER_MUST_CHANGE_PASSWORD (the account must set a new password first)
  1862: Code.AUTH_FAILED, // ER_MUST_CHANGE_PASSWORD_LOGIN (password expired)
  1927: Code.SERVER_UNAVAILABLE, // ER_CONNECTION_KILLED (MariaDB)
  3118: Code.AUTH_FAILED, // ER_ACCOUNT_HAS_BEEN_LOCKED (MySQL)
  3159: Code.TLS_REQUIRED, // ER_SECURE_TRANSPORT_REQUIRED (MySQL)
  4151: Code.AUTH_FAILED, // ER_ACCOUNT_HAS_BEEN_LOCKED (MariaDB)
};

/** mysql2's own `err.code`s for failures it detects on the client side. */
const MYSQL2_CODES: Readonly<Record<string, Mapping>> = {
  PROTOCOL_CONNECTION_LOST: [Code.CONNECTION_RESET, 'the server closed the connection'],
  HANDSHAKE_UNKNOWN_ERROR: [Code.PROTOCOL_ERROR, 'unexpected packet during the handshake'],
  PROTOCOL_UNEXPECTED_PACKET: [Code.PROTOCOL_ERROR, 'unexpected packet from the server'],
  PROTOCOL_PACKETS_OUT_OF_ORDER: [Code.PROTOCOL_ERROR, 'packets out of order'],
  PROTOCOL_ERROR: [Code.PROTOCOL_ERROR, 'protocol error'],
  AUTH_SWITCH_PLUGIN_ERROR: [Code.AUTH_METHOD_UNSUPPORTED, 'the server asked for an authentication method the checker does not perform'],
  MYSQL_CLEAR_PASSWORD_NOT_ENABLED: [
    Code.AUTH_METHOD_UNSUPPORTED,
    'the server asked for the password in clear text (mysql_clear_password); the checker never sends it that way',
  ],
  HANDSHAKE_NO_SSL_SUPPORT: [Code.TLS_NOT_SUPPORTED, 'TLS was asked for, but the server does not offer it (no SSL capability in its greeting)'],
  // The mysql probe reports TLS failures itself, with Node's code (mysql.ts interceptTls); this is the fallback.
  HANDSHAKE_SSL_ERROR: [Code.TLS_HANDSHAKE_FAILED, 'the TLS handshake failed'],
};

/** Maps any error mysql2 reports while connecting or pinging. Never throws. */
export function fromMysqlError(err: unknown): ProbeFailure {
  const node = fromNodeError(err);
  if (node) return node;
  const e = (err ?? {}) as { errno?: unknown; code?: unknown; sqlState?: unknown; sqlMessage?: unknown; message?: unknown };
  const message = serverText(typeof e.sqlMessage === 'string' ? e.sqlMessage : String(e.message ?? err));
  if (typeof e.errno === 'number' && (typeof e.sqlState === 'string' || typeof e.sqlMessage === 'string')) {
    const code = MYSQL_ERRNOS[e.errno] ?? Code.SERVER_UNAVAILABLE;
    // MySQL answers 1045 alike for a wrong password and for an account that exists only for other client hosts.
    const note = e.errno === 1045 ? ' — wrong user name or password, or no account for this user from the host named' : '';
    return new ProbeFailure(code, `${message} (MySQL error ${e.errno})${note}`);
  }
  const mapping = typeof e.code === 'string' ? MYSQL2_CODES[e.code] : undefined;
  if (mapping) {
    const detail = mapping[0] === Code.AUTH_METHOD_UNSUPPORTED && e.code === 'AUTH_SWITCH_PLUGIN_ERROR' ? `: ${message}` : '';
    return new ProbeFailure(mapping[0], `${mapping[1]}${detail}`);
  }
  // mysql2 throws plain errors (RangeError, TypeError …) when a packet is malformed: the peer does not speak MySQL.
  return new ProbeFailure(Code.PROTOCOL_ERROR, `malformed reply from the server: ${message}`);
}

/** SQLSTATEs a PostgreSQL server sends during startup and authentication. */
const PG_SQLSTATES: Readonly<Record<string, Code>> = {
  '28P01': Code.AUTH_FAILED, // invalid_password
  '3D000': Code.DATABASE_NOT_FOUND, // invalid_catalog_name
  '42501': Code.DATABASE_ACCESS_DENIED, // insufficient_privilege: no CONNECT on the database
  '53300': Code.TOO_MANY_CONNECTIONS, // too_many_connections (also per role / per database limits)
  '57P03': Code.SERVER_UNAVAILABLE, // cannot_connect_now: starting up, shutting down, in recovery
  '08P01': Code.PROTOCOL_ERROR, // protocol_violation
  '0A000': Code.PROTOCOL_ERROR, // feature_not_supported: e.g. an unsupported protocol version
};

/**
 * Maps a PostgreSQL server error by SQLSTATE; undefined when `err` is not a server error.
 * 28000 (invalid_authorization_specification) covers both pg_hba.conf refusing the client ("no pg_hba.conf
 * entry", `reject`) and login problems such as a role that does not exist under trust/peer or NOLOGIN. Only
 * the former is a host problem, and the server says which by the routine that raised it (the R field, not
 * localised, unlike the message): pg_hba refusals come from ClientAuthentication.
 */
export function fromPgServerError(err: unknown): ProbeFailure | undefined {
  if (!(err instanceof pg.DatabaseError) || typeof err.code !== 'string') return undefined;
  const sqlstate = err.code;
  let code = PG_SQLSTATES[sqlstate];
  if (sqlstate === '28000') {
    code = err.routine === 'ClientAuthentication' ? Code.ACCESS_DENIED_FROM_HOST : Code.AUTH_FAILED;
  }
  code ??= sqlstateClassCode(sqlstate.slice(0, 2));
  return new ProbeFailure(code, `${serverText(err.message)} (SQLSTATE ${sqlstate})`);
}

function sqlstateClassCode(sqlClass: string): Code {
  switch (sqlClass) {
    case '28':
      return Code.AUTH_FAILED;
    case '3D':
      return Code.DATABASE_NOT_FOUND;
    case '08':
      return Code.PROTOCOL_ERROR;
    default:
      // 53 (insufficient resources), 57 (operator intervention) and anything else the server refuses us with.
      return Code.SERVER_UNAVAILABLE;
  }
}

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

/** An error with a Node `code`, for a deadline a probe sets itself: mapped exactly like the real one. */
export function nodeError(code: string, message: string): Error {
  return Object.assign(new Error(message), { code });
}

export function errorCode(err: unknown): string | undefined {
  if (typeof err !== 'object' || err === null) return undefined;
  const code = (err as { code?: unknown }).code;
  return typeof code === 'string' ? code : undefined;
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
