// Owns: every state transition of tasks and items in Redis (create, claim, finish, cancel, read, list, expire).
// Must not: run probes or know HTTP; multi-key changes go through MULTI or a Lua script, never several round trips.

import {
  type ItemSecrets,
  type ItemSpec,
  type SecretBox,
  type Task,
  type TaskHeader,
  type TaskList,
  type TaskStatus,
  CHECK_ID_PATTERN,
  SecretBoxError,
  TASK_TYPE,
  checkIdFloor,
  newCheckId,
} from '@conncheck/core';
import type { Redis } from 'ioredis';
import {
  type ItemOutcome,
  type ItemState,
  type TaskHash,
  type WorkerRef,
  INITIAL_ITEM_STATE,
  taskHeaderView,
  taskView,
  terminalState,
} from './item-state.js';
import { StoreKeys } from './keys.js';
import { type ClaimReply, type StoreCommands, defineScripts } from './scripts.js';
import { TaskEvents } from './task-events.js';
import type { TaskQueue } from './task-queue.js';

export interface TaskStoreOptions {
  redis: Redis;
  /** @defaultValue cc */
  prefix?: string;
  /** Seconds a task is kept after it ends. @defaultValue 604800 */
  retentionSeconds?: number;
  secretBox: SecretBox;
}

/** A claimed item, ready to probe. `secrets` is undefined when the item had none. */
export type Claim =
  | { kind: 'run'; index: number; attempts: number; startedAt: number; spec: ItemSpec; secrets: ItemSecrets | undefined; secretError?: string }
  | { kind: 'skip'; index: number; reason: string }
  | { kind: 'gone'; index: number };

export interface ListOptions {
  status?: TaskStatus;
  limit: number;
  cursor?: string;
}

export class CursorError extends Error {}

/** The project already has too many unfinished items; nothing was stored. */
export class BacklogFullError extends Error {
  constructor(
    readonly backlog: number,
    readonly limit: number,
  ) {
    super(`backlog ${backlog} over limit ${limit}`);
    this.name = 'BacklogFullError';
  }
}

const TASK_FIELDS = ['project', 'type', 'status', 'message', 'created_at', 'finished_at', 'total', 'succeeded', 'failed', 'canceled', 'running'];
const checkIdRe = new RegExp(CHECK_ID_PATTERN);

export class TaskStore {
  readonly keys: StoreKeys;
  readonly retentionSeconds: number;
  private readonly redis: Redis & StoreCommands;
  private readonly box: SecretBox;
  private readonly events: TaskEvents;
  private readonly advanceKeyCache = new Map<string, string[]>();
  private readonly workerJsonCache = new WeakMap<WorkerRef, string>();

  constructor(options: TaskStoreOptions) {
    this.keys = new StoreKeys(options.prefix ?? 'cc');
    this.retentionSeconds = options.retentionSeconds ?? 7 * 24 * 3600;
    this.redis = defineScripts(options.redis);
    this.box = options.secretBox;
    this.events = new TaskEvents(options.redis, this.keys);
  }

  /** Closes the store's own connections (the end-of-task subscription); the caller's connection stays open. */
  async close(): Promise<void> {
    await this.events.close();
  }

  static isCheckId(value: string): boolean {
    return checkIdRe.test(value);
  }

  async ping(): Promise<void> {
    await this.redis.ping();
  }

  /** Items of a project not yet terminal (the backlog the submission limit is measured against). */
  async unfinishedItems(project: string): Promise<number> {
    return Number((await this.redis.get(this.keys.unfinished(project))) ?? 0);
  }

  /**
   * Stores a new task with all its items pending, secrets sealed, then enqueues its jobs. If enqueueing fails the
   * task is deleted again, so a client never holds a check_id that no worker will ever run. With `maxUnfinished`,
   * a task that would take the project's unfinished items past it is rolled back too (BacklogFullError): the count
   * comes from the same transaction, so concurrent submissions cannot both slip under the limit.
   */
  async submit(
    project: string,
    items: { spec: ItemSpec; secrets: ItemSecrets }[],
    queue: TaskQueue,
    pool: string,
    options: { maxUnfinished?: number; now?: number } = {},
  ): Promise<{ check_id: string; created_at: string }> {
    const now = options.now ?? Date.now();
    const checkId = newCheckId(now);
    const k = this.keys.task(checkId);
    const ttl = this.retentionSeconds;
    const specs: string[] = [];
    const states: string[] = [];
    const secrets: string[] = [];
    const initial = JSON.stringify(INITIAL_ITEM_STATE);
    for (const { spec, secrets: s } of items) {
      specs.push(String(spec.index), JSON.stringify(spec));
      states.push(String(spec.index), initial);
      if (Object.keys(s).length > 0) secrets.push(String(spec.index), this.box.seal(s, aad(checkId, spec.index)));
    }
    const floor = `(${checkIdFloor(now - 2 * ttl * 1000)}`;
    const tx = this.redis.multi();
    tx.hset(k.task, {
      project,
      type: TASK_TYPE,
      status: 'Pending',
      message: 'waiting for a worker',
      created_at: now,
      total: items.length,
      succeeded: 0,
      failed: 0,
      canceled: 0,
      running: 0,
      pool,
    });
    tx.hset(k.specs, ...specs);
    tx.hset(k.items, ...states);
    if (secrets.length > 0) tx.hset(k.secrets, ...secrets);
    for (const key of Object.values(k)) tx.expire(key, ttl);
    for (const status of [undefined, 'Pending'] as const) tx.zadd(this.keys.projectIndex(project, status), 0, checkId);
    tx.zadd(this.keys.openTasks(), now, checkId);
    // Bound index growth: entries far older than the retention can only point at expired tasks.
    for (const status of [undefined, 'Pending', 'Running', 'Succeeded', 'Failed', 'Canceled'] as const) {
      tx.zremrangebylex(this.keys.projectIndex(project, status), '-', floor);
    }
    tx.incrby(this.keys.unfinished(project), items.length);
    tx.expire(this.keys.unfinished(project), ttl);
    const replies = (await tx.exec()) ?? [];
    const unfinished = Number(replies[replies.length - 2]?.[1] ?? 0);
    if (options.maxUnfinished !== undefined && unfinished > options.maxUnfinished) {
      await this.deleteTask(checkId, project, items.length);
      throw new BacklogFullError(unfinished - items.length, options.maxUnfinished);
    }
    try {
      await queue.enqueue(checkId, project, items.length, pool);
    } catch (err) {
      await this.deleteTask(checkId, project, items.length).catch(() => undefined);
      throw err;
    }
    return { check_id: checkId, created_at: new Date(now).toISOString() };
  }

  private async deleteTask(checkId: string, project: string, total: number): Promise<void> {
    const k = this.keys.task(checkId);
    const tx = this.redis.multi();
    tx.del(k.task, k.items, k.specs, k.secrets);
    tx.zrem(this.keys.openTasks(), checkId);
    for (const status of [undefined, 'Pending'] as const) tx.zrem(this.keys.projectIndex(project, status), checkId);
    tx.decrby(this.keys.unfinished(project), total);
    await tx.exec();
  }

  /**
   * Finishes `finish` (if given) and claims `claimIndex` (if given) in one round trip. Returns the claim, with the
   * item's spec and its secrets opened.
   */
  async advance(
    checkId: string,
    project: string,
    worker: WorkerRef,
    finish: { index: number; claimed: { attempts: number; started_at: number }; outcome: ItemOutcome } | undefined,
    claimIndex: number | undefined,
    now: number = Date.now(),
  ): Promise<{ written: number | null; taskStatus: string | null; claim: Claim | undefined }> {
    const state: ItemState | undefined = finish && terminalState({ ...finish.claimed, worker }, finish.outcome, now);
    const [written, taskStatus, claim] = await this.redis.advanceItem(
      ...this.advanceKeys(checkId, project),
      checkId,
      now,
      this.retentionSeconds,
      finish ? finish.index : '',
      state ? JSON.stringify(state) : '',
      claimIndex ?? '',
      this.workerJson(worker),
      this.keys.endedChannel(),
    );
    return {
      written,
      taskStatus,
      claim: claimIndex === undefined || !claim ? undefined : this.openClaim(checkId, claimIndex, claim, now),
    };
  }

  /**
   * The KEYS of advanceItem for a task. A worker calls it once per item, for the same few tasks at a time, so the
   * key lists are kept (bounded) rather than rebuilt from eight template strings each time.
   */
  private advanceKeys(checkId: string, project: string): string[] {
    const cacheKey = `${project}\u0000${checkId}`;
    let keys = this.advanceKeyCache.get(cacheKey);
    if (!keys) {
      if (this.advanceKeyCache.size >= 1024) this.advanceKeyCache.clear();
      keys = [
        ...this.scriptKeys(checkId, project),
        this.keys.projectIndex(project, 'Succeeded'),
        this.keys.projectIndex(project, 'Failed'),
        this.keys.unfinished(project),
      ];
      this.advanceKeyCache.set(cacheKey, keys);
    }
    return keys;
  }

  private workerJson(worker: WorkerRef): string {
    let json = this.workerJsonCache.get(worker);
    if (json === undefined) {
      json = JSON.stringify(worker);
      this.workerJsonCache.set(worker, json);
    }
    return json;
  }

  /** The first six KEYS of every task script: the task's four keys, then the project's Pending and Running indexes. */
  private scriptKeys(checkId: string, project: string): string[] {
    const k = this.keys.task(checkId);
    return [k.task, k.items, k.specs, k.secrets, this.keys.projectIndex(project, 'Pending'), this.keys.projectIndex(project, 'Running')];
  }

  private openClaim(checkId: string, index: number, reply: ClaimReply, now: number): Claim {
    if (reply[0] === 'gone') return { kind: 'gone', index };
    if (reply[0] === 'skip') return { kind: 'skip', index, reason: reply[1] };
    const [, attempts, rawSpec, sealed] = reply;
    if (!rawSpec) return { kind: 'gone', index };
    const spec = JSON.parse(rawSpec) as ItemSpec;
    if (!sealed) return { kind: 'run', index, attempts, startedAt: now, spec, secrets: undefined };
    try {
      return { kind: 'run', index, attempts, startedAt: now, spec, secrets: this.box.open<ItemSecrets>(sealed, aad(checkId, index)) };
    } catch (err) {
      const secretError = err instanceof SecretBoxError ? err.message : 'could not open';
      return { kind: 'run', index, attempts, startedAt: now, spec, secrets: undefined, secretError };
    }
  }

  /** Cancels a task. `undefined` = no such task in this project; `{ended}` = it had already ended. */
  async cancel(checkId: string, project: string, now: number = Date.now()): Promise<{ canceled: number } | { ended: TaskStatus } | undefined> {
    if (!(await this.belongsTo(checkId, project))) return undefined;
    const reply = await this.redis.cancelTask(
      ...this.scriptKeys(checkId, project),
      this.keys.projectIndex(project, 'Canceled'),
      this.keys.unfinished(project),
      checkId,
      now,
      this.retentionSeconds,
      'canceled before it finished',
      this.keys.cancelChannel(),
      this.keys.endedChannel(),
    );
    if (reply === -1) return undefined;
    if (Array.isArray(reply)) return { ended: reply[1] as TaskStatus };
    return { canceled: reply };
  }

  private async belongsTo(checkId: string, project: string): Promise<boolean> {
    if (!TaskStore.isCheckId(checkId)) return false;
    return (await this.redis.hget(this.keys.task(checkId).task, 'project')) === project;
  }

  /**
   * The task, or undefined when it does not exist in this project (or has expired). With `items: false` only the
   * header and summary are read (`check_items` is empty): cheap for watching a large task's progress.
   */
  async getTask(checkId: string, project: string, options: { items?: boolean } = {}): Promise<Task | undefined> {
    if (!TaskStore.isCheckId(checkId)) return undefined;
    const k = this.keys.task(checkId);
    if (options.items === false) {
      const hash = (await this.redis.hgetall(k.task)) as TaskHash;
      return hash.project === project ? { ...taskHeaderView(checkId, hash), check_items: [] } : undefined;
    }
    const [[, hash], [, specs], [, states]] = (await this.redis
      .multi()
      .hgetall(k.task)
      .hgetall(k.specs)
      .hgetall(k.items)
      .exec()) as [[null, TaskHash], [null, Record<string, string>], [null, Record<string, string>]];
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
      const [owner, finished] = TaskStore.isCheckId(checkId) ? await this.redis.hmget(k, 'project', 'finished_at') : [null, null];
      if (owner !== project) return undefined;
      if (finished === null) {
        await this.events.waitForEnd(checkId, waitMs, async () => (await this.redis.hget(k, 'finished_at')) !== null);
      }
    }
    return this.getTask(checkId, project, options);
  }

  /**
   * Tasks created before `before` (ms) that were open when last looked at, oldest first. Entries of tasks that have
   * ended or expired are dropped on the way, so the set holds only what may still need a worker.
   */
  async openTasksOlderThan(before: number, limit: number): Promise<{ checkId: string; project: string; total: number; pool: string }[]> {
    const ids = await this.redis.zrangebyscore(this.keys.openTasks(), '-inf', `(${before}`, 'LIMIT', 0, limit);
    const open: { checkId: string; project: string; total: number; pool: string }[] = [];
    const ended: string[] = [];
    for (const checkId of ids) {
      const info = await this.taskInfo(checkId);
      if (!info || (info.status !== 'Pending' && info.status !== 'Running')) ended.push(checkId);
      else open.push({ checkId, project: info.project, total: info.total, pool: info.pool });
    }
    if (ended.length > 0) await this.redis.zrem(this.keys.openTasks(), ...ended);
    return open;
  }

  /** Takes the reaper's lock for `ttlMs` if no one holds it: several workers, one reaper per interval. */
  async tryReaperLock(owner: string, ttlMs: number): Promise<boolean> {
    return (await this.redis.set(this.keys.reaperLock(), owner, 'PX', ttlMs, 'NX')) === 'OK';
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

  /** Task size and pool, for a worker or for cancellation; undefined when gone. */
  async taskInfo(checkId: string): Promise<{ project: string; total: number; pool: string; status: TaskStatus } | undefined> {
    const [project, total, pool, status] = await this.redis.hmget(this.keys.task(checkId).task, 'project', 'total', 'pool', 'status');
    if (!project) return undefined;
    return { project, total: Number(total), pool: pool ?? 'default', status: status as TaskStatus };
  }

  /** Newest first. The cursor is opaque to clients: base64url of the last check id of the previous page. */
  async listTasks(project: string, options: ListOptions): Promise<TaskList> {
    let after = '+';
    if (options.cursor !== undefined) {
      const id = Buffer.from(options.cursor, 'base64url').toString('utf8');
      if (!TaskStore.isCheckId(id)) throw new CursorError('cursor is not one this API returned');
      after = `(${id}`;
    }
    const index = this.keys.projectIndex(project, options.status);
    const checks: TaskHeader[] = [];
    let exhausted = false;
    while (checks.length < options.limit && !exhausted) {
      const want = options.limit - checks.length;
      const ids = await this.redis.zrevrangebylex(index, after, '-', 'LIMIT', 0, want);
      if (ids.length < want) exhausted = true;
      if (ids.length === 0) break;
      after = `(${ids[ids.length - 1]}`;
      const pipeline = this.redis.pipeline();
      for (const id of ids) pipeline.hmget(this.keys.task(id).task, ...TASK_FIELDS);
      const rows = (await pipeline.exec()) ?? [];
      const stale: string[] = [];
      ids.forEach((id, i) => {
        const values = rows[i]?.[1] as (string | null)[] | undefined;
        if (!values || values[0] === null) {
          stale.push(id);
          return;
        }
        const hash: TaskHash = {};
        TASK_FIELDS.forEach((f, j) => {
          const v = values[j];
          if (v !== null && v !== undefined) hash[f] = v;
        });
        // A status index can lag the hash by nothing (same script), but the "all" index is filtered here too.
        if (options.status && hash.status !== options.status) return;
        checks.push(taskHeaderView(id, hash));
      });
      if (stale.length > 0) await this.redis.zrem(index, ...stale);
    }
    const last = checks[checks.length - 1];
    return {
      checks,
      next_cursor: checks.length === options.limit && !exhausted && last ? Buffer.from(last.check_id).toString('base64url') : null,
    };
  }
}

function aad(checkId: string, index: number): string {
  return `${checkId}#${index}`;
}
