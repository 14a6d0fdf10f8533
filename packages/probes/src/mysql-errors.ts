// Owns: turning what mysql2 reports while connecting and pinging (server errnos, mysql2's own codes) into item failures.
// Must not: match on message text, or open connections.

import { ItemErrorCode as Code } from '@conncheck/core';
import { fromNodeError } from './node-errors.js';
import { ProbeFailure } from './probe-result.js';
import { serverText } from './server-text.js';

type Mapping = readonly [Code, string];

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
    const causes = e.errno === 1045 ? ['wrong user name or password', 'no account for this user from the host named'] : [];
    return new ProbeFailure(code, `${message} (MySQL error ${e.errno})`, undefined, causes);
  }
  const mapping = typeof e.code === 'string' ? MYSQL2_CODES[e.code] : undefined;
  if (mapping) {
    const detail = mapping[0] === Code.AUTH_METHOD_UNSUPPORTED && e.code === 'AUTH_SWITCH_PLUGIN_ERROR' ? `: ${message}` : '';
    return new ProbeFailure(mapping[0], `${mapping[1]}${detail}`);
  }
  // mysql2 throws plain errors (RangeError, TypeError …) when a packet is malformed: the peer does not speak MySQL.
  return new ProbeFailure(Code.PROTOCOL_ERROR, `malformed reply from the server: ${message}`);
}
