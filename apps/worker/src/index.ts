export { CheckWorker, type CheckWorkerOptions } from './check-worker.js';
export { startWorker, type RunningWorker } from './server.js';
export { policiesFromConfig, type WorkerPolicies } from './policies.js';
export { TaskReaper, type TaskReaperOptions } from './task-reaper.js';
export { EnqueueRecovery, type EnqueueRecoveryOptions } from './enqueue-recovery.js';
