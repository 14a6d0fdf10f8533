// Live events over real processes: two API processes and a worker, as the README starts them. A client watching a
// task on one API process sees every item as it ends, with progress, and the end; a client that reconnects to the
// other process with Last-Event-ID goes on where it stopped. The events come through Redis, not process memory.

import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { type AddressInfo, type Server, type Socket, createServer } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { createRedis } from '@conncheck/store';
import { deleteKeys } from './lib/harness.js';
import { type Proc, freePort, startScript, waitUntilReady } from './lib/processes.js';
import { loadServices } from './lib/services.js';

interface SseEvent {
  id?: string;
  event: string;
  data: any;
}

/** Reads a text/event-stream until it closes or `stopAfter` says so; returns the events. */
async function readEvents(url: string, headers: Record<string, string>, stopAfter: (events: SseEvent[]) => boolean = () => false): Promise<SseEvent[]> {
  const controller = new AbortController();
  const res = await fetch(url, { headers: { accept: 'text/event-stream', ...headers }, signal: controller.signal });
  assert.equal(res.status, 200);
  assert.match(res.headers.get('content-type') ?? '', /^text\/event-stream/);
  const events: SseEvent[] = [];
  const decoder = new TextDecoder();
  let buffer = '';
  try {
    for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
      buffer += decoder.decode(chunk, { stream: true });
      let end: number;
      while ((end = buffer.indexOf('\n\n')) >= 0) {
        const block = buffer.slice(0, end);
        buffer = buffer.slice(end + 2);
        const fields = Object.fromEntries(
          block
            .split('\n')
            .filter((l) => !l.startsWith(':'))
            .map((l) => [l.slice(0, l.indexOf(':')), l.slice(l.indexOf(':') + 1).trimStart()]),
        );
        if (fields.event) events.push({ ...(fields.id ? { id: fields.id } : {}), event: fields.event, data: JSON.parse(fields.data ?? 'null') });
        if (stopAfter(events)) {
          controller.abort();
          return events;
        }
      }
    }
  } catch (err) {
    if ((err as Error).name !== 'AbortError') throw err;
  }
  return events;
}

describe('task events over several API processes', () => {
  const services = loadServices();
  const prefix = `ev${randomBytes(3).toString('hex')}`;
  const token = `events-${randomBytes(8).toString('hex')}`;
  const procs: Proc[] = [];
  const bases: string[] = [];
  let silent: Server;
  const held: Socket[] = [];

  before(async () => {
    silent = createServer((s) => {
      held.push(s);
      s.on('error', () => undefined);
    });
    await new Promise<void>((r) => silent.listen(0, '127.0.0.1', r));
    const env = {
      REDIS_URL: services.redis.url,
      CONNCHECK_SECRET_KEY: randomBytes(32).toString('base64'),
      CONNCHECK_REDIS_PREFIX: prefix,
      CONNCHECK_AUTH_TOKENS: `${token}=p`,
      CONNCHECK_TARGET_ALLOW: '127.0.0.0/8',
    };
    for (let i = 0; i < 2; i++) {
      const port = await freePort();
      bases.push(`http://127.0.0.1:${port}`);
      procs.push(startScript('start:api', { ...env, PORT: String(port) }));
    }
    procs.push(startScript('start:worker', env));
    for (const [i, base] of bases.entries()) await waitUntilReady(base, procs[i]!);
  });

  after(async () => {
    for (const p of procs) p.kill();
    for (const s of held) s.destroy();
    silent.close();
    const redis = createRedis(services.redis.url, 'api', 'events-cleanup');
    await redis.connect();
    await deleteKeys(redis, `${prefix}:*`);
    redis.disconnect();
  });

  it('streams each item as it ends, progress, and the end; a reconnect with Last-Event-ID on the other process resumes', async () => {
    const refused = await freePort();
    const jobs = [
      ...Array.from({ length: 3 }, (_, i) => ({ id: `quick-${i}`, db_type: 'tcp', ip: '127.0.0.1', db_port: refused })),
      { id: 'slow', db_type: 'postgresql', ip: '127.0.0.1', db_port: (silent.address() as AddressInfo).port, db_user: 'u', db_password: 'p', timeout_ms: 2000 },
    ];
    const headers = { 'x-auth-token': token };
    const res = await fetch(`${bases[0]}/v3/p/jobs/batch-connection`, {
      method: 'POST',
      headers: { ...headers, 'content-type': 'application/json' },
      body: JSON.stringify({ jobs }),
    });
    const { check_id: checkId } = (await res.json()) as { check_id: string };

    // Watch on the second API process, and stop after the first three items.
    const firstPart = await readEvents(`${bases[1]}/v1/p/checks/${checkId}/events`, headers, (events) => events.filter((e) => e.event === 'item').length === 3);
    const items = firstPart.filter((e) => e.event === 'item');
    assert.deepEqual(items.map((e) => e.data.id).sort(), ['quick-0', 'quick-1', 'quick-2']);
    for (const e of items) {
      assert.equal(e.data.error_code, 'CONNECTION_REFUSED');
      assert.ok(e.id);
    }
    assert.equal(firstPart[0]!.event, 'progress');

    // Resume on the first process after the last item seen: the slow item, progress, the end, then the stream closes.
    const rest = await readEvents(`${bases[0]}/v1/p/checks/${checkId}/events`, { ...headers, 'last-event-id': items.at(-1)!.id! });
    const restItems = rest.filter((e) => e.event === 'item');
    assert.deepEqual(
      restItems.map((e) => [e.data.id, e.data.error_code]),
      [['slow', 'TIMEOUT']],
    );
    const end = rest.at(-1)!;
    assert.equal(end.event, 'end');
    assert.equal(end.data.check_id, checkId);
    assert.equal(end.data.status, 'Failed');
    assert.deepEqual(end.data.summary, { total: 4, succeeded: 0, failed: 4, canceled: 0, running: 0, pending: 0 });
    const lastProgress = rest.filter((e) => e.event === 'progress').at(-1)!;
    assert.deepEqual(lastProgress.data.summary, end.data.summary);

    // An ended task replays everything and closes; the stream needs the token like any route, and an unknown task is a 404.
    const replay = await readEvents(`${bases[1]}/v1/p/checks/${checkId}/events`, headers);
    assert.equal(replay.filter((e) => e.event === 'item').length, 4);
    assert.equal(replay.at(-1)!.event, 'end');
    assert.equal((await fetch(`${bases[1]}/v1/p/checks/${checkId}/events`)).status, 401);
    assert.equal((await fetch(`${bases[1]}/v1/p/checks/0190a0b0-0000-7000-8000-000000000000/events`, { headers })).status, 404);
    assert.equal((await fetch(`${bases[1]}/v1/p/checks/${checkId}/events`, { headers: { ...headers, 'last-event-id': 'garbage' } })).status, 400);
  });
});
