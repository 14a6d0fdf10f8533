// Owns: the BullMQ worker — job → claim item → registry → probe (under its deadline) → store — plus concurrency,
// cancellation and shutdown. Must not: build Redis keys or decide state transitions (packages/store does).

import { setMaxListeners } from 'node:events';
import { WaitingError, Worker, type Job } from 'bullmq';
import type { RedisClient } from '@conncheck/store';
import { type Config, type ItemSpec, type Logger, ItemErrorCode, newWorkerId } from '@conncheck/core';
import { type ProbeLogger, type ProbeTarget, getProbe, runProbe } from '@conncheck/probes';
import {
  type CheckJobData,
  type Claim,
  type ConnectionJobData,
  type ItemOutcome,
  JOB_NAMES,
  type TaskStore,
  type WorkerRef,
  logErrors,
} from '@conncheck/store';
import { isFinalFailure } from './final-failure.js';
import { itemsCompleted, probeDuration, probesRunning } from './metrics.js';
import { ProbeSlots } from './probe-slots.js';
import { probeTarget } from './probe-target.js';
import type { WorkerPolicies } from './policies.js';

export interface CheckWorkerOptions {
  config: Config;
  store: TaskStore;
  /** A connection with `maxRetriesPerRequest: null`, as BullMQ workers need. */
  connection: RedisClient;
  /** A second connection for the cancel channel (a subscribed connection can do nothing else). */
  subscriber: RedisClient;
  policies: WorkerPolicies;
  logger: Logger;
  /** A job a saved connection's scheduler produced in this pool's queue. */
  onConnectionJob?: (job: Job<ConnectionJobData>) => Promise<void>;
  /** Called when an item this worker wrote (or failed) ended its task. */
  onTaskEnded?: (checkId: string) => void;
}

type RunClaim = Extract<Claim, { kind: 'run' }>;

/** What runItem returns for a probe stopped because this worker is shutting down: no result to store. */
const ABANDONED = Symbol('abandoned');

/**
 * A probe logs rarely (debug detail, a probe bug), so the item's bindings are merged only when it does: a pino
 * child per item, with its redaction set-up, costs more than many probes on a fast network.
 */
function itemLogger(logger: Logger, bindings: Record<string, unknown>): ProbeLogger {
  return {
    debug(obj, msg) {
      if (logger.isLevelEnabled('debug')) logger.debug({ ...bindings, ...obj }, msg);
    },
    warn(obj, msg) {
      logger.warn({ ...bindings, ...obj }, msg);
    },
  };
}

export class CheckWorker {
  readonly ref: WorkerRef;
  private worker: Worker<CheckJobData | ConnectionJobData> | undefined;
  /**
   * One abort controller per check with items running here, shared by those items (a cancel stops all of a
   * check's items at once), with a count of its running items so it is dropped with the last.
   */
  private readonly running = new Map<string, { controller: AbortController; items: number }>();
  private readonly metricChildren = new Map<string, { completed: { inc(): void }; duration: { observe(value: number): void } }>();
  /** Tasks whose undecryptable credentials were logged already (bounded). */
  private readonly undecryptable = new Set<string>();
  private readonly slots: ProbeSlots;
  /** Check jobs running or waiting for a slot here. */
  private activeJobs = 0;
  /** Set by close(): no job claims another item; each hands the rest of its items back to the queue. */
  private stopping = false;
  /** Set when the shutdown grace has passed: running probes are stopped and their items handed back, not failed. */
  private abandoning = false;

  constructor(private readonly options: CheckWorkerOptions) {
    this.ref = { id: newWorkerId(), pool: options.config.workerPool };
    this.slots = new ProbeSlots(options.config.workerConcurrency, () => this.fitConcurrency());
  }

  /** Probes running in this worker now. */
  get probesRunning(): number {
    let n = 0;
    for (const { items } of this.running.values()) n += items;
    return n;
  }

  async start(): Promise<void> {
    const { config, store, connection, subscriber, logger } = this.options;
    await subscriber.subscribe(store.keys.cancelChannel());
    subscriber.on('message', (_channel: string, checkId: string) => {
      this.running.get(checkId)?.controller.abort();
    });
    this.worker = new Worker<CheckJobData | ConnectionJobData>(store.keys.queueName(config.workerPool), (job, token) => this.dispatch(job, token), {
      connection,
      prefix: store.keys.queuePrefix(store.keys.queueName(config.workerPool)),
      // At most one job per probe slot; fitConcurrency() lowers it while the slots are taken.
      concurrency: config.workerConcurrency,
      // The lock is renewed every lockDuration/2 while the job runs, however long its items take. A killed worker's
      // job is found by the first stall check after its lock expired: within lockDuration + stalledInterval.
      lockDuration: config.workerLockMs,
      stalledInterval: Math.max(500, Math.floor(config.workerLockMs / 3)),
      maxStalledCount: 2,
      autorun: true,
    });
    this.worker.on('failed', (job, err) => {
      if (!job) return;
      const final = isFinalFailure(job, err);
      logger.warn({ job: job.id, attempt: job.attemptsMade, final, err: err.message }, 'check job failed');
      // A job that will not run again must not leave its items (and so its task) unfinished forever.
      if (final && job.name === JOB_NAMES.check) {
        void this.failRemaining(job.data as CheckJobData, err).catch((e: Error) => logger.error({ err: e.message }, 'could not fail remaining items'));
      }
    });
    logErrors(this.worker, logger, 'worker error');
    logger.info({ worker: this.ref.id, pool: config.workerPool, concurrency: config.workerConcurrency }, 'worker started');
  }

  private async dispatch(job: Job<CheckJobData | ConnectionJobData>, token?: string): Promise<void> {
    if (job.name === JOB_NAMES.connectionCheck) {
      await this.options.onConnectionJob?.(job as Job<ConnectionJobData>);
      return;
    }
    await this.process(job as Job<CheckJobData>, token);
  }

  /** Tells the hook that a task ended, once, whatever it does. */
  private ended(checkId: string, ended: boolean): void {
    if (ended) this.options.onTaskEnded?.(checkId);
  }

  /**
   * Runs a job's items side by side, as many at once as it gets probe slots (at least one), each lane claiming the
   * next unclaimed item of the job as it finishes one: finishing an item and claiming the next is one round trip.
   * A job that started with fewer slots than items takes more as they free up.
   */
  private async process(job: Job<CheckJobData>, token?: string): Promise<void> {
    const { check_id: checkId, project, from, to } = job.data;
    const { store } = this.options;
    this.activeJobs++;
    let next = from;
    /** Set when the task is gone or ended, or a lane failed: no lane claims another item. */
    let over = false;
    let handBack = false;
    let failure: Error | undefined;
    let lanes = 0;
    let allDone: () => void = () => undefined;
    const done = new Promise<void>((resolve) => (allDone = resolve));
    const lane = async (): Promise<void> => {
      let finish: { index: number; claimed: { attempts: number; started_at: number }; outcome: ItemOutcome } | undefined;
      try {
        while (!over && next <= to) {
          if (this.stopping) {
            handBack = true;
            break;
          }
          const index = next++;
          const { claim, taskStatus, ended } = await store.advance({ checkId, project, worker: this.ref, finish, claimIndex: index });
          this.ended(checkId, ended);
          finish = undefined;
          if (!claim || claim.kind !== 'run') {
            // The task is gone (expired) or ended (canceled): the rest of the job has nothing to do.
            if (claim?.kind === 'gone' || (taskStatus && taskStatus !== 'Running' && taskStatus !== 'Pending')) over = true;
            continue;
          }
          widen();
          const outcome = await this.runItem(checkId, claim);
          if (outcome === ABANDONED) {
            await store.release(checkId, this.ref, [index]);
            handBack = true;
            break;
          }
          finish = { index, claimed: { attempts: claim.attempts, started_at: claim.startedAt }, outcome };
        }
        if (finish) this.ended(checkId, (await store.advance({ checkId, project, worker: this.ref, finish })).ended);
      } catch (err) {
        over = true;
        failure ??= err instanceof Error ? err : new Error('a lane of the job failed', { cause: err });
      } finally {
        this.slots.give(1);
        if (--lanes === 0) allDone();
      }
    };
    const start = (n: number): void => {
      lanes += n;
      for (let i = 0; i < n; i++) void lane();
    };
    /** More lanes while items are unclaimed and slots free (never more lanes than unclaimed items). */
    const widen = (): void => {
      if (over || this.stopping) return;
      // A lane claims its first item as it starts (before its first await), so each new lane takes one of these.
      const unclaimed = to - next + 1;
      if (unclaimed > 0) start(this.slots.tryTake(unclaimed));
    };
    try {
      start(await this.slots.take(to - from + 1));
      await done;
      if (failure) throw failure;
    } finally {
      this.activeJobs--;
      this.fitConcurrency();
    }
    if (handBack) {
      // Back to the queue for another worker (or this one's successor): the items this job already ended are
      // skipped there, the others run. Not a failure, and not an attempt.
      await job.moveToWait(token);
      throw new WaitingError();
    }
  }

  /**
   * BullMQ fetches a job whenever fewer than `concurrency` are active; a job waiting here for a slot would hold its
   * items from other workers, so the worker fetches only while it has a free slot for the new job.
   */
  private fitConcurrency(): void {
    if (this.worker) this.worker.concurrency = Math.max(1, this.activeJobs + this.slots.free);
  }

  private async runItem(checkId: string, claim: RunClaim): Promise<ItemOutcome | typeof ABANDONED> {
    const { spec } = claim;
    if (claim.secretError !== undefined) {
      this.cannotDecrypt(checkId, spec.index, claim.secretError);
      return this.record(spec, {
        success: false,
        error_code: ItemErrorCode.CREDENTIALS_UNAVAILABLE,
        error_msg: `credentials could not be decrypted (${claim.secretError}); every API and worker process must share CONNCHECK_SECRET_KEY`,
        duration_ms: 0,
        stages: [],
      });
    }
    let target: ProbeTarget;
    try {
      target = probeTarget(spec, claim.secrets, { tlsExpiryWarningDays: this.options.config.tlsExpiryWarningDays });
    } catch (err) {
      this.options.logger.error({ check_id: checkId, index: spec.index, err: (err as Error).message }, 'could not build the probe target');
      return this.record(spec, {
        success: false,
        error_code: ItemErrorCode.INTERNAL_ERROR,
        error_msg: 'the worker could not prepare this item (see the worker log)',
        duration_ms: 0,
        stages: [],
      });
    }
    let entry = this.running.get(checkId);
    if (!entry) {
      entry = { controller: new AbortController(), items: 0 };
      // Every running item of the check listens on this one signal.
      setMaxListeners(0, entry.controller.signal);
      this.running.set(checkId, entry);
    }
    entry.items++;
    probesRunning.inc();
    try {
      const result = await runProbe(getProbe(spec.db_type), target, {
        timeoutMs: spec.timeout_ms,
        policy: spec.allow_loopback ? this.options.policies.open : this.options.policies.tenant,
        logger: itemLogger(this.options.logger, { check_id: checkId, index: spec.index, db_type: spec.db_type }),
        signal: entry.controller.signal,
        hosts: spec.hosts && new Map(spec.hosts.map(({ name, ip }) => [name.toLowerCase(), ip])),
      });
      // Stopped by the shutdown, not by a cancel or its deadline: the item runs again elsewhere.
      if (this.abandoning && result.error_code === ItemErrorCode.CANCELED) return ABANDONED;
      return this.record(spec, result);
    } finally {
      probesRunning.dec();
      if (--entry.items === 0) this.running.delete(checkId);
    }
  }

  /**
   * Says in the log that this worker cannot read an item's credentials: once per task (a task's items share one
   * key), with what to fix. The message is the decryption's own, which never holds the secret.
   */
  private cannotDecrypt(checkId: string, index: number, reason: string): void {
    if (this.undecryptable.has(checkId)) return;
    if (this.undecryptable.size >= 1000) this.undecryptable.clear();
    this.undecryptable.add(checkId);
    this.options.logger.error(
      { check_id: checkId, index, err: reason },
      "cannot decrypt an item's credentials: this worker's CONNCHECK_SECRET_KEY (or CONNCHECK_SECRET_KEY_PREVIOUS) is not the key the API encrypted them with; its items fail with CREDENTIALS_UNAVAILABLE",
    );
  }

  private record(spec: ItemSpec, outcome: ItemOutcome): ItemOutcome {
    // A probe stopped by a cancel is no failure of its target.
    const status = outcome.success ? 'success' : outcome.error_code === ItemErrorCode.CANCELED ? 'canceled' : 'failed';
    const key = `${spec.db_type}|${status}|${outcome.error_code ?? ''}`;
    // prom-client hashes a label object on every call; the few label combinations are looked up once instead.
    let children = this.metricChildren.get(key);
    if (!children) {
      children = {
        completed: itemsCompleted.labels({ db_type: spec.db_type, status, error_code: outcome.error_code ?? '', pool: this.ref.pool }),
        duration: probeDuration.labels({ db_type: spec.db_type, status }),
      };
      this.metricChildren.set(key, children);
    }
    children.completed.inc();
    children.duration.observe(outcome.duration_ms / 1000);
    return outcome;
  }

  private async failRemaining(data: CheckJobData, err: Error): Promise<void> {
    this.options.logger.error({ check_id: data.check_id, err: err.message }, 'giving up on a job; its unfinished items fail');
    for (let index = data.from; index <= data.to; index++) {
      const { ended } = await this.options.store.advance({
        checkId: data.check_id,
        project: data.project,
        worker: this.ref,
        finish: {
          index,
          outcome: {
            success: false,
            error_code: ItemErrorCode.INTERNAL_ERROR,
            error_msg: 'the worker could not complete this item (queue job failed repeatedly); resubmit it',
            duration_ms: 0,
            stages: [],
          },
        },
      });
      this.ended(data.check_id, ended);
    }
  }

  /**
   * Stops: no new job is taken and no job claims another item from now on (each hands its remaining items back to
   * the queue). Running probes get `graceMs` to finish; then they are stopped and their items handed back too, to
   * run on another worker — never stored as failed or canceled. Resolves once every job has been handed back.
   */
  async close(graceMs: number): Promise<void> {
    const worker = this.worker;
    if (!worker) return;
    this.stopping = true;
    const closed = worker.close();
    let timer: NodeJS.Timeout | undefined;
    const graceOver = new Promise<void>((resolve) => {
      timer = setTimeout(resolve, graceMs);
    });
    if ((await Promise.race([closed.then(() => 'closed' as const), graceOver.then(() => 'grace' as const)])) === 'grace') {
      this.abandoning = true;
      for (const { controller } of this.running.values()) controller.abort();
      // Stopped probes return at once and their jobs go back to the queue; a job stuck on Redis does not hold the
      // process past a short bound (its lock expires and another worker takes it).
      const bound = new Promise<void>((resolve) => {
        clearTimeout(timer);
        timer = setTimeout(resolve, 3000);
      });
      if ((await Promise.race([closed.then(() => 'closed' as const), bound.then(() => 'bound' as const)])) === 'bound') {
        this.options.logger.warn('jobs did not hand back within 3 s of the grace period; closing anyway');
        await worker.close(true).catch(() => undefined);
      }
    }
    clearTimeout(timer);
    await this.options.subscriber.quit().catch(() => undefined);
  }
}
