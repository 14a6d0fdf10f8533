// Owns: running the API as a server — Redis connection, store, queue, listen, graceful close.
// Must not: read the environment (main.ts does) or hold route logic (app.ts).

import type { Config, Logger, SecretBox } from '@conncheck/core';
import { TaskQueue, TaskStore, connectRedis, createRedis, durabilityWarnings, logErrors, redisTarget } from '@conncheck/store';
import type { FastifyInstance } from 'fastify';
import { buildApp } from './app.js';
import { collectProcessMetrics } from './metrics.js';

export interface RunningApi {
  app: FastifyInstance;
  /** e.g. http://127.0.0.1:8080 */
  url: string;
  close(): Promise<void>;
}

export interface StartApiOptions {
  /** Log what this Redis would lose tasks to (no persistence, evictions). @defaultValue false */
  checkDurability?: boolean;
}

export async function startApi(config: Config, secretBox: SecretBox, logger: Logger, options: StartApiOptions = {}): Promise<RunningApi> {
  const target = redisTarget(config);
  const redis = createRedis(target, 'api', 'conncheck-api');
  logErrors(redis, logger.child({ redis: 'conncheck-api' }), 'redis connection error');
  await connectRedis(redis, target);
  if (options.checkDurability) for (const warning of await durabilityWarnings(redis)) logger.warn(warning);
  for (const netType of Object.keys(config.netTypePools)) {
    if (!['vpn', 'vpc', 'eip'].includes(netType))
      logger.warn({ net_type: netType }, `CONNCHECK_NET_TYPE_POOLS maps net_type ${netType}, which no request can send (net_type is vpn, vpc or eip)`);
  }
  const store = new TaskStore({ redis, prefix: config.redisPrefix, retentionSeconds: config.retentionSeconds, secretBox });
  // A Redis that comes back empty (restarted without persistence) has lost every task: say so once, loudly, and let
  // 404s tell a lost task from an unknown one.
  let dataSince = await store.dataSince();
  redis.on('ready', () => {
    store.dataSince().then(
      (since) => {
        if (since !== dataSince) {
          logger.error({ lost_before: new Date(since).toISOString() }, 'Redis came back without its data: every task submitted before now is lost');
          dataSince = since;
        }
      },
      () => undefined,
    );
  });
  const queue = new TaskQueue(redis, store.keys);
  collectProcessMetrics();
  const app = await buildApp({ config, store, queue, logger: logger.child({ component: 'api' }), dataSince: () => dataSince });
  if (!config.authTokens) {
    logger.warn(
      `OPEN MODE: CONNCHECK_AUTH_TOKENS is unset, so every request is accepted without a token. ` +
        `Bound to ${config.host} only. Set CONNCHECK_AUTH_TOKENS before exposing this service.`,
    );
  }
  const url = await app.listen({ port: config.port, host: config.host });
  logger.info({ url }, 'api listening');
  return {
    app,
    url,
    async close() {
      // Waking long-polling clients first lets the server close without waiting out their wait_ms.
      await store.close();
      await app.close();
      await queue.close();
      redis.disconnect();
    },
  };
}
