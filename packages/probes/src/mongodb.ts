// Owns: the `mongodb` probe — a seed list, TLS through tls.ts, SCRAM authentication by the official driver, ping and
// buildInfo, and the replica-set members the server advertises, each checked against the network policy.
// Must not: let the driver resolve a name or connect anywhere but the relay (driver-relay.ts), or send commands
// other than the driver's handshake, ping, buildInfo, listDatabases (no credentials given) and the auth diagnosis.

import type { Socket } from 'node:net';
import type { Document, MongoClient, ServerHeartbeatFailedEvent, ServerHeartbeatSucceededEvent } from 'mongodb';
import { ItemErrorCode } from '@conncheck/core';
import { dialTcp, reach, type Dialed } from './dial.js';
import { DriverRelay } from './driver-relay.js';
import { loadDriver, loadedDriver } from './drivers.js';
import { fromMongoError, mongoRootCause } from './mongodb-errors.js';
import { normalizeAddress } from './network-policy.js';
import { fromNodeError, timedOut } from './node-errors.js';
import { failureResult, type Findings, ProbeFailure, successResult } from './probe-result.js';
import { notExpected, type GreetingVerdict } from './reply-guard.js';
import { dialAll, resolveSeeds } from './seed-list.js';
import { serverText } from './server-text.js';
import { plannedStages } from './stage-recorder.js';
import { abortable, stepDeadline, timeForDiagnosis, within } from './step-context.js';
import { diagnoseTlsOnly, handshakeAgain } from './tls-only.js';
import { upgradeToTls } from './tls.js';
import type { Endpoint, Probe, ProbeContext, ProbeTarget, ServerInfo } from './types.js';

const EXPECTED = 'a MongoDB reply';
const DEFAULT_AUTH_DATABASE = 'admin';
/** Wire protocol opcodes a server may answer with: OP_REPLY (to the driver's first OP_QUERY), OP_COMPRESSED, OP_MSG. */
const REPLY_OPCODES = new Set([1, 2012, 2013]);
/** MongoDB's maxMessageSizeBytes. A first reply that claims more is not from a MongoDB server. */
const MAX_MESSAGE_BYTES = 48_000_000;
/** MongoDB's limit on replica-set members. A server advertising more is not telling the truth, and each is a connect. */
const MAX_MEMBERS = 50;

export type MemberRole = 'primary' | 'secondary' | 'passive' | 'arbiter';

export interface MemberReport {
  /** As the server advertises it (`hosts`, `passives`, `arbiters` of its hello reply). */
  host: string;
  role: MemberRole;
  status: 'reachable' | 'unreachable' | 'forbidden';
  /** The address connected to, when reachable. */
  address?: string;
  error_code?: ItemErrorCode;
  error_msg?: string;
}

/** What the probe learned, kept on failure too. */
interface Facts extends Findings {
  warnings: string[];
}

export const mongodbProbe: Probe = async (target, ctx) => {
  await loadDriver('mongodb');
  ctx.stages.plan(plannedStages({ tls: Boolean(target.tls) }));
  const facts: Facts = { warnings: [] };
  const session: Session = { clients: [] };
  try {
    // A seed list is what clients connect with: every seed must resolve and take a connection.
    const { seeds } = await resolveSeeds(target.endpoints, ctx, 'all');
    const dialed = await dialAll(seeds, ctx);
    const first = dialed[0]!;
    // The other seeds only had to be reachable; the check talks to the first.
    for (const other of dialed.slice(1)) other.socket.destroy();
    session.dialed = first;
    facts.address = first.address;
    const host = target.endpoints[0]!.host;
    let upstream: Socket = first.socket;
    if (target.tls) {
      const secure = await upgradeToTls(first.socket, host, target.tls, ctx);
      upstream = secure.socket;
      facts.tls = secure.report;
      facts.warnings.push(...secure.warnings);
    }
    const relay = await DriverRelay.open(
      { first: upstream, connectUpstream: () => connectUpstream(first, host, target, ctx), judge: judgeMongoReply, expected: EXPECTED },
      ctx,
    );
    session.relay = relay;
    await check(target, ctx, session, facts);
    return successResult(facts);
  } catch (err) {
    return failureResult(await explain(err, target, ctx, session), ctx, facts);
  } finally {
    // Stops the driver's monitor; its sockets end when the runner destroys the relay's side of them.
    for (const client of session.clients) void client.close().catch(() => undefined);
    session.relay?.close();
  }
};

interface Session {
  dialed?: Dialed;
  relay?: DriverRelay;
  clients: MongoClient[];
}

/** `auth` (when credentials are given) and `probe`: everything that goes through the driver. */
async function check(target: ProbeTarget, ctx: ProbeContext, session: Session, facts: Facts): Promise<void> {
  const relay = session.relay!;
  const credentials = target.user !== undefined;
  const client = newClient(relay, target, ctx, credentials);
  session.clients.push(client);
  let hello: Document | undefined;
  client.on('serverHeartbeatSucceeded', (event: ServerHeartbeatSucceededEvent) => (hello ??= event.reply));
  // The driver keeps retrying a server whose check failed until server selection times out; one attempt is all
  // we make, so the first failed check ends the run with its cause.
  const checkFailed = new Promise<never>((_, reject) => client.on('serverHeartbeatFailed', (event: ServerHeartbeatFailedEvent) => reject(event.failure)));
  checkFailed.catch(() => undefined);
  const call = <T>(op: Promise<T>): Promise<T> => abortable(Promise.race([op, relay.failed, checkFailed]), ctx.signal);

  if (credentials) {
    ctx.stages.begin('auth');
    // With credentials, connect() selects the server (the driver's hello), then authenticates a pool connection.
    await call(client.connect());
    ctx.stages.ok(`${target.user}@${authDatabase(target)}`);
  } else {
    ctx.stages.skip('auth', 'no db_user given');
    ctx.stages.begin('probe');
    await call(client.connect());
  }
  if (ctx.stages.current !== 'probe') ctx.stages.begin('probe');
  const admin = client.db('admin');
  await call(admin.command({ ping: 1 }));
  facts.server = await buildInfo(client, call, facts);
  if (!credentials) await checkOpenAccess(client, call, facts);
  if (credentials && hello?.['arbiterOnly'] === true) {
    facts.warnings.push('the server is an arbiter: arbiters hold no users, so the credentials were not checked; list a data-bearing member first');
  }
  const topology = describeTopology(hello);
  if (topology) {
    facts.cluster = topology.cluster;
    if (topology.members.length > 0) await checkMembers(topology, session.dialed!, ctx);
  }
  ctx.stages.ok([facts.server ? `${facts.server.product} ${facts.server.version}` : undefined, topology?.summary].filter(Boolean).join('; ') || undefined);
}

/**
 * The driver is pointed at the relay only (a Unix socket path, so it never resolves or dials anything), in direct
 * mode (it never follows the members a server advertises: the probe checks those itself). Its timeouts are longer
 * than the run: the runner's deadline ends the run, and the relay's and the runner's sockets end the driver's.
 */
function newClient(relay: DriverRelay, target: ProbeTarget, ctx: ProbeContext, credentials: boolean): MongoClient {
  const outlive = Math.max(0, ctx.deadline - Date.now()) + 5000;
  return new (loadedDriver('mongodb').MongoClient)(`mongodb://${encodeURIComponent(relay.path)}/?directConnection=true`, {
    // SCRAM: without authMechanism the driver asks the server (saslSupportedMechs) and uses SCRAM-SHA-256 where the
    // user has it, else SCRAM-SHA-1. It never falls back to a mechanism that sends the password in clear.
    ...(credentials ? { auth: { username: target.user ?? '', password: target.password ?? '' }, authSource: authDatabase(target) } : {}),
    appName: 'conncheck',
    serverSelectionTimeoutMS: outlive,
    connectTimeoutMS: outlive,
    socketTimeoutMS: 0,
    // One check at connect, no periodic ones, no second (streaming/RTT) monitoring connection.
    heartbeatFrequencyMS: 3_600_000,
    serverMonitoringMode: 'poll',
    maxPoolSize: 1,
    minPoolSize: 0,
    maxConnecting: 1,
    retryReads: false,
    retryWrites: false,
    tls: false, // TLS is the probe's (tls.ts), between the relay and the server
  });
}

function authDatabase(target: ProbeTarget): string {
  return target.database || DEFAULT_AUTH_DATABASE;
}

// ---------------------------------------------------------------------------------------------
// connections to the server

/** Every driver connection after the first gets a fresh upstream to the same checked address (TLS verified again). */
async function connectUpstream(first: Dialed, host: string, target: ProbeTarget, ctx: ProbeContext): Promise<Socket> {
  try {
    return await within(ctx, stepDeadline(ctx), timedOut, async (step) => {
      const { socket } = await dialTcp([first.remote], first.port, step);
      if (!target.tls) return socket;
      return (await upgradeToTls(socket, host, target.tls, step)).socket;
    });
  } catch (err) {
    if (ctx.signal.aborted || err instanceof ProbeFailure) throw err;
    // The time ran out inside the TLS handshake.
    throw fromNodeError(err) ?? new ProbeFailure(ItemErrorCode.TIMEOUT, 'the server did not finish the TLS handshake in time');
  }
}

/** Judges the first reply on each upstream connection: a wire-protocol header with a reply opcode and a sane length. */
export function judgeMongoReply(received: Buffer): GreetingVerdict {
  if (received.length < 16) return { kind: 'more' };
  const length = received.readInt32LE(0);
  const opCode = received.readInt32LE(12);
  if (length < 21 || length > MAX_MESSAGE_BYTES || !REPLY_OPCODES.has(opCode)) return { kind: 'bad', message: notExpected(received, EXPECTED) };
  return { kind: 'ok' };
}

// ---------------------------------------------------------------------------------------------
// what the server tells

type Call = <T>(op: Promise<T>) => Promise<T>;

/** MongoDB, FerretDB (which says so in buildInfo) or Percona Server for MongoDB; undefined when buildInfo is refused. */
async function buildInfo(client: MongoClient, call: Call, facts: Facts): Promise<ServerInfo | undefined> {
  let info: Document;
  try {
    info = await call(client.db('admin').command({ buildInfo: 1 }));
  } catch (err) {
    // Only a server's refusal is tolerated: the version is a nice-to-have, the check itself worked.
    if (!(err instanceof loadedDriver('mongodb').MongoServerError)) throw err;
    facts.warnings.push(`the server refused buildInfo, so its version is unknown: ${serverText(err.message)}`);
    return undefined;
  }
  return serverInfoFromBuildInfo(info);
}

export function serverInfoFromBuildInfo(info: Document): ServerInfo | undefined {
  const text = (value: unknown): string | undefined => (typeof value === 'string' && value !== '' ? value.replace(/^v(?=\d)/, '') : undefined);
  const ferret = text(info['ferretdbVersion']);
  if (ferret) return { product: 'FerretDB', version: ferret };
  const percona = text(info['psmdbVersion']);
  if (percona) return { product: 'Percona Server for MongoDB', version: percona };
  const version = text(info['version']);
  return version ? { product: 'MongoDB', version } : undefined;
}

/**
 * Without credentials the driver never authenticates, and ping works on any MongoDB. Whether the server lets an
 * anonymous client in is what listDatabases shows: Unauthorized (13) means it requires a login.
 */
async function checkOpenAccess(client: MongoClient, call: Call, facts: Facts): Promise<void> {
  try {
    await call(client.db('admin').command({ listDatabases: 1, nameOnly: true }));
    facts.warnings.push('no db_user given: the server let an unauthenticated client list its databases (access control is off)');
  } catch (err) {
    if (!(err instanceof loadedDriver('mongodb').MongoServerError)) throw err;
    if (err.code === 13 || err.code === 18) {
      throw new ProbeFailure(
        ItemErrorCode.AUTH_FAILED,
        `the server requires authentication (listDatabases: ${serverText(err.message)}) and no db_user was given: give db_user, db_password and db_name (the authentication database)`,
      );
    }
    facts.warnings.push(`no db_user given; listDatabases was refused: ${serverText(err.message)}`);
  }
}

interface Topology {
  cluster: Record<string, unknown>;
  setName: string;
  members: MemberReport[];
  /** The server checked says it is the writable primary (FerretDB does, without naming itself in `primary`). */
  selfPrimary: boolean;
  summary: string;
}

/** From the driver's hello: the replica set and its members, or a mongos; undefined for a standalone server. */
export function describeTopology(hello: Document | undefined): Topology | undefined {
  if (!hello) return undefined;
  if (hello['msg'] === 'isdbgrid')
    return { cluster: { topology: 'sharded', router: 'mongos' }, setName: '', members: [], selfPrimary: false, summary: 'mongos' };
  const setName = typeof hello['setName'] === 'string' ? hello['setName'] : undefined;
  if (!setName) return undefined;
  const list = (field: string): string[] => (Array.isArray(hello[field]) ? (hello[field] as unknown[]).filter((h): h is string => typeof h === 'string') : []);
  const primary = typeof hello['primary'] === 'string' ? hello['primary'] : undefined;
  const members: MemberReport[] = [];
  const seen = new Set<string>();
  const add = (host: string, role: MemberRole): void => {
    if (seen.has(host.toLowerCase())) return;
    seen.add(host.toLowerCase());
    members.push({ host, role, status: 'reachable' });
  };
  for (const host of list('hosts')) add(host, host === primary ? 'primary' : 'secondary');
  for (const host of list('passives')) add(host, 'passive');
  for (const host of list('arbiters')) add(host, 'arbiter');
  const cluster: Record<string, unknown> = {
    topology: 'replica_set',
    set_name: setName,
    ...(typeof hello['setVersion'] === 'number' ? { set_version: hello['setVersion'] } : {}),
    ...(primary ? { primary } : {}),
    ...(typeof hello['me'] === 'string' ? { me: hello['me'] } : {}),
    members,
  };
  const selfPrimary = hello['isWritablePrimary'] === true || hello['ismaster'] === true;
  return { cluster, setName, members, selfPrimary, summary: `replica set ${setName}, ${members.length} member${members.length === 1 ? '' : 's'}` };
}

/**
 * Clients that connect to a replica set connect to the members the server advertises, not to the seeds: each is a
 * target, resolved and checked against the policy like a submitted address (never contacted when forbidden), then
 * connected to (TCP) within the time left. Fills in each member's status; throws when one is forbidden or unreachable.
 */
async function checkMembers(topology: Topology, connected: Dialed, ctx: ProbeContext): Promise<void> {
  const { members, setName } = topology;
  if (members.length > MAX_MEMBERS) {
    throw new ProbeFailure(
      ItemErrorCode.PROTOCOL_ERROR,
      `replica set "${setName}" advertises ${members.length} members; MongoDB allows at most ${MAX_MEMBERS}, so none was contacted`,
    );
  }
  const deadline = stepDeadline(ctx);
  await Promise.all(
    members.map(async (member) => {
      const endpoint = parseHostPort(member.host);
      if (!endpoint) {
        Object.assign(member, { status: 'unreachable', error_code: ItemErrorCode.PROTOCOL_ERROR, error_msg: 'not a host:port' });
        return;
      }
      if (sameEndpoint(endpoint, connected)) {
        member.address = connected.address;
        if (topology.selfPrimary && member.role === 'secondary' && topology.cluster['primary'] === undefined) member.role = 'primary';
        return;
      }
      try {
        const dialed = await reach(endpoint, ctx, deadline);
        dialed.socket.destroy();
        member.address = dialed.address;
      } catch (err) {
        if (!(err instanceof ProbeFailure) || ctx.signal.aborted) throw err;
        member.status = err.code === ItemErrorCode.TARGET_FORBIDDEN ? 'forbidden' : 'unreachable';
        member.error_code = err.code;
        member.error_msg = err.message;
      }
    }),
  );
  const forbidden = members.filter((m) => m.status === 'forbidden');
  if (forbidden.length > 0) {
    throw new ProbeFailure(
      ItemErrorCode.REPLICA_MEMBER_FORBIDDEN,
      `replica set "${setName}" advertises ${forbidden.map((m) => `member ${m.host} (${m.error_msg})`).join('; ')}; it was not contacted`,
    );
  }
  const unreachable = members.filter((m) => m.status === 'unreachable');
  if (unreachable.length > 0) {
    throw new ProbeFailure(
      ItemErrorCode.REPLICA_MEMBER_UNREACHABLE,
      `replica set "${setName}" advertises ${unreachable.map((m) => `member ${m.host}, which the worker cannot reach (${m.error_msg})`).join('; ')}`,
    );
  }
}

/** "host:port", "[v6]:port" or "host" (port 27017), as hello lists members; undefined when malformed. */
export function parseHostPort(text: string): Endpoint | undefined {
  const bracketed = /^\[([^\]]+)\](?::(\d{1,5}))?$/.exec(text);
  const plain = /^([^:[\]]+)(?::(\d{1,5}))?$/.exec(text);
  const match = bracketed ?? plain;
  if (!match || !match[1]) return undefined;
  const port = match[2] === undefined ? 27017 : Number(match[2]);
  if (port < 1 || port > 65535) return undefined;
  return { host: match[1], port };
}

function sameEndpoint(endpoint: Endpoint, dialed: Dialed): boolean {
  const literal = normalizeAddress(endpoint.host);
  return literal !== undefined && literal.address === dialed.remote.address && endpoint.port === dialed.port;
}

// ---------------------------------------------------------------------------------------------
// failures

/**
 * The failure to report. A cause seen on the wire by the relay (refused, reset, garbage, TLS) beats the driver's
 * account of it, which only says a connection closed; otherwise the driver's error is dug down to its cause. Two
 * answers are then made precise with one more look: which half of the login was wrong, and "closed without a
 * word" from a server that only speaks TLS.
 */
async function explain(err: unknown, target: ProbeTarget, ctx: ProbeContext, session: Session): Promise<unknown> {
  if (ctx.signal.aborted) return err;
  const relay = session.relay;
  const root = err instanceof ProbeFailure || relay?.failure ? undefined : mongoRootCause(err);
  let failure = err instanceof ProbeFailure ? err : (relay?.failure ?? fromMongoError(root));
  const { dialed } = session;
  if (!relay || !dialed) return failure;
  // The driver's text names the relay's socket path where it means the server: the only address it knows.
  failure = new ProbeFailure(failure.code, failure.what.split(relay.path).join(dialed.address), failure.tls, failure.causes);
  if (!timeForDiagnosis(ctx)) return failure;
  const loginRefused = root instanceof loadedDriver('mongodb').MongoServerError && (root.code === 18 || root.code === 11);
  if (loginRefused && target.user !== undefined) return diagnoseLogin(failure, target, ctx, session);
  if (failure.code === ItemErrorCode.CONNECTION_RESET && !relay.answered) {
    // A server that only accepts TLS closes a plain-text connection without a word; one TLS handshake tells.
    return diagnoseTlsOnly(failure, target, ctx, {
      askOverTls: async (step) => Boolean(await handshakeAgain(dialed, target.endpoints[0]!.host, step)),
      tlsOnly: ({ message }) =>
        new ProbeFailure(
          ItemErrorCode.TLS_REQUIRED,
          `${message}; the same port completes a TLS handshake: the server accepts TLS connections only (set ssl_link true)`,
        ),
    });
  }
  return failure;
}

/**
 * MongoDB answers a wrong password and a user that does not exist in the authentication database alike (18). The
 * same server tells any client which SCRAM mechanisms a user has (hello's saslSupportedMechs, which drivers use to
 * choose one): when it lists some, the user exists there and the password is wrong; when it lists none, db_user or
 * db_name is. Asked on a new, unauthenticated connection through the same relay.
 */
async function diagnoseLogin(failure: ProbeFailure, target: ProbeTarget, ctx: ProbeContext, session: Session): Promise<ProbeFailure> {
  const database = authDatabase(target);
  try {
    const mechanisms = await within(ctx, stepDeadline(ctx), timedOut, async (step) => {
      const client = newClient(session.relay!, target, step, false);
      session.clients.push(client);
      await abortable(client.connect(), step.signal);
      const reply = await abortable(client.db('admin').command({ isMaster: 1, saslSupportedMechs: `${database}.${target.user}` }), step.signal);
      return Array.isArray(reply['saslSupportedMechs']) ? (reply['saslSupportedMechs'] as unknown[]).map(String) : [];
    });
    const named = target.database ? `"${database}" (db_name)` : `"${database}" (the default; db_name names another)`;
    return failure.because(
      ItemErrorCode.AUTH_FAILED,
      mechanisms.length > 0
        ? `user "${target.user}" exists in authentication database ${named} (${mechanisms.join(', ')}), so the password is wrong`
        : `there is no user "${target.user}" in authentication database ${named}: check db_user, and set db_name to the database the user was created in`,
    );
  } catch (err) {
    ctx.logger.debug({ err: String(err) }, 'mongodb: the login diagnosis failed');
    return failure;
  }
}
