// The dashboard in a real browser: Debian's Chromium driven by playwright-core, against the service started with the
// README's `npm start` and a token. A batch submitted through the API appears in the list, its page follows it live to
// its end, its failed items show their code, hint and stages; pools, saved resources, phone width, no console errors.
// Must not: mock the API, or use a browser other than Debian's package (test/services installs it).

import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { type AddressInfo, type Server, type Socket, createServer } from 'node:net';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { type Browser, type Locator, type Page, type Request, chromium } from 'playwright-core';
import { itemErrorHints } from '@conncheck/core';
import { createRedis } from '@conncheck/store';
import { deleteKeys, waitFor } from './lib/harness.js';
import { type Proc, freePort, repoRoot, startScript, waitUntilReady } from './lib/processes.js';
import { type TestServices, loadServices } from './lib/services.js';

/** Debian's package (test/services.d/chromium.mjs installs it); Playwright's own browser downloads are not used. */
const CHROMIUM = '/usr/bin/chromium';
/** The flags this machine's closed network needs (no background connections), as test/SERVICES.md says. */
const CHROMIUM_ARGS = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];
const ARTIFACTS = join(repoRoot, 'test/artifacts');
/** The README's opening picture: this run's task page at 1280 px. */
const README_SCREENSHOT = join(repoRoot, 'docs/dashboard.png');
const PROJECT = 'demo';
const TOKEN = `dashboard-${randomBytes(12).toString('hex')}`;
/** Long enough for the task to be seen running, short enough for the test. */
const SILENT_TIMEOUT_MS = 8000;

/** Polls a locator's text until it matches; the error names what was last seen. */
async function textOf(locator: Locator, pattern: RegExp, timeoutMs = 10_000): Promise<string> {
  let last = '';
  return waitFor(
    async () => {
      last =
        (await locator
          .first()
          .textContent({ timeout: 1000 })
          .catch(() => null)) ?? '';
      return pattern.test(last) ? last : undefined;
    },
    timeoutMs,
    `${pattern} in ${String(locator)} (last seen: ${JSON.stringify(last.slice(0, 200))})`,
  );
}

describe('the dashboard in Chromium', () => {
  let proc: Proc;
  let base: string;
  let browser: Browser;
  let page: Page;
  let checkId: string;
  const prefix = `dash${randomBytes(3).toString('hex')}`;
  const consoleErrors: string[] = [];
  const requests: Request[] = [];
  const servers: Server[] = [];
  const sockets = new Set<Socket>();
  let openPort: number;
  let silentPort: number;
  let refusedPort: number;
  let redisUrl: string | undefined;
  let services: TestServices;

  /** A loopback server: `answer` decides what happens to each connection. */
  async function listen(answer: (socket: Socket) => void): Promise<number> {
    const server = createServer((socket) => {
      sockets.add(socket);
      socket.on('close', () => sockets.delete(socket));
      socket.on('error', () => undefined);
      answer(socket);
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    servers.push(server);
    return (server.address() as AddressInfo).port;
  }

  async function call(method: string, path: string, body?: unknown): Promise<any> {
    const res = await fetch(`${base}${path}`, {
      method,
      headers: { 'x-auth-token': TOKEN, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    const json = await res.json();
    assert.ok(res.ok, `${method} ${path}: ${res.status} ${JSON.stringify(json)}`);
    return json;
  }

  /** Runs a step; when it fails, the page as it was is kept in test/artifacts (git-ignored) beside the error. */
  async function step(name: string, fn: () => Promise<void>): Promise<void> {
    try {
      await fn();
    } catch (err) {
      if (page) {
        mkdirSync(ARTIFACTS, { recursive: true });
        const file = join(ARTIFACTS, `dashboard-${name}.png`);
        await page.screenshot({ path: file, fullPage: true }).catch(() => undefined);
        writeFileSync(join(ARTIFACTS, `dashboard-${name}.txt`), `${page.url()}\n\n${(err as Error).stack}\n\nconsole errors:\n${consoleErrors.join('\n')}\n`);
        (err as Error).message += `\n(screenshot: ${file})`;
      }
      throw err;
    }
  }

  // Browser-side expressions are strings: this project compiles its tests without the DOM's types.
  const noHorizontalScroll = () => page.evaluate<boolean>('document.documentElement.scrollWidth <= window.innerWidth');
  const widthOf = async (locator: Locator): Promise<number[]> =>
    (await Promise.all((await locator.all()).map((element) => element.boundingBox()))).map((box) => box?.width ?? 0);

  before(async () => {
    if (!existsSync(CHROMIUM)) {
      throw new Error(
        `Debian's chromium is not installed (${CHROMIUM} is missing): run the tests through \`npm test\` or ` +
          '`node test/services run -- …`, which install it with apt-get as root, or `apt-get install chromium`',
      );
    }
    services = loadServices(['redis', 'mariadb']);
    redisUrl = services.redis.url;
    openPort = await listen((socket) => socket.end());
    silentPort = await listen(() => undefined); // accepts, never says a word: a MySQL handshake that never comes
    refusedPort = await freePort();

    const port = await freePort();
    base = `http://127.0.0.1:${port}`;
    proc = startScript('start', {
      PORT: String(port),
      REDIS_URL: redisUrl,
      CONNCHECK_REDIS_PREFIX: prefix,
      CONNCHECK_AUTH_TOKENS: `${TOKEN}=${PROJECT},staging`,
      // With tokens, loopback is for tenants to reach only where the operator opens it; the test targets live there.
      CONNCHECK_TARGET_ALLOW: '127.0.0.0/8',
      CONNCHECK_LOG_LEVEL: 'warn',
    });
    await waitUntilReady(base, proc);

    browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: CHROMIUM_ARGS });
    const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
    page = await context.newPage();
    page.on('console', (message) => {
      if (message.type() === 'error') consoleErrors.push(`console: ${message.text()} (${message.location().url})`);
    });
    page.on('pageerror', (error) => consoleErrors.push(`page error: ${error.stack ?? error.message}`));
    page.on('request', (request) => requests.push(request));
  });

  after(async () => {
    await browser?.close();
    if (proc) {
      proc.signal('SIGTERM');
      const code = await Promise.race([proc.exited, new Promise((resolve) => setTimeout(resolve, 10_000, 'still running').unref())]);
      proc.kill();
      assert.equal(code, 0, 'npm start stops cleanly on SIGTERM');
    }
    for (const socket of sockets) socket.destroy();
    await Promise.all(servers.map((server) => new Promise((resolve) => server.close(resolve))));
    if (!redisUrl) return;
    const redis = createRedis(redisUrl, 'api', 'dashboard-cleanup');
    await redis.connect();
    await deleteKeys(redis, `${prefix}:*`);
    redis.disconnect();
  });

  it('asks for the token once, keeps it for the session and lists the projects it covers', () =>
    step('sign-in', async () => {
      await page.goto(`${base}/ui`);
      assert.equal(new URL(page.url()).pathname, '/ui/', '/ui redirects to /ui/');
      await page.getByLabel('Token').fill(TOKEN);
      await page.getByRole('button', { name: 'Continue' }).click();
      const projects = page.locator('.project-list a');
      await projects.first().waitFor();
      assert.deepEqual(await projects.allTextContents(), [PROJECT, 'staging']);
      await projects.filter({ hasText: PROJECT }).click();
      await textOf(page.locator('main'), /No tasks in demo yet/);
      await page.reload();
      await textOf(page.locator('main'), /No tasks in demo yet/);
      assert.equal(await page.getByLabel('Token').count(), 0, 'a reload does not ask again');
    }));

  it('shows a batch submitted through the API, with its full check_id linking to its page', () =>
    step('tasks', async () => {
      const { mariadb, tls } = services;
      const ca = readFileSync(tls.ca.pem);
      const submitted = await call('POST', `/v3/${PROJECT}/jobs/batch-connection`, {
        jobs: [
          {
            id: 'orders-mariadb',
            db_type: 'mysql',
            ip: 'localhost',
            db_port: mariadb.port,
            db_user: mariadb.users.main.user,
            db_password: mariadb.users.main.password,
            db_name: mariadb.database,
            ssl_link: true,
            ssl_cert_key: ca.toString('base64'),
            ssl_cert_check_sum: createHash('sha256').update(ca).digest('hex'),
            ssl_cert_name: 'ca.pem',
          },
          { id: 'api-listener', db_type: 'tcp', ip: '127.0.0.1', db_port: openPort },
          { id: 'closed-port', db_type: 'tcp', ip: '127.0.0.1', db_port: refusedPort },
          { id: 'silent-mysql', db_type: 'mysql', ip: '127.0.0.1', db_port: silentPort, db_user: 'root', db_password: 'secret', timeout_ms: SILENT_TIMEOUT_MS },
        ],
      });
      checkId = submitted.check_id;
      const row = page.locator(`.task-row[data-check-id="${checkId}"]`);
      await row.waitFor({ timeout: 10_000 });
      const link = row.locator('a.check-id');
      assert.equal(await link.textContent(), checkId, 'the whole check_id is shown');
      assert.equal(await link.getAttribute('href'), `#/p/${PROJECT}/checks/${checkId}`);
      await link.click();
    }));

  it('follows the running task live through its event stream to its end', () =>
    step('live', async () => {
      await textOf(page.getByTestId('check-id'), new RegExp(`^${checkId}$`));
      const status = page.getByTestId('task-status');
      const first = await textOf(status, /\w/);
      assert.match(first, /Running|Pending/, 'the task is still running when its page opens');
      await textOf(page.getByTestId('live'), /live/);
      await page.evaluate('window.sameDocument = true');

      await textOf(status, /Failed/, SILENT_TIMEOUT_MS + 10_000);
      assert.equal(await page.evaluate('window.sameDocument'), true, 'updated in place, not reloaded');
      await textOf(page.getByTestId('summary'), /2 succeeded.*2 failed/s);

      const events = requests.filter((r) => new URL(r.url()).pathname === `/v1/${PROJECT}/checks/${checkId}/events`);
      assert.ok(events.length > 0, 'the page followed the events stream');
      for (const request of events) assert.equal(request.headers()['x-auth-token'], TOKEN, 'the stream carries the token as a header');
      assert.deepEqual(
        requests.filter((r) => r.url().includes(TOKEN)).map((r) => r.url()),
        [],
        'the token is never in a URL',
      );
    }));

  it("shows each failed item's error code, its hint and its stages", () =>
    step('items', async () => {
      const refused = page.locator('[data-item-id="closed-port"]');
      await textOf(refused.getByTestId('item-status'), /failed/);
      await textOf(refused.getByTestId('item-error'), /CONNECTION_REFUSED/);
      assert.equal(await refused.getByTestId('hint').textContent(), `What to do: ${itemErrorHints.CONNECTION_REFUSED}`);
      assert.match((await refused.locator('[data-stage="dns"]').textContent()) ?? '', /dns– skipped/, 'an IP address needs no lookup');
      assert.match((await refused.locator('[data-stage="tcp"]').textContent()) ?? '', /tcp✗ failed/);

      const silent = page.locator('[data-item-id="silent-mysql"]');
      await textOf(silent.getByTestId('item-error'), /TIMEOUT/);
      assert.equal(await silent.getByTestId('hint').textContent(), `What to do: ${itemErrorHints.TIMEOUT}`);
      // Drawn to scale: the 8 s wait for a greeting is nearly the whole bar of the task's shared scale.
      const widths = await widthOf(silent.locator('.timeline-bar .segment'));
      const [bar = 0] = await widthOf(silent.locator('.timeline-bar'));
      assert.ok(Math.max(...widths) > bar * 0.9, `one stage spans the bar (${widths.join(', ')} of ${bar})`);

      await textOf(page.locator('[data-item-id="api-listener"]').getByTestId('item-status'), /success/);

      // The database that answered: its version and its TLS report, as the API has them.
      const task = await call('GET', `/v1/${PROJECT}/checks/${checkId}`);
      const db = task.check_items.find((item: { id: string }) => item.id === 'orders-mariadb');
      assert.equal(db.status, 'success', JSON.stringify(db));
      const shown = page.locator('[data-item-id="orders-mariadb"]');
      assert.equal(await shown.getByTestId('server').textContent(), `${db.server.product} ${db.server.version}`);
      const report = (await shown.getByLabel('TLS report').textContent()) ?? '';
      assert.ok(report.includes(db.tls.protocol) && report.includes(db.tls.subject), report);
      assert.match(report, new RegExp(`expires in ${Math.floor(db.tls.days_to_expiry)} days`));
      assert.ok(await noHorizontalScroll());
      // The README's picture is refreshed on request only, so that a test run leaves the work tree as it found it.
      mkdirSync(ARTIFACTS, { recursive: true });
      await page.screenshot({ path: process.env.CONNCHECK_UPDATE_SCREENSHOT === '1' ? README_SCREENSHOT : join(ARTIFACTS, 'dashboard.png'), fullPage: true });
    }));

  it('shows the pools with their live worker, queue depth and oldest wait', () =>
    step('pools', async () => {
      await page.getByRole('link', { name: 'Pools' }).click();
      const pool = page.locator('[data-pool="default"]');
      await textOf(pool, /served/);
      assert.equal(await pool.getByTestId('workers').textContent(), '1');
      assert.equal(await pool.getByTestId('waiting').textContent(), '0');
      assert.equal(await pool.getByTestId('oldest-wait').textContent(), 'none waiting');
    }));

  it('shows the saved connections and VPC channels', () =>
    step('resources', async () => {
      await call('POST', `/v2/${PROJECT}/apigw/instances/default/vpc-channels`, {
        name: 'db-backends',
        port: openPort,
        member_type: 'ip',
        members: [{ host: '127.0.0.1' }],
      });
      await call('POST', `/v2.0/${PROJECT}/datasource/enhanced-connections`, {
        name: 'orders_db',
        destination: { db_type: 'tcp', ip: '127.0.0.1', db_port: openPort },
        queues: ['default'],
      });
      await page.getByRole('link', { name: 'Saved resources' }).click();
      const connection = page.locator('[data-connection="orders_db"]');
      await textOf(connection, /ACTIVE/, 15_000);
      const lastCheck = connection.locator('a.check-id');
      assert.match((await lastCheck.textContent()) ?? '', /^[0-9a-f-]{36}$/, 'the last check links to its task by its full check_id');
      const channel = page.locator('[data-channel="db-backends"]');
      await channel.waitFor();
      await channel.locator('summary').click();
      await textOf(channel, new RegExp(`127\\.0\\.0\\.1:${openPort}`));
    }));

  it('is usable at phone width', () =>
    step('phone', async () => {
      await page.setViewportSize({ width: 390, height: 844 });
      const pages: [string, string][] = [
        [`checks/${checkId}`, '[data-item-id="orders-mariadb"] [aria-label="TLS report"]'],
        ['checks', `.task-row[data-check-id="${checkId}"]`],
        ['pools', '[data-pool="default"] table.workers'],
        ['resources', '[data-channel="db-backends"]'],
      ];
      for (const [path, content] of pages) {
        await page.goto(`${base}/ui/#/p/${PROJECT}/${path}`);
        await page.locator(content).first().waitFor();
        assert.ok(await noHorizontalScroll(), `${path}: nothing wider than the screen`);
      }
      await page.goto(`${base}/ui/#/p/${PROJECT}/checks/${checkId}`);
      const id = page.getByTestId('check-id');
      await textOf(id, new RegExp(`^${checkId}$`));
      const box = await id.boundingBox();
      assert.ok(box && box.x >= 0 && box.x + box.width <= 390, `the check_id fits the screen (${JSON.stringify(box)})`);
      await textOf(page.locator('[data-item-id="closed-port"]').getByTestId('item-error'), /CONNECTION_REFUSED/);
    }));

  it('writes no console errors', () => {
    assert.deepEqual(consoleErrors, []);
  });
});
