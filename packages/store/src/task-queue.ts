// Owns: how a task becomes BullMQ jobs — chunking, job ids, job options — and the job data shape.
// Must not: put anything but ids and indexes in job data: BullMQ keeps it as plain JSON in Redis and in its sets.

import { Queue, type JobsOptions } from 'bullmq';
import type { Redis } from 'ioredis';
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
 * Items per job. Small batches get one item per job so every item can start at once on any worker; large ones are
 * cut into chunks of up to 16 so that queue overhead is paid once per chunk while the work still spreads over
 * every worker process (a 1,000-item batch is 100 jobs). A worker runs a chunk's items one after another, so a
 * chunk's last item starts at most 15 probes late: chunks stay small where batches are small.
 */
export function chunkSize(total: number): number {
  return Math.max(1, Math.min(16, Math.floor(total / 100)));
}

export const JOB_OPTIONS: JobsOptions = {
  // A job fails only for infrastructure faults (Redis down mid-job); targets that fail are results, not errors.
  attempts: 3,
  backoff: { type: 'exponential', delay: 1000 },
  removeOnComplete: { age: 3600, count: 1000 },
  removeOnFail: { age: 7 * 24 * 3600, count: 10_000 },
};

export class TaskQueue {
  private readonly queues = new Map<string, Queue<CheckJobData>>();

  constructor(
    private readonly connection: Redis,
    private readonly keys: StoreKeys,
  ) {}

  queue(pool: string): Queue<CheckJobData> {
    let queue = this.queues.get(pool);
    if (!queue) {
      queue = new Queue<CheckJobData>(this.keys.queueName(pool), {
        connection: this.connection,
        prefix: this.keys.queuePrefix,
        defaultJobOptions: JOB_OPTIONS,
      });
      this.queues.set(pool, queue);
    }
    return queue;
  }

  async enqueue(checkId: string, project: string, total: number, pool: string): Promise<number> {
    const size = chunkSize(total);
    const jobs = [];
    for (let from = 0; from < total; from += size) {
      const to = Math.min(total, from + size) - 1;
      jobs.push({
        name: 'check',
        data: { check_id: checkId, project, from, to },
        // Deterministic ids: a retried submission of the same task cannot enqueue a chunk twice.
        opts: { jobId: `${checkId}.${from}` },
      });
    }
    await this.queue(pool).addBulk(jobs);
    return jobs.length;
  }

  /**
   * Whether any of a task's jobs can still run (waiting, active, delayed, prioritized). A job that completed, failed
   * for good or is gone from Redis will not.
   */
  async anyJobAlive(checkId: string, total: number, pool: string): Promise<boolean> {
    const size = chunkSize(total);
    const queue = this.queue(pool);
    for (let from = 0; from < total; from += size) {
      const state = await queue.getJobState(`${checkId}.${from}`);
      if (state !== 'completed' && state !== 'failed' && state !== 'unknown') return true;
    }
    return false;
  }

  /** Removes a task's waiting jobs (best effort: active ones finish and find their items canceled). */
  async removeWaiting(checkId: string, total: number, pool: string): Promise<void> {
    const size = chunkSize(total);
    const queue = this.queue(pool);
    const removals = [];
    for (let from = 0; from < total; from += size) removals.push(queue.remove(`${checkId}.${from}`).catch(() => 0));
    await Promise.all(removals);
  }

  async close(): Promise<void> {
    await Promise.all([...this.queues.values()].map((q) => q.close()));
  }
}
