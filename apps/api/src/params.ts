// Owns: the path parameters every route family shares, as schemas (the rules themselves are core's constants).
// Must not: hold route logic.

import Type from 'typebox';
import { ErrorBody, PROJECT_ID_PATTERN } from '@conncheck/core';

export const ProjectId = Type.String({ pattern: PROJECT_ID_PATTERN, description: 'Project ID.' });

export const ProjectParams = Type.Object({ project_id: ProjectId }, { additionalProperties: false });

/**
 * The error answers any route under a project can give, for its OpenAPI responses: a bad parameter (400), no or a bad
 * token (401), another project (403), not found (404), a path parameter longer than any (414), rate limited (429, with
 * Retry-After), a fault (500) and Redis unreachable (503). Routes add their own (409, 412, 413, 415 …).
 */
export const projectErrors = { 400: ErrorBody, 401: ErrorBody, 403: ErrorBody, 404: ErrorBody, 414: ErrorBody, 429: ErrorBody, 500: ErrorBody, 503: ErrorBody };

/** What a route with a JSON body can answer besides: a body too large (413) or not JSON (415). */
export const bodyErrors = { ...projectErrors, 413: ErrorBody, 415: ErrorBody };
