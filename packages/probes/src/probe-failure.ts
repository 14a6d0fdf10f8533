// Owns: ProbeFailure (a target-side failure with its item error code) and turning it into a ProbeResult.
// Must not: map driver errors (error-mapping.ts) or decide about deadlines (run-probe.ts).

import type { ItemErrorCode } from '@conncheck/core';
import type { ProbeContext, ProbeResult, TlsReport } from './types.js';

/**
 * Thrown inside a probe by the helpers it calls (dial, handshake) and caught at the probe's boundary, which
 * returns it as a result. It never leaves a probe: a probe that throws anything else has a bug.
 */
export class ProbeFailure extends Error {
  constructor(
    readonly code: ItemErrorCode,
    message: string,
    /** What the server presented, when TLS got far enough to tell (a certificate it was refused for). */
    readonly tls?: TlsReport,
  ) {
    super(message);
    this.name = 'ProbeFailure';
  }
}

/** The failed result for a ProbeFailure; rethrows anything else, so bugs and aborts reach the runner as they are. */
export function failureResult(err: unknown, ctx: ProbeContext, extra: Partial<ProbeResult> = {}): ProbeResult {
  if (!(err instanceof ProbeFailure)) throw err;
  ctx.stages.fail();
  return { ...(err.tls ? { tls: err.tls } : {}), ...withoutUndefined(extra), success: false, error_code: err.code, error_msg: err.message, stages: ctx.stages.finish() };
}

function withoutUndefined(extra: Partial<ProbeResult>): Partial<ProbeResult> {
  return Object.fromEntries(Object.entries(extra).filter(([, value]) => value !== undefined));
}
