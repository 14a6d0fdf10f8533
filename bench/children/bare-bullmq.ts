// Baseline: bare BullMQ, one job per item, a worker at the same concurrency as conncheck's doing the same TCP
// connect, in its own process as conncheck's worker is. Commands: {run: n} → {done, ms} once n jobs completed,
// timed from the first job's arrival in the queue (the bench adds them right after sending the command).

import { performance } from 'node:perf_hooks';
import { Worker } from 'bullmq';
import { Redis } from 'ioredis';
import { onCommand, report, tcpConnect } from '../lib/child.js';

const [redisUrl, prefix, concurrencyArg, portArg] = process.argv.slice(2);
const port = Number(portArg);
const connection = new Redis(redisUrl!, { maxRetriesPerRequest: null });

let target = 0;
let done = 0;
let startedAt = 0;
const worker = new Worker(
  'bare',
  async () => {
    if (startedAt === 0) startedAt = performance.now();
    await tcpConnect(port);
  },
  { connection, prefix: prefix!, concurrency: Number(concurrencyArg) },
);
worker.on('completed', () => {
  if (++done === target) report({ done, ms: performance.now() - startedAt });
});
worker.on('error', () => undefined);
await worker.waitUntilReady();
onCommand((command) => {
  target = Number(command.run);
  done = 0;
  startedAt = 0;
  return undefined;
});
report({ ready: true });
