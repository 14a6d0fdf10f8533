// Owns: which worker processes are alive and which pool (network zone) each serves — heartbeats with a TTL in Redis
// — and which pools exist. Must not: decide what happens to work for a pool nobody serves (the API decides).

import type { RedisClient } from './redis.js';
import type { StoreKeys } from './keys.js';

/** How a worker process describes itself in its heartbeat. */
export interface WorkerInfo {
  id: string;
  pool: string;
  host: string;
  pid: number;
  concurrency: number;
  /** ISO time the process started taking jobs. */
  started_at: string;
  /** Probes running in it at the last heartbeat. */
  running: number;
}

export interface WorkerRegistryOptions {
  /** A worker is live while its last heartbeat is younger than this. @defaultValue 15000 */
  ttlMs?: number;
}

/** Pools are remembered this long after their last worker or task. */
const POOL_MEMORY_SECONDS = 7 * 24 * 3600;

export class WorkerRegistry {
  readonly ttlMs: number;

  constructor(
    private readonly redis: RedisClient,
    private readonly keys: StoreKeys,
    options: WorkerRegistryOptions = {},
  ) {
    this.ttlMs = options.ttlMs ?? 15_000;
  }

  /** Announces (or renews) a live worker. Every key written expires unless renewed. */
  async heartbeat(info: WorkerInfo, now: number = Date.now()): Promise<void> {
    const tx = this.redis.multi();
    tx.zadd(this.keys.workers(), now, `${info.pool}|${info.id}`);
    tx.zremrangebyscore(this.keys.workers(), '-inf', `(${now - this.ttlMs}`);
    tx.pexpire(this.keys.workers(), this.ttlMs);
    tx.set(this.keys.worker(info.id), JSON.stringify(info), 'PX', this.ttlMs);
    tx.zadd(this.keys.pools(), now, info.pool);
    tx.expire(this.keys.pools(), POOL_MEMORY_SECONDS);
    await tx.exec();
  }

  /** A worker that stops says so at once rather than waiting out its heartbeat. */
  async leave(info: Pick<WorkerInfo, 'id' | 'pool'>): Promise<void> {
    await this.redis.multi().zrem(this.keys.workers(), `${info.pool}|${info.id}`).del(this.keys.worker(info.id)).exec();
  }

  /** Live workers by pool. */
  async live(now: number = Date.now()): Promise<Map<string, WorkerInfo[]>> {
    const members = await this.redis.zrangebyscore(this.keys.workers(), now - this.ttlMs, '+inf');
    const byPool = new Map<string, WorkerInfo[]>();
    if (members.length === 0) return byPool;
    const ids = members.map((m) => m.slice(m.indexOf('|') + 1));
    const infos = await this.redis.mget(...ids.map((id) => this.keys.worker(id)));
    members.forEach((member, i) => {
      const pool = member.slice(0, member.indexOf('|'));
      const raw = infos[i];
      const info: WorkerInfo = raw ? (JSON.parse(raw) as WorkerInfo) : { id: ids[i]!, pool, host: '', pid: 0, concurrency: 0, started_at: '', running: 0 };
      byPool.set(pool, [...(byPool.get(pool) ?? []), info]);
    });
    return byPool;
  }

  /** Whether any live worker serves `pool`. */
  async serves(pool: string, now: number = Date.now()): Promise<boolean> {
    const members = await this.redis.zrangebyscore(this.keys.workers(), now - this.ttlMs, '+inf');
    return members.some((m) => m.startsWith(`${pool}|`));
  }

  /** Every pool a worker served or a task was sent to in the last week, by name. */
  async knownPools(now: number = Date.now()): Promise<string[]> {
    return (await this.redis.zrangebyscore(this.keys.pools(), now - POOL_MEMORY_SECONDS * 1000, '+inf')).sort();
  }
}
