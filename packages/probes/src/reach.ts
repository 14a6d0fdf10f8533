// Owns: resolving, policy-checking and TCP-connecting one more endpoint inside a running probe — a second seed, or an
// address a server hands back (replica-set member) — within a budget, without recording stages. Must not: speak any
// protocol, or connect anywhere but through dial.ts.

import { dialTcp, resolveTarget, type Dialed } from './dial.js';
import { createStageRecorder } from './stage-recorder.js';
import type { Endpoint, ProbeContext } from './types.js';

/**
 * Left for the probe after a budgeted step, so that it can still name the culprit itself: without it the runner's
 * deadline would end the item as a plain TIMEOUT of whatever stage was open, naming the first endpoint.
 */
export const RESERVE_MS = 250;

/** The budget for one more step: what is left before the deadline, less the reserve (at least 50 ms). */
export function stepBudget(ctx: ProbeContext): number {
  return Math.max(50, ctx.deadline - Date.now() - RESERVE_MS);
}

export interface Budgeted {
  /** `ctx` with its own signal (aborted at the budget, or with the run) and a stage recorder nobody reads. */
  ctx: ProbeContext;
  /** Clears the budget timer. Call when the step is over. */
  done(): void;
}

/**
 * A context for a side step that must end within `budgetMs`. When the budget runs out, the step's signal aborts
 * with an error carrying `timeoutCode` (a Node error code, so the usual mapping names it: ETIMEDOUT while
 * connecting, EAI_AGAIN while resolving); when the run ends, with the run's own reason.
 */
export function budgeted(ctx: ProbeContext, budgetMs: number, timeoutCode: () => string): Budgeted {
  const controller = new AbortController();
  const onAbort = (): void => controller.abort(ctx.signal.reason);
  ctx.signal.addEventListener('abort', onAbort, { once: true });
  const timer = setTimeout(() => {
    const code = timeoutCode();
    controller.abort(Object.assign(new Error(`no answer within ${Math.round(budgetMs)} ms`), { code }));
  }, budgetMs);
  if (ctx.signal.aborted) onAbort();
  return {
    ctx: { ...ctx, signal: controller.signal, deadline: Math.min(ctx.deadline, Date.now() + budgetMs), stages: createStageRecorder() },
    done() {
      clearTimeout(timer);
      ctx.signal.removeEventListener('abort', onAbort);
    },
  };
}

/**
 * Resolves `endpoint` once, checks every address against the policy and connects to one of them, all within
 * `budgetMs`. Throws a ProbeFailure: DNS_RESOLUTION_FAILED, TARGET_FORBIDDEN or a connect code. The socket is
 * tracked by the runner; destroy it when only reachability was the question.
 */
export async function reach(endpoint: Endpoint, ctx: ProbeContext, budgetMs: number): Promise<Dialed> {
  let phase: 'dns' | 'tcp' = 'dns';
  const step = budgeted(ctx, budgetMs, () => (phase === 'dns' ? 'EAI_AGAIN' : 'ETIMEDOUT'));
  try {
    const { addresses } = await resolveTarget(endpoint.host, step.ctx);
    phase = 'tcp';
    return await dialTcp(addresses, endpoint.port, step.ctx);
  } finally {
    step.done();
  }
}
