// Owns: the `npm run start:worker` process — config from the environment, start, signals.
// Must not: serve HTTP; run as many of these as you like, in as many network zones (CONNCHECK_WORKER_POOL).

import { ConfigError, SecretBox, closeOnSignal, createLogger, exitWithLine, loadConfigOrExit } from '@conncheck/core';
import { startWorker } from './server.js';

const config = loadConfigOrExit();
if (!config.secretKey) {
  exitWithLine('CONNCHECK_SECRET_KEY: required when workers run apart from the API (all must share it)');
}
const logger = createLogger(config.logLevel, 'conncheck');
const running = await startWorker(config, new SecretBox(config.secretKey), logger).catch((err: Error) =>
  exitWithLine(err.message, err instanceof ConfigError ? 2 : 1),
);

closeOnSignal(logger, 'finishing running checks, then stopping', () => running.close());
