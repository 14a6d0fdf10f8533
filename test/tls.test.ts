// TLS end to end in one process — API (inject) → BullMQ → worker → store — against the real MariaDB and PostgreSQL of
// test/services: the CA as PEM, DER and .p12 from the request's ssl fields, every TLS code, the report and warnings.

import assert from 'node:assert/strict';
import { X509Certificate, createHash } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { buildApp } from '@conncheck/api';
import type { CheckItem, Task } from '@conncheck/core';
import { type RunningWorker, startWorker } from '@conncheck/worker';
import type { FastifyInstance } from 'fastify';
import { type Harness, harness, quietLogger, waitFor } from './lib/harness.js';
import { type TestServices, loadServices } from './lib/services.js';

const b64 = (file: string): string => readFileSync(file).toString('base64');
const sha256 = (file: string): string => createHash('sha256').update(readFileSync(file)).digest('hex');

describe('TLS checks through the pipeline', () => {
  let h: Harness;
  let app: FastifyInstance;
  let worker: RunningWorker;
  let services: TestServices;

  const run = async (jobs: Record<string, unknown>[]): Promise<Map<string, CheckItem>> => {
    const res = await app.inject({ method: 'POST', url: '/v3/proj/jobs/batch-connection', payload: { jobs } });
    assert.equal(res.statusCode, 202, res.body);
    const checkId: string = res.json().check_id;
    const done = await waitFor(
      async () => {
        const t: Task = (await app.inject(`/v1/proj/checks/${checkId}`)).json();
        return ['Succeeded', 'Failed', 'Canceled'].includes(t.status) ? t : undefined;
      },
      30_000,
      `task ${checkId} to end`,
    );
    return new Map(done.check_items.map((item) => [item.id, item]));
  };

  before(async () => {
    services = loadServices();
    // Every test certificate is valid for 365 days: a threshold above that makes every success carry the warning.
    h = await harness({ CONNCHECK_WORKER_CONCURRENCY: '16', CONNCHECK_TLS_EXPIRY_WARNING_DAYS: '400' });
    app = await buildApp({ config: h.config, store: h.store, queue: h.queue });
    worker = await startWorker(h.config, h.box, quietLogger);
  });
  after(async () => {
    await worker.close();
    await app.close();
    await h.close();
  });

  for (const kind of ['mysql', 'postgresql'] as const) {
    it(`${kind}: every CA form works, and each TLS failure has its own code`, async () => {
      const { tls } = services;
      const db = kind === 'mysql' ? services.mariadb : services.postgresql;
      const user = kind === 'mysql' ? services.mariadb.users.main : services.postgresql.users.scram;
      const tlsOnly = kind === 'mysql' ? services.mariadb.users.tlsOnly : services.postgresql.users.tlsOnly;
      const base = { db_type: kind, db_user: user.user, db_password: user.password, db_name: db.database };
      const at = (host: string, port: number) => ({ ip: host, db_port: port });
      const pem = { ssl_link: true, ssl_cert_key: b64(tls.ca.pem), ssl_cert_check_sum: sha256(tls.ca.pem), ssl_cert_name: 'ca.pem' };
      const jobs = [
        { ...base, id: 'pem', ...at('localhost', db.port), ...pem },
        { ...base, id: 'der', ...at('localhost', db.port), ssl_link: true, ssl_cert_key: b64(tls.ca.der), ssl_cert_name: 'ca.der' },
        {
          ...base,
          id: 'p12',
          ...at('localhost', db.port),
          ssl_link: true,
          ssl_cert_key: b64(tls.ca.p12),
          ssl_cert_password: tls.ca.p12_password,
          ssl_cert_name: 'ca.p12',
        },
        { ...base, id: 'wrong-ca', ...at('localhost', db.port), ssl_link: true, ssl_cert_key: b64(tls.other_ca.pem) },
        { ...base, id: 'by-ip', ...at('127.0.0.1', db.port), ...pem },
        { ...base, id: 'by-ip-verify-ca', ...at('127.0.0.1', db.port), ...pem, ssl_mode: 'verify-ca' },
        { ...base, id: 'expired', ...at('127.0.0.1', db.expired.port), ...pem, ssl_mode: 'verify-ca' },
        { ...base, id: 'no-tls-server', ...at('127.0.0.1', db.plain.port), ...pem },
        { ...base, id: 'require-no-ca', ...at('127.0.0.1', db.expired.port), ssl_link: true, ssl_mode: 'require' },
        { ...base, id: 'tls-only-user-plain', ...at('127.0.0.1', db.port), db_user: tlsOnly.user, db_password: tlsOnly.password },
        { ...base, id: 'tls-only-user-tls', ...at('localhost', db.port), db_user: tlsOnly.user, db_password: tlsOnly.password, ...pem },
      ];
      const items = await run(jobs);
      assert.deepEqual(
        jobs.map(({ id }) => [id, items.get(id)?.status, items.get(id)?.error_code]),
        [
          ['pem', 'success', null],
          ['der', 'success', null],
          ['p12', 'success', null],
          ['wrong-ca', 'failed', 'TLS_CERT_UNTRUSTED'],
          ['by-ip', 'failed', 'TLS_HOSTNAME_MISMATCH'],
          ['by-ip-verify-ca', 'success', null],
          ['expired', 'failed', 'TLS_CERT_EXPIRED'],
          ['no-tls-server', 'failed', 'TLS_NOT_SUPPORTED'],
          ['require-no-ca', 'success', null],
          // MariaDB answers as for a wrong password (the message names the TLS possibility: one login only);
          // pg_hba.conf says before any password, and a password-free look over TLS tells.
          ['tls-only-user-plain', 'failed', kind === 'mysql' ? 'AUTH_FAILED' : 'TLS_REQUIRED'],
          ['tls-only-user-tls', 'success', null],
        ],
      );

      const ok = items.get('pem')!;
      const cert = new X509Certificate(readFileSync(tls.server.cert));
      const notAfter = new Date(cert.validTo);
      const days = Math.floor((notAfter.getTime() - Date.now()) / 86_400_000);
      assert.deepEqual(ok.tls, {
        protocol: 'TLSv1.3',
        cipher: 'TLS_AES_256_GCM_SHA384',
        subject: 'CN=localhost, O=conncheck tests',
        issuer: 'CN=conncheck test CA, O=conncheck tests',
        subject_alt_names: ['DNS:localhost'],
        not_before: new Date(cert.validFrom).toISOString(),
        not_after: notAfter.toISOString(),
        days_to_expiry: days,
      });
      assert.deepEqual(ok.warnings, [`the server certificate expires in ${days} days (${notAfter.toISOString()})`]);
      assert.deepEqual(
        ok.stages.map((s) => [s.name, s.status]),
        [
          ['dns', 'ok'],
          ['tcp', 'ok'],
          ['tls', 'ok'],
          ['auth', 'ok'],
          ['probe', 'ok'],
        ],
      );
      assert.deepEqual({ mode: ok.target.ssl_mode, name: ok.target.ssl_cert_name }, { mode: 'verify-full', name: 'ca.pem' });
      assert.equal(items.get('require-no-ca')?.target.ssl_mode, 'require');

      assert.equal(items.get('by-ip')?.error_msg, 'the server certificate is for DNS:localhost, not 127.0.0.1');
      assert.equal(items.get('by-ip')?.tls?.subject, 'CN=localhost, O=conncheck tests', 'a refused certificate is still reported');
      assert.equal(
        items.get('expired')?.error_msg,
        'the server certificate (CN=localhost, O=conncheck tests) expired on 2021-01-01T00:00:00.000Z (CERT_HAS_EXPIRED)',
      );
      assert.deepEqual(items.get('require-no-ca')?.warnings, [
        'ssl_mode require: the server certificate was not verified (the server certificate (CN=localhost, O=conncheck tests) expired on 2021-01-01T00:00:00.000Z (CERT_HAS_EXPIRED))',
      ]);
    });
  }

  it('an OpenSSL-made PKCS#12 CA works, with a warning that Java clients find no trust anchor in it; a keytool-made one has none', async () => {
    const { tls, mariadb, postgresql } = services;
    const dir = mkdtempSync(path.join(tmpdir(), 'cc-tls-p12-'));
    try {
      const opensslP12 = path.join(dir, 'ca-openssl.p12');
      execFileSync('openssl', ['pkcs12', '-export', '-nokeys', '-in', tls.ca.pem, '-passout', 'pass:pw', '-out', opensslP12], { stdio: 'ignore' });
      const jobs = [
        { kind: 'mysql', db: mariadb, user: mariadb.users.main },
        { kind: 'postgresql', db: postgresql, user: postgresql.users.scram },
      ].flatMap(({ kind, db, user }) => {
        const base = { db_type: kind, ip: 'localhost', db_port: db.port, db_user: user.user, db_password: user.password, db_name: db.database, ssl_link: true };
        return [
          { ...base, id: `${kind}-openssl`, ssl_cert_key: b64(opensslP12), ssl_cert_password: 'pw', ssl_cert_name: 'ca.p12' },
          { ...base, id: `${kind}-keytool`, ssl_cert_key: b64(tls.ca.p12), ssl_cert_password: tls.ca.p12_password, ssl_cert_name: 'ca.p12' },
        ];
      });
      const items = await run(jobs);
      const javaWarning =
        'ssl_cert_key: Java clients (JDBC drivers, most migration tools) find no trust anchor in this PKCS#12 file and fail the ' +
        "TLS handshake: its certificates lack Java's trusted-certificate attribute (OID 2.16.840.1.113894.746875.1.1), as in one " +
        'made by openssl pkcs12 -export. Make one they accept with keytool -importcert -storetype PKCS12 -keystore truststore.p12 ' +
        '-alias ca -file ca.crt, or send the CA as PEM';
      assert.deepEqual(
        jobs.map(({ id }) => [id, items.get(id)?.status, items.get(id)?.warnings?.filter((w) => !w.includes('expires in'))]),
        [
          ['mysql-openssl', 'success', [javaWarning]],
          ['mysql-keytool', 'success', []],
          ['postgresql-openssl', 'success', [javaWarning]],
          ['postgresql-keytool', 'success', []],
        ],
      );
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("tcp with ssl_link: a TLS handshake check of any port (here PostgreSQL's is not TLS from the first byte)", async () => {
    const { postgresql } = services;
    const items = await run([{ id: 'tcp-tls', db_type: 'tcp', ip: '127.0.0.1', db_port: postgresql.port, ssl_link: true, timeout_ms: 3000 }]);
    const item = items.get('tcp-tls')!;
    assert.equal(item.error_code, 'TLS_HANDSHAKE_FAILED');
    assert.deepEqual(
      item.stages.map((s) => [s.name, s.status]),
      [
        ['dns', 'skipped'],
        ['tcp', 'ok'],
        ['tls', 'failed'],
      ],
    );
  });
});
