// Owns: the pools view — which worker pools (network zones) exist, their live workers, queue depth and the age of the
// oldest waiting job: what an operator scaling workers looks at. Must not: change anything.

import Type from 'typebox';
import type { ApiDeps, ApiInstance } from '../deps.js';
import { ProjectParams, projectErrors } from '../params.js';

const Worker = Type.Object({
  id: Type.String(),
  host: Type.String(),
  pid: Type.Integer(),
  concurrency: Type.Integer({ description: 'Probes it may run at once.' }),
  running: Type.Integer({ description: 'Probes running at its last heartbeat.' }),
  started_at: Type.String(),
});
const Pool = Type.Object({
  name: Type.String(),
  served: Type.Boolean({ description: 'Whether any live worker serves it (a heartbeat in the last 15 s).' }),
  workers: Type.Array(Worker),
  queue: Type.Object({
    waiting: Type.Integer({ description: 'Jobs waiting for a worker (a job holds up to 16 items).' }),
    active: Type.Integer(),
    delayed: Type.Integer({ description: 'Jobs waiting to be retried after an infrastructure fault.' }),
    failed: Type.Integer({ description: 'Jobs that failed for good (kept a day).' }),
  }),
  oldest_wait_ms: Type.Union([Type.Integer(), Type.Null()], { description: 'How long the oldest waiting job has waited; null when none waits.' }),
});

export async function poolRoutes(app: ApiInstance, deps: ApiDeps): Promise<void> {
  const { registry, queue, config } = deps;
  app.get(
    '/v1/:project_id/pools',
    {
      schema: {
        tags: ['pools'],
        summary: 'Worker pools: live workers, queue depth, oldest wait',
        description:
          'Pools are shared by every project: any token may see them. A pool is listed while a worker serves it or a task was sent to it in the last week.',
        params: ProjectParams,
        response: { 200: Type.Object({ pools: Type.Array(Pool) }), ...projectErrors },
      },
    },
    async () => {
      const now = Date.now();
      const [live, known] = await Promise.all([registry.live(now), registry.knownPools(now)]);
      const names = [...new Set([config.workerPool, ...known, ...live.keys()])].sort();
      const pools = await Promise.all(
        names.map(async (name) => {
          const q = queue.queue(name);
          const [counts, [oldest]] = await Promise.all([
            q.getJobCounts('waiting', 'prioritized', 'active', 'delayed', 'failed'),
            q.getJobs(['waiting'], 0, 0, true),
          ]);
          const workers = (live.get(name) ?? []).map(({ id, host, pid, concurrency, running, started_at }) => ({
            id,
            host,
            pid,
            concurrency,
            running,
            started_at,
          }));
          return {
            name,
            served: workers.length > 0,
            workers,
            queue: {
              waiting: (counts.waiting ?? 0) + (counts.prioritized ?? 0),
              active: counts.active ?? 0,
              delayed: counts.delayed ?? 0,
              failed: counts.failed ?? 0,
            },
            oldest_wait_ms: oldest ? Math.max(0, now - oldest.timestamp) : null,
          };
        }),
      );
      return { pools };
    },
  );
}
