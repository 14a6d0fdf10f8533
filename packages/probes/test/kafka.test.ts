// Owns: tests of the kafka probe against the real Apache Kafka of test/services (every listener and security type)
// and against small real socket servers (silent, refused, garbage, a fake broker advertising what a test wants).
// Must not: mock kafkajs or sockets.

import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { ItemErrorCode } from '@conncheck/core';
import { kafkaProbe } from '../src/kafka.js';
import { NetworkPolicy } from '../src/network-policy.js';
import type { KafkaSettings, ProbeTarget, ProbeTls } from '../src/types.js';
import { assertNothingLeftOpen, fakeServer, freePort, loadServices, NO_SERVICES, pem, run, stageLine, withServer } from './helpers.js';
import { fakeKafka } from './kafka-fake.js';

after(assertNothingLeftOpen);

const services = loadServices();

function kafkaTarget(host: string, port: number, kafka: KafkaSettings, extra: Partial<ProbeTarget> = {}): ProbeTarget {
  return { dbType: 'kafka', endpoints: [{ host, port }], kafka, ...extra };
}
const PLAINTEXT: KafkaSettings = { securityProtocol: 'PLAINTEXT' };

describe('kafka probe against small socket servers', () => {
  it('reports the brokers a fake broker advertises, with no version when ApiVersions v3 is not known', async () => {
    await withServer(await fakeKafka((self) => [{ nodeId: 7, host: '127.0.0.1', port: self }]), async (_port, server) => {
      const result = await run(kafkaProbe, kafkaTarget('127.0.0.1', server.port, PLAINTEXT), { timeoutMs: 3000 });
      assert.equal(result.success, true, result.error_msg);
      assert.deepEqual(result.cluster, { cluster_id: null, controller: 1, brokers: [{ node_id: 7, host: '127.0.0.1', port: server.port, reachable: true }] });
      assert.equal(result.server, undefined);
      assert.ok(
        server.requests.some(([key, version]) => key === 18 && version === 3),
        'ApiVersions v3 was asked',
      );
    });
  });

  it('gives BROKER_FORBIDDEN for an advertised address the policy denies, and still lists every broker', async () => {
    await withServer(
      await fakeKafka((self) => [
        { nodeId: 1, host: '127.0.0.1', port: self },
        { nodeId: 2, host: '169.254.169.254', port: 9092 },
      ]),
      async (_port, server) => {
        const result = await run(kafkaProbe, kafkaTarget('127.0.0.1', server.port, PLAINTEXT), { timeoutMs: 3000 });
        assert.equal(result.error_code, ItemErrorCode.BROKER_FORBIDDEN);
        assert.match(
          result.error_msg ?? '',
          /^1 of 2 advertised brokers cannot be used: broker 2 advertises 169\.254\.169\.254:9092 \(learnt from the bootstrap 127\.0\.0\.1:\d+\): /,
        );
        const brokers = (result.cluster?.['brokers'] ?? []) as { node_id: number; reachable: boolean }[];
        assert.deepEqual(
          brokers.map((b) => [b.node_id, b.reachable]),
          [
            [1, true],
            [2, false],
          ],
        );
      },
    );
  });

  it('gives BROKER_UNREACHABLE before the deadline when an advertised broker accepts and never answers', async () => {
    await withServer(await fakeServer(() => undefined), async (_port, silent) => {
      await withServer(await fakeKafka(() => [{ nodeId: 3, host: '127.0.0.1', port: silent.port }]), async (_port, server) => {
        const result = await run(kafkaProbe, kafkaTarget('127.0.0.1', server.port, PLAINTEXT), { timeoutMs: 2000 });
        assert.equal(result.error_code, ItemErrorCode.BROKER_UNREACHABLE);
        assert.match(
          result.error_msg ?? '',
          new RegExp(`^broker 3 advertises 127\\.0\\.0\\.1:${silent.port} .*accepted the connection but did not answer in time`),
        );
        assert.ok(result.elapsed < 2000, `elapsed ${result.elapsed}`);
        assert.equal(stageLine(result.stages), 'dns:skipped tcp:ok probe:failed');
      });
    });
  });

  it('goes on to the next bootstrap server when one refuses, and says so', async () => {
    const closed = await freePort();
    await withServer(await fakeKafka((self) => [{ nodeId: 1, host: '127.0.0.1', port: self }]), async (_port, server) => {
      const target: ProbeTarget = {
        dbType: 'kafka',
        endpoints: [
          { host: '127.0.0.1', port: closed },
          { host: '127.0.0.1', port: server.port },
        ],
        kafka: PLAINTEXT,
      };
      const result = await run(kafkaProbe, target, { timeoutMs: 3000 });
      assert.equal(result.success, true, result.error_msg);
      assert.equal(result.address, `127.0.0.1:${server.port}`);
      assert.deepEqual(result.warnings, [`bootstrap server skipped: connect to 127.0.0.1:${closed}: connection refused (ECONNREFUSED)`]);
    });
  });

  it('gives TARGET_FORBIDDEN for a bootstrap address the policy denies, without connecting', async () => {
    const policy = new NetworkPolicy({ deny: ['127.0.0.0/8'] });
    const result = await run(kafkaProbe, kafkaTarget('127.0.0.1', 9092, PLAINTEXT), { timeoutMs: 3000, policy });
    assert.equal(result.error_code, ItemErrorCode.TARGET_FORBIDDEN);
  });
});

describe('kafka probe against Apache Kafka', { skip: services ? false : NO_SERVICES }, () => {
  // The callback runs only when the suite is not skipped, that is with the services.
  const { kafka, tls: certs } = services!;
  const listener = (name: keyof typeof kafka.listeners): number => kafka.listeners[name].port;
  const trusted = (): ProbeTls => ({ mode: 'verify-full', ca: [pem(certs.ca.pem)] });
  const user = (name: 'plain' | 'scram256' | 'scram512') => ({ user: kafka.users[name].user, password: kafka.users[name].password });
  const check = (port: number, settings: KafkaSettings, extra: Partial<ProbeTarget> = {}, host = '127.0.0.1') =>
    run(kafkaProbe, kafkaTarget(host, port, settings, extra));

  it('PLAINTEXT: reports the cluster, its one broker and the release', async () => {
    const result = await check(listener('plaintext'), PLAINTEXT);
    assert.equal(result.success, true, result.error_msg);
    assert.equal(stageLine(result.stages), 'dns:skipped tcp:ok probe:ok');
    assert.deepEqual(result.cluster, {
      cluster_id: kafka.cluster_id,
      controller: 1,
      brokers: [{ node_id: 1, host: '127.0.0.1', port: listener('plaintext'), reachable: true }],
      metadata_version: `${kafka.version.split('.').slice(0, 2).join('.')}-IV0`,
    });
    assert.deepEqual(result.server, { product: 'Apache Kafka', version: kafka.version.split('.').slice(0, 2).join('.') });
    assert.equal(result.address, `127.0.0.1:${listener('plaintext')}`);
  });

  for (const [mechanism, name] of [
    ['PLAIN', 'plain'],
    ['SCRAM-SHA-256', 'scram256'],
    ['SCRAM-SHA-512', 'scram512'],
  ] as const) {
    it(`SASL_PLAINTEXT ${mechanism}: the right password logs in, a wrong one is AUTH_FAILED`, async () => {
      const settings: KafkaSettings = { securityProtocol: 'SASL_PLAINTEXT', saslMechanism: mechanism };
      const ok = await check(listener('sasl_plaintext'), settings, user(name));
      assert.equal(ok.success, true, ok.error_msg);
      assert.equal(stageLine(ok.stages), 'dns:skipped tcp:ok auth:ok probe:ok');
      assert.equal(ok.stages.find((s) => s.name === 'auth')?.detail, mechanism);
      const bad = await check(listener('sasl_plaintext'), settings, { ...user(name), password: 'not-the-password' });
      assert.equal(bad.error_code, ItemErrorCode.AUTH_FAILED);
      assert.match(bad.error_msg ?? '', new RegExp(`^SASL ${mechanism} authentication of user "${user(name).user}" failed: `));
      assert.equal(stageLine(bad.stages), 'dns:skipped tcp:ok auth:failed probe:skipped');
    });
  }

  it('SASL_SSL with each mechanism, and a wrong password', async () => {
    for (const [mechanism, name] of [
      ['PLAIN', 'plain'],
      ['SCRAM-SHA-256', 'scram256'],
      ['SCRAM-SHA-512', 'scram512'],
    ] as const) {
      const settings: KafkaSettings = { securityProtocol: 'SASL_SSL', saslMechanism: mechanism };
      const ok = await check(listener('sasl_ssl'), settings, { ...user(name), tls: trusted() });
      assert.equal(ok.success, true, ok.error_msg);
      assert.equal(stageLine(ok.stages), 'dns:skipped tcp:ok tls:ok auth:ok probe:ok');
      assert.match(ok.tls?.subject ?? '', /CN=localhost/);
    }
    const bad = await check(
      listener('sasl_ssl'),
      { securityProtocol: 'SASL_SSL', saslMechanism: 'SCRAM-SHA-256' },
      { ...user('scram256'), password: 'nope', tls: trusted() },
    );
    assert.equal(bad.error_code, ItemErrorCode.AUTH_FAILED);
  });

  it('a mechanism the listener does not enable is SASL_MECHANISM_UNSUPPORTED, naming the ones it does', async () => {
    const result = await check(listener('sasl_plain_only'), { securityProtocol: 'SASL_PLAINTEXT', saslMechanism: 'SCRAM-SHA-256' }, user('scram256'));
    assert.equal(result.error_code, ItemErrorCode.SASL_MECHANISM_UNSUPPORTED);
    assert.equal(result.error_msg, 'the listener does not enable SASL mechanism SCRAM-SHA-256; it enables PLAIN');
    assert.equal(stageLine(result.stages), 'dns:skipped tcp:ok auth:failed probe:skipped');
  });

  it('SASL against a listener without SASL, and no SASL against one with it, are SECURITY_PROTOCOL_MISMATCH', async () => {
    const sasl = await check(listener('plaintext'), { securityProtocol: 'SASL_PLAINTEXT', saslMechanism: 'PLAIN' }, user('plain'));
    assert.equal(sasl.error_code, ItemErrorCode.SECURITY_PROTOCOL_MISMATCH);
    assert.match(sasl.error_msg ?? '', /ILLEGAL_SASL_STATE\): it is a PLAINTEXT listener, so set type PLAINTEXT/);
    const plain = await check(listener('sasl_plaintext'), PLAINTEXT);
    assert.equal(plain.error_code, ItemErrorCode.SECURITY_PROTOCOL_MISMATCH);
    assert.match(plain.error_msg ?? '', /answered ApiVersions, then closed the connection when asked for Metadata without SASL authentication/);
  });

  it('plain text to a TLS listener is TLS_REQUIRED; TLS to a plain listener is TLS_NOT_SUPPORTED', async () => {
    const toTls = await check(listener('ssl'), PLAINTEXT);
    assert.equal(toTls.error_code, ItemErrorCode.TLS_REQUIRED);
    const toPlain = await check(listener('plaintext'), { securityProtocol: 'SSL' }, { tls: trusted() });
    assert.equal(toPlain.error_code, ItemErrorCode.TLS_NOT_SUPPORTED);
    assert.equal(stageLine(toPlain.stages), 'dns:skipped tcp:ok tls:failed probe:skipped');
  });

  it('SSL: the CA in the truststore passes; another CA, or the system store, is TLS_CERT_UNTRUSTED', async () => {
    const ok = await check(listener('ssl'), { securityProtocol: 'SSL' }, { tls: trusted() });
    assert.equal(ok.success, true, ok.error_msg);
    assert.equal(stageLine(ok.stages), 'dns:skipped tcp:ok tls:ok probe:ok');
    assert.deepEqual(ok.tls?.subject_alt_names, ['DNS:localhost', 'IP:127.0.0.1']);
    const other = await check(listener('ssl'), { securityProtocol: 'SSL' }, { tls: { mode: 'verify-full', ca: [pem(certs.other_ca.pem)] } });
    assert.equal(other.error_code, ItemErrorCode.TLS_CERT_UNTRUSTED);
    assert.match(other.error_msg ?? '', /trust_store_key/);
    const system = await check(listener('ssl'), { securityProtocol: 'SSL' }, { tls: { mode: 'verify-full' } });
    assert.equal(system.error_code, ItemErrorCode.TLS_CERT_UNTRUSTED);
  });

  it('hostname verification: on ("https") a localhost-only certificate by IP is TLS_HOSTNAME_MISMATCH, off ("") it passes', async () => {
    const on = await check(listener('ssl_localhost'), { securityProtocol: 'SSL' }, { tls: trusted() });
    assert.equal(on.error_code, ItemErrorCode.TLS_HOSTNAME_MISMATCH);
    assert.equal(on.error_msg, 'the server certificate is for DNS:localhost, not 127.0.0.1 (endpoint_algorithm "https" verifies the broker name; "" does not)');
    const off = await check(listener('ssl_localhost'), { securityProtocol: 'SSL' }, { tls: { ...trusted(), mode: 'verify-ca' } });
    assert.equal(off.success, true, off.error_msg);
  });

  it('hostname verification applies to advertised brokers: bootstrap by name passes, the advertised IP does not', async () => {
    const result = await check(listener('ssl_localhost'), { securityProtocol: 'SSL' }, { tls: trusted() }, 'localhost');
    assert.equal(result.error_code, ItemErrorCode.TLS_HOSTNAME_MISMATCH);
    assert.match(
      result.error_msg ?? '',
      new RegExp(`^broker 1 advertises 127\\.0\\.0\\.1:${listener('ssl_localhost')} \\(learnt from the bootstrap localhost:${listener('ssl_localhost')}\\): `),
    );
    assert.equal(result.stages.find((s) => s.name === 'tls')?.status, 'ok');
  });

  it('mutual TLS: with the client certificate it passes; without, TLS_CLIENT_CERT_REQUIRED; an untrusted one, TLS_CLIENT_CERT_REJECTED', async () => {
    const client = { cert: pem(certs.client.cert), key: pem(certs.client.key) };
    const ok = await check(listener('ssl_mtls'), { securityProtocol: 'SSL' }, { tls: { ...trusted(), ...client } });
    assert.equal(ok.success, true, ok.error_msg);
    const none = await check(listener('ssl_mtls'), { securityProtocol: 'SSL' }, { tls: trusted() });
    assert.equal(none.error_code, ItemErrorCode.TLS_CLIENT_CERT_REQUIRED);
    const untrusted = { cert: pem(certs.self_signed.cert), key: pem(certs.self_signed.key) };
    const rejected = await check(listener('ssl_mtls'), { securityProtocol: 'SSL' }, { tls: { ...trusted(), ...untrusted } });
    assert.equal(rejected.error_code, ItemErrorCode.TLS_CLIENT_CERT_REJECTED);
  });

  it('a broker advertising a closed port is BROKER_UNREACHABLE, naming the advertised address', async () => {
    const result = await check(listener('bad_advertised'), PLAINTEXT);
    const advertised = kafka.listeners.bad_advertised.advertised_port;
    assert.equal(result.error_code, ItemErrorCode.BROKER_UNREACHABLE);
    assert.equal(
      result.error_msg,
      `broker 1 advertises 127.0.0.1:${advertised} (learnt from the bootstrap 127.0.0.1:${listener('bad_advertised')}), which cannot be reached: ` +
        `connect to 127.0.0.1:${advertised}: connection refused (ECONNREFUSED) — clients connect to the advertised address after bootstrapping; check advertised.listeners`,
    );
    assert.equal(stageLine(result.stages), 'dns:skipped tcp:ok probe:failed');
    const brokers = result.cluster?.['brokers'] as { port: number; reachable: boolean; error_code: string }[];
    assert.deepEqual(
      brokers.map((b) => [b.port, b.reachable, b.error_code]),
      [[advertised, false, 'BROKER_UNREACHABLE']],
    );
  });

  it("type SSL with db_user (seed 002's SASL_SSL example) checks TLS only and says the credentials were not used", async () => {
    const result = await check(listener('ssl'), { securityProtocol: 'SSL' }, { ...user('plain'), tls: { ...trusted(), mode: 'verify-ca' } });
    assert.equal(result.success, true, result.error_msg);
    assert.deepEqual(result.warnings, [
      'db_user and db_password are not used with type SSL: it does not authenticate with a user name (for SASL over TLS, set type SASL_SSL and a sasl_mechanism)',
    ]);
    const onSasl = await check(listener('sasl_ssl'), { securityProtocol: 'SSL' }, { ...user('plain'), tls: { ...trusted(), mode: 'verify-ca' } });
    assert.equal(onSasl.error_code, ItemErrorCode.SECURITY_PROTOCOL_MISMATCH);
    assert.match(
      onSasl.error_msg ?? '',
      /set type SASL_SSL with sasl_mechanism, db_user and db_password \(the request has type SSL with a db_user: for SASL over TLS the type is SASL_SSL\)$/,
    );
  });
});
