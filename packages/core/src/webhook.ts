// Owns: what a webhook receiver relies on — the per-project signing secret and the signature over a delivery.
// Must not: send anything (the worker delivers) or store the secret (it is derived from the service key when needed).

import { createHmac } from 'node:crypto';
import type { SecretBox } from './secret-box.js';

/** A project's webhook signing secret: derived from the service key, so every process agrees and nothing is stored. */
export function webhookSecret(box: SecretBox, project: string): string {
  return `whsec_${box.digest(`webhook-secret:${project}`)}`;
}

/**
 * The `X-Conncheck-Signature` value of a delivery: `v1=` and the hex HMAC-SHA256, under the project's secret, of
 * `<X-Conncheck-Timestamp>.<the raw body>`. A receiver recomputes it and compares in constant time, and refuses a
 * timestamp too far from its clock (replays).
 */
export function webhookSignature(secret: string, timestamp: number, body: string): string {
  return `v1=${createHmac('sha256', secret).update(`${timestamp}.${body}`).digest('hex')}`;
}

/** Why a callback_url cannot be used, or undefined when it can. */
export function callbackUrlProblem(raw: string): string | undefined {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    return 'is not a URL';
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') return `must be http or https, not ${url.protocol.replace(':', '')}`;
  if (url.username !== '' || url.password !== '') return 'must not carry credentials (the delivery is signed instead)';
  if (url.hash !== '') return 'must not have a #fragment';
  return undefined;
}
