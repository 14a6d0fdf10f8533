// Owns: the submission-time rules for the TLS fields of a job (ssl_link, ssl_cert_*, ssl_mode).
// Must not: open connections; it only judges what the request carries.

import type { BatchJob } from './batch-request.js';
import { ApiErrorCode } from './error-codes.js';
import { createHash } from 'node:crypto';
import type { ProblemList } from './field-problems.js';

export function validateTls(job: BatchJob, _dbType: string, at: (field: string) => string, out: ProblemList): void {
  if (job.ssl_link === true) {
    // Never report a plain-text success for a check that asked for TLS.
    out.add(at('ssl_link'), ApiErrorCode.UNSUPPORTED_FEATURE, 'TLS checks are not available in this conncheck version yet; submit with ssl_link false or omitted');
  }
  if (job.ssl_cert_key !== undefined) {
    const sum = certificateChecksum(job.ssl_cert_key);
    if (sum === undefined) {
      out.add(at('ssl_cert_key'), ApiErrorCode.INVALID_PARAMETER, 'is not valid base64');
    } else if (job.ssl_cert_check_sum !== undefined && job.ssl_cert_check_sum.toLowerCase() !== sum) {
      out.add(at('ssl_cert_check_sum'), ApiErrorCode.INVALID_PARAMETER, 'does not match the SHA-256 of the decoded ssl_cert_key');
    }
  }
}

/** The hex SHA-256 of the decoded base64 bytes; undefined when the text is not base64. */
export function certificateChecksum(base64: string): string | undefined {
  const compact = base64.replace(/\s+/g, '');
  if (compact === '' || !/^[A-Za-z0-9+/]*={0,2}$/.test(compact) || compact.length % 4 === 1) return undefined;
  return createHash('sha256').update(Buffer.from(compact, 'base64')).digest('hex');
}
