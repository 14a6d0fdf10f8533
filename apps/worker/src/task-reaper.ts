// Owns: ending items whose queue job can no longer run (lost from Redis, or failed for good without its items being
// failed), so no task stays Pending or Running forever. Must not: touch an item whose job may still run.

import { type Logger, ItemErrorCode } from '@conncheck/core';
import type { TaskQueue, TaskStore, WorkerRef } from '@conncheck/store';

export interface TaskReaperOptions {
  store: TaskStore;
  queue: TaskQueue;
  ref: WorkerRef;
  logger: Logger;
  /** How often a worker tries to reap (one worker per interval does). @defaultValue 60000 */
  intervalMs?: number;
  /** Tasks younger than this are left alone: their jobs are just being enqueued. @defaultValue 60000 */
  minAgeMs?: number;
}

export class TaskReaper {
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<unknown> | undefined;
  private readonly intervalMs: number;
  private readonly minAgeMs: number;

  constructor(private readonly options: TaskReaperOptions) {
    this.intervalMs = options.intervalMs ?? 60_000;
    this.minAgeMs = options.minAgeMs ?? 60_000;
  }

  start(): void {
    this.timer = setInterval(() => {
      if (this.running) return;
      this.running = this.tick()
        .catch((err: Error) => this.options.logger.warn({ err: err.message }, 'reaper failed; will retry'))
        .finally(() => (this.running = undefined));
    }, this.intervalMs);
    this.timer.unref();
  }

  private async tick(): Promise<void> {
    if (!(await this.options.store.tryReaperLock(this.options.ref.id, Math.max(1000, this.intervalMs - 1000)))) return;
    await this.reapOnce();
  }

  /**
   * One pass over the open tasks older than minAgeMs: a task none of whose jobs can still run (all completed, failed
   * for good, or gone) has its unfinished items failed with INTERNAL_ERROR. A job runs its items before it
   * completes, so such items can only be orphans. Returns the number of items ended.
   */
  async reapOnce(now: number = Date.now()): Promise<number> {
    const { store, queue, ref, logger } = this.options;
    let ended = 0;
    for (const task of await store.openTasksOlderThan(now - this.minAgeMs, 100)) {
      if (await queue.anyJobAlive(task.checkId, task.total, task.pool)) continue;
      const orphans = await store.unfinishedIndexes(task.checkId);
      for (const index of orphans) {
        const { written } = await store.advance(
          task.checkId,
          task.project,
          ref,
          {
            index,
            claimed: { attempts: 0, started_at: now },
            outcome: {
              success: false,
              error_code: ItemErrorCode.INTERNAL_ERROR,
              error_msg: 'the queue lost the job of this item before it ran (Redis eviction or a failed job); resubmit it',
              duration_ms: 0,
              stages: [],
            },
          },
          undefined,
          now,
        );
        if (written === 1) ended++;
      }
      if (orphans.length > 0) logger.error({ check_id: task.checkId, items: orphans.length }, 'ended items whose queue job was lost');
    }
    return ended;
  }

  async close(): Promise<void> {
    clearInterval(this.timer);
    await this.running;
  }
}
