// Owns: connecting to Redis — one server or a Redis Cluster, through the same client type — (options per role, a
// bounded first connect) and telling an unreachable Redis from its errors.
// Must not: hide a failure: an unreachable Redis at start is one clear error, not an endless retry loop.

import type { Logger } from '@conncheck/core';
import { Cluster, Redis, type RedisOptions, ReplyError } from 'ioredis';

export type RedisRole = 'api' | 'worker';

/** A connection to conncheck's Redis: one server, or a cluster (every key scheme works on both; see keys.ts). */
export type RedisClient = Redis | Cluster;

/**
 * Where conncheck's Redis is: `url` (redis:// or rediss://, with user and password) alone for one server; with
 * `clusterNodes` (host:port seeds) a Redis Cluster, reached with the URL's user, password and TLS.
 */
export interface RedisTarget {
  url: string;
  clusterNodes?: readonly string[];
}

/**
 * The API fails fast while Redis is away (requests get 503 at once); BullMQ workers need
 * `maxRetriesPerRequest: null` for their blocking commands and simply wait for Redis to return.
 */
export function createRedis(target: string | RedisTarget, role: RedisRole, name: string, extra: { autoPipelining?: boolean } = {}): RedisClient {
  const { url, clusterNodes } = typeof target === 'string' ? { url: target, clusterNodes: undefined } : target;
  const retryStrategy = (times: number) => Math.min(200 * times, 2000);
  const options: RedisOptions = {
    connectionName: name,
    enableAutoPipelining: extra.autoPipelining ?? false,
    lazyConnect: true,
    maxRetriesPerRequest: role === 'worker' ? null : 1,
    enableOfflineQueue: role === 'worker',
    retryStrategy,
  };
  if (clusterNodes === undefined || clusterNodes.length === 0) return new Redis(url, options);
  const parsed = new URL(url);
  return new Cluster(clusterNodes.map(hostPort), {
    lazyConnect: true,
    enableAutoPipelining: options.enableAutoPipelining,
    enableOfflineQueue: options.enableOfflineQueue,
    clusterRetryStrategy: retryStrategy,
    // A failover moves slots: ask again soon, a few times, rather than fail the command at the first MOVED/CLUSTERDOWN.
    retryDelayOnClusterDown: 300,
    retryDelayOnFailover: 200,
    retryDelayOnTryAgain: 200,
    slotsRefreshTimeout: 2000,
    redisOptions: {
      connectionName: name,
      maxRetriesPerRequest: options.maxRetriesPerRequest,
      ...(parsed.username !== '' && { username: decodeURIComponent(parsed.username) }),
      ...(parsed.password !== '' && { password: decodeURIComponent(parsed.password) }),
      ...(parsed.protocol === 'rediss:' && { tls: {} }),
    },
  });
}

/** Where the configuration says conncheck's Redis is. */
export function redisTarget(config: { redisUrl: string; redisClusterNodes?: readonly string[] | undefined }): RedisTarget {
  return { url: config.redisUrl, ...(config.redisClusterNodes !== undefined && { clusterNodes: config.redisClusterNodes }) };
}

/**
 * Another connection to the same Redis (or cluster), as a subscriber needs one: it waits for Redis to come back
 * (no per-command retry limit, an offline queue) and connects at once.
 */
export function duplicateForSubscribing(redis: RedisClient): RedisClient {
  if (redis instanceof Cluster) {
    return redis.duplicate(undefined, {
      enableOfflineQueue: true,
      lazyConnect: false,
      redisOptions: { ...redis.options.redisOptions, maxRetriesPerRequest: null },
    });
  }
  return redis.duplicate({ maxRetriesPerRequest: null, enableOfflineQueue: true, lazyConnect: false });
}

/** "host:port" (or "[v6]:port") as ioredis's cluster seeds take it. */
function hostPort(node: string): { host: string; port: number } {
  const at = node.lastIndexOf(':');
  return { host: node.slice(0, at).replace(/^\[(.*)\]$/, '$1'), port: Number(node.slice(at + 1)) };
}

/** A cluster's seeds, or the URL without its password: what a log line or an error may name. */
export function describeTarget(target: string | RedisTarget): string {
  if (typeof target !== 'string' && target.clusterNodes && target.clusterNodes.length > 0) return `the Redis Cluster at ${target.clusterNodes.join(',')}`;
  return `Redis at ${redactUrl(typeof target === 'string' ? target : target.url)}`;
}

/** Socket errors (Node's `code`) of a connection that failed under a command. */
const UNREACHABLE_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE']);

/** The parts of a connection that say whether it can take a command now (as ioredis itself decides; a Cluster has no stream of its own). */
export interface ConnectionState {
  status: string;
  stream?: unknown;
}

/** Replies of a cluster in the middle of a failover (or of a server still loading its data): Redis is away for now. */
const AWAY_REPLIES = /^(CLUSTERDOWN|TRYAGAIN|LOADING|MASTERDOWN)\b/;

/**
 * Whether `error` means that Redis could not be reached over `redis`, rather than that it answered with an error
 * (a ReplyError) or that the code failed: a socket error code, ioredis's MaxRetriesPerRequestError (a command given
 * up while reconnecting), or a bare Error while the connection cannot take commands. ioredis rejects a command with a
 * plain `Error` and no code when the connection is closed or not writable without an offline queue (a class for it
 * was proposed, redis/ioredis#1767, and not merged), so the connection's state tells those apart, not their text.
 */
export function isUnavailableError(error: unknown, redis: ConnectionState): boolean {
  if (error instanceof ReplyError) return AWAY_REPLIES.test((error as Error).message);
  if (!(error instanceof Error)) return false;
  const { code } = error as NodeJS.ErrnoException;
  if (code !== undefined && UNREACHABLE_CODES.has(code)) return true;
  if (error.name === 'MaxRetriesPerRequestError' || error.name === 'ClusterAllFailedError') return true;
  const writable = redis.status === 'ready' && (redis instanceof Cluster || (redis.stream as { writable?: boolean } | undefined)?.writable === true);
  return Object.getPrototypeOf(error) === Error.prototype && !writable;
}

/** Anything that emits a Redis connection's errors: an ioredis client, a BullMQ queue or worker. */
export interface ErrorEmitter {
  on(event: 'error', listener: (err: Error) => void): unknown;
}

/**
 * Logs what `emitter` reports as JSON lines (never ioredis's own "Unhandled error event" dump to stderr): an error
 * at once, the same error again at most once per `everyMs` with how often it recurred meanwhile. While Redis is away
 * every connection retries every 2 s; one line per connection and half-minute says so without flooding the log.
 * Attach it before the first connect, so that an error during the connect is logged too.
 */
export function logErrors(emitter: ErrorEmitter, logger: Logger, msg: string, everyMs = 30_000): void {
  let last = '';
  let lastAt = 0;
  let repeats = 0;
  emitter.on('error', (err: Error) => {
    const now = Date.now();
    if (err.message === last && now - lastAt < everyMs) {
      repeats++;
      return;
    }
    logger.warn(repeats > 0 ? { err: err.message, repeats } : { err: err.message }, msg);
    last = err.message;
    lastAt = now;
    repeats = 0;
  });
}

/** Connects, or rejects within `timeoutMs` with a message that names the URL (without its password) or the cluster's seeds. */
export async function connectRedis(redis: RedisClient, target: string | RedisTarget, timeoutMs = 5000): Promise<void> {
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
    throw new Error(`cannot reach ${describeTarget(target)}: ${(err as Error).message}`);
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
export async function durabilityWarnings(redis: RedisClient): Promise<string[]> {
  const warnings: string[] = [];
  const config = async (name: string): Promise<string | undefined> => {
    try {
      const reply = await redis.config('GET', name);
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
