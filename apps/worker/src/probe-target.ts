// Owns: turning a stored item (its public spec and its opened secrets) into what a probe checks.
// Must not: log or keep the secrets it handles; parsing of certificate material lives in @conncheck/core.

import type { ItemSecrets, ItemSpec } from '@conncheck/core';
import type { ProbeTarget } from '@conncheck/probes';

/**
 * Builds the probe's target. Throws only for material that validated at submission but cannot be used now
 * (a bug or a changed parser): the caller turns that into an INTERNAL_ERROR result.
 */
export function probeTarget(spec: ItemSpec, secrets: ItemSecrets | undefined): ProbeTarget {
  const target: ProbeTarget = { dbType: spec.db_type, endpoints: spec.endpoints };
  if (spec.db_user !== undefined) target.user = spec.db_user;
  if (secrets?.db_password !== undefined) target.password = secrets.db_password;
  if (spec.db_name !== undefined) target.database = spec.db_name;
  return target;
}
