// Owns: request rate limits — per token (per client address without one), and a tighter one on failed
// authentication per client address — kept in Redis so they hold across API processes (@fastify/rate-limit).
// Must not: decide who may use a project (auth.ts does) or limit the probes (the backlog limit in the store does).

import { createHash } from 'node:crypto';
import rateLimitModule, { type RateLimitPluginOptions } from '@fastify/rate-limit';
import { ApiError, ApiErrorCode } from '@conncheck/core';
import type { FastifyInstance, FastifyPluginAsync, FastifyRequest } from 'fastify';
import type { RedisClient } from '@conncheck/store';

/** The CommonJS module's `module.exports` is the plugin that acts on the scope it is registered in (see @fastify/sse). */
const rateLimit = rateLimitModule as unknown as FastifyPluginAsync<RateLimitPluginOptions>;

export interface RateLimitOptions {
  redis: RedisClient;
  /** Key prefix in Redis. */
  prefix: string;
  /** Requests a token (or an address without one) may make per minute. */
  perMinute: number;
  /** Failed authentications an address may make per minute before it gets 429s. */
  authFailuresPerMinute: number;
  /** No tokens configured: nothing can fail to authenticate, so nothing is counted. */
  openMode: boolean;
}

/** Checks the failed-authentication limit around an authorization; resolves when it passed, throws what to answer. */
export type AuthGuard = (request: FastifyRequest, authorize: () => void) => Promise<void>;

/** Routes for load balancers, Prometheus and tooling are never limited. */
const UNLIMITED = new Set(['/healthz', '/readyz', '/metrics', '/openapi.json']);

export async function registerRateLimits(app: FastifyInstance, options: RateLimitOptions): Promise<AuthGuard> {
  const exceeded = (what: string) => (_request: FastifyRequest, context: { after: string; ttl: number }) =>
    new ApiError(429, ApiErrorCode.RATE_LIMITED, `${what}; retry in ${context.after}`, { retryAfter: Math.max(1, Math.ceil(context.ttl / 1000)) });
  type Failures = ReturnType<FastifyInstance['createRateLimit']>;
  /** Set once the plugin is registered (createRateLimit needs it); requests only arrive after that. */
  const limits: { failures?: Failures } = {};
  /**
   * A request's failed-authentication count, asked for as the request arrives: sent before the request limit's own
   * lookup, both are in flight at once, so the guard costs no round trip of its own.
   */
  const readAhead = new WeakMap<FastifyRequest, ReturnType<Failures>>();
  if (!options.openMode) {
    app.addHook('onRequest', (request, _reply, done) => {
      if (limits.failures && (request.params as { project_id?: string } | undefined)?.project_id !== undefined) {
        const status = limits.failures(request, { increment: false });
        status.catch(() => undefined);
        readAhead.set(request, status);
      }
      done();
    });
  }
  await app.register(rateLimit, {
    global: true,
    max: options.perMinute,
    timeWindow: 60_000,
    redis: options.redis,
    nameSpace: `${options.prefix}:ratelimit:`,
    // A Redis fault is answered by the route itself (503), not turned into a rate-limit error.
    skipOnError: true,
    keyGenerator: (request) => {
      const token = request.headers['x-auth-token'];
      return typeof token === 'string' && token !== '' ? `t:${createHash('sha256').update(token).digest('hex').slice(0, 32)}` : `a:${request.ip}`;
    },
    allowList: (request) => UNLIMITED.has(request.routeOptions.url ?? '') || (request.routeOptions.url ?? '').startsWith('/ui'),
    errorResponseBuilder: exceeded(`more than ${options.perMinute} requests a minute for this token (CONNCHECK_RATE_LIMIT_PER_MINUTE)`),
  });
  const counter = app.createRateLimit({
    max: options.authFailuresPerMinute,
    timeWindow: 60_000,
    keyGenerator: (request) => `authfail:${request.ip}`,
  });
  limits.failures = counter;
  return async (request, authorize) => {
    if (options.openMode) return authorize();
    const status = await (readAhead.get(request) ?? counter(request, { increment: false })).catch(() => undefined);
    if (status && !status.isAllowed && status.isExceeded) {
      throw exceeded(`more than ${options.authFailuresPerMinute} failed authentications a minute from this address (CONNCHECK_AUTH_FAILURES_PER_MINUTE)`)(
        request,
        {
          after: `${Math.ceil(status.ttl / 1000)} seconds`,
          ttl: status.ttl,
        },
      );
    }
    try {
      authorize();
    } catch (err) {
      if (err instanceof ApiError && err.statusCode === 401) await counter(request).catch(() => undefined);
      throw err;
    }
  };
}
