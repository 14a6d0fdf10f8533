export { CheckWorker, type CheckWorkerOptions } from './check-worker.js';
export { startWorker, policiesFromConfig, type RunningWorker, type WorkerPolicies } from './server.js';
export { TaskReaper, type TaskReaperOptions } from './task-reaper.js';
export { EnqueueRecovery, type EnqueueRecoveryOptions } from './enqueue-recovery.js';
