// Owns: the hostile servers every probe in the registry must get through — one that never answers, trickles bytes,
// sends something else, talks first, sends a few bytes and hangs up, hangs up without a word, a closed port — as one
// table run against each probe over real loopback sockets. Must not: test a protocol's own answers (its file does).

import assert from 'node:assert/strict';
import type { Socket } from 'node:net';
import { after, describe, it } from 'node:test';
import { type DbType, ItemErrorCode } from '@conncheck/core';
import { probes } from '../src/registry.js';
import type { ProbeTarget } from '../src/types.js';
import { assertNothingLeftOpen, fakeServer, freePort, run, stageLine, type Timed, trickle, waitFor, withServer } from './helpers.js';
import { helloReplyBytes } from './mongo-wire.js';
import { mysqlGreeting, pgSasl } from './wire.js';

after(assertNothingLeftOpen);

/** What a hostile server needs to know of a protocol, and what its probe shows while it waits for the server. */
interface Protocol {
  /** Who sends the first bytes: the server (MySQL's greeting), the client, or nobody (tcp only connects). */
  first: 'server' | 'client' | 'none';
  /** The first message as the probe names it: "the server's first bytes are not …". */
  expected: string;
  /** A first reply that looks right, for the server that never finishes sending it. */
  reply: Buffer;
  /** The stages when the server fails it once connected, and when the port is refused. */
  connected: string;
  refused: string;
  /** What a few bytes and then a close is: a reply cut short, or no reply at all (Kafka waits for a whole length). */
  cutShort: ItemErrorCode;
  /** What the probe says of a server that hangs up without a word. */
  hungUp: (where: string) => string;
}

const DB_STAGES = { connected: 'dns:skipped tcp:ok auth:failed probe:skipped', refused: 'dns:skipped tcp:failed auth:skipped probe:skipped' };

const protocols = {
  tcp: {
    first: 'none',
    expected: '',
    reply: Buffer.alloc(0),
    connected: 'dns:skipped tcp:ok',
    refused: 'dns:skipped tcp:failed',
    cutShort: ItemErrorCode.PROTOCOL_ERROR,
    hungUp: () => '',
  },
  mysql: {
    first: 'server',
    expected: 'a MySQL/MariaDB greeting',
    reply: mysqlGreeting(),
    ...DB_STAGES,
    cutShort: ItemErrorCode.PROTOCOL_ERROR,
    hungUp: () => 'the server closed the connection',
  },
  postgresql: {
    first: 'client',
    expected: 'a PostgreSQL reply',
    reply: pgSasl('SCRAM-SHA-256'),
    ...DB_STAGES,
    cutShort: ItemErrorCode.PROTOCOL_ERROR,
    hungUp: () => 'the server closed the connection during the handshake',
  },
  mongodb: {
    first: 'client',
    expected: 'a MongoDB reply',
    reply: helloReplyBytes(),
    ...DB_STAGES,
    cutShort: ItemErrorCode.PROTOCOL_ERROR,
    // Not a TLS-only server either: the probe tries one TLS handshake before it says so (see tls-only.ts).
    hungUp: () => 'the server closed the connection without answering the handshake',
  },
  kafka: {
    first: 'client',
    expected: 'a Kafka answer',
    reply: Buffer.from([0, 0, 0, 40, 0, 0, 0, 0, 0, 0]),
    connected: 'dns:skipped tcp:ok probe:failed',
    refused: 'dns:skipped tcp:failed probe:skipped',
    cutShort: ItemErrorCode.CONNECTION_RESET,
    hungUp: (where) =>
      `${where} closed the connection without answering ApiVersions, the first Kafka request: if this is a TLS listener, set type SSL or SASL_SSL`,
  },
} as const satisfies Record<DbType, Protocol>;

/** Credentials too, so that every database probe gets as far as the server lets it. */
const target = (dbType: DbType, port: number): ProbeTarget => ({
  dbType,
  endpoints: [{ host: '127.0.0.1', port }],
  user: 'app',
  password: 's3cret-pw',
  database: 'appdb',
});

/** Calls `answer` when the server's turn comes: at once when it speaks first, else when the client has sent something. */
function onTurn(protocol: Protocol, socket: Socket, answer: () => void): void {
  if (protocol.first === 'server') answer();
  else socket.once('data', answer);
}

for (const [dbType, probe] of Object.entries(probes) as [DbType, (typeof probes)[DbType]][]) {
  const protocol: Protocol = protocols[dbType];
  const onlyConnects = protocol.first === 'none';
  /** The tcp probe only connects: every server that accepts is a success for it. */
  const connectedOk = (result: Timed): void => {
    assert.equal(result.success, true, result.error_msg);
    assert.equal(stageLine(result.stages), protocol.connected);
  };

  describe(`${dbType} probe against hostile servers`, () => {
    it('a server that accepts and never answers: TIMEOUT at the deadline, in the stage it was waiting in, nothing left open', async () => {
      await withServer(await fakeServer(() => undefined), async (port, server) => {
        const result = await run(probe, target(dbType, port), { timeoutMs: 800 });
        assert.equal(result.address, `127.0.0.1:${port}`);
        await waitFor(() => server.closed === server.accepted);
        if (onlyConnects) return connectedOk(result);
        assert.equal(result.error_code, ItemErrorCode.TIMEOUT, result.error_msg);
        assert.equal(stageLine(result.stages), protocol.connected);
        assert.ok(result.elapsed >= 750 && result.elapsed < 1300, `elapsed ${result.elapsed}`);
        if (protocol.first === 'client') assert.ok((server.received[0]?.length ?? 0) > 8, 'the client sent its first message');
      });
    });

    it('a server that trickles a first reply that looks right, a byte every 100 ms: still TIMEOUT at the deadline', async () => {
      const server = await fakeServer((socket, tools) => onTurn(protocol, socket, () => trickle(socket, (ms, fn) => tools.every(ms, fn), protocol.reply)));
      await withServer(server, async (port) => {
        const result = await run(probe, target(dbType, port), { timeoutMs: 800 });
        if (onlyConnects) return connectedOk(result);
        assert.equal(result.error_code, ItemErrorCode.TIMEOUT, result.error_msg);
        assert.equal(stageLine(result.stages), protocol.connected);
        assert.ok(result.elapsed >= 750 && result.elapsed < 1300, `elapsed ${result.elapsed}`);
      });
    });

    it('something else answering (an HTTP server): PROTOCOL_ERROR at once, saying what it looks like', async () => {
      const server = await fakeServer((socket) => onTurn(protocol, socket, () => socket.write('HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n')));
      await withServer(server, async (port) => {
        const result = await run(probe, target(dbType, port), { timeoutMs: 3000 });
        if (onlyConnects) return connectedOk(result);
        assert.equal(result.error_code, ItemErrorCode.PROTOCOL_ERROR);
        assert.match(
          result.error_msg ?? '',
          new RegExp(`^the server's first bytes are not ${protocol.expected}: "HTTP/1\\.1 400 Bad Request.*" \\(looks like an HTTP server\\)$`),
        );
        assert.equal(stageLine(result.stages), protocol.connected);
        assert.ok(result.elapsed < 1000, `elapsed ${result.elapsed}`);
      });
    });

    it('a server that talks first (an SSH server): PROTOCOL_ERROR at once, saying what it looks like', async () => {
      await withServer(await fakeServer((socket) => socket.write('SSH-2.0-OpenSSH_9.2\r\n')), async (port) => {
        const result = await run(probe, target(dbType, port), { timeoutMs: 3000 });
        if (onlyConnects) return connectedOk(result);
        assert.equal(result.error_code, ItemErrorCode.PROTOCOL_ERROR);
        assert.match(result.error_msg ?? '', /"SSH-2\.0-OpenSSH_9\.2" \(looks like an SSH server\)/);
        assert.ok(result.elapsed < 1000, `elapsed ${result.elapsed}`);
      });
    });

    it('a few bytes, then the server hangs up', async () => {
      await withServer(await fakeServer((socket) => onTurn(protocol, socket, () => socket.end('hi\n'))), async (port) => {
        const result = await run(probe, target(dbType, port), { timeoutMs: 3000 });
        if (onlyConnects) return connectedOk(result);
        assert.equal(result.error_code, protocol.cutShort, result.error_msg);
        if (protocol.cutShort === ItemErrorCode.PROTOCOL_ERROR) assert.match(result.error_msg ?? '', /: "hi", then closed the connection$/);
        assert.equal(stageLine(result.stages), protocol.connected);
      });
    });

    it('a server that hangs up without a word: CONNECTION_RESET', async () => {
      await withServer(await fakeServer((socket) => onTurn(protocol, socket, () => socket.end())), async (port) => {
        const result = await run(probe, target(dbType, port), { timeoutMs: 3000 });
        if (onlyConnects) return connectedOk(result);
        assert.equal(result.error_code, ItemErrorCode.CONNECTION_RESET, result.error_msg);
        assert.equal(result.error_msg, protocol.hungUp(`127.0.0.1:${port}`));
        assert.equal(stageLine(result.stages), protocol.connected);
      });
    });

    it('a closed port: CONNECTION_REFUSED at once (one attempt, no driver retries)', async () => {
      const port = await freePort();
      const result = await run(probe, target(dbType, port), { timeoutMs: 5000 });
      assert.equal(result.error_code, ItemErrorCode.CONNECTION_REFUSED);
      assert.equal(result.error_msg, `connect to 127.0.0.1:${port}: connection refused (ECONNREFUSED)`);
      assert.equal(stageLine(result.stages), protocol.refused);
      assert.ok(result.elapsed < 500, `elapsed ${result.elapsed}`);
    });
  });
}
