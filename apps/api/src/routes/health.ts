// Owns: liveness, readiness, metrics and the OpenAPI document.
// Must not: require a token: these are for load balancers, Prometheus and tooling.

import Type from 'typebox';
import client from 'prom-client';
import type { FastifyInstance } from 'fastify';
import { ApiErrorCode, ErrorBody } from '@conncheck/core';
import type { ApiDeps } from '../deps.js';

export async function healthRoutes(app: FastifyInstance, deps: ApiDeps): Promise<void> {
  const queueDepth = new client.Gauge({
    name: 'conncheck_queue_jobs',
    help: 'BullMQ jobs of the default pool\'s queue, by state (each job holds up to 16 items).',
    labelNames: ['pool', 'state'] as const,
    registers: [],
    async collect() {
      const counts = await deps.queue.queue(deps.config.workerPool).getJobCounts('waiting', 'active', 'delayed', 'failed');
      for (const [state, n] of Object.entries(counts)) this.set({ pool: deps.config.workerPool, state }, n);
    },
  });
  // Per app, not global: tests and the all-in-one process may build several apps in one process.
  const appRegistry = new client.Registry();
  appRegistry.registerMetric(queueDepth);

  app.get('/healthz', { schema: { tags: ['health'], response: { 200: Type.Object({ status: Type.String() }) } } }, async () => ({ status: 'ok' }));

  app.get(
    '/readyz',
    { schema: { tags: ['health'], response: { 200: Type.Object({ status: Type.String() }), 503: ErrorBody } } },
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
