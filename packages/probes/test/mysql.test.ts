// Owns: tests of the mysql probe against fake MySQL servers on loopback (hostile and broken ones) and the real
// MariaDB from test/services. Must not: mock mysql2; every case goes over a real socket.

import assert from 'node:assert/strict';
import type { Socket } from 'node:net';
import { after, describe, it } from 'node:test';
import { ItemErrorCode } from '@conncheck/core';
import { fromMysqlError } from '../src/mysql-errors.js';
import { mysqlProbe } from '../src/mysql.js';
import { redactServerText } from '../src/server-text.js';
import { assertNothingLeftOpen, fakeServer, type FakeServer, loadServices, NO_SERVICES, run, stageLine, target, waitFor, withServer } from './helpers.js';
import { CLIENT, mysqlError, mysqlGreeting, mysqlOk, mysqlPacket, mysqlPackets } from './wire.js';

after(assertNothingLeftOpen);

/** A fake server that sends a greeting, then hands every complete client packet to `onPacket`. */
function scriptedMysql(onPacket: (packet: Buffer, index: number, socket: Socket) => void, greeting = mysqlGreeting()): Promise<FakeServer> {
  return fakeServer((socket) => {
    socket.write(greeting);
    let pending = Buffer.alloc(0);
    let index = 0;
    socket.on('data', (chunk) => {
      pending = Buffer.concat([pending, chunk]);
      for (const packet of mysqlPackets(pending)) {
        pending = pending.subarray(packet.length);
        onPacket(packet, index++, socket);
      }
    });
  });
}

const user = { user: 'app', password: 's3cret-pw' };

describe('mysql probe against fake servers', () => {
  it('gives PROTOCOL_ERROR for a mangled greeting', async () => {
    const mangled = await fakeServer((socket) => socket.write(mysqlPacket(0, Buffer.concat([Buffer.from([0x0a]), Buffer.alloc(40, 0xfe)]))));
    await withServer(mangled, async (port) => {
      const result = await run(mysqlProbe, target('mysql', '127.0.0.1', port, user));
      assert.equal(result.error_code, ItemErrorCode.PROTOCOL_ERROR);
    });
  });

  const refusals: [number, string, ItemErrorCode][] = [
    [1130, "Host '10.1.2.3' is not allowed to connect to this MariaDB server", ItemErrorCode.ACCESS_DENIED_FROM_HOST],
    [1040, 'Too many connections', ItemErrorCode.TOO_MANY_CONNECTIONS],
  ];
  for (const [errno, message, code] of refusals) {
    it(`maps error ${errno} sent instead of a greeting to ${code}`, async () => {
      const server = await fakeServer((socket) => socket.end(mysqlError(0, errno, message)));
      await withServer(server, async (port) => {
        const result = await run(mysqlProbe, target('mysql', '127.0.0.1', port, user));
        assert.equal(result.error_code, code);
        assert.equal(result.error_msg, `${message} (MySQL error ${errno})`);
      });
    });
  }

  it('never announces LOCAL_FILES or multi-statements, and sends no file when asked for one', async () => {
    let clientFlags = -1;
    let infileRequested = false;
    const afterRequest: Buffer[] = [];
    const server = await scriptedMysql((packet, index, socket) => {
      if (index === 0) {
        clientFlags = packet.readUInt32LE(4);
        socket.write(mysqlOk(2));
      } else if (index === 1) {
        assert.equal(packet[4], 0x0e, 'the only command the probe sends is COM_PING');
        // The LOCAL INFILE request (0xFB + file name) a rogue server answers with.
        socket.write(mysqlPacket(1, Buffer.concat([Buffer.from([0xfb]), Buffer.from('/etc/passwd', 'latin1')])));
        infileRequested = true;
      } else {
        afterRequest.push(packet);
      }
    });
    await withServer(server, async (port) => {
      const result = await run(mysqlProbe, target('mysql', '127.0.0.1', port, user));
      assert.notEqual(clientFlags, -1, 'the fake server saw the handshake response');
      assert.equal(clientFlags & CLIENT.LOCAL_FILES, 0, 'LOCAL_FILES must be off');
      assert.equal(clientFlags & CLIENT.MULTI_STATEMENTS, 0, 'MULTI_STATEMENTS must be off');
      assert.ok(infileRequested);
      await waitFor(() => server.closed === 1);
      // At most COM_QUIT (payload 0x01) follows: no file content, not even an empty-file terminator.
      for (const packet of afterRequest) assert.deepEqual([...packet.subarray(4)], [0x01]);
      assert.ok(!(server.received[0] ?? Buffer.alloc(0)).toString('latin1').includes('root:'));
      assert.equal(result.server?.product, 'MySQL');
      assert.equal(result.server?.version, '8.0.36');
    });
  });

  it('refuses to send the password in clear text when the server switches to mysql_clear_password', async () => {
    const server = await scriptedMysql((packet, index, socket) => {
      if (index === 0) socket.write(mysqlPacket(2, Buffer.from('\xfemysql_clear_password\0', 'latin1')));
    });
    await withServer(server, async (port) => {
      const result = await run(mysqlProbe, target('mysql', '127.0.0.1', port, user));
      assert.equal(result.error_code, ItemErrorCode.AUTH_METHOD_UNSUPPORTED);
      assert.ok(!(server.received[0] ?? Buffer.alloc(0)).toString('latin1').includes(user.password));
    });
  });

  it('gives AUTH_METHOD_UNSUPPORTED for an authentication plugin it does not know', async () => {
    const server = await scriptedMysql((packet, index, socket) => {
      if (index === 0) socket.write(mysqlPacket(2, Buffer.from('\xfeauth_gssapi_client\0xyz\0', 'latin1')));
    });
    await withServer(server, async (port) => {
      const result = await run(mysqlProbe, target('mysql', '127.0.0.1', port, user));
      assert.equal(result.error_code, ItemErrorCode.AUTH_METHOD_UNSUPPORTED);
      assert.match(result.error_msg ?? '', /auth_gssapi_client/);
    });
  });
});

const services = loadServices();

describe('mysql error mapping', () => {
  // Every way a MySQL or MariaDB server refuses a login is AUTH_FAILED (or the more precise code the fix differs for),
  // never SERVER_UNAVAILABLE: a table over the server's errnos, as mysql2 reports them.
  const cases: [number, string, ItemErrorCode][] = [
    [1045, "Access denied for user 'u'@'h' (using password: YES)", ItemErrorCode.AUTH_FAILED],
    [1698, "Access denied for user 'root'@'localhost'", ItemErrorCode.AUTH_FAILED],
    [1131, 'You are using MariaDB as an anonymous user and anonymous users are not allowed to modify user settings', ItemErrorCode.AUTH_FAILED],
    [1820, 'You must SET PASSWORD before executing this statement', ItemErrorCode.AUTH_FAILED],
    [1862, 'Your password has expired', ItemErrorCode.AUTH_FAILED],
    [3118, "Access denied for user 'u'@'h'. Account is locked.", ItemErrorCode.AUTH_FAILED],
    [4151, 'Access denied, this account is locked', ItemErrorCode.AUTH_FAILED],
    [1130, "Host 'h' is not allowed to connect to this MariaDB server", ItemErrorCode.ACCESS_DENIED_FROM_HOST],
    [1044, "Access denied for user 'u'@'h' to database 'd'", ItemErrorCode.DATABASE_ACCESS_DENIED],
    [1251, 'Client does not support authentication protocol requested by server', ItemErrorCode.AUTH_METHOD_UNSUPPORTED],
    [1275, 'Server is running in --secure-auth mode', ItemErrorCode.AUTH_METHOD_UNSUPPORTED],
    [3159, 'Connections using insecure transport are prohibited', ItemErrorCode.TLS_REQUIRED],
  ];
  for (const [errno, sqlMessage, code] of cases) {
    it(`maps error ${errno} to ${code}`, () => {
      const failure = fromMysqlError(Object.assign(new Error(sqlMessage), { errno, sqlState: '28000', sqlMessage }));
      assert.equal(failure.code, code);
      assert.equal(redactServerText(failure.message, []).startsWith(`${sqlMessage} (MySQL error ${errno})`), true);
    });
  }
});

describe('mysql probe against MariaDB', { skip: services ? false : NO_SERVICES }, () => {
  // The callback runs only when the suite is not skipped, that is with the services.
  const db = services!.mariadb;
  const mariadb = (extra: Parameters<typeof target>[3], host = db.host) => target('mysql', host, db.port, extra);

  it('logs in, pings and reports MariaDB with its version', async () => {
    const result = await run(mysqlProbe, mariadb({ ...db.users.main, database: db.database }));
    assert.equal(result.success, true, result.error_msg);
    assert.equal(result.server?.product, 'MariaDB');
    assert.match(result.server?.version ?? '', /^\d+\.\d+\.\d+$/);
    assert.ok(db.version.startsWith(result.server?.version ?? '?'), `${db.version} vs ${result.server?.version}`);
    assert.equal(stageLine(result.stages), 'dns:skipped tcp:ok auth:ok probe:ok');
    assert.equal(result.address, `${db.host}:${db.port}`);
  });

  it('works without a database and by the name localhost (dns stage ok)', async () => {
    const result = await run(mysqlProbe, mariadb(db.users.main, 'localhost'));
    assert.equal(result.success, true, result.error_msg);
    assert.equal(stageLine(result.stages), 'dns:ok tcp:ok auth:ok probe:ok');
  });

  it('gives AUTH_FAILED for a wrong password, without echoing it', async () => {
    const wrong = `${db.users.main.password}-wrong`;
    const result = await run(mysqlProbe, mariadb({ user: db.users.main.user, password: wrong, database: db.database }));
    assert.equal(result.error_code, ItemErrorCode.AUTH_FAILED);
    assert.match(result.error_msg ?? '', /^Access denied for user '.+'@'127\.0\.0\.1' \(using password: YES\) \(MySQL error 1045\)/);
    assert.ok(!(result.error_msg ?? '').includes(wrong));
    assert.equal(stageLine(result.stages), 'dns:skipped tcp:ok auth:failed probe:skipped');
    assert.equal(result.server?.product, 'MariaDB', 'the greeting is known even when the login fails');
  });

  it('keeps the server\'s message readable whatever the wrong password is ("e", "wrong", the user name)', async () => {
    const user = db.users.main.user;
    for (const password of ['e', 'wrong', user]) {
      const result = await run(mysqlProbe, mariadb({ user, password, database: db.database }));
      assert.equal(result.error_code, ItemErrorCode.AUTH_FAILED, password);
      assert.equal(
        result.error_msg,
        `Access denied for user '${user}'@'127.0.0.1' (using password: YES) (MySQL error 1045) — wrong user name or password, or no account for this user from the host named, or an account that requires TLS (REQUIRE SSL): this server offers TLS, so a check with ssl_link true tells`,
        password,
      );
    }
  });

  it('gives DATABASE_NOT_FOUND for an unknown database (to a user allowed to know: 1049)', async () => {
    const result = await run(mysqlProbe, mariadb({ ...db.root, database: 'no_such_db' }));
    assert.equal(result.error_code, ItemErrorCode.DATABASE_NOT_FOUND);
    assert.match(result.error_msg ?? '', /Unknown database 'no_such_db' \(MySQL error 1049\)/);
  });

  it('gives DATABASE_ACCESS_DENIED (1044) for a database the user has no rights on — and, from MariaDB, for an unknown one', async () => {
    const limited = await run(mysqlProbe, mariadb({ ...db.users.limited, database: db.database }));
    assert.equal(limited.error_code, ItemErrorCode.DATABASE_ACCESS_DENIED);
    assert.match(limited.error_msg ?? '', /MySQL error 1044/);
    // A user without global privileges may not learn which databases exist: MariaDB answers 1044, not 1049.
    const unknown = await run(mysqlProbe, mariadb({ ...db.users.main, database: 'no_such_db' }));
    assert.equal(unknown.error_code, ItemErrorCode.DATABASE_ACCESS_DENIED);
  });

  it('gives AUTH_FAILED, naming the host, for a user only allowed from another host (MariaDB sends 1045, not 1130)', async () => {
    const result = await run(mysqlProbe, mariadb(db.users.hostDenied));
    assert.equal(result.error_code, ItemErrorCode.AUTH_FAILED);
    // This MariaDB offers TLS, so the message names that possibility too (one login only: see mysql.ts).
    assert.match(result.error_msg ?? '', /'@'127\.0\.0\.1'.*or no account for this user from the host named, or an account that requires TLS/);
  });
});
