// Owns: X-Auth-Token checking and which projects a token may use.
// Must not: log or echo a token; comparison is constant-time on hashes.

import { createHash, timingSafeEqual } from 'node:crypto';
import { ApiError, ApiErrorCode, type AuthTokenGrant } from '@conncheck/core';

const digest = (token: string) => createHash('sha256').update(token).digest();

export class TokenAuth {
  private readonly grants: { hash: Buffer; projects: '*' | Set<string> }[];

  constructor(grants: AuthTokenGrant[] | undefined) {
    this.grants = (grants ?? []).map((g) => ({ hash: digest(g.token), projects: g.projects === '*' ? '*' : new Set(g.projects) }));
  }

  get openMode(): boolean {
    return this.grants.length === 0;
  }

  /** Throws 401 (no or unknown token) or 403 (token not valid for this project). */
  authorize(token: string | string[] | undefined, project: string): void {
    if (this.openMode) return;
    const projects = this.projectsOf(token);
    if (projects !== '*' && !projects.has(project)) {
      throw new ApiError(403, ApiErrorCode.FORBIDDEN, `this token may not use project ${project}`);
    }
  }

  /** The projects a token may use ('*' = every one); throws 401 for no or an unknown token. Open mode: every one. */
  projectsOf(token: string | string[] | undefined): '*' | ReadonlySet<string> {
    if (this.openMode) return '*';
    if (typeof token !== 'string' || token === '') {
      throw new ApiError(401, ApiErrorCode.UNAUTHORIZED, 'missing X-Auth-Token header');
    }
    const hash = digest(token);
    let match: (typeof this.grants)[number] | undefined;
    for (const grant of this.grants) if (timingSafeEqual(grant.hash, hash)) match = grant;
    if (!match) throw new ApiError(401, ApiErrorCode.UNAUTHORIZED, 'X-Auth-Token is not valid');
    return match.projects;
  }
}
