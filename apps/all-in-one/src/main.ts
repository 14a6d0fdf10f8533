// Owns: `npm start` — API and a worker in one process, a generated secret key and, where needed, a private Redis.
// Must not: hold API or worker logic; it is the one place that composes the two apps.

import { Redis } from 'ioredis';
import { ConfigError, SecretBox, closeOnSignal, createLogger, exitWithLine, loadConfigOrExit } from '@conncheck/core';
import { startApi } from '@conncheck/api';
import { startWorker } from '@conncheck/worker';
import { redactUrl } from '@conncheck/store';
import { startPrivateRedis, type PrivateRedis } from './private-redis.js';

const config = loadConfigOrExit();
const logger = createLogger(config.logLevel, 'conncheck');

async function redisAnswers(url: string): Promise<boolean> {
  const probe = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null, connectTimeout: 1000 });
  probe.on('error', () => undefined);
  try {
    await probe.connect();
    await probe.ping();
    return true;
  } catch {
    return false;
  } finally {
    probe.disconnect();
  }
}

let privateRedis: PrivateRedis | undefined;
// A cluster is never replaced by a private Redis: startApi/startWorker say so if it cannot be reached.
if (config.redisClusterNodes === undefined && !(await redisAnswers(config.redisUrl))) {
  if (config.redisUrlExplicit) exitWithLine(`REDIS_URL: nothing answers at ${redactUrl(config.redisUrl)}`, 1);
  try {
    privateRedis = await startPrivateRedis((line) => logger.warn(line));
  } catch (err) {
    exitWithLine((err as Error).message, 1);
  }
  config.redisUrl = privateRedis.url;
  for (let i = 0; i < 50 && !(await redisAnswers(config.redisUrl)); i++) await new Promise((r) => setTimeout(r, 100));
  logger.warn(
    { redis: privateRedis.url },
    'no Redis at REDIS_URL (unset): started a private redis-server in a temp dir; tasks are lost when this process stops. Set REDIS_URL to keep them.',
  );
}

let secretBox: SecretBox;
if (config.secretKey) {
  secretBox = new SecretBox(config.secretKey, config.previousSecretKeys);
} else {
  secretBox = SecretBox.random();
  logger.warn(
    'CONNCHECK_SECRET_KEY is unset: generated a key for this process. Items still queued when it restarts will fail with CREDENTIALS_UNAVAILABLE; separate worker processes need the key. Set CONNCHECK_SECRET_KEY to avoid both.',
  );
}

const worker = await startWorker(config, secretBox, logger, { checkDurability: !privateRedis }).catch((err: Error) =>
  exitWithLine(err.message, err instanceof ConfigError ? 2 : 1),
);
const api = await startApi(config, secretBox, logger).catch((err: Error) => exitWithLine(err.message, 1));

closeOnSignal(logger, 'shutting down', async () => {
  await api.close().catch(() => undefined);
  await worker.close().catch(() => undefined);
  privateRedis?.stop();
});
