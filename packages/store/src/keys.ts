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

/**
 * Keys are grouped by Redis Cluster hash tag (the part in braces decides the slot), so that every script, MULTI and
 * multi-key command touches one slot — on a cluster one shard, and on a single Redis the same names:
 * - a task's own keys: `{<check id>}`, so tasks spread over the shards;
 * - a project's indexes, backlog and Idempotency-Keys: `{<project>}` (kept in step with its tasks by the
 *   projectTask script, apart from the task's own, see task-store.ts);
 * - everything else (workers, pools, saved connections, channels, the maintenance sets): `{ctl}`;
 * - BullMQ: one tag per queue (queuePrefix), so that each pool's queue is one slot, as BullMQ requires.
 */
export class StoreKeys {
  constructor(readonly prefix: string) {}

  task(checkId: string): TaskKeys {
    const p = this.prefix;
    return {
      task: `${p}:task:{${checkId}}`,
      items: `${p}:items:{${checkId}}`,
      specs: `${p}:specs:{${checkId}}`,
      secrets: `${p}:secrets:{${checkId}}`,
      events: `${p}:events:{${checkId}}`,
    };
  }

  /** The five KEYS of every script on one task, in the order of lua/includes/taskKeys.lua. */
  taskScriptKeys(checkId: string): string[] {
    const k = this.task(checkId);
    return [k.task, k.items, k.specs, k.secrets, k.events];
  }

  /** The KEYS of the project-side scripts (reserveTask, projectTask), in the order of lua/includes/projectKeys.lua. */
  projectScriptKeys(project: string, idempotencyKey?: string): string[] {
    const backlog = this.unfinished(project);
    return [...TASK_STATUSES.map((status) => this.projectIndex(project, status)), backlog, this.endedTimes(project), idempotencyKey ?? backlog];
  }

  /**
   * Sorted set (all scores 0, members = check ids, which sort by creation time) of a project's tasks in one status.
   * Pending and Running hold open tasks only (a task leaves them when it ends, so they need no TTL); the three final
   * ones get the retention TTL at every task end and are pruned of expired tasks through `endedTimes`.
   */
  projectIndex(project: string, status: TaskStatus): string {
    return `${this.prefix}:idx:{${project}}:${status}`;
  }

  /** Sorted set (score = end ms) of a project's ended tasks: which entries of the final indexes have expired. */
  endedTimes(project: string): string {
    return `${this.prefix}:ended:{${project}}`;
  }

  /**
   * Hash of a project's backlog: field `total` = its items not yet terminal (the submission limit is measured against
   * it), and one field per open task = that task's items not yet terminal as last reported (only ever lowered, so a
   * late or repeated report moves nothing). Deleted when the last open task leaves it.
   */
  unfinished(project: string): string {
    return `${this.prefix}:unfinished:{${project}}`;
  }

  /** A submission's Idempotency-Key (as an HMAC digest, never the key itself) → the task it created. */
  idempotency(project: string, digest: string): string {
    return `${this.prefix}:idem:{${project}}:${digest}`;
  }

  /** Held by the one worker that runs the reaper in a given interval. */
  reaperLock(): string {
    return `${this.prefix}:{ctl}:reaper-lock`;
  }

  /** Where the reaper's walk over the open tasks stopped (it goes on from there next time). */
  reaperCursor(): string {
    return `${this.prefix}:{ctl}:reaper-cursor`;
  }

  /** Sorted set (score = creation ms) of every task that has not ended, across projects; a task leaves it when it ends. */
  openTasks(): string {
    return `${this.prefix}:{ctl}:open-tasks`;
  }

  /** Sorted set (score = end ms) of ended tasks whose callback_url is to be called; a worker moves them to the webhook queue. */
  callbacksDue(): string {
    return `${this.prefix}:{ctl}:callbacks-due`;
  }

  /**
   * Sorted set (score = creation ms) of tasks stored whose jobs may not be in the queue yet. The submission removes
   * its entry once the jobs are added; an entry left behind (the API died in between) is finished by a worker.
   */
  enqueueIntents(): string {
    return `${this.prefix}:{ctl}:enqueue-intents`;
  }

  /** Hash of facts about this Redis's data set: when conncheck first wrote to it (to tell a lost task from an unknown one). */
  meta(): string {
    return `${this.prefix}:{ctl}:meta`;
  }

  /** Sorted set (score = last heartbeat ms) of live worker processes, members `<pool>|<worker id>`. */
  workers(): string {
    return `${this.prefix}:{ctl}:workers`;
  }

  /** A live worker's description (JSON), expiring unless its heartbeat renews it. */
  worker(workerId: string): string {
    return `${this.prefix}:{ctl}:worker:${workerId}`;
  }

  /** Sorted set (score = last use ms) of pools that workers served or tasks were sent to, for the pools view. */
  pools(): string {
    return `${this.prefix}:{ctl}:pools`;
  }

  /** Hash of a project's load-balancing channels on one gateway instance (pool): channel id → channel JSON. */
  channels(project: string, instance: string): string {
    return `${this.prefix}:{ctl}:channels:${project}:${instance}`;
  }

  /** Hash of the same channels by name → id (names are unique per instance). */
  channelNames(project: string, instance: string): string {
    return `${this.prefix}:{ctl}:channel-names:${project}:${instance}`;
  }

  /** The two KEYS of saveChannel and deleteChannel. */
  channelScriptKeys(project: string, instance: string): [channels: string, names: string] {
    return [this.channels(project, instance), this.channelNames(project, instance)];
  }

  /** A saved connection (hash: project, name, status, spec, sealed secrets, …). */
  connection(id: string): string {
    return `${this.prefix}:{ctl}:conn:${id}`;
  }

  /** A saved connection's bound pools (hash: pool → per-pool status JSON). */
  connectionQueues(id: string): string {
    return `${this.prefix}:{ctl}:conn-queues:${id}`;
  }

  /** Sorted set (score = creation ms) of a project's saved connections. */
  projectConnections(project: string): string {
    return `${this.prefix}:{ctl}:conns:${project}`;
  }

  /** Hash of a project's live saved connections by name → id (names are unique per project). */
  connectionNames(project: string): string {
    return `${this.prefix}:{ctl}:conn-names:${project}`;
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
    return `${this.prefix}:{ctl}:cancel`;
  }

  /** Pub/sub channel on which the end of a task (finished or canceled) is announced, for waiting clients. */
  endedChannel(): string {
    return `${this.prefix}:{ctl}:ended`;
  }

  /**
   * BullMQ's key prefix for one queue: its keys become `${prefix}:bull:{${queue}}:${queue}:…`. The braces are the
   * queue's hash tag (BullMQ's scripts touch several keys of a queue at once, so on a cluster a queue lives in one slot).
   */
  queuePrefix(queueName: string): string {
    return `${this.prefix}:bull:{${queueName}}`;
  }

  /**
   * Hash of the enqueue intents' details: check id → JSON {project, idem} (what is needed to undo the project's
   * side of a submission that died before storing its task). Written and cleared with enqueueIntents.
   */
  intentDetails(): string {
    return `${this.prefix}:{ctl}:intent-details`;
  }

  /** One queue per worker pool (network zone). */
  queueName(pool: string): string {
    return `checks-${pool}`;
  }
}
