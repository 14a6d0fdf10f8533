// The whole pipeline in one process — API (inject) → BullMQ → worker → store — against the real MariaDB and
// PostgreSQL of test/services and small real socket servers: results per item, immediacy, cancel, re-delivery.

import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { CheckItem } from '@conncheck/core';
import { waitFor } from './lib/harness.js';
import { type Pipeline, startPipeline } from './lib/pipeline.js';
import { freePort } from './lib/processes.js';
import { type TestServices, loadServices } from './lib/services.js';

describe('pipeline', () => {
  let p: Pipeline;
  let services: TestServices;

  before(async () => {
    services = loadServices();
    p = await startPipeline();
  });
  after(async () => {
    await p.close();
  });

  it("checks seed 002's MySQL and PostgreSQL examples against the real servers, with the right code per item", async () => {
    const { mariadb, postgresql } = services;
    const refused = await freePort();
    const base = { net_type: 'eip', end_point_type: 'so', ssl_link: false };
    const jobs = [
      {
        ...base,
        id: 'mysql-ok',
        db_type: 'mysql',
        ip: mariadb.host,
        db_port: mariadb.port,
        db_user: mariadb.users.main.user,
        db_password: mariadb.users.main.password,
      },
      { ...base, id: 'mysql-badpw', db_type: 'mysql', ip: mariadb.host, db_port: mariadb.port, db_user: mariadb.users.main.user, db_password: 'wrong' },
      {
        ...base,
        id: 'pg-ok',
        db_type: 'postgresql',
        ip: postgresql.host,
        db_port: postgresql.port,
        db_user: postgresql.users.scram.user,
        db_password: postgresql.users.scram.password,
        db_name: postgresql.database,
      },
      {
        ...base,
        id: 'pg-md5',
        db_type: 'postgresql',
        ip: `${postgresql.host}:${postgresql.port}`,
        db_user: postgresql.users.md5.user,
        db_password: postgresql.users.md5.password,
        db_name: postgresql.database,
      },
      {
        ...base,
        id: 'pg-nodb',
        db_type: 'postgresql',
        ip: postgresql.host,
        db_port: postgresql.port,
        db_user: postgresql.users.scram.user,
        db_password: postgresql.users.scram.password,
        db_name: 'no_such_db',
      },
      { ...base, id: 'tcp-refused', db_type: 'tcp', ip: '127.0.0.1', db_port: refused },
      { ...base, id: 'dns', db_type: 'tcp', ip: 'no-such-host.invalid', db_port: 5432 },
    ];
    const checkId = await p.submit(jobs);
    const done = await p.finished(checkId);
    assert.equal(done.status, 'Failed');
    assert.equal(done.message, '4 of 7 items failed');
    assert.deepEqual(done.summary, { total: 7, succeeded: 3, failed: 4, canceled: 0, running: 0, pending: 0 });
    const byId = new Map(done.check_items.map((i: CheckItem) => [i.id, i]));
    assert.deepEqual(
      jobs.map((j) => [j.id, byId.get(j.id)?.status, byId.get(j.id)?.error_code]),
      [
        ['mysql-ok', 'success', null],
        ['mysql-badpw', 'failed', 'AUTH_FAILED'],
        ['pg-ok', 'success', null],
        ['pg-md5', 'success', null],
        ['pg-nodb', 'failed', 'DATABASE_NOT_FOUND'],
        ['tcp-refused', 'failed', 'CONNECTION_REFUSED'],
        ['dns', 'failed', 'DNS_RESOLUTION_FAILED'],
      ],
    );
    const mysqlOk = byId.get('mysql-ok')!;
    assert.equal(mysqlOk.server?.product, 'MariaDB');
    assert.ok(mariadb.version.startsWith(mysqlOk.server.version.split('-')[0]!), `${mysqlOk.server?.version} vs ${mariadb.version}`);
    assert.deepEqual(
      mysqlOk.stages.map((s) => [s.name, s.status]),
      [
        ['dns', 'skipped'],
        ['tcp', 'ok'],
        ['auth', 'ok'],
        ['probe', 'ok'],
      ],
    );
    assert.equal(mysqlOk.attempts, 1);
    assert.ok(mysqlOk.started_at && mysqlOk.finished_at && mysqlOk.duration_ms !== null);
    assert.equal(byId.get('pg-ok')?.server?.product, 'PostgreSQL');
    const badpw = byId.get('mysql-badpw')!;
    assert.ok(!JSON.stringify(done).includes(services.mariadb.users.main.password), 'a password reached a result');
    assert.deepEqual(
      badpw.stages.map((s) => [s.name, s.status]),
      [
        ['dns', 'skipped'],
        ['tcp', 'ok'],
        ['auth', 'failed'],
        ['probe', 'skipped'],
      ],
    );

    const v3 = (await p.app.inject(`/v3/proj/jobs/batch-connection/${checkId}`)).json();
    assert.equal(v3.count, 7);
    assert.deepEqual(v3.results[0], { id: 'mysql-ok', status: 'success', success: true });
    assert.equal(v3.results[1].status, 'failed');
    assert.equal(v3.results[1].success, false);
    assert.equal(v3.results[1].error_code, 'AUTH_FAILED');
    assert.ok(v3.results[1].error_msg.length > 0);
  });

  it('writes each result as soon as it is known: fast items finish while a silent one is still running', async () => {
    const s = await p.listen();
    const fast = await p.listen((socket) => socket.end());
    const jobs = [
      { id: 'slow', db_type: 'mysql', ip: '127.0.0.1', db_port: s.port, db_user: 'u', db_password: 'p', timeout_ms: 3000 },
      ...Array.from({ length: 4 }, (_, i) => ({ id: `fast-${i}`, db_type: 'tcp', ip: '127.0.0.1', db_port: fast.port })),
    ];
    const checkId = await p.submit(jobs);
    const partial = await waitFor(
      async () => {
        const t = await p.task(checkId);
        return t.summary.succeeded === 4 ? t : undefined;
      },
      2500,
      'the fast items',
    );
    assert.equal(partial.status, 'Running');
    assert.equal(partial.check_items[0]?.status, 'running');
    const done = await p.finished(checkId);
    assert.equal(done.check_items[0]?.error_code, 'TIMEOUT');
    assert.ok(done.check_items[0].duration_ms! >= 2900 && done.check_items[0].duration_ms! < 4500, String(done.check_items[0].duration_ms));
  });

  it('cancel stops a running probe at once and the task never changes again', async () => {
    const s = await p.listen();
    const checkId = await p.submit([
      { id: 'hang', db_type: 'postgresql', ip: '127.0.0.1', db_port: s.port, db_user: 'u', db_password: 'p', timeout_ms: 60_000 },
    ]);
    await waitFor(async () => ((await p.task(checkId)).status === 'Running' && s.sockets.size > 0 ? true : undefined), 5000, 'the probe to connect');
    const res = await p.app.inject({ method: 'DELETE', url: `/v1/proj/checks/${checkId}` });
    assert.equal(res.statusCode, 200);
    await waitFor(async () => (s.sockets.size === 0 ? true : undefined), 3000, 'the worker to drop the connection');
    await new Promise((r) => setTimeout(r, 200));
    const t = await p.task(checkId);
    assert.equal(t.status, 'Canceled');
    assert.equal(t.check_items[0]?.error_code, 'CANCELED');
  });

  it('a job delivered twice changes nothing the second time', async () => {
    const fast = await p.listen((socket) => socket.end());
    const checkId = await p.submit([{ id: 'once', db_type: 'tcp', ip: '127.0.0.1', db_port: fast.port }]);
    const first = await p.finished(checkId);
    // BullMQ may run a job again (lost lock, stalled worker): simulate it with a copy of the job.
    const queue = p.h.queue.queue('default');
    await queue.add('check', { check_id: checkId, project: 'proj', from: 0, to: 0 }, { jobId: `${checkId}.again` });
    // Completed jobs are removed at once: the copy has run when it is gone.
    await waitFor(async () => (['completed', 'unknown'].includes(await queue.getJobState(`${checkId}.again`)) ? true : undefined), 5000, 'the copy to run');
    const second = await p.task(checkId);
    assert.deepEqual(second, first);
  });

  it('a job BullMQ gives up on as stalled too often fails its items instead of leaving them pending', async () => {
    await p.worker.close();
    const checkId = await p.submit([{ id: 'stalled', db_type: 'tcp', ip: '127.0.0.1', db_port: await freePort() }]);
    const queue = p.h.queue.queue('default');
    const [job] = await waitFor(async () => ((await queue.getWaiting()).length > 0 ? queue.getWaiting() : undefined), 5000, 'the job to wait');
    // What BullMQ's stall check writes on a job that stalled more than maxStalledCount times: the next worker fails it.
    await p.h.redis.hset(queue.toKey(job!.id!), 'defa', 'job stalled more than allowable limit');
    await p.replaceWorker(p.h.config);
    const done = await p.finished(checkId);
    assert.equal(done.check_items[0]?.error_code, 'INTERNAL_ERROR');
    assert.match(done.check_items[0]?.error_msg ?? '', /queue job failed repeatedly/);
  });

  it('a target the network policy forbids is never connected to', async () => {
    await p.replaceWorker({ ...p.h.config, targetDeny: '127.0.0.0/8' });
    try {
      let connections = 0;
      const s = await p.listen(() => connections++);
      const checkId = await p.submit([{ id: 'deny', db_type: 'tcp', ip: 'localhost', db_port: s.port }]);
      const done = await p.finished(checkId);
      assert.equal(done.check_items[0]?.error_code, 'TARGET_FORBIDDEN');
      assert.equal(connections, 0);
    } finally {
      await p.replaceWorker(p.h.config);
    }
  });
});

describe('a worker with 5 probe slots', () => {
  let p: Pipeline;
  before(async () => {
    p = await startPipeline({ CONNCHECK_WORKER_CONCURRENCY: '5' });
  });
  after(async () => {
    await p.close();
  });

  it("runs a job's items side by side and never more probes at once than it has slots", async () => {
    const silent = await p.listen();
    let most = 0;
    const sample = setInterval(() => (most = Math.max(most, silent.sockets.size)), 5);
    try {
      // 300 items make jobs of 3: the first job takes 3 slots, the second the 2 left, and no third job is fetched.
      const checkId = await p.submit(
        Array.from({ length: 300 }, (_, i) => ({ id: `s${i}`, db_type: 'tcp', ip: '127.0.0.1', db_port: silent.port, ssl_link: true, timeout_ms: 30_000 })),
      );
      const running = await waitFor(
        async () => {
          const t = await p.task(checkId);
          const ids = t.check_items.filter((i) => i.status === 'running').map((i) => i.id);
          return ids.length === 5 && silent.sockets.size === 5 ? ids : undefined;
        },
        10_000,
        'five probes to run',
      );
      assert.deepEqual(running, ['s0', 's1', 's2', 's3', 's4']);
      await new Promise((r) => setTimeout(r, 300));
      assert.equal(most, 5, 'never more than five at once');
      assert.equal((await p.task(checkId)).summary.running, 5);
      assert.equal((await p.app.inject({ method: 'DELETE', url: `/v1/proj/checks/${checkId}` })).statusCode, 200);
    } finally {
      clearInterval(sample);
    }
  });
});
