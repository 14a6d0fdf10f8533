// Owns: resolving a target host once, checking every resolved address against the network policy, and the TCP
// connect to those addresses (the `dns` and `tcp` stages) — for the target, or for one more endpoint inside a running
// probe (reach). Must not: speak any protocol above TCP or own the deadline.

import { promises as dns } from 'node:dns';
import { Socket } from 'node:net';
import { hostPort, ItemErrorCode } from '@conncheck/core';
import { normalizeAddress, type NormalizedAddress } from './network-policy.js';
import { fromNodeError, nodeError } from './node-errors.js';
import { ProbeFailure } from './probe-result.js';
import { abortable, abortReason, attemptDeadline, subDeadline, within } from './step-context.js';
import type { Endpoint, ProbeContext } from './types.js';

export interface ResolvedTarget {
  /** The host as given. */
  host: string;
  /** Every address the host resolved to, in resolver order, all allowed by the policy. */
  addresses: NormalizedAddress[];
}

export interface Dialed {
  socket: Socket;
  remote: NormalizedAddress;
  port: number;
  /** `ip:port` (`[ip6]:port`) actually connected to. */
  address: string;
}

/**
 * Resolves `host` once. IP literals skip DNS. Fails with TARGET_FORBIDDEN if ANY resolved address is denied:
 * a name that mixes allowed and forbidden addresses is the classic way to slip past an SSRF filter.
 */
export async function resolveTarget(host: string, ctx: ProbeContext): Promise<ResolvedTarget> {
  const literal = normalizeAddress(host);
  const mapped = literal ? undefined : ctx.hosts?.get(host.toLowerCase().replace(/\.$/, ''));
  let addresses: NormalizedAddress[];
  if (literal) {
    ctx.stages.skip('dns', 'IP address');
    addresses = [literal];
  } else if (mapped !== undefined) {
    const address = normalizeAddress(mapped);
    if (!address) throw new ProbeFailure(ItemErrorCode.DNS_RESOLUTION_FAILED, `hosts maps "${host}" to "${mapped}", which is not an IP address`);
    ctx.stages.skip('dns', `${address.address} (from hosts)`);
    addresses = [address];
  } else {
    ctx.stages.begin('dns');
    addresses = await lookup(host, ctx);
    ctx.stages.ok(addresses.map((a) => a.address).join(', '));
  }
  for (const { address } of addresses) {
    const decision = ctx.policy.check(address);
    if (!decision.allowed) {
      const via = literal ? '' : `"${host}" resolves to ${address}; `;
      throw new ProbeFailure(ItemErrorCode.TARGET_FORBIDDEN, `${via}${decision.reason}, which this deployment may not connect to`);
    }
  }
  return { host, addresses };
}

async function lookup(host: string, ctx: ProbeContext): Promise<NormalizedAddress[]> {
  let found: { address: string }[];
  try {
    found = await abortable(dns.lookup(host, { all: true, verbatim: true }), ctx.signal);
  } catch (err) {
    const failure = fromNodeError(err, `cannot resolve "${host}"`);
    if (failure) throw failure;
    throw err;
  }
  const addresses: NormalizedAddress[] = [];
  for (const { address } of found) {
    const normalized = normalizeAddress(address);
    if (normalized && !addresses.some((a) => a.address === normalized.address)) addresses.push(normalized);
  }
  if (addresses.length === 0) {
    throw new ProbeFailure(ItemErrorCode.DNS_RESOLUTION_FAILED, `cannot resolve "${host}": the name has no address`);
  }
  return addresses;
}

/**
 * Connects to the resolved addresses in order until one answers, within the deadline; each but the last within its
 * share of the time left (attemptDeadline). The socket is tracked from the start, so the runner destroys it at the
 * deadline however far the connect got.
 */
export async function dialTcp(addresses: readonly NormalizedAddress[], port: number, ctx: ProbeContext): Promise<Dialed> {
  ctx.stages.begin('tcp');
  // The ranges were checked when the name was resolved; some endpoints are denied by port too (the service's own Redis).
  for (const remote of addresses) {
    const decision = ctx.policy.checkEndpoint(remote.address, port);
    if (!decision.allowed) throw new ProbeFailure(ItemErrorCode.TARGET_FORBIDDEN, `${decision.reason}, which this deployment may not connect to`);
  }
  const failures: ProbeFailure[] = [];
  for (const [index, remote] of addresses.entries()) {
    const address = hostPort(remote.address, port);
    try {
      const deadline = attemptDeadline(ctx, addresses.length - index);
      const socket = await within(
        ctx,
        deadline,
        () => nodeError('ETIMEDOUT', 'connect timed out'),
        (attempt) => connectOnce(remote, port, attempt),
      );
      ctx.stages.ok(address);
      return { socket, remote, port, address };
    } catch (err) {
      const failure = fromNodeError(err, `connect to ${address}`);
      if (!failure) throw err;
      failures.push(failure);
    }
  }
  const [first] = failures;
  if (!first) throw new Error('dialTcp called without addresses');
  // Like Go's dialer, the first address's error decides the code; the message keeps every attempt.
  throw new ProbeFailure(first.code, failures.map((f) => f.message).join('; '));
}

/**
 * Resolves `endpoint` once, checks every address against the policy and connects to one of them, by `deadline` when
 * one is given (a step inside the probe: its stages go nowhere). Throws a ProbeFailure: DNS_RESOLUTION_FAILED,
 * TARGET_FORBIDDEN or a connect code. The socket is tracked by the runner; destroy it when only reachability counted.
 */
export async function reach(endpoint: Endpoint, ctx: ProbeContext, deadline?: number): Promise<Dialed> {
  let phase: 'dns' | 'tcp' = 'dns';
  // Out of time while resolving is a DNS server that did not answer, while connecting a connect that timed out.
  const expired = (ms: number): Error => nodeError(phase === 'dns' ? 'EAI_AGAIN' : 'ETIMEDOUT', `no answer within ${ms} ms`);
  const step = deadline === undefined ? { ctx, done: () => undefined } : subDeadline(ctx, deadline, expired);
  try {
    const { addresses } = await resolveTarget(endpoint.host, step.ctx);
    phase = 'tcp';
    return await dialTcp(addresses, endpoint.port, step.ctx);
  } finally {
    step.done();
  }
}

function connectOnce(remote: NormalizedAddress, port: number, ctx: ProbeContext): Promise<Socket> {
  return new Promise<Socket>((resolve, reject) => {
    const socket = new Socket();
    ctx.track(socket);
    const done = (): void => {
      socket.off('connect', onConnect);
      socket.off('error', onError);
      ctx.signal.removeEventListener('abort', onAbort);
    };
    const onConnect = (): void => {
      done();
      resolve(socket);
    };
    const onError = (err: Error): void => {
      done();
      socket.destroy();
      reject(err);
    };
    const onAbort = (): void => onError(abortReason(ctx.signal));
    if (ctx.signal.aborted) return onAbort();
    socket.once('connect', onConnect);
    socket.once('error', onError);
    ctx.signal.addEventListener('abort', onAbort, { once: true });
    socket.setNoDelay(true);
    socket.connect({ host: remote.address, port, family: remote.family });
  });
}
