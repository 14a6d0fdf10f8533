// Faults over real processes, started as the README starts them: the API killed mid-submit, a worker stopped with
// SIGTERM and a short grace, a worker whose metrics port is taken, and a Redis that lost its data. Each must leave
// nothing stranded and nothing falsely failed.

import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type AddressInfo, type Server, type Socket, createServer } from 'node:net';
import { after, describe, it } from 'node:test';
import { createRedis } from '@conncheck/store';
import { type RedisClient, StoreKeys } from '@conncheck/store';
import { deleteKeys, waitFor } from './lib/harness.js';
import { type Proc, freePort, startScript, waitUntilReady } from './lib/processes.js';
import { loadServices } from './lib/services.js';

interface Setup {
  env: Record<string, string>;
  base: string;
  redis: RedisClient;
  prefix: string;
  procs: Proc[];
  servers: Server[];
}

async function setup(extra: Record<string, string> = {}): Promise<Setup> {
  const prefix = `fault${randomBytes(3).toString('hex')}`;
  const port = await freePort();
  const redisUrl = loadServices().redis.url;
  const redis = createRedis(redisUrl, 'api', 'faults-test');
  await redis.connect();
  return {
    env: { REDIS_URL: redisUrl, PORT: String(port), CONNCHECK_SECRET_KEY: randomBytes(32).toString('base64'), CONNCHECK_REDIS_PREFIX: prefix, ...extra },
    base: `http://127.0.0.1:${port}`,
    redis,
    prefix,
    procs: [],
    servers: [],
  };
}

async function teardown(s: Setup): Promise<void> {
  for (const p of s.procs) p.kill();
  for (const server of s.servers) server.close();
  await deleteKeys(s.redis, `${s.prefix}:*`);
  s.redis.disconnect();
}

/** A listener whose connections are recorded with the time they arrived; `behave` decides what each gets. */
async function listener(s: Setup, behave: (socket: Socket) => void): Promise<{ port: number; arrivals: number[]; sockets: Socket[] }> {
  const arrivals: number[] = [];
  const sockets: Socket[] = [];
  const server = createServer((socket) => {
    arrivals.push(Date.now());
    sockets.push(socket);
    socket.on('error', () => undefined);
    socket.resume();
    behave(socket);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  s.servers.push(server);
  return { port: (server.address() as AddressInfo).port, arrivals, sockets };
}

async function getJson(url: string): Promise<any> {
  return (await fetch(url)).json();
}

/** Every task hash under the prefix, as stored (not the marks of submissions given up before their task was stored). */
async function storedTasks(s: Setup): Promise<Record<string, string>[]> {
  const tasks: Record<string, string>[] = [];
  let cursor = '0';
  do {
    const [next, keys] = await s.redis.scan(cursor, 'MATCH', `${s.prefix}:task:*`, 'COUNT', 1000);
    cursor = next;
    for (const key of keys) {
      const hash = await s.redis.hgetall(key);
      if (hash.project !== undefined) tasks.push({ ...hash, key });
    }
  } while (cursor !== '0');
  return tasks;
}

describe('the API killed mid-submit', () => {
  let s: Setup;
  after(() => s && teardown(s));

  it('every task it stored runs and ends: none waits for jobs that nobody will add', async (t) => {
    s = await setup({ CONNCHECK_MAX_PENDING_ITEMS: '1000000', CONNCHECK_WORKER_CONCURRENCY: '50' });
    const target = await listener(s, (socket) => socket.end());
    const api = startScript('start:api', s.env);
    const worker = startScript('start:worker', s.env);
    s.procs.push(api, worker);
    await waitUntilReady(s.base, api);

    const body = JSON.stringify({ jobs: Array.from({ length: 100 }, (_, i) => ({ id: `t${i}`, db_type: 'tcp', ip: '127.0.0.1', db_port: target.port })) });
    let answered = 0;
    const requests = Array.from({ length: 40 }, () =>
      fetch(`${s.base}/v3/p/jobs/batch-connection`, { method: 'POST', headers: { 'content-type': 'application/json' }, body }).then(
        (res) => {
          answered++;
          return res.status;
        },
        () => 'cut off',
      ),
    );
    // Kill it while submissions are under way: after the first few answers, with most still in flight.
    await waitFor(async () => (answered >= 3 ? true : undefined), 20_000, 'the first answers');
    api.kill();
    const killedAt = Date.now();
    const outcomes = await Promise.all(requests);
    const cutOff = outcomes.filter((o) => o === 'cut off').length;
    t.diagnostic(`${outcomes.length - cutOff} submissions answered, ${cutOff} cut off by the kill`);

    const tasks = await waitFor(
      async () => {
        const all = await storedTasks(s);
        return all.every((task) => task.finished_at !== undefined) ? all : undefined;
      },
      10_000,
      'every stored task to end within 10 s of the kill',
    );
    const elapsed = Date.now() - killedAt;
    t.diagnostic(`${tasks.length} tasks stored, all ended ${elapsed} ms after the kill`);
    assert.ok(tasks.length >= 3);
    for (const task of tasks) {
      assert.equal(task.status, 'Succeeded', `${task.key}: ${task.message}`);
      assert.equal(task.succeeded, '100');
    }
    // Intents the dead API left behind are cleared by the workers' next look (every 2 s): the jobs of a task stored
    // are added, and a submission cut off before its task was stored is undone (its backlog and index entry).
    const keys = new StoreKeys(s.prefix);
    await waitFor(async () => ((await s.redis.zcard(keys.enqueueIntents())) === 0 ? true : undefined), 6000, 'the intents to be cleared');
    assert.equal(await s.redis.zcard(keys.openTasks()), 0);
    assert.equal(await s.redis.exists(keys.unfinished('p')), 0, 'no backlog is left');
    assert.equal(await s.redis.zcard(keys.projectIndex('p', 'Pending')), 0);
    assert.equal(await s.redis.zcard(keys.projectIndex('p', 'Succeeded')), tasks.length);
  });
});

describe('a worker stopped with SIGTERM and a short grace', () => {
  let s: Setup;
  after(() => s && teardown(s));

  it('starts no item after the signal, hands the unfinished ones back (never failed or canceled) and exits within the grace', async (t) => {
    s = await setup({ CONNCHECK_WORKER_CONCURRENCY: '10', CONNCHECK_SHUTDOWN_GRACE_MS: '1500' });
    let answer = false;
    const target = await listener(s, (socket) => {
      if (answer) socket.end('HTTP/1.1 400 Bad Request\r\n\r\n');
    });
    const api = startScript('start:api', s.env);
    const first = startScript('start:worker', s.env);
    s.procs.push(api, first);
    await waitUntilReady(s.base, api);
    // 300 items: jobs of 3, so each job has items left to hand back.
    const jobs = Array.from({ length: 300 }, (_, i) => ({
      id: `pg${i}`,
      db_type: 'postgresql',
      ip: '127.0.0.1',
      db_port: target.port,
      db_user: 'u',
      db_password: 'p',
      timeout_ms: 30_000,
    }));
    const res = await fetch(`${s.base}/v3/p/jobs/batch-connection`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ jobs }),
    });
    const { check_id: checkId } = (await res.json()) as { check_id: string };
    await waitFor(async () => (target.arrivals.length === 10 ? true : undefined), 15_000, 'ten probes running');

    const signaledAt = Date.now();
    first.signal('SIGTERM');
    const code = await first.exited;
    const took = Date.now() - signaledAt;
    t.diagnostic(`the worker exited ${took} ms after SIGTERM (grace 1500 ms)`);
    assert.equal(code, 0, first.output());
    assert.ok(took < 1500 + 3000, `exited within the grace plus a small bound (${took} ms)`);
    assert.equal(target.arrivals.filter((at) => at > signaledAt + 50).length, 0, 'no probe started after the signal');
    const stopped = await getJson(`${s.base}/v1/p/checks/${checkId}`);
    assert.deepEqual(stopped.summary, { total: 300, succeeded: 0, failed: 0, canceled: 0, running: 0, pending: 300 });
    const handedBack = stopped.check_items.filter((i: any) => i.attempts === 1);
    assert.equal(handedBack.length, 10, 'the ten running items are pending again, their attempt counted');

    answer = true;
    for (const socket of target.sockets) socket.destroy();
    const second = startScript('start:worker', s.env);
    s.procs.push(second);
    const done = await waitFor(
      async () => {
        const task = await getJson(`${s.base}/v1/p/checks/${checkId}?include_items=false`);
        return task.finished_at ? task : undefined;
      },
      30_000,
      'the task to end on the second worker',
    );
    assert.deepEqual(done.summary, { total: 300, succeeded: 0, failed: 300, canceled: 0, running: 0, pending: 0 });
    const items = (await getJson(`${s.base}/v1/p/checks/${checkId}`)).check_items;
    assert.deepEqual([...new Set(items.map((i: any) => i.error_code))], ['PROTOCOL_ERROR']);
    assert.deepEqual(
      items
        .filter((i: any) => i.attempts === 2)
        .map((i: any) => i.index)
        .sort(),
      handedBack.map((i: any) => i.index).sort(),
      'the handed-back items ran once more, the others once',
    );
    assert.equal(items.filter((i: any) => i.attempts !== 1 && i.attempts !== 2).length, 0);
  });
});

describe('a worker whose metrics port is taken', () => {
  let s: Setup;
  after(() => s && teardown(s));

  it('stops before it takes any job', async () => {
    s = await setup();
    const taken = await listener(s, () => undefined);
    const api = startScript('start:api', s.env);
    s.procs.push(api);
    await waitUntilReady(s.base, api);
    const res = await fetch(`${s.base}/v3/p/jobs/batch-connection`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ jobs: [{ id: 'x', db_type: 'tcp', ip: '127.0.0.1', db_port: taken.port }] }),
    });
    const { check_id: checkId } = (await res.json()) as { check_id: string };
    const worker = startScript('start:worker', { ...s.env, CONNCHECK_WORKER_METRICS_PORT: String(taken.port) });
    s.procs.push(worker);
    assert.equal(await worker.exited, 1);
    assert.match(worker.serviceOutput(), /^conncheck: CONNCHECK_WORKER_METRICS_PORT: .*EADDRINUSE/m);
    const task = await getJson(`${s.base}/v1/p/checks/${checkId}`);
    assert.equal(task.status, 'Pending');
    assert.equal(task.check_items[0].attempts, 0);
    assert.equal(taken.arrivals.length, 0);
  });
});

describe('a worker with another secret key, and a cancel while a probe runs', () => {
  let s: Setup;
  after(() => s && teardown(s));

  it('the worker says once per task that it cannot decrypt; metrics count the canceled probe as canceled, not failed', async () => {
    s = await setup();
    const { mariadb } = loadServices();
    const silent = await listener(s, () => undefined);
    const api = startScript('start:api', s.env);
    const metricsPort = await freePort();
    const worker = startScript('start:worker', {
      ...s.env,
      CONNCHECK_SECRET_KEY: randomBytes(32).toString('base64'),
      CONNCHECK_WORKER_METRICS_PORT: String(metricsPort),
    });
    s.procs.push(api, worker);
    await waitUntilReady(s.base, api);
    const password = mariadb.users.main.password;
    const res = await fetch(`${s.base}/v3/p/jobs/batch-connection`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        jobs: [
          { id: 'db-1', db_type: 'mysql', ip: mariadb.host, db_port: mariadb.port, db_user: mariadb.users.main.user, db_password: password },
          { id: 'db-2', db_type: 'mysql', ip: mariadb.host, db_port: mariadb.port, db_user: mariadb.users.main.user, db_password: password },
          { id: 'slow', db_type: 'tcp', ip: '127.0.0.1', db_port: silent.port, ssl_link: true, timeout_ms: 60_000 },
        ],
      }),
    });
    const { check_id: checkId } = (await res.json()) as { check_id: string };
    await waitFor(
      async () => {
        const task = await getJson(`${s.base}/v1/p/checks/${checkId}`);
        return task.summary.failed === 2 && silent.arrivals.length === 1 ? true : undefined;
      },
      30_000,
      'the two mysql items to fail and the tcp probe to start',
    );
    const task = await getJson(`${s.base}/v1/p/checks/${checkId}`);
    assert.deepEqual(
      task.check_items.slice(0, 2).map((i: { error_code: string }) => i.error_code),
      ['CREDENTIALS_UNAVAILABLE', 'CREDENTIALS_UNAVAILABLE'],
    );
    const lines = worker
      .serviceOutput()
      .split('\n')
      .filter((l) => l.includes('cannot decrypt'))
      .map((l) => JSON.parse(l) as { check_id: string; level: number });
    assert.equal(lines.length, 1, 'one line for the task, not one per item');
    assert.equal(lines[0]!.check_id, checkId);
    assert.equal(lines[0]!.level, 50);

    assert.equal((await fetch(`${s.base}/v1/p/checks/${checkId}`, { method: 'DELETE' })).status, 200);
    const worked = await waitFor(
      async () => {
        const text = await (await fetch(`http://127.0.0.1:${metricsPort}/metrics`)).text();
        return /status="canceled"/.test(text) ? text : undefined;
      },
      10_000,
      'the worker to count the canceled probe',
    );
    assert.match(worked, /conncheck_items_completed_total\{db_type="tcp",status="canceled",error_code="CANCELED",pool="default"\} 1\n/);
    assert.match(worked, /conncheck_items_completed_total\{db_type="mysql",status="failed",error_code="CREDENTIALS_UNAVAILABLE",pool="default"\} 2\n/);
    assert.doesNotMatch(worked, /status="failed",error_code="CANCELED"/);
    const apiMetrics = await (await fetch(`${s.base}/metrics`)).text();
    assert.match(apiMetrics, /^conncheck_items_canceled_total 1$/m);
    for (const proc of [api, worker]) assert.ok(!proc.output().includes(password), 'the password never reaches a log');
  });
});

describe('Redis without persistence, and Redis that lost its data', () => {
  let s: Setup;
  after(() => s && teardown(s));

  it('says so at start, and when Redis comes back empty; a lost task is a 404 that says it was lost', async () => {
    s = await setup();
    const api = startScript('start:api', s.env);
    const worker = startScript('start:worker', s.env);
    s.procs.push(api, worker);
    await waitUntilReady(s.base, api);
    await waitFor(async () => (/"msg":"worker started"/.test(worker.output()) ? true : undefined), 30_000, 'the worker to start');
    // The test Redis runs with `--save "" --appendonly no`.
    for (const p of [api, worker]) assert.match(p.output(), /"msg":"Redis has no persistence \(appendonly no, save \\"\\"\)/);

    const res = await fetch(`${s.base}/v3/p/jobs/batch-connection`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ jobs: [{ id: 'x', db_type: 'tcp', ip: '127.0.0.1', db_port: 1 }] }),
    });
    const { check_id: checkId } = (await res.json()) as { check_id: string };
    await waitFor(async () => ((await getJson(`${s.base}/v1/p/checks/${checkId}`)).finished_at ? true : undefined), 10_000, 'the task to end');
    // Redis "restarts empty": conncheck's data is gone and the API's connection drops.
    await new Promise((r) => setTimeout(r, 5));
    await deleteKeys(s.redis, `${s.prefix}:*`);
    const clients = (await s.redis.client('LIST')) as string;
    for (const line of clients.split('\n').filter((l) => / name=conncheck-api /.test(l))) {
      await s.redis.client('KILL', 'ID', /id=(\d+)/.exec(line)![1]!);
    }
    await waitFor(async () => (/Redis came back without its data/.test(api.output()) ? true : undefined), 10_000, 'the API to notice');
    const lost = await fetch(`${s.base}/v1/p/checks/${checkId}`);
    assert.equal(lost.status, 404);
    assert.match(((await lost.json()) as { error_msg: string }).error_msg, /lost with Redis's earlier data/);
  });
});

describe('Redis stopped and started again under a running API and worker', () => {
  let s: Setup;
  let redisServer: ChildProcess | undefined;
  after(async () => {
    if (s) await teardown(s);
    redisServer?.kill('SIGKILL');
  });

  it('every line both processes print is one JSON object (no raw driver dumps), repeats are counted, and both serve again', async (t) => {
    const port = await freePort();
    const dir = mkdtempSync(join(tmpdir(), 'conncheck-redis-'));
    t.after(() => rmSync(dir, { recursive: true, force: true }));
    const startRedis = async (): Promise<ChildProcess> => {
      const proc = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', dir], {
        stdio: 'ignore',
      });
      await waitFor(
        async () => {
          const probe = createRedis(`redis://127.0.0.1:${port}`, 'api', 'faults-probe');
          probe.on('error', () => undefined);
          try {
            await probe.connect();
            return (await probe.ping()) === 'PONG' ? true : undefined;
          } catch {
            return undefined;
          } finally {
            probe.disconnect();
          }
        },
        10_000,
        'redis-server',
      );
      return proc;
    };
    redisServer = await startRedis();
    s = await setup({ REDIS_URL: `redis://127.0.0.1:${port}`, CONNCHECK_TARGET_ALLOW: '127.0.0.1/32' });
    const api = startScript('start:api', s.env);
    const worker = startScript('start:worker', s.env);
    s.procs.push(api, worker);
    await waitUntilReady(s.base, api);
    await waitFor(async () => (/"msg":"worker started"/.test(worker.output()) ? true : undefined), 30_000, 'the worker to start');

    redisServer.kill('SIGKILL');
    // Every connection retries every 2 s: 7 s gives each several failed attempts to log.
    await new Promise((r) => setTimeout(r, 7000));
    const down = await fetch(`${s.base}/readyz`);
    assert.equal(down.status, 503);
    redisServer = await startRedis();

    const target = await listener(s, (socket) => socket.end());
    const checkId = await waitFor(
      async () => {
        const res = await fetch(`${s.base}/v3/p/jobs/batch-connection`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ jobs: [{ id: 'x', db_type: 'tcp', ip: '127.0.0.1', db_port: target.port }] }),
        });
        return res.status === 202 ? ((await res.json()) as { check_id: string }).check_id : undefined;
      },
      15_000,
      'the API to accept a check again',
    );
    const task = await waitFor(
      async () => {
        const body = await getJson(`${s.base}/v1/p/checks/${checkId}`);
        return body.finished_at ? body : undefined;
      },
      30_000,
      'the worker to run it',
    );
    assert.equal(task.status, 'Succeeded');

    for (const proc of [api, worker]) {
      const lines = proc
        .serviceOutput()
        .split('\n')
        .filter((l) => l !== '');
      for (const line of lines) assert.doesNotThrow(() => JSON.parse(line), `not a JSON line: ${line}`);
    }
    const errorLines = worker
      .serviceOutput()
      .split('\n')
      .filter((l) => l.includes('"msg":"redis connection error"'))
      .map((l) => JSON.parse(l) as { redis: string });
    // Each connection logged the outage, and once only per kind of error within the half-minute.
    assert.ok(errorLines.length >= 3, `the worker's connections logged the outage: ${errorLines.length}`);
    assert.ok(errorLines.length <= 12, `repeats are not logged one by one: ${errorLines.length} lines`);
  });
});

describe('a synchronous check whose pool lost its only worker', () => {
  let s: Setup;
  after(() => s && teardown(s));

  it('answers 503 with Retry-After and the check_id, never a half result; the task runs when a worker comes', async () => {
    s = await setup({ CONNCHECK_SYNC_WAIT_MARGIN_MS: '500' });
    const target = await listener(s, (socket) => socket.end());
    const api = startScript('start:api', s.env);
    const worker = startScript('start:worker', { ...s.env, CONNCHECK_WORKER_POOL: 'zone-x' });
    s.procs.push(api, worker);
    await waitUntilReady(s.base, api);
    await waitFor(
      async () => ((await getJson(`${s.base}/v1/p/pools`)).pools.some((p: any) => p.name === 'zone-x' && p.served) ? true : undefined),
      10_000,
      'the worker to announce itself',
    );
    worker.kill();
    await worker.exited;

    // Its heartbeat is still fresh: the pool looks served, the task is stored, and nobody picks it up.
    const post = (path: string, body: unknown) =>
      fetch(`${s.base}${path}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
    const started = Date.now();
    const res = await post('/v1.0/p/clusters/zone-x/checkconnection', { address_and_ports: [{ address: '127.0.0.1', port: target.port }], timeout_ms: 500 });
    assert.ok(Date.now() - started < 5000, 'it did not hang');
    assert.equal(res.status, 503);
    assert.equal(res.headers.get('retry-after'), '5');
    const body = (await res.json()) as { error_code: string; error_msg: string; check_id: string };
    assert.equal(body.error_code, 'CC.CHECK_NOT_FINISHED');
    assert.match(body.error_msg, /no worker of pool "zone-x" picked it up/);
    assert.equal(res.headers.get('x-check-id'), body.check_id);
    assert.equal(res.headers.get('location'), `/v1/p/checks/${body.check_id}`);
    const gateway = await post('/v2/p/apigw/instances/zone-x/backend/connectivity/check', {
      backend_type: 'backend_address',
      backend_address: `127.0.0.1:${target.port}`,
      timeout_ms: 500,
    });
    assert.equal(gateway.status, 503);
    const gatewayBody = (await gateway.json()) as { check_id: string };

    const pool = (await getJson(`${s.base}/v1/p/pools`)).pools.find((p: any) => p.name === 'zone-x');
    assert.equal(pool.queue.waiting, 2);
    assert.ok(pool.oldest_wait_ms >= 500, `oldest wait ${pool.oldest_wait_ms}`);

    const second = startScript('start:worker', { ...s.env, CONNCHECK_WORKER_POOL: 'zone-x' });
    s.procs.push(second);
    for (const checkId of [body.check_id, gatewayBody.check_id]) {
      const done = await waitFor(
        async () => {
          const task = await getJson(`${s.base}/v1/p/checks/${checkId}`);
          return task.finished_at ? task : undefined;
        },
        15_000,
        'the task to run on the new worker',
      );
      assert.equal(done.status, 'Succeeded');
    }
  });
});
