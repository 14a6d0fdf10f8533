// Owns: tests of TLS in the mysql and postgresql probes against the real MariaDB and PostgreSQL servers of
// test/services (TLS with tls.server, an expired-certificate server, a server without TLS, TLS-only users).
// Must not: mock drivers; every case is a real handshake.

import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import mysql2 from 'mysql2/promise';
import { ItemErrorCode } from '@conncheck/core';
import { mysqlProbe } from '../src/mysql.js';
import { postgresqlProbe } from '../src/postgresql.js';
import type { Probe, ProbeTls } from '../src/types.js';
import { assertNothingLeftOpen, expectedReport, loadServices, NO_SERVICES, pem, run, stageLine, target, type TestServices } from './helpers.js';

after(assertNothingLeftOpen);

const services = loadServices();

interface Db {
  probe: Probe;
  dbType: 'mysql' | 'postgresql';
  port: number;
  expiredPort: number;
  plainPort: number;
  database: string;
  user: { user: string; password: string };
  tlsOnly: { user: string; password: string };
  /** What the TLS-only user connecting without TLS gets. */
  withoutTls: { code: ItemErrorCode; message: string };
  notSupportedMessage: string;
  /** Stages of a TLS-less login that failed in auth. */
  authFailedStages: string;
}

/** Each server's suite is declared, and so skipped by name without the services; `of` reads the services when it runs. */
const dbs: { name: string; of: (s: TestServices) => Db }[] = [
  {
    name: 'MariaDB',
    of: ({ mariadb }) => ({
      probe: mysqlProbe,
      dbType: 'mysql',
      port: mariadb.port,
      expiredPort: mariadb.expired.port,
      plainPort: mariadb.plain.port,
      database: mariadb.database,
      user: mariadb.users.main,
      tlsOnly: mariadb.users.tlsOnly,
      // The server answers as for a wrong password; telling them apart would cost a second login (see mysql.ts).
      withoutTls: {
        code: ItemErrorCode.AUTH_FAILED,
        message:
          "Access denied for user 'cc_tls_only'@'127.0.0.1' (using password: YES) (MySQL error 1045) — wrong user name or password, or no account for this user from the host named, or an account that requires TLS (REQUIRE SSL): this server offers TLS, so a check with ssl_link true tells",
      },
      notSupportedMessage: 'TLS was asked for, but the server does not offer it (no SSL capability in its greeting)',
      authFailedStages: 'dns:skipped tcp:ok auth:failed probe:skipped',
    }),
  },
  {
    name: 'PostgreSQL',
    of: ({ postgresql }) => ({
      probe: postgresqlProbe,
      dbType: 'postgresql',
      port: postgresql.port,
      expiredPort: postgresql.expired.port,
      plainPort: postgresql.plain.port,
      database: postgresql.database,
      user: postgresql.users.scram,
      tlsOnly: postgresql.users.tlsOnly,
      // pg_hba.conf decides before any password: the diagnosis over TLS sends none.
      withoutTls: {
        code: ItemErrorCode.TLS_REQUIRED,
        message:
          'pg_hba.conf rejects connection for host "127.0.0.1", user "cc_tls_only", database "ccdb", no encryption (SQLSTATE 28000) — over TLS pg_hba.conf lets this user in: the server accepts it only with TLS (hostssl)',
      },
      notSupportedMessage: 'TLS was asked for, but the server does not accept it (it answered N to the SSLRequest: ssl = off)',
      authFailedStages: 'dns:skipped tcp:ok auth:failed probe:skipped',
    }),
  },
];

for (const { name, of } of dbs) {
  describe(`${name} over TLS`, { skip: services ? false : NO_SERVICES }, () => {
    // The callback runs only when the suite is not skipped, that is with the services.
    const db = of(services!);
    const certs = services!.tls;
    const ca = (): string[] => [pem(certs.ca.pem)];
    const check = (host: string, port: number, tls: ProbeTls | undefined, user = db.user, timeoutMs = 5000) =>
      run(db.probe, target(db.dbType, host, port, { ...user, database: db.database, ...(tls ? { tls } : {}) }), { timeoutMs });

    it('the right CA, by the name in the certificate: success with the TLS report', async () => {
      const result = await check('localhost', db.port, { mode: 'verify-full', ca: ca() });
      assert.equal(result.success, true, result.error_msg);
      assert.deepEqual(result.tls, expectedReport(certs.server.cert));
      assert.equal(stageLine(result.stages), 'dns:ok tcp:ok tls:ok auth:ok probe:ok');
      assert.equal(result.stages[2]?.detail, 'TLSv1.3 TLS_AES_256_GCM_SHA384');
      assert.equal(result.warnings, undefined);
    });

    it('the wrong CA: TLS_CERT_UNTRUSTED, nothing sent after the handshake', async () => {
      const result = await check('localhost', db.port, { mode: 'verify-full', ca: [pem(certs.other_ca.pem)] });
      assert.equal(result.error_code, ItemErrorCode.TLS_CERT_UNTRUSTED);
      // The servers send the test CA after their certificate, so the chain ends in a CA we were not given.
      assert.equal(result.error_msg, "the server's chain ends in a CA that is not the CA given in ssl_cert_key (SELF_SIGNED_CERT_IN_CHAIN)");
      assert.deepEqual(result.tls, expectedReport(certs.server.cert));
      assert.equal(stageLine(result.stages), 'dns:ok tcp:ok tls:failed auth:skipped probe:skipped');
    });

    it('by 127.0.0.1, which the certificate does not name: TLS_HOSTNAME_MISMATCH under verify-full, success under verify-ca', async () => {
      const full = await check('127.0.0.1', db.port, { mode: 'verify-full', ca: ca() });
      assert.equal(full.error_code, ItemErrorCode.TLS_HOSTNAME_MISMATCH);
      assert.equal(full.error_msg, 'the server certificate is for DNS:localhost, not 127.0.0.1');
      assert.equal(stageLine(full.stages), 'dns:skipped tcp:ok tls:failed auth:skipped probe:skipped');
      const verifyCa = await check('127.0.0.1', db.port, { mode: 'verify-ca', ca: ca() });
      assert.equal(verifyCa.success, true, verifyCa.error_msg);
      assert.deepEqual(verifyCa.tls, expectedReport(certs.server.cert));
    });

    it('an expired server certificate: TLS_CERT_EXPIRED', async () => {
      const result = await check('127.0.0.1', db.expiredPort, { mode: 'verify-ca', ca: ca() });
      assert.equal(result.error_code, ItemErrorCode.TLS_CERT_EXPIRED);
      assert.equal(result.error_msg, 'the server certificate (CN=localhost, O=conncheck tests) expired on 2021-01-01T00:00:00.000Z (CERT_HAS_EXPIRED)');
      assert.deepEqual(result.tls, expectedReport(certs.expired.cert));
    });

    it('require without a CA: success against the expired and the untrusted server, with a warning', async () => {
      const expired = await check('127.0.0.1', db.expiredPort, { mode: 'require' });
      assert.equal(expired.success, true, expired.error_msg);
      assert.deepEqual(expired.warnings, [
        'ssl_mode require: the server certificate was not verified (the server certificate (CN=localhost, O=conncheck tests) expired on 2021-01-01T00:00:00.000Z (CERT_HAS_EXPIRED))',
      ]);
      const untrusted = await check('127.0.0.1', db.port, { mode: 'require' });
      assert.equal(untrusted.success, true, untrusted.error_msg);
      assert.deepEqual(untrusted.warnings, [
        "ssl_mode require: the server certificate was not verified (the server's chain ends in a CA that is not a CA in the system store (give the CA in ssl_cert_key) (SELF_SIGNED_CERT_IN_CHAIN))",
      ]);
    });

    it('TLS against a server without it: TLS_NOT_SUPPORTED', async () => {
      const result = await check('127.0.0.1', db.plainPort, { mode: 'require' });
      assert.equal(result.error_code, ItemErrorCode.TLS_NOT_SUPPORTED);
      assert.equal(result.error_msg, db.notSupportedMessage);
      assert.equal(stageLine(result.stages), 'dns:skipped tcp:ok tls:failed auth:skipped probe:skipped');
      const plain = await check('127.0.0.1', db.plainPort, undefined);
      assert.equal(plain.success, true, plain.error_msg);
    });

    it('a TLS-only user without TLS: one login only, and the reason named; with TLS: success', async () => {
      const without = await check('127.0.0.1', db.port, undefined, db.tlsOnly);
      assert.equal(without.error_code, db.withoutTls.code);
      assert.equal(without.error_msg, db.withoutTls.message);
      assert.equal(stageLine(without.stages), db.authFailedStages);
      const withTls = await check('localhost', db.port, { mode: 'verify-full', ca: ca() }, db.tlsOnly);
      assert.equal(withTls.success, true, withTls.error_msg);
    });

    it('a certificate expiring within the threshold: success with a warning', async () => {
      const report = expectedReport(certs.server.cert);
      const result = await check('localhost', db.port, { mode: 'verify-full', ca: ca(), expiryWarningDays: 400 });
      assert.equal(result.success, true, result.error_msg);
      assert.deepEqual(result.warnings, [`the server certificate expires in ${report.days_to_expiry} days (${report.not_after})`]);
    });

    it('a wrong password over TLS: AUTH_FAILED, still with the TLS report', async () => {
      const result = await check('localhost', db.port, { mode: 'verify-full', ca: ca() }, { ...db.user, password: 'wrong-password' });
      assert.equal(result.error_code, ItemErrorCode.AUTH_FAILED);
      assert.deepEqual(result.tls, expectedReport(certs.server.cert));
      assert.equal(stageLine(result.stages), 'dns:ok tcp:ok tls:ok auth:failed probe:skipped');
    });
  });
}

describe('TLS_REQUIRED is not given where TLS would not help', { skip: services ? false : NO_SERVICES }, () => {
  it('MariaDB: a failed login is tried once, never again over TLS (a lockout policy counts every failed login)', async () => {
    const db = services!.mariadb;
    const admin = await mysql2.createConnection({ host: '127.0.0.1', port: db.port, user: db.root.user, password: db.root.password });
    const abortedConnects = async () => Number(((await admin.query("SHOW GLOBAL STATUS LIKE 'Aborted_connects'"))[0] as { Value: string }[])[0]!.Value);
    try {
      for (const user of [db.users.tlsOnly, { user: db.users.main.user, password: 'wrong-password' }]) {
        const before = await abortedConnects();
        const result = await run(mysqlProbe, target('mysql', '127.0.0.1', db.port, user));
        assert.equal(result.error_code, ItemErrorCode.AUTH_FAILED);
        assert.equal((await abortedConnects()) - before, 1, `one failed login for ${user.user}`);
      }
    } finally {
      await admin.end();
    }
  });

  it('PostgreSQL: pg_hba.conf checks before the password, so the TLS-only user with a wrong password is TLS_REQUIRED', async () => {
    const db = services!.postgresql;
    const result = await run(
      postgresqlProbe,
      target('postgresql', '127.0.0.1', db.port, { user: db.users.tlsOnly.user, password: 'wrong-password', database: db.database }),
    );
    assert.equal(result.error_code, ItemErrorCode.TLS_REQUIRED);
  });

  it('PostgreSQL: a user pg_hba.conf rejects with and without TLS stays ACCESS_DENIED_FROM_HOST', async () => {
    const db = services!.postgresql;
    const result = await run(postgresqlProbe, target('postgresql', '127.0.0.1', db.port, { ...db.users.rejected, database: db.database }));
    assert.equal(result.error_code, ItemErrorCode.ACCESS_DENIED_FROM_HOST);
    assert.equal(result.error_msg, 'pg_hba.conf rejects connection for host "127.0.0.1", user "cc_reject", database "ccdb", no encryption (SQLSTATE 28000)');
  });
});
