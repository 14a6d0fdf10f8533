// Owns: the one diagnosis "does this server (or this account) take TLS only?", made after a check without TLS failed
// the way such a server makes it fail, and the TLS handshake it asks with. Must not: decide which failures qualify
// (each probe knows its protocol's), or send credentials: a second login would count against lockout policies.

import type { Socket } from 'node:net';
import { dialTcp, type Dialed } from './dial.js';
import { timedOut } from './node-errors.js';
import type { ProbeFailure } from './probe-result.js';
import { stepDeadline, timeForDiagnosis, within } from './step-context.js';
import { type TlsSession, upgradeToTls } from './tls.js';
import type { ProbeContext, ProbeTarget } from './types.js';

export interface TlsOnlyQuestion {
  /**
   * Asks the server over TLS, on a connection of its own, whether it lets the client go on there; `step` ends a little
   * before the deadline and its stages go nowhere. Absent when the server cannot be asked without a second login
   * (MySQL): the failure then only names the possibility.
   */
  askOverTls?: (step: ProbeContext) => Promise<boolean>;
  /**
   * The failure as the answer tells it, in the protocol's words: TLS_REQUIRED with what the server showed over TLS,
   * or (without askOverTls) the same code with TLS among the possible causes.
   */
  tlsOnly(failure: ProbeFailure): ProbeFailure;
}

/** `failure` made precise when TLS may be why a check without it failed; as it was when the server says otherwise. */
export async function diagnoseTlsOnly(failure: ProbeFailure, target: ProbeTarget, ctx: ProbeContext, question: TlsOnlyQuestion): Promise<ProbeFailure> {
  if (target.tls) return failure;
  if (!question.askOverTls) return question.tlsOnly(failure);
  if (!timeForDiagnosis(ctx)) return failure;
  // The stage that failed ends now: the diagnosis is not part of it.
  ctx.stages.fail();
  try {
    return (await within(ctx, stepDeadline(ctx), timedOut, question.askOverTls)) ? question.tlsOnly(failure) : failure;
  } catch (err) {
    ctx.logger.debug({ err: String(err) }, `${target.dbType}: no TLS on that port either`);
    return failure;
  }
}

/**
 * Connects to the address dialed before once more and completes a TLS handshake there (encrypted, not verified: the
 * question is whether the server speaks TLS). `before` runs on the plain connection first (PostgreSQL's SSLRequest).
 */
export async function handshakeAgain(
  dialed: Dialed,
  host: string,
  step: ProbeContext,
  before?: (socket: Socket, step: ProbeContext) => Promise<void>,
): Promise<TlsSession> {
  const { socket } = await dialTcp([dialed.remote], dialed.port, step);
  await before?.(socket, step);
  return upgradeToTls(socket, host, { mode: 'require' }, step);
}
