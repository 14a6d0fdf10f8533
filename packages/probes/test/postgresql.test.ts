// Owns: tests of the postgresql probe against fake PostgreSQL servers on loopback (hostile and broken ones) and
// the real PostgreSQL (and MariaDB, as a wrong port) from test/services. Must not: mock pg.

import assert from 'node:assert/strict';
import type { Socket } from 'node:net';
import { after, describe, it } from 'node:test';
import { ItemErrorCode } from '@conncheck/core';
import { mysqlProbe } from '../src/mysql.js';
import { postgresqlProbe } from '../src/postgresql.js';
import { assertNothingLeftOpen, fakeServer, type FakeServer, loadServices, NO_SERVICES, run, stageLine, target, withServer } from './helpers.js';
import { pgAuth, pgError, pgParameter, pgReady, pgSelectOne } from './wire.js';

after(assertNothingLeftOpen);

/** A fake server that answers the client's n-th write (0 = StartupMessage) with `reply(n)`. */
function scriptedPg(reply: (n: number, socket: Socket) => void): Promise<FakeServer> {
  return fakeServer((socket) => {
    let n = 0;
    socket.on('data', () => reply(n++, socket));
  });
}

const user = { user: 'app', password: 's3cret-pw', database: 'appdb' };
const sasl = (...mechanisms: string[]): Buffer => pgAuth(10, Buffer.from(`${mechanisms.map((m) => `${m}\0`).join('')}\0`, 'latin1'));

describe('postgresql probe against fake servers', () => {
  it('gives PROTOCOL_ERROR for a valid-looking message type with an absurd length', async () => {
    const server = await scriptedPg((_n, socket) => socket.write(Buffer.from([0x52, 0x7f, 0xff, 0xff, 0xff, 0, 0, 0, 0])));
    await withServer(server, async (port) => {
      const result = await run(postgresqlProbe, target('postgresql', '127.0.0.1', port, user), { timeoutMs: 3000 });
      assert.equal(result.error_code, ItemErrorCode.PROTOCOL_ERROR);
    });
  });

  it('gives AUTH_METHOD_UNSUPPORTED for GSSAPI and for SASL without SCRAM-SHA-256', async () => {
    for (const [reply, message] of [
      [pgAuth(7), /GSSAPI authentication/],
      [sasl('SCRAM-SHA-256-PLUS'), /offers only the SASL mechanisms SCRAM-SHA-256-PLUS/],
    ] as const) {
      const server = await scriptedPg((_n, socket) => socket.write(reply));
      await withServer(server, async (port) => {
        const result = await run(postgresqlProbe, target('postgresql', '127.0.0.1', port, user));
        assert.equal(result.error_code, ItemErrorCode.AUTH_METHOD_UNSUPPORTED);
        assert.match(result.error_msg ?? '', message);
      });
    }
  });

  it('turns a parser exception on a later hostile message into PROTOCOL_ERROR instead of crashing the worker', async () => {
    // pg-protocol throws from inside the socket's data event on an authentication type it does not know.
    const server = await scriptedPg((n, socket) => socket.write(n === 0 ? sasl('SCRAM-SHA-256') : pgAuth(99)));
    await withServer(server, async (port) => {
      const result = await run(postgresqlProbe, target('postgresql', '127.0.0.1', port, user));
      assert.equal(result.error_code, ItemErrorCode.PROTOCOL_ERROR);
      assert.match(result.error_msg ?? '', /^malformed reply from the server: /);
    });
  });

  const refusals: [string, string, string, ItemErrorCode][] = [
    ['53300', 'sorry, too many clients already', 'ProcessStartupPacket', ItemErrorCode.TOO_MANY_CONNECTIONS],
    ['57P03', 'the database system is starting up', 'ProcessStartupPacket', ItemErrorCode.SERVER_UNAVAILABLE],
    [
      '28000',
      'no pg_hba.conf entry for host "10.1.2.3", user "app", database "appdb", no encryption',
      'ClientAuthentication',
      ItemErrorCode.ACCESS_DENIED_FROM_HOST,
    ],
    ['28000', 'role "app" does not exist', 'InitializeSessionUserId', ItemErrorCode.AUTH_FAILED],
    ['42501', 'permission denied for database "appdb"', 'InitPostgres', ItemErrorCode.DATABASE_ACCESS_DENIED],
    ['XX000', 'something unexpected', 'elsewhere', ItemErrorCode.SERVER_UNAVAILABLE],
  ];
  for (const [sqlstate, message, routine, code] of refusals) {
    it(`maps SQLSTATE ${sqlstate} from ${routine} to ${code}`, async () => {
      const server = await scriptedPg((_n, socket) => socket.end(pgError(sqlstate, message, routine)));
      await withServer(server, async (port) => {
        const result = await run(postgresqlProbe, target('postgresql', '127.0.0.1', port, user));
        assert.equal(result.error_code, code);
        assert.equal(result.error_msg, `${message} (SQLSTATE ${sqlstate})`);
      });
    });
  }

  it('logs in with a clear-text password request, reports the version and warns about it', async () => {
    const server = await scriptedPg((n, socket) => {
      if (n === 0) socket.write(pgAuth(3));
      if (n === 1) socket.write(Buffer.concat([pgAuth(0), pgParameter('server_version', '16.2 (fake)'), pgReady()]));
      if (n === 2) socket.write(pgSelectOne());
    });
    await withServer(server, async (port) => {
      const result = await run(postgresqlProbe, target('postgresql', '127.0.0.1', port, user));
      assert.equal(result.success, true, result.error_msg);
      assert.deepEqual(result.server, { product: 'PostgreSQL', version: '16.2' });
      assert.deepEqual(result.warnings, ['the server asked for the password in clear text over an unencrypted connection']);
      assert.equal(result.stages.find((s) => s.name === 'auth')?.detail, 'password');
    });
  });

  it('gives AUTH_FAILED without sending anything when a password is asked for and none was given', async () => {
    const server = await scriptedPg((n, socket) => n === 0 && socket.write(pgAuth(3)));
    await withServer(server, async (port) => {
      const result = await run(postgresqlProbe, target('postgresql', '127.0.0.1', port, { user: 'app' }));
      assert.equal(result.error_code, ItemErrorCode.AUTH_FAILED);
      assert.equal(result.error_msg, 'the server asks for a password (password) but none was given');
    });
  });

  it("gives AUTH_FAILED before connecting when no user is given (pg would use the worker's login name)", async () => {
    const server = await fakeServer(() => undefined);
    await withServer(server, async (port) => {
      const result = await run(postgresqlProbe, target('postgresql', '127.0.0.1', port, { password: 'x' }));
      assert.equal(result.error_code, ItemErrorCode.AUTH_FAILED);
      assert.equal(server.accepted, 0);
    });
  });
});

const services = loadServices();

describe('postgresql probe against PostgreSQL', { skip: services ? false : NO_SERVICES }, () => {
  // The callback runs only when the suite is not skipped, that is with the services.
  const db = services!.postgresql;
  const postgres = (extra: Parameters<typeof target>[3], host = db.host) => target('postgresql', host, db.port, extra);

  it('logs in with SCRAM-SHA-256 and reports the version', async () => {
    const result = await run(postgresqlProbe, postgres({ ...db.users.scram, database: db.database }));
    assert.equal(result.success, true, result.error_msg);
    assert.equal(result.server?.product, 'PostgreSQL');
    assert.ok(db.version.startsWith(result.server?.version ?? '?'), `${db.version} vs ${result.server?.version}`);
    assert.equal(stageLine(result.stages), 'dns:skipped tcp:ok auth:ok probe:ok');
    assert.equal(result.stages.find((s) => s.name === 'auth')?.detail, 'SCRAM-SHA-256');
    assert.equal(result.address, `${db.host}:${db.port}`);
    assert.equal(result.warnings, undefined);
  });

  it('logs in with an MD5 password', async () => {
    const result = await run(postgresqlProbe, postgres({ ...db.users.md5, database: db.database }));
    assert.equal(result.success, true, result.error_msg);
    assert.equal(result.stages.find((s) => s.name === 'auth')?.detail, 'md5');
  });

  it('connects to the database postgres by default, and by the name localhost (dns stage ok)', async () => {
    const result = await run(postgresqlProbe, postgres(db.superuser, 'localhost'));
    assert.equal(result.success, true, result.error_msg);
    assert.equal(stageLine(result.stages), 'dns:ok tcp:ok auth:ok probe:ok');
  });

  it('gives AUTH_FAILED for a wrong password, without echoing it', async () => {
    const wrong = `${db.users.scram.password}-wrong`;
    const result = await run(postgresqlProbe, postgres({ user: db.users.scram.user, password: wrong, database: db.database }));
    assert.equal(result.error_code, ItemErrorCode.AUTH_FAILED);
    assert.match(result.error_msg ?? '', /password authentication failed for user ".+" \(SQLSTATE 28P01\)/);
    assert.ok(!(result.error_msg ?? '').includes(wrong));
    assert.equal(stageLine(result.stages), 'dns:skipped tcp:ok auth:failed probe:skipped');
  });

  it('gives DATABASE_NOT_FOUND for an unknown database', async () => {
    const result = await run(postgresqlProbe, postgres({ ...db.users.scram, database: 'no_such_db' }));
    assert.equal(result.error_code, ItemErrorCode.DATABASE_NOT_FOUND);
    assert.match(result.error_msg ?? '', /database "no_such_db" does not exist \(SQLSTATE 3D000\)/);
  });

  it('gives ACCESS_DENIED_FROM_HOST when pg_hba.conf rejects the user', async () => {
    const result = await run(postgresqlProbe, postgres({ ...db.users.rejected, database: db.database }));
    assert.equal(result.error_code, ItemErrorCode.ACCESS_DENIED_FROM_HOST);
    assert.match(result.error_msg ?? '', /pg_hba\.conf rejects connection .* \(SQLSTATE 28000\)/);
  });

  it('gives PROTOCOL_ERROR, recognising MySQL, when pointed at the MariaDB port', async () => {
    const result = await run(postgresqlProbe, target('postgresql', services!.mariadb.host, services!.mariadb.port, user));
    assert.equal(result.error_code, ItemErrorCode.PROTOCOL_ERROR);
    assert.match(result.error_msg ?? '', /looks like a MySQL or MariaDB server/);
  });

  it('gives TIMEOUT for the mysql probe pointed at PostgreSQL (both sides wait for the other to speak)', async () => {
    const result = await run(mysqlProbe, postgres(db.users.scram), { timeoutMs: 500 });
    assert.equal(result.error_code, ItemErrorCode.TIMEOUT);
  });
});
