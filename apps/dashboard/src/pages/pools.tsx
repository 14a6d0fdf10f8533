// Owns: the pools page — each worker pool (network zone) with its live workers, queue depth and oldest wait,
// refreshed every few seconds: what an operator scaling workers looks at. Must not: change a pool.

import type { ComponentChildren } from 'preact';
import { type Pool, api } from '../api';
import { PolledState } from '../components/notice';
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
      <PolledState polled={pools} what="pools" isEmpty={(data) => data.pools.length === 0} empty="No pools yet." />
      <div class="cards">
        {pools.data?.pools.map((pool) => (
          <PoolCard key={pool.name} pool={pool} />
        ))}
      </div>
    </section>
  );
}

function PoolCard({ pool }: { pool: Pool }) {
  return (
    <article class="card pool" data-pool={pool.name}>
      <header class="card-head">
        <h2>{pool.name}</h2>
        <ServedBadge served={pool.served} />
      </header>
      <dl class="numbers">
        <Figure label="workers" testid="workers">
          {pool.workers.length}
        </Figure>
        <Figure label="waiting jobs" testid="waiting">
          {pool.queue.waiting}
        </Figure>
        <Figure label="active">{pool.queue.active}</Figure>
        <Figure label="delayed">{pool.queue.delayed}</Figure>
        <Figure label="failed">{pool.queue.failed}</Figure>
        <Figure label="oldest wait" testid="oldest-wait">
          {pool.oldest_wait_ms === null ? 'none waiting' : duration(pool.oldest_wait_ms)}
        </Figure>
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
  );
}

/** One number of a pool's card: a term and its value in the card's description list. */
function Figure({ label, testid, children }: { label: string; testid?: string; children: ComponentChildren }) {
  return (
    <div>
      <dt>{label}</dt>
      <dd data-testid={testid}>{children}</dd>
    </div>
  );
}
