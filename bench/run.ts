// `npm run bench`: conncheck measured as a client sees it — from this process, over HTTP, against the service
// started by the README's own npm scripts — each figure beside a bare baseline measured in the same run.
//  1. single check: one MySQL item, submit → `wait_ms` answer, vs bare mysql2 connect + ping + end; with `npm start`
//     and with `start:api` + `start:worker`. Target: median overhead ≤ 3 ms in both.
//  2. throughput: 2,000 tcp items (4 submissions of 500) at concurrency 100, vs bare BullMQ one job per item at the
//     same concurrency, and vs a bare loop of 100 concurrent connect + close. Targets: ≥ 2.0× and ≥ 0.7×.
//  3. submissions: POST of a 1-item batch under autocannon, vs bare Fastify + one BullMQ add. Target: ≥ 0.8×.
//  4. 10,000 MySQL checks in flight against a silent server in one worker process: RSS < 300 MB, every item ended at its
//     deadline, GET p99 < 50 ms during the load.
//  5. cluster: the throughput batch and 2,000 one-item tasks from 50 clients, on one Redis and on the test services'
//     Redis Cluster (3 masters + 3 replicas) in the same run; with 1 and 2 worker processes, Redis CPU per node.
//     Informational: no target (on one machine the cluster's extra cores cannot show; see the measure).
// Every round trip, Redis command and CPU figure is printed too. Exits 0 either way: machines are noisy, targets are
// read, not asserted (a timed unit test would be a coin toss).

import { randomBytes } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import autocannon from 'autocannon';
import { Queue } from 'bullmq';
import mysql from 'mysql2/promise';
import { type RedisClient, StoreKeys, connectRedis, createRedis } from '@conncheck/store';
import type { Cluster, Redis } from 'ioredis';
import { deleteKeys, waitFor } from '@conncheck/test/harness';
import { type Proc, freePort, startScript, waitUntilReady } from '@conncheck/test/processes';
import { loadServices } from '@conncheck/test/services';
import { startChild } from './lib/child.js';
import { call } from './lib/http-client.js';
import { fmt, groupCpu, median, percentile, processCpu, redisCommands, redisCpu, redisRedirections, roundTrips, serviceRss } from './lib/measure.js';

const SINGLE_RUNS = Number(process.env.BENCH_SINGLE_RUNS ?? 60);
const ITEMS = Number(process.env.BENCH_ITEMS ?? 2000);
const CONCURRENCY = Number(process.env.BENCH_CONCURRENCY ?? 100);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 5);
const SUBMIT_SECONDS = Number(process.env.BENCH_SUBMIT_SECONDS ?? 8);
const IN_FLIGHT = Number(process.env.BENCH_IN_FLIGHT ?? 10_000);
const IN_FLIGHT_TIMEOUT_MS = 20_000;

const only = process.env.BENCH_ONLY?.split(',');
const want = (name: string) => !only || only.includes(name);

// `npm run bench` starts only Redis, the Redis Cluster and MariaDB (CONNCHECK_SERVICES): idle servers would only add
// noise. The cluster is needed only by the cluster measure.
const services = loadServices(want('cluster') ? ['redis', 'rediscluster', 'mariadb'] : ['redis', 'mariadb']);
// One Redis (never a cluster here): MONITOR and INFO commandstats are per server.
const redis = createRedis(services.redis.url, 'api', 'bench') as Redis;
await redis.connect();

interface Verdict {
  measure: string;
  baseline: string;
  conncheck: string;
  result: string;
  target: string;
  met: boolean;
  /** A figure to read, with no target: printed as "info", never as met or not. */
  informational?: boolean;
}
const verdicts: Verdict[] = [];

// Services are process groups of their own: however the bench ends, none outlives it.
const startedProcs: Proc[] = [];
process.on('exit', () => {
  for (const p of startedProcs) p.kill();
});
// `timeout` and Ctrl-C stop the bench with a signal, which skips 'exit' handlers unless the signal is handled.
for (const signal of ['SIGINT', 'SIGTERM'] as const) process.once(signal, () => process.exit(130));

// ---------------------------------------------------------------------------------------------------------------
// The service, started as the README starts it

interface Service {
  mode: string;
  base: string;
  prefix: string;
  procs: Proc[];
  worker: Proc | undefined;
  /** Starts one more `start:worker` with the same environment and waits until it takes jobs. */
  addWorker(): Promise<Proc>;
  close(): Promise<void>;
}

/** Waits until `count` workers are in the pools view (a worker registers itself once it takes jobs). */
async function waitForWorkers(base: string, workers: Proc[], count: number): Promise<void> {
  await waitFor(
    async () => {
      for (const worker of workers) if (worker.child.exitCode !== null) throw new Error(`the worker exited: ${worker.output()}`);
      const pools = (await call('GET', `${base}/v1/bench/pools`)).json<{ pools: { workers: unknown[] }[] }>();
      return pools.pools.reduce((sum, p) => sum + p.workers.length, 0) >= count ? true : undefined;
    },
    120_000,
    `${count} worker(s) to join their pool`,
  );
}

/**
 * Starts the service as the README does. `keys` is the connection its keys are deleted with at the end: the bench's
 * one Redis unless `env` points the service at the cluster.
 */
async function startService(
  mode: 'npm start' | 'start:api + start:worker' | 'start:api',
  env: Record<string, string> = {},
  keys: RedisClient = redis,
): Promise<Service> {
  const prefix = `bench${randomBytes(3).toString('hex')}`;
  const port = await freePort();
  const base = `http://127.0.0.1:${port}`;
  const common = {
    REDIS_URL: services.redis.url,
    PORT: String(port),
    CONNCHECK_REDIS_PREFIX: prefix,
    CONNCHECK_SECRET_KEY: randomBytes(32).toString('base64'),
    CONNCHECK_WORKER_CONCURRENCY: String(CONCURRENCY),
    CONNCHECK_MAX_PENDING_ITEMS: '10000000',
    CONNCHECK_RATE_LIMIT_PER_MINUTE: '10000000',
    CONNCHECK_LOG_LEVEL: 'warn',
    ...env,
  };
  const procs: Proc[] = [];
  let worker: Proc | undefined;
  if (mode === 'npm start') {
    procs.push((worker = startScript('start', common)));
  } else {
    procs.push(startScript('start:api', common));
    if (mode === 'start:api + start:worker') procs.push((worker = startScript('start:worker', common)));
  }
  startedProcs.push(...procs);
  await waitUntilReady(base, procs[0]!, 120_000);
  const workers = worker ? [worker] : [];
  if (worker && mode !== 'npm start') await waitForWorkers(base, workers, 1);
  return {
    mode,
    base,
    prefix,
    procs,
    worker,
    async addWorker() {
      const another = startScript('start:worker', common);
      procs.push(another);
      workers.push(another);
      startedProcs.push(another);
      await waitForWorkers(base, workers, workers.length);
      return another;
    },
    async close() {
      for (const p of procs) p.signal('SIGTERM');
      await Promise.race([Promise.all(procs.map((p) => p.exited)), new Promise((r) => setTimeout(r, 10_000))]);
      for (const p of procs) p.kill();
      await deleteKeys(keys, `${prefix}:*`);
    },
  };
}

const serviceCpu = (service: Service): number => service.procs.reduce((sum, p) => sum + groupCpu(p.child.pid!), 0);

async function post(base: string, jobs: unknown[]): Promise<string> {
  const res = await call('POST', `${base}/v3/bench/jobs/batch-connection`, { jobs });
  if (res.status !== 202) throw new Error(`submit failed: ${res.status} ${res.body}`);
  return res.json<{ check_id: string }>().check_id;
}

interface TaskAnswer {
  status: string;
  created_at: string;
  finished_at: string | null;
  summary: { total: number; succeeded: number; failed: number; running: number };
  check_items: { status: string; error_code: string | null; started_at: string | null; finished_at: string | null; duration_ms: number | null }[];
}

/** Long-polls until the task ended, as a client does. */
async function waitEnd(base: string, checkId: string, items = true): Promise<TaskAnswer> {
  for (;;) {
    const task = (await call('GET', `${base}/v1/bench/checks/${checkId}?wait_ms=30000${items ? '' : '&include_items=false'}`)).json<TaskAnswer>();
    if (task.finished_at) return task;
  }
}

// ---------------------------------------------------------------------------------------------------------------
// 1. A single check

const { mariadb } = services;
const mysqlJob = {
  id: 'mysql',
  db_type: 'mysql',
  ip: mariadb.host,
  db_port: mariadb.port,
  db_user: mariadb.users.main.user,
  db_password: mariadb.users.main.password,
};

async function bareMysql(): Promise<number> {
  const started = performance.now();
  const conn = await mysql.createConnection({ host: mariadb.host, port: mariadb.port, user: mariadb.users.main.user, password: mariadb.users.main.password });
  await conn.ping();
  await conn.end();
  return performance.now() - started;
}

interface SingleRun {
  total: number;
  submit: number;
  queued: number;
  probe: number;
  recorded: number;
  answered: number;
}

async function conncheckMysql(service: Service): Promise<SingleRun> {
  const t0 = performance.now();
  const checkId = await post(service.base, [mysqlJob]);
  const t1 = performance.now();
  const task = await waitEnd(service.base, checkId);
  const t2 = performance.now();
  const answeredAt = Date.now();
  const item = task.check_items[0]!;
  if (item.status !== 'success') throw new Error(`the MySQL item failed: ${JSON.stringify(item)}`);
  const created = Date.parse(task.created_at);
  const started = Date.parse(item.started_at!);
  const finished = Date.parse(item.finished_at!);
  return {
    total: t2 - t0,
    submit: t1 - t0,
    queued: started - created,
    probe: item.duration_ms ?? 0,
    recorded: finished - started - (item.duration_ms ?? 0),
    answered: answeredAt - Date.parse(task.finished_at!),
  };
}

async function singleCheck(mode: 'npm start' | 'start:api + start:worker'): Promise<void> {
  const service = await startService(mode);
  try {
    for (let i = 0; i < 10; i++) {
      await bareMysql();
      await conncheckMysql(service);
    }
    const bare: number[] = [];
    const ours: SingleRun[] = [];
    for (let i = 0; i < SINGLE_RUNS; i++) {
      bare.push(await bareMysql());
      ours.push(await conncheckMysql(service));
    }
    // Redis's share: commands per check from its own counters, round trips from MONITOR, each net of what the idle
    // service does in as long a time (heartbeats, stall checks).
    const n = 20;
    const started = performance.now();
    await redis.config('RESETSTAT');
    for (let i = 0; i < n; i++) await conncheckMysql(service);
    const busy = await redisCommands(redis);
    const elapsed = performance.now() - started;
    await redis.config('RESETSTAT');
    await new Promise((r) => setTimeout(r, elapsed));
    const idle = await redisCommands(redis);
    const monitorClient = createRedis(services.redis.url, 'api', 'bench-monitor') as Redis;
    await monitorClient.connect();
    const seen = await roundTrips(monitorClient, async () => {
      for (let i = 0; i < n; i++) await conncheckMysql(service);
    });
    const quiet = await roundTrips(monitorClient, () => new Promise((r) => setTimeout(r, elapsed)));
    monitorClient.disconnect();

    const col = (k: keyof SingleRun) => fmt(median(ours.map((o) => o[k])), 2);
    const overhead = median(ours.map((o) => o.total)) - median(bare);
    console.log(`\n1. single MySQL check, ${mode}: ${SINGLE_RUNS} of each, interleaved`);
    console.log(`   bare mysql2 connect+ping+end   median ${fmt(median(bare), 2)} ms (p90 ${fmt(percentile(bare, 0.9), 2)})`);
    console.log(
      `   conncheck submit → answer      median ${col('total')} ms (p90 ${fmt(
        percentile(
          ours.map((o) => o.total),
          0.9,
        ),
        2,
      )})`,
    );
    console.log(
      `   where it goes (medians, ms): submit round trip ${col('submit')}, created → started ${col('queued')}, probe ${col('probe')}, ` +
        `result recorded ${col('recorded')}, end → answer ${col('answered')}`,
    );
    const perCheck = (k: 'roundTrips' | 'commands' | 'inScripts') => fmt((seen[k] - quiet[k]) / n, 1);
    console.log(
      `   Redis per check (idle service subtracted): ≈ ${perCheck('roundTrips')} round trips (MONITOR bursts) carrying ${perCheck('commands')} commands, ` +
        `which ran ${perCheck('inScripts')} more inside scripts; ${fmt((busy - idle) / n, 1)} commands in all (INFO commandstats)`,
    );
    if (process.env.BENCH_VERBOSE) console.log(`   commands seen: ${JSON.stringify(seen.byCommand)}`);
    verdicts.push({
      measure: `single check (${mode})`,
      baseline: `${fmt(median(bare), 2)} ms`,
      conncheck: `${col('total')} ms`,
      result: `+${fmt(overhead, 2)} ms`,
      target: '≤ +3 ms',
      met: overhead <= 3,
    });
  } finally {
    await service.close();
  }
}

// ---------------------------------------------------------------------------------------------------------------
// 2. Throughput

async function throughput(): Promise<void> {
  const { child: acceptTarget, ready } = await startChild('target', ['accept']);
  const targetPort = ready.port as number;
  const service = await startService('start:api + start:worker');
  const barePrefix = `benchbare${randomBytes(3).toString('hex')}`;
  const { child: bareWorker } = await startChild('bare-bullmq', [services.redis.url, barePrefix, String(CONCURRENCY), String(targetPort)]);
  const bareQueue = new Queue('bare', { connection: redis, prefix: barePrefix });
  const { child: loop } = await startChild('connect-loop', [String(CONCURRENCY), String(targetPort)]);
  const submissions = 4;
  const perSubmission = Math.ceil(ITEMS / submissions);

  const ours = async (): Promise<{ rate: number; cpu: number; commands: number }> => {
    await redis.config('RESETSTAT');
    const cpu0 = serviceCpu(service);
    const t0 = performance.now();
    const ids = await Promise.all(
      Array.from({ length: submissions }, (_, s) =>
        post(
          service.base,
          Array.from({ length: perSubmission }, (_, i) => ({ id: `t${s}-${i}`, db_type: 'tcp', ip: '127.0.0.1', db_port: targetPort })),
        ),
      ),
    );
    const tasks = await Promise.all(ids.map((id) => waitEnd(service.base, id, false)));
    const ms = performance.now() - t0;
    for (const task of tasks)
      if (task.summary.succeeded !== perSubmission) throw new Error(`only ${task.summary.succeeded} of ${perSubmission} items succeeded`);
    const total = perSubmission * submissions;
    return { rate: total / (ms / 1000), cpu: (serviceCpu(service) - cpu0) / total, commands: (await redisCommands(redis)) / total };
  };
  const bare = async (): Promise<{ rate: number; cpu: number; commands: number }> => {
    await redis.config('RESETSTAT');
    const cpu0 = processCpu(bareWorker.proc.pid!);
    bareWorker.send({ run: ITEMS });
    const t0 = performance.now();
    await Promise.all(
      Array.from({ length: submissions }, (_, s) =>
        bareQueue.addBulk(
          Array.from({ length: perSubmission }, (_, i) => ({ name: 'tcp', data: { i: s * perSubmission + i }, opts: { removeOnComplete: true } })),
        ),
      ),
    );
    await bareWorker.next();
    const ms = performance.now() - t0;
    return { rate: ITEMS / (ms / 1000), cpu: (processCpu(bareWorker.proc.pid!) - cpu0) / ITEMS, commands: (await redisCommands(redis)) / ITEMS };
  };
  const connectLoop = async (): Promise<number> => {
    loop.send({ run: ITEMS });
    const { ms } = await loop.next<{ ms: number }>();
    return ITEMS / (ms / 1000);
  };

  try {
    for (let i = 0; i < 2; i++) {
      await bare();
      await ours();
      await connectLoop();
    }
    const rows: { bare: Awaited<ReturnType<typeof bare>>; ours: Awaited<ReturnType<typeof ours>>; loop: number }[] = [];
    console.log(
      `\n2. throughput: ${ITEMS} tcp items (${submissions} submissions of ${perSubmission}), concurrency ${CONCURRENCY}, start:api + start:worker; ${ROUNDS} rounds`,
    );
    for (let round = 0; round < ROUNDS; round++) {
      // Alternate the order so drift in the machine's load hits every side alike.
      const row =
        round % 2 === 0
          ? { bare: await bare(), ours: await ours(), loop: await connectLoop() }
          : { loop: await connectLoop(), ours: await ours(), bare: await bare() };
      rows.push(row);
      console.log(
        `   round ${round + 1}: connect loop ${fmt(row.loop, 0)}/s; bare BullMQ ${fmt(row.bare.rate, 0)} items/s (${fmt(row.bare.cpu, 0)} µs CPU, ${fmt(row.bare.commands, 1)} Redis commands per item); ` +
          `conncheck ${fmt(row.ours.rate, 0)} items/s (${fmt(row.ours.cpu, 0)} µs CPU, ${fmt(row.ours.commands, 1)} Redis commands per item)`,
      );
    }
    // Rounds are paired, so the ratio is taken per round and its median reported: drift between rounds cancels out.
    const vsBare = median(rows.map((r) => r.ours.rate / r.bare.rate));
    const vsLoop = median(rows.map((r) => r.ours.rate / r.loop));
    verdicts.push({
      measure: 'throughput vs bare BullMQ',
      baseline: `${fmt(median(rows.map((r) => r.bare.rate)), 0)} items/s`,
      conncheck: `${fmt(median(rows.map((r) => r.ours.rate)), 0)} items/s`,
      result: `${fmt(vsBare, 2)}×`,
      target: '≥ 2.0×',
      met: vsBare >= 2,
    });
    verdicts.push({
      measure: 'throughput vs bare connect loop',
      baseline: `${fmt(median(rows.map((r) => r.loop)), 0)} /s`,
      conncheck: `${fmt(median(rows.map((r) => r.ours.rate)), 0)} items/s`,
      result: `${fmt(vsLoop, 2)}×`,
      target: '≥ 0.7×',
      met: vsLoop >= 0.7,
    });
  } finally {
    await service.close();
    bareWorker.stop();
    loop.stop();
    acceptTarget.stop();
    await bareQueue.close();
    await deleteKeys(redis, `${barePrefix}:*`);
  }
}

// ---------------------------------------------------------------------------------------------------------------
// 3. Submissions

async function submissions(): Promise<void> {
  const service = await startService('start:api');
  const barePrefix = `benchsub${randomBytes(3).toString('hex')}`;
  const { child: bareApi, ready } = await startChild('bare-submit', [services.redis.url, barePrefix]);
  const body = JSON.stringify({ jobs: [{ id: 'one', db_type: 'tcp', ip: '127.0.0.1', db_port: 9 }] });
  const load = async (url: string, seconds: number): Promise<{ rate: number; p99: number; non2xx: number }> => {
    const result = await autocannon({ url, method: 'POST', headers: { 'content-type': 'application/json' }, body, connections: 10, duration: seconds });
    return { rate: result.requests.average, p99: result.latency.p99, non2xx: result.non2xx };
  };
  const oursUrl = `${service.base}/v3/bench/jobs/batch-connection`;
  const bareUrl = `http://127.0.0.1:${ready.port as number}/submit`;
  try {
    await load(bareUrl, 2);
    await load(oursUrl, 2);
    const rows: { ours: Awaited<ReturnType<typeof load>>; bare: Awaited<ReturnType<typeof load>> }[] = [];
    console.log(`\n3. submissions: POST of a 1-item batch, autocannon with 10 connections, ${SUBMIT_SECONDS} s per side, start:api alone; 2 rounds`);
    for (let round = 0; round < 2; round++) {
      const row =
        round === 0
          ? { bare: await load(bareUrl, SUBMIT_SECONDS), ours: await load(oursUrl, SUBMIT_SECONDS) }
          : { ours: await load(oursUrl, SUBMIT_SECONDS), bare: await load(bareUrl, SUBMIT_SECONDS) };
      if (row.ours.non2xx > 0 || row.bare.non2xx > 0) throw new Error(`non-2xx answers under load: conncheck ${row.ours.non2xx}, bare ${row.bare.non2xx}`);
      rows.push(row);
      console.log(
        `   round ${round + 1}: bare Fastify + BullMQ add ${fmt(row.bare.rate, 0)} req/s (p99 ${row.bare.p99} ms); conncheck ${fmt(row.ours.rate, 0)} req/s (p99 ${row.ours.p99} ms)`,
      );
    }
    const ratio = median(rows.map((r) => r.ours.rate / r.bare.rate));
    verdicts.push({
      measure: 'submissions (1-item POST)',
      baseline: `${fmt(median(rows.map((r) => r.bare.rate)), 0)} req/s`,
      conncheck: `${fmt(median(rows.map((r) => r.ours.rate)), 0)} req/s`,
      result: `${fmt(ratio, 2)}×`,
      target: '≥ 0.8×',
      met: ratio >= 0.8,
    });
  } finally {
    await service.close();
    bareApi.stop();
    await deleteKeys(redis, `${barePrefix}:*`);
  }
}

// ---------------------------------------------------------------------------------------------------------------
// 4. 10,000 checks in flight

async function inFlight(): Promise<void> {
  const { child: silent, ready } = await startChild('target', ['silent']);
  const port = ready.port as number;
  const service = await startService('start:api + start:worker', {
    CONNCHECK_WORKER_CONCURRENCY: String(IN_FLIGHT),
    CONNCHECK_MAX_PENDING_ITEMS: String(IN_FLIGHT * 2),
  });
  const batches = Math.ceil(IN_FLIGHT / 1000);
  try {
    const rssBefore = serviceRss(service.worker!.child.pid!);
    const ids: string[] = [];
    for (let b = 0; b < batches; b++) {
      ids.push(
        await post(
          service.base,
          Array.from({ length: Math.min(1000, IN_FLIGHT - b * 1000) }, (_, i) => ({
            id: `s${b}-${i}`,
            db_type: 'mysql',
            ip: '127.0.0.1',
            db_port: port,
            db_user: 'bench',
            db_password: 'bench-password',
            timeout_ms: IN_FLIGHT_TIMEOUT_MS,
          })),
        ),
      );
    }
    let maxRss = rssBefore;
    let maxRunning = 0;
    const latencies: number[] = [];
    let done = false;
    const sampler = (async () => {
      for (let i = 0; !done; i++) {
        maxRss = Math.max(maxRss, serviceRss(service.worker!.child.pid!));
        const t0 = performance.now();
        const task = (await call('GET', `${service.base}/v1/bench/checks/${ids[i % ids.length]}?include_items=false`)).json<TaskAnswer>();
        latencies.push(performance.now() - t0);
        if (i % ids.length === 0) {
          let running = 0;
          for (const id of ids) {
            const res = await call('GET', `${service.base}/v1/bench/checks/${id}?include_items=false`);
            if (res.status !== 200) throw new Error(`GET answered ${res.status}: ${res.body}`);
            running += res.json<TaskAnswer>().summary.running;
          }
          maxRunning = Math.max(maxRunning, running);
        }
        void task;
        await new Promise((r) => setTimeout(r, 20));
      }
    })();
    const tasks = [];
    for (const id of ids) tasks.push(await waitEnd(service.base, id));
    done = true;
    await sampler;
    const items = tasks.flatMap((t) => t.check_items);
    const late = items.filter((i) => i.error_code !== 'TIMEOUT' || Date.parse(i.finished_at!) - Date.parse(i.started_at!) > IN_FLIGHT_TIMEOUT_MS + 1000);
    const spans = items.map((i) => Date.parse(i.finished_at!) - Date.parse(i.started_at!));
    const firstStart = Math.min(...items.map((i) => Date.parse(i.started_at!)));
    const lastStart = Math.max(...items.map((i) => Date.parse(i.started_at!)));
    const p99 = percentile(latencies, 0.99);
    console.log(
      `\n4. ${IN_FLIGHT} MySQL checks against a silent server (it accepts and never sends its greeting), timeout ${IN_FLIGHT_TIMEOUT_MS / 1000} s, one worker process (concurrency ${IN_FLIGHT})`,
    );
    console.log(
      `   most running at once ${maxRunning}; all started within ${fmt((lastStart - firstStart) / 1000, 1)} s; started → finished ${fmt(Math.min(...spans) / 1000, 2)}–${fmt(Math.max(...spans) / 1000, 2)} s`,
    );
    console.log(`   items not ended as TIMEOUT at their deadline (+1 s): ${late.length}`);
    console.log(
      `   worker RSS ${fmt(rssBefore / 2 ** 20, 0)} MB idle, ${fmt(maxRss / 2 ** 20, 0)} MB at most; GET of a task (summary) during the load: p50 ${fmt(percentile(latencies, 0.5), 1)} ms, p99 ${fmt(p99, 1)} ms over ${latencies.length}`,
    );
    verdicts.push({
      measure: `${IN_FLIGHT} in flight: worker RSS`,
      baseline: `${fmt(rssBefore / 2 ** 20, 0)} MB idle`,
      conncheck: `${fmt(maxRss / 2 ** 20, 0)} MB`,
      result: `${fmt(maxRss / 2 ** 20, 0)} MB`,
      target: '< 300 MB',
      met: maxRss < 300 * 2 ** 20,
    });
    verdicts.push({
      measure: `${IN_FLIGHT} in flight: ended at deadline`,
      baseline: '–',
      conncheck: `${items.length - late.length} of ${items.length}`,
      result: `${late.length} late`,
      target: 'all',
      met: late.length === 0 && maxRunning >= IN_FLIGHT * 0.9,
    });
    verdicts.push({
      measure: `${IN_FLIGHT} in flight: GET p99`,
      baseline: '–',
      conncheck: `${fmt(p99, 1)} ms`,
      result: `${fmt(p99, 1)} ms`,
      target: '< 50 ms',
      met: p99 < 50,
    });
  } finally {
    await service.close();
    silent.stop();
  }
}

// ---------------------------------------------------------------------------------------------------------------
// 5. One Redis vs the Redis Cluster
//
// The same service, started the same way (start:api + start:worker), once on the bench's one Redis and once on the
// test services' cluster (3 masters + 3 replicas, CONNCHECK_REDIS_CLUSTER_NODES), driven alike, the two sides
// alternating. Two workloads: the throughput measure's batch (few tasks, many items: the per-item path) and many
// one-item tasks from concurrent clients, each submitting one and waiting for its answer before the next (the per-task
// path: submit, store, enqueue, run, end, answer). Then once more with a second worker process on each side. Redis
// CPU is read from every server (INFO cpu), so the figures show how the load spreads over the masters, and what
// replication costs. Informational: the key layout is the same on one Redis (keys.ts), so the ratio is what the
// cluster itself adds on this machine.

const SMALL_TASKS = Number(process.env.BENCH_SMALL_TASKS ?? 2000);
const CLIENTS = Number(process.env.BENCH_CLIENTS ?? 50);

interface RedisServer {
  port: number;
  conn: Redis;
}

interface Side {
  name: 'one Redis' | 'cluster';
  service: Service;
  /** The servers that take the service's commands: the one Redis, or the cluster's masters. */
  masters: RedisServer[];
  replicas: RedisServer[];
}

/** One run of a workload on one side; every figure but the rate and latency is per unit (item or task). */
interface SideRun {
  rate: number;
  /** Median submit → answer of one task, ms (the one-item tasks only). */
  latency: number;
  /** CPU µs of the service's processes. */
  cpu: number;
  /** Redis commands, on the masters (INFO commandstats). */
  commands: number;
  /** Redis CPU µs, per master. */
  masterCpu: number[];
  /** Redis CPU µs, all replicas together. */
  replicaCpu: number;
  /** MOVED, ASK, TRYAGAIN or CLUSTERDOWN answers, all nodes together (not per unit). */
  redirections: number;
}

type Workload = (base: string) => Promise<{ units: number; latencies: number[] }>;

async function runOn(side: Side, work: Workload): Promise<SideRun> {
  const servers = [...side.masters, ...side.replicas];
  await Promise.all(servers.map((s) => s.conn.config('RESETSTAT')));
  const redisCpu0 = await Promise.all(servers.map((s) => redisCpu(s.conn)));
  const cpu0 = serviceCpu(side.service);
  const t0 = performance.now();
  const { units, latencies } = await work(side.service.base);
  const ms = performance.now() - t0;
  const cpu = (serviceCpu(side.service) - cpu0) / units;
  const perServer = (await Promise.all(servers.map((s) => redisCpu(s.conn)))).map((c, i) => (c - redisCpu0[i]!) / units);
  const commands = await Promise.all(side.masters.map((s) => redisCommands(s.conn)));
  const redirections = await Promise.all(servers.map((s) => redisRedirections(s.conn)));
  return {
    rate: units / (ms / 1000),
    latency: median(latencies),
    cpu,
    commands: commands.reduce((a, b) => a + b, 0) / units,
    masterCpu: perServer.slice(0, side.masters.length),
    replicaCpu: perServer.slice(side.masters.length).reduce((a, b) => a + b, 0),
    redirections: redirections.reduce((a, b) => a + b, 0),
  };
}

async function clusterMeasure(): Promise<void> {
  const { rediscluster } = services;
  const { child: acceptTarget, ready } = await startChild('target', ['accept']);
  const targetPort = ready.port as number;
  const tcpItem = (id: string) => ({ id, db_type: 'tcp', ip: '127.0.0.1', db_port: targetPort });
  const submissions = 4;
  const perSubmission = Math.ceil(ITEMS / submissions);
  const batch: Workload = async (base) => {
    const ids = await Promise.all(
      Array.from({ length: submissions }, (_, s) =>
        post(
          base,
          Array.from({ length: perSubmission }, (_, i) => tcpItem(`t${s}-${i}`)),
        ),
      ),
    );
    const tasks = await Promise.all(ids.map((id) => waitEnd(base, id, false)));
    for (const task of tasks)
      if (task.summary.succeeded !== perSubmission) throw new Error(`only ${task.summary.succeeded} of ${perSubmission} items succeeded`);
    return { units: perSubmission * submissions, latencies: [] };
  };
  const oneItemTasks: Workload = async (base) => {
    const latencies: number[] = [];
    let next = 0;
    await Promise.all(
      Array.from({ length: CLIENTS }, async () => {
        while (next++ < SMALL_TASKS) {
          const t0 = performance.now();
          const task = await waitEnd(base, await post(base, [tcpItem('one')]), false);
          if (task.summary.succeeded !== 1) throw new Error(`a one-item task ended ${task.status}`);
          latencies.push(performance.now() - t0);
        }
      }),
    );
    return { units: SMALL_TASKS, latencies };
  };

  // The bench's own connection to the cluster (for deleting the service's keys), and one to each node: INFO and
  // CONFIG RESETSTAT are per server. Roles as they are now: a failover test may have swapped them.
  const clusterTarget = { url: 'redis://127.0.0.1', clusterNodes: rediscluster.seeds.split(',') };
  const clusterClient = createRedis(clusterTarget, 'api', 'bench');
  await connectRedis(clusterClient, clusterTarget);
  const nodes = await Promise.all(
    rediscluster.nodes.map(async (node) => {
      const conn = createRedis(`redis://${node.host}:${node.port}`, 'api', 'bench-node') as Redis;
      await conn.connect();
      const role = /^role:(\w+)/m.exec(await conn.info('replication'))?.[1];
      return { port: node.port, conn, role };
    }),
  );
  const masters = nodes.filter((n) => n.role === 'master').sort((a, b) => a.port - b.port);
  const replicas = nodes.filter((n) => n.role !== 'master');

  const sides: Side[] = [];
  try {
    sides.push({
      name: 'one Redis',
      service: await startService('start:api + start:worker'),
      masters: [{ port: services.redis.port, conn: redis }],
      replicas: [],
    });
    sides.push({
      name: 'cluster',
      service: await startService(
        'start:api + start:worker',
        { REDIS_URL: 'redis://127.0.0.1', CONNCHECK_REDIS_CLUSTER_NODES: rediscluster.seeds },
        clusterClient,
      ),
      masters,
      replicas,
    });
    const [single, cluster] = sides as [Side, Side];
    // Which master serves the slots every task touches: `{ctl}`, the project's and the queue's (tasks spread over all).
    const keys = new StoreKeys(cluster.service.prefix);
    const shared = { '{ctl}': keys.enqueueIntents(), project: keys.unfinished('bench'), queue: keys.queuePrefix(keys.queueName('default')) };
    const holds = new Map<number, string[]>();
    for (const [name, key] of Object.entries(shared)) {
      const slot = Number(await clusterClient.call('CLUSTER', 'KEYSLOT', key));
      const port = Number((clusterClient as Cluster).slots[slot]?.[0]?.split(':').pop());
      holds.set(port, [...(holds.get(port) ?? []), name]);
    }

    console.log(
      `\n5. one Redis vs the Redis Cluster (${masters.length} masters + ${replicas.length} replicas), start:api + start:worker on each, the two sides alternating; ${ROUNDS} rounds`,
    );
    console.log(
      `   batch: ${ITEMS} tcp items (${submissions} submissions of ${perSubmission}), concurrency ${CONCURRENCY} per worker; ` +
        `one-item tasks: ${SMALL_TASKS} tasks from ${CLIENTS} clients, each submitting one and waiting for its answer (wait_ms) before the next`,
    );
    console.log(
      '   What one machine can show: all six cluster nodes, the one Redis, the service, the target and the bench share its\n' +
        "   2 cores, so the cluster's benefit (more cores and more memory, one machine per shard) cannot show here: the\n" +
        "   ratio is its cost. The key layout (a task in its own slot, its project's side in another) is the same on one Redis,\n" +
        '   so those round trips are paid on both sides; what the cluster adds is its client (a slot lookup per command, a\n' +
        "   connection per master, a pipeline split per slot), the replicas' copy of every write, and pub/sub (a task's end)\n" +
        '   broadcast over the cluster bus. The per-master share of Redis CPU shows how the work spreads over the shards.',
    );

    const label = (workers: number) => `${workers} worker${workers > 1 ? 's' : ''}`;
    const oneWorker = new Map<string, { single: number; cluster: number }>();
    for (const workers of [1, 2]) {
      if (workers === 2) {
        await Promise.all(sides.map((side) => side.service.addWorker()));
        console.log('   with a second worker process on each side (each at the same concurrency):');
      }
      for (const side of sides) {
        await runOn(side, batch);
        await runOn(side, oneItemTasks);
      }
      const runs = { batch: { single: [] as SideRun[], cluster: [] as SideRun[] }, tasks: { single: [] as SideRun[], cluster: [] as SideRun[] } };
      for (let round = 0; round < ROUNDS; round++) {
        // Alternate the order so drift in the machine's load hits both sides alike.
        const order = round % 2 === 0 ? ([single, cluster] as const) : ([cluster, single] as const);
        for (const side of order) runs.batch[side === single ? 'single' : 'cluster'].push(await runOn(side, batch));
        for (const side of order) runs.tasks[side === single ? 'single' : 'cluster'].push(await runOn(side, oneItemTasks));
        const b = { s: runs.batch.single[round]!, c: runs.batch.cluster[round]! };
        const t = { s: runs.tasks.single[round]!, c: runs.tasks.cluster[round]! };
        console.log(
          `   ${label(workers)}, round ${round + 1}: batch one Redis ${fmt(b.s.rate, 0)} items/s, cluster ${fmt(b.c.rate, 0)} items/s (${fmt(b.c.rate / b.s.rate, 2)}×); ` +
            `one-item tasks one Redis ${fmt(t.s.rate, 0)} tasks/s, cluster ${fmt(t.c.rate, 0)} tasks/s (${fmt(t.c.rate / t.s.rate, 2)}×)`,
        );
      }
      for (const [workload, unit, pair] of [
        ['batch', 'item', runs.batch],
        ['one-item tasks', 'task', runs.tasks],
      ] as const) {
        // Rounds are paired, so the ratio is the median of the per-round ratios.
        const ratio = median(pair.cluster.map((c, i) => c.rate / pair.single[i]!.rate));
        const rate = { single: median(pair.single.map((r) => r.rate)), cluster: median(pair.cluster.map((r) => r.rate)) };
        const describe = (rs: SideRun[], side: 'single' | 'cluster') => {
          const cpu = median(rs.map((r) => r.cpu));
          const commands = median(rs.map((r) => r.commands));
          const redisTotal = median(rs.map((r) => r.masterCpu.reduce((a, b) => a + b, 0)));
          const latency = workload === 'batch' ? '' : `, answer in ${fmt(median(rs.map((r) => r.latency)), 1)} ms`;
          return `${fmt(rate[side], 0)} ${unit}s/s${latency}; per ${unit}: ${fmt(cpu, 0)} µs service CPU, ${fmt(commands, 1)} Redis commands, ${fmt(redisTotal, 0)} µs Redis CPU`;
        };
        // The share of each master, from all rounds' CPU together.
        const perMaster = masters.map((_, m) => pair.cluster.reduce((sum, r) => sum + r.masterCpu[m]!, 0));
        const allMasters = perMaster.reduce((a, b) => a + b, 0);
        const share = masters
          .map(
            (node, m) => `:${node.port}${holds.has(node.port) ? ` [${holds.get(node.port)!.join(', ')}]` : ''} ${fmt((100 * perMaster[m]!) / allMasters, 0)}%`,
          )
          .join(', ');
        const replicaCpu = median(pair.cluster.map((r) => r.replicaCpu));
        const redirections = pair.cluster.reduce((sum, r) => sum + r.redirections, 0);
        console.log(`   ${workload}, ${label(workers)} (medians): one Redis ${describe(pair.single, 'single')}`);
        console.log(
          `     cluster ${describe(pair.cluster, 'cluster')} on the masters (${share}) + ${fmt(replicaCpu, 0)} µs on the replicas; ` +
            `cluster/one Redis ${fmt(ratio, 2)}×; MOVED/ASK/TRYAGAIN answers ${redirections}`,
        );
        // Where the ceiling moves: what the second worker process adds on each side.
        const before = oneWorker.get(workload);
        if (before)
          console.log(
            `     the second worker: one Redis ×${fmt(rate.single / before.single, 2)}, cluster ×${fmt(rate.cluster / before.cluster, 2)} (${unit}s/s against 1 worker; not paired: the phases ran one after the other)`,
          );
        else oneWorker.set(workload, rate);
        verdicts.push({
          measure: `cluster: ${workload === 'batch' ? 'batch' : '1-item tasks'}, ${label(workers)}`,
          baseline: `${fmt(rate.single, 0)} ${unit}s/s`,
          conncheck: `${fmt(rate.cluster, 0)} ${unit}s/s`,
          result: `${fmt(ratio, 2)}×`,
          target: 'none',
          met: true,
          informational: true,
        });
      }
    }
  } finally {
    for (const side of sides) await side.service.close();
    acceptTarget.stop();
    for (const node of nodes) node.conn.disconnect();
    clusterClient.disconnect();
  }
}

// ---------------------------------------------------------------------------------------------------------------

console.log(`conncheck bench — node ${process.version}, redis ${services.redis.url}, ${mariadb.version}; services at CONNCHECK_LOG_LEVEL=warn`);
if (want('single')) {
  await singleCheck('npm start');
  await singleCheck('start:api + start:worker');
}
if (want('throughput')) await throughput();
if (want('submit')) await submissions();
if (want('inflight')) await inFlight();
if (want('cluster')) await clusterMeasure();
redis.disconnect();

console.log('\nresults (each against its baseline from this run)');
const widths = [34, 18, 18, 12, 10];
const row = (cells: string[]) => cells.map((c, i) => c.padEnd(widths[i] ?? 0)).join('  ');
console.log(row(['measure', 'baseline', 'conncheck', 'result', 'target', 'met']));
for (const v of verdicts) console.log(row([v.measure, v.baseline, v.conncheck, v.result, v.target, v.informational ? 'info' : v.met ? 'met' : 'NOT met']));
process.exit(0);
