// Owns: the probe contract — what a probe receives (target, context) and what it returns; the result's vocabulary
// (endpoint, stages, TLS report, server) is core's. Must not: touch Redis, HTTP or BullMQ, or create timers: the
// runner (run-probe.ts) owns the deadline, every timer (ctx.at), the timing and the result's stages.

import type { Socket } from 'node:net';
import type { CheckResult, DbType, Endpoint, KafkaSaslMechanism, KafkaSecurityProtocol, SslMode, Stage, StageName } from '@conncheck/core';
import type { NetworkPolicy } from './network-policy.js';

// A result's vocabulary is core's: the store, the API and the dashboard read the same shapes.
export type { Endpoint, ServerInfo, Stage, StageName, StageStatus, TlsReport } from '@conncheck/core';

/** What a probe checks. Secrets are here in clear only in the worker's memory, never persisted. */
export interface ProbeTarget {
  dbType: DbType;
  /** One endpoint for tcp/mysql/postgresql; several for a MongoDB seed list or a Kafka bootstrap list. */
  endpoints: Endpoint[];
  user?: string;
  password?: string;
  /** PostgreSQL: database to connect to (default `postgres`); MySQL: optional default schema; MongoDB: auth database. */
  database?: string;
  /** Present when the check must use TLS. */
  tls?: ProbeTls;
  /** Kafka only: the listener's security settings (secrets already opened into `tls` / `password`). */
  kafka?: KafkaSettings;
}

/** TLS as the request asked for it, the same meaning for every type (libpq's sslmode names). */
export interface ProbeTls {
  /** require: encrypt, verify nothing; verify-ca: the chain must lead to `ca`; verify-full: and name the host. */
  mode: SslMode;
  /** PEM certificates to trust; absent = the system's CA store. */
  ca?: string[];
  /** Client certificate chain and private key (PEM) for mutual TLS. */
  cert?: string;
  key?: string;
  passphrase?: string;
  /** A certificate valid for fewer days than this gives a warning (CONNCHECK_TLS_EXPIRY_WARNING_DAYS). @defaultValue 30 */
  expiryWarningDays?: number;
  /** The request field `ca` came from, as messages name it (Kafka's is trust_store_key). @defaultValue 'ssl_cert_key' */
  caField?: string;
  /**
   * Present when Java clients would trust only `anchors` of `ca` (an OpenSSL-made PKCS#12 truststore: none): a verified
   * chain that leads to none of them gets `warning`, since the user's Java client would fail the handshake there.
   */
  javaTrust?: { anchors: string[]; warning: string };
}

export interface KafkaSettings {
  securityProtocol: KafkaSecurityProtocol;
  saslMechanism?: KafkaSaslMechanism;
}

/** What a probe returns; the runner adds the stages it recorded (and the run's duration). */
export type ProbeResult = Omit<CheckResult, 'stages'>;

export interface ProbeLogger {
  debug(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
}

/**
 * Records the stages of one probe run, in order, with their durations.
 * After `finish()` the list is frozen: a probe that keeps running past its deadline cannot change a result
 * that has already been returned.
 */
export interface StageRecorder {
  /** Declares the stages that apply to this probe, in order; the ones never reached are reported `skipped`. */
  plan(names: readonly StageName[]): void;
  /** Starts a stage. Throws if another stage is still in progress (a bug in the probe). */
  begin(name: StageName): void;
  /** Ends the stage in progress as ok. No-op when none is in progress or after `finish()`. */
  ok(detail?: string): void;
  /** Ends the stage in progress as failed. No-op when none is in progress or after `finish()`. */
  fail(detail?: string): void;
  /** Records a stage that does not apply to this target (e.g. `dns` for an IP literal). */
  skip(name: StageName, detail?: string): void;
  /** The stage in progress, if any. */
  readonly current: StageName | undefined;
  /** Marks a stage still in progress failed, adds planned stages never reached as skipped, freezes and returns the list. */
  finish(): Stage[];
}

/**
 * What a probe receives besides its target. Built by `runProbe`. A probe never creates timers of its own: a step that
 * must end before the deadline gets its timer from `at` (step-context.ts), so none outlives the run. The drivers'
 * own timers are set longer than the run and end with the sockets the runner destroys.
 */
export interface ProbeContext {
  /** Aborted at the deadline, on cancel, and once the run is over. */
  signal: AbortSignal;
  /** Absolute deadline, epoch milliseconds. */
  deadline: number;
  logger: ProbeLogger;
  policy: NetworkPolicy;
  /** Names resolved to these addresses instead of by DNS (lower-case name → IP), still under the policy. */
  hosts?: ReadonlyMap<string, string> | undefined;
  stages: StageRecorder;
  /** Hands a socket to the runner, which destroys it when the run ends for any reason (deadline, cancel, done). */
  track(socket: Socket): void;
  /** Calls `fn` at `time` (epoch ms) unless the returned cancel is called or the run ends first. */
  at(time: number, fn: () => void): () => void;
}

/**
 * One probe per target type. A failing target is a result (`success: false`); a probe throws only for a bug.
 * The caller (`runProbe`) owns the deadline, cancellation and the total duration.
 */
export type Probe = (target: ProbeTarget, ctx: ProbeContext) => Promise<ProbeResult>;
