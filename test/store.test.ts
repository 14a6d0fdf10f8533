// The task store against a real Redis: idempotent transitions under at-least-once delivery, cancel, list,
// retention, and no secret in clear anywhere under the prefix.

import assert from 'node:assert/strict';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { type BatchJob, buildItems } from '@conncheck/core';
import { type ItemOutcome, TaskQueue, createRedis, isUnavailableError } from '@conncheck/store';
import { type Harness, dumpKeys, harness, testRedis, waitFor } from './lib/harness.js';
import { freePort } from './lib/processes.js';

const worker = { id: 'w1', pool: 'default' };
const ok: ItemOutcome = { success: true, duration_ms: 3.2, stages: [{ name: 'tcp', status: 'ok', duration_ms: 1 }] };
const refused: ItemOutcome = { success: false, error_code: 'CONNECTION_REFUSED', error_msg: 'refused', duration_ms: 1, stages: [] };

function jobs(n: number, extra: Partial<BatchJob> = {}): BatchJob[] {
  return Array.from({ length: n }, (_, i) => ({ id: `job-${i}`, db_type: 'tcp', ip: '127.0.0.1', db_port: 1000 + i, ...extra }));
}

describe('TaskStore', () => {
  let h: Harness;
  beforeEach(async () => {
    h = await harness();
  });
  afterEach(async () => {
    await h.close();
  });

  async function submit(n: number, extra: Partial<BatchJob> = {}, project = 'p1') {
    const { items, problems } = buildItems(jobs(n, extra));
    assert.deepEqual(problems, []);
    return h.store.submit(project, items, h.queue, 'default');
  }

  it('stores a task as Pending with every item pending, and enqueues its chunks', async () => {
    const { check_id } = await submit(3);
    const task = await h.store.getTask(check_id, 'p1');
    assert.ok(task);
    assert.equal(task.status, 'Pending');
    assert.deepEqual(task.summary, { total: 3, succeeded: 0, failed: 0, canceled: 0, running: 0, pending: 3 });
    assert.deepEqual(
      task.check_items.map((i) => [i.index, i.id, i.status]),
      [
        [0, 'job-0', 'pending'],
        [1, 'job-1', 'pending'],
        [2, 'job-2', 'pending'],
      ],
    );
    assert.equal(await h.queue.queue('default').count(), 3);
    assert.equal(await h.store.getTask(check_id, 'other-project'), undefined);
  });

  it('moves Pending → Running → Failed, first terminal result wins, counters never double count', async () => {
    const { check_id } = await submit(2);
    const first = await h.store.advance({ checkId: check_id, project: 'p1', worker, claimIndex: 0 });
    assert.equal(first.claim?.kind, 'run');
    assert.equal(first.taskStatus, 'Running');
    const claimed = { attempts: 1, started_at: Date.now() };
    const done = await h.store.advance({ checkId: check_id, project: 'p1', worker, finish: { index: 0, claimed, outcome: ok }, claimIndex: 1 });
    assert.equal(done.written, 1);
    // A re-delivered job finishes the same item again, with another result: dropped.
    const again = await h.store.advance({ checkId: check_id, project: 'p1', worker, finish: { index: 0, claimed, outcome: refused } });
    assert.equal(again.written, 0);
    // …and claiming a terminal item is a skip.
    const reclaim = await h.store.advance({ checkId: check_id, project: 'p1', worker, claimIndex: 0 });
    assert.deepEqual(reclaim.claim, { kind: 'skip', index: 0, reason: 'success' });
    let task = await h.store.getTask(check_id, 'p1');
    assert.deepEqual(task?.summary, { total: 2, succeeded: 1, failed: 0, canceled: 0, running: 1, pending: 0 });
    assert.equal(task?.message, 'running: 1 of 2 items finished, 1 running');
    assert.equal(task?.check_items[0]?.status, 'success');
    assert.equal(task?.check_items[1]?.status, 'running');

    await h.store.advance({ checkId: check_id, project: 'p1', worker, finish: { index: 1, claimed, outcome: refused } });
    await h.store.advance({ checkId: check_id, project: 'p1', worker, finish: { index: 1, claimed, outcome: ok } });
    task = await h.store.getTask(check_id, 'p1');
    assert.equal(task?.status, 'Failed');
    assert.equal(task?.message, '1 of 2 items failed');
    assert.ok(task?.finished_at);
    assert.deepEqual(task?.summary, { total: 2, succeeded: 1, failed: 1, canceled: 0, running: 0, pending: 0 });
    const item = task.check_items[1]!;
    assert.equal(item.error_code, 'CONNECTION_REFUSED');
    assert.equal(item.success, false);
    assert.equal(await h.store.unfinishedItems('p1'), 0);
  });

  it('a stalled item claimed twice counts two attempts but one running item', async () => {
    const { check_id } = await submit(1);
    await h.store.advance({ checkId: check_id, project: 'p1', worker, claimIndex: 0 });
    const second = await h.store.advance({ checkId: check_id, project: 'p1', worker: { id: 'w2', pool: 'default' }, claimIndex: 0 });
    assert.equal(second.claim?.kind === 'run' && second.claim.attempts, 2);
    const task = await h.store.getTask(check_id, 'p1');
    assert.equal(task?.summary.running, 1);
    assert.equal(task?.check_items[0]?.worker?.id, 'w2');
    await h.store.advance({ checkId: check_id, project: 'p1', worker, finish: { index: 0, claimed: { attempts: 2, started_at: Date.now() }, outcome: ok } });
    assert.equal((await h.store.getTask(check_id, 'p1'))?.status, 'Succeeded');
  });

  it('keeps secrets sealed in Redis and deletes them once the item is terminal', async () => {
    const password = 'pa55-word-that-must-not-leak';
    const { items } = buildItems([{ id: 'm', db_type: 'mysql', ip: '127.0.0.1', db_port: 3306, db_user: 'u', db_password: password }]);
    const { check_id } = await h.store.submit('p1', items, h.queue, 'default');
    const dump = await dumpKeys(h.redis, `${h.prefix}:*`);
    assert.ok(dump.includes(check_id));
    assert.ok(!dump.includes(password), 'password found in clear in Redis');
    const { claim } = await h.store.advance({ checkId: check_id, project: 'p1', worker, claimIndex: 0 });
    assert.equal(claim?.kind === 'run' && claim.secrets?.db_password, password);
    await h.store.advance({ checkId: check_id, project: 'p1', worker, finish: { index: 0, claimed: { attempts: 1, started_at: 0 }, outcome: ok } });
    assert.equal(await h.redis.exists(h.store.keys.task(check_id).secrets), 0);
  });

  it('reports a key mismatch instead of failing obscurely', async () => {
    const { items } = buildItems([{ id: 'm', db_type: 'mysql', ip: '127.0.0.1', db_port: 3306, db_user: 'u', db_password: 'x' }]);
    const { check_id } = await h.store.submit('p1', items, h.queue, 'default');
    const { SecretBox } = await import('@conncheck/core');
    const { TaskStore } = await import('@conncheck/store');
    const other = new TaskStore({ redis: h.redis, prefix: h.prefix, secretBox: SecretBox.random() });
    const { claim } = await other.advance({ checkId: check_id, project: 'p1', worker, claimIndex: 0 });
    assert.equal(claim?.kind, 'run');
    assert.match(claim?.kind === 'run' ? (claim.secretError ?? '') : '', /sealed with key/);
  });

  it('gives finished tasks the retention TTL', async () => {
    await h.close();
    h = await harness({ CONNCHECK_RETENTION_SECONDS: '120' });
    const { check_id } = await submit(1);
    await h.store.advance({ checkId: check_id, project: 'p1', worker, finish: { index: 0, claimed: { attempts: 1, started_at: 0 }, outcome: ok } });
    for (const key of [h.store.keys.task(check_id).task, h.store.keys.task(check_id).items, h.store.keys.task(check_id).specs]) {
      const ttl = await h.redis.ttl(key);
      assert.ok(ttl > 100 && ttl <= 120, `${key} ttl ${ttl}`);
    }
  });

  it('cancels: unfinished items end canceled, later results are dropped, a second cancel says ended', async () => {
    const { check_id } = await submit(3);
    const claimed = { attempts: 1, started_at: 0 };
    await h.store.advance({ checkId: check_id, project: 'p1', worker, claimIndex: 0 });
    await h.store.advance({ checkId: check_id, project: 'p1', worker, finish: { index: 0, claimed, outcome: ok }, claimIndex: 1 });
    const outcome = await h.store.cancel(check_id, 'p1');
    assert.ok(outcome && 'canceled' in outcome);
    assert.equal(outcome.canceled, 2);
    const late = await h.store.advance({ checkId: check_id, project: 'p1', worker, finish: { index: 1, claimed, outcome: ok }, claimIndex: 2 });
    assert.equal(late.written, 0);
    assert.deepEqual(late.claim, { kind: 'skip', index: 2, reason: 'canceled' });
    const task = await h.store.getTask(check_id, 'p1');
    assert.equal(task?.status, 'Canceled');
    assert.deepEqual(task?.summary, { total: 3, succeeded: 1, failed: 0, canceled: 2, running: 0, pending: 0 });
    assert.deepEqual(
      task?.check_items.map((i) => [i.status, i.error_code]),
      [
        ['success', null],
        ['canceled', 'CANCELED'],
        ['canceled', 'CANCELED'],
      ],
    );
    // The cancel answers the task as a read after it shows it, and where its jobs are.
    assert.deepEqual(outcome.task, task);
    assert.deepEqual(outcome.runs, [['default', 3]]);
    assert.deepEqual(await h.store.cancel(check_id, 'p1'), { ended: 'Canceled' });
    assert.equal(await h.store.cancel(check_id, 'p2'), undefined);
    assert.equal(await h.store.unfinishedItems('p1'), 0);
  });

  it('lists newest first, pages with a cursor, filters by status', async () => {
    const ids: string[] = [];
    for (let i = 0; i < 5; i++) {
      ids.push((await submit(1)).check_id);
      await new Promise((r) => setTimeout(r, 2));
    }
    await submit(1, {}, 'p2');
    await h.store.advance({ checkId: ids[1]!, project: 'p1', worker, finish: { index: 0, claimed: { attempts: 1, started_at: 0 }, outcome: ok } });
    const page1 = await h.store.listTasks('p1', { limit: 2 });
    assert.deepEqual(
      page1.checks.map((c) => c.check_id),
      [ids[4], ids[3]],
    );
    assert.ok(page1.next_cursor);
    const page2 = await h.store.listTasks('p1', { limit: 2, cursor: page1.next_cursor });
    assert.deepEqual(
      page2.checks.map((c) => c.check_id),
      [ids[2], ids[1]],
    );
    const page3 = await h.store.listTasks('p1', { limit: 2, cursor: page2.next_cursor! });
    assert.deepEqual(
      page3.checks.map((c) => c.check_id),
      [ids[0]],
    );
    assert.equal(page3.next_cursor, null);
    const succeeded = await h.store.listTasks('p1', { limit: 10, status: 'Succeeded' });
    assert.deepEqual(
      succeeded.checks.map((c) => c.check_id),
      [ids[1]],
    );
    const pending = await h.store.listTasks('p1', { limit: 10, status: 'Pending' });
    assert.equal(pending.checks.length, 4);
    // A task whose keys are gone leaves the list rather than showing as an empty row. Its index entry is dropped
    // once the task is old enough that it cannot be one still being stored (its project's side is written first).
    const drop = async (checkId: string) => {
      const k = h.store.keys.task(checkId);
      for (const key of [k.task, k.items, k.specs, k.secrets]) await h.redis.del(key);
    };
    await drop(ids[4]!);
    assert.equal((await h.store.listTasks('p1', { limit: 10 })).checks.length, 4);
    assert.equal(await h.redis.zscore(h.store.keys.projectIndex('p1', 'Pending'), ids[4]!), '0', 'a young entry stays');
    const { items } = buildItems(jobs(1));
    const old = await h.store.submit('p1', items, h.queue, 'default', { now: Date.now() - 3600_000 });
    await drop(old.check_id);
    assert.equal((await h.store.listTasks('p1', { limit: 10 })).checks.length, 4);
    assert.equal(await h.redis.zscore(h.store.keys.projectIndex('p1', 'Pending'), old.check_id), null, 'an old one is pruned');
  });

  it('answers before the jobs are in; jobs it could not add come from the enqueue intent', async () => {
    class BrokenQueue extends TaskQueue {
      override async enqueue(): Promise<number> {
        throw new Error('Connection is closed.');
      }
    }
    const broken = new BrokenQueue(h.redis, h.store.keys);
    const { items } = buildItems(jobs(2));
    const submitted = await h.store.submit('p1', items, broken, 'default');
    assert.equal(await submitted.enqueued, false);
    // The task is stored and counted, and its intent says its jobs are still to be added.
    assert.deepEqual(
      (await h.store.listTasks('p1', { limit: 10 })).checks.map((c) => c.check_id),
      [submitted.check_id],
    );
    assert.equal(await h.store.unfinishedItems('p1'), 2);
    assert.ok((await h.redis.zscore(h.store.keys.enqueueIntents(), submitted.check_id)) !== null);
    const { EnqueueRecovery } = await import('@conncheck/worker');
    const { quietLogger } = await import('./lib/harness.js');
    const recovery = new EnqueueRecovery({ store: h.store, queue: h.queue, logger: quietLogger });
    assert.equal(await recovery.recoverOnce(Date.now() + 5000), 1);
    assert.equal(await h.queue.queue('default').count(), 2);
    assert.equal(await h.redis.zscore(h.store.keys.enqueueIntents(), submitted.check_id), null);
    await broken.close();
  });

  it('clears the intent once the jobs are in', async () => {
    const submitted = await h.store.submit('p1', buildItems(jobs(3)).items, h.queue, 'default');
    assert.equal(await submitted.enqueued, true);
    await new Promise((r) => setTimeout(r, 50));
    assert.equal(await h.redis.zscore(h.store.keys.enqueueIntents(), submitted.check_id), null);
    assert.equal(await h.queue.queue('default').count(), 3);
  });
});

describe('TaskReaper', () => {
  let h: Harness;
  beforeEach(async () => {
    h = await harness();
  });
  afterEach(async () => {
    await h.close();
  });

  it('ends the items of a task whose queue jobs were lost, and leaves a task whose jobs can still run alone', async () => {
    const { TaskReaper } = await import('@conncheck/worker');
    const { quietLogger } = await import('./lib/harness.js');
    const reaper = new TaskReaper({ store: h.store, queue: h.queue, ref: { id: 'reaper', pool: 'default' }, logger: quietLogger });
    const { items } = buildItems(jobs(3));
    const lost = await h.store.submit('p1', items, h.queue, 'default');
    const waiting = await h.store.submit('p1', buildItems(jobs(2)).items, h.queue, 'default');
    // The first task's item 0 already finished; then its jobs vanish from Redis (eviction, a flushed queue).
    await h.store.advance({ checkId: lost.check_id, project: 'p1', worker, finish: { index: 0, claimed: { attempts: 1, started_at: 0 }, outcome: ok } });
    for (const from of [0, 1, 2]) await h.queue.queue('default').remove(`${lost.check_id}.${from}`);

    // Too young: nothing happens yet.
    assert.equal(await reaper.reapOnce(Date.now()), 0);
    assert.equal(await reaper.reapOnce(Date.now() + 120_000), 2);
    const task = await h.store.getTask(lost.check_id, 'p1');
    assert.equal(task?.status, 'Failed');
    assert.deepEqual(
      task?.check_items.map((i) => [i.status, i.error_code]),
      [
        ['success', null],
        ['failed', 'INTERNAL_ERROR'],
        ['failed', 'INTERNAL_ERROR'],
      ],
    );
    assert.equal((await h.store.getTask(waiting.check_id, 'p1'))?.status, 'Pending', 'its jobs are still waiting');
    // A second pass finds nothing more to do, and the ended task left the open set.
    assert.equal(await reaper.reapOnce(Date.now() + 120_000), 0);
    assert.equal(await h.redis.zscore(h.store.keys.openTasks(), lost.check_id), null);
    await reaper.close();
  });

  it('a crowd of tasks legitimately waiting cannot hide an orphan behind them', async () => {
    const { TaskReaper } = await import('@conncheck/worker');
    const { quietLogger } = await import('./lib/harness.js');
    const reaper = new TaskReaper({ store: h.store, queue: h.queue, ref: { id: 'reaper', pool: 'default' }, logger: quietLogger, pageSize: 100 });
    const t0 = Date.now();
    // 250 tasks waiting in a pool no worker serves (their jobs are alive), created first…
    for (let i = 0; i < 250; i++) await h.store.submit('p1', buildItems(jobs(1)).items, h.queue, 'nobody', { now: t0 + i });
    // …then one whose jobs were lost after its item had started.
    const { items } = buildItems(jobs(1));
    const orphan = await h.store.submit('p1', items, h.queue, 'default', { now: t0 + 300 });
    const claim = await h.store.advance({ checkId: orphan.check_id, project: 'p1', worker, claimIndex: 0, now: t0 + 400 });
    assert.equal(claim.claim?.kind, 'run');
    await h.queue.queue('default').remove(`${orphan.check_id}.0`);

    const later = t0 + 120_000;
    let ended = 0;
    for (let pass = 0; pass < 3 && ended === 0; pass++) ended += await reaper.reapOnce(later);
    assert.equal(ended, 1, 'found within three passes of 100');
    const task = await h.store.getTask(orphan.check_id, 'p1');
    assert.equal(task?.status, 'Failed');
    const item = task.check_items[0]!;
    assert.equal(item.error_code, 'INTERNAL_ERROR');
    // The item keeps what it had: it was started once, by w1, at t0 + 400.
    assert.equal(item.attempts, 1);
    assert.equal(item.started_at, new Date(t0 + 400).toISOString());
    assert.deepEqual(item.worker, worker);
    // The ended task left the open set; the waiting ones are all still in it.
    assert.equal(await h.redis.zcard(h.store.keys.openTasks()), 250);
    await reaper.close();
  });
});

/**
 * A task's own keys and its project's side (indexes, backlog, Idempotency-Key) are in different hash slots (on a
 * cluster, on different shards): the task changes atomically on its own, and its project's side follows in a second,
 * idempotent and order-free step. These tests break the steps apart as a crash or a race would.
 */
describe("a task's project side", () => {
  let h: Harness;
  beforeEach(async () => {
    h = await harness();
  });
  afterEach(async () => {
    await h.close();
  });

  type ProjectTask = (...args: (string | number)[]) => Promise<number>;
  /** The script as the store calls it (ioredis defines it on the store's connection, which is the harness's). */
  const report = (checkId: string, status: string, remaining: number | '', keep = 60) =>
    (h.redis as unknown as { projectTask: ProjectTask }).projectTask(
      ...h.store.keys.projectScriptKeys('p1'),
      checkId,
      status,
      remaining,
      Date.now(),
      keep,
      h.store.retentionSeconds,
    );
  const indexesOf = async (checkId: string) => {
    const statuses = ['Pending', 'Running', 'Succeeded', 'Failed', 'Canceled'] as const;
    const scores = await Promise.all(statuses.map((status) => h.redis.zscore(h.store.keys.projectIndex('p1', status), checkId)));
    return statuses.filter((_, i) => scores[i] !== null);
  };

  it('moves only forward and only down: a late, repeated or higher report changes nothing', async () => {
    const { check_id } = await h.store.submit('p1', buildItems(jobs(3)).items, h.queue, 'default');
    assert.equal(await h.store.unfinishedItems('p1'), 3);
    assert.deepEqual(await indexesOf(check_id), ['Pending']);
    assert.equal(await report(check_id, 'Running', 2), 2);
    assert.deepEqual(await indexesOf(check_id), ['Running']);
    assert.equal(await report(check_id, 'Running', 3), 2, 'a report older than the last one does not raise the backlog');
    assert.equal(await report(check_id, 'Succeeded', 0), 0);
    assert.deepEqual(await indexesOf(check_id), ['Succeeded']);
    assert.equal(await report(check_id, 'Running', 1), 0, 'a report that comes after the end moves nothing');
    assert.equal(await report(check_id, 'Succeeded', 0), 0, 'the end reported twice counts once');
    assert.deepEqual(await indexesOf(check_id), ['Succeeded']);
    assert.equal(await h.redis.zcard(h.store.keys.endedTimes('p1')), 1);
    assert.equal(await h.redis.exists(h.store.keys.unfinished('p1')), 0, 'an empty backlog is deleted');
  });

  it('a worker that died between ending a task and its project side leaves it to the reaper', async () => {
    const { TaskReaper } = await import('@conncheck/worker');
    const { quietLogger } = await import('./lib/harness.js');
    const reaper = new TaskReaper({ store: h.store, queue: h.queue, ref: { id: 'reaper', pool: 'default' }, logger: quietLogger });
    const { check_id } = await h.store.submit('p1', buildItems(jobs(2)).items, h.queue, 'default', { callbackUrl: 'http://127.0.0.1:9/hook' });
    const claimed = { attempts: 1, started_at: 0 };
    await h.store.advance({ checkId: check_id, project: 'p1', worker, finish: { index: 0, claimed, outcome: ok } });
    await h.store.advance({ checkId: check_id, project: 'p1', worker, finish: { index: 1, claimed, outcome: refused } });
    assert.equal((await h.store.getTask(check_id, 'p1'))?.status, 'Failed');
    // Undo what the second step did, as if the worker had died right after the task's own script.
    const k = h.store.keys;
    await h.redis.zrem(k.projectIndex('p1', 'Failed'), check_id);
    await h.redis.zrem(k.endedTimes('p1'), check_id);
    await h.redis.zadd(k.projectIndex('p1', 'Running'), 0, check_id);
    await h.redis.hset(k.unfinished('p1'), check_id, 1, 'total', 1);
    await h.redis.zadd(k.openTasks(), Date.now(), check_id);
    await h.redis.zrem(k.callbacksDue(), check_id);
    assert.equal(await h.store.unfinishedItems('p1'), 1);

    await reaper.reapOnce(Date.now());
    assert.deepEqual(await indexesOf(check_id), ['Failed']);
    assert.equal(await h.store.unfinishedItems('p1'), 0);
    assert.equal(await h.redis.zscore(k.openTasks(), check_id), null);
    assert.notEqual(await h.redis.zscore(k.callbacksDue(), check_id), null, 'its callback is made due');
    assert.deepEqual(
      (await h.store.listTasks('p1', { limit: 10 })).checks.map((c) => [c.check_id, c.status]),
      [[check_id, 'Failed']],
    );
    await reaper.close();
  });

  it('a submission that died after reserving its project side is undone by a worker, and cannot store its task after that', async () => {
    const { EnqueueRecovery } = await import('@conncheck/worker');
    const { quietLogger } = await import('./lib/harness.js');
    const { SecretBox } = await import('@conncheck/core');
    // The dying API: its own connection, whose storeTask never returns (defined before the store defines the real one).
    const dying = testRedis('dying-api');
    await dying.connect();
    (dying as unknown as { storeTask: () => Promise<never> }).storeTask = () => new Promise<never>(() => undefined);
    const { TaskStore } = await import('@conncheck/store');
    const dyingStore = new TaskStore({ redis: dying, prefix: h.prefix, secretBox: SecretBox.random() });
    const { items } = buildItems(jobs(4));
    void dyingStore.submit('p1', items, h.queue, 'default', { idempotency: { key: 'k-1', body: { a: 1 } } });
    let checkId = '';
    await waitFor(
      async () => {
        checkId = (await h.redis.zrange(h.store.keys.enqueueIntents(), '0', '-1'))[0] ?? '';
        return checkId !== '' && (await h.store.unfinishedItems('p1')) === 4 ? true : undefined;
      },
      5000,
      'the reservation',
    );
    assert.deepEqual(await indexesOf(checkId), ['Pending']);
    assert.equal(await h.store.getTask(checkId, 'p1'), undefined, 'the task itself is not stored');

    const recovery = new EnqueueRecovery({ store: h.store, queue: h.queue, logger: quietLogger });
    assert.equal(await recovery.recoverOnce(Date.now()), 0, 'a submission under way is left alone');
    assert.equal(await recovery.recoverOnce(Date.now() + 2500), 0, 'nothing to enqueue: it was never stored');
    assert.equal(await h.store.unfinishedItems('p1'), 0, 'its backlog is released');
    assert.deepEqual(await indexesOf(checkId), []);
    assert.equal(await h.redis.zcard(h.store.keys.openTasks()), 0);
    assert.equal(await h.redis.zcard(h.store.keys.enqueueIntents()), 0);
    // The dead submission can no longer store it: the check id is marked abandoned (and the mark expires).
    const k = h.store.keys.task(checkId);
    const store = (h.redis as unknown as { storeTask: (...args: (string | number)[]) => Promise<string> }).storeTask;
    assert.equal(await store.call(h.redis, k.task, k.items, k.specs, k.secrets, checkId, 0, '[]', 'p1', 'BatchConnection', '{}', 0, '{}', 0), 'abandoned');
    assert.ok((await h.redis.ttl(k.task)) > 0);
    assert.equal(await h.store.getTask(checkId, 'p1'), undefined);
    // Its Idempotency-Key was released with it: the client's retry creates the task.
    const retry = await h.store.submit('p1', items, h.queue, 'default', { idempotency: { key: 'k-1', body: { a: 1 } } });
    assert.equal(retry.replayed, false);
    assert.notEqual(retry.check_id, checkId);
    await recovery.close();
    await dyingStore.close();
    dying.disconnect();
  });
});

describe('isUnavailableError', () => {
  it('tells a Redis that cannot be reached from one that answered with an error, and from a bug', async () => {
    const h = await harness();
    try {
      const answered = await h.redis.call('NO-SUCH-COMMAND').then(
        () => undefined,
        (err: unknown) => err,
      );
      assert.equal(isUnavailableError(answered, h.redis), false, 'a ReplyError: Redis is there');
      // The API's connection (no offline queue) to a port nothing listens on: ioredis rejects with a bare Error.
      const away = createRedis(`redis://127.0.0.1:${await freePort()}`, 'api', 'unavailable-test');
      away.on('error', () => undefined);
      const refused = await away.get('k').then(
        () => undefined,
        (err: unknown) => err,
      );
      away.disconnect();
      assert.ok(refused instanceof Error);
      assert.equal(isUnavailableError(refused, away), true, String(refused));
      assert.equal(isUnavailableError(Object.assign(new Error('read'), { code: 'ECONNRESET' }), h.redis), true, 'a socket error code');
      assert.equal(isUnavailableError(new TypeError('x is undefined'), away), false, 'a bug is not an outage');
      assert.equal(isUnavailableError(new Error('something else'), h.redis), false);
    } finally {
      await h.close();
    }
  });
});
