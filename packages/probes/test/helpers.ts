// Owns: what the probe tests share — fake servers on loopback, a free port, running a probe, the test-services file.
// Must not: mock drivers or sockets; every test talks to a real listener, fake or real server.

import { X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createServer, type Server, type Socket } from 'node:net';
import { NetworkPolicy } from '../src/network-policy.js';
import { runProbe, type RunProbeOptions, type RunResult } from '../src/run-probe.js';
import { oneLineDn, subjectAltNames } from '../src/tls.js';
import type { Probe, ProbeLogger, ProbeTarget, Stage, TlsReport } from '../src/types.js';

export const quietLogger: ProbeLogger = { debug() {}, warn() {} };

/** The default policy: loopback and private ranges allowed, metadata/link-local denied. */
export const defaultPolicy = new NetworkPolicy();

export function target(dbType: ProbeTarget['dbType'], host: string, port: number, extra: Partial<ProbeTarget> = {}): ProbeTarget {
  return { dbType, endpoints: [{ host, port }], ...extra };
}

export interface Timed extends RunResult {
  /** Wall-clock milliseconds until runProbe resolved, measured by the test itself. */
  elapsed: number;
}

export async function run(probe: Probe, probeTarget: ProbeTarget, options: Partial<RunProbeOptions> = {}): Promise<Timed> {
  const started = performance.now();
  const result = await runProbe(probe, probeTarget, { timeoutMs: 5000, policy: defaultPolicy, logger: quietLogger, ...options });
  return { ...result, elapsed: performance.now() - started };
}

/** `dns:skipped tcp:ok auth:failed probe:skipped` — compact to assert on. */
export function stageLine(stages: Stage[]): string {
  return stages.map((s) => `${s.name}:${s.status}`).join(' ');
}

export interface FakeServer {
  port: number;
  /** Connections accepted so far. */
  readonly accepted: number;
  /** Connections whose client side has gone (closed or destroyed). */
  readonly closed: number;
  /** Everything each connection sent, in order. */
  readonly received: Buffer[];
  close(): Promise<void>;
}

/**
 * A loopback TCP server whose behaviour is `onConnection`. Timers it starts through `every` are cleared when
 * the connection closes, and `close()` destroys every connection, so tests leave nothing open.
 */
export async function fakeServer(
  onConnection: (socket: Socket, tools: { every(ms: number, fn: () => void): void; index: number }) => void,
): Promise<FakeServer> {
  const sockets = new Set<Socket>();
  const received: Buffer[] = [];
  let accepted = 0;
  let closed = 0;
  const server: Server = createServer((socket) => {
    const index = accepted++;
    received[index] = Buffer.alloc(0);
    sockets.add(socket);
    const timers: NodeJS.Timeout[] = [];
    socket.on('data', (chunk) => (received[index] = Buffer.concat([received[index] ?? Buffer.alloc(0), chunk])));
    socket.on('error', () => undefined);
    socket.on('close', () => {
      closed++;
      sockets.delete(socket);
      timers.forEach(clearInterval);
    });
    onConnection(socket, { every: (ms, fn) => timers.push(setInterval(fn, ms)), index });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  if (!address || typeof address === 'string') throw new Error('no port');
  return {
    port: address.port,
    get accepted() {
      return accepted;
    },
    get closed() {
      return closed;
    },
    received,
    close: () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  };
}

/** Runs `body` against `server` (its port and itself), then closes the server whatever happened. */
export async function withServer<T extends FakeServer>(server: T, body: (port: number, server: T) => Promise<void>): Promise<void> {
  try {
    await body(server.port, server);
  } finally {
    await server.close();
  }
}

/** Polls `condition` until it holds; fails the test after `ms`. */
export async function waitFor(condition: () => boolean, ms = 2000): Promise<void> {
  const until = Date.now() + ms;
  while (!condition()) {
    if (Date.now() > until) throw new Error('condition not met in time');
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

/** A port nothing listens on (connecting is refused): bind one, then release it. */
export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  if (!address || typeof address === 'string') throw new Error('no port');
  return address.port;
}

/** Writes `bytes` one byte every `ms` on the connection: a server that is alive but never finishes. */
export function trickle(socket: Socket, every: (ms: number, fn: () => void) => void, bytes: Buffer, ms = 100): void {
  let offset = 0;
  every(ms, () => {
    if (offset < bytes.length && !socket.destroyed) socket.write(bytes.subarray(offset, ++offset));
  });
}

interface Credentials {
  user: string;
  password: string;
}

interface CertPair {
  cert: string;
  key: string;
}

/** The part of test/services' endpoints file these tests use (see test/SERVICES.md). */
export interface TestServices {
  mariadb: {
    host: string;
    port: number;
    version: string;
    database: string;
    root: Credentials;
    users: { main: Credentials; limited: Credentials; hostDenied: Credentials; tlsOnly: Credentials };
    /** Serves tls.expired; users.main works there too. */
    expired: { host: string; port: number };
    /** TLS off; users.main works there too. */
    plain: { host: string; port: number };
  };
  postgresql: {
    host: string;
    port: number;
    version: string;
    database: string;
    superuser: Credentials;
    users: { scram: Credentials; md5: Credentials; rejected: Credentials; tlsOnly: Credentials };
    /** Serves tls.expired; users.scram works there too. */
    expired: { host: string; port: number };
    /** TLS off; users.scram works there too. */
    plain: { host: string; port: number };
  };
  /** FerretDB v1 (SQLite backend) with SCRAM users; `hello` names replica set repl_set_name with this one member. */
  mongodb: {
    host: string;
    port: number;
    /** TLS only, serving tls.server (SAN DNS:localhost only). */
    tls_port: number;
    product: 'FerretDB';
    version: string;
    auth_database: 'admin';
    repl_set_name: string;
    /** cc_root, defined in admin. */
    users: { main: Credentials };
  };
  /** Test certificates (file paths), see test/SERVICES.md. */
  tls: {
    ca: { pem: string; der: string; p12: string; p12_password: string; jks: string; jks_password: string };
    other_ca: { pem: string };
    server: CertPair;
    server_ip: CertPair;
    wrong_name: CertPair;
    expired: CertPair;
    self_signed: CertPair;
    client: CertPair & { p12: string; p12_password: string; jks: string; jks_password: string };
  };
  /** Apache Kafka, one KRaft node; see test/SERVICES.md and test/lib/services.ts (KafkaEndpoint). */
  kafka: {
    host: string;
    port: number;
    version: string;
    cluster_id: string;
    listeners: Record<
      'plaintext' | 'sasl_plaintext' | 'sasl_plain_only' | 'ssl' | 'sasl_ssl' | 'ssl_mtls' | 'ssl_localhost' | 'bad_advertised',
      { port: number; advertised_port?: number }
    >;
    users: { plain: Credentials; scram256: Credentials; scram512: Credentials };
  };
}

/** The real servers started by `test/services run -- …`, or undefined when the tests run without them. */
export function loadServices(): TestServices | undefined {
  const file = process.env['CONNCHECK_TEST_SERVICES'];
  return file ? (JSON.parse(readFileSync(file, 'utf8')) as TestServices) : undefined;
}

export const NO_SERVICES = 'CONNCHECK_TEST_SERVICES is not set: run through `test/services run -- …`';

/**
 * Fails when a socket, server or timer is still open: the runner must leave nothing behind. Call from a file's
 * top-level `after`, once every fake server is closed; a short pause lets destroyed sockets finish closing.
 */
export async function assertNothingLeftOpen(): Promise<void> {
  await new Promise((resolve) => setTimeout(resolve, 50));
  const open = process.getActiveResourcesInfo().filter((name) => /TCP|Timeout|Immediate|GetAddrInfo/.test(name));
  if (open.length > 0) throw new Error(`left open after the tests: ${open.join(', ')}`);
}

export const pem = (file: string): string => readFileSync(file, 'utf8');

/** The report a client must see for a certificate file (over this machine's TLS 1.3), computed from the file itself. */
export function expectedReport(certFile: string): TlsReport {
  const cert = new X509Certificate(readFileSync(certFile));
  const notAfter = new Date(cert.validTo);
  return {
    protocol: 'TLSv1.3',
    cipher: 'TLS_AES_256_GCM_SHA384',
    subject: oneLineDn(cert.subject),
    issuer: oneLineDn(cert.issuer),
    subject_alt_names: subjectAltNames(cert.subjectAltName),
    not_before: new Date(cert.validFrom).toISOString(),
    not_after: notAfter.toISOString(),
    days_to_expiry: Math.floor((notAfter.getTime() - Date.now()) / 86_400_000),
  };
}
