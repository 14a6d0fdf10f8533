// Owns: running a worker process's parts — Redis connections, store, network policy, the BullMQ worker — and closing them.
// Must not: read the environment (main.ts does) or serve the API.

import type { Config, Logger, SecretBox } from '@conncheck/core';
import { ConnectionStore, TaskQueue, TaskStore, WorkerRegistry, connectRedis, createRedis, durabilityWarnings, logErrors, redisTarget } from '@conncheck/store';
import { readFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { CheckWorker } from './check-worker.js';
import { ConnectionJobs } from './connection-jobs.js';
import { policiesFromConfig } from './policies.js';
import { EnqueueRecovery } from './enqueue-recovery.js';
import { Periodic } from './periodic.js';
import { TaskReaper } from './task-reaper.js';
import { WebhookSender } from './webhooks.js';

/** The soft limit on this process's open files (Linux), or undefined where it cannot be read. */
function openFilesLimit(): number | undefined {
  try {
    const soft = /^Max open files\s+(\d+)/m.exec(readFileSync('/proc/self/limits', 'utf8'))?.[1];
    return soft === undefined ? undefined : Number(soft);
  } catch {
    return undefined;
  }
}

export interface RunningWorker {
  worker: CheckWorker;
  close(): Promise<void>;
}

export interface StartWorkerOptions {
  /** Log what this Redis would lose tasks to (no persistence, evictions). @defaultValue false */
  checkDurability?: boolean;
}

export async function startWorker(config: Config, secretBox: SecretBox, logger: Logger, options: StartWorkerOptions = {}): Promise<RunningWorker> {
  const policies = await policiesFromConfig(config);
  const target = redisTarget(config);
  const connection = createRedis(target, 'worker', 'conncheck-worker');
  const subscriber = createRedis(target, 'worker', 'conncheck-worker-cancel');
  // The store's own connection pipelines automatically: with many jobs in flight, the item updates of one event
  // loop turn go out in one write instead of a system call each. (BullMQ keeps its own connection as it wants it.)
  const storeRedis = createRedis(target, 'worker', 'conncheck-worker-store', { autoPipelining: true });
  for (const [redis, name] of [
    [connection, 'conncheck-worker'],
    [subscriber, 'conncheck-worker-cancel'],
    [storeRedis, 'conncheck-worker-store'],
  ] as const) {
    logErrors(redis, logger.child({ redis: name }), 'redis connection error');
    await connectRedis(redis, target);
  }
  if (options.checkDurability) for (const warning of await durabilityWarnings(storeRedis)) logger.warn(warning);
  const files = openFilesLimit();
  if (files !== undefined && files < config.workerConcurrency + 256) {
    logger.warn(
      { open_files_limit: files, concurrency: config.workerConcurrency },
      `each running probe holds a socket, and this process may open only ${files} files: raise its limit (ulimit -n, LimitNOFILE=) above CONNCHECK_WORKER_CONCURRENCY + 256, or probes past it fail to connect`,
    );
  }
  const store = new TaskStore({ redis: storeRedis, prefix: config.redisPrefix, retentionSeconds: config.retentionSeconds, secretBox });
  const queue = new TaskQueue(connection, store.keys, (q) => logErrors(q, logger.child({ queue: q.name }), 'queue error'));
  const connections = new ConnectionStore(storeRedis, store.keys, secretBox, config.retentionSeconds);
  const connectionJobs = new ConnectionJobs({ store, connections, queue, logger: logger.child({ component: 'connections' }) });
  const onTaskEnded = (checkId: string) => {
    connectionJobs.taskEnded(checkId).catch((err: Error) => logger.warn({ check_id: checkId, err: err.message }, 'could not record a saved connection check'));
  };
  const worker = new CheckWorker({
    config,
    store,
    connection,
    subscriber,
    policies,
    logger: logger.child({ component: 'worker' }),
    onConnectionJob: (job) => connectionJobs.run(job, config.workerPool),
    onTaskEnded,
  });
  await worker.start();
  const reaper = new TaskReaper({ store, queue, ref: worker.ref, logger: logger.child({ component: 'reaper' }), onTaskEnded });
  reaper.start();
  const recovery = new EnqueueRecovery({ store, queue, logger: logger.child({ component: 'enqueue-recovery' }) });
  recovery.start();
  const webhooks = new WebhookSender({
    store,
    connection,
    box: secretBox,
    policies,
    logger: logger.child({ component: 'webhooks' }),
    attempts: config.webhookAttempts,
    backoffMs: config.webhookBackoffMs,
  });
  webhooks.start();
  // The pool learns of this worker at once, and of its end at once; in between, a heartbeat every 5 s (a killed
  // worker drops out of the pools view and of the synchronous routes' reckoning within the registry's 15 s).
  const registry = new WorkerRegistry(storeRedis, store.keys);
  const startedAt = new Date().toISOString();
  const beat = () =>
    registry.heartbeat({
      ...worker.ref,
      host: hostname(),
      pid: process.pid,
      concurrency: config.workerConcurrency,
      started_at: startedAt,
      running: worker.probesRunning,
    });
  await beat();
  const heartbeat = new Periodic('heartbeat', 5000, beat, logger);
  heartbeat.start();
  let closing: Promise<void> | undefined;
  return {
    worker,
    // Once: a second call waits for the first (a closed cluster client would queue its commands forever).
    close() {
      closing ??= (async () => {
        await heartbeat.close();
        await registry.leave(worker.ref).catch(() => undefined);
        // The worker first: from this moment no job claims another item.
        await Promise.all([worker.close(config.shutdownGraceMs), reaper.close(), recovery.close(), webhooks.close()]);
        await queue.close();
        connection.disconnect();
        storeRedis.disconnect();
      })();
      return closing;
    },
  };
}
