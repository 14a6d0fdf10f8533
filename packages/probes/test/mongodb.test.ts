// Owns: tests of the mongodb probe against the real FerretDB of test/services (SCRAM logins, seed lists, TLS) and
// small fake MongoDB servers on loopback (silent, trickling, garbage, old, replica sets advertising bad members).
// Must not: mock the driver or sockets; every case is a real connection.

import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { MongoClient, MongoNetworkError, MongoServerError, MongoServerSelectionError } from 'mongodb';
import { ItemErrorCode } from '@conncheck/core';
import { loadDriver } from '../src/drivers.js';
import { fromMongoError } from '../src/mongodb-errors.js';
import { judgeMongoReply, parseHostPort, serverInfoFromBuildInfo, type MemberReport } from '../src/mongodb.js';
import { mongodbProbe } from '../src/mongodb.js';
import { NetworkPolicy } from '../src/network-policy.js';
import type { ProbeTarget, ProbeTls } from '../src/types.js';
import { serverText } from '../src/server-text.js';
import { assertNothingLeftOpen, freePort, loadServices, NO_SERVICES, pem, run, stageLine, target, withServer } from './helpers.js';
import { fakeMongo, standalone } from './mongo-wire.js';

after(assertNothingLeftOpen);
// The driver's connections go to the probe's relay over Unix sockets (PipeWrap), which the shared check does not
// list; stdout and stderr may be pipes too, so the count must not grow past what the file started with.
const pipes = (): number => process.getActiveResourcesInfo().filter((name) => /Pipe/.test(name)).length;
const pipesAtStart = pipes();
after(async () => {
  await new Promise((resolve) => setTimeout(resolve, 50));
  assert.equal(pipes(), pipesAtStart, 'the driver or the relay left a Unix socket open');
});

const services = loadServices();

const seedList = (dbType: ProbeTarget['dbType'], hosts: [string, number][], extra: Partial<ProbeTarget> = {}): ProbeTarget => ({
  dbType,
  endpoints: hosts.map(([host, port]) => ({ host, port })),
  ...extra,
});

describe('mongodb probe helpers', () => {
  // The error mapping reads the driver's classes, which the probe loads on its first run.
  before(() => loadDriver('mongodb'));
  it('parses the member names hello lists', () => {
    assert.deepEqual(parseHostPort('db-1.internal:27018'), { host: 'db-1.internal', port: 27018 });
    assert.deepEqual(parseHostPort('10.0.0.5'), { host: '10.0.0.5', port: 27017 });
    assert.deepEqual(parseHostPort('[fd00::5]:27019'), { host: 'fd00::5', port: 27019 });
    assert.equal(parseHostPort('a:b:c'), undefined);
    assert.equal(parseHostPort('host:99999'), undefined);
  });

  it('tells FerretDB, Percona and MongoDB apart by buildInfo', () => {
    assert.deepEqual(serverInfoFromBuildInfo({ version: '7.0.42', ferretdbVersion: 'v1.24.2' }), { product: 'FerretDB', version: '1.24.2' });
    assert.deepEqual(serverInfoFromBuildInfo({ version: '6.0.4', psmdbVersion: '6.0.4-3' }), { product: 'Percona Server for MongoDB', version: '6.0.4-3' });
    assert.deepEqual(serverInfoFromBuildInfo({ version: '8.0.1' }), { product: 'MongoDB', version: '8.0.1' });
  });

  it('digs the cause out of a server selection error', () => {
    // What the driver throws after its retries: the selection error's own message is generic, the cause sits in the
    // topology description's server descriptions, and a network error's cause is Node's error.
    const selection = (error: unknown): MongoServerSelectionError =>
      new MongoServerSelectionError('Server selection timed out after 30000 ms', { servers: new Map([['db:27017', { error }]]) } as never);
    const node = (code: string): Error => Object.assign(new Error(`connect ${code} 10.0.0.5:27017`), { code });
    const refused = fromMongoError(selection(new MongoNetworkError('connect ECONNREFUSED 10.0.0.5:27017', { cause: node('ECONNREFUSED') })));
    assert.equal(refused.code, ItemErrorCode.CONNECTION_REFUSED);
    assert.equal(
      fromMongoError(selection(new MongoNetworkError('getaddrinfo ENOTFOUND db', { cause: node('ENOTFOUND') }))).code,
      ItemErrorCode.DNS_RESOLUTION_FAILED,
    );
    assert.equal(fromMongoError(selection(new MongoNetworkError('connection 1 to db:27017 closed'))).code, ItemErrorCode.CONNECTION_RESET);
    const auth = fromMongoError(selection(new MongoServerError({ ok: 0, code: 18, codeName: 'AuthenticationFailed', errmsg: 'Authentication failed.' })));
    assert.equal(auth.code, ItemErrorCode.AUTH_FAILED);
    // The server's words are marked as such (for the runner's redaction); the text reads the same.
    assert.equal(auth.message, `${serverText('Authentication failed.')} (MongoDB error 18 AuthenticationFailed)`);
    assert.equal(
      fromMongoError(new MongoServerError({ ok: 0, code: 91, codeName: 'ShutdownInProgress', errmsg: 'shutting down' })).code,
      ItemErrorCode.SERVER_UNAVAILABLE,
    );
  });

  it('judges the first reply by its header', () => {
    const header = (length: number, opCode: number): Buffer => {
      const b = Buffer.alloc(16);
      b.writeInt32LE(length, 0);
      b.writeInt32LE(opCode, 12);
      return b;
    };
    assert.equal(judgeMongoReply(Buffer.alloc(10)).kind, 'more');
    assert.equal(judgeMongoReply(header(200, 2013)).kind, 'ok');
    assert.equal(judgeMongoReply(header(200, 1)).kind, 'ok');
    assert.equal(judgeMongoReply(header(200, 2004)).kind, 'bad');
    assert.equal(judgeMongoReply(header(0x7fffffff, 2013)).kind, 'bad');
  });
});

describe('mongodb probe against fake servers', () => {
  it('gives SERVER_VERSION_UNSUPPORTED for a server older than the driver supports', async () => {
    const server = await fakeMongo(standalone({ maxWireVersion: 5 }));
    await withServer(server, async (port) => {
      const result = await run(mongodbProbe, target('mongodb', '127.0.0.1', port), { timeoutMs: 3000 });
      assert.equal(result.error_code, ItemErrorCode.SERVER_VERSION_UNSUPPORTED, result.error_msg);
      assert.match(result.error_msg ?? '', /wire version 5/);
      assert.ok(!(result.error_msg ?? '').includes('.sock'), `the relay's path leaked: ${result.error_msg}`);
      assert.ok(result.elapsed < 1000, `elapsed ${result.elapsed}`);
    });
  });

  it('reports a standalone server without credentials, with a warning that access control is off', async () => {
    const server = await fakeMongo(standalone());
    await withServer(server, async (port) => {
      const result = await run(mongodbProbe, target('mongodb', '127.0.0.1', port));
      assert.equal(result.success, true, result.error_msg);
      assert.deepEqual(result.server, { product: 'MongoDB', version: '6.0.5' });
      assert.equal(result.cluster, undefined);
      assert.equal(stageLine(result.stages), 'dns:skipped tcp:ok auth:skipped probe:ok');
      assert.match(result.warnings?.join('\n') ?? '', /access control is off/);
    });
  });

  it('checks every member a replica set advertises: a forbidden one is REPLICA_MEMBER_FORBIDDEN and never contacted', async () => {
    let port = 0;
    const server = await fakeMongo((command, name) =>
      standalone({ setName: 'rs-fake', hosts: [`127.0.0.1:${port}`, '169.254.169.254:27017'], primary: `127.0.0.1:${port}` })(command, name),
    );
    port = server.port;
    await withServer(server, async () => {
      const result = await run(mongodbProbe, target('mongodb', '127.0.0.1', port));
      assert.equal(result.error_code, ItemErrorCode.REPLICA_MEMBER_FORBIDDEN, result.error_msg);
      assert.match(
        result.error_msg ?? '',
        /replica set "rs-fake" advertises member 169\.254\.169\.254:27017 \(169\.254\.169\.254 is in the denied range 169\.254\.0\.0\/16, which this deployment may not connect to\); it was not contacted$/,
      );
      const members = result.cluster?.['members'] as MemberReport[];
      assert.deepEqual(
        members.map((m) => [m.host, m.role, m.status, m.error_code]),
        [
          [`127.0.0.1:${port}`, 'primary', 'reachable', undefined],
          ['169.254.169.254:27017', 'secondary', 'forbidden', ItemErrorCode.TARGET_FORBIDDEN],
        ],
      );
      assert.equal(result.cluster?.['set_name'], 'rs-fake');
      assert.equal(stageLine(result.stages), 'dns:skipped tcp:ok auth:skipped probe:failed');
    });
  });

  it('gives REPLICA_MEMBER_UNREACHABLE for members that do not resolve or refuse, naming each', async () => {
    const refused = await freePort();
    let port = 0;
    const server = await fakeMongo((command, name) =>
      standalone({ setName: 'rs-fake', hosts: [`127.0.0.1:${port}`, `127.0.0.1:${refused}`], arbiters: ['no-such-member.invalid:27017'] })(command, name),
    );
    port = server.port;
    await withServer(server, async () => {
      const result = await run(mongodbProbe, target('mongodb', '127.0.0.1', port), { timeoutMs: 5000 });
      assert.equal(result.error_code, ItemErrorCode.REPLICA_MEMBER_UNREACHABLE, result.error_msg);
      const members = result.cluster?.['members'] as MemberReport[];
      assert.deepEqual(
        members.map((m) => [m.host, m.role, m.status, m.error_code]),
        [
          [`127.0.0.1:${port}`, 'primary', 'reachable', undefined],
          [`127.0.0.1:${refused}`, 'secondary', 'unreachable', ItemErrorCode.CONNECTION_REFUSED],
          ['no-such-member.invalid:27017', 'arbiter', 'unreachable', ItemErrorCode.DNS_RESOLUTION_FAILED],
        ],
      );
      assert.match(result.error_msg ?? '', new RegExp(`member 127\\.0\\.0\\.1:${refused}, which the worker cannot reach`));
      assert.match(result.error_msg ?? '', /member no-such-member\.invalid:27017, which the worker cannot reach \(cannot resolve/);
    });
  });

  it('refuses a seed the network policy forbids before connecting anywhere', async () => {
    const server = await fakeMongo(standalone());
    await withServer(server, async (port) => {
      const policy = new NetworkPolicy({ deny: ['127.0.0.2/32'] });
      const result = await run(
        mongodbProbe,
        seedList('mongodb', [
          ['127.0.0.1', port],
          ['127.0.0.2', port],
        ]),
        { policy },
      );
      assert.equal(result.error_code, ItemErrorCode.TARGET_FORBIDDEN);
      assert.equal(server.accepted, 0);
    });
  });
});

describe('mongodb probe against FerretDB', { skip: services ? false : NO_SERVICES }, () => {
  const db = services!.mongodb;
  const main = db.users.main;
  const other = { user: `cc_other_${randomBytes(3).toString('hex')}`, password: randomBytes(12).toString('base64url') };

  before(async () => {
    // A user defined in ccdb, not admin: the authentication-database cases.
    const client = new MongoClient(`mongodb://${db.host}:${db.port}/?directConnection=true`, { auth: { username: main.user, password: main.password } });
    try {
      await client.db('ccdb').command({ createUser: other.user, pwd: other.password, roles: [] });
    } finally {
      await client.close();
    }
  });
  after(async () => {
    const client = new MongoClient(`mongodb://${db.host}:${db.port}/?directConnection=true`, { auth: { username: main.user, password: main.password } });
    try {
      await client.db('ccdb').command({ dropUser: other.user });
    } finally {
      await client.close();
    }
  });

  it('logs in with the right password and reports FerretDB, the replica set and its member', async () => {
    const result = await run(mongodbProbe, target('mongodb', db.host, db.port, { ...main }));
    assert.equal(result.success, true, result.error_msg);
    assert.deepEqual(result.server, { product: 'FerretDB', version: db.version });
    assert.equal(stageLine(result.stages), 'dns:skipped tcp:ok auth:ok probe:ok');
    assert.equal(result.stages.find((s) => s.name === 'auth')?.detail, `${main.user}@admin`);
    assert.equal(result.address, `${db.host}:${db.port}`);
    assert.equal(result.cluster?.['topology'], 'replica_set');
    assert.equal(result.cluster?.['set_name'], db.repl_set_name);
    assert.deepEqual(result.cluster?.['members'], [{ host: `${db.host}:${db.port}`, role: 'primary', status: 'reachable', address: `${db.host}:${db.port}` }]);
    assert.equal(result.warnings, undefined);
  });

  it('gives AUTH_FAILED for a wrong password, saying the user exists and the password is wrong', async () => {
    const result = await run(mongodbProbe, target('mongodb', db.host, db.port, { user: main.user, password: 'wrong-password' }));
    assert.equal(result.error_code, ItemErrorCode.AUTH_FAILED);
    assert.equal(stageLine(result.stages), 'dns:skipped tcp:ok auth:failed probe:skipped');
    assert.match(
      result.error_msg ?? '',
      /\(MongoDB error 18 AuthenticationFailed\) — user "cc_root" exists in authentication database "admin" \(the default; db_name names another\) \(SCRAM-SHA-1, SCRAM-SHA-256\), so the password is wrong$/,
    );
  });

  it('gives AUTH_FAILED naming the authentication database for a user defined elsewhere, and logs in with db_name', async () => {
    const wrongDb = await run(mongodbProbe, target('mongodb', db.host, db.port, { ...other }));
    assert.equal(wrongDb.error_code, ItemErrorCode.AUTH_FAILED);
    assert.match(
      wrongDb.error_msg ?? '',
      new RegExp(`there is no user "${other.user}" in authentication database "admin" \\(the default; db_name names another\\)`),
    );
    const rightDb = await run(mongodbProbe, target('mongodb', db.host, db.port, { ...other, database: 'ccdb' }));
    assert.equal(rightDb.success, true, rightDb.error_msg);
    assert.equal(rightDb.stages.find((s) => s.name === 'auth')?.detail, `${other.user}@ccdb`);
  });

  it('gives AUTH_FAILED without credentials: the server requires a login', async () => {
    const result = await run(mongodbProbe, target('mongodb', db.host, db.port));
    assert.equal(result.error_code, ItemErrorCode.AUTH_FAILED);
    assert.match(result.error_msg ?? '', /^the server requires authentication \(listDatabases: .*\) and no db_user was given/);
    assert.deepEqual(result.server, { product: 'FerretDB', version: db.version });
  });

  it('checks every seed of a host list: "127.0.0.1:p,localhost:p" logs in, a refused seed is named', async () => {
    const ok = await run(
      mongodbProbe,
      seedList(
        'mongodb',
        [
          [db.host, db.port],
          ['localhost', db.port],
        ],
        { ...main },
      ),
    );
    assert.equal(ok.success, true, ok.error_msg);
    assert.equal(ok.stages[0]?.name, 'dns');
    assert.equal(ok.stages[0]?.status, 'ok');
    assert.match(ok.stages[0]?.detail ?? '', /^localhost → /);

    const refused = await freePort();
    const bad = await run(
      mongodbProbe,
      seedList(
        'mongodb',
        [
          [db.host, db.port],
          ['127.0.0.1', refused],
        ],
        { ...main },
      ),
    );
    assert.equal(bad.error_code, ItemErrorCode.CONNECTION_REFUSED);
    assert.match(bad.error_msg ?? '', new RegExp(`^127\\.0\\.0\\.1:${refused}: connect to 127\\.0\\.0\\.1:${refused}: connection refused`));
    assert.equal(stageLine(bad.stages), 'dns:skipped tcp:failed auth:skipped probe:skipped');
  });

  it('gives TLS_REQUIRED for a plain-text check of the TLS-only port', async () => {
    const result = await run(mongodbProbe, target('mongodb', db.host, db.tls_port, { ...main }));
    assert.equal(result.error_code, ItemErrorCode.TLS_REQUIRED, result.error_msg);
    assert.match(result.error_msg ?? '', /accepts TLS connections only/);
  });

  describe('over TLS', { skip: services?.tls ? false : 'no test certificates' }, () => {
    const tls = (extra: Partial<ProbeTls> = {}): ProbeTls => ({ mode: 'verify-full', ca: [pem(services!.tls.ca.pem)], ...extra });

    it('logs in with the right CA and reports the certificate', async () => {
      const result = await run(mongodbProbe, target('mongodb', 'localhost', db.tls_port, { ...main, tls: tls() }));
      assert.equal(result.success, true, result.error_msg);
      assert.equal(stageLine(result.stages), 'dns:ok tcp:ok tls:ok auth:ok probe:ok');
      assert.deepEqual(result.tls?.subject_alt_names, ['DNS:localhost']);
      assert.match(result.tls?.protocol ?? '', /^TLSv1\.[23]$/);
      assert.deepEqual(result.server, { product: 'FerretDB', version: db.version });
    });

    it('gives TLS_CERT_UNTRUSTED with another CA, before any credential is sent', async () => {
      const result = await run(mongodbProbe, target('mongodb', 'localhost', db.tls_port, { ...main, tls: tls({ ca: [pem(services!.tls.other_ca.pem)] }) }));
      assert.equal(result.error_code, ItemErrorCode.TLS_CERT_UNTRUSTED, result.error_msg);
      assert.equal(stageLine(result.stages), 'dns:ok tcp:ok tls:failed auth:skipped probe:skipped');
      assert.deepEqual(result.tls?.subject_alt_names, ['DNS:localhost']);
    });

    it('gives TLS_HOSTNAME_MISMATCH by IP with verify-full, and logs in by IP with verify-ca', async () => {
      const full = await run(mongodbProbe, target('mongodb', db.host, db.tls_port, { ...main, tls: tls() }));
      assert.equal(full.error_code, ItemErrorCode.TLS_HOSTNAME_MISMATCH, full.error_msg);
      const ca = await run(mongodbProbe, target('mongodb', db.host, db.tls_port, { ...main, tls: tls({ mode: 'verify-ca' }) }));
      assert.equal(ca.success, true, ca.error_msg);
    });
  });
});
