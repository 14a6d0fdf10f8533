// Owns: the synchronous facades' common path — a request becomes an ordinary task on a pool's queue, and the answer
// waits for it to end, within a bound. Must not: shape answers (each facade route answers in its original's shape).

import { ApiError, ApiErrorCode, type ItemSecrets, type ItemSpec, type Task } from '@conncheck/core';
import { BacklogFullError } from '@conncheck/store';
import type { ApiDeps } from './deps.js';
import type { FastifyBaseLogger } from 'fastify';

export interface SyncCheck {
  checkId: string;
  task: Task;
}

/** Why a synchronous check could not answer; each facade turns it into its original's error. */
export class SyncCheckError extends Error {
  constructor(
    readonly kind: 'pool-not-served' | 'not-finished' | 'backlog',
    message: string,
    readonly checkId?: string,
  ) {
    super(message);
    this.name = 'SyncCheckError';
  }
}

/**
 * Runs `items` as a task of `type` on `pool` and waits for it to end: at most the largest item timeout plus
 * CONNCHECK_SYNC_WAIT_MARGIN_MS. A pool no live worker serves is refused before anything is stored; a task that does
 * not end in time is left to run (its check_id goes with the error, to be read later), never answered half-done.
 */
export async function runSyncCheck(
  deps: ApiDeps,
  project: string,
  pool: string,
  type: string,
  items: { spec: ItemSpec; secrets: ItemSecrets }[],
  log: FastifyBaseLogger,
): Promise<SyncCheck> {
  if (!(await deps.registry.serves(pool))) {
    throw new SyncCheckError('pool-not-served', `no live worker serves pool "${pool}" (none has sent a heartbeat in the last ${deps.registry.ttlMs / 1000} s)`);
  }
  let checkId: string;
  try {
    const submitted = await deps.store.submit(project, items, deps.queue, pool, { maxUnfinished: deps.config.maxPendingItemsPerProject, type });
    checkId = submitted.check_id;
    void submitted.enqueued.then((added) => {
      if (!added) log.warn({ check_id: checkId, project }, 'could not add the jobs; a worker adds them from the enqueue intent within seconds');
    });
  } catch (err) {
    if (err instanceof BacklogFullError) {
      throw new SyncCheckError(
        'backlog',
        `project ${project} has ${err.backlog} unfinished items; ${items.length} more would pass the limit of ${err.limit} (CONNCHECK_MAX_PENDING_ITEMS)`,
      );
    }
    throw err;
  }
  const waitMs = Math.max(...items.map(({ spec }) => spec.timeout_ms)) + deps.config.syncWaitMarginMs;
  const task = await deps.store.getTaskWhenEnded(checkId, project, waitMs);
  if (!task) throw new ApiError(500, ApiErrorCode.INTERNAL_ERROR, 'the task vanished while it was being waited for', { checkId, project });
  if (task.finished_at === null) {
    const started = task.summary.succeeded + task.summary.failed + task.summary.running > 0;
    throw new SyncCheckError(
      'not-finished',
      `the check did not end within ${waitMs} ms (${started ? `${task.summary.pending + task.summary.running} of ${task.summary.total} items still unfinished` : `no worker of pool "${pool}" picked it up`}); it goes on: read it at /v1/${project}/checks/${checkId}`,
      checkId,
    );
  }
  return { checkId, task };
}

/** The `X-Check-Id` and `Location` headers of a synchronous answer: the full task, with stages and timings. */
export function checkHeaders(project: string, checkId: string): Record<string, string> {
  return { 'x-check-id': checkId, location: `/v1/${project}/checks/${checkId}` };
}
