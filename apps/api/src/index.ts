export { buildApp, type BuildAppOptions } from './app.js';
export type { ApiDeps } from './deps.js';
export { startApi, type RunningApi } from './server.js';
