// Owns: every state transition of tasks and items in Redis (create, claim, finish, cancel, expire); reads: task-getters.
// Must not: run probes or know HTTP. Keys of one hash slot change together in one MULTI or Lua script; a change that
// spans slots (a task and its project's side, see keys.ts) is steps that are each atomic, idempotent and finished or
// undone by a worker when the process dies between them — never a half state that nothing repairs.

import { type ItemSecrets, type ItemSpec, type Task, type TaskStatus, SecretBoxError, TASK_TYPE, newCheckId } from '@conncheck/core';
import { type ItemOutcome, type ItemState, type WorkerRef, INITIAL_ITEM_STATE, runsOf, taskView, terminalState } from './item-state.js';
import type { ClaimReply, EndReply, FlatHash } from './scripts.js';
import { type TaskInfo, TaskGetters } from './task-getters.js';
import { type PoolRuns, type TaskQueue, poolRuns } from './task-queue.js';

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
  /**
   * Settles once the task's jobs are in the queue (true), or adding them failed (false: the enqueue intent stored
   * with the task stays, and a worker adds the jobs from it within seconds). Never rejects. The submitter need not
   * wait for it: the task is stored and will run either way.
   */
  enqueued: Promise<boolean>;
}

/** An open task's progress, as its project's side is to hear it (TaskStore.reportSoon). */
interface ProgressReport {
  project: string;
  status: string;
  remaining: number | null;
  now: number;
}

/** One step of a worker through its job: finish an item, claim the next, or both (TaskStore.advance). */
export interface AdvanceOptions {
  checkId: string;
  project: string;
  /** The worker that claims, and that ran the item it finishes. */
  worker: WorkerRef;
  /**
   * The item that ended and how. Without `claimed` (an item failed on behalf of a job that will not run it), the item
   * keeps the attempts, start time and worker it has.
   */
  finish?: { index: number; claimed?: { attempts: number; started_at: number }; outcome: ItemOutcome };
  /** The item to claim next. */
  claimIndex?: number;
  /** @defaultValue Date.now() */
  now?: number;
}

/** What an advance did. */
export interface Advanced {
  /** 1 the result was written, 0 the item had ended already (the result is dropped), -1 the task is gone; null when nothing was finished. */
  written: number | null;
  /** The task's status after the step; null when the task is gone. */
  taskStatus: string | null;
  /** The claim, when one was asked for. */
  claim: Claim | undefined;
  /** This step ended the task. */
  ended: boolean;
}

/** A task that a cancel ended. */
export interface Canceled {
  /** Its items that had not ended (now canceled). */
  canceled: number;
  /** The task as the cancel left it. */
  task: Task;
  /** Its items by pool: where its jobs wait (TaskQueue.removeWaiting). */
  runs: PoolRuns;
}

export class TaskStore extends TaskGetters {
  private readonly advanceKeyCache = new Map<string, string[]>();
  private readonly workerJsonCache = new WeakMap<WorkerRef, string>();

  /**
   * Stores a new task with all its items pending and its secrets sealed, then adds its jobs. Three steps, each
   * atomic in its own slot (so that it works on a Redis Cluster as on one server, see keys.ts):
   * 1. an enqueue intent (with the task's place among the open tasks): from here a worker finishes what this process
   *    may not (`staleEnqueueIntents`);
   * 2. the project's side (reserveTask): the Idempotency-Key, the backlog limit, the Pending index, the backlog —
   *    decided in one step, and nothing written when refused;
   * 3. the task's own keys (storeTask).
   * The answer comes once the task is stored; its jobs are added just after, and the intent cleared. If this process
   * dies after step 1, a worker either adds the jobs (the task was stored) or marks the task abandoned and undoes
   * step 2 (it was not), so the backlog never keeps a task nobody runs. Items run in `pool`, or with `undefined`
   * each in its spec's pool.
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
    const idemKey = idem ? this.keys.idempotency(project, idem.key) : undefined;

    await this.redis.recordIntent(
      ...this.intentKeys(),
      this.keys.pools(),
      checkId,
      now,
      JSON.stringify({ project, ...(idemKey !== undefined && { idem: idemKey }) }),
      ...runs.map(([pool]) => pool),
    );

    // Should this fail (Redis away), the intent stays: a worker undoes whatever of the reservation was made.
    const reply = await this.redis.reserveTask(
      ...this.keys.projectScriptKeys(project, idemKey),
      checkId,
      now,
      options.maxUnfinished ?? -1,
      idem?.body ?? '',
      items.length,
    );
    if (reply[0] !== 'created') {
      await this.dropIntent(checkId);
      switch (reply[0]) {
        case 'backlog':
          throw new BacklogFullError(Number(reply[1]), options.maxUnfinished ?? 0);
        case 'conflict':
          throw new IdempotencyConflictError(reply[1]);
        case 'same':
          return { check_id: reply[1], created_at: new Date(Number(reply[2])).toISOString(), replayed: true, enqueued: Promise.resolve(true) };
      }
    }

    const args: (string | number)[] = [
      // The task's keys but its event stream, which storeTask does not write.
      ...this.keys.taskScriptKeys(checkId).slice(0, 4),
      checkId,
      now,
      JSON.stringify(runs),
      project,
      options.type ?? TASK_TYPE,
      JSON.stringify({
        ...(options.connection !== undefined && { connection: options.connection }),
        ...(options.retentionSeconds !== undefined && { retention: options.retentionSeconds }),
        ...(options.callbackUrl !== undefined && { callback: options.callbackUrl }),
        ...(options.callbackMayReachLoopback && { callback_loopback: '1' }),
        ...(idemKey !== undefined && { idem: idemKey }),
      }),
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
    if ((await this.redis.storeTask(...args)) === 'abandoned') {
      // A worker took this submission for dead (it took longer than the recovery's grace) and undid its reservation.
      throw new Error(`the task ${checkId} was given up while it was being stored; submit it again`);
    }
    // From here the task runs whatever happens to this process, so the caller can answer at once while the jobs go
    // in. If adding them fails (or this process dies), a worker finds the intent, adds the jobs (job ids are
    // deterministic, so twice is once) and clears it.
    const enqueued = queue.enqueue(checkId, project, runs).then(
      () => {
        this.clearIntentSoon(checkId);
        return true;
      },
      () => false,
    );
    return { check_id: checkId, created_at: new Date(now).toISOString(), replayed: false, enqueued };
  }

  /** A submission refused: its intent and its place among the open tasks go (nothing else was written). */
  private async dropIntent(checkId: string): Promise<void> {
    await this.redis.clearIntents(...this.intentKeys(), '1', checkId);
  }

  /** The KEYS of recordIntent (the first three) and clearIntents. */
  private intentKeys(): [intents: string, details: string, open: string] {
    return [this.keys.enqueueIntents(), this.keys.intentDetails(), this.keys.openTasks()];
  }

  /** Intents whose jobs are in, cleared together at the end of this turn of the event loop (one ZREM for many). */
  private intentsToClear: string[] | undefined;

  /** Not waited for: an intent left behind only makes a worker add the jobs again (a no-op) and clear it. */
  private clearIntentSoon(checkId: string): void {
    if (!this.intentsToClear) {
      const ids: string[] = [];
      this.intentsToClear = ids;
      setImmediate(() => {
        this.intentsToClear = undefined;
        this.redis.clearIntents(...this.intentKeys(), '0', ...ids).catch(() => undefined);
      });
    }
    this.intentsToClear.push(checkId);
  }

  async clearEnqueueIntent(checkId: string): Promise<void> {
    await this.redis.clearIntents(...this.intentKeys(), '0', checkId);
  }

  /**
   * Tasks whose enqueue intent is older than `before` (ms): their submission may have died before their jobs were
   * added. The caller adds the jobs (idempotent) and clears the intent. A task that was never stored (the submission
   * died between reserving the project's side and storing it) is marked abandoned and its reservation undone here;
   * intents of tasks that ended are cleared.
   */
  async staleEnqueueIntents(before: number, limit: number): Promise<TaskInfo[]> {
    const ids = await this.redis.zrangebyscore(this.keys.enqueueIntents(), '-inf', `(${before}`, 'LIMIT', 0, limit);
    const infos = await Promise.all(ids.map((id) => this.taskInfo(id)));
    const open: TaskInfo[] = [];
    const done: string[] = [];
    for (const [i, id] of ids.entries()) {
      const info = infos[i];
      if (info) {
        if (info.status === 'Pending' || info.status === 'Running') open.push(info);
        else done.push(id);
        continue;
      }
      if ((await this.redis.abandonTask(this.keys.task(id).task, Date.now())) === 'exists') continue; // stored just now
      const details = await this.redis.hget(this.keys.intentDetails(), id);
      if (details) {
        const { project, idem } = JSON.parse(details) as { project: string; idem?: string };
        await this.redis.projectTask(...this.keys.projectScriptKeys(project, idem), id, 'Abandoned', '', Date.now(), 0, this.retentionSeconds);
      }
      await this.redis.clearIntents(...this.intentKeys(), '1', id);
    }
    if (done.length > 0) await this.redis.clearIntents(...this.intentKeys(), '0', ...done);
    return open;
  }

  /**
   * Brings the project's side (its indexes and backlog, another slot than the task's) and the open-task and
   * callback sets in step with a task, as its own script reported it: `remaining` items not yet terminal, and when
   * it ended, what its end left (`end`). Idempotent and order-free (projectTask.lua), so a worker and the reaper may
   * both do it. Between the task's script and this call a list may show the task in its former status and the
   * backlog count its items a moment longer; a worker that dies in between leaves it for the reaper.
   */
  private async settle(checkId: string, project: string, status: string, remaining: number | null, end: EndReply | null, now: number): Promise<void> {
    const keep = end ? end[0] : 0;
    await this.redis.projectTask(
      ...this.keys.projectScriptKeys(project, end?.[2] ?? undefined),
      checkId,
      status,
      remaining ?? '',
      now,
      keep,
      this.retentionSeconds,
    );
    if (end) await this.redis.closeTask(this.keys.openTasks(), this.keys.callbacksDue(), checkId, now, end[1]);
  }

  /** Progress reports waiting for the end of this turn of the event loop, by check id. */
  private progress: Map<string, ProgressReport> | undefined;

  /**
   * Reports an open task's progress to its project's side (projectTask.lua), not waited for: a report lost (Redis
   * away, the process gone) is made good by the task's next report or by its end, which are order-free.
   */
  private reportSoon(checkId: string, project: string, status: string, remaining: number | null, now: number): void {
    if (!this.progress) {
      const due = new Map<string, ProgressReport>();
      this.progress = due;
      setImmediate(() => {
        this.progress = undefined;
        for (const [id, r] of due) this.settle(id, r.project, r.status, r.remaining, null, r.now).catch(() => undefined);
      });
    }
    const known = this.progress.get(checkId);
    if (known) {
      if (remaining !== null && (known.remaining === null || remaining < known.remaining)) known.remaining = remaining;
      if (status === 'Running') known.status = status;
      known.now = now;
    } else {
      this.progress.set(checkId, { project, status, remaining, now });
    }
  }

  /**
   * For a task found ended but still among the open tasks (the worker that ended it died before `settle`): settles
   * its project's side from the task itself. Its callback is made due unless one was attempted already.
   */
  async settleEnded(checkId: string, now: number = Date.now()): Promise<void> {
    const [project, status, finished, retention, callback, callbackStatus, idem] = await this.redis.hmget(
      this.keys.task(checkId).task,
      'project',
      'status',
      'finished_at',
      'retention',
      'callback',
      'callback_status',
      'idem',
    );
    if (!project || !status || status === 'Pending' || status === 'Running') return;
    const keep = retention ? Math.min(this.retentionSeconds, Number(retention)) : this.retentionSeconds;
    const end: EndReply = [keep, callback && !callbackStatus ? 1 : 0, idem ?? null];
    await this.settle(checkId, project, status, 0, end, Number(finished ?? now));
  }

  /**
   * Finishes `finish` (if given) and claims `claimIndex` (if given) in one round trip. Returns the claim, with the
   * item's spec and its secrets opened.
   */
  async advance(options: AdvanceOptions): Promise<Advanced> {
    const { checkId, project, worker, finish, claimIndex, now = Date.now() } = options;
    const state: ItemState | undefined = finish && terminalState(finish.claimed && { ...finish.claimed, worker }, finish.outcome, now);
    const [written, taskStatus, claim, ended, started, remaining, end] = await this.redis.advanceItem(
      ...this.advanceKeys(checkId),
      checkId,
      now,
      this.retentionSeconds,
      finish ? finish.index : '',
      state ? JSON.stringify(state) : '',
      claimIndex ?? '',
      this.workerJson(worker),
      this.keys.endedChannel(),
    );
    // The end is settled before this returns (whoever sees the task ended sees its project's side too); progress is
    // reported in the background, several reports of a task in one turn of the event loop as one.
    if (end) await this.settle(checkId, project, taskStatus ?? 'Failed', remaining, end, now);
    else if (taskStatus !== null && (written === 1 || started === 1)) this.reportSoon(checkId, project, taskStatus, remaining, now);
    return {
      written,
      taskStatus,
      claim: claimIndex === undefined || !claim ? undefined : this.openClaim(checkId, claimIndex, claim, now),
      ended: ended === 1,
    };
  }

  /**
   * The KEYS of advanceItem for a task. A worker calls it once per item, for the same few tasks at a time, so the
   * key lists are kept (bounded) rather than rebuilt from five template strings each time.
   */
  private advanceKeys(checkId: string): string[] {
    let keys = this.advanceKeyCache.get(checkId);
    if (!keys) {
      if (this.advanceKeyCache.size >= 1024) this.advanceKeyCache.clear();
      keys = this.keys.taskScriptKeys(checkId);
      this.advanceKeyCache.set(checkId, keys);
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

  /**
   * Cancels a task, in one round trip: the script checks the project and answers the task as the cancel left it.
   * `undefined` = no such task in this project; `{ended}` = it had already ended.
   */
  async cancel(checkId: string, project: string, now: number = Date.now()): Promise<Canceled | { ended: TaskStatus } | undefined> {
    if (!TaskStore.isCheckId(checkId)) return undefined;
    const reply = await this.redis.cancelTask(
      ...this.keys.taskScriptKeys(checkId),
      checkId,
      project,
      now,
      this.retentionSeconds,
      'canceled before it finished',
      this.keys.cancelChannel(),
      this.keys.endedChannel(),
    );
    if (reply === -1) return undefined;
    if (reply[0] === 'ended') return { ended: reply[1] as TaskStatus };
    const [, canceled, hash, specs, states, end] = reply;
    await this.settle(checkId, project, 'Canceled', 0, end, now);
    const task = record(hash);
    return { canceled, task: taskView(checkId, task, record(specs), record(states)), runs: runsOf(task.pools, task.total) };
  }

  async clearDueCallback(checkId: string): Promise<void> {
    await this.redis.zrem(this.keys.callbacksDue(), checkId);
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

  async setReaperCursor(cursor: string): Promise<void> {
    await this.redis.set(this.keys.reaperCursor(), cursor, 'EX', 86400);
  }

  /** Takes the reaper's lock for `ttlMs` if no one holds it: several workers, one reaper per interval. */
  async tryReaperLock(owner: string, ttlMs: number): Promise<boolean> {
    return (await this.redis.set(this.keys.reaperLock(), owner, 'PX', ttlMs, 'NX')) === 'OK';
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
}

/** JSON with object keys sorted at every level: two requests that differ only in key order or spacing are the same. */
function canonicalJson(value: unknown): string {
  return JSON.stringify(value, (_key, v: unknown) =>
    v && typeof v === 'object' && !Array.isArray(v) ? Object.fromEntries(Object.entries(v).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) : v,
  );
}

/** field, value, field, value … as an object. */
function record(flat: FlatHash): Record<string, string> {
  const out: Record<string, string> = {};
  for (let i = 0; i + 1 < flat.length; i += 2) out[flat[i]!] = flat[i + 1]!;
  return out;
}

function aad(checkId: string, index: number): string {
  return `${checkId}#${index}`;
}
