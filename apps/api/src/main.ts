// Owns: the `npm run start:api` process — config from the environment, start, signals.
// Must not: start a worker; workers are separate processes here (`npm run start:worker`).

import { SecretBox, closeOnSignal, createLogger, exitWithLine, loadConfigOrExit } from '@conncheck/core';
import { startApi } from './server.js';

const config = loadConfigOrExit();
if (!config.secretKey) {
  exitWithLine('CONNCHECK_SECRET_KEY: required when the API runs apart from workers (all must share it); make one with `openssl rand -base64 32`');
}
const logger = createLogger(config.logLevel, 'conncheck');
const api = await startApi(config, new SecretBox(config.secretKey, config.previousSecretKeys), logger, { checkDurability: true }).catch((err: Error) =>
  exitWithLine(err.message, 1),
);

closeOnSignal(logger, 'shutting down', () => api.close());
