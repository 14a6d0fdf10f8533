// Owns: the name of every Redis key conncheck writes (BullMQ's own keys live under `queuePrefix`).
// Must not: be bypassed — no other module builds a key by hand.

import type { TaskStatus } from '@conncheck/core';

export interface TaskKeys {
  task: string;
  items: string;
  specs: string;
  secrets: string;
}

export class StoreKeys {
  constructor(readonly prefix: string) {}

  task(checkId: string): TaskKeys {
    const p = this.prefix;
    return {
      task: `${p}:task:${checkId}`,
      items: `${p}:items:${checkId}`,
      specs: `${p}:specs:${checkId}`,
      secrets: `${p}:secrets:${checkId}`,
    };
  }

  /** Sorted set (all scores 0, members = check ids, which sort by creation time) of a project's tasks. */
  projectIndex(project: string, status?: TaskStatus): string {
    return `${this.prefix}:idx:${project}:${status ?? 'all'}`;
  }

  /** Items of a project not yet terminal, for the per-project backlog limit. */
  unfinished(project: string): string {
    return `${this.prefix}:unfinished:${project}`;
  }

  /** Held by the one worker that runs the reaper in a given interval. */
  reaperLock(): string {
    return `${this.prefix}:reaper-lock`;
  }

  /** Sorted set (score = creation ms) of every task that may not have ended yet, across projects, for the reaper. */
  openTasks(): string {
    return `${this.prefix}:open-tasks`;
  }

  /** Pub/sub channel on which cancellations are announced to workers. */
  cancelChannel(): string {
    return `${this.prefix}:cancel`;
  }

  /** Pub/sub channel on which the end of a task (finished or canceled) is announced, for waiting clients. */
  endedChannel(): string {
    return `${this.prefix}:ended`;
  }

  /** BullMQ's key prefix: its keys become `${prefix}:bull:${queue}:…`. */
  get queuePrefix(): string {
    return `${this.prefix}:bull`;
  }

  /** One queue per worker pool (network zone). */
  queueName(pool: string): string {
    return `checks-${pool}`;
  }
}
