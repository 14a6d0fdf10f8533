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
