import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { describe, it } from 'node:test';
import { SecretBox, SecretBoxError, newCheckId, checkIdFloor, CHECK_ID_PATTERN } from '../src/index.js';

describe('SecretBox', () => {
  const box = new SecretBox(randomBytes(32));

  it('round-trips and hides the plaintext', () => {
    const sealed = box.seal({ db_password: 'hunter2' }, 'id#0');
    assert.ok(!sealed.includes('hunter2'));
    assert.ok(!Buffer.from(sealed.split('.')[4]!, 'base64').toString('latin1').includes('hunter2'));
    assert.deepEqual(box.open(sealed, 'id#0'), { db_password: 'hunter2' });
  });

  it('refuses a blob moved to another item', () => {
    const sealed = box.seal({ db_password: 'x' }, 'id#0');
    assert.throws(() => box.open(sealed, 'id#1'), SecretBoxError);
  });

  it('names a key mismatch', () => {
    const sealed = SecretBox.random().seal({ a: 1 }, 'x');
    assert.throws(() => box.open(sealed, 'x'), /sealed with key [0-9a-f]{12}, this process has key/);
  });

  it('opens what an earlier key sealed while it is rotated, and seals only with the current key', () => {
    const oldKey = randomBytes(32);
    const before = new SecretBox(oldKey).seal({ db_password: 'p' }, 'c#0');
    const rotating = new SecretBox(randomBytes(32), [oldKey]);
    assert.deepEqual(rotating.open(before, 'c#0'), { db_password: 'p' });
    assert.equal(rotating.sealedWithPreviousKey(before), true);
    const again = rotating.seal({ db_password: 'p' }, 'c#0');
    assert.equal(rotating.sealedWithPreviousKey(again), false);
    assert.equal(again.split('.')[1], rotating.keyId);
    // Once the old key is dropped, what it sealed no longer opens, and the message names every key the process has.
    assert.throws(() => new SecretBox(randomBytes(32)).open(before, 'c#0'), /sealed with key [0-9a-f]{12}, this process has key [0-9a-f]{12}$/);
    assert.throws(() => new SecretBox(randomBytes(32), [randomBytes(32)]).open(before, 'c#0'), /this process has keys [0-9a-f]{12}, [0-9a-f]{12}$/);
  });

  it('refuses a tampered blob', () => {
    const parts = box.seal({ a: 1 }, 'x').split('.');
    const body = Buffer.from(parts[4]!, 'base64');
    body[0] = body[0]! ^ 1;
    parts[4] = body.toString('base64');
    assert.throws(() => box.open(parts.join('.'), 'x'), /failed authentication/);
  });
});

describe('check ids', () => {
  it('are UUIDv7 that sort by time', () => {
    const a = newCheckId(1_700_000_000_000);
    const b = newCheckId(1_700_000_000_001);
    assert.match(a, new RegExp(CHECK_ID_PATTERN));
    assert.ok(a < b);
    assert.ok(checkIdFloor(1_700_000_000_000) <= a);
    assert.ok(checkIdFloor(1_700_000_000_001) > a);
  });
});
