// Owns: finishing submissions that died between storing a task and adding its jobs (the API killed mid-submit), so
// every stored task runs. Must not: decide anything about items; adding a task's jobs again is idempotent.

import type { Logger } from '@conncheck/core';
import type { TaskQueue, TaskStore } from '@conncheck/store';
import { Periodic } from './periodic.js';

export interface EnqueueRecoveryOptions {
  store: TaskStore;
  queue: TaskQueue;
  logger: Logger;
  /** How often a worker looks for intents left behind. Every worker does: the work is idempotent. @defaultValue 2000 */
  intervalMs?: number;
  /** An intent younger than this belongs to a submission still under way. @defaultValue 2000 */
  graceMs?: number;
}

export class EnqueueRecovery {
  private readonly periodic: Periodic;
  private readonly graceMs: number;

  constructor(private readonly options: EnqueueRecoveryOptions) {
    this.graceMs = options.graceMs ?? 2000;
    this.periodic = new Periodic('enqueue recovery', options.intervalMs ?? 2000, () => this.recoverOnce(), options.logger);
  }

  start(): void {
    this.periodic.start();
  }

  /** Adds the jobs of every task whose enqueue intent is older than the grace period. Returns how many tasks. */
  async recoverOnce(now: number = Date.now()): Promise<number> {
    const { store, queue, logger } = this.options;
    const tasks = await store.staleEnqueueIntents(now - this.graceMs, 200);
    for (const task of tasks) {
      await queue.enqueue(task.checkId, task.project, task.runs);
      await store.clearEnqueueIntent(task.checkId);
      logger.warn({ check_id: task.checkId, pools: task.runs.map(([pool]) => pool) }, 'added the jobs of a task whose submission did not finish');
    }
    return tasks.length;
  }

  close(): Promise<void> {
    return this.periodic.close();
  }
}
