// Kafka through the whole pipeline — API (inject) → BullMQ → worker → store — against the real Apache Kafka of
// test/services: seed 002's four Kafka examples, truststores and keystores in every format, the common mistakes, the
// deadline; and the exact 400 for each kafka_security_config the API refuses.

import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { buildApp } from '@conncheck/api';
import type { CheckItem, Task } from '@conncheck/core';
import type { FastifyInstance } from 'fastify';
import { type Harness, dumpKeys, harness } from './lib/harness.js';
import { type Pipeline, stages, startPipeline } from './lib/pipeline.js';
import { type TestServices, loadServices } from './lib/services.js';

const b64 = (file: string): string => readFileSync(file).toString('base64');

/** Seed 002's four Kafka examples as the migration service documents them; `ip` is filled in per test. */
const SEED = {
  plaintext: {
    id: '3bc38fe4-da50-4aad-903e-5db76d8jb20i',
    net_type: 'eip',
    db_type: 'kafka',
    project_id: '5237e10fe9aa4ad5b16b6a5245248314',
    end_point_type: 'ta',
    kafka_security_config: { type: 'PLAINTEXT' },
  },
  saslPlaintext: {
    id: '3bc38fe4-da50-4aad-903e-5db76d8jb20i',
    net_type: 'eip',
    db_type: 'kafka',
    project_id: '5237e10fe9aa4ad5b16b6a5245248314',
    end_point_type: 'ta',
    kafka_security_config: { type: 'SASL_PLAINTEXT', sasl_mechanism: 'PLAIN' },
  },
  ssl: {
    id: '3bc38fe4-da50-4aad-903e-5db76d8jb20i',
    net_type: 'eip',
    db_type: 'kafka',
    project_id: '5237e10fe9aa4ad5b16b6a5245248314',
    end_point_type: 'ta',
    kafka_security_config: {
      type: 'SSL',
      trust_store_key_name: 'client.truststore.jks',
      endpoint_algorithm: '',
      enable_key_store: false,
    },
  },
  /** Documented as the SASL_SSL example, but its type is SSL: it is checked as SSL (TLS only), with a warning. */
  saslSsl: {
    id: '3bc38fe4-da50-4aad-903e-5db76d8jb20i',
    net_type: 'eip',
    db_type: 'kafka',
    project_id: '5237e10fe9aa4ad5b16b6a5245248314',
    end_point_type: 'ta',
    kafka_security_config: {
      type: 'SSL',
      trust_store_key_name: 'client.truststore.jks',
      endpoint_algorithm: '',
      enable_key_store: false,
    },
  },
};

describe('kafka through the pipeline', () => {
  let p: Pipeline;
  let h: Harness;
  let services: TestServices;
  const submit = (jobs: unknown[]): Promise<string> => p.submit(jobs);
  const finished = (checkId: string, timeoutMs?: number): Promise<Task> => p.finished(checkId, timeoutMs);
  const outcome = (task: Task, ids: string[]): [string, string | undefined, string | null | undefined][] => {
    const byId = new Map(task.check_items.map((item: CheckItem) => [item.id, item]));
    return ids.map((id) => [id, byId.get(id)?.status, byId.get(id)?.error_code]);
  };
  const item = (task: Task, id: string): CheckItem => {
    const found = task.check_items.find((i: CheckItem) => i.id === id);
    assert.ok(found, `no item ${id}`);
    return found;
  };

  before(async () => {
    services = loadServices();
    p = await startPipeline();
    ({ h } = p);
  });
  after(async () => {
    await p.close();
  });

  it("accepts seed 002's four Kafka examples and checks each for real against the listener it names", async () => {
    const { kafka, tls } = services;
    const at = (name: keyof typeof kafka.listeners): string => `${kafka.host}:${kafka.listeners[name].port}`;
    const truststore = { trust_store_key: b64(tls.ca.jks), trust_store_password: tls.ca.jks_password };
    const plain = kafka.users.plain;
    const jobs = [
      { ...SEED.plaintext, id: 'plaintext', ip: at('plaintext') },
      { ...SEED.saslPlaintext, id: 'sasl-plaintext', ip: at('sasl_plaintext'), db_user: plain.user, db_password: plain.password },
      { ...SEED.ssl, id: 'ssl', ip: at('ssl'), kafka_security_config: { ...SEED.ssl.kafka_security_config, ...truststore } },
      // The "SASL_SSL" example sends type SSL with a user: against the SSL listener it passes (credentials unused) …
      {
        ...SEED.saslSsl,
        id: 'sasl-ssl-as-sent',
        ip: at('ssl'),
        db_user: plain.user,
        db_password: plain.password,
        kafka_security_config: { ...SEED.saslSsl.kafka_security_config, ...truststore },
      },
      // … against a real SASL_SSL listener it fails, saying the type should be SASL_SSL.
      {
        ...SEED.saslSsl,
        id: 'sasl-ssl-on-sasl',
        ip: at('sasl_ssl'),
        db_user: plain.user,
        db_password: plain.password,
        kafka_security_config: { ...SEED.saslSsl.kafka_security_config, ...truststore },
      },
      // … and as it was meant.
      {
        ...SEED.saslSsl,
        id: 'sasl-ssl-meant',
        ip: at('sasl_ssl'),
        db_user: plain.user,
        db_password: plain.password,
        kafka_security_config: { ...SEED.saslSsl.kafka_security_config, ...truststore, type: 'SASL_SSL', sasl_mechanism: 'PLAIN' },
      },
    ];
    const done = await finished(await submit(jobs));
    assert.deepEqual(
      outcome(
        done,
        jobs.map((j) => j.id),
      ),
      [
        ['plaintext', 'success', null],
        ['sasl-plaintext', 'success', null],
        ['ssl', 'success', null],
        ['sasl-ssl-as-sent', 'success', null],
        ['sasl-ssl-on-sasl', 'failed', 'SECURITY_PROTOCOL_MISMATCH'],
        ['sasl-ssl-meant', 'success', null],
      ],
    );
    const plaintext = item(done, 'plaintext');
    assert.equal(plaintext.db_type, 'kafka');
    assert.equal(stages(plaintext), 'dns:skipped tcp:ok probe:ok');
    assert.deepEqual(plaintext.cluster, {
      cluster_id: kafka.cluster_id,
      controller: 1,
      brokers: [{ node_id: 1, host: kafka.host, port: kafka.listeners.plaintext.port, reachable: true }],
      metadata_version: `${kafka.version.split('.').slice(0, 2).join('.')}-IV0`,
    });
    assert.deepEqual(plaintext.server, { product: 'Apache Kafka', version: kafka.version.split('.').slice(0, 2).join('.') });
    assert.equal(stages(item(done, 'sasl-plaintext')), 'dns:skipped tcp:ok auth:ok probe:ok');
    assert.equal(stages(item(done, 'sasl-ssl-meant')), 'dns:skipped tcp:ok tls:ok auth:ok probe:ok');
    const ssl = item(done, 'ssl');
    assert.equal(stages(ssl), 'dns:skipped tcp:ok tls:ok probe:ok');
    assert.match(ssl.tls?.issuer ?? '', /conncheck test CA/);
    assert.deepEqual(item(done, 'sasl-ssl-as-sent').warnings, [
      'db_user and db_password are not used with type SSL: it does not authenticate with a user name (for SASL over TLS, set type SASL_SSL and a sasl_mechanism)',
    ]);
    assert.match(item(done, 'sasl-ssl-on-sasl').error_msg ?? '', /the listener requires SASL — set type SASL_SSL/);
    // No secret in any result, nor anywhere in Redis.
    const everything = `${JSON.stringify(done)}\n${await dumpKeys(h.redis, `${h.prefix}:*`)}`;
    for (const secret of [plain.password, tls.ca.jks_password, truststore.trust_store_key.slice(0, 40)]) {
      assert.ok(!everything.includes(secret), 'a secret reached a result or Redis in clear');
    }
  });

  it('reads truststores as JKS, PKCS#12 and PEM, and keystores for mutual TLS; a truststore of another CA is TLS_CERT_UNTRUSTED', async () => {
    const { kafka, tls } = services;
    const ssl = (id: string, listener: 'ssl' | 'ssl_mtls', config: Record<string, unknown>) => ({
      ...SEED.ssl,
      id,
      ip: `${kafka.host}:${kafka.listeners[listener].port}`,
      kafka_security_config: { type: 'SSL', endpoint_algorithm: 'https', ...config },
    });
    const jks = { trust_store_key: b64(tls.ca.jks), trust_store_password: tls.ca.jks_password };
    const jobs = [
      ssl('jks', 'ssl', jks),
      ssl('p12', 'ssl', { trust_store_key: b64(tls.ca.p12), trust_store_password: tls.ca.p12_password }),
      ssl('pem', 'ssl', { trust_store_key: b64(tls.ca.pem) }),
      ssl('other-ca', 'ssl', { trust_store_key: b64(tls.other_ca.pem) }),
      ssl('system-cas', 'ssl', {}),
      ssl('mtls-p12', 'ssl_mtls', { ...jks, enable_key_store: true, key_store_key: b64(tls.client.p12), key_store_password: tls.client.p12_password }),
      ssl('mtls-jks', 'ssl_mtls', {
        ...jks,
        enable_key_store: true,
        key_store_key: b64(tls.client.jks),
        key_store_password: tls.client.jks_password,
        key_store_key_password: tls.client.jks_password,
      }),
      ssl('mtls-none', 'ssl_mtls', { ...jks, enable_key_store: false }),
    ];
    const done = await finished(await submit(jobs));
    assert.deepEqual(
      outcome(
        done,
        jobs.map((j) => j.id),
      ),
      [
        ['jks', 'success', null],
        ['p12', 'success', null],
        ['pem', 'success', null],
        ['other-ca', 'failed', 'TLS_CERT_UNTRUSTED'],
        ['system-cas', 'failed', 'TLS_CERT_UNTRUSTED'],
        ['mtls-p12', 'success', null],
        ['mtls-jks', 'success', null],
        ['mtls-none', 'failed', 'TLS_CLIENT_CERT_REQUIRED'],
      ],
    );
    assert.equal(stages(item(done, 'other-ca')), 'dns:skipped tcp:ok tls:failed probe:skipped');
    assert.match(item(done, 'other-ca').error_msg ?? '', /trust_store_key/);
  });

  it('warns where Java clients would find no trust anchor in the truststore: OpenSSL-made PKCS#12, a key store as truststore', async () => {
    const { kafka, tls } = services;
    const dir = mkdtempSync(path.join(tmpdir(), 'cc-kafka-p12-'));
    try {
      // What users make with OpenSSL: no Java trusted-certificate attribute on the CA's certificate bag.
      const opensslP12 = path.join(dir, 'ca-openssl.p12');
      execFileSync('openssl', ['pkcs12', '-export', '-nokeys', '-in', tls.ca.pem, '-passout', 'pass:pw', '-out', opensslP12], { stdio: 'ignore' });
      const ssl = (id: string, listener: 'ssl' | 'ssl_localhost', config: Record<string, unknown>) => ({
        ...SEED.ssl,
        id,
        ip: `${kafka.host}:${kafka.listeners[listener].port}`,
        kafka_security_config: { type: 'SSL', ...config },
      });
      const keystore = { trust_store_key: b64(tls.server_keystore.p12), trust_store_password: tls.server_keystore.password };
      const jobs = [
        ssl('p12-openssl', 'ssl', { trust_store_key: b64(opensslP12), trust_store_password: 'pw' }),
        ssl('p12-keytool', 'ssl', { trust_store_key: b64(tls.ca.p12), trust_store_password: tls.ca.p12_password }),
        // The broker serves the key entry's own certificate, which Java does trust …
        ssl('keystore-own-cert', 'ssl', keystore),
        // … but not the CA behind it in the entry's chain, which a broker with another certificate of that CA needs.
        ssl('keystore-other-cert', 'ssl_localhost', { ...keystore, endpoint_algorithm: '' }),
      ];
      const done = await finished(await submit(jobs));
      assert.deepEqual(
        done.check_items.map((i) => [i.id, i.status, i.warnings]),
        [
          [
            'p12-openssl',
            'success',
            [
              "trust_store_key: Java clients (Kafka's own tools, Kafka Connect, most migration tools) find no trust anchor in this " +
                "PKCS#12 truststore and fail the TLS handshake: its certificates lack Java's trusted-certificate attribute (OID " +
                '2.16.840.1.113894.746875.1.1), as in one made by openssl pkcs12 -export. Make one they accept with keytool ' +
                '-importcert -storetype PKCS12 -keystore truststore.p12 -alias ca -file ca.crt, or send the CA as a PEM truststore',
            ],
          ],
          ['p12-keytool', 'success', undefined],
          ['keystore-own-cert', 'success', undefined],
          [
            'keystore-other-cert',
            'success',
            [
              "trust_store_key: Java clients (Kafka's own tools, Kafka Connect, most migration tools) do not trust " +
                "CN=conncheck test CA, O=conncheck tests from this truststore and fail the TLS handshake where the server's chain needs it: " +
                "they take a PKCS#12 certificate as trusted only with Java's trusted-certificate attribute (OID 2.16.840.1.113894.746875.1.1), " +
                'and of a key entry only its own certificate. Add it with keytool -importcert -storetype PKCS12, or send a PEM truststore',
            ],
          ],
        ],
      );
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('hostname verification follows endpoint_algorithm; the common mistakes get their own codes', async () => {
    const { kafka, tls } = services;
    const at = (name: keyof typeof kafka.listeners): string => `${kafka.host}:${kafka.listeners[name].port}`;
    const truststore = { trust_store_key: b64(tls.ca.pem) };
    const scram = kafka.users.scram256;
    const jobs = [
      { ...SEED.ssl, id: 'name-checked', ip: at('ssl_localhost'), kafka_security_config: { type: 'SSL', ...truststore, endpoint_algorithm: 'https' } },
      { ...SEED.ssl, id: 'name-default', ip: at('ssl_localhost'), kafka_security_config: { type: 'SSL', ...truststore } },
      { ...SEED.ssl, id: 'name-unchecked', ip: at('ssl_localhost'), kafka_security_config: { type: 'SSL', ...truststore, endpoint_algorithm: '' } },
      {
        ...SEED.saslPlaintext,
        id: 'wrong-password',
        ip: at('sasl_plaintext'),
        db_user: scram.user,
        db_password: 'not-the-password',
        kafka_security_config: { type: 'SASL_PLAINTEXT', sasl_mechanism: 'SCRAM-SHA-256' },
      },
      {
        ...SEED.saslPlaintext,
        id: 'mechanism-off',
        ip: at('sasl_plain_only'),
        db_user: scram.user,
        db_password: scram.password,
        kafka_security_config: { type: 'SASL_PLAINTEXT', sasl_mechanism: 'SCRAM-SHA-256' },
      },
      { ...SEED.plaintext, id: 'tls-listener', ip: at('ssl') },
      { ...SEED.plaintext, id: 'bad-advertised', ip: at('bad_advertised') },
      {
        ...SEED.plaintext,
        id: 'bootstrap-list',
        ip: `${kafka.host}:${kafka.listeners.bad_advertised.advertised_port},localhost:${kafka.listeners.plaintext.port}`,
      },
    ];
    const done = await finished(await submit(jobs));
    assert.deepEqual(
      outcome(
        done,
        jobs.map((j) => j.id),
      ),
      [
        ['name-checked', 'failed', 'TLS_HOSTNAME_MISMATCH'],
        ['name-default', 'failed', 'TLS_HOSTNAME_MISMATCH'],
        ['name-unchecked', 'success', null],
        ['wrong-password', 'failed', 'AUTH_FAILED'],
        ['mechanism-off', 'failed', 'SASL_MECHANISM_UNSUPPORTED'],
        ['tls-listener', 'failed', 'TLS_REQUIRED'],
        ['bad-advertised', 'failed', 'BROKER_UNREACHABLE'],
        ['bootstrap-list', 'success', null],
      ],
    );
    assert.match(
      item(done, 'bad-advertised').error_msg ?? '',
      new RegExp(`^broker 1 advertises 127\\.0\\.0\\.1:${kafka.listeners.bad_advertised.advertised_port} `),
    );
    assert.equal(item(done, 'bootstrap-list').warnings?.length, 1);
  });

  it('gives TIMEOUT for a silent port and CONNECTION_REFUSED for a closed one, within the deadline', async () => {
    const silent = await p.listen();
    const closed = await p.listen();
    await new Promise((resolve) => closed.server.close(resolve));
    const jobs = [
      { ...SEED.plaintext, id: 'silent', ip: `127.0.0.1:${silent.port}`, timeout_ms: 1000 },
      { ...SEED.plaintext, id: 'refused', ip: `127.0.0.1:${closed.port}`, timeout_ms: 1000 },
    ];
    const started = Date.now();
    const done = await finished(await submit(jobs));
    assert.deepEqual(outcome(done, ['silent', 'refused']), [
      ['silent', 'failed', 'TIMEOUT'],
      ['refused', 'failed', 'CONNECTION_REFUSED'],
    ]);
    const silentItem = item(done, 'silent');
    assert.ok((silentItem.duration_ms ?? 0) >= 950 && (silentItem.duration_ms ?? 0) < 1500, `silent took ${silentItem.duration_ms} ms`);
    assert.ok((item(done, 'refused').duration_ms ?? 1000) < 500);
    assert.ok(Date.now() - started < 10_000);
  });
});

describe('kafka requests the API refuses', () => {
  let h: Harness;
  let app: FastifyInstance;
  let services: TestServices;

  before(async () => {
    services = loadServices();
    h = await harness();
    app = await buildApp({ config: h.config, store: h.store, queue: h.queue });
  });
  after(async () => {
    await app.close();
    await h.close();
  });

  const post = (body: unknown) => app.inject({ method: 'POST', url: '/v3/projA/jobs/batch-connection', payload: body as object });
  const base = { id: 'k', db_type: 'kafka', ip: '10.0.0.1:9092' };
  const kafkaJob = (config: Record<string, unknown>, extra: Record<string, unknown> = {}) => ({ jobs: [{ ...base, ...extra, kafka_security_config: config }] });
  const sasl = { db_user: 'u', db_password: 'p' };

  it('answers each with its exact body', async () => {
    const { tls } = services;
    const table: [string, unknown, string, string][] = [
      [
        'GSSAPI',
        kafkaJob({ type: 'SASL_PLAINTEXT', sasl_mechanism: 'GSSAPI' }, sasl),
        'CC.UNSUPPORTED_SASL_MECHANISM',
        'jobs[0].kafka_security_config.sasl_mechanism: "GSSAPI" is not supported; conncheck performs PLAIN, SCRAM-SHA-256, SCRAM-SHA-512 (not GSSAPI/Kerberos, OAUTHBEARER or AWS_MSK_IAM)',
      ],
      [
        'OAUTHBEARER',
        kafkaJob({ type: 'SASL_SSL', sasl_mechanism: 'OAUTHBEARER' }, sasl),
        'CC.UNSUPPORTED_SASL_MECHANISM',
        'jobs[0].kafka_security_config.sasl_mechanism: "OAUTHBEARER" is not supported; conncheck performs PLAIN, SCRAM-SHA-256, SCRAM-SHA-512 (not GSSAPI/Kerberos, OAUTHBEARER or AWS_MSK_IAM)',
      ],
      [
        'SASL without a mechanism',
        kafkaJob({ type: 'SASL_PLAINTEXT' }, sasl),
        'CC.MISSING_FIELD',
        'jobs[0].kafka_security_config.sasl_mechanism: is required for type SASL_PLAINTEXT (PLAIN, SCRAM-SHA-256, SCRAM-SHA-512)',
      ],
      [
        'SASL without a user',
        kafkaJob({ type: 'SASL_PLAINTEXT', sasl_mechanism: 'PLAIN' }, { db_password: 'p' }),
        'CC.MISSING_FIELD',
        'jobs[0].db_user: is required for kafka type SASL_PLAINTEXT (the SASL user)',
      ],
      [
        'a mechanism with type SSL',
        kafkaJob({ type: 'SSL', sasl_mechanism: 'PLAIN' }, sasl),
        'CC.INVALID_PARAMETER',
        'jobs[0].kafka_security_config.sasl_mechanism: is used only with type SASL_PLAINTEXT or SASL_SSL, not SSL (for SASL over TLS, set type SASL_SSL)',
      ],
      [
        'wrong JKS truststore password',
        kafkaJob({ type: 'SSL', trust_store_key: b64(tls.ca.jks), trust_store_password: 'not-the-password' }),
        'CC.CERT_PASSWORD_WRONG',
        'jobs[0].kafka_security_config.trust_store_password: the JKS store cannot be opened with the password given (its integrity check fails)',
      ],
      [
        'wrong PKCS#12 truststore password',
        kafkaJob({ type: 'SSL', trust_store_key: b64(tls.ca.p12), trust_store_password: 'not-the-password' }),
        'CC.CERT_PASSWORD_WRONG',
        'jobs[0].kafka_security_config.trust_store_password: the PKCS#12 file cannot be opened with the password given',
      ],
      [
        'unreadable truststore',
        kafkaJob({ type: 'SSL', trust_store_key: Buffer.from('not a store at all').toString('base64') }),
        'CC.CERT_UNREADABLE',
        'jobs[0].kafka_security_config.trust_store_key: the uploaded file is neither a JKS, a PKCS#12 nor a PEM truststore',
      ],
      [
        'truststore not base64',
        kafkaJob({ type: 'SSL', trust_store_key: 'not base64!' }),
        'CC.CERT_NOT_BASE64',
        'jobs[0].kafka_security_config.trust_store_key: is not valid base64',
      ],
      [
        'wrong keystore password',
        kafkaJob({ type: 'SSL', enable_key_store: true, key_store_key: b64(tls.client.p12), key_store_password: 'not-the-password' }),
        'CC.CERT_PASSWORD_WRONG',
        'jobs[0].kafka_security_config.key_store_password: the PKCS#12 file cannot be opened with the password given',
      ],
      [
        'wrong JKS key password',
        kafkaJob({
          type: 'SSL',
          enable_key_store: true,
          key_store_key: b64(tls.client.jks),
          key_store_password: tls.client.jks_password,
          key_store_key_password: 'not-the-password',
        }),
        'CC.CERT_PASSWORD_WRONG',
        'jobs[0].kafka_security_config.key_store_key_password: the private key in the JKS keystore cannot be opened with the password given (key password)',
      ],
      [
        'keystore without a key',
        kafkaJob({ type: 'SSL', enable_key_store: true, key_store_key: b64(tls.ca.pem) }),
        'CC.CERT_UNREADABLE',
        'jobs[0].kafka_security_config.key_store_key: the PEM keystore holds no private key block',
      ],
      [
        'key store enabled but missing',
        kafkaJob({ type: 'SSL', enable_key_store: true }),
        'CC.MISSING_FIELD',
        'jobs[0].kafka_security_config.key_store_key: is required when enable_key_store is true (the client certificate and key)',
      ],
      [
        'truststore with PLAINTEXT',
        kafkaJob({ type: 'PLAINTEXT', trust_store_key: b64(tls.ca.pem) }),
        'CC.INVALID_PARAMETER',
        'jobs[0].kafka_security_config.trust_store_key: is used only with type SSL or SASL_SSL, not PLAINTEXT',
      ],
      [
        'bad endpoint_algorithm',
        kafkaJob({ type: 'SSL', endpoint_algorithm: 'ldaps' }),
        'CC.INVALID_PARAMETER',
        'jobs[0].kafka_security_config.endpoint_algorithm: must be "https" (verify the broker\'s name) or "" (do not), got "ldaps"',
      ],
      [
        'ssl_link on kafka',
        { jobs: [{ ...base, ssl_link: true, kafka_security_config: { type: 'SSL' } }] },
        'CC.INVALID_PARAMETER',
        'jobs[0].ssl_link: is not used for kafka; set kafka_security_config.type to SSL or SASL_SSL',
      ],
    ];
    const answers = [];
    for (const [name, body] of table) {
      const res = await post(body);
      answers.push({ name, status: res.statusCode, body: res.json() });
    }
    assert.deepEqual(
      answers,
      table.map(([name, , code, message]) => ({ name, status: 400, body: { error_code: code, error_msg: message } })),
    );
    const list = await app.inject('/v1/projA/checks');
    assert.deepEqual(list.json(), { checks: [], next_cursor: null }, 'a refused request stored nothing');
  });

  it('accepts a kafka job without kafka_security_config (PLAINTEXT) and a bootstrap list', async () => {
    const res = await post({ jobs: [{ ...base, ip: 'k1.internal:9092,k2.internal:9093' }] });
    assert.equal(res.statusCode, 202, res.body);
  });
});
