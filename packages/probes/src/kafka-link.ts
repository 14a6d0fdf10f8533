// Owns: every connection the kafka probe makes to a broker — the kafkajs socketFactory that resolves, checks the
// network policy, dials and (for SSL) upgrades each address itself, and the socket that stands between kafkajs and
// that connection, watching what is asked and answered. Must not: decide the probe's result or read any secret.

import { EventEmitter } from 'node:events';
import type { Socket } from 'node:net';
import { hostPort, ItemErrorCode } from '@conncheck/core';
import { dialTcp, reach, type Dialed } from './dial.js';
import { errorCode, fromNodeError } from './node-errors.js';
import { ApiKey, parseMetadataResponse, parseSaslHandshakeResponse, readRequestHeader, type MetadataAnswer, type RequestHeader } from './kafka-wire.js';
import { ProbeFailure } from './probe-result.js';
import { describeBytes } from './reply-guard.js';
import { quiet } from './step-context.js';
import { fromTlsError, upgradeToTls } from './tls.js';
import type { Endpoint, ProbeContext, ProbeTls, StageName, TlsReport } from './types.js';

/** `bootstrap`: the address the user gave; `broker`: an address a broker handed back (advertised.listeners). */
export type LinkRole = 'bootstrap' | 'broker';

/** What one connection showed. Filled in as it happens; read by the probe once kafkajs has answered. */
export interface LinkRecord extends Endpoint {
  role: LinkRole;
  /** `ip:port` actually dialed, once the TCP connection is up. */
  address?: string;
  /** Why the connection failed, when the failure was ours to see (dial, TLS, bytes that are not Kafka). */
  failure?: ProbeFailure;
  /** The server closed the connection (FIN) while kafkajs still used it; the API keys it had not answered. */
  closedByServer?: { unanswered: number[] };
  /** API keys the server answered, in order. */
  answered: number[];
  metadata?: MetadataAnswer;
  /** The mechanisms the listener listed in its SaslHandshake answer. */
  saslMechanisms?: string[];
  tls?: TlsReport;
  warnings: string[];
}

/** The first answer on a connection is ApiVersions (kafkajs) — a few KiB; garbage read as a length is usually huge. */
const MAX_FIRST_RESPONSE = 1024 * 1024;
/** Kafka's own default socket.request.max.bytes is 100 MiB; no answer the probe asks for comes near it. */
const MAX_RESPONSE = 100 * 1024 * 1024;

/** Reason of the abort that ends the connections to advertised brokers a little before the item's deadline. */
export class BrokerDeadline extends Error {
  override name = 'BrokerDeadline';
}

export interface LinksOptions {
  /** The probe's context: its stage recorder is used for the pre-dialed bootstrap connection only. */
  ctx: ProbeContext;
  /** For every other connection: a context whose signal fires a little before the deadline (BrokerDeadline). */
  brokers: ProbeContext;
  /** TLS settings for SSL / SASL_SSL; undefined for plain connections. */
  tls: ProbeTls | undefined;
  /** Hostnames kafkajs cannot carry (IPv6 literals contain colons): alias → real host. */
  aliases?: ReadonlyMap<string, string>;
  /** The bootstrap connection the probe dialed itself (its dns and tcp stages are recorded already). */
  predialed?: Endpoint & { dialed: Dialed };
  /** Called once the pre-dialed connection is ready for kafkajs (TLS done): the probe opens its next stage. */
  onBootstrapReady?: (record: LinkRecord) => void;
}

/**
 * The connections of one kafkajs client. `factory` is its socketFactory: kafkajs asks it for a socket to every
 * broker it talks to, the bootstrap address and every address a broker advertises, so each one is resolved once,
 * checked against the network policy and dialed here, exactly as a submitted address is.
 */
export class KafkaLinks {
  readonly records: LinkRecord[] = [];
  private readonly sockets = new Set<KafkaSocket>();
  private predialed: LinksOptions['predialed'];

  constructor(private readonly options: LinksOptions) {
    this.predialed = options.predialed;
  }

  /** kafkajs' socketFactory: returns at once; the connection is made asynchronously and `onConnect` called when up. */
  readonly factory = ({ host, port, onConnect }: { host: string; port: number; onConnect: () => void }): Socket => {
    const realHost = this.options.aliases?.get(host) ?? host;
    const predialed = this.predialed && this.predialed.host === realHost && this.predialed.port === port ? this.predialed : undefined;
    if (predialed) this.predialed = undefined;
    const record: LinkRecord = { host: realHost, port, role: predialed ? 'bootstrap' : 'broker', answered: [], warnings: [] };
    this.records.push(record);
    const socket = new KafkaSocket(record);
    this.sockets.add(socket);
    void this.open(socket, record, predialed, onConnect);
    // kafkajs uses on(), write(), end() and unref() of what it gets; KafkaSocket has those.
    return socket as unknown as Socket;
  };

  /** Ends every connection; kafkajs is told through an error, so nothing of it keeps waiting (or a timer running). */
  closeAll(): void {
    for (const socket of this.sockets) socket.shutdown();
    this.sockets.clear();
  }

  /** A connection to `host:port` for the probe's own requests (no kafkajs): resolved, checked, dialed, TLS. */
  async openRaw(host: string, port: number, via?: Dialed): Promise<Socket> {
    const link = quiet(this.options.brokers);
    const dialed = via ? await dialTcp([via.remote], port, link) : await reach({ host, port }, link);
    if (!this.options.tls) return dialed.socket;
    return (await upgradeToTls(dialed.socket, host, this.options.tls, link)).socket;
  }

  private async open(socket: KafkaSocket, record: LinkRecord, predialed: LinksOptions['predialed'], onConnect: () => void): Promise<void> {
    const { ctx, tls } = this.options;
    // The pre-dialed bootstrap connection records its tls stage in the probe's own list; the others keep theirs
    // to themselves (they happen inside the probe stage) and end at the broker deadline.
    const link = predialed ? ctx : quiet(this.options.brokers);
    const stopAtDeadline = (): void => {
      if (link.signal.reason instanceof BrokerDeadline) socket.fail(linkDeadlineFailure(record, link.stages.current));
    };
    if (!predialed) link.signal.addEventListener('abort', stopAtDeadline, { once: true });
    try {
      let connection: Socket;
      if (predialed) {
        connection = predialed.dialed.socket;
        record.address = predialed.dialed.address;
      } else {
        const dialed = await reach(record, link);
        connection = dialed.socket;
        record.address = dialed.address;
      }
      if (tls) {
        const raw = connection;
        const session = await upgradeToTls(raw, record.host, tls, link).catch((err: unknown) => {
          throw raw.bytesRead === 0 ? notTlsListener(err, record) : err;
        });
        connection = session.socket;
        record.tls = session.report;
        record.warnings.push(...session.warnings);
      }
      if (!socket.attach(connection, tls ? { clientCert: tls.cert !== undefined } : undefined)) return;
      if (predialed) this.options.onBootstrapReady?.(record);
      onConnect();
    } catch (err) {
      if (err instanceof ProbeFailure) return socket.fail(err);
      if (link.signal.aborted) {
        // The broker deadline (handled by stopAtDeadline) or the end of the run: nothing left to report.
        stopAtDeadline();
        return socket.fail(new ProbeFailure(ItemErrorCode.CANCELED, 'the check ended'));
      }
      ctx.logger.warn({ err, host: record.host, port: record.port }, 'kafka connection failed unexpectedly: this is a bug in the probe');
      socket.fail(new ProbeFailure(ItemErrorCode.INTERNAL_ERROR, 'internal error in the kafka probe (see the worker log)'));
    }
  }
}

/**
 * A TLS handshake that failed without a byte from the server: a listener without TLS reads a ClientHello as a (huge)
 * Kafka request length and closes the connection, while a TLS listener that refuses the handshake sends an alert.
 */
function notTlsListener(err: unknown, where: Endpoint): unknown {
  if (!(err instanceof ProbeFailure) || err.code !== ItemErrorCode.TLS_HANDSHAKE_FAILED) return err;
  return new ProbeFailure(
    ItemErrorCode.TLS_NOT_SUPPORTED,
    `${hostPort(where.host, where.port)} closed the connection at the TLS handshake without a byte of TLS: the listener does not use TLS (a PLAINTEXT or SASL_PLAINTEXT listener); set kafka_security_config.type to match`,
  );
}

/**
 * An error on an established connection: a TLS alert (with TLS 1.3 the one about our client certificate comes after
 * the handshake), or a plain socket error such as a reset.
 */
function fromLinkError(err: Error, where: Endpoint, secure: { clientCert: boolean } | undefined): ProbeFailure {
  const at = hostPort(where.host, where.port);
  const code = errorCode(err);
  const failure =
    secure && code?.startsWith('ERR_SSL_') ? (clientCertFailure(code, secure.clientCert, at) ?? fromTlsError(err)) : fromNodeError(err, `connection to ${at}`);
  return failure ?? new ProbeFailure(ItemErrorCode.CONNECTION_RESET, `connection to ${at} failed: ${err.message}`);
}

/** TLS alerts a server sends about the client's certificate (mutual TLS). */
const CLIENT_CERT_ALERTS = new Set([
  'ERR_SSL_SSLV3_ALERT_BAD_CERTIFICATE',
  'ERR_SSL_TLSV13_ALERT_CERTIFICATE_REQUIRED',
  'ERR_SSL_SSLV3_ALERT_CERTIFICATE_UNKNOWN',
  'ERR_SSL_SSLV3_ALERT_UNSUPPORTED_CERTIFICATE',
  'ERR_SSL_SSLV3_ALERT_CERTIFICATE_EXPIRED',
  'ERR_SSL_SSLV3_ALERT_CERTIFICATE_REVOKED',
  'ERR_SSL_TLSV1_ALERT_UNKNOWN_CA',
]);

function clientCertFailure(code: string, clientCert: boolean, where: string): ProbeFailure | undefined {
  if (!CLIENT_CERT_ALERTS.has(code)) return undefined;
  const alert = code
    .replace(/^ERR_SSL_(SSLV3|TLSV1|TLSV13)_ALERT_/, '')
    .toLowerCase()
    .replace(/_/g, ' ');
  return clientCert
    ? new ProbeFailure(
        ItemErrorCode.TLS_CLIENT_CERT_REJECTED,
        `${where} refused the client certificate from key_store_key (TLS alert "${alert}", ${code}): the broker's truststore must hold the CA that signed it`,
      )
    : new ProbeFailure(
        ItemErrorCode.TLS_CLIENT_CERT_REQUIRED,
        `${where} requires a client certificate (TLS alert "${alert}", ${code}): the listener uses mutual TLS (ssl.client.auth=required); set enable_key_store with key_store_key`,
      );
}

/** A connection to an advertised broker still not done at the broker deadline, by the stage it was in. */
function linkDeadlineFailure(where: Endpoint, stage: StageName | undefined): ProbeFailure {
  const at = hostPort(where.host, where.port);
  if (stage === 'dns') return new ProbeFailure(ItemErrorCode.DNS_RESOLUTION_FAILED, `resolving "${where.host}" did not finish in time`);
  if (stage === 'tcp')
    return new ProbeFailure(ItemErrorCode.CONNECTION_TIMEOUT, `no TCP connection to ${at} in time (the packets are dropped or the address is wrong)`);
  return new ProbeFailure(ItemErrorCode.TIMEOUT, `${at} accepted the connection but did not answer in time`);
}

/**
 * What kafkajs gets from the socketFactory. It forwards bytes between kafkajs and the real connection once that is
 * up, and on the way notes each request's API key, judges the first answer (a server that is not Kafka fails at
 * once with PROTOCOL_ERROR rather than leaving kafkajs waiting for a length read from garbage) and keeps the
 * Metadata and SaslHandshake answers for the probe's report.
 */
class KafkaSocket extends EventEmitter {
  private connection: Socket | undefined;
  private ended = false;
  private failed = false;
  private received: Buffer = Buffer.alloc(0);
  private responses = 0;
  private readonly pending = new Map<number, RequestHeader>();

  constructor(private readonly record: LinkRecord) {
    super();
    // kafkajs adds its listener right after the factory returns; this one makes a late error harmless.
    this.on('error', () => undefined);
  }

  /** Hands over the established connection. False when kafkajs gave up on this socket meanwhile. */
  attach(connection: Socket, secure: { clientCert: boolean } | undefined): boolean {
    if (this.ended || this.failed) {
      connection.destroy();
      return false;
    }
    this.connection = connection;
    connection.on('data', (chunk: Buffer) => this.onData(chunk));
    connection.on('end', () => {
      if (this.ended || this.failed) return;
      this.record.closedByServer = { unanswered: [...this.pending.values()].map((h) => h.apiKey) };
      this.emit('end');
    });
    connection.on('error', (err: Error) => this.fail(fromLinkError(err, this.record, secure)));
    connection.on('close', () => {
      if (this.ended || this.failed) return;
      // After the server's FIN kafkajs has heard 'end' already; the story is in record.closedByServer.
      if (this.record.closedByServer) {
        this.ended = true;
        return;
      }
      // Destroyed by the runner at the end of the run, or reset: kafkajs must hear of it, or it waits forever.
      this.fail(new ProbeFailure(ItemErrorCode.CONNECTION_RESET, `the connection to ${hostPort(this.record.host, this.record.port)} was closed`));
    });
    return true;
  }

  write(data: Buffer | string, encoding?: BufferEncoding): boolean {
    const bytes = typeof data === 'string' ? Buffer.from(data, encoding) : data;
    const header = readRequestHeader(bytes);
    if (header) this.pending.set(header.correlationId, header);
    if (!this.connection || this.ended || this.failed) return false;
    return this.connection.write(bytes);
  }

  end(): this {
    this.ended = true;
    this.connection?.end();
    return this;
  }

  destroy(): this {
    this.ended = true;
    this.connection?.destroy();
    return this;
  }

  unref(): this {
    this.connection?.unref();
    return this;
  }

  setKeepAlive(): this {
    return this;
  }

  setNoDelay(): this {
    return this;
  }

  setTimeout(): this {
    return this;
  }

  /** Fails the connection: the first failure is the record's, kafkajs gets an error and stops using the socket. */
  fail(failure: ProbeFailure): void {
    if (this.failed || this.ended) return;
    this.failed = true;
    // After the server closed the connection, a reset that follows adds nothing to that story.
    if (!this.record.closedByServer) this.record.failure ??= failure;
    this.connection?.destroy();
    this.emit('error', Object.assign(new Error(failure.message), { code: failure.code }));
  }

  /** The probe is done with this connection. */
  shutdown(): void {
    if (!this.ended && !this.failed) {
      this.failed = true;
      this.emit('error', Object.assign(new Error('the check ended'), { code: ItemErrorCode.CANCELED }));
    }
    this.ended = true;
    this.connection?.destroy();
  }

  private onData(chunk: Buffer): void {
    if (this.failed || this.ended) return;
    this.received = this.received.length ? Buffer.concat([this.received, chunk]) : chunk;
    while (this.received.length >= 4) {
      const verdict = this.judge();
      if (verdict) return this.fail(verdict);
      const size = this.received.readInt32BE(0);
      if (this.received.length < 4 + size) return;
      const frame = this.received.subarray(0, 4 + size);
      this.received = this.received.subarray(4 + size);
      const request = this.pending.get(frame.readInt32BE(4));
      if (this.responses === 0 && !request) {
        return this.fail(new ProbeFailure(ItemErrorCode.PROTOCOL_ERROR, `the server's answer does not match the request sent (${describeBytes(frame)})`));
      }
      this.responses++;
      if (request) {
        this.pending.delete(request.correlationId);
        this.record.answered.push(request.apiKey);
        this.keep(request, frame.subarray(8));
      }
      try {
        this.emit('data', frame);
      } catch (err) {
        // kafkajs decodes inside this call; bytes it cannot decode must not become an uncaught exception.
        return this.fail(
          new ProbeFailure(ItemErrorCode.PROTOCOL_ERROR, `malformed answer from the server: ${err instanceof Error ? err.message : String(err)}`),
        );
      }
    }
  }

  /** Judges the length prefix of the next answer; a failure when the bytes cannot be a Kafka answer. */
  private judge(): ProbeFailure | undefined {
    const bytes = this.received;
    const size = bytes.readInt32BE(0);
    if (this.responses > 0) {
      return size < 4 || size > MAX_RESPONSE
        ? new ProbeFailure(ItemErrorCode.PROTOCOL_ERROR, `the server sent a frame of ${size} bytes, which no Kafka answer has`)
        : undefined;
    }
    if (this.pending.size === 0) {
      return new ProbeFailure(
        ItemErrorCode.PROTOCOL_ERROR,
        `the server spoke before the client asked anything, which a Kafka broker never does: ${describeBytes(bytes)}`,
      );
    }
    // A TLS record (alert 0x15 or handshake 0x16, version 3.x) in answer to a plain request: a TLS listener.
    if ((bytes[0] === 0x15 || bytes[0] === 0x16) && bytes[1] === 0x03) {
      return new ProbeFailure(
        ItemErrorCode.TLS_REQUIRED,
        'the listener answered with TLS: it is an SSL or SASL_SSL listener; set kafka_security_config.type accordingly',
      );
    }
    if (size < 4 || size > MAX_FIRST_RESPONSE) {
      return new ProbeFailure(ItemErrorCode.PROTOCOL_ERROR, `the server's first bytes are not a Kafka answer: ${describeBytes(bytes)}`);
    }
    return undefined;
  }

  /** Keeps what the probe reports from the answers kafkajs gets. A body that does not parse is kafkajs' to judge. */
  private keep(request: RequestHeader, body: Buffer): void {
    try {
      if (request.apiKey === ApiKey.Metadata && request.apiVersion <= 8) this.record.metadata ??= parseMetadataResponse(body, request.apiVersion);
      if (request.apiKey === ApiKey.SaslHandshake) this.record.saslMechanisms = parseSaslHandshakeResponse(body).mechanisms;
    } catch {
      // kafkajs reads the same bytes and reports them.
    }
  }
}
