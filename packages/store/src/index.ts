export * from './keys.js';
export * from './item-state.js';
export * from './task-queue.js';
export * from './task-store.js';
export * from './redis.js';
export * from './task-events.js';
export * from './worker-registry.js';
export * from './channel-store.js';
