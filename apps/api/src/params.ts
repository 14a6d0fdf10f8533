// Owns: the path parameters every route family shares, as schemas (the rules themselves are core's constants).
// Must not: hold route logic.

import Type from 'typebox';
import { POOL_NAME_PATTERN, PROJECT_ID_PATTERN } from '@conncheck/core';

export const POOL_PATTERN = POOL_NAME_PATTERN;

export const ProjectId = Type.String({ pattern: PROJECT_ID_PATTERN, description: 'Project ID.' });

export const ProjectParams = Type.Object({ project_id: ProjectId }, { additionalProperties: false });
