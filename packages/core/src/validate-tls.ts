// Owns: the submission-time rules for the TLS fields of a job (ssl_link, ssl_cert_*, ssl_mode): checksum, that the
// certificate can be read, and the effective ssl_mode. Must not: open connections; it only judges what the request carries.

import { createHash } from 'node:crypto';
import type { BatchJob } from './batch-request.js';
import { CertMaterialError, parseCaBundle, CERT_MATERIAL_API_CODES } from './cert-material.js';
import { ApiErrorCode } from './error-codes.js';
import type { ProblemList } from './field-problems.js';
import { defaultSslMode, type SslMode } from './security-settings.js';

export function validateTls(job: BatchJob, dbType: string, at: (field: string) => string, out: ProblemList): void {
  const link = job.ssl_link === true;
  if (link && dbType === 'kafka') {
    out.add(at('ssl_link'), ApiErrorCode.INVALID_PARAMETER, 'is not used for kafka; set kafka_security_config.type to SSL or SASL_SSL');
  }
  if (job.ssl_mode !== undefined && !link) {
    out.add(at('ssl_mode'), ApiErrorCode.INVALID_PARAMETER, 'needs ssl_link true (without it the check does not use TLS)');
  }
  const key = certificateKey(job);
  if (key === undefined) {
    if (job.ssl_cert_check_sum !== undefined) out.add(at('ssl_cert_check_sum'), ApiErrorCode.INVALID_PARAMETER, 'is given without ssl_cert_key');
    return;
  }
  const sum = certificateChecksum(key);
  if (sum === undefined) {
    out.add(at('ssl_cert_key'), ApiErrorCode.CERT_NOT_BASE64, notBase64Message(key));
    return;
  }
  if (job.ssl_cert_check_sum !== undefined && job.ssl_cert_check_sum.toLowerCase() !== sum) {
    // Bytes that are not what the sender meant: what they parse to does not matter.
    out.add(at('ssl_cert_check_sum'), ApiErrorCode.CERT_CHECKSUM_MISMATCH, `is not the SHA-256 of the decoded ssl_cert_key (that is ${sum})`);
    return;
  }
  try {
    parseCaBundle(key, job.ssl_cert_password || undefined);
  } catch (err) {
    if (!(err instanceof CertMaterialError)) throw err;
    const field = err.reason === 'wrong_password' ? 'ssl_cert_password' : 'ssl_cert_key';
    out.add(at(field), CERT_MATERIAL_API_CODES[err.reason], err.message);
  }
}

/** The effective mode of a TLS job (see defaultSslMode). */
export function effectiveSslMode(job: BatchJob): SslMode | undefined {
  if (job.ssl_link !== true) return undefined;
  return defaultSslMode(job.ssl_mode, certificateKey(job) !== undefined);
}

/** ssl_cert_key as sent, where "" (which migration clients send for "no certificate") counts as absent. */
export function certificateKey(job: BatchJob): string | undefined {
  return job.ssl_cert_key === undefined || job.ssl_cert_key.trim() === '' ? undefined : job.ssl_cert_key;
}

/** The hex SHA-256 of the decoded base64 bytes; undefined when the text is not base64. */
export function certificateChecksum(base64: string): string | undefined {
  const compact = base64.replace(/\s+/g, '');
  if (compact === '' || !/^[A-Za-z0-9+/]*={0,2}$/.test(compact) || compact.length % 4 === 1) return undefined;
  return createHash('sha256').update(Buffer.from(compact, 'base64')).digest('hex');
}

function notBase64Message(text: string): string {
  return /-----BEGIN [A-Z0-9 ]+-----/.test(text) ? 'is PEM text, not base64: send the base64 of the file (base64 -w0 ca.pem)' : 'is not valid base64';
}
