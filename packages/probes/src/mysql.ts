// Owns: the `mysql` probe (MySQL and MariaDB) — handshake, authentication and COM_PING over a socket dial.ts opened.
// Must not: let mysql2 open connections itself, answer a LOCAL INFILE request, or send any query.

import type { Socket } from 'node:net';
import mysql2 from 'mysql2';
import { ItemErrorCode } from '@conncheck/core';
import { abortable, dialTcp, resolveTarget } from './dial.js';
import { fromMysqlError } from './error-mapping.js';
import { guardReplies, notExpected, type GreetingVerdict } from './reply-guard.js';
import { failureResult, ProbeFailure } from './probe-failure.js';
import { singleEndpoint } from './target-endpoint.js';
import type { Probe, ProbeContext, ProbeTarget, ServerInfo } from './types.js';

type Connection = ReturnType<typeof mysql2.createConnection>;

/** The initial handshake is a few hundred bytes; anything claiming more is not a MySQL server. */
const MAX_GREETING_LENGTH = 16 * 1024;
const EXPECTED = 'a MySQL/MariaDB greeting';

export const mysqlProbe: Probe = async (target, ctx) => {
  ctx.stages.plan(['dns', 'tcp', 'auth', 'probe']);
  const { host, port } = singleEndpoint(target);
  let address: string | undefined;
  let server: ServerInfo | undefined;
  try {
    // An empty user name logs in as an anonymous account where one exists: that is not the check asked for.
    if (!target.user) throw new ProbeFailure(ItemErrorCode.AUTH_FAILED, 'no user name given (db_user)');
    const { addresses } = await resolveTarget(host, ctx);
    const dialed = await dialTcp(addresses, port, ctx);
    address = dialed.address;
    ctx.stages.begin('auth');
    const connection = await authenticate(dialed.socket, host, port, target, ctx, (info) => (server = info));
    ctx.stages.ok();
    ctx.stages.begin('probe');
    await ping(connection, ctx);
    ctx.stages.ok();
    // COM_QUIT, so the server does not count an aborted client; the runner destroys the socket right after.
    connection.end();
    return { success: true, address, ...(server ? { server } : {}), stages: ctx.stages.finish() };
  } catch (err) {
    return failureResult(err, ctx, { address, server });
  }
};

function authenticate(
  socket: Socket,
  host: string,
  port: number,
  target: ProbeTarget,
  ctx: ProbeContext,
  onServer: (server: ServerInfo) => void,
): Promise<Connection> {
  const authenticated = new Promise<Connection>((resolve, reject) => {
    guardReplies(socket, {
      expected: EXPECTED,
      judge: judgeGreeting,
      onGreeting: (server) => server && onServer(server),
      onFailure: reject,
    });
    const connection = mysql2.createConnection({
      // mysql2 speaks over the socket we dialed to the validated address and never connects on its own;
      // host/port only name the server (and would be the TLS servername).
      stream: socket,
      host,
      port,
      user: target.user,
      password: target.password ?? '',
      ...(target.database ? { database: target.database } : {}),
      // A malicious server can ask the client for any local file (LOAD DATA LOCAL). We never announce the
      // capability, give no infileStreamFactory, and only ever send COM_PING, which cannot trigger it.
      flags: ['-LOCAL_FILES', '-MULTI_STATEMENTS'],
      multipleStatements: false,
      // Never hand the password over in clear text (mysql_clear_password) when the server asks for it.
      enableCleartextPlugin: false,
      // The runner's deadline bounds the handshake; mysql2's own timer would only outlive the run.
      connectTimeout: 0,
      connectAttributes: { program_name: 'conncheck' },
    });
    // mysql2 emits 'error' on the connection for failures outside a command; without a listener that would
    // crash the worker, and after the deadline it is expected.
    connection.on('error', (err) => {
      ctx.logger.debug({ err: String(err) }, 'mysql connection error');
      reject(fromMysqlError(err));
    });
    connection.connect((err) => (err ? reject(fromMysqlError(err)) : resolve(connection)));
  });
  return abortable(authenticated, ctx.signal);
}

function ping(connection: Connection, ctx: ProbeContext): Promise<void> {
  const pinged = new Promise<void>((resolve, reject) => {
    connection.ping((err) => (err ? reject(fromMysqlError(err)) : resolve()));
  });
  return abortable(pinged, ctx.signal);
}

/** Judges the server's first packet: a protocol-10 handshake (whose version we report) or an error packet. */
export function judgeGreeting(received: Buffer): GreetingVerdict {
  if (received.length < 5) return { kind: 'more' };
  const length = received.readUIntLE(0, 3);
  const sequenceId = received[3];
  const marker = received[4];
  if (sequenceId !== 0 || length === 0 || length > MAX_GREETING_LENGTH) return { kind: 'bad', message: notExpected(received, EXPECTED) };
  // An error packet instead of a handshake (too many connections, host not allowed): mysql2 reports it.
  if (marker === 0xff) return { kind: 'ok' };
  if (marker !== 0x0a) {
    if (marker === 0x09) return { kind: 'bad', message: 'the server speaks the pre-4.1 MySQL protocol (version 9), which is not supported' };
    return { kind: 'bad', message: notExpected(received, EXPECTED) };
  }
  if (received.length < 4 + length) return { kind: 'more' };
  const payload = received.subarray(5, 4 + length);
  const end = payload.indexOf(0);
  const version = end > 0 ? payload.subarray(0, end).toString('latin1') : '';
  if (!/^[\x20-\x7e]{1,100}$/.test(version)) return { kind: 'bad', message: notExpected(received, EXPECTED) };
  return { kind: 'ok', server: mysqlServerInfo(version) };
}

/** `5.5.5-10.11.6-MariaDB-0+deb12u1` → MariaDB 10.11.6 (MariaDB prefixes 5.5.5- for old replication clients). */
export function mysqlServerInfo(serverVersion: string): ServerInfo {
  const mariadb = /mariadb/i.test(serverVersion);
  const bare = mariadb ? serverVersion.replace(/^5\.5\.5-/, '') : serverVersion;
  return { product: mariadb ? 'MariaDB' : 'MySQL', version: /^\d+(\.\d+)*/.exec(bare)?.[0] ?? bare };
}
