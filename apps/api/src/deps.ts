// Owns: what the routes are given — config, store, queue, auth, and the app typed from its schemas — so routes and
// app.ts don't import each other. Must not: construct anything; app.ts builds these.

import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { Config } from '@conncheck/core';
import type { FastifyBaseLogger, FastifyInstance, RawReplyDefaultExpression, RawRequestDefaultExpression, RawServerDefault } from 'fastify';
import type { TaskQueue, TaskStore, WorkerRegistry } from '@conncheck/store';
import type { TokenAuth } from './auth.js';
import type { AuthGuard } from './rate-limits.js';

export interface ApiDeps {
  config: Config;
  store: TaskStore;
  queue: TaskQueue;
  auth: TokenAuth;
  /** Runs an authorization under the failed-authentication limit (rate-limits.ts). */
  authGuard: AuthGuard;
  registry: WorkerRegistry;
  /** When conncheck first wrote to the current Redis data set (ms; 0 = not known): TaskStore.dataSince. */
  dataSince(): number;
}

/**
 * The app as routes see it: request params, query, headers and body are typed from each route's schemas
 * (`Static<typeof Schema>`), so the types, the validation and the OpenAPI document cannot drift apart.
 */
export type ApiInstance = FastifyInstance<RawServerDefault, RawRequestDefaultExpression, RawReplyDefaultExpression, FastifyBaseLogger, TypeBoxTypeProvider>;
