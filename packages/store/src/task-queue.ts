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

/** The first item index of each job of a task, in order; a job's id is `<check id>.<first index>`. */
export function chunkStarts(total: number): number[] {
  const size = chunkSize(total);
  const starts: number[] = [];
  for (let from = 0; from < total; from += size) starts.push(from);
  return starts;
}

/** The first item index of the job that runs item `index`. */
export function chunkStartOf(index: number, total: number): number {
  const size = chunkSize(total);
  return index - (index % size);
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

  /**
   * Adds a task's jobs. Idempotent: job ids are deterministic, so adding them again (a retried submission, or a
   * worker finishing an enqueue intent) adds none twice while they are in the queue; a job added again after it
   * completed finds its items ended and does nothing.
   */
  async enqueue(checkId: string, project: string, total: number, pool: string): Promise<number> {
    const size = chunkSize(total);
    const jobs = chunkStarts(total).map((from) => ({
      name: 'check',
      data: { check_id: checkId, project, from, to: Math.min(total, from + size) - 1 },
      opts: { jobId: jobId(checkId, from) },
    }));
    await this.queue(pool).addBulk(jobs);
    return jobs.length;
  }

  /**
   * Of the jobs starting at `starts`, those that can still run (waiting, active, delayed, prioritized). A job that
   * completed, failed for good or is gone from Redis will not.
   */
  async liveJobs(checkId: string, starts: number[], pool: string): Promise<Set<number>> {
    const queue = this.queue(pool);
    const states = await Promise.all(starts.map((from) => queue.getJobState(jobId(checkId, from))));
    return new Set(starts.filter((_, i) => !['completed', 'failed', 'unknown'].includes(states[i]!)));
  }

  /** Removes a task's waiting jobs (best effort: active ones finish and find their items canceled). */
  async removeWaiting(checkId: string, total: number, pool: string): Promise<void> {
    const queue = this.queue(pool);
    await Promise.all(chunkStarts(total).map((from) => queue.remove(jobId(checkId, from)).catch(() => 0)));
  }

  async close(): Promise<void> {
    await Promise.all([...this.queues.values()].map((q) => q.close()));
  }
}
