// Owns: tests of the runner — the deadline, cancel, bugs, socket cleanup and scrubbing — with small probes
// written for the purpose. Must not: depend on a database; the probe drivers are tested in their own files.

import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { after, describe, it } from 'node:test';
import { ItemErrorCode } from '@conncheck/core';
import type { Probe, ProbeContext, ProbeLogger } from '../src/types.js';
import { assertNothingLeftOpen, fakeServer, run, stageLine, target, waitFor } from './helpers.js';
import { serverText } from '../src/server-text.js';

after(assertNothingLeftOpen);

const unhandled: unknown[] = [];
const onUnhandled = (reason: unknown): void => void unhandled.push(reason);
process.on('unhandledRejection', onUnhandled);
after(() => {
  process.off('unhandledRejection', onUnhandled);
  assert.deepEqual(unhandled, [], 'no rejection may go unhandled after a deadline');
});

const never = (ctx: ProbeContext): Promise<never> =>
  // Rejects once the runner aborts, like a driver whose socket was destroyed.
  new Promise((_, reject) => ctx.signal.addEventListener('abort', () => reject(new Error('socket destroyed')), { once: true }));

const tcpTarget = target('tcp', 'db.example', 1234);

describe('runProbe deadline', () => {
  it('resolves at the deadline with TIMEOUT while the probe is still waiting', async () => {
    const probe: Probe = async (_t, ctx) => {
      ctx.stages.plan(['dns', 'tcp', 'auth', 'probe']);
      ctx.stages.skip('dns');
      ctx.stages.begin('tcp');
      ctx.stages.ok('10.0.0.1:1234');
      ctx.stages.begin('auth');
      return never(ctx);
    };
    const result = await run(probe, tcpTarget, { timeoutMs: 800 });
    assert.equal(result.error_code, ItemErrorCode.TIMEOUT);
    assert.match(result.error_msg ?? '', /connected to db\.example:1234, but the auth stage did not finish within 800 ms/);
    assert.equal(stageLine(result.stages), 'dns:skipped tcp:ok auth:failed probe:skipped');
    assert.equal(result.address, '10.0.0.1:1234');
    assert.ok(result.elapsed >= 750 && result.elapsed < 1500, `elapsed ${result.elapsed}`);
    assert.ok(result.duration_ms >= 750 && result.duration_ms < 1500, `duration_ms ${result.duration_ms}`);
  });

  it('calls a deadline during the tcp stage CONNECTION_TIMEOUT and during dns a DNS failure', async () => {
    const stuckIn =
      (stage: 'dns' | 'tcp'): Probe =>
      async (_t, ctx) => {
        ctx.stages.plan(['dns', 'tcp']);
        if (stage === 'tcp') ctx.stages.skip('dns');
        ctx.stages.begin(stage);
        return never(ctx);
      };
    const tcp = await run(stuckIn('tcp'), tcpTarget, { timeoutMs: 200 });
    assert.equal(tcp.error_code, ItemErrorCode.CONNECTION_TIMEOUT);
    assert.equal(tcp.error_msg, 'no TCP connection to db.example:1234 within 200 ms');
    assert.deepEqual(
      tcp.stages.map((s) => [s.name, s.status, s.detail]),
      [
        ['dns', 'skipped', undefined],
        ['tcp', 'failed', 'timed out after 200 ms'],
      ],
    );
    const dns = await run(stuckIn('dns'), tcpTarget, { timeoutMs: 200 });
    assert.equal(dns.error_code, ItemErrorCode.DNS_RESOLUTION_FAILED);
    assert.equal(dns.error_msg, 'resolving "db.example" timed out after 200 ms');
    assert.equal(stageLine(dns.stages), 'dns:failed tcp:skipped');
  });

  it('destroys every tracked socket at the deadline', async () => {
    const server = await fakeServer(() => undefined);
    try {
      const probe: Probe = async (_t, ctx) => {
        const socket = connect(server.port, '127.0.0.1');
        ctx.track(socket);
        return never(ctx);
      };
      const result = await run(probe, target('tcp', '127.0.0.1', server.port), { timeoutMs: 300 });
      assert.equal(result.error_code, ItemErrorCode.TIMEOUT);
      await waitFor(() => server.closed === 1);
      assert.equal(server.accepted, 1);
    } finally {
      await server.close();
    }
  });

  it('calls a timer a probe asked for (ctx.at) while the run lasts, and clears the ones left when it ends', async () => {
    const fired: string[] = [];
    const probe: Probe = async (_t, ctx) => {
      ctx.at(Date.now() + 20, () => fired.push('soon'));
      ctx.at(Date.now() + 100, () => fired.push('after the run'));
      const cancelled = ctx.at(Date.now() + 20, () => fired.push('cancelled'));
      cancelled();
      await new Promise((resolve) => ctx.at(Date.now() + 40, () => resolve(undefined)));
      return { success: true };
    };
    const result = await run(probe, tcpTarget);
    assert.equal(result.success, true);
    await new Promise((resolve) => setTimeout(resolve, 150));
    assert.deepEqual(fired, ['soon']);
  });

  it('destroys tracked sockets when the probe finishes, too', async () => {
    const server = await fakeServer(() => undefined);
    try {
      const probe: Probe = async (_t, ctx) => {
        const socket = connect(server.port, '127.0.0.1');
        ctx.track(socket);
        await new Promise((resolve) => socket.once('connect', resolve));
        return { success: true };
      };
      const result = await run(probe, target('tcp', '127.0.0.1', server.port));
      assert.equal(result.success, true);
      await waitFor(() => server.closed === 1);
    } finally {
      await server.close();
    }
  });
});

describe('runProbe cancel and bugs', () => {
  it('gives CANCELED when the caller aborts', async () => {
    const controller = new AbortController();
    const probe: Probe = async (_t, ctx) => {
      ctx.stages.plan(['dns', 'tcp']);
      ctx.stages.begin('dns');
      setImmediate(() => controller.abort());
      return never(ctx);
    };
    const result = await run(probe, tcpTarget, { signal: controller.signal });
    assert.equal(result.error_code, ItemErrorCode.CANCELED);
    assert.deepEqual(
      result.stages.map((s) => [s.name, s.status, s.detail]),
      [
        ['dns', 'failed', 'canceled'],
        ['tcp', 'skipped', undefined],
      ],
    );
    assert.ok(result.elapsed < 1000);
  });

  it('does not start the probe when the signal is already aborted', async () => {
    let started = false;
    const probe: Probe = async () => {
      started = true;
      return { success: true };
    };
    const result = await run(probe, tcpTarget, { signal: AbortSignal.abort() });
    assert.equal(result.error_code, ItemErrorCode.CANCELED);
    assert.equal(started, false);
  });

  it('turns a probe that throws into INTERNAL_ERROR with a generic message and logs the error', async () => {
    const warned: unknown[] = [];
    const logger: ProbeLogger = { debug() {}, warn: (obj) => void warned.push(obj) };
    const probe: Probe = async () => {
      throw new TypeError('secret internals: cannot read properties of undefined');
    };
    const result = await run(probe, tcpTarget, { logger });
    assert.equal(result.error_code, ItemErrorCode.INTERNAL_ERROR);
    assert.equal(result.error_msg, 'internal error in the tcp probe (see the worker log)');
    assert.equal(warned.length, 1);
  });

  it('also catches a probe that throws synchronously', async () => {
    const probe = (() => {
      throw new Error('sync bug');
    }) as unknown as Probe;
    const result = await run(probe, tcpTarget);
    assert.equal(result.error_code, ItemErrorCode.INTERNAL_ERROR);
  });

  it('aborts ctx.signal once the run is over, so leftovers stop', async () => {
    let signal: AbortSignal | undefined;
    const probe: Probe = async (_t, ctx) => {
      signal = ctx.signal;
      return { success: true };
    };
    await run(probe, tcpTarget);
    assert.equal(signal?.aborted, true);
  });

  it('rejects a non-positive timeout as a caller bug', async () => {
    await assert.rejects(
      run(async () => ({ success: true }), tcpTarget, { timeoutMs: 0 }),
      RangeError,
    );
  });
});

describe('runProbe scrubbing', () => {
  it('never returns the password, and strips control characters from server text', async () => {
    const probe: Probe = async () => ({
      success: false,
      error_code: ItemErrorCode.AUTH_FAILED,
      error_msg: serverText('login "admin" with "hunter2!" refused\u001b[31m\r\nbye'),
      warnings: [`echo ${serverText('hunter2!')}`],
    });
    const result = await run(probe, { ...tcpTarget, user: 'admin', password: 'hunter2!' });
    assert.equal(result.error_msg, 'login "admin" with "***" refused [31m bye');
    assert.deepEqual(result.warnings, ['echo ***']);
  });

  it("removes only whole occurrences, only from the server's words: messages stay readable", async () => {
    const server = "Access denied for user 'acc_user'@'10.0.3.7' (using password: YES)";
    const hint = ' — wrong user name or password, or no account for this user from the host named';
    const failing =
      (message: string): Probe =>
      async () => ({ success: false, error_code: ItemErrorCode.AUTH_FAILED, error_msg: message });
    const as = async (password: string, message: string, user = 'acc_user') => (await run(failing(message), { ...tcpTarget, user, password })).error_msg;
    // A one-letter password does not garble every word that holds the letter.
    assert.equal(await as('e', `${serverText(server)}${hint}`), `${server}${hint}`);
    // Our own hint keeps its words even when they are the password.
    assert.equal(await as('wrong', `${serverText(server)}${hint}`), `${server}${hint}`);
    assert.equal(await as('password', `${serverText(server)}${hint}`), `Access denied for user 'acc_user'@'10.0.3.7' (using ***: YES)${hint}`);
    // A password equal to the user name reveals nothing the item does not show: the user name stays.
    assert.equal(await as('acc_user', `${serverText(server)}${hint}`), `${server}${hint}`);
    // Inside a hex dump the password's characters are not the password.
    const dump = `the server's first bytes are not a MySQL greeting: ${serverText('0x1f2a3b4c5d6e7f')}`;
    assert.equal(await as('2a3b', dump), "the server's first bytes are not a MySQL greeting: 0x1f2a3b4c5d6e7f");
    // …but the password as a word of its own is removed, wherever the server puts it.
    assert.equal(await as('2a3b', `${serverText('bad password 2a3b for acc_user')}`), 'bad password *** for acc_user');
    assert.equal(await as('s3cr3t!', `${serverText('echo: s3cr3t!; again "s3cr3t!"')}`), 'echo: ***; again "***"');
  });

  it('caps very long messages', async () => {
    const probe: Probe = async () => ({ success: false, error_code: ItemErrorCode.PROTOCOL_ERROR, error_msg: 'x'.repeat(5000) });
    const result = await run(probe, tcpTarget);
    assert.equal(result.error_msg?.length, 501);
  });
});
