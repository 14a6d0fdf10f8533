// The HTTP API through Fastify's inject, on a real Redis: the exact error for each bad request, auth and project
// isolation, the two task views, listing and cancel.

import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { buildApp } from '@conncheck/api';
import type { FastifyInstance } from 'fastify';
import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type Harness, dumpKeys, harness } from './lib/harness.js';
import { loadServices } from './lib/services.js';

const TOKEN_A = 'token-for-project-a-0123456789';
const certs = loadServices().tls;
const fileB64 = (file: string): string => readFileSync(file).toString('base64');
const sha256 = (file: string): string => createHash('sha256').update(readFileSync(file)).digest('hex');
const TOKEN_ALL = 'token-for-every-project-012345';

const mysqlJob = {
  id: '140b5236-88ad-43c8-811c-1268453jb101',
  ip: '192.168.0.27',
  net_type: 'eip',
  db_type: 'mysql',
  db_port: 3306,
  db_user: 'root',
  db_password: 'Secret-Pa55',
  ssl_link: false,
  end_point_type: 'so',
};

describe('API', () => {
  let h: Harness;
  let app: FastifyInstance;
  const post = (body: unknown, opts: { project?: string; token?: string; contentType?: string; query?: string } = {}) =>
    app.inject({
      method: 'POST',
      url: `/v3/${opts.project ?? 'projA'}/jobs/batch-connection${opts.query ?? ''}`,
      headers: { 'x-auth-token': opts.token ?? TOKEN_A, 'content-type': opts.contentType ?? 'application/json' },
      payload: typeof body === 'string' ? body : JSON.stringify(body),
    });
  const get = (url: string, token: string = TOKEN_A) => app.inject({ method: 'GET', url, headers: { 'x-auth-token': token } });

  before(async () => {
    h = await harness({
      CONNCHECK_AUTH_TOKENS: `${TOKEN_A}=projA;${TOKEN_ALL}=*`,
      CONNCHECK_MAX_ITEMS: '5',
      CONNCHECK_BODY_LIMIT: '65536',
      CONNCHECK_MAX_PENDING_ITEMS: '12',
    });
    app = await buildApp({ config: h.config, store: h.store, queue: h.queue });
  });
  after(async () => {
    await app.close();
    await h.close();
  });

  describe('rejects bad requests with the exact error', () => {
    const job = (patch: Record<string, unknown>) => ({ jobs: [{ ...mysqlJob, ...patch }] });
    const withoutField = (field: string) => {
      const copy: Record<string, unknown> = { ...mysqlJob };
      delete copy[field];
      return { jobs: [copy] };
    };
    const table: [string, unknown, number, string, string][] = [
      ['not JSON', '{"jobs": [', 400, 'CC.INVALID_JSON', 'the body is not valid JSON'],
      ['no jobs', {}, 400, 'CC.MISSING_FIELD', 'jobs: is required'],
      ['empty jobs', { jobs: [] }, 400, 'CC.INVALID_PARAMETER', 'jobs: must NOT have fewer than 1 items'],
      ['jobs not an array', { jobs: {} }, 400, 'CC.INVALID_PARAMETER', 'jobs: must be array'],
      ['unknown top-level field', { jobs: [mysqlJob], extra: 1 }, 400, 'CC.UNKNOWN_FIELD', 'extra: unknown field'],
      ['unknown job field', job({ dbport: 1 }), 400, 'CC.UNKNOWN_FIELD', 'jobs[0].dbport: unknown field'],
      ['missing id', withoutField('id'), 400, 'CC.MISSING_FIELD', 'jobs[0].id: is required'],
      ['missing ip', withoutField('ip'), 400, 'CC.MISSING_FIELD', 'jobs[0].ip: is required'],
      ['port too big', job({ db_port: 70000 }), 400, 'CC.INVALID_PARAMETER', 'jobs[0].db_port: must be <= 65535'],
      ['port as text', job({ db_port: '3306' }), 400, 'CC.INVALID_PARAMETER', 'jobs[0].db_port: must be integer'],
      ['bad net_type', job({ net_type: 'lan' }), 400, 'CC.INVALID_PARAMETER', 'jobs[0].net_type: must be one of vpn, vpc, eip'],
      ['bad end_point_type', job({ end_point_type: 'src' }), 400, 'CC.INVALID_PARAMETER', 'jobs[0].end_point_type: must be one of so, ta'],
      ['id too long', job({ id: 'x'.repeat(129) }), 400, 'CC.INVALID_PARAMETER', 'jobs[0].id: must NOT have more than 128 characters'],
      ['ssl_link not boolean', job({ ssl_link: 'yes' }), 400, 'CC.INVALID_PARAMETER', 'jobs[0].ssl_link: must be boolean'],
      ['timeout too long', job({ timeout_ms: 60001 }), 400, 'CC.INVALID_PARAMETER', 'jobs[0].timeout_ms: must be <= 60000'],
      ['timeout too short', job({ timeout_ms: 10 }), 400, 'CC.INVALID_PARAMETER', 'jobs[0].timeout_ms: must be >= 100'],
      [
        'ssl_mode without ssl_link',
        job({ ssl_mode: 'verify-ca' }),
        400,
        'CC.INVALID_PARAMETER',
        'jobs[0].ssl_mode: needs ssl_link true (without it the check does not use TLS)',
      ],
      ['certificate not base64', job({ ssl_link: true, ssl_cert_key: 'not*base64' }), 400, 'CC.CERT_NOT_BASE64', 'jobs[0].ssl_cert_key: is not valid base64'],
      [
        'certificate sent as PEM text',
        job({ ssl_link: true, ssl_cert_key: readFileSync(certs.ca.pem, 'utf8') }),
        400,
        'CC.CERT_NOT_BASE64',
        'jobs[0].ssl_cert_key: is PEM text, not base64: send the base64 of the file (base64 -w0 ca.pem)',
      ],
      [
        'certificate checksum mismatch',
        job({ ssl_link: true, ssl_cert_key: fileB64(certs.ca.pem), ssl_cert_check_sum: sha256(certs.ca.der) }),
        400,
        'CC.CERT_CHECKSUM_MISMATCH',
        `jobs[0].ssl_cert_check_sum: is not the SHA-256 of the decoded ssl_cert_key (that is ${sha256(certs.ca.pem)})`,
      ],
      [
        'not a certificate',
        job({ ssl_link: true, ssl_cert_key: Buffer.from('cert').toString('base64') }),
        400,
        'CC.CERT_UNREADABLE',
        'jobs[0].ssl_cert_key: the uploaded file is neither a PEM or DER certificate nor a PKCS#12 (.p12/.pfx) file',
      ],
      [
        'wrong .p12 password',
        job({ ssl_link: true, ssl_cert_key: fileB64(certs.ca.p12), ssl_cert_password: 'not-the-password' }),
        400,
        'CC.CERT_PASSWORD_WRONG',
        'jobs[0].ssl_cert_password: the PKCS#12 file cannot be opened with the password given',
      ],
      [
        '.p12 without a password',
        job({ ssl_link: true, ssl_cert_key: fileB64(certs.ca.p12) }),
        400,
        'CC.CERT_PASSWORD_WRONG',
        'jobs[0].ssl_cert_password: the PKCS#12 file needs a password, and none was given',
      ],
      ['bad ssl_mode', job({ ssl_mode: 'prefer' }), 400, 'CC.INVALID_PARAMETER', 'jobs[0].ssl_mode: must be one of require, verify-ca, verify-full'],
      [
        'checksum not hex',
        job({ ssl_cert_check_sum: 'abc' }),
        400,
        'CC.INVALID_PARAMETER',
        'jobs[0].ssl_cert_check_sum: must match pattern "^[0-9a-fA-F]{64}$"',
      ],
      [
        'unknown db_type',
        job({ db_type: 'sybase' }),
        400,
        'CC.INVALID_PARAMETER',
        'jobs[0].db_type: unknown db_type "sybase"; expected one of mysql, postgresql, mongodb, oracle, kafka, tcp',
      ],
      [
        'oracle',
        job({ db_type: 'oracle' }),
        400,
        'CC.UNSUPPORTED_DB_TYPE',
        'jobs[0].db_type: db_type "oracle" is recognised but this conncheck version has no probe for it',
      ],
      ['mysql without user', withoutField('db_user'), 400, 'CC.MISSING_FIELD', 'jobs[0].db_user: is required for db_type mysql'],
      [
        'mysql without password',
        withoutField('db_password'),
        400,
        'CC.MISSING_FIELD',
        'jobs[0].db_password: is required for db_type mysql (use "" for no password)',
      ],
      ['port mismatch', job({ ip: '10.0.0.1:3307' }), 400, 'CC.INVALID_PARAMETER', 'jobs[0].ip: "10.0.0.1:3307" names port 3307 but db_port is 3306'],
      [
        'tcp without port',
        { jobs: [{ id: 't', db_type: 'tcp', ip: 'example.com' }] },
        400,
        'CC.INVALID_PARAMETER',
        'jobs[0].ip: no port: give db_port or write "example.com:<port>"',
      ],
      [
        'kafka config on mysql',
        job({ kafka_security_config: { type: 'PLAINTEXT' } }),
        400,
        'CC.INVALID_PARAMETER',
        'jobs[0].kafka_security_config: is only valid with db_type kafka',
      ],
      [
        'bad kafka type',
        job({ kafka_security_config: { type: 'SASL' } }),
        400,
        'CC.INVALID_PARAMETER',
        'jobs[0].kafka_security_config.type: must be one of PLAINTEXT, SASL_PLAINTEXT, SSL, SASL_SSL',
      ],
      [
        'two problems',
        {
          jobs: [
            { ...mysqlJob, db_user: '' },
            { ...mysqlJob, db_type: 'oracle' },
          ],
        },
        400,
        'CC.MISSING_FIELD',
        'jobs[0].db_user: is required for db_type mysql (and 1 more problem; POST with ?dry_run=true to see all)',
      ],
      ['too many items', { jobs: Array(6).fill(mysqlJob) }, 413, 'CC.TOO_MANY_ITEMS', 'jobs: 6 items; at most 5 per batch (CONNCHECK_MAX_ITEMS)'],
      ['body too large', job({ ssl_cert_name: 'x'.repeat(70_000) }), 413, 'CC.PAYLOAD_TOO_LARGE', 'request body is larger than CONNCHECK_BODY_LIMIT allows'],
    ];
    for (const [name, body, status, code, message] of table) {
      it(name, async () => {
        const res = await post(body);
        assert.deepEqual({ status: res.statusCode, body: res.json() }, { status, body: { error_code: code, error_msg: message } });
      });
    }

    it('a body that is not JSON by type', async () => {
      const res = await post('jobs=1', { contentType: 'text/plain' });
      assert.equal(res.statusCode, 415);
      assert.equal(res.json().error_code, 'CC.UNSUPPORTED_MEDIA_TYPE');
    });

    it('nothing was stored by any of them', async () => {
      const res = await get('/v1/projA/checks');
      assert.deepEqual(res.json(), { checks: [], next_cursor: null });
    });

    const queries: [string, string, string][] = [
      ['/v1/projA/checks?status=Done', 'CC.INVALID_PARAMETER', 'querystring status: must be one of Pending, Running, Succeeded, Failed, Canceled'],
      ['/v1/projA/checks?limit=1000', 'CC.INVALID_PARAMETER', 'querystring limit: must be <= 100'],
      ['/v1/projA/checks?limit=ten', 'CC.INVALID_PARAMETER', 'querystring limit: must be integer'],
      ['/v1/projA/checks?cursor=bm90LWFuLWlk', 'CC.INVALID_CURSOR', 'cursor: cursor is not one this API returned'],
      ['/v1/projA/checks?sort=asc', 'CC.UNKNOWN_FIELD', 'querystring sort: unknown field'],
    ];
    for (const [url, code, message] of queries) {
      it(`GET ${url}`, async () => {
        const res = await get(url);
        assert.deepEqual({ status: res.statusCode, body: res.json() }, { status: 400, body: { error_code: code, error_msg: message } });
      });
    }

    it('a bad project id', async () => {
      const res = await get('/v1/proj$A/checks', TOKEN_ALL);
      assert.equal(res.statusCode, 400);
      assert.equal(res.json().error_code, 'CC.INVALID_PARAMETER');
    });
  });

  describe('auth', () => {
    it('401 without a token, 401 with a wrong one, 403 for another project', async () => {
      const none = await app.inject({ method: 'GET', url: '/v1/projA/checks' });
      assert.deepEqual([none.statusCode, none.json()], [401, { error_code: 'CC.UNAUTHORIZED', error_msg: 'missing X-Auth-Token header' }]);
      const wrong = await get('/v1/projA/checks', 'not-a-valid-token-at-all');
      assert.deepEqual([wrong.statusCode, wrong.json().error_code], [401, 'CC.UNAUTHORIZED']);
      const other = await get('/v1/projB/checks');
      assert.deepEqual([other.statusCode, other.json()], [403, { error_code: 'CC.FORBIDDEN', error_msg: 'this token may not use project projB' }]);
      const allowed = await get('/v1/projB/checks', TOKEN_ALL);
      assert.equal(allowed.statusCode, 200);
    });

    it('health, readiness, metrics and the OpenAPI document need no token', async () => {
      assert.deepEqual((await app.inject('/healthz')).json(), { status: 'ok' });
      assert.deepEqual((await app.inject('/readyz')).json(), { status: 'ready' });
      const metrics = await app.inject('/metrics');
      assert.equal(metrics.statusCode, 200);
      assert.match(metrics.body, /conncheck_http_requests_total/);
      assert.match(metrics.body, /conncheck_queue_jobs\{pool="default",state="waiting"\}/);
      const doc = (await app.inject('/openapi.json')).json();
      assert.ok(doc.paths['/v3/{project_id}/jobs/batch-connection'].post);
      assert.ok(doc.paths['/v1/{project_id}/checks/{check_id}'].get);
      const jobSchema = doc.paths['/v3/{project_id}/jobs/batch-connection'].post.requestBody.content['application/json'].schema;
      assert.ok(jobSchema.properties.jobs.items.properties.kafka_security_config);
    });

    it('unknown routes are a JSON 404', async () => {
      const res = await app.inject('/v2/nothing');
      assert.deepEqual([res.statusCode, res.json().error_code], [404, 'CC.ROUTE_NOT_FOUND']);
    });
  });

  describe('tasks', () => {
    let checkId: string;

    it("accepts seed 002's MySQL example: 202 with a check_id at once", async () => {
      const res = await post({ jobs: [mysqlJob, { ...mysqlJob, id: 'second', end_point_type: 'ta' }] });
      assert.equal(res.statusCode, 202);
      const body = res.json();
      assert.match(body.check_id, /^[0-9a-f]{8}-[0-9a-f]{4}-7/);
      assert.equal(body.status, 'Pending');
      assert.equal(body.count, 2);
      assert.equal(res.headers.location, `/v1/projA/checks/${body.check_id}`);
      checkId = body.check_id;
    });

    it('never stores the password in clear, and never returns it', async () => {
      const dump = await dumpKeys(h.redis, `${h.prefix}:*`);
      assert.ok(!dump.includes(mysqlJob.db_password));
      const res = await get(`/v1/projA/checks/${checkId}`);
      assert.ok(!res.body.includes(mysqlJob.db_password));
    });

    it('shows the task with its items', async () => {
      const res = await get(`/v1/projA/checks/${checkId}`);
      assert.equal(res.statusCode, 200);
      const task = res.json();
      assert.equal(task.check_id, checkId);
      assert.equal(task.type, 'BatchConnection');
      assert.equal(task.status, 'Pending');
      assert.equal(task.finished_at, null);
      assert.deepEqual(task.summary, { total: 2, succeeded: 0, failed: 0, canceled: 0, running: 0, pending: 2 });
      assert.deepEqual(task.check_items[0], {
        index: 0,
        id: mysqlJob.id,
        db_type: 'mysql',
        end_point_type: 'so',
        net_type: 'eip',
        target: { ip: '192.168.0.27', db_port: 3306, endpoints: [{ host: '192.168.0.27', port: 3306 }], db_user: 'root' },
        status: 'pending',
        success: false,
        error_code: null,
        error_msg: null,
        duration_ms: null,
        stages: [],
        attempts: 0,
        started_at: null,
        finished_at: null,
        pool: 'default',
        // No worker runs in this test: the item says why it waits.
        waiting: 'no live worker serves pool "default"; the item runs when one starts',
      });
      assert.equal(task.message, 'waiting for a worker of pool "default"; no live worker serves pool "default"');
      assert.deepEqual(task.pools, ['default']);
    });

    it("shows the task in the migration service's shape", async () => {
      const res = await get(`/v3/projA/jobs/batch-connection/${checkId}`);
      assert.deepEqual(res.json(), {
        results: [
          { id: mysqlJob.id, status: 'pending', success: false },
          { id: 'second', status: 'pending', success: false },
        ],
        count: 2,
      });
    });

    it('hides it from another project (404, not 403)', async () => {
      const res = await get(`/v1/projB/checks/${checkId}`, TOKEN_ALL);
      assert.deepEqual([res.statusCode, res.json().error_code], [404, 'CC.NOT_FOUND']);
      const v3 = await get(`/v3/projB/jobs/batch-connection/${checkId}`, TOKEN_ALL);
      assert.equal(v3.statusCode, 404);
      const cancel = await app.inject({ method: 'DELETE', url: `/v1/projB/checks/${checkId}`, headers: { 'x-auth-token': TOKEN_ALL } });
      assert.equal(cancel.statusCode, 404);
      const unknown = await get('/v1/projA/checks/0190a0b0-0000-7000-8000-000000000000');
      assert.equal(unknown.statusCode, 404);
      const garbage = await get('/v1/projA/checks/not-an-id');
      assert.equal(garbage.statusCode, 404);
      // Another project's real task and an id never used read the same: existence is not revealed.
      const fresh = (await get(`/v1/projA/checks/${checkId.slice(0, 14)}7000-8000-000000000000`)).json().error_msg;
      assert.equal(res.json().error_msg, `no check ${checkId} in this project: unknown: no check with this id was submitted to this project`);
      assert.match(fresh, /: unknown: no check with this id was submitted to this project$/);
    });

    it("a 404 says what the id's creation time allows: lost with Redis's earlier data, or past the retention", async () => {
      const since = Date.now() - 60_000;
      const lostApp = await buildApp({ config: h.config, store: h.store, queue: h.queue, dataSince: () => since });
      try {
        const { newCheckId } = await import('@conncheck/core');
        const lost = newCheckId(since - 1000);
        const res = await lostApp.inject({ url: `/v1/projA/checks/${lost}`, headers: { 'x-auth-token': TOKEN_A } });
        assert.equal(res.statusCode, 404);
        assert.equal(
          res.json().error_msg,
          `no check ${lost} in this project: it was created at ${new Date(since - 1000).toISOString()}, before this Redis's data begins (${new Date(since).toISOString()}): it was lost with Redis's earlier data (a restart without persistence?)`,
        );
        const old = newCheckId(since - 8 * 24 * 3600 * 1000);
        const v3 = await lostApp.inject({ url: `/v3/projA/jobs/batch-connection/${old}`, headers: { 'x-auth-token': TOKEN_A } });
        assert.match(v3.json().error_msg, /lost with Redis's earlier data/);
      } finally {
        await lostApp.close();
      }
      const { newCheckId } = await import('@conncheck/core');
      const old = newCheckId(Date.now() - 8 * 24 * 3600 * 1000);
      const res = await get(`/v1/projA/checks/${old}`);
      assert.match(
        res.json().error_msg,
        /: unknown now: it was created at .*, and tasks are removed 604800 s after they end \(CONNCHECK_RETENTION_SECONDS\), if it was one of this project's$/,
      );
    });

    it('lists it', async () => {
      const res = await get('/v1/projA/checks?status=Pending');
      assert.deepEqual(
        res.json().checks.map((c: { check_id: string }) => c.check_id),
        [checkId],
      );
    });

    it('dry_run validates without storing', async () => {
      const res = await post({ jobs: [mysqlJob, { ...mysqlJob, db_type: 'oracle' }] }, { query: '?dry_run=true' });
      assert.equal(res.statusCode, 200);
      assert.deepEqual(res.json(), {
        valid: false,
        count: 2,
        problems: [
          {
            field: 'jobs[1].db_type',
            error_code: 'CC.UNSUPPORTED_DB_TYPE',
            error_msg: 'jobs[1].db_type: db_type "oracle" is recognised but this conncheck version has no probe for it',
          },
        ],
      });
      assert.equal((await get('/v1/projA/checks')).json().checks.length, 1);
    });

    it('dry_run lists every certificate problem per item and field, and accepts good certificates in every form', async () => {
      const tls = { ...mysqlJob, ssl_link: true };
      const res = await post(
        {
          jobs: [
            { ...tls, ssl_cert_key: fileB64(certs.ca.pem), ssl_cert_check_sum: sha256(certs.ca.pem).toUpperCase() },
            { ...tls, ssl_cert_key: fileB64(certs.ca.der), ssl_cert_name: 'ca.der' },
            { ...tls, ssl_cert_key: fileB64(certs.ca.p12), ssl_cert_password: certs.ca.p12_password, ssl_cert_name: 'ca.p12' },
            { ...tls, ssl_cert_key: fileB64(certs.ca.pem), ssl_cert_check_sum: sha256(certs.ca.der) },
            { ...tls, ssl_cert_key: fileB64(certs.ca.p12), ssl_cert_password: 'wrong' },
          ],
        },
        { query: '?dry_run=true' },
      );
      assert.equal(res.statusCode, 200);
      assert.deepEqual(res.json(), {
        valid: false,
        count: 5,
        problems: [
          {
            field: 'jobs[3].ssl_cert_check_sum',
            error_code: 'CC.CERT_CHECKSUM_MISMATCH',
            error_msg: `jobs[3].ssl_cert_check_sum: is not the SHA-256 of the decoded ssl_cert_key (that is ${sha256(certs.ca.pem)})`,
          },
          {
            field: 'jobs[4].ssl_cert_password',
            error_code: 'CC.CERT_PASSWORD_WRONG',
            error_msg: 'jobs[4].ssl_cert_password: the PKCS#12 file cannot be opened with the password given',
          },
        ],
      });
    });

    it("dry_run lists schema problems of every job too, beside the other jobs' certificate problems", async () => {
      const res = await post(
        {
          jobs: [
            { ...mysqlJob, db_port: 'x', dbport: 1 },
            { ...mysqlJob, ssl_link: true, ssl_cert_key: 'not*base64' },
            { ...mysqlJob, ssl_mode: 'prefer' },
          ],
        },
        { query: '?dry_run=true' },
      );
      assert.equal(res.statusCode, 200);
      assert.deepEqual(res.json(), {
        valid: false,
        count: 3,
        problems: [
          { field: 'jobs[0].dbport', error_code: 'CC.UNKNOWN_FIELD', error_msg: 'jobs[0].dbport: unknown field' },
          { field: 'jobs[0].db_port', error_code: 'CC.INVALID_PARAMETER', error_msg: 'jobs[0].db_port: must be integer' },
          { field: 'jobs[1].ssl_cert_key', error_code: 'CC.CERT_NOT_BASE64', error_msg: 'jobs[1].ssl_cert_key: is not valid base64' },
          { field: 'jobs[2].ssl_mode', error_code: 'CC.INVALID_PARAMETER', error_msg: 'jobs[2].ssl_mode: must be one of require, verify-ca, verify-full' },
        ],
      });
      // The same body submitted for real is a 400 with the first problem.
      const real = await post({ jobs: [{ ...mysqlJob, db_port: 'x' }] });
      assert.deepEqual(real.json(), { error_code: 'CC.INVALID_PARAMETER', error_msg: 'jobs[0].db_port: must be integer' });
    });

    it("dry_run reports a job's other problems too when it has schema problems (a missing id beside an unsupported db_type)", async () => {
      const { id: _id, ...withoutId } = mysqlJob;
      const res = await post(
        {
          jobs: [
            { ...withoutId, db_type: 'oracle' },
            { ...withoutId, db_password: undefined, db_port: 'x' },
          ],
        },
        { query: '?dry_run=true' },
      );
      assert.deepEqual(
        res.json().problems.map((p: { field: string; error_code: string }) => [p.field, p.error_code]),
        [
          ['jobs[0].id', 'CC.MISSING_FIELD'],
          ['jobs[0].db_type', 'CC.UNSUPPORTED_DB_TYPE'],
          ['jobs[1].id', 'CC.MISSING_FIELD'],
          ['jobs[1].db_port', 'CC.INVALID_PARAMETER'],
          ['jobs[1].db_password', 'CC.MISSING_FIELD'],
        ],
      );
    });

    it('a TLS job with its CA is accepted, and the certificate never reaches Redis in clear', async () => {
      const key = fileB64(certs.ca.pem);
      const res = await post({ jobs: [{ ...mysqlJob, ssl_link: true, ssl_cert_key: key, ssl_cert_check_sum: sha256(certs.ca.pem), ssl_cert_name: 'ca.pem' }] });
      assert.equal(res.statusCode, 202, res.body);
      const stored = await dumpKeys(h.redis, `${h.prefix}:*`);
      assert.ok(!stored.includes(key) && !stored.includes(readFileSync(certs.ca.pem, 'utf8').split('\n')[1]!), 'the certificate is in Redis in clear');
      const task = (await get(`/v1/projA/checks/${res.json().check_id}`)).json();
      assert.deepEqual(
        { ssl_mode: task.check_items[0].target.ssl_mode, ssl_cert_name: task.check_items[0].target.ssl_cert_name },
        { ssl_mode: 'verify-full', ssl_cert_name: 'ca.pem' },
      );
      await app.inject({ method: 'DELETE', url: `/v1/projA/checks/${res.json().check_id}`, headers: { 'x-auth-token': TOKEN_A } });
    });

    it('cancels it; a second cancel is 409', async () => {
      const res = await app.inject({ method: 'DELETE', url: `/v1/projA/checks/${checkId}`, headers: { 'x-auth-token': TOKEN_A } });
      assert.equal(res.statusCode, 200);
      const task = res.json();
      assert.equal(task.status, 'Canceled');
      assert.deepEqual(
        task.check_items.map((i: { status: string; error_code: string }) => [i.status, i.error_code]),
        [
          ['canceled', 'CANCELED'],
          ['canceled', 'CANCELED'],
        ],
      );
      assert.equal(await h.queue.queue('default').count(), 0, 'waiting jobs were removed');
      const again = await app.inject({ method: 'DELETE', url: `/v1/projA/checks/${checkId}`, headers: { 'x-auth-token': TOKEN_A } });
      assert.deepEqual([again.statusCode, again.json()], [409, { error_code: 'CC.ALREADY_FINISHED', error_msg: `check ${checkId} already ended as Canceled` }]);
    });

    it("429 once a project's backlog would pass CONNCHECK_MAX_PENDING_ITEMS", async () => {
      for (let i = 0; i < 2; i++) assert.equal((await post({ jobs: Array(5).fill(mysqlJob) })).statusCode, 202);
      const res = await post({ jobs: Array(5).fill(mysqlJob) });
      assert.deepEqual([res.statusCode, res.json().error_code], [429, 'CC.RATE_LIMITED']);
      assert.match(res.json().error_msg, /^project projA has 10 unfinished items; 5 more would pass the limit of 12/);
    });
  });

  describe('long polling (wait_ms) and the light view (include_items=false)', () => {
    const project = 'projWait';
    let checkId: string;
    const read = (query: string, id = checkId) => get(`/v1/${project}/checks/${id}${query}`, TOKEN_ALL);
    const cancel = (id: string) => app.inject({ method: 'DELETE', url: `/v1/${project}/checks/${id}`, headers: { 'x-auth-token': TOKEN_ALL } });

    before(async () => {
      const res = await post({ jobs: [mysqlJob, { ...mysqlJob, id: 'second' }] }, { project, token: TOKEN_ALL });
      assert.equal(res.statusCode, 202);
      checkId = res.json().check_id;
    });
    after(async () => {
      await cancel(checkId);
    });

    it('include_items=false shows the header and summary only', async () => {
      const { check_items: items, ...header } = (await read('')).json();
      assert.equal(items.length, 2);
      const res = await read('?include_items=false');
      assert.equal(res.statusCode, 200);
      assert.deepEqual(res.json(), { ...header, check_items: [] });
      const bad = await read('?include_items=maybe');
      assert.deepEqual([bad.statusCode, bad.json().error_code], [400, 'CC.INVALID_PARAMETER']);
    });

    it('wait_ms holds the answer until the task ends, or as long as asked', async () => {
      const started = Date.now();
      const open = await read('?wait_ms=300');
      assert.ok(Date.now() - started >= 290, `answered after ${Date.now() - started} ms`);
      assert.deepEqual([open.statusCode, open.json().status], [200, 'Pending']);

      // A task that ends while a client waits: the answer comes with its end, long before wait_ms.
      const id = (await post({ jobs: [mysqlJob] }, { project, token: TOKEN_ALL })).json().check_id as string;
      const waitStarted = Date.now();
      const waiting = read('?wait_ms=10000&include_items=false', id);
      const v3Waiting = get(`/v3/${project}/jobs/batch-connection/${id}?wait_ms=10000`, TOKEN_ALL);
      await new Promise((resolve) => setTimeout(resolve, 200));
      assert.equal((await cancel(id)).statusCode, 200);
      const [ended, v3Ended] = await Promise.all([waiting, v3Waiting]);
      assert.ok(Date.now() - waitStarted < 5000, `answered after ${Date.now() - waitStarted} ms`);
      assert.deepEqual([ended.statusCode, ended.json().status, ended.json().check_items], [200, 'Canceled', []]);
      assert.deepEqual(v3Ended.json().results, [
        { id: mysqlJob.id, status: 'canceled', success: false, error_code: 'CANCELED', error_msg: 'canceled before it finished' },
      ]);

      // An ended task, and a task of another project, answer at once.
      const quick = Date.now();
      assert.equal((await read('?wait_ms=10000', id)).json().status, 'Canceled');
      assert.equal((await get(`/v1/projA/checks/${checkId}?wait_ms=10000`)).statusCode, 404);
      assert.ok(Date.now() - quick < 2000, `answered after ${Date.now() - quick} ms`);

      const tooLong = await read('?wait_ms=30001');
      assert.deepEqual([tooLong.statusCode, tooLong.json().error_code], [400, 'CC.INVALID_PARAMETER']);
      assert.match(tooLong.json().error_msg, /wait_ms/);
    });
  });

  describe("the dashboard's files at /ui/", () => {
    const dir = mkdtempSync(join(tmpdir(), 'conncheck-ui-'));
    let ui: FastifyInstance;
    before(async () => {
      mkdirSync(join(dir, 'assets'));
      writeFileSync(join(dir, 'index.html'), '<!doctype html><title>conncheck</title>');
      writeFileSync(join(dir, 'assets', 'index-abc123.js'), 'export {};');
      ui = await buildApp({ config: h.config, store: h.store, queue: h.queue, dashboardDir: dir });
    });
    after(async () => {
      await ui.close();
      rmSync(dir, { recursive: true, force: true });
    });

    it('serves them without a token, /ui redirecting to /ui/, under a strict content security policy', async () => {
      const redirect = await ui.inject('/ui');
      assert.deepEqual([redirect.statusCode, redirect.headers.location], [301, '/ui/']);
      const page = await ui.inject('/ui/');
      assert.equal(page.statusCode, 200);
      assert.match(String(page.headers['content-type']), /^text\/html/);
      assert.equal(page.headers['cache-control'], 'no-cache');
      assert.match(String(page.headers['content-security-policy']), /default-src 'none'; script-src 'self'/);
      const asset = await ui.inject('/ui/assets/index-abc123.js');
      assert.deepEqual([asset.statusCode, asset.headers['cache-control']], [200, 'public, max-age=31536000, immutable']);
      const missing = await ui.inject('/ui/assets/nothing.js');
      assert.deepEqual([missing.statusCode, missing.json().error_code], [404, 'CC.ROUTE_NOT_FOUND']);
      assert.equal(Object.keys((await ui.inject('/openapi.json')).json().paths).filter((path) => path.startsWith('/ui')).length, 0);
    });

    it('tells the page whether it needs a token, without one', async () => {
      const res = await ui.inject('/ui/session.json');
      assert.deepEqual([res.statusCode, res.json()], [200, { open_mode: false }]);
    });

    it('answers a JSON 503 when the dashboard was not built', async () => {
      const unbuilt = await buildApp({ config: h.config, store: h.store, queue: h.queue, dashboardDir: join(dir, 'not-built') });
      for (const url of ['/ui/', '/ui/assets/index-abc123.js']) {
        const res = await unbuilt.inject(url);
        assert.equal(res.statusCode, 503, url);
        assert.equal(res.json().error_code, 'CC.SERVICE_UNAVAILABLE');
        assert.match(res.json().error_msg, /the dashboard is not built: run `npm run build`/);
      }
      assert.equal((await unbuilt.inject('/ui')).headers.location, '/ui/');
      await unbuilt.close();
    });
  });
});

describe('API without Redis', () => {
  it('answers 503 on readyz and on submissions, with no internals', async () => {
    const h = await harness();
    const app = await buildApp({ config: h.config, store: h.store, queue: h.queue });
    h.redis.disconnect();
    const ready = await app.inject('/readyz');
    assert.deepEqual([ready.statusCode, ready.json().error_code], [503, 'CC.SERVICE_UNAVAILABLE']);
    const res = await app.inject({ method: 'POST', url: '/v3/p/jobs/batch-connection', payload: { jobs: [mysqlJob] } });
    assert.deepEqual([res.statusCode, res.json()], [503, { error_code: 'CC.SERVICE_UNAVAILABLE', error_msg: 'the task store is unavailable; retry shortly' }]);
    await app.close();
    await h.queue.close().catch(() => undefined);
  });
});
