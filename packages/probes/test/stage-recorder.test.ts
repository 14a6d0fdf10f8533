// Owns: tests of stage ordering, durations, skipping and freezing.
// Must not: depend on real time; the clock is injected.

import assert from 'node:assert/strict';
import { it } from 'node:test';
import { createStageRecorder } from '../src/stage-recorder.js';

function clock(): { now: () => number; advance(ms: number): void } {
  let t = 1000;
  return { now: () => t, advance: (ms) => (t += ms) };
}

it('records stages in order with durations and reports unreached planned stages as skipped', () => {
  const c = clock();
  const stages = createStageRecorder(c.now);
  stages.plan(['dns', 'tcp', 'auth', 'probe']);
  stages.skip('dns', 'IP address');
  stages.begin('tcp');
  c.advance(12.34);
  stages.ok('127.0.0.1:5432');
  stages.begin('auth');
  c.advance(3);
  assert.equal(stages.current, 'auth');
  stages.fail('denied');
  assert.deepEqual(stages.finish(), [
    { name: 'dns', status: 'skipped', duration_ms: 0, detail: 'IP address' },
    { name: 'tcp', status: 'ok', duration_ms: 12.3, detail: '127.0.0.1:5432' },
    { name: 'auth', status: 'failed', duration_ms: 3, detail: 'denied' },
    { name: 'probe', status: 'skipped', duration_ms: 0 },
  ]);
});

it('marks a stage still in progress failed at finish, then ignores late calls', () => {
  const c = clock();
  const stages = createStageRecorder(c.now);
  stages.plan(['dns', 'tcp']);
  stages.begin('dns');
  c.advance(5);
  const list = stages.finish();
  stages.ok('late');
  stages.begin('tcp');
  stages.skip('tcp');
  assert.equal(stages.current, undefined);
  assert.deepEqual(stages.finish(), [
    { name: 'dns', status: 'failed', duration_ms: 5 },
    { name: 'tcp', status: 'skipped', duration_ms: 0 },
  ]);
  assert.equal(stages.finish(), list);
});

it('treats beginning a stage while another is open as a bug', () => {
  const stages = createStageRecorder();
  stages.begin('tcp');
  assert.throws(() => stages.begin('auth'), /stage "auth" begun while "tcp" is still in progress/);
});
