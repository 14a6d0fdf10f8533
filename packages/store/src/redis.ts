// Owns: how conncheck connects to Redis (options per role) and a bounded wait for the first connection.
// Must not: hide a failure: an unreachable Redis at start is one clear error, not an endless retry loop.

import { Redis, type RedisOptions } from 'ioredis';

export type RedisRole = 'api' | 'worker';

/**
 * The API fails fast while Redis is away (requests get 503 at once); BullMQ workers need
 * `maxRetriesPerRequest: null` for their blocking commands and simply wait for Redis to return.
 */
export function createRedis(url: string, role: RedisRole, name: string, extra: { autoPipelining?: boolean } = {}): Redis {
  const options: RedisOptions = {
    connectionName: name,
    enableAutoPipelining: extra.autoPipelining ?? false,
    lazyConnect: true,
    maxRetriesPerRequest: role === 'worker' ? null : 1,
    enableOfflineQueue: role === 'worker',
    retryStrategy: (times) => Math.min(200 * times, 2000),
  };
  return new Redis(url, options);
}

/** Connects, or rejects within `timeoutMs` with a message that names the URL (without its password). */
export async function connectRedis(redis: Redis, url: string, timeoutMs = 5000): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  try {
    await Promise.race([
      redis.connect(),
      new Promise((_, reject) => {
        timer = setTimeout(() => reject(new Error('timed out')), timeoutMs);
      }),
    ]);
    await redis.ping();
  } catch (err) {
    redis.disconnect();
    throw new Error(`cannot reach Redis at ${redactUrl(url)}: ${(err as Error).message}`);
  } finally {
    clearTimeout(timer);
  }
}

export function redactUrl(url: string): string {
  return url.replace(/\/\/([^@/]*)@/, '//***@');
}

/**
 * What this Redis would lose conncheck's tasks to, as log lines: no persistence at all (a restart loses every task),
 * or an eviction policy that deletes keys under memory pressure (a task or its jobs vanish). Read with CONFIG GET
 * where allowed, else from INFO (managed services often disable CONFIG). Empty when all is well.
 */
export async function durabilityWarnings(redis: Redis): Promise<string[]> {
  const warnings: string[] = [];
  const config = async (name: string): Promise<string | undefined> => {
    try {
      const reply = (await redis.config('GET', name)) as string[];
      return reply[1];
    } catch {
      return undefined;
    }
  };
  const info = async (section: string, field: string): Promise<string | undefined> =>
    new RegExp(`^${field}:(.*)$`, 'm').exec(await redis.info(section))?.[1]?.trim();
  const [appendonly, save, policy] = await Promise.all([config('appendonly'), config('save'), config('maxmemory-policy')]);
  const aof = appendonly ?? ((await info('persistence', 'aof_enabled')) === '1' ? 'yes' : 'no');
  if (aof !== 'yes' && save === '') {
    warnings.push(
      'Redis has no persistence (appendonly no, save ""): a Redis restart loses every task and queued job. In production run Redis with appendonly yes (see the README).',
    );
  }
  const evictions = policy ?? (await info('memory', 'maxmemory_policy'));
  if (evictions !== undefined && evictions !== 'noeviction') {
    warnings.push(
      `Redis's maxmemory-policy is ${evictions}: under memory pressure it deletes keys, and a task or its queued jobs can vanish (their items then end as INTERNAL_ERROR). Set maxmemory-policy noeviction.`,
    );
  }
  return warnings;
}
