// Owns: turning Node's socket and DNS errors (by their `code`) into item failures: the part of error mapping every
// probe shares. Must not: know any driver (each driver's mapping lives next to its probe), or match on message text.

import { ItemErrorCode as Code } from '@conncheck/core';
import { ProbeFailure } from './probe-result.js';

/** Node `err.code` of socket and DNS errors, with a short phrase for error_msg. */
const NODE_CODES: Readonly<Record<string, readonly [Code, string]>> = {
  ENOTFOUND: [Code.DNS_RESOLUTION_FAILED, 'name not found'],
  EAI_NONAME: [Code.DNS_RESOLUTION_FAILED, 'name not found'],
  EAI_NODATA: [Code.DNS_RESOLUTION_FAILED, 'the name has no address'],
  EAI_AGAIN: [Code.DNS_RESOLUTION_FAILED, 'temporary DNS failure (the DNS server did not answer)'],
  EAI_FAIL: [Code.DNS_RESOLUTION_FAILED, 'the DNS server failed'],
  ECONNREFUSED: [Code.CONNECTION_REFUSED, 'connection refused'],
  EHOSTUNREACH: [Code.HOST_UNREACHABLE, 'no route to host'],
  ENETUNREACH: [Code.HOST_UNREACHABLE, 'network unreachable'],
  EHOSTDOWN: [Code.HOST_UNREACHABLE, 'host is down'],
  ENETDOWN: [Code.HOST_UNREACHABLE, 'network is down'],
  EADDRNOTAVAIL: [Code.HOST_UNREACHABLE, 'address not reachable from this worker'],
  ECONNRESET: [Code.CONNECTION_RESET, 'connection reset by the server'],
  EPIPE: [Code.CONNECTION_RESET, 'connection closed by the server'],
  ECONNABORTED: [Code.CONNECTION_RESET, 'connection aborted'],
  ETIMEDOUT: [Code.CONNECTION_TIMEOUT, 'connection timed out'],
};

/** Maps a Node socket or DNS error by its `code`; undefined when it is not one. */
export function fromNodeError(err: unknown, what?: string): ProbeFailure | undefined {
  const code = errorCode(err);
  const mapping = code === undefined ? undefined : NODE_CODES[code];
  return mapping && new ProbeFailure(mapping[0], `${what ? `${what}: ` : ''}${mapping[1]} (${code})`);
}

/** An error with a Node `code`, for a deadline a probe sets itself: mapped exactly like the real one. */
export function nodeError(code: string, message: string): Error {
  return Object.assign(new Error(message), { code });
}

/** A step inside a probe out of its time, named like a connect that timed out. */
export const timedOut = (ms: number): Error => nodeError('ETIMEDOUT', `no answer within ${ms} ms`);

export function errorCode(err: unknown): string | undefined {
  if (typeof err !== 'object' || err === null) return undefined;
  const code = (err as { code?: unknown }).code;
  return typeof code === 'string' ? code : undefined;
}
