// The differential suite: each case goes through conncheck's real pipeline (API → BullMQ → worker → store) and, with
// the same settings and the same files, through the client users really run — Apache Kafka's Java AdminClient
// (describeCluster), the `mariadb` client, `psql` — against the same test servers. The verdicts (success, or the stage
// that failed) must agree. Where conncheck is deliberately more lenient or stricter, the case is listed in DIFFERENCES
// with the reason, and asserted to differ exactly that way, so the list cannot rot.

import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { CheckItem } from '@conncheck/core';
import { type Pipeline, startPipeline } from './lib/pipeline.js';
import {
  type Job,
  MaterialFiles,
  type ReferenceVerdict,
  type Verdict,
  conncheckVerdict,
  kafkaAdminClient,
  kafkaClientProperties,
  mariadbClient,
  psqlClient,
} from './lib/reference-clients.js';
import { type TestServices, loadServices } from './lib/services.js';

const b64 = (file: string): string => readFileSync(file).toString('base64');

/** A case conncheck deliberately judges otherwise than the reference client, and why. */
interface Difference {
  conncheck: Verdict;
  reference: Verdict;
  why: string;
  /** A warning the conncheck item must carry (the user is told of the difference), matched as a pattern. */
  warning?: RegExp;
}

const JAVA_TRUST_WARNING = /^trust_store_key: Java clients \(Kafka's own tools, Kafka Connect, most migration tools\) /;

const DIFFERENCES: Record<string, Record<string, Difference>> = {
  kafka: {
    'p12-openssl': {
      conncheck: 'success',
      reference: 'tls',
      why:
        "An OpenSSL-made PKCS#12 truststore: its certificate bag lacks Java's trusted-key-usage attribute, so Java's KeyStore has no " +
        'trusted entry and the handshake never completes (no trust anchor). The CA in it is right and the broker is reachable, so ' +
        'conncheck succeeds and says in a warning that Java clients will not accept the file, and how to make one they do.',
      warning: JAVA_TRUST_WARNING,
    },
    'mtls-none': {
      conncheck: 'probe',
      reference: 'tls',
      why:
        'The same failure at another stage, not a leniency: with TLS 1.3 the broker refuses the missing client certificate after ' +
        "the client's side of the handshake is done. conncheck's tls stage has then ended ok, and the refusal ends its probe stage " +
        "as TLS_CLIENT_CERT_REQUIRED; Java's SslTransportLayer reports the same alert as a failed handshake.",
    },
    'keystore-other-cert': {
      conncheck: 'success',
      reference: 'tls',
      why:
        "A key store given as truststore: Java trusts a key entry's own certificate only, not the CA behind it in the entry's chain, " +
        'and this broker serves another certificate of that CA. conncheck trusts the whole chain and warns.',
      warning: JAVA_TRUST_WARNING,
    },
  },
  mysql: {
    'require-plain-server': {
      conncheck: 'tls',
      reference: 'success',
      why:
        'ssl_link asks for an encrypted connection: against a server without TLS conncheck fails (TLS_NOT_SUPPORTED), as libpq and ' +
        "MySQL's --ssl-mode=REQUIRED do; the MariaDB 10.11 client's --ssl goes on in plain text without a word.",
    },
    'verify-ca-plain-server': {
      conncheck: 'tls',
      reference: 'success',
      why: 'As require-plain-server: with --ssl-ca but without --ssl-verify-server-cert the MariaDB 10.11 client falls back to plain text.',
    },
  },
  postgresql: {},
};

interface Row {
  id: string;
  conncheck: Verdict;
  reference: Verdict;
  referenceDetail: string;
  item: CheckItem;
}

/**
 * Asserts the table: every case agrees, except those listed, which differ exactly as listed (and carry their
 * warning); every listed case exists. Returns the table's lines for the test's diagnostics.
 */
function judge(kind: string, rows: Row[]): string[] {
  const listed = DIFFERENCES[kind] ?? {};
  for (const id of Object.keys(listed))
    assert.ok(
      rows.some((r) => r.id === id),
      `${kind}: DIFFERENCES lists ${id}, which is no case`,
    );
  const actual = rows.map((r) => [r.id, r.conncheck, r.reference]);
  const expected = rows.map((r) => {
    const difference = listed[r.id];
    return difference ? [r.id, difference.conncheck, difference.reference] : [r.id, r.conncheck, r.conncheck];
  });
  const table = rows.map(
    (r) =>
      `${r.id}: conncheck ${r.conncheck}${r.item.error_code ? ` (${r.item.error_code})` : ''}, reference ${r.reference}` +
      `${listed[r.id] ? ' [listed]' : ''} — ${r.referenceDetail.slice(0, 300)}`,
  );
  assert.deepEqual(actual, expected, `${kind}: conncheck and the reference client disagree:\n${table.join('\n')}`);
  for (const r of rows) {
    const warning = listed[r.id]?.warning;
    if (warning)
      assert.ok(
        r.item.warnings?.some((w) => warning.test(w)),
        `${kind} ${r.id}: no warning matching ${warning} in ${JSON.stringify(r.item.warnings)}`,
      );
  }
  return table;
}

describe('differential: conncheck against the clients users run', () => {
  let p: Pipeline;
  let services: TestServices;
  let files: MaterialFiles;

  /** Runs the jobs through the pipeline; the items by id. */
  const check = async (jobs: (Job & { id: string })[]): Promise<Map<string, CheckItem>> => {
    const done = await p.finished(await p.submit(jobs), 60_000);
    return new Map(done.check_items.map((item) => [item.id, item]));
  };

  before(async () => {
    services = loadServices();
    p = await startPipeline();
    files = new MaterialFiles();
  });
  after(async () => {
    await p.close();
    files.close();
  });

  it('kafka: the Java AdminClient (kafka-clients, describeCluster) with the same settings', async (t) => {
    const { kafka, tls } = services;
    const at = (name: keyof typeof kafka.listeners): string => `${kafka.host}:${kafka.listeners[name].port}`;
    const jks = { trust_store_key: b64(tls.ca.jks), trust_store_password: tls.ca.jks_password };
    const pem = { trust_store_key: b64(tls.ca.pem) };
    const plain = kafka.users.plain;
    const scram256 = kafka.users.scram256;
    const scram512 = kafka.users.scram512;
    const sasl = (mechanism: string, user: { user: string; password: string }, password = user.password) => ({
      db_user: user.user,
      db_password: password,
      kafka_security_config: { type: 'SASL_PLAINTEXT', sasl_mechanism: mechanism },
    });
    const ssl = (config: Record<string, unknown>) => ({ kafka_security_config: { type: 'SSL', ...config } });
    const opensslP12 = path.join(files.dir, 'ca-openssl.p12');
    execFileSync('openssl', ['pkcs12', '-export', '-nokeys', '-in', tls.ca.pem, '-passout', 'pass:pw', '-out', opensslP12], { stdio: 'ignore' });
    const silent = await p.listen();
    const closed = await p.listen();
    await new Promise((resolve) => closed.server.close(resolve));

    // The cases of test/kafka.test.ts (seed examples, stores in every format, mutual TLS, names, the common mistakes).
    const cases: Record<string, Job> = {
      plaintext: { ip: at('plaintext') },
      'sasl-plain': { ip: at('sasl_plaintext'), ...sasl('PLAIN', plain) },
      'sasl-plain-wrong-password': { ip: at('sasl_plaintext'), ...sasl('PLAIN', plain, 'not-the-password') },
      'scram-256': { ip: at('sasl_plaintext'), ...sasl('SCRAM-SHA-256', scram256) },
      'scram-512': { ip: at('sasl_plaintext'), ...sasl('SCRAM-SHA-512', scram512) },
      'scram-wrong-password': { ip: at('sasl_plaintext'), ...sasl('SCRAM-SHA-256', scram256, 'not-the-password') },
      'mechanism-off': { ip: at('sasl_plain_only'), ...sasl('SCRAM-SHA-256', scram256) },
      'ssl-seed': { ip: at('ssl'), ...ssl({ ...jks, endpoint_algorithm: '', enable_key_store: false }) },
      'ssl-type-with-user': { ip: at('ssl'), db_user: plain.user, db_password: plain.password, ...ssl({ ...jks, endpoint_algorithm: '' }) },
      'ssl-type-on-sasl-ssl': { ip: at('sasl_ssl'), db_user: plain.user, db_password: plain.password, ...ssl({ ...jks, endpoint_algorithm: '' }) },
      'sasl-ssl': {
        ip: at('sasl_ssl'),
        db_user: plain.user,
        db_password: plain.password,
        kafka_security_config: { type: 'SASL_SSL', sasl_mechanism: 'PLAIN', ...jks, endpoint_algorithm: '' },
      },
      jks: { ip: at('ssl'), ...ssl({ ...jks, endpoint_algorithm: 'https' }) },
      'p12-keytool': { ip: at('ssl'), ...ssl({ trust_store_key: b64(tls.ca.p12), trust_store_password: tls.ca.p12_password, endpoint_algorithm: 'https' }) },
      'p12-openssl': { ip: at('ssl'), ...ssl({ trust_store_key: b64(opensslP12), trust_store_password: 'pw', endpoint_algorithm: 'https' }) },
      pem: { ip: at('ssl'), ...ssl({ ...pem, endpoint_algorithm: 'https' }) },
      'other-ca': { ip: at('ssl'), ...ssl({ trust_store_key: b64(tls.other_ca.pem), endpoint_algorithm: 'https' }) },
      'system-cas': { ip: at('ssl'), ...ssl({ endpoint_algorithm: 'https' }) },
      'keystore-own-cert': { ip: at('ssl'), ...ssl({ trust_store_key: b64(tls.server_keystore.p12), trust_store_password: tls.server_keystore.password }) },
      'keystore-other-cert': {
        ip: at('ssl_localhost'),
        ...ssl({ trust_store_key: b64(tls.server_keystore.p12), trust_store_password: tls.server_keystore.password, endpoint_algorithm: '' }),
      },
      'mtls-p12': {
        ip: at('ssl_mtls'),
        ...ssl({ ...jks, enable_key_store: true, key_store_key: b64(tls.client.p12), key_store_password: tls.client.p12_password }),
      },
      'mtls-jks': {
        ip: at('ssl_mtls'),
        ...ssl({
          ...jks,
          enable_key_store: true,
          key_store_key: b64(tls.client.jks),
          key_store_password: tls.client.jks_password,
          key_store_key_password: tls.client.jks_password,
        }),
      },
      'mtls-none': { ip: at('ssl_mtls'), ...ssl({ ...jks, enable_key_store: false }) },
      'name-checked': { ip: at('ssl_localhost'), ...ssl({ ...pem, endpoint_algorithm: 'https' }) },
      'name-default': { ip: at('ssl_localhost'), ...ssl(pem) },
      'name-unchecked': { ip: at('ssl_localhost'), ...ssl({ ...pem, endpoint_algorithm: '' }) },
      'tls-listener': { ip: at('ssl') },
      'bad-advertised': { ip: at('bad_advertised') },
      'bootstrap-list': { ip: `${kafka.host}:${kafka.listeners.bad_advertised.advertised_port},localhost:${kafka.listeners.plaintext.port}` },
      silent: { ip: `127.0.0.1:${silent.port}` },
      refused: { ip: `127.0.0.1:${closed.port}` },
    };

    const [items, reference] = await Promise.all([
      check(Object.entries(cases).map(([id, job]) => ({ ...job, id, db_type: 'kafka', timeout_ms: 8000 }) as Job & { id: string })),
      kafkaAdminClient(kafka, new Map(Object.entries(cases).map(([id, job]) => [id, kafkaClientProperties(job, files)]))),
    ]);
    for (const line of judge('kafka', rows(Object.keys(cases), items, reference))) t.diagnostic(line);
  });

  for (const kind of ['mysql', 'postgresql'] as const) {
    const client = kind === 'mysql' ? 'the mariadb client' : 'psql';
    it(`${kind}: ${client} with the same TLS and login settings`, async (t) => {
      const { tls } = services;
      const db = kind === 'mysql' ? services.mariadb : services.postgresql;
      const user = kind === 'mysql' ? services.mariadb.users.main : services.postgresql.users.scram;
      const tlsOnly = db.users.tlsOnly;
      const base = { db_user: user.user, db_password: user.password, db_name: db.database };
      const ca = { ssl_link: true, ssl_cert_key: b64(tls.ca.pem) };
      const cases: Record<string, Job> = {
        // test/tls.test.ts's cases (PEM only: neither client reads a DER or PKCS#12 CA)
        'verify-full': { ...base, ip: 'localhost', db_port: db.port, ...ca },
        'wrong-ca': { ...base, ip: 'localhost', db_port: db.port, ssl_link: true, ssl_cert_key: b64(tls.other_ca.pem) },
        'by-ip-verify-full': { ...base, ip: '127.0.0.1', db_port: db.port, ...ca },
        'by-ip-verify-ca': { ...base, ip: '127.0.0.1', db_port: db.port, ...ca, ssl_mode: 'verify-ca' },
        'expired-verify-ca': { ...base, ip: '127.0.0.1', db_port: db.expired.port, ...ca, ssl_mode: 'verify-ca' },
        'expired-verify-full': { ...base, ip: '127.0.0.1', db_port: db.expired.port, ...ca },
        'expired-require': { ...base, ip: '127.0.0.1', db_port: db.expired.port, ssl_link: true, ssl_mode: 'require' },
        'verify-full-plain-server': { ...base, ip: '127.0.0.1', db_port: db.plain.port, ...ca },
        'verify-ca-plain-server': { ...base, ip: '127.0.0.1', db_port: db.plain.port, ...ca, ssl_mode: 'verify-ca' },
        'require-plain-server': { ...base, ip: '127.0.0.1', db_port: db.plain.port, ssl_link: true, ssl_mode: 'require' },
        'no-tls-plain-server': { ...base, ip: '127.0.0.1', db_port: db.plain.port },
        'tls-only-user-plain': { ...base, ip: '127.0.0.1', db_port: db.port, db_user: tlsOnly.user, db_password: tlsOnly.password },
        'tls-only-user-tls': { ...base, ip: 'localhost', db_port: db.port, db_user: tlsOnly.user, db_password: tlsOnly.password, ...ca },
        // logins
        'no-tls': { ...base, ip: '127.0.0.1', db_port: db.port },
        'wrong-password': { ...base, ip: '127.0.0.1', db_port: db.port, db_password: 'not-the-password' },
        'unknown-user': { ...base, ip: '127.0.0.1', db_port: db.port, db_user: 'cc_nobody' },
        'unknown-database': { ...base, ip: '127.0.0.1', db_port: db.port, db_name: 'cc_no_such_db' },
        ...(kind === 'mysql'
          ? {
              'no-rights-on-database': {
                ...base,
                ip: '127.0.0.1',
                db_port: db.port,
                db_user: services.mariadb.users.limited.user,
                db_password: services.mariadb.users.limited.password,
              },
              'other-host-only': {
                ...base,
                ip: '127.0.0.1',
                db_port: db.port,
                db_user: services.mariadb.users.hostDenied.user,
                db_password: services.mariadb.users.hostDenied.password,
              },
            }
          : {
              md5: {
                ...base,
                ip: '127.0.0.1',
                db_port: db.port,
                db_user: services.postgresql.users.md5.user,
                db_password: services.postgresql.users.md5.password,
              },
              'pg-hba-reject': {
                ...base,
                ip: '127.0.0.1',
                db_port: db.port,
                db_user: services.postgresql.users.rejected.user,
                db_password: services.postgresql.users.rejected.password,
              },
            }),
      };
      const run = kind === 'mysql' ? mariadbClient : psqlClient;
      const [items, verdicts] = await Promise.all([
        check(Object.entries(cases).map(([id, job]) => ({ ...job, id, db_type: kind, timeout_ms: 8000 }))),
        Promise.all(Object.values(cases).map((job) => run(job, files))),
      ]);
      const reference = new Map(Object.keys(cases).map((id, i) => [id, verdicts[i]!]));
      for (const line of judge(kind, rows(Object.keys(cases), items, reference))) t.diagnostic(line);
    });
  }
});

function rows(ids: string[], items: Map<string, CheckItem>, reference: Map<string, ReferenceVerdict>): Row[] {
  return ids.map((id) => {
    const item = items.get(id);
    assert.ok(item, `no conncheck item ${id}`);
    const ref = reference.get(id) ?? { verdict: 'unclassified' as const, detail: 'no verdict from the reference client' };
    return { id, conncheck: conncheckVerdict(item), reference: ref.verdict, referenceDetail: ref.detail, item };
  });
}
