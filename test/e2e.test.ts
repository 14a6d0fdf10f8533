// End to end over real processes: the API and two worker processes started by `npm run start:api` / `start:worker`
// as the README says, a real port, real Redis, real MariaDB and PostgreSQL; and the one-line failure of a bad setting.
// `npm start` (API and worker in one process) is run by readme.test.ts, through the README's quick start.

import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { type AddressInfo, type Server, createServer } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { deleteKeys, redisEnv, testRedis, waitFor } from './lib/harness.js';
import { type Proc, freePort, startScript, waitUntilReady } from './lib/processes.js';
import { type TestServices, loadServices } from './lib/services.js';

const TOKEN = `e2e-${randomBytes(12).toString('hex')}`;

async function http(method: string, url: string, body?: unknown): Promise<{ status: number; json: any }> {
  const res = await fetch(url, {
    method,
    headers: { 'x-auth-token': TOKEN, ...(body ? { 'content-type': 'application/json' } : {}) },
    body: body ? JSON.stringify(body) : undefined,
  });
  return { status: res.status, json: await res.json() };
}

describe('separate API and worker processes', () => {
  let services: TestServices;
  let api: Proc;
  let workers: Proc[] = [];
  let base: string;
  let listener: Server;
  let listenerPort: number;
  let metricsPort: number;
  const prefix = `e2e${randomBytes(3).toString('hex')}`;
  let env: Record<string, string>;

  before(async () => {
    services = loadServices();
    const port = await freePort();
    base = `http://127.0.0.1:${port}`;
    env = {
      ...redisEnv(),
      PORT: String(port),
      CONNCHECK_SECRET_KEY: randomBytes(32).toString('base64'),
      CONNCHECK_AUTH_TOKENS: `${TOKEN}=proj1`,
      // With tokens, loopback is for tenants to reach only where the operator opens it; the test servers live there.
      CONNCHECK_TARGET_ALLOW: '127.0.0.0/8',
      CONNCHECK_REDIS_PREFIX: prefix,
      CONNCHECK_WORKER_CONCURRENCY: '20',
    };
    listener = createServer((socket) => socket.end());
    await new Promise<void>((r) => listener.listen(0, '127.0.0.1', r));
    listenerPort = (listener.address() as AddressInfo).port;
    api = startScript('start:api', env);
    metricsPort = await freePort();
    workers = [startScript('start:worker', { ...env, CONNCHECK_WORKER_METRICS_PORT: String(metricsPort) }), startScript('start:worker', env)];
    await waitUntilReady(base, api);
    // Both workers take jobs before the batch goes in, or the first to start may take them all.
    for (const w of workers) await waitFor(async () => (/"msg":"worker started"/.test(w.output()) ? true : undefined), 30_000, 'a worker to start');
  });

  after(async () => {
    for (const p of [api, ...workers]) p.kill();
    listener.close();
    const redis = testRedis('e2e-cleanup');
    await redis.connect();
    await deleteKeys(redis, `${prefix}:*`);
    redis.disconnect();
  });

  it("runs a batch built from seed 002's examples plus 300 TCP items, spread over both workers, in both views", async () => {
    const { mariadb, postgresql } = services;
    const jobs = [
      {
        id: '140b5236-88ad-43c8-811c-1268453jb101',
        ip: mariadb.host,
        net_type: 'eip',
        db_type: 'mysql',
        db_port: mariadb.port,
        db_user: mariadb.users.main.user,
        db_password: mariadb.users.main.password,
        inst_id: 'e05a3679efe241d8b5dee80b17c1a863in01',
        project_id: '054ba152d480d55b2f5dc0069e7ddef0',
        region: 'region-1',
        end_point_type: 'ta',
      },
      {
        id: '140b5236-88ad-43c8-811c-1268453jb101',
        ip: mariadb.host,
        net_type: 'eip',
        db_type: 'mysql',
        db_port: mariadb.port,
        db_user: mariadb.users.main.user,
        db_password: 'not-the-password',
        ssl_link: false,
        end_point_type: 'so',
      },
      {
        id: 'pg-source',
        ip: postgresql.host,
        net_type: 'vpc',
        vpc_id: 'vpc-1',
        subnet_id: 'subnet-1',
        db_type: 'postgresql',
        db_port: postgresql.port,
        db_user: postgresql.users.scram.user,
        db_password: postgresql.users.scram.password,
        db_name: postgresql.database,
        end_point_type: 'so',
      },
      ...Array.from({ length: 300 }, (_, i) => ({
        id: `tcp-${i}`,
        net_type: 'eip',
        db_type: 'tcp',
        ip: '127.0.0.1',
        db_port: listenerPort,
        end_point_type: 'ta',
      })),
    ];
    const submitted = await http('POST', `${base}/v3/proj1/jobs/batch-connection`, { jobs });
    assert.equal(submitted.status, 202, JSON.stringify(submitted.json));
    const checkId: string = submitted.json.check_id;
    const done = await waitFor(
      async () => {
        const { json } = await http('GET', `${base}/v1/proj1/checks/${checkId}`);
        return json.finished_at ? json : undefined;
      },
      60_000,
      'the batch to finish',
    );
    assert.equal(done.status, 'Failed');
    assert.deepEqual(done.summary, { total: 303, succeeded: 302, failed: 1, canceled: 0, running: 0, pending: 0 });
    assert.deepEqual(
      done.check_items.slice(0, 3).map((i: any) => [i.status, i.error_code]),
      [
        ['success', null],
        ['failed', 'AUTH_FAILED'],
        ['success', null],
      ],
    );
    assert.deepEqual([...new Set(done.check_items.map((i: any) => i.attempts))], [1], 'no item ran twice');
    const workerIds = new Set(done.check_items.map((i: any) => i.worker.id));
    assert.equal(workerIds.size, 2, 'both worker processes took part');

    const v3 = await http('GET', `${base}/v3/proj1/jobs/batch-connection/${checkId}`);
    assert.equal(v3.json.count, 303);
    assert.deepEqual(v3.json.results[0], { id: jobs[0]!.id, status: 'success', success: true });
    assert.equal(v3.json.results[1].error_code, 'AUTH_FAILED');

    const list = await http('GET', `${base}/v1/proj1/checks?status=Failed`);
    assert.deepEqual(
      list.json.checks.map((c: any) => c.check_id),
      [checkId],
    );
    const forbidden = await http('GET', `${base}/v1/proj2/checks`);
    assert.equal(forbidden.status, 403);

    const metrics = await (await fetch(`http://127.0.0.1:${metricsPort}/metrics`)).text();
    assert.match(metrics, /conncheck_items_completed_total\{db_type="tcp",status="success",error_code="",pool="default"\} \d+/);
  });

  it('stops gracefully on SIGTERM, and no process ever logged a password', async () => {
    for (const p of [api, ...workers]) p.signal('SIGTERM');
    const codes = await Promise.all([api, ...workers].map((p) => p.exited));
    assert.deepEqual(codes, [0, 0, 0]);
    const logs = [api, ...workers].map((p) => p.output()).join('\n');
    assert.ok(logs.includes('check submitted'), 'the API logged the submission');
    for (const secret of [
      services.mariadb.users.main.password,
      services.postgresql.users.scram.password,
      'not-the-password',
      TOKEN,
      env.CONNCHECK_SECRET_KEY!,
    ]) {
      assert.ok(!logs.includes(secret), 'a secret reached a log');
    }
  });
});

describe('a worker killed mid-job', () => {
  it('its items run again on another worker within 15 s with the default lock; the task ends with nothing double counted', async (t) => {
    const prefix = `kill${randomBytes(3).toString('hex')}`;
    // A server that never answers at first (the item hangs in worker A), then answers garbage (worker B's re-run
    // ends fast with PROTOCOL_ERROR).
    let hang = true;
    const connections: import('node:net').Socket[] = [];
    const server = createServer((socket) => {
      connections.push(socket);
      socket.on('error', () => undefined);
      socket.resume();
      if (!hang) socket.end('HTTP/1.1 400 Bad Request\r\n\r\n');
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const port = (server.address() as AddressInfo).port;
    const apiPort = await freePort();
    const env = {
      ...redisEnv(),
      PORT: String(apiPort),
      CONNCHECK_SECRET_KEY: randomBytes(32).toString('base64'),
      CONNCHECK_REDIS_PREFIX: prefix,
    };
    const api = startScript('start:api', env);
    const workerA = startScript('start:worker', env);
    let workerB: Proc | undefined;
    const base = `http://127.0.0.1:${apiPort}`;
    try {
      await waitUntilReady(base, api);
      const jobs = Array.from({ length: 3 }, (_, i) => ({
        id: `hang-${i}`,
        db_type: 'mysql',
        ip: '127.0.0.1',
        db_port: port,
        db_user: 'u',
        db_password: 'p',
        timeout_ms: 30_000,
      }));
      const res = await fetch(`${base}/v3/p/jobs/batch-connection`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ jobs }),
      });
      const { check_id } = (await res.json()) as { check_id: string };
      await waitFor(async () => (connections.length === 3 ? true : undefined), 10_000, 'worker A to connect to all three');
      workerA.kill();
      await workerA.exited;
      hang = false;
      for (const socket of connections) socket.destroy();
      const killedAt = Date.now();
      workerB = startScript('start:worker', env);
      const done = await waitFor(
        async () => {
          const t = (await (await fetch(`${base}/v1/p/checks/${check_id}`)).json()) as any;
          return t.finished_at ? t : undefined;
        },
        20_000,
        'the task to end after the kill',
      );
      const recovered = Date.now() - killedAt;
      t.diagnostic(`the killed worker's items ended on another worker ${recovered} ms after the kill`);
      assert.ok(recovered < 15_000, `${recovered} ms`);
      assert.equal(done.status, 'Failed');
      assert.deepEqual(done.summary, { total: 3, succeeded: 0, failed: 3, canceled: 0, running: 0, pending: 0 });
      for (const item of done.check_items) {
        assert.equal(item.error_code, 'PROTOCOL_ERROR');
        assert.equal(item.attempts, 2, 'run once by A, once by B');
      }
      assert.equal(new Set(done.check_items.map((i: any) => i.worker.id)).size, 1);
    } finally {
      for (const p of [api, workerA, workerB]) p?.kill();
      server.close();
      const redis = testRedis('kill-cleanup');
      await redis.connect();
      await deleteKeys(redis, `${prefix}:*`);
      redis.disconnect();
    }
  });
});

describe('process start-up', () => {
  it('a bad setting stops the process with one line naming the variable', async () => {
    const p = startScript('start:api', { PORT: 'eighty' });
    assert.equal(await p.exited, 2);
    assert.equal(p.serviceOutput(), 'conncheck: PORT: must be a whole number, got "eighty"\n');
  });

  it('a separate worker refuses to start without the shared secret key', async () => {
    const p = startScript('start:worker', {});
    assert.equal(await p.exited, 2);
    assert.match(p.serviceOutput(), /^conncheck: CONNCHECK_SECRET_KEY: required when workers run apart from the API/);
  });

  it('a worker with a bad CIDR stops with one line', async () => {
    const p = startScript('start:worker', {
      CONNCHECK_SECRET_KEY: randomBytes(32).toString('base64'),
      CONNCHECK_TARGET_ALLOW: '10.0.0.0/33',
      REDIS_URL: loadServices().redis.url,
    });
    assert.equal(await p.exited, 2);
    assert.match(p.serviceOutput(), /^conncheck: CONNCHECK_TARGET_ALLOW: .*10\.0\.0\.0\/33.*\n$/);
  });
});
