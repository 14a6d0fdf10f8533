// Owns: serving the dashboard's built files (apps/dashboard/dist/ui) at /ui/, the /ui redirect, the one fact the page
// needs before it has a token (open mode or not), and a JSON 503 when the dashboard was not built.
// Must not: import the dashboard's code (apps never import each other: only its build output is read) or require a
// token here: the page asks for one and sends it on the API's own routes.

import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import fastifyStatic from '@fastify/static';
import Type from 'typebox';
import type { FastifyReply } from 'fastify';
import { ApiErrorCode } from '@conncheck/core';
import type { ApiDeps, ApiInstance } from '../deps.js';

/** The dashboard's build output, from this file's place in the api package (apps/api/dist/src/routes/). */
export const DASHBOARD_DIR = fileURLToPath(new URL('../../../../dashboard/dist/ui/', import.meta.url));

/**
 * The page loads only its own files and talks only to this origin; with the token kept in the page's session, a
 * strict policy is what keeps an injected script from reading it.
 */
const SECURITY_HEADERS = {
  'content-security-policy':
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
};

export async function dashboardRoutes(app: ApiInstance, deps: ApiDeps, dir: string = DASHBOARD_DIR): Promise<void> {
  app.addHook('onSend', async (_request, reply) => {
    reply.headers(SECURITY_HEADERS);
  });

  app.get('/ui', { schema: { hide: true } }, async (_request, reply) => reply.redirect('/ui/', 301));

  app.get(
    '/ui/session.json',
    { schema: { hide: true, response: { 200: Type.Object({ open_mode: Type.Boolean() }) } } },
    // Asked before the page has a token: answering this without one spares the page a 401 just to learn the mode.
    async (_request, reply) => reply.header('cache-control', 'no-store').send({ open_mode: deps.auth.openMode }),
  );

  if (!existsSync(join(dir, 'index.html'))) {
    app.log.warn({ dir }, 'the dashboard is not built: /ui/ answers 503 (run `npm run build`)');
    const notBuilt = async (_request: unknown, reply: FastifyReply) =>
      reply.status(503).send({
        error_code: ApiErrorCode.SERVICE_UNAVAILABLE,
        error_msg: 'the dashboard is not built: run `npm run build` (npm start and the start:* scripts do) and restart the API',
      });
    app.get('/ui/', { schema: { hide: true } }, notBuilt);
    app.get('/ui/*', { schema: { hide: true } }, notBuilt);
    return;
  }

  await app.register(fastifyStatic, {
    root: dir,
    prefix: '/ui/',
    index: ['index.html'],
    dotfiles: 'deny',
    cacheControl: false,
    setHeaders: (res, path) => {
      // Vite names every asset by its content hash; index.html (which names them) must be asked for each time.
      res.setHeader('cache-control', path.includes('/assets/') ? 'public, max-age=31536000, immutable' : 'no-cache');
    },
  });
}
