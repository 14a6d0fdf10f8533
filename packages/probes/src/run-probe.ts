// Owns: running one probe under one absolute deadline and a cancel signal — the context, every timer (ctx.at), socket
// cleanup, the stages and total duration of the result, turning deadline/cancel/bugs into results, and scrubbing
// results. Must not: know any protocol.

import { performance } from 'node:perf_hooks';
import type { Socket } from 'node:net';
import { type CheckResult, type ItemOutcome, ItemErrorCode } from '@conncheck/core';
import type { NetworkPolicy } from './network-policy.js';
import { redactServerText, serverText } from './server-text.js';
import { createStageRecorder, roundMs } from './stage-recorder.js';
import type { Probe, ProbeContext, ProbeLogger, ProbeResult, ProbeTarget, Stage } from './types.js';

export interface RunProbeOptions {
  /** The item's whole budget: DNS, connect, handshake and probe together. */
  timeoutMs: number;
  policy: NetworkPolicy;
  logger: ProbeLogger;
  /** Aborting it cancels the run; the result is CANCELED. */
  signal?: AbortSignal | undefined;
  /** Names to resolve to these addresses instead of by DNS (lower-case name → IP), e.g. a saved connection's hosts. */
  hosts?: ReadonlyMap<string, string> | undefined;
}

/** A probe's result with the run's duration: the outcome the worker hands the store. */
export type RunResult = ItemOutcome;

// eslint-disable-next-line no-control-regex
const CONTROL = /[\u0000-\u001f\u007f-\u009f]/;
// eslint-disable-next-line no-control-regex
const CONTROL_ALL = /[\u0000-\u001f\u007f-\u009f]+/g;

/** Longest error_msg kept: server text is untrusted and can be anything. */
const MAX_MESSAGE_LENGTH = 500;

/**
 * Runs `probe` against `target` and always resolves (never rejects). At the deadline it destroys every socket
 * the probe tracked and resolves at once with what is known so far, whatever the probe is still waiting for;
 * Node's socket.setTimeout is an idle timer that a trickling server defeats, so this timer is the only bound.
 */
export async function runProbe(probe: Probe, target: ProbeTarget, options: RunProbeOptions): Promise<RunResult> {
  const { timeoutMs, policy, logger, signal: external, hosts } = options;
  if (!Number.isFinite(timeoutMs) || timeoutMs <= 0) throw new RangeError(`timeoutMs must be a positive number, got ${timeoutMs}`);
  const started = performance.now();
  const controller = new AbortController();
  const sockets = new Set<Socket>();
  const timers = new Set<NodeJS.Timeout>();
  const stages = createStageRecorder();
  const ctx: ProbeContext = {
    signal: controller.signal,
    deadline: Date.now() + timeoutMs,
    logger,
    policy,
    hosts,
    stages,
    track(socket) {
      // Drivers attach their own 'error' listeners; this one makes sure a socket error between two owners, or
      // after the run, can never become an uncaught exception that takes the worker down.
      socket.on('error', (err) => logger.debug({ err: String(err) }, 'probe socket error'));
      if (controller.signal.aborted) {
        socket.destroy();
        return;
      }
      sockets.add(socket);
      socket.once('close', () => sockets.delete(socket));
    },
    at(time, fn) {
      if (controller.signal.aborted) return () => undefined;
      const timer = setTimeout(
        () => {
          timers.delete(timer);
          fn();
        },
        Math.max(0, time - Date.now()),
      );
      timers.add(timer);
      return () => {
        clearTimeout(timer);
        timers.delete(timer);
      };
    },
  };

  return new Promise<RunResult>((resolve) => {
    let settled = false;
    const settle = (result: ProbeResult): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      for (const step of timers) clearTimeout(step);
      timers.clear();
      external?.removeEventListener('abort', onCancel);
      // Aborting also on success stops whatever the probe left behind; the reason has no `code`, so it is never
      // mistaken for a network error by the probe's own error mapping.
      controller.abort(RUN_FINISHED);
      // Newest first: a TLS socket goes before the TCP socket under it. Destroying the TCP socket first while the TLS
      // socket is still open crashes Node 20 (SIGSEGV in TLSWrap) when the TLS socket is destroyed afterwards.
      if (sockets.size === 1) for (const socket of sockets) socket.destroy();
      else for (const socket of [...sockets].reverse()) socket.destroy();
      sockets.clear();
      resolve({ ...scrub({ ...result, stages: stages.finish() }, target), duration_ms: roundMs(performance.now() - started) });
    };

    const onDeadline = (): void => settle(deadlineResult(target, stages.current, timeoutMs, ctx));
    const onCancel = (): void => {
      stages.fail('canceled');
      settle(failed(ItemErrorCode.CANCELED, 'the check was canceled', ctx));
    };
    const timer = setTimeout(onDeadline, timeoutMs);
    if (external?.aborted) return onCancel();
    external?.addEventListener('abort', onCancel, { once: true });

    let running: Promise<ProbeResult>;
    try {
      running = probe(target, ctx);
    } catch (err) {
      // eslint-disable-next-line @typescript-eslint/prefer-promise-reject-errors -- the probe's own throw, passed on as it is
      running = Promise.reject(err);
    }
    running.then(
      (result) => settle(result),
      (err: unknown) => {
        // After the deadline or a cancel, drivers reject because their socket was destroyed: expected, ignored.
        if (settled) return logger.debug({ err: String(err) }, 'probe settled after its run ended');
        logger.warn({ err, dbType: target.dbType }, 'probe threw: this is a bug in the probe');
        settle(failed(ItemErrorCode.INTERNAL_ERROR, `internal error in the ${target.dbType} probe (see the worker log)`, ctx));
      },
    );
  });
}

function deadlineResult(target: ProbeTarget, stage: Stage['name'] | undefined, timeoutMs: number, ctx: ProbeContext): ProbeResult {
  const endpoint = target.endpoints[0];
  const where = endpoint ? `${endpoint.host}:${endpoint.port}` : 'the target';
  ctx.stages.fail(`timed out after ${timeoutMs} ms`);
  switch (stage) {
    case 'dns':
      return failed(ItemErrorCode.DNS_RESOLUTION_FAILED, `resolving "${endpoint?.host ?? ''}" timed out after ${timeoutMs} ms`, ctx);
    case 'tcp':
      return failed(ItemErrorCode.CONNECTION_TIMEOUT, `no TCP connection to ${where} within ${timeoutMs} ms`, ctx);
    case undefined:
      return failed(ItemErrorCode.TIMEOUT, `the check of ${where} did not finish within ${timeoutMs} ms`, ctx);
    default:
      return failed(ItemErrorCode.TIMEOUT, `connected to ${where}, but the ${stage} stage did not finish within ${timeoutMs} ms`, ctx);
  }
}

function failed(code: ItemErrorCode, message: string, ctx: ProbeContext): ProbeResult {
  // The address is known once tcp succeeded, even if the probe never got to return it.
  const address = ctx.stages.finish().find((s) => s.name === 'tcp' && s.status === 'ok')?.detail;
  return { success: false, error_code: code, error_msg: message, ...(address ? { address } : {}) };
}

/**
 * Makes a result safe to store: the secret removed from what the server said (marked by serverText where it entered;
 * conncheck's own wording is never altered), control characters flattened, messages bounded. A password equal to the
 * user name is not a secret the message could reveal: the user name is shown anyway.
 */
function scrub(result: CheckResult, target: ProbeTarget): CheckResult {
  const secrets = target.password && target.password !== target.user ? [target.password] : [];
  const clean = (text: string): string => {
    // Most texts need nothing: test before building new strings (this runs for every stage of every item).
    let out = redactServerText(text, secrets);
    if (!CONTROL.test(out) && out.length <= MAX_MESSAGE_LENGTH) return out;
    out = out.replace(CONTROL_ALL, ' ');
    return out.length > MAX_MESSAGE_LENGTH ? `${out.slice(0, MAX_MESSAGE_LENGTH)}…` : out;
  };
  const fromServer = (text: string): string => clean(serverText(text));
  return {
    ...result,
    ...(result.error_msg !== undefined ? { error_msg: clean(result.error_msg) } : {}),
    ...(result.warnings ? { warnings: result.warnings.map(clean) } : {}),
    ...(result.server ? { server: { product: fromServer(result.server.product), version: fromServer(result.server.version) } } : {}),
    stages: result.stages.map((stage) => {
      if (stage.detail === undefined) return stage;
      const detail = clean(stage.detail);
      return detail === stage.detail ? stage : { ...stage, detail };
    }),
  };
}

class AbortError extends Error {
  override name = 'AbortError';
}

/** One shared reason: an Error per run would capture a stack trace per item for nothing. */
const RUN_FINISHED = new AbortError('probe run finished');
