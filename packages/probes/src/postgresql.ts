// Owns: the `postgresql` probe — SSLRequest and TLS, startup, authentication (SCRAM-SHA-256, MD5, password) and
// `SELECT 1` over a socket dial.ts opened. Must not: let pg resolve names or open connections, read the worker's
// ~/.pgpass, or run other SQL.

import type { Socket } from 'node:net';
import type pg from 'pg';
import { ItemErrorCode } from '@conncheck/core';
import { dialTcp, resolveTarget, type Dialed } from './dial.js';
import { loadDriver, loadedDriver } from './drivers.js';
import { fromNodeError } from './node-errors.js';
import { fromPgError } from './postgresql-errors.js';
import { failureResult, ProbeFailure, successResult } from './probe-result.js';
import { describeBytes, guardReplies, notExpected, type GreetingVerdict } from './reply-guard.js';
import { plannedStages } from './stage-recorder.js';
import { abortable } from './step-context.js';
import { singleEndpoint } from './target-endpoint.js';
import { diagnoseTlsOnly, handshakeAgain } from './tls-only.js';
import { upgradeToTls } from './tls.js';
import type { Probe, ProbeContext, ProbeTarget, ServerInfo, TlsReport } from './types.js';

/** SSLRequest: length 8, code 80877103 (1234 << 16 | 5679). */
const SSL_REQUEST = Buffer.from([0, 0, 0, 8, 0x04, 0xd2, 0x16, 0x2f]);

const EXPECTED = 'a PostgreSQL reply';

/** Authentication request codes (the int32 after 'R') pg cannot answer, by name for error_msg. */
const UNSUPPORTED_AUTH: Readonly<Record<number, string>> = { 2: 'Kerberos V5', 7: 'GSSAPI', 9: 'SSPI' };
const SUPPORTED_AUTH = new Set([0, 3, 5, 10]);

interface Session {
  client: pg.Client;
  server?: ServerInfo;
  authMethod: string;
}

export const postgresqlProbe: Probe = async (target, ctx) => {
  await loadDriver('pg');
  ctx.stages.plan(plannedStages({ tls: Boolean(target.tls) }));
  const { host, port } = singleEndpoint(target);
  let address: string | undefined;
  let server: ServerInfo | undefined;
  let tls: TlsReport | undefined;
  const warnings: string[] = [];
  try {
    // pg falls back to PGUSER / the worker's login name for a missing user: never send those to a target.
    if (!target.user) throw new ProbeFailure(ItemErrorCode.AUTH_FAILED, 'no user name given (db_user)');
    const { addresses } = await resolveTarget(host, ctx);
    const dialed = await dialTcp(addresses, port, ctx);
    address = dialed.address;
    let stream: Socket = dialed.socket;
    if (target.tls) {
      // TLS is negotiated here, not by pg: the same verification and error codes as every probe, and pg then
      // speaks the startup protocol over the verified TLS socket as if it were a plain one.
      ctx.stages.begin('tls');
      await requestTls(dialed.socket, ctx);
      // A certificate refused here is reported by failureResult, from the failure that carries it.
      const secure = await upgradeToTls(dialed.socket, host, target.tls, ctx);
      tls = secure.report;
      warnings.push(...secure.warnings);
      stream = secure.socket;
    }
    ctx.stages.begin('auth');
    const session = await startSession(dialed, stream, target, ctx, warnings).catch(async (err: unknown) => {
      throw await explainRefusal(err, dialed, host, target, ctx);
    });
    server = session.server;
    ctx.stages.ok(session.authMethod);
    ctx.stages.begin('probe');
    const result = await abortable(session.client.query('SELECT 1'), ctx.signal).catch((err: unknown) => {
      throw fromPgError(err, false);
    });
    if (result.rows.length !== 1) throw new ProbeFailure(ItemErrorCode.PROTOCOL_ERROR, 'the server answered SELECT 1 with no row');
    ctx.stages.ok();
    // Terminate, so the server logs a clean disconnect; the runner destroys the socket right after.
    session.client.end().catch(() => undefined);
    return successResult({ address, server, tls, warnings });
  } catch (err) {
    return failureResult(err, ctx, { address, server, tls, warnings });
  }
};

/**
 * Sends SSLRequest and reads the one-byte answer: 'S' (go ahead with TLS) or 'N' (the server has TLS off). A server
 * that sends more than the 'S' before the TLS handshake is refused: those bytes would be read as if they had come
 * over TLS (CVE-2021-23222).
 */
function requestTls(socket: Socket, ctx: ProbeContext): Promise<void> {
  const answered = new Promise<void>((resolve, reject) => {
    const done = (): void => {
      socket.off('data', onData);
      socket.off('end', onEnd);
      socket.off('error', onError);
      socket.pause();
    };
    const onData = (chunk: Buffer): void => {
      done();
      if (chunk[0] === 0x53 && chunk.length === 1) return resolve();
      if (chunk[0] === 0x53) {
        return reject(new ProbeFailure(ItemErrorCode.PROTOCOL_ERROR, 'the server accepted TLS but sent more bytes before the TLS handshake; refusing them'));
      }
      if (chunk[0] === 0x4e) {
        return reject(
          new ProbeFailure(
            ItemErrorCode.TLS_NOT_SUPPORTED,
            'TLS was asked for, but the server does not accept it (it answered N to the SSLRequest: ssl = off)',
          ),
        );
      }
      reject(new ProbeFailure(ItemErrorCode.PROTOCOL_ERROR, `the server's answer to the SSLRequest is not S or N: ${describeBytes(chunk)}`));
    };
    const onEnd = (): void => {
      done();
      reject(new ProbeFailure(ItemErrorCode.CONNECTION_RESET, 'the server closed the connection after the SSLRequest'));
    };
    const onError = (err: Error): void => {
      done();
      reject(fromNodeError(err) ?? new ProbeFailure(ItemErrorCode.CONNECTION_RESET, `connection error after the SSLRequest: ${err.message}`));
    };
    socket.on('data', onData);
    socket.once('end', onEnd);
    socket.once('error', onError);
    socket.write(SSL_REQUEST);
  });
  return abortable(answered, ctx.signal);
}

/**
 * pg_hba.conf refusing a connection ("no pg_hba.conf entry for host …, no encryption" or a `hostnossl … reject`
 * line) is SQLSTATE 28000 from ClientAuthentication whether or not TLS would have been let in; the text differs by
 * configuration and language. So after such a refusal without TLS, from a server that accepts TLS, the probe opens
 * one more connection over TLS and sends only the StartupMessage: when the server answers with an authentication
 * request rather than an error, pg_hba.conf lets this user in over TLS, and the item is TLS_REQUIRED. No password is
 * sent, so no failed login is counted.
 */
async function explainRefusal(err: unknown, dialed: Dialed, host: string, target: ProbeTarget, ctx: ProbeContext): Promise<unknown> {
  if (!(err instanceof ProbeFailure) || err.code !== ItemErrorCode.ACCESS_DENIED_FROM_HOST) return err;
  return diagnoseTlsOnly(err, target, ctx, {
    askOverTls: async (step) => {
      const secure = await handshakeAgain(dialed, host, step, requestTls);
      return (await firstMessageType(secure.socket, startupMessage(target.user ?? '', target.database || 'postgres'), step)) === 'R';
    },
    tlsOnly: (failure) => failure.because(ItemErrorCode.TLS_REQUIRED, 'over TLS pg_hba.conf lets this user in: the server accepts it only with TLS (hostssl)'),
  });
}

/** StartupMessage, protocol 3.0, with user and database only. */
function startupMessage(user: string, database: string): Buffer {
  const body = Buffer.from(`user\0${user}\0database\0${database}\0application_name\0conncheck\0\0`, 'utf8');
  const head = Buffer.alloc(8);
  head.writeUInt32BE(8 + body.length, 0);
  head.writeUInt32BE(196608, 4);
  return Buffer.concat([head, body]);
}

/** Writes `message` and resolves with the type byte of the server's first reply (or rejects when it closes). */
function firstMessageType(socket: Socket, message: Buffer, ctx: ProbeContext): Promise<string> {
  const replied = new Promise<string>((resolve, reject) => {
    socket.once('data', (chunk: Buffer) => resolve(String.fromCharCode(chunk[0] ?? 0)));
    socket.once('end', () => reject(new Error('closed')));
    socket.once('error', reject);
    socket.write(message);
  });
  return abortable(replied, ctx.signal);
}

function startSession(dialed: Dialed, stream: Socket, target: ProbeTarget, ctx: ProbeContext, warnings: string[]): Promise<Session> {
  const { remote } = dialed;
  const socket = stream;
  const password = target.password ?? '';
  const started = new Promise<Session>((resolve, reject) => {
    let serverClosed = false;
    let authMethod = 'trust';
    const parameters = new Map<string, string>();
    guardReplies(socket, { expected: EXPECTED, judge: judgeFirstMessage, onGreeting: () => undefined, onFailure: reject });
    socket.once('end', () => (serverClosed = true));

    const client = new (loadedDriver('pg').Client)({
      // host is the address we validated and connected to, never the name: pg must not resolve anything.
      host: remote.address,
      port: dialed.port,
      user: target.user,
      // A function, because pg treats an empty string as "not given" and then reads PGPASSWORD or ~/.pgpass.
      password: () => password,
      database: target.database || 'postgres',
      ssl: false,
      sslnegotiation: 'postgres',
      application_name: 'conncheck',
      connectionTimeoutMillis: 0,
      // Our socket: plain, or TLS already verified (then pg must not ask for TLS again: ssl false).
      stream: () => preconnected(socket),
    });
    // Emitted for socket failures after connect; the run is over by then, but unhandled it would crash the worker.
    client.on('error', (err) => ctx.logger.debug({ err: String(err) }, 'postgresql client error'));

    const connection = client.connection;
    const passwordRequested = (method: string) => (): void => {
      authMethod = method;
      if (password === '') reject(new ProbeFailure(ItemErrorCode.AUTH_FAILED, `the server asks for a password (${method}) but none was given`));
    };
    connection.on('authenticationMD5Password', passwordRequested('md5'));
    connection.on('authenticationSASL', passwordRequested('SCRAM-SHA-256'));
    connection.on('authenticationCleartextPassword', () => {
      passwordRequested('password')();
      if (!target.tls) warnings.push('the server asked for the password in clear text over an unencrypted connection');
    });
    connection.on('parameterStatus', (msg: { parameterName: string; parameterValue: string }) => {
      parameters.set(msg.parameterName, msg.parameterValue);
    });

    client.connect().then(
      () => {
        const version = parameters.get('server_version');
        resolve({ client, authMethod, ...(version ? { server: pgServerInfo(version) } : {}) });
      },
      (err: unknown) => reject(fromPgError(err, serverClosed)),
    );
  });
  return abortable(started, ctx.signal);
}

/**
 * pg calls `connect(port, host)` on the stream it is given. Ours is already connected by dialTcp, so the
 * dns/tcp stages, address fallback and error mapping are the same for every probe; pg's stream contract
 * (connect, then a 'connect' event) is kept by answering the call with the event.
 */
function preconnected(socket: Socket): Socket {
  socket.connect = () => {
    process.nextTick(() => socket.emit('connect'));
    return socket;
  };
  return socket;
}

/** Judges the reply to our StartupMessage: an authentication request, an error or a notice, with sane lengths. */
export function judgeFirstMessage(received: Buffer): GreetingVerdict {
  if (received.length < 5) return { kind: 'more' };
  const type = String.fromCharCode(received[0] ?? 0);
  const length = received.readUInt32BE(1);
  if (type === 'E' || type === 'N') return length >= 4 && length <= 64 * 1024 ? { kind: 'ok' } : { kind: 'bad', message: notExpected(received, EXPECTED) };
  if (type !== 'R' || length < 8 || length > 2048) return { kind: 'bad', message: notExpected(received, EXPECTED) };
  if (received.length < 9) return { kind: 'more' };
  const request = received.readUInt32BE(5);
  const unsupported = UNSUPPORTED_AUTH[request];
  if (unsupported) {
    return {
      kind: 'bad',
      code: ItemErrorCode.AUTH_METHOD_UNSUPPORTED,
      message: `the server asks for ${unsupported} authentication, which the checker cannot perform`,
    };
  }
  if (!SUPPORTED_AUTH.has(request)) return { kind: 'bad', message: notExpected(received, EXPECTED) };
  if (request !== 10) return { kind: 'ok' };
  if (received.length < 1 + length) return { kind: 'more' };
  const mechanisms = received
    .subarray(9, 1 + length)
    .toString('latin1')
    .split('\0')
    .filter((m) => m !== '');
  if (!mechanisms.includes('SCRAM-SHA-256')) {
    return {
      kind: 'bad',
      code: ItemErrorCode.AUTH_METHOD_UNSUPPORTED,
      message: `the server offers only the SASL mechanisms ${mechanisms.join(', ') || '(none)'}; the checker performs SCRAM-SHA-256`,
    };
  }
  return { kind: 'ok' };
}

/** `15.13 (Debian 15.13-0+deb12u1)` → 15.13. */
export function pgServerInfo(serverVersion: string): ServerInfo {
  return { product: 'PostgreSQL', version: /^\d+(\.\d+)*/.exec(serverVersion)?.[0] ?? serverVersion };
}
