// Owns: what a probe returns — ProbeFailure (a target-side failure with its item code and causes), and the
// one way a success and a failure are built from what the probe learned. Must not: map driver errors (*-errors.ts),
// decide about deadlines, or set the stages (run-probe.ts adds them).

import type { ItemErrorCode } from '@conncheck/core';
import type { ProbeContext, ProbeResult, ServerInfo, TlsReport } from './types.js';

/**
 * Thrown inside a probe by the helpers it calls (dial, handshake) and caught at the probe's boundary, which
 * returns it as a result. It never leaves a probe: a probe that throws anything else has a bug.
 */
export class ProbeFailure extends Error {
  constructor(
    readonly code: ItemErrorCode,
    /** What happened; the message adds the causes. */
    readonly what: string,
    /** What the server presented, when TLS got far enough to tell (a certificate it was refused for). */
    readonly tls?: TlsReport,
    /** What caused it, as far as conncheck can tell (servers often answer two causes alike): alternatives, likeliest first. */
    readonly causes: readonly string[] = [],
  ) {
    super(causes.length > 0 ? `${what} — ${causes.join(', or ')}` : what);
    this.name = 'ProbeFailure';
  }

  /** The same failure with one more cause it may have. */
  orBecause(cause: string): ProbeFailure {
    return new ProbeFailure(this.code, this.what, this.tls, [...this.causes, cause]);
  }

  /** The failure once a diagnosis found its cause: `code` for what it turned out to be, `cause` instead of the guesses. */
  because(code: ItemErrorCode, cause: string): ProbeFailure {
    return new ProbeFailure(code, this.what, this.tls, [cause]);
  }
}

/** What a probe learned about the target; kept whether the check succeeds or not. */
export interface Findings {
  /** The address connected to (`ip:port`). */
  address?: string | undefined;
  server?: ServerInfo | undefined;
  tls?: TlsReport | undefined;
  cluster?: Record<string, unknown> | undefined;
  warnings?: readonly string[] | undefined;
}

export function successResult(found: Findings): ProbeResult {
  return { success: true, ...present(found) };
}

/**
 * The failed result for a ProbeFailure, with what was learned before it; rethrows anything else, so bugs and aborts
 * reach the runner as they are. The stage in progress ends failed now, not when the probe has cleaned up.
 */
export function failureResult(err: unknown, ctx: ProbeContext, found: Findings = {}): ProbeResult {
  if (!(err instanceof ProbeFailure)) throw err;
  ctx.stages.fail();
  return { ...(err.tls ? { tls: err.tls } : {}), ...present(found), success: false, error_code: err.code, error_msg: err.message };
}

/** The findings a result shows: none that is unknown, and no empty list. */
function present({ address, server, tls, cluster, warnings }: Findings): Omit<ProbeResult, 'success'> {
  return {
    ...(address ? { address } : {}),
    ...(server ? { server } : {}),
    ...(tls ? { tls } : {}),
    ...(cluster ? { cluster } : {}),
    ...(warnings?.length ? { warnings: [...warnings] } : {}),
  };
}
