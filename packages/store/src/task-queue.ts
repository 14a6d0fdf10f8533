// Owns: how a task becomes BullMQ jobs — chunking, job ids, job options — and the job data shape.
// Must not: put anything but ids and indexes in job data: BullMQ keeps it as plain JSON in Redis and in its sets.

import { Queue, type JobsOptions } from 'bullmq';
import type { RedisClient } from './redis.js';
import type { StoreKeys } from './keys.js';

/** Job data: no target, no credential — a worker reads those from the store. */
export interface CheckJobData {
  check_id: string;
  project: string;
  /** Item indexes this job runs, in order. */
  from: number;
  to: number;
}

/**
 * Items per job. Queue overhead (a fetch and a completion in BullMQ's scripts) is paid per job, so large batches are
 * cut into chunks of up to 32; a worker runs a chunk's items side by side in its free probe slots (and takes more
 * as slots free up), so a chunk costs no latency. Small batches get one item per job so every item can start at
 * once on any worker, and batches are cut into at least 25 jobs so the work still spreads over every worker
 * process (a 1,000-item batch is 32 jobs).
 */
export function chunkSize(total: number): number {
  return Math.max(1, Math.min(32, Math.floor(total / 25)));
}

/**
 * A task's items by pool, in index order: `[pool, count]` runs (a one-pool task is one run). Stored with the task;
 * with the item count it fixes the task's jobs.
 */
export type PoolRuns = [pool: string, count: number][];

export function poolRuns(pools: string[]): PoolRuns {
  const runs: PoolRuns = [];
  for (const pool of pools) {
    const last = runs[runs.length - 1];
    if (last && last[0] === pool) last[1]++;
    else runs.push([pool, 1]);
  }
  return runs;
}

/** One job of a task: the items `from`..`to` (inclusive), all in `pool`. Its id is `<check id>.<from>`. */
export interface JobSlot {
  pool: string;
  from: number;
  to: number;
}

/** A task's jobs: each run of one pool cut into chunks (chunkSize of the whole task). */
export function jobLayout(runs: PoolRuns): JobSlot[] {
  const total = runs.reduce((n, [, count]) => n + count, 0);
  const size = chunkSize(total);
  const slots: JobSlot[] = [];
  let start = 0;
  for (const [pool, count] of runs) {
    for (let from = start; from < start + count; from += size) slots.push({ pool, from, to: Math.min(start + count, from + size) - 1 });
    start += count;
  }
  return slots;
}

export function jobId(checkId: string, from: number): string {
  return `${checkId}.${from}`;
}

export const JOB_OPTIONS: JobsOptions = {
  // A job fails only for infrastructure faults (Redis down mid-job); targets that fail are results, not errors.
  attempts: 3,
  backoff: { type: 'exponential', delay: 1000 },
  // A completed job has written every item it ran into the task: nothing is left to keep (and the task's keys are
  // the only ones with its id that outlive it, for as long as the retention says).
  removeOnComplete: true,
  // A job that failed for good is kept a day for the operator (ids and indexes only, no target).
  removeOnFail: { age: 24 * 3600, count: 10_000 },
};

/** The data of a job a saved connection's scheduler produces: start a check of it from the queue's pool. */
export interface ConnectionJobData {
  connection_id: string;
  project: string;
}

/** Job names in a pool's queue. */
export const JOB_NAMES = { check: 'check', connectionCheck: 'connection-check' } as const;

type CheckJob = { name: string; data: CheckJobData; opts: { jobId: string } };

/** The jobs of one pool waiting for the end of this turn of the event loop, and when they are in. */
interface Batch {
  jobs: CheckJob[];
  settled: Promise<void>;
}

export class TaskQueue {
  private readonly queues = new Map<string, Queue<CheckJobData | ConnectionJobData>>();
  private readonly batches = new Map<string, Batch>();

  /**
   * `errors` hears every queue's errors; BullMQ prints them raw to stderr when nobody listens. Without it they are
   * dropped: the queues share `connection`, whose owner logs its errors.
   */
  constructor(
    private readonly connection: RedisClient,
    private readonly keys: StoreKeys,
    private readonly errors?: (queue: Queue) => void,
  ) {}

  queue(pool: string): Queue<CheckJobData | ConnectionJobData> {
    let queue = this.queues.get(pool);
    if (!queue) {
      queue = new Queue<CheckJobData | ConnectionJobData>(this.keys.queueName(pool), {
        connection: this.connection,
        prefix: this.keys.queuePrefix(this.keys.queueName(pool)),
        defaultJobOptions: JOB_OPTIONS,
      });
      if (this.errors) this.errors(queue);
      else queue.on('error', () => undefined);
      this.queues.set(pool, queue);
    }
    return queue;
  }

  /**
   * Adds a task's jobs. Idempotent: job ids are deterministic, so adding them again (a retried submission, or a
   * worker finishing an enqueue intent) adds none twice while they are in the queue; a job added again after it
   * completed finds its items ended and does nothing.
   */
  async enqueue(checkId: string, project: string, runs: PoolRuns): Promise<number> {
    const byPool = new Map<string, CheckJob[]>();
    for (const { pool, from, to } of jobLayout(runs)) {
      const jobs = byPool.get(pool) ?? [];
      jobs.push({ name: JOB_NAMES.check, data: { check_id: checkId, project, from, to }, opts: { jobId: jobId(checkId, from) } });
      byPool.set(pool, jobs);
    }
    await Promise.all([...byPool].map(([pool, jobs]) => this.addSoon(pool, jobs)));
    return [...byPool.values()].reduce((n, jobs) => n + jobs.length, 0);
  }

  /**
   * Adds jobs with those of every other enqueue of this turn of the event loop, in one addBulk per pool: under load,
   * many submissions' jobs go in one transaction instead of one each (alone, a submission waits a setImmediate).
   */
  private addSoon(pool: string, jobs: CheckJob[]): Promise<void> {
    let batch = this.batches.get(pool);
    if (!batch) {
      const created: Batch = { jobs: [], settled: new Promise<void>((resolve, reject) => setImmediate(() => this.flush(pool, created, resolve, reject))) };
      batch = created;
      this.batches.set(pool, batch);
    }
    batch.jobs.push(...jobs);
    return batch.settled;
  }

  private flush(pool: string, batch: Batch, resolve: () => void, reject: (err: unknown) => void): void {
    if (this.batches.get(pool) === batch) this.batches.delete(pool);
    this.queue(pool)
      .addBulk(batch.jobs)
      .then(() => resolve(), reject);
  }

  /**
   * Of these jobs of a task, the first item indexes of those that can still run (waiting, active, delayed,
   * prioritized). A job that completed, failed for good or is gone from Redis will not.
   */
  async liveJobs(checkId: string, slots: JobSlot[]): Promise<Set<number>> {
    const states = await Promise.all(slots.map(({ pool, from }) => this.queue(pool).getJobState(jobId(checkId, from))));
    return new Set(slots.filter((_, i) => !['completed', 'failed', 'unknown'].includes(states[i]!)).map(({ from }) => from));
  }

  /**
   * Re-checks a saved connection from `pool` every `everyMs` with a BullMQ job scheduler in that pool's queue (one per
   * connection and pool; an upsert, so calling it again only changes the interval).
   */
  async scheduleConnection(id: string, project: string, pool: string, everyMs: number): Promise<void> {
    await this.queue(pool).upsertJobScheduler(
      this.keys.connectionScheduler(id, pool),
      { every: everyMs },
      {
        name: JOB_NAMES.connectionCheck,
        data: { connection_id: id, project },
        opts: { attempts: 1, removeOnComplete: true, removeOnFail: { age: 24 * 3600 } },
      },
    );
  }

  async unscheduleConnection(id: string, pool: string): Promise<void> {
    await this.queue(pool).removeJobScheduler(this.keys.connectionScheduler(id, pool));
  }

  /** Removes a task's waiting jobs (best effort: active ones finish and find their items canceled). */
  async removeWaiting(checkId: string, runs: PoolRuns): Promise<void> {
    await Promise.all(
      jobLayout(runs).map(({ pool, from }) =>
        this.queue(pool)
          .remove(jobId(checkId, from))
          .catch(() => 0),
      ),
    );
  }

  async close(): Promise<void> {
    await Promise.all([...this.queues.values()].map((q) => q.close()));
  }
}
