// The README's quick start, run as a new user runs it: `npm start` with nothing configured but the port (no
// REDIS_URL, no key, no tokens), then "A first check" copied from the README itself, its answers compared with the
// ones the README shows. A drift between the README, the npm scripts and the service fails here.

import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { createRedis } from '@conncheck/store';
import { deleteKeys } from './lib/harness.js';
import { type Proc, freePort, repoRoot, startScript, waitUntilReady } from './lib/processes.js';

const README_PORT = '8080';

/** The text of one `## ` section of the README, up to the next one. */
function section(readme: string, heading: string): string {
  const start = readme.indexOf(`\n## ${heading}\n`);
  assert.ok(start >= 0, `the README has a "## ${heading}" section`);
  const end = readme.indexOf('\n## ', start + 1);
  return readme.slice(start, end < 0 ? undefined : end);
}

/** The fenced code blocks of a text, in order, with their language. */
function codeBlocks(text: string): { lang: string; body: string }[] {
  return [...text.matchAll(/^```(\w*)\n([\s\S]*?)^```$/gm)].map((m) => ({ lang: m[1]!, body: m[2]! }));
}

describe('the README\'s "A first check", as written', () => {
  const readme = readFileSync(join(repoRoot, 'README.md'), 'utf8');
  const quickStart = section(readme, 'A first check');
  const blocks = codeBlocks(quickStart);
  let port: string;
  let base: string;
  let proc: Proc;
  const prefix = `readme${Date.now().toString(36)}`;

  /** A README text with the README's port swapped for the one this test runs on. */
  const onPort = (text: string): string => text.replaceAll(README_PORT, port);

  before(async () => {
    port = String(await freePort());
    base = `http://127.0.0.1:${port}`;
    // Only the port differs from the README (8080 may be taken here); the prefix keeps this run's keys apart in case a
    // Redis does answer at the default address on this machine.
    proc = startScript('start', { PORT: port, CONNCHECK_REDIS_PREFIX: prefix });
    await waitUntilReady(base, proc);
  });

  after(async () => {
    proc.signal('SIGTERM');
    let timer: NodeJS.Timeout | undefined;
    const code = await Promise.race([proc.exited, new Promise((r) => (timer = setTimeout(() => r('still running'), 15_000)))]);
    clearTimeout(timer);
    proc.kill();
    assert.equal(code, 0, 'npm start stops cleanly on SIGTERM');
    if (!proc.output().includes('started a private redis-server')) {
      const redis = createRedis('redis://127.0.0.1:6379', 'api', 'readme-cleanup');
      await redis.connect();
      await deleteKeys(redis, `${prefix}:*`);
      redis.disconnect();
    }
  });

  it('starts with `npm ci && npm start` and tells the user how it runs', () => {
    const first = blocks[0];
    assert.ok(first && first.lang === 'sh' && first.body.startsWith('npm ci && npm start &'), "the section starts with the README's two commands");
    assert.match(proc.output(), /OPEN MODE/, 'open mode is announced');
    assert.match(proc.output(), /"msg":"api listening"/, 'the README says to wait for "api listening"');
  });

  it('answers the first check as the README shows, in both views', async () => {
    const curl = blocks[0]!.body;
    const url = /curl -s -X POST (\S+)/.exec(curl)?.[1];
    const body = /-d '([\s\S]*?)'\n/.exec(curl)?.[1];
    assert.ok(url && body, 'the first block has a curl -X POST with a -d body');

    const submitted = await fetch(onPort(url), { method: 'POST', headers: { 'content-type': 'application/json' }, body: onPort(body) });
    const accepted = (await submitted.json()) as { check_id: string; status: string; count: number };
    assert.equal(submitted.status, 202, JSON.stringify(accepted));
    const shownAccepted = JSON.parse(/^# 202 (\{.*\})$/m.exec(curl)?.[1] ?? 'null') as typeof accepted;
    assert.deepEqual(Object.keys(accepted), Object.keys(shownAccepted));
    assert.equal(accepted.status, shownAccepted.status);
    assert.equal(accepted.count, shownAccepted.count);

    // The wait call and its documented answer: the next sh block and the json block after it.
    const waitCall = blocks[1]!.body.trim();
    const waitUrl = /curl -s '([^']+)'/.exec(waitCall)?.[1];
    assert.ok(waitUrl && waitUrl.includes('<check_id>'), waitCall);
    const answer = await fetch(onPort(waitUrl).replace('<check_id>', accepted.check_id));
    assert.equal(answer.status, 200);
    const shownResults = JSON.parse(onPort(blocks[2]!.body)) as unknown;
    assert.deepEqual(await answer.json(), shownResults);

    // "What a result looks like": the same task in the cluster-check view, the README's item among its items.
    const shownTask = JSON.parse(onPort(codeBlocks(quickStart.slice(quickStart.indexOf('### What a result looks like')))[0]!.body));
    const task = (await (await fetch(`${base}/v1/my-project/checks/${accepted.check_id}`)).json()) as any;
    for (const field of ['type', 'status', 'message', 'summary']) assert.deepEqual(task[field], shownTask[field], field);
    assert.deepEqual(Object.keys(task).sort(), Object.keys(shownTask).sort());
    const shownItem = shownTask.check_items[0];
    const item = task.check_items[shownItem.index];
    const timings = new Set(['duration_ms', 'started_at', 'finished_at', 'worker', 'stages']);
    for (const [field, value] of Object.entries(shownItem)) {
      if (!timings.has(field)) assert.deepEqual(item[field], value, `check_items[${shownItem.index}].${field}`);
    }
    assert.deepEqual(Object.keys(item).sort(), Object.keys(shownItem).sort());
    assert.deepEqual(
      item.stages.map((s: any) => [s.name, s.status]),
      shownItem.stages.map((s: any) => [s.name, s.status]),
    );
    assert.equal(item.worker.pool, shownItem.worker.pool);

    // The other calls of the section on the same task.
    const list = (await (await fetch(`${base}/v1/my-project/checks?status=Failed&limit=20`)).json()) as { checks: { check_id: string }[] };
    assert.deepEqual(
      list.checks.map((c) => c.check_id),
      [accepted.check_id],
    );
    const cancel = await fetch(`${base}/v1/my-project/checks/${accepted.check_id}`, { method: 'DELETE' });
    assert.equal(cancel.status, 409, 'an ended task cannot be canceled');
  });
});
