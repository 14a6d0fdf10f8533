// Owns: ending items whose queue job can no longer run (lost from Redis, or failed for good without its items being
// failed), so no task stays Pending or Running forever. Must not: touch an item whose job may still run.

import { type Logger, ItemErrorCode } from '@conncheck/core';
import { type TaskQueue, type WorkerRef, TaskStore } from '@conncheck/store';
import { Periodic } from './periodic.js';

export interface TaskReaperOptions {
  store: TaskStore;
  queue: TaskQueue;
  ref: WorkerRef;
  logger: Logger;
  /** How often a worker tries to reap (one worker per interval does). @defaultValue 15000 */
  intervalMs?: number;
  /** Tasks younger than this are left alone. @defaultValue 10000 */
  minAgeMs?: number;
  /** Open tasks looked at per pass; the next pass goes on where this one stopped, so every open task is seen. @defaultValue 500 */
  pageSize?: number;
  /** Called when the reaper ended a task. */
  onTaskEnded?: (checkId: string) => void;
}

export class TaskReaper {
  private readonly periodic: Periodic;
  private readonly intervalMs: number;
  private readonly minAgeMs: number;
  private readonly pageSize: number;

  constructor(private readonly options: TaskReaperOptions) {
    this.intervalMs = options.intervalMs ?? 15_000;
    this.minAgeMs = options.minAgeMs ?? 10_000;
    this.pageSize = options.pageSize ?? 500;
    this.periodic = new Periodic('reaper', this.intervalMs, () => this.tick(), options.logger);
  }

  start(): void {
    this.periodic.start();
  }

  private async tick(): Promise<void> {
    if (!(await this.options.store.tryReaperLock(this.options.ref.id, Math.max(1000, this.intervalMs - 1000)))) return;
    await this.reapOnce();
  }

  /**
   * One pass over the next page of open tasks (a walk that wraps around, so a crowd of tasks legitimately waiting
   * cannot hide an orphan behind them). An unfinished item whose job cannot run any more (completed, failed for
   * good, or gone) can only be an orphan — a job writes its items before it completes, and a stopping worker hands
   * its job back — so it fails with INTERNAL_ERROR. Returns the number of items ended.
   */
  async reapOnce(now: number = Date.now()): Promise<number> {
    const { store, queue, ref, logger } = this.options;
    const { tasks, next } = await store.openTasksPage(await store.reaperCursor(), this.pageSize);
    let ended = 0;
    for (const task of tasks) {
      // Ended, but its project's side was not brought in step (the worker that ended it died in between): do it now.
      if (task.status !== 'Pending' && task.status !== 'Running') {
        await store.settleEnded(task.checkId, now);
        logger.warn({ check_id: task.checkId, status: task.status }, "settled the project's side of a task that ended without it");
        continue;
      }
      // Too young, or its jobs may not be added yet (EnqueueRecovery adds them): not an orphan.
      if (task.createdAt > now - this.minAgeMs || task.enqueuePending) continue;
      const unfinished = await store.unfinishedIndexes(task.checkId);
      if (unfinished.length === 0) continue;
      const jobs = TaskStore.jobsOf(unfinished, task.runs);
      const live = await queue.liveJobs(task.checkId, jobs);
      const dead = jobs.filter(({ from }) => !live.has(from));
      const orphans = unfinished.filter((index) => dead.some(({ from, to }) => index >= from && index <= to));
      for (const index of orphans) {
        const { written, ended: taskEnded } = await store.advance({
          checkId: task.checkId,
          project: task.project,
          worker: ref,
          finish: {
            index,
            outcome: {
              success: false,
              error_code: ItemErrorCode.INTERNAL_ERROR,
              error_msg: 'the queue lost the job of this item before it ran (Redis eviction or a failed job); resubmit it',
              duration_ms: 0,
              stages: [],
            },
          },
          now,
        });
        if (written === 1) ended++;
        if (taskEnded) this.options.onTaskEnded?.(task.checkId);
      }
      if (orphans.length > 0) logger.error({ check_id: task.checkId, items: orphans.length }, 'ended items whose queue job was lost');
    }
    await store.setReaperCursor(next);
    return ended;
  }

  close(): Promise<void> {
    return this.periodic.close();
  }
}
