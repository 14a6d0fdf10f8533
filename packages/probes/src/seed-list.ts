// Owns: the dns and tcp stages of a target with several endpoints — a MongoDB seed list, a Kafka bootstrap list — one
// stage each for the whole list, and naming the endpoint that failed. Must not: speak any protocol, or resolve and
// connect other than through dial.ts.

import { hostPort, ItemErrorCode } from '@conncheck/core';
import { dialTcp, resolveTarget, type Dialed } from './dial.js';
import { normalizeAddress, type NormalizedAddress } from './network-policy.js';
import { timedOut } from './node-errors.js';
import { ProbeFailure } from './probe-result.js';
import { attemptDeadline, quiet, stepDeadline, within } from './step-context.js';
import type { Endpoint, ProbeContext } from './types.js';

/** An endpoint of the list, resolved: every address allowed by the policy. */
export interface Seed extends Endpoint {
  addresses: NormalizedAddress[];
}

interface Failed {
  endpoint: Endpoint;
  failure: ProbeFailure;
}

/**
 * The dns stage of the list: every endpoint resolved at once and every address checked against the policy. A forbidden
 * address fails the check whatever else resolved: a list must not slip past the policy. An endpoint that does not
 * resolve fails it too when clients need `all` of them (MongoDB seeds); when they need `one` (Kafka bootstrap servers)
 * it is left out and returned in `skipped`, unless none resolved.
 */
export async function resolveSeeds(
  endpoints: readonly Endpoint[],
  ctx: ProbeContext,
  need: 'all' | 'one',
): Promise<{ seeds: Seed[]; skipped: ProbeFailure[] }> {
  if (endpoints.length === 0) throw new Error('a seed list without an endpoint');
  const anyName = endpoints.some((e) => !normalizeAddress(e.host));
  if (anyName) ctx.stages.begin('dns');
  else ctx.stages.skip('dns', endpoints.length > 1 ? 'IP addresses' : 'IP address');
  // Each lookup records into its own recorder, which nobody reads: the item has one dns stage for the list.
  const settled = await Promise.allSettled(endpoints.map(async (e) => ({ ...e, addresses: (await resolveTarget(e.host, quiet(ctx))).addresses })));
  const { values: seeds, failed } = sorted(settled, endpoints);
  const forbidden = failed.find((f) => f.failure.code === ItemErrorCode.TARGET_FORBIDDEN)?.failure;
  const unresolved = failed.filter((f) => f.failure.code !== ItemErrorCode.TARGET_FORBIDDEN);
  if (!forbidden && unresolved.length > 0 && (need === 'all' || seeds.length === 0)) throw oneFailure(unresolved, endpoints.length);
  const resolvedNames = seeds.filter((seed) => !normalizeAddress(seed.host));
  if (anyName) ctx.stages.ok(resolvedNames.map((s) => `${s.host} → ${s.addresses.map((a) => a.address).join(', ')}`).join('; '));
  if (forbidden) throw forbidden;
  return { seeds, skipped: unresolved.map((f) => f.failure) };
}

/**
 * The tcp stage of a list every endpoint of which must connect (a MongoDB seed list: clients connect with any seed):
 * all dialed at once, each a little short of the deadline, so that one that never answers is named.
 */
export async function dialAll(seeds: readonly Seed[], ctx: ProbeContext): Promise<Dialed[]> {
  ctx.stages.begin('tcp');
  const deadline = stepDeadline(ctx);
  const settled = await Promise.allSettled(seeds.map((seed) => within(ctx, deadline, timedOut, (step) => dialTcp(seed.addresses, seed.port, step))));
  if (settled.some((r) => r.status === 'rejected')) {
    for (const r of settled) if (r.status === 'fulfilled') r.value.socket.destroy();
  }
  const { values, failed } = sorted(settled, seeds);
  if (failed.length > 0) throw oneFailure(failed, seeds.length);
  ctx.stages.ok(values.map((d) => d.address).join(', '));
  return values;
}

/**
 * The tcp stage of a list one endpoint of which is enough (a Kafka bootstrap list): dialed in order until one
 * connects, each but the last within its share of the time left. The ones that failed come back in `skipped`.
 */
export async function dialFirst(seeds: readonly Seed[], ctx: ProbeContext): Promise<{ seed: Seed; dialed: Dialed; skipped: ProbeFailure[] }> {
  ctx.stages.begin('tcp');
  const failed: Failed[] = [];
  for (const [index, seed] of seeds.entries()) {
    try {
      const dialed = await within(ctx, attemptDeadline(ctx, seeds.length - index), timedOut, (attempt) => dialTcp(seed.addresses, seed.port, attempt));
      ctx.stages.ok(dialed.address);
      return { seed, dialed, skipped: failed.map((f) => f.failure) };
    } catch (err) {
      if (!(err instanceof ProbeFailure)) throw err;
      failed.push({ endpoint: seed, failure: err });
    }
  }
  throw oneFailure(failed, seeds.length);
}

/** The values and the ProbeFailures, by endpoint; anything else (the run ended, a bug) is rethrown as it is. */
function sorted<T>(settled: PromiseSettledResult<T>[], endpoints: readonly Endpoint[]): { values: T[]; failed: Failed[] } {
  const values: T[] = [];
  const failed: Failed[] = [];
  for (const [i, r] of settled.entries()) {
    if (r.status === 'fulfilled') values.push(r.value);
    else if (r.reason instanceof ProbeFailure) failed.push({ endpoint: endpoints[i]!, failure: r.reason });
    else throw r.reason;
  }
  return { values, failed };
}

/** One failure for several: the first endpoint's code decides (as dialTcp does for the addresses of a name), the message names each. */
function oneFailure(failed: readonly Failed[], listed: number): ProbeFailure {
  const [first] = failed;
  if (!first) throw new Error('oneFailure() without a failure');
  if (listed === 1) return first.failure;
  return new ProbeFailure(
    first.failure.code,
    failed.map(({ endpoint, failure }) => `${hostPort(endpoint.host, endpoint.port)}: ${failure.message}`).join('; '),
    first.failure.tls,
  );
}
