// Saved connections (enhanced datasource connections) checked from several pools on a schedule, over real processes
// started as the README starts them: zone-a reaches the targets, zone-b's network policy forbids them, zone-c has no
// worker. Also: batch items routed to pools by `pool` and by net_type, and key rotation of saved credentials.

import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { type AddressInfo, type Server, createServer } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { type BatchJob, SecretBox, buildItems } from '@conncheck/core';
import { ConnectionStore, createRedis } from '@conncheck/store';
import type { RedisClient } from '@conncheck/store';
import { deleteKeys, dumpKeys, harness, waitFor } from './lib/harness.js';
import { type Proc, freePort, startScript, waitUntilReady } from './lib/processes.js';
import { loadServices } from './lib/services.js';

describe('enhanced connections checked from several pools', () => {
  const services = loadServices();
  const prefix = `conn${randomBytes(3).toString('hex')}`;
  const TOKEN = `connections-${randomBytes(8).toString('hex')}`;
  const procs: Proc[] = [];
  let redis: RedisClient;
  let base: string;
  let metricsPort: number;
  let target: Server;
  let targetPort: number;
  const api = (method: string, path: string, body?: unknown) =>
    fetch(`${base}${path}`, {
      method,
      headers: { 'x-auth-token': TOKEN, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    }).then(async (res) => ({ status: res.status, json: (await res.json()) as any, text: '' }));
  const connection = (id: string) => api('GET', `/v2.0/p1/datasource/enhanced-connections/${id}`);
  const queue = (c: any, name: string) => c.available_queue_info.find((q: any) => q.name === name);

  before(async () => {
    const port = await freePort();
    base = `http://127.0.0.1:${port}`;
    metricsPort = await freePort();
    target = createServer((s) => s.end());
    await new Promise<void>((r) => target.listen(0, '127.0.0.1', r));
    targetPort = (target.address() as AddressInfo).port;
    const env = {
      REDIS_URL: services.redis.url,
      PORT: String(port),
      CONNCHECK_SECRET_KEY: randomBytes(32).toString('base64'),
      CONNCHECK_AUTH_TOKENS: `${TOKEN}=p1`,
      // With tokens, loopback is for tenants to reach only where the operator opens it; the test servers live there.
      CONNCHECK_TARGET_ALLOW: '127.0.0.0/8',
      CONNCHECK_REDIS_PREFIX: prefix,
      CONNCHECK_NET_TYPE_POOLS: 'vpn=zone-b',
    };
    procs.push(
      startScript('start:api', env),
      startScript('start:worker', { ...env, CONNCHECK_WORKER_POOL: 'zone-a', CONNCHECK_WORKER_METRICS_PORT: String(metricsPort) }),
      // zone-b's network may not reach the targets: its policy forbids loopback, as a firewall between zones would.
      startScript('start:worker', { ...env, CONNCHECK_WORKER_POOL: 'zone-b', CONNCHECK_TARGET_DENY: '127.0.0.0/8' }),
    );
    await waitUntilReady(base, procs[0]!);
    await waitFor(
      async () => {
        const pools = (await api('GET', '/v1/p1/pools')).json.pools;
        return ['zone-a', 'zone-b'].every((name) => pools.some((p: any) => p.name === name && p.served)) ? true : undefined;
      },
      15_000,
      'both pools to be served',
    );
    redis = createRedis(services.redis.url, 'api', 'connections-test');
    await redis.connect();
  });

  after(async () => {
    for (const p of procs) p.kill();
    target.close();
    await deleteKeys(redis, `${prefix}:*`);
    redis.disconnect();
  });

  let mysqlId: string;
  let tcpId: string;

  it('is ACTIVE from a pool that reaches it, FAILED with the reason from one that does not, CREATING where no worker is', async () => {
    const { mariadb } = services;
    const created = await api('POST', '/v2.0/p1/datasource/enhanced-connections', {
      name: 'orders_db',
      destination: {
        db_type: 'mysql',
        ip: 'orders-db.internal.invalid',
        db_port: mariadb.port,
        db_user: mariadb.users.main.user,
        db_password: mariadb.users.main.password,
      },
      hosts: [{ name: 'orders-db.internal.invalid', ip: '127.0.0.1' }],
      queues: ['zone-a', 'zone-b'],
      elastic_resource_pools: ['zone-c'],
      check_interval_seconds: 60,
      dest_vpc_id: 'vpc-1',
    });
    assert.equal(created.status, 201, JSON.stringify(created.json));
    assert.equal(created.json.is_success, true);
    assert.equal(created.json.message, 'Create peer connection for queues:{zone-a,zone-b,zone-c}');
    mysqlId = created.json.connection_id;

    const c = await waitFor(
      async () => {
        const view = (await connection(mysqlId)).json;
        return queue(view, 'zone-a').status !== 'CREATING' && queue(view, 'zone-b').status !== 'CREATING' ? view : undefined;
      },
      15_000,
      'the first checks from zone-a and zone-b',
    );
    assert.equal(c.status, 'ACTIVE');
    assert.equal(c.dest_vpc_id, 'vpc-1');
    assert.deepEqual(c.hosts, [{ name: 'orders-db.internal.invalid', ip: '127.0.0.1' }]);
    const a = queue(c, 'zone-a');
    assert.equal(a.status, 'ACTIVE', a.err_msg);
    assert.equal(a.err_msg, '');
    assert.equal(a.last_check.success, true);
    assert.deepEqual(
      a.last_check.stages.map((s: any) => `${s.name}:${s.status}`),
      ['dns:skipped', 'tcp:ok', 'auth:ok', 'probe:ok'],
    );
    assert.equal(a.last_check.stages[0].detail, '127.0.0.1 (from hosts)');
    const b = queue(c, 'zone-b');
    assert.equal(b.status, 'FAILED');
    assert.match(b.err_msg, /^TARGET_FORBIDDEN: "orders-db\.internal\.invalid" resolves to 127\.0\.0\.1; .*which this deployment may not connect to$/);
    const zc = queue(c, 'zone-c');
    assert.equal(zc.status, 'CREATING');
    assert.match(zc.waiting, /no live worker serves pool "zone-c"/);
    // Each check is an ordinary task of the pool it ran in.
    const task = (await api('GET', `/v1/p1/checks/${a.last_check.check_id}`)).json;
    assert.equal(task.type, 'EnhancedConnectionCheck');
    assert.equal(task.check_items[0].worker.pool, 'zone-a');

    // The password is in no response and nowhere in Redis in clear.
    const password = mariadb.users.main.password;
    for (const body of [created.json, c, task, (await api('GET', '/v2.0/p1/datasource/enhanced-connections')).json])
      assert.ok(!JSON.stringify(body).includes(password));
    assert.ok(!(await dumpKeys(redis, `${prefix}:*`)).includes(password), 'a password in clear in Redis');

    const taken = await api('POST', '/v2.0/p1/datasource/enhanced-connections', {
      name: 'orders_db',
      destination: { db_type: 'tcp', ip: '127.0.0.1', db_port: 1 },
    });
    assert.deepEqual([taken.status, taken.json.error_code], [409, 'CC.NAME_TAKEN']);
    const bad = await api('POST', '/v2.0/p1/datasource/enhanced-connections', { name: 'bad_one', destination: { db_type: 'mysql', ip: '10.0.0.1' } });
    assert.deepEqual([bad.status, bad.json.error_msg], [400, 'destination.db_user: is required for db_type mysql']);
  });

  it('re-checks on its schedule: the status flips when the target goes down, and the change is logged and counted', async () => {
    const created = await api('POST', '/v2.0/p1/datasource/enhanced-connections', {
      name: 'web_port',
      destination: { db_type: 'tcp', ip: '127.0.0.1', db_port: targetPort },
      queues: ['zone-a'],
      check_interval_seconds: 5,
    });
    tcpId = created.json.connection_id;
    await waitFor(async () => (queue((await connection(tcpId)).json, 'zone-a').status === 'ACTIVE' ? true : undefined), 10_000, 'ACTIVE');
    await new Promise<void>((r) => target.close(() => r()));
    const failed = await waitFor(
      async () => {
        const q = queue((await connection(tcpId)).json, 'zone-a');
        return q.status === 'FAILED' ? q : undefined;
      },
      15_000,
      'the scheduled re-check to find the target down',
    );
    assert.match(failed.err_msg, /^CONNECTION_REFUSED: /);
    const metrics = await (await fetch(`http://127.0.0.1:${metricsPort}/metrics`)).text();
    assert.match(metrics, /conncheck_connection_status_changes_total\{pool="zone-a",from="ACTIVE",to="FAILED"\} 1/);
    assert.match(procs[1]!.output(), /"from":"ACTIVE","to":"FAILED".*"msg":"saved connection status changed"/);
    // Up again: a check now (one call) brings it back without waiting for the schedule.
    target = createServer((s) => s.end());
    await new Promise<void>((r) => target.listen(targetPort, '127.0.0.1', r));
    const now = await api('POST', `/v2.0/p1/datasource/enhanced-connections/${tcpId}/check`);
    assert.equal(now.status, 202);
    assert.equal(now.json.checks.length, 1);
    await waitFor(async () => (queue((await connection(tcpId)).json, 'zone-a').status === 'ACTIVE' ? true : undefined), 10_000, 'ACTIVE again');
  });

  it('binds and unbinds pools, lists, and deletes: its schedules and credentials go with it', async () => {
    const bind = await api('POST', `/v2.0/p1/datasource/enhanced-connections/${tcpId}/associate-queue`, { queues: ['zone-b'] });
    assert.deepEqual(bind.json, { is_success: true, message: 'associated peer connection for queues: {zone-b}.' });
    await waitFor(async () => (queue((await connection(tcpId)).json, 'zone-b')?.status === 'FAILED' ? true : undefined), 10_000, 'zone-b checked');
    const schedulerKey = (pool: string) => `${prefix}:bull:{checks-${pool}}:checks-${pool}:repeat:conn.${tcpId}.${pool}`;
    assert.equal(await redis.exists(schedulerKey('zone-b')), 1, 'zone-b has a schedule');
    const unbind = await api('POST', `/v2.0/p1/datasource/enhanced-connections/${tcpId}/disassociate-queue`, { queues: ['zone-b'] });
    assert.deepEqual(unbind.json, { is_success: true, message: 'Disassociated peer connection for queues:{zone-b}.' });
    assert.equal(queue((await connection(tcpId)).json, 'zone-b'), undefined);
    assert.equal(await redis.exists(schedulerKey('zone-b')), 0, 'its schedule is gone');
    const notBound = await api('POST', `/v2.0/p1/datasource/enhanced-connections/${tcpId}/disassociate-queue`, { queues: ['zone-b'] });
    assert.equal(notBound.status, 400);

    const list = (await api('GET', '/v2.0/p1/datasource/enhanced-connections?limit=1')).json;
    assert.deepEqual([list.count, list.connections.length, list.connections[0].name], [2, 1, 'web_port']);
    assert.equal((await api('GET', '/v2.0/p1/datasource/enhanced-connections?name=orders')).json.connections[0].id, mysqlId);

    const deleted = await api('DELETE', `/v2.0/p1/datasource/enhanced-connections/${mysqlId}`);
    assert.deepEqual(deleted.json, { is_success: true, message: 'Deleted' });
    const view = (await connection(mysqlId)).json;
    assert.equal(view.status, 'DELETED');
    assert.equal(await redis.hexists(`${prefix}:conn:${mysqlId}`, 'secrets'), 0, 'its sealed credentials are gone');
    for (const pool of ['zone-a', 'zone-b', 'zone-c'])
      assert.equal(await redis.exists(`${prefix}:bull:{checks-${pool}}:checks-${pool}:repeat:conn.${mysqlId}.${pool}`), 0);
    assert.deepEqual(
      (await api('GET', '/v2.0/p1/datasource/enhanced-connections?status=DELETED')).json.connections.map((c: any) => c.id),
      [mysqlId],
    );
    assert.equal((await api('POST', `/v2.0/p1/datasource/enhanced-connections/${mysqlId}/check`)).status, 404);
    assert.equal((await api('DELETE', `/v2.0/p1/datasource/enhanced-connections/${mysqlId}`)).status, 404);
    // Its name is free again.
    const again = await api('POST', '/v2.0/p1/datasource/enhanced-connections', {
      name: 'orders_db',
      destination: { db_type: 'tcp', ip: '127.0.0.1', db_port: targetPort },
    });
    assert.equal(again.status, 201);
  });

  it('routes batch items to the pool their `pool` field or net_type names; an item in a pool nobody serves waits and says why', async () => {
    const jobs = [
      { id: 'by-field', db_type: 'tcp', ip: '127.0.0.1', db_port: targetPort, pool: 'zone-a' },
      { id: 'by-net-type', db_type: 'tcp', ip: '127.0.0.1', db_port: targetPort, net_type: 'vpn' },
      { id: 'default-pool', db_type: 'tcp', ip: '127.0.0.1', db_port: targetPort, net_type: 'eip' },
    ];
    const { json } = await api('POST', '/v3/p1/jobs/batch-connection', { jobs });
    const checkId = json.check_id;
    const task = await waitFor(
      async () => {
        const t = (await api('GET', `/v1/p1/checks/${checkId}`)).json;
        return t.summary.pending === 1 && t.summary.running === 0 ? t : undefined;
      },
      10_000,
      'the two served items to end',
    );
    assert.deepEqual(task.pools, ['zone-a', 'zone-b', 'default']);
    assert.deepEqual(
      task.check_items.map((i: any) => [i.id, i.pool, i.status, i.worker?.pool ?? null, i.error_code]),
      [
        ['by-field', 'zone-a', 'success', 'zone-a', null],
        ['by-net-type', 'zone-b', 'failed', 'zone-b', 'TARGET_FORBIDDEN'],
        ['default-pool', 'default', 'pending', null, null],
      ],
    );
    assert.match(task.check_items[2].waiting, /^no live worker serves pool "default"; the item runs when one starts$/);
    assert.match(task.message, /no live worker serves pool "default"/);
    assert.equal((await api('DELETE', `/v1/p1/checks/${checkId}`)).status, 200);
  });
});

describe('saved credentials across a key rotation', () => {
  it('open with the previous key while rotating, and are sealed again with the current one at their next check', async () => {
    const oldKey = randomBytes(32);
    const h = await harness();
    try {
      const job: BatchJob = { id: 'x', db_type: 'mysql', ip: '127.0.0.1', db_port: 1, db_user: 'u', db_password: 'rotate-me' };
      const { spec, secrets } = buildItems([job]).items[0]!;
      const before = new ConnectionStore(h.redis, h.store.keys, new SecretBox(oldKey), 60);
      const id = await before.create('p1', { name: 'c', spec, secrets, hosts: [], queues: ['zone-a'], check_interval_seconds: 60, extra: {} });
      const sealedBefore = (await h.redis.hget(h.store.keys.connection(id), 'secrets'))!;
      assert.equal(sealedBefore.split('.')[1], new SecretBox(oldKey).keyId);

      const rotating = new SecretBox(randomBytes(32), [oldKey]);
      const during = new ConnectionStore(h.redis, h.store.keys, rotating, 60);
      const checkId = await during.startCheck('p1', id, 'zone-a', h.store, h.queue);
      assert.ok(checkId);
      const sealedAfter = (await h.redis.hget(h.store.keys.connection(id), 'secrets'))!;
      assert.equal(sealedAfter.split('.')[1], rotating.keyId, 'sealed again with the current key');
      assert.equal(rotating.sealedWithPreviousKey(sealedAfter), false);
      assert.ok(!(await dumpKeys(h.redis, `${h.prefix}:*`)).includes('rotate-me'));
      // The old key alone can no longer open it: once every connection was checked, the old key can go.
      assert.throws(() => new SecretBox(oldKey).open(sealedAfter, `connection:${id}`), /sealed with key/);
    } finally {
      await h.close();
    }
  });
});
