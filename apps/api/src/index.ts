export { buildApp, type ApiDeps, type BuildAppOptions } from './app.js';
export { startApi, type RunningApi } from './server.js';
