// The HTTP edges of a real API process (started as `npm run start:api`): what the parser and router refuse, slow
// and oversized requests, too many connections from one client, 405 with Allow, bodies with a prototype key, and the
// rate limits (per token, and on failed authentication) — every answer `{error_code, error_msg}`, every 429 with
// Retry-After.

import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { connect, type Socket } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { createRedis } from '@conncheck/store';
import { deleteKeys } from './lib/harness.js';
import { type Proc, freePort, startScript, waitUntilReady } from './lib/processes.js';
import { loadServices } from './lib/services.js';

/** Writes raw bytes and reads until the server closes (or `ms` pass): what a browser or proxy would not send. */
function raw(port: number, data: string, ms = 5000): Promise<{ text: string; closedAfterMs: number }> {
  return new Promise((resolve) => {
    const started = Date.now();
    const socket = connect(port, '127.0.0.1');
    let text = '';
    const done = () => resolve({ text, closedAfterMs: Date.now() - started });
    const timer = setTimeout(() => {
      socket.destroy();
      done();
    }, ms);
    socket.on('data', (d) => (text += d.toString()));
    socket.on('close', () => {
      clearTimeout(timer);
      done();
    });
    socket.on('error', () => undefined);
    socket.write(data);
  });
}

function jsonBody(response: string): { error_code: string; error_msg: string } {
  return JSON.parse(response.slice(response.indexOf('\r\n\r\n') + 4));
}

describe('HTTP edges of a running API', () => {
  const services = loadServices();
  const prefix = `edge${randomBytes(3).toString('hex')}`;
  const TOKEN = `edges-${randomBytes(10).toString('hex')}`;
  let port: number;
  let base: string;
  let api: Proc;

  before(async () => {
    port = await freePort();
    base = `http://127.0.0.1:${port}`;
    api = startScript('start:api', {
      REDIS_URL: services.redis.url,
      PORT: String(port),
      CONNCHECK_SECRET_KEY: randomBytes(32).toString('base64'),
      CONNCHECK_REDIS_PREFIX: prefix,
      CONNCHECK_AUTH_TOKENS: `${TOKEN}=p`,
      CONNCHECK_REQUEST_TIMEOUT_MS: '1500',
      CONNCHECK_MAX_CONNECTIONS_PER_CLIENT: '20',
      CONNCHECK_RATE_LIMIT_PER_MINUTE: '40',
      CONNCHECK_AUTH_FAILURES_PER_MINUTE: '5',
    });
    await waitUntilReady(base, api);
  });

  after(async () => {
    api.kill();
    const redis = createRedis(services.redis.url, 'api', 'edges-cleanup');
    await redis.connect();
    await deleteKeys(redis, `${prefix}:*`);
    redis.disconnect();
  });

  it('cuts off a body that never arrives (408 within the request timeout), and answers bad HTTP as JSON', async () => {
    const slow = await raw(
      port,
      `POST /v3/p/jobs/batch-connection HTTP/1.1\r\nHost: x\r\nX-Auth-Token: ${TOKEN}\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{"jobs":[`,
    );
    assert.match(slow.text, /^HTTP\/1\.1 408 /);
    assert.deepEqual(jsonBody(slow.text).error_code, 'CC.REQUEST_TIMEOUT');
    assert.ok(slow.closedAfterMs < 1500 + 1500, `closed after ${slow.closedAfterMs} ms`);

    const garbage = await raw(port, 'THIS IS NOT HTTP\r\n\r\n');
    assert.match(garbage.text, /^HTTP\/1\.1 400 /);
    assert.equal(jsonBody(garbage.text).error_code, 'CC.BAD_REQUEST');

    const chunked = await raw(
      port,
      `POST /v3/p/jobs/batch-connection HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nContent-Type: application/json\r\n\r\nZZZ\r\n{}\r\n0\r\n\r\n`,
    );
    assert.match(chunked.text, /^HTTP\/1\.1 400 /);
    assert.equal(jsonBody(chunked.text).error_code, 'CC.BAD_REQUEST');

    const huge = await raw(port, `GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(20_000)}\r\n\r\n`);
    assert.match(huge.text, /^HTTP\/1\.1 431 /);
    assert.equal(jsonBody(huge.text).error_code, 'CC.HEADERS_TOO_LARGE');
  });

  it('closes connections past the per-client bound', async () => {
    const held: Socket[] = [];
    let closedByServer = 0;
    try {
      for (let i = 0; i < 30; i++) {
        const s = connect(port, '127.0.0.1');
        s.on('error', () => undefined);
        s.once('close', () => closedByServer++);
        await new Promise((r) => s.once('connect', r));
        held.push(s);
      }
      await new Promise((r) => setTimeout(r, 300));
      // At most 20 are kept (fewer if this client still had connections open from the tests before).
      assert.ok(closedByServer >= 10, `${closedByServer} of 30 closed by the server`);
    } finally {
      for (const s of held) s.destroy();
    }
    await new Promise((r) => setTimeout(r, 300));
    const again = await raw(port, 'GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n', 2000);
    assert.match(again.text, /^HTTP\/1\.1 200 /, 'a client below the bound is served again');
  });

  it('405 with Allow for a known path, 414 for a path parameter too long, 400 for a bad escape, a clear word for __proto__', async () => {
    const headers = { 'x-auth-token': TOKEN };
    const put = await fetch(`${base}/v1/p/checks/abc`, { method: 'PUT', headers });
    assert.equal(put.status, 405);
    assert.equal(put.headers.get('allow'), 'DELETE, GET, HEAD');
    assert.equal(((await put.json()) as { error_code: string }).error_code, 'CC.METHOD_NOT_ALLOWED');
    // A long id is refused by its schema, naming it; one longer than the router keeps is a 414.
    const long = await fetch(`${base}/v1/p/checks/${'x'.repeat(300)}`, { headers });
    assert.equal(long.status, 400);
    assert.match(((await long.json()) as { error_msg: string }).error_msg, /^params check_id: must NOT have more than 64 characters$/);
    const longer = await fetch(`${base}/v1/p/checks/${'x'.repeat(1100)}`, { headers });
    assert.equal(longer.status, 414);
    assert.equal(((await longer.json()) as { error_code: string }).error_code, 'CC.URI_TOO_LONG');
    const escape = await fetch(`${base}/v1/p/checks/%zz`, { headers });
    assert.equal(escape.status, 400);
    assert.equal(((await escape.json()) as { error_code: string }).error_code, 'CC.BAD_URL');
    const proto = await fetch(`${base}/v3/p/jobs/batch-connection`, {
      method: 'POST',
      headers: { ...headers, 'content-type': 'application/json' },
      body: '{"jobs":[{"id":"x","db_type":"tcp","ip":"10.0.0.1","db_port":1,"__proto__":{"polluted":true}}]}',
    });
    assert.equal(proto.status, 400);
    assert.deepEqual(await proto.json(), {
      error_code: 'CC.INVALID_PARAMETER',
      error_msg: "jobs[0].__proto__: a key that could change an object's prototype is refused",
    });
    const gzip = await fetch(`${base}/v3/p/jobs/batch-connection`, {
      method: 'POST',
      headers: { ...headers, 'content-type': 'application/json', 'content-encoding': 'gzip' },
      body: '{}',
    });
    assert.equal(gzip.status, 415);
  });

  it('limits failed authentication per address, then requests per token; every 429 says when to retry', async () => {
    // Five failed authentications, then the sixth is refused before its token is even looked at.
    for (let i = 0; i < 5; i++) assert.equal((await fetch(`${base}/v1/p/checks`, { headers: { 'x-auth-token': `wrong-${i}-000000000000000` } })).status, 401);
    const blocked = await fetch(`${base}/v1/p/checks`, { headers: { 'x-auth-token': 'wrong-again-000000000000000' } });
    assert.equal(blocked.status, 429);
    assert.ok(Number(blocked.headers.get('retry-after')) > 0);
    assert.match(((await blocked.json()) as { error_msg: string }).error_msg, /failed authentications a minute from this address/);

    // The valid token has its own budget: 40 a minute (minus what the earlier tests spent).
    let limited: Response | undefined;
    for (let i = 0; i < 60 && !limited; i++) {
      const res = await fetch(`${base}/v1/p/checks`, { headers: { 'x-auth-token': TOKEN } });
      if (res.status === 429) limited = res;
      else assert.equal(res.status, 200);
    }
    assert.ok(limited, 'the token ran out of requests');
    assert.ok(Number(limited.headers.get('retry-after')) > 0);
    assert.equal(((await limited.json()) as { error_code: string }).error_code, 'CC.RATE_LIMITED');
    // Health and metrics are never limited.
    assert.equal((await fetch(`${base}/healthz`)).status, 200);
    assert.equal((await fetch(`${base}/metrics`)).status, 200);
  });

  it('logs every refusal above as one JSON line naming its error_code, and never a token', () => {
    const lines = api
      .serviceOutput()
      .split('\n')
      .filter((l) => l !== '');
    const entries = lines.map((line) => {
      try {
        return JSON.parse(line) as { msg?: string; level?: number; status_code?: number; error_code?: string };
      } catch {
        throw new Error(`not a JSON line: ${line}`);
      }
    });
    const refused = entries.filter((e) => e.msg === 'request refused');
    const codes = new Set(refused.map((e) => e.error_code));
    for (const code of [
      'CC.REQUEST_TIMEOUT',
      'CC.BAD_REQUEST',
      'CC.HEADERS_TOO_LARGE',
      'CC.METHOD_NOT_ALLOWED',
      'CC.URI_TOO_LONG',
      'CC.BAD_URL',
      'CC.UNAUTHORIZED',
      'CC.RATE_LIMITED',
    ]) {
      assert.ok(codes.has(code), `a "request refused" line with ${code}; got ${[...codes].join(', ')}`);
    }
    for (const e of refused) {
      assert.equal(e.level, 30, 'refusals are logged at info');
      assert.ok(e.status_code! >= 400 && e.status_code! < 500);
    }
    assert.ok(!api.output().includes(TOKEN), 'the token never appears in the log');
    assert.ok(!api.output().includes('wrong-again'), 'nor a wrong one');
  });
});
