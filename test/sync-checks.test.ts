// The synchronous facades over real targets: the cluster connectivity test (seed 000) and the gateway backend check
// (seed 001) with its load-balancing channels, the pools view, and the 412 of a pool no worker serves.

import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { waitFor } from './lib/harness.js';
import { type Pipeline, blackhole, startPipeline } from './lib/pipeline.js';
import { freePort } from './lib/processes.js';

describe('cluster connectivity test', () => {
  let p: Pipeline;
  let open: number;
  let refused: number;
  let hole: { port: number; close(): void };
  before(async () => {
    p = await startPipeline({ CONNCHECK_TARGET_DENY: '127.0.0.99/32', CONNCHECK_SYNC_WAIT_MARGIN_MS: '2000' });
    open = (await p.listen((s) => s.end())).port;
    refused = await freePort();
    hole = await blackhole();
  });
  after(async () => {
    hole.close();
    await p.close();
  });
  const check = (body: unknown, cluster = 'default') =>
    p.app.inject({
      method: 'POST',
      url: `/v1.0/proj/clusters/${cluster}/checkconnection`,
      headers: { 'content-type': 'application/json' },
      payload: JSON.stringify(body),
    });

  it("answers each address with the original's integer, in input order, in the port type sent", async () => {
    const res = await check({
      address_and_ports: [
        { address: '127.0.0.1', port: open },
        { address: '127.0.0.1', port: String(refused) },
        { address: 'no-such-host.invalid', port: 9200 },
        { address: '127.0.0.1', port: hole.port },
        { address: '127.0.0.99', port: 9200 },
        { address: 'localhost', port: String(open) },
      ],
      timeout_ms: 1000,
    });
    assert.equal(res.statusCode, 200, res.body);
    const { result } = res.json();
    assert.deepEqual(
      result.map((r: any) => [r.address, r.port, r.status, r.error_code]),
      [
        ['127.0.0.1', open, 1, undefined],
        ['127.0.0.1', String(refused), 2, 'CONNECTION_REFUSED'],
        ['no-such-host.invalid', 9200, 3, 'DNS_RESOLUTION_FAILED'],
        ['127.0.0.1', hole.port, 0, 'CONNECTION_TIMEOUT'],
        ['127.0.0.99', 9200, 0, 'TARGET_FORBIDDEN'],
        ['localhost', String(open), 1, undefined],
      ],
    );
    assert.match(result[4].error_msg, /which this deployment may not connect to/);
    // The test is an ordinary task: its id in the headers, its stages in the task view.
    const checkId = res.headers['x-check-id'] as string;
    assert.equal(res.headers.location, `/v1/proj/checks/${checkId}`);
    const task = (await p.app.inject(`/v1/proj/checks/${checkId}`)).json();
    assert.equal(task.type, 'ClusterConnectivityTest');
    assert.equal(task.status, 'Failed');
    assert.equal(task.check_items[3].stages.find((s: any) => s.name === 'tcp').status, 'failed');
  });

  it("refuses port 0 (the original's default names no port) and bad input with a clear 400", async () => {
    const cases: [unknown, string][] = [
      // The port is required here: the original's default, 0, names no port.
      [{ address_and_ports: [{ address: '10.0.0.83' }] }, 'address_and_ports[0].port: is required'],
      [
        { address_and_ports: [{ address: '10.0.0.83', port: 0 }] },
        'address_and_ports[0].port: is none of the accepted forms: Port, 1–65535, as an integer or a string of digits (the original\'s own example sends "9200"); answered in the type sent. Required here: the original\'s default, 0, names no port.',
      ],
      [
        { address_and_ports: [{ address: '10.0.0.83', port: 70000 }] },
        'address_and_ports[0].port: is none of the accepted forms: Port, 1–65535, as an integer or a string of digits (the original\'s own example sends "9200"); answered in the type sent. Required here: the original\'s default, 0, names no port.',
      ],
      [
        { address_and_ports: [{ address: '10.0.0.83', port: '70000' }] },
        'address_and_ports[0].port: is none of the accepted forms: Port, 1–65535, as an integer or a string of digits (the original\'s own example sends "9200"); answered in the type sent. Required here: the original\'s default, 0, names no port.',
      ],
      [
        { address_and_ports: [{ address: '10.0.0.83', port: '0' }] },
        'address_and_ports[0].port: is none of the accepted forms: Port, 1–65535, as an integer or a string of digits (the original\'s own example sends "9200"); answered in the type sent. Required here: the original\'s default, 0, names no port.',
      ],
      [{ address_and_ports: [{ address: 'bad host!', port: 1 }] }, 'address_and_ports[0].address: "bad host!" is not an IP address or a valid host name'],
      [{ address_and_ports: [] }, 'address_and_ports: must NOT have fewer than 1 items'],
      [{ address_and_ports: [{ address: 'a', port: 1, extra: 1 }] }, 'address_and_ports[0].extra: unknown field'],
    ];
    for (const [body, message] of cases) {
      const res = await check(body);
      assert.equal(res.statusCode, 400, JSON.stringify(body));
      assert.equal(res.json().error_msg, message);
    }
  });

  it('is a 412 when no live worker serves the pool, and stores nothing', async () => {
    const res = await check({ address_and_ports: [{ address: '127.0.0.1', port: open }] }, 'zone-nobody');
    assert.equal(res.statusCode, 412);
    assert.equal(res.json().error_code, 'CC.POOL_NOT_SERVED');
    assert.match(res.json().error_msg, /^cluster_id zone-nobody: no live worker serves pool "zone-nobody"/);
    assert.equal(res.headers['x-check-id'], undefined);
  });

  it('the pools view shows the live worker and its queue', async () => {
    const res = await p.app.inject('/v1/proj/pools');
    assert.equal(res.statusCode, 200);
    const pool = res.json().pools.find((x: any) => x.name === 'default');
    assert.equal(pool.served, true);
    assert.equal(pool.workers.length, 1);
    assert.equal(pool.workers[0].id, p.worker.worker.ref.id);
    assert.equal(pool.workers[0].pid, process.pid);
    assert.deepEqual(pool.queue, { waiting: 0, active: 0, delayed: 0, failed: 0 });
    assert.equal(pool.oldest_wait_ms, null);
  });
});

describe('gateway backend connectivity check and VPC channels', () => {
  const TOKEN_A = 'token-project-a-000000000000';
  const TOKEN_B = 'token-project-b-000000000000';
  let p: Pipeline;
  let open: number;
  let refused: number;
  before(async () => {
    p = await startPipeline({
      CONNCHECK_AUTH_TOKENS: `${TOKEN_A}=projA;${TOKEN_B}=projB`,
      CONNCHECK_TARGET_ALLOW: '127.0.0.0/8,::1',
      CONNCHECK_TARGET_DENY: '127.0.0.99/32',
    });
    open = (await p.listen((s) => s.end())).port;
    refused = await freePort();
    hole = await blackhole();
  });
  after(async () => {
    hole.close();
    await p.close();
  });
  let hole: { port: number; close(): void };
  const call = (method: 'GET' | 'POST' | 'DELETE', path: string, body?: unknown, token = TOKEN_A) =>
    p.app.inject({
      method,
      url: `/v2/${path}`,
      headers: { 'x-auth-token': token, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
      ...(body === undefined ? {} : { payload: JSON.stringify(body) }),
    });
  const check = (body: unknown, instance = 'default', project = 'projA', token = TOKEN_A) =>
    call('POST', `${project}/apigw/instances/${instance}/backend/connectivity/check`, body, token);

  it('checks a backend address: SUCCESS, or FAILED with the address in failures', async () => {
    const ok = await check({ backend_type: 'backend_address', backend_address: `127.0.0.1:${open}` });
    assert.equal(ok.statusCode, 201, ok.body);
    assert.deepEqual(ok.json(), { check_result: 'SUCCESS', failures: [] });
    const checkId = ok.headers['x-check-id'] as string;
    const task = (await p.app.inject({ url: `/v1/projA/checks/${checkId}`, headers: { 'x-auth-token': TOKEN_A } })).json();
    assert.equal(task.type, 'BackendConnectivityCheck');

    for (const [address, code] of [
      [`127.0.0.1:${hole.port}`, 'CONNECTION_TIMEOUT'],
      [`127.0.0.1:${refused}`, 'CONNECTION_REFUSED'],
      ['no-such-host.invalid:443', 'DNS_RESOLUTION_FAILED'],
      ['127.0.0.99:80', 'TARGET_FORBIDDEN'],
      [`[::1]:${refused}`, 'CONNECTION_REFUSED'],
    ] as const) {
      const res = await check({ backend_type: 'backend_address', backend_address: address, timeout_ms: 1000 });
      assert.equal(res.statusCode, 201);
      assert.equal(res.json().check_result, 'FAILED');
      assert.deepEqual(res.json().failures, [address]);
      assert.equal(res.json().failure_reasons[0].error_code, code);
    }
  });

  it("answers bad requests with the gateway's codes", async () => {
    const cases: [unknown, number, string, RegExp][] = [
      [{ backend_type: 'backend_address' }, 400, 'APIG.2001', /parameter name:backend_address$/],
      [{ backend_type: 'vpc_channel' }, 400, 'APIG.2001', /parameter name:vpc_channel_id$/],
      [
        { backend_type: 'backend_address', backend_address: '10.0.0.1' },
        400,
        'APIG.2012',
        /^Invalid parameter value,parameterName:backend_address\. .*no port/,
      ],
      [{ backend_type: 'other' }, 400, 'APIG.2012', /^Invalid parameter value,parameterName:backend_type\./],
      [
        { backend_type: 'vpc_channel', vpc_channel_id: 'ffffffffffffffffffffffffffffffff' },
        404,
        'APIG.3023',
        /^The VPC channel does not exist,id:ffffffffffffffffffffffffffffffff$/,
      ],
    ];
    for (const [body, status, code, message] of cases) {
      const res = await check(body);
      assert.deepEqual([res.statusCode, res.json().error_code], [status, code], JSON.stringify(body));
      assert.match(res.json().error_msg, message);
    }
    const badInstance = await check({ backend_type: 'backend_address', backend_address: '10.0.0.1:80' }, 'no such instance');
    assert.deepEqual([badInstance.statusCode, badInstance.json().error_code], [400, 'APIG.2012']);
    assert.match(badInstance.json().error_msg, /parameterName:instance_id/);
    const unserved = await check({ backend_type: 'backend_address', backend_address: '10.0.0.1:80' }, 'zone-nobody');
    assert.deepEqual([unserved.statusCode, unserved.json().error_code], [404, 'APIG.3030']);
    assert.match(unserved.json().error_msg, /^The instance does not exist;id:zone-nobody \(no live worker serves pool "zone-nobody"/);
    const noToken = await check({ backend_type: 'backend_address', backend_address: '10.0.0.1:80' }, 'default', 'projA', '');
    assert.deepEqual([noToken.statusCode, noToken.json().error_code], [401, 'APIG.1002']);
    const otherProject = await check({ backend_type: 'backend_address', backend_address: '10.0.0.1:80' }, 'default', 'projB');
    assert.deepEqual([otherProject.statusCode, otherProject.json().error_code], [403, 'APIG.1005']);
  });

  it('keeps channels per project: create, list, show, check every member, delete', async () => {
    const create = await call('POST', 'projA/apigw/instances/default/vpc-channels', {
      name: 'backends-1',
      port: open,
      balance_strategy: 1,
      member_type: 'ip',
      member_groups: [{ member_group_name: 'blue' }],
      members: [
        { host: '127.0.0.1', weight: 10, member_group_name: 'blue' },
        { host: '127.0.0.1', port: refused, weight: 10 },
        { host: 'no-such-host.invalid', weight: 5, is_backup: true },
      ],
      vpc_health_config: { protocol: 'TCP', threshold_normal: 2, threshold_abnormal: 5, time_interval: 10, timeout: 5 },
    });
    assert.equal(create.statusCode, 201, create.body);
    const channel = create.json();
    assert.match(channel.id, /^[0-9a-f]{32}$/);
    assert.deepEqual(
      { ...channel, id: undefined, create_time: undefined, member_groups: undefined },
      {
        name: 'backends-1',
        port: open,
        balance_strategy: 1,
        member_type: 'ip',
        type: 2,
        vpc_channel_type: 'builtin',
        status: 1,
        id: undefined,
        create_time: undefined,
        member_groups: undefined,
      },
    );
    assert.equal(channel.member_groups[0].member_group_name, 'blue');

    const taken = await call('POST', 'projA/apigw/instances/default/vpc-channels', {
      name: 'backends-1',
      port: 80,
      member_type: 'ip',
      members: [{ host: '10.0.0.1' }],
    });
    assert.deepEqual([taken.statusCode, taken.json().error_code], [400, 'APIG.3208']);
    const ecs = await call('POST', 'projA/apigw/instances/default/vpc-channels', {
      name: 'ecs-one',
      port: 80,
      member_type: 'ecs',
      members: [{ ecs_id: 'x', ecs_name: 'y' }],
    });
    assert.deepEqual([ecs.statusCode, ecs.json().error_code], [400, 'APIG.2012']);
    assert.match(ecs.json().error_msg, /parameterName:member_type/);
    const noHost = await call('POST', 'projA/apigw/instances/default/vpc-channels', { name: 'no-host', port: 80, member_type: 'ip', members: [{ weight: 1 }] });
    assert.deepEqual(
      [noHost.statusCode, noHost.json().error_message ?? noHost.json().error_msg],
      [400, 'The request parameters must be specified, parameter name:members[0].host'],
    );

    const list = (await call('GET', 'projA/apigw/instances/default/vpc-channels?name=BACKENDS')).json();
    assert.deepEqual([list.size, list.total, list.vpc_channels[0].id], [1, 1, channel.id]);
    assert.equal(list.vpc_channels[0].members, undefined);
    assert.equal((await call('GET', 'projA/apigw/instances/default/vpc-channels?name=backends&precise_search=name')).json().total, 0);
    assert.equal((await call('GET', `projA/apigw/instances/default/vpc-channels?member_port=${refused}`)).json().total, 1);
    const shown = (await call('GET', `projA/apigw/instances/default/vpc-channels/${channel.id}`)).json();
    assert.deepEqual(
      shown.members.map((m: any) => [m.host, m.port, m.weight, m.is_backup, m.vpc_channel_id === channel.id, m.health_status]),
      [
        ['127.0.0.1', 0, 10, false, true, 'unknown'],
        ['127.0.0.1', refused, 10, false, true, 'unknown'],
        ['no-such-host.invalid', 0, 5, true, true, 'unknown'],
      ],
    );
    assert.equal(shown.members[0].member_group_id, channel.member_groups[0].member_group_id);

    const checked = await check({ backend_type: 'vpc_channel', vpc_channel_id: channel.id });
    assert.equal(checked.statusCode, 201, checked.body);
    assert.deepEqual(checked.json().failures, [`127.0.0.1:${refused}`, `no-such-host.invalid:${open}`]);
    assert.deepEqual(
      checked.json().failure_reasons.map((r: any) => r.error_code),
      ['CONNECTION_REFUSED', 'DNS_RESOLUTION_FAILED'],
    );
    assert.equal(checked.json().check_result, 'FAILED');

    // Another project sees none of it: the same id is a 404 there.
    const foreign = await call('GET', `projB/apigw/instances/default/vpc-channels/${channel.id}`, undefined, TOKEN_B);
    assert.deepEqual([foreign.statusCode, foreign.json().error_code], [404, 'APIG.3023']);
    const foreignCheck = await check({ backend_type: 'vpc_channel', vpc_channel_id: channel.id }, 'default', 'projB', TOKEN_B);
    assert.deepEqual([foreignCheck.statusCode, foreignCheck.json().error_code], [404, 'APIG.3023']);
    assert.equal((await call('DELETE', `projB/apigw/instances/default/vpc-channels/${channel.id}`, undefined, TOKEN_B)).statusCode, 404);
    assert.equal((await call('GET', 'projB/apigw/instances/default/vpc-channels', undefined, TOKEN_B)).json().total, 0);

    const deleted = await call('DELETE', `projA/apigw/instances/default/vpc-channels/${channel.id}`);
    assert.equal(deleted.statusCode, 204);
    assert.equal((await call('GET', `projA/apigw/instances/default/vpc-channels/${channel.id}`)).statusCode, 404);
    // Its name is free again.
    const again = await call('POST', 'projA/apigw/instances/default/vpc-channels', {
      name: 'backends-1',
      port: open,
      member_type: 'ip',
      members: [{ host: '127.0.0.1' }],
    });
    assert.equal(again.statusCode, 201);
    const allOk = await check({ backend_type: 'vpc_channel', vpc_channel_id: again.json().id });
    assert.deepEqual(allOk.json(), { check_result: 'SUCCESS', failures: [] });
  });
});

describe("tenancy: what a tenant's checks may reach", () => {
  const TOKEN = 'token-tenant-000000000000000';
  let p: Pipeline;
  before(async () => {
    p = await startPipeline({ CONNCHECK_AUTH_TOKENS: `${TOKEN}=t1` });
  });
  after(async () => {
    await p.close();
  });
  const submit = async (jobs: unknown[], pipeline = p, token = TOKEN) => {
    const res = await pipeline.app.inject({ method: 'POST', url: '/v3/t1/jobs/batch-connection', headers: { 'x-auth-token': token }, payload: { jobs } });
    assert.equal(res.statusCode, 202, res.body);
    const checkId = res.json().check_id;
    return waitFor(
      async () => {
        const t = (await pipeline.app.inject({ url: `/v1/t1/checks/${checkId}`, headers: { 'x-auth-token': token } })).json();
        return t.finished_at ? t : undefined;
      },
      10_000,
      'the task',
    );
  };

  it('with tokens, loopback is denied in every spelling unless CONNCHECK_TARGET_ALLOW opens it', async () => {
    let connections = 0;
    const listener = await p.listen(() => connections++);
    const spellings = ['127.0.0.1', '127.1', '2130706433', '0x7f000001', '0177.0.0.1', '::ffff:127.0.0.1', '[::1]', 'localhost', '127.255.255.254'];
    const task = await submit(spellings.map((ip, i) => ({ id: `s${i}`, db_type: 'tcp', ip, db_port: listener.port })));
    for (const item of task.check_items) {
      assert.equal(item.error_code, 'TARGET_FORBIDDEN', `${item.target.ip}: ${item.error_msg}`);
      assert.match(
        item.error_msg,
        /is in the denied range (127\.0\.0\.0\/8|::1\/128) \(loopback: this deployment has tokens, so only CONNCHECK_TARGET_ALLOW can open it\), which this deployment may not connect to$/,
      );
    }
    assert.equal(connections, 0, 'nothing reached the listener');
  });

  it("the service's own Redis is denied even where loopback is open", async () => {
    const open = await startPipeline({ CONNCHECK_AUTH_TOKENS: `${TOKEN}=t1`, CONNCHECK_TARGET_ALLOW: '127.0.0.0/8' });
    try {
      const redisPort = Number(new URL(open.h.config.redisUrl).port);
      const listener = await open.listen((s) => s.end());
      const task = await submit(
        [
          { id: 'redis', db_type: 'tcp', ip: '127.0.0.1', db_port: redisPort },
          { id: 'other', db_type: 'tcp', ip: '127.0.0.1', db_port: listener.port },
        ],
        open,
      );
      assert.equal(task.check_items[0].error_code, 'TARGET_FORBIDDEN');
      assert.equal(task.check_items[0].error_msg, `127.0.0.1:${redisPort} is this service's own Redis, which this deployment may not connect to`);
      assert.equal(task.check_items[1].success, true, 'the rest of loopback is open');
    } finally {
      await open.close();
    }
  });
});
