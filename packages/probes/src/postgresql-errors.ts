// Owns: turning what pg reports while connecting (server SQLSTATEs, a peer that breaks the protocol) into item failures.
// Must not: match on message text where a code exists, or open connections.

import { ItemErrorCode as Code } from '@conncheck/core';
import { loadedDriver } from './drivers.js';
import { fromNodeError } from './node-errors.js';
import { ProbeFailure } from './probe-result.js';
import { serverText } from './server-text.js';

/**
 * Maps any error pg rejects with while connecting or querying. `serverClosed`: the socket saw the server hang up, which
 * pg reports as a plain Error.
 */
export function fromPgError(err: unknown, serverClosed: boolean): ProbeFailure {
  if (err instanceof ProbeFailure) return err;
  const mapped = fromPgServerError(err) ?? fromNodeError(err);
  if (mapped) return mapped;
  // pg reports a peer that hung up with a plain Error; we know it from the socket's own 'end' event.
  if (serverClosed) return new ProbeFailure(Code.CONNECTION_RESET, 'the server closed the connection during the handshake');
  // Anything else from pg (SCRAM exchange checks, unknown message types) means the peer broke the protocol.
  const message = err instanceof Error ? err.message : String(err);
  return new ProbeFailure(Code.PROTOCOL_ERROR, `unexpected reply from the server: ${message}`);
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
  if (!(err instanceof loadedDriver('pg').DatabaseError) || typeof err.code !== 'string') return undefined;
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
