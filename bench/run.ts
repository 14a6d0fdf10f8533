// `npm run bench`: conncheck against bare baselines measured in the same run, on the same Redis and servers.
//  1. throughput: a 2,000-item tcp batch, submit → all terminal, vs bare BullMQ doing the same TCP connects one
//     job per item at the same concurrency. Target: ratio ≥ 1.0.
//  2. single-check overhead: one MySQL item, submit → terminal (polled over HTTP), vs a bare mysql2
//     connect + ping + end. Target: median overhead ≤ 5 ms.
// Prints the figures and the ratios; exits 0 either way (machines are noisy: targets are read, not asserted).

import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { type AddressInfo, connect, createServer } from 'node:net';
import { performance } from 'node:perf_hooks';
import { Queue, Worker } from 'bullmq';
import mysql from 'mysql2/promise';
import { SecretBox, createLogger, loadConfig } from '@conncheck/core';
import { startApi } from '@conncheck/api';
import { startWorker } from '@conncheck/worker';
import { createRedis } from '@conncheck/store';
import { deleteKeys } from '@conncheck/test/harness';
import { loadServices } from '@conncheck/test/services';

const CONCURRENCY = Number(process.env.BENCH_CONCURRENCY ?? 50);
const ITEMS = Number(process.env.BENCH_ITEMS ?? 2000);
const SINGLE_RUNS = Number(process.env.BENCH_SINGLE_RUNS ?? 100);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 7);

// `npm run bench` starts only these two (CONNCHECK_SERVICES): idle servers would only add noise.
const services = loadServices(['redis', 'mariadb']);
const logger = createLogger('silent', 'bench');
const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
};
const fmt = (n: number, digits = 1) => n.toFixed(digits);

// A TCP target that accepts and closes, as a reachable port does. It runs in its own process, as a real server
// would: in this process its accept loop would wait on the event loop, the kernel's accept queue would overflow
// and dropped SYNs would cost a 1 s retransmit, measuring the bench instead of the system.
const target = spawn(
  process.execPath,
  ['-e', "const s=require('net').createServer(c=>c.end());s.listen({port:0,host:'127.0.0.1',backlog:4096},()=>console.log(s.address().port))"],
  { stdio: ['ignore', 'pipe', 'inherit'] },
);
const targetPort = await new Promise<number>((resolve) => target.stdout!.once('data', (d: Buffer) => resolve(Number(String(d).trim()))));

function tcpConnect(port: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host: '127.0.0.1', port }, () => {
      socket.destroy();
      resolve();
    });
    socket.once('error', reject);
  });
}

async function bareBullmq(prefix: string): Promise<number> {
  const connection = createRedis(services.redis.url, 'worker', 'bench-bare');
  await connection.connect();
  const queue = new Queue('bare', { connection, prefix });
  let done = 0;
  let finish: () => void = () => undefined;
  const allDone = new Promise<void>((r) => (finish = r));
  const worker = new Worker('bare', async (job) => tcpConnect(job.data.port as number), { connection, prefix, concurrency: CONCURRENCY });
  worker.on('completed', () => {
    if (++done === ITEMS) finish();
  });
  await worker.waitUntilReady();
  const started = performance.now();
  await queue.addBulk(Array.from({ length: ITEMS }, (_, i) => ({ name: 'tcp', data: { port: targetPort, i }, opts: { removeOnComplete: true } })));
  await allDone;
  const elapsed = performance.now() - started;
  await worker.close();
  await queue.close();
  await deleteKeys(connection, `${prefix}:*`);
  connection.disconnect();
  return ITEMS / (elapsed / 1000);
}

interface System {
  base: string;
  close(): Promise<void>;
  prefix: string;
}

async function startSystem(): Promise<System> {
  const prefix = `bench${randomBytes(3).toString('hex')}`;
  const port = await new Promise<number>((resolve) => {
    const s = createServer();
    s.listen(0, '127.0.0.1', () => {
      const p = (s.address() as AddressInfo).port;
      s.close(() => resolve(p));
    });
  });
  const config = loadConfig({
    REDIS_URL: services.redis.url,
    PORT: String(port),
    CONNCHECK_REDIS_PREFIX: prefix,
    CONNCHECK_WORKER_CONCURRENCY: String(CONCURRENCY),
    CONNCHECK_MAX_ITEMS: String(ITEMS),
    CONNCHECK_MAX_PENDING_ITEMS: String(ITEMS * 10),
  });
  const box = SecretBox.random();
  const worker = await startWorker(config, box, logger);
  const api = await startApi(config, box, logger);
  return {
    base: api.url,
    prefix,
    async close() {
      await api.close();
      await worker.close();
      const redis = createRedis(services.redis.url, 'api', 'bench-cleanup');
      await redis.connect();
      await deleteKeys(redis, `${prefix}:*`);
      redis.disconnect();
    },
  };
}

/** Submits, then waits for the end with one long-polling request (`wait_ms`), as a client would. */
async function submitAndWait(base: string, jobs: unknown[]): Promise<{ ms: number; task: any }> {
  const started = performance.now();
  const res = await fetch(`${base}/v3/bench/jobs/batch-connection`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ jobs }),
  });
  if (res.status !== 202) throw new Error(`submit failed: ${res.status} ${await res.text()}`);
  const { check_id } = (await res.json()) as { check_id: string };
  for (;;) {
    const list = (await (await fetch(`${base}/v1/bench/checks/${check_id}?wait_ms=30000&include_items=false`)).json()) as { finished_at: string | null };
    if (list.finished_at) return { ms: performance.now() - started, task: list };
  }
}

async function conncheckThroughput(system: System): Promise<number> {
  const jobs = Array.from({ length: ITEMS }, (_, i) => ({ id: `tcp-${i}`, db_type: 'tcp', ip: '127.0.0.1', db_port: targetPort }));
  const { ms, task } = await submitAndWait(system.base, jobs);
  if (task.summary.succeeded !== ITEMS) throw new Error(`only ${task.summary.succeeded} of ${ITEMS} items succeeded`);
  return ITEMS / (ms / 1000);
}

async function bareMysql(): Promise<number> {
  const { mariadb } = services;
  const started = performance.now();
  const conn = await mysql.createConnection({ host: mariadb.host, port: mariadb.port, user: mariadb.users.main.user, password: mariadb.users.main.password });
  await conn.ping();
  await conn.end();
  return performance.now() - started;
}

async function conncheckMysql(system: System): Promise<number> {
  const { mariadb } = services;
  const job = { id: 'mysql', db_type: 'mysql', ip: mariadb.host, db_port: mariadb.port, db_user: mariadb.users.main.user, db_password: mariadb.users.main.password };
  const { ms, task } = await submitAndWait(system.base, [job]);
  if (task.summary.succeeded !== 1) throw new Error('the MySQL item failed');
  return ms;
}

console.log(`conncheck bench: ${ITEMS} tcp items at concurrency ${CONCURRENCY}, ${ROUNDS} rounds; ${SINGLE_RUNS} single MySQL checks`);
console.log(`node ${process.version}, redis ${services.redis.url}, mariadb ${services.mariadb.version}`);

const system = await startSystem();
// Warm both paths (JIT, connection pools, Lua script cache) before measuring: one round is not enough for either
// to reach its steady state (seen: the first three bare rounds cost 280, 210 and 150 µs of CPU per item).
for (let i = 0; i < 3; i++) {
  await bareBullmq(`warm${i}${randomBytes(2).toString('hex')}`);
  await conncheckThroughput(system);
}

const bare: number[] = [];
const ours: number[] = [];
const bareCpu: number[] = [];
const oursCpu: number[] = [];
/** Runs a throughput round and records this process's CPU time per item (user + system), a steadier figure than wall time. */
async function cpuOf(round: () => Promise<number>, into: number[]): Promise<number> {
  const before = process.cpuUsage();
  const itemsPerSecond = await round();
  const used = process.cpuUsage(before);
  into.push((used.user + used.system) / ITEMS);
  return itemsPerSecond;
}
for (let round = 0; round < ROUNDS; round++) {
  // Alternate the order so drift in the machine's load hits both sides alike.
  if (round % 2 === 0) {
    bare.push(await cpuOf(() => bareBullmq(`bare${round}${randomBytes(2).toString('hex')}`), bareCpu));
    ours.push(await cpuOf(() => conncheckThroughput(system), oursCpu));
  } else {
    ours.push(await cpuOf(() => conncheckThroughput(system), oursCpu));
    bare.push(await cpuOf(() => bareBullmq(`bare${round}${randomBytes(2).toString('hex')}`), bareCpu));
  }
  console.log(
    `  round ${round + 1}: bare BullMQ ${fmt(bare[round]!, 0)} items/s (${fmt(bareCpu[round]!, 0)} µs CPU/item), ` +
      `conncheck ${fmt(ours[round]!, 0)} items/s (${fmt(oursCpu[round]!, 0)} µs CPU/item)`,
  );
}

const bareSingle: number[] = [];
const oursSingle: number[] = [];
for (let i = 0; i < 5; i++) {
  await bareMysql();
  await conncheckMysql(system);
}
for (let i = 0; i < SINGLE_RUNS; i++) {
  bareSingle.push(await bareMysql());
  oursSingle.push(await conncheckMysql(system));
}
await system.close();
target.kill();

const pct = (xs: number[], p: number) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor(xs.length * p))]!;
const spread = (xs: number[]) => `p10 ${fmt(pct(xs, 0.1), 2)} / p50 ${fmt(pct(xs, 0.5), 2)} / p90 ${fmt(pct(xs, 0.9), 2)} ms`;
// Rounds are paired (bare and conncheck back to back, order alternating), so the ratio is taken per round and its
// median reported: the machine's drift between rounds cancels out within a pair.
const throughputRatio = median(ours.map((o, i) => o / bare[i]!));
const overhead = median(oursSingle) - median(bareSingle);
console.log('');
console.log(`throughput   bare BullMQ median ${fmt(median(bare), 0)} items/s   conncheck median ${fmt(median(ours), 0)} items/s`);
console.log(`             ratio conncheck/bare (median of the per-round ratios) = ${fmt(throughputRatio, 2)}   (target >= 1.00: ${throughputRatio >= 1 ? 'met' : 'NOT met'})`);
console.log(`single MySQL bare mysql2 median ${fmt(median(bareSingle), 2)} ms   conncheck submit→terminal median ${fmt(median(oursSingle), 2)} ms`);
console.log(`             bare ${spread(bareSingle)}; conncheck ${spread(oursSingle)}`);
console.log(`             overhead = ${fmt(overhead, 2)} ms, ratio = ${fmt(median(oursSingle) / median(bareSingle), 2)}   (target overhead <= 5 ms: ${overhead <= 5 ? 'met' : 'NOT met'})`);
process.exit(0);
