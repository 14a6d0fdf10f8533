// Owns: every state transition of tasks and items in Redis (create, claim, finish, cancel, read, list, expire).
// Must not: run probes or know HTTP; multi-key changes go through MULTI or a Lua script, never several round trips.

import {
  type CheckItem,
  type ItemSecrets,
  type ItemSpec,
  type SecretBox,
  type Task,
  type TaskHeader,
  type TaskList,
  type TaskStatus,
  CHECK_ID_PATTERN,
  SecretBoxError,
  TASK_STATUSES,
  TASK_TYPE,
  newCheckId,
} from '@conncheck/core';
import type { Redis } from 'ioredis';
import {
  type ItemOutcome,
  type ItemState,
  type TaskHash,
  type WorkerRef,
  INITIAL_ITEM_STATE,
  itemView,
  taskHeaderView,
  taskView,
  terminalState,
} from './item-state.js';
import { StoreKeys } from './keys.js';
import { type ClaimReply, type StoreCommands, defineScripts } from './scripts.js';
import { TaskEvents } from './task-events.js';
import { type JobSlot, type PoolRuns, type TaskQueue, jobLayout, poolRuns } from './task-queue.js';

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

/** One attempt to deliver a task's callback. */
export interface CallbackAttempt {
  attempt: number;
  at: string;
  /** The receiver's HTTP status, when it answered. */
  status_code?: number;
  /** Why the attempt failed, when it did. */
  error?: string;
  duration_ms: number;
}

/** One entry of a task's event stream, as live views send it. */
export type TaskEventEntry = { id: string; type: 'item'; item: CheckItem } | { id: string; type: 'end' };

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

/** The Idempotency-Key was used before for another request body; nothing was stored. */
export class IdempotencyConflictError extends Error {
  constructor(readonly checkId: string) {
    super(`the Idempotency-Key was used for another request (check ${checkId})`);
    this.name = 'IdempotencyConflictError';
  }
}

export interface SubmitOptions {
  /** The project's limit of unfinished items; the submission is refused (BacklogFullError) past it. */
  maxUnfinished?: number;
  /** Task type, as the views name it. @defaultValue BatchConnection */
  type?: string;
  /** The saved connection this task checks (its per-pool status follows the task's result). */
  connection?: string;
  /** How long the task is kept after it ends, if not CONNCHECK_RETENTION_SECONDS (a saved connection's checks). */
  retentionSeconds?: number;
  /** Called (signed POST of the task summary) when the task ends. */
  callbackUrl?: string;
  /** The callback may reach loopback (the API is in open mode; see ItemSpec.allow_loopback). @defaultValue false */
  callbackMayReachLoopback?: boolean;
  /**
   * An Idempotency-Key and the request it came with. The same key with the same body (compared as canonical JSON)
   * returns the task the first request created; with another body the submission is refused
   * (IdempotencyConflictError). Redis holds keyed digests of both, never the key or the body.
   */
  idempotency?: { key: string; body: unknown };
  now?: number;
}

export interface Submitted {
  check_id: string;
  created_at: string;
  /** True when an earlier request with the same Idempotency-Key created the task. */
  replayed: boolean;
}

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

  /** The Redis connection the store was given (for siblings on the same data, e.g. the WorkerRegistry). */
  get connection(): Redis {
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

  async ping(): Promise<void> {
    await this.redis.ping();
  }

  /** Items of a project not yet terminal (the backlog the submission limit is measured against). */
  async unfinishedItems(project: string): Promise<number> {
    return Number((await this.redis.get(this.keys.unfinished(project))) ?? 0);
  }

  /**
   * Stores a new task with all its items pending and its secrets sealed (one script: nothing is half-written, and
   * the backlog limit and the Idempotency-Key are decided in the same step), then adds its jobs. The task carries an
   * enqueue intent until they are added, so a task can never wait for jobs that nobody will add: if this process
   * dies in between, a worker adds them (`staleEnqueueIntents`). If adding them fails here, the task is deleted
   * again and the error thrown, so a client never holds a check_id that no worker will run. Items run in `pool`, or
   * with `undefined` each in its spec's pool.
   */
  async submit(
    project: string,
    items: { spec: ItemSpec; secrets: ItemSecrets }[],
    queue: TaskQueue,
    pool: string | undefined,
    options: SubmitOptions = {},
  ): Promise<Submitted> {
    const now = options.now ?? Date.now();
    const checkId = newCheckId(now);
    if (pool !== undefined) items = items.map(({ spec, secrets }) => ({ spec: spec.pool === pool ? spec : { ...spec, pool }, secrets }));
    const runs = poolRuns(items.map(({ spec }) => spec.pool));
    const idem = options.idempotency && { key: this.box.digest(options.idempotency.key), body: this.box.digest(canonicalJson(options.idempotency.body)) };
    const idemKey = idem ? this.keys.idempotency(project, idem.key) : this.keys.enqueueIntents();
    const args: (string | number)[] = [
      ...this.taskKeys(checkId, project),
      this.keys.enqueueIntents(),
      idemKey,
      this.keys.pools(),
      checkId,
      now,
      options.maxUnfinished ?? -1,
      idem?.body ?? '',
      JSON.stringify(runs),
      project,
      options.type ?? TASK_TYPE,
      JSON.stringify({
        ...(options.connection !== undefined && { connection: options.connection }),
        ...(options.retentionSeconds !== undefined && { retention: options.retentionSeconds }),
        ...(options.callbackUrl !== undefined && { callback: options.callbackUrl }),
        ...(options.callbackMayReachLoopback && { callback_loopback: '1' }),
      }),
      '',
      items.length,
      JSON.stringify(INITIAL_ITEM_STATE),
    ];
    const sealed: string[] = [];
    for (const { spec, secrets } of items) {
      args.push(JSON.stringify(spec));
      if (Object.keys(secrets).length > 0) sealed.push(String(spec.index), this.box.seal(secrets, aad(checkId, spec.index)));
    }
    args.splice(args.length - items.length, 0, sealed.length / 2);
    args.push(...sealed);
    const reply = await this.redis.submitTask(...args);
    switch (reply[0]) {
      case 'backlog':
        throw new BacklogFullError(Number(reply[1]), options.maxUnfinished ?? 0);
      case 'conflict':
        throw new IdempotencyConflictError(reply[1]);
      case 'same':
        return { check_id: reply[1], created_at: new Date(Number(reply[2])).toISOString(), replayed: true };
    }
    try {
      await queue.enqueue(checkId, project, runs);
    } catch (err) {
      await this.deleteTask(checkId, project, items.length, idem && idemKey).catch(() => undefined);
      throw err;
    }
    // Not waited for: if it is lost, a worker finds the intent, adds the jobs again (a no-op) and clears it.
    this.redis.zrem(this.keys.enqueueIntents(), checkId).catch(() => undefined);
    return { check_id: checkId, created_at: new Date(now).toISOString(), replayed: false };
  }

  private async deleteTask(checkId: string, project: string, total: number, idemKey: string | undefined): Promise<void> {
    const k = this.keys.task(checkId);
    const tx = this.redis.multi();
    tx.del(k.task, k.items, k.specs, k.secrets, k.events);
    if (idemKey) tx.del(idemKey);
    tx.zrem(this.keys.openTasks(), checkId);
    tx.zrem(this.keys.enqueueIntents(), checkId);
    tx.zrem(this.keys.projectIndex(project, 'Pending'), checkId);
    tx.decrby(this.keys.unfinished(project), total);
    await tx.exec();
  }

  /**
   * Tasks whose enqueue intent is older than `before` (ms): their submission may have died between storing the task
   * and adding its jobs. The caller adds the jobs (idempotent) and clears the intent. Intents of tasks that are gone
   * or ended are cleared here.
   */
  async staleEnqueueIntents(before: number, limit: number): Promise<TaskInfo[]> {
    const ids = await this.redis.zrangebyscore(this.keys.enqueueIntents(), '-inf', `(${before}`, 'LIMIT', 0, limit);
    const infos = await Promise.all(ids.map((id) => this.taskInfo(id)));
    const open = infos.filter((t): t is TaskInfo => t !== undefined && (t.status === 'Pending' || t.status === 'Running'));
    const done = ids.filter((id) => !open.some((t) => t.checkId === id));
    if (done.length > 0) await this.redis.zrem(this.keys.enqueueIntents(), ...done);
    return open;
  }

  async clearEnqueueIntent(checkId: string): Promise<void> {
    await this.redis.zrem(this.keys.enqueueIntents(), checkId);
  }

  /**
   * Finishes `finish` (if given) and claims `claimIndex` (if given) in one round trip. Returns the claim, with the
   * item's spec and its secrets opened.
   */
  async advance(
    checkId: string,
    project: string,
    worker: WorkerRef,
    finish: { index: number; claimed?: { attempts: number; started_at: number }; outcome: ItemOutcome } | undefined,
    claimIndex: number | undefined,
    now: number = Date.now(),
  ): Promise<{ written: number | null; taskStatus: string | null; claim: Claim | undefined; ended: boolean }> {
    // Without `claimed` (an item failed on behalf of a job that will not run it), the item keeps its attempts, start
    // time and worker as stored.
    const state: ItemState | undefined = finish && terminalState(finish.claimed && { ...finish.claimed, worker }, finish.outcome, now);
    const [written, taskStatus, claim, ended] = await this.redis.advanceItem(
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
      ended: ended === 1,
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
      keys = this.taskKeys(checkId, project);
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

  /** The fourteen KEYS of every task script, in the order of lua/includes/taskKeys.lua. */
  private taskKeys(checkId: string, project: string): string[] {
    const k = this.keys.task(checkId);
    return [
      k.task,
      k.items,
      k.specs,
      k.secrets,
      ...TASK_STATUSES.map((status) => this.keys.projectIndex(project, status)),
      this.keys.unfinished(project),
      this.keys.openTasks(),
      this.keys.endedTimes(project),
      k.events,
      this.keys.callbacksDue(),
    ];
  }

  /**
   * Hands back items this worker claimed but will not finish (it is stopping): they are pending again, for the
   * worker that runs their job next.
   */
  async release(checkId: string, worker: WorkerRef, indexes: number[]): Promise<number> {
    if (indexes.length === 0) return 0;
    const k = this.keys.task(checkId);
    return this.redis.releaseItems(k.task, k.items, worker.id, ...indexes);
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
      ...this.taskKeys(checkId, project),
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
   * The task's events after `afterId` (a stream id; '0' = from the start), at most `count`: an item ended (with the
   * item as the task view shows it now) or the task ended. Empty when there is nothing new.
   */
  async eventsAfter(checkId: string, afterId: string, count = 500): Promise<TaskEventEntry[]> {
    const k = this.keys.task(checkId);
    const entries = await this.redis.xrange(k.events, afterId === '0' ? '-' : `(${afterId}`, '+', 'COUNT', count);
    const indexes = entries.map(([, fields]) => fieldOf(fields, 'index')).filter((i): i is string => i !== undefined);
    const [[, specs], [, states]] =
      indexes.length === 0
        ? [[null, []], [null, []]]
        : ((await this.redis.multi().hmget(k.specs, ...indexes).hmget(k.items, ...indexes).exec()) as [[null, (string | null)[]], [null, (string | null)[]]]);
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
    return this.events.waitForEvent(stream, timeoutMs, async () => (await this.redis.xrange(stream, afterId === '0' ? '-' : `(${afterId}`, '+', 'COUNT', 1)).length > 0);
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
    const [infos, intents] = await Promise.all([Promise.all(ids.map((id) => this.taskInfo(id))), this.redis.zmscore(this.keys.enqueueIntents(), ...ids)]);
    // A task that is gone (expired under a Redis eviction policy, or lost) cannot end any more: it leaves the set.
    const gone = ids.filter((_, i) => infos[i] === undefined);
    if (gone.length > 0) await this.redis.zrem(key, ...gone);
    const tasks = infos.flatMap((t, i) => (t ? [{ ...t, enqueuePending: intents[i] !== null }] : []));
    return { tasks, next: ids.length < limit ? '' : ids[ids.length - 1]! };
  }

  /** Ended tasks whose callback_url is due to be called, oldest first. */
  async dueCallbacks(limit: number): Promise<string[]> {
    return this.redis.zrange(this.keys.callbacksDue(), '0', String(limit - 1));
  }

  async clearDueCallback(checkId: string): Promise<void> {
    await this.redis.zrem(this.keys.callbacksDue(), checkId);
  }

  /** What a webhook delivery sends: the task's header, its project and callback_url; undefined when the task is gone. */
  async callbackOf(checkId: string): Promise<{ project: string; url: string; allowLoopback: boolean; task: TaskHeader } | undefined> {
    const hash = (await this.redis.hgetall(this.keys.task(checkId).task)) as TaskHash;
    if (!hash.project || !hash.callback) return undefined;
    const { callback: _callback, ...task } = taskHeaderView(checkId, hash);
    return { project: hash.project, url: hash.callback, allowLoopback: hash.callback_loopback === '1', task };
  }

  /** Records one delivery attempt on the task (shown in its view), and the callback's state after it. */
  async recordCallbackAttempt(checkId: string, attempt: CallbackAttempt, status: 'pending' | 'delivered' | 'failed'): Promise<void> {
    const key = this.keys.task(checkId).task;
    const [exists, raw] = await this.redis.hmget(key, 'project', 'callback_attempts');
    if (!exists) return;
    const attempts = raw ? (JSON.parse(raw) as CallbackAttempt[]) : [];
    attempts.push(attempt);
    await this.redis.hset(key, 'callback_attempts', JSON.stringify(attempts.slice(-20)), 'callback_status', status);
  }

  /** The callback was given up (its attempts ran out, or its address is forbidden). */
  async callbackFailed(checkId: string): Promise<void> {
    const key = this.keys.task(checkId).task;
    if ((await this.redis.hexists(key, 'callback')) === 1) await this.redis.hset(key, 'callback_status', 'failed');
  }

  /** The reaper's saved walk position ('' = start over), kept for a day. */
  async reaperCursor(): Promise<string> {
    return (await this.redis.get(this.keys.reaperCursor())) ?? '';
  }

  async setReaperCursor(cursor: string): Promise<void> {
    await this.redis.set(this.keys.reaperCursor(), cursor, 'EX', 86400);
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

  /** The jobs of a task that hold one of these items. */
  static jobsOf(indexes: number[], runs: PoolRuns): JobSlot[] {
    return jobLayout(runs).filter(({ from, to }) => indexes.some((index) => index >= from && index <= to));
  }

  /** Task size, pools and status, for a worker, the reaper or cancellation; undefined when gone. */
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
      runs: pools ? (JSON.parse(pools) as PoolRuns) : [['default', Number(total)]],
      status: status as TaskStatus,
      createdAt: Number(createdAt),
      ...(connection ? { connection } : {}),
    };
  }

  /**
   * When conncheck first wrote to this Redis's data set (ms): written once, read at start. A task submitted before
   * it was lost with an earlier data set (a Redis restarted without persistence), not merely unknown.
   */
  async dataSince(now: number = Date.now()): Promise<number> {
    const key = this.keys.meta();
    const [, value] = (await this.redis.multi().hsetnx(key, 'created_at', now).hget(key, 'created_at').exec()) as [unknown, [null, string]];
    return Number(value[1]);
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
      if (!TaskStore.isCheckId(id)) throw new CursorError('cursor is not one this API returned');
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
      const pipeline = this.redis.pipeline();
      for (const { id } of page) pipeline.hmget(this.keys.task(id).task, ...TASK_FIELDS);
      const rows = (await pipeline.exec()) ?? [];
      const stale = this.redis.pipeline();
      page.forEach(({ id, index }, i) => {
        const values = rows[i]?.[1] as (string | null)[] | undefined;
        if (!values || values[0] === null) {
          // Expired since its entry was last pruned.
          stale.zrem(index, id);
          return;
        }
        const hash: TaskHash = {};
        TASK_FIELDS.forEach((f, j) => {
          const v = values[j];
          if (v !== null && v !== undefined) hash[f] = v;
        });
        checks.push(taskHeaderView(id, hash));
      });
      if (stale.length > 0) await stale.exec();
    }
    const last = checks[checks.length - 1];
    return {
      checks,
      next_cursor: checks.length === options.limit && !exhausted && last ? Buffer.from(last.check_id).toString('base64url') : null,
    };
  }
}

function fieldOf(fields: string[], name: string): string | undefined {
  for (let i = 0; i < fields.length; i += 2) if (fields[i] === name) return fields[i + 1];
  return undefined;
}

/** JSON with object keys sorted at every level: two requests that differ only in key order or spacing are the same. */
function canonicalJson(value: unknown): string {
  return JSON.stringify(value, (_key, v: unknown) =>
    v && typeof v === 'object' && !Array.isArray(v) ? Object.fromEntries(Object.entries(v).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) : v,
  );
}

function aad(checkId: string, index: number): string {
  return `${checkId}#${index}`;
}
