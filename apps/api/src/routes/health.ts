// Owns: liveness, readiness, metrics and the OpenAPI document.
// Must not: require a token: these are for load balancers, Prometheus and tooling.

import Type from 'typebox';
import client from 'prom-client';
import { ApiErrorCode, ErrorBody } from '@conncheck/core';
import type { ApiDeps, ApiInstance } from '../deps.js';

export async function healthRoutes(app: ApiInstance, deps: ApiDeps): Promise<void> {
  const pools = async () => [...new Set([deps.config.workerPool, ...(await deps.registry.knownPools())])];
  const queueDepth = new client.Gauge({
    name: 'conncheck_queue_jobs',
    help: "BullMQ jobs of each pool's queue, by state (each job holds up to 16 items).",
    labelNames: ['pool', 'state'] as const,
    registers: [],
    async collect() {
      this.reset();
      for (const pool of await pools()) {
        const counts = await deps.queue.queue(pool).getJobCounts('waiting', 'active', 'delayed', 'failed');
        for (const [state, n] of Object.entries(counts)) this.set({ pool, state }, n);
      }
    },
  });
  const poolWorkers = new client.Gauge({
    name: 'conncheck_pool_workers',
    help: 'Live worker processes of each pool (a heartbeat in the last 15 s).',
    labelNames: ['pool'] as const,
    registers: [],
    async collect() {
      this.reset();
      const live = await deps.registry.live();
      for (const pool of new Set([...(await pools()), ...live.keys()])) this.set({ pool }, live.get(pool)?.length ?? 0);
    },
  });
  // Per app, not global: tests and the all-in-one process may build several apps in one process.
  const appRegistry = new client.Registry();
  appRegistry.registerMetric(queueDepth);
  appRegistry.registerMetric(poolWorkers);

  app.get('/healthz', { schema: { tags: ['health'], security: [], response: { 200: Type.Object({ status: Type.String() }) } } }, async () => ({
    status: 'ok',
  }));

  app.get(
    '/readyz',
    { schema: { tags: ['health'], security: [], response: { 200: Type.Object({ status: Type.String() }), 503: ErrorBody } } },
    async (_request, reply) => {
      try {
        await withTimeout(deps.store.ping(), 1000);
        return { status: 'ready' };
      } catch {
        return reply.status(503).header('retry-after', '5').send({ error_code: ApiErrorCode.SERVICE_UNAVAILABLE, error_msg: 'redis is unreachable' });
      }
    },
  );

  app.get('/metrics', { schema: { hide: true } }, async (_request, reply) => {
    const registry = client.Registry.merge([client.register, appRegistry]);
    let body: string;
    try {
      body = await registry.metrics();
    } catch {
      // Queue depth needs Redis; without it the process metrics are still worth serving.
      body = await client.register.metrics();
    }
    return reply.type(registry.contentType).send(body);
  });

  app.get('/openapi.json', { schema: { hide: true } }, async () => app.swagger());
}

function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([
    promise,
    new Promise<T>((_, reject) => {
      timer = setTimeout(() => reject(new Error('timeout')), ms);
    }),
  ]).finally(() => clearTimeout(timer));
}
