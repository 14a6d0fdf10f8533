// Owns: telling a token which projects it may use (what a dashboard or the CLI asks first).
// Must not: reveal anything about other tokens or projects' contents.

import Type from 'typebox';
import { ErrorBody } from '@conncheck/core';
import type { ApiDeps, ApiInstance } from '../deps.js';

export async function whoamiRoutes(app: ApiInstance, deps: ApiDeps): Promise<void> {
  app.get(
    '/v1/projects',
    {
      schema: {
        tags: ['auth'],
        summary: 'The projects this X-Auth-Token may use',
        description: 'Open mode (no tokens configured): `open_mode: true` and `all_projects: true`; any project id works.',
        response: {
          200: Type.Object({
            open_mode: Type.Boolean(),
            all_projects: Type.Boolean({ description: 'The token may use every project (`*`).' }),
            projects: Type.Array(Type.String(), { description: 'The projects it names (empty when all_projects).' }),
          }),
          401: ErrorBody,
          429: ErrorBody,
          500: ErrorBody,
        },
      },
    },
    async (request) => {
      let projects: ReturnType<typeof deps.auth.projectsOf> = '*';
      await deps.authGuard(request, () => {
        projects = deps.auth.projectsOf(request.headers['x-auth-token']);
      });
      return { open_mode: deps.auth.openMode, all_projects: projects === '*', projects: projects === '*' ? [] : [...projects].sort() };
    },
  );
}
