// Owns: the name of every Redis key conncheck writes (BullMQ's own keys live under `queuePrefix`).
// Must not: be bypassed — no other module builds a key by hand.

import { TASK_STATUSES, type TaskStatus } from '@conncheck/core';

export interface TaskKeys {
  task: string;
  items: string;
  specs: string;
  secrets: string;
  /** Stream of the task's events (an item ended, the task ended), for live views; also the name of the pub/sub channel that announces a new entry. */
  events: string;
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
      events: `${p}:events:${checkId}`,
    };
  }

  /** The fourteen KEYS of every task script, in the order of lua/includes/taskKeys.lua. */
  taskScriptKeys(checkId: string, project: string): string[] {
    const k = this.task(checkId);
    return [
      k.task,
      k.items,
      k.specs,
      k.secrets,
      ...TASK_STATUSES.map((status) => this.projectIndex(project, status)),
      this.unfinished(project),
      this.openTasks(),
      this.endedTimes(project),
      k.events,
      this.callbacksDue(),
    ];
  }

  /**
   * Sorted set (all scores 0, members = check ids, which sort by creation time) of a project's tasks in one status.
   * Pending and Running hold open tasks only (a task leaves them when it ends, so they need no TTL); the three final
   * ones get the retention TTL at every task end and are pruned of expired tasks through `endedTimes`.
   */
  projectIndex(project: string, status: TaskStatus): string {
    return `${this.prefix}:idx:${project}:${status}`;
  }

  /** Sorted set (score = end ms) of a project's ended tasks: which entries of the final indexes have expired. */
  endedTimes(project: string): string {
    return `${this.prefix}:ended:${project}`;
  }

  /** Items of a project not yet terminal, for the per-project backlog limit; deleted when it reaches 0. */
  unfinished(project: string): string {
    return `${this.prefix}:unfinished:${project}`;
  }

  /** A submission's Idempotency-Key (as an HMAC digest, never the key itself) → the task it created. */
  idempotency(project: string, digest: string): string {
    return `${this.prefix}:idem:${project}:${digest}`;
  }

  /** Held by the one worker that runs the reaper in a given interval. */
  reaperLock(): string {
    return `${this.prefix}:reaper-lock`;
  }

  /** Where the reaper's walk over the open tasks stopped (it goes on from there next time). */
  reaperCursor(): string {
    return `${this.prefix}:reaper-cursor`;
  }

  /** Sorted set (score = creation ms) of every task that has not ended, across projects; a task leaves it when it ends. */
  openTasks(): string {
    return `${this.prefix}:open-tasks`;
  }

  /** Sorted set (score = end ms) of ended tasks whose callback_url is to be called; a worker moves them to the webhook queue. */
  callbacksDue(): string {
    return `${this.prefix}:callbacks-due`;
  }

  /**
   * Sorted set (score = creation ms) of tasks stored whose jobs may not be in the queue yet. The submission removes
   * its entry once the jobs are added; an entry left behind (the API died in between) is finished by a worker.
   */
  enqueueIntents(): string {
    return `${this.prefix}:enqueue-intents`;
  }

  /** Hash of facts about this Redis's data set: when conncheck first wrote to it (to tell a lost task from an unknown one). */
  meta(): string {
    return `${this.prefix}:meta`;
  }

  /** Sorted set (score = last heartbeat ms) of live worker processes, members `<pool>|<worker id>`. */
  workers(): string {
    return `${this.prefix}:workers`;
  }

  /** A live worker's description (JSON), expiring unless its heartbeat renews it. */
  worker(workerId: string): string {
    return `${this.prefix}:worker:${workerId}`;
  }

  /** Sorted set (score = last use ms) of pools that workers served or tasks were sent to, for the pools view. */
  pools(): string {
    return `${this.prefix}:pools`;
  }

  /** Hash of a project's load-balancing channels on one gateway instance (pool): channel id → channel JSON. */
  channels(project: string, instance: string): string {
    return `${this.prefix}:channels:${project}:${instance}`;
  }

  /** Hash of the same channels by name → id (names are unique per instance). */
  channelNames(project: string, instance: string): string {
    return `${this.prefix}:channel-names:${project}:${instance}`;
  }

  /** The two KEYS of saveChannel and deleteChannel. */
  channelScriptKeys(project: string, instance: string): [channels: string, names: string] {
    return [this.channels(project, instance), this.channelNames(project, instance)];
  }

  /** A saved connection (hash: project, name, status, spec, sealed secrets, …). */
  connection(id: string): string {
    return `${this.prefix}:conn:${id}`;
  }

  /** A saved connection's bound pools (hash: pool → per-pool status JSON). */
  connectionQueues(id: string): string {
    return `${this.prefix}:conn-queues:${id}`;
  }

  /** Sorted set (score = creation ms) of a project's saved connections. */
  projectConnections(project: string): string {
    return `${this.prefix}:conns:${project}`;
  }

  /** Hash of a project's live saved connections by name → id (names are unique per project). */
  connectionNames(project: string): string {
    return `${this.prefix}:conn-names:${project}`;
  }

  /** The four KEYS of createConnection and deleteConnection. */
  connectionScriptKeys(id: string, project: string): [connection: string, pools: string, index: string, names: string] {
    return [this.connection(id), this.connectionQueues(id), this.projectConnections(project), this.connectionNames(project)];
  }

  /** The BullMQ job scheduler (in the pool's queue) that re-checks a saved connection from that pool. */
  connectionScheduler(id: string, pool: string): string {
    return `conn.${id}.${pool}`;
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
