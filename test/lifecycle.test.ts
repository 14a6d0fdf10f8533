// A task's whole life in Redis, with nothing stranded and nothing left behind: submissions that cannot strand work
// (enqueue intents), Idempotency-Key, retention counted from the end, and no key of a task left once its retention
// has passed. (The reaper's tests are in store.test.ts.)

import assert from 'node:assert/strict';
import { after, afterEach, before, beforeEach, describe, it } from 'node:test';
import { type BatchJob, buildItems } from '@conncheck/core';
import { TaskQueue } from '@conncheck/store';
import { EnqueueRecovery } from '@conncheck/worker';
import { type Harness, harness, quietLogger, scanKeys, waitFor } from './lib/harness.js';
import { type Pipeline, startPipeline } from './lib/pipeline.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function jobs(n: number, extra: Partial<BatchJob> = {}): BatchJob[] {
  return Array.from({ length: n }, (_, i) => ({ id: `job-${i}`, db_type: 'tcp', ip: '127.0.0.1', db_port: 1000 + i, ...extra }));
}

const keysUnder = (h: Harness): Promise<string[]> => scanKeys(h.redis, `${h.prefix}:*`);

describe('submission', () => {
  let h: Harness;
  beforeEach(async () => {
    h = await harness();
  });
  afterEach(async () => {
    await h.close();
  });

  it('a task stored by a submission that died before adding its jobs gets them from a worker within seconds', async () => {
    // The API process dies between storing the task and adding its jobs: here, an enqueue that never returns.
    class DyingQueue extends TaskQueue {
      override enqueue(): Promise<number> {
        return new Promise(() => undefined);
      }
    }
    const dying = new DyingQueue(h.redis, h.store.keys);
    const { items } = buildItems(jobs(250));
    const submitting = h.store.submit('p1', items, dying, 'default');
    let checkId: string | undefined;
    await waitFor(
      async () => {
        // The intent comes first, the task last: wait for the task (the recovery below runs "2.5 s later").
        checkId = (await h.redis.zrange(h.store.keys.enqueueIntents(), '0', '-1'))[0];
        return checkId && (await h.store.taskInfo(checkId)) ? true : undefined;
      },
      5000,
      'the task to be stored',
    );
    void submitting;
    const queue = h.queue.queue('default');
    assert.equal(await queue.count(), 0, 'no job was added');

    const recovery = new EnqueueRecovery({ store: h.store, queue: h.queue, logger: quietLogger });
    assert.equal(await recovery.recoverOnce(Date.now()), 0, 'a submission still under way is left alone');
    assert.equal(await recovery.recoverOnce(Date.now() + 2500), 1);
    // 250 items are 25 jobs of 10; adding them again changes nothing.
    assert.equal(await queue.count(), 25);
    assert.equal(await h.redis.zcard(h.store.keys.enqueueIntents()), 0);
    await h.queue.enqueue(checkId!, 'p1', [['default', 250]]);
    assert.equal(await queue.count(), 25);
    await recovery.close();
    await dying.close();
  });

  it('a rejected submission stores nothing: over the backlog, or an Idempotency-Key reused for another body', async () => {
    const { items } = buildItems(jobs(3));
    const first = await h.store.submit('p1', items, h.queue, 'default', { maxUnfinished: 5, idempotency: { key: 'k1', body: { a: 1 } } });
    // The submission answers once the task and its intent are stored; its jobs are added just after.
    assert.equal(await first.enqueued, true);
    await waitFor(async () => ((await h.redis.zcard(h.store.keys.enqueueIntents())) === 0 ? true : undefined), 5000, 'the intent to be cleared');
    const before = await keysUnder(h);
    await assert.rejects(h.store.submit('p1', items, h.queue, 'default', { maxUnfinished: 5 }), { name: 'BacklogFullError' });
    await assert.rejects(h.store.submit('p1', items, h.queue, 'default', { idempotency: { key: 'k1', body: { a: 2 } } }), { name: 'IdempotencyConflictError' });
    assert.deepEqual(await keysUnder(h), before);
    assert.equal(await h.store.unfinishedItems('p1'), 3);
  });
});

describe('Idempotency-Key over HTTP', () => {
  let p: Pipeline;
  before(async () => {
    p = await startPipeline({ CONNCHECK_WORKER_CONCURRENCY: '4' });
  });
  after(async () => {
    await p.close();
  });
  const post = (body: unknown, key?: string) =>
    p.app.inject({
      method: 'POST',
      url: '/v3/proj/jobs/batch-connection',
      headers: { 'content-type': 'application/json', ...(key === undefined ? {} : { 'idempotency-key': key }) },
      payload: JSON.stringify(body),
    });

  it('the same key with the same body answers the first check_id, also when the requests race', async () => {
    const listener = await p.listen((s) => s.end());
    const body = { jobs: [{ id: 'a', db_type: 'tcp', ip: '127.0.0.1', db_port: listener.port }] };
    const answers = await Promise.all(Array.from({ length: 10 }, () => post(body, 'retry-me-1')));
    const ids = new Set(answers.map((a) => a.json().check_id));
    assert.equal(ids.size, 1, 'one task for ten racing requests');
    assert.deepEqual(
      answers.map((a) => a.statusCode),
      Array(10).fill(202),
    );
    assert.equal(answers.filter((a) => a.headers['idempotent-replayed'] === 'true').length, 9);
    const [checkId] = [...ids] as [string];
    await p.finished(checkId);
    // Key order and spacing do not make another body; the replay tells the task's status now.
    const reordered = await post({ jobs: [{ db_port: listener.port, ip: '127.0.0.1', db_type: 'tcp', id: 'a' }] }, 'retry-me-1');
    assert.equal(reordered.statusCode, 202);
    assert.equal(reordered.json().check_id, checkId);
    assert.equal(reordered.json().status, 'Succeeded');
    const list = (await p.app.inject('/v1/proj/checks')).json();
    assert.equal(list.checks.filter((c: { check_id: string }) => c.check_id === checkId).length, 1);
    assert.equal(list.checks.length, 1);
  });

  it('the same key with another body is a 409 naming the first check; another key is another task', async () => {
    const body = (port: number) => ({ jobs: [{ id: 'b', db_type: 'tcp', ip: '127.0.0.1', db_port: port }] });
    const first = await post(body(1), 'key-2');
    assert.equal(first.statusCode, 202);
    const conflict = await post(body(2), 'key-2');
    assert.equal(conflict.statusCode, 409);
    assert.equal(conflict.json().error_code, 'CC.IDEMPOTENCY_KEY_REUSED');
    assert.match(conflict.json().error_msg, new RegExp(`check ${first.json().check_id}`));
    const other = await post(body(1), 'key-3');
    assert.notEqual(other.json().check_id, first.json().check_id);
    const noKey = await post(body(1));
    assert.notEqual(noKey.json().check_id, first.json().check_id);
  });

  it('a malformed key is a 400 naming the header', async () => {
    for (const key of ['', 'x'.repeat(256), 'with space']) {
      const res = await post({ jobs: [{ id: 'c', db_type: 'tcp', ip: '127.0.0.1', db_port: 1 }] }, key);
      assert.equal(res.statusCode, 400, key);
      assert.equal(res.json().error_code, 'CC.INVALID_PARAMETER');
      assert.match(res.json().error_msg, /idempotency-key/);
    }
  });
});

describe('retention and keys', () => {
  let p: Pipeline;
  before(async () => {
    p = await startPipeline({ CONNCHECK_RETENTION_SECONDS: '1', CONNCHECK_WORKER_CONCURRENCY: '40' });
  });
  after(async () => {
    await p.close();
  });

  it('an open task is kept however long it waits; retention counts from its end', async () => {
    // A pool no worker serves: the task waits past the retention, and is still there.
    const { check_id } = await p.h.store.submit('proj', buildItems(jobs(1)).items, p.h.queue, 'nobody');
    await sleep(1600);
    assert.equal((await p.h.store.getTask(check_id, 'proj'))?.status, 'Pending');
    assert.equal(await p.h.redis.ttl(p.h.store.keys.task(check_id).task), -1, 'no TTL while open');
    const canceled = await p.app.inject({ method: 'DELETE', url: `/v1/proj/checks/${check_id}` });
    assert.equal(canceled.statusCode, 200);
    assert.equal((await p.h.store.getTask(check_id, 'proj'))?.status, 'Canceled', 'still there right after its end');
    await sleep(1600);
    assert.equal(await p.h.store.getTask(check_id, 'proj'), undefined);
    assert.equal(await p.h.queue.queue('nobody').count(), 0, 'its waiting job went with the cancel');
  });

  it('after the retention of a burst of tasks, no key of theirs is left: not the task, its index entries, counters, jobs or keys', async () => {
    const listener = await p.listen((s) => s.end());
    const silent = await p.listen();
    const ids: string[] = [];
    for (let i = 0; i < 30; i++) {
      // A MySQL item that fails fast (with a password to seal), a TCP item that succeeds, a PostgreSQL item that hangs.
      const job =
        i % 3 === 0
          ? { id: `m${i}`, db_type: 'mysql', ip: '127.0.0.1', db_port: listener.port, db_user: 'u', db_password: `pw-${i}` }
          : i % 3 === 1
            ? { id: `t${i}`, db_type: 'tcp', ip: '127.0.0.1', db_port: listener.port }
            : { id: `p${i}`, db_type: 'postgresql', ip: '127.0.0.1', db_port: silent.port, db_user: 'u', db_password: `pw-${i}`, timeout_ms: 30_000 };
      const res = await p.app.inject({
        method: 'POST',
        url: `/v3/${i % 2 ? 'proj' : 'proj2'}/jobs/batch-connection`,
        headers: { 'content-type': 'application/json', ...(i % 4 === 0 ? { 'idempotency-key': `burst-${i}` } : {}) },
        payload: JSON.stringify({ jobs: [job, { ...job, id: `${job.id}-2` }] }),
      });
      assert.equal(res.statusCode, 202, res.body);
      ids.push(res.json().check_id);
    }
    // The hanging ones are canceled (their probes would not end within the test).
    const open = () => p.h.redis.zcard(p.h.store.keys.openTasks());
    await waitFor(async () => ((await open()) <= 10 ? true : undefined), 20_000, 'the answering targets to end');
    for (const [i, id] of ids.entries()) {
      if (i % 3 === 2) assert.equal((await p.app.inject({ method: 'DELETE', url: `/v1/${i % 2 ? 'proj' : 'proj2'}/checks/${id}` })).statusCode, 200);
    }
    assert.equal(await open(), 0);
    // Running jobs of canceled tasks finish and are removed.
    await waitFor(
      async () => ((await p.h.queue.queue('default').getJobCountByTypes('active', 'waiting', 'delayed')) === 0 ? true : undefined),
      10_000,
      'the queue to drain',
    );
    await sleep(2200);
    const left = await keysUnder(p.h);
    const ofTasks = left.filter((key) => ids.some((id) => key.includes(id)) || /:(idx|ended|unfinished|idem):\{/.test(key));
    assert.deepEqual(ofTasks, []);
    for (const key of [p.h.store.keys.openTasks(), p.h.store.keys.enqueueIntents()]) assert.equal(await p.h.redis.exists(key), 0, key);
    // What remains is the deployment's, not any task's: BullMQ's queue keys, and conncheck's meta, pool, heartbeat and reaper keys.
    for (const key of left)
      assert.match(
        key,
        new RegExp(
          `^${p.h.prefix}:(bull:\\{(checks-default|checks-nobody|webhooks)\\}:\\2:(meta|id|events|stalled-check|marker)|\\{ctl\\}:(meta|pools|workers|worker:.+|reaper-(lock|cursor))|ratelimit:.+)$`,
        ),
        key,
      );
  });
});
