// Baseline: the fastest this machine connects and closes on loopback — `concurrency` loops of connect + close, no
// queue, no store. Commands: {run: n} → {done, ms}.

import { performance } from 'node:perf_hooks';
import { onCommand, report, tcpConnect } from '../lib/child.js';

const [concurrencyArg, portArg] = process.argv.slice(2);
const port = Number(portArg);

onCommand(async (command) => {
  const n = Number(command.run);
  let next = 0;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: Number(concurrencyArg) }, async () => {
      while (next++ < n) await tcpConnect(port);
    }),
  );
  return { done: n, ms: performance.now() - started };
});
report({ ready: true });
