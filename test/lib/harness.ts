// Test support: a config, a Redis connection and a fresh key prefix per test, all pointed at the private test servers.
// Every test that uses Redis gets its own prefix and deletes its keys afterwards.

import { randomBytes } from 'node:crypto';
import { type Config, SecretBox, createLogger, loadConfig } from '@conncheck/core';
import { TaskQueue, TaskStore, createRedis, connectRedis } from '@conncheck/store';
import type { Redis } from 'ioredis';
import { loadServices } from './services.js';

export interface Harness {
  config: Config;
  redis: Redis;
  store: TaskStore;
  queue: TaskQueue;
  box: SecretBox;
  prefix: string;
  close(): Promise<void>;
}

export const quietLogger = createLogger(process.env.TEST_LOG_LEVEL ?? 'silent', 'test');

export function testConfig(env: Record<string, string> = {}): Config {
  const services = loadServices(['redis']);
  const prefix = `t${randomBytes(4).toString('hex')}`;
  return loadConfig({ REDIS_URL: services.redis.url, CONNCHECK_REDIS_PREFIX: prefix, CONNCHECK_LOG_LEVEL: 'silent', ...env });
}

export async function harness(env: Record<string, string> = {}): Promise<Harness> {
  const config = testConfig(env);
  const redis = createRedis(config.redisUrl, 'api', 'test');
  await connectRedis(redis, config.redisUrl);
  const box = SecretBox.random();
  const store = new TaskStore({ redis, prefix: config.redisPrefix, retentionSeconds: config.retentionSeconds, secretBox: box });
  const queue = new TaskQueue(redis, store.keys);
  return {
    config,
    redis,
    store,
    queue,
    box,
    prefix: config.redisPrefix,
    async close() {
      await store.close();
      await queue.close();
      await deleteKeys(redis, `${config.redisPrefix}:*`);
      redis.disconnect();
    },
  };
}

/** Every key matching a pattern, sorted. */
export async function scanKeys(redis: Redis, pattern: string): Promise<string[]> {
  const found: string[] = [];
  let cursor = '0';
  do {
    const [next, keys] = await redis.scan(cursor, 'MATCH', pattern, 'COUNT', 1000);
    cursor = next;
    found.push(...keys);
  } while (cursor !== '0');
  return found.sort();
}

export async function deleteKeys(redis: Redis, pattern: string): Promise<void> {
  const keys = await scanKeys(redis, pattern);
  for (let i = 0; i < keys.length; i += 500) await redis.del(...keys.slice(i, i + 500));
}

/** Every byte stored under a prefix, as text: for asserting that a secret is nowhere in Redis. */
export async function dumpKeys(redis: Redis, pattern: string): Promise<string> {
  const out: string[] = [];
  for (const key of await scanKeys(redis, pattern)) {
    const type = await redis.type(key);
    out.push(key);
    if (type === 'string') out.push((await redis.get(key)) ?? '');
    else if (type === 'hash') out.push(JSON.stringify(await redis.hgetall(key)));
    else if (type === 'list') out.push(JSON.stringify(await redis.lrange(key, 0, -1)));
    else if (type === 'set') out.push(JSON.stringify(await redis.smembers(key)));
    else if (type === 'zset') out.push(JSON.stringify(await redis.zrange(key, '0', '-1')));
    else if (type === 'stream') out.push(JSON.stringify(await redis.xrange(key, '-', '+')));
  }
  return out.join('\n');
}

export async function waitFor<T>(fn: () => Promise<T | undefined>, timeoutMs: number, what: string): Promise<T> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const value = await fn();
    if (value !== undefined) return value;
    if (Date.now() > until) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}
