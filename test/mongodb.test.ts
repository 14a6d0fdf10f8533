// MongoDB through the whole pipeline — API (inject) → BullMQ → worker → store — against the real FerretDB of
// test/services: seed 002's DDS example (a host list with db_port 0), the common mistakes, TLS, and the deadline.

import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import type { CheckItem, Task } from '@conncheck/core';
import type { FastifyInstance } from 'fastify';
import { type Harness, dumpKeys, waitFor } from './lib/harness.js';
import { type Pipeline, stages, startPipeline } from './lib/pipeline.js';
import { type TestServices, loadServices } from './lib/services.js';

describe('mongodb through the pipeline', () => {
  let p: Pipeline;
  let h: Harness;
  let app: FastifyInstance;
  let services: TestServices;
  const submit = (jobs: unknown[]): Promise<string> => p.submit(jobs);
  const finished = (checkId: string, timeoutMs?: number): Promise<Task> => p.finished(checkId, timeoutMs);
  const byId = (task: Task): Map<string, CheckItem> => new Map(task.check_items.map((item) => [item.id, item]));

  before(async () => {
    services = loadServices();
    p = await startPipeline();
    ({ h, app } = p);
  });
  after(async () => {
    await p.close();
  });

  it("accepts seed 002's DDS example (a host list, db_port 0) and checks it for real", async () => {
    const { mongodb } = services;
    // The example as the migration service documents it, pointed at the local FerretDB: both seeds are that server.
    const dds = {
      id: '140b5236-88ad-43c8-811c-1268453jb101',
      ip: `${mongodb.host}:${mongodb.port},localhost:${mongodb.port}`,
      net_type: 'eip',
      db_type: 'mongodb',
      db_port: 0,
      db_user: mongodb.users.main.user,
      db_password: mongodb.users.main.password,
      inst_id: '3cadd5a0ef724f55ac7fa5bcb5f4fc5fin02',
      project_id: '0549a6a31000d4e82fd1c00c3d6f2d76',
      region: 'region-1',
      end_point_type: 'ta',
    };
    const checkId = await submit([dds, { ...dds, id: 'dds-badpw', db_password: 'not-the-password' }]);
    const done = await finished(checkId);
    const items = byId(done);
    const ok = items.get(dds.id)!;
    assert.equal(ok.status, 'success', ok.error_msg ?? '');
    assert.equal(ok.end_point_type, 'ta');
    assert.deepEqual(ok.target.endpoints, [
      { host: mongodb.host, port: mongodb.port },
      { host: 'localhost', port: mongodb.port },
    ]);
    assert.deepEqual(ok.server, { product: 'FerretDB', version: mongodb.version });
    assert.equal(stages(ok), 'dns:ok tcp:ok auth:ok probe:ok');
    const cluster = ok.cluster as { set_name?: string; members?: { status: string }[] } | undefined;
    assert.equal(cluster?.set_name, mongodb.repl_set_name);
    assert.deepEqual(
      cluster?.members?.map((m) => m.status),
      ['reachable'],
    );

    const bad = items.get('dds-badpw')!;
    assert.equal(bad.error_code, 'AUTH_FAILED');
    assert.match(bad.error_msg ?? '', /so the password is wrong$/);
    assert.equal(stages(bad), 'dns:ok tcp:ok auth:failed probe:skipped');

    const v3 = (await app.inject(`/v3/proj/jobs/batch-connection/${checkId}`)).json();
    assert.deepEqual(v3.results[0], { id: dds.id, status: 'success', success: true });
    assert.equal(v3.results[1].error_code, 'AUTH_FAILED');
    const everything = `${JSON.stringify(done)}\n${await dumpKeys(h.redis, `${h.prefix}:*`)}`;
    assert.ok(!everything.includes(mongodb.users.main.password), 'the password reached a result or Redis in clear');
  });

  it('gives TIMEOUT for a silent port and CONNECTION_REFUSED for a closed one, within the deadline', async () => {
    const silent = await p.listen();
    const closed = await p.listen();
    await new Promise((resolve) => closed.server.close(resolve));
    const checkId = await submit([
      { id: 'silent', db_type: 'mongodb', ip: `127.0.0.1:${silent.port}`, db_port: 0, db_user: 'u', db_password: 'p', timeout_ms: 1500 },
      { id: 'refused', db_type: 'mongodb', ip: '127.0.0.1', db_port: closed.port, db_user: 'u', db_password: 'p', timeout_ms: 1500 },
    ]);
    const items = byId(await finished(checkId));
    const silentItem = items.get('silent')!;
    assert.equal(silentItem.error_code, 'TIMEOUT');
    assert.equal(stages(silentItem), 'dns:skipped tcp:ok auth:failed probe:skipped');
    assert.ok(silentItem.duration_ms! >= 1400 && silentItem.duration_ms! < 2500, String(silentItem.duration_ms));
    const refused = items.get('refused')!;
    assert.equal(refused.error_code, 'CONNECTION_REFUSED');
    assert.ok(refused.duration_ms! < 1000, String(refused.duration_ms));
    await waitFor(async () => (silent.sockets.size === 0 ? true : undefined), 3000, 'the worker to drop the silent connection');
  });

  it('checks over TLS with the CA in ssl_cert_key, and names the wrong CA', async () => {
    const { mongodb, tls } = services;
    const ca = readFileSync(tls.ca.pem).toString('base64');
    const otherCa = readFileSync(tls.other_ca.pem).toString('base64');
    const base = {
      db_type: 'mongodb',
      ip: `localhost:${mongodb.tls_port}`,
      db_port: 0,
      db_user: mongodb.users.main.user,
      db_password: mongodb.users.main.password,
      ssl_link: true,
      ssl_cert_name: 'ca.pem',
    };
    const checkId = await submit([
      { ...base, id: 'tls-ok', ssl_cert_key: ca },
      { ...base, id: 'tls-wrong-ca', ssl_cert_key: otherCa },
      { ...base, id: 'plain-to-tls', ssl_link: false, ssl_cert_key: undefined, ssl_cert_name: undefined },
    ]);
    const items = byId(await finished(checkId));
    const ok = items.get('tls-ok')!;
    assert.equal(ok.status, 'success', ok.error_msg ?? '');
    assert.equal(stages(ok), 'dns:ok tcp:ok tls:ok auth:ok probe:ok');
    assert.deepEqual(ok.tls?.subject_alt_names, ['DNS:localhost']);
    assert.equal(items.get('tls-wrong-ca')?.error_code, 'TLS_CERT_UNTRUSTED');
    assert.equal(items.get('plain-to-tls')?.error_code, 'TLS_REQUIRED');
  });

  it('takes MongoDB credentials as a pair, or none (then reports that the server requires a login)', async () => {
    const { mongodb } = services;
    const base = { db_type: 'mongodb', ip: `${mongodb.host}:${mongodb.port}`, db_port: 0 };
    const res = await app.inject({
      method: 'POST',
      url: '/v3/proj/jobs/batch-connection?dry_run=true',
      payload: {
        jobs: [
          { ...base, id: 'a', db_user: 'x' },
          { ...base, id: 'b', db_password: 'y' },
          { ...base, id: 'c', db_user: '', db_password: 'y' },
          { ...base, id: 'd' },
        ],
      },
    });
    assert.equal(res.statusCode, 200, res.body);
    assert.deepEqual(
      res.json().problems.map((p: { field: string; error_code: string }) => [p.field, p.error_code]),
      [
        ['jobs[0].db_password', 'CC.MISSING_FIELD'],
        ['jobs[1].db_user', 'CC.MISSING_FIELD'],
        ['jobs[2].db_user', 'CC.INVALID_PARAMETER'],
      ],
    );
    const checkId = await submit([{ ...base, id: 'anonymous' }]);
    const item = byId(await finished(checkId)).get('anonymous')!;
    assert.equal(item.error_code, 'AUTH_FAILED');
    assert.equal(stages(item), 'dns:skipped tcp:ok auth:skipped probe:failed');
    assert.match(item.error_msg ?? '', /requires authentication .* no db_user was given/);
  });
});
