// Owns: reading tasks — task views, events, a project's list, the maintenance loops' queries — apart from the writes.
// Must not: change a task (it only prunes index entries of tasks that are gone); task-store.ts writes.

import {
  type CheckItem,
  type ItemSpec,
  type SecretBox,
  type Task,
  type TaskHeader,
  type TaskList,
  type TaskStatus,
  CHECK_ID_PATTERN,
  TASK_STATUSES,
  checkIdTime,
} from '@conncheck/core';
import { type ItemState, type TaskHash, itemView, runsOf, taskHeaderView, taskView } from './item-state.js';
import { StoreKeys } from './keys.js';
import type { RedisClient } from './redis.js';
import { type StoreCommands, defineScripts } from './scripts.js';
import { TaskEvents } from './task-events.js';
import { type JobSlot, type PoolRuns, jobLayout } from './task-queue.js';

export interface TaskStoreOptions {
  redis: RedisClient;
  /** @defaultValue cc */
  prefix?: string;
  /** Seconds a task is kept after it ends. @defaultValue 604800 */
  retentionSeconds?: number;
  secretBox: SecretBox;
}

/** One entry of a task's event stream, as live views send it. */
export type TaskEventEntry = { id: string; type: 'item'; item: CheckItem } | { id: string; type: 'end' };

export interface ListOptions {
  status?: TaskStatus;
  limit: number;
  cursor?: string;
}

export class CursorError extends Error {}

/** A task as the maintenance loops see it. */
export interface TaskInfo {
  checkId: string;
  project: string;
  total: number;
  /** Its items by pool: with `total`, its jobs (jobLayout). */
  runs: PoolRuns;
  status: TaskStatus;
  createdAt: number;
  /** The saved connection it checks, if any. */
  connection?: string;
}

const TASK_FIELDS = ['project', 'type', 'status', 'message', 'created_at', 'finished_at', 'total', 'succeeded', 'failed', 'canceled', 'running', 'pools'];
const checkIdRe = new RegExp(CHECK_ID_PATTERN);

/** An index entry without its task is pruned only past this age: a new task's project side is written before it. */
const STALE_AFTER_MS = 10 * 60_000;

/** The reads of TaskStore (which extends this with the writes): one connection, one key scheme, one secret box. */
export class TaskGetters {
  readonly keys: StoreKeys;
  readonly retentionSeconds: number;
  protected readonly redis: RedisClient & StoreCommands;
  protected readonly box: SecretBox;
  protected readonly events: TaskEvents;

  constructor(options: TaskStoreOptions) {
    this.keys = new StoreKeys(options.prefix ?? 'cc');
    this.retentionSeconds = options.retentionSeconds ?? 7 * 24 * 3600;
    this.redis = defineScripts(options.redis);
    this.box = options.secretBox;
    this.events = new TaskEvents(options.redis, this.keys);
  }

  /** The Redis connection the store was given (for siblings on the same data, e.g. the WorkerRegistry). */
  get connection(): RedisClient {
    return this.redis;
  }

  /** The key the store seals secrets with (for siblings that seal their own, e.g. saved connections). */
  get secretBox(): SecretBox {
    return this.box;
  }

  /** Closes the store's own connections (the end-of-task subscription); the caller's connection stays open. */
  async close(): Promise<void> {
    await this.events.close();
  }

  static isCheckId(value: string): boolean {
    return checkIdRe.test(value);
  }

  /** The jobs of a task that hold one of these items. */
  static jobsOf(indexes: number[], runs: PoolRuns): JobSlot[] {
    return jobLayout(runs).filter(({ from, to }) => indexes.some((index) => index >= from && index <= to));
  }

  async ping(): Promise<void> {
    await this.redis.ping();
  }

  /** Items of a project not yet terminal (the backlog the submission limit is measured against). */
  async unfinishedItems(project: string): Promise<number> {
    return Number((await this.redis.hget(this.keys.unfinished(project), 'total')) ?? 0);
  }

  /**
   * The task, or undefined when it does not exist in this project (or has expired). With `items: false` only the
   * header and summary are read (`check_items` is empty): cheap for watching a large task's progress.
   */
  async getTask(checkId: string, project: string, options: { items?: boolean } = {}): Promise<Task | undefined> {
    if (!TaskGetters.isCheckId(checkId)) return undefined;
    const k = this.keys.task(checkId);
    if (options.items === false) {
      const hash = (await this.redis.hgetall(k.task)) as TaskHash;
      return hash.project === project ? { ...taskHeaderView(checkId, hash), check_items: [] } : undefined;
    }
    const [[, hash], [, specs], [, states]] = (await this.redis.multi().hgetall(k.task).hgetall(k.specs).hgetall(k.items).exec()) as [
      [null, TaskHash],
      [null, Record<string, string>],
      [null, Record<string, string>],
    ];
    if (!hash || hash.project !== project) return undefined;
    return taskView(checkId, hash, specs, states);
  }

  /**
   * The task once it has ended, or as it is after `waitMs`: lets a client wait for the result in one request
   * instead of polling.
   */
  async getTaskWhenEnded(checkId: string, project: string, waitMs: number, options: { items?: boolean } = {}): Promise<Task | undefined> {
    if (waitMs > 0) {
      const k = this.keys.task(checkId).task;
      const [owner, finished] = TaskGetters.isCheckId(checkId) ? await this.redis.hmget(k, 'project', 'finished_at') : [null, null];
      if (owner !== project) return undefined;
      if (finished === null) {
        await this.events.waitForEnd(checkId, waitMs, async () => (await this.redis.hget(k, 'finished_at')) !== null);
      }
    }
    return this.getTask(checkId, project, options);
  }

  /**
   * The task's events after `afterId` (a stream id; '0' = from the start), at most `count`: an item ended (with the
   * item as the task view shows it now) or the task ended. Empty when there is nothing new.
   */
  async eventsAfter(checkId: string, afterId: string, count = 500): Promise<TaskEventEntry[]> {
    const k = this.keys.task(checkId);
    const entries = await this.redis.xrange(k.events, afterId === '0' ? '-' : `(${afterId}`, '+', 'COUNT', count);
    const indexes = entries.map(([, fields]) => fieldOf(fields, 'index')).filter((i): i is string => i !== undefined);
    const [[, specs], [, states]] =
      indexes.length === 0
        ? [
            [null, []],
            [null, []],
          ]
        : ((await this.redis
            .multi()
            .hmget(k.specs, ...indexes)
            .hmget(k.items, ...indexes)
            .exec()) as [[null, (string | null)[]], [null, (string | null)[]]]);
    const events: TaskEventEntry[] = [];
    let at = 0;
    for (const [id, fields] of entries) {
      if (fieldOf(fields, 'type') === 'end') {
        events.push({ id, type: 'end' });
        continue;
      }
      const spec = specs[at];
      const state = states[at];
      at++;
      if (spec && state) events.push({ id, type: 'item', item: itemView(JSON.parse(spec) as ItemSpec, JSON.parse(state) as ItemState) });
    }
    return events;
  }

  /** Resolves when the task's stream has an entry after `afterId`, at once if it has one already, or after `timeoutMs`. */
  waitForEvent(checkId: string, afterId: string, timeoutMs: number): Promise<void> {
    const stream = this.keys.task(checkId).events;
    return this.events.waitForEvent(
      stream,
      timeoutMs,
      async () => (await this.redis.xrange(stream, afterId === '0' ? '-' : `(${afterId}`, '+', 'COUNT', 1)).length > 0,
    );
  }

  /**
   * Newest first. The cursor is opaque to clients: base64url of the last check id of the previous page. Without a
   * status filter the page is merged from the five status indexes, read in one transaction so that a task moving
   * between them is seen exactly once.
   */
  async listTasks(project: string, options: ListOptions): Promise<TaskList> {
    let after = '+';
    if (options.cursor !== undefined) {
      const id = Buffer.from(options.cursor, 'base64url').toString('utf8');
      if (!TaskGetters.isCheckId(id)) throw new CursorError('cursor is not one this API returned');
      after = `(${id}`;
    }
    const indexes = (options.status ? [options.status] : TASK_STATUSES).map((status) => this.keys.projectIndex(project, status));
    const checks: TaskHeader[] = [];
    let exhausted = false;
    while (checks.length < options.limit && !exhausted) {
      const want = options.limit - checks.length;
      const tx = this.redis.multi();
      for (const index of indexes) tx.zrevrangebylex(index, after, '-', 'LIMIT', 0, want);
      const found = ((await tx.exec()) ?? []).flatMap(([, ids], i) => (ids as string[]).map((id) => ({ id, index: indexes[i]! })));
      found.sort((a, b) => (a.id < b.id ? 1 : a.id > b.id ? -1 : 0));
      const page = found.slice(0, want);
      if (found.length < want) exhausted = true;
      if (page.length === 0) break;
      after = `(${page[page.length - 1]!.id}`;
      // Each task is in a slot of its own (on a cluster, on any shard): one read each, sent together.
      const rows = await Promise.all(page.map(({ id }) => this.redis.hmget(this.keys.task(id).task, ...TASK_FIELDS)));
      const stale = this.redis.multi();
      let staleCount = 0;
      const young = Date.now() - STALE_AFTER_MS;
      page.forEach(({ id, index }, i) => {
        const values = rows[i];
        if (!values || values[0] === null) {
          // Expired since its entry was last pruned — or, if it is new, still being stored (its project's side is
          // written first): left alone.
          if ((checkIdTime(id) ?? 0) < young) {
            stale.zrem(index, id);
            staleCount++;
          }
          return;
        }
        const hash: TaskHash = {};
        TASK_FIELDS.forEach((f, j) => {
          const v = values[j];
          if (v !== null && v !== undefined) hash[f] = v;
        });
        checks.push(taskHeaderView(id, hash));
      });
      if (staleCount > 0) await stale.exec();
      else stale.discard();
    }
    const last = checks[checks.length - 1];
    return {
      checks,
      next_cursor: checks.length === options.limit && !exhausted && last ? Buffer.from(last.check_id).toString('base64url') : null,
    };
  }

  /** Task size, pools and status, for a worker, the reaper or a replayed submission; undefined when gone. */
  async taskInfo(checkId: string): Promise<TaskInfo | undefined> {
    const [project, total, pools, status, createdAt, connection] = await this.redis.hmget(
      this.keys.task(checkId).task,
      'project',
      'total',
      'pools',
      'status',
      'created_at',
      'connection',
    );
    if (!project) return undefined;
    return {
      checkId,
      project,
      total: Number(total),
      runs: runsOf(pools, total),
      status: status as TaskStatus,
      createdAt: Number(createdAt),
      ...(connection ? { connection } : {}),
    };
  }

  /** Indexes of a task's items that have not ended. */
  async unfinishedIndexes(checkId: string): Promise<number[]> {
    const states = await this.redis.hgetall(this.keys.task(checkId).items);
    return Object.entries(states)
      .filter(([, raw]) => {
        const status = (JSON.parse(raw) as ItemState).status;
        return status === 'pending' || status === 'running';
      })
      .map(([index]) => Number(index))
      .sort((a, b) => a - b);
  }

  /**
   * A page of the open tasks (oldest first) after `cursor` (a check id, '' = from the start), and the cursor to go
   * on from ('' = the walk is complete). The set holds only tasks that have not ended: they leave it when they end.
   */
  async openTasksPage(cursor: string, limit: number): Promise<{ tasks: (TaskInfo & { enqueuePending: boolean })[]; next: string }> {
    const key = this.keys.openTasks();
    let ids: string[];
    if (cursor === '') {
      ids = await this.redis.zrange(key, '0', String(limit - 1));
    } else {
      const score = await this.redis.zscore(key, cursor);
      // Open tasks are scored by creation time and their ids sort by it too: go on after the cursor's place.
      const from = score === null ? Number.NEGATIVE_INFINITY : Number(score);
      ids = (await this.redis.zrangebyscore(key, String(from), '+inf', 'LIMIT', 0, limit + 1)).filter((id) => id > cursor).slice(0, limit);
    }
    if (ids.length === 0) return { tasks: [], next: '' };
    // Intents first: a task without one was stored before this read (a submission clears its intent only after), so
    // a task then missing is gone; one with an intent may still be being stored.
    const intents = await this.redis.zmscore(this.keys.enqueueIntents(), ...ids);
    const infos = await Promise.all(ids.map((id) => this.taskInfo(id)));
    // A task that is gone (expired under a Redis eviction policy, or lost) cannot end any more: it leaves the set.
    const gone = ids.filter((_, i) => infos[i] === undefined && intents[i] === null);
    if (gone.length > 0) await this.redis.zrem(key, ...gone);
    const tasks = infos.flatMap((t, i) => (t ? [{ ...t, enqueuePending: intents[i] !== null }] : []));
    return { tasks, next: ids.length < limit ? '' : ids[ids.length - 1]! };
  }

  /** Ended tasks whose callback_url is due to be called, oldest first. */
  async dueCallbacks(limit: number): Promise<string[]> {
    return this.redis.zrange(this.keys.callbacksDue(), '0', String(limit - 1));
  }

  /** What a webhook delivery sends: the task's header, its project and callback_url; undefined when the task is gone. */
  async callbackOf(checkId: string): Promise<{ project: string; url: string; allowLoopback: boolean; task: TaskHeader } | undefined> {
    const hash = (await this.redis.hgetall(this.keys.task(checkId).task)) as TaskHash;
    if (!hash.project || !hash.callback) return undefined;
    const { callback: _callback, ...task } = taskHeaderView(checkId, hash);
    return { project: hash.project, url: hash.callback, allowLoopback: hash.callback_loopback === '1', task };
  }

  /** The reaper's saved walk position ('' = start over), kept for a day. */
  async reaperCursor(): Promise<string> {
    return (await this.redis.get(this.keys.reaperCursor())) ?? '';
  }
}

function fieldOf(fields: string[], name: string): string | undefined {
  for (let i = 0; i < fields.length; i += 2) if (fields[i] === name) return fields[i + 1];
  return undefined;
}
