// The `conncheck` command run as a user runs it — `npx conncheck` / node_modules/.bin/conncheck from the repo root —
// against the real service (`npm start`, tokens on, the test Redis), without a terminal and on a pseudo-terminal.
// Must not: call the CLI's modules for what the command itself is tested for; only the input parser is imported.

import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { type AddressInfo, type Server, type Socket, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { parseInput, parseTarget } from '@conncheck/cli';
import { itemErrorHints } from '@conncheck/core';
import { createRedis } from '@conncheck/store';
import { deleteKeys } from './lib/harness.js';
import { type Proc, freePort, repoRoot, startScript, waitUntilReady } from './lib/processes.js';
import { type TestServices, loadServices } from './lib/services.js';

const TOKEN = `cli-${randomBytes(12).toString('hex')}`;
const TWO_PROJECTS_TOKEN = `cli2-${randomBytes(12).toString('hex')}`;
const PROJECT = 'cli-project';
const BIN = join(repoRoot, 'node_modules', '.bin', 'conncheck');

interface Ran {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs `command args…` in the repo root with only PATH, HOME and `env`; `input` is its standard input. */
function run(command: string, args: string[], env: Record<string, string>, input?: string): Promise<Ran> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, {
      cwd: repoRoot,
      env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/tmp', ...env },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), 60_000);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
    child.stdin.end(input ?? '');
  });
}

const escape = (text: string) => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

describe('the conncheck command against a running service', () => {
  let services: TestServices;
  let proc: Proc;
  let base: string;
  let env: Record<string, string>;
  let listener: Server;
  let listenPort: number;
  let closedPort: number;
  /** Accepts and never answers: a database check against it runs until its timeout_ms. */
  let silent: Server;
  let silentPort: number;
  const sockets = new Set<Socket>();
  let dir: string;
  const prefix = `cli${randomBytes(3).toString('hex')}`;

  const cli = (args: string[], input?: string, extra: Record<string, string> = {}) => run(BIN, args, { ...env, ...extra }, input);

  before(async () => {
    services = loadServices(['redis', 'mariadb', 'postgresql']);
    const port = await freePort();
    base = `http://127.0.0.1:${port}`;
    proc = startScript('start', {
      PORT: String(port),
      REDIS_URL: services.redis.url,
      CONNCHECK_REDIS_PREFIX: prefix,
      CONNCHECK_AUTH_TOKENS: `${TOKEN}=${PROJECT};${TWO_PROJECTS_TOKEN}=${PROJECT},other`,
      // With tokens, loopback is for tenants to reach only where the operator opens it; the test targets live there.
      CONNCHECK_TARGET_ALLOW: '127.0.0.0/8',
      CONNCHECK_LOG_LEVEL: 'warn',
    });
    listener = createServer((socket) => socket.end());
    await new Promise<void>((r) => listener.listen(0, '127.0.0.1', r));
    listenPort = (listener.address() as AddressInfo).port;
    silent = createServer((socket) => {
      sockets.add(socket);
      socket.on('close', () => sockets.delete(socket));
      socket.on('error', () => undefined);
    });
    await new Promise<void>((r) => silent.listen(0, '127.0.0.1', r));
    silentPort = (silent.address() as AddressInfo).port;
    closedPort = await freePort();
    dir = mkdtempSync(join(tmpdir(), 'conncheck-cli-test-'));
    // The token names one project, so the CLI finds it through GET /v1/projects: no CONNCHECK_PROJECT here.
    env = { CONNCHECK_URL: base, CONNCHECK_TOKEN: TOKEN };
    await waitUntilReady(base, proc);
  });

  after(async () => {
    proc.signal('SIGTERM');
    // unref: a timer left pending would keep this file's process alive for its whole 15 s after the service exited.
    await Promise.race([proc.exited, new Promise((r) => setTimeout(r, 15_000).unref())]);
    proc.kill();
    listener.close();
    for (const socket of sockets) socket.destroy();
    silent.close();
    rmSync(dir, { recursive: true, force: true });
    const redis = createRedis(services.redis.url, 'api', 'cli-cleanup');
    await redis.connect();
    await deleteKeys(redis, `${prefix}:*`);
    redis.disconnect();
  });

  it('`npx conncheck --help` works from the repo root and documents the exit codes', async () => {
    const ran = await run('npx', ['conncheck', '--help'], {});
    assert.equal(ran.code, 0, ran.stderr);
    for (const command of ['submit', 'watch', 'get', 'list', 'cancel']) assert.match(ran.stdout, new RegExp(`^  ${command} `, 'm'));
    assert.match(ran.stdout, /^ {2}0 {2}every item succeeded/m);
    assert.match(ran.stdout, /^ {2}1 {2}some items failed/m);
    assert.match(ran.stdout, /^ {2}2 {2}usage error or API error/m);
  });

  it('submits a file and prints the check_id alone; get, list and the same Idempotency-Key agree', async () => {
    const file = join(dir, 'targets.txt');
    writeFileSync(file, `# a listening socket\n127.0.0.1:${listenPort}\n`);
    const first = await cli(['submit', file, '--idempotency-key', `key-${prefix}`]);
    assert.equal(first.code, 0, first.stderr);
    assert.match(first.stdout, /^[0-9a-f-]{36}\n$/);
    const checkId = first.stdout.trim();
    assert.match(first.stderr, new RegExp(`^submitted 1 item as check ${checkId}; follow it with: conncheck watch ${checkId}\\n$`));

    const again = await cli(['submit', file, '--idempotency-key', `key-${prefix}`]);
    assert.equal(again.code, 0, again.stderr);
    assert.equal(again.stdout.trim(), checkId, 'a retry with the same key answers the first task');
    assert.match(again.stderr, /an earlier submission with this Idempotency-Key/);

    const watched = await cli(['watch', checkId, '--json']);
    assert.equal(watched.code, 0, watched.stderr);
    const task = JSON.parse(watched.stdout);
    assert.equal(task.status, 'Succeeded');
    assert.deepEqual(
      task.check_items.map((i: any) => [i.id, i.status]),
      [[`127.0.0.1:${listenPort}`, 'success']],
    );

    const got = await cli(['get', checkId]);
    assert.equal(got.code, 0, got.stderr);
    assert.match(got.stdout, new RegExp(`^check ${checkId}: Succeeded — `));
    assert.match(got.stdout, new RegExp(`^0  127\\.0\\.0\\.1:${listenPort}  success  tcp 127\\.0\\.0\\.1:${listenPort}  +[\\d.]+$`, 'm'));

    const listed = await cli(['list', '--status', 'Succeeded', '--json']);
    assert.equal(listed.code, 0, listed.stderr);
    assert.ok(JSON.parse(listed.stdout).checks.some((c: any) => c.check_id === checkId));
    const table = await cli(['list', '--limit', '100']);
    assert.match(table.stdout, /^check_id +status +type +items +failed +created_at$/m);
    assert.match(table.stdout, new RegExp(`^${checkId}  Succeeded  BatchConnection  1 +0 +\\S+Z$`, 'm'));
  });

  it('submit - --wait without a terminal: a line per item, the headline, the failed items with hints; exit 1', async () => {
    const targets = [`127.0.0.1:${listenPort}`, `127.0.0.1:${closedPort}`, 'x.invalid:5432'].join('\n');
    const ran = await cli(['submit', '-', '--wait'], `${targets}\n`);
    assert.equal(ran.code, 1, ran.stderr);
    assert.equal(ran.stderr, '');
    const lines = ran.stdout.split('\n');
    // The three item lines come in the order the items end; each names its counter, status, id, target and code.
    const itemLines = lines.slice(0, 3).map((line) => line.replace(/^\[\d\/3\] /, ''));
    assert.deepEqual(
      lines
        .slice(0, 3)
        .map((line) => line.slice(0, 6))
        .sort(),
      ['[1/3] ', '[2/3] ', '[3/3] '],
    );
    const expected = [
      new RegExp(`^success  127\\.0\\.0\\.1:${listenPort}  tcp 127\\.0\\.0\\.1:${listenPort}  [\\d.]+ ms$`),
      new RegExp(`^failed   127\\.0\\.0\\.1:${closedPort}  tcp 127\\.0\\.0\\.1:${closedPort}  CONNECTION_REFUSED$`),
      /^failed {3}x\.invalid:5432 {2}tcp x\.invalid:5432 {2}DNS_RESOLUTION_FAILED$/,
    ];
    for (const pattern of expected) assert.equal(itemLines.filter((line) => pattern.test(line)).length, 1, `${pattern} in\n${ran.stdout}`);
    assert.match(lines[3]!, /^check [0-9a-f-]{36}: Failed — 2 of 3 items failed$/);
    assert.equal(lines[4], '');
    assert.equal(lines[5], '2 items did not succeed:');
    assert.match(lines[6]!, /^id +target +error_code +hint$/);
    assert.match(
      lines[7]!,
      new RegExp(`^127\\.0\\.0\\.1:${closedPort} +tcp 127\\.0\\.0\\.1:${closedPort} +CONNECTION_REFUSED +${escape(itemErrorHints.CONNECTION_REFUSED)}$`),
    );
    assert.match(lines[8]!, new RegExp(`^x\\.invalid:5432 +tcp x\\.invalid:5432 +DNS_RESOLUTION_FAILED +${escape(itemErrorHints.DNS_RESOLUTION_FAILED)}$`));
    assert.deepEqual(lines.slice(9), ['']);
    // The id column lines up: every row's target starts where the header's does.
    const column = lines[6]!.indexOf('target');
    for (const row of lines.slice(7, 9)) assert.equal(row.indexOf('tcp '), column, row);
  });

  it('--wait --json prints the final task only; --verbose adds error_msg', async () => {
    const ran = await cli(['submit', '-', '--wait', '--json'], `127.0.0.1:${closedPort}\n`);
    assert.equal(ran.code, 1, ran.stderr);
    const task = JSON.parse(ran.stdout);
    assert.equal(task.status, 'Failed');
    assert.equal(task.check_items[0].error_code, 'CONNECTION_REFUSED');
    const verbose = await cli(['watch', task.check_id, '-v']);
    assert.equal(verbose.code, 1);
    assert.match(verbose.stdout, /^id +target +error_code +hint +error_msg$/m);
    assert.match(verbose.stdout, new RegExp(`connect to 127\\.0\\.0\\.1:${closedPort}: connection refused \\(ECONNREFUSED\\)$`, 'm'));
  });

  it('maps database URLs to real checks: URL-decoded credentials, sslmode and a CA file, ids without passwords', async () => {
    const { mariadb, postgresql, tls } = services;
    const user = mariadb.users.main;
    const pg = postgresql.users.scram;
    const lines = [
      `mysql://${encodeURIComponent(user.user)}:${encodeURIComponent(user.password)}@127.0.0.1:${mariadb.port}/${mariadb.database}`,
      `mysql://${encodeURIComponent(user.user)}:not%40the%3Apassword@127.0.0.1:${mariadb.port}/${mariadb.database}`,
      `postgresql://${encodeURIComponent(pg.user)}:${encodeURIComponent(pg.password)}@localhost:${postgresql.port}/${postgresql.database}?sslmode=verify-full&sslrootcert=${tls.ca.pem}`,
    ];
    const ran = await cli(['submit', '-', '--wait', '--json'], lines.join('\n'));
    assert.equal(ran.code, 1, ran.stderr);
    const task = JSON.parse(ran.stdout);
    const byIndex = task.check_items.sort((a: any, b: any) => a.index - b.index);
    assert.deepEqual(
      byIndex.map((i: any) => [i.status, i.error_code]),
      [
        ['success', null],
        ['failed', 'AUTH_FAILED'],
        ['success', null],
      ],
    );
    assert.equal(byIndex[0].id, `mysql://${user.user}@127.0.0.1:${mariadb.port}/${mariadb.database}`);
    assert.equal(byIndex[2].target.ssl_mode, 'verify-full');
    assert.ok(byIndex[2].tls, 'the PostgreSQL item was checked over TLS');
    assert.ok(!ran.stdout.includes(user.password) && !ran.stdout.includes(pg.password), 'no password in the output');
  });

  it('cancel ends a running task; watch then exits 1 with the canceled items', async () => {
    const file = join(dir, 'slow.json');
    writeFileSync(
      file,
      JSON.stringify({ jobs: [{ id: 'silent', db_type: 'mysql', ip: '127.0.0.1', db_port: silentPort, db_user: 'u', db_password: 'p', timeout_ms: 60_000 }] }),
    );
    const submitted = await cli(['submit', file]);
    assert.equal(submitted.code, 0, submitted.stderr);
    const checkId = submitted.stdout.trim();
    const canceled = await cli(['cancel', checkId]);
    assert.equal(canceled.code, 0, canceled.stderr);
    assert.match(canceled.stdout, new RegExp(`^check ${checkId}: Canceled`));
    const watched = await cli(['watch', checkId]);
    assert.equal(watched.code, 1, 'a canceled task counts as failed');
    assert.match(watched.stdout, /^\[1\/1\] canceled +silent {2}mysql 127\.0\.0\.1:\d+ {2}CANCELED$/m);
    assert.match(watched.stdout, /^silent +mysql 127\.0\.0\.1:\d+ +CANCELED +/m);
    const again = await cli(['cancel', checkId]);
    assert.equal(again.code, 2);
    assert.match(again.stderr, /^conncheck: DELETE \/v1\/cli-project\/checks\/\S+: 409 CC\.ALREADY_FINISHED: check \S+ already ended as Canceled\n$/);
  });

  it('on a pseudo-terminal: a cli-progress bar, then a boxed table of the failed items', async () => {
    const file = join(dir, 'tty.json');
    // Items that end about a second apart, so the bar is drawn while the task runs, not only at the end.
    writeFileSync(
      file,
      JSON.stringify({
        jobs: [
          { id: 'listening', db_type: 'tcp', ip: '127.0.0.1', db_port: listenPort },
          { id: 'silent-1s', db_type: 'mysql', ip: '127.0.0.1', db_port: silentPort, db_user: 'u', db_password: 'p', timeout_ms: 1000 },
          { id: 'silent-2s', db_type: 'mysql', ip: '127.0.0.1', db_port: silentPort, db_user: 'u', db_password: 'p', timeout_ms: 2000 },
        ],
      }),
    );
    // util-linux `script` gives the command a pseudo-terminal (-e: its exit code; -f: flush; -q: no banner).
    const ran = await run('script', ['-qfec', `stty cols 140 rows 50; ${BIN} submit --wait ${file}`, '/dev/null'], { ...env, SHELL: '/bin/sh', TERM: 'xterm' });
    assert.equal(ran.code, 1, ran.stdout + ran.stderr);
    const screen = ran.stdout;
    // cli-progress's shades_classic preset and our format, redrawn in place.
    assert.match(screen, /█+░* \d+% \| \d\/3 items \| \d failed \| (Pending|Running)/, 'the bar while the task runs');
    assert.match(screen, /█{10,} 100% \| 3\/3 items \| 2 failed \| Failed/, 'the bar at the end');
    assert.ok(screen.includes('\u001b[?25l'), 'the cursor is hidden while the bar draws');
    const end = screen.lastIndexOf('100%');
    const rest = screen.slice(end);
    assert.match(rest, /check [0-9a-f-]{36}: Failed — 2 of 3 items failed/);
    assert.match(rest, /┌─+┬/, 'a boxed table follows the bar');
    assert.match(rest, /│ id +│ target +│ error_code +│ hint +│/);
    assert.match(rest, /│ silent-1s +│ mysql 127\.0\.0\.1:\d+ +│ TIMEOUT +│ The connection was/);
    assert.ok(!rest.includes('listening'), 'the item that succeeded is not in the table');
  });

  it('usage errors and API errors exit 2 with one line on stderr', async () => {
    const missing = await cli(['submit']);
    assert.equal(missing.code, 2);
    assert.match(missing.stderr, /missing required argument 'file'/);

    const badStatus = await cli(['list', '--status', 'Done']);
    assert.equal(badStatus.code, 2);
    assert.match(badStatus.stderr, /Allowed choices are Pending, Running, Succeeded, Failed, Canceled/);

    const badLine = await cli(['submit', '-'], `127.0.0.1:${listenPort}\nnot a target\n`);
    assert.equal(badLine.code, 2);
    assert.equal(badLine.stderr, 'conncheck: line 2: "not a target" is neither host:port nor a URL (tcp://, mysql://, postgres://, mongodb://, kafka://)\n');

    // The API refuses the third line; its `jobs[2]` is named by line (line 1 is a comment).
    const refused = await cli(['submit', '-'], `# x\n127.0.0.1:${listenPort}\n127.0.0.1:${listenPort}\n127.0.0.1:99999\n`);
    assert.equal(refused.code, 2);
    assert.match(
      refused.stderr,
      /^conncheck: POST \/v3\/cli-project\/jobs\/batch-connection: 400 CC\.INVALID_PARAMETER: jobs\[2\] \(line 4\)\.ip: port 99999 .*out of range/,
    );

    const badToken = await cli(['list', '--project', PROJECT], undefined, { CONNCHECK_TOKEN: 'not-a-token-0123456789' });
    assert.equal(badToken.code, 2);
    assert.equal(badToken.stderr, `conncheck: GET /v1/${PROJECT}/checks: 401 CC.UNAUTHORIZED: X-Auth-Token is not valid\n`);

    const otherProject = await cli(['list', '--project', 'not-mine']);
    assert.equal(otherProject.code, 2);
    assert.match(otherProject.stderr, /403 CC\.FORBIDDEN: this token may not use project not-mine/);

    const twoProjects = await cli(['list'], undefined, { CONNCHECK_TOKEN: TWO_PROJECTS_TOKEN });
    assert.equal(twoProjects.code, 2);
    assert.equal(twoProjects.stderr, `conncheck: name a project with --project or CONNCHECK_PROJECT (the token may use ${PROJECT}, other)\n`);

    const unknown = await cli(['get', 'no-such-check']);
    assert.equal(unknown.code, 2);
    assert.match(unknown.stderr, /404 CC\.NOT_FOUND: no check no-such-check in this project/);

    const down = await cli(['list'], undefined, { CONNCHECK_URL: `http://127.0.0.1:${closedPort}`, CONNCHECK_PROJECT: PROJECT });
    assert.equal(down.code, 2);
    assert.equal(down.stderr, `conncheck: GET http://127.0.0.1:${closedPort}/v1/${PROJECT}/checks: cannot connect (ECONNREFUSED)\n`);
  });
});

describe('submit input: target lines and URLs', () => {
  it('maps each form to the batch job fields', () => {
    assert.deepEqual(parseTarget('db.internal:5432'), { id: 'db.internal:5432', db_type: 'tcp', ip: 'db.internal:5432' });
    assert.deepEqual(parseTarget('[::1]:80'), { id: '[::1]:80', db_type: 'tcp', ip: '[::1]:80' });
    assert.deepEqual(parseTarget('tcp://h:1'), { id: 'tcp://h:1', db_type: 'tcp', ip: 'h:1' });
    assert.deepEqual(parseTarget('mysql://app:p%40ss%3Aw0rd@db:3306/shop'), {
      id: 'mysql://app@db:3306/shop',
      db_type: 'mysql',
      ip: 'db:3306',
      db_user: 'app',
      db_password: 'p@ss:w0rd',
      db_name: 'shop',
    });
    assert.deepEqual(parseTarget('postgres://u:p@h:5432/d?sslmode=verify-full'), {
      id: 'postgres://u@h:5432/d?sslmode=verify-full',
      db_type: 'postgresql',
      ip: 'h:5432',
      db_user: 'u',
      db_password: 'p',
      db_name: 'd',
      ssl_link: true,
      ssl_mode: 'verify-full',
    });
    assert.deepEqual(parseTarget('mongodb://root:pw@h1:27017,h2:27017/admin?replicaSet=rs0'), {
      id: 'mongodb://root@h1:27017,h2:27017/admin?replicaSet=rs0',
      db_type: 'mongodb',
      ip: 'h1:27017,h2:27017',
      db_user: 'root',
      db_password: 'pw',
      db_name: 'admin',
    });
    assert.deepEqual(parseTarget('mongodb://h1'), { id: 'mongodb://h1', db_type: 'mongodb', ip: 'h1' });
    assert.deepEqual(parseTarget('kafka://k1:9092,k2:9092'), { id: 'kafka://k1:9092,k2:9092', db_type: 'kafka', ip: 'k1:9092,k2:9092' });
    assert.deepEqual(parseTarget('kafka://app:pw@k1:9093?security.protocol=SASL_SSL&sasl.mechanism=scram-sha-512'), {
      id: 'kafka://app@k1:9093?security.protocol=SASL_SSL&sasl.mechanism=scram-sha-512',
      db_type: 'kafka',
      ip: 'k1:9093',
      db_user: 'app',
      db_password: 'pw',
      kafka_security_config: { type: 'SASL_SSL', sasl_mechanism: 'SCRAM-SHA-512' },
    });
    assert.deepEqual(parseTarget('mysql://root@h/x?ssl-mode=VERIFY_IDENTITY'), {
      id: 'mysql://root@h/x?ssl-mode=VERIFY_IDENTITY',
      db_type: 'mysql',
      ip: 'h',
      db_user: 'root',
      db_password: '',
      db_name: 'x',
      ssl_link: true,
      ssl_mode: 'verify-full',
    });
  });

  it('reads a Kafka truststore file into the job', () => {
    const dir = mkdtempSync(join(tmpdir(), 'conncheck-cli-parse-'));
    try {
      writeFileSync(join(dir, 'ca.pem'), 'not really a PEM');
      const job = parseTarget(`kafka://app:pw@k:9093?security.protocol=SASL_SSL&sasl.mechanism=PLAIN&ssl.truststore.location=${join(dir, 'ca.pem')}`);
      assert.deepEqual(job.kafka_security_config, {
        type: 'SASL_SSL',
        sasl_mechanism: 'PLAIN',
        trust_store_key: Buffer.from('not really a PEM').toString('base64'),
        trust_store_key_name: 'ca.pem',
      });
      assert.throws(
        () => parseTarget(`kafka://k:9092?security.protocol=PLAINTEXT&ssl.truststore.location=${join(dir, 'ca.pem')}`),
        /needs security\.protocol SSL or SASL_SSL/,
      );
      assert.throws(
        () => parseTarget(`kafka://k:9093?security.protocol=SSL&ssl.truststore.location=${join(dir, 'nope.pem')}`),
        /cannot read the truststore .*nope\.pem: ENOENT/,
      );
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('refuses what it cannot map, saying why', () => {
    const refusal = (line: string) => {
      try {
        parseTarget(line);
      } catch (err) {
        return (err as Error).message;
      }
      return 'accepted';
    };
    assert.match(refusal('db.internal'), /neither host:port nor a URL/);
    assert.match(refusal('redis://h:6379'), /unknown scheme "redis:\/\/"/);
    assert.match(refusal('mongodb+srv://c.example.net'), /SRV/);
    assert.match(refusal('postgres://h:5432/d'), /needs a user/);
    assert.match(refusal('postgres://u:p@h/d?sslmode=prefer'), /may or may not use TLS/);
    assert.match(refusal('postgres://u:p@h/d?connect_timeout=3'), /unknown parameter connect_timeout/);
    assert.match(refusal('mysql://u:%zz@h'), /bad %-escape/);
    assert.match(refusal('kafka://u:p@k:9092'), /needs \?security\.protocol/);
    assert.match(refusal('tcp://h'), /has no port/);
  });

  it('reads a JSON batch body as it is, and a list with comments and line numbers', () => {
    const body = { jobs: [{ id: 'a', db_type: 'tcp', ip: 'h', db_port: 1 }] };
    assert.deepEqual(parseInput(JSON.stringify(body)), { body, lines: [] });
    const list = parseInput('# comment\n\nh:1\r\n  mysql://u@h/d  \n');
    assert.deepEqual(list.lines, [3, 4]);
    assert.deepEqual(
      list.body.jobs.map((j) => j.id),
      ['h:1', 'mysql://u@h/d'],
    );
    assert.throws(() => parseInput('{"jobs": []}'), /no "jobs" array/);
    assert.throws(() => parseInput('# only\n'), /no targets/);
  });
});
