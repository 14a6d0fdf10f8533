// Owns: the pools page — each worker pool (network zone) with its live workers, queue depth and oldest wait,
// refreshed every few seconds: what an operator scaling workers looks at. Must not: change a pool.

import { api } from '../api';
import { Empty, ErrorNotice, Loading } from '../components/notice';
import { ServedBadge } from '../components/status';
import { Time } from '../components/time';
import { duration } from '../format';
import { usePolling } from '../polling';

const REFRESH_MS = 3000;

export function PoolsPage({ project }: { project: string }) {
  const pools = usePolling((signal) => api.pools(project, signal), project, REFRESH_MS);
  return (
    <section class="page pools-page">
      <div class="page-head">
        <h1>Pools</h1>
        <span class="muted">worker pools (network zones) shared by every project · refreshed every {REFRESH_MS / 1000} s</span>
      </div>
      {pools.error && <ErrorNotice error={pools.error} />}
      {!pools.data && !pools.error && <Loading what="pools" />}
      {pools.data?.pools.length === 0 && <Empty>No pools yet.</Empty>}
      <div class="cards">
        {pools.data?.pools.map((pool) => (
          <article key={pool.name} class="card pool" data-pool={pool.name}>
            <header class="card-head">
              <h2>{pool.name}</h2>
              <ServedBadge served={pool.served} />
            </header>
            <dl class="numbers">
              <div>
                <dt>workers</dt>
                <dd data-testid="workers">{pool.workers.length}</dd>
              </div>
              <div>
                <dt>waiting jobs</dt>
                <dd data-testid="waiting">{pool.queue.waiting}</dd>
              </div>
              <div>
                <dt>active</dt>
                <dd>{pool.queue.active}</dd>
              </div>
              <div>
                <dt>delayed</dt>
                <dd>{pool.queue.delayed}</dd>
              </div>
              <div>
                <dt>failed</dt>
                <dd>{pool.queue.failed}</dd>
              </div>
              <div>
                <dt>oldest wait</dt>
                <dd data-testid="oldest-wait">{pool.oldest_wait_ms === null ? 'none waiting' : duration(pool.oldest_wait_ms)}</dd>
              </div>
            </dl>
            {pool.workers.length > 0 && (
              <table class="workers">
                <caption>Live workers</caption>
                <thead>
                  <tr>
                    <th scope="col">worker</th>
                    <th scope="col">host · pid</th>
                    <th scope="col">running / concurrency</th>
                    <th scope="col">started</th>
                  </tr>
                </thead>
                <tbody>
                  {pool.workers.map((worker) => (
                    <tr key={worker.id}>
                      <td>
                        <code>{worker.id}</code>
                      </td>
                      <td>
                        {worker.host} · {worker.pid}
                      </td>
                      <td>
                        {worker.running} / {worker.concurrency}
                      </td>
                      <td>
                        <Time at={worker.started_at} />
                      </td>
                    </tr>
                  ))}
                </tbody>
              </table>
            )}
          </article>
        ))}
      </div>
    </section>
  );
}
