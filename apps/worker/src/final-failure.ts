// Owns: telling whether BullMQ will run a failed job again, for the workers' 'failed' handlers.
// Must not: match on error text; BullMQ's error class says what its message would.

import { type Job, UnrecoverableError } from 'bullmq';

/**
 * Whether a failed job will not run again: its attempts are used up, or BullMQ failed it as unrecoverable. A job that
 * stalled more than maxStalledCount times is one of those: BullMQ marks it and the next worker that takes it fails it
 * with an UnrecoverableError ("job stalled more than allowable limit") without running it. The name is checked too,
 * for an error that crossed a second copy of bullmq.
 */
export function isFinalFailure(job: Job, err: Error): boolean {
  return err instanceof UnrecoverableError || err.name === 'UnrecoverableError' || job.attemptsMade >= (job.opts.attempts ?? 1);
}
