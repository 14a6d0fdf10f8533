import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { describe, it } from 'node:test';
import { type BatchJob, buildItems, certificateChecksum, parseEndpoints } from '../src/index.js';
import { FIXTURE_CA_PEM, base64 } from './fixture-cert.js';

describe('parseEndpoints', () => {
  const cases: [string, number | undefined, string, ReturnType<typeof parseEndpoints>][] = [
    ['10.0.0.1', 3306, 'mysql', { endpoints: [{ host: '10.0.0.1', port: 3306 }] }],
    ['db.example.com', undefined, 'postgresql', { endpoints: [{ host: 'db.example.com', port: 5432 }] }],
    ['db.example.com:6432', undefined, 'postgresql', { endpoints: [{ host: 'db.example.com', port: 6432 }] }],
    ['db.example.com:6432', 0, 'postgresql', { endpoints: [{ host: 'db.example.com', port: 6432 }] }],
    ['::1', 5432, 'postgresql', { endpoints: [{ host: '::1', port: 5432 }] }],
    ['[::1]:5433', undefined, 'postgresql', { endpoints: [{ host: '::1', port: 5433 }] }],
    [
      '192.168.4.66:8635,192.168.4.83:8635',
      0,
      'mongodb',
      {
        endpoints: [
          { host: '192.168.4.66', port: 8635 },
          { host: '192.168.4.83', port: 8635 },
        ],
      },
    ],
    [
      'h1, h2:9093',
      undefined,
      'kafka',
      {
        endpoints: [
          { host: 'h1', port: 9092 },
          { host: 'h2', port: 9093 },
        ],
      },
    ],
    ['10.0.0.1', undefined, 'tcp', { error: 'no port: give db_port or write "10.0.0.1:<port>"' }],
    ['10.0.0.1:3307', 3306, 'mysql', { error: '"10.0.0.1:3307" names port 3307 but db_port is 3306' }],
    ['10.0.0.1:99999', undefined, 'mysql', { error: 'port 99999 of "10.0.0.1:99999" is out of range 1-65535' }],
    ['10.0.0.1:abc', undefined, 'mysql', { error: '"10.0.0.1:abc" has a port that is not a number' }],
    ['a,b', 3306, 'mysql', { error: 'db_type mysql checks one server; got 2 addresses' }],
    ['a,,b', 27017, 'mongodb', { error: 'has an empty entry in the host list' }],
    ['bad host!', 3306, 'mysql', { error: '"bad host!" is not an IP address or a valid host name' }],
    ['[10.0.0.1]:80', undefined, 'tcp', { error: '"[10.0.0.1]:80" has brackets but no IPv6 address in them' }],
  ];
  for (const [ip, port, type, expected] of cases) {
    it(`${type} ${ip} ${port ?? ''}`, () => assert.deepEqual(parseEndpoints(ip, port, type), expected));
  }
});

describe('certificateChecksum', () => {
  it('is the hex SHA-256 of the decoded bytes', () => {
    const bytes = Buffer.from('-----BEGIN CERTIFICATE-----\nabc\n-----END CERTIFICATE-----\n');
    assert.equal(certificateChecksum(bytes.toString('base64')), createHash('sha256').update(bytes).digest('hex'));
  });
  it('rejects text that is not base64', () => assert.equal(certificateChecksum('not base64 at all!'), undefined));
});

describe('buildItems', () => {
  const mysql: BatchJob = {
    id: 'a',
    net_type: 'eip',
    db_type: 'mysql',
    ip: '192.168.0.27',
    db_port: 3306,
    db_user: 'root',
    db_password: 's3cret',
    end_point_type: 'so',
  };

  it('splits secrets from the spec and applies defaults', () => {
    const { problems, items } = buildItems([{ ...mysql, net_type: undefined, end_point_type: undefined }]);
    assert.deepEqual(problems, []);
    assert.equal(items.length, 1);
    const { spec, secrets } = items[0]!;
    assert.equal(spec.net_type, 'eip');
    assert.equal(spec.end_point_type, 'so');
    assert.equal(spec.timeout_ms, 10_000);
    assert.deepEqual(secrets, { db_password: 's3cret' });
    assert.ok(!JSON.stringify(spec).includes('s3cret'));
  });

  it('reports every problem with its field and code', () => {
    const { problems, items } = buildItems([
      { ...mysql, db_user: undefined },
      { ...mysql, db_type: 'oracle' },
      { ...mysql, db_type: 'sybase' as never },
      { ...mysql, db_password: undefined, ip: 'a:1,b:2' },
      { ...mysql, ssl_cert_key: Buffer.from('x').toString('base64'), ssl_cert_check_sum: '0'.repeat(64) },
    ]);
    assert.deepEqual(items, []);
    assert.deepEqual(
      problems.map((p) => [p.field, p.error_code]),
      [
        ['jobs[0].db_user', 'CC.MISSING_FIELD'],
        ['jobs[1].db_type', 'CC.UNSUPPORTED_DB_TYPE'],
        ['jobs[2].db_type', 'CC.INVALID_PARAMETER'],
        ['jobs[3].ip', 'CC.INVALID_PARAMETER'],
        ['jobs[3].db_password', 'CC.MISSING_FIELD'],
        ['jobs[4].ssl_cert_check_sum', 'CC.CERT_CHECKSUM_MISMATCH'],
      ],
    );
    assert.match(problems[0]!.error_msg, /^jobs\[0\]\.db_user: is required for db_type mysql$/);
  });

  it('accepts a checksum in upper case', () => {
    const key = base64(FIXTURE_CA_PEM);
    const sum = createHash('sha256').update(FIXTURE_CA_PEM).digest('hex').toUpperCase();
    const { problems, items } = buildItems([{ ...mysql, ssl_cert_key: key, ssl_cert_check_sum: sum }]);
    assert.deepEqual(problems, []);
    assert.equal(items[0]!.spec.ssl_cert_check_sum, sum.toLowerCase());
    assert.equal(items[0]!.secrets.ssl_cert_key, key);
  });

  it('a tcp job needs no credentials', () => {
    const { problems } = buildItems([{ id: 't', db_type: 'tcp', ip: 'example.com', db_port: 443 }]);
    assert.deepEqual(problems, []);
  });
});

describe('buildItems: TLS fields', () => {
  const pg: BatchJob = { id: 'p', db_type: 'postgresql', ip: 'db.example.com', db_user: 'u', db_password: 'p' };
  const key = base64(FIXTURE_CA_PEM);
  const sum = createHash('sha256').update(FIXTURE_CA_PEM).digest('hex');
  const problems = (job: Partial<BatchJob>) => buildItems([{ ...pg, ...job }]).problems.map((p) => [p.field, p.error_code, p.error_msg]);

  it('ssl_mode defaults to verify-full with a certificate and to require without one', () => {
    assert.equal(buildItems([{ ...pg, ssl_link: true, ssl_cert_key: key, ssl_cert_check_sum: sum }]).items[0]?.spec.ssl_mode, 'verify-full');
    assert.equal(buildItems([{ ...pg, ssl_link: true }]).items[0]?.spec.ssl_mode, 'require');
    assert.equal(buildItems([{ ...pg, ssl_link: true, ssl_mode: 'verify-ca' }]).items[0]?.spec.ssl_mode, 'verify-ca');
    assert.equal(buildItems([{ ...pg, ssl_link: false }]).items[0]?.spec.ssl_mode, undefined);
  });

  it('an empty ssl_cert_key counts as none, and an empty password is not kept', () => {
    const [item] = buildItems([{ ...pg, ssl_link: true, ssl_cert_key: '', ssl_cert_password: '' }]).items;
    assert.equal(item?.spec.ssl_mode, 'require');
    assert.deepEqual(item?.secrets, { db_password: 'p' });
  });

  it('each certificate problem has its own code, on its own field', () => {
    assert.deepEqual(problems({ ssl_link: true, ssl_cert_key: 'not base64!' }), [
      ['jobs[0].ssl_cert_key', 'CC.CERT_NOT_BASE64', 'jobs[0].ssl_cert_key: is not valid base64'],
    ]);
    assert.deepEqual(problems({ ssl_link: true, ssl_cert_key: FIXTURE_CA_PEM }), [
      ['jobs[0].ssl_cert_key', 'CC.CERT_NOT_BASE64', 'jobs[0].ssl_cert_key: is PEM text, not base64: send the base64 of the file (base64 -w0 ca.pem)'],
    ]);
    assert.deepEqual(problems({ ssl_link: true, ssl_cert_key: key, ssl_cert_check_sum: 'f'.repeat(64) }), [
      [
        'jobs[0].ssl_cert_check_sum',
        'CC.CERT_CHECKSUM_MISMATCH',
        `jobs[0].ssl_cert_check_sum: is not the SHA-256 of the decoded ssl_cert_key (that is ${sum})`,
      ],
    ]);
    assert.deepEqual(problems({ ssl_link: true, ssl_cert_key: base64('hello') }), [
      [
        'jobs[0].ssl_cert_key',
        'CC.CERT_UNREADABLE',
        'jobs[0].ssl_cert_key: the uploaded file is neither a PEM or DER certificate nor a PKCS#12 (.p12/.pfx) file',
      ],
    ]);
    assert.deepEqual(problems({ ssl_link: true, ssl_cert_key: base64('-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n') }), [
      ['jobs[0].ssl_cert_key', 'CC.CERT_UNREADABLE', 'jobs[0].ssl_cert_key: the PEM file holds no CERTIFICATE block'],
    ]);
  });

  it('ssl_mode without ssl_link, ssl_link on kafka and a checksum without a certificate are refused', () => {
    assert.deepEqual(problems({ ssl_mode: 'verify-full' }), [
      ['jobs[0].ssl_mode', 'CC.INVALID_PARAMETER', 'jobs[0].ssl_mode: needs ssl_link true (without it the check does not use TLS)'],
    ]);
    assert.deepEqual(problems({ ssl_cert_check_sum: sum }), [
      ['jobs[0].ssl_cert_check_sum', 'CC.INVALID_PARAMETER', 'jobs[0].ssl_cert_check_sum: is given without ssl_cert_key'],
    ]);
    const kafka = buildItems([{ id: 'k', db_type: 'kafka', ip: 'broker:9092', ssl_link: true }]).problems;
    assert.ok(
      kafka.some(
        (p) => p.field === 'jobs[0].ssl_link' && p.error_msg === 'jobs[0].ssl_link: is not used for kafka; set kafka_security_config.type to SSL or SASL_SSL',
      ),
    );
  });
});
