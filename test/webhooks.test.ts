// Callbacks over real HTTP: a signed POST of the task summary when a task ends (finished or canceled), retried with
// backoff through the queue, every attempt recorded on the task, and the callback address under the network policy.

import assert from 'node:assert/strict';
import { createHmac, timingSafeEqual } from 'node:crypto';
import { type IncomingMessage, type Server, createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { waitFor } from './lib/harness.js';
import { type Pipeline, startPipeline } from './lib/pipeline.js';
import { freePort } from './lib/processes.js';

interface Received {
  headers: IncomingMessage['headers'];
  body: string;
}

describe('callback_url', () => {
  let p: Pipeline;
  let receiver: Server;
  let base: string;
  const received: Received[] = [];
  /** What the receiver answers next (the last one repeats). */
  let answers: number[] = [204];

  before(async () => {
    p = await startPipeline({ CONNCHECK_WEBHOOK_BACKOFF_MS: '100', CONNCHECK_WEBHOOK_ATTEMPTS: '3', CONNCHECK_TARGET_DENY: '127.0.0.99/32' });
    receiver = createServer((req, res) => {
      let body = '';
      req.on('data', (d: Buffer) => (body += d.toString()));
      req.on('end', () => {
        received.push({ headers: req.headers, body });
        res.writeHead(answers.length > 1 ? answers.shift()! : answers[0]!).end();
      });
    });
    await new Promise<void>((r) => receiver.listen(0, '127.0.0.1', r));
    base = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}`;
  });
  after(async () => {
    receiver.close();
    await p.close();
  });

  const submit = async (callback: string, jobs: unknown[]) => {
    const res = await p.app.inject({ method: 'POST', url: '/v3/proj/jobs/batch-connection', payload: { jobs, callback_url: callback } });
    assert.equal(res.statusCode, 202, res.body);
    return res.json().check_id as string;
  };
  const callbackOf = async (checkId: string) => (await p.task(checkId)) as any;

  it("POSTs the summary when the task ends, signed with the project's secret", async () => {
    answers = [204];
    const listener = await p.listen((s) => s.end());
    const checkId = await submit(`${base}/hooks/conncheck?x=1`, [{ id: 'a', db_type: 'tcp', ip: '127.0.0.1', db_port: listener.port }]);
    const task = await waitFor(
      async () => {
        const t = await callbackOf(checkId);
        return t.callback?.status === 'delivered' ? t : undefined;
      },
      10_000,
      'the delivery',
    );
    const delivery = received.find((r) => r.headers['x-conncheck-delivery'] === checkId)!;
    const body = JSON.parse(delivery.body);
    assert.equal(body.event, 'task.ended');
    assert.equal(body.project, 'proj');
    assert.equal(body.check_id, checkId);
    assert.equal(body.status, 'Succeeded');
    assert.deepEqual(body.summary, task.summary);
    assert.equal(delivery.headers['content-type'], 'application/json');
    // The receiver checks the signature over "<timestamp>.<raw body>" with the secret the API hands out.
    const { secret } = (await p.app.inject('/v1/proj/webhook-secret')).json();
    assert.match(secret, /^whsec_/);
    const timestamp = delivery.headers['x-conncheck-timestamp'] as string;
    assert.ok(Math.abs(Number(timestamp) - Date.now() / 1000) < 30);
    const expected = `v1=${createHmac('sha256', secret).update(`${timestamp}.${delivery.body}`).digest('hex')}`;
    assert.ok(timingSafeEqual(Buffer.from(delivery.headers['x-conncheck-signature'] as string), Buffer.from(expected)));
    assert.deepEqual(
      task.callback.attempts.map((a: any) => [a.attempt, a.status_code]),
      [[1, 204]],
    );
    assert.equal(task.callback.url, `${base}/hooks/conncheck?x=1`);
    // Another project's secret is another secret.
    assert.notEqual((await p.app.inject('/v1/other/webhook-secret')).json().secret, secret);
  });

  it('retries with backoff, recording every attempt, until the receiver takes it', async () => {
    answers = [500, 503, 200];
    const checkId = await submit(`${base}/flaky`, [{ id: 'r', db_type: 'tcp', ip: '127.0.0.1', db_port: await freePort() }]);
    const task = await waitFor(
      async () => {
        const t = await callbackOf(checkId);
        return t.callback?.status === 'delivered' ? t : undefined;
      },
      15_000,
      'the third attempt',
    );
    assert.deepEqual(
      task.callback.attempts.map((a: any) => [a.attempt, a.status_code]),
      [
        [1, 500],
        [2, 503],
        [3, 200],
      ],
    );
    assert.equal(JSON.parse(received.at(-1)!.body).status, 'Failed');
  });

  it('gives up after its attempts, and never calls an address the network policy forbids', async () => {
    answers = [500];
    const failing = await submit(`${base}/down`, [{ id: 'f', db_type: 'tcp', ip: '127.0.0.1', db_port: await freePort() }]);
    const given = await waitFor(
      async () => {
        const t = await callbackOf(failing);
        return t.callback?.status === 'failed' ? t : undefined;
      },
      15_000,
      'the callback to be given up',
    );
    assert.deepEqual(
      given.callback.attempts.map((a: any) => a.status_code),
      [500, 500, 500],
    );

    const before = received.length;
    const forbidden = await submit('http://127.0.0.99:9/hook', [{ id: 'g', db_type: 'tcp', ip: '127.0.0.1', db_port: await freePort() }]);
    const refused = await waitFor(
      async () => {
        const t = await callbackOf(forbidden);
        return t.callback?.status === 'failed' ? t : undefined;
      },
      10_000,
      'the forbidden callback to fail',
    );
    assert.equal(refused.callback.attempts.length, 1, 'not retried');
    assert.match(refused.callback.attempts[0].error, /^callback_url 127\.0\.0\.99.*which this deployment may not connect to$/);
    assert.equal(received.length, before);
  });

  it('is called for a canceled task too; a bad callback_url is a 400', async () => {
    answers = [200];
    const silent = await p.listen();
    const checkId = await submit(`${base}/canceled`, [
      { id: 'h', db_type: 'postgresql', ip: '127.0.0.1', db_port: silent.port, db_user: 'u', db_password: 'p', timeout_ms: 30_000 },
    ]);
    await p.app.inject({ method: 'DELETE', url: `/v1/proj/checks/${checkId}` });
    await waitFor(async () => ((await callbackOf(checkId)).callback?.status === 'delivered' ? true : undefined), 10_000, 'the delivery');
    assert.equal(JSON.parse(received.find((r) => r.headers['x-conncheck-delivery'] === checkId)!.body).status, 'Canceled');

    for (const [url, message] of [
      ['ftp://example.invalid/x', 'callback_url: must be http or https, not ftp'],
      ['http://user:pw@example.invalid/x', 'callback_url: must not carry credentials (the delivery is signed instead)'],
      ['not a url at all', 'callback_url: is not a URL'],
    ]) {
      const res = await p.app.inject({
        method: 'POST',
        url: '/v3/proj/jobs/batch-connection',
        payload: { jobs: [{ id: 'x', db_type: 'tcp', ip: '127.0.0.1', db_port: 1 }], callback_url: url },
      });
      assert.equal(res.statusCode, 400, url);
      assert.equal(res.json().error_msg, message);
    }
  });
});
