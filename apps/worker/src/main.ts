// Owns: the `npm run start:worker` process — config from the environment, start, signals.
// Must not: serve HTTP; run as many of these as you like, in as many network zones (CONNCHECK_WORKER_POOL).

import { ConfigError, SecretBox, closeOnSignal, createLogger, exitWithLine, loadConfigOrExit } from '@conncheck/core';
import { startMetricsServer } from './metrics-server.js';
import { startWorker } from './server.js';

const config = loadConfigOrExit();
if (!config.secretKey) {
  exitWithLine('CONNCHECK_SECRET_KEY: required when workers run apart from the API (all must share it)');
}
const logger = createLogger(config.logLevel, 'conncheck');
// The port first: a worker that cannot serve its metrics stops before it has taken any job.
const metrics =
  config.workerMetricsPort > 0
    ? await startMetricsServer(config.host, config.workerMetricsPort).catch((err: Error) => exitWithLine(`CONNCHECK_WORKER_METRICS_PORT: ${err.message}`, 1))
    : undefined;
if (metrics) logger.info({ url: `http://${config.host}:${config.workerMetricsPort}/metrics` }, 'worker metrics listening');

const running = await startWorker(config, new SecretBox(config.secretKey, config.previousSecretKeys), logger, { checkDurability: true }).catch((err: Error) =>
  exitWithLine(err.message, err instanceof ConfigError ? 2 : 1),
);

closeOnSignal(logger, 'finishing running checks, then stopping', async () => {
  metrics?.close();
  await running.close();
});
