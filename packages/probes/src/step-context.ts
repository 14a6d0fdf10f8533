// Owns: contexts derived from a probe's for a side step (a second seed, an advertised member, a diagnosis) — a stage
// recorder nobody reads, a sub-deadline inside the probe's, and how the time left is shared out between steps.
// Must not: connect anywhere or record the item's stages; its timers are the runner's (ctx.at).

import { setMaxListeners } from 'node:events';
import { createStageRecorder } from './stage-recorder.js';
import type { ProbeContext } from './types.js';

/**
 * Left for the probe after a side step, so that it can still name the culprit itself: without it the runner's
 * deadline would end the item as a plain TIMEOUT of whatever stage was open, naming the first endpoint.
 */
const RESERVE_MS = 250;
/** No attempt of several may eat the whole deadline, but none gets less than this either (Go's net.Dialer does the same). */
const MIN_ATTEMPT_MS = 2000;
/** Below this much time left a diagnosis is skipped: the plain failure is still right, a TIMEOUT would not be. */
const MIN_DIAGNOSIS_MS = 500;

/** `ctx` with its own stage recorder, which nobody reads: the item's stages describe the check that was asked for. */
export function quiet(ctx: ProbeContext): ProbeContext {
  return { ...ctx, stages: createStageRecorder() };
}

/** The end of one more side step: the probe's deadline less a reserve (but at least 50 ms from now). */
export function stepDeadline(ctx: ProbeContext): number {
  return Date.now() + Math.max(50, ctx.deadline - Date.now() - RESERVE_MS);
}

/**
 * The end of one attempt of `left` still to make (the addresses of a name, the servers of a bootstrap list): an equal
 * share of the time left, at least MIN_ATTEMPT_MS. The last attempt gets all of it: undefined, the probe's deadline.
 */
export function attemptDeadline(ctx: ProbeContext, left: number): number | undefined {
  if (left <= 1) return undefined;
  const remaining = ctx.deadline - Date.now();
  return Date.now() + Math.min(remaining, Math.max(remaining / left, MIN_ATTEMPT_MS));
}

/** Whether there is time to make a failure precise with one more look at the server. */
export function timeForDiagnosis(ctx: ProbeContext): boolean {
  return ctx.deadline - Date.now() >= MIN_DIAGNOSIS_MS;
}

export interface SubDeadline {
  /** Quiet, with its own signal and deadline. */
  ctx: ProbeContext;
  /** Stops the sub-deadline's timer; call it when the step is over. */
  done(): void;
}

/**
 * A quiet context whose signal aborts at `deadline` with `expired(ms)` as the reason (ms: the time it had), or with the
 * run's own reason when the run ends first. Give `expired` an error the step's own mapping turns into the right code
 * (a Node ETIMEDOUT while connecting). A deadline at or past the probe's needs no timer: the runner's bounds it.
 */
export function subDeadline(ctx: ProbeContext, deadline: number | undefined, expired: (ms: number) => Error): SubDeadline {
  if (deadline === undefined || deadline >= ctx.deadline) return { ctx: quiet(ctx), done: () => undefined };
  const controller = new AbortController();
  // Every connection of a step may listen on it (Kafka's advertised brokers, MongoDB's members).
  setMaxListeners(0, controller.signal);
  const ms = Math.max(0, Math.round(deadline - Date.now()));
  const onAbort = (): void => controller.abort(ctx.signal.reason);
  ctx.signal.addEventListener('abort', onAbort, { once: true });
  const cancel = ctx.at(deadline, () => controller.abort(expired(ms)));
  if (ctx.signal.aborted) onAbort();
  return {
    ctx: { ...quiet(ctx), signal: controller.signal, deadline },
    done() {
      cancel();
      ctx.signal.removeEventListener('abort', onAbort);
    },
  };
}

/** Runs `step` under a sub-deadline (see subDeadline) and ends it however the step ends. */
export async function within<T>(
  ctx: ProbeContext,
  deadline: number | undefined,
  expired: (ms: number) => Error,
  step: (ctx: ProbeContext) => Promise<T>,
): Promise<T> {
  const sub = subDeadline(ctx, deadline, expired);
  try {
    return await step(sub.ctx);
  } finally {
    sub.done();
  }
}

/** Settles with `promise` or rejects as soon as `signal` aborts; a late rejection of `promise` is swallowed. */
export function abortable<T>(promise: Promise<T>, signal: AbortSignal): Promise<T> {
  promise.catch(() => undefined);
  if (signal.aborted) return Promise.reject(abortReason(signal));
  return new Promise<T>((resolve, reject) => {
    const onAbort = (): void => reject(abortReason(signal));
    signal.addEventListener('abort', onAbort, { once: true });
    promise.then(
      (value) => {
        signal.removeEventListener('abort', onAbort);
        resolve(value);
      },
      (err: unknown) => {
        signal.removeEventListener('abort', onAbort);
        // eslint-disable-next-line @typescript-eslint/prefer-promise-reject-errors -- the step's own rejection, passed on as it is
        reject(err);
      },
    );
  });
}

export function abortReason(signal: AbortSignal): Error {
  return signal.reason instanceof Error ? signal.reason : new Error('aborted');
}
