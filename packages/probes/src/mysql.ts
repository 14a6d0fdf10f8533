// Owns: the `mysql` probe (MySQL and MariaDB) — handshake, TLS upgrade, authentication and COM_PING over a socket
// dial.ts opened. Must not: let mysql2 open connections itself, answer a LOCAL INFILE request, or send any query.

import type { Socket } from 'node:net';
import type { TLSSocket } from 'node:tls';
import type mysql2 from 'mysql2';
import { ItemErrorCode } from '@conncheck/core';
import { dialTcp, resolveTarget } from './dial.js';
import { loadDriver, loadedDriver } from './drivers.js';
import { fromMysqlError } from './mysql-errors.js';
import { failureResult, ProbeFailure, successResult } from './probe-result.js';
import { guardReplies, notExpected, type GreetingVerdict } from './reply-guard.js';
import { plannedStages } from './stage-recorder.js';
import { abortable } from './step-context.js';
import { singleEndpoint } from './target-endpoint.js';
import { diagnoseTlsOnly } from './tls-only.js';
import { fromTlsError, tlsConnectOptions, verifyPeer } from './tls.js';
import type { Probe, ProbeContext, ProbeTarget, ProbeTls, ServerInfo, TlsReport } from './types.js';

type Connection = ReturnType<typeof mysql2.createConnection>;
type SslOptions = Extract<NonNullable<Parameters<typeof mysql2.createConnection>[0]>, { ssl?: unknown }>['ssl'] & object;
/** mysql2's connection internals the TLS check hooks into (lib/base/connection.js). */
type TlsHooks = { startTLS(onSecure: (err?: Error) => void): void; stream: Socket };

/** What one handshake learned, whether or not it succeeded. */
interface Handshake {
  server?: ServerInfo;
  /** The greeting's CLIENT_SSL capability flag. */
  offersTls?: boolean;
  tls?: TlsReport;
  warnings: string[];
  /** The server's error number when the login failed. */
  errno?: number;
}

/** CLIENT_SSL in the greeting's capability flags. */
const CLIENT_SSL = 0x0800;

/** The initial handshake is a few hundred bytes; anything claiming more is not a MySQL server. */
const MAX_GREETING_LENGTH = 16 * 1024;
const EXPECTED = 'a MySQL/MariaDB greeting';

export const mysqlProbe: Probe = async (target, ctx) => {
  await loadDriver('mysql2');
  ctx.stages.plan(plannedStages({ tls: Boolean(target.tls) }));
  const { host, port } = singleEndpoint(target);
  let address: string | undefined;
  const shook: Handshake = { warnings: [] };
  try {
    // An empty user name logs in as an anonymous account where one exists: that is not the check asked for.
    if (!target.user) throw new ProbeFailure(ItemErrorCode.AUTH_FAILED, 'no user name given (db_user)');
    const { addresses } = await resolveTarget(host, ctx);
    const dialed = await dialTcp(addresses, port, ctx);
    address = dialed.address;
    // With TLS the `tls` stage covers the greeting and the TLS handshake; `auth` starts once TLS is verified.
    ctx.stages.begin(target.tls ? 'tls' : 'auth');
    let connection: Connection;
    try {
      connection = await authenticate(dialed.socket, host, port, target, ctx, shook);
    } catch (err) {
      throw await explainAccessDenied(err, target, ctx, shook);
    }
    ctx.stages.ok();
    ctx.stages.begin('probe');
    await ping(connection, ctx);
    ctx.stages.ok();
    // COM_QUIT, so the server does not count an aborted client; the runner destroys the socket right after.
    connection.end();
    return successResult({ address, ...shook });
  } catch (err) {
    return failureResult(err, ctx, { address, ...shook });
  }
};

/**
 * MariaDB and MySQL answer a login without TLS by an account created `REQUIRE SSL` exactly as they answer a wrong
 * password: error 1045 "Access denied for user …" with the same SQLSTATE and text; the server does not say which check
 * failed. Telling them apart would take a second login over TLS with the same credentials, which a lockout policy
 * (MariaDB `max_password_errors`, MySQL `FAILED_LOGIN_ATTEMPTS`) counts as a second failure. So there is one login only,
 * and when the server offers TLS the message names the possibility and the way to check it.
 */
async function explainAccessDenied(err: unknown, target: ProbeTarget, ctx: ProbeContext, first: Handshake): Promise<unknown> {
  if (!first.offersTls || first.errno !== 1045 || !(err instanceof ProbeFailure)) return err;
  return diagnoseTlsOnly(err, target, ctx, {
    tlsOnly: (failure) => failure.orBecause('an account that requires TLS (REQUIRE SSL): this server offers TLS, so a check with ssl_link true tells'),
  });
}

function authenticate(socket: Socket, host: string, port: number, target: ProbeTarget, ctx: ProbeContext, shook: Handshake): Promise<Connection> {
  const authenticated = new Promise<Connection>((resolve, reject) => {
    guardReplies(socket, {
      expected: EXPECTED,
      judge: (received) => {
        const verdict = judgeGreeting(received);
        if (verdict.kind === 'ok') shook.offersTls = greetingOffersTls(received);
        return verdict;
      },
      onGreeting: (server) => {
        if (server) shook.server = server;
      },
      onFailure: reject,
    });
    const connection = loadedDriver('mysql2').createConnection({
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
      // mysql2 sizes each connection's prepared-statement cache (an lru-cache that allocates its arrays up front)
      // from this: the default 16,000 costs about 500 KB of heap per connection, 5 GB for 10,000 checks at once.
      // A check prepares nothing.
      maxPreparedStatements: 1,
      // A fresh object per check: mysql2 caches TLS sessions per ssl object, and a resumed session would skip
      // the certificate this check is about. Node verifies nothing here; interceptTls does, before any credential.
      ...(target.tls ? { ssl: mysqlSsl(target.tls) } : {}),
    });
    if (target.tls) interceptTls(connection, host, target, ctx, shook, reject);
    // mysql2 emits 'error' on the connection for failures outside a command; without a listener that would
    // crash the worker, and after the deadline it is expected.
    const failed = (err: unknown): void => {
      const errno = (err as { errno?: unknown } | null)?.errno;
      if (typeof errno === 'number') shook.errno ??= errno;
      reject(fromMysqlError(err));
    };
    connection.on('error', (err) => {
      ctx.logger.debug({ err: String(err) }, 'mysql connection error');
      failed(err);
    });
    connection.connect((err) => (err ? failed(err) : resolve(connection)));
  });
  return abortable(authenticated, ctx.signal);
}

/**
 * mysql2 upgrades to TLS in the handshake (after the greeting and an SSLRequest), then sends the credentials from
 * its startTLS callback. It folds every TLS failure into HANDSHAKE_SSL_ERROR, overwriting the error's code, and
 * given a CA it does not check the server name. So the probe wraps this connection's startTLS: a handshake error
 * reaches us with Node's own code, and on success the peer is verified (chain, dates, name per ssl_mode) and
 * reported before mysql2 may send the credentials; a refused peer never gets them.
 */
function interceptTls(connection: Connection, host: string, target: ProbeTarget, ctx: ProbeContext, shook: Handshake, reject: (err: unknown) => void): void {
  const hooks = connection as unknown as TlsHooks;
  const startTLS = hooks.startTLS.bind(connection);
  hooks.startTLS = (onSecure) => {
    startTLS((err) => {
      if (err) {
        reject(fromTlsError(err));
        return onSecure(err);
      }
      const secure = hooks.stream as TLSSocket;
      ctx.track(secure);
      try {
        const { report, warnings } = verifyPeer(secure, host, target.tls!);
        shook.tls = report;
        shook.warnings.push(...warnings);
        ctx.stages.ok(`${report.protocol} ${report.cipher}`);
      } catch (failure) {
        if (failure instanceof ProbeFailure && failure.tls) shook.tls = failure.tls;
        reject(failure);
        secure.destroy();
        return;
      }
      // After TLS the driver parses what the decrypted stream delivers: the same guard against a parser that throws.
      guardReplies(secure, { expected: EXPECTED, judge: () => ({ kind: 'ok' }), onGreeting: () => undefined, onFailure: reject });
      ctx.stages.begin('auth');
      onSecure();
    });
  };
}

/** mysql2's `ssl` option: the material only; mysql2 derives the TLS servername from `host` as Node would. */
function mysqlSsl(tls: ProbeTls): SslOptions {
  const { ca, cert, key, passphrase, rejectUnauthorized } = tlsConnectOptions('', tls);
  return {
    ...(ca ? { ca: ca as string[] } : {}),
    ...(cert ? { cert: cert as string } : {}),
    ...(key ? { key: key as string } : {}),
    ...(passphrase ? { passphrase } : {}),
    rejectUnauthorized: rejectUnauthorized ?? false,
    verifyIdentity: false,
  };
}

/** The greeting's lower capability flags hold CLIENT_SSL: after the NUL-ended version, 4 + 8 + 1 bytes. */
export function greetingOffersTls(received: Buffer): boolean {
  const end = received.indexOf(0, 5);
  const at = end + 1 + 4 + 8 + 1;
  return end > 0 && received.length >= at + 2 && (received.readUInt16LE(at) & CLIENT_SSL) !== 0;
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
