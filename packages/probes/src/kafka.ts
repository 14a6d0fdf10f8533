// Owns: the `kafka` probe — the bootstrap connection (dns, tcp, tls), SASL authentication, ApiVersions and Metadata
// through kafkajs, the broker's release, and a check that every broker's advertised address can be reached.
// Must not: let kafkajs open a connection itself (kafka-link.ts dials every one), retry, or outlive the deadline.

import { isIP, type Socket } from 'node:net';
import type { Admin, LogEntry, SASLOptions } from 'kafkajs';
import { hostPort, isSaslProtocol, isTlsProtocol, ItemErrorCode, kafkaSslMode } from '@conncheck/core';
import type { Dialed } from './dial.js';
import { loadDriver, loadedDriver } from './drivers.js';
import { brokerFailure, explainClient, explainRecord, type KafkaRequest, kafkaWording } from './kafka-errors.js';
import { BrokerDeadline, KafkaLinks, type LinkRecord } from './kafka-link.js';
import {
  ApiKey,
  apiVersionsV3Request,
  metadataVersionName,
  parseApiVersionsResponse,
  releaseOfMetadataLevel,
  type AdvertisedBroker,
  type MetadataAnswer,
  WireError,
} from './kafka-wire.js';
import { failureResult, type Findings, ProbeFailure, successResult } from './probe-result.js';
import { describeBytes } from './reply-guard.js';
import { dialFirst, resolveSeeds } from './seed-list.js';
import { plannedStages } from './stage-recorder.js';
import { abortable, subDeadline, type SubDeadline } from './step-context.js';
import type { Endpoint, KafkaSettings, Probe, ProbeContext, ProbeResult, ProbeTarget, ProbeTls, ServerInfo, TlsReport } from './types.js';

/** Advertised brokers are checked at most this many at a time. */
const BROKER_CHECKS_AT_ONCE = 8;

export const kafkaProbe: Probe = async (target, ctx) => {
  await loadDriver('kafkajs');
  return new KafkaCheck(target, ctx).run();
};

interface BrokerStatus {
  broker: AdvertisedBroker;
  failure?: ProbeFailure;
}

class KafkaCheck {
  private readonly settings: KafkaSettings;
  private readonly tls: ProbeTls | undefined;
  private readonly sasl: SASLOptions | undefined;
  private readonly warnings: string[] = [];
  private readonly clients: { links: KafkaLinks; admin: Admin }[] = [];
  private readonly request: KafkaRequest;
  /** IPv6 literals cannot pass through kafkajs' "host:port" strings; they travel under an alias. */
  private readonly aliases = new Map<string, string>();
  /** Connections to advertised brokers end a little before the deadline, so an unreachable one is named as such. */
  private readonly brokers: SubDeadline;
  private address: string | undefined;
  /** The bootstrap endpoint that answered, as given (host:port). */
  private bootstrap: string | undefined;
  private tlsReport: TlsReport | undefined;
  private server: ServerInfo | undefined;
  private cluster: Record<string, unknown> | undefined;

  constructor(
    private readonly target: ProbeTarget,
    private readonly ctx: ProbeContext,
  ) {
    this.settings = target.kafka ?? { securityProtocol: 'PLAINTEXT' };
    const protocol = this.settings.securityProtocol;
    // Java clients verify the chain and the broker's name unless told otherwise; so does the checker.
    this.tls = isTlsProtocol(protocol) ? { ...(target.tls ?? { mode: kafkaSslMode(undefined) }), caField: 'trust_store_key' } : undefined;
    const mechanism = this.settings.saslMechanism;
    this.sasl =
      isSaslProtocol(protocol) && mechanism
        ? ({ mechanism: mechanism.toLowerCase(), username: target.user ?? '', password: target.password ?? '' } as SASLOptions)
        : undefined;
    this.request = { settings: this.settings, user: target.user, tls: Boolean(this.tls), sasl: Boolean(this.sasl) };
    const left = ctx.deadline - Date.now();
    this.brokers = subDeadline(ctx, ctx.deadline - Math.min(1000, Math.max(100, left / 10)), () => new BrokerDeadline('broker deadline'));
  }

  async run(): Promise<ProbeResult> {
    const { ctx } = this;
    const protocol = this.settings.securityProtocol;
    ctx.stages.plan(plannedStages({ tls: Boolean(this.tls), auth: Boolean(this.sasl) }));
    try {
      if (isSaslProtocol(protocol) && !this.sasl) {
        throw new ProbeFailure(ItemErrorCode.SASL_MECHANISM_UNSUPPORTED, `type ${protocol} needs a sasl_mechanism`);
      }
      if (this.sasl && !this.target.user) throw new ProbeFailure(ItemErrorCode.AUTH_FAILED, 'no user name given (db_user)');
      if (!this.sasl && this.target.user) {
        this.warnings.push(
          `db_user and db_password are not used with type ${protocol}: it does not authenticate with a user name` +
            (protocol === 'SSL' ? ' (for SASL over TLS, set type SASL_SSL and a sasl_mechanism)' : ' (for SASL, set type SASL_PLAINTEXT and a sasl_mechanism)'),
        );
      }
      const seed = await this.dialBootstrap();
      this.address = seed.dialed.address;
      this.bootstrap = hostPort(seed.endpoint.host, seed.endpoint.port);
      const links = this.links({ host: seed.endpoint.host, port: seed.endpoint.port, dialed: seed.dialed });
      const admin = this.client(seed.endpoint, links);
      await abortable(admin.connect(), ctx.signal).catch((err: unknown) => {
        throw this.explain(err, links);
      });
      if (this.sasl) {
        ctx.stages.ok(this.settings.saslMechanism);
        ctx.stages.begin('probe');
      }
      const metadata = await this.metadata(admin, links);
      const [statuses] = await Promise.all([this.checkBrokers(metadata.brokers), this.detectRelease(seed.endpoint, seed.dialed, links)]);
      this.cluster = {
        cluster_id: metadata.clusterId ?? null,
        controller: metadata.controllerId !== undefined && metadata.controllerId >= 0 ? metadata.controllerId : null,
        brokers: statuses.map(({ broker, failure }) => ({
          node_id: broker.nodeId,
          host: broker.host,
          port: broker.port,
          ...(broker.rack ? { rack: broker.rack } : {}),
          reachable: !failure,
          ...(failure ? { error_code: failure.code, error_msg: failure.message } : {}),
        })),
        ...(this.cluster ?? {}),
      };
      const failed = statuses.filter((s) => s.failure);
      const [first] = failed;
      if (first?.failure) {
        const prefix = statuses.length > 1 ? `${failed.length} of ${statuses.length} advertised brokers cannot be used: ` : '';
        throw new ProbeFailure(first.failure.code, `${prefix}${failed.map((s) => s.failure?.message).join('; ')}`);
      }
      ctx.stages.ok(`cluster ${metadata.clusterId ?? '(no id)'}: ${statuses.length} broker${statuses.length === 1 ? '' : 's'}`);
      return successResult(this.findings());
    } catch (err) {
      return failureResult(err instanceof ProbeFailure ? kafkaWording(err) : err, ctx, this.findings());
    } finally {
      this.brokers.done();
      await this.close();
    }
  }

  private findings(): Findings {
    return { address: this.address, tls: this.tlsReport, server: this.server, cluster: this.cluster, warnings: this.warnings };
  }

  /**
   * The dns and tcp stages over the bootstrap list: every name resolved (and every address checked against the
   * policy), then the endpoints dialed in order until one connects. Only a connection-level failure moves on to the
   * next endpoint; the user sees which ones failed as warnings.
   */
  private async dialBootstrap(): Promise<{ endpoint: Endpoint; dialed: Dialed }> {
    const { seeds, skipped: unresolved } = await resolveSeeds(this.target.endpoints, this.ctx, 'one');
    for (const failure of unresolved) this.warnings.push(`bootstrap server skipped: ${failure.message}`);
    const { seed, dialed, skipped: refused } = await dialFirst(seeds, this.ctx);
    for (const failure of refused) this.warnings.push(`bootstrap server skipped: ${failure.message}`);
    return { endpoint: { host: seed.host, port: seed.port }, dialed };
  }

  private links(predialed?: Endpoint & { dialed: Dialed }): KafkaLinks {
    const { ctx } = this;
    return new KafkaLinks({
      ctx,
      brokers: this.brokers.ctx,
      tls: this.tls,
      aliases: this.aliases,
      ...(predialed
        ? {
            predialed,
            onBootstrapReady: (record: LinkRecord) => {
              if (record.tls) this.tlsReport = record.tls;
              this.warnings.push(...record.warnings);
              ctx.stages.begin(this.sasl ? 'auth' : 'probe');
            },
          }
        : {}),
    });
  }

  /** A kafkajs admin client that connects only through `links`, tries once, and never times out before we do. */
  private client(endpoint: Endpoint, links: KafkaLinks): Admin {
    let host = endpoint.host;
    if (isIP(host) === 6) {
      host = `ipv6-${this.aliases.size}.conncheck.invalid`;
      this.aliases.set(host, endpoint.host);
    }
    const timeoutMs = Math.max(1, this.ctx.deadline - Date.now()) + 5000;
    const logger = this.ctx.logger;
    const { Kafka, logLevel } = loadedDriver('kafkajs');
    const kafka = new Kafka({
      clientId: 'conncheck',
      brokers: [`${host}:${endpoint.port}`],
      socketFactory: links.factory,
      ...(this.sasl ? { sasl: this.sasl } : {}),
      connectionTimeout: timeoutMs,
      authenticationTimeout: timeoutMs,
      requestTimeout: timeoutMs,
      // The deadline bounds every request; kafkajs' own check would add a 100 ms interval timer per connection.
      enforceRequestTimeout: false,
      retry: { retries: 0 },
      logLevel: logLevel.WARN,
      logCreator: () => (entry: LogEntry) => {
        const { message, ...extra } = entry.log;
        logger.debug({ kafkajs: entry.namespace, ...extra }, message);
      },
    });
    const admin = kafka.admin({ retry: { retries: 0 } });
    this.clients.push({ links, admin });
    return admin;
  }

  /**
   * Metadata through kafkajs' describeCluster. The answer is taken from the bootstrap connection's own bytes:
   * kafkajs then connects to an advertised broker to ask again, and when that one cannot be reached the seed's
   * answer still tells the user which brokers exist (checkBrokers reports the unreachable one).
   */
  private async metadata(admin: Admin, links: KafkaLinks): Promise<MetadataAnswer> {
    let described: Awaited<ReturnType<Admin['describeCluster']>> | undefined;
    let failure: unknown;
    try {
      described = await abortable(admin.describeCluster(), this.ctx.signal);
    } catch (err) {
      if (this.ctx.signal.aborted) throw err;
      failure = err;
    }
    const seed = links.records.find((r) => r.role === 'bootstrap');
    const metadata =
      seed?.metadata ??
      (described && {
        brokers: described.brokers.map((b) => ({ nodeId: b.nodeId, host: b.host, port: b.port })),
        ...(described.clusterId ? { clusterId: described.clusterId } : {}),
        ...(described.controller !== null ? { controllerId: described.controller } : {}),
      });
    if (!metadata) throw this.explain(failure, links);
    if (metadata.brokers.length === 0) throw new ProbeFailure(ItemErrorCode.PROTOCOL_ERROR, 'the broker answered Metadata with no broker at all');
    return metadata;
  }

  /**
   * Every advertised broker must take a connection (TLS and SASL included) through the same resolution, policy and
   * dial as a submitted address. Brokers kafkajs already reached (or failed to reach) are not dialed again.
   */
  private async checkBrokers(brokers: AdvertisedBroker[]): Promise<BrokerStatus[]> {
    const known = new Map<string, ProbeFailure | null>();
    for (const { links } of this.clients) {
      for (const record of links.records) {
        const key = `${record.host}:${record.port}`;
        const failure = record.role === 'broker' ? explainRecord(record, this.request) : undefined;
        if (failure) {
          if (!known.has(key)) known.set(key, failure);
        } else if (record.answered.includes(ApiKey.Metadata)) {
          known.set(key, null);
        }
      }
    }
    const statuses: BrokerStatus[] = [];
    let next = 0;
    const worker = async (): Promise<void> => {
      while (next < brokers.length) {
        const broker = brokers[next++]!;
        const key = `${broker.host}:${broker.port}`;
        const seen = known.get(key);
        const failure = seen !== undefined ? (seen ?? undefined) : await this.checkBroker(broker);
        statuses.push({ broker, ...(failure ? { failure: brokerFailure(broker, failure, this.bootstrap) } : {}) });
      }
    };
    await Promise.all(Array.from({ length: Math.min(BROKER_CHECKS_AT_ONCE, brokers.length) }, worker));
    return statuses.sort((a, b) => brokers.indexOf(a.broker) - brokers.indexOf(b.broker));
  }

  /** Connects to one advertised broker as a client would: TLS per the request, ApiVersions and SASL. */
  private async checkBroker(broker: AdvertisedBroker): Promise<ProbeFailure | undefined> {
    const links = this.links();
    const admin = this.client({ host: broker.host, port: broker.port }, links);
    try {
      await abortable(admin.connect(), this.brokers.ctx.signal);
      return undefined;
    } catch (err) {
      if (this.ctx.signal.aborted) throw err;
      return this.explain(err, links);
    }
  }

  /**
   * The broker's release from our own ApiVersions v3 on a connection of its own (kafkajs asks v2, whose answer has no
   * features; a second ApiVersions on a SASL connection is refused). Best effort: without it the version is omitted.
   */
  private async detectRelease(endpoint: Endpoint, dialed: Dialed, links: KafkaLinks): Promise<void> {
    try {
      const socket = await links.openRaw(endpoint.host, endpoint.port, dialed);
      const answer = parseApiVersionsResponse(await exchange(socket, apiVersionsV3Request(0x636301), 0x636301, this.brokers.ctx.signal), 3);
      socket.destroy();
      if (answer.errorCode !== 0) return;
      const supported = answer.supportedFeatures.get('metadata.version');
      const release = supported ? releaseOfMetadataLevel(supported[1]) : undefined;
      if (release) this.server = { product: 'Apache Kafka', version: release };
      const finalized = answer.finalizedFeatures.get('metadata.version');
      if (finalized !== undefined) this.cluster = { ...this.cluster, metadata_version: metadataVersionName(finalized) ?? `level ${finalized}` };
    } catch (err) {
      if (this.ctx.signal.aborted) throw err;
      this.ctx.logger.debug({ err: String(err) }, 'kafka: could not tell the broker release');
    }
  }

  /** Why kafkajs gave up on a client. */
  private explain(err: unknown, links: KafkaLinks): ProbeFailure {
    return explainClient(err, links.records, this.request, this.bootstrap);
  }

  private async close(): Promise<void> {
    for (const { links } of this.clients) links.closeAll();
    const disconnects = this.clients.map(({ admin }) => admin.disconnect().catch(() => undefined));
    await abortable(Promise.all(disconnects), this.ctx.signal).catch(() => undefined);
  }
}

/** Sends one request on a raw connection and resolves the body of the answer with `correlationId`. */
function exchange(socket: Socket, request: Buffer, correlationId: number, signal: AbortSignal): Promise<Buffer> {
  const answered = new Promise<Buffer>((resolve, reject) => {
    let received: Buffer = Buffer.alloc(0);
    socket.on('data', (chunk: Buffer) => {
      received = Buffer.concat([received, chunk]);
      if (received.length < 4) return;
      const size = received.readInt32BE(0);
      if (size < 4 || size > 1024 * 1024) return reject(new WireError(`not a Kafka answer: ${describeBytes(received)}`));
      if (received.length < 4 + size) return;
      if (received.readInt32BE(4) !== correlationId) return reject(new WireError('answer to another request'));
      resolve(received.subarray(8, 4 + size));
    });
    socket.once('error', reject);
    socket.once('close', () => reject(new WireError('closed before answering')));
    socket.write(request);
  });
  return abortable(answered, signal);
}
