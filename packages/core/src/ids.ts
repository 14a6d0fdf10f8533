// Owns: identifiers conncheck mints (check ids, worker ids).
// Must not: encode anything secret or guessable beyond the creation time.

import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';

/**
 * A UUIDv7 (RFC 9562): 48-bit Unix milliseconds, then random bits. Sorting ids as text sorts them by creation
 * time, which the store relies on for newest-first listing and for pruning old index entries by time.
 */
export function newCheckId(now: number = Date.now()): string {
  const bytes = randomBytes(16);
  bytes.writeUIntBE(now, 0, 6);
  bytes[6] = (bytes[6]! & 0x0f) | 0x70;
  bytes[8] = (bytes[8]! & 0x3f) | 0x80;
  const hex = bytes.toString('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

/** The lowest UUIDv7 text for a millisecond: every id minted at or after `ms` sorts at or above it. */
export function checkIdFloor(ms: number): string {
  const hex = Math.max(0, Math.floor(ms)).toString(16).padStart(12, '0');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-7000-8000-000000000000`;
}

/** When a check id was minted (ms), from its UUIDv7 time field; undefined for anything that is not a check id. */
export function checkIdTime(checkId: string): number | undefined {
  if (!new RegExp(CHECK_ID_PATTERN).test(checkId)) return undefined;
  return Number.parseInt(checkId.slice(0, 8) + checkId.slice(9, 13), 16);
}

/** What a project id may be (path parameters, token grants). */
export const PROJECT_ID_PATTERN = '^[A-Za-z0-9_.-]{1,64}$';

/** What a worker pool (network zone) name may be: CONNCHECK_WORKER_POOL, cluster_id, instance_id, queue names. */
export const POOL_NAME_PATTERN = '^[A-Za-z0-9_-]{1,64}$';

export const CHECK_ID_PATTERN = '^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$';

export function newWorkerId(): string {
  return `${hostname()}:${process.pid}:${randomBytes(3).toString('hex')}`;
}
