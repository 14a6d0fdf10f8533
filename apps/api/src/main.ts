// Owns: the `npm run start:api` process — config from the environment, start, signals.
// Must not: start a worker; workers are separate processes here (`npm run start:worker`).

import { SecretBox, createLogger, exitWithLine, loadConfigOrExit } from '@conncheck/core';
import { startApi } from './server.js';

const config = loadConfigOrExit();
if (!config.secretKey) {
  exitWithLine('CONNCHECK_SECRET_KEY: required when the API runs apart from workers (all must share it); make one with `openssl rand -base64 32`');
}
const logger = createLogger(config.logLevel, 'conncheck');
const api = await startApi(config, new SecretBox(config.secretKey), logger).catch((err: Error) => exitWithLine(err.message, 1));

let closing = false;
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.on(signal, () => {
    if (closing) return;
    closing = true;
    logger.info({ signal }, 'shutting down');
    api.close().then(
      () => process.exit(0),
      () => process.exit(1),
    );
  });
}
