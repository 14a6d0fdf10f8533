// Owns: the `postgresql` probe — startup, authentication (SCRAM-SHA-256, MD5, password) and `SELECT 1` over a socket
// dial.ts opened. Must not: let pg resolve names or open connections, read the worker's ~/.pgpass, or run other SQL.

import type { Socket } from 'node:net';
import pg from 'pg';
import { ItemErrorCode } from '@conncheck/core';
import { abortable, dialTcp, resolveTarget, type Dialed } from './dial.js';
import { fromNodeError, fromPgServerError } from './error-mapping.js';
import { guardReplies, notExpected, type GreetingVerdict } from './reply-guard.js';
import { failureResult, ProbeFailure } from './probe-failure.js';
import { singleEndpoint } from './target-endpoint.js';
import type { Probe, ProbeContext, ProbeTarget, ServerInfo } from './types.js';

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
  ctx.stages.plan(['dns', 'tcp', 'auth', 'probe']);
  const { host, port } = singleEndpoint(target);
  let address: string | undefined;
  let server: ServerInfo | undefined;
  const warnings: string[] = [];
  try {
    // pg falls back to PGUSER / the worker's login name for a missing user: never send those to a target.
    if (!target.user) throw new ProbeFailure(ItemErrorCode.AUTH_FAILED, 'no user name given (db_user)');
    const { addresses } = await resolveTarget(host, ctx);
    const dialed = await dialTcp(addresses, port, ctx);
    address = dialed.address;
    ctx.stages.begin('auth');
    const session = await startSession(dialed, target, ctx, warnings);
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
    return { success: true, address, ...(server ? { server } : {}), ...(warnings.length ? { warnings } : {}), stages: ctx.stages.finish() };
  } catch (err) {
    return failureResult(err, ctx, { address, server, ...(warnings.length ? { warnings } : {}) });
  }
};

function startSession(dialed: Dialed, target: ProbeTarget, ctx: ProbeContext, warnings: string[]): Promise<Session> {
  const { socket, remote } = dialed;
  const password = target.password ?? '';
  const started = new Promise<Session>((resolve, reject) => {
    let serverClosed = false;
    let authMethod = 'trust';
    const parameters = new Map<string, string>();
    guardReplies(socket, { expected: EXPECTED, judge: judgeFirstMessage, onGreeting: () => undefined, onFailure: reject });
    socket.once('end', () => (serverClosed = true));

    const client = new pg.Client({
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
      warnings.push('the server asked for the password in clear text over an unencrypted connection');
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
  socket.connect = (() => {
    process.nextTick(() => socket.emit('connect'));
    return socket;
  }) as Socket['connect'];
  return socket;
}

function fromPgError(err: unknown, serverClosed: boolean): ProbeFailure {
  if (err instanceof ProbeFailure) return err;
  const mapped = fromPgServerError(err) ?? fromNodeError(err);
  if (mapped) return mapped;
  // pg reports a peer that hung up with a plain Error; we know it from the socket's own 'end' event.
  if (serverClosed) return new ProbeFailure(ItemErrorCode.CONNECTION_RESET, 'the server closed the connection during the handshake');
  // Anything else from pg (SCRAM exchange checks, unknown message types) means the peer broke the protocol.
  const message = err instanceof Error ? err.message : String(err);
  return new ProbeFailure(ItemErrorCode.PROTOCOL_ERROR, `unexpected reply from the server: ${message}`);
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
