// Owns: a worker's part in saved connections — turning a scheduler's job into a check task from this pool, and
// recording a check task's end as the connection's status there (logged and counted when it changes).
// Must not: probe anything itself (the check is an ordinary task) or decide the status (the store does).

import type { Job } from 'bullmq';
import type { Logger } from '@conncheck/core';
import type { ConnectionJobData, ConnectionStore, TaskQueue, TaskStore } from '@conncheck/store';
import { connectionStatusChanges } from './metrics.js';

export interface ConnectionJobsOptions {
  store: TaskStore;
  connections: ConnectionStore;
  queue: TaskQueue;
  logger: Logger;
}

export class ConnectionJobs {
  constructor(private readonly options: ConnectionJobsOptions) {}

  /**
   * A scheduler's job: start a check from `pool`. A connection deleted, or no longer bound to the pool, has its
   * scheduler removed here (the API removes it too; this covers a race with a job already produced).
   */
  async run(job: Job<ConnectionJobData>, pool: string): Promise<void> {
    const { store, connections, queue, logger } = this.options;
    const { connection_id: id, project } = job.data;
    const checkId = await connections.startCheck(project, id, pool, store, queue);
    if (checkId === undefined) {
      await queue.unscheduleConnection(id, pool);
      logger.info({ connection_id: id, pool }, 'saved connection gone or unbound from this pool: its schedule removed');
      return;
    }
    logger.debug({ connection_id: id, pool, check_id: checkId }, 'saved connection check started');
  }

  /** A task ended: if it checked a saved connection, its status in the task's pool follows the result. */
  async taskEnded(checkId: string): Promise<void> {
    const { store, connections, logger } = this.options;
    const info = await store.taskInfo(checkId);
    if (!info?.connection) return;
    const item = (await store.getTask(checkId, info.project))?.check_items[0];
    if (!item) return;
    const change = await connections.recordCheck(info.connection, item.pool, {
      check_id: checkId,
      success: item.success,
      error_code: item.error_code,
      error_msg: item.error_msg,
      duration_ms: item.duration_ms,
      stages: item.stages,
      finished_at: item.finished_at,
    });
    if (change && change.from !== change.to) {
      connectionStatusChanges.inc({ pool: item.pool, from: change.from, to: change.to });
      const fields = {
        connection_id: info.connection,
        project: info.project,
        pool: item.pool,
        from: change.from,
        to: change.to,
        check_id: checkId,
        error_code: item.error_code,
      };
      if (change.to === 'FAILED') logger.warn(fields, 'saved connection status changed');
      else logger.info(fields, 'saved connection status changed');
    }
  }
}
