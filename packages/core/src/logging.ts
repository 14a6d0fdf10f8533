// Owns: the logger every process uses, with secrets redacted by path as a second line of defence.
// Must not: be relied on as the first line: code never passes a secret to a logger in the first place.

import { pino, type Logger } from 'pino';

/** Paths pino blanks out wherever they occur in a logged object. */
export const REDACT_PATHS = [
  'db_password',
  '*.db_password',
  'jobs[*].db_password',
  'ssl_cert_key',
  '*.ssl_cert_key',
  'ssl_cert_password',
  '*.ssl_cert_password',
  'password',
  '*.password',
  'secrets',
  '*.secrets',
  'req.headers["x-auth-token"]',
  'headers["x-auth-token"]',
  '*.trust_store_key',
  '*.trust_store_password',
  '*.key_store_key',
  '*.key_store_password',
  '*.key_store_key_password',
  '*.key_password',
];

export function createLogger(level: string, name: string): Logger {
  return pino({
    name,
    level,
    redact: { paths: REDACT_PATHS, censor: '[redacted]' },
    timestamp: pino.stdTimeFunctions.isoTime,
  });
}

export type { Logger };

/**
 * Runs `close` once on the first SIGINT or SIGTERM, then exits 0 (1 if closing failed). A second signal while
 * closing is ignored: closing already waits for running checks, bounded by its own grace period.
 */
export function closeOnSignal(logger: Logger, what: string, close: () => Promise<void>): void {
  let closing = false;
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.on(signal, () => {
      if (closing) return;
      closing = true;
      logger.info({ signal }, what);
      close().then(
        () => process.exit(0),
        (err: unknown) => {
          logger.error({ err }, 'shutdown failed');
          process.exit(1);
        },
      );
    });
  }
}
