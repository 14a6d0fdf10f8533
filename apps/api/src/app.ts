// Owns: building the Fastify app — validation, error shape, auth, routes, OpenAPI — from injected dependencies.
// Must not: listen on a port, read the environment or run probes; server.ts and main.ts do the first two.

import Fastify, { type FastifyBaseLogger, type FastifyInstance } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import swagger from '@fastify/swagger';
import { ApiError, ApiErrorCode, type Config } from '@conncheck/core';
import { type TaskQueue, type TaskStore, WorkerRegistry } from '@conncheck/store';
import { TokenAuth } from './auth.js';
import type { ApiDeps } from './deps.js';
import { logErrorAnswers, registerErrorHandling } from './errors.js';
import { registerRateLimits } from './rate-limits.js';
import { edgeServerOptions, frameworkErrors, registerBodyEdges, registerMethodNotAllowed } from './http-edges.js';
import { httpDuration, httpRequests } from './metrics.js';
import { apigwRoutes } from './routes/apigw.js';
import { checkRoutes, webhookSecretRoute } from './routes/checks.js';
import { clusterConnectivityRoutes } from './routes/cluster-connectivity.js';
import { DASHBOARD_DIR, dashboardRoutes } from './routes/dashboard.js';
import { enhancedConnectionRoutes } from './routes/enhanced-connections.js';
import { eventRoutes } from './routes/events.js';
import { whoamiRoutes } from './routes/whoami.js';
import { poolRoutes } from './routes/pools.js';
import { healthRoutes } from './routes/health.js';
import { makeAjv } from './validation.js';

export interface BuildAppOptions {
  config: Config;
  store: TaskStore;
  queue: TaskQueue;
  /** A pino logger; without one the app logs nothing (tests). */
  logger?: FastifyBaseLogger;
  /** When conncheck first wrote to the current Redis data set (ms); server.ts keeps it current. @defaultValue () => 0 */
  dataSince?: () => number;
  /** The dashboard's built files, served at /ui/. @defaultValue apps/dashboard/dist/ui beside this package */
  dashboardDir?: string;
}

export async function buildApp(options: BuildAppOptions): Promise<FastifyInstance> {
  const { config, store, queue } = options;
  const app = Fastify({
    ...(options.logger ? { loggerInstance: options.logger } : { logger: false }),
    bodyLimit: config.bodyLimit,
    trustProxy: false,
    // While closing, requests get the API's own 503 (below), not Fastify's body without error_code.
    return503OnClosing: false,
    // Longer than any valid id, so that a long one is a 400 naming the parameter; beyond this, 414.
    routerOptions: { maxParamLength: 1024 },
    ...edgeServerOptions({
      requestTimeoutMs: config.requestTimeoutMs,
      headersTimeoutMs: Math.min(10_000, config.requestTimeoutMs),
      maxConnectionsPerClient: config.maxConnectionsPerClient,
      ...(options.logger ? { log: options.logger } : {}),
    }),
    frameworkErrors,
  }).withTypeProvider<TypeBoxTypeProvider>();
  let closing = false;
  app.addHook('preClose', (done) => {
    closing = true;
    done();
  });
  app.addHook('onRequest', async (_request, reply) => {
    if (!closing) return;
    void reply.header('connection', 'close');
    throw new ApiError(503, ApiErrorCode.SERVICE_UNAVAILABLE, 'this API process is shutting down; retry (another process, or this one once restarted)', {
      retryAfter: 1,
    });
  });
  const allowedMethods = registerMethodNotAllowed(app);
  const bodyAjv = makeAjv(false);
  const textAjv = makeAjv(true);
  app.setValidatorCompiler(({ schema, httpPart }) => (httpPart === 'body' ? bodyAjv : textAjv).compile(schema));

  // Every route takes JSON; a text/plain body is a client mistake (415), not a string to validate.
  app.removeContentTypeParser('text/plain');
  registerBodyEdges(app);
  registerErrorHandling(app, store.connection, allowedMethods);
  logErrorAnswers(app);

  app.addHook('onResponse', async (request, reply) => {
    const route = request.routeOptions.url ?? 'unmatched';
    httpRequests.inc({ method: request.method, route, status: String(reply.statusCode) });
    httpDuration.observe({ method: request.method, route }, reply.elapsedTime / 1000);
  });

  await app.register(swagger, {
    openapi: {
      openapi: '3.0.3',
      info: {
        title: 'conncheck',
        version: '0.1.0',
        description: 'Can we reach and log in to this endpoint, and if not, exactly why? Asynchronous batch connectivity checks.',
      },
      components: { securitySchemes: { token: { type: 'apiKey', in: 'header', name: 'X-Auth-Token' } } },
      security: [{ token: [] }],
    },
  });

  const auth = new TokenAuth(config.authTokens);
  const authGuard = await registerRateLimits(app, {
    openMode: auth.openMode,
    redis: store.connection,
    prefix: config.redisPrefix,
    perMinute: config.rateLimitPerMinute,
    authFailuresPerMinute: config.authFailuresPerMinute,
  });
  const deps: ApiDeps = {
    config,
    store,
    queue,
    auth,
    authGuard,
    registry: new WorkerRegistry(store.connection, store.keys),
    dataSince: options.dataSince ?? (() => 0),
  };
  // Every route under a project is the token's to use or not: one check here, before any route's own work. (Another
  // project's task is then a 404 of the route, never a 403 of this hook: the token is valid for the path's project.)
  app.addHook('onRequest', async (request) => {
    const project = (request.params as { project_id?: string } | undefined)?.project_id;
    if (project !== undefined) await deps.authGuard(request, () => deps.auth.authorize(request.headers['x-auth-token'], project));
  });
  await app.register(async (scope) => healthRoutes(scope, deps));
  await app.register(async (scope) => checkRoutes(scope, deps));
  await app.register(async (scope) => webhookSecretRoute(scope, deps));
  await app.register(async (scope) => clusterConnectivityRoutes(scope, deps));
  await app.register(async (scope) => poolRoutes(scope, deps));
  await app.register(async (scope) => apigwRoutes(scope, deps));
  await app.register(async (scope) => enhancedConnectionRoutes(scope, deps));
  await app.register(async (scope) => eventRoutes(scope, deps));
  await app.register(async (scope) => whoamiRoutes(scope, deps));
  await app.register(async (scope) => dashboardRoutes(scope, deps, options.dashboardDir ?? DASHBOARD_DIR));
  return app;
}
