// Owns: tests of the tcp probe and of resolution, policy and connect (dial.ts) through it, against real listeners.
// Must not: reach beyond loopback; names that must not resolve use the reserved .invalid TLD.

import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { after, describe, it } from 'node:test';
import { ItemErrorCode } from '@conncheck/core';
import { NetworkPolicy } from '../src/network-policy.js';
import { tcpProbe } from '../src/tcp.js';
import { assertNothingLeftOpen, fakeServer, run, stageLine, target } from './helpers.js';

after(assertNothingLeftOpen);

describe('tcp probe', () => {
  it('succeeds against a listener and reports the address, with dns skipped for an IP literal', async () => {
    const server = await fakeServer(() => undefined);
    try {
      const result = await run(tcpProbe, target('tcp', '127.0.0.1', server.port));
      assert.equal(result.success, true, result.error_msg);
      assert.equal(result.address, `127.0.0.1:${server.port}`);
      assert.equal(stageLine(result.stages), 'dns:skipped tcp:ok');
      assert.equal(result.stages[1]?.detail, `127.0.0.1:${server.port}`);
      assert.equal(result.error_code, undefined);
      assert.equal(typeof result.duration_ms, 'number');
    } finally {
      await server.close();
    }
  });

  it('resolves localhost through DNS (the dns stage is ok)', async () => {
    const server = await fakeServer(() => undefined);
    try {
      const result = await run(tcpProbe, target('tcp', 'localhost', server.port));
      assert.equal(result.success, true, result.error_msg);
      assert.equal(stageLine(result.stages), 'dns:ok tcp:ok');
      assert.match(result.stages[0]?.detail ?? '', /127\.0\.0\.1/);
    } finally {
      await server.close();
    }
  });

  it('resolves a name in `hosts` to its address without DNS, still under the network policy', async () => {
    const server = await fakeServer(() => undefined);
    try {
      const hosts = new Map([['db.internal.invalid', '127.0.0.1']]);
      const result = await run(tcpProbe, target('tcp', 'DB.internal.invalid', server.port), { hosts });
      assert.equal(result.success, true, result.error_msg);
      assert.deepEqual(result.stages[0], { name: 'dns', status: 'skipped', duration_ms: 0, detail: '127.0.0.1 (from hosts)' });
      assert.equal(result.address, `127.0.0.1:${server.port}`);
      const denied = await run(tcpProbe, target('tcp', 'db.internal.invalid', server.port), { hosts, policy: new NetworkPolicy({ deny: ['127.0.0.0/8'] }) });
      assert.equal(denied.error_code, ItemErrorCode.TARGET_FORBIDDEN);
      assert.match(denied.error_msg ?? '', /^"db\.internal\.invalid" resolves to 127\.0\.0\.1; /);
      // A name not in the map still goes to DNS.
      const other = await run(tcpProbe, target('tcp', 'other.invalid', server.port), { hosts });
      assert.equal(other.error_code, ItemErrorCode.DNS_RESOLUTION_FAILED);
    } finally {
      await server.close();
    }
  });

  it('dials an IPv4-mapped IPv6 literal as the IPv4 address it is', async () => {
    const server = await fakeServer(() => undefined);
    try {
      const mapped = await run(tcpProbe, target('tcp', '::ffff:127.0.0.1', server.port));
      assert.equal(mapped.success, true, mapped.error_msg);
      assert.equal(mapped.address, `127.0.0.1:${server.port}`);
    } finally {
      await server.close();
    }
  });

  it('reports DNS_RESOLUTION_FAILED for a name that does not resolve', async () => {
    const result = await run(tcpProbe, target('tcp', 'nonexistent.invalid', 5432));
    assert.equal(result.error_code, ItemErrorCode.DNS_RESOLUTION_FAILED);
    assert.match(result.error_msg ?? '', /^cannot resolve "nonexistent\.invalid": /);
    assert.equal(stageLine(result.stages), 'dns:failed tcp:skipped');
  });

  it('refuses a denied address with TARGET_FORBIDDEN without connecting', async () => {
    const server = await fakeServer(() => undefined);
    try {
      const policy = new NetworkPolicy({ deny: ['127.0.0.0/8'] });
      const literal = await run(tcpProbe, target('tcp', '127.0.0.1', server.port), { policy });
      assert.equal(literal.error_code, ItemErrorCode.TARGET_FORBIDDEN);
      assert.equal(literal.error_msg, '127.0.0.1 is in the denied range 127.0.0.0/8, which this deployment may not connect to');
      assert.equal(stageLine(literal.stages), 'dns:skipped tcp:skipped');

      const byName = await run(tcpProbe, target('tcp', 'localhost', server.port), { policy });
      assert.equal(byName.error_code, ItemErrorCode.TARGET_FORBIDDEN);
      assert.match(byName.error_msg ?? '', /^"localhost" resolves to 127\.0\.0\.1; 127\.0\.0\.1 is in the denied range/);
      assert.equal(stageLine(byName.stages), 'dns:ok tcp:skipped');

      const outsideAllow = await run(tcpProbe, target('tcp', '127.0.0.1', server.port), { policy: new NetworkPolicy({ allow: ['10.0.0.0/8'] }) });
      assert.equal(outsideAllow.error_code, ItemErrorCode.TARGET_FORBIDDEN);

      const metadata = await run(tcpProbe, target('tcp', '::ffff:169.254.169.254', 80));
      assert.equal(metadata.error_code, ItemErrorCode.TARGET_FORBIDDEN);

      assert.equal(server.accepted, 0, 'no connection may reach a forbidden target');
    } finally {
      await server.close();
    }
  });

  it("loads no database driver: the error mapping it shares with the other probes is Node's alone", () => {
    const script = `import { createRequire } from 'node:module';
      await import(${JSON.stringify(new URL('../src/tcp.js', import.meta.url).href)});
      console.log(JSON.stringify(Object.keys(createRequire(import.meta.url).cache)));`;
    const loaded = JSON.parse(execFileSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8' })) as string[];
    assert.deepEqual(
      loaded.filter((file) => /[/\\]node_modules[/\\](mongodb|pg|mysql2|kafkajs)[/\\]/.test(file)),
      [],
    );
  });
});
