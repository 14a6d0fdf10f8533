import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { describe, it } from 'node:test';
import { type BatchJob, buildItems, certificateChecksum, parseEndpoints } from '../src/index.js';

describe('parseEndpoints', () => {
  const cases: [string, number | undefined, string, ReturnType<typeof parseEndpoints>][] = [
    ['10.0.0.1', 3306, 'mysql', { endpoints: [{ host: '10.0.0.1', port: 3306 }] }],
    ['db.example.com', undefined, 'postgresql', { endpoints: [{ host: 'db.example.com', port: 5432 }] }],
    ['db.example.com:6432', undefined, 'postgresql', { endpoints: [{ host: 'db.example.com', port: 6432 }] }],
    ['db.example.com:6432', 0, 'postgresql', { endpoints: [{ host: 'db.example.com', port: 6432 }] }],
    ['::1', 5432, 'postgresql', { endpoints: [{ host: '::1', port: 5432 }] }],
    ['[::1]:5433', undefined, 'postgresql', { endpoints: [{ host: '::1', port: 5433 }] }],
    ['192.168.4.66:8635,192.168.4.83:8635', 0, 'mongodb', { endpoints: [{ host: '192.168.4.66', port: 8635 }, { host: '192.168.4.83', port: 8635 }] }],
    ['h1, h2:9093', undefined, 'kafka', { endpoints: [{ host: 'h1', port: 9092 }, { host: 'h2', port: 9093 }] }],
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
  const mysql: BatchJob = { id: 'a', net_type: 'eip', db_type: 'mysql', ip: '192.168.0.27', db_port: 3306, db_user: 'root', db_password: 's3cret', end_point_type: 'so' };

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
      { ...mysql, db_type: 'sybase' },
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
        ['jobs[4].ssl_cert_check_sum', 'CC.INVALID_PARAMETER'],
      ],
    );
    assert.match(problems[0]!.error_msg, /^jobs\[0\]\.db_user: is required for db_type mysql$/);
  });

  it('accepts a checksum in upper case', () => {
    const key = Buffer.from('cert').toString('base64');
    const sum = createHash('sha256').update('cert').digest('hex').toUpperCase();
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
