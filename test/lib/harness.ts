// Test support: a config, a Redis connection and a fresh key prefix per test, all pointed at the private test servers.
// Every test that uses Redis gets its own prefix and deletes its keys afterwards.

import { randomBytes } from 'node:crypto';
import { type Config, SecretBox, createLogger, loadConfig } from '@conncheck/core';
import { type RedisClient, TaskQueue, TaskStore, connectRedis, createRedis, redisTarget } from '@conncheck/store';
import { deleteAll, scanAll } from './cluster-control.js';
import { loadServices } from './services.js';

/**
 * CONNCHECK_TEST_REDIS=cluster runs a suite against the test services' Redis Cluster (three masters, three
 * replicas) instead of the single Redis: `npm test` runs the store, worker and end-to-end suites both ways.
 */
export const onCluster = process.env.CONNCHECK_TEST_REDIS === 'cluster';

/** The environment that points conncheck at the test Redis: one server, or the cluster. */
export function redisEnv(): { REDIS_URL: string; CONNCHECK_REDIS_CLUSTER_NODES?: string } {
  if (!onCluster) return { REDIS_URL: loadServices(['redis']).redis.url };
  const { rediscluster } = loadServices(['rediscluster']);
  return { REDIS_URL: 'redis://127.0.0.1', CONNCHECK_REDIS_CLUSTER_NODES: rediscluster.seeds };
}

/** A connection to the test Redis (or cluster), for a test's own reads and its cleanup. Connect it before use. */
export function testRedis(name: string): RedisClient {
  const env = redisEnv();
  return createRedis(redisTarget({ redisUrl: env.REDIS_URL, redisClusterNodes: env.CONNCHECK_REDIS_CLUSTER_NODES?.split(',') }), 'api', name);
}

export interface Harness {
  config: Config;
  redis: RedisClient;
  store: TaskStore;
  queue: TaskQueue;
  box: SecretBox;
  prefix: string;
  close(): Promise<void>;
}

export const quietLogger = createLogger(process.env.TEST_LOG_LEVEL ?? 'silent', 'test');

export function testConfig(env: Record<string, string> = {}): Config {
  const prefix = `t${randomBytes(4).toString('hex')}`;
  return loadConfig({ ...redisEnv(), CONNCHECK_REDIS_PREFIX: prefix, CONNCHECK_LOG_LEVEL: 'silent', ...env });
}

export async function harness(env: Record<string, string> = {}): Promise<Harness> {
  const config = testConfig(env);
  const target = redisTarget(config);
  const redis = createRedis(target, 'api', 'test');
  await connectRedis(redis, target);
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

/** Every key matching a pattern, sorted (on a cluster: from every master). */
export const scanKeys = (redis: RedisClient, pattern: string): Promise<string[]> => scanAll(redis, pattern);

export async function deleteKeys(redis: RedisClient, pattern: string): Promise<void> {
  await deleteAll(redis, pattern);
}

/** Every byte stored under a prefix, as text: for asserting that a secret is nowhere in Redis. */
export async function dumpKeys(redis: RedisClient, pattern: string): Promise<string> {
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
